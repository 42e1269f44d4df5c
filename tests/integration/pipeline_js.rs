//! JS/TS parsing and resolution (`provis::pipeline::js`): every import form, facts, routes of
//! each framework on small apps, hostile inputs, and one fixture tree per resolution case with
//! its expected edges stated exactly.

use std::path::{Path, PathBuf};

use provis::pipeline::js::{
    js_language, parse_js, resolve_all, JsResolver, MemorySnapshot, Resolution, MAX_NESTING,
};
use provis::pipeline::model::{FileRecord, ImportKind, Language};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/js")
}

fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).expect("fixture dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            walk(&path, base, out);
        } else {
            let rel = path.strip_prefix(base).expect("under base");
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
}

/// Parses a fixture file, named by its path relative to the app folder.
fn parse_app_file(app: &str, rel: &str) -> FileRecord {
    let bytes = std::fs::read(fixtures().join("apps").join(app).join(rel)).expect("fixture file");
    parse_js(rel, &bytes)
}

/// Loads a resolution fixture, parses its JS/TS files, resolves them, and returns every edge as
/// `from:line kind raw -> internal:path | external:package | unresolved:reason`.
fn edges_of(case: &str) -> Vec<String> {
    let base = fixtures().join("resolve").join(case);
    let mut paths = Vec::new();
    walk(&base, &base, &mut paths);
    paths.sort();
    let mut snapshot = MemorySnapshot::new(paths.clone());
    let mut records = Vec::new();
    for p in &paths {
        let bytes = std::fs::read(base.join(p)).expect("fixture file");
        if MemorySnapshot::wants_content(p) {
            snapshot.insert(p, bytes.clone());
        }
        if js_language(p).is_some() {
            records.push(parse_js(p, &bytes));
        }
    }
    let resolver = JsResolver::new(&snapshot);
    resolve_all(&mut records, &resolver);
    let mut edges = Vec::new();
    for r in &records {
        for i in &r.imports {
            let to = match (&i.resolved, i.external, &i.package, &i.unresolved_reason) {
                (Some(p), false, None, None) => format!("internal:{p}"),
                (None, true, Some(pkg), None) => format!("external:{pkg}"),
                (None, false, None, Some(reason)) => format!("unresolved:{reason}"),
                other => panic!("inconsistent import fields {other:?}"),
            };
            edges.push(format!(
                "{}:{} {} {} -> {to}",
                r.path,
                i.line,
                kind(i.kind),
                i.raw
            ));
        }
    }
    edges
}

fn kind(k: ImportKind) -> &'static str {
    match k {
        ImportKind::Esm => "esm",
        ImportKind::Cjs => "cjs",
        ImportKind::Dynamic => "dynamic",
        ImportKind::Reexport => "reexport",
        ImportKind::Type => "type",
        ImportKind::Py => "py",
        ImportKind::PyRelative => "py-relative",
    }
}

fn routes_of(r: &FileRecord) -> Vec<String> {
    r.routes
        .iter()
        .map(|r| {
            format!(
                "{} {} {} @{} [{}]",
                r.method, r.path, r.handler, r.line, r.framework
            )
        })
        .collect()
}

// ---------------------------------------------------------------- parsing

/// name, params, async, line, decorators
type FnSummary<'a> = (&'a str, Vec<&'a str>, bool, u32, Vec<&'a str>);

