//! The shapes of the API's answers (docs/http-api.md), as typed structs.
//!
//! Handlers answer these and nothing else, so the OpenAPI document ([`super::openapi`]) is
//! generated from the very types that are serialised: a field added here is documented, and
//! schemathesis checks every answer against it. Names are camelCase on the wire.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// `202` of `POST /ingest`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IngestAccepted {
    /// The repository (identified by name).
    pub repo_id: Uuid,
    /// The snapshot: one per distinct content and settings.
    pub snapshot_id: Uuid,
    /// The job that follows this upload; watch it at `/jobs/{jobId}/events`.
    pub job_id: Uuid,
    /// blake3 (64 hex digits) over the sorted (path, file hash) pairs of the accepted files.
    pub commit_hash: String,
    /// blake3 of the analysis settings.
    pub settings_hash: String,
    /// True when a completed snapshot already had this content and settings: the job is
    /// `done` at once and reuses its artifacts.
    pub cache_hit: bool,
}

impl From<crate::tasks::intake::Accepted> for IngestAccepted {
    fn from(a: crate::tasks::intake::Accepted) -> Self {
        Self {
            repo_id: a.repo_id,
            snapshot_id: a.snapshot_id,
            job_id: a.job_id,
            commit_hash: a.commit_hash,
            settings_hash: a.settings_hash,
            cache_hit: a.cache_hit,
        }
    }
}

pub use crate::error::IngestRefused;

/// The multipart body of `POST /ingest`.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct IngestForm {
    /// The repository as a zip archive.
    #[schema(value_type = String, format = Binary, content_media_type = "application/zip")]
    pub file: Vec<u8>,
    /// Repository name (default: the zip's file name without `.zip`).
    #[schema(nullable = false)]
    pub repo: Option<String>,
    /// Analysis settings, a JSON object as text; part of the snapshot's identity.
    #[schema(example = "{}", nullable = false)]
    pub settings: Option<String>,
}

/// `GET /status/{job_id}`: where a job is.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobStatus {
    /// The job.
    pub job_id: Uuid,
    /// Its repository.
    pub repo_id: Uuid,
    /// Its snapshot.
    pub snapshot_id: Uuid,
    /// `queued`, `acquiring`, `discovering`, `parsing`, `merging`, `mapping`, `summarizing`,
    /// `finalizing`, `done` or `failed`.
    #[schema(example = "parsing")]
    pub phase: String,
    /// Progress, 0 to 100 (100 once `done` or `failed`).
    #[schema(minimum = 0, maximum = 100)]
    pub pct: i32,
    /// Files found by discovery.
    pub files_discovered: i64,
    /// Files parsed so far.
    pub files_parsed: i64,
    /// Files whose parse records came from the parse cache (content-addressed, shared by every
    /// worker) instead of being parsed again: unchanged files of an earlier upload of the
    /// repository. Only parsed files count (the records of files that are not parsed come from
    /// the cache too). Known once the parse batches are merged (0 before).
    pub files_reused: i64,
    /// Imports seen.
    pub imports_total: i64,
    /// Imports that resolve to a file of the snapshot.
    pub imports_internal: i64,
    /// Imports of packages or standard-library modules.
    pub imports_external: i64,
    /// Warnings so far.
    pub warnings_count: i64,
    /// Why the job failed (`<code>: <message>`); null unless `failed`.
    pub error: Option<String>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<crate::events::Status> for JobStatus {
    fn from(s: crate::events::Status) -> Self {
        Self {
            job_id: s.job_id,
            repo_id: s.repo_id,
            snapshot_id: s.snapshot_id,
            phase: s.phase,
            pct: s.pct,
            files_discovered: s.files_discovered,
            files_parsed: s.files_parsed,
            files_reused: s.files_reused,
            imports_total: s.imports_total,
            imports_internal: s.imports_internal,
            imports_external: s.imports_external,
            warnings_count: s.warnings_count,
            error: s.error,
            updated_at: s.updated_at,
        }
    }
}

/// One message of `GET /jobs/{job_id}/events` (its `id:`, `event:` and `data:` lines).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SseMessage {
    /// The event's `seq`; send it back as `Last-Event-ID` to resume after it.
    #[schema(example = "7")]
    pub id: String,
    /// The event type: `upload_received`, `cache_hit`, `phase`, `progress`, `files_total`,
    /// `batch_parsed`, `artifact_ready`, `imports_metrics`, `warning`, `error` or `done`.
    #[schema(example = "phase")]
    pub event: String,
    /// The event as JSON: `{"id","seq","type","timestamp","jobId","payload"}`.
    #[schema(
        example = r#"{"id":"7","seq":7,"type":"phase","timestamp":"2026-01-01T00:00:00Z","jobId":"…","payload":{"phase":"parsing","pct":35}}"#
    )]
    pub data: String,
}

/// `GET /repos/{repo_id}/snapshots/{snapshot_id}/artifacts`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactList {
    /// The snapshot.
    pub snapshot_id: Uuid,
    /// Every written version of every kind, oldest first.
    pub artifacts: Vec<ArtifactItem>,
}

/// One artifact version.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ArtifactItem {
    /// `tree`, `files`, `graph`, `summaries`, `capabilities` or `metrics`.
    pub kind: String,
    /// 1, 2, 3 … per kind; the latest is the highest.
    pub version: i32,
    /// Size in bytes.
    pub bytes: i64,
    /// When the version was allocated.
    pub created_at: DateTime<Utc>,
    /// Where it is stored: `s3://bucket/key`, or `local:key` (the key under the server's
    /// artifact directory; never the server's absolute path).
    pub uri: String,
    /// Version of the document's shape.
    pub schema_version: i32,
    /// Version of provis that wrote it.
    pub generator_version: String,
    /// With `presign=true`: a presigned S3 URL (expires after `PRESIGN_TTL_S`), or the API
    /// path that serves this version when storage is local.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// With `presign=true`: why no URL could be made.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url_error: Option<String>,
}

