//! Logging set-up; `metrics` holds every metric name provis exports.

pub mod metrics;

use crate::config::{Config, LogFormat};
use tracing_subscriber::{fmt, EnvFilter};

/// Installs the global tracing subscriber: JSON lines or pretty, filtered by `RUST_LOG`.
///
/// Logs go to stderr so stdout stays free for command output (`provis analyze --json`).
/// Calling it twice is harmless (the second call is ignored), which tests rely on.
pub fn init(cfg: &Config) {
    let filter = EnvFilter::try_new(&cfg.log).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match cfg.log_format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
}
