//! Route units and names: which routes developers think of as one thing, and what they call
//! it.
//!
//! A unit is what a developer mounts or registers: an Express/Koa router, a NestJS
//! controller, a Flask blueprint, a FastAPI `APIRouter`, a Django app's URLconf. The route
//! extractor records it as `Route.unit` (`file:name`). When it does not, the unit is the
//! object the route is declared on (`router` of `router.get(…)`, `bp` of `@bp.route(…)`),
//! followed through an import to the file that creates it, so routes added to one router
//! from several files stay together; a Django URLconf is its own unit; file-system routes
//! (Next.js) group by resource, as their directories do. Only when none of that is known is
//! the unit the file.
//!
//! Names, in order: the resource the unit's routes share (`/api/v1/users/…` → "Users"), the
//! blueprint's registered name, the router or controller's own name without its suffix
//! (`authRouter`, `UsersController`, `auth_bp`), the file or its directory, and last the
//! file stem.

use super::describe::{file_label, resource_segment};
use super::reach::{Sources, Want};
use crate::pipeline::caps::detect::stem;
use crate::pipeline::caps::outline::Span;
use crate::pipeline::model::{FileRecord, Language, Route};

/// A route's unit and where its handler starts.
#[derive(Debug, Clone)]
pub(crate) struct RouteSite {
    /// `file:name` of the unit.
    pub unit: String,
    /// Where reaching starts: the handler, in the route's file.
    pub anchor: Want,
}

/// Names that say nothing about a unit.
const GENERIC: &[&str] = &[
    "",
    "app",
    "application",
    "router",
    "routes",
    "route",
    "routers",
    "api",
    "apis",
    "bp",
    "blueprint",
    "blueprints",
    "urlpatterns",
    "urls",
    "views",
    "view",
    "server",
    "index",
    "main",
    "src",
    "lib",
    "root",
    "default",
    "handlers",
    "handler",
    "controllers",
    "controller",
    "endpoints",
    "web",
    "http",
    "rest",
    "v1",
    "v2",
    "v3",
    "__init__",
    "mod",
];

/// Suffixes stripped from unit object names (`usersRouter` → `users`).
const SUFFIXES: &[&str] = &[
    "patterns",
    "viewset",
    "controller",
    "resource",
    "blueprint",
    "router",
    "routes",
    "views",
    "view",
    "api",
    "app",
    "bp",
];

/// Where `route`, declared in `rec` at `line`, belongs and where its handler is.
pub(crate) fn route_site(sources: &Sources<'_>, rec: &FileRecord, route: &Route) -> RouteSite {
    let whole = || RouteSite {
        unit: format!("{}:", rec.path),
        anchor: Want::Whole,
    };
    if route.framework.starts_with("nextjs") {
        let seg = resource_segment(&route.path).unwrap_or_default();
        return RouteSite {
            unit: format!("nextjs:{seg}"),
            anchor: named(&route.handler),
        };
    }
    let Some(o) = sources.outline(&rec.path) else {
        let mut site = whole();
        if let Some(u) = &route.unit {
            site.unit = u.clone();
        }
        return site;
    };
    let py = rec.language == Language::Py;
    let func = rec
        .functions
        .iter()
        .find(|f| f.name == route.handler || f.name.ends_with(&format!(".{}", route.handler)))
        .filter(|_| !route.handler.is_empty());
    // The handler: a decorated Python function, the arguments of the route call, or a
    // function of that name in the file.
    let (anchor, receiver) = if let (true, Some(f)) = (py, func) {
        let start = if route.line < f.line {
            route.line
        } else {
            f.line
        };
        let span = o.block_at(start).or_else(|| o.block_at(f.line));
        let receiver = f.decorators.iter().find_map(|d| {
            let head = d.split('(').next()?.trim();
            let (obj, _) = head.rsplit_once('.')?;
            Some(obj.rsplit('.').next().unwrap_or(obj).to_string())
        });
        let want = span.map(|span| Want::Handler {
            span,
            receiver: receiver.clone(),
        });
        (want, receiver)
    } else if let Some((receiver, span)) = call_on_line(&o.sc, route) {
        // The arguments only: the receiver is outside them.
        (
            Some(Want::Handler {
                span,
                receiver: None,
            }),
            receiver,
        )
    } else if let Some(f) = func {
        let want = o.block_at(f.line).map(|span| Want::Handler {
            span,
            receiver: None,
        });
        (want, None)
    } else {
        (None, None)
    };
    let anchor = anchor.unwrap_or_else(|| {
        if route.handler.is_empty() || o.defining(&route.handler).next().is_none() {
            Want::Whole
        } else {
            named(&route.handler)
        }
    });
    let unit = match (&route.unit, route.framework.as_str(), receiver) {
        (Some(u), _, _) => u.clone(),
        (None, "django", _) => format!("{}:urlpatterns", rec.path),
        (None, _, Some(r)) => unit_of_receiver(rec, &o, &r),
        (None, _, None) => format!("{}:", rec.path),
    };
    RouteSite { unit, anchor }
}

