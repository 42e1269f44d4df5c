//! The detectors' per-file results, kept by content so a re-upload scans only what changed.
//!
//! The local phase of the capability detectors ([`crate::pipeline::caps::detect_reusing`])
//! looks at one file at a time: its text and its resolved record. [`key_of`] hashes exactly
//! what that result depends on — the parse cache key (path, content, parser version), what
//! merge adds to a record after parsing (import resolution, composed routes, configuration
//! warnings), the detector version and the generator version — so a file whose text or
//! resolution changed, or a new version of provis, always gets a fresh scan. The global phase
//! (queue names across files, mount prefixes, links), capabilities and summaries are always
//! recomputed.
//!
//! Layout: `cache/detect/v1/<repo_id>/<millis>-<job_id>.json`, every `[key, result]` of one
//! finished summarize, kept as [`super::kept`] keeps files.
//! Nothing here is needed for correctness: a missing or unreadable file only means scanning
//! again.

use crate::db::Job;
use crate::pipeline::caps::{FreshLocals, Local, DETECT_VERSION};
use crate::pipeline::model::FileRecord;
use crate::tasks::context::AppContext;
use std::collections::HashMap;

const PREFIX: &str = "cache/detect/v1";

/// The key of a file's local detector result: changes whenever the text, the path, the
/// resolved record or a version that could change the result does.
pub fn key_of(rec: &FileRecord) -> String {
    let mut h = blake3::Hasher::new();
    h.update(b"provis-detect-cache\0");
    h.update(&DETECT_VERSION.to_le_bytes());
    h.update(
        super::parse_cache::cache_key(&rec.path, &rec.hash, super::parse_cache::PARSER_VERSION)
            .as_bytes(),
    );
    // What merge changes in a parsed record, serialized into a buffer and hashed at once: fed
    // token by token, the hasher's per-call cost was most of the key's (0.2 s at 50k files).
    // The digest is that of the same bytes either way. Serializing cannot fail; should it, the
    // partial input still only makes a key no other record has.
    thread_local! {
        static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    BUF.with_borrow_mut(|buf| {
        buf.clear();
        let _ = serde_json::to_writer(&mut *buf, &rec.imports);
        buf.push(0);
        let _ = serde_json::to_writer(&mut *buf, &rec.routes);
        buf.push(0);
        let _ = serde_json::to_writer(&mut *buf, &rec.warnings);
        h.update(buf);
        // A huge record's buffer is not kept for the thread's life.
        if buf.capacity() > 1 << 20 {
            *buf = Vec::new();
        }
    });
    h.finalize().to_hex().to_string()
}

/// The results the repository's newest finished summarize kept (empty when there are none or
/// they cannot be read).
pub async fn load(ctx: &AppContext, job: &Job) -> HashMap<String, Local> {
    let Some(kept) = super::kept::newest(ctx, PREFIX, job.repo_id).await else {
        return HashMap::new();
    };
    tokio::task::spawn_blocking(move || {
        crate::pipeline::json::decode::<Vec<(String, Local)>>(&kept.bytes)
            .map(|pairs| pairs.into_iter().collect())
            .unwrap_or_else(|e| {
                tracing::warn!(key = %kept.key, error = %e, "detector cache unreadable; scanning every file");
                HashMap::new()
            })
    })
    .await
    .unwrap_or_default()
}

/// The `[key, result]` of every scanned file of this run, in file order: the fresh results
/// (by position) and the kept ones that were reused (taken out of `kept`, not copied).
pub fn entries(
    keys: &[Option<String>],
    mut kept: HashMap<String, Local>,
    fresh: FreshLocals,
) -> Vec<(String, Local)> {
    let mut fresh = fresh.into_iter().peekable();
    let mut out = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let Some(key) = key else { continue };
        if fresh.peek().is_some_and(|(at, _)| *at == i) {
            if let Some((_, local)) = fresh.next() {
                out.push((key.clone(), local));
            }
        } else if let Some(local) = kept.remove(key) {
            out.push((key.clone(), local));
        }
    }
    out
}

/// Keeps this job's results for the next job of the repository (see [`super::kept`]).
pub async fn store(ctx: &AppContext, job: &Job, pairs: Vec<(String, Local)>) {
    if pairs.is_empty() {
        return;
    }
    super::kept::keep(ctx, job, PREFIX, "", "detector cache", move |w| {
        serde_json::to_writer(w, &pairs).map_err(std::io::Error::from)
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::model::{FileWarning, Language};

    fn record() -> FileRecord {
        let mut r = FileRecord::new("src/a.ts", Language::Ts, "ts", b"import x from './b'");
        r.hash = "h1".into();
        r.imports.push(crate::pipeline::model::Import {
            raw: "./b".into(),
            kind: crate::pipeline::model::ImportKind::Esm,
            line: 1,
            names: vec!["x".into()],
            level: 0,
            resolved: None,
            external: false,
            package: None,
            unresolved_reason: None,
        });
        r
    }

    /// The key is the digest of one byte stream, however it is fed: hashing the parts one
    /// token at a time (as older versions did) gives the same key, so kept results stay valid.
    #[test]
    fn keys_are_the_digest_of_the_streamed_parts() {
        use std::io::Write as _;
        let rec = record();
        let mut h = blake3::Hasher::new();
        h.update(b"provis-detect-cache\0");
        h.update(&DETECT_VERSION.to_le_bytes());
        h.update(
            super::super::parse_cache::cache_key(
                &rec.path,
                &rec.hash,
                super::super::parse_cache::PARSER_VERSION,
            )
            .as_bytes(),
        );
        serde_json::to_writer(&mut h, &rec.imports).expect("imports");
        h.write_all(b"\0").expect("nul");
        serde_json::to_writer(&mut h, &rec.routes).expect("routes");
        h.write_all(b"\0").expect("nul");
        serde_json::to_writer(&mut h, &rec.warnings).expect("warnings");
        assert_eq!(key_of(&rec), h.finalize().to_hex().to_string());
    }

    #[test]
    fn keys_follow_text_path_resolution_routes_and_warnings() {
        let base = record();
        let k = key_of(&base);
        assert_eq!(k, key_of(&record()));
        let mut other = record();
        other.hash = "h2".into();
        assert_ne!(k, key_of(&other), "content");
        let mut other = record();
        other.path = "src/c.ts".into();
        assert_ne!(k, key_of(&other), "path");
        let mut other = record();
        other.imports[0].resolved = Some("src/b.ts".into());
        assert_ne!(k, key_of(&other), "resolution");
        let mut other = record();
        other.warnings.push(FileWarning {
            code: "invalid_manifest".into(),
            message: "m".into(),
        });
        assert_ne!(k, key_of(&other), "warnings");
        let mut other = record();
        other.lines += 1;
        assert_eq!(
            k,
            key_of(&other),
            "a field parsing fixes for the content is not hashed"
        );
        assert_eq!(k.len(), 64);
    }
}
