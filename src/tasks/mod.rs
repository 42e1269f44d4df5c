//! The pipeline's tasks (docs/operations.md#queues-and-keys; the flow in docs/architecture.md),
//! composed from db, artifacts, events and pipeline.
//!
//! upload → ingest → discover → parse_batch ×N → merge → map → summarize → finalize.
//! Each task reads its job row, checks what an earlier attempt already did, does its step
//! with the pure `pipeline` functions, writes its artifact (idempotent per job), moves the
//! job's phase and enqueues the next task. Every task row in `tasks` follows its executions
//! through [`TaskRows`], and a task whose retries run out fails its job.

mod ahead;
mod behind;
pub mod context;
pub mod detect_cache;
pub mod docs;
pub mod intake;
pub mod kept;
pub mod memo;
pub mod parse_cache;
mod parsing;
pub mod progress;
pub mod publish;
pub mod reconcile;
pub mod resolve_cache;
pub mod retention;
pub mod scratch;
pub mod source;
pub mod store;
pub mod zip_cache;

mod stages;

use crate::db::{NewTask, TaskState};
use crate::queue::{self, QueueBackend};
use crate::queue::{Envelope, Hooks, Registry, TaskError, TaskResultExt, TaskSpec};
use chrono::{DateTime, Utc};
use context::AppContext;
use uuid::Uuid;

/// `ingest`: fetch and verify the upload.
pub const INGEST: TaskSpec = TaskSpec {
    name: "ingest",
    queue: queue::HIGH,
    max_attempts: 4,
    backoff_s: &[30, 60, 120],
};
/// `discover`: list files, `tree` artifact, fan out parse batches.
pub const DISCOVER: TaskSpec = TaskSpec {
    name: "discover",
    queue: queue::NORMAL,
    max_attempts: 3,
    backoff_s: &[5, 15],
};
/// `parse_batch`: parse up to PARSE_BATCH_SIZE files.
pub const PARSE_BATCH: TaskSpec = TaskSpec {
    name: "parse_batch",
    queue: queue::NORMAL,
    max_attempts: 4,
    backoff_s: &[5, 15, 30],
};
/// `merge`: once, after the last batch: resolve imports, `files` artifact.
pub const MERGE: TaskSpec = TaskSpec {
    name: "merge",
    queue: queue::NORMAL,
    max_attempts: 3,
    backoff_s: &[5, 15],
};
/// `map`: the `graph` artifact and import metrics.
pub const MAP: TaskSpec = TaskSpec {
    name: "map",
    queue: queue::NORMAL,
    max_attempts: 3,
    backoff_s: &[5, 15],
};
/// `summarize`: `summaries` and `capabilities` artifacts.
pub const SUMMARIZE: TaskSpec = TaskSpec {
    name: "summarize",
    queue: queue::LOW,
    max_attempts: 4,
    backoff_s: &[10, 30, 60],
};
/// `finalize`: `metrics` artifact, snapshot completed, job done.
pub const FINALIZE: TaskSpec = TaskSpec {
    name: "finalize",
    queue: queue::HIGH,
    max_attempts: 3,
    backoff_s: &[5, 15],
};

/// Every pipeline task type, in pipeline order.
pub const ALL: [TaskSpec; 7] = [
    INGEST,
    DISCOVER,
    PARSE_BATCH,
    MERGE,
    MAP,
    SUMMARIZE,
    FINALIZE,
];

/// The one registry of task types a worker runs.
pub fn registry() -> Result<Registry<AppContext>, crate::queue::QueueError> {
    let mut r = Registry::new();
    r.register(INGEST, |ctx, env| Box::pin(stages::ingest(ctx, env)))?;
    r.register(DISCOVER, |ctx, env| Box::pin(stages::discover(ctx, env)))?;
    r.register(PARSE_BATCH, |ctx, env| {
        Box::pin(stages::parse_batch(ctx, env))
    })?;
    r.register(MERGE, |ctx, env| Box::pin(stages::merge(ctx, env)))?;
    r.register(MAP, |ctx, env| Box::pin(stages::map(ctx, env)))?;
    r.register(SUMMARIZE, |ctx, env| Box::pin(stages::summarize(ctx, env)))?;
    r.register(FINALIZE, |ctx, env| Box::pin(stages::finalize(ctx, env)))?;
    Ok(r)
}

/// Inserts the task row (idempotent: its id is derived from job, name and batch) and puts the
/// task on its queue.
pub async fn enqueue(
    ctx: &AppContext,
    spec: &TaskSpec,
    job_id: Uuid,
    batch_index: Option<u32>,
) -> Result<(), TaskError> {
    let env = envelope(spec, job_id, batch_index);
    match ctx.queue() {
        QueueBackend::Redis(q) => {
            ctx.db()
                .insert_task(task_row(spec, &env))
                .await
                .retryable()?;
            q.enqueue(spec, &env).await.retryable()?;
        }
        QueueBackend::Local(q) => {
            // The local queue's store is the `tasks` table itself.
            q.enqueue(spec, &env).await.retryable()?;
        }
    }
    Ok(())
}

/// Redis enqueues [`enqueue_batches`] keeps in flight at once.
const REDIS_ENQUEUES_AT_ONCE: usize = 16;

