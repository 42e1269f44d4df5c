//! The task framework: what a task type declares, the envelope a worker receives, how a task
//! says "retry" or "give up", the one registry of handlers, and the hooks the worker calls.
//!
//! The queue is generic over a context type `C` (database pools, artifact store, …) that it
//! never looks into, so `queue` does not depend on `db` or `artifacts`.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::QueueError;

/// What a task type declares once: its wire name, its queue and its retry policy.
///
/// `name` is the wire name (RQ's `data` carries it as `provis.<name>`); never rename one that
/// may still sit in a queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskSpec {
    /// Wire name, snake_case (`ingest`, `parse_batch`).
    pub name: &'static str,
    /// Queue the task is enqueued on (`high`, `normal`, `low`).
    pub queue: &'static str,
    /// Executions allowed in total (1 = no retry).
    pub max_attempts: u32,
    /// Delay before each retry in seconds: `backoff_s[0]` after the first failure, and so on;
    /// the last value repeats. Empty = retry at once.
    pub backoff_s: &'static [u64],
}

impl TaskSpec {
    /// Delay before the next execution after attempt `attempt` (1-based) failed.
    pub fn backoff_after(&self, attempt: u32) -> Duration {
        let idx = attempt.saturating_sub(1) as usize;
        let secs = self
            .backoff_s
            .get(idx)
            .or(self.backoff_s.last())
            .copied()
            .unwrap_or(0);
        Duration::from_secs(secs)
    }
}

/// One unit of work as a worker sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// Queue-level id, readable: `<task>_<job_id>` or `parse_batch_<i>_<job_id>` (see [`Envelope::make_id`]).
    /// Enqueueing an id that is still queued, scheduled or running is a no-op.
    pub id: String,
    /// Id of the `tasks` row this execution moves (chosen by the caller).
    pub task_id: Uuid,
    /// Task wire name ([`TaskSpec::name`]).
    pub task: String,
    /// Pipeline job this task belongs to, if any.
    pub job_id: Option<Uuid>,
    /// Batch number for fan-out tasks (`parse_batch`).
    pub batch_index: Option<u32>,
    /// 1-based number of this execution; 0 in an envelope not yet claimed.
    pub attempt: u32,
    /// Task arguments (a JSON object; RQ's kwargs).
    pub payload: serde_json::Value,
    /// W3C trace context of the request that caused the task, so one upload is one trace.
    pub traceparent: Option<String>,
    /// When the task was (last) put on its queue.
    pub enqueued_at: DateTime<Utc>,
}

impl Envelope {
    /// A new envelope for `spec`, with its readable id, attempt 0 and `enqueued_at` now.
    pub fn new(
        spec: &TaskSpec,
        task_id: Uuid,
        job_id: Option<Uuid>,
        batch_index: Option<u32>,
        payload: serde_json::Value,
    ) -> Self {
        Self {
            id: Self::make_id(spec.name, task_id, job_id, batch_index),
            task_id,
            task: spec.name.to_string(),
            job_id,
            batch_index,
            attempt: 0,
            payload,
            traceparent: None,
            enqueued_at: Utc::now(),
        }
    }

    /// Sets the trace context carried to the worker.
    pub fn with_traceparent(mut self, traceparent: Option<String>) -> Self {
        self.traceparent = traceparent;
        self
    }

    /// The readable queue id: `<task>_<job_id>`, `<task>_<i>_<job_id>` with a batch index
    /// (`parse_batch_3_<job_id>`), or `<task>_<task_id>` for a task without a job.
    pub fn make_id(
        task: &str,
        task_id: Uuid,
        job_id: Option<Uuid>,
        batch_index: Option<u32>,
    ) -> String {
        let owner = job_id.unwrap_or(task_id);
        match batch_index {
            Some(i) => format!("{task}_{i}_{owner}"),
            None => format!("{task}_{owner}"),
        }
    }

    /// Deserialises the payload; a payload that does not fit is a [`TaskError::Fail`]
    /// (retrying cannot fix it).
    pub fn payload_as<T: DeserializeOwned>(&self) -> Result<T, TaskError> {
        serde_json::from_value(self.payload.clone())
            .map_err(|e| TaskError::Fail(format!("bad payload for {}: {e}", self.task)))
    }
}

