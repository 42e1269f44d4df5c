//! Artifacts, events, warnings, and the runbook's queries through the real CLIs.

use std::process::Command;

use chrono::Utc;
use provis::db::{self, Db, JobUpdate, NewArtifact, NewJob, NewWarning, TaskState};
use serde_json::json;
use uuid::Uuid;

use super::{new_job, new_task, TestDb};
use crate::common::base_pg_url;

// ---- artifacts ----

fn artifact(snapshot_id: Uuid, kind: &str, job_id: Option<Uuid>) -> NewArtifact {
    NewArtifact {
        snapshot_id,
        kind: kind.to_owned(),
        job_id,
        schema_version: 1,
        generator_version: "0.1.0".to_owned(),
    }
}

async fn check_artifacts(db: &Db) {
    let job = new_job(db, "artifacts").await;
    let job2 = db.create_job(NewJob::new(job.repo_id)).await.unwrap();
    let (snap, _) = db
        .find_or_create_snapshot(job.repo_id, "c", "s", "k")
        .await
        .unwrap();

    let a1 = db
        .allocate_artifact(&artifact(snap.id, "graph", Some(job.id)))
        .await
        .unwrap();
    assert_eq!(
        (a1.version, a1.ready, a1.bytes, a1.uri.as_str()),
        (1, false, 0, "")
    );
    assert_eq!(
        (a1.schema_version, a1.generator_version.as_str()),
        (1, "0.1.0")
    );
    assert!(
        db.list_artifacts(snap.id).await.unwrap().is_empty(),
        "not ready, not listed"
    );
    assert_eq!(db.latest_artifact(snap.id, "graph").await.unwrap(), None);
    assert_eq!(
        db.artifact_for_job(snap.id, "graph", job.id).await.unwrap(),
        Some(a1.clone())
    );
    assert_eq!(
        db.artifact_for_job(snap.id, "graph", job2.id)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        db.artifact_for_job(snap.id, "files", job.id).await.unwrap(),
        None
    );

    let uri = format!("repos/{}/snapshots/c/s/graph.v1.json", job.repo_id);
    let f1 = db.finalize_artifact(a1.id, &uri, 2048).await.unwrap();
    assert_eq!(
        (f1.ready, f1.bytes, f1.uri.clone(), f1.version),
        (true, 2048, uri, 1)
    );
    assert_eq!(
        db.latest_artifact(snap.id, "graph").await.unwrap(),
        Some(f1.clone())
    );

    let a2 = db
        .allocate_artifact(&artifact(snap.id, "graph", Some(job2.id)))
        .await
        .unwrap();
    assert_eq!(a2.version, 2);
    assert_eq!(
        db.latest_artifact(snap.id, "graph")
            .await
            .unwrap()
            .map(|a| a.version),
        Some(1)
    );
    let f2 = db.finalize_artifact(a2.id, "graph.v2", 10).await.unwrap();
    assert_eq!(
        db.latest_artifact(snap.id, "graph").await.unwrap(),
        Some(f2)
    );
    let files = db
        .allocate_artifact(&artifact(snap.id, "files", None))
        .await
        .unwrap();
    assert_eq!(
        (files.version, files.job_id),
        (1, None),
        "versions count per kind"
    );
    db.finalize_artifact(files.id, "files.v1", 5).await.unwrap();
    let listed: Vec<_> = db
        .list_artifacts(snap.id)
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.kind, a.version))
        .collect();
    assert_eq!(
        listed,
        vec![
            ("files".into(), 1),
            ("graph".into(), 1),
            ("graph".into(), 2)
        ]
    );
    assert!(db
        .finalize_artifact(Uuid::now_v7(), "x", 1)
        .await
        .unwrap_err()
        .is_not_found());

    // Ten concurrent allocations get ten distinct, consecutive versions.
    let mut handles = Vec::new();
    for _ in 0..10 {
        let db = db.clone();
        let new = artifact(snap.id, "metrics", None);
        handles.push(tokio::spawn(async move {
            db.allocate_artifact(&new).await.unwrap().version
        }));
    }
    let mut versions = Vec::new();
    for h in handles {
        versions.push(h.await.unwrap());
    }
    versions.sort_unstable();
    assert_eq!(versions, (1..=10).collect::<Vec<_>>());
}
both_backends!(artifacts, check_artifacts);

// ---- events and warnings ----

