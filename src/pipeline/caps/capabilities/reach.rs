//! What a capability's code can reach: the files, and the findings in them, that its
//! handlers actually use.
//!
//! A capability is credited with a store, an environment variable, an external service or a
//! broker only when one of its entry points reaches it, never because it sits in the same
//! file or anywhere in the snapshot. Reachability is followed by name:
//!
//! - **In the handler's own file** it starts at the handler (the route call's arguments, the
//!   decorated function, the exported `GET`), takes the identifiers it uses, and follows
//!   each to its top-level definition in the file (and the statements that configure it,
//!   such as `celery.conf.… = …`), transitively. Module-level code the handler never names
//!   (another route, a shutdown hook holding a database pool) is not reached.
//! - **Across files** an identifier bound by an import leads to the imported file, to the
//!   definition of the imported name there (`views.post_list` and `models.User` to that
//!   function or class), and on by the same rule. Where the name cannot be told (a
//!   namespace import used whole, `import './side-effect'`, a name with no top-level
//!   definition) the whole imported file is reached, and its imports followed.
//! - **Hand-offs** are not reachability: code that calls `task.delay()` reaches the task's
//!   registration (its decorators, hence the broker) but not its body, which runs in the
//!   worker's capability. Enqueue, schedule and internal HTTP links still make the target
//!   file a member of the capability (lanes, control flow), without its data flow.
//! - **Another capability's entry file** is entered only through a definition the code
//!   names; never whole, and never through the statements that wire routes onto a router
//!   (mounting a router is wiring, not doing).
//!
//! **How deep.** There is no hop limit: every hop is a name the code really uses, so a
//! handler → service → repository → client → config chain is followed to its end (the
//! usual layering is four or five hops, past the three-hop file walk this replaced). The
//! cost is bounded instead: at most [`super::MAX_GATHERED`] files and [`MAX_VISITS`]
//! definitions per capability. File-granular steps (the whole-file fallbacks above) are
//! where the result over-approximates, and they only happen where names give out.

use super::super::outline::{Outline, Span};
use super::super::CapsInput;
use crate::pipeline::caps::detect::{
    Detections, Finding, FindingKind, LINK_ENQUEUE, LINK_HTTP, LINK_SCHEDULE, STORE_DEFINED,
    STORE_USED,
};
use crate::pipeline::model::{FileRecord, ImportKind, Language};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::rc::Rc;

/// Definitions visited per capability at most (bounds pathological files).
pub const MAX_VISITS: usize = 20_000;

/// Outlines of the snapshot's code files, built on first use and shared by capabilities.
pub(crate) struct Sources<'a> {
    input: &'a CapsInput<'a>,
    records: BTreeMap<&'a str, &'a FileRecord>,
    cache: RefCell<HashMap<String, Option<Rc<Outline>>>>,
}

impl<'a> Sources<'a> {
    pub fn new(input: &'a CapsInput<'a>) -> Self {
        Self {
            input,
            records: input.files.iter().map(|f| (f.path.as_str(), f)).collect(),
            cache: RefCell::new(HashMap::new()),
        }
    }

    /// The record of `path`.
    pub fn record(&self, path: &str) -> Option<&'a FileRecord> {
        self.records.get(path).copied()
    }

    /// The outline of a code file; `None` for other files and unreadable ones.
    pub fn outline(&self, path: &str) -> Option<Rc<Outline>> {
        if let Some(o) = self.cache.borrow().get(path) {
            return o.clone();
        }
        let built = self.record(path).and_then(|rec| {
            if rec.skipped || !matches!(rec.language, Language::Js | Language::Ts | Language::Py) {
                return None;
            }
            let text = (self.input.source)(path)?;
            (text.len() <= crate::pipeline::caps::detect::MAX_SCAN_BYTES)
                .then(|| Rc::new(Outline::new(rec, &text)))
        });
        self.cache
            .borrow_mut()
            .insert(path.to_string(), built.clone());
        built
    }
}

/// Where reaching starts or continues in a file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Want {
    /// Everything in the file.
    Whole,
    /// A top-level name: its definition and what configures it. `attrs` are the attributes
    /// the user accessed (followed when the name turns out to be a module); `handoff` when
    /// it was only enqueued.
    Name {
        name: String,
        attrs: BTreeSet<String>,
        handoff: bool,
        /// Looked up through `export *`: a module without the name is not reached at all.
        strict: bool,
    },
    /// A module bound as a whole (`import * as m`, `import a.b`, `from . import views`):
    /// the attributes used, or everything when none.
    Module { attrs: BTreeSet<String> },
    /// A handler: a byte range, without the object the route is registered on (the
    /// `app` of `@app.get(…)` registers the handler; the handler does not use it).
    Handler {
        span: Span,
        receiver: Option<String>,
    },
}

