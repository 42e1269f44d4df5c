//! S3 backend (rust-s3; AWS, MinIO, moto), path-style when an endpoint is configured.
//!
//! Create-only writes carry `If-None-Match: *`, which AWS S3, MinIO and moto 5 enforce
//! atomically for `PutObject` (412 → [`ArtifactError::AlreadyExists`]). Whether the server does
//! is probed once per process; where it does not, a `HEAD` first still refuses a key that exists.
//! Streamed uploads above 8 MiB are multipart; rust-s3 sends the condition with
//! `CompleteMultipartUpload`, where S3 evaluates it. A 409 `ConditionalRequestConflict` (another
//! conditional write of the same key in flight) is a retryable backend error; the retry's `HEAD`
//! then sees the winner.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use s3::creds::Credentials;
use s3::error::S3Error;
use s3::serde_types::ObjectIdentifier;
use s3::{Bucket, BucketConfiguration, Region};
use tokio::io::{AsyncRead, AsyncWriteExt};
use tracing::{debug, info, warn};

use super::hashing::HashingReader;
use super::{ArtifactError, ObjectInfo, StoredObject};
use crate::config::S3Settings;

/// Multipart parts in flight per streamed upload (each part is 8 MiB in memory).
const STREAM_PARTS_IN_FLIGHT: usize = 2;
/// Longest presigned URL lifetime S3 accepts (7 days).
const MAX_PRESIGN_SECS: u64 = 604_800;

/// One bucket; cheap to clone. Writes are create-only: `HEAD` first, then the write carries
/// `If-None-Match: *` (on `PutObject`, or on `CompleteMultipartUpload` for streams over 8 MiB),
/// so the store refuses a taken key even when two writers pass their `HEAD` together. AWS S3
/// and MinIO evaluate the condition atomically; moto enforces it but as check-then-write, so
/// two requests interleaving inside moto can both succeed.
#[derive(Debug, Clone)]
pub struct S3Store {
    bucket: Arc<Bucket>,
    /// How to create the bucket, and whether it has been: when S3 did not answer at start-up
    /// the process starts anyway (`/health` names storage) and creates it on first use.
    create: Arc<CreateBucket>,
    /// Whether the server itself refuses an `If-None-Match: *` write of an existing key,
    /// probed once: then a create-only write skips its `HEAD`, one round trip less per
    /// work blob and cache pack (four per parse batch).
    enforces_create_only: Arc<tokio::sync::OnceCell<bool>>,
}

/// Where the create-only probe writes its throwaway objects (deleted right after).
const PROBE_PREFIX: &str = "probe/create-only/";

/// What creating the bucket needs, kept for when S3 did not answer at start-up.
#[derive(Debug)]
struct CreateBucket {
    region: Region,
    credentials: Credentials,
    /// The request timeout: rust-s3's `CreateBucket` call does not take the bucket's own.
    timeout: Duration,
    done: std::sync::atomic::AtomicBool,
}

impl S3Store {
    /// Builds the client from the settings and creates the bucket when it is missing.
    pub async fn connect(settings: &S3Settings) -> Result<Self, ArtifactError> {
        let region = match &settings.endpoint_url {
            Some(endpoint) => Region::Custom {
                region: settings.region.clone(),
                endpoint: endpoint.trim_end_matches('/').to_string(),
            },
            None => settings.region.parse().map_err(|e| {
                ArtifactError::Config(format!("S3 region {:?}: {e}", settings.region))
            })?,
        };
        let credentials = credentials(settings).await?;
        let mut bucket = Bucket::new(&settings.bucket, region.clone(), credentials.clone())
            .map_err(|e| config_err("S3 client", e))?;
        if settings.endpoint_url.is_some() {
            bucket = bucket.with_path_style();
        }
        bucket.set_request_timeout(Some(Duration::from_secs(settings.request_timeout_s.max(1))));
        let store = Self {
            bucket: Arc::from(bucket),
            create: Arc::new(CreateBucket {
                region,
                credentials,
                timeout: Duration::from_secs(settings.request_timeout_s.max(1)),
                done: std::sync::atomic::AtomicBool::new(false),
            }),
            enforces_create_only: Arc::default(),
        };
        match store.bucket_ready().await {
            Ok(()) => {}
            // S3 unreachable or failing (a hang, a refused connection, a 5xx): start anyway;
            // `/health` names storage and the bucket is created once S3 answers.
            Err(e) if e.retryable() => warn!(
                error = %e,
                "S3 did not answer at start-up; starting without it (the bucket is created on first use)"
            ),
            Err(e) => return Err(e),
        }
        Ok(store)
    }

