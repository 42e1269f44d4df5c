//! Faults that must heal (issue 9): each test breaks a private Redis, Postgres or S3 (or the
//! traffic to it) under a running cluster and checks the job ends as it should — its end
//! state, artifact versions, event sequence (no duplicates, pct monotone), `tasks` rows and
//! Redis keys — and prints the time from fault to job end (`FAULT-TIMING`).
//!
//! Run: `cargo test --test integration faults:: -- --nocapture`.

mod bounds;
use crate::common::cluster;
mod outage;

use std::time::{Duration, Instant};

use crate::common::{self, redis_url};
use cluster::checks::{self, Expect};
use cluster::faults::{self, PrivatePostgres, PrivateRedis};
use cluster::fixtures::{self, MixedShape};
use cluster::{Cluster, Options};
use provis::queue::{Envelope, RedisBackend};

/// Item 1: Redis loses every key (`FLUSHALL`) while parse batches wait in it. The reconciler
/// puts the tasks the database calls open back on their queues and the job ends `done`, each
/// artifact written once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_losing_its_data_mid_job_is_rebuilt_from_the_database() {
    let redis = PrivateRedis::start().await;
    let opts = Options {
        parse_batch_size: Some(2),
        ..Options::default()
    };
    let c = Cluster::start_on(opts, redis.url(), None).await;
    let shape = MixedShape {
        ts: 40,
        py: 40,
        notes: 19,
    };
    let repo = fixtures::mixed(&shape, "flushall");
    let zip = fixtures::zip(&repo);
    let acc = c.submit(zip.clone(), "flushall.zip", None).await;
    let job = acc.job_id;
    faults::wait_fanned_out(&c, job).await;
    faults::pause_workers(&c, true);
    let before = c.db.get_job(job).await.expect("job").expect("row");
    assert!(
        before.batches_done < before.batches_total,
        "the fault must hit mid-parse: {} of {} batches",
        before.batches_done,
        before.batches_total
    );
    redis.cmd(&["FLUSHALL"]).await;
    let t0 = Instant::now();
    faults::pause_workers(&c, false);
    let events = c.follow(job, None).await;
    faults::report_timing("redis FLUSHALL mid-parse", t0);
    let expect = Expect {
        files: shape.files(),
        batches: shape.files().div_ceil(2),
        upload_bytes: zip.len(),
        single_attempts: false,
        redis_lost: true,
    };
    checks::check_done_job(&c, &acc, &events, &expect).await;
    checks::check_drained(&c).await;
    let logs = format!("{}{}", c.log("w1"), c.log("w2"));
    assert!(
        logs.contains("unknown to Redis"),
        "the reconciler re-enqueued lost tasks:\n{}",
        common::tail(&logs)
    );
}

/// Item 2: Postgres goes away for longer than a task's first backoff. Failures while it is
/// down are not the tasks' own: workers wait for it and hand their tasks back, so every task
/// ends `done` on its first counted attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_outage_spends_no_attempts() {
    let pg = PrivatePostgres::start().await;
    let opts = Options {
        parse_batch_size: Some(2),
        ..Options::default()
    };
    let c = Cluster::start_on(opts, redis_url(), Some(pg.url())).await;
    let shape = MixedShape {
        ts: 40,
        py: 40,
        notes: 19,
    };
    let repo = fixtures::mixed(&shape, "pg-outage");
    let zip = fixtures::zip(&repo);
    let acc = c.submit(zip.clone(), "pgoutage.zip", None).await;
    let job = acc.job_id;
    faults::wait_job(&c, job, Duration::from_secs(60), "parsing", |j| {
        j.phase == "parsing" && j.batches_done < j.batches_total
    })
    .await;
    pg.down();
    let t0 = Instant::now();
    // Longer than parse_batch's first backoff (5 s): before the fix the batches hit spent
    // attempts 1 and 2 here.
    tokio::time::sleep(Duration::from_secs(12)).await;
    pg.up();
    let events = c.follow(job, None).await;
    faults::report_timing("postgres down 12 s mid-parse", t0);
    let expect = Expect {
        files: shape.files(),
        batches: shape.files().div_ceil(2),
        upload_bytes: zip.len(),
        single_attempts: true,
        redis_lost: false,
    };
    checks::check_done_job(&c, &acc, &events, &expect).await;
    checks::check_drained(&c).await;
    let logs = format!("{}{}", c.log("w1"), c.log("w2"));
    assert!(
        logs.contains("waiting for a dependency") && logs.contains("database"),
        "workers said what they waited for"
    );
}

