//! The state layer against real databases: every test runs twice, on Postgres (a fresh
//! schema per test, selected through `options=-csearch_path`) and on a SQLite file in a
//! temporary directory.
//!
//! Run: `cargo test --test integration db::` (Postgres from `TEST_DATABASE_URL`, default
//! `postgres://postgres@127.0.0.1:5432/postgres`).

use std::collections::BTreeSet;

use chrono::Duration;
use provis::db::{self, Db, JobUpdate, NewJob, NewTask, SnapshotStatus};
use serde_json::json;
use uuid::Uuid;

use crate::common::PgSchema;

/// A database for one test; dropping it drops the Postgres schema (its [`PgSchema`]).
struct TestDb {
    db: Db,
    pg_schema: Option<PgSchema>,
    sqlite_path: Option<std::path::PathBuf>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    async fn postgres(migrate: bool) -> TestDb {
        let schema = PgSchema::create("dbtest");
        let url = schema.url.clone();
        let db = Db::connect(&url).await.expect("pool");
        if migrate {
            db.migrate().await.expect("migrate");
        }
        TestDb {
            db,
            pg_schema: Some(schema),
            sqlite_path: None,
            _dir: None,
        }
    }

    async fn sqlite(migrate: bool) -> TestDb {
        let dir = tempfile::tempdir().expect("tempdir");
        // A nested path checks that the parent directory is created.
        let path = dir.path().join("data").join("provis.db");
        let db = Db::connect(&format!("sqlite://{}", path.display()))
            .await
            .expect("pool");
        if migrate {
            db.migrate().await.expect("migrate");
        }
        TestDb {
            db,
            pg_schema: None,
            sqlite_path: Some(path),
            _dir: Some(dir),
        }
    }
}

/// Runs `$check(&Db)` on both backends (migrated unless `unmigrated` is given).
macro_rules! both_backends {
    ($name:ident, $check:ident) => {
        both_backends!($name, $check, true);
    };
    ($name:ident, $check:ident, unmigrated) => {
        both_backends!($name, $check, false);
    };
    ($name:ident, $check:ident, $migrate:expr) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                let t = crate::db::TestDb::postgres($migrate).await;
                assert_eq!(t.db.backend_name(), "postgres");
                super::$check(&t.db).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let t = crate::db::TestDb::sqlite($migrate).await;
                assert_eq!(t.db.backend_name(), "sqlite");
                super::$check(&t.db).await;
            }
        }
    };
}

async fn new_job(db: &Db, repo: &str) -> db::Job {
    let repo = db.upsert_repo(repo).await.unwrap();
    db.create_job(NewJob::new(repo.id)).await.unwrap()
}

fn new_task(job_id: Option<Uuid>, name: &str, queue: &str) -> NewTask {
    NewTask {
        id: Uuid::now_v7(),
        job_id,
        name: name.to_owned(),
        batch_index: None,
        queue: queue.to_owned(),
        max_attempts: 3,
        payload: json!({"name": name}),
        available_at: None,
    }
}

#[test]
fn db_handle_is_clone_send_sync() {
    fn check<T: Clone + Send + Sync + 'static>() {}
    check::<Db>();
}

#[tokio::test]
async fn bad_urls_are_rejected() {
    for url in ["mysql://h/db", "sqlite::memory:", ""] {
        let err = Db::connect(url).await.expect_err(url);
        assert!(matches!(err, db::DbError::InvalidUrl(_)), "{url}: {err}");
    }
}

// ---- migrations ----

