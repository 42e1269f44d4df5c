//! The Redis queue with real `provis work` processes: many tasks across two processes,
//! `kill -9`, SIGTERM, `--burst`, and the real Python `rq info`.

use std::collections::HashSet;
use std::process::Command;
use std::time::{Duration, Instant};

use deadpool_redis::redis::AsyncCommands;
use provis::queue::diag;

use super::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_tasks_two_worker_processes_exactly_once() {
    let p = prefix();
    let dir = tempfile::tempdir().expect("tempdir");
    let b = backend(&p).await;
    let mut c = raw().await;
    let mut w1 = spawn_ready(&p, dir.path(), "many-a", "normal", 20, &[]).await;
    let mut w2 = spawn_ready(&p, dir.path(), "many-b", "normal", 20, &[]).await;
    let workers_key = format!("{}:workers", p.name);
    let file = dir.path().join("side-effects.txt");
    let spec = diag::APPEND;
    for i in 0..1000 {
        let env = env_for(
            &spec,
            serde_json::json!({ "file": file, "line": format!("line-{i}") }),
        );
        assert!(b.enqueue(&spec, &env).await.expect("enqueue"));
    }
    let finished_key = format!("{}:finished:normal", p.name);
    wait_for("1000 finished", Duration::from_secs(120), || {
        let mut c = c.clone();
        let k = finished_key.clone();
        async move {
            let n: u64 = c.zcard(&k).await.unwrap_or(0);
            n == 1000
        }
    })
    .await;
    for w in [&w1, &w2] {
        w.signal(libc::SIGTERM);
    }
    assert!(
        w1.wait_exit(Duration::from_secs(20)).success(),
        "{}",
        w1.log_text()
    );
    assert!(
        w2.wait_exit(Duration::from_secs(20)).success(),
        "{}",
        w2.log_text()
    );

    let got = lines(&file);
    assert_eq!(got.len(), 1000, "every task ran exactly once");
    let distinct: HashSet<&String> = got.iter().collect();
    assert_eq!(distinct.len(), 1000, "no task ran twice");
    for i in 0..1000 {
        assert!(distinct.contains(&format!("line-{i}")), "line-{i} missing");
    }
    let failed: u64 = c
        .zcard(format!("{}:failed:normal", p.name))
        .await
        .expect("zcard");
    assert_eq!(failed, 0);
    let mut per_worker = Vec::new();
    for name in ["many-a", "many-b"] {
        let n: u64 = hget(
            &mut c,
            &format!("{}:worker:{name}", p.name),
            "successful_job_count",
        )
        .await
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
        per_worker.push(n);
    }
    assert_eq!(per_worker.iter().sum::<u64>(), 1000, "{per_worker:?}");
    assert!(
        per_worker.iter().all(|&n| n > 0),
        "both processes worked: {per_worker:?}"
    );
    let left: u64 = c.scard(&workers_key).await.expect("scard");
    assert_eq!(left, 0, "both workers deregistered on SIGTERM");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_task_another_worker_finishes_it() {
    let p = prefix();
    let dir = tempfile::tempdir().expect("tempdir");
    let b = backend(&p).await;
    let mut c = raw().await;
    let lease_s = 2;
    let mut a = spawn_ready(&p, dir.path(), "victim", "normal", lease_s, &[]).await;
    let file = dir.path().join("sleep.txt");
    let env = env_for(
        &diag::SLEEP,
        serde_json::json!({ "ms": 3000, "file": file }),
    );
    b.enqueue(&diag::SLEEP, &env).await.expect("enqueue");
    let job_key = format!("{}:job:{}", p.name, env.id);
    wait_for("victim started the task", Duration::from_secs(30), || {
        let mut c = c.clone();
        let k = job_key.clone();
        async move { hget(&mut c, &k, "status").await.as_deref() == Some("started") }
    })
    .await;
    assert_eq!(
        hget(&mut c, &job_key, "worker_name").await.as_deref(),
        Some("victim")
    );
    a.signal(libc::SIGKILL);
    a.wait_exit(Duration::from_secs(5));
    let killed_at = Instant::now();
    let _b = spawn_ready(&p, dir.path(), "rescuer", "normal", lease_s, &[]).await;
    // Lease + the task's own 3 s + a generous margin for a loaded machine.
    let limit = Duration::from_secs(lease_s + 3 + 15);
    wait_for("rescuer finished the task", limit, || {
        let mut c = c.clone();
        let k = job_key.clone();
        async move { hget(&mut c, &k, "status").await.as_deref() == Some("finished") }
    })
    .await;
    assert!(killed_at.elapsed() < limit);
    eprintln!(
        "kill -9: the rescuer finished the task {:?} after the kill (lease {lease_s} s, task 3 s)",
        killed_at.elapsed()
    );
    assert_eq!(
        hget(&mut c, &job_key, "worker_name").await.as_deref(),
        Some("rescuer")
    );
    assert_eq!(
        lines(&file),
        vec![format!("{} 2", env.id)],
        "the killed run wrote nothing; the rescue is attempt 2"
    );
    assert_eq!(
        result_types(&mut c, &format!("{}:results:{}", p.name, env.id)).await,
        vec!["4", "1"]
    );
    let wip: u64 = c
        .zcard(format!("{}:wip:normal", p.name))
        .await
        .expect("zcard");
    assert_eq!(wip, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_running_task_or_hands_it_back() {
    let p = prefix();
    let dir = tempfile::tempdir().expect("tempdir");
    let b = backend(&p).await;
    let mut c = raw().await;
    let workers_key = format!("{}:workers", p.name);

    // Short task, long grace: finished before exit.
    let mut w = spawn_ready(
        &p,
        dir.path(),
        "term-finish",
        "normal",
        20,
        &["--shutdown-grace", "20"],
    )
    .await;
    let env = env_for(&diag::SLEEP, serde_json::json!({ "ms": 1500 }));
    b.enqueue(&diag::SLEEP, &env).await.expect("enqueue");
    let job_key = format!("{}:job:{}", p.name, env.id);
    wait_for("task started", Duration::from_secs(30), || {
        let mut c = c.clone();
        let k = job_key.clone();
        async move { hget(&mut c, &k, "status").await.as_deref() == Some("started") }
    })
    .await;
    w.signal(libc::SIGTERM);
    assert!(
        w.wait_exit(Duration::from_secs(20)).success(),
        "{}",
        w.log_text()
    );
    assert_eq!(
        hget(&mut c, &job_key, "status").await.as_deref(),
        Some("finished")
    );
    let wk = format!("{}:worker:term-finish", p.name);
    assert!(hget(&mut c, &wk, "death").await.is_some(), "death recorded");
    let members: HashSet<String> = c.smembers(&workers_key).await.expect("smembers");
    assert!(!members.contains(&wk));

    // Long task, short grace: handed back to the head of its queue, no attempt spent.
    let mut w = spawn_ready(
        &p,
        dir.path(),
        "term-handback",
        "normal",
        20,
        &["--shutdown-grace", "1"],
    )
    .await;
    let env = env_for(&diag::SLEEP, serde_json::json!({ "ms": 60000 }));
    b.enqueue(&diag::SLEEP, &env).await.expect("enqueue");
    let job_key = format!("{}:job:{}", p.name, env.id);
    wait_for("task started", Duration::from_secs(30), || {
        let mut c = c.clone();
        let k = job_key.clone();
        async move { hget(&mut c, &k, "status").await.as_deref() == Some("started") }
    })
    .await;
    w.signal(libc::SIGTERM);
    assert!(
        w.wait_exit(Duration::from_secs(20)).success(),
        "{}",
        w.log_text()
    );
    assert_eq!(
        hget(&mut c, &job_key, "status").await.as_deref(),
        Some("queued")
    );
    let head: Option<String> = c
        .lindex(format!("{}:queue:normal", p.name), 0)
        .await
        .expect("lindex");
    assert_eq!(head.as_deref(), Some(env.id.as_str()));
    let wip: u64 = c
        .zcard(format!("{}:wip:normal", p.name))
        .await
        .expect("zcard");
    assert_eq!(wip, 0);
    assert_eq!(
        hget(&mut c, &job_key, "retries_left").await.as_deref(),
        Some("2"),
        "hand-back spends no attempt"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burst_worker_exits_when_the_queues_are_empty() {
    let p = prefix();
    let dir = tempfile::tempdir().expect("tempdir");
    let b = backend(&p).await;
    let mut c = raw().await;
    let file = dir.path().join("burst.txt");
    for q in ["high", "low"] {
        for i in 0..5 {
            let spec = spec_on(diag::APPEND, q);
            let env = env_for(
                &spec,
                serde_json::json!({ "file": file, "line": format!("{q}-{i}") }),
            );
            b.enqueue(&spec, &env).await.expect("enqueue");
        }
    }
    let mut w = spawn_worker(
        &p,
        dir.path(),
        "burster",
        "high,normal,low",
        20,
        &["--burst"],
    );
    let st = w.wait_exit(Duration::from_secs(60));
    assert!(st.success(), "{}", w.log_text());
    let got = lines(&file);
    let expected: Vec<String> = ["high", "low"]
        .iter()
        .flat_map(|q| (0..5).map(move |i| format!("{q}-{i}")))
        .collect();
    assert_eq!(got, expected, "all done, high first");
    for q in ["high", "low"] {
        let n: u64 = c
            .zcard(format!("{}:finished:{q}", p.name))
            .await
            .expect("zcard");
        assert_eq!(n, 5);
        assert_eq!(b.queue_len(q).await.expect("llen"), 0);
    }
    let n: u64 = c.scard(format!("{}:workers", p.name)).await.expect("scard");
    assert_eq!(n, 0, "deregistered");
}

/// Runs the real `rq info --raw` on our prefix and returns its lines.
fn rq_info(prefix: &Prefix) -> Vec<String> {
    let rq = venv().join("bin/rq");
    assert!(
        rq.exists(),
        "Python RQ CLI not found at {} (set PROVIS_TEST_VENV)",
        rq.display()
    );
    let out = Command::new(&rq)
        .args(["info", "--raw", "--url", &redis_url()])
        .env("RQ_KEY_PREFIX", &prefix.name)
        .output()
        .expect("run rq info");
    assert!(
        out.status.success(),
        "rq info failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// `queue <name> <count>, <n> executing, <n> finished, <n> failed` → the four numbers.
fn queue_row(lines: &[String], name: &str) -> [u64; 4] {
    let head = format!("queue {name} ");
    let line = lines
        .iter()
        .find(|l| l.starts_with(&head))
        .unwrap_or_else(|| panic!("no row for {name} in {lines:?}"));
    let nums: Vec<u64> = line[head.len()..]
        .split(',')
        .map(|part| {
            part.split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
                .expect("number")
        })
        .collect();
    [nums[0], nums[1], nums[2], nums[3]]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rq_info_shows_provis_queues_and_busy_worker_without_failing_it() {
    let p = prefix();
    let dir = tempfile::tempdir().expect("tempdir");
    let b = backend(&p).await;
    let mut c = raw().await;
    let name = format!("rqinfo-{}", &p.name[12..20]);
    // A 3 s lease: the running task outlives it, so only heartbeats keep rq info from failing it.
    let w = spawn_ready(&p, dir.path(), &name, "high,normal", 3, &[]).await;
    let finished_key = format!("{}:finished:normal", p.name);
    let failed_key = format!("{}:failed:normal", p.name);
    for _ in 0..3 {
        b.enqueue(&diag::NOOP, &env_for(&diag::NOOP, serde_json::json!({})))
            .await
            .expect("enqueue");
    }
    // A job enqueued by Python RQ (JSONSerializer, zlib data) runs on provis too.
    let py = venv().join("bin/python");
    let script = "import sys; from redis import Redis; from rq import Queue; from rq.serializers import JSONSerializer; \
                  q = Queue('normal', connection=Redis.from_url(sys.argv[1]), serializer=JSONSerializer); print(q.enqueue('provis.diag_noop').id)";
    let out = Command::new(&py)
        .args(["-c", script, &redis_url()])
        .env("RQ_KEY_PREFIX", &p.name)
        .output()
        .expect("python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fatal = env_for(
        &diag::FAIL,
        serde_json::json!({ "times": 99, "fatal": true }),
    );
    b.enqueue(&diag::FAIL, &fatal).await.expect("enqueue");
    wait_for("4 finished and 1 failed", Duration::from_secs(30), || {
        let mut c = c.clone();
        let (fk, xk) = (finished_key.clone(), failed_key.clone());
        async move {
            let f: u64 = c.zcard(&fk).await.unwrap_or(0);
            let x: u64 = c.zcard(&xk).await.unwrap_or(0);
            f == 4 && x == 1
        }
    })
    .await;
    // Two jobs on a queue the worker does not listen to stay queued.
    for _ in 0..2 {
        let spec = spec_on(diag::NOOP, "low");
        b.enqueue(&spec, &env_for(&spec, serde_json::json!({})))
            .await
            .expect("enqueue");
    }
    let spec = spec_on(diag::SLEEP, "high");
    let long = env_for(&spec, serde_json::json!({ "ms": 8000 }));
    b.enqueue(&spec, &long).await.expect("enqueue");
    let job_key = format!("{}:job:{}", p.name, long.id);
    wait_for("long task started", Duration::from_secs(30), || {
        let mut c = c.clone();
        let k = job_key.clone();
        async move { hget(&mut c, &k, "status").await.as_deref() == Some("started") }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(4)).await;

    let out = rq_info(&p);
    assert_eq!(queue_row(&out, "high"), [0, 1, 0, 0], "{out:?}");
    assert_eq!(queue_row(&out, "normal"), [0, 0, 4, 1], "{out:?}");
    assert_eq!(queue_row(&out, "low"), [2, 0, 0, 0], "{out:?}");
    let wline = out
        .iter()
        .find(|l| l.starts_with(&format!("worker {name} ")))
        .unwrap_or_else(|| panic!("worker missing: {out:?}"));
    assert!(wline.contains(" busy high, normal. "), "{wline}");
    assert!(wline.ends_with("jobs: 4 finished, 1 failed"), "{wline}");
    assert!(
        wline.contains(&format!(" {}) busy", w.pid())),
        "pid of the worker process: {wline}"
    );

    // rq info cleaned registries before printing; the in-flight task must still be ours.
    assert_eq!(
        hget(&mut c, &job_key, "status").await.as_deref(),
        Some("started")
    );
    wait_for("long task finished", Duration::from_secs(30), || {
        let mut c = c.clone();
        let k = job_key.clone();
        async move { hget(&mut c, &k, "status").await.as_deref() == Some("finished") }
    })
    .await;
    assert_eq!(
        result_types(&mut c, &format!("{}:results:{}", p.name, long.id)).await,
        vec!["1"]
    );

    // Python reads provis's result through RQ's own API.
    let check = "import sys; from redis import Redis; from rq.job import Job; from rq.serializers import JSONSerializer; \
                 j = Job.fetch(sys.argv[2], connection=Redis.from_url(sys.argv[1]), serializer=JSONSerializer); \
                 print(j.get_status().value, j.func_name, j.latest_result().type.name)";
    let out = Command::new(&py)
        .args(["-c", check, &redis_url(), &long.id])
        .env("RQ_KEY_PREFIX", &p.name)
        .output()
        .expect("python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "finished provis.diag_sleep SUCCESSFUL"
    );
    let out = rq_info(&p);
    assert_eq!(queue_row(&out, "high"), [0, 0, 1, 0], "{out:?}");
}
