//! Files a job keeps for the next job of its repository (what its zip's inspection learned of
//! the entries, its JS/TS resolutions, its detectors' results), in the artifact store so every
//! worker finds them.
//!
//! Layout: `<prefix>/<repo_id>/<millis>-<job_id>[-<tag>].json`. The next job reads the newest
//! ([`newest`]); [`keep`] deletes the older ones except the one before it (a job that started
//! from it may still be reading). The tag says what a file is good for without reading it.
//! Nothing kept is needed for correctness: a missing or unreadable file only means computing
//! again, so every failure here is logged and swallowed.

use crate::db::Job;
use crate::tasks::context::AppContext;
use uuid::Uuid;

/// How many of a repository's kept files stay after a new one is stored.
const KEEP: usize = 2;

/// A kept file as read back.
pub struct Kept {
    /// Its key in the artifact store.
    pub key: String,
    /// The tag its name carries (empty when none).
    pub tag: String,
    /// Its bytes.
    pub bytes: bytes::Bytes,
}

/// The newest file the repository kept under `prefix`; None when there is none or it cannot
/// be read.
pub async fn newest(ctx: &AppContext, prefix: &str, repo: Uuid) -> Option<Kept> {
    let listed = ctx
        .artifacts()
        .list(&format!("{prefix}/{repo}/"))
        .await
        .ok()?;
    let key = listed.into_iter().map(|o| o.key).max()?;
    let bytes = ctx.artifacts().get(&key).await.ok()?;
    Some(Kept {
        tag: tag_of(&key).to_string(),
        key,
        bytes,
    })
}

/// The tag of a kept file's key: what follows the job id (36 characters) in its name.
fn tag_of(key: &str) -> &str {
    let name = key.rsplit('/').next().unwrap_or(key);
    let stem = name.strip_suffix(".json").unwrap_or(name);
    // `<millis:015>-<uuid>` is 52 characters; a tag follows after one more `-`.
    stem.get(53..).unwrap_or("")
}

/// Stores what `write` writes as the job's kept file under `prefix` (tagged with `tag` when
/// not empty), then deletes the older ones. `what` names the file in the warnings.
pub async fn keep(
    ctx: &AppContext,
    job: &Job,
    prefix: &str,
    tag: &str,
    what: &'static str,
    mut write: impl FnMut(&mut dyn std::io::Write) -> std::io::Result<()> + Send + 'static,
) {
    let millis = chrono::Utc::now().timestamp_millis();
    let tag = if tag.is_empty() {
        String::new()
    } else {
        format!("-{tag}")
    };
    let key = format!("{prefix}/{}/{millis:015}-{}{tag}.json", job.repo_id, job.id);
    let store = ctx.artifacts().clone();
    let scratch = ctx.scratch().to_path_buf();
    let written = tokio::task::spawn_blocking(move || {
        store.put_new_writer_blocking(&key, "application/json", &scratch, false, &mut write)
    })
    .await;
    let error = match written {
        Ok(Ok(_)) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(e) => Some(e.to_string()),
    };
    if let Some(error) = error {
        tracing::warn!(error, what, "not kept; the next job computes it again");
        return;
    }
    let Ok(listed) = ctx
        .artifacts()
        .list(&format!("{prefix}/{}/", job.repo_id))
        .await
    else {
        return;
    };
    let mut keys: Vec<String> = listed.into_iter().map(|o| o.key).collect();
    keys.sort();
    let old = keys.len().saturating_sub(KEEP);
    for key in keys.into_iter().take(old) {
        if let Err(e) = ctx.artifacts().delete(&key).await {
            tracing::debug!(key, error = %e, what, "old kept file not deleted");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tag_follows_the_job_id() {
        let job = "0191d1e2-7c3a-7d4e-8f00-0123456789ab";
        let plain = format!("cache/detect/v1/r/{:015}-{job}.json", 1_733_500_000_000u64);
        assert_eq!(tag_of(&plain), "");
        let tagged = format!(
            "cache/resolve/v1/r/{:015}-{job}-abc123.json",
            1_733_500_000_000u64
        );
        assert_eq!(tag_of(&tagged), "abc123");
    }
}
