//! Cluster mode end to end (issue 3; docs/architecture.md, docs/operations.md,
//! docs/events.md, docs/artifacts.md, docs/http-api.md): `provis serve` and two `provis work`
//! processes on Postgres, Redis and the S3 server, driven over real HTTP.
//!
//! Each test gets a fresh Postgres schema (migrated by `provis migrate`), its own RQ key
//! prefix and its own bucket, so the tests run concurrently and leave nothing behind.
//! Services: `TEST_DATABASE_URL`, `TEST_REDIS_URL`, `TEST_S3_ENDPOINT` (see `cluster/mod.rs`).
//!
//! Run: `cargo test --test integration e2e_cluster::`.

use crate::common::prom;
use crate::common::{self, cluster};

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use cluster::checks::{self, Expect, KINDS};
use cluster::fixtures::{self, MixedShape};
use cluster::observe;
use cluster::{Accepted, Cluster, Options};
use deadpool_redis::redis;
use provis::db::TaskState;
use provis::queue::{Envelope, RedisBackend};
use serde_json::Value;
use uuid::Uuid;

fn edges(graph: &Value) -> BTreeSet<(String, String, String, bool)> {
    graph["edges"]
        .as_array()
        .expect("edges[]")
        .iter()
        .map(|e| {
            (
                e["from"].as_str().unwrap_or("").to_string(),
                e["to"].as_str().unwrap_or("").to_string(),
                e["kind"].as_str().unwrap_or("").to_string(),
                e["external"].as_bool().unwrap_or(false),
            )
        })
        .collect()
}

fn edge(from: &str, to: &str, kind: &str, external: bool) -> (String, String, String, bool) {
    (from.into(), to.into(), kind.into(), external)
}

fn routes(files: &Value) -> BTreeSet<(String, String, String)> {
    let mut out = BTreeSet::new();
    for f in files["files"].as_array().expect("files[]") {
        for r in f["routes"].as_array().into_iter().flatten() {
            out.insert((
                f["path"].as_str().unwrap_or("").to_string(),
                r["method"].as_str().unwrap_or("").to_uppercase(),
                r["path"].as_str().unwrap_or("").to_string(),
            ));
        }
    }
    out
}

/// Uploads a fixture, follows it to `done` and checks it everywhere. `cached` files are
/// expected to come from the parse cache, so they take no parse batch.
async fn run_fixture(
    c: &Cluster,
    repo: &fixtures::Repo,
    name: &str,
    batch_size: usize,
    cached: usize,
) -> (Accepted, checks::Outcome) {
    let zip = fixtures::zip(repo);
    let acc = c.submit(zip.clone(), &format!("{name}.zip"), None).await;
    assert!(!acc.cache_hit, "first upload of {name} is not a cache hit");
    assert_eq!(acc.commit_hash.len(), 64, "blake3 hex: {}", acc.commit_hash);
    let repo_row =
        c.db.get_repo(acc.repo_id)
            .await
            .expect("repo")
            .expect("repo row");
    assert_eq!(repo_row.name, name, "repo named after the zip");
    let events = c.follow(acc.job_id, None).await;
    let announced = events
        .iter()
        .find(|e| e.event == "files_total")
        .map(|e| e.data["payload"]["cached"].clone());
    assert_eq!(
        announced,
        Some(serde_json::json!(cached)),
        "files_total names the files the parse cache holds"
    );
    let expect = Expect {
        files: repo.len(),
        batches: (repo.len() - cached).div_ceil(batch_size),
        upload_bytes: zip.len(),
        single_attempts: true,
        redis_lost: false,
    };
    let out = checks::check_done_job(c, &acc, &events, &expect).await;
    (acc, out)
}

