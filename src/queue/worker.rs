//! The worker runtime, one for both backends: claim in priority order, run the handler under
//! a tracing span with panics caught, heartbeat, settle, call the hooks; a background loop
//! promotes due retries and recovers work of dead workers; graceful stop and `--burst`.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use futures_util::FutureExt;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::rq::{BlockingConn, ClaimOutcome, RecoveredOutcome};
use super::task::{Envelope, Hooks, NoHooks, Registry, TaskError, TaskHandler, TaskSpec};
use super::{Claim, Completion, Disposition, QueueBackend, QueueError};
use crate::config::Config;
use crate::telemetry::metrics::{TASKS_TOTAL, TASK_DURATION_MS};

mod upkeep;

/// How long an idle in-process worker waits before looking for due retries again.
const LOCAL_POLL: Duration = Duration::from_millis(250);
/// `BLMOVE` timeout for a worker with a single queue.
const BLOCK_SINGLE_QUEUE: Duration = Duration::from_secs(1);
/// How often expired worker keys are dropped from the worker sets.
const CLEAN_WORKERS_EVERY: Duration = Duration::from_secs(10);
/// Attempts to record an outcome before giving up (the lease then lapses and it runs again).
const SETTLE_TRIES: u32 = 5;
/// How often a worker runs the [`Hooks::reconcile`] repair (one worker at a time does the
/// work; the hook takes a lock).
pub const RECONCILE_EVERY: Duration = Duration::from_secs(3);
/// Longest wait between two checks of a dependency that is down.
const DEPENDENCY_BACKOFF_CAP: Duration = Duration::from_secs(10);
/// Tries of the `on_failed` hook while every dependency answers (it is retried for as long as
/// one is down).
const FAILED_HOOK_TRIES: u32 = 3;
/// Extra worker-hash lifetime beyond the lease (RQ adds 60 s to its worker TTL too).
const WORKER_TTL_EXTRA: Duration = Duration::from_secs(60);

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Worker name in `rq info`; with `concurrency > 1` the slots are `<name>-1`, `<name>-2`, …
    pub name: String,
    /// Queues in priority order.
    pub queues: Vec<String>,
    /// Exit once the queues are empty (and no retry waits in their scheduled registries).
    pub burst: bool,
    /// A claimed task stays leased this long without a heartbeat; then another worker takes it.
    pub lease: Duration,
    /// Tasks run at once (each slot is one RQ worker).
    pub concurrency: usize,
    /// After a stop request, how long a running task may take before it is handed back.
    pub grace: Duration,
    /// `BLMOVE` timeout on the first queue when listening on several (the others are polled
    /// at this interval while idle).
    pub poll: Duration,
    /// How often due retries are promoted and dead workers' tasks recovered.
    pub maintenance_every: Duration,
    /// How long an id may sit between pop and start before the sweep puts it back.
    pub intermediate_grace: Duration,
}

impl WorkerOptions {
    /// Defaults: lease 20 s, one slot, 10 s grace, 200 ms poll, 1 s maintenance.
    pub fn new(name: impl Into<String>, queues: Vec<String>) -> Self {
        Self {
            name: name.into(),
            queues,
            burst: false,
            lease: Duration::from_secs(20),
            concurrency: 1,
            grace: Duration::from_secs(10),
            poll: Duration::from_millis(200),
            maintenance_every: Duration::from_secs(1),
            intermediate_grace: Duration::from_secs(10),
        }
    }

    /// Options from the configuration (queues, `worker_lease_s`) and an optional name
    /// (default [`WorkerOptions::default_name`]).
    pub fn from_config(cfg: &Config, name: Option<String>) -> Self {
        let mut o = Self::new(name.unwrap_or_else(Self::default_name), cfg.queues.clone());
        o.lease = Duration::from_secs(cfg.worker_lease_s);
        o
    }

    /// `<hostname>.<pid>`, unique per process like RQ's names.
    pub fn default_name() -> String {
        format!("{}.{}", crate::host::hostname(), std::process::id())
    }

    fn heartbeat_every(&self) -> Duration {
        (self.lease / 4).clamp(Duration::from_millis(100), Duration::from_secs(5))
    }

