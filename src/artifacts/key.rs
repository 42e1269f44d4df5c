//! Storage keys: the only place where artifact and upload key strings are formed and checked.
//!
//! A key is a `/`-separated relative path. The same key addresses an S3 object and a file under
//! the local artifact directory, so the rules are the intersection of both worlds: no absolute
//! paths, no backslashes, no empty, `.`-leading (which covers `..` and the local backend's
//! temporary files) or NUL-containing components, at most 1024 bytes (S3's limit).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::ArtifactError;

/// Longest key S3 accepts, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// The kinds of artifact a snapshot has (docs/artifacts.md); the wire name is the `kind` column and
/// the file stem of the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ArtifactKind {
    /// The discovered file tree.
    Tree,
    /// Parsed file records.
    Files,
    /// The import graph.
    Graph,
    /// Per-file and per-capability summaries.
    Summaries,
    /// Capabilities built from routes, jobs, CLIs, stores and the graph.
    Capabilities,
    /// Job and snapshot metrics.
    Metrics,
}

impl ArtifactKind {
    /// Every kind, in pipeline order; what `GET /repo/{id}/{kind}` accepts.
    pub const ALL: [ArtifactKind; 6] = [
        ArtifactKind::Tree,
        ArtifactKind::Files,
        ArtifactKind::Graph,
        ArtifactKind::Summaries,
        ArtifactKind::Capabilities,
        ArtifactKind::Metrics,
    ];

    /// The wire name (`tree`, `files`, …), as stored in the `artifacts.kind` column.
    pub fn as_str(self) -> &'static str {
        match self {
            ArtifactKind::Tree => "tree",
            ArtifactKind::Files => "files",
            ArtifactKind::Graph => "graph",
            ArtifactKind::Summaries => "summaries",
            ArtifactKind::Capabilities => "capabilities",
            ArtifactKind::Metrics => "metrics",
        }
    }
}

impl fmt::Display for ArtifactKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error of parsing an unknown artifact kind name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown artifact kind {0:?}")]
pub struct UnknownKind(pub String);

impl FromStr for ArtifactKind {
    type Err = UnknownKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ArtifactKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownKind(s.to_string()))
    }
}

/// Key of one artifact version:
/// `repos/{repo_id}/snapshots/{commit_hash}/{settings_hash}/{kind}.v{version}.json`.
///
/// Versions are allocated by the database (UNIQUE(snapshot_id, kind, version)); the store only
/// guarantees that a key is written once. Fails with [`ArtifactError::InvalidKey`] when a hash
/// would break the key rules (e.g. contains `/`).
pub fn artifact_key(
    repo_id: Uuid,
    commit_hash: &str,
    settings_hash: &str,
    kind: ArtifactKind,
    version: u32,
) -> Result<String, ArtifactError> {
    for part in [commit_hash, settings_hash] {
        if part.is_empty() || part.contains('/') {
            return Err(ArtifactError::InvalidKey {
                key: part.to_string(),
                reason: "hash parts must be non-empty and contain no '/'",
            });
        }
    }
    let key = format!(
        "repos/{repo_id}/snapshots/{commit_hash}/{settings_hash}/{}.v{version}.json",
        kind.as_str()
    );
    validate_key(&key)?;
    Ok(key)
}

/// Key of the stored upload of a job: `uploads/{job_id}.zip`.
pub fn upload_key(job_id: Uuid) -> String {
    format!("uploads/{job_id}.zip")
}

/// Key of an intermediate document of a job (its manifest, its parse batches' results):
/// `work/{job_id}/{name}.json`. Shared storage, so any worker can pick up any task.
pub fn work_key(job_id: Uuid, name: &str) -> String {
    format!("work/{job_id}/{name}.json")
}

/// Prefix under which all artifacts of one snapshot live (ends with `/`), for `list`.
pub fn snapshot_prefix(repo_id: Uuid, commit_hash: &str, settings_hash: &str) -> String {
    format!("repos/{repo_id}/snapshots/{commit_hash}/{settings_hash}/")
}

/// Checks a key against the rules in the module doc; every store operation calls it first.
pub fn validate_key(key: &str) -> Result<(), ArtifactError> {
    let bad = |reason: &'static str| {
        Err(ArtifactError::InvalidKey {
            key: key.to_string(),
            reason,
        })
    };
    if key.is_empty() {
        return bad("empty key");
    }
    if key.len() > MAX_KEY_BYTES {
        return bad("longer than 1024 bytes");
    }
    if key.starts_with('/') {
        return bad("absolute key");
    }
    if key.contains('\\') {
        return bad("backslash in key");
    }
    if key.contains('\0') {
        return bad("NUL in key");
    }
    if key.len() >= 2 && key.as_bytes()[1] == b':' && key.as_bytes()[0].is_ascii_alphabetic() {
        return bad("drive letter in key");
    }
    for component in key.split('/') {
        if component.is_empty() {
            return bad("empty path component");
        }
        if component.starts_with('.') {
            return bad("path component starting with '.' (includes '..')");
        }
    }
    Ok(())
}

/// Checks a listing prefix: empty is allowed (everything); otherwise the same rules as a key,
/// except that it may end with `/`.
pub fn validate_prefix(prefix: &str) -> Result<(), ArtifactError> {
    if prefix.is_empty() {
        return Ok(());
    }
    validate_key(prefix.strip_suffix('/').unwrap_or(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifact_key_shape() {
        let repo = Uuid::nil();
        let key = artifact_key(repo, "abc", "def", ArtifactKind::Graph, 3).unwrap();
        assert_eq!(
            key,
            "repos/00000000-0000-0000-0000-000000000000/snapshots/abc/def/graph.v3.json"
        );
        assert!(artifact_key(repo, "a/b", "def", ArtifactKind::Graph, 1).is_err());
        assert!(artifact_key(repo, "..", "def", ArtifactKind::Graph, 1).is_err());
        assert!(artifact_key(repo, "", "def", ArtifactKind::Graph, 1).is_err());
    }

    #[test]
    fn upload_key_shape() {
        assert_eq!(
            upload_key(Uuid::nil()),
            "uploads/00000000-0000-0000-0000-000000000000.zip"
        );
    }

    #[test]
    fn kinds_round_trip() {
        for kind in ArtifactKind::ALL {
            assert_eq!(kind.as_str().parse::<ArtifactKind>().unwrap(), kind);
            assert_eq!(
                serde_json::to_string(&kind).unwrap(),
                format!("\"{}\"", kind.as_str())
            );
        }
        assert!("nope".parse::<ArtifactKind>().is_err());
    }

    #[test]
    fn key_rules() {
        for bad in [
            "",
            "/abs",
            "a/../b",
            "..",
            "a\\b",
            "a//b",
            "a/",
            "./a",
            "a/.hidden",
            "C:/x",
            "a\0b",
        ] {
            assert!(validate_key(bad).is_err(), "{bad:?} should be rejected");
        }
        for good in ["a", "a/b.c", "uploads/x.zip", "a..b/c"] {
            assert!(validate_key(good).is_ok(), "{good:?} should be accepted");
        }
        assert!(validate_prefix("").is_ok());
        assert!(validate_prefix("repos/").is_ok());
        assert!(validate_prefix("../").is_err());
        assert!(validate_key(&"a".repeat(MAX_KEY_BYTES + 1)).is_err());
    }
}