/// Item 5: a task delivered again after it finished (here `discover`, while its batches are
/// parsed) repeats none of its effects: no second phase or `files_total` event, pct never
/// goes backwards, no second artifact version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rerun_task_repeats_no_event_and_pct_never_goes_back() {
    let opts = Options {
        parse_batch_size: Some(2),
        ..Options::default()
    };
    let c = Cluster::start(opts).await;
    let shape = MixedShape {
        ts: 30,
        py: 30,
        notes: 19,
    };
    let repo = fixtures::mixed(&shape, "rerun");
    let zip = fixtures::zip(&repo);
    let acc = c.submit(zip.clone(), "rerun.zip", None).await;
    let job = acc.job_id;
    faults::wait_fanned_out(&c, job).await;
    faults::pause_workers(&c, true);
    let spec = provis::tasks::DISCOVER;
    let task_id = provis::db::task_id(job, spec.name, None);
    let env = Envelope::new(
        &spec,
        task_id,
        Some(job),
        None,
        serde_json::json!({"jobId": job}),
    );
    let q = RedisBackend::connect(&c.redis_url, &c.prefix)
        .await
        .expect("queue");
    assert!(
        q.enqueue(&spec, &env)
            .await
            .expect("enqueue discover again"),
        "the finished discover is delivered again"
    );
    let t0 = Instant::now();
    faults::pause_workers(&c, false);
    let events = c.follow(job, None).await;
    faults::report_timing("discover delivered again mid-parse", t0);
    let expect = Expect {
        files: shape.files(),
        batches: shape.files().div_ceil(2),
        upload_bytes: zip.len(),
        single_attempts: false,
        redis_lost: false,
    };
    checks::check_done_job(&c, &acc, &events, &expect).await;
    checks::check_drained(&c).await;
    let logs = format!("{}{}", c.log("w1"), c.log("w2"));
    assert!(
        logs.contains("phase already reached"),
        "discover ran a second time:\n{}",
        common::tail(&logs)
    );
}

/// Item 8: a stream resumed at or after the terminal event's id ends at once (a browser's
/// EventSource reconnects exactly so); resumed before it, it replays up to it and ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_resumed_at_the_terminal_event_ends_at_once() {
    let c = Cluster::start(Options::default()).await;
    let acc = c
        .submit(fixtures::zip(&fixtures::py_package()), "resume.zip", None)
        .await;
    let events = c.follow(acc.job_id, None).await;
    let last = events.last().expect("events");
    assert_eq!(last.event, "done");
    for after in [last.id, last.id + 3] {
        let t0 = Instant::now();
        let again = tokio::time::timeout(Duration::from_secs(5), c.follow(acc.job_id, Some(after)))
            .await
            .unwrap_or_else(|_| panic!("the stream resumed at {after} did not end"));
        assert!(
            again.is_empty(),
            "nothing after the terminal event: {again:?}"
        );
        eprintln!(
            "FAULT-TIMING resume at {after} (terminal {}): stream ended after {:.3} s",
            last.id,
            t0.elapsed().as_secs_f64()
        );
    }
    // An id below 1 means from the start (it used to wait for an event -4 forever).
    let all = c.follow(acc.job_id, Some(-5)).await;
    assert_eq!(all.len(), events.len(), "replayed from the start");
    let tail = c.follow(acc.job_id, Some(last.id - 1)).await;
    assert_eq!(
        tail.iter()
            .map(|e| (e.id, e.event.as_str()))
            .collect::<Vec<_>>(),
        vec![(last.id, "done")]
    );
}

