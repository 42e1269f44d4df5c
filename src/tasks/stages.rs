//! The seven task bodies. Each one is idempotent: it first checks what an earlier attempt
//! (or another delivery of the same task) already did, and a re-run writes no second
//! artifact version and counts nothing twice.

use super::ahead::{self, GRAPH};
use super::docs::{DocHead, FilesDoc, FilesIn, GraphDoc, Headed, Shared, TreeDoc, TreeEntries};
use super::parsing::{self, CacheRefs};
use super::progress::{self, phase, Phase};
use super::publish::{
    self, get_work_blob, get_work_value, put_work_blob, put_work_records, put_work_value,
    take_work_part, take_work_value, write_artifact, WorkBlob, WorkPart,
};
use super::{behind, enqueue, DISCOVER, FINALIZE, MAP, MERGE, PARSE_BATCH, SUMMARIZE};
use super::{detect_cache, parse_cache, resolve_cache, source};
use crate::artifacts::ArtifactKind;
use crate::db::{Job, JobUpdate, Snapshot, SnapshotStatus};
use crate::events::{payload, types};
use crate::pipeline::encoded::RecordHead;
use crate::pipeline::ingest::ManifestEntry;
use crate::pipeline::model::FileRecord;
use crate::pipeline::{self, Plan};
use crate::queue::{Envelope, QueueBackend, TaskError, TaskResultExt};
use crate::tasks::context::AppContext;
use rayon::prelude::*;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Memo only: the resolved records of a job, sorted (`Vec<FileRecord>`), from merge.
const RESOLVED: &str = "resolved";

/// The job and snapshot a task works on; `None` when the job already ended (a late duplicate
/// delivery), in which case the task does nothing.
async fn load(ctx: &AppContext, env: &Envelope) -> Result<Option<(Job, Snapshot)>, TaskError> {
    let Some(job) = load_job(ctx, env).await? else {
        return Ok(None);
    };
    let snapshot_id = job
        .snapshot_id
        .ok_or_else(|| TaskError::Fail(format!("job {} has no snapshot", job.id)))?;
    let snapshot = ctx
        .db()
        .get_snapshot(snapshot_id)
        .await
        .retryable()?
        .ok_or_else(|| TaskError::Fail(format!("snapshot {snapshot_id} does not exist")))?;
    Ok(Some((job, snapshot)))
}

/// The job of [`load`] without its snapshot, for the parse batches, which do not need it
/// (a query less per batch, a thousand per 50k-file job).
async fn load_job(ctx: &AppContext, env: &Envelope) -> Result<Option<Job>, TaskError> {
    let job_id = env
        .job_id
        .ok_or_else(|| TaskError::Fail(format!("task {} has no job", env.id)))?;
    let job = ctx
        .db()
        .get_job(job_id)
        .await
        .retryable()?
        .ok_or_else(|| TaskError::Fail(format!("job {job_id} does not exist")))?;
    if Phase::ended(&job.phase) {
        tracing::info!(job_id = %job_id, task = %env.task, phase = %job.phase, "job already ended; nothing to do");
        return Ok(None);
    }
    Ok(Some(job))
}

/// `ingest`: the upload was checked and hashed when it arrived; here a worker makes sure it
/// can read it (fetching it into its cache) and starts the pipeline.
pub async fn ingest(ctx: AppContext, env: Envelope) -> Result<(), TaskError> {
    let Some((job, _snapshot)) = load(&ctx, &env).await? else {
        return Ok(());
    };
    let job = progress::set_phase(
        &ctx,
        job.id,
        phase::ACQUIRING,
        JobUpdate {
            started_at: job.started_at.is_none().then(|| Some(chrono::Utc::now())),
            ..Default::default()
        },
    )
    .await?;
    source::open(&ctx, &job).await?;
    enqueue(&ctx, &DISCOVER, job.id, None).await
}

