//! JS/TS import resolution as Node and TypeScript do it, over the in-memory snapshot, under the
//! edge policy of docs/pipeline.md#javascript-and-typescript.
//!
//! Decisions where tools disagree:
//! - Node builtins (`fs`, `node:fs`, `fs/promises`) are external packages named `node:<module>`
//!   (`node:fs` for all three), so both spellings meet in one graph node.
//! - A bare specifier becomes internal only through tsconfig `paths`/`baseUrl`, package.json
//!   `imports` (`#x`), a workspace package, or the importing file's own package named through
//!   its `exports` (Node's self-reference). A bare specifier that reaches a `.d.ts` file only
//!   through `baseUrl` (an ambient typings file like `vitest.d.ts` at the root) stays external.
//! - The importer's language sets the probing order where a file ships beside its declaration
//!   file: TypeScript files resolve as the compiler does, JavaScript files as Node and bundlers
//!   do (see `resolve_options`).
//! - Anything resolved inside `node_modules` is external, named by its package.
//! - JavaScript files get the nearest tsconfig's `paths` too (as Next.js and bundlers do) unless
//!   that tsconfig sets `allowJs: false`; `jsconfig.json` counts as a tsconfig.
//! - The tsconfig of a file is the one that owns it (TypeScript's rule: `include`/`files`, or a
//!   project reference). A file no tsconfig owns (tests outside `include`, `.js` files in a
//!   solution-style layout) falls back to the nearest `tsconfig.json` and its references, as
//!   test runners and bundlers apply them. `extends` entries naming files absent from the
//!   snapshot (npm base configs) are ignored; an unreadable tsconfig counts as empty.
//! - A workspace package whose `exports`/`main` point at build output missing from the snapshot
//!   falls back to its `src/` entry (`src/index.*`, `src/<subpath>`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use oxc_resolver::{ResolveError, ResolveOptions, ResolverGeneric, TsConfig, TsconfigDiscovery};
use rayon::prelude::*;
use serde_json::{json, Value};

use super::extract::package_root;
use super::jsonc;
use super::vfs::{abs_of, rel_of, MemFs, MemorySnapshot, SnapshotFiles, ROOT};
use super::workspace::{self, Workspaces};
use crate::pipeline::model::{FileRecord, Import};

/// Where one import leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// A file of the snapshot (repo-relative path).
    Internal(String),
    /// A package outside the snapshot (`react`, `@scope/name`, `node:fs`).
    External(String),
    /// A local-looking specifier that resolves nowhere; the reason is one of
    /// [`UNRESOLVED_REASONS`].
    Unresolved(String),
}

/// Every reason [`Resolution::Unresolved`] can carry:
/// `not_found` (relative or absolute path with no file), `imports_not_found` (`#x` not in any
/// package.json `imports`), `path_alias_not_found` (matches a tsconfig `paths` pattern but no
/// file), `workspace_entry_not_found` (a workspace package without a resolvable entry),
/// `alias_not_found` (`@/x`, `~/x` with no alias configured), `empty_specifier`.
pub const UNRESOLVED_REASONS: &[&str] = &[
    "not_found",
    "imports_not_found",
    "path_alias_not_found",
    "workspace_entry_not_found",
    "alias_not_found",
    "empty_specifier",
];

/// Resolves JS/TS imports of one snapshot. Built once per snapshot; `Sync`, so one resolver
/// serves all threads (its caches are shared).
pub struct JsResolver {
    resolver: ResolverGeneric<MemFs>,
    /// The same for JavaScript importers: JavaScript files probed first (see
    /// [`resolve_options`]); shares the caches of `resolver`.
    js_resolver: ResolverGeneric<MemFs>,
    /// The same without tsconfig, for files whose tsconfig cannot be loaded.
    plain: ResolverGeneric<MemFs>,
    workspaces: Workspaces,
    /// Folders holding a `tsconfig.json` (or a lone `jsconfig.json`).
    tsconfig_dirs: HashSet<String>,
    /// Folder of each package.json → its `name` when it also has `exports`: the packages
    /// whose own files may import them by name (Node's self-reference).
    self_names: HashMap<String, Option<String>>,
    /// `package.json` files replaced by `{}` (path, why), sorted by path.
    broken_manifests: Vec<(String, String)>,
}

