//! Task records and the embedded queue: claims, priorities, concurrency, leases.

use std::collections::BTreeSet;

use chrono::Duration;
use provis::db::{self, Db, TaskState};
use serde_json::json;
use uuid::Uuid;

use super::{new_job, new_task};

// ---- tasks ----

async fn check_task_records(db: &Db) {
    let job = new_job(db, "tasks").await;
    let mut ingest = new_task(Some(job.id), "ingest", "high");
    ingest.id = db::task_id(job.id, "ingest", None);
    let row = db.insert_task(ingest.clone()).await.unwrap();
    assert_eq!(
        (row.state, row.attempt, row.max_attempts),
        (TaskState::Queued, 0, 3)
    );
    assert_eq!(row.payload, json!({"name": "ingest"}));
    assert_eq!(
        (row.worker.clone(), row.lease_until, row.started_at),
        (None, None, None)
    );

    // Same id again (a re-delivered enqueue): no error, no second row, no change.
    let mut dup = ingest.clone();
    dup.name = "changed".into();
    assert_eq!(db.insert_task(dup).await.unwrap(), row);

    let mut batch = new_task(Some(job.id), "parse_batch", "normal");
    batch.batch_index = Some(4);
    let batch = db.insert_task(batch).await.unwrap();
    let diagnostic = db
        .insert_task(new_task(None, "diagnostic", "low"))
        .await
        .unwrap();
    assert_eq!(diagnostic.job_id, None);

    let listed = db.list_tasks(job.id).await.unwrap();
    assert_eq!(
        listed.iter().map(|t| t.id).collect::<Vec<_>>(),
        vec![row.id, batch.id]
    );
    assert_eq!(listed[1].batch_index, Some(4));

    let lease = db::now() + Duration::seconds(30);
    let running = db.task_started(row.id, 1, "w1", Some(lease)).await.unwrap();
    assert_eq!((running.state, running.attempt), (TaskState::Running, 1));
    assert_eq!(
        (running.worker.as_deref(), running.lease_until),
        (Some("w1"), Some(lease))
    );
    assert!(running.started_at.is_some() && running.ended_at.is_none());

    let retry_at = db::now() + Duration::seconds(30);
    let requeued = db
        .task_requeue(row.id, retry_at, Some("transient"))
        .await
        .unwrap();
    assert_eq!(
        (requeued.state, requeued.available_at),
        (TaskState::Queued, retry_at)
    );
    assert_eq!(
        (requeued.error.as_deref(), requeued.lease_until),
        (Some("transient"), None)
    );
    assert!(requeued.ended_at.is_some());

    db.task_started(row.id, 2, "w2", None).await.unwrap();
    let done = db
        .task_finished(row.id, TaskState::Done, None)
        .await
        .unwrap();
    assert_eq!(
        (done.state, done.attempt, done.error.clone()),
        (TaskState::Done, 2, None)
    );
    let failed = db
        .task_finished(batch.id, TaskState::Failed, Some("no retries left"))
        .await
        .unwrap();
    assert_eq!(
        (failed.state, failed.error.as_deref()),
        (TaskState::Failed, Some("no retries left"))
    );
    assert_eq!(db.get_task(row.id).await.unwrap(), Some(done));
    assert_eq!(db.get_task(Uuid::now_v7()).await.unwrap(), None);

    let err = db
        .task_finished(Uuid::now_v7(), TaskState::Done, None)
        .await
        .unwrap_err();
    assert!(err.is_not_found());
    assert!(db
        .task_started(Uuid::now_v7(), 1, "w", None)
        .await
        .unwrap_err()
        .is_not_found());
    assert!(db
        .task_requeue(Uuid::now_v7(), db::now(), None)
        .await
        .unwrap_err()
        .is_not_found());
}
both_backends!(task_records, check_task_records);

