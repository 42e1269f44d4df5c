//! The LLM rate limit: one token bucket for requests (`LLM_RPM`) and one for tokens
//! (`LLM_TPM`), shared by every worker.
//!
//! # Shape
//! Each bucket holds at most `burst = max(1, limit / 20)` and refills at
//! `(limit − burst) / 62 s`. In any 60 s window a bucket can hand out at most what it held at
//! the start (≤ burst) plus what refilled (≤ (limit − burst) · 60/62), so **no 60 s window ever
//! sees more than `limit` grants**, with 2 s to spare for the time between a grant and the
//! request reaching the server. (A bucket with `capacity = limit` and `limit/60 s` refill, the
//! usual choice, lets nearly twice the limit through in a window that starts full.)
//!
//! A request takes one request token and its *estimated* token cost (prompt estimate plus
//! `max_tokens`); when the answer arrives, [`RateLimiter::settle`] charges the difference to
//! the real `usage` count (a refund when the estimate was high, a debt otherwise). A cost
//! larger than the token burst is granted once the token bucket is full, and leaves it in
//! debt, so large requests are spaced by the refill rate. A `429` with `Retry-After`
//! [`pauses`](RateLimiter::pause) the bucket: nobody is granted anything until it ends.
//!
//! # Where the bucket lives
//! - Cluster mode: one Redis hash (key from `LLM_BUCKET_KEY`, default
//!   [`crate::config::DEFAULT_LLM_BUCKET_KEY`]) updated by one Lua script ([`BUCKET_SCRIPT`]), with Redis
//!   `TIME` as the clock, so every process on every host shares one bucket atomically.
//! - Embedded mode: the same arithmetic ([`BucketState`]) behind a mutex in the process.

use super::LlmError;
use deadpool_redis::redis;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The window the limits are expressed in.
pub const WINDOW_MS: f64 = 60_000.0;
/// Refill period: the window plus 2 s of slack for grant-to-server latency.
pub const REFILL_MS: f64 = 62_000.0;
/// Burst is `limit / BURST_DIVISOR` (at least 1).
pub const BURST_DIVISOR: u64 = 20;
/// Longest single sleep while waiting for the bucket (waits are re-checked after it).
const MAX_SLEEP: Duration = Duration::from_secs(5);

/// Requests and tokens per minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Limits {
    /// Requests per minute.
    pub rpm: u64,
    /// Tokens per minute.
    pub tpm: u64,
}

impl Limits {
    /// Limits of `rpm` requests and `tpm` tokens per minute (each at least 1).
    pub fn new(rpm: u64, tpm: u64) -> Self {
        Self {
            rpm: rpm.max(1),
            tpm: tpm.max(1),
        }
    }

    fn burst(limit: u64) -> f64 {
        (limit / BURST_DIVISOR).max(1) as f64
    }

    fn rate(limit: u64) -> f64 {
        (limit.saturating_sub((limit / BURST_DIVISOR).max(1))).max(1) as f64 / REFILL_MS
    }

    /// Request bucket capacity.
    pub fn request_burst(&self) -> f64 {
        Self::burst(self.rpm)
    }

    /// Token bucket capacity.
    pub fn token_burst(&self) -> f64 {
        Self::burst(self.tpm)
    }
}

/// The state of both buckets at one instant (milliseconds on some clock).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BucketState {
    /// Request tokens available.
    pub requests: f64,
    /// LLM tokens available (negative = debt from a large or under-estimated request).
    pub tokens: f64,
    /// When the levels were computed, ms.
    pub at_ms: f64,
    /// Nothing is granted before this instant, ms (after a 429).
    pub paused_until_ms: f64,
}

impl BucketState {
    /// Full buckets at `now_ms`.
    pub fn full(limits: Limits, now_ms: f64) -> Self {
        Self {
            requests: limits.request_burst(),
            tokens: limits.token_burst(),
            at_ms: now_ms,
            paused_until_ms: 0.0,
        }
    }

    fn refill(&mut self, limits: Limits, now_ms: f64) {
        let dt = (now_ms - self.at_ms).max(0.0);
        self.requests = (self.requests + dt * Limits::rate(limits.rpm)).min(limits.request_burst());
        self.tokens = (self.tokens + dt * Limits::rate(limits.tpm)).min(limits.token_burst());
        self.at_ms = self.at_ms.max(now_ms);
    }

