//! Local-disk backend: keys are relative paths under one root directory.
//!
//! Create-only writes: the bytes go to a temporary file in the key's own directory, are synced,
//! and are then `hard_link`ed to the final name. `link(2)` fails with `EEXIST` when the name is
//! taken, so of any number of concurrent writers exactly one wins, no write ever replaces
//! another, and readers never see a partial file. Temporary files start with `.` so they can
//! never collide with a valid key (key components may not start with `.`) and listings skip them.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWriteExt};
use uuid::Uuid;

use super::hashing::HashingReader;
use super::{ArtifactError, LocalCopy, ObjectInfo, StoredObject};
use crate::host::WRITEBACK_EVERY;

/// Scheme of the URIs of local artifacts (`local:repos/…/graph.v1.json`).
pub const LOCAL_URI_SCHEME: &str = "local:";

/// Buffer between a stream and a tokio file: every write of a tokio file goes through a
/// blocking thread, so large writes keep the hand-offs few.
pub const STREAM_BUFFER: usize = 1 << 20;

/// Prefix of temporary file names (never a valid key component).
const TMP_PREFIX: &str = ".provis-tmp-";

/// Files under a root directory; cheap to clone.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    /// Opens (and creates) the root directory; the root is made absolute so URIs are stable.
    pub fn open(root: &Path) -> Result<Self, ArtifactError> {
        std::fs::create_dir_all(root).map_err(|e| io_err("create root directory", root, e))?;
        let root = std::fs::canonicalize(root).map_err(|e| io_err("resolve root", root, e))?;
        Ok(Self { root })
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Absolute path of a (validated) key.
    pub fn path_of(&self, key: &str) -> PathBuf {
        let mut path = self.root.clone();
        path.extend(key.split('/'));
        path
    }

    /// `local:<key>` URI of a key: the key under the artifact directory. Never the absolute
    /// path, which would tell API users where the server keeps its files.
    pub fn uri(&self, key: &str) -> String {
        format!("{LOCAL_URI_SCHEME}{key}")
    }

    pub(super) async fn put_new(&self, key: &str, bytes: Bytes) -> Result<String, ArtifactError> {
        let final_path = self.path_of(key);
        let key_owned = key.to_string();
        tokio::task::spawn_blocking(move || {
            write_new_blocking(&final_path, &key_owned, |f| {
                f.write_all(&bytes).map(|()| bytes.len() as u64)
            })
        })
        .await
        .map_err(join_err)??;
        Ok(self.uri(key))
    }

    pub(super) async fn put_new_stream<R>(
        &self,
        key: &str,
        reader: R,
        max_bytes: Option<u64>,
    ) -> Result<StoredObject, ArtifactError>
    where
        R: AsyncRead + Unpin + Send,
    {
        let final_path = self.path_of(key);
        let dir = parent_of(&final_path)?;
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| io_err("create directory", &dir, e))?;
        if tokio::fs::try_exists(&final_path).await.unwrap_or(false) {
            return Err(ArtifactError::AlreadyExists {
                key: key.to_string(),
            });
        }
        let tmp = TempPath(dir.join(format!("{TMP_PREFIX}{}", Uuid::new_v4())));
        let mut reader = HashingReader::new(reader, max_bytes);
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp.0)
            .await
            .map_err(|e| io_err("create temporary file", &tmp.0, e))?;
        // Each write to a tokio file is a hand-off to a blocking thread: gathered into large
        // writes, not one per 8 KiB the copy moves.
        let mut file = tokio::io::BufWriter::with_capacity(STREAM_BUFFER, file);
        let copied = tokio::io::copy(&mut reader, &mut file).await;
        if let Err(e) = copied {
            return Err(reader
                .take_failure()
                .unwrap_or_else(|| io_err("write", &tmp.0, e)));
        }
        file.flush().await.map_err(|e| io_err("flush", &tmp.0, e))?;
        file.get_ref()
            .sync_all()
            .await
            .map_err(|e| io_err("sync", &tmp.0, e))?;
        drop(file);
        let (bytes, blake3) = reader.finish();
        let key_owned = key.to_string();
        tokio::task::spawn_blocking(move || link_into_place(&tmp, &final_path, &key_owned))
            .await
            .map_err(join_err)??;
        Ok(StoredObject {
            uri: self.uri(key),
            bytes,
            blake3,
        })
    }

    /// Stores a copy of the file `src` as a new object (see
    /// [`super::ArtifactStore::put_new_file`]) in one blocking call: `std::io::copy` between
    /// two files is a `copy_file_range` in the kernel, where a stream through tokio's file type
    /// made two thread hand-offs per 8 KiB (about 1 s for a 500 MB zip). Returns the size.
    pub(super) fn put_new_copied(&self, key: &str, src: &Path) -> Result<u64, ArtifactError> {
        let mut source = std::fs::File::open(src).map_err(|source| ArtifactError::Io {
            op: super::OPEN_SOURCE,
            path: src.to_path_buf(),
            source,
        })?;
        // In pieces, each piece's writeback started once it is copied, so that the sync at the
        // end does not wait for the whole file (see [`crate::host::start_writeback`]). Not
        // through [`WritebackAhead`]: `io::copy` makes one kernel copy (`copy_file_range`)
        // only between plain files.
        write_new_blocking(&self.path_of(key), key, |file| {
            let mut copied = 0;
            loop {
                let n = io::copy(&mut (&mut source).take(WRITEBACK_EVERY), file)?;
                if n == 0 {
                    return Ok(copied);
                }
                crate::host::start_writeback(file, copied, n);
                copied += n;
            }
        })
    }

    /// Stores the file `src` as a new object by hard-linking it, with no copy, then syncs it
    /// (see [`super::ArtifactStore::put_new_file`]). `Ok(None)` when it cannot be linked here
    /// (another file system, no hard links): the caller copies it instead.
    pub(super) fn put_new_linked(
        &self,
        key: &str,
        src: &Path,
    ) -> Result<Option<u64>, ArtifactError> {
        let final_path = self.path_of(key);
        let dir = parent_of(&final_path)?;
        std::fs::create_dir_all(&dir).map_err(|e| io_err("create directory", &dir, e))?;
        match std::fs::hard_link(src, &final_path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                return Err(ArtifactError::AlreadyExists {
                    key: key.to_string(),
                })
            }
            Err(_) => return Ok(None),
        }
        let synced = std::fs::File::open(&final_path).and_then(|f| {
            f.sync_all()?;
            Ok(f.metadata()?.len())
        });
        match synced {
            Ok(bytes) => {
                if let Ok(d) = std::fs::File::open(&dir) {
                    let _ = d.sync_all();
                }
                Ok(Some(bytes))
            }
            Err(e) => {
                // Not durable: take the object back, so a retry stores it again.
                let _ = std::fs::remove_file(&final_path);
                Err(io_err("sync", &final_path, e))
            }
        }
    }

    /// Blocking create-only write of the bytes `write` produces (see
    /// [`super::ArtifactStore::put_new_writer_blocking`]).
    pub(super) fn put_new_writer(
        &self,
        key: &str,
        durable: bool,
        write: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>,
    ) -> Result<(String, u64), ArtifactError> {
        let final_path = self.path_of(key);
        let dir = parent_of(&final_path)?;
        std::fs::create_dir_all(&dir).map_err(|e| io_err("create directory", &dir, e))?;
        if final_path.exists() {
            return Err(ArtifactError::AlreadyExists {
                key: key.to_string(),
            });
        }
        let tmp = TempPath(dir.join(format!("{TMP_PREFIX}{}", Uuid::new_v4())));
        let bytes = write_file(&tmp.0, durable, write)?;
        if durable {
            link_into_place(&tmp, &final_path, key)?;
        } else {
            link_quietly(&tmp, &final_path, key)?;
        }
        Ok((self.uri(key), bytes))
    }

    pub(super) async fn get(&self, key: &str) -> Result<Bytes, ArtifactError> {
        let path = self.path_of(key);
        match tokio::fs::read(&path).await {
            Ok(data) => Ok(Bytes::from(data)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(ArtifactError::NotFound {
                key: key.to_string(),
            }),
            Err(e) => Err(io_err("read", &path, e)),
        }
    }

    pub(super) async fn head(&self, key: &str) -> Result<Option<u64>, ArtifactError> {
        let path = self.path_of(key);
        match tokio::fs::metadata(&path).await {
            Ok(meta) if meta.is_file() => Ok(Some(meta.len())),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("stat", &path, e)),
        }
    }

    pub(super) async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, ArtifactError> {
        let root = self.root.clone();
        let prefix = prefix.to_string();
        tokio::task::spawn_blocking(move || list_blocking(&root, &prefix))
            .await
            .map_err(join_err)?
    }

    pub(super) async fn delete(&self, key: &str) -> Result<(), ArtifactError> {
        let path = self.path_of(key);
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err("delete", &path, e)),
        }
    }

    /// Removes the folders of `prefix` (`work/<job>/`) that deleting left empty, up to the
    /// root; a folder still holding something stays.
    pub(super) fn remove_empty_dirs(&self, prefix: &str) {
        let mut dir = self.path_of(prefix.trim_end_matches('/'));
        while dir != self.root && std::fs::remove_dir(&dir).is_ok() {
            match dir.parent() {
                Some(p) => dir = p.to_path_buf(),
                None => break,
            }
        }
    }

    pub(super) async fn fetch_to_path(&self, key: &str, dest: &Path) -> Result<u64, ArtifactError> {
        let src = self.path_of(key);
        match tokio::fs::copy(&src, dest).await {
            Ok(n) => Ok(n),
            Err(e) if e.kind() == io::ErrorKind::NotFound && !src.exists() => {
                Err(ArtifactError::NotFound {
                    key: key.to_string(),
                })
            }
            Err(e) => Err(io_err("copy", dest, e)),
        }
    }

    pub(super) async fn open_local(&self, key: &str) -> Result<LocalCopy, ArtifactError> {
        match self.head(key).await? {
            Some(_) => Ok(LocalCopy::borrowed(self.path_of(key))),
            None => Err(ArtifactError::NotFound {
                key: key.to_string(),
            }),
        }
    }

    pub(super) async fn check(&self) -> Result<(), ArtifactError> {
        let probe = self
            .root
            .join(format!("{TMP_PREFIX}health-{}", Uuid::new_v4()));
        let result = tokio::fs::write(&probe, b"ok").await;
        let _ = tokio::fs::remove_file(&probe).await;
        result.map_err(|e| io_err("write health probe", &probe, e))
    }
}

