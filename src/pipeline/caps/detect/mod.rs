//! Detectors: turn parsed files (plus a cheap scan of their text) into findings.
//!
//! A finding is one fact a person would name when explaining an app: "POST /users is served
//! here", "this worker consumes the `email` queue", "User is a Prisma model used here",
//! "STRIPE_KEY is read from the environment". Links are the cross-file relations the import
//! graph cannot show: a producer enqueueing into a worker, a router mounted under a prefix,
//! a page calling an API route.
//!
//! Detection runs in two phases. The local phase looks at one file at a time (in parallel);
//! the global phase resolves what needs the whole snapshot (queue variables defined in one
//! file and used in another, mount prefixes, task names, configuration files).

mod entry;
mod infra;
mod jobs;
mod risks;
mod services;
mod stores;

pub use entry::{join_path, path_matches};
pub use infra::{BROKER as INFRA_BROKER, CACHE as INFRA_CACHE};
pub use services::CLIENT as STORE_CLIENT;
pub use stores::{DEFINED as STORE_DEFINED, USED as STORE_USED};

use super::scan::Scanned;
use super::CapsInput;
use crate::pipeline::model::{FileRecord, Language};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Bumped whenever a local detector changes what it finds in a file (a new rule, a changed
/// pattern), so per-file results a caller kept from an older version are never reused
/// (see [`detect_reusing`]).
pub const DETECT_VERSION: u32 = 1;

/// Files larger than this are not text-scanned (generated or minified code says little).
pub const MAX_SCAN_BYTES: usize = 2 * 1024 * 1024;

/// What a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FindingKind {
    /// An HTTP endpoint declared in this file; `name` is the full path (mount prefixes
    /// applied), `detail` the method.
    Route,
    /// A UI page; `name` is its URL path.
    Page,
    /// This file holds the handler of a route declared elsewhere (Django views, controller
    /// modules); `name` is the handler, `detail` is `METHOD path`.
    RouteHandler,
    /// A job queue is defined here; `name` is the queue.
    JobQueue,
    /// Work is enqueued here; `name` is the queue or task, `detail` the job name if any.
    JobProducer,
    /// Work is consumed here (a worker, a task function); `name` is the queue or task.
    JobConsumer,
    /// A periodic trigger; `name` is what runs, `detail` when.
    Schedule,
    /// A data model, table or database client; `name` is the model/table/database.
    Store,
    /// An external service reached through an SDK or HTTP client; `detail` is the category.
    External,
    /// An environment variable read; `name` is the variable.
    EnvInput,
    /// A command-line entry point; `name` is the command.
    Cli,
    /// A command-line option or argument; `name` as declared (`--count`).
    CliArg,
    /// A side effect leaving the process (file write, email, SMS, console).
    Output,
    /// A message broker or cache the app runs on; `name` is the server (`Redis`,
    /// `RabbitMQ`), `detail` is `broker` or `cache`, `framework` what configures it.
    Infra,
}

/// One detected fact, located in a file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// Repo-relative path of the file the fact is in.
    pub file: String,
    /// 1-based line (1 when the fact is about the whole file).
    pub line: u32,
    /// What kind of fact.
    pub kind: FindingKind,
    /// The fact's main label (path, queue, model, variable, command …).
    pub name: String,
    /// Library or convention it was recognised by (`express`, `bullmq`, `prisma`, `click`).
    pub framework: String,
    /// Secondary label (HTTP method, schedule, category …); may be empty.
    pub detail: String,
}

/// A cross-file relation that is not an import.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Link {
    /// File that acts.
    pub from: String,
    /// File acted upon.
    pub to: String,
    /// One of the `LINK_*` constants.
    pub kind: String,
}

/// A producer file enqueues work that a consumer file processes.
pub const LINK_ENQUEUE: &str = "enqueue";
/// A scheduler file triggers a task defined in another file.
pub const LINK_SCHEDULE: &str = "schedule";
/// A client file calls an HTTP route served by another file of the snapshot.
pub const LINK_HTTP: &str = "http";
/// A file mounts a router of another file (Express `use`, FastAPI `include_router`, Flask
/// blueprints).
pub const LINK_MOUNT: &str = "mount";
/// A Django URLconf `include()`s another URLconf.
pub const LINK_INCLUDE: &str = "include";

/// True for the link kinds that hand work to another process or request, so a capability
/// follows them even into another capability's entry file.
pub fn is_handoff(kind: &str) -> bool {
    matches!(kind, LINK_ENQUEUE | LINK_SCHEDULE | LINK_HTTP)
}

/// A factual risk found in a file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Risk {
    /// Stable code (`eval`, `shell`, `sql-injection`, `secret`, …).
    pub code: String,
    /// 1-based line, 0 for whole-file risks.
    pub line: u32,
    /// Human-readable message, never containing the secret itself.
    pub message: String,
}

