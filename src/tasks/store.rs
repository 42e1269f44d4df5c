//! The embedded queue's durable store: the `tasks` table.
//!
//! In embedded mode the in-process queue keeps every task as a `tasks` row, so a process
//! killed mid-job finds its work again at the next start (running rows whose lease lapsed go
//! back to queued). The row's `payload` column holds the whole envelope.
//!
//! One deliberate difference from the in-memory store: enqueueing a task whose row is already
//! `done` does not run it again — pipeline tasks are idempotent and their ids are derived
//! from (job, name, batch), so a done row means the work is done.

use crate::db::{Db, NewTask, TaskState};
use crate::queue::{Envelope, QueueError, TaskStore};
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// [`TaskStore`] over the database.
#[derive(Clone)]
pub struct DbTaskStore {
    db: Db,
}

impl DbTaskStore {
    /// A store on `db`.
    pub fn new(db: Db) -> Self {
        Self { db }
    }
}

fn err(e: crate::db::DbError) -> QueueError {
    QueueError::Store(Box::new(e))
}

/// The row that stores `env` on `queue`.
fn new_task(
    env: &Envelope,
    queue: &str,
    max_attempts: u32,
    available_at: DateTime<Utc>,
) -> Result<NewTask, QueueError> {
    let payload = serde_json::to_value(env).map_err(|e| QueueError::Store(Box::new(e)))?;
    Ok(NewTask {
        id: env.task_id,
        job_id: env.job_id,
        name: env.task.clone(),
        batch_index: env.batch_index.map(|i| i as i32),
        queue: queue.to_string(),
        max_attempts: max_attempts as i32,
        payload,
        available_at: Some(available_at),
    })
}

/// The row of a task as stored in `payload`.
fn envelope_of(task: &crate::db::Task) -> Result<Envelope, QueueError> {
    let mut env: Envelope = serde_json::from_value(task.payload.clone())
        .map_err(|e| QueueError::store(format!("task {} has a corrupt envelope: {e}", task.id)))?;
    env.attempt = task.attempt.max(0) as u32;
    Ok(env)
}

#[async_trait::async_trait]
impl TaskStore for DbTaskStore {
    async fn insert(
        &self,
        env: &Envelope,
        queue: &str,
        max_attempts: u32,
        available_at: DateTime<Utc>,
    ) -> Result<bool, QueueError> {
        let row = self
            .db
            .insert_task(new_task(env, queue, max_attempts, available_at)?)
            .await
            .map_err(err)?;
        Ok(row.state == TaskState::Queued && row.attempt == 0)
    }

    async fn insert_many(
        &self,
        envs: &[Envelope],
        queue: &str,
        max_attempts: u32,
        available_at: DateTime<Utc>,
    ) -> Result<usize, QueueError> {
        let mut rows = Vec::with_capacity(envs.len());
        for env in envs {
            rows.push(new_task(env, queue, max_attempts, available_at)?);
        }
        self.db.insert_tasks(rows).await.map_err(err)
    }

    async fn claim_next(
        &self,
        queues: &[String],
        worker: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<(Envelope, String)>, QueueError> {
        let names: Vec<&str> = queues.iter().map(String::as_str).collect();
        let Some(task) = self
            .db
            .claim_next_task(&names, worker, lease_until)
            .await
            .map_err(err)?
        else {
            return Ok(None);
        };
        Ok(Some((envelope_of(&task)?, task.queue)))
    }

    async fn renew(&self, task_id: Uuid, lease_until: DateTime<Utc>) -> Result<(), QueueError> {
        // The worker name is checked by the row itself: a task taken over by another worker
        // (after this one lost its lease) is simply not renewed.
        let worker = self
            .db
            .get_task(task_id)
            .await
            .map_err(err)?
            .and_then(|t| t.worker)
            .unwrap_or_default();
        self.db
            .renew_lease(task_id, &worker, lease_until)
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn done(&self, task_id: Uuid) -> Result<(), QueueError> {
        self.db
            .task_finished(task_id, TaskState::Done, None)
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn failed(&self, task_id: Uuid, error: &str) -> Result<(), QueueError> {
        self.db
            .task_finished(task_id, TaskState::Failed, Some(error))
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn requeue(
        &self,
        task_id: Uuid,
        available_at: DateTime<Utc>,
        error: &str,
    ) -> Result<(), QueueError> {
        self.db
            .task_requeue(task_id, available_at, Some(error))
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn requeue_expired(&self, now: DateTime<Utc>) -> Result<usize, QueueError> {
        self.db.requeue_expired_leases(now).await.map_err(err)
    }

    async fn has_pending(&self, queues: &[String]) -> Result<bool, QueueError> {
        let names: Vec<&str> = queues.iter().map(String::as_str).collect();
        Ok(self
            .db
            .next_available_at(&names)
            .await
            .map_err(err)?
            .is_some())
    }

    async fn queued(&self, queue: &str) -> Result<u64, QueueError> {
        Ok(self
            .db
            .count_tasks(queue, TaskState::Queued)
            .await
            .map_err(err)? as u64)
    }
}
