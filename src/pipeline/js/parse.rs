//! Entry point of JS/TS parsing: content checks, the big-stack threads, and syntax-error
//! recovery around one `oxc_parser` run.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::sync::OnceLock;

use oxc_allocator::Allocator;
use oxc_parser::{ParseOptions, Parser, ParserReturn};
use oxc_span::SourceType;

use super::extract::{extract_program, fallback_from_module_record};
use super::JsError;
use crate::pipeline::model::{FileRecord, FileWarning, Language};

/// Stack given to every parser thread. Measured with `oxc_parser` 0.146 (dependencies at
/// opt-level 1): one level of bracket nesting costs about 1 KB (`((x))`) to 1.7 KB (nested
/// functions and classes), so 512 MiB carries [`MAX_NESTING`] levels of the worst kind with room
/// for nesting the bracket count does not see (`Array<Array<…>>` types, JSX). The memory is
/// reserved address space, not committed: only pages a deep file touches become resident.
/// Sandboxes with an address-space limit must allow this much per parser thread.
pub const PARSE_STACK_BYTES: usize = 512 << 20;

/// Files whose brackets nest deeper than this are not parsed (warning `too_deeply_nested`):
/// beyond it the parser could overflow even a [`PARSE_STACK_BYTES`] stack. Real code stays
/// below a few hundred levels.
pub const MAX_NESTING: usize = 200_000;

/// How many times a fatal syntax error is cut out (its line blanked) before giving up on a tree.
const RECOVERY_ATTEMPTS: usize = 3;

/// Arenas bigger than this are dropped after use instead of being kept for the next file.
const KEEP_ARENA_BYTES: usize = 64 << 20;

thread_local! {
    /// Set on threads created with [`PARSE_STACK_BYTES`] of stack.
    static ON_PARSE_STACK: Cell<bool> = const { Cell::new(false) };
    /// The arena of the last parse on this thread, reused to spare allocations.
    static ARENA: RefCell<Option<Allocator>> = const { RefCell::new(None) };
}

/// The pool of big-stack threads parsing runs on (one thread per core).
///
/// [`parse_js`] called from any other thread hops onto this pool for the one file; callers that
/// parse many files are faster running their whole loop inside `parse_pool().install(...)`
/// (rayon `par_iter` included), where every parse runs inline. `None` when the pool could not
/// be built; parsing then spawns one big-stack thread per file.
pub fn parse_pool() -> Option<&'static rayon::ThreadPool> {
    POOL.get_or_init(|| {
        build_pool(std::thread::available_parallelism().map_or(2, std::num::NonZero::get))
    })
    .as_ref()
}

/// Sets the number of parser threads (default: one per core) before the pool is first used —
/// a sandboxed parser child with an address-space limit wants few. Returns false when the pool
/// already exists (its size is then unchanged).
pub fn init_parse_pool(threads: usize) -> bool {
    let mut created = false;
    POOL.get_or_init(|| {
        created = true;
        build_pool(threads.max(1))
    });
    created
}

static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();

fn build_pool(threads: usize) -> Option<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .stack_size(PARSE_STACK_BYTES)
            .thread_name(|i| format!("provis-jsparse-{i}"))
            .start_handler(|_| ON_PARSE_STACK.with(|c| c.set(true)))
            .build()
            .map_err(|e| {
                let err = JsError::Pool(e);
                tracing::error!(error = %err, threads, "parser thread pool unavailable; spawning per file");
            })
            .ok()
}

/// Language, extension and `oxc` source type of a JS/TS path; `None` for other files.
pub(super) fn classify(path: &str) -> Option<(Language, &'static str, SourceType)> {
    let name = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    let (ext_name, ext) = name.rsplit_once('.')?;
    let is_decl = ext_name.ends_with(".d");
    let js = |st: SourceType| st.with_jsx(true);
    Some(match (ext, is_decl) {
        ("js", _) => (Language::Js, "js", js(SourceType::unambiguous())),
        ("mjs", _) => (Language::Js, "mjs", js(SourceType::mjs())),
        ("cjs", _) => (Language::Js, "cjs", js(SourceType::cjs())),
        ("jsx", _) => (Language::Js, "jsx", SourceType::jsx()),
        ("ts", true) => (Language::Ts, "d.ts", SourceType::d_ts()),
        ("mts", true) => (Language::Ts, "d.mts", SourceType::d_ts()),
        ("cts", true) => (Language::Ts, "d.cts", SourceType::d_ts()),
        ("ts", false) => (Language::Ts, "ts", SourceType::ts()),
        ("mts", false) => (Language::Ts, "mts", SourceType::ts().with_module(true)),
        ("cts", false) => (Language::Ts, "cts", SourceType::ts().with_commonjs(true)),
        ("tsx", _) => (Language::Ts, "tsx", SourceType::tsx()),
        _ => return None,
    })
}

