//! Repositories the cluster tests generate, and the zips they are uploaded as.
//!
//! Each fixture is a list of (path, content) pairs whose import structure is known by
//! construction, so the tests can state the expected graph instead of copying an output.

/// A repository: relative paths and contents.
pub type Repo = Vec<(String, String)>;

fn file(path: &str, text: &str) -> (String, String) {
    (path.to_string(), text.to_string())
}

/// A TypeScript Express app whose modules import each other through tsconfig `paths`
/// (`@app/*`, `@lib/*`), a relative import, a type-only import, one external package and one
/// local import that resolves nowhere.
///
/// Known by construction: 8 files (6 ts, 2 other), internal edges
/// index→routes/users, index→lib/db, routes/users→services/users, services/users→lib/db,
/// services/users→lib/types (type); external `express` from index and routes/users;
/// unresolved `./does-not-exist` in lib/legacy; routes GET /health and GET /users/:id.
pub fn ts_app() -> Repo {
    vec![
        file(
            "tsconfig.json",
            r#"{
  // JSON with comments, as tsc accepts it
  "compilerOptions": {
    "baseUrl": ".",
    "paths": { "@app/*": ["src/*"], "@lib/*": ["src/lib/*"] }
  }
}
"#,
        ),
        file(
            "package.json",
            r#"{"name": "ts-app", "version": "1.0.0", "dependencies": {"express": "^4.19.0"}}
"#,
        ),
        file(
            "src/index.ts",
            r#"import express from "express";
import { router } from "@app/routes/users";
import { db } from "@lib/db";

const app = express();
app.use(router);
app.get("/health", (_req, res) => res.json({ ok: db.ok }));
app.listen(3000);
"#,
        ),
        file(
            "src/routes/users.ts",
            r#"import { Router } from "express";
import { findUser } from "@app/services/users";

export const router = Router();
router.get("/users/:id", async (req, res) => res.json(await findUser(req.params.id)));
"#,
        ),
        file(
            "src/services/users.ts",
            r#"import { db } from "../lib/db";
import type { User } from "@lib/types";

export async function findUser(id: string): Promise<User> {
  return db.users[id];
}
"#,
        ),
        file(
            "src/lib/db.ts",
            "export const db = { ok: true, users: {} as Record<string, any> };\n",
        ),
        file("src/lib/types.ts", "export interface User { id: string }\n"),
        file(
            "src/lib/legacy.ts",
            "import { gone } from \"./does-not-exist\";\nexport const legacy = gone;\n",
        ),
    ]
}

/// A Python package under `src/` (a source root) with a FastAPI app, relative and absolute
/// imports, a stdlib import and a test importing the package.
///
/// Known by construction: 7 files (5 py, 2 other); internal edges core→util (relative),
/// api→core, tests/test_core→core, `__init__`→core; external `os` (stdlib) and `fastapi`;
/// route GET /items/{item_id}.
pub fn py_package() -> Repo {
    vec![
        file(
            "pyproject.toml",
            "[project]\nname = \"mypkg\"\nversion = \"0.1.0\"\ndependencies = [\"fastapi\"]\n",
        ),
        file("README.md", "# mypkg\n\nA small package.\n"),
        file(
            "src/mypkg/__init__.py",
            "from mypkg.core import run\n\n__all__ = [\"run\"]\n",
        ),
        file(
            "src/mypkg/util.py",
            "def helper(x):\n    return x * 2\n",
        ),
        file(
            "src/mypkg/core.py",
            "import os\n\nfrom .util import helper\n\n\ndef run(n):\n    return helper(n) + len(os.sep)\n",
        ),
        file(
            "src/mypkg/api.py",
            r#"from fastapi import FastAPI

from mypkg.core import run

app = FastAPI()


@app.get("/items/{item_id}")
async def read_item(item_id: int):
    return {"value": run(item_id)}
"#,
        ),
        file(
            "tests/test_core.py",
            "from mypkg.core import run\n\n\ndef test_run():\n    assert run(2) >= 4\n",
        ),
    ]
}

/// Sizes of [`mixed`].
pub struct MixedShape {
    /// TypeScript modules, each importing the previous one.
    pub ts: usize,
    /// Python modules of package `pkg`, each importing the previous one.
    pub py: usize,
    /// Markdown notes (language `other`, no imports).
    pub notes: usize,
}

impl MixedShape {
    /// Files in the repository (the modules, `pkg/__init__.py` and the notes).
    pub fn files(&self) -> usize {
        self.ts + self.py + 1 + self.notes
    }

    /// Internal edges: one per module but the first of each chain.
    pub fn internal_edges(&self) -> usize {
        self.ts.saturating_sub(1) + self.py.saturating_sub(1)
    }
}

/// A mixed repository of chained TypeScript and Python modules plus notes; `salt` changes
/// the content (so two salts are two snapshots) without changing the shape.
pub fn mixed(shape: &MixedShape, salt: &str) -> Repo {
    let mut files = Vec::new();
    for i in 0..shape.ts {
        let mut text = String::new();
        if i > 0 {
            text.push_str(&format!("import {{ f{} }} from \"./m{}\";\n", i - 1, i - 1));
        }
        text.push_str(&format!(
            "// {salt}\nexport function f{i}(): number {{\n  return {};\n}}\n",
            if i > 0 {
                format!("f{}() + 1", i - 1)
            } else {
                "0".to_string()
            }
        ));
        files.push((format!("src/m{i}.ts"), text));
    }
    files.push(file("pkg/__init__.py", ""));
    for i in 0..shape.py {
        let mut text = format!("# {salt}\n");
        if i > 0 {
            text.push_str(&format!("from pkg.mod{} import g{}\n\n\n", i - 1, i - 1));
        }
        text.push_str(&format!(
            "def g{i}():\n    return {}\n",
            if i > 0 {
                format!("g{}() + 1", i - 1)
            } else {
                "0".to_string()
            }
        ));
        files.push((format!("pkg/mod{i}.py"), text));
    }
    for i in 0..shape.notes {
        files.push((
            format!("docs/note{i}.md"),
            format!("# Note {i}\n\n{salt}\n"),
        ));
    }
    files
}

/// Zips `repo` in the given order with every entry stamped `(year, second)`; deflated.
pub fn zip_with(repo: &Repo, reverse: bool, year: u16, second: u8) -> Vec<u8> {
    let stamp = zip::DateTime::from_date_and_time(year, 3, 14, 15, 9, second).expect("valid date");
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(stamp);
    let mut entries: Vec<(String, String)> = repo.to_vec();
    if reverse {
        entries.reverse();
    }
    crate::common::zip_with(&entries, opts)
}

/// Zips `repo` in path order with a fixed timestamp.
pub fn zip(repo: &Repo) -> Vec<u8> {
    zip_with(repo, false, 2021, 10)
}
