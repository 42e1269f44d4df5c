//! Live job status and live event streams (docs/events.md), on Redis or in-process.
//!
//! This module does not know the database. Durability is the caller's: it inserts the event
//! into the `events` table (allocating `seq` there), and only after the commit calls
//! [`EventBus::publish`]; likewise it updates the `jobs` row and then mirrors it with
//! [`EventBus::set_status`]. Everything held here can be rebuilt from the database.
//!
//! # Backends
//! - Redis: hash `job:<id>:status` (all [`Status`] fields, TTL 24 h refreshed on write) and
//!   stream `job:<id>:events` (`XADD` with fields `seq` and `event` = the JSON, same TTL).
//! - In-process: per-job history plus a tokio broadcast channel, and a status map with the same
//!   TTL (embedded mode).
//!
//! # Sequence numbers
//! `seq` is per job, contiguous, starting at 1 (the database allocates it). Subscribers yield
//! events strictly in `seq` order without duplicates. An event that arrives ahead of a missing
//! one (two workers publishing concurrently) is held for a short reorder window
//! ([`BusConfig::reorder_window`], 1 s by default); a gap that is still open after the window
//! (an event committed but never published, e.g. its publisher crashed) is skipped.
//!
//! # Following a job (the SSE endpoint)
//! 1. Read the `events` table for `seq > last_event_id` and send those; remember the last seq.
//!    If one of them is terminal ([`Event::is_terminal`]), stop.
//! 2. Call [`EventBus::subscribe`]`(job_id, last_seq)` and send what it yields; the stream
//!    ends by itself after the terminal event.
//!
//! Nothing is lost between 1 and 2: the caller commits before publishing, so an event missing
//! from the read in step 1 is published after it, and both backends replay what they hold with
//! `seq > last_seq` (the Redis stream; the in-process history) before following live.

mod keys;
mod memory;
pub mod payload;
mod redis_bus;
mod stream;

use std::pin::Pin;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use keys::{events_key, status_key, DEFAULT_TTL, FIELD_EVENT, FIELD_SEQ, STREAM_MAXLEN};
pub use memory::MemoryBus;
pub use redis_bus::RedisBus;

/// Event type names (the `type` field and the SSE `event:` line).
pub mod types {
    /// The upload was stored and the job queued.
    pub const UPLOAD_RECEIVED: &str = "upload_received";
    /// The same content and settings were analysed before; artifacts are reused.
    pub const CACHE_HIT: &str = "cache_hit";
    /// The job entered a phase (`payload.phase`, `payload.pct`).
    pub const PHASE: &str = "phase";
    /// Percentage progress inside a phase.
    pub const PROGRESS: &str = "progress";
    /// Discovery finished: number of files.
    pub const FILES_TOTAL: &str = "files_total";
    /// One parse batch finished.
    pub const BATCH_PARSED: &str = "batch_parsed";
    /// An artifact version was written.
    pub const ARTIFACT_READY: &str = "artifact_ready";
    /// Import counts after mapping.
    pub const IMPORTS_METRICS: &str = "imports_metrics";
    /// A non-fatal problem (a file skipped, no LLM, …).
    pub const WARNING: &str = "warning";
    /// An error; terminal only when `payload.terminal` is `true` (the job failed).
    pub const ERROR: &str = "error";
    /// The job finished; always terminal.
    pub const DONE: &str = "done";

    /// Every type, in the order of a job's life.
    pub const ALL: [&str; 11] = [
        UPLOAD_RECEIVED,
        CACHE_HIT,
        PHASE,
        PROGRESS,
        FILES_TOTAL,
        BATCH_PARSED,
        ARTIFACT_READY,
        IMPORTS_METRICS,
        WARNING,
        ERROR,
        DONE,
    ];
}

/// Payload field of an `error` event that marks it terminal (the job failed; no retry follows).
pub const TERMINAL_FIELD: &str = "terminal";

/// One job event, serialised exactly as `{"id","seq","type","timestamp","jobId","payload"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// The wire id: the `seq` as a string wherever events are recorded and replayed
    /// (`tasks::progress`, the SSE endpoint); [`Event::new`] makes a UUID v7 instead.
    pub id: String,
    /// Per-job sequence number from 1; the SSE `id:` and `Last-Event-ID`.
    pub seq: i64,
    /// One of [`types`].
    pub r#type: String,
    /// When it happened (UTC).
    pub timestamp: DateTime<Utc>,
    /// The job it belongs to.
    pub job_id: Uuid,
    /// Type-specific details.
    pub payload: serde_json::Value,
}

impl Event {
    /// A new event with a fresh id (UUID v7) stamped now.
    pub fn new(job_id: Uuid, seq: i64, r#type: &str, payload: serde_json::Value) -> Self {
        Self {
            id: Uuid::now_v7().to_string(),
            seq,
            r#type: r#type.to_string(),
            timestamp: Utc::now(),
            job_id,
            payload,
        }
    }

