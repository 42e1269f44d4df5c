//! Row structs (what queries return) and input structs (what callers pass in).
//!
//! Rows derive `Serialize` so the API and the runbook tooling can show them as they are; the
//! wire DTOs of docs/http-api.md are built from them elsewhere. Ids are `uuid::Uuid`, times
//! `DateTime<Utc>`, JSON columns `serde_json::Value`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use uuid::Uuid;

use super::schema::{artifacts, batch_results, events, jobs, repos, snapshots, tasks, warnings};
use super::types::{DbJson, DbOpt, DbTime, DbUuid, SnapshotStatus, TaskState};

/// A repository, identified by its unique name.
#[derive(Debug, Clone, PartialEq, Serialize, Queryable, Selectable, Insertable)]
#[diesel(table_name = repos, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct Repo {
    /// Primary key.
    #[diesel(serialize_as = DbUuid, deserialize_as = DbUuid)]
    pub id: Uuid,
    /// The name given at ingest (form field `repo`, else the zip name without `.zip`).
    pub name: String,
    /// Owner, when a multi-tenant front end sets one; provis itself never does.
    pub owner_id: Option<String>,
    /// When the repo was first seen.
    #[diesel(serialize_as = DbTime, deserialize_as = DbTime)]
    pub created_at: DateTime<Utc>,
}

/// One analysed state of a repo; unique per (repo, content hash, settings hash).
#[derive(Debug, Clone, PartialEq, Serialize, Queryable, Selectable, Insertable)]
#[diesel(table_name = snapshots, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct Snapshot {
    /// Primary key.
    #[diesel(serialize_as = DbUuid, deserialize_as = DbUuid)]
    pub id: Uuid,
    /// The repo this snapshot belongs to.
    #[diesel(serialize_as = DbUuid, deserialize_as = DbUuid)]
    pub repo_id: Uuid,
    /// Content hash of the upload (the "commit" of a zip).
    pub commit_hash: String,
    /// Hash of the analysis settings, so other settings make another snapshot.
    pub settings_hash: String,
    /// Where the upload is stored (upload key or URI).
    pub source: String,
    /// `processing`, `completed` or `failed`.
    pub status: SnapshotStatus,
    /// Creation time.
    #[diesel(serialize_as = DbTime, deserialize_as = DbTime)]
    pub created_at: DateTime<Utc>,
    /// Last status change.
    #[diesel(serialize_as = DbTime, deserialize_as = DbTime)]
    pub updated_at: DateTime<Utc>,
}

/// One run of the pipeline, with the counters `GET /status` reports.
#[derive(Debug, Clone, PartialEq, Serialize, Queryable, Selectable)]
#[diesel(table_name = jobs, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct Job {
    /// Primary key; the `jobId` of the API.
    #[diesel(deserialize_as = DbUuid)]
    pub id: Uuid,
    /// The repo being analysed.
    #[diesel(deserialize_as = DbUuid)]
    pub repo_id: Uuid,
    /// The snapshot the job builds (or re-used, on a cache hit).
    #[diesel(deserialize_as = DbOpt<DbUuid>)]
    pub snapshot_id: Option<Uuid>,
    /// Current phase (docs/events.md#phases-and-percentages): `queued`, `acquiring`, …, `done` or
    /// `failed`.
    pub phase: String,
    /// Progress 0..=100.
    pub pct: i32,
    /// Queue priority the job was submitted with (`high`, `normal`, `low`).
    pub priority: String,
    /// Why the job failed, when it did.
    pub error: Option<String>,
    /// Storage key of the uploaded zip.
    pub upload_key: Option<String>,
    /// Size of the upload.
    pub upload_bytes: i64,
    /// Files discovered (`filesDiscovered`).
    pub files_total: i32,
    /// Parse batches fanned out.
    pub batches_total: i32,
    /// Parse batches counted as done (each once, see [`Db::incr_batches_done`](super::Db::incr_batches_done)).
    pub batches_done: i32,
    /// Files parsed so far.
    pub files_parsed: i32,
    /// Files whose records came from the parse cache instead of a parser (set by `merge`).
    pub files_reused: i32,
    /// Imports seen by the mapper.
    pub imports_total: i32,
    /// Imports resolved to a file of the snapshot.
    pub imports_internal: i32,
    /// Imports of packages or stdlib modules.
    pub imports_external: i32,
    /// Local-looking imports that resolve nowhere.
    pub imports_unresolved: i32,
    /// Warnings recorded for the job.
    pub warnings_count: i32,
    /// Whether the job re-used a completed snapshot.
    pub cache_hit: bool,
    /// Fan-in guard: set once by whoever enqueues `merge` (see [`Db::claim_merge`](super::Db::claim_merge)).
    pub merge_enqueued: bool,
    /// The analysis settings the job was submitted with.
    #[diesel(deserialize_as = DbJson)]
    pub settings: serde_json::Value,
    /// Phase durations in milliseconds, `{"parsing": 1234, …}`.
    #[diesel(deserialize_as = DbJson)]
    pub timings: serde_json::Value,
    /// When the first task started.
    #[diesel(deserialize_as = DbOpt<DbTime>)]
    pub started_at: Option<DateTime<Utc>>,
    /// When the job reached `done` or `failed`.
    #[diesel(deserialize_as = DbOpt<DbTime>)]
    pub finished_at: Option<DateTime<Utc>>,
    /// Creation time.
    #[diesel(deserialize_as = DbTime)]
    pub created_at: DateTime<Utc>,
    /// Last change to the row.
    #[diesel(deserialize_as = DbTime)]
    pub updated_at: DateTime<Utc>,
}

