//! Names, purposes, steps and path-based lanes of capabilities, from facts only.

use super::{DataFlow, EntryPoint, FlowEdge, FlowItem, Group, GroupKind, Step};
use crate::pipeline::caps::detect::{stem, LINK_ENQUEUE, LINK_HTTP, LINK_SCHEDULE};
use std::collections::{BTreeMap, BTreeSet};

/// File stems that say nothing about what a file does.
const GENERIC_STEMS: &[&str] = &[
    "index", "main", "app", "server", "urls", "route", "routes", "router", "api", "views", "tasks",
    "jobs", "worker", "workers", "celery", "__init__", "__main__", "cli", "page",
];

/// The resource a URL path is about: its first segment that is not `api`, a version, a
/// parameter or a route group. `None` for the root.
pub fn resource_segment(path: &str) -> Option<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .find(|s| {
            let param = s.starts_with([':', '[', '{', '<', '(', '*', '$']);
            let version =
                s.len() > 1 && s.starts_with('v') && s[1..].bytes().all(|b| b.is_ascii_digit());
            !param && !version && *s != "api" && *s != "rest"
        })
        .map(|s| s.trim_end_matches(".json").to_string())
}

/// A short label for a file: its stem, or its directory when the stem is generic.
pub fn file_label(path: &str) -> String {
    let s = stem(path);
    if GENERIC_STEMS.contains(&s) {
        if let Some(dir) = path.rsplit('/').nth(1) {
            return dir.to_string();
        }
    }
    s.to_string()
}

