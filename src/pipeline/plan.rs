//! The glue between the stages: which files a job parses, how one file is parsed, and how a
//! whole snapshot's imports are resolved. Pure functions over the manifest and records.

use super::caps::{CapabilitiesDoc, SummariesDoc};
use super::discover::{self, DiscoveredFile};
use super::ingest::ManifestEntry;
use super::model::{FileRecord, FileWarning, Language};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};

/// One discovered file of a job, with where to read it and whether to parse it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedFile {
    /// The manifest entry (path, size, hash, place in the zip).
    pub entry: ManifestEntry,
    /// Language from the extension.
    pub language: Language,
    /// Extension as the FileRecord reports it.
    pub ext: String,
    /// False for non-code files and files over `MAX_FILE_BYTES` (kept as nodes only).
    pub parse: bool,
}

/// What discovery kept and ignored.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Kept files, sorted by path.
    pub files: Vec<PlannedFile>,
    /// Ignored paths counted by reason.
    pub ignored: BTreeMap<String, u64>,
}

impl Plan {
    /// Kept files per language.
    pub fn languages(&self) -> BTreeMap<&'static str, usize> {
        let mut out = BTreeMap::new();
        for f in &self.files {
            *out.entry(language_label(f.language)).or_default() += 1;
        }
        out
    }

    /// The `files` list of the `tree` artifact.
    pub fn tree_entries(&self) -> Vec<Value> {
        self.files
            .iter()
            .map(|f| {
                json!({"path": f.entry.path, "size": f.entry.size, "hash": f.entry.hash,
                       "language": language_label(f.language), "parsed": f.parse})
            })
            .collect()
    }
}

/// Applies the discovery rules (docs/pipeline.md#discovery) to a manifest.
pub fn plan(entries: &[ManifestEntry], max_file_bytes: u64) -> Plan {
    let found = discover::discover(entries.iter().map(|e| (e.path.as_str(), e.size)));
    let by_path: HashMap<&str, &ManifestEntry> =
        entries.iter().map(|e| (e.path.as_str(), e)).collect();
    let files = found
        .files
        .par_iter()
        .filter_map(|f: &DiscoveredFile| {
            by_path.get(f.path.as_str()).map(|entry| PlannedFile {
                entry: (*entry).clone(),
                language: f.language,
                ext: f.ext.clone(),
                parse: f.should_parse(max_file_bytes),
            })
        })
        .collect();
    Plan {
        files,
        ignored: found.ignored,
    }
}

/// The artifact name of a language.
pub fn language_label(l: Language) -> &'static str {
    match l {
        Language::Js => "js",
        Language::Ts => "ts",
        Language::Py => "py",
        Language::Other => "other",
    }
}

/// Parses one file by its language; other files get an identity record.
pub fn parse_file(path: &str, bytes: &[u8]) -> FileRecord {
    let (language, ext) = discover::language_of(path);
    match language {
        Language::Py => super::py::parse_py(path, bytes),
        Language::Js | Language::Ts => super::js::parse_js(path, bytes),
        Language::Other => FileRecord::new(path, language, &ext, bytes),
    }
}

/// The record of a file that is kept as a node but not parsed.
pub fn unparsed_record(
    path: &str,
    file: &PlannedFile,
    bytes: &[u8],
    max_file_bytes: u64,
) -> FileRecord {
    let mut rec = FileRecord::new(path, file.language, &file.ext, bytes);
    rec.skipped = true;
    rec.skip_reason = Some(
        if file.language != Language::Other && file.entry.size > max_file_bytes {
            "too_large".to_string()
        } else {
            "not_code".to_string()
        },
    );
    rec
}

/// Files the resolvers read besides the code: TypeScript/JS project files and workspaces.
pub fn is_resolver_config(path: &str) -> bool {
    super::js::MemorySnapshot::wants_content(path)
}

/// Files per language of parsed records.
pub fn language_counts(records: &[FileRecord]) -> BTreeMap<&'static str, usize> {
    let mut out = BTreeMap::new();
    for r in records {
        *out.entry(language_label(r.language)).or_default() += 1;
    }
    out
}

/// Resolves every import of a snapshot: JS/TS against the project files in `configs`
/// (path → text), Python against the detected source roots; then composes the routes through
/// their mounts, which needs the resolved imports ([`super::routing::compose_routes`]).
///
/// Returns the warnings about config files found on the way (a broken `package.json`), each
/// with its file's path; they are also added to those files' records.
pub fn resolve_imports(
    records: &mut [FileRecord],
    configs: &BTreeMap<String, String>,
) -> Vec<(String, FileWarning)> {
    resolve_imports_reusing(records, configs, None).warnings
}

