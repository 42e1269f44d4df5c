//! Entry points: HTTP routes (with mount prefixes), UI pages, command-line programs; and the
//! links that tie them together (mounts, Django `include()`, client calls to API routes).

use super::{
    stem, Ctx, Finding, FindingKind, Global, Local, Pending, LINK_HTTP, LINK_INCLUDE, LINK_MOUNT,
};
use crate::pipeline::caps::scan::is_identifier;
use crate::pipeline::model::{FileRecord, Language, Route};
use std::collections::{BTreeMap, BTreeSet};

/// Local phase.
pub(super) fn scan(ctx: &Ctx<'_>, out: &mut Local) {
    if ctx.is_py() {
        cli_py(ctx, out);
        mounts_py(ctx, out);
    } else {
        cli_js(ctx, out);
        mounts_js(ctx, out);
        react_router(ctx, out);
        api_calls(ctx, out);
    }
}

fn cli_py(ctx: &Ctx<'_>, out: &mut Local) {
    let sc = ctx.sc;
    let typer_apps: Vec<String> = sc
        .calls("typer.Typer")
        .into_iter()
        .chain(sc.calls("Typer"))
        .filter_map(|(at, _)| sc.assigned_ident(at))
        .collect();
    let mut groups: Vec<String> = Vec::new();
    for f in &ctx.rec.functions {
        for d in &f.decorators {
            let head = d.split('(').next().unwrap_or(d).trim();
            let (obj, attr) = head.rsplit_once('.').unwrap_or(("", head));
            let explicit = d
                .split_once('(')
                .and_then(|(_, a)| a.trim_start().strip_prefix(['"', '\'']))
                .and_then(|a| a.split(['"', '\'']).next())
                .filter(|n| !n.is_empty());
            let default = f.name.replace('_', "-");
            let name = explicit.unwrap_or(&default);
            let click_obj = obj == "click" || groups.iter().any(|g| g == obj);
            let fw = if click_obj && (attr == "command" || attr == "group") {
                Some("click")
            } else if attr == "command" && typer_apps.iter().any(|t| t == obj) {
                Some("typer")
            } else {
                None
            };
            if let Some(fw) = fw {
                if attr == "group" {
                    groups.push(f.name.to_string());
                }
                let detail = format!("{fw} {attr}");
                out.findings
                    .push(ctx.finding(FindingKind::Cli, f.line, name, fw, &detail));
            }
            if matches!(
                head,
                "click.option" | "click.argument" | "typer.Option" | "typer.Argument"
            ) {
                if let Some(n) = explicit {
                    out.findings.push(ctx.finding(
                        FindingKind::CliArg,
                        f.line,
                        n,
                        "click",
                        "option",
                    ));
                }
            }
        }
    }
    for (at, open) in sc
        .calls("argparse.ArgumentParser")
        .into_iter()
        .chain(sc.calls("ArgumentParser"))
    {
        let prog = sc.kwarg_lit(open, "prog").map(|l| l.value.clone());
        let name = prog.unwrap_or_else(|| command_name(&ctx.rec.path));
        out.findings.push(ctx.finding(
            FindingKind::Cli,
            sc.line(at),
            &name,
            "argparse",
            "argparse",
        ));
    }
    for (recv, open) in sc.method_calls("add_argument") {
        let _ = recv;
        if let Some(l) = sc.lit_after(open) {
            out.findings.push(ctx.finding(
                FindingKind::CliArg,
                sc.line(open),
                &l.value,
                "argparse",
                "option",
            ));
        }
    }
    for p in sc.words("__name__") {
        let rest = sc.code[p + 8..].trim_start();
        if let Some(r) = rest.strip_prefix("==") {
            let at = sc.code.len() - r.len();
            if sc.lit_after(at).is_some_and(|l| l.value == "__main__") {
                out.findings.push(ctx.finding(
                    FindingKind::Cli,
                    sc.line(p),
                    &command_name(&ctx.rec.path),
                    "python",
                    "__main__",
                ));
            }
        }
    }
    if ctx.rec.path.ends_with("__main__.py") {
        out.findings.push(ctx.finding(
            FindingKind::Cli,
            1,
            &command_name(&ctx.rec.path),
            "python",
            "__main__.py",
        ));
    }
}

