//! One walk over the `oxc` tree collecting the facts of a file: imports of every form, exports,
//! functions, classes, code-declared routes and what component detection needs.

use oxc_ast::ast::*;
use oxc_ast_visit::{walk_js, VisitJs};
use oxc_span::{GetSpan, Span};
use oxc_syntax::scope::ScopeFlags;

use super::compiled;

mod classes;
mod exports;
mod import_types;
mod loops;
use super::routes::{self, RawRoute};
use super::wiring::JsWiring;
use crate::pipeline::model::{
    names, Class as ClassFact, Function as FunctionFact, Import, ImportKind,
};

/// A module-level function or class that might be a React component.
pub(super) struct Candidate {
    pub name: String,
    pub exported: bool,
    pub span: Span,
}

/// Everything one walk collects; turned into the record by `extract`.
pub(super) struct Facts<'s> {
    src: &'s str,
    pub(super) line_starts: Vec<u32>,
    pub imports: Vec<Import>,
    pub exports: Vec<String>,
    pub functions: Vec<FunctionFact>,
    pub classes: Vec<ClassFact>,
    pub routes: Vec<RawRoute>,
    /// Module-level `const` config objects (or arrays of them) shaped as routes, by name:
    /// what `X.route(name)` declares (see [`crate::pipeline::wiring::RouteObject`]).
    pub route_objects: Vec<(String, Vec<RawRoute>)>,
    pub variables: Vec<String>,
    pub types: Vec<String>,
    pub enums: Vec<String>,
    pub dynamic_exprs: Vec<String>,
    pub candidates: Vec<Candidate>,
    /// Identifiers exported as `default` (`export default Foo`, `export { Foo as default }`).
    pub default_names: Vec<String>,
    /// Start offsets of outermost JSX elements, in source order.
    pub jsx_starts: Vec<u32>,
    pub use_client: bool,
    /// Router wiring (creations, mounts, bindings).
    pub wiring: JsWiring,
    /// Label of each function being walked (innermost last), see [`crate::pipeline::wiring`].
    labels: Vec<String>,
    /// Labels of module-level expressions (`const f = …`, `export default …`,
    /// `module.exports = …`) by span: a function inside one is labelled so.
    top_labels: Vec<(u32, u32, String)>,
    /// The inline plugin of a `register(…)` call: its start and label.
    register_label: Option<(u32, String)>,
    /// Names of the classes being walked.
    class_labels: Vec<String>,
    fn_depth: u32,
    jsx_depth: u32,
    class_depth: u32,
    /// Set while walking the declaration of `export …` / `export default …`.
    exporting: bool,
    in_default: bool,
    /// Name for the class expression starting at this offset (`const A = class {}`).
    pending_class: Option<(u32, String)>,
    /// Decorators as TypeScript compiles them, until the file is read.
    pub(super) compiled: compiled::Compiled,
    /// Module-level `const NAME = ['/a', '/b']`: lists of strings by name.
    string_lists: std::collections::HashMap<String, Vec<String>>,
    /// Loop variables over such a list being walked (`LIST.forEach((p) => …)`), innermost last.
    loop_paths: Vec<(String, Vec<String>)>,
}

impl<'s> Facts<'s> {
    pub fn new(src: &'s str) -> Self {
        let mut line_starts = Vec::with_capacity(src.len() / 32 + 1);
        line_starts.push(0u32);
        line_starts.extend(
            memchr::memchr_iter(b'\n', src.as_bytes())
                .map(|i| u32::try_from(i + 1).unwrap_or(u32::MAX)),
        );
        Self {
            src,
            line_starts,
            imports: Vec::new(),
            exports: Vec::new(),
            functions: Vec::new(),
            classes: Vec::new(),
            routes: Vec::new(),
            route_objects: Vec::new(),
            variables: Vec::new(),
            types: Vec::new(),
            enums: Vec::new(),
            dynamic_exprs: Vec::new(),
            candidates: Vec::new(),
            default_names: Vec::new(),
            jsx_starts: Vec::new(),
            use_client: false,
            wiring: JsWiring::default(),
            labels: Vec::new(),
            top_labels: Vec::new(),
            register_label: None,
            class_labels: Vec::new(),
            fn_depth: 0,
            jsx_depth: 0,
            class_depth: 0,
            exporting: false,
            in_default: false,
            pending_class: None,
            compiled: Default::default(),
            string_lists: std::collections::HashMap::new(),
            loop_paths: Vec::new(),
        }
    }

