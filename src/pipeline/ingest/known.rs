//! Entries an earlier inspection already inflated, recognised by their compressed bytes, so a
//! re-upload of a repository inflates only the files that changed.
//!
//! Inflating is deterministic: the same compressed bytes under the same method always give the
//! same content. An entry's [key](KeyReader) is blake3 over its method, declared size, declared
//! CRC-32 and every compressed byte. When an accepted inspection recorded that key with the
//! content's blake3 and the compressed bytes inflation consumed, a later entry with the same
//! key has that content: it is hashed (about a tenth of the work of inflating and hashing the
//! content) instead of inflated. The size and ratio limits still apply, to the same numbers
//! inflation would give. Unchanged files compress to the same bytes when the same tool zips the
//! tree again (`zip -r`, `git archive`), so a re-upload after a small change inflates little.

use super::StoredAs;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::{self, Read};

/// What an inspection learned of one entry: its content's blake3 (hex) and the compressed
/// bytes its inflation consumed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Known {
    /// blake3 of the content, hex.
    pub hash: String,
    /// Compressed bytes inflation consumed (what the ratio rule measures).
    pub consumed: u64,
}

/// Entries by key: what an inspection returns and what the next one of the repository reads.
pub type KnownEntries = HashMap<String, Known>;

/// A reader of an entry's compressed bytes that hashes them on the way into its key.
pub(super) struct KeyReader<R> {
    inner: R,
    hasher: blake3::Hasher,
}

impl<R: Read> KeyReader<R> {
    /// Starts the key of an entry stored with `method`, declaring `size` bytes and `crc`.
    pub(super) fn new(inner: R, method: StoredAs, size: u64, crc: u32) -> Self {
        let mut hasher = blake3::Hasher::new();
        hasher.update(b"provis-zip-entry\0");
        hasher.update(&[matches!(method, StoredAs::Deflated) as u8]);
        hasher.update(&size.to_le_bytes());
        hasher.update(&crc.to_le_bytes());
        KeyReader { inner, hasher }
    }

    /// Reads the rest of the compressed bytes and returns the key.
    pub(super) fn finish(mut self) -> io::Result<String> {
        io::copy(&mut self, &mut io::sink())?;
        Ok(self.hasher.finalize().to_hex().to_string())
    }
}

