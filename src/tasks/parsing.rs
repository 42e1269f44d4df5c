//! Turning a job's discovered files into parse records: which files need a parse batch at all,
//! and the parsing itself.
//!
//! `discover` splits the files with [`split`]. A file whose record the repository's previous
//! run left in the [parse cache](super::parse_cache) is neither read nor sent through a batch:
//! `merge` loads its record straight from the cache pack ([`load_reused`]). So a re-upload
//! after a small change runs batches for the changed files only, instead of a thousand
//! batches that each load, re-encode and hand on records nobody changed. Should a pack be gone
//! by merge time (the cache is never needed for correctness), merge parses those files itself.

use super::publish::{get_work_value, put_work_value, WorkBlob};
use super::{parse_cache, progress, source};
use crate::db::{Job, JobUpdate};
use crate::events::{payload, types};
use crate::pipeline::encoded::{EncodedRecord, RecordHead};
use crate::pipeline::ingest::ManifestEntry;
use crate::pipeline::model::FileRecord;
use crate::pipeline::{self, PlannedFile};
use crate::queue::{QueueBackend, TaskError, TaskResultExt};
use crate::sandbox;
use crate::tasks::context::AppContext;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Packs merge reads at once (each is a GET against S3).
const PACKS_AT_ONCE: usize = 8;

/// Splits the discovered files into those the parse batches take (positions, in order) and
/// those whose record the parse cache holds (by the repository's last finished run), with the
/// pack holding it. The split is stored once: a re-run `discover` keeps the split an earlier
/// attempt stored (another job may have refreshed the cache since), so every batch of the job
/// agrees on its files.
pub async fn split(
    ctx: &AppContext,
    job: &Job,
    files: &[PlannedFile],
) -> Result<(Vec<u32>, Arc<Vec<(u32, String)>>), TaskError> {
    if let Ok(reused) = get_work_value::<Vec<(u32, String)>>(ctx, job, WorkBlob::Reused).await {
        return Ok((to_parse(files.len(), &reused), reused));
    }
    let index = parse_cache::index(ctx, job).await;
    let mut reused = Vec::new();
    for (i, f) in files.iter().enumerate() {
        if !index.is_empty() {
            if let Some(pack) = index.get(&key_of(f)) {
                reused.push((i as u32, pack.clone()));
            }
        }
    }
    let reused = Arc::new(reused);
    put_work_value(ctx, job, WorkBlob::Reused, Arc::clone(&reused)).await?;
    Ok((to_parse(files.len(), &reused), reused))
}

/// With the in-process queue this process parses every batch of the job: its parser children
/// start while discovery runs (see [`crate::sandbox::ParserPool::prewarm`]) instead of in the
/// first batches. In a cluster any worker may take the batches, so none starts children early.
pub fn prewarm(ctx: &AppContext) {
    if !matches!(ctx.queue(), QueueBackend::Local(_)) || ctx.parsers().is_none() {
        return;
    }
    let ctx = ctx.clone();
    tokio::spawn(async move {
        if let Some(pool) = ctx.parsers() {
            pool.prewarm().await;
        }
    });
}

/// The batches of `to_parse` (positions in `files`, `batch_size` a batch) in the order they
/// are enqueued: the costliest first, by the bytes they give the parsers. Batches follow the
/// path order, so a few large files (a bundled build, a generated client) often land in one
/// of the last batches, and the job then waits on it alone with the other cores idle;
/// started first, it runs beside the others. Ties keep the batch order.
pub fn costliest_first(files: &[PlannedFile], to_parse: &[u32], batch_size: usize) -> Vec<u32> {
    // A file's fixed cost (reading, a round trip to the child, its record), in bytes.
    const PER_FILE: u64 = 2048;
    let mut costs: Vec<(u64, u32)> = to_parse
        .chunks(batch_size)
        .enumerate()
        .map(|(i, chunk)| {
            let bytes: u64 = chunk
                .iter()
                .filter_map(|&at| files.get(at as usize))
                .map(|f| PER_FILE + if f.parse { f.entry.size } else { 0 })
                .sum();
            (bytes, i as u32)
        })
        .collect();
    costs.sort_by_key(|&(bytes, i)| (std::cmp::Reverse(bytes), i));
    costs.into_iter().map(|(_, i)| i).collect()
}

