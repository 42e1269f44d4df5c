//! Workspace packages of monorepos: npm/yarn/bun `workspaces`, `pnpm-workspace.yaml` and
//! `lerna.json` globs, matched against the folders that hold a `package.json`.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use super::jsonc;

/// The workspace packages of a snapshot.
#[derive(Debug, Default)]
pub(super) struct Workspaces {
    /// `<root>/node_modules/<name>` → package folder, as a package manager would link them.
    pub links: BTreeMap<String, String>,
    /// Package name → folder, for every workspace package.
    pub by_name: HashMap<String, String>,
}

fn parent_dir(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(d, _)| d)
}

fn join(dir: &str, rest: &str) -> String {
    if dir.is_empty() {
        rest.to_string()
    } else {
        format!("{dir}/{rest}")
    }
}

/// Globs from a `package.json`'s `workspaces` (array, or `{ packages: [...] }`).
fn package_json_globs(v: &Value) -> Vec<String> {
    let list = match v.get("workspaces") {
        Some(Value::Array(a)) => a,
        Some(Value::Object(o)) => match o.get("packages") {
            Some(Value::Array(a)) => a,
            _ => return Vec::new(),
        },
        _ => return Vec::new(),
    };
    list.iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// Globs from `pnpm-workspace.yaml`: the `packages:` list, block (`- 'a/*'`) or flow (`['a/*']`).
pub(super) fn pnpm_globs(yaml: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_packages = false;
    for line in yaml.lines() {
        let no_comment = line.split(" #").next().unwrap_or("");
        if no_comment.trim().is_empty() || no_comment.trim_start().starts_with('#') {
            continue;
        }
        let indented = no_comment.starts_with(' ') || no_comment.starts_with('\t');
        if !indented {
            in_packages = false;
            if let Some(rest) = no_comment.strip_prefix("packages:") {
                let rest = rest.trim();
                if let Some(flow) = rest.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
                    out.extend(flow.split(',').map(unquote).filter(|s| !s.is_empty()));
                } else {
                    in_packages = true;
                }
            }
            continue;
        }
        if in_packages {
            if let Some(item) = no_comment.trim().strip_prefix('-') {
                let item = unquote(item);
                if !item.is_empty() {
                    out.push(item);
                }
            }
        }
    }
    out
}

fn unquote(s: &str) -> String {
    s.trim()
        .trim_matches(|c| c == '"' || c == '\'')
        .trim()
        .to_string()
}

/// Matches a folder path (relative to the workspace root) against one glob: `*` within a
/// segment, `**` across any number of segments.
pub(super) fn glob_match(pattern: &str, path: &str) -> bool {
    let pattern = pattern.trim_start_matches("./").trim_end_matches('/');
    let pattern = pattern.strip_suffix("/package.json").unwrap_or(pattern);
    let pat: Vec<&str> = pattern
        .split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect();
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match_segments(&pat, &segs)
}

fn match_segments(pat: &[&str], segs: &[&str]) -> bool {
    match pat.split_first() {
        None => segs.is_empty(),
        Some((&"**", rest)) => (0..=segs.len()).any(|i| match_segments(rest, &segs[i..])),
        Some((p, rest)) => segs.split_first().is_some_and(|(s, srest)| {
            match_segment(p.as_bytes(), s.as_bytes()) && match_segments(rest, srest)
        }),
    }
}

fn match_segment(p: &[u8], s: &[u8]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) => (0..=s.len()).any(|i| match_segment(rest, &s[i..])),
        Some((b'?', rest)) => !s.is_empty() && match_segment(rest, &s[1..]),
        Some((c, rest)) => s.first() == Some(c) && match_segment(rest, &s[1..]),
    }
}