async fn check_migrations_up_down_up(db: &Db) {
    let n = db.embedded_migrations();
    assert!(n >= 1);
    assert_eq!(db.pending_migrations().await.unwrap(), n);
    assert!(
        db.get_repo(Uuid::now_v7()).await.is_err(),
        "no tables before migrating"
    );

    assert_eq!(db.migrate().await.unwrap(), n);
    assert_eq!(db.pending_migrations().await.unwrap(), 0);
    assert_eq!(db.migrate().await.unwrap(), 0, "migrate twice is a no-op");
    let repo = db.upsert_repo("before-revert").await.unwrap();

    assert_eq!(db.revert_all().await.unwrap(), n);
    assert_eq!(db.pending_migrations().await.unwrap(), n);
    assert!(
        db.get_repo(repo.id).await.is_err(),
        "tables dropped by down.sql"
    );

    assert_eq!(db.migrate().await.unwrap(), n);
    assert_eq!(
        db.get_repo(repo.id).await.unwrap(),
        None,
        "fresh tables after up again"
    );
    db.ping().await.unwrap();
}
both_backends!(
    migrations_up_down_up,
    check_migrations_up_down_up,
    unmigrated
);

// ---- repos and snapshots ----

async fn check_repos_and_snapshots(db: &Db) {
    db.ping().await.unwrap();
    let repo = db.upsert_repo("acme/web").await.unwrap();
    assert_eq!(repo.name, "acme/web");
    assert_eq!(repo.owner_id, None);
    assert_eq!(
        db.upsert_repo("acme/web").await.unwrap(),
        repo,
        "upsert returns the same row"
    );
    assert_eq!(db.get_repo(repo.id).await.unwrap(), Some(repo.clone()));
    assert_eq!(
        db.get_repo_by_name("acme/web").await.unwrap(),
        Some(repo.clone())
    );
    assert_eq!(db.get_repo(Uuid::now_v7()).await.unwrap(), None);
    assert_ne!(db.upsert_repo("other").await.unwrap().id, repo.id);

    let (s1, created) = db
        .find_or_create_snapshot(repo.id, "c1", "s1", "uploads/a.zip")
        .await
        .unwrap();
    assert!(created);
    assert_eq!(s1.status, SnapshotStatus::Processing);
    assert_eq!(
        (s1.commit_hash.as_str(), s1.settings_hash.as_str()),
        ("c1", "s1")
    );
    assert_eq!(s1.source, "uploads/a.zip");
    let (again, created) = db
        .find_or_create_snapshot(repo.id, "c1", "s1", "other")
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(again, s1, "existing snapshot returned unchanged");
    let (s2, created) = db
        .find_or_create_snapshot(repo.id, "c1", "s2", "uploads/a.zip")
        .await
        .unwrap();
    assert!(created && s2.id != s1.id, "other settings, other snapshot");
    assert_eq!(db.get_snapshot(s1.id).await.unwrap(), Some(s1.clone()));
    assert_eq!(db.get_snapshot(Uuid::now_v7()).await.unwrap(), None);

    assert_eq!(db.latest_completed_snapshot(repo.id).await.unwrap(), None);
    let done1 = db
        .set_snapshot_status(s1.id, SnapshotStatus::Completed)
        .await
        .unwrap();
    assert_eq!(done1.status, SnapshotStatus::Completed);
    assert!(done1.updated_at >= s1.updated_at);
    assert_eq!(
        db.latest_completed_snapshot(repo.id).await.unwrap(),
        Some(done1.clone())
    );
    db.set_snapshot_status(s2.id, SnapshotStatus::Failed)
        .await
        .unwrap();
    assert_eq!(
        db.latest_completed_snapshot(repo.id)
            .await
            .unwrap()
            .map(|s| s.id),
        Some(s1.id)
    );
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    db.set_snapshot_status(s2.id, SnapshotStatus::Completed)
        .await
        .unwrap();
    assert_eq!(
        db.latest_completed_snapshot(repo.id)
            .await
            .unwrap()
            .map(|s| s.id),
        Some(s2.id)
    );

    let err = db
        .set_snapshot_status(Uuid::now_v7(), SnapshotStatus::Failed)
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");

    // Racing creators: exactly one sees `created`.
    let mut handles = Vec::new();
    for _ in 0..8 {
        let db = db.clone();
        handles.push(tokio::spawn(async move {
            db.find_or_create_snapshot(repo.id, "race", "s", "src")
                .await
                .unwrap()
        }));
    }
    let mut ids = BTreeSet::new();
    let mut creators = 0;
    for h in handles {
        let (s, created) = h.await.unwrap();
        ids.insert(s.id);
        creators += usize::from(created);
    }
    assert_eq!((ids.len(), creators), (1, 1));
}
both_backends!(repos_and_snapshots, check_repos_and_snapshots);

