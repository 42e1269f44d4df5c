//! Following a name across files: which router (file and owner) a local name, an export or a
//! mount target stands for, through the resolved imports, bindings, aliases and re-exports
//! the parsers recorded.

use std::collections::{HashMap, HashSet};

use crate::pipeline::model::{FileRecord, Language, Route};
use crate::pipeline::py::PyResolver;
use crate::pipeline::wiring::{Binding, Target, URLPATTERNS};

/// A unit: a record (by index) and an owner name local to it.
pub(super) type Key = (usize, String);

/// How deep name chains are followed (re-export of a re-export of …).
const MAX_DEPTH: usize = 12;

/// What a name stands for.
enum Found {
    /// A name in a file.
    Local(Key),
    /// A module object (`import * as x`, `const x = require('./x')`, `from pkg import mod`).
    Module(usize),
}

/// Read-only view of the snapshot for name resolution.
pub(super) struct Names<'r> {
    records: &'r [FileRecord],
    by_path: HashMap<&'r str, usize>,
    /// Names that are known units: route owners, mount parents, routers, Nest modules.
    units: HashSet<(usize, &'r str)>,
    py: &'r PyResolver,
}

impl<'r> Names<'r> {
    /// Indexes the records; `units` are the (record, owner) pairs known to hold routers.
    pub fn new(
        records: &'r [FileRecord],
        units: HashSet<(usize, &'r str)>,
        py: &'r PyResolver,
    ) -> Self {
        let by_path = records
            .iter()
            .enumerate()
            .map(|(i, r)| (r.path.as_str(), i))
            .collect();
        Self {
            records,
            by_path,
            units,
            py,
        }
    }

    /// The value of the string constant `dotted` names in record `rec`: its head followed
    /// through the imports to the file that exports it (`API_PREFIX`, `PREFIX.WEB`).
    pub fn const_value(&self, rec: usize, dotted: &str) -> Option<&'r str> {
        let (head, rest) = match dotted.split_once('.') {
            Some((h, r)) => (h, Some(r)),
            None => (dotted, None),
        };
        let (file, local) = match self.name(rec, head, 0)? {
            Found::Local(k) => k,
            Found::Module(_) => return None,
        };
        let key = match rest {
            Some(r) => format!("{local}.{r}"),
            None => local,
        };
        let records: &'r [FileRecord] = self.records;
        records[file]
            .wiring
            .consts
            .iter()
            .find(|(n, _)| *n == key)
            .map(|(_, v)| v.as_str())
    }

