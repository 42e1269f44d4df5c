//! Repos and snapshots.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::models::{Job, Repo, Snapshot};
use super::schema::{jobs, repos, snapshots};
use super::types::{DbOpt, DbTime, DbUuid, SnapshotStatus};
use super::{now, Db, DbError, Result};

impl Db {
    /// Returns the repo called `name`, creating it if needed. Race-safe: concurrent callers
    /// with the same name all get the one row (insert-or-ignore, then select).
    pub async fn upsert_repo(&self, name: &str) -> Result<Repo> {
        let candidate = Repo {
            id: Uuid::now_v7(),
            name: name.to_owned(),
            owner_id: None,
            created_at: now(),
        };
        with_conn!(self, conn => {
            diesel::insert_into(repos::table)
                .values(candidate)
                .on_conflict(repos::name)
                .do_nothing()
                .execute(conn)
                .await?;
            Ok(repos::table
                .filter(repos::name.eq(name))
                .select(Repo::as_select())
                .first(conn)
                .await?)
        })
    }

    /// The repo with this id.
    pub async fn get_repo(&self, id: Uuid) -> Result<Option<Repo>> {
        with_conn!(self, conn => {
            Ok(repos::table
                .find(DbUuid(id))
                .select(Repo::as_select())
                .first(conn)
                .await
                .optional()?)
        })
    }

    /// The repo with this name.
    pub async fn get_repo_by_name(&self, name: &str) -> Result<Option<Repo>> {
        with_conn!(self, conn => {
            Ok(repos::table
                .filter(repos::name.eq(name))
                .select(Repo::as_select())
                .first(conn)
                .await
                .optional()?)
        })
    }

    /// Returns the snapshot for (repo, commit, settings), creating it in `processing` if
    /// there is none; the flag says whether this call created it. Race-safe: of concurrent
    /// callers exactly one gets `true`.
    pub async fn find_or_create_snapshot(
        &self,
        repo_id: Uuid,
        commit_hash: &str,
        settings_hash: &str,
        source: &str,
    ) -> Result<(Snapshot, bool)> {
        let t = now();
        let candidate = Snapshot {
            id: Uuid::now_v7(),
            repo_id,
            commit_hash: commit_hash.to_owned(),
            settings_hash: settings_hash.to_owned(),
            source: source.to_owned(),
            status: SnapshotStatus::Processing,
            created_at: t,
            updated_at: t,
        };
        with_conn!(self, conn => {
            let inserted = diesel::insert_into(snapshots::table)
                .values(candidate)
                .on_conflict((
                    snapshots::repo_id,
                    snapshots::commit_hash,
                    snapshots::settings_hash,
                ))
                .do_nothing()
                .execute(conn)
                .await?;
            let row = snapshots::table
                .filter(snapshots::repo_id.eq(DbUuid(repo_id)))
                .filter(snapshots::commit_hash.eq(commit_hash))
                .filter(snapshots::settings_hash.eq(settings_hash))
                .select(Snapshot::as_select())
                .first(conn)
                .await?;
            Ok((row, inserted == 1))
        })
    }

    /// The snapshot with this id.
    pub async fn get_snapshot(&self, id: Uuid) -> Result<Option<Snapshot>> {
        with_conn!(self, conn => {
            Ok(snapshots::table
                .find(DbUuid(id))
                .select(Snapshot::as_select())
                .first(conn)
                .await
                .optional()?)
        })
    }

    /// Moves a snapshot to `status` and returns the updated row.
    pub async fn set_snapshot_status(&self, id: Uuid, status: SnapshotStatus) -> Result<Snapshot> {
        let t = now();
        with_conn!(self, conn => {
            diesel::update(snapshots::table.find(DbUuid(id)))
                .set((snapshots::status.eq(status), snapshots::updated_at.eq(DbTime(t))))
                .returning(Snapshot::as_returning())
                .get_result(conn)
                .await
                .optional()?
                .ok_or_else(|| DbError::NotFound { what: "snapshot", id: id.to_string() })
        })
    }

    /// The most recently completed snapshot of a repo (what `GET /repo/{id}/…` serves).
    pub async fn latest_completed_snapshot(&self, repo_id: Uuid) -> Result<Option<Snapshot>> {
        with_conn!(self, conn => {
            Ok(snapshots::table
                .filter(snapshots::repo_id.eq(DbUuid(repo_id)))
                .filter(snapshots::status.eq(SnapshotStatus::Completed))
                .order((snapshots::updated_at.desc(), snapshots::created_at.desc()))
                .select(Snapshot::as_select())
                .first(conn)
                .await
                .optional()?)
        })
    }
    /// One page of repositories by name, and how many there are in all (`GET /repos`).
    pub async fn list_repos(&self, limit: i64, offset: i64) -> Result<(Vec<Repo>, i64)> {
        with_conn!(self, conn => {
            let total: i64 = repos::table.count().get_result(conn).await?;
            let rows = repos::table
                .order((repos::name.asc(), repos::id.asc()))
                .limit(limit)
                .offset(offset)
                .select(Repo::as_select())
                .load(conn)
                .await?;
            Ok((rows, total))
        })
    }

    /// One page of a repo's snapshots, newest first, and how many it has in all
    /// (`GET /repos/{id}/snapshots`).
    pub async fn list_snapshots(
        &self,
        repo_id: Uuid,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<Snapshot>, i64)> {
        with_conn!(self, conn => {
            let total: i64 = snapshots::table
                .filter(snapshots::repo_id.eq(DbUuid(repo_id)))
                .count()
                .get_result(conn)
                .await?;
            let rows = snapshots::table
                .filter(snapshots::repo_id.eq(DbUuid(repo_id)))
                .order((snapshots::created_at.desc(), snapshots::id.desc()))
                .limit(limit)
                .offset(offset)
                .select(Snapshot::as_select())
                .load(conn)
                .await?;
            Ok((rows, total))
        })
    }

    /// The newest job that built (or re-used) a snapshot: what a client follows to watch it.
    pub async fn latest_job_of_snapshot(&self, snapshot_id: Uuid) -> Result<Option<Job>> {
        with_conn!(self, conn => {
            Ok(jobs::table
                .filter(jobs::snapshot_id.eq(DbOpt(Some(DbUuid(snapshot_id)))))
                .order((jobs::created_at.desc(), jobs::id.desc()))
                .select(Job::as_select())
                .first(conn)
                .await
                .optional()?)
        })
    }
}
