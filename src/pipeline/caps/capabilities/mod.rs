//! Capabilities (DESIGN §6): what the code does, end to end, built only from findings and
//! the import graph.
//!
//! Algorithm:
//! 1. **Seeds.** Entry findings become groups: routes by resource (first path segment after
//!    `api` and version segments, so `/api/users` and `/api/users/[id]` form "Users API"),
//!    pages likewise, queue workers by queue, task functions by the file defining them,
//!    schedules by file, command-line programs by declared name (package.json `bin`,
//!    console scripts) or by file, absorbing unnamed CLI files the named one reaches. Test
//!    files never seed.
//! 2. **Gathering.** Breadth-first from the seed files along internal import edges, depth ≤
//!    [`MAX_DEPTH`], at most [`MAX_GATHERED`] files. An import edge into another
//!    capability's seed is not followed (mounting a router is wiring, not doing), but a
//!    hand-off link is (enqueueing to a worker, scheduling a task, a page fetching an API
//!    route): that is where the flow continues.
//! 3. **Orchestrators.** Files outside the gathered set that import, mount, include,
//!    enqueue into, schedule or call the seeds.
//! 4. **Lanes** by detector kind first (routes → api, workers/schedules → workers, pages and
//!    React components → web), then by path, api and worker patterns before web.
//! 5. **Flows**: control flow among the capability's files (the most specific relation per
//!    pair), data flow from the gathered files' findings, steps from both.
//! 6. **Identity and order.** id = first 16 hex digits of blake3 of the group key; ranked by
//!    reach (gathered files), then entry points, then name.

pub mod describe;

use super::detect::{
    is_handoff, is_test_path, stem, Detections, Finding, FindingKind, LINK_ENQUEUE, LINK_HTTP,
    LINK_INCLUDE, LINK_MOUNT, LINK_SCHEDULE, STORE_CLIENT, STORE_USED,
};
use super::CapsInput;
use crate::pipeline::model::FileRecord;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Import depth explored from the seed files.
pub const MAX_DEPTH: usize = 3;
/// Files gathered per capability at most.
pub const MAX_GATHERED: usize = 150;
/// Key files listed per capability at most.
pub const MAX_KEY_FILES: usize = 12;
/// Orchestrators listed per capability at most.
pub const MAX_ORCHESTRATORS: usize = 10;

/// The `capabilities` artifact body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CapabilitiesDoc {
    /// Capabilities, most reaching first.
    pub capabilities: Vec<Capability>,
}

/// One end-to-end function of the analysed code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Capability {
    /// Stable id: 16 hex digits of blake3 of the group key.
    pub id: String,
    /// Short human name ("Users API", "Email jobs").
    pub name: String,
    /// One or two factual sentences.
    pub purpose: String,
    /// What triggers it.
    pub entry_points: Vec<EntryPoint>,
    /// The files to read first.
    pub key_files: Vec<String>,
    /// Files that wire the entry points in or trigger them.
    pub orchestrators: Vec<String>,
    /// The capability's files by lane.
    pub lanes: Lanes,
    /// Relations among the capability's files.
    pub control_flow: Vec<FlowEdge>,
    /// Inputs, stores, externals and outputs.
    pub data_flow: DataFlow,
    /// Ordered narrative.
    pub steps: Vec<Step>,
}

/// `kind` of a route entry point.
pub const ENTRY_ROUTE: &str = "route";
/// `kind` of a page entry point.
pub const ENTRY_PAGE: &str = "page";
/// `kind` of a background job entry point.
pub const ENTRY_JOB: &str = "job";
/// `kind` of a schedule entry point.
pub const ENTRY_SCHEDULE: &str = "schedule";
/// `kind` of a command-line entry point.
pub const ENTRY_CLI: &str = "cli";

/// A trigger of a capability.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntryPoint {
    /// `route`, `page`, `job`, `schedule` or `cli`.
    pub kind: String,
    /// `GET /users`, `/dashboard`, queue or task name, command name.
    pub name: String,
    /// File declaring it.
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// Recognised by (`express`, `nextjs-app`, `bullmq`, `celery`, `click` …).
    pub framework: String,
    /// HTTP method of routes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// URL path of routes and pages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// Files of a capability by lane; every file is in exactly one lane.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lanes {
    /// Pages, components, browser code.
    pub web: Vec<String>,
    /// Route handlers and API modules.
    pub api: Vec<String>,
    /// Background workers, tasks and schedulers.
    pub workers: Vec<String>,
    /// Everything else (services, models, config, CLI).
    pub other: Vec<String>,
}

/// A directed relation between two files of a capability.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowEdge {
    /// Acting file.
    pub from: String,
    /// File acted upon.
    pub to: String,
    /// `import`, `mount`, `include`, `enqueue`, `schedule` or `http`.
    pub kind: String,
}

