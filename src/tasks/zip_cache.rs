//! What the inspection of a repository's last upload learned of its zip entries, kept so the
//! next upload inflates only the entries whose compressed bytes changed (see
//! [`crate::pipeline::ingest::KnownEntries`]).
//!
//! Layout: `cache/zip/v1/<repo_id>/<millis>-<job_id>.json`, `{key: {hash, consumed}}`, kept as
//! [`super::kept`] keeps files. Only provis writes it, after an inspection accepted the zip.

use crate::db::Job;
use crate::pipeline::ingest::KnownEntries;
use crate::tasks::context::AppContext;
use uuid::Uuid;

const PREFIX: &str = "cache/zip/v1";

/// The entries the repository's newest upload learned (empty when none or unreadable).
pub async fn load(ctx: &AppContext, repo: Uuid) -> KnownEntries {
    let Some(kept) = super::kept::newest(ctx, PREFIX, repo).await else {
        return KnownEntries::new();
    };
    tokio::task::spawn_blocking(move || {
        crate::pipeline::json::decode(&kept.bytes).unwrap_or_else(|e| {
            tracing::warn!(key = %kept.key, error = %e, "kept zip entries unreadable; inflating every entry");
            KnownEntries::new()
        })
    })
    .await
    .unwrap_or_default()
}

/// Keeps what this job's inspection learned, when it learned something `before` did not hold.
pub async fn store(ctx: &AppContext, job: &Job, learned: KnownEntries, before: &KnownEntries) {
    if learned.is_empty() || learned.keys().all(|k| before.contains_key(k)) {
        return;
    }
    super::kept::keep(ctx, job, PREFIX, "", "zip entries", move |w| {
        serde_json::to_writer(w, &learned).map_err(std::io::Error::from)
    })
    .await;
}
