//! Streaming inflation of one entry through a caller-owned fixed buffer, hashing (blake3 and
//! CRC-32) on the fly. The raw compressed bytes come from the caller, already limited to the
//! entry's compressed size; inflation is done here with flate2 rather than by the zip crate,
//! so the byte counts the rules use are our own, not the header's.

use super::{RejectCode, StoredAs, ZipRejection};
use std::io::{self, BufReader, Read};

/// The result of inflating one entry to its end.
pub(crate) struct Inflated {
    /// Bytes produced.
    pub out: u64,
    /// Compressed bytes the inflater consumed.
    pub consumed: u64,
    /// CRC-32 of the produced bytes.
    pub crc: u32,
    /// blake3 of the produced bytes, hex.
    pub hash: String,
}

/// Why inflation stopped early.
pub(crate) enum InflateError {
    /// A check of the caller's refused a chunk.
    Refused(ZipRejection),
    /// The compressed stream or the file could not be read.
    Read(io::Error),
}

impl InflateError {
    /// Turns a read failure into a rejection naming `entry`: broken data is `corrupt_entry`,
    /// anything else (the disk) is the transient `io_error`.
    pub(crate) fn into_rejection(self, entry: &str) -> ZipRejection {
        match self {
            InflateError::Refused(r) => r,
            InflateError::Read(err) => {
                let code = match err.kind() {
                    io::ErrorKind::InvalidData
                    | io::ErrorKind::InvalidInput
                    | io::ErrorKind::UnexpectedEof => RejectCode::CorruptEntry,
                    _ => RejectCode::IoError,
                };
                ZipRejection::entry(code, entry, format!("entry {entry:?}: {err}"))
            }
        }
    }
}

enum Decoder<R: Read> {
    Stored(R, u64),
    Deflated(flate2::bufread::DeflateDecoder<BufReader<R>>),
}

impl<R: Read> Decoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decoder::Stored(r, n) => {
                let got = r.read(buf)?;
                *n += got as u64;
                Ok(got)
            }
            Decoder::Deflated(d) => d.read(buf),
        }
    }

    fn consumed(&self) -> u64 {
        match self {
            Decoder::Stored(_, n) => *n,
            Decoder::Deflated(d) => d.total_in(),
        }
    }
}

/// Inflates `raw` (the entry's compressed bytes) chunk by chunk into `buf`. After every chunk
/// `on_chunk(chunk, produced_so_far)` runs; an error from it stops inflation at once. Memory
/// use is `buf` plus the decoder's fixed window, whatever the entry's size.
pub(crate) fn inflate<R: Read>(
    raw: R,
    method: StoredAs,
    buf: &mut [u8],
    mut on_chunk: impl FnMut(&[u8], u64) -> Result<(), ZipRejection>,
) -> Result<Inflated, InflateError> {
    let mut decoder = match method {
        StoredAs::Stored => Decoder::Stored(raw, 0),
        StoredAs::Deflated => Decoder::Deflated(flate2::bufread::DeflateDecoder::new(
            BufReader::with_capacity(32 * 1024, raw),
        )),
    };
    let mut hasher = blake3::Hasher::new();
    let mut crc = flate2::Crc::new();
    let mut out: u64 = 0;
    loop {
        let n = match decoder.read(buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(InflateError::Read(err)),
        };
        let chunk = &buf[..n];
        out += n as u64;
        hasher.update(chunk);
        crc.update(chunk);
        on_chunk(chunk, out).map_err(InflateError::Refused)?;
    }
    Ok(Inflated {
        out,
        consumed: decoder.consumed(),
        crc: crc.sum(),
        hash: hasher.finalize().to_hex().to_string(),
    })
}
