//! The top-level statements of a source file and the names a piece of code uses.
//!
//! Capabilities credit a store, an environment variable or a service only when a handler
//! can reach it. The import graph says which files a file imports, but not which of their
//! definitions a handler uses; a second full parse would be wasteful. An [`Outline`] is the
//! cheap middle way over the blanked text of [`Scanned`]: the file cut into its top-level
//! statements ([`Chunk`]s, with the names each defines), and [`Outline::refs`], the
//! identifiers a byte range uses (with the attribute each is accessed through, so
//! `views.post_list` or `models.User` can be followed into a module).
//!
//! It works on formatted code: a top-level statement starts at column 0 at bracket depth 0.
//! Where the text defeats that (a regex literal with a bracket), a declaration keyword at
//! column 0 starts a statement anyway, so one misread line cannot swallow the file.

use super::scan::{is_ident, Scanned};
use crate::pipeline::model::{FileRecord, Language};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Byte range `[start, end)` of a file's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

/// One top-level statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// The whole statement, decorators included.
    pub span: Span,
    /// Byte where the statement proper starts (after decorators); `span.start` when none.
    pub body: usize,
    /// Names the statement binds (`def f`, `const a`, `class C`, `default` for a default
    /// export or `module.exports =`).
    pub defines: Vec<String>,
    /// Names the statement configures without binding them (`celery.conf.x = …`,
    /// `sgMail.setApiKey(…)`, `router.get(…)`): reached together with the name.
    pub augments: Vec<String>,
}

/// How code uses one identifier.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Use {
    /// Used on its own (called, passed, read), not only through an attribute.
    pub bare: bool,
    /// First attributes it is accessed through (`views.post_list` gives `post_list`).
    pub attrs: BTreeSet<String>,
    /// Every use hands work to another process (`task.delay(…)`, `actor.send(…)`): the
    /// code reaches the task's registration, not its body.
    pub handoff_only: bool,
}

/// Methods that enqueue a task instead of running it.
const HANDOFF_METHODS: &[&str] = &[
    "delay",
    "apply_async",
    "s",
    "si",
    "signature",
    "send",
    "send_with_options",
    "schedule",
];

const JS_KEYWORDS: &[&str] = &[
    "async",
    "await",
    "break",
    "case",
    "catch",
    "class",
    "const",
    "continue",
    "default",
    "delete",
    "do",
    "else",
    "export",
    "extends",
    "false",
    "finally",
    "for",
    "from",
    "function",
    "if",
    "import",
    "in",
    "instanceof",
    "let",
    "new",
    "null",
    "of",
    "return",
    "super",
    "switch",
    "this",
    "throw",
    "true",
    "try",
    "typeof",
    "undefined",
    "var",
    "void",
    "while",
    "yield",
    "as",
    "type",
    "interface",
    "require",
];

const PY_KEYWORDS: &[&str] = &[
    "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del", "elif",
    "else", "except", "False", "finally", "for", "from", "global", "if", "import", "in", "is",
    "lambda", "None", "nonlocal", "not", "or", "pass", "raise", "return", "True", "try", "while",
    "with", "yield", "self", "cls",
];

/// A file cut into top-level statements, with its import bindings.
#[derive(Debug)]
pub struct Outline {
    /// The scanned text.
    pub sc: Scanned,
    /// Top-level statements in order.
    pub chunks: Vec<Chunk>,
    python: bool,
    /// name → chunk indexes that define or augment it.
    by_name: HashMap<String, Vec<usize>>,
    /// identifier → indexes into the record's imports whose statement binds it.
    bindings: HashMap<String, Vec<usize>>,
    /// Functions defined anywhere (also inside other functions): name → 1-based lines.
    functions: HashMap<String, Vec<u32>>,
}

