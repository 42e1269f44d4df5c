//! Fixture repositories built in code, and zips of them made with the zip crate's writer
//! (some patched byte by byte to say what the writer refuses to write).

use std::io::{Cursor, Write};
use std::path::Path;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipArchive, ZipWriter};

/// A repository as (path, content) pairs.
#[derive(Debug, Clone)]
pub struct Repo {
    pub files: Vec<(String, Vec<u8>)>,
}

impl Repo {
    fn new() -> Self {
        Repo { files: Vec::new() }
    }

    fn add(&mut self, path: &str, text: &str) -> &mut Self {
        self.files
            .push((path.to_string(), text.as_bytes().to_vec()));
        self
    }

    /// Number of files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Writes the tree under `dir`.
    pub fn write_to(&self, dir: &Path) {
        for (p, bytes) in &self.files {
            let path = dir.join(p);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, bytes).expect("write");
        }
    }

    /// A deflated zip of the tree, entries in the given order, all stamped `time`, every
    /// file under `wrapper/` when given (as GitHub's archives are).
    pub fn zip_with(&self, order: Order, time: DateTime, wrapper: Option<&str>) -> Vec<u8> {
        let mut files: Vec<&(String, Vec<u8>)> = self.files.iter().collect();
        match order {
            Order::Sorted => files.sort_by(|a, b| a.0.cmp(&b.0)),
            Order::Reversed => files.sort_by(|a, b| b.0.cmp(&a.0)),
        }
        let opts = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .last_modified_time(time);
        let entries: Vec<(String, &[u8])> = files
            .into_iter()
            .map(|(p, bytes)| {
                let name = match wrapper {
                    Some(top) => format!("{top}/{p}"),
                    None => p.clone(),
                };
                (name, bytes.as_slice())
            })
            .collect();
        crate::common::zip_with(&entries, opts)
    }

    /// The usual zip: sorted, a fixed time, no wrapper.
    pub fn zip(&self) -> Vec<u8> {
        self.zip_with(Order::Sorted, time(2024, 1, 2), None)
    }
}

/// Entry order in a zip.
#[derive(Debug, Clone, Copy)]
pub enum Order {
    Sorted,
    Reversed,
}

/// A zip timestamp.
pub fn time(y: u16, m: u8, d: u8) -> DateTime {
    DateTime::from_date_and_time(y, m, d, 10, 30, 0).expect("date")
}

/// A TypeScript app: tsconfig `baseUrl` + `paths` (with comments), relative imports with
/// `..`, a type-only import, a re-export, a dynamic import, a `.json` import, Express routes,
/// externals, and one import that resolves nowhere.
pub fn ts_app() -> Repo {
    let mut r = Repo::new();
    r.add(
        "tsconfig.json",
        r#"{
  // paths and baseUrl, JSON with comments as tsc accepts it
  "compilerOptions": {
    "target": "es2022",
    "module": "commonjs",
    "baseUrl": ".",
    "paths": {
      "@lib/*": ["src/lib/*"],
      "@app/config": ["src/config/index.ts"], /* an exact alias */
    },
  },
}
"#,
    )
    .add(
        "package.json",
        r#"{"name": "ts-app", "version": "1.0.0", "dependencies": {"express": "^4.19.0", "zod": "^3.0.0"}}"#,
    )
    .add(
        "src/index.ts",
        r#"import express from "express";
import { add } from "@lib/math";
import config from "@app/config";
import { User } from "models/user";
import type { Shape } from "./types";
import usersRouter from "./routes/users";
import data from "./data.json";
import "./does-not-exist";
export * from "./util/strings";

const app = express();
app.use("/api", usersRouter);
app.get("/health", (_req, res) => res.json({ ok: true, sum: add(1, 2), data }));

export async function boot(shape: Shape): Promise<User> {
  const lazy = await import("./lazy");
  lazy.warm(shape);
  app.listen(config.port);
  return new User("root");
}
"#,
    )
    .add(
        "src/lib/math.ts",
        r#"import { pad } from "../util/strings";

export function add(a: number, b: number): number {
  return Number(pad(String(a + b), 1));
}
"#,
    )
    .add(
        "src/config/index.ts",
        r#"import { z } from "zod";

const schema = z.object({ port: z.number() });
export default schema.parse({ port: 8080 });
"#,
    )
    .add(
        "models/user.ts",
        r#"export class User {
  constructor(public name: string) {}
  greet(): string { return `hi ${this.name}`; }
}
"#,
    )
    .add(
        "src/types.ts",
        "export interface Shape { kind: string; size: number }\n",
    )
    .add(
        "src/util/strings.ts",
        r#"export function pad(s: string, n: number): string {
  return s.padStart(n, "0");
}
"#,
    )
    .add(
        "src/lazy.ts",
        r#"import type { Shape } from "./types";
export function warm(s: Shape): void { console.log(s.kind); }
"#,
    )
    .add(
        "src/routes/users.ts",
        r#"import { Router } from "express";
import { add } from "@lib/math";

const router = Router();
router.get("/users/:id", (req, res) => res.json({ id: req.params.id, n: add(1, 1) }));
router.post("/users", (_req, res) => res.status(201).end());
export default router;
"#,
    )
    .add("src/data.json", "{\"seed\": 42}\n")
    .add("README.md", "# ts-app\n\nA small Express service.\n");
    r
}

