//! Helpers shared by the Redis queue tests: key prefixes cleaned on drop, worker processes
//! killed on drop, connections, and small Redis readers.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::common::provis;
pub use crate::common::{redis_url, Proc, RedisPrefix};

use chrono::{DateTime, Utc};
use deadpool_redis::redis::{self, aio::MultiplexedConnection, AsyncCommands};
use provis::queue::{Envelope, Hooks, RedisBackend, TaskError, TaskSpec};
use uuid::Uuid;

pub fn venv() -> PathBuf {
    std::env::var_os("PROVIS_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/provis-ci/venv"))
}

/// The queue tests' key prefix: `provis-test-<random>`, its keys deleted on drop.
pub type Prefix = RedisPrefix;

/// A fresh [`Prefix`].
pub fn prefix() -> Prefix {
    RedisPrefix::new("test")
}

/// Starts `provis work` with the diagnostic tasks on `prefix`.
pub fn spawn_worker(
    prefix: &Prefix,
    dir: &Path,
    name: &str,
    queues: &str,
    lease_s: u64,
    extra: &[&str],
) -> Proc {
    let mut cmd = provis(dir);
    cmd.args(["work", "--queues", queues, "--name", name])
        .args(extra)
        .env("REDIS_URL", redis_url())
        .env("RQ_KEY_PREFIX", &prefix.name)
        .env("PROVIS_DIAG_TASKS", "1")
        .env("WORKER_LEASE_S", lease_s.to_string())
        .env("RUST_LOG", "info");
    Proc::spawn(
        cmd,
        &format!("worker {name}"),
        dir.join(format!("{name}.log")),
    )
}

/// [`spawn_worker`], then waits until the worker registered itself (panics with its log when
/// it exits or does not register in time).
pub async fn spawn_ready(
    prefix: &Prefix,
    dir: &Path,
    name: &str,
    queues: &str,
    lease_s: u64,
    extra: &[&str],
) -> Proc {
    let mut proc = spawn_worker(prefix, dir, name, queues, lease_s, extra);
    let key = format!("{}:worker:{name}", prefix.name);
    let mut c = raw().await;
    let t0 = Instant::now();
    loop {
        let state: Option<String> = c.hget(&key, "state").await.expect("hget");
        if state.is_some_and(|s| s != "dead") {
            return proc;
        }
        if let Some(st) = proc.exited() {
            panic!(
                "worker {name} exited ({st}) before registering; log:\n{}",
                proc.log_text()
            );
        }
        if t0.elapsed() > Duration::from_secs(60) {
            panic!("worker {name} did not register; log:\n{}", proc.log_text());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

pub async fn backend(prefix: &Prefix) -> RedisBackend {
    RedisBackend::connect(&redis_url(), &prefix.name)
        .await
        .expect("connect")
}

pub async fn raw() -> MultiplexedConnection {
    redis::Client::open(redis_url())
        .expect("url")
        .get_multiplexed_async_connection()
        .await
        .expect("redis")
}

pub fn spec_on(spec: TaskSpec, queue: &'static str) -> TaskSpec {
    TaskSpec { queue, ..spec }
}

pub fn env_for(spec: &TaskSpec, payload: serde_json::Value) -> Envelope {
    Envelope::new(spec, Uuid::new_v4(), Some(Uuid::new_v4()), None, payload)
}

pub async fn wait_for<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let t0 = Instant::now();
    while !check().await {
        assert!(
            t0.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn hget(c: &mut MultiplexedConnection, key: &str, field: &str) -> Option<String> {
    c.hget(key, field).await.expect("hget")
}

/// Types of the entries of `rq:results:<id>`, oldest first.
pub async fn result_types(c: &mut MultiplexedConnection, key: &str) -> Vec<String> {
    let v: redis::Value = redis::cmd("XRANGE")
        .arg(key)
        .arg("-")
        .arg("+")
        .query_async(c)
        .await
        .expect("xrange");
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

pub fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Records hook calls: (kind, task id, attempt, error message).
#[derive(Default)]
pub struct Recorder(pub Mutex<Vec<(String, String, u32, String)>>);

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
    async fn on_retry(
        &self,
        _: &(),
        env: &Envelope,
        err: &TaskError,
        _: DateTime<Utc>,
    ) -> Result<(), TaskError> {
        self.push("retry", env, err.message());
        Ok(())
    }
    async fn on_failed(&self, _: &(), env: &Envelope, err: &TaskError) -> Result<(), TaskError> {
        self.push("failed", env, err.message());
        Ok(())
    }
}

impl Recorder {
    pub fn push(&self, kind: &str, env: &Envelope, msg: &str) {
        self.0
            .lock()
            .expect("lock")
            .push((kind.into(), env.id.clone(), env.attempt, msg.into()));
    }
    pub fn of(&self, id: &str) -> Vec<(String, u32)> {
        self.0
            .lock()
            .expect("lock")
            .iter()
            .filter(|r| r.1 == id)
            .map(|r| (r.0.clone(), r.2))
            .collect()
    }
}
