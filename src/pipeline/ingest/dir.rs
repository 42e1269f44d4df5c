//! The directory source of `provis analyze <dir>`: the same manifest as a zip of the same
//! tree, read in place without zipping.
//!
//! The walk never follows a symbolic link (links are listed in [`ZipManifest::skipped`] as
//! `symlink`, FIFOs, sockets and devices as `special_file`), does not enter [`HEAVY_DIRS`]
//! (listed as `ignored_dir`), and opens files with `O_NOFOLLOW`. Names go through the same
//! rules as zip entry names, with the same codes — a tree that could not be uploaded as a zip
//! cannot be analysed as a directory either; a `\` inside a file name is `invalid_name` (it
//! would be a separator in a zip). The resource limits apply as for a zip: every directory
//! and file seen counts as an entry, depth is counted the same way, and the bytes read add up
//! towards `max_uncompressed_bytes`; the ratio rule has no meaning here. No wrapper directory
//! is stripped: the directory given is the root.

use super::inflate::{inflate, Inflater, Spare};
use super::names::normalize;
use super::{
    ManifestEntry, RejectCode, SkipReason, SkippedEntry, StoredAs, ZipLimits, ZipManifest,
    ZipRejection, HEAVY_DIRS,
};
use std::fs::{self, File, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Walks the directory `root` and returns the manifest a zip of the same tree would give (the
/// same paths, sizes and hashes, so the same [`super::commit_hash`]). `root` itself may be a
/// symlink to a directory; nothing below it is followed. Entries carry no zip location.
pub fn inspect_dir(root: &Path, limits: &ZipLimits) -> Result<ZipManifest, ZipRejection> {
    let started = Instant::now();
    let result = walk(root, limits);
    let elapsed_ms = started.elapsed().as_millis() as u64;
    match &result {
        Ok(m) => tracing::info!(
            path = %root.display(),
            files = m.entries.len(),
            total_bytes = m.total_bytes,
            skipped = m.skipped.len(),
            duration_ms = elapsed_ms,
            "directory accepted"
        ),
        Err(r) => tracing::warn!(
            path = %root.display(),
            code = r.code.as_str(),
            entry = r.entry.as_deref().unwrap_or(""),
            duration_ms = elapsed_ms,
            "directory rejected: {}",
            r.message
        ),
    }
    result
}

fn walk(root: &Path, limits: &ZipLimits) -> Result<ZipManifest, ZipRejection> {
    let meta = fs::metadata(root).map_err(|e| ZipRejection::io(root, &e))?;
    if !meta.is_dir() {
        return Err(ZipRejection::new(
            RejectCode::IoError,
            format!("{} is not a directory", root.display()),
        ));
    }
    let mut inflater = Inflater::new();
    let mut entries = Vec::new();
    let mut skipped = Vec::new();
    let mut seen: u64 = 0;
    let mut total: u64 = 0;
    // (absolute directory, its relative path or "" for the root)
    let mut stack: Vec<(PathBuf, String)> = vec![(root.to_owned(), String::new())];
    while let Some((dir, rel_dir)) = stack.pop() {
        let mut children: Vec<fs::DirEntry> = fs::read_dir(&dir)
            .and_then(|rd| rd.collect::<Result<_, _>>())
            .map_err(|e| ZipRejection::io(&dir, &e).with_inflated(total))?;
        children.sort_by_key(|c| c.file_name());
        for child in children {
            seen += 1;
            if seen > limits.max_entries {
                return Err(ZipRejection::new(
                    RejectCode::TooManyEntries,
                    format!("the directory has more than {} entries", limits.max_entries),
                )
                .with_inflated(total));
            }
            let os_name = child.file_name();
            let rel = join_rel(&rel_dir, &os_name.to_string_lossy());
            let Some(name) = os_name.to_str() else {
                return Err(invalid(&rel, "name is not valid UTF-8").with_inflated(total));
            };
            if name.contains('\\') {
                return Err(
                    invalid(&rel, "`\\` in a file name (a separator in zips)").with_inflated(total)
                );
            }
            let parts = normalize(&rel).map_err(|r| r.with_inflated(total))?;
            let file_type = child
                .file_type()
                .map_err(|e| ZipRejection::io(&child.path(), &e).with_inflated(total))?;
            let folders = super::archive::folder_depth(&parts, file_type.is_dir());
            if folders > limits.max_depth {
                return Err(super::archive::too_deep(&rel, folders, limits).with_inflated(total));
            }
            if file_type.is_symlink() {
                skipped.push(skip(rel, SkipReason::Symlink));
            } else if file_type.is_dir() {
                if HEAVY_DIRS.contains(&name) {
                    skipped.push(skip(rel, SkipReason::IgnoredDir));
                } else {
                    stack.push((child.path(), rel));
                }
            } else if file_type.is_file() {
                let entry = hash_file(&child.path(), &rel, limits, &mut inflater, &mut total)
                    .map_err(|r| r.with_inflated(total))?;
                entries.push(entry);
            } else {
                skipped.push(skip(rel, SkipReason::SpecialFile));
            }
        }
    }
    entries.sort_unstable_by(|a, b| a.path.cmp(&b.path));
    skipped.sort();
    Ok(ZipManifest {
        total_bytes: entries.iter().map(|e| e.size).sum(),
        entries,
        stripped_prefix: None,
        skipped,
    })
}

fn join_rel(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

fn skip(path: String, reason: SkipReason) -> SkippedEntry {
    SkippedEntry { path, reason }
}

fn invalid(rel: &str, why: &str) -> ZipRejection {
    ZipRejection::entry(RejectCode::InvalidName, rel, format!("{rel:?}: {why}"))
}

/// Opens a file without following a final symlink (a file swapped for a link after the walk
/// saw it fails to open instead of being read through the link).
fn open_no_follow(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW);
    }
    options.open(path)
}

fn hash_file(
    path: &Path,
    rel: &str,
    limits: &ZipLimits,
    inflater: &mut Inflater,
    total: &mut u64,
) -> Result<ManifestEntry, ZipRejection> {
    let file = open_no_follow(path).map_err(|e| ZipRejection::io(path, &e))?;
    let done = inflate(file, StoredAs::Stored, inflater, |chunk, _| {
        *total += chunk.len() as u64;
        if *total > limits.max_uncompressed_bytes {
            return Err(ZipRejection::entry(
                RejectCode::TotalTooLarge,
                rel,
                format!(
                    "the directory holds more than {} bytes (stopped at {rel:?})",
                    limits.max_uncompressed_bytes
                ),
            ));
        }
        Ok(())
    })
    .map_err(|e| e.into_rejection(rel))?;
    Ok(ManifestEntry {
        path: rel.to_owned(),
        size: done.out,
        hash: done.hash,
        zip: None,
    })
}

/// Reads chosen files of a directory manifest from `root`, in the order given.
///
/// Each path must be a normalised manifest path (else `invalid_name`, so a forged list cannot
/// reach outside `root`); no component may be a symlink; and the file must still have the
/// manifest's size and blake3 hash (else `entry_changed`; reading stops once it grows past
/// the manifest size).
pub fn read_dir_entries<'a>(root: &Path, wanted: &'a [ManifestEntry]) -> DirEntryReader<'a> {
    DirEntryReader {
        root: root.to_owned(),
        wanted: wanted.iter(),
        inflater: Spare::take(),
    }
}