/// Many rows in one transaction (a job's parse batches): the new ones inserted, a row that
/// exists left as it is, as `insert_task` does one by one.
async fn check_insert_tasks(db: &Db) {
    let job = new_job(db, "bulk").await;
    let batch = |i: i32| {
        let mut t = new_task(Some(job.id), "parse_batch", "normal");
        t.id = db::task_id(job.id, "parse_batch", Some(i));
        t.batch_index = Some(i);
        t
    };
    let first = db.insert_task(batch(1)).await.unwrap();
    let running = db.task_started(first.id, 1, "w1", None).await.unwrap();
    let n = db.insert_tasks((0..5).map(batch).collect()).await.unwrap();
    assert_eq!(n, 4, "batch 1 existed");
    let listed = db.list_tasks(job.id).await.unwrap();
    assert_eq!(
        listed
            .iter()
            .filter_map(|t| t.batch_index)
            .collect::<BTreeSet<_>>(),
        (0..5).collect::<BTreeSet<_>>()
    );
    assert_eq!(db.get_task(first.id).await.unwrap(), Some(running));
    assert!(listed
        .iter()
        .filter(|t| t.id != first.id)
        .all(|t| (t.state, t.attempt) == (TaskState::Queued, 0)));
    assert_eq!(db.insert_tasks(Vec::new()).await.unwrap(), 0);
}
both_backends!(insert_tasks, check_insert_tasks);

/// A job's batches inserted together, all available at the same instant, are claimed in the
/// order they were given (discover gives the costliest first), not by batch index.
async fn check_bulk_claim_order(db: &Db) {
    let job = new_job(db, "bulk-order").await;
    let at = db::now() - Duration::seconds(1);
    let given = [3, 0, 4, 1, 2];
    let rows = given
        .iter()
        .map(|&i| {
            let mut t = new_task(Some(job.id), "parse_batch", "normal");
            t.id = db::task_id(job.id, "parse_batch", Some(i));
            t.batch_index = Some(i);
            t.available_at = Some(at);
            t
        })
        .collect();
    assert_eq!(db.insert_tasks(rows).await.unwrap(), given.len());
    let lease = db::now() + Duration::seconds(60);
    let mut claimed = Vec::new();
    while let Some(t) = db.claim_next_task(&["normal"], "w", lease).await.unwrap() {
        claimed.extend(t.batch_index);
    }
    assert_eq!(claimed, given);
}
both_backends!(bulk_claim_order, check_bulk_claim_order);

async fn check_claim_order(db: &Db) {
    let job = new_job(db, "claim-order").await;
    let queues = ["high", "normal", "low"];
    let lease = db::now() + Duration::seconds(60);
    assert_eq!(db.claim_next_task(&queues, "w", lease).await.unwrap(), None);
    assert_eq!(db.next_available_at(&queues).await.unwrap(), None);

    let low = db
        .insert_task(new_task(Some(job.id), "summarize", "low"))
        .await
        .unwrap();
    let normal1 = db
        .insert_task(new_task(Some(job.id), "discover", "normal"))
        .await
        .unwrap();
    let normal2 = db
        .insert_task(new_task(Some(job.id), "map", "normal"))
        .await
        .unwrap();
    let later = db::now() + Duration::hours(1);
    let mut future = new_task(Some(job.id), "finalize", "high");
    future.available_at = Some(later);
    let future = db.insert_task(future).await.unwrap();
    let high = db
        .insert_task(new_task(Some(job.id), "ingest", "high"))
        .await
        .unwrap();
    assert_eq!(
        db.count_tasks("normal", TaskState::Queued).await.unwrap(),
        2
    );
    assert_eq!(
        db.next_available_at(&["high"]).await.unwrap(),
        Some(high.available_at)
    );

    let mut order = Vec::new();
    while let Some(t) = db.claim_next_task(&queues, "w", lease).await.unwrap() {
        assert_eq!((t.state, t.attempt), (TaskState::Running, 1));
        assert_eq!(
            (t.worker.as_deref(), t.lease_until),
            (Some("w"), Some(lease))
        );
        assert!(t.started_at.is_some());
        order.push(t.id);
    }
    assert_eq!(
        order,
        vec![high.id, normal1.id, normal2.id, low.id],
        "priority, then age"
    );
    assert_eq!(
        db.get_task(future.id).await.unwrap().unwrap().state,
        TaskState::Queued
    );
    assert_eq!(db.next_available_at(&queues).await.unwrap(), Some(later));
    assert_eq!(db.next_available_at(&["low"]).await.unwrap(), None);
    assert_eq!(
        db.count_tasks("normal", TaskState::Running).await.unwrap(),
        2
    );
    // Only the queues asked for are served.
    let mut other = new_task(None, "diagnostic", "other");
    other.available_at = Some(db::now() - Duration::seconds(1));
    let other = db.insert_task(other).await.unwrap();
    assert_eq!(db.claim_next_task(&queues, "w", lease).await.unwrap(), None);
    let got = db.claim_next_task(&["other"], "w", lease).await.unwrap();
    assert_eq!(got.map(|t| t.id), Some(other.id));
}
both_backends!(claim_order, check_claim_order);

