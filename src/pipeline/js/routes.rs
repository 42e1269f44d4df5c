//! Routes: declared in code (Express/Koa/Fastify/Hono style `app.get('/x', h)`,
//! `router.route('/x').get(h)`, `fastify.route({method, url})`, NestJS decorators) and implied
//! by file paths (Next.js app and pages routers).

use oxc_ast::ast::*;
use oxc_span::{GetSpan, Span};

use super::visit::static_string;

/// A route found in code before the file's framework is known.
pub(super) struct RawRoute {
    /// Empty for `X.route(getUser)`: the route is then the config object `getUser` names,
    /// here or in another module, and `path` holds that name until composition finds the
    /// object (see [`crate::pipeline::wiring::Wiring::route_refs`]).
    pub method: String,
    pub path: String,
    pub handler: String,
    /// Byte offset while walking; the visitor turns it into a line.
    pub line: u32,
    /// Name of the object the route was declared on (`app`, `router`, `fastify`, `nestjs`).
    pub object: String,
    /// The handler is written inline (a function expression).
    pub inline_handler: bool,
    /// Label of the enclosing top-level function (see [`crate::pipeline::wiring`]); set by
    /// the visitor. For NestJS, the controller class.
    pub label: String,
    /// The path does not start with `/`: only koa-router takes such paths (`"documents.list"`).
    pub bare: bool,
}

const VERBS: &[&str] = &[
    "get", "post", "put", "patch", "delete", "del", "all", "head", "options",
];

/// Upper-case method for a router verb; `all` means any method.
fn method_of(verb: &str) -> String {
    match verb {
        "all" => "ANY".to_string(),
        "del" => "DELETE".to_string(),
        v => v.to_ascii_uppercase(),
    }
}

/// The object name of routes declared on NestJS's underlying server (`app.getHttpAdapter()`):
/// Express or Fastify routes, outside Nest's global prefix and versioning.
pub(super) const NEST_HTTP_ADAPTER: &str = "httpAdapter";

/// Names that almost surely hold a server or router object.
pub(super) fn is_strong_router_name(name: &str) -> bool {
    [
        "app",
        "router",
        "server",
        "fastify",
        "instance",
        NEST_HTTP_ADAPTER,
    ]
    .iter()
    .any(|n| name.eq_ignore_ascii_case(n))
        || ends_with_ci(name, "router")
        || ends_with_ci(name, "app")
}

/// Case-insensitive `ends_with` without allocating.
fn ends_with_ci(name: &str, suffix: &str) -> bool {
    name.len() >= suffix.len()
        && name.as_bytes()[name.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
}

/// Names that may hold a router but also an HTTP client (`api.get('/x', params)`).
pub(super) fn is_weak_router_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    matches!(
        lower.as_str(),
        "api" | "routes" | "route" | "r" | "srv" | "hono"
    ) || lower.ends_with("routes")
        || lower.ends_with("api")
        || lower.ends_with("server")
}

/// The name of an object expression (`app`, `this.router` → `router`, `ctx.app` → `app`);
/// whether it holds a router is decided once the file's routers are known.
fn object_name<'a>(expr: &'a Expression<'a>) -> Option<&'a str> {
    match expr.get_inner_expression() {
        Expression::Identifier(id) => Some(id.name.as_str()),
        // NestJS's underlying server: `app.getHttpAdapter()` (and its `.getInstance()`).
        Expression::CallExpression(c) => {
            let m = c.callee.get_inner_expression().as_member_expression()?;
            match m.static_property_name()? {
                "getHttpAdapter" => Some(NEST_HTTP_ADAPTER),
                "getInstance" => object_name(m.object()),
                _ => None,
            }
        }
        e => e.as_member_expression()?.static_property_name(),
    }
}

/// The paths a loop variable takes (`PATHS.forEach((p) => app.get(p, h))`), by name.
pub(super) type LoopPaths<'l> = &'l dyn Fn(&str) -> Option<Vec<String>>;