/// Item 3: Redis restarts (append-only file: nothing lost) under a running cluster. Every
/// pooled or shared connection is now broken; the first calls after the restart — an upload
/// to the API, each worker's next task — still succeed: no 503, no task spends an attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_calls_after_a_redis_restart_succeed() {
    let mut redis = PrivateRedis::start_with(true).await;
    let c = Cluster::start_on(Options::default(), redis.url(), None).await;
    // Every process has used its connections once.
    let warm = c
        .submit(fixtures::zip(&fixtures::py_package()), "warm.zip", None)
        .await;
    c.follow(warm.job_id, None).await;
    redis.restart().await;
    let t0 = Instant::now();
    let repo = fixtures::ts_app();
    let zip = fixtures::zip(&repo);
    let (status, body) = c.upload(zip.clone(), "after-restart.zip", None).await;
    assert_eq!(status, 202, "the first upload after the restart: {body}");
    let acc = cluster::Accepted::from(&body);
    let events = c.follow(acc.job_id, None).await;
    faults::report_timing("redis restart (AOF) before an upload", t0);
    let expect = Expect {
        files: repo.len(),
        batches: repo.len().div_ceil(50),
        upload_bytes: zip.len(),
        single_attempts: true,
        redis_lost: false,
    };
    checks::check_done_job(&c, &acc, &events, &expect).await;
    checks::check_drained(&c).await;
}

/// Item 9: a worker killed with -9 and started again at once under its old name takes the
/// name over (same host, its old pid is gone) instead of being refused until the old
/// heartbeat expires; the job it was running still ends `done`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_restarted_under_its_name_after_kill_9_takes_it_over() {
    let opts = Options {
        parse_batch_size: Some(2),
        worker_lease_s: Some(4),
        ..Options::default()
    };
    let mut c = Cluster::start(opts).await;
    let shape = MixedShape {
        ts: 30,
        py: 30,
        notes: 19,
    };
    let repo = fixtures::mixed(&shape, "takeover");
    let zip = fixtures::zip(&repo);
    let acc = c.submit(zip.clone(), "takeover.zip", None).await;
    faults::wait_fanned_out(&c, acc.job_id).await;
    c.kill_worker(0);
    let t0 = Instant::now();
    c.start_worker(0, 1);
    loop {
        let log = c.log("w1");
        if log.contains("worker started") {
            break;
        }
        if let Some(st) = c.workers[0].as_mut().and_then(|p| p.exited()) {
            panic!("the restarted w1 exited ({st}):\n{log}");
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "the restarted w1 did not start:\n{log}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    eprintln!(
        "FAULT-TIMING worker w1 restarted after kill -9: registered after {:.2} s",
        t0.elapsed().as_secs_f64()
    );
    assert!(c.log("w1").contains("taking over the name"));
    let events = c.follow(acc.job_id, None).await;
    faults::report_timing("kill -9 of w1 and restart under its name", t0);
    let expect = Expect {
        files: shape.files(),
        batches: shape.files().div_ceil(2),
        upload_bytes: zip.len(),
        single_attempts: false,
        redis_lost: false,
    };
    checks::check_done_job(&c, &acc, &events, &expect).await;
    checks::check_drained(&c).await;
}

/// Item 4: an upload while Redis is down answers 503 naming Redis, and leaves no job
/// waiting: the job it created is `failed` (`enqueue_failed`, pct 100, terminal event) and
/// its `ingest` task row is failed too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_refused_with_503_leaves_no_orphan_job() {
    let mut redis = PrivateRedis::start().await;
    let c = Cluster::start_on(Options::default(), redis.url(), None).await;
    redis.kill();
    let t0 = Instant::now();
    let (status, body) = c
        .upload(fixtures::zip(&fixtures::py_package()), "down.zip", None)
        .await;
    eprintln!(
        "FAULT-TIMING upload with redis down: 503 after {:.2} s",
        t0.elapsed().as_secs_f64()
    );
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "service_unavailable", "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("redis"), "names what is down: {message}");
    assert!(!message.contains("storage"), "{message}");
    assert_eq!(c.count("jobs", "phase <> 'failed'").await, 0, "no open job");
    assert_eq!(c.count("jobs", "true").await, 1);
    assert_eq!(
        c.count(
            "jobs",
            "phase = 'failed' AND pct = 100 AND error LIKE 'enqueue_failed:%' AND finished_at IS NOT NULL"
        )
        .await,
        1
    );
    assert_eq!(c.count("tasks", "state IN ('queued', 'running')").await, 0);
    assert_eq!(c.count("tasks", "state = 'failed'").await, 1);
    assert_eq!(
        c.count("events", "type = 'error' AND payload->>'code' = 'enqueue_failed' AND (payload->>'terminal')::boolean").await,
        1,
        "a terminal error event"
    );
}

