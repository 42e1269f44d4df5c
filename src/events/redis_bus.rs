//! Redis backend (cluster mode): the status hash and the event stream of
//! docs/events.md#where-they-live.
//!
//! Short commands go through a deadpool pool whose connections time out after a few seconds.
//! A subscriber follows its stream with `XREAD BLOCK` on a dedicated connection with **no**
//! response timeout (redis-rs' default 500 ms would fail every block) — a blocking read on a
//! shared multiplexed connection would stall everyone else on it. Reading starts at the stream's
//! beginning, so events already there are replayed before live ones, and entries are read in
//! stream order from the last id seen, so nothing between replay and follow is missed.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use deadpool_redis::redis::aio::MultiplexedConnection;
use deadpool_redis::redis::{self, AsyncConnectionConfig, Value};
use deadpool_redis::{Manager, Pool, Runtime};
use tracing::warn;
use uuid::Uuid;

use super::keys::{events_key, status_key, FIELD_EVENT, FIELD_SEQ, STREAM_MAXLEN};
use super::stream::{drive, Source};
use super::{BusConfig, Event, EventError, EventStream, Status};

/// Pooled connections per process.
const POOL_SIZE: usize = 16;
/// Stream entries fetched per read.
const READ_COUNT: usize = 500;
/// Reconnection attempts of a subscriber before it gives up with an error.
const MAX_RECONNECTS: u32 = 5;

/// Writes the status hash unless the stored `updatedAt` is later; replaces all fields (so a
/// cleared `error` disappears) and refreshes the TTL. ARGV: updatedAt, ttl seconds, field/value…
const SET_STATUS_LUA: &str = r#"
local cur = redis.call('HGET', KEYS[1], 'updatedAt')
if cur and cur > ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"#;

/// Redis status and events; cheap to clone.
#[derive(Clone)]
pub struct RedisBus {
    pool: Pool,
    client: redis::Client,
    config: BusConfig,
    /// When a call last went unanswered within the bound (see [`RedisBus::hung`]).
    hung_at: Arc<Mutex<Option<Instant>>>,
    /// Status overlays whose last write failed or was skipped: they may be stale, so they are
    /// deleted once Redis answers again (`/status` then reads the database until the next
    /// write), instead of showing an old phase until they expire.
    dirty: Arc<Mutex<HashSet<Uuid>>>,
}

/// For how many bounds after an unanswered call the best-effort writes (live events, the
/// status overlay) are skipped: while Redis hangs, one request must not wait out the bound
/// once per write (an `/ingest` makes five). The database has what they would have written.
const HUNG_WINDOW_BOUNDS: u32 = 2;

