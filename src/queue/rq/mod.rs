//! The Redis backend in Python RQ 3.x's key layout (docs/operations.md#queues-and-keys), JSON job
//! data only.
//!
//! Every job transition is one Lua script (see [`scripts`]): claim (`LMOVE` in priority order
//! into `rq:queue:<q>:intermediate`, then start: status, `rq:wip:<q>` entry scored with the
//! lease expiry, worker busy), finish, retry through `rq:scheduled:<q>`, fail, hand back, and
//! the recovery sweep. Non-blocking commands share one multiplexed connection; each blocking
//! consumer (`BLMOVE`) gets its own connection without redis-rs's 500 ms response timeout.
//!
//! Python components that touch these keys must use RQ's `JSONSerializer`; provis never
//! writes pickle and rejects pickled jobs with a clear error.

pub mod codec;
pub mod scripts;
mod state;
mod sweep;
mod workers;

pub use sweep::{Recovered, RecoveredOutcome};

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_redis::redis::{
    self, aio::MultiplexedConnection, AsyncConnectionConfig, Client, Value,
};
use uuid::Uuid;

use super::keys::Keys;
use super::task::{Envelope, TaskSpec};
use super::{Claim, Completion, Disposition, QueueError};
use codec::{FAILURE_TTL_S, RESULT_TTL_S};

/// Default bound on connecting and on one command's answer (`redis_timeout_s` sets it).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Most entries one promote/recover script handles per queue and call.
const SWEEP_LIMIT: u32 = 500;
/// Worker hash TTL after death (RQ's value).
const DEAD_WORKER_TTL_S: u64 = 60;
/// A worker hash without a heartbeat for this long belongs to a dead process (live provis
/// workers beat at least every 5 s), so its name may be reused.
const STALE_WORKER: Duration = Duration::from_secs(30);

/// Result of one claim attempt.
#[derive(Debug)]
pub enum ClaimOutcome {
    /// A job was started for this worker.
    Claimed(Box<Claim>),
    /// Every queue was empty.
    Empty,
    /// `rq:suspended` is set; start nothing.
    Suspended,
}

/// A dedicated connection for blocking pops (one per consumer).
#[derive(Default)]
pub struct BlockingConn(Option<MultiplexedConnection>);

impl fmt::Debug for BlockingConn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingConn")
            .field("connected", &self.0.is_some())
            .finish()
    }
}

/// A Lua script and its SHA1 once Redis has told it (`SCRIPT LOAD`, on first use when the
/// backend was built without a connection).
struct Script {
    body: String,
    sha: std::sync::OnceLock<String>,
}

impl Script {
    fn new(body: String) -> Self {
        Self {
            body,
            sha: std::sync::OnceLock::new(),
        }
    }
}

struct Scripts {
    enqueue: Script,
    claim: Script,
    start: Script,
    done: Script,
    done_claim: Script,
    settle: Script,
    hand_back: Script,
    promote: Script,
    recover: Script,
    heartbeat: Script,
    clean_workers: Script,
}

impl Scripts {
    fn all(&self) -> [&Script; 11] {
        [
            &self.enqueue,
            &self.claim,
            &self.start,
            &self.done,
            &self.done_claim,
            &self.settle,
            &self.hand_back,
            &self.promote,
            &self.recover,
            &self.heartbeat,
            &self.clean_workers,
        ]
    }
}

struct Inner {
    client: Client,
    /// Bound on connecting and on one answer (a blocking pop: its own wait plus this).
    timeout: Duration,
    keys: Keys,
    conn: Mutex<Option<MultiplexedConnection>>,
    scripts: Scripts,
}

/// Redis queue backend (RQ layout). Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct RedisBackend {
    inner: Arc<Inner>,
}

impl fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisBackend")
            .field("prefix", &self.inner.keys.prefix())
            .finish()
    }
}

/// Script arguments: text and binary values in order.
#[derive(Default)]
struct Args(Vec<Vec<u8>>);

impl Args {
    fn s(mut self, v: impl fmt::Display) -> Self {
        self.0.push(v.to_string().into_bytes());
        self
    }
    fn b(mut self, v: &[u8]) -> Self {
        self.0.push(v.to_vec());
        self
    }
}

