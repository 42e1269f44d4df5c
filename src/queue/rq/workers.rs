//! Worker registration in RQ's layout: the `rq:worker:<name>` hash (heartbeat, state,
//! counters, TTL), the `rq:workers` and `rq:workers:<q>` sets, and their cleaning.

use std::time::Duration;

use chrono::Utc;
use deadpool_redis::redis;

use super::{codec, int, score, Args, RedisBackend, DEAD_WORKER_TTL_S, STALE_WORKER};
use crate::host::{hostname, process_alive};
use crate::queue::{Claim, QueueError};

impl RedisBackend {
    /// Registers worker `name` (RQ worker hash with TTL, `rq:workers`, `rq:workers:<q>`).
    /// Fails when a live worker (hash present, no `death`, heartbeat within 30 s) has this name.
    pub async fn register_worker(
        &self,
        name: &str,
        queues: &[String],
        ttl: Duration,
    ) -> Result<(), QueueError> {
        let k = &self.inner.keys;
        let key = k.worker(name);
        let (exists, dead, beat, host, pid): (
            bool,
            bool,
            Option<String>,
            Option<String>,
            Option<String>,
        ) = self
            .pipe(
                redis::pipe()
                    .exists(&key)
                    .hexists(&key, "death")
                    .hget(&key, "last_heartbeat")
                    .hget(&key, "hostname")
                    .hget(&key, "pid"),
            )
            .await?;
        // A worker killed with -9 leaves its hash until the TTL; a name whose heartbeat is
        // older than any live worker's heartbeat interval may be taken over.
        let stale = beat
            .as_deref()
            .and_then(codec::parse_rq_time)
            .is_none_or(|t| {
                Utc::now() - t > chrono::Duration::from_std(STALE_WORKER).unwrap_or_default()
            });
        // So may, at once, a name whose process is gone: registered from this host by a pid
        // that no longer exists (a worker restarted under its name after kill -9).
        let gone = exists
            && host.as_deref() == Some(hostname().as_str())
            && pid
                .as_deref()
                .and_then(|p| p.parse::<i32>().ok())
                .is_some_and(|p| p != std::process::id() as i32 && !process_alive(p));
        if gone {
            tracing::warn!(worker = %name, pid = ?pid, "taking over the name of a worker whose process is gone");
        }
        let stale = stale || gone;
        if exists && !dead && !stale {
            return Err(QueueError::WorkerExists(name.to_string()));
        }
        if exists && !dead {
            tracing::warn!(worker = %name, "taking over the name of a worker that stopped heartbeating");
        }
        let info: String = self
            .query(redis::cmd("CLIENT").arg("INFO"))
            .await
            .unwrap_or_default();
        let ip = info
            .split_whitespace()
            .find_map(|kv| kv.strip_prefix("addr="))
            .unwrap_or("unknown")
            .to_string();
        let now = codec::rq_time(Utc::now());
        let mut p = redis::pipe();
        p.atomic().del(&key).hset_multiple(
            &key,
            &[
                ("birth", now.clone()),
                ("last_heartbeat", now),
                ("queues", queues.join(",")),
                ("pid", std::process::id().to_string()),
                ("hostname", hostname()),
                ("ip_address", ip),
                ("version", format!("provis {}", env!("CARGO_PKG_VERSION"))),
                ("python_version", "none (provis is Rust)".to_string()),
                ("state", "idle".to_string()),
                ("successful_job_count", "0".to_string()),
                ("failed_job_count", "0".to_string()),
                ("total_working_time", "0".to_string()),
            ],
        );
        p.expire(&key, ttl.as_secs().max(1) as i64)
            .sadd(k.workers(), &key);
        for q in queues {
            p.sadd(k.workers_by_queue(q), &key);
        }
        self.pipe::<()>(&p).await
    }

    /// Marks worker `name` dead (RQ's `register_death`): out of the sets, `death` set, short TTL.
    pub async fn deregister_worker(&self, name: &str, queues: &[String]) -> Result<(), QueueError> {
        let k = &self.inner.keys;
        let key = k.worker(name);
        let mut p = redis::pipe();
        p.atomic().srem(k.workers(), &key);
        for q in queues {
            p.srem(k.workers_by_queue(q), &key);
        }
        p.hset_multiple(
            &key,
            &[
                ("death", codec::rq_time(Utc::now())),
                ("state", "dead".to_string()),
            ],
        )
        .hdel(&key, "current_job")
        .expire(&key, DEAD_WORKER_TTL_S as i64);
        self.pipe::<()>(&p).await
    }

    /// Sets the `state` field of a worker hash (idle, busy, suspended) if the hash exists.
    pub async fn set_worker_state(&self, name: &str, state: &str) -> Result<(), QueueError> {
        let key = self.inner.keys.worker(name);
        let exists: bool = self.query(redis::cmd("EXISTS").arg(&key)).await?;
        if exists {
            self.query::<()>(redis::cmd("HSET").arg(&key).arg("state").arg(state))
                .await?;
        }
        Ok(())
    }

    /// Heartbeat of one worker slot: refreshes its hash TTL and, when it runs `claim`, the wip
    /// score (now + `lease`). Returns `Ok(None)` when the worker hash is gone (register again),
    /// `Ok(Some(false))` when the running job's lease was lost, else `Ok(Some(true))`.
    pub async fn heartbeat(
        &self,
        worker: &str,
        claim: Option<&Claim>,
        lease: Duration,
        ttl: Duration,
    ) -> Result<Option<bool>, QueueError> {
        let k = &self.inner.keys;
        let now = Utc::now();
        let (wip, member, job) = match claim {
            Some(c) => (k.wip(&c.queue), c.wip_member(), k.job(&c.env.id)),
            None => (String::new(), String::new(), String::new()),
        };
        let args = Args::default()
            .s(codec::rq_time(now))
            .s(ttl.as_secs().max(1))
            .s(score(now + lease))
            .s(wip)
            .s(member)
            .s(job);
        let v = self
            .eval(&self.inner.scripts.heartbeat, &[k.worker(worker)], args)
            .await?;
        Ok(match int(&v) {
            Some(-1) => None,
            Some(1) => Some(true),
            _ => Some(false),
        })
    }

    /// Removes worker keys whose hash expired from `rq:workers` and `rq:workers:<q>` (for the
    /// queues in `rq:queues` and `queues`); returns how many left `rq:workers`.
    pub async fn clean_workers(&self, queues: &[String]) -> Result<u64, QueueError> {
        let k = &self.inner.keys;
        let keys = [k.workers(), k.queues()];
        let mut args = Args::default()
            .s(k.queue_prefix())
            .s(k.workers_by_queue_prefix());
        for q in queues {
            args = args.s(q);
        }
        let v = self
            .eval(&self.inner.scripts.clean_workers, &keys, args)
            .await?;
        Ok(int(&v).unwrap_or(0).max(0) as u64)
    }
}
