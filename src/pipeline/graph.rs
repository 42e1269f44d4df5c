//! The dependency graph artifact (docs/artifacts.md#graph) built from resolved [`FileRecord`]s, and
//! the [`Resolution`] every resolver reports.
//!
//! Resolvers (Python here, JS/TS in `pipeline::js`) only fill the resolution fields of each
//! [`Import`] (`resolved`, `external`, `package`, `unresolvedReason`), most simply through
//! [`Resolution::apply_to`]; [`build_graph`] then reads those fields:
//! - `resolved` naming a file of the snapshot → an **internal** edge `{from, to: path}`;
//!   a `resolved` path that is not a file of the snapshot → unresolved
//!   (`target_not_in_snapshot`);
//! - `external` → an **external** edge `{from, to: package, external: true}` (`to` is the
//!   package name, or `raw` if the resolver named none). External packages get **no node**:
//!   nodes are files of the snapshot only, and degrees count internal edges only;
//! - otherwise → an entry of `unresolved` with the resolver's reason (`not_resolved` when the
//!   import was never resolved).
//!
//! Edge kind follows the import kind (`py-relative` → `py`). Identical `(from, to, kind,
//! external)` edges are merged, keeping the smallest line. Output is deterministic: nodes by
//! path; edges by `from`, internal before external, `to`, kind; unresolved by `from`, line,
//! `raw`. Metrics: `numEdges = internal + external` (after merging), `unresolvedLocal` = length
//! of `unresolved`; `cycles` are the strongly connected components of the internal edges with
//! more than one file or a self-import (iterative Tarjan, each sorted, the list sorted);
//! `topHubs` are the (at most) 10 files with the highest in-degree, ties by path, files with
//! in-degree 0 left out.

use crate::pipeline::model::{EdgeKind, FileRecord, Import, ImportKind, Language};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

/// Unresolved reason: a resolver named a path that is not a file of the snapshot.
pub const REASON_TARGET_NOT_IN_SNAPSHOT: &str = "target_not_in_snapshot";
/// Unresolved reason: no resolver filled in the import.
pub const REASON_NOT_RESOLVED: &str = "not_resolved";
/// How many hubs `metrics.topHubs` lists.
pub const TOP_HUBS: usize = 10;

/// Where one import leads; shared by the Python and JS/TS resolvers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Resolution {
    /// A file of the snapshot (repo-relative path).
    Internal(String),
    /// A package or stdlib module outside the snapshot (npm name / top-level module).
    External(String),
    /// A local-looking import that resolves nowhere, with a stable reason code.
    Unresolved(String),
}

impl Resolution {
    /// Writes this resolution into the import's fields, clearing the others.
    pub fn apply_to(&self, import: &mut Import) {
        import.resolved = None;
        import.external = false;
        import.package = None;
        import.unresolved_reason = None;
        match self {
            Resolution::Internal(p) => import.resolved = Some(p.clone()),
            Resolution::External(p) => {
                import.external = true;
                import.package = Some(p.as_str().into());
            }
            Resolution::Unresolved(r) => import.unresolved_reason = Some(r.clone()),
        }
    }
}

/// The edge kind an import kind produces.
pub fn edge_kind(kind: ImportKind) -> EdgeKind {
    match kind {
        ImportKind::Esm => EdgeKind::Esm,
        ImportKind::Cjs => EdgeKind::Cjs,
        ImportKind::Dynamic => EdgeKind::Dynamic,
        ImportKind::Reexport => EdgeKind::Reexport,
        ImportKind::Type => EdgeKind::Type,
        ImportKind::Py | ImportKind::PyRelative => EdgeKind::Py,
    }
}

fn kind_rank(kind: EdgeKind) -> u8 {
    match kind {
        EdgeKind::Esm => 0,
        EdgeKind::Cjs => 1,
        EdgeKind::Dynamic => 2,
        EdgeKind::Reexport => 3,
        EdgeKind::Type => 4,
        EdgeKind::Py => 5,
    }
}

/// A file of the snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphNode {
    /// Repo-relative path.
    pub id: String,
    /// Language of the file (`other` for non-code files, which are nodes too).
    pub language: Language,
    /// Internal edges pointing at this file.
    pub in_degree: u32,
    /// Internal edges leaving this file.
    pub out_degree: u32,
}

