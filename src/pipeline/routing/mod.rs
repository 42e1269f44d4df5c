//! Route composition: every route gets its full path through the mounts of every framework,
//! across files, once imports are resolved (docs/pipeline.md#routes).
//!
//! Parsers record each route with the path its file declares and its unit (`file:owner`,
//! the router it is declared on), plus the file's [`Wiring`](crate::pipeline::wiring): routers
//! with their own prefix, mounts, import bindings, aliases and framework settings.
//! [`compose_routes`] then:
//! 1. resolves every mount's target and parent to units (following bindings, re-exports,
//!    `export default`, functions returning routers, module objects), ignoring mounts made by
//!    test files;
//! 2. for every route, walks each chain of mounts from its unit up to a unit nobody mounts,
//!    applying on the way each unit's own prefix (unless a Flask `url_prefix` replaced it) and
//!    each mount's prefix with that framework's join rule ([`Join`]) — one route per chain,
//!    so a router mounted twice has its routes twice; a route mounted nowhere keeps its path;
//! 3. applies NestJS's global prefix (with `exclude`) and URI versioning, and Next.js's
//!    `basePath`, to the routes of the project that sets them;
//! 4. records on every route its mount chain (`file:line`, outermost first), `dynamicPrefix`
//!    when a prefix on the way is not a literal, and its unit as `file:name` of the router it
//!    belongs to (Django: the urlconf's `app_name`, else its package folder);
//! 5. clears the wiring facts, which never reach an artifact.

mod drf;
mod names;
mod nest;

use std::collections::{HashMap, HashSet};

use crate::pipeline::model::{FileRecord, FileRole, Route};
use crate::pipeline::py::PyResolver;
use crate::pipeline::wiring::{Join, RouterDecl, Setting, Wiring, URLPATTERNS};
use names::{Key, Names};

/// At most this many mount chains are followed per unit (a router mounted in many places).
pub const MAX_CHAINS_PER_UNIT: usize = 64;
/// At most this many composed routes in a snapshot.
pub const MAX_COMPOSED_ROUTES: usize = 200_000;
/// Mount chains longer than this are cut (nesting deeper than any real app).
const MAX_CHAIN_DEPTH: usize = 24;

/// One resolved mount: the unit it attaches to (`None`: the root) and how.
#[derive(Debug, Clone)]
struct Edge {
    parent: Option<Key>,
    prefix: String,
    dynamic: bool,
    join: Join,
    replaces_own: bool,
    /// `file:line` of the mount.
    at: String,
}

/// Joins `prefix` onto `path` by a framework's rule (see [`Join`]).
pub fn join(kind: Join, prefix: &str, path: &str) -> String {
    if prefix.is_empty() {
        return path.to_string();
    }
    match kind {
        Join::Slash => {
            let pre = prefix.trim_end_matches('/');
            if path.is_empty() || path == "/" {
                if pre.is_empty() {
                    "/".to_string()
                } else {
                    pre.to_string()
                }
            } else if path.starts_with('/') {
                format!("{pre}{path}")
            } else {
                format!("{pre}/{path}")
            }
        }
        Join::Flask => {
            if path.is_empty() {
                prefix.to_string()
            } else {
                format!(
                    "{}/{}",
                    prefix.trim_end_matches('/'),
                    path.trim_start_matches('/')
                )
            }
        }
        Join::Concat => format!("{prefix}{path}"),
        Join::KoaRouter => match path {
            "" => String::new(),
            "/" => prefix.to_string(),
            p => format!("{prefix}{p}"),
        },
    }
}

/// The owner part of a route's unit, when the unit names its own file.
fn owner_of<'a>(rec: &FileRecord, route: &'a Route) -> Option<&'a str> {
    route
        .unit
        .as_deref()?
        .strip_prefix(rec.path.as_str())?
        .strip_prefix(':')
}

