//! A plain copy of an upload's files, written while inspection inflates them.
//!
//! Inspection inflates every entry of a zip once to check and hash it. The parse batches then
//! read each source file again, and the detectors once more: two more inflations of the whole
//! repository, about a quarter of the worker's instructions. When the process that inspects an
//! upload also runs its tasks (`analyze`, `all-in-one`), inspection writes each file's bytes
//! into one scratch file at a known offset, and later reads are a `pread` plus the blake3 check
//! every read makes anyway. Nothing depends on the mirror: a file it cannot give (no mirror in
//! this process, a failed write, bytes whose hash differs) is read from the zip as before.

use super::ManifestEntry;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

/// The plain copy of one inspected zip: one file in the scratch folder, removed when the last
/// handle goes.
#[derive(Debug)]
pub struct Mirror {
    path: PathBuf,
    file: File,
    /// Offset of each file's bytes, by the entry's index in the zip ([`NOT_HELD`]: none).
    /// Indexed rather than keyed by path: 8 bytes an entry, not a copy of every path.
    at: Vec<u64>,
}

/// The offset of an entry the mirror does not hold.
pub(super) const NOT_HELD: u64 = u64::MAX;

impl Mirror {
    /// The bytes of `entry` when the mirror holds them and they hash to the manifest's
    /// blake3; `None` sends the caller to the zip.
    pub fn read(&self, entry: &ManifestEntry) -> Option<Vec<u8>> {
        let index = entry.zip.as_ref()?.index;
        let at = *self.at.get(index).filter(|&&at| at != NOT_HELD)?;
        let len = usize::try_from(entry.size).ok()?;
        let mut bytes = vec![0u8; len];
        self.file.read_exact_at(&mut bytes, at).ok()?;
        (blake3::hash(&bytes).to_hex().as_str() == entry.hash).then_some(bytes)
    }

    /// How many files it holds.
    pub fn len(&self) -> usize {
        self.at.iter().filter(|&&at| at != NOT_HELD).count()
    }

