//! Content-addressed parse results, shared by every worker through the artifact store.
//!
//! A file's record before resolution depends only on its path (language, file-system routes),
//! its bytes and the parser. So a record is keyed by [`cache_key`]: blake3 of the path, the
//! content hash, [`PARSER_VERSION`] and the generator version. Re-uploading a repository after a
//! small change parses only the changed files; everything that depends on other files —
//! resolution against tsconfig/package.json, the graph, capabilities — is recomputed at merge
//! and after (resolutions are reused only while the file list and every config file are
//! unchanged, see [`super::resolve_cache`]), so a changed tsconfig or package.json changes
//! exactly what it must.
//!
//! Layout (keys of the artifact store, create-only like everything there):
//! - `cache/parse/v1/packs/<pack>.json`: the records one batch parsed afresh, as
//!   `[[key, record], …]`; `<pack>` is blake3 of its keys, so identical packs share a name.
//! - `cache/parse/v1/index/<repo_id>/<millis>-<job_id>.json`: every `[key, pack]` of a finished
//!   merge, the newest of which a new job of the repository reads.
//!
//! Reuse is per repository (the index is the repository's); the packs themselves are shared.
//! Nothing here is ever needed for correctness: a missing or unreadable index or pack only
//! means parsing again.

use crate::artifacts::ArtifactError;
use crate::db::Job;
use crate::pipeline::encoded::{self, EncodedRecord};
use crate::pipeline::model::FileRecord;
use crate::tasks::context::AppContext;
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

/// Bumped whenever parsing changes what it records (a new parser or extractor rule), so cached
/// records of the old parser are never reused.
pub const PARSER_VERSION: u32 = 5;

const PREFIX: &str = "cache/parse/v1";

/// Memo name of the job's index (`HashMap<key, pack>`).
const INDEX: &str = "parse-cache-index";

/// The cache key of a file's parse record.
pub fn cache_key(path: &str, content_hash: &str, parser_version: u32) -> String {
    key_in(b"provis-parse-cache\0", path, content_hash, parser_version)
}

/// The cache key of the record of a file that is not parsed (not code, or over the size
/// limit): its size, lines and hash, nothing else. Keyed apart from [`cache_key`] (another
/// domain), so a file that turns from one kind to the other (a new size limit, a language
/// provis learns to parse) never takes the other kind's record.
pub fn unparsed_key(path: &str, content_hash: &str) -> String {
    key_in(
        b"provis-unparsed-record\0",
        path,
        content_hash,
        PARSER_VERSION,
    )
}

/// blake3 of `domain`, the generator and parser versions, the path and the content hash.
fn key_in(domain: &[u8], path: &str, content_hash: &str, parser_version: u32) -> String {
    let mut h = blake3::Hasher::new();
    h.update(domain);
    h.update(super::publish::GENERATOR_VERSION.as_bytes());
    h.update(&parser_version.to_le_bytes());
    h.update(path.as_bytes());
    h.update(b"\0");
    h.update(content_hash.as_bytes());
    h.finalize().to_hex().to_string()
}

/// The index of the repository's last finished job (key → pack); empty when there is none.
pub async fn index(ctx: &AppContext, job: &Job) -> Arc<HashMap<String, String>> {
    if let Some(index) = ctx.memo().get::<HashMap<String, String>>(job.id, INDEX) {
        return index;
    }
    let index = Arc::new(load_index(ctx, job.repo_id).await.unwrap_or_default());
    ctx.memo().put(job.id, INDEX, Arc::clone(&index), 0);
    index
}

/// Whether the repository has a parse cache index (a run of it finished before): its next
/// job will most likely reuse most of its records and read few files.
pub async fn has_index(ctx: &AppContext, repo: Uuid) -> bool {
    ctx.artifacts()
        .list(&format!("{PREFIX}/index/{repo}/"))
        .await
        .is_ok_and(|listed| !listed.is_empty())
}

async fn load_index(ctx: &AppContext, repo: Uuid) -> Option<HashMap<String, String>> {
    let newest = super::kept::newest(ctx, &format!("{PREFIX}/index"), repo).await?;
    let pairs: Vec<(String, String)> = crate::pipeline::json::decode(&newest.bytes).ok()?;
    Some(pairs.into_iter().collect())
}

