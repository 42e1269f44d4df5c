//! JSON log lines with the fields of the enclosing spans at the top level
//! (docs/operations.md#traces).
//!
//! tracing-subscriber's own JSON format nests span fields under `span`/`spans`, so a log
//! shipper would have to query `span.job_id`. Here every line is one flat object:
//! `timestamp`, `level`, `message`, `target`, then the fields of the spans from the root to
//! the innermost (`job_id`, `task_name`, `http.method`, …), then the event's own fields, which
//! win on a clash, `span` (the innermost span's name), and `trace_id`/`span_id` of the active
//! OpenTelemetry span, so a log line leads to its trace (and the lines of one upload, across
//! the API and the workers, share a `trace_id`).

use serde_json::{Map, Value};
use std::fmt;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// The event formatter; pair it with [`JsonFields`] so span fields are stored as JSON.
#[derive(Debug, Clone, Copy, Default)]
pub struct FlatJson;

/// Collects an event's fields into a JSON object.
struct Collect<'a>(&'a mut Map<String, Value>);

impl Visit for Collect<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), Value::from(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0
            .insert(field.name().into(), Value::from(value.to_string()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), Value::from(format!("{value:?}")));
    }
}

impl<S> FormatEvent<S, JsonFields> for FlatJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let mut line = Map::new();
        line.insert(
            "timestamp".into(),
            Value::from(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        );
        line.insert("level".into(), Value::from(meta.level().as_str()));
        let mut fields = Map::new();
        let mut innermost = None;
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let ext = span.extensions();
                if let Some(stored) = ext.get::<FormattedFields<JsonFields>>() {
                    if let Ok(Value::Object(m)) = serde_json::from_str::<Value>(stored.as_str()) {
                        fields.extend(m);
                    }
                }
                innermost = Some(span.name());
            }
        }
        event.record(&mut Collect(&mut fields));
        if let Some(message) = fields.remove("message") {
            line.insert("message".into(), message);
        }
        line.insert("target".into(), Value::from(meta.target()));
        line.extend(fields);
        if let Some(name) = innermost {
            line.insert("span".into(), Value::from(name));
            let sc = opentelemetry::Context::map_current(|cx| {
                use opentelemetry::trace::TraceContextExt;
                cx.span().span_context().clone()
            });
            if sc.is_valid() {
                line.insert("trace_id".into(), Value::from(sc.trace_id().to_string()));
                line.insert("span_id".into(), Value::from(sc.span_id().to_string()));
            }
        }
        writeln!(writer, "{}", Value::Object(line))
    }
}