/// [`enqueue`] of a job's batches `order` of `spec` at once, in that order (workers take them
/// in it): the rows in one transaction instead of one commit each (and, on Redis, several
/// enqueues in flight), so the first batches do not wait behind the enqueueing of a
/// thousand others.
pub async fn enqueue_batches(
    ctx: &AppContext,
    spec: &TaskSpec,
    job_id: Uuid,
    order: &[u32],
) -> Result<(), TaskError> {
    let envs: Vec<Envelope> = order
        .iter()
        .map(|&i| envelope(spec, job_id, Some(i)))
        .collect();
    match ctx.queue() {
        QueueBackend::Redis(q) => {
            let rows = envs.iter().map(|env| task_row(spec, env)).collect();
            ctx.db().insert_tasks(rows).await.retryable()?;
            for group in envs.chunks(REDIS_ENQUEUES_AT_ONCE) {
                futures_util::future::try_join_all(group.iter().map(|env| q.enqueue(spec, env)))
                    .await
                    .retryable()?;
            }
        }
        QueueBackend::Local(q) => {
            q.enqueue_many(spec, &envs).await.retryable()?;
        }
    }
    Ok(())
}

/// The envelope of a job's task; its id is derived from job, name and batch.
fn envelope(spec: &TaskSpec, job_id: Uuid, batch_index: Option<u32>) -> Envelope {
    let task_id = crate::db::task_id(job_id, spec.name, batch_index.map(|i| i as i32));
    let payload = serde_json::json!({ "jobId": job_id });
    // The trace of whoever enqueues (the upload's request, the previous task) continues in it.
    Envelope::new(spec, task_id, Some(job_id), batch_index, payload)
        .with_traceparent(crate::telemetry::trace::current_traceparent())
}

/// The `tasks` row of a task on Redis (the row mirrors it; the queue holds the envelope).
fn task_row(spec: &TaskSpec, env: &Envelope) -> NewTask {
    NewTask {
        id: env.task_id,
        job_id: env.job_id,
        name: spec.name.to_string(),
        batch_index: env.batch_index.map(|i| i as i32),
        queue: spec.queue.to_string(),
        max_attempts: spec.max_attempts as i32,
        payload: env.payload.clone(),
        available_at: None,
    }
}

/// Keeps `tasks` rows in step with executions and fails the job when retries run out.
///
/// With the in-process queue the store already moves the rows (they are the queue), so only
/// the job-level effects remain here.
#[derive(Debug, Clone)]
pub struct TaskRows {
    update_rows: bool,
    worker: String,
}

impl TaskRows {
    /// Hooks for workers named `worker` on `ctx`'s queue backend.
    pub fn new(ctx: &AppContext, worker: &str) -> Self {
        Self {
            update_rows: matches!(ctx.queue(), QueueBackend::Redis(_)),
            worker: worker.to_string(),
        }
    }
}

#[async_trait::async_trait]
impl Hooks<AppContext> for TaskRows {
    async fn on_started(&self, ctx: &AppContext, env: &Envelope) -> Result<(), TaskError> {
        if self.update_rows {
            ctx.db()
                .task_started(env.task_id, env.attempt as i32, &self.worker, None)
                .await
                .retryable()?;
        }
        Ok(())
    }

    async fn on_done(&self, ctx: &AppContext, env: &Envelope) -> Result<(), TaskError> {
        if self.update_rows {
            ctx.db()
                .task_finished(env.task_id, TaskState::Done, None)
                .await
                .retryable()?;
        }
        Ok(())
    }

    async fn on_retry(
        &self,
        ctx: &AppContext,
        env: &Envelope,
        err: &TaskError,
        next_at: DateTime<Utc>,
    ) -> Result<(), TaskError> {
        tracing::warn!(task = %env.task, job_id = ?env.job_id, attempt = env.attempt, error = %err, retry_at = %next_at, "task will be retried");
        if self.update_rows {
            ctx.db()
                .task_requeue(env.task_id, next_at, Some(err.message()))
                .await
                .retryable()?;
        }
        Ok(())
    }

    async fn on_failed(
        &self,
        ctx: &AppContext,
        env: &Envelope,
        err: &TaskError,
    ) -> Result<(), TaskError> {
        if self.update_rows {
            ctx.db()
                .task_finished(env.task_id, TaskState::Failed, Some(err.message()))
                .await
                .retryable()?;
        }
        if let Some(job_id) = env.job_id {
            let code = format!("{}_failed", env.task);
            progress::fail_job(ctx, job_id, &code, err.message()).await?;
        }
        Ok(())
    }

    async fn unavailable(&self, ctx: &AppContext) -> Option<String> {
        dependencies_down(ctx).await
    }

    async fn reconcile(&self, ctx: &AppContext) -> Result<usize, TaskError> {
        if !self.update_rows {
            return Ok(0);
        }
        reconcile::reconcile(ctx, &format!("{}.{}", self.worker, std::process::id())).await
    }
}

/// The dependencies (database, Redis, object store) that do not answer right now, named with
/// their error (`database: connection refused; redis: …`); `None` when all answer.
pub async fn dependencies_down(ctx: &AppContext) -> Option<String> {
    let found = ctx.check_dependencies().await;
    let down: Vec<String> = found
        .failing()
        .iter()
        .map(|(name, e)| format!("{name}: {e}"))
        .collect();
    (!down.is_empty()).then(|| down.join("; "))
}