impl Outline {
    /// Outlines `text`, the source of `rec`.
    pub fn new(rec: &FileRecord, text: &str) -> Self {
        let python = rec.language == Language::Py;
        let sc = Scanned::new(text, rec.language);
        let mut chunks = chunks(&sc, python);
        // `const { a } = require('./x')` binds through an import, not a definition: the
        // binding is followed into `./x`.
        let import_lines: BTreeSet<u32> = rec.imports.iter().map(|i| i.line).collect();
        for c in chunks.iter_mut() {
            let text = &sc.code[c.body..c.span.end];
            if import_lines.contains(&sc.line(c.body)) && text.contains("require") {
                c.defines.clear();
            }
        }
        let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, c) in chunks.iter().enumerate() {
            for n in c.defines.iter().chain(&c.augments) {
                let v = by_name.entry(n.clone()).or_default();
                if v.last() != Some(&i) {
                    v.push(i);
                }
            }
        }
        let mut bindings: HashMap<String, Vec<usize>> = HashMap::new();
        let keywords = if python { PY_KEYWORDS } else { JS_KEYWORDS };
        for (idx, imp) in rec.imports.iter().enumerate() {
            let mut words: BTreeSet<String> = imp
                .names
                .iter()
                .filter(|n| n.as_str() != "*" && n.as_str() != "default")
                .map(|n| n.to_string())
                .collect();
            let line = line_of(&sc, imp.line);
            words.extend(
                idents(line)
                    .filter(|w| !keywords.contains(w))
                    .map(str::to_string),
            );
            for w in words {
                bindings.entry(w).or_default().push(idx);
            }
        }
        let functions = nested_functions(&sc, python);
        Self {
            sc,
            chunks,
            python,
            by_name,
            bindings,
            functions,
        }
    }

    /// Spans of the functions named `name` defined anywhere in the file (nested in another
    /// function, as route handlers often are), for names no top-level statement defines.
    pub fn functions_named(&self, name: &str) -> Vec<Span> {
        self.functions
            .get(name)
            .into_iter()
            .flatten()
            .filter_map(|l| self.block_at(*l))
            .collect()
    }

    /// The whole text.
    pub fn all(&self) -> Span {
        Span {
            start: 0,
            end: self.sc.code.len(),
        }
    }

    /// Chunks that define `name`.
    pub fn defining<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s Chunk> + 's {
        self.by_name
            .get(name)
            .into_iter()
            .flatten()
            .map(|i| &self.chunks[*i])
            .filter(move |c| c.defines.iter().any(|d| d == name))
    }

    /// Chunks that augment `name` (configure it without binding it).
    pub fn augmenting<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s Chunk> + 's {
        self.by_name
            .get(name)
            .into_iter()
            .flatten()
            .map(|i| &self.chunks[*i])
            .filter(move |c| c.augments.iter().any(|d| d == name))
    }

    /// Indexes of the imports whose statement binds `ident`.
    pub fn bound_by(&self, ident: &str) -> &[usize] {
        self.bindings.get(ident).map_or(&[], Vec::as_slice)
    }

    /// Text of line `line` (1-based) of the blanked code.
    pub fn line_text(&self, line: u32) -> &str {
        line_of(&self.sc, line)
    }

    /// Identifiers used in `span`, each with how it is used. Attribute names (after a dot)
    /// and keywords are not identifiers of their own.
    pub fn refs(&self, span: Span) -> BTreeMap<String, Use> {
        let code = &self.sc.code;
        let b = code.as_bytes();
        let end = span.end.min(b.len());
        let keywords = if self.python {
            PY_KEYWORDS
        } else {
            JS_KEYWORDS
        };
        let mut out: BTreeMap<String, Use> = BTreeMap::new();
        let mut i = span.start.min(end);
        while i < end {
            if !is_ident(b[i]) || b[i].is_ascii_digit() {
                i += 1;
                continue;
            }
            let s = i;
            while i < end && is_ident(b[i]) {
                i += 1;
            }
            let after_dot = s > 0 && b[s - 1] == b'.';
            let word = &code[s..i];
            if after_dot || keywords.contains(&word) {
                continue;
            }
            // `a.b`, `a?.b`
            let mut j = i;
            if b.get(j) == Some(&b'?') && b.get(j + 1) == Some(&b'.') {
                j += 1;
            }
            let attr = if b.get(j) == Some(&b'.') {
                let a0 = j + 1;
                let mut a1 = a0;
                while a1 < b.len() && is_ident(b[a1]) {
                    a1 += 1;
                }
                (a1 > a0).then(|| (&code[a0..a1], a1))
            } else {
                None
            };
            // Look up before allocating: most identifiers repeat.
            if !out.contains_key(word) {
                out.insert(
                    word.to_string(),
                    Use {
                        handoff_only: true,
                        ..Use::default()
                    },
                );
            }
            let Some(entry) = out.get_mut(word) else {
                continue;
            };
            match attr {
                Some((a, a_end)) => {
                    let called = code[a_end..].trim_start().starts_with('(');
                    if !(called && HANDOFF_METHODS.contains(&a)) {
                        entry.handoff_only = false;
                    }
                    if !entry.attrs.contains(a) {
                        entry.attrs.insert(a.to_string());
                    }
                }
                None => {
                    entry.bare = true;
                    entry.handoff_only = false;
                }
            }
        }
        out
    }

    /// The span of the block that starts on line `line`: a Python `def`/`class` (skipping
    /// decorators) through its indented body, or a JavaScript function or method through
    /// its closing brace. `None` when no block starts there.
    pub fn block_at(&self, line: u32) -> Option<Span> {
        let start = self.sc.line_start(line)?;
        if self.python {
            py_block(&self.sc.code, start)
        } else {
            js_block(&self.sc.code, start)
        }
    }
}

