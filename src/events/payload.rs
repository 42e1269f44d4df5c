//! The payload of each event type, typed: one struct per type, camelCase on the wire.
//!
//! An emitter hands one of these to `tasks::progress::emit`, which takes the event type from
//! the payload ([`Payload::TYPE`]), so a field cannot be misspelt and no type can be sent with
//! another type's payload. docs/events.md lists them field by field.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::types;

/// A typed event payload and the event type it is sent under.
pub trait Payload: Serialize {
    /// The event type (one of [`types::ALL`]).
    const TYPE: &'static str;
}

/// The payload as the JSON stored in the `events` row and sent on the stream. These structs
/// hold strings, numbers and string-keyed maps only, so serialising cannot fail; were it ever
/// to, the event still goes out, with a `null` payload, and the cause is logged.
pub fn to_value<P: Payload>(payload: &P) -> serde_json::Value {
    serde_json::to_value(payload).unwrap_or_else(|e| {
        tracing::error!(event = P::TYPE, error = %e, "event payload did not serialise");
        serde_json::Value::Null
    })
}

macro_rules! payload_type {
    ($($name:ident => $ty:path,)*) => {
        $(impl Payload for $name { const TYPE: &'static str = $ty; })*
    };
}

payload_type! {
    UploadReceived => types::UPLOAD_RECEIVED,
    CacheHit => types::CACHE_HIT,
    Phase => types::PHASE,
    Progress => types::PROGRESS,
    FilesTotal => types::FILES_TOTAL,
    BatchParsed => types::BATCH_PARSED,
    ArtifactReady => types::ARTIFACT_READY,
    ImportsMetrics => types::IMPORTS_METRICS,
    Warning => types::WARNING,
    FileWarnings => types::WARNING,
    Error => types::ERROR,
    Done => types::DONE,
}

/// `upload_received`: the upload was stored (and, when accepted, inspected).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadReceived {
    /// Bytes received.
    pub bytes: u64,
    /// Repository name.
    pub repo: String,
    /// Files the archive holds (absent when the archive was refused or the job is a cache hit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<usize>,
    /// Content hash of the archive's files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_hash: Option<String>,
    /// Hash of the settings that change results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings_hash: Option<String>,
    /// Entries skipped (not files, or outside the limits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<usize>,
}

/// `cache_hit`: the same content and settings were analysed before; artifacts are reused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CacheHit {
    /// The completed snapshot reused.
    pub snapshot_id: Uuid,
    /// Its content hash.
    pub commit_hash: String,
    /// Its settings hash.
    pub settings_hash: String,
}

/// `phase`: the job entered a phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Phase {
    /// The phase (`acquiring`, `discovering`, … `done`).
    pub phase: String,
    /// The job's percentage at its start.
    pub pct: i32,
}

/// `progress`: the percentage rose inside a phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// The job's current phase.
    pub phase: String,
    /// The new percentage.
    pub pct: i32,
}

/// `files_total`: discovery finished.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FilesTotal {
    /// Files to analyse.
    pub count: usize,
    /// Parse batches enqueued.
    pub batches: usize,
    /// Files whose parse record was reused from the parse cache.
    pub cached: usize,
}

/// `batch_parsed`: one parse batch finished.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchParsed {
    /// The batch (0-based).
    pub batch_index: u32,
    /// Files in the batch.
    pub files: usize,
    /// Files parsed without error.
    pub parsed: i32,
    /// File warnings the batch raised.
    pub warnings: usize,
    /// Batches finished so far.
    pub batches_done: i32,
    /// Batches in all.
    pub batches_total: i32,
    /// Files parsed so far.
    pub files_parsed: i32,
}

/// `artifact_ready`: an artifact version was written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArtifactReady {
    /// The kind (`tree`, `files`, `graph`, …).
    pub kind: String,
    /// Its version.
    pub version: i32,
    /// Stored size.
    pub bytes: i64,
    /// Where it is stored (`s3://…` or `local:…`).
    pub uri: String,
}

/// `imports_metrics`: import counts after mapping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportsMetrics {
    /// Imports in all.
    pub imports_total: i32,
    /// Resolved to a file of the repository.
    pub imports_internal: i32,
    /// Of a package outside it.
    pub imports_external: i32,
    /// Relative or aliased imports that resolve to nothing.
    pub unresolved_local: i32,
    /// Import cycles (strongly connected components of more than one file).
    pub cycles: usize,
}

/// `warning`: a non-fatal problem of one file, or of the job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Warning {
    /// Stable code (`parse_error`, `no_llm`, …).
    pub code: String,
    /// For people.
    pub message: String,
    /// The file, for a per-file warning; `null` for a job-wide one (always present).
    pub path: Option<String>,
}

