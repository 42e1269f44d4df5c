//! Event bus against real backends: Redis at TEST_REDIS_URL (a unique key prefix per test) and
//! the in-process bus. Every scenario runs on both.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, SubsecRound, Utc};
use deadpool_redis::redis;
use futures_util::StreamExt;
use provis::events::{
    events_key, payload, status_key, types, BusConfig, Event, EventBus, EventError, EventStream,
    Status,
};
use serde_json::json;
use uuid::Uuid;

/// The payload of an `error` event, as provis sends it.
fn error_event(code: &str, message: &str, terminal: bool) -> serde_json::Value {
    payload::to_value(&payload::Error {
        code: code.into(),
        message: message.into(),
        terminal,
    })
}

/// Generous bound on waiting for events that must arrive; a failure, not a speed check.
const PATIENCE: Duration = Duration::from_secs(20);

fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_string())
}

fn config() -> BusConfig {
    BusConfig {
        key_prefix: format!("provis-test-{}:", Uuid::new_v4().simple()),
        ..BusConfig::default()
    }
}

fn redis_bus(config: BusConfig) -> EventBus {
    EventBus::redis(&redis_url(), config).expect("redis bus")
}

fn memory_bus(config: BusConfig) -> EventBus {
    EventBus::in_process(config)
}

async fn raw_redis() -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .expect("redis at TEST_REDIS_URL")
}

/// Runs a scenario `async fn name(bus: EventBus, config: BusConfig)` once per backend.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn redis() {
                let config = super::config();
                super::$name(super::redis_bus(config.clone()), config).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn memory() {
                let config = super::config();
                super::$name(super::memory_bus(config.clone()), config).await
            }
        }
    )*};
}

on_both_backends!(
    publish_then_follow_in_order,
    subscribe_after_seq_replays_only_later,
    reordered_and_repeated_publishes,
    gap_is_skipped_after_window,
    concurrent_publishers_and_late_subscriber,
    non_terminal_error_keeps_stream_open,
    status_round_trip_and_ttl,
    stale_status_is_not_written,
    health_check,
);

fn ev(job: Uuid, seq: i64, kind: &str) -> Event {
    Event::new(job, seq, kind, json!({ "n": seq }))
}

/// Collects the stream to its end (it must end, after the terminal event).
async fn collect(stream: EventStream) -> Vec<Event> {
    tokio::time::timeout(PATIENCE, stream.map(|r| r.unwrap()).collect::<Vec<_>>())
        .await
        .expect("the stream ends after the terminal event")
}

fn seqs(events: &[Event]) -> Vec<i64> {
    events.iter().map(|e| e.seq).collect()
}

async fn publish_then_follow_in_order(bus: EventBus, _config: BusConfig) {
    let job = Uuid::new_v4();
    let stream = bus.subscribe(job, 0).await.unwrap();
    let mut sent = Vec::new();
    for seq in 1..=20 {
        let e = ev(job, seq, types::PROGRESS);
        bus.publish(&e).await.unwrap();
        sent.push(e);
    }
    let done = ev(job, 21, types::DONE);
    bus.publish(&done).await.unwrap();
    sent.push(done);
    // Published after the terminal event: never delivered.
    bus.publish(&ev(job, 22, types::PROGRESS)).await.unwrap();

    let got = collect(stream).await;
    assert_eq!(got, sent, "every event, intact, in order, ending at done");
    // Another job's subscriber sees nothing of this one.
    let other = Uuid::new_v4();
    let mut other_stream = bus.subscribe(other, 0).await.unwrap();
    bus.publish(&ev(other, 1, types::DONE)).await.unwrap();
    let first = tokio::time::timeout(PATIENCE, other_stream.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!((first.job_id, first.seq), (other, 1));
}

async fn subscribe_after_seq_replays_only_later(bus: EventBus, config: BusConfig) {
    let job = Uuid::new_v4();
    for seq in 1..=10 {
        bus.publish(&ev(job, seq, types::PROGRESS)).await.unwrap();
    }
    // Joins late, as the SSE endpoint does after replaying 1..=6 from the database.
    let stream = bus.subscribe(job, 6).await.unwrap();
    bus.publish(&ev(job, 11, types::DONE)).await.unwrap();
    let got = collect(stream).await;
    assert_eq!(seqs(&got), [7, 8, 9, 10, 11]);

    if let EventBus::Redis(_) = bus {
        // The stream entries carry the seq and the event JSON, and have a TTL.
        let mut conn = raw_redis().await;
        let key = events_key(&config.key_prefix, job);
        let entries: Vec<(String, HashMap<String, String>)> = redis::cmd("XRANGE")
            .arg(&key)
            .arg("-")
            .arg("+")
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(entries.len(), 11);
        let (_, fields) = &entries[3];
        assert_eq!(fields["seq"], "4");
        let parsed: Event = serde_json::from_str(&fields["event"]).unwrap();
        assert_eq!(parsed.seq, 4);
        let wire: serde_json::Value = serde_json::from_str(&fields["event"]).unwrap();
        let mut names: Vec<&str> = wire
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["id", "jobId", "payload", "seq", "timestamp", "type"]
        );
        let ttl: i64 = redis::cmd("TTL")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!(ttl > 0 && ttl <= 24 * 3600, "ttl {ttl}");
    }
}