/// A temporary file removed on drop unless it was consumed.
struct TempPath(PathBuf);

impl Drop for TempPath {
    fn drop(&mut self) {
        // Best effort: after a successful link the temp name is just a second link to drop.
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Creates the object at `final_path` durably from what `fill` writes into a fresh temporary
/// file (create-only: [`ArtifactError::AlreadyExists`] when it is there); returns the size.
fn write_new_blocking(
    final_path: &Path,
    key: &str,
    fill: impl FnOnce(&mut std::fs::File) -> io::Result<u64>,
) -> Result<u64, ArtifactError> {
    let dir = parent_of(final_path)?;
    std::fs::create_dir_all(&dir).map_err(|e| io_err("create directory", &dir, e))?;
    if final_path.exists() {
        return Err(ArtifactError::AlreadyExists {
            key: key.to_string(),
        });
    }
    let tmp = TempPath(dir.join(format!("{TMP_PREFIX}{}", Uuid::new_v4())));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp.0)
        .map_err(|e| io_err("create temporary file", &tmp.0, e))?;
    let bytes = fill(&mut file).map_err(|e| io_err("write", &tmp.0, e))?;
    file.sync_all().map_err(|e| io_err("sync", &tmp.0, e))?;
    drop(file);
    link_into_place(&tmp, final_path, key)?;
    Ok(bytes)
}

/// Creates `path` (it must not exist) and fills it through a 256 KiB buffer from `write`;
/// synced when `durable`. Returns the bytes written.
pub(super) fn write_file(
    path: &Path,
    durable: bool,
    write: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>,
) -> Result<u64, ArtifactError> {
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| io_err("create temporary file", path, e))?;
    // A durable document's pages go to disk while the rest is written, not all at the sync.
    let file = WritebackAhead {
        file,
        every: if durable { WRITEBACK_EVERY } else { u64::MAX },
        written: 0,
        started: 0,
    };
    let mut out = CountingWriter {
        inner: io::BufWriter::with_capacity(256 << 10, file),
        bytes: 0,
    };
    write(&mut out).map_err(|e| io_err("write", path, e))?;
    let file = out
        .inner
        .into_inner()
        .map_err(|e| io_err("write", path, e.into_error()))?
        .file;
    if durable {
        file.sync_all().map_err(|e| io_err("sync", path, e))?;
    }
    Ok(out.bytes)
}

