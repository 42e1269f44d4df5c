//! Python import resolution over the paths of a snapshot, the way the interpreter would find
//! modules when run from the repo's source roots.
//!
//! **Source roots** (the `sys.path` entries we assume): the repo root, `src/` when present,
//! every directory holding a `pyproject.toml`, `setup.py` or `setup.cfg`, and the parent of
//! every top-level regular package (a directory with `__init__.py` whose parent has none).
//! For a file that is not inside a regular package, its own directory comes first, as
//! `sys.path[0]` does for a script (and as pytest's default import mode does for tests).
//! When several roots hold the same top-level name, the root nearest to the importing file
//! (the deepest root that contains it) wins, then the shorter root path, then path order.
//!
//! **Finding a name in a directory** follows CPython's `FileFinder`: a package directory with
//! `__init__.py` (or `.pyi`) first, then `name.py`, then `name.pyi` (stub-only modules), else a
//! directory without `__init__` is a namespace-package portion (PEP 420). A regular package or
//! module found in any root beats namespace portions; the standard library beats namespace
//! portions, and beats regular packages of every source root but the repo root and a script's
//! own folder (running from the repo root, a local `logging/__init__.py` shadows the stdlib; a
//! `functools/` package under `src/` or a vendored folder does not, as installed packages come
//! after the stdlib on `sys.path`).
//!
//! **Outcomes** (the edge policy of docs/pipeline.md#python):
//! - `import a.b.c` → one target, the file of `a.b.c` (its module or `__init__.py`); no edges
//!   to `a` or `a.b`.
//! - `from a import x, y` → for each name, the submodule `a.x` when it exists as a file, else
//!   `a` itself; names sharing a target are grouped, so one statement can give several targets
//!   (in order of first name). `from a import *` targets `a`.
//! - Relative imports: the importing file's package is its directory; `level` dots climb
//!   `level - 1` directories. The package chain is the run of `__init__` directories above the
//!   file (or, outside regular packages, the directories up to the nearest source root);
//!   climbing past its top gives `Unresolved("beyond_top_level")`, and a relative target that
//!   does not exist gives `Unresolved("not_found")`.
//! - An absolute import whose top-level name is a regular package/module of the repo but whose
//!   submodule is missing → `Unresolved("not_found")`; `import a.ns` ending at a namespace
//!   directory (no file to point at) → `Unresolved("namespace_package")`; a name imported from
//!   such a directory that is not a module in it → `Unresolved("not_found")`.
//! - Standard-library names and names found nowhere → `External(top-level name)`. Names found
//!   only as namespace directories count as internal only when they lead to an actual file;
//!   otherwise they are taken for the installed package of that name (`External`), since an
//!   installed regular package would win over a namespace portion at run time.

use super::stdlib::is_stdlib_module;
use crate::pipeline::graph::Resolution;
use crate::pipeline::model::{FileRecord, Import, Language};
use rayon::prelude::*;
use std::collections::{HashMap, HashSet};

/// Reason: a relative import climbs above the top-level package.
pub const REASON_BEYOND_TOP_LEVEL: &str = "beyond_top_level";
/// Reason: a local (relative, or under a repo package) module does not exist.
pub const REASON_NOT_FOUND: &str = "not_found";
/// Reason: the import names a directory without `__init__.py` and no file inside it.
pub const REASON_NAMESPACE_PACKAGE: &str = "namespace_package";

/// One target of an import statement: where it resolves and which imported names go there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PyTarget {
    /// Internal file, external package, or unresolved with a reason.
    pub resolution: Resolution,
    /// The names of the statement that resolve here (empty for `import a.b`).
    pub names: Vec<crate::pipeline::model::Name>,
}

/// Where a module was found.
#[derive(Debug, Clone)]
enum Loc {
    /// A module file or a package's `__init__.py`/`.pyi`.
    File(String),
    /// A namespace package: its directory portions.
    Namespace(Vec<String>),
}

/// Index of a snapshot's paths for resolving Python imports; built once, shared read-only.
#[derive(Debug, Clone)]
pub struct PyResolver {
    files: HashSet<String>,
    dirs: HashSet<String>,
    roots: Vec<String>,
    root_set: HashSet<String>,
    /// Top-level name → indices into `roots` whose directory holds that name.
    top: HashMap<String, Vec<usize>>,
}

fn parent(path: &str) -> &str {
    path.rfind('/').map_or("", |i| &path[..i])
}