/// The name a command is known by: the file stem, or the package for `__main__.py`.
fn command_name(path: &str) -> String {
    let s = stem(path);
    if s == "__main__" || s == "__init__" {
        let mut parts = path.rsplit('/');
        parts.next();
        return parts.next().unwrap_or(s).to_string();
    }
    s.to_string()
}

fn cli_js(ctx: &Ctx<'_>, out: &mut Local) {
    let sc = ctx.sc;
    if sc.code.starts_with("#!") && sc.code.lines().next().is_some_and(|l| l.contains("node")) {
        out.findings.push(ctx.finding(
            FindingKind::Cli,
            1,
            &command_name(&ctx.rec.path),
            "node",
            "shebang",
        ));
    }
    if let Some(fw) = ["commander", "yargs", "cac", "sade"]
        .into_iter()
        .find(|p| ctx.imports(p))
    {
        let mut any = false;
        for (_, open) in sc.method_calls("command") {
            if let Some(l) = sc.lit_after(open) {
                let name = l.value.split_whitespace().next().unwrap_or("").to_string();
                if !name.is_empty() {
                    any = true;
                    out.findings.push(ctx.finding(
                        FindingKind::Cli,
                        sc.line(open),
                        &name,
                        fw,
                        "command",
                    ));
                }
            }
        }
        if !any {
            out.findings.push(ctx.finding(
                FindingKind::Cli,
                1,
                &command_name(&ctx.rec.path),
                fw,
                "program",
            ));
        }
        for (_, open) in sc.method_calls("option") {
            if let Some(l) = sc.lit_after(open) {
                let flag = l
                    .value
                    .split([',', ' '])
                    .find(|s| s.starts_with("--"))
                    .unwrap_or(&l.value);
                out.findings.push(ctx.finding(
                    FindingKind::CliArg,
                    sc.line(open),
                    flag,
                    fw,
                    "option",
                ));
            }
        }
    }
}

fn mounts_js(ctx: &Ctx<'_>, out: &mut Local) {
    let sc = ctx.sc;
    for (_, open) in sc.method_calls("use") {
        let args = sc.args(open);
        let Some(prefix) = args.first().and_then(|a| sc.arg_lit(*a)) else {
            continue;
        };
        if !prefix.value.starts_with('/') {
            continue;
        }
        if let Some(last) = args.get(1..).and_then(|a| a.last()) {
            let expr = sc.code[last.0..last.1].trim();
            let ident = expr.split(['.', '(']).next().unwrap_or("").trim();
            if is_identifier(ident) {
                out.pending.push(Pending::Mount {
                    ident: ident.to_string(),
                    prefix: prefix.value.clone(),
                });
            }
        }
    }
    // Koa/Fastify style routers with their own prefix.
    for (at, open) in sc.calls("Router") {
        if sc.preceded_by_word(at, "new") {
            if let Some(l) = sc.kwarg_lit(open, "prefix") {
                out.facts.prefix = Some(l.value.clone());
            }
        }
    }
}

fn mounts_py(ctx: &Ctx<'_>, out: &mut Local) {
    let sc = ctx.sc;
    for (method, kw) in [
        ("include_router", "prefix"),
        ("register_blueprint", "url_prefix"),
    ] {
        for (_, open) in sc.method_calls(method) {
            let Some(first) = sc.args(open).first().copied() else {
                continue;
            };
            let expr = sc.code[first.0..first.1].trim();
            let ident = expr.split('.').next().unwrap_or("").trim();
            let prefix = sc
                .kwarg_lit(open, kw)
                .map(|l| l.value.clone())
                .unwrap_or_default();
            if is_identifier(ident) {
                out.pending.push(Pending::Mount {
                    ident: ident.to_string(),
                    prefix,
                });
            }
        }
    }
    for (callee, kw) in [("APIRouter", "prefix"), ("Blueprint", "url_prefix")] {
        for (at, open) in sc.calls(callee) {
            if let Some(l) = sc.kwarg_lit(open, kw) {
                out.facts.prefix = Some(l.value.clone());
                out.facts.prefix_owner = sc.assigned_ident(at);
            }
        }
    }
    for callee in ["path", "re_path", "url"] {
        for (_, open) in sc.calls(callee) {
            let args = sc.args(open);
            let (Some(p), Some(second)) = (args.first(), args.get(1)) else {
                continue;
            };
            let Some(prefix) = sc.arg_lit(*p) else {
                continue;
            };
            let arg = &sc.code[second.0..second.1];
            let inner = arg.trim_start();
            let start = second.0 + (arg.len() - inner.len());
            if let Some(rest) = inner.strip_prefix("include") {
                let q = start + "include".len() + (rest.len() - rest.trim_start().len());
                if sc.code.as_bytes().get(q) == Some(&b'(') {
                    if let Some(m) = sc.lit_after(q + 1) {
                        out.pending.push(Pending::Include {
                            module: m.value.clone(),
                            prefix: prefix
                                .value
                                .trim_start_matches('^')
                                .trim_end_matches('$')
                                .to_string(),
                        });
                    }
                }
            }
        }
    }
}

