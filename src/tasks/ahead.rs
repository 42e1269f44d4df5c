//! Work a task starts early, on the core its own writing leaves idle.
//!
//! After parsing, each stage spends a good part of its time on one core, serializing its
//! document (`files`, then `graph`, then `capabilities` and `summaries`). What the next stage
//! computes first depends only on what the current one already holds, so the current stage
//! starts it beside its write and leaves the result in the memo: merge builds the graph
//! while it writes `files`, and map reads the detectors' kept results and keys every file
//! while it writes `graph`. A stage that finds nothing in the memo (another process ran the
//! stage before it, or the memo evicted it) computes the same thing itself: the memo is never
//! needed for correctness, and the documents are the same either way.

use crate::db::Job;
use crate::pipeline::caps::Local;
use crate::pipeline::graph::{self, Graph};
use crate::pipeline::model::FileRecord;
use crate::pipeline::Spent;
use crate::tasks::context::AppContext;
use crate::tasks::detect_cache;
use rayon::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::task::JoinHandle;

/// Memo only: the job's graph (`Graph`), built by merge or map.
pub const GRAPH: &str = "graph";

/// Memo only: what summarize's detectors start from ([`DetectInputs`]), from map.
const DETECT_INPUTS: &str = "detect-inputs";

/// Frees what resolution left ([`Spent`]) and gives the freed pages back to the system, on a
/// blocking thread: about 0.2 s at 53.6k files that no stage has to wait for.
pub fn free(spent: Spent) {
    tokio::task::spawn_blocking(move || {
        drop(spent);
        // Decoding the batches and composing the routes freed ~200 MB at 50k files (encoded
        // batches, wiring), scattered between the records that stay: give back the whole
        // pages of it now instead of carrying them through map and summarize.
        crate::host::release_free_memory();
    });
}

/// Starts building the graph of `records` (merge calls this before writing `files`).
pub fn start_graph(records: &Arc<Vec<FileRecord>>) -> JoinHandle<Graph> {
    let records = Arc::clone(records);
    tokio::task::spawn_blocking(move || graph::build_graph(&records))
}

/// Leaves the graph `started` built in the memo for map (nothing when building it failed:
/// map builds it again and reports the failure).
pub async fn keep_graph(ctx: &AppContext, job: &Job, started: JoinHandle<Graph>) {
    keep(ctx, job, GRAPH, started.await, "building the graph");
}

/// Leaves what was computed ahead in the memo as `name`, or logs why there is nothing (the
/// next stage then computes it itself).
fn keep<T: Send + Sync + 'static>(
    ctx: &AppContext,
    job: &Job,
    name: &str,
    got: Result<T, tokio::task::JoinError>,
    what: &str,
) {
    match got {
        Ok(v) => ctx.memo().put(job.id, name, Arc::new(v), 0),
        Err(e) => {
            tracing::warn!(job_id = %job.id, error = %e, work = what, "work started ahead failed")
        }
    }
}

/// The job's graph: the one built ahead, else built now from `records`.
pub async fn graph(
    ctx: &AppContext,
    job: &Job,
    records: &Arc<Vec<FileRecord>>,
) -> Result<Arc<Graph>, tokio::task::JoinError> {
    if let Some(g) = ctx.memo().get::<Graph>(job.id, GRAPH) {
        return Ok(g);
    }
    start_graph(records).await.map(Arc::new)
}

/// What the detectors start from: each record's detector-cache key (None for a file they do
/// not scan) and the results the repository's last run kept.
pub struct DetectInputs {
    /// [`detect_cache::key_of`] of every record, by position.
    pub keys: Vec<Option<String>>,
    /// [`detect_cache::load`] of the job.
    pub kept: HashMap<String, Local>,
}

/// Computes the [`DetectInputs`] of `records`: the kept results are read and decoded while the
/// keys are hashed on every core.
pub async fn detect_inputs(
    ctx: &AppContext,
    job: &Job,
    records: Arc<Vec<FileRecord>>,
) -> Result<DetectInputs, tokio::task::JoinError> {
    let keys = tokio::task::spawn_blocking(move || {
        records
            .par_iter()
            .map(|r| crate::pipeline::caps::is_scanned(r).then(|| detect_cache::key_of(r)))
            .collect::<Vec<_>>()
    });
    let kept = detect_cache::load(ctx, job).await;
    Ok(DetectInputs {
        keys: keys.await?,
        kept,
    })
}

/// Starts [`detect_inputs`] for summarize (map calls this before writing `graph`).
pub fn start_detect_inputs(
    ctx: &AppContext,
    job: &Job,
    records: &Arc<Vec<FileRecord>>,
) -> JoinHandle<()> {
    let (ctx, job, records) = (ctx.clone(), job.clone(), Arc::clone(records));
    tokio::spawn(async move {
        let got = detect_inputs(&ctx, &job, records).await;
        keep(&ctx, &job, DETECT_INPUTS, got, "keying the files");
    })
}

/// The job's [`DetectInputs`]: those map left (taken: summarize consumes the kept results),
/// else computed now.
pub async fn take_detect_inputs(
    ctx: &AppContext,
    job: &Job,
    records: &Arc<Vec<FileRecord>>,
) -> Result<DetectInputs, tokio::task::JoinError> {
    if let Some(inputs) = ctx.memo().take::<DetectInputs>(job.id, DETECT_INPUTS) {
        if let Ok(inputs) = Arc::try_unwrap(inputs) {
            return Ok(inputs);
        }
    }
    detect_inputs(ctx, job, Arc::clone(records)).await
}