/// The language [`parse_js`] parses `path` as, `None` for paths it does not handle
/// (decided by extension: `.js .mjs .cjs .jsx` → JS, `.ts .mts .cts .tsx` and `.d.ts` → TS).
pub fn js_language(path: &str) -> Option<Language> {
    classify(path).map(|(lang, _, _)| lang)
}

/// Parses one JS/TS file into its [`FileRecord`]; never panics and never returns an empty record
/// for code it could read.
///
/// Binary content (a NUL byte in the first 8 KiB) is skipped with reason `binary`; invalid UTF-8
/// is decoded lossily with warning `invalid_utf8`; a syntax error adds warning `parse_error`
/// (first message) and keeps what the parser recovered. A path with an extension that is not
/// JS/TS is parsed as JavaScript.
pub fn parse_js(path: &str, bytes: &[u8]) -> FileRecord {
    let (language, ext, source_type) =
        classify(path).unwrap_or((Language::Js, "js", SourceType::unambiguous().with_jsx(true)));
    let mut record = FileRecord::new(path, language, ext, bytes);
    if crate::pipeline::model::looks_binary(bytes) {
        record.skipped = true;
        record.skip_reason = Some(crate::pipeline::model::SKIP_BINARY.to_string());
        return record;
    }
    let text: Cow<'_, str> = match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(e) => {
            record.warnings.push(warning(
                "invalid_utf8",
                format!("invalid UTF-8 at byte {}; decoded lossily", e.valid_up_to()),
            ));
            String::from_utf8_lossy(bytes)
        }
    };
    // Nesting can only exceed the limit in a file with more bytes than the limit.
    let depth = if text.len() > MAX_NESTING {
        max_bracket_depth(text.as_bytes())
    } else {
        0
    };
    if depth > MAX_NESTING {
        record.skipped = true;
        record.skip_reason = Some("too_deeply_nested".to_string());
        record.warnings.push(warning(
            "too_deeply_nested",
            format!("brackets nest {depth} levels deep (limit {MAX_NESTING}); not parsed"),
        ));
        return record;
    }
    // A byte-order mark is not part of the program (and would hide a `#!` line from the
    // parser); dropping it shifts offsets but not lines.
    let code = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let outcome = run_on_parse_stack(|| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            parse_into(&mut record, code, source_type);
        }))
        .is_ok()
    });
    match outcome {
        Some(true) => {}
        Some(false) => record.warnings.push(warning(
            "parse_crash",
            "the parser panicked; facts may be incomplete".to_string(),
        )),
        None => record.warnings.push(warning(
            "parse_unavailable",
            "no thread with a large enough stack could be started".to_string(),
        )),
    }
    record
}

/// Parses many files at once, in parallel on [`parse_pool`] (sequentially on the calling thread's
/// big-stack fallback when the pool is unavailable). Records come back in input order. This is
/// also the function to time for parse throughput.
pub fn parse_js_batch(files: &[(&str, &[u8])]) -> Vec<FileRecord> {
    use rayon::prelude::*;
    match parse_pool() {
        Some(pool) => pool.install(|| {
            files
                .par_iter()
                .map(|(path, bytes)| parse_js(path, bytes))
                .collect()
        }),
        None => files
            .iter()
            .map(|(path, bytes)| parse_js(path, bytes))
            .collect(),
    }
}

/// Declares that the calling thread already has a stack made for parsing (the sandbox child's
/// parse thread), so [`parse_js`] runs inline there instead of starting its own big-stack
/// threads, which would not fit under the child's address-space limit.
pub fn assume_parse_stack() {
    ON_PARSE_STACK.with(|c| c.set(true));
}