/// Composes the routes of a snapshot in place (see the module docs). `py` resolves Django
/// `include("module")` targets. Returns the records' wiring, which nothing reads afterwards,
/// for the caller to free where it costs least.
pub fn compose_routes(records: &mut [FileRecord], py: &PyResolver) -> Vec<Wiring> {
    resolve_route_refs(records, py);
    let composed = {
        let records: &[FileRecord] = records;
        let mut units: HashSet<(usize, &str)> = HashSet::new();
        for (i, r) in records.iter().enumerate() {
            units.extend(
                r.routes
                    .iter()
                    .filter_map(|x| owner_of(r, x))
                    .map(|o| (i, o)),
            );
            units.extend(r.wiring.mounts.iter().map(|m| (i, m.parent.as_str())));
            units.extend(r.wiring.routers.iter().map(|d| (i, d.name.as_str())));
            for s in &r.wiring.settings {
                if let Setting::NestModule { name, .. } = s {
                    units.insert((i, name.as_str()));
                }
            }
        }
        let names = Names::new(records, units, py);
        let edges = edges(records, &names);
        let decls: HashMap<Key, &RouterDecl> = records
            .iter()
            .enumerate()
            .flat_map(|(i, r)| {
                r.wiring
                    .routers
                    .iter()
                    .map(move |d| ((i, d.name.clone()), d))
            })
            .collect();
        let mut composer = Composer {
            edges,
            decls,
            chains: HashMap::new(),
            total: 0,
        };
        let global_prefixes = global_prefixes(records, &names);
        let routes = records
            .iter()
            .enumerate()
            .map(|(i, r)| composer.file_routes(records, &names, i, r))
            .collect::<Vec<_>>();
        (routes, global_prefixes)
    };
    let (composed, global_prefixes) = composed;
    for (rec, routes) in records.iter_mut().zip(composed) {
        if let Some(routes) = routes {
            rec.routes = routes;
        }
    }
    for (i, value) in global_prefixes {
        for s in &mut records[i].wiring.settings {
            if let Setting::NestGlobalPrefix {
                prefix, dynamic, ..
            } = s
            {
                *prefix = value.clone();
                *dynamic = false;
            }
        }
    }
    nest::apply(records);
    next_base_path(records);
    records
        .iter_mut()
        .map(|rec| std::mem::take(&mut rec.wiring))
        .collect()
}

/// Turns every `X.route(name)` into the routes of the config object `name` stands for (see
/// [`crate::pipeline::wiring::Wiring::route_refs`]); a name that leads to no such object
/// declares nothing.
fn resolve_route_refs(records: &mut [FileRecord], py: &PyResolver) {
    // Most snapshots have none: no name index for them.
    if records.iter().all(|r| r.wiring.route_refs.is_empty()) {
        return;
    }
    let found: Vec<(usize, Vec<Route>)> = {
        let names = Names::new(records, HashSet::new(), py);
        records
            .iter()
            .enumerate()
            .filter(|(_, r)| !r.wiring.route_refs.is_empty() && r.role != FileRole::Test)
            .map(|(i, r)| {
                let routes = r
                    .wiring
                    .route_refs
                    .iter()
                    .flat_map(|at| {
                        let object = names.route_object(i, &at.path).unwrap_or_default();
                        object.iter().map(move |o| Route {
                            method: o.method.clone(),
                            path: o.path.clone(),
                            handler: o.handler.clone(),
                            ..at.clone()
                        })
                    })
                    .collect();
                (i, routes)
            })
            .collect()
    };
    for (i, routes) in found {
        let rec = &mut records[i];
        rec.routes.extend(routes);
        rec.routes.sort_by_key(|r| r.line);
    }
}

/// NestJS global prefixes that name another file's constant, resolved: (record, value).
fn global_prefixes(records: &[FileRecord], names: &Names<'_>) -> Vec<(usize, String)> {
    records
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            r.wiring.settings.iter().any(|s| {
                matches!(s, Setting::NestGlobalPrefix { prefix, dynamic: true, .. } if prefix.is_empty())
            })
        })
        .filter_map(|(i, r)| {
            let (_, name) = r.wiring.prefix_refs.iter().find(|(l, _)| *l == 0)?;
            Some((i, names.const_value(i, name)?.to_string()))
        })
        .collect()
}

