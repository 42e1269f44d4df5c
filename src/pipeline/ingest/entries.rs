//! Reading chosen files back out of a stored zip, by the locations its inspection recorded.

use super::inflate::{inflate, Spare};
use super::{ManifestEntry, RejectCode, ZipRejection};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Reads chosen files straight from a stored zip, in the order given, without parsing its
/// central directory: each entry's [`ZipLocation`] from the manifest says where its bytes are.
///
/// The manifest is trusted, the zip is not: a zip changed since inspection can make an item
/// fail with `entry_changed` (size or blake3 differs, or more bytes than the manifest's size
/// would come out — inflation stops there), never make this inflate more than the manifest
/// allows. An entry without a zip location (a directory manifest) is `entry_changed` too.
pub fn read_entries<'a>(
    zip_path: &Path,
    wanted: &'a [ManifestEntry],
) -> Result<ZipEntryReader<'a>, ZipRejection> {
    let file = File::open(zip_path).map_err(|e| ZipRejection::io(zip_path, &e))?;
    Ok(ZipEntryReader {
        file,
        path: zip_path.to_owned(),
        wanted: wanted.iter(),
        inflater: Spare::take(),
    })
}

/// Iterator of [`read_entries`]: `(path, bytes)` per wanted entry, or why it failed. Items
/// fail independently; the caller decides whether one failure ends the batch.
pub struct ZipEntryReader<'a> {
    file: File,
    path: PathBuf,
    wanted: std::slice::Iter<'a, ManifestEntry>,
    inflater: Spare,
}

impl ZipEntryReader<'_> {
    fn read_one(&mut self, entry: &ManifestEntry) -> Result<(String, Vec<u8>), ZipRejection> {
        let name = entry.path.as_str();
        let changed = |why: String| ZipRejection::entry(RejectCode::EntryChanged, name, why);
        let loc = entry
            .zip
            .as_ref()
            .ok_or_else(|| changed(format!("entry {name:?} has no location in a zip")))?;
        self.file
            .seek(SeekFrom::Start(loc.data_offset))
            .map_err(|e| ZipRejection::io(&self.path, &e))?;
        let raw = (&mut self.file).take(loc.compressed_size);
        // The manifest size bounds the allocation; a first reservation stays modest anyway.
        let mut bytes = Vec::with_capacity(entry.size.min(16 << 20) as usize);
        let done = inflate(raw, loc.method, self.inflater.get(), |chunk, out| {
            if out > entry.size {
                return Err(changed(format!(
                    "entry {name:?} now inflates past its {} bytes",
                    entry.size
                )));
            }
            bytes.extend_from_slice(chunk);
            Ok(())
        })
        .map_err(|e| match e.into_rejection(name) {
            r if r.code == RejectCode::CorruptEntry => changed(r.message),
            r => r,
        })?;
        if done.out != entry.size || done.hash != entry.hash {
            return Err(changed(format!(
                "entry {name:?} no longer matches the manifest (size or hash differs)"
            )));
        }
        Ok((entry.path.clone(), bytes))
    }
}

impl Iterator for ZipEntryReader<'_> {
    type Item = Result<(String, Vec<u8>), ZipRejection>;

    fn next(&mut self) -> Option<Self::Item> {
        let entry = self.wanted.next()?;
        Some(self.read_one(entry))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.wanted.size_hint()
    }
}
