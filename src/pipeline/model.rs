//! The records the pipeline produces, in the wire shape of docs/artifacts.md (camelCase JSON).
//!
//! These types are shared by the parser, the resolver, the graph builder and the artifact
//! writers, so every stage agrees on one shape.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A short name of the code (an identifier, an import specifier, a package): kept inline up to
/// 24 bytes instead of in a heap block of its own. A 50k-file snapshot's records hold about
/// 2.4 million such names (with the wiring's bindings); as `String`s each cost a 32-byte heap
/// block besides its 24 bytes.
/// It serializes as a plain string, so documents and caches are unchanged.
pub type Name = compact_str::CompactString;

/// `Name`s of parser output built as `String`s.
pub fn names(v: Vec<String>) -> Vec<Name> {
    v.into_iter().map(Name::from).collect()
}

/// Language of a file, as the artifacts name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// JavaScript, JSX, .mjs/.cjs.
    Js,
    /// TypeScript, TSX, .mts/.cts, .d.ts.
    Ts,
    /// Python .py/.pyi.
    Py,
    /// Anything else: kept as a graph node, not parsed.
    Other,
}

/// How an import was written; decides the edge kind in the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImportKind {
    /// `import … from 'x'`, `import 'x'`.
    Esm,
    /// `require('x')`, `import x = require('x')`.
    Cjs,
    /// `import('x')` with a literal.
    Dynamic,
    /// `export … from 'x'`.
    Reexport,
    /// `import type …` / `export type … from`.
    Type,
    /// Python absolute import (`import a.b`, `from a import b`).
    Py,
    /// Python relative import (`from .x import y`).
    PyRelative,
}

/// One import statement as parsed, later completed by the resolver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Import {
    /// The specifier as written (`./a`, `react`, `..x`, `a.b`). Python relative imports keep
    /// their leading dots here.
    pub raw: Name,
    /// How the import was written.
    pub kind: ImportKind,
    /// 1-based line of the statement.
    pub line: u32,
    /// Imported names (`{a, b}`, Python `from x import a, b`); empty when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<Name>,
    /// Python relative level (number of leading dots); 0 for absolute and for JS.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub level: u32,
    /// Repo-relative path of the file this import resolves to, when internal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved: Option<String>,
    /// True when the import names a package or stdlib module outside the snapshot.
    #[serde(default)]
    pub external: bool,
    /// The package (npm name or top-level Python module) for external imports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package: Option<Name>,
    /// Why a local-looking import resolved nowhere; set only for unresolved imports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unresolved_reason: Option<String>,
}

fn is_zero(v: &u32) -> bool {
    *v == 0
}

/// A function or method definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Function {
    /// Name; methods are `Class.method`.
    pub name: Name,
    /// Parameter names in order.
    pub params: Vec<Name>,
    /// Decorators as written without `@` (`app.get("/x")`).
    pub decorators: Vec<String>,
    /// 1-based line.
    pub line: u32,
    /// True for `async` functions.
    #[serde(rename = "async")]
    pub is_async: bool,
}

/// A class definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Class {
    /// Class name.
    pub name: String,
    /// Method names.
    pub methods: Vec<String>,
    /// Base classes / `extends` / `implements`, as written.
    pub bases: Vec<String>,
    /// 1-based line.
    pub line: u32,
}

/// An HTTP route found in code or by file-system routing convention.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Route {
    /// Upper-case HTTP method, or `ANY` / `PAGE` when not fixed.
    pub method: String,
    /// Full route path: as declared in the file, then — once routes are composed after import
    /// resolution — with every mount prefix applied (`/api/users/:id`, `/api/items/[id]`).
    pub path: String,
    /// Handler name when known (function or view), else empty.
    pub handler: String,
    /// 1-based line (1 for file-system routes).
    pub line: u32,
    /// `express`, `koa`, `fastify`, `nextjs-app`, `nextjs-pages`, `fastapi`, `flask`, `django`.
    pub framework: String,
    /// Every mount that put a prefix in front of this route, outermost first, as `file:line`
    /// (`app.use('/api', router)`, `include_router(prefix=…)`, `include('a.urls')`), so a
    /// reader can check how `path` was composed. Empty when the route is mounted nowhere.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<String>,
    /// True when a prefix on the mount chain is not a literal: the route is kept with the
    /// literal parts only, rather than guessed.
    #[serde(default, skip_serializing_if = "is_false")]
    pub dynamic_prefix: bool,
    /// The unit developers group routes by (a mounted router, controller, blueprint or Django
    /// app), as `file:name`; capabilities are built per unit. None when only the file is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

fn is_false(v: &bool) -> bool {
    !*v
}

/// What a file is for. Test code imports application code like any other file, but what it
/// calls (`client.get("/x")`) are requests it makes, never routes it serves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileRole {
    /// Application code (the default).
    #[default]
    App,
    /// A test, a test helper or fixture (path conventions, test-framework imports, conftest).
    Test,
}

impl FileRole {
    fn is_app(&self) -> bool {
        *self == FileRole::App
    }
}