/// Per-file facts that are not findings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileFacts {
    /// Risks, ordered by line.
    pub risks: Vec<Risk>,
    /// Number of TODO/FIXME/HACK/XXX comments.
    pub todos: u32,
    /// URL prefix under which this file's routes are served, when known.
    pub prefix: Option<String>,
    /// The variable the file's own router prefix belongs to (`router` of
    /// `router = APIRouter(prefix=…)`), so routes of another receiver in the same file
    /// (`@app.get`) do not get it. Internal to detection.
    #[serde(skip)]
    pub prefix_owner: Option<String>,
}

/// Everything the detectors found in a snapshot; input of capabilities and summaries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Detections {
    /// Findings, sorted by file, line, kind, name.
    pub findings: Vec<Finding>,
    /// Cross-file links, sorted and unique.
    pub links: Vec<Link>,
    /// Per-file facts for every file that was scanned.
    pub facts: BTreeMap<String, FileFacts>,
}

impl Detections {
    /// Findings of `file`, in order.
    pub fn in_file(&self, file: &str) -> std::slice::Iter<'_, Finding> {
        let start = self.findings.partition_point(|f| f.file.as_str() < file);
        let end = self.findings.partition_point(|f| f.file.as_str() <= file);
        self.findings[start..end.max(start)].iter()
    }
}

/// Something the local phase saw that only the whole snapshot can resolve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "camelCase")]
pub(crate) enum Pending {
    /// `const var = new Queue('queue')`.
    QueueVar { var: String, queue: String },
    /// `receiver.add(…)` / `receiver.process(…)`.
    QueueCall {
        receiver: String,
        consume: bool,
        job: String,
        line: u32,
    },
    /// `task.delay()`, `send_task('a.b.task')`: enqueue a task known by name.
    TaskCall { task: String, line: u32 },
    /// RQ `q.enqueue(func)`: `func` is resolved through this file's imports.
    RqEnqueue { func: String, line: u32 },
    /// A schedule that triggers a task defined elsewhere.
    ScheduleTask { task: String },
    /// `app.use('/p', router)`, `include_router(r, prefix=…)`: mount `ident`'s file at `prefix`.
    Mount { ident: String, prefix: String },
    /// Django `path('p/', include('a.urls'))`.
    Include { module: String, prefix: String },
    /// `fetch('/api/x')`: a call to an HTTP path that may be served in the snapshot.
    ApiCall { path: String },
}

/// What the local phase produced for one file: a function of the file's text and its resolved
/// record only, so a caller may keep it (by content, see [`detect_reusing`]) and hand it back
/// for an unchanged file instead of reading and scanning the file again.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "StoredLocal", into = "StoredLocal")]
pub struct Local {
    pub(crate) findings: Vec<Finding>,
    pub(crate) pending: Vec<Pending>,
    pub(crate) facts: FileFacts,
}

/// The stored shape of a [`Local`]: `FileFacts` leaves out `prefix_owner` on the wire of the
/// artifacts, but the global phase needs it, so a kept result carries it beside.
#[derive(Serialize, Deserialize)]
struct StoredLocal {
    #[serde(default)]
    findings: Vec<Finding>,
    #[serde(default)]
    pending: Vec<Pending>,
    facts: FileFacts,
    #[serde(default)]
    prefix_owner: Option<String>,
}

impl From<StoredLocal> for Local {
    fn from(s: StoredLocal) -> Self {
        let mut facts = s.facts;
        facts.prefix_owner = s.prefix_owner;
        Local {
            findings: s.findings,
            pending: s.pending,
            facts,
        }
    }
}

impl From<Local> for StoredLocal {
    fn from(l: Local) -> Self {
        let prefix_owner = l.facts.prefix_owner.clone();
        StoredLocal {
            findings: l.findings,
            pending: l.pending,
            facts: l.facts,
            prefix_owner,
        }
    }
}

/// Local-phase results an earlier run kept, by the file's position in `CapsInput::files`
/// (`None`: scan the file now).
pub type ReuseFn<'a> = dyn Fn(usize, &FileRecord) -> Option<Local> + Sync + 'a;

/// What [`detect_reusing`] computed afresh: `(position in CapsInput::files, result)`.
pub type FreshLocals = Vec<(usize, Local)>;

/// One file as the detectors see it.
pub(crate) struct Ctx<'a> {
    pub rec: &'a FileRecord,
    pub sc: &'a Scanned,
}

