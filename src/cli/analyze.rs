//! `provis analyze <repo.zip|dir>`: the whole pipeline once, embedded, in this process.
//!
//! State lives under `<out>/.provis` (SQLite, artifact store), so analysing the same tree
//! again is a cache hit; the latest artifact of each kind is also copied to `<out>/<kind>.json`
//! for people and scripts. Progress is a bar on a terminal and plain lines otherwise.

use crate::artifacts::ArtifactKind;
use crate::config::Config;
use crate::events::types;
use crate::tasks::context::{AppContext, Role};
use crate::tasks::intake::{self, Input, IntakeError, Submission};
use anyhow::Context as _;
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tokio_util::sync::CancellationToken;

/// Flags of `provis analyze`.
#[derive(Debug, clap::Args)]
pub struct AnalyzeArgs {
    /// A repository zip, or a directory (analysed in place, without zipping).
    pub input: PathBuf,
    /// Where artifacts are written (`<out>/<kind>.json`; state under `<out>/.provis`).
    #[arg(long, default_value = "provis-out")]
    pub out: PathBuf,
    /// Print the result as JSON on stdout instead of a human summary.
    #[arg(long)]
    pub json: bool,
    /// Repository name (default: the zip's or directory's name).
    #[arg(long)]
    pub repo: Option<String>,
}

/// Runs the pipeline on one input; an error (a failed job included) is a non-zero exit.
pub async fn run(mut cfg: Config, args: AnalyzeArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let meta = std::fs::metadata(&args.input)
        .with_context(|| format!("cannot read {}", args.input.display()))?;
    // Embedded, whatever the environment says: analyze needs nothing external.
    cfg.database_url = None;
    cfg.redis_url = None;
    cfg.s3 = None;
    cfg.data_dir = args.out.join(".provis");
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let workers = cfg
        .workers
        .max(std::thread::available_parallelism().map_or(2, |n| n.get()));
    let ctx = AppContext::build(cfg, Role::AllInOne).await?;
    let shutdown = CancellationToken::new();
    let mut pool = tokio::spawn(super::work::run_workers(
        ctx.clone(),
        Some("analyze".into()),
        false,
        workers,
        shutdown.clone(),
    ));

    let name = args.repo.clone().unwrap_or_else(|| {
        let base = args
            .input
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "repo".into());
        intake::repo_name_from_filename(&base)
    });
    let input = if meta.is_dir() {
        Input::Dir(args.input.clone())
    } else {
        Input::Zip(args.input.clone())
    };
    let sub = Submission {
        input,
        repo: name.clone(),
        settings: json!({}),
        upload_bytes: if meta.is_dir() { 0 } else { meta.len() },
    };
    let accepted = match intake::submit(&ctx, sub).await {
        Ok(a) => a,
        Err(IntakeError::Rejected { rejection, .. }) => {
            shutdown.cancel();
            anyhow::bail!("{} was refused: {}", args.input.display(), rejection);
        }
        Err(e) => {
            shutdown.cancel();
            return Err(e.into());
        }
    };
    let outcome = tokio::select! {
        outcome = follow(&ctx, accepted.job_id, args.json) => outcome,
        ended = &mut pool => {
            // The workers only stop on `shutdown`: ones that ended failed (say, a start-up
            // query was refused), and without them the job would wait forever.
            let why = match ended {
                Ok(Ok(())) => "they stopped".to_string(),
                Ok(Err(e)) => format!("{e:#}"),
                Err(e) => e.to_string(),
            };
            anyhow::bail!("the workers of this run ended before the job did: {why}");
        }
    };
    shutdown.cancel();
    let _ = pool.await;
    let final_event = outcome?;
    if final_event.r#type != types::DONE {
        let msg = final_event
            .payload
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("the job failed");
        let code = final_event
            .payload
            .get("code")
            .and_then(Value::as_str)
            .unwrap_or("error");
        anyhow::bail!("analysis failed: {code}: {msg}");
    }
    let docs = export(&ctx, &accepted.snapshot_id, &args.out).await?;
    let summary = summarize(&docs, &accepted, started.elapsed().as_millis() as u64);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print_summary(&summary, &args.out);
    }
    Ok(())
}

