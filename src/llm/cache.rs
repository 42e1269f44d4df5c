//! The LLM answer cache: one object per (prompt version, model, file content hash) in the
//! artifact store, so an unchanged file is never summarized twice, by any worker, in any job.
//!
//! Key: `cache/llm/<PROMPT_VERSION>/<model>/<blake3 of the file>.json` (the model name with
//! characters outside `[A-Za-z0-9._-]` replaced by `_`). Stored with the store's create-only
//! `put_new`: two workers summarizing the same content at once both call the LLM, the first
//! write wins and the second is a no-op. The file's path is not part of the key: identical
//! content anywhere (a copied file, a renamed file, another repository) reuses the answer.
//! The cache is best effort: a read or write error is logged and the file is summarized.

use super::prompt::LlmSummary;
use super::PROMPT_VERSION;
use crate::artifacts::{ArtifactError, ArtifactStore, CONTENT_TYPE_JSON};
use serde::{Deserialize, Serialize};

/// Prefix of every cache key.
pub const CACHE_PREFIX: &str = "cache/llm";

/// One cached answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CacheEntry {
    /// Prompt version it was made with.
    pub prompt_version: String,
    /// Model that answered.
    pub model: String,
    /// Content hash of the file.
    pub hash: String,
    /// The validated summary.
    pub summary: LlmSummary,
    /// Tokens it cost when it was made.
    pub total_tokens: u64,
    /// When it was made.
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// The cache key for content `hash` under `model`; `None` when the hash is unusable.
pub fn cache_key(model: &str, hash: &str) -> Option<String> {
    let ok_hash =
        !hash.is_empty() && hash.len() <= 128 && hash.bytes().all(|b| b.is_ascii_hexdigit());
    if !ok_hash {
        return None;
    }
    let model: String = model
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let model = model.trim_start_matches('.');
    let model = if model.is_empty() { "_" } else { model };
    Some(format!(
        "{CACHE_PREFIX}/{PROMPT_VERSION}/{model}/{hash}.json"
    ))
}

/// Reads a cached answer; `None` when there is none or it cannot be read.
pub async fn get(store: &ArtifactStore, key: &str) -> Option<CacheEntry> {
    match store.get(key).await {
        Ok(bytes) => match serde_json::from_slice::<CacheEntry>(&bytes) {
            Ok(e) if e.prompt_version == PROMPT_VERSION => Some(e),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(key, error = %e, "unreadable LLM cache entry; summarizing again");
                None
            }
        },
        Err(ArtifactError::NotFound { .. }) => None,
        Err(e) => {
            tracing::warn!(key, error = %e, "LLM cache read failed; summarizing again");
            None
        }
    }
}

/// Stores an answer (create-only; an existing entry is kept).
pub async fn put(store: &ArtifactStore, key: &str, entry: &CacheEntry) {
    let bytes = match serde_json::to_vec(entry) {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(key, error = %e, "cannot encode LLM cache entry");
            return;
        }
    };
    match store.put_new(key, bytes, CONTENT_TYPE_JSON).await {
        Ok(_) | Err(ArtifactError::AlreadyExists { .. }) => {}
        Err(e) => tracing::warn!(key, error = %e, "LLM cache write failed"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert_eq!(
            cache_key("gpt-4o-mini", "abc123").as_deref(),
            Some("cache/llm/file-summary-v1/gpt-4o-mini/abc123.json")
        );
        assert_eq!(
            cache_key("org/model:7b", "ff").as_deref(),
            Some("cache/llm/file-summary-v1/org_model_7b/ff.json")
        );
        assert_eq!(
            cache_key("..", "ff").as_deref(),
            Some("cache/llm/file-summary-v1/_/ff.json")
        );
        assert!(cache_key("m", "").is_none());
        assert!(cache_key("m", "../x").is_none());
    }

    #[test]
    fn round_trip_on_local_store() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = ArtifactStore::local(dir.path()).expect("store");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let key = cache_key("m", "abcd").expect("key");
            assert!(get(&store, &key).await.is_none());
            let entry = CacheEntry {
                prompt_version: PROMPT_VERSION.into(),
                model: "m".into(),
                hash: "abcd".into(),
                summary: LlmSummary {
                    title: "t".into(),
                    purpose: "p".into(),
                    key_functions: vec![],
                    risks: vec![],
                    blurb: "b".into(),
                },
                total_tokens: 10,
                created_at: chrono::Utc::now(),
            };
            put(&store, &key, &entry).await;
            let mut other = entry.clone();
            other.summary.title = "second".into();
            put(&store, &key, &other).await;
            assert_eq!(
                get(&store, &key).await,
                Some(entry),
                "create-only: the first stays"
            );
        });
    }
}
