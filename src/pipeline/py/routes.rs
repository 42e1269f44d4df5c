//! HTTP routes in Python code: FastAPI and Flask decorators, Django `urlpatterns`, and the
//! mounts that compose them (`include_router`, `register_blueprint`, `mount`, `include()`).
//!
//! Rules (what a route looks like in the [`FileRecord`] before composition):
//! - FastAPI/Flask: `@<receiver>.<verb>(path, …)` with verb `get post put delete patch options
//!   head trace` (one route, that method), `route` (Flask: one route per `methods=[…]` entry,
//!   default `GET`), `api_route` (FastAPI: same, default `GET`), `websocket` (method
//!   `WEBSOCKET`); also `app.add_url_rule(rule, endpoint, view_func, methods=…)` and
//!   `app.add_api_route(path, endpoint, methods=…)`. The framework comes from how the receiver
//!   was built in this file (`FastAPI()`/`APIRouter()` vs `Flask()`/`Blueprint()`), else from
//!   the file's imports, else `route` means Flask and a verb means FastAPI. A receiver not built
//!   in the file and a file importing neither framework need a literal path starting with `/`
//!   (this keeps `@cache.get(key)` out). The path is the one declared; the receiver's own
//!   prefix (`APIRouter(prefix=…)`, `Blueprint(url_prefix=…)`) and the mounts are applied by
//!   route composition. The route's unit is `file:receiver`.
//! - Mounts: `X.include_router(r, prefix=…)` and `X.mount(path, app)` (concatenated, as
//!   Starlette does), `X.register_blueprint(bp, url_prefix=…)` (Flask: a given `url_prefix`
//!   replaces the blueprint's own; nested blueprints add up).
//! - Django: module-level `urlpatterns = […]` (also `+=`, `.append`, `.extend`, `[…] + […]`,
//!   `i18n_patterns(…)`) with `path`/`re_path`/`url` entries: method `ANY`, path as declared
//!   without regex anchors, handler = view source text without `.as_view(…)`, unit
//!   `file:urlpatterns`. `include("app.urls")`, `include(module)`, `include(router.urls)` and
//!   a view that is an `….urls` attribute (`admin.site.urls`) are mounts, never routes; an
//!   inline `include([path(…), …])` is flattened on the spot with its prefix.
//! - Paths: a string, an f-string or a `+` concatenation whose names are module-level string
//!   constants is evaluated; any other part is left out and the route marked `dynamicPrefix`.

use super::extract::{last_name, str_list, str_lit};
use crate::pipeline::model::Route;
use crate::pipeline::wiring::{Join, Mount, RouterDecl, Setting, Target};
use ruff_python_ast::{self as ast, Expr, FStringPart, InterpolatedStringElement};
use ruff_text_size::Ranged;
use std::collections::HashMap;

#[path = "django_urls.rs"]
mod django;

/// The format suffix Django REST framework's `DefaultRouter` adds to each of its routes
/// (`format_suffix_patterns`: `users.json`), as a path converter.
pub(crate) const FORMAT_SUFFIX: &str = ".<format>";

/// Framework names as they appear in [`Route::framework`].
const FASTAPI: &str = "fastapi";
const FLASK: &str = "flask";
const DJANGO: &str = "django";

const VERBS: &[&str] = &[
    "get", "post", "put", "delete", "patch", "options", "head", "trace",
];

/// A route decorator or registration call seen during the walk, classified in
/// [`Collector::finish`] once all imports and receivers of the file are known.
struct RouteCandidate {
    receiver: String,
    verb: String,
    path: String,
    path_is_literal: bool,
    dynamic: bool,
    /// `methods=` of `route`/`api_route`/`add_url_rule`: `None` when absent.
    methods: Option<Vec<String>>,
    handler: String,
    line: u32,
}

/// What a receiver variable (`app`, `router`, `bp`) was built from.
struct Receiver {
    framework: &'static str,
    decl: RouterDecl,
}

/// Everything about routes one file declares, gathered during the walk.
#[derive(Default)]
pub(crate) struct Collector {
    candidates: Vec<RouteCandidate>,
    /// Receivers built in this file, keyed by their source text (`app`, `self.router`).
    receivers: HashMap<String, Receiver>,
    /// Django routes with the variable holding their pattern list (`urlpatterns`,
    /// `list_patterns`).
    django: Vec<(String, Route)>,
    pub mounts: Vec<Mount>,
    pub settings: Vec<Setting>,
    /// Module-level string constants (`PREFIX = "/api"`), for f-string paths.
    consts: HashMap<String, String>,
    /// Django REST framework routers built in this file: (trailing slash, `DefaultRouter`).
    drf: HashMap<String, (String, bool)>,
}

