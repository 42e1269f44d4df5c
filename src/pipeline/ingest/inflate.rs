//! Streaming inflation of one entry through a caller-owned fixed buffer, hashing (blake3 and
//! CRC-32) on the fly. The raw compressed bytes come from the caller, already limited to the
//! entry's compressed size; inflation is done here with flate2 rather than by the zip crate,
//! so the byte counts the rules use are our own, not the header's.

use super::{RejectCode, StoredAs, ZipRejection};
use std::io::{self, Read};

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

/// Bytes of compressed input read at a time.
const INPUT_BYTES: usize = 32 * 1024;

/// What inflating needs besides the bytes: the output buffer, the input buffer and the
/// decompressor, allocated once and reused for every entry.
///
/// A decoder per entry (flate2's `DeflateDecoder` with its own 32 KiB input buffer) cost two
/// allocations per entry. With glibc's allocator capped at two arenas (the binary's allocator
/// then) and two threads inspecting a 53.6k-entry zip, those allocate-free cycles sometimes
/// grew the heap by about 1 GB that was never given back.
pub(crate) struct Inflater {
    out: Vec<u8>,
    input: Vec<u8>,
    state: Option<flate2::Decompress>,
}

impl Inflater {
    /// An inflater with an output buffer of [`super::INFLATE_BUFFER_BYTES`].
    pub(crate) fn new() -> Self {
        Self {
            out: vec![0u8; super::INFLATE_BUFFER_BYTES],
            input: Vec::new(),
            state: None,
        }
    }
}

thread_local! {
    static SPARE: std::cell::RefCell<Option<Inflater>> = const { std::cell::RefCell::new(None) };
}

/// An [`Inflater`] lent by this thread's spare one and given back when dropped.
///
/// Readers are made per call, and the detectors read files one at a time: a fresh inflater per
/// file zeroed about 130 KB of buffers and decoder state each time, about a tenth of the
/// worker's instructions on a 2.6k-file repository.
pub(crate) struct Spare(Option<Inflater>);

impl Spare {
    /// This thread's spare inflater, or a new one when it is lent out already.
    pub(crate) fn take() -> Self {
        let spare = SPARE
            .try_with(|s| s.try_borrow_mut().ok().and_then(|mut s| s.take()))
            .ok()
            .flatten();
        Spare(Some(spare.unwrap_or_else(Inflater::new)))
    }

    /// The inflater.
    pub(crate) fn get(&mut self) -> &mut Inflater {
        self.0.get_or_insert_with(Inflater::new)
    }
}

impl Drop for Spare {
    fn drop(&mut self) {
        if let Some(inflater) = self.0.take() {
            let _ = SPARE.try_with(|s| {
                if let Ok(mut s) = s.try_borrow_mut() {
                    *s = Some(inflater);
                }
            });
        }
    }
}

/// Reads into `buf`, retrying when interrupted.
fn read_some(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match r.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// The error flate2's readers give for a broken deflate stream.
fn corrupt() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "corrupt deflate stream")
}

