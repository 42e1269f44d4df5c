//! Python parsing, resolution and routes on fixture trees (tests/fixtures/py/<case>), plus
//! hostile inputs. Every resolution test states the expected edges exactly.

use provis::pipeline::graph::build_graph;
use provis::pipeline::model::FileRole;
use provis::pipeline::model::{FileRecord, Language, Route};
use provis::pipeline::py::{
    parse_py, resolve_all_py, PyResolver, WARN_INVALID_UTF8, WARN_PARSE_ERROR,
};
use std::path::Path;

/// Reads a fixture tree into records: `.py`/`.pyi` parsed, other files as plain nodes.
fn load(case: &str) -> Vec<FileRecord> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/py")
        .join(case);
    let mut out = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
                continue;
            }
            let rel = p
                .strip_prefix(&root)
                .unwrap()
                .to_str()
                .unwrap()
                .replace('\\', "/");
            let bytes = std::fs::read(&p).unwrap();
            out.push(if rel.ends_with(".py") || rel.ends_with(".pyi") {
                parse_py(&rel, &bytes)
            } else {
                FileRecord::new(&rel, Language::Other, "", &bytes)
            });
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// Loads, resolves and renders every import outcome as one sorted line:
/// `from:line -> to` (internal), `from:line -> pkg (external)`, `from:line !! raw (reason)`.
fn edges(case: &str) -> Vec<String> {
    let mut records = load(case);
    let resolver = PyResolver::from_records(&records);
    resolve_all_py(&mut records, &resolver);
    let graph = build_graph(&records);
    let mut out: Vec<String> = graph
        .edges
        .iter()
        .map(|e| {
            if e.external {
                format!("{}:{} -> {} (external)", e.from, e.line, e.to)
            } else {
                format!("{}:{} -> {}", e.from, e.line, e.to)
            }
        })
        .chain(
            graph
                .unresolved
                .iter()
                .map(|u| format!("{}:{} !! {} ({})", u.from, u.line, u.raw, u.reason)),
        )
        .collect();
    out.sort();
    out
}

fn route(
    method: &str,
    path: &str,
    handler: &str,
    framework: &str,
) -> (String, String, String, String) {
    (method.into(), path.into(), handler.into(), framework.into())
}

fn routes_of(r: &[Route]) -> Vec<(String, String, String, String)> {
    r.iter()
        .map(|r| route(&r.method, &r.path, &r.handler, &r.framework))
        .collect()
}

/// Loads a fixture tree and resolves it the way the `merge` stage does, which composes the
/// routes through their mounts.
fn compose(case: &str) -> Vec<FileRecord> {
    let mut records = load(case);
    provis::pipeline::resolve_imports(&mut records, &Default::default());
    records
}

/// Every route as `METHOD path  file:line  unit  [mount, …]` (`dyn` when a prefix on the
/// way is not a literal), in file order.
fn route_table(records: &[FileRecord]) -> Vec<String> {
    records
        .iter()
        .flat_map(|r| {
            r.routes.iter().map(move |x| {
                format!(
                    "{} {}  {}:{}  {}  [{}]{}",
                    x.method,
                    x.path,
                    r.path,
                    x.line,
                    x.unit.as_deref().unwrap_or("-"),
                    x.mounts.join(", "),
                    if x.dynamic_prefix { " dyn" } else { "" }
                )
            })
        })
        .collect()
}

fn record<'a>(records: &'a [FileRecord], path: &str) -> &'a FileRecord {
    records.iter().find(|r| r.path == path).unwrap()
}

#[test]
fn relative_imports_levels_one_to_three_and_beyond() {
    assert_eq!(
        edges("relative"),
        vec![
            "pkg/a.py:1 -> pkg/b.py",
            "pkg/sub/c.py:1 -> pkg/a.py",
            "pkg/sub/c.py:2 -> pkg/b.py",
            "pkg/sub/c.py:3 -> pkg/sub/d.py",
            "pkg/sub/deep/e.py:1 -> pkg/a.py",
            "pkg/sub/deep/e.py:2 -> pkg/sub/c.py",
            "pkg/sub/deep/e.py:3 !! .... (beyond_top_level)",
            "pkg/sub/deep/e.py:4 !! .missing (not_found)",
            "pkg/sub/deep/e.py:5 -> pkg/sub/deep/__init__.py",
            "top.py:1 !! . (beyond_top_level)",
        ]
    );
}

