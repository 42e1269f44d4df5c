//! Capabilities (docs/artifacts.md#capabilities): what the code does, end to end, built only from
//! findings and the import graph.
//!
//! Algorithm:
//! 1. **Units.** Entry findings become groups. Routes group by the unit developers use (a
//!    mounted router, controller, blueprint, Django URLconf; see [`units`]), never by file
//!    or by path alone: a unit's routes across files stay together and two routers never
//!    mix. Pages group by resource, queue workers by queue, task functions by the file
//!    defining them, schedules by file, command-line programs by declared name (package.json
//!    `bin`, console scripts) or by file, absorbing the unnamed CLI files of the same
//!    program. Test files never seed.
//! 2. **Reach.** From each entry point's handler, by the names the code uses, into the
//!    files and definitions it reaches ([`reach`], which also says how deep and why).
//!    Stores, environment variables, external services and infrastructure (brokers,
//!    caches) come only from what is reached. Hand-offs (enqueue, schedule, internal HTTP
//!    calls) add their target file to the capability, not its data.
//! 3. **Orchestrators.** Files outside the reached set that import, mount, include,
//!    enqueue into, schedule or call the entry files.
//! 4. **Lanes** by detector kind first (routes → api, workers/schedules → workers, pages and
//!    React components → web), then by path, api and worker patterns before web; test files
//!    that exercise the capability form their own lane ([`tests_lane`]).
//! 5. **Flows**: control flow among the capability's files (the most specific relation per
//!    pair), data flow from the reached findings, steps from both.
//! 6. **No duplicates.** Two capabilities with the same content (key files, lanes, flows,
//!    steps) are merged into one; [`duplicate_pairs`] is the check, run until none remain.
//! 7. **Identity and order.** id = first 16 hex digits of blake3 of the group key; ranked by
//!    reach (reached files), then entry points, then name.

pub mod describe;
mod flows;
pub(crate) mod reach;
pub mod tests_lane;
pub(crate) mod units;

use super::detect::{stem, Detections, Finding, FindingKind};
use super::CapsInput;
use flows::Graph;
use reach::{Sources, Walker, Want};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Import depth of the file walk that decides which unnamed CLI files belong to a named
/// command-line program.
pub const MAX_DEPTH: usize = 3;
/// Files reached per capability at most.
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

/// Files of a capability by lane; every member file is in exactly one of web, api, workers
/// and other.
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
    /// Test files that exercise the capability (import its key files or call its routes).
    /// Not members of the capability: listed beside the four lanes above.
    #[serde(default)]
    pub tests: Vec<String>,
}

/// A directed relation between two files of a capability.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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
    /// Message brokers and caches the capability runs on; `kind` is `broker` or `cache`,
    /// `name` the server (`Redis`, `RabbitMQ`, `Memcached`, or `Message broker` when only
    /// configuration outside the code names it).
    #[serde(default)]
    pub infrastructure: Vec<FlowItem>,
}

/// One item of data flow.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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
    /// Where reaching starts: each entry point's handler (or its whole file).
    pub starts: Vec<(String, Want)>,
}

/// Builds the capabilities of a snapshot from its detections and import graph.
pub fn build_capabilities(input: &CapsInput<'_>, det: &Detections) -> CapabilitiesDoc {
    let graph = Graph::new(input, det);
    let sources = Sources::new(input);
    let mut groups = group_entries(det, &graph, &sources);
    let seed_groups = |groups: &[Group<'_>]| -> HashMap<String, usize> {
        let mut m: HashMap<String, usize> = HashMap::new();
        for s in groups.iter().flat_map(|o| o.seeds.iter()) {
            *m.entry(s.clone()).or_default() += 1;
        }
        m
    };
    let counts = seed_groups(&groups);
    let counts_ref: HashMap<&str, usize> = counts.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let mut built: Vec<(usize, Capability)> = groups
        .iter()
        .map(|g| build_one(det, &graph, &sources, &counts_ref, g))
        .collect();
    // Identical content means one capability seen twice: merge until none remain.
    while let Some((i, j)) = duplicate_pairs_of(built.iter().map(|(_, c)| c))
        .first()
        .copied()
    {
        tracing::debug!(a = %built[i].1.name, b = %built[j].1.name, "merging identical capabilities");
        let gj = groups.remove(j);
        built.remove(j);
        merge_into(&mut groups[i], gj, &sources);
        let counts = seed_groups(&groups);
        let counts_ref: HashMap<&str, usize> =
            counts.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        built[i] = build_one(det, &graph, &sources, &counts_ref, &groups[i]);
    }
    built.sort_by(|(ra, a), (rb, b)| {
        rb.cmp(ra)
            .then(b.entry_points.len().cmp(&a.entry_points.len()))
            .then(a.name.cmp(&b.name))
            .then(a.id.cmp(&b.id))
    });
    let mut capabilities: Vec<Capability> = built.into_iter().map(|(_, c)| c).collect();
    distinct_names(&mut capabilities);
    tests_lane::link_tests(&sources, input.files, &mut capabilities);
    tracing::debug!(capabilities = capabilities.len(), "capabilities built");
    CapabilitiesDoc { capabilities }
}

