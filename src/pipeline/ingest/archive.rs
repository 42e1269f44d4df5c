//! The zip source: [`inspect_zip`] checks and hashes a stored zip in place (and
//! [`inspect_zip_mirrored`] keeps a plain copy of the files on the way);
//! [`super::read_entries`] reads chosen files back out of it for the parse stage.

use super::inflate::{inflate, InflateError, Inflater};
use super::known::{KeyReader, Known, KnownEntries};
use super::mirror::{Mirror, Sink, NOT_HELD};
use super::names::{common_top_dir, heavy_dir_at, normalize};
use super::posread::PosReader;
use super::{
    ManifestEntry, RejectCode, SkipReason, SkippedEntry, StoredAs, ZipLimits, ZipLocation,
    ZipManifest, ZipRejection, RATIO_EXEMPT_BYTES,
};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;
use zip::result::ZipError;
use zip::{CompressionMethod, ZipArchive};

/// Unix file-type bits and the symlink type, as in `<sys/stat.h>`.
const S_IFMT: u32 = 0o170_000;
const S_IFLNK: u32 = 0o120_000;

/// What pass one learns about an entry from the central directory.
struct Planned {
    index: usize,
    name: String,
    parts: Vec<String>,
    is_dir: bool,
    size: u64,
    compressed: u64,
    crc: u32,
    method: CompressionMethod,
}

/// Checks the zip at `path` against every rule of docs/operations.md#limits-and-safety and returns
/// its manifest.
///
/// Nothing is written anywhere: each file is inflated once through one
/// [`INFLATE_BUFFER_BYTES`](super::INFLATE_BUFFER_BYTES) buffer and hashed as it streams by. Rules on names and metadata
/// run over the whole central directory before anything is inflated, so a bad name costs
/// no inflation at all. See the [module docs](super) for every rule and its code.
pub fn inspect_zip(path: &Path, limits: &ZipLimits) -> Result<ZipManifest, ZipRejection> {
    inspect_zip_with(path, limits, None, &KnownEntries::new()).map(|i| i.manifest)
}

/// What [`inspect_zip_with`] found.
#[derive(Debug)]
pub struct Inspection {
    /// The accepted files.
    pub manifest: ZipManifest,
    /// The plain copy, when one was asked for and could be written.
    pub mirror: Option<Mirror>,
    /// Every accepted entry's key and content, for the next inspection of the repository.
    pub known: KnownEntries,
}

/// [`inspect_zip`], with a [`Mirror`] written to `mirror` when given (see
/// [`inspect_zip_mirrored`]), and without inflating the entries `known` (an earlier
/// inspection's [`Inspection::known`]) recognises by their compressed bytes; see
/// [`super::known`]. The manifest is the same either way. Entries are inflated whenever a
/// mirror is written, since it needs their bytes.
pub fn inspect_zip_with(
    path: &Path,
    limits: &ZipLimits,
    mirror: Option<&Path>,
    known: &KnownEntries,
) -> Result<Inspection, ZipRejection> {
    let sink = mirror.and_then(|m| match Sink::create(m) {
        Ok(sink) => Some(sink),
        Err(e) => {
            tracing::warn!(path = %m.display(), error = %e,
                "cannot create the plain copy of the upload; its files will be read from the zip");
            None
        }
    });
    let known = if sink.is_some() { None } else { Some(known) };
    match (inspect_logged(path, limits, sink.as_ref(), known), sink) {
        (Ok((manifest, at, known, _)), sink) => Ok(Inspection {
            manifest,
            mirror: sink.and_then(|s| s.finish(at)),
            known,
        }),
        (Err(rejection), sink) => {
            if let Some(sink) = sink {
                sink.discard();
            }
            Err(rejection)
        }
    }
}

/// [`inspect_zip`], writing a [`Mirror`] of the files' bytes to `mirror` (a new file) on the
/// way, for a process that reads them again (see [`Mirror`]). The checks and
/// the manifest are the same; the mirror is `None` when it could not be written. A refused zip
/// leaves no file behind.
pub fn inspect_zip_mirrored(
    path: &Path,
    limits: &ZipLimits,
    mirror: &Path,
) -> Result<(ZipManifest, Option<Mirror>), ZipRejection> {
    inspect_zip_with(path, limits, Some(mirror), &KnownEntries::new())
        .map(|i| (i.manifest, i.mirror))
}