/// What was reached in one file.
#[derive(Debug, Clone, Default)]
pub(crate) struct Visit {
    /// The whole file.
    pub whole: bool,
    /// Reached line ranges, inclusive.
    pub lines: Vec<(u32, u32)>,
    /// Import statement lines reached, with the identifiers used through them.
    pub import_lines: BTreeMap<u32, BTreeSet<String>>,
}

/// The result: files by hop count and what was reached in each.
#[derive(Debug, Clone, Default)]
pub(crate) struct Reach {
    /// File → hops from the entry files (0 for them).
    pub files: BTreeMap<String, usize>,
    /// File → what was reached there.
    pub visits: BTreeMap<String, Visit>,
}

/// Reaching for one capability.
pub(crate) struct Walker<'s, 'a> {
    pub sources: &'s Sources<'a>,
    pub det: &'s Detections,
    /// Entry file → number of capabilities it is an entry file of.
    pub seed_groups: &'s HashMap<&'s str, usize>,
    /// Entry files of this one.
    pub seeds: &'s BTreeSet<String>,
}

impl Walker<'_, '_> {
    /// Reaches from `starts` (file, want), all at hop 0.
    pub fn reach(&self, starts: Vec<(String, Want)>) -> Reach {
        let mut out = Reach::default();
        let mut queue: VecDeque<(String, Want, usize)> =
            starts.into_iter().map(|(f, w)| (f, w, 0)).collect();
        let mut done: HashSet<(String, Want)> = HashSet::new();
        let mut visits = 0usize;
        while let Some((file, want, depth)) = queue.pop_front() {
            visits += 1;
            if visits > MAX_VISITS {
                tracing::debug!(file = %file, "capability reach stopped at the visit cap");
                break;
            }
            let own = usize::from(self.seeds.contains(&file));
            let foreign = self.seed_groups.get(file.as_str()).copied().unwrap_or(0) > own;
            if foreign && matches!(want, Want::Whole) {
                continue;
            }
            if !out.files.contains_key(&file) && out.files.len() >= super::MAX_GATHERED {
                continue;
            }
            let o = self.sources.outline(&file);
            // A name defined here is reached once, whatever attributes its users touched
            // (they only matter when the name turns out to be a module).
            let key = match (&want, &o) {
                (Want::Name { name, handoff, .. }, Some(o))
                    if o.defining(name).next().is_some() || o.augmenting(name).next().is_some() =>
                {
                    Want::Name {
                        name: name.clone(),
                        attrs: BTreeSet::new(),
                        handoff: *handoff,
                        strict: false,
                    }
                }
                _ => want.clone(),
            };
            if !done.insert((file.clone(), key)) {
                continue;
            }
            if let (
                Want::Name {
                    name, strict: true, ..
                },
                Some(o),
            ) = (&want, &o)
            {
                // Looked up through `export *`: only a module that has the name is reached.
                let has = o.defining(name).next().is_some()
                    || o.augmenting(name).next().is_some()
                    || !o.bound_by(name).is_empty();
                if !has {
                    continue;
                }
            }
            let d = out.files.entry(file.clone()).or_insert(depth);
            *d = (*d).min(depth);
            let Some(o) = o else {
                if want == Want::Whole {
                    out.visits.entry(file).or_default().whole = true;
                }
                continue;
            };
            let mut next: Vec<(String, Want, usize)> = Vec::new();
            match want {
                Want::Whole => {
                    out.visits.entry(file.clone()).or_default().whole = true;
                    self.span(&file, &o, o.all(), Skip::Code, depth, &mut out, &mut next);
                    self.side_effect_imports(&file, &o, depth, &mut next);
                }
                Want::Handler { span, receiver } => {
                    let skip = Skip::Handler(receiver.as_deref());
                    self.span(&file, &o, span, skip, depth, &mut out, &mut next);
                }
                Want::Module { attrs } => {
                    if attrs.is_empty() {
                        next.push((file.clone(), Want::Whole, depth));
                    }
                    for a in attrs {
                        next.push((file.clone(), name_want(&a, BTreeSet::new(), false), depth));
                    }
                }
                Want::Name {
                    name,
                    attrs,
                    handoff,
                    strict,
                } => {
                    let defs: Vec<Span> = o
                        .defining(&name)
                        .map(|c| {
                            let task = handoff && self.is_task(&file, &o, c.span);
                            Span {
                                start: c.span.start,
                                end: if task { c.body } else { c.span.end },
                            }
                        })
                        .collect();
                    let augments: Vec<Span> = if foreign {
                        Vec::new()
                    } else {
                        o.augmenting(&name).map(|c| c.span).collect()
                    };
                    if defs.is_empty() && augments.is_empty() {
                        // Re-exported (`export { X } from`, `from .models import X` in an
                        // `__init__.py`, `export * from`), else the module itself.
                        let followed =
                            self.reexports(&file, &o, &name, &attrs, handoff, depth, &mut next);
                        if !followed && !strict {
                            next.push((file.clone(), Want::Module { attrs }, depth));
                        }
                    }
                    for s in defs.into_iter().chain(augments) {
                        if s.end > s.start {
                            self.span(&file, &o, s, Skip::Code, depth, &mut out, &mut next);
                        }
                    }
                }
            }
            queue.extend(next);
        }
        out
    }

