//! The periodic sweep: due retries back to their queue, and work of dead workers recovered.

use std::time::Duration;

use chrono::Utc;
use deadpool_redis::redis::Value;

use super::{codec, fields, int, score, text, Args, RedisBackend, SWEEP_LIMIT};
use crate::queue::task::Envelope;
use crate::queue::QueueError;
use codec::FAILURE_TTL_S;

/// A task the recovery sweep moved.
#[derive(Debug, Clone)]
pub struct Recovered {
    /// `retried` (worker lost, attempt spent, back on the queue), `failed` (worker lost and no
    /// retry left) or `requeued` (stuck between pop and start; no attempt spent).
    pub outcome: RecoveredOutcome,
    /// The job id.
    pub id: String,
    /// The queue.
    pub queue: String,
    /// The envelope, when the job could be decoded (not for `requeued`).
    pub env: Option<Envelope>,
}

/// What the sweep did with a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecoveredOutcome {
    /// Back on its queue, attempt spent.
    Retried,
    /// Failed: no retry left.
    Failed,
    /// Back on its queue from the intermediate list.
    Requeued,
}

impl RedisBackend {
    /// Moves retries whose backoff elapsed from `rq:scheduled:<q>` back to their queue.
    /// Atomic per job, so two workers never promote the same job twice.
    pub async fn promote_due(&self, queues: &[String]) -> Result<u64, QueueError> {
        let k = &self.inner.keys;
        let now = Utc::now();
        let mut total = 0;
        for q in queues {
            let keys = [k.scheduled(q), k.queue(q), k.queues()];
            let args = Args::default()
                .s(score(now))
                .s(k.job_prefix())
                .s(codec::rq_time(now))
                .s(SWEEP_LIMIT)
                .s(k.queue(q));
            let v = self.eval(&self.inner.scripts.promote, &keys, args).await?;
            total += int(&v).unwrap_or(0).max(0) as u64;
        }
        Ok(total)
    }

    /// Recovery sweep of `queues`: wip entries whose lease lapsed (their worker died) are
    /// retried (attempt spent) or failed; intermediate entries stuck longer than
    /// `intermediate_grace` go back to their queue.
    pub async fn recover(
        &self,
        queues: &[String],
        intermediate_grace: Duration,
    ) -> Result<Vec<Recovered>, QueueError> {
        let k = &self.inner.keys;
        let now = Utc::now();
        let (exc_z, exc_b64) = codec::exc_fields(
            "worker lost: its lease lapsed without a heartbeat (AbandonedJobError)",
        );
        let mut out = Vec::new();
        for q in queues {
            let keys = [
                k.wip(q),
                k.queue(q),
                k.intermediate(q),
                k.failed(q),
                k.queues(),
            ];
            let args = Args::default()
                .s(score(now))
                .s(k.job_prefix())
                .s(k.results_prefix())
                .s(codec::rq_time(now))
                .s(score(now + chrono::Duration::seconds(FAILURE_TTL_S as i64)))
                .s(FAILURE_TTL_S)
                .b(&exc_z)
                .s(&exc_b64)
                .s(k.first_seen_prefix(q))
                .s(intermediate_grace.as_secs_f64())
                .s(SWEEP_LIMIT)
                .s(k.queue(q));
            let v = self.eval(&self.inner.scripts.recover, &keys, args).await?;
            let Value::Array(items) = v else {
                return Err(QueueError::Protocol(format!("recover returned {v:?}")));
            };
            for item in items {
                let Value::Array(parts) = item else { continue };
                if parts.len() != 3 {
                    continue;
                }
                let outcome = match text(&parts[0]).as_deref() {
                    Some("retried") => RecoveredOutcome::Retried,
                    Some("failed") => RecoveredOutcome::Failed,
                    _ => RecoveredOutcome::Requeued,
                };
                let id = text(&parts[1]).unwrap_or_default();
                let env = match outcome {
                    RecoveredOutcome::Requeued => None,
                    _ => codec::decode_job(&id, &fields(&parts[2]))
                        .ok()
                        .map(|j| j.env),
                };
                out.push(Recovered {
                    outcome,
                    id,
                    queue: q.clone(),
                    env,
                });
            }
        }
        Ok(out)
    }
}
