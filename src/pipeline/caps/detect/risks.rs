//! Factual risks: dynamic code execution, shell commands, SQL built from strings,
//! secret-looking literals, unsafe deserialisation, disabled TLS checks, raw HTML, TODOs.
//!
//! Messages state what was seen and where; they never quote a secret.

use super::stores::sql_statement;
use super::{Ctx, Local, Risk};
use crate::pipeline::caps::scan::Lit;
use std::sync::LazyLock;

/// Known secret formats: (prefix, minimum total length, label).
const SECRET_PREFIXES: &[(&str, usize, &str)] = &[
    ("sk_live_", 16, "Stripe live key"),
    ("rk_live_", 16, "Stripe restricted key"),
    ("sk_test_", 16, "Stripe test key"),
    ("AKIA", 20, "AWS access key id"),
    ("ghp_", 30, "GitHub token"),
    ("gho_", 30, "GitHub token"),
    ("ghs_", 30, "GitHub token"),
    ("github_pat_", 30, "GitHub token"),
    ("xoxb-", 20, "Slack token"),
    ("xoxp-", 20, "Slack token"),
    ("AIza", 39, "Google API key"),
    ("SG.", 40, "SendGrid key"),
    ("sk-ant-", 30, "Anthropic key"),
    ("sk-", 32, "API key"),
    ("-----BEGIN", 20, "private key"),
];

/// Variable or key names whose literal values are secrets.
const SECRET_NAMES: &[&str] = &[
    "secret",
    "password",
    "passwd",
    "api_key",
    "apikey",
    "token",
    "private_key",
    "access_key",
    "auth_key",
];

/// Risky settings found as text in Python code: (text, risk code, message).
const PY_TEXT: &[(&str, &str, &str)] = &[
    (
        "verify=False",
        "tls",
        "TLS certificate verification disabled",
    ),
    ("debug=True", "debug", "debug mode enabled"),
    ("csrf_exempt", "csrf", "CSRF protection disabled"),
];

/// Risky settings found as text in JS/TS code: (text, risk code, message).
const JS_TEXT: &[(&str, &str, &str)] = &[
    (
        "rejectUnauthorized: false",
        "tls",
        "TLS certificate verification disabled",
    ),
    (
        "NODE_TLS_REJECT_UNAUTHORIZED",
        "tls",
        "TLS certificate verification disabled",
    ),
    (
        "dangerouslySetInnerHTML",
        "xss",
        "raw HTML injection (dangerouslySetInnerHTML)",
    ),
    (".innerHTML =", "xss", "raw HTML injection (innerHTML)"),
];

/// A searcher for each text of a list, built once: a search set up per file and text cost
/// about as much as the search itself.
type TextFinders = Vec<(memchr::memmem::Finder<'static>, &'static str, &'static str)>;

fn text_finders(list: &'static [(&'static str, &'static str, &'static str)]) -> TextFinders {
    list.iter()
        .map(|(text, code, msg)| (memchr::memmem::Finder::new(text), *code, *msg))
        .collect()
}

static PY_TEXT_FINDERS: LazyLock<TextFinders> = LazyLock::new(|| text_finders(PY_TEXT));
static JS_TEXT_FINDERS: LazyLock<TextFinders> = LazyLock::new(|| text_finders(JS_TEXT));

