//! Artifact rows: atomic version allocation, then finalisation once the object is written.
//!
//! Protocol for a task that writes an artifact:
//! 1. [`Db::artifact_for_job`] — a retried task finds the version it allocated before and
//!    reuses it (no second version for the same job);
//! 2. otherwise [`Db::allocate_artifact`] — takes the next version through the unique key
//!    (snapshot, kind, version);
//! 3. write the object (create-only) under the key built from that version;
//! 4. [`Db::finalize_artifact`] — records uri and size and makes the version visible to
//!    [`Db::list_artifacts`] and [`Db::latest_artifact`].

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::models::{Artifact, NewArtifact};
use super::schema::artifacts;
use super::types::{DbOpt, DbUuid};
use super::{now, Db, DbError, Result, MAX_ALLOCATION_ATTEMPTS};

impl Db {
    /// Allocates the next version (max + 1, starting at 1) of `new.kind` for the snapshot and
    /// inserts its row (not ready: empty uri, 0 bytes). Concurrent callers get distinct
    /// versions: the loser of a race on the unique key retries with the next number.
    pub async fn allocate_artifact(&self, new: &NewArtifact) -> Result<Artifact> {
        for _ in 0..MAX_ALLOCATION_ATTEMPTS {
            let current: Option<i32> = with_conn!(self, conn => {
                Ok::<_, DbError>(artifacts::table
                    .filter(artifacts::snapshot_id.eq(DbUuid(new.snapshot_id)))
                    .filter(artifacts::kind.eq(&new.kind))
                    .select(diesel::dsl::max(artifacts::version))
                    .get_result(conn)
                    .await?)
            })?;
            let row = Artifact {
                id: Uuid::now_v7(),
                snapshot_id: new.snapshot_id,
                kind: new.kind.clone(),
                version: current.unwrap_or(0) + 1,
                uri: String::new(),
                bytes: 0,
                schema_version: new.schema_version,
                generator_version: new.generator_version.clone(),
                job_id: new.job_id,
                ready: false,
                created_at: now(),
            };
            let inserted: Option<Artifact> = with_conn!(self, conn => {
                Ok::<_, DbError>(diesel::insert_into(artifacts::table)
                    .values(row)
                    .on_conflict((artifacts::snapshot_id, artifacts::kind, artifacts::version))
                    .do_nothing()
                    .returning(Artifact::as_returning())
                    .get_result(conn)
                    .await
                    .optional()?)
            })?;
            if let Some(artifact) = inserted {
                tracing::debug!(snapshot_id = %artifact.snapshot_id, kind = %artifact.kind,
                    version = artifact.version, "artifact version allocated");
                return Ok(artifact);
            }
            tokio::task::yield_now().await;
        }
        Err(DbError::Contention {
            what: "artifact version",
            attempts: MAX_ALLOCATION_ATTEMPTS,
        })
    }

    /// The version of `kind` that `job_id` allocated for this snapshot, ready or not (the
    /// latest, should there be several).
    pub async fn artifact_for_job(
        &self,
        snapshot_id: Uuid,
        kind: &str,
        job_id: Uuid,
    ) -> Result<Option<Artifact>> {
        with_conn!(self, conn => {
            Ok(artifacts::table
                .filter(artifacts::snapshot_id.eq(DbUuid(snapshot_id)))
                .filter(artifacts::kind.eq(kind))
                .filter(artifacts::job_id.eq(DbOpt(Some(DbUuid(job_id)))))
                .order(artifacts::version.desc())
                .select(Artifact::as_select())
                .first(conn)
                .await
                .optional()?)
        })
    }

    /// Records where the object was written and its size, and marks the version ready.
    pub async fn finalize_artifact(&self, id: Uuid, uri: &str, bytes: i64) -> Result<Artifact> {
        with_conn!(self, conn => {
            diesel::update(artifacts::table.find(DbUuid(id)))
                .set((
                    artifacts::uri.eq(uri),
                    artifacts::bytes.eq(bytes),
                    artifacts::ready.eq(true),
                ))
                .returning(Artifact::as_returning())
                .get_result(conn)
                .await
                .optional()?
                .ok_or_else(|| DbError::NotFound { what: "artifact", id: id.to_string() })
        })
    }

    /// The ready artifacts of a snapshot, by kind then version.
    pub async fn list_artifacts(&self, snapshot_id: Uuid) -> Result<Vec<Artifact>> {
        with_conn!(self, conn => {
            Ok(artifacts::table
                .filter(artifacts::snapshot_id.eq(DbUuid(snapshot_id)))
                .filter(artifacts::ready.eq(true))
                .order((artifacts::kind.asc(), artifacts::version.asc()))
                .select(Artifact::as_select())
                .load(conn)
                .await?)
        })
    }

    /// The highest ready version of `kind` for a snapshot.
    pub async fn latest_artifact(&self, snapshot_id: Uuid, kind: &str) -> Result<Option<Artifact>> {
        with_conn!(self, conn => {
            Ok(artifacts::table
                .filter(artifacts::snapshot_id.eq(DbUuid(snapshot_id)))
                .filter(artifacts::kind.eq(kind))
                .filter(artifacts::ready.eq(true))
                .order(artifacts::version.desc())
                .select(Artifact::as_select())
                .first(conn)
                .await
                .optional()?)
        })
    }
}
