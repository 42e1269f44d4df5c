//! Accepting a repository: safety checks, content hash, idempotency, and the job that follows.
//!
//! `POST /ingest` and `provis analyze` both come through [`submit`]. The zip (or directory)
//! is inspected before anything is queued — every rule of docs/operations.md#limits-and-safety,
//! measured on the bytes actually inflated — so the answer can carry the content hash and whether
//! the snapshot is a cache hit. A rejected upload still becomes a job, `failed` with the rule's
//! code in `/status` and a terminal `error` event, so the rejection is on record like any other
//! run.

use super::progress::{self, phase};
use super::source::DIR_PREFIX;
use super::{enqueue, INGEST};
use crate::artifacts::{upload_key, ArtifactError, ArtifactKind, CONTENT_TYPE_ZIP, OPEN_SOURCE};
use crate::db::{JobUpdate, NewJob, SnapshotStatus};
use crate::error::{BoxError, ErrorCode};
use crate::events::payload;
use crate::pipeline::ingest::{self, ZipLimits, ZipManifest, ZipRejection};
/// Intake owns how an upload is named and refused: the API reads both from here.
pub use crate::pipeline::ingest::{repo_name_from_filename, RejectCode};
use crate::tasks::context::AppContext;
use serde::Serialize;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use uuid::Uuid;

/// What to analyse.
#[derive(Debug, Clone)]
pub enum Input {
    /// A zip on local disk that is copied into the store (`provis analyze <zip>`: the user's
    /// file, which they may still change).
    Zip(PathBuf),
    /// A zip this process spooled from an upload (`POST /ingest`): nobody writes to it any
    /// more, so the local store takes it by a hard link instead of a copy.
    Spooled(PathBuf),
    /// A directory analysed in place (`provis analyze <dir>`), never copied.
    Dir(PathBuf),
}

/// A submission.
#[derive(Debug, Clone)]
pub struct Submission {
    /// The repository's files.
    pub input: Input,
    /// Repository name (identity of the repo).
    pub repo: String,
    /// User settings (a JSON object; part of the settings hash).
    pub settings: Value,
    /// Bytes of the upload as received.
    pub upload_bytes: u64,
}

impl Submission {
    /// The `upload_received` event of this upload, before its archive is known.
    fn received(&self) -> payload::UploadReceived {
        payload::UploadReceived {
            bytes: self.upload_bytes,
            repo: self.repo.clone(),
            ..Default::default()
        }
    }
}

/// The answer of `POST /ingest` (docs/http-api.md).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Accepted {
    /// Repository id.
    pub repo_id: Uuid,
    /// Snapshot id (one per distinct content and settings).
    pub snapshot_id: Uuid,
    /// The job that follows this upload.
    pub job_id: Uuid,
    /// blake3 over the sorted (path, file hash) pairs of the accepted files.
    pub commit_hash: String,
    /// blake3 of the canonical analysis settings.
    pub settings_hash: String,
    /// True when a completed snapshot already had this content and settings.
    pub cache_hit: bool,
}

/// Why a submission was refused.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// The archive broke a safety rule; the job records it as failed.
    #[error("{rejection}")]
    Rejected {
        /// The failed job.
        job_id: Uuid,
        /// Repository id.
        repo_id: Uuid,
        /// The rule and its message.
        rejection: ZipRejection,
    },
    /// `settings` was not a JSON object.
    #[error("settings must be a JSON object: {0}")]
    BadSettings(String),
    /// A named dependency failed (`database`, `storage`, `redis`: the error-metric components;
    /// `disk` when the spooled upload could not be read back); the client may retry. No job is
    /// left waiting: one created before the failure is marked failed.
    #[error("{what}: {cause}")]
    Unavailable {
        /// What is down, for the 503's message.
        what: &'static str,
        /// The dependency's own error, typed (logged, not shown).
        cause: BoxError,
    },
    /// The archive's inspection did not finish (its blocking task panicked): a bug, 500.
    #[error("the archive's inspection did not finish: {0}")]
    Inspection(tokio::task::JoinError),
}

impl IntakeError {
    /// The code the API answers with; a refusal is answered with its rule's own code.
    pub fn code(&self) -> ErrorCode {
        match self {
            IntakeError::Rejected { rejection, .. } => ErrorCode::Refused(rejection.code),
            IntakeError::BadSettings(_) => ErrorCode::InvalidSettings,
            IntakeError::Unavailable { .. } => ErrorCode::Unavailable,
            IntakeError::Inspection(_) => ErrorCode::Internal,
        }
    }
}

