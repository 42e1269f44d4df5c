//! The operator's endpoints: `/health`, `/metrics` and `/openapi.json` (public, no token).

use super::model::{Check, Health, HealthChecks, HealthStatus};
use super::ApiState;
use crate::tasks::context::AppContext;
use actix_web::{get, web, HttpResponse};
use metrics_exporter_prometheus::PrometheusHandle;

/// How long one dependency check may take.
use crate::tasks::context::CHECK_TIMEOUT;

/// The Prometheus text content type.
pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `GET /health`: really checks the database, Redis and storage; 503 naming what is down.
#[utoipa::path(
    tag = "operations",
    security(()),
    responses(
        (status = 200, description = "Every dependency answers", body = Health),
        (status = 503, description = "A dependency is down; `failing` names it", body = Health),
    ),
)]
#[get("/health")]
pub async fn health(state: web::Data<ApiState>) -> HttpResponse {
    let found = state.ctx.check_dependencies().await;
    let failing: Vec<String> = found.failing().iter().map(|(n, _)| n.to_string()).collect();
    let body = Health {
        status: if failing.is_empty() {
            HealthStatus::Ok
        } else {
            HealthStatus::Degraded
        },
        version: env!("CARGO_PKG_VERSION").to_string(),
        checks: HealthChecks {
            database: Check::of(found.database),
            redis: Check::of(found.redis),
            storage: Check::of(found.storage),
        },
        failing,
    };
    if body.failing.is_empty() {
        HttpResponse::Ok().json(body)
    } else {
        tracing::warn!(failing = ?body.failing, "health check failed");
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// `GET /metrics`: Prometheus text, with queue sizes read at scrape time.
#[utoipa::path(
    tag = "operations",
    security(()),
    responses(
        (status = 200, description = "Prometheus text format 0.0.4", content_type = "text/plain", body = String),
        (status = 503, description = "No metrics recorder in this process", content_type = "text/plain", body = String),
    ),
)]
#[get("/metrics")]
pub async fn metrics(state: web::Data<ApiState>) -> HttpResponse {
    render(Some(&state.ctx), state.metrics.as_ref()).await
}

/// The `/metrics` answer of any process: queue sizes (when there is a context), then the
/// recorder's text.
pub async fn render(ctx: Option<&AppContext>, handle: Option<&PrometheusHandle>) -> HttpResponse {
    if let Some(ctx) = ctx {
        // One bound for all three: a hung Redis costs /metrics one check, not three.
        let sizes = async {
            let mut out = Vec::new();
            for queue in crate::queue::QUEUES {
                out.push((queue, ctx.queue().queue_len(queue).await?));
            }
            Ok::<_, crate::queue::QueueError>(out)
        };
        if let Ok(Ok(sizes)) = tokio::time::timeout(CHECK_TIMEOUT, sizes).await {
            for (queue, n) in sizes {
                ::metrics::gauge!(crate::telemetry::metrics::QUEUE_SIZE, "queue_name" => queue)
                    .set(n as f64);
            }
        }
    }
    match handle {
        Some(h) => HttpResponse::Ok()
            .content_type(PROMETHEUS_TEXT)
            .body(h.render()),
        None => HttpResponse::ServiceUnavailable()
            .content_type("text/plain; charset=utf-8")
            .body("metrics recorder not installed\n"),
    }
}

/// The OpenAPI document, rendered once per process.
#[derive(Debug, Clone)]
pub struct OpenApiJson(pub std::sync::Arc<String>);

/// `GET /openapi.json`: this API described for clients (OpenAPI 3.1).
///
/// Public like `/health`: it holds no data, and a client reads it before it has a token.
#[utoipa::path(
    tag = "operations",
    security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object)),
)]
#[get("/openapi.json")]
pub async fn openapi_json(doc: web::Data<OpenApiJson>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(doc.0.as_str().to_owned())
}
