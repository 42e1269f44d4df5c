//! Ingest: checks an uploaded zip (or a local directory) against the safety rules of
//! docs/operations.md#limits-and-safety, and turns it into a [`ZipManifest`]: the accepted files
//! with their sizes and blake3 hashes, from which the content-addressed `commitHash` is computed.
//!
//! Unlike the rest of [`crate::pipeline`], this module reads files — but only the paths its
//! caller passes in. It never writes anything: a zip is inspected in place (every entry is
//! inflated through a fixed 64 KiB buffer and hashed on the fly, nothing is extracted), and
//! later stages read the entries they need straight from the stored zip with
//! [`read_entries`], so nothing a task needs lives on one worker's disk.
//!
//! # Rules and their codes
//! Every rejection carries one [`RejectCode`]; its snake_case string is the wire code that
//! `/status` and the `error` event show. Cheap rules on the central directory run first
//! (entry count, names, depth, symlinks, encryption, duplicates), then every kept file is
//! inflated once, counting the bytes actually produced:
//! - `total_too_large`: the sum of bytes inflated so far crosses `max_uncompressed_bytes`;
//!   inflation stops at that chunk — header sizes are never trusted.
//! - `ratio_exceeded`: one entry's inflated bytes exceed `max_ratio` × its compressed bytes.
//!   Checked after every chunk against the declared compressed size (an upper bound on what
//!   the entry may consume, so the check is early and never a false positive), and once more
//!   at the end against the compressed bytes the inflater actually consumed (so a header that
//!   overstates the compressed size gains nothing). Entries that inflate to at most
//!   [`RATIO_EXEMPT_BYTES`] are exempt: a 4 KiB run of spaces legitimately compresses 200:1.
//! - `size_mismatch`: an entry inflates to more (checked per chunk) or fewer bytes than its
//!   central directory header declares. `corrupt_entry`: broken deflate stream or CRC.
//!
//! # Names
//! `\` is treated as a path separator (Windows tools write it), `.` and empty components
//! (`a//b`, `./a`) are dropped, and then: any `..` component → `path_traversal` (even
//! `a/../b`); a leading `/` or `\` → `absolute_path`; `C:` at the start → `drive_letter`;
//! any component whose part before the first `.` (trailing spaces trimmed) is a Windows device
//! name, in any case (`CON`, `con.txt`, `Aux.tar.gz`, `COM1`–`COM9`, `LPT1`–`LPT9`, also with
//! `0`, `¹`, `²`, `³`, `CONIN$`, `CONOUT$`) → `reserved_name`; a control character (NUL
//! included) or an empty name → `invalid_name`.
//!
//! Duplicates are case-sensitive: `README.md` and `readme.md` may both exist (git allows it,
//! and the Linux kernel has such pairs); since nothing is ever extracted onto a
//! case-insensitive file system, they cannot collide. The same normalised name twice, or a
//! name that is both a file and a directory (`a` and `a/b`), is `duplicate_entry`.
//!
//! # Paths in the manifest
//! Relative, `/`-separated, sorted. When every entry sits under one top directory (GitHub's
//! `repo-main/` wrapper), that directory is stripped; `__MACOSX/` entries do not count against
//! this. Depth is measured on the name as stored (wrapper included), in components, the file
//! name counted. Entries under the [`HEAVY_DIRS`] (`node_modules`, `.git`, …) are checked
//! like every other entry but not inflated nor listed: discovery would drop them anyway
//! (it applies the full rules of docs/pipeline.md#discovery later), and skipping them keeps ingest
//! fast. They are reported once per directory in [`ZipManifest::skipped`].

mod archive;
mod dir;
mod entries;
mod hash;
mod inflate;
mod known;
mod mirror;
mod names;
mod posread;

use serde::{Deserialize, Serialize};
use std::path::Path;

pub use archive::{inspect_zip, inspect_zip_mirrored, inspect_zip_with, Inspection};
pub use dir::{inspect_dir, read_dir_entries, DirEntryReader};
pub use entries::{read_entries, ZipEntryReader};
pub use hash::{commit_hash, settings_hash};
pub use known::{Known, KnownEntries};
pub use mirror::Mirror;