impl Ctx<'_> {
    /// True when the file imports package `pkg` (npm name, or top-level Python module),
    /// judged by the resolver's `package` or, failing that, the raw specifier.
    pub fn imports(&self, pkg: &str) -> bool {
        self.rec.imports.iter().any(|i| import_matches(i, pkg))
    }

    /// True when the file imports any of `pkgs`.
    pub fn imports_any(&self, pkgs: &[&str]) -> bool {
        pkgs.iter().any(|p| self.imports(p))
    }

    /// A finding in this file.
    pub fn finding(
        &self,
        kind: FindingKind,
        line: u32,
        name: &str,
        framework: &str,
        detail: &str,
    ) -> Finding {
        Finding {
            file: self.rec.path.clone(),
            line,
            kind,
            name: name.to_string(),
            framework: framework.to_string(),
            detail: detail.to_string(),
        }
    }

    /// True for Python files.
    pub fn is_py(&self) -> bool {
        self.rec.language == Language::Py
    }
}

/// True when import `i` names package `pkg` (`pkg` ending in `/` matches a scope prefix).
pub(crate) fn import_matches(i: &crate::pipeline::model::Import, pkg: &str) -> bool {
    let raw = i.raw.as_str();
    if let Some(scope) = pkg.strip_suffix('/') {
        return raw.starts_with(pkg) || i.package.as_deref().is_some_and(|p| p.starts_with(scope));
    }
    if i.level > 0 || raw.starts_with('.') {
        return false;
    }
    i.package.as_deref() == Some(pkg)
        || raw == pkg
        || raw
            .strip_prefix(pkg)
            .is_some_and(|r| r.starts_with('/') || r.starts_with('.'))
}

/// Runs every detector over the snapshot.
pub fn detect(input: &CapsInput<'_>) -> Detections {
    detect_reusing(input, &|_, _| None).0
}

/// [`detect`], taking the local phase's result of a file from `reuse` where it has one (the
/// file is then neither read nor scanned), and returning the results it computed afresh.
/// The caller must only reuse a result for a file whose text and resolved record are the
/// ones it was computed from; the outcome is then the same as [`detect`]'s.
pub fn detect_reusing(input: &CapsInput<'_>, reuse: &ReuseFn<'_>) -> (Detections, FreshLocals) {
    // Each file is scanned, run through the local detectors, and its scan dropped: at scale
    // the scans of every file would be about as large as the repository. The global phase
    // scans again the few files it needs ([`Global::scan`]).
    let locals: Vec<(Option<Local>, bool)> = input
        .files
        .par_iter()
        .enumerate()
        .map(|(i, rec)| {
            if !is_scanned(rec) {
                return (None, false);
            }
            if let Some(kept) = reuse(i, rec) {
                return (Some(kept), false);
            }
            (local_phase(input, rec), true)
        })
        .collect();
    let mut fresh = Vec::new();
    for (i, (local, is_fresh)) in locals.iter().enumerate() {
        if let (Some(local), true) = (local, is_fresh) {
            fresh.push((i, local.clone()));
        }
    }
    (
        global_phase(input, locals.into_iter().map(|(l, _)| l)),
        fresh,
    )
}

/// The local detectors over one file's scan; `None` when the file is not scanned.
fn local_phase(input: &CapsInput<'_>, rec: &FileRecord) -> Option<Local> {
    let sc = scan_of(input, rec)?;
    let ctx = Ctx { rec, sc: &sc };
    let mut local = Local::default();
    risks::scan(&ctx, &mut local);
    services::scan(&ctx, &mut local);
    infra::scan(&ctx, &mut local);
    jobs::scan(&ctx, &mut local);
    stores::scan(&ctx, &mut local);
    entry::scan(&ctx, &mut local);
    Some(local)
}

/// What needs the whole snapshot, over every file's local result (in `input.files` order).
fn global_phase(input: &CapsInput<'_>, locals: impl Iterator<Item = Option<Local>>) -> Detections {
    let mut g = Global::new(input);
    for (rec, local) in input.files.iter().zip(locals) {
        if let Some(local) = local {
            g.findings.extend(local.findings);
            for p in local.pending {
                g.pending.push((rec.path.clone(), p));
            }
            g.facts.insert(rec.path.clone(), local.facts);
        }
    }
    jobs::resolve(&mut g);
    stores::resolve(&mut g);
    entry::resolve(&mut g);

    let mut findings = g.findings;
    findings.sort();
    findings.dedup();
    let links: Vec<Link> = g.links.into_iter().collect();
    tracing::debug!(
        findings = findings.len(),
        links = links.len(),
        "capability detectors finished"
    );
    Detections {
        findings,
        links,
        facts: g.facts,
    }
}

/// True for the files the local phase looks at: code that was parsed.
pub fn is_scanned(rec: &FileRecord) -> bool {
    !rec.skipped && matches!(rec.language, Language::Js | Language::Ts | Language::Py)
}