/// Internal edges of [`ts_app`] as (from, to, kind).
pub const TS_EDGES: &[(&str, &str, &str)] = &[
    ("src/index.ts", "src/lib/math.ts", "esm"),
    ("src/index.ts", "src/config/index.ts", "esm"),
    ("src/index.ts", "models/user.ts", "esm"),
    ("src/index.ts", "src/types.ts", "type"),
    ("src/index.ts", "src/routes/users.ts", "esm"),
    ("src/index.ts", "src/data.json", "esm"),
    ("src/index.ts", "src/util/strings.ts", "reexport"),
    ("src/index.ts", "src/lazy.ts", "dynamic"),
    ("src/lib/math.ts", "src/util/strings.ts", "esm"),
    ("src/lazy.ts", "src/types.ts", "type"),
    ("src/routes/users.ts", "src/lib/math.ts", "esm"),
];

/// External edges of [`ts_app`] as (from, package).
pub const TS_EXTERNAL: &[(&str, &str)] = &[
    ("src/index.ts", "express"),
    ("src/config/index.ts", "zod"),
    ("src/routes/users.ts", "express"),
];

/// A Python package in a `src/` layout: relative imports of levels 1 and 2, `from . import
/// module`, an absolute import from the src root, a test importing the package, FastAPI
/// routes (app and router with a prefix), externals, and one relative import to nowhere.
pub fn py_pkg() -> Repo {
    let mut r = Repo::new();
    r.add(
        "pyproject.toml",
        "[project]\nname = \"shop\"\nversion = \"0.1.0\"\ndependencies = [\"fastapi\", \"sqlalchemy\"]\n",
    )
    .add("src/shop/__init__.py", "\"\"\"The shop package.\"\"\"\n")
    .add(
        "src/shop/api.py",
        r#"from fastapi import FastAPI, APIRouter

from .models import Item
from . import service
from .db.session import get_session

app = FastAPI()
router = APIRouter(prefix="/orders")


@app.get("/items")
async def list_items():
    return service.all_items(get_session())


@app.post("/items")
async def create_item(item: Item):
    return service.save(item)


@router.get("/{order_id}")
def get_order(order_id: int):
    return {"id": order_id}


app.include_router(router)
"#,
    )
    .add(
        "src/shop/models.py",
        r#"from dataclasses import dataclass

from pydantic import BaseModel


class Item(BaseModel):
    name: str
    price: float


@dataclass
class Order:
    id: int
"#,
    )
    .add(
        "src/shop/service.py",
        r#"from .models import Item
from .db import session
import shop.util


def all_items(s):
    return [Item(name=shop.util.slug(n), price=1.0) for n in s.query()]


def save(item):
    session.get_session().add(item)
    return item
"#,
    )
    .add("src/shop/db/__init__.py", "")
    .add(
        "src/shop/db/session.py",
        r#"import sqlalchemy

from ..models import Item


def get_session():
    return sqlalchemy.orm.Session()


__all__ = ["get_session", "Item"]
"#,
    )
    .add(
        "src/shop/util.py",
        "import re\n\n\ndef slug(s):\n    return re.sub(r\"\\W+\", \"-\", s).lower()\n",
    )
    .add(
        "src/shop/broken.py",
        "from .nope import missing\n\nVALUE = missing\n",
    )
    .add(
        "tests/test_api.py",
        r#"import pytest

from shop.api import app


def test_app():
    assert app is not None
"#,
    );
    r
}

/// Internal edges of [`py_pkg`] as (from, to); all of kind `py`.
pub const PY_EDGES: &[(&str, &str)] = &[
    ("src/shop/api.py", "src/shop/models.py"),
    ("src/shop/api.py", "src/shop/service.py"),
    ("src/shop/api.py", "src/shop/db/session.py"),
    ("src/shop/service.py", "src/shop/models.py"),
    ("src/shop/service.py", "src/shop/db/session.py"),
    ("src/shop/service.py", "src/shop/util.py"),
    ("src/shop/db/session.py", "src/shop/models.py"),
    ("tests/test_api.py", "src/shop/api.py"),
];

/// External edges of [`py_pkg`] as (from, package).
pub const PY_EXTERNAL: &[(&str, &str)] = &[
    ("src/shop/api.py", "fastapi"),
    ("src/shop/models.py", "dataclasses"),
    ("src/shop/models.py", "pydantic"),
    ("src/shop/db/session.py", "sqlalchemy"),
    ("src/shop/util.py", "re"),
    ("tests/test_api.py", "pytest"),
];

