//! Where a job's files come from: the uploaded zip in the store, or a local directory
//! (`provis analyze <dir>`).
//!
//! Any worker can run any batch: the zip is read from the shared store, and each worker keeps
//! a small cache of local copies so a job's batches on one worker fetch it once.

use crate::artifacts::{ArtifactError, LocalCopy};
use crate::db::Job;
use crate::pipeline::ingest::{self, ManifestEntry};
use crate::queue::TaskError;
use crate::tasks::context::AppContext;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use uuid::Uuid;

/// Prefix of `jobs.upload_key` for a directory analysed in place.
pub const DIR_PREFIX: &str = "dir:";

/// Local copies kept per worker process.
const CACHE_SLOTS: usize = 4;

/// A readable source of a job.
#[derive(Clone)]
pub enum Source {
    /// A zip file on local disk (the stored upload or a cached copy of it).
    Zip(Arc<LocalCopy>),
    /// A directory analysed in place.
    Dir(PathBuf),
}

/// Per-process cache of fetched uploads, keyed by job.
#[derive(Default)]
pub struct SourceCache {
    slots: Mutex<VecDeque<(Uuid, Arc<LocalCopy>)>>,
}

impl SourceCache {
    fn get(&self, job: Uuid) -> Option<Arc<LocalCopy>> {
        let slots = self.slots.lock().ok()?;
        slots
            .iter()
            .find(|(j, _)| *j == job)
            .map(|(_, c)| c.clone())
    }

    fn put(&self, job: Uuid, copy: Arc<LocalCopy>) {
        if let Ok(mut slots) = self.slots.lock() {
            slots.retain(|(j, _)| *j != job);
            slots.push_back((job, copy));
            while slots.len() > CACHE_SLOTS {
                slots.pop_front();
            }
        }
    }

    /// Drops a finished job's copy (its temporary file is removed with it).
    pub fn forget(&self, job: Uuid) {
        if let Ok(mut slots) = self.slots.lock() {
            slots.retain(|(j, _)| *j != job);
        }
    }
}

/// Opens the job's source, fetching the upload into the worker's cache when needed.
pub async fn open(ctx: &AppContext, job: &Job) -> Result<Source, TaskError> {
    let key = job
        .upload_key
        .as_deref()
        .ok_or_else(|| TaskError::Fail("the job has no upload".into()))?;
    if let Some(dir) = key.strip_prefix(DIR_PREFIX) {
        return Ok(Source::Dir(PathBuf::from(dir)));
    }
    if let Some(copy) = ctx.sources().get(job.id) {
        return Ok(Source::Zip(copy));
    }
    let copy = ctx
        .artifacts()
        .open_local(key, ctx.scratch())
        .await
        .map_err(|e| match e {
            ArtifactError::NotFound { .. } => {
                TaskError::Fail(format!("the upload {key} is missing from storage"))
            }
            e if e.retryable() => TaskError::Retry(e.to_string()),
            e => TaskError::Fail(e.to_string()),
        })?;
    let copy = Arc::new(copy);
    ctx.sources().put(job.id, copy.clone());
    Ok(Source::Zip(copy))
}

/// Reads the given entries' bytes (blocking; call inside `spawn_blocking`). A file that cannot
/// be read comes back as an error string for that file alone.
pub fn read(source: &Source, entries: &[ManifestEntry]) -> Vec<(String, Result<Vec<u8>, String>)> {
    let mut out = Vec::with_capacity(entries.len());
    match source {
        Source::Zip(copy) => match ingest::read_entries(copy.path(), entries) {
            Ok(reader) => {
                for (entry, item) in entries.iter().zip(reader) {
                    out.push((
                        entry.path.clone(),
                        item.map(|(_, b)| b).map_err(|e| e.to_string()),
                    ));
                }
            }
            Err(e) => {
                for entry in entries {
                    out.push((entry.path.clone(), Err(e.to_string())));
                }
            }
        },
        Source::Dir(root) => {
            for (entry, item) in entries.iter().zip(ingest::read_dir_entries(root, entries)) {
                out.push((
                    entry.path.clone(),
                    item.map(|(_, b)| b).map_err(|e| e.to_string()),
                ));
            }
        }
    }
    out
}

/// Reads one entry's bytes (blocking). Opens the zip for this one read, so any number of
/// threads can read at once; used where files are read lazily, one by one, by their consumer.
pub fn read_one(source: &Source, entry: &ManifestEntry) -> Result<Vec<u8>, String> {
    let one = std::slice::from_ref(entry);
    let item = match source {
        Source::Zip(copy) => ingest::read_entries(copy.path(), one)
            .map_err(|e| e.to_string())?
            .next(),
        Source::Dir(root) => ingest::read_dir_entries(root, one).next(),
    };
    match item {
        Some(Ok((_, bytes))) => Ok(bytes),
        Some(Err(e)) => Err(e.to_string()),
        None => Err(format!("{} was not read", entry.path)),
    }
}
