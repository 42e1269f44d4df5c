//! One function per endpoint of docs/http-api.md: extract, call one service, answer a DTO.
//!
//! Each handler carries its OpenAPI description (`#[utoipa::path]`): parameters, every
//! answer and its body type ([`super::model`], the error envelope for errors).

use super::model::{
    ArtifactItem, ArtifactKindParam, ArtifactList, IngestAccepted, IngestForm, IngestRefused,
    JobStatus, SseMessage,
};
use super::{sse, upload, ApiState};
use crate::artifacts::{ArtifactError, ArtifactKind, ArtifactStore};
use crate::error::{ApiError, ApiResult, ErrorBody, ErrorCode};
use crate::tasks::context::AppContext;
use crate::tasks::intake::{self, Input, IntakeError, Submission};
use crate::tasks::progress;
use actix_multipart::Multipart;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::Deserialize;
use std::time::Duration;
use utoipa::IntoParams;
use uuid::Uuid;

/// How `POST /ingest` answers a refused submission: a refusal names the failed job that records
/// it; the codes are [`IntakeError::code`]'s.
impl From<IntakeError> for ApiError {
    fn from(e: IntakeError) -> Self {
        match e {
            IntakeError::Rejected {
                job_id,
                repo_id,
                rejection,
            } => ApiError::refused(rejection.code, rejection.message, job_id, repo_id),
            IntakeError::Unavailable { what, cause } => ApiError::unavailable(what, cause),
            e => match e.code() {
                ErrorCode::Internal => ApiError::internal(e),
                code => ApiError::new(code, e.to_string()),
            },
        }
    }
}

pub(super) fn parse_id(text: &str, what: ErrorCode) -> ApiResult<Uuid> {
    Uuid::parse_str(text).map_err(|_| ApiError::new(what, format!("no such id: {text:?}")))
}

/// `POST /ingest`: stream a repository zip in and start its job.
///
/// The zip is checked against every safety rule as it arrives; the answer carries the
/// content hash and the job to follow.
#[utoipa::path(
    tag = "jobs",
    params(IngestQuery),
    request_body(content = IngestForm, content_type = "multipart/form-data"),
    responses(
        (status = 202, description = "Accepted; the job runs", body = IngestAccepted),
        (status = 400, description = "Not a zip, an unsafe zip (the job that records it is named), no `file`, or bad `settings`", body = IngestRefused),
        (status = 401, description = "Missing or wrong bearer token", body = ErrorBody),
        (status = 413, description = "Larger than MAX_UPLOAD_BYTES", body = ErrorBody),
        (status = 500, description = "Internal error", body = ErrorBody),
        (status = 503, description = "Storage, the database, the queue or the server's disk (reading the spooled upload) is unavailable", body = ErrorBody),
    ),
)]
#[post("/ingest")]
#[tracing::instrument(name = "api.ingest", skip_all)]
pub async fn ingest(
    state: web::Data<ApiState>,
    req: HttpRequest,
    payload: Multipart,
    query: web::Query<IngestQuery>,
) -> ApiResult<HttpResponse> {
    let ctx = &state.ctx;
    let max = ctx.cfg().max_upload_bytes;
    upload::refuse_declared_oversize(&req, max)?;
    let spool = ctx.scratch().join(format!("upload-{}.zip", Uuid::new_v4()));
    let _cleanup = RemoveOnDrop(spool.clone());
    let kept = matches!(ctx.artifacts(), ArtifactStore::Local(_));
    let up = upload::receive(payload, &spool, max, kept).await?;
    let settings = up.settings.as_deref().or(query.settings.as_deref());
    let sub = Submission {
        repo: up.repo_name(query.repo.as_deref()),
        settings: intake::parse_settings(settings)?,
        input: Input::Spooled(spool.clone()),
        upload_bytes: up.bytes,
    };
    let accepted = intake::submit(ctx, sub).await?;
    Ok(HttpResponse::Accepted().json(IngestAccepted::from(accepted)))
}

/// Query parameters `POST /ingest` also accepts (the form fields win).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IngestQuery {
    /// Repository name, when the form has no `repo` field.
    #[param(nullable = false)]
    repo: Option<String>,
    /// Analysis settings (a JSON object as text), when the form has no `settings` field.
    #[param(nullable = false)]
    settings: Option<String>,
}

struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `GET /status/{job_id}`: the live overlay, or the job row when the overlay is gone.
#[utoipa::path(
    tag = "jobs",
    params(("job_id" = Uuid, Path, description = "The job (`jobId` of `POST /ingest`)")),
    responses(
        (status = 200, description = "Phase, progress and counters", body = JobStatus),
        (status = 401, description = "Missing or wrong bearer token", body = ErrorBody),
        (status = 404, description = "No such job (`job_not_found`)", body = ErrorBody),
        (status = 500, description = "Internal error", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
)]
#[get("/status/{job_id}")]
#[tracing::instrument(name = "api.status", skip_all, fields(job_id = %path))]
pub async fn status(
    state: web::Data<ApiState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let job_id = parse_id(&path, ErrorCode::JobNotFound)?;
    let ctx = &state.ctx;
    if let Ok(Some(s)) = ctx.events().get_status(job_id).await {
        return Ok(HttpResponse::Ok().json(JobStatus::from(s)));
    }
    let job = ctx
        .db()
        .get_job(job_id)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::JobNotFound, format!("no job {job_id}")))?;
    Ok(HttpResponse::Ok().json(JobStatus::from(progress::status_of(&job))))
}

/// An event id given by the client: absent = none; else a number (400 otherwise, an empty
/// value included: a browser's EventSource never sends one).
fn event_id(name: &str, value: Option<&str>) -> ApiResult<Option<i64>> {
    match value.map(str::trim) {
        None => Ok(None),
        Some(t) => t.parse::<i64>().map(Some).map_err(|_| {
            ApiError::new(
                ErrorCode::BadRequest,
                format!("{name} must be an event id (a number), got {t:?}"),
            )
        }),
    }
}

/// Query of the events endpoint.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Replay only events after this id (the `Last-Event-ID` header wins).
    #[param(value_type = Option<i64>, nullable = false)]
    last_event_id: Option<String>,
}

/// `GET /jobs/{job_id}/events`: the job's events as Server-Sent Events.
///
/// Replays from the start (or after `Last-Event-ID` / `last_event_id`), then follows the job
/// live; every message has `id:`, `event:` and `data:` lines (the event as JSON); a comment
/// heartbeat goes out at least every 10 s; the stream ends after the terminal event (`done`,
/// or an `error` that failed the job).
#[utoipa::path(
    tag = "jobs",
    params(
        ("job_id" = Uuid, Path, description = "The job"),
        ("Last-Event-ID" = Option<i64>, Header, nullable = false, description = "Resume after this event id"),
        EventsQuery,
    ),
    responses(
        (status = 200, description = "The event stream: one message per event, `data` the event as JSON", content_type = "text/event-stream", body = SseMessage),
        (status = 400, description = "The event id is not a number, or a query parameter of the wrong type", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer token", body = ErrorBody),
        (status = 404, description = "No such job", body = ErrorBody),
        (status = 500, description = "Internal error", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
)]
#[get("/jobs/{job_id}/events")]
#[tracing::instrument(name = "api.events", skip_all, fields(job_id = %path))]
pub async fn events(
    state: web::Data<ApiState>,
    path: web::Path<String>,
    query: web::Query<EventsQuery>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let job_id = parse_id(&path, ErrorCode::JobNotFound)?;
    let ctx = state.ctx.clone();
    ctx.db()
        .get_job(job_id)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::JobNotFound, format!("no job {job_id}")))?;
    // Both are checked (a malformed one is a 400 even when the other is given); the header,
    // which a browser's EventSource sends on reconnect, wins.
    let header = req
        .headers()
        .get("Last-Event-ID")
        .map(|v| v.to_str().unwrap_or("\u{fffd}"));
    let header = event_id("Last-Event-ID", header)?;
    let query = event_id("last_event_id", query.last_event_id.as_deref())?;
    // Ids start at 1: one below that (0, negative) means "from the start".
    let after = header.or(query).unwrap_or(0).max(0);
    let body = sse::stream(ctx, job_id, after).await;
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("Cache-Control", "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}

/// Query of the artifact listing.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Add a `url` to each version: presigned S3 URLs (they expire after PRESIGN_TTL_S), or
    /// API paths when storage is local.
    #[param(nullable = false)]
    presign: Option<bool>,
    /// The old runbook's name of `presign`.
    #[param(nullable = false)]
    presign_urls: Option<bool>,
}