// ---- jobs ----

async fn check_jobs(db: &Db) {
    let repo = db.upsert_repo("jobs-repo").await.unwrap();
    let (snap, _) = db
        .find_or_create_snapshot(repo.id, "c", "s", "k")
        .await
        .unwrap();
    let wanted = Uuid::now_v7();
    let mut new = NewJob::new(repo.id);
    new.id = Some(wanted);
    new.priority = "high".into();
    new.upload_key = Some("uploads/x.zip".into());
    new.upload_bytes = 1234;
    new.settings = json!({"maxFileBytes": 2097152, "llm": false});
    let job = db.create_job(new).await.unwrap();
    assert_eq!(job.id, wanted);
    assert_eq!(
        (job.phase.as_str(), job.pct, job.priority.as_str()),
        ("queued", 0, "high")
    );
    assert_eq!((job.error.clone(), job.snapshot_id), (None, None));
    assert_eq!(job.upload_key.as_deref(), Some("uploads/x.zip"));
    assert_eq!(job.upload_bytes, 1234);
    assert_eq!(job.settings, json!({"maxFileBytes": 2097152, "llm": false}));
    assert_eq!(job.timings, json!({}));
    assert!(!job.cache_hit && !job.merge_enqueued);
    assert_eq!(db.get_job(job.id).await.unwrap(), Some(job.clone()));
    assert_eq!(db.get_job(Uuid::now_v7()).await.unwrap(), None);

    let started = db::now() - Duration::seconds(3);
    let updated = db
        .update_job(
            job.id,
            JobUpdate {
                phase: Some("parsing".into()),
                pct: Some(42),
                error: Some(Some("boom".into())),
                snapshot_id: Some(Some(snap.id)),
                files_total: Some(120),
                batches_total: Some(3),
                imports_total: Some(10),
                imports_internal: Some(6),
                imports_external: Some(3),
                imports_unresolved: Some(1),
                cache_hit: Some(true),
                timings: Some(json!({"discovering": 12})),
                started_at: Some(Some(started)),
                ..JobUpdate::default()
            },
        )
        .await
        .unwrap();
    assert_eq!((updated.phase.as_str(), updated.pct), ("parsing", 42));
    assert_eq!(updated.error.as_deref(), Some("boom"));
    assert_eq!(updated.snapshot_id, Some(snap.id));
    assert_eq!((updated.files_total, updated.batches_total), (120, 3));
    assert_eq!(
        (
            updated.imports_total,
            updated.imports_internal,
            updated.imports_external,
            updated.imports_unresolved
        ),
        (10, 6, 3, 1)
    );
    assert!(updated.cache_hit);
    assert_eq!(updated.timings, json!({"discovering": 12}));
    assert_eq!(
        updated.started_at,
        Some(started),
        "times round-trip exactly"
    );
    assert_eq!(
        updated.upload_key, job.upload_key,
        "unset fields keep their value"
    );
    assert_eq!(updated.created_at, job.created_at);
    assert!(updated.updated_at >= job.updated_at);

    let cleared = db
        .update_job(
            job.id,
            JobUpdate {
                error: Some(None),
                snapshot_id: Some(None),
                ..JobUpdate::default()
            },
        )
        .await
        .unwrap();
    assert_eq!((cleared.error, cleared.snapshot_id), (None, None));
    assert_eq!(cleared.pct, 42);
    let untouched = db.update_job(job.id, JobUpdate::default()).await.unwrap();
    assert_eq!(untouched.phase, "parsing");

    let err = db
        .update_job(Uuid::now_v7(), JobUpdate::default())
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
}
both_backends!(jobs, check_jobs);

