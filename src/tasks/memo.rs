//! What one stage hands to the next inside one process, without a store round trip.
//!
//! Every intermediate result a task produces is also written to the store (work blobs, the
//! artifacts), because the next task may run on another worker, or after this process died. But
//! in embedded mode (`analyze`, `all-in-one`) and whenever one worker runs consecutive tasks of a
//! job, the next stage would read back and decode what this process had in memory a moment ago:
//! at 50k files that was two seconds of JSON per stage and copies of the whole snapshot. The memo
//! keeps the typed value (an `Arc`) under its work-blob name, and readers look here first.
//!
//! It is an optimisation only: a miss (another process, an evicted entry, a restart) falls back
//! to the store, so nothing depends on it for correctness. Entries of a job are dropped when the
//! job ends; the least recently stored jobs are evicted beyond [`MAX_JOBS`] jobs or
//! [`MAX_BYTES`] of (estimated) size, so abandoned jobs cannot pile up.

use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use uuid::Uuid;

/// Most jobs whose entries are kept at once.
pub const MAX_JOBS: usize = 4;
/// Most estimated bytes kept at once, over all jobs.
pub const MAX_BYTES: u64 = 2 << 30;

type Value = Arc<dyn Any + Send + Sync>;

struct Entry {
    value: Value,
    bytes: u64,
}

#[derive(Default)]
struct Inner {
    jobs: HashMap<Uuid, HashMap<String, Entry>>,
    /// Jobs by when they last stored something, oldest first.
    order: VecDeque<Uuid>,
    bytes: u64,
}

impl Inner {
    fn evict_job(&mut self, job: Uuid) {
        if let Some(entries) = self.jobs.remove(&job) {
            self.bytes -= entries.values().map(|e| e.bytes).sum::<u64>();
        }
        self.order.retain(|j| *j != job);
    }
}

/// The per-process memo of stage results (see the module docs); cheap to share.
#[derive(Default)]
pub struct Memo {
    inner: Mutex<Inner>,
}

impl Memo {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Keeps `value` as the job's `name`, with `bytes` its estimated size.
    pub fn put<T: Any + Send + Sync>(&self, job: Uuid, name: &str, value: Arc<T>, bytes: u64) {
        let mut inner = self.lock();
        let old = inner
            .jobs
            .entry(job)
            .or_default()
            .insert(name.to_string(), Entry { value, bytes });
        inner.bytes += bytes;
        if let Some(old) = old {
            inner.bytes -= old.bytes;
        }
        inner.order.retain(|j| *j != job);
        inner.order.push_back(job);
        while inner.order.len() > MAX_JOBS || (inner.bytes > MAX_BYTES && inner.order.len() > 1) {
            let Some(oldest) = inner.order.front().copied() else {
                break;
            };
            if oldest == job {
                break;
            }
            inner.evict_job(oldest);
        }
    }

    /// The job's `name`, when this process holds it as a `T`.
    pub fn get<T: Any + Send + Sync>(&self, job: Uuid, name: &str) -> Option<Arc<T>> {
        let inner = self.lock();
        let value = inner.jobs.get(&job)?.get(name)?.value.clone();
        drop(inner);
        value.downcast::<T>().ok()
    }

    /// Removes and returns the job's `name` (its last reader consumes it).
    pub fn take<T: Any + Send + Sync>(&self, job: Uuid, name: &str) -> Option<Arc<T>> {
        let mut inner = self.lock();
        let entries = inner.jobs.get_mut(&job)?;
        // A value of another type stays (a reader may ask for a value or its encoded form).
        if !entries.get(name)?.value.is::<T>() {
            return None;
        }
        let entry = entries.remove(name)?;
        inner.bytes -= entry.bytes;
        drop(inner);
        entry.value.downcast::<T>().ok()
    }

    /// Drops everything of a job (it ended).
    pub fn forget(&self, job: Uuid) {
        self.lock().evict_job(job);
    }

    /// Estimated bytes held, for logs and tests.
    pub fn bytes(&self) -> u64 {
        self.lock().bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_get_take_and_forget() {
        let memo = Memo::default();
        let job = Uuid::new_v4();
        memo.put(job, "a", Arc::new(vec![1u32, 2]), 8);
        assert_eq!(memo.get::<Vec<u32>>(job, "a").as_deref(), Some(&vec![1, 2]));
        assert!(
            memo.get::<String>(job, "a").is_none(),
            "wrong type is a miss"
        );
        assert!(memo.get::<Vec<u32>>(Uuid::new_v4(), "a").is_none());
        assert_eq!(
            memo.take::<Vec<u32>>(job, "a").as_deref(),
            Some(&vec![1, 2])
        );
        assert!(memo.get::<Vec<u32>>(job, "a").is_none());
        memo.put(job, "b", Arc::new(1u8), 1);
        assert!(memo.take::<String>(job, "b").is_none());
        assert!(
            memo.get::<u8>(job, "b").is_some(),
            "taking another type leaves it"
        );
        memo.put(job, "b", Arc::new(1u8), 1);
        memo.forget(job);
        assert!(memo.get::<u8>(job, "b").is_none());
        assert_eq!(memo.bytes(), 0);
    }

    #[test]
    fn old_jobs_are_evicted() {
        let memo = Memo::default();
        let jobs: Vec<Uuid> = (0..MAX_JOBS + 1).map(|_| Uuid::new_v4()).collect();
        for j in &jobs {
            memo.put(*j, "x", Arc::new(1u8), 1);
        }
        assert!(memo.get::<u8>(jobs[0], "x").is_none());
        assert!(memo.get::<u8>(jobs[MAX_JOBS], "x").is_some());
        let big = Uuid::new_v4();
        memo.put(big, "y", Arc::new(2u8), MAX_BYTES + 1);
        assert!(memo.get::<u8>(big, "y").is_some(), "the newest job is kept");
        assert_eq!(memo.bytes(), MAX_BYTES + 1, "everything older made room");
    }
}
