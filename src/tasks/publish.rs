//! Writing and reading versioned artifacts: a version from the database, bytes to the store.
//!
//! A version is allocated through the `artifacts` unique key, so concurrent writers of one kind
//! get distinct versions; the row remembers which job allocated it, so a retried task reuses
//! its own version instead of writing a second one, and the create-only store turns a repeated
//! write of the same key into a no-op. The row is marked ready only once the bytes are stored.

use crate::artifacts::{artifact_key, work_key, ArtifactError, ArtifactKind, CONTENT_TYPE_JSON};
use crate::db::{Artifact, Job, NewArtifact, Snapshot};
use crate::events;
use crate::pipeline::encoded::{self, EncodedRecord};
use crate::queue::{QueueBackend, TaskError, TaskResultExt};
use crate::tasks::context::AppContext;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;

/// Version of the artifact documents' shape; bumped when a field changes meaning.
pub const SCHEMA_VERSION: i32 = 1;

/// Version of the code that generated an artifact.
pub const GENERATOR_VERSION: &str = concat!("provis ", env!("CARGO_PKG_VERSION"));

fn store_err(e: ArtifactError) -> TaskError {
    if e.retryable() {
        TaskError::Retry(e.to_string())
    } else {
        TaskError::Fail(e.to_string())
    }
}

/// An artifact document with the version fields every artifact carries at its top level.
#[derive(Serialize)]
struct Versioned<'a, T: ?Sized> {
    #[serde(flatten)]
    doc: &'a T,
    #[serde(rename = "schemaVersion")]
    schema_version: i32,
    #[serde(rename = "generatorVersion")]
    generator_version: &'static str,
}

/// Writes `doc` as the job's artifact of `kind` (idempotent per job) and announces it.
///
/// `schemaVersion` and `generatorVersion` are added to the document's top level (`doc` must
/// serialize as a JSON object: a typed document or a `Value::Object`). The document is
/// serialized straight into the store through a buffered writer on a blocking thread: no
/// intermediate `Value` tree and no whole-document buffer, whatever its size.
pub async fn write_artifact<T>(
    ctx: &AppContext,
    job: &Job,
    snapshot: &Snapshot,
    kind: ArtifactKind,
    doc: T,
) -> Result<Artifact, TaskError>
where
    T: Serialize + Send + Sync + 'static,
{
    let db = ctx.db();
    let existing = db
        .artifact_for_job(snapshot.id, kind.as_str(), job.id)
        .await
        .retryable()?;
    if let Some(a) = &existing {
        if a.ready {
            return Ok(a.clone());
        }
    }
    let row = match existing {
        Some(a) => a,
        None => db
            .allocate_artifact(&NewArtifact {
                snapshot_id: snapshot.id,
                kind: kind.as_str().to_string(),
                job_id: Some(job.id),
                schema_version: SCHEMA_VERSION,
                generator_version: GENERATOR_VERSION.to_string(),
            })
            .await
            .retryable()?,
    };
    let key = key_of(snapshot, kind, row.version).map_err(store_err)?;
    let store = ctx.artifacts().clone();
    let scratch = ctx.scratch().to_path_buf();
    let key2 = key.clone();
    let written = tokio::task::spawn_blocking(move || {
        let versioned = Versioned {
            doc: &doc,
            schema_version: SCHEMA_VERSION,
            generator_version: GENERATOR_VERSION,
        };
        store.put_new_writer_blocking(&key2, CONTENT_TYPE_JSON, &scratch, true, &mut |w| {
            write_json(w, &versioned)
        })
    })
    .await
    .map_err(|e| {
        TaskError::Retry(format!(
            "writing the {} artifact panicked: {e}",
            kind.as_str()
        ))
    })?;
    let (uri, size) = match written {
        Ok((uri, size)) => (uri, size as i64),
        // An earlier attempt of this task stored it before dying: the key is this job's own.
        Err(ArtifactError::AlreadyExists { .. }) => {
            let size = ctx.artifacts().head(&key).await.map_err(store_err)?;
            (ctx.artifacts().uri(&key), size.unwrap_or(0) as i64)
        }
        Err(e) => return Err(store_err(e)),
    };
    let stored = db.finalize_artifact(row.id, &uri, size).await.retryable()?;
    ::metrics::counter!(crate::telemetry::metrics::ARTIFACTS_CREATED_TOTAL, "kind" => kind.as_str()).increment(1);
    let ready = events::payload::ArtifactReady {
        kind: kind.as_str().to_string(),
        version: stored.version,
        bytes: size,
        uri,
    };
    super::progress::emit(ctx, job.id, &ready).await?;
    Ok(stored)
}