async fn check_events(db: &Db) {
    let job = new_job(db, "events").await;
    assert_eq!(db.last_event(job.id).await.unwrap(), None);
    let e1 = db
        .insert_event(job.id, "upload_received", &json!({"bytes": 10}))
        .await
        .unwrap();
    let e2 = db
        .insert_event(job.id, "phase", &json!({"phase": "acquiring", "pct": 5}))
        .await
        .unwrap();
    let e3 = db
        .insert_event(job.id, "progress", &json!({"pct": 7}))
        .await
        .unwrap();
    assert_eq!((e1.seq, e2.seq, e3.seq), (1, 2, 3));
    assert_eq!(
        (e2.event_type.as_str(), e2.payload.clone()),
        ("phase", json!({"phase": "acquiring", "pct": 5}))
    );
    assert_eq!(
        serde_json::to_value(&e2).unwrap()["type"],
        json!("phase"),
        "column `type` on the wire"
    );
    assert_eq!(
        db.events_after(job.id, 0, 100).await.unwrap(),
        vec![e1.clone(), e2.clone(), e3.clone()]
    );
    assert_eq!(
        db.events_after(job.id, 1, 1).await.unwrap(),
        vec![e2.clone()]
    );
    assert!(db.events_after(job.id, 3, 100).await.unwrap().is_empty());
    assert_eq!(db.last_event(job.id).await.unwrap(), Some(e3));

    // Another job has its own sequence.
    let other = new_job(db, "events-2").await;
    assert_eq!(
        db.insert_event(other.id, "done", &json!({}))
            .await
            .unwrap()
            .seq,
        1
    );

    // Twenty writers at once: 4..=23 without gaps or duplicates.
    let mut handles = Vec::new();
    for i in 0..20 {
        let db = db.clone();
        handles.push(tokio::spawn(async move {
            db.insert_event(job.id, "batch_parsed", &json!({"i": i}))
                .await
                .unwrap()
                .seq
        }));
    }
    let mut seqs = Vec::new();
    for h in handles {
        seqs.push(h.await.unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (4..=23).collect::<Vec<_>>());
    let all = db.events_after(job.id, 0, 1000).await.unwrap();
    assert_eq!(
        all.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=23).collect::<Vec<_>>()
    );
    assert!(
        db.insert_event(Uuid::now_v7(), "x", &json!({}))
            .await
            .is_err(),
        "unknown job"
    );
}
both_backends!(events, check_events);

async fn check_warnings(db: &Db) {
    let job = new_job(db, "warnings").await;
    let w = NewWarning {
        job_id: job.id,
        snapshot_id: None,
        file_path: Some("src/a.ts".into()),
        code: "parse_timeout".into(),
        message: "parser timed out after 20 s".into(),
    };
    assert_eq!(db.count_warnings(job.id).await.unwrap(), 0);
    assert!(db.insert_warning(&w).await.unwrap());
    assert!(
        !db.insert_warning(&w).await.unwrap(),
        "a retried task does not duplicate it"
    );
    let w2 = NewWarning {
        file_path: None,
        code: "no_llm".into(),
        message: "deterministic summaries".into(),
        ..w.clone()
    };
    assert!(db.insert_warning(&w2).await.unwrap());
    let w3 = NewWarning {
        file_path: Some("src/b.ts".into()),
        ..w.clone()
    };
    assert!(db.insert_warning(&w3).await.unwrap());
    assert_eq!(db.count_warnings(job.id).await.unwrap(), 3);
    let listed = db.list_warnings(job.id, 10).await.unwrap();
    assert_eq!(listed.len(), 3);
    assert_eq!(listed[0].file_path.as_deref(), Some("src/a.ts"));
    assert_eq!(
        (listed[0].code.as_str(), listed[0].job_id),
        ("parse_timeout", job.id)
    );
    assert_eq!(db.list_warnings(job.id, 2).await.unwrap().len(), 2);
    let other = new_job(db, "warnings-2").await;
    assert!(
        db.insert_warning(&NewWarning {
            job_id: other.id,
            ..w
        })
        .await
        .unwrap(),
        "per job"
    );
    assert_eq!(db.count_warnings(other.id).await.unwrap(), 1);
}
both_backends!(warnings, check_warnings);

// ---- the runbook's queries with the real CLIs ----