/// Positions of the files the parse batches take: every one of `n` not reused, in order.
fn to_parse(n: usize, reused: &[(u32, String)]) -> Vec<u32> {
    let mut taken = vec![false; n];
    for (i, _) in reused {
        if let Some(t) = taken.get_mut(*i as usize) {
            *t = true;
        }
    }
    (0..n as u32).filter(|&i| !taken[i as usize]).collect()
}

/// The parse cache key of a file.
fn key_of(f: &PlannedFile) -> String {
    if f.parse {
        parse_cache::cache_key(&f.entry.path, &f.entry.hash, parse_cache::PARSER_VERSION)
    } else {
        parse_cache::unparsed_key(&f.entry.path, &f.entry.hash)
    }
}

/// The files of the parse batches `indices`: their slices of the files to parse, in batch
/// order (one read of the reused list and one pass, however many batches).
pub async fn batch_files(
    ctx: &AppContext,
    job: &Job,
    discovered: &[PlannedFile],
    indices: &[u32],
    batch_size: usize,
) -> Result<Vec<PlannedFile>, TaskError> {
    let positions: Vec<u32> =
        match get_work_value::<Vec<(u32, String)>>(ctx, job, WorkBlob::Reused).await {
            Ok(reused) if !reused.is_empty() => to_parse(discovered.len(), &reused),
            // Nothing reused (a cold run), or a job discovered before files were split.
            _ => (0..discovered.len() as u32).collect(),
        };
    Ok(indices
        .iter()
        .flat_map(|&index| {
            positions
                .iter()
                .skip(index as usize * batch_size)
                .take(batch_size)
        })
        .filter_map(|&i| discovered.get(i as usize).cloned())
        .collect())
}

/// What merge got from the cache without a batch: the records, their `[key, pack]` for the
/// next index, and the files whose pack could not be read (to be parsed now).
#[derive(Default)]
pub struct Reused {
    /// Records loaded from the cache.
    pub records: Vec<FileRecord>,
    /// `[key, pack]` of each loaded record.
    pub refs: Vec<(String, String)>,
    /// Files whose pack was missing or unreadable.
    pub missing: Vec<PlannedFile>,
}

impl Reused {
    /// How many of the loaded records are parse records: what `filesReused` counts (the
    /// records of files that are not parsed are cached too, but nothing parses them anyway).
    pub fn parsed(&self) -> usize {
        self.records.iter().filter(|r| !r.skipped).count()
    }
}