#[test]
fn relative_import_records_keep_dots_level_and_names() {
    let records = load("relative");
    let e = record(&records, "pkg/sub/deep/e.py");
    let summary: Vec<(String, String, u32, Vec<String>)> = e
        .imports
        .iter()
        .map(|i| {
            (
                i.raw.to_string(),
                serde_json::to_value(i.kind)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_string(),
                i.level,
                i.names.iter().map(|n| n.to_string()).collect(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("...".into(), "py-relative".into(), 3, vec!["a".into()]),
            ("...sub".into(), "py-relative".into(), 3, vec!["c".into()]),
            ("....".into(), "py-relative".into(), 4, vec!["z".into()]),
            (".missing".into(), "py-relative".into(), 1, vec!["q".into()]),
            (".".into(), "py-relative".into(), 1, vec!["nothing".into()]),
        ]
    );
}

#[test]
fn from_package_import_submodule_versus_attribute() {
    assert_eq!(
        edges("submodule"),
        vec![
            // `from app import models, VERSION`: models is a module, VERSION an attribute.
            "main.py:1 -> app/__init__.py",
            "main.py:1 -> app/models.py",
            "main.py:2 -> app/utils/__init__.py",
            // `from app.utils import text` and `import app.utils.text` merge into one edge.
            "main.py:3 -> app/utils/text.py",
        ]
    );
    let mut records = load("submodule");
    let resolver = PyResolver::from_records(&records);
    resolve_all_py(&mut records, &resolver);
    let main = record(&records, "main.py");
    // The first statement was split in two imports, one per target, names grouped.
    assert_eq!(main.imports[0].names, vec!["models"]);
    assert_eq!(main.imports[0].resolved.as_deref(), Some("app/models.py"));
    assert_eq!(main.imports[1].names, vec!["VERSION"]);
    assert_eq!(main.imports[1].resolved.as_deref(), Some("app/__init__.py"));
    // `import app.utils.text` is ONE import resolving to the module, not to app or app.utils.
    let dotted: Vec<_> = main
        .imports
        .iter()
        .filter(|i| i.raw == "app.utils.text")
        .collect();
    assert_eq!(dotted.len(), 1);
    assert_eq!(dotted[0].resolved.as_deref(), Some("app/utils/text.py"));
    assert_eq!(dotted[0].line, 4);
    // `from app import *` targets the package.
    let star = main.imports.iter().find(|i| i.names == vec!["*"]).unwrap();
    assert_eq!(star.resolved.as_deref(), Some("app/__init__.py"));
}

#[test]
fn src_layout_stdlib_external_and_script_directory() {
    assert_eq!(
        edges("srclayout"),
        vec![
            "src/mylib/__init__.py:1 -> src/mylib/core.py",
            "src/mylib/core.py:1 -> os (external)",
            "src/mylib/core.py:2 -> yaml (external)",
            "src/mylib/core.py:3 -> src/mylib/helpers.py",
            "tests/conftest.py:1 -> pytest (external)",
            "tests/test_core.py:1 -> src/mylib/core.py",
            "tests/test_core.py:2 -> tests/conftest.py",
        ]
    );
    let records = load("srclayout");
    let resolver = PyResolver::from_records(&records);
    assert_eq!(
        resolver.source_roots(),
        &["".to_string(), "src".to_string()]
    );
    assert_eq!(
        resolver.resolve_dotted("mylib.helpers").as_deref(),
        Some("src/mylib/helpers.py")
    );
    assert_eq!(resolver.resolve_dotted("mylib.nope"), None);
}

#[test]
fn namespace_packages() {
    let mut records = load("namespace");
    let resolver = PyResolver::from_records(&records);
    resolve_all_py(&mut records, &resolver);
    let beta = record(&records, "ns/plugins/beta.py");
    let resolved: Vec<Option<&str>> = beta.imports.iter().map(|i| i.resolved.as_deref()).collect();
    assert_eq!(
        resolved,
        vec![Some("ns/plugins/alpha.py"), Some("ns/plugins/alpha.py")]
    );
    assert_eq!(
        edges("namespace"),
        vec![
            "main.py:1 -> ns/plugins/alpha.py",
            // A bare namespace name with no file behind it is taken for an installed package.
            "main.py:2 -> ns (external)",
            "main.py:3 -> pkg/data/loader.py",
            "main.py:4 !! pkg.data (namespace_package)",
            "main.py:5 !! pkg.data.missing (not_found)",
            // Absolute and relative import of the same module: one edge, first line kept.
            "ns/plugins/beta.py:1 -> ns/plugins/alpha.py",
        ]
    );
}

#[test]
fn imports_in_type_checking_try_except_functions_and_methods_count() {
    assert_eq!(
        edges("blocks"),
        vec![
            "app/main.py:1 -> __future__ (external)",
            "app/main.py:16 -> json (external)",
            "app/main.py:3 -> typing (external)",
            "app/main.py:6 -> app/types.py",
            "app/main.py:9 -> app/fast.py",
            "app/main.py:11 -> app/slow.py",
            "app/main.py:15 -> app/lazy.py",
        ]
        .into_iter()
        .map(String::from)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect::<Vec<_>>()
    );
    let records = load("blocks");
    let main = record(&records, "app/main.py");
    // The relative `from . import types` in the method is a separate import (merged into the
    // line-6 edge of the same kind in the graph, which keeps the first line).
    let lines: Vec<u32> = main.imports.iter().map(|i| i.line).collect();
    assert_eq!(lines, vec![1, 3, 6, 9, 11, 15, 16, 22]);
    let names: Vec<&str> = main.functions.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, vec!["load", "Loader.method"]);
    assert_eq!(main.classes[0].methods, vec!["method"]);
    assert_eq!(main.exports, vec!["load", "Loader"]);
}

#[test]
fn exports_all_literal_wins_over_public_names() {
    let src = b"__all__ = ['a', 'b']\n__all__ += ['c']\ndef a(): pass\ndef _p(): pass\nX = 1\n";
    assert_eq!(parse_py("m.py", src).exports, vec!["a", "b", "c"]);
    let src = b"def a(): pass\nclass B: pass\n_private = 1\nX, Y = 1, 2\nimport os\n";
    assert_eq!(parse_py("m.py", src).exports, vec!["a", "B", "X", "Y"]);
}

#[test]
fn functions_classes_params_and_decorators() {
    let src = br#"
import functools

class Base(object, metaclass=Meta):
    @property
    def name(self, /, a, *args, b=1, **kw):
        return 1

    class Inner(Base):
        async def run(self):
            pass

@functools.lru_cache(maxsize=None)
async def top(x):
    def nested():
        pass
"#;
    let r = parse_py("m.py", src);
    type Summary<'a> = (&'a str, Vec<String>, Vec<String>, u32, bool);
    let f: Vec<Summary> = r
        .functions
        .iter()
        .map(|f| {
            (
                f.name.as_str(),
                f.params.iter().map(|n| n.to_string()).collect(),
                f.decorators.clone(),
                f.line,
                f.is_async,
            )
        })
        .collect();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    assert_eq!(
        f,
        vec![
            (
                "Base.name",
                s(&["self", "a", "*args", "b", "**kw"]),
                s(&["property"]),
                6,
                false
            ),
            ("Base.Inner.run", s(&["self"]), vec![], 10, true),
            (
                "top",
                s(&["x"]),
                s(&["functools.lru_cache(maxsize=None)"]),
                14,
                true
            ),
            ("top.nested", vec![], vec![], 15, false),
        ]
    );
    let c: Vec<(&str, Vec<String>, Vec<String>, u32)> = r
        .classes
        .iter()
        .map(|c| (c.name.as_str(), c.bases.clone(), c.methods.clone(), c.line))
        .collect();
    assert_eq!(
        c,
        vec![
            ("Base", s(&["object"]), s(&["name"]), 4),
            ("Base.Inner", s(&["Base"]), s(&["run"]), 9),
        ]
    );
    assert!(r.warnings.is_empty());
}