/// Warning code of a `package.json` that could not be read as a JSON object.
pub const WARN_INVALID_MANIFEST: &str = "invalid_manifest";

/// Why a `package.json` text is unusable, `None` when it is a JSON object.
///
/// `serde_json` stops at 128 levels of nesting with an error (no deep recursion), so a
/// manifest nested 100,000 levels deep is refused here before `oxc_resolver`'s own parser
/// sees it. A leading BOM is allowed, as `oxc_resolver` and Node allow it.
fn manifest_problem(text: &str) -> Option<String> {
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(_)) => None,
        Ok(_) => Some("is not a JSON object".to_string()),
        Err(e) => Some(format!("is not valid JSON ({e})")),
    }
}

/// Replaces every unusable `package.json` in `contents` by `{}`. Left as it is, `oxc_resolver`
/// fails every lookup that passes its folder, and all relative imports below it would end
/// `not_found`. Returns the replaced files and why, sorted by path.
fn replace_broken_manifests(contents: &mut HashMap<String, String>) -> Vec<(String, String)> {
    let mut broken: Vec<(String, String)> = contents
        .iter_mut()
        .filter(|(p, _)| p.rsplit('/').next() == Some("package.json"))
        .filter_map(|(p, text)| {
            let why = manifest_problem(text)?;
            *text = "{}".to_string();
            Some((
                p.clone(),
                format!("package.json {why}; its settings are ignored and imports below it resolve without them"),
            ))
        })
        .collect();
    broken.sort();
    broken
}

impl std::fmt::Debug for JsResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsResolver")
            .field("workspaces", &self.workspaces)
            .finish_non_exhaustive()
    }
}

fn is_tsconfig_like(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.ends_with(".json") && (name.starts_with("tsconfig") || name.starts_with("jsconfig"))
}

fn parent_dir(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(d, _)| d)
}

/// `dir` + relative `spec`, with `.` and `..` folded; `None` when it climbs above the root.
fn normalize(dir: &str, spec: &str) -> Option<String> {
    let mut parts: Vec<&str> = dir.split('/').filter(|s| !s.is_empty()).collect();
    for seg in spec.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            s => parts.push(s),
        }
    }
    Some(parts.join("/"))
}

/// Loads and rewrites tsconfig files so `oxc_resolver` can always read them: comments and
/// trailing commas removed, `extends`/`references` pointing at files missing from the snapshot
/// dropped, kept ones made absolute, `allowJs` defaulted on, and a `tsconfig.json` next to every
/// lone `jsconfig.json`.
struct TsconfigSet<'a> {
    files: &'a HashSet<String>,
    workspaces: &'a Workspaces,
    source: &'a dyn SnapshotFiles,
    contents: HashMap<String, String>,
}