/// Paths of a route's path argument: a string, a template without substitutions, a regex
/// literal (as written), a loop variable over such paths, or an array of those. A URL with a
/// query string is a request a client makes, never a route.
fn route_paths<'a>(
    arg: &'a Expression<'a>,
    text: &impl Fn(Span) -> &'a str,
    loop_paths: LoopPaths<'_>,
) -> Vec<String> {
    match arg.get_inner_expression() {
        Expression::ArrayExpression(a) => a
            .elements
            .iter()
            .filter_map(|e| e.as_expression())
            .flat_map(|e| route_paths(e, text, loop_paths))
            .collect(),
        Expression::Identifier(id) => loop_paths(id.name.as_str()).unwrap_or_default(),
        Expression::RegExpLiteral(r) => vec![text(r.span).to_string()],
        e => static_string(e)
            .filter(|p| !has_query(p) && !p.contains("://"))
            .map(|p| vec![p.to_string()])
            .unwrap_or_default(),
    }
}

/// The strings of an array literal whose every element is one (`['/', '/cron']`).
pub(super) fn string_list(e: &Expression<'_>) -> Option<Vec<String>> {
    let Expression::ArrayExpression(a) = e.get_inner_expression() else {
        return None;
    };
    a.elements
        .iter()
        .map(|x| {
            x.as_expression()
                .and_then(static_string)
                .map(str::to_string)
        })
        .collect::<Option<Vec<_>>>()
        .filter(|v| !v.is_empty())
}

/// `?name=` after the path: a query string (an Express optional parameter `/:id?` has none).
fn has_query(path: &str) -> bool {
    path.split_once('?')
        .is_some_and(|(_, q)| q.contains('=') || q.contains('&'))
}

/// Whether the last argument of a verb call can be a handler: a function, a name, a member,
/// a call (`asyncHandler(f)`), an array of middleware. An object, string or number there is
/// the body or options of a request a client makes (`server.post("/api/x", { body })`).
fn handler_shaped(e: &Expression<'_>) -> bool {
    !matches!(
        e.get_inner_expression(),
        Expression::ObjectExpression(_)
            | Expression::StringLiteral(_)
            | Expression::TemplateLiteral(_)
            | Expression::NumericLiteral(_)
            | Expression::BooleanLiteral(_)
            | Expression::NullLiteral(_)
            | Expression::BinaryExpression(_)
    )
}

/// Fastify's shorthand with the handler in the options, `fastify.get('/x', { schema, handler })`
/// (or `async handler(req, reply) {}`): the `handler` property, when it can be a handler. An
/// object without one is the body or options of a request a client makes.
fn options_handler<'a, 'b>(e: &'b Expression<'a>) -> Option<&'b Expression<'a>> {
    super::expr::object_prop(e, "handler").filter(|h| handler_shaped(h))
}

/// Name of a handler argument: an identifier, a member (`users.list`), the named function
/// expression, or what a wrapper call wraps (`asyncHandler(list)`); empty when inline.
fn handler_name<'a>(arg: &'a Expression<'a>, text: &impl Fn(Span) -> &'a str) -> (String, bool) {
    match arg.get_inner_expression() {
        Expression::Identifier(id) => (id.name.to_string(), false),
        e if e.is_member_expression() => (text(e.span()).to_string(), false),
        Expression::FunctionExpression(f) => {
            (f.name().map(|n| n.to_string()).unwrap_or_default(), true)
        }
        Expression::ArrowFunctionExpression(_) => (String::new(), true),
        Expression::CallExpression(c) => c
            .arguments
            .iter()
            .rev()
            .filter_map(Argument::as_expression)
            .map(|a| handler_name(a, text))
            .find(|(n, inline)| !n.is_empty() || *inline)
            .unwrap_or_default(),
        _ => (String::new(), false),
    }
}

