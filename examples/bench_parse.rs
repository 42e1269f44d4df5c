//! Parse benchmark (driven by `scripts/bench parse`; not a test, no assertions on speed).
//!
//! Times the pure pipeline functions on a directory of real code, in this process:
//!
//! ```text
//! bench_parse throughput <dir> [runs]        per-core and all-core MB/s by language
//! bench_parse app <dir> [runs]               parse (all cores) + resolve + graph of a tree
//! bench_parse sandbox <dir> <provis> [runs]  ParserPool: child processes vs in-process
//! bench_parse reference <dir> [runs]         bare oxc parse + oxc_resolver resolve (no provis)
//! ```
//!
//! `reference` is the yardstick of the pipeline-overhead goal: read every JS/TS file the
//! discovery rules keep from disk, parse it with `oxc_parser` (one arena per thread, reused),
//! and resolve every requested module of its module record with one shared `oxc_resolver`
//! (tsconfig discovered per file, the extensions and conditions of provis's TypeScript
//! importers) on the real file system, on `BENCH_THREADS` threads. Nothing of provis runs:
//! no fact extraction, no records, no graph.
//!
//! Files are chosen by the discovery rules (`pipeline::discover`, `MAX_FILE_BYTES` default
//! 2 MiB), as a job would choose them. Every phase is run `runs` times (default 3) and the best
//! and median wall times are printed as `key=value` lines, which the script collects.

// A benchmark, not the service: a failed set-up may panic.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use provis::pipeline::{self, discover, graph, js, model::FileRecord, model::Language};
use provis::sandbox::{ParserPool, SandboxOptions};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The pipeline's default `MAX_FILE_BYTES`.
const MAX_FILE_BYTES: u64 = 2 << 20;

/// The pipeline's default `PARSE_BATCH_SIZE`.
const BATCH: usize = 50;

/// Batches parsed at once in the sandbox comparison (worker slots of all-in-one on 2 cores).
const SLOTS: usize = 2;

struct Corpus {
    /// Code files to parse: (repo-relative path, language, bytes).
    code: Vec<(String, Language, Vec<u8>)>,
    /// Every kept path (nodes of the graph), code or not.
    all_paths: Vec<String>,
    /// Resolver configuration files (tsconfig, package.json …): path → text.
    configs: BTreeMap<String, String>,
    /// Texts the capability detectors read (code, manifests): path → text.
    texts: std::collections::HashMap<String, String>,
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, u64)>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let ty = entry.file_type()?;
        let path = entry.path();
        if ty.is_dir() {
            walk(root, &path, out)?;
        } else if ty.is_file() {
            let rel = path
                .strip_prefix(root)
                .map_err(std::io::Error::other)?
                .to_string_lossy()
                .replace('\\', "/");
            out.push((rel, entry.metadata()?.len()));
        }
    }
    Ok(())
}

fn load(root: &Path) -> std::io::Result<Corpus> {
    let mut paths = Vec::new();
    walk(root, root, &mut paths)?;
    let found = discover::discover(paths.iter().map(|(p, s)| (p.as_str(), *s)));
    let mut code = Vec::new();
    let mut configs = BTreeMap::new();
    let mut all_paths = Vec::new();
    let mut texts = std::collections::HashMap::new();
    for f in &found.files {
        all_paths.push(f.path.clone());
        if f.should_parse(MAX_FILE_BYTES) || pipeline::caps_reads(&f.path, f.language) {
            let bytes = std::fs::read(root.join(&f.path))?;
            texts.insert(f.path.clone(), String::from_utf8_lossy(&bytes).into_owned());
        }
        if f.should_parse(MAX_FILE_BYTES) {
            code.push((
                f.path.clone(),
                f.language,
                std::fs::read(root.join(&f.path))?,
            ));
        } else if pipeline::is_resolver_config(&f.path) {
            let text = std::fs::read_to_string(root.join(&f.path))?;
            configs.insert(f.path.clone(), text);
        }
    }
    Ok(Corpus {
        code,
        all_paths,
        configs,
        texts,
    })
}