/// The scan of a code file the detectors read; `None` for other files, skipped, unreadable
/// or too large ones.
fn scan_of(input: &CapsInput<'_>, rec: &FileRecord) -> Option<Scanned> {
    if !is_scanned(rec) {
        return None;
    }
    let text = (input.source)(&rec.path)?;
    (text.len() <= MAX_SCAN_BYTES).then(|| Scanned::new(&text, rec.language))
}

/// State of the global phase.
pub(crate) struct Global<'a> {
    pub input: &'a CapsInput<'a>,
    /// Files by path.
    pub files: BTreeMap<&'a str, &'a FileRecord>,
    /// Scans made again for the global phase (see [`Global::scan`]).
    scans: std::cell::RefCell<std::collections::HashMap<String, Option<std::rc::Rc<Scanned>>>>,
    pub findings: Vec<Finding>,
    pub pending: Vec<(String, Pending)>,
    pub links: BTreeSet<Link>,
    pub facts: BTreeMap<String, FileFacts>,
}

impl<'a> Global<'a> {
    fn new(input: &'a CapsInput<'a>) -> Self {
        let files = input.files.iter().map(|r| (r.path.as_str(), r)).collect();
        Self {
            input,
            files,
            scans: Default::default(),
            findings: Vec::new(),
            pending: Vec::new(),
            links: BTreeSet::new(),
            facts: BTreeMap::new(),
        }
    }

    /// Adds a link unless it is a self-loop.
    pub fn link(&mut self, from: &str, to: &str, kind: &str) {
        if from != to {
            self.links.insert(Link {
                from: from.to_string(),
                to: to.to_string(),
                kind: kind.to_string(),
            });
        }
    }

    /// The internal file that `ident` (a name used in `file`) was imported from: an import
    /// that lists the name, else one whose statement line mentions it as a word.
    pub fn resolve_ident(&self, file: &str, ident: &str) -> Option<String> {
        let rec = self.files.get(file)?;
        let internal = || rec.imports.iter().filter(|i| i.resolved.is_some());
        if let Some(i) = internal().find(|i| i.names.iter().any(|n| n == ident)) {
            return i.resolved.clone();
        }
        let sc = self.scan(file)?;
        internal()
            .find(|i| {
                sc.code
                    .lines()
                    .nth(i.line.saturating_sub(1) as usize)
                    .is_some_and(|l| contains_word(l, ident))
            })
            .and_then(|i| i.resolved.clone())
    }

    /// The file of a dotted Python module (`blog.urls`), preferring the shortest path.
    pub fn resolve_module(&self, module: &str) -> Option<String> {
        let rel = module.replace('.', "/");
        let candidates = [format!("{rel}.py"), format!("{rel}/__init__.py")];
        self.files
            .keys()
            .filter(|p| {
                candidates
                    .iter()
                    .any(|c| *p == c || p.ends_with(&format!("/{c}")))
            })
            .min_by_key(|p| (p.len(), **p))
            .map(|p| p.to_string())
    }

    /// The scan of `path` (see [`scan_of`]), made once per file and kept for the phase.
    pub fn scan(&self, path: &str) -> Option<std::rc::Rc<Scanned>> {
        if let Some(sc) = self.scans.borrow().get(path) {
            return sc.clone();
        }
        let sc = self
            .files
            .get(path)
            .and_then(|rec| scan_of(self.input, rec))
            .map(std::rc::Rc::new);
        self.scans.borrow_mut().insert(path.to_string(), sc.clone());
        sc
    }

    /// Text of a file through the caller's source function.
    pub fn source(&self, path: &str) -> Option<String> {
        (self.input.source)(path)
    }
}

/// True when `hay` contains `word` delimited by non-identifier characters.
pub(crate) fn contains_word(hay: &str, word: &str) -> bool {
    let b = hay.as_bytes();
    hay.match_indices(word).any(|(p, _)| {
        let after = p + word.len();
        (p == 0 || !super::scan::is_ident(b[p - 1]))
            && (after >= b.len() || !super::scan::is_ident(b[after]))
    })
}

/// File name without directories and extension (`src/routes/users.ts` gives `users`).
pub(crate) fn stem(path: &str) -> &str {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.split('.').next().unwrap_or(name)
}

/// True for paths that are tests (their entry points are not the app's).
pub fn is_test_path(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    path.split('/').any(|seg| {
        matches!(
            seg,
            "test" | "tests" | "__tests__" | "spec" | "e2e" | "__mocks__"
        )
    }) || name.starts_with("test_")
        || name.ends_with("_test.py")
        || name == "conftest.py"
        || name.contains(".test.")
        || name.contains(".spec.")
}

#[cfg(test)]
mod risks_tests;
#[cfg(test)]
mod tests;
