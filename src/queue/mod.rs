//! Task queues and the worker runtime (docs/operations.md#queues-and-keys).
//!
//! Two backends behind one worker runtime:
//! - [`RedisBackend`]: Redis lists in Python RQ 3.x's key layout with JSON job data, so
//!   `redis-cli LLEN rq:queue:high` and RQ's own `rq info` show provis's queues, workers and
//!   counts. Claims, finishes, retries and recovery are atomic Lua scripts; workers heartbeat
//!   their `rq:worker:<name>` hash and the wip score of the running job; a sweep hands work of a
//!   dead worker to another one once its lease lapses.
//! - [`LocalBackend`]: in-process for embedded mode, durable through a [`TaskStore`]
//!   (`tasks::store::DbTaskStore` over the `tasks` table; `MemoryTaskStore`, built with the
//!   `test-support` feature, serves the queue tests). Enqueue wakes idle workers at once through a shared `Notify`.
//!
//! The task framework ([`TaskSpec`], [`Envelope`], [`TaskError`], [`Registry`], [`Hooks`]) is
//! generic over a context type, so this module knows nothing about the database or artifacts.
//!
//! Delivery is at least once: a task may run again after a worker died or lost its lease, so
//! every task must be idempotent.
//!
//! # Wiring
//! ```text
//! let mut registry = Registry::<AppContext>::new();
//! registry.register(INGEST, |ctx, env| async move { … })?;          // one line per task type
//! let backend: QueueBackend = RedisBackend::connect(url, "rq").await?.into();
//! //   or LocalBackend::new(Arc::new(DbTaskStore::new(db))).into() in embedded mode
//! backend.enqueue(&INGEST, &Envelope::new(&INGEST, task_row_id, Some(job_id), None, payload)).await?;
//! Worker::new(backend.clone(), registry, ctx, WorkerOptions::from_config(&cfg, None))
//!     .with_hooks(Arc::new(TaskRows::new(&ctx, name)))
//!     .run(shutdown_token)
//!     .await?;
//! ```
//! In embedded mode the API and the workers must share one [`LocalBackend`] (clones), so an
//! enqueue wakes the workers.

#[cfg(any(test, feature = "test-support"))]
pub mod diag;
pub mod keys;
pub mod local;
#[cfg(any(test, feature = "test-support"))]
mod memory_store;
pub mod rq;
pub mod task;
pub mod worker;

use chrono::{DateTime, Utc};

pub use keys::Keys;
pub use local::{LocalBackend, TaskState, TaskStore};
#[cfg(any(test, feature = "test-support"))]
pub use memory_store::{MemoryTaskStore, StoredTask};
pub use rq::{ClaimOutcome, RedisBackend};
pub use task::{
    Envelope, Hooks, NoHooks, Registry, TaskError, TaskHandler, TaskResultExt, TaskSpec,
};
pub use worker::{Worker, WorkerOptions, WorkerStats};

/// Environment variable that makes `provis work` register the diagnostic tasks of
/// `queue::diag` (tests and the queue benchmark). Read here, outside that module, so a build
/// without them can say so instead of ignoring the request.
pub const DIAG_ENV: &str = "PROVIS_DIAG_TASKS";

/// Whether [`DIAG_ENV`] asks for the diagnostic tasks (`1`, `true`, `yes`).
pub fn diag_requested() -> bool {
    matches!(
        std::env::var(DIAG_ENV).as_deref(),
        Ok("1") | Ok("true") | Ok("yes")
    )
}

/// Errors of the queue and its backends.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// Redis could not be reached or refused a command.
    #[error("redis: {0}")]
    Redis(deadpool_redis::redis::RedisError),
    /// The task store (the `tasks` table in embedded mode) failed. The store's own error is
    /// kept, typed (`downcast_ref::<DbError>()`), as the queue does not know the database's
    /// error type; like `Redis`, it is in the message, not `source()`, so `{:#}` chains read once.
    #[error("task store: {0}")]
    Store(crate::error::BoxError),
    /// Two task types registered under one wire name.
    #[error("task {0:?} is registered twice")]
    DuplicateTask(String),
    /// A key prefix RQ would not accept.
    #[error("{0}")]
    InvalidPrefix(String),
    /// Another live worker already uses this name (RQ refuses the same).
    #[error("a live worker named {0:?} is already registered")]
    WorkerExists(String),
    /// Worker options that cannot work (no queue, no slot).
    #[error("invalid worker options: {0}")]
    InvalidOptions(String),
    /// Redis answered a script with something unexpected.
    #[error("unexpected reply from redis: {0}")]
    Protocol(String),
}

