//! The actix-web HTTP layer: the route table, health, metrics, and the server.
//!
//! Handlers are thin (one service call each, in [`routes`]); errors become the envelope of
//! [`crate::error`]. The API never talks to Redis or the pipeline directly: it goes through
//! the context's backends and the tasks' intake.

pub mod middleware;
pub mod routes;
pub mod sse;
pub mod upload;

use crate::context::AppContext;
use crate::queue::QueueBackend;
use actix_web::{get, web, App, HttpResponse, HttpServer};
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::{json, Value};
use std::net::TcpListener;

/// Shared state of the handlers.
pub struct ApiState {
    /// The process context.
    pub ctx: AppContext,
    /// Renders `/metrics`; `None` when another recorder owns the process.
    pub metrics: Option<PrometheusHandle>,
}

/// The single route table.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(health)
        .service(metrics)
        .service(routes::ingest)
        .service(routes::status)
        .service(routes::events)
        .service(routes::list_artifacts)
        .service(routes::artifact)
        .default_service(web::to(not_found));
}

/// Answers what no route took: 405 when a route has this path but not this method, else 404.
async fn not_found(req: actix_web::HttpRequest) -> HttpResponse {
    use crate::error::{ApiError, ErrorCode};
    let err = match req.match_pattern() {
        Some(pattern) => ApiError::new(
            ErrorCode::MethodNotAllowed,
            format!("{pattern} does not answer {}", req.method()),
        ),
        None => ApiError::new(
            ErrorCode::NotFound,
            format!("no route for {} {}", req.method(), req.path()),
        ),
    };
    actix_web::ResponseError::error_response(&err)
}

fn check(result: Result<String, String>) -> (bool, Value) {
    match result {
        Ok(backend) => (true, json!({"status": "ok", "backend": backend})),
        Err(e) => (false, json!({"status": "down", "error": e})),
    }
}

/// `GET /health`: really checks the database, Redis and storage; 503 naming what is down.
#[get("/health")]
async fn health(state: web::Data<ApiState>) -> HttpResponse {
    let ctx = &state.ctx;
    let db = async {
        ctx.db()
            .ping()
            .await
            .map(|_| ctx.db().backend_name().to_string())
            .map_err(|e| e.to_string())
    };
    let redis = async {
        match ctx.queue() {
            QueueBackend::Redis(_) => ctx
                .events()
                .check()
                .await
                .map(|_| "redis".to_string())
                .map_err(|e| e.to_string()),
            QueueBackend::Local(_) => Ok("in-process (not configured)".to_string()),
        }
    };
    let storage = async {
        ctx.artifacts()
            .check()
            .await
            .map(|_| ctx.artifacts().backend_name().to_string())
            .map_err(|e| e.to_string())
    };
    let timeout = std::time::Duration::from_secs(5);
    let (d, r, s) = tokio::join!(
        tokio::time::timeout(timeout, db),
        tokio::time::timeout(timeout, redis),
        tokio::time::timeout(timeout, storage)
    );
    let flat = |r: Result<Result<String, String>, _>| {
        r.unwrap_or_else(|_| Err("timed out after 5 s".into()))
    };
    let checks = [
        ("database", check(flat(d))),
        ("redis", check(flat(r))),
        ("storage", check(flat(s))),
    ];
    let failing: Vec<&str> = checks
        .iter()
        .filter(|(_, (ok, _))| !ok)
        .map(|(n, _)| *n)
        .collect();
    let body = json!({
        "status": if failing.is_empty() { "ok" } else { "degraded" },
        "version": env!("CARGO_PKG_VERSION"),
        "checks": checks.iter().map(|(n, (_, v))| (n.to_string(), v.clone())).collect::<serde_json::Map<_, _>>(),
        "failing": failing,
    });
    if failing.is_empty() {
        HttpResponse::Ok().json(body)
    } else {
        tracing::warn!(failing = ?failing, "health check failed");
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// `GET /metrics`: Prometheus text, with queue sizes read at scrape time.
#[get("/metrics")]
async fn metrics(state: web::Data<ApiState>) -> HttpResponse {
    if let Ok(sizes) = crate::tasks::queue_sizes(&state.ctx).await {
        for (queue, n) in sizes {
            ::metrics::gauge!(crate::telemetry::metrics::QUEUE_SIZE, "queue_name" => queue)
                .set(n as f64);
        }
    }
    match &state.metrics {
        Some(h) => HttpResponse::Ok()
            .content_type("text/plain; version=0.0.4; charset=utf-8")
            .body(h.render()),
        None => HttpResponse::ServiceUnavailable().body("metrics recorder not installed\n"),
    }
}

/// Runs the HTTP server on `listener` until the returned future is dropped or a signal
/// stops actix (it handles SIGINT/SIGTERM gracefully).
pub async fn serve(ctx: AppContext, listener: TcpListener) -> std::io::Result<()> {
    let state = web::Data::new(ApiState {
        ctx: ctx.clone(),
        metrics: crate::telemetry::metrics::install(),
    });
    let guard = middleware::Guard {
        api_token: ctx.cfg().api_token.as_deref().map(Into::into),
        cors_origins: std::sync::Arc::new(ctx.cfg().cors_origins.clone()),
    };
    let max_upload = ctx.cfg().max_upload_bytes as usize;
    tracing::info!(addr = %listener.local_addr()?, "provis API listening");
    HttpServer::new(move || {
        let guard = guard.clone();
        App::new()
            .app_data(state.clone())
            .app_data(web::PayloadConfig::new(max_upload.saturating_add(1 << 20)))
            .wrap_fn(move |req, srv| middleware::handle(guard.clone(), req, srv))
            .configure(configure)
    })
    .listen(listener)?
    .shutdown_timeout(10)
    .run()
    .await
}