impl std::fmt::Debug for RedisBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBus")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl RedisBus {
    /// Prepares the pool and client; connections are made on first use.
    pub fn new(url: &str, config: BusConfig) -> Result<Self, EventError> {
        let manager = Manager::new_with_config(
            url,
            AsyncConnectionConfig::new()
                .set_response_timeout(Some(config.timeout))
                .set_connection_timeout(Some(config.timeout)),
        )?;
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .wait_timeout(Some(config.timeout))
            .create_timeout(Some(config.timeout))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| EventError::Config(format!("redis pool: {e}")))?;
        let client = redis::Client::open(url)?;
        Ok(Self {
            pool,
            client,
            config,
            hung_at: Arc::default(),
            dirty: Arc::default(),
        })
    }

    fn lock_dirty(&self) -> std::sync::MutexGuard<'_, HashSet<Uuid>> {
        // A poisoned lock only means a panic elsewhere while holding the set.
        self.dirty
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn lock_hung(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        // A poisoned lock only means a panic elsewhere while holding a timestamp.
        self.hung_at
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// An error when a call went unanswered within the last [`HUNG_WINDOW_BOUNDS`] bounds, so
    /// a best-effort write fails at once instead of waiting out the bound again.
    fn hung(&self) -> Result<(), EventError> {
        let window = self.config.timeout * HUNG_WINDOW_BOUNDS;
        match *self.lock_hung() {
            Some(at) if at.elapsed() < window => Err(EventError::Redis(redis::RedisError::from(
                std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "skipped: Redis did not answer within {:.0}s {:.1}s ago",
                        self.config.timeout.as_secs_f64(),
                        at.elapsed().as_secs_f64()
                    ),
                ),
            ))),
            _ => Ok(()),
        }
    }

    /// Runs `call` within the bound as a whole (taking a pooled connection checks it with a
    /// round trip, and may open another: each has its own timeout, and their sum must not
    /// be what a caller waits), noting a call that went unanswered.
    async fn bounded<T>(
        &self,
        call: impl std::future::Future<Output = Result<T, EventError>>,
    ) -> Result<T, EventError> {
        let r = match tokio::time::timeout(self.config.timeout, call).await {
            Ok(r) => r,
            Err(_) => Err(EventError::Redis(redis::RedisError::from(
                std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "no answer within {:.0}s (REDIS_TIMEOUT_S)",
                        self.config.timeout.as_secs_f64()
                    ),
                ),
            ))),
        };
        self.noted(r)
    }

    /// Notes a call that went unanswered (a timeout: a refused connection fails fast and
    /// needs no skipping).
    fn noted<T>(&self, r: Result<T, EventError>) -> Result<T, EventError> {
        if let Err(e) = &r {
            let hang = match e {
                EventError::Redis(e) => e.is_timeout(),
                // deadpool's own timeouts (no connection made or checked in time).
                EventError::Pool(m) => m.contains("timed out") || m.contains("Timeout"),
                _ => false,
            };
            if hang {
                *self.lock_hung() = Some(Instant::now());
            }
        }
        r
    }

    async fn conn(&self) -> Result<deadpool_redis::Connection, EventError> {
        self.pool
            .get()
            .await
            .map_err(|e| EventError::Pool(e.to_string()))
    }

    fn ttl_secs(&self) -> u64 {
        self.config.ttl.as_secs().max(1)
    }

    pub(super) async fn publish(&self, event: &Event) -> Result<(), EventError> {
        self.hung()?;
        self.bounded(self.publish_now(event)).await
    }

    async fn publish_now(&self, event: &Event) -> Result<(), EventError> {
        let json = serde_json::to_string(event)?;
        let key = events_key(&self.config.key_prefix, event.job_id);
        let mut conn = self.conn().await?;
        redis::pipe()
            .atomic()
            .cmd("XADD")
            .arg(&key)
            .arg("MAXLEN")
            .arg("~")
            .arg(STREAM_MAXLEN)
            .arg("*")
            .arg(FIELD_SEQ)
            .arg(event.seq)
            .arg(FIELD_EVENT)
            .arg(json)
            .ignore()
            .cmd("EXPIRE")
            .arg(&key)
            .arg(self.ttl_secs())
            .ignore()
            .exec_async(&mut conn)
            .await?;
        Ok(())
    }

    pub(super) async fn set_status(&self, status: &Status) -> Result<bool, EventError> {
        let r = match self.hung() {
            Ok(()) => self.bounded(self.set_status_now(status)).await,
            Err(e) => Err(e),
        };
        if r.is_err() {
            self.lock_dirty().insert(status.job_id);
        } else {
            self.lock_dirty().remove(&status.job_id);
            if !self.lock_dirty().is_empty() {
                // Redis answers again: overlays that may be stale go now.
                let _ = self.bounded(self.flush_dirty()).await;
            }
        }
        r
    }

    async fn set_status_now(&self, status: &Status) -> Result<bool, EventError> {
        let key = status_key(&self.config.key_prefix, status.job_id);
        let mut cmd = redis::cmd("EVAL");
        cmd.arg(SET_STATUS_LUA)
            .arg(1)
            .arg(&key)
            .arg(format_time(&status.updated_at))
            .arg(self.ttl_secs());
        for (field, value) in encode_status(status) {
            cmd.arg(field).arg(value);
        }
        let mut conn = self.conn().await?;
        let applied: i64 = cmd.query_async(&mut conn).await?;
        Ok(applied == 1)
    }

    pub(super) async fn get_status(&self, job_id: Uuid) -> Result<Option<Status>, EventError> {
        self.hung()?;
        self.bounded(self.get_status_now(job_id)).await
    }

    async fn get_status_now(&self, job_id: Uuid) -> Result<Option<Status>, EventError> {
        let key = status_key(&self.config.key_prefix, job_id);
        let mut conn = self.conn().await?;
        let fields: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(&key)
            .query_async(&mut conn)
            .await?;
        if fields.is_empty() {
            return Ok(None);
        }
        decode_status(&key, &fields).map(Some)
    }

    pub(super) async fn status_ttl(&self, job_id: Uuid) -> Result<Option<Duration>, EventError> {
        let key = status_key(&self.config.key_prefix, job_id);
        let mut conn = self.conn().await?;
        let ms: i64 = redis::cmd("PTTL").arg(&key).query_async(&mut conn).await?;
        // -2: no key; -1: no expiry (never written by this module).
        Ok((ms >= 0).then(|| Duration::from_millis(ms as u64)))
    }

    pub(super) async fn subscribe(
        &self,
        job_id: Uuid,
        after_seq: i64,
    ) -> Result<EventStream, EventError> {
        let mut source = RedisSource {
            client: self.client.clone(),
            conn: None,
            timeout: self.config.timeout,
            key: events_key(&self.config.key_prefix, job_id),
            last_id: "0-0".to_string(),
        };
        // Connect now so a Redis that is down is an error of the call, not of the stream.
        source.conn = Some(source.connect().await?);
        Ok(drive(source, after_seq, self.config.reorder_window))
    }

    pub(super) async fn check(&self) -> Result<(), EventError> {
        self.bounded(self.ping()).await
    }

    /// Deletes the overlays whose write failed (see `dirty`); kept for later on failure.
    async fn flush_dirty(&self) -> Result<(), EventError> {
        let dirty: Vec<Uuid> = self.lock_dirty().drain().collect();
        if dirty.is_empty() {
            return Ok(());
        }
        let keys: Vec<String> = dirty
            .iter()
            .map(|id| status_key(&self.config.key_prefix, *id))
            .collect();
        let deleted = match self.conn().await {
            Ok(mut conn) => redis::cmd("DEL")
                .arg(&keys)
                .query_async::<i64>(&mut conn)
                .await
                .map_err(EventError::from),
            Err(e) => Err(e),
        };
        if let Err(e) = deleted {
            self.lock_dirty().extend(dirty);
            return Err(e);
        }
        tracing::info!(
            overlays = keys.len(),
            "deleted status overlays whose write failed while Redis did not answer"
        );
        Ok(())
    }

    async fn ping(&self) -> Result<(), EventError> {
        let mut conn = self.conn().await?;
        let pong: String = redis::cmd("PING").query_async(&mut conn).await?;
        if pong == "PONG" {
            // Redis answers again: best-effort writes resume at once, and overlays that may
            // be stale go.
            *self.lock_hung() = None;
            drop(conn);
            self.flush_dirty().await?;
            Ok(())
        } else {
            Err(EventError::Corrupt {
                what: "PING reply".into(),
                reason: pong,
            })
        }
    }
}