    /// Creates the bucket unless that is done (see [`CreateBucket`]).
    async fn bucket_ready(&self) -> Result<(), ArtifactError> {
        use std::sync::atomic::Ordering;
        if self.create.done.load(Ordering::Acquire) {
            return Ok(());
        }
        let create =
            self.ensure_bucket(self.create.region.clone(), self.create.credentials.clone());
        tokio::time::timeout(self.create.timeout, create)
            .await
            .map_err(|_| ArtifactError::Backend {
                message: format!(
                    "create bucket {}: no answer within {} s",
                    self.bucket.name(),
                    self.create.timeout.as_secs()
                ),
                status: None,
                retryable: true,
            })??;
        self.create.done.store(true, Ordering::Release);
        Ok(())
    }

    /// Bucket name.
    pub fn bucket_name(&self) -> String {
        self.bucket.name()
    }

    /// `s3://bucket/key` URI of a key.
    pub fn uri(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket.name())
    }

    /// Creates the bucket; "already yours" counts as success (`Bucket::exists()` is not used:
    /// it breaks on servers whose ListBuckets has no `Owner`).
    async fn ensure_bucket(
        &self,
        region: Region,
        credentials: Credentials,
    ) -> Result<(), ArtifactError> {
        let name = self.bucket.name();
        let config = BucketConfiguration::default();
        let created = if self.bucket.is_path_style() {
            Bucket::create_with_path_style(&name, region, credentials, config).await
        } else {
            Bucket::create(&name, region, credentials, config).await
        };
        let (status, body) = match created {
            Ok(resp) => (resp.response_code, resp.response_text),
            Err(S3Error::HttpFailWithBody(status, body)) => (status, body),
            Err(e) => return Err(backend_err("create bucket", e)),
        };
        match status {
            200..=299 => {
                info!(bucket = %name, "Created or found S3 bucket {name}");
                Ok(())
            }
            409 if body.contains("BucketAlreadyOwnedByYou") => {
                debug!(bucket = %name, "S3 bucket {name} already exists");
                Ok(())
            }
            // Some S3 servers (s3s-fs among them) answer `BucketAlreadyExists` even to the
            // bucket's owner, e.g. when `serve` and `work` start together and both create it.
            // The bucket is usable when these credentials can list it; otherwise it is
            // somebody else's, and no retry will change that.
            409 if body.contains("BucketAlreadyExists") => self.bucket_is_listable(&name).await,
            400 if body.contains("InvalidLocationConstraint") => {
                // rust-s3 sends a LocationConstraint for custom regions unless
                // RUST_S3_SKIP_LOCATION_CONSTRAINT is set; strict servers (moto, AWS in
                // us-east-1) refuse it. Retry as a body-less, presigned CreateBucket.
                self.create_bucket_without_constraint().await
            }
            _ => Err(ArtifactError::Backend {
                message: format!("create bucket {name}: HTTP {status}: {}", short(&body)),
                status: Some(status),
                retryable: is_retryable_status(status),
            }),
        }
    }

    /// After a `BucketAlreadyExists`: Ok when these credentials can list the bucket.
    async fn bucket_is_listable(&self, name: &str) -> Result<(), ArtifactError> {
        match self
            .bucket
            .list_page(String::new(), None, None, None, Some(1))
            .await
        {
            Ok(_) => {
                debug!(bucket = %name, "S3 bucket {name} already exists and is listable");
                Ok(())
            }
            Err(S3Error::HttpFailWithBody(status, body)) if is_retryable_status(status) => {
                Err(ArtifactError::Backend {
                    message: format!("list bucket {name}: HTTP {status}: {}", short(&body)),
                    status: Some(status),
                    retryable: true,
                })
            }
            Err(e) => Err(ArtifactError::Backend {
                message: format!(
                    "create bucket {name}: the name is taken and these credentials cannot list it \
                     (S3_BUCKET must name a bucket of this account): {e}"
                ),
                status: Some(409),
                retryable: false,
            }),
        }
    }

    async fn create_bucket_without_constraint(&self) -> Result<(), ArtifactError> {
        let name = self.bucket.name();
        let url = self
            .bucket
            .presign_put("/", 300, None, None)
            .await
            .map_err(|e| backend_err("presign create bucket", e))?;
        let resp = self
            .bucket
            .http_client()
            .put(url)
            .header("content-length", "0")
            .send()
            .await
            .map_err(|e| ArtifactError::Backend {
                message: format!("create bucket {name}: {e}"),
                status: None,
                retryable: true,
            })?;
        let status = resp.status().as_u16();
        let body = resp.text().await.unwrap_or_default();
        if (200..300).contains(&status) || body.contains("BucketAlreadyOwnedByYou") {
            info!(bucket = %name, "Created S3 bucket {name} without a location constraint");
            Ok(())
        } else if status == 409 && body.contains("BucketAlreadyExists") {
            self.bucket_is_listable(&name).await
        } else {
            Err(ArtifactError::Backend {
                message: format!("create bucket {name}: HTTP {status}: {}", short(&body)),
                status: Some(status),
                retryable: is_retryable_status(status),
            })
        }
    }

    pub(super) async fn put_new(
        &self,
        key: &str,
        bytes: Bytes,
        content_type: &str,
    ) -> Result<String, ArtifactError> {
        match self.put_new_once(key, &bytes, content_type).await {
            // The bucket vanished: the second try creates it again first.
            Err(e) if no_such_bucket(&e) => {
                self.bucket_vanished(&e);
                self.put_new_once(key, &bytes, content_type).await
            }
            r => r,
        }
    }

    async fn put_new_once(
        &self,
        key: &str,
        bytes: &Bytes,
        content_type: &str,
    ) -> Result<String, ArtifactError> {
        self.bucket_ready().await?;
        if !self.enforces_create_only().await {
            self.refuse_existing(key).await?;
        }
        let request = self
            .bucket
            .put_object_builder(key, bytes)
            .with_content_type(content_type)
            .with_header("if-none-match", "*")
            .map_err(|e| backend_err("put", e))?;
        match request.execute().await {
            Ok(resp) if (200..300).contains(&resp.status_code()) => Ok(self.uri(key)),
            Ok(resp) => Err(put_status_err(
                key,
                resp.status_code(),
                &String::from_utf8_lossy(resp.as_slice()),
            )),
            Err(S3Error::HttpFailWithBody(status, body)) => Err(put_status_err(key, status, &body)),
            Err(e) => Err(backend_err("put", e)),
        }
    }

    pub(super) async fn put_new_stream<R>(
        &self,
        key: &str,
        reader: R,
        content_type: &str,
        max_bytes: Option<u64>,
    ) -> Result<StoredObject, ArtifactError>
    where
        R: AsyncRead + Unpin + Send,
    {
        self.bucket_ready().await?;
        if !self.enforces_create_only().await {
            self.refuse_existing(key).await?;
        }
        // The stream builder only takes typed headers; borrow rust-s3's own header map type
        // through a scratch bucket instead of depending on the `http` crate directly.
        let mut scratch = Bucket::clone(&self.bucket);
        scratch.extra_headers_mut().clear();
        scratch.add_header("if-none-match", "*");
        let headers = scratch.extra_headers().clone();

        let mut reader = HashingReader::new(reader, max_bytes);
        let result = self
            .bucket
            .put_object_stream_builder(key)
            .with_content_type(content_type)
            .with_headers(headers)
            .with_max_concurrent_chunks(STREAM_PARTS_IN_FLIGHT)
            .execute_stream(&mut reader)
            .await;
        if let Some(input_failure) = reader.take_failure() {
            return Err(input_failure);
        }
        let failed = match result {
            Ok(resp) if (200..300).contains(&resp.status_code()) => None,
            Ok(resp) => Some(put_status_err(key, resp.status_code(), "")),
            Err(S3Error::HttpFailWithBody(status, body)) => {
                Some(put_status_err(key, status, &body))
            }
            Err(e) => Some(backend_err("streamed put", e)),
        };
        if let Some(e) = failed {
            // The stream is spent: a vanished bucket is created again by the caller's retry.
            return Err(if no_such_bucket(&e) {
                self.bucket_vanished(&e)
            } else {
                e
            });
        }
        let (bytes, blake3) = reader.finish();
        Ok(StoredObject {
            uri: self.uri(key),
            bytes,
            blake3,
        })
    }

    /// Whether `If-None-Match: *` alone keeps a write from replacing an object (AWS S3, MinIO
    /// and moto 5 do; some S3-compatible servers ignore the header). Asked once per process
    /// by writing one throwaway key twice; any doubt (an error, a second write that succeeds)
    /// keeps the `HEAD` before every create-only write.
    async fn enforces_create_only(&self) -> bool {
        *self
            .enforces_create_only
            .get_or_init(|| async {
                let key = format!("{PROBE_PREFIX}{}", uuid::Uuid::now_v7());
                let enforced = self.probe_create_only(&key).await;
                if let Err(e) = self.delete(&key).await {
                    warn!(key = %key, error = %e, "cannot delete the create-only probe object");
                }
                info!(
                    bucket = %self.bucket.name(),
                    enforced, "S3 server create-only writes (If-None-Match) probed"
                );
                enforced
            })
            .await
    }

    /// Writes `key` twice with `If-None-Match: *`: true when the first write is stored and the
    /// second refused (412); false on anything else, errors included.
    async fn probe_create_only(&self, key: &str) -> bool {
        let put = || async {
            self.bucket
                .put_object_builder(key, b"create-only probe")
                .with_content_type("text/plain")
                .with_header("if-none-match", "*")?
                .execute()
                .await
                .map(|resp| resp.status_code())
        };
        let status = |r: Result<u16, S3Error>| match r {
            Ok(code) | Err(S3Error::HttpFailWithBody(code, _)) => Some(code),
            Err(_) => None,
        };
        matches!(status(put().await), Some(200..=299)) && status(put().await) == Some(412)
    }

    async fn refuse_existing(&self, key: &str) -> Result<(), ArtifactError> {
        match self.head(key).await? {
            Some(_) => Err(ArtifactError::AlreadyExists {
                key: key.to_string(),
            }),
            None => Ok(()),
        }
    }

    pub(super) async fn get(&self, key: &str) -> Result<Bytes, ArtifactError> {
        match self.bucket.get_object(key).await {
            Ok(resp) => Ok(resp.into_bytes()),
            Err(S3Error::HttpFailWithBody(404, _)) => Err(ArtifactError::NotFound {
                key: key.to_string(),
            }),
            Err(e) => Err(backend_err("get", e)),
        }
    }

    pub(super) async fn head(&self, key: &str) -> Result<Option<u64>, ArtifactError> {
        match self.bucket.head_object(key).await {
            Ok((head, _)) => Ok(Some(head.content_length.unwrap_or(0).max(0) as u64)),
            Err(S3Error::HttpFailWithBody(404, _)) => Ok(None),
            Err(e) => Err(backend_err("head", e)),
        }
    }

    pub(super) async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>, ArtifactError> {
        let pages = self
            .bucket
            .list(prefix.to_string(), None)
            .await
            .map_err(|e| backend_err("list", e))?;
        let mut out: Vec<ObjectInfo> = pages
            .into_iter()
            .flat_map(|page| page.contents)
            .map(|obj| ObjectInfo {
                key: obj.key,
                size: obj.size,
            })
            .collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    pub(super) async fn delete(&self, key: &str) -> Result<(), ArtifactError> {
        match self.bucket.delete_object(key).await {
            Ok(resp) if (200..300).contains(&resp.status_code()) => Ok(()),
            Ok(resp) if resp.status_code() == 404 => Ok(()),
            Ok(resp) => {
                let status = resp.status_code();
                Err(ArtifactError::Backend {
                    message: format!(
                        "delete {key}: HTTP {status}: {}",
                        short(&resp.to_string().unwrap_or_default())
                    ),
                    status: Some(status),
                    retryable: is_retryable_status(status),
                })
            }
            Err(S3Error::HttpFailWithBody(404, _)) => Ok(()),
            Err(e) => Err(backend_err("delete", e)),
        }
    }

    /// Deletes many keys with `DeleteObjects`, 1,000 a request. A large job leaves thousands
    /// of work blobs, and one `DELETE` each held its `done` up by seconds (8 s for 3,219 blobs
    /// on a local moto). Servers that lack the call (501/405) get one `DELETE` per key.
    pub(super) async fn delete_many(&self, keys: Vec<String>) -> Result<(), ArtifactError> {
        if keys.is_empty() {
            return Ok(());
        }
        let ids: Vec<ObjectIdentifier> = keys.iter().map(ObjectIdentifier::new).collect();
        match self.bucket.delete_objects(ids).await {
            // A key already gone is what a delete wants.
            Ok(result) => match result.errors.iter().find(|e| e.code != "NoSuchKey") {
                None => Ok(()),
                Some(e) => Err(ArtifactError::Backend {
                    message: format!("delete {}: {}: {}", e.key, e.code, short(&e.message)),
                    status: None,
                    retryable: true,
                }),
            },
            Err(S3Error::HttpFailWithBody(501 | 405, _)) => futures_util::stream::iter(keys)
                .map(|key| async move { self.delete(&key).await })
                .buffer_unordered(8)
                .collect::<Vec<_>>()
                .await
                .into_iter()
                .collect(),
            Err(e) => Err(backend_err("delete objects", e)),
        }
    }

    pub(super) async fn presign_get(
        &self,
        key: &str,
        ttl: Duration,
    ) -> Result<String, ArtifactError> {
        let secs = ttl.as_secs().clamp(1, MAX_PRESIGN_SECS) as u32;
        self.bucket
            .presign_get(key, secs, None)
            .await
            .map_err(|e| backend_err("presign", e))
    }

    pub(super) async fn fetch_to_path(&self, key: &str, dest: &Path) -> Result<u64, ArtifactError> {
        let mut stream = match self.bucket.get_object_stream(key).await {
            Ok(stream) => stream,
            Err(S3Error::HttpFailWithBody(404, _)) => {
                return Err(ArtifactError::NotFound {
                    key: key.to_string(),
                })
            }
            Err(e) => return Err(backend_err("get", e)),
        };
        let io = |op: &'static str| {
            move |source| ArtifactError::Io {
                op,
                path: dest.to_path_buf(),
                source,
            }
        };
        let file = tokio::fs::File::create(dest).await.map_err(io("create"))?;
        // The body comes in small chunks; each write of a tokio file is a blocking hand-off.
        let mut file = tokio::io::BufWriter::with_capacity(super::STREAM_BUFFER, file);
        let mut total = 0u64;
        while let Some(chunk) = stream.bytes().next().await {
            let chunk = chunk.map_err(|e| backend_err("get", e))?;
            file.write_all(&chunk).await.map_err(io("write"))?;
            total += chunk.len() as u64;
        }
        file.flush().await.map_err(io("flush"))?;
        file.get_ref().sync_all().await.map_err(io("sync"))?;
        Ok(total)
    }

    pub(super) async fn check(&self) -> Result<(), ArtifactError> {
        self.bucket_ready().await?;
        match self
            .bucket
            .list_page(String::new(), None, None, None, Some(1))
            .await
        {
            Ok(_) => Ok(()),
            // A bucket that vanished while provis ran is created again (empty: what it held
            // is gone, which the log says); `/health` names it only if that fails.
            Err(S3Error::HttpFailWithBody(404, body)) if body.contains("NoSuchBucket") => {
                let gone = self.bucket_vanished(&backend_err(
                    "health check",
                    S3Error::HttpFailWithBody(404, body),
                ));
                self.bucket_ready()
                    .await
                    .map_err(|e| ArtifactError::Backend {
                        message: format!("{gone}; creating it failed: {e}"),
                        status: Some(404),
                        retryable: e.retryable(),
                    })
            }
            Err(e) => Err(backend_err("health check", e)),
        }
    }

    /// The bucket vanished under a running provis: forgets that it was created, so the next
    /// call creates it again, and says so. The answer is the retryable error to report.
    fn bucket_vanished(&self, cause: &ArtifactError) -> ArtifactError {
        self.create
            .done
            .store(false, std::sync::atomic::Ordering::Release);
        let bucket = self.bucket.name();
        warn!(bucket = %bucket, error = %cause, "the bucket vanished (its objects are gone); it is created again on the next call");
        ArtifactError::BucketVanished { bucket }
    }
}

