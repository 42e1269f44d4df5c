//! Faults that must heal (issue 9): each test breaks a private Redis, Postgres or S3 (or the
//! traffic to it) under a running cluster and checks the job ends as it should — its end
//! state, artifact versions, event sequence (no duplicates, pct monotone), `tasks` rows and
//! Redis keys — and prints the time from fault to job end (`FAULT-TIMING`).
//!
//! Run: `cargo test --test faults -- --nocapture`.

mod cluster;

use std::time::{Duration, Instant};

use cluster::checks::{self, Expect};
use cluster::faults::{self, PrivateRedis};
use cluster::fixtures::{self, MixedShape};
use cluster::{Cluster, Options};

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
    let c = Cluster::start_on(opts, redis.url()).await;
    let shape = MixedShape {
        ts: 40,
        py: 40,
        notes: 19,
    };
    let repo = fixtures::mixed(&shape, "flushall");
    let zip = fixtures::zip(&repo);
    let acc = c.submit(zip.clone(), "flushall.zip", None).await;
    let job = acc.job_id;
    faults::wait_job(&c, job, Duration::from_secs(60), "parsing", |j| {
        j.phase == "parsing" && j.batches_total > 0
    })
    .await;
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
        "the reconciler re-enqueued lost tasks"
    );
}