fn react_router(ctx: &Ctx<'_>, out: &mut Local) {
    if !ctx.imports_any(&["react-router-dom", "react-router", "@tanstack/react-router"]) {
        return;
    }
    let sc = ctx.sc;
    let b = sc.code.as_bytes();
    let mut from = 0;
    while let Some(p) = crate::pipeline::caps::scan::find_from(&sc.code, from, "<Route") {
        from = p + 6;
        if b.get(p + 6)
            .is_some_and(|c| super::super::scan::is_ident(*c))
        {
            continue;
        }
        let end = sc.code[p..].find('>').map_or(sc.code.len(), |e| p + e);
        if let Some(at) = sc.code[p..end].find("path=").map(|x| p + x) {
            if let Some(l) = sc.lit_after(at + 5) {
                out.findings.push(ctx.finding(
                    FindingKind::Page,
                    sc.line(p),
                    &l.value,
                    "react-router",
                    "PAGE",
                ));
            }
        }
    }
    for l in &sc.lits {
        let before = sc.code[..l.start].trim_end();
        if l.value.starts_with('/')
            && before.ends_with(':')
            && before[..before.len() - 1].trim_end().ends_with("path")
        {
            out.findings.push(ctx.finding(
                FindingKind::Page,
                sc.line(l.start),
                &l.value,
                "react-router",
                "PAGE",
            ));
        }
    }
}

fn api_calls(ctx: &Ctx<'_>, out: &mut Local) {
    let sc = ctx.sc;
    let mut opens: Vec<usize> = sc.calls("fetch").into_iter().map(|c| c.1).collect();
    for m in ["get", "post", "put", "patch", "delete"] {
        for (recv, open) in sc.method_calls(m) {
            if matches!(recv.as_str(), "axios" | "api" | "http" | "client" | "$http") {
                opens.push(open);
            }
        }
    }
    for open in opens {
        if let Some(l) = sc.lit_after(open).filter(|l| l.value.starts_with('/')) {
            out.pending.push(Pending::ApiCall {
                path: l.value.clone(),
            });
        }
    }
}

/// Global phase.
pub(super) fn resolve(g: &mut Global<'_>) {
    let prefixes = mount_prefixes(g);
    routes(g, &prefixes);
    config_clis(g);
    stdout_outputs(g);
    api_links(g);
}

/// Joins URL paths; a child already starting with the parent is not prefixed twice, so the
/// result is right whether or not the parser applied the prefix already.
pub fn join_path(parent: &str, child: &str) -> String {
    let norm = |s: &str| {
        let t = s.trim_matches('/');
        if t.is_empty() {
            String::new()
        } else {
            format!("/{t}")
        }
    };
    let (p, c) = (norm(parent), norm(child));
    // Django style: `blog/` + `` is `/blog/`, `blog/` + `<int:pk>/` is `/blog/<int:pk>/`.
    let trailing = if child.trim_matches('/').is_empty() {
        parent.len() > 1 && parent.ends_with('/')
    } else {
        child.ends_with('/')
    };
    let joined = if p.is_empty() || c == p || c.starts_with(&format!("{p}/")) {
        c
    } else {
        format!("{p}{c}")
    };
    match (joined.is_empty(), trailing) {
        (true, _) => "/".to_string(),
        (false, true) => format!("{joined}/"),
        (false, false) => joined,
    }
}