/// Inflates `raw` (the entry's compressed bytes) chunk by chunk into `buf`. After every chunk
/// `on_chunk(chunk, produced_so_far)` runs; an error from it stops inflation at once. Memory
/// use is `buf` plus the decoder's fixed window, whatever the entry's size.
pub(crate) fn inflate<R: Read>(
    mut raw: R,
    method: StoredAs,
    inf: &mut Inflater,
    mut on_chunk: impl FnMut(&[u8], u64) -> Result<(), ZipRejection>,
) -> Result<Inflated, InflateError> {
    let mut hasher = blake3::Hasher::new();
    let mut crc = flate2::Crc::new();
    let mut out: u64 = 0;
    let mut take = |chunk: &[u8], out: &mut u64| {
        *out += chunk.len() as u64;
        hasher.update(chunk);
        crc.update(chunk);
        on_chunk(chunk, *out).map_err(InflateError::Refused)
    };
    let consumed = match method {
        StoredAs::Stored => {
            let mut read = 0u64;
            loop {
                let n = read_some(&mut raw, &mut inf.out).map_err(InflateError::Read)?;
                if n == 0 {
                    break read;
                }
                read += n as u64;
                take(&inf.out[..n], &mut out)?;
            }
        }
        StoredAs::Deflated => {
            if inf.input.len() != INPUT_BYTES {
                inf.input = vec![0u8; INPUT_BYTES];
            }
            let d = inf
                .state
                .get_or_insert_with(|| flate2::Decompress::new(false));
            d.reset(false);
            let (mut start, mut end, mut eof) = (0usize, 0usize, false);
            loop {
                if start == end && !eof {
                    end = read_some(&mut raw, &mut inf.input).map_err(InflateError::Read)?;
                    start = 0;
                    eof = end == 0;
                }
                let flush = if eof {
                    flate2::FlushDecompress::Finish
                } else {
                    flate2::FlushDecompress::None
                };
                let (before_in, before_out) = (d.total_in(), d.total_out());
                let status = d
                    .decompress(&inf.input[start..end], &mut inf.out, flush)
                    .map_err(|_| InflateError::Read(corrupt()))?;
                let used = (d.total_in() - before_in) as usize;
                let made = (d.total_out() - before_out) as usize;
                start += used;
                if made > 0 {
                    take(&inf.out[..made], &mut out)?;
                }
                match status {
                    flate2::Status::StreamEnd => break d.total_in(),
                    // Input ended before the stream did: what was produced is all there is
                    // (as flate2's readers end); the callers' size and CRC checks catch it.
                    _ if eof && made == 0 => break d.total_in(),
                    // Input left, room to write, and no progress: the stream is broken.
                    _ if used == 0 && made == 0 && start < end => {
                        return Err(InflateError::Read(corrupt()))
                    }
                    _ => {}
                }
            }
        }
    };
    Ok(Inflated {
        out,
        consumed,
        crc: crc.sum(),
        hash: hasher.finalize().to_hex().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spare_inflater_is_lent_once_and_given_back() {
        let mut first = Spare::take();
        let buf = first.get().out.as_ptr();
        let mut second = Spare::take();
        assert_ne!(
            second.get().out.as_ptr(),
            buf,
            "lent out: a second reader gets its own"
        );
        drop(second);
        drop(first);
        let mut again = Spare::take();
        assert_eq!(
            again.get().out.as_ptr(),
            buf,
            "the one given back last is lent again"
        );
    }
    use flate2::{write::DeflateEncoder, Compression};
    use std::io::Write;

    fn deflate(data: &[u8]) -> Vec<u8> {
        let mut e = DeflateEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn run(
        inf: &mut Inflater,
        raw: &[u8],
        method: StoredAs,
    ) -> Result<(Inflated, Vec<u8>), InflateError> {
        let mut got = Vec::new();
        let done = inflate(raw, method, inf, |chunk, out| {
            got.extend_from_slice(chunk);
            assert_eq!(
                out,
                got.len() as u64,
                "the running count is the bytes so far"
            );
            Ok(())
        })?;
        Ok((done, got))
    }

    /// One inflater, reused across entries of both methods and of sizes below and well above
    /// its buffers, gives every entry's exact bytes, hash, CRC and consumed count.
    #[test]
    fn a_reused_inflater_gives_each_entry_exactly() {
        let big: Vec<u8> = (0..300_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let entries: Vec<Vec<u8>> = vec![b"hello".to_vec(), big, Vec::new(), b"x".repeat(70_000)];
        let mut inf = Inflater::new();
        for round in 0..2 {
            for data in &entries {
                let mut crc = flate2::Crc::new();
                crc.update(data);
                let packed = deflate(data);
                let (done, got) = run(&mut inf, &packed, StoredAs::Deflated).ok().unwrap();
                assert_eq!(&got, data, "round {round}");
                assert_eq!(done.out, data.len() as u64);
                assert_eq!(done.consumed, packed.len() as u64);
                assert_eq!(done.crc, crc.sum());
                assert_eq!(done.hash, blake3::hash(data).to_hex().to_string());
                let (stored, got) = run(&mut inf, data, StoredAs::Stored).ok().unwrap();
                assert_eq!(&got, data);
                assert_eq!(
                    (stored.out, stored.consumed),
                    (data.len() as u64, data.len() as u64)
                );
            }
        }
    }

    /// A cut stream ends short (the callers' size check rejects it); garbage is an error; and
    /// neither leaves the inflater unable to inflate the next entry.
    #[test]
    fn broken_streams_end_short_or_fail_and_the_inflater_recovers() {
        let data = b"abcdefghij".repeat(10_000);
        let packed = deflate(&data);
        let mut inf = Inflater::new();
        let (short, _) = run(&mut inf, &packed[..packed.len() / 2], StoredAs::Deflated)
            .ok()
            .unwrap();
        assert!(short.out < data.len() as u64);
        match run(&mut inf, &[0xff; 64], StoredAs::Deflated) {
            Err(InflateError::Read(e)) => assert_eq!(e.kind(), io::ErrorKind::InvalidInput),
            _ => panic!("garbage must not inflate"),
        }
        let (done, got) = run(&mut inf, &packed, StoredAs::Deflated).ok().unwrap();
        assert_eq!((done.out, got), (data.len() as u64, data));
    }

    /// A refusal from the caller stops inflation at that chunk.
    #[test]
    fn a_refused_chunk_stops_inflation() {
        let data = vec![7u8; 500_000];
        let packed = deflate(&data);
        let mut inf = Inflater::new();
        let mut chunks = 0;
        let r = inflate(&packed[..], StoredAs::Deflated, &mut inf, |_, _| {
            chunks += 1;
            Err(ZipRejection::new(RejectCode::TotalTooLarge, "stop"))
        });
        assert!(matches!(r, Err(InflateError::Refused(_))));
        assert_eq!(chunks, 1);
    }
}