fn label(l: Language) -> &'static str {
    pipeline::language_label(l)
}

/// Best and median of `runs` timings of `f`.
fn time<R>(runs: usize, mut f: impl FnMut() -> R) -> (Duration, Duration, R) {
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let r = f();
        times.push(t.elapsed());
        last = Some(r);
    }
    times.sort();
    let best = times[0];
    let median = times[times.len() / 2];
    // `last` is set: runs is at least 1.
    (best, median, last.unwrap_or_else(|| unreachable!()))
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

fn mbps(bytes: usize, d: Duration) -> String {
    format!("{:.1}", bytes as f64 / 1e6 / d.as_secs_f64())
}

/// Parses every file of `files` on the big-stack pool (its size is set at start-up).
fn parse_all(files: &[(&str, &[u8])]) -> Vec<FileRecord> {
    use rayon::prelude::*;
    match js::parse_pool() {
        Some(pool) => pool.install(|| {
            files
                .par_iter()
                .map(|(p, b)| pipeline::parse_file(p, b))
                .collect()
        }),
        None => files
            .iter()
            .map(|(p, b)| pipeline::parse_file(p, b))
            .collect(),
    }
}

fn throughput(corpus: &Corpus, runs: usize, threads: usize) {
    let mut by_lang: BTreeMap<&str, Vec<(&str, &[u8])>> = BTreeMap::new();
    for (p, l, b) in &corpus.code {
        by_lang
            .entry(label(*l))
            .or_default()
            .push((p.as_str(), b.as_slice()));
    }
    for (lang, files) in &by_lang {
        let bytes: usize = files.iter().map(|(_, b)| b.len()).sum();
        let (best, median, recs) = time(runs, || parse_all(files));
        let facts: usize = recs
            .iter()
            .map(|r| r.imports.len() + r.exports.len() + r.functions.len() + r.classes.len())
            .sum();
        let warned = recs.iter().filter(|r| !r.warnings.is_empty()).count();
        println!(
            "lang={lang} threads={threads} files={} bytes={bytes} best_ms={} median_ms={} \
             mb_per_s={} mb_per_s_median={} facts={facts} files_with_warnings={warned}",
            files.len(),
            ms(best),
            ms(median),
            mbps(bytes, best),
            mbps(bytes, median),
        );
    }
    // Also the JS/TS path of the pipeline's parser entry point, for the record.
    let jsts: Vec<(&str, &[u8])> = corpus
        .code
        .iter()
        .filter(|(_, l, _)| matches!(l, Language::Js | Language::Ts))
        .map(|(p, _, b)| (p.as_str(), b.as_slice()))
        .collect();
    if !jsts.is_empty() {
        let bytes: usize = jsts.iter().map(|(_, b)| b.len()).sum();
        let (best, median, _) = time(runs, || js::parse_js_batch(&jsts));
        println!(
            "lang=js+ts fn=parse_js_batch threads={threads} files={} bytes={bytes} best_ms={} \
             median_ms={} mb_per_s={}",
            jsts.len(),
            ms(best),
            ms(median),
            mbps(bytes, best)
        );
    }
}

