//! Fixture-only helper: builds the `FileRecord`s the JS/TS and Python parsers would emit
//! for the apps in `tests/fixtures/apps/`, reading the real fixture texts from disk. The lead
//! replaces [`App::load`]'s hand-filled facts with the real parsers once they are merged.

use provis::pipeline::caps::{analyze, CapabilitiesDoc, CapsInput, Detections, SummariesDoc};
use provis::pipeline::model::{
    Class, FileRecord, FileRole, Function, Import, ImportKind, Language, Route,
};
use std::collections::BTreeMap;
use std::path::PathBuf;

pub struct App {
    pub files: Vec<FileRecord>,
    texts: BTreeMap<String, String>,
}

pub struct Facts<'a> {
    rec: &'a mut FileRecord,
    text: String,
}

fn line_of(text: &str, pred: impl Fn(&str) -> bool) -> u32 {
    text.lines().position(pred).map_or(1, |p| p as u32 + 1)
}

impl App {
    /// Every file under `tests/fixtures/apps/<name>`, with identity fields only.
    pub fn load(name: &str) -> App {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/apps")
            .join(name);
        let mut paths = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).expect("fixture dir") {
                let p = e.expect("entry").path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    paths.push(p);
                }
            }
        }
        paths.sort();
        let mut app = App {
            files: Vec::new(),
            texts: BTreeMap::new(),
        };
        for p in paths {
            let rel = p
                .strip_prefix(&root)
                .expect("under root")
                .to_string_lossy()
                .replace('\\', "/");
            let bytes = std::fs::read(&p).expect("read fixture");
            let ext = rel.rsplit('.').next().unwrap_or("").to_string();
            let lang = match ext.as_str() {
                "py" => Language::Py,
                "ts" | "tsx" => Language::Ts,
                "js" | "jsx" => Language::Js,
                _ => Language::Other,
            };
            app.files.push(FileRecord::new(&rel, lang, &ext, &bytes));
            app.texts
                .insert(rel, String::from_utf8(bytes).expect("utf8 fixture"));
        }
        app
    }

    pub fn at(&mut self, path: &str) -> Facts<'_> {
        let text = self
            .texts
            .get(path)
            .unwrap_or_else(|| panic!("no fixture file {path}"))
            .clone();
        let rec = self
            .files
            .iter_mut()
            .find(|f| f.path == path)
            .expect("record");
        Facts { rec, text }
    }

    /// Internal edges, as the graph builder derives them from resolved imports.
    fn edges(&self) -> Vec<(String, String)> {
        let mut e: Vec<(String, String)> = self
            .files
            .iter()
            .flat_map(|f| {
                f.imports
                    .iter()
                    .filter_map(|i| i.resolved.clone().map(|r| (f.path.clone(), r)))
            })
            .collect();
        e.sort();
        e.dedup();
        e
    }

    pub fn run_with(&self, files: &[FileRecord]) -> (Detections, CapabilitiesDoc, SummariesDoc) {
        let edges = self.edges();
        let edges: Vec<(&str, &str)> = edges
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        let src = |p: &str| self.texts.get(p).cloned();
        let input = CapsInput {
            files,
            edges: &edges,
            source: &src,
        };
        analyze(&input)
    }

    pub fn run(&self) -> (Detections, CapabilitiesDoc, SummariesDoc) {
        self.run_with(&self.files)
    }
}

