//! `provis analyze <dir|zip> --out DIR --json`: the same pipeline in one process, a JSON
//! summary on stdout, artifacts under --out, and a non-zero exit with the rule's code when a
//! zip is refused.

use super::fixtures::{self, PY_EDGES, PY_EXTERNAL, TS_EDGES, TS_EXTERNAL};
use super::support::{provis_command, Root, KINDS};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

fn analyze(root: &Root, input: &Path, out: &Path) -> Output {
    provis_command(&root.cwd(), &root.tmp())
        .arg("analyze")
        .arg(input)
        .arg("--out")
        .arg(out)
        .arg("--json")
        .output()
        .expect("run provis analyze")
}

fn summary(out: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("--json prints JSON ({e}): {stdout}"))
}

/// Every kind is written to `<out>/<kind>.json`; returns them by kind.
fn artifacts(out: &Path) -> Vec<(String, Value)> {
    KINDS
        .iter()
        .map(|k| {
            let p = out.join(format!("{k}.json"));
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            assert!(!bytes.is_empty());
            let doc: Value = serde_json::from_slice(&bytes).expect("artifact JSON");
            assert!(doc["schemaVersion"].is_number(), "{k}");
            (k.to_string(), doc)
        })
        .collect()
}

#[test]
fn analyze_a_directory_prints_a_json_summary_and_writes_artifacts() {
    let root = Root::new();
    let src = root.inputs().join("shop");
    let repo = fixtures::py_pkg();
    repo.write_to(&src);
    let out = root.path().join("out-dir");
    let s = summary(&analyze(&root, &src, &out));
    assert_eq!(s["files"], repo.len() as u64, "{s}");
    assert_eq!(s["languages"]["py"], 9, "{s}");
    assert_eq!(s["edges"]["internal"], PY_EDGES.len() as u64, "{s}");
    assert_eq!(s["edges"]["external"], PY_EXTERNAL.len() as u64, "{s}");
    assert_eq!(s["edges"]["unresolved"], 1, "{s}");
    assert_eq!(s["routes"], 3, "{s}");
    assert_eq!(s["cacheHit"], false, "{s}");
    assert!(
        s["commitHash"].as_str().is_some_and(|h| h.len() == 64),
        "{s}"
    );
    assert!(s["elapsedMs"].is_number(), "{s}");
    let docs = artifacts(&out);
    let files = &docs.iter().find(|d| d.0 == "files").expect("files").1;
    assert_eq!(files["files"].as_array().map(Vec::len), Some(repo.len()));
    let graph = &docs.iter().find(|d| d.0 == "graph").expect("graph").1;
    assert_eq!(graph["metrics"]["internal"], PY_EDGES.len() as u64);
    // The directory was analysed in place: nothing was written into it.
    let mut listed = super::support::files_under(&src);
    listed.sort();
    let mut want: Vec<String> = repo.files.iter().map(|f| f.0.clone()).collect();
    want.sort();
    assert_eq!(listed, want);

    // Analysing the same tree again is a cache hit with the same hash.
    let again = summary(&analyze(&root, &src, &out));
    assert_eq!(again["cacheHit"], true, "{again}");
    assert_eq!(again["commitHash"], s["commitHash"]);
    assert_eq!(again["edges"], s["edges"]);
}

#[test]
fn analyze_a_zip_prints_a_json_summary_and_writes_artifacts() {
    let root = Root::new();
    let repo = fixtures::ts_app();
    let zip = root.input("ts-app.zip", &repo.zip());
    let out = root.path().join("out-zip");
    let s = summary(&analyze(&root, &zip, &out));
    assert_eq!(s["files"], repo.len() as u64, "{s}");
    assert_eq!(s["languages"]["ts"], 8, "{s}");
    assert_eq!(s["edges"]["internal"], TS_EDGES.len() as u64, "{s}");
    assert_eq!(s["edges"]["external"], TS_EXTERNAL.len() as u64, "{s}");
    assert_eq!(s["edges"]["unresolved"], 1, "{s}");
    assert_eq!(s["routes"], 3, "{s}");
    let docs = artifacts(&out);
    let files = &docs.iter().find(|d| d.0 == "files").expect("files").1;
    let index = files["files"]
        .as_array()
        .expect("files")
        .iter()
        .find(|f| f["path"] == "src/index.ts")
        .expect("src/index.ts");
    let resolved: Vec<(&str, &str)> = index["imports"]
        .as_array()
        .expect("imports")
        .iter()
        .filter_map(|i| Some((i["raw"].as_str()?, i["resolved"].as_str()?)))
        .collect();
    assert!(
        resolved.contains(&("@lib/math", "src/lib/math.ts")),
        "{resolved:?}"
    );
}