fn base_name(path: &str) -> &str {
    path.rfind('/').map_or(path, |i| &path[i + 1..])
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

fn is_init(path: &str) -> bool {
    matches!(base_name(path), "__init__.py" | "__init__.pyi")
}

/// `dir` is `root` or below it.
fn within(dir: &str, root: &str) -> bool {
    root.is_empty()
        || dir == root
        || (dir.starts_with(root) && dir.as_bytes().get(root.len()) == Some(&b'/'))
}

fn components(dir: &str) -> usize {
    if dir.is_empty() {
        0
    } else {
        dir.split('/').count()
    }
}

impl PyResolver {
    /// Builds the index from every repo-relative path of the snapshot (all files, not only
    /// Python: `pyproject.toml` and friends mark source roots).
    pub fn new<'a>(paths: impl IntoIterator<Item = &'a str>) -> Self {
        let files: HashSet<String> = paths.into_iter().map(str::to_string).collect();
        let mut dirs = HashSet::new();
        for f in &files {
            let mut d = parent(f);
            // Looked up before it is copied: most directories are seen once per file in them.
            while !d.is_empty() && !dirs.contains(d) {
                dirs.insert(d.to_string());
                d = parent(d);
            }
        }
        let has_init = |d: &str| {
            files.contains(&join(d, "__init__.py")) || files.contains(&join(d, "__init__.pyi"))
        };
        let mut root_set: HashSet<String> = HashSet::from([String::new()]);
        if dirs.contains("src") {
            root_set.insert("src".to_string());
        }
        for f in &files {
            match base_name(f) {
                "pyproject.toml" | "setup.py" | "setup.cfg" => {
                    root_set.insert(parent(f).to_string());
                }
                "__init__.py" | "__init__.pyi" => {
                    let pkg = parent(f);
                    if !pkg.is_empty() && !has_init(parent(pkg)) {
                        root_set.insert(parent(pkg).to_string());
                    }
                }
                _ => {}
            }
        }
        let mut roots: Vec<String> = root_set.iter().cloned().collect();
        roots.sort();
        let index: HashMap<&str, usize> = roots
            .iter()
            .enumerate()
            .map(|(i, r)| (r.as_str(), i))
            .collect();
        let mut top: HashMap<String, Vec<usize>> = HashMap::new();
        let mut add = |name: &str, root: usize| {
            let v = top.entry(name.to_string()).or_default();
            if !v.contains(&root) {
                v.push(root);
            }
        };
        for d in &dirs {
            if let Some(&r) = index.get(parent(d)) {
                add(base_name(d), r);
            }
        }
        for f in &files {
            let stem = base_name(f)
                .strip_suffix(".py")
                .or_else(|| base_name(f).strip_suffix(".pyi"));
            if let (Some(stem), Some(&r)) = (stem, index.get(parent(f))) {
                add(stem, r);
            }
        }
        Self {
            files,
            dirs,
            roots,
            root_set,
            top,
        }
    }

    /// Builds the index from the records of a snapshot (their paths).
    pub fn from_records(records: &[FileRecord]) -> Self {
        Self::new(records.iter().map(|r| r.path.as_str()))
    }

    /// The detected source roots, sorted (`""` is the repo root).
    pub fn source_roots(&self) -> &[String] {
        &self.roots
    }

    fn has_init(&self, dir: &str) -> bool {
        self.files.contains(&join(dir, "__init__.py"))
            || self.files.contains(&join(dir, "__init__.pyi"))
    }

    /// CPython `FileFinder` order: package with `__init__`, module, stub, namespace dir.
    fn find_in(&self, dir: &str, name: &str) -> Option<Loc> {
        let sub = join(dir, name);
        for init in ["__init__.py", "__init__.pyi"] {
            let p = join(&sub, init);
            if self.files.contains(&p) {
                return Some(Loc::File(p));
            }
        }
        for ext in [".py", ".pyi"] {
            let p = format!("{sub}{ext}");
            if self.files.contains(&p) {
                return Some(Loc::File(p));
            }
        }
        self.dirs.contains(&sub).then(|| Loc::Namespace(vec![sub]))
    }

    /// Finds `name` inside the package at `loc`; `None` when `loc` is a plain module.
    fn find_sub(&self, loc: &Loc, name: &str) -> Option<Loc> {
        let dirs: Vec<&str> = match loc {
            Loc::File(p) if is_init(p) => vec![parent(p)],
            Loc::File(_) => return None,
            Loc::Namespace(d) => d.iter().map(String::as_str).collect(),
        };
        let mut portions = Vec::new();
        for d in dirs {
            match self.find_in(d, name) {
                Some(Loc::File(p)) => return Some(Loc::File(p)),
                Some(Loc::Namespace(mut n)) => portions.append(&mut n),
                None => {}
            }
        }
        (!portions.is_empty()).then_some(Loc::Namespace(portions))
    }

    fn walk(&self, mut loc: Loc, parts: &[&str]) -> Option<Loc> {
        for part in parts {
            loc = self.find_sub(&loc, part)?;
        }
        Some(loc)
    }

    /// Roots to search for `first`, best first, for an import made from directory `from_dir`.
    fn candidate_roots<'s>(&'s self, first: &str, from_dir: Option<&'s str>) -> Vec<&'s str> {
        let mut c: Vec<&str> = self
            .top
            .get(first)
            .map(|v| v.iter().map(|&i| self.roots[i].as_str()).collect())
            .unwrap_or_default();
        if let Some(from) = from_dir {
            c.sort_by_key(|r| (!within(from, r), std::cmp::Reverse(r.len()), *r));
            // sys.path[0]: a script's own directory, when it is not inside a regular package.
            if !self.has_init(from) && !self.root_set.contains(from) {
                c.insert(0, from);
            }
        } else {
            c.sort_by_key(|r| (r.len(), *r));
        }
        c
    }

    /// Resolves an absolute dotted module name to a location and whether it is local (found
    /// through a regular package or module of the repo). `Err` is a final resolution.
    fn absolute(&self, dotted: &str, from_dir: Option<&str>) -> Result<(Loc, bool), Resolution> {
        let parts: Vec<&str> = dotted.split('.').collect();
        let first = parts[0];
        let stdlib = is_stdlib_module(first);
        // sys.path[0] of a script: its own folder, when it is not inside a regular package.
        let script_dir = from_dir.filter(|d| !self.has_init(d));
        let mut portions = Vec::new();
        for root in self.candidate_roots(first, from_dir) {
            // The standard library comes on sys.path after the working directory (the repo
            // root) and a script's own folder, but before installed packages: a package of
            // any other source root (`src/`, a project folder, a vendored folder such as
            // `_vendor/jaraco` holding `functools/`) never shadows it.
            if stdlib && !root.is_empty() && Some(root) != script_dir {
                continue;
            }
            match self.find_in(root, first) {
                Some(Loc::File(p)) => {
                    return self
                        .walk(Loc::File(p), &parts[1..])
                        .map(|loc| (loc, true))
                        .ok_or_else(|| Resolution::Unresolved(REASON_NOT_FOUND.to_string()));
                }
                Some(Loc::Namespace(mut n)) => portions.append(&mut n),
                None => {}
            }
        }
        let external = Err(Resolution::External(first.to_string()));
        if stdlib || portions.is_empty() {
            return external;
        }
        match self.walk(Loc::Namespace(portions), &parts[1..]) {
            Some(loc) => Ok((loc, false)),
            None => external,
        }
    }

    /// Package depth of a directory: how many levels a relative import may climb.
    fn package_depth(&self, dir: &str) -> usize {
        if self.has_init(dir) {
            let mut n = 0;
            let mut d = dir;
            while self.has_init(d) {
                n += 1;
                if d.is_empty() {
                    break;
                }
                d = parent(d);
            }
            n
        } else {
            let nearest = self
                .roots
                .iter()
                .filter(|r| within(dir, r))
                .map(|r| components(r))
                .max()
                .unwrap_or(0);
            components(dir) - nearest
        }
    }

    /// Resolves the module an import names, ignoring its imported names: `a.b` for
    /// `import a.b`, `a` for `from a import b`, the package for `from . import x`.
    pub fn resolve_module(&self, from_path: &str, import: &Import) -> Resolution {
        match self.module_loc(from_path, import) {
            Ok((loc, local)) => finish(loc, local, import, false),
            Err(r) => r,
        }
    }

    fn module_loc(&self, from_path: &str, import: &Import) -> Result<(Loc, bool), Resolution> {
        let from_dir = parent(from_path);
        let level = import.level as usize;
        let module = import.raw.trim_start_matches('.');
        if level == 0 {
            if module.is_empty() {
                return Err(Resolution::Unresolved(REASON_NOT_FOUND.to_string()));
            }
            return self.absolute(module, Some(from_dir));
        }
        if level > self.package_depth(from_dir) {
            return Err(Resolution::Unresolved(REASON_BEYOND_TOP_LEVEL.to_string()));
        }
        let mut base = from_dir;
        for _ in 1..level {
            base = parent(base);
        }
        let start = if self.has_init(base) {
            let init = join(base, "__init__.py");
            Loc::File(if self.files.contains(&init) {
                init
            } else {
                join(base, "__init__.pyi")
            })
        } else {
            Loc::Namespace(vec![base.to_string()])
        };
        let parts: Vec<&str> = if module.is_empty() {
            Vec::new()
        } else {
            module.split('.').collect()
        };
        self.walk(start, &parts)
            .map(|loc| (loc, true))
            .ok_or_else(|| Resolution::Unresolved(REASON_NOT_FOUND.to_string()))
    }

    /// Resolves an import into its targets (never empty). See the module docs for the rules.
    pub fn resolve(&self, from_path: &str, import: &Import) -> Vec<PyTarget> {
        let (loc, local) = match self.module_loc(from_path, import) {
            Ok(found) => found,
            Err(r) => {
                return vec![PyTarget {
                    resolution: r,
                    names: import.names.clone(),
                }]
            }
        };
        let is_from = import.level > 0 || !import.names.is_empty();
        if !is_from {
            return vec![PyTarget {
                resolution: finish(loc, local, import, false),
                names: Vec::new(),
            }];
        }
        let mut targets: Vec<PyTarget> = Vec::new();
        for name in &import.names {
            let resolution = match self.find_sub(&loc, name) {
                Some(Loc::File(p)) if name != "*" => Resolution::Internal(p),
                _ => finish(loc.clone(), local, import, true),
            };
            match targets.iter_mut().find(|t| t.resolution == resolution) {
                Some(t) => t.names.push(name.clone()),
                None => targets.push(PyTarget {
                    resolution,
                    names: vec![name.clone()],
                }),
            }
        }
        if targets.is_empty() {
            targets.push(PyTarget {
                resolution: finish(loc, local, import, true),
                names: Vec::new(),
            });
        }
        targets
    }

    /// The file of an absolute dotted module (`"app.urls"` → `"app/urls.py"`), searching the
    /// source roots in order; `None` when it is not a file of the snapshot.
    pub fn resolve_dotted(&self, dotted: &str) -> Option<String> {
        if dotted.is_empty() || !dotted.split('.').all(is_identifier) {
            return None;
        }
        match self.absolute(dotted, None) {
            Ok((Loc::File(p), _)) => Some(p),
            _ => None,
        }
    }
}

