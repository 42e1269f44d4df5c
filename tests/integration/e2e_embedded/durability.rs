//! Restart durability: `kill -9` of all-in-one in the middle of a job's parse batches, a new
//! process on the same data dir, and the job still ends `done` with each artifact written once.

use super::check::s;
use super::fixtures;
use super::support::{check_stream, files_under, read_sse, type_counts, Root, Server, KINDS};
use provis::db::TaskState;
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

/// Files in the chain repo: with one file per batch and one worker, enough batches that the
/// job is still parsing when the test kills the server after its first few batches.
const FILES: usize = 300;

/// How many `batch_parsed` events to see before the kill.
const KILL_AFTER_BATCHES: usize = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_job_then_restart_finishes_with_each_artifact_once() {
    let root = Root::new();
    let env = [("PARSE_BATCH_SIZE", "1"), ("NODE_SUBPROC_CONCURRENCY", "1")];
    let mut server = Server::start_with(&root, &env, &["--workers", "1"]).await;
    let repo = fixtures::chain(FILES);
    let up = server.upload("chain.zip", repo.zip(), None).await;
    assert_eq!(up.status, 202, "{}", up.body);
    let job = up.job();
    let job_id = Uuid::parse_str(&job).expect("uuid");

    // Follow the live stream until some batches are parsed, then SIGKILL the server.
    let resp = server
        .http
        .get(server.url(&format!("/jobs/{job}/events")))
        .send()
        .await
        .expect("events");
    let before = read_sse(resp, Some((KILL_AFTER_BATCHES, "batch_parsed"))).await;
    server.kill9();
    let parsed_before = before.iter().filter(|m| m.kind() == "batch_parsed").count();
    assert!(parsed_before >= KILL_AFTER_BATCHES, "{parsed_before}");

    // What the dead process left: the job mid-way, some tasks running or queued.
    let db = server.db().await;
    let row = db.get_job(job_id).await.expect("get_job").expect("job");
    assert_eq!(row.phase, "parsing", "killed mid-job: {row:?}");
    assert!(row.batches_done < row.batches_total, "{row:?}");
    let tasks_before = db.list_tasks(job_id).await.expect("tasks");
    let running: BTreeMap<Uuid, i32> = tasks_before
        .iter()
        .filter(|t| t.state == TaskState::Running)
        .map(|t| (t.id, t.attempt))
        .collect();
    assert!(
        tasks_before.iter().any(|t| t.state != TaskState::Done),
        "work remained"
    );
    drop(db);
    eprintln!(
        "killed after {parsed_before} batch_parsed events, {} of {} batches counted, {} task(s) running",
        row.batches_done,
        row.batches_total,
        running.len()
    );

    // A new process on the same data dir finishes the job.
    let server = Server::start_with(&root, &env, &["--workers", "1"]).await;
    let msgs = server.events(&job).await;
    let events = check_stream(&msgs, &job);
    let last = events.last().expect("events");
    assert_eq!(last["type"], "done", "{last}\nlog:\n{}", server.log_text());
    let status = server.get_json(&format!("/status/{job}"), 200).await;
    assert_eq!(status["phase"], "done", "{status}");
    assert_eq!(status["pct"], 100);
    assert_eq!(status["filesDiscovered"], FILES as u64);
    assert_eq!(status["filesParsed"], FILES as u64);
    assert_eq!(status["importsInternal"], (FILES - 1) as u64);

    // Each artifact written once: one artifact_ready per kind, one version-1 row per kind,
    // one object per kind on disk.
    let counts = type_counts(&events);
    assert_eq!(
        counts.get("artifact_ready"),
        Some(&KINDS.len()),
        "{counts:?}"
    );
    assert_eq!(counts.get("done"), Some(&1));
    let ready: BTreeSet<String> = events
        .iter()
        .filter(|e| e["type"] == "artifact_ready")
        .map(|e| s(&e["payload"]["kind"]))
        .collect();
    assert_eq!(ready.len(), KINDS.len(), "{ready:?}");
    let rows = server.artifact_rows(&up.snapshot()).await;
    assert_eq!(rows.len(), KINDS.len(), "{rows:?}");
    assert!(
        rows.iter().all(|a| a.version == 1 && a.bytes > 0),
        "{rows:?}"
    );
    let stored = files_under(&root.data().join("artifacts").join("repos"));
    assert_eq!(stored.len(), KINDS.len(), "{stored:?}");
    assert!(stored.iter().all(|f| f.ends_with(".v1.json")), "{stored:?}");
    let graph = server
        .get_json(&format!("/repo/{}/graph", up.repo()), 200)
        .await;
    assert_eq!(graph["metrics"]["internal"], (FILES - 1) as u64);

    // A batch is never counted twice: at most one batch_parsed per batch, all counted.
    let mut per_batch: BTreeMap<u64, usize> = BTreeMap::new();
    for e in events.iter().filter(|e| e["type"] == "batch_parsed") {
        *per_batch
            .entry(e["payload"]["batchIndex"].as_u64().expect("index"))
            .or_default() += 1;
    }
    assert!(per_batch.values().all(|n| *n == 1), "{per_batch:?}");
    let db = server.db().await;
    let row = db.get_job(job_id).await.expect("get_job").expect("job");
    assert_eq!(row.batches_total as usize, FILES);
    assert_eq!(row.batches_done, row.batches_total);

    // Every task done once more; the ones the kill interrupted ran again (attempt + 1);
    // merge exactly once.
    let tasks = db.list_tasks(job_id).await.expect("tasks");
    assert_eq!(tasks.len(), 6 + FILES, "one row per task");
    for t in &tasks {
        assert_eq!(t.state, TaskState::Done, "{t:?}");
        assert!(t.attempt >= 1, "{t:?}");
        if let Some(prev) = running.get(&t.id) {
            assert_eq!(t.attempt, prev + 1, "interrupted task retried: {t:?}");
        }
    }
    assert_eq!(tasks.iter().filter(|t| t.name == "merge").count(), 1);
    let merge_phases = events
        .iter()
        .filter(|e| e["type"] == "phase" && e["payload"]["phase"] == "merging")
        .count();
    assert_eq!(merge_phases, 1, "merge ran once");
}
