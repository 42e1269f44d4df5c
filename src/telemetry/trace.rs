//! OpenTelemetry traces: one trace per upload, across the API and every worker
//! (docs/operations.md#traces).
//!
//! Every `tracing` span is also an OpenTelemetry span (tracing-opentelemetry), so the span of
//! each HTTP request and of each task execution is exported, with their child spans. The
//! trace context crosses the queue inside the task envelope as a W3C `traceparent`
//! ([`current_traceparent`] when enqueueing, [`set_parent`] when a worker starts the task), so
//! `POST /ingest` and all seven tasks of its job are one trace even when they ran in three
//! processes.
//!
//! Export is configured the standard way: `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) turns it on, `OTEL_EXPORTER_OTLP_PROTOCOL` picks `grpc`
//! or `http/protobuf` (the default), and the SDK reads the other `OTEL_*` variables itself
//! (`OTEL_EXPORTER_OTLP_HEADERS`, `…_TIMEOUT`, `OTEL_TRACES_SAMPLER`, `OTEL_BSP_*`,
//! `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_SERVICE_NAME`). `OTEL_SDK_DISABLED=true` or
//! `OTEL_TRACES_EXPORTER=none` turn export off. Without an endpoint nothing is exported, but
//! spans still get ids, so log lines carry a `trace_id` and the `traceparent` still travels:
//! the logs of one upload can be joined across processes.
//!
//! The SDK's batch processor exports from its own OS thread, where there is no Tokio runtime;
//! both transports need one (tonic's HTTP/2 client, and reqwest for HTTP). [`OnRuntime`] gives
//! the exporter a small runtime of its own and runs each export there.

use crate::config::OtlpProtocol;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider, SpanData, SpanExporter};
use opentelemetry_sdk::Resource;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// `service.name` unless `OTEL_SERVICE_NAME` says otherwise.
pub const SERVICE_NAME: &str = "provis";
/// Resource attribute naming the process's role (`serve`, `worker`, `all-in-one`, …).
pub const ROLE_ATTRIBUTE: &str = "provis.role";
/// The W3C header and envelope field.
pub const TRACEPARENT: &str = "traceparent";

/// Where traces go, resolved from the configuration and the `OTEL_*` environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    /// Full URL the exporter sends to.
    pub endpoint: String,
    /// Transport.
    pub protocol: OtlpProtocol,
}

/// Resolves the export target: `None` = export nothing.
///
/// `base` is `OTEL_EXPORTER_OTLP_ENDPOINT` (or `provis.toml`'s key); a signal-specific
/// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` from `env` wins and is used as given, while the base
/// gets `/v1/traces` appended for HTTP, as the specification says.
pub fn resolve_export(
    base: Option<&str>,
    protocol: OtlpProtocol,
    env: impl Fn(&str) -> Option<String>,
) -> Option<Export> {
    let truthy = |k: &str| env(k).is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    if truthy("OTEL_SDK_DISABLED")
        || env("OTEL_TRACES_EXPORTER").is_some_and(|v| v.trim().eq_ignore_ascii_case("none"))
    {
        return None;
    }
    let nonempty = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let endpoint = match nonempty(env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")) {
        Some(e) => e,
        None => {
            let base = nonempty(base.map(str::to_string))?;
            match protocol {
                OtlpProtocol::Grpc => base,
                OtlpProtocol::HttpProtobuf => format!("{}/v1/traces", base.trim_end_matches('/')),
            }
        }
    };
    Some(Export { endpoint, protocol })
}

/// Keeps the tracer provider alive; dropping it flushes what is buffered.
pub struct TraceGuard {
    provider: SdkTracerProvider,
    exporting: bool,
}

impl std::fmt::Debug for TraceGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TraceGuard")
            .field("exporting", &self.exporting)
            .finish_non_exhaustive()
    }
}

impl TraceGuard {
    /// Whether spans are exported.
    pub fn exporting(&self) -> bool {
        self.exporting
    }

    /// Sends what is buffered now (before a process exits).
    pub fn flush(&self) {
        if self.exporting {
            if let Err(e) = self.provider.force_flush() {
                eprintln!("provis: flushing traces failed: {e}");
            }
        }
    }
}

