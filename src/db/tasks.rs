//! Task rows: the execution record of every task, and the durable embedded queue.
//!
//! # Embedded queue protocol
//! 1. [`Db::insert_task`] puts a `queued` row (idempotent on its id, see [`super::task_id`]).
//! 2. A worker calls [`Db::claim_next_task`] with its queues in priority order; the claim is
//!    one atomic `UPDATE … WHERE id = (SELECT … LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING` on
//!    Postgres; on SQLite a read of the candidate, then `UPDATE … WHERE id = ? AND state =
//!    'queued' RETURNING`. Either way two claimers never get the same row. The row becomes
//!    `running`, `attempt + 1`, with the worker's name and a lease.
//! 3. While it runs, the worker calls [`Db::renew_lease`]; at the end [`Db::task_finished`]
//!    (`done`/`failed`) or [`Db::task_requeue`] (retry with backoff).
//! 4. [`Db::requeue_expired_leases`] (at start-up and periodically) puts `running` rows whose
//!    lease lapsed back to `queued`, so killing the process mid-task loses nothing.
//!
//! A claimed task may have `attempt > max_attempts` when its worker died during the final
//! try; the caller should then fail it instead of running it again.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use uuid::Uuid;

use super::models::{NewTask, Task, TaskInsert};
use super::schema::tasks;
use super::types::{DbOpt, DbTime, DbUuid, TaskState};
use super::{now, Backend, Db, DbError, Result};

/// One claim attempt on one queue of Postgres, in one statement (`$lock` adds
/// `.for_update().skip_locked()`, so concurrent claimers skip each other's rows).
macro_rules! claim_in_queue {
    ($conn:expr, $queue:expr, $worker:expr, $lease:expr, $t:expr $(, $lock:ident)*) => {{
        // The subquery reads `tasks` under an alias: diesel rejects a table that appears
        // twice in one statement without one.
        let pick = diesel::alias!(tasks as pick);
        let candidate = pick
            .select(pick.field(tasks::id))
            .filter(pick.field(tasks::state).eq(TaskState::Queued))
            .filter(pick.field(tasks::queue).eq($queue))
            .filter(pick.field(tasks::available_at).le(DbTime($t)))
            .order((pick.field(tasks::available_at).asc(), pick.field(tasks::created_at).asc()))
            .limit(1)
            $(.$lock())*;
        // `= (scalar subquery)` is evaluated once per statement; with `IN (…)` Postgres
        // may re-run the subquery for every scanned row and update several of them.
        claim_row!($conn, tasks::id.nullable().eq(candidate.single_value()), $worker, $lease, $t)
    }};
}

/// Makes the task row `$which` (if still `queued`) `running` under `$worker` and returns it.
macro_rules! claim_row {
    ($conn:expr, $which:expr, $worker:expr, $lease:expr, $t:expr) => {{
        diesel::update(tasks::table)
            .filter($which)
            // Re-checked after a row lock wait, so a row claimed meanwhile is not taken twice.
            .filter(tasks::state.eq(TaskState::Queued))
            .set((
                tasks::state.eq(TaskState::Running),
                tasks::attempt.eq(tasks::attempt + 1),
                tasks::worker.eq(Some($worker)),
                tasks::lease_until.eq(DbOpt(Some(DbTime($lease)))),
                tasks::started_at.eq(DbOpt(Some(DbTime($t)))),
                tasks::ended_at.eq(DbOpt::<DbTime>(None)),
                tasks::updated_at.eq(DbTime($t)),
            ))
            .returning(Task::as_returning())
            .get_result($conn)
            .await
            .optional()?
    }};
}

fn not_found(id: Uuid) -> DbError {
    DbError::NotFound {
        what: "task",
        id: id.to_string(),
    }
}