    /// True when a JobConsumer (a task) is declared inside `span` of `file`.
    fn is_task(&self, file: &str, o: &Outline, span: Span) -> bool {
        let (a, b) = (o.sc.line(span.start), o.sc.line(span.end.saturating_sub(1)));
        self.det
            .in_file(file)
            .any(|f| f.kind == FindingKind::JobConsumer && f.line >= a && f.line <= b)
    }

    #[allow(clippy::too_many_arguments)]
    fn span(
        &self,
        file: &str,
        o: &Outline,
        span: Span,
        kind: Skip<'_>,
        depth: usize,
        out: &mut Reach,
        next: &mut Vec<(String, Want, usize)>,
    ) {
        let visit = out.visits.entry(file.to_string()).or_default();
        visit.lines.push((
            o.sc.line(span.start),
            o.sc.line(span.end.saturating_sub(1).max(span.start)),
        ));
        let Some(rec) = self.sources.record(file) else {
            return;
        };
        let (handler, skip) = match kind {
            Skip::Handler(r) => (true, r),
            Skip::Code => (false, None),
        };
        for (ident, u) in o.refs(span) {
            // The registering object, and the definition we are already inside (a
            // handler's own name, recursion).
            let inside = o
                .defining(&ident)
                .any(|c| c.span.start <= span.start && span.end <= c.span.end);
            if skip == Some(ident.as_str()) || inside {
                continue;
            }
            if o.defining(&ident).next().is_some() || o.augmenting(&ident).next().is_some() {
                next.push((
                    file.to_string(),
                    name_want(&ident, u.attrs, u.handoff_only),
                    depth,
                ));
                continue;
            }
            if handler && o.bound_by(&ident).is_empty() {
                // A function defined inside another one (`router.get('/', list)` in a
                // router factory): the handler's body.
                for f in o.functions_named(&ident) {
                    if !(f.start <= span.start && span.end <= f.end) {
                        next.push((
                            file.to_string(),
                            Want::Handler {
                                span: f,
                                receiver: None,
                            },
                            depth,
                        ));
                    }
                }
                continue;
            }
            for &idx in o.bound_by(&ident) {
                let Some(imp) = rec.imports.get(idx) else {
                    continue;
                };
                visit
                    .import_lines
                    .entry(imp.line)
                    .or_default()
                    .insert(ident.clone());
                let Some(target) = imp.resolved.clone() else {
                    continue;
                };
                let want = match bound_name(rec, o, idx, &ident) {
                    Some(n) => name_want(&n, u.attrs.clone(), u.handoff_only),
                    None => Want::Module {
                        attrs: u.attrs.clone(),
                    },
                };
                next.push((target, want, depth + 1));
            }
        }
    }

    /// Follows `name` through the imports of `file` that re-export it; false when none do.
    #[allow(clippy::too_many_arguments)]
    fn reexports(
        &self,
        file: &str,
        o: &Outline,
        name: &str,
        attrs: &BTreeSet<String>,
        handoff: bool,
        depth: usize,
        next: &mut Vec<(String, Want, usize)>,
    ) -> bool {
        let Some(rec) = self.sources.record(file) else {
            return false;
        };
        let mut followed = false;
        for &idx in o.bound_by(name) {
            let Some(target) = rec.imports.get(idx).and_then(|i| i.resolved.clone()) else {
                continue;
            };
            let want = match bound_name(rec, o, idx, name) {
                Some(n) => name_want(&n, attrs.clone(), handoff),
                None => Want::Module {
                    attrs: attrs.clone(),
                },
            };
            next.push((target, want, depth + 1));
            followed = true;
        }
        for imp in &rec.imports {
            let star = imp.kind == ImportKind::Reexport && imp.names.iter().all(|n| n == "*");
            if let (true, Some(target)) = (star, &imp.resolved) {
                next.push((
                    target.clone(),
                    Want::Name {
                        name: name.to_string(),
                        attrs: attrs.clone(),
                        handoff,
                        strict: true,
                    },
                    depth + 1,
                ));
                followed = true;
            }
        }
        followed
    }