fn inspect_logged(
    path: &Path,
    limits: &ZipLimits,
    sink: Option<&Sink>,
    known: Option<&KnownEntries>,
) -> Result<Inspected, ZipRejection> {
    let started = Instant::now();
    let result = inspect(path, limits, sink, known);
    let elapsed_ms = started.elapsed().as_millis() as u64;
    match &result {
        Ok((m, _, _, recognised)) => tracing::info!(
            path = %path.display(),
            files = m.entries.len(),
            recognised,
            total_bytes = m.total_bytes,
            skipped = m.skipped.len(),
            duration_ms = elapsed_ms,
            "zip accepted"
        ),
        Err(r) => tracing::warn!(
            path = %path.display(),
            code = r.code.as_str(),
            entry = r.entry.as_deref().unwrap_or(""),
            inflated_bytes = r.inflated_bytes,
            duration_ms = elapsed_ms,
            "zip rejected: {}",
            r.message
        ),
    }
    result
}

fn open_archive(path: &Path) -> Result<ZipArchive<PosReader>, ZipRejection> {
    let file = File::open(path)
        .and_then(PosReader::new)
        .map_err(|e| ZipRejection::io(path, &e))?;
    ZipArchive::new(file).map_err(|err| match err {
        ZipError::Io(e)
            if !matches!(
                e.kind(),
                std::io::ErrorKind::UnexpectedEof
                    | std::io::ErrorKind::InvalidData
                    | std::io::ErrorKind::InvalidInput
            ) =>
        {
            ZipRejection::io(path, &e)
        }
        other => ZipRejection::new(
            RejectCode::NotAZip,
            format!("not a readable zip archive: {}", zip_error_text(&other)),
        ),
    })
}