/// Follows the job's events until the terminal one, drawing progress.
async fn follow(
    ctx: &AppContext,
    job_id: uuid::Uuid,
    quiet: bool,
) -> anyhow::Result<crate::events::Event> {
    let tty = std::io::stderr().is_terminal() && !quiet;
    let bar = if tty {
        let bar = ProgressBar::new(100);
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:40} {pos:>3}% {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        Some(bar)
    } else {
        None
    };
    let stream = crate::api::sse::stream(ctx.clone(), job_id, 0).await;
    futures_util::pin_mut!(stream);
    let mut last_line = String::new();
    while let Some(chunk) = stream.next().await {
        let Ok(bytes) = chunk else { continue };
        let text = String::from_utf8_lossy(&bytes);
        let Some(data) = text.lines().find_map(|l| l.strip_prefix("data: ")) else {
            continue;
        };
        let ev: crate::events::Event = serde_json::from_str(data)?;
        let pct = ev.payload.get("pct").and_then(Value::as_u64);
        let phase = ev
            .payload
            .get("phase")
            .and_then(Value::as_str)
            .unwrap_or("");
        if let Some(bar) = &bar {
            if let Some(p) = pct {
                bar.set_position(p);
            }
            if !phase.is_empty() {
                bar.set_message(phase.to_string());
            }
        } else if !quiet && ev.r#type == types::PHASE {
            let line = format!("[{:>3}%] {phase}", pct.unwrap_or(0));
            if line != last_line {
                eprintln!("{line}");
                last_line = line;
            }
        }
        if ev.is_terminal() {
            if let Some(bar) = &bar {
                bar.finish_and_clear();
            }
            return Ok(ev);
        }
    }
    anyhow::bail!("the event stream ended before the job did")
}

/// Copies the latest artifact of each kind to `<out>/<kind>.json` (byte for byte, as the store
/// holds it) and returns the summary figures, read from the documents without loading the big
/// ones whole (`files` of a 50k-file repo is 170 MB of JSON). The kinds are exported at once:
/// reading `files` and `graph` back was half a second, one after the other, at 50k files.
async fn export(
    ctx: &AppContext,
    snapshot_id: &uuid::Uuid,
    out: &Path,
) -> anyhow::Result<Exported> {
    let snapshot = ctx
        .db()
        .get_snapshot(*snapshot_id)
        .await?
        .context("the snapshot vanished")?;
    let snapshot = &snapshot;
    let figures = futures_util::future::try_join_all(
        ArtifactKind::ALL
            .into_iter()
            .map(|kind| export_one(ctx, snapshot, kind, out)),
    )
    .await?;
    let mut exported = Exported::default();
    for (kind, figures) in ArtifactKind::ALL.into_iter().zip(figures) {
        match kind {
            ArtifactKind::Files => exported.files = figures,
            ArtifactKind::Graph => exported.graph = figures,
            ArtifactKind::Capabilities => exported.caps = figures,
            _ => {}
        }
    }
    Ok(exported)
}

/// Exports the latest artifact of `kind` (see [`export`]) and returns its figures (`Null` for
/// a kind without any, or not written).
async fn export_one(
    ctx: &AppContext,
    snapshot: &crate::db::Snapshot,
    kind: ArtifactKind,
    out: &Path,
) -> anyhow::Result<Value> {
    let Some(row) = ctx.db().latest_artifact(snapshot.id, kind.as_str()).await? else {
        return Ok(Value::Null);
    };
    let key = crate::tasks::publish::key_of(snapshot, kind, row.version)?;
    let path = out.join(format!("{}.json", kind.as_str()));
    ctx.artifacts()
        .fetch_to_path(&key, &path)
        .await
        .with_context(|| format!("cannot write {}", path.display()))?;
    tokio::task::spawn_blocking(move || -> anyhow::Result<Value> {
        let read = || std::fs::read(&path);
        // From a slice, not a reader: skipping the records' strings is a SIMD search there and
        // a byte at a time through a reader (7% of the worker's instructions on a 2.6k-file
        // repository). The document is held for this read only, after the job has given its
        // memory back.
        Ok(match kind {
            ArtifactKind::Files => {
                let doc: FilesFigures = serde_json::from_slice(&read()?)?;
                let routes: usize = doc.files.iter().map(|f| f.routes.len()).sum();
                json!({"summary": doc.summary, "routes": routes})
            }
            ArtifactKind::Graph => {
                let doc: GraphFigures = serde_json::from_slice(&read()?)?;
                json!({"metrics": doc.metrics, "cycles": doc.metrics.cycles.len()})
            }
            ArtifactKind::Capabilities => serde_json::from_slice(&read()?)?,
            _ => Value::Null,
        })
    })
    .await?
    .with_context(|| format!("reading the {} artifact", kind.as_str()))
}