/// What [`resolve_imports_reusing`] did.
#[derive(Debug, Default)]
pub struct Resolved {
    /// The config warnings (see [`resolve_imports`]).
    pub warnings: Vec<(String, FileWarning)>,
    /// The JS/TS resolution environment ([`super::js::environment`]); None without JS/TS files.
    pub env: Option<String>,
    /// JS/TS imports whose kept resolution was reused.
    pub js_reused: usize,
    /// JS/TS imports resolved afresh.
    pub js_resolved: usize,
    /// What resolution leaves to free (see [`Spent`]); dropped with this value unless taken.
    pub spent: Spent,
}

/// What resolution leaves behind: the Python resolver's indexes, the kept JS/TS resolutions
/// and the records' wiring (the routes are composed from it, then nothing reads it). Freeing
/// them took about 0.2 s at 53.6k files, so a caller with other work to do takes this out of
/// [`Resolved`] and drops it on another thread; dropping it in place is as correct.
#[derive(Default)]
pub struct Spent {
    py: Option<super::py::PyResolver>,
    kept: Option<super::js::KeptResolutions>,
    wirings: Vec<super::wiring::Wiring>,
}

impl std::fmt::Debug for Spent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spent")
            .field("py", &self.py.is_some())
            .field("kept", &self.kept.is_some())
            .field("wirings", &self.wirings.len())
            .finish()
    }
}

impl Resolved {
    /// Whether this run's resolutions are worth keeping: some were made afresh (the kept ones,
    /// if any, already answer for the rest).
    pub fn worth_keeping(&self) -> bool {
        self.env.is_some() && self.js_resolved > 0
    }
}

/// [`resolve_imports`] reusing the JS/TS resolutions an earlier run kept, when they were made
/// in the same environment (`records` sorted by path; see [`super::js::KeptResolutions`]).
pub fn resolve_imports_reusing(
    records: &mut [FileRecord],
    configs: &BTreeMap<String, String>,
    kept: Option<super::js::KeptResolutions>,
) -> Resolved {
    let ready = Indexes::of(records, configs);
    resolve_indexed(records, configs, ready, kept)
}

/// What resolution reads of the snapshot's file list before it changes any record: the
/// Python resolver's indexes and the JS/TS resolution environment. Built on their own (see
/// [`Indexes::of`]), so a caller can build them while it does something else, such as
/// decoding the kept resolutions ([`resolve_indexed`]).
pub struct Indexes {
    py: super::py::PyResolver,
    /// None without JS/TS files.
    env: Option<String>,
    /// How long building them took, counted in the resolution's logged time.
    took: std::time::Duration,
}

impl Indexes {
    /// The indexes of `records` (sorted by path) and `configs`, the two side by side (in a
    /// profile of a 53.6k-file merge, about 70 ms for the Python index and 25 ms for the
    /// environment, each on one core).
    pub fn of(records: &[FileRecord], configs: &BTreeMap<String, String>) -> Self {
        let t0 = std::time::Instant::now();
        let (py, env) = rayon::join(
            || super::py::PyResolver::from_records(records),
            || {
                records
                    .iter()
                    .any(|r| matches!(r.language, Language::Js | Language::Ts))
                    .then(|| super::js::environment(records, configs))
            },
        );
        Self {
            py,
            env,
            took: t0.elapsed(),
        }
    }
}

/// [`resolve_imports_reusing`] with the indexes already built, from these `records`
/// (unchanged since) and the same configs.
pub fn resolve_indexed(
    records: &mut [FileRecord],
    configs: &BTreeMap<String, String>,
    ready: Indexes,
    kept: Option<super::js::KeptResolutions>,
) -> Resolved {
    let t0 = std::time::Instant::now();
    let Indexes { py, env, took } = ready;
    super::py::resolve_all_py(records, &py);
    let (mut resolved, (spent, kept)) = match env {
        Some(env) => resolve_js(records, env, configs, kept),
        None => (Resolved::default(), (None, kept)),
    };
    tracing::info!(
        js_reused = resolved.js_reused,
        js_resolved = resolved.js_resolved,
        resolve_ms = (took + t0.elapsed()).as_millis() as u64,
        "imports resolved"
    );
    // Freeing the JS resolver's caches (a path entry per file and probe) took ~190 ms at
    // 53.6k files, longer than composing the routes: do both at once, on two threads.
    let ((), wirings) = rayon::join(
        move || drop(spent),
        || super::routing::compose_routes(records, &py),
    );
    resolved.spent = Spent {
        py: Some(py),
        kept,
        wirings,
    };
    resolved
}