/// Loads the records of the job's reused files from their packs: fetched several at a time,
/// then decoded and matched on every core. (Taken one pack at a time on the merge task, the
/// matching was serial and the decoding waited for it: 540 ms for 50.7k reused files.)
pub async fn load_reused(
    ctx: &AppContext,
    job: &Job,
    discovered: &Arc<Vec<PlannedFile>>,
) -> Reused {
    let Ok(reused) = get_work_value::<Vec<(u32, String)>>(ctx, job, WorkBlob::Reused).await else {
        return Reused::default();
    };
    // A cold job reuses nothing: no list with room for the whole job (below) to throw away.
    if reused.is_empty() {
        return Reused::default();
    }
    let mut by_pack: HashMap<String, Vec<u32>> = HashMap::new();
    for (i, pack) in reused.iter() {
        by_pack.entry(pack.clone()).or_default().push(*i);
    }
    // Owned, so each load is a `'static` future (a stream of borrowing futures is not `Send`
    // for every lifetime the task runner asks of it).
    let fetched: Vec<(String, Vec<u32>, Option<bytes::Bytes>)> =
        futures_util::stream::iter(by_pack)
            .map(|(pack, files)| {
                let ctx = ctx.clone();
                async move {
                    let bytes = parse_cache::read_pack_bytes(&ctx, &pack).await;
                    (pack, files, bytes)
                }
            })
            .buffer_unordered(PACKS_AT_ONCE)
            .collect()
            .await;
    let all = Arc::clone(discovered);
    let total = job.files_total.max(0) as usize;
    let matched = tokio::task::spawn_blocking(move || {
        use rayon::prelude::*;
        let parts: Vec<Reused> = fetched
            .into_par_iter()
            .map(|(pack, files, bytes)| {
                let files = files.iter().filter_map(|&i| all.get(i as usize));
                match_pack(&pack, bytes.as_deref(), files)
            })
            .collect();
        // Reserved at once, with room for the whole job's records (merge adds the batches'
        // to this list): grown part by part, the records (large values, 50k of them on a
        // re-upload of a 53.6k-file monorepo) were copied again at every doubling, about
        // 50 ms on one core with its page faults in a profile of that merge.
        let mut out = Reused::default();
        out.records.reserve_exact(
            parts
                .iter()
                .map(|p| p.records.len())
                .sum::<usize>()
                .max(total),
        );
        out.refs
            .reserve_exact(parts.iter().map(|p| p.refs.len()).sum());
        for part in parts {
            out.records.extend(part.records);
            out.refs.extend(part.refs);
            out.missing.extend(part.missing);
        }
        out
    })
    .await;
    matched.unwrap_or_else(|e| {
        // Only a bug panics there: every reused file is then parsed again.
        tracing::warn!(error = %e, "loading the parse cache failed; its files are parsed again");
        Reused {
            missing: reused
                .iter()
                .filter_map(|(i, _)| discovered.get(*i as usize).cloned())
                .collect(),
            ..Reused::default()
        }
    })
}

/// The records of `files` found in one pack (`bytes`, None when it could not be read); the
/// files it lacks are missing.
fn match_pack<'a>(
    pack: &str,
    bytes: Option<&[u8]>,
    files: impl Iterator<Item = &'a PlannedFile>,
) -> Reused {
    let mut records = bytes.and_then(parse_cache::decode_pack).unwrap_or_default();
    let mut out = Reused::default();
    for f in files {
        let key = key_of(f);
        match records.remove(&key) {
            Some(rec) => {
                out.records.push(rec);
                out.refs.push((key, pack.to_string()));
            }
            None => out.missing.push(f.clone()),
        }
    }
    out
}

/// Inserts the warning rows of the records with `heads` and says how many are new (rows are
/// keyed by content, so a re-run task adds none).
pub async fn insert_warnings(
    ctx: &AppContext,
    job: &Job,
    heads: &[RecordHead],
) -> Result<usize, TaskError> {
    let mut new = 0usize;
    for r in heads.iter().filter(|r| !r.warnings.is_empty()) {
        for w in &r.warnings {
            let inserted = ctx
                .db()
                .insert_warning(&crate::db::NewWarning {
                    job_id: job.id,
                    snapshot_id: job.snapshot_id,
                    file_path: Some(r.path.clone()),
                    code: w.code.clone(),
                    message: w.message.clone(),
                })
                .await
                .retryable()?;
            new += usize::from(inserted);
        }
    }
    Ok(new)
}

/// Records the warnings of records that no batch counted (reused, or parsed by merge): rows
/// are keyed by content, so a re-run merge adds none; the new ones are announced in one event.
pub async fn record_warnings(
    ctx: &AppContext,
    job: &Job,
    records: &[FileRecord],
) -> Result<(), TaskError> {
    let heads: Vec<RecordHead> = records
        .iter()
        .filter(|r| !r.warnings.is_empty())
        .map(RecordHead::of)
        .collect();
    let new = insert_warnings(ctx, job, &heads).await?;
    if new > 0 {
        let count = ctx.db().count_warnings(job.id).await.retryable()? as i32;
        progress::update(
            ctx,
            job.id,
            JobUpdate {
                warnings_count: Some(count),
                ..Default::default()
            },
        )
        .await?;
        let message = format!("{new} file warning(s) in files no parse batch took");
        let summary = payload::FileWarnings::new(new, None, message);
        progress::emit(ctx, job.id, &summary).await?;
    }
    Ok(())
}

