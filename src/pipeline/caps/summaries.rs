//! Deterministic summaries (docs/artifacts.md#summaries): per file and per capability, built from
//! the parsed facts and the detections only, so every job has summaries even without an LLM.
//! Every sentence states a fact that can be checked against the files or graph artifacts.

use super::capabilities::describe::list;
use super::capabilities::{CapabilitiesDoc, Capability};
use super::detect::{stem, Detections, Finding, FindingKind, STORE_DEFINED};
use super::CapsInput;
use crate::pipeline::model::{FileRecord, Language};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};

/// `source` of summaries built here.
pub const SOURCE_DETERMINISTIC: &str = "deterministic";
/// Longest blurb, in characters.
pub const MAX_BLURB_CHARS: usize = 200;
/// Key functions listed per file at most.
pub const MAX_KEY_FUNCTIONS: usize = 8;
/// Risks listed per capability at most.
pub const MAX_CAPABILITY_RISKS: usize = 20;

/// The `summaries` artifact body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SummariesDoc {
    /// Who wrote the summaries: `deterministic` here; the LLM path sets its own.
    pub source: String,
    /// One per file, sorted by path.
    pub files: Vec<FileSummary>,
    /// One per capability, in the capabilities' order.
    pub capabilities: Vec<CapabilitySummary>,
    /// How an LLM run went (model, prompt version, budget, counts); only on its documents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llm: Option<serde_json::Value>,
}

/// Summary of one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileSummary {
    /// Repo-relative path.
    pub path: String,
    /// What the file is, in a few words.
    pub title: String,
    /// Facts about what it does, as sentences.
    pub purpose: String,
    /// The functions to read first.
    pub key_functions: Vec<String>,
    /// Factual risks with their lines.
    pub risks: Vec<String>,
    /// Title and first fact, at most [`MAX_BLURB_CHARS`] characters.
    pub blurb: String,
    /// Who wrote this entry: [`SOURCE_DETERMINISTIC`] here, `llm` where a model did.
    #[serde(default = "deterministic")]
    pub source: String,
}

/// Summary of one capability.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CapabilitySummary {
    /// The capability's id.
    pub id: String,
    /// The capability's name.
    pub title: String,
    /// Purpose and reach.
    pub purpose: String,
    /// The capability's key files.
    pub key_files: Vec<String>,
    /// Risks of its files, prefixed by the path.
    pub risks: Vec<String>,
    /// Short form, at most [`MAX_BLURB_CHARS`] characters.
    pub blurb: String,
    /// Who wrote this entry: always [`SOURCE_DETERMINISTIC`] (the LLM summarizes files only).
    #[serde(default = "deterministic")]
    pub source: String,
}

/// Entries of documents written before entries carried their source were deterministic.
fn deterministic() -> String {
    SOURCE_DETERMINISTIC.to_string()
}

/// Builds deterministic summaries for every file and capability.
pub fn summarize_files(
    input: &CapsInput<'_>,
    det: &Detections,
    caps: &CapabilitiesDoc,
) -> SummariesDoc {
    // Each file's (in, out) degree. The summaries are independent of each other: built on
    // every core (320 ms on one at 53.6k files), in the files' order.
    let mut degrees: HashMap<&str, (usize, usize)> = HashMap::with_capacity(input.files.len());
    for &(a, b) in input.edges.iter().filter(|(a, b)| a != b) {
        degrees.entry(a).or_default().1 += 1;
        degrees.entry(b).or_default().0 += 1;
    }
    let mut files: Vec<FileSummary> = input
        .files
        .par_iter()
        .map(|rec| {
            let degrees = degrees.get(rec.path.as_str()).copied().unwrap_or_default();
            file_summary(input, det, rec, degrees)
        })
        .collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let capabilities = caps
        .capabilities
        .iter()
        .map(|c| capability_summary(det, c))
        .collect();
    SummariesDoc {
        source: SOURCE_DETERMINISTIC.to_string(),
        files,
        capabilities,
        llm: None,
    }
}