impl Db {
    /// Inserts a `queued` task and returns the stored row. Re-inserting an existing id is not
    /// an error: nothing changes and the existing row is returned.
    pub async fn insert_task(&self, new: NewTask) -> Result<Task> {
        let id = new.id;
        let row = task_insert(new, now());
        with_conn!(self, conn => {
            diesel::insert_into(tasks::table)
                .values(row)
                .on_conflict(tasks::id)
                .do_nothing()
                .execute(conn)
                .await?;
            Ok(tasks::table
                .find(DbUuid(id))
                .select(Task::as_select())
                .first(conn)
                .await?)
        })
    }

    /// Inserts many queued task rows in one transaction, as [`Db::insert_task`] does one (a
    /// row that exists is left alone); returns how many were new. A job's parse batches are
    /// enqueued this way: one commit instead of one per batch (1,073 at 53k files).
    pub async fn insert_tasks(&self, news: Vec<NewTask>) -> Result<usize> {
        let t = now();
        // A microsecond apart, in the order given: claims take equal `available_at`s by
        // `created_at`, so workers take the tasks in this order on every database.
        let rows: Vec<TaskInsert> = news
            .into_iter()
            .zip(0..)
            .map(|(n, i)| task_insert(n, t + chrono::Duration::microseconds(i)))
            .collect();
        with_conn!(self, conn => {
            conn.transaction::<_, DbError, _>(async |conn| {
                let mut inserted = 0;
                for row in rows.iter().cloned() {
                    inserted += diesel::insert_into(tasks::table)
                        .values(row)
                        .on_conflict(tasks::id)
                        .do_nothing()
                        .execute(conn)
                        .await?;
                }
                Ok(inserted)
            })
            .await
        })
    }

    /// The task with this id.
    pub async fn get_task(&self, id: Uuid) -> Result<Option<Task>> {
        with_conn!(self, conn => {
            Ok(tasks::table
                .find(DbUuid(id))
                .select(Task::as_select())
                .first(conn)
                .await
                .optional()?)
        })
    }

    /// Marks a task `running` for try number `attempt` by `worker` (the Redis queue's mirror
    /// of a claim; the embedded queue uses [`Db::claim_next_task`] instead).
    pub async fn task_started(
        &self,
        id: Uuid,
        attempt: i32,
        worker: &str,
        lease_until: Option<DateTime<Utc>>,
    ) -> Result<Task> {
        let t = now();
        with_conn!(self, conn => {
            diesel::update(tasks::table.find(DbUuid(id)))
                .set((
                    tasks::state.eq(TaskState::Running),
                    tasks::attempt.eq(attempt),
                    tasks::worker.eq(Some(worker)),
                    tasks::lease_until.eq(DbOpt::from(lease_until)),
                    tasks::started_at.eq(DbOpt(Some(DbTime(t)))),
                    tasks::ended_at.eq(DbOpt::<DbTime>(None)),
                    tasks::updated_at.eq(DbTime(t)),
                ))
                .returning(Task::as_returning())
                .get_result(conn)
                .await
                .optional()?
                .ok_or_else(|| not_found(id))
        })
    }

    /// Ends the current try with `state` (`done` or `failed`) and an optional error.
    pub async fn task_finished(
        &self,
        id: Uuid,
        state: TaskState,
        error: Option<&str>,
    ) -> Result<Task> {
        let t = now();
        with_conn!(self, conn => {
            diesel::update(tasks::table.find(DbUuid(id)))
                .set((
                    tasks::state.eq(state),
                    tasks::error.eq(error),
                    tasks::lease_until.eq(DbOpt::<DbTime>(None)),
                    tasks::ended_at.eq(DbOpt(Some(DbTime(t)))),
                    tasks::updated_at.eq(DbTime(t)),
                ))
                .returning(Task::as_returning())
                .get_result(conn)
                .await
                .optional()?
                .ok_or_else(|| not_found(id))
        })
    }