    fn worker_ttl(&self) -> Duration {
        self.lease + WORKER_TTL_EXTRA
    }

    fn slot_names(&self) -> Vec<String> {
        if self.concurrency == 1 {
            vec![self.name.clone()]
        } else {
            (1..=self.concurrency)
                .map(|i| format!("{}-{i}", self.name))
                .collect()
        }
    }
}

/// What a worker did, summed over its slots.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkerStats {
    /// Executions recorded as finished.
    pub done: u64,
    /// Executions rescheduled.
    pub retried: u64,
    /// Tasks failed for good.
    pub failed: u64,
    /// Tasks handed back on stop.
    pub handed_back: u64,
    /// Executions whose lease was lost before they finished.
    pub lost: u64,
}

impl WorkerStats {
    fn add(&mut self, o: WorkerStats) {
        self.done += o.done;
        self.retried += o.retried;
        self.failed += o.failed;
        self.handed_back += o.handed_back;
        self.lost += o.lost;
    }
}

/// A worker: backend + registry + context + hooks + options.
pub struct Worker<C> {
    backend: QueueBackend,
    registry: Arc<Registry<C>>,
    ctx: C,
    hooks: Arc<dyn Hooks<C>>,
    opts: WorkerOptions,
}

impl<C> std::fmt::Debug for Worker<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("backend", &self.backend)
            .field("registry", &self.registry)
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

struct Shared<C> {
    backend: QueueBackend,
    registry: Arc<Registry<C>>,
    ctx: C,
    hooks: Arc<dyn Hooks<C>>,
    opts: WorkerOptions,
    inflight: Mutex<HashMap<String, Claim>>,
    shutdown: CancellationToken,
    /// When [`Hooks::reconcile`] last ran here.
    reconciled: Mutex<Option<Instant>>,
}

enum Next {
    Claim(Box<Claim>),
    Idle,
    Exit,
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_string())
}

async fn sleep_or_stop(d: Duration, stop: &CancellationToken) {
    tokio::select! {
        _ = tokio::time::sleep(d) => {}
        _ = stop.cancelled() => {}
    }
}

impl<C: Clone + Send + Sync + 'static> Worker<C> {
    /// A worker with no hooks.
    pub fn new(
        backend: QueueBackend,
        registry: impl Into<Arc<Registry<C>>>,
        ctx: C,
        opts: WorkerOptions,
    ) -> Self {
        Self {
            backend,
            registry: registry.into(),
            ctx,
            hooks: Arc::new(NoHooks),
            opts,
        }
    }

    /// Sets the hooks called around each execution.
    pub fn with_hooks(mut self, hooks: Arc<dyn Hooks<C>>) -> Self {
        self.hooks = hooks;
        self
    }

    /// Runs until `shutdown` is cancelled (then finishes or hands back running tasks), or, with
    /// `burst`, until the queues are drained. Registers the worker slots first (Redis) or
    /// recovers tasks a previous process left running (local).
    pub async fn run(self, shutdown: CancellationToken) -> Result<WorkerStats, QueueError> {
        if self.opts.queues.is_empty() || self.opts.queues.iter().any(|q| q.is_empty()) {
            return Err(QueueError::InvalidOptions(
                "at least one queue, and no empty queue name".into(),
            ));
        }
        if self.opts.concurrency == 0 {
            return Err(QueueError::InvalidOptions(
                "concurrency must be at least 1".into(),
            ));
        }
        let slots = self.opts.slot_names();
        match &self.backend {
            QueueBackend::Redis(r) => {
                if let Err(e) = r.clean_workers(&self.opts.queues).await {
                    tracing::warn!(error = %e, "could not clean the worker sets");
                }
                for (i, s) in slots.iter().enumerate() {
                    if let Err(e) = r
                        .register_worker(s, &self.opts.queues, self.opts.worker_ttl())
                        .await
                    {
                        for done in &slots[..i] {
                            let _ = r.deregister_worker(done, &self.opts.queues).await;
                        }
                        return Err(e);
                    }
                }
            }
            QueueBackend::Local(l) => {
                let n = l.recover_on_startup().await?;
                if n > 0 {
                    tracing::info!(
                        count = n,
                        "requeued tasks left running by a previous process"
                    );
                }
            }
        }
        tracing::info!(
            worker = %self.opts.name,
            queues = %self.opts.queues.join(","),
            concurrency = slots.len(),
            burst = self.opts.burst,
            lease_s = self.opts.lease.as_secs_f64(),
            "worker started"
        );
        let sh = Arc::new(Shared {
            backend: self.backend,
            registry: self.registry,
            ctx: self.ctx,
            hooks: self.hooks,
            opts: self.opts,
            inflight: Mutex::new(HashMap::new()),
            shutdown,
            reconciled: Mutex::new(None),
        });
        // First sweep before claiming, so work of a worker that died is not left waiting.
        sh.maintain(&mut None).await;
        let bg_stop = CancellationToken::new();
        let bg = tokio::spawn(sh.clone().background(slots.clone(), bg_stop.clone()));
        let mut set = JoinSet::new();
        for s in slots.clone() {
            set.spawn(sh.clone().slot_loop(s));
        }
        let mut stats = WorkerStats::default();
        while let Some(r) = set.join_next().await {
            match r {
                Ok(s) => stats.add(s),
                Err(e) => tracing::error!(error = %e, "a worker slot stopped abnormally"),
            }
        }
        bg_stop.cancel();
        let _ = bg.await;
        if let QueueBackend::Redis(r) = &sh.backend {
            for s in &slots {
                if let Err(e) = r.deregister_worker(s, &sh.opts.queues).await {
                    tracing::warn!(worker = %s, error = %e, "could not deregister the worker");
                }
            }
        }
        tracing::info!(
            worker = %sh.opts.name,
            done = stats.done,
            retried = stats.retried,
            failed = stats.failed,
            handed_back = stats.handed_back,
            "worker stopped"
        );
        Ok(stats)
    }
}

