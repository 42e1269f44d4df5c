//! Detector unit tests over small hand-built files.

use super::*;
use crate::pipeline::model::{Class, Function, Import, ImportKind, Route};

/// A snapshot built by hand, file by file.
pub(super) struct Snap {
    files: Vec<FileRecord>,
    texts: BTreeMap<String, String>,
}

impl Snap {
    pub(super) fn new() -> Self {
        Self {
            files: Vec::new(),
            texts: BTreeMap::new(),
        }
    }

    /// Adds a file; `imports` are `(raw, resolved)`, names taken from the statement line.
    pub(super) fn file(
        &mut self,
        path: &str,
        text: &str,
        imports: &[(&str, Option<&str>)],
    ) -> &mut FileRecord {
        let ext = path.rsplit('.').next().unwrap_or("");
        let lang = match ext {
            "py" => Language::Py,
            "ts" | "tsx" => Language::Ts,
            "js" | "jsx" | "mjs" => Language::Js,
            _ => Language::Other,
        };
        let mut rec = FileRecord::new(path, lang, ext, text.as_bytes());
        for (raw, resolved) in imports {
            let line = text
                .lines()
                .position(|l| {
                    l.contains(&format!("'{raw}'"))
                        || l.contains(&format!("\"{raw}\""))
                        || l.contains(&format!("import {raw}"))
                        || l.contains(&format!("from {raw} "))
                })
                .map_or(1, |p| p as u32 + 1);
            let py = lang == Language::Py;
            let level = raw.chars().take_while(|c| *c == '.').count() as u32;
            let package = resolved.is_none().then(|| {
                if py {
                    raw.split('.').next().unwrap_or(raw).to_string()
                } else if raw.starts_with('@') {
                    raw.splitn(3, '/').take(2).collect::<Vec<_>>().join("/")
                } else {
                    raw.split('/').next().unwrap_or(raw).to_string()
                }
            });
            rec.imports.push(Import {
                raw: (*raw).into(),
                kind: if py && level > 0 {
                    ImportKind::PyRelative
                } else if py {
                    ImportKind::Py
                } else {
                    ImportKind::Esm
                },
                line,
                names: Vec::new(),
                level,
                resolved: resolved.map(str::to_string),
                external: resolved.is_none(),
                package: package.map(Into::into),
                unresolved_reason: None,
            });
        }
        self.texts.insert(path.to_string(), text.to_string());
        self.files.push(rec);
        self.files.last_mut().expect("just pushed")
    }

    pub(super) fn detect(&self) -> Detections {
        let src = |p: &str| self.texts.get(p).cloned();
        let input = CapsInput {
            files: &self.files,
            edges: &[],
            source: &src,
        };
        detect(&input)
    }
}

fn func(name: &str, decorators: &[&str], line: u32) -> Function {
    Function {
        name: name.into(),
        params: Vec::new(),
        decorators: decorators.iter().map(|d| d.to_string()).collect(),
        line,
        is_async: false,
    }
}

fn has(det: &Detections, file: &str, kind: FindingKind, name: &str) -> bool {
    det.findings
        .iter()
        .any(|f| f.file == file && f.kind == kind && f.name == name)
}

fn has_link(det: &Detections, from: &str, to: &str, kind: &str) -> bool {
    det.links
        .iter()
        .any(|l| l.from == from && l.to == to && l.kind == kind)
}

#[test]
fn bullmq_queue_producer_and_worker_are_linked_across_files() {
    let mut s = Snap::new();
    s.file(
        "src/queues.ts",
        "import { Queue } from 'bullmq';\nexport const emailQueue = new Queue('email', { connection });\n",
        &[("bullmq", None)],
    );
    s.file(
        "src/routes/users.ts",
        "import { emailQueue } from '../queues';\nexport async function create() {\n  await emailQueue.add('welcome', { id: 1 });\n  const seen = new Set(); seen.add(1);\n}\n",
        &[("../queues", Some("src/queues.ts"))],
    );
    s.file(
        "src/workers/email.ts",
        "import { Worker } from 'bullmq';\n// new Worker('commented')\nnew Worker('email', async job => send(job.data));\n",
        &[("bullmq", None)],
    );
    let det = s.detect();
    assert!(has(&det, "src/queues.ts", FindingKind::JobQueue, "email"));
    assert!(has(
        &det,
        "src/routes/users.ts",
        FindingKind::JobProducer,
        "email"
    ));
    assert!(has(
        &det,
        "src/workers/email.ts",
        FindingKind::JobConsumer,
        "email"
    ));
    assert!(!has(
        &det,
        "src/workers/email.ts",
        FindingKind::JobConsumer,
        "commented"
    ));
    assert!(has_link(
        &det,
        "src/routes/users.ts",
        "src/workers/email.ts",
        LINK_ENQUEUE
    ));
    // `seen.add(1)` on a Set is not a job.
    let producers = det
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::JobProducer)
        .count();
    assert_eq!(producers, 1);
}