impl Warning {
    /// A warning about one file (`path`), or the job (`None`, sent as `"path": null`).
    pub fn of_file(code: &str, message: &str, path: Option<&str>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            path: path.map(str::to_string),
        }
    }
}

/// `warning` with code `file_warnings`: the sum of the file warnings of one batch (or of the
/// files merge parsed itself); it has no `path`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileWarnings {
    /// Always `file_warnings`.
    pub code: String,
    /// For people.
    pub message: String,
    /// How many file warnings it stands for.
    pub count: usize,
    /// The batch, when it sums up one batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_index: Option<u32>,
}

impl FileWarnings {
    /// The summary of `count` file warnings (of batch `batch_index`, when one batch's).
    pub fn new(count: usize, batch_index: Option<u32>, message: String) -> Self {
        Self {
            code: "file_warnings".into(),
            message,
            count,
            batch_index,
        }
    }
}

/// `error`: the job failed when `terminal` is true.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Error {
    /// Why (`parse_timeout`, `path_traversal`, `intake_failed`, …).
    pub code: String,
    /// For people.
    pub message: String,
    /// True when the job failed (retries exhausted or a fatal error): the stream ends here.
    pub terminal: bool,
}

/// `done`: the job finished. Its payload is the `metrics` document: the one finalize wrote,
/// or, on a cache hit, the reused snapshot's document as stored (whatever provis version wrote
/// it) with `cacheHit` and `jobId` set; a cache hit whose metrics cannot be read sends only
/// what it knows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Done {
    /// The metrics document (finalize writes it as the `metrics` artifact too).
    Metrics(JobMetrics),
    /// A cache hit's: the stored metrics document with `cacheHit: true` and this `jobId`.
    Stored(serde_json::Value),
    /// A cache hit without readable metrics.
    #[serde(rename_all = "camelCase")]
    Bare {
        /// Always true here.
        cache_hit: bool,
        /// The snapshot reused.
        snapshot_id: Uuid,
    },
}

/// The `metrics` artifact of a snapshot, and the payload of `done`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobMetrics {
    /// The job that wrote it (on a cache hit: the job that reused it).
    pub job_id: Uuid,
    /// Its repository.
    pub repo_id: Uuid,
    /// Its snapshot.
    pub snapshot_id: Uuid,
    /// Files analysed.
    pub files_count: i32,
    /// Files parsed (absent in metrics written before it existed: read as `files_count`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files_parsed: Option<i32>,
    /// Files whose parse record was reused.
    #[serde(default)]
    pub files_reused: i32,
    /// Upload size.
    #[serde(default)]
    pub bytes: i64,
    /// Imports in all.
    #[serde(default)]
    pub imports_total: i32,
    /// Resolved inside the repository.
    #[serde(default)]
    pub imports_internal: i32,
    /// Of packages outside it.
    #[serde(default)]
    pub imports_external: i32,
    /// Local imports that resolve to nothing.
    #[serde(default)]
    pub unresolved_local: i32,
    /// Warnings recorded.
    #[serde(default)]
    pub warnings_count: i64,
    /// Milliseconds spent per phase.
    #[serde(default)]
    pub phase_durations_ms: BTreeMap<String, i64>,
    /// From upload to the first task's start.
    #[serde(default)]
    pub queue_wait_ms: i64,
    /// From upload to done.
    #[serde(default)]
    pub total_ms: i64,
    /// True only in the `done` of a cache hit (the stored document says false).
    #[serde(default)]
    pub cache_hit: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_keep_their_wire_names() {
        let w = serde_json::to_value(Warning::of_file("no_llm", "m", None)).expect("json");
        assert_eq!(
            w,
            serde_json::json!({"code": "no_llm", "message": "m", "path": null})
        );
        let b = serde_json::to_value(BatchParsed {
            batch_index: 1,
            files: 2,
            parsed: 2,
            warnings: 0,
            batches_done: 1,
            batches_total: 3,
            files_parsed: 4,
        })
        .expect("json");
        assert_eq!(b["batchIndex"], 1);
        assert_eq!(b["filesParsed"], 4);
        assert_eq!(<Done as Payload>::TYPE, "done");
    }

    #[test]
    fn old_metrics_without_files_parsed_still_read() {
        let id = Uuid::nil();
        let m: JobMetrics = serde_json::from_value(serde_json::json!({
            "jobId": id, "repoId": id, "snapshotId": id, "filesCount": 3
        }))
        .expect("reads");
        assert_eq!(m.files_parsed, None);
        assert_eq!(m.files_count, 3);
    }
}
