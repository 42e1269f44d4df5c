//! Job progress: phases, events and the live status overlay, written in one order.
//!
//! The database is the truth: an event is inserted into the `events` table first (which
//! allocates its `seq`), then published on the live bus; the job row is updated first, then
//! mirrored into the status overlay. A failure of the live side is logged and never fails a
//! task — the SSE endpoint replays from the table and `/status` falls back to the row.

use crate::db::{Job, JobUpdate};
use crate::events::payload::{self, Payload};
use crate::events::{self, Event, Status};
use crate::queue::{TaskError, TaskResultExt};
use crate::tasks::context::AppContext;
use uuid::Uuid;

/// The phases of a job, in the order a job goes through them
/// (docs/events.md#phases-and-percentages). The job row and the wire carry the name
/// ([`Phase::as_str`]); code compares phases, never strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// Waiting for a worker.
    Queued,
    /// Fetching the upload.
    Acquiring,
    /// Listing files.
    Discovering,
    /// Parse batches running.
    Parsing,
    /// Gathering batch results.
    Merging,
    /// Resolving imports and building the graph.
    Mapping,
    /// Capabilities and summaries.
    Summarizing,
    /// Writing metrics.
    Finalizing,
    /// Finished.
    Done,
    /// Failed for good.
    Failed,
}

impl Phase {
    /// Every phase, in order.
    pub const ALL: [Phase; 10] = [
        Phase::Queued,
        Phase::Acquiring,
        Phase::Discovering,
        Phase::Parsing,
        Phase::Merging,
        Phase::Mapping,
        Phase::Summarizing,
        Phase::Finalizing,
        Phase::Done,
        Phase::Failed,
    ];

    /// The wire name (`"parsing"`), as stored in the job row and sent in events.
    pub const fn as_str(self) -> &'static str {
        match self {
            Phase::Queued => "queued",
            Phase::Acquiring => "acquiring",
            Phase::Discovering => "discovering",
            Phase::Parsing => "parsing",
            Phase::Merging => "merging",
            Phase::Mapping => "mapping",
            Phase::Summarizing => "summarizing",
            Phase::Finalizing => "finalizing",
            Phase::Done => "done",
            Phase::Failed => "failed",
        }
    }

    /// The phase a stored name stands for; `None` for a name provis never writes.
    pub fn of(name: &str) -> Option<Phase> {
        Phase::ALL.into_iter().find(|p| p.as_str() == name)
    }

    /// Whether a job in this phase has ended (`done` or `failed`).
    pub fn is_terminal(self) -> bool {
        matches!(self, Phase::Done | Phase::Failed)
    }

    /// Whether the stored phase `name` is a terminal one.
    pub fn ended(name: &str) -> bool {
        Phase::of(name).is_some_and(Phase::is_terminal)
    }
}

/// A point of progress: a phase and the percentage it stands at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// The phase.
    pub phase: Phase,
    /// Its percentage.
    pub pct: i32,
}

/// The steps a job reports and their percentages (docs/events.md#phases-and-percentages).
pub mod phase {
    use super::{Phase, Step};

    const fn step(phase: Phase, pct: i32) -> Step {
        Step { phase, pct }
    }

    /// Waiting for a worker.
    pub const QUEUED: Step = step(Phase::Queued, 0);
    /// Fetching the upload.
    pub const ACQUIRING: Step = step(Phase::Acquiring, 5);
    /// Listing files.
    pub const DISCOVERING: Step = step(Phase::Discovering, 15);
    /// Files listed.
    pub const DISCOVERED: Step = step(Phase::Discovering, 25);
    /// Parse batches running (35..50).
    pub const PARSING: Step = step(Phase::Parsing, 35);
    /// Gathering batch results.
    pub const MERGING: Step = step(Phase::Merging, 55);
    /// Resolving imports and building the graph.
    pub const MAPPING: Step = step(Phase::Mapping, 60);
    /// Graph written.
    pub const MAPPED: Step = step(Phase::Mapping, 75);
    /// Capabilities and summaries.
    pub const SUMMARIZING: Step = step(Phase::Summarizing, 80);
    /// Summaries written.
    pub const SUMMARIZED: Step = step(Phase::Summarizing, 95);
    /// Writing metrics.
    pub const FINALIZING: Step = step(Phase::Finalizing, 98);
    /// Finished.
    pub const DONE: Step = step(Phase::Done, 100);
    /// Failed for good.
    pub const FAILED: Step = step(Phase::Failed, 100);
}