/// What went wrong in words for the uploader. The `zip` crate's own messages can name its
/// internal types (`Unexpected end of zip::format::blocks::Zip32CDEBlock`), so they are
/// never shown; the crate's error goes to the log instead.
fn zip_error_text(err: &ZipError) -> String {
    tracing::debug!(error = %err, "zip crate error");
    let truncated = "the file ends before the zip's closing directory record is complete: \
                     the upload is truncated, or it is not a zip file";
    match err {
        ZipError::Io(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => truncated.to_string(),
        ZipError::InvalidArchive(m)
            if m.contains("EOCD") || m.contains("end of") || m.contains("Unexpected end") =>
        {
            truncated.to_string()
        }
        ZipError::InvalidArchive(m) if !m.contains("::") => format!("the zip is damaged ({m})"),
        ZipError::InvalidArchive(_) => "the zip is damaged".to_string(),
        ZipError::UnsupportedArchive(m) if !m.contains("::") => {
            format!("the zip uses a feature that is not supported ({m})")
        }
        ZipError::CompressionMethodNotSupported(n) => {
            format!("compression method {n} is not supported")
        }
        _ => "the file cannot be read as a zip archive".to_string(),
    }
}

/// The manifest, and where each file's bytes went in the mirror (by zip index; empty without
/// one).
/// The manifest, each entry's place in the mirror, what was learned of every entry, and how
/// many entries were known (not inflated).
type Inspected = (ZipManifest, Vec<u64>, KnownEntries, usize);

fn inspect(
    path: &Path,
    limits: &ZipLimits,
    sink: Option<&Sink>,
    known: Option<&KnownEntries>,
) -> Result<Inspected, ZipRejection> {
    let mut archive = open_archive(path)?;
    let count = archive.len() as u64;
    if count > limits.max_entries {
        return Err(ZipRejection::new(
            RejectCode::TooManyEntries,
            format!(
                "the archive has {count} entries, more than the limit of {}",
                limits.max_entries
            ),
        ));
    }
    if archive.has_duplicate_names() {
        return Err(ZipRejection::new(
            RejectCode::DuplicateEntry,
            "the central directory lists the same entry name more than once",
        ));
    }
    let planned = plan(&archive)?;
    match archive.has_overlapping_files() {
        Ok(false) => {}
        Ok(true) => {
            return Err(ZipRejection::new(
                RejectCode::OverlappingEntries,
                "two entries share the same compressed bytes (overlapping-entry zip bomb)",
            ))
        }
        Err(err) => {
            return Err(ZipRejection::new(
                RejectCode::CorruptEntry,
                format!("unreadable local file header: {}", zip_error_text(&err)),
            ))
        }
    }
    let prefix = common_top_dir(planned.iter().map(|p| (p.parts.as_slice(), p.is_dir)));
    // Depth is counted below the wrapper folder, known only once every name is read (a zip
    // name is at most 65,535 bytes, so holding the parts until then is bounded).
    for p in &planned {
        let parts = without_wrapper(&p.parts, prefix.as_deref());
        let folders = folder_depth(parts, p.is_dir);
        if folders > limits.max_depth {
            return Err(too_deep(&p.name, folders, limits));
        }
    }

    let mut skipped = BTreeSet::new();
    let mut files: Vec<(&Planned, String, u64)> = Vec::new();
    for p in &planned {
        let parts = without_wrapper(&p.parts, prefix.as_deref());
        if let Some(k) = heavy_dir_at(parts, p.is_dir) {
            skipped.insert(SkippedEntry {
                path: parts[..=k].join("/"),
                reason: SkipReason::IgnoredDir,
            });
            continue;
        }
        if !p.is_dir {
            files.push((p, parts.join("/"), 0));
        }
    }
    // Each file's place in the mirror: after the sizes its predecessors declare. A file that
    // inflates past its declared size is refused before a byte of it is written there.
    let mut at = Vec::new();
    if sink.is_some() {
        at = vec![NOT_HELD; archive.len()];
        let mut next = 0u64;
        for (p, _, offset) in &mut files {
            *offset = next;
            next = next.saturating_add(p.size);
            if let Some(slot) = at.get_mut(p.index) {
                *slot = *offset;
            }
        }
    }
    let compressed: u64 = files.iter().map(|(p, _, _)| p.compressed).sum();
    let threads = if compressed >= PARALLEL_MIN_COMPRESSED_BYTES {
        std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_INFLATE_THREADS))
    } else {
        1
    };
    let found = inflate_all(&mut archive, &files, limits, threads, sink, known)?;
    // An entry is known exactly when its key is: then it was not inflated.
    let recognised = known.map_or(0, |k| {
        found
            .iter()
            .filter(|(_, key, _)| k.contains_key(key))
            .count()
    });
    let mut learned = KnownEntries::with_capacity(found.len());
    let mut entries = Vec::with_capacity(found.len());
    for (entry, key, k) in found {
        learned.insert(key, k);
        entries.push(entry);
    }
    entries.sort_unstable_by(|a, b| a.path.cmp(&b.path));
    let manifest = ZipManifest {
        total_bytes: entries.iter().map(|e| e.size).sum(),
        entries,
        stripped_prefix: prefix,
        skipped: skipped.into_iter().collect(),
    };
    Ok((manifest, at, learned, recognised))
}

/// Archives with less compressed data than this are inflated on one thread (starting more
/// costs more than it saves). A 3.3 MB zip of a 2.6k-file app took 40 ms on one thread, most
/// of its upload's inspection; the rejection returned is the earliest bad entry's either way.
const PARALLEL_MIN_COMPRESSED_BYTES: u64 = 1 << 20;

/// At most this many threads inflate one archive.
const MAX_INFLATE_THREADS: usize = 4;