#[test]
fn syntax_error_keeps_what_was_read() {
    let src = b"import os\ndef broken(:\n    pass\nfrom pkg import thing\nclass Ok:\n    def m(self): pass\n";
    let r = parse_py("bad.py", src);
    assert_eq!(r.warnings.len(), 1);
    assert_eq!(r.warnings[0].code, WARN_PARSE_ERROR);
    assert!(
        r.warnings[0].message.contains("line 2"),
        "{}",
        r.warnings[0].message
    );
    let raws: Vec<&str> = r.imports.iter().map(|i| i.raw.as_str()).collect();
    assert_eq!(raws, vec!["os", "pkg"]);
    assert!(r
        .classes
        .iter()
        .any(|c| c.name == "Ok" && c.methods == vec!["m"]));
}

#[test]
fn invalid_utf8_is_decoded_lossily_with_a_warning() {
    let mut src = b"import os\nx = '".to_vec();
    src.extend([0xff, 0xfe, 0x80]);
    src.extend(b"'\nfrom a import b\n");
    let r = parse_py("latin.py", &src);
    assert!(r.warnings.iter().any(|w| w.code == WARN_INVALID_UTF8));
    assert!(!r.warnings.iter().any(|w| w.code == WARN_PARSE_ERROR));
    let lines: Vec<(&str, u32)> = r.imports.iter().map(|i| (i.raw.as_str(), i.line)).collect();
    assert_eq!(lines, vec![("os", 1), ("a", 3)]);
    assert_eq!(r.size, src.len() as u64);
}