#[test]
fn celery_tasks_delay_calls_and_beat_schedule() {
    let mut s = Snap::new();
    let t = s.file(
        "proj/tasks.py",
        "from celery import shared_task\n\n@shared_task\ndef send_welcome(user_id):\n    pass\n\n@app.task(bind=True)\ndef cleanup(self):\n    pass\n",
        &[("celery", None)],
    );
    t.functions = vec![
        func("send_welcome", &["shared_task"], 4),
        func("cleanup", &["app.task(bind=True)"], 8),
    ];
    s.file(
        "proj/api.py",
        "from proj.tasks import send_welcome\n\ndef signup():\n    send_welcome.delay(1)\n",
        &[("proj.tasks", Some("proj/tasks.py"))],
    );
    s.file(
        "proj/celery.py",
        "from celery import Celery\napp = Celery('proj')\napp.conf.beat_schedule = {\n    'nightly': {'task': 'proj.tasks.cleanup', 'schedule': crontab(hour=0)},\n}\n",
        &[("celery", None)],
    );
    let det = s.detect();
    assert!(has(
        &det,
        "proj/tasks.py",
        FindingKind::JobConsumer,
        "send_welcome"
    ));
    assert!(has(
        &det,
        "proj/tasks.py",
        FindingKind::JobConsumer,
        "cleanup"
    ));
    assert!(has(
        &det,
        "proj/api.py",
        FindingKind::JobProducer,
        "send_welcome"
    ));
    assert!(has_link(&det, "proj/api.py", "proj/tasks.py", LINK_ENQUEUE));
    assert!(has(
        &det,
        "proj/celery.py",
        FindingKind::Schedule,
        "cleanup"
    ));
    assert!(has_link(
        &det,
        "proj/celery.py",
        "proj/tasks.py",
        LINK_SCHEDULE
    ));
}

#[test]
fn agenda_node_cron_and_rq() {
    let mut s = Snap::new();
    s.file(
        "jobs/agenda.js",
        "const Agenda = require('agenda');\nconst agenda = new Agenda();\nagenda.define('send report', async () => {});\nagenda.every('1 hour', 'send report');\ncron.schedule('0 * * * *', tick);\n",
        &[("agenda", None)],
    );
    s.file(
        "jobs/cron.js",
        "const cron = require('node-cron');\ncron.schedule('*/5 * * * *', () => sync());\n",
        &[("node-cron", None)],
    );
    let w = s.file("app/work.py", "def resize(path):\n    pass\n", &[]);
    w.functions = vec![func("resize", &[], 1)];
    s.file(
        "app/views.py",
        "from rq import Queue\nfrom app.work import resize\nq = Queue()\nq.enqueue(resize, 'a.png')\n",
        &[("rq", None), ("app.work", Some("app/work.py"))],
    );
    let det = s.detect();
    assert!(has(
        &det,
        "jobs/agenda.js",
        FindingKind::JobConsumer,
        "send report"
    ));
    assert!(has(
        &det,
        "jobs/agenda.js",
        FindingKind::Schedule,
        "send report"
    ));
    // node-cron is not imported by agenda.js, so its `cron.schedule` is not trusted there.
    assert_eq!(
        det.in_file("jobs/agenda.js")
            .filter(|f| f.framework == "node-cron")
            .count(),
        0
    );
    assert!(det
        .in_file("jobs/cron.js")
        .any(|f| f.kind == FindingKind::Schedule && f.detail == "*/5 * * * *"));
    assert!(has(&det, "app/work.py", FindingKind::JobConsumer, "resize"));
    assert!(has(
        &det,
        "app/views.py",
        FindingKind::JobProducer,
        "resize"
    ));
    assert!(has_link(&det, "app/views.py", "app/work.py", LINK_ENQUEUE));
}