/// Framework hints for one file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Hints {
    /// Main framework detected from imports (`react`, `express`, `fastapi`, …).
    pub framework: Option<String>,
    /// File defines or is a route.
    pub is_route: bool,
    /// File is an API handler.
    #[serde(rename = "isAPI")]
    pub is_api: bool,
    /// File exports a React component (JSX returned from an exported function).
    pub is_react_component: bool,
    /// File starts with the `"use client"` directive.
    pub is_client_component: bool,
}

/// A per-file problem that did not stop the job (`parse_error`, `parse_timeout`, …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileWarning {
    /// Stable machine-readable code.
    pub code: String,
    /// Human-readable detail.
    pub message: String,
}

/// Everything provis knows about one file of a snapshot (FileRecord in docs/artifacts.md#files).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileRecord {
    /// Repo-relative, `/`-separated path.
    pub path: String,
    /// Language from the extension.
    pub language: Language,
    /// Extension without the dot (`ts`, `py`; `d.ts` for declaration files).
    pub ext: String,
    /// Size in bytes.
    pub size: u64,
    /// Number of lines.
    pub lines: u64,
    /// blake3 of the content, hex.
    pub hash: String,
    /// Imports in source order.
    pub imports: Vec<Import>,
    /// Exported names (`default` for a default export).
    pub exports: Vec<Name>,
    /// Functions and methods.
    pub functions: Vec<Function>,
    /// Classes.
    pub classes: Vec<Class>,
    /// Routes declared in this file.
    pub routes: Vec<Route>,
    /// Other named facts (`variables`, `decorators`, `calls` …) keyed by category.
    pub symbols: BTreeMap<String, Vec<Name>>,
    /// Framework hints.
    pub hints: Hints,
    /// Problems met while parsing this file.
    pub warnings: Vec<FileWarning>,
    /// True when the file was not parsed (too large, binary, not code).
    pub skipped: bool,
    /// Why it was skipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_reason: Option<String>,
    /// Application code or test code; serialized only for tests.
    #[serde(default, skip_serializing_if = "FileRole::is_app")]
    pub role: FileRole,
    /// How the file wires routers together: parser output that route composition consumes
    /// and clears, so it never reaches an artifact (see [`super::wiring`]).
    #[serde(default, skip_serializing_if = "super::wiring::Wiring::is_empty")]
    pub wiring: super::wiring::Wiring,
}

/// How much of the start of a file is searched for NUL bytes to call it binary.
const BINARY_SNIFF_BYTES: usize = 8 * 1024;

/// Skip reason of a code file whose content is binary.
pub const SKIP_BINARY: &str = "binary";

/// Whether a file named like code holds binary content (a NUL byte in its first 8 KiB, as git
/// and grep decide): such files are skipped, whatever the language, instead of being parsed
/// into thousands of syntax errors.
pub fn looks_binary(bytes: &[u8]) -> bool {
    bytes[..bytes.len().min(BINARY_SNIFF_BYTES)].contains(&0)
}

impl FileRecord {
    /// A record with only the identity fields set; parsers fill in the rest.
    pub fn new(path: &str, language: Language, ext: &str, bytes: &[u8]) -> Self {
        let lines = if bytes.is_empty() {
            0
        } else {
            count_newlines(bytes) + u64::from(bytes.last() != Some(&b'\n'))
        };
        Self {
            path: path.to_string(),
            language,
            ext: ext.to_string(),
            size: bytes.len() as u64,
            lines,
            hash: blake3::hash(bytes).to_hex().to_string(),
            imports: Vec::new(),
            exports: Vec::new(),
            functions: Vec::new(),
            classes: Vec::new(),
            routes: Vec::new(),
            symbols: BTreeMap::new(),
            hints: Hints::default(),
            warnings: Vec::new(),
            skipped: false,
            skip_reason: None,
            role: FileRole::App,
            wiring: Default::default(),
        }
    }
}

/// Number of `\n` bytes. Counted in chunks of 255 with one byte-wide counter, which the
/// compiler turns into 16-32 bytes per instruction (`filter().count()` widens every byte to a
/// 64-bit lane); it ran at a few percent of the whole parse.
fn count_newlines(bytes: &[u8]) -> u64 {
    bytes
        .chunks(255)
        .map(|c| u64::from(c.iter().fold(0u8, |n, &b| n + u8::from(b == b'\n'))))
        .sum()
}

/// Edge kinds in the graph artifact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EdgeKind {
    /// Static ESM import.
    Esm,
    /// CommonJS require.
    Cjs,
    /// Dynamic import.
    Dynamic,
    /// Re-export.
    Reexport,
    /// Type-only import.
    Type,
    /// Python import.
    Py,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newline_count_matches_a_plain_count_across_chunk_boundaries() {
        // 700 newlines, some runs longer than one 255-byte chunk, plus multi-byte text.
        let mut text = Vec::new();
        for i in 0..600 {
            text.extend_from_slice(if i % 3 == 0 {
                "é\n".as_bytes()
            } else {
                b"x\n"
            });
        }
        text.extend_from_slice(&[b'\n'; 100]);
        text.extend_from_slice(b"tail");
        let plain = text.iter().filter(|&&b| b == b'\n').count() as u64;
        assert_eq!(count_newlines(&text), plain);
        assert_eq!(count_newlines(&text), 700);
        let rec = FileRecord::new("a.txt", Language::Other, "txt", &text);
        assert_eq!(rec.lines, 701, "700 newlines and an unterminated last line");
    }
}