/// Local phase.
pub(super) fn scan(ctx: &Ctx<'_>, out: &mut Local) {
    let sc = ctx.sc;
    let mut risks: Vec<Risk> = Vec::new();
    let mut add = |code: &str, line: u32, message: String| {
        risks.push(Risk {
            code: code.to_string(),
            line,
            message,
        })
    };
    let py = ctx.is_py();
    let evals: &[&str] = if py { &["eval", "exec"] } else { &["eval"] };
    for callee in evals {
        for (at, _) in sc.calls(callee) {
            add(
                "eval",
                sc.line(at),
                format!("{callee}() call at line {}", sc.line(at)),
            );
        }
    }
    if !py {
        for (at, _) in sc.calls("Function") {
            if sc.preceded_by_word(at, "new") {
                add(
                    "eval",
                    sc.line(at),
                    format!("new Function() at line {}", sc.line(at)),
                );
            }
        }
    }
    if py {
        for callee in ["os.system", "os.popen"] {
            for (at, _) in sc.calls(callee) {
                add(
                    "shell",
                    sc.line(at),
                    format!("{callee}() runs a shell command at line {}", sc.line(at)),
                );
            }
        }
        for f in ["run", "call", "Popen", "check_output", "check_call"] {
            for (at, open) in sc.calls(&format!("subprocess.{f}")) {
                let end = sc.args(open).last().map_or(open, |a| a.1);
                if sc.code[open..end].contains("shell=True") {
                    add(
                        "shell",
                        sc.line(at),
                        format!("subprocess with shell=True at line {}", sc.line(at)),
                    );
                }
            }
        }
    } else if ctx.imports("child_process") {
        let mut calls = sc.calls("exec");
        calls.extend(sc.calls("execSync"));
        calls.extend(sc.method_calls("exec").into_iter().map(|(_, o)| (o, o)));
        calls.extend(sc.method_calls("execSync").into_iter().map(|(_, o)| (o, o)));
        calls.sort_unstable();
        for (at, _) in calls {
            add(
                "shell",
                sc.line(at),
                format!(
                    "child_process exec runs a shell command at line {}",
                    sc.line(at)
                ),
            );
        }
    }
    for lit in &sc.lits {
        if sql_statement(&lit.value).is_some() && sql_is_built(ctx, lit) {
            let line = sc.line(lit.start);
            add(
                "sql-injection",
                line,
                format!("SQL built from interpolated strings at line {line}"),
            );
        }
        if let Some(label) = secret_literal(ctx, lit) {
            let line = sc.line(lit.start);
            add(
                "secret",
                line,
                format!("possible hard-coded secret ({label}) at line {line}"),
            );
        }
    }
    let patterns: &[(&str, &str, &str)] = if py {
        &[
            (
                "pickle.loads",
                "deserialization",
                "unsafe deserialization (pickle.loads)",
            ),
            (
                "pickle.load",
                "deserialization",
                "unsafe deserialization (pickle.load)",
            ),
            (
                "marshal.loads",
                "deserialization",
                "unsafe deserialization (marshal.loads)",
            ),
            (
                "mark_safe",
                "xss",
                "HTML marked safe without escaping (mark_safe)",
            ),
        ]
    } else {
        &[]
    };
    for (callee, code, msg) in patterns {
        for (at, _) in sc.calls(callee) {
            add(code, sc.line(at), format!("{msg} at line {}", sc.line(at)));
        }
    }
    if py {
        for (at, open) in sc.calls("yaml.load") {
            let end = sc.args(open).last().map_or(open, |a| a.1);
            if !sc.code[open..end].contains("Loader") {
                add(
                    "deserialization",
                    sc.line(at),
                    format!("yaml.load without a safe Loader at line {}", sc.line(at)),
                );
            }
        }
    }
    let text_patterns: &[(memchr::memmem::Finder<'static>, &str, &str)] = if py {
        &PY_TEXT_FINDERS
    } else {
        &JS_TEXT_FINDERS
    };
    for (finder, code, msg) in text_patterns {
        for p in finder.find_iter(sc.code.as_bytes()) {
            add(code, sc.line(p), format!("{msg} at line {}", sc.line(p)));
        }
    }
    for w in &ctx.rec.warnings {
        add("parse-warning", 0, format!("parser warning: {}", w.code));
    }
    let todos = sc.todo_comments;
    if todos > 0 {
        let s = if todos == 1 { "" } else { "s" };
        add("todo", 0, format!("{todos} TODO/FIXME comment{s}"));
    }
    risks.sort_by(|a, b| (a.line, &a.code, &a.message).cmp(&(b.line, &b.code, &b.message)));
    risks.dedup();
    out.facts.risks = risks;
    out.facts.todos = todos;
}

/// True when a SQL literal is assembled at run time: an f-string or template with
/// substitutions, or concatenated / `%`-formatted / `.format()`ed.
fn sql_is_built(ctx: &Ctx<'_>, lit: &Lit) -> bool {
    if lit.dynamic {
        return true;
    }
    let after = ctx.sc.code[lit.end..].trim_start();
    let before = ctx.sc.code[..lit.start].trim_end();
    after.starts_with('+')
        || (after.starts_with('%') && !after.starts_with("%="))
        || after.starts_with(".format(")
        || before.ends_with('+')
}

/// Label of a literal that looks like a secret: a known key format, or a literal assigned
/// to a secret-named variable or key.
fn secret_literal(ctx: &Ctx<'_>, lit: &Lit) -> Option<String> {
    let v = lit.value.as_str();
    if let Some((_, _, label)) = SECRET_PREFIXES.iter().find(|(p, min, _)| {
        v.starts_with(p)
            && v.len() >= *min
            && if *p == "-----BEGIN" {
                v.contains("PRIVATE KEY")
            } else {
                v[p.len()..]
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b"_-.".contains(&c))
            }
    }) {
        return Some((*label).to_string());
    }
    if v.len() < 8 || v.contains(char::is_whitespace) || lit.dynamic {
        return None;
    }
    // The name it is assigned to first: most literals are assigned to nothing, or to a name
    // that is no secret's, and are dropped before the placeholder checks allocate.
    let before = ctx.sc.code[..lit.start].trim_end();
    let before = before
        .strip_suffix('=')
        .or_else(|| before.strip_suffix(':'))?
        .trim_end();
    let name = if before.ends_with(['"', '\'']) {
        let lits = &ctx.sc.lits;
        let i = lits.partition_point(|l| l.start < before.len());
        let key = lits[..i].last().filter(|l| l.end == before.len())?;
        key.value.to_ascii_lowercase()
    } else {
        let start = before
            .char_indices()
            .rev()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '$'))
            .map_or(0, |(i, c)| i + c.len_utf8());
        before[start..].to_ascii_lowercase()
    };
    let secret = SECRET_NAMES.iter().find(|n| name.contains(*n))?;
    let lower = v.to_ascii_lowercase();
    let placeholder = [
        "your", "xxx", "changeme", "example", "<", "${", "{", "***", "dummy", "test",
    ]
    .iter()
    .any(|p| lower.contains(p))
        || v.bytes()
            .all(|c| c.is_ascii_uppercase() || c == b'_' || c.is_ascii_digit())
        || v.starts_with('/')
        || v.starts_with("http");
    if placeholder {
        return None;
    }
    Some(format!("literal assigned to a {secret} name"))
}