/// How long merge gives a counted batch to announce itself before speaking for it. A live
/// attempt sends its event a few queries after counting (merge may start in between, when the
/// other batches finished first); one that died never does.
const ANNOUNCE_GRACE: Duration = Duration::from_secs(3);

/// Announces, once, every counted batch that has no `batch_parsed` event. A batch counted by
/// an attempt that died before announcing it is announced by its retry, but when the other
/// batches finish first, merge starts before that retry comes (the lease has not lapsed): merge
/// then announces it here, so every batch of the job has its event. A batch still missing is
/// first given [`ANNOUNCE_GRACE`] to announce itself, so a live attempt between its count and
/// its event is not announced twice. Read only by merge, so a re-run finds the events it wrote.
pub async fn announce_unannounced_batches(ctx: &AppContext, job: &Job) -> Result<(), TaskError> {
    let deadline = Instant::now() + ANNOUNCE_GRACE;
    let mut missing = unannounced_batches(ctx, job).await?;
    while !missing.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        missing = unannounced_batches(ctx, job).await?;
    }
    for index in missing {
        let records: Arc<Vec<FileRecord>> =
            get_work_value(ctx, job, WorkBlob::Batch(index as u32)).await?;
        let parsed = records.iter().filter(|r| !r.skipped).count();
        let warnings: usize = records.iter().map(|r| r.warnings.len()).sum();
        tracing::info!(job_id = %job.id, batch = index, "announcing a batch whose attempt died after counting it");
        let batch = payload::BatchParsed {
            batch_index: index as u32,
            files: records.len(),
            parsed: parsed as i32,
            warnings,
            batches_done: job.batches_done,
            batches_total: job.batches_total,
            files_parsed: job.files_parsed,
        };
        progress::emit(ctx, job.id, &batch).await?;
    }
    Ok(())
}

/// The counted batches of `job` without a `batch_parsed` event.
async fn unannounced_batches(ctx: &AppContext, job: &Job) -> Result<Vec<u64>, TaskError> {
    let mut announced = std::collections::HashSet::new();
    let mut after = 0;
    loop {
        let rows = ctx
            .db()
            .events_after(job.id, after, 500)
            .await
            .retryable()?;
        let Some(last) = rows.last() else { break };
        after = last.seq;
        announced.extend(
            rows.iter()
                .filter(|r| r.event_type == types::BATCH_PARSED)
                .filter_map(|r| r.payload.get("batchIndex").and_then(|v| v.as_u64())),
        );
    }
    Ok((0..job.batches_total.max(0) as u64)
        .filter(|i| !announced.contains(i))
        .collect())
}

/// What a batch left for the parse cache: `[key, pack]` of each record it parsed or reused,
/// and how many it reused.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct CacheRefs {
    /// `[key, pack]` of each cached record.
    pub refs: Vec<(String, String)>,
    /// Parse records taken from the cache (records of files not parsed are not counted).
    pub reused: usize,
}

