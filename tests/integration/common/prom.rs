//! Prometheus checks shared by the `api_platform` and `e2e_cluster` tests: `promtool`
//! on a scrape, sample sums, the metric names and labels a scrape holds, and the check of the
//! Grafana dashboard's queries against them.
//!
//! `promtool` comes from Debian's `prometheus` (installed by `scripts/dev-services`), or
//! `PROMTOOL`.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};

/// Runbook metric names that keep the `_ms` suffix of docs/operations.md although promtool's style
/// lint prefers base units; see `src/telemetry/metrics.rs`.
pub const RUNBOOK_MS: [&str; 3] = [
    "provis_job_duration_ms",
    "provis_task_duration_ms",
    "provis_node_parse_ms",
];

fn promtool_bin() -> String {
    std::env::var("PROMTOOL").unwrap_or_else(|_| "promtool".into())
}

/// `promtool <args>` with `stdin`: (exit code, stdout + stderr).
pub fn promtool(args: &[&str], stdin: &str) -> (i32, String) {
    use std::io::Write as _;
    let bin = promtool_bin();
    let mut child = Command::new(&bin)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run {bin} ({e}); scripts/dev-services installs it (Debian `prometheus`)")
        });
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("feed promtool");
    let out = child.wait_with_output().expect("promtool");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), report)
}

/// `promtool check metrics` accepts `text`: exit 0, or 3 (lint findings) where every finding
/// is the abbreviated-unit remark on a runbook `_ms` name. Exit 1 (unparsable) or any other
/// finding fails.
pub fn assert_promtool_accepts(text: &str) {
    let (code, report) = promtool(&["check", "metrics"], text);
    let accepted_lint = |l: &str| {
        RUNBOOK_MS
            .iter()
            .any(|n| l.trim() == format!("{n} metric names should not contain abbreviated units"))
    };
    let findings: Vec<&str> = report.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(
        code == 0 || (code == 3 && findings.iter().all(|l| accepted_lint(l))),
        "promtool check metrics exited {code}:\n{report}\n---\n{text}"
    );
}

/// The sum of the samples of `name` whose labels contain every `label`.
pub fn sample_sum(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter(|l| labels.iter().all(|lab| l.contains(lab)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Metric families of a scrape (`# TYPE` names) with the label names their samples carry
/// (`le` of histogram buckets included).
pub fn families(text: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            if let Some(name) = rest.split_whitespace().next() {
                out.entry(name.to_string()).or_default();
            }
        }
    }
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let name_end = line.find(['{', ' ']).unwrap_or(line.len());
        let sample = &line[..name_end];
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| sample.strip_suffix(s).filter(|f| out.contains_key(*f)))
            .unwrap_or(sample);
        let Some(labels) = out.get_mut(family) else {
            continue;
        };
        if let Some(open) = line.find('{') {
            let close = line.rfind('}').unwrap_or(line.len());
            for pair in line[open + 1..close].split(',') {
                if let Some((k, _)) = pair.split_once('=') {
                    labels.insert(k.trim().to_string());
                }
            }
        }
    }
    out
}

/// Checks every query of a Grafana dashboard (`expr` of each panel target) against what the
/// binary exports: each is valid PromQL (`promtool check rules`), each metric it names is a
/// family of `exported` (or its `_bucket`/`_sum`/`_count` series), and each label it groups or
/// filters by is one those samples carry. Returns the number of queries checked.
pub fn check_dashboard(dashboard: &serde_json::Value, exported: &str) -> usize {
    let fams = families(exported);
    let mut exprs = Vec::new();
    collect_exprs(dashboard, &mut exprs);
    assert!(!exprs.is_empty(), "the dashboard has no queries");
    // Grafana's interval variables are not PromQL; give them a value for the syntax check.
    let plain = |e: &str| {
        e.replace("$__rate_interval", "5m")
            .replace("$__interval", "1m")
            .replace("$__range", "1h")
    };
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, e) in exprs.iter().enumerate() {
        rules.push_str(&format!(
            "      - record: dashboard:query_{i}\n        expr: {}\n",
            serde_json::to_string(&plain(e)).expect("quote")
        ));
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("dashboard-rules.yml");
    std::fs::write(&file, &rules).expect("write rules");
    let (code, report) = promtool(&["check", "rules", &file.display().to_string()], "");
    assert_eq!(
        code, 0,
        "dashboard queries are not valid PromQL:\n{report}\n{rules}"
    );

    for e in &exprs {
        let names = metric_names(e);
        assert!(!names.is_empty(), "query names no provis metric: {e}");
        for name in &names {
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s).filter(|f| fams.contains_key(*f)))
                .unwrap_or(name);
            let labels = fams.get(family).unwrap_or_else(|| {
                panic!(
                    "dashboard query uses {name}, which the binary does not export: {e}\nexported: {:?}",
                    fams.keys().collect::<Vec<_>>()
                )
            });
            for label in used_labels(e) {
                let on_some = names.iter().any(|n| {
                    let f = ["_bucket", "_sum", "_count"]
                        .iter()
                        .find_map(|s| n.strip_suffix(s).filter(|f| fams.contains_key(*f)))
                        .unwrap_or(n);
                    fams.get(f).is_some_and(|l| l.contains(&label))
                });
                assert!(
                    on_some,
                    "dashboard query uses label {label:?}, which no metric it names carries \
                     ({name}: {labels:?}): {e}"
                );
            }
        }
    }
    exprs.len()
}

fn collect_exprs(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                match (k.as_str(), x) {
                    ("expr", serde_json::Value::String(e)) => out.push(e.clone()),
                    _ => collect_exprs(x, out),
                }
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_exprs(x, out)),
        _ => {}
    }
}

/// The `provis_…` identifiers of a query.
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let bytes = expr.as_bytes();
    let mut i = 0;
    while let Some(pos) = expr[i..].find("provis_") {
        let start = i + pos;
        let boundary =
            start == 0 || !(bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_');
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_alphanumeric() || bytes[end] == b'_') {
            end += 1;
        }
        if boundary {
            out.insert(expr[start..end].to_string());
        }
        i = end;
    }
    out
}

/// Label names a query groups by (`by (…)`, `without (…)`) or matches on (`{name=…}`).
fn used_labels(expr: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for kw in ["by", "without"] {
        let mut rest = expr;
        while let Some(pos) = find_word(rest, kw) {
            let after = rest[pos + kw.len()..].trim_start();
            if let Some(inner) = after.strip_prefix('(') {
                if let Some(close) = inner.find(')') {
                    for l in inner[..close].split(',') {
                        let l = l.trim();
                        if !l.is_empty() {
                            out.insert(l.to_string());
                        }
                    }
                }
            }
            rest = &rest[pos + kw.len()..];
        }
    }
    let mut rest = expr;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        for m in rest[open + 1..open + close].split(',') {
            let name: String = m
                .trim()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
        rest = &rest[open + close..];
    }
    out
}

fn find_word(text: &str, word: &str) -> Option<usize> {
    let b = text.as_bytes();
    let mut from = 0;
    while let Some(p) = text[from..].find(word) {
        let s = from + p;
        let e = s + word.len();
        let left = s == 0 || !(b[s - 1].is_ascii_alphanumeric() || b[s - 1] == b'_');
        let right = e >= b.len() || !(b[e].is_ascii_alphanumeric() || b[e] == b'_');
        if left && right {
            return Some(s);
        }
        from = e;
    }
    None
}