/// Entries that inflate to at most this many bytes are exempt from the ratio rule: tiny
/// highly repetitive files (a blank template, a file of dashes) compress beyond any sensible
/// ratio, and cannot hurt anyone at this size.
pub const RATIO_EXEMPT_BYTES: u64 = 4096;

/// Size of the one buffer each inspection or read inflates through; also the most any limit
/// can be overshot by before the check fires.
pub const INFLATE_BUFFER_BYTES: usize = 64 * 1024;

/// Directories never inflated nor listed (by name, at any depth). A small, unambiguous subset
/// of the ignore list of docs/pipeline.md#discovery — vendored packages, VCS metadata, caches,
/// macOS resource forks — which `pipeline::discover` drops anyway with its full rules. Changing
/// this list changes commit hashes of trees that contain these directories (a one-time cache miss).
pub const HEAVY_DIRS: &[&str] = &[
    ".git",
    ".hg",
    ".svn",
    "node_modules",
    "__pycache__",
    ".venv",
    "venv",
    ".tox",
    ".mypy_cache",
    ".pytest_cache",
    ".next",
    ".nuxt",
    ".turbo",
    ".cache",
    "__MACOSX",
];

/// The zip limits of docs/operations.md#limits-and-safety (the `ZIP_MAX_*` settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZipLimits {
    /// Most entries the central directory may list (files and directories).
    pub max_entries: u64,
    /// Most folders a file may be inside, below the wrapper folder of a GitHub-style archive
    /// (`a/b/c.txt` is inside 2; its own name is not counted).
    pub max_depth: u64,
    /// Most bytes all inflated files may add up to.
    pub max_uncompressed_bytes: u64,
    /// Highest inflated/compressed ratio of one entry (see [`RATIO_EXEMPT_BYTES`]).
    pub max_ratio: u64,
}

impl Default for ZipLimits {
    /// Defaults (docs/operations.md#limits-and-safety): 60000 entries, depth 20, 1 GiB, ratio 200.
    fn default() -> Self {
        ZipLimits {
            max_entries: 60_000,
            max_depth: 20,
            max_uncompressed_bytes: 1 << 30,
            max_ratio: 200,
        }
    }
}

/// Why an archive (or directory) was refused. Each variant is one stable wire code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectCode {
    /// Bad signature or unreadable central directory (also empty and truncated files).
    NotAZip,
    /// More entries than `max_entries`.
    TooManyEntries,
    /// An entry inside more folders than `max_depth`.
    TooDeep,
    /// More inflated bytes in total than `max_uncompressed_bytes`.
    TotalTooLarge,
    /// One entry inflates beyond `max_ratio` × its compressed size.
    RatioExceeded,
    /// A `..` component.
    PathTraversal,
    /// A name starting with `/` or `\`.
    AbsolutePath,
    /// A name starting with a drive letter (`C:`).
    DriveLetter,
    /// A Windows reserved device name in some component.
    ReservedName,
    /// An entry whose Unix mode says symbolic link.
    SymlinkEntry,
    /// The same normalised name twice, or a name that is both a file and a directory.
    DuplicateEntry,
    /// An entry with the encryption flag set.
    EncryptedEntry,
    /// An empty name or one with control characters.
    InvalidName,
    /// An entry inflates to another size than its header declares.
    SizeMismatch,
    /// A broken deflate stream, CRC mismatch or unreadable local header.
    CorruptEntry,
    /// A compression method other than stored or deflate.
    UnsupportedCompression,
    /// Two entries claim the same bytes of the archive (overlapping-entry zip bomb).
    OverlappingEntries,
    /// [`read_entries`]: an entry no longer matches the manifest (the zip changed).
    EntryChanged,
    /// The file or directory could not be read; the only transient code.
    IoError,
}

