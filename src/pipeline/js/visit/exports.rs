//! Exports that are not ESM `export` clauses: CommonJS assignments to `module.exports` and
//! `exports`, and the names an exported declaration binds.

use oxc_ast::ast::*;
use oxc_span::GetSpan;

use super::Facts;

impl Facts<'_> {
    /// `module.exports = …`, `exports.x = …`, `module.exports.x = …` at module level.
    pub(super) fn commonjs_export(&mut self, it: &AssignmentExpression<'_>) {
        let Some(member) = it.left.as_member_expression() else {
            return;
        };
        let object = member.object().get_inner_expression();
        let prop = member.static_property_name();
        if matches!(object, Expression::Identifier(id) if id.name == "module")
            && prop == Some("exports")
        {
            self.exports.push("default".to_string());
            self.label_expr(it.right.span(), "default");
            match it.right.get_inner_expression() {
                Expression::ObjectExpression(obj) => {
                    for p in &obj.properties {
                        if let ObjectPropertyKind::ObjectProperty(p) = p {
                            if let Some(key) = p.key.static_name() {
                                let key = key.to_string();
                                if let Expression::Identifier(id) = p.value.get_inner_expression() {
                                    self.wiring.alias(&key, &id.name);
                                }
                                self.label_expr(p.value.span(), &key);
                                self.record_function_expr(&p.value, &key, true);
                                self.exports.push(key);
                            }
                        }
                    }
                }
                Expression::Identifier(id) => self.default_names.push(id.name.to_string()),
                other => {
                    self.record_function_expr(other, "default", true);
                }
            }
            return;
        }
        let is_exports_object = matches!(object, Expression::Identifier(id) if id.name == "exports")
            || object.is_specific_member_access("module", "exports");
        if let (true, Some(prop)) = (is_exports_object, prop) {
            if let Expression::Identifier(id) = it.right.get_inner_expression() {
                self.wiring.alias(prop, &id.name);
            }
            self.label_expr(it.right.span(), prop);
            self.record_function_expr(&it.right, prop, true);
            self.exports.push(prop.to_string());
        }
    }

    /// Names a `export <declaration>` exports.
    pub(super) fn declaration_names(&mut self, decl: &Declaration<'_>) {
        match decl {
            Declaration::VariableDeclaration(v) => {
                for d in &v.declarations {
                    for id in d.id.get_binding_identifiers() {
                        self.exports.push(id.name.to_string());
                    }
                }
            }
            Declaration::FunctionDeclaration(f) => {
                self.exports.extend(f.name().map(|n| n.to_string()))
            }
            Declaration::ClassDeclaration(c) => {
                self.exports.extend(c.name().map(|n| n.to_string()))
            }
            Declaration::TSTypeAliasDeclaration(t) => self.exports.push(t.id.name.to_string()),
            Declaration::TSInterfaceDeclaration(t) => self.exports.push(t.id.name.to_string()),
            Declaration::TSEnumDeclaration(t) => self.exports.push(t.id.name.to_string()),
            Declaration::TSNamespaceDeclaration(t) => self.exports.push(t.id.name.to_string()),
            Declaration::TSImportEqualsDeclaration(t) => self.exports.push(t.id.name.to_string()),
            Declaration::TSExternalModuleDeclaration(_) | Declaration::TSGlobalDeclaration(_) => {}
        }
    }
}
