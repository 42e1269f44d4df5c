//! `provis work`: a worker on the Redis queues (cluster mode).
//!
//! Stops on SIGTERM/SIGINT: no new claims, the running task gets `--shutdown-grace` seconds to
//! finish, else it is handed back to its queue; then the worker deregisters. `--burst` drains
//! the queues and exits. The key prefix is the `rq_key_prefix` setting (`--rq-key-prefix`, env
//! `RQ_KEY_PREFIX`, the variable Python RQ reads; default `rq`), so `rq info` started with the
//! same value sees this worker.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::queue::{
    diag_requested, Hooks, NoHooks, QueueError, RedisBackend, Registry, Worker, WorkerOptions,
    WorkerStats,
};
use crate::tasks::context::{AppContext, Role};
use crate::tasks::TaskRows;

use super::WorkArgs;

/// Runs a worker until stopped: the pipeline tasks on the cluster's database, Redis and
/// storage. With `PROVIS_DIAG_TASKS=1` and no `DATABASE_URL` it runs only the diagnostic tasks
/// (queue tests and `scripts/bench queue`), which need nothing but Redis.
pub async fn run(cfg: Config, args: WorkArgs) -> anyhow::Result<()> {
    let mut args = args;
    let name = args
        .name
        .clone()
        .unwrap_or_else(WorkerOptions::default_name);
    args.name = Some(name.clone());
    // Bound before anything else, so a port in use stops the worker at once, naming it. The
    // default port only warns: the second of two workers started on one host without
    // `--metrics-port` still runs, without its own /metrics.
    let probe = match cfg.metrics_port {
        0 => None,
        port => match crate::api::probe::bind(&cfg.host, port) {
            Ok(l) => Some(l),
            Err(e) if !cfg.metrics_port_explicit => {
                tracing::warn!(error = format!("{e:#}"), "this worker serves no /metrics");
                None
            }
            Err(e) => return Err(e),
        },
    };
    if diag_requested() && cfg.database_url.is_none() {
        let mut registry: Registry<()> = Registry::new();
        register_diag(&mut registry)?;
        let probe = start_probe(probe, None, &name)?;
        let result = run_with(&cfg, &args, (), registry, Arc::new(NoHooks)).await;
        stop_probe(probe).await;
        return result.map(|_| ());
    }
    if cfg.redis_url.is_none() {
        anyhow::bail!(
            "provis work needs REDIS_URL (redis://host:port[/db]); without Redis, run `provis all-in-one`, which has an in-process queue"
        );
    }
    let Some(ctx) = build_waiting(&cfg).await? else {
        return Ok(());
    };
    let mut registry = crate::tasks::registry()?;
    if diag_requested() {
        register_diag(&mut registry)?;
    }
    let probe = start_probe(probe, Some(ctx.clone()), &name)?;
    let hooks = Arc::new(TaskRows::new(&ctx, &name));
    let sweeping = CancellationToken::new();
    let sweeper = crate::tasks::retention::spawn_sweeper(ctx.clone(), sweeping.clone());
    let result = run_with(&cfg, &args, ctx.clone(), registry, hooks).await;
    sweeping.cancel();
    let _ = sweeper.await;
    stop_probe(probe).await;
    ctx.remove_scratch();
    result.map(|_| ())
}

/// Starts the worker's /metrics and /health on a bound listener (the recorder is installed
/// either way, so what the worker records is kept for the next scrape).
fn start_probe(
    listener: Option<std::net::TcpListener>,
    ctx: Option<AppContext>,
    name: &str,
) -> anyhow::Result<Option<actix_web::dev::ServerHandle>> {
    crate::telemetry::metrics::install();
    listener
        .map(|l| crate::api::probe::start(l, ctx, name))
        .transpose()
        .context("starting the metrics server")
}

async fn stop_probe(probe: Option<actix_web::dev::ServerHandle>) {
    if let Some(h) = probe {
        h.stop(true).await;
    }
}