impl RejectCode {
    /// The stable snake_case wire code (`"ratio_exceeded"`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            RejectCode::NotAZip => "not_a_zip",
            RejectCode::TooManyEntries => "too_many_entries",
            RejectCode::TooDeep => "too_deep",
            RejectCode::TotalTooLarge => "total_too_large",
            RejectCode::RatioExceeded => "ratio_exceeded",
            RejectCode::PathTraversal => "path_traversal",
            RejectCode::AbsolutePath => "absolute_path",
            RejectCode::DriveLetter => "drive_letter",
            RejectCode::ReservedName => "reserved_name",
            RejectCode::SymlinkEntry => "symlink_entry",
            RejectCode::DuplicateEntry => "duplicate_entry",
            RejectCode::EncryptedEntry => "encrypted_entry",
            RejectCode::InvalidName => "invalid_name",
            RejectCode::SizeMismatch => "size_mismatch",
            RejectCode::CorruptEntry => "corrupt_entry",
            RejectCode::UnsupportedCompression => "unsupported_compression",
            RejectCode::OverlappingEntries => "overlapping_entries",
            RejectCode::EntryChanged => "entry_changed",
            RejectCode::IoError => "io_error",
        }
    }

    /// Whether retrying could help: only `io_error`. Every other code is a property of the
    /// bytes, so the ingest task should fail the job at once instead of spending retries.
    pub const fn is_transient(self) -> bool {
        matches!(self, RejectCode::IoError)
    }
}

impl std::fmt::Display for RejectCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of this module: a refused archive, directory or read, with the rule that refused
/// it and the entry that broke it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ZipRejection {
    /// Which rule refused it.
    pub code: RejectCode,
    /// A sentence for a person, naming the entry when there is one.
    pub message: String,
    /// The offending entry's name as stored (not normalised), when one entry is to blame.
    pub entry: Option<String>,
    /// Bytes inflated (or read, for a directory) by this call before it stopped: shows that a
    /// bomb was stopped early, not inflated to the end.
    pub inflated_bytes: u64,
}

impl ZipRejection {
    pub(crate) fn new(code: RejectCode, message: impl Into<String>) -> Self {
        ZipRejection {
            code,
            message: message.into(),
            entry: None,
            inflated_bytes: 0,
        }
    }

    pub(crate) fn entry(code: RejectCode, entry: &str, message: impl Into<String>) -> Self {
        ZipRejection {
            code,
            message: message.into(),
            entry: Some(entry.to_owned()),
            inflated_bytes: 0,
        }
    }

    pub(crate) fn io(what: &Path, err: &std::io::Error) -> Self {
        ZipRejection::new(
            RejectCode::IoError,
            format!("cannot read {}: {err}", what.display()),
        )
    }

    pub(crate) fn with_inflated(mut self, inflated: u64) -> Self {
        self.inflated_bytes = inflated;
        self
    }
}

/// How an entry's bytes are stored in the zip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoredAs {
    /// Method 0: the bytes as they are.
    Stored,
    /// Method 8: raw deflate.
    Deflated,
}

/// Where a file's bytes sit in the zip, so [`read_entries`] can seek straight to them without
/// parsing the central directory again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ZipLocation {
    /// Position in the central directory.
    pub index: usize,
    /// Offset of the first compressed byte in the zip file.
    pub data_offset: u64,
    /// Compressed bytes the entry occupies.
    pub compressed_size: u64,
    /// Compression method.
    pub method: StoredAs,
}

/// One accepted file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestEntry {
    /// Relative, `/`-separated, normalised path, wrapper directory stripped.
    pub path: String,
    /// Bytes the file inflated to (measured, equal to the header's claim).
    pub size: u64,
    /// blake3 of the content, lower-case hex (the FileRecord `hash` of docs/artifacts.md#files).
    pub hash: String,
    /// Where to read it from in the zip; `None` for a directory source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zip: Option<ZipLocation>,
}

/// Why something present in the source is not in the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// A directory of [`HEAVY_DIRS`]; reported once, its content not walked or inflated.
    IgnoredDir,
    /// A symbolic link in a directory source (never followed).
    Symlink,
    /// A FIFO, socket or device in a directory source (reading could block).
    SpecialFile,
}

