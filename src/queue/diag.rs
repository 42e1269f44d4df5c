//! Diagnostic task types for tests and benchmarks; registered only on request
//! (`PROVIS_DIAG_TASKS=1` for `provis work`, or [`register`] from code). Built only with the
//! `test-support` feature (on for `cargo test` and the queue benchmark), not in a release.
//!
//! They ignore the context, so they fit any worker. Side effects go to files named in the
//! payload with `O_APPEND` single writes, so tests can count executions across processes.

use std::io::Write;
use std::time::Duration;

use serde::Deserialize;

use super::task::{Envelope, Registry, TaskError, TaskResultExt, TaskSpec};
use super::QueueError;

/// Does nothing (queue throughput).
pub const NOOP: TaskSpec = TaskSpec {
    name: "diag_noop",
    queue: super::NORMAL,
    max_attempts: 1,
    backoff_s: &[],
};

/// `{ms, file?}`: sleeps `ms`, then appends `<id> <attempt>` to `file` when given.
pub const SLEEP: TaskSpec = TaskSpec {
    name: "diag_sleep",
    queue: super::NORMAL,
    max_attempts: 3,
    backoff_s: &[1],
};

/// `{file, line}`: appends `line` to `file`.
pub const APPEND: TaskSpec = TaskSpec {
    name: "diag_append",
    queue: super::NORMAL,
    max_attempts: 3,
    backoff_s: &[1],
};

/// `{times, file?, fatal?}`: fails attempts 1..=times (retryable unless `fatal`), then succeeds
/// and appends `<id> <attempt>` to `file` when given.
pub const FAIL: TaskSpec = TaskSpec {
    name: "diag_fail",
    queue: super::NORMAL,
    max_attempts: 3,
    backoff_s: &[1, 1],
};

/// `{times?}`: panics on attempts 1..=times (every attempt when absent), then succeeds.
pub const PANIC: TaskSpec = TaskSpec {
    name: "diag_panic",
    queue: super::NORMAL,
    max_attempts: 2,
    backoff_s: &[1],
};

/// Every diagnostic spec.
pub const ALL: [TaskSpec; 5] = [NOOP, SLEEP, APPEND, FAIL, PANIC];

#[derive(Deserialize)]
struct SleepArgs {
    ms: u64,
    #[serde(default)]
    file: Option<String>,
}

#[derive(Deserialize)]
struct AppendArgs {
    file: String,
    line: String,
}

#[derive(Deserialize)]
struct FailArgs {
    times: u32,
    #[serde(default)]
    file: Option<String>,
    #[serde(default)]
    fatal: bool,
}

#[derive(Deserialize)]
struct PanicArgs {
    #[serde(default)]
    times: Option<u32>,
}

/// Appends one line with a single `O_APPEND` write (atomic for small lines on local files).
async fn append_line(file: String, line: String) -> Result<(), TaskError> {
    tokio::task::spawn_blocking(move || {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&file)?;
        f.write_all(format!("{line}\n").as_bytes())
    })
    .await
    .retryable()?
    .retryable()
}

fn marker(env: &Envelope) -> String {
    format!("{} {}", env.id, env.attempt)
}

/// Registers the diagnostic tasks.
pub fn register<C: Clone + Send + Sync + 'static>(reg: &mut Registry<C>) -> Result<(), QueueError> {
    reg.register(NOOP, |_, _| async { Ok(()) })?;
    reg.register(SLEEP, |_, env: Envelope| async move {
        let a: SleepArgs = env.payload_as()?;
        tokio::time::sleep(Duration::from_millis(a.ms)).await;
        match a.file {
            Some(f) => append_line(f, marker(&env)).await,
            None => Ok(()),
        }
    })?;
    reg.register(APPEND, |_, env: Envelope| async move {
        let a: AppendArgs = env.payload_as()?;
        append_line(a.file, a.line).await
    })?;
    reg.register(FAIL, |_, env: Envelope| async move {
        let a: FailArgs = env.payload_as()?;
        if env.attempt <= a.times {
            let msg = format!(
                "diag_fail: attempt {} of the {} that fail",
                env.attempt, a.times
            );
            return Err(if a.fatal {
                TaskError::Fail(msg)
            } else {
                TaskError::Retry(msg)
            });
        }
        match a.file {
            Some(f) => append_line(f, marker(&env)).await,
            None => Ok(()),
        }
    })?;
    reg.register(PANIC, |_, env: Envelope| async move {
        let a: PanicArgs = env.payload_as()?;
        if env.attempt <= a.times.unwrap_or(u32::MAX) {
            panic!("diag_panic on attempt {}", env.attempt);
        }
        Ok(())
    })?;
    Ok(())
}