fn app(corpus: &Corpus, runs: usize, threads: usize) {
    let files: Vec<(&str, &[u8])> = corpus
        .code
        .iter()
        .map(|(p, _, b)| (p.as_str(), b.as_slice()))
        .collect();
    let bytes: usize = files.iter().map(|(_, b)| b.len()).sum();
    let mut parse = Vec::new();
    let mut resolve = Vec::new();
    let mut graph_t = Vec::new();
    let mut caps_t = Vec::new();
    let mut total = Vec::new();
    let mut summary = String::new();
    for _ in 0..runs.max(1) {
        let t0 = Instant::now();
        let mut records = parse_all(&files);
        let t1 = Instant::now();
        // Non-code files are graph nodes too (identity records), as in the pipeline.
        let parsed: std::collections::HashSet<&str> = files.iter().map(|(p, _)| *p).collect();
        for p in corpus
            .all_paths
            .iter()
            .filter(|p| !parsed.contains(p.as_str()))
        {
            records.push(pipeline::parse_file(p, b""));
        }
        records.sort_by(|a, b| a.path.cmp(&b.path));
        pipeline::resolve_imports(&mut records, &corpus.configs);
        let t2 = Instant::now();
        let g = graph::build_graph(&records);
        let t3 = Instant::now();
        // The summarize stage: capabilities and summaries (not part of the 0.5 s goal).
        let (caps, _) = pipeline::capabilities_and_summaries(&records, &g, &|p: &str| {
            corpus.texts.get(p).cloned()
        });
        caps_t.push(t3.elapsed());
        let n_caps = caps.capabilities.len();
        parse.push(t1 - t0);
        resolve.push(t2 - t1);
        graph_t.push(t3 - t2);
        total.push(t3 - t0);
        let m = &g.metrics;
        summary = format!(
            "nodes={} edges={} internal={} external={} unresolved_local={} cycles={}",
            m.num_nodes,
            m.num_edges,
            m.internal,
            m.external,
            m.unresolved_local,
            m.cycles.len()
        ) + &format!(" capabilities={n_caps}");
    }
    let best = |v: &mut Vec<Duration>| {
        v.sort();
        v[0]
    };
    let med = |v: &Vec<Duration>| v[v.len() / 2];
    let (bp, br, bg, bt, bc) = (
        best(&mut parse),
        best(&mut resolve),
        best(&mut graph_t),
        best(&mut total),
        best(&mut caps_t),
    );
    println!(
        "app threads={threads} files={} code_files={} bytes={bytes} configs={} parse_ms={} \
         resolve_ms={} graph_ms={} total_best_ms={} total_median_ms={} caps_summaries_ms={} \
         {summary}",
        corpus.all_paths.len(),
        files.len(),
        corpus.configs.len(),
        ms(bp),
        ms(br),
        ms(bg),
        ms(bt),
        ms(med(&total)),
        ms(bc),
    );
}

fn sandbox(corpus: &Corpus, exe: PathBuf, runs: usize) -> Result<(), Box<dyn std::error::Error>> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let files: Vec<(String, Vec<u8>)> = corpus
        .code
        .iter()
        .map(|(p, _, b)| (p.clone(), b.clone()))
        .collect();
    let bytes: usize = files.iter().map(|(_, b)| b.len()).sum();
    for enabled in [false, true] {
        let opts = SandboxOptions {
            enabled,
            exe: exe.clone(),
            ..SandboxOptions::default()
        };
        let concurrency = opts.concurrency;
        let pool = ParserPool::new(opts)?;
        let mut times = Vec::new();
        let mut first = None;
        for run in 0..runs.max(1) {
            let t = Instant::now();
            // In batches of PARSE_BATCH_SIZE, two at a time, like the parse_batch tasks of a
            // worker with two slots (all-in-one and analyze on two cores).
            let n = rt.block_on(async {
                use futures_util::StreamExt;
                futures_util::stream::iter(files.chunks(BATCH))
                    .map(|chunk| pool.parse_batch(chunk.to_vec()))
                    .buffer_unordered(SLOTS)
                    .map(|records| records.len())
                    .fold(0, |n, len| async move { n + len })
                    .await
            });
            let d = t.elapsed();
            if run == 0 {
                first = Some(d);
            }
            times.push(d);
            assert_eq!(n, files.len(), "one record per file");
        }
        times.sort();
        let stats = pool.stats();
        println!(
            "sandbox enabled={enabled} concurrency={concurrency} batch={BATCH} slots={SLOTS} files={} \
             bytes={bytes} first_run_ms={} best_ms={} median_ms={} mb_per_s={} children_spawned={}",
            files.len(),
            ms(first.unwrap_or_default()),
            ms(times[0]),
            ms(times[times.len() / 2]),
            mbps(bytes, times[0]),
            stats.spawned
        );
    }
    Ok(())
}

