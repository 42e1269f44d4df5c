//! Where a job's files come from: the uploaded zip in the store, or a local directory
//! (`provis analyze <dir>`).
//!
//! Any worker can run any batch: the zip is read from the shared store, and each worker keeps
//! a small cache of local copies so a job's batches on one worker fetch it once. In the
//! process that inspected the upload, the files come from its [plain copy](ingest::Mirror)
//! when it has one: no inflation, the same blake3 check.

use crate::artifacts::{ArtifactError, LocalCopy};
use crate::db::Job;
use crate::pipeline::ingest::{self, ManifestEntry, Mirror};
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
    /// A zip file on local disk (the stored upload or a cached copy of it), and the plain
    /// copy of its files when this process inspected it.
    Zip(Arc<LocalCopy>, Option<Arc<Mirror>>),
    /// A directory analysed in place.
    Dir(PathBuf),
}

/// Per-process cache of fetched uploads and of the plain copies intake wrote, keyed by job.
#[derive(Default)]
pub struct SourceCache {
    copies: Slots<Arc<LocalCopy>>,
    mirrors: Slots<Arc<Mirror>>,
}

impl SourceCache {
    /// Keeps the plain copy of a job's files that intake wrote (the oldest of more than
    /// [`CACHE_SLOTS`] is let go: its job's reads go back to the zip).
    pub fn put_mirror(&self, job: Uuid, mirror: Arc<Mirror>) {
        self.mirrors.put(job, mirror);
    }

    /// Drops an ended job's copies (their files are removed with the last handle).
    pub fn forget(&self, job: Uuid) {
        self.copies.forget(job);
        self.mirrors.forget(job);
    }
}

/// Up to [`CACHE_SLOTS`] values by job, the oldest let go first.
struct Slots<T>(Mutex<VecDeque<(Uuid, T)>>);

impl<T> Default for Slots<T> {
    fn default() -> Self {
        Self(Mutex::new(VecDeque::new()))
    }
}

impl<T: Clone> Slots<T> {
    fn get(&self, job: Uuid) -> Option<T> {
        let slots = self.0.lock().ok()?;
        slots
            .iter()
            .find(|(j, _)| *j == job)
            .map(|(_, v)| v.clone())
    }

    fn put(&self, job: Uuid, value: T) {
        if let Ok(mut slots) = self.0.lock() {
            slots.retain(|(j, _)| *j != job);
            slots.push_back((job, value));
            while slots.len() > CACHE_SLOTS {
                slots.pop_front();
            }
        }
    }

    fn forget(&self, job: Uuid) {
        if let Ok(mut slots) = self.0.lock() {
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
    let mirror = ctx.sources().mirrors.get(job.id);
    if let Some(copy) = ctx.sources().copies.get(job.id) {
        return Ok(Source::Zip(copy, mirror));
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
    ctx.sources().copies.put(job.id, copy.clone());
    Ok(Source::Zip(copy, mirror))
}

/// Reads the given entries' bytes (blocking; call inside `spawn_blocking`). A file that cannot
/// be read comes back as an error string for that file alone.
pub fn read(source: &Source, entries: &[ManifestEntry]) -> Vec<(String, Result<Vec<u8>, String>)> {
    let mut out = Vec::with_capacity(entries.len());
    match source {
        Source::Zip(copy, Some(mirror)) => {
            // From the plain copy; what it cannot give comes out of the zip, in order.
            let got: Vec<Option<Vec<u8>>> = entries.iter().map(|e| mirror.read(e)).collect();
            let missing: Vec<ManifestEntry> = entries
                .iter()
                .zip(&got)
                .filter(|(_, g)| g.is_none())
                .map(|(e, _)| e.clone())
                .collect();
            let mut from_zip = read(&Source::Zip(copy.clone(), None), &missing).into_iter();
            for (entry, got) in entries.iter().zip(got) {
                match got {
                    Some(bytes) => out.push((entry.path.clone(), Ok(bytes))),
                    None => out.extend(from_zip.next()),
                }
            }
        }
        Source::Zip(copy, None) => match ingest::read_entries(copy.path(), entries) {
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
    if let Source::Zip(_, Some(mirror)) = source {
        if let Some(bytes) = mirror.read(entry) {
            return Ok(bytes);
        }
    }
    let item = match source {
        Source::Zip(copy, _) => ingest::read_entries(copy.path(), one)
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
