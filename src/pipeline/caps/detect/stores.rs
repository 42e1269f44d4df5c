//! Data stores: ORM models (Prisma, TypeORM, Sequelize, Mongoose, SQLAlchemy, SQLModel,
//! Django, Peewee) and tables named by raw SQL.
//!
//! A model is reported where it is defined (`detail` says which ORM) and, in the global
//! phase, where it is used: files that import it and mention it, and for Prisma files that
//! call `client.<model>.<query>()`. Capabilities prefer usages, so a route that touches only
//! `User` is not credited with every model of `models.py`.

use super::{Ctx, Finding, FindingKind, Global, Local};
use crate::pipeline::model::Language;
use std::collections::BTreeMap;

/// `detail` of a model definition finding.
pub const DEFINED: &str = "model";
/// `detail` of a model usage finding.
pub const USED: &str = "used";

const PRISMA_METHODS: &[&str] = &[
    "findMany",
    "findUnique",
    "findUniqueOrThrow",
    "findFirst",
    "findFirstOrThrow",
    "create",
    "createMany",
    "update",
    "updateMany",
    "upsert",
    "delete",
    "deleteMany",
    "count",
    "aggregate",
    "groupBy",
];

/// Local phase.
pub(super) fn scan(ctx: &Ctx<'_>, out: &mut Local) {
    if ctx.is_py() {
        python_models(ctx, out);
    } else {
        js_models(ctx, out);
    }
    for lit in &ctx.sc.lits {
        if let Some((verb, table)) = sql_statement(&lit.value) {
            out.findings.push(ctx.finding(
                FindingKind::Store,
                ctx.sc.line(lit.start),
                &table,
                "sql",
                verb,
            ));
        }
    }
}

fn js_models(ctx: &Ctx<'_>, out: &mut Local) {
    let sc = ctx.sc;
    if ctx.imports("typeorm") {
        for at in sc.words("Entity") {
            if at == 0 || sc.code.as_bytes()[at - 1] != b'@' {
                continue;
            }
            let rest = &sc.code[at..];
            if let Some(c) = super::super::scan::find_from(rest, 0, "class ") {
                if let Some(name) = sc.ident_after(at + c + 6) {
                    out.findings.push(ctx.finding(
                        FindingKind::Store,
                        sc.line(at + c),
                        name,
                        "typeorm",
                        DEFINED,
                    ));
                }
            }
        }
    }
    if ctx.imports_any(&["sequelize", "sequelize-typescript"]) {
        for (_, open) in sc.method_calls("define") {
            if let Some(l) = sc.lit_after(open) {
                out.findings.push(ctx.finding(
                    FindingKind::Store,
                    sc.line(open),
                    &l.value,
                    "sequelize",
                    DEFINED,
                ));
            }
        }
        for c in &ctx.rec.classes {
            if c.bases
                .iter()
                .any(|b| b == "Model" || b.starts_with("Model<"))
            {
                out.findings.push(ctx.finding(
                    FindingKind::Store,
                    c.line,
                    &c.name,
                    "sequelize",
                    DEFINED,
                ));
            }
        }
    }
    if ctx.imports("mongoose") {
        let mut opens: Vec<usize> = sc
            .calls("mongoose.model")
            .into_iter()
            .map(|c| c.1)
            .collect();
        opens.extend(sc.calls("model").into_iter().map(|c| c.1));
        for open in opens {
            let args = sc.args(open);
            if args.len() >= 2 {
                if let Some(l) = sc.arg_lit(args[0]) {
                    out.findings.push(ctx.finding(
                        FindingKind::Store,
                        sc.line(open),
                        &l.value,
                        "mongoose",
                        DEFINED,
                    ));
                }
            }
        }
    }
}