/// Every mount of the snapshot, by the unit it mounts.
fn edges(records: &[FileRecord], names: &Names<'_>) -> HashMap<Key, Vec<Edge>> {
    let mut out: HashMap<Key, Vec<Edge>> = HashMap::new();
    for (i, r) in records.iter().enumerate() {
        if r.role == FileRole::Test {
            continue;
        }
        for m in &r.wiring.mounts {
            let Some(child) = names.target(i, &m.target) else {
                continue;
            };
            // A prefix naming another file's constant.
            let (prefix, dynamic) = match r.wiring.prefix_refs.iter().find(|(l, _)| *l == m.line) {
                Some((_, name)) if m.dynamic && m.prefix.is_empty() => {
                    match names.const_value(i, name) {
                        Some(v) => (v.to_string(), false),
                        None => (m.prefix.clone(), m.dynamic),
                    }
                }
                _ => (m.prefix.clone(), m.dynamic),
            };
            let parent = if m.parent.is_empty() {
                None
            } else {
                match names.local(i, &m.parent) {
                    Some(p) => Some(p),
                    None => continue,
                }
            };
            if parent.as_ref() == Some(&child) {
                continue;
            }
            out.entry(child).or_default().push(Edge {
                parent,
                prefix,
                dynamic,
                join: m.join,
                replaces_own: m.replaces_own,
                at: format!("{}:{}", r.path, m.line),
            });
        }
    }
    // NestJS: the controllers of a module that `RouterModule` mounts hang under the module.
    for (i, r) in records.iter().enumerate() {
        for s in &r.wiring.settings {
            let Setting::NestModule {
                name,
                controllers,
                line,
            } = s
            else {
                continue;
            };
            let Some(module) = names.local(i, name) else {
                continue;
            };
            if !out.contains_key(&module) {
                continue;
            }
            for c in controllers {
                if let Some(child) = names.local(i, c) {
                    out.entry(child).or_default().push(Edge {
                        parent: Some(module.clone()),
                        prefix: String::new(),
                        dynamic: false,
                        join: Join::Slash,
                        replaces_own: false,
                        at: format!("{}:{line}", r.path),
                    });
                }
            }
        }
    }
    out
}

struct Composer<'r> {
    edges: HashMap<Key, Vec<Edge>>,
    decls: HashMap<Key, &'r RouterDecl>,
    /// Mount chains (inner to outer, as edge lists) per unit, computed once.
    chains: HashMap<Key, Vec<Vec<Edge>>>,
    total: usize,
}

impl Composer<'_> {
    /// Chains of mounts from `key` up to a root; one empty chain when nothing mounts it.
    fn chains_of(&mut self, key: &Key) -> Vec<Vec<Edge>> {
        if let Some(c) = self.chains.get(key) {
            return c.clone();
        }
        let mut out = Vec::new();
        let mut path = vec![key.clone()];
        self.walk(key, &mut path, &mut Vec::new(), &mut out);
        if out.is_empty() {
            out.push(Vec::new());
        }
        self.chains.insert(key.clone(), out.clone());
        out
    }

    fn walk(
        &self,
        key: &Key,
        seen: &mut Vec<Key>,
        chain: &mut Vec<Edge>,
        out: &mut Vec<Vec<Edge>>,
    ) {
        if out.len() >= MAX_CHAINS_PER_UNIT {
            return;
        }
        let parents: Vec<&Edge> = self
            .edges
            .get(key)
            .map(|v| {
                v.iter()
                    .filter(|e| e.parent.as_ref().is_none_or(|p| !seen.contains(p)))
                    .collect()
            })
            .unwrap_or_default();
        if parents.is_empty() || chain.len() >= MAX_CHAIN_DEPTH {
            out.push(chain.clone());
            return;
        }
        for e in parents {
            chain.push(e.clone());
            match &e.parent {
                Some(p) => {
                    seen.push(p.clone());
                    self.walk(p, seen, chain, out);
                    seen.pop();
                }
                None => out.push(chain.clone()),
            }
            chain.pop();
        }
    }

    /// The composed routes of one record, `None` when it has nothing to compose.
    fn file_routes(
        &mut self,
        records: &[FileRecord],
        names: &Names<'_>,
        i: usize,
        rec: &FileRecord,
    ) -> Option<Vec<Route>> {
        let urls_views = urls_views(records, names, i, rec);
        if rec.routes.is_empty() && rec.wiring.tentative.is_empty() && urls_views.is_empty() {
            return None;
        }
        let mut routes = drf::expand(records, names, i, rec, class_views(records, names, i, rec));
        routes.extend(urls_views);
        // A route on a name that may be an HTTP client stands only when it is mounted.
        for t in &rec.wiring.tentative {
            let Some(owner) = owner_of(rec, t) else {
                continue;
            };
            let key = names.local(i, owner).unwrap_or((i, owner.to_string()));
            if self.chains_of(&key).iter().any(|c| !c.is_empty()) {
                routes.push(t.clone());
            }
        }
        let mut out: Vec<Route> = Vec::with_capacity(routes.len());
        for route in routes.iter() {
            let Some(owner) = owner_of(rec, route) else {
                out.push(route.clone());
                continue;
            };
            let key = names.local(i, owner).unwrap_or((i, owner.to_string()));
            for chain in self.chains_of(&key) {
                if self.total >= MAX_COMPOSED_ROUTES {
                    break;
                }
                let mut r = route.clone();
                let mut dynamic = route.dynamic_prefix;
                let mut path = route.path.clone();
                let mut unit = Some(key.clone());
                for idx in 0..=chain.len() {
                    let edge = chain.get(idx);
                    if let Some(d) = unit.as_ref().and_then(|u| self.decls.get(u)) {
                        if !edge.is_some_and(|e| e.replaces_own) {
                            path = join(d.join, &d.prefix, &path);
                            dynamic |= d.dynamic;
                        }
                    }
                    let Some(e) = edge else { break };
                    path = join(e.join, &e.prefix, &path);
                    dynamic |= e.dynamic;
                    unit = e.parent.clone();
                }
                if !path.starts_with('/') && path != "*" {
                    path.insert(0, '/');
                }
                r.path = path;
                r.dynamic_prefix = dynamic;
                r.mounts = chain.iter().rev().map(|e| e.at.clone()).collect();
                r.unit = Some(unit_name(records, &key));
                if rec.hints.framework.is_none() && JS_SERVERS.contains(&r.framework.as_str()) {
                    if let Some(fw) = chain.last().and_then(|e| root_framework(records, names, e)) {
                        r.framework = fw.to_string();
                    }
                }
                if !out
                    .iter()
                    .any(|o| o.method == r.method && o.path == r.path && o.line == r.line)
                {
                    out.push(r);
                    self.total += 1;
                }
            }
        }
        Some(out)
    }
}