#[test]
fn orm_models_are_stores_and_pydantic_is_not() {
    let mut s = Snap::new();
    let m = s.file(
        "app/models.py",
        "from sqlalchemy import Column\nfrom .database import Base\nfrom pydantic import BaseModel\n\nclass User(Base):\n    __tablename__ = \"users\"\n\nclass UserIn(BaseModel):\n    name: str\n\nclass Post(models.Model):\n    pass\n",
        &[("sqlalchemy", None), (".database", Some("app/database.py")), ("pydantic", None)],
    );
    m.classes = vec![
        Class {
            name: "User".into(),
            methods: vec![],
            bases: vec!["Base".into()],
            line: 5,
        },
        Class {
            name: "UserIn".into(),
            methods: vec![],
            bases: vec!["BaseModel".into()],
            line: 8,
        },
        Class {
            name: "Post".into(),
            methods: vec![],
            bases: vec!["models.Model".into()],
            line: 11,
        },
    ];
    let r = s.file(
        "app/routes.py",
        "from app.models import User\n\ndef get():\n    return db.query(User).all()\n",
        &[("app.models", Some("app/models.py"))],
    );
    r.imports[0].names = vec!["User".into()];
    s.file(
        "src/entity/Order.ts",
        "import { Entity, Column } from 'typeorm';\n@Entity('orders')\nexport class Order {}\n",
        &[("typeorm", None)],
    );
    s.file("src/models/cat.js", "const mongoose = require('mongoose');\nmodule.exports = mongoose.model('Cat', new mongoose.Schema({}));\n", &[("mongoose", None)]);
    s.file(
        "db/schema.prisma",
        "model User {\n  id Int @id\n}\nmodel Post {\n  id Int @id\n}\n",
        &[],
    );
    s.file(
        "src/users.ts",
        "import { prisma } from './db';\nexport const list = () => prisma.user.findMany();\n",
        &[("./db", Some("src/db.ts"))],
    );
    let det = s.detect();
    assert!(det.in_file("app/models.py").any(|f| f.name == "User"
        && f.framework == "sqlalchemy"
        && f.detail.contains("table users")));
    assert!(has(&det, "app/models.py", FindingKind::Store, "Post"));
    assert!(!has(&det, "app/models.py", FindingKind::Store, "UserIn"));
    assert!(det
        .in_file("app/routes.py")
        .any(|f| f.name == "User" && f.detail == STORE_USED));
    assert!(has(
        &det,
        "src/entity/Order.ts",
        FindingKind::Store,
        "Order"
    ));
    assert!(has(&det, "src/models/cat.js", FindingKind::Store, "Cat"));
    assert!(has(&det, "db/schema.prisma", FindingKind::Store, "Post"));
    assert!(det
        .in_file("src/users.ts")
        .any(|f| f.name == "User" && f.framework == "prisma" && f.detail == STORE_USED));
    assert!(!has(&det, "src/users.ts", FindingKind::Store, "Post"));
}

#[test]
fn raw_sql_tables_and_injection_risk() {
    let mut s = Snap::new();
    s.file(
        "app/repo.py",
        "def find(cur, uid):\n    cur.execute(\"SELECT * FROM accounts WHERE id = %s\", (uid,))\n    cur.execute(f\"DELETE FROM sessions WHERE user = {uid}\")\n",
        &[],
    );
    let det = s.detect();
    assert!(has(&det, "app/repo.py", FindingKind::Store, "accounts"));
    assert!(has(&det, "app/repo.py", FindingKind::Store, "sessions"));
    let risks = &det.facts["app/repo.py"].risks;
    assert_eq!(
        risks.iter().filter(|r| r.code == "sql-injection").count(),
        1,
        "{risks:?}"
    );
    assert_eq!(risks[0].line, 3);
}