/// `what` is down; its own error is kept.
fn down<E: Into<BoxError>>(what: &'static str) -> impl FnOnce(E) -> IntakeError {
    move |e| IntakeError::Unavailable {
        what,
        cause: e.into(),
    }
}

/// The database failed.
fn db_down<E: std::error::Error + Send + Sync + 'static>(e: E) -> IntakeError {
    down("database")(e)
}

/// The object storage failed.
fn storage<E: std::error::Error + Send + Sync + 'static>(e: E) -> IntakeError {
    down("storage")(e)
}

/// Parses the `settings` field: absent = `{}`; otherwise a JSON object.
pub fn parse_settings(text: Option<&str>) -> Result<Value, IntakeError> {
    match text {
        None => Ok(json!({})),
        Some(t) => match serde_json::from_str::<Value>(t) {
            Ok(v @ Value::Object(_)) => Ok(v),
            Ok(_) => Err(IntakeError::BadSettings("not an object".into())),
            Err(e) => Err(IntakeError::BadSettings(e.to_string())),
        },
    }
}

/// The limits of the configuration.
pub fn limits(ctx: &AppContext) -> ZipLimits {
    let c = ctx.cfg();
    ZipLimits {
        max_entries: c.zip_max_entries,
        max_depth: c.zip_max_depth,
        max_uncompressed_bytes: c.zip_max_uncompressed_bytes,
        max_ratio: c.zip_max_ratio,
    }
}

/// The settings that change results, hashed into the snapshot identity.
fn effective_settings(ctx: &AppContext, user: &Value) -> Value {
    json!({
        "maxFileBytes": ctx.cfg().max_file_bytes,
        "settings": user,
        "generator": super::publish::GENERATOR_VERSION,
    })
}

/// What inspection found, with the plain copy of the files when one was written.
type Inspected = Result<(ZipManifest, Option<ingest::Mirror>, Learned), ZipRejection>;

/// What an inspection learned of the zip's entries, and what it started from (see
/// [`super::zip_cache`]).
type Learned = (ingest::KnownEntries, ingest::KnownEntries);

/// Inspects the input. A process that runs the job's tasks itself (it has parsers) keeps a
/// [plain copy](ingest::Mirror) of a zip's files in its scratch folder, so the tasks read
/// bytes rather than inflate every file twice more; an API-only process has no use for one.
/// Neither has a re-upload of a repository with a parse cache: its batches and detectors read
/// only the files that changed, and writing a copy of all of them cost more than it saved
/// (the 53.6k-file bench with 1% changed: 6.1 → 6.8 s).
async fn inspect(
    ctx: &AppContext,
    input: &Input,
    job_id: Uuid,
    repo_id: Uuid,
) -> Result<Inspected, IntakeError> {
    let limits = limits(ctx);
    let input = input.clone();
    let wanted = matches!(input, Input::Zip(_) | Input::Spooled(_))
        && ctx.parsers().is_some()
        && !super::parse_cache::has_index(ctx, repo_id).await;
    let mirror = wanted.then(|| ctx.scratch().join(format!("mirror-{job_id}")));
    // Without a mirror, entries an earlier upload of the repository inflated are recognised
    // by their compressed bytes instead of inflated again.
    let known = match (&input, &mirror) {
        (Input::Zip(_) | Input::Spooled(_), None) => super::zip_cache::load(ctx, repo_id).await,
        _ => ingest::KnownEntries::new(),
    };
    tokio::task::spawn_blocking(move || match input {
        Input::Zip(p) | Input::Spooled(p) => {
            ingest::inspect_zip_with(&p, &limits, mirror.as_deref(), &known)
                .map(|i| (i.manifest, i.mirror, (i.known, known)))
        }
        Input::Dir(p) => ingest::inspect_dir(&p, &limits).map(|m| (m, None, Learned::default())),
    })
    .await
    .map_err(IntakeError::Inspection)
}