impl TsconfigSet<'_> {
    fn load(&mut self, path: &str) -> Option<Value> {
        if !self.contents.contains_key(path) {
            let bytes = self.source.read(path)?;
            self.contents.insert(
                path.to_string(),
                String::from_utf8_lossy(&bytes).into_owned(),
            );
        }
        self.contents.get(path).and_then(|t| jsonc::parse(t))
    }

    /// The snapshot file an `extends` entry of `config` names, if present.
    fn extends_target(&self, config: &str, spec: &str) -> Option<String> {
        let base = if spec.starts_with('.') {
            normalize(parent_dir(config), spec)?
        } else if let Some(rel) = spec.strip_prefix('/') {
            rel.to_string()
        } else {
            let pkg = package_root(spec)?;
            let dir = self.workspaces.by_name.get(pkg)?;
            let sub = spec[pkg.len()..].trim_start_matches('/');
            let sub = if sub.is_empty() { "tsconfig.json" } else { sub };
            format!("{dir}/{sub}")
        };
        [
            base.clone(),
            format!("{base}.json"),
            format!("{base}/tsconfig.json"),
        ]
        .into_iter()
        .find(|p| self.files.contains(p))
    }

    fn sanitize(&mut self, path: &str, root: bool, queue: &mut Vec<String>) {
        let Some(mut v) = self.load(path) else {
            // Unreadable: an empty config keeps the resolver working for this folder.
            self.contents.insert(path.to_string(), "{}".to_string());
            return;
        };
        let Some(obj) = v.as_object_mut() else {
            self.contents.insert(path.to_string(), "{}".to_string());
            return;
        };
        let extends: Vec<String> = match obj.get("extends") {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            _ => Vec::new(),
        };
        let kept: Vec<Value> = extends
            .iter()
            .filter_map(|spec| self.extends_target(path, spec))
            .map(|target| {
                queue.push(target.clone());
                Value::String(abs_of(&target).to_string_lossy().into_owned())
            })
            .collect();
        obj.remove("extends");
        if !kept.is_empty() {
            obj.insert("extends".to_string(), Value::Array(kept));
        }
        if let Some(Value::Array(refs)) = obj.get("references") {
            let dir = parent_dir(path).to_string();
            let kept: Vec<Value> = refs
                .iter()
                .filter_map(|r| r.get("path").and_then(Value::as_str))
                .filter_map(|p| normalize(&dir, p))
                .filter_map(|p| {
                    let file = if p.ends_with(".json") {
                        p
                    } else {
                        format!("{p}/tsconfig.json")
                    };
                    self.files.contains(&file).then(|| {
                        queue.push(file.clone());
                        json!({ "path": abs_of(&file).to_string_lossy() })
                    })
                })
                .collect();
            obj.insert("references".to_string(), Value::Array(kept));
        }
        if root {
            let options = obj.entry("compilerOptions").or_insert_with(|| json!({}));
            if let Some(options) = options.as_object_mut() {
                options.entry("allowJs").or_insert(Value::Bool(true));
            }
        }
        self.contents.insert(path.to_string(), v.to_string());
    }
}

impl JsResolver {
    /// Builds the resolver: reads the snapshot's config files through `files`, finds workspace
    /// packages, and prepares tsconfig discovery (nearest `tsconfig.json`/`jsconfig.json` per
    /// file, `extends` chains, `paths`, `baseUrl`).
    pub fn new(files: &dyn SnapshotFiles) -> Self {
        let paths = files.paths();
        let mut file_set: HashSet<String> = paths.iter().cloned().collect();
        let mut contents: HashMap<String, String> = HashMap::new();
        for p in paths
            .iter()
            .filter(|p| MemorySnapshot::wants_content(p) && !is_tsconfig_like(p))
        {
            if let Some(bytes) = files.read(p) {
                contents.insert(p.clone(), String::from_utf8_lossy(&bytes).into_owned());
            }
        }
        let broken_manifests = replace_broken_manifests(&mut contents);
        let workspaces = workspace::discover(paths, &contents);
        let mut set = TsconfigSet {
            files: &file_set,
            workspaces: &workspaces,
            source: files,
            contents: HashMap::new(),
        };
        let roots: Vec<String> = paths
            .iter()
            .filter(|p| is_tsconfig_like(p) && !p.split('/').any(|s| s == "node_modules"))
            .cloned()
            .collect();
        let mut done: HashSet<String> = HashSet::new();
        let mut queue: Vec<String> = Vec::new();
        for root in &roots {
            let name = root.rsplit('/').next().unwrap_or(root);
            let is_root = name == "tsconfig.json" || name == "jsconfig.json";
            set.sanitize(root, is_root, &mut queue);
            done.insert(root.clone());
        }
        while let Some(next) = queue.pop() {
            if done.insert(next.clone()) {
                set.sanitize(&next, false, &mut queue);
            }
        }
        let mut synthetic = Vec::new();
        for js in roots.iter().filter(|p| {
            p.ends_with("jsconfig.json") && p.rsplit('/').next() == Some("jsconfig.json")
        }) {
            let dir = parent_dir(js);
            let ts = if dir.is_empty() {
                "tsconfig.json".to_string()
            } else {
                format!("{dir}/tsconfig.json")
            };
            if !file_set.contains(&ts) {
                let body = json!({ "extends": abs_of(js).to_string_lossy(), "compilerOptions": { "allowJs": true } });
                synthetic.push((ts, body.to_string()));
            }
        }
        contents.extend(set.contents);
        for (path, body) in synthetic {
            file_set.insert(path.clone());
            contents.insert(path, body);
        }
        let tsconfig_dirs: HashSet<String> = file_set
            .iter()
            .filter(|p| p.rsplit('/').next() == Some("tsconfig.json"))
            .map(|p| parent_dir(p).to_string())
            .collect();
        let self_names: HashMap<String, Option<String>> = contents
            .iter()
            .filter(|(p, _)| p.rsplit('/').next() == Some("package.json"))
            .map(|(p, text)| {
                let name = jsonc::parse(text)
                    .filter(|v| v.get("exports").is_some())
                    .and_then(|v| v.get("name")?.as_str().map(str::to_string));
                (parent_dir(p).to_string(), name)
            })
            .collect();
        let links: BTreeMap<String, String> = workspaces.links.clone();
        let fs = MemFs::new(file_set, contents, links);
        let options = resolve_options(false);
        let resolver = ResolverGeneric::new_with_file_system(fs, options.clone());
        let js_resolver = resolver.clone_with_options(resolve_options(true));
        let plain = resolver.clone_with_options(ResolveOptions {
            tsconfig: None,
            ..options
        });
        Self {
            resolver,
            js_resolver,
            plain,
            workspaces,
            tsconfig_dirs,
            self_names,
            broken_manifests,
        }
    }

