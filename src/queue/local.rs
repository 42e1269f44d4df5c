//! The in-process backend of embedded mode, durable through a [`TaskStore`].
//!
//! The store is the `tasks` table (`tasks::store::DbTaskStore` implements [`TaskStore`] over
//! the database's `claim_next_task`, `task_started`, `task_finished`, `task_requeue` and
//! `requeue_expired_leases`); `MemoryTaskStore` (feature `test-support`) is the same contract
//! in memory for tests.
//! Enqueue wakes idle workers of the process at once through a shared [`Notify`]; retries that
//! become due later are picked up by a short poll.
//!
//! Restart: embedded mode has one process per data directory, so every task still `running`
//! when a process starts belonged to a process that died. [`LocalBackend::recover_on_startup`]
//! (called once by the first [`super::Worker::run`]) puts them back on their queue, and the
//! interrupted job finishes after the restart.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, OnceCell};
use uuid::Uuid;

use super::task::{Envelope, TaskSpec};
use super::{Claim, Completion, Disposition, QueueError};

/// State of a task row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskState {
    /// Waiting (possibly until `available_at`).
    Queued,
    /// Claimed by a worker, leased until `lease_until`.
    Running,
    /// Finished.
    Done,
    /// Failed for good.
    Failed,
}

/// Durable storage of in-process tasks (the `tasks` table in embedded mode).
///
/// Contract (the worker relies on it):
/// - `insert` is idempotent on `env.task_id`: a row that is queued or running is left alone
///   (returns false); a done or failed row is re-armed as a fresh task (attempt 0).
/// - `claim_next` atomically takes the oldest available (`available_at <= now`) queued row of
///   the first queue in `queues` that has one, sets it running with `worker` and
///   `lease_until`, increments `attempt`, and returns its envelope (with that attempt) and
///   its queue.
/// - `requeue` puts a row back to queued at `available_at` (attempt unchanged), keeping `error`.
/// - `requeue_expired(now)` puts every running row whose lease ended before `now` back to
///   queued and returns how many.
/// - `has_pending(queues)` is true while a queued row (due or not) exists on those queues.
#[async_trait::async_trait]
pub trait TaskStore: Send + Sync + 'static {
    /// Stores a new queued task.
    async fn insert(
        &self,
        env: &Envelope,
        queue: &str,
        max_attempts: u32,
        available_at: DateTime<Utc>,
    ) -> Result<bool, QueueError>;
    /// Stores many new queued tasks of one queue, as [`TaskStore::insert`] does each; returns
    /// how many were new. Stores that can should do it in one transaction.
    async fn insert_many(
        &self,
        envs: &[Envelope],
        queue: &str,
        max_attempts: u32,
        available_at: DateTime<Utc>,
    ) -> Result<usize, QueueError> {
        let mut inserted = 0;
        for env in envs {
            inserted += usize::from(self.insert(env, queue, max_attempts, available_at).await?);
        }
        Ok(inserted)
    }
    /// Claims the next task (see the trait docs): (envelope, queue).
    async fn claim_next(
        &self,
        queues: &[String],
        worker: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<(Envelope, String)>, QueueError>;
    /// Extends the lease of a running task.
    async fn renew(&self, task_id: Uuid, lease_until: DateTime<Utc>) -> Result<(), QueueError>;
    /// Marks a task done.
    async fn done(&self, task_id: Uuid) -> Result<(), QueueError>;
    /// Marks a task failed for good.
    async fn failed(&self, task_id: Uuid, error: &str) -> Result<(), QueueError>;
    /// Puts a task back on its queue, available at `available_at`.
    async fn requeue(
        &self,
        task_id: Uuid,
        available_at: DateTime<Utc>,
        error: &str,
    ) -> Result<(), QueueError>;
    /// Requeues running tasks whose lease ended before `now`.
    async fn requeue_expired(&self, now: DateTime<Utc>) -> Result<usize, QueueError>;
    /// True while queued tasks exist on `queues` (due now or later).
    async fn has_pending(&self, queues: &[String]) -> Result<bool, QueueError>;
    /// Tasks queued on `queue` (waiting or scheduled for later), for the queue-size gauge.
    async fn queued(&self, queue: &str) -> Result<u64, QueueError>;
}