/// What [`Db::create_job`](super::Db::create_job) needs; everything else starts at zero.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// Id to use; `None` generates a time-ordered UUID v7.
    pub id: Option<Uuid>,
    /// The repo being analysed.
    pub repo_id: Uuid,
    /// The snapshot, when already known at creation.
    pub snapshot_id: Option<Uuid>,
    /// Initial phase, normally `queued`.
    pub phase: String,
    /// Queue priority (`high`, `normal`, `low`).
    pub priority: String,
    /// Storage key of the upload.
    pub upload_key: Option<String>,
    /// Size of the upload.
    pub upload_bytes: i64,
    /// Analysis settings.
    pub settings: serde_json::Value,
    /// Whether this job is a cache hit on an existing snapshot.
    pub cache_hit: bool,
}

impl NewJob {
    /// A queued, normal-priority job for `repo_id` with empty settings.
    pub fn new(repo_id: Uuid) -> Self {
        Self {
            id: None,
            repo_id,
            snapshot_id: None,
            phase: "queued".to_owned(),
            priority: "normal".to_owned(),
            upload_key: None,
            upload_bytes: 0,
            settings: serde_json::json!({}),
            cache_hit: false,
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = jobs)]
pub(crate) struct JobInsert {
    #[diesel(serialize_as = DbUuid)]
    pub id: Uuid,
    #[diesel(serialize_as = DbUuid)]
    pub repo_id: Uuid,
    #[diesel(serialize_as = DbOpt<DbUuid>)]
    pub snapshot_id: Option<Uuid>,
    pub phase: String,
    pub priority: String,
    pub upload_key: Option<String>,
    pub upload_bytes: i64,
    #[diesel(serialize_as = DbJson)]
    pub settings: serde_json::Value,
    pub cache_hit: bool,
    #[diesel(serialize_as = DbTime)]
    pub created_at: DateTime<Utc>,
    #[diesel(serialize_as = DbTime)]
    pub updated_at: DateTime<Utc>,
}

/// A partial update of a job: only the fields that are `Some` change.
///
/// Nullable columns use `Option<Option<T>>`: `Some(None)` clears the column.
/// `updated_at` is always set by [`Db::update_job`](super::Db::update_job).
/// `batches_done` and `merge_enqueued` are deliberately absent: they only change through the
/// fan-in guards.
#[derive(Debug, Clone, Default, PartialEq, AsChangeset)]
#[diesel(table_name = jobs)]
pub struct JobUpdate {
    /// New phase.
    pub phase: Option<String>,
    /// New progress.
    pub pct: Option<i32>,
    /// Set or clear the error.
    pub error: Option<Option<String>>,
    /// Set or clear the snapshot.
    #[diesel(serialize_as = DbOpt<DbUuid>)]
    pub snapshot_id: Option<Option<Uuid>>,
    /// Priority.
    pub priority: Option<String>,
    /// Set or clear the upload key.
    pub upload_key: Option<Option<String>>,
    /// Upload size.
    pub upload_bytes: Option<i64>,
    /// Files discovered.
    pub files_total: Option<i32>,
    /// Parse batches fanned out.
    pub batches_total: Option<i32>,
    /// Files parsed (prefer the count carried by `incr_batches_done`).
    pub files_parsed: Option<i32>,
    /// Files reused from the parse cache.
    pub files_reused: Option<i32>,
    /// Imports seen.
    pub imports_total: Option<i32>,
    /// Internal imports.
    pub imports_internal: Option<i32>,
    /// External imports.
    pub imports_external: Option<i32>,
    /// Unresolved local imports.
    pub imports_unresolved: Option<i32>,
    /// Warnings count.
    pub warnings_count: Option<i32>,
    /// Cache hit flag.
    pub cache_hit: Option<bool>,
    /// Phase durations (replaces the whole document).
    #[diesel(serialize_as = DbJson)]
    pub timings: Option<serde_json::Value>,
    /// Set or clear the start time.
    #[diesel(serialize_as = DbOpt<DbTime>)]
    pub started_at: Option<Option<DateTime<Utc>>>,
    /// Set or clear the end time.
    #[diesel(serialize_as = DbOpt<DbTime>)]
    pub finished_at: Option<Option<DateTime<Utc>>>,
}

/// A task execution record; in embedded mode also an entry of the durable queue.
#[derive(Debug, Clone, PartialEq, Serialize, Queryable, Selectable)]
#[diesel(table_name = tasks, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct Task {
    /// Primary key (see [`task_id`](super::task_id) for ids that make enqueues idempotent).
    #[diesel(deserialize_as = DbUuid)]
    pub id: Uuid,
    /// The job, or `None` for diagnostic tasks.
    #[diesel(deserialize_as = DbOpt<DbUuid>)]
    pub job_id: Option<Uuid>,
    /// Task name (`ingest`, `parse_batch`, …).
    pub name: String,
    /// Batch number for `parse_batch`.
    pub batch_index: Option<i32>,
    /// Queue name (`high`, `normal`, `low`).
    pub queue: String,
    /// `queued`, `running`, `done` or `failed`.
    pub state: TaskState,
    /// Tries so far (1 on the first run).
    pub attempt: i32,
    /// Tries allowed in total.
    pub max_attempts: i32,
    /// The task's arguments.
    #[diesel(deserialize_as = DbJson)]
    pub payload: serde_json::Value,
    /// Not claimable before this time (retry backoff).
    #[diesel(deserialize_as = DbTime)]
    pub available_at: DateTime<Utc>,
    /// While running: the worker holds the task until then, unless it renews.
    #[diesel(deserialize_as = DbOpt<DbTime>)]
    pub lease_until: Option<DateTime<Utc>>,
    /// Name of the worker that holds or last held the task.
    pub worker: Option<String>,
    /// Start of the latest try.
    #[diesel(deserialize_as = DbOpt<DbTime>)]
    pub started_at: Option<DateTime<Utc>>,
    /// End of the latest try.
    #[diesel(deserialize_as = DbOpt<DbTime>)]
    pub ended_at: Option<DateTime<Utc>>,
    /// Error of the latest failed try.
    pub error: Option<String>,
    /// Creation time.
    #[diesel(deserialize_as = DbTime)]
    pub created_at: DateTime<Utc>,
    /// Last change.
    #[diesel(deserialize_as = DbTime)]
    pub updated_at: DateTime<Utc>,
}

