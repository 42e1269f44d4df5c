//! Graph, lanes, control flow, entry points, data flow and key files of a capability.

use super::{
    describe, Capability, DataFlow, EntryPoint, FlowEdge, FlowItem, Group, Lanes, ENTRY_CLI,
    ENTRY_JOB, ENTRY_PAGE, ENTRY_ROUTE, ENTRY_SCHEDULE, MAX_DEPTH, MAX_GATHERED, MAX_KEY_FILES,
    MAX_ORCHESTRATORS,
};
use crate::pipeline::caps::detect::{
    is_handoff, Detections, Finding, FindingKind, Link, LINK_ENQUEUE, LINK_HTTP, LINK_INCLUDE,
    LINK_MOUNT, LINK_SCHEDULE,
};
use crate::pipeline::caps::CapsInput;
use crate::pipeline::model::FileRecord;
use rayon::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};

/// The import graph and hand-off links, restricted to files of the snapshot.
pub(crate) struct Graph<'a> {
    pub records: BTreeMap<&'a str, &'a FileRecord>,
    pub imports: BTreeMap<&'a str, BTreeSet<&'a str>>,
    pub importers: BTreeMap<&'a str, BTreeSet<&'a str>>,
    pub handoffs: BTreeMap<&'a str, BTreeSet<&'a str>>,
    pub links: &'a [Link],
}

impl<'a> Graph<'a> {
    pub fn new(input: &'a CapsInput<'a>, det: &'a Detections) -> Self {
        // Built from sorted pairs in one pass each, not edge by edge: inserting 265k edges into
        // the maps one at a time compared long, mostly shared path prefixes ~70 times an edge.
        // The sorts (of long, mostly shared path prefixes) are most of this at 50k files:
        // on every core.
        let known: HashSet<&str> = input.files.iter().map(|f| f.path.as_str()).collect();
        let mut pairs: Vec<(&str, &str)> = input
            .edges
            .par_iter()
            .copied()
            .filter(|(a, b)| a != b && known.contains(a) && known.contains(b))
            .collect();
        pairs.par_sort_unstable();
        pairs.dedup();
        let imports = grouped(&pairs);
        for pair in &mut pairs {
            *pair = (pair.1, pair.0);
        }
        pairs.par_sort_unstable();
        let importers = grouped(&pairs);
        let mut handoffs: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for l in det.links.iter().filter(|l| is_handoff(&l.kind)) {
            handoffs
                .entry(l.from.as_str())
                .or_default()
                .insert(l.to.as_str());
        }
        Self {
            records: input.files.iter().map(|f| (f.path.as_str(), f)).collect(),
            imports,
            importers,
            handoffs,
            links: &det.links,
        }
    }

    /// Breadth-first walk of the import graph (and hand-offs) from `seeds`, depth ≤
    /// [`MAX_DEPTH`]; returns file → depth. Decides which files belong to one program.
    pub fn gather(
        &self,
        seeds: &BTreeSet<String>,
        other_seeds: &BTreeSet<&str>,
    ) -> BTreeMap<String, usize> {
        let mut seen: BTreeMap<String, usize> = seeds.iter().map(|s| (s.clone(), 0)).collect();
        let mut queue: VecDeque<(String, usize)> = seeds.iter().map(|s| (s.clone(), 0)).collect();
        while let Some((file, depth)) = queue.pop_front() {
            if depth >= MAX_DEPTH {
                continue;
            }
            let imported = self
                .imports
                .get(file.as_str())
                .into_iter()
                .flatten()
                .filter(|n| !other_seeds.contains(*n));
            let handed = self.handoffs.get(file.as_str()).into_iter().flatten();
            let next: BTreeSet<&str> = imported.chain(handed).copied().collect();
            for n in next {
                if seen.len() >= MAX_GATHERED {
                    return seen;
                }
                if !seen.contains_key(n) {
                    seen.insert(n.to_string(), depth + 1);
                    queue.push_back((n.to_string(), depth + 1));
                }
            }
        }
        seen
    }
}

