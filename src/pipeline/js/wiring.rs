//! Router wiring in JS/TS: which routers a file creates, where it mounts them, which local
//! names come from other modules, and what it exports under another name. Collected during the
//! one walk of [`super::visit`] and turned into [`Wiring`] by [`JsWiring::finish`]; the
//! cross-file part is done by [`crate::pipeline::routing`].
//!
//! Rules (each one a framework's documented way of composing routers):
//! - Creation: `express()`, `express.Router()`, `Router()` from express, `new Koa()`,
//!   `new Router({ prefix })` from koa-router / @koa/router, `Fastify()`, `new Hono()` — also
//!   through `require`, `__importDefault(require(…))` and `(0, x.default)()` as compilers
//!   write them, and as class fields or `this.router = Router()`.
//! - Mounts: `X.use([path], …targets)` (Express, koa-router `router.use(path, r.routes())`),
//!   `mount([path], target)` inside it (koa-mount), `X.register(plugin, { prefix })` (Fastify),
//!   `X.route(path, sub)` with two arguments (Hono), and a router passed to an imported
//!   function (`require('./users')(router)`, `products(route)`), which lends the function's
//!   routes its mount point. A target is a name, a member (`users.router`), `r.routes()`, an
//!   inline `require`/`import()`, or a call of a name (`createRouter(deps)` → the router that
//!   function returns).
//! - A path that is not a literal (`app.use(config.prefix, r)`, `` `${base}/x` ``) keeps its
//!   literal parts and marks the mount dynamic.

use oxc_ast::ast::*;

use super::expr::{
    dotted, object_prop, prefix_parts, prefix_ref, receiver_of, required, unsequence, Consts,
};
use super::visit::static_string;

mod mounts;
use crate::pipeline::wiring::{Alias, Binding, Join, Mount, RouterDecl, Setting, Target, Wiring};

/// What a creation call makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RouterKind {
    Express,
    KoaApp,
    KoaRouter,
    Fastify,
    Hono,
}

/// A mount before its owner is decided.
pub(super) struct RawMount {
    pub(super) receiver: String,
    pub(super) label: String,
    pub(super) mount: Mount,
}

/// A router passed to a function that comes from another module.
struct RawPass {
    callee: Target,
    arg: String,
    label: String,
    line: u32,
}

/// Wiring facts gathered during the walk.
#[derive(Default)]
pub(super) struct JsWiring {
    /// Every import binding seen so far: (local, source, imported name; `None` = module).
    imports: Vec<(String, String, Option<String>)>,
    /// Locals bound by an ESM named import under their own name: the import's `names` state
    /// them, so they are left out of the bindings.
    named: Vec<String>,
    routers: Vec<(String, RouterKind, RouterDecl)>,
    pub(super) mounts: Vec<RawMount>,
    passes: Vec<RawPass>,
    /// (function label, local, line) for `return x` inside a labelled function.
    returns: Vec<(String, String, u32)>,
    aliases: Vec<Alias>,
    reexports: Vec<Binding>,
    pub settings: Vec<Setting>,
    /// NestJS `Routes` arrays declared in a variable, by name, until `RouterModule.register`.
    pub(super) nest_routes: Vec<(String, Vec<Mount>)>,
    /// `basePath: '…'` properties; a setting only in a `next.config.*` file.
    base_paths: Vec<String>,
    /// Names assigned the result of calling another name (`const r = createRouter()`):
    /// mounting `r` mounts what that function returns.
    call_vars: Vec<(String, String)>,
    /// Module-level string constants a prefix may name (see [`Consts`]).
    pub(super) consts: Consts,
    /// Prefixes naming a constant of another file, by mount line (see [`Wiring::prefix_refs`]).
    pub(super) prefix_refs: Vec<(u32, String)>,
    /// First parameters of inline plugins, `X.register(async (i) => { i.get(…) })`: Fastify
    /// hands each plugin its instance there, whatever the parameter is called.
    plugin_params: Vec<String>,
}

/// At most this many string constants per file are kept for prefixes.
const MAX_CONSTS: usize = 4096;
/// Object literals nested deeper than this (`ROUTES.API.V1.USERS`) are not read for constants.
const MAX_CONST_DEPTH: usize = 4;