/// Routes declared by one call expression; `loop_paths` gives the paths of the loop variables
/// in scope.
pub(super) fn call_routes<'a>(
    call: &'a CallExpression<'a>,
    text: impl Fn(Span) -> &'a str,
    loop_paths: LoopPaths<'_>,
) -> Vec<RawRoute> {
    let Some(member) = call.callee.get_inner_expression().as_member_expression() else {
        return Vec::new();
    };
    let Some((prop_span, prop)) = member.static_property_info() else {
        return Vec::new();
    };
    let args: Vec<&Expression<'_>> = call
        .arguments
        .iter()
        .filter_map(Argument::as_expression)
        .collect();
    let object = member.object();
    if prop == "route" {
        let Some(name) = object_name(object) else {
            return Vec::new();
        };
        let Some(arg) = args.first() else {
            return Vec::new();
        };
        // `fastify.route(getUser)`: a config object declared elsewhere.
        if let Some(target) = super::expr::dotted(arg).filter(|_| args.len() == 1) {
            return vec![RawRoute {
                method: String::new(),
                path: target,
                handler: String::new(),
                line: prop_span.start,
                object: name.to_string(),
                inline_handler: false,
                label: String::new(),
                bare: false,
            }];
        }
        return config_routes(arg, name, call.span.start, &text);
    }
    if !VERBS.contains(&prop) {
        return Vec::new();
    }
    let (handler, inline) = args
        .last()
        .copied()
        .map(|a| options_handler(a).unwrap_or(a))
        .map(|a| handler_name(a, &text))
        .unwrap_or_default();
    let route = |path: String, object: &str| RawRoute {
        method: method_of(prop),
        bare: !(path.starts_with('/') || path.starts_with('*') || path.starts_with("/^")),
        path,
        handler: handler.clone(),
        line: prop_span.start,
        object: object.to_string(),
        inline_handler: inline,
        label: String::new(),
    };
    // `router.route('/x').get(h).post(h2)`
    if let Some((path, name)) = chain_path(object) {
        return vec![route(path, name)];
    }
    let Some(name) = object_name(object) else {
        return Vec::new();
    };
    if args.len() < 2
        || !args
            .last()
            .is_some_and(|a| handler_shaped(a) || options_handler(a).is_some())
    {
        return Vec::new();
    }
    let named = args.len() >= 3
        && static_string(args[0]).is_some()
        && matches!(
            args[1].get_inner_expression(),
            Expression::StringLiteral(_)
                | Expression::TemplateLiteral(_)
                | Expression::RegExpLiteral(_)
        );
    // koa-router named routes: `router.get('user', '/users/:id', handler)`
    let paths = route_paths(if named { args[1] } else { args[0] }, &text, loop_paths);
    paths.into_iter().map(|p| route(p, name)).collect()
}

/// For a verb call on `X.route('/p')` (possibly after other verb calls), the path and `X`.
fn chain_path<'a>(mut object: &'a Expression<'a>) -> Option<(String, &'a str)> {
    loop {
        let Expression::CallExpression(call) = object.get_inner_expression() else {
            return None;
        };
        let member = call.callee.get_inner_expression().as_member_expression()?;
        let prop = member.static_property_name()?;
        if prop == "route" {
            let name = object_name(member.object())?;
            let path = call
                .arguments
                .first()?
                .as_expression()
                .and_then(static_string)?;
            return Some((path.to_string(), name));
        }
        if !VERBS.contains(&prop) {
            return None;
        }
        object = member.object();
    }
}

/// `fastify.route({ method: 'GET', url: '/x', handler })` and hapi's
/// `server.route([{ method, path, handler }])`; also a module-level config object that such a
/// call may name (see [`route_object`]).
fn config_routes<'a>(
    arg: &'a Expression<'a>,
    object: &str,
    offset: u32,
    text: &impl Fn(Span) -> &'a str,
) -> Vec<RawRoute> {
    match arg.get_inner_expression() {
        Expression::ArrayExpression(a) => a
            .elements
            .iter()
            .filter_map(|e| e.as_expression())
            .flat_map(|e| config_routes(e, object, offset, text))
            .collect(),
        Expression::ObjectExpression(o) => {
            let mut methods = Vec::new();
            let mut path = None;
            let mut handler = (String::new(), false);
            for p in &o.properties {
                let ObjectPropertyKind::ObjectProperty(p) = p else {
                    continue;
                };
                match p.key.static_name().as_deref() {
                    Some("method") => match p.value.get_inner_expression() {
                        Expression::ArrayExpression(a) => methods.extend(
                            a.elements
                                .iter()
                                .filter_map(|e| e.as_expression())
                                .filter_map(static_string)
                                .map(str::to_string),
                        ),
                        v => methods.extend(static_string(v).map(str::to_string)),
                    },
                    Some("url" | "path") => path = static_string(&p.value).map(str::to_string),
                    Some("handler") => handler = handler_name(&p.value, text),
                    _ => {}
                }
            }
            let Some(path) = path else { return Vec::new() };
            methods
                .into_iter()
                .map(|m| RawRoute {
                    method: if m == "*" {
                        "ANY".to_string()
                    } else {
                        m.to_ascii_uppercase()
                    },
                    bare: !path.starts_with('/'),
                    path: path.clone(),
                    handler: handler.0.clone(),
                    line: offset,
                    object: object.to_string(),
                    inline_handler: handler.1,
                    label: String::new(),
                })
                .collect()
        }
        _ => Vec::new(),
    }
}