/// URL prefixes of a file's routes.
#[derive(Debug, Clone, Default)]
struct RoutePrefix {
    /// Parents' and mount prefixes only.
    mounted: String,
    /// `mounted`, then the file's own router prefix.
    full: String,
}

/// URL prefixes of every mounted file: the parent's prefix, the mount prefix, then the
/// file's own router prefix.
fn mount_prefixes(g: &mut Global<'_>) -> BTreeMap<String, RoutePrefix> {
    let mut parent: BTreeMap<String, (String, String)> = BTreeMap::new(); // child -> (parent, prefix)
    let pending = std::mem::take(&mut g.pending);
    for (file, p) in &pending {
        let (target, prefix, kind) = match p {
            Pending::Mount { ident, prefix } => (g.resolve_ident(file, ident), prefix, LINK_MOUNT),
            Pending::Include { module, prefix } => (g.resolve_module(module), prefix, LINK_INCLUDE),
            _ => continue,
        };
        if let Some(t) = target.filter(|t| t != file) {
            g.link(file, &t, kind);
            parent
                .entry(t)
                .or_insert_with(|| (file.clone(), prefix.clone()));
        }
    }
    g.pending = pending;
    let mut out = BTreeMap::new();
    for file in g.files.keys() {
        let mut chain = Vec::new();
        let mut cur = file.to_string();
        let mut seen = BTreeSet::new();
        while let Some((p, prefix)) = parent.get(&cur) {
            if !seen.insert(cur.clone()) {
                break;
            }
            chain.push(prefix.clone());
            cur = p.clone();
        }
        let mut mounted = String::new();
        for pre in chain.iter().rev() {
            mounted = join_path(&mounted, pre);
        }
        let mut full = mounted.clone();
        if let Some(own) = g.facts.get(*file).and_then(|f| f.prefix.clone()) {
            full = join_path(&full, &own);
        }
        if !full.is_empty() && full != "/" {
            out.insert(file.to_string(), RoutePrefix { mounted, full });
        }
    }
    for (file, pre) in &out {
        if let Some(f) = g.facts.get_mut(file) {
            f.prefix = Some(pre.full.clone());
        }
    }
    out
}

/// Whether route `r` of `rec` belongs to the receiver that owns the file's router prefix.
/// Only a handler decorated through another receiver (`@app.get` in a file whose prefix is
/// `router`'s) is known not to; without that knowledge the prefix applies (and `join_path`
/// never doubles a prefix the parser already applied).
fn owns_prefix(rec: &FileRecord, owner: Option<&str>, r: &Route) -> bool {
    let Some(owner) = owner else {
        return true;
    };
    let Some(f) = rec.functions.iter().find(|f| f.name == r.handler) else {
        return true;
    };
    let receivers: Vec<&str> = f
        .decorators
        .iter()
        .filter_map(|d| d.split('(').next()?.trim().rsplit_once('.').map(|(o, _)| o))
        .collect();
    receivers.is_empty() || receivers.contains(&owner)
}

fn routes(g: &mut Global<'_>, prefixes: &BTreeMap<String, RoutePrefix>) {
    let mut found = Vec::new();
    for (path, rec) in &g.files {
        let owner = g.facts.get(*path).and_then(|f| f.prefix_owner.as_deref());
        for r in &rec.routes {
            // `include()` mounts a URLconf; its routes are the included file's.
            if r.handler.starts_with("include(") || r.method == "INCLUDE" {
                continue;
            }
            let full = match prefixes.get(*path) {
                Some(p) if owns_prefix(rec, owner, r) => join_path(&p.full, &r.path),
                Some(p) => join_path(&p.mounted, &r.path),
                None => join_path("", &r.path),
            };
            let page = r.method == "PAGE";
            let kind = if page {
                FindingKind::Page
            } else {
                FindingKind::Route
            };
            found.push(finding(path, r.line, kind, &full, &r.framework, &r.method));
            // Handlers that live in another module (`views.post_list`).
            if let Some((module, func)) = r.handler.split_once('.') {
                let func = func.trim_end_matches(".as_view()").trim_end_matches("()");
                if let Some(target) = g.resolve_ident(path, module).filter(|t| t != path) {
                    let detail = format!("{} {}", r.method, full);
                    let line = g
                        .files
                        .get(target.as_str())
                        .and_then(|t| t.functions.iter().find(|f| f.name == func))
                        .map_or(1, |f| f.line);
                    found.push(finding(
                        &target,
                        line,
                        FindingKind::RouteHandler,
                        func,
                        &r.framework,
                        &detail,
                    ));
                }
            }
        }
    }
    g.findings.extend(found);
}