    /// The `package.json` files that are not a JSON object (truncated, nested too deep, not
    /// JSON at all), with why: each was read as `{}` so the imports below it still resolve.
    /// Callers turn these into [`WARN_INVALID_MANIFEST`] warnings on those files.
    pub fn broken_manifests(&self) -> &[(String, String)] {
        &self.broken_manifests
    }

    /// Resolves one import of `from_path` (repo-relative).
    pub fn resolve(&self, from_path: &str, import: &Import) -> Resolution {
        self.resolve_specifier(from_path, &import.raw)
    }

    /// Resolves a specifier as written in `from_path`.
    pub fn resolve_specifier(&self, from_path: &str, raw: &str) -> Resolution {
        if raw.is_empty() {
            return Resolution::Unresolved("empty_specifier".to_string());
        }
        if let Some(ext) = url_like(raw) {
            return Resolution::External(ext);
        }
        let from = abs_of(from_path);
        let resolver = if is_javascript(from_path) {
            &self.js_resolver
        } else {
            &self.resolver
        };
        let result = match resolver.resolve_file(&from, raw) {
            Err(e) if is_tsconfig_error(&e) => {
                tracing::debug!(from = from_path, error = %e, "tsconfig unusable; resolving without it");
                self.plain.resolve_file(&from, raw)
            }
            r => r,
        };
        match result {
            Ok(found) => self.classify_found(from_path, raw, found.path()),
            Err(ResolveError::Builtin { resolved, .. }) => {
                Resolution::External(builtin_package(&resolved))
            }
            Err(_) => self.classify_missing(from_path, raw),
        }
    }

    fn classify_found(&self, from_path: &str, raw: &str, path: &Path) -> Resolution {
        let Some(rel) = rel_of(path) else {
            return Resolution::Unresolved("not_found".to_string());
        };
        if let Some(pkg) = node_modules_package(rel) {
            return Resolution::External(pkg);
        }
        if let Some(pkg) = package_root(raw) {
            let in_workspace = self
                .workspaces
                .by_name
                .values()
                .any(|d| rel.starts_with(&format!("{d}/")));
            if rel.ends_with(".d.ts")
                && !in_workspace
                && !self.is_self_reference(from_path, pkg)
                && !self.matches_paths(from_path, raw)
            {
                return Resolution::External(pkg.to_string());
            }
        }
        Resolution::Internal(rel.to_string())
    }