async fn reordered_and_repeated_publishes(bus: EventBus, _config: BusConfig) {
    let job = Uuid::new_v4();
    let stream = bus.subscribe(job, 0).await.unwrap();
    for seq in [1, 3, 2, 2, 1, 5, 4] {
        bus.publish(&ev(job, seq, types::PROGRESS)).await.unwrap();
    }
    bus.publish(&ev(job, 6, types::DONE)).await.unwrap();
    let got = collect(stream).await;
    assert_eq!(seqs(&got), [1, 2, 3, 4, 5, 6]);
}

async fn gap_is_skipped_after_window(bus: EventBus, config: BusConfig) {
    // A short window, so the missing seq 2 is given up quickly.
    let config = BusConfig {
        reorder_window: Duration::from_millis(200),
        ..config
    };
    let bus = match bus {
        EventBus::Redis(_) => redis_bus(config),
        EventBus::Memory(_) => memory_bus(config),
    };
    let job = Uuid::new_v4();
    let stream = bus.subscribe(job, 0).await.unwrap();
    bus.publish(&ev(job, 1, types::PROGRESS)).await.unwrap();
    bus.publish(&ev(job, 3, types::PROGRESS)).await.unwrap();
    bus.publish(&ev(job, 4, types::DONE)).await.unwrap();
    let got = collect(stream).await;
    assert_eq!(seqs(&got), [1, 3, 4]);
}

