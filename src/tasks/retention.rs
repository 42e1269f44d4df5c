//! What is deleted, and when (UPLOAD_RETENTION_S): a job's intermediate work blobs
//! (`work/<job>/…`) as soon as the job ends, done or failed (unless KEEP_WORK_FILES, for
//! debugging); its upload (`uploads/<job>.zip`) `upload_retention_s` seconds after it ended
//! (at once when that is 0).
//!
//! The end of a job deletes what it can right away ([`job_ended`]); a sweep in every worker
//! process ([`spawn_sweeper`]) deletes uploads whose time is up and anything a job end missed
//! (a crash between the end and the delete, a late retry writing after it). Deleting is never
//! a job's failure: errors are logged and the next sweep tries again.

use crate::db::Job;
use crate::tasks::context::AppContext;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Prefix of every job's work blobs.
const WORK_PREFIX: &str = "work/";
/// Prefix of the stored uploads.
const UPLOADS_PREFIX: &str = "uploads/";

/// What one sweep deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Work blobs of ended jobs.
    pub work_blobs: usize,
    /// Uploads past their retention.
    pub uploads: usize,
}

fn ended(job: &Job) -> bool {
    job.finished_at.is_some() && super::progress::Phase::ended(&job.phase)
}

/// Deletes the work blobs of a job that just ended, and its upload when nothing is kept.
pub async fn job_ended(ctx: &AppContext, job_id: Uuid) {
    let prefix = format!("{WORK_PREFIX}{job_id}/");
    if !ctx.cfg().keep_work_files {
        match ctx.artifacts().delete_prefix(&prefix).await {
            Ok(n) => tracing::debug!(job_id = %job_id, deleted = n, "work blobs deleted"),
            Err(e) => {
                tracing::warn!(job_id = %job_id, error = %e, "cannot delete the work blobs; the sweep retries")
            }
        }
    }
    if ctx.cfg().upload_retention_s == 0 {
        let key = crate::artifacts::upload_key(job_id);
        if let Err(e) = ctx.artifacts().delete(&key).await {
            tracing::warn!(job_id = %job_id, error = %e, "cannot delete the upload; the sweep retries");
        }
    }
}

/// The job id of `work/<id>/…` or `uploads/<id>.zip`.
fn job_of(key: &str) -> Option<Uuid> {
    let rest = key
        .strip_prefix(WORK_PREFIX)
        .and_then(|r| r.split('/').next())
        .or_else(|| {
            key.strip_prefix(UPLOADS_PREFIX)
                .and_then(|r| r.strip_suffix(".zip"))
        })?;
    Uuid::parse_str(rest).ok()
}

/// One pass: work blobs of ended jobs, uploads whose jobs ended `upload_retention_s` ago.
/// Objects of jobs the database does not know are left alone (an upload is stored before
/// its job row commits).
pub async fn sweep(ctx: &AppContext) -> anyhow::Result<Swept> {
    let mut swept = Swept::default();
    let mut jobs: Vec<Uuid> = if ctx.cfg().keep_work_files {
        Vec::new()
    } else {
        ctx.artifacts()
            .list(WORK_PREFIX)
            .await?
            .iter()
            .filter_map(|o| job_of(&o.key))
            .collect()
    };
    jobs.dedup();
    for id in jobs {
        if ctx.db().get_job(id).await?.is_some_and(|j| ended(&j)) {
            swept.work_blobs += ctx
                .artifacts()
                .delete_prefix(&format!("{WORK_PREFIX}{id}/"))
                .await?;
        }
    }
    let keep = chrono::Duration::seconds(ctx.cfg().upload_retention_s.min(i64::MAX as u64) as i64);
    let now = chrono::Utc::now();
    for object in ctx.artifacts().list(UPLOADS_PREFIX).await? {
        let Some(id) = job_of(&object.key) else {
            continue;
        };
        let Some(job) = ctx.db().get_job(id).await? else {
            continue;
        };
        if ended(&job) && job.finished_at.is_some_and(|t| t + keep <= now) {
            ctx.artifacts().delete(&object.key).await?;
            swept.uploads += 1;
        }
    }
    Ok(swept)
}

/// How often a process sweeps: every `upload_retention_s` (at most hourly, at least every
/// second); every minute when uploads are deleted as their jobs end.
fn interval(retention_s: u64) -> Duration {
    Duration::from_secs(if retention_s == 0 {
        60
    } else {
        retention_s.clamp(1, 3600)
    })
}

/// Sweeps now and then every [`interval`] until `shutdown`.
pub fn spawn_sweeper(ctx: AppContext, shutdown: CancellationToken) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let every = interval(ctx.cfg().upload_retention_s);
        loop {
            match sweep(&ctx).await {
                Ok(s) if s != Swept::default() => tracing::info!(
                    work_blobs = s.work_blobs,
                    uploads = s.uploads,
                    "retention sweep deleted files of ended jobs"
                ),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %format!("{e:#}"), "retention sweep failed; retrying later")
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.cancelled() => return,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_their_jobs() {
        let id = Uuid::new_v4();
        assert_eq!(job_of(&format!("work/{id}/batch-3.json")), Some(id));
        assert_eq!(job_of(&format!("uploads/{id}.zip")), Some(id));
        assert_eq!(job_of(&format!("uploads/{id}.tar")), None);
        assert_eq!(job_of("work/not-a-uuid/x.json"), None);
        assert_eq!(job_of(&format!("repos/{id}/x.json")), None);
    }

    #[test]
    fn sweep_interval_follows_the_retention() {
        assert_eq!(interval(0), Duration::from_secs(60));
        assert_eq!(interval(2), Duration::from_secs(2));
        assert_eq!(interval(604_800), Duration::from_secs(3600));
    }
}
