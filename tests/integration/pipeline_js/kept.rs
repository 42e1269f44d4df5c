//! Kept JS/TS resolutions (issue 10 goal 3): a re-analysis whose file list and config files
//! are unchanged reuses the resolutions of the run before it and resolves only specifiers new
//! to a file; any other change resolves everything again. Either way the records equal those
//! of a run with nothing kept.

use provis::pipeline::js::{environment, write_kept, KeptResolutions};
use provis::pipeline::model::FileRecord;
use provis::pipeline::{parse_file, resolve_imports_reusing, Resolved};
use serde_json::Value;
use std::collections::BTreeMap;

/// A small app: a tsconfig alias, a package, a missing file and a broken package.json.
fn app() -> BTreeMap<&'static str, String> {
    [
        (
            "tsconfig.json",
            r#"{"compilerOptions": {"baseUrl": ".", "paths": {"@/*": ["src/*"]}}}"#,
        ),
        (
            "package.json",
            r#"{"name": "app", "dependencies": {"react": "18"}}"#,
        ),
        (
            "src/a.ts",
            "import { b } from \"@/b\";\nimport React from \"react\";\nimport \"./missing\";\n",
        ),
        (
            "src/b.ts",
            "import { y } from \"../pkg/y\";\nexport const b = y;\n",
        ),
        ("pkg/package.json", "{ \"name\": "),
        ("pkg/x.ts", "import \"./y\";\n"),
        ("pkg/y.ts", "export const y = 1;\n"),
    ]
    .into_iter()
    .map(|(p, t)| (p, t.to_string()))
    .collect()
}

/// Parses the tree as merge has it: every file a record, sorted by path, and the config texts.
fn parsed(tree: &BTreeMap<&str, String>) -> (Vec<FileRecord>, BTreeMap<String, String>) {
    let records = tree
        .iter()
        .map(|(p, t)| parse_file(p, t.as_bytes()))
        .collect();
    let configs = tree
        .iter()
        .filter(|(p, _)| provis::pipeline::is_resolver_config(p))
        .map(|(p, t)| (p.to_string(), t.clone()))
        .collect();
    (records, configs)
}

/// Resolves the tree, reusing `kept` (as stored bytes) when given.
fn resolve(tree: &BTreeMap<&str, String>, kept: Option<&[u8]>) -> (Vec<FileRecord>, Resolved) {
    let (mut records, configs) = parsed(tree);
    let kept = kept.map(|b| KeptResolutions::decode(b).expect("a kept document"));
    let resolved = resolve_imports_reusing(&mut records, &configs, kept);
    (records, resolved)
}

/// What a run keeps.
fn kept_of(records: &[FileRecord], resolved: &Resolved) -> Vec<u8> {
    let mut out = Vec::new();
    let env = resolved.env.as_deref().expect("a JS environment");
    write_kept(&mut out, env, records, &resolved.warnings).expect("write");
    out
}

fn imports_of<'a>(records: &'a [FileRecord], path: &str) -> &'a [provis::pipeline::model::Import] {
    &records
        .iter()
        .find(|r| r.path == path)
        .unwrap_or_else(|| panic!("{path} in the records"))
        .imports
}