/// Iterator of [`read_dir_entries`]: `(path, bytes)` per wanted entry, or why it failed.
pub struct DirEntryReader<'a> {
    root: PathBuf,
    wanted: std::slice::Iter<'a, ManifestEntry>,
    inflater: Spare,
}

impl DirEntryReader<'_> {
    fn read_one(&mut self, entry: &ManifestEntry) -> Result<(String, Vec<u8>), ZipRejection> {
        let name = entry.path.as_str();
        let parts = normalize(name)?;
        if parts.is_empty() || parts.join("/") != name {
            return Err(invalid(name, "not a normalised manifest path"));
        }
        let changed = |why: String| ZipRejection::entry(RejectCode::EntryChanged, name, why);
        let mut path = self.root.clone();
        for part in &parts {
            path.push(part);
            let meta = fs::symlink_metadata(&path).map_err(|e| ZipRejection::io(&path, &e))?;
            if meta.file_type().is_symlink() {
                return Err(changed(format!(
                    "{name:?}: {part:?} is now a symbolic link"
                )));
            }
        }
        let file = open_no_follow(&path).map_err(|e| ZipRejection::io(&path, &e))?;
        let mut bytes = Vec::with_capacity(entry.size.min(16 << 20) as usize);
        let done = inflate(
            file.take(entry.size.saturating_add(1)),
            StoredAs::Stored,
            self.inflater.get(),
            |chunk, out| {
                if out > entry.size {
                    return Err(changed(format!(
                        "{name:?} has grown past its {} bytes",
                        entry.size
                    )));
                }
                bytes.extend_from_slice(chunk);
                Ok(())
            },
        )
        .map_err(|e| e.into_rejection(name))?;
        if done.out != entry.size || done.hash != entry.hash {
            return Err(changed(format!(
                "{name:?} no longer matches the manifest (size or hash differs)"
            )));
        }
        Ok((entry.path.clone(), bytes))
    }
}

impl Iterator for DirEntryReader<'_> {
    type Item = Result<(String, Vec<u8>), ZipRejection>;

    fn next(&mut self) -> Option<Self::Item> {
        let entry = self.wanted.next()?;
        Some(self.read_one(entry))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.wanted.size_hint()
    }
}
