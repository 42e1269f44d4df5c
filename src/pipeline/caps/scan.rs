//! Cheap lexical scanning of source text for the detectors.
//!
//! The parsers give structure (imports, functions, routes); the detectors still need a few
//! facts the structure does not carry (`new Queue('email')`, `process.env.X`, SQL literals).
//! A full second parse would be wasteful, and naive substring search hits comments and string
//! contents. [`Scanned`] is the middle way: one linear pass that blanks comments *and* the
//! contents of string literals (keeping quotes and byte offsets), and records every literal
//! separately, so code patterns are searched in `code` and arguments are read from `lits`.

use crate::pipeline::model::Language;
use std::sync::{LazyLock, OnceLock};

/// A string literal found in source text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lit {
    /// Byte offset of the opening quote (after any Python prefix such as `f` or `rb`).
    pub start: usize,
    /// Byte offset just after the closing quote.
    pub end: usize,
    /// Content between the quotes, escapes left as written.
    pub value: String,
    /// True for JS template literals with `${…}` and Python f-strings: the value is built at
    /// run time, which matters for SQL injection risks.
    pub dynamic: bool,
}

/// The end of a block comment, searched for once per comment: a searcher built per search
/// cost more than the search on a repository's many short comments.
static COMMENT_END: LazyLock<memchr::memmem::Finder<'static>> =
    LazyLock::new(|| memchr::memmem::Finder::new("*/"));

/// Comment markers counted as TODOs.
const TODO_MARKERS: [&str; 4] = ["TODO", "FIXME", "HACK", "XXX"];

/// Whether a comment carries one of [`TODO_MARKERS`]. The searchers are built once, as for
/// [`COMMENT_END`].
fn has_todo_marker(body: &str) -> bool {
    static FINDERS: LazyLock<Vec<memchr::memmem::Finder<'static>>> = LazyLock::new(|| {
        TODO_MARKERS
            .iter()
            .map(|m| memchr::memmem::Finder::new(m.as_bytes()))
            .collect()
    });
    FINDERS.iter().any(|f| f.find(body.as_bytes()).is_some())
}

/// Source text with comments and string contents blanked, plus the literals and line index.
#[derive(Debug, Clone)]
pub struct Scanned {
    /// Same length as the input; comments and literal contents replaced by spaces (newlines
    /// kept), quotes kept.
    pub code: String,
    /// Every string literal, ordered by `start`.
    pub lits: Vec<Lit>,
    /// How many comments there are (their text is not kept: at scale comments are a large
    /// part of the source, and only their markers are ever read).
    pub comments: u32,
    /// How many comments carry a TODO, FIXME, HACK or XXX marker.
    pub todo_comments: u32,
    /// Byte offset of each line's start (u32: a scanned file is far below 4 GiB).
    line_starts: Vec<u32>,
    /// Every call site of `code`, built on the first [`Scanned::calls`] or
    /// [`Scanned::method_calls`].
    call_sites: OnceLock<CallSites>,
}

/// The call sites of a scanned file: every `(` preceded (blanks aside) by a run of identifier
/// characters and dots, such as `mongoose.model (`.
///
/// The detectors ask each file for dozens of callees; searching the text once per callee was
/// most of their time (one `memmem` pass each). One pass over the `(`s finds every site, and
/// sorting the sites by a hash of their name makes each question a binary search. The answers
/// are exactly the search's: a callee matches a site when it is the whole run (so neither
/// `xmodel(` nor `a.model(` is a call of `model`), and a method when it is the run's last
/// segment after a dot.
#[derive(Debug, Clone, Default)]
struct CallSites {
    /// `(hash of the run, [start, end, open])` of each run (`open` is just after the `(`), by
    /// hash, then by position.
    by_callee: Vec<(u64, [usize; 3])>,
    /// `(hash of the segment, [dot, end, open])` of each run that has a dot (`dot` is its last
    /// one; the segment is what follows it), by hash, then by position.
    by_method: Vec<(u64, [usize; 3])>,
}

