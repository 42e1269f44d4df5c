//! Parse records carried as their JSON bytes between the parser child and merge.
//!
//! A record leaves the parser child as JSON, and a parse batch only passes it on: into the
//! batch's work blob and the parse-cache pack, both JSON arrays of records. Decoding each reply
//! into a [`FileRecord`] only to encode it twice again cost the worker about a sixth of its CPU
//! while parsing (allocation and JSON, at 50k files). So the batch keeps the bytes the child
//! wrote, and reads only a small [`RecordHead`] (path, language, skipped, warnings) that the
//! child sends beside them. Merge decodes every record once.

use super::model::{FileRecord, FileWarning, Language};
use serde::{Deserialize, Serialize};
use std::io::{self, Write};

/// What a parse batch needs to know of a record without decoding it: its counts, its
/// warnings' rows and events, and its metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordHead {
    /// The record's path (checked against the file asked for).
    pub path: String,
    /// The record's language.
    pub language: Language,
    /// Whether the file was not parsed.
    pub skipped: bool,
    /// The record's warnings.
    pub warnings: Vec<FileWarning>,
}

impl RecordHead {
    /// The head of a decoded record.
    pub fn of(rec: &FileRecord) -> Self {
        RecordHead {
            path: rec.path.clone(),
            language: rec.language,
            skipped: rec.skipped,
            warnings: rec.warnings.clone(),
        }
    }
}

/// A parse record as JSON (exactly what `serde_json` writes for the [`FileRecord`]) and its
/// head. Cloning shares the bytes.
#[derive(Debug, Clone)]
pub struct EncodedRecord {
    /// What the batch reads of the record.
    pub head: RecordHead,
    /// The record's JSON: one object.
    pub json: bytes::Bytes,
}

impl EncodedRecord {
    /// Encodes a decoded record (failure records, files not parsed, records from the cache).
    pub fn encode(rec: &FileRecord) -> Self {
        EncodedRecord {
            head: RecordHead::of(rec),
            // Serializing a record into memory cannot fail: every map key is a string.
            json: serde_json::to_vec(rec).unwrap_or_default().into(),
        }
    }

    /// Takes `json` as a record's encoding once it holds exactly one JSON value (so that
    /// arrays written from records have one element per record, whoever wrote the bytes).
    /// Whether it is a [`FileRecord`] is found when merge decodes it.
    pub fn from_json(head: RecordHead, json: bytes::Bytes) -> Result<Self, serde_json::Error> {
        serde_json::from_slice::<serde::de::IgnoredAny>(&json)?;
        Ok(EncodedRecord { head, json })
    }

    /// The record.
    pub fn decode(&self) -> Result<FileRecord, serde_json::Error> {
        serde_json::from_slice(&self.json)
    }
}

/// Writes `records` as the JSON array of their records (the same bytes as serializing the
/// decoded `Vec<FileRecord>`).
pub fn write_array<'a>(
    w: &mut dyn Write,
    records: impl IntoIterator<Item = &'a EncodedRecord>,
) -> io::Result<()> {
    w.write_all(b"[")?;
    for (i, rec) in records.into_iter().enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        w.write_all(&rec.json)?;
    }
    w.write_all(b"]")
}

/// Writes `pairs` as the JSON array of `[key, record]` pairs (the same bytes as serializing
/// `Vec<(String, FileRecord)>`).
pub fn write_pairs<'a>(
    w: &mut dyn Write,
    pairs: impl IntoIterator<Item = (&'a str, &'a EncodedRecord)>,
) -> io::Result<()> {
    w.write_all(b"[")?;
    for (i, (key, rec)) in pairs.into_iter().enumerate() {
        w.write_all(if i > 0 { b",[" } else { b"[" })?;
        serde_json::to_writer(&mut *w, key)?;
        w.write_all(b",")?;
        w.write_all(&rec.json)?;
        w.write_all(b"]")?;
    }
    w.write_all(b"]")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(path: &str, warn: bool) -> FileRecord {
        let mut r = FileRecord::new(path, Language::Ts, "ts", b"export const \"q\" = 1;\n");
        if warn {
            r.warnings.push(FileWarning {
                code: "parse_error".into(),
                message: "line 1: \"odd\"".into(),
            });
        }
        r
    }

    #[test]
    fn arrays_are_the_bytes_of_the_decoded_records() {
        let recs = vec![record("a.ts", false), record("b\"c.ts", true)];
        let enc: Vec<EncodedRecord> = recs.iter().map(EncodedRecord::encode).collect();
        let mut array = Vec::new();
        write_array(&mut array, &enc).expect("write");
        assert_eq!(array, serde_json::to_vec(&recs).expect("json"));
        let mut empty = Vec::new();
        write_array(&mut empty, &[]).expect("write");
        assert_eq!(empty, b"[]");

        let pairs: Vec<(String, FileRecord)> = vec![
            ("k1".to_string(), recs[0].clone()),
            ("k\"2".to_string(), recs[1].clone()),
        ];
        let mut written = Vec::new();
        write_pairs(&mut written, [("k1", &enc[0]), ("k\"2", &enc[1])]).expect("write");
        assert_eq!(written, serde_json::to_vec(&pairs).expect("json"));
        assert_eq!(enc[1].decode().expect("decodes"), recs[1]);
        assert_eq!(enc[1].head, RecordHead::of(&recs[1]));
        assert_eq!(enc[1].head.warnings.len(), 1);
    }

    #[test]
    fn from_json_takes_one_value_only() {
        let head = RecordHead::of(&record("a.ts", false));
        let one = EncodedRecord::encode(&record("a.ts", false)).json;
        assert!(EncodedRecord::from_json(head.clone(), one.clone()).is_ok());
        // Bytes that would add a second element to an array written from the records.
        let mut two = one.to_vec();
        two.extend_from_slice(b",");
        two.extend_from_slice(&one);
        assert!(EncodedRecord::from_json(head.clone(), two.into()).is_err());
        let mut open = one.to_vec();
        open.extend_from_slice(b"],[");
        assert!(EncodedRecord::from_json(head.clone(), open.into()).is_err());
        assert!(EncodedRecord::from_json(head, bytes::Bytes::new()).is_err());
    }
}