impl Drop for TraceGuard {
    fn drop(&mut self) {
        if self.exporting {
            if let Err(e) = self.provider.shutdown() {
                eprintln!("provis: flushing traces at exit failed: {e}");
            }
        }
    }
}

/// The process's resource: `service.name`, a unique `service.instance.id`, the role, the
/// version, plus `OTEL_RESOURCE_ATTRIBUTES`.
pub fn resource(role: &str) -> Resource {
    let mut b = Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        b = b.with_service_name(SERVICE_NAME);
    }
    b.with_attributes([
        KeyValue::new("service.instance.id", uuid::Uuid::new_v4().to_string()),
        KeyValue::new("service.version", env!("CARGO_PKG_VERSION")),
        KeyValue::new(ROLE_ATTRIBUTE, role.to_string()),
        KeyValue::new("process.pid", i64::from(std::process::id())),
    ])
    .build()
}

/// Builds the tracer provider (exporting when `export` is set) and installs the W3C
/// propagator. Returns the tracer for the tracing layer and the guard.
pub fn install(role: &str, export: Option<&Export>) -> Result<(SdkTracer, TraceGuard), String> {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let mut builder = SdkTracerProvider::builder().with_resource(resource(role));
    if let Some(export) = export {
        builder = builder.with_batch_exporter(OnRuntime::build(export)?);
    }
    let provider = builder.build();
    let tracer = provider.tracer("provis");
    Ok((
        tracer,
        TraceGuard {
            provider,
            exporting: export.is_some(),
        },
    ))
}

/// The W3C `traceparent` of the current span, to carry in a task envelope.
pub fn current_traceparent() -> Option<String> {
    let cx = tracing::Span::current().context();
    if !cx.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&cx, &mut carrier);
    carrier.remove(TRACEPARENT)
}

