//! Regressions found by `scripts/agreement` (the import graph against independent tools).

use super::*;

#[test]
fn js_specifier_reaches_a_declaration_file() {
    // eslint's lib/types/use-at-your-own-risk.d.ts imports "./index.js" where only index.d.ts
    // exists: TypeScript finds the declaration file (same for .mjs → .d.mts, .cjs → .d.cts).
    let mut snap = MemorySnapshot::new([
        "types/risk.d.ts".to_string(),
        "types/index.d.ts".to_string(),
        "types/esm.d.mts".to_string(),
        "types/cjs.d.cts".to_string(),
    ]);
    snap.insert("package.json", br#"{"name": "x"}"#.to_vec());
    let resolver = JsResolver::new(&snap);
    let from = "types/risk.d.ts";
    assert_eq!(
        resolver.resolve_specifier(from, "./index.js"),
        Resolution::Internal("types/index.d.ts".into())
    );
    assert_eq!(
        resolver.resolve_specifier(from, "./esm.mjs"),
        Resolution::Internal("types/esm.d.mts".into())
    );
    assert_eq!(
        resolver.resolve_specifier(from, "./cjs.cjs"),
        Resolution::Internal("types/cjs.d.cts".into())
    );
    assert_eq!(
        resolver.resolve_specifier(from, "./none.js"),
        Resolution::Unresolved("not_found".into())
    );
}

#[test]
fn javascript_beside_its_declaration_file_depends_on_the_importer() {
    // preact ships src/index.js beside src/index.d.ts. A JavaScript importer depends on the
    // code that runs (Node never reads .d.ts); a TypeScript one on what the compiler reads.
    let mut snap = MemorySnapshot::new([
        "src/index.js".to_string(),
        "src/index.d.ts".to_string(),
        "src/render.js".to_string(),
        "src/jsx.d.ts".to_string(),
        "src/app.ts".to_string(),
        "lib/util.ts".to_string(),
        "lib/util.js".to_string(),
    ]);
    snap.insert(
        "package.json",
        br#"{"name": "pre", "exports": {".": {"types": "./src/index.d.ts", "import": "./src/index.js"}}}"#.to_vec(),
    );
    let resolver = JsResolver::new(&snap);
    let internal = |p: &str| Resolution::Internal(p.into());
    for spec in ["./index", "./index.js", "."] {
        assert_eq!(
            resolver.resolve_specifier("src/render.js", spec),
            internal("src/index.js"),
            "{spec} from JavaScript"
        );
    }
    for spec in ["./index", "./index.js"] {
        assert_eq!(
            resolver.resolve_specifier("src/jsx.d.ts", spec),
            internal("src/index.d.ts"),
            "{spec} from a declaration file"
        );
    }
    // A TypeScript source compiled in place: TypeScript reads the source, JavaScript runs the
    // output.
    assert_eq!(
        resolver.resolve_specifier("src/app.ts", "../lib/util.js"),
        internal("lib/util.ts")
    );
    assert_eq!(
        resolver.resolve_specifier("src/render.js", "../lib/util.js"),
        internal("lib/util.js")
    );
    // The package imports itself through `exports`: the `types` condition is TypeScript's.
    assert_eq!(
        resolver.resolve_specifier("src/render.js", "pre"),
        internal("src/index.js")
    );
    assert_eq!(
        resolver.resolve_specifier("src/app.ts", "pre"),
        internal("src/index.d.ts")
    );
}

#[test]
fn typescript_import_types_are_type_imports() {
    // svelte's elements.d.ts: `import('clsx').ClassArray` in a type is a type-only import.
    let src = "export type A = string | import('clsx').ClassArray | import('clsx').Dict;\n\
               let b: typeof import(\"./b\") | undefined;\n\
               type C = import('./c').Outer.Inner<import(\"./d\").D>;\n\
               const lazy = () => import('./lazy');\n\
               // import('./in-a-comment')\n";
    let r = parse_js("src/types.d.ts", src.as_bytes());
    let got: Vec<(&str, &str, u32, Vec<String>)> = r
        .imports
        .iter()
        .map(|i| {
            let names = i.names.iter().map(|n| n.to_string()).collect();
            (i.raw.as_str(), kind(i.kind), i.line, names)
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("clsx", "type", 1, vec!["ClassArray".to_string()]),
            ("./b", "type", 2, vec![]),
            ("./c", "type", 3, vec!["Outer".to_string()]),
            ("./d", "type", 3, vec!["D".to_string()]),
            ("./lazy", "dynamic", 4, vec![]),
        ]
    );
    // JavaScript has no type space: nothing extra there.
    let js = parse_js("src/a.js", b"const x = import('./x');\n");
    assert_eq!(js.imports.len(), 1);
    assert_eq!(kind(js.imports[0].kind), "dynamic");
}
