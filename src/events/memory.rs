//! In-process backend (embedded mode): per-job event history plus a broadcast channel, and a
//! status map, all expiring like their Redis counterparts.
//!
//! A publish appends to the job's history and broadcasts under one lock, and a subscription
//! copies the history and joins the channel under the same lock, so a subscriber sees every
//! event exactly once whatever the timing. A subscriber that falls behind the channel re-reads
//! the history instead of losing events.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::broadcast;
use tokio::time::Instant;
use uuid::Uuid;

use super::stream::{drive, Source};
use super::{BusConfig, Event, EventError, EventStream, Status};

/// Live events buffered per subscriber before it must catch up from the history.
const CHANNEL_CAPACITY: usize = 1024;
/// Events kept per job in memory (oldest dropped first); the database has them all.
const HISTORY_CAP: usize = 100_000;
/// How often expired jobs are swept (on the next write).
const SWEEP_EVERY: Duration = Duration::from_secs(60);

struct JobChannel {
    history: VecDeque<Event>,
    tx: broadcast::Sender<Event>,
    expires: Instant,
}

struct StoredStatus {
    status: Status,
    expires: Instant,
}

#[derive(Default)]
struct State {
    jobs: HashMap<Uuid, JobChannel>,
    statuses: HashMap<Uuid, StoredStatus>,
    next_sweep: Option<Instant>,
}

/// In-process status and events; cheap to clone (shared state).
#[derive(Clone)]
pub struct MemoryBus {
    state: Arc<Mutex<State>>,
    config: BusConfig,
}

impl std::fmt::Debug for MemoryBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryBus")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl MemoryBus {
    /// An empty bus.
    pub fn new(config: BusConfig) -> Self {
        Self {
            state: Arc::new(Mutex::new(State::default())),
            config,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the maps half-updated in a way that
        // matters (each write is one insert), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn sweep(&self, state: &mut State, now: Instant) {
        if state.next_sweep.is_some_and(|t| t > now) {
            return;
        }
        state.jobs.retain(|_, job| job.expires > now);
        state.statuses.retain(|_, s| s.expires > now);
        state.next_sweep = Some(now + SWEEP_EVERY);
    }

    fn channel(state: &mut State, job_id: Uuid, expires: Instant) -> &mut JobChannel {
        let job = state.jobs.entry(job_id).or_insert_with(|| JobChannel {
            history: VecDeque::new(),
            tx: broadcast::channel(CHANNEL_CAPACITY).0,
            expires,
        });
        if job.expires <= Instant::now() {
            job.history.clear();
        }
        job
    }

    pub(super) fn publish(&self, event: &Event) {
        let now = Instant::now();
        let mut state = self.lock();
        self.sweep(&mut state, now);
        let job = Self::channel(&mut state, event.job_id, now + self.config.ttl);
        job.expires = now + self.config.ttl;
        if job.history.len() >= HISTORY_CAP {
            job.history.pop_front();
        }
        job.history.push_back(event.clone());
        // No receivers is fine: nobody is following this job right now.
        let _ = job.tx.send(event.clone());
    }

    pub(super) fn set_status(&self, status: Status) -> bool {
        let now = Instant::now();
        let mut state = self.lock();
        self.sweep(&mut state, now);
        if let Some(old) = state.statuses.get(&status.job_id) {
            if old.expires > now && old.status.updated_at > status.updated_at {
                return false;
            }
        }
        state.statuses.insert(
            status.job_id,
            StoredStatus {
                status,
                expires: now + self.config.ttl,
            },
        );
        true
    }

    pub(super) fn get_status(&self, job_id: Uuid) -> Option<Status> {
        let state = self.lock();
        state
            .statuses
            .get(&job_id)
            .filter(|s| s.expires > Instant::now())
            .map(|s| s.status.clone())
    }

    pub(super) fn status_ttl(&self, job_id: Uuid) -> Option<Duration> {
        let now = Instant::now();
        let state = self.lock();
        state
            .statuses
            .get(&job_id)
            .filter(|s| s.expires > now)
            .map(|s| s.expires - now)
    }

    pub(super) fn subscribe(&self, job_id: Uuid, after_seq: i64) -> EventStream {
        let now = Instant::now();
        let (initial, rx) = {
            let mut state = self.lock();
            let job = Self::channel(&mut state, job_id, now + self.config.ttl);
            let initial: Vec<Event> = job
                .history
                .iter()
                .filter(|e| e.seq > after_seq)
                .cloned()
                .collect();
            (initial, job.tx.subscribe())
        };
        let source = MemorySource {
            bus: self.clone(),
            job_id,
            initial: Some(initial),
            rx,
        };
        drive(source, after_seq, self.config.reorder_window)
    }

    fn history_after(&self, job_id: Uuid, after_seq: i64) -> Vec<Event> {
        let state = self.lock();
        state
            .jobs
            .get(&job_id)
            .map(|job| {
                job.history
                    .iter()
                    .filter(|e| e.seq > after_seq)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }
}

struct MemorySource {
    bus: MemoryBus,
    job_id: Uuid,
    initial: Option<Vec<Event>>,
    rx: broadcast::Receiver<Event>,
}

impl Source for MemorySource {
    async fn next_batch(
        &mut self,
        after_seq: i64,
        wait: Duration,
    ) -> Result<Option<Vec<Event>>, EventError> {
        if let Some(initial) = self.initial.take() {
            return Ok(Some(initial));
        }
        match tokio::time::timeout(wait, self.rx.recv()).await {
            Err(_) => Ok(Some(Vec::new())),
            Ok(Ok(first)) => {
                let mut batch = vec![first];
                while let Ok(e) = self.rx.try_recv() {
                    batch.push(e);
                }
                Ok(Some(batch))
            }
            // Fell behind the channel: the history has everything; repeats are dropped later.
            Ok(Err(broadcast::error::RecvError::Lagged(_))) => {
                Ok(Some(self.bus.history_after(self.job_id, after_seq)))
            }
            // The job expired and was swept.
            Ok(Err(broadcast::error::RecvError::Closed)) => Ok(None),
        }
    }
}