struct RedisSource {
    client: redis::Client,
    conn: Option<MultiplexedConnection>,
    /// Bound on connecting, and how long a read may take past its `BLOCK` before the
    /// connection counts as dead.
    timeout: Duration,
    key: String,
    last_id: String,
}

impl RedisSource {
    async fn connect(&self) -> Result<MultiplexedConnection, EventError> {
        let config = AsyncConnectionConfig::new()
            .set_response_timeout(None)
            .set_connection_timeout(Some(self.timeout));
        Ok(self
            .client
            .get_multiplexed_async_connection_with_config(&config)
            .await?)
    }

    async fn read(&mut self, wait: Duration) -> Result<Vec<Event>, EventError> {
        let conn = match &mut self.conn {
            Some(conn) => conn,
            None => self.conn.insert(self.connect().await?),
        };
        let block_ms = wait.as_millis().max(1) as u64;
        let mut cmd = redis::cmd("XREAD");
        cmd.arg("COUNT")
            .arg(READ_COUNT)
            .arg("BLOCK")
            .arg(block_ms)
            .arg("STREAMS")
            .arg(&self.key)
            .arg(&self.last_id);
        let query = cmd.query_async::<Value>(conn);
        let reply = match tokio::time::timeout(wait + self.timeout, query).await {
            Ok(reply) => reply?,
            Err(_) => {
                return Err(EventError::Pool(format!(
                    "XREAD on {} did not answer within its block time",
                    self.key
                )))
            }
        };
        let (events, last_id) = parse_xread(&reply, &self.key);
        if let Some(last_id) = last_id {
            self.last_id = last_id;
        }
        Ok(events)
    }
}