/// Data flow of a capability.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DataFlow {
    /// `httpRequest`, `jobPayload`, `schedule`, `cliArg`, `env`.
    pub inputs: Vec<FlowItem>,
    /// Models, tables, database clients; `kind` is the ORM or client.
    pub stores: Vec<FlowItem>,
    /// External services; `kind` is the category (`payments`, `email`, `http` …).
    pub externals: Vec<FlowItem>,
    /// `httpResponse`, `page`, `job`, `file`, `email`, `sms`, `console`.
    pub outputs: Vec<FlowItem>,
}

/// One item of data flow.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowItem {
    /// What sort of item (see the [`DataFlow`] fields).
    pub kind: String,
    /// Its name.
    pub name: String,
    /// The file where it was found first.
    pub file: String,
}

/// One step of a capability's narrative.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    /// Short imperative title.
    pub title: String,
    /// The facts behind it.
    pub description: String,
    /// Files involved.
    pub files: Vec<String>,
}

/// What seeded a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum GroupKind {
    Api,
    Web,
    Job,
    Schedule,
    Cli,
}

/// Entry findings grouped into one future capability.
#[derive(Debug, Clone)]
pub(crate) struct Group<'a> {
    pub key: String,
    pub kind: GroupKind,
    pub label: String,
    pub entries: Vec<&'a Finding>,
    pub seeds: BTreeSet<String>,
}

/// The import graph and hand-off links, restricted to files of the snapshot.
pub(crate) struct Graph<'a> {
    pub records: BTreeMap<&'a str, &'a FileRecord>,
    pub imports: BTreeMap<&'a str, BTreeSet<&'a str>>,
    pub importers: BTreeMap<&'a str, BTreeSet<&'a str>>,
    pub handoffs: BTreeMap<&'a str, BTreeSet<&'a str>>,
    pub links: &'a [super::detect::Link],
}