/// Whether `tp` has the W3C shape `vv-<32 hex>-<16 hex>-ff` (the SDK's own parser also takes
/// shorter ids, which no conforming peer sends).
fn well_formed(tp: &str) -> bool {
    let parts: Vec<&str> = tp.trim().split('-').collect();
    parts.len() >= 4
        && [2, 32, 16, 2].iter().zip(&parts).all(|(n, p)| {
            p.len() == *n
                && p.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

/// The context a `traceparent` names (`None` for a missing or malformed one).
pub fn context_of(traceparent: Option<&str>) -> Option<Context> {
    let tp = traceparent.filter(|t| well_formed(t))?;
    let carrier = HashMap::from([(TRACEPARENT.to_string(), tp.to_string())]);
    let cx = TraceContextPropagator::new().extract(&carrier);
    cx.span().span_context().is_valid().then_some(cx)
}

/// Makes `span` a child of the span a `traceparent` names; call right after creating it.
/// A missing or malformed value leaves `span` where it was (a new trace or its parent's).
pub fn set_parent(span: &tracing::Span, traceparent: Option<&str>) {
    if let Some(cx) = context_of(traceparent) {
        // Fails only when no OpenTelemetry layer is installed (library use): nothing to link.
        let _ = span.set_parent(cx);
    }
}

/// The trace id of `span` as 32 hex digits, when it has one.
pub fn trace_id_of(span: &tracing::Span) -> Option<String> {
    let cx = span.context();
    let sc = cx.span().span_context().clone();
    sc.is_valid().then(|| sc.trace_id().to_string())
}

/// An exporter that runs each export on a Tokio runtime of its own (see the module doc).
#[derive(Debug)]
pub struct OnRuntime {
    inner: opentelemetry_otlp::SpanExporter,
    runtime: Arc<tokio::runtime::Runtime>,
}

impl OnRuntime {
    /// The OTLP exporter for `export`, built inside its runtime (tonic needs one to set up
    /// its lazy channel).
    pub fn build(export: &Export) -> Result<OnRuntime, String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("provis-otlp")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the trace export runtime: {e}"))?;
        let inner = {
            let _in_runtime = runtime.enter();
            let b = opentelemetry_otlp::SpanExporter::builder();
            match export.protocol {
                OtlpProtocol::Grpc => b
                    .with_tonic()
                    .with_endpoint(export.endpoint.clone())
                    .build(),
                OtlpProtocol::HttpProtobuf => b
                    .with_http()
                    .with_http_client(Reqwest::new()?)
                    .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                    .with_endpoint(export.endpoint.clone())
                    .build(),
            }
        }
        .map_err(|e| format!("cannot set up OTLP export to {}: {e}", export.endpoint))?;
        Ok(OnRuntime {
            inner,
            runtime: Arc::new(runtime),
        })
    }
}

impl SpanExporter for OnRuntime {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        // Called on the batch processor's thread, outside any Tokio runtime.
        self.runtime.block_on(self.inner.export(batch))
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let _in_runtime = self.runtime.enter();
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        let _in_runtime = self.runtime.enter();
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// OTLP/HTTP through the reqwest the binary already has (no second HTTP client stack).
#[derive(Debug, Clone)]
struct Reqwest(reqwest::Client);

impl Reqwest {
    fn new() -> Result<Reqwest, String> {
        let timeout_ms = std::env::var("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT")
            .or_else(|_| std::env::var("OTEL_EXPORTER_OTLP_TIMEOUT"))
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(10_000);
        reqwest::Client::builder()
            .timeout(Duration::from_millis(timeout_ms))
            .build()
            .map(Reqwest)
            .map_err(|e| format!("cannot build the OTLP HTTP client: {e}"))
    }
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for Reqwest {
    async fn send_bytes(
        &self,
        request: opentelemetry_http::Request<opentelemetry_http::Bytes>,
    ) -> Result<
        opentelemetry_http::Response<opentelemetry_http::Bytes>,
        opentelemetry_http::HttpError,
    > {
        let request = reqwest::Request::try_from(request)?;
        let response = self.0.execute(request).await?;
        let mut out = opentelemetry_http::Response::builder().status(response.status());
        if let Some(headers) = out.headers_mut() {
            *headers = response.headers().clone();
        }
        let body = response.bytes().await?;
        Ok(out.body(body)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn endpoints_follow_the_specification() {
        let http = resolve_export(Some("http://c:4318/"), OtlpProtocol::HttpProtobuf, env(&[]));
        assert_eq!(
            http.map(|e| e.endpoint).as_deref(),
            Some("http://c:4318/v1/traces")
        );
        let grpc = resolve_export(Some("http://c:4317"), OtlpProtocol::Grpc, env(&[]));
        assert_eq!(grpc.map(|e| e.endpoint).as_deref(), Some("http://c:4317"));
        let signal = resolve_export(
            Some("http://c:4318"),
            OtlpProtocol::HttpProtobuf,
            env(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t:1/x")]),
        );
        assert_eq!(signal.map(|e| e.endpoint).as_deref(), Some("http://t:1/x"));
        assert_eq!(resolve_export(None, OtlpProtocol::Grpc, env(&[])), None);
        assert_eq!(
            resolve_export(Some("  "), OtlpProtocol::Grpc, env(&[])),
            None
        );
        for off in [
            ("OTEL_SDK_DISABLED", "true"),
            ("OTEL_TRACES_EXPORTER", "none"),
        ] {
            assert_eq!(
                resolve_export(Some("http://c:4318"), OtlpProtocol::Grpc, env(&[off])),
                None,
                "{off:?}"
            );
        }
    }

    #[test]
    fn protocols() {
        assert_eq!(OtlpProtocol::parse("grpc"), Ok(OtlpProtocol::Grpc));
        assert_eq!(
            OtlpProtocol::parse("http/protobuf"),
            Ok(OtlpProtocol::HttpProtobuf)
        );
        assert!(OtlpProtocol::parse("http/json").is_err());
    }

    #[test]
    fn traceparent_round_trip() {
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let cx = context_of(Some(tp)).expect("valid");
        assert_eq!(
            cx.span().span_context().trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert!(context_of(Some("00-abc-def-01")).is_none());
        assert!(context_of(None).is_none());
    }
}