/// The routes of a module-level config object, or array of them, declared at `line`
/// (`const getUser = { method: 'GET', url: '/users/:id', handler }`); None when it is shaped
/// as no route.
pub(super) fn route_object<'a>(
    init: &'a Expression<'a>,
    line: u32,
    text: &impl Fn(Span) -> &'a str,
) -> Option<Vec<RawRoute>> {
    if !matches!(
        init.get_inner_expression(),
        Expression::ObjectExpression(_) | Expression::ArrayExpression(_)
    ) {
        return None;
    }
    let found: Vec<RawRoute> = config_routes(init, "", 0, text)
        .into_iter()
        .map(|r| RawRoute { line, ..r })
        .collect();
    (!found.is_empty()).then_some(found)
}

/// `Controller('users')` / `Controller({ path: 'users' })` / `Controller()` → route prefix.
pub(super) fn nest_controller_prefix(expr: &Expression<'_>) -> Option<String> {
    let Expression::CallExpression(call) = expr.get_inner_expression() else {
        return None;
    };
    if super::compiled::callee_name(&call.callee) != Some("Controller") {
        return None;
    }
    Some(first_string_or_path(call).unwrap_or_default())
}

/// `Get(':id')`, `Post()` … → (METHOD, path).
pub(super) fn nest_method_route(expr: &Expression<'_>) -> Option<(String, String)> {
    let Expression::CallExpression(call) = expr.get_inner_expression() else {
        return None;
    };
    let name = super::compiled::callee_name(&call.callee)?;
    let method = match name {
        "Get" | "Post" | "Put" | "Patch" | "Delete" | "Head" | "Options" => {
            name.to_ascii_uppercase()
        }
        "All" => "ANY".to_string(),
        _ => return None,
    };
    Some((method, first_string_or_path(call).unwrap_or_default()))
}

fn first_string_or_path(call: &CallExpression<'_>) -> Option<String> {
    let arg = call.arguments.first()?.as_expression()?;
    if let Some(s) = static_string(arg) {
        return Some(s.to_string());
    }
    let Expression::ObjectExpression(o) = arg.get_inner_expression() else {
        return None;
    };
    o.properties.iter().find_map(|p| match p {
        ObjectPropertyKind::ObjectProperty(p) if p.key.static_name().as_deref() == Some("path") => {
            static_string(&p.value).map(str::to_string)
        }
        _ => None,
    })
}

/// Joins route prefixes the way NestJS does: one `/` between non-empty parts, leading `/`.
pub(super) fn join_paths(prefix: &str, path: &str) -> String {
    let parts: Vec<&str> = [prefix, path]
        .iter()
        .map(|p| p.trim_matches('/'))
        .filter(|p| !p.is_empty())
        .collect();
    format!("/{}", parts.join("/"))
}

/// What a file's path says about Next.js routing.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum NextFile {
    /// `app/**/route.ts`: one route per exported HTTP method.
    AppRoute(String),
    /// `app/**/page.tsx`.
    AppPage(String),
    /// `pages/api/**`.
    PagesApi(String),
    /// Other `pages/**` files.
    PagesPage(String),
    /// A metadata route written as code (`app/robots.ts` → `/robots.txt`, `app/sitemap.ts`
    /// → `/sitemap.xml`, `app/manifest.ts` → `/manifest.webmanifest`): a `GET` route.
    AppMetadata(String),
}

/// The URL of a metadata route file's stem (Next.js "Metadata files"), if it is one.
fn metadata_url(stem: &str) -> Option<&'static str> {
    Some(match stem {
        "robots" => "robots.txt",
        "sitemap" => "sitemap.xml",
        "manifest" => "manifest.webmanifest",
        _ => return None,
    })
}

/// Monorepo folders under which a second-level project may hold `app/` or `pages/`.
const MONOREPO_ROOTS: &[&str] = &[
    "apps", "packages", "examples", "sites", "services", "projects",
];