/// The storage key of a snapshot's artifact version (docs/artifacts.md#storage).
pub fn key_of(
    snapshot: &Snapshot,
    kind: ArtifactKind,
    version: i32,
) -> Result<String, ArtifactError> {
    artifact_key(
        snapshot.repo_id,
        &snapshot.commit_hash,
        &snapshot.settings_hash,
        kind,
        version.max(0) as u32,
    )
}

/// Reads an artifact row's document.
pub async fn read_artifact(
    ctx: &AppContext,
    snapshot: &Snapshot,
    row: &Artifact,
) -> Result<Value, TaskError> {
    let bytes = ctx
        .artifacts()
        .get(&row_key(snapshot, row)?)
        .await
        .map_err(store_err)?;
    crate::pipeline::json::decode(&bytes).fatal()
}

/// Reads the document this job wrote for `kind` (the input of the next stage), straight into
/// `T` (a typed view of the fields the stage needs; no intermediate `Value` tree).
pub async fn read_job_artifact<T: DeserializeOwned>(
    ctx: &AppContext,
    job: &Job,
    snapshot: &Snapshot,
    kind: ArtifactKind,
) -> Result<T, TaskError> {
    let row = ctx
        .db()
        .artifact_for_job(snapshot.id, kind.as_str(), job.id)
        .await
        .retryable()?
        .filter(|a| a.ready)
        .ok_or_else(|| {
            TaskError::Retry(format!(
                "the {} artifact of this job is not written yet",
                kind.as_str()
            ))
        })?;
    let bytes = ctx
        .artifacts()
        .get(&row_key(snapshot, &row)?)
        .await
        .map_err(store_err)?;
    crate::pipeline::json::decode(&bytes).fatal()
}

/// The store key of an artifact row.
fn row_key(snapshot: &Snapshot, row: &Artifact) -> Result<String, TaskError> {
    let kind: ArtifactKind = row
        .kind
        .parse()
        .map_err(|e| TaskError::Fail(format!("{e}")))?;
    key_of(snapshot, kind, row.version).map_err(store_err)
}

/// The intermediate results a job keeps under `work/{job}/…` between its tasks, by what they
/// hold. The names are the object names in the store (and the memo's keys), so they are
/// written in one place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkBlob {
    /// The upload's manifest (`ingest`).
    Manifest,
    /// Every discovered file (`discover`).
    Discovered,
    /// `(position, pack)` of each file whose record merge loads from the parse cache
    /// (`Vec<(u32, String)>`, `discover`); the parse batches take every other file, in order.
    /// Absent for a job discovered before files were split: then the batches take every file.
    Reused,
    /// Batch `n`'s slice of the files to parse (`discover`).
    Plan(u32),
    /// Batch `n`'s parse records (`parse_batch`).
    Batch(u32),
    /// Batch `n`'s parse-cache references with the in-process queue (a cluster keeps them in
    /// `batch_results.cache_refs`; versions before that column wrote this blob there too).
    Cache(u32),
}

impl WorkBlob {
    /// The object name under `work/{job}/`.
    pub fn name(self) -> String {
        match self {
            WorkBlob::Manifest => "manifest".to_string(),
            WorkBlob::Discovered => "discovered".to_string(),
            WorkBlob::Reused => "reused".to_string(),
            WorkBlob::Plan(n) => format!("plan-{n}"),
            WorkBlob::Batch(n) => format!("batch-{n}"),
            WorkBlob::Cache(n) => format!("cache-{n}"),
        }
    }
}

/// Stores an intermediate blob of a job (parse batch results) under `work/{job}/…`, serialized
/// straight from `doc`. Create-only; a repeated write by a retried task is not an error.
pub async fn put_work_blob<T: Serialize + ?Sized>(
    ctx: &AppContext,
    job: &Job,
    blob: WorkBlob,
    doc: &T,
) -> Result<(), TaskError> {
    let key = work_key(job.id, &blob.name());
    let bytes = serde_json::to_vec(doc).fatal()?;
    match ctx
        .artifacts()
        .put_new(&key, bytes, CONTENT_TYPE_JSON)
        .await
    {
        Ok(_) | Err(ArtifactError::AlreadyExists { .. }) => Ok(()),
        Err(e) => Err(store_err(e)),
    }
}

/// Reads an intermediate blob of a job straight into `T` (no intermediate `Value` tree: the
/// blobs are megabytes of records, read by every batch and stage).
pub async fn get_work_blob<T: DeserializeOwned>(
    ctx: &AppContext,
    job: &Job,
    blob: WorkBlob,
) -> Result<T, TaskError> {
    let bytes = ctx
        .artifacts()
        .get(&work_key(job.id, &blob.name()))
        .await
        .map_err(store_err)?;
    crate::pipeline::json::decode(&bytes).fatal()
}