/// Display name of a framework or library as found by the detectors and parsers.
pub fn framework_label(fw: &str) -> String {
    let known = [
        ("express", "Express"),
        ("koa", "Koa"),
        ("fastify", "Fastify"),
        ("nextjs-app", "Next.js"),
        ("nextjs-pages", "Next.js"),
        ("fastapi", "FastAPI"),
        ("flask", "Flask"),
        ("django", "Django"),
        ("react-router", "React Router"),
        ("bull", "Bull"),
        ("bullmq", "BullMQ"),
        ("bee-queue", "Bee-Queue"),
        ("agenda", "Agenda"),
        ("celery", "Celery"),
        ("celery-beat", "Celery beat"),
        ("rq", "RQ"),
        ("huey", "Huey"),
        ("dramatiq", "Dramatiq"),
        ("apscheduler", "APScheduler"),
        ("node-cron", "node-cron"),
        ("click", "Click"),
        ("typer", "Typer"),
        ("argparse", "argparse"),
        ("prisma", "Prisma"),
        ("sqlalchemy", "SQLAlchemy"),
        ("sqlmodel", "SQLModel"),
        ("typeorm", "TypeORM"),
        ("sequelize", "Sequelize"),
        ("mongoose", "Mongoose"),
        ("peewee", "Peewee"),
        ("tortoise", "Tortoise ORM"),
        ("sql", "SQL"),
        ("python", "Python"),
        ("npm", "npm"),
        ("node", "Node.js"),
    ];
    known
        .iter()
        .find(|(k, _)| *k == fw)
        .map_or_else(|| fw.to_string(), |(_, v)| v.to_string())
}

fn of_kind<'a>(findings: &[&'a Finding], kind: FindingKind) -> Vec<&'a Finding> {
    findings
        .iter()
        .copied()
        .filter(|f| f.kind == kind)
        .collect()
}

fn fw_of(findings: &[&Finding]) -> String {
    let set: BTreeSet<String> = findings
        .iter()
        .map(|f| framework_label(&f.framework))
        .collect();
    set.into_iter().collect::<Vec<_>>().join("/")
}

fn unique(items: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    items
        .into_iter()
        .filter(|i| seen.insert(i.clone()))
        .collect()
}

fn language_label(rec: &FileRecord) -> &'static str {
    match rec.language {
        Language::Js => "JavaScript",
        Language::Ts => "TypeScript",
        Language::Py => "Python",
        Language::Other => "",
    }
}

/// Longest common leading path of the routes (`/users/:id`, `/users` give `/users`).
fn common_prefix(paths: &[String]) -> String {
    let split: Vec<Vec<&str>> = paths
        .iter()
        .map(|p| p.split('/').filter(|s| !s.is_empty()).collect())
        .collect();
    let Some(first) = split.first() else {
        return "/".to_string();
    };
    let n = (0..first.len())
        .take_while(|i| split.iter().all(|s| s.get(*i) == Some(&first[*i])))
        .count();
    format!("/{}", first[..n].join("/"))
}

fn title(rec: &FileRecord, fs: &[&Finding]) -> String {
    let routes = of_kind(fs, FindingKind::Route);
    if !routes.is_empty() {
        let paths = unique(routes.iter().map(|r| r.name.clone()));
        return if paths.len() == 1 {
            format!("{} API route {}", fw_of(&routes), paths[0])
        } else {
            let p = common_prefix(&paths);
            if p == "/" {
                format!("{} routes", fw_of(&routes))
            } else {
                format!("{} routes under {p}", fw_of(&routes))
            }
        };
    }
    let pages = of_kind(fs, FindingKind::Page);
    if !pages.is_empty() {
        let paths = unique(pages.iter().map(|r| r.name.clone()));
        return if paths.len() == 1 {
            format!("{} page {}", fw_of(&pages), paths[0])
        } else {
            format!("{} pages ({})", fw_of(&pages), list(&paths, 3))
        };
    }
    let jobs = of_kind(fs, FindingKind::JobConsumer);
    if !jobs.is_empty() {
        let names = unique(jobs.iter().map(|j| j.name.clone()));
        return if jobs.iter().any(|j| j.detail == "task") {
            format!("{} tasks: {}", fw_of(&jobs), list(&names, 3))
        } else {
            format!("{} worker for queue {}", fw_of(&jobs), list(&names, 3))
        };
    }
    let sched = of_kind(fs, FindingKind::Schedule);
    if !sched.is_empty() {
        return format!("{} schedule", fw_of(&sched));
    }
    let cli = of_kind(fs, FindingKind::Cli);
    if !cli.is_empty() {
        return format!("{} command-line program {}", fw_of(&cli), cli[0].name);
    }
    let models: Vec<&Finding> = of_kind(fs, FindingKind::Store)
        .into_iter()
        .filter(|f| f.detail.starts_with(STORE_DEFINED))
        .collect();
    if !models.is_empty() {
        let names = unique(models.iter().map(|m| m.name.clone()));
        let what = if rec.path.ends_with(".prisma") {
            "schema"
        } else {
            "models"
        };
        return format!("{} {what}: {}", fw_of(&models), list(&names, 4));
    }
    let handlers = of_kind(fs, FindingKind::RouteHandler);
    if !handlers.is_empty() {
        return format!("{} route handlers", fw_of(&handlers));
    }
    if rec.hints.is_react_component {
        let name = rec
            .exports
            .iter()
            .find(|e| *e != "default")
            .map(|e| e.to_string())
            .unwrap_or_else(|| stem(&rec.path).to_string());
        return format!("React component {name}");
    }
    let name = rec.path.rsplit('/').next().unwrap_or(&rec.path);
    if super::capabilities::tests_lane::is_test_file(rec) {
        return format!("Tests: {name}");
    }
    match rec.language {
        Language::Other if name == "package.json" => "npm package manifest".to_string(),
        Language::Other if name == "pyproject.toml" => "Python project configuration".to_string(),
        Language::Other => format!("{} file {name}", rec.ext),
        _ => format!("{} module {name}", language_label(rec)),
    }
}