#[test]
fn externals_env_and_outputs() {
    let mut s = Snap::new();
    s.file(
        "src/billing.ts",
        "import Stripe from 'stripe';\nimport { S3Client } from '@aws-sdk/client-s3';\nimport sg from '@sendgrid/mail';\nconst { STRIPE_KEY, REGION: r } = process.env;\nconst b = process.env.BUCKET;\nconst c = process.env['CDN_URL'];\nfs.writeFileSync('out/report.csv', data);\n",
        &[("stripe", None), ("@aws-sdk/client-s3", None), ("@sendgrid/mail", None)],
    );
    s.file(
        "app/mail.py",
        "import os, boto3, requests\nkey = os.environ[\"API_KEY\"]\nurl = os.getenv('SERVICE_URL', 'x')\nses = boto3.client('ses')\nrequests.post('https://hooks.slack.com/services/x')\n",
        &[("os", None), ("boto3", None), ("requests", None)],
    );
    let det = s.detect();
    for name in ["Stripe", "AWS S3", "SendGrid"] {
        assert!(
            has(&det, "src/billing.ts", FindingKind::External, name),
            "{name}"
        );
    }
    for name in ["STRIPE_KEY", "REGION", "BUCKET", "CDN_URL"] {
        assert!(
            has(&det, "src/billing.ts", FindingKind::EnvInput, name),
            "{name}"
        );
    }
    assert!(det
        .in_file("src/billing.ts")
        .any(|f| f.kind == FindingKind::Output && f.detail == "email"));
    assert!(has(
        &det,
        "src/billing.ts",
        FindingKind::Output,
        "out/report.csv"
    ));
    for name in ["API_KEY", "SERVICE_URL"] {
        assert!(
            has(&det, "app/mail.py", FindingKind::EnvInput, name),
            "{name}"
        );
    }
    assert!(has(&det, "app/mail.py", FindingKind::External, "AWS SES"));
    assert!(has(
        &det,
        "app/mail.py",
        FindingKind::External,
        "HTTP client (requests)"
    ));
    assert!(has(
        &det,
        "app/mail.py",
        FindingKind::External,
        "hooks.slack.com"
    ));
}

#[test]
fn command_line_entry_points() {
    let mut s = Snap::new();
    let c = s.file(
        "tool/cli.py",
        "import click\n\n@click.group()\ndef cli():\n    pass\n\n@cli.command()\n@click.option('--count')\ndef say_hello(count):\n    click.echo('hi')\n\nif __name__ == '__main__':\n    cli()\n",
        &[("click", None)],
    );
    c.functions = vec![
        func("cli", &["click.group()"], 4),
        func(
            "say_hello",
            &["cli.command()", "click.option('--count')"],
            9,
        ),
    ];
    s.file(
        "scripts/seed.py",
        "import argparse\np = argparse.ArgumentParser(prog='seed')\np.add_argument('--rows')\n",
        &[("argparse", None)],
    );
    s.file(
        "package.json",
        "{\"name\": \"@acme/mytool\", \"bin\": {\"mytool\": \"./dist/index.js\"}}",
        &[],
    );
    s.file("src/index.ts", "#!/usr/bin/env node\nimport { program } from 'commander';\nprogram.command('build').option('--watch');\n", &[("commander", None)]);
    let det = s.detect();
    assert!(has(&det, "tool/cli.py", FindingKind::Cli, "cli"));
    assert!(has(&det, "tool/cli.py", FindingKind::Cli, "say-hello"));
    assert!(has(&det, "tool/cli.py", FindingKind::CliArg, "--count"));
    assert!(det
        .in_file("tool/cli.py")
        .any(|f| f.kind == FindingKind::Cli && f.detail == "__main__"));
    assert!(has(&det, "tool/cli.py", FindingKind::Output, "stdout"));
    assert!(has(&det, "scripts/seed.py", FindingKind::Cli, "seed"));
    assert!(has(&det, "scripts/seed.py", FindingKind::CliArg, "--rows"));
    assert!(det
        .in_file("src/index.ts")
        .any(|f| f.kind == FindingKind::Cli && f.name == "mytool" && f.detail == "bin"));
    assert!(has(&det, "src/index.ts", FindingKind::Cli, "build"));
    assert!(has(&det, "src/index.ts", FindingKind::CliArg, "--watch"));
}

