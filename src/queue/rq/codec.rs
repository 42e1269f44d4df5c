//! Encoding of provis envelopes as RQ job hashes (JSON data, never pickle), and back.
//!
//! `data` is RQ's `(func_name, instance, args, kwargs)` tuple serialised with RQ's
//! JSONSerializer: `["provis.<task>", null, [], {payload}]`. provis writes it raw; RQ itself
//! rewrites it zlib-compressed when it touches a job, so reading accepts both. The envelope
//! fields RQ has no place for (task id, job id, batch, trace context, attempts) travel in
//! `meta`, which RQ stores as serializer output (JSON here) and leaves alone.

use std::collections::HashMap;
use std::io::{Read, Write};

use base64::Engine;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::queue::task::{Envelope, TaskSpec};

/// Prefix of RQ function names for provis tasks: `provis.<task>`.
pub const FUNC_PREFIX: &str = "provis.";

/// RQ's default `timeout` field (seconds); informational for provis.
pub const JOB_TIMEOUT_S: u64 = 180;

/// How long a finished job and its results are kept (RQ's default `result_ttl`).
pub const RESULT_TTL_S: u64 = 500;

/// How long a failed job is kept (RQ's default `failure_ttl`, one year).
pub const FAILURE_TTL_S: u64 = 31_536_000;

/// Time as RQ writes it: `%Y-%m-%dT%H:%M:%S.%fZ` in UTC.
pub fn rq_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Parses RQ's time format (and its older second-precision form).
pub fn parse_rq_time(s: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.fZ")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%SZ"))
        .ok()
        .map(|n| n.and_utc())
}

/// Unix time as a float (scores, stream fields).
pub fn unix(t: DateTime<Utc>) -> f64 {
    t.timestamp_micros() as f64 / 1e6
}

/// Envelope fields kept in the job's `meta`.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct JobMeta {
    /// `tasks` row id.
    #[serde(default)]
    pub task_id: Option<Uuid>,
    /// Pipeline job.
    #[serde(default)]
    pub job_id: Option<Uuid>,
    /// Batch number.
    #[serde(default)]
    pub batch_index: Option<u32>,
    /// Trace context.
    #[serde(default)]
    pub traceparent: Option<String>,
    /// Executions allowed when enqueued.
    #[serde(default)]
    pub max_attempts: Option<u32>,
}

/// zlib-compresses bytes (RQ's `exc_info`, and what RQ does to `data`).
pub fn zlib(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(bytes);
    enc.finish().unwrap_or_default()
}

/// Inflates zlib data, or returns the input when it is not zlib (RQ's own fallback).
pub fn maybe_inflate(bytes: &[u8]) -> Vec<u8> {
    if bytes.first() == Some(&0x78) {
        let mut out = Vec::new();
        if flate2::read::ZlibDecoder::new(bytes)
            .read_to_end(&mut out)
            .is_ok()
        {
            return out;
        }
    }
    bytes.to_vec()
}

/// RQ's `exc_info` (zlib bytes) and result-stream `exc_string` (base64 of zlib) for a message.
pub fn exc_fields(message: &str) -> (Vec<u8>, String) {
    let z = zlib(message.as_bytes());
    let b64 = base64::engine::general_purpose::STANDARD.encode(&z);
    (z, b64)
}

/// base64(JSON) — RQ's result-stream `return_value` with JSONSerializer.
pub fn return_value_b64(v: &serde_json::Value) -> String {
    base64::engine::general_purpose::STANDARD.encode(v.to_string())
}

