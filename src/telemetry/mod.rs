//! Logs, metrics and traces of one process.
//!
//! [`init`] installs one `tracing` subscriber with three layers: the log lines (JSON or
//! pretty, filtered by `RUST_LOG`), the error counter behind `provis_errors_total`
//! ([`errors`]), and the OpenTelemetry bridge ([`trace`]) that turns spans into exported
//! spans. [`metrics`] holds every metric name and the Prometheus recorder.

pub mod errors;
pub mod json;
pub mod metrics;
pub mod trace;

use crate::config::{Config, LogFormat};
use std::io::IsTerminal;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter, Layer};

/// What a process keeps alive while it runs; dropping it flushes buffered spans.
#[derive(Debug, Default)]
pub struct Telemetry {
    traces: Option<trace::TraceGuard>,
}

impl Telemetry {
    /// Whether spans are exported over OTLP.
    pub fn exporting_traces(&self) -> bool {
        self.traces
            .as_ref()
            .is_some_and(trace::TraceGuard::exporting)
    }

    /// Sends buffered spans now.
    pub fn flush(&self) {
        if let Some(t) = &self.traces {
            t.flush();
        }
    }
}

/// Installs the global subscriber for a process of `role` (`serve`, `worker`, `all-in-one`,
/// `migrate`, `analyze`): log lines to stderr (stdout stays free for command output), the
/// error counter, and spans for OpenTelemetry (exported when an OTLP endpoint is configured).
///
/// A second call is harmless (the first subscriber stays), which tests rely on. A trace export
/// that cannot be set up is reported and the process goes on without it.
pub fn init(cfg: &Config, role: &str) -> Telemetry {
    let filter = || EnvFilter::try_new(&cfg.log).unwrap_or_else(|_| EnvFilter::new("info"));
    let logs = match cfg.log_format {
        LogFormat::Json => fmt::layer()
            .with_writer(std::io::stderr)
            .fmt_fields(fmt::format::JsonFields::new())
            .event_format(json::FlatJson)
            .with_filter(filter())
            .boxed(),
        // Colours only for a person at a terminal, not for files and log collectors.
        LogFormat::Pretty => fmt::layer()
            .with_writer(std::io::stderr)
            .compact()
            .with_ansi(std::io::stderr().is_terminal())
            .with_filter(filter())
            .boxed(),
    };
    let export = trace::resolve_export(cfg.otel_endpoint.as_deref(), cfg.otel_protocol, |k| {
        std::env::var(k).ok()
    });
    let (tracer, guard, problem) = match trace::install(role, export.as_ref()) {
        Ok((t, g)) => (t, Some(g), None),
        Err(e) => match trace::install(role, None) {
            Ok((t, g)) => (t, Some(g), Some(e)),
            Err(e2) => {
                eprintln!("provis: tracing unavailable: {e}; {e2}");
                let _ = tracing_subscriber::registry()
                    .with(logs)
                    .with(errors::ErrorCounter)
                    .try_init();
                return Telemetry::default();
            }
        },
    };
    // Spans at INFO and above become OpenTelemetry spans whatever RUST_LOG says, so a quiet
    // log does not break traces.
    let spans = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_filter(tracing_subscriber::filter::LevelFilter::INFO);
    let installed = tracing_subscriber::registry()
        .with(logs)
        .with(errors::ErrorCounter.with_filter(tracing_subscriber::filter::LevelFilter::WARN))
        .with(spans)
        .try_init()
        .is_ok();
    if let Some(e) = problem {
        tracing::error!(error = %e, "trace export is not available; spans are not exported");
    } else if let (true, Some(x)) = (installed, &export) {
        tracing::info!(endpoint = %x.endpoint, protocol = ?x.protocol, "exporting traces over OTLP");
    }
    Telemetry { traces: guard }
}

/// Hides the password of a URL for logs and messages: every layer that names a backend in a
/// message (start-up errors, waits, the LLM cache) shows it through this one function.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.find(':') {
                Some(c) => format!("{}{}:***{}", &url[..s + 3], &creds[..c], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact_url("sqlite://x.db"), "sqlite://x.db");
        assert_eq!(
            redact_url("redis://:secret@host:6379/0"),
            "redis://:***@host:6379/0"
        );
        assert_eq!(
            redact_url("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
    }
}
