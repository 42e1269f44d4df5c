//! `provis_errors_total{component}`, counted where failures are logged.
//!
//! Every failure path of provis logs (a handler's 5xx, a task that fails or is retried, a
//! claim that fails, a parser child that crashes, a job that fails …), so counting at the log
//! is what makes "every failure path counts" hold for code written later too: a WARN or ERROR
//! event from provis's own modules counts once. Its component is the `component` (or
//! `dependency`) field when that names one of [`Component`], else the component of the module
//! that logged it. Libraries' ERROR events count as `other`; their warnings do not count.
//!
//! The layer has its own level filter, so `RUST_LOG=off` silences the log without hiding
//! errors from Prometheus.

use super::metrics::{count_error, Component};
use std::fmt;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// The counting layer; add it to the subscriber (see [`super::init`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct ErrorCounter;

/// Finds a `component` or `dependency` field that names a component.
#[derive(Default)]
struct Named(Option<Component>);

impl Named {
    fn take(&mut self, field: &Field, value: &str) {
        if matches!(field.name(), "component" | "dependency") && self.0.is_none() {
            self.0 = Component::parse(value);
        }
    }
}

impl Visit for Named {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.take(field, value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if matches!(field.name(), "component" | "dependency") {
            let text = format!("{value:?}");
            self.take(field, text.trim_matches('"'));
        }
    }
}

/// The component an event counts under, or `None` when it does not count.
pub fn component_of(level: Level, target: &str, named: Option<Component>) -> Option<Component> {
    let ours = target == "provis" || target.starts_with("provis::");
    let counts = if ours {
        level <= Level::WARN
    } else {
        level == Level::ERROR
    };
    if !counts {
        return None;
    }
    Some(named.unwrap_or_else(|| {
        if ours {
            Component::of_target(target)
        } else {
            Component::Other
        }
    }))
}

impl<S: Subscriber> Layer<S> for ErrorCounter {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        if *meta.level() > Level::WARN {
            return;
        }
        let mut named = Named::default();
        event.record(&mut named);
        if let Some(c) = component_of(*meta.level(), meta.target(), named.0) {
            count_error(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_events_count() {
        assert_eq!(
            component_of(Level::WARN, "provis::db::jobs", None),
            Some(Component::Database)
        );
        assert_eq!(component_of(Level::INFO, "provis::db::jobs", None), None);
        assert_eq!(
            component_of(Level::WARN, "provis::error", Some(Component::Redis)),
            Some(Component::Redis)
        );
        assert_eq!(component_of(Level::WARN, "h2::codec", None), None);
        assert_eq!(
            component_of(Level::ERROR, "actix_server::worker", None),
            Some(Component::Other)
        );
    }
}
