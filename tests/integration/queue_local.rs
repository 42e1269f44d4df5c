//! The in-process backend (embedded mode) over the in-memory task store: priority, retries
//! with backoff, final failure, panic = retry, graceful hand-back, and restart recovery.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use provis::queue::{
    diag, Envelope, Hooks, LocalBackend, MemoryTaskStore, QueueBackend, Registry, TaskError,
    TaskSpec, TaskState, TaskStore, Worker, WorkerOptions, WorkerStats,
};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// One hook call: (kind, task id, attempt, message, next_at).
type Call = (String, Uuid, u32, String, Option<DateTime<Utc>>);

/// Hook calls in order.
#[derive(Default)]
struct Recorder(Mutex<Vec<Call>>);

impl Recorder {
    fn push(&self, kind: &str, env: &Envelope, msg: &str, at: Option<DateTime<Utc>>) {
        self.0
            .lock()
            .expect("lock")
            .push((kind.into(), env.task_id, env.attempt, msg.into(), at));
    }
    fn kinds(&self, id: Uuid) -> Vec<(String, u32)> {
        self.0
            .lock()
            .expect("lock")
            .iter()
            .filter(|r| r.1 == id)
            .map(|r| (r.0.clone(), r.2))
            .collect()
    }
    fn retries(&self, id: Uuid) -> Vec<(String, Option<DateTime<Utc>>)> {
        self.0
            .lock()
            .expect("lock")
            .iter()
            .filter(|r| r.1 == id && r.0 == "retry")
            .map(|r| (r.3.clone(), r.4))
            .collect()
    }
}

#[async_trait::async_trait]
impl Hooks<()> for Recorder {
    async fn on_started(&self, _: &(), env: &Envelope) -> Result<(), TaskError> {
        self.push("started", env, "", None);
        Ok(())
    }
    async fn on_done(&self, _: &(), env: &Envelope) -> Result<(), TaskError> {
        self.push("done", env, "", None);
        Ok(())
    }
    async fn on_retry(
        &self,
        _: &(),
        env: &Envelope,
        err: &TaskError,
        at: DateTime<Utc>,
    ) -> Result<(), TaskError> {
        self.push("retry", env, err.message(), Some(at));
        Ok(())
    }
    async fn on_failed(&self, _: &(), env: &Envelope, err: &TaskError) -> Result<(), TaskError> {
        self.push("failed", env, err.message(), None);
        Ok(())
    }
}

fn registry() -> Registry<()> {
    let mut reg = Registry::new();
    diag::register(&mut reg).expect("register");
    reg
}

fn queues() -> Vec<String> {
    ["high", "normal", "low"].map(String::from).to_vec()
}

fn env_for(spec: &TaskSpec, payload: serde_json::Value) -> Envelope {
    Envelope::new(spec, Uuid::new_v4(), Some(Uuid::new_v4()), None, payload)
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

async fn run_burst(backend: &LocalBackend, hooks: Arc<Recorder>) -> WorkerStats {
    let mut opts = WorkerOptions::new("local-test", queues());
    opts.burst = true;
    let w =
        Worker::new(QueueBackend::Local(backend.clone()), registry(), (), opts).with_hooks(hooks);
    tokio::time::timeout(Duration::from_secs(60), w.run(CancellationToken::new()))
        .await
        .expect("burst run ends")
        .expect("run")
}

#[tokio::test]
async fn priority_high_before_normal_before_low() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("order.txt");
    let store = Arc::new(MemoryTaskStore::new());
    let backend = LocalBackend::new(store.clone());
    for q in ["low", "normal", "high"] {
        for i in 0..3 {
            let spec = TaskSpec {
                queue: q,
                ..diag::APPEND
            };
            let env = env_for(
                &spec,
                serde_json::json!({ "file": file, "line": format!("{q}-{i}") }),
            );
            assert!(backend.enqueue(&spec, &env).await.expect("enqueue"));
            assert!(
                !backend.enqueue(&spec, &env).await.expect("again"),
                "idempotent on task id"
            );
        }
    }
    let stats = run_burst(&backend, Arc::new(Recorder::default())).await;
    assert_eq!(stats.done, 9);
    let expected: Vec<String> = ["high", "normal", "low"]
        .iter()
        .flat_map(|q| (0..3).map(move |i| format!("{q}-{i}")))
        .collect();
    assert_eq!(lines(&file), expected);
    assert!(store
        .rows()
        .iter()
        .all(|r| r.state == TaskState::Done && r.attempt == 1));
}