/// The three fixture repositories through the whole cluster, each checked in every place
/// that records it; the mixed repo fans out into 4 parse batches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fixture_repos_end_to_end() {
    let c = Cluster::start(Options::default()).await;
    let batch = 50; // PARSE_BATCH_SIZE default

    // TypeScript with tsconfig paths.
    let (_, ts) = run_fixture(&c, &fixtures::ts_app(), "ts-app", batch, 0).await;
    let g = &ts.docs["graph"];
    let want = [
        edge("src/index.ts", "src/routes/users.ts", "esm", false),
        edge("src/index.ts", "src/lib/db.ts", "esm", false),
        edge("src/routes/users.ts", "src/services/users.ts", "esm", false),
        edge("src/services/users.ts", "src/lib/db.ts", "esm", false),
        edge("src/services/users.ts", "src/lib/types.ts", "type", false),
        edge("src/index.ts", "express", "esm", true),
        edge("src/routes/users.ts", "express", "esm", true),
    ];
    assert_eq!(
        edges(g),
        want.into_iter().collect(),
        "graph of the TS app: {g}"
    );
    assert_eq!(g["metrics"]["internal"], 5);
    assert_eq!(g["metrics"]["external"], 2);
    assert_eq!(g["metrics"]["unresolvedLocal"], 1);
    let unresolved = &g["unresolved"][0];
    assert_eq!(unresolved["from"], "src/lib/legacy.ts");
    assert_eq!(unresolved["raw"], "./does-not-exist");
    let r = routes(&ts.docs["files"]);
    assert!(
        r.contains(&("src/index.ts".into(), "GET".into(), "/health".into())),
        "{r:?}"
    );
    assert!(
        r.contains(&(
            "src/routes/users.ts".into(),
            "GET".into(),
            "/users/:id".into()
        )),
        "{r:?}"
    );
    assert_eq!(ts.status["importsTotal"], 8);
    let caps = ts.docs["capabilities"]["capabilities"]
        .as_array()
        .expect("capabilities[]");
    assert!(!caps.is_empty(), "routes make capabilities");

    // Python package under src/.
    let (_, py) = run_fixture(&c, &fixtures::py_package(), "py-pkg", batch, 0).await;
    let g = &py.docs["graph"];
    let got = edges(g);
    for e in [
        // Graph edges of relative imports are kind `py` (the import keeps `py-relative`).
        edge("src/mypkg/core.py", "src/mypkg/util.py", "py", false),
        edge("src/mypkg/api.py", "src/mypkg/core.py", "py", false),
        edge("tests/test_core.py", "src/mypkg/core.py", "py", false),
        edge("src/mypkg/__init__.py", "src/mypkg/core.py", "py", false),
    ] {
        assert!(got.contains(&e), "missing {e:?} in {g}");
    }
    assert_eq!(g["metrics"]["internal"], 4, "{g}");
    assert_eq!(g["metrics"]["external"], 2, "os and fastapi: {g}");
    assert_eq!(g["metrics"]["unresolvedLocal"], 0, "{g}");
    let core = py.docs["files"]["files"]
        .as_array()
        .expect("files[]")
        .iter()
        .find(|f| f["path"] == "src/mypkg/core.py")
        .expect("core.py record");
    let rel = core["imports"]
        .as_array()
        .expect("imports[]")
        .iter()
        .find(|i| i["kind"] == "py-relative")
        .unwrap_or_else(|| panic!("relative import recorded: {core}"));
    assert_eq!(rel["resolved"], "src/mypkg/util.py", "{rel}");
    let r = routes(&py.docs["files"]);
    assert!(
        r.contains(&(
            "src/mypkg/api.py".into(),
            "GET".into(),
            "/items/{item_id}".into()
        )),
        "{r:?}"
    );
    let langs = &py.docs["files"]["summary"]["languages"];
    assert_eq!(langs["py"], 5, "{langs}");

    // Mixed repo, > 3 × 50 files: four parse batches, fan-in once.
    let shape = MixedShape {
        ts: 100,
        py: 70,
        notes: 11,
    };
    assert_eq!(shape.files(), 182);
    let mixed = fixtures::mixed(&shape, "mixed");
    let (_, mx) = run_fixture(&c, &mixed, "mixed", batch, 0).await;
    assert_eq!(
        mx.tasks.iter().filter(|t| t.name == "parse_batch").count(),
        4
    );
    let g = &mx.docs["graph"];
    assert_eq!(
        g["metrics"]["internal"].as_u64(),
        Some(shape.internal_edges() as u64),
        "one edge per chained module"
    );
    assert_eq!(g["metrics"]["external"], 0);
    assert_eq!(g["metrics"]["unresolvedLocal"], 0);
    let got = edges(g);
    assert!(got.contains(&edge("src/m99.ts", "src/m98.ts", "esm", false)));
    assert!(got.contains(&edge("pkg/mod69.py", "pkg/mod68.py", "py", false)));
    let langs = &mx.docs["files"]["summary"]["languages"];
    assert_eq!(langs["ts"], 100, "{langs}");
    assert_eq!(langs["py"], 71, "{langs}");
    assert_eq!(langs["other"], 11, "{langs}");

    // Both workers took part.
    let mut by_rows: BTreeSet<String> = BTreeSet::new();
    let mut by_rq: BTreeSet<String> = BTreeSet::new();
    for o in [&ts, &py, &mx] {
        by_rows.extend(o.tasks.iter().filter_map(|t| t.worker.clone()));
        by_rq.extend(o.rq_workers.iter().cloned());
    }
    let both: BTreeSet<String> = ["w1".to_string(), "w2".to_string()].into();
    assert_eq!(by_rows, both, "both workers ran tasks (tasks.worker)");
    assert_eq!(by_rq, both, "both workers ran tasks (RQ worker_name)");
    checks::check_drained(&c).await;
}