/// Classifies a path by the Next.js routers' conventions. `app/` may sit at the root, under
/// `src/`, under one project folder (`web/app`) or a monorepo project (`apps/web/src/app`);
/// `pages/` at the root, under `src/` or under a monorepo project.
pub(super) fn next_file(path: &str) -> Option<NextFile> {
    let segs: Vec<&str> = path.split('/').collect();
    let (file, dirs) = segs.split_last()?;
    let (stem, ext) = file.split_once('.')?;
    if !matches!(ext, "js" | "jsx" | "ts" | "tsx" | "mjs") {
        return None;
    }
    for (i, seg) in dirs.iter().enumerate() {
        if *seg != "app" && *seg != "pages" {
            continue;
        }
        let mut prefix = &dirs[..i];
        if prefix.last() == Some(&"src") {
            prefix = &prefix[..prefix.len() - 1];
        }
        let monorepo = prefix.len() == 2 && MONOREPO_ROOTS.contains(&prefix[0]);
        let rest = &dirs[i + 1..];
        if *seg == "app" && (prefix.len() <= 1 || monorepo) {
            if rest.iter().any(|d| d.starts_with('_')) {
                return None;
            }
            let kept: Vec<&str> = rest
                .iter()
                .copied()
                .filter(|d| !is_group_or_slot(d))
                .collect();
            let route = format!("/{}", kept.join("/"));
            return match stem {
                "route" => Some(NextFile::AppRoute(route)),
                "page" => Some(NextFile::AppPage(route)),
                _ => metadata_url(stem).map(|url| NextFile::AppMetadata(join_paths(&route, url))),
            };
        }
        if *seg == "pages" && (prefix.is_empty() || monorepo) {
            if stem.starts_with('_') || rest.iter().any(|d| d.starts_with('_')) {
                return None;
            }
            let mut parts: Vec<&str> = rest.to_vec();
            if stem != "index" {
                parts.push(stem);
            }
            let route = format!("/{}", parts.join("/"));
            return if rest.first() == Some(&"api") {
                Some(NextFile::PagesApi(route))
            } else {
                Some(NextFile::PagesPage(route))
            };
        }
    }
    None
}

/// `(group)` folders and `@slot` folders do not add to a Next.js app router path.
fn is_group_or_slot(dir: &str) -> bool {
    dir.starts_with('@') || (dir.starts_with('(') && dir.ends_with(')'))
}

/// HTTP methods a Next.js route handler file may export.
pub(super) const NEXT_METHODS: &[&str] =
    &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_app_router_paths() {
        assert_eq!(
            next_file("app/api/users/[id]/route.ts"),
            Some(NextFile::AppRoute("/api/users/[id]".into()))
        );
        assert_eq!(
            next_file("src/app/(marketing)/about/page.tsx"),
            Some(NextFile::AppPage("/about".into()))
        );
        assert_eq!(
            next_file("app/page.tsx"),
            Some(NextFile::AppPage("/".into()))
        );
        assert_eq!(
            next_file("apps/web/app/@modal/login/page.tsx"),
            Some(NextFile::AppPage("/login".into()))
        );
        assert_eq!(
            next_file("src/app/robots.ts"),
            Some(NextFile::AppMetadata("/robots.txt".into()))
        );
        assert_eq!(
            next_file("app/(site)/blog/sitemap.tsx"),
            Some(NextFile::AppMetadata("/blog/sitemap.xml".into()))
        );
        assert_eq!(
            next_file("app/manifest.ts"),
            Some(NextFile::AppMetadata("/manifest.webmanifest".into()))
        );
        assert_eq!(next_file("app/_lib/route.ts"), None);
        assert_eq!(next_file("app/components/Button.tsx"), None);
    }

    #[test]
    fn next_pages_router_paths() {
        assert_eq!(
            next_file("pages/index.tsx"),
            Some(NextFile::PagesPage("/".into()))
        );
        assert_eq!(
            next_file("src/pages/blog/[slug].tsx"),
            Some(NextFile::PagesPage("/blog/[slug]".into()))
        );
        assert_eq!(
            next_file("pages/api/users/index.ts"),
            Some(NextFile::PagesApi("/api/users".into()))
        );
        assert_eq!(next_file("pages/_app.tsx"), None);
        assert_eq!(next_file("src/components/pages/Home.tsx"), None);
        assert_eq!(next_file("pages/styles.css"), None);
    }

    #[test]
    fn nest_paths_join() {
        assert_eq!(join_paths("users", ":id"), "/users/:id");
        assert_eq!(join_paths("/users/", ""), "/users");
        assert_eq!(join_paths("", ""), "/");
    }
}