/// Text of 1-based line `line` of the blanked code, without its newline.
fn line_of(sc: &Scanned, line: u32) -> &str {
    let Some(start) = sc.line_start(line) else {
        return "";
    };
    let rest = &sc.code[start..];
    &rest[..rest.find('\n').unwrap_or(rest.len())]
}

/// Lines of `def name` / `function name` / `name = (…) =>` / `name = function` anywhere.
fn nested_functions(sc: &Scanned, python: bool) -> HashMap<String, Vec<u32>> {
    let mut out: HashMap<String, Vec<u32>> = HashMap::new();
    let keyword = if python { "def" } else { "function" };
    for p in sc.words(keyword) {
        let rest = sc.code[p + keyword.len()..].trim_start_matches(['*', ' ', '\t']);
        if let Some(name) = first_ident(rest) {
            if rest.starts_with(name) {
                out.entry(name.to_string()).or_default().push(sc.line(p));
            }
        }
    }
    if !python {
        for (at, line) in lines_with_offsets(&sc.code) {
            let t = line.trim_start();
            let t = ["const ", "let ", "var "]
                .iter()
                .find_map(|k| t.strip_prefix(k))
                .unwrap_or("");
            let Some(name) = first_ident(t) else { continue };
            let value = t[name.len()..].trim_start();
            let Some(value) = value.strip_prefix('=') else {
                continue;
            };
            let value = value.trim_start();
            let value = value.strip_prefix("async").map_or(value, str::trim_start);
            if value.starts_with('(') || value.starts_with("function") || value.contains("=>") {
                out.entry(name.to_string())
                    .or_default()
                    .push(sc.line(at + line.len() - line.trim_start().len()));
            }
        }
    }
    out
}

/// Identifiers of `s`, in order.
fn idents(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$'))
        .filter(|w| !w.is_empty() && !w.as_bytes()[0].is_ascii_digit())
}

fn first_ident(s: &str) -> Option<&str> {
    let s = s.trim_start();
    let end = s.bytes().position(|b| !is_ident(b)).unwrap_or(s.len());
    let w = &s[..end];
    (!w.is_empty() && !w.as_bytes()[0].is_ascii_digit()).then_some(w)
}

/// Lines of `code` with their byte offsets.
fn lines_with_offsets(code: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut off = 0;
    code.split_inclusive('\n').map(move |l| {
        let at = off;
        off += l.len();
        (at, l.trim_end_matches(['\n', '\r']))
    })
}