    /// 1-based line of a byte offset.
    pub fn line(&self, offset: u32) -> u32 {
        line_at(&self.line_starts, offset)
    }

    /// Source text of a span (empty when the span is not on char boundaries).
    pub fn text(&self, span: Span) -> &'s str {
        self.src
            .get(span.start as usize..span.end as usize)
            .unwrap_or("")
    }

    fn push_import(&mut self, raw: &str, kind: ImportKind, offset: u32, names_in: Vec<String>) {
        let line = self.line(offset);
        self.imports.push(Import {
            raw: raw.into(),
            kind,
            line,
            names: names(names_in),
            level: 0,
            resolved: None,
            external: false,
            package: None,
            unresolved_reason: None,
        });
    }

    fn top_level(&self) -> bool {
        self.fn_depth == 0 && self.class_depth == 0
    }

    /// Label of the function being walked (`""` at module level).
    pub fn label(&self) -> &str {
        self.labels.last().map_or("", String::as_str)
    }

    /// Keeps a module-level config object (or array of them) shaped as routes under its name,
    /// for a `X.route(name)` here or in an importing module.
    fn route_object(&mut self, name: &str, init: &Expression<'_>) {
        let line = self.line(init.span().start);
        if let Some(found) = routes::route_object(init, line, &|span| self.text(span)) {
            self.route_objects.push((name.to_string(), found));
        }
    }

    /// Labels a module-level expression: functions inside it take `name`.
    fn label_expr(&mut self, span: Span, name: &str) {
        self.top_labels
            .push((span.start, span.end, name.to_string()));
    }

    /// Pushes the label of a function being entered: the plugin label of a `register(…)`
    /// argument, else the enclosing function's, else the class's, the declaration's name or
    /// the label of the module-level expression holding it.
    fn enter_fn(&mut self, span: Span, name: Option<&str>) {
        let label = match self
            .register_label
            .take_if(|(start, _)| *start == span.start)
        {
            Some((_, l)) => l,
            None => match self.labels.last().filter(|l| !l.is_empty()) {
                Some(l) => l.clone(),
                None => self
                    .class_labels
                    .last()
                    .cloned()
                    .or_else(|| name.filter(|_| self.fn_depth == 0).map(str::to_string))
                    .or_else(|| {
                        self.top_labels
                            .iter()
                            .rev()
                            .find(|(s, e, _)| *s <= span.start && span.end <= *e)
                            .map(|(_, _, l)| l.clone())
                    })
                    .unwrap_or_default(),
            },
        };
        self.labels.push(label);
    }

    fn push_function(
        &mut self,
        name: String,
        params: &FormalParameters<'_>,
        decorators: &[Decorator<'_>],
        span: Span,
        is_async: bool,
    ) {
        // TS overloads repeat the name: keep the first signature only.
        if self.functions.last().is_some_and(|f| f.name == name) {
            return;
        }
        let decorators = decorators
            .iter()
            .map(|d| self.text(d.expression.span()).to_string())
            .collect();
        let line = self.line(span.start);
        self.functions.push(FunctionFact {
            name: name.into(),
            params: names(params_of(params)),
            decorators,
            line,
            is_async,
        });
    }

    /// Records `name = <function>` when `expr` is a function, or a call wrapping one
    /// (`memo(() => …)`, `forwardRef(function X() {…})`). Returns true when one was recorded.
    fn record_function_expr(&mut self, expr: &Expression<'_>, name: &str, exported: bool) -> bool {
        let expr = expr.get_inner_expression();
        let found = match expr {
            Expression::ArrowFunctionExpression(f) => Some((&*f.params, f.r#async)),
            Expression::FunctionExpression(f) => Some((&*f.params, f.r#async)),
            Expression::CallExpression(call) => {
                return call
                    .arguments
                    .iter()
                    .filter_map(Argument::as_expression)
                    .any(|arg| {
                        matches!(
                            arg.get_inner_expression(),
                            Expression::ArrowFunctionExpression(_)
                                | Expression::FunctionExpression(_)
                        ) && self.record_function_expr(arg, name, exported)
                    });
            }
            _ => None,
        };
        let Some((params, is_async)) = found else {
            return false;
        };
        self.push_function(name.to_string(), params, &[], expr.span(), is_async);
        self.candidates.push(Candidate {
            name: name.to_string(),
            exported,
            span: expr.span(),
        });
        true
    }
}

/// 1-based line of a byte offset, from the offsets where lines start.
pub(super) fn line_at(line_starts: &[u32], offset: u32) -> u32 {
    let idx = line_starts.partition_point(|&s| s <= offset);
    u32::try_from(idx.max(1)).unwrap_or(u32::MAX)
}

/// Parameter names: identifiers as written, `{a, b}` / `[a, b]` for patterns, `...rest`.
fn params_of(params: &FormalParameters<'_>) -> Vec<String> {
    let mut out: Vec<String> = params
        .items
        .iter()
        .map(|p| pattern_name(&p.pattern))
        .collect();
    if let Some(rest) = &params.rest {
        out.push(format!("...{}", pattern_name(&rest.rest.argument)));
    }
    out
}

fn pattern_name(p: &BindingPattern<'_>) -> String {
    match p {
        BindingPattern::BindingIdentifier(id) => id.name.to_string(),
        BindingPattern::AssignmentPattern(a) => pattern_name(&a.left),
        BindingPattern::ObjectPattern(o) => {
            let mut names: Vec<String> = o
                .properties
                .iter()
                .filter_map(|p| p.key.static_name().map(|n| n.to_string()))
                .collect();
            if let Some(rest) = &o.rest {
                names.push(format!("...{}", pattern_name(&rest.argument)));
            }
            format!("{{{}}}", names.join(", "))
        }
        BindingPattern::ArrayPattern(a) => {
            let names: Vec<String> = a
                .elements
                .iter()
                .map(|e| e.as_ref().map(pattern_name).unwrap_or_default())
                .collect();
            format!("[{}]", names.join(", "))
        }
    }
}

/// The string of a literal or substitution-free template (`'x'`, `` `x` ``).
pub(super) fn static_string<'a>(expr: &Expression<'a>) -> Option<&'a str> {
    match expr.get_inner_expression() {
        Expression::StringLiteral(s) => Some(s.value.as_str()),
        Expression::TemplateLiteral(t) => t.single_quasi().map(|q| q.as_str()),
        _ => None,
    }
}

fn module_export_name(n: &ModuleExportName<'_>) -> String {
    n.name().to_string()
}

impl<'a> VisitJs<'a> for Facts<'_> {
    fn visit_program(&mut self, it: &Program<'a>) {
        self.use_client = it.directives.iter().any(|d| d.directive == "use client");
        walk_js::walk_program(self, it);
        self.finish_compiled();
    }

    fn visit_import_declaration(&mut self, it: &ImportDeclaration<'a>) {
        self.wiring.import_decl(it);
        let (kind, names) = match &it.specifiers {
            None => (ImportKind::Esm, Vec::new()),
            Some(specs) => {
                let all_type = it.import_kind.is_type()
                    || (!specs.is_empty()
                        && specs.iter().all(|s| {
                            matches!(s, ImportDeclarationSpecifier::ImportSpecifier(s) if s.import_kind.is_type())
                        }));
                let names = specs
                    .iter()
                    .map(|s| match s {
                        ImportDeclarationSpecifier::ImportSpecifier(s) => {
                            module_export_name(&s.imported)
                        }
                        ImportDeclarationSpecifier::ImportDefaultSpecifier(_) => {
                            "default".to_string()
                        }
                        ImportDeclarationSpecifier::ImportNamespaceSpecifier(_) => "*".to_string(),
                    })
                    .collect();
                (
                    if all_type {
                        ImportKind::Type
                    } else {
                        ImportKind::Esm
                    },
                    names,
                )
            }
        };
        self.push_import(it.source.value.as_str(), kind, it.span.start, names);
    }

    fn visit_export_from_declaration(&mut self, it: &ExportFromDeclaration<'a>) {
        let all_type = it.export_kind.is_type()
            || (!it.specifiers.is_empty() && it.specifiers.iter().all(|s| s.export_kind.is_type()));
        let names = it
            .specifiers
            .iter()
            .map(|s| module_export_name(&s.local))
            .collect();
        self.exports.extend(
            it.specifiers
                .iter()
                .map(|s| module_export_name(&s.exported)),
        );
        for s in &it.specifiers {
            self.wiring.reexport(
                it.source.value.as_str(),
                &module_export_name(&s.exported),
                Some(&module_export_name(&s.local)),
            );
        }
        let kind = if all_type {
            ImportKind::Type
        } else {
            ImportKind::Reexport
        };
        self.push_import(it.source.value.as_str(), kind, it.span.start, names);
    }

    fn visit_export_all_declaration(&mut self, it: &ExportAllDeclaration<'a>) {
        let kind = if it.export_kind.is_type() {
            ImportKind::Type
        } else {
            ImportKind::Reexport
        };
        if let Some(name) = &it.exported {
            self.exports.push(module_export_name(name));
        }
        let exported = it
            .exported
            .as_ref()
            .map_or_else(|| "*".to_string(), module_export_name);
        self.wiring
            .reexport(it.source.value.as_str(), &exported, None);
        self.push_import(
            it.source.value.as_str(),
            kind,
            it.span.start,
            vec!["*".to_string()],
        );
    }

    fn visit_export_named_declaration(&mut self, it: &ExportNamedDeclaration<'a>) {
        for s in &it.specifiers {
            let exported = module_export_name(&s.exported);
            if exported == "default" {
                self.default_names.push(module_export_name(&s.local));
            } else {
                self.wiring.alias(&exported, &module_export_name(&s.local));
            }
            self.exports.push(exported);
        }
    }

    fn visit_export_declaration(&mut self, it: &ExportDeclaration<'a>) {
        self.declaration_names(&it.declaration);
        self.exporting = true;
        walk_js::walk_export_declaration(self, it);
        self.exporting = false;
    }

    fn visit_export_default_declaration(&mut self, it: &ExportDefaultDeclaration<'a>) {
        self.exports.push("default".to_string());
        if let Some(expr) = it.declaration.as_expression() {
            self.label_expr(expr.span(), "default");
            match expr.get_inner_expression() {
                Expression::Identifier(id) => self.default_names.push(id.name.to_string()),
                Expression::CallExpression(call) => {
                    // `export default memo(Foo)`, `connect(a)(Foo)`, `memo(() => …)`.
                    let mut c = Some(&**call);
                    while let Some(call) = c {
                        for arg in call.arguments.iter().filter_map(Argument::as_expression) {
                            if let Expression::Identifier(id) = arg.get_inner_expression() {
                                self.default_names.push(id.name.to_string());
                            }
                        }
                        c = match call.callee.get_inner_expression() {
                            Expression::CallExpression(inner) => Some(inner),
                            _ => None,
                        };
                    }
                    self.record_function_expr(expr, "default", true);
                }
                Expression::ClassExpression(_) => {}
                other => {
                    let name = match other {
                        Expression::FunctionExpression(f) => f
                            .name()
                            .map_or_else(|| "default".to_string(), |n| n.to_string()),
                        _ => "default".to_string(),
                    };
                    self.record_function_expr(other, &name, true);
                }
            }
        }
        self.in_default = true;
        self.exporting = true;
        walk_js::walk_export_default_declaration(self, it);
        self.in_default = false;
        self.exporting = false;
    }

    fn visit_ts_import_equals_declaration(&mut self, it: &TSImportEqualsDeclaration<'a>) {
        if let TSModuleReference::ExternalModuleReference(r) = &it.module_reference {
            let kind = if it.import_kind.is_type() {
                ImportKind::Type
            } else {
                ImportKind::Cjs
            };
            self.push_import(r.expression.value.as_str(), kind, it.span.start, Vec::new());
        }
    }

    fn visit_import_expression(&mut self, it: &ImportExpression<'a>) {
        match static_string(&it.source) {
            Some(raw) => self.push_import(raw, ImportKind::Dynamic, it.span.start, Vec::new()),
            None => {
                let text = self.text(it.source.span()).to_string();
                self.dynamic_exprs.push(text);
            }
        }
        walk_js::walk_import_expression(self, it);
    }

    fn visit_call_expression(&mut self, it: &CallExpression<'a>) {
        if let Expression::Identifier(callee) = &it.callee {
            if callee.name == "require" {
                if let Some(raw) = it
                    .arguments
                    .first()
                    .and_then(Argument::as_expression)
                    .and_then(static_string)
                {
                    self.push_import(raw, ImportKind::Cjs, it.span.start, Vec::new());
                }
            }
        }
        if let Some(d) = compiled::decorate(it) {
            self.compiled_decorate(d);
        }
        let loops = &self.loop_paths;
        let loop_paths = |name: &str| {
            loops
                .iter()
                .rev()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.clone())
        };
        let found = routes::call_routes(it, |span| self.text(span), &loop_paths);
        for mut r in found {
            r.line = self.line(r.line);
            r.label = self.label().to_string();
            self.routes.push(r);
        }
        let label = self.label().to_string();
        let mut register = self.register_label.take();
        let starts = &self.line_starts;
        let line = |offset: u32| line_at(starts, offset);
        self.wiring.call(it, &label, &mut register, &line);
        self.register_label = register;
        let looped = self.loop_over(it);
        walk_js::walk_call_expression(self, it);
        if looped {
            self.loop_paths.pop();
        }
    }

    fn visit_object_property(&mut self, it: &ObjectProperty<'a>) {
        if matches!(&it.key, PropertyKey::StaticIdentifier(k) if k.name == "basePath") {
            if let Some(path) = static_string(&it.value) {
                self.wiring.base_path(path);
            }
        }
        walk_js::walk_object_property(self, it);
    }

    fn visit_assignment_expression(&mut self, it: &AssignmentExpression<'a>) {
        if self.top_level() {
            self.commonjs_export(it);
        }
        // `this.router = Router()`, `app = express()`.
        let name = match &it.left {
            AssignmentTarget::AssignmentTargetIdentifier(id) => Some(id.name.as_str()),
            t => t
                .as_member_expression()
                .and_then(|m| m.static_property_name()),
        };
        if let Some(name) = name {
            let line = self.line(it.span.start);
            self.wiring.declare(name, &it.right, line);
        }
        // A compiled TS enum member: `PREFIX["WEB"] = "/-/web"`.
        if let AssignmentTarget::ComputedMemberExpression(m) = &it.left {
            if let (Some(object), Some(key)) =
                (super::expr::dotted(&m.object), m.static_property_name())
            {
                self.wiring
                    .record_const(&format!("{object}.{key}"), &it.right);
            }
        }
        walk_js::walk_assignment_expression(self, it);
    }

    fn visit_formal_parameter(&mut self, it: &FormalParameter<'a>) {
        self.wiring.record_defaults(&it.pattern);
        walk_js::walk_formal_parameter(self, it);
    }

    fn visit_variable_declaration(&mut self, it: &VariableDeclaration<'a>) {
        if self.top_level() {
            for d in &it.declarations {
                let ids = d.id.get_binding_identifiers();
                for id in &ids {
                    self.variables.push(id.name.to_string());
                }
                let (Some(init), BindingPattern::BindingIdentifier(id)) = (&d.init, &d.id) else {
                    continue;
                };
                let name = id.name.to_string();
                if it.kind == VariableDeclarationKind::Const {
                    self.wiring.record_const(&name, init);
                    self.route_object(&name, init);
                    if let Some(list) = routes::string_list(init) {
                        self.string_lists.insert(name.clone(), list);
                    }
                }
                self.label_expr(init.span(), &name);
                if let Expression::ClassExpression(c) = init.get_inner_expression() {
                    self.pending_class = Some((c.span.start, name));
                } else {
                    let exported = self.exporting;
                    self.record_function_expr(init, &name, exported);
                }
            }
        }
        for d in &it.declarations {
            let Some(init) = &d.init else { continue };
            match &d.id {
                BindingPattern::BindingIdentifier(id) => {
                    let line = self.line(d.span.start);
                    self.wiring.declare(&id.name, init, line);
                }
                pattern => self.wiring.destructure(pattern, init),
            }
        }
        let exporting = std::mem::take(&mut self.exporting);
        walk_js::walk_variable_declaration(self, it);
        self.exporting = exporting;
    }

    fn visit_function(&mut self, it: &Function<'a>, flags: ScopeFlags) {
        let is_decl = matches!(
            it.r#type,
            FunctionType::FunctionDeclaration | FunctionType::TSDeclareFunction
        );
        if is_decl && self.top_level() {
            let name = match (it.name(), self.in_default) {
                (Some(n), _) => Some(n.to_string()),
                (None, true) => Some("default".to_string()),
                (None, false) => None,
            };
            if let Some(name) = name {
                if self.in_default && name != "default" {
                    self.default_names.push(name.clone());
                }
                self.push_function(name.clone(), &it.params, &[], it.span, it.r#async);
                self.candidates.push(Candidate {
                    name,
                    exported: self.exporting,
                    span: it.span,
                });
            }
        }
        let (exporting, in_default) = (
            std::mem::take(&mut self.exporting),
            std::mem::take(&mut self.in_default),
        );
        let name = it.name().map(|n| n.to_string());
        self.enter_fn(it.span, name.as_deref());
        self.fn_depth += 1;
        walk_js::walk_function(self, it, flags);
        self.fn_depth -= 1;
        self.labels.pop();
        (self.exporting, self.in_default) = (exporting, in_default);
    }

    fn visit_return_statement(&mut self, it: &ReturnStatement<'a>) {
        if let Some(arg) = &it.argument {
            let label = self.label().to_string();
            let line = self.line(it.span.start);
            self.wiring.returned(&label, arg, line);
        }
        walk_js::walk_return_statement(self, it);
    }

    fn visit_arrow_function_expression(&mut self, it: &ArrowFunctionExpression<'a>) {
        let (exporting, in_default) = (
            std::mem::take(&mut self.exporting),
            std::mem::take(&mut self.in_default),
        );
        self.enter_fn(it.span, None);
        self.fn_depth += 1;
        walk_js::walk_arrow_function_expression(self, it);
        self.fn_depth -= 1;
        self.labels.pop();
        (self.exporting, self.in_default) = (exporting, in_default);
    }

    fn visit_class(&mut self, it: &Class<'a>) {
        let pending = self
            .pending_class
            .take_if(|(start, _)| *start == it.span.start)
            .map(|(_, n)| n);
        let name = match (it.name(), pending, self.in_default && self.top_level()) {
            (Some(n), _, _) => Some(n.to_string()),
            (None, Some(n), _) => Some(n),
            (None, None, true) => Some("default".to_string()),
            (None, None, false) => None,
        };
        if let Some(name) = &name {
            if self.top_level() {
                if self.in_default && name != "default" {
                    self.default_names.push(name.clone());
                }
                self.candidates.push(Candidate {
                    name: name.clone(),
                    exported: self.exporting,
                    span: it.span,
                });
            }
            self.record_class(it, name);
        }
        let (exporting, in_default) = (
            std::mem::take(&mut self.exporting),
            std::mem::take(&mut self.in_default),
        );
        let labelled = name.is_some() && self.labels.last().is_none_or(|l| l.is_empty());
        if labelled {
            self.class_labels.push(name.clone().unwrap_or_default());
        }
        self.class_depth += 1;
        walk_js::walk_class(self, it);
        self.class_depth -= 1;
        if labelled {
            self.class_labels.pop();
        }
        (self.exporting, self.in_default) = (exporting, in_default);
    }

    fn visit_declaration(&mut self, it: &Declaration<'a>) {
        if self.top_level() {
            match it {
                Declaration::TSTypeAliasDeclaration(t) => self.types.push(t.id.name.to_string()),
                Declaration::TSInterfaceDeclaration(t) => self.types.push(t.id.name.to_string()),
                _ => {}
            }
        }
        walk_js::walk_declaration(self, it);
    }

    fn visit_ts_enum_declaration(&mut self, it: &TSEnumDeclaration<'a>) {
        if self.top_level() {
            self.enums.push(it.id.name.to_string());
            for m in &it.body.members {
                if let Some(init) = &m.initializer {
                    let key = m.id.static_name();
                    self.wiring
                        .record_const(&format!("{}.{key}", it.id.name), init);
                }
            }
        }
        walk_js::walk_ts_enum_declaration(self, it);
    }

    fn visit_jsx_element(&mut self, it: &JSXElement<'a>) {
        if self.jsx_depth == 0 {
            self.jsx_starts.push(it.span.start);
        }
        self.jsx_depth += 1;
        walk_js::walk_jsx_element(self, it);
        self.jsx_depth -= 1;
    }

    fn visit_jsx_fragment(&mut self, it: &JSXFragment<'a>) {
        if self.jsx_depth == 0 {
            self.jsx_starts.push(it.span.start);
        }
        self.jsx_depth += 1;
        walk_js::walk_jsx_fragment(self, it);
        self.jsx_depth -= 1;
    }
}