/// Finds the workspace roots and their packages among `paths`, reading manifests from
/// `contents` (repo-relative path → text).
pub(super) fn discover(paths: &[String], contents: &HashMap<String, String>) -> Workspaces {
    let mut roots: Vec<(String, Vec<String>)> = Vec::new();
    let mut packages: Vec<(String, String)> = Vec::new();
    for path in paths {
        if path.split('/').any(|s| s == "node_modules") {
            continue;
        }
        let name = path.rsplit('/').next().unwrap_or(path);
        let Some(text) = contents.get(path) else {
            continue;
        };
        let dir = parent_dir(path).to_string();
        match name {
            "package.json" => {
                let Some(v) = jsonc::parse(text) else {
                    continue;
                };
                let globs = package_json_globs(&v);
                if !globs.is_empty() {
                    roots.push((dir.clone(), globs));
                }
                if let Some(pkg) = v.get("name").and_then(Value::as_str) {
                    packages.push((dir, pkg.to_string()));
                }
            }
            "pnpm-workspace.yaml" => roots.push((dir, pnpm_globs(text))),
            "lerna.json" => {
                if let Some(Value::Array(a)) =
                    jsonc::parse(text).and_then(|v| v.get("packages").cloned())
                {
                    roots.push((
                        dir,
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_string)
                            .collect(),
                    ));
                }
            }
            _ => {}
        }
    }
    let mut ws = Workspaces::default();
    for (root, globs) in &roots {
        let (negative, positive): (Vec<&String>, Vec<&String>) =
            globs.iter().partition(|g| g.starts_with('!'));
        for (dir, name) in &packages {
            let rel = if root.is_empty() {
                dir.as_str()
            } else if let Some(rel) = dir
                .strip_prefix(root.as_str())
                .and_then(|r| r.strip_prefix('/'))
            {
                rel
            } else {
                continue;
            };
            if rel.is_empty() {
                continue;
            }
            let included = positive.iter().any(|g| glob_match(g, rel))
                && !negative.iter().any(|g| glob_match(&g[1..], rel));
            if included {
                ws.links
                    .entry(join(root, &format!("node_modules/{name}")))
                    .or_insert_with(|| dir.clone());
                ws.by_name
                    .entry(name.clone())
                    .or_insert_with(|| dir.clone());
            }
        }
    }
    ws
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("packages/*", "packages/a"));
        assert!(!glob_match("packages/*", "packages/a/b"));
        assert!(glob_match("packages/**", "packages/a/b"));
        assert!(glob_match("./apps/*/", "apps/web"));
        assert!(glob_match("**/test/**", "x/test/y"));
        assert!(glob_match("pkg-?", "pkg-a"));
        assert!(!glob_match("apps/*", "packages/a"));
    }

    #[test]
    fn pnpm_yaml() {
        let y = "packages:\n  - 'packages/*'\n  - \"apps/*\" # apps\n  - '!**/test/**'\ncatalog:\n  react: ^18\n";
        assert_eq!(pnpm_globs(y), vec!["packages/*", "apps/*", "!**/test/**"]);
        assert_eq!(pnpm_globs("packages: ['a/*', \"b\"]\n"), vec!["a/*", "b"]);
    }

    #[test]
    fn discovers_links() {
        let paths: Vec<String> = [
            "package.json",
            "packages/a/package.json",
            "packages/b/package.json",
            "tools/c/package.json",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut contents = HashMap::new();
        contents.insert(
            "package.json".to_string(),
            r#"{"workspaces": ["packages/*"]}"#.to_string(),
        );
        contents.insert(
            "packages/a/package.json".to_string(),
            r#"{"name": "@x/a"}"#.to_string(),
        );
        contents.insert(
            "packages/b/package.json".to_string(),
            r#"{"name": "b"}"#.to_string(),
        );
        contents.insert(
            "tools/c/package.json".to_string(),
            r#"{"name": "c"}"#.to_string(),
        );
        let ws = discover(&paths, &contents);
        assert_eq!(
            ws.links.get("node_modules/@x/a").map(String::as_str),
            Some("packages/a")
        );
        assert_eq!(
            ws.links.get("node_modules/b").map(String::as_str),
            Some("packages/b")
        );
        assert!(!ws.by_name.contains_key("c"));
    }
}
