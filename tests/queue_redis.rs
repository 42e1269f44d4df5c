//! The Redis queue against a real Redis (TEST_REDIS_URL, default redis://127.0.0.1:6379), in
//! RQ's key layout, with real `provis work` processes and the real Python `rq info`.
//!
//! Every test uses its own key prefix (`RQ_KEY_PREFIX`, which Python RQ reads too), so tests
//! run concurrently on one Redis; the keys are deleted when the test ends.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use deadpool_redis::redis::{self, aio::MultiplexedConnection, AsyncCommands};
use provis::queue::rq::codec;
use provis::queue::{
    diag, ClaimOutcome, Completion, Disposition, Envelope, Hooks, QueueBackend, RedisBackend, Registry, TaskError,
    TaskSpec, Worker, WorkerOptions,
};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_string())
}

fn provis_bin() -> PathBuf {
    std::env::var_os("PROVIS_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_provis")))
}

fn venv() -> PathBuf {
    std::env::var_os("PROVIS_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/provis-ci/venv"))
}

/// A unique key prefix; its keys are deleted on drop (also when the test fails).
struct Prefix(String);

impl Prefix {
    fn new() -> Self {
        Prefix(format!("provis-test-{}", Uuid::new_v4().simple()))
    }
}

impl Drop for Prefix {
    fn drop(&mut self) {
        let pattern = format!("{}:*", self.0);
        let url = redis_url();
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                return;
            };
            rt.block_on(async move {
                let Ok(client) = redis::Client::open(url) else { return };
                let Ok(mut c) = client.get_multiplexed_async_connection().await else { return };
                let keys: Vec<String> = redis::cmd("KEYS").arg(&pattern).query_async(&mut c).await.unwrap_or_default();
                for chunk in keys.chunks(500) {
                    let _: Result<(), _> = redis::cmd("DEL").arg(chunk).query_async(&mut c).await;
                }
            });
        })
        .join();
    }
}