/// `/health` of `provis serve`: with Redis unreachable the API still starts and answers 503
/// naming Redis (and an upload is refused with 503, not accepted into a dead queue); with
/// everything up, 200 and the three backends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_each_backend() {
    let mut c = Cluster::prepare(&Options {
        workers: 0,
        ..Options::default()
    })
    .await;

    c.start_server(&[("REDIS_URL".to_string(), "redis://127.0.0.1:1".to_string())])
        .await;
    let (status, body) = c.wait_health_answer().await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "degraded", "{body}");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(body["checks"]["redis"]["status"], "down", "{body}");
    assert!(
        !body["checks"]["redis"]["error"]
            .as_str()
            .unwrap_or("")
            .is_empty(),
        "the redis check says why: {body}"
    );
    assert_eq!(body["failing"], serde_json::json!(["redis"]), "{body}");
    assert_eq!(body["checks"]["database"]["status"], "ok", "{body}");
    assert_eq!(body["checks"]["database"]["backend"], "postgres");
    assert_eq!(body["checks"]["storage"]["status"], "ok", "{body}");
    assert_eq!(body["checks"]["storage"]["backend"], "s3");
    let zip = fixtures::zip(&fixtures::ts_app());
    let (code, answer) = c.upload(zip, "ts-app.zip", None).await;
    assert_eq!(code, 503, "no queue, no job accepted: {answer}");
    assert!(answer["error"]["code"].is_string(), "{answer}");

    // Same database and bucket, Redis back.
    c.server.take();
    let redis = c.redis_env();
    c.start_server(&redis).await;
    c.wait_healthy().await;
    let (status, body) = c.get_json("/health").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["failing"], serde_json::json!([]));
    for (check, backend) in [
        ("database", "postgres"),
        ("redis", "redis"),
        ("storage", "s3"),
    ] {
        assert_eq!(body["checks"][check]["status"], "ok", "{body}");
        assert_eq!(body["checks"][check]["backend"], backend, "{body}");
    }
}