fn sentences(
    input: &CapsInput<'_>,
    det: &Detections,
    rec: &FileRecord,
    fs: &[&Finding],
    degrees: (usize, usize),
) -> Vec<String> {
    let mut out = Vec::new();
    let names = |k: FindingKind, fmt: &dyn Fn(&Finding) -> String| {
        unique(of_kind(fs, k).iter().map(|f| fmt(f)))
    };
    let routes = names(FindingKind::Route, &|f| format!("{} {}", f.detail, f.name));
    if !routes.is_empty() {
        out.push(format!(
            "Declares {} route{}: {}.",
            routes.len(),
            if routes.len() == 1 { "" } else { "s" },
            list(&routes, 6)
        ));
    }
    let pages = names(FindingKind::Page, &|f| f.name.clone());
    if !pages.is_empty() {
        out.push(format!("Renders {}.", list(&pages, 6)));
    }
    let handlers = names(FindingKind::RouteHandler, &|f| {
        format!("{} ({})", f.detail, f.name)
    });
    if !handlers.is_empty() {
        out.push(format!("Handles {}.", list(&handlers, 6)));
    }
    let consumers = names(FindingKind::JobConsumer, &|f| {
        format!("{} ({})", f.name, framework_label(&f.framework))
    });
    if !consumers.is_empty() {
        out.push(format!(
            "Processes background jobs: {}.",
            list(&consumers, 6)
        ));
    }
    let producers = names(FindingKind::JobProducer, &|f| f.name.clone());
    if !producers.is_empty() {
        out.push(format!("Enqueues jobs: {}.", list(&producers, 6)));
    }
    let sched = names(FindingKind::Schedule, &|f| {
        format!("{} ({})", f.name, f.detail)
    });
    if !sched.is_empty() {
        out.push(format!("Schedules {}.", list(&sched, 6)));
    }
    let cli = names(FindingKind::Cli, &|f| f.name.clone());
    if !cli.is_empty() {
        out.push(format!("Command-line entry point: {}.", list(&cli, 6)));
    }
    let opts = names(FindingKind::CliArg, &|f| f.name.clone());
    if !opts.is_empty() {
        out.push(format!("Options: {}.", list(&opts, 8)));
    }
    let stores = of_kind(fs, FindingKind::Store);
    let defined = unique(
        stores
            .iter()
            .filter(|f| f.detail.starts_with(STORE_DEFINED))
            .map(
                |f| match f.detail.strip_prefix(STORE_DEFINED).map(str::trim) {
                    Some(extra) if !extra.is_empty() => format!("{} {extra}", f.name),
                    _ => f.name.clone(),
                },
            ),
    );
    if !defined.is_empty() {
        out.push(format!("Defines data models: {}.", list(&defined, 8)));
    }
    let used = unique(
        stores
            .iter()
            .filter(|f| !f.detail.starts_with(STORE_DEFINED))
            .map(|f| format!("{} ({})", f.name, framework_label(&f.framework))),
    );
    if !used.is_empty() {
        out.push(format!("Uses data stores: {}.", list(&used, 8)));
    }
    let infra = names(FindingKind::Infra, &|f| match f.framework.as_str() {
        "url" | "cache backend" => format!("{} ({})", f.name, f.detail),
        fw => format!("{} ({} via {})", f.name, f.detail, framework_label(fw)),
    });
    if !infra.is_empty() {
        out.push(format!("Uses infrastructure: {}.", list(&infra, 6)));
    }
    let ext = names(FindingKind::External, &|f| {
        format!("{} ({})", f.name, f.detail)
    });
    if !ext.is_empty() {
        out.push(format!("Calls external services: {}.", list(&ext, 6)));
    }
    let env = names(FindingKind::EnvInput, &|f| f.name.clone());
    if !env.is_empty() {
        out.push(format!("Reads environment variables: {}.", list(&env, 8)));
    }
    let outputs = names(FindingKind::Output, &|f| match f.detail.as_str() {
        "email" | "sms" => format!("{} via {}", f.detail, f.name),
        "console" => "console output".to_string(),
        "file" => format!("file writes ({})", f.name),
        d => format!("{d} {}", f.name),
    });
    if !outputs.is_empty() {
        out.push(format!("Produces {}.", list(&outputs, 6)));
    }
    if rec.language == Language::Other {
        if rec.path.ends_with("package.json") {
            if let Some(s) = package_json_sentence(input, &rec.path) {
                out.push(s);
            }
        }
        out.push(format!("{} lines.", rec.lines));
        return out;
    }
    let (nf, nc) = (rec.functions.len(), rec.classes.len());
    if nf + nc > 0 {
        out.push(format!(
            "Defines {nf} function{} and {nc} class{}.",
            if nf == 1 { "" } else { "s" },
            if nc == 1 { "" } else { "es" }
        ));
    }
    let exports: Vec<String> = rec
        .exports
        .iter()
        .filter(|e| *e != "default")
        .map(|e| e.to_string())
        .collect();
    if !exports.is_empty() {
        out.push(format!("Exports {}.", list(&exports, 5)));
    }
    let packages = unique(
        rec.imports
            .iter()
            .filter(|i| i.external)
            .filter_map(|i| i.package.as_ref().map(|p| p.to_string())),
    );
    let internal = degrees.1;
    match (internal, packages.is_empty()) {
        (0, true) => {}
        (0, false) => out.push(format!("Uses packages {}.", list(&packages, 5))),
        (n, true) => out.push(format!(
            "Imports {n} internal module{}.",
            if n == 1 { "" } else { "s" }
        )),
        (n, false) => out.push(format!(
            "Imports {n} internal module{} and packages {}.",
            if n == 1 { "" } else { "s" },
            list(&packages, 5)
        )),
    }
    if degrees.0 > 0 {
        out.push(format!(
            "Imported by {} file{}.",
            degrees.0,
            if degrees.0 == 1 { "" } else { "s" }
        ));
    }
    if let Some(p) = det.facts.get(&rec.path).and_then(|f| f.prefix.as_ref()) {
        out.push(format!("Mounted under {p}."));
    }
    out
}