#[tokio::test]
async fn retry_waits_for_the_backoff_then_succeeds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("retry.txt");
    let store = Arc::new(MemoryTaskStore::new());
    let backend = LocalBackend::new(store.clone());
    let env = env_for(&diag::FAIL, serde_json::json!({ "times": 1, "file": file }));
    backend.enqueue(&diag::FAIL, &env).await.expect("enqueue");
    let hooks = Arc::new(Recorder::default());
    let stats = run_burst(&backend, hooks.clone()).await;
    assert_eq!((stats.done, stats.retried, stats.failed), (1, 1, 0));
    let row = store.get(env.task_id).expect("row");
    assert_eq!(row.state, TaskState::Done);
    assert_eq!(row.attempt, 2);
    assert_eq!(lines(&file), vec![format!("{} 2", env.id)]);
    assert_eq!(
        hooks.kinds(env.task_id),
        vec![
            ("started".into(), 1),
            ("retry".into(), 1),
            ("started".into(), 2),
            ("done".into(), 2)
        ]
    );
    // The retry was scheduled one backoff (1 s) out, and the row waited for it.
    let (msg, at) = hooks.retries(env.task_id).remove(0);
    assert!(msg.contains("attempt 1"), "{msg}");
    let at = at.expect("next_at");
    assert!(row.available_at >= at, "second run not before its due time");
    let wait = at - row.env.enqueued_at;
    assert!(
        wait >= chrono::Duration::milliseconds(900),
        "backoff applied: {wait}"
    );
}

#[tokio::test]
async fn exhausted_retries_and_fatal_errors_fail_the_task() {
    let store = Arc::new(MemoryTaskStore::new());
    let backend = LocalBackend::new(store.clone());
    let exhaust = env_for(&diag::FAIL, serde_json::json!({ "times": 10 }));
    let fatal = env_for(
        &diag::FAIL,
        serde_json::json!({ "times": 10, "fatal": true }),
    );
    let unknown_spec = TaskSpec {
        name: "no_such_task",
        queue: "normal",
        max_attempts: 3,
        backoff_s: &[],
    };
    let unknown = env_for(&unknown_spec, serde_json::json!({}));
    backend
        .enqueue(&diag::FAIL, &exhaust)
        .await
        .expect("enqueue");
    backend.enqueue(&diag::FAIL, &fatal).await.expect("enqueue");
    backend
        .enqueue(&unknown_spec, &unknown)
        .await
        .expect("enqueue");
    let hooks = Arc::new(Recorder::default());
    let stats = run_burst(&backend, hooks.clone()).await;
    assert_eq!(
        (stats.done, stats.retried, stats.failed),
        (0, 2, 3),
        "{stats:?}"
    );
    let row = store.get(exhaust.task_id).expect("row");
    assert_eq!((row.state, row.attempt), (TaskState::Failed, 3));
    assert!(
        row.error
            .as_deref()
            .is_some_and(|e| e.contains("attempt 3")),
        "{:?}",
        row.error
    );
    assert_eq!(
        hooks.kinds(exhaust.task_id).last(),
        Some(&("failed".to_string(), 3))
    );
    let row = store.get(fatal.task_id).expect("row");
    assert_eq!(
        (row.state, row.attempt),
        (TaskState::Failed, 1),
        "Fail skips the retries"
    );
    let row = store.get(unknown.task_id).expect("row");
    assert_eq!(row.state, TaskState::Failed);
    assert!(
        row.error
            .as_deref()
            .is_some_and(|e| e.contains("unknown task type")),
        "{:?}",
        row.error
    );
}

#[tokio::test]
async fn a_panic_is_a_retry() {
    let store = Arc::new(MemoryTaskStore::new());
    let backend = LocalBackend::new(store.clone());
    let once = env_for(&diag::PANIC, serde_json::json!({ "times": 1 }));
    let always = env_for(&diag::PANIC, serde_json::json!({}));
    backend.enqueue(&diag::PANIC, &once).await.expect("enqueue");
    backend
        .enqueue(&diag::PANIC, &always)
        .await
        .expect("enqueue");
    let hooks = Arc::new(Recorder::default());
    let stats = run_burst(&backend, hooks.clone()).await;
    assert_eq!((stats.done, stats.failed), (1, 1), "{stats:?}");
    let row = store.get(once.task_id).expect("row");
    assert_eq!((row.state, row.attempt), (TaskState::Done, 2));
    let retries = hooks.retries(once.task_id);
    assert_eq!(retries.len(), 1);
    assert!(
        retries[0].0.contains("panic: diag_panic on attempt 1"),
        "{retries:?}"
    );
    let row = store.get(always.task_id).expect("row");
    assert_eq!(
        (row.state, row.attempt),
        (TaskState::Failed, 2),
        "spec allows 2 attempts"
    );
}

#[tokio::test]
async fn restart_reruns_tasks_a_dead_process_left_running() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("restart.txt");
    let store = Arc::new(MemoryTaskStore::new());
    let env = env_for(
        &diag::APPEND,
        serde_json::json!({ "file": file, "line": "ran" }),
    );
    {
        // The first process claims the task with a long lease and dies mid-job.
        let first = LocalBackend::new(store.clone());
        first.enqueue(&diag::APPEND, &env).await.expect("enqueue");
        let claim = first
            .claim("dead-process", &queues(), Duration::from_secs(3600))
            .await
            .expect("claim")
            .expect("a task");
        assert_eq!(claim.env.task_id, env.task_id);
    }
    assert_eq!(
        store.get(env.task_id).expect("row").state,
        TaskState::Running
    );
    // The restarted process recovers it at start-up, although its lease has not lapsed.
    let second = LocalBackend::new(store.clone());
    let stats = run_burst(&second, Arc::new(Recorder::default())).await;
    assert_eq!(stats.done, 1);
    let row = store.get(env.task_id).expect("row");
    assert_eq!((row.state, row.attempt), (TaskState::Done, 2));
    assert_eq!(lines(&file), vec!["ran".to_string()]);
    // Start-up recovery runs once per backend: a second call must not requeue anything.
    assert_eq!(second.recover_on_startup().await.expect("recover"), 1);
}