/// Item 7: the cluster starts while Redis is down. `serve` starts and `/health` answers 503
/// naming Redis; a worker does not exit but waits, logging what it waits for; once Redis is
/// up the worker registers and a job runs to `done`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starting_while_redis_is_down_waits_for_it() {
    let mut redis = PrivateRedis::start().await;
    redis.kill();
    let mut c = Cluster::prepare(&Options::default()).await;
    c.redis_url = redis.url();
    c.start_server(&c.redis_env()).await;
    let (status, health) = c.wait_health_answer().await;
    assert_eq!(status, 503, "{health}");
    assert!(
        health.to_string().contains("redis"),
        "names redis: {health}"
    );
    c.start_worker(0, 1);
    let t0 = Instant::now();
    loop {
        if c.log("w1").contains("waiting for Redis") {
            break;
        }
        if let Some(st) = c.workers[0].as_mut().and_then(|p| p.exited()) {
            panic!("w1 exited ({st}) while Redis was down:\n{}", c.log("w1"));
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "w1 did not say it waits for Redis:\n{}",
            c.log("w1")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(c.workers[0].as_mut().and_then(|p| p.exited()).is_none());
    redis.restart().await;
    let t0 = Instant::now();
    c.wait_healthy().await;
    c.wait_workers(1).await;
    eprintln!(
        "FAULT-TIMING redis up after a start without it: serve healthy and w1 registered after {:.2} s",
        t0.elapsed().as_secs_f64()
    );
    let repo = fixtures::py_package();
    let zip = fixtures::zip(&repo);
    let acc = c.submit(zip.clone(), "late.zip", None).await;
    let events = c.follow(acc.job_id, None).await;
    faults::report_timing("redis down at start-up (from Redis up)", t0);
    let expect = Expect {
        files: repo.len(),
        batches: repo.len().div_ceil(50),
        upload_bytes: zip.len(),
        single_attempts: true,
        redis_lost: false,
    };
    let out = checks::check_done_job(&c, &acc, &events, &expect).await;
    assert!(out.rq_workers.iter().all(|w| w == "w1"));
}

/// Item 7, storage: `serve` started while S3 hangs starts anyway; `/health` answers 503 naming
/// storage, and once S3 answers the bucket (never created, S3 hung at start-up) is created and
/// `/health` turns 200; an upload then runs to `done`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_started_while_s3_hangs_answers_health_and_recovers() {
    let (proxy, mut c) = behind_s3_proxy(2).await;
    proxy.stall(true);
    let t0 = Instant::now();
    c.start_server(&c.redis_env()).await;
    let (status, health) = c.wait_health_answer().await;
    eprintln!(
        "FAULT-TIMING serve started while S3 hangs: /health {status} after {:.2} s",
        t0.elapsed().as_secs_f64()
    );
    assert_eq!(status, 503, "{health}");
    assert_eq!(
        health["failing"],
        serde_json::json!(["storage"]),
        "{health}"
    );
    proxy.stall(false);
    let t1 = Instant::now();
    c.wait_healthy().await;
    faults::report_timing(
        "serve started while S3 hung (from S3 back to /health 200)",
        t1,
    );
    c.start_worker(0, 1);
    c.wait_workers(1).await;
    let repo = fixtures::py_package();
    let zip = fixtures::zip(&repo);
    let acc = c.submit(zip, "late-s3.zip", None).await;
    c.follow(acc.job_id, None).await;
    let job = c.db.get_job(acc.job_id).await.expect("job").expect("row");
    assert_eq!((job.phase.as_str(), job.pct), ("done", 100));
}

