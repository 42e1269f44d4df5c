//! TypeScript import types, collected by a second walk (see [`ImportTypes`]).

use oxc_ast::ast::*;

use super::Facts;
use crate::pipeline::model::ImportKind;

/// TypeScript import types (`type T = import("./x").Y`, `typeof import("y")`): type-only
/// imports written in type space, which the JavaScript-only walk of [`Facts`] prunes. A second,
/// full walk collects them, only for TypeScript files whose text has `import(` at all, so the
/// common file pays nothing. Each specifier is recorded once, as kind `type`, at its first use.
struct ImportTypes<'f, 's> {
    facts: &'f mut Facts<'s>,
    seen: Vec<String>,
}

impl<'a> oxc_ast_visit::Visit<'a> for ImportTypes<'_, '_> {
    fn visit_ts_import_type(&mut self, it: &TSImportType<'a>) {
        let raw = it.source.value.as_str();
        if !self.seen.iter().any(|s| s == raw) {
            self.seen.push(raw.to_string());
            let names = it
                .qualifier
                .as_ref()
                .map(|q| vec![qualifier_head(q).to_string()])
                .unwrap_or_default();
            self.facts
                .push_import(raw, ImportKind::Type, it.span.start, names);
        }
        oxc_ast_visit::walk::walk_ts_import_type(self, it);
    }
}

/// `A` of `import("x").A.B.C`.
fn qualifier_head<'a>(q: &'a TSImportTypeQualifier<'a>) -> &'a str {
    match q {
        TSImportTypeQualifier::Identifier(id) => id.name.as_str(),
        TSImportTypeQualifier::QualifiedName(q) => qualifier_head(&q.left),
    }
}

impl Facts<'_> {
    /// Adds the import types of a TypeScript program (see [`ImportTypes`]), keeping the
    /// imports in line order.
    pub fn collect_import_types(&mut self, program: &Program<'_>) {
        let text = self.src.as_bytes();
        let candidate = memchr::memmem::find(text, b"import(").is_some()
            || memchr::memmem::find(text, b"import (").is_some();
        if !program.source_type.is_typescript() || !candidate {
            return;
        }
        let before = self.imports.len();
        let mut pass = ImportTypes {
            facts: self,
            seen: Vec::new(),
        };
        oxc_ast_visit::Visit::visit_program(&mut pass, program);
        if self.imports.len() > before {
            self.imports.sort_by_key(|i| i.line);
        }
    }
}
