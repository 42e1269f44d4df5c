//! HTTP routes in Python code: FastAPI and Flask decorators, Django `urlpatterns`, and the
//! composition of Django `include()` prefixes across files.
//!
//! Rules (what a route looks like in the [`FileRecord`]):
//! - FastAPI/Flask: `@<receiver>.<verb>(path, …)` with verb `get post put delete patch options
//!   head trace` (one route, that method), `route` (Flask: one route per `methods=[…]` entry,
//!   default `GET`), `api_route` (FastAPI: same, default `GET`), `websocket` (method
//!   `WEBSOCKET`); also `app.add_url_rule(rule, endpoint, view_func, methods=…)` and
//!   `app.add_api_route(path, endpoint, methods=…)`. The framework comes from how the receiver
//!   was built in this file (`FastAPI()`/`APIRouter()` vs `Flask()`/`Blueprint()`), else from
//!   the file's imports, else `route` means Flask and a verb means FastAPI. A receiver not built
//!   in the file and a file importing neither framework need a literal path starting with `/`
//!   (this keeps `@cache.get(key)` out). Prefixes: `APIRouter(prefix="/x")`,
//!   `Blueprint(…, url_prefix="/x")` and, in the same file, `app.include_router(r, prefix="/y")`
//!   are prepended. A non-literal path is kept as its source text.
//! - Django: module-level `urlpatterns = […]` (also `+=`, `.append`, `.extend`, `[…] + […]`,
//!   `i18n_patterns(…)`) with `path`/`re_path`/`url` entries: method `ANY`, path as declared
//!   (Django patterns have no leading `/`), handler = view source text without `.as_view(…)`.
//!   `include("app.urls")` (or `include(("app.urls", "ns"))`) becomes a route with method
//!   [`INCLUDE`] whose handler is the module name; an inline `include([path(…), …])` is
//!   flattened on the spot with its prefix; any other include (`include(router.urls)`) is an
//!   `INCLUDE` route whose handler is the source text.

use super::extract::{last_name, str_list, str_lit};
use super::resolve::PyResolver;
use super::LineIndex;
use crate::pipeline::model::{FileRecord, Route};
use ruff_python_ast::{self as ast, Expr};
use ruff_text_size::Ranged;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap, HashSet};

/// Method of a Django `include()` entry: the path is a prefix for another urlconf.
pub const INCLUDE: &str = "INCLUDE";
/// Framework names as they appear in [`Route::framework`].
const FASTAPI: &str = "fastapi";
const FLASK: &str = "flask";
const DJANGO: &str = "django";
/// Upper bound on routes produced by [`compose_django_routes`]: include graphs that fan out
/// (the same urlconf included from many places, many levels deep) cannot blow up the output.
pub const MAX_COMPOSED_ROUTES: usize = 100_000;

const VERBS: &[&str] = &[
    "get", "post", "put", "delete", "patch", "options", "head", "trace",
];

/// A route decorator or registration call seen during the walk, classified in
/// [`finish_routes`] once all imports and receivers of the file are known.
pub(crate) struct RouteCandidate {
    receiver: String,
    verb: String,
    path: String,
    path_is_literal: bool,
    /// `methods=` of `route`/`api_route`/`add_url_rule`: `None` when absent.
    methods: Option<Vec<String>>,
    handler: String,
    line: u32,
}

/// What a receiver variable (`app`, `router`, `bp`) was built from.
pub(crate) struct Receiver {
    framework: &'static str,
    prefix: String,
}

/// Receivers built in this file, keyed by their source text (`app`, `self.router`).
#[derive(Default)]
pub(crate) struct Receivers {
    map: HashMap<String, Receiver>,
}

impl Receivers {
    pub(crate) fn insert(&mut self, name: &str, r: Receiver) {
        self.map.insert(name.to_string(), r);
    }
}

/// A receiver from `FastAPI()`, `APIRouter(prefix=…)`, `Flask()`, `Blueprint(url_prefix=…)`.
pub(crate) fn receiver_from_call(call: &ast::ExprCall) -> Option<Receiver> {
    let (framework, prefix_kw) = match last_name(&call.func)? {
        "FastAPI" => (FASTAPI, None),
        "APIRouter" => (FASTAPI, Some("prefix")),
        "Flask" => (FLASK, None),
        "Blueprint" => (FLASK, Some("url_prefix")),
        _ => return None,
    };
    let prefix = prefix_kw
        .and_then(|k| call.arguments.find_keyword(k))
        .and_then(|k| str_lit(&k.value))
        .unwrap_or("")
        .to_string();
    Some(Receiver { framework, prefix })
}

