//! Reading the expressions router wiring is made of: names through compiler output
//! (`(0, x.f)`, `__importDefault(require(…))`), dotted chains, prefix literals and the
//! receiver of a chained call. Chains deeper than [`MAX_CHAIN`] are not read (hostile input).

use oxc_ast::ast::*;

use super::visit::static_string;

/// Compilers call imported functions as `(0, x.f)(…)`: the last expression of a sequence.
pub(super) fn unsequence<'a, 'b>(e: &'b Expression<'a>) -> &'b Expression<'a> {
    match e.get_inner_expression() {
        Expression::SequenceExpression(s) => {
            s.expressions.last().map_or(e, |l| l.get_inner_expression())
        }
        other => other,
    }
}

/// `require('x')`, `__importDefault(require('x'))`, `_interopRequireDefault(require('x'))`.
pub(super) fn required<'a>(e: &Expression<'a>) -> Option<&'a str> {
    let Expression::CallExpression(c) = unsequence(e) else {
        return None;
    };
    let arg = c.arguments.first()?.as_expression()?;
    match unsequence(&c.callee) {
        Expression::Identifier(id) if id.name == "require" => static_string(arg),
        Expression::Identifier(id)
            if matches!(
                id.name.as_str(),
                "__importDefault"
                    | "__importStar"
                    | "_interopRequireDefault"
                    | "_interopRequireWildcard"
            ) =>
        {
            required(arg)
        }
        _ => None,
    }
}

/// Longest name chain (`a.b.c…`) or prefix concatenation read; deeper ones are hostile.
pub(super) const MAX_CHAIN: usize = 64;

/// The dotted name of an identifier/member chain (`a`, `a.b.c`, `this.router` → `router`).
pub(super) fn dotted(e: &Expression<'_>) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    let mut cur = unsequence(e);
    loop {
        if parts.len() > MAX_CHAIN {
            return None;
        }
        match cur {
            Expression::Identifier(id) => {
                parts.push(id.name.as_str());
                break;
            }
            Expression::ThisExpression(_) => break,
            e => {
                let m = e.as_member_expression()?;
                parts.push(m.static_property_name()?);
                cur = unsequence(m.object());
            }
        }
    }
    parts.reverse();
    Some(parts.join("."))
}

/// String values a prefix may name, by dotted name: module-level constants (`const API =
/// '/api'` → `API`), members of a `const` object literal (`PREFIX.WEB`) and string members of
/// a TS enum, as written or as TypeScript compiles it (`PREFIX["WEB"] = "/-/web"`); and the
/// string defaults of destructured options (`const { apiVersion = 'v8' } = options`). The flag
/// marks a default: the value a caller gets unless it passes its own, so a prefix built on it
/// keeps the text but is flagged dynamic.
pub(super) type Consts = std::collections::HashMap<String, (String, bool)>;

/// Literal parts of a prefix expression and whether anything was not literal; names found in
/// `consts` count as literals.
pub(super) fn prefix_parts(e: &Expression<'_>, consts: &Consts) -> (String, bool) {
    prefix_parts_at(e, consts, 0)
}

fn prefix_parts_at(e: &Expression<'_>, consts: &Consts, depth: usize) -> (String, bool) {
    if depth > MAX_CHAIN {
        return (String::new(), true);
    }
    match e.get_inner_expression() {
        Expression::StringLiteral(s) => (s.value.to_string(), false),
        Expression::TemplateLiteral(t) => {
            let mut text = String::new();
            let mut dynamic = false;
            for (i, q) in t.quasis.iter().enumerate() {
                text.push_str(q.value.raw.as_str());
                if let Some(e) = t.expressions.get(i) {
                    let (part, d) = prefix_parts_at(e, consts, depth + 1);
                    text.push_str(&part);
                    dynamic |= d;
                }
            }
            (text, dynamic)
        }
        Expression::BinaryExpression(b) if b.operator == BinaryOperator::Addition => {
            let (l, ld) = prefix_parts_at(&b.left, consts, depth + 1);
            let (r, rd) = prefix_parts_at(&b.right, consts, depth + 1);
            (format!("{l}{r}"), ld || rd)
        }
        e if !consts.is_empty() && (e.is_identifier_reference() || e.is_member_expression()) => {
            match dotted(e).and_then(|n| consts.get(&n)) {
                Some((v, default)) => (v.clone(), *default),
                None => (String::new(), true),
            }
        }
        _ => (String::new(), true),
    }
}

/// The dotted name a prefix expression consists of when `consts` does not define it
/// (`API_PREFIX`, `PREFIX.USER` imported from another file).
pub(super) fn prefix_ref(e: &Expression<'_>, consts: &Consts) -> Option<String> {
    let e = e.get_inner_expression();
    if !(e.is_identifier_reference() || e.is_member_expression()) {
        return None;
    }
    dotted(e).filter(|n| !consts.contains_key(n))
}

/// A first `use` argument that names a path although it is not a literal
/// (`config.apiPrefix`, `BASE_PATH`, `` `${v}/x` ``, `'/a' + b`).
pub(super) fn looks_like_path(e: &Expression<'_>) -> bool {
    match e.get_inner_expression() {
        Expression::StringLiteral(_) | Expression::TemplateLiteral(_) => true,
        Expression::BinaryExpression(b) => b.operator == BinaryOperator::Addition,
        Expression::ArrayExpression(a) => a
            .elements
            .iter()
            .filter_map(|x| x.as_expression())
            .all(looks_like_path),
        // A name that says it holds a path, itself or the object it is a member of
        // (`BASE_PATH`, `config.apiPrefix`, `Prefix.WEB`).
        other => dotted(other).is_some_and(|d| {
            d.split('.').any(|seg| {
                let seg = seg.to_ascii_lowercase();
                ["path", "prefix", "base", "url", "root", "mount"]
                    .iter()
                    .any(|k| seg.ends_with(k))
            })
        }),
    }
}

/// The owner-ish name of a call's receiver: `app`, `this.router` → `router`, and through
/// chains (`app.use(a).use(b)`, `router.get(…).post(…)`).
pub(super) fn receiver_of(e: &Expression<'_>) -> Option<String> {
    match unsequence(e) {
        Expression::Identifier(id) => Some(id.name.to_string()),
        Expression::CallExpression(c) => {
            let m = unsequence(&c.callee).as_member_expression()?;
            receiver_of(m.object())
        }
        e => e
            .as_member_expression()?
            .static_property_name()
            .map(str::to_string),
    }
}

/// The value of property `key` of an object literal.
pub(super) fn object_prop<'a, 'b>(o: &'b Expression<'a>, key: &str) -> Option<&'b Expression<'a>> {
    let Expression::ObjectExpression(o) = o.get_inner_expression() else {
        return None;
    };
    o.properties.iter().find_map(|p| match p {
        ObjectPropertyKind::ObjectProperty(p) if p.key.static_name().as_deref() == Some(key) => {
            Some(&p.value)
        }
        _ => None,
    })
}