    fn classify_missing(&self, from_path: &str, raw: &str) -> Resolution {
        let unresolved = |r: &str| Resolution::Unresolved(r.to_string());
        if raw.starts_with('.') || raw.starts_with('/') {
            return unresolved("not_found");
        }
        if raw.starts_with('#') {
            return unresolved("imports_not_found");
        }
        if let Some(pkg) = package_root(raw) {
            if let Some(dir) = self.workspaces.by_name.get(pkg) {
                return self.workspace_fallback(dir, &raw[pkg.len()..]);
            }
        }
        if let Some(found) = self.unowned_fallback(from_path, raw) {
            return found;
        }
        if self.matches_paths(from_path, raw) {
            return unresolved("path_alias_not_found");
        }
        if raw.starts_with('~')
            || raw.starts_with("@/")
            || (raw.starts_with('@') && !raw.contains('/'))
        {
            return unresolved("alias_not_found");
        }
        match package_root(raw) {
            Some(pkg) => Resolution::External(pkg.to_string()),
            None => unresolved("not_found"),
        }
    }

    /// Whether `pkg` names the package `from_path` belongs to (the nearest package.json above
    /// it), which Node resolves through its own `exports`.
    fn is_self_reference(&self, from_path: &str, pkg: &str) -> bool {
        let mut dir = parent_dir(from_path);
        loop {
            if let Some(name) = self.self_names.get(dir) {
                return name.as_deref() == Some(pkg);
            }
            if dir.is_empty() {
                return false;
            }
            dir = parent_dir(dir);
        }
    }

    /// A workspace package whose manifest entry is missing: try its sources.
    fn workspace_fallback(&self, dir: &str, sub: &str) -> Resolution {
        let sub = sub.trim_start_matches('/');
        let candidates: Vec<String> = if sub.is_empty() {
            vec!["./src".to_string(), "./index".to_string()]
        } else {
            vec![format!("./src/{sub}"), format!("./{sub}")]
        };
        let base = abs_of(dir);
        candidates
            .iter()
            .find_map(|c| self.plain.resolve(&base, c).ok())
            .and_then(|found| rel_of(found.path()).map(str::to_string))
            .map_or_else(
                || Resolution::Unresolved("workspace_entry_not_found".to_string()),
                Resolution::Internal,
            )
    }

    /// Tsconfigs whose `paths`/`baseUrl` apply to `from_path`: the one that owns it (its
    /// `include`/`files`, or a reference's), else — for files no tsconfig claims, such as
    /// tests outside `include` — the nearest `tsconfig.json` up the tree and its references,
    /// as test runners and bundlers apply them.
    fn configs_for(&self, from_path: &str) -> Vec<Arc<TsConfig>> {
        if let Ok(Some(owner)) = self.resolver.find_tsconfig(abs_of(from_path)) {
            return vec![owner];
        }
        let mut dir = parent_dir(from_path);
        loop {
            if self.tsconfig_dirs.contains(dir) {
                let path = if dir.is_empty() {
                    "tsconfig.json".to_string()
                } else {
                    format!("{dir}/tsconfig.json")
                };
                return match self.resolver.resolve_tsconfig(abs_of(&path)) {
                    Ok(tc) => {
                        let mut out = vec![Arc::clone(&tc)];
                        out.extend(tc.references_resolved.iter().cloned());
                        out
                    }
                    Err(_) => Vec::new(),
                };
            }
            if dir.is_empty() {
                return Vec::new();
            }
            dir = parent_dir(dir);
        }
    }

    /// For a file no tsconfig owns, maps a bare specifier through the nearest tsconfig's
    /// `paths`/`baseUrl` (see [`Self::configs_for`]).
    fn unowned_fallback(&self, from_path: &str, raw: &str) -> Option<Resolution> {
        if matches!(self.resolver.find_tsconfig(abs_of(from_path)), Ok(Some(_))) {
            return None;
        }
        self.configs_for(from_path).iter().find_map(|tc| {
            tc.resolve_path_alias_or_base_url(raw)
                .iter()
                .find_map(|candidate| {
                    let spec = candidate.to_str()?;
                    let found = self.plain.resolve(ROOT, spec).ok()?;
                    Some(self.classify_found(from_path, raw, found.path()))
                })
        })
    }

