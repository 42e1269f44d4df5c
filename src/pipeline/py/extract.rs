//! One pass over a parsed module's statements, filling a [`FileRecord`].
//!
//! Statements are walked in source order with an explicit stack (no recursion), so block
//! nesting depth is harmless. Every block counts — function bodies, `if TYPE_CHECKING:`,
//! `try`/`except`, loops, `with`, `match` — because an import anywhere is a dependency.
//! Scopes give qualified names (`Class.method`, `outer.inner`) and decide what is module
//! level (exports, `__all__`, `urlpatterns`).
//!
//! Facts recorded besides imports, functions and classes:
//! - `exports`: the literal `__all__` (list/tuple of strings, extended by `+=`, `.extend`,
//!   `.append` with literals) when there is one, else the public (no leading `_`) module-level
//!   functions, classes, assigned names and type aliases, in source order. Imported names are
//!   not exports.
//! - `hints.framework`: the first of [`FRAMEWORKS`] the file imports (absolute imports);
//!   `hints.isRoute`: the file declares any route (Django includes too); `hints.isAPI`: it
//!   declares at least one handler route (not only includes).
//! - `symbols`: `variables` (module-level assigned names), `jobs` (functions decorated with
//!   `…task`, `shared_task`, `…actor`, `…job`, `…periodic_task`), `cliCommands` (functions
//!   decorated with `x.command`/`x.group`), `djangoRootUrlconf` (a `ROOT_URLCONF = "…"`
//!   setting), `entrypoints` (`["__main__"]` when the module has an
//!   `if __name__ == "__main__":` guard). Keys are present only when non-empty.

use super::routes::{self, Collector};
use super::LineIndex;
use crate::pipeline::model::{names, Class, FileRecord, Function, Import, ImportKind};
use crate::pipeline::wiring::{Binding, Setting, Wiring, URLPATTERNS};
use ruff_python_ast::{self as ast, Expr, Stmt};
use ruff_text_size::{Ranged, TextSize};
use std::collections::HashSet;

/// Frameworks recognised from imports, most specific first: the first one a file imports
/// becomes its `hints.framework`.
const FRAMEWORKS: &[&str] = &[
    "fastapi",
    "django",
    "flask",
    "starlette",
    "aiohttp",
    "tornado",
    "sanic",
    "falcon",
    "bottle",
    "pyramid",
    "quart",
    "litestar",
    "celery",
    "rq",
    "dramatiq",
    "huey",
    "arq",
    "typer",
    "click",
    "fire",
    "streamlit",
    "gradio",
];

/// Decorator names (last segment, before any call) that mark a background job.
const JOB_DECORATORS: &[&str] = &["task", "shared_task", "actor", "job", "periodic_task"];
/// Decorator names (last segment) that mark a command-line command.
const CLI_DECORATORS: &[&str] = &["command", "group"];

#[derive(Clone, Copy, PartialEq, Eq)]
enum ScopeKind {
    Module,
    /// Index into `record.classes`.
    Class(usize),
    Function,
}

struct Scope {
    qual: String,
    kind: ScopeKind,
}

struct Extractor<'a, 'r> {
    src: &'a str,
    lines: &'a LineIndex,
    rec: &'r mut FileRecord,
    scopes: Vec<Scope>,
    all: Option<Vec<String>>,
    public: Vec<String>,
    variables: Vec<String>,
    jobs: Vec<String>,
    cli: Vec<String>,
    main_guard: bool,
    root_urlconf: Vec<String>,
    routes: Collector,
    bindings: Vec<Binding>,
}