/// What [`Db::insert_task`](super::Db::insert_task) needs.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTask {
    /// Id; re-inserting an existing id is a no-op.
    pub id: Uuid,
    /// The job, or `None` for diagnostic tasks.
    pub job_id: Option<Uuid>,
    /// Task name.
    pub name: String,
    /// Batch number for `parse_batch`.
    pub batch_index: Option<i32>,
    /// Queue name.
    pub queue: String,
    /// Tries allowed in total (at least 1).
    pub max_attempts: i32,
    /// Arguments.
    pub payload: serde_json::Value,
    /// Earliest claim time; `None` means now.
    pub available_at: Option<DateTime<Utc>>,
}

#[derive(Insertable, Clone)]
#[diesel(table_name = tasks)]
pub(crate) struct TaskInsert {
    #[diesel(serialize_as = DbUuid)]
    pub id: Uuid,
    #[diesel(serialize_as = DbOpt<DbUuid>)]
    pub job_id: Option<Uuid>,
    pub name: String,
    pub batch_index: Option<i32>,
    pub queue: String,
    pub state: TaskState,
    pub attempt: i32,
    pub max_attempts: i32,
    #[diesel(serialize_as = DbJson)]
    pub payload: serde_json::Value,
    #[diesel(serialize_as = DbTime)]
    pub available_at: DateTime<Utc>,
    #[diesel(serialize_as = DbTime)]
    pub created_at: DateTime<Utc>,
    #[diesel(serialize_as = DbTime)]
    pub updated_at: DateTime<Utc>,
}