impl CallSites {
    fn of(code: &str) -> Self {
        let b = code.as_bytes();
        let mut sites = CallSites::default();
        for q in memchr::memchr_iter(b'(', b) {
            let mut end = q;
            while end > 0 && b[end - 1].is_ascii_whitespace() {
                end -= 1;
            }
            let mut start = end;
            while start > 0 && is_callee_byte(b[start - 1]) {
                start -= 1;
            }
            if start == end {
                continue;
            }
            let run = &b[start..end];
            sites.by_callee.push((name_hash(run), [start, end, q + 1]));
            if let Some(dot) = memchr::memrchr(b'.', run).map(|d| start + d) {
                if dot + 1 < end {
                    let segment = &b[dot + 1..end];
                    sites
                        .by_method
                        .push((name_hash(segment), [dot, end, q + 1]));
                }
            }
        }
        // Integers sort fast; sorting by the names themselves was most of the cost.
        sites.by_callee.sort_unstable();
        sites.by_method.sort_unstable();
        sites
    }

    /// The sites of `list` whose name (the text from `skip` bytes after a site's first offset
    /// to its end) is `name`, in position order.
    fn named<'a>(
        list: &'a [(u64, [usize; 3])],
        b: &'a [u8],
        skip: usize,
        name: &'a [u8],
    ) -> impl Iterator<Item = [usize; 3]> + 'a {
        let hash = name_hash(name);
        let from = list.partition_point(|x| x.0 < hash);
        list[from..]
            .iter()
            .take_while(move |x| x.0 == hash)
            .filter(move |x| &b[x.1[0] + skip..x.1[1]] == name)
            .map(|x| x.1)
    }
}

