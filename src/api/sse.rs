//! `GET /jobs/{job_id}/events`: a job's events as Server-Sent Events (docs/events.md).
//!
//! The `events` table is the record and the live bus is the doorbell: the stream replays
//! from the table after the client's last id, then follows the bus; a gap (a missed or
//! out-of-order live event) is filled from the table, and the table is also polled every
//! second so nothing depends on the bus alone. Each message carries `id:` (the event's seq),
//! `event:` and `data:` lines; a comment heartbeat goes out at least every 10 s; the stream
//! ends after the terminal event (`done`, or an `error` that failed the job).

use crate::events::{Event, EventStream};
use crate::tasks::context::AppContext;
use crate::tasks::progress::Phase;
use bytes::Bytes;
use futures_util::StreamExt;
use std::collections::VecDeque;
use std::time::Duration;
use tokio::time::Instant;
use uuid::Uuid;

/// Longest silence before a heartbeat comment.
pub const HEARTBEAT: Duration = Duration::from_secs(10);
/// How often the table is read while the bus is quiet.
const POLL: Duration = Duration::from_secs(1);
/// Page size of table reads.
const PAGE: i64 = 500;

/// Formats one event as an SSE message.
pub fn frame(event: &Event) -> Bytes {
    let data = serde_json::to_string(event).unwrap_or_else(|_| "{}".into());
    Bytes::from(format!(
        "id: {}\nevent: {}\ndata: {}\n\n",
        event.seq, event.r#type, data
    ))
}

struct State {
    ctx: AppContext,
    job_id: Uuid,
    last_seq: i64,
    live: Option<EventStream>,
    pending: VecDeque<Event>,
    last_sent: Instant,
    last_poll: Option<Instant>,
    finished: bool,
}

impl State {
    /// Reads the table after `last_seq` into `pending`.
    async fn fill_from_table(&mut self) {
        self.last_poll = Some(Instant::now());
        match self
            .ctx
            .db()
            .events_after(self.job_id, self.last_seq, PAGE)
            .await
        {
            Ok(rows) => {
                for row in rows {
                    if row.seq > self.last_seq && self.pending.iter().all(|e| e.seq != row.seq) {
                        self.pending.push_back(Event {
                            id: row.seq.to_string(),
                            seq: row.seq,
                            r#type: row.event_type,
                            timestamp: row.created_at,
                            job_id: row.job_id,
                            payload: row.payload,
                        });
                    }
                }
            }
            Err(e) => tracing::warn!(job_id = %self.job_id, error = %e, "reading events failed"),
        }
    }

    fn take_next(&mut self) -> Option<Event> {
        let pos = self
            .pending
            .iter()
            .position(|e| e.seq == self.last_seq + 1)?;
        let ev = self.pending.remove(pos)?;
        self.last_seq = ev.seq;
        self.pending.retain(|e| e.seq > ev.seq);
        Some(ev)
    }
}

/// The SSE body for a job, starting after `after_seq`.
pub async fn stream(
    ctx: AppContext,
    job_id: Uuid,
    after_seq: i64,
) -> impl futures_util::Stream<Item = Result<Bytes, actix_web::Error>> {
    // A client resuming at or after the terminal event (a browser's EventSource reconnects
    // exactly so) has seen the whole stream: it ends at once.
    let ended = after_seq > 0 && ended_by(&ctx, job_id, after_seq).await;
    // Subscribe before reading the table, so nothing published in between is missed.
    let live = if ended {
        None
    } else {
        subscribe(&ctx, job_id, after_seq).await
    };
    let state = State {
        ctx,
        job_id,
        last_seq: after_seq,
        live,
        pending: VecDeque::new(),
        last_sent: Instant::now(),
        last_poll: None,
        finished: ended,
    };
    body(state)
}

/// Whether the job's last event is terminal, has a seq of at most `after_seq`, and the job
/// has ended (a job moved on again after its terminal event — an operator's rewind — is
/// followed as usual).
async fn ended_by(ctx: &AppContext, job_id: Uuid, after_seq: i64) -> bool {
    match ctx.db().last_event(job_id).await {
        Ok(Some(row)) => {
            row.seq <= after_seq
                && Event::new(row.job_id, row.seq, &row.event_type, row.payload).is_terminal()
                && matches!(
                    ctx.db().get_job(job_id).await,
                    Ok(Some(j)) if Phase::ended(&j.phase)
                )
        }
        Ok(None) => false,
        Err(e) => {
            tracing::warn!(job_id = %job_id, error = %e, "reading the last event failed");
            false
        }
    }
}

async fn subscribe(
    ctx: &AppContext,
    job_id: Uuid,
    after_seq: i64,
) -> Option<crate::events::EventStream> {
    match ctx.events().subscribe(job_id, after_seq).await {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(job_id = %job_id, error = %e, "live events unavailable; following the table only");
            None
        }
    }
}

fn body(state: State) -> impl futures_util::Stream<Item = Result<Bytes, actix_web::Error>> {
    futures_util::stream::unfold(state, |mut st| async move {
        if st.finished {
            return None;
        }
        loop {
            if let Some(ev) = st.take_next() {
                st.last_sent = Instant::now();
                st.finished = ev.is_terminal();
                return Some((Ok(frame(&ev)), st));
            }
            let poll_due = st.last_poll.is_none_or(|t| t.elapsed() >= POLL);
            if poll_due {
                st.fill_from_table().await;
                if st.take_next_peek() {
                    continue;
                }
            }
            let heartbeat_at = st.last_sent + HEARTBEAT;
            let poll_at = st.last_poll.unwrap_or_else(Instant::now) + POLL;
            let wake = heartbeat_at.min(poll_at);
            let next_live = async {
                match st.live.as_mut() {
                    Some(s) => s.next().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                item = next_live => match item {
                    Some(Ok(ev)) => {
                        if ev.seq > st.last_seq {
                            st.pending.push_back(ev);
                        }
                        if !st.take_next_peek() {
                            // A gap: read what is missing from the table.
                            st.fill_from_table().await;
                        }
                    }
                    Some(Err(e)) => {
                        tracing::warn!(job_id = %st.job_id, error = %e, "live event stream error");
                        st.live = None;
                    }
                    None => st.live = None,
                },
                _ = tokio::time::sleep_until(wake) => {
                    if Instant::now() >= heartbeat_at {
                        st.last_sent = Instant::now();
                        return Some((Ok(Bytes::from_static(b": heartbeat\n\n")), st));
                    }
                }
            }
        }
    })
}

impl State {
    fn take_next_peek(&self) -> bool {
        self.pending.iter().any(|e| e.seq == self.last_seq + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_has_id_event_and_data_lines() {
        let ev = Event::new(
            Uuid::nil(),
            7,
            "phase",
            serde_json::json!({"phase": "parsing"}),
        );
        let text = String::from_utf8(frame(&ev).to_vec()).expect("utf8");
        assert!(text.starts_with("id: 7\nevent: phase\ndata: {"), "{text}");
        assert!(text.ends_with("\n\n"));
        assert!(text.contains("\"jobId\""));
    }
}