/// `bin` of every package.json and console scripts of pyproject.toml / setup.py / setup.cfg.
fn config_clis(g: &mut Global<'_>) {
    let mut found = Vec::new();
    let configs: Vec<String> = g
        .files
        .keys()
        .filter(|p| {
            let name = p.rsplit('/').next().unwrap_or(p);
            matches!(
                name,
                "package.json" | "pyproject.toml" | "setup.py" | "setup.cfg"
            )
        })
        .map(|p| p.to_string())
        .collect();
    for cfg in configs {
        let Some(text) = g.source(&cfg) else { continue };
        let dir = cfg.rsplit_once('/').map_or("", |(d, _)| d);
        let name = cfg.rsplit('/').next().unwrap_or(&cfg);
        let mut entries: Vec<(String, String, &str)> = Vec::new(); // (command, target, detail)
        if name == "package.json" {
            let Ok(json) = serde_json::from_str::<serde_json::Value>(&text) else {
                tracing::debug!(file = %cfg, "package.json is not valid JSON; bin ignored");
                continue;
            };
            let pkg = json["name"].as_str().unwrap_or("");
            let short = pkg.rsplit('/').next().unwrap_or(pkg);
            match &json["bin"] {
                serde_json::Value::String(t) => entries.push((short.to_string(), t.clone(), "bin")),
                serde_json::Value::Object(m) => {
                    for (k, v) in m {
                        if let Some(t) = v.as_str() {
                            entries.push((k.clone(), t.to_string(), "bin"));
                        }
                    }
                }
                _ => {}
            }
            for (cmd, target, detail) in entries {
                if let Some(file) = js_target(g, dir, &target) {
                    found.push(finding(&file, 1, FindingKind::Cli, &cmd, "npm", detail));
                }
            }
        } else {
            for (cmd, module) in console_scripts(name, &text) {
                if let Some(file) = g.resolve_module(&module) {
                    found.push(finding(
                        &file,
                        1,
                        FindingKind::Cli,
                        &cmd,
                        "python",
                        "console script",
                    ));
                }
            }
        }
    }
    g.findings.extend(found);
}

/// The source file a package.json `bin` target names, also when it points at build output
/// (`dist/cli.js` built from `src/cli.ts`).
fn js_target(g: &Global<'_>, dir: &str, target: &str) -> Option<String> {
    let rel = target.trim_start_matches("./");
    let full = if dir.is_empty() {
        rel.to_string()
    } else {
        format!("{dir}/{rel}")
    };
    if g.files.contains_key(full.as_str()) {
        return Some(full);
    }
    let base = full.rsplit_once('.').map_or(full.as_str(), |(b, _)| b);
    let mut candidates = vec![base.to_string()];
    for out_dir in ["dist/", "build/", "lib/", "out/"] {
        let with = if dir.is_empty() {
            out_dir.to_string()
        } else {
            format!("{dir}/{out_dir}")
        };
        if let Some(rest) = base.strip_prefix(&with) {
            let src = if dir.is_empty() {
                "src/".to_string()
            } else {
                format!("{dir}/src/")
            };
            candidates.push(format!("{src}{rest}"));
        }
    }
    candidates.iter().find_map(|c| {
        ["ts", "js", "mts", "mjs", "cjs", "tsx"]
            .iter()
            .map(|e| format!("{c}.{e}"))
            .find(|p| g.files.contains_key(p.as_str()))
    })
}