/// The queue's backend (Redis, or the task store) being down is a 503 naming the queue; the
/// other errors are misconfigurations or bugs (500).
impl crate::error::Coded for QueueError {
    fn code(&self) -> crate::error::ErrorCode {
        match self {
            QueueError::Redis(_) | QueueError::Store(_) => crate::error::ErrorCode::Unavailable,
            _ => crate::error::ErrorCode::Internal,
        }
    }
    fn dependency(&self) -> &'static str {
        "queue"
    }
}

impl QueueError {
    /// A task store failure with a message of its own (no underlying error).
    pub fn store(message: impl Into<String>) -> Self {
        QueueError::Store(message.into().into())
    }
}

// Not `#[from]`: the message already carries the cause, so `{:#}` chains stay readable.
impl From<deadpool_redis::redis::RedisError> for QueueError {
    fn from(e: deadpool_redis::redis::RedisError) -> Self {
        QueueError::Redis(e)
    }
}

/// A task a worker holds: the envelope plus what its backend needs to settle it.
#[derive(Debug, Clone)]
pub struct Claim {
    /// What to run; `attempt` is this execution's number.
    pub env: Envelope,
    /// Queue it came from.
    pub queue: String,
    /// RQ execution id (the wip member is `<id>:<execution_id>`); empty for the local backend.
    pub execution_id: String,
    /// Name of the worker (slot) holding it.
    pub worker: String,
    /// When this execution started.
    pub started_at: DateTime<Utc>,
}

impl Claim {
    /// The `rq:wip:<queue>` member of this execution.
    pub fn wip_member(&self) -> String {
        format!("{}:{}", self.env.id, self.execution_id)
    }
}

/// How an execution ended, as the worker reports it to the backend.
#[derive(Debug, Clone, PartialEq)]
pub enum Completion {
    /// Success.
    Done,
    /// Run again at `next_at` (the backend fails it instead when no retry is left).
    Retry {
        /// Why it failed.
        error: TaskError,
        /// When to run again.
        next_at: DateTime<Utc>,
    },
    /// Failed for good.
    Fail {
        /// Why.
        error: TaskError,
    },
    /// Not finished (worker stopping): back to the front of its queue, no attempt spent.
    HandBack,
}

/// What the backend actually did with a [`Completion`].
#[derive(Debug, Clone, PartialEq)]
pub enum Disposition {
    /// Recorded as finished.
    Done,
    /// Rescheduled.
    Retried {
        /// When it runs again.
        next_at: DateTime<Utc>,
    },
    /// Failed for good (also a retry that found no retry left).
    Failed,
    /// Back on its queue.
    HandedBack,
    /// The lease had lapsed and the task was already recovered by someone else; nothing changed.
    Lost,
}

/// The queue of work a user waits on (ingest, finalize).
pub const HIGH: &str = "high";
/// The queue of the pipeline's bulk work.
pub const NORMAL: &str = "normal";
/// The queue of work nobody waits on (LLM summaries).
pub const LOW: &str = "low";
/// Every queue, in the priority order workers take from them by default.
pub const QUEUES: [&str; 3] = [HIGH, NORMAL, LOW];

/// The queue a process talks to: Redis (cluster) or in-process (embedded).
#[derive(Debug, Clone)]
pub enum QueueBackend {
    /// Redis in the RQ layout.
    Redis(RedisBackend),
    /// In-process over a [`TaskStore`].
    Local(LocalBackend),
}

impl QueueBackend {
    /// Tasks waiting on `queue` (for the `provis_queue_size` gauge).
    pub async fn queue_len(&self, queue: &str) -> Result<u64, QueueError> {
        match self {
            QueueBackend::Redis(r) => r.queue_len(queue).await,
            QueueBackend::Local(l) => l.queue_len(queue).await,
        }
    }

    /// Puts `env` on `spec.queue`. Returns false (and changes nothing) when a task with the same
    /// id (Redis: `env.id`; local: `env.task_id`) is still queued, scheduled or running.
    pub async fn enqueue(&self, spec: &TaskSpec, env: &Envelope) -> Result<bool, QueueError> {
        match self {
            QueueBackend::Redis(r) => r.enqueue(spec, env).await,
            QueueBackend::Local(l) => l.enqueue(spec, env).await,
        }
    }
}

impl From<RedisBackend> for QueueBackend {
    fn from(b: RedisBackend) -> Self {
        QueueBackend::Redis(b)
    }
}

impl From<LocalBackend> for QueueBackend {
    fn from(b: LocalBackend) -> Self {
        QueueBackend::Local(b)
    }
}