async fn concurrent_publishers_and_late_subscriber(bus: EventBus, _config: BusConfig) {
    const N: i64 = 200;
    let job = Uuid::new_v4();
    let early = bus.subscribe(job, 0).await.unwrap();
    // Four publishers interleave seqs 1..=N (each takes every fourth), like parse workers.
    let mut publishers = Vec::new();
    for lane in 0..4 {
        let bus = bus.clone();
        publishers.push(tokio::spawn(async move {
            for seq in (1..=N).filter(|s| s % 4 == lane) {
                bus.publish(&ev(job, seq, types::BATCH_PARSED))
                    .await
                    .unwrap();
                if seq % 16 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        }));
    }
    // A subscriber joining while they publish.
    tokio::task::yield_now().await;
    let late = bus.subscribe(job, 0).await.unwrap();
    for p in publishers {
        p.await.unwrap();
    }
    bus.publish(&ev(job, N + 1, types::DONE)).await.unwrap();
    let want: Vec<i64> = (1..=N + 1).collect();
    let (early, late) = tokio::join!(collect(early), collect(late));
    assert_eq!(seqs(&early), want);
    assert_eq!(seqs(&late), want);
}

async fn non_terminal_error_keeps_stream_open(bus: EventBus, _config: BusConfig) {
    let job = Uuid::new_v4();
    let stream = bus.subscribe(job, 0).await.unwrap();
    let retryable = Event::new(job, 1, types::ERROR, error_event("parse_crash", "x", false));
    assert!(!retryable.is_terminal());
    bus.publish(&retryable).await.unwrap();
    bus.publish(&ev(job, 2, types::WARNING)).await.unwrap();
    let fatal = Event::new(
        job,
        3,
        types::ERROR,
        error_event("ingest_failed", "y", true),
    );
    bus.publish(&fatal).await.unwrap();
    bus.publish(&ev(job, 4, types::DONE)).await.unwrap();
    let got = collect(stream).await;
    assert_eq!(seqs(&got), [1, 2, 3], "the failing error ends the stream");
    assert_eq!(got[2].payload["terminal"], true);
}

fn status(job: Uuid, updated_at: DateTime<Utc>) -> Status {
    Status {
        job_id: job,
        repo_id: Uuid::new_v4(),
        snapshot_id: Uuid::new_v4(),
        phase: "parsing".to_string(),
        pct: 42,
        files_discovered: 120,
        files_parsed: 50,
        files_reused: 20,
        imports_total: 300,
        imports_internal: 200,
        imports_external: 90,
        warnings_count: 3,
        error: Some("one batch failed once".to_string()),
        updated_at,
    }
}

async fn status_round_trip_and_ttl(bus: EventBus, config: BusConfig) {
    let job = Uuid::new_v4();
    assert_eq!(bus.get_status(job).await.unwrap(), None);
    assert_eq!(bus.status_ttl(job).await.unwrap(), None);

    let now = Utc::now();
    let s = status(job, now);
    assert!(bus.set_status(&s).await.unwrap());
    let got = bus.get_status(job).await.unwrap().expect("status stored");
    let mut want = s.clone();
    want.updated_at = now.trunc_subsecs(6);
    assert_eq!(got, want);
    let ttl = bus
        .status_ttl(job)
        .await
        .unwrap()
        .expect("status has a TTL");
    assert!(
        ttl > Duration::from_secs(23 * 3600) && ttl <= config.ttl,
        "{ttl:?}"
    );

    if let EventBus::Redis(_) = bus {
        // The hash mirrors every field of the status, by its JSON name.
        let mut conn = raw_redis().await;
        let key = status_key(&config.key_prefix, job);
        let hash: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .unwrap();
        let json = serde_json::to_value(&want).unwrap();
        let obj = json.as_object().unwrap();
        assert_eq!(hash.len(), obj.len());
        for (name, value) in obj {
            let stored = &hash[name];
            match value {
                serde_json::Value::String(s) if name == "updatedAt" => {
                    let t = DateTime::parse_from_rfc3339(stored).unwrap();
                    assert_eq!(
                        t.to_utc(),
                        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
                    );
                }
                serde_json::Value::String(s) => assert_eq!(stored, s, "{name}"),
                other => assert_eq!(stored, &other.to_string(), "{name}"),
            }
        }
    }

    // A later update that clears the error removes it, and refreshes the TTL.
    let mut next = status(job, now + chrono::Duration::seconds(1));
    next.error = None;
    next.phase = "mapping".to_string();
    assert!(bus.set_status(&next).await.unwrap());
    let got = bus.get_status(job).await.unwrap().unwrap();
    assert_eq!(got.error, None);
    assert_eq!(got.phase, "mapping");
    if let EventBus::Redis(_) = bus {
        let mut conn = raw_redis().await;
        let exists: bool = redis::cmd("HEXISTS")
            .arg(status_key(&config.key_prefix, job))
            .arg("error")
            .query_async(&mut conn)
            .await
            .unwrap();
        assert!(!exists);
    }

    // A short TTL expires the status.
    let short = BusConfig {
        ttl: Duration::from_secs(1),
        ..config.clone()
    };
    let bus = match bus {
        EventBus::Redis(_) => redis_bus(short),
        EventBus::Memory(_) => memory_bus(short),
    };
    let job = Uuid::new_v4();
    bus.set_status(&status(job, Utc::now())).await.unwrap();
    assert!(bus.get_status(job).await.unwrap().is_some());
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert_eq!(bus.get_status(job).await.unwrap(), None);
}

async fn stale_status_is_not_written(bus: EventBus, _config: BusConfig) {
    let job = Uuid::new_v4();
    let now = Utc::now();
    let newer = status(job, now);
    let mut older = status(job, now - chrono::Duration::seconds(5));
    older.phase = "discovering".to_string();
    assert!(bus.set_status(&newer).await.unwrap());
    assert!(
        !bus.set_status(&older).await.unwrap(),
        "older must be refused"
    );
    assert_eq!(bus.get_status(job).await.unwrap().unwrap().phase, "parsing");
    // Same timestamp: last write wins.
    let mut same = newer.clone();
    same.pct = 43;
    assert!(bus.set_status(&same).await.unwrap());
    assert_eq!(bus.get_status(job).await.unwrap().unwrap().pct, 43);
}

async fn health_check(bus: EventBus, _config: BusConfig) {
    bus.check().await.unwrap();
}

#[tokio::test]
async fn redis_down_is_a_retryable_error() {
    let bus = EventBus::redis("redis://127.0.0.1:1", config()).unwrap();
    let err = bus.check().await.unwrap_err();
    assert!(err.retryable(), "{err:?}");
    assert!(bus.subscribe(Uuid::new_v4(), 0).await.is_err());
    let err = bus
        .publish(&ev(Uuid::new_v4(), 1, types::PHASE))
        .await
        .unwrap_err();
    assert!(
        matches!(err, EventError::Pool(_) | EventError::Redis(_)),
        "{err:?}"
    );
}

#[tokio::test]
async fn corrupt_status_hash_is_reported() {
    let config = config();
    let bus = redis_bus(config.clone());
    let job = Uuid::new_v4();
    let mut conn = raw_redis().await;
    let _: () = redis::cmd("HSET")
        .arg(status_key(&config.key_prefix, job))
        .arg("jobId")
        .arg("not-a-uuid")
        .query_async(&mut conn)
        .await
        .unwrap();
    let err = bus.get_status(job).await.unwrap_err();
    assert!(matches!(err, EventError::Corrupt { .. }), "{err:?}");
    assert!(!err.retryable());
}