/// Inflates and hashes `files` (`(entry, path below the wrapper)`), on `threads` threads when
/// more than one: each takes a contiguous share of about equal compressed size through its own
/// handle of the archive. The total-size limit is shared. A rejection stops every thread before
/// its next entry after the rejected one, while the entries before it are still checked, so
/// the rejection returned is that of the earliest bad entry, as on one thread.
fn inflate_all(
    archive: &mut ZipArchive<PosReader>,
    files: &[(&Planned, String, u64)],
    limits: &ZipLimits,
    threads: usize,
    sink: Option<&Sink>,
    known: Option<&KnownEntries>,
) -> Result<Vec<Found>, ZipRejection> {
    let total = AtomicU64::new(0);
    let stop = AtomicUsize::new(usize::MAX);
    if threads <= 1 || files.len() < 2 * threads {
        return inflate_share(archive, files, limits, &total, &stop, sink, known).map_err(
            |e| match e {
                ShareError::Rejected(_, r) => r,
                // Only another share stops one, and there is none.
                ShareError::Stopped => {
                    ZipRejection::new(RejectCode::CorruptEntry, "inflation stopped")
                }
            },
        );
    }
    let compressed: u64 = files.iter().map(|(p, _, _)| p.compressed.max(1)).sum();
    let per_share = compressed.div_ceil(threads as u64);
    let mut shares: Vec<&[(&Planned, String, u64)]> = Vec::with_capacity(threads);
    let (mut start, mut acc) = (0, 0u64);
    for (i, (p, _, _)) in files.iter().enumerate() {
        acc += p.compressed.max(1);
        if acc >= per_share && shares.len() + 1 < threads {
            shares.push(&files[start..=i]);
            (start, acc) = (i + 1, 0);
        }
    }
    shares.push(&files[start..]);
    let results: Vec<Result<Vec<Found>, ShareError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = shares
            .iter()
            .map(|share| {
                let (total, stop) = (&total, &stop);
                // The same parsed archive, read through a handle of its own.
                let mut own = archive.clone();
                scope
                    .spawn(move || inflate_share(&mut own, share, limits, total, stop, sink, known))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(ShareError::Rejected(
                        0,
                        ZipRejection::new(
                            RejectCode::CorruptEntry,
                            "the archive could not be inflated (an inflating thread failed)",
                        ),
                    ))
                })
            })
            .collect()
    });
    let mut entries = Vec::with_capacity(files.len());
    let mut first_error: Option<(usize, ZipRejection)> = None;
    for result in results {
        match result {
            Ok(share) => entries.extend(share),
            Err(ShareError::Rejected(at, r)) => {
                if first_error.as_ref().is_none_or(|(i, _)| at < *i) {
                    first_error = Some((at, r));
                }
            }
            Err(ShareError::Stopped) => {}
        }
    }
    match first_error {
        Some((_, r)) => Err(r),
        None => Ok(entries),
    }
}

/// An accepted entry, its key and what was learned of it (see [`super::known`]).
type Found = (ManifestEntry, String, Known);

/// Why a share of the files stopped.
enum ShareError {
    /// An entry (by its index in the archive) broke a rule.
    Rejected(usize, ZipRejection),
    /// Another share was rejected first.
    Stopped,
}

/// Inflates one contiguous share of the files. `stop` is the index of the earliest rejected
/// entry so far (`usize::MAX`: none); checked before each entry, it stops work on later ones
/// (the entry in progress is bounded by the size and ratio limits).
fn inflate_share(
    archive: &mut ZipArchive<PosReader>,
    files: &[(&Planned, String, u64)],
    limits: &ZipLimits,
    total: &AtomicU64,
    stop: &AtomicUsize,
    sink: Option<&Sink>,
    known: Option<&KnownEntries>,
) -> Result<Vec<Found>, ShareError> {
    let mut inflater = Inflater::new();
    let mut entries = Vec::with_capacity(files.len());
    for (p, path, at) in files {
        if stop.load(Ordering::Relaxed) < p.index {
            return Err(ShareError::Stopped);
        }
        let mirror = sink.map(|s| (s, *at));
        match inflate_planned(archive, p, limits, &mut inflater, total, mirror, known) {
            Ok((entry, key, k)) => entries.push((
                ManifestEntry {
                    path: path.clone(),
                    ..entry
                },
                key,
                k,
            )),
            Err(r) => {
                stop.fetch_min(p.index, Ordering::Relaxed);
                let inflated = total.load(Ordering::Relaxed);
                return Err(ShareError::Rejected(p.index, r.with_inflated(inflated)));
            }
        }
    }
    Ok(entries)
}

/// The components of an entry below the wrapper folder `prefix`, if it has that wrapper
/// (`__MACOSX/…` is the one kind of entry allowed beside it).
fn without_wrapper<'p>(parts: &'p [String], prefix: Option<&str>) -> &'p [String] {
    match prefix {
        Some(top) if parts.first().map(String::as_str) == Some(top) => &parts[1..],
        _ => parts,
    }
}

