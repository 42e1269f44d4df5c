//! An `AsyncRead` adaptor that hashes (BLAKE3), counts and limits what flows through it, so a
//! streamed upload is hashed and size-checked on its way to storage without being buffered.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

use super::ArtifactError;

/// Why the input stopped early; kept so the store can report it instead of the backend's
/// wrapped I/O error.
#[derive(Debug)]
enum Failure {
    TooLarge(u64),
    Input(io::Error),
}

/// Hashes, counts and limits the bytes read through it.
pub(crate) struct HashingReader<R> {
    inner: R,
    hasher: blake3::Hasher,
    bytes: u64,
    limit: Option<u64>,
    failure: Option<Failure>,
}

impl<R> HashingReader<R> {
    /// Wraps `inner`; reading more than `limit` bytes fails.
    pub(crate) fn new(inner: R, limit: Option<u64>) -> Self {
        Self {
            inner,
            hasher: blake3::Hasher::new(),
            bytes: 0,
            limit,
            failure: None,
        }
    }

    /// The input-side failure, if reading stopped because of the input (not the destination).
    pub(crate) fn take_failure(&mut self) -> Option<ArtifactError> {
        self.failure.take().map(|f| match f {
            Failure::TooLarge(limit) => ArtifactError::TooLarge { limit },
            Failure::Input(e) => ArtifactError::Input(e),
        })
    }

    /// Total bytes read and the BLAKE3 hex digest.
    pub(crate) fn finish(self) -> (u64, String) {
        (self.bytes, self.hasher.finalize().to_hex().to_string())
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for HashingReader<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let new = &buf.filled()[before..];
                this.hasher.update(new);
                this.bytes += new.len() as u64;
                if let Some(limit) = this.limit {
                    if this.bytes > limit {
                        this.failure = Some(Failure::TooLarge(limit));
                        return Poll::Ready(Err(io::Error::other(format!(
                            "input exceeds {limit} bytes"
                        ))));
                    }
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => {
                let copy = io::Error::new(e.kind(), e.to_string());
                this.failure = Some(Failure::Input(e));
                Poll::Ready(Err(copy))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}