fn route(method: &str, path: &str, handler: &str, line: u32, fw: &str) -> Route {
    Route {
        method: method.into(),
        path: path.into(),
        handler: handler.into(),
        line,
        framework: fw.into(),
        ..Default::default()
    }
}

#[test]
fn mount_prefixes_and_includes_complete_route_paths() {
    let mut s = Snap::new();
    s.file(
        "src/app.js",
        "const express = require('express');\nconst users = require('./routes/users');\napp.use('/api/users', users);\n",
        &[("express", None), ("./routes/users", Some("src/routes/users.js"))],
    );
    let u = s.file(
        "src/routes/users.js",
        "router.get('/:id', show);\n",
        &[("express", None)],
    );
    u.routes = vec![route("GET", "/:id", "show", 1, "express")];
    s.file(
        "site/urls.py",
        "from django.urls import include, path\nurlpatterns = [path('blog/', include('blog.urls'))]\n",
        &[("django.urls", None)],
    );
    let b = s.file(
        "blog/urls.py",
        "from . import views\nurlpatterns = [path('posts/', views.post_list)]\n",
        &[(".", Some("blog/views.py"))],
    );
    b.imports[0].names = vec!["views".into()];
    b.routes = vec![route("ANY", "posts/", "views.post_list", 2, "django")];
    s.file("blog/views.py", "def post_list(request):\n    pass\n", &[]);
    s.file(
        "api/main.py",
        "from fastapi import FastAPI\nfrom api.routers import items\napp.include_router(items.router, prefix=\"/v1\")\n",
        &[("fastapi", None), ("api.routers", Some("api/routers/items.py"))],
    );
    let i = s.file(
        "api/routers/items.py",
        "router = APIRouter(prefix='/items')\n",
        &[("fastapi", None)],
    );
    i.routes = vec![route("GET", "/{item_id}", "read", 2, "fastapi")];
    let det = s.detect();
    assert!(has(
        &det,
        "src/routes/users.js",
        FindingKind::Route,
        "/api/users/:id"
    ));
    assert!(has_link(
        &det,
        "src/app.js",
        "src/routes/users.js",
        LINK_MOUNT
    ));
    assert!(has(
        &det,
        "blog/urls.py",
        FindingKind::Route,
        "/blog/posts/"
    ));
    assert!(has_link(&det, "site/urls.py", "blog/urls.py", LINK_INCLUDE));
    assert!(has(
        &det,
        "blog/views.py",
        FindingKind::RouteHandler,
        "post_list"
    ));
    assert!(has(
        &det,
        "api/routers/items.py",
        FindingKind::Route,
        "/v1/items/{item_id}"
    ));
}

#[test]
fn a_router_prefix_is_not_put_before_the_app_routes_beside_it() {
    let mut s = Snap::new();
    let f = s.file(
        "src/shop/api.py",
        "app = FastAPI()\nrouter = APIRouter(prefix=\"/orders\")\n\n@app.get(\"/items\")\ndef list_items():\n    pass\n\n@router.get(\"/{order_id}\")\ndef get_order(order_id):\n    pass\n",
        &[("fastapi", None)],
    );
    f.functions = vec![
        func("list_items", &["app.get(\"/items\")"], 5),
        func("get_order", &["router.get(\"/{order_id}\")"], 9),
    ];
    // As the Python parser records them: each receiver's own prefix applied.
    f.routes = vec![
        route("GET", "/items", "list_items", 4, "fastapi"),
        route("GET", "/orders/{order_id}", "get_order", 8, "fastapi"),
    ];
    let det = s.detect();
    assert!(has(&det, "src/shop/api.py", FindingKind::Route, "/items"));
    assert!(has(
        &det,
        "src/shop/api.py",
        FindingKind::Route,
        "/orders/{order_id}"
    ));
    assert!(!has(
        &det,
        "src/shop/api.py",
        FindingKind::Route,
        "/orders/items"
    ));
}

