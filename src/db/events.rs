//! The durable event log of a job (docs/events.md): `seq` is 1, 2, 3… per job, with no gaps.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::models::EventRow;
use super::schema::events;
use super::types::DbUuid;
use super::{now, Db, DbError, Result, MAX_ALLOCATION_ATTEMPTS};

impl Db {
    /// Appends an event with the next sequence number of the job and returns it.
    ///
    /// The number is max + 1 claimed through the unique key (job, seq); a caller that loses
    /// a race retries with the next number, so concurrent writers get 1, 2, 3… without gaps,
    /// and a row with `seq = n` is only ever written after `n - 1` is committed (readers
    /// following with [`Db::events_after`] never skip one).
    pub async fn insert_event(
        &self,
        job_id: Uuid,
        event_type: &str,
        payload: &serde_json::Value,
    ) -> Result<EventRow> {
        let event_type = event_type.to_owned();
        let payload = payload.clone();
        // Both statements on one connection (one hop on SQLite), as often as the race asks.
        with_conn!(self, one_hop conn => {
            for _ in 0..MAX_ALLOCATION_ATTEMPTS {
                let current: Option<i64> = events::table
                    .filter(events::job_id.eq(DbUuid(job_id)))
                    .select(diesel::dsl::max(events::seq))
                    .get_result(conn)
                    .await?;
                let row = EventRow {
                    id: Uuid::now_v7(),
                    job_id,
                    seq: current.unwrap_or(0) + 1,
                    event_type: event_type.clone(),
                    payload: payload.clone(),
                    created_at: now(),
                };
                let inserted: Option<EventRow> = diesel::insert_into(events::table)
                    .values(row)
                    .on_conflict((events::job_id, events::seq))
                    .do_nothing()
                    .returning(EventRow::as_returning())
                    .get_result(conn)
                    .await
                    .optional()?;
                if let Some(event) = inserted {
                    return Ok(event);
                }
                tokio::task::yield_now().await;
            }
            Err(DbError::Contention {
                what: "event sequence number",
                attempts: MAX_ALLOCATION_ATTEMPTS,
            })
        })
    }

    /// Events of a job with `seq > after_seq`, in order, at most `limit` (SSE replay).
    pub async fn events_after(
        &self,
        job_id: Uuid,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<EventRow>> {
        with_conn!(self, conn => {
            Ok(events::table
                .filter(events::job_id.eq(DbUuid(job_id)))
                .filter(events::seq.gt(after_seq))
                .order(events::seq.asc())
                .limit(limit)
                .select(EventRow::as_select())
                .load(conn)
                .await?)
        })
    }

    /// Whether the job has an event of type `event_type` (events sent once per job).
    pub async fn has_event(&self, job_id: Uuid, event_type: &str) -> Result<bool> {
        with_conn!(self, conn => {
            let n: i64 = events::table
                .filter(events::job_id.eq(DbUuid(job_id)))
                .filter(events::event_type.eq(event_type))
                .count()
                .get_result(conn)
                .await?;
            Ok(n > 0)
        })
    }

    /// The latest event of a job (to know whether the stream has ended).
    pub async fn last_event(&self, job_id: Uuid) -> Result<Option<EventRow>> {
        with_conn!(self, conn => {
            Ok(events::table
                .filter(events::job_id.eq(DbUuid(job_id)))
                .order(events::seq.desc())
                .select(EventRow::as_select())
                .first(conn)
                .await
                .optional()?)
        })
    }
}
