//! Lua scripts: each state change of a job is one atomic step on the server.
//!
//! A script is a `MULTI` that can also decide (is the job still queued? do we still hold the
//! lease? are retries left?), so two workers or a worker and a sweeper can never both move the
//! same job, and every step is one round trip. Key names are passed in from [`super::Keys`];
//! the scripts build none themselves except `<prefix><id>` from prefixes passed in.
//! Like RQ, this assumes a single Redis (not Redis Cluster).

/// Helpers shared by several scripts (prepended to their bodies).
const HELPERS: &str = r#"
-- Sets a worker idle; returns whether its hash exists (never recreates an expired one).
local function worker_idle(wkey, now_s)
  if wkey ~= '' and redis.call('EXISTS', wkey) == 1 then
    redis.call('HSET', wkey, 'state', 'idle', 'current_job', '', 'last_heartbeat', now_s)
    return true
  end
  return false
end
local function worker_count(wkey, field)
  if wkey ~= '' and redis.call('EXISTS', wkey) == 1 then
    redis.call('HINCRBY', wkey, field, 1)
  end
end
-- Marks a job failed: status, exc_info, failed registry, type-2 result.
local function fail_job(jkey, failed_key, rkey, id, now_s, failed_score, failure_ttl, exc_z, exc_b64, wname, exec, st, et)
  redis.call('HSET', jkey, 'status', 'failed', 'ended_at', now_s, 'exc_info', exc_z)
  redis.call('EXPIRE', jkey, failure_ttl)
  redis.call('ZADD', failed_key, failed_score, id)
  redis.call('XADD', rkey, 'MAXLEN', '10', '*', 'type', '2', 'worker_name', wname,
    'exc_string', exc_b64, 'execution_id', exec, 'execution_started_at', st, 'execution_ended_at', et)
  redis.call('EXPIRE', rkey, failure_ttl)
end
-- Starts job `id`, which the caller just moved into the intermediate list `ikey`; `fsp` ''
-- skips clearing the sweep's first-seen marker (no marker can exist when the move happened
-- inside the same script). Returns nil (and drops the entry) when the job is gone or not
-- queued any more, else {queue, id, {field, value, …}} with the fields a worker needs.
local function start_job(job_prefix, id, qname, ikey, wip, fsp, now_s, score, exec, wname, wkey)
  local removed = redis.call('LREM', ikey, -1, id)
  if fsp ~= '' then redis.call('DEL', fsp .. id) end
  if removed == 0 then return nil end
  local jkey = job_prefix .. id
  if redis.call('HGET', jkey, 'status') ~= 'queued' then return nil end
  redis.call('HSET', jkey, 'status', 'started', 'started_at', now_s, 'last_heartbeat', now_s,
    'worker_name', wname)
  redis.call('ZADD', wip, score, id .. ':' .. exec)
  if redis.call('EXISTS', wkey) == 1 then
    redis.call('HSET', wkey, 'state', 'busy', 'current_job', id, 'last_heartbeat', now_s)
  end
  local names = {'data', 'meta', 'retries_left', 'enqueued_at', 'origin'}
  local vals = redis.call('HMGET', jkey, unpack(names))
  local fields = {}
  for i, name in ipairs(names) do
    if vals[i] then
      table.insert(fields, name)
      table.insert(fields, vals[i])
    end
  end
  return {qname, id, fields}
end
"#;

