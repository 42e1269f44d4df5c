//! The Redis queue against a real Redis (TEST_REDIS_URL, default redis://127.0.0.1:6379), in
//! RQ's key layout, with real `provis work` processes and the real Python `rq info`.
//!
//! Every test uses its own key prefix (`RQ_KEY_PREFIX`, which Python RQ reads too), so tests
//! run concurrently on one Redis; the keys are deleted when the test ends.

mod processes;
mod support;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use deadpool_redis::redis::{self, AsyncCommands};
use provis::queue::rq::codec;
use provis::queue::{
    diag, ClaimOutcome, Completion, Disposition, QueueBackend, Registry, TaskSpec, Worker,
    WorkerOptions,
};
use tokio_util::sync::CancellationToken;

use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_follow_priority_order_and_fifo() {
    let p = prefix();
    let b = backend(&p).await;
    let mut expected = Vec::new();
    let mut by_queue: HashMap<&str, Vec<String>> = HashMap::new();
    // Enqueue the lowest priority first, so order of arrival cannot explain the result.
    for q in ["low", "normal", "high"] {
        for i in 0..3 {
            let env = env_for(&spec_on(diag::NOOP, q), serde_json::json!({ "i": i }));
            assert!(b
                .enqueue(&spec_on(diag::NOOP, q), &env)
                .await
                .expect("enqueue"));
            by_queue.entry(q).or_default().push(env.id.clone());
        }
    }
    for q in ["high", "normal", "low"] {
        expected.extend(by_queue[q].iter().cloned());
    }
    let queues: Vec<String> = ["high", "normal", "low"].map(String::from).to_vec();
    let mut got = Vec::new();
    loop {
        match b
            .claim("prio-worker", &queues, Duration::from_secs(20))
            .await
            .expect("claim")
        {
            ClaimOutcome::Claimed(c) => {
                assert_eq!(c.env.attempt, 1);
                got.push(c.env.id.clone());
                assert_eq!(
                    b.complete(&c, &Completion::Done).await.expect("done"),
                    Disposition::Done
                );
            }
            ClaimOutcome::Empty => break,
            ClaimOutcome::Suspended => panic!("not suspended"),
        }
    }
    assert_eq!(
        got, expected,
        "high before normal before low, FIFO within a queue"
    );
    let mut c = raw().await;
    let finished: u64 = c
        .zcard(format!("{}:finished:high", p.name))
        .await
        .expect("zcard");
    assert_eq!(finished, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueue_is_idempotent_and_suspension_is_respected() {
    let p = prefix();
    let b = backend(&p).await;
    let mut c = raw().await;
    let spec = spec_on(diag::NOOP, "normal");
    let env = env_for(&spec, serde_json::json!({}));
    assert!(b.enqueue(&spec, &env).await.expect("first"));
    assert!(
        !b.enqueue(&spec, &env).await.expect("second"),
        "queued id must not be enqueued twice"
    );
    assert_eq!(b.queue_len("normal").await.expect("llen"), 1);
    let members: HashSet<String> = c
        .smembers(format!("{}:queues", p.name))
        .await
        .expect("smembers");
    assert!(members.contains(&format!("{}:queue:normal", p.name)));
    // The job hash is RQ's, with JSON data.
    let data = hget(&mut c, &format!("{}:job:{}", p.name, env.id), "data")
        .await
        .expect("data");
    let v: serde_json::Value = serde_json::from_str(&data).expect("json data");
    assert_eq!(v[0], "provis.diag_noop");
    assert_eq!(
        hget(&mut c, &format!("{}:job:{}", p.name, env.id), "status")
            .await
            .as_deref(),
        Some("queued")
    );

    let _: () = c
        .set(format!("{}:suspended", p.name), 1)
        .await
        .expect("suspend");
    let queues = vec!["normal".to_string()];
    let r = b
        .claim("susp-worker", &queues, Duration::from_secs(5))
        .await
        .expect("claim");
    assert!(matches!(r, ClaimOutcome::Suspended), "{r:?}");
    let _: () = c
        .del(format!("{}:suspended", p.name))
        .await
        .expect("resume");
    let ClaimOutcome::Claimed(claim) = b
        .claim("susp-worker", &queues, Duration::from_secs(5))
        .await
        .expect("claim")
    else {
        panic!("expected a claim after resume");
    };
    assert!(
        !b.enqueue(&spec, &env).await.expect("while running"),
        "running id must not be enqueued again"
    );
    b.complete(&claim, &Completion::Done).await.expect("done");
    assert!(
        b.enqueue(&spec, &env).await.expect("after finish"),
        "a finished id may run again"
    );
    assert_eq!(b.queue_len("normal").await.expect("llen"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_names_are_exclusive_while_alive() {
    let p = prefix();
    let b = backend(&p).await;
    let mut c = raw().await;
    let queues = vec!["high".to_string(), "low".to_string()];
    let ttl = Duration::from_secs(60);
    b.register_worker("w", &queues, ttl)
        .await
        .expect("register");
    let key = format!("{}:worker:w", p.name);
    for set in ["workers", "workers:high", "workers:low"] {
        let m: bool = c
            .sismember(format!("{}:{set}", p.name), &key)
            .await
            .expect("sismember");
        assert!(m, "{set}");
    }
    assert_eq!(
        hget(&mut c, &key, "queues").await.as_deref(),
        Some("high,low")
    );
    let t: i64 = c.ttl(&key).await.expect("ttl");
    assert!(t > 0 && t <= 60, "worker hash has a TTL: {t}");
    let err = b
        .register_worker("w", &queues, ttl)
        .await
        .expect_err("live name");
    assert!(err.to_string().contains("already registered"), "{err}");
    // Its heartbeat stopped long ago (kill -9): the name can be taken over.
    let _: () = c
        .hset(&key, "last_heartbeat", "2020-01-01T00:00:00.000000Z")
        .await
        .expect("hset");
    b.register_worker("w", &queues, ttl)
        .await
        .expect("take over a stale name");
    b.deregister_worker("w", &queues).await.expect("deregister");
    assert!(hget(&mut c, &key, "death").await.is_some());
    assert_eq!(hget(&mut c, &key, "state").await.as_deref(), Some("dead"));
    let m: bool = c
        .sismember(format!("{}:workers", p.name), &key)
        .await
        .expect("sismember");
    assert!(!m);
    b.register_worker("w", &queues, ttl)
        .await
        .expect("a dead name is free");
    // A hash that expired leaves its key in the sets until the cleaner runs.
    let _: () = c.del(&key).await.expect("del");
    assert_eq!(b.clean_workers(&queues).await.expect("clean"), 1);
    let n: u64 = c
        .scard(format!("{}:workers:high", p.name))
        .await
        .expect("scard");
    assert_eq!(n, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_concurrent_claimers_never_get_the_same_task() {
    let p = prefix();
    let b = backend(&p).await;
    let spec = spec_on(diag::NOOP, "normal");
    let mut all = HashSet::new();
    for _ in 0..2000 {
        let env = env_for(&spec, serde_json::json!({}));
        all.insert(env.id.clone());
        b.enqueue(&spec, &env).await.expect("enqueue");
    }
    let queues = vec!["high".to_string(), "normal".to_string()];
    let mut handles = Vec::new();
    // Separate connections, like two processes, both ready before either starts.
    let claimers = [
        ("claimer-a", backend(&p).await),
        ("claimer-b", backend(&p).await),
    ];
    for (name, b) in claimers {
        let queues = queues.clone();
        handles.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            while let ClaimOutcome::Claimed(c) = b
                .claim(name, &queues, Duration::from_secs(60))
                .await
                .expect("claim")
            {
                ids.push(c.env.id);
            }
            ids
        }));
    }
    let mut seen = HashSet::new();
    let mut total = 0;
    for h in handles {
        let ids = h.await.expect("join");
        assert!(!ids.is_empty(), "each claimer got work");
        for id in ids {
            total += 1;
            assert!(seen.insert(id.clone()), "{id} claimed twice");
        }
    }
    assert_eq!(total, 2000);
    assert_eq!(seen, all);
    let mut c = raw().await;
    let wip: u64 = c
        .zcard(format!("{}:wip:normal", p.name))
        .await
        .expect("zcard");
    assert_eq!(wip, 2000, "every claim is in the started registry");
    let inter: u64 = c
        .llen(format!("{}:queue:normal:intermediate", p.name))
        .await
        .expect("llen");
    assert_eq!(inter, 0, "nothing left between pop and start");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_use_the_scheduled_registry_then_finish_or_fail() {
    let p = prefix();
    let dir = tempfile::tempdir().expect("tempdir");
    let b = backend(&p).await;
    let mut c = raw().await;
    let file = dir.path().join("fail.txt");
    let recover = env_for(&diag::FAIL, serde_json::json!({ "times": 1, "file": file }));
    let exhaust = env_for(&diag::FAIL, serde_json::json!({ "times": 10 }));
    let panics = env_for(&diag::PANIC, serde_json::json!({ "times": 1 }));
    let unknown_spec = TaskSpec {
        name: "no_such_task",
        queue: "normal",
        max_attempts: 3,
        backoff_s: &[],
    };
    let unknown = env_for(&unknown_spec, serde_json::json!({}));
    for (spec, env) in [
        (&diag::FAIL, &recover),
        (&diag::FAIL, &exhaust),
        (&diag::PANIC, &panics),
        (&unknown_spec, &unknown),
    ] {
        assert!(b.enqueue(spec, env).await.expect("enqueue"));
    }
    let mut reg: Registry<()> = Registry::new();
    diag::register(&mut reg).expect("register");
    let hooks = Arc::new(Recorder::default());
    let mut opts = WorkerOptions::new(
        format!("retry-{}", &p.name[12..20]),
        vec!["normal".to_string()],
    );
    opts.burst = true;
    let worker =
        Worker::new(QueueBackend::Redis(b.clone()), reg, (), opts).with_hooks(hooks.clone());
    let run = tokio::spawn(worker.run(CancellationToken::new()));

    // The first failure parks the job in rq:scheduled:normal, due about one backoff later.
    let sched_key = format!("{}:scheduled:normal", p.name);
    let job_key = format!("{}:job:{}", p.name, recover.id);
    wait_for("retry scheduled", Duration::from_secs(20), || {
        let mut c = c.clone();
        let (sk, id) = (sched_key.clone(), recover.id.clone());
        async move {
            let s: Option<f64> = c.zscore(&sk, &id).await.unwrap_or(None);
            s.is_some()
        }
    })
    .await;
    let due: f64 = c.zscore(&sched_key, &recover.id).await.expect("zscore");
    let now = codec::unix(Utc::now());
    assert!(
        due > now - 1.0 && due < now + 1.5,
        "due {due} vs now {now}: backoff of 1 s"
    );
    assert_eq!(
        hget(&mut c, &job_key, "status").await.as_deref(),
        Some("scheduled")
    );
    assert_eq!(
        hget(&mut c, &job_key, "retries_left").await.as_deref(),
        Some("1")
    );

    let stats = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("burst ends")
        .expect("join")
        .expect("run");
    assert_eq!(stats.done, 2, "{stats:?}");
    assert_eq!(stats.failed, 2, "{stats:?}");

    // Recovered after one retry: finished, side effect written by attempt 2 only.
    assert_eq!(
        hget(&mut c, &job_key, "status").await.as_deref(),
        Some("finished")
    );
    assert_eq!(lines(&file), vec![format!("{} 2", recover.id)]);
    assert_eq!(
        result_types(&mut c, &format!("{}:results:{}", p.name, recover.id)).await,
        vec!["4", "1"]
    );
    assert_eq!(
        hooks.of(&recover.id),
        vec![
            ("started".into(), 1),
            ("retry".into(), 1),
            ("started".into(), 2),
            ("done".into(), 2)
        ]
    );

    // Retries exhausted: failed registry, exc_info readable, failure result last.
    let failed: HashSet<String> = c
        .zrange(format!("{}:failed:normal", p.name), 0, -1)
        .await
        .expect("zrange");
    assert!(
        failed.contains(&exhaust.id) && failed.contains(&unknown.id),
        "{failed:?}"
    );
    let ex_key = format!("{}:job:{}", p.name, exhaust.id);
    assert_eq!(
        hget(&mut c, &ex_key, "status").await.as_deref(),
        Some("failed")
    );
    let exc: Vec<u8> = c.hget(&ex_key, "exc_info").await.expect("exc_info");
    let exc = String::from_utf8(codec::maybe_inflate(&exc)).expect("utf8");
    assert!(exc.contains("attempt 3"), "{exc}");
    assert_eq!(
        result_types(&mut c, &format!("{}:results:{}", p.name, exhaust.id)).await,
        vec!["4", "4", "2"]
    );
    let calls = hooks.of(&exhaust.id);
    assert_eq!(
        calls.iter().filter(|c| c.0 == "retry").count(),
        2,
        "{calls:?}"
    );
    assert_eq!(calls.last(), Some(&("failed".to_string(), 3)));

    // A panic is a retry; attempt 2 succeeds.
    assert_eq!(
        hget(&mut c, &format!("{}:job:{}", p.name, panics.id), "status")
            .await
            .as_deref(),
        Some("finished")
    );
    let pc = hooks
        .0
        .lock()
        .expect("lock")
        .iter()
        .filter(|r| r.1 == panics.id && r.0 == "retry")
        .map(|r| r.3.clone())
        .collect::<Vec<_>>();
    assert!(pc.len() == 1 && pc[0].contains("panic"), "{pc:?}");

    // An unknown task name fails at once, with the hook told.
    assert_eq!(hooks.of(&unknown.id), vec![("failed".into(), 1)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_returns_entries_stuck_between_pop_and_start() {
    let p = prefix();
    let b = backend(&p).await;
    let mut c = raw().await;
    let spec = spec_on(diag::NOOP, "normal");
    let env = env_for(&spec, serde_json::json!({}));
    b.enqueue(&spec, &env).await.expect("enqueue");
    // A worker popped it and died before starting it.
    let q = format!("{}:queue:normal", p.name);
    let inter = format!("{}:queue:normal:intermediate", p.name);
    let _: Option<String> = redis::cmd("LMOVE")
        .arg(&q)
        .arg(&inter)
        .arg("LEFT")
        .arg("RIGHT")
        .query_async(&mut c)
        .await
        .expect("lmove");
    let queues = vec!["normal".to_string()];
    let first = b.recover(&queues, Duration::ZERO).await.expect("sweep");
    assert!(first.is_empty(), "first sighting only marks it");
    assert_eq!(b.queue_len("normal").await.expect("llen"), 0);
    let second = b.recover(&queues, Duration::ZERO).await.expect("sweep");
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].id, env.id);
    assert_eq!(b.queue_len("normal").await.expect("llen"), 1);
    let left: u64 = c.llen(&inter).await.expect("llen");
    assert_eq!(left, 0);
    let ClaimOutcome::Claimed(claim) = b
        .claim("sweeper", &queues, Duration::from_secs(5))
        .await
        .expect("claim")
    else {
        panic!("requeued task claimable");
    };
    assert_eq!(
        claim.env.attempt, 1,
        "a pop without start spends no attempt"
    );
}