/// How many folders an entry is inside (its own name not counted; a directory is as deep as
/// the folders it names): what `ZIP_MAX_DEPTH` limits.
pub(super) fn folder_depth(parts: &[String], is_dir: bool) -> u64 {
    let n = parts.len() as u64;
    if is_dir {
        n
    } else {
        n.saturating_sub(1)
    }
}

/// The `too_deep` rejection of `name`, inside `folders` folders.
pub(super) fn too_deep(name: &str, folders: u64, limits: &ZipLimits) -> ZipRejection {
    ZipRejection::entry(
        RejectCode::TooDeep,
        name,
        format!(
            "{name:?} is inside {folders} folders, more than the limit of {} (ZIP_MAX_DEPTH)",
            limits.max_depth
        ),
    )
}

/// Pass one: names, symlinks, encryption and duplicates, from the central directory.
fn plan(archive: &ZipArchive<PosReader>) -> Result<Vec<Planned>, ZipRejection> {
    let mut planned = Vec::with_capacity(archive.len());
    // Normalised path -> position in `planned`, for files and for explicit directories.
    let mut files: HashMap<String, usize> = HashMap::new();
    let mut dirs: HashSet<String> = HashSet::new();
    for index in 0..archive.len() {
        let e = archive.by_index_data(index).map_err(|err| {
            ZipRejection::new(
                RejectCode::NotAZip,
                format!(
                    "unreadable central directory entry {index}: {}",
                    zip_error_text(&err)
                ),
            )
        })?;
        let name = match e.name() {
            Ok(n) => n.into_owned(),
            Err(_) => {
                let lossy = String::from_utf8_lossy(e.name_raw()).into_owned();
                return Err(ZipRejection::entry(
                    RejectCode::InvalidName,
                    &lossy,
                    format!("entry {lossy:?}: name cannot be decoded"),
                ));
            }
        };
        let parts = normalize(&name)?;
        let is_dir = e.is_dir();
        if e.unix_mode().is_some_and(|m| m & S_IFMT == S_IFLNK) {
            return Err(ZipRejection::entry(
                RejectCode::SymlinkEntry,
                &name,
                format!("entry {name:?} is a symbolic link"),
            ));
        }
        if e.encrypted() {
            return Err(ZipRejection::entry(
                RejectCode::EncryptedEntry,
                &name,
                format!("entry {name:?} is encrypted"),
            ));
        }
        if parts.is_empty() {
            if is_dir {
                continue; // `./` names the root itself
            }
            return Err(ZipRejection::entry(
                RejectCode::InvalidName,
                &name,
                format!("entry {name:?} has no file name"),
            ));
        }
        let joined = parts.join("/");
        let fresh = if is_dir {
            dirs.insert(joined.clone())
        } else {
            files.insert(joined.clone(), planned.len()).is_none()
        };
        if !fresh {
            return Err(ZipRejection::entry(
                RejectCode::DuplicateEntry,
                &name,
                format!("entry {name:?} appears twice (as {joined:?})"),
            ));
        }
        planned.push(Planned {
            index,
            name,
            parts,
            is_dir,
            size: e.size(),
            compressed: e.compressed_size(),
            crc: e.crc32(),
            method: e.compression(),
        });
    }
    // A file named like a folder: an explicit one, or one that another entry's path implies
    // (each folder above it). The earliest such file is the one reported.
    let mut clash: Option<&Planned> = None;
    let mut clashes = |at: usize| {
        let p = &planned[at];
        if clash.is_none_or(|c| p.index < c.index) {
            clash = Some(p);
        }
    };
    for (path, &at) in &files {
        if dirs.contains(path) {
            clashes(at);
        }
    }
    for path in files.keys().chain(dirs.iter()) {
        for (slash, _) in path.match_indices('/') {
            if let Some(&at) = files.get(&path[..slash]) {
                clashes(at);
            }
        }
    }
    if let Some(p) = clash {
        return Err(ZipRejection::entry(
            RejectCode::DuplicateEntry,
            &p.name,
            format!("entry {:?} is both a file and a directory", p.name),
        ));
    }
    Ok(planned)
}