/// Idempotent enqueue. KEYS: job, queue, queues-set, finished, failed, scheduled.
/// ARGV: id, queue key, field/value pairs… Returns 1 when enqueued, 0 when the id is already
/// queued, scheduled or running.
pub const ENQUEUE: &str = r#"
local st = redis.call('HGET', KEYS[1], 'status')
if st == 'queued' or st == 'started' or st == 'scheduled' then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[1])
redis.call('ZREM', KEYS[6], ARGV[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[2])
return 1
"#;

/// Claim in priority order: `claim_next` in [`CLAIM_DONE_HELPERS`]. KEYS: suspended, worker.
/// ARGV: job prefix, now (RQ time), wip score, execution id, worker name, queue count, then per
/// queue: name, queue key, intermediate key, wip key.
/// Returns {'suspended'}, {'empty'} or {'claimed', queue, id, {field, value, …}}.
pub fn claim() -> String {
    format!("{HELPERS}{CLAIM_DONE_HELPERS}return claim_next(KEYS[1], KEYS[2], ARGV, 0)\n")
}

/// Start a job a blocking `BLMOVE` put into the intermediate list. KEYS: worker.
/// ARGV: job prefix, now, wip score, execution id, worker name, queue name, intermediate key,
/// wip key, first-seen prefix, id. Returns {'claimed', queue, id, fields} or {'empty'}.
pub fn start() -> String {
    format!(
        "{HELPERS}{}",
        r#"
local r = start_job(ARGV[1], ARGV[10], ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[2], ARGV[3], ARGV[4], ARGV[5], KEYS[1])
if r then return {'claimed', r[1], r[2], r[3]} end
return {'empty'}
"#
    )
}

/// Success: `done_job` in [`CLAIM_DONE_HELPERS`]. KEYS: wip, job, finished, results, worker.
/// ARGV: wip member, id, now, result ttl, finished score, worker name, execution id, started
/// (unix), ended (unix), return value (base64 JSON), working seconds.
/// Returns 1, or 0 when the lease was lost (the job was recovered by someone else).
pub fn done() -> String {
    format!(
        "{HELPERS}{CLAIM_DONE_HELPERS}return done_job(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], ARGV)\n"
    )
}

/// Success of one job and the claim of the next in one step (a busy worker's usual path: one
/// round trip per task). KEYS: the five of [`done`], then the two of [`claim`]. ARGV: the
/// eleven of [`done`], then those of [`claim`]. Returns {done result, claim result}.
pub fn done_claim() -> String {
    format!(
        "{HELPERS}{CLAIM_DONE_HELPERS}{}",
        r#"
local d = done_job(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], ARGV)
return {d, claim_next(KEYS[6], KEYS[7], ARGV, 11)}
"#
    )
}

/// The bodies of [`claim`] and [`done`] as functions, so [`done_claim`] can run both.
/// `claim_next` reads its arguments from `A` after offset `o`; `done_job` from `A[1..11]`.
const CLAIM_DONE_HELPERS: &str = r#"
local function claim_next(suspended, wkey, A, o)
  if redis.call('EXISTS', suspended) == 1 then return {'suspended'} end
  local n = tonumber(A[o+6])
  for i = 0, n - 1 do
    local b = o + 6 + i * 4
    local qname, qkey, ikey, wip = A[b+1], A[b+2], A[b+3], A[b+4]
    while true do
      local id = redis.call('LMOVE', qkey, ikey, 'LEFT', 'RIGHT')
      if not id then break end
      local r = start_job(A[o+1], id, qname, ikey, wip, '', A[o+2], A[o+3], A[o+4], A[o+5], wkey)
      if r then return {'claimed', r[1], r[2], r[3]} end
    end
  end
  return {'empty'}
end
local function done_job(wip, jkey, fin, rkey, wkey, A)
  local owned = redis.call('ZREM', wip, A[1])
  local worker = worker_idle(wkey, A[3])
  if owned == 0 then return 0 end
  redis.call('HSET', jkey, 'status', 'finished', 'ended_at', A[3], 'last_heartbeat', A[3])
  redis.call('EXPIRE', jkey, A[4])
  redis.call('ZADD', fin, A[5], A[2])
  redis.call('XADD', rkey, 'MAXLEN', '10', '*', 'type', '1', 'worker_name', A[6],
    'return_value', A[10], 'execution_id', A[7], 'execution_started_at', A[8],
    'execution_ended_at', A[9])
  redis.call('EXPIRE', rkey, A[4])
  if worker then
    redis.call('HINCRBY', wkey, 'successful_job_count', 1)
    redis.call('HINCRBYFLOAT', wkey, 'total_working_time', A[11])
  end
  return 1
end
"#;

