//! Decorators as the TypeScript compiler emits them, for NestJS apps published as JavaScript:
//! `__decorate([Get(':id'), …], UsersController.prototype, "findOne", null)` for a method and
//! `UsersController = __decorate([Controller('users')], UsersController)` for a class (also
//! `tslib.__decorate`, `(0, tslib_1.__decorate)`, and CommonJS decorator calls written
//! `(0, common_1.Get)(':id')`).
//!
//! The class call comes after its methods' calls, so method routes wait in [`Compiled`] until
//! the file is read, then take their controller's prefix (see `Facts::finish_compiled`).

use std::collections::HashMap;

use oxc_ast::ast::*;

use super::expr::{dotted, unsequence};
use super::routes::{self, RawRoute};
use super::visit::{line_at, static_string, Facts};
use oxc_span::GetSpan;

/// One `__decorate(…)` call: its decorator expressions, the class and, for a member, its name.
pub(super) struct Decorate<'b, 'a> {
    /// The decorators, in source order.
    pub decorators: Vec<&'b Expression<'a>>,
    /// The class (`UsersController`).
    pub class: String,
    /// The decorated method, `None` for the class itself.
    pub method: Option<String>,
}

/// A compiled method route waiting for its class's `Controller` prefix.
#[derive(Debug)]
pub(super) struct PendingRoute {
    pub class: String,
    pub method: String,
    pub verb: String,
    pub path: String,
    pub line: u32,
    pub versions: Option<Vec<String>>,
}

/// What a file's compiled decorators said, gathered until the end of the file.
#[derive(Debug, Default)]
pub(super) struct Compiled {
    /// Method routes in source order.
    pub routes: Vec<PendingRoute>,
    /// `Controller(…)` prefix per class.
    pub prefixes: HashMap<String, String>,
}

/// The name a call's callee ends in: `Get` for `Get(…)`, `common_1.Get(…)` and
/// `(0, common_1.Get)(…)`.
pub(super) fn callee_name<'a>(callee: &Expression<'a>) -> Option<&'a str> {
    match unsequence(callee) {
        Expression::Identifier(id) => Some(id.name.as_str()),
        e => e.as_member_expression()?.static_property_name(),
    }
}

/// `__decorate([…], target[, "member", desc])`, if `call` is one.
pub(super) fn decorate<'b, 'a>(call: &'b CallExpression<'a>) -> Option<Decorate<'b, 'a>> {
    if callee_name(&call.callee) != Some("__decorate") {
        return None;
    }
    let mut args = call.arguments.iter().filter_map(Argument::as_expression);
    let Expression::ArrayExpression(list) = args.next()?.get_inner_expression() else {
        return None;
    };
    let target = dotted(args.next()?)?;
    let method = args.next().and_then(static_string).map(str::to_string);
    let class = match (&method, target.strip_suffix(".prototype")) {
        (_, Some(class)) => class.to_string(),
        (Some(_), None) => target, // a static member
        (None, None) => target,
    };
    Some(Decorate {
        decorators: list
            .elements
            .iter()
            .filter_map(ArrayExpressionElement::as_expression)
            .collect(),
        class,
        method,
    })
}

/// The versions of a NestJS `@Version(…)` among a handler's decorators.
pub(super) fn nest_versions<'e, 'a: 'e>(
    decorators: impl IntoIterator<Item = &'e Expression<'a>>,
) -> Option<Vec<String>> {
    decorators.into_iter().find_map(|e| {
        let Expression::CallExpression(c) = e.get_inner_expression() else {
            return None;
        };
        (callee_name(&c.callee) == Some("Version")).then(|| {
            c.arguments
                .first()
                .and_then(Argument::as_expression)
                .map(super::nest::version_items)
                .unwrap_or_default()
        })
    })
}

impl Facts<'_> {
    /// A `__decorate(…)` call (see the module docs): a method's routes wait for the class's
    /// prefix; the class's own decorators give the prefix and the Nest module facts.
    pub(super) fn compiled_decorate(&mut self, d: Decorate<'_, '_>) {
        match &d.method {
            Some(method) => {
                let versions = nest_versions(d.decorators.iter().copied());
                for e in &d.decorators {
                    if let Some((verb, path)) = routes::nest_method_route(e) {
                        self.compiled.routes.push(PendingRoute {
                            class: d.class.clone(),
                            method: method.clone(),
                            verb,
                            path,
                            line: self.line(e.span().start),
                            versions: versions.clone(),
                        });
                    }
                }
            }
            None => {
                if let Some(prefix) = d
                    .decorators
                    .iter()
                    .find_map(|e| routes::nest_controller_prefix(e))
                {
                    self.compiled.prefixes.insert(d.class.clone(), prefix);
                }
                let starts = &self.line_starts;
                self.wiring.nest_class(
                    &d.class,
                    d.decorators.iter().map(|e| (*e, e.span().start)),
                    &|o| line_at(starts, o),
                );
            }
        }
    }

    /// The compiled method routes whose class is a controller, with its prefix.
    pub(super) fn finish_compiled(&mut self) {
        let compiled = std::mem::take(&mut self.compiled);
        for r in compiled.routes {
            let Some(prefix) = compiled.prefixes.get(&r.class) else {
                continue;
            };
            if let Some(versions) = r.versions {
                self.wiring
                    .settings
                    .push(crate::pipeline::wiring::Setting::NestVersion {
                        owner: r.class.clone(),
                        line: r.line,
                        versions,
                    });
            }
            self.routes.push(RawRoute {
                method: r.verb,
                path: routes::join_paths(prefix, &r.path),
                handler: format!("{}.{}", r.class, r.method),
                line: r.line,
                object: "nestjs".to_string(),
                inline_handler: false,
                label: r.class,
                bare: false,
            });
        }
    }
}