/// One import relation (internal: file → file; external: file → package).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphEdge {
    /// Importing file. Shared with every other edge of the file: a 50k-file graph has ~265k
    /// edges, and a `String` per end cost ~50 MB through the stages that hold the graph.
    pub from: Arc<str>,
    /// Imported file (internal) or package name (external), shared like `from`.
    pub to: Arc<str>,
    /// How the import was written.
    pub kind: EdgeKind,
    /// True for edges to packages outside the snapshot.
    pub external: bool,
    /// 1-based line of the (first) import.
    pub line: u32,
}

/// A local-looking import that resolves nowhere.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UnresolvedImport {
    /// Importing file.
    pub from: String,
    /// The specifier as written.
    pub raw: String,
    /// 1-based line.
    pub line: u32,
    /// Stable reason code (`not_found`, `beyond_top_level`, …).
    pub reason: String,
}

/// A heavily imported file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hub {
    /// Repo-relative path.
    pub id: String,
    /// Internal edges pointing at it.
    pub in_degree: u32,
}

/// Summary numbers of the graph; internal, external and unresolved are counted apart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphMetrics {
    /// Files.
    pub num_nodes: u64,
    /// Internal plus external edges, after merging duplicates.
    pub num_edges: u64,
    /// Edges between files of the snapshot.
    pub internal: u64,
    /// Edges to packages outside the snapshot.
    pub external: u64,
    /// Unresolved local imports.
    pub unresolved_local: u64,
    /// Import cycles: strongly connected components (sorted paths).
    pub cycles: Vec<Vec<String>>,
    /// Most imported files.
    pub top_hubs: Vec<Hub>,
}

/// The `graph` artifact body (the artifact writer adds `schemaVersion`/`generatorVersion`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Graph {
    /// Every file of the snapshot, by path.
    pub nodes: Vec<GraphNode>,
    /// Internal and external edges.
    pub edges: Vec<GraphEdge>,
    /// Imports that resolve nowhere.
    pub unresolved: Vec<UnresolvedImport>,
    /// Counts, cycles and hubs.
    pub metrics: GraphMetrics,
}

/// One file's edges: (external, target, kind rank) → (kind, line), sorted by key.
type FileEdges<'r> = Vec<((bool, &'r str, u8), (EdgeKind, u32))>;

/// The edges of `rec` (an import that resolves to the same target with a kind of the same
/// rank as an earlier one is merged into it: the earlier kind, the smaller line) and its
/// unresolved imports.
fn file_edges<'r>(
    rec: &'r FileRecord,
    index: &HashMap<&str, usize>,
) -> (FileEdges<'r>, Vec<UnresolvedImport>) {
    let mut edges: FileEdges<'r> = Vec::with_capacity(rec.imports.len());
    let mut unresolved = Vec::new();
    for imp in &rec.imports {
        let kind = edge_kind(imp.kind);
        let target = match (&imp.resolved, imp.external) {
            (Some(to), _) if index.contains_key(to.as_str()) => Ok((false, to.as_str())),
            (Some(_), _) => Err(REASON_TARGET_NOT_IN_SNAPSHOT),
            (None, true) => Ok((true, imp.package.as_ref().unwrap_or(&imp.raw).as_str())),
            (None, false) => Err(imp
                .unresolved_reason
                .as_deref()
                .unwrap_or(REASON_NOT_RESOLVED)),
        };
        match target {
            Ok((external, to)) => edges.push(((external, to, kind_rank(kind)), (kind, imp.line))),
            Err(reason) => unresolved.push(UnresolvedImport {
                from: rec.path.clone(),
                raw: imp.raw.to_string(),
                line: imp.line,
                reason: reason.to_string(),
            }),
        }
    }
    // Stable: among equal keys the first import comes first and is the one kept.
    edges.sort_by(|a, b| a.0.cmp(&b.0));
    edges.dedup_by(|later, kept| {
        let same = later.0 == kept.0;
        if same {
            kept.1 .1 = kept.1 .1.min(later.1 .1);
        }
        same
    });
    (edges, unresolved)
}