    /// Whether `raw` matches a `paths` pattern of a tsconfig applying to `from_path`.
    fn matches_paths(&self, from_path: &str, raw: &str) -> bool {
        self.configs_for(from_path).iter().any(|tc| {
            tc.compiler_options.paths.as_ref().is_some_and(|paths| {
                paths.keys().any(|pattern| match pattern.split_once('*') {
                    Some((prefix, suffix)) => {
                        raw.len() >= prefix.len() + suffix.len()
                            && raw.starts_with(prefix)
                            && raw.ends_with(suffix)
                    }
                    None => pattern == raw,
                })
            })
        })
    }
}

/// Whether a file is JavaScript (its imports resolve as Node and bundlers do) rather than
/// TypeScript (as the TypeScript compiler does).
fn is_javascript(path: &str) -> bool {
    [".js", ".jsx", ".mjs", ".cjs"]
        .iter()
        .any(|ext| path.ends_with(ext))
}

/// Resolver options for TypeScript importers, or JavaScript ones (`js`). Both probe every
/// JS/TS extension, in the importer's order where a file ships beside its declaration file
/// (`x.js` + `x.d.ts`, as published packages do):
/// - TypeScript: `./x` tries `.ts .tsx .d.ts` before `.js`, and `./x.js` maps to `x.ts`,
///   `x.tsx`, `x.d.ts`, then `x.js` — the compiler's order;
/// - JavaScript: what runs comes first — `./x` tries `.js .jsx .mjs .cjs .json` before the
///   TypeScript ones, and `./x.js` is `x.js` when it exists, else `x.ts`/`x.tsx`/`x.d.ts`
///   (a TypeScript source imported by its output name, as bundlers allow).
///
/// JavaScript importers also leave out the `types` condition and the `types`/`typings` main
/// fields, which only the TypeScript compiler reads.
fn resolve_options(js: bool) -> ResolveOptions {
    let strings = |v: &[&str]| v.iter().map(|s| (*s).to_string()).collect::<Vec<_>>();
    let (extensions, aliases): (&[&str], [&[&str]; 4]) = if js {
        (
            &[
                ".js", ".jsx", ".mjs", ".cjs", ".json", ".ts", ".tsx", ".mts", ".cts", ".d.ts",
            ],
            [
                &[".js", ".ts", ".tsx", ".d.ts"],
                &[".jsx", ".tsx", ".d.ts"],
                &[".mjs", ".mts", ".d.mts"],
                &[".cjs", ".cts", ".d.cts"],
            ],
        )
    } else {
        (
            &[
                ".ts", ".tsx", ".d.ts", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts", ".json",
            ],
            [
                &[".ts", ".tsx", ".d.ts", ".js"],
                &[".tsx", ".d.ts", ".jsx"],
                &[".mts", ".d.mts", ".mjs"],
                &[".cts", ".d.cts", ".cjs"],
            ],
        )
    };
    ResolveOptions {
        tsconfig: Some(TsconfigDiscovery::Auto),
        extensions: strings(extensions),
        extension_alias: [".js", ".jsx", ".mjs", ".cjs"]
            .iter()
            .zip(aliases)
            .map(|(ext, to)| ((*ext).to_string(), strings(to)))
            .collect(),
        condition_names: if js {
            strings(&["import", "require", "node", "default"])
        } else {
            strings(&["import", "require", "node", "types", "default"])
        },
        main_fields: if js {
            strings(&["source", "module", "main"])
        } else {
            strings(&["source", "module", "main", "types", "typings"])
        },
        builtin_modules: true,
        node_path: false,
        symlinks: true,
        ..ResolveOptions::default()
    }
}

