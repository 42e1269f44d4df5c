//! NestJS wiring in JS/TS: `RouterModule` route trees, `@Module({ controllers })`,
//! controller and handler versions, `setGlobalPrefix` and URI versioning — the facts
//! [`crate::pipeline::routing`] needs to give Nest routes their full paths.

use oxc_ast::ast::*;

use super::expr::{dotted, object_prop, prefix_parts};
use super::visit::static_string;
use super::wiring::{JsWiring, RawMount};
use crate::pipeline::wiring::{Join, Mount, Setting, Target};

impl JsWiring {
    /// `RouterModule.register(routes)`, `app.setGlobalPrefix(…)`, `app.enableVersioning(…)`;
    /// false when the call is none of those.
    pub(super) fn nest_call(
        &mut self,
        receiver: &str,
        prop: &str,
        args: &[&Expression<'_>],
        at: u32,
    ) -> bool {
        match prop {
            "register" | "forRoutes" if receiver == "RouterModule" => {
                let mut mounts = Vec::new();
                if let Some(arg) = args.first() {
                    nest_routes(arg, "", "", at, &mut mounts);
                    if let Expression::Identifier(id) = arg.get_inner_expression() {
                        if let Some((_, stashed)) =
                            self.nest_routes.iter().find(|(n, _)| n == id.name.as_str())
                        {
                            mounts.extend(stashed.iter().cloned());
                        }
                    }
                }
                self.mounts.extend(mounts.into_iter().map(|m| RawMount {
                    receiver: String::new(),
                    label: String::new(),
                    mount: m,
                }));
                true
            }
            "setGlobalPrefix" if !args.is_empty() => {
                // Line 0: the global prefix (see `Wiring::prefix_refs`).
                self.note_prefix_ref(0, Some(args[0]));
                let (prefix, dynamic) = prefix_parts(args[0], &self.consts);
                let exclude = args
                    .get(1)
                    .and_then(|o| object_prop(o, "exclude"))
                    .map(string_items)
                    .unwrap_or_default();
                self.settings.push(Setting::NestGlobalPrefix {
                    prefix,
                    exclude,
                    dynamic,
                });
                true
            }
            "enableVersioning" => {
                let opts = args.first().copied();
                let uri = opts.and_then(|o| object_prop(o, "type")).is_none_or(|t| {
                    dotted(t).is_some_and(|d| d.ends_with("URI")) || static_string(t) == Some("uri")
                });
                if uri {
                    let prefix = opts
                        .and_then(|o| object_prop(o, "prefix"))
                        .and_then(static_string)
                        .unwrap_or("v")
                        .to_string();
                    let default_versions = opts
                        .and_then(|o| object_prop(o, "defaultVersion"))
                        .map(version_items)
                        .unwrap_or_default();
                    self.settings.push(Setting::NestUriVersioning {
                        prefix,
                        default_versions,
                    });
                }
                true
            }
            _ => false,
        }
    }

    /// A `Routes` array declared in a variable, kept until `RouterModule.register(name)`.
    pub(super) fn stash_nest_routes(&mut self, name: &str, init: &Expression<'_>, line: u32) {
        let mut mounts = Vec::new();
        nest_routes(init, "", "", line, &mut mounts);
        if !mounts.is_empty() {
            self.nest_routes.push((name.to_string(), mounts));
        }
    }
}

/// Strings of a string or an array of strings (objects with `path` count too).
fn string_items(e: &Expression<'_>) -> Vec<String> {
    match e.get_inner_expression() {
        Expression::ArrayExpression(a) => a
            .elements
            .iter()
            .filter_map(|x| x.as_expression())
            .flat_map(string_items)
            .collect(),
        Expression::ObjectExpression(_) => object_prop(e, "path")
            .and_then(static_string)
            .map(|s| vec![s.to_string()])
            .unwrap_or_default(),
        other => static_string(other)
            .map(|s| vec![s.to_string()])
            .unwrap_or_default(),
    }
}

/// NestJS versions: `'1'`, `['1', '2']`, `VERSION_NEUTRAL`.
pub(super) fn version_items(e: &Expression<'_>) -> Vec<String> {
    match e.get_inner_expression() {
        Expression::ArrayExpression(a) => a
            .elements
            .iter()
            .filter_map(|x| x.as_expression())
            .flat_map(version_items)
            .collect(),
        other => static_string(other)
            .map(str::to_string)
            .or_else(|| dotted(other).map(|d| d.rsplit('.').next().unwrap_or(&d).to_string()))
            .into_iter()
            .collect(),
    }
}

/// NestJS `RouterModule` routes (`[{ path, module, children }]`) as mounts: a top-level entry
/// is mounted at the root (parent `""`); children of an entry with a module are mounted on
/// that module, and a child path is relative to its parent's.
pub(super) fn nest_routes(
    e: &Expression<'_>,
    parent: &str,
    base: &str,
    line: u32,
    out: &mut Vec<Mount>,
) {
    let Expression::ArrayExpression(a) = e.get_inner_expression() else {
        return;
    };
    for el in a.elements.iter().filter_map(|x| x.as_expression()) {
        let el = el.get_inner_expression();
        if let Some(module) = dotted(el).filter(|d| !d.is_empty()) {
            // A bare module among children: mounted where its parent is.
            out.push(nest_mount(parent, &module, base, false, line));
            continue;
        }
        let Some(path) = object_prop(el, "path") else {
            continue;
        };
        let (path, dynamic) = prefix_parts(path, &Default::default());
        let module = object_prop(el, "module").and_then(dotted);
        let (child_parent, child_base) = match &module {
            Some(m) => {
                out.push(nest_mount(
                    parent,
                    m,
                    &format!("{base}/{path}"),
                    dynamic,
                    line,
                ));
                (m.clone(), String::new())
            }
            None => (parent.to_string(), format!("{base}/{path}")),
        };
        if let Some(children) = object_prop(el, "children") {
            nest_routes(children, &child_parent, &child_base, line, out);
        }
    }
}

fn nest_mount(parent: &str, module: &str, prefix: &str, dynamic: bool, line: u32) -> Mount {
    Mount {
        parent: parent.to_string(),
        target: Target::Name(module.to_string()),
        prefix: prefix.to_string(),
        dynamic,
        join: Join::Slash,
        replaces_own: false,
        line,
    }
}

impl JsWiring {
    /// NestJS class decorators: `@Module({ controllers })` and `@Controller({ version })`.
    pub fn nest_class<'e, 'a: 'e>(
        &mut self,
        class: &str,
        decorators: impl IntoIterator<Item = (&'e Expression<'a>, u32)>,
        line: &dyn Fn(u32) -> u32,
    ) {
        for (expression, start) in decorators {
            let Expression::CallExpression(c) = expression.get_inner_expression() else {
                continue;
            };
            let callee = super::compiled::callee_name(&c.callee);
            let Some(arg) = c.arguments.first().and_then(Argument::as_expression) else {
                continue;
            };
            if callee == Some("Module") {
                let controllers: Vec<String> = match object_prop(arg, "controllers") {
                    Some(Expression::ArrayExpression(a)) => a
                        .elements
                        .iter()
                        .filter_map(|x| x.as_expression())
                        .filter_map(dotted)
                        .collect(),
                    _ => Vec::new(),
                };
                if !controllers.is_empty() {
                    self.settings.push(Setting::NestModule {
                        name: class.to_string(),
                        controllers,
                        line: line(start),
                    });
                }
            } else if callee == Some("Controller") {
                if let Some(v) = object_prop(arg, "version") {
                    self.settings.push(Setting::NestVersion {
                        owner: class.to_string(),
                        line: 0,
                        versions: version_items(v),
                    });
                }
            }
        }
    }
}