/// Reads and parses files in the parser sandbox (or in process when it is disabled); files
/// whose records the parse cache holds are neither read nor parsed. The records come encoded,
/// as the parser wrote them (a batch only passes them on).
pub async fn parse_files(
    ctx: &AppContext,
    job: &Job,
    src: source::Source,
    files: Vec<PlannedFile>,
) -> Result<(Vec<EncodedRecord>, CacheRefs), TaskError> {
    let keys: Vec<String> = files.iter().map(key_of).collect();
    let cached = parse_cache::lookup(ctx, job, &keys).await;
    let index = parse_cache::index(ctx, job).await;
    let mut out: Vec<Option<EncodedRecord>> = vec![None; files.len()];
    let mut refs = CacheRefs::default();
    let mut to_read = Vec::new();
    for (i, hit) in cached.into_iter().enumerate() {
        match hit {
            Some(rec) => {
                let key = &keys[i];
                if let Some(pack) = index.get(key) {
                    refs.refs.push((key.clone(), pack.clone()));
                }
                // `filesReused` counts parse records (see `Reused::parsed`).
                refs.reused += usize::from(!rec.skipped);
                out[i] = Some(EncodedRecord::encode(&rec));
            }
            None => to_read.push(i),
        }
    }
    let entries: Vec<ManifestEntry> = to_read.iter().map(|&i| files[i].entry.clone()).collect();
    let read = tokio::task::spawn_blocking(move || source::read(&src, &entries))
        .await
        .map_err(|e| TaskError::Retry(format!("reading the batch panicked: {e}")))?;
    let mut to_parse = Vec::new();
    let mut fresh = Vec::new();
    for (i, (path, bytes)) in to_read.into_iter().zip(read) {
        let file = &files[i];
        match bytes {
            Err(e) => {
                let mut rec = FileRecord::new(&path, file.language, &file.ext, &[]);
                rec.size = file.entry.size;
                rec.hash = file.entry.hash.clone();
                rec.skipped = true;
                rec.skip_reason = Some("unreadable".into());
                rec.warnings.push(pipeline::model::FileWarning {
                    code: "read_error".into(),
                    message: e,
                });
                out[i] = Some(EncodedRecord::encode(&rec));
            }
            Ok(bytes) if !file.parse => {
                let rec = EncodedRecord::encode(&pipeline::unparsed_record(
                    &path,
                    file,
                    &bytes,
                    ctx.cfg().max_file_bytes,
                ));
                // Cached too: a re-upload then reads none of its unchanged files, and its
                // parse batches hold only what changed.
                fresh.push((keys[i].clone(), rec.clone()));
                out[i] = Some(rec);
            }
            Ok(bytes) => to_parse.push((i, path, bytes)),
        }
    }
    let indices: Vec<usize> = to_parse.iter().map(|(i, _, _)| *i).collect();
    let jobs: Vec<(String, Vec<u8>)> = to_parse.into_iter().map(|(_, p, b)| (p, b)).collect();
    let pool = ctx
        .parsers()
        .ok_or_else(|| TaskError::Fail("this process has no parser pool (API-only)".into()))?;
    let parsed = pool.parse_batch(jobs).await;
    for (i, rec) in indices.into_iter().zip(parsed) {
        ::metrics::counter!(crate::telemetry::metrics::FILES_PARSED_TOTAL,
            "language" => pipeline::language_label(rec.head.language),
            "status" => if rec.head.warnings.is_empty() { "ok" } else { "warning" })
        .increment(1);
        // A timeout or a crash says as much about this machine as about the file: not cached.
        let sandbox_failure = rec
            .head
            .warnings
            .iter()
            .any(|w| w.code == sandbox::PARSE_TIMEOUT || w.code == sandbox::PARSE_CRASH);
        if !sandbox_failure {
            fresh.push((keys[i].clone(), rec.clone()));
        }
        out[i] = Some(rec);
    }
    let fresh_keys: Vec<String> = fresh.iter().map(|(k, _)| k.clone()).collect();
    if let Some(pack) = parse_cache::store_pack(ctx, fresh).await {
        refs.refs
            .extend(fresh_keys.into_iter().map(|k| (k, pack.clone())));
    }
    Ok((out.into_iter().flatten().collect(), refs))
}

/// The reused records merge could not load, parsed now (with the same rules as a batch).
pub async fn parse_missing(
    ctx: &AppContext,
    job: &Job,
    missing: Vec<PlannedFile>,
) -> Result<(Vec<FileRecord>, CacheRefs), TaskError> {
    if missing.is_empty() {
        return Ok((Vec::new(), CacheRefs::default()));
    }
    tracing::warn!(job_id = %job.id, files = missing.len(),
        "records not at hand (parse-cache packs gone since discovery, or a batch lost with a restart); parsing those files in merge");
    let src = source::open(ctx, job).await?;
    let (encoded, refs) = parse_files(ctx, job, src, missing).await?;
    let records = encoded
        .iter()
        .map(EncodedRecord::decode)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TaskError::Fail(format!("a parser returned a malformed record: {e}")))?;
    record_warnings(ctx, job, &records).await?;
    Ok((records, refs))
}