fn depth_delta(line: &str, depth: &mut i64) {
    for b in line.bytes() {
        match b {
            b'(' | b'[' | b'{' => *depth += 1,
            b')' | b']' | b'}' => *depth = (*depth - 1).max(0),
            _ => {}
        }
    }
}

/// Groups lines into statements: `starts(line, depth_at_start)` says whether a line opens a
/// new one. Returns `(start, end)` byte spans.
fn cut(code: &str, starts: impl Fn(&str, i64) -> bool) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    let mut depth = 0i64;
    let mut decorated = false;
    for (at, line) in lines_with_offsets(code) {
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        let col0 = !line.starts_with([' ', '\t']);
        let forced = col0 && starts_declaration(t);
        if forced {
            depth = 0;
        }
        let new = col0 && !decorated && (forced || starts(t, depth));
        if new || out.is_empty() {
            out.push((at, at + line.len()));
        } else if let Some(last) = out.last_mut() {
            last.1 = at + line.len();
        }
        if col0 && depth == 0 {
            decorated = t.starts_with('@') && !t.contains(" def ") && !t.contains(" class ");
        }
        depth_delta(line, &mut depth);
    }
    out
}

fn starts_declaration(t: &str) -> bool {
    [
        "export ",
        "import ",
        "const ",
        "let ",
        "var ",
        "function ",
        "async function",
        "class ",
        "module.exports",
        "exports.",
        "def ",
        "async def ",
    ]
    .iter()
    .any(|k| t.starts_with(k))
}

/// Top-level statements of a file, with the names each defines.
fn chunks(sc: &Scanned, python: bool) -> Vec<Chunk> {
    let spans = if python {
        cut(&sc.code, |t, depth| {
            let cont = ["else", "elif", "except", "finally"]
                .iter()
                .any(|k| first_ident(t) == Some(k));
            depth == 0 && !cont && !t.starts_with([')', ']', '}'])
        })
    } else {
        cut(&sc.code, |t, depth| {
            depth == 0
                && !t.starts_with([
                    ')', ']', '}', '.', '?', ':', ',', '+', '-', '*', '/', '|', '&', '>', '=',
                ])
        })
    };
    spans
        .into_iter()
        .map(|(s, e)| {
            let text = &sc.code[s..e];
            let (body, header) = skip_decorators(text);
            let (defines, augments) = if python {
                py_names(header, text)
            } else {
                js_names(header)
            };
            Chunk {
                span: Span { start: s, end: e },
                body: s + body,
                defines,
                augments,
            }
        })
        .collect()
}

/// Offset of the first line that is not a decorator, and the text from there.
fn skip_decorators(text: &str) -> (usize, &str) {
    let mut off = 0;
    let mut depth = 0i64;
    for (at, line) in lines_with_offsets(text) {
        let t = line.trim_start();
        if depth == 0 && !t.starts_with('@') && !t.is_empty() {
            off = at;
            return (off, &text[off..]);
        }
        depth_delta(line, &mut depth);
        off = at + line.len();
    }
    (off.min(text.len()), &text[off.min(text.len())..])
}

/// Names bound by targets `a`, `a, b`, `{a, b: c}`, `[a, b]`, `a: T`; dotted or indexed
/// targets augment their head instead.
fn targets(lhs: &str, defines: &mut Vec<String>, augments: &mut Vec<String>) {
    let lhs = lhs.trim();
    if let Some(head) = first_ident(lhs) {
        let rest = lhs[lhs.find(head).map_or(0, |p| p + head.len())..].trim_start();
        if rest.starts_with('.') || rest.starts_with('[') {
            augments.push(head.to_string());
            return;
        }
    }
    for part in lhs.split(',') {
        let part = part.trim().trim_start_matches(['{', '[', '(', '.']);
        // `b: c` in a JS destructuring binds `c`; `a: T` in Python annotates `a`.
        let name = match part.split_once(':') {
            Some((_, local)) if lhs.starts_with('{') => local,
            Some((n, _)) => n,
            None => part,
        };
        let name = name.split('=').next().unwrap_or(name);
        if let Some(n) = first_ident(name) {
            if n.len() == name.trim().trim_end_matches(['}', ']', ')']).trim().len() {
                defines.push(n.to_string());
            }
        }
    }
}