/// Stores an intermediate result of a job under `work/{job}/…` in the compact work-blob
/// encoding, and keeps it in this process's [memo](super::memo) so a later stage here skips the
/// store. Create-only; a repeated write by a retried task is not an error. Not synced: a blob
/// that a power loss tears is redone by its task (the database behind the queue is not synced
/// at every commit either).
pub async fn put_work_value<T>(
    ctx: &AppContext,
    job: &Job,
    blob: WorkBlob,
    value: Arc<T>,
) -> Result<(), TaskError>
where
    T: Serialize + Send + Sync + 'static,
{
    let name = blob.name();
    let shared = Arc::clone(&value);
    let bytes = store_work(ctx, job, &name, move |w| encode_work(w, &*shared)).await?;
    ctx.memo().put(job.id, &name, value, bytes);
    Ok(())
}

/// Writes the work blob `name` of a job, its bytes produced by `write` on a blocking thread;
/// a blob an earlier attempt wrote counts as written. Returns the bytes written (0 then).
async fn store_work<F>(
    ctx: &AppContext,
    job: &Job,
    name: &str,
    mut write: F,
) -> Result<u64, TaskError>
where
    F: FnMut(&mut dyn std::io::Write) -> std::io::Result<()> + Send + 'static,
{
    let key = work_key(job.id, name);
    let store = ctx.artifacts().clone();
    let scratch = ctx.scratch().to_path_buf();
    let written = tokio::task::spawn_blocking(move || {
        store.put_new_writer_blocking(&key, CONTENT_TYPE_WORK, &scratch, false, &mut write)
    })
    .await
    .map_err(|e| TaskError::Retry(format!("writing work blob {name} panicked: {e}")))?;
    match written {
        Ok((_, bytes)) => Ok(bytes),
        Err(ArtifactError::AlreadyExists { .. }) => Ok(0),
        Err(e) => Err(store_err(e)),
    }
}

/// A work value that this process keeps encoded in its memo (see [`put_work_records`]).
pub struct Encoded(pub bytes::Bytes);

/// Stores a job's parse records (a batch's) as the work blob `blob`, written from their
/// encoding as it is (the bytes of the decoded `Vec<FileRecord>`), and keeps those bytes in the
/// memo for merge.
///
/// Kept decoded, 53.6k files' records grew the process by about 400 MB during parsing, spread
/// over the allocator's arenas by whichever thread decoded them; encoded they are a fraction
/// of that in one block per batch, and merge decodes them together (see [`take_work_part`]).
///
/// With the in-process queue every task of a job runs in this process, and the records stay
/// in the memo only: writing them too was a file per batch (about 150 MB at 53.6k files,
/// written and deleted again within the job). A batch lost with a restart, or evicted from
/// the memo, is parsed again by merge.
pub async fn put_work_records(
    ctx: &AppContext,
    job: &Job,
    blob: WorkBlob,
    records: &[EncodedRecord],
) -> Result<(), TaskError> {
    let name = blob.name();
    // A batch's records are a few hundred KB: joined here, once, for the store and the memo.
    let mut joined =
        Vec::with_capacity(records.iter().map(|r| r.json.len() + 1).sum::<usize>() + 2);
    encoded::write_array(&mut joined, records).fatal()?;
    let joined = bytes::Bytes::from(joined);
    if matches!(ctx.queue(), QueueBackend::Redis(_)) {
        let written = joined.clone();
        store_work(ctx, job, &name, move |w| w.write_all(&written)).await?;
    }
    let size = joined.len() as u64;
    ctx.memo()
        .put(job.id, &name, Arc::new(Encoded(joined)), size);
    Ok(())
}

/// A work value as the memo or the store has it: decoded already, or bytes still to decode.
/// Lets a stage that reads many blobs fetch them first and decode them together, on all cores.
pub enum WorkPart<T> {
    /// Decoded (the memo held the value).
    Value(Arc<T>),
    /// Encoded (the memo held the bytes, or they came from the store).
    Bytes(bytes::Bytes),
}

impl<T: DeserializeOwned + Clone> WorkPart<T> {
    /// The value, decoding it when needed (CPU-bound: call it on a blocking thread).
    pub fn into_value(self) -> Result<T, TaskError> {
        match self {
            WorkPart::Value(v) => Ok(Arc::try_unwrap(v).unwrap_or_else(|shared| (*shared).clone())),
            WorkPart::Bytes(b) => {
                decode_work(&b).map_err(|e| TaskError::Fail(format!("work blob is corrupt: {e}")))
            }
        }
    }
}