#[cfg(test)]
mod tests {
    use super::{costliest_first, key_of, match_pack, to_parse};
    use crate::pipeline::ingest::ManifestEntry;
    use crate::pipeline::model::{FileRecord, Language};
    use crate::pipeline::PlannedFile;

    fn planned(path: &str, hash: &str) -> PlannedFile {
        PlannedFile {
            entry: ManifestEntry {
                path: path.to_string(),
                size: 1,
                hash: hash.to_string(),
                zip: None,
            },
            language: Language::Ts,
            ext: "ts".to_string(),
            parse: true,
        }
    }

    /// The batch holding a large file goes first; batches of equal cost keep their order; a
    /// file that is not parsed weighs only its fixed cost, and reused files are no batch's.
    #[test]
    fn batches_are_enqueued_costliest_first() {
        let sized = |path: &str, size: u64, parse: bool| {
            let mut f = planned(path, "h");
            f.entry.size = size;
            f.parse = parse;
            f
        };
        let files = vec![
            sized("a.ts", 10, true),
            sized("b.ts", 10, true),
            sized("c.ts", 10, true),
            sized("d.json", 500_000, false),
            sized("e.ts", 10, true),
            sized("f.ts", 10, true),
            sized("g.ts", 400_000, true),
            sized("h.ts", 10, true),
            sized("reused.ts", 9_000_000, true),
        ];
        // Batches of 2 over positions 0..=7 (8, the reused file, is in none of them):
        // [a b] [c d] [e f] [g h]. `d` is large but not parsed: [c d] is the cheapest, and
        // [a b] and [e f] cost the same.
        let to_parse: Vec<u32> = (0..8).collect();
        assert_eq!(costliest_first(&files, &to_parse, 2), [3, 0, 2, 1]);
        assert_eq!(costliest_first(&files, &to_parse[..6], 2), [0, 2, 1]);
        assert!(costliest_first(&files, &[], 2).is_empty());
    }

    #[test]
    fn a_pack_gives_the_records_it_holds_and_the_other_files_are_missing() {
        let (a, b, c) = (
            planned("a.ts", "h1"),
            planned("b.ts", "h2"),
            planned("c.ts", "h3"),
        );
        let rec = |p: &str| FileRecord::new(p, Language::Ts, "ts", b"x");
        // `c` is not in the pack; `b`'s record is stored under another content's key.
        let pack: Vec<(String, FileRecord)> = vec![
            (key_of(&a), rec("a.ts")),
            (key_of(&planned("b.ts", "old")), rec("b.ts")),
        ];
        let bytes = serde_json::to_vec(&pack).expect("encode");
        let got = match_pack("p1", Some(&bytes), [&a, &b, &c].into_iter());
        let paths = |v: &[PlannedFile]| v.iter().map(|f| f.entry.path.clone()).collect::<Vec<_>>();
        assert_eq!(got.records.len(), 1);
        assert_eq!(got.records[0].path, "a.ts");
        assert_eq!(got.refs, vec![(key_of(&a), "p1".to_string())]);
        assert_eq!(paths(&got.missing), ["b.ts", "c.ts"]);
        // A pack that is gone or is not a pack: every file is missing (and parsed again).
        for bytes in [None, Some(&b"not json"[..])] {
            let got = match_pack("p1", bytes, [&a, &b].into_iter());
            assert!(got.records.is_empty() && got.refs.is_empty());
            assert_eq!(paths(&got.missing), ["a.ts", "b.ts"]);
        }
    }

    #[test]
    fn the_batches_take_every_file_not_reused_in_order() {
        let reused = vec![
            (1, "p".to_string()),
            (3, "q".to_string()),
            (9, "far".to_string()),
        ];
        assert_eq!(to_parse(5, &reused), vec![0, 2, 4]);
        assert_eq!(to_parse(3, &[]), vec![0, 1, 2]);
    }
}
