//! Routes declared in a loop over a list of paths: `LIST.forEach((p) => app.get(p, …))`.

use oxc_ast::ast::*;

use super::super::routes;
use super::Facts;

impl Facts<'_> {
    /// `LIST.forEach((p) => …)` (or `.map`) over a list of strings, the list written there or a
    /// module-level `const`: the callback's first parameter takes its values while the call is
    /// walked. Pushes the loop variable and says so.
    pub(super) fn loop_over(&mut self, call: &CallExpression<'_>) -> bool {
        let Some(member) = call.callee.get_inner_expression().as_member_expression() else {
            return false;
        };
        if !matches!(member.static_property_name(), Some("forEach" | "map")) {
            return false;
        }
        let list = match member.object().get_inner_expression() {
            Expression::Identifier(id) => self.string_lists.get(id.name.as_str()).cloned(),
            e => routes::string_list(e),
        };
        let Some(list) = list else { return false };
        let params = match call.arguments.first().and_then(Argument::as_expression) {
            Some(Expression::ArrowFunctionExpression(f)) => &f.params,
            Some(Expression::FunctionExpression(f)) => &f.params,
            _ => return false,
        };
        let Some(BindingPattern::BindingIdentifier(p)) = params.items.first().map(|p| &p.pattern)
        else {
            return false;
        };
        self.loop_paths.push((p.name.to_string(), list));
        true
    }
}