    /// Takes one request and `cost` tokens at `now_ms`, or says how long to wait (ms).
    pub fn try_take(&mut self, limits: Limits, now_ms: f64, cost: f64) -> Option<f64> {
        self.refill(limits, now_ms);
        if now_ms < self.paused_until_ms {
            return Some(self.paused_until_ms - now_ms);
        }
        let need = cost.min(limits.token_burst());
        if self.requests >= 1.0 && self.tokens >= need {
            self.requests -= 1.0;
            self.tokens -= cost;
            return None;
        }
        let mut wait: f64 = 0.0;
        if self.requests < 1.0 {
            wait = wait.max((1.0 - self.requests) / Limits::rate(limits.rpm));
        }
        if self.tokens < need {
            wait = wait.max((need - self.tokens) / Limits::rate(limits.tpm));
        }
        Some(wait.max(1.0))
    }

    /// Charges `delta` more tokens (negative: a refund) at `now_ms`.
    pub fn settle(&mut self, limits: Limits, now_ms: f64, delta: f64) {
        self.refill(limits, now_ms);
        self.tokens = (self.tokens - delta).min(limits.token_burst());
    }

    /// Grants nothing until `now_ms + ms`.
    pub fn pause(&mut self, now_ms: f64, ms: f64) {
        self.paused_until_ms = self.paused_until_ms.max(now_ms + ms);
    }
}

/// The Lua version of [`BucketState`]: `KEYS[1]` the bucket hash; `ARGV`: op (`take`,
/// `settle`, `pause`), rpm, tpm, amount (cost, token delta or pause ms), burst divisor,
/// refill ms. Returns `{granted, wait_ms}` for `take` and `{1, 0}` otherwise.
pub const BUCKET_SCRIPT: &str = r#"
local op = ARGV[1]
local rpm = tonumber(ARGV[2])
local tpm = tonumber(ARGV[3])
local amount = tonumber(ARGV[4])
local div = tonumber(ARGV[5])
local refill = tonumber(ARGV[6])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local rb = math.max(1, math.floor(rpm / div))
local rr = math.max(rpm - rb, 1) / refill
local tb = math.max(1, math.floor(tpm / div))
local tr = math.max(tpm - tb, 1) / refill
local h = redis.call('HMGET', KEYS[1], 'req', 'tok', 'at', 'pause')
local req = tonumber(h[1]) or rb
local tok = tonumber(h[2]) or tb
local at = tonumber(h[3]) or now
local pause = tonumber(h[4]) or 0
local dt = math.max(now - at, 0)
req = math.min(rb, req + dt * rr)
tok = math.min(tb, tok + dt * tr)
at = math.max(at, now)
local granted = 1
local wait = 0
if op == 'take' then
  local need = math.min(amount, tb)
  if now < pause then
    granted = 0
    wait = pause - now
  elseif req >= 1 and tok >= need then
    req = req - 1
    tok = tok - amount
  else
    granted = 0
    if req < 1 then wait = math.max(wait, (1 - req) / rr) end
    if tok < need then wait = math.max(wait, (need - tok) / tr) end
    wait = math.max(wait, 1)
  end
elseif op == 'settle' then
  tok = math.min(tb, tok - amount)
elseif op == 'pause' then
  pause = math.max(pause, now + amount)
end
redis.call('HSET', KEYS[1], 'req', tostring(req), 'tok', tostring(tok), 'at', tostring(at), 'pause', tostring(pause))
local ttl = math.max((rb - req) / rr, (tb - tok) / tr, pause - now, 0) + 60000
redis.call('PEXPIRE', KEYS[1], math.ceil(ttl))
return {granted, math.ceil(wait)}
"#;

