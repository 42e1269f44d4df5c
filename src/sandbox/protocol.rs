//! The wire between the worker and a parser child: length-prefixed frames over stdin/stdout.
//!
//! - child → parent, once at start: `u32 LE length` + JSON [`Isolation`](super::Isolation).
//! - parent → child, per file: `u32 LE length` + JSON [`RequestHeader`], then exactly
//!   `header.size` raw bytes of file content (no base64: a 50 MB file costs one copy).
//! - child → parent, per file: `u32 LE length` + a reply ([`encode_reply`]), which is
//!   `u32 LE length` and JSON [`ReplyHead`], then the record's JSON. The worker passes the
//!   record's bytes on as they are (see [`crate::pipeline::encoded`]) and reads only the head.
//!
//! One child answers many requests in order; the parent never pipelines (one request in flight
//! per child), so a reply always belongs to the last request.

use super::SandboxError;
use crate::pipeline::encoded::{EncodedRecord, RecordHead};
use crate::pipeline::model::FileRecord;
use serde::{Deserialize, Serialize};
use std::io::{self, Read, Write};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Largest request header (it only holds a path and a size).
pub(crate) const MAX_HEADER_BYTES: u32 = 64 * 1024;
/// Largest file content the child accepts in one request.
pub(crate) const MAX_CONTENT_BYTES: u64 = 1 << 30;
/// Largest reply (a FileRecord) the parent accepts. A file within `MAX_FILE_BYTES` (2 MiB)
/// gives a record of a few MiB at most; a larger one is a parser blowing up on hostile input
/// (say, text of nested expressions repeated per level), and must not reach the worker's memory
/// or the artifacts: it becomes a `parse_crash`.
pub(crate) const MAX_REPLY_BYTES: u32 = 64 << 20;
/// Largest hello frame the parent accepts.
pub(crate) const MAX_HELLO_BYTES: u32 = 64 * 1024;

/// What precedes the raw content of one file.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct RequestHeader {
    /// Repo-relative path, passed to the parse function as is.
    pub path: String,
    /// Number of raw content bytes that follow.
    pub size: u64,
}

/// What precedes the record in the child's answer for one file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReplyHead {
    /// CPU time the child has used since it started, so the parent can retire it before it
    /// reaches RLIMIT_CPU.
    pub cpu_ms: u64,
    /// The record's head.
    pub head: RecordHead,
}

/// The child's answer for one file, as the parent reads it.
#[derive(Debug)]
pub(crate) struct Reply {
    /// The record the parse function returned (or a `parse_crash` record after a panic).
    pub record: EncodedRecord,
    /// See [`ReplyHead::cpu_ms`].
    pub cpu_ms: u64,
}

/// The payload of the child's answer for `record` (see the module docs).
pub(crate) fn encode_reply(record: &FileRecord, cpu_ms: u64) -> Result<Vec<u8>, SandboxError> {
    let head = serde_json::to_vec(&ReplyHead {
        cpu_ms,
        head: RecordHead::of(record),
    })?;
    let len = u32::try_from(head.len()).map_err(|_| SandboxError::FrameTooLarge {
        size: head.len() as u64,
    })?;
    let mut payload = Vec::with_capacity(4 + head.len() + 1024);
    payload.extend_from_slice(&len.to_le_bytes());
    payload.extend_from_slice(&head);
    serde_json::to_writer(&mut payload, record)?;
    Ok(payload)
}

/// Reads a payload written by [`encode_reply`]: the head decoded, the record's bytes kept
/// (checked by [`EncodedRecord::from_json`]: one JSON object of the head's path).
pub(crate) fn decode_reply(payload: Vec<u8>) -> Result<Reply, SandboxError> {
    let bad = || {
        SandboxError::Io(io::Error::new(
            io::ErrorKind::InvalidData,
            "malformed reply",
        ))
    };
    let len = payload.get(..4).ok_or_else(bad)?;
    let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
    let head_end = 4usize
        .checked_add(len)
        .filter(|&e| e <= payload.len())
        .ok_or_else(bad)?;
    let head: ReplyHead = serde_json::from_slice(&payload[4..head_end])?;
    let json = bytes::Bytes::from(payload).slice(head_end..);
    Ok(Reply {
        record: EncodedRecord::from_json(head.head, json)?,
        cpu_ms: head.cpu_ms,
    })
}

/// Writes one length-prefixed frame and flushes.
pub(crate) fn write_frame(w: &mut impl Write, payload: &[u8]) -> Result<(), SandboxError> {
    let len = u32::try_from(payload.len()).map_err(|_| SandboxError::FrameTooLarge {
        size: payload.len() as u64,
    })?;
    w.write_all(&len.to_le_bytes())?;
    w.write_all(payload)?;
    w.flush()?;
    Ok(())
}