/// Removes the job's work value `name` from the memo, decoded or encoded, or else reads its
/// bytes from the store; decoding is left to the caller.
pub async fn take_work_part<T>(
    ctx: &AppContext,
    job: &Job,
    blob: WorkBlob,
) -> Result<WorkPart<T>, TaskError>
where
    T: Send + Sync + 'static,
{
    let name = blob.name();
    if let Some(v) = ctx.memo().take::<T>(job.id, &name) {
        return Ok(WorkPart::Value(v));
    }
    if let Some(e) = ctx.memo().take::<Encoded>(job.id, &name) {
        return Ok(WorkPart::Bytes(e.0.clone()));
    }
    let bytes = ctx
        .artifacts()
        .get(&work_key(job.id, &name))
        .await
        .map_err(store_err)?;
    Ok(WorkPart::Bytes(bytes))
}

/// The job's work value `name`: from this process's memo (decoded, or encoded by
/// [`put_work_records`]), else read from the store and decoded (on a blocking thread: at 50k
/// files a blob is tens of MB).
pub async fn get_work_value<T>(
    ctx: &AppContext,
    job: &Job,
    blob: WorkBlob,
) -> Result<Arc<T>, TaskError>
where
    T: DeserializeOwned + Send + Sync + 'static,
{
    let name = blob.name();
    if let Some(v) = ctx.memo().get::<T>(job.id, &name) {
        return Ok(v);
    }
    if let Some(e) = ctx.memo().get::<Encoded>(job.id, &name) {
        return decode_blocking(e.0.clone(), name).await;
    }
    read_work_value(ctx, job, &name).await
}

/// Like [`get_work_value`], but removes the value from the memo (its last reader).
pub async fn take_work_value<T>(
    ctx: &AppContext,
    job: &Job,
    blob: WorkBlob,
) -> Result<Arc<T>, TaskError>
where
    T: DeserializeOwned + Send + Sync + 'static,
{
    let name = blob.name();
    if let Some(v) = ctx.memo().take::<T>(job.id, &name) {
        return Ok(v);
    }
    if let Some(e) = ctx.memo().take::<Encoded>(job.id, &name) {
        return decode_blocking(e.0.clone(), name).await;
    }
    read_work_value(ctx, job, &name).await
}

async fn read_work_value<T>(ctx: &AppContext, job: &Job, name: &str) -> Result<Arc<T>, TaskError>
where
    T: DeserializeOwned + Send + Sync + 'static,
{
    let bytes = ctx
        .artifacts()
        .get(&work_key(job.id, name))
        .await
        .map_err(store_err)?;
    decode_blocking(bytes, name.to_string()).await
}

async fn decode_blocking<T>(bytes: bytes::Bytes, name: String) -> Result<Arc<T>, TaskError>
where
    T: DeserializeOwned + Send + Sync + 'static,
{
    tokio::task::spawn_blocking(move || decode_work::<T>(&bytes).map(Arc::new))
        .await
        .map_err(|e| TaskError::Retry(format!("decoding work blob {name} panicked: {e}")))?
        .map_err(|e| TaskError::Fail(format!("work blob is corrupt: {e}")))
}

/// Content type of work blobs.
pub const CONTENT_TYPE_WORK: &str = "application/json";

/// Encodes a work value (internal; its format may change with the generator version). JSON,
/// which [`put_work_records`] writes directly from the parsers' bytes: the two change together.
pub fn encode_work<T: Serialize + ?Sized>(
    w: &mut dyn std::io::Write,
    value: &T,
) -> std::io::Result<()> {
    write_json(w, value)
}

/// Writes `value` as JSON to a store's writer. The serializer writes token by token: through
/// a buffer of its own type each write is a copy, not a call through `dyn Write` (150 MB of
/// `files`, ~20 MB of manifest and plan at 50k files).
fn write_json<T: Serialize + ?Sized>(w: &mut dyn std::io::Write, value: &T) -> std::io::Result<()> {
    let mut buffered = std::io::BufWriter::with_capacity(64 << 10, w);
    serde_json::to_writer(&mut buffered, value).map_err(std::io::Error::from)?;
    std::io::Write::flush(&mut buffered)
}

/// Decodes a work value written by [`encode_work`].
pub fn decode_work<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    crate::pipeline::json::decode(bytes).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::WorkBlob;

    /// The names are object keys in the store: a job in flight across an upgrade reads what
    /// the older version wrote, so they must not change.
    #[test]
    fn work_blob_names_are_stable() {
        let names: Vec<String> = [
            WorkBlob::Manifest,
            WorkBlob::Discovered,
            WorkBlob::Reused,
            WorkBlob::Plan(3),
            WorkBlob::Batch(0),
            WorkBlob::Cache(12),
        ]
        .into_iter()
        .map(WorkBlob::name)
        .collect();
        assert_eq!(
            names,
            [
                "manifest",
                "discovered",
                "reused",
                "plan-3",
                "batch-0",
                "cache-12"
            ]
        );
    }
}