/// The artifact kinds, as a path parameter.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ArtifactKindParam {
    /// Directory tree of the snapshot.
    Tree,
    /// Every file with its imports, exports, functions, classes and routes.
    Files,
    /// The import graph.
    Graph,
    /// Per-file and per-capability summaries.
    Summaries,
    /// Detected capabilities.
    Capabilities,
    /// Counts and timings of the job.
    Metrics,
}

/// `GET /health`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok`, or `degraded` when a dependency is down (then the answer is 503).
    pub status: HealthStatus,
    /// Version of provis.
    pub version: String,
    /// One check per dependency.
    pub checks: HealthChecks,
    /// Names of the failing checks.
    pub failing: Vec<String>,
}

/// Overall health.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// Every dependency answers.
    Ok,
    /// At least one does not.
    Degraded,
}

/// The checks of `/health`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HealthChecks {
    /// Postgres or SQLite.
    pub database: Check,
    /// Redis (or the in-process queue when Redis is not configured).
    pub redis: Check,
    /// S3 or the local artifact directory.
    pub storage: Check,
}

/// One dependency's check.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Check {
    /// `ok` or `down`.
    pub status: CheckStatus,
    /// Which backend answered (`postgres`, `sqlite`, `redis`, `s3`, `local` …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    /// Why it is down.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A check's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    /// Answers.
    Ok,
    /// Does not.
    Down,
}

impl Check {
    /// The check of a probe's result: the backend's name, or why it failed.
    pub fn of(result: Result<String, String>) -> Check {
        match result {
            Ok(backend) => Check {
                status: CheckStatus::Ok,
                backend: Some(backend),
                error: None,
            },
            Err(e) => Check {
                status: CheckStatus::Down,
                backend: None,
                error: Some(e),
            },
        }
    }

    /// Whether the dependency answered.
    pub fn is_ok(&self) -> bool {
        self.status == CheckStatus::Ok
    }
}

/// `GET /health` of a worker's metrics port: the process is alive.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Liveness {
    /// Always `ok` (an answer at all is the signal).
    pub status: HealthStatus,
    /// `worker`.
    pub role: String,
    /// The worker's name, as `rq info` shows it.
    pub worker: String,
    /// Version of provis.
    pub version: String,
}

/// `GET /repos`: one page of repositories, by name.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RepoList {
    /// The repositories of this page.
    pub repos: Vec<RepoItem>,
    /// How many repositories there are in all.
    pub total: i64,
    /// The page size asked for.
    pub limit: i64,
    /// How many were skipped.
    pub offset: i64,
}

/// One repository.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RepoItem {
    /// The repository's id.
    pub id: Uuid,
    /// Its unique name.
    pub name: String,
    /// When it was first uploaded.
    pub created_at: DateTime<Utc>,
    /// How many snapshots it has.
    pub snapshots: i64,
    /// Its newest snapshot, whatever its status.
    pub latest_snapshot: Option<SnapshotItem>,
}

/// `GET /repos/{repo_id}/snapshots`: one page of a repository's snapshots, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotList {
    /// The repository.
    pub repo_id: Uuid,
    /// Its name.
    pub repo_name: String,
    /// The snapshots of this page.
    pub snapshots: Vec<SnapshotItem>,
    /// How many snapshots the repository has in all.
    pub total: i64,
    /// The page size asked for.
    pub limit: i64,
    /// How many were skipped.
    pub offset: i64,
}

/// One snapshot: an analysed state of a repository (one per content and settings).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotItem {
    /// The snapshot's id.
    pub id: Uuid,
    /// Its repository.
    pub repo_id: Uuid,
    /// blake3 over the accepted files (the "commit" of a zip).
    pub commit_hash: String,
    /// blake3 of the analysis settings.
    pub settings_hash: String,
    /// `processing`, `completed` or `failed`; only completed snapshots have artifacts to
    /// browse.
    pub status: SnapshotStatusParam,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Its last status change.
    pub updated_at: DateTime<Utc>,
    /// The newest job that built or re-used it (follow it at `/jobs/{jobId}/events`).
    pub job_id: Option<Uuid>,
    /// That job's phase.
    pub phase: Option<String>,
    /// That job's error, when it failed.
    pub error: Option<String>,
}

/// A snapshot's status on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SnapshotStatusParam {
    /// A job is building its artifacts.
    Processing,
    /// Every artifact was written.
    Completed,
    /// The job that built it failed.
    Failed,
}

impl From<crate::db::SnapshotStatus> for SnapshotStatusParam {
    fn from(s: crate::db::SnapshotStatus) -> Self {
        use crate::db::SnapshotStatus as S;
        match s {
            S::Processing => Self::Processing,
            S::Completed => Self::Completed,
            S::Failed => Self::Failed,
        }
    }
}

impl SnapshotItem {
    /// The wire form of a snapshot row and its newest job.
    pub fn of(s: &crate::db::Snapshot, job: Option<&crate::db::Job>) -> Self {
        Self {
            id: s.id,
            repo_id: s.repo_id,
            commit_hash: s.commit_hash.clone(),
            settings_hash: s.settings_hash.clone(),
            status: s.status.into(),
            created_at: s.created_at,
            updated_at: s.updated_at,
            job_id: job.map(|j| j.id),
            phase: job.map(|j| j.phase.clone()),
            error: job.and_then(|j| j.error.clone()),
        }
    }
}
