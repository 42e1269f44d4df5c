//! Background jobs and schedules: Bull/BullMQ, Agenda, node-cron, Celery (tasks, beat),
//! RQ, Huey, Dramatiq and APScheduler.

use super::{stem, Ctx, FindingKind, Global, Local, Pending, LINK_ENQUEUE, LINK_SCHEDULE};
use crate::pipeline::caps::scan::is_identifier;
use std::collections::BTreeMap;

const BULL: &[&str] = &["bull", "bullmq", "bee-queue"];
const CRON_JS: &[&str] = &["node-cron", "cron", "node-schedule", "croner"];

/// Local phase.
pub(super) fn scan(ctx: &Ctx<'_>, out: &mut Local) {
    if ctx.is_py() {
        scan_py(ctx, out);
    } else {
        scan_js(ctx, out);
    }
}

fn scan_js(ctx: &Ctx<'_>, out: &mut Local) {
    let sc = ctx.sc;
    let bull_fw = BULL.iter().find(|p| ctx.imports(p)).copied();
    if let Some(fw) = bull_fw {
        for (at, open) in sc.calls("Queue") {
            if !sc.preceded_by_word(at, "new") {
                continue;
            }
            if let Some(lit) = sc.lit_after(open) {
                let line = sc.line(at);
                out.findings
                    .push(ctx.finding(FindingKind::JobQueue, line, &lit.value, fw, ""));
                let new_at = sc.code[..at].rfind("new").unwrap_or(at);
                if let Some(var) = sc.assigned_ident(new_at) {
                    out.pending.push(Pending::QueueVar {
                        var,
                        queue: lit.value.clone(),
                    });
                }
            }
        }
        for (at, open) in sc.calls("Worker") {
            if sc.preceded_by_word(at, "new") {
                if let Some(lit) = sc.lit_after(open) {
                    out.findings.push(ctx.finding(
                        FindingKind::JobConsumer,
                        sc.line(at),
                        &lit.value,
                        fw,
                        "worker",
                    ));
                }
            }
        }
    }
    for (method, consume) in [("add", false), ("addBulk", false), ("process", true)] {
        for (receiver, open) in sc.method_calls(method) {
            let job = sc
                .lit_after(open)
                .map(|l| l.value.clone())
                .unwrap_or_default();
            out.pending.push(Pending::QueueCall {
                receiver,
                consume,
                job,
                line: sc.line(open),
            });
        }
    }
    let agenda = ctx.imports_any(&["agenda", "@hokify/agenda"]);
    if agenda {
        let is_agenda = |r: &str| r.to_ascii_lowercase().contains("agenda");
        for (recv, open) in sc.method_calls("define") {
            if let (true, Some(l)) = (is_agenda(&recv), sc.lit_after(open)) {
                out.findings.push(ctx.finding(
                    FindingKind::JobConsumer,
                    sc.line(open),
                    &l.value,
                    "agenda",
                    "job definition",
                ));
            }
        }
        for (recv, open) in sc.method_calls("every") {
            let args = sc.args(open);
            if !is_agenda(&recv) || args.len() < 2 {
                continue;
            }
            if let (Some(when), Some(name)) = (sc.arg_lit(args[0]), sc.arg_lit(args[1])) {
                out.findings.push(ctx.finding(
                    FindingKind::Schedule,
                    sc.line(open),
                    &name.value,
                    "agenda",
                    &when.value,
                ));
            }
        }
        for method in ["now", "schedule"] {
            for (recv, open) in sc.method_calls(method) {
                let args = sc.args(open);
                let name_arg = if method == "now" {
                    args.first()
                } else {
                    args.get(1)
                };
                if let (true, Some(l)) = (is_agenda(&recv), name_arg.and_then(|a| sc.arg_lit(*a))) {
                    out.findings.push(ctx.finding(
                        FindingKind::JobProducer,
                        sc.line(open),
                        &l.value,
                        "agenda",
                        "",
                    ));
                }
            }
        }
    }
    if let Some(fw) = CRON_JS.iter().find(|p| ctx.imports(p)).copied() {
        let mut opens: Vec<usize> = Vec::new();
        for m in ["schedule", "scheduleJob"] {
            opens.extend(sc.method_calls(m).into_iter().map(|(_, o)| o));
        }
        for (at, open) in sc.calls("CronJob").into_iter().chain(sc.calls("Cron")) {
            if sc.preceded_by_word(at, "new") {
                opens.push(open);
            }
        }
        opens.sort_unstable();
        for open in opens {
            if let Some(l) = sc.lit_after(open).filter(|l| looks_like_schedule(&l.value)) {
                out.findings.push(ctx.finding(
                    FindingKind::Schedule,
                    sc.line(open),
                    stem(&ctx.rec.path),
                    fw,
                    &l.value,
                ));
            }
        }
    }
}

