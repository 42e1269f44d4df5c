//! Turns the facts of one walk (or, when the parser gave up, its module record) into the
//! fields of a [`FileRecord`]: routes get their framework, Next.js routes come from the path,
//! hints are decided.

use oxc_ast::ast::Program;
use oxc_ast_visit::VisitJs;
use oxc_parser::ParserReturn;
use oxc_syntax::module_record::ExportExportName;

use super::routes::{self, NextFile, RawRoute, NEXT_METHODS};
use super::visit::Facts;
use crate::pipeline::model::{names, FileRecord, Import, ImportKind, Route};
use crate::pipeline::wiring::RouteObject;

/// Fills `record` from a parsed program.
pub(super) fn extract_program(record: &mut FileRecord, program: &Program<'_>, text: &str) {
    let mut facts = Facts::new(text);
    facts.visit_program(program);
    facts.collect_import_types(program);
    finish(record, facts);
}

/// Fills `record` from the module record of a parse that stopped at a fatal error: the ESM
/// imports, re-exports, dynamic imports and exports read before the error.
pub(super) fn fallback_from_module_record(
    record: &mut FileRecord,
    text: &str,
    ret: &ParserReturn<'_>,
) {
    let mut facts = Facts::new(text);
    let mr = &ret.module_record;
    let mut found: Vec<(u32, Import)> = Vec::new();
    for (specifier, requests) in &mr.requested_modules {
        for req in requests {
            let kind = if req.is_type {
                ImportKind::Type
            } else if req.is_import {
                ImportKind::Esm
            } else {
                ImportKind::Reexport
            };
            found.push((
                req.statement_span.start,
                import(
                    specifier.as_str(),
                    kind,
                    facts.line(req.statement_span.start),
                ),
            ));
        }
    }
    for d in &mr.dynamic_imports {
        let raw = facts.text(d.module_request);
        let unquoted = raw
            .strip_prefix(['"', '\'', '`'])
            .and_then(|r| r.strip_suffix(['"', '\'', '`']))
            .filter(|r| !r.contains("${"));
        if let Some(raw) = unquoted {
            found.push((
                d.span.start,
                import(raw, ImportKind::Dynamic, facts.line(d.span.start)),
            ));
        }
    }
    found.sort_by_key(|(offset, _)| *offset);
    facts.imports = found.into_iter().map(|(_, i)| i).collect();
    let entries = mr
        .local_export_entries
        .iter()
        .chain(&mr.indirect_export_entries);
    let mut exports: Vec<(u32, String)> = entries
        .filter_map(|e| match &e.export_name {
            ExportExportName::Name(n) => Some((e.span.start, n.name.to_string())),
            ExportExportName::Default(span) => Some((span.start, "default".to_string())),
            ExportExportName::Null => None,
        })
        .collect();
    exports.sort_by_key(|(offset, _)| *offset);
    facts.exports = exports.into_iter().map(|(_, n)| n).collect();
    finish(record, facts);
}

fn import(raw: &str, kind: ImportKind, line: u32) -> Import {
    Import {
        raw: raw.into(),
        kind,
        line,
        names: Vec::new(),
        level: 0,
        resolved: None,
        external: false,
        package: None,
        unresolved_reason: None,
    }
}

/// The npm package a bare specifier names (`@scope/name`, `name`), `None` for paths.
pub(super) fn package_root(raw: &str) -> Option<&str> {
    if raw.starts_with('.') || raw.starts_with('/') || raw.starts_with('#') || raw.is_empty() {
        return None;
    }
    let mut parts = raw.splitn(3, '/');
    let first = parts.next()?;
    if first.starts_with('@') {
        let second = parts.next()?;
        Some(&raw[..first.len() + 1 + second.len()])
    } else {
        Some(first)
    }
}

/// Frameworks recognised from imported packages, most specific first.
const FRAMEWORKS: &[(&str, &str)] = &[
    ("next", "next"),
    ("@nestjs/", "nestjs"),
    ("express", "express"),
    ("koa", "koa"),
    ("@koa/router", "koa"),
    ("koa-router", "koa"),
    ("fastify", "fastify"),
    ("hono", "hono"),
    ("@hapi/hapi", "hapi"),
    ("restify", "restify"),
    ("@sveltejs/kit", "sveltekit"),
    ("nuxt", "nuxt"),
    ("@angular/core", "angular"),
    ("vue", "vue"),
    ("svelte", "svelte"),
    ("solid-js", "solid"),
    ("preact", "preact"),
    ("react-native", "react-native"),
    ("react", "react"),
    ("react-dom", "react"),
];