/// The same zip twice is a cache hit that writes nothing; the same tree re-zipped in another
/// order with other timestamps has the same commitHash (a cache hit too). Then `merge` is
/// delivered again for the job — as a queue re-delivery would, with the job rewound to the
/// phase it had while merge ran (a merge for an ended job is skipped outright, which is the
/// other half of the guarantee) — and the re-run of merge, map, summarize and finalize writes
/// no second version of any artifact and no second warning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_zip_is_a_cache_hit_and_a_redelivered_merge_writes_no_second_version() {
    // The re-delivered merge below runs on a job rewound to `mapping`, which needs the work
    // files an unfinished job has: they are kept (a finished job's are deleted, and a merge
    // delivered after the end is skipped).
    let c = Cluster::start(Options {
        keep_work_files: true,
        ..Options::default()
    })
    .await;
    let shape = MixedShape {
        ts: 40,
        py: 20,
        notes: 4,
    };
    let repo = fixtures::mixed(&shape, "idempotent");
    let (acc, first) = run_fixture(&c, &repo, "idem", 50, 0).await;
    let rows_before = c.db.list_artifacts(acc.snapshot_id).await.expect("rows");
    assert_eq!(rows_before.len(), KINDS.len());
    let warnings_before = c.db.count_warnings(acc.job_id).await.expect("warnings");
    assert!(warnings_before >= 1, "the no_llm warning is recorded");

    // The same zip again: cache hit, nothing runs, nothing is written.
    let zip = fixtures::zip(&repo);
    let again = c.submit(zip.clone(), "idem.zip", None).await;
    assert!(again.cache_hit, "same bytes → cache hit");
    assert_ne!(again.job_id, acc.job_id, "a new job records the upload");
    assert_eq!(
        (again.repo_id, again.snapshot_id),
        (acc.repo_id, acc.snapshot_id)
    );
    assert_eq!(
        (&again.commit_hash, &again.settings_hash),
        (&acc.commit_hash, &acc.settings_hash)
    );
    let events = c.follow(again.job_id, None).await;
    let types: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(
        types,
        ["upload_received", "cache_hit", "done"],
        "{events:?}"
    );
    assert_eq!(events[2].data["payload"]["cacheHit"], true);
    let (code, status) = c.get_json(&format!("/status/{}", again.job_id)).await;
    assert_eq!(code, 200);
    assert_eq!(status["phase"], "done");
    assert_eq!(status["pct"], 100);
    assert_eq!(
        status["filesDiscovered"].as_u64(),
        Some(shape.files() as u64)
    );
    assert!(
        c.db.list_tasks(again.job_id)
            .await
            .expect("tasks")
            .is_empty(),
        "a cache hit runs no task"
    );
    let mut r = c.redis().await;
    let queued: i64 = redis::cmd("EXISTS")
        .arg(format!("{}:job:ingest_{}", c.prefix, again.job_id))
        .query_async(&mut r)
        .await
        .expect("EXISTS");
    assert_eq!(queued, 0, "nothing was enqueued for the cache hit");
    let (docs, bytes) = checks::check_artifacts(&c, &acc, 1).await;
    assert_eq!(bytes, first.bytes, "the artifacts are untouched");
    assert_eq!(docs["metrics"]["jobId"], first.docs["metrics"]["jobId"]);

    // The same tree, entries in reverse order, other timestamps: same content hash.
    let rezipped = fixtures::zip_with(&repo, true, 2024, 40);
    assert_ne!(rezipped, zip, "a different zip file");
    let third = c.submit(rezipped, "idem.zip", None).await;
    assert_eq!(
        third.commit_hash, acc.commit_hash,
        "content hash ignores order and times"
    );
    assert!(third.cache_hit);
    assert_eq!(third.snapshot_id, acc.snapshot_id);
    let events = c.follow(third.job_id, None).await;
    assert_eq!(events.last().map(|e| e.event.as_str()), Some("done"));
    assert_eq!(c.count("snapshots", "true").await, 1);

    // A re-delivered merge for the finished job.
    let job = acc.job_id;
    let last_seq =
        c.db.last_event(job)
            .await
            .expect("last event")
            .expect("events")
            .seq;
    c.db.update_job(
        job,
        provis::db::JobUpdate {
            phase: Some("mapping".into()),
            pct: Some(60),
            ..Default::default()
        },
    )
    .await
    .expect("rewind the job");
    let backend = RedisBackend::connect(&common::redis_url(), &c.prefix)
        .await
        .expect("queue backend");
    let spec = provis::tasks::MERGE;
    let env = Envelope::new(
        &spec,
        provis::db::task_id(job, spec.name, None),
        Some(job),
        None,
        serde_json::json!({ "jobId": job }),
    );
    assert!(
        backend.enqueue(&spec, &env).await.expect("enqueue merge"),
        "a finished merge may be delivered again"
    );
    let rerun = c.follow(job, Some(last_seq)).await;
    assert!(
        rerun.iter().all(|e| e.id > last_seq),
        "resumed after {last_seq}"
    );
    let phases: Vec<&str> = rerun
        .iter()
        .filter(|e| e.event == "phase")
        .filter_map(|e| e.data["payload"]["phase"].as_str())
        .collect();
    // Merge ran again but sends no `merging` (55) to a job at mapping (60): pct never goes
    // back (issue 9 item 5); the stages after it move the job on to done.
    assert!(
        !phases.contains(&"merging") && phases.contains(&"done"),
        "merge and the stages after it ran again, pct only forward: {phases:?}"
    );
    assert_eq!(rerun.last().map(|e| e.event.as_str()), Some("done"));
    for e in rerun.iter().filter(|e| e.event == "artifact_ready") {
        assert_eq!(e.data["payload"]["version"], 1, "no second version: {e:?}");
    }
    // Merge really ran twice (two results in its RQ results stream).
    let merge_id = format!("merge_{job}");
    checks::rq_finished(&c, &merge_id).await;
    let runs: i64 = redis::cmd("XLEN")
        .arg(format!("{}:results:{merge_id}", c.prefix))
        .query_async(&mut r)
        .await
        .expect("XLEN results");
    assert_eq!(runs, 2, "merge executed twice");
    let tasks = checks::settled_tasks(&c, job).await;
    assert!(
        tasks.iter().all(|t| t.state == TaskState::Done),
        "{tasks:#?}"
    );

    let rows_after = c.db.list_artifacts(acc.snapshot_id).await.expect("rows");
    let key = |a: &provis::db::Artifact| (a.id, a.kind.clone(), a.version, a.bytes, a.uri.clone());
    assert_eq!(
        rows_after.iter().map(key).collect::<Vec<_>>(),
        rows_before.iter().map(key).collect::<Vec<_>>(),
        "the artifacts table is unchanged"
    );
    let (_, bytes_after) = checks::check_artifacts(&c, &acc, 1).await;
    assert_eq!(
        bytes_after, first.bytes,
        "the stored artifacts are unchanged"
    );
    assert_eq!(
        c.db.count_warnings(job).await.expect("warnings"),
        warnings_before,
        "no duplicate warning"
    );
    let job_row = c.db.get_job(job).await.expect("job").expect("row");
    assert_eq!(job_row.phase, "done");
    assert_eq!(job_row.batches_done, 2, "batches are not counted again");
    assert_eq!(
        c.db.list_batch_results(job).await.expect("batches").len(),
        2
    );

    // Issue 10 goal 3: one file changed, every other record comes from the parse cache the
    // workers share through the bucket; /status and metrics.json say how many.
    assert_eq!(first.status["filesReused"], 0, "{}", first.status);
    let mut changed = repo.clone();
    changed[0].1.push_str("\nexport const touched = 1;\n");
    // Parsed: 40 .ts files and 21 .py (20 modules and pkg/__init__.py); one .ts changed. The
    // records of the 4 notes (not parsed: size, lines, hash) come from the cache too, so
    // every file but the changed one is cached; `filesReused` counts parsed files only.
    let parsed_files = shape.ts + shape.py + 1;
    assert_eq!(changed.len(), parsed_files + 4);
    let (warm, out) = run_fixture(&c, &changed, "idem", 50, changed.len() - 1).await;
    assert_eq!(warm.repo_id, acc.repo_id);
    let parsed = out.status["filesParsed"].as_u64().expect("filesParsed");
    assert_eq!(
        out.status["filesReused"].as_u64(),
        Some(parsed - 1),
        "{}",
        out.status
    );
    assert_eq!(
        out.docs["metrics"]["filesReused"].as_u64(),
        Some(parsed - 1)
    );
    checks::check_drained(&c).await;
}

