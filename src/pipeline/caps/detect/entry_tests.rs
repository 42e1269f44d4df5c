//! Unit tests of `entry` (kept apart so the module stays readable).
use super::*;

#[test]
fn joins_mount_prefixes_once() {
    assert_eq!(join_path("/users", "/"), "/users");
    assert_eq!(join_path("/users", "/:id"), "/users/:id");
    assert_eq!(join_path("/items", "/items/{id}"), "/items/{id}");
    assert_eq!(join_path("blog/", "posts/"), "/blog/posts/");
    assert_eq!(join_path("blog/", ""), "/blog/");
    assert_eq!(join_path("", ""), "/");
    assert_eq!(join_path("/users", "/users-stats"), "/users/users-stats");
}

#[test]
fn client_paths_match_route_patterns() {
    assert!(path_matches("/api/users/[id]", "/api/users/${id}"));
    assert!(path_matches("/users/:id", "/users/42"));
    assert!(!path_matches("/users/:id", "/users"));
    assert!(!path_matches("/api/orders", "/api/users"));
}

#[test]
fn console_scripts_from_setup_and_pyproject() {
    let py = "[project]\nname='x'\n[project.scripts]\nmytool = \"mytool.cli:main\"\n";
    assert_eq!(
        console_scripts("pyproject.toml", py),
        vec![("mytool".to_string(), "mytool.cli".to_string())]
    );
    let setup = "setup(entry_points={'console_scripts': ['tool=pkg.main:run']})";
    assert_eq!(
        console_scripts("setup.py", setup),
        vec![("tool".to_string(), "pkg.main".to_string())]
    );
}