#[test]
fn an_edited_file_resolves_only_its_new_specifiers_and_equals_a_fresh_run() {
    let tree = app();
    let (first, cold) = resolve(&tree, None);
    assert_eq!((cold.js_reused, cold.js_resolved), (0, 5), "{cold:?}");
    assert!(cold.worth_keeping());
    assert_eq!(
        cold.warnings.len(),
        1,
        "the broken pkg/package.json: {cold:?}"
    );
    let kept = kept_of(&first, &cold);

    let mut edited = tree.clone();
    edited.insert(
        "src/a.ts",
        "// edited\nimport { b } from \"@/b\";\nimport React from \"react\";\nimport \"./missing\";\nimport { x } from \"@/gone\";\n"
            .to_string(),
    );
    let (warm, reused) = resolve(&edited, Some(&kept));
    assert_eq!(
        (reused.js_reused, reused.js_resolved),
        (5, 1),
        "only the new specifier is resolved: {reused:?}"
    );
    assert_eq!(reused.env, cold.env, "an edit keeps the environment");
    let (fresh, fresh_resolved) = resolve(&edited, None);
    assert_eq!(warm, fresh, "reusing gives the records of a fresh run");
    assert_eq!(reused.warnings, fresh_resolved.warnings);
    assert!(
        warm.iter()
            .any(|r| r.path == "pkg/package.json" && !r.warnings.is_empty()),
        "the kept config warning is on its file again"
    );
    let new = &imports_of(&warm, "src/a.ts")[3];
    assert_eq!(
        new.unresolved_reason.as_deref(),
        Some("path_alias_not_found")
    );

    // Nothing new at all: nothing is resolved, so nothing new is worth keeping.
    let (again, all_kept) = resolve(&tree, Some(&kept));
    assert_eq!((all_kept.js_reused, all_kept.js_resolved), (5, 0));
    assert!(!all_kept.worth_keeping());
    assert_eq!(again, first);
}

/// The reused answers come from the kept document, not from resolving again: a kept
/// resolution changed by hand is what the record gets.
#[test]
fn reused_resolutions_are_read_from_the_kept_document() {
    let tree = app();
    let (first, cold) = resolve(&tree, None);
    let mut doc: Value = serde_json::from_slice(&kept_of(&first, &cold)).expect("json");
    let paths: Vec<&str> = first.iter().map(|r| r.path.as_str()).collect();
    let a = paths.iter().position(|p| *p == "src/a.ts").expect("a.ts") as u64;
    let y = paths.iter().position(|p| *p == "pkg/y.ts").expect("y.ts") as u64;
    let files = doc["files"].as_array_mut().expect("files");
    let entry = files
        .iter_mut()
        .find(|f| f[0] == a)
        .expect("src/a.ts is kept");
    assert_eq!(entry[1][0][0], "@/b");
    entry[1][0][1] = serde_json::json!({ "I": y });
    let tampered = serde_json::to_vec(&doc).expect("json");
    let (warm, reused) = resolve(&tree, Some(&tampered));
    assert_eq!(reused.js_resolved, 0);
    assert_eq!(
        imports_of(&warm, "src/a.ts")[0].resolved.as_deref(),
        Some("pkg/y.ts")
    );
}

/// A new file or an edited config is another environment: every import is resolved again,
/// and the records are those of a fresh run (here the alias no longer leads to `src/b.ts`).
#[test]
fn a_new_file_or_an_edited_config_resolves_everything_again() {
    let tree = app();
    let (first, cold) = resolve(&tree, None);
    let kept = kept_of(&first, &cold);

    let mut added = tree.clone();
    added.insert("src/missing.ts", "export {};\n".to_string());
    let mut config = tree.clone();
    config.insert(
        "tsconfig.json",
        r#"{"compilerOptions": {"baseUrl": ".", "paths": {"@/*": ["pkg/*"]}}}"#.to_string(),
    );
    for (what, changed) in [("a new file", added), ("an edited tsconfig", config)] {
        let (warm, reused) = resolve(&changed, Some(&kept));
        assert_ne!(reused.env, cold.env, "{what}");
        assert_eq!(reused.js_reused, 0, "{what}: {reused:?}");
        let (fresh, _) = resolve(&changed, None);
        assert_eq!(warm, fresh, "{what}");
        assert_ne!(
            imports_of(&warm, "src/a.ts"),
            imports_of(&first, "src/a.ts"),
            "{what} changes how src/a.ts resolves"
        );
    }
    assert_ne!(
        environment(&first, &BTreeMap::new()),
        cold.env.clone().expect("env"),
        "the config texts are part of the environment"
    );
}