/// Packages whose default export or members create routers.
fn kind_from_package(source: &str, path: &[&str]) -> Option<RouterKind> {
    let last = path.last().copied();
    match source {
        "express" => match last {
            None | Some("default" | "express") => Some(RouterKind::Express),
            Some("Router") => Some(RouterKind::Express),
            _ => None,
        },
        "koa" => matches!(last, None | Some("default" | "Koa")).then_some(RouterKind::KoaApp),
        "koa-router" | "@koa/router" => {
            matches!(last, None | Some("default" | "Router")).then_some(RouterKind::KoaRouter)
        }
        "fastify" => matches!(last, None | Some("default" | "fastify" | "Fastify"))
            .then_some(RouterKind::Fastify),
        "hono" => matches!(last, Some("Hono")).then_some(RouterKind::Hono),
        _ => None,
    }
}

impl JsWiring {
    /// Records the import bindings of an `import` declaration.
    pub fn import_decl(&mut self, it: &ImportDeclaration<'_>) {
        let source = it.source.value.as_str();
        for s in it.specifiers.iter().flatten() {
            let (local, name) = match s {
                ImportDeclarationSpecifier::ImportSpecifier(s) => {
                    (s.local.name.as_str(), Some(s.imported.name().to_string()))
                }
                ImportDeclarationSpecifier::ImportDefaultSpecifier(s) => {
                    (s.local.name.as_str(), Some("default".to_string()))
                }
                ImportDeclarationSpecifier::ImportNamespaceSpecifier(s) => {
                    (s.local.name.as_str(), None)
                }
            };
            if name.as_deref() == Some(local) {
                self.named.push(local.to_string());
            }
            self.imports
                .push((local.to_string(), source.to_string(), name));
        }
    }

    /// `export { name as exported } from './x'` (`name` `None`: `export * as exported`),
    /// `export * from './x'` (`exported` `*`, `name` `None`).
    pub fn reexport(&mut self, source: &str, exported: &str, name: Option<&str>) {
        self.reexports.push(Binding {
            local: exported.into(),
            source: source.into(),
            name: name.map(Into::into),
            reexport: true,
        });
    }

    /// `export { local as exported }`, `module.exports = { exported: local }`.
    pub fn alias(&mut self, exported: &str, local: &str) {
        if exported != local {
            self.aliases.push(Alias {
                name: exported.to_string(),
                local: local.to_string(),
            });
        }
    }

    /// `basePath: '/x'` in an object literal (Next.js config when the file is one).
    pub fn base_path(&mut self, path: &str) {
        self.base_paths.push(path.to_string());
    }

    /// `return router` / `return other.app()` inside the function labelled `label`: the
    /// function stands for that router, or mounts what the other function returns.
    pub fn returned(&mut self, label: &str, e: &Expression<'_>, line: u32) {
        if label.is_empty() {
            return;
        }
        let callee = match unsequence(e) {
            Expression::Identifier(id) => {
                // Only names that may hold a router: most returns are plain values.
                let name = id.name.as_str();
                if self.kind_of(name).is_some() || self.call_vars.iter().any(|(v, _)| v == name) {
                    self.returns
                        .push((label.to_string(), name.to_string(), line));
                }
                return;
            }
            Expression::CallExpression(c)
                if self.calls_local_module(&c.callee) && self.creation(e).is_none() =>
            {
                match dotted(&c.callee).filter(|d| !d.is_empty()) {
                    Some(d) => d,
                    None => return,
                }
            }
            _ => return,
        };
        self.mounts.push(RawMount {
            receiver: String::new(),
            label: String::new(),
            mount: Mount {
                parent: label.to_string(),
                target: Target::CallOf(callee),
                prefix: String::new(),
                dynamic: false,
                join: Join::Slash,
                replaces_own: false,
                line,
            },
        });
    }