/// Resolution of the module location an import reached. A namespace package has no file:
/// taken for the installed package of its name when it was not reached through the repo's
/// own packages (`local`), else unresolved — `not_found` for a name imported from it,
/// `namespace_package` for the package itself.
fn finish(loc: Loc, local: bool, import: &Import, for_name: bool) -> Resolution {
    match loc {
        Loc::File(p) => Resolution::Internal(p),
        Loc::Namespace(_) if !local => {
            let top = import.raw.split('.').next().unwrap_or_default();
            Resolution::External(top.to_string())
        }
        Loc::Namespace(_) if for_name => Resolution::Unresolved(REASON_NOT_FOUND.to_string()),
        Loc::Namespace(_) => Resolution::Unresolved(REASON_NAMESPACE_PACKAGE.to_string()),
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
}

/// Resolves every import of every Python record in place (in parallel).
///
/// An import with one target gets its `resolved` / `external` / `package` /
/// `unresolvedReason` fields set. A `from a import x, y` whose names go to different files is
/// split into one import per target (same `raw`, `kind`, `line`, `level`; `names` = the names
/// that go there), in order of first name, so every edge of the graph is one import.
pub fn resolve_all_py(records: &mut [FileRecord], resolver: &PyResolver) {
    records
        .par_iter_mut()
        .filter(|r| r.language == Language::Py)
        .for_each(|rec| {
            let imports = std::mem::take(&mut rec.imports);
            let mut out = Vec::with_capacity(imports.len());
            for import in imports {
                let targets = resolver.resolve(&rec.path, &import);
                let single = targets.len() == 1;
                for t in targets {
                    let mut i = import.clone();
                    if !single {
                        i.names = t.names;
                    }
                    t.resolution.apply_to(&mut i);
                    out.push(i);
                }
            }
            rec.imports = out;
        });
    let (mut internal, mut external, mut unresolved) = (0u64, 0u64, 0u64);
    for i in records
        .iter()
        .filter(|r| r.language == Language::Py)
        .flat_map(|r| &r.imports)
    {
        match (&i.resolved, i.external) {
            (Some(_), _) => internal += 1,
            (None, true) => external += 1,
            (None, false) => unresolved += 1,
        }
    }
    tracing::debug!(internal, external, unresolved, "python imports resolved");
}
