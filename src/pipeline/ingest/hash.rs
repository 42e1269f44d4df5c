//! The two idempotency hashes of a snapshot: what was analysed (`commitHash`) and how
//! (`settingsHash`). Both are full blake3 digests, 64 lower-case hex characters: no
//! truncation to argue about, and they fit the `varchar(64)` of the old schema.

use super::ManifestEntry;
use serde_json::Value;

/// Domain prefix so a commit hash can never equal the hash of some other provis value.
const COMMIT_DOMAIN: &[u8] = b"provis commit v1\0";
/// Domain prefix of settings hashes.
const SETTINGS_DOMAIN: &[u8] = b"provis settings v1\0";

/// The content hash of a tree: blake3 over its files' (path, content hash) pairs, sorted by
/// path bytes, each path length-prefixed so no two lists encode alike. Timestamps, entry
/// order, compression and the zip's own bytes do not matter — the same tree zipped twice
/// hashes the same; one changed byte or renamed file changes it. An empty tree has a hash too.
pub fn commit_hash(entries: &[ManifestEntry]) -> String {
    let mut pairs: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| (e.path.as_str(), e.hash.as_str()))
        .collect();
    pairs.sort_unstable();
    let mut hasher = blake3::Hasher::new();
    hasher.update(COMMIT_DOMAIN);
    for (path, hash) in pairs {
        hasher.update(&(path.len() as u64).to_le_bytes());
        hasher.update(path.as_bytes());
        hasher.update(&(hash.len() as u64).to_le_bytes());
        hasher.update(hash.as_bytes());
    }
    hasher.finalize().to_hex().to_string()
}

/// The hash of the effective analysis settings: blake3 of their canonical JSON (object keys
/// sorted at every level, no whitespace; numbers as serde_json writes them, so `1` and `1.0`
/// differ).
///
/// The caller decides what goes in, and the rule is: everything that can change an artifact,
/// nothing that cannot. In: `maxFileBytes` (decides which files are parsed), the user's
/// `settings` form field, the generator version (so a new provis does not serve an old
/// analysis as a cache hit). Out: `parseBatchSize`, worker counts, timeouts, rate limits,
/// storage locations — they change how fast, never what.
pub fn settings_hash(settings: &Value) -> String {
    let mut canonical = String::new();
    write_canonical(settings, &mut canonical);
    let mut hasher = blake3::Hasher::new();
    hasher.update(SETTINGS_DOMAIN);
    hasher.update(canonical.as_bytes());
    hasher.finalize().to_hex().to_string()
}

/// Writes `value` as canonical JSON. Done by hand rather than trusting `serde_json::Map`'s
/// order, which becomes insertion order if any crate in the build enables `preserve_order`.
fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_unstable();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                if let Some(v) = map.get(key) {
                    write_canonical(v, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(path: &str, hash: &str) -> ManifestEntry {
        ManifestEntry {
            path: path.into(),
            size: 1,
            hash: hash.into(),
            zip: None,
        }
    }

    #[test]
    fn settings_hash_ignores_key_order_but_not_values() {
        let a = json!({"maxFileBytes": 2097152, "user": {"x": 1, "y": [1, 2]}});
        let b = json!({"user": {"y": [1, 2], "x": 1}, "maxFileBytes": 2097152});
        let c = json!({"user": {"y": [2, 1], "x": 1}, "maxFileBytes": 2097152});
        assert_eq!(settings_hash(&a), settings_hash(&b));
        assert_ne!(settings_hash(&a), settings_hash(&c));
        assert_eq!(settings_hash(&a).len(), 64);
    }

    #[test]
    fn canonical_json_is_compact_and_sorted() {
        let mut out = String::new();
        write_canonical(&json!({"b": [true, null], "a": "q\""}), &mut out);
        assert_eq!(out, r#"{"a":"q\"","b":[true,null]}"#);
    }

    #[test]
    fn commit_hash_is_order_free_and_unambiguous() {
        let one = [entry("a", "h1"), entry("b", "h2")];
        let two = [entry("b", "h2"), entry("a", "h1")];
        assert_eq!(commit_hash(&one), commit_hash(&two));
        // Moving bytes between path and hash must not collide.
        assert_ne!(
            commit_hash(&[entry("ab", "c")]),
            commit_hash(&[entry("a", "bc")])
        );
        assert_ne!(commit_hash(&one), commit_hash(&one[..1]));
    }
}