impl Source for RedisSource {
    async fn next_batch(
        &mut self,
        _after_seq: i64,
        wait: Duration,
    ) -> Result<Option<Vec<Event>>, EventError> {
        let mut attempt = 0;
        loop {
            match self.read(wait).await {
                Ok(events) => return Ok(Some(events)),
                Err(e) if attempt < MAX_RECONNECTS && e.retryable() => {
                    attempt += 1;
                    warn!(stream = %self.key, attempt, error = %e, "Event stream read failed, reconnecting");
                    self.conn = None;
                    tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Events and the last entry id of an `XREAD` reply (RESP2 arrays or RESP3 maps); entries
/// that do not decode are logged and skipped so one bad entry cannot stall a follower.
fn parse_xread(reply: &Value, key: &str) -> (Vec<Event>, Option<String>) {
    let mut events = Vec::new();
    let mut last_id = None;
    let streams: Vec<(&Value, &Value)> = match reply {
        Value::Array(items) => items
            .iter()
            .filter_map(|s| match s {
                Value::Array(pair) if pair.len() == 2 => Some((&pair[0], &pair[1])),
                _ => None,
            })
            .collect(),
        Value::Map(pairs) => pairs.iter().map(|(k, v)| (k, v)).collect(),
        _ => Vec::new(),
    };
    for (_, entries) in streams {
        let Value::Array(entries) = entries else {
            continue;
        };
        for entry in entries {
            let Value::Array(parts) = entry else { continue };
            let (Some(id), Some(fields)) = (parts.first().and_then(as_string), parts.get(1)) else {
                continue;
            };
            last_id = Some(id.clone());
            match event_of(fields) {
                Some(Ok(event)) => events.push(event),
                Some(Err(e)) => {
                    warn!(stream = key, entry = %id, error = %e, "Skipping undecodable event")
                }
                None => {
                    warn!(stream = key, entry = %id, "Skipping stream entry without an event field")
                }
            }
        }
    }
    (events, last_id)
}

fn event_of(fields: &Value) -> Option<Result<Event, serde_json::Error>> {
    let pairs: Vec<(String, &Value)> = match fields {
        Value::Array(flat) => flat
            .chunks(2)
            .filter_map(|c| Some((as_string(c.first()?)?, c.get(1)?)))
            .collect(),
        Value::Map(pairs) => pairs
            .iter()
            .filter_map(|(k, v)| Some((as_string(k)?, v)))
            .collect(),
        _ => return None,
    };
    let json = pairs
        .into_iter()
        .find(|(k, _)| k == FIELD_EVENT)
        .and_then(|(_, v)| as_string(v))?;
    Some(serde_json::from_str(&json))
}

fn as_string(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => String::from_utf8(b.clone()).ok(),
        Value::SimpleString(s) => Some(s.clone()),
        Value::VerbatimString { text, .. } => Some(text.clone()),
        _ => None,
    }
}

/// Fixed-width RFC 3339 with microseconds, so the script can compare times as strings.
fn format_time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The hash fields of a status: the JSON names of [`Status`]; `error` is absent when `None`.
fn encode_status(s: &Status) -> Vec<(&'static str, String)> {
    let mut fields = vec![
        ("jobId", s.job_id.to_string()),
        ("repoId", s.repo_id.to_string()),
        ("snapshotId", s.snapshot_id.to_string()),
        ("phase", s.phase.clone()),
        ("pct", s.pct.to_string()),
        ("filesDiscovered", s.files_discovered.to_string()),
        ("filesParsed", s.files_parsed.to_string()),
        ("filesReused", s.files_reused.to_string()),
        ("importsTotal", s.imports_total.to_string()),
        ("importsInternal", s.imports_internal.to_string()),
        ("importsExternal", s.imports_external.to_string()),
        ("warningsCount", s.warnings_count.to_string()),
        ("updatedAt", format_time(&s.updated_at)),
    ];
    if let Some(error) = &s.error {
        fields.push(("error", error.clone()));
    }
    fields
}

fn decode_status(key: &str, f: &HashMap<String, String>) -> Result<Status, EventError> {
    let corrupt = |reason: String| EventError::Corrupt {
        what: key.to_string(),
        reason,
    };
    let get = |name: &str| {
        f.get(name)
            .ok_or_else(|| corrupt(format!("missing field {name}")))
    };
    let uuid = |name: &str| {
        get(name)?
            .parse::<Uuid>()
            .map_err(|e| corrupt(format!("{name}: {e}")))
    };
    let int = |name: &str| {
        get(name)?
            .parse::<i64>()
            .map_err(|e| corrupt(format!("{name}: {e}")))
    };
    let updated_at = DateTime::parse_from_rfc3339(get("updatedAt")?)
        .map_err(|e| corrupt(format!("updatedAt: {e}")))?
        .with_timezone(&Utc);
    Ok(Status {
        job_id: uuid("jobId")?,
        repo_id: uuid("repoId")?,
        snapshot_id: uuid("snapshotId")?,
        phase: get("phase")?.clone(),
        pct: i32::try_from(int("pct")?).map_err(|e| corrupt(format!("pct: {e}")))?,
        files_discovered: int("filesDiscovered")?,
        files_parsed: int("filesParsed")?,
        // Absent from a hash written by a version before it existed.
        files_reused: if f.contains_key("filesReused") {
            int("filesReused")?
        } else {
            0
        },
        imports_total: int("importsTotal")?,
        imports_internal: int("importsInternal")?,
        imports_external: int("importsExternal")?,
        warnings_count: int("warningsCount")?,
        error: f.get("error").cloned(),
        updated_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_hash_round_trip() {
        let s = Status {
            job_id: Uuid::new_v4(),
            repo_id: Uuid::new_v4(),
            snapshot_id: Uuid::new_v4(),
            phase: "parsing".into(),
            pct: 42,
            files_discovered: 10,
            files_parsed: 5,
            files_reused: 3,
            imports_total: 7,
            imports_internal: 3,
            imports_external: 4,
            warnings_count: 1,
            error: Some("boom".into()),
            updated_at: DateTime::parse_from_rfc3339("2026-01-02T03:04:05.123456Z")
                .unwrap()
                .with_timezone(&Utc),
        };
        let map: HashMap<String, String> = encode_status(&s)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        assert_eq!(decode_status("k", &map).unwrap(), s);
        // Every JSON field of Status has a hash field.
        let json = serde_json::to_value(&s).unwrap();
        for k in json.as_object().unwrap().keys() {
            assert!(map.contains_key(k), "hash lacks {k}");
        }
    }

    #[test]
    fn time_format_is_fixed_width() {
        let t = DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(format_time(&t), "2026-01-02T03:04:05.000000Z");
    }
}