/// `user-profiles`, `user_profiles` and `userProfiles` all become `User profiles`.
pub fn humanize(s: &str) -> String {
    let mut out = String::new();
    let mut prev_lower = false;
    for c in s.chars() {
        if c == '-' || c == '_' || c == '.' || c == ' ' {
            if !out.ends_with(' ') && !out.is_empty() {
                out.push(' ');
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower {
            out.push(' ');
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        out.extend(c.to_lowercase());
    }
    let out = out.trim().to_string();
    let mut chars = out.chars();
    match chars.next() {
        Some(f) => f.to_uppercase().chain(chars).collect(),
        None => out,
    }
}

/// `a, b, c and 2 more`.
pub fn list(items: &[String], max: usize) -> String {
    if items.len() <= max {
        return items.join(", ");
    }
    format!("{} and {} more", items[..max].join(", "), items.len() - max)
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Lane of a file by its path alone: api patterns, then worker patterns, then web.
pub fn lane_by_path(path: &str) -> &'static str {
    let segs: Vec<&str> = path.split('/').collect();
    let dirs = &segs[..segs.len().saturating_sub(1)];
    let name = segs.last().copied().unwrap_or("");
    let s = stem(path);
    let ext = name.rsplit('.').next().unwrap_or("");
    let has = |d: &[&str]| dirs.iter().any(|x| d.contains(x));
    if has(&[
        "api",
        "routes",
        "routers",
        "controllers",
        "handlers",
        "endpoints",
        "graphql",
        "resolvers",
    ]) || matches!(s, "route" | "routes" | "router" | "urls" | "controller")
        || s.ends_with("_controller")
        || s.ends_with(".controller")
        || name.contains(".controller.")
    {
        return "api";
    }
    if has(&[
        "workers",
        "worker",
        "jobs",
        "tasks",
        "queues",
        "queue",
        "cron",
        "schedulers",
        "consumers",
    ]) || matches!(
        s,
        "tasks" | "worker" | "workers" | "jobs" | "celery" | "scheduler" | "cron"
    ) {
        return "workers";
    }
    let js = matches!(ext, "js" | "jsx" | "ts" | "tsx" | "mjs" | "vue" | "svelte");
    if matches!(
        ext,
        "tsx" | "jsx" | "vue" | "svelte" | "css" | "scss" | "html"
    ) || (js
        && has(&[
            "pages",
            "app",
            "components",
            "hooks",
            "layouts",
            "views",
            "public",
            "styles",
        ]))
        || has(&["templates", "static"])
    {
        return "web";
    }
    "other"
}

/// Capability name.
pub(crate) fn name(g: &Group<'_>) -> String {
    match g.kind {
        GroupKind::Api if g.label.is_empty() => "Root API".to_string(),
        GroupKind::Api => format!("{} API", humanize(&g.label)),
        GroupKind::Web if g.label.is_empty() => "Home page".to_string(),
        GroupKind::Web => {
            let n: BTreeSet<&str> = g.entries.iter().map(|e| e.name.as_str()).collect();
            format!(
                "{} {}",
                humanize(&g.label),
                if n.len() == 1 { "page" } else { "pages" }
            )
        }
        GroupKind::Job if g.key.starts_with("job:queue:") => format!("{} jobs", humanize(&g.label)),
        GroupKind::Job => format!("{} background tasks", humanize(&g.label)),
        GroupKind::Schedule => format!("{} schedule", humanize(&g.label)),
        GroupKind::Cli => format!("{} CLI", cli_name(g)),
    }
}

/// The name a command-line capability is known by.
fn cli_name(g: &Group<'_>) -> String {
    if !g.label.is_empty() {
        return g.label.clone();
    }
    let by = |pred: &dyn Fn(&str) -> bool| {
        g.entries
            .iter()
            .find(|e| pred(&e.detail))
            .map(|e| e.name.clone())
    };
    by(&|d| d.ends_with("group") || d == "program")
        .or_else(|| {
            by(&|d| d == "__main__" || d == "__main__.py" || d == "argparse" || d == "shebang")
        })
        .or_else(|| g.entries.first().map(|e| e.name.clone()))
        .unwrap_or_else(|| super::seed_stem(g))
}

fn names(items: &[FlowItem]) -> Vec<String> {
    items.iter().map(|i| i.name.clone()).collect()
}

fn seeds_text(g: &Group<'_>) -> String {
    list(&g.seeds.iter().cloned().collect::<Vec<_>>(), 3)
}

/// One or two factual sentences.
pub(crate) fn purpose(g: &Group<'_>, entries: &[EntryPoint], df: &DataFlow) -> String {
    let entry_names: Vec<String> = entries.iter().map(|e| e.name.clone()).collect();
    let frameworks: BTreeSet<&str> = entries.iter().map(|e| e.framework.as_str()).collect();
    let fw = frameworks.into_iter().collect::<Vec<_>>().join(", ");
    let first = match g.kind {
        GroupKind::Api => format!(
            "Serves {} ({fw}): {}.",
            plural(entries.len(), "HTTP endpoint", "HTTP endpoints"),
            list(&entry_names, 5)
        ),
        GroupKind::Web => format!(
            "Renders {} ({fw}): {}.",
            plural(entries.len(), "page", "pages"),
            list(&entry_names, 5)
        ),
        GroupKind::Job if g.key.starts_with("job:queue:") => format!(
            "Processes background jobs from the `{}` queue ({fw}) in {}.",
            g.label,
            seeds_text(g)
        ),
        GroupKind::Job => format!(
            "Runs {} ({fw}) defined in {}: {}.",
            plural(entries.len(), "background task", "background tasks"),
            seeds_text(g),
            list(&entry_names, 5)
        ),
        GroupKind::Schedule => {
            let when: Vec<String> = g
                .entries
                .iter()
                .map(|e| format!("{} ({})", e.name, e.detail))
                .collect();
            format!("Runs on a schedule ({fw}): {}.", list(&when, 5))
        }
        GroupKind::Cli => {
            let cmds: Vec<String> = g
                .entries
                .iter()
                .filter(|e| e.detail.ends_with("command") && !e.detail.contains("group"))
                .map(|e| e.name.clone())
                .collect();
            if cmds.is_empty() {
                format!(
                    "Command-line program `{}` ({fw}) in {}.",
                    cli_name(g),
                    seeds_text(g)
                )
            } else {
                format!(
                    "Command-line program `{}` ({fw}) with {}: {}.",
                    cli_name(g),
                    plural(cmds.len(), "command", "commands"),
                    list(&cmds, 6)
                )
            }
        }
    };
    let mut parts = Vec::new();
    if !df.stores.is_empty() {
        let stores: Vec<String> = df
            .stores
            .iter()
            .map(|i| format!("{} ({})", i.name, i.kind))
            .collect();
        parts.push(format!("stores {}", list(&stores, 6)));
    }
    if !df.externals.is_empty() {
        parts.push(format!(
            "external services {}",
            list(&names(&df.externals), 5)
        ));
    }
    if !df.infrastructure.is_empty() {
        let infra: Vec<String> = df
            .infrastructure
            .iter()
            .map(|i| format!("{} ({})", i.name, i.kind))
            .collect();
        parts.push(format!("infrastructure {}", list(&infra, 4)));
    }
    let env: Vec<String> = df
        .inputs
        .iter()
        .filter(|i| i.kind == "env")
        .map(|i| i.name.clone())
        .collect();
    if !env.is_empty() {
        parts.push(format!("environment variables {}", list(&env, 5)));
    }
    if parts.is_empty() {
        first
    } else {
        format!("{first} Uses {}.", parts.join("; "))
    }
}

fn files_of(items: &[&FlowItem]) -> Vec<String> {
    items
        .iter()
        .map(|i| i.file.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// Ordered narrative: trigger, configuration, internal calls, data, services, hand-offs,
/// results. Steps without facts are left out.
pub(crate) fn steps(
    g: &Group<'_>,
    entries: &[EntryPoint],
    gathered: &BTreeMap<String, usize>,
    df: &DataFlow,
    cf: &[FlowEdge],
) -> Vec<Step> {
    let mut steps = Vec::new();
    let seeds: Vec<String> = g.seeds.iter().cloned().collect();
    let mut entry_names: Vec<String> = Vec::new();
    for e in entries {
        if !entry_names.contains(&e.name) {
            entry_names.push(e.name.clone());
        }
    }
    let (title, what) = match g.kind {
        GroupKind::Api => ("Receive HTTP requests", list(&entry_names, 6)),
        GroupKind::Web => ("Render pages", list(&entry_names, 6)),
        GroupKind::Job => ("Consume background jobs", list(&entry_names, 6)),
        GroupKind::Schedule => ("Run on a schedule", list(&entry_names, 6)),
        GroupKind::Cli => (
            "Start from the command line",
            format!("`{}`: {}", cli_name(g), list(&entry_names, 6)),
        ),
    };
    // Hand-offs into this capability's own entry files are its triggers, not later steps.
    let is_trigger = |e: &&FlowEdge| g.seeds.contains(&e.to) && !g.seeds.contains(&e.from);
    let triggers: Vec<String> = cf
        .iter()
        .filter(|e| matches!(e.kind.as_str(), LINK_ENQUEUE | LINK_HTTP | LINK_SCHEDULE))
        .filter(is_trigger)
        .map(|e| format!("{} ({})", e.from, e.kind))
        .collect();
    let triggered = if triggers.is_empty() {
        String::new()
    } else {
        format!(", triggered by {}", list(&triggers, 3))
    };
    steps.push(Step {
        title: title.to_string(),
        description: format!("{what} in {}{triggered}", list(&seeds, 3)),
        files: seeds.clone(),
    });
    for (kind, title, label) in [
        ("cliArg", "Parse command-line options", "Options"),
        ("env", "Read configuration", "Environment variables"),
    ] {
        let items: Vec<&FlowItem> = df.inputs.iter().filter(|i| i.kind == kind).collect();
        if !items.is_empty() {
            let n: Vec<String> = items.iter().map(|i| i.name.clone()).collect();
            steps.push(Step {
                title: title.to_string(),
                description: format!("{label}: {}", list(&n, 8)),
                files: files_of(&items),
            });
        }
    }
    let handoff_targets: BTreeSet<&str> = cf
        .iter()
        .filter(|e| matches!(e.kind.as_str(), LINK_ENQUEUE | LINK_HTTP | LINK_SCHEDULE))
        .map(|e| e.to.as_str())
        .collect();
    let direct: Vec<String> = gathered
        .iter()
        .filter(|(f, d)| **d == 1 && !handoff_targets.contains(f.as_str()))
        .map(|(f, _)| f.clone())
        .collect();
    if !direct.is_empty() {
        let deeper = gathered.values().filter(|d| **d > 1).count();
        let more = if deeper > 0 {
            format!(" (and {} deeper)", plural(deeper, "module", "modules"))
        } else {
            String::new()
        };
        steps.push(Step {
            title: "Call internal modules".to_string(),
            description: format!("{}{more}", list(&direct, 6)),
            files: direct.clone(),
        });
    }
    let sections: [(&[FlowItem], &str); 3] = [
        (&df.stores, "Read and write data"),
        (&df.infrastructure, "Use brokers and caches"),
        (&df.externals, "Call external services"),
    ];
    for (items, title) in sections {
        if items.is_empty() {
            continue;
        }
        let n: Vec<String> = items
            .iter()
            .map(|i| format!("{} ({})", i.name, i.kind))
            .collect();
        let refs: Vec<&FlowItem> = items.iter().collect();
        steps.push(Step {
            title: title.to_string(),
            description: list(&n, 8),
            files: files_of(&refs),
        });
    }
    for (kind, title, verb) in [
        (
            LINK_ENQUEUE,
            "Hand off to background workers",
            "enqueues work for",
        ),
        (LINK_SCHEDULE, "Trigger scheduled tasks", "schedules"),
        (LINK_HTTP, "Call internal HTTP routes", "calls"),
    ] {
        let edges: Vec<&FlowEdge> = cf
            .iter()
            .filter(|e| e.kind == kind && !is_trigger(e))
            .collect();
        if edges.is_empty() {
            continue;
        }
        let d: Vec<String> = edges
            .iter()
            .map(|e| format!("{} {verb} {}", e.from, e.to))
            .collect();
        let files: BTreeSet<String> = edges
            .iter()
            .flat_map(|e| [e.from.clone(), e.to.clone()])
            .collect();
        steps.push(Step {
            title: title.to_string(),
            description: list(&d, 4),
            files: files.into_iter().collect(),
        });
    }
    if !df.outputs.is_empty() {
        let mut parts: Vec<String> = Vec::new();
        let responses = df
            .outputs
            .iter()
            .filter(|o| o.kind == "httpResponse")
            .count();
        if responses > 0 {
            parts.push(plural(responses, "HTTP response", "HTTP responses"));
        }
        for o in df.outputs.iter().filter(|o| o.kind != "httpResponse") {
            parts.push(match o.kind.as_str() {
                "page" => format!("page {}", o.name),
                "job" => format!("job `{}` enqueued", o.name),
                "email" | "sms" => format!("{} via {}", o.kind, o.name),
                "console" => "console output".to_string(),
                "file" => format!("writes {}", o.name),
                _ => format!("{} {}", o.kind, o.name),
            });
        }
        let refs: Vec<&FlowItem> = df.outputs.iter().collect();
        steps.push(Step {
            title: "Produce results".to_string(),
            description: list(&parts, 8),
            files: files_of(&refs),
        });
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_skip_api_versions_and_params() {
        assert_eq!(
            resource_segment("/api/v1/users/:id").as_deref(),
            Some("users")
        );
        assert_eq!(
            resource_segment("/api/[slug]/items").as_deref(),
            Some("items")
        );
        assert_eq!(resource_segment("/"), None);
        assert_eq!(resource_segment("/api"), None);
    }

    #[test]
    fn humanized_names() {
        assert_eq!(humanize("user-profiles"), "User profiles");
        assert_eq!(humanize("userProfiles"), "User profiles");
        assert_eq!(humanize("email"), "Email");
    }

    #[test]
    fn path_lanes_test_api_and_workers_before_web() {
        assert_eq!(lane_by_path("app/api/users/route.ts"), "api");
        assert_eq!(lane_by_path("src/workers/email.ts"), "workers");
        assert_eq!(lane_by_path("app/tasks.py"), "workers");
        assert_eq!(lane_by_path("components/Button.tsx"), "web");
        assert_eq!(lane_by_path("app/models.py"), "other");
        assert_eq!(lane_by_path("src/lib/db.ts"), "other");
    }

    #[test]
    fn file_labels_avoid_generic_stems() {
        assert_eq!(file_label("billing/tasks.py"), "billing");
        assert_eq!(file_label("src/emails.py"), "emails");
        assert_eq!(file_label("app/tasks.py"), "app");
    }
}