/// FNV-1a of a callee name: names are short, and any fixed function will do, as a match is
/// always checked against the text.
fn name_hash(name: &[u8]) -> u64 {
    name.iter().fold(0xcbf2_9ce4_8422_2325, |h, &c| {
        (h ^ u64::from(c)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Bytes of a callee run: identifier characters and the dots between them.
fn is_callee_byte(b: u8) -> bool {
    is_ident(b) || b == b'.'
}

impl Scanned {
    /// Scans `text` with the comment and string rules of `language` (JS rules for `Other`).
    pub fn new(text: &str, language: Language) -> Self {
        let python = language == Language::Py;
        let bytes = text.as_bytes();
        let mut code = bytes.to_vec();
        let mut lits = Vec::new();
        let mut comments = 0u32;
        let mut todo_comments = 0u32;
        let mut comment = |body: &str| {
            comments += 1;
            if has_todo_marker(body) {
                todo_comments += 1;
            }
        };
        let line_starts: Vec<u32> = std::iter::once(0)
            .chain(memchr::memchr_iter(b'\n', bytes).map(|i| (i + 1) as u32))
            .collect();
        let blank = |code: &mut Vec<u8>, from: usize, to: usize| {
            code[from..to].fill(b' ');
            for nl in memchr::memchr_iter(b'\n', &bytes[from..to]) {
                code[from + nl] = b'\n';
            }
        };
        // Where the next byte that can open a comment or a string is, at or after `from`: the
        // bytes between are code, and skipped by a SIMD search instead of one test at a time.
        // JS has four such bytes; the backtick's next position is kept, as it is rare.
        let mut next_tick = 0usize;
        let mut next_special = |from: usize| -> usize {
            let Some(rest) = bytes.get(from..) else {
                return bytes.len();
            };
            let at = |p: Option<usize>| p.map_or(bytes.len(), |p| from + p);
            if python {
                return at(memchr::memchr3(b'#', b'"', b'\'', rest));
            }
            if next_tick < from {
                next_tick = at(memchr::memchr(b'`', rest));
            }
            at(memchr::memchr3(b'/', b'"', b'\'', rest)).min(next_tick)
        };
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if (python && b == b'#') || (!python && b == b'/' && bytes.get(i + 1) == Some(&b'/')) {
                let end = memchr_nl(bytes, i);
                comment(&text[i..end]);
                blank(&mut code, i, end);
                i = end;
            } else if !python && b == b'/' && bytes.get(i + 1) == Some(&b'*') {
                let end = COMMENT_END
                    .find(&bytes[i + 2..])
                    .map_or(bytes.len(), |e| i + 2 + e + 2);
                comment(&text[i..end]);
                blank(&mut code, i, end);
                i = end;
            } else if b == b'"' || b == b'\'' || (!python && b == b'`') {
                let prefix = if python { py_prefix(bytes, i) } else { "" };
                let triple = python && bytes.get(i + 1) == Some(&b) && bytes.get(i + 2) == Some(&b);
                let (content_start, end, closed_len) = if triple {
                    let close = if b == b'"' { "\"\"\"" } else { "'''" };
                    let e = find_from(text, i + 3, close).unwrap_or(bytes.len());
                    (i + 3, e, 3)
                } else {
                    let e = string_end(bytes, i + 1, b, b == b'`');
                    (i + 1, e, 1)
                };
                let value = text.get(content_start..end).unwrap_or("").to_string();
                let dynamic = if b == b'`' {
                    value.contains("${")
                } else {
                    prefix.contains(['f', 'F']) && value.contains('{')
                };
                let lit_end = (end + closed_len).min(bytes.len());
                blank(&mut code, content_start, end);
                lits.push(Lit {
                    start: i,
                    end: lit_end,
                    value,
                    dynamic,
                });
                i = lit_end;
            } else {
                i = next_special(i + 1);
            }
        }
        // Blanking replaced whole UTF-8 sequences byte by byte with ASCII spaces, and every
        // boundary we cut at is an ASCII delimiter, so the result stays valid UTF-8.
        let code = String::from_utf8(code).unwrap_or_else(|e| {
            String::from_utf8_lossy(e.as_bytes()).into_owned() // unreachable by construction
        });
        Self {
            code,
            lits,
            comments,
            todo_comments,
            line_starts,
            call_sites: OnceLock::new(),
        }
    }

    /// 1-based line of a byte offset.
    pub fn line(&self, pos: usize) -> u32 {
        self.line_starts.partition_point(|&s| s as usize <= pos) as u32
    }

    /// Byte offset where 1-based line `line` starts, `None` past the end.
    pub fn line_start(&self, line: u32) -> Option<usize> {
        self.line_starts
            .get(line.checked_sub(1)? as usize)
            .map(|&s| s as usize)
            .filter(|&s| s <= self.code.len())
    }

    /// The literal whose opening quote is at `pos`.
    pub fn lit_at(&self, pos: usize) -> Option<&Lit> {
        self.lits
            .binary_search_by_key(&pos, |l| l.start)
            .ok()
            .map(|i| &self.lits[i])
    }

    /// The literal that starts at the first non-blank byte at or after `pos` (skipping a
    /// Python string prefix such as `f` or `r`).
    pub fn lit_after(&self, pos: usize) -> Option<&Lit> {
        let b = self.code.as_bytes();
        let mut p = skip_ws(b, pos);
        while p < b.len() && matches!(b[p], b'f' | b'r' | b'b' | b'u' | b'F' | b'R' | b'B' | b'U') {
            p += 1;
        }
        self.lit_at(p)
    }

    /// Every call to `callee` (which may be dotted, such as `mongoose.model`) as (offset of
    /// the callee, offset just after the `(`). The callee must not be preceded by an
    /// identifier character or a dot, so `foo.mongoose.model(` and `xmodel(` do not match.
    pub fn calls(&self, callee: &str) -> Vec<(usize, usize)> {
        if callee.is_empty() || !callee.bytes().all(is_callee_byte) {
            return self.calls_by_search(callee);
        }
        let sites = self.call_sites.get_or_init(|| CallSites::of(&self.code));
        CallSites::named(&sites.by_callee, self.code.as_bytes(), 0, callee.as_bytes())
            .map(|[start, _, open]| (start, open))
            .collect()
    }

    /// [`Scanned::calls`] by searching the text for `callee` (for a callee that is not a run
    /// of identifier characters and dots, which the call sites cannot hold).
    fn calls_by_search(&self, callee: &str) -> Vec<(usize, usize)> {
        let b = self.code.as_bytes();
        let mut out = Vec::new();
        let mut from = 0;
        while let Some(p) = find_from(&self.code, from, callee) {
            from = p + 1;
            if p > 0 && (is_ident(b[p - 1]) || b[p - 1] == b'.') {
                continue;
            }
            let after = p + callee.len();
            if after < b.len() && is_ident(b[after]) {
                continue;
            }
            let q = skip_ws(b, after);
            if b.get(q) == Some(&b'(') {
                out.push((p, q + 1));
            }
        }
        out
    }

    /// Calls of `.method(`: the receiver identifier (last segment before the dot; empty for
    /// chained calls such as `f().method(`) and the position after `(`.
    pub fn method_calls(&self, method: &str) -> Vec<(String, usize)> {
        if method.is_empty() || !method.bytes().all(is_ident) {
            return self.method_calls_by_search(method);
        }
        let b = self.code.as_bytes();
        let sites = self.call_sites.get_or_init(|| CallSites::of(&self.code));
        CallSites::named(&sites.by_method, b, 1, method.as_bytes())
            .map(|[dot, _, open]| {
                let mut s = dot;
                while s > 0 && is_ident(b[s - 1]) {
                    s -= 1;
                }
                (self.code[s..dot].to_string(), open)
            })
            .collect()
    }

    /// [`Scanned::method_calls`] by searching the text for `.method` (for a method name that is
    /// not an identifier).
    fn method_calls_by_search(&self, method: &str) -> Vec<(String, usize)> {
        let b = self.code.as_bytes();
        let pat = format!(".{method}");
        let mut out = Vec::new();
        let mut from = 0;
        while let Some(p) = find_from(&self.code, from, &pat) {
            from = p + 1;
            let after = p + pat.len();
            if after < b.len() && is_ident(b[after]) {
                continue;
            }
            let q = skip_ws(b, after);
            if b.get(q) != Some(&b'(') {
                continue;
            }
            let mut s = p;
            while s > 0 && is_ident(b[s - 1]) {
                s -= 1;
            }
            out.push((self.code[s..p].to_string(), q + 1));
        }
        out
    }

    /// Spans of the top-level arguments of the call whose `(` ends just before `open`.
    /// Bounded to 20 000 bytes so a stray paren cannot make a scan quadratic.
    pub fn args(&self, open: usize) -> Vec<(usize, usize)> {
        let b = self.code.as_bytes();
        let limit = (open + 20_000).min(b.len());
        let mut depth = 0usize;
        let mut start = open;
        let mut out = Vec::new();
        let mut i = open;
        while i < limit {
            match b[i] {
                b'(' | b'[' | b'{' => depth += 1,
                b')' | b']' | b'}' if depth > 0 => depth -= 1,
                b')' | b']' | b'}' => {
                    if !self.code[start..i].trim().is_empty() {
                        out.push((start, i));
                    }
                    return out;
                }
                b',' if depth == 0 => {
                    out.push((start, i));
                    start = i + 1;
                }
                _ => {}
            }
            i += 1;
        }
        out
    }

    /// The literal that is the whole (trimmed) argument `span`, if it is one.
    pub fn arg_lit(&self, span: (usize, usize)) -> Option<&Lit> {
        let lit = self.lit_after(span.0)?;
        self.code
            .get(lit.end..span.1)?
            .trim()
            .is_empty()
            .then_some(lit)
    }

    /// The value of keyword argument `name=` (Python) or object key `name:` (JS, also inside
    /// an options object) anywhere in the call's arguments, when it is a literal.
    pub fn kwarg_lit(&self, open: usize, name: &str) -> Option<&Lit> {
        let end = self.args(open).last().map_or(open, |a| a.1);
        let b = self.code.as_bytes();
        let mut from = open;
        while let Some(p) = find_from(&self.code[..end], from, name) {
            from = p + 1;
            if p > 0 && (is_ident(b[p - 1]) || b[p - 1] == b'.') {
                continue;
            }
            let q = skip_ws(b, p + name.len());
            if q < end && (b[q] == b'=' || b[q] == b':') && b.get(q + 1) != Some(&b'=') {
                return self.lit_after(q + 1);
            }
        }
        None
    }

    /// Identifier being assigned just before `pos` (`const x = new Queue(` gives `x`).
    pub fn assigned_ident(&self, pos: usize) -> Option<String> {
        let b = self.code.as_bytes();
        let mut p = pos;
        while p > 0 && b[p - 1].is_ascii_whitespace() && b[p - 1] != b'\n' {
            p -= 1;
        }
        if p == 0 || b[p - 1] != b'=' {
            return None;
        }
        p -= 1;
        if p > 0 && matches!(b[p - 1], b'=' | b'!' | b'<' | b'>') {
            return None;
        }
        while p > 0 && b[p - 1].is_ascii_whitespace() {
            p -= 1;
        }
        // Skip a TS type annotation `x: Queue =`.
        let line_start = self.code[..p].rfind('\n').map_or(0, |i| i + 1);
        let segment = &self.code[line_start..p];
        let segment = segment.split(':').next().unwrap_or(segment).trim_end();
        let end = line_start + segment.len();
        let mut s = end;
        while s > 0 && is_ident(b[s - 1]) {
            s -= 1;
        }
        (s < end).then(|| self.code[s..end].to_string())
    }

    /// True when the word immediately before `pos` (skipping blanks) is `word`.
    pub fn preceded_by_word(&self, pos: usize, word: &str) -> bool {
        let b = self.code.as_bytes();
        let mut p = pos;
        while p > 0 && b[p - 1].is_ascii_whitespace() {
            p -= 1;
        }
        p >= word.len()
            && self.code.get(p - word.len()..p) == Some(word)
            && (p == word.len() || !is_ident(b[p - word.len() - 1]))
    }

    /// Byte offsets of `word` as a whole identifier in the blanked code.
    pub fn words(&self, word: &str) -> Vec<usize> {
        let b = self.code.as_bytes();
        let mut out = Vec::new();
        let mut from = 0;
        while let Some(p) = find_from(&self.code, from, word) {
            from = p + 1;
            let before_ok = p == 0 || !is_ident(b[p - 1]);
            let after = p + word.len();
            let after_ok = after >= b.len() || !is_ident(b[after]);
            if before_ok && after_ok {
                out.push(p);
            }
        }
        out
    }

    /// The identifier starting at the first non-blank byte at or after `pos`.
    pub fn ident_after(&self, pos: usize) -> Option<&str> {
        let b = self.code.as_bytes();
        let s = skip_ws(b, pos);
        let mut e = s;
        while e < b.len() && is_ident(b[e]) {
            e += 1;
        }
        (e > s).then(|| &self.code[s..e])
    }
}

/// True for bytes that can be part of an identifier (ASCII letters, digits, `_`, `$`).
pub fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$'
}

/// True when `s` is a non-empty identifier.
pub fn is_identifier(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_ident) && !s.as_bytes()[0].is_ascii_digit()
}

fn skip_ws(b: &[u8], mut p: usize) -> usize {
    while p < b.len() && b[p].is_ascii_whitespace() {
        p += 1;
    }
    p
}

fn memchr_nl(b: &[u8], from: usize) -> usize {
    memchr::memchr(b'\n', &b[from..]).map_or(b.len(), |p| from + p)
}

/// First occurrence of `needle` at or after `from`. `from` must be a char boundary (it is
/// when it follows an ASCII match, which is how every caller advances).
pub fn find_from(hay: &str, from: usize, needle: &str) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    // memmem (SIMD) rather than `str::find`: the detectors search every file for dozens of
    // needles, and this was their hottest loop. A byte match of a UTF-8 needle in UTF-8 text
    // always starts on a char boundary, so the result is the same.
    memchr::memmem::find(hay.get(from..)?.as_bytes(), needle.as_bytes()).map(|p| p + from)
}