/// How a task failed: worth another attempt, or not.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaskError {
    /// Transient (network, database busy, lost lease): run again after the backoff while
    /// attempts remain. A panic inside a handler is a `Retry` too.
    #[error("{0}")]
    Retry(String),
    /// Permanent (bad input, unsafe zip): fail now, no more attempts.
    #[error("{0}")]
    Fail(String),
}

impl TaskError {
    /// True for [`TaskError::Retry`].
    pub fn is_retry(&self) -> bool {
        matches!(self, TaskError::Retry(_))
    }

    /// The message without the kind.
    pub fn message(&self) -> &str {
        match self {
            TaskError::Retry(m) | TaskError::Fail(m) => m,
        }
    }
}

/// A plain `?` on an `anyhow::Error` means "retry".
impl From<anyhow::Error> for TaskError {
    fn from(e: anyhow::Error) -> Self {
        TaskError::Retry(format!("{e:#}"))
    }
}

/// Marks any error as retryable or fatal at the call site: `db.load(id).await.retryable()?`.
pub trait TaskResultExt<T> {
    /// Error → [`TaskError::Retry`].
    fn retryable(self) -> Result<T, TaskError>;
    /// Error → [`TaskError::Fail`].
    fn fatal(self) -> Result<T, TaskError>;
}

impl<T, E: fmt::Display> TaskResultExt<T> for Result<T, E> {
    fn retryable(self) -> Result<T, TaskError> {
        self.map_err(|e| TaskError::Retry(format!("{e:#}")))
    }

    fn fatal(self) -> Result<T, TaskError> {
        self.map_err(|e| TaskError::Fail(format!("{e:#}")))
    }
}

/// A task handler: takes the context and the envelope, returns a boxed future.
pub type TaskHandler<C> =
    Arc<dyn Fn(C, Envelope) -> BoxFuture<'static, Result<(), TaskError>> + Send + Sync>;

/// The single table of task types a worker can run: wire name → (spec, handler).
pub struct Registry<C> {
    entries: HashMap<&'static str, (TaskSpec, TaskHandler<C>)>,
}

impl<C> fmt::Debug for Registry<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<_> = self.entries.keys().collect();
        names.sort();
        f.debug_struct("Registry").field("tasks", &names).finish()
    }
}

impl<C> Default for Registry<C> {
    fn default() -> Self {
        Self {
            entries: HashMap::new(),
        }
    }
}

impl<C: Clone + Send + Sync + 'static> Registry<C> {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `handler` for `spec.name`. Registering a name twice is an error (two task
    /// types would share a wire name).
    pub fn register<F, Fut>(&mut self, spec: TaskSpec, handler: F) -> Result<(), QueueError>
    where
        F: Fn(C, Envelope) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), TaskError>> + Send + 'static,
    {
        if self.entries.contains_key(spec.name) {
            return Err(QueueError::DuplicateTask(spec.name.to_string()));
        }
        let handler: TaskHandler<C> = Arc::new(move |ctx, env| Box::pin(handler(ctx, env)));
        self.entries.insert(spec.name, (spec, handler));
        Ok(())
    }

    /// Spec and handler of a task name.
    pub fn get(&self, name: &str) -> Option<&(TaskSpec, TaskHandler<C>)> {
        self.entries.get(name)
    }

    /// Spec of a task name (for producers).
    pub fn spec(&self, name: &str) -> Option<&TaskSpec> {
        self.entries.get(name).map(|(s, _)| s)
    }

    /// Registered names, sorted.
    pub fn names(&self) -> Vec<&'static str> {
        let mut names: Vec<_> = self.entries.keys().copied().collect();
        names.sort_unstable();
        names
    }

    /// Number of task types.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no task type is registered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Callbacks the worker runs around each execution, so the caller can move its `tasks` rows