/// Position of the first assignment `=` at bracket depth 0 (not `==`, `=>`, `<=` …), and
/// whether it is augmented (`+=`).
fn assignment(s: &str) -> Option<(usize, bool)> {
    let b = s.as_bytes();
    let mut depth = 0i64;
    for i in 0..b.len() {
        match b[i] {
            b'(' | b'[' | b'{' => depth += 1,
            b')' | b']' | b'}' => depth -= 1,
            b'\n' if depth == 0 => return None,
            b'=' if depth == 0 => {
                let next = b.get(i + 1).copied();
                let prev = if i > 0 { b[i - 1] } else { b' ' };
                if next == Some(b'=')
                    || next == Some(b'>')
                    || matches!(prev, b'=' | b'!' | b'<' | b'>')
                {
                    continue;
                }
                let aug = matches!(
                    prev,
                    b'+' | b'-' | b'*' | b'/' | b'%' | b'|' | b'&' | b'^' | b'?' | b':'
                );
                return Some((i, aug));
            }
            _ => {}
        }
    }
    None
}

fn js_names(header: &str) -> (Vec<String>, Vec<String>) {
    let mut defines = Vec::new();
    let mut augments = Vec::new();
    let mut t = header.trim_start();
    if let Some(r) = t.strip_prefix("module.exports") {
        let r = r.trim_start();
        if let Some(r) = r.strip_prefix('.') {
            defines.extend(first_ident(r).map(str::to_string));
        } else {
            defines.push("default".to_string());
        }
        return (defines, augments);
    }
    if let Some(r) = t.strip_prefix("exports.") {
        defines.extend(first_ident(r).map(str::to_string));
        return (defines, augments);
    }
    if let Some(r) = t.strip_prefix("export ") {
        t = r.trim_start();
        if let Some(r) = t.strip_prefix("default") {
            defines.push("default".to_string());
            t = r.trim_start();
        } else if t.starts_with('{') {
            let close = t.find('}').unwrap_or(t.len());
            if t[..close].contains(" as default") {
                defines.push("default".to_string());
            }
            return (defines, augments);
        }
    }
    for kw in ["declare ", "abstract ", "async "] {
        if let Some(r) = t.strip_prefix(kw) {
            t = r.trim_start();
        }
    }
    for kw in [
        "function",
        "class ",
        "interface ",
        "type ",
        "enum ",
        "namespace ",
    ] {
        if let Some(r) = t.strip_prefix(kw) {
            let r = r.trim_start().trim_start_matches('*');
            defines.extend(first_ident(r).map(str::to_string));
            return (defines, augments);
        }
    }
    for kw in ["const ", "let ", "var "] {
        if let Some(r) = t.strip_prefix(kw) {
            let lhs = assignment(r).map_or(r, |(i, _)| &r[..i]);
            let lhs = if lhs.trim_start().starts_with(['{', '[']) {
                lhs
            } else {
                lhs.split(':').next().unwrap_or(lhs)
            };
            targets(lhs, &mut defines, &mut augments);
            return (defines, augments);
        }
    }
    if t.starts_with("import ") {
        return (defines, augments);
    }
    if let Some(head) = first_ident(t) {
        let rest = t[head.len()..].trim_start();
        if rest.starts_with('.') || rest.starts_with('[') {
            augments.push(head.to_string());
        } else if let Some((i, _)) = assignment(t) {
            targets(&t[..i], &mut defines, &mut augments);
        }
    }
    (defines, augments)
}

