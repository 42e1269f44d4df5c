//! Frees a ruff AST without recursion.
//!
//! `ruff_python_parser` grows its own stack while parsing, so a file of 100,000 nested
//! brackets or a 50 MB chain of `1+1+…` parses fine — but the derived `Drop` of the tree is
//! recursive and overflows any ordinary thread stack on such a tree. [`dismantle`] moves every
//! child node into an explicit work list before a node is dropped, so each node is dropped
//! with its children already gone and the native stack stays flat whatever the input.
//!
//! Every variant that can hold an expression, statement, pattern or f-string format spec is
//! handled; anything else is a leaf and drops shallowly.

use ruff_python_ast as ast;
use ruff_python_ast::{Expr, Pattern, Stmt};

/// One node waiting to be taken apart.
enum Node {
    Expr(Expr),
    Stmt(Stmt),
    Pattern(Pattern),
    Spec(Box<ast::InterpolatedStringFormatSpec>),
}

/// Drops a module body in linear time and constant native stack depth.
pub(crate) fn dismantle(body: impl IntoIterator<Item = Stmt>) {
    let mut work: Vec<Node> = body.into_iter().map(Node::Stmt).collect();
    while let Some(node) = work.pop() {
        match node {
            Node::Expr(e) => expr(e, &mut work),
            Node::Stmt(s) => stmt(s, &mut work),
            Node::Pattern(p) => pattern(p, &mut work),
            Node::Spec(mut spec) => elements(&mut spec.elements, &mut work),
        }
        // The popped node is dropped here with no children left in it.
    }
}

// The AST hands children over boxed; unboxing here keeps the call sites short.
#[allow(clippy::boxed_local)]
fn boxed(e: Box<Expr>, work: &mut Vec<Node>) {
    work.push(Node::Expr(*e));
}

fn opt(e: Option<Box<Expr>>, work: &mut Vec<Node>) {
    if let Some(e) = e {
        work.push(Node::Expr(*e));
    }
}

fn all(es: impl IntoIterator<Item = Expr>, work: &mut Vec<Node>) {
    work.extend(es.into_iter().map(Node::Expr));
}

fn body(ss: impl IntoIterator<Item = Stmt>, work: &mut Vec<Node>) {
    work.extend(ss.into_iter().map(Node::Stmt));
}

/// Moves the expressions out of f-/t-string elements, leaving cheap placeholders behind.
fn elements(els: &mut ast::InterpolatedStringElements, work: &mut Vec<Node>) {
    for el in els.iter_mut() {
        if let ast::InterpolatedStringElement::Interpolation(i) = el {
            let placeholder = Expr::NoneLiteral(ast::ExprNoneLiteral::default());
            work.push(Node::Expr(std::mem::replace(
                &mut *i.expression,
                placeholder,
            )));
            if let Some(spec) = i.format_spec.take() {
                work.push(Node::Spec(spec));
            }
        }
    }
}

fn comprehensions(gens: Vec<ast::Comprehension>, work: &mut Vec<Node>) {
    for g in gens {
        work.push(Node::Expr(g.target));
        work.push(Node::Expr(g.iter));
        all(g.ifs, work);
    }
}

fn arguments(args: ast::Arguments, work: &mut Vec<Node>) {
    all(args.args.into_vec(), work);
    all(args.keywords.into_iter().map(|k| k.value), work);
}

#[allow(clippy::boxed_local)]
fn parameters(p: Box<ast::Parameters>, work: &mut Vec<Node>) {
    let ast::Parameters {
        posonlyargs,
        args,
        vararg,
        kwonlyargs,
        kwarg,
        ..
    } = *p;
    for p in posonlyargs.into_iter().chain(args).chain(kwonlyargs) {
        opt(p.parameter.annotation, work);
        opt(p.default, work);
    }
    for p in vararg.into_iter().chain(kwarg) {
        opt(p.annotation, work);
    }
}

fn type_params(tp: Option<Box<ast::TypeParams>>, work: &mut Vec<Node>) {
    let Some(tp) = tp else { return };
    for t in tp.type_params {
        match t {
            ast::TypeParam::TypeVar(v) => {
                opt(v.bound, work);
                opt(v.default, work);
            }
            ast::TypeParam::TypeVarTuple(v) => opt(v.default, work),
            ast::TypeParam::ParamSpec(v) => opt(v.default, work),
        }
    }
}

fn decorators(ds: impl IntoIterator<Item = ast::Decorator>, work: &mut Vec<Node>) {
    all(ds.into_iter().map(|d| d.expression), work);
}