/// `(command, module)` pairs declared as console scripts.
fn console_scripts(name: &str, text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let parse = |line: &str| -> Option<(String, String)> {
        let line = line
            .trim()
            .trim_matches(|c| c == '"' || c == '\'' || c == ',');
        let (cmd, target) = line.split_once('=')?;
        let cmd = cmd.trim().trim_matches('"');
        let target = target.trim().trim_matches('"').trim_matches('\'');
        let (module, func) = target.split_once(':')?;
        let ok = !cmd.is_empty()
            && cmd
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            && module.trim().split('.').all(is_identifier)
            && func.trim().split('.').all(is_identifier);
        ok.then(|| (cmd.to_string(), module.trim().to_string()))
    };
    if name == "pyproject.toml" {
        if let Ok(doc) = text.parse::<toml::Table>() {
            let tables = [
                doc.get("project").and_then(|p| p.get("scripts")),
                doc.get("tool")
                    .and_then(|t| t.get("poetry"))
                    .and_then(|p| p.get("scripts")),
            ];
            for t in tables.into_iter().flatten().filter_map(|t| t.as_table()) {
                for (k, v) in t {
                    if let Some(s) = v.as_str() {
                        out.extend(parse(&format!("{k} = {s}")));
                    }
                }
            }
        }
    } else {
        // setup.py strings and setup.cfg lines look alike: `name = module:func`.
        for piece in text.split(['\n', '[', ']']) {
            out.extend(parse(piece));
        }
    }
    out
}

/// Console output of command-line files.
fn stdout_outputs(g: &mut Global<'_>) {
    let cli_files: BTreeSet<String> = g
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::Cli)
        .map(|f| f.file.clone())
        .collect();
    let mut found = Vec::new();
    for file in cli_files {
        let Some(rec) = g.files.get(file.as_str()).copied() else {
            continue;
        };
        let Some(sc) = g.scan(&file) else {
            continue;
        };
        let callees: &[&str] = if rec.language == Language::Py {
            &[
                "print",
                "click.echo",
                "typer.echo",
                "sys.stdout.write",
                "console.print",
            ]
        } else {
            &["console.log", "process.stdout.write", "console.table"]
        };
        if let Some(at) = callees.iter().flat_map(|c| sc.calls(c)).map(|c| c.0).min() {
            found.push(finding(
                &file,
                sc.line(at),
                FindingKind::Output,
                "stdout",
                "console",
                "console",
            ));
        }
    }
    g.findings.extend(found);
}

/// Links client calls (`fetch('/api/users')`) to the routes that serve them.
fn api_links(g: &mut Global<'_>) {
    let routes: Vec<(String, String)> = g
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::Route)
        .map(|f| (f.name.clone(), f.file.clone()))
        .collect();
    let calls: Vec<(String, String)> = g
        .pending
        .iter()
        .filter_map(|(file, p)| match p {
            Pending::ApiCall { path } => Some((file.clone(), path.clone())),
            _ => None,
        })
        .collect();
    for (file, path) in calls {
        let path = path.split(['?', '#']).next().unwrap_or(&path);
        for (route, target) in &routes {
            if path_matches(route, path) {
                g.link(&file, target, LINK_HTTP);
            }
        }
    }
}

/// True when concrete (or template) path `call` matches route pattern `route`; parameter
/// segments (`:id`, `[id]`, `{id}`, `<int:id>`, `${id}`) match any one segment.
pub fn path_matches(route: &str, call: &str) -> bool {
    let segs = |s: &str| -> Vec<String> {
        s.split('/')
            .filter(|x| !x.is_empty())
            .map(str::to_string)
            .collect()
    };
    let is_param = |s: &str| {
        s.starts_with(':')
            || s.starts_with('[')
            || s.starts_with('{')
            || s.starts_with('<')
            || s.contains("${")
    };
    let (r, c) = (segs(route), segs(call));
    r.len() == c.len()
        && r.iter()
            .zip(&c)
            .all(|(a, b)| a == b || is_param(a) || is_param(b))
}

fn finding(
    file: &str,
    line: u32,
    kind: FindingKind,
    name: &str,
    fw: &str,
    detail: &str,
) -> Finding {
    Finding {
        file: file.to_string(),
        line,
        kind,
        name: name.to_string(),
        framework: fw.to_string(),
        detail: detail.to_string(),
    }
}

#[cfg(test)]
#[path = "entry_tests.rs"]
mod tests;