impl<R: Read> Read for KeyReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{inspect_zip, inspect_zip_with, RejectCode, ZipLimits};
    use super::*;
    use std::io::Write as _;
    use std::path::{Path, PathBuf};

    /// A deflated zip of `files` (path, text) under a wrapper folder.
    fn zip_of(dir: &Path, name: &str, files: &[(&str, String)]) -> PathBuf {
        let path = dir.join(name);
        let mut w = zip::ZipWriter::new(std::fs::File::create(&path).expect("create"));
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (p, text) in files {
            w.start_file(format!("repo/{p}"), opts).expect("start");
            w.write_all(text.as_bytes()).expect("write");
        }
        w.finish().expect("finish");
        path
    }

    fn tree(changed: &str) -> Vec<(&'static str, String)> {
        vec![
            ("src/a.ts", "export const a = 1;\n".repeat(300)),
            (
                "src/b.ts",
                format!("export const b = \"{changed}\";\n").repeat(300),
            ),
            ("README.md", "# app\n".to_string()),
        ]
    }

    /// A re-upload whose entries the last inspection learned gives the same manifest; an entry
    /// with other bytes is inflated, and every entry is learned again.
    #[test]
    fn known_entries_give_the_manifest_of_inflating_them() {
        let dir = tempfile::tempdir().expect("tmp");
        let limits = ZipLimits::default();
        let first = zip_of(dir.path(), "first.zip", &tree("one"));
        let cold = inspect_zip_with(&first, &limits, None, &KnownEntries::new()).expect("cold");
        assert_eq!(cold.known.len(), 3, "every entry is learned");
        let second = zip_of(dir.path(), "second.zip", &tree("two"));
        let warm = inspect_zip_with(&second, &limits, None, &cold.known).expect("warm");
        assert_eq!(
            warm.manifest,
            inspect_zip(&second, &limits).expect("inflated"),
            "the same manifest as inflating every entry"
        );
        assert_eq!(warm.known.len(), 3);
        let new: Vec<&String> = warm
            .known
            .keys()
            .filter(|k| !cold.known.contains_key(*k))
            .collect();
        assert_eq!(new.len(), 1, "only the changed entry has a new key");
    }

    /// What a known entry's content is comes from what was learned, not from inflating it:
    /// a learned hash changed by hand is the manifest's. (Only provis writes what is learned.)
    #[test]
    fn a_known_entry_is_not_inflated() {
        let dir = tempfile::tempdir().expect("tmp");
        let limits = ZipLimits::default();
        let zip = zip_of(dir.path(), "app.zip", &tree("one"));
        let mut known = inspect_zip_with(&zip, &limits, None, &KnownEntries::new())
            .expect("cold")
            .known;
        for k in known.values_mut() {
            k.hash = "0".repeat(64);
        }
        let warm = inspect_zip_with(&zip, &limits, None, &known).expect("warm");
        assert!(
            warm.manifest
                .entries
                .iter()
                .all(|e| e.hash == "0".repeat(64)),
            "{:?}",
            warm.manifest.entries
        );
        // With a mirror, every entry is inflated (the copy needs the bytes).
        let mirrored =
            inspect_zip_with(&zip, &limits, Some(&dir.path().join("m")), &known).expect("mirror");
        assert_eq!(
            mirrored.manifest,
            inspect_zip(&zip, &limits).expect("inflated")
        );
    }

    /// The limits hold for known entries as for inflated ones.
    #[test]
    fn known_entries_still_count_against_the_limits() {
        let dir = tempfile::tempdir().expect("tmp");
        let zip = zip_of(dir.path(), "app.zip", &tree("one"));
        let known = inspect_zip_with(&zip, &ZipLimits::default(), None, &KnownEntries::new())
            .expect("cold")
            .known;
        let total: u64 = tree("one").iter().map(|(_, t)| t.len() as u64).sum();
        let small = ZipLimits {
            max_uncompressed_bytes: total - 1,
            ..ZipLimits::default()
        };
        let refused = inspect_zip_with(&zip, &small, None, &known).expect_err("too large");
        assert_eq!(refused.code, RejectCode::TotalTooLarge);
        let strict = ZipLimits {
            max_ratio: 2,
            ..ZipLimits::default()
        };
        let refused = inspect_zip_with(&zip, &strict, None, &known).expect_err("ratio");
        assert_eq!(refused.code, RejectCode::RatioExceeded);
    }

    fn key(bytes: &[u8], method: StoredAs, size: u64, crc: u32) -> String {
        KeyReader::new(bytes, method, size, crc)
            .finish()
            .expect("read")
    }

    #[test]
    fn keys_follow_every_compressed_byte_and_the_declarations() {
        let k = key(b"abc", StoredAs::Deflated, 10, 7);
        assert_eq!(k, key(b"abc", StoredAs::Deflated, 10, 7));
        assert_ne!(k, key(b"abd", StoredAs::Deflated, 10, 7));
        assert_ne!(k, key(b"abcd", StoredAs::Deflated, 10, 7));
        assert_ne!(k, key(b"abc", StoredAs::Stored, 10, 7));
        assert_ne!(k, key(b"abc", StoredAs::Deflated, 11, 7));
        assert_ne!(k, key(b"abc", StoredAs::Deflated, 10, 8));
    }

    #[test]
    fn a_partly_read_entry_gets_the_key_of_all_its_bytes() {
        let mut r = KeyReader::new(&b"abcdef"[..], StoredAs::Stored, 6, 1);
        let mut two = [0u8; 2];
        r.read_exact(&mut two).expect("read");
        assert_eq!(
            r.finish().expect("finish"),
            key(b"abcdef", StoredAs::Stored, 6, 1)
        );
    }
}