async fn check_batch_fan_in(db: &Db) {
    let job = new_job(db, "fan-in").await;
    db.update_job(
        job.id,
        JobUpdate {
            batches_total: Some(3),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        db.incr_batches_done(
            job.id,
            0,
            10,
            Some(r#"{"refs":[["k0","p0"]],"reused":0}"#.into())
        )
        .await
        .unwrap()
        .map(counts),
        Some((1, 3))
    );
    assert_eq!(
        db.incr_batches_done(job.id, 0, 10, Some("a retry's refs".into()))
            .await
            .unwrap()
            .map(counts),
        None,
        "retry not counted"
    );
    let second = db
        .incr_batches_done(job.id, 1, 5, Some("[]".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            second.batches_done,
            second.batches_total,
            second.files_parsed
        ),
        (2, 3, 15),
        "the row after the increment"
    );
    let job_now = db.get_job(job.id).await.unwrap().unwrap();
    assert_eq!((job_now.batches_done, job_now.files_parsed), (2, 15));

    // Ten deliveries of the last batch at once: counted once.
    let mut handles = Vec::new();
    for _ in 0..10 {
        let db = db.clone();
        handles.push(tokio::spawn(async move {
            db.incr_batches_done(job.id, 2, 7, None)
                .await
                .unwrap()
                .map(counts)
        }));
    }
    let mut results = Vec::new();
    for h in handles {
        results.push(h.await.unwrap());
    }
    let counted: Vec<_> = results.into_iter().flatten().collect();
    assert_eq!(counted, vec![(3, 3)]);
    let job_now = db.get_job(job.id).await.unwrap().unwrap();
    assert_eq!((job_now.batches_done, job_now.files_parsed), (3, 22));
    let batches = db.list_batch_results(job.id).await.unwrap();
    assert_eq!(
        batches.iter().map(|b| b.batch_index).collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    assert_eq!(batches.iter().map(|b| b.files_parsed).sum::<i32>(), 22);
    assert!(batches.iter().all(|b| b.done && b.job_id == job.id));
    // Each batch keeps the cache refs of the attempt that counted it.
    assert_eq!(
        batches
            .iter()
            .map(|b| b.cache_refs.as_deref())
            .collect::<Vec<_>>(),
        vec![
            Some(r#"{"refs":[["k0","p0"]],"reused":0}"#),
            Some("[]"),
            None
        ]
    );

    // Many distinct batches, each delivered twice, concurrently: each count seen once.
    let job2 = new_job(db, "fan-in-2").await;
    db.update_job(
        job2.id,
        JobUpdate {
            batches_total: Some(12),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let mut handles = Vec::new();
    for i in 0..24 {
        let db = db.clone();
        handles.push(tokio::spawn(async move {
            db.incr_batches_done(job2.id, i % 12, 1, None)
                .await
                .unwrap()
                .map(counts)
        }));
    }
    let mut seen = Vec::new();
    for h in handles {
        if let Some((done, total)) = h.await.unwrap() {
            assert_eq!(total, 12);
            seen.push(done);
        }
    }
    seen.sort_unstable();
    assert_eq!(seen, (1..=12).collect::<Vec<_>>());

    assert!(
        db.incr_batches_done(Uuid::now_v7(), 0, 1, None)
            .await
            .is_err(),
        "unknown job"
    );
}
both_backends!(batch_fan_in, check_batch_fan_in);

/// `(batches_done, batches_total)` of the row a count returns.
fn counts(job: provis::db::Job) -> (i32, i32) {
    (job.batches_done, job.batches_total)
}

async fn check_claim_merge(db: &Db) {
    let job = new_job(db, "merge").await;
    let mut handles = Vec::new();
    for _ in 0..10 {
        let db = db.clone();
        handles.push(tokio::spawn(async move {
            db.claim_merge(job.id).await.unwrap()
        }));
    }
    let mut winners = 0;
    for h in handles {
        winners += usize::from(h.await.unwrap());
    }
    assert_eq!(winners, 1);
    assert!(!db.claim_merge(job.id).await.unwrap());
    assert!(db.get_job(job.id).await.unwrap().unwrap().merge_enqueued);
    assert!(
        !db.claim_merge(Uuid::now_v7()).await.unwrap(),
        "unknown job claims nothing"
    );
}
both_backends!(claim_merge, check_claim_merge);

mod queue;
mod records;