/// The records of `keys` found in the cache (by position), loading each pack once.
pub async fn lookup(ctx: &AppContext, job: &Job, keys: &[String]) -> Vec<Option<FileRecord>> {
    let index = index(ctx, job).await;
    let mut packs: HashMap<&str, Option<Arc<HashMap<String, FileRecord>>>> = HashMap::new();
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        let found = match index.get(key) {
            None => None,
            Some(pack) => {
                if !packs.contains_key(pack.as_str()) {
                    let loaded = load_pack(ctx, job, pack).await;
                    packs.insert(pack.as_str(), loaded);
                }
                packs
                    .get(pack.as_str())
                    .and_then(|p| p.as_ref())
                    .and_then(|p| p.get(key).cloned())
            }
        };
        out.push(found);
    }
    out
}

async fn load_pack(
    ctx: &AppContext,
    job: &Job,
    pack: &str,
) -> Option<Arc<HashMap<String, FileRecord>>> {
    let name = format!("parse-cache-pack-{pack}");
    if let Some(p) = ctx.memo().get(job.id, &name) {
        return Some(p);
    }
    let map = Arc::new(read_pack(ctx, pack).await?);
    ctx.memo().put(job.id, &name, Arc::clone(&map), 0);
    Some(map)
}

/// The records of a pack by key, read and decoded. None when the pack is gone or unreadable.
pub async fn read_pack(ctx: &AppContext, pack: &str) -> Option<HashMap<String, FileRecord>> {
    let bytes = read_pack_bytes(ctx, pack).await?;
    tokio::task::spawn_blocking(move || decode_pack(&bytes))
        .await
        .ok()?
}

/// A pack as stored (merge, its main reader, fetches many and decodes them on all cores).
/// None when it is gone.
pub async fn read_pack_bytes(ctx: &AppContext, pack: &str) -> Option<bytes::Bytes> {
    ctx.artifacts().get(&pack_key(pack)).await.ok()
}

/// The records of a stored pack by key; None when it is not a pack.
pub fn decode_pack(bytes: &[u8]) -> Option<HashMap<String, FileRecord>> {
    crate::pipeline::json::decode::<Vec<(String, FileRecord)>>(bytes)
        .ok()
        .map(|pairs| pairs.into_iter().collect())
}

fn pack_key(pack: &str) -> String {
    format!("{PREFIX}/packs/{pack}.json")
}

/// Stores freshly parsed records as one pack and returns its name (None when there was
/// nothing to store or the store refused: the next job then parses them again). The records
/// are written as encoded, without decoding them.
pub async fn store_pack(ctx: &AppContext, fresh: Vec<(String, EncodedRecord)>) -> Option<String> {
    if fresh.is_empty() {
        return None;
    }
    let mut h = blake3::Hasher::new();
    for (k, _) in &fresh {
        h.update(k.as_bytes());
    }
    let pack = h.finalize().to_hex().to_string();
    let key = pack_key(&pack);
    let store = ctx.artifacts().clone();
    let scratch = ctx.scratch().to_path_buf();
    let written = tokio::task::spawn_blocking(move || {
        store.put_new_writer_blocking(&key, "application/json", &scratch, false, &mut |w| {
            encoded::write_pairs(w, fresh.iter().map(|(k, r)| (k.as_str(), r)))
        })
    })
    .await
    .ok()?;
    match written {
        Ok(_) | Err(ArtifactError::AlreadyExists { .. }) => Some(pack),
        Err(e) => {
            tracing::warn!(error = %e, "parse cache pack not stored; its files will be parsed again next time");
            None
        }
    }
}

/// Records the job's whole index (every batch's `[key, pack]`), for the next job of the
/// repository. Best effort, like everything in the cache.
pub async fn store_index(ctx: &AppContext, job: &Job, pairs: Vec<(String, String)>) {
    let millis = chrono::Utc::now().timestamp_millis();
    let key = format!(
        "{PREFIX}/index/{}/{millis:015}-{}.json",
        job.repo_id, job.id
    );
    let bytes = match serde_json::to_vec(&pairs) {
        Ok(b) => b,
        Err(_) => return,
    };
    if let Err(e) = ctx
        .artifacts()
        .put_new(&key, bytes, "application/json")
        .await
    {
        tracing::warn!(error = %e, "parse cache index not stored");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_change_with_path_content_and_parser_version() {
        let k = cache_key("a.ts", "h1", PARSER_VERSION);
        assert_eq!(k, cache_key("a.ts", "h1", PARSER_VERSION));
        assert_ne!(k, cache_key("b.ts", "h1", PARSER_VERSION));
        assert_ne!(k, cache_key("a.ts", "h2", PARSER_VERSION));
        assert_ne!(k, cache_key("a.ts", "h1", PARSER_VERSION + 1));
        assert_eq!(k.len(), 64);
    }
}
