//! Create-only, versioned artifact storage on S3 or the local disk (docs/architecture.md,
//! docs/artifacts.md#storage).
//!
//! One [`ArtifactStore`] hides the backend: [`ArtifactStore::s3`] for a bucket (AWS, MinIO, moto)
//! or [`ArtifactStore::local`] for files under a directory; keys are the same relative paths in
//! both (see [`key`]). This module knows nothing of the database or the queue: the caller
//! allocates a version in the database, builds the key with [`artifact_key`], and writes it here.
//!
//! # Guarantees
//! - **Create-only**: [`ArtifactStore::put_new`] and [`ArtifactStore::put_new_stream`] never
//!   overwrite; a second write of a key fails with [`ArtifactError::AlreadyExists`] and the first
//!   content stays. Of concurrent writers of one key exactly one wins (local: `hard_link`; S3:
//!   `If-None-Match: *`, see [`S3Store`]).
//! - **No partial reads**: a key becomes visible only complete (local: temp file + link; S3:
//!   objects are atomic).
//! - **Streaming**: uploads and downloads of large objects ([`ArtifactStore::put_new_stream`],
//!   [`ArtifactStore::fetch_to_path`]) never hold the whole object in memory (S3 multipart keeps
//!   at most a few 8 MiB parts in flight).
//!
//! # Reading an upload zip
//! Zip reading needs a seekable file. Workers call [`ArtifactStore::open_local`] with a scratch
//! directory: on the local backend it returns the stored file itself (no copy); on S3 it streams
//! the object into a temporary file that is deleted when the returned [`LocalCopy`] is dropped.
//! Open `LocalCopy::path()` with `std::fs::File` and `zip::ZipArchive` inside `spawn_blocking`.

mod hashing;
pub mod key;
mod local;
mod s3_store;

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::io::AsyncRead;
use tracing::debug;
use uuid::Uuid;

pub use key::{
    artifact_key, snapshot_prefix, upload_key, validate_key, work_key, ArtifactKind, UnknownKind,
};
pub use local::{LocalStore, LOCAL_URI_SCHEME, STREAM_BUFFER};
pub use s3_store::S3Store;

use crate::config::S3Settings;

/// Content type of JSON artifacts.
pub const CONTENT_TYPE_JSON: &str = "application/json";
/// Content type of stored uploads.
pub const CONTENT_TYPE_ZIP: &str = "application/zip";

/// The `op` of the [`ArtifactError::Io`] of [`ArtifactStore::put_new_file`] when the file to
/// store cannot be opened.
pub const OPEN_SOURCE: &str = "open the file to store";

/// Errors of artifact storage; [`ArtifactError::retryable`] tells a task whether to try again.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    /// The key was written before; artifacts are never overwritten.
    #[error("artifact {key} already exists")]
    AlreadyExists {
        /// The key.
        key: String,
    },
    /// No object under the key.
    #[error("artifact {key} not found")]
    NotFound {
        /// The key.
        key: String,
    },
    /// The key breaks the key rules (see [`key`]).
    #[error("invalid artifact key {key:?}: {reason}")]
    InvalidKey {
        /// The rejected key.
        key: String,
        /// Which rule it broke.
        reason: &'static str,
    },
    /// A streamed input was longer than the allowed maximum; nothing was stored.
    #[error("input exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The limit, bytes.
        limit: u64,
    },
    /// Reading the caller's input stream failed (e.g. the client went away); nothing was stored.
    #[error("reading the input failed: {0}")]
    Input(#[source] std::io::Error),
    /// The local disk failed.
    #[error("local storage: {op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The object store failed or refused.
    #[error("object storage: {message}")]
    Backend {
        /// What failed, with the server's answer.
        message: String,
        /// HTTP status, when there was one.
        status: Option<u16>,
        /// Whether trying again may succeed (network errors, 5xx, 429, conditional conflicts).
        retryable: bool,
    },
    /// The bucket vanished under a running provis (its objects are gone). The store creates
    /// it again on its next call, so the caller may simply try again.
    #[error("object storage: the bucket {bucket:?} (S3_BUCKET) does not exist any more; it is created again on the next call")]
    BucketVanished {
        /// The bucket.
        bucket: String,
    },
    /// The store cannot be set up from the configuration given.
    #[error("artifact store configuration: {0}")]
    Config(String),
}

impl ArtifactError {
    /// Whether the same call may succeed later; tasks retry these and fail on the others.
    pub fn retryable(&self) -> bool {
        match self {
            ArtifactError::Io { .. } | ArtifactError::BucketVanished { .. } => true,
            ArtifactError::Backend { retryable, .. } => *retryable,
            ArtifactError::AlreadyExists { .. }
            | ArtifactError::NotFound { .. }
            | ArtifactError::InvalidKey { .. }
            | ArtifactError::TooLarge { .. }
            | ArtifactError::Input(_)
            | ArtifactError::Config(_) => false,
        }
    }
}