/// `discover`: the discovery rules over the manifest, the `tree` artifact, and the fan-out.
pub async fn discover(ctx: AppContext, env: Envelope) -> Result<(), TaskError> {
    let Some((job, snapshot)) = load(&ctx, &env).await? else {
        return Ok(());
    };
    parsing::prewarm(&ctx);
    progress::set_phase(&ctx, job.id, phase::DISCOVERING, JobUpdate::default()).await?;
    let manifest: Arc<Vec<ManifestEntry>> = get_work_value(&ctx, &job, WorkBlob::Manifest).await?;
    let max_file_bytes = ctx.cfg().max_file_bytes;
    let found: Plan =
        tokio::task::spawn_blocking(move || pipeline::plan(&manifest, max_file_bytes))
            .await
            .map_err(|e| TaskError::Retry(format!("discovery panicked: {e}")))?;
    let batch_size = ctx.cfg().parse_batch_size.max(1);
    let languages = found.languages();
    let files = Arc::new(found.files);
    // The plan's blob, the tree artifact and the parse cache's answer are independent: each
    // is mostly one core's work (50k entries each at 50k files), so they run side by side.
    let tree = TreeDoc {
        head: DocHead::now(job.repo_id, snapshot.id),
        total_files: files.len(),
        languages,
        files: TreeEntries(Arc::clone(&files)),
        ignored: found.ignored,
    };
    let (_, _, (to_parse, reused)) = tokio::try_join!(
        put_work_value(&ctx, &job, WorkBlob::Discovered, Arc::clone(&files)),
        write_artifact(&ctx, &job, &snapshot, ArtifactKind::Tree, tree),
        // Files the parse cache holds skip the batches: merge loads their records.
        parsing::split(&ctx, &job, &files),
    )?;
    let batches = to_parse.len().div_ceil(batch_size);
    // Each batch's slice on its own, so a parse_batch on another worker reads its 50 entries,
    // not all of them. Written several at a time: against S3 each is a round trip. With the
    // in-process queue every batch runs here and takes its slice from the memo (after a
    // restart, from the `discovered` and `reused` blobs), so the blobs are not needed.
    if matches!(ctx.queue(), QueueBackend::Redis(_)) {
        let planned: Vec<pipeline::PlannedFile> = to_parse
            .iter()
            .map(|&i| files[i as usize].clone())
            .collect();
        let plans: Vec<(WorkBlob, &[pipeline::PlannedFile])> = planned
            .chunks(batch_size)
            .enumerate()
            .map(|(i, slice)| (WorkBlob::Plan(i as u32), slice))
            .collect();
        for group in plans.chunks(PLAN_WRITES_AT_ONCE) {
            futures_util::future::try_join_all(
                group
                    .iter()
                    .map(|(blob, slice)| put_work_blob(&ctx, &job, *blob, *slice)),
            )
            .await?;
        }
    }
    let reused_count = reused.len();
    let job = progress::set_phase(
        &ctx,
        job.id,
        phase::DISCOVERED,
        JobUpdate {
            files_total: Some(files.len() as i32),
            batches_total: Some(batches as i32),
            ..Default::default()
        },
    )
    .await?;
    let total = payload::FilesTotal {
        count: files.len(),
        batches,
        cached: reused_count,
    };
    progress::emit_once(&ctx, job.id, &total).await?;
    if batches == 0 {
        return maybe_merge(&ctx, &job).await;
    }
    progress::set_phase(&ctx, job.id, phase::PARSING, JobUpdate::default()).await?;
    let order = parsing::costliest_first(&files, &to_parse, batch_size);
    super::enqueue_batches(&ctx, &PARSE_BATCH, job.id, &order).await
}