/// Cron expressions (5–7 short fields with a digit or `*`) and `@daily`-style macros.
fn looks_like_schedule(v: &str) -> bool {
    if let Some(name) = v.strip_prefix('@') {
        return !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase());
    }
    let fields: Vec<&str> = v.split_whitespace().collect();
    (5..=7).contains(&fields.len())
        && v.contains(|c: char| c.is_ascii_digit() || c == '*')
        && fields.iter().all(|f| {
            f.len() <= 12
                && f.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "*/,-?#".contains(c))
        })
}

fn task_framework(ctx: &Ctx<'_>) -> &'static str {
    if ctx.imports("huey") {
        "huey"
    } else {
        "celery"
    }
}

fn scan_py(ctx: &Ctx<'_>, out: &mut Local) {
    let sc = ctx.sc;
    let task_fw = task_framework(ctx);
    for f in &ctx.rec.functions {
        if f.name.contains('.') {
            continue;
        }
        for d in &f.decorators {
            let head = d.split('(').next().unwrap_or(d).trim();
            let fw = if head == "shared_task" || head == "celery.shared_task" {
                Some("celery")
            } else if head.ends_with(".task") || head.ends_with(".periodic_task") {
                Some(task_fw)
            } else if head == "dramatiq.actor" || (head == "actor" && ctx.imports("dramatiq")) {
                Some("dramatiq")
            } else if head == "job" && ctx.imports("rq") {
                Some("rq")
            } else {
                None
            };
            if let Some(fw) = fw {
                out.findings.push(ctx.finding(
                    FindingKind::JobConsumer,
                    f.line,
                    &f.name,
                    fw,
                    "task",
                ));
                if head.ends_with(".periodic_task") {
                    out.findings.push(ctx.finding(
                        FindingKind::Schedule,
                        f.line,
                        &f.name,
                        fw,
                        "periodic task",
                    ));
                }
            }
            if head.ends_with(".scheduled_job") {
                let trigger = d.split(['"', '\'']).nth(1).unwrap_or("scheduled");
                out.findings.push(ctx.finding(
                    FindingKind::Schedule,
                    f.line,
                    &f.name,
                    "apscheduler",
                    trigger,
                ));
            }
        }
    }
    for m in ["delay", "apply_async"] {
        for (task, open) in sc.method_calls(m) {
            out.pending.push(Pending::TaskCall {
                task,
                line: sc.line(open),
            });
        }
    }
    for (_, open) in sc.method_calls("send_task") {
        if let Some(l) = sc.lit_after(open) {
            let task = l.value.rsplit('.').next().unwrap_or(&l.value).to_string();
            out.pending.push(Pending::TaskCall {
                task,
                line: sc.line(open),
            });
        }
    }
    if ctx.imports("rq") {
        for (_, open) in sc.method_calls("enqueue") {
            let line = sc.line(open);
            let Some(first) = sc.args(open).first().copied() else {
                continue;
            };
            if let Some(l) = sc.arg_lit(first) {
                let task = l.value.rsplit('.').next().unwrap_or(&l.value).to_string();
                out.pending.push(Pending::TaskCall { task, line });
            } else {
                let expr = sc.code[first.0..first.1].trim();
                if expr.split('.').all(is_identifier) {
                    out.pending.push(Pending::RqEnqueue {
                        func: expr.to_string(),
                        line,
                    });
                }
            }
        }
    }
    if !sc.words("beat_schedule").is_empty() {
        for l in &sc.lits {
            let after = sc.code[l.end..].trim_start();
            if l.value == "task" && after.starts_with(':') {
                let colon = sc.code.len() - after.len() + 1;
                if let Some(t) = sc.lit_after(colon) {
                    let task = t.value.rsplit('.').next().unwrap_or(&t.value).to_string();
                    out.findings.push(ctx.finding(
                        FindingKind::Schedule,
                        sc.line(t.start),
                        &task,
                        "celery-beat",
                        "beat schedule",
                    ));
                    out.pending.push(Pending::ScheduleTask {
                        task: t.value.clone(),
                    });
                }
            }
        }
    }
    for (_, open) in sc.method_calls("add_periodic_task") {
        if let Some(arg) = sc.args(open).get(1) {
            let expr = sc.code[arg.0..arg.1].trim();
            let task = expr.split(['.', '(']).next().unwrap_or("").trim();
            if is_identifier(task) {
                out.findings.push(ctx.finding(
                    FindingKind::Schedule,
                    sc.line(open),
                    task,
                    "celery-beat",
                    "periodic task",
                ));
                out.pending.push(Pending::ScheduleTask {
                    task: task.to_string(),
                });
            }
        }
    }
    if ctx.imports("apscheduler") {
        for (_, open) in sc.method_calls("add_job") {
            let args = sc.args(open);
            let Some(first) = args.first() else { continue };
            let func = sc.code[first.0..first.1].trim();
            let func = func.rsplit('.').next().unwrap_or(func);
            if !is_identifier(func) {
                continue;
            }
            let trigger = args
                .get(1)
                .and_then(|a| sc.arg_lit(*a))
                .map_or("scheduled", |l| l.value.as_str());
            out.findings.push(ctx.finding(
                FindingKind::Schedule,
                sc.line(open),
                func,
                "apscheduler",
                trigger,
            ));
            out.pending.push(Pending::ScheduleTask {
                task: func.to_string(),
            });
        }
    }
}

/// Global phase: queue variables, task names and links between producers and consumers.
pub(super) fn resolve(g: &mut Global<'_>) {
    // queue variable -> [(defining file, queue name, framework)]
    let mut queue_vars: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for (file, p) in &g.pending {
        if let Pending::QueueVar { var, queue } = p {
            queue_vars
                .entry(var.clone())
                .or_default()
                .push((file.clone(), queue.clone()));
        }
    }
    let frameworks: BTreeMap<(String, String), String> = g
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::JobQueue)
        .map(|f| ((f.file.clone(), f.name.clone()), f.framework.clone()))
        .collect();
    // task name -> [(file, framework)]
    let mut tasks: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for f in &g.findings {
        if f.kind == FindingKind::JobConsumer && f.detail == "task" {
            tasks
                .entry(f.name.clone())
                .or_default()
                .push((f.file.clone(), f.framework.clone()));
        }
    }
    let pending = std::mem::take(&mut g.pending);
    let mut new = Vec::new();
    for (file, p) in &pending {
        match p {
            Pending::QueueCall {
                receiver,
                consume,
                job,
                line,
            } => {
                let Some(defs) = queue_vars.get(receiver) else {
                    continue;
                };
                let imported = |d: &str| {
                    g.files
                        .get(file.as_str())
                        .is_some_and(|r| r.imports.iter().any(|i| i.resolved.as_deref() == Some(d)))
                };
                let def = defs
                    .iter()
                    .find(|(d, _)| d == file)
                    .or_else(|| defs.iter().find(|(d, _)| imported(d)))
                    .or_else(|| (defs.len() == 1).then(|| &defs[0]));
                let Some((dfile, queue)) = def else { continue };
                let fw = frameworks
                    .get(&(dfile.clone(), queue.clone()))
                    .cloned()
                    .unwrap_or_else(|| "bull".to_string());
                let (kind, detail) = if *consume {
                    (FindingKind::JobConsumer, "processor".to_string())
                } else {
                    (FindingKind::JobProducer, job.clone())
                };
                new.push(finding(file, *line, kind, queue, &fw, &detail));
            }
            Pending::TaskCall { task, line } => {
                if let Some(defs) = tasks.get(task) {
                    new.push(finding(
                        file,
                        *line,
                        FindingKind::JobProducer,
                        task,
                        &defs[0].1,
                        "",
                    ));
                }
            }
            Pending::RqEnqueue { func, line } => {
                let (head, name) = match func.rsplit_once('.') {
                    Some((h, n)) => (h.split('.').next().unwrap_or(h), n),
                    None => (func.as_str(), func.as_str()),
                };
                let target = g.resolve_ident(file, head).unwrap_or_else(|| file.clone());
                let def_line = g
                    .files
                    .get(target.as_str())
                    .and_then(|r| r.functions.iter().find(|f| f.name == name))
                    .map_or(1, |f| f.line);
                new.push(finding(
                    &target,
                    def_line,
                    FindingKind::JobConsumer,
                    name,
                    "rq",
                    "task",
                ));
                new.push(finding(
                    file,
                    *line,
                    FindingKind::JobProducer,
                    name,
                    "rq",
                    "",
                ));
            }
            Pending::ScheduleTask { task } => {
                let name = task.rsplit('.').next().unwrap_or(task);
                let by_module = task.rsplit_once('.').and_then(|(m, _)| g.resolve_module(m));
                let target = by_module
                    .or_else(|| tasks.get(name).map(|d| d[0].0.clone()))
                    .or_else(|| g.resolve_ident(file, name));
                if let Some(t) = target {
                    g.link(file, &t, LINK_SCHEDULE);
                }
            }
            _ => {}
        }
    }
    g.pending = pending;
    g.findings.extend(new);
    // Producers and consumers of the same queue or task are linked.
    let mut consumers: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for f in g
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::JobConsumer)
    {
        consumers
            .entry(f.name.as_str())
            .or_default()
            .push(f.file.as_str());
    }
    let mut links = Vec::new();
    for p in g
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::JobProducer)
    {
        for c in consumers.get(p.name.as_str()).into_iter().flatten() {
            links.push((p.file.clone(), c.to_string()));
        }
    }
    for (from, to) in links {
        g.link(&from, &to, LINK_ENQUEUE);
    }
}

fn finding(
    file: &str,
    line: u32,
    kind: FindingKind,
    name: &str,
    framework: &str,
    detail: &str,
) -> super::Finding {
    super::Finding {
        file: file.to_string(),
        line,
        kind,
        name: name.to_string(),
        framework: framework.to_string(),
        detail: detail.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::looks_like_schedule;

    #[test]
    fn cron_expressions_are_recognised() {
        assert!(looks_like_schedule("0 * * * *"));
        assert!(looks_like_schedule("*/5 9-17 * * MON-FRI"));
        assert!(looks_like_schedule("@daily"));
        assert!(!looks_like_schedule("send the weekly report now"));
        assert!(!looks_like_schedule("users"));
    }
}
