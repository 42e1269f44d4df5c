//! JS/TS resolutions kept from an earlier run, reused while nothing they depend on changed.
//!
//! [`super::JsResolver`] answers from three things only: the snapshot's path list, the text of
//! the config files it reads ([`super::MemorySnapshot::wants_content`]), and the importing
//! file's path and specifier. [`environment`] hashes the first two with [`RESOLVE_VERSION`] and
//! the package version. Under the same environment the same (file, specifier) resolves the
//! same way, whatever else changed in the file. So a re-upload that edits file contents, but
//! neither adds, removes nor renames a file nor edits a `package.json`/`tsconfig`, resolves only
//! the specifiers no earlier run saw in that file. Any other change gives another environment,
//! and every import is resolved again.
//!
//! The kept document is `{env, warnings, files: [[index, [[specifier, resolution], …]], …]}`:
//! `index` is the file's position in the path-sorted records the environment was hashed over,
//! and an internal resolution is the target's index the same way (`{"I": n}`; `{"E": pkg}` for
//! a package, `{"U": reason}` for an unresolved import).

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::{Deserialize, Serialize, Serializer};

use super::resolve::{apply, Resolution};
use crate::pipeline::model::{FileRecord, FileWarning, Import, Language, Name};

/// Bumped whenever a resolution rule changes, so resolutions kept by the old rules are never
/// reused (the package version is hashed too, so a release always starts afresh).
pub const RESOLVE_VERSION: u32 = 1;

/// The resolution environment of `records` (sorted by path, every file of the snapshot) and
/// `configs` (path → text of the config files the resolver reads): equal exactly when the
/// resolver would see the same files and configs.
pub fn environment(records: &[FileRecord], configs: &BTreeMap<String, String>) -> String {
    let mut h = blake3::Hasher::new();
    h.update(b"provis-js-resolution\0");
    h.update(&RESOLVE_VERSION.to_le_bytes());
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    // Lengths before contents keep the stream unambiguous whatever a path or a text holds.
    h.update(&(records.len() as u64).to_le_bytes());
    for r in records {
        h.update(&(r.path.len() as u64).to_le_bytes());
        h.update(r.path.as_bytes());
    }
    h.update(&(configs.len() as u64).to_le_bytes());
    for (path, text) in configs {
        h.update(&(path.len() as u64).to_le_bytes());
        h.update(path.as_bytes());
        h.update(&(text.len() as u64).to_le_bytes());
        h.update(text.as_bytes());
    }
    h.finalize().to_hex().to_string()
}

/// One kept resolution; `S` is `&str` when writing and [`Name`] when reading.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Kept<S> {
    /// Internal: the index of the target among the environment's sorted paths.
    I(u32),
    /// External package.
    E(S),
    /// Unresolved, with its reason.
    U(S),
}

/// One file's kept `(specifier, resolution)` pairs, as read back.
type KeptImports = Vec<(Name, Kept<Name>)>;

/// Resolutions kept by an earlier run, as read back.
#[derive(Debug, Deserialize)]
pub struct KeptResolutions {
    env: String,
    warnings: Vec<(String, FileWarning)>,
    files: Vec<(u32, KeptImports)>,
}

impl KeptResolutions {
    /// Reads a kept document; None when it is not one (the caller then resolves everything).
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        crate::pipeline::json::decode(bytes).ok()
    }

    /// The environment the resolutions were made in.
    pub fn env(&self) -> &str {
        &self.env
    }

    /// The config warnings (broken manifests) of that environment, with their files' paths.
    pub fn warnings(&self) -> &[(String, FileWarning)] {
        &self.warnings
    }
}

/// Whether `resolve_all` resolves this record's imports.
pub(super) fn resolves(r: &FileRecord) -> bool {
    matches!(r.language, Language::Js | Language::Ts) && !r.skipped
}

/// Resolves the records' imports that `kept` answers for, in place, and returns the
/// positions `(record, import)` of those it has no answer for (imports of records JS
/// resolution does not handle are left alone). `records` must be the ones `kept`'s
/// environment was hashed over (the caller compares [`KeptResolutions::env`]).
pub fn apply_kept(records: &mut [FileRecord], kept: &KeptResolutions) -> Vec<(usize, usize)> {
    let mut by_file: Vec<Option<&KeptImports>> = vec![None; records.len()];
    for (i, imports) in &kept.files {
        if let Some(slot) = by_file.get_mut(*i as usize) {
            *slot = Some(imports);
        }
    }
    // Internal answers name their target by index; the records are borrowed mutably below.
    let paths: Vec<String> = records.iter().map(|r| r.path.clone()).collect();
    let answer = |k: &Kept<Name>| -> Option<Resolution> {
        Some(match k {
            Kept::I(n) => Resolution::Internal(paths.get(*n as usize)?.clone()),
            Kept::E(pkg) => Resolution::External(pkg.to_string()),
            Kept::U(reason) => Resolution::Unresolved(reason.to_string()),
        })
    };
    records
        .par_iter_mut()
        .zip(by_file.par_iter())
        .enumerate()
        .filter(|(_, (r, _))| resolves(r))
        .flat_map_iter(|(at, (r, kept))| {
            let mut misses = Vec::new();
            for (j, import) in r.imports.iter_mut().enumerate() {
                let found = kept.and_then(|k| k.iter().find(|(raw, _)| *raw == import.raw));
                match found.and_then(|(_, k)| answer(k)) {
                    Some(res) => apply(import, res),
                    None => misses.push((at, j)),
                }
            }
            misses
        })
        .collect()
}

/// Writes the JS/TS resolutions of `records` (sorted by path, resolved) and the config
/// `warnings` of environment `env` as a kept document.
pub fn write_kept(
    w: &mut dyn std::io::Write,
    env: &str,
    records: &[FileRecord],
    warnings: &[(String, FileWarning)],
) -> std::io::Result<()> {
    #[derive(Serialize)]
    struct Doc<'a> {
        env: &'a str,
        warnings: &'a [(String, FileWarning)],
        files: Files<'a>,
    }
    let doc = Doc {
        env,
        warnings,
        files: Files(records),
    };
    serde_json::to_writer(w, &doc).map_err(std::io::Error::from)
}

/// The `files` of a kept document, written straight from the records.
struct Files<'a>(&'a [FileRecord]);

impl Serialize for Files<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let records = self.0;
        s.collect_seq(
            records
                .iter()
                .enumerate()
                .filter(|(_, r)| resolves(r) && !r.imports.is_empty())
                .map(|(i, r)| (i as u32, Imports(records, &r.imports))),
        )
    }
}

/// One file's `[specifier, resolution]` pairs; imports that carry no resolution are left out.
struct Imports<'a>(&'a [FileRecord], &'a [Import]);

impl Serialize for Imports<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let records = self.0;
        s.collect_seq(self.1.iter().filter_map(|i| {
            let kept = if let Some(path) = &i.resolved {
                let at = records
                    .binary_search_by(|r| r.path.as_str().cmp(path))
                    .ok()?;
                Kept::I(at as u32)
            } else if i.external {
                Kept::E(i.package.as_deref()?)
            } else {
                Kept::U(i.unresolved_reason.as_deref()?)
            };
            Some((i.raw.as_str(), kept))
        }))
    }
}