/// `parse_batch`: parses its slice of the discovered files; the last batch to finish enqueues
/// `merge`, exactly once (guarded in the database).
pub async fn parse_batch(ctx: AppContext, env: Envelope) -> Result<(), TaskError> {
    let Some(job) = load_job(&ctx, &env).await? else {
        return Ok(());
    };
    let index = env
        .batch_index
        .ok_or_else(|| TaskError::Fail("parse_batch without a batch index".into()))?;
    // A re-delivered batch whose result is stored skips the parsing and only redoes fan-in.
    // A first attempt cannot find one, and asking costs a round trip to the store per batch;
    // were one there after all (a task put back on its queue as new), parsing again is only
    // slower: every write below accepts what an earlier attempt stored.
    let stored: Option<Arc<Vec<FileRecord>>> = if env.attempt > 1 {
        get_work_value(&ctx, &job, WorkBlob::Batch(index))
            .await
            .ok()
    } else {
        None
    };
    // Against Redis (a cluster) the parse-cache refs go with the batch's count, in the
    // database, so merge reads them all in one query instead of a blob per batch from the
    // bucket. In process they stay in the memo, decoded, as a work value: merge takes them
    // from there without a copy in the database or its decoding. A re-delivered batch whose
    // records were stored has none to give: if an earlier attempt did not count it, its files
    // are simply not indexed.
    let (heads, cache_refs): (Vec<RecordHead>, Option<String>) = match stored {
        Some(records) => (records.iter().map(RecordHead::of).collect(), None),
        None => {
            let slice = batch_plan(&ctx, &job, index).await?;
            let src = source::open(&ctx, &job).await?;
            let (records, refs) = parsing::parse_files(&ctx, &job, src, slice).await?;
            let refs = match ctx.queue() {
                QueueBackend::Redis(_) => Some(serde_json::to_string(&refs).fatal()?),
                QueueBackend::Local(_) => {
                    // Memo only, like the records (see put_work_records): refs lost with a
                    // restart only leave their files out of the parse cache's index.
                    let size = refs
                        .refs
                        .iter()
                        .map(|(k, p)| k.len() + p.len())
                        .sum::<usize>();
                    let name = WorkBlob::Cache(index).name();
                    ctx.memo().put(job.id, &name, Arc::new(refs), size as u64);
                    None
                }
            };
            put_work_records(&ctx, &job, WorkBlob::Batch(index), &records).await?;
            (records.into_iter().map(|r| r.head).collect(), refs)
        }
    };
    let parsed = heads.iter().filter(|r| !r.skipped).count() as i32;
    // Warnings first: their rows are keyed by content, so a re-run adds none, and an attempt
    // that dies right after counting the batch has still recorded them.
    let warnings: usize = heads.iter().map(|r| r.warnings.len()).sum();
    parsing::insert_warnings(&ctx, &job, &heads).await?;
    let counted = ctx
        .db()
        .incr_batches_done(job.id, index as i32, parsed, cache_refs)
        .await
        .retryable()?;
    let recount = counted.is_none();
    let job_now = match counted {
        Some(row) => Some(row),
        None => {
            // Counted by an earlier attempt. If that attempt died before announcing the
            // batch, announce it now (once), so followers still see every batch.
            if batch_announced(&ctx, job.id, index).await? {
                tracing::info!(job_id = %job.id, batch = index, "batch already counted");
                return maybe_merge(&ctx, &job).await;
            }
            ctx.db().get_job(job.id).await.retryable()?
        }
    };
    let (done, total, files_parsed) = job_now
        .as_ref()
        .map_or((job.batches_done, job.batches_total, parsed), |j| {
            (j.batches_done, j.batches_total, j.files_parsed)
        });
    let pct = (phase::PARSING.pct + (15 * done / total.max(1))).min(50);
    // Only while parsing: a late batch must not move a merging job's pct backwards. The row is
    // written only when something it shows changes (pct moves about 15 times per job, however
    // many batches; warnings are rare); otherwise the live status just shows the new counts.
    match &job_now {
        Some(j) if Phase::of(&j.phase) != Some(Phase::Parsing) => {}
        Some(j) if j.pct >= pct && warnings == 0 => progress::mirror_status(&ctx, j).await,
        _ => {
            progress::set_pct(
                &ctx,
                job.id,
                pct,
                JobUpdate {
                    warnings_count: Some(ctx.db().count_warnings(job.id).await.retryable()? as i32),
                    ..Default::default()
                },
            )
            .await?;
        }
    }
    let batch = payload::BatchParsed {
        batch_index: index,
        files: heads.len(),
        parsed,
        warnings,
        batches_done: done,
        batches_total: total,
        files_parsed,
    };
    progress::emit(&ctx, job.id, &batch).await?;
    if warnings > 0 {
        let message = format!("{warnings} file warning(s) in batch {index}");
        let summary = payload::FileWarnings::new(warnings, Some(index), message);
        progress::emit(&ctx, job.id, &summary).await?;
    }
    if done >= total || recount {
        maybe_merge(&ctx, &job).await?;
    }
    Ok(())
}

/// Whether a `batch_parsed` event for batch `index` of the job is recorded (read only on
/// the rare path of a re-delivered batch).
async fn batch_announced(
    ctx: &AppContext,
    job_id: uuid::Uuid,
    index: u32,
) -> Result<bool, TaskError> {
    let mut after = 0;
    loop {
        let rows = ctx
            .db()
            .events_after(job_id, after, 500)
            .await
            .retryable()?;
        let Some(last) = rows.last() else {
            return Ok(false);
        };
        after = last.seq;
        if rows.iter().any(|r| {
            r.event_type == types::BATCH_PARSED
                && r.payload.get("batchIndex").and_then(Value::as_u64) == Some(u64::from(index))
        }) {
            return Ok(true);
        }
    }
}

/// Per-batch plan blobs `discover` writes at once.
const PLAN_WRITES_AT_ONCE: usize = 16;