fn named(name: &str) -> Want {
    Want::Name {
        name: name.to_string(),
        attrs: Default::default(),
        handoff: false,
        strict: false,
    }
}

/// The route call on the route's line (`router.get('/x', …)`, `path('x/', views.f)`): its
/// receiver, if any, and the span of its arguments.
fn call_on_line(
    sc: &crate::pipeline::caps::scan::Scanned,
    route: &Route,
) -> Option<(Option<String>, Span)> {
    let start = sc.line_start(route.line)?;
    let end = sc.code[start..]
        .find('\n')
        .map_or(sc.code.len(), |e| start + e);
    let line = &sc.code[start..end];
    let verb = route.method.to_ascii_lowercase();
    let b = line.as_bytes();
    // Prefer `.verb(`, then any call on the line.
    let mut open: Option<usize> = None;
    let mut from = 0;
    while let Some(p) = line[from..].find(&format!(".{verb}")) {
        let at = from + p;
        from = at + 1;
        let after = at + 1 + verb.len();
        let q = after + (line[after..].len() - line[after..].trim_start().len());
        if b.get(q) == Some(&b'(')
            && !b
                .get(after)
                .is_some_and(|c| super::super::scan::is_ident(*c))
        {
            open = Some(q);
            break;
        }
    }
    if open.is_none() {
        open =
            (0..b.len()).find(|&i| b[i] == b'(' && i > 0 && super::super::scan::is_ident(b[i - 1]));
    }
    let open = open?;
    // Receiver: the identifier before `.verb`.
    let callee_end = line[..open].trim_end().len();
    let callee_start = line[..callee_end]
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$' || c == '.'))
        .map_or(0, |i| i + 1);
    let callee = &line[callee_start..callee_end];
    let receiver = callee
        .rsplit_once('.')
        .map(|(obj, _)| obj.rsplit('.').next().unwrap_or(obj).to_string())
        .filter(|r| !r.is_empty());
    let args = sc.args(start + open + 1);
    let span = match (args.first(), args.last()) {
        (Some(a), Some(z)) => Span {
            start: a.0,
            end: z.1,
        },
        _ => return None,
    };
    Some((receiver, span))
}

/// `file:name` of the object a route is declared on, in the file that creates it.
fn unit_of_receiver(
    rec: &FileRecord,
    o: &crate::pipeline::caps::outline::Outline,
    receiver: &str,
) -> String {
    if o.defining(receiver).next().is_none() {
        for &idx in o.bound_by(receiver) {
            if let Some(imp) = rec.imports.get(idx) {
                if let Some(target) = &imp.resolved {
                    let name = if imp.names.iter().any(|n| n == receiver) {
                        receiver.to_string()
                    } else if imp.names.len() == 1 && imp.names[0] != "*" {
                        imp.names[0].to_string()
                    } else {
                        receiver.to_string()
                    };
                    return format!("{target}:{name}");
                }
            }
        }
    }
    format!("{}:{receiver}", rec.path)
}

/// Splits a unit key into file and object.
pub(crate) fn split_unit(unit: &str) -> (&str, &str) {
    unit.rsplit_once(':').unwrap_or((unit, ""))
}