/// An artifact's `uri` for API users: as stored, except that rows written before local URIs
/// became `local:<key>` carried the server's absolute path (`file:///…`), which is not shown.
fn public_uri(ctx: &AppContext, snapshot: &crate::db::Snapshot, a: &crate::db::Artifact) -> String {
    if !a.uri.starts_with("file:") {
        return a.uri.clone();
    }
    a.kind
        .parse::<ArtifactKind>()
        .ok()
        .and_then(|kind| crate::tasks::publish::key_of(snapshot, kind, a.version).ok())
        .map_or_else(
            || crate::artifacts::LOCAL_URI_SCHEME.to_string(),
            |key| ctx.artifacts().uri(&key),
        )
}

/// `GET /repos/{repo_id}/snapshots/{snapshot_id}/artifacts`: every artifact version of a
/// snapshot.
#[utoipa::path(
    tag = "artifacts",
    params(
        ("repo_id" = Uuid, Path, description = "The repository"),
        ("snapshot_id" = Uuid, Path, description = "The snapshot"),
        ListQuery,
    ),
    responses(
        (status = 200, description = "The versions", body = ArtifactList),
        (status = 400, description = "A query parameter of the wrong type", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer token", body = ErrorBody),
        (status = 404, description = "No such repository or snapshot", body = ErrorBody),
        (status = 500, description = "Internal error", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
)]
#[get("/repos/{repo_id}/snapshots/{snapshot_id}/artifacts")]
#[tracing::instrument(name = "api.artifacts", skip_all)]
pub async fn list_artifacts(
    state: web::Data<ApiState>,
    path: web::Path<(String, String)>,
    query: web::Query<ListQuery>,
) -> ApiResult<HttpResponse> {
    let ctx = &state.ctx;
    let repo_id = parse_id(&path.0, ErrorCode::RepoNotFound)?;
    let snapshot_id = parse_id(&path.1, ErrorCode::SnapshotNotFound)?;
    let snapshot = snapshot_of(ctx, repo_id, snapshot_id).await?;
    let presign = query.presign.or(query.presign_urls).unwrap_or(false);
    let mut out = Vec::new();
    for a in ctx.db().list_artifacts(snapshot.id).await? {
        if a.ready {
            out.push(artifact_item(ctx, &snapshot, &a, presign).await?);
        }
    }
    Ok(HttpResponse::Ok().json(ArtifactList {
        snapshot_id: snapshot.id,
        artifacts: out,
    }))
}

/// Snapshot `snapshot_id` of repository `repo_id`; 404 when the repository has no such one.
async fn snapshot_of(
    ctx: &AppContext,
    repo_id: Uuid,
    snapshot_id: Uuid,
) -> ApiResult<crate::db::Snapshot> {
    ctx.db()
        .get_snapshot(snapshot_id)
        .await?
        .filter(|s| s.repo_id == repo_id)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::SnapshotNotFound,
                format!("repo {repo_id} has no snapshot {snapshot_id}"),
            )
        })
}

/// One artifact of a listing, with a presigned URL (or a link to this API when the store
/// cannot presign) when asked for.
async fn artifact_item(
    ctx: &AppContext,
    snapshot: &crate::db::Snapshot,
    a: &crate::db::Artifact,
    presign: bool,
) -> ApiResult<ArtifactItem> {
    let mut item = ArtifactItem {
        kind: a.kind.clone(),
        version: a.version,
        bytes: a.bytes,
        created_at: a.created_at,
        uri: public_uri(ctx, snapshot, a),
        schema_version: a.schema_version,
        generator_version: a.generator_version.clone(),
        url: None,
        url_error: None,
    };
    let Some(kind) = presign
        .then(|| a.kind.parse::<ArtifactKind>().ok())
        .flatten()
    else {
        return Ok(item);
    };
    let key = crate::tasks::publish::key_of(snapshot, kind, a.version)?;
    let ttl = Duration::from_secs(ctx.cfg().presign_ttl_s);
    match ctx.artifacts().presign_get(&key, ttl).await {
        Ok(Some(url)) => item.url = Some(url),
        Ok(None) => {
            item.url = Some(format!(
                "/repo/{}/{}?snapshot_id={}&version={}",
                snapshot.repo_id, a.kind, snapshot.id, a.version
            ))
        }
        Err(e) => item.url_error = Some(e.to_string()),
    }
    Ok(item)
}

