//! NestJS application-wide path rules, applied after mounts (`RouterModule`) are composed:
//! URI versioning (`/v1` from `@Version`, `@Controller({ version })` or `defaultVersion`) and
//! then the global prefix (`app.setGlobalPrefix('api', { exclude })`), as Nest builds
//! `/{globalPrefix}/{version}/{module path}/{controller}/{method}`.

use super::{in_project, join, project_root};
use crate::pipeline::model::{FileRecord, Route};
use crate::pipeline::wiring::{Join, Setting};

/// Nest's marker for "no version segment".
const VERSION_NEUTRAL: &str = "VERSION_NEUTRAL";

/// The settings of one Nest project (the folder of its `main.ts`, without `src`).
#[derive(Default)]
struct Project {
    root: String,
    /// Global prefix, excluded paths, dynamic.
    prefix: Option<(String, Vec<String>, bool)>,
    /// Version segment prefix and default versions.
    versioning: Option<(String, Vec<String>)>,
}

/// A `@Version` / `@Controller({ version })`: file, controller, route line (0: controller).
type Versions = (String, String, u32, Vec<String>);

/// Applies versioning and the global prefix to every `nestjs` route (see the module docs).
pub(super) fn apply(records: &mut [FileRecord]) {
    let mut projects: Vec<Project> = Vec::new();
    let mut versions: Vec<Versions> = Vec::new();
    for r in records.iter() {
        let root = project_root(&r.path);
        for s in &r.wiring.settings {
            match s {
                Setting::NestGlobalPrefix {
                    prefix,
                    exclude,
                    dynamic,
                } => {
                    project(&mut projects, root).prefix =
                        Some((prefix.clone(), exclude.clone(), *dynamic))
                }
                Setting::NestUriVersioning {
                    prefix,
                    default_versions,
                } => {
                    project(&mut projects, root).versioning =
                        Some((prefix.clone(), default_versions.clone()))
                }
                Setting::NestVersion {
                    owner,
                    line,
                    versions: v,
                } => versions.push((r.path.clone(), owner.clone(), *line, v.clone())),
                _ => {}
            }
        }
    }
    if projects.is_empty() {
        return;
    }
    for rec in records.iter_mut() {
        let Some(project) = projects
            .iter()
            .filter(|p| in_project(&p.root, &rec.path))
            .max_by_key(|p| p.root.len())
        else {
            continue;
        };
        let mut out = Vec::with_capacity(rec.routes.len());
        for r in std::mem::take(&mut rec.routes) {
            if r.framework == "nestjs" {
                out.extend(versioned(&rec.path, r, project, &versions));
            } else {
                out.push(r);
            }
        }
        rec.routes = out;
    }
}

/// The project rooted at `root`, added when new.
fn project<'p>(projects: &'p mut Vec<Project>, root: &str) -> &'p mut Project {
    let i = match projects.iter().position(|p| p.root == root) {
        Some(i) => i,
        None => {
            projects.push(Project {
                root: root.to_string(),
                ..Default::default()
            });
            projects.len() - 1
        }
    };
    &mut projects[i]
}

/// One route per version segment, each under the global prefix.
fn versioned(file: &str, r: Route, project: &Project, versions: &[Versions]) -> Vec<Route> {
    let owner = r
        .unit
        .as_deref()
        .and_then(|u| u.rsplit_once(':'))
        .map_or("", |(_, o)| o);
    let mut segments: Vec<Option<String>> = vec![None];
    if let Some((vprefix, defaults)) = &project.versioning {
        let find = |line: u32| {
            versions
                .iter()
                .find(|(f, o, l, _)| f == file && o == owner && *l == line)
                .map(|(_, _, _, v)| v.clone())
        };
        let vs = find(r.line)
            .or_else(|| find(0))
            .unwrap_or_else(|| defaults.clone());
        if !vs.is_empty() {
            segments = vs
                .iter()
                .map(|v| (v != VERSION_NEUTRAL).then(|| format!("/{vprefix}{v}")))
                .collect();
        }
    }
    segments
        .into_iter()
        .map(|seg| {
            let mut route = r.clone();
            if let Some(seg) = seg {
                route.path = join(Join::Slash, &seg, &route.path);
            }
            if let Some((gp, exclude, dynamic)) = &project.prefix {
                let bare = route.path.trim_start_matches('/');
                if !exclude.iter().any(|e| e.trim_start_matches('/') == bare) {
                    let gp = format!("/{}", gp.trim_start_matches('/'));
                    route.path = join(Join::Slash, &gp, &route.path);
                    route.dynamic_prefix |= dynamic;
                }
            }
            route
        })
        .collect()
}