/// The numbers `keys` of the first line of the run's log with message `message`.
fn log_counts<const N: usize>(out: &Output, message: &str, keys: [&str; N]) -> [u64; N] {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line: Value = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|l| l["message"] == message)
        .unwrap_or_else(|| panic!("no {message:?} line in the log:\n{stderr}"));
    keys.map(|k| line[k].as_u64().unwrap_or_else(|| panic!("{k} in {line}")))
}

/// `(files, recognised)` of the run's accepted zip, from its log.
fn zip_counts(out: &Output) -> (u64, u64) {
    let [x, y] = log_counts(out, "zip accepted", ["files", "recognised"]);
    (x, y)
}

/// Issue 10 goal 3: a zip of the repository uploaded again is not inflated again where its
/// entries' compressed bytes are unchanged (the last upload's inspection kept what they hold),
/// and the run equals a cold one.
#[test]
fn a_zip_analysed_again_inflates_only_its_changed_entries() {
    let root = Root::new();
    let repo = fixtures::ts_app();
    let out = root.path().join("out");
    let zip = root.input("app.zip", &repo.zip());
    let first = analyze(&root, &zip, &out);
    summary(&first);
    let n = repo.len() as u64;
    assert_eq!(
        zip_counts(&first),
        (n, 0),
        "nothing is known the first time"
    );

    let mut changed = repo.clone();
    for f in changed.files.iter_mut().filter(|f| f.0 == "src/lazy.ts") {
        f.1.extend_from_slice(b"export const touched = 1;\n");
    }
    let zip = root.input("app.zip", &changed.zip());
    let second = analyze(&root, &zip, &out);
    summary(&second);
    assert_eq!(
        zip_counts(&second),
        (n, n - 1),
        "every entry but the changed one is recognised"
    );
    let cold = root.path().join("cold");
    summary(&analyze(&root, &zip, &cold));
    assert_eq!(
        comparable(&out),
        comparable(&cold),
        "warm run differs from cold"
    );
    let docs = artifacts(&out);
    let files = &docs.iter().find(|d| d.0 == "files").expect("files").1;
    let lazy = files["files"]
        .as_array()
        .expect("files")
        .iter()
        .find(|f| f["path"] == "src/lazy.ts")
        .expect("src/lazy.ts");
    assert!(
        lazy["exports"].to_string().contains("touched"),
        "the changed file is read anew: {lazy}"
    );
}

#[test]
fn analyze_a_refused_zip_exits_non_zero_with_the_rule_code() {
    let root = Root::new();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "path_traversal",
            fixtures::zip_entries(&[("a.ts", b"export {};\n"), ("../../evil.ts", b"x")]),
        ),
        ("encrypted_entry", fixtures::encrypted_zip()),
        ("symlink_entry", fixtures::symlink_zip()),
    ];
    for (code, bytes) in cases {
        let zip = root.input(&format!("{code}.zip"), &bytes);
        let out = root.path().join(format!("out-{code}"));
        let o = analyze(&root, &zip, &out);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{code}: exit {:?}", o.status);
        assert!(
            stderr.contains(code),
            "{code}: stderr names the rule:\n{stderr}"
        );
        for k in KINDS {
            assert!(
                !out.join(format!("{k}.json")).exists(),
                "{code}: no {k} artifact"
            );
        }
    }
    assert!(!root.path().join("evil.ts").exists());
    assert!(!root
        .path()
        .parent()
        .expect("parent")
        .join("evil.ts")
        .exists());
}

/// The artifacts of a run without what names the run (ids, times), for warm/cold comparison.
fn comparable(out: &Path) -> Vec<(String, Value)> {
    artifacts(out)
        .into_iter()
        .filter(|(k, _)| k != "metrics")
        .map(|(k, mut doc)| {
            if let Some(o) = doc.as_object_mut() {
                for id in ["repoId", "snapshotId", "generatedAt", "jobId"] {
                    o.remove(id);
                }
            }
            (k, doc)
        })
        .collect()
}