/// Retry or fail. KEYS: wip, job, scheduled, queue, results, worker, failed, queues-set.
/// ARGV: wip member, id, now, due (unix), delay seconds, exc_info (zlib), exc_string (base64),
/// worker name, execution id, started, ended, failed score, failure ttl, queue key, mode
/// ('retry' or 'fail').
/// Returns 'retried', 'failed' (also for a retry with no retries left) or 'lost'.
pub fn settle() -> String {
    format!(
        "{HELPERS}{}",
        r#"
local owned = redis.call('ZREM', KEYS[1], ARGV[1])
worker_idle(KEYS[6], ARGV[3])
if owned == 0 then return 'lost' end
worker_count(KEYS[6], 'failed_job_count')
local left = tonumber(redis.call('HGET', KEYS[2], 'retries_left') or '0') or 0
if ARGV[15] == 'fail' or left <= 0 then
  fail_job(KEYS[2], KEYS[7], KEYS[5], ARGV[2], ARGV[3], ARGV[12], ARGV[13], ARGV[6], ARGV[7],
    ARGV[8], ARGV[9], ARGV[10], ARGV[11])
  return 'failed'
end
redis.call('HSET', KEYS[2], 'retries_left', left - 1, 'exc_info', ARGV[6])
redis.call('XADD', KEYS[5], 'MAXLEN', '10', '*', 'type', '4', 'worker_name', ARGV[8],
  'exc_string', ARGV[7], 'execution_id', ARGV[9], 'execution_started_at', ARGV[10],
  'execution_ended_at', ARGV[11])
redis.call('EXPIRE', KEYS[5], ARGV[13])
if tonumber(ARGV[5]) > 0 then
  redis.call('HSET', KEYS[2], 'status', 'scheduled')
  redis.call('ZADD', KEYS[3], ARGV[4], ARGV[2])
else
  redis.call('HSET', KEYS[2], 'status', 'queued', 'enqueued_at', ARGV[3])
  redis.call('RPUSH', KEYS[4], ARGV[2])
  redis.call('SADD', KEYS[8], ARGV[14])
end
return 'retried'
"#
    )
}

/// Hand a running job back (graceful shutdown), without spending an attempt.
/// KEYS: wip, job, queue, worker, queues-set. ARGV: wip member, id, now, queue key.
/// Returns 1, or 0 when the lease was already lost.
pub fn hand_back() -> String {
    format!(
        "{HELPERS}{}",
        r#"
local owned = redis.call('ZREM', KEYS[1], ARGV[1])
worker_idle(KEYS[4], ARGV[3])
if owned == 0 then return 0 end
redis.call('HSET', KEYS[2], 'status', 'queued', 'enqueued_at', ARGV[3], 'started_at', '',
  'worker_name', '')
redis.call('LPUSH', KEYS[3], ARGV[2])
redis.call('SADD', KEYS[5], ARGV[4])
return 1
"#
    )
}

/// Promote due retries of one queue. KEYS: scheduled, queue, queues-set.
/// ARGV: now (unix), job prefix, now (RQ time), limit, queue key. Returns the count promoted.
pub const PROMOTE: &str = r#"
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[4]))
local n = 0
for _, id in ipairs(ids) do
  redis.call('ZREM', KEYS[1], id)
  local jkey = ARGV[2] .. id
  if redis.call('HGET', jkey, 'status') == 'scheduled' then
    redis.call('HSET', jkey, 'status', 'queued', 'enqueued_at', ARGV[3])
    redis.call('RPUSH', KEYS[2], id)
    n = n + 1
  end
end
if n > 0 then redis.call('SADD', KEYS[3], ARGV[5]) end
return n
"#;