/// Frameworks that serve HTTP routes declared in code.
const SERVER_FRAMEWORKS: &[&str] = &[
    "express", "koa", "fastify", "hono", "hapi", "restify", "nestjs",
];

fn framework_of(imports: &[Import]) -> Option<&'static str> {
    imports
        .iter()
        .filter_map(|i| package_root(&i.raw))
        .filter_map(|pkg| {
            FRAMEWORKS.iter().position(|(key, _)| {
                if key.ends_with('/') {
                    pkg.starts_with(key)
                } else {
                    pkg == *key
                }
            })
        })
        .min()
        .map(|i| FRAMEWORKS[i].1)
}

fn server_framework_of(imports: &[Import]) -> Option<&'static str> {
    imports
        .iter()
        .filter_map(|i| package_root(&i.raw))
        .filter_map(|pkg| {
            FRAMEWORKS
                .iter()
                .find(|(key, fw)| {
                    SERVER_FRAMEWORKS.contains(fw)
                        && (pkg == *key || (key.ends_with('/') && pkg.starts_with(key)))
                })
                .map(|(_, fw)| *fw)
        })
        .next()
}

fn dedup(names: &mut Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| seen.insert(n.clone()));
}

fn finish(record: &mut FileRecord, mut facts: Facts<'_>) {
    dedup(&mut facts.exports);
    let server = server_framework_of(&facts.imports);
    // The server under a Nest app: Fastify with its adapter package, else Express (Nest's
    // default).
    let nest_adapter = if facts
        .imports
        .iter()
        .any(|i| i.raw == "@nestjs/platform-fastify")
    {
        "fastify"
    } else {
        "express"
    };
    let wiring = std::mem::take(&mut facts.wiring);
    let top_vars = &facts.variables;
    // The owner of a router reference (see `pipeline::wiring`): the variable when the file
    // creates, imports or holds it at module level, else the enclosing function's label.
    let known = wiring.known_locals();
    let owner = |receiver: &str, label: &str| -> String {
        if label.is_empty() || known.contains(receiver) || top_vars.iter().any(|v| v == receiver) {
            receiver.to_string()
        } else {
            label.to_string()
        }
    };
    let path = record.path.clone();
    let mut route_labels: Vec<String> = Vec::new();
    let mut weak_lines: Vec<u32> = Vec::new();
    let out_routes: Vec<Route> = facts
        .routes
        .drain(..)
        // A router the file creates, a name that is surely a router, or one that may be a
        // router in a file that imports a server framework (or with an inline handler); a
        // name that may be a router elsewhere is tentative (kept if mounted somewhere).
        .filter(|r| {
            let sure = r.object == "nestjs"
                || wiring.is_router(&r.object)
                || routes::is_strong_router_name(&r.object)
                || (routes::is_weak_router_name(&r.object)
                    && (server.is_some() || r.inline_handler));
            if !sure && routes::is_weak_router_name(&r.object) {
                weak_lines.push(r.line);
                return true;
            }
            sure
        })
        // Only koa-router takes paths without a leading `/`.
        .filter(|r| !r.bare || server == Some("koa") || wiring.is_koa_router(&r.object))
        .map(|r: RawRoute| {
            let unit = if r.object == "nestjs" {
                r.label.clone()
            } else {
                owner(&r.object, &r.label)
            };
            if unit != r.object {
                route_labels.push(unit.clone());
            }
            let framework = if r.object == "nestjs" {
                "nestjs"
            } else if r.object == routes::NEST_HTTP_ADAPTER {
                nest_adapter
            } else {
                server.unwrap_or(if r.object.eq_ignore_ascii_case("fastify") {
                    "fastify"
                } else {
                    "express"
                })
            };
            Route {
                method: r.method,
                path: r.path,
                handler: r.handler,
                line: r.line,
                framework: framework.to_string(),
                unit: Some(format!("{path}:{unit}")),
                ..Default::default()
            }
        })
        .collect();
    let default_names = facts.default_names.clone();
    let route_owners: std::collections::HashSet<String> = out_routes
        .iter()
        .filter_map(|r| {
            r.unit
                .as_deref()?
                .strip_prefix(path.as_str())?
                .strip_prefix(':')
        })
        .map(str::to_string)
        .collect();
    let file_name = record.path.rsplit('/').next().unwrap_or(&record.path);
    let next_config = file_name.starts_with("next.config.");
    // Exported string constants, for prefixes other files name through an import.
    let mut consts: Vec<(String, String)> = wiring
        .consts
        .iter()
        .filter(|(name, (_, default))| {
            let head = name.split('.').next().unwrap_or(name);
            !default && facts.exports.iter().any(|e| e == head)
        })
        .map(|(n, (v, _))| (n.clone(), v.clone()))
        .collect();
    consts.sort();
    record.wiring = wiring.finish(
        &owner,
        &default_names,
        &route_owners,
        route_labels,
        next_config,
    );
    record.wiring.consts = consts;
    record.wiring.route_objects = std::mem::take(&mut facts.route_objects)
        .into_iter()
        .map(|(name, found)| RouteObject {
            routes: found
                .into_iter()
                .map(|r| Route {
                    method: r.method,
                    path: r.path,
                    handler: if r.handler.is_empty() || r.inline_handler {
                        name.clone()
                    } else {
                        r.handler
                    },
                    line: r.line,
                    ..Default::default()
                })
                .collect(),
            name,
        })
        .collect();
    // `X.route(getUser)`: found once composition follows the name.
    let (refs, out_routes): (Vec<Route>, Vec<Route>) =
        out_routes.into_iter().partition(|r| r.method.is_empty());
    record.wiring.route_refs = refs;
    // Tentative routes wait in the wiring until composition sees them mounted.
    let (tentative, sure): (Vec<Route>, Vec<Route>) = out_routes
        .into_iter()
        .partition(|r| weak_lines.contains(&r.line));
    let mut out_routes = sure;
    record.wiring.tentative = tentative;
    out_routes.sort_by_key(|r| r.line);
    let is_api_in_code = !out_routes.is_empty();
    let next = routes::next_file(&record.path);
    let default_handler = facts
        .default_names
        .first()
        .cloned()
        .unwrap_or_else(|| "default".to_string());
    let has_default = facts.exports.iter().any(|e| e == "default");
    let line_of = |name: &str| {
        facts
            .functions
            .iter()
            .find(|f| f.name == name)
            .map_or(1, |f| f.line)
    };
    let (mut is_route, mut is_api) = (is_api_in_code, is_api_in_code);
    match &next {
        Some(NextFile::AppRoute(path)) => {
            is_route = true;
            is_api = true;
            for m in NEXT_METHODS
                .iter()
                .filter(|m| facts.exports.iter().any(|e| e == *m))
            {
                out_routes.push(next_route(m, path, m, line_of(m), "nextjs-app"));
            }
        }
        Some(NextFile::AppMetadata(path)) if has_default => {
            is_route = true;
            // `generateSitemaps` splits a sitemap into `/sitemap/<id>.xml`.
            let path = match path.strip_suffix("/sitemap.xml") {
                Some(dir) if facts.exports.iter().any(|e| e == "generateSitemaps") => {
                    format!("{dir}/sitemap/[id].xml")
                }
                _ => path.clone(),
            };
            out_routes.push(next_route(
                "GET",
                &path,
                &default_handler,
                line_of(&default_handler),
                "nextjs-app",
            ));
        }
        Some(NextFile::AppPage(path)) if has_default => {
            is_route = true;
            out_routes.push(next_route(
                "PAGE",
                path,
                &default_handler,
                line_of(&default_handler),
                "nextjs-app",
            ));
        }
        Some(NextFile::PagesApi(path)) if has_default => {
            is_route = true;
            is_api = true;
            out_routes.push(next_route(
                "ANY",
                path,
                &default_handler,
                line_of(&default_handler),
                "nextjs-pages",
            ));
        }
        Some(NextFile::PagesPage(path)) if has_default => {
            is_route = true;
            out_routes.push(next_route(
                "PAGE",
                path,
                &default_handler,
                line_of(&default_handler),
                "nextjs-pages",
            ));
        }
        _ => {}
    }
    let framework = match (&next, framework_of(&facts.imports)) {
        (Some(_), _) => Some("next"),
        (None, fw) => fw,
    };
    let is_component = is_react_component(record, &facts);
    record.hints.framework = framework.map(str::to_string);
    record.hints.is_route = is_route;
    record.hints.is_api = is_api;
    record.hints.is_react_component = is_component;
    record.hints.is_client_component = facts.use_client;
    for (key, values) in [
        ("variables", std::mem::take(&mut facts.variables)),
        ("types", std::mem::take(&mut facts.types)),
        ("enums", std::mem::take(&mut facts.enums)),
        ("dynamicImports", std::mem::take(&mut facts.dynamic_exprs)),
    ] {
        if !values.is_empty() {
            record.symbols.insert(key.to_string(), names(values));
        }
    }
    for r in out_routes
        .iter_mut()
        .filter(|r| r.framework.starts_with("nextjs"))
    {
        r.unit = Some(next_unit(&record.path, &r.path));
    }
    record.routes = out_routes;
    crate::pipeline::role::assign_role(record);
    record.imports = facts.imports;
    record.exports = names(facts.exports);
    record.functions = facts.functions;
    record.classes = facts.classes;
}