fn py_names(header: &str, whole: &str) -> (Vec<String>, Vec<String>) {
    let mut defines = Vec::new();
    let mut augments = Vec::new();
    let t = header.trim_start();
    let t = t.strip_prefix("async ").unwrap_or(t);
    for kw in ["def ", "class "] {
        if let Some(r) = t.strip_prefix(kw) {
            defines.extend(first_ident(r).map(str::to_string));
            return (defines, augments);
        }
    }
    let compound = ["if", "try", "with", "for", "while"]
        .iter()
        .any(|k| first_ident(t) == Some(k));
    if compound {
        // Definitions inside `if TYPE_CHECKING:`, `try: … except ImportError:` and the like.
        for line in whole.lines().skip(1) {
            let l = line.trim_start();
            let l = l.strip_prefix("async ").unwrap_or(l);
            if let Some(r) = l.strip_prefix("def ").or_else(|| l.strip_prefix("class ")) {
                defines.extend(first_ident(r).map(str::to_string));
            } else if let Some((i, false)) = assignment(l) {
                targets(&l[..i], &mut defines, &mut augments);
            }
        }
        defines.sort();
        defines.dedup();
        return (defines, augments);
    }
    if t.starts_with("import ") || t.starts_with("from ") {
        return (defines, augments);
    }
    match assignment(t) {
        Some((i, false)) => {
            // `a = b = value`: every target but the value.
            let mut rest = t;
            let mut at = i;
            loop {
                targets(&rest[..at], &mut defines, &mut augments);
                rest = &rest[at + 1..];
                match assignment(rest) {
                    Some((j, false)) => at = j,
                    _ => break,
                }
            }
        }
        Some((i, true)) => {
            let lhs = t[..i].trim_end_matches(|c: char| !c.is_ascii_alphanumeric() && c != '_');
            augments.extend(first_ident(lhs).map(str::to_string));
        }
        None => {
            if let Some(head) = first_ident(t) {
                if t[head.len()..].trim_start().starts_with(['.', '[']) {
                    augments.push(head.to_string());
                }
            }
        }
    }
    (defines, augments)
}

/// Python: from the line at `start` (a decorator or the `def`/`class` line) to the end of
/// the indented body.
fn py_block(code: &str, start: usize) -> Option<Span> {
    let mut def_indent: Option<usize> = None;
    let mut header_done = false;
    let mut depth = 0i64;
    let mut end = start;
    for (at, line) in lines_with_offsets(&code[start..]) {
        let abs = start + at;
        let t = line.trim_start();
        if t.is_empty() {
            continue;
        }
        let indent = line.len() - t.len();
        match def_indent {
            None => {
                let kw = t.strip_prefix("async ").unwrap_or(t);
                if kw.starts_with("def ") || kw.starts_with("class ") {
                    def_indent = Some(indent);
                } else if !(t.starts_with('@') || depth > 0) {
                    return None;
                }
            }
            Some(base) if header_done => {
                if depth == 0 && indent <= base && !t.starts_with([')', ']', '}']) {
                    break;
                }
            }
            Some(_) => {}
        }
        depth_delta(line, &mut depth);
        end = abs + line.len();
        if def_indent.is_some() && depth == 0 {
            header_done = true;
        }
    }
    def_indent.map(|_| Span { start, end })
}

/// JavaScript: from `start` to the brace that closes the first block opened outside
/// parentheses (a function or method body); an arrow with an expression body ends at the
/// end of its statement.
fn js_block(code: &str, start: usize) -> Option<Span> {
    let b = code.as_bytes();
    let limit = (start + 200_000).min(b.len());
    let mut paren = 0i64;
    let mut i = start;
    while i < limit {
        match b[i] {
            b'(' | b'[' => paren += 1,
            b')' | b']' => paren -= 1,
            b'{' if paren == 0 => {
                let mut depth = 0i64;
                let mut j = i;
                while j < limit {
                    match b[j] {
                        b'{' => depth += 1,
                        b'}' => {
                            depth -= 1;
                            if depth == 0 {
                                return Some(Span { start, end: j + 1 });
                            }
                        }
                        _ => {}
                    }
                    j += 1;
                }
                return Some(Span { start, end: limit });
            }
            b';' if paren == 0 => return Some(Span { start, end: i + 1 }),
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
#[path = "outline_tests.rs"]
mod tests;
