//! What a finished job must look like everywhere: the event stream, `/status`, the artifact
//! listing and bytes (API, presigned URL, bucket), the `tasks` rows and the RQ registries.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use deadpool_redis::redis;
use provis::db::{Task, TaskState};
use serde_json::Value;
use uuid::Uuid;

use super::{Accepted, Cluster, SseEvent};

pub use crate::common::KINDS;

/// Task name → queue (docs/operations.md).
pub const QUEUES: [(&str, &str); 7] = [
    ("ingest", "high"),
    ("discover", "normal"),
    ("parse_batch", "normal"),
    ("merge", "normal"),
    ("map", "normal"),
    ("summarize", "low"),
    ("finalize", "high"),
];

/// What the test knows about a job before it runs.
#[derive(Debug, Clone)]
pub struct Expect {
    /// Files the repository has (discovery keeps them all in these fixtures).
    pub files: usize,
    /// Parse batches: ⌈files the parse cache does not hold / PARSE_BATCH_SIZE⌉.
    pub batches: usize,
    /// Size of the uploaded zip.
    pub upload_bytes: usize,
    /// Every task ran exactly once (no fault was injected).
    pub single_attempts: bool,
    /// Redis lost its data during the job: RQ job hashes of tasks that finished before the
    /// loss are gone (those that exist must still be finished).
    pub redis_lost: bool,
}

/// What was read while checking, for the test's own assertions.
#[derive(Debug)]
pub struct Outcome {
    /// `/status`.
    pub status: Value,
    /// Artifact documents by kind, as `GET /repo/{repo}/{kind}` served them.
    pub docs: BTreeMap<String, Value>,
    /// Raw bytes by kind.
    pub bytes: BTreeMap<String, Vec<u8>>,
    /// The job's `tasks` rows.
    pub tasks: Vec<Task>,
    /// Worker names that ran the job's tasks (from the RQ job hashes).
    pub rq_workers: BTreeSet<String>,
}

