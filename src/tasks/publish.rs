//! Writing and reading versioned artifacts: a version from the database, bytes to the store.
//!
//! A version is allocated through the `artifacts` unique key, so concurrent writers of one kind
//! get distinct versions; the row remembers which job allocated it, so a retried task reuses
//! its own version instead of writing a second one, and the create-only store turns a repeated
//! write of the same key into a no-op. The row is marked ready only once the bytes are stored.

use crate::artifacts::{artifact_key, work_key, ArtifactError, ArtifactKind, CONTENT_TYPE_JSON};
use crate::context::AppContext;
use crate::db::{Artifact, Job, NewArtifact, Snapshot};
use crate::events;
use crate::queue::{TaskError, TaskResultExt};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};

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

/// Writes `doc` as the job's artifact of `kind` (idempotent per job) and announces it.
///
/// `schemaVersion` and `generatorVersion` are added to the document's top level.
pub async fn write_artifact(
    ctx: &AppContext,
    job: &Job,
    snapshot: &Snapshot,
    kind: ArtifactKind,
    mut doc: Value,
) -> Result<Artifact, TaskError> {
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
    if let Value::Object(map) = &mut doc {
        map.insert("schemaVersion".into(), json!(SCHEMA_VERSION));
        map.insert("generatorVersion".into(), json!(GENERATOR_VERSION));
    }
    let bytes = serde_json::to_vec(&doc).fatal()?;
    let size = bytes.len() as i64;
    let key = key_of(snapshot, kind, row.version).map_err(store_err)?;
    let uri = match ctx
        .artifacts()
        .put_new(&key, bytes, CONTENT_TYPE_JSON)
        .await
    {
        Ok(uri) => uri,
        // An earlier attempt of this task stored it before dying: the key is this job's own.
        Err(ArtifactError::AlreadyExists { .. }) => ctx.artifacts().uri(&key),
        Err(e) => return Err(store_err(e)),
    };
    let stored = db.finalize_artifact(row.id, &uri, size).await.retryable()?;
    ::metrics::counter!(crate::telemetry::metrics::ARTIFACTS_CREATED_TOTAL, "kind" => kind.as_str()).increment(1);
    super::progress::emit(
        ctx,
        job.id,
        events::types::ARTIFACT_READY,
        json!({"kind": kind.as_str(), "version": stored.version, "bytes": size, "uri": uri}),
    )
    .await?;
    Ok(stored)
}

/// The storage key of a snapshot's artifact version (DESIGN §6).
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
    serde_json::from_slice(&bytes).fatal()
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
    serde_json::from_slice(&bytes).fatal()
}

/// The store key of an artifact row.
fn row_key(snapshot: &Snapshot, row: &Artifact) -> Result<String, TaskError> {
    let kind: ArtifactKind = row
        .kind
        .parse()
        .map_err(|e| TaskError::Fail(format!("{e}")))?;
    key_of(snapshot, kind, row.version).map_err(store_err)
}

/// Stores an intermediate blob of a job (parse batch results) under `work/{job}/…`, serialized
/// straight from `doc`. Create-only; a repeated write by a retried task is not an error.
pub async fn put_work_blob<T: Serialize + ?Sized>(
    ctx: &AppContext,
    job: &Job,
    name: &str,
    doc: &T,
) -> Result<(), TaskError> {
    let key = work_key(job.id, name);
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
    name: &str,
) -> Result<T, TaskError> {
    let bytes = ctx
        .artifacts()
        .get(&work_key(job.id, name))
        .await
        .map_err(store_err)?;
    serde_json::from_slice(&bytes).fatal()
}