impl<C: Clone + Send + Sync + 'static> Shared<C> {
    /// The task's name as a metric label: a registered task type, else `unknown` (a task
    /// name comes from Redis, so it is not trusted to be from a closed set).
    fn task_label(&self, task: &str) -> &'static str {
        self.registry
            .get(task)
            .map_or("unknown", |(spec, _)| spec.name)
    }

    fn lock_inflight(&self) -> std::sync::MutexGuard<'_, HashMap<String, Claim>> {
        // Poisoning would need a panic while holding the map; the map stays consistent.
        self.inflight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn slot_loop(self: Arc<Self>, name: String) -> WorkerStats {
        let mut stats = WorkerStats::default();
        let mut blocking = BlockingConn::default();
        let mut suspended = false;
        let mut backoff = Duration::from_millis(200);
        // The next task, when claiming it was folded into settling the previous one.
        let mut pending: Option<Box<Claim>> = None;
        loop {
            // A task already started in the queue (claimed) runs under the grace rule even when
            // a stop was requested meanwhile; only new claims stop.
            let next = match pending.take() {
                Some(c) => Ok(Next::Claim(c)),
                None if self.shutdown.is_cancelled() => break,
                None => self.next(&name, &mut blocking, &mut suspended).await,
            };
            match next {
                Ok(Next::Claim(c)) => {
                    backoff = Duration::from_millis(200);
                    pending = self.execute(*c, &mut stats).await;
                }
                Ok(Next::Idle) => {}
                Ok(Next::Exit) => break,
                Err(e) => {
                    tracing::warn!(worker = %name, error = %e, "claim failed; retrying");
                    sleep_or_stop(backoff, &self.shutdown).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
        stats
    }

    async fn next(
        &self,
        name: &str,
        blocking: &mut BlockingConn,
        suspended: &mut bool,
    ) -> Result<Next, QueueError> {
        let o = &self.opts;
        match &self.backend {
            QueueBackend::Redis(r) => match r.claim(name, &o.queues, o.lease).await? {
                ClaimOutcome::Claimed(c) => {
                    *suspended = false;
                    Ok(Next::Claim(c))
                }
                ClaimOutcome::Suspended => {
                    if !*suspended {
                        tracing::info!(worker = %name, "workers are suspended (rq suspend); waiting");
                        r.set_worker_state(name, "suspended").await?;
                        *suspended = true;
                    }
                    sleep_or_stop(Duration::from_secs(1), &self.shutdown).await;
                    Ok(Next::Idle)
                }
                ClaimOutcome::Empty => {
                    if *suspended {
                        r.set_worker_state(name, "idle").await?;
                        *suspended = false;
                    }
                    if o.burst {
                        if r.queues_idle(&o.queues).await? {
                            return Ok(Next::Exit);
                        }
                        sleep_or_stop(Duration::from_millis(100), &self.shutdown).await;
                        return Ok(Next::Idle);
                    }
                    let wait = if o.queues.len() == 1 {
                        BLOCK_SINGLE_QUEUE
                    } else {
                        o.poll
                    };
                    match r
                        .wait_claim(blocking, name, &o.queues, o.lease, wait)
                        .await?
                    {
                        Some(c) => Ok(Next::Claim(Box::new(c))),
                        None => Ok(Next::Idle),
                    }
                }
            },
            QueueBackend::Local(l) => {
                let notify = l.notifier().clone();
                let notified = notify.notified();
                tokio::pin!(notified);
                // Registered before claiming, so an enqueue right after an empty claim wakes us.
                notified.as_mut().enable();
                if let Some(c) = l.claim(name, &o.queues, o.lease).await? {
                    return Ok(Next::Claim(Box::new(c)));
                }
                if o.burst && !l.store().has_pending(&o.queues).await? {
                    return Ok(Next::Exit);
                }
                tokio::select! {
                    _ = &mut notified => {}
                    _ = tokio::time::sleep(LOCAL_POLL) => {}
                    _ = self.shutdown.cancelled() => {}
                }
                Ok(Next::Idle)
            }
        }
    }

    /// Runs one task; returns the next one when it was claimed together with the settling.
    async fn execute(&self, claim: Claim, stats: &mut WorkerStats) -> Option<Box<Claim>> {
        let env = &claim.env;
        let span = tracing::info_span!(
            "task",
            otel.name = %format!("task {}", self.task_label(&env.task)),
            otel.kind = "consumer",
            task_name = %env.task,
            task = %env.id,
            job_id = tracing::field::Empty,
            attempt = env.attempt,
            queue = %claim.queue,
            worker = %claim.worker,
        );
        // The task continues the trace of whatever enqueued it (the upload's request, or the
        // task before it), across processes.
        crate::telemetry::trace::set_parent(&span, env.traceparent.as_deref());
        if let Some(j) = env.job_id {
            span.record("job_id", tracing::field::display(j));
        }
        self.execute_inner(claim.clone(), stats)
            .instrument(span)
            .await
    }

    async fn execute_inner(&self, claim: Claim, stats: &mut WorkerStats) -> Option<Box<Claim>> {
        self.lock_inflight()
            .insert(claim.worker.clone(), claim.clone());
        let env = &claim.env;
        let clock = Instant::now();
        let completion = match self.registry.get(&env.task).cloned() {
            None => {
                tracing::error!(task_name = %env.task, "unknown task type; failing it");
                Completion::Fail {
                    error: TaskError::Fail(format!(
                        "unknown task type {:?} (not in this worker's registry)",
                        env.task
                    )),
                }
            }
            Some((spec, _)) if env.attempt > spec.max_attempts => Completion::Fail {
                error: TaskError::Fail(format!(
                    "attempts exhausted ({} of {}): the worker running it was lost",
                    env.attempt - 1,
                    spec.max_attempts
                )),
            },
            Some((spec, handler)) => {
                let result = match self.hooks.on_started(&self.ctx, env).await {
                    Err(e) => Some(Err(e)),
                    Ok(()) => self.run_handler(&handler, env).await,
                };
                match result {
                    None => Completion::HandBack,
                    Some(Ok(())) => match self.hooks.on_done(&self.ctx, env).await {
                        Ok(()) => Completion::Done,
                        Err(e) => self.judge(&spec, env, e).await,
                    },
                    Some(Err(e)) => self.judge(&spec, env, e).await,
                }
            }
        };
        let ms = clock.elapsed().as_secs_f64() * 1000.0;
        metrics::histogram!(TASK_DURATION_MS, "name" => self.task_label(&env.task)).record(ms);
        // No more heartbeats for it: settling removes its wip entry anyway.
        self.lock_inflight().remove(&claim.worker);
        self.finish(&claim, completion, stats).await
    }

    /// What a failed execution costs. A retryable failure while a dependency is down is not
    /// the task's own: the worker waits (capped backoff, logging what it waits for) until
    /// every dependency answers again, then hands the task back with its attempt unspent.
    async fn judge(&self, spec: &TaskSpec, env: &Envelope, e: TaskError) -> Completion {
        if !e.is_retry() {
            return completion_for(spec, env, e);
        }
        let Some(down) = self.hooks.unavailable(&self.ctx).await else {
            return completion_for(spec, env, e);
        };
        tracing::warn!(task = %env.id, error = %e, waiting_for = %down,
            "task failed while a dependency is down; not counted as an attempt");
        self.wait_for_dependencies(down).await;
        Completion::HandBack
    }

    /// Waits until [`Hooks::unavailable`] reports nothing down (or a stop is requested).
    async fn wait_for_dependencies(&self, mut down: String) {
        let mut backoff = Duration::from_millis(500);
        let t0 = Instant::now();
        loop {
            tracing::warn!(waiting_for = %down, waited_s = t0.elapsed().as_secs(), "waiting for a dependency");
            sleep_or_stop(backoff, &self.shutdown).await;
            if self.shutdown.is_cancelled() {
                return;
            }
            backoff = (backoff * 2).min(DEPENDENCY_BACKOFF_CAP);
            match self.hooks.unavailable(&self.ctx).await {
                Some(d) => down = d,
                None => {
                    tracing::info!(
                        waited_s = t0.elapsed().as_secs_f64(),
                        "dependencies answer again; resuming"
                    );
                    return;
                }
            }
        }
    }

    /// Calls `on_failed` until it succeeds: a job that fails for good must end `failed` with
    /// its terminal event even when the database was down at that moment (it is recorded
    /// once the database is back).
    async fn record_failed(&self, env: &Envelope, e: &TaskError) {
        let mut tries = 0;
        loop {
            let Err(he) = self.hooks.on_failed(&self.ctx, env, e).await else {
                return;
            };
            tries += 1;
            match self.hooks.unavailable(&self.ctx).await {
                Some(down) if !self.shutdown.is_cancelled() => {
                    tracing::warn!(error = %he, waiting_for = %down, "could not record a failed task yet; waiting for the dependency");
                    self.wait_for_dependencies(down).await;
                }
                _ if tries < FAILED_HOOK_TRIES && !self.shutdown.is_cancelled() => {
                    tracing::warn!(error = %he, try_no = tries, "on_failed hook failed; trying again");
                    sleep_or_stop(Duration::from_millis(500 << tries), &self.shutdown).await;
                }
                _ => {
                    tracing::error!(error = %he, "on_failed hook failed");
                    return;
                }
            }
        }
    }

    /// Runs the handler; `None` when a stop request outlasted the grace period (hand back).
    async fn run_handler(
        &self,
        handler: &TaskHandler<C>,
        env: &Envelope,
    ) -> Option<Result<(), TaskError>> {
        let fut = AssertUnwindSafe(handler(self.ctx.clone(), env.clone())).catch_unwind();
        tokio::pin!(fut);
        let first = tokio::select! {
            r = &mut fut => Some(r),
            _ = self.shutdown.cancelled() => None,
        };
        let r = match first {
            Some(r) => r,
            None => {
                tracing::info!(
                    grace_s = self.opts.grace.as_secs_f64(),
                    "stop requested; letting the running task finish"
                );
                match tokio::time::timeout(self.opts.grace, &mut fut).await {
                    Ok(r) => r,
                    Err(_) => {
                        tracing::warn!(
                            "task did not finish within the grace period; handing it back"
                        );
                        return None;
                    }
                }
            }
        };
        Some(r.unwrap_or_else(|p| {
            Err(TaskError::Retry(format!(
                "panic: {}",
                panic_message(p.as_ref())
            )))
        }))
    }

    async fn complete(&self, claim: &Claim, c: &Completion) -> Result<Disposition, QueueError> {
        match &self.backend {
            QueueBackend::Redis(r) => r.complete(claim, c).await,
            QueueBackend::Local(l) => l.complete(claim, c).await,
        }
    }

    /// Records the outcome (retrying transient backend errors) and calls the hooks.
    async fn finish(
        &self,
        claim: &Claim,
        completion: Completion,
        stats: &mut WorkerStats,
    ) -> Option<Box<Claim>> {
        let env = &claim.env;
        let mut disposition = None;
        let mut next = None;
        // A success while running normally also claims the next task (one round trip).
        let fold = matches!(completion, Completion::Done) && !self.shutdown.is_cancelled();
        for i in 0..SETTLE_TRIES {
            let res = match (&self.backend, fold && i == 0) {
                (QueueBackend::Redis(r), true) => r
                    .complete_and_claim(claim, &claim.worker, &self.opts.queues, self.opts.lease)
                    .await
                    .map(|(d, c)| {
                        next = c.map(Box::new);
                        d
                    }),
                _ => self.complete(claim, &completion).await,
            };
            match res {
                Ok(d) => {
                    disposition = Some(d);
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, try_no = i + 1, "could not record the task outcome");
                    tokio::time::sleep(Duration::from_millis(200 << i)).await;
                }
            }
        }
        let Some(disposition) = disposition else {
            tracing::error!(
                "gave up recording the task outcome; its lease will lapse and it will run again"
            );
            return None;
        };
        let error = match &completion {
            Completion::Retry { error, .. } | Completion::Fail { error } => Some(error.clone()),
            _ => None,
        };
        let err_text = error.as_ref().map(|e| e.to_string()).unwrap_or_default();
        let duration_ms = (Utc::now() - claim.started_at).num_milliseconds();
        let state = match &disposition {
            Disposition::Done => {
                stats.done += 1;
                tracing::info!(duration_ms, success = true, "task done");
                "done"
            }
            Disposition::Retried { next_at } => {
                stats.retried += 1;
                tracing::warn!(duration_ms, success = false, error = %err_text, next_at = %next_at, "task failed; retry scheduled");
                let e = error
                    .clone()
                    .unwrap_or_else(|| TaskError::Retry(String::new()));
                if let Err(he) = self.hooks.on_retry(&self.ctx, env, &e, *next_at).await {
                    tracing::error!(error = %he, "on_retry hook failed");
                }
                "retry"
            }
            Disposition::Failed => {
                stats.failed += 1;
                tracing::error!(duration_ms, success = false, error = %err_text, "task failed for good");
                let e = error
                    .clone()
                    .unwrap_or_else(|| TaskError::Fail(String::new()));
                self.record_failed(env, &e).await;
                "failed"
            }
            Disposition::HandedBack => {
                stats.handed_back += 1;
                tracing::info!(duration_ms, "task handed back to its queue");
                let why = if self.shutdown.is_cancelled() {
                    "handed back: worker stopping"
                } else {
                    "handed back: a dependency was down (attempt not counted)"
                };
                let e = TaskError::Retry(why.to_string());
                if let Err(he) = self.hooks.on_retry(&self.ctx, env, &e, Utc::now()).await {
                    tracing::error!(error = %he, "on_retry hook failed");
                }
                "handed_back"
            }
            Disposition::Lost => {
                stats.lost += 1;
                tracing::warn!(
                    duration_ms,
                    "lease lost before the task finished; another worker owns it now"
                );
                "lost"
            }
        };
        metrics::counter!(TASKS_TOTAL, "name" => self.task_label(&env.task), "state" => state)
            .increment(1);
        next
    }
}

/// Retry while attempts remain and the error allows it, else fail.
fn completion_for(spec: &TaskSpec, env: &Envelope, e: TaskError) -> Completion {
    if e.is_retry() && env.attempt < spec.max_attempts {
        let delay = chrono::Duration::from_std(spec.backoff_after(env.attempt)).unwrap_or_default();
        Completion::Retry {
            error: e,
            next_at: Utc::now() + delay,
        }
    } else {
        Completion::Fail { error: e }
    }
}