/// Pass two for one file: inflate, count, check, hash. `total` is the running sum of
/// inflated bytes over the archive.
fn inflate_planned(
    archive: &mut ZipArchive<PosReader>,
    p: &Planned,
    limits: &ZipLimits,
    inflater: &mut Inflater,
    total: &AtomicU64,
    mirror: Option<(&Sink, u64)>,
    known: Option<&KnownEntries>,
) -> Result<Found, ZipRejection> {
    let name = p.name.as_str();
    let method = match p.method {
        CompressionMethod::Stored => StoredAs::Stored,
        CompressionMethod::Deflated => StoredAs::Deflated,
        other => {
            return Err(ZipRejection::entry(
                RejectCode::UnsupportedCompression,
                name,
                format!("entry {name:?} uses {other:?}; only stored and deflate are accepted"),
            ))
        }
    };
    let corrupt = |why: String| ZipRejection::entry(RejectCode::CorruptEntry, name, why);
    let location = |data_offset| ZipLocation {
        index: p.index,
        data_offset,
        compressed_size: p.compressed,
        method,
    };
    let ratio_cap = |compressed: u64| limits.max_ratio.saturating_mul(compressed.max(1));
    if let Some(known) = known {
        let (raw, data_offset) = open_raw(archive, p, method)?;
        let key = raw
            .finish()
            .map_err(|e| corrupt(format!("entry {name:?}: {e}")))?;
        if let Some(k) = known.get(&key) {
            // These very bytes inflated to `p.size` bytes from `k.consumed` before: the limits
            // apply to those numbers, as they would after inflating.
            let now = total.fetch_add(p.size, Ordering::Relaxed) + p.size;
            if p.size > RATIO_EXEMPT_BYTES && p.size > ratio_cap(k.consumed) {
                return Err(ratio_error(name, p.size, k.consumed, limits.max_ratio));
            }
            if now > limits.max_uncompressed_bytes {
                return Err(total_too_large(name, limits));
            }
            let entry = ManifestEntry {
                path: String::new(),
                size: p.size,
                hash: k.hash.clone(),
                zip: Some(location(data_offset)),
            };
            return Ok((entry, key, k.clone()));
        }
    }
    let (mut raw, data_offset) = open_raw(archive, p, method)?;
    let done = inflate(&mut raw, method, inflater, |chunk, out| {
        let now = total.fetch_add(chunk.len() as u64, Ordering::Relaxed) + chunk.len() as u64;
        if out > p.size {
            return Err(ZipRejection::entry(
                RejectCode::SizeMismatch,
                name,
                format!(
                    "entry {name:?} inflates past the {} bytes its header declares",
                    p.size
                ),
            ));
        }
        if out > RATIO_EXEMPT_BYTES && out > ratio_cap(p.compressed) {
            return Err(ratio_error(name, out, p.compressed, limits.max_ratio));
        }
        if now > limits.max_uncompressed_bytes {
            return Err(total_too_large(name, limits));
        }
        if let Some((sink, at)) = mirror {
            // `out` is at most the declared size: the chunk stays inside this file's place.
            sink.write(chunk, at + out - chunk.len() as u64);
        }
        Ok(())
    })
    .map_err(|e: InflateError| e.into_rejection(name))?;
    if done.out != p.size {
        return Err(ZipRejection::entry(
            RejectCode::SizeMismatch,
            name,
            format!(
                "entry {name:?} inflates to {} bytes, its header declares {}",
                done.out, p.size
            ),
        ));
    }
    if done.out > RATIO_EXEMPT_BYTES && done.out > ratio_cap(done.consumed) {
        return Err(ratio_error(name, done.out, done.consumed, limits.max_ratio));
    }
    if done.crc != p.crc {
        return Err(ZipRejection::entry(
            RejectCode::CorruptEntry,
            name,
            format!("entry {name:?}: CRC-32 mismatch"),
        ));
    }
    let key = raw
        .finish()
        .map_err(|e| corrupt(format!("entry {name:?}: {e}")))?;
    let k = Known {
        hash: done.hash.clone(),
        consumed: done.consumed,
    };
    let entry = ManifestEntry {
        path: String::new(),
        size: done.out,
        hash: done.hash,
        zip: Some(location(data_offset)),
    };
    Ok((entry, key, k))
}