/// The shared rate limiter: in-process or in Redis (see the module doc).
#[derive(Clone)]
pub enum RateLimiter {
    /// One bucket for this process (embedded mode).
    Local {
        /// The state; the clock is `epoch.elapsed()`.
        state: Arc<Mutex<Option<BucketState>>>,
        /// Start of the local clock.
        epoch: Instant,
    },
    /// One bucket in Redis for every process (cluster mode).
    Redis {
        /// Connection pool.
        pool: deadpool_redis::Pool,
        /// The bucket's hash key.
        key: String,
    },
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RateLimiter::Local { .. } => f.write_str("RateLimiter::Local"),
            RateLimiter::Redis { key, .. } => write!(f, "RateLimiter::Redis({key})"),
        }
    }
}

impl RateLimiter {
    /// An in-process bucket.
    pub fn local() -> Self {
        RateLimiter::Local {
            state: Arc::new(Mutex::new(None)),
            epoch: Instant::now(),
        }
    }

    /// A bucket in Redis at `key`, shared by every process that uses the same key.
    pub fn redis(url: &str, key: &str) -> Result<Self, LlmError> {
        let pool = deadpool_redis::Config::from_url(url)
            .create_pool(Some(deadpool_redis::Runtime::Tokio1))
            .map_err(|e| LlmError::Limiter(format!("redis pool for {key}: {e}")))?;
        Ok(RateLimiter::Redis {
            pool,
            key: key.to_string(),
        })
    }

    fn with_local<T>(
        state: &Mutex<Option<BucketState>>,
        epoch: Instant,
        limits: Limits,
        f: impl FnOnce(&mut BucketState, f64) -> T,
    ) -> T {
        let now = epoch.elapsed().as_secs_f64() * 1000.0;
        // A poisoned lock only means a panic elsewhere mid-update; the numbers are still usable.
        let mut guard = state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let s = guard.get_or_insert_with(|| BucketState::full(limits, now));
        f(s, now)
    }

    async fn run_script(
        &self,
        op: &str,
        limits: Limits,
        amount: f64,
    ) -> Result<(i64, i64), LlmError> {
        let RateLimiter::Redis { pool, key } = self else {
            return Err(LlmError::Limiter("not a redis limiter".into()));
        };
        let mut conn = pool
            .get()
            .await
            .map_err(|e| LlmError::Limiter(format!("redis connection: {e}")))?;
        // EVAL (not EVALSHA): the body is small and Redis caches compiled scripts itself.
        let (granted, wait): (i64, i64) = redis::cmd("EVAL")
            .arg(BUCKET_SCRIPT)
            .arg(1)
            .arg(key)
            .arg(op)
            .arg(limits.rpm)
            .arg(limits.tpm)
            .arg(amount)
            .arg(BURST_DIVISOR)
            .arg(REFILL_MS)
            .query_async(&mut *conn)
            .await
            .map_err(|e| LlmError::Limiter(format!("bucket script on {key}: {e}")))?;
        Ok((granted, wait))
    }

    /// One attempt: `None` when granted, else how long to wait.
    pub async fn try_acquire(
        &self,
        limits: Limits,
        cost: u64,
    ) -> Result<Option<Duration>, LlmError> {
        match self {
            RateLimiter::Local { state, epoch } => {
                Ok(Self::with_local(state, *epoch, limits, |s, now| {
                    s.try_take(limits, now, cost as f64)
                })
                .map(|ms| Duration::from_micros((ms * 1000.0).ceil() as u64)))
            }
            RateLimiter::Redis { .. } => {
                let (granted, wait) = self.run_script("take", limits, cost as f64).await?;
                Ok((granted == 0).then(|| Duration::from_millis(wait.max(1) as u64)))
            }
        }
    }

    /// Waits until one request and `cost` tokens are granted.
    pub async fn acquire(&self, limits: Limits, cost: u64) -> Result<(), LlmError> {
        loop {
            match self.try_acquire(limits, cost).await? {
                None => return Ok(()),
                Some(wait) => {
                    // A little jitter so waiting workers do not all retry on the same ms.
                    let jitter = Duration::from_millis(rand::random::<u64>() % 20);
                    tokio::time::sleep(wait.min(MAX_SLEEP) + jitter).await;
                }
            }
        }
    }

