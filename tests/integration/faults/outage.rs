//! Items 2 and 7, the rest: processes started while Postgres is down, a job that fails for
//! real while Postgres is down, and a bucket that vanishes under a running cluster.

use std::time::{Duration, Instant};

use super::cluster::faults::{self, PrivatePostgres, PrivateRedis, StallProxy};
use super::cluster::fixtures;
use super::cluster::{self, Cluster, Options};
use crate::common;

/// Item 7, database: `serve` and a worker start while Postgres is down. `serve` answers
/// `/health` 503 naming the database; the worker neither exits nor registers, and says what
/// it waits for; once Postgres is up both carry on and a job runs to `done`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starting_while_postgres_is_down_waits_for_it() {
    let pg = PrivatePostgres::start().await;
    let mut c = Cluster::prepare_on(&Options::default(), pg.url()).await;
    pg.down();
    c.start_server(&c.redis_env()).await;
    c.start_worker(0, 1);
    let (status, health) = c.wait_health_answer().await;
    assert_eq!(status, 503, "{health}");
    assert_eq!(
        health["failing"],
        serde_json::json!(["database"]),
        "{health}"
    );
    // Long enough for a worker that gives up to have exited.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let w1 = c.workers[0].as_mut().expect("w1");
    assert!(
        w1.exited().is_none(),
        "the worker waits:\n{}",
        w1.log_text()
    );
    let log = w1.log_text();
    assert!(
        log.contains("waiting for a dependency") && log.contains("database"),
        "the worker says what it waits for:\n{log}"
    );
    let t0 = Instant::now();
    pg.up();
    c.wait_healthy().await;
    c.wait_workers(1).await;
    eprintln!(
        "FAULT-TIMING started while Postgres was down: healthy and worker registered {:.2} s after it came up",
        t0.elapsed().as_secs_f64()
    );
    let repo = fixtures::py_package();
    let acc = c.submit(fixtures::zip(&repo), "pg-late.zip", None).await;
    c.follow(acc.job_id, None).await;
    let job = c.db.get_job(acc.job_id).await.expect("job").expect("row");
    assert_eq!((job.phase.as_str(), job.pct), ("done", 100));
}

