//! Jobs, the parse-batch fan-in guard, the merge guard and warnings.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use uuid::Uuid;

use super::models::{
    BatchResult, EventRow, Job, JobInsert, JobUpdate, NewJob, NewWarning, Warning,
};
use super::schema::{batch_results, events, jobs, warnings};
use super::types::{DbTime, DbUuid};
use super::{content_uuid, now, Db, DbError, Result, MAX_ALLOCATION_ATTEMPTS};

impl Db {
    /// Inserts a job (phase and counters from `new`, everything else zero) and returns it.
    pub async fn create_job(&self, new: NewJob) -> Result<Job> {
        let t = now();
        let row = JobInsert {
            id: new.id.unwrap_or_else(Uuid::now_v7),
            repo_id: new.repo_id,
            snapshot_id: new.snapshot_id,
            phase: new.phase,
            priority: new.priority,
            upload_key: new.upload_key,
            upload_bytes: new.upload_bytes,
            settings: new.settings,
            cache_hit: new.cache_hit,
            created_at: t,
            updated_at: t,
        };
        with_conn!(self, conn => {
            Ok(diesel::insert_into(jobs::table)
                .values(row)
                .returning(Job::as_returning())
                .get_result(conn)
                .await?)
        })
    }

    /// The job with this id.
    pub async fn get_job(&self, id: Uuid) -> Result<Option<Job>> {
        with_conn!(self, conn => {
            Ok(jobs::table
                .find(DbUuid(id))
                .select(Job::as_select())
                .first(conn)
                .await
                .optional()?)
        })
    }

    /// Applies the `Some` fields of `update` (and `updated_at = now`) and returns the row.
    pub async fn update_job(&self, id: Uuid, update: JobUpdate) -> Result<Job> {
        let t = now();
        with_conn!(self, conn => {
            diesel::update(jobs::table.find(DbUuid(id)))
                .set((update, jobs::updated_at.eq(DbTime(t))))
                .returning(Job::as_returning())
                .get_result(conn)
                .await
                .optional()?
                .ok_or_else(|| DbError::NotFound { what: "job", id: id.to_string() })
        })
    }

    /// Raises a job's percentage and records the event that says so, in one transaction:
    /// applies `update` with `pct` only if that raises `jobs.pct`, and then appends an
    /// event (`event_type`, `payload(&job)`) with the next sequence number. Returns `None`,
    /// changing nothing, when the job is already at `pct` or beyond.
    ///
    /// Concurrent raisers (parse batches finishing together, a late re-delivery after a
    /// later phase began) are serialised by the job row's lock, so neither `/status` nor
    /// the order of the events ever goes backwards.
    pub async fn raise_job_pct<F>(
        &self,
        id: Uuid,
        pct: i32,
        update: JobUpdate,
        event_type: &str,
        payload: F,
    ) -> Result<Option<(Job, EventRow)>>
    where
        F: FnOnce(&Job) -> serde_json::Value + Send + 'static,
    {
        let t = now();
        let update = JobUpdate {
            pct: Some(pct),
            ..update
        };
        let event_type = event_type.to_owned();
        // One hop on SQLite: the write lock is never held across a thread hand-off.
        with_conn!(self, one_hop conn => {
            conn.transaction::<_, DbError, _>(async |conn| {
                let job = diesel::update(jobs::table.find(DbUuid(id)).filter(jobs::pct.lt(pct)))
                    .set((update, jobs::updated_at.eq(DbTime(t))))
                    .returning(Job::as_returning())
                    .get_result(conn)
                    .await
                    .optional()?;
                let Some(job) = job else {
                    return Ok(None);
                };
                let payload = payload(&job);
                for _ in 0..MAX_ALLOCATION_ATTEMPTS {
                    let current: Option<i64> = events::table
                        .filter(events::job_id.eq(DbUuid(id)))
                        .select(diesel::dsl::max(events::seq))
                        .get_result(conn)
                        .await?;
                    let row = EventRow {
                        id: Uuid::now_v7(),
                        job_id: id,
                        seq: current.unwrap_or(0) + 1,
                        event_type: event_type.clone(),
                        payload: payload.clone(),
                        created_at: now(),
                    };
                    let inserted = diesel::insert_into(events::table)
                        .values(row)
                        .on_conflict((events::job_id, events::seq))
                        .do_nothing()
                        .returning(EventRow::as_returning())
                        .get_result(conn)
                        .await
                        .optional()?;
                    if let Some(event) = inserted {
                        return Ok(Some((job, event)));
                    }
                }
                Err(DbError::Contention {
                    what: "event sequence number",
                    attempts: MAX_ALLOCATION_ATTEMPTS,
                })
            })
            .await
        })
    }