/// Runs `f` on a thread with a deliberately small (1 MiB) stack: deep trees must not need
/// more than an ordinary worker thread has.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

#[test]
fn hundred_thousand_nested_brackets() {
    let r = on_small_stack(|| {
        let n = 100_000;
        let src = format!(
            "import os\nx = {}{}\nimport sys\n",
            "[".repeat(n),
            "]".repeat(n)
        );
        parse_py("deep.py", src.as_bytes())
    });
    let raws: Vec<&str> = r.imports.iter().map(|i| i.raw.as_str()).collect();
    assert_eq!(raws, vec!["os", "sys"]);
    assert_eq!(r.symbols["variables"], vec!["x"]);
}

#[test]
fn unbalanced_deep_brackets_and_long_operator_chains() {
    let r = on_small_stack(|| {
        let src = format!("import os\nx = {}\n", "(".repeat(100_000));
        parse_py("open.py", src.as_bytes())
    });
    assert_eq!(r.warnings[0].code, WARN_PARSE_ERROR);
    assert_eq!(r.imports[0].raw, "os");
    let r = on_small_stack(|| {
        let src = format!(
            "import os\nx = {}1\ny = {}1\n",
            "1+".repeat(200_000),
            "not ".repeat(200_000)
        );
        parse_py("chain.py", src.as_bytes())
    });
    assert!(r.warnings.is_empty());
    assert_eq!(r.symbols["variables"], vec!["x", "y"]);
}

#[test]
fn fifty_megabyte_single_line() {
    let mut src = b"import os; x = '".to_vec();
    src.resize(50 * 1024 * 1024, b'a');
    src.extend(b"'; import json");
    let r = parse_py("big.py", &src);
    assert_eq!(r.lines, 1);
    assert!(r.warnings.is_empty());
    let raws: Vec<(&str, u32)> = r.imports.iter().map(|i| (i.raw.as_str(), i.line)).collect();
    assert_eq!(raws, vec![("os", 1), ("json", 1)]);
}

