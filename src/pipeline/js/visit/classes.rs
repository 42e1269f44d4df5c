//! Classes: the class fact (methods, bases) and NestJS routes declared by decorators on the
//! methods of a `@Controller` class.

use oxc_ast::ast::*;
use oxc_span::GetSpan;

use super::super::routes::{self, RawRoute};
use super::*;
use crate::pipeline::model::Class as ClassFact;

impl Facts<'_> {
    pub(super) fn record_class(&mut self, it: &Class<'_>, name: &str) {
        let mut bases = Vec::new();
        if let Some(h) = &it.heritage {
            bases.push(self.text(h.expression.span()).to_string());
        }
        for i in &it.implements {
            bases.push(self.text(i.expression.span()).to_string());
        }
        let mut methods: Vec<String> = Vec::new();
        for el in &it.body.body {
            let (key, decorators, params, is_async, span) = match el {
                ClassElement::MethodDefinition(m) => (
                    &m.key,
                    &m.decorators,
                    &*m.value.params,
                    m.value.r#async,
                    m.key.span(),
                ),
                ClassElement::PropertyDefinition(p) => {
                    match p.value.as_ref().map(Expression::get_inner_expression) {
                        Some(Expression::ArrowFunctionExpression(f)) => {
                            (&p.key, &p.decorators, &*f.params, f.r#async, p.key.span())
                        }
                        Some(Expression::FunctionExpression(f)) => {
                            (&p.key, &p.decorators, &*f.params, f.r#async, p.key.span())
                        }
                        Some(value) => {
                            // `router = Router()` as a class field.
                            if let Some(key) = p.key.static_name() {
                                let line = self.line(p.span.start);
                                self.wiring.declare(&key, value, line);
                            }
                            continue;
                        }
                        None => continue,
                    }
                }
                _ => continue,
            };
            let Some(method) = key.name() else { continue };
            let method = if key.is_private_identifier() {
                format!("#{method}")
            } else {
                method.to_string()
            };
            if methods.contains(&method) {
                continue;
            }
            self.push_function(
                format!("{name}.{method}"),
                params,
                decorators,
                span,
                is_async,
            );
            if let ClassElement::MethodDefinition(m) = el {
                self.nest_route(it, name, &method, m);
            }
            methods.push(method);
        }
        let starts = &self.line_starts;
        self.wiring.nest_class(
            name,
            it.decorators.iter().map(|d| (&d.expression, d.span.start)),
            &|o| line_at(starts, o),
        );
        self.classes.push(ClassFact {
            name: name.to_string(),
            methods,
            bases,
            line: self.line(it.span.start),
        });
    }

    /// NestJS: `@Get(':id')` on a method of a `@Controller('users')` class.
    fn nest_route(
        &mut self,
        class: &Class<'_>,
        class_name: &str,
        method: &str,
        m: &MethodDefinition<'_>,
    ) {
        let Some(prefix) = class
            .decorators
            .iter()
            .find_map(|d| routes::nest_controller_prefix(&d.expression))
        else {
            return;
        };
        let versions = compiled::nest_versions(m.decorators.iter().map(|d| &d.expression));
        for d in &m.decorators {
            if let Some((verb, path)) = routes::nest_method_route(&d.expression) {
                let line = self.line(d.span.start);
                if let Some(versions) = &versions {
                    self.wiring
                        .settings
                        .push(crate::pipeline::wiring::Setting::NestVersion {
                            owner: class_name.to_string(),
                            line,
                            versions: versions.clone(),
                        });
                }
                self.routes.push(RawRoute {
                    method: verb,
                    path: routes::join_paths(&prefix, &path),
                    handler: format!("{class_name}.{method}"),
                    line,
                    object: "nestjs".to_string(),
                    inline_handler: false,
                    label: class_name.to_string(),
                    bare: false,
                });
            }
        }
    }
}
