//! Cache writes a stage leaves running, and finalize waits for.
//!
//! What a job keeps for the next job of its repository (the parse cache's index, the kept
//! resolutions and detector results) is needed by no later stage of this job. Written on the
//! job's path, each held up the stage that wrote it (the index alone is several MB at 50k
//! files, written and synced before resolution could start). A stage hands such a write to
//! [`write_behind`] and goes on; finalize waits for all of the job's before the job is `done`,
//! so the next upload of the repository, made after this one is done, always finds them.
//!
//! The handles live in the worker's memo: when finalize runs in another process (a cluster),
//! or the memo dropped the job, the writes still finish; nothing only waits for them.

use crate::db::Job;
use crate::tasks::context::AppContext;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::task::JoinHandle;

/// Memo only: the job's running writes ([`Pending`]).
const PENDING: &str = "pending-writes";

/// The handles of a job's running writes.
#[derive(Default)]
struct Pending(Mutex<Vec<JoinHandle<()>>>);

/// Runs `write` (given its own handles of the context and the job) on its own task;
/// [`settle`] waits for it.
pub fn write_behind<W, F>(ctx: &AppContext, job: &Job, write: W)
where
    W: FnOnce(AppContext, Job) -> F,
    F: Future<Output = ()> + Send + 'static,
{
    let handle = tokio::spawn(write(ctx.clone(), job.clone()));
    let pending = match ctx.memo().get::<Pending>(job.id, PENDING) {
        Some(p) => p,
        None => {
            let p = Arc::new(Pending::default());
            ctx.memo().put(job.id, PENDING, Arc::clone(&p), 0);
            p
        }
    };
    pending
        .0
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(handle);
}

/// Waits for every write of the job that [`write_behind`] started in this process.
pub async fn settle(ctx: &AppContext, job: &Job) {
    let Some(pending) = ctx.memo().take::<Pending>(job.id, PENDING) else {
        return;
    };
    let handles = std::mem::take(&mut *pending.0.lock().unwrap_or_else(PoisonError::into_inner));
    for handle in handles {
        if let Err(e) = handle.await {
            tracing::warn!(job_id = %job.id, error = %e, "a cache write of the job failed");
        }
    }
}
