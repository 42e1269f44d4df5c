//! Logging set-up; `metrics` holds every metric name provis exports.

pub mod json;
pub mod metrics;

use crate::config::{Config, LogFormat};
use std::io::IsTerminal;
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
            .fmt_fields(fmt::format::JsonFields::new())
            .event_format(json::FlatJson)
            .try_init(),
        // Colours only for a person at a terminal, not for files and log collectors.
        LogFormat::Pretty => builder
            .compact()
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
    };
}