#[test]
fn pages_and_client_calls_to_api_routes() {
    let mut s = Snap::new();
    let p = s.file(
        "app/users/page.tsx",
        "export default function Page() {\n  useEffect(() => { fetch(`/api/users/${id}`) });\n}\n",
        &[],
    );
    p.routes = vec![route("PAGE", "/users", "Page", 1, "nextjs-app")];
    let r = s.file(
        "app/api/users/[id]/route.ts",
        "export async function GET() {}\n",
        &[],
    );
    r.routes = vec![route("GET", "/api/users/[id]", "GET", 1, "nextjs-app")];
    s.file(
        "src/App.jsx",
        "import { Route } from 'react-router-dom';\nconst x = <Routes><Route path=\"/about\" element={<About />} /></Routes>;\n",
        &[("react-router-dom", None)],
    );
    let det = s.detect();
    assert!(has(&det, "app/users/page.tsx", FindingKind::Page, "/users"));
    assert!(has(
        &det,
        "app/api/users/[id]/route.ts",
        FindingKind::Route,
        "/api/users/[id]"
    ));
    assert!(has_link(
        &det,
        "app/users/page.tsx",
        "app/api/users/[id]/route.ts",
        LINK_HTTP
    ));
    assert!(has(&det, "src/App.jsx", FindingKind::Page, "/about"));
}

#[test]
fn risks_are_factual_and_never_quote_secrets() {
    let mut s = Snap::new();
    s.file(
        "app/ops.py",
        "import subprocess, pickle\n# TODO: remove\n# FIXME later\nSTRIPE = 'sk_live_abcdefghijklmnop1234'\npassword = \"hunter2hunter2\"\nplaceholder_token = 'your-token-here'\nsubprocess.run(cmd, shell=True)\neval(expr)\npickle.loads(blob)\n",
        &[],
    );
    let det = s.detect();
    let facts = &det.facts["app/ops.py"];
    let codes: Vec<&str> = facts.risks.iter().map(|r| r.code.as_str()).collect();
    assert_eq!(facts.todos, 2);
    assert_eq!(
        codes.iter().filter(|c| **c == "secret").count(),
        2,
        "{codes:?}"
    );
    for c in ["shell", "eval", "deserialization", "todo"] {
        assert!(codes.contains(&c), "{c} in {codes:?}");
    }
    for r in &facts.risks {
        assert!(
            !r.message.contains("sk_live_") && !r.message.contains("hunter2"),
            "{}",
            r.message
        );
    }
    assert!(facts
        .risks
        .iter()
        .any(|r| r.message.contains("Stripe live key") && r.line == 4));
}

#[test]
fn test_paths_are_recognised() {
    assert!(is_test_path("tests/test_api.py"));
    assert!(is_test_path("src/users.test.ts"));
    assert!(is_test_path("src/__tests__/a.js"));
    assert!(!is_test_path("src/testing_utils.py"));
    assert!(!is_test_path("src/contest.ts"));
}

#[test]
fn non_ascii_sources_are_scanned_without_panics() {
    let mut s = Snap::new();
    s.file(
        "app/ru.py",
        "ключ = 'secretvalue123'\npassword_é = 'hunter2hunter2'\nprint('привет')  # TODO: перевод\n",
        &[],
    );
    s.file(
        "src/ja.ts",
        "const 名前 = process.env.名前 ?? '';\nconst x = process.env.API_URL;\n",
        &[],
    );
    let det = s.detect();
    assert!(has(&det, "src/ja.ts", FindingKind::EnvInput, "API_URL"));
    assert_eq!(det.facts["app/ru.py"].todos, 1);
}

fn infra(det: &Detections, file: &str) -> BTreeSet<(String, String)> {
    det.in_file(file)
        .filter(|f| f.kind == FindingKind::Infra)
        .map(|f| (f.name.clone(), f.detail.clone()))
        .collect()
}