/// The resource the paths share: the innermost resource segment of their common leading
/// segments (`/api/platform-tools/docker/…` → `docker`: the outer ones are where the unit is
/// mounted, shared with its siblings); for a single path, its first resource segment.
fn shared_resource(paths: &[&str]) -> Option<String> {
    let split: Vec<Vec<&str>> = paths
        .iter()
        .map(|p| p.split('/').filter(|s| !s.is_empty()).collect())
        .collect();
    let first = split.first()?;
    let n = (0..first.len())
        .take_while(|i| split.iter().all(|s| s.get(*i) == Some(&first[*i])))
        .count();
    if split.len() == 1 {
        // One route: its path past the unit's own resource is the route itself.
        return resource_segment(&first.join("/"));
    }
    first[..n]
        .iter()
        .rev()
        .find_map(|seg| resource_segment(seg))
}

/// The object's own name without a generic suffix (`usersRouter` → `users`). A label the
/// parser made up for an unnamed function (`register@27`, an inline Fastify plugin) is none.
fn object_label(object: &str) -> Option<String> {
    if object.contains('@') {
        return None;
    }
    let lower = object.to_ascii_lowercase();
    if GENERIC.contains(&lower.as_str()) {
        return None;
    }
    let mut cut = object.len();
    for s in SUFFIXES {
        if lower.len() > s.len() && lower.ends_with(s) {
            cut = object.len() - s.len();
            break;
        }
    }
    let base = object[..cut].trim_end_matches(['_', '-']);
    let label = if base.is_empty() { object } else { base };
    (!GENERIC.contains(&label.to_ascii_lowercase().as_str())).then(|| label.to_string())
}

/// The name a Flask blueprint was registered under (`Blueprint('auth', __name__)`).
fn blueprint_name(sources: &Sources<'_>, file: &str, object: &str) -> Option<String> {
    let o = sources.outline(file)?;
    let c = o.defining(object).next()?;
    let text = &o.sc.code[c.span.start..c.span.end];
    let at = text.find("Blueprint")? + c.span.start;
    let open = o.sc.code[at..].find('(')? + at + 1;
    let lit = o.sc.lit_after(open)?;
    (!GENERIC.contains(&lit.value.to_ascii_lowercase().as_str())).then(|| lit.value.clone())
}

/// Label of an API unit (without " API").
pub(crate) fn api_label(sources: &Sources<'_>, unit: &str, paths: &[&str]) -> String {
    if let Some(r) = shared_resource(paths) {
        return r;
    }
    if let Some(seg) = unit.strip_prefix("nextjs:") {
        return seg.to_string();
    }
    let (file, object) = split_unit(unit);
    if let Some(n) = blueprint_name(sources, file, object) {
        return n;
    }
    if let Some(n) = object_label(object) {
        return n;
    }
    let fl = file_label(file);
    if !GENERIC.contains(&fl.to_ascii_lowercase().as_str()) {
        return fl;
    }
    let s = stem(file);
    if matches!(
        s,
        "index" | "main" | "__init__" | "urls" | "routes" | "router" | ""
    ) {
        String::new()
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_names_lose_their_suffix() {
        assert_eq!(object_label("usersRouter").as_deref(), Some("users"));
        assert_eq!(object_label("UsersController").as_deref(), Some("Users"));
        assert_eq!(object_label("auth_bp").as_deref(), Some("auth"));
        assert_eq!(object_label("router"), None);
        assert_eq!(object_label("register@27"), None);
        assert_eq!(object_label("app"), None);
        assert_eq!(object_label("urlpatterns"), None);
        assert_eq!(object_label("AUTH_PATTERNS").as_deref(), Some("AUTH"));
    }

    #[test]
    fn shared_resources() {
        assert_eq!(
            shared_resource(&["/api/v1/users", "/api/v1/users/:id"]).as_deref(),
            Some("users")
        );
        assert_eq!(shared_resource(&["/hello", "/users"]), None);
        assert_eq!(
            shared_resource(&[
                "/api/platform-tools/docker/env",
                "/api/platform-tools/docker/restart"
            ])
            .as_deref(),
            Some("docker")
        );
        assert_eq!(
            shared_resource(&["/api/documents.list"]).as_deref(),
            Some("documents.list")
        );
    }
}