/// How the API answers a storage error: a missing object is a 404, an oversized stream a 413,
/// the store being down a 503; a broken key, an overwrite or a bad configuration are bugs (500).
impl crate::error::Coded for ArtifactError {
    fn code(&self) -> crate::error::ErrorCode {
        use crate::error::ErrorCode;
        match self {
            ArtifactError::NotFound { .. } => ErrorCode::ArtifactNotFound,
            ArtifactError::TooLarge { .. } => ErrorCode::UploadTooLarge,
            ArtifactError::Input(_) => ErrorCode::BadRequest,
            ArtifactError::Io { .. }
            | ArtifactError::Backend { .. }
            | ArtifactError::BucketVanished { .. } => ErrorCode::Unavailable,
            ArtifactError::AlreadyExists { .. }
            | ArtifactError::InvalidKey { .. }
            | ArtifactError::Config(_) => ErrorCode::Internal,
        }
    }
    fn dependency(&self) -> &'static str {
        "storage"
    }
}

/// What a streamed write stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    /// `s3://bucket/key` or `local:key`, for the `artifacts.uri` column.
    pub uri: String,
    /// Bytes stored.
    pub bytes: u64,
    /// BLAKE3 of the content, lowercase hex (64 chars).
    pub blake3: String,
}

/// One listed object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Its key.
    pub key: String,
    /// Its size, bytes.
    pub size: u64,
}

/// A stored object available as a local file; a temporary copy is deleted on drop.
#[derive(Debug)]
pub struct LocalCopy {
    path: PathBuf,
    temporary: bool,
}

impl LocalCopy {
    fn borrowed(path: PathBuf) -> Self {
        Self {
            path,
            temporary: false,
        }
    }

    fn temporary(path: PathBuf) -> Self {
        Self {
            path,
            temporary: true,
        }
    }

    /// Path to open (read-only: on the local backend this is the stored object itself).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether this is a downloaded copy that is removed on drop.
    pub fn is_temporary(&self) -> bool {
        self.temporary
    }
}

