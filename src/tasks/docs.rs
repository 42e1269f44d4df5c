//! Typed artifact documents (docs/artifacts.md) as the stages write and read them.
//!
//! Written straight from the stages' own data (shared through `Arc`s, so a stage can write a
//! document on a blocking thread and keep using the data) by `serde_json::to_writer`: no
//! `serde_json::Value` tree of a 50k-file snapshot is ever built. The read side names only the
//! fields a stage needs, so serde skips the rest without allocating it.

use crate::pipeline::graph::Graph;
use crate::pipeline::model::FileRecord;
use crate::pipeline::{language_label, PlannedFile};
use chrono::{DateTime, Utc};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Serialize, Serializer};
use std::collections::BTreeMap;
use std::sync::Arc;
use uuid::Uuid;

/// Identity fields every snapshot document starts with.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DocHead {
    /// Repository id.
    pub repo_id: Uuid,
    /// Snapshot id.
    pub snapshot_id: Uuid,
    /// When the document was generated.
    pub generated_at: DateTime<Utc>,
}

impl DocHead {
    /// A head generated now.
    pub fn now(repo_id: Uuid, snapshot_id: Uuid) -> Self {
        Self {
            repo_id,
            snapshot_id,
            generated_at: Utc::now(),
        }
    }
}

/// A body document (`capabilities`, `summaries`) behind the identity fields, written from the
/// typed body: a 50k-file `summaries` built as a `Value` first cost ~45 MB at the job's peak.
#[derive(Debug, Clone, Serialize)]
pub struct Headed<T> {
    /// Identity.
    #[serde(flatten)]
    pub head: DocHead,
    /// The body's fields, after the identity's.
    #[serde(flatten)]
    pub doc: T,
}

/// `Arc<Vec<T>>` serialized as its list (serde's `Arc` support needs the `rc` feature).
#[derive(Debug, Clone)]
pub struct Shared<T>(pub Arc<T>);

impl<T: Serialize> Serialize for Shared<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// A file warning as the `files` document lists it.
#[derive(Debug, Clone, Serialize)]
pub struct PathWarning {
    /// File the warning is about.
    pub path: String,
    /// Stable code.
    pub code: String,
    /// Detail.
    pub message: String,
}

/// `summary` of the `files` document.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FilesSummary {
    /// Files in the snapshot.
    pub total_files: usize,
    /// Files per language.
    pub languages: BTreeMap<&'static str, usize>,
}

/// The `files` artifact.
#[derive(Debug, Clone, Serialize)]
pub struct FilesDoc {
    /// Identity.
    #[serde(flatten)]
    pub head: DocHead,
    /// Counts.
    pub summary: FilesSummary,
    /// Every file's record, sorted by path.
    pub files: Shared<Vec<FileRecord>>,
    /// Every file warning, with its path.
    pub warnings: Vec<PathWarning>,
}

impl FilesDoc {
    /// The document of `records` (resolved, sorted).
    pub fn new(head: DocHead, records: Arc<Vec<FileRecord>>) -> Self {
        let warnings = records
            .iter()
            .flat_map(|r| {
                r.warnings.iter().map(move |w| PathWarning {
                    path: r.path.clone(),
                    code: w.code.clone(),
                    message: w.message.clone(),
                })
            })
            .collect();
        Self {
            head,
            summary: FilesSummary {
                total_files: records.len(),
                languages: crate::pipeline::language_counts(&records),
            },
            files: Shared(records),
            warnings,
        }
    }
}

/// The part of the `files` artifact later stages read back.
#[derive(Debug, Deserialize)]
pub struct FilesIn {
    /// The records.
    pub files: Vec<FileRecord>,
}

/// The `graph` artifact: the graph with the identity fields.
#[derive(Debug, Clone, Serialize)]
pub struct GraphDoc {
    /// Identity.
    #[serde(flatten)]
    pub head: DocHead,
    /// Nodes, edges, unresolved imports and metrics.
    #[serde(flatten)]
    pub graph: Shared<Graph>,
}

/// The `tree` artifact: what discovery kept and ignored.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TreeDoc {
    /// Identity.
    #[serde(flatten)]
    pub head: DocHead,
    /// Kept files.
    pub total_files: usize,
    /// Kept files per language.
    pub languages: BTreeMap<&'static str, usize>,
    /// `{path, size, hash, language, parsed}` per kept file.
    pub files: TreeEntries,
    /// Ignored paths counted by reason.
    pub ignored: BTreeMap<String, u64>,
}

/// The `files` list of the `tree` artifact, written from the plan entry by entry.
#[derive(Debug, Clone)]
pub struct TreeEntries(pub Arc<Vec<PlannedFile>>);

#[derive(Serialize)]
struct TreeEntry<'a> {
    path: &'a str,
    size: u64,
    hash: &'a str,
    language: &'static str,
    parsed: bool,
}

impl Serialize for TreeEntries {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for f in self.0.iter() {
            seq.serialize_element(&TreeEntry {
                path: &f.entry.path,
                size: f.entry.size,
                hash: &f.entry.hash,
                language: language_label(f.language),
                parsed: f.parse,
            })?;
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::model::Language;

    #[test]
    fn files_doc_has_the_wire_fields() {
        let mut rec = FileRecord::new("a.ts", Language::Ts, "ts", b"x\n");
        rec.warnings.push(crate::pipeline::model::FileWarning {
            code: "parse_error".into(),
            message: "m".into(),
        });
        let doc = FilesDoc::new(
            DocHead::now(Uuid::nil(), Uuid::nil()),
            Arc::new(vec![rec.clone()]),
        );
        let v = serde_json::to_value(&doc).expect("serializes");
        for k in [
            "repoId",
            "snapshotId",
            "generatedAt",
            "summary",
            "files",
            "warnings",
        ] {
            assert!(v.get(k).is_some(), "{k} missing: {v}");
        }
        assert_eq!(v["summary"]["totalFiles"], 1);
        assert_eq!(v["summary"]["languages"]["ts"], 1);
        assert_eq!(v["files"][0], serde_json::to_value(&rec).expect("record"));
        assert_eq!(v["warnings"][0]["path"], "a.ts");
        let back: FilesIn = serde_json::from_value(v).expect("reads back");
        assert_eq!(back.files, vec![rec]);
    }
}