    /// Charges `delta` more tokens than were reserved (negative: refunds).
    pub async fn settle(&self, limits: Limits, delta: i64) -> Result<(), LlmError> {
        if delta == 0 {
            return Ok(());
        }
        match self {
            RateLimiter::Local { state, epoch } => {
                Self::with_local(state, *epoch, limits, |s, now| {
                    s.settle(limits, now, delta as f64)
                });
                Ok(())
            }
            RateLimiter::Redis { .. } => self
                .run_script("settle", limits, delta as f64)
                .await
                .map(|_| ()),
        }
    }

    /// Grants nothing to anyone for `pause` (a `Retry-After`).
    pub async fn pause(&self, limits: Limits, pause: Duration) -> Result<(), LlmError> {
        let ms = pause.as_secs_f64() * 1000.0;
        match self {
            RateLimiter::Local { state, epoch } => {
                Self::with_local(state, *epoch, limits, |s, now| s.pause(now, ms));
                Ok(())
            }
            RateLimiter::Redis { .. } => self.run_script("pause", limits, ms).await.map(|_| ()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Simulates greedy clients against the bucket and returns the grant times (ms).
    fn greedy(limits: Limits, cost: f64, until_ms: f64) -> Vec<f64> {
        let mut s = BucketState::full(limits, 0.0);
        let mut now = 0.0;
        let mut grants = Vec::new();
        while now < until_ms {
            match s.try_take(limits, now, cost) {
                None => grants.push(now),
                Some(w) => now += w,
            }
        }
        grants
    }

    fn max_in_window(times: &[f64], window: f64) -> usize {
        (0..times.len())
            .map(|i| {
                times[i..]
                    .iter()
                    .take_while(|t| **t < times[i] + window)
                    .count()
            })
            .max()
            .unwrap_or(0)
    }

    #[test]
    fn no_window_exceeds_the_rpm() {
        for rpm in [1, 5, 20, 60, 100, 1000] {
            let limits = Limits::new(rpm, 1_000_000_000);
            let grants = greedy(limits, 1.0, 5.0 * 60_000.0);
            let worst = max_in_window(&grants, WINDOW_MS);
            assert!(
                worst as u64 <= rpm.max(2),
                "rpm {rpm}: {worst} in one window"
            );
            // And the bucket is not starving: over 5 minutes it grants most of the limit.
            assert!(
                grants.len() as f64 >= 4.0 * rpm as f64 * 0.9,
                "rpm {rpm}: {}",
                grants.len()
            );
        }
    }

    #[test]
    fn tokens_limit_the_rate_too() {
        // 10_000 TPM with 1_500-token requests: about 6 requests a minute, not 100.
        let limits = Limits::new(100, 10_000);
        let grants = greedy(limits, 1_500.0, 10.0 * 60_000.0);
        let per_min = grants.len() as f64 / 10.0;
        assert!((5.0..=7.0).contains(&per_min), "{per_min} per minute");
    }

    #[test]
    fn settle_refunds_and_charges() {
        let limits = Limits::new(100, 10_000);
        let mut s = BucketState::full(limits, 0.0);
        assert!(s.try_take(limits, 0.0, 400.0).is_none());
        assert!((s.tokens - 100.0).abs() < 1e-6);
        s.settle(limits, 0.0, -300.0);
        assert!((s.tokens - 400.0).abs() < 1e-6, "refund");
        s.settle(limits, 0.0, 1_000.0);
        assert!(s.tokens < 0.0, "debt");
        assert!(s.try_take(limits, 0.0, 10.0).is_some(), "in debt: wait");
    }

    #[test]
    fn pause_blocks_until_it_ends() {
        let limits = Limits::new(600, 1_000_000);
        let mut s = BucketState::full(limits, 0.0);
        s.pause(0.0, 2_000.0);
        let wait = s.try_take(limits, 10.0, 1.0).expect("paused");
        assert!((wait - 1_990.0).abs() < 1e-6);
        assert!(s.try_take(limits, 2_000.0, 1.0).is_none());
    }

    #[test]
    fn local_limiter_grants_and_waits() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let l = RateLimiter::local();
            let limits = Limits::new(20, 1_000_000); // burst 1
            assert!(l.try_acquire(limits, 1).await.expect("local").is_none());
            let wait = l
                .try_acquire(limits, 1)
                .await
                .expect("local")
                .expect("empty");
            assert!(wait > Duration::from_secs(2), "{wait:?}");
        });
    }
}