/// The discovered files of batch `index`: its own blob, or (a job discovered before batches had
/// one) its slice of the whole list.
async fn batch_plan(
    ctx: &AppContext,
    job: &Job,
    index: u32,
) -> Result<Vec<pipeline::PlannedFile>, TaskError> {
    let batch_size = ctx.cfg().parse_batch_size.max(1);
    if ctx
        .memo()
        .get::<Vec<pipeline::PlannedFile>>(job.id, &WorkBlob::Discovered.name())
        .is_none()
    {
        if let Ok(slice) = get_work_blob(ctx, job, WorkBlob::Plan(index)).await {
            return Ok(slice);
        }
    }
    let discovered: Arc<Vec<pipeline::PlannedFile>> =
        get_work_value(ctx, job, WorkBlob::Discovered).await?;
    parsing::batch_files(ctx, job, &discovered, &[index], batch_size).await
}

/// Enqueues merge when every batch is counted and nobody enqueued it yet.
async fn maybe_merge(ctx: &AppContext, job: &Job) -> Result<(), TaskError> {
    let Some(job) = ctx.db().get_job(job.id).await.retryable()? else {
        return Ok(());
    };
    if job.batches_done < job.batches_total {
        return Ok(());
    }
    // The claim records, once, that fan-in is complete. The enqueue itself is idempotent (the
    // task id is derived from job and name), so a claimer that died between claiming and
    // enqueueing is covered by whichever retry comes next — as long as merge has not started.
    let claimed = ctx.db().claim_merge(job.id).await.retryable()?;
    let merge_started = Phase::of(&job.phase).is_some_and(|p| p >= Phase::Merging);
    if claimed || !merge_started {
        enqueue(ctx, &MERGE, job.id, None).await?;
    }
    Ok(())
}