/// A file that starts the writeback of each [`WRITEBACK_EVERY`] bytes written to it once they
/// are written (`every` is `u64::MAX` for a file that is not synced).
struct WritebackAhead {
    file: std::fs::File,
    every: u64,
    /// Bytes written so far.
    written: u64,
    /// Bytes whose writeback was started.
    started: u64,
}

impl Write for WritebackAhead {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written += n as u64;
        if self.written - self.started >= self.every {
            crate::host::start_writeback(&self.file, self.started, self.written - self.started);
            self.started = self.written;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Counts what passes through.
struct CountingWriter<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.inner.write_all(buf)?;
        self.bytes += buf.len() as u64;
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// [`link_into_place`] without syncing the directory (intermediate blobs).
fn link_quietly(tmp: &TempPath, final_path: &Path, key: &str) -> Result<(), ArtifactError> {
    match std::fs::hard_link(&tmp.0, final_path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(ArtifactError::AlreadyExists {
            key: key.to_string(),
        }),
        Err(e) => Err(io_err("link", final_path, e)),
    }
}

fn link_into_place(tmp: &TempPath, final_path: &Path, key: &str) -> Result<(), ArtifactError> {
    match std::fs::hard_link(&tmp.0, final_path) {
        Ok(()) => {
            if let Some(dir) = final_path.parent() {
                // Persist the new directory entry; not every platform can open a directory.
                if let Ok(d) = std::fs::File::open(dir) {
                    let _ = d.sync_all();
                }
            }
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(ArtifactError::AlreadyExists {
            key: key.to_string(),
        }),
        Err(e) => Err(io_err("link", final_path, e)),
    }
}

fn list_blocking(root: &Path, prefix: &str) -> Result<Vec<ObjectInfo>, ArtifactError> {
    // Start at the deepest directory the prefix names completely, then filter by string prefix
    // (S3 semantics: "repos/ab" matches "repos/abc/x").
    let dir_part = prefix.rfind('/').map(|i| &prefix[..i]).unwrap_or("");
    let mut start = root.to_path_buf();
    if !dir_part.is_empty() {
        start.extend(dir_part.split('/'));
    }
    let mut out = Vec::new();
    let mut stack = vec![start];
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(io_err("list", &dir, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| io_err("list", &dir, e))?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with('.') {
                continue;
            }
            let file_type = entry.file_type().map_err(|e| io_err("stat", &dir, e))?;
            let path = entry.path();
            if file_type.is_dir() {
                stack.push(path);
            } else if file_type.is_file() {
                let Some(key) = key_of(root, &path) else {
                    continue;
                };
                if key.starts_with(prefix) {
                    let size = entry
                        .metadata()
                        .map_err(|e| io_err("stat", &path, e))?
                        .len();
                    out.push(ObjectInfo { key, size });
                }
            }
        }
    }
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

fn key_of(root: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
    Some(parts?.join("/"))
}

fn parent_of(path: &Path) -> Result<PathBuf, ArtifactError> {
    path.parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| ArtifactError::Config(format!("{} has no parent", path.display())))
}

fn io_err(op: &'static str, path: &Path, source: io::Error) -> ArtifactError {
    ArtifactError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

fn join_err(e: tokio::task::JoinError) -> ArtifactError {
    ArtifactError::Backend {
        message: format!("blocking storage task failed: {e}"),
        status: None,
        retryable: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The writeback of each full range starts once the range is written, from where the last
    /// one ended; every byte reaches the file as written; a file that is not synced never
    /// starts one.
    #[test]
    fn writeback_starts_range_by_range_and_keeps_every_byte() {
        let dir = tempfile::tempdir().expect("temp dir");
        let piece: Vec<u8> = (0..300u32).map(|i| (i % 251) as u8).collect();
        for (every, want_started) in [(1200, 2400), (u64::MAX, 0)] {
            let path = dir.path().join(format!("f-{every}"));
            let mut w = WritebackAhead {
                file: std::fs::File::create(&path).expect("create"),
                every,
                written: 0,
                started: 0,
            };
            for _ in 0..11 {
                w.write_all(&piece).expect("write");
            }
            assert_eq!(w.written, 3300);
            assert_eq!(w.started, want_started, "every {every}");
            drop(w);
            let back = std::fs::read(&path).expect("read");
            assert_eq!(back, piece.repeat(11));
        }
    }

    /// A durable document larger than one writeback range is written whole, and its size is
    /// the bytes written.
    #[test]
    fn durable_write_of_several_ranges_is_whole() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("doc");
        let chunk: Vec<u8> = (0..64 * 1024u32).map(|i| (i % 253) as u8).collect();
        let n = (WRITEBACK_EVERY as usize * 2 + 12_345) / chunk.len() + 1;
        let bytes = write_file(&path, true, &mut |w| {
            for _ in 0..n {
                w.write_all(&chunk)?;
            }
            w.write_all(b"tail")
        })
        .expect("written");
        let back = std::fs::read(&path).expect("read");
        assert_eq!(bytes, back.len() as u64);
        assert_eq!(back.len(), n * chunk.len() + 4);
        assert!(back.starts_with(&chunk) && back.ends_with(b"tail"));
        assert!(back
            .chunks(chunk.len())
            .take(n)
            .all(|c| c == chunk.as_slice()));
    }
}