    /// Counts parse batch `batch_index` of a job as done, once: the first call for a batch
    /// records it in `batch_results` (with its parse-cache refs), adds 1 to `jobs.batches_done`
    /// and `files_parsed` to `jobs.files_parsed`, in one transaction, and returns the job's row after the increment
    /// (the caller needs its counts and phase, and would otherwise read it again at once). Any
    /// later call for the same batch (a retried or re-delivered task) changes nothing and
    /// returns `None`.
    ///
    /// The caller that sees `batches_done == batches_total` is the one that may enqueue
    /// `merge` (and should still go through [`Db::claim_merge`]).
    pub async fn incr_batches_done(
        &self,
        job_id: Uuid,
        batch_index: i32,
        files_parsed: i32,
        cache_refs: Option<String>,
    ) -> Result<Option<Job>> {
        let record = BatchResult {
            job_id,
            batch_index,
            files_parsed,
            done: true,
            created_at: now(),
            cache_refs,
        };
        let t = now();
        // One hop on SQLite: the write lock is never held across a thread hand-off.
        with_conn!(self, one_hop conn => {
            conn.transaction::<_, DbError, _>(async |conn| {
                // The insert takes the write lock first (SQLite) and is the guard itself.
                let inserted = diesel::insert_into(batch_results::table)
                    .values(record)
                    .on_conflict((batch_results::job_id, batch_results::batch_index))
                    .do_nothing()
                    .execute(conn)
                    .await?;
                if inserted == 0 {
                    return Ok(None);
                }
                let counts = diesel::update(jobs::table.find(DbUuid(job_id)))
                    .set((
                        jobs::batches_done.eq(jobs::batches_done + 1),
                        jobs::files_parsed.eq(jobs::files_parsed + files_parsed),
                        jobs::updated_at.eq(DbTime(t)),
                    ))
                    .returning(Job::as_returning())
                    .get_result::<Job>(conn)
                    .await
                    .optional()?;
                match counts {
                    Some(job) => Ok(Some(job)),
                    // Roll back the guard row: there is no such job.
                    None => Err(DbError::NotFound { what: "job", id: job_id.to_string() }),
                }
            })
            .await
        })
    }

    /// The counted batches of a job, by batch number.
    pub async fn list_batch_results(&self, job_id: Uuid) -> Result<Vec<BatchResult>> {
        with_conn!(self, conn => {
            Ok(batch_results::table
                .filter(batch_results::job_id.eq(DbUuid(job_id)))
                .order(batch_results::batch_index.asc())
                .select(BatchResult::as_select())
                .load(conn)
                .await?)
        })
    }

    /// Flips `merge_enqueued` from false to true; returns true only for the one caller that
    /// flipped it, so `merge` is enqueued exactly once however many batch tasks race here.
    pub async fn claim_merge(&self, job_id: Uuid) -> Result<bool> {
        let t = now();
        with_conn!(self, conn => {
            let flipped = diesel::update(
                jobs::table
                    .find(DbUuid(job_id))
                    .filter(jobs::merge_enqueued.eq(false)),
            )
            .set((jobs::merge_enqueued.eq(true), jobs::updated_at.eq(DbTime(t))))
            .execute(conn)
            .await?;
            Ok(flipped == 1)
        })
    }

    /// Records a warning; returns false when the same warning (job, code, file, message)
    /// was already recorded, so a retried task does not duplicate its warnings. The row id
    /// is derived from that content.
    pub async fn insert_warning(&self, new: &NewWarning) -> Result<bool> {
        let key = format!(
            "provis-warning\0{}\0{}\0{}\0{}",
            new.job_id,
            new.code,
            new.file_path.as_deref().unwrap_or("\u{1}"),
            new.message
        );
        let row = Warning {
            id: content_uuid(&key),
            job_id: new.job_id,
            snapshot_id: new.snapshot_id,
            file_path: new.file_path.clone(),
            code: new.code.clone(),
            message: new.message.clone(),
            created_at: now(),
        };
        with_conn!(self, conn => {
            let inserted = diesel::insert_into(warnings::table)
                .values(row)
                .on_conflict(warnings::id)
                .do_nothing()
                .execute(conn)
                .await?;
            Ok(inserted == 1)
        })
    }

    /// Number of warnings recorded for a job.
    pub async fn count_warnings(&self, job_id: Uuid) -> Result<i64> {
        with_conn!(self, conn => {
            Ok(warnings::table
                .filter(warnings::job_id.eq(DbUuid(job_id)))
                .count()
                .get_result(conn)
                .await?)
        })
    }

    /// Warnings of a job in the order they were recorded, at most `limit`.
    pub async fn list_warnings(&self, job_id: Uuid, limit: i64) -> Result<Vec<Warning>> {
        with_conn!(self, conn => {
            Ok(warnings::table
                .filter(warnings::job_id.eq(DbUuid(job_id)))
                .order((warnings::created_at.asc(), warnings::id.asc()))
                .limit(limit)
                .select(Warning::as_select())
                .load(conn)
                .await?)
        })
    }
}