/// Fills a job the way the pipeline would; returns (job id, task names).
async fn runbook_fixture(db: &Db) -> Uuid {
    let job = new_job(db, "runbook").await;
    db.update_job(
        job.id,
        JobUpdate {
            phase: Some("parsing".into()),
            pct: Some(42),
            error: Some(Some("parse_batch 1 failed: timeout".into())),
            ..JobUpdate::default()
        },
    )
    .await
    .unwrap();
    let ingest = db
        .insert_task(new_task(Some(job.id), "ingest", "high"))
        .await
        .unwrap();
    db.task_finished(ingest.id, TaskState::Done, None)
        .await
        .unwrap();
    let mut batch = new_task(Some(job.id), "parse_batch", "normal");
    batch.batch_index = Some(1);
    let batch = db.insert_task(batch).await.unwrap();
    db.task_finished(batch.id, TaskState::Failed, Some("timeout"))
        .await
        .unwrap();
    job.id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runbook_queries_work_verbatim_in_psql() {
    let t = TestDb::postgres(true).await;
    let job_id = runbook_fixture(&t.db).await;
    let schema = t.pg_schema.as_ref().unwrap().name.clone();
    let psql = |sql: String| {
        let out = Command::new("psql")
            .arg(base_pg_url())
            .args([
                "-X",
                "-A",
                "-t",
                "-F",
                "|",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                &sql,
            ])
            .env("PGOPTIONS", format!("-csearch_path={schema}"))
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "psql failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let job_row = psql(format!(
        "SELECT id, phase, pct, error FROM jobs WHERE id = '{job_id}'"
    ));
    assert_eq!(
        job_row.trim(),
        format!("{job_id}|parsing|42|parse_batch 1 failed: timeout")
    );
    let task_rows = psql(format!(
        "SELECT name, state, error FROM tasks WHERE job_id = '{job_id}'"
    ));
    let mut lines: Vec<_> = task_rows.lines().collect();
    lines.sort_unstable();
    assert_eq!(lines, vec!["ingest|done|", "parse_batch|failed|timeout"]);
    // Ids are real uuid columns and JSON is jsonb in Postgres.
    let types = psql(
        "SELECT data_type FROM information_schema.columns WHERE table_schema = current_schema() \
         AND table_name = 'jobs' AND column_name IN ('id', 'settings', 'created_at') ORDER BY column_name"
            .to_owned(),
    );
    assert_eq!(
        types.lines().collect::<Vec<_>>(),
        vec!["timestamp with time zone", "uuid", "jsonb"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_file_is_readable_with_the_sqlite3_cli() {
    let t = TestDb::sqlite(true).await;
    let job_id = runbook_fixture(&t.db).await;
    t.db.update_job(
        job_id,
        JobUpdate {
            timings: Some(json!({"parsing": 250})),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let path = t.sqlite_path.clone().unwrap();
    let sqlite3 = |sql: String| {
        let out = Command::new("sqlite3")
            .arg(&path)
            .arg(&sql)
            .output()
            .expect("run sqlite3");
        assert!(
            out.status.success(),
            "sqlite3 failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let job_row = sqlite3(format!(
        "SELECT id, phase, pct, error FROM jobs WHERE id = '{job_id}'"
    ));
    assert_eq!(
        job_row.trim(),
        format!("{job_id}|parsing|42|parse_batch 1 failed: timeout")
    );
    let task_rows = sqlite3(format!(
        "SELECT name, state, error FROM tasks WHERE job_id = '{job_id}' ORDER BY name"
    ));
    assert_eq!(
        task_rows.lines().collect::<Vec<_>>(),
        vec!["ingest|done|", "parse_batch|failed|timeout"]
    );
    let json = sqlite3(format!(
        "SELECT json_extract(timings, '$.parsing') FROM jobs WHERE id = '{job_id}'"
    ));
    assert_eq!(json.trim(), "250");
    // Times are fixed-width RFC 3339 text, so text order is time order.
    let created = sqlite3(format!("SELECT created_at FROM jobs WHERE id = '{job_id}'"));
    let created = created.trim();
    assert_eq!(
        created.len(),
        "2026-11-28T12:00:00.000000Z".len(),
        "{created}"
    );
    assert!(chrono::DateTime::parse_from_rfc3339(created).is_ok());
    let mode = sqlite3("PRAGMA journal_mode".to_owned());
    assert_eq!(mode.trim(), "wal");
    let stamp = db::types::format_sqlite_time(&Utc::now());
    assert_eq!(stamp.len(), created.len());
}