fn score(t: DateTime<Utc>) -> String {
    format!("{:.6}", codec::unix(t))
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::SimpleString(s) => Some(s.clone()),
        Value::Int(i) => Some(i.to_string()),
        Value::Okay => Some("OK".to_string()),
        _ => None,
    }
}

fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        other => text(other).and_then(|s| s.parse().ok()),
    }
}

fn fields(v: &Value) -> HashMap<String, Vec<u8>> {
    let mut out = HashMap::new();
    if let Value::Array(items) = v {
        for pair in items.chunks(2) {
            if let [Value::BulkString(k), Value::BulkString(val)] = pair {
                out.insert(String::from_utf8_lossy(k).into_owned(), val.clone());
            }
        }
    }
    out
}

/// Whether an error means the shared connection was broken before the command could run (a
/// Redis restart, a dropped socket): worth one retry on a fresh connection. Timeouts are
/// not: the command may have run.
fn broken(e: &QueueError) -> bool {
    match e {
        QueueError::Redis(e) => !e.is_timeout() && (e.is_connection_dropped() || e.is_io_error()),
        _ => false,
    }
}

/// Runs `call`, and once more when its connection was found broken (Redis restarted since it
/// was made): the broken connection is replaced by then, so a restart costs callers no error.
async fn once_more_if_broken<T, F, Fut>(call: F) -> Result<T, QueueError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, QueueError>>,
{
    match call().await {
        Err(e) if broken(&e) => call().await,
        r => r,
    }
}

impl RedisBackend {
    /// Connects to `url` (`redis://host:port[/db]`) with keys under `prefix` (RQ's default is
    /// `rq`), and loads the scripts. Fails when Redis does not answer (what `provis work`
    /// wants: a worker without its queue has nothing to do).
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, QueueError> {
        Self::connect_with(url, prefix, DEFAULT_TIMEOUT).await
    }

    /// Like [`RedisBackend::connect`], with the bound of [`RedisBackend::connect_lazy_with`].
    pub async fn connect_with(
        url: &str,
        prefix: &str,
        timeout: Duration,
    ) -> Result<Self, QueueError> {
        let backend = Self::connect_lazy_with(url, prefix, timeout)?;
        let mut conn = backend.conn().await?;
        for s in backend.inner.scripts.all() {
            backend.load(s, &mut conn).await?;
        }
        Ok(backend)
    }

    /// Like [`RedisBackend::connect`] but without talking to Redis: the URL and prefix are
    /// checked, the connection is made and the scripts are loaded on first use. The API and
    /// `all-in-one` use it so a Redis that is down at start-up shows in `/health` (503)
    /// instead of stopping the process.
    pub fn connect_lazy(url: &str, prefix: &str) -> Result<Self, QueueError> {
        Self::connect_lazy_with(url, prefix, DEFAULT_TIMEOUT)
    }