fn package_json_sentence(input: &CapsInput<'_>, path: &str) -> Option<String> {
    let text = (input.source)(path)?;
    let json: serde_json::Value = serde_json::from_str(&text).ok()?;
    let name = json["name"].as_str().unwrap_or("(unnamed)");
    let deps = json["dependencies"].as_object().map_or(0, |m| m.len());
    let scripts: Vec<String> = json["scripts"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    Some(format!(
        "npm package `{name}` with {deps} dependencies{}.",
        if scripts.is_empty() {
            String::new()
        } else {
            format!(" and scripts {}", list(&scripts, 6))
        }
    ))
}

fn key_functions(rec: &FileRecord, fs: &[&Finding]) -> Vec<String> {
    let defined: BTreeSet<&str> = rec.functions.iter().map(|f| f.name.as_str()).collect();
    let mut picks: Vec<String> = Vec::new();
    // Route handlers are named by the parser even when they are function expressions.
    picks.extend(
        rec.routes
            .iter()
            .map(|r| r.handler.clone())
            .filter(|h| super::scan::is_identifier(h) || defined.contains(h.as_str())),
    );
    picks.extend(
        fs.iter()
            .filter(|f| {
                matches!(
                    f.kind,
                    FindingKind::RouteHandler | FindingKind::JobConsumer | FindingKind::Schedule
                )
            })
            .map(|f| f.name.to_string())
            .filter(|n| defined.contains(n.as_str())),
    );
    picks.extend(
        rec.functions
            .iter()
            .filter(|f| rec.exports.contains(&f.name))
            .map(|f| f.name.to_string()),
    );
    picks.extend(
        rec.functions
            .iter()
            .filter(|f| !f.decorators.is_empty())
            .map(|f| f.name.to_string()),
    );
    picks.extend(
        rec.functions
            .iter()
            .filter(|f| !f.name.starts_with('_') && !f.name.contains("._"))
            .map(|f| f.name.to_string()),
    );
    if picks.is_empty() {
        picks.extend(rec.classes.iter().map(|c| c.name.clone()));
    }
    let mut out = unique(picks);
    out.truncate(MAX_KEY_FUNCTIONS);
    out
}

/// Cuts `s` to at most `max` characters, ending with `…` when cut.
pub fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn file_summary(
    input: &CapsInput<'_>,
    det: &Detections,
    rec: &FileRecord,
    degrees: (usize, usize),
) -> FileSummary {
    let fs: Vec<&Finding> = det.in_file(&rec.path).collect();
    let (title, purpose) = if rec.skipped {
        let why = rec
            .skip_reason
            .clone()
            .unwrap_or_else(|| "not parsed".to_string());
        ("Skipped file".to_string(), format!("Not analysed: {why}."))
    } else {
        let s = sentences(input, det, rec, &fs, degrees);
        let p = if s.is_empty() {
            format!("{} lines.", rec.lines)
        } else {
            s.join(" ")
        };
        (title(rec, &fs), p)
    };
    let risks = det
        .facts
        .get(&rec.path)
        .map(|f| f.risks.iter().map(|r| r.message.clone()).collect())
        .unwrap_or_default();
    let first = purpose
        .split(". ")
        .next()
        .unwrap_or("")
        .trim_end_matches('.');
    let blurb = truncate_chars(&format!("{title}. {first}."), MAX_BLURB_CHARS);
    FileSummary {
        path: rec.path.clone(),
        title,
        purpose,
        key_functions: if rec.skipped {
            Vec::new()
        } else {
            key_functions(rec, &fs)
        },
        risks,
        blurb,
        source: deterministic(),
    }
}

fn capability_summary(det: &Detections, c: &Capability) -> CapabilitySummary {
    let lanes = [
        ("api", &c.lanes.api),
        ("web", &c.lanes.web),
        ("workers", &c.lanes.workers),
        ("other", &c.lanes.other),
    ];
    let lane_text: Vec<String> = lanes
        .iter()
        .filter(|(_, l)| !l.is_empty())
        .map(|(n, l)| format!("{n} {}", l.len()))
        .collect();
    let total: usize = lanes.iter().map(|(_, l)| l.len()).sum();
    let tests = c.lanes.tests.len();
    let tested = if tests == 0 {
        String::new()
    } else {
        format!(
            " Exercised by {tests} test file{}.",
            if tests == 1 { "" } else { "s" }
        )
    };
    let purpose = format!(
        "{} Involves {total} file{} ({}).{tested}",
        c.purpose,
        if total == 1 { "" } else { "s" },
        lane_text.join(", ")
    );
    let mut files: Vec<&String> = lanes.iter().flat_map(|(_, l)| l.iter()).collect();
    files.sort();
    let mut risks: Vec<String> = files
        .iter()
        .flat_map(|f| {
            det.facts
                .get(f.as_str())
                .into_iter()
                .flat_map(move |x| x.risks.iter().map(move |r| format!("{f}: {}", r.message)))
        })
        .collect();
    risks.truncate(MAX_CAPABILITY_RISKS);
    let mut facts = vec![format!(
        "{} entry point{}",
        c.entry_points.len(),
        if c.entry_points.len() == 1 { "" } else { "s" }
    )];
    if !c.data_flow.stores.is_empty() {
        let n: Vec<String> = c.data_flow.stores.iter().map(|s| s.name.clone()).collect();
        facts.push(format!("stores {}", list(&n, 3)));
    }
    if !c.data_flow.infrastructure.is_empty() {
        let n: Vec<String> = c
            .data_flow
            .infrastructure
            .iter()
            .map(|s| format!("{} {}", s.name, s.kind))
            .collect();
        facts.push(format!("runs on {}", list(&n, 3)));
    }
    if !c.data_flow.externals.is_empty() {
        let n: Vec<String> = c
            .data_flow
            .externals
            .iter()
            .map(|s| s.name.clone())
            .collect();
        facts.push(format!("external {}", list(&n, 3)));
    }
    CapabilitySummary {
        id: c.id.clone(),
        title: c.name.clone(),
        purpose,
        key_files: c.key_files.clone(),
        risks,
        blurb: truncate_chars(
            &format!("{}: {}.", c.name, facts.join("; ")),
            MAX_BLURB_CHARS,
        ),
        source: deterministic(),
    }
}