/// `kill -9` of a worker while parse batches run (one file per batch, 3 s lease): the other
/// worker takes the lost batch over once the lease lapses, the job still ends `done`, every
/// batch is counted once and every artifact kind has exactly one version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_worker_mid_parse_the_other_finishes_the_job() {
    let mut c = Cluster::start(Options {
        parse_batch_size: Some(1),
        worker_lease_s: Some(3),
        ..Options::default()
    })
    .await;
    let shape = MixedShape {
        ts: 35,
        py: 20,
        notes: 4,
    };
    assert_eq!(shape.files(), 60);
    let repo = fixtures::mixed(&shape, "fault");
    let zip = fixtures::zip(&repo);
    let acc = c.submit(zip.clone(), "fault.zip", None).await;
    let job = acc.job_id;

    // Catch w1 in the middle of a parse batch of this job once some batches are counted:
    // stop it (SIGSTOP, so it cannot finish the batch while we look), read its `tasks` row,
    // and kill it if the batch is still running; else let it go on and look again.
    let t0 = Instant::now();
    let index = loop {
        let counted =
            c.db.get_job(job)
                .await
                .expect("job")
                .map_or(0, |j| j.batches_done);
        if counted >= 3 {
            let w1 = c.workers[0].as_ref().expect("w1 runs");
            w1.signal(libc::SIGSTOP);
            // A statement already sent before the stop lands first.
            tokio::time::sleep(Duration::from_millis(50)).await;
            let running =
                c.db.list_tasks(job)
                    .await
                    .expect("tasks")
                    .into_iter()
                    .find(|t| {
                        t.name == "parse_batch"
                            && t.state == TaskState::Running
                            && t.worker.as_deref() == Some("w1")
                    });
            if let Some(t) = running {
                c.kill_worker(0);
                break t.batch_index.expect("a parse batch has an index");
            }
            w1.signal(libc::SIGCONT);
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "w1 never ran a parse batch (counted {counted})"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    let held = format!("parse_batch_{index}_{job}");

    let events = c.follow(job, None).await;
    let expect = Expect {
        files: shape.files(),
        batches: shape.files(),
        upload_bytes: zip.len(),
        single_attempts: false,
        redis_lost: false,
    };
    let out = checks::check_done_job(&c, &acc, &events, &expect).await;

    // The lost batch ran twice: attempt 2, finished by w2.
    let lost = out
        .tasks
        .iter()
        .find(|t| t.name == "parse_batch" && t.batch_index == Some(index))
        .expect("the lost batch's row");
    assert_eq!(lost.attempt, 2, "the lost batch was retried: {lost:?}");
    assert_eq!(lost.worker.as_deref(), Some("w2"), "{lost:?}");
    let h = checks::rq_finished(&c, &held).await;
    assert_eq!(h.get("worker_name").map(String::as_str), Some("w2"));
    let retried: Vec<_> = out.tasks.iter().filter(|t| t.attempt > 1).collect();
    assert_eq!(
        retried.len(),
        1,
        "only the lost task ran twice: {retried:#?}"
    );
    // Every task after the kill ran on w2.
    let died_at = lost.started_at.expect("started");
    for t in out.tasks.iter().filter(|t| t.started_at > Some(died_at)) {
        assert_eq!(t.worker.as_deref(), Some("w2"), "{t:?}");
    }
    // One record per file, each artifact kind once (check_done_job checked version 1 only).
    let files = out.docs["files"]["files"].as_array().expect("files[]");
    let paths: BTreeSet<&str> = files.iter().filter_map(|f| f["path"].as_str()).collect();
    assert_eq!(paths.len(), shape.files());
    assert_eq!(files.len(), shape.files());
    for kind in KINDS {
        assert_eq!(
            c.count(
                "artifacts",
                &format!("kind = '{kind}' AND snapshot_id = '{}'", acc.snapshot_id)
            )
            .await,
            1,
            "{kind}: one version"
        );
    }
    assert_eq!(
        out.docs["graph"]["metrics"]["internal"].as_u64(),
        Some(shape.internal_edges() as u64)
    );
    checks::check_drained(&c).await;
}

/// Twenty uploads at once to one repo — ten of one zip, ten distinct — all end `done`, and
/// there is exactly one snapshot per distinct content (11); the jobs that shared a snapshot
/// got distinct, gap-free artifact versions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_uploads_one_snapshot_per_content() {
    let c = Cluster::start(Options::default()).await;
    let shape = MixedShape {
        ts: 6,
        py: 4,
        notes: 1,
    };
    let same = fixtures::zip(&fixtures::mixed(&shape, "same"));
    let mut zips: Vec<Vec<u8>> = (0..10).map(|_| same.clone()).collect();
    zips.extend((0..10).map(|i| fixtures::zip(&fixtures::mixed(&shape, &format!("distinct-{i}")))));
    let uploads = zips.into_iter().enumerate().map(|(i, z)| {
        let c = &c;
        async move { c.submit(z, &format!("upload-{i}.zip"), Some("busy")).await }
    });
    let accepted: Vec<Accepted> = futures_util::future::join_all(uploads).await;
    let streams = accepted.iter().map(|a| c.follow(a.job_id, None));
    let all_events = futures_util::future::join_all(streams).await;
    for (a, events) in accepted.iter().zip(&all_events) {
        assert_eq!(
            events.last().map(|e| e.event.as_str()),
            Some("done"),
            "job {} ended {events:?}",
            a.job_id
        );
        assert!(events.iter().all(|e| e.event != "error"), "{events:?}");
        let (code, status) = c.get_json(&format!("/status/{}", a.job_id)).await;
        assert_eq!(code, 200);
        assert_eq!(status["phase"], "done", "{status}");
        assert_eq!(
            status["filesDiscovered"].as_u64(),
            Some(shape.files() as u64)
        );
    }
    let repo = accepted[0].repo_id;
    assert!(
        accepted.iter().all(|a| a.repo_id == repo),
        "one repo by name"
    );
    let same_snap: BTreeSet<Uuid> = accepted[..10].iter().map(|a| a.snapshot_id).collect();
    assert_eq!(same_snap.len(), 1, "the same zip shares one snapshot");
    let distinct: BTreeSet<Uuid> = accepted[10..].iter().map(|a| a.snapshot_id).collect();
    assert_eq!(distinct.len(), 10);
    assert!(distinct.is_disjoint(&same_snap));
    let hashes: BTreeSet<&str> = accepted.iter().map(|a| a.commit_hash.as_str()).collect();
    assert_eq!(hashes.len(), 11, "11 distinct contents");
    assert_eq!(
        c.count("snapshots", "true").await,
        11,
        "one snapshot per content"
    );
    assert_eq!(
        c.count(
            "snapshots",
            &format!("repo_id = '{repo}' AND status = 'completed'")
        )
        .await,
        11
    );
    assert_eq!(c.count("repos", "true").await, 1);
    assert_eq!(c.count("jobs", "phase = 'done' AND pct = 100").await, 20);
    assert_eq!(c.count("jobs", "true").await, 20);

    // Jobs that ran on the shared snapshot each wrote their own version of each kind:
    // versions 1..=n without a gap or a duplicate; cache hits wrote none.
    let snap = *same_snap.iter().next().expect("snapshot");
    let ran = accepted[..10].iter().filter(|a| !a.cache_hit).count();
    assert!(ran >= 1);
    let rows = c.db.list_artifacts(snap).await.expect("artifacts");
    let mut versions: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for a in &rows {
        versions.entry(a.kind.clone()).or_default().push(a.version);
    }
    for kind in KINDS {
        let mut v = versions.remove(kind).unwrap_or_default();
        v.sort_unstable();
        assert_eq!(v, (1..=ran as i32).collect::<Vec<_>>(), "{kind} versions");
    }
    for a in &accepted[10..] {
        assert_eq!(
            c.count("artifacts", &format!("snapshot_id = '{}'", a.snapshot_id))
                .await,
            KINDS.len() as i64
        );
    }
    checks::check_drained(&c).await;
}

mod telemetry;
