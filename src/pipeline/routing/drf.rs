//! Django REST framework routers: the routes a `SimpleRouter` / `DefaultRouter` generates
//! for each registered viewset, found once the viewset class is.
//!
//! The router's rules (`SimpleRouter.routes`, DRF 3.x), for `router.register(prefix, Cls)`:
//! - `prefix/` when the class has `list` or `create`;
//! - `prefix/<url_path>/` for each `@action(detail=False)`;
//! - `prefix/<pk>/` when the class has `retrieve`, `update`, `partial_update` or `destroy`;
//! - `prefix/<pk>/<url_path>/` for each `@action(detail=True)`;
//! - a `DefaultRouter` adds `.<format>` to each (`format_suffix_patterns`).
//!
//! The trailing `/` is the router's `trailing_slash`. A class's actions are its own methods
//! and those of its bases: the DRF viewsets and mixins by name, the project's classes by
//! following their names. A class that cannot be found, or whose unknown (third-party) bases
//! may supply the actions, is taken to have them all, as a `ModelViewSet` does.

use std::collections::HashSet;

use super::names::Names;
use crate::pipeline::model::{FileRecord, Route};
use crate::pipeline::py::FORMAT_SUFFIX;
use crate::pipeline::wiring::Setting;

/// Bases followed from a viewset up its class hierarchy, at most.
const MAX_BASES: usize = 32;

/// What DRF's own classes bring.
fn known_base(name: &str) -> Option<&'static [&'static str]> {
    Some(match name {
        "ModelViewSet" => &[
            "list",
            "create",
            "retrieve",
            "update",
            "partial_update",
            "destroy",
        ],
        "ReadOnlyModelViewSet" => &["list", "retrieve"],
        "ListModelMixin" => &["list"],
        "CreateModelMixin" => &["create"],
        "RetrieveModelMixin" => &["retrieve"],
        "UpdateModelMixin" => &["update", "partial_update"],
        "DestroyModelMixin" => &["destroy"],
        "GenericViewSet" | "ViewSet" | "ViewSetMixin" | "GenericAPIView" | "APIView" | "object" => {
            &[]
        }
        _ => return None,
    })
}

/// A viewset's routes: whether it has the list and detail routes, and its extra actions.
#[derive(Debug, Default)]
struct Shape {
    list: bool,
    detail: bool,
    /// (detail, url path, method).
    actions: Vec<(bool, String, String)>,
    /// A base could be neither found nor named: it may bring any action.
    unknown: bool,
}

/// `routes` with every DRF registration placeholder of `rec` expanded (see the module docs).
pub(super) fn expand(
    records: &[FileRecord],
    names: &Names<'_>,
    i: usize,
    rec: &FileRecord,
    routes: Vec<Route>,
) -> Vec<Route> {
    let regs: Vec<(u32, &str, &str, bool)> = rec
        .wiring
        .settings
        .iter()
        .filter_map(|s| match s {
            Setting::DrfViewSet {
                line,
                class,
                trailing_slash,
                format_suffix,
            } => Some((
                *line,
                class.as_str(),
                trailing_slash.as_str(),
                *format_suffix,
            )),
            _ => None,
        })
        .collect();
    if regs.is_empty() {
        return routes;
    }
    let mut out = Vec::with_capacity(routes.len());
    for r in routes {
        let Some(&(_, class, slash, suffix)) = regs
            .iter()
            .find(|(line, ..)| *line == r.line && r.method == "ANY" && r.handler != "api-root")
        else {
            out.push(r);
            continue;
        };
        let shape = shape(records, names, i, class);
        let base = r.path.trim_end_matches('/');
        let mut paths: Vec<(String, String)> = Vec::new();
        if shape.list || shape.unknown {
            paths.push((format!("{base}{slash}"), class.to_string()));
        }
        for (detail, url, method) in &shape.actions {
            if !detail {
                paths.push((format!("{base}/{url}{slash}"), format!("{class}.{method}")));
            }
        }
        if shape.detail || shape.unknown {
            paths.push((format!("{base}/<pk>{slash}"), class.to_string()));
        }
        for (detail, url, method) in &shape.actions {
            if *detail {
                paths.push((
                    format!("{base}/<pk>/{url}{slash}"),
                    format!("{class}.{method}"),
                ));
            }
        }
        for (path, handler) in paths {
            if suffix {
                let stem = path.strip_suffix('/').unwrap_or(&path);
                out.push(Route {
                    path: format!("{stem}{FORMAT_SUFFIX}"),
                    handler: handler.clone(),
                    ..r.clone()
                });
            }
            out.push(Route {
                path,
                handler,
                ..r.clone()
            });
        }
    }
    out
}

/// The actions of viewset `class` as written in record `i`.
fn shape(records: &[FileRecord], names: &Names<'_>, i: usize, class: &str) -> Shape {
    let mut shape = Shape::default();
    let mut methods: HashSet<&str> = HashSet::new();
    let mut seen: HashSet<(usize, String)> = HashSet::new();
    let mut work: Vec<(usize, String)> = vec![(i, class.to_string())];
    while let Some((rec, name)) = work.pop() {
        if seen.len() >= MAX_BASES {
            break;
        }
        let last = name.rsplit('.').next().unwrap_or(&name);
        if let Some(brings) = known_base(last) {
            methods.extend(brings.iter().copied());
            continue;
        }
        let found = names.local(rec, &name).and_then(|(file, local)| {
            records[file]
                .classes
                .iter()
                .find(|c| c.name == local)
                .map(|c| (file, c))
        });
        let Some((file, c)) = found else {
            shape.unknown = true;
            continue;
        };
        if !seen.insert((file, c.name.clone())) {
            continue;
        }
        methods.extend(c.methods.iter().map(String::as_str));
        for s in &records[file].wiring.settings {
            if let Setting::DrfAction {
                class,
                method,
                detail,
                url_path,
            } = s
            {
                let shadowed = shape.actions.iter().any(|(_, _, m)| m == method);
                if *class == c.name && !shadowed {
                    shape
                        .actions
                        .push((*detail, url_path.clone(), method.clone()));
                }
            }
        }
        work.extend(c.bases.iter().map(|b| (file, b.clone())));
    }
    shape.list = methods.contains("list") || methods.contains("create");
    shape.detail = ["retrieve", "update", "partial_update", "destroy"]
        .iter()
        .any(|m| methods.contains(m));
    // A class found with named bases only: what it has is all it has.
    if shape.list || shape.detail {
        shape.unknown = false;
    }
    shape
}