/// A worker process, killed on drop.
struct Proc {
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    fn signal(&self, sig: i32) {
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.pid(), sig);
        }
    }

    /// Waits for exit; panics (with the worker's log) when it takes longer than `limit`.
    fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let t0 = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                return st;
            }
            if t0.elapsed() > limit {
                panic!("worker did not exit within {limit:?}; log:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `provis work` with the diagnostic tasks on `prefix`.
fn spawn_worker(prefix: &Prefix, dir: &Path, name: &str, queues: &str, lease_s: u64, extra: &[&str]) -> Proc {
    let log = dir.join(format!("{name}.log"));
    let out = std::fs::File::create(&log).expect("log file");
    let child = Command::new(provis_bin())
        .args(["work", "--queues", queues, "--name", name])
        .args(extra)
        .current_dir(dir)
        .env("REDIS_URL", redis_url())
        .env("RQ_KEY_PREFIX", &prefix.0)
        .env("PROVIS_DIAG_TASKS", "1")
        .env("WORKER_LEASE_S", lease_s.to_string())
        .env("RUST_LOG", "info")
        .env_remove("PROVIS_CONFIG")
        .stdout(Stdio::null())
        .stderr(out)
        .spawn()
        .expect("spawn provis work");
    Proc { child, log }
}

async fn backend(prefix: &Prefix) -> RedisBackend {
    RedisBackend::connect(&redis_url(), &prefix.0).await.expect("connect")
}

async fn raw() -> MultiplexedConnection {
    redis::Client::open(redis_url())
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("redis")
}

fn spec_on(spec: TaskSpec, queue: &'static str) -> TaskSpec {
    TaskSpec { queue, ..spec }
}

fn env_for(spec: &TaskSpec, payload: serde_json::Value) -> Envelope {
    Envelope::new(spec, Uuid::new_v4(), Some(Uuid::new_v4()), None, payload)
}

async fn wait_for<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let t0 = Instant::now();
    while !check().await {
        assert!(t0.elapsed() < limit, "timed out after {limit:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn hget(c: &mut MultiplexedConnection, key: &str, field: &str) -> Option<String> {
    c.hget(key, field).await.expect("hget")
}

/// Types of the entries of `rq:results:<id>`, oldest first.
async fn result_types(c: &mut MultiplexedConnection, key: &str) -> Vec<String> {
    let v: redis::Value = redis::cmd("XRANGE").arg(key).arg("-").arg("+").query_async(c).await.expect("xrange");
    let mut out = Vec::new();
    if let redis::Value::Array(entries) = v {
        for e in entries {
            if let redis::Value::Array(parts) = e {
                if let Some(redis::Value::Array(fields)) = parts.get(1) {
                    for pair in fields.chunks(2) {
                        if let [redis::Value::BulkString(k), redis::Value::BulkString(v)] = pair {
                            if k == b"type" {
                                out.push(String::from_utf8_lossy(v).into_owned());
                            }
                        }
                    }
                }
            }
        }
    }
    out
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_follow_priority_order_and_fifo() {
    let p = Prefix::new();
    let b = backend(&p).await;
    let mut expected = Vec::new();
    let mut by_queue: HashMap<&str, Vec<String>> = HashMap::new();
    // Enqueue the lowest priority first, so order of arrival cannot explain the result.
    for q in ["low", "normal", "high"] {
        for i in 0..3 {
            let env = env_for(&spec_on(diag::NOOP, q), serde_json::json!({ "i": i }));
            assert!(b.enqueue(&spec_on(diag::NOOP, q), &env).await.expect("enqueue"));
            by_queue.entry(q).or_default().push(env.id.clone());
        }
    }
    for q in ["high", "normal", "low"] {
        expected.extend(by_queue[q].iter().cloned());
    }
    let queues: Vec<String> = ["high", "normal", "low"].map(String::from).to_vec();
    let mut got = Vec::new();
    loop {
        match b.claim("prio-worker", &queues, Duration::from_secs(20)).await.expect("claim") {
            ClaimOutcome::Claimed(c) => {
                assert_eq!(c.env.attempt, 1);
                got.push(c.env.id.clone());
                assert_eq!(b.complete(&c, &Completion::Done).await.expect("done"), Disposition::Done);
            }
            ClaimOutcome::Empty => break,
            ClaimOutcome::Suspended => panic!("not suspended"),
        }
    }
    assert_eq!(got, expected, "high before normal before low, FIFO within a queue");
    let mut c = raw().await;
    let finished: u64 = c.zcard(format!("{}:finished:high", p.0)).await.expect("zcard");
    assert_eq!(finished, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enqueue_is_idempotent_and_suspension_is_respected() {
    let p = Prefix::new();
    let b = backend(&p).await;
    let mut c = raw().await;
    let spec = spec_on(diag::NOOP, "normal");
    let env = env_for(&spec, serde_json::json!({}));
    assert!(b.enqueue(&spec, &env).await.expect("first"));
    assert!(!b.enqueue(&spec, &env).await.expect("second"), "queued id must not be enqueued twice");
    assert_eq!(b.queue_len("normal").await.expect("llen"), 1);
    let members: HashSet<String> = c.smembers(format!("{}:queues", p.0)).await.expect("smembers");
    assert!(members.contains(&format!("{}:queue:normal", p.0)));
    // The job hash is RQ's, with JSON data.
    let data = hget(&mut c, &format!("{}:job:{}", p.0, env.id), "data").await.expect("data");
    let v: serde_json::Value = serde_json::from_str(&data).expect("json data");
    assert_eq!(v[0], "provis.diag_noop");
    assert_eq!(hget(&mut c, &format!("{}:job:{}", p.0, env.id), "status").await.as_deref(), Some("queued"));

    let _: () = c.set(format!("{}:suspended", p.0), 1).await.expect("suspend");
    let queues = vec!["normal".to_string()];
    let r = b.claim("susp-worker", &queues, Duration::from_secs(5)).await.expect("claim");
    assert!(matches!(r, ClaimOutcome::Suspended), "{r:?}");
    let _: () = c.del(format!("{}:suspended", p.0)).await.expect("resume");
    let ClaimOutcome::Claimed(claim) = b.claim("susp-worker", &queues, Duration::from_secs(5)).await.expect("claim") else {
        panic!("expected a claim after resume");
    };
    assert!(!b.enqueue(&spec, &env).await.expect("while running"), "running id must not be enqueued again");
    b.complete(&claim, &Completion::Done).await.expect("done");
    assert!(b.enqueue(&spec, &env).await.expect("after finish"), "a finished id may run again");
    assert_eq!(b.queue_len("normal").await.expect("llen"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_concurrent_claimers_never_get_the_same_task() {
    let p = Prefix::new();
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
    for name in ["claimer-a", "claimer-b"] {
        // Separate connections, like two processes.
        let b = backend(&p).await;
        let queues = queues.clone();
        handles.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            while let ClaimOutcome::Claimed(c) = b.claim(name, &queues, Duration::from_secs(60)).await.expect("claim") {
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
    let wip: u64 = c.zcard(format!("{}:wip:normal", p.0)).await.expect("zcard");
    assert_eq!(wip, 2000, "every claim is in the started registry");
    let inter: u64 = c.llen(format!("{}:queue:normal:intermediate", p.0)).await.expect("llen");
    assert_eq!(inter, 0, "nothing left between pop and start");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_tasks_two_worker_processes_exactly_once() {
    let p = Prefix::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let b = backend(&p).await;
    let mut c = raw().await;
    let mut w1 = spawn_worker(&p, dir.path(), "many-a", "normal", 20, &[]);
    let mut w2 = spawn_worker(&p, dir.path(), "many-b", "normal", 20, &[]);
    let workers_key = format!("{}:workers", p.0);
    wait_for("both workers registered", Duration::from_secs(30), || {
        let mut c = c.clone();
        let k = workers_key.clone();
        async move {
            let n: u64 = c.scard(&k).await.unwrap_or(0);
            n == 2
        }
    })
    .await;
    let file = dir.path().join("side-effects.txt");
    let spec = diag::APPEND;
    for i in 0..1000 {
        let env = env_for(&spec, serde_json::json!({ "file": file, "line": format!("line-{i}") }));
        assert!(b.enqueue(&spec, &env).await.expect("enqueue"));
    }
    let finished_key = format!("{}:finished:normal", p.0);
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
    assert!(w1.wait_exit(Duration::from_secs(20)).success(), "{}", w1.log_text());
    assert!(w2.wait_exit(Duration::from_secs(20)).success(), "{}", w2.log_text());

    let got = lines(&file);
    assert_eq!(got.len(), 1000, "every task ran exactly once");
    let distinct: HashSet<&String> = got.iter().collect();
    assert_eq!(distinct.len(), 1000, "no task ran twice");
    for i in 0..1000 {
        assert!(distinct.contains(&format!("line-{i}")), "line-{i} missing");
    }
    let failed: u64 = c.zcard(format!("{}:failed:normal", p.0)).await.expect("zcard");
    assert_eq!(failed, 0);
    let mut per_worker = Vec::new();
    for name in ["many-a", "many-b"] {
        let n: u64 = hget(&mut c, &format!("{}:worker:{name}", p.0), "successful_job_count")
            .await
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        per_worker.push(n);
    }
    assert_eq!(per_worker.iter().sum::<u64>(), 1000, "{per_worker:?}");
    assert!(per_worker.iter().all(|&n| n > 0), "both processes worked: {per_worker:?}");
    let left: u64 = c.scard(&workers_key).await.expect("scard");
    assert_eq!(left, 0, "both workers deregistered on SIGTERM");
}

/// Records hook calls: (kind, task id, attempt, error message).
#[derive(Default)]
struct Recorder(Mutex<Vec<(String, String, u32, String)>>);

#[async_trait::async_trait]
impl Hooks<()> for Recorder {
    async fn on_started(&self, _: &(), env: &Envelope) -> Result<(), TaskError> {
        self.push("started", env, "");
        Ok(())
    }
    async fn on_done(&self, _: &(), env: &Envelope) -> Result<(), TaskError> {
        self.push("done", env, "");
        Ok(())
    }
    async fn on_retry(&self, _: &(), env: &Envelope, err: &TaskError, _: DateTime<Utc>) -> Result<(), TaskError> {
        self.push("retry", env, err.message());
        Ok(())
    }
    async fn on_failed(&self, _: &(), env: &Envelope, err: &TaskError) -> Result<(), TaskError> {
        self.push("failed", env, err.message());
        Ok(())
    }
}

impl Recorder {
    fn push(&self, kind: &str, env: &Envelope, msg: &str) {
        self.0.lock().expect("lock").push((kind.into(), env.id.clone(), env.attempt, msg.into()));
    }
    fn of(&self, id: &str) -> Vec<(String, u32)> {
        self.0
            .lock()
            .expect("lock")
            .iter()
            .filter(|r| r.1 == id)
            .map(|r| (r.0.clone(), r.2))
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_use_the_scheduled_registry_then_finish_or_fail() {
    let p = Prefix::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let b = backend(&p).await;
    let mut c = raw().await;
    let file = dir.path().join("fail.txt");
    let recover = env_for(&diag::FAIL, serde_json::json!({ "times": 1, "file": file }));
    let exhaust = env_for(&diag::FAIL, serde_json::json!({ "times": 10 }));
    let panics = env_for(&diag::PANIC, serde_json::json!({ "times": 1 }));
    let unknown_spec = TaskSpec { name: "no_such_task", queue: "normal", max_attempts: 3, backoff_s: &[] };
    let unknown = env_for(&unknown_spec, serde_json::json!({}));
    for (spec, env) in [(&diag::FAIL, &recover), (&diag::FAIL, &exhaust), (&diag::PANIC, &panics), (&unknown_spec, &unknown)] {
        assert!(b.enqueue(spec, env).await.expect("enqueue"));
    }
    let mut reg: Registry<()> = Registry::new();
    diag::register(&mut reg).expect("register");
    let hooks = Arc::new(Recorder::default());
    let mut opts = WorkerOptions::new(format!("retry-{}", &p.0[12..20]), vec!["normal".to_string()]);
    opts.burst = true;
    let worker = Worker::new(QueueBackend::Redis(b.clone()), reg, (), opts).with_hooks(hooks.clone());
    let run = tokio::spawn(worker.run(CancellationToken::new()));

    // The first failure parks the job in rq:scheduled:normal, due about one backoff later.
    let sched_key = format!("{}:scheduled:normal", p.0);
    let job_key = format!("{}:job:{}", p.0, recover.id);
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
    assert!(due > now - 1.0 && due < now + 1.5, "due {due} vs now {now}: backoff of 1 s");
    assert_eq!(hget(&mut c, &job_key, "status").await.as_deref(), Some("scheduled"));
    assert_eq!(hget(&mut c, &job_key, "retries_left").await.as_deref(), Some("1"));

    let stats = tokio::time::timeout(Duration::from_secs(60), run).await.expect("burst ends").expect("join").expect("run");
    assert_eq!(stats.done, 2, "{stats:?}");
    assert_eq!(stats.failed, 2, "{stats:?}");

    // Recovered after one retry: finished, side effect written by attempt 2 only.
    assert_eq!(hget(&mut c, &job_key, "status").await.as_deref(), Some("finished"));
    assert_eq!(lines(&file), vec![format!("{} 2", recover.id)]);
    assert_eq!(result_types(&mut c, &format!("{}:results:{}", p.0, recover.id)).await, vec!["4", "1"]);
    assert_eq!(hooks.of(&recover.id), vec![("started".into(), 1), ("retry".into(), 1), ("started".into(), 2), ("done".into(), 2)]);

    // Retries exhausted: failed registry, exc_info readable, failure result last.
    let failed: HashSet<String> = c.zrange(format!("{}:failed:normal", p.0), 0, -1).await.expect("zrange");
    assert!(failed.contains(&exhaust.id) && failed.contains(&unknown.id), "{failed:?}");
    let ex_key = format!("{}:job:{}", p.0, exhaust.id);
    assert_eq!(hget(&mut c, &ex_key, "status").await.as_deref(), Some("failed"));
    let exc: Vec<u8> = c.hget(&ex_key, "exc_info").await.expect("exc_info");
    let exc = String::from_utf8(codec::maybe_inflate(&exc)).expect("utf8");
    assert!(exc.contains("attempt 3"), "{exc}");
    assert_eq!(result_types(&mut c, &format!("{}:results:{}", p.0, exhaust.id)).await, vec!["4", "4", "2"]);
    let calls = hooks.of(&exhaust.id);
    assert_eq!(calls.iter().filter(|c| c.0 == "retry").count(), 2, "{calls:?}");
    assert_eq!(calls.last(), Some(&("failed".to_string(), 3)));

    // A panic is a retry; attempt 2 succeeds.
    assert_eq!(hget(&mut c, &format!("{}:job:{}", p.0, panics.id), "status").await.as_deref(), Some("finished"));
    let pc = hooks.0.lock().expect("lock").iter().filter(|r| r.1 == panics.id && r.0 == "retry").map(|r| r.3.clone()).collect::<Vec<_>>();
    assert!(pc.len() == 1 && pc[0].contains("panic"), "{pc:?}");

    // An unknown task name fails at once, with the hook told.
    assert_eq!(hooks.of(&unknown.id), vec![("failed".into(), 1)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_returns_entries_stuck_between_pop_and_start() {
    let p = Prefix::new();
    let b = backend(&p).await;
    let mut c = raw().await;
    let spec = spec_on(diag::NOOP, "normal");
    let env = env_for(&spec, serde_json::json!({}));
    b.enqueue(&spec, &env).await.expect("enqueue");
    // A worker popped it and died before starting it.
    let q = format!("{}:queue:normal", p.0);
    let inter = format!("{}:queue:normal:intermediate", p.0);
    let _: Option<String> = redis::cmd("LMOVE").arg(&q).arg(&inter).arg("LEFT").arg("RIGHT").query_async(&mut c).await.expect("lmove");
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
    let ClaimOutcome::Claimed(claim) = b.claim("sweeper", &queues, Duration::from_secs(5)).await.expect("claim") else {
        panic!("requeued task claimable");
    };
    assert_eq!(claim.env.attempt, 1, "a pop without start spends no attempt");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_task_another_worker_finishes_it() {
    let p = Prefix::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let b = backend(&p).await;
    let mut c = raw().await;
    let lease_s = 2;
    let mut a = spawn_worker(&p, dir.path(), "victim", "normal", lease_s, &[]);
    let file = dir.path().join("sleep.txt");
    let env = env_for(&diag::SLEEP, serde_json::json!({ "ms": 3000, "file": file }));
    b.enqueue(&diag::SLEEP, &env).await.expect("enqueue");
    let job_key = format!("{}:job:{}", p.0, env.id);
    wait_for("victim started the task", Duration::from_secs(30), || {
        let mut c = c.clone();
        let k = job_key.clone();
        async move { hget(&mut c, &k, "status").await.as_deref() == Some("started") }
    })
    .await;
    assert_eq!(hget(&mut c, &job_key, "worker_name").await.as_deref(), Some("victim"));
    a.signal(libc::SIGKILL);
    a.wait_exit(Duration::from_secs(5));
    let killed_at = Instant::now();
    let _b = spawn_worker(&p, dir.path(), "rescuer", "normal", lease_s, &[]);
    // Lease + the task's own 3 s + a generous margin for a loaded machine.
    let limit = Duration::from_secs(lease_s + 3 + 15);
    wait_for("rescuer finished the task", limit, || {
        let mut c = c.clone();
        let k = job_key.clone();
        async move { hget(&mut c, &k, "status").await.as_deref() == Some("finished") }
    })
    .await;
    assert!(killed_at.elapsed() < limit);
    assert_eq!(hget(&mut c, &job_key, "worker_name").await.as_deref(), Some("rescuer"));
    assert_eq!(lines(&file), vec![format!("{} 2", env.id)], "the killed run wrote nothing; the rescue is attempt 2");
    assert_eq!(result_types(&mut c, &format!("{}:results:{}", p.0, env.id)).await, vec!["4", "1"]);
    let wip: u64 = c.zcard(format!("{}:wip:normal", p.0)).await.expect("zcard");
    assert_eq!(wip, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_running_task_or_hands_it_back() {
    let p = Prefix::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let b = backend(&p).await;
    let mut c = raw().await;
    let workers_key = format!("{}:workers", p.0);

    // Short task, long grace: finished before exit.
    let mut w = spawn_worker(&p, dir.path(), "term-finish", "normal", 20, &["--shutdown-grace", "20"]);
    let env = env_for(&diag::SLEEP, serde_json::json!({ "ms": 1500 }));
    b.enqueue(&diag::SLEEP, &env).await.expect("enqueue");
    let job_key = format!("{}:job:{}", p.0, env.id);
    wait_for("task started", Duration::from_secs(30), || {
        let mut c = c.clone();
        let k = job_key.clone();
        async move { hget(&mut c, &k, "status").await.as_deref() == Some("started") }
    })
    .await;
    w.signal(libc::SIGTERM);
    assert!(w.wait_exit(Duration::from_secs(20)).success(), "{}", w.log_text());
    assert_eq!(hget(&mut c, &job_key, "status").await.as_deref(), Some("finished"));
    let wk = format!("{}:worker:term-finish", p.0);
    assert!(hget(&mut c, &wk, "death").await.is_some(), "death recorded");
    let members: HashSet<String> = c.smembers(&workers_key).await.expect("smembers");
    assert!(!members.contains(&wk));

    // Long task, short grace: handed back to the head of its queue, no attempt spent.
    let mut w = spawn_worker(&p, dir.path(), "term-handback", "normal", 20, &["--shutdown-grace", "1"]);
    let env = env_for(&diag::SLEEP, serde_json::json!({ "ms": 60000 }));
    b.enqueue(&diag::SLEEP, &env).await.expect("enqueue");
    let job_key = format!("{}:job:{}", p.0, env.id);
    wait_for("task started", Duration::from_secs(30), || {
        let mut c = c.clone();
        let k = job_key.clone();
        async move { hget(&mut c, &k, "status").await.as_deref() == Some("started") }
    })
    .await;
    w.signal(libc::SIGTERM);
    assert!(w.wait_exit(Duration::from_secs(20)).success(), "{}", w.log_text());
    assert_eq!(hget(&mut c, &job_key, "status").await.as_deref(), Some("queued"));
    let head: Option<String> = c.lindex(format!("{}:queue:normal", p.0), 0).await.expect("lindex");
    assert_eq!(head.as_deref(), Some(env.id.as_str()));
    let wip: u64 = c.zcard(format!("{}:wip:normal", p.0)).await.expect("zcard");
    assert_eq!(wip, 0);
    assert_eq!(hget(&mut c, &job_key, "retries_left").await.as_deref(), Some("2"), "hand-back spends no attempt");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burst_worker_exits_when_the_queues_are_empty() {
    let p = Prefix::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let b = backend(&p).await;
    let mut c = raw().await;
    let file = dir.path().join("burst.txt");
    for q in ["high", "low"] {
        for i in 0..5 {
            let spec = spec_on(diag::APPEND, q);
            let env = env_for(&spec, serde_json::json!({ "file": file, "line": format!("{q}-{i}") }));
            b.enqueue(&spec, &env).await.expect("enqueue");
        }
    }
    let mut w = spawn_worker(&p, dir.path(), "burster", "high,normal,low", 20, &["--burst"]);
    let st = w.wait_exit(Duration::from_secs(60));
    assert!(st.success(), "{}", w.log_text());
    let got = lines(&file);
    let expected: Vec<String> = ["high", "low"].iter().flat_map(|q| (0..5).map(move |i| format!("{q}-{i}"))).collect();
    assert_eq!(got, expected, "all done, high first");
    for q in ["high", "low"] {
        let n: u64 = c.zcard(format!("{}:finished:{q}", p.0)).await.expect("zcard");
        assert_eq!(n, 5);
        assert_eq!(b.queue_len(q).await.expect("llen"), 0);
    }
    let n: u64 = c.scard(format!("{}:workers", p.0)).await.expect("scard");
    assert_eq!(n, 0, "deregistered");
}

/// Runs the real `rq info --raw` on our prefix and returns its lines.
fn rq_info(prefix: &Prefix) -> Vec<String> {
    let rq = venv().join("bin/rq");
    assert!(rq.exists(), "Python RQ CLI not found at {} (set PROVIS_TEST_VENV)", rq.display());
    let out = Command::new(&rq)
        .args(["info", "--raw", "--url", &redis_url()])
        .env("RQ_KEY_PREFIX", &prefix.0)
        .output()
        .expect("run rq info");
    assert!(out.status.success(), "rq info failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect()
}

/// `queue <name> <count>, <n> executing, <n> finished, <n> failed` → the four numbers.
fn queue_row(lines: &[String], name: &str) -> [u64; 4] {
    let head = format!("queue {name} ");
    let line = lines.iter().find(|l| l.starts_with(&head)).unwrap_or_else(|| panic!("no row for {name} in {lines:?}"));
    let nums: Vec<u64> = line[head.len()..]
        .split(',')
        .map(|part| part.split_whitespace().next().and_then(|n| n.parse().ok()).expect("number"))
        .collect();
    [nums[0], nums[1], nums[2], nums[3]]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rq_info_shows_provis_queues_and_busy_worker_without_failing_it() {
    let p = Prefix::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let b = backend(&p).await;
    let mut c = raw().await;
    let name = format!("rqinfo-{}", &p.0[12..20]);
    // A 2 s lease: the running task outlives it, so only heartbeats keep rq info from failing it.
    let w = spawn_worker(&p, dir.path(), &name, "high,normal", 2, &[]);
    let finished_key = format!("{}:finished:normal", p.0);
    let failed_key = format!("{}:failed:normal", p.0);
    for _ in 0..3 {
        b.enqueue(&diag::NOOP, &env_for(&diag::NOOP, serde_json::json!({}))).await.expect("enqueue");
    }
    // A job enqueued by Python RQ (JSONSerializer, zlib data) runs on provis too.
    let py = venv().join("bin/python");
    let script = "import sys; from redis import Redis; from rq import Queue; from rq.serializers import JSONSerializer; \
                  q = Queue('normal', connection=Redis.from_url(sys.argv[1]), serializer=JSONSerializer); print(q.enqueue('provis.diag_noop').id)";
    let out = Command::new(&py).args(["-c", script, &redis_url()]).env("RQ_KEY_PREFIX", &p.0).output().expect("python");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let fatal = env_for(&diag::FAIL, serde_json::json!({ "times": 99, "fatal": true }));
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
        b.enqueue(&spec, &env_for(&spec, serde_json::json!({}))).await.expect("enqueue");
    }
    let spec = spec_on(diag::SLEEP, "high");
    let long = env_for(&spec, serde_json::json!({ "ms": 6000 }));
    b.enqueue(&spec, &long).await.expect("enqueue");
    let job_key = format!("{}:job:{}", p.0, long.id);
    wait_for("long task started", Duration::from_secs(30), || {
        let mut c = c.clone();
        let k = job_key.clone();
        async move { hget(&mut c, &k, "status").await.as_deref() == Some("started") }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;

    let out = rq_info(&p);
    assert_eq!(queue_row(&out, "high"), [0, 1, 0, 0], "{out:?}");
    assert_eq!(queue_row(&out, "normal"), [0, 0, 4, 1], "{out:?}");
    assert_eq!(queue_row(&out, "low"), [2, 0, 0, 0], "{out:?}");
    let wline = out.iter().find(|l| l.starts_with(&format!("worker {name} "))).unwrap_or_else(|| panic!("worker missing: {out:?}"));
    assert!(wline.contains(" busy high, normal. "), "{wline}");
    assert!(wline.ends_with("jobs: 4 finished, 1 failed"), "{wline}");
    assert!(wline.contains(&format!(" {}) busy", w.pid())), "pid of the worker process: {wline}");

    // rq info cleaned registries before printing; the in-flight task must still be ours.
    assert_eq!(hget(&mut c, &job_key, "status").await.as_deref(), Some("started"));
    wait_for("long task finished", Duration::from_secs(30), || {
        let mut c = c.clone();
        let k = job_key.clone();
        async move { hget(&mut c, &k, "status").await.as_deref() == Some("finished") }
    })
    .await;
    assert_eq!(result_types(&mut c, &format!("{}:results:{}", p.0, long.id)).await, vec!["1"]);

    // Python reads provis's result through RQ's own API.
    let check = "import sys; from redis import Redis; from rq.job import Job; from rq.serializers import JSONSerializer; \
                 j = Job.fetch(sys.argv[2], connection=Redis.from_url(sys.argv[1]), serializer=JSONSerializer); \
                 print(j.get_status().value, j.func_name, j.latest_result().type.name)";
    let out = Command::new(&py).args(["-c", check, &redis_url(), &long.id]).env("RQ_KEY_PREFIX", &p.0).output().expect("python");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "finished provis.diag_sleep SUCCESSFUL");
    let out = rq_info(&p);
    assert_eq!(queue_row(&out, "high"), [0, 0, 1, 0], "{out:?}");
}
