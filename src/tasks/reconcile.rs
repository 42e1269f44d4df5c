//! The reconciler: Postgres is the truth, Redis can be rebuilt from it
//! (docs/operations.md#queues-and-keys).
//!
//! Redis can lose its data (a restart without persistence, a failover to an empty replica,
//! `FLUSHALL`). Then the `tasks` table still says which tasks are queued or running, but no
//! worker will ever see them. Every worker's maintenance loop calls [`reconcile`]; under a
//! Redis lock, one process at a time puts back on their queues the open tasks whose RQ job
//! hash is gone, and rebuilds the live status of their jobs. Enqueueing is idempotent (an id
//! Redis still holds is left alone) and every task is idempotent, so a task that was in fact
//! still running somewhere only runs once more.

use std::collections::BTreeSet;
use std::time::Duration;

use uuid::Uuid;

use super::progress::{self, Phase};
use crate::queue::{Envelope, QueueBackend, TaskError, TaskResultExt};
use crate::tasks::context::AppContext;

/// Name of the reconciler's lock (`<prefix>:provis:lock:reconcile`).
pub const LOCK: &str = "reconcile";
/// The lock lapses after this even if its holder died mid-run.
const LOCK_TTL: Duration = Duration::from_secs(30);
/// Open tasks looked at per run (the oldest first; the next run sees the rest).
const BATCH: i64 = 2000;

/// One reconciler run (when this process gets the lock); returns the tasks it re-enqueued.
pub async fn reconcile(ctx: &AppContext, owner: &str) -> Result<usize, TaskError> {
    let QueueBackend::Redis(q) = ctx.queue() else {
        return Ok(0);
    };
    if !q.try_lock(LOCK, owner, LOCK_TTL).await.retryable()? {
        return Ok(0);
    }
    let res = run(ctx).await;
    if let Err(e) = q.unlock(LOCK, owner).await {
        tracing::debug!(error = %e, "could not release the reconciler lock; it lapses");
    }
    res
}

async fn run(ctx: &AppContext) -> Result<usize, TaskError> {
    let QueueBackend::Redis(q) = ctx.queue() else {
        return Ok(0);
    };
    let open = ctx.db().open_job_tasks(BATCH).await.retryable()?;
    if open.is_empty() {
        return Ok(0);
    }
    let ids: Vec<String> = open
        .iter()
        .map(|t| {
            Envelope::make_id(
                &t.name,
                t.id,
                t.job_id,
                t.batch_index.map(|i| i.max(0) as u32),
            )
        })
        .collect();
    let held = q.holds(&ids).await.retryable()?;
    let mut jobs: BTreeSet<Uuid> = BTreeSet::new();
    let mut ended: BTreeSet<Uuid> = BTreeSet::new();
    let mut requeued = 0;
    for (t, held) in open.iter().zip(held) {
        let Some(job_id) = t.job_id else { continue };
        if !jobs.contains(&job_id) && !ended.contains(&job_id) {
            match ctx.db().get_job(job_id).await.retryable()? {
                Some(j) if !Phase::ended(&j.phase) => {
                    // The live status may be gone with the rest of Redis: rebuild it.
                    if ctx
                        .events()
                        .get_status(job_id)
                        .await
                        .ok()
                        .flatten()
                        .is_none()
                    {
                        progress::mirror_status(ctx, &j).await;
                    }
                    jobs.insert(job_id);
                }
                _ => {
                    ended.insert(job_id);
                }
            }
        }
        if held || ended.contains(&job_id) {
            continue;
        }
        let Some(spec) = super::ALL.iter().find(|s| s.name == t.name) else {
            continue;
        };
        let batch = t.batch_index.map(|i| i.max(0) as u32);
        tracing::warn!(job_id = %job_id, task = %t.name, batch = ?batch, state = ?t.state,
            "task open in the database but unknown to Redis (Redis lost its data?); enqueued again");
        super::enqueue(ctx, spec, job_id, batch).await?;
        requeued += 1;
    }
    Ok(requeued)
}