/// What the summary needs of the exported documents.
#[derive(Default)]
struct Exported {
    files: Value,
    graph: Value,
    caps: Value,
}

/// The fields of `files` the summary reads; serde skips the rest of each record.
#[derive(serde::Deserialize)]
struct FilesFigures {
    #[serde(default)]
    summary: Value,
    #[serde(default)]
    files: Vec<RoutesOnly>,
}

#[derive(serde::Deserialize)]
struct RoutesOnly {
    #[serde(default)]
    routes: Vec<serde::de::IgnoredAny>,
}

#[derive(serde::Deserialize)]
struct GraphFigures {
    metrics: GraphMetricsFigures,
}

#[derive(serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct GraphMetricsFigures {
    #[serde(default)]
    internal: u64,
    #[serde(default)]
    external: u64,
    #[serde(default)]
    unresolved_local: u64,
    #[serde(default, skip_serializing)]
    cycles: Vec<serde::de::IgnoredAny>,
}

fn summarize(docs: &Exported, acc: &intake::Accepted, elapsed_ms: u64) -> Value {
    let gm = docs.graph.get("metrics").cloned().unwrap_or(json!({}));
    json!({
        "repoId": acc.repo_id,
        "snapshotId": acc.snapshot_id,
        "jobId": acc.job_id,
        "commitHash": acc.commit_hash,
        "cacheHit": acc.cache_hit,
        "files": docs.files.pointer("/summary/totalFiles").cloned().unwrap_or(json!(0)),
        "languages": docs.files.pointer("/summary/languages").cloned().unwrap_or(json!({})),
        "edges": {
            "internal": gm.get("internal").cloned().unwrap_or(json!(0)),
            "external": gm.get("external").cloned().unwrap_or(json!(0)),
            "unresolved": gm.get("unresolvedLocal").cloned().unwrap_or(json!(0)),
        },
        "cycles": docs.graph.get("cycles").cloned().unwrap_or(json!(0)),
        "routes": docs.files.get("routes").cloned().unwrap_or(json!(0)),
        "capabilities": docs.caps.get("capabilities").and_then(Value::as_array)
            .map(|cs| cs.iter().map(|c| c.get("name").cloned().unwrap_or(Value::Null)).collect::<Vec<_>>())
            .unwrap_or_default(),
        "elapsedMs": elapsed_ms,
    })
}

fn print_summary(s: &Value, out: &Path) {
    let n = |p: &str| s.pointer(p).cloned().unwrap_or(Value::Null);
    println!(
        "provis: analysed in {} ms{}",
        n("/elapsedMs"),
        if s["cacheHit"] == json!(true) {
            " (cache hit)"
        } else {
            ""
        }
    );
    println!("  files        {}", n("/files"));
    if let Some(langs) = s["languages"].as_object() {
        let list: Vec<String> = langs.iter().map(|(k, v)| format!("{k} {v}")).collect();
        println!("  languages    {}", list.join(", "));
    }
    println!(
        "  imports      {} internal, {} external, {} unresolved; {} cycle(s)",
        n("/edges/internal"),
        n("/edges/external"),
        n("/edges/unresolved"),
        n("/cycles")
    );
    println!("  routes       {}", n("/routes"));
    if let Some(caps) = s["capabilities"].as_array() {
        println!("  capabilities {}", caps.len());
        for c in caps.iter().take(10) {
            println!("    - {}", c.as_str().unwrap_or("?"));
        }
    }
    println!("  artifacts    {}", out.display());
}