/// The entry's compressed bytes, read through its key, and where they start.
fn open_raw<'a>(
    archive: &'a mut ZipArchive<PosReader>,
    p: &Planned,
    method: StoredAs,
) -> Result<(KeyReader<impl std::io::Read + 'a>, u64), ZipRejection> {
    let name = p.name.as_str();
    let corrupt = |why: String| ZipRejection::entry(RejectCode::CorruptEntry, name, why);
    let raw = archive
        .by_index_raw(p.index)
        .map_err(|err| corrupt(format!("entry {name:?}: {}", zip_error_text(&err))))?;
    let data_offset = raw
        .data_start()
        .ok_or_else(|| corrupt(format!("entry {name:?}: data offset unknown")))?;
    Ok((KeyReader::new(raw, method, p.size, p.crc), data_offset))
}

fn total_too_large(name: &str, limits: &ZipLimits) -> ZipRejection {
    ZipRejection::entry(
        RejectCode::TotalTooLarge,
        name,
        format!(
            "the archive inflates to more than {} bytes (stopped at entry {name:?})",
            limits.max_uncompressed_bytes
        ),
    )
}

fn ratio_error(name: &str, out: u64, compressed: u64, max: u64) -> ZipRejection {
    ZipRejection::entry(
        RejectCode::RatioExceeded,
        name,
        format!(
            "entry {name:?} inflated to {out} bytes from {compressed} compressed bytes, \
             a ratio above the limit of {max}"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;
    use std::path::PathBuf;

    /// A zip of `n` files (stored, so a test can find and break their bytes), each with its own
    /// content; returns its path.
    fn stored_zip(dir: &Path, n: usize) -> PathBuf {
        let path = dir.join("many.zip");
        let mut w = zip::ZipWriter::new(File::create(&path).expect("create"));
        let opts =
            zip::write::SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
        for i in 0..n {
            w.start_file(format!("repo/src/f{i:04}.ts"), opts)
                .expect("start");
            let body = format!("export const v{i} = {i};\n").repeat(20 + i % 7);
            w.write_all(body.as_bytes()).expect("write");
        }
        w.finish().expect("finish");
        path
    }

    fn run(path: &Path, threads: usize) -> Result<Vec<ManifestEntry>, ZipRejection> {
        let mut archive = open_archive(path).expect("open");
        let planned = plan(&archive).expect("plan");
        let files: Vec<(&Planned, String, u64)> = planned
            .iter()
            .filter(|p| !p.is_dir)
            .map(|p| (p, p.name.clone(), 0))
            .collect();
        let found = inflate_all(
            &mut archive,
            &files,
            &ZipLimits::default(),
            threads,
            None,
            None,
        )?;
        let mut out: Vec<ManifestEntry> = found.into_iter().map(|(e, _, _)| e).collect();
        out.sort_unstable_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    #[test]
    fn threads_inflate_to_the_same_manifest_as_one() {
        let dir = tempfile::tempdir().expect("tmp");
        let z = stored_zip(dir.path(), 300);
        let one = run(&z, 1).expect("one thread");
        assert_eq!(one.len(), 300);
        for threads in [2, 3, 4] {
            assert_eq!(run(&z, threads).expect("threads"), one, "{threads} threads");
        }
    }

    #[test]
    fn threads_report_the_earliest_broken_entry() {
        let dir = tempfile::tempdir().expect("tmp");
        let z = stored_zip(dir.path(), 300);
        let mut bytes = std::fs::read(&z).expect("read");
        // Break the bytes of two entries, one in each half: the CRC check names the first.
        for name in ["repo/src/f0040.ts", "repo/src/f0250.ts"] {
            let header = bytes
                .windows(name.len())
                .position(|w| w == name.as_bytes())
                .expect("local header");
            bytes[header + name.len() + 3] ^= 0x55;
        }
        std::fs::write(&z, &bytes).expect("write");
        for threads in [1, 2, 4] {
            let r = run(&z, threads).expect_err("broken entries");
            assert_eq!(r.code, RejectCode::CorruptEntry, "{threads}: {}", r.message);
            assert_eq!(
                r.entry.as_deref(),
                Some("repo/src/f0040.ts"),
                "{threads} threads"
            );
        }
    }
}