async fn credentials(settings: &S3Settings) -> Result<Credentials, ArtifactError> {
    match (&settings.access_key_id, &settings.secret_access_key) {
        (Some(access), Some(secret)) => {
            Credentials::new(Some(access), Some(secret), None, None, None)
                .map_err(|e| ArtifactError::Config(format!("S3 credentials: {e}")))
        }
        (None, None) => {
            // The standard AWS chain (environment, profile, instance metadata) may block on
            // HTTP, so it runs off the async threads.
            tokio::task::spawn_blocking(Credentials::default)
                .await
                .map_err(|e| ArtifactError::Config(format!("S3 credentials: {e}")))?
                .map_err(|e| ArtifactError::Config(format!("S3 credentials: {e}")))
        }
        _ => Err(ArtifactError::Config(
            "S3 credentials: set both S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY, or neither"
                .to_string(),
        )),
    }
}

fn put_status_err(key: &str, status: u16, body: &str) -> ArtifactError {
    match status {
        412 => ArtifactError::AlreadyExists {
            key: key.to_string(),
        },
        409 => ArtifactError::Backend {
            message: format!("put {key}: concurrent conditional write: {}", short(body)),
            status: Some(status),
            retryable: true,
        },
        _ => ArtifactError::Backend {
            message: format!("put {key}: HTTP {status}: {}", short(body)),
            status: Some(status),
            retryable: is_retryable_status(status),
        },
    }
}

fn backend_err(op: &str, e: S3Error) -> ArtifactError {
    match e {
        S3Error::HttpFailWithBody(status, body) => ArtifactError::Backend {
            message: format!("{op}: HTTP {status}: {}", short(&body)),
            status: Some(status),
            retryable: is_retryable_status(status),
        },
        e @ (S3Error::Reqwest(_) | S3Error::Io(_) | S3Error::HttpFail) => ArtifactError::Backend {
            message: format!("{op}: {e}"),
            status: None,
            retryable: true,
        },
        e => ArtifactError::Backend {
            message: format!("{op}: {e}"),
            status: None,
            retryable: false,
        },
    }
}

/// Whether S3 answered that the bucket does not exist.
fn no_such_bucket(e: &ArtifactError) -> bool {
    matches!(e, ArtifactError::Backend { status: Some(404), message, .. } if message.contains("NoSuchBucket"))
}

fn config_err(what: &str, e: S3Error) -> ArtifactError {
    ArtifactError::Config(format!("{what}: {e}"))
}

fn is_retryable_status(status: u16) -> bool {
    status >= 500 || status == 408 || status == 429
}

/// First 300 characters of an error body, for messages.
fn short(body: &str) -> String {
    body.chars().take(300).collect()
}