/// Reads one request in the child; `Ok(None)` when the parent closed the pipe between requests.
pub(crate) fn read_request(r: &mut impl Read) -> Result<Option<(String, Vec<u8>)>, SandboxError> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < len.len() {
        match r.read(&mut len[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    let len = u32::from_le_bytes(len);
    if len > MAX_HEADER_BYTES {
        return Err(SandboxError::FrameTooLarge { size: len.into() });
    }
    let mut header = vec![0u8; len as usize];
    r.read_exact(&mut header)?;
    let header: RequestHeader = serde_json::from_slice(&header)?;
    if header.size > MAX_CONTENT_BYTES {
        return Err(SandboxError::FrameTooLarge { size: header.size });
    }
    let size = usize::try_from(header.size)
        .map_err(|_| SandboxError::FrameTooLarge { size: header.size })?;
    let mut content = vec![0u8; size];
    r.read_exact(&mut content)?;
    Ok(Some((header.path, content)))
}

/// Sends one request to a child: header frame, then the raw content.
pub(crate) async fn write_request(
    w: &mut (impl AsyncWrite + Unpin),
    path: &str,
    content: &[u8],
) -> Result<(), SandboxError> {
    let header = serde_json::to_vec(&RequestHeader {
        path: path.to_string(),
        size: content.len() as u64,
    })?;
    let len = u32::try_from(header.len()).map_err(|_| SandboxError::FrameTooLarge {
        size: header.len() as u64,
    })?;
    let mut head = Vec::with_capacity(4 + header.len());
    head.extend_from_slice(&len.to_le_bytes());
    head.extend_from_slice(&header);
    w.write_all(&head).await?;
    w.write_all(content).await?;
    w.flush().await?;
    Ok(())
}

/// Reads one length-prefixed frame from a child, refusing frames above `max` bytes.
pub(crate) async fn read_frame(
    r: &mut (impl AsyncRead + Unpin),
    max: u32,
) -> Result<Vec<u8>, SandboxError> {
    let len = r.read_u32_le().await?;
    if len > max {
        return Err(SandboxError::FrameTooLarge { size: len.into() });
    }
    let mut payload = vec![0u8; len as usize];
    r.read_exact(&mut payload).await?;
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn request_round_trips_raw_bytes() {
        let content: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
        let mut wire = Vec::new();
        write_request(&mut wire, "src/ü.js", &content)
            .await
            .expect("write");
        write_request(&mut wire, "b.py", b"").await.expect("write");
        let mut reader = io::Cursor::new(wire);
        let (p1, c1) = read_request(&mut reader).expect("read").expect("frame");
        let (p2, c2) = read_request(&mut reader).expect("read").expect("frame");
        assert_eq!((p1.as_str(), c1), ("src/ü.js", content));
        assert_eq!((p2.as_str(), c2.len()), ("b.py", 0));
        assert!(read_request(&mut reader).expect("clean eof").is_none());
    }

    #[test]
    fn truncated_request_is_an_error_not_eof() {
        let mut reader = io::Cursor::new(vec![5u8, 0]);
        assert!(read_request(&mut reader).is_err());
    }

    #[test]
    fn replies_round_trip_and_malformed_ones_are_refused() {
        let record = crate::sandbox::identity_record("src/a.ts", b"export const a = 1;\n");
        let payload = encode_reply(&record, 42).expect("encode");
        let reply = decode_reply(payload.clone()).expect("decode");
        assert_eq!(reply.cpu_ms, 42);
        assert_eq!(reply.record.head, RecordHead::of(&record));
        assert_eq!(reply.record.decode().expect("record"), record);
        assert_eq!(
            &reply.record.json[..],
            serde_json::to_vec(&record).expect("json")
        );
        // A head longer than the payload, a truncated record, trailing bytes: all refused.
        let mut long = payload.clone();
        long[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode_reply(long).is_err());
        assert!(decode_reply(payload[..payload.len() - 1].to_vec()).is_err());
        let mut trailing = payload.clone();
        trailing.extend_from_slice(b",{}");
        assert!(decode_reply(trailing).is_err());
        assert!(decode_reply(vec![1, 0]).is_err());
    }

    #[tokio::test]
    async fn oversized_frame_is_refused() {
        let mut wire = Vec::new();
        write_frame(&mut wire, &[7u8; 100]).expect("write");
        let err = read_frame(&mut wire.as_slice(), 10).await.unwrap_err();
        assert!(matches!(err, SandboxError::FrameTooLarge { size: 100 }));
        let ok = read_frame(&mut wire.as_slice(), 100).await.expect("fits");
        assert_eq!(ok, vec![7u8; 100]);
    }
}