    /// Ends the current try and puts the task back in its queue, claimable from
    /// `available_at` (retry backoff); `error` records why the try failed.
    pub async fn task_requeue(
        &self,
        id: Uuid,
        available_at: DateTime<Utc>,
        error: Option<&str>,
    ) -> Result<Task> {
        let t = now();
        with_conn!(self, conn => {
            diesel::update(tasks::table.find(DbUuid(id)))
                .set((
                    tasks::state.eq(TaskState::Queued),
                    tasks::available_at.eq(DbTime(available_at)),
                    tasks::error.eq(error),
                    tasks::lease_until.eq(DbOpt::<DbTime>(None)),
                    tasks::ended_at.eq(DbOpt(Some(DbTime(t)))),
                    tasks::updated_at.eq(DbTime(t)),
                ))
                .returning(Task::as_returning())
                .get_result(conn)
                .await
                .optional()?
                .ok_or_else(|| not_found(id))
        })
    }

    /// The tasks of a job in creation order (the runbook's
    /// `SELECT name, state, error FROM tasks WHERE job_id = …`).
    pub async fn list_tasks(&self, job_id: Uuid) -> Result<Vec<Task>> {
        with_conn!(self, conn => {
            Ok(tasks::table
                .filter(tasks::job_id.eq(DbOpt(Some(DbUuid(job_id)))))
                .order((tasks::created_at.asc(), tasks::batch_index.asc(), tasks::id.asc()))
                .select(Task::as_select())
                .load(conn)
                .await?)
        })
    }

    /// Up to `limit` tasks of jobs that are `queued` or `running`, oldest first: what the
    /// queue must hold. The reconciler compares them with Redis.
    pub async fn open_job_tasks(&self, limit: i64) -> Result<Vec<Task>> {
        with_conn!(self, conn => {
            Ok(tasks::table
                .filter(tasks::job_id.is_not_null())
                .filter(tasks::state.eq_any([TaskState::Queued, TaskState::Running]))
                .order(tasks::created_at.asc())
                .limit(limit)
                .select(Task::as_select())
                .load(conn)
                .await?)
        })
    }