/// `app.include_router(router, prefix="/api")`: the prefix is added to `router`'s routes.
pub(crate) fn include_router(src: &str, call: &ast::ExprCall, receivers: &mut Receivers) {
    let Some(router) = call.arguments.args.first() else {
        return;
    };
    let Some(prefix) = call
        .arguments
        .find_keyword("prefix")
        .and_then(|k| str_lit(&k.value))
    else {
        return;
    };
    let name = &src[router.range()];
    let r = receivers.map.entry(name.to_string()).or_insert(Receiver {
        framework: FASTAPI,
        prefix: String::new(),
    });
    r.prefix = join_path(prefix, &r.prefix);
}

fn methods_of(call: &ast::ExprCall) -> Option<Vec<String>> {
    let kw = call.arguments.find_keyword("methods")?;
    Some(match &kw.value {
        Expr::List(_) | Expr::Tuple(_) => str_list(&kw.value)
            .map(|v| v.into_iter().map(|m| m.to_ascii_uppercase()).collect())
            .unwrap_or_else(|| vec!["ANY".to_string()]),
        Expr::Set(s) => s
            .elts
            .iter()
            .map(|e| str_lit(e).map(str::to_ascii_uppercase))
            .collect::<Option<Vec<_>>>()
            .unwrap_or_else(|| vec!["ANY".to_string()]),
        _ => vec!["ANY".to_string()],
    })
}

fn path_arg<'e>(src: &'e str, call: &'e ast::ExprCall, kw: &str) -> Option<(String, bool)> {
    let e = call.arguments.find_argument_value(kw, 0)?;
    Some(match str_lit(e) {
        Some(s) => (s.to_string(), true),
        None => (src[e.range()].to_string(), false),
    })
}

/// `@recv.verb(path, …)` decorating the function `handler`.
pub(crate) fn decorator_candidate(
    src: &str,
    call: &ast::ExprCall,
    handler: &str,
    line: u32,
) -> Option<RouteCandidate> {
    let Expr::Attribute(attr) = &*call.func else {
        return None;
    };
    let verb = attr.attr.as_str();
    if !(VERBS.contains(&verb) || matches!(verb, "route" | "api_route" | "websocket")) {
        return None;
    }
    let kw = if verb == "route" { "rule" } else { "path" };
    let (path, path_is_literal) = path_arg(src, call, kw)?;
    Some(RouteCandidate {
        receiver: src[attr.value.range()].to_string(),
        verb: verb.to_string(),
        path,
        path_is_literal,
        methods: methods_of(call),
        handler: handler.to_string(),
        line,
    })
}

/// `app.add_url_rule(rule, endpoint, view_func)` / `app.add_api_route(path, endpoint)`.
pub(crate) fn call_candidate(
    src: &str,
    call: &ast::ExprCall,
    method: &str,
    line: u32,
) -> Option<RouteCandidate> {
    let Expr::Attribute(attr) = &*call.func else {
        return None;
    };
    let (verb, kw, handler) = match method {
        "add_url_rule" => (
            "route",
            "rule",
            call.arguments
                .find_argument_value("view_func", 2)
                .or_else(|| call.arguments.find_argument_value("endpoint", 1)),
        ),
        "add_api_route" => (
            "api_route",
            "path",
            call.arguments.find_argument_value("endpoint", 1),
        ),
        _ => return None,
    };
    let (path, path_is_literal) = path_arg(src, call, kw)?;
    Some(RouteCandidate {
        receiver: src[attr.value.range()].to_string(),
        verb: verb.to_string(),
        path,
        path_is_literal,
        methods: methods_of(call),
        handler: handler
            .map(|h| src[h.range()].to_string())
            .unwrap_or_default(),
        line,
    })
}

/// Joins a router prefix and a route path without doubling the `/` between them.
fn join_path(prefix: &str, path: &str) -> String {
    if prefix.ends_with('/') && path.starts_with('/') {
        format!("{prefix}{}", &path[1..])
    } else {
        format!("{prefix}{path}")
    }
}