/// Gives capabilities that share a name a qualifier a reader can tell apart: the path their
/// routes share (`Helpdesk API (/api)`), else the file of their first entry point; a name
/// still shared after that gets a number.
fn distinct_names(capabilities: &mut [Capability]) {
    let count = |caps: &[Capability]| {
        let mut names: BTreeMap<String, usize> = BTreeMap::new();
        for c in caps {
            *names.entry(c.name.clone()).or_default() += 1;
        }
        names
    };
    let names = count(capabilities);
    for c in capabilities.iter_mut() {
        if names[&c.name] < 2 {
            continue;
        }
        let qualifier =
            shared_path(&c.entry_points).or_else(|| c.entry_points.first().map(|e| e.file.clone()));
        if let Some(q) = qualifier {
            c.name = format!("{} ({q})", c.name);
        }
    }
    let names = count(capabilities);
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for c in capabilities.iter_mut() {
        if names[&c.name] < 2 {
            continue;
        }
        let n = seen.entry(c.name.clone()).or_default();
        *n += 1;
        if *n > 1 {
            c.name = format!("{} #{n}", c.name);
        }
    }
}

/// The leading path segments every route entry point shares (`/api`), when there are some.
fn shared_path(entries: &[EntryPoint]) -> Option<String> {
    let mut paths = entries.iter().filter_map(|e| e.path.as_deref());
    let first: Vec<&str> = paths.next()?.split('/').filter(|s| !s.is_empty()).collect();
    let mut n = first.len();
    for p in paths {
        let segs: Vec<&str> = p.split('/').filter(|s| !s.is_empty()).collect();
        n = n.min(first.iter().zip(&segs).take_while(|(a, b)| a == b).count());
    }
    // A path's own last segment is not shared by its siblings (`/api/x` alone → `/api`).
    if entries.len() == 1 {
        n = n.min(first.len().saturating_sub(1));
    }
    (n > 0).then(|| format!("/{}", first[..n].join("/")))
}

/// Reaches from a group's entry points and assembles its capability; returns it with its
/// reach (number of files).
fn build_one(
    det: &Detections,
    graph: &Graph<'_>,
    sources: &Sources<'_>,
    seed_groups: &HashMap<&str, usize>,
    g: &Group<'_>,
) -> (usize, Capability) {
    let walker = Walker {
        sources,
        det,
        seed_groups,
        seeds: &g.seeds,
    };
    let reach = walker.reach(g.starts.clone());
    let findings = walker.findings(det, &reach);
    let mut gathered = reach.files.clone();
    for seed in &g.seeds {
        gathered.entry(seed.clone()).or_insert(0);
    }
    for (from, to) in walker.handoffs(&findings, &reach) {
        let d = gathered.get(&from).copied().unwrap_or(0) + 1;
        if gathered.len() < MAX_GATHERED || gathered.contains_key(&to) {
            let e = gathered.entry(to).or_insert(d);
            *e = (*e).min(d);
        }
    }
    (
        gathered.len(),
        flows::assemble(det, graph, g, &gathered, &findings),
    )
}

/// What two capabilities are compared on: everything a reader sees but their identity,
/// entry points and the sentences naming them.
#[derive(PartialEq, Eq, Hash)]
struct Content<'c> {
    key_files: &'c [String],
    lanes: [&'c [String]; 4],
    control_flow: &'c [FlowEdge],
    stores: &'c [FlowItem],
    externals: &'c [FlowItem],
    infrastructure: &'c [FlowItem],
    config: Vec<&'c FlowItem>,
    steps: Vec<(&'c str, &'c [String])>,
}

fn content(c: &Capability) -> Content<'_> {
    let l = &c.lanes;
    Content {
        key_files: &c.key_files,
        lanes: [&l.web, &l.api, &l.workers, &l.other],
        control_flow: &c.control_flow,
        stores: &c.data_flow.stores,
        externals: &c.data_flow.externals,
        infrastructure: &c.data_flow.infrastructure,
        config: c
            .data_flow
            .inputs
            .iter()
            .filter(|i| matches!(i.kind.as_str(), "env" | "cliArg"))
            .collect(),
        steps: c
            .steps
            .iter()
            .map(|s| (s.title.as_str(), s.files.as_slice()))
            .collect(),
    }
}

fn duplicate_pairs_of<'c>(caps: impl Iterator<Item = &'c Capability>) -> Vec<(usize, usize)> {
    let mut first: HashMap<Content<'c>, usize> = HashMap::new();
    let mut out = Vec::new();
    for (j, c) in caps.enumerate() {
        match first.entry(content(c)) {
            std::collections::hash_map::Entry::Occupied(e) => out.push((*e.get(), j)),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(j);
            }
        }
    }
    out
}

