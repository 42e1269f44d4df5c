//! Parse records carried as their JSON bytes between the parser child and merge.
//!
//! A record leaves the parser child as JSON, and a parse batch only passes it on: into the
//! batch's work blob and the parse-cache pack, both JSON arrays of records. Decoding each reply
//! into a [`FileRecord`] only to encode it twice again was 12% of the worker's instructions on
//! a 2.6k-file repository (allocation and JSON). So the batch keeps the bytes the child wrote,
//! and reads only a small [`RecordHead`] (path, language, skipped, warnings) that the child
//! sends beside them. Merge decodes every record once.
//!
//! The bytes are checked to be one JSON object with the head's path, so that arrays written
//! from them have one element per record, each the file's. Whether the rest is a record is
//! found by merge: a child that answers with other JSON (only a compromised one can) fails its
//! job there ("work blob is corrupt"), where a garbled answer used to make one `parse_crash`
//! file.

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

    /// Takes `json` as the encoding of the record with `head` once it holds exactly one JSON
    /// object whose `path` is the head's (so that arrays written from records have one element
    /// per record, whoever wrote the bytes, and a record cannot pass for another file's).
    pub fn from_json(head: RecordHead, json: bytes::Bytes) -> Result<Self, serde_json::Error> {
        /// The one field checked; serde skips the others without building them.
        #[derive(Deserialize)]
        struct PathOf<'a> {
            #[serde(borrow)]
            path: std::borrow::Cow<'a, str>,
        }
        let of: PathOf<'_> = serde_json::from_slice(&json)?;
        if of.path != head.path {
            return Err(serde::de::Error::custom(format!(
                "the record is of {:?}, its head says {:?}",
                of.path, head.path
            )));
        }
        Ok(EncodedRecord { head, json })
    }

    /// The record.
    pub fn decode(&self) -> Result<FileRecord, serde_json::Error> {
        super::json::decode(&self.json)
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
    fn from_json_takes_one_record_of_the_heads_file_only() {
        let head = RecordHead::of(&record("a.ts", false));
        let one = EncodedRecord::encode(&record("a.ts", false)).json;
        assert!(EncodedRecord::from_json(head.clone(), one.clone()).is_ok());
        let other = EncodedRecord::encode(&record("b.ts", false)).json;
        let err = EncodedRecord::from_json(head.clone(), other).unwrap_err();
        assert!(err.to_string().contains("\"b.ts\""), "{err}");
        assert!(EncodedRecord::from_json(head.clone(), bytes::Bytes::from_static(b"[1]")).is_err());
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
