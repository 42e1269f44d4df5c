//! Streaming multipart upload of a repository zip.
//!
//! The `file` field is written chunk by chunk to a temporary file while it is hashed and
//! counted: the upload is never held in memory, reading stops as soon as it passes
//! `MAX_UPLOAD_BYTES` (413), and the first bytes must carry a zip signature (400) — the file
//! name is not trusted.

use crate::error::{ApiError, ErrorCode};
use crate::tasks::intake;
use actix_multipart::Multipart;
use actix_web::HttpRequest;
use futures_util::StreamExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

/// Largest accepted text field (`repo`, `settings`).
const MAX_FIELD_BYTES: usize = 64 * 1024;

/// Local file header and end-of-central-directory signatures (an empty zip has only the latter).
const ZIP_MAGIC: [&[u8; 4]; 2] = [b"PK\x03\x04", b"PK\x05\x06"];

/// What was received.
#[derive(Debug)]
pub struct ReceivedUpload {
    /// Temporary file holding the zip (removed by the caller).
    pub path: PathBuf,
    /// Bytes received.
    pub bytes: u64,
    /// blake3 of the raw upload, hex.
    pub upload_hash: String,
    /// The `file` part's file name, if any.
    pub filename: Option<String>,
    /// The `repo` field.
    pub repo: Option<String>,
    /// The `settings` field (JSON text).
    pub settings: Option<String>,
}

impl ReceivedUpload {
    /// The repository's name: the form's `repo`, else the query's, else the zip's file name,
    /// else `repo`; each normalised as [`intake::repo_name_from_filename`] does.
    pub fn repo_name(&self, query_repo: Option<&str>) -> String {
        self.repo
            .as_deref()
            .or(query_repo)
            .or(self.filename.as_deref())
            .map(intake::repo_name_from_filename)
            .unwrap_or_else(|| "repo".to_string())
    }
}

/// Refuses (413) a request whose declared length is far past the limit before a byte is read;
/// multipart framing adds a little, so 64 KiB of slack are allowed for it.
pub fn refuse_declared_oversize(req: &HttpRequest, max: u64) -> Result<(), ApiError> {
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(len) if len > max.saturating_add(64 * 1024) => Err(too_large(max)),
        _ => Ok(()),
    }
}

/// Reads the multipart body into `dest` (a file path in a directory that exists).
///
/// `kept`: the spool becomes the stored upload itself (the local artifact store links it into
/// place and syncs it), so its writeback is started as it arrives. A spool that is sent
/// elsewhere (S3) and removed is left to the page cache: writing it to this disk would be
/// wasted.
pub async fn receive(
    mut payload: Multipart,
    dest: &Path,
    max_bytes: u64,
    kept: bool,
) -> Result<ReceivedUpload, ApiError> {
    let mut out: Option<ReceivedUpload> = None;
    let mut repo = None;
    let mut settings = None;
    while let Some(field) = payload.next().await {
        let mut field = field.map_err(|e| bad_multipart(&e))?;
        let name = field.name().unwrap_or_default().to_string();
        match name.as_str() {
            "file" => {
                if out.is_some() {
                    return Err(ApiError::new(
                        ErrorCode::BadRequest,
                        "more than one `file` part in the upload",
                    ));
                }
                let filename = field
                    .content_disposition()
                    .and_then(|cd| cd.get_filename())
                    .map(str::to_string);
                let (bytes, upload_hash) =
                    write_file_field(&mut field, dest, max_bytes, kept).await?;
                out = Some(ReceivedUpload {
                    path: dest.to_path_buf(),
                    bytes,
                    upload_hash,
                    filename,
                    repo: None,
                    settings: None,
                });
            }
            "repo" => repo = Some(read_text_field(&mut field, "repo").await?),
            "settings" => settings = Some(read_text_field(&mut field, "settings").await?),
            _ => {
                // Unknown parts are drained and ignored, bounded like text fields.
                read_text_field(&mut field, &name).await?;
            }
        }
    }
    let mut up = out.ok_or_else(|| {
        ApiError::new(
            ErrorCode::MissingFile,
            "multipart field `file` (the repository zip) is required",
        )
    })?;
    up.repo = repo.filter(|s| !s.trim().is_empty());
    up.settings = settings.filter(|s| !s.trim().is_empty());
    Ok(up)
}