/// Turns a group, its reached files and the findings they reach into a capability.
pub(crate) fn assemble(
    det: &Detections,
    graph: &Graph<'_>,
    g: &Group<'_>,
    gathered: &BTreeMap<String, usize>,
    findings: &[&Finding],
) -> Capability {
    let orchestrators = orchestrators(det, graph, g, gathered);
    let members: BTreeSet<&str> = gathered
        .keys()
        .map(String::as_str)
        .chain(orchestrators.iter().map(String::as_str))
        .collect();
    let lanes = lanes(graph, det, &members);
    let control_flow = control_flow(graph, &members);
    let entry_points = entry_points(g);
    let data_flow = data_flow(findings, &entry_points);
    let key_files = key_files(det, g, gathered);
    let name = describe::name(g);
    let purpose = describe::purpose(g, &entry_points, &data_flow);
    let steps = describe::steps(g, &entry_points, gathered, &data_flow, &control_flow);
    let id = blake3::hash(g.key.as_bytes()).to_hex()[..16].to_string();
    Capability {
        id,
        name,
        purpose,
        entry_points,
        key_files,
        orchestrators,
        lanes,
        control_flow,
        data_flow,
        steps,
    }
}

fn orchestrators(
    det: &Detections,
    graph: &Graph<'_>,
    g: &Group<'_>,
    gathered: &BTreeMap<String, usize>,
) -> Vec<String> {
    let mut out: BTreeSet<String> = BTreeSet::new();
    for seed in &g.seeds {
        for imp in graph.importers.get(seed.as_str()).into_iter().flatten() {
            out.insert(imp.to_string());
        }
    }
    for l in &det.links {
        let wiring = matches!(
            l.kind.as_str(),
            LINK_MOUNT | LINK_INCLUDE | LINK_ENQUEUE | LINK_SCHEDULE | LINK_HTTP
        );
        if wiring && g.seeds.contains(&l.to) {
            out.insert(l.from.clone());
        }
    }
    out.into_iter()
        .filter(|f| {
            !gathered.contains_key(f)
                && !graph
                    .records
                    .get(f.as_str())
                    .is_some_and(|r| super::tests_lane::is_test_file(r))
        })
        .take(MAX_ORCHESTRATORS)
        .collect()
}

/// Lane of one file: detector kind first, then path (api and worker patterns before web).
pub(crate) fn lane_of(graph: &Graph<'_>, det: &Detections, file: &str) -> &'static str {
    let kinds: BTreeSet<FindingKind> = det.in_file(file).map(|f| f.kind).collect();
    if kinds.contains(&FindingKind::Route) || kinds.contains(&FindingKind::RouteHandler) {
        return "api";
    }
    if kinds.contains(&FindingKind::JobConsumer) || kinds.contains(&FindingKind::Schedule) {
        return "workers";
    }
    let rec = graph.records.get(file);
    if kinds.contains(&FindingKind::Page)
        || rec.is_some_and(|r| r.hints.is_react_component || r.hints.is_client_component)
    {
        return "web";
    }
    describe::lane_by_path(file)
}

fn lanes(graph: &Graph<'_>, det: &Detections, members: &BTreeSet<&str>) -> Lanes {
    let mut lanes = Lanes::default();
    for file in members {
        let target = match lane_of(graph, det, file) {
            "api" => &mut lanes.api,
            "workers" => &mut lanes.workers,
            "web" => &mut lanes.web,
            _ => &mut lanes.other,
        };
        target.push(file.to_string());
    }
    lanes
}

/// Most specific relation first when a pair has several.
fn edge_rank(kind: &str) -> u8 {
    match kind {
        LINK_ENQUEUE => 0,
        LINK_SCHEDULE => 1,
        LINK_HTTP => 2,
        LINK_MOUNT => 3,
        LINK_INCLUDE => 4,
        _ => 5,
    }
}

/// `a → {b, …}` of pairs sorted and without repeats (each map and set is built from sorted
/// input in one pass).
fn grouped<'a>(pairs: &[(&'a str, &'a str)]) -> BTreeMap<&'a str, BTreeSet<&'a str>> {
    pairs
        .chunk_by(|x, y| x.0 == y.0)
        .map(|run| (run[0].0, run.iter().map(|p| p.1).collect()))
        .collect()
}

fn control_flow(graph: &Graph<'_>, members: &BTreeSet<&str>) -> Vec<FlowEdge> {
    let mut best: BTreeMap<(&str, &str), &str> = BTreeMap::new();
    for (from, tos) in &graph.imports {
        if !members.contains(from) {
            continue;
        }
        for to in tos.iter().filter(|t| members.contains(*t)) {
            best.entry((from, to)).or_insert("import");
        }
    }
    for l in graph.links {
        let (Some(from), Some(to)) = (members.get(l.from.as_str()), members.get(l.to.as_str()))
        else {
            continue;
        };
        let e = best.entry((from, to)).or_insert(l.kind.as_str());
        if edge_rank(&l.kind) < edge_rank(e) {
            *e = l.kind.as_str();
        }
    }
    best.into_iter()
        .map(|((from, to), kind)| FlowEdge {
            from: from.to_string(),
            to: to.to_string(),
            kind: kind.to_string(),
        })
        .collect()
}