/// `merge`: gathers every batch, resolves imports across the snapshot, `files` artifact.
///
/// This is the one place where the full set of resolved [`FileRecord`]s of a snapshot exists
/// (`records` after `resolve_imports`); later stages get it from the memo or the `files`
/// artifact.
pub async fn merge(ctx: AppContext, env: Envelope) -> Result<(), TaskError> {
    let Some((job, snapshot)) = load(&ctx, &env).await? else {
        return Ok(());
    };
    parsing::announce_unannounced_batches(&ctx, &job).await?;
    progress::set_phase(&ctx, job.id, phase::MERGING, JobUpdate::default()).await?;
    let (mut records, mut cache, lost) = gather_batches(&ctx, &job).await?;
    // The files no batch took: their records come from the parse cache.
    let discovered: Arc<Vec<pipeline::PlannedFile>> =
        get_work_value(&ctx, &job, WorkBlob::Discovered).await?;
    let loaded = parsing::load_reused(&ctx, &job, &discovered).await;
    cache.reused += loaded.parsed();
    cache.refs.extend(loaded.refs);
    parsing::record_warnings(&ctx, &job, &loaded.records).await?;
    // The shorter list joins the longer (the reused records' list has room for the whole job):
    // on a re-upload the reused records are nearly all of them, and copying them into the
    // batches' list moved 50k large values on this task's thread. The order does not matter
    // here: the records are sorted by path before they are resolved.
    let mut records = if loaded.records.len() >= records.len() {
        let mut all = loaded.records;
        all.append(&mut records);
        all
    } else {
        records.extend(loaded.records);
        records
    };
    let mut missing = loaded.missing;
    if !lost.is_empty() {
        let batch_size = ctx.cfg().parse_batch_size.max(1);
        missing.extend(parsing::batch_files(&ctx, &job, &discovered, &lost, batch_size).await?);
    }
    let (parsed_now, refs) = parsing::parse_missing(&ctx, &job, missing).await?;
    // This job's parsing is over: this worker's idle parser children would only hold their
    // memory through the rest of the job and the wait for the next one.
    if let Some(pool) = ctx.parsers() {
        pool.release_idle().await;
    }
    records.extend(parsed_now);
    cache.refs.extend(refs.refs);
    cache.reused += refs.reused;
    progress::update(
        &ctx,
        job.id,
        JobUpdate {
            files_reused: Some(cache.reused as i32),
            files_parsed: Some(records.iter().filter(|r| !r.skipped).count() as i32),
            ..Default::default()
        },
    )
    .await?;
    // For the next job of the repository: written while this one resolves (finalize waits).
    behind::write_behind(&ctx, &job, |ctx, job| async move {
        parse_cache::store_index(&ctx, &job, cache.refs).await;
    });
    // Configuration files the resolvers read (tsconfig, package.json, workspaces).
    let src = source::open(&ctx, &job).await?;
    let kept = resolve_cache::load(&ctx, &job).await;
    let (records, mut resolved) = tokio::task::spawn_blocking(move || {
        let wanted: Vec<ManifestEntry> = discovered
            .iter()
            .filter(|f| pipeline::is_resolver_config(&f.entry.path))
            .map(|f| f.entry.clone())
            .collect();
        let configs: BTreeMap<String, String> = source::read(&src, &wanted)
            .into_iter()
            .filter_map(|(p, b)| {
                b.ok()
                    .map(|b| (p, String::from_utf8_lossy(&b).into_owned()))
            })
            .collect();
        // Sorted through a permutation: the records are large, and a comparison sort moved
        // each of them about log2(n) times (0.1 s at 53.6k files). The kept resolutions are
        // decoded (about 50 ms at 53.6k files) while the records are sorted and indexed
        // (Python resolver, JS/TS environment): a profile of a re-upload of that monorepo
        // showed the decoding, then the indexes, each on one core with the other idle.
        // Resolution uses them only when they were made in this run's environment.
        let (kept, ready) = rayon::join(
            || resolve_cache::decode(kept),
            || {
                records.sort_by_cached_key(|r| r.path.clone());
                pipeline::Indexes::of(&records, &configs)
            },
        );
        let resolved = pipeline::resolve_indexed(&mut records, &configs, ready, kept);
        (records, resolved)
    })
    .await
    .map_err(|e| TaskError::Retry(format!("resolution panicked: {e}")))?;
    let config_warnings = &resolved.warnings;
    for (path, w) in config_warnings {
        let new = crate::db::NewWarning {
            job_id: job.id,
            snapshot_id: job.snapshot_id,
            file_path: Some(path.clone()),
            code: w.code.clone(),
            message: w.message.clone(),
        };
        // A re-run merge finds the row recorded and announces nothing again.
        if ctx.db().insert_warning(&new).await.retryable()? {
            let warning = payload::Warning::of_file(&w.code, &w.message, Some(path));
            progress::emit(&ctx, job.id, &warning).await?;
        }
    }
    let records = Arc::new(records);
    if resolved.worth_keeping() {
        if let Some(env) = resolved.env.clone() {
            // Best effort, beside the stages that follow (finalize waits for it).
            let (records, warnings) = (Arc::clone(&records), resolved.warnings.clone());
            behind::write_behind(&ctx, &job, |ctx, job| async move {
                resolve_cache::store(&ctx, &job, env, records, warnings).await;
            });
        }
    }
    ahead::free(std::mem::take(&mut resolved.spent));
    let graph = ahead::start_graph(&records);
    let doc = FilesDoc::new(DocHead::now(job.repo_id, snapshot.id), Arc::clone(&records));
    let written = write_artifact(&ctx, &job, &snapshot, ArtifactKind::Files, doc).await?;
    ctx.memo()
        .put(job.id, RESOLVED, records, written.bytes.max(0) as u64);
    ahead::keep_graph(&ctx, &job, graph).await;
    enqueue(&ctx, &MAP, job.id, None).await
}

/// Batch blobs merge fetches at once (each is a GET against S3).
const BATCHES_AT_ONCE: usize = 8;

/// What merge takes of one parse batch: its records (maybe still encoded; None when an
/// in-process batch's were lost) and its cache refs.
type BatchParts = (Option<WorkPart<Vec<FileRecord>>>, Option<CacheRefs>);