impl<'a> Graph<'a> {
    fn new(input: &'a CapsInput<'a>, det: &'a Detections) -> Self {
        let known: BTreeSet<&str> = input.files.iter().map(|f| f.path.as_str()).collect();
        let mut imports: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        let mut importers: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for (a, b) in input.edges {
            if a != b && known.contains(a.as_str()) && known.contains(b.as_str()) {
                imports.entry(a.as_str()).or_default().insert(b.as_str());
                importers.entry(b.as_str()).or_default().insert(a.as_str());
            }
        }
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

    /// Breadth-first gathering from `seeds`; returns file → depth.
    fn gather(
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

/// Builds the capabilities of a snapshot from its detections and import graph.
pub fn build_capabilities(input: &CapsInput<'_>, det: &Detections) -> CapabilitiesDoc {
    let graph = Graph::new(input, det);
    let groups = group_entries(det, &graph);
    let all_seeds: BTreeSet<&str> = groups
        .iter()
        .flat_map(|g| g.seeds.iter().map(String::as_str))
        .collect();
    let mut built: Vec<(usize, Capability)> = groups
        .iter()
        .map(|g| {
            let others: BTreeSet<&str> = all_seeds
                .iter()
                .copied()
                .filter(|s| !g.seeds.contains(*s))
                .collect();
            let gathered = graph.gather(&g.seeds, &others);
            let reach = gathered.len();
            (reach, assemble(det, &graph, g, &gathered))
        })
        .collect();
    built.sort_by(|(ra, a), (rb, b)| {
        rb.cmp(ra)
            .then(b.entry_points.len().cmp(&a.entry_points.len()))
            .then(a.name.cmp(&b.name))
            .then(a.id.cmp(&b.id))
    });
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    for (_, c) in &built {
        *names.entry(c.name.clone()).or_default() += 1;
    }
    let capabilities = built
        .into_iter()
        .map(|(_, mut c)| {
            if names.get(&c.name).copied().unwrap_or(0) > 1 {
                if let Some(e) = c.entry_points.first() {
                    c.name = format!("{} ({})", c.name, e.file);
                }
            }
            c
        })
        .collect::<Vec<_>>();
    tracing::debug!(capabilities = capabilities.len(), "capabilities built");
    CapabilitiesDoc { capabilities }
}

/// Queue-based job frameworks group consumers by queue; the others by defining file.
const QUEUE_FRAMEWORKS: &[&str] = &["bull", "bullmq", "bee-queue", "agenda"];

fn group_entries<'a>(det: &'a Detections, graph: &Graph<'_>) -> Vec<Group<'a>> {
    let mut groups: BTreeMap<String, Group<'a>> = BTreeMap::new();
    for f in det.findings.iter().filter(|f| !is_test_path(&f.file)) {
        let (kind, key, label) = match f.kind {
            FindingKind::Route => {
                let seg = describe::resource_segment(&f.name).unwrap_or_default();
                (GroupKind::Api, format!("api:{seg}"), seg)
            }
            FindingKind::Page => {
                let seg = describe::resource_segment(&f.name).unwrap_or_default();
                (GroupKind::Web, format!("web:{seg}"), seg)
            }
            FindingKind::JobConsumer if QUEUE_FRAMEWORKS.contains(&f.framework.as_str()) => (
                GroupKind::Job,
                format!("job:queue:{}", f.name),
                f.name.clone(),
            ),
            FindingKind::JobConsumer => (
                GroupKind::Job,
                format!("job:file:{}", f.file),
                describe::file_label(&f.file),
            ),
            FindingKind::Schedule => (
                GroupKind::Schedule,
                format!("schedule:{}", f.file),
                describe::file_label(&f.file),
            ),
            FindingKind::Cli if matches!(f.detail.as_str(), "bin" | "console script") => {
                (GroupKind::Cli, format!("cli:{}", f.name), f.name.clone())
            }
            FindingKind::Cli => (
                GroupKind::Cli,
                format!("cli:file:{}", f.file),
                String::new(),
            ),
            _ => continue,
        };
        let g = groups.entry(key.clone()).or_insert_with(|| Group {
            key,
            kind,
            label,
            entries: Vec::new(),
            seeds: BTreeSet::new(),
        });
        g.entries.push(f);
        g.seeds.insert(f.file.clone());
    }
    // Unnamed CLI files that reach, or are reached from, a named CLI program belong to it
    // (`__main__.py` importing the console script's module, helpers with `__main__` guards).
    let named: Vec<String> = groups
        .values()
        .filter(|g| g.kind == GroupKind::Cli && !g.key.starts_with("cli:file:"))
        .map(|g| g.key.clone())
        .collect();
    for key in named {
        let Some(seeds) = groups.get(&key).map(|g| g.seeds.clone()) else {
            continue;
        };
        let reach = graph.gather(&seeds, &BTreeSet::new());
        let absorbed: Vec<String> = groups
            .keys()
            .filter(|k| {
                k.strip_prefix("cli:file:").is_some_and(|file| {
                    let back = graph.gather(&BTreeSet::from([file.to_string()]), &BTreeSet::new());
                    reach.contains_key(file) || seeds.iter().any(|s| back.contains_key(s))
                })
            })
            .cloned()
            .collect();
        for k in absorbed {
            if let Some(g) = groups.remove(&k) {
                if let Some(target) = groups.get_mut(&key) {
                    target.entries.extend(g.entries);
                    target.seeds.extend(g.seeds);
                }
            }
        }
    }
    groups.into_values().collect()
}

/// Turns a group and its gathered files into a capability.
fn assemble(
    det: &Detections,
    graph: &Graph<'_>,
    g: &Group<'_>,
    gathered: &BTreeMap<String, usize>,
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
    let data_flow = data_flow(det, g, gathered, &entry_points);
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
        .filter(|f| !gathered.contains_key(f) && !is_test_path(f))
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

fn data_flow(
    det: &Detections,
    g: &Group<'_>,
    gathered: &BTreeMap<String, usize>,
    entries: &[EntryPoint],
) -> DataFlow {
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
    let findings: Vec<&Finding> = gathered.keys().flat_map(|f| det.in_file(f)).collect();
    let usage = |f: &&Finding| {
        f.kind == FindingKind::Store
            && (f.detail == STORE_USED
                || f.detail == STORE_CLIENT
                || f.framework == "sql"
                || g.seeds.contains(&f.file))
    };
    let mut stores: Vec<&Finding> = findings.iter().copied().filter(usage).collect();
    if stores
        .iter()
        .all(|f| f.framework == "sql" || f.detail == STORE_CLIENT)
    {
        stores.extend(
            findings
                .iter()
                .copied()
                .filter(|f| f.kind == FindingKind::Store && !usage(f)),
        );
    }
    for f in findings {
        match f.kind {
            FindingKind::EnvInput => push_item(&mut df.inputs, "env", &f.name, &f.file),
            FindingKind::CliArg => push_item(&mut df.inputs, "cliArg", &f.name, &f.file),
            FindingKind::External => push_item(&mut df.externals, &f.detail, &f.name, &f.file),
            FindingKind::JobProducer => push_item(&mut df.outputs, "job", &f.name, &f.file),
            FindingKind::Output => push_item(&mut df.outputs, &f.detail, &f.name, &f.file),
            _ => {}
        }
    }
    for f in stores {
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

/// The seed files' stem, used by names when nothing better is known.
pub(crate) fn seed_stem(g: &Group<'_>) -> String {
    g.seeds
        .iter()
        .next()
        .map(|s| stem(s).to_string())
        .unwrap_or_default()
}