/// What the JS resolution leaves to free: the resolver (its caches) and the snapshot it read,
/// and the kept resolutions it applied.
type SpentJs = (
    Option<(super::js::JsResolver, super::js::MemorySnapshot)>,
    Option<super::js::KeptResolutions>,
);

/// Resolves the JS/TS imports of `records` (environment `env`, see [`Indexes`]), taking what
/// `kept` answers for when it is of this environment; returns what it did and the resolver,
/// left for the caller to drop (see [`resolve_imports_reusing`]).
fn resolve_js(
    records: &mut [FileRecord],
    env: String,
    configs: &BTreeMap<String, String>,
    kept: Option<super::js::KeptResolutions>,
) -> (Resolved, SpentJs) {
    let kept = kept.filter(|k| k.env() == env);
    // With kept resolutions, only the imports they do not answer for are resolved.
    let misses = kept.as_ref().map(|k| super::js::apply_kept(records, k));
    let resolvable: usize = records
        .iter()
        .filter(|r| matches!(r.language, Language::Js | Language::Ts) && !r.skipped)
        .map(|r| r.imports.len())
        .sum();
    let mut js_resolved = 0;
    let mut spent = None;
    let mut warnings: Vec<(String, FileWarning)> = Vec::new();
    if misses.as_ref().is_none_or(|m| !m.is_empty()) {
        let mut snapshot = super::js::MemorySnapshot::new(records.iter().map(|r| r.path.clone()));
        for (path, text) in configs {
            snapshot.insert(path, text.as_bytes());
        }
        let js = super::js::JsResolver::new(&snapshot);
        js_resolved = match &misses {
            Some(positions) => super::js::resolve_at(records, positions, &js),
            None => {
                super::js::resolve_all(records, &js);
                resolvable
            }
        };
        warnings = js
            .broken_manifests()
            .iter()
            .map(|(path, message)| {
                let w = FileWarning {
                    code: super::js::WARN_INVALID_MANIFEST.to_string(),
                    message: message.clone(),
                };
                (path.clone(), w)
            })
            .collect();
        spent = Some((js, snapshot));
    }
    let js_reused = if kept.is_some() {
        resolvable - js_resolved
    } else {
        0
    };
    // The environment's warnings are the full run's, whichever files this run resolved.
    if let Some(k) = &kept {
        warnings = k.warnings().to_vec();
    }
    for (path, w) in &warnings {
        if let Some(r) = records.iter_mut().find(|r| &r.path == path) {
            if !r.warnings.contains(w) {
                r.warnings.push(w.clone());
            }
        }
    }
    let resolved = Resolved {
        warnings,
        env: Some(env),
        js_reused,
        js_resolved,
        spent: Spent::default(),
    };
    (resolved, (spent, kept))
}

/// Whether the capability detectors read a file's text (code, manifests, Prisma schemas).
pub fn caps_reads(path: &str, language: Language) -> bool {
    if language != Language::Other {
        return true;
    }
    let name = path.rsplit('/').next().unwrap_or(path);
    matches!(
        name,
        "package.json" | "pyproject.toml" | "setup.py" | "setup.cfg"
    ) || name.ends_with(".prisma")
}

/// Capabilities and deterministic summaries from the parsed records, the graph's internal
/// edges and the text of the files the detectors read (`read`: path → text, called from
/// several threads, at most once per file and detector pass, so the caller can read lazily).
pub fn capabilities_and_summaries(
    records: &[FileRecord],
    graph: &super::graph::Graph,
    read: &(dyn Fn(&str) -> Option<String> + Sync),
) -> (CapabilitiesDoc, SummariesDoc) {
    let (caps, summaries, _) =
        capabilities_and_summaries_reusing(records, graph, read, &|_, _| None);
    (caps, summaries)
}

/// [`capabilities_and_summaries`] with the detectors' per-file results an earlier run kept
/// (a file `reuse` answers for is not read for the local phase); also returns the results
/// computed afresh. See [`super::caps::detect_reusing`] for when a result may be reused.
pub fn capabilities_and_summaries_reusing(
    records: &[FileRecord],
    graph: &super::graph::Graph,
    read: &(dyn Fn(&str) -> Option<String> + Sync),
    reuse: &super::caps::ReuseFn<'_>,
) -> (CapabilitiesDoc, SummariesDoc, super::caps::FreshLocals) {
    let edges: Vec<(&str, &str)> = graph
        .edges
        .iter()
        .filter(|e| !e.external)
        .map(|e| (&*e.from, &*e.to))
        .collect();
    let input = super::caps::CapsInput {
        files: records,
        edges: &edges,
        source: read,
    };
    let (_, caps, summaries, fresh) = super::caps::analyze_reusing(&input, reuse);
    (caps, summaries, fresh)
}