/// The hash fields of a freshly enqueued job (status `queued`).
pub fn encode_job(
    spec: &TaskSpec,
    env: &Envelope,
    now: DateTime<Utc>,
) -> Vec<(&'static str, Vec<u8>)> {
    let (args, kwargs) = match &env.payload {
        serde_json::Value::Object(_) => (serde_json::json!([]), env.payload.clone()),
        other => (serde_json::json!([other]), serde_json::json!({})),
    };
    let data = serde_json::json!([format!("{FUNC_PREFIX}{}", env.task), null, args, kwargs]);
    let meta = JobMeta {
        task_id: Some(env.task_id),
        job_id: env.job_id,
        batch_index: env.batch_index,
        traceparent: env.traceparent.clone(),
        max_attempts: Some(spec.max_attempts),
    };
    let meta = serde_json::to_vec(&meta).unwrap_or_default();
    let description = match (env.job_id, env.batch_index) {
        (Some(j), Some(b)) => format!("{FUNC_PREFIX}{}(job_id={j}, batch_index={b})", env.task),
        (Some(j), None) => format!("{FUNC_PREFIX}{}(job_id={j})", env.task),
        _ => format!("{FUNC_PREFIX}{}(task_id={})", env.task, env.task_id),
    };
    let t = rq_time(now).into_bytes();
    let retry_intervals = serde_json::to_vec(&spec.backoff_s).unwrap_or_else(|_| b"[]".to_vec());
    vec![
        ("status", b"queued".to_vec()),
        ("origin", spec.queue.as_bytes().to_vec()),
        ("description", description.into_bytes()),
        ("created_at", t.clone()),
        ("enqueued_at", t),
        ("started_at", Vec::new()),
        ("ended_at", Vec::new()),
        ("last_heartbeat", Vec::new()),
        ("worker_name", Vec::new()),
        ("timeout", JOB_TIMEOUT_S.to_string().into_bytes()),
        ("result_ttl", RESULT_TTL_S.to_string().into_bytes()),
        ("failure_ttl", FAILURE_TTL_S.to_string().into_bytes()),
        ("data", data.to_string().into_bytes()),
        ("meta", meta),
        (
            "retries_left",
            spec.max_attempts.saturating_sub(1).to_string().into_bytes(),
        ),
        ("retry_intervals", retry_intervals),
        ("success_callback_name", Vec::new()),
        ("failure_callback_name", Vec::new()),
        ("stopped_callback_name", Vec::new()),
        ("group_id", Vec::new()),
    ]
}

/// A job read back from its hash.
#[derive(Debug, Clone)]
pub struct DecodedJob {
    /// The envelope; `attempt` is the execution about to start (max_attempts − retries_left).
    pub env: Envelope,
    /// Queue name (`origin`).
    pub origin: String,
    /// Retries still allowed after this execution.
    pub retries_left: u32,
}