fn is_tsconfig_error(e: &ResolveError) -> bool {
    matches!(
        e,
        ResolveError::TsconfigNotFound(_)
            | ResolveError::TsconfigLoadFailed { .. }
            | ResolveError::TsconfigCircularExtend(_)
            | ResolveError::TsconfigSelfReference(_)
            | ResolveError::Json(_)
    )
}

/// `node:fs/promises` → `node:fs`.
fn builtin_package(resolved: &str) -> String {
    let name = resolved.strip_prefix("node:").unwrap_or(resolved);
    format!("node:{}", name.split('/').next().unwrap_or(name))
}

/// URLs and scheme specifiers (`https://…`, `data:…`, `bun:test`, `astro:content`) are external,
/// named by everything before the path.
fn url_like(raw: &str) -> Option<String> {
    let colon = raw.find(':')?;
    if raw[..colon].contains('/') || raw.starts_with("node:") {
        return None;
    }
    if let Some(rest) = raw
        .strip_prefix("https://")
        .or_else(|| raw.strip_prefix("http://"))
    {
        let host = rest.split('/').next().unwrap_or(rest);
        return Some(format!("{}//{host}", &raw[..=colon]));
    }
    Some(raw.split('/').next().unwrap_or(raw).to_string())
}

/// The package of a path inside `node_modules` (`@scope/name` or `name`).
fn node_modules_package(rel: &str) -> Option<String> {
    let at = rel.rfind("node_modules/")?;
    let after = &rel[at + "node_modules/".len()..];
    package_root(after).map(str::to_string)
}

/// Resolves every JS/TS import of `records` in place (in parallel): internal imports get
/// `resolved`, external ones `external` and `package`, the rest `unresolved_reason`.
pub fn resolve_all(records: &mut [FileRecord], resolver: &JsResolver) {
    records
        .par_iter_mut()
        .filter(|r| super::kept::resolves(r))
        .for_each(|record| {
            let from = record.path.clone();
            for import in &mut record.imports {
                apply(import, resolver.resolve(&from, import));
            }
        });
}

/// Resolves the imports at `positions` (`(record, import)`, sorted) in place, in parallel;
/// returns how many it resolved.
pub fn resolve_at(
    records: &mut [FileRecord],
    positions: &[(usize, usize)],
    resolver: &JsResolver,
) -> usize {
    let mut wanted: Vec<Vec<usize>> = vec![Vec::new(); records.len()];
    for &(r, i) in positions {
        if let Some(w) = wanted.get_mut(r) {
            w.push(i);
        }
    }
    records
        .par_iter_mut()
        .zip(wanted.par_iter())
        .filter(|(_, w)| !w.is_empty())
        .map(|(record, w)| {
            let from = &record.path;
            let mut n = 0;
            for &i in w {
                if let Some(import) = record.imports.get_mut(i) {
                    apply(import, resolver.resolve(from, import));
                    n += 1;
                }
            }
            n
        })
        .sum()
}

pub(super) fn apply(import: &mut Import, resolution: Resolution) {
    import.resolved = None;
    import.external = false;
    import.package = None;
    import.unresolved_reason = None;
    match resolution {
        Resolution::Internal(path) => import.resolved = Some(path),
        Resolution::External(pkg) => {
            import.external = true;
            import.package = Some(pkg.into());
        }
        Resolution::Unresolved(reason) => import.unresolved_reason = Some(reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(normalize("a/b", "../c/./d"), Some("a/c/d".to_string()));
        assert_eq!(normalize("a", "../../x"), None);
        assert_eq!(builtin_package("node:fs/promises"), "node:fs");
        assert_eq!(
            url_like("https://esm.sh/react@18"),
            Some("https://esm.sh".to_string())
        );
        assert_eq!(url_like("bun:test"), Some("bun:test".to_string()));
        assert_eq!(url_like("node:fs"), None);
        assert_eq!(url_like("./a:b"), None);
        assert_eq!(
            node_modules_package("node_modules/@a/b/dist/x.js"),
            Some("@a/b".to_string())
        );
    }
}