/// Query of the artifact endpoints.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ArtifactQuery {
    /// A snapshot of the repository (default: its latest completed snapshot).
    #[param(value_type = Option<Uuid>, nullable = false)]
    snapshot_id: Option<String>,
    /// A version (default: the latest).
    #[param(nullable = false)]
    version: Option<i32>,
}

/// `GET /repo/{repo_id}/{kind}`: the latest artifact of the latest completed snapshot.
///
/// The body is the artifact document itself (its shape depends on the kind; every one has
/// `schemaVersion` and `generatorVersion`); the `X-Provis-Artifact-Version` header says which
/// version was served.
#[utoipa::path(
    tag = "artifacts",
    params(
        ("repo_id" = Uuid, Path, description = "The repository"),
        ("kind" = ArtifactKindParam, Path, description = "The artifact kind"),
        ArtifactQuery,
    ),
    responses(
        (status = 200, description = "The artifact document", body = Object,
            headers(("X-Provis-Artifact-Version" = i32, description = "The version served"))),
        (status = 400, description = "A query parameter of the wrong type", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer token", body = ErrorBody),
        (status = 404, description = "No such repository, snapshot, kind or artifact", body = ErrorBody),
        (status = 500, description = "Internal error", body = ErrorBody),
        (status = 503, description = "The database or storage is unavailable", body = ErrorBody),
    ),
)]
#[get("/repo/{repo_id}/{kind}")]
#[tracing::instrument(name = "api.artifact", skip_all)]
pub async fn artifact(
    state: web::Data<ApiState>,
    path: web::Path<(String, String)>,
    query: web::Query<ArtifactQuery>,
) -> ApiResult<HttpResponse> {
    let ctx: &AppContext = &state.ctx;
    let repo_id = parse_id(&path.0, ErrorCode::RepoNotFound)?;
    let kind: ArtifactKind = path.1.parse().map_err(|_| {
        ApiError::new(
            ErrorCode::NotFound,
            format!(
                "unknown artifact kind {:?} (tree, files, graph, summaries, capabilities, metrics)",
                path.1
            ),
        )
    })?;
    let snapshot = wanted_snapshot(ctx, repo_id, query.snapshot_id.as_deref()).await?;
    let row = ready_artifact(ctx, &snapshot, kind, query.version).await?;
    let key = crate::tasks::publish::key_of(&snapshot, kind, row.version)?;
    // A row without its object: say which key is missing; other storage errors map as usual.
    let bytes = ctx.artifacts().get(&key).await.map_err(|e| match e {
        ArtifactError::NotFound { .. } => ApiError::new(
            ErrorCode::ArtifactNotFound,
            format!("{key} is missing from storage"),
        ),
        e => e.into(),
    })?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header(("X-Provis-Artifact-Version", row.version.to_string()))
        .body(bytes))
}

/// The snapshot an artifact request names (`snapshot_id`), else the repository's latest
/// completed one; 404 naming the repository or the snapshot that is missing.
async fn wanted_snapshot(
    ctx: &AppContext,
    repo_id: Uuid,
    snapshot_id: Option<&str>,
) -> ApiResult<crate::db::Snapshot> {
    ctx.db()
        .get_repo(repo_id)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::RepoNotFound, format!("no repo {repo_id}")))?;
    let found = match snapshot_id {
        Some(s) => {
            let id = parse_id(s, ErrorCode::SnapshotNotFound)?;
            ctx.db()
                .get_snapshot(id)
                .await?
                .filter(|s| s.repo_id == repo_id)
        }
        None => ctx.db().latest_completed_snapshot(repo_id).await?,
    };
    found.ok_or_else(|| {
        ApiError::new(
            ErrorCode::SnapshotNotFound,
            format!("repo {repo_id} has no completed snapshot"),
        )
    })
}

/// The newest ready artifact of `kind` in the snapshot (or exactly `version`); 404 if none.
async fn ready_artifact(
    ctx: &AppContext,
    snapshot: &crate::db::Snapshot,
    kind: ArtifactKind,
    version: Option<i32>,
) -> ApiResult<crate::db::Artifact> {
    let rows = ctx.db().list_artifacts(snapshot.id).await?;
    rows.into_iter()
        .filter(|a| a.ready && a.kind == kind.as_str())
        .filter(|a| version.is_none_or(|v| v == a.version))
        .max_by_key(|a| a.version)
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::ArtifactNotFound,
                format!("snapshot {} has no {} artifact", snapshot.id, kind.as_str()),
            )
        })
}