    /// Whether it holds no file.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Where it is on disk.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The file inspection writes into: each entry at the offset planned for it. A failed write
/// marks the whole copy unusable (inspection itself goes on: the mirror is only a shortcut).
pub(super) struct Sink {
    path: PathBuf,
    file: File,
    broken: AtomicBool,
}

impl Sink {
    /// Creates the file at `path` (which must not exist).
    pub(super) fn create(path: &Path) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)?;
        Ok(Self {
            path: path.to_path_buf(),
            file,
            broken: AtomicBool::new(false),
        })
    }

    /// Writes `chunk` at `at` (positional, so the inflating threads share the file).
    pub(super) fn write(&self, chunk: &[u8], at: u64) {
        if self.broken.load(Ordering::Relaxed) {
            return;
        }
        if let Err(e) = self.file.write_all_at(chunk, at) {
            tracing::warn!(path = %self.path.display(), error = %e,
                "cannot write the plain copy of the upload; its files will be read from the zip");
            self.broken.store(true, Ordering::Relaxed);
        }
    }

    /// The finished mirror of the entries written at `at` (by zip index), or `None` (and the
    /// file removed) when a write failed.
    pub(super) fn finish(self, at: Vec<u64>) -> Option<Mirror> {
        if self.broken.load(Ordering::Relaxed) {
            let _ = std::fs::remove_file(&self.path);
            return None;
        }
        Some(Mirror {
            path: self.path,
            file: self.file,
            at,
        })
    }

    /// Removes the file (inspection refused the zip).
    pub(super) fn discard(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::super::{inspect_zip, inspect_zip_mirrored, ZipLimits};
    use std::collections::HashMap;
    use std::io::Write as _;
    use std::os::unix::fs::FileExt as _;
    use std::path::{Path, PathBuf};
    use zip::CompressionMethod;

    /// A zip of files of both methods, some larger than the inflater's buffers, and over 8 MB
    /// compressed so inspection inflates it on several threads; returns it and each file's
    /// bytes by manifest path (the wrapper folder stripped).
    fn zip_of_many(dir: &Path) -> (PathBuf, HashMap<String, Vec<u8>>) {
        let path = dir.join("repo.zip");
        let mut w = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        let mut bodies = HashMap::new();
        for i in 0..60u32 {
            let method = if i % 3 == 0 {
                CompressionMethod::Deflated
            } else {
                CompressionMethod::Stored
            };
            let opts = zip::write::SimpleFileOptions::default().compression_method(method);
            let len = if i % 5 == 0 {
                300_000
            } else {
                1_000 + i as usize * 37
            };
            // Bytes that do not repeat, so a misplaced chunk cannot match by chance.
            let body: Vec<u8> = (0..len as u32)
                .map(|k| (k.wrapping_mul(2_654_435_761) >> 13 ^ i) as u8)
                .collect();
            w.start_file(format!("repo/src/f{i:02}.ts"), opts).unwrap();
            w.write_all(&body).unwrap();
            bodies.insert(format!("src/f{i:02}.ts"), body);
        }
        // Stored filler to pass the 8 MB of compressed data that turns on parallel inflation.
        let opts =
            zip::write::SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
        for i in 0..9u32 {
            let body: Vec<u8> = (0..1_000_000u32).map(|k| (k ^ i) as u8).collect();
            w.start_file(format!("repo/fill/{i}.bin"), opts).unwrap();
            w.write_all(&body).unwrap();
            bodies.insert(format!("fill/{i}.bin"), body);
        }
        w.finish().unwrap();
        (path, bodies)
    }

    #[test]
    fn the_mirror_gives_every_file_and_changes_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let (zip, bodies) = zip_of_many(dir.path());
        let at = dir.path().join("mirror");
        let limits = ZipLimits::default();
        let (manifest, mirror) = inspect_zip_mirrored(&zip, &limits, &at).unwrap();
        assert_eq!(manifest, inspect_zip(&zip, &limits).unwrap());
        let mirror = mirror.expect("a mirror");
        assert_eq!(mirror.len(), bodies.len());
        for entry in &manifest.entries {
            let got = mirror.read(entry).expect(&entry.path);
            assert!(got == bodies[&entry.path], "{}", entry.path);
        }
        drop(mirror);
        assert!(!at.exists(), "the file goes with the last handle");
    }

    #[test]
    fn bytes_that_changed_are_not_given() {
        let dir = tempfile::tempdir().unwrap();
        let (zip, _) = zip_of_many(dir.path());
        let at = dir.path().join("mirror");
        let (manifest, mirror) = inspect_zip_mirrored(&zip, &ZipLimits::default(), &at).unwrap();
        let mirror = mirror.unwrap();
        let victim = &manifest.entries[3];
        let offset = mirror.at[victim.zip.as_ref().unwrap().index];
        let file = std::fs::OpenOptions::new().write(true).open(&at).unwrap();
        let old = mirror.read(victim).unwrap();
        file.write_all_at(&[old[0] ^ 0xff], offset).unwrap();
        assert_eq!(mirror.read(victim), None, "a changed byte fails the hash");
        assert!(
            mirror.read(&manifest.entries[4]).is_some(),
            "the others stay"
        );
        let mut unknown = victim.clone();
        unknown.zip.as_mut().unwrap().index = 100_000;
        assert_eq!(mirror.read(&unknown), None, "an index it does not hold");
        unknown.zip = None;
        assert_eq!(mirror.read(&unknown), None, "no place in a zip");
    }

    #[test]
    fn a_refused_zip_leaves_no_mirror() {
        let dir = tempfile::tempdir().unwrap();
        let (zip, _) = zip_of_many(dir.path());
        let at = dir.path().join("mirror");
        let limits = ZipLimits {
            max_uncompressed_bytes: 2_000_000,
            ..ZipLimits::default()
        };
        let refused = inspect_zip_mirrored(&zip, &limits, &at);
        assert!(refused.is_err(), "over the total size limit");
        assert!(!at.exists());
        // A mirror path that cannot be created only means no mirror.
        let (manifest, mirror) =
            inspect_zip_mirrored(&zip, &ZipLimits::default(), &dir.path().join("no/such/dir"))
                .unwrap();
        assert!(mirror.is_none());
        assert_eq!(manifest, inspect_zip(&zip, &ZipLimits::default()).unwrap());
    }
}