/// Runs `concurrency` workers inside this process on the context's own queue backend (the
/// in-process queue in embedded mode) until `shutdown` is cancelled — `all-in-one` and
/// `analyze` use it next to the API.
pub async fn run_workers(
    ctx: AppContext,
    name: Option<String>,
    burst: bool,
    concurrency: usize,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let name = name.unwrap_or_else(WorkerOptions::default_name);
    let mut opts = WorkerOptions::from_config(ctx.cfg(), Some(name.clone()));
    opts.burst = burst;
    opts.concurrency = concurrency.max(1);
    let hooks = Arc::new(TaskRows::new(&ctx, &name));
    // Ends with `shutdown`, like the workers.
    crate::tasks::retention::spawn_sweeper(ctx.clone(), shutdown.clone());
    let mut wait = Duration::from_secs(1);
    loop {
        let registry = crate::tasks::registry()?;
        let result = Worker::new(ctx.queue().clone(), registry, ctx.clone(), opts.clone())
            .with_hooks(hooks.clone())
            .run(shutdown.clone())
            .await;
        match result {
            Ok(_) => return Ok(()),
            // Redis down when the workers register (all-in-one started without it): the API
            // keeps serving and /health says so; the workers start once Redis answers.
            Err(QueueError::Redis(e)) if !shutdown.is_cancelled() => {
                tracing::warn!(error = %e, retry_in_s = wait.as_secs(), "workers cannot reach Redis; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = shutdown.cancelled() => return Ok(()),
                }
                wait = (wait * 2).min(Duration::from_secs(30));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Registers the diagnostic task types that `PROVIS_DIAG_TASKS` asks for.
#[cfg(feature = "test-support")]
fn register_diag<C: Clone + Send + Sync + 'static>(
    registry: &mut Registry<C>,
) -> anyhow::Result<()> {
    Ok(crate::queue::diag::register(registry)?)
}

/// A build without the `test-support` feature has no diagnostic tasks: asking for them is an
/// error that says so, not a worker that silently runs without them.
#[cfg(not(feature = "test-support"))]
fn register_diag<C: Clone + Send + Sync + 'static>(_: &mut Registry<C>) -> anyhow::Result<()> {
    anyhow::bail!(
        "{} asks for the diagnostic tasks, which this build leaves out (build with --features test-support)",
        crate::queue::DIAG_ENV
    )
}

/// Runs a worker with a given context, registry and hooks (what [`run`] wires for the CLI).
pub async fn run_with<C: Clone + Send + Sync + 'static>(
    cfg: &Config,
    args: &WorkArgs,
    ctx: C,
    registry: Registry<C>,
    hooks: Arc<dyn Hooks<C>>,
) -> anyhow::Result<WorkerStats> {
    let url = cfg.redis_url.as_deref().context(
        "provis work needs REDIS_URL (redis://host:port[/db]); without Redis, run `provis all-in-one`, which has an in-process queue",
    )?;
    if registry.is_empty() {
        anyhow::bail!(
            "no task types are registered; {}=1 runs the diagnostic tasks (a build with --features test-support)",
            crate::queue::DIAG_ENV
        );
    }
    let prefix = &cfg.rq_key_prefix;
    let mut wait = DEPENDENCY_WAIT_FIRST;
    let backend = loop {
        match RedisBackend::connect_with(url, prefix, Duration::from_secs(cfg.redis_timeout_s))
            .await
        {
            Ok(b) => break b,
            Err(e @ QueueError::InvalidPrefix(_)) => return Err(e.into()),
            Err(e) => {
                tracing::warn!(waiting_for = "redis", redis = %crate::telemetry::redact_url(url), error = %e, retry_in_s = wait.as_secs_f64(),
                    "waiting for Redis before starting the workers");
                if !sleep_unless_stopped(wait).await {
                    return Ok(WorkerStats::default());
                }
                wait = (wait * 2).min(DEPENDENCY_WAIT_CAP);
            }
        }
    };
    let mut opts = WorkerOptions::from_config(cfg, args.name.clone());
    opts.burst = args.burst;
    opts.concurrency = args.concurrency;
    opts.grace = Duration::from_secs(args.shutdown_grace);
    tracing::info!(tasks = ?registry.names(), prefix = %prefix, "task types registered");
    let shutdown = CancellationToken::new();
    tokio::spawn(stop_on_signal(shutdown.clone()));
    let stats = Worker::new(backend.into(), registry, ctx, opts)
        .with_hooks(hooks)
        .run(shutdown)
        .await?;
    Ok(stats)
}

/// Cancels `token` on the first SIGTERM or SIGINT.
/// First wait before trying a dependency again at start-up; doubles up to the cap.
const DEPENDENCY_WAIT_FIRST: Duration = Duration::from_secs(1);
/// Longest wait between two start-up attempts.
const DEPENDENCY_WAIT_CAP: Duration = Duration::from_secs(30);

/// Sleeps `d`; false when SIGTERM/SIGINT came first (the caller stops).
async fn sleep_unless_stopped(d: Duration) -> bool {
    let token = CancellationToken::new();
    tokio::select! {
        _ = tokio::time::sleep(d) => true,
        _ = stop_on_signal(token) => false,
    }
}

/// Builds the worker's context, waiting (capped backoff, each wait logged with its cause)
/// while a dependency it needs — database, object store, Redis — does not answer, rather than
/// exiting: restarting a worker would not bring the dependency back. `None` when stopped
/// while waiting. A configuration that cannot work is still an error at once.
async fn build_waiting(cfg: &Config) -> anyhow::Result<Option<AppContext>> {
    let mut wait = DEPENDENCY_WAIT_FIRST;
    loop {
        match AppContext::build(cfg.clone(), Role::Worker).await {
            Ok(ctx) => return Ok(Some(ctx)),
            Err(e) if is_config_error(&e) => return Err(e),
            Err(e) => {
                tracing::warn!(
                    error = format!("{e:#}"),
                    retry_in_s = wait.as_secs_f64(),
                    "waiting for a dependency before starting the workers"
                );
                if !sleep_unless_stopped(wait).await {
                    return Ok(None);
                }
                wait = (wait * 2).min(DEPENDENCY_WAIT_CAP);
            }
        }
    }
}

/// Errors no wait can fix (a URL or prefix that cannot work).
fn is_config_error(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        matches!(
            c.downcast_ref::<crate::db::DbError>(),
            Some(crate::db::DbError::InvalidUrl(_))
        ) || matches!(
            c.downcast_ref::<QueueError>(),
            Some(QueueError::InvalidPrefix(_))
        )
    })
}

async fn stop_on_signal(token: CancellationToken) {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = term => {}
        r = tokio::signal::ctrl_c() => {
            if let Err(e) = r {
                tracing::warn!(error = %e, "cannot listen for SIGINT");
                std::future::pending::<()>().await;
            }
        }
    }
    tracing::info!("stop requested: no new tasks; finishing the running one");
    token.cancel();
}
