//! Django `urlpatterns` (see the rules in [`super`]): `path`/`re_path`/`url` entries,
//! `include()` mounts and inline includes, gathered into the file's [`Collector`].

use super::super::extract::{last_name, str_lit};
use super::super::LineIndex;
use super::{name_target, path_value, strip_anchors, view_name, Collector, DJANGO};
use crate::pipeline::model::Route;
use crate::pipeline::wiring::{Join, Mount, Setting, Target};
use ruff_python_ast::Expr;
use ruff_text_size::Ranged;

impl Collector {
    /// Collects Django routes and includes from the value assigned to (or appended to)
    /// `owner`: `urlpatterns`, or another module variable holding a pattern list that an
    /// `include(var)` or `urlpatterns = […] + var` uses.
    pub(crate) fn django_patterns(
        &mut self,
        src: &str,
        lines: &LineIndex,
        value: &Expr,
        owner: &str,
    ) {
        // Explicit work list of (prefix, dynamic, expression): inline includes nest without
        // recursion.
        let mut work: Vec<(String, bool, &Expr)> = vec![(String::new(), false, value)];
        while let Some((prefix, dyn_prefix, e)) = work.pop() {
            match e {
                Expr::List(l) => {
                    work.extend(l.elts.iter().rev().map(|x| (prefix.clone(), dyn_prefix, x)))
                }
                Expr::Tuple(t) => {
                    work.extend(t.elts.iter().rev().map(|x| (prefix.clone(), dyn_prefix, x)))
                }
                Expr::BinOp(b) => {
                    work.push((prefix.clone(), dyn_prefix, &b.right));
                    work.push((prefix, dyn_prefix, &b.left));
                }
                Expr::Starred(st) => work.push((prefix, dyn_prefix, &st.value)),
                // `urlpatterns += router.urls`, `urlpatterns = [...] + other_patterns`
                Expr::Attribute(a) if a.attr.as_str() == "urls" => {
                    let line = lines.line(e.range().start());
                    self.django_mount(src, e, &prefix, dyn_prefix, line, owner);
                }
                Expr::Name(_) => {
                    let line = lines.line(e.range().start());
                    self.django_mount(src, e, &prefix, dyn_prefix, line, owner);
                }
                Expr::Call(call) => match last_name(&call.func) {
                    Some("i18n_patterns") => work.extend(
                        call.arguments
                            .args
                            .iter()
                            .rev()
                            .map(|x| (prefix.clone(), dyn_prefix, x)),
                    ),
                    Some("path" | "re_path" | "url") => {
                        let Some(route) = call.arguments.find_argument_value("route", 0) else {
                            continue;
                        };
                        let (pattern, dynamic) = path_value(route, &self.consts)
                            .unwrap_or_else(|| (String::new(), true));
                        let full = format!("{prefix}{}", strip_anchors(&pattern));
                        let dynamic = dynamic || dyn_prefix;
                        let Some(view) = call.arguments.find_argument_value("view", 1) else {
                            continue;
                        };
                        let line = lines.line(call.range().start());
                        if let Some(inline) = self.include(src, view, line, &full, dynamic, owner) {
                            work.push((full, dynamic, inline));
                            continue;
                        }
                        if is_include(view) {
                            continue;
                        }
                        let route = Route {
                            method: "ANY".to_string(),
                            path: full.clone(),
                            handler: view_name(src, view),
                            line,
                            framework: DJANGO.to_string(),
                            dynamic_prefix: dynamic,
                            ..Default::default()
                        };
                        if matches!(view, Expr::Attribute(a) if a.attr.as_str() == "urls") {
                            self.django_mount(src, view, &full, dynamic, line, owner);
                            if let Some(target) = name_target(src, view) {
                                let route = Route {
                                    unit: Some(owner.to_string()),
                                    ..route
                                };
                                self.settings
                                    .push(Setting::DjangoUrlsView { target, route });
                            }
                            continue;
                        }
                        self.django.push((owner.to_string(), route));
                    }
                    _ => {}
                },
                _ => {}
            }
        }
    }

    fn django_mount(
        &mut self,
        src: &str,
        e: &Expr,
        prefix: &str,
        dynamic: bool,
        line: u32,
        owner: &str,
    ) {
        if let Some(target) = name_target(src, e) {
            self.mounts.push(Mount {
                parent: owner.to_string(),
                target,
                prefix: prefix.to_string(),
                dynamic,
                join: Join::Concat,
                replaces_own: false,
                line,
            });
        }
    }

    /// Handles `include(…)`: records a mount for a module or named target and returns the
    /// inline pattern list to flatten, if that is what was included.
    fn include<'e>(
        &mut self,
        src: &str,
        view: &'e Expr,
        line: u32,
        path: &str,
        dynamic: bool,
        owner: &str,
    ) -> Option<&'e Expr> {
        let Expr::Call(c) = view else { return None };
        if last_name(&c.func) != Some("include") {
            return None;
        }
        let arg = c.arguments.args.first()?;
        // `include(("app.urls", "ns"))` / `include(([…], "ns"))`: look at the first element.
        let target = match arg {
            Expr::Tuple(t) if t.elts.first().is_some_and(|f| !matches!(f, Expr::Call(_))) => {
                &t.elts[0]
            }
            other => other,
        };
        if matches!(target, Expr::List(_) | Expr::Tuple(_)) {
            return Some(target);
        }
        let target = match str_lit(target) {
            Some(module) => Target::Dotted(module.to_string()),
            None => name_target(src, target)?,
        };
        self.mounts.push(Mount {
            parent: owner.to_string(),
            target,
            prefix: path.to_string(),
            dynamic,
            join: Join::Concat,
            replaces_own: false,
            line,
        });
        None
    }
}

fn is_include(view: &Expr) -> bool {
    matches!(view, Expr::Call(c) if last_name(&c.func) == Some("include"))
}