    /// Like [`RedisBackend::connect_lazy`], with `timeout` bounding every connect and every
    /// answer: a Redis that hangs (a partition that drops packets, a stalled server) fails the
    /// call instead of holding it, and a blocking pop is abandoned `timeout` after its own wait.
    pub fn connect_lazy_with(
        url: &str,
        prefix: &str,
        timeout: Duration,
    ) -> Result<Self, QueueError> {
        let keys = Keys::new(prefix).map_err(QueueError::InvalidPrefix)?;
        let client = Client::open(url)?;
        let s = |body: &str| Script::new(body.to_string());
        let scripts = Scripts {
            enqueue: s(scripts::ENQUEUE),
            claim: s(&scripts::claim()),
            start: s(&scripts::start()),
            done: s(&scripts::done()),
            done_claim: s(&scripts::done_claim()),
            settle: s(&scripts::settle()),
            hand_back: s(&scripts::hand_back()),
            promote: s(scripts::PROMOTE),
            recover: s(&scripts::recover()),
            heartbeat: s(scripts::HEARTBEAT),
            clean_workers: s(scripts::CLEAN_WORKERS),
        };
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                timeout,
                keys,
                conn: Mutex::new(None),
                scripts,
            }),
        })
    }

    /// The SHA1 of `s`, loading it into Redis (`SCRIPT LOAD`) the first time.
    async fn load(
        &self,
        s: &Script,
        conn: &mut MultiplexedConnection,
    ) -> Result<String, QueueError> {
        if let Some(sha) = s.sha.get() {
            return Ok(sha.clone());
        }
        let sha: String = redis::cmd("SCRIPT")
            .arg("LOAD")
            .arg(&s.body)
            .query_async(conn)
            .await
            .map_err(|e| {
                self.on_error(&e);
                QueueError::from(e)
            })?;
        Ok(s.sha.get_or_init(|| sha).clone())
    }

    /// The key names in use.
    pub fn keys(&self) -> &Keys {
        &self.inner.keys
    }

    async fn conn(&self) -> Result<MultiplexedConnection, QueueError> {
        if let Some(c) = self.lock_conn().clone() {
            return Ok(c);
        }
        let cfg = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.inner.timeout))
            .set_response_timeout(Some(self.inner.timeout));
        let c = self
            .inner
            .client
            .get_multiplexed_async_connection_with_config(&cfg)
            .await?;
        *self.lock_conn() = Some(c.clone());
        Ok(c)
    }

    fn lock_conn(&self) -> std::sync::MutexGuard<'_, Option<MultiplexedConnection>> {
        // A poisoned lock only means a panic elsewhere while holding a connection handle.
        self.inner
            .conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Forgets the shared connection after an I/O error so the next call reconnects.
    fn on_error(&self, e: &redis::RedisError) {
        if e.is_io_error()
            || e.is_connection_dropped()
            || e.is_unrecoverable_error()
            || e.is_timeout()
        {
            *self.lock_conn() = None;
        }
    }

    /// Forgets a broken shared connection (see [`Self::on_error`]) and converts the error.
    fn failed(&self, e: redis::RedisError) -> QueueError {
        self.on_error(&e);
        e.into()
    }

    async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> Result<T, QueueError> {
        once_more_if_broken(|| async {
            let mut conn = self.conn().await?;
            cmd.query_async(&mut conn).await.map_err(|e| self.failed(e))
        })
        .await
    }

    async fn pipe<T: redis::FromRedisValue>(&self, p: &redis::Pipeline) -> Result<T, QueueError> {
        once_more_if_broken(|| async {
            let mut conn = self.conn().await?;
            p.query_async(&mut conn).await.map_err(|e| self.failed(e))
        })
        .await
    }

    /// Runs a script (see [`once_more_if_broken`]).
    async fn eval(&self, s: &Script, keys: &[String], args: Args) -> Result<Value, QueueError> {
        once_more_if_broken(|| self.eval_once(s, keys, &args)).await
    }

    async fn eval_once(
        &self,
        s: &Script,
        keys: &[String],
        args: &Args,
    ) -> Result<Value, QueueError> {
        let build = |verb: &str, head: &str| {
            let mut c = redis::cmd(verb);
            c.arg(head).arg(keys.len());
            for k in keys {
                c.arg(k.as_str());
            }
            for a in &args.0 {
                c.arg(a.as_slice());
            }
            c
        };
        let mut conn = self.conn().await?;
        let sha = self.load(s, &mut conn).await?;
        match build("EVALSHA", &sha).query_async(&mut conn).await {
            Ok(v) => Ok(v),
            Err(e) if e.code() == Some("NOSCRIPT") => build("EVAL", &s.body)
                .query_async(&mut conn)
                .await
                .map_err(|e| self.failed(e)),
            Err(e) => Err(self.failed(e)),
        }
    }

    /// Enqueues `env` on `spec.queue` (job hash, `RPUSH`, `SADD rq:queues`, atomically).
    /// Returns false when a job with this id is still queued, scheduled or running.
    pub async fn enqueue(&self, spec: &TaskSpec, env: &Envelope) -> Result<bool, QueueError> {
        let k = &self.inner.keys;
        let q = spec.queue;
        let keys = [
            k.job(&env.id),
            k.queue(q),
            k.queues(),
            k.finished(q),
            k.failed(q),
            k.scheduled(q),
        ];
        let mut args = Args::default().s(&env.id).s(k.queue(q));
        for (field, value) in codec::encode_job(spec, env, Utc::now()) {
            args = args.s(field).b(&value);
        }
        let v = self.eval(&self.inner.scripts.enqueue, &keys, args).await?;
        Ok(int(&v) == Some(1))
    }

    fn claim_from(
        &self,
        v: &Value,
        worker: &str,
        now: DateTime<Utc>,
        exec: &str,
    ) -> Result<ClaimReply, QueueError> {
        let Value::Array(items) = v else {
            return Err(QueueError::Protocol(format!("claim returned {v:?}")));
        };
        match items.first().and_then(text).as_deref() {
            Some("empty") => Ok(ClaimReply::Empty),
            Some("suspended") => Ok(ClaimReply::Suspended),
            Some("claimed") if items.len() == 4 => {
                let queue = text(&items[1]).unwrap_or_default();
                let id = text(&items[2]).unwrap_or_default();
                let claim = |env| Claim {
                    env,
                    queue: queue.clone(),
                    execution_id: exec.to_string(),
                    worker: worker.to_string(),
                    started_at: now,
                };
                match codec::decode_job(&id, &fields(&items[3])) {
                    Ok(job) => Ok(ClaimReply::Claimed(claim(job.env))),
                    Err(reason) => {
                        let placeholder = Envelope {
                            id: id.clone(),
                            task_id: Uuid::nil(),
                            task: String::new(),
                            job_id: None,
                            batch_index: None,
                            attempt: 1,
                            payload: serde_json::Value::Null,
                            traceparent: None,
                            enqueued_at: now,
                        };
                        Ok(ClaimReply::Undecodable(claim(placeholder), reason))
                    }
                }
            }
            _ => Err(QueueError::Protocol(format!("claim returned {v:?}"))),
        }
    }

    /// Fails a job whose data cannot be read (pickle, garbage), so it does not block the queue.
    async fn reject(&self, claim: &Claim, reason: &str) -> Result<(), QueueError> {
        tracing::error!(job = %claim.env.id, queue = %claim.queue, error = %reason, "job data unreadable; failed");
        self.complete(
            claim,
            &Completion::Fail {
                error: super::TaskError::Fail(reason.to_string()),
            },
        )
        .await
        .map(|_| ())
    }

    /// Claims the first job of `queues` (priority order) for worker `worker`, leased for `lease`.
    pub async fn claim(
        &self,
        worker: &str,
        queues: &[String],
        lease: Duration,
    ) -> Result<ClaimOutcome, QueueError> {
        loop {
            let (keys, args, now, exec) = self.claim_parts(worker, queues, lease);
            let v = self.eval(&self.inner.scripts.claim, &keys, args).await?;
            match self.claim_from(&v, worker, now, &exec)? {
                ClaimReply::Claimed(c) => return Ok(ClaimOutcome::Claimed(Box::new(c))),
                ClaimReply::Empty => return Ok(ClaimOutcome::Empty),
                ClaimReply::Suspended => return Ok(ClaimOutcome::Suspended),
                ClaimReply::Undecodable(c, reason) => self.reject(&c, &reason).await?,
            }
        }
    }

    /// Keys and arguments of the claim script, with the start time and execution id used.
    fn claim_parts(
        &self,
        worker: &str,
        queues: &[String],
        lease: Duration,
    ) -> (Vec<String>, Args, DateTime<Utc>, String) {
        let k = &self.inner.keys;
        let now = Utc::now();
        let exec = Uuid::new_v4().simple().to_string();
        let mut args = Args::default()
            .s(k.job_prefix())
            .s(codec::rq_time(now))
            .s(score(now + lease))
            .s(&exec)
            .s(worker)
            .s(queues.len());
        for q in queues {
            args = args.s(q).s(k.queue(q)).s(k.intermediate(q)).s(k.wip(q));
        }
        (vec![k.suspended(), k.worker(worker)], args, now, exec)
    }

    /// Keys and arguments of the success script for `claim`.
    fn done_parts(&self, claim: &Claim) -> (Vec<String>, Args) {
        let k = &self.inner.keys;
        let (q, id) = (&claim.queue, &claim.env.id);
        let now = Utc::now();
        let working = (now - claim.started_at).num_microseconds().unwrap_or(0) as f64 / 1e6;
        let keys = vec![
            k.wip(q),
            k.job(id),
            k.finished(q),
            k.results(id),
            k.worker(&claim.worker),
        ];
        let args = Args::default()
            .s(claim.wip_member())
            .s(id)
            .s(codec::rq_time(now))
            .s(RESULT_TTL_S)
            .s(score(now + chrono::Duration::seconds(RESULT_TTL_S as i64)))
            .s(&claim.worker)
            .s(&claim.execution_id)
            .s(format!("{:.6}", codec::unix(claim.started_at)))
            .s(format!("{:.6}", codec::unix(now)))
            .s(codec::return_value_b64(&serde_json::Value::Null))
            .s(format!("{working:.6}"));
        (keys, args)
    }

    /// Records `done` as finished and claims the next job for `worker` in the same step (one
    /// round trip). The claim is `None` when the queues are empty or suspended; the caller then
    /// claims (or waits) as usual.
    pub async fn complete_and_claim(
        &self,
        done: &Claim,
        worker: &str,
        queues: &[String],
        lease: Duration,
    ) -> Result<(Disposition, Option<Claim>), QueueError> {
        let (mut keys, mut args) = self.done_parts(done);
        let (ckeys, cargs, now, exec) = self.claim_parts(worker, queues, lease);
        keys.extend(ckeys);
        args.0.extend(cargs.0);
        let v = self
            .eval(&self.inner.scripts.done_claim, &keys, args)
            .await?;
        let Value::Array(items) = &v else {
            return Err(QueueError::Protocol(format!("done_claim returned {v:?}")));
        };
        let [d, c] = items.as_slice() else {
            return Err(QueueError::Protocol(format!("done_claim returned {v:?}")));
        };
        let disposition = if int(d) == Some(1) {
            Disposition::Done
        } else {
            Disposition::Lost
        };
        let next = match self.claim_from(c, worker, now, &exec)? {
            ClaimReply::Claimed(c) => Some(c),
            ClaimReply::Undecodable(c, reason) => {
                self.reject(&c, &reason).await?;
                None
            }
            ClaimReply::Empty | ClaimReply::Suspended => None,
        };
        Ok((disposition, next))
    }

    /// Blocks up to `timeout` on the first of `queues` (`BLMOVE` into its intermediate list, on
    /// the caller's dedicated connection), then starts what it got.
    pub async fn wait_claim(
        &self,
        blocking: &mut BlockingConn,
        worker: &str,
        queues: &[String],
        lease: Duration,
        timeout: Duration,
    ) -> Result<Option<Claim>, QueueError> {
        let Some(q) = queues.first() else {
            return Ok(None);
        };
        let k = &self.inner.keys;
        let mut conn = match blocking.0.take() {
            Some(c) => c,
            None => {
                let cfg = AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(self.inner.timeout))
                    .set_response_timeout(None);
                self.inner
                    .client
                    .get_multiplexed_async_connection_with_config(&cfg)
                    .await?
            }
        };
        let mut blmove = redis::cmd("BLMOVE");
        blmove
            .arg(k.queue(q))
            .arg(k.intermediate(q))
            .arg("LEFT")
            .arg("RIGHT")
            .arg(timeout.as_secs_f64());
        let pop = blmove.query_async::<Option<String>>(&mut conn);
        // The connection has no response timeout (the pop blocks by design); a Redis that
        // does not answer within the pop's own wait plus the bound is hung, and the
        // connection is dropped (not kept in `blocking`) so the next call makes a new one.
        let popped = match tokio::time::timeout(timeout + self.inner.timeout, pop).await {
            Ok(r) => r?,
            Err(_) => {
                return Err(QueueError::Redis(redis::RedisError::from(
                    std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!(
                            "BLMOVE on {} did not answer within {:.0}s after its wait",
                            k.queue(q),
                            self.inner.timeout.as_secs_f64()
                        ),
                    ),
                )))
            }
        };
        blocking.0 = Some(conn);
        let Some(id) = popped else {
            return Ok(None);
        };
        let now = Utc::now();
        let exec = Uuid::new_v4().simple().to_string();
        let args = Args::default()
            .s(k.job_prefix())
            .s(codec::rq_time(now))
            .s(score(now + lease))
            .s(&exec)
            .s(worker)
            .s(q)
            .s(k.intermediate(q))
            .s(k.wip(q))
            .s(k.first_seen_prefix(q))
            .s(&id);
        let v = self
            .eval(&self.inner.scripts.start, &[k.worker(worker)], args)
            .await?;
        match self.claim_from(&v, worker, now, &exec)? {
            ClaimReply::Claimed(c) => Ok(Some(c)),
            ClaimReply::Undecodable(c, reason) => {
                self.reject(&c, &reason).await?;
                Ok(None)
            }
            ClaimReply::Empty | ClaimReply::Suspended => Ok(None),
        }
    }

    /// Settles an execution: finished, retried (scheduled registry, or the queue when due at
    /// once), failed, or handed back. Every outcome first checks the lease is still held.
    pub async fn complete(
        &self,
        claim: &Claim,
        outcome: &Completion,
    ) -> Result<Disposition, QueueError> {
        let k = &self.inner.keys;
        let q = &claim.queue;
        let id = &claim.env.id;
        let now = Utc::now();
        let member = claim.wip_member();
        match outcome {
            Completion::Done => {
                let (keys, args) = self.done_parts(claim);
                let v = self.eval(&self.inner.scripts.done, &keys, args).await?;
                Ok(if int(&v) == Some(1) {
                    Disposition::Done
                } else {
                    Disposition::Lost
                })
            }
            Completion::Retry { error, next_at } => {
                self.settle(claim, error, Some(*next_at), now).await
            }
            Completion::Fail { error } => self.settle(claim, error, None, now).await,
            Completion::HandBack => {
                let keys = [
                    k.wip(q),
                    k.job(id),
                    k.queue(q),
                    k.worker(&claim.worker),
                    k.queues(),
                ];
                let args = Args::default()
                    .s(&member)
                    .s(id)
                    .s(codec::rq_time(now))
                    .s(k.queue(q));
                let v = self
                    .eval(&self.inner.scripts.hand_back, &keys, args)
                    .await?;
                Ok(if int(&v) == Some(1) {
                    Disposition::HandedBack
                } else {
                    Disposition::Lost
                })
            }
        }
    }

    async fn settle(
        &self,
        claim: &Claim,
        error: &super::TaskError,
        next_at: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<Disposition, QueueError> {
        let k = &self.inner.keys;
        let q = &claim.queue;
        let id = &claim.env.id;
        let (exc_z, exc_b64) = codec::exc_fields(&format!("{}: {}", claim.env.task, error));
        let due = next_at.unwrap_or(now);
        let delay = (due - now).num_milliseconds().max(0) as f64 / 1000.0;
        let keys = [
            k.wip(q),
            k.job(id),
            k.scheduled(q),
            k.queue(q),
            k.results(id),
            k.worker(&claim.worker),
            k.failed(q),
            k.queues(),
        ];
        let args = Args::default()
            .s(claim.wip_member())
            .s(id)
            .s(codec::rq_time(now))
            .s(score(due))
            .s(format!("{delay:.3}"))
            .b(&exc_z)
            .s(exc_b64)
            .s(&claim.worker)
            .s(&claim.execution_id)
            .s(format!("{:.6}", codec::unix(claim.started_at)))
            .s(format!("{:.6}", codec::unix(now)))
            .s(score(now + chrono::Duration::seconds(FAILURE_TTL_S as i64)))
            .s(FAILURE_TTL_S)
            .s(k.queue(q))
            .s(if next_at.is_some() { "retry" } else { "fail" });
        let v = self.eval(&self.inner.scripts.settle, &keys, args).await?;
        match text(&v).as_deref() {
            Some("retried") => Ok(Disposition::Retried { next_at: due }),
            Some("failed") => Ok(Disposition::Failed),
            Some("lost") => Ok(Disposition::Lost),
            _ => Err(QueueError::Protocol(format!("settle returned {v:?}"))),
        }
    }
}

enum ClaimReply {
    Claimed(Claim),
    Empty,
    Suspended,
    Undecodable(Claim, String),
}