/// Issue 9 item 13: binary content named `.py` is skipped like binary `.js`/`.ts` (it was
/// parsed into hundreds of thousands of syntax errors).
#[test]
fn binary_file_named_py_is_skipped_like_js() {
    let mut bytes = b"\x7fELF\x02\x01\x01\x00\x00".to_vec();
    bytes.extend((0..20_000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8));
    for path in ["blob.py", "stubs/blob.pyi"] {
        let r = parse_py(path, &bytes);
        assert!(r.skipped, "{path}");
        assert_eq!(r.skip_reason.as_deref(), Some("binary"));
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        assert!(r.imports.is_empty());
        assert_eq!(r.size, bytes.len() as u64);
        assert_eq!(r.path, path);
        let js = provis::pipeline::js::parse_js("blob.js", &bytes);
        assert_eq!(js.skip_reason, r.skip_reason, "the same rule as JS");
    }
}

#[test]
fn garbage_without_nul_bytes_named_py_gives_a_warning_not_a_panic() {
    let bytes: Vec<u8> = (0..20_000u32)
        .map(|i| ((i.wrapping_mul(2654435761) >> 13) as u8).max(1))
        .collect();
    let r = parse_py("blob.py", &bytes);
    assert!(!r.skipped);
    assert!(r.warnings.iter().any(|w| w.code == WARN_PARSE_ERROR));
    assert_eq!(r.size, 20_000);
    assert_eq!(r.path, "blob.py");
}

#[test]
fn stub_files_parse_in_stub_mode() {
    let r = parse_py(
        "pkg/mod.pyi",
        b"from typing import overload\ndef f(x: int) -> int: ...\n",
    );
    assert_eq!(r.ext, "pyi");
    assert_eq!(r.functions[0].name, "f");
    assert!(r.warnings.is_empty());
}

#[test]
fn hints_and_symbols() {
    let src = br#"
from celery import shared_task
import click

@shared_task
def send_mail(to):
    pass

@click.command()
def main():
    pass

if __name__ == "__main__":
    main()
"#;
    let r = parse_py("jobs.py", src);
    assert_eq!(r.hints.framework.as_deref(), Some("celery"));
    assert!(!r.hints.is_route);
    assert_eq!(r.symbols["jobs"], vec!["send_mail"]);
    assert_eq!(r.symbols["cliCommands"], vec!["main"]);
    assert_eq!(r.symbols["entrypoints"], vec!["__main__"]);
}

#[test]
fn unknown_receiver_needs_a_slash_path() {
    // `cache.get(key)` is not a route; `router.get("/x")` on an imported router is.
    let src = br#"
from .routing import router

@cache.get(key)
def cached():
    pass

@router.get("/x")
def x():
    pass
"#;
    let r = parse_py("r.py", src);
    assert_eq!(
        routes_of(&r.routes),
        vec![route("GET", "/x", "x", "fastapi")]
    );
}

#[test]
fn every_kind_of_deep_nesting_is_freed_without_recursion() {
    let n = 20_000;
    let cases: Vec<(&str, String)> = vec![
        ("calls", format!("x = {}0{}", "f(".repeat(n), ")".repeat(n))),
        ("subscripts", format!("x = a{}", "[0]".repeat(n))),
        ("attributes", format!("x = a{}", ".b".repeat(n))),
        (
            "dicts",
            format!("x = {}0{}", "{0: ".repeat(n), "}".repeat(n)),
        ),
        ("lambdas", format!("x = {}0", "lambda: ".repeat(n))),
        ("conditionals", format!("x = {}0", "0 if 0 else ".repeat(n))),
        ("unary", format!("x = {}1", "-".repeat(n))),
        (
            "awaits",
            format!("async def f():\n    return {}1", "await ".repeat(n)),
        ),
        (
            "fstrings",
            format!("x = {}0{}", "f'{".repeat(200), "}'".repeat(200)),
        ),
        (
            "patterns",
            format!(
                "match x:\n    case {}0{}:\n        pass",
                "[".repeat(n),
                "]".repeat(n)
            ),
        ),
        (
            "comprehensions",
            format!("x = {}0{}", "[".repeat(n / 4), " for a in b]".repeat(n / 4)),
        ),
        (
            "blocks",
            (0..3_000)
                .map(|d| format!("{}if a:\n", " ".repeat(d)))
                .collect::<String>()
                + &" ".repeat(3_000)
                + "import inner\n",
        ),
    ];
    for (name, body) in cases {
        let src = format!("import first\n{body}\nimport last\n");
        let r = on_small_stack(move || parse_py("deep.py", src.as_bytes()));
        let raws: Vec<&str> = r.imports.iter().map(|i| i.raw.as_str()).collect();
        assert_eq!(raws.first(), Some(&"first"), "{name}");
        assert_eq!(raws.last(), Some(&"last"), "{name}");
        if name == "blocks" {
            assert_eq!(raws, vec!["first", "inner", "last"]);
        }
    }
}