    /// Whether this event ends the job's stream: `done`, or `error` whose payload has
    /// `"terminal": true` (see [`payload::Error`]). An `error` without it (a task that will be
    /// retried) is not terminal.
    pub fn is_terminal(&self) -> bool {
        match self.r#type.as_str() {
            types::DONE => true,
            types::ERROR => self
                .payload
                .get(TERMINAL_FIELD)
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(false),
            _ => false,
        }
    }
}

/// Live status of a job, the body of `GET /status/{job_id}` (camelCase).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// The job.
    pub job_id: Uuid,
    /// Its repo.
    pub repo_id: Uuid,
    /// Its snapshot.
    pub snapshot_id: Uuid,
    /// Current phase (`queued`, `acquiring`, … `done`, `failed`).
    pub phase: String,
    /// Progress 0..=100.
    pub pct: i32,
    /// Files found by discovery.
    pub files_discovered: i64,
    /// Files parsed so far.
    pub files_parsed: i64,
    /// Files whose parse records came from the parse cache (known after `merge`).
    #[serde(default)]
    pub files_reused: i64,
    /// Imports seen.
    pub imports_total: i64,
    /// Imports resolved inside the snapshot.
    pub imports_internal: i64,
    /// Imports of packages or stdlib modules.
    pub imports_external: i64,
    /// Warnings so far.
    pub warnings_count: i64,
    /// The error that failed the job.
    pub error: Option<String>,
    /// Last change; take it from the `jobs` row so all writers share one clock.
    pub updated_at: DateTime<Utc>,
}

/// Errors of the event bus.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// A Redis command failed.
    #[error("redis: {0}")]
    Redis(#[from] deadpool_redis::redis::RedisError),
    /// No pooled Redis connection could be had.
    #[error("redis pool: {0}")]
    Pool(String),
    /// Stored data could not be read back.
    #[error("corrupt {what}: {reason}")]
    Corrupt {
        /// The key or entry.
        what: String,
        /// What was wrong.
        reason: String,
    },
    /// An event did not serialise.
    #[error("event encoding: {0}")]
    Json(#[from] serde_json::Error),
    /// The bus cannot be set up from the configuration given.
    #[error("event bus configuration: {0}")]
    Config(String),
}

/// Redis trouble is a 503 naming Redis; a corrupt entry, an encoding error or a bad
/// configuration is a bug (500).
impl crate::error::Coded for EventError {
    fn code(&self) -> crate::error::ErrorCode {
        match self {
            EventError::Redis(_) | EventError::Pool(_) => crate::error::ErrorCode::Unavailable,
            EventError::Corrupt { .. } | EventError::Json(_) | EventError::Config(_) => {
                crate::error::ErrorCode::Internal
            }
        }
    }
    fn dependency(&self) -> &'static str {
        "redis"
    }
}

impl EventError {
    /// Whether the same call may succeed later (connection trouble), for task retry decisions.
    pub fn retryable(&self) -> bool {
        match self {
            EventError::Redis(e) => {
                e.is_io_error()
                    || e.is_timeout()
                    || e.is_connection_dropped()
                    || e.is_connection_refusal()
            }
            EventError::Pool(_) => true,
            EventError::Corrupt { .. } | EventError::Json(_) | EventError::Config(_) => false,
        }
    }
}

/// Tuning shared by both backends.
#[derive(Debug, Clone)]
pub struct BusConfig {
    /// Prefix of every Redis key (`""` in production; unique per test).
    pub key_prefix: String,
    /// Lifetime of status and event data after the last write.
    pub ttl: Duration,
    /// How long a subscriber holds an event that arrived ahead of a missing `seq`.
    pub reorder_window: Duration,
    /// Bound on connecting to Redis and on one command's answer (`redis_timeout_s`): a hung
    /// Redis fails the call instead of holding it.
    pub timeout: Duration,
}

impl Default for BusConfig {
    fn default() -> Self {
        Self {
            key_prefix: String::new(),
            ttl: DEFAULT_TTL,
            reorder_window: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
        }
    }
}

/// Events of one job with `seq` above the subscriber's start, in order; ends after the
/// terminal event. An `Err` item (Redis lost beyond reconnection) is the last item.
pub type EventStream = Pin<Box<dyn Stream<Item = Result<Event, EventError>> + Send>>;

/// The live status and event transport; cheap to clone.
#[derive(Debug, Clone)]
pub enum EventBus {
    /// Redis hash + stream (cluster mode).
    Redis(RedisBus),
    /// In-process maps and broadcast channels (embedded mode).
    Memory(MemoryBus),
}

impl EventBus {
    /// A Redis bus on `url` (`redis://host:port/db`).
    pub fn redis(url: &str, config: BusConfig) -> Result<Self, EventError> {
        RedisBus::new(url, config).map(EventBus::Redis)
    }

    /// An in-process bus.
    pub fn in_process(config: BusConfig) -> Self {
        EventBus::Memory(MemoryBus::new(config))
    }

