//! What the code does: detectors, capabilities and deterministic summaries.
//!
//! Everything here is pure: the caller hands in the parsed [`FileRecord`]s, the internal
//! import edges of the graph and a way to read a file's text, and gets back serde documents
//! in the wire shape of docs/artifacts.md. Nothing is specific to any one repository: every name,
//! lane and flow comes from detectors over the facts.
//!
//! ```text
//! let input = CapsInput { files: &files, edges: &edges, source: &|p| snapshot.read(p) };
//! let det = detect(&input);
//! let caps = build_capabilities(&input, &det);
//! let summaries = summarize_files(&input, &det, &caps);
//! ```
//! Or [`analyze`] for all three at once.

pub mod capabilities;
pub mod detect;
pub mod outline;
pub mod scan;
pub mod summaries;

pub use capabilities::{
    build_capabilities, duplicate_pairs, CapabilitiesDoc, Capability, DataFlow, EntryPoint,
    FlowEdge, FlowItem, Lanes, Step,
};
pub use detect::{
    detect, detect_reusing, is_scanned, Detections, FileFacts, Finding, FindingKind, FreshLocals,
    Link, Local, ReuseFn, Risk, DETECT_VERSION,
};
pub use summaries::{summarize_files, CapabilitySummary, FileSummary, SummariesDoc};

use crate::pipeline::model::FileRecord;

/// Reads the text of a snapshot file by repo-relative path; `None` when it is absent or not
/// text. Called for code files (once each) and for the configuration files the detectors
/// need (`package.json`, `pyproject.toml`, `setup.py`, `setup.cfg`, `*.prisma`).
pub type SourceFn<'a> = dyn Fn(&str) -> Option<String> + Sync + 'a;

/// Everything the detectors and builders read.
pub struct CapsInput<'a> {
    /// Every file of the snapshot, as parsed (non-code files too: they are graph nodes and
    /// their paths reveal config files).
    pub files: &'a [FileRecord],
    /// Internal import edges `(from, to)`, repo-relative paths, borrowed from the graph (a
    /// copy of a 50k-file graph's edges is ~35 MB held through the whole stage).
    pub edges: &'a [(&'a str, &'a str)],
    /// Text of a file by path.
    pub source: &'a SourceFn<'a>,
}

/// Detections, capabilities and summaries in one call.
pub fn analyze(input: &CapsInput<'_>) -> (Detections, CapabilitiesDoc, SummariesDoc) {
    let (det, caps, sums, _) = analyze_reusing(input, &|_, _| None);
    (det, caps, sums)
}

/// [`analyze`] with the detectors' per-file results an earlier run kept (see
/// [`detect_reusing`]); also returns the per-file results it computed afresh, for the caller
/// to keep.
pub fn analyze_reusing(
    input: &CapsInput<'_>,
    reuse: &ReuseFn<'_>,
) -> (Detections, CapabilitiesDoc, SummariesDoc, FreshLocals) {
    let t0 = std::time::Instant::now();
    let (det, fresh) = detect_reusing(input, reuse);
    let t1 = std::time::Instant::now();
    let caps = build_capabilities(input, &det);
    let t2 = std::time::Instant::now();
    let sums = summarize_files(input, &det, &caps);
    tracing::info!(
        files = input.files.len(),
        scanned = fresh.len(),
        reused = det.facts.len().saturating_sub(fresh.len()),
        detect_ms = (t1 - t0).as_millis() as u64,
        capabilities_ms = (t2 - t1).as_millis() as u64,
        summaries_ms = t2.elapsed().as_millis() as u64,
        "capabilities and summaries built"
    );
    (det, caps, sums, fresh)
}