impl Drop for LocalCopy {
    fn drop(&mut self) {
        if self.temporary {
            // Best effort: a leftover file in the scratch directory is harmless.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The artifact store: S3 or local disk behind one interface; cheap to clone.
#[derive(Debug, Clone)]
pub enum ArtifactStore {
    /// Files under a directory (embedded mode).
    Local(LocalStore),
    /// An S3 bucket (cluster mode).
    S3(S3Store),
}

impl ArtifactStore {
    /// A store of files under `root` (created when missing), e.g. `<data-dir>/artifacts`.
    pub fn local(root: impl AsRef<Path>) -> Result<Self, ArtifactError> {
        LocalStore::open(root.as_ref()).map(ArtifactStore::Local)
    }

    /// A store on the configured bucket; the bucket is created when missing.
    pub async fn s3(settings: &S3Settings) -> Result<Self, ArtifactError> {
        S3Store::connect(settings).await.map(ArtifactStore::S3)
    }

    /// `"local"` or `"s3"`, for logs and `/health`.
    pub fn backend_name(&self) -> &'static str {
        match self {
            ArtifactStore::Local(_) => "local",
            ArtifactStore::S3(_) => "s3",
        }
    }

    /// The URI a key has (or would have) in this store, as `put_new` returns it.
    pub fn uri(&self, key: &str) -> String {
        match self {
            ArtifactStore::Local(s) => s.uri(key),
            ArtifactStore::S3(s) => s.uri(key),
        }
    }

    /// Writes a new object and returns its URI; fails with [`ArtifactError::AlreadyExists`]
    /// (never overwrites) when the key exists.
    pub async fn put_new(
        &self,
        key: &str,
        bytes: impl Into<Bytes>,
        content_type: &str,
    ) -> Result<String, ArtifactError> {
        validate_key(key)?;
        let bytes = bytes.into();
        let size = bytes.len();
        let uri = match self {
            ArtifactStore::Local(s) => s.put_new(key, bytes).await?,
            ArtifactStore::S3(s) => s.put_new(key, bytes, content_type).await?,
        };
        debug!(artifact.key = %key, bytes = size, backend = self.backend_name(), "Stored {key}");
        Ok(uri)
    }

    /// Streams `reader` into a new object while hashing it (BLAKE3) and counting its bytes,
    /// never holding the whole input in memory. With `max_bytes`, a longer input fails with
    /// [`ArtifactError::TooLarge`] and nothing is stored; a failing reader gives
    /// [`ArtifactError::Input`]. Create-only, like [`ArtifactStore::put_new`].
    pub async fn put_new_stream<R>(
        &self,
        key: &str,
        reader: R,
        content_type: &str,
        max_bytes: Option<u64>,
    ) -> Result<StoredObject, ArtifactError>
    where
        R: AsyncRead + Unpin + Send,
    {
        validate_key(key)?;
        let stored = match self {
            ArtifactStore::Local(s) => s.put_new_stream(key, reader, max_bytes).await?,
            ArtifactStore::S3(s) => {
                s.put_new_stream(key, reader, content_type, max_bytes)
                    .await?
            }
        };
        debug!(artifact.key = %key, bytes = stored.bytes, backend = self.backend_name(), "Streamed {key}");
        Ok(stored)
    }

    /// Stores the file at `path` as a new object and returns its size. Failing to open `path`
    /// itself is an [`ArtifactError::Io`] with `op` [`OPEN_SOURCE`] (the caller's disk, not
    /// the store). With `link` (a file
    /// nobody writes to any more, such as an upload this process spooled), the local backend
    /// hard-links it into place instead of copying it (falling back to a copy across file
    /// systems); otherwise the local backend copies it in one blocking call, and S3 streams it
    /// like [`ArtifactStore::put_new_stream`].
    /// Create-only, like [`ArtifactStore::put_new`].
    pub async fn put_new_file(
        &self,
        key: &str,
        path: &Path,
        content_type: &str,
        link: bool,
    ) -> Result<u64, ArtifactError> {
        validate_key(key)?;
        if let (ArtifactStore::Local(s), true) = (self, link) {
            let (store, key_owned, src) = (s.clone(), key.to_string(), path.to_path_buf());
            let linked =
                tokio::task::spawn_blocking(move || store.put_new_linked(&key_owned, &src))
                    .await
                    .map_err(|e| ArtifactError::Io {
                        op: "link",
                        path: path.to_path_buf(),
                        source: std::io::Error::other(e.to_string()),
                    })??;
            if let Some(bytes) = linked {
                debug!(artifact.key = %key, bytes, "Linked {key}");
                return Ok(bytes);
            }
        }
        if let ArtifactStore::Local(s) = self {
            let (store, key_owned, src) = (s.clone(), key.to_string(), path.to_path_buf());
            return tokio::task::spawn_blocking(move || store.put_new_copied(&key_owned, &src))
                .await
                .map_err(|e| ArtifactError::Io {
                    op: "copy",
                    path: path.to_path_buf(),
                    source: std::io::Error::other(e.to_string()),
                })?;
        }
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|source| ArtifactError::Io {
                op: OPEN_SOURCE,
                path: path.to_path_buf(),
                source,
            })?;
        Ok(self
            .put_new_stream(key, file, content_type, None)
            .await?
            .bytes)
    }

    /// Writes a new object whose bytes `write` produces into a buffered writer, never holding
    /// the whole object in memory (artifact documents of a large snapshot are hundreds of MB of
    /// JSON): the local backend writes a temporary file and links it into place; S3 spools to a
    /// temporary file in `scratch_dir` and streams that up. Returns the URI and the size.
    /// Create-only, like [`ArtifactStore::put_new`]. Blocking: call it inside `spawn_blocking`.
    /// With `durable` false the local backend skips the fsyncs (intermediate blobs that a crash
    /// may lose: their task is simply redone).
    pub fn put_new_writer_blocking(
        &self,
        key: &str,
        content_type: &str,
        scratch_dir: &Path,
        durable: bool,
        write: &mut dyn FnMut(&mut dyn std::io::Write) -> std::io::Result<()>,
    ) -> Result<(String, u64), ArtifactError> {
        validate_key(key)?;
        let stored = match self {
            ArtifactStore::Local(s) => s.put_new_writer(key, durable, write)?,
            ArtifactStore::S3(s) => {
                std::fs::create_dir_all(scratch_dir).map_err(|source| ArtifactError::Io {
                    op: "create scratch directory",
                    path: scratch_dir.to_path_buf(),
                    source,
                })?;
                let spool = LocalCopy::temporary(
                    scratch_dir.join(format!("provis-spool-{}", Uuid::new_v4())),
                );
                let bytes = local::write_file(spool.path(), false, write)?;
                let handle = tokio::runtime::Handle::try_current().map_err(|e| {
                    ArtifactError::Config(format!("S3 writes need a tokio runtime: {e}"))
                })?;
                let s = s.clone();
                let key = key.to_string();
                let content_type = content_type.to_string();
                let path = spool.path().to_path_buf();
                let stored = handle.block_on(async move {
                    let file =
                        tokio::fs::File::open(&path)
                            .await
                            .map_err(|source| ArtifactError::Io {
                                op: "open spool",
                                path: path.clone(),
                                source,
                            })?;
                    s.put_new_stream(&key, file, &content_type, None).await
                })?;
                drop(spool);
                (stored.uri, bytes)
            }
        };
        debug!(artifact.key = %key, bytes = stored.1, backend = self.backend_name(), "Wrote {key}");
        Ok(stored)
    }

    /// The whole object; [`ArtifactError::NotFound`] when missing. For large objects prefer
    /// [`ArtifactStore::fetch_to_path`].
    pub async fn get(&self, key: &str) -> Result<Bytes, ArtifactError> {
        validate_key(key)?;
        match self {
            ArtifactStore::Local(s) => s.get(key).await,
            ArtifactStore::S3(s) => s.get(key).await,
        }
    }

    /// The object's size, or `None` when it does not exist.
    pub async fn head(&self, key: &str) -> Result<Option<u64>, ArtifactError> {
        validate_key(key)?;
        match self {
            ArtifactStore::Local(s) => s.head(key).await,
            ArtifactStore::S3(s) => s.head(key).await,
        }
    }

    /// Objects whose key starts with `prefix` (a string prefix, as in S3), sorted by key.
    pub async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, ArtifactError> {
        key::validate_prefix(prefix)?;
        match self {
            ArtifactStore::Local(s) => s.list(prefix).await,
            ArtifactStore::S3(s) => s.list(prefix).await,
        }
    }

    /// Deletes one object; a missing one is not an error (deletes are repeated by sweeps).
    pub async fn delete(&self, key: &str) -> Result<(), ArtifactError> {
        validate_key(key)?;
        match self {
            ArtifactStore::Local(s) => s.delete(key).await,
            ArtifactStore::S3(s) => s.delete(key).await,
        }
    }

    /// Deletes every object under `prefix` (which must end with `/`: a folder, never part of
    /// a name); returns how many were deleted.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<usize, ArtifactError> {
        if !prefix.ends_with('/') {
            return Err(ArtifactError::InvalidKey {
                key: prefix.to_string(),
                reason: "a prefix to delete must end with /",
            });
        }
        let objects = self.list(prefix).await?;
        let n = objects.len();
        match self {
            ArtifactStore::S3(s) => {
                s.delete_many(objects.into_iter().map(|o| o.key).collect())
                    .await?
            }
            ArtifactStore::Local(s) => {
                futures_util::stream::iter(objects)
                    .map(|o| async move { s.delete(&o.key).await })
                    .buffer_unordered(8)
                    .collect::<Vec<_>>()
                    .await
                    .into_iter()
                    .collect::<Result<Vec<()>, _>>()?;
                s.remove_empty_dirs(prefix);
            }
        }
        Ok(n)
    }

