//! The subscriber side shared by both backends: put events in `seq` order, drop repeats, hold
//! early arrivals for the reorder window, and end after the terminal event.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;
use tracing::warn;

use super::{Event, EventError, EventStream};

/// Longest single wait for new events before the loop re-checks its state.
pub(crate) const IDLE_WAIT: Duration = Duration::from_secs(5);

/// Where a subscription gets raw events from (a Redis stream, a broadcast channel).
pub(crate) trait Source: Send + 'static {
    /// Events received within `wait`, possibly none; `Ok(None)` when the source is closed for
    /// good. `after_seq` is the highest seq already delivered, for sources that must re-read.
    fn next_batch(
        &mut self,
        after_seq: i64,
        wait: Duration,
    ) -> impl Future<Output = Result<Option<Vec<Event>>, EventError>> + Send;
}

/// Orders events by `seq` from `next` on.
pub(crate) struct Reorder {
    next: i64,
    pending: BTreeMap<i64, Event>,
    gap_since: Option<Instant>,
    window: Duration,
}

impl Reorder {
    /// Starts after `after_seq`.
    pub(crate) fn new(after_seq: i64, window: Duration) -> Self {
        Self {
            next: after_seq.saturating_add(1),
            pending: BTreeMap::new(),
            gap_since: None,
            window,
        }
    }

    /// Highest seq released so far.
    pub(crate) fn delivered(&self) -> i64 {
        self.next - 1
    }

    /// Takes one event; everything now in order is appended to `out`.
    pub(crate) fn push(&mut self, event: Event, out: &mut VecDeque<Event>) {
        if event.seq < self.next {
            return; // a repeat, or too late after its gap was skipped
        }
        self.pending.entry(event.seq).or_insert(event);
        self.release(out);
    }

    /// When the current gap gives up, if there is one.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.gap_since.map(|t| t + self.window)
    }

    /// Skips the open gap if its window has passed.
    pub(crate) fn expire(&mut self, now: Instant, out: &mut VecDeque<Event>) {
        if self.deadline().is_some_and(|d| d <= now) {
            self.skip_gap(out);
        }
    }

    /// Releases everything pending, skipping gaps (the source is closed).
    pub(crate) fn flush(&mut self, out: &mut VecDeque<Event>) {
        while !self.pending.is_empty() {
            self.skip_gap(out);
        }
    }

    fn skip_gap(&mut self, out: &mut VecDeque<Event>) {
        if let Some(&first) = self.pending.keys().next() {
            warn!(
                missing_from = self.next,
                missing_to = first - 1,
                "Skipping events {}..{} that never arrived",
                self.next,
                first - 1
            );
            self.next = first;
            self.gap_since = None;
            self.release(out);
        }
    }

    fn release(&mut self, out: &mut VecDeque<Event>) {
        while let Some(event) = self.pending.remove(&self.next) {
            self.next += 1;
            out.push_back(event);
        }
        if self.pending.is_empty() {
            self.gap_since = None;
        } else if self.gap_since.is_none() {
            self.gap_since = Some(Instant::now());
        }
    }
}

struct Driver<S> {
    source: S,
    reorder: Reorder,
    out: VecDeque<Event>,
    /// The terminal event (or an error) was yielded.
    finished: bool,
    /// The source has nothing more to give.
    closed: bool,
}

impl<S: Source> Driver<S> {
    async fn next(&mut self) -> Option<Result<Event, EventError>> {
        loop {
            if self.finished {
                return None;
            }
            if let Some(event) = self.out.pop_front() {
                if event.is_terminal() {
                    self.finished = true;
                }
                return Some(Ok(event));
            }
            if self.closed {
                return None;
            }
            let now = Instant::now();
            let wait = self
                .reorder
                .deadline()
                .map(|d| d.saturating_duration_since(now))
                .unwrap_or(IDLE_WAIT)
                .clamp(Duration::from_millis(1), IDLE_WAIT);
            match self.source.next_batch(self.reorder.delivered(), wait).await {
                Ok(Some(batch)) => {
                    for event in batch {
                        self.reorder.push(event, &mut self.out);
                    }
                    self.reorder.expire(Instant::now(), &mut self.out);
                }
                Ok(None) => {
                    self.reorder.flush(&mut self.out);
                    self.closed = true;
                }
                Err(e) => {
                    self.finished = true;
                    return Some(Err(e));
                }
            }
        }
    }
}

/// Turns a source into the ordered, terminating stream subscribers see.
pub(crate) fn drive<S: Source>(source: S, after_seq: i64, window: Duration) -> EventStream {
    let driver = Driver {
        source,
        reorder: Reorder::new(after_seq, window),
        out: VecDeque::new(),
        finished: false,
        closed: false,
    };
    Box::pin(futures_util::stream::unfold(driver, |mut d| async move {
        d.next().await.map(|item| (item, d))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn ev(seq: i64) -> Event {
        Event::new(
            Uuid::nil(),
            seq,
            super::super::types::PROGRESS,
            serde_json::json!({}),
        )
    }

    fn seqs(out: &VecDeque<Event>) -> Vec<i64> {
        out.iter().map(|e| e.seq).collect()
    }

    #[test]
    fn orders_and_drops_repeats() {
        let mut r = Reorder::new(0, Duration::from_secs(60));
        let mut out = VecDeque::new();
        for s in [2, 1, 1, 3, 5, 4, 2] {
            r.push(ev(s), &mut out);
        }
        assert_eq!(seqs(&out), [1, 2, 3, 4, 5]);
        assert!(r.deadline().is_none());
    }

    #[test]
    fn starts_after_and_skips_expired_gap() {
        let mut r = Reorder::new(10, Duration::ZERO);
        let mut out = VecDeque::new();
        r.push(ev(9), &mut out);
        r.push(ev(13), &mut out);
        assert!(out.is_empty());
        assert!(r.deadline().is_some());
        r.expire(Instant::now(), &mut out);
        assert_eq!(seqs(&out), [13]);
        r.push(ev(12), &mut out); // too late: dropped
        assert_eq!(seqs(&out), [13]);
        r.push(ev(14), &mut out);
        assert_eq!(seqs(&out), [13, 14]);
    }

    #[test]
    fn flush_releases_everything() {
        let mut r = Reorder::new(0, Duration::from_secs(60));
        let mut out = VecDeque::new();
        r.push(ev(3), &mut out);
        r.push(ev(6), &mut out);
        r.flush(&mut out);
        assert_eq!(seqs(&out), [3, 6]);
    }
}