/// Checks the event stream of a job that ran the whole pipeline, replayed from the start.
pub fn check_events(job: Uuid, events: &[SseEvent], expect: &Expect) {
    assert!(!events.is_empty(), "no events for job {job}");
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.id, i as i64 + 1, "event ids are 1, 2, 3, … : {events:?}");
        assert_eq!(e.data["seq"].as_i64(), Some(e.id), "seq is the id: {:?}", e);
        assert_eq!(e.data["id"].as_str(), Some(e.id.to_string().as_str()));
        assert_eq!(e.data["type"].as_str(), Some(e.event.as_str()));
        assert_eq!(e.data["jobId"].as_str(), Some(job.to_string().as_str()));
        assert!(e.data["timestamp"].is_string(), "timestamp: {:?}", e);
    }
    assert_eq!(events[0].event, "upload_received");
    let last = events.last().map(|e| e.event.as_str());
    assert_eq!(last, Some("done"), "the stream ends with done");
    let count = |t: &str| events.iter().filter(|e| e.event == t).count();
    assert_eq!(count("done"), 1);
    assert_eq!(count("error"), 0, "no error event: {events:?}");
    let files_total: Vec<&SseEvent> = events.iter().filter(|e| e.event == "files_total").collect();
    assert_eq!(files_total.len(), 1);
    assert_eq!(
        files_total[0].data["payload"]["count"].as_u64(),
        Some(expect.files as u64)
    );
    let batches: BTreeSet<u64> = events
        .iter()
        .filter(|e| e.event == "batch_parsed")
        .filter_map(|e| e.data["payload"]["batchIndex"].as_u64())
        .collect();
    assert_eq!(
        batches,
        (0..expect.batches as u64).collect::<BTreeSet<_>>(),
        "one batch_parsed per batch"
    );
    assert_eq!(count("batch_parsed"), expect.batches);
    let ready: BTreeMap<String, i64> = events
        .iter()
        .filter(|e| e.event == "artifact_ready")
        .map(|e| {
            (
                e.data["payload"]["kind"].as_str().unwrap_or("").to_string(),
                e.data["payload"]["version"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    assert_eq!(
        ready.keys().map(String::as_str).collect::<BTreeSet<_>>(),
        KINDS.into_iter().collect::<BTreeSet<_>>()
    );
    assert_eq!(count("artifact_ready"), KINDS.len());
    assert_eq!(count("imports_metrics"), 1);
    // Phases only move forward.
    let phases: Vec<i64> = events
        .iter()
        .filter(|e| e.event == "phase")
        .filter_map(|e| e.data["payload"]["pct"].as_i64())
        .collect();
    assert!(
        phases.windows(2).all(|w| w[0] <= w[1]),
        "phase pct goes backwards: {phases:?}"
    );
    let steps: Vec<(String, i64)> = events
        .iter()
        .filter(|e| e.event == "phase")
        .map(|e| {
            (
                e.data["payload"]["phase"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                e.data["payload"]["pct"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    let unique: BTreeSet<&(String, i64)> = steps.iter().collect();
    assert_eq!(
        unique.len(),
        steps.len(),
        "a phase event repeated: {steps:?}"
    );
    let pcts: Vec<i64> = events
        .iter()
        .filter_map(|e| e.data["payload"]["pct"].as_i64())
        .collect();
    assert!(
        pcts.windows(2).all(|w| w[0] <= w[1]),
        "pct goes backwards across phase/progress events: {pcts:?}"
    );
    let names: Vec<&str> = events
        .iter()
        .filter(|e| e.event == "phase")
        .filter_map(|e| e.data["payload"]["phase"].as_str())
        .collect();
    for p in [
        "acquiring",
        "discovering",
        "parsing",
        "merging",
        "mapping",
        "summarizing",
        "finalizing",
        "done",
    ] {
        assert!(names.contains(&p), "phase {p} missing from {names:?}");
    }
}

/// Waits until every `tasks` row of the job has left `queued`/`running` (the hooks record a
/// task's end just after its handler returned, so the last rows may trail the `done` event).
pub async fn settled_tasks(c: &Cluster, job: Uuid) -> Vec<Task> {
    let t0 = Instant::now();
    loop {
        let rows = c.db.list_tasks(job).await.expect("list tasks");
        let open = rows
            .iter()
            .any(|t| matches!(t.state, TaskState::Queued | TaskState::Running));
        if !open && !rows.is_empty() {
            return rows;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "tasks of job {job} still open: {rows:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The RQ id of a task row.
pub fn rq_id(t: &Task, job: Uuid) -> String {
    match t.batch_index {
        Some(i) => format!("{}_{i}_{job}", t.name),
        None => format!("{}_{job}", t.name),
    }
}

/// Waits until the RQ job hash `id` has `status` finished (settling trails the handler).
pub async fn rq_finished(c: &Cluster, id: &str) -> BTreeMap<String, String> {
    let mut r = c.redis().await;
    let t0 = Instant::now();
    loop {
        // Binary fields (zlib-compressed `exc_info` of a retried job) are read lossily.
        let raw: BTreeMap<String, Vec<u8>> = redis::cmd("HGETALL")
            .arg(format!("{}:job:{id}", c.prefix))
            .query_async(&mut r)
            .await
            .expect("HGETALL job");
        let h: BTreeMap<String, String> = raw
            .into_iter()
            .map(|(k, v)| (k, String::from_utf8_lossy(&v).into_owned()))
            .collect();
        if h.get("status").map(String::as_str) == Some("finished") {
            return h;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "RQ job {id} not finished: {h:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Checks everything of a job that ran the whole pipeline to `done` (not a cache hit).
pub async fn check_done_job(
    c: &Cluster,
    acc: &Accepted,
    events: &[SseEvent],
    expect: &Expect,
) -> Outcome {
    let job = acc.job_id;
    check_events(job, events, expect);

    // Tasks rows: one per task (one per batch), all done, each attempt counted.
    let tasks = settled_tasks(c, job).await;
    let mut by_name: BTreeMap<&str, Vec<&Task>> = BTreeMap::new();
    for t in &tasks {
        by_name.entry(t.name.as_str()).or_default().push(t);
    }
    for (name, _) in QUEUES {
        let n = by_name.get(name).map_or(0, Vec::len);
        let want = if name == "parse_batch" {
            expect.batches
        } else {
            1
        };
        assert_eq!(n, want, "tasks rows named {name}: {tasks:#?}");
    }
    assert_eq!(tasks.len(), 6 + expect.batches, "{tasks:#?}");
    let batch_idx: BTreeSet<i32> = by_name["parse_batch"]
        .iter()
        .filter_map(|t| t.batch_index)
        .collect();
    assert_eq!(
        batch_idx,
        (0..expect.batches as i32).collect::<BTreeSet<_>>()
    );
    for t in &tasks {
        assert_eq!(t.state, TaskState::Done, "task {} not done: {t:?}", t.name);
        assert!(t.attempt >= 1, "attempt counted: {t:?}");
        if expect.single_attempts {
            assert_eq!(t.attempt, 1, "no fault, one attempt: {t:?}");
        }
        assert!(t.started_at.is_some() && t.ended_at.is_some(), "{t:?}");
        assert!(t.ended_at >= t.started_at, "{t:?}");
        assert!(
            matches!(t.worker.as_deref(), Some("w1" | "w2")),
            "worker recorded: {t:?}"
        );
        let queue = QUEUES.iter().find(|(n, _)| *n == t.name).map(|(_, q)| *q);
        assert_eq!(Some(t.queue.as_str()), queue, "{t:?}");
        assert_eq!(t.error, None, "{t:?}");
    }
    let job_row = c.db.get_job(job).await.expect("job").expect("job row");
    assert_eq!(job_row.phase, "done");
    assert_eq!(job_row.pct, 100);
    assert_eq!(job_row.error, None);
    assert_eq!(job_row.batches_total, expect.batches as i32);
    assert_eq!(job_row.batches_done, expect.batches as i32);
    assert!(job_row.merge_enqueued, "merge claimed once");
    assert_eq!(job_row.files_total, expect.files as i32);
    assert!(!job_row.cache_hit);
    assert_eq!(job_row.upload_bytes, expect.upload_bytes as i64);
    let counted = c.db.list_batch_results(job).await.expect("batch results");
    assert_eq!(counted.len(), expect.batches, "each batch counted once");
    let snapshot =
        c.db.get_snapshot(acc.snapshot_id)
            .await
            .expect("snapshot")
            .expect("snapshot row");
    assert_eq!(snapshot.status.as_str(), "completed");
    assert_eq!(snapshot.commit_hash, acc.commit_hash);

    // RQ registries: every task finished in its queue's registry, by one of our workers.
    let mut r = c.redis().await;
    let mut rq_workers = BTreeSet::new();
    for t in &tasks {
        let id = rq_id(t, job);
        if expect.redis_lost {
            let exists: bool = redis::cmd("EXISTS")
                .arg(format!("{}:job:{id}", c.prefix))
                .query_async(&mut r)
                .await
                .expect("EXISTS job");
            if !exists {
                continue;
            }
        }
        let h = rq_finished(c, &id).await;
        let queue = &t.queue;
        assert_eq!(h.get("origin"), Some(queue), "{id}: {h:?}");
        let data: Value = serde_json::from_str(h.get("data").map_or("", String::as_str))
            .unwrap_or_else(|e| panic!("{id}: data is not JSON ({e}): {h:?}"));
        assert!(
            data.is_object() || data.is_array(),
            "{id}: JSON data {data}"
        );
        let w = h.get("worker_name").cloned().unwrap_or_default();
        assert!(w == "w1" || w == "w2", "{id} worker_name {w:?}");
        rq_workers.insert(w);
        let finished: Option<f64> = redis::cmd("ZSCORE")
            .arg(format!("{}:finished:{queue}", c.prefix))
            .arg(&id)
            .query_async(&mut r)
            .await
            .expect("ZSCORE finished");
        assert!(finished.is_some(), "{id} not in finished:{queue}");
        for q in ["high", "normal", "low"] {
            let failed: Option<f64> = redis::cmd("ZSCORE")
                .arg(format!("{}:failed:{q}", c.prefix))
                .arg(&id)
                .query_async(&mut r)
                .await
                .expect("ZSCORE failed");
            assert!(failed.is_none(), "{id} in failed:{q}");
        }
    }

    // /status.
    let (code, status) = c.get_json(&format!("/status/{job}")).await;
    assert_eq!(code, 200, "{status}");
    assert_eq!(status["jobId"].as_str(), Some(job.to_string().as_str()));
    assert_eq!(
        status["repoId"].as_str(),
        Some(acc.repo_id.to_string().as_str())
    );
    assert_eq!(
        status["snapshotId"].as_str(),
        Some(acc.snapshot_id.to_string().as_str())
    );
    assert_eq!(status["phase"], "done");
    assert_eq!(status["pct"], 100);
    assert_eq!(status["error"], Value::Null);
    assert_eq!(
        status["filesDiscovered"].as_u64(),
        Some(expect.files as u64)
    );
    assert!(status["updatedAt"].is_string());

    // The listing, every artifact's bytes three ways, and the bucket.
    let docs = check_artifacts(c, acc, 1).await;
    let files = &docs.0["files"];
    let parsed = files["files"]
        .as_array()
        .expect("files[]")
        .iter()
        .filter(|f| f["skipped"] != Value::Bool(true))
        .count();
    assert_eq!(status["filesParsed"].as_u64(), Some(parsed as u64));
    // Issue 10: /status (the Redis overlay here) and metrics.json agree on the files reused
    // from the parse cache.
    assert_eq!(
        status["filesReused"], docs.0["metrics"]["filesReused"],
        "{status}"
    );
    assert_eq!(
        files["summary"]["totalFiles"].as_u64(),
        Some(expect.files as u64)
    );
    let m = &docs.0["graph"]["metrics"];
    assert_eq!(status["importsInternal"], m["internal"]);
    assert_eq!(status["importsExternal"], m["external"]);
    let metrics = &docs.0["metrics"];
    assert_eq!(metrics["jobId"].as_str(), Some(job.to_string().as_str()));
    assert_eq!(metrics["filesCount"].as_u64(), Some(expect.files as u64));
    assert_eq!(metrics["cacheHit"], false);
    assert_eq!(metrics["bytes"].as_u64(), Some(expect.upload_bytes as u64));
    let store = c.store().await;
    let upload = store
        .head(&format!("uploads/{job}.zip"))
        .await
        .expect("HEAD upload");
    assert_eq!(
        upload,
        Some(expect.upload_bytes as u64),
        "the upload is in the bucket"
    );
    // Issue 9 item 13: the job's intermediate work blobs went with its end (finalize deletes
    // them before the job is `done`), unless the cluster keeps them (KEEP_WORK_FILES).
    let left = store
        .list(&format!("work/{job}/"))
        .await
        .expect("list work blobs");
    let keep = c.env.get("KEEP_WORK_FILES").is_some_and(|v| v == "true");
    assert_eq!(left.is_empty(), !keep, "work blobs in the bucket: {left:?}");

    Outcome {
        status,
        docs: docs.0,
        bytes: docs.1,
        tasks,
        rq_workers,
    }
}

/// The artifact keys of a snapshot, version `v` of every kind.
pub fn keys_of(acc: &Accepted, v: i64) -> BTreeSet<String> {
    KINDS
        .iter()
        .map(|k| {
            format!(
                "repos/{}/snapshots/{}/{}/{k}.v{v}.json",
                acc.repo_id, acc.commit_hash, acc.settings_hash
            )
        })
        .collect()
}

/// Checks the listing (`?presign=true`) of the snapshot: exactly one artifact per kind, at
/// `version`; each presigned URL serves the same bytes as `GET /repo/{repo}/{kind}`, which
/// are what the bucket holds; the bucket has exactly those objects under the snapshot.
/// Returns the documents and bytes by kind.
pub async fn check_artifacts(
    c: &Cluster,
    acc: &Accepted,
    version: i64,
) -> (BTreeMap<String, Value>, BTreeMap<String, Vec<u8>>) {
    let (repo, snap) = (acc.repo_id, acc.snapshot_id);
    let (code, listing) = c
        .get_json(&format!(
            "/repos/{repo}/snapshots/{snap}/artifacts?presign=true"
        ))
        .await;
    assert_eq!(code, 200, "{listing}");
    assert_eq!(
        listing["snapshotId"].as_str(),
        Some(snap.to_string().as_str())
    );
    let items = listing["artifacts"].as_array().expect("artifacts[]");
    let kinds: Vec<&str> = items.iter().filter_map(|a| a["kind"].as_str()).collect();
    assert_eq!(
        kinds.iter().copied().collect::<BTreeSet<_>>(),
        KINDS.into_iter().collect::<BTreeSet<_>>(),
        "{listing}"
    );
    assert_eq!(items.len(), KINDS.len(), "one version per kind: {listing}");
    let store = c.store().await;
    let mut docs = BTreeMap::new();
    let mut raw = BTreeMap::new();
    for a in items {
        let kind = a["kind"].as_str().expect("kind");
        assert_eq!(a["version"].as_i64(), Some(version), "{a}");
        assert!(a["createdAt"].is_string(), "{a}");
        let key = format!(
            "repos/{repo}/snapshots/{}/{}/{kind}.v{version}.json",
            acc.commit_hash, acc.settings_hash
        );
        assert_eq!(
            a["uri"].as_str(),
            Some(format!("s3://{}/{key}", c.bucket).as_str()),
            "{a}"
        );
        let url = a["url"].as_str().unwrap_or_else(|| panic!("no url: {a}"));
        assert!(
            url.starts_with(&super::s3_endpoint()) && url.contains("X-Amz-Signature"),
            "a presigned S3 URL: {url}"
        );
        let presigned = reqwest::get(url).await.expect("GET presigned URL");
        assert_eq!(presigned.status().as_u16(), 200, "presigned GET {url}");
        let presigned = presigned.bytes().await.expect("presigned body").to_vec();
        let resp = c
            .http
            .get(c.url(&format!("/repo/{repo}/{kind}?snapshot_id={snap}")))
            .send()
            .await
            .expect("GET artifact");
        assert_eq!(resp.status().as_u16(), 200, "GET /repo/{repo}/{kind}");
        assert_eq!(
            resp.headers()
                .get("X-Provis-Artifact-Version")
                .and_then(|v| v.to_str().ok()),
            Some(version.to_string().as_str())
        );
        let served = resp.bytes().await.expect("artifact body").to_vec();
        assert_eq!(presigned, served, "{kind}: presigned bytes == API bytes");
        let stored = store.get(&key).await.expect("object in the bucket");
        assert_eq!(stored.as_ref(), served.as_slice(), "{kind}: bucket bytes");
        assert_eq!(a["bytes"].as_u64(), Some(served.len() as u64), "{a}");
        let doc: Value = serde_json::from_slice(&served).expect("artifact is JSON");
        assert_eq!(doc["schemaVersion"], 1, "{kind}");
        assert!(doc["generatorVersion"].is_string(), "{kind}");
        if kind != "metrics" {
            assert_eq!(doc["repoId"].as_str(), Some(repo.to_string().as_str()));
            assert_eq!(doc["snapshotId"].as_str(), Some(snap.to_string().as_str()));
        }
        docs.insert(kind.to_string(), doc);
        raw.insert(kind.to_string(), served);
    }
    let prefix = format!(
        "repos/{repo}/snapshots/{}/{}/",
        acc.commit_hash, acc.settings_hash
    );
    let listed: BTreeSet<String> = store
        .list(&prefix)
        .await
        .expect("list the bucket")
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert_eq!(listed, keys_of(acc, version), "objects in the bucket");
    (docs, raw)
}

/// The queues and registries of the cluster once everything finished: nothing waiting,
/// running, scheduled or failed.
pub async fn check_drained(c: &Cluster) {
    let mut r = c.redis().await;
    let t0 = Instant::now();
    loop {
        let mut busy = Vec::new();
        for q in ["high", "normal", "low"] {
            for (cmd, key) in [
                ("LLEN", format!("{}:queue:{q}", c.prefix)),
                ("LLEN", format!("{}:queue:{q}:intermediate", c.prefix)),
                ("ZCARD", format!("{}:wip:{q}", c.prefix)),
                ("ZCARD", format!("{}:scheduled:{q}", c.prefix)),
            ] {
                let n: i64 = redis::cmd(cmd)
                    .arg(&key)
                    .query_async(&mut r)
                    .await
                    .expect("count");
                if n != 0 {
                    busy.push(format!("{key}={n}"));
                }
            }
        }
        if busy.is_empty() {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "queues not drained: {busy:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for q in ["high", "normal", "low"] {
        let failed: Vec<String> = redis::cmd("ZRANGE")
            .arg(format!("{}:failed:{q}", c.prefix))
            .arg(0)
            .arg(-1)
            .query_async(&mut r)
            .await
            .expect("ZRANGE failed");
        assert!(failed.is_empty(), "failed:{q} = {failed:?}");
    }
}
