//! A worker's own small HTTP server on `--metrics-port`: `/metrics` (what this process
//! recorded: tasks, files parsed, artifacts, parser time, errors …) and `/health` (liveness).
//!
//! `/health` answers 200 while the process runs and does not check dependencies: a worker
//! waits out a database or Redis outage by itself, and restarting it would not help.

use super::model::{HealthStatus, Liveness};
use crate::tasks::context::AppContext;
use actix_web::{web, App, HttpResponse, HttpServer};
use metrics_exporter_prometheus::PrometheusHandle;
use std::net::TcpListener;

/// What the probe answers from.
#[derive(Clone)]
struct ProbeState {
    ctx: Option<AppContext>,
    metrics: Option<PrometheusHandle>,
    worker: String,
}

async fn metrics(state: web::Data<ProbeState>) -> HttpResponse {
    super::ops::render(state.ctx.as_ref(), state.metrics.as_ref()).await
}

async fn health(state: web::Data<ProbeState>) -> HttpResponse {
    HttpResponse::Ok().json(Liveness {
        status: HealthStatus::Ok,
        role: "worker".to_string(),
        worker: state.worker.clone(),
        version: env!("CARGO_PKG_VERSION").to_string(),
    })
}

async fn not_found(req: actix_web::HttpRequest) -> HttpResponse {
    let err = crate::error::ApiError::new(
        crate::error::ErrorCode::NotFound,
        format!(
            "no route for {} {} (a worker serves /metrics and /health)",
            req.method(),
            req.path()
        ),
    );
    actix_web::ResponseError::error_response(&err)
}

/// Binds the probe's port on `host`; a port in use is a start-up error naming the setting.
pub fn bind(host: &str, port: u16) -> anyhow::Result<TcpListener> {
    use anyhow::Context as _;
    let addr = format!("{host}:{port}");
    TcpListener::bind(&addr).with_context(|| {
        format!(
            "cannot listen on {addr} for /metrics and /health (--metrics-port / METRICS_PORT); \
             give each worker on a host its own port, or 0 to turn it off"
        )
    })
}

/// Starts the probe server on `listener`; stop it through the returned handle.
pub fn start(
    listener: TcpListener,
    ctx: Option<AppContext>,
    worker: &str,
) -> std::io::Result<actix_web::dev::ServerHandle> {
    let state = web::Data::new(ProbeState {
        ctx,
        metrics: crate::telemetry::metrics::install(),
        worker: worker.to_string(),
    });
    let guard = super::middleware::Guard::default();
    let addr = listener.local_addr()?;
    let server = HttpServer::new(move || {
        let guard = guard.clone();
        App::new()
            .app_data(state.clone())
            .wrap_fn(move |req, srv| super::middleware::handle(guard.clone(), req, srv))
            .route("/metrics", web::get().to(metrics))
            .route("/health", web::get().to(health))
            .default_service(web::to(not_found))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run();
    let handle = server.handle();
    tokio::spawn(async move {
        if let Err(e) = server.await {
            tracing::error!(error = %e, "the metrics server stopped");
        }
    });
    tracing::info!(addr = %addr, "worker /metrics and /health listening");
    Ok(handle)
}