    /// `import './polyfills'`-style imports bind nothing and run the whole module.
    fn side_effect_imports(
        &self,
        file: &str,
        o: &Outline,
        depth: usize,
        next: &mut Vec<(String, Want, usize)>,
    ) {
        let Some(rec) = self.sources.record(file) else {
            return;
        };
        for imp in &rec.imports {
            let Some(target) = &imp.resolved else {
                continue;
            };
            let line = o.line_text(imp.line);
            let binds = !imp.names.is_empty()
                || line.contains('=')
                || line.contains(" from ")
                || line.trim_start().starts_with("from ")
                || (rec.language == Language::Py && line.contains("import"));
            if !binds {
                next.push((target.clone(), Want::Whole, depth + 1));
            }
        }
    }

    /// The findings the reach covers, in detection order.
    pub fn findings<'d>(&self, det: &'d Detections, reach: &Reach) -> Vec<&'d Finding> {
        let mut out = Vec::new();
        for (file, v) in &reach.visits {
            for f in det.in_file(file) {
                let in_lines = v.lines.iter().any(|(a, b)| f.line >= *a && f.line <= *b);
                let defined = f.kind == FindingKind::Store && f.detail.starts_with(STORE_DEFINED);
                let via_import = v.import_lines.get(&f.line).is_some_and(|ids| {
                    !(f.kind == FindingKind::Store && f.detail == STORE_USED)
                        || ids.contains(&f.name)
                });
                // A whole file reached by import is not credited with every model it
                // defines; its own entry file is.
                let whole = v.whole && (!defined || self.seeds.contains(file));
                if in_lines || via_import || whole {
                    out.push(f);
                }
            }
        }
        out
    }

    /// Hand-off targets of what was reached: enqueues whose producer call was reached,
    /// schedules whose schedule entry was, and internal HTTP calls from reached files.
    pub fn handoffs(&self, findings: &[&Finding], reach: &Reach) -> BTreeSet<(String, String)> {
        let producing: BTreeSet<(&str, FindingKind)> = findings
            .iter()
            .filter(|f| matches!(f.kind, FindingKind::JobProducer | FindingKind::Schedule))
            .map(|f| (f.file.as_str(), f.kind))
            .collect();
        self.det
            .links
            .iter()
            .filter(|l| match l.kind.as_str() {
                LINK_ENQUEUE => producing.contains(&(l.from.as_str(), FindingKind::JobProducer)),
                // Only the capability's own schedule triggers: a schedule reached as
                // configuration of a shared app object (`celery.conf.beat_schedule`) is
                // not something this capability does.
                LINK_SCHEDULE => {
                    self.seeds.contains(&l.from)
                        && producing.contains(&(l.from.as_str(), FindingKind::Schedule))
                }
                LINK_HTTP => reach.files.contains_key(&l.from),
                _ => false,
            })
            .map(|l| (l.from.clone(), l.to.clone()))
            .collect()
    }
}

/// How a span is read: a handler (its registering object left out, functions nested in an
/// enclosing function followed) or any other code.
#[derive(Clone, Copy)]
enum Skip<'r> {
    Handler(Option<&'r str>),
    Code,
}

fn name_want(name: &str, attrs: BTreeSet<String>, handoff: bool) -> Want {
    Want::Name {
        name: name.to_string(),
        attrs,
        handoff,
        strict: false,
    }
}

/// The name in the imported module that local identifier `ident` stands for, or `None`
/// when it stands for the module itself.
fn bound_name(rec: &FileRecord, o: &Outline, idx: usize, ident: &str) -> Option<String> {
    let imp = &rec.imports[idx];
    if imp.names.iter().any(|n| n == ident) {
        return Some(ident.to_string());
    }
    let named: Vec<&crate::pipeline::model::Name> = imp
        .names
        .iter()
        .filter(|n| n.as_str() != "default" && n.as_str() != "*")
        .collect();
    if rec.language == Language::Py {
        // `from x import y as z` binds one name; `import a.b as c` binds the module.
        return (named.len() == 1).then(|| named[0].to_string());
    }
    let line = o.line_text(imp.line);
    let brace = line.find('{');
    let at = line.find(ident);
    let in_braces = matches!((brace, at), (Some(b), Some(a)) if a > b);
    if in_braces {
        // `{ a as b }` or `const { a: b } = require()`.
        return match named.len() {
            1 => Some(named[0].to_string()),
            0 if imp.names.is_empty() => Some(ident.to_string()),
            _ => None,
        };
    }
    if imp.names.iter().any(|n| n == "*") && line.contains("* as") {
        return None;
    }
    // A default import, or `const x = require('./x')` (its `module.exports`).
    Some("default".to_string())
}