fn pairs(v: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn brokers_and_caches_are_infrastructure_not_stores() {
    let mut s = Snap::new();
    s.file(
        "proj/celery.py",
        "import os\nfrom celery import Celery\napp = Celery('proj', broker=os.getenv('BROKER', 'amqp://guest@rabbit//'))\n",
        &[("os", None), ("celery", None)],
    );
    s.file(
        "proj/nocfg.py",
        "from celery import Celery\napp = Celery('proj')\napp.config_from_object('django.conf:settings', namespace='CELERY')\n",
        &[("celery", None)],
    );
    s.file(
        "proj/settings.py",
        "CACHES = {'default': {'BACKEND': 'django_redis.cache.RedisCache', 'LOCATION': 'redis://cache:6379/1'}}\nCELERY_BROKER_URL = 'redis://broker:6379/0'\nDATABASE_URL = 'redis://not-a-role:6379'\n",
        &[],
    );
    s.file(
        "src/cache.ts",
        "import Redis from 'ioredis';\nexport const cache = new Redis(process.env.REDIS_URL);\n",
        &[("ioredis", None)],
    );
    s.file(
        "src/queue.ts",
        "import IORedis from 'ioredis';\nimport { Queue } from 'bullmq';\nexport const q = new Queue('mail', { connection: new IORedis() });\n",
        &[("ioredis", None), ("bullmq", None)],
    );
    s.file(
        "app/events.py",
        "from kafka import KafkaProducer\nimport dramatiq\nfrom dramatiq.brokers.redis import RedisBroker\ndramatiq.set_broker(RedisBroker(host='redis'))\n",
        &[("kafka", None), ("dramatiq", None), ("dramatiq.brokers.redis", None)],
    );
    let det = s.detect();
    assert_eq!(
        infra(&det, "proj/celery.py"),
        pairs(&[("RabbitMQ", "broker")]),
        "the scheme of the broker URL, also as a getenv default"
    );
    assert_eq!(
        infra(&det, "proj/nocfg.py"),
        pairs(&[("Message broker", "broker")])
    );
    assert_eq!(
        infra(&det, "proj/settings.py"),
        pairs(&[("Redis", "cache"), ("Redis", "broker")]),
        "a Redis URL whose role nothing names is not claimed"
    );
    assert_eq!(infra(&det, "src/cache.ts"), pairs(&[("Redis", "cache")]));
    assert_eq!(infra(&det, "src/queue.ts"), pairs(&[("Redis", "broker")]));
    assert_eq!(
        infra(&det, "app/events.py"),
        pairs(&[("Kafka", "broker"), ("Redis", "broker")])
    );
    assert!(
        det.findings
            .iter()
            .all(|f| !(f.kind == FindingKind::Store && f.name == "Redis")),
        "Redis is never a data store"
    );
}

/// Every file's local result, kept as a caller keeps it (JSON) and handed back, gives the
/// detections a full scan gives, and no local phase runs again.
#[test]
fn kept_local_results_give_the_same_detections_without_a_scan() {
    let mut s = Snap::new();
    s.file(
        "src/queues.ts",
        "import { Queue } from 'bullmq';\nexport const q = new Queue('email');\n",
        &[("bullmq", None)],
    );
    s.file(
        "src/users.ts",
        "import { q } from './queues';\nexport const f = () => q.add('welcome', {});\n",
        &[("./queues", Some("src/queues.ts"))],
    );
    let f = s.file("src/shop/api.py", "app = FastAPI()\nrouter = APIRouter(prefix=\"/orders\")\n\n@app.get(\"/items\")\ndef list_items():\n    pass\n", &[("fastapi", None)]);
    f.functions = vec![func("list_items", &["app.get(\"/items\")"], 5)];
    f.routes = vec![route("GET", "/items", "list_items", 4, "fastapi")];
    let scanned = s.detect();
    let src = |p: &str| s.texts.get(p).cloned();
    let input = CapsInput {
        files: &s.files,
        edges: &[],
        source: &src,
    };
    let (first, fresh) = detect_reusing(&input, &|_, _| None);
    assert_eq!(first, scanned);
    assert_eq!(fresh.len(), 3, "every code file scanned once");
    let kept: BTreeMap<usize, String> = fresh
        .iter()
        .map(|(i, l)| (*i, serde_json::to_string(l).expect("json")))
        .collect();
    assert!(
        kept[&2].contains("\"prefix_owner\":\"router\""),
        "kept beside the facts: {}",
        kept[&2]
    );
    let reuse = |i: usize, _: &FileRecord| {
        kept.get(&i)
            .map(|j| serde_json::from_str(j).expect("kept result"))
    };
    let (again, fresh) = detect_reusing(&input, &reuse);
    assert!(fresh.is_empty(), "nothing scanned again");
    assert_eq!(again, scanned);
}