/// Recovery sweep of one queue. KEYS: wip, queue, intermediate, failed, queues-set.
/// ARGV: now (unix), job prefix, results prefix, now (RQ time), failed score, failure ttl,
/// exc_info (zlib), exc_string (base64), first-seen prefix, intermediate grace (s), limit,
/// queue key.
/// Expired wip entries (their worker stopped heartbeating) are retried at once while retries
/// remain (that execution counts as an attempt), else failed. Intermediate entries stuck for
/// longer than the grace go back to the queue. Returns {{outcome, id, {fields}}, …} with
/// outcome 'retried', 'failed' or 'requeued'.
pub fn recover() -> String {
    format!(
        "{HELPERS}{}",
        r#"
local out = {}
local members = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[11]))
for _, m in ipairs(members) do
  redis.call('ZREM', KEYS[1], m)
  local id = string.match(m, '^([^:]+):') or m
  local exec = string.match(m, ':([^:]*)$') or ''
  local jkey = ARGV[2] .. id
  if redis.call('HGET', jkey, 'status') == 'started' then
    local left = tonumber(redis.call('HGET', jkey, 'retries_left') or '0') or 0
    local wname = redis.call('HGET', jkey, 'worker_name') or ''
    local st = redis.call('HGET', jkey, 'started_at') or ''
    local rkey = ARGV[3] .. id
    if left > 0 then
      redis.call('HSET', jkey, 'retries_left', left - 1, 'status', 'queued', 'enqueued_at', ARGV[4],
        'exc_info', ARGV[7])
      redis.call('XADD', rkey, 'MAXLEN', '10', '*', 'type', '4', 'worker_name', wname,
        'exc_string', ARGV[8], 'execution_id', exec)
      redis.call('RPUSH', KEYS[2], id)
      table.insert(out, {'retried', id, redis.call('HGETALL', jkey)})
    else
      fail_job(jkey, KEYS[4], rkey, id, ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8], wname, exec, '', ARGV[1])
      table.insert(out, {'failed', id, redis.call('HGETALL', jkey)})
    end
  end
end
local ids = redis.call('LRANGE', KEYS[3], 0, -1)
for _, id in ipairs(ids) do
  local fs = ARGV[9] .. id
  local seen = redis.call('GET', fs)
  if not seen then
    redis.call('SET', fs, ARGV[1], 'EX', 86400)
  elseif tonumber(ARGV[1]) - tonumber(seen) >= tonumber(ARGV[10]) then
    if redis.call('LREM', KEYS[3], 1, id) > 0 then
      redis.call('DEL', fs)
      if redis.call('HGET', ARGV[2] .. id, 'status') == 'queued' then
        redis.call('RPUSH', KEYS[2], id)
        table.insert(out, {'requeued', id, {}})
      end
    end
  end
end
if #out > 0 then redis.call('SADD', KEYS[5], ARGV[12]) end
return out
"#
    )
}

/// Heartbeat of one worker slot. KEYS: worker. ARGV: now, worker ttl, wip score, wip key (or
/// ''), wip member, job key. Returns -1 when the worker hash is gone (re-register), 1 when the
/// lease is held (or nothing runs), 0 when the running job's lease was lost.
pub const HEARTBEAT: &str = r#"
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
redis.call('HSET', KEYS[1], 'last_heartbeat', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
if ARGV[4] == '' then return 1 end
if not redis.call('ZSCORE', ARGV[4], ARGV[5]) then return 0 end
redis.call('ZADD', ARGV[4], 'XX', ARGV[3], ARGV[5])
redis.call('HSET', ARGV[6], 'last_heartbeat', ARGV[1])
return 1
"#;

/// Drop worker keys whose hash expired from `rq:workers` and every `rq:workers:<q>` (queues
/// of `rq:queues` plus the names passed in). KEYS: workers set, queues set.
/// ARGV: queue-key prefix, per-queue worker-set prefix, extra queue names…
/// Returns how many keys left `rq:workers`.
pub const CLEAN_WORKERS: &str = r#"
local removed = 0
for _, w in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('EXISTS', w) == 0 then
    redis.call('SREM', KEYS[1], w)
    removed = removed + 1
  end
end
local names = {}
for _, qk in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  names[string.sub(qk, string.len(ARGV[1]) + 1)] = true
end
for i = 3, #ARGV do names[ARGV[i]] = true end
for name, _ in pairs(names) do
  local set = ARGV[2] .. name
  for _, w in ipairs(redis.call('SMEMBERS', set)) do
    if redis.call('EXISTS', w) == 0 then redis.call('SREM', set, w) end
  end
end
return removed
"#;