/// Fills imports, functions, classes, exports, routes, symbols and hints of `rec`.
pub(crate) fn extract(src: &str, lines: &LineIndex, body: &[Stmt], rec: &mut FileRecord) {
    let mut x = Extractor {
        src,
        lines,
        rec,
        scopes: vec![Scope {
            qual: String::new(),
            kind: ScopeKind::Module,
        }],
        all: None,
        public: Vec::new(),
        variables: Vec::new(),
        jobs: Vec::new(),
        cli: Vec::new(),
        main_guard: false,
        root_urlconf: Vec::new(),
        routes: Collector::default(),
        bindings: Vec::new(),
    };
    let mut stack: Vec<(&Stmt, usize)> = body.iter().rev().map(|s| (s, 0)).collect();
    while let Some((stmt, scope)) = stack.pop() {
        x.stmt(stmt, scope, &mut stack);
    }
    x.finish();
}

/// The string value of a (possibly implicitly concatenated) plain string literal.
pub(crate) fn str_lit(e: &Expr) -> Option<&str> {
    match e {
        Expr::StringLiteral(s) => Some(s.value.to_str()),
        _ => None,
    }
}

/// The strings of a list/tuple literal made only of string literals.
pub(crate) fn str_list(e: &Expr) -> Option<Vec<String>> {
    let elts = match e {
        Expr::List(l) => &l.elts,
        Expr::Tuple(t) => &t.elts,
        _ => return None,
    };
    elts.iter()
        .map(|e| str_lit(e).map(str::to_string))
        .collect()
}

/// Last name of a callee: `b` for `a.b`, `f` for `f`.
pub(crate) fn last_name(e: &Expr) -> Option<&str> {
    match e {
        Expr::Name(n) => Some(n.id.as_str()),
        Expr::Attribute(a) => Some(a.attr.as_str()),
        _ => None,
    }
}

fn push_unique(v: &mut Vec<String>, s: &str) {
    if !v.iter().any(|x| x == s) {
        v.push(s.to_string());
    }
}

/// Names bound by an assignment target (`a`, `a, b`, `[a, (b, c)]`), iteratively.
fn target_names<'e>(target: &'e Expr, out: &mut Vec<&'e str>) {
    let mut work = vec![target];
    while let Some(e) = work.pop() {
        match e {
            Expr::Name(n) => out.push(n.id.as_str()),
            Expr::Tuple(t) => work.extend(t.elts.iter().rev()),
            Expr::List(l) => work.extend(l.elts.iter().rev()),
            Expr::Starred(s) => work.push(&s.value),
            _ => {}
        }
    }
}

fn is_main_guard(test: &Expr) -> bool {
    let Expr::Compare(c) = test else { return false };
    let [right] = &*c.comparators else {
        return false;
    };
    let is_name = |e: &Expr| matches!(e, Expr::Name(n) if n.id.as_str() == "__name__");
    let is_main = |e: &Expr| str_lit(e) == Some("__main__");
    (is_name(&c.left) && is_main(right)) || (is_main(&c.left) && is_name(right))
}

