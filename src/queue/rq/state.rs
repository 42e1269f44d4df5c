//! Reads and small commands beside the task life cycle: whether queues are idle, their
//! lengths, the maintenance lock, and which job hashes Redis still holds (the reconciler).

use std::time::Duration;

use super::RedisBackend;
use crate::queue::QueueError;
use deadpool_redis::redis;

impl RedisBackend {
    /// True when every queue of `queues` is empty and has no retry waiting in its scheduled
    /// registry (what `--burst` waits for).
    pub async fn queues_idle(&self, queues: &[String]) -> Result<bool, QueueError> {
        let k = &self.inner.keys;
        let mut p = redis::pipe();
        for q in queues {
            p.llen(k.queue(q)).zcard(k.scheduled(q));
        }
        let counts: Vec<u64> = self.pipe(&p).await?;
        Ok(counts.iter().all(|&n| n == 0))
    }

    /// Length of a queue (for `provis_queue_size` and tests).
    pub async fn queue_len(&self, queue: &str) -> Result<u64, QueueError> {
        self.query(redis::cmd("LLEN").arg(self.inner.keys.queue(queue)))
            .await
    }

    /// Takes lock `name` for `ttl` unless someone holds it (`SET NX PX`); true when taken.
    /// `owner` identifies the holder for [`RedisBackend::unlock`].
    pub async fn try_lock(
        &self,
        name: &str,
        owner: &str,
        ttl: Duration,
    ) -> Result<bool, QueueError> {
        let v: Option<String> = self
            .query(
                redis::cmd("SET")
                    .arg(self.inner.keys.lock(name))
                    .arg(owner)
                    .arg("NX")
                    .arg("PX")
                    .arg(ttl.as_millis().max(1) as u64),
            )
            .await?;
        Ok(v.is_some())
    }

    /// Releases lock `name` if `owner` still holds it (a lock that lapsed and was taken by
    /// another process is left alone).
    pub async fn unlock(&self, name: &str, owner: &str) -> Result<(), QueueError> {
        const UNLOCK: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then \
            return redis.call('DEL', KEYS[1]) else return 0 end";
        let _: i64 = self
            .query(
                redis::cmd("EVAL")
                    .arg(UNLOCK)
                    .arg(1)
                    .arg(self.inner.keys.lock(name))
                    .arg(owner),
            )
            .await?;
        Ok(())
    }

    /// For each id, whether Redis holds its job hash (queued, scheduled, running or settled).
    /// A task the database calls open whose hash is gone was lost with Redis's data.
    pub async fn holds(&self, ids: &[String]) -> Result<Vec<bool>, QueueError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut p = redis::pipe();
        for id in ids {
            p.exists(self.inner.keys.job(id));
        }
        self.pipe(&p).await
    }
}