fn metric(out: &Path, key: &str) -> u64 {
    let p = out.join("metrics.json");
    let doc: Value = serde_json::from_slice(&std::fs::read(&p).expect("metrics")).expect("json");
    doc[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} in {doc}"))
}

/// `(scanned, reused)`: files the capability detectors scanned afresh and files whose kept
/// result they reused, from the run's log.
fn detector_counts(out: &Output) -> (u64, u64) {
    let [x, y] = log_counts(
        out,
        "capabilities and summaries built",
        ["scanned", "reused"],
    );
    (x, y)
}

/// `(reused, resolved)`: JS/TS imports whose kept resolution was reused and imports resolved
/// afresh, from the run's log.
fn resolution_counts(out: &Output) -> (u64, u64) {
    let [x, y] = log_counts(out, "imports resolved", ["js_reused", "js_resolved"]);
    (x, y)
}

/// Issue 10 goal 3: a re-analysis reuses the content-addressed parse records of the
/// repository's previous run for unchanged files, and its artifacts are those of a cold run of
/// the same tree. A changed file is parsed again; a changed tsconfig.json/package.json changes
/// resolution (and what depends on it) without invalidating any parse. Resolutions are kept
/// too: an edit resolves only its file's new specifiers, a changed config resolves everything.
#[test]
fn warm_runs_reuse_parse_records_and_equal_cold_runs() {
    let root = Root::new();
    let src = root.inputs().join("app");
    let repo = fixtures::ts_app();
    repo.write_to(&src);
    let warm = root.path().join("warm");
    let parsed = repo.files.iter().filter(|f| f.0.ends_with(".ts")).count() as u64;

    let first = analyze(&root, &src, &warm);
    summary(&first);
    assert_eq!(
        metric(&warm, "filesReused"),
        0,
        "nothing to reuse the first time"
    );
    assert_eq!(
        detector_counts(&first),
        (parsed, 0),
        "every code file scanned"
    );
    assert_eq!(metric(&warm, "filesParsed"), parsed);
    let (reused, imports) = resolution_counts(&first);
    assert!(
        reused == 0 && imports > 1,
        "{reused} reused, {imports} resolved"
    );

    // One changed file: parsed again, every other one reused.
    std::fs::write(
        src.join("src/lib/math.ts"),
        "import { pad } from \"../util/strings\";\nimport { User } from \"models/user\";\n\
         export function add(a: number, b: number): number { return Number(pad(String(a + b), 1)); }\n\
         export const admin = new User(\"admin\");\n",
    )
    .expect("edit");
    let second = analyze(&root, &src, &warm);
    summary(&second);
    assert_eq!(metric(&warm, "filesReused"), parsed - 1);
    assert_eq!(
        detector_counts(&second),
        (1, parsed - 1),
        "only the changed file is scanned again"
    );
    assert_eq!(
        resolution_counts(&second),
        (imports, 1),
        "only the edited file's new specifier (models/user) is resolved again"
    );
    let cold = root.path().join("cold-1");
    summary(&analyze(&root, &src, &cold));
    assert_eq!(metric(&cold, "filesReused"), 0);
    assert_eq!(
        comparable(&warm),
        comparable(&cold),
        "warm run differs from cold"
    );
    let graph = &artifacts(&warm)[2].1;
    assert!(
        graph["edges"].as_array().is_some_and(|es| es
            .iter()
            .any(|e| e["from"] == "src/lib/math.ts" && e["to"] == "models/user.ts")),
        "the edited file's new import is in the graph: {graph}"
    );

    // tsconfig.json and package.json changed: no parse is invalidated, resolution is redone.
    std::fs::write(
        src.join("tsconfig.json"),
        r#"{"compilerOptions": {"baseUrl": ".", "paths": {"@app/config": ["src/config/index.ts"]}}}"#,
    )
    .expect("edit tsconfig");
    std::fs::write(
        src.join("package.json"),
        r#"{"name": "ts-app", "version": "2.0.0", "dependencies": {"express": "^5.0.0"}}"#,
    )
    .expect("edit package.json");
    let third = analyze(&root, &src, &warm);
    summary(&third);
    assert_eq!(metric(&warm, "filesReused"), parsed);
    assert_eq!(
        resolution_counts(&third),
        (0, imports + 1),
        "new configs resolve every import again"
    );
    let (scanned, reused) = detector_counts(&third);
    assert!(
        scanned >= 1 && reused >= 1 && scanned + reused == parsed,
        "the files whose resolution changed are scanned again, the others reused: {scanned} + {reused}"
    );
    let kept: Vec<PathBuf> = walk(&warm)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("cache/detect/v1/"))
        .collect();
    assert_eq!(
        kept.len(),
        2,
        "the two newest detector results are kept: {kept:?}"
    );
    let cold = root.path().join("cold-2");
    summary(&analyze(&root, &src, &cold));
    assert_eq!(
        comparable(&warm),
        comparable(&cold),
        "warm run differs from cold"
    );
    let graph = &artifacts(&warm)[2].1;
    assert!(
        !graph["edges"].as_array().is_some_and(|es| es
            .iter()
            .any(|e| e["from"] == "src/index.ts" && e["to"] == "src/lib/math.ts")),
        "without the @lib/* path the alias no longer resolves into the repo: {graph}"
    );
}