/// Item 6, storage: S3 hangs while an upload is stored. `/ingest` answers 503 naming storage
/// within the configured request timeout (`S3_REQUEST_TIMEOUT_S`) and leaves no job, task or
/// upload object; once S3 answers again the same upload is accepted and runs to `done`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_while_s3_hangs_answers_503_in_time_and_leaves_no_job() {
    let (proxy, mut c) = behind_s3_proxy(3).await;
    c.start_server(&c.redis_env()).await;
    c.wait_healthy().await;
    c.start_worker(0, 1);
    c.wait_workers(1).await;
    let repo = fixtures::py_package();
    let zip = fixtures::zip(&repo);
    upload_while_stalled(&c, &proxy, &zip, "S3", "storage").await;
    assert_eq!(c.count("jobs", "true").await, 0, "no job left behind");
    assert_eq!(c.count("tasks", "true").await, 0, "no task left behind");
    let uploads = c
        .store()
        .await
        .list("uploads/")
        .await
        .expect("list uploads");
    assert!(uploads.is_empty(), "no upload object: {uploads:?}");
    let t1 = Instant::now();
    let acc = c.submit(zip.clone(), "hung.zip", None).await;
    let events = c.follow(acc.job_id, None).await;
    faults::report_timing("S3 hang during an upload (from S3 back)", t1);
    let expect = Expect {
        files: repo.len(),
        batches: repo.len().div_ceil(50),
        upload_bytes: zip.len(),
        single_attempts: true,
        redis_lost: false,
    };
    // The presigned URLs point at the proxy here, so the artifact checks of check_done_job
    // do not apply; the events, the job row and the task rows do.
    checks::check_events(acc.job_id, &events, &expect);
    let tasks = checks::settled_tasks(&c, acc.job_id).await;
    assert!(
        tasks
            .iter()
            .all(|t| t.state == provis::db::TaskState::Done && t.attempt == 1),
        "{tasks:#?}"
    );
    let job = c.db.get_job(acc.job_id).await.expect("job").expect("row");
    assert_eq!((job.phase.as_str(), job.pct), ("done", 100));
    let listed = c
        .store()
        .await
        .list(&format!("repos/{}/", acc.repo_id))
        .await
        .expect("list artifacts");
    assert_eq!(listed.len(), checks::KINDS.len(), "each artifact once");
}

/// Item 6, database: Postgres hangs (its traffic held by a proxy). `/ingest` answers 503
/// naming the database within the configured bound (`DB_TIMEOUT_S`) and leaves no job; once
/// Postgres answers again an upload runs to `done`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_while_postgres_hangs_answers_503_in_time() {
    let (proxy, pg) = faults::StallProxy::in_front_of(&common::base_pg_url()).await;
    let mut c = Cluster::prepare_on(&Options::default(), pg).await;
    c.env.insert("DB_TIMEOUT_S".into(), "3".into());
    c.start_server(&c.redis_env()).await;
    c.wait_healthy().await;
    c.start_worker(0, 1);
    c.wait_workers(1).await;
    let repo = fixtures::py_package();
    let zip = fixtures::zip(&repo);
    upload_while_stalled(&c, &proxy, &zip, "Postgres", "database").await;
    assert_eq!(c.count("jobs", "true").await, 0, "no job left behind");
    let t1 = Instant::now();
    let acc = c.submit(zip.clone(), "pg-hung.zip", None).await;
    let events = c.follow(acc.job_id, None).await;
    faults::report_timing("Postgres hang during an upload (from Postgres back)", t1);
    let expect = Expect {
        files: repo.len(),
        batches: repo.len().div_ceil(50),
        upload_bytes: zip.len(),
        single_attempts: false,
        redis_lost: false,
    };
    checks::check_done_job(&c, &acc, &events, &expect).await;
}

/// Uploads `zip` while `proxy` holds the traffic of `what` (the timeout set to 3 s): the answer
/// is a 503 whose message names `component`, given well within the bound; the proxy lets
/// traffic through again before this returns.
async fn upload_while_stalled(
    c: &Cluster,
    proxy: &faults::StallProxy,
    zip: &[u8],
    what: &str,
    component: &str,
) {
    proxy.stall(true);
    let t0 = Instant::now();
    let (status, body) = c.upload(zip.to_vec(), "hung.zip", None).await;
    let answered = t0.elapsed();
    proxy.stall(false);
    eprintln!(
        "FAULT-TIMING upload while {what} hangs (timeout 3 s): {status} after {:.2} s",
        answered.as_secs_f64()
    );
    assert_eq!(status, 503, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains(component),
        "{body}"
    );
    assert!(answered < Duration::from_secs(30), "bounded by the timeout");
}

/// A cluster (not started) whose S3 traffic goes through a stalling proxy, with an S3 request
/// timeout of `timeout_s`.
async fn behind_s3_proxy(timeout_s: u32) -> (faults::StallProxy, Cluster) {
    let (proxy, endpoint) = faults::StallProxy::in_front_of(&common::s3_endpoint()).await;
    let mut c = Cluster::prepare(&Options::default()).await;
    c.env.insert("S3_ENDPOINT_URL".into(), endpoint);
    c.env
        .insert("S3_REQUEST_TIMEOUT_S".into(), timeout_s.to_string());
    (proxy, c)
}