    /// The routes of the config object `dotted` names in record `rec` (`i.route(getUser)`):
    /// the name followed through the imports, re-exports included, to the file declaring it.
    pub fn route_object(&self, rec: usize, dotted: &str) -> Option<&'r [Route]> {
        let (file, local) = match self.name(rec, dotted, 0)? {
            Found::Local(k) => k,
            Found::Module(_) => return None,
        };
        let records: &'r [FileRecord] = self.records;
        records[file]
            .wiring
            .route_objects
            .iter()
            .find(|o| o.name == local)
            .map(|o| o.routes.as_slice())
    }

    /// Whether `key` is a known unit (it holds routes, mounts or a router).
    pub fn is_unit(&self, key: &Key) -> bool {
        self.units.contains(&(key.0, key.1.as_str()))
    }

    /// The record index of a repo path.
    pub fn index_of(&self, path: &str) -> Option<usize> {
        self.by_path.get(path).copied()
    }

    /// The file an import specifier of record `rec` resolved to (for Python, the import of
    /// `name` when the statement's names went to different files).
    fn source_file(&self, rec: usize, source: &str, name: Option<&str>) -> Option<usize> {
        let imports = || self.records[rec].imports.iter().filter(|i| i.raw == source);
        let import = name
            .and_then(|n| {
                imports().find(|i| i.resolved.is_some() && i.names.iter().any(|x| x == n))
            })
            .or_else(|| imports().find(|i| i.resolved.is_some()))?;
        self.index_of(import.resolved.as_deref()?)
    }

    /// Whether Python's `from <import> import name` reached the submodule `name` rather
    /// than an attribute of the package (`from . import main` inside package `main` is the
    /// package's attribute).
    fn py_submodule(&self, rec: usize, source: &str, name: &str, file: usize) -> bool {
        let importer = &self.records[rec];
        if importer.language != Language::Py {
            return false;
        }
        let level = source.len() - source.trim_start_matches('.').len();
        let module = source.trim_start_matches('.').replace('.', "/");
        let mut base: Vec<&str> = Vec::new();
        if level > 0 {
            base = importer.path.split('/').collect();
            base.pop();
            for _ in 1..level {
                base.pop();
            }
        }
        if !module.is_empty() {
            base.push(&module);
        }
        base.push(name);
        let stem = base.join("/");
        let resolved = &self.records[file].path;
        [format!("{stem}.py"), format!("{stem}/__init__.py")]
            .iter()
            .any(|c| resolved == c || (level == 0 && resolved.ends_with(&format!("/{c}"))))
    }

    fn binding(&self, rec: usize, local: &str) -> Option<&'r Binding> {
        self.records[rec]
            .wiring
            .bindings
            .iter()
            .find(|b| !b.reexport && b.local == local)
    }

    /// The unit a local name (possibly dotted) of record `rec` stands for.
    pub fn local(&self, rec: usize, name: &str) -> Option<Key> {
        self.name(rec, name, 0).map(|f| self.settle(f))
    }

    /// The unit a mount target of record `rec` stands for.
    pub fn target(&self, rec: usize, target: &Target) -> Option<Key> {
        let found = match target {
            Target::Name(n) => self.name(rec, n, 0)?,
            Target::CallOf(n) => {
                let (file, local) = self.settle(self.name(rec, n, 0)?);
                // A function that returns a router stands for that router.
                return Some((file, self.alias(file, &local).unwrap_or(local)));
            }
            Target::Module(source, member) => {
                let file = self.source_file(rec, source, None)?;
                match member {
                    Some(m) => self.export(file, m, &[], 0)?,
                    None => Found::Module(file),
                }
            }
            Target::Dotted(module) => {
                let path = self.py.resolve_dotted(module)?;
                Found::Module(self.index_of(&path)?)
            }
        };
        Some(self.settle(found))
    }

    /// A module object used as a router: its default export (JS) or its `urlpatterns`
    /// (Python, Django `include(module)`).
    fn settle(&self, found: Found) -> Key {
        match found {
            Found::Local(k) => k,
            Found::Module(file) => {
                let name = if self.records[file].language == Language::Py {
                    URLPATTERNS
                } else {
                    "default"
                };
                match self.export(file, name, &[], 0) {
                    Some(Found::Local(k)) => k,
                    _ => (file, name.to_string()),
                }
            }
        }
    }

    /// The local an exported (or function) name stands for in `file`, if aliased.
    fn alias(&self, file: usize, name: &str) -> Option<String> {
        self.records[file]
            .wiring
            .aliases
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.local.clone())
    }

    fn name(&self, rec: usize, dotted: &str, depth: usize) -> Option<Found> {
        if depth > MAX_DEPTH {
            return None;
        }
        let parts: Vec<&str> = dotted.split('.').collect();
        let (head, rest) = parts.split_first()?;
        // A function label names this file's unit, whatever variable shares its name.
        if rest.is_empty() && self.records[rec].wiring.labels.iter().any(|l| l == head) {
            return Some(Found::Local((rec, dotted.to_string())));
        }
        // Bound by an import: default, namespace, renamed, `require`, Python `as`.
        if let Some(b) = self.binding(rec, head) {
            let file = self.source_file(rec, &b.source, b.name.as_deref())?;
            let module = match &b.name {
                Some(n) => self.py_submodule(rec, &b.source, n, file),
                None => true,
            };
            return self.member(file, module, b.name.as_deref(), rest, depth);
        }
        // Same-name imports (`import { router } from …`, `from x import router`).
        if let Some(import) = self.records[rec]
            .imports
            .iter()
            .find(|i| i.resolved.is_some() && i.names.iter().any(|n| n == head))
        {
            let file = self.index_of(import.resolved.as_deref()?)?;
            let module = self.py_submodule(rec, &import.raw, head, file);
            return self.member(file, module, Some(head), rest, depth);
        }
        if self.units.contains(&(rec, dotted)) {
            return Some(Found::Local((rec, dotted.to_string())));
        }
        // Django REST framework: `router.urls` is the pattern list of the router `router`.
        if rest == ["urls"] && self.units.contains(&(rec, *head)) {
            return Some(Found::Local((rec, (*head).to_string())));
        }
        // A local: `UsersRoute.router` (a class's router field) is the field.
        let local = if rest.is_empty() {
            (*head).to_string()
        } else {
            (*rest.last()?).to_string()
        };
        Some(Found::Local((rec, local)))
    }

    /// `rest` members of what an import reached: a module object, or export `name` of `file`.
    fn member(
        &self,
        file: usize,
        module: bool,
        name: Option<&str>,
        rest: &[&str],
        depth: usize,
    ) -> Option<Found> {
        match (module, name, rest) {
            (true, _, []) => Some(Found::Module(file)),
            (true, _, [first, more @ ..]) => self.export(file, first, more, depth + 1),
            (false, Some(n), _) => self.export(file, n, rest, depth + 1),
            (false, None, _) => Some(Found::Module(file)),
        }
    }

    /// What export `name` (then `rest` members) of `file` stands for.
    fn export(&self, file: usize, name: &str, rest: &[&str], depth: usize) -> Option<Found> {
        if depth > MAX_DEPTH {
            return None;
        }
        let rec = &self.records[file];
        let local = self.alias(file, name).unwrap_or_else(|| name.to_string());
        if let Some(b) = rec
            .wiring
            .bindings
            .iter()
            .find(|b| b.reexport && b.local == name)
        {
            let target = self.source_file(file, &b.source, b.name.as_deref())?;
            return match &b.name {
                Some(n) => self.export(target, n, rest, depth + 1),
                None if rest.is_empty() => Some(Found::Module(target)),
                None => self.export(target, rest[0], &rest[1..], depth + 1),
            };
        }
        let dotted = if rest.is_empty() {
            local.clone()
        } else {
            format!("{local}.{}", rest.join("."))
        };
        let found = self.name(file, &dotted, depth + 1)?;
        if let Found::Local((f, l)) = &found {
            if !self.units.contains(&(*f, l.as_str())) {
                // `export * from './x'`: the name may come from there.
                for b in rec
                    .wiring
                    .bindings
                    .iter()
                    .filter(|b| b.reexport && b.local == "*")
                {
                    let Some(target) = self.source_file(file, &b.source, None) else {
                        continue;
                    };
                    if let Some(Found::Local(k)) = self.export(target, name, rest, depth + 1) {
                        if self.units.contains(&(k.0, k.1.as_str())) {
                            return Some(Found::Local(k));
                        }
                    }
                }
            }
        }
        Some(found)
    }
}