/// Turns the candidates of one file into routes (see the module rules).
pub(crate) fn finish_routes(
    candidates: Vec<RouteCandidate>,
    receivers: &Receivers,
    imports_fastapi: bool,
    imports_flask: bool,
) -> Vec<Route> {
    let mut routes = Vec::new();
    for c in candidates {
        let known = receivers.map.get(&c.receiver);
        let plausible = known.is_some()
            || imports_fastapi
            || imports_flask
            || (c.path_is_literal && c.path.starts_with('/'));
        if !plausible {
            continue;
        }
        let framework = match known {
            Some(r) => r.framework,
            None if imports_fastapi && !imports_flask => FASTAPI,
            None if imports_flask && !imports_fastapi => FLASK,
            None if c.verb == "route" => FLASK,
            None => FASTAPI,
        };
        let prefix = known.map(|r| r.prefix.as_str()).unwrap_or("");
        let methods = match c.verb.as_str() {
            "route" | "api_route" => c.methods.unwrap_or_else(|| vec!["GET".to_string()]),
            "websocket" => vec!["WEBSOCKET".to_string()],
            verb => vec![verb.to_ascii_uppercase()],
        };
        let path = join_path(prefix, &c.path);
        for method in methods {
            routes.push(Route {
                method,
                path: path.clone(),
                handler: c.handler.clone(),
                line: c.line,
                framework: framework.to_string(),
                ..Default::default()
            });
        }
    }
    routes
}

/// View source text without a trailing `.as_view(…)`.
fn view_name(src: &str, view: &Expr) -> String {
    if let Expr::Call(c) = view {
        if let Expr::Attribute(a) = &*c.func {
            if a.attr.as_str() == "as_view" {
                return src[a.value.range()].to_string();
            }
        }
    }
    src[view.range()].to_string()
}

/// Collects Django routes from the value assigned to (or appended to) `urlpatterns`.
pub(crate) fn django_patterns(src: &str, lines: &LineIndex, value: &Expr, out: &mut Vec<Route>) {
    // Explicit work list of (prefix, expression): inline includes nest without recursion.
    let mut work: Vec<(String, &Expr)> = vec![(String::new(), value)];
    while let Some((prefix, e)) = work.pop() {
        match e {
            Expr::List(l) => work.extend(l.elts.iter().rev().map(|x| (prefix.clone(), x))),
            Expr::Tuple(t) => work.extend(t.elts.iter().rev().map(|x| (prefix.clone(), x))),
            Expr::BinOp(b) => {
                work.push((prefix.clone(), &b.right));
                work.push((prefix, &b.left));
            }
            Expr::Call(call) => match last_name(&call.func) {
                Some("i18n_patterns") => work.extend(
                    call.arguments
                        .args
                        .iter()
                        .rev()
                        .map(|x| (prefix.clone(), x)),
                ),
                Some("path" | "re_path" | "url") => {
                    let Some(route) = call.arguments.find_argument_value("route", 0) else {
                        continue;
                    };
                    let pattern = str_lit(route)
                        .map(str::to_string)
                        .unwrap_or_else(|| src[route.range()].to_string());
                    let full = format!("{prefix}{pattern}");
                    let Some(view) = call.arguments.find_argument_value("view", 1) else {
                        continue;
                    };
                    let line = lines.line(call.range().start());
                    if let Some(inline) = include_target(src, view, line, &full, out) {
                        work.push((full, inline));
                        continue;
                    }
                    if !is_include(view) {
                        out.push(Route {
                            method: "ANY".to_string(),
                            path: full,
                            handler: view_name(src, view),
                            line,
                            framework: DJANGO.to_string(),
                            ..Default::default()
                        });
                    }
                }
                _ => {}
            },
            _ => {}
        }
    }
}

fn is_include(view: &Expr) -> bool {
    matches!(view, Expr::Call(c) if last_name(&c.func) == Some("include"))
}

/// Handles `include(…)`: records an `INCLUDE` route for a module or opaque target and
/// returns the inline pattern list to flatten, if that is what was included.
fn include_target<'e>(
    src: &str,
    view: &'e Expr,
    line: u32,
    path: &str,
    out: &mut Vec<Route>,
) -> Option<&'e Expr> {
    let Expr::Call(c) = view else { return None };
    if last_name(&c.func) != Some("include") {
        return None;
    }
    let arg = c.arguments.args.first()?;
    // `include(("app.urls", "ns"))` / `include(([…], "ns"))`: look at the first element.
    let target = match arg {
        Expr::Tuple(t) if t.elts.first().is_some_and(|f| !matches!(f, Expr::Call(_))) => &t.elts[0],
        other => other,
    };
    if matches!(target, Expr::List(_) | Expr::Tuple(_)) {
        return Some(target);
    }
    let handler = str_lit(target)
        .map(str::to_string)
        .unwrap_or_else(|| src[target.range()].to_string());
    out.push(Route {
        method: INCLUDE.to_string(),
        path: path.to_string(),
        handler,
        line,
        framework: DJANGO.to_string(),
        ..Default::default()
    });
    None
}