/// How far behind what was received the writeback stays: the bytes still in the spool's
/// buffer ([`crate::artifacts::STREAM_BUFFER`]) and those of the write that tokio's file may
/// have in flight (at most 2 MiB) are not in the file yet.
const WRITEBACK_LAG: u64 = 4 << 20;

async fn write_file_field(
    field: &mut actix_multipart::Field,
    dest: &Path,
    max_bytes: u64,
    kept: bool,
) -> Result<(u64, String), ApiError> {
    let file = tokio::fs::File::create(dest)
        .await
        .map_err(ApiError::internal)?;
    // The spool's descriptor once more, for starting its writeback on a blocking thread (the
    // call can wait for the disk's queue; this task serves a connection).
    let write_back = if kept {
        let spool = file.try_clone().await.map_err(ApiError::internal)?;
        Some(Arc::new(spool.into_std().await))
    } else {
        None
    };
    // Multipart chunks are small and each write of a tokio file is a blocking hand-off:
    // gathered into large writes (about 1 s of hand-offs for a 500 MB upload otherwise).
    let mut file = tokio::io::BufWriter::with_capacity(crate::artifacts::STREAM_BUFFER, file);
    let mut hasher = blake3::Hasher::new();
    let mut total: u64 = 0;
    let mut written_back: u64 = 0;
    let mut head: Vec<u8> = Vec::with_capacity(4);
    while let Some(chunk) = field.next().await {
        let chunk = chunk.map_err(|e| bad_multipart(&e))?;
        total += chunk.len() as u64;
        if total > max_bytes {
            return Err(too_large(max_bytes));
        }
        if head.len() < 4 {
            let take = (4 - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..take]);
            if head.len() == 4 && !ZIP_MAGIC.iter().any(|m| head.as_slice() == m.as_slice()) {
                return Err(not_a_zip());
            }
        }
        hasher.update(&chunk);
        file.write_all(&chunk).await.map_err(ApiError::internal)?;
        // A kept spool is synced once stored (a 500 MB zip's pages all dirty then, and the
        // sync waited for all of them): its writeback starts as it arrives, a few MiB behind
        // what may still sit in a buffer or be on its way to the file.
        let behind = total.saturating_sub(WRITEBACK_LAG);
        if let Some(spool) = write_back.as_ref() {
            if behind - written_back >= crate::host::WRITEBACK_EVERY {
                let (spool, from, len) = (Arc::clone(spool), written_back, behind - written_back);
                tokio::task::spawn_blocking(move || {
                    crate::host::start_writeback(spool.as_ref(), from, len)
                });
                written_back = behind;
            }
        }
    }
    if head.len() < 4 {
        return Err(not_a_zip());
    }
    file.flush().await.map_err(ApiError::internal)?;
    Ok((total, hasher.finalize().to_hex().to_string()))
}

async fn read_text_field(
    field: &mut actix_multipart::Field,
    name: &str,
) -> Result<String, ApiError> {
    let mut buf = Vec::new();
    while let Some(chunk) = field.next().await {
        let chunk = chunk.map_err(|e| bad_multipart(&e))?;
        if buf.len() + chunk.len() > MAX_FIELD_BYTES {
            return Err(ApiError::new(
                ErrorCode::BadRequest,
                format!("multipart field `{name}` is longer than {MAX_FIELD_BYTES} bytes"),
            ));
        }
        buf.extend_from_slice(&chunk);
    }
    String::from_utf8(buf).map_err(|_| {
        ApiError::new(
            ErrorCode::BadRequest,
            format!("multipart field `{name}` is not UTF-8 text"),
        )
    })
}

/// The 413 answer, naming the limit.
pub fn too_large(max_bytes: u64) -> ApiError {
    ApiError::new(
        ErrorCode::UploadTooLarge,
        format!("upload is larger than MAX_UPLOAD_BYTES ({max_bytes} bytes)"),
    )
}

fn not_a_zip() -> ApiError {
    ApiError::new(
        ErrorCode::Refused(crate::tasks::intake::RejectCode::NotAZip),
        "the uploaded file is not a zip archive (no zip signature at its start)",
    )
}

fn bad_multipart(e: &actix_multipart::MultipartError) -> ApiError {
    ApiError::new(
        ErrorCode::BadRequest,
        format!("malformed multipart body: {e}"),
    )
}