impl<'a> Extractor<'a, '_> {
    fn text(&self, node: &impl Ranged) -> &'a str {
        &self.src[node.range()]
    }

    fn line(&self, offset: TextSize) -> u32 {
        self.lines.line(offset)
    }

    fn is_module(&self, scope: usize) -> bool {
        self.scopes[scope].kind == ScopeKind::Module
    }

    fn qualify(&self, scope: usize, name: &str) -> String {
        let parent = &self.scopes[scope].qual;
        if parent.is_empty() {
            name.to_string()
        } else {
            format!("{parent}.{name}")
        }
    }

    fn import(
        &mut self,
        raw: String,
        kind: ImportKind,
        line: u32,
        names_in: Vec<String>,
        level: u32,
    ) {
        self.rec.imports.push(Import {
            raw: raw.into(),
            kind,
            line,
            names: names(names_in),
            level,
            resolved: None,
            external: false,
            package: None,
            unresolved_reason: None,
        });
    }

    fn stmt(&mut self, stmt: &'a Stmt, scope: usize, stack: &mut Vec<(&'a Stmt, usize)>) {
        let mut blocks: [&'a [Stmt]; 4] = [&[], &[], &[], &[]];
        let mut extra: Vec<&'a [Stmt]> = Vec::new();
        let mut child_scope = scope;
        match stmt {
            Stmt::Import(i) => {
                for alias in &i.names {
                    let line = self.line(alias.range.start());
                    if let Some(local) = &alias.asname {
                        self.bindings.push(Binding {
                            local: local.as_str().into(),
                            source: alias.name.as_str().into(),
                            name: None,
                            reexport: false,
                        });
                    }
                    self.import(alias.name.to_string(), ImportKind::Py, line, Vec::new(), 0);
                }
            }
            Stmt::ImportFrom(i) => {
                let mut raw = ".".repeat(i.level as usize);
                if let Some(m) = &i.module {
                    raw.push_str(m.as_str());
                }
                let kind = if i.level > 0 {
                    ImportKind::PyRelative
                } else {
                    ImportKind::Py
                };
                let names = i.names.iter().map(|a| a.name.to_string()).collect();
                for a in &i.names {
                    if let Some(local) = a.asname.as_ref().filter(|l| l.as_str() != a.name.as_str())
                    {
                        self.bindings.push(Binding {
                            local: local.as_str().into(),
                            source: raw.as_str().into(),
                            name: Some(a.name.as_str().into()),
                            reexport: false,
                        });
                    }
                }
                let line = self.line(i.range.start());
                self.import(raw, kind, line, names, i.level);
            }
            Stmt::FunctionDef(f) => {
                child_scope = self.function(f, scope);
                blocks[0] = &f.body;
            }
            Stmt::ClassDef(c) => {
                child_scope = self.class(c, scope);
                blocks[0] = &c.body;
            }
            Stmt::If(i) => {
                if self.is_module(scope) && is_main_guard(&i.test) {
                    self.main_guard = true;
                }
                blocks[0] = &i.body;
                extra.extend(i.elif_else_clauses.iter().map(|c| &c.body[..]));
            }
            Stmt::Try(t) => {
                blocks[0] = &t.body;
                extra.extend(t.handlers.iter().map(|h| match h {
                    ast::ExceptHandler::ExceptHandler(h) => &h.body[..],
                }));
                extra.push(&t.orelse);
                extra.push(&t.finalbody);
            }
            Stmt::For(f) => blocks = [&f.body, &f.orelse, &[], &[]],
            Stmt::While(w) => blocks = [&w.body, &w.orelse, &[], &[]],
            Stmt::With(w) => blocks[0] = &w.body,
            Stmt::Match(m) => extra.extend(m.cases.iter().map(|c| &c.body[..])),
            Stmt::Assign(a) => {
                for target in &a.targets {
                    self.assign(target, Some(&a.value), scope);
                }
            }
            Stmt::AnnAssign(a) => self.assign(&a.target, a.value.as_deref(), scope),
            Stmt::AugAssign(a) => self.aug_assign(a, scope),
            Stmt::TypeAlias(t) if self.is_module(scope) => {
                let name = self.text(&*t.name);
                push_unique(&mut self.public, name);
            }
            Stmt::Expr(e) => self.expr_stmt(&e.value, scope),
            _ => {}
        }
        // Push children so they pop in source order: the last block first, each reversed.
        for block in extra.iter().rev().chain(blocks.iter().rev()) {
            stack.extend(block.iter().rev().map(|s| (s, child_scope)));
        }
    }

    fn function(&mut self, f: &'a ast::StmtFunctionDef, scope: usize) -> usize {
        let name = f.name.as_str();
        let qual = self.qualify(scope, name);
        let line = self.line(f.name.range.start());
        let mut decorators = Vec::with_capacity(f.decorator_list.len());
        let class = match self.scopes[scope].kind {
            ScopeKind::Class(ci) => Some(self.rec.classes[ci].name.clone()),
            _ => None,
        };
        for d in &f.decorator_list {
            decorators.push(self.text(&d.expression).to_string());
            if let Some(class) = &class {
                if self.routes.drf_action(&d.expression, class, name) {
                    continue;
                }
            }
            self.decorator(&d.expression, &qual);
        }
        let p = &f.parameters;
        let mut params: Vec<String> = p
            .posonlyargs
            .iter()
            .chain(&p.args)
            .map(|a| a.parameter.name.to_string())
            .collect();
        if let Some(v) = &p.vararg {
            params.push(format!("*{}", v.name.as_str()));
        }
        params.extend(p.kwonlyargs.iter().map(|a| a.parameter.name.to_string()));
        if let Some(k) = &p.kwarg {
            params.push(format!("**{}", k.name.as_str()));
        }
        match self.scopes[scope].kind {
            ScopeKind::Class(ci) => self.rec.classes[ci].methods.push(name.to_string()),
            ScopeKind::Module => push_unique(&mut self.public, name),
            ScopeKind::Function => {}
        }
        self.rec.functions.push(Function {
            name: qual.as_str().into(),
            params: names(params),
            decorators,
            line,
            is_async: f.is_async,
        });
        self.scopes.push(Scope {
            qual,
            kind: ScopeKind::Function,
        });
        self.scopes.len() - 1
    }

    fn class(&mut self, c: &'a ast::StmtClassDef, scope: usize) -> usize {
        let name = c.name.as_str();
        let qual = self.qualify(scope, name);
        let bases = c
            .arguments
            .as_ref()
            .map(|a| a.args.iter().map(|b| self.text(b).to_string()).collect())
            .unwrap_or_default();
        if self.is_module(scope) {
            push_unique(&mut self.public, name);
        }
        self.rec.classes.push(Class {
            name: qual.clone(),
            methods: Vec::new(),
            bases,
            line: self.line(c.name.range.start()),
        });
        self.scopes.push(Scope {
            qual,
            kind: ScopeKind::Class(self.rec.classes.len() - 1),
        });
        self.scopes.len() - 1
    }

    /// Routes, jobs and CLI commands declared by a decorator.
    fn decorator(&mut self, d: &'a Expr, qual: &str) {
        let (callee, call) = match d {
            Expr::Call(c) => (&*c.func, Some(c)),
            other => (other, None),
        };
        let Some(last) = last_name(callee) else {
            return;
        };
        if let Some(call) = call {
            let line = self.line(d.range().start());
            if self.routes.decorator(self.src, call, qual, line) {
                return;
            }
        }
        if JOB_DECORATORS.contains(&last) {
            push_unique(&mut self.jobs, qual);
        } else if CLI_DECORATORS.contains(&last) && matches!(callee, Expr::Attribute(_)) {
            push_unique(&mut self.cli, qual);
        }
    }

    fn assign(&mut self, target: &'a Expr, value: Option<&'a Expr>, scope: usize) {
        if let (Some(Expr::Call(call)), Expr::Name(_) | Expr::Attribute(_)) = (value, target) {
            let line = self.line(call.range().start());
            self.routes.receiver(self.text(target), call, line);
        }
        if !self.is_module(scope) {
            return;
        }
        let mut names = Vec::new();
        target_names(target, &mut names);
        for name in names {
            push_unique(&mut self.variables, name);
            if !name.starts_with('_') {
                push_unique(&mut self.public, name);
            }
            let Some(value) = value else { continue };
            self.routes.constant(name, value);
            match name {
                "__all__" => self.all = str_list(value),
                "urlpatterns" => {
                    self.routes
                        .django_patterns(self.src, self.lines, value, URLPATTERNS)
                }
                // Another variable holding patterns, for `include(var)` / `[…] + var`.
                other if routes::is_pattern_list(value) => self
                    .routes
                    .django_patterns(self.src, self.lines, value, other),
                "app_name" => {
                    if let Some(s) = str_lit(value) {
                        self.routes.settings.push(Setting::DjangoAppName {
                            name: s.to_string(),
                        });
                    }
                }
                "ROOT_URLCONF" => {
                    if let Some(s) = str_lit(value) {
                        push_unique(&mut self.root_urlconf, s);
                    }
                }
                _ => {}
            }
        }
    }

    fn aug_assign(&mut self, a: &'a ast::StmtAugAssign, scope: usize) {
        let Expr::Name(n) = &*a.target else { return };
        if !self.is_module(scope) {
            return;
        }
        match n.id.as_str() {
            "__all__" => {
                if let (Some(all), Some(more)) = (&mut self.all, str_list(&a.value)) {
                    all.extend(more);
                }
            }
            "urlpatterns" => {
                self.routes
                    .django_patterns(self.src, self.lines, &a.value, URLPATTERNS)
            }
            _ => {}
        }
    }

    /// Calls made as statements: `app.add_url_rule(…)`, `app.include_router(…)`,
    /// `__all__.extend(…)`, `urlpatterns.append(…)`.
    fn expr_stmt(&mut self, value: &'a Expr, scope: usize) {
        let Expr::Call(call) = value else { return };
        let Expr::Attribute(attr) = &*call.func else {
            return;
        };
        let method = attr.attr.as_str();
        let line = self.line(call.range().start());
        if self.routes.call(self.src, call, method, line)
            || self.routes.mount_call(self.src, call, method, line)
        {
            return;
        }
        let Expr::Name(owner) = &*attr.value else {
            return;
        };
        if !self.is_module(scope) {
            return;
        }
        let arg = call.arguments.args.first();
        match (owner.id.as_str(), method, arg) {
            ("__all__", "extend", Some(arg)) => {
                if let (Some(all), Some(more)) = (&mut self.all, str_list(arg)) {
                    all.extend(more);
                }
            }
            ("__all__", "append", Some(arg)) => {
                if let (Some(all), Some(s)) = (&mut self.all, str_lit(arg)) {
                    all.push(s.to_string());
                }
            }
            ("urlpatterns", "extend" | "append", Some(arg)) => {
                self.routes
                    .django_patterns(self.src, self.lines, arg, URLPATTERNS)
            }
            _ => {}
        }
    }

    fn finish(mut self) {
        let rec = self.rec;
        let mut imported: HashSet<&str> = HashSet::new();
        for i in rec.imports.iter().filter(|i| i.level == 0) {
            imported.insert(i.raw.split('.').next().unwrap_or(""));
        }
        let mounts = std::mem::take(&mut self.routes.mounts);
        let settings = std::mem::take(&mut self.routes.settings);
        let (routes, routers) = self.routes.finish(
            &rec.path,
            imported.contains("fastapi") || imported.contains("starlette"),
            imported.contains("flask"),
        );
        rec.routes = routes;
        rec.wiring = Wiring {
            routers,
            mounts,
            bindings: self.bindings,
            aliases: Vec::new(),
            settings,
            ..Wiring::default()
        };
        rec.hints.framework = FRAMEWORKS
            .iter()
            .find(|f| imported.contains(**f))
            .map(|f| (*f).to_string());
        rec.hints.is_route = !rec.routes.is_empty() || !rec.wiring.mounts.is_empty();
        rec.hints.is_api = !rec.routes.is_empty();
        rec.exports = names(self.all.unwrap_or(self.public));
        for (key, values) in [
            ("variables", self.variables),
            ("jobs", self.jobs),
            ("cliCommands", self.cli),
            ("djangoRootUrlconf", self.root_urlconf),
            (
                "entrypoints",
                if self.main_guard {
                    vec!["__main__".to_string()]
                } else {
                    Vec::new()
                },
            ),
        ] {
            if !values.is_empty() {
                rec.symbols.insert(key.to_string(), names(values));
            }
        }
    }
}