/// Builds the graph from resolved records (any order; duplicates of a path keep the first).
pub fn build_graph(records: &[FileRecord]) -> Graph {
    let mut recs: Vec<&FileRecord> = records.iter().collect();
    recs.sort_by(|a, b| a.path.cmp(&b.path));
    recs.dedup_by(|a, b| a.path == b.path);
    let index: HashMap<&str, usize> = recs
        .iter()
        .enumerate()
        .map(|(i, r)| (r.path.as_str(), i))
        .collect();

    // Each file's edges, merged per (external, to, kind rank) into the first import's kind and
    // the smallest line, in key order; built on every core. (One map of all 265k edges of the
    // 53.6k-file monorepo, keyed by file and target path, spent its time comparing paths.)
    let per_file: Vec<(FileEdges<'_>, Vec<UnresolvedImport>)> =
        recs.par_iter().map(|rec| file_edges(rec, &index)).collect();
    let n = recs.len();
    let mut in_degree = vec![0u32; n];
    let mut out_degree = vec![0u32; n];
    let mut adjacency: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut edges = Vec::with_capacity(per_file.iter().map(|(e, _)| e.len()).sum());
    let mut unresolved = Vec::new();
    let mut internal = 0u64;
    let paths: Vec<Arc<str>> = recs.iter().map(|r| Arc::from(r.path.as_str())).collect();
    let mut packages: HashMap<&str, Arc<str>> = HashMap::new();
    let merged =
        per_file
            .into_iter()
            .enumerate()
            .flat_map(|(from, (file_edges, file_unresolved))| {
                unresolved.extend(file_unresolved);
                file_edges.into_iter().map(move |e| (from, e))
            });
    for (from, ((external, to, _), (kind, line))) in merged {
        let to = if external {
            let shared = packages.entry(to).or_insert_with(|| Arc::from(to));
            Arc::clone(shared)
        } else {
            internal += 1;
            let t = index[to];
            out_degree[from] += 1;
            in_degree[t] += 1;
            // Merged edges are sorted by (from, to): a repeated pair (other kind) is adjacent.
            if adjacency[from].last() != Some(&t) {
                adjacency[from].push(t);
            }
            Arc::clone(&paths[t])
        };
        edges.push(GraphEdge {
            from: Arc::clone(&paths[from]),
            to,
            kind,
            external,
            line,
        });
    }
    unresolved.sort_by(|a, b| (&a.from, a.line, &a.raw).cmp(&(&b.from, b.line, &b.raw)));

    let mut cycles: Vec<Vec<String>> = strongly_connected(&adjacency)
        .into_iter()
        .filter(|c| c.len() > 1 || adjacency[c[0]].contains(&c[0]))
        .map(|c| {
            let mut paths: Vec<String> = c.into_iter().map(|i| recs[i].path.clone()).collect();
            paths.sort();
            paths
        })
        .collect();
    cycles.sort();

    let mut hubs: Vec<usize> = (0..n).filter(|&i| in_degree[i] > 0).collect();
    hubs.sort_by(|&a, &b| {
        in_degree[b]
            .cmp(&in_degree[a])
            .then_with(|| recs[a].path.cmp(&recs[b].path))
    });
    let top_hubs = hubs
        .into_iter()
        .take(TOP_HUBS)
        .map(|i| Hub {
            id: recs[i].path.clone(),
            in_degree: in_degree[i],
        })
        .collect();

    let nodes = recs
        .iter()
        .enumerate()
        .map(|(i, r)| GraphNode {
            id: r.path.clone(),
            language: r.language,
            in_degree: in_degree[i],
            out_degree: out_degree[i],
        })
        .collect();
    let num_edges = edges.len() as u64;
    Graph {
        nodes,
        edges,
        metrics: GraphMetrics {
            num_nodes: n as u64,
            num_edges,
            internal,
            external: num_edges - internal,
            unresolved_local: unresolved.len() as u64,
            cycles,
            top_hubs,
        },
        unresolved,
    }
}

/// Tarjan's strongly connected components without recursion (an explicit call stack), so a
/// 100,000-file import chain cannot overflow the native stack.
pub fn strongly_connected(adjacency: &[Vec<usize>]) -> Vec<Vec<usize>> {
    const UNVISITED: u32 = u32::MAX;
    let n = adjacency.len();
    let mut index = vec![UNVISITED; n];
    let mut low = vec![0u32; n];
    let mut on_stack = vec![false; n];
    let mut stack: Vec<usize> = Vec::new();
    let mut calls: Vec<(usize, usize)> = Vec::new();
    let mut next = 0u32;
    let mut out = Vec::new();
    for start in 0..n {
        if index[start] != UNVISITED {
            continue;
        }
        index[start] = next;
        low[start] = next;
        next += 1;
        stack.push(start);
        on_stack[start] = true;
        calls.push((start, 0));
        while let Some(&mut (v, ref mut child)) = calls.last_mut() {
            if let Some(&w) = adjacency[v].get(*child) {
                *child += 1;
                if index[w] == UNVISITED {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    calls.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            calls.pop();
            if let Some(&(parent, _)) = calls.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                let mut component = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    component.push(w);
                    if w == v {
                        break;
                    }
                }
                out.push(component);
            }
        }
    }
    out
}