/// Every parse batch's records, in batch order, and their parse-cache refs: taken from the memo
/// or fetched from the store several at a time, then decoded on all cores. With the in-process
/// queue a batch's records are in the memo only (see [`put_work_records`]): the batches whose
/// records are not there (a restart, an eviction) are returned, for merge to parse again.
async fn gather_batches(
    ctx: &AppContext,
    job: &Job,
) -> Result<(Vec<FileRecord>, CacheRefs, Vec<u32>), TaskError> {
    use futures_util::{StreamExt, TryStreamExt};
    // In a cluster, every batch's parse-cache refs, counted with it (in process they are in
    // the memo: see parse_batch).
    let mut counted: HashMap<u32, String> = match ctx.queue() {
        QueueBackend::Redis(_) => ctx
            .db()
            .list_batch_results(job.id)
            .await
            .retryable()?
            .into_iter()
            .filter_map(|b| Some((u32::try_from(b.batch_index).ok()?, b.cache_refs?)))
            .collect(),
        QueueBackend::Local(_) => HashMap::new(),
    };
    let parts: Vec<BatchParts> = futures_util::stream::iter(0..job.batches_total.max(0) as u32)
        .map(|i| {
            let refs = counted.remove(&i);
            async move {
                let records = match take_work_part(ctx, job, WorkBlob::Batch(i)).await {
                    Ok(part) => Some(part),
                    Err(e) if matches!(ctx.queue(), QueueBackend::Local(_)) => {
                        tracing::debug!(job_id = %job.id, batch = i, error = %e, "batch records lost");
                        None
                    }
                    Err(e) => return Err(e),
                };
                let refs = match refs {
                    Some(json) => serde_json::from_str::<CacheRefs>(&json).ok(),
                    // In process, or counted by an older version: a work value; absent there
                    // too, the batch's files are simply not indexed.
                    None => take_work_value::<CacheRefs>(ctx, job, WorkBlob::Cache(i))
                        .await
                        .ok()
                        .map(Arc::unwrap_or_clone),
                };
                Ok::<_, TaskError>((records, refs))
            }
        })
        .buffered(BATCHES_AT_ONCE)
        .try_collect()
        .await?;
    let mut cache = CacheRefs::default();
    let mut decode = Vec::with_capacity(parts.len());
    let mut lost = Vec::new();
    for (i, (records, refs)) in parts.into_iter().enumerate() {
        let Some(records) = records else {
            // Parsed again in full: its refs (if any) would only repeat.
            lost.push(i as u32);
            continue;
        };
        if let Some(refs) = refs {
            cache.refs.extend(refs.refs);
            cache.reused += refs.reused;
        }
        decode.push(records);
    }
    if !lost.is_empty() {
        tracing::warn!(job_id = %job.id, batches = lost.len(),
            "parse batches' records are not in memory (a restart or an eviction); merge parses their files again");
    }
    let capacity = job.files_total.max(0) as usize;
    let batches: Vec<Vec<FileRecord>> = tokio::task::spawn_blocking(move || {
        decode
            .into_par_iter()
            .map(WorkPart::into_value)
            .collect::<Result<_, _>>()
    })
    .await
    .map_err(|e| TaskError::Retry(format!("decoding the batches panicked: {e}")))??;
    let mut records = Vec::with_capacity(capacity);
    for batch in batches {
        records.extend(batch);
    }
    Ok((records, cache, lost))
}

/// The resolved records of the job: from the memo (merge ran here), else the `files` artifact.
async fn resolved_records(
    ctx: &AppContext,
    job: &Job,
    snapshot: &Snapshot,
) -> Result<Arc<Vec<FileRecord>>, TaskError> {
    if let Some(records) = ctx.memo().get::<Vec<FileRecord>>(job.id, RESOLVED) {
        return Ok(records);
    }
    let doc: FilesIn = publish::read_job_artifact(ctx, job, snapshot, ArtifactKind::Files).await?;
    let records = Arc::new(doc.files);
    ctx.memo().put(job.id, RESOLVED, Arc::clone(&records), 0);
    Ok(records)
}

/// `map`: the import graph of the merged files, `graph` artifact and import metrics.
pub async fn map(ctx: AppContext, env: Envelope) -> Result<(), TaskError> {
    let Some((job, snapshot)) = load(&ctx, &env).await? else {
        return Ok(());
    };
    progress::set_phase(&ctx, job.id, phase::MAPPING, JobUpdate::default()).await?;
    let records = resolved_records(&ctx, &job, &snapshot).await?;
    let graph = ahead::graph(&ctx, &job, &records)
        .await
        .map_err(|e| TaskError::Retry(format!("graph building panicked: {e}")))?;
    let m = &graph.metrics;
    let (internal, external, unresolved, cycles) = (
        m.internal as i32,
        m.external as i32,
        m.unresolved_local as i32,
        m.cycles.len(),
    );
    let detect_inputs = ahead::start_detect_inputs(&ctx, &job, &records);
    let doc = GraphDoc {
        head: DocHead::now(job.repo_id, snapshot.id),
        graph: Shared(Arc::clone(&graph)),
    };
    let written = write_artifact(&ctx, &job, &snapshot, ArtifactKind::Graph, doc).await?;
    ctx.memo()
        .put(job.id, GRAPH, graph, written.bytes.max(0) as u64);
    // Summarize takes them from the memo: they are there before it is queued.
    let _ = detect_inputs.await;
    // What merge and map freed (writing `files` and `graph`, building the graph) lies in
    // pages among what stays: give those back before summarize, where the job peaked,
    // allocates its own (about 2 ms at 53.6k files).
    tokio::task::spawn_blocking(crate::host::release_free_memory);
    for (kind, n) in [
        ("internal", internal),
        ("external", external),
        ("unresolved", unresolved),
    ] {
        ::metrics::counter!(crate::telemetry::metrics::IMPORTS_TOTAL, "type" => kind)
            .increment(n.max(0) as u64);
    }
    let total = internal + external + unresolved;
    let counts = payload::ImportsMetrics {
        imports_total: total,
        imports_internal: internal,
        imports_external: external,
        unresolved_local: unresolved,
        cycles,
    };
    progress::emit_once(&ctx, job.id, &counts).await?;
    progress::set_phase(
        &ctx,
        job.id,
        phase::MAPPED,
        JobUpdate {
            imports_total: Some(total),
            imports_internal: Some(internal),
            imports_external: Some(external),
            imports_unresolved: Some(unresolved),
            ..Default::default()
        },
    )
    .await?;
    enqueue(&ctx, &SUMMARIZE, job.id, None).await
}