#[test]
fn every_import_form_with_its_line() {
    let src = r#"import React, { useState, type FC } from 'react';
import type { Props } from './types';
import { type A, type B } from './ab';
import './polyfill';
export { x, y as z } from './reexp';
export type { T } from './types2';
export * from './star';
export * as ns from './ns';
import data from './data.json' with { type: 'json' };
const lazy = () => import('./lazy');
const tpl = import(`./tpl`);
const skipped = import(`./x/${name}`);
function load() { return require('./inner'); }
import fs = require('fs');
import type T2 = require('./t2');
export const c = [React, useState, data, lazy, tpl, skipped, load, fs];
"#;
    let r = parse_js("src/forms.ts", src.as_bytes());
    let got: Vec<(u32, &str, &str, Vec<&str>)> = r
        .imports
        .iter()
        .map(|i| {
            (
                i.line,
                kind(i.kind),
                i.raw.as_str(),
                i.names.iter().map(|n| n.as_str()).collect(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (1, "esm", "react", vec!["default", "useState", "FC"]),
            (2, "type", "./types", vec!["Props"]),
            (3, "type", "./ab", vec!["A", "B"]),
            (4, "esm", "./polyfill", vec![]),
            (5, "reexport", "./reexp", vec!["x", "y"]),
            (6, "type", "./types2", vec!["T"]),
            (7, "reexport", "./star", vec!["*"]),
            (8, "reexport", "./ns", vec!["*"]),
            (9, "esm", "./data.json", vec!["default"]),
            (10, "dynamic", "./lazy", vec![]),
            (11, "dynamic", "./tpl", vec![]),
            (13, "cjs", "./inner", vec![]),
            (14, "cjs", "fs", vec![]),
            (15, "type", "./t2", vec![]),
        ]
    );
    assert_eq!(
        r.symbols.get("dynamicImports"),
        Some(&vec!["`./x/${name}`".into()])
    );
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    assert_eq!(
        (r.language, r.ext.as_str(), r.lines),
        (Language::Ts, "ts", 16)
    );
}

#[test]
fn require_in_commonjs_and_declaration_files() {
    let cjs = parse_js(
        "lib/index.cjs",
        b"const a = require('./a');\nif (x) { require(\"b\"); }\nrequire(name);\n",
    );
    let raws: Vec<(&str, u32)> = cjs
        .imports
        .iter()
        .map(|i| (i.raw.as_str(), i.line))
        .collect();
    assert_eq!(raws, vec![("./a", 1), ("b", 2)]);
    let dts = parse_js(
        "types/index.d.ts",
        b"import type { X } from './x';\nexport declare function f(a: X): void;\n",
    );
    assert_eq!((dts.ext.as_str(), dts.language), ("d.ts", Language::Ts));
    assert_eq!(dts.imports.len(), 1);
    assert_eq!(
        dts.functions
            .iter()
            .map(|f| f.name.as_str())
            .collect::<Vec<_>>(),
        vec!["f"]
    );
}

#[test]
fn exports_functions_and_classes() {
    let src = r#"export const Button = ({ label, onClick }) => <button onClick={onClick}>{label}</button>;
export default function App(props) { return <div />; }
export async function load(a, b = 1, ...rest) {}
function helper({ a, b }, [c]) { function inner() {} }
export class Store extends Base implements IStore {
  @observable items = [];
  @action('x') async fetch(id) {}
  static create() {}
  #secret() {}
  handle = async (e) => {};
}
export enum Color { Red }
export interface Shape {}
export type Size = number;
const hidden = function () {};
export { hidden as visible };
"#;
    let r = parse_js("src/App.tsx", src.as_bytes());
    assert_eq!(
        r.exports,
        vec!["Button", "default", "load", "Store", "Color", "Shape", "Size", "visible"]
    );
    let fns: Vec<FnSummary<'_>> = r
        .functions
        .iter()
        .map(|f| {
            (
                f.name.as_str(),
                f.params.iter().map(|n| n.as_str()).collect(),
                f.is_async,
                f.line,
                f.decorators.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        fns,
        vec![
            ("Button", vec!["{label, onClick}"], false, 1, vec![]),
            ("App", vec!["props"], false, 2, vec![]),
            ("load", vec!["a", "b", "...rest"], true, 3, vec![]),
            ("helper", vec!["{a, b}", "[c]"], false, 4, vec![]),
            ("Store.fetch", vec!["id"], true, 7, vec!["action('x')"]),
            ("Store.create", vec![], false, 8, vec![]),
            ("Store.#secret", vec![], false, 9, vec![]),
            ("Store.handle", vec!["e"], true, 10, vec![]),
            ("hidden", vec![], false, 15, vec![]),
        ]
    );
    assert_eq!(r.classes.len(), 1);
    let c = &r.classes[0];
    assert_eq!((c.name.as_str(), c.line), ("Store", 5));
    assert_eq!(c.bases, vec!["Base", "IStore"]);
    assert_eq!(c.methods, vec!["fetch", "create", "#secret", "handle"]);
    assert_eq!(r.symbols.get("enums"), Some(&vec!["Color".into()]));
    assert_eq!(
        r.symbols.get("types"),
        Some(&vec!["Shape".into(), "Size".into()])
    );
    assert!(r.hints.is_react_component);
    assert_eq!(r.hints.framework, None);
}

#[test]
fn commonjs_exports() {
    let src = "exports.handler = async (event) => event;\nmodule.exports.other = 1;\nmodule.exports = { a, b: function () {} };\n";
    let r = parse_js("lambda.js", src.as_bytes());
    assert_eq!(r.exports, vec!["handler", "other", "default", "a", "b"]);
    let names: Vec<&str> = r.functions.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, vec!["handler", "b"]);
}

#[test]
fn express_routes() {
    let server = parse_app_file("express", "server.js");
    assert_eq!(
        routes_of(&server),
        vec![
            "GET /health health @11 [express]",
            "POST /users createUser @12 [express]",
            "GET /users/:id getUser @15 [express]",
            "PUT /users/:id updateUser @16 [express]",
            "DELETE /users/:id removeUser @17 [express]",
            "ANY * notFound @20 [express]",
        ]
    );
    assert_eq!(server.hints.framework.as_deref(), Some("express"));
    assert!(server.hints.is_route && server.hints.is_api);
    let users = parse_app_file("express", "routes/users.ts");
    assert_eq!(
        routes_of(&users),
        vec![
            "GET / controller.list @7 [express]",
            "PATCH /:id  @8 [express]",
            "DELETE /:id controller.remove @11 [express]",
            "DELETE /by-email/:email controller.remove @11 [express]",
        ]
    );
    // An axios instance named `api` is an HTTP client, not a router.
    let client = parse_app_file("express", "client/api.ts");
    assert!(client.routes.is_empty(), "{:?}", routes_of(&client));
    assert!(!client.hints.is_route);
}

#[test]
fn koa_router_routes() {
    let app = parse_app_file("koa", "app.ts");
    assert_eq!(
        routes_of(&app),
        vec![
            "GET /items listItems @8 [koa]",
            "GET /items/:id getItem @9 [koa]",
            "DELETE /items/:id removeItem @10 [koa]",
            "POST /items  @11 [koa]",
        ]
    );
    assert_eq!(app.hints.framework.as_deref(), Some("koa"));
}

#[test]
fn fastify_routes() {
    let server = parse_app_file("fastify", "server.ts");
    assert_eq!(
        routes_of(&server),
        vec![
            "GET /ping  @7 [fastify]",
            "GET /items listItems @8 [fastify]",
            "HEAD /items listItems @8 [fastify]",
            "POST /items createItem @13 [fastify]",
        ]
    );
    let plugin = parse_app_file("fastify", "routes.ts");
    assert_eq!(
        routes_of(&plugin),
        vec!["DELETE /items/:id removeItem @5 [fastify]"]
    );
}

#[test]
fn nestjs_controller_routes() {
    let c = parse_app_file("nest", "users.controller.ts");
    assert_eq!(
        routes_of(&c),
        vec![
            "GET /users UsersController.findAll @8 [nestjs]",
            "GET /users/:id UsersController.findOne @13 [nestjs]",
            "POST /users UsersController.create @18 [nestjs]",
        ]
    );
    assert_eq!(c.hints.framework.as_deref(), Some("nestjs"));
}

#[test]
fn nextjs_app_router() {
    let api = parse_app_file("next", "app/api/users/[id]/route.ts");
    assert_eq!(
        routes_of(&api),
        vec![
            "GET /api/users/[id] GET @4 [nextjs-app]",
            "DELETE /api/users/[id] DELETE @8 [nextjs-app]"
        ]
    );
    assert!(api.hints.is_route && api.hints.is_api);
    assert_eq!(api.hints.framework.as_deref(), Some("next"));
    let page = parse_app_file("next", "app/(marketing)/about/page.tsx");
    assert_eq!(
        routes_of(&page),
        vec!["PAGE /about AboutPage @3 [nextjs-app]"]
    );
    assert!(page.hints.is_route && !page.hints.is_api && page.hints.is_react_component);
    let counter = parse_app_file("next", "app/dashboard/counter.tsx");
    assert!(counter.routes.is_empty());
    assert!(counter.hints.is_client_component && counter.hints.is_react_component);
    assert_eq!(counter.hints.framework.as_deref(), Some("react"));
}

#[test]
fn nextjs_pages_router() {
    let api = parse_app_file("next", "pages/api/hello.ts");
    assert_eq!(
        routes_of(&api),
        vec!["ANY /api/hello handler @3 [nextjs-pages]"]
    );
    assert!(api.hints.is_api);
    let post = parse_app_file("next", "pages/blog/[slug].tsx");
    assert_eq!(
        routes_of(&post),
        vec!["PAGE /blog/[slug] Post @3 [nextjs-pages]"]
    );
    assert!(post.hints.is_react_component && !post.hints.is_api);
    let app = parse_app_file("next", "pages/_app.tsx");
    assert!(app.routes.is_empty() && !app.hints.is_route);
    // The same file under src/ is routed the same way.
    let bytes = std::fs::read(fixtures().join("apps/next/pages/api/hello.ts")).expect("fixture");
    let under_src = parse_js("src/pages/api/hello.ts", &bytes);
    assert_eq!(
        routes_of(&under_src),
        vec!["ANY /api/hello handler @3 [nextjs-pages]"]
    );
}

// ---------------------------------------------------------------- hostile inputs

#[test]
fn deep_nesting_of_every_kind_parses_without_overflow() {
    let n = 100_000;
    let cases = [
        format!(
            "import a from './a';\nconst x = {}1{};\n",
            "(".repeat(n),
            ")".repeat(n)
        ),
        format!(
            "import a from './a';\nconst x = {}1{};\n",
            "[".repeat(n),
            "]".repeat(n)
        ),
        format!(
            "import a from './a';\nconst x = {}1{};\n",
            "{a:".repeat(n),
            "}".repeat(n)
        ),
        format!(
            "import a from './a';\n{}{}\n",
            "function f(){".repeat(n),
            "}".repeat(n)
        ),
    ];
    for src in cases {
        let r = parse_js("deep.js", src.as_bytes());
        assert!(!r.skipped, "{:?}", r.warnings);
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        assert_eq!(r.imports.len(), 1);
    }
}

#[test]
fn nesting_beyond_the_limit_is_skipped_with_a_warning() {
    let n = MAX_NESTING + 1;
    let src = format!("const x = {}1{};\n", "(".repeat(n), ")".repeat(n));
    let r = parse_js("deeper.js", src.as_bytes());
    assert!(r.skipped);
    assert_eq!(r.skip_reason.as_deref(), Some("too_deeply_nested"));
    assert_eq!(r.warnings[0].code, "too_deeply_nested");
    assert_eq!((r.size, r.lines), (src.len() as u64, 1));
    assert_eq!(r.hash.len(), 64);
}

#[test]
fn fifty_megabyte_one_line_file() {
    let mut src = String::with_capacity(50 << 20);
    src.push_str("import a from './a'; const s = \"");
    while src.len() < 45 << 20 {
        src.push_str("abcdefghij0123456789");
    }
    src.push_str("\"; const arr = [");
    while src.len() < 50 << 20 {
        src.push_str("1,");
    }
    src.push_str("1]; export function tail() { return require('./t'); }");
    let r = parse_js("big.js", src.as_bytes());
    assert!(!r.skipped && r.warnings.is_empty(), "{:?}", r.warnings);
    assert_eq!(r.lines, 1);
    assert!(r.size >= 50 << 20);
    let raws: Vec<&str> = r.imports.iter().map(|i| i.raw.as_str()).collect();
    assert_eq!(raws, vec!["./a", "./t"]);
    assert_eq!(
        r.functions
            .iter()
            .map(|f| f.name.as_str())
            .collect::<Vec<_>>(),
        vec!["tail"]
    );
}

#[test]
fn invalid_utf8_is_decoded_lossily_with_a_warning() {
    let mut bytes = b"import a from './a';\nconst s = '".to_vec();
    bytes.extend_from_slice(&[0xff, 0xfe, 0xc3]);
    bytes.extend_from_slice(b"';\nexport function f() {}\n");
    let r = parse_js("latin1.js", &bytes);
    assert_eq!(
        r.warnings
            .iter()
            .map(|w| w.code.as_str())
            .collect::<Vec<_>>(),
        vec!["invalid_utf8"]
    );
    assert_eq!(r.imports.len(), 1);
    assert_eq!(r.exports, vec!["f"]);
    assert_eq!(r.size, bytes.len() as u64);
}

#[test]
fn binary_file_named_js_is_skipped() {
    let mut bytes = b"\x7fELF\x02\x01\x01\x00\x00".to_vec();
    bytes.extend(std::iter::repeat_n(0u8, 4096));
    let r = parse_js("bin/tool.js", &bytes);
    assert!(r.skipped);
    assert_eq!(r.skip_reason.as_deref(), Some("binary"));
    assert!(r.imports.is_empty());
    assert_eq!(r.size, bytes.len() as u64);
}

#[test]
fn syntax_errors_keep_what_could_be_read() {
    // A broken line in the middle: the rest of the file is still read.
    let src = "import a from './a';\nfunction ok() {}\nconst = ;\nexport function after() { return require('./b'); }\n";
    let r = parse_js("broken.js", src.as_bytes());
    let codes: Vec<&str> = r.warnings.iter().map(|w| w.code.as_str()).collect();
    assert_eq!(codes, vec!["parse_error", "parse_recovered"]);
    assert!(
        r.warnings[0].message.starts_with("line 3:"),
        "{}",
        r.warnings[0].message
    );
    assert_eq!(
        r.imports.iter().map(|i| i.raw.as_str()).collect::<Vec<_>>(),
        vec!["./a", "./b"]
    );
    assert_eq!(
        r.functions
            .iter()
            .map(|f| f.name.as_str())
            .collect::<Vec<_>>(),
        vec!["ok", "after"]
    );
    // Unclosed to the end: imports and exports read before the error survive.
    let src =
        "import a from './a';\nexport * from './b';\nexport const k = 1;\nfunction broken( {\n";
    let r = parse_js("unclosed.ts", src.as_bytes());
    assert_eq!(r.warnings[0].code, "parse_error");
    let got: Vec<(&str, &str)> = r
        .imports
        .iter()
        .map(|i| (i.raw.as_str(), kind(i.kind)))
        .collect();
    assert_eq!(got, vec![("./a", "esm"), ("./b", "reexport")]);
    assert_eq!(r.exports, vec!["k"]);
    assert!(!r.skipped);
}

// ---------------------------------------------------------------- resolution

#[test]
fn relative_chains_index_and_extension_probing() {
    assert_eq!(
        edges_of("relative"),
        vec![
            "scripts/build.mjs:1 esm ../src/features/cart/view/CartView.js -> internal:src/features/cart/view/CartView.ts",
            "scripts/build.mjs:2 esm ../package.json -> internal:package.json",
            "scripts/build.mjs:3 dynamic ./local.cjs -> internal:scripts/local.cjs",
            "src/features/cart/view/CartView.ts:1 esm ../../../utils/format -> internal:src/utils/format.ts",
            "src/features/cart/view/CartView.ts:2 esm ../../../api -> internal:src/api/index.ts",
            "src/features/cart/view/CartView.ts:3 esm ../model.js -> internal:src/features/cart/model.ts",
            "src/features/cart/view/CartView.ts:4 esm ../../../../config.json -> internal:config.json",
            "src/features/cart/view/CartView.ts:5 esm ../../../styles/cart.css -> internal:src/styles/cart.css",
            "src/features/cart/view/CartView.ts:6 esm ./helper -> internal:src/features/cart/view/helper.tsx",
            "src/features/cart/view/CartView.ts:7 esm ../../../missing/thing -> unresolved:not_found",
        ]
    );
}

#[test]
fn tsconfig_paths_without_base_url_from_the_nearest_tsconfig() {
    assert_eq!(
        edges_of("paths"),
        vec![
            "src/app.ts:1 esm @/utils/fmt -> internal:src/utils/fmt.ts",
            "src/app.ts:2 esm ~lib -> internal:lib/main.ts",
            "src/app.ts:3 esm @/nope -> unresolved:path_alias_not_found",
            "src/app.ts:4 esm react -> external:react",
            "tools/src/run.ts:1 esm @/helper -> internal:tools/src/helper.ts",
        ]
    );
}

#[test]
fn tsconfig_extends_chain() {
    assert_eq!(
        edges_of("extends"),
        vec![
            "src/main.ts:1 esm @shared/math -> internal:shared/math.ts",
            "src/main.ts:2 esm src/pages/Page -> internal:src/pages/Page.tsx",
        ]
    );
}

#[test]
fn tsconfig_with_comments_and_trailing_commas() {
    assert_eq!(
        edges_of("comments"),
        vec![
            "src/index.ts:1 esm components/Button -> internal:src/components/Button.tsx",
            "src/index.ts:2 esm #ui/Card -> internal:src/components/ui/Card.tsx",
        ]
    );
}

#[test]
fn unusable_tsconfigs_and_jsconfig() {
    // A missing npm base config is dropped (the file's own paths still apply), a tsconfig that is
    // not JSON leaves relative imports working, and jsconfig.json counts as a tsconfig.
    assert_eq!(
        edges_of("configs"),
        vec![
            "broken/x.ts:1 esm ./y -> internal:broken/y.ts",
            "broken/x.ts:2 esm @/b -> unresolved:alias_not_found",
            "src/a.ts:1 esm @/b -> internal:src/b.ts",
            "web/app.js:1 esm ~/util -> internal:web/lib/util.js",
            "web/app.js:2 esm components/Nav -> internal:web/components/Nav.jsx",
        ]
    );
}

#[test]
fn solution_style_tsconfig_and_files_outside_include() {
    // Vite's layout: tsconfig.json only references app/node configs. Files the app config does
    // not include (tests/, a .js file without allowJs) still get its paths.
    assert_eq!(
        edges_of("vite"),
        vec![
            "src/legacy.js:1 esm @/App -> internal:src/App.tsx",
            "src/main.tsx:1 esm react-dom/client -> external:react-dom",
            "src/main.tsx:2 esm @/App -> internal:src/App.tsx",
            "src/main.tsx:3 esm ./index.css -> internal:src/index.css",
            "tests/app.test.tsx:1 esm vitest -> external:vitest",
            "tests/app.test.tsx:2 esm @/App -> internal:src/App.tsx",
            "tests/app.test.tsx:3 esm @/gone -> unresolved:path_alias_not_found",
            "vite.config.ts:1 esm vite -> external:vite",
            "vite.config.ts:2 esm @vitejs/plugin-react -> external:@vitejs/plugin-react",
            "vite.config.ts:3 esm node:path -> external:node:path",
        ]
    );
}

#[test]
fn pnpm_workspace_sibling_packages() {
    assert_eq!(
        edges_of("pnpm"),
        vec![
            "apps/web/src/page.ts:1 esm @acme/core -> internal:packages/core/src/index.ts",
            "apps/web/src/page.ts:2 esm @acme/core/sub -> internal:packages/core/sub.ts",
            "apps/web/src/page.ts:3 esm @acme/utils -> internal:packages/utils/src/index.ts",
            "apps/web/src/page.ts:4 esm @acme/gen -> external:@acme/gen",
            "apps/web/src/page.ts:5 esm lodash -> external:lodash",
        ]
    );
}

#[test]
fn yarn_workspace_with_package_exports_conditions_and_imports() {
    assert_eq!(
        edges_of("yarn"),
        vec![
            "libs/shared/src/index.ts:1 esm #db -> internal:libs/shared/src/db-node.ts",
            "libs/shared/src/index.ts:2 esm #utils/strings -> internal:libs/shared/src/utils/strings.ts",
            "libs/shared/src/index.ts:3 esm #missing -> unresolved:imports_not_found",
            "services/api/server.js:1 cjs shared-lib -> internal:libs/shared/src/index.ts",
            "services/api/server.js:2 cjs shared-lib/feature -> internal:libs/shared/src/feature.ts",
            "services/api/server.js:3 cjs express -> external:express",
        ]
    );
}

#[test]
fn edge_policy_root_files_named_like_packages_and_builtins() {
    assert_eq!(
        edges_of("policy"),
        vec![
            "src/index.test.ts:1 esm vitest -> external:vitest",
            "src/index.test.ts:2 esm lodash -> external:lodash",
            "src/index.test.ts:3 esm fs -> external:node:fs",
            "src/index.test.ts:4 esm node:fs/promises -> external:node:fs",
            "src/index.test.ts:5 esm path -> external:node:path",
            "src/index.test.ts:6 esm node:test -> external:node:test",
            "src/index.test.ts:7 esm @/aliased -> unresolved:alias_not_found",
            "src/index.test.ts:8 esm ~/home -> unresolved:alias_not_found",
            // baseUrl "." would map `vitest` to web/vitest.d.ts: an ambient typings file stays
            // external, while real code under baseUrl resolves.
            "web/spec.ts:1 esm vitest -> external:vitest",
            "web/spec.ts:2 esm lib/api -> internal:web/lib/api.ts",
        ]
    );
}

#[test]
fn import_kinds_type_reexport_dynamic_require_json() {
    assert_eq!(
        edges_of("kinds"),
        vec![
            "src/main.ts:1 type ./types -> internal:src/types.ts",
            "src/main.ts:2 type ./shapes -> internal:src/shapes.ts",
            "src/main.ts:3 reexport ./helper -> internal:src/helper.ts",
            "src/main.ts:4 reexport ./constants -> internal:src/constants.ts",
            "src/main.ts:5 type ./theme -> internal:src/theme.ts",
            "src/main.ts:6 dynamic ./lazy -> internal:src/lazy.ts",
            "src/main.ts:7 cjs ./legacy -> internal:src/legacy.js",
            "src/main.ts:8 cjs fs -> external:node:fs",
            "src/main.ts:9 esm ./data.json -> internal:src/data.json",
        ]
    );
}

#[test]
fn resolver_answers_single_specifiers() {
    let mut snap = MemorySnapshot::new(["src/a.ts".to_string(), "src/b/index.tsx".to_string()]);
    snap.insert(
        "package.json",
        br##"{"name": "x", "imports": {"#b": "./src/b/index.tsx"}}"##.to_vec(),
    );
    let resolver = JsResolver::new(&snap);
    assert_eq!(
        resolver.resolve_specifier("src/a.ts", "./b"),
        Resolution::Internal("src/b/index.tsx".into())
    );
    assert_eq!(
        resolver.resolve_specifier("src/a.ts", "#b"),
        Resolution::Internal("src/b/index.tsx".into())
    );
    assert_eq!(
        resolver.resolve_specifier("src/a.ts", "@scope/pkg/deep/x"),
        Resolution::External("@scope/pkg".into())
    );
    assert_eq!(
        resolver.resolve_specifier("src/a.ts", "fs/promises"),
        Resolution::External("node:fs".into())
    );
    assert_eq!(
        resolver.resolve_specifier("src/a.ts", "../../../etc/passwd"),
        Resolution::Unresolved("not_found".into())
    );
    assert_eq!(
        resolver.resolve_specifier("src/a.ts", "/abs/x"),
        Resolution::Unresolved("not_found".into())
    );
    assert_eq!(
        resolver.resolve_specifier("src/a.ts", ""),
        Resolution::Unresolved("empty_specifier".into())
    );
}

/// Issue 9 item 10: a broken package.json (truncated, or nested far beyond any parser's limit)
/// must not turn the relative imports below it into `not_found`.
#[test]
fn broken_package_json_keeps_relative_imports_resolving() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    for manifest in [r#"{"name": "x", "#.to_string(), deep] {
        let mut snap = MemorySnapshot::new([
            "app/src/a.ts".to_string(),
            "app/src/b/index.tsx".to_string(),
            "app/src/c.js".to_string(),
        ]);
        snap.insert("app/package.json", manifest.as_bytes().to_vec());
        let resolver = JsResolver::new(&snap);
        assert_eq!(
            resolver.resolve_specifier("app/src/a.ts", "./b"),
            Resolution::Internal("app/src/b/index.tsx".into())
        );
        assert_eq!(
            resolver.resolve_specifier("app/src/c.js", "./a"),
            Resolution::Internal("app/src/a.ts".into())
        );
        let broken = resolver.broken_manifests();
        assert_eq!(broken.len(), 1, "{broken:?}");
        assert_eq!(broken[0].0, "app/package.json");
        assert!(broken[0].1.contains("package.json"), "{broken:?}");
    }
}

mod compose;
mod kept;
mod regressions;