    /// Where an expression comes from: (package source, member path) for
    /// `express`, `express.Router`, `require('koa')`, `x_1.default`, `Router` (named import).
    fn origin<'e>(&'e self, e: &'e Expression<'_>) -> Option<(&'e str, Vec<&'e str>)> {
        if let Some(src) = required(e) {
            return Some((src, Vec::new()));
        }
        match unsequence(e) {
            Expression::Identifier(id) => {
                let (_, src, name) = self
                    .imports
                    .iter()
                    .rev()
                    .find(|(l, _, _)| l == id.name.as_str())?;
                Some((src.as_str(), name.iter().map(String::as_str).collect()))
            }
            e => {
                let m = e.as_member_expression()?;
                let prop = m.static_property_name()?;
                let (src, mut path) = self.origin(m.object())?;
                path.push(prop);
                Some((src, path))
            }
        }
    }

    /// The router a call or `new` creates, if any, with its options argument.
    fn creation<'e, 'a>(
        &self,
        init: &'e Expression<'a>,
    ) -> Option<(RouterKind, Option<&'e Expression<'a>>)> {
        let (callee, args) = match unsequence(init) {
            Expression::CallExpression(c) => (&c.callee, &c.arguments),
            Expression::NewExpression(n) => (&n.callee, &n.arguments),
            _ => return None,
        };
        let opts = args.first().and_then(Argument::as_expression);
        if let Some((src, path)) = self.origin(callee) {
            return kind_from_package(src, &path).map(|k| (k, opts));
        }
        // Globals or names from files the walk has not bound (rare): by name alone.
        let name = match unsequence(callee) {
            Expression::Identifier(id) => id.name.as_str(),
            e => e.as_member_expression()?.static_property_name()?,
        };
        let kind = match name {
            "express" => RouterKind::Express,
            "Koa" => RouterKind::KoaApp,
            "Hono" => RouterKind::Hono,
            "Fastify" | "fastify" => RouterKind::Fastify,
            _ => return None,
        };
        Some((kind, opts))
    }

    /// `name = <init>` anywhere (declarations, class fields, `this.name = …`): router
    /// creations and `require` bindings.
    pub fn declare(&mut self, name: &str, init: &Expression<'_>, line: u32) {
        if let Expression::ArrayExpression(_) = init.get_inner_expression() {
            self.stash_nest_routes(name, init, line);
            return;
        }
        if let Some(src) = required(init) {
            self.imports.push((name.to_string(), src.to_string(), None));
            return;
        }
        // `const x = require('./x').router`
        if let Some(m) = unsequence(init).as_member_expression() {
            if let (Some(src), Some(prop)) = (required(m.object()), m.static_property_name()) {
                self.imports
                    .push((name.to_string(), src.to_string(), Some(prop.to_string())));
                return;
            }
        }
        let Some((kind, opts)) = self.creation(init) else {
            // `const r = createRouter(deps)`, `r = await makeApp()`.
            let call = match unsequence(init) {
                Expression::AwaitExpression(a) => unsequence(&a.argument),
                e => e,
            };
            if let Expression::CallExpression(c) = call {
                if self.calls_local_module(&c.callee) {
                    if let Some(d) = dotted(&c.callee).filter(|d| !d.is_empty()) {
                        self.call_vars.push((name.to_string(), d));
                    }
                }
            }
            return;
        };
        let (prefix, dynamic) = match (kind, opts) {
            (RouterKind::KoaRouter, Some(Expression::ObjectExpression(o))) => o
                .properties
                .iter()
                .find_map(|p| match p {
                    ObjectPropertyKind::ObjectProperty(p)
                        if p.key.static_name().as_deref() == Some("prefix") =>
                    {
                        Some(prefix_parts(&p.value, &self.consts))
                    }
                    _ => None,
                })
                .unwrap_or_default(),
            _ => (String::new(), false),
        };
        let join = if kind == RouterKind::KoaRouter {
            Join::KoaRouter
        } else {
            Join::Slash
        };
        self.routers.retain(|(n, _, _)| n != name);
        self.routers.push((
            name.to_string(),
            kind,
            RouterDecl {
                name: name.to_string(),
                prefix,
                dynamic,
                join,
                line,
            },
        ));
    }

    /// `const { a, b: c } = require('./x')`.
    pub fn destructure(&mut self, pattern: &BindingPattern<'_>, init: &Expression<'_>) {
        self.record_defaults(pattern);
        let (BindingPattern::ObjectPattern(o), Some(src)) = (pattern, required(init)) else {
            return;
        };
        for p in &o.properties {
            if let (Some(key), BindingPattern::BindingIdentifier(id)) =
                (p.key.static_name(), &p.value)
            {
                self.imports
                    .push((id.name.to_string(), src.to_string(), Some(key.to_string())));
            }
        }
    }

    /// Records the string defaults of a destructuring (`{ apiVersion = 'v8' }`), as the value
    /// a prefix naming them has unless a caller passes its own (see [`Consts`]). A constant of
    /// the same name wins.
    pub(super) fn record_defaults(&mut self, pattern: &BindingPattern<'_>) {
        let pattern = match pattern {
            // A parameter `{ prefix = '/x' } = {}`.
            BindingPattern::AssignmentPattern(a) => &a.left,
            p => p,
        };
        let BindingPattern::ObjectPattern(o) = pattern else {
            return;
        };
        for p in &o.properties {
            let BindingPattern::AssignmentPattern(a) = &p.value else {
                continue;
            };
            let (BindingPattern::BindingIdentifier(id), Some(value)) =
                (&a.left, static_string(&a.right))
            else {
                continue;
            };
            if self.consts.len() < MAX_CONSTS {
                self.consts
                    .entry(id.name.to_string())
                    .or_insert_with(|| (value.to_string(), true));
            }
        }
    }

    fn kind_of(&self, name: &str) -> Option<RouterKind> {
        self.routers
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, k, _)| *k)
    }

    /// What a mount argument names.
    fn target(&self, e: &Expression<'_>) -> Option<Target> {
        let e = match unsequence(e) {
            Expression::AwaitExpression(a) => unsequence(&a.argument),
            e => e,
        };
        if let Some(src) = required(e) {
            return Some(Target::Module(src.to_string(), None));
        }
        match e {
            Expression::Identifier(id) => Some(Target::Name(id.name.to_string())),
            Expression::ImportExpression(i) => {
                static_string(&i.source).map(|s| Target::Module(s.to_string(), None))
            }
            Expression::CallExpression(c) => {
                let callee = unsequence(&c.callee);
                if let Some(m) = callee.as_member_expression() {
                    if matches!(m.static_property_name(), Some("routes" | "middleware")) {
                        return self.target(m.object());
                    }
                }
                dotted(callee).filter(|d| !d.is_empty()).map(Target::CallOf)
            }
            e => {
                let m = e.as_member_expression()?;
                let prop = m.static_property_name()?;
                if let Some(src) = required(m.object()) {
                    return Some(Target::Module(src.to_string(), Some(prop.to_string())));
                }
                if let Expression::NewExpression(n) = unsequence(m.object()) {
                    let class = dotted(&n.callee)?;
                    return Some(Target::Name(format!("{class}.{prop}")));
                }
                dotted(e).filter(|d| !d.is_empty()).map(Target::Name)
            }
        }
    }

    fn push_mount(&mut self, receiver: &str, label: &str, mount: Mount) {
        self.mounts.push(RawMount {
            receiver: receiver.to_string(),
            label: label.to_string(),
            mount,
        });
    }

    /// Mounts, prefixes and settings declared by one call (see the module rules).
    pub fn call(
        &mut self,
        call: &CallExpression<'_>,
        label: &str,
        register_label: &mut Option<(u32, String)>,
        line: &dyn Fn(u32) -> u32,
    ) {
        let callee = unsequence(&call.callee);
        let args: Vec<&Expression<'_>> = call
            .arguments
            .iter()
            .filter_map(Argument::as_expression)
            .collect();
        let Some(member) = callee.as_member_expression() else {
            self.pass(callee, &args, label, call.span, line);
            return;
        };
        let Some((prop_span, prop)) = member.static_property_info() else {
            return;
        };
        const WIRING: &[&str] = &[
            "use",
            "register",
            "forRoutes",
            "route",
            "prefix",
            "setGlobalPrefix",
            "enableVersioning",
        ];
        if !WIRING.contains(&prop) {
            self.pass(callee, &args, label, call.span, line);
            return;
        }
        let Some(receiver) = receiver_of(member.object()) else {
            self.pass(callee, &args, label, call.span, line);
            return;
        };
        if self.nest_call(&receiver, prop, &args, line(prop_span.start)) {
            return;
        }
        match prop {
            "use" => self.use_call(&receiver, label, &args, line(prop_span.start)),
            "register" if !args.is_empty() => {
                let at = line(prop_span.start);
                let prefix_expr = args.get(1).and_then(|o| object_prop(o, "prefix"));
                self.note_prefix_ref(at, prefix_expr);
                let (prefix, dynamic) = prefix_expr
                    .map(|p| prefix_parts(p, &self.consts))
                    .unwrap_or_default();
                let target = match args[0].get_inner_expression() {
                    Expression::ArrowFunctionExpression(f) => {
                        let l = format!("register@{at}");
                        *register_label = Some((f.span.start, l.clone()));
                        self.plugin_param(&f.params);
                        Some(Target::Name(l))
                    }
                    Expression::FunctionExpression(f) => {
                        let l = format!("register@{at}");
                        *register_label = Some((f.span.start, l.clone()));
                        self.plugin_param(&f.params);
                        Some(Target::Name(l))
                    }
                    e => self.target(e),
                };
                if let Some(target) = target {
                    self.push_mount(
                        &receiver,
                        label,
                        Mount {
                            parent: String::new(),
                            target,
                            prefix,
                            dynamic,
                            join: Join::Slash,
                            replaces_own: false,
                            line: at,
                        },
                    );
                }
            }
            // Hono: `app.route('/api', sub)`.
            "route"
                if args.len() == 2
                    && !matches!(
                        args[1].get_inner_expression(),
                        Expression::ObjectExpression(_)
                    ) =>
            {
                if let Some(target) = self.target(args[1]) {
                    let (prefix, dynamic) = prefix_parts(args[0], &self.consts);
                    self.push_mount(
                        &receiver,
                        label,
                        Mount {
                            parent: String::new(),
                            target,
                            prefix,
                            dynamic,
                            join: Join::Slash,
                            replaces_own: false,
                            line: line(prop_span.start),
                        },
                    );
                }
            }
            // koa-router `router.prefix('/x')`.
            "prefix"
                if args.len() == 1 && self.kind_of(&receiver) == Some(RouterKind::KoaRouter) =>
            {
                let (prefix, dynamic) = prefix_parts(args[0], &self.consts);
                if let Some((_, _, d)) = self.routers.iter_mut().find(|(n, _, _)| *n == receiver) {
                    d.prefix = prefix;
                    d.dynamic = dynamic;
                }
            }
            _ => self.pass(callee, &args, label, call.span, line),
        }
    }

    /// Records `name` (or, for an object literal, `name.key` per string member) as a string
    /// constant a prefix may name, when its value is literal.
    pub(super) fn record_const(&mut self, name: &str, value: &Expression<'_>) {
        self.record_const_at(name, value, 0);
    }

    fn record_const_at(&mut self, name: &str, value: &Expression<'_>, depth: usize) {
        if self.consts.len() >= MAX_CONSTS {
            return;
        }
        if let Expression::ObjectExpression(o) = value.get_inner_expression() {
            if depth >= MAX_CONST_DEPTH {
                return;
            }
            for p in &o.properties {
                if let ObjectPropertyKind::ObjectProperty(p) = p {
                    if let Some(key) = p.key.static_name() {
                        self.record_const_at(&format!("{name}.{key}"), &p.value, depth + 1);
                    }
                }
            }
            return;
        }
        if !matches!(
            value.get_inner_expression(),
            Expression::StringLiteral(_)
                | Expression::TemplateLiteral(_)
                | Expression::BinaryExpression(_)
        ) {
            return;
        }
        let (text, dynamic) = prefix_parts(value, &self.consts);
        if !dynamic {
            self.consts.insert(name.to_string(), (text, false));
        }
    }

    /// Remembers a prefix that names a constant this file does not define (see
    /// [`Wiring::prefix_refs`]).
    pub(super) fn note_prefix_ref(&mut self, at: u32, prefix: Option<&Expression<'_>>) {
        if let Some(name) = prefix.and_then(|p| prefix_ref(p, &self.consts)) {
            self.prefix_refs.push((at, name));
        }
    }

    /// Whether a callee is a function of another module of the repo (`editor.init`,
    /// `makeLegacy` imported from `./legacy`): only such calls can return a router provis
    /// can follow, so only they are recorded.
    fn calls_local_module(&self, callee: &Expression<'_>) -> bool {
        let mut cur = unsequence(callee);
        while let Some(m) = cur.as_member_expression() {
            cur = unsequence(m.object());
        }
        let Expression::Identifier(head) = cur else {
            return false;
        };
        self.imports.iter().any(|(l, src, _)| {
            l == head.name.as_str()
                && (src.starts_with('.')
                    || src.starts_with('/')
                    || src.starts_with('@')
                    || src.starts_with('~')
                    || src.starts_with('#'))
        })
    }

    /// Names the file binds to a router it creates or to an import: a reference to one of
    /// them is owned by that name, not by the enclosing function.
    pub fn known_locals(&self) -> std::collections::HashSet<String> {
        self.routers
            .iter()
            .map(|(n, _, _)| n.clone())
            .chain(self.imports.iter().map(|(l, _, _)| l.clone()))
            .collect()
    }

    /// Whether `name` holds a router this file creates, or the instance an inline plugin is
    /// handed.
    pub fn is_router(&self, name: &str) -> bool {
        self.kind_of(name).is_some() || self.plugin_params.iter().any(|p| p == name)
    }

    /// Remembers the first parameter of an inline plugin (see `plugin_params`).
    fn plugin_param(&mut self, params: &FormalParameters<'_>) {
        if let Some(BindingPattern::BindingIdentifier(id)) =
            params.items.first().map(|p| &p.pattern)
        {
            let name = id.name.to_string();
            if !self.plugin_params.contains(&name) {
                self.plugin_params.push(name);
            }
        }
    }

    /// Whether `name` holds a koa-router router.
    pub fn is_koa_router(&self, name: &str) -> bool {
        self.kind_of(name) == Some(RouterKind::KoaRouter)
    }

    /// The [`Wiring`] of the file. `owner(receiver, label)` decides the owner name of a
    /// router reference (see [`crate::pipeline::wiring`]); `default_names` are the locals
    /// exported as `default`.
    pub fn finish(
        mut self,
        owner: &dyn Fn(&str, &str) -> String,
        default_names: &[String],
        route_owners: &std::collections::HashSet<String>,
        route_labels: Vec<String>,
        next_config: bool,
    ) -> Wiring {
        let mut w = Wiring {
            labels: route_labels,
            prefix_refs: std::mem::take(&mut self.prefix_refs),
            ..Wiring::default()
        };
        let parents: std::collections::HashSet<String> = self
            .mounts
            .iter()
            .filter(|m| !m.receiver.is_empty())
            .map(|m| owner(&m.receiver, &m.label))
            .collect();
        // A name holding a call's result that holds no routes itself stands for the result.
        let routers: std::collections::HashSet<String> =
            self.routers.iter().map(|(n, _, _)| n.clone()).collect();
        let holds_routes =
            |n: &str| route_owners.contains(n) || parents.contains(n) || routers.contains(n);
        let call_vars = std::mem::take(&mut self.call_vars);
        for m in std::mem::take(&mut self.mounts) {
            let mut mount = m.mount;
            if let Target::Name(n) = &mount.target {
                if !holds_routes(n) {
                    if let Some((_, callee)) = call_vars.iter().rev().find(|(v, _)| v == n) {
                        mount.target = Target::CallOf(callee.clone());
                    }
                }
            }
            // RouterModule mounts carry their parent already (a module, or "" for the root);
            // a function returning another's router is mounted on its own label.
            if !m.receiver.is_empty() {
                mount.parent = owner(&m.receiver, &m.label);
                if mount.parent != m.receiver {
                    w.labels.push(mount.parent.clone());
                }
            } else if m.label.is_empty()
                && !mount.parent.is_empty()
                && !matches!(mount.target, Target::Name(_))
            {
                w.labels.push(mount.parent.clone());
            }
            w.mounts.push(mount);
        }
        for p in std::mem::take(&mut self.passes) {
            let parent = owner(&p.arg, &p.label);
            if parent != p.arg {
                w.labels.push(parent.clone());
            }
            w.mounts.push(Mount {
                parent,
                target: p.callee,
                prefix: String::new(),
                dynamic: false,
                join: Join::Slash,
                replaces_own: false,
                line: p.line,
            });
        }
        w.routers = self.routers.into_iter().map(|(_, _, d)| d).collect();
        for name in default_names {
            self.aliases.push(Alias {
                name: "default".to_string(),
                local: name.clone(),
            });
        }
        for (label, local, line) in std::mem::take(&mut self.returns) {
            if holds_routes(&local) {
                if !self.aliases.iter().any(|a| a.name == label) {
                    self.aliases.push(Alias { name: label, local });
                }
            } else if let Some((_, callee)) = call_vars.iter().rev().find(|(v, _)| *v == local) {
                // `const r = other.app(); return r;`: the function mounts what that returns.
                w.labels.push(label.clone());
                w.mounts.push(Mount {
                    parent: label,
                    target: Target::CallOf(callee.clone()),
                    prefix: String::new(),
                    dynamic: false,
                    join: Join::Slash,
                    replaces_own: false,
                    line,
                });
            }
        }
        w.aliases = self.aliases;
        // Bindings the file's imports do not already state by name: default, namespace,
        // renamed and `require` bindings, plus re-exports.
        let named = self.named;
        w.bindings = self
            .imports
            .into_iter()
            .filter(|(local, _, _)| !named.contains(local))
            .map(|(local, source, name)| Binding {
                local: local.into(),
                source: source.into(),
                name: name.map(Into::into),
                reexport: false,
            })
            .chain(self.reexports)
            .collect();
        w.labels.sort();
        w.labels.dedup();
        w.settings = self.settings;
        if next_config {
            w.settings.extend(
                self.base_paths
                    .into_iter()
                    .map(|path| Setting::NextBasePath { path }),
            );
        }
        w
    }
}