/// A Django route with its full path, composed through every `include()` that leads to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ComposedRoute {
    /// Repo-relative path of the urlconf that declares the route.
    pub file: String,
    /// The route; `path` is the full URL path with a leading `/`.
    pub route: Route,
}

fn strip_anchors(segment: &str) -> &str {
    segment.trim_start_matches('^').trim_end_matches('$')
}

/// Composes Django `include()` prefixes into full route paths across a snapshot.
///
/// Urlconfs are the files with Django routes. The roots are the modules named by a
/// `ROOT_URLCONF = "…"` setting (recorded in `symbols.djangoRootUrlconf`) when they resolve to
/// a urlconf, else every urlconf that no other urlconf includes. From each root, routes are
/// emitted in file order; an `include("a.urls")` whose module resolves (through `resolver`,
/// as an absolute import) to a urlconf continues there with the accumulated prefix; an
/// include that resolves nowhere is emitted as an `INCLUDE` route so nothing is lost.
/// Urlconfs that no root reaches are walked afterwards, as roots of their own. Regex
/// anchors (`^`, `$`) of each segment are dropped when joining, and every composed path gets
/// a leading `/`. A urlconf already on the current include chain is not entered again
/// (include cycles end), and at most [`MAX_COMPOSED_ROUTES`] routes are produced (and as
/// many urlconf visits made). Output
/// order is deterministic: roots sorted by path, then depth-first in declaration order.
pub fn compose_django_routes(records: &[FileRecord], resolver: &PyResolver) -> Vec<ComposedRoute> {
    let urlconfs: HashMap<&str, &FileRecord> = records
        .iter()
        .filter(|r| r.routes.iter().any(|x| x.framework == DJANGO))
        .map(|r| (r.path.as_str(), r))
        .collect();
    let target = |module: &str| -> Option<&str> {
        let file = resolver.resolve_dotted(module)?;
        urlconfs.get_key_value(file.as_str()).map(|(k, _)| *k)
    };
    let mut roots: BTreeSet<&str> = records
        .iter()
        .flat_map(|r| r.symbols.get("djangoRootUrlconf").into_iter().flatten())
        .filter_map(|m| target(m))
        .collect();
    if roots.is_empty() {
        let included: BTreeSet<&str> = urlconfs
            .values()
            .flat_map(|r| r.routes.iter())
            .filter(|x| x.method == INCLUDE)
            .filter_map(|x| target(&x.handler))
            .collect();
        roots = urlconfs
            .keys()
            .copied()
            .filter(|k| !included.contains(k))
            .collect();
    }
    enum Item<'r> {
        Enter(&'r str, String, Vec<&'r str>),
        Emit(&'r str, Route),
    }
    // Urlconfs no root reaches (dead code, include cycles without an entry) are walked too,
    // afterwards and in path order, so every declared route appears at least once.
    let mut all: Vec<&str> = urlconfs.keys().copied().collect();
    all.sort_unstable();
    let mut visited: HashSet<&str> = HashSet::new();
    let mut out = Vec::new();
    let mut entered = 0usize;
    for root in roots.into_iter().chain(all) {
        if visited.contains(root) {
            continue;
        }
        let mut work = vec![Item::Enter(root, String::new(), vec![root])];
        while let Some(item) = work.pop() {
            let (file, prefix, chain) = match item {
                Item::Emit(file, route) => {
                    if out.len() >= MAX_COMPOSED_ROUTES {
                        return out;
                    }
                    out.push(ComposedRoute {
                        file: file.to_string(),
                        route,
                    });
                    continue;
                }
                Item::Enter(file, prefix, chain) => (file, prefix, chain),
            };
            visited.insert(file);
            entered += 1;
            if entered > MAX_COMPOSED_ROUTES {
                return out;
            }
            let Some(rec) = urlconfs.get(file) else {
                continue;
            };
            let mut items = Vec::new();
            for r in rec.routes.iter().filter(|x| x.framework == DJANGO) {
                let path = format!("{prefix}{}", strip_anchors(&r.path));
                if r.method == INCLUDE {
                    if let Some(t) = target(&r.handler) {
                        // An include cycle ends at the first repeated urlconf.
                        if !chain.contains(&t) {
                            let mut c = chain.clone();
                            c.push(t);
                            items.push(Item::Enter(t, path, c));
                        }
                        continue;
                    }
                }
                let route = Route {
                    path: format!("/{path}"),
                    ..r.clone()
                };
                items.push(Item::Emit(file, route));
            }
            // Reversed so that items pop in declaration order.
            work.extend(items.into_iter().rev());
        }
    }
    out
}