/// and fail jobs without the queue knowing about the database.
///
/// Every method has a default that does nothing. `env.attempt` is the 1-based attempt.
/// - `on_started` runs before the handler; an error skips the handler and counts as that error.
/// - `on_done` runs after the handler succeeded; an error turns the success into that error
///   (the task runs again, which is safe because tasks are idempotent).
/// - `on_retry` runs once the task is rescheduled (also for a task recovered from a dead
///   worker, and for one handed back on shutdown, with `next_at` = now).
/// - `on_failed` runs once the task is finally failed (retries exhausted, `Fail`, unknown task).
///
/// Errors of `on_retry`/`on_failed` are logged; the queue state has already moved.
///
/// `reconcile` runs in every worker's maintenance loop (about every
/// [`super::worker::RECONCILE_EVERY`]): the place to repair the queue from the caller's own
/// records (Postgres is the truth; Redis can lose its data).
#[async_trait::async_trait]
pub trait Hooks<C>: Send + Sync + 'static
where
    C: Send + Sync + 'static,
{
    /// Before the handler.
    async fn on_started(&self, _ctx: &C, _env: &Envelope) -> Result<(), TaskError> {
        Ok(())
    }

    /// After a successful handler.
    async fn on_done(&self, _ctx: &C, _env: &Envelope) -> Result<(), TaskError> {
        Ok(())
    }

    /// After the task was rescheduled for `next_at`.
    async fn on_retry(
        &self,
        _ctx: &C,
        _env: &Envelope,
        _err: &TaskError,
        _next_at: DateTime<Utc>,
    ) -> Result<(), TaskError> {
        Ok(())
    }

    /// After the task was failed for good.
    async fn on_failed(
        &self,
        _ctx: &C,
        _env: &Envelope,
        _err: &TaskError,
    ) -> Result<(), TaskError> {
        Ok(())
    }

    /// Which dependency (database, Redis, object store) cannot be reached right now, if any,
    /// as a message naming it. The worker asks after a retryable failure: a failure while a
    /// dependency is down is not the task's own, so it waits for the dependency and hands the
    /// task back without spending an attempt.
    async fn unavailable(&self, _ctx: &C) -> Option<String> {
        None
    }

    /// Periodic repair of the queue from the caller's records; returns what it repaired
    /// (for the log).
    async fn reconcile(&self, _ctx: &C) -> Result<usize, TaskError> {
        Ok(0)
    }
}

/// Hooks that do nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHooks;

impl<C: Send + Sync + 'static> Hooks<C> for NoHooks {}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: TaskSpec = TaskSpec {
        name: "parse_batch",
        queue: "normal",
        max_attempts: 4,
        backoff_s: &[30, 60, 120],
    };

    #[test]
    fn ids_are_readable() {
        let job = Uuid::new_v4();
        let env = Envelope::new(
            &SPEC,
            Uuid::new_v4(),
            Some(job),
            Some(3),
            serde_json::json!({}),
        );
        assert_eq!(env.id, format!("parse_batch_3_{job}"));
        let t = Uuid::new_v4();
        assert_eq!(
            Envelope::make_id("ingest", t, Some(job), None),
            format!("ingest_{job}")
        );
        assert_eq!(
            Envelope::make_id("ingest", t, None, None),
            format!("ingest_{t}")
        );
    }

    #[test]
    fn backoff_repeats_last() {
        assert_eq!(SPEC.backoff_after(1), Duration::from_secs(30));
        assert_eq!(SPEC.backoff_after(3), Duration::from_secs(120));
        assert_eq!(SPEC.backoff_after(9), Duration::from_secs(120));
        let none = TaskSpec {
            backoff_s: &[],
            ..SPEC
        };
        assert_eq!(none.backoff_after(1), Duration::ZERO);
    }

    #[test]
    fn result_ext_marks_kind() {
        let r: Result<(), std::io::Error> = Err(std::io::Error::other("disk"));
        assert_eq!(r.retryable(), Err(TaskError::Retry("disk".into())));
        let r: Result<(), &str> = Err("bad zip");
        assert_eq!(r.fatal(), Err(TaskError::Fail("bad zip".into())));
    }

    #[test]
    fn registry_rejects_duplicates() {
        let mut reg: Registry<()> = Registry::new();
        reg.register(SPEC, |_, _| async { Ok(()) }).expect("first");
        assert!(reg.register(SPEC, |_, _| async { Ok(()) }).is_err());
        assert_eq!(reg.names(), vec!["parse_batch"]);
    }
}