/// `summarize`: capabilities and summaries from the parsed facts (deterministic; an LLM is
/// optional and never required).
///
/// File texts are read one by one, as the detectors ask for them (from the zip, several
/// threads at once), never all held at once; only an LLM run, which needs them together,
/// collects them.
pub async fn summarize(ctx: AppContext, env: Envelope) -> Result<(), TaskError> {
    let Some((job, snapshot)) = load(&ctx, &env).await? else {
        return Ok(());
    };
    progress::set_phase(&ctx, job.id, phase::SUMMARIZING, JobUpdate::default()).await?;
    let records = resolved_records(&ctx, &job, &snapshot).await?;
    let graph: Arc<pipeline::graph::Graph> = match ctx.memo().get(job.id, GRAPH) {
        Some(g) => g,
        None => {
            Arc::new(publish::read_job_artifact(&ctx, &job, &snapshot, ArtifactKind::Graph).await?)
        }
    };
    let planned: Arc<Vec<pipeline::PlannedFile>> =
        get_work_value(&ctx, &job, WorkBlob::Discovered).await?;
    let src = source::open(&ctx, &job).await?;
    let llm = crate::llm::LlmSettings::from_config(ctx.cfg()).is_some();
    let shared = Arc::clone(&records);
    // Each file's key and the detectors' per-file results of the repository's last run (an
    // unchanged file is neither read nor scanned again), usually prepared by map.
    let ahead::DetectInputs { keys, kept } = ahead::take_detect_inputs(&ctx, &job, &records)
        .await
        .map_err(|e| TaskError::Retry(format!("keying the files panicked: {e}")))?;
    let (caps, summaries, texts, keep) = tokio::task::spawn_blocking(move || {
        let wanted: std::collections::HashMap<&str, &ManifestEntry> = planned
            .iter()
            .filter(|f| f.parse || pipeline::caps_reads(&f.entry.path, f.language))
            .map(|f| (f.entry.path.as_str(), &f.entry))
            .collect();
        let read = |path: &str| {
            let entry = wanted.get(path)?;
            let bytes = source::read_one(&src, entry).ok()?;
            // Valid UTF-8 (nearly every source file) becomes the String without a copy.
            Some(
                String::from_utf8(bytes)
                    .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
            )
        };
        let reuse =
            |i: usize, _: &FileRecord| keys.get(i)?.as_ref().and_then(|k| kept.get(k).cloned());
        let (caps, summaries, fresh) =
            pipeline::capabilities_and_summaries_reusing(&shared, &graph, &read, &reuse);
        let keep = detect_cache::entries(&keys, kept, fresh);
        // The LLM wants the texts of the files it summarizes, all at once.
        let texts: std::collections::HashMap<String, String> = if llm {
            wanted
                .keys()
                .filter_map(|p| read(p).map(|t| (p.to_string(), t)))
                .collect()
        } else {
            Default::default()
        };
        (caps, summaries, texts, keep)
    })
    .await
    .map_err(|e| TaskError::Retry(format!("summarizing panicked: {e}")))?;
    // Kept while the documents are written and finalize runs (the cache is not needed before
    // the next job; finalize waits for it).
    behind::write_behind(&ctx, &job, |ctx, job| async move {
        detect_cache::store(&ctx, &job, keep).await;
    });
    let head = DocHead::now(job.repo_id, snapshot.id);
    let caps = Headed {
        head: head.clone(),
        doc: caps,
    };
    // The two documents are written side by side (each is mostly one core's serializing):
    // `capabilities` at once, `summaries` once the LLM (when configured) has improved them.
    let summarized = async {
        // The LLM never fails the task.
        let (summaries, llm_warnings) = crate::llm::summaries_for_job(
            ctx.cfg(),
            ctx.artifacts(),
            &job.id.to_string(),
            &records,
            &texts,
            summaries,
        )
        .await;
        drop(texts);
        let summaries = Headed {
            head,
            doc: summaries,
        };
        write_artifact(&ctx, &job, &snapshot, ArtifactKind::Summaries, summaries).await?;
        Ok::<_, TaskError>(llm_warnings)
    };
    let (_, llm_warnings) = tokio::try_join!(
        write_artifact(&ctx, &job, &snapshot, ArtifactKind::Capabilities, caps),
        summarized,
    )?;
    let job_row = ctx
        .db()
        .get_job(job.id)
        .await
        .retryable()?
        .unwrap_or(job.clone());
    for w in &llm_warnings {
        progress::warn(&ctx, &job_row, w.path.as_deref(), w.code, &w.message).await?;
    }
    if ctx.cfg().llm_base_url.is_none() || ctx.cfg().llm_api_key.is_none() {
        progress::warn(
            &ctx,
            &job_row,
            None,
            "no_llm",
            "no LLM configured (LLM_BASE_URL / LLM_API_KEY): summaries are deterministic, built from the parsed facts",
        )
        .await?;
    }
    progress::set_phase(
        &ctx,
        job.id,
        phase::SUMMARIZED,
        JobUpdate {
            warnings_count: Some(ctx.db().count_warnings(job.id).await.retryable()? as i32),
            ..Default::default()
        },
    )
    .await?;
    enqueue(&ctx, &FINALIZE, job.id, None).await
}