    /// Atomically claims the next claimable task (`queued`, `available_at <= now`) from the
    /// first of `queues` that has one (priority order, then oldest `available_at`). The row
    /// becomes `running` with `attempt + 1`, `worker` and `lease_until`. Concurrent claimers
    /// (threads or processes) never receive the same row.
    pub async fn claim_next_task(
        &self,
        queues: &[&str],
        worker: &str,
        lease_until: DateTime<Utc>,
    ) -> Result<Option<Task>> {
        let t = now();
        let claimed = match &self.backend {
            Backend::Pg { pool, .. } => {
                let mut pooled = pool.get().await?;
                let conn = &mut *pooled;
                let mut claimed = None;
                for queue in queues {
                    let got: Option<Task> = claim_in_queue!(
                        conn,
                        *queue,
                        worker,
                        lease_until,
                        t,
                        for_update,
                        skip_locked
                    );
                    if got.is_some() {
                        claimed = got;
                        break;
                    }
                }
                claimed
            }
            Backend::Sqlite { pool, .. } => {
                let pooled = pool.get().await?;
                let queues: Vec<String> = queues.iter().map(|q| q.to_string()).collect();
                let worker = worker.to_owned();
                // The reads and the write run in one hop ([`super::hop`]).
                in_one_hop!(pooled, conn => {
                    let worker = worker.as_str();
                    let mut claimed = None;
                    // A read first, then the write by id. The read is prepared once per
                    // connection (diesel prepares every UPDATE afresh) and takes no write
                    // lock, and most claims find the higher queues empty: one cached read
                    // each instead of one UPDATE each. Another claimer may take the row in
                    // between: the write then changes nothing and the queue is read again.
                    'queues: for queue in &queues {
                        loop {
                            let candidate: Option<DbUuid> = tasks::table
                                .select(tasks::id)
                                .filter(tasks::state.eq(TaskState::Queued))
                                .filter(tasks::queue.eq(queue.as_str()))
                                .filter(tasks::available_at.le(DbTime(t)))
                                .order((tasks::available_at.asc(), tasks::created_at.asc()))
                                .first(conn)
                                .await
                                .optional()?;
                            let Some(id) = candidate else {
                                continue 'queues;
                            };
                            let got: Option<Task> =
                                claim_row!(conn, tasks::id.eq(id), worker, lease_until, t);
                            if got.is_some() {
                                claimed = got;
                                break 'queues;
                            }
                        }
                    }
                    Ok::<_, DbError>(claimed)
                })?
            }
        };
        if let Some(task) = &claimed {
            tracing::debug!(task_id = %task.id, task_name = %task.name, queue = %task.queue,
                attempt = task.attempt, worker, "task claimed");
        }
        Ok(claimed)
    }

    /// Extends the lease of a task `worker` is running; false when the task is no longer
    /// running under that worker (its lease lapsed and someone else took it), in which case
    /// the worker should stop writing results for it.
    pub async fn renew_lease(&self, id: Uuid, worker: &str, until: DateTime<Utc>) -> Result<bool> {
        let t = now();
        with_conn!(self, conn => {
            let renewed = diesel::update(
                tasks::table
                    .find(DbUuid(id))
                    .filter(tasks::state.eq(TaskState::Running))
                    .filter(tasks::worker.eq(worker)),
            )
            .set((
                tasks::lease_until.eq(DbOpt(Some(DbTime(until)))),
                tasks::updated_at.eq(DbTime(t)),
            ))
            .execute(conn)
            .await?;
            Ok(renewed == 1)
        })
    }

    /// Puts every `running` task whose lease ended before `now` back to `queued` (claimable
    /// at once) and returns how many. Run at start-up and periodically.
    pub async fn requeue_expired_leases(&self, now: DateTime<Utc>) -> Result<usize> {
        let t = super::now();
        let requeued = with_conn!(self, conn => {
            Ok::<_, DbError>(diesel::update(
                tasks::table
                    .filter(tasks::state.eq(TaskState::Running))
                    .filter(tasks::lease_until.lt(DbOpt(Some(DbTime(now))))),
            )
            .set((
                tasks::state.eq(TaskState::Queued),
                // Claimable at once: a `now` in the future is only a lease bound (start-up
                // recovery passes the end of time), never a time to wait for.
                tasks::available_at.eq(DbTime(now.min(t))),
                tasks::lease_until.eq(DbOpt::<DbTime>(None)),
                tasks::error.eq(Some("lease expired: the worker stopped renewing it")),
                tasks::updated_at.eq(DbTime(t)),
            ))
            .execute(conn)
            .await?)
        })?;
        if requeued > 0 {
            tracing::warn!(requeued, "tasks with expired leases requeued");
        }
        Ok(requeued)
    }

    /// The earliest `available_at` of a queued task in `queues`, so an idle worker knows how
    /// long it may sleep (a new insert should also wake it).
    pub async fn next_available_at(&self, queues: &[&str]) -> Result<Option<DateTime<Utc>>> {
        with_conn!(self, conn => {
            let next: Option<DbTime> = tasks::table
                .filter(tasks::state.eq(TaskState::Queued))
                .filter(tasks::queue.eq_any(queues))
                .order(tasks::available_at.asc())
                .select(tasks::available_at)
                .first(conn)
                .await
                .optional()?;
            Ok(next.map(|t| t.0))
        })
    }

    /// Number of tasks in `queue` with `state` (for `provis_queue_size`).
    pub async fn count_tasks(&self, queue: &str, state: TaskState) -> Result<i64> {
        with_conn!(self, conn => {
            Ok(tasks::table
                .filter(tasks::queue.eq(queue))
                .filter(tasks::state.eq(state))
                .count()
                .get_result(conn)
                .await?)
        })
    }
}

/// The row of a new queued task, stamped `t`.
fn task_insert(new: NewTask, t: chrono::DateTime<chrono::Utc>) -> TaskInsert {
    TaskInsert {
        id: new.id,
        job_id: new.job_id,
        name: new.name,
        batch_index: new.batch_index,
        queue: new.queue,
        state: TaskState::Queued,
        attempt: 0,
        max_attempts: new.max_attempts.max(1),
        payload: new.payload,
        available_at: new.available_at.unwrap_or(t),
        created_at: t,
        updated_at: t,
    }
}