    /// A presigned GET URL valid for `ttl` (clamped to 1 s..7 days) on S3; `None` on the local
    /// backend, where artifacts are served through the API. The key is not checked for existence.
    pub async fn presign_get(
        &self,
        key: &str,
        ttl: Duration,
    ) -> Result<Option<String>, ArtifactError> {
        validate_key(key)?;
        match self {
            ArtifactStore::Local(_) => Ok(None),
            ArtifactStore::S3(s) => s.presign_get(key, ttl).await.map(Some),
        }
    }

    /// Streams the object into the file `dest` (created or truncated) and returns its size.
    pub async fn fetch_to_path(&self, key: &str, dest: &Path) -> Result<u64, ArtifactError> {
        validate_key(key)?;
        match self {
            ArtifactStore::Local(s) => s.fetch_to_path(key, dest).await,
            ArtifactStore::S3(s) => s.fetch_to_path(key, dest).await,
        }
    }

    /// The object as a local file for random access (zip reading): the stored file itself on
    /// the local backend, or a streamed copy in `scratch_dir` (created when missing) that is
    /// deleted when the [`LocalCopy`] drops.
    pub async fn open_local(
        &self,
        key: &str,
        scratch_dir: &Path,
    ) -> Result<LocalCopy, ArtifactError> {
        validate_key(key)?;
        match self {
            ArtifactStore::Local(s) => s.open_local(key).await,
            ArtifactStore::S3(s) => {
                tokio::fs::create_dir_all(scratch_dir)
                    .await
                    .map_err(|source| ArtifactError::Io {
                        op: "create scratch directory",
                        path: scratch_dir.to_path_buf(),
                        source,
                    })?;
                let copy = LocalCopy::temporary(
                    scratch_dir.join(format!("provis-fetch-{}", Uuid::new_v4())),
                );
                s.fetch_to_path(key, copy.path()).await?;
                Ok(copy)
            }
        }
    }

    /// A cheap real request for `/health`: S3 lists one key of the bucket; local writes and
    /// removes a probe file in the root.
    pub async fn check(&self) -> Result<(), ArtifactError> {
        match self {
            ArtifactStore::Local(s) => s.check().await,
            ArtifactStore::S3(s) => s.check().await,
        }
    }
}