/// Throughput on a local corpus; prints MB/s, asserts nothing about time. Run optimised
/// (only the parser crates and provis, so dependencies are not all rebuilt):
/// `cargo test --test integration pipeline_py:: --config profile.dev.package.provis.opt-level=3
///  --config profile.dev.package.ruff_python_parser.opt-level=3
///  --config profile.dev.package.ruff_python_ast.opt-level=3
///  --config profile.dev.package.ruff_text_size.opt-level=3
///  --config profile.dev.package.ruff_python_trivia.opt-level=3
///  -- --ignored --nocapture parse_throughput`
/// with `PROVIS_PY_CORPUS=/path/to/python/tree` (default `/usr/lib/python3.11`).
#[test]
#[ignore]
fn parse_throughput() {
    let root = std::env::var("PROVIS_PY_CORPUS").unwrap_or_else(|_| "/usr/lib/python3.11".into());
    let mut files = Vec::new();
    let mut dirs = vec![std::path::PathBuf::from(root)];
    while let Some(d) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for p in entries.flatten().map(|e| e.path()) {
            if p.is_symlink() {
                continue;
            } else if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "py") {
                files.push((p.to_string_lossy().into_owned(), std::fs::read(&p).unwrap()));
            }
        }
    }
    assert!(!files.is_empty(), "empty corpus");
    let bytes: usize = files.iter().map(|f| f.1.len()).sum();
    let start = std::time::Instant::now();
    let imports: usize = files
        .iter()
        .map(|(p, b)| parse_py(p, b).imports.len())
        .sum();
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "{} files, {:.1} MB, {imports} imports: {:.1} MB/s on one core",
        files.len(),
        bytes as f64 / 1e6,
        bytes as f64 / secs / 1e6
    );
    assert!(imports > 0);
}

#[test]
fn byte_order_mark_and_crlf_line_endings() {
    let r = parse_py(
        "bom.py",
        b"\xEF\xBB\xBFimport os\r\n\r\nfrom a import b\r\n",
    );
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    let lines: Vec<(&str, u32)> = r.imports.iter().map(|i| (i.raw.as_str(), i.line)).collect();
    assert_eq!(lines, vec![("os", 1), ("a", 3)]);
}

// ------------------------------------------- regressions found by scripts/agreement

#[test]
fn stdlib_is_shadowed_only_from_the_repo_root_and_a_scripts_folder() {
    // setuptools vendors `jaraco.functools` in `_vendor/jaraco/functools/` (a namespace
    // `jaraco`), which made `_vendor/jaraco` a source root and sent every `import functools`
    // of the package there. Installed packages come after the stdlib on sys.path; only the
    // working directory (repo root) and a script's own folder come before it.
    assert_eq!(
        edges("vendored"),
        vec![
            "pkg/__init__.py:1 -> functools (external)",
            "pkg/__init__.py:2 -> collections (external)",
            "pkg/__init__.py:3 -> pkg/_vendor/jaraco/functools/__init__.py",
            "pkg/__init__.py:4 -> pkg/_vendor/packaging/version.py",
            "pkg/__init__.py:5 -> logging/__init__.py",
            "pkg/_vendor/jaraco/collections/__init__.py:1 -> collections (external)",
            "pkg/_vendor/jaraco/functools/__init__.py:1 -> functools (external)",
            "pkg/_vendor/packaging/version.py:1 -> re (external)",
            "tools/run.py:1 -> tools/functools.py",
            "tools/run.py:2 -> collections (external)",
        ]
    );
}

mod routes;
