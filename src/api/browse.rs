//! `GET /repos` and `GET /repos/{repo_id}/snapshots`: what has been uploaded, page by page,
//! for clients and the web page.

use super::model::{RepoItem, RepoList, SnapshotItem, SnapshotList};
use super::routes::parse_id;
use super::ApiState;
use crate::error::{ApiError, ApiResult, ErrorBody, ErrorCode};
use actix_web::{get, web, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

/// Largest page.
pub const MAX_LIMIT: i64 = 200;
/// Page size when none is asked for.
pub const DEFAULT_LIMIT: i64 = 50;

/// Paging of the list endpoints.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200, nullable = false)]
    limit: Option<i64>,
    /// How many to skip (default 0).
    #[param(minimum = 0, nullable = false)]
    offset: Option<i64>,
}

impl PageQuery {
    /// (limit, offset), or a 400 naming the parameter out of range.
    fn checked(&self) -> ApiResult<(i64, i64)> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                format!("limit must be 1 to {MAX_LIMIT}, got {limit}"),
            ));
        }
        let offset = self.offset.unwrap_or(0);
        if offset < 0 {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                format!("offset must be 0 or more, got {offset}"),
            ));
        }
        Ok((limit, offset))
    }
}

/// `GET /repos`: one page of repositories by name, each with its newest snapshot.
#[utoipa::path(
    tag = "repositories",
    params(PageQuery),
    responses(
        (status = 200, description = "One page of repositories", body = RepoList),
        (status = 400, description = "`limit` or `offset` out of range or not a number", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer token", body = ErrorBody),
        (status = 500, description = "Internal error", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
)]
#[get("/repos")]
#[tracing::instrument(name = "api.repos", skip_all)]
pub async fn list_repos(
    state: web::Data<ApiState>,
    query: web::Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let (limit, offset) = query.checked()?;
    let db = state.ctx.db();
    let (rows, total) = db.list_repos(limit, offset).await?;
    let mut repos = Vec::with_capacity(rows.len());
    for r in rows {
        let (latest, count) = db.list_snapshots(r.id, 1, 0).await?;
        let latest_snapshot = match latest.first() {
            Some(s) => {
                let job = db.latest_job_of_snapshot(s.id).await?;
                Some(SnapshotItem::of(s, job.as_ref()))
            }
            None => None,
        };
        repos.push(RepoItem {
            id: r.id,
            name: r.name,
            created_at: r.created_at,
            snapshots: count,
            latest_snapshot,
        });
    }
    Ok(HttpResponse::Ok().json(RepoList {
        repos,
        total,
        limit,
        offset,
    }))
}

/// `GET /repos/{repo_id}/snapshots`: one page of a repository's snapshots, newest first,
/// each with the job that built it.
#[utoipa::path(
    tag = "repositories",
    params(("repo_id" = Uuid, Path, description = "The repository"), PageQuery),
    responses(
        (status = 200, description = "One page of snapshots", body = SnapshotList),
        (status = 400, description = "`limit` or `offset` out of range or not a number", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer token", body = ErrorBody),
        (status = 404, description = "No such repository (`repo_not_found`)", body = ErrorBody),
        (status = 500, description = "Internal error", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
)]
#[get("/repos/{repo_id}/snapshots")]
#[tracing::instrument(name = "api.snapshots", skip_all, fields(repo_id = %path))]
pub async fn list_snapshots(
    state: web::Data<ApiState>,
    path: web::Path<String>,
    query: web::Query<PageQuery>,
) -> ApiResult<HttpResponse> {
    let repo_id = parse_id(&path, ErrorCode::RepoNotFound)?;
    let (limit, offset) = query.checked()?;
    let db = state.ctx.db();
    let repo = db
        .get_repo(repo_id)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::RepoNotFound, format!("no repo {repo_id}")))?;
    let (rows, total) = db.list_snapshots(repo_id, limit, offset).await?;
    let mut snapshots = Vec::with_capacity(rows.len());
    for s in &rows {
        let job = db.latest_job_of_snapshot(s.id).await?;
        snapshots.push(SnapshotItem::of(s, job.as_ref()));
    }
    Ok(HttpResponse::Ok().json(SnapshotList {
        repo_id,
        repo_name: repo.name,
        snapshots,
        total,
        limit,
        offset,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_out_of_range_are_refused_with_the_parameter_named() {
        let q = |limit, offset| PageQuery { limit, offset }.checked();
        assert_eq!(q(None, None).expect("defaults"), (DEFAULT_LIMIT, 0));
        assert_eq!(q(Some(200), Some(7)).expect("max"), (200, 7));
        assert!(q(Some(0), None).unwrap_err().to_string().contains("limit"));
        assert!(q(Some(201), None)
            .unwrap_err()
            .to_string()
            .contains("limit"));
        assert!(q(None, Some(-1))
            .unwrap_err()
            .to_string()
            .contains("offset"));
    }
}