/// Accepts a repository: inspects it, records repo/snapshot/job, stores the upload, and either
/// answers a cache hit (job done at once) or enqueues `ingest`.
pub async fn submit(ctx: &AppContext, sub: Submission) -> Result<Accepted, IntakeError> {
    let db = ctx.db();
    let repo = db.upsert_repo(&sub.repo).await.map_err(db_down)?;
    let settings = effective_settings(ctx, &sub.settings);
    let settings_hash = ingest::settings_hash(&settings);
    let job_id = Uuid::new_v4();
    let (manifest, mirror, learned) = match inspect(ctx, &sub.input, job_id, repo.id).await? {
        Ok(found) => found,
        Err(rejection) => {
            if rejection.code.is_transient() {
                return Err(down("disk")(rejection));
            }
            let mut new = NewJob::new(repo.id);
            new.id = Some(job_id);
            new.upload_bytes = sub.upload_bytes as i64;
            new.settings = sub.settings.clone();
            db.create_job(new).await.map_err(db_down)?;
            progress::emit(ctx, job_id, &sub.received())
                .await
                .map_err(db_down)?;
            progress::fail_job(ctx, job_id, rejection.code.as_str(), &rejection.message)
                .await
                .map_err(db_down)?;
            return Err(IntakeError::Rejected {
                job_id,
                repo_id: repo.id,
                rejection,
            });
        }
    };
    let commit_hash = manifest.commit_hash();
    let source_key = match &sub.input {
        Input::Zip(_) | Input::Spooled(_) => upload_key(job_id),
        Input::Dir(p) => format!("{DIR_PREFIX}{}", absolute(p).display()),
    };
    let (snapshot, _created) = db
        .find_or_create_snapshot(repo.id, &commit_hash, &settings_hash, &source_key)
        .await
        .map_err(db_down)?;
    let mut new = NewJob::new(repo.id);
    new.id = Some(job_id);
    new.snapshot_id = Some(snapshot.id);
    new.upload_bytes = sub.upload_bytes as i64;
    new.settings = sub.settings.clone();
    let accepted = Accepted {
        repo_id: repo.id,
        snapshot_id: snapshot.id,
        job_id,
        commit_hash: commit_hash.clone(),
        settings_hash: settings_hash.clone(),
        cache_hit: snapshot.status == SnapshotStatus::Completed,
    };
    if accepted.cache_hit {
        new.cache_hit = true;
        db.create_job(new).await.map_err(db_down)?;
        cache_hit(ctx, &accepted, &sub).await?;
        return Ok(accepted);
    }
    if snapshot.status == SnapshotStatus::Failed {
        db.set_snapshot_status(snapshot.id, SnapshotStatus::Processing)
            .await
            .map_err(db_down)?;
    }
    if let Input::Zip(path) | Input::Spooled(path) = &sub.input {
        let link = matches!(sub.input, Input::Spooled(_));
        // Twice at most: a bucket that vanished is created again by the second try.
        let mut vanished = false;
        loop {
            match ctx
                .artifacts()
                .put_new_file(&source_key, path, CONTENT_TYPE_ZIP, link)
                .await
            {
                Ok(_) => break,
                Err(ArtifactError::BucketVanished { .. }) if !vanished => vanished = true,
                Err(
                    e @ ArtifactError::Io {
                        op: OPEN_SOURCE, ..
                    },
                ) => return Err(down("disk")(e)),
                Err(e) => return Err(storage(e)),
            }
        }
    }
    new.upload_key = Some(source_key.clone());
    let job = match db.create_job(new).await {
        Ok(job) => job,
        Err(e) => {
            // No job refers to the stored upload: remove it, so a refused upload leaves
            // nothing behind (the client retries with the same zip).
            if matches!(sub.input, Input::Zip(_) | Input::Spooled(_)) {
                if let Err(de) = ctx.artifacts().delete(&source_key).await {
                    tracing::warn!(key = %source_key, error = %de, "could not remove the upload of a job that was never created");
                }
            }
            return Err(db_down(e));
        }
    };
    if let Some(mirror) = mirror {
        ctx.sources()
            .put_mirror(job.id, std::sync::Arc::new(mirror));
    }
    {
        // Best effort, beside the job: only the next upload of the repository needs it.
        let (ctx, job, (learned, before)) = (ctx.clone(), job.clone(), learned);
        tokio::spawn(async move { super::zip_cache::store(&ctx, &job, learned, &before).await });
    }
    // From here on a job exists: it is queued, or marked failed before the error answer, so
    // no job is left waiting for a task that was never enqueued.
    if let Err(e) = start(ctx, &job, &sub, manifest, &commit_hash, &settings_hash).await {
        let code = match &e {
            IntakeError::Unavailable { what, .. } if *what == QUEUE => "enqueue_failed",
            _ => "intake_failed",
        };
        let task_id = crate::db::task_id(job_id, INGEST.name, None);
        let _ = ctx
            .db()
            .task_finished(task_id, crate::db::TaskState::Failed, Some(&e.to_string()))
            .await;
        if let Err(fe) = progress::fail_job(ctx, job_id, code, &e.to_string()).await {
            tracing::error!(job_id = %job_id, error = %fe, "could not mark the job failed after a failed intake");
        }
        return Err(e);
    }
    Ok(accepted)
}

