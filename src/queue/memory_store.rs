//! [`TaskStore`] in memory: the reference of the contract and the store of the queue tests.
//!
//! Test support only (feature `test-support`, on for `cargo test`): embedded mode stores
//! tasks in the database (`tasks::store::DbTaskStore`), and a release build leaves this out.

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::local::{TaskState, TaskStore};
use super::task::Envelope;
use super::QueueError;

/// A task row of [`MemoryTaskStore`].
#[derive(Debug, Clone)]
pub struct StoredTask {
    /// Envelope as inserted (attempt = tries so far).
    pub env: Envelope,
    /// Queue.
    pub queue: String,
    /// State.
    pub state: TaskState,
    /// Executions started so far.
    pub attempt: u32,
    /// Executions allowed.
    pub max_attempts: u32,
    /// Not claimable before this.
    pub available_at: DateTime<Utc>,
    /// Lease of a running task.
    pub lease_until: Option<DateTime<Utc>>,
    /// Worker holding it.
    pub worker: Option<String>,
    /// Last error.
    pub error: Option<String>,
    seq: u64,
}

/// [`TaskStore`] in memory, for tests and as the reference of the contract.
#[derive(Debug, Default)]
pub struct MemoryTaskStore {
    rows: Mutex<(u64, Vec<StoredTask>)>,
}

impl MemoryTaskStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (u64, Vec<StoredTask>)> {
        // Poisoning only follows a panic in another test thread; the data is still usable.
        self.rows
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A copy of one row.
    pub fn get(&self, task_id: Uuid) -> Option<StoredTask> {
        self.lock()
            .1
            .iter()
            .find(|r| r.env.task_id == task_id)
            .cloned()
    }

    /// A copy of every row, in insertion order.
    pub fn rows(&self) -> Vec<StoredTask> {
        self.lock().1.clone()
    }

    fn with_row<T>(
        &self,
        task_id: Uuid,
        f: impl FnOnce(&mut StoredTask) -> T,
    ) -> Result<T, QueueError> {
        let mut g = self.lock();
        let row =
            g.1.iter_mut()
                .find(|r| r.env.task_id == task_id)
                .ok_or_else(|| QueueError::store(format!("no task {task_id}")))?;
        Ok(f(row))
    }
}

#[async_trait::async_trait]
impl TaskStore for MemoryTaskStore {
    async fn insert(
        &self,
        env: &Envelope,
        queue: &str,
        max_attempts: u32,
        available_at: DateTime<Utc>,
    ) -> Result<bool, QueueError> {
        let mut g = self.lock();
        g.0 += 1;
        let seq = g.0;
        let fresh = StoredTask {
            env: env.clone(),
            queue: queue.to_string(),
            state: TaskState::Queued,
            attempt: 0,
            max_attempts,
            available_at,
            lease_until: None,
            worker: None,
            error: None,
            seq,
        };
        if let Some(row) = g.1.iter_mut().find(|r| r.env.task_id == env.task_id) {
            if matches!(row.state, TaskState::Queued | TaskState::Running) {
                return Ok(false);
            }
            *row = fresh;
            return Ok(true);
        }
        g.1.push(fresh);
        Ok(true)
    }

    async fn claim_next(
        &self,
        queues: &[String],
        worker: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<(Envelope, String)>, QueueError> {
        let now = Utc::now();
        let mut g = self.lock();
        for q in queues {
            let pick = g
                .1
                .iter_mut()
                .filter(|r| r.state == TaskState::Queued && &r.queue == q && r.available_at <= now)
                .min_by_key(|r| (r.available_at, r.seq));
            if let Some(row) = pick {
                row.state = TaskState::Running;
                row.attempt += 1;
                row.lease_until = Some(lease_until);
                row.worker = Some(worker.to_string());
                let mut env = row.env.clone();
                env.attempt = row.attempt;
                return Ok(Some((env, row.queue.clone())));
            }
        }
        Ok(None)
    }

    async fn renew(&self, task_id: Uuid, lease_until: DateTime<Utc>) -> Result<(), QueueError> {
        self.with_row(task_id, |r| {
            if r.state == TaskState::Running {
                r.lease_until = Some(lease_until);
            }
        })
    }

    async fn done(&self, task_id: Uuid) -> Result<(), QueueError> {
        self.with_row(task_id, |r| {
            r.state = TaskState::Done;
            r.lease_until = None;
        })
    }

    async fn failed(&self, task_id: Uuid, error: &str) -> Result<(), QueueError> {
        self.with_row(task_id, |r| {
            r.state = TaskState::Failed;
            r.lease_until = None;
            r.error = Some(error.to_string());
        })
    }

    async fn requeue(
        &self,
        task_id: Uuid,
        available_at: DateTime<Utc>,
        error: &str,
    ) -> Result<(), QueueError> {
        self.with_row(task_id, |r| {
            r.state = TaskState::Queued;
            r.available_at = available_at;
            r.lease_until = None;
            r.worker = None;
            r.error = Some(error.to_string());
        })
    }

    async fn requeue_expired(&self, now: DateTime<Utc>) -> Result<usize, QueueError> {
        let mut g = self.lock();
        let mut n = 0;
        for r in g.1.iter_mut() {
            if r.state == TaskState::Running && r.lease_until.is_none_or(|l| l < now) {
                r.state = TaskState::Queued;
                r.available_at = Utc::now();
                r.lease_until = None;
                r.worker = None;
                r.error = Some("worker lost: lease expired".to_string());
                n += 1;
            }
        }
        Ok(n)
    }

    async fn has_pending(&self, queues: &[String]) -> Result<bool, QueueError> {
        Ok(self
            .lock()
            .1
            .iter()
            .any(|r| r.state == TaskState::Queued && queues.contains(&r.queue)))
    }

    async fn queued(&self, queue: &str) -> Result<u64, QueueError> {
        Ok(self
            .lock()
            .1
            .iter()
            .filter(|r| r.state == TaskState::Queued && r.queue == queue)
            .count() as u64)
    }
}
