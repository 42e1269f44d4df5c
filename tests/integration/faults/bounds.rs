//! Item 6, the rest of "every call has a bound": a Redis that hangs, and a Postgres statement
//! stuck behind a lock. Each is answered with a 503 naming what is down within its setting,
//! leaves no job waiting, and the cluster runs the next upload to `done` once it answers.

use std::time::{Duration, Instant};

use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};

use super::cluster::checks::{self, Expect};
use super::cluster::faults::{self, StallProxy};
use super::cluster::fixtures;
use super::cluster::{Cluster, Options};
use super::upload_while_stalled;
use crate::common::redis_url;

/// Redis hangs (its traffic held by a proxy) while an upload is taken. `/ingest` answers 503
/// naming Redis within a bound set by `REDIS_TIMEOUT_S`; the job it created is not left
/// waiting (it is `failed`, `enqueue_failed`); once Redis answers again an upload runs to
/// `done`, each task on its first attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_while_redis_hangs_answers_503_in_time() {
    let (proxy, proxied) = StallProxy::in_front_of(&redis_url()).await;
    let mut c = Cluster::prepare(&Options::default()).await;
    c.redis_url = proxied;
    c.env.insert("REDIS_TIMEOUT_S".into(), "3".into());
    c.start_server(&c.redis_env()).await;
    c.wait_healthy().await;
    c.start_worker(0, 1);
    c.wait_workers(1).await;
    let repo = fixtures::py_package();
    let zip = fixtures::zip(&repo);
    upload_while_stalled(&c, &proxy, &zip, "Redis", "redis").await;
    assert_eq!(
        c.count("jobs", "phase NOT IN ('failed', 'done')").await,
        0,
        "no job left waiting"
    );
    assert_eq!(
        c.count("jobs", "phase = 'failed' AND error LIKE 'enqueue_failed:%'")
            .await,
        c.count("jobs", "true").await,
        "a job created before the 503 is failed as enqueue_failed"
    );
    let t1 = Instant::now();
    let acc = c.submit(zip.clone(), "redis-hung.zip", None).await;
    let events = c.follow(acc.job_id, None).await;
    faults::report_timing("Redis hang during an upload (from Redis back)", t1);
    let expect = Expect {
        files: repo.len(),
        batches: repo.len().div_ceil(50),
        upload_bytes: zip.len(),
        single_attempts: true,
        redis_lost: false,
    };
    checks::check_done_job(&c, &acc, &events, &expect).await;
    // The failed job's overlay writes were lost while Redis hung (or landed late, out of
    // order): once Redis answers, `/status` tells the truth of the database.
    for id in job_ids(&c, "phase = 'failed'").await {
        let (code, status) = c.get_json(&format!("/status/{id}")).await;
        assert_eq!(code, 200, "{status}");
        assert_eq!(
            (status["phase"].as_str(), status["pct"].as_i64()),
            (Some("failed"), Some(100)),
            "{status}"
        );
    }
}

/// Ids of the cluster's jobs matching `filter` (an SQL condition).
async fn job_ids(c: &Cluster, filter: &str) -> Vec<String> {
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::Text)]
        id: String,
    }
    let mut conn = AsyncPgConnection::establish(&c.db_url)
        .await
        .expect("connect to the test schema");
    let rows: Vec<Id> =
        diesel::sql_query(format!("SELECT id::text AS id FROM jobs WHERE {filter}"))
            .load(&mut conn)
            .await
            .expect("job ids");
    rows.into_iter().map(|r| r.id).collect()
}

/// A statement waits behind a lock another session holds (`LOCK TABLE jobs`): the server
/// cancels it after `DB_STATEMENT_TIMEOUT_S`, `/ingest` answers 503 naming the database, and
/// the upload it had stored is removed. Once the lock is gone an upload runs to `done`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_stuck_behind_a_lock_answers_503_in_time() {
    let mut c = Cluster::prepare(&Options::default()).await;
    c.env.insert("DB_STATEMENT_TIMEOUT_S".into(), "2".into());
    c.start_server(&c.redis_env()).await;
    c.wait_healthy().await;
    c.start_worker(0, 1);
    c.wait_workers(1).await;
    let repo = fixtures::py_package();
    let zip = fixtures::zip(&repo);
    let mut locker = AsyncPgConnection::establish(&c.db_url)
        .await
        .expect("a second session on the test schema");
    locker
        .batch_execute("BEGIN; LOCK TABLE jobs IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("lock the jobs table");
    let t0 = Instant::now();
    let (status, body) = c.upload(zip.clone(), "locked.zip", None).await;
    let answered = t0.elapsed();
    locker.batch_execute("ROLLBACK").await.expect("unlock");
    eprintln!(
        "FAULT-TIMING upload while the jobs table is locked (statement timeout 2 s): {status} after {:.2} s",
        answered.as_secs_f64()
    );
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "service_unavailable", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("database"),
        "{body}"
    );
    assert!(answered < Duration::from_secs(30), "bounded by the setting");
    assert_eq!(c.count("jobs", "true").await, 0, "no job left behind");
    let uploads = c
        .store()
        .await
        .list("uploads/")
        .await
        .expect("list uploads");
    assert!(
        uploads.is_empty(),
        "the stored upload is removed: {uploads:?}"
    );
    let acc = c.submit(zip.clone(), "unlocked.zip", None).await;
    let events = c.follow(acc.job_id, None).await;
    let expect = Expect {
        files: repo.len(),
        batches: repo.len().div_ceil(50),
        upload_bytes: zip.len(),
        single_attempts: true,
        redis_lost: false,
    };
    checks::check_done_job(&c, &acc, &events, &expect).await;
}