/// JavaScript servers whose routers a file may receive without importing the framework.
const JS_SERVERS: &[&str] = &["express", "koa", "fastify", "hono", "hapi", "restify"];

/// The server framework of the file making the outermost mount of a chain: the framework of
/// a route whose own file imports none (a plugin handed its instance, `module.exports =
/// (router) => …`), which the parser could only guess.
fn root_framework<'r>(
    records: &'r [FileRecord],
    names: &Names<'_>,
    outer: &Edge,
) -> Option<&'r str> {
    let (file, _) = outer.at.rsplit_once(':')?;
    let fw = records[names.index_of(file)?].hints.framework.as_deref()?;
    JS_SERVERS.contains(&fw).then_some(fw)
}

/// The Django views of `rec` written `X.urls` whose `X.urls` is a function of the project
/// rather than a pattern list (see [`Setting::DjangoUrlsView`]), with their unit set.
fn urls_views(records: &[FileRecord], names: &Names<'_>, i: usize, rec: &FileRecord) -> Vec<Route> {
    rec.wiring
        .settings
        .iter()
        .filter_map(|s| match s {
            Setting::DjangoUrlsView { target, route } => Some((target, route)),
            _ => None,
        })
        .filter(|(target, _)| {
            names.target(i, target).is_some_and(|key| {
                !names.is_unit(&key) && records[key.0].functions.iter().any(|f| f.name == key.1)
            })
        })
        .map(|(_, route)| Route {
            unit: route.unit.as_ref().map(|o| format!("{}:{o}", rec.path)),
            ..route.clone()
        })
        .collect()
}

/// HTTP verbs a view class may implement.
const CLASS_VERBS: &[&str] = &["get", "post", "put", "patch", "delete", "head", "options"];

