//! Test code or application code. Tests import the application like any other code (they
//! stay in the graph), but what they call — `request(app).get('/x')`, `client.post(…)` — are
//! requests they make, never routes the application serves.
//!
//! A file is a test ([`FileRole::Test`]) when its path follows a test convention — a folder
//! named `test`, `tests`, `__tests__`, `__mocks__`, `spec`, `specs`, `e2e`, `cypress`; a file
//! named `*.test.*`, `*.spec.*`, `*.e2e-spec.*`, `*.cy.*`, `test_*.py`, `*_test.py`,
//! `*_tests.py`, `tests.py`, `conftest.py`, `setupTests.*` — or when it imports a test
//! framework or test client ([`TEST_PACKAGES`], [`TEST_MODULES`]).

use crate::pipeline::model::{FileRecord, FileRole, Import, ImportKind};

/// Folder names that hold tests.
const TEST_DIRS: &[&str] = &[
    "test",
    "tests",
    "__tests__",
    "__test__",
    "__mocks__",
    "spec",
    "specs",
    "e2e",
    "cypress",
];

/// npm packages only tests import (a name ending in `/` is a scope or prefix).
pub const TEST_PACKAGES: &[&str] = &[
    "jest",
    "@jest/",
    "vitest",
    "mocha",
    "chai",
    "supertest",
    "@testing-library/",
    "ava",
    "tap",
    "node:test",
    "@playwright/test",
    "cypress",
    "@nestjs/testing",
    "sinon",
    "nock",
    "light-my-request",
];

/// Python modules only tests import (top level, or a dotted prefix).
pub const TEST_MODULES: &[&str] = &[
    "pytest",
    "_pytest",
    "unittest",
    "nose",
    "nose2",
    "django.test",
    "rest_framework.test",
    "fastapi.testclient",
    "starlette.testclient",
    "pytest_asyncio",
    "hypothesis",
];

/// Whether a path follows a test naming convention.
pub fn is_test_path(path: &str) -> bool {
    let mut segs: Vec<&str> = path.split('/').collect();
    let Some(file) = segs.pop() else {
        return false;
    };
    if segs
        .iter()
        .any(|d| TEST_DIRS.contains(&d.to_ascii_lowercase().as_str()))
    {
        return true;
    }
    let lower = file.to_ascii_lowercase();
    let stem = lower.split('.').next().unwrap_or("");
    let infix = |tag: &str| lower.contains(&format!(".{tag}."));
    infix("test")
        || infix("spec")
        || infix("e2e-spec")
        || infix("e2e")
        || infix("cy")
        || stem == "setuptests"
        || (lower.ends_with(".py")
            && (stem.starts_with("test_")
                || stem.ends_with("_test")
                || stem.ends_with("_tests")
                || stem == "tests"
                || stem == "conftest"))
}

/// Whether an import names a test framework or test client.
fn is_test_import(i: &Import) -> bool {
    match i.kind {
        ImportKind::Py => TEST_MODULES
            .iter()
            .any(|m| i.raw == *m || i.raw.starts_with(&format!("{m}."))),
        ImportKind::PyRelative => false,
        _ => TEST_PACKAGES.iter().any(|p| {
            if p.ends_with('/') {
                i.raw.starts_with(p)
            } else {
                i.raw == *p || i.raw.starts_with(&format!("{p}/"))
            }
        }),
    }
}

/// The role of a parsed file (see the module docs).
pub fn file_role(path: &str, imports: &[Import]) -> FileRole {
    if is_test_path(path) || imports.iter().any(is_test_import) {
        FileRole::Test
    } else {
        FileRole::App
    }
}

/// Sets a parsed record's role; a test declares no routes and mounts nothing.
pub fn assign_role(record: &mut FileRecord) {
    record.role = file_role(&record.path, &record.imports);
    if record.role == FileRole::Test {
        record.routes.clear();
        record.wiring.mounts.clear();
        record.hints.is_route = false;
        record.hints.is_api = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_paths() {
        for p in [
            "tests/test_api.py",
            "src/__tests__/app.ts",
            "server/routes/api/documents.test.ts",
            "src/app.spec.js",
            "test/app.e2e-spec.ts",
            "pkg/conftest.py",
            "pkg/views_test.py",
            "blog/tests.py",
            "cypress/e2e/login.cy.ts",
            "src/setupTests.ts",
        ] {
            assert!(is_test_path(p), "{p}");
        }
        for p in [
            "src/routes/test-utils-not.ts",
            "app/testing.py",
            "src/attestation.ts",
            "latest/app.py",
            "src/contest.py",
            "server/routes/api/documents.ts",
        ] {
            assert!(!is_test_path(p), "{p}");
        }
    }

    #[test]
    fn test_imports() {
        let imp = |raw: &str, kind| Import {
            raw: raw.into(),
            kind,
            line: 1,
            names: Vec::new(),
            level: 0,
            resolved: None,
            external: false,
            package: None,
            unresolved_reason: None,
        };
        assert_eq!(
            file_role("a.ts", &[imp("supertest", ImportKind::Esm)]),
            FileRole::Test
        );
        assert_eq!(
            file_role("a.ts", &[imp("@jest/globals", ImportKind::Esm)]),
            FileRole::Test
        );
        assert_eq!(
            file_role("a.py", &[imp("django.test", ImportKind::Py)]),
            FileRole::Test
        );
        assert_eq!(
            file_role("a.py", &[imp("unittest.mock", ImportKind::Py)]),
            FileRole::Test
        );
        assert_eq!(
            file_role("a.py", &[imp("pytester", ImportKind::Py)]),
            FileRole::App
        );
        assert_eq!(
            file_role("a.ts", &[imp("express", ImportKind::Esm)]),
            FileRole::App
        );
        assert_eq!(
            file_role("a.ts", &[imp("tapable", ImportKind::Esm)]),
            FileRole::App
        );
    }
}