/// The value of a path expression: literal parts, and whether some part was not literal.
/// `None` when the expression has no literal part at all.
fn path_value(e: &Expr, consts: &HashMap<String, String>) -> Option<(String, bool)> {
    path_value_at(e, consts, 0)
}

/// Deeper than this, a path expression is not read (hostile `"a" + "b" + …` chains).
const MAX_PATH_DEPTH: usize = 32;

fn path_value_at(
    e: &Expr,
    consts: &HashMap<String, String>,
    depth: usize,
) -> Option<(String, bool)> {
    if depth > MAX_PATH_DEPTH {
        return Some((String::new(), true));
    }
    match e {
        Expr::StringLiteral(s) => Some((s.value.to_str().to_string(), false)),
        Expr::Name(n) => consts.get(n.id.as_str()).map(|v| (v.clone(), false)),
        Expr::FString(f) => {
            let (mut out, mut dynamic) = (String::new(), false);
            for part in f.value.iter() {
                match part {
                    FStringPart::Literal(l) => out.push_str(&l.value),
                    FStringPart::FString(fs) => {
                        for el in fs.elements.iter() {
                            match el {
                                InterpolatedStringElement::Literal(l) => out.push_str(&l.value),
                                InterpolatedStringElement::Interpolation(i) => {
                                    match path_value_at(&i.expression, consts, depth + 1) {
                                        Some((v, d)) if i.format_spec.is_none() => {
                                            out.push_str(&v);
                                            dynamic |= d;
                                        }
                                        _ => dynamic = true,
                                    }
                                }
                            }
                        }
                    }
                }
            }
            Some((out, dynamic))
        }
        Expr::BinOp(b) if b.op == ast::Operator::Add => {
            let l = path_value_at(&b.left, consts, depth + 1);
            let r = path_value_at(&b.right, consts, depth + 1);
            if l.is_none() && r.is_none() {
                return None;
            }
            let (ls, ld) = l.unwrap_or((String::new(), true));
            let (rs, rd) = r.unwrap_or((String::new(), true));
            Some((format!("{ls}{rs}"), ld || rd))
        }
        _ => None,
    }
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

/// A mount target: a name or attribute chain (`router`, `items.router`, `admin.site.urls`).
fn name_target(src: &str, e: &Expr) -> Option<Target> {
    let mut cur = e;
    loop {
        match cur {
            Expr::Name(_) => return Some(Target::Name(src[e.range()].to_string())),
            Expr::Attribute(a) => cur = &a.value,
            _ => return None,
        }
    }
}

/// Whether a value is a Django pattern list: a list (or `+` of lists) with a `path()`,
/// `re_path()` or `url()` entry.
pub(crate) fn is_pattern_list(e: &Expr) -> bool {
    // Iterative: a hostile `a + b + …` chain is millions of operands deep.
    let mut work = vec![e];
    while let Some(e) = work.pop() {
        let elts = match e {
            Expr::List(l) => &l.elts,
            Expr::Tuple(t) => &t.elts,
            Expr::BinOp(b) => {
                work.push(&b.left);
                work.push(&b.right);
                continue;
            }
            _ => continue,
        };
        let is_path = |x: &Expr| matches!(x, Expr::Call(c) if matches!(last_name(&c.func), Some("path" | "re_path" | "url")));
        if elts.iter().any(is_path) {
            return true;
        }
    }
    false
}

/// Regex anchors of a Django pattern segment are dropped: segments are concatenated.
fn strip_anchors(segment: &str) -> &str {
    segment.trim_start_matches('^').trim_end_matches('$')
}

impl Collector {
    /// Records a module-level `NAME = "literal"` for f-string paths.
    pub(crate) fn constant(&mut self, name: &str, value: &Expr) {
        if let Some(s) = str_lit(value) {
            self.consts.insert(name.to_string(), s.to_string());
        }
    }

    fn path_arg(&self, src: &str, call: &ast::ExprCall, kw: &str) -> Option<(String, bool, bool)> {
        let e = call.arguments.find_argument_value(kw, 0)?;
        Some(match path_value(e, &self.consts) {
            Some((p, dynamic)) => (p, !dynamic, dynamic),
            None => (src[e.range()].to_string(), false, true),
        })
    }

    /// `name = FastAPI()`, `APIRouter(prefix=…)`, `Flask()`, `Blueprint(url_prefix=…)`.
    pub(crate) fn receiver(&mut self, name: &str, call: &ast::ExprCall, line: u32) {
        match last_name(&call.func) {
            Some("Api") => return self.restful_api(name, call, line),
            Some(kind @ ("DefaultRouter" | "SimpleRouter")) => {
                return self.drf_router(name, call, kind == "DefaultRouter", line)
            }
            _ => {}
        }
        let (framework, prefix_kw, join) = match last_name(&call.func) {
            Some("FastAPI" | "Starlette") => (FASTAPI, None, Join::Concat),
            Some("APIRouter") => (FASTAPI, Some("prefix"), Join::Concat),
            Some("Flask") => (FLASK, None, Join::Flask),
            Some("Blueprint") => (FLASK, Some("url_prefix"), Join::Flask),
            _ => return,
        };
        let (prefix, dynamic) = prefix_kw
            .and_then(|k| call.arguments.find_keyword(k))
            .map(|k| path_value(&k.value, &self.consts).unwrap_or((String::new(), true)))
            .unwrap_or_default();
        let decl = RouterDecl {
            name: name.to_string(),
            prefix,
            dynamic,
            join,
            line,
        };
        self.receivers
            .insert(name.to_string(), Receiver { framework, decl });
    }

    /// Flask-RESTful / Flask-RESTX `name = Api(app_or_blueprint, prefix=…)`: the API's
    /// resources are mounted on the blueprint (or app) it wraps.
    fn restful_api(&mut self, name: &str, call: &ast::ExprCall, line: u32) {
        let decl = RouterDecl {
            name: name.to_string(),
            prefix: String::new(),
            dynamic: false,
            join: Join::Flask,
            line,
        };
        self.receivers.insert(
            name.to_string(),
            Receiver {
                framework: FLASK,
                decl,
            },
        );
        let Some(parent) = call.arguments.find_argument_value("app", 0) else {
            return;
        };
        let (prefix, dynamic) = call
            .arguments
            .find_keyword("prefix")
            .map(|k| path_value(&k.value, &self.consts).unwrap_or((String::new(), true)))
            .unwrap_or_default();
        self.mounts.push(Mount {
            parent: src_text(parent),
            target: Target::Name(name.to_string()),
            prefix,
            dynamic,
            join: Join::Flask,
            replaces_own: false,
            line,
        });
    }

    /// Django REST framework `name = DefaultRouter()` / `SimpleRouter(trailing_slash=…)`: a
    /// unit whose routes come from `name.register(…)`; a `DefaultRouter` also answers at its
    /// root (the API root view, with and without a format suffix).
    fn drf_router(&mut self, name: &str, call: &ast::ExprCall, default: bool, line: u32) {
        let slash = match call
            .arguments
            .find_keyword("trailing_slash")
            .map(|k| &k.value)
        {
            Some(Expr::BooleanLiteral(b)) if !b.value => String::new(),
            Some(e) => str_lit(e).unwrap_or("/").to_string(),
            None => "/".to_string(),
        };
        let decl = RouterDecl {
            name: name.to_string(),
            prefix: String::new(),
            dynamic: false,
            join: Join::Concat,
            line,
        };
        self.receivers.insert(
            name.to_string(),
            Receiver {
                framework: DJANGO,
                decl,
            },
        );
        self.drf.insert(name.to_string(), (slash, default));
        if default {
            for path in ["", FORMAT_SUFFIX] {
                self.django.push((
                    name.to_string(),
                    Route {
                        method: "ANY".to_string(),
                        path: path.to_string(),
                        handler: "api-root".to_string(),
                        line,
                        framework: DJANGO.to_string(),
                        ..Default::default()
                    },
                ));
            }
        }
    }

    /// `router.register(prefix, ViewSet, basename=…)` on a router of [`Self::drf_router`]:
    /// a placeholder route (the prefix, `ANY`) that composition expands by the viewset.
    fn drf_register(&mut self, src: &str, call: &ast::ExprCall, router: &str, line: u32) {
        let Some((slash, format_suffix)) = self.drf.get(router).cloned() else {
            return;
        };
        let (Some(prefix), Some(viewset)) = (
            call.arguments.find_argument_value("prefix", 0),
            call.arguments.find_argument_value("viewset", 1),
        ) else {
            return;
        };
        let (path, dynamic) = path_value(prefix, &self.consts).unwrap_or((String::new(), true));
        let class = src[viewset.range()].to_string();
        self.django.push((
            router.to_string(),
            Route {
                method: "ANY".to_string(),
                path: strip_anchors(&path).to_string(),
                handler: class.clone(),
                line,
                framework: DJANGO.to_string(),
                dynamic_prefix: dynamic,
                ..Default::default()
            },
        ));
        self.settings.push(Setting::DrfViewSet {
            line,
            class,
            trailing_slash: slash,
            format_suffix,
        });
    }

    /// `@action(detail=…, url_path=…)` (or the older `@detail_route` / `@list_route`) on
    /// method `method` of class `class`.
    pub(crate) fn drf_action(&mut self, decorator: &Expr, class: &str, method: &str) -> bool {
        let (callee, call) = match decorator {
            Expr::Call(c) => (&*c.func, Some(c)),
            other => (other, None),
        };
        let detail = match last_name(callee) {
            Some("action") => call
                .and_then(|c| c.arguments.find_keyword("detail"))
                .is_some_and(|k| matches!(&k.value, Expr::BooleanLiteral(b) if b.value)),
            Some("detail_route") => true,
            Some("list_route") => false,
            _ => return false,
        };
        let url_path = call
            .and_then(|c| c.arguments.find_keyword("url_path"))
            .and_then(|k| str_lit(&k.value))
            .unwrap_or(method);
        self.settings.push(Setting::DrfAction {
            class: class.to_string(),
            method: method.to_string(),
            detail,
            url_path: url_path.trim_matches('/').to_string(),
        });
        true
    }

    /// `api.add_resource(Cls, "/a", "/b", endpoint=…)`: one route per URL, methods from
    /// the class.
    fn add_resource(&mut self, src: &str, call: &ast::ExprCall, line: u32) {
        let Expr::Attribute(attr) = &*call.func else {
            return;
        };
        let Some((class, urls)) = call.arguments.args.split_first() else {
            return;
        };
        let class = src[class.range()].to_string();
        for url in urls {
            let (path, dynamic) = path_value(url, &self.consts).unwrap_or((String::new(), true));
            self.candidates.push(RouteCandidate {
                receiver: src[attr.value.range()].to_string(),
                verb: "route".to_string(),
                path,
                path_is_literal: !dynamic,
                dynamic,
                methods: Some(vec!["ANY".to_string()]),
                handler: class.clone(),
                line,
            });
        }
        self.settings.push(Setting::ClassView { line, class });
    }

    /// `X.include_router(r, prefix=…)`, `X.register_blueprint(bp, url_prefix=…)`,
    /// `X.mount(path, app)`. Returns false when the call is none of those.
    pub(crate) fn mount_call(
        &mut self,
        src: &str,
        call: &ast::ExprCall,
        method: &str,
        line: u32,
    ) -> bool {
        let Expr::Attribute(attr) = &*call.func else {
            return false;
        };
        let parent = src[attr.value.range()].to_string();
        let (target, prefix, join, replaces_own) = match method {
            "include_router" => {
                let Some(t) = call.arguments.find_argument_value("router", 0) else {
                    return true;
                };
                let prefix = call.arguments.find_keyword("prefix").map(|k| &k.value);
                (t, prefix, Join::Concat, false)
            }
            "register_blueprint" => {
                let Some(t) = call.arguments.find_argument_value("blueprint", 0) else {
                    return true;
                };
                let prefix = call.arguments.find_keyword("url_prefix").map(|k| &k.value);
                let given = prefix.is_some_and(|p| !p.is_none_literal_expr());
                (t, prefix.filter(|_| given), Join::Flask, given)
            }
            "mount" => {
                let (Some(p), Some(t)) = (
                    call.arguments.find_argument_value("path", 0),
                    call.arguments.find_argument_value("app", 1),
                ) else {
                    return true;
                };
                (t, Some(p), Join::Concat, false)
            }
            _ => return false,
        };
        let Some(target) = name_target(src, target) else {
            return true;
        };
        let (prefix, dynamic) = prefix
            .map(|p| path_value(p, &self.consts).unwrap_or((String::new(), true)))
            .unwrap_or_default();
        self.mounts.push(Mount {
            parent,
            target,
            prefix,
            dynamic,
            join,
            replaces_own,
            line,
        });
        true
    }

    /// `@recv.verb(path, …)` decorating the function `handler`.
    pub(crate) fn decorator(
        &mut self,
        src: &str,
        call: &ast::ExprCall,
        handler: &str,
        line: u32,
    ) -> bool {
        let Expr::Attribute(attr) = &*call.func else {
            return false;
        };
        let verb = attr.attr.as_str();
        if !(VERBS.contains(&verb) || matches!(verb, "route" | "api_route" | "websocket")) {
            return false;
        }
        let kw = if verb == "route" { "rule" } else { "path" };
        let Some((path, path_is_literal, dynamic)) = self.path_arg(src, call, kw) else {
            return false;
        };
        self.candidates.push(RouteCandidate {
            receiver: src[attr.value.range()].to_string(),
            verb: verb.to_string(),
            path,
            path_is_literal,
            dynamic,
            methods: methods_of(call),
            handler: handler.to_string(),
            line,
        });
        true
    }

    /// `app.add_url_rule(rule, endpoint, view_func)` / `app.add_api_route(path, endpoint)`.
    pub(crate) fn call(
        &mut self,
        src: &str,
        call: &ast::ExprCall,
        method: &str,
        line: u32,
    ) -> bool {
        let Expr::Attribute(attr) = &*call.func else {
            return false;
        };
        if method == "add_resource" {
            self.add_resource(src, call, line);
            return true;
        }
        if method == "register" {
            let router = src[attr.value.range()].to_string();
            if !self.drf.contains_key(&router) {
                return false;
            }
            self.drf_register(src, call, &router, line);
            return true;
        }
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
            _ => return false,
        };
        let Some((path, path_is_literal, dynamic)) = self.path_arg(src, call, kw) else {
            return false;
        };
        let mut methods = methods_of(call);
        // `view_func=Cls.as_view("name")` without `methods=`: the class's methods.
        if let (Some(Expr::Call(v)), None) = (handler, &methods) {
            if matches!(&*v.func, Expr::Attribute(a) if a.attr.as_str() == "as_view") {
                methods = Some(vec!["ANY".to_string()]);
                let class = handler.map(|h| view_name(src, h)).unwrap_or_default();
                self.settings.push(Setting::ClassView { line, class });
            }
        }
        self.candidates.push(RouteCandidate {
            receiver: src[attr.value.range()].to_string(),
            verb: verb.to_string(),
            path,
            path_is_literal,
            dynamic,
            methods,
            handler: handler.map(|h| view_name(src, h)).unwrap_or_default(),
            line,
        });
        true
    }

    /// Routes of the file (see the module rules) and the routers it builds.
    pub(crate) fn finish(
        self,
        path: &str,
        imports_fastapi: bool,
        imports_flask: bool,
    ) -> (Vec<Route>, Vec<RouterDecl>) {
        let mut routes = Vec::new();
        for c in self.candidates {
            let known = self.receivers.get(&c.receiver);
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
            let methods = match c.verb.as_str() {
                "route" | "api_route" => c.methods.unwrap_or_else(|| vec!["GET".to_string()]),
                "websocket" => vec!["WEBSOCKET".to_string()],
                verb => vec![verb.to_ascii_uppercase()],
            };
            for method in methods {
                routes.push(Route {
                    method,
                    path: c.path.clone(),
                    handler: c.handler.clone(),
                    line: c.line,
                    framework: framework.to_string(),
                    dynamic_prefix: c.dynamic,
                    unit: Some(format!("{path}:{}", c.receiver)),
                    ..Default::default()
                });
            }
        }
        routes.extend(self.django.into_iter().map(|(owner, mut r)| {
            r.unit = Some(format!("{path}:{owner}"));
            r
        }));
        let mut decls: Vec<RouterDecl> = self.receivers.into_values().map(|r| r.decl).collect();
        decls.sort_by_key(|d| d.line);
        (routes, decls)
    }
}

/// Dotted text of a name or attribute chain (`app`, `self.bp`); empty for anything else.
fn src_text(e: &Expr) -> String {
    let mut parts = Vec::new();
    let mut cur = e;
    loop {
        match cur {
            Expr::Name(n) => {
                parts.push(n.id.as_str());
                break;
            }
            Expr::Attribute(a) => {
                parts.push(a.attr.as_str());
                cur = &a.value;
            }
            _ => return String::new(),
        }
    }
    parts.reverse();
    parts.join(".")
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