/// Issue 10 goal 3: files the parse cache holds skip the parse batches and merge loads their
/// records; when the packs are gone by then (the cache is never needed for correctness), merge
/// parses those files itself and the artifacts are still those of a cold run.
#[test]
fn a_warm_run_whose_cache_packs_are_gone_parses_again_and_equals_a_cold_run() {
    let root = Root::new();
    let src = root.inputs().join("app");
    let repo = fixtures::ts_app();
    repo.write_to(&src);
    let warm = root.path().join("warm");
    summary(&analyze(&root, &src, &warm));
    let packs: Vec<PathBuf> = walk(&warm)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("cache/parse/v1/packs/"))
        .collect();
    assert!(!packs.is_empty(), "the first run stored its parse records");
    for p in &packs {
        std::fs::remove_file(p).expect("remove pack");
    }
    std::fs::write(src.join("src/lib/math.ts"), "export const add = 1;\n").expect("edit");
    summary(&analyze(&root, &src, &warm));
    assert_eq!(metric(&warm, "filesReused"), 0, "no pack was left to reuse");
    let parsed = repo.files.iter().filter(|f| f.0.ends_with(".ts")).count() as u64;
    assert_eq!(metric(&warm, "filesParsed"), parsed);
    let cold = root.path().join("cold");
    summary(&analyze(&root, &src, &cold));
    assert_eq!(
        comparable(&warm),
        comparable(&cold),
        "warm run differs from cold"
    );
}

/// Every file below `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Issue 9 item 10: a truncated package.json, or one nested 100,000 levels deep, is a warning on
/// that file; every relative import below it still resolves (no `not_found`), and nothing
/// overflows a stack.
#[test]
fn a_broken_package_json_is_a_warning_and_imports_still_resolve() {
    let root = Root::new();
    let deep = format!("{}{}", "{\"a\":".repeat(100_000), "}".repeat(100_000));
    for (name, manifest) in [
        ("truncated", r#"{"name": "x", "#.to_string()),
        ("deep", deep),
    ] {
        let src = root.inputs().join(name);
        fixtures::ts_app().write_to(&src);
        std::fs::write(src.join("package.json"), &manifest).expect("write package.json");
        let out = root.path().join(format!("out-{name}"));
        let s = summary(&analyze(&root, &src, &out));
        assert_eq!(s["edges"]["internal"], TS_EDGES.len() as u64, "{name}: {s}");
        assert_eq!(
            s["edges"]["unresolved"], 1,
            "{name}: only ./does-not-exist: {s}"
        );
        let docs = artifacts(&out);
        let files = &docs.iter().find(|d| d.0 == "files").expect("files").1;
        let manifest = files["files"]
            .as_array()
            .expect("files")
            .iter()
            .find(|f| f["path"] == "package.json")
            .expect("package.json record");
        let warnings = manifest["warnings"].as_array().expect("warnings");
        assert!(
            warnings.iter().any(|w| w["code"] == "invalid_manifest"
                && w["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("not valid JSON"))),
            "{name}: {manifest}"
        );
    }
}