impl Facts<'_> {
    /// An import; `resolved` is the internal target, `None` for packages.
    pub fn import(self, raw: &str, resolved: Option<&str>, names: &[&str]) -> Self {
        let py = self.rec.language == Language::Py;
        let level = if py {
            raw.chars().take_while(|c| *c == '.').count() as u32
        } else {
            0
        };
        let line = line_of(&self.text, |l| {
            if py {
                l.starts_with(&format!("from {raw} import")) || l.trim() == format!("import {raw}")
            } else {
                l.contains(&format!("'{raw}'")) || l.contains(&format!("\"{raw}\""))
            }
        });
        let package = resolved.is_none().then(|| {
            if py {
                raw.split('.').next().unwrap_or(raw).to_string()
            } else if raw.starts_with('@') {
                raw.splitn(3, '/').take(2).collect::<Vec<_>>().join("/")
            } else {
                raw.split('/').next().unwrap_or(raw).to_string()
            }
        });
        self.rec.imports.push(Import {
            raw: raw.into(),
            kind: match (py, level) {
                (true, 0) => ImportKind::Py,
                (true, _) => ImportKind::PyRelative,
                _ => ImportKind::Esm,
            },
            line,
            names: names.iter().map(|&n| n.into()).collect(),
            level,
            resolved: resolved.map(str::to_string),
            external: resolved.is_none(),
            package: package.map(Into::into),
            unresolved_reason: None,
        });
        self
    }

    pub fn func(self, name: &str, decorators: &[&str]) -> Self {
        let line = line_of(&self.text, |l| {
            l.contains(&format!("def {name}(")) || l.contains(&format!("function {name}("))
        });
        self.rec.functions.push(Function {
            name: name.into(),
            params: Vec::new(),
            decorators: decorators.iter().map(|d| d.to_string()).collect(),
            line,
            is_async: self.text.contains(&format!("async function {name}(")),
        });
        self
    }

    pub fn class(self, name: &str, bases: &[&str]) -> Self {
        let line = line_of(&self.text, |l| l.starts_with(&format!("class {name}")));
        self.rec.classes.push(Class {
            name: name.to_string(),
            methods: Vec::new(),
            bases: bases.iter().map(|b| b.to_string()).collect(),
            line,
        });
        self
    }

    /// A route as declared; the line is the first one quoting the path (1 for file routes).
    pub fn route(self, method: &str, path: &str, handler: &str, framework: &str) -> Self {
        self.route_written(method, path, path, handler, framework)
    }

    /// A route whose composed `path` differs from the literal `written` in the source
    /// (mount prefixes applied, a Koa path without its leading slash).
    pub fn route_written(
        self,
        method: &str,
        path: &str,
        written: &str,
        handler: &str,
        framework: &str,
    ) -> Self {
        let line = if framework.starts_with("nextjs") {
            line_of(&self.text, |l| l.contains(&format!("function {method}(")))
        } else {
            let quoted = |l: &str| {
                l.contains(&format!("'{written}'")) || l.contains(&format!("\"{written}\""))
            };
            let verb = format!(".{}(", method.to_lowercase());
            let exact = line_of(&self.text, |l| quoted(l) && l.contains(&verb));
            if exact > 1
                || self
                    .text
                    .lines()
                    .next()
                    .is_some_and(|l| quoted(l) && l.contains(&verb))
            {
                exact
            } else {
                line_of(&self.text, quoted)
            }
        };
        self.rec.routes.push(Route {
            method: method.to_string(),
            path: path.to_string(),
            handler: handler.to_string(),
            line,
            framework: framework.to_string(),
            ..Default::default()
        });
        self.rec.hints.is_route = true;
        self.rec.hints.is_api = method != "PAGE";
        self.rec.hints.framework = Some(framework.to_string());
        self
    }

    /// Sets the unit and mount chain of the last route, as the route composer records them.
    pub fn unit(self, unit: &str, mounts: &[&str]) -> Self {
        let r = self.rec.routes.last_mut().expect("a route first");
        r.unit = Some(unit.to_string());
        r.mounts = mounts.iter().map(|m| m.to_string()).collect();
        self
    }

    /// Marks the file as test code, as test-file recognition does.
    pub fn test(self) -> Self {
        self.rec.role = FileRole::Test;
        self
    }

    pub fn exports(self, names: &[&str]) -> Self {
        self.rec.exports.extend(names.iter().map(|&n| n.into()));
        self
    }

    pub fn react(self) -> Self {
        self.rec.hints.is_react_component = true;
        self.rec.hints.is_client_component =
            self.text.starts_with("'use client'") || self.text.starts_with("\"use client\"");
        self.rec.hints.framework = Some("react".to_string());
        self
    }
}