/// A lease bound later than any real lease that every backend stores and compares
/// correctly (9999-12-31T23:59:59Z: a four-digit year, inside Postgres' range).
const END_OF_TIME: DateTime<Utc> = match DateTime::from_timestamp(253_402_300_799, 0) {
    Some(t) => t,
    None => DateTime::<Utc>::MAX_UTC,
};

/// In-process queue backend. Clones share the store and the wake-up signal.
#[derive(Clone)]
pub struct LocalBackend {
    store: Arc<dyn TaskStore>,
    notify: Arc<Notify>,
    recovered: Arc<OnceCell<usize>>,
}

impl std::fmt::Debug for LocalBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalBackend").finish_non_exhaustive()
    }
}

impl LocalBackend {
    /// Tasks queued on `queue`.
    pub async fn queue_len(&self, queue: &str) -> Result<u64, QueueError> {
        self.store.queued(queue).await
    }

    /// A backend over `store`.
    pub fn new(store: Arc<dyn TaskStore>) -> Self {
        Self {
            store,
            notify: Arc::new(Notify::new()),
            recovered: Arc::new(OnceCell::new()),
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn TaskStore> {
        &self.store
    }

    /// The signal enqueue fires to wake idle workers.
    pub fn notifier(&self) -> &Arc<Notify> {
        &self.notify
    }

    /// Stores the task and wakes idle workers. False when the task is already queued/running.
    pub async fn enqueue(&self, spec: &TaskSpec, env: &Envelope) -> Result<bool, QueueError> {
        let inserted = self
            .store
            .insert(env, spec.queue, spec.max_attempts, Utc::now())
            .await?;
        if inserted {
            self.notify.notify_waiters();
        }
        Ok(inserted)
    }

    /// Stores many tasks of `spec` at once and wakes idle workers; returns how many were new.
    pub async fn enqueue_many(
        &self,
        spec: &TaskSpec,
        envs: &[Envelope],
    ) -> Result<usize, QueueError> {
        let inserted = self
            .store
            .insert_many(envs, spec.queue, spec.max_attempts, Utc::now())
            .await?;
        if inserted > 0 {
            self.notify.notify_waiters();
        }
        Ok(inserted)
    }

    /// Once per backend (and its clones): requeues every task left running by a previous
    /// process. Later calls wait for the first and return its count.
    pub async fn recover_on_startup(&self) -> Result<usize, QueueError> {
        let n = self
            .recovered
            .get_or_try_init(|| async {
                // Every running row belongs to a dead process (one process per data dir), so
                // "expired before the end of time" selects them all. Not `MAX_UTC`: its
                // six-digit year sorts before every real time in SQLite's text timestamps.
                self.store.requeue_expired(END_OF_TIME).await
            })
            .await?;
        Ok(*n)
    }

    /// Claims the next task for `worker`.
    pub async fn claim(
        &self,
        worker: &str,
        queues: &[String],
        lease: std::time::Duration,
    ) -> Result<Option<Claim>, QueueError> {
        let now = Utc::now();
        let lease_until = now + lease;
        let Some((env, queue)) = self.store.claim_next(queues, worker, lease_until).await? else {
            return Ok(None);
        };
        Ok(Some(Claim {
            env,
            queue,
            execution_id: String::new(),
            worker: worker.to_string(),
            started_at: now,
        }))
    }

    /// Settles an execution in the store.
    pub async fn complete(
        &self,
        claim: &Claim,
        outcome: &Completion,
    ) -> Result<Disposition, QueueError> {
        let id = claim.env.task_id;
        match outcome {
            Completion::Done => {
                self.store.done(id).await?;
                Ok(Disposition::Done)
            }
            Completion::Retry { error, next_at } => {
                self.store.requeue(id, *next_at, error.message()).await?;
                Ok(Disposition::Retried { next_at: *next_at })
            }
            Completion::Fail { error } => {
                self.store.failed(id, error.message()).await?;
                Ok(Disposition::Failed)
            }
            Completion::HandBack => {
                self.store
                    .requeue(id, Utc::now(), "handed back: worker stopping")
                    .await?;
                self.notify.notify_waiters();
                Ok(Disposition::HandedBack)
            }
        }
    }
}