fn python_models(ctx: &Ctx<'_>, out: &mut Local) {
    let sc = ctx.sc;
    let sqla = ctx.imports_any(&["sqlalchemy", "flask_sqlalchemy", "sqlmodel"]);
    let mut declarative: Vec<String> = ctx
        .rec
        .classes
        .iter()
        .filter(|c| c.bases.iter().any(|b| b.ends_with("DeclarativeBase")))
        .map(|c| c.name.clone())
        .collect();
    for (at, _) in sc.calls("declarative_base") {
        if let Some(v) = sc.assigned_ident(at) {
            declarative.push(v);
        }
    }
    let class_lines: Vec<u32> = ctx.rec.classes.iter().map(|c| c.line).collect();
    for c in &ctx.rec.classes {
        if declarative.contains(&c.name) {
            continue;
        }
        let line_text = sc
            .code
            .lines()
            .nth(c.line.saturating_sub(1) as usize)
            .unwrap_or("");
        let fw = if c.bases.iter().any(|b| b == "models.Model") {
            Some(if ctx.imports("tortoise") {
                "tortoise"
            } else {
                "django"
            })
        } else if c.bases.iter().any(|b| b.starts_with("SQLModel")) {
            (line_text.contains("table=True") || c.bases.iter().any(|b| b.contains("table=True")))
                .then_some("sqlmodel")
        } else if c
            .bases
            .iter()
            .any(|b| b == "Base" || b == "db.Model" || declarative.contains(b))
            || (sqla && c.bases.iter().any(|b| b == "Model"))
        {
            Some("sqlalchemy")
        } else if ctx.imports("peewee")
            && c.bases.iter().any(|b| b == "Model" || b == "peewee.Model")
        {
            Some("peewee")
        } else {
            None
        };
        let Some(fw) = fw else { continue };
        let next = class_lines.iter().copied().filter(|l| *l > c.line).min();
        let table = sc
            .words("__tablename__")
            .into_iter()
            .filter(|p| sc.line(*p) > c.line && next.is_none_or(|n| sc.line(*p) < n))
            .find_map(|p| {
                let from = p + "__tablename__".len();
                let eq = sc.code[from..].find('=')?;
                sc.code[from..from + eq]
                    .trim()
                    .is_empty()
                    .then(|| sc.lit_after(from + eq + 1))
                    .flatten()
            })
            .map(|l| format!("table {}", l.value));
        let detail = table.map_or(DEFINED.to_string(), |t| format!("{DEFINED} ({t})"));
        out.findings
            .push(ctx.finding(FindingKind::Store, c.line, &c.name, fw, &detail));
    }
}

/// The statement verb and table of a literal that is a SQL statement, if it is one.
/// Upper-case keywords are trusted; lower-case ones need SQL punctuation or clauses too, so
/// "Select a file from the list" is not SQL.
pub(super) fn sql_statement(lit: &str) -> Option<(&'static str, String)> {
    let t = lit.trim_start();
    if t.len() < 12 {
        return None;
    }
    // Every literal of every file comes here, and nearly none starts with a statement verb:
    // that is decided before any allocation.
    let verb = t.split_whitespace().next()?;
    if !["select", "insert", "update", "delete", "create"]
        .iter()
        .any(|v| verb.eq_ignore_ascii_case(v))
    {
        return None;
    }
    let words: Vec<&str> = t.split_whitespace().take(64).collect();
    let first = *words.first()?;
    let upper = first.chars().all(|c| c.is_ascii_uppercase());
    let lower = t.to_ascii_lowercase();
    let sqlish = upper
        || [
            "*",
            ",",
            " where ",
            "=",
            " join ",
            " limit ",
            " order by ",
            " values",
            " set ",
        ]
        .iter()
        .any(|m| lower.contains(m));
    if !sqlish {
        return None;
    }
    let kw = |w: &str, k: &str| {
        if upper {
            w == k.to_ascii_uppercase()
        } else {
            w.eq_ignore_ascii_case(k)
        }
    };
    let after = |k: &str| -> Option<String> {
        let i = words.iter().position(|w| kw(w, k))?;
        words.get(i + 1).map(|w| table_name(w))
    };
    let (verb, table) = match first.to_ascii_lowercase().as_str() {
        "select" => ("select", after("from")?),
        "insert" if words.get(1).is_some_and(|w| kw(w, "into")) => ("insert", after("into")?),
        "update" if words.iter().any(|w| kw(w, "set")) => ("update", table_name(words.get(1)?)),
        "delete" if words.get(1).is_some_and(|w| kw(w, "from")) => ("delete", after("from")?),
        "create" if words.get(1).is_some_and(|w| kw(w, "table")) => {
            let rest: Vec<&str> = words[2..]
                .iter()
                .copied()
                .filter(|w| !["if", "not", "exists"].contains(&w.to_ascii_lowercase().as_str()))
                .collect();
            ("create", table_name(rest.first()?))
        }
        _ => return None,
    };
    (!table.is_empty()).then_some((verb, table))
}