fn entry_points(g: &Group<'_>) -> Vec<EntryPoint> {
    let mut out: Vec<EntryPoint> = g
        .entries
        .iter()
        .map(|f| {
            let (kind, name, method, path) = match f.kind {
                FindingKind::Route => (
                    ENTRY_ROUTE,
                    format!("{} {}", f.detail, f.name),
                    Some(f.detail.clone()),
                    Some(f.name.clone()),
                ),
                FindingKind::Page => (ENTRY_PAGE, f.name.clone(), None, Some(f.name.clone())),
                FindingKind::JobConsumer => (ENTRY_JOB, f.name.clone(), None, None),
                FindingKind::Schedule => (ENTRY_SCHEDULE, f.name.clone(), None, None),
                _ => (ENTRY_CLI, f.name.clone(), None, None),
            };
            EntryPoint {
                kind: kind.to_string(),
                name,
                file: f.file.clone(),
                line: f.line,
                framework: f.framework.clone(),
                method,
                path,
            }
        })
        .collect();
    out.sort();
    out.dedup_by(|a, b| a.kind == b.kind && a.name == b.name && a.file == b.file);
    out
}

fn push_item(list: &mut Vec<FlowItem>, kind: &str, name: &str, file: &str) {
    if !list.iter().any(|i| i.kind == kind && i.name == name) {
        list.push(FlowItem {
            kind: kind.to_string(),
            name: name.to_string(),
            file: file.to_string(),
        });
    }
}

fn data_flow(findings: &[&Finding], entries: &[EntryPoint]) -> DataFlow {
    let mut df = DataFlow::default();
    for e in entries {
        match e.kind.as_str() {
            ENTRY_ROUTE => {
                push_item(&mut df.inputs, "httpRequest", &e.name, &e.file);
                push_item(&mut df.outputs, "httpResponse", &e.name, &e.file);
            }
            ENTRY_PAGE => push_item(&mut df.outputs, "page", &e.name, &e.file),
            ENTRY_JOB => push_item(&mut df.inputs, "jobPayload", &e.name, &e.file),
            ENTRY_SCHEDULE => push_item(&mut df.inputs, "schedule", &e.name, &e.file),
            _ => {}
        }
    }
    // Only reached findings arrive here, so every store is one the code uses: a model
    // reached through its definition, a client through its import, a table through SQL.
    for f in findings {
        match f.kind {
            FindingKind::EnvInput => push_item(&mut df.inputs, "env", &f.name, &f.file),
            FindingKind::CliArg => push_item(&mut df.inputs, "cliArg", &f.name, &f.file),
            FindingKind::External => push_item(&mut df.externals, &f.detail, &f.name, &f.file),
            FindingKind::JobProducer => push_item(&mut df.outputs, "job", &f.name, &f.file),
            FindingKind::Output => push_item(&mut df.outputs, &f.detail, &f.name, &f.file),
            FindingKind::Infra => push_item(&mut df.infrastructure, &f.detail, &f.name, &f.file),
            _ => {}
        }
    }
    for f in findings.iter().filter(|f| f.kind == FindingKind::Store) {
        push_item(&mut df.stores, &f.framework, &f.name, &f.file);
    }
    df
}

fn key_files(det: &Detections, g: &Group<'_>, gathered: &BTreeMap<String, usize>) -> Vec<String> {
    let mut out: Vec<String> = g.seeds.iter().cloned().collect();
    let mut rest: Vec<(u8, usize, &String)> = gathered
        .iter()
        .filter(|(f, _)| !g.seeds.contains(*f))
        .map(|(f, d)| {
            let notable = det.in_file(f).any(|x| {
                matches!(
                    x.kind,
                    FindingKind::Store
                        | FindingKind::External
                        | FindingKind::JobProducer
                        | FindingKind::JobConsumer
                        | FindingKind::Output
                        | FindingKind::RouteHandler
                )
            });
            (u8::from(!notable), *d, f)
        })
        .collect();
    rest.sort();
    out.extend(rest.into_iter().map(|(_, _, f)| f.clone()));
    out.truncate(MAX_KEY_FILES);
    out
}