#[tokio::test]
async fn expired_leases_are_requeued_by_the_sweep() {
    let store = Arc::new(MemoryTaskStore::new());
    let backend = LocalBackend::new(store.clone());
    let env = env_for(&diag::NOOP, serde_json::json!({}));
    backend.enqueue(&diag::NOOP, &env).await.expect("enqueue");
    let lease_until = Utc::now() + chrono::Duration::seconds(1);
    let taken = store
        .claim_next(&queues(), "stalled", lease_until)
        .await
        .expect("claim");
    assert!(taken.is_some());
    assert_eq!(
        store.requeue_expired(Utc::now()).await.expect("sweep"),
        0,
        "lease still valid"
    );
    let later = Utc::now() + chrono::Duration::seconds(2);
    assert_eq!(store.requeue_expired(later).await.expect("sweep"), 1);
    let row = store.get(env.task_id).expect("row");
    assert_eq!((row.state, row.attempt), (TaskState::Queued, 1));
}

#[tokio::test]
async fn an_idle_worker_wakes_for_new_work_and_hands_back_on_stop() {
    let store = Arc::new(MemoryTaskStore::new());
    let backend = LocalBackend::new(store.clone());
    let mut opts = WorkerOptions::new("local-idle", queues());
    opts.grace = Duration::from_millis(300);
    let stop = CancellationToken::new();
    let hooks = Arc::new(Recorder::default());
    let w = Worker::new(QueueBackend::Local(backend.clone()), registry(), (), opts)
        .with_hooks(hooks.clone());
    let run = tokio::spawn(w.run(stop.clone()));
    tokio::time::sleep(Duration::from_millis(100)).await;

    let quick = env_for(&diag::NOOP, serde_json::json!({}));
    backend.enqueue(&diag::NOOP, &quick).await.expect("enqueue");
    let slow = env_for(&diag::SLEEP, serde_json::json!({ "ms": 30000 }));
    backend.enqueue(&diag::SLEEP, &slow).await.expect("enqueue");
    for _ in 0..200 {
        if store
            .get(slow.task_id)
            .is_some_and(|r| r.state == TaskState::Running)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(
        store.get(quick.task_id).expect("row").state,
        TaskState::Done
    );
    assert_eq!(
        store.get(slow.task_id).expect("row").state,
        TaskState::Running
    );
    stop.cancel();
    let stats = tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .expect("stops")
        .expect("join")
        .expect("run");
    assert_eq!((stats.done, stats.handed_back), (1, 1), "{stats:?}");
    let row = store.get(slow.task_id).expect("row");
    assert_eq!(
        row.state,
        TaskState::Queued,
        "handed back for the next process"
    );
    assert_eq!(
        hooks.retries(slow.task_id).len(),
        1,
        "on_retry tells the caller it is queued again"
    );
}

/// Hooks whose on_started fails once: the handler must not run, and the error is retried.
struct FailingStart(Mutex<u32>);

#[async_trait::async_trait]
impl Hooks<()> for FailingStart {
    async fn on_started(&self, _: &(), _: &Envelope) -> Result<(), TaskError> {
        let mut n = self.0.lock().expect("lock");
        *n += 1;
        if *n == 1 {
            return Err(TaskError::Retry("database busy".into()));
        }
        Ok(())
    }
}

#[tokio::test]
async fn a_failing_start_hook_counts_as_a_retryable_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("hook.txt");
    let store = Arc::new(MemoryTaskStore::new());
    let backend = LocalBackend::new(store.clone());
    let env = env_for(
        &diag::APPEND,
        serde_json::json!({ "file": file, "line": "x" }),
    );
    backend.enqueue(&diag::APPEND, &env).await.expect("enqueue");
    let mut opts = WorkerOptions::new("local-hook", queues());
    opts.burst = true;
    let w = Worker::new(QueueBackend::Local(backend.clone()), registry(), (), opts)
        .with_hooks(Arc::new(FailingStart(Mutex::new(0))));
    let stats = tokio::time::timeout(Duration::from_secs(30), w.run(CancellationToken::new()))
        .await
        .expect("ends")
        .expect("run");
    assert_eq!((stats.retried, stats.done), (1, 1));
    assert_eq!(
        lines(&file),
        vec!["x".to_string()],
        "handler ran once, on attempt 2"
    );
    assert_eq!(store.get(env.task_id).expect("row").attempt, 2);
}