/// Records an event for a job: `events` table first, then the live bus.
pub async fn emit<P: Payload>(
    ctx: &AppContext,
    job_id: Uuid,
    payload: &P,
) -> Result<Event, TaskError> {
    let row = ctx
        .db()
        .insert_event(job_id, P::TYPE, &payload::to_value(payload))
        .await
        .retryable()?;
    Ok(publish(ctx, row).await)
}

/// Publishes a recorded event on the live bus (a failure is logged: the table has it).
async fn publish(ctx: &AppContext, row: crate::db::EventRow) -> Event {
    let event = Event {
        id: row.seq.to_string(),
        seq: row.seq,
        r#type: row.event_type,
        timestamp: row.created_at,
        job_id: row.job_id,
        payload: row.payload,
    };
    if let Err(e) = ctx.events().publish(&event).await {
        tracing::warn!(job_id = %event.job_id, event = %event.r#type, error = %e, "live event publish failed; the events table has it");
    }
    event
}

/// The `/status` payload of a job row.
pub fn status_of(job: &Job) -> Status {
    Status {
        job_id: job.id,
        repo_id: job.repo_id,
        snapshot_id: job.snapshot_id.unwrap_or_default(),
        phase: job.phase.clone(),
        pct: job.pct,
        files_discovered: i64::from(job.files_total),
        files_parsed: i64::from(job.files_parsed),
        files_reused: i64::from(job.files_reused),
        imports_total: i64::from(job.imports_total),
        imports_internal: i64::from(job.imports_internal),
        imports_external: i64::from(job.imports_external),
        warnings_count: i64::from(job.warnings_count),
        error: job.error.clone(),
        updated_at: job.updated_at,
    }
}

/// Mirrors a job row into the live status overlay.
pub async fn mirror_status(ctx: &AppContext, job: &Job) {
    if let Err(e) = ctx.events().set_status(&status_of(job)).await {
        tracing::warn!(job_id = %job.id, error = %e, "status overlay write failed; /status falls back to the database");
    }
}

/// Updates the job row and its overlay without an event.
pub async fn update(ctx: &AppContext, job_id: Uuid, update: JobUpdate) -> Result<Job, TaskError> {
    let job = ctx.db().update_job(job_id, update).await.retryable()?;
    mirror_status(ctx, &job).await;
    Ok(job)
}

/// Moves a job to a phase: row, overlay, and a `phase` event — once. Phases have strictly
/// increasing percentages (docs/events.md#phases-and-percentages), so the move is a raise of `pct`:
/// a re-run of a task whose phase the job already reached (or passed) applies only `extra` and
/// sends no event, so neither `/status` nor the stream goes backwards or repeats itself.
pub async fn set_phase(
    ctx: &AppContext,
    job_id: Uuid,
    step: Step,
    mut extra: JobUpdate,
) -> Result<Job, TaskError> {
    let (name, pct) = (step.phase.as_str(), step.pct);
    let raised = ctx
        .db()
        .raise_job_pct(
            job_id,
            pct,
            JobUpdate {
                phase: Some(name.to_string()),
                ..extra.clone()
            },
            events::types::PHASE,
            move |_| {
                payload::to_value(&payload::Phase {
                    phase: name.to_string(),
                    pct,
                })
            },
        )
        .await
        .retryable()?;
    let Some((job, row)) = raised else {
        tracing::info!(job_id = %job_id, phase = name, pct, "phase already reached (a re-run); no second phase event");
        extra.phase = None;
        extra.pct = None;
        return update(ctx, job_id, extra).await;
    };
    mirror_status(ctx, &job).await;
    publish(ctx, row).await;
    Ok(job)
}

/// Records an event that happens once per job (`files_total`, `imports_metrics`): a re-run
/// of the task that sends it finds it recorded and sends nothing.
pub async fn emit_once<P: Payload>(
    ctx: &AppContext,
    job_id: Uuid,
    payload: &P,
) -> Result<(), TaskError> {
    if ctx.db().has_event(job_id, P::TYPE).await.retryable()? {
        tracing::info!(job_id = %job_id, event = P::TYPE, "event already recorded (a re-run); not sent again");
        return Ok(());
    }
    emit(ctx, job_id, payload).await.map(|_| ())
}

/// Raises the percentage, with a `progress` event; never lowers it. When the job is already
/// at `pct` or beyond (a batch that finished later wrote first, or a later phase began),
/// only `extra` is applied and no event is sent, so neither `/status` nor the event stream
/// goes backwards.
pub async fn set_pct(
    ctx: &AppContext,
    job_id: Uuid,
    pct: i32,
    extra: JobUpdate,
) -> Result<Job, TaskError> {
    let raised = ctx
        .db()
        .raise_job_pct(
            job_id,
            pct,
            extra.clone(),
            events::types::PROGRESS,
            move |job| {
                payload::to_value(&payload::Progress {
                    phase: job.phase.clone(),
                    pct,
                })
            },
        )
        .await
        .retryable()?;
    let Some((job, row)) = raised else {
        return update(ctx, job_id, JobUpdate { pct: None, ..extra }).await;
    };
    mirror_status(ctx, &job).await;
    publish(ctx, row).await;
    Ok(job)
}

/// Fails a job for good: phase `failed`, pct 100, the error, its snapshot `failed`, and a
/// terminal `error` event. Safe to call twice (a second call changes nothing visible), and a
/// call cut short (the database or Redis went away between two of its writes) is completed
/// by the next: a job already `failed` still gets its snapshot status, its one terminal event
/// and its clean-up.
pub async fn fail_job(
    ctx: &AppContext,
    job_id: Uuid,
    code: &str,
    message: &str,
) -> Result<(), TaskError> {
    let Some(job) = ctx.db().get_job(job_id).await.retryable()? else {
        return Ok(());
    };
    if job.phase == phase::DONE.phase.as_str() {
        return Ok(());
    }
    let failed = job.phase == phase::FAILED.phase.as_str();
    if failed
        && ctx
            .db()
            .has_event(job_id, events::types::ERROR)
            .await
            .retryable()?
    {
        return Ok(());
    }
    let job = if failed {
        job
    } else {
        let error = format!("{code}: {message}");
        let job = update(
            ctx,
            job_id,
            JobUpdate {
                phase: Some(phase::FAILED.phase.as_str().to_string()),
                pct: Some(100),
                error: Some(Some(error)),
                finished_at: Some(Some(chrono::Utc::now())),
                ..Default::default()
            },
        )
        .await?;
        ::metrics::counter!(crate::telemetry::metrics::JOBS_TOTAL, "phase" => "failed", "status" => "failed").increment(1);
        tracing::warn!(job_id = %job_id, code, message, "job failed");
        job
    };
    if let Some(snapshot_id) = job.snapshot_id {
        ctx.db()
            .set_snapshot_status(snapshot_id, crate::db::SnapshotStatus::Failed)
            .await
            .retryable()?;
    }
    // The terminal event carries the code the job row was failed with (a later caller may
    // know another cause; the first one stands).
    let (code, message) = match job.error.as_deref().and_then(|e| e.split_once(": ")) {
        Some((c, m)) => (c.to_string(), m.to_string()),
        None => (code.to_string(), message.to_string()),
    };
    let error = payload::Error {
        code,
        message,
        terminal: true,
    };
    emit_once(ctx, job_id, &error).await?;
    super::retention::job_ended(ctx, job_id).await;
    // Its local copies (the zip, the plain copy of its files) are of no more use.
    ctx.sources().forget(job_id);
    Ok(())
}

/// Records a per-file or per-job warning: `warnings` row, counter, and a `warning` event.
pub async fn warn(
    ctx: &AppContext,
    job: &Job,
    file_path: Option<&str>,
    code: &str,
    message: &str,
) -> Result<(), TaskError> {
    let inserted = ctx
        .db()
        .insert_warning(&crate::db::NewWarning {
            job_id: job.id,
            snapshot_id: job.snapshot_id,
            file_path: file_path.map(str::to_string),
            code: code.to_string(),
            message: message.to_string(),
        })
        .await
        .retryable()?;
    if !inserted {
        // Recorded (and announced) by an earlier run of the task.
        return Ok(());
    }
    emit(
        ctx,
        job.id,
        &payload::Warning::of_file(code, message, file_path),
    )
    .await?;
    Ok(())
}

/// Milliseconds spent per task name (`phaseDurationsMs` of the metrics artifact).
///
/// A task that has started but not yet recorded its end counts until `now`: the runner writes
/// a task's `ended_at` only after its handler returns, so the task that enqueued `finalize`
/// (and `finalize` itself) may still be open when the durations are computed.
pub fn phase_durations(
    tasks: &[crate::db::Task],
    now: chrono::DateTime<chrono::Utc>,
) -> std::collections::BTreeMap<String, i64> {
    let mut durations = std::collections::BTreeMap::new();
    for t in tasks {
        if let Some(start) = t.started_at {
            let end = t.ended_at.unwrap_or(now);
            *durations.entry(t.name.clone()).or_default() +=
                (end - start).num_milliseconds().max(0);
        }
    }
    durations
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};

    #[test]
    fn phases_round_trip_and_only_done_and_failed_end_a_job() {
        for p in Phase::ALL {
            assert_eq!(Phase::of(p.as_str()), Some(p));
        }
        assert_eq!(Phase::of("parsed"), None);
        let ended: Vec<Phase> = Phase::ALL.into_iter().filter(|p| p.is_terminal()).collect();
        assert_eq!(ended, [Phase::Done, Phase::Failed]);
        assert!(Phase::ended("failed") && !Phase::ended("merging") && !Phase::ended("x"));
        assert!(Phase::Merging < Phase::Mapping && Phase::Parsing < Phase::Merging);
        let steps = [
            phase::QUEUED,
            phase::ACQUIRING,
            phase::DISCOVERING,
            phase::DISCOVERED,
            phase::PARSING,
            phase::MERGING,
            phase::MAPPING,
            phase::MAPPED,
            phase::SUMMARIZING,
            phase::SUMMARIZED,
            phase::FINALIZING,
            phase::DONE,
        ];
        assert!(steps
            .windows(2)
            .all(|w| w[0].pct < w[1].pct && w[0].phase <= w[1].phase));
    }

    fn task(name: &str, started: Option<i64>, ended: Option<i64>) -> crate::db::Task {
        let at = |ms: i64| Utc.timestamp_millis_opt(1_700_000_000_000 + ms).unwrap();
        crate::db::Task {
            id: Uuid::new_v4(),
            job_id: None,
            name: name.into(),
            batch_index: None,
            queue: "normal".into(),
            state: crate::db::TaskState::Running,
            attempt: 1,
            max_attempts: 3,
            payload: serde_json::Value::Null,
            available_at: at(0),
            lease_until: None,
            worker: None,
            started_at: started.map(at),
            ended_at: ended.map(at),
            error: None,
            created_at: at(0),
            updated_at: at(0),
        }
    }

    /// The flaky e2e case: `summarize` enqueued `finalize` and its row has no `ended_at` yet.
    #[test]
    fn a_started_task_without_an_end_counts_until_now() {
        let now = Utc.timestamp_millis_opt(1_700_000_000_000 + 900).unwrap();
        let tasks = [
            task("parse_batch", Some(0), Some(100)),
            task("parse_batch", Some(50), Some(250)),
            task("summarize", Some(600), None),
            task("finalize", Some(850), None),
            task("map", None, None),
        ];
        let d = phase_durations(&tasks, now);
        assert_eq!(d["parse_batch"], 300);
        assert_eq!(d["summarize"], 300, "{d:?}");
        assert_eq!(d["finalize"], 50);
        assert!(!d.contains_key("map"), "never started: no duration");
        // A clock step backwards never gives a negative duration.
        let d = phase_durations(&tasks, now - Duration::seconds(10));
        assert_eq!(d["summarize"], 0);
    }
}