/// End (offset of the closing quote) of a single-line string, or of a template literal which
/// may span lines. An unterminated string ends at the newline, which bounds the damage a
/// misread quote (say inside a regex literal) can do.
fn string_end(b: &[u8], mut i: usize, quote: u8, multiline: bool) -> usize {
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'\n' if !multiline => return i,
            c if c == quote => return i,
            _ => i += 1,
        }
    }
    b.len()
}

fn py_prefix(b: &[u8], quote: usize) -> &str {
    let mut s = quote;
    while s > 0 && quote - s < 2 && b[s - 1].is_ascii_alphabetic() {
        s -= 1;
    }
    if s > 0 && is_ident(b[s - 1]) {
        return "";
    }
    std::str::from_utf8(&b[s..quote]).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blanks_comments_and_string_contents_but_keeps_offsets() {
        let src = "const q = new Queue('email'); // new Worker('x')\n/* eval( */ x.add('job', 1)";
        let s = Scanned::new(src, Language::Ts);
        assert_eq!(s.code.len(), src.len());
        assert!(!s.code.contains("Worker"));
        assert!(!s.code.contains("eval"));
        assert!(!s.code.contains("email"));
        assert_eq!(s.lits.len(), 2);
        let open = s.calls("Queue")[0].1;
        assert_eq!(s.lit_after(open).map(|l| l.value.as_str()), Some("email"));
        assert!(s.preceded_by_word(src.find("Queue").unwrap_or(0), "new"));
        assert_eq!(
            s.assigned_ident(src.find("new").unwrap_or(0)).as_deref(),
            Some("q")
        );
        let calls = s.method_calls("add");
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].0, "x");
        assert_eq!(s.line(calls[0].1), 2);
        assert_eq!((s.comments, s.todo_comments), (2, 0));
    }

    #[test]
    fn every_todo_marker_counts_once_per_comment() {
        let src = "// TODO a\n/* FIXME\n XXX */\nx = 1; // HACK\n// todo is not a marker\n";
        let s = Scanned::new(src, Language::Ts);
        assert_eq!((s.comments, s.todo_comments), (4, 3));
        for m in TODO_MARKERS {
            assert!(has_todo_marker(&format!("# a {m}: b")), "{m}");
            assert!(
                !has_todo_marker(&format!("# a {}: b", m.to_lowercase())),
                "{m}"
            );
        }
    }

    #[test]
    fn python_prefixes_triple_quotes_and_kwargs() {
        let src = "# TODO: x\nq = f\"SELECT * FROM t WHERE id={id}\"\ndoc = '''a\n'b'\n'''\napp.include_router(items.router, prefix=\"/items\")\n";
        let s = Scanned::new(src, Language::Py);
        assert_eq!(s.lits.len(), 3);
        assert!(s.lits[0].dynamic);
        assert!(!s.lits[1].dynamic);
        assert_eq!(s.lits[1].value, "a\n'b'\n");
        let open = s.calls("app.include_router")[0].1;
        assert_eq!(
            s.kwarg_lit(open, "prefix").map(|l| l.value.as_str()),
            Some("/items")
        );
        let args = s.args(open);
        assert_eq!(args.len(), 2);
        assert_eq!(s.code[args[0].0..args[0].1].trim(), "items.router");
        assert_eq!((s.comments, s.todo_comments), (1, 1));
    }

    #[test]
    fn multibyte_text_around_patterns_does_not_panic() {
        let src = "const é = 1;é new Queue('q'); ключ = 'secretvalue123'; «x».add('y')";
        let s = Scanned::new(src, Language::Js);
        let (at, open) = s.calls("Queue")[0];
        assert!(s.preceded_by_word(at, "new"));
        assert!(!s.preceded_by_word(at - 4, "new"));
        assert_eq!(s.lit_after(open).map(|l| l.value.as_str()), Some("q"));
        assert_eq!(s.method_calls("add").len(), 1);
        assert!(s.assigned_ident(src.find("'secret").unwrap_or(0)).is_none());
    }

    /// The call sites answer exactly what searching the text does, on every fixture file and
    /// on text made to sit on the edges (blanks and newlines before `(`, `?.`, `..`, `$`,
    /// digits, non-ASCII bytes, a run at offset 0, a `(` at the end).
    #[test]
    fn call_sites_answer_as_the_search_does() {
        let edge = "model(a); x.model (b); x .model(c); a?.model\n(d); ..model(e); $q.model(f);\n\
                    mongoose.model(g); foo.mongoose.model(h); é.model(i); 3.model(j); model.x(k);\n\
                    a.b.exec(l); exec  (m); f().exec(n); Queue(o); new Queue (p); (q); model(";
        let mut texts = vec![(edge.to_string(), Language::Js)];
        let mut dirs = vec![std::path::PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures"
        ))];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                let language = match path.extension().and_then(|e| e.to_str()) {
                    Some("py") => Language::Py,
                    Some("js" | "jsx" | "mjs" | "cjs") => Language::Js,
                    Some("ts" | "tsx") => Language::Ts,
                    _ if path.is_dir() => {
                        dirs.push(path);
                        continue;
                    }
                    _ => continue,
                };
                if let Ok(text) = std::fs::read_to_string(&path) {
                    texts.push((text, language));
                }
            }
        }
        assert!(texts.len() > 50, "the fixtures were found: {}", texts.len());
        let callees = [
            "model",
            "mongoose.model",
            "Queue",
            "exec",
            "fetch",
            "open",
            "app.get",
            "router.get",
            "Router",
            "subprocess.run",
            "yaml.load",
            "express",
            "path",
            "os.environ.get",
            "x",
            "require",
            "print",
            "get",
            "use",
            "include_router",
            "FastAPI",
            "Flask",
            "q.model",
        ];
        let (mut calls, mut methods) = (0, 0);
        for (text, language) in &texts {
            let s = Scanned::new(text, *language);
            for c in callees {
                let got = s.calls(c);
                assert_eq!(got, s.calls_by_search(c), "calls({c:?})");
                calls += got.len();
                if !c.contains('.') {
                    let got = s.method_calls(c);
                    assert_eq!(got, s.method_calls_by_search(c), "method_calls({c:?})");
                    methods += got.len();
                }
            }
        }
        // The comparison saw real answers, not only empty ones.
        assert!(
            calls > 100 && methods > 100,
            "{calls} calls, {methods} method calls"
        );
        let s = Scanned::new(edge, Language::Js);
        assert_eq!(s.calls("model").len(), 2, "at offset 0 and at the end");
        assert_eq!(s.method_calls("model").len(), 9);
        assert_eq!(s.method_calls("exec")[1].0, "");
    }

    #[test]
    fn calls_respect_word_boundaries() {
        let s = Scanned::new("xmodel('a'); a.model('b'); model ('c')", Language::Js);
        assert_eq!(s.calls("model").len(), 1);
        assert_eq!(s.words("model").len(), 2);
    }
}
