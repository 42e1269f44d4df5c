//! Mounts: `X.use(…)` (Express, koa-router, koa with koa-mount) and `X.register(…)` (Fastify),
//! recorded by [`JsWiring`] with the prefixes they apply (see the rules in [`super`]).

use oxc_ast::ast::*;
use oxc_span::Span;

use super::super::expr::{dotted, looks_like_path, prefix_parts, required, unsequence};
use super::*;
use crate::pipeline::wiring::{Join, Mount, Target};

impl JsWiring {
    /// `X.use(…)`: Express, koa-router and koa with koa-mount.
    pub(super) fn use_call(
        &mut self,
        receiver: &str,
        label: &str,
        args: &[&Expression<'_>],
        at: u32,
    ) {
        let mut rest = args;
        let mut prefixes: Vec<(String, bool)> = vec![(String::new(), false)];
        let named_const = args
            .first()
            .and_then(|a| dotted(a))
            .is_some_and(|n| self.consts.contains_key(&n));
        if args.len() >= 2 && (named_const || looks_like_path(args[0])) {
            self.note_prefix_ref(at, Some(args[0]));
            prefixes = match args[0].get_inner_expression() {
                Expression::ArrayExpression(a) => a
                    .elements
                    .iter()
                    .filter_map(|x| x.as_expression())
                    .map(|x| prefix_parts(x, &self.consts))
                    .collect(),
                e => vec![prefix_parts(e, &self.consts)],
            };
            rest = &args[1..];
        }
        // A router received as a parameter in a file that imports koa-router is one too.
        let koa_router = match self.kind_of(receiver) {
            Some(k) => k == RouterKind::KoaRouter,
            None => self
                .imports
                .iter()
                .any(|(_, src, _)| src == "koa-router" || src == "@koa/router"),
        };
        let join = if koa_router {
            Join::KoaRouter
        } else {
            Join::Slash
        };
        let mut found: Vec<(Target, String, bool, Join)> = Vec::new();
        for arg in rest {
            let items: Vec<&Expression<'_>> = match arg.get_inner_expression() {
                Expression::ArrayExpression(a) => a
                    .elements
                    .iter()
                    .filter_map(|x| x.as_expression())
                    .collect(),
                _ => vec![*arg],
            };
            for item in items {
                if let Some((target, prefix, dynamic)) = self.koa_mount(item) {
                    for (p, d) in &prefixes {
                        found.push((
                            target.clone(),
                            format!("{p}{prefix}"),
                            *d || dynamic,
                            Join::Slash,
                        ));
                    }
                } else if let Some(target) = self.target(item) {
                    for (p, d) in &prefixes {
                        found.push((target.clone(), p.clone(), *d, join));
                    }
                }
            }
        }
        for (target, prefix, dynamic, join) in found {
            self.push_mount(
                receiver,
                label,
                Mount {
                    parent: String::new(),
                    target,
                    prefix,
                    dynamic,
                    join,
                    replaces_own: false,
                    line: at,
                },
            );
        }
    }

    /// `mount('/p', app)` / `mount(app)` (koa-mount): target, prefix, dynamic.
    pub(super) fn koa_mount(&self, e: &Expression<'_>) -> Option<(Target, String, bool)> {
        let Expression::CallExpression(c) = unsequence(e) else {
            return None;
        };
        let callee = unsequence(&c.callee);
        let is_mount = match self.origin(callee) {
            Some((src, _)) => src == "koa-mount",
            None => matches!(callee, Expression::Identifier(id) if id.name == "mount"),
        };
        if !is_mount {
            return None;
        }
        let args: Vec<&Expression<'_>> = c
            .arguments
            .iter()
            .filter_map(Argument::as_expression)
            .collect();
        let (target, (prefix, dynamic)) = match args.as_slice() {
            [one] => (self.target(one)?, (String::new(), false)),
            [p, t, ..] => (self.target(t)?, prefix_parts(p, &self.consts)),
            [] => return None,
        };
        Some((target, prefix, dynamic))
    }

    /// `f(router)` with `f` from another module (see the module rules).
    pub(super) fn pass(
        &mut self,
        callee: &Expression<'_>,
        args: &[&Expression<'_>],
        label: &str,
        span: Span,
        line: &dyn Fn(u32) -> u32,
    ) {
        // Cheap test first: most calls pass no router.
        let routers: Vec<&str> = args
            .iter()
            .filter_map(|a| match a.get_inner_expression() {
                Expression::Identifier(id) => Some(id.name.as_str()),
                _ => None,
            })
            .filter(|n| self.kind_of(n).is_some() || super::super::routes::is_strong_router_name(n))
            .collect();
        if routers.is_empty() {
            return;
        }
        let target = if let Some(src) = required(callee) {
            Target::Module(src.to_string(), None)
        } else {
            let Some(d) = dotted(callee).filter(|d| !d.is_empty()) else {
                return;
            };
            let head = d.split('.').next().unwrap_or(&d);
            let local_source = |src: &str| {
                src.starts_with('.')
                    || src.starts_with('/')
                    || src.starts_with('@')
                    || src.starts_with('~')
                    || src.starts_with('#')
            };
            if !self
                .imports
                .iter()
                .any(|(l, src, _)| l == head && local_source(src))
            {
                return;
            }
            Target::Name(d)
        };
        for name in routers {
            self.passes.push(RawPass {
                callee: target.clone(),
                arg: name.to_string(),
                label: label.to_string(),
                line: line(span.start),
            });
        }
    }
}