/// Something left out of the manifest, for the job's warnings.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkippedEntry {
    /// Path as it would appear in the manifest.
    pub path: String,
    /// Why it was left out.
    pub reason: SkipReason,
}

/// What an accepted zip or directory contains.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ZipManifest {
    /// The accepted files (directories dropped), sorted by path.
    pub entries: Vec<ManifestEntry>,
    /// Sum of the entries' sizes.
    pub total_bytes: u64,
    /// The wrapper directory that was stripped (`repo-main`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stripped_prefix: Option<String>,
    /// What was left out and why, sorted.
    #[serde(default)]
    pub skipped: Vec<SkippedEntry>,
}

impl ZipManifest {
    /// [`commit_hash`] of this manifest's entries.
    pub fn commit_hash(&self) -> String {
        commit_hash(&self.entries)
    }
}

/// Inspects `path` as a directory when it is one (following a symlink at the root only),
/// else as a zip: the one call `provis analyze <repo.zip|dir>` needs.
pub fn inspect_source(path: &Path, limits: &ZipLimits) -> Result<ZipManifest, ZipRejection> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => inspect_dir(path, limits),
        Ok(_) => inspect_zip(path, limits),
        Err(err) => Err(ZipRejection::io(path, &err)),
    }
}

/// A repo name from an upload's file name (docs/architecture.md#state): the last path component
/// (`/` or `\`), without a `.zip` suffix (any case), with every character outside `[A-Za-z0-9._-]`
/// turned into `-`, runs of `-` collapsed, leading/trailing `-` and `.` trimmed, at most 100
/// characters. Falls back to `"repo"` when nothing is left.
pub fn repo_name_from_filename(name: &str) -> String {
    const MAX: usize = 100;
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    // `get`, not indexing: the last four bytes may cut a multi-byte character.
    let stem = match base
        .len()
        .checked_sub(4)
        .and_then(|i| Some((i, base.get(i..)?)))
    {
        Some((i, ext)) if ext.eq_ignore_ascii_case(".zip") => &base[..i],
        _ => base,
    };
    let mut out = String::with_capacity(stem.len().min(MAX));
    for c in stem.chars() {
        let c = if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
            c
        } else {
            '-'
        };
        if c == '-' && out.ends_with('-') {
            continue;
        }
        out.push(c);
    }
    let trimmed: String = out
        .trim_matches(['-', '.'])
        .chars()
        .take(MAX)
        .collect::<String>()
        .trim_end_matches(['-', '.'])
        .to_owned();
    if trimmed.is_empty() {
        "repo".to_owned()
    } else {
        trimmed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_names_are_sanitised() {
        assert_eq!(repo_name_from_filename("my-repo.zip"), "my-repo");
        assert_eq!(repo_name_from_filename("C:\\Users\\me\\Proj.ZIP"), "Proj");
        assert_eq!(repo_name_from_filename("/tmp/a b  c.zip"), "a-b-c");
        assert_eq!(repo_name_from_filename("../../etc/passwd"), "passwd");
        assert_eq!(repo_name_from_filename(".zip"), "repo");
        assert_eq!(repo_name_from_filename("..."), "repo");
        assert_eq!(repo_name_from_filename(""), "repo");
        assert_eq!(repo_name_from_filename("café.zip"), "caf");
        assert_eq!(repo_name_from_filename("repo.tar.gz"), "repo.tar.gz");
        // Found by schemathesis: the last four bytes cut a four-byte character (no panic).
        assert_eq!(repo_name_from_filename("\u{6cdbd}n"), "n");
        assert_eq!(repo_name_from_filename("\u{10000}0"), "0");
        assert_eq!(repo_name_from_filename(&"x".repeat(300)).len(), 100);
    }

    #[test]
    fn codes_are_snake_case_and_match_serde() {
        for code in [
            RejectCode::NotAZip,
            RejectCode::RatioExceeded,
            RejectCode::IoError,
        ] {
            let json = serde_json::to_string(&code).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
        }
        assert!(RejectCode::IoError.is_transient());
        assert!(!RejectCode::RatioExceeded.is_transient());
    }
}