fn expr(e: Expr, work: &mut Vec<Node>) {
    match e {
        Expr::BoolOp(x) => all(x.values, work),
        Expr::Named(x) => {
            boxed(x.target, work);
            boxed(x.value, work);
        }
        Expr::BinOp(x) => {
            boxed(x.left, work);
            boxed(x.right, work);
        }
        Expr::UnaryOp(x) => boxed(x.operand, work),
        Expr::Lambda(x) => {
            if let Some(p) = x.parameters {
                parameters(p, work);
            }
            boxed(x.body, work);
        }
        Expr::If(x) => {
            boxed(x.test, work);
            boxed(x.body, work);
            boxed(x.orelse, work);
        }
        Expr::Dict(x) => {
            for item in x.items {
                if let Some(k) = item.key {
                    work.push(Node::Expr(k));
                }
                work.push(Node::Expr(item.value));
            }
        }
        Expr::Set(x) => all(x.elts, work),
        Expr::ListComp(x) => {
            boxed(x.elt, work);
            comprehensions(x.generators, work);
        }
        Expr::SetComp(x) => {
            boxed(x.elt, work);
            comprehensions(x.generators, work);
        }
        Expr::DictComp(x) => {
            opt(x.key, work);
            boxed(x.value, work);
            comprehensions(x.generators, work);
        }
        Expr::Generator(x) => {
            boxed(x.elt, work);
            comprehensions(x.generators, work);
        }
        Expr::Await(x) => boxed(x.value, work),
        Expr::Yield(x) => opt(x.value, work),
        Expr::YieldFrom(x) => boxed(x.value, work),
        Expr::Compare(x) => {
            boxed(x.left, work);
            all(x.comparators.into_vec(), work);
        }
        Expr::Call(x) => {
            boxed(x.func, work);
            arguments(x.arguments, work);
        }
        Expr::FString(mut x) => {
            for part in x.value.iter_mut() {
                if let ast::FStringPart::FString(f) = part {
                    elements(&mut f.elements, work);
                }
            }
        }
        Expr::TString(mut x) => {
            for t in x.value.iter_mut() {
                elements(&mut t.elements, work);
            }
        }
        Expr::Attribute(x) => boxed(x.value, work),
        Expr::Subscript(x) => {
            boxed(x.value, work);
            boxed(x.slice, work);
        }
        Expr::Starred(x) => boxed(x.value, work),
        Expr::List(x) => all(x.elts, work),
        Expr::Tuple(x) => all(x.elts, work),
        Expr::Slice(x) => {
            opt(x.lower, work);
            opt(x.upper, work);
            opt(x.step, work);
        }
        Expr::StringLiteral(_)
        | Expr::BytesLiteral(_)
        | Expr::NumberLiteral(_)
        | Expr::BooleanLiteral(_)
        | Expr::NoneLiteral(_)
        | Expr::EllipsisLiteral(_)
        | Expr::Name(_)
        | Expr::IpyEscapeCommand(_) => {}
    }
}

fn stmt(s: Stmt, work: &mut Vec<Node>) {
    match s {
        Stmt::FunctionDef(x) => {
            decorators(x.decorator_list, work);
            type_params(x.type_params, work);
            parameters(x.parameters, work);
            opt(x.returns, work);
            body(x.body, work);
        }
        Stmt::ClassDef(x) => {
            decorators(x.decorator_list, work);
            type_params(x.type_params, work);
            if let Some(a) = x.arguments {
                arguments(*a, work);
            }
            body(x.body, work);
        }
        Stmt::Return(x) => opt(x.value, work),
        Stmt::Delete(x) => all(x.targets, work),
        Stmt::TypeAlias(x) => {
            boxed(x.name, work);
            type_params(x.type_params, work);
            boxed(x.value, work);
        }
        Stmt::Assign(x) => {
            all(x.targets, work);
            boxed(x.value, work);
        }
        Stmt::AugAssign(x) => {
            boxed(x.target, work);
            boxed(x.value, work);
        }
        Stmt::AnnAssign(x) => {
            boxed(x.target, work);
            boxed(x.annotation, work);
            opt(x.value, work);
        }
        Stmt::For(x) => {
            boxed(x.target, work);
            boxed(x.iter, work);
            body(x.body, work);
            body(x.orelse, work);
        }
        Stmt::While(x) => {
            boxed(x.test, work);
            body(x.body, work);
            body(x.orelse, work);
        }
        Stmt::If(x) => {
            boxed(x.test, work);
            body(x.body, work);
            for clause in x.elif_else_clauses {
                if let Some(t) = clause.test {
                    work.push(Node::Expr(t));
                }
                body(clause.body, work);
            }
        }
        Stmt::With(x) => {
            for item in x.items {
                work.push(Node::Expr(item.context_expr));
                opt(item.optional_vars, work);
            }
            body(x.body, work);
        }
        Stmt::Match(x) => {
            boxed(x.subject, work);
            for case in x.cases {
                work.push(Node::Pattern(case.pattern));
                opt(case.guard, work);
                body(case.body, work);
            }
        }
        Stmt::Raise(x) => {
            opt(x.exc, work);
            opt(x.cause, work);
        }
        Stmt::Try(x) => {
            body(x.body, work);
            for ast::ExceptHandler::ExceptHandler(h) in x.handlers {
                opt(h.type_, work);
                body(h.body, work);
            }
            body(x.orelse, work);
            body(x.finalbody, work);
        }
        Stmt::Assert(x) => {
            boxed(x.test, work);
            opt(x.msg, work);
        }
        Stmt::Expr(x) => boxed(x.value, work),
        Stmt::Import(_)
        | Stmt::ImportFrom(_)
        | Stmt::Global(_)
        | Stmt::Nonlocal(_)
        | Stmt::Pass(_)
        | Stmt::Break(_)
        | Stmt::Continue(_)
        | Stmt::IpyEscapeCommand(_) => {}
    }
}

fn pattern(p: Pattern, work: &mut Vec<Node>) {
    match p {
        Pattern::MatchValue(x) => boxed(x.value, work),
        Pattern::MatchSequence(x) => work.extend(x.patterns.into_iter().map(Node::Pattern)),
        Pattern::MatchMapping(x) => {
            all(x.keys, work);
            work.extend(x.patterns.into_iter().map(Node::Pattern));
        }
        Pattern::MatchClass(x) => {
            boxed(x.cls, work);
            work.extend(x.arguments.patterns.into_iter().map(Node::Pattern));
            work.extend(
                x.arguments
                    .keywords
                    .into_iter()
                    .map(|k| Node::Pattern(k.pattern)),
            );
        }
        Pattern::MatchAs(x) => {
            if let Some(p) = x.pattern {
                work.push(Node::Pattern(*p));
            }
        }
        Pattern::MatchOr(x) => work.extend(x.patterns.into_iter().map(Node::Pattern)),
        Pattern::MatchSingleton(_) | Pattern::MatchStar(_) => {}
    }
}