/// Item 2, the other half: a task fails for its own reason (its upload is gone from storage)
/// at a moment when Postgres is down. The failure cannot be recorded then; the worker waits
/// for the database and records it once it is back: the job ends `failed`, pct 100, with
/// the code, one terminal event, its task row failed on its first attempt, and its work
/// files deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_failing_while_postgres_is_down_ends_failed_once_it_is_back() {
    let pg = PrivatePostgres::start().await;
    let mut c = Cluster::prepare_on(&Options::default(), pg.url()).await;
    c.start_server(&c.redis_env()).await;
    c.wait_healthy().await;
    // The worker reaches S3 through a proxy the test holds, so its read of the upload can be
    // kept waiting until Postgres is down.
    let (proxy, endpoint) = StallProxy::in_front_of(&common::s3_endpoint()).await;
    let mut extra = c.redis_env();
    extra.push(("S3_ENDPOINT_URL".into(), endpoint));
    let w1 = c.spawn(
        &["work", "--queues", "high,normal,low", "--name", "w1"],
        "w1",
        &extra,
    );
    c.workers.push(Some(w1));
    c.wait_workers(1).await;
    proxy.stall(true);
    let repo = fixtures::py_package();
    let acc = c.submit(fixtures::zip(&repo), "gone.zip", None).await;
    let job = acc.job_id;
    let store = c.store().await;
    store
        .delete(&provis::artifacts::upload_key(job))
        .await
        .expect("remove the upload");
    assert!(
        !store
            .list(&format!("work/{job}/"))
            .await
            .expect("list work files")
            .is_empty(),
        "the job has work files (its manifest) before it fails"
    );
    faults::wait_job(&c, job, Duration::from_secs(60), "acquiring", |j| {
        j.phase == "acquiring"
    })
    .await;
    pg.down();
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(1)).await;
    // S3 answers now: the upload is missing, a failure of the task's own.
    proxy.stall(false);
    tokio::time::sleep(Duration::from_secs(5)).await;
    pg.up();
    let events = c.follow(job, None).await;
    faults::report_timing(
        "a job failing for real while Postgres is down (from the outage)",
        t0,
    );
    let row = c.db.get_job(job).await.expect("job").expect("row");
    assert_eq!((row.phase.as_str(), row.pct), ("failed", 100), "{row:?}");
    let error = row.error.clone().unwrap_or_default();
    assert!(error.starts_with("ingest_failed: "), "{error}");
    assert!(error.contains("missing from storage"), "{error}");
    let terminal: Vec<_> = events.iter().filter(|e| e.event == "error").collect();
    assert_eq!(terminal.len(), 1, "one terminal event: {events:#?}");
    assert_eq!(terminal[0].data["payload"]["code"], "ingest_failed");
    assert_eq!(terminal[0].data["payload"]["terminal"], true);
    assert_eq!(events.last().map(|e| e.event.as_str()), Some("error"));
    let tasks = c.db.list_tasks(job).await.expect("tasks");
    assert_eq!(tasks.len(), 1, "{tasks:#?}");
    assert_eq!(tasks[0].state, provis::db::TaskState::Failed, "{tasks:#?}");
    assert_eq!(
        tasks[0].attempt, 1,
        "the outage cost no attempt: {tasks:#?}"
    );
    // The clean-up follows the terminal event: give it a moment.
    let t1 = Instant::now();
    loop {
        let work = store
            .list(&format!("work/{job}/"))
            .await
            .expect("list work files");
        if work.is_empty() {
            break;
        }
        assert!(
            t1.elapsed() < Duration::from_secs(15),
            "work files deleted at the end: {work:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = c.log("w1");
    assert!(
        log.contains("could not record a failed task yet"),
        "the failure met the outage:\n{}",
        common::tail(&log)
    );
}

/// Item 7, storage: the bucket vanishes under a running cluster (its objects with it). The
/// next upload creates it again and runs to `done`; when it vanishes again, `/health` creates
/// it again and answers 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vanished_bucket_is_created_again() {
    let mut c = Cluster::start(Options {
        workers: 1,
        ..Options::default()
    })
    .await;
    let repo = fixtures::py_package();
    let zip = fixtures::zip(&repo);
    let first = c.submit(zip.clone(), "before.zip", None).await;
    c.follow(first.job_id, None).await;
    cluster::delete_bucket(&c.s3_settings()).await;
    // Other content (the same would be a cache hit of the first job's snapshot).
    let mut other = repo.clone();
    other.push(("NOTES.md".into(), "after the bucket vanished\n".into()));
    let zip = fixtures::zip(&other);
    let t0 = Instant::now();
    let acc = c.submit(zip, "after.zip", None).await;
    c.follow(acc.job_id, None).await;
    faults::report_timing("bucket deleted, then an upload", t0);
    let job = c.db.get_job(acc.job_id).await.expect("job").expect("row");
    assert_eq!((job.phase.as_str(), job.pct), ("done", 100), "{job:?}");
    let listed = c
        .store()
        .await
        .list(&format!("repos/{}/", acc.repo_id))
        .await
        .expect("list artifacts");
    assert!(!listed.is_empty(), "the new job's artifacts are stored");
    assert!(
        c.log("serve").contains("the bucket vanished"),
        "the log says the bucket and what it held are gone"
    );
    cluster::delete_bucket(&c.s3_settings()).await;
    let (status, health) = c.wait_health_answer().await;
    assert_eq!(status, 200, "{health}");
    c.store()
        .await
        .list("")
        .await
        .expect("the bucket exists again");
}

/// Item 3's neighbour: a status overlay whose write failed while Redis was away would show
/// an old phase until it expires (the overlay is read before the database). It is deleted
/// once Redis answers again, so `/status` reads the database until the next write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overlay_write_lost_while_redis_was_away_is_not_served_stale() {
    use provis::events::{BusConfig, EventBus, Status};
    let mut redis = PrivateRedis::start_with(true).await;
    let bus = EventBus::redis(
        &redis.url(),
        BusConfig {
            timeout: Duration::from_secs(2),
            ..BusConfig::default()
        },
    )
    .expect("bus");
    let status = |job: uuid::Uuid, phase: &str, pct: i32| Status {
        job_id: job,
        repo_id: uuid::Uuid::nil(),
        snapshot_id: uuid::Uuid::nil(),
        phase: phase.to_string(),
        pct,
        files_discovered: 0,
        files_parsed: 0,
        files_reused: 0,
        imports_total: 0,
        imports_internal: 0,
        imports_external: 0,
        warnings_count: 0,
        error: None,
        updated_at: chrono::Utc::now(),
    };
    let job = uuid::Uuid::new_v4();
    assert!(bus
        .set_status(&status(job, "parsing", 40))
        .await
        .expect("write"));
    redis.kill();
    assert!(
        bus.set_status(&status(job, "done", 100)).await.is_err(),
        "Redis is away"
    );
    // Append-only file: the old overlay ("parsing") survives the restart.
    redis.restart().await;
    let other = uuid::Uuid::new_v4();
    assert!(bus
        .set_status(&status(other, "queued", 0))
        .await
        .expect("write"));
    assert_eq!(
        bus.get_status(job).await.expect("read"),
        None,
        "the stale overlay is gone; /status reads the database"
    );
    assert_eq!(
        bus.get_status(other).await.expect("read").map(|s| s.phase),
        Some("queued".to_string())
    );
}