/// What a 503 names when the queue could not take the job.
const QUEUE: &str = "redis";

/// Stores the manifest, announces the upload and enqueues `ingest` for a created job.
async fn start(
    ctx: &AppContext,
    job: &crate::db::Job,
    sub: &Submission,
    manifest: ZipManifest,
    commit_hash: &str,
    settings_hash: &str,
) -> Result<(), IntakeError> {
    let job_id = job.id;
    // The manifest (with each file's place in the zip) is what discover and the batches read.
    let files = manifest.entries.len();
    let skipped = manifest.skipped.len();
    super::publish::put_work_value(
        ctx,
        job,
        super::publish::WorkBlob::Manifest,
        std::sync::Arc::new(manifest.entries),
    )
    .await
    .map_err(storage)?;
    let received = payload::UploadReceived {
        files: Some(files),
        commit_hash: Some(commit_hash.to_string()),
        settings_hash: Some(settings_hash.to_string()),
        skipped: Some(skipped),
        ..sub.received()
    };
    progress::emit(ctx, job_id, &received)
        .await
        .map_err(db_down)?;
    progress::mirror_status(ctx, job).await;
    if let Err(e) = enqueue(ctx, &INGEST, job_id, None).await {
        // The task row is written before the queue: tell which of the two failed.
        let what = match ctx.db().ping().await {
            Ok(()) => QUEUE,
            Err(_) => "database",
        };
        return Err(down(what)(e));
    }
    Ok(())
}

/// A completed snapshot has this content: the job is done at once and reuses its artifacts.
async fn cache_hit(ctx: &AppContext, acc: &Accepted, sub: &Submission) -> Result<(), IntakeError> {
    let job_id = acc.job_id;
    progress::emit(ctx, job_id, &sub.received())
        .await
        .map_err(db_down)?;
    let hit = payload::CacheHit {
        snapshot_id: acc.snapshot_id,
        commit_hash: acc.commit_hash.clone(),
        settings_hash: acc.settings_hash.clone(),
    };
    progress::emit(ctx, job_id, &hit).await.map_err(db_down)?;
    // Counters shown by /status come from the snapshot's own metrics artifact.
    let latest = ctx
        .db()
        .latest_artifact(acc.snapshot_id, ArtifactKind::Metrics.as_str())
        .await
        .map_err(db_down)?;
    let mut update = JobUpdate {
        phase: Some(phase::DONE.phase.as_str().into()),
        pct: Some(100),
        finished_at: Some(Some(chrono::Utc::now())),
        ..Default::default()
    };
    let mut done = payload::Done::Bare {
        cache_hit: true,
        snapshot_id: acc.snapshot_id,
    };
    if let Some(mut m) = earlier_metrics(ctx, acc.snapshot_id, latest).await {
        let n = |k: &str| m.get(k).and_then(Value::as_i64).unwrap_or(0) as i32;
        update.files_total = Some(n("filesCount"));
        // Metrics written before `filesParsed` existed only have the file count.
        update.files_parsed = Some(if m.get("filesParsed").is_some() {
            n("filesParsed")
        } else {
            n("filesCount")
        });
        update.files_reused = Some(n("filesReused"));
        update.imports_total = Some(n("importsTotal"));
        update.imports_internal = Some(n("importsInternal"));
        update.imports_external = Some(n("importsExternal"));
        update.imports_unresolved = Some(n("unresolvedLocal"));
        if let Value::Object(o) = &mut m {
            o.insert("cacheHit".into(), Value::Bool(true));
            o.insert("jobId".into(), Value::String(job_id.to_string()));
        }
        done = payload::Done::Stored(m);
    }
    progress::update(ctx, job_id, update)
        .await
        .map_err(db_down)?;
    ::metrics::counter!(crate::telemetry::metrics::JOBS_TOTAL, "phase" => "done", "status" => "cache_hit").increment(1);
    progress::emit(ctx, job_id, &done).await.map_err(db_down)?;
    Ok(())
}

/// The metrics document of the snapshot a cache hit reuses, as stored (it may come from an
/// older provis, with fewer fields or more), when it can be read.
async fn earlier_metrics(
    ctx: &AppContext,
    snapshot_id: Uuid,
    row: Option<crate::db::Artifact>,
) -> Option<Value> {
    let snapshot = ctx.db().get_snapshot(snapshot_id).await.ok()??;
    super::publish::read_artifact(ctx, &snapshot, &row?)
        .await
        .ok()
}

fn absolute(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}