fn next_route(method: &str, path: &str, handler: &str, line: u32, framework: &str) -> Route {
    Route {
        method: method.to_string(),
        path: path.to_string(),
        handler: handler.to_string(),
        line,
        framework: framework.to_string(),
        ..Default::default()
    }
}

/// The unit of a Next.js route: its router folder and the first segment of its path (the
/// first two under `/api`), e.g. `app:api/users`, `src/pages:blog`, `app:index`.
fn next_unit(file: &str, route: &str) -> String {
    let segs: Vec<&str> = file.split('/').collect();
    let root_at = segs
        .iter()
        .position(|s| *s == "app" || *s == "pages")
        .unwrap_or(0);
    let root = segs[..=root_at.min(segs.len().saturating_sub(1))].join("/");
    let parts: Vec<&str> = route.split('/').filter(|p| !p.is_empty()).collect();
    let group = match parts.as_slice() {
        [] => "index".to_string(),
        ["api", second, ..] => format!("api/{second}"),
        [first, ..] => (*first).to_string(),
    };
    format!("{root}:{group}")
}

/// An exported module-level function or class that renders JSX; or, in a `.jsx`/`.tsx` file,
/// an exported capitalised function.
fn is_react_component(record: &FileRecord, facts: &Facts<'_>) -> bool {
    let exported = |name: &str, flag: bool| {
        flag || facts.exports.iter().any(|e| e == name)
            || facts.default_names.iter().any(|d| d == name)
    };
    let has_jsx = |start: u32, end: u32| {
        let i = facts.jsx_starts.partition_point(|&s| s < start);
        facts.jsx_starts.get(i).is_some_and(|&s| s < end)
    };
    let renders = facts
        .candidates
        .iter()
        .any(|c| exported(&c.name, c.exported) && has_jsx(c.span.start, c.span.end));
    let jsx_file = matches!(record.ext.as_str(), "jsx" | "tsx");
    renders
        || (jsx_file
            && facts.candidates.iter().any(|c| {
                c.name.starts_with(|ch: char| ch.is_ascii_uppercase())
                    && exported(&c.name, c.exported)
            }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes(path: &str, src: &str) -> Vec<String> {
        crate::pipeline::js::parse::parse_js(path, src.as_bytes())
            .routes
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }

    /// Next.js metadata routes written as code: `robots`, `sitemap` (split by
    /// `generateSitemaps`) and `manifest`, each a `GET` route when it has a default export.
    #[test]
    fn nextjs_metadata_routes() {
        let default = "export default function f() { return {} }";
        assert_eq!(routes("app/robots.ts", default), vec!["GET /robots.txt"]);
        assert_eq!(
            routes("src/app/manifest.ts", default),
            vec!["GET /manifest.webmanifest"]
        );
        assert_eq!(routes("app/sitemap.ts", default), vec!["GET /sitemap.xml"]);
        let split = "export async function generateSitemaps() { return [{ id: 0 }] }\n\
                     export default function sitemap({ id }) { return [] }";
        assert_eq!(
            routes("app/(site)/docs/sitemap.tsx", split),
            vec!["GET /docs/sitemap/[id].xml"]
        );
        assert!(routes("app/robots.ts", "export const rules = 1").is_empty());
    }

    /// Prefixes named by module-level string constants: a `const`, a member of a `const`
    /// object, a TS enum member, and a TS enum as TypeScript compiles it.
    #[test]
    fn prefixes_named_by_string_constants() {
        let src = r#"
import express from 'express';
import Fastify from 'fastify';
import users from './users';
const API = '/api';
const V1 = API + '/v1';
const PATHS = { ADMIN: '/admin' };
enum Web { ROOT = '/-/web' }
var PREFIX;
(function (PREFIX) {
    PREFIX["USER"] = "/-/user";
})(PREFIX || (PREFIX = {}));
const app = express();
app.use(V1, users);
app.use(PATHS.ADMIN, users);
const f = Fastify();
f.register(users, { prefix: Web.ROOT });
f.register(users, { prefix: PREFIX.USER });
f.register(users, { prefix: config.prefix });
"#;
        let rec = crate::pipeline::js::parse::parse_js("server.ts", src.as_bytes());
        let mounts: Vec<(String, bool)> = rec
            .wiring
            .mounts
            .iter()
            .map(|m| (m.prefix.clone(), m.dynamic))
            .collect();
        assert_eq!(
            mounts,
            vec![
                ("/api/v1".to_string(), false),
                ("/admin".to_string(), false),
                ("/-/web".to_string(), false),
                ("/-/user".to_string(), false),
                (String::new(), true),
            ]
        );
    }

    /// NestJS as published: TypeScript's compiled decorators, ESM (`__decorate`) and CommonJS
    /// (`(0, tslib_1.__decorate)`, `(0, common_1.Get)(…)`), with the class call after its
    /// methods; a class without `Controller` gives no routes.
    #[test]
    fn nest_compiled_decorators() {
        let esm = r#"
import { Controller, Get, Post, Version } from '@nestjs/common';
let UsersController = class UsersController {
    list() {}
    create() {}
};
__decorate([
    Get(),
    __metadata("design:type", Function)
], UsersController.prototype, "list", null);
__decorate([
    Version('2'),
    Post(':id/avatar')
], UsersController.prototype, "create", null);
UsersController = __decorate([
    Controller('users')
], UsersController);
let Helper = class Helper { run() {} };
__decorate([Get('x')], Helper.prototype, "run", null);
export { UsersController };
"#;
        assert_eq!(
            routes("users.controller.js", esm),
            vec!["GET /users", "POST /users/:id/avatar"]
        );
        let cjs = r#"
"use strict";
const tslib_1 = require("tslib");
const common_1 = require("@nestjs/common");
let AuthController = class AuthController { login() {} };
tslib_1.__decorate([
    (0, common_1.Post)('login'),
    tslib_1.__metadata("design:type", Function)
], AuthController.prototype, "login", null);
AuthController = tslib_1.__decorate([
    (0, common_1.Controller)({ path: 'auth' })
], AuthController);
exports.AuthController = AuthController;
"#;
        assert_eq!(routes("auth.controller.js", cjs), vec!["POST /auth/login"]);
    }

    /// Routes on Nest's underlying server (`app.getHttpAdapter().get(…)`) are the adapter's
    /// (Fastify here), outside Nest's global prefix.
    #[test]
    fn nest_http_adapter_routes() {
        let src = r#"
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
const app = await NestFactory.create(AppModule, new FastifyAdapter());
app.getHttpAdapter().get('/', async (req, res) => res.send('ok'));
app.setGlobalPrefix('/api');
"#;
        let rec = crate::pipeline::js::parse::parse_js("main.js", src.as_bytes());
        let got: Vec<(&str, &str, &str)> = rec
            .routes
            .iter()
            .map(|r| (r.method.as_str(), r.path.as_str(), r.framework.as_str()))
            .collect();
        assert_eq!(got, vec![("GET", "/", "fastify")]);
    }

    #[test]
    fn package_roots() {
        assert_eq!(package_root("react"), Some("react"));
        assert_eq!(package_root("react-dom/client"), Some("react-dom"));
        assert_eq!(package_root("@scope/pkg/sub/path"), Some("@scope/pkg"));
        assert_eq!(package_root("./x"), None);
        assert_eq!(package_root("#internal"), None);
    }
}
