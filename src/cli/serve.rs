//! `provis serve` and `provis all-in-one`: the API, alone or with workers in the process.

use crate::config::Config;
use crate::tasks::context::{AppContext, Role};
use anyhow::Context as _;
use std::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Binds the configured address, naming it in the error when that fails.
fn bind(cfg: &Config) -> anyhow::Result<TcpListener> {
    let addr = format!("{}:{}", cfg.host, cfg.port);
    TcpListener::bind(&addr).with_context(|| format!("cannot listen on {addr} (--host/--port)"))
}

/// `provis serve`: the API only.
pub async fn serve(cfg: Config) -> anyhow::Result<()> {
    let listener = bind(&cfg)?;
    let ctx = AppContext::build(cfg, Role::Api).await?;
    let result = crate::api::serve(ctx.clone(), listener).await;
    ctx.remove_scratch();
    result?;
    Ok(())
}

/// `provis all-in-one`: the API and `workers` workers sharing one context.
pub async fn all_in_one(cfg: Config) -> anyhow::Result<()> {
    let listener = bind(&cfg)?;
    let workers = cfg.workers;
    let ctx = AppContext::build(cfg, Role::AllInOne).await?;
    tracing::info!(
        database = ctx.db().backend_name(),
        storage = ctx.artifacts().backend_name(),
        queue = if ctx.cfg().is_embedded() {
            "in-process"
        } else {
            "redis"
        },
        workers,
        "provis all-in-one starting"
    );
    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(super::work::run_workers(
        ctx.clone(),
        None,
        false,
        workers,
        shutdown.clone(),
    ));
    let result = crate::api::serve(ctx.clone(), listener).await;
    // actix returns after SIGINT/SIGTERM; let the workers finish or hand back their tasks.
    shutdown.cancel();
    match worker.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!(error = %format!("{e:#}"), "workers stopped with an error"),
        Err(e) => tracing::error!(error = %e, "worker task panicked"),
    }
    ctx.remove_scratch();
    result.context("the HTTP server failed")
}

/// `provis migrate`: applies pending migrations and reports how many ran.
pub async fn migrate(cfg: Config) -> anyhow::Result<()> {
    if cfg.database_url.is_none() {
        std::fs::create_dir_all(&cfg.data_dir)
            .with_context(|| format!("cannot create {}", cfg.data_dir.display()))?;
    }
    let url = cfg.effective_database_url();
    let db = crate::db::Db::connect(&url)
        .await
        .with_context(|| format!("cannot open {}", crate::telemetry::redact_url(&url)))?;
    let applied = db.migrate().await.context("applying migrations")?;
    let pending = db.pending_migrations().await?;
    tracing::info!(
        applied,
        pending,
        backend = db.backend_name(),
        "migrations applied"
    );
    println!(
        "provis migrate: {applied} migration(s) applied, {pending} pending ({})",
        db.backend_name()
    );
    Ok(())
}