/// Runs `f` on a thread with [`PARSE_STACK_BYTES`] of stack; `None` when no such thread
/// could be had (or it died).
fn run_on_parse_stack<R: Send, F: FnOnce() -> R + Send>(f: F) -> Option<R> {
    if ON_PARSE_STACK.with(Cell::get) {
        return Some(f());
    }
    if let Some(pool) = parse_pool() {
        return Some(pool.install(f));
    }
    std::thread::scope(|scope| {
        match std::thread::Builder::new()
            .stack_size(PARSE_STACK_BYTES)
            .spawn_scoped(scope, f)
        {
            Ok(handle) => handle.join().ok(),
            Err(e) => {
                let err = JsError::Spawn(e);
                tracing::error!(error = %err, "file left unparsed");
                None
            }
        }
    })
}

/// Maximum nesting of `( [ {` over the raw bytes (strings and comments included, so it can
/// only over-estimate real code by the brackets in its literals).
fn max_bracket_depth(bytes: &[u8]) -> usize {
    const DELTA: [i8; 256] = {
        let mut t = [0i8; 256];
        t[b'(' as usize] = 1;
        t[b'[' as usize] = 1;
        t[b'{' as usize] = 1;
        t[b')' as usize] = -1;
        t[b']' as usize] = -1;
        t[b'}' as usize] = -1;
        t
    };
    let (mut depth, mut max) = (0i64, 0i64);
    for &b in bytes {
        depth = (depth + i64::from(DELTA[b as usize])).max(0);
        max = max.max(depth);
    }
    usize::try_from(max).unwrap_or(usize::MAX)
}

fn warning(code: &str, message: String) -> FileWarning {
    FileWarning {
        code: code.to_string(),
        message,
    }
}

fn parse<'a>(alloc: &'a Allocator, text: &'a str, source_type: SourceType) -> ParserReturn<'a> {
    let options = ParseOptions {
        allow_return_outside_function: true,
        preserve_parens: false,
        ..ParseOptions::default()
    };
    Parser::new(alloc, text, source_type)
        .with_options(options)
        .parse()
}

/// Byte offset of the first diagnostic of a parse, if it has a location.
fn first_error_offset(ret: &ParserReturn<'_>) -> Option<usize> {
    ret.diagnostics
        .first()
        .and_then(|d| d.labels.first())
        .map(|l| l.offset() as usize)
}

/// Parses `text` and fills `record`. On a fatal syntax error (oxc then returns an empty tree),
/// the offending line is blanked (offsets and line numbers stay valid) and the file re-parsed,
/// a few times; if no attempt yields a tree, imports and exports come from the module record
/// the parser built before it stopped.
fn parse_into(record: &mut FileRecord, text: &str, source_type: SourceType) {
    let mut alloc = ARENA.with(|a| a.borrow_mut().take()).unwrap_or_default();
    parse_with(&alloc, record, text, source_type);
    if alloc.capacity() <= KEEP_ARENA_BYTES {
        alloc.reset();
        ARENA.with(|a| *a.borrow_mut() = Some(alloc));
    }
}

fn parse_with(alloc: &Allocator, record: &mut FileRecord, text: &str, source_type: SourceType) {
    let ret = parse(alloc, text, source_type);
    if let Some(first) = ret.diagnostics.first() {
        let line = first_error_offset(&ret).map_or(0, |o| line_of_offset(text, o));
        let more = ret.diagnostics.len() - 1;
        let suffix = if more > 0 {
            format!(" (+{more} more)")
        } else {
            String::new()
        };
        record.warnings.push(warning(
            "parse_error",
            format!("line {line}: {}{suffix}", first.message),
        ));
    }
    if !ret.panicked {
        extract_program(record, &ret.program, text);
        return;
    }
    let mut patched = text.to_string();
    let mut offset = first_error_offset(&ret);
    for _ in 0..RECOVERY_ATTEMPTS {
        let Some(at) = offset else { break };
        if !blank_line(&mut patched, at) {
            break;
        }
        let retry_alloc = Allocator::default();
        let retry = parse(&retry_alloc, &patched, source_type);
        if !retry.panicked {
            record.warnings.push(warning(
                "parse_recovered",
                "facts read with the lines of fatal syntax errors blanked".to_string(),
            ));
            extract_program(record, &retry.program, &patched);
            return;
        }
        offset = first_error_offset(&retry);
    }
    fallback_from_module_record(record, text, &ret);
}