/// Pairs of capabilities (indexes) whose content is identical: same key files, lanes,
/// control flow, stores, externals, infrastructure, configuration inputs and steps. The
/// builder merges such pairs, so on its output this is always empty; it is public so a
/// test can check that.
pub fn duplicate_pairs(doc: &CapabilitiesDoc) -> Vec<(usize, usize)> {
    duplicate_pairs_of(doc.capabilities.iter())
}

fn merge_into<'a>(into: &mut Group<'a>, other: Group<'a>, sources: &Sources<'_>) {
    let mut keys = [into.key.clone(), other.key];
    keys.sort();
    into.key = keys.join("+");
    into.entries.extend(other.entries);
    into.seeds.extend(other.seeds);
    into.starts.extend(other.starts);
    if into.kind == GroupKind::Api {
        into.label = api_label_of(into, sources);
    }
}

/// Queue-based job frameworks group consumers by queue; the others by defining file.
const QUEUE_FRAMEWORKS: &[&str] = &["bull", "bullmq", "bee-queue", "agenda"];

/// The unit key of an API group (`api:<unit>` or merged keys).
fn api_label_of(g: &Group<'_>, sources: &Sources<'_>) -> String {
    let paths: Vec<&str> = g.entries.iter().map(|e| e.name.as_str()).collect();
    let unit = g
        .key
        .split('+')
        .next()
        .and_then(|k| k.strip_prefix("api:"))
        .unwrap_or("");
    units::api_label(sources, unit, &paths)
}

/// The route record behind a Route finding.
fn route_of<'r>(
    rec: &'r crate::pipeline::model::FileRecord,
    f: &Finding,
) -> Option<&'r crate::pipeline::model::Route> {
    let mut same = rec
        .routes
        .iter()
        .filter(|r| r.line == f.line && r.method == f.detail);
    let first = same.clone().next();
    same.find(|r| f.name.ends_with(r.path.trim_end_matches('/')))
        .or(first)
}

fn group_entries<'a>(
    det: &'a Detections,
    graph: &Graph<'_>,
    sources: &Sources<'_>,
) -> Vec<Group<'a>> {
    let mut groups: BTreeMap<String, Group<'a>> = BTreeMap::new();
    for f in det.findings.iter() {
        let Some(rec) = graph.records.get(f.file.as_str()) else {
            continue;
        };
        if tests_lane::is_test_file(rec) {
            continue;
        }
        let mut start = (f.file.clone(), Want::Whole);
        let (kind, key, label) = match f.kind {
            FindingKind::Route => {
                let unit = match route_of(rec, f) {
                    Some(r) => {
                        let site = units::route_site(sources, rec, r);
                        start.1 = site.anchor;
                        site.unit
                    }
                    None => format!("{}:", f.file),
                };
                (GroupKind::Api, format!("api:{unit}"), String::new())
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
            starts: Vec::new(),
        });
        g.entries.push(f);
        g.seeds.insert(f.file.clone());
        if !g.starts.contains(&start) {
            g.starts.push(start);
        }
    }
    merge_clis(&mut groups, graph);
    let mut out: Vec<Group<'a>> = groups.into_values().collect();
    for g in out.iter_mut().filter(|g| g.kind == GroupKind::Api) {
        g.label = api_label_of(g, sources);
    }
    out
}

/// One program, one capability: an unnamed CLI file that reaches, or is reached from, a
/// named CLI program belongs to it (`__main__.py` importing the console script's module, an
/// argparse parser in the script's own module), and named programs declared on the same
/// file (a pyproject script and a setup.cfg alias) are one.
fn merge_clis(groups: &mut BTreeMap<String, Group<'_>>, graph: &Graph<'_>) {
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
            .iter()
            .filter(|(k, g)| {
                if **k == key || g.kind != GroupKind::Cli {
                    return false;
                }
                if !k.starts_with("cli:file:") {
                    return !g.seeds.is_disjoint(&seeds);
                }
                g.seeds.iter().any(|file| {
                    let back = graph.gather(&BTreeSet::from([file.clone()]), &BTreeSet::new());
                    reach.contains_key(file) || seeds.iter().any(|s| back.contains_key(s))
                })
            })
            .map(|(k, _)| k.clone())
            .collect();
        for k in absorbed {
            if let Some(g) = groups.remove(&k) {
                if let Some(target) = groups.get_mut(&key) {
                    target.entries.extend(g.entries);
                    target.seeds.extend(g.seeds);
                    for s in g.starts {
                        if !target.starts.contains(&s) {
                            target.starts.push(s);
                        }
                    }
                }
            }
        }
    }
}

/// The seed files' stem, used by names when nothing better is known.
pub(crate) fn seed_stem(g: &Group<'_>) -> String {
    g.seeds
        .iter()
        .next()
        .map(|s| stem(s).to_string())
        .unwrap_or_default()
}