fn table_name(w: &str) -> String {
    let w = w.split(['(', ';', ',', ')']).next().unwrap_or(w);
    let w = w.trim_matches(|c| matches!(c, '"' | '`' | '\'' | '[' | ']'));
    if w.starts_with(['$', '{', '%', '?', ':']) || w.is_empty() {
        "(dynamic)".to_string()
    } else {
        w.to_string()
    }
}

/// Global phase: Prisma schema models and usages of every model.
pub(super) fn resolve(g: &mut Global<'_>) {
    let mut found = Vec::new();
    // Prisma models from every *.prisma file.
    let schema_files: Vec<String> = g
        .files
        .keys()
        .filter(|p| p.ends_with(".prisma"))
        .map(|p| p.to_string())
        .collect();
    let mut prisma: Vec<(String, String)> = Vec::new(); // (accessor, Model)
    for path in schema_files {
        let Some(text) = g.source(&path) else {
            continue;
        };
        for (i, line) in text.lines().enumerate() {
            let mut w = line.split_whitespace();
            if let (Some("model"), Some(name), Some("{")) = (w.next(), w.next(), w.next()) {
                found.push(finding(&path, i as u32 + 1, name, "prisma", DEFINED));
                let mut acc = name.to_string();
                if let Some(f) = acc.get(..1) {
                    acc = f.to_ascii_lowercase() + &acc[1..];
                }
                prisma.push((acc, name.to_string()));
            }
        }
    }
    // Code-defined models by name: name -> [(defining file, framework)].
    let mut defined: BTreeMap<String, Vec<(String, String, bool)>> = BTreeMap::new();
    for f in g
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::Store && f.detail.starts_with(DEFINED))
    {
        if f.framework == "sql" {
            continue;
        }
        let py = g
            .files
            .get(f.file.as_str())
            .is_some_and(|r| r.language == Language::Py);
        defined
            .entry(f.name.clone())
            .or_default()
            .push((f.file.clone(), f.framework.clone(), py));
    }
    for (path, rec) in &g.files {
        let py = rec.language == Language::Py;
        let wants_prisma = !py && !prisma.is_empty();
        // The defined models this file may use: it imports their defining file, or a name
        // that resolves inside the project.
        let uses: Vec<(&String, &String)> = defined
            .iter()
            .flat_map(|(name, defs)| defs.iter().map(move |d| (name, d)))
            .filter(|(name, (dfile, _, dpy))| {
                dfile != path
                    && *dpy == py
                    && rec.imports.iter().any(|i| {
                        i.resolved.as_deref() == Some(dfile.as_str())
                            || (i.resolved.is_some() && i.names.iter().any(|n| n == *name))
                    })
            })
            .map(|(name, (_, fw, _))| (name, fw))
            .collect();
        if !wants_prisma && uses.is_empty() {
            continue;
        }
        let Some(sc) = g.scan(path) else { continue };
        if wants_prisma {
            for m in PRISMA_METHODS {
                for (recv, open) in sc.method_calls(m) {
                    if let Some((_, model)) = prisma.iter().find(|(a, _)| *a == recv) {
                        found.push(finding(path, sc.line(open), model, "prisma", USED));
                    }
                }
            }
        }
        for (name, fw) in uses {
            if let Some(p) = sc.words(name).first() {
                found.push(finding(path, sc.line(*p), name, fw, USED));
            }
        }
    }
    g.findings.extend(found);
}

fn finding(file: &str, line: u32, name: &str, framework: &str, detail: &str) -> Finding {
    Finding {
        file: file.to_string(),
        line,
        kind: FindingKind::Store,
        name: name.to_string(),
        framework: framework.to_string(),
        detail: detail.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::sql_statement;

    #[test]
    fn sql_statements_and_tables() {
        assert_eq!(
            sql_statement("SELECT id, name FROM users WHERE id = $1"),
            Some(("select", "users".to_string()))
        );
        assert_eq!(
            sql_statement("insert into orders (id) values (?)"),
            Some(("insert", "orders".to_string()))
        );
        assert_eq!(
            sql_statement("UPDATE \"accounts\" SET balance = 1"),
            Some(("update", "accounts".to_string()))
        );
        assert_eq!(
            sql_statement("CREATE TABLE IF NOT EXISTS events (id int)"),
            Some(("create", "events".to_string()))
        );
        assert_eq!(sql_statement("Select a file from the list"), None);
        assert_eq!(sql_statement("delete the user from here"), None);
    }
}