/// Replaces the line holding byte `at` with spaces; false when there was nothing to blank.
fn blank_line(text: &mut String, at: usize) -> bool {
    let at = at.min(text.len());
    let bytes = text.as_bytes();
    let start = bytes[..at]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let end = bytes[at..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |p| at + p);
    if bytes[start..end].iter().all(|b| b.is_ascii_whitespace()) {
        return false;
    }
    let blanked = " ".repeat(end - start);
    // `start` and `end` sit next to `\n` or at the ends, so both are char boundaries.
    text.replace_range(start..end, &blanked);
    true
}

/// 1-based line of a byte offset.
fn line_of_offset(text: &str, offset: usize) -> u32 {
    let end = offset.min(text.len());
    let newlines = memchr::memchr_iter(b'\n', &text.as_bytes()[..end]).count();
    u32::try_from(newlines + 1).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_extensions() {
        let ext = |p: &str| classify(p).map(|(l, e, _)| (l, e));
        assert_eq!(ext("a/b.ts"), Some((Language::Ts, "ts")));
        assert_eq!(ext("a/b.d.ts"), Some((Language::Ts, "d.ts")));
        assert_eq!(ext("a/b.tsx"), Some((Language::Ts, "tsx")));
        assert_eq!(ext("b.mjs"), Some((Language::Js, "mjs")));
        assert_eq!(ext("b.cjs"), Some((Language::Js, "cjs")));
        assert_eq!(ext("b.jsx"), Some((Language::Js, "jsx")));
        assert_eq!(ext("b.py"), None);
        assert_eq!(ext("Makefile"), None);
    }

    #[test]
    fn bracket_depth_counts_nesting() {
        assert_eq!(max_bracket_depth(b"f(a[1], {b: (c)})"), 3);
        assert_eq!(max_bracket_depth(b"))) ((("), 3);
    }

    #[test]
    fn bom_hashbang_and_anonymous_defaults() {
        let src =
            "\u{feff}#!/usr/bin/env node\nimport a from './a';\nexport default function () {}\n";
        let r = parse_js("bin/cli.js", src.as_bytes());
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        assert_eq!(
            r.imports.iter().map(|i| i.line).collect::<Vec<_>>(),
            vec![2]
        );
        assert_eq!(
            r.functions
                .iter()
                .map(|f| f.name.as_str())
                .collect::<Vec<_>>(),
            vec!["default"]
        );
        let r = parse_js("m.ts", b"export default class extends Base { run() {} }\n");
        assert_eq!(
            r.classes
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>(),
            vec!["default"]
        );
        assert_eq!(
            r.functions
                .iter()
                .map(|f| f.name.as_str())
                .collect::<Vec<_>>(),
            vec!["default.run"]
        );
    }

    #[test]
    fn components_behind_wrappers_and_default_exports() {
        let r = parse_js(
            "Card.jsx",
            b"function Card() { return <div/>; }\nexport default memo(Card);\n",
        );
        assert!(r.hints.is_react_component);
        let r = parse_js(
            "util.js",
            b"function helper() { return 1; }\nexport default helper;\n",
        );
        assert!(!r.hints.is_react_component);
        let r = parse_js(
            "Icon.tsx",
            b"export const Icon = forwardRef((props, ref) => null);\n",
        );
        assert!(
            r.hints.is_react_component,
            "capitalised export in a .tsx file"
        );
        assert_eq!(
            r.functions
                .iter()
                .map(|f| f.name.as_str())
                .collect::<Vec<_>>(),
            vec!["Icon"]
        );
    }

    #[test]
    fn blank_line_keeps_offsets() {
        let mut s = "ok();\nbad ( ;\nfine();".to_string();
        assert!(blank_line(&mut s, 8));
        assert_eq!(s, "ok();\n       \nfine();");
        assert!(!blank_line(&mut s, 8));
    }
}