async fn check_concurrent_claims(db: &Db) {
    let job = new_job(db, "claim-race").await;
    let mut inserted = BTreeSet::new();
    for i in 0..40 {
        let queue = if i % 4 == 0 { "high" } else { "normal" };
        inserted.insert(
            db.insert_task(new_task(Some(job.id), "parse_batch", queue))
                .await
                .unwrap()
                .id,
        );
    }
    let mut handles = Vec::new();
    for w in 0..8 {
        let db = db.clone();
        handles.push(tokio::spawn(async move {
            let worker = format!("worker-{w}");
            let mut mine = Vec::new();
            let lease = db::now() + Duration::seconds(60);
            while let Some(t) = db
                .claim_next_task(&["high", "normal"], &worker, lease)
                .await
                .unwrap()
            {
                assert_eq!(t.worker.as_deref(), Some(worker.as_str()));
                mine.push(t.id);
            }
            mine
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.unwrap());
    }
    let unique: BTreeSet<_> = all.iter().copied().collect();
    assert_eq!(all.len(), 40, "every task claimed exactly once");
    assert_eq!(unique, inserted);
    let tasks = db.list_tasks(job.id).await.unwrap();
    assert!(tasks
        .iter()
        .all(|t| t.state == TaskState::Running && t.attempt == 1));
}
both_backends!(concurrent_claims, check_concurrent_claims);

async fn check_leases(db: &Db) {
    let job = new_job(db, "leases").await;
    let task = db
        .insert_task(new_task(Some(job.id), "map", "normal"))
        .await
        .unwrap();
    let expired = db::now() - Duration::seconds(1);
    let claimed = db
        .claim_next_task(&["normal"], "dead-worker", expired)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(claimed.id, task.id);
    assert_eq!(
        db.claim_next_task(&["normal"], "w2", expired)
            .await
            .unwrap(),
        None,
        "held"
    );

    let t = db::now();
    assert_eq!(db.requeue_expired_leases(t).await.unwrap(), 1);
    let back = db.get_task(task.id).await.unwrap().unwrap();
    assert_eq!(
        (back.state, back.lease_until, back.available_at),
        (TaskState::Queued, None, t)
    );
    assert!(back.error.is_some());
    assert_eq!(db.requeue_expired_leases(db::now()).await.unwrap(), 0);

    let lease = db::now() + Duration::seconds(1);
    let again = db
        .claim_next_task(&["normal"], "w2", lease)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (again.id, again.attempt),
        (task.id, 2),
        "the retry counts as a new attempt"
    );
    assert!(
        !db.renew_lease(task.id, "dead-worker", lease).await.unwrap(),
        "not its task any more"
    );
    let renewed_until = db::now() + Duration::seconds(120);
    assert!(db.renew_lease(task.id, "w2", renewed_until).await.unwrap());
    assert_eq!(
        db.get_task(task.id).await.unwrap().unwrap().lease_until,
        Some(renewed_until)
    );
    assert_eq!(
        db.requeue_expired_leases(db::now() + Duration::seconds(60))
            .await
            .unwrap(),
        0
    );
    db.task_finished(task.id, TaskState::Done, None)
        .await
        .unwrap();
    assert!(
        !db.renew_lease(task.id, "w2", renewed_until).await.unwrap(),
        "finished"
    );
    assert_eq!(
        db.requeue_expired_leases(db::now() + Duration::hours(1))
            .await
            .unwrap(),
        0
    );
}
both_backends!(leases, check_leases);