/// `finalize`: the `metrics` artifact, snapshot `completed`, job `done` and the terminal event.
pub async fn finalize(ctx: AppContext, env: Envelope) -> Result<(), TaskError> {
    let Some((job, snapshot)) = load(&ctx, &env).await? else {
        return Ok(());
    };
    progress::set_phase(&ctx, job.id, phase::FINALIZING, JobUpdate::default()).await?;
    let tasks = ctx.db().list_tasks(job.id).await.retryable()?;
    let durations = progress::phase_durations(&tasks, chrono::Utc::now());
    let started = job.started_at.unwrap_or(job.created_at);
    let total_ms = (chrono::Utc::now() - job.created_at)
        .num_milliseconds()
        .max(0);
    let warnings = ctx.db().count_warnings(job.id).await.retryable()?;
    let metrics = payload::JobMetrics {
        job_id: job.id,
        repo_id: job.repo_id,
        snapshot_id: snapshot.id,
        files_count: job.files_total,
        files_parsed: Some(job.files_parsed),
        files_reused: job.files_reused,
        bytes: job.upload_bytes,
        imports_total: job.imports_total,
        imports_internal: job.imports_internal,
        imports_external: job.imports_external,
        unresolved_local: job.imports_unresolved,
        warnings_count: warnings,
        phase_durations_ms: durations,
        queue_wait_ms: (started - job.created_at).num_milliseconds().max(0),
        total_ms,
        cache_hit: false,
    };
    write_artifact(
        &ctx,
        &job,
        &snapshot,
        ArtifactKind::Metrics,
        metrics.clone(),
    )
    .await?;
    ctx.db()
        .set_snapshot_status(snapshot.id, SnapshotStatus::Completed)
        .await
        .retryable()?;
    // What the job keeps for the next one is written before the job is seen done.
    behind::settle(&ctx, &job).await;
    // Nothing reads the work blobs any more (finalize itself does not): delete them before
    // the job is seen `done`, so the end of its last task is not held up by the deletes.
    super::retention::job_ended(&ctx, job.id).await;
    progress::set_phase(
        &ctx,
        job.id,
        phase::DONE,
        JobUpdate {
            finished_at: Some(Some(chrono::Utc::now())),
            warnings_count: Some(warnings as i32),
            ..Default::default()
        },
    )
    .await?;
    ::metrics::counter!(crate::telemetry::metrics::JOBS_TOTAL, "phase" => "done", "status" => "done").increment(1);
    ::metrics::histogram!(crate::telemetry::metrics::JOB_DURATION_MS).record(total_ms as f64);
    progress::emit(&ctx, job.id, &payload::Done::Metrics(metrics)).await?;
    ctx.sources().forget(job.id);
    ctx.memo().forget(job.id);
    tokio::task::spawn_blocking(crate::host::release_free_memory);
    Ok(())
}
