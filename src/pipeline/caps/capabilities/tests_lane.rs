//! The tests lane: test files linked to the capabilities they exercise.
//!
//! Test files (role `test`, or test path conventions) never seed or join a capability; they
//! are listed in `lanes.tests` of each capability they exercise:
//!
//! - a test that calls one of the capability's route paths (`client.get("/users/1")`,
//!   `request(app).post('/users')`, an f-string or template path with parameters);
//! - a test that calls no route at all and imports one of the capability's key files,
//!   directly or through the test helpers it imports.
//!
//! A `conftest.py` is linked by what it itself imports and calls; its fixtures are shared
//! set-up, so they are not counted for every test beside it (one login fixture would link
//! every test to the auth routes).
//!
//! Imports are not followed through application files, and a test that calls routes is
//! linked by the routes it calls only: an integration test imports the app's entry module,
//! which imports everything, so following imports would link every such test to every
//! capability. The paths it calls say which capabilities it exercises.

use super::reach::Sources;
use super::{Capability, ENTRY_ROUTE};
use crate::pipeline::caps::detect::{is_test_path, path_matches};
use crate::pipeline::model::{FileRecord, FileRole, Language};
use std::collections::{BTreeMap, BTreeSet};

/// Methods whose first string argument is a request path in test code.
const CLIENT_METHODS: &[&str] = &[
    "get", "post", "put", "patch", "delete", "del", "head", "options", "request", "fetch", "open",
    "visit",
];

/// True for files that are tests (never application code).
pub fn is_test_file(rec: &FileRecord) -> bool {
    rec.role == FileRole::Test || is_test_path(&rec.path)
}

/// What one test file touches.
#[derive(Debug, Default)]
struct TestFacts {
    /// Application files it imports directly or through test files.
    imports: BTreeSet<String>,
    /// Request paths it calls.
    paths: BTreeSet<String>,
}

/// Fills `lanes.tests` of every capability.
pub(crate) fn link_tests(sources: &Sources<'_>, files: &[FileRecord], caps: &mut [Capability]) {
    let tests: BTreeMap<&str, &FileRecord> = files
        .iter()
        .filter(|f| is_test_file(f) && f.language != Language::Other)
        .map(|f| (f.path.as_str(), f))
        .collect();
    if tests.is_empty() || caps.is_empty() {
        return;
    }
    let direct: BTreeMap<&str, TestFacts> = tests
        .iter()
        .map(|(p, rec)| (*p, facts(sources, rec)))
        .collect();
    for path in tests.keys() {
        // Test files it imports, transitively, plus the conftests above it.
        let mut seen: BTreeSet<&str> = BTreeSet::from([*path]);
        let mut stack: Vec<&str> = vec![*path];
        let mut app_imports: BTreeSet<&str> = BTreeSet::new();
        let mut paths: BTreeSet<&str> = BTreeSet::new();
        while let Some(t) = stack.pop() {
            let Some(f) = direct.get(t) else { continue };
            paths.extend(f.paths.iter().map(String::as_str));
            for i in &f.imports {
                match tests.get_key_value(i.as_str()) {
                    Some((k, _)) => {
                        if seen.insert(k) {
                            stack.push(k);
                        }
                    }
                    None => {
                        app_imports.insert(i.as_str());
                    }
                }
            }
        }
        let calls = |cap: &Capability| {
            cap.entry_points.iter().any(|e| {
                e.kind == ENTRY_ROUTE
                    && e.path
                        .as_deref()
                        .is_some_and(|r| paths.iter().any(|p| path_matches(r, p)))
            })
        };
        // A test that calls routes imports the app only to call them: it exercises the
        // capabilities whose routes it calls, not every one the app module wires in.
        let by_paths = caps.iter().any(&calls);
        for cap in caps.iter_mut() {
            let linked = if by_paths {
                calls(cap)
            } else {
                cap.key_files
                    .iter()
                    .any(|k| app_imports.contains(k.as_str()))
            };
            if linked {
                cap.lanes.tests.push(path.to_string());
            }
        }
    }
}

fn facts(sources: &Sources<'_>, rec: &FileRecord) -> TestFacts {
    let mut out = TestFacts {
        imports: rec
            .imports
            .iter()
            .filter_map(|i| i.resolved.clone())
            .collect(),
        ..TestFacts::default()
    };
    let Some(o) = sources.outline(&rec.path) else {
        return out;
    };
    let sc = &o.sc;
    let mut opens: Vec<usize> = Vec::new();
    for m in CLIENT_METHODS {
        opens.extend(sc.method_calls(m).into_iter().map(|(_, o)| o));
        opens.extend(sc.calls(m).into_iter().map(|(_, o)| o));
    }
    for open in opens {
        if let Some(l) = sc.lit_after(open) {
            let p = l.value.split(['?', '#']).next().unwrap_or("");
            if p.starts_with('/') {
                out.paths.insert(p.to_string());
            }
        }
    }
    out
}