fn reference(root: &Path, corpus: &Corpus, runs: usize, threads: usize) {
    use oxc_resolver::{ResolveOptions, Resolver, TsconfigDiscovery};
    use rayon::prelude::*;
    let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let files: Vec<PathBuf> = corpus
        .code
        .iter()
        .filter(|(_, l, _)| matches!(l, Language::Js | Language::Ts))
        .map(|(p, _, _)| root.join(p))
        .collect();
    let strings = |v: &[&str]| v.iter().map(|s| (*s).to_string()).collect::<Vec<_>>();
    let mut times = Vec::new();
    let mut totals = (0usize, 0usize, 0usize);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .stack_size(256 << 20)
        .build()
        .expect("thread pool");
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        // A fresh resolver per run: its caches must not carry over between runs.
        let resolver = Resolver::new(ResolveOptions {
            tsconfig: Some(TsconfigDiscovery::Auto),
            extensions: strings(&[
                ".ts", ".tsx", ".d.ts", ".js", ".jsx", ".mjs", ".cjs", ".json",
            ]),
            condition_names: strings(&["import", "require", "node", "types", "default"]),
            ..ResolveOptions::default()
        });
        let counts = pool.install(|| {
            files
                .par_iter()
                .map_init(oxc_allocator::Allocator::default, |arena, path| {
                    let Ok(text) = std::fs::read_to_string(path) else {
                        return (0, 0, 0);
                    };
                    arena.reset();
                    let source_type = oxc_span::SourceType::from_path(path)
                        .unwrap_or_default()
                        .with_jsx(true);
                    let ret = oxc_parser::Parser::new(arena, &text, source_type).parse();
                    let dir = path.parent().unwrap_or(&root);
                    let (mut ok, mut failed) = (0, 0);
                    for spec in ret.module_record.requested_modules.keys() {
                        match resolver.resolve(dir, spec.as_str()) {
                            Ok(_) => ok += 1,
                            Err(_) => failed += 1,
                        }
                    }
                    (1, ok, failed)
                })
                .reduce(|| (0, 0, 0), |a, b| (a.0 + b.0, a.1 + b.1, a.2 + b.2))
        });
        times.push(t.elapsed());
        totals = counts;
    }
    times.sort();
    println!(
        "reference threads={threads} files={} resolved={} unresolved={} best_ms={} median_ms={}",
        totals.0,
        totals.1,
        totals.2,
        ms(times[0]),
        ms(times[times.len() / 2]),
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let usage =
        "usage: bench_parse throughput|app|reference <dir> [runs] | sandbox <dir> <provis> [runs]";
    let (Some(mode), Some(dir)) = (args.get(1), args.get(2)) else {
        return Err(usage.into());
    };
    let threads: usize = std::env::var("BENCH_THREADS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    js::init_parse_pool(threads);
    let t = Instant::now();
    let corpus = load(Path::new(dir))?;
    eprintln!(
        "loaded {} code files ({} kept paths) from {dir} in {} ms",
        corpus.code.len(),
        corpus.all_paths.len(),
        ms(t.elapsed())
    );
    match mode.as_str() {
        "throughput" => {
            let runs = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(3);
            throughput(&corpus, runs, threads);
        }
        "app" => {
            let runs = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(3);
            app(&corpus, runs, threads);
        }
        "reference" => {
            let runs = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(3);
            reference(Path::new(dir), &corpus, runs, threads);
        }
        "sandbox" => {
            let exe = PathBuf::from(args.get(3).ok_or(usage)?);
            let runs = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(3);
            sandbox(&corpus, exe, runs)?;
        }
        _ => return Err(usage.into()),
    }
    Ok(())
}
