//! The JS/TS resolutions of a job, kept for the next job of the repository.
//!
//! A resolution depends only on the snapshot's file list, the config files the resolver reads
//! and the (file, specifier) pair ([`crate::pipeline::js::KeptResolutions`]), so a re-upload
//! that edits files without adding, removing or renaming any and without touching a
//! `package.json` or `tsconfig` resolves only the specifiers that are new in the files it
//! edited. Each file holds the environment it was made in
//! ([`crate::pipeline::js::environment`]), and a job whose environment differs does not use
//! it. Merge decodes it before it knows its own environment, on a core of its own while it
//! sorts the records: resolution then keeps it or not.
//!
//! Layout: `cache/resolve/v1/<repo_id>/<millis>-<job_id>-<env>.json`, kept as
//! [`super::kept`] keeps files.

use crate::db::Job;
use crate::pipeline::js::{self, KeptResolutions};
use crate::pipeline::model::{FileRecord, FileWarning};
use crate::tasks::context::AppContext;
use std::sync::Arc;

const PREFIX: &str = "cache/resolve/v1";

/// The newest resolutions the repository kept, as stored, with the environment they were
/// made in; decode them with [`decode`].
pub async fn load(ctx: &AppContext, job: &Job) -> Option<super::kept::Kept> {
    super::kept::newest(ctx, PREFIX, job.repo_id).await
}

/// The kept resolutions, decoded before this run's environment is known; resolution uses them
/// only when their [`KeptResolutions::env`] is this run's. None when there are none or they
/// cannot be read.
pub fn decode(kept: Option<super::kept::Kept>) -> Option<KeptResolutions> {
    let kept = kept?;
    let decoded = KeptResolutions::decode(&kept.bytes);
    if decoded.is_none() {
        tracing::warn!(key = %kept.key, "kept resolutions unreadable; resolving every import");
    }
    decoded
}

/// Keeps the JS/TS resolutions of `records` (sorted by path, resolved in environment `env`,
/// with its config `warnings`) for the next job of the repository.
pub async fn store(
    ctx: &AppContext,
    job: &Job,
    env: String,
    records: Arc<Vec<FileRecord>>,
    warnings: Vec<(String, FileWarning)>,
) {
    let tag = env.clone();
    super::kept::keep(ctx, job, PREFIX, &tag, "resolutions", move |w| {
        js::write_kept(w, &env, &records, &warnings)
    })
    .await;
}
