//! The records the pipeline produces, in the wire shape of docs/artifacts.md (camelCase JSON).
//!
//! These types are shared by the parser, the resolver, the graph builder and the artifact
//! writers, so every stage agrees on one shape.

use serde::{Deserialize, Deserializer, Serialize};

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
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "exact"
    )]
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

/// Decodes a list at its exact length. serde grows a list it decodes by doubling, which left
/// a decoded record's lists a third empty (the imports of the 53.6k-file monorepo: room for
/// 472k, 323k used), and merge holds every record of a job at once.
fn exact<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    ExactList::deserialize(d).map(|l| l.0)
}

/// A list decoded at its exact length (see [`exact`]). The elements are gathered on the stack
/// first (nearly every list is short), then moved into one block of the right size: no
/// growing, and no shrinking in place, which would leave a small hole behind each list.
struct ExactList<T>(Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ExactList<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Visit<T> {
            type Value = ExactList<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<ExactList<T>, A::Error> {
                let mut held = smallvec::SmallVec::<[T; 16]>::new();
                while let Some(item) = seq.next_element()? {
                    held.push(item);
                }
                Ok(ExactList(exact_copy(held.into_iter())))
            }
        }
        d.deserialize_seq(Visit(std::marker::PhantomData))
    }
}

/// The items in a new block of their exact length (a block that held them is freed whole).
fn exact_copy<T>(items: impl ExactSizeIterator<Item = T>) -> Vec<T> {
    let mut v = Vec::with_capacity(items.len());
    v.extend(items);
    v
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
    #[serde(deserialize_with = "exact")]
    pub params: Vec<Name>,
    /// Decorators as written without `@` (`app.get("/x")`).
    #[serde(deserialize_with = "exact")]
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
    #[serde(deserialize_with = "exact")]
    pub methods: Vec<String>,
    /// Base classes / `extends` / `implements`, as written.
    #[serde(deserialize_with = "exact")]
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

/// A file's other named facts by category (`variables`, `types`, `jobs` …), in category order.
///
/// A file has a few categories at most, so they are kept in one sorted list rather than a
/// `BTreeMap`, whose first node alone is about 540 bytes: at 53.6k files the maps took 35 MB
/// of the records merge holds at once. It is written as the JSON object the map was (keys in
/// order) and read from one the same way (a repeated key keeps its last value).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Symbols(Vec<(String, Vec<Name>)>);

impl Symbols {
    /// Sets the names of `category`, returning those it replaces.
    pub fn insert(&mut self, category: String, names: Vec<Name>) -> Option<Vec<Name>> {
        match self.position(&category) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, names)),
            Err(i) => {
                self.0.insert(i, (category, names));
                None
            }
        }
    }

    /// The names of `category`.
    pub fn get(&self, category: &str) -> Option<&Vec<Name>> {
        let i = self.position(category).ok()?;
        Some(&self.0[i].1)
    }

    /// The categories and their names, in category order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[Name])> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// The number of categories.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there is no category.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn position(&self, category: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| k.as_str().cmp(category))
    }
}

/// `symbols["jobs"]`, as on the map: panics when the category is absent.
impl std::ops::Index<&str> for Symbols {
    type Output = Vec<Name>;
    fn index(&self, category: &str) -> &Vec<Name> {
        self.get(category)
            .unwrap_or_else(|| panic!("no symbols of category {category:?}"))
    }
}

impl Serialize for Symbols {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for Symbols {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Symbols;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object of name lists")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Symbols, A::Error> {
                let mut out = Symbols::default();
                while let Some((k, v)) = map.next_entry::<String, ExactList<Name>>()? {
                    out.insert(k, v.0);
                }
                Ok(Symbols(exact_copy(out.0.into_iter())))
            }
        }
        d.deserialize_map(Visit)
    }
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
    #[serde(deserialize_with = "exact")]
    pub imports: Vec<Import>,
    /// Exported names (`default` for a default export).
    #[serde(deserialize_with = "exact")]
    pub exports: Vec<Name>,
    /// Functions and methods.
    #[serde(deserialize_with = "exact")]
    pub functions: Vec<Function>,
    /// Classes.
    #[serde(deserialize_with = "exact")]
    pub classes: Vec<Class>,
    /// Routes declared in this file.
    #[serde(deserialize_with = "exact")]
    pub routes: Vec<Route>,
    /// Other named facts (`variables`, `decorators`, `calls` …) keyed by category.
    pub symbols: Symbols,
    /// Framework hints.
    pub hints: Hints,
    /// Problems met while parsing this file.
    #[serde(deserialize_with = "exact")]
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
            symbols: Symbols::default(),
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

    #[test]
    fn symbols_read_and_write_the_json_of_a_sorted_map() {
        use std::collections::BTreeMap;
        let mut map: BTreeMap<String, Vec<Name>> = BTreeMap::new();
        let mut symbols = Symbols::default();
        for (k, v) in [
            ("variables", "a"),
            ("enums", "b"),
            ("types", "c"),
            ("enums", "d"),
        ] {
            let old = map.insert(k.into(), vec![v.into()]);
            assert_eq!(symbols.insert(k.into(), vec![v.into()]), old, "{k}");
        }
        let json = serde_json::to_string(&symbols).expect("encodes");
        assert_eq!(json, serde_json::to_string(&map).expect("encodes"));
        assert_eq!(json, r#"{"enums":["d"],"types":["c"],"variables":["a"]}"#);
        assert_eq!(symbols.get("enums"), Some(&vec![Name::from("d")]));
        assert_eq!(symbols["types"], vec![Name::from("c")]);
        assert_eq!(symbols.get("jobs"), None);
        let keys: Vec<&str> = symbols.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["enums", "types", "variables"]);
        // Unordered keys and a repeated one read as the map reads them.
        let text = r#"{"z":["1"],"a":[],"z":["2","3"],"m":["4"]}"#;
        let read: Symbols = serde_json::from_str(text).expect("decodes");
        let theirs: BTreeMap<String, Vec<Name>> = serde_json::from_str(text).expect("decodes");
        assert_eq!(
            serde_json::to_string(&read).unwrap(),
            serde_json::to_string(&theirs).unwrap()
        );
        assert_eq!(read.len(), 3);
        assert!(serde_json::from_str::<Symbols>("[]").is_err());
    }

    #[test]
    fn decoded_lists_hold_no_spare_room() {
        let mut rec = FileRecord::new("a.ts", Language::Ts, "ts", b"x");
        let import = Import {
            raw: "./a".into(),
            kind: ImportKind::Esm,
            line: 1,
            names: names(["a", "b", "c", "d", "e"].map(String::from).to_vec()),
            level: 0,
            resolved: None,
            external: false,
            package: None,
            unresolved_reason: None,
        };
        rec.imports = vec![import; 5];
        // More than the 16 gathered on the stack.
        rec.exports = (0..20).map(|i| Name::from(format!("e{i}"))).collect();
        rec.symbols
            .insert("variables".into(), vec!["x".into(), "y".into(), "z".into()]);
        let json = serde_json::to_string(&rec).expect("encodes");
        let rec: FileRecord = serde_json::from_str(&json).expect("decodes");
        assert_eq!(rec.imports.len(), 5);
        assert_eq!(rec.imports.capacity(), 5);
        assert_eq!(rec.imports[0].names.capacity(), 5);
        assert_eq!(rec.exports.capacity(), 20);
        assert_eq!(rec.symbols.get("variables").map(Vec::capacity), Some(3));
        assert_eq!(rec.symbols.0.capacity(), 1);
    }
}