    /// `"redis"` or `"memory"`, for logs and `/health`.
    pub fn backend_name(&self) -> &'static str {
        match self {
            EventBus::Redis(_) => "redis",
            EventBus::Memory(_) => "memory",
        }
    }

    /// Sends an event to live followers. Call it after the event's row is committed;
    /// publishing the same `seq` twice (a retried task) is harmless, followers drop repeats.
    pub async fn publish(&self, event: &Event) -> Result<(), EventError> {
        match self {
            EventBus::Redis(b) => b.publish(event).await,
            EventBus::Memory(b) => {
                b.publish(event);
                Ok(())
            }
        }
    }

    /// Stores a job's status (all fields, refreshing the TTL) unless the stored one is newer
    /// (`updated_at` later), so a slow writer cannot roll status back. Returns whether it
    /// was written. Timestamps are kept to the microsecond, like Postgres.
    pub async fn set_status(&self, status: &Status) -> Result<bool, EventError> {
        let mut status = status.clone();
        status.updated_at = status.updated_at.trunc_subsecs(6);
        match self {
            EventBus::Redis(b) => b.set_status(&status).await,
            EventBus::Memory(b) => Ok(b.set_status(status)),
        }
    }

    /// The stored status, or `None` (never set, or expired: fall back to the database).
    pub async fn get_status(&self, job_id: Uuid) -> Result<Option<Status>, EventError> {
        match self {
            EventBus::Redis(b) => b.get_status(job_id).await,
            EventBus::Memory(b) => Ok(b.get_status(job_id)),
        }
    }

    /// Remaining lifetime of a job's status, or `None` when there is none.
    pub async fn status_ttl(&self, job_id: Uuid) -> Result<Option<Duration>, EventError> {
        match self {
            EventBus::Redis(b) => b.status_ttl(job_id).await,
            EventBus::Memory(b) => Ok(b.status_ttl(job_id)),
        }
    }

    /// Follows a job: every event with `seq > after_seq` the bus holds or receives from now on,
    /// in `seq` order, without duplicates, ending after the terminal event. See the module doc
    /// for the replay-then-follow order that loses nothing.
    pub async fn subscribe(&self, job_id: Uuid, after_seq: i64) -> Result<EventStream, EventError> {
        match self {
            EventBus::Redis(b) => b.subscribe(job_id, after_seq).await,
            EventBus::Memory(b) => Ok(b.subscribe(job_id, after_seq)),
        }
    }

    /// A cheap real round trip for `/health` (Redis `PING`; always fine in-process).
    pub async fn check(&self) -> Result<(), EventError> {
        match self {
            EventBus::Redis(b) => b.check().await,
            EventBus::Memory(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_wire_shape() {
        let job = Uuid::nil();
        let e = Event::new(
            job,
            3,
            types::PHASE,
            serde_json::json!({"phase": "parsing"}),
        );
        let v = serde_json::to_value(&e).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(
            sorted,
            ["id", "jobId", "payload", "seq", "timestamp", "type"]
        );
        assert_eq!(v["type"], "phase");
        assert_eq!(v["seq"], 3);
        let back: Event = serde_json::from_value(v).unwrap();
        assert_eq!(back, e);
    }

    fn err(terminal: bool) -> payload::Error {
        payload::Error {
            code: "x".into(),
            message: "y".into(),
            terminal,
        }
    }

    #[test]
    fn terminal_rules() {
        let job = Uuid::nil();
        assert!(Event::new(job, 1, types::DONE, serde_json::json!({})).is_terminal());
        assert!(Event::new(job, 1, types::ERROR, payload::to_value(&err(true))).is_terminal());
        assert!(!Event::new(job, 1, types::ERROR, payload::to_value(&err(false))).is_terminal());
        assert!(!Event::new(job, 1, types::ERROR, serde_json::json!({})).is_terminal());
        assert!(!Event::new(job, 1, types::PROGRESS, serde_json::json!({})).is_terminal());
    }

    #[test]
    fn status_is_camel_case() {
        let s = Status {
            job_id: Uuid::nil(),
            repo_id: Uuid::nil(),
            snapshot_id: Uuid::nil(),
            phase: "queued".into(),
            pct: 0,
            files_discovered: 0,
            files_parsed: 0,
            files_reused: 0,
            imports_total: 0,
            imports_internal: 0,
            imports_external: 0,
            warnings_count: 0,
            error: None,
            updated_at: Utc::now(),
        };
        let v = serde_json::to_value(&s).unwrap();
        for k in [
            "jobId",
            "repoId",
            "snapshotId",
            "phase",
            "pct",
            "filesDiscovered",
            "filesParsed",
            "filesReused",
            "importsTotal",
            "importsInternal",
            "importsExternal",
            "warningsCount",
            "error",
            "updatedAt",
        ] {
            assert!(v.get(k).is_some(), "missing {k}");
        }
        assert_eq!(v.as_object().unwrap().len(), 14);
    }
}