fn text(fields: &HashMap<String, Vec<u8>>, k: &str) -> Option<String> {
    fields
        .get(k)
        .filter(|v| !v.is_empty())
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

/// Decodes a job hash (provis-written, or written by a Python producer with JSONSerializer).
pub fn decode_job(id: &str, fields: &HashMap<String, Vec<u8>>) -> Result<DecodedJob, String> {
    let raw = fields
        .get("data")
        .ok_or_else(|| format!("job {id} has no data field"))?;
    let data: serde_json::Value = serde_json::from_slice(&maybe_inflate(raw)).map_err(|e| {
        format!("job {id}: data is not JSON (pickle? use RQ's JSONSerializer): {e}")
    })?;
    let arr = data
        .as_array()
        .filter(|a| a.len() == 4)
        .ok_or_else(|| format!("job {id}: data is not [func, instance, args, kwargs]"))?;
    let func = arr[0]
        .as_str()
        .ok_or_else(|| format!("job {id}: function name is not a string"))?;
    let task = func.strip_prefix(FUNC_PREFIX).unwrap_or(func).to_string();
    let args = arr[2].as_array().cloned().unwrap_or_default();
    let kwargs = arr[3].clone();
    let kwargs_empty = kwargs.as_object().is_none_or(|o| o.is_empty());
    let payload = if kwargs_empty && args.len() == 1 {
        args[0].clone()
    } else if kwargs.is_object() {
        kwargs
    } else {
        serde_json::json!({})
    };
    let meta: JobMeta = fields
        .get("meta")
        .and_then(|m| serde_json::from_slice(&maybe_inflate(m)).ok())
        .unwrap_or_default();
    let retries_left: u32 = text(fields, "retries_left")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let max_attempts = meta.max_attempts.unwrap_or(retries_left + 1).max(1);
    let attempt = max_attempts.saturating_sub(retries_left).max(1);
    // Jobs from Python producers carry no task id: RQ ids are uuid4 hex, else nil.
    let task_id = meta
        .task_id
        .or_else(|| Uuid::parse_str(id).ok())
        .unwrap_or(Uuid::nil());
    let enqueued_at = text(fields, "enqueued_at")
        .and_then(|s| parse_rq_time(&s))
        .unwrap_or_else(Utc::now);
    Ok(DecodedJob {
        env: Envelope {
            id: id.to_string(),
            task_id,
            task,
            job_id: meta.job_id,
            batch_index: meta.batch_index,
            attempt,
            payload,
            traceparent: meta.traceparent,
            enqueued_at,
        },
        origin: text(fields, "origin").unwrap_or_default(),
        retries_left,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: TaskSpec = TaskSpec {
        name: "diag_append",
        queue: "high",
        max_attempts: 3,
        backoff_s: &[1, 2],
    };

    fn as_map(fields: Vec<(&'static str, Vec<u8>)>) -> HashMap<String, Vec<u8>> {
        fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect()
    }

    #[test]
    fn time_format_matches_rq() {
        let t = DateTime::parse_from_rfc3339("2026-11-28T23:05:59.073444Z")
            .expect("valid")
            .with_timezone(&Utc);
        assert_eq!(rq_time(t), "2026-11-28T23:05:59.073444Z");
        assert_eq!(parse_rq_time("2026-11-28T23:05:59.073444Z"), Some(t));
        assert!(parse_rq_time("2026-11-28T23:05:59Z").is_some());
    }

    #[test]
    fn encode_decode_round_trip() {
        let job = Uuid::new_v4();
        let env = Envelope::new(
            &SPEC,
            Uuid::new_v4(),
            Some(job),
            Some(2),
            serde_json::json!({"file": "/tmp/x", "line": "a"}),
        )
        .with_traceparent(Some("00-abc-def-01".into()));
        let fields = as_map(encode_job(&SPEC, &env, Utc::now()));
        let data: serde_json::Value = serde_json::from_slice(&fields["data"]).expect("json");
        assert_eq!(data[0], "provis.diag_append");
        assert_eq!(data[1], serde_json::Value::Null);
        assert_eq!(data[3]["line"], "a");
        let back = decode_job(&env.id, &fields).expect("decodes");
        assert_eq!(back.env.task_id, env.task_id);
        assert_eq!(back.env.job_id, Some(job));
        assert_eq!(back.env.batch_index, Some(2));
        assert_eq!(back.env.payload, env.payload);
        assert_eq!(back.env.traceparent.as_deref(), Some("00-abc-def-01"));
        assert_eq!(back.env.attempt, 1);
        assert_eq!(back.retries_left, 2);
        assert_eq!(back.origin, "high");
    }

    #[test]
    fn reads_zlib_data_from_python() {
        let mut fields = HashMap::new();
        let data = br#"["provis.diag_noop", null, [], {}]"#;
        fields.insert("data".to_string(), zlib(data));
        let id = Uuid::new_v4().simple().to_string();
        let back = decode_job(&id, &fields).expect("decodes");
        assert_eq!(back.env.task, "diag_noop");
        assert_eq!(back.env.attempt, 1);
        assert_eq!(back.env.task_id.simple().to_string(), id);
    }

    #[test]
    fn pickle_is_rejected_with_a_hint() {
        let mut fields = HashMap::new();
        fields.insert("data".to_string(), vec![0x80, 0x05, 0x95]);
        let err = decode_job("x", &fields).expect_err("pickle");
        assert!(err.contains("JSONSerializer"), "{err}");
    }
}