/// The routes of `rec` with every class-view route (Flask-RESTful `add_resource`,
/// `Cls.as_view`) turned into one route per HTTP method its class implements; a class that
/// cannot be found (or implements none) keeps its route as `ANY`.
fn class_views(
    records: &[FileRecord],
    names: &Names<'_>,
    i: usize,
    rec: &FileRecord,
) -> Vec<Route> {
    let views: Vec<(u32, &str)> = rec
        .wiring
        .settings
        .iter()
        .filter_map(|s| match s {
            Setting::ClassView { line, class } => Some((*line, class.as_str())),
            _ => None,
        })
        .collect();
    if views.is_empty() {
        return rec.routes.clone();
    }
    let mut out = Vec::with_capacity(rec.routes.len());
    for r in &rec.routes {
        let class = views
            .iter()
            .find(|(line, _)| *line == r.line && r.method == "ANY")
            .map(|(_, c)| *c);
        let methods: Vec<String> = class
            .and_then(|c| names.local(i, c))
            .and_then(|(file, local)| {
                records[file]
                    .classes
                    .iter()
                    .find(|c| c.name == local)
                    .map(|c| {
                        c.methods
                            .iter()
                            .filter(|m| CLASS_VERBS.contains(&m.as_str()))
                            .map(|m| m.to_ascii_uppercase())
                            .collect()
                    })
            })
            .unwrap_or_default();
        if methods.is_empty() {
            out.push(r.clone());
        }
        for m in methods {
            out.push(Route {
                method: m,
                ..r.clone()
            });
        }
    }
    out
}

/// `file:name` of a unit; a Django urlconf is named by its `app_name`, else its folder.
fn unit_name(records: &[FileRecord], key: &Key) -> String {
    let rec = &records[key.0];
    if key.1 != URLPATTERNS {
        return format!("{}:{}", rec.path, key.1);
    }
    let app = rec.wiring.settings.iter().find_map(|s| match s {
        Setting::DjangoAppName { name } => Some(name.clone()),
        _ => None,
    });
    let name = app.unwrap_or_else(|| {
        let mut dirs = rec.path.rsplit('/').skip(1);
        dirs.next().unwrap_or(URLPATTERNS).to_string()
    });
    format!("{}:{name}", rec.path)
}

/// The folder a project's settings apply to: the file's folder without a trailing `src`.
pub(super) fn project_root(path: &str) -> &str {
    let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
    dir.strip_suffix("/src")
        .or_else(|| (dir == "src").then_some(""))
        .unwrap_or(dir)
}

/// Whether `path` lies in the project rooted at `root`.
pub(super) fn in_project(root: &str, path: &str) -> bool {
    root.is_empty() || path.starts_with(&format!("{root}/"))
}

/// Next.js `basePath` in front of the routes of the project whose `next.config` sets it.
fn next_base_path(records: &mut [FileRecord]) {
    let bases: Vec<(String, String)> = records
        .iter()
        .flat_map(|r| {
            r.wiring.settings.iter().filter_map(|s| match s {
                Setting::NextBasePath { path } => {
                    let dir = r.path.rsplit_once('/').map_or("", |(d, _)| d);
                    Some((dir.to_string(), path.clone()))
                }
                _ => None,
            })
        })
        .collect();
    if bases.is_empty() {
        return;
    }
    for rec in records.iter_mut() {
        let Some((_, base)) = bases
            .iter()
            .filter(|(root, _)| in_project(root, &rec.path))
            .max_by_key(|(root, _)| root.len())
        else {
            continue;
        };
        for r in rec
            .routes
            .iter_mut()
            .filter(|r| r.framework.starts_with("nextjs"))
        {
            r.path = join(Join::Slash, base, &r.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_follow_each_framework() {
        assert_eq!(join(Join::Slash, "/api", "/users"), "/api/users");
        assert_eq!(join(Join::Slash, "/api/", "/"), "/api");
        assert_eq!(join(Join::Slash, "/", "/x"), "/x");
        assert_eq!(join(Join::Slash, "api", "x"), "api/x");
        assert_eq!(join(Join::Flask, "/orders", "/"), "/orders/");
        assert_eq!(join(Join::Flask, "/orders/", "/<id>"), "/orders/<id>");
        assert_eq!(join(Join::Flask, "/orders", ""), "/orders");
        assert_eq!(join(Join::Concat, "api/v1/", "things/"), "api/v1/things/");
        assert_eq!(join(Join::KoaRouter, "/api", "/"), "/api");
        assert_eq!(
            join(Join::KoaRouter, "/", "documents.list"),
            "/documents.list"
        );
        assert_eq!(join(Join::KoaRouter, "/api", ""), "");
    }

    #[test]
    fn project_roots() {
        assert_eq!(project_root("src/main.ts"), "");
        assert_eq!(project_root("main.ts"), "");
        assert_eq!(project_root("apps/api/src/main.ts"), "apps/api");
        assert!(in_project("apps/api", "apps/api/src/x.ts"));
        assert!(!in_project("apps/api", "apps/web/x.ts"));
    }
}