/// Files of each language in [`mixed`].
pub const MIXED_TS: usize = 100;
pub const MIXED_PY: usize = 80;

/// A mixed repo of `MIXED_TS` TypeScript modules in a chain (`mod_i` imports `mod_{i+1}`),
/// `MIXED_PY` Python modules in a chain (`from . import m{i+1}`), a package.json, an
/// `__init__.py` and a README: more than 3 × 50 files.
pub fn mixed() -> Repo {
    let mut r = Repo::new();
    r.add("package.json", r#"{"name": "mixed", "version": "0.0.1"}"#)
        .add("README.md", "# mixed\n")
        .add("svc/app/__init__.py", "");
    for i in 0..MIXED_TS {
        let mut text = String::new();
        if i + 1 < MIXED_TS {
            text.push_str(&format!(
                "import {{ f{} }} from \"./mod_{}\";\n",
                i + 1,
                i + 1
            ));
        }
        text.push_str(&format!(
            "export function f{i}(x: number): number {{\n  return x + {i};\n}}\n"
        ));
        r.add(&format!("web/src/mod_{i}.ts"), &text);
    }
    for i in 0..MIXED_PY {
        let mut text = String::new();
        if i + 1 < MIXED_PY {
            text.push_str(&format!("from . import m{}\n", i + 1));
        }
        text.push_str(&format!("\n\ndef g{i}(x):\n    return x * {i}\n"));
        r.add(&format!("svc/app/m{i}.py"), &text);
    }
    r
}

/// Internal edges of [`mixed`].
pub fn mixed_edges() -> Vec<(String, String)> {
    let mut e = Vec::new();
    for i in 0..MIXED_TS - 1 {
        e.push((
            format!("web/src/mod_{i}.ts"),
            format!("web/src/mod_{}.ts", i + 1),
        ));
    }
    for i in 0..MIXED_PY - 1 {
        e.push((format!("svc/app/m{i}.py"), format!("svc/app/m{}.py", i + 1)));
    }
    e
}

/// A plain deflated zip from (name, bytes) pairs; a name ending in `/` is a directory.
pub fn zip_entries(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let opts = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    crate::common::zip_with(entries, opts)
}

/// (local header offset, central header offset) of entry `i`.
pub fn offsets(bytes: &[u8], i: usize) -> (usize, usize) {
    let archive = ZipArchive::new(Cursor::new(bytes)).expect("zip");
    let e = archive.by_index_data(i).expect("entry");
    (e.header_start() as usize, e.central_header_start() as usize)
}

/// Incompressible bytes (xorshift), so compression ratios stay near 1.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A zip with a symbolic link entry.
pub fn symlink_zip() -> Vec<u8> {
    let opts = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    let mut w = ZipWriter::new(Cursor::new(Vec::new()));
    w.start_file("src/a.ts", opts).expect("start");
    w.write_all(b"export const a = 1;\n").expect("write");
    w.add_symlink("src/passwd", "/etc/passwd", opts)
        .expect("symlink");
    w.finish().expect("finish").into_inner()
}

/// A zip whose second entry has the encryption flag (general-purpose bit 0) set.
pub fn encrypted_zip() -> Vec<u8> {
    let mut bytes = zip_entries(&[("a.ts", b"export {};\n"), ("secret.ts", b"hidden\n")]);
    let (local, central) = offsets(&bytes, 1);
    bytes[local + 6] |= 1;
    bytes[central + 8] |= 1;
    bytes
}

/// A zip listing the name `a.ts` twice (the writer refuses, so `b.ts` is renamed in place).
pub fn duplicate_zip() -> Vec<u8> {
    let mut bytes = zip_entries(&[("a.ts", b"export const one = 1;\n"), ("b.ts", b"two\n")]);
    let (local, central) = offsets(&bytes, 1);
    bytes[local + 30] = b'a';
    bytes[central + 46] = b'a';
    bytes
}

/// One deflated entry of `len` zero bytes (compresses about 1000:1).
pub fn zero_bomb(len: usize) -> Vec<u8> {
    zip_entries(&[
        ("src/ok.ts", b"export {};\n"),
        ("data/zeros.bin", &vec![0u8; len]),
    ])
}

/// `n` TypeScript modules in a chain (`mod_i` imports `mod_{i+1}`): `n - 1` internal edges.
pub fn chain(n: usize) -> Repo {
    let mut r = Repo::new();
    for i in 0..n {
        let mut text = String::new();
        if i + 1 < n {
            text.push_str(&format!(
                "import {{ c{} }} from \"./mod_{}\";\n",
                i + 1,
                i + 1
            ));
        }
        text.push_str(&format!("export const c{i} = {i};\n"));
        r.add(&format!("src/mod_{i}.ts"), &text);
    }
    r
}