/// A versioned artifact of a snapshot. `ready` turns true once the object is written.
#[derive(Debug, Clone, PartialEq, Serialize, Queryable, Selectable, Insertable)]
#[diesel(table_name = artifacts, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct Artifact {
    /// Primary key.
    #[diesel(serialize_as = DbUuid, deserialize_as = DbUuid)]
    pub id: Uuid,
    /// The snapshot.
    #[diesel(serialize_as = DbUuid, deserialize_as = DbUuid)]
    pub snapshot_id: Uuid,
    /// `tree`, `files`, `graph`, `summaries`, `capabilities` or `metrics`.
    pub kind: String,
    /// 1, 2, 3… per (snapshot, kind); latest = highest ready version.
    pub version: i32,
    /// Where the object lives (empty until finalized).
    pub uri: String,
    /// Object size (0 until finalized).
    pub bytes: i64,
    /// Version of the artifact's JSON shape.
    pub schema_version: i32,
    /// Version of provis that wrote it.
    pub generator_version: String,
    /// The job that allocated this version.
    #[diesel(serialize_as = DbOpt<DbUuid>, deserialize_as = DbOpt<DbUuid>)]
    pub job_id: Option<Uuid>,
    /// Whether the object was written and the row finalized.
    pub ready: bool,
    /// Allocation time.
    #[diesel(serialize_as = DbTime, deserialize_as = DbTime)]
    pub created_at: DateTime<Utc>,
}

/// What [`Db::allocate_artifact`](super::Db::allocate_artifact) needs.
#[derive(Debug, Clone, PartialEq)]
pub struct NewArtifact {
    /// The snapshot.
    pub snapshot_id: Uuid,
    /// Artifact kind.
    pub kind: String,
    /// The allocating job, so a retried task finds its version again.
    pub job_id: Option<Uuid>,
    /// Version of the JSON shape.
    pub schema_version: i32,
    /// Version of provis.
    pub generator_version: String,
}

/// One stored event of a job (docs/events.md).
#[derive(Debug, Clone, PartialEq, Serialize, Queryable, Selectable, Insertable)]
#[diesel(table_name = events, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct EventRow {
    /// Primary key.
    #[diesel(serialize_as = DbUuid, deserialize_as = DbUuid)]
    pub id: Uuid,
    /// The job.
    #[diesel(serialize_as = DbUuid, deserialize_as = DbUuid)]
    pub job_id: Uuid,
    /// 1, 2, 3… per job, without gaps.
    pub seq: i64,
    /// Event type (`phase`, `progress`, …); column `type`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// Event body.
    #[diesel(serialize_as = DbJson, deserialize_as = DbJson)]
    pub payload: serde_json::Value,
    /// When it was stored.
    #[diesel(serialize_as = DbTime, deserialize_as = DbTime)]
    pub created_at: DateTime<Utc>,
}

/// A non-fatal problem found while processing a job.
#[derive(Debug, Clone, PartialEq, Serialize, Queryable, Selectable, Insertable)]
#[diesel(table_name = warnings, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct Warning {
    /// Primary key, derived from the content (see [`Db::insert_warning`](super::Db::insert_warning)).
    #[diesel(serialize_as = DbUuid, deserialize_as = DbUuid)]
    pub id: Uuid,
    /// The job.
    #[diesel(serialize_as = DbUuid, deserialize_as = DbUuid)]
    pub job_id: Uuid,
    /// The snapshot, when known.
    #[diesel(serialize_as = DbOpt<DbUuid>, deserialize_as = DbOpt<DbUuid>)]
    pub snapshot_id: Option<Uuid>,
    /// The file concerned, if any.
    pub file_path: Option<String>,
    /// Machine-readable code (`parse_timeout`, `parse_crash`, …).
    pub code: String,
    /// Human-readable message.
    pub message: String,
    /// When it was recorded.
    #[diesel(serialize_as = DbTime, deserialize_as = DbTime)]
    pub created_at: DateTime<Utc>,
}

/// What [`Db::insert_warning`](super::Db::insert_warning) needs.
#[derive(Debug, Clone, PartialEq)]
pub struct NewWarning {
    /// The job.
    pub job_id: Uuid,
    /// The snapshot, when known.
    pub snapshot_id: Option<Uuid>,
    /// The file concerned, if any.
    pub file_path: Option<String>,
    /// Machine-readable code.
    pub code: String,
    /// Human-readable message.
    pub message: String,
}

/// A counted parse batch (the fan-in guard's record).
#[derive(Debug, Clone, PartialEq, Serialize, Queryable, Selectable, Insertable)]
#[diesel(table_name = batch_results, check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub struct BatchResult {
    /// The job.
    #[diesel(serialize_as = DbUuid, deserialize_as = DbUuid)]
    pub job_id: Uuid,
    /// Batch number.
    pub batch_index: i32,
    /// Files the batch parsed (added to `jobs.files_parsed` when counted).
    pub files_parsed: i32,
    /// Done marker.
    pub done: bool,
    /// When it was counted.
    #[diesel(serialize_as = DbTime, deserialize_as = DbTime)]
    pub created_at: DateTime<Utc>,
    /// The batch's parse-cache refs as JSON, for merge to index; here rather than in a work
    /// blob of its own, so merge reads every batch's in one query (against S3 that was a PUT
    /// per batch, and a GET per batch another worker parsed). `None` when unknown.
    pub cache_refs: Option<String>,
}
