//! A buffered reader of the stored zip by position, which every inflating thread clones.
//!
//! The `zip` crate reads an entry by seeking to its local header, reading 30 bytes, seeking to
//! its data and reading that. Through `BufReader<File>` each seek was an `lseek` and dropped
//! the buffer, so each entry cost two system calls and two 8 KiB buffer fills on top of its
//! data, and every thread parsed the central directory again through its own handle. This
//! reader seeks without a system call, keeps its buffer across seeks (the data of an entry
//! usually starts inside the buffer its header filled) and reads with `pread`, so clones of one
//! archive — sharing its parsed central directory and the data offsets already found — read on
//! several threads at once from one open file.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::sync::Arc;

/// Bytes read ahead at once: a local header with its name, and all of a small entry's data.
const BUFFER: usize = 8 * 1024;

/// A `Read + Seek` view of a shared file, with its own position and buffer.
#[derive(Debug)]
pub struct PosReader {
    file: Arc<File>,
    len: u64,
    pos: u64,
    buf: Vec<u8>,
    /// File offset of `buf[0]`.
    buf_at: u64,
}

impl PosReader {
    /// Reads `file` from its start.
    pub fn new(file: File) -> io::Result<Self> {
        let len = file.metadata()?.len();
        Ok(PosReader {
            file: Arc::new(file),
            len,
            pos: 0,
            buf: Vec::new(),
            buf_at: 0,
        })
    }

    /// The buffered bytes from the current position on (empty when it is outside the buffer).
    fn buffered(&self) -> &[u8] {
        match self.pos.checked_sub(self.buf_at) {
            Some(off) if off < self.buf.len() as u64 => &self.buf[off as usize..],
            _ => &[],
        }
    }

    /// Fills the buffer from the current position.
    fn fill(&mut self) -> io::Result<()> {
        self.buf.resize(BUFFER, 0);
        let n = read_full_at(&self.file, &mut self.buf, self.pos)?;
        self.buf.truncate(n);
        self.buf_at = self.pos;
        Ok(())
    }
}

/// Reads at `at` until `out` is full or the file ends; the bytes read.
fn read_full_at(file: &File, out: &mut [u8], at: u64) -> io::Result<usize> {
    let mut done = 0;
    while done < out.len() {
        match file.read_at(&mut out[done..], at + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

impl Clone for PosReader {
    /// Another reader of the same open file, at the same position, with a buffer of its own.
    fn clone(&self) -> Self {
        PosReader {
            file: Arc::clone(&self.file),
            len: self.len,
            pos: self.pos,
            buf: Vec::new(),
            buf_at: 0,
        }
    }
}

impl Read for PosReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() || self.pos >= self.len {
            return Ok(0);
        }
        if self.buffered().is_empty() {
            if out.len() >= BUFFER {
                // A large read goes straight to the caller.
                let n = read_full_at(&self.file, out, self.pos)?;
                self.pos += n as u64;
                return Ok(n);
            }
            self.fill()?;
        }
        let have = self.buffered();
        let n = have.len().min(out.len());
        out[..n].copy_from_slice(&have[..n]);
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for PosReader {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let target = match to {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.len.checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = target.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "seek before the start of the file",
            )
        })?;
        Ok(self.pos)
    }

    fn stream_position(&mut self) -> io::Result<u64> {
        Ok(self.pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    /// Reads and seeks give the file's bytes, whatever the mix of sizes, positions and clones.
    #[test]
    fn reads_what_the_file_holds_at_every_position() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("f");
        let data: Vec<u8> = (0..50_000u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::File::create(&path)
            .and_then(|mut f| f.write_all(&data))
            .expect("write");
        let mut r = PosReader::new(File::open(&path).expect("open")).expect("reader");
        let mut got = Vec::new();
        r.read_to_end(&mut got).expect("read all");
        assert_eq!(got, data);
        for (at, len) in [
            (0u64, 30usize),
            (8190, 10),
            (100, 20_000),
            (49_990, 100),
            (3, 1),
        ] {
            let mut c = r.clone();
            c.seek(SeekFrom::Start(at)).expect("seek");
            let mut buf = vec![0u8; len];
            let n = c.read(&mut buf).expect("read");
            let end = (at as usize + len).min(data.len());
            assert!(n > 0 && n <= end - at as usize, "at {at}: {n}");
            assert_eq!(&buf[..n], &data[at as usize..at as usize + n], "at {at}");
            // Back inside what was just buffered, then past the end.
            c.seek(SeekFrom::Current(-(n as i64))).expect("back");
            let mut again = vec![0u8; n];
            c.read_exact(&mut again).expect("again");
            assert_eq!(again, &buf[..n]);
        }
        assert_eq!(r.seek(SeekFrom::End(-5)).expect("end"), 49_995);
        let mut tail = Vec::new();
        r.read_to_end(&mut tail).expect("tail");
        assert_eq!(tail, &data[49_995..]);
        assert!(r.seek(SeekFrom::Current(-60_000)).is_err());
    }
}
