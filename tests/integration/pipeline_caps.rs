//! Golden capabilities and summaries for small realistic apps in `tests/fixtures/apps/`.
//!
//! The JS/TS and Python parsers are written in parallel with this module, so the file
//! records are built here by a small fixture-only helper that fills in what those parsers
//! emit (imports with `raw`, `resolved` and `names`; functions with decorators as written
//! without `@`; classes with bases; routes as declared with their framework). The texts are
//! the real fixture files, read from disk. Once the parsers are merged, the lead switches
//! `App::load` (tests/pipeline_caps/fixture.rs) to parse the fixtures for real and these expectations must still hold.

mod fixture;

mod apps;

use apps::{
    argparse_app, click_app, django_app, django_drf_app, express_app, express_hello_app,
    express_two_routes_app, fastapi_app, koa_routers_app, nextjs_app,
};
use provis::pipeline::caps::{
    duplicate_pairs, CapabilitiesDoc, Capability, FileSummary, FlowItem, SummariesDoc,
};

// ---------------------------------------------------------------------------------------
// Assertion helpers
// ---------------------------------------------------------------------------------------

fn cap<'a>(doc: &'a CapabilitiesDoc, name: &str) -> &'a Capability {
    doc.capabilities
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no capability {name:?} in {:?}", names(doc)))
}

fn names(doc: &CapabilitiesDoc) -> Vec<&str> {
    doc.capabilities.iter().map(|c| c.name.as_str()).collect()
}

fn entry_names(c: &Capability) -> Vec<(&str, &str)> {
    c.entry_points
        .iter()
        .map(|e| (e.kind.as_str(), e.name.as_str()))
        .collect()
}

fn items(list: &[FlowItem]) -> Vec<(&str, &str)> {
    list.iter()
        .map(|i| (i.kind.as_str(), i.name.as_str()))
        .collect()
}

fn of_kind<'a>(list: &'a [FlowItem], kind: &str) -> Vec<&'a str> {
    list.iter()
        .filter(|i| i.kind == kind)
        .map(|i| i.name.as_str())
        .collect()
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn has_edge(c: &Capability, from: &str, to: &str, kind: &str) -> bool {
    c.control_flow
        .iter()
        .any(|e| e.from == from && e.to == to && e.kind == kind)
}

fn file_summary<'a>(s: &'a SummariesDoc, path: &str) -> &'a FileSummary {
    s.files
        .iter()
        .find(|f| f.path == path)
        .unwrap_or_else(|| panic!("no summary for {path}"))
}

// ---------------------------------------------------------------------------------------
// The apps, with the facts the parsers would record
// ---------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------
// Golden capabilities
// ---------------------------------------------------------------------------------------

#[test]
fn express_api_with_bull_worker_and_prisma() {
    let (_, doc, _) = express_app().run();
    assert_eq!(names(&doc), vec!["Users API", "Orders API", "Email jobs"]);

    let users = cap(&doc, "Users API");
    assert_eq!(
        entry_names(users),
        vec![
            ("route", "GET /users"),
            ("route", "GET /users/:id"),
            ("route", "POST /users")
        ]
    );
    assert!(users
        .entry_points
        .iter()
        .all(|e| e.file == "src/routes/users.ts" && e.framework == "express"));
    assert_eq!(users.lanes.api, s(&["src/routes/users.ts"]));
    assert_eq!(users.lanes.workers, s(&["src/workers/email.worker.ts"]));
    assert!(users.lanes.web.is_empty());
    assert_eq!(
        users.lanes.other,
        s(&[
            "src/lib/config.ts",
            "src/lib/db.ts",
            "src/queues.ts",
            "src/server.ts"
        ])
    );
    assert_eq!(
        users.orchestrators,
        s(&["src/server.ts"]),
        "test files never orchestrate"
    );
    assert_eq!(items(&users.data_flow.stores), vec![("prisma", "User")]);
    // The route enqueues `email`; SendGrid and its key are what the worker does with it,
    // so they are the Email jobs capability's (reached through the import graph from the
    // worker), not this one's. The queue's connection is reached: `emailQueue` → config.
    assert!(users.data_flow.externals.is_empty());
    assert_eq!(
        of_kind(&users.data_flow.inputs, "env"),
        vec!["PORT", "REDIS_URL"]
    );
    assert_eq!(of_kind(&users.data_flow.outputs, "job"), vec!["email"]);
    assert!(of_kind(&users.data_flow.outputs, "email").is_empty());
    assert_eq!(
        items(&users.data_flow.infrastructure),
        vec![("broker", "Redis")],
        "the BullMQ queue runs on Redis"
    );
    assert!(has_edge(
        users,
        "src/routes/users.ts",
        "src/workers/email.worker.ts",
        "enqueue"
    ));
    assert!(has_edge(
        users,
        "src/server.ts",
        "src/routes/users.ts",
        "mount"
    ));
    assert!(has_edge(
        users,
        "src/routes/users.ts",
        "src/lib/db.ts",
        "import"
    ));
    assert_eq!(users.key_files[0], "src/routes/users.ts");
    let titles: Vec<&str> = users.steps.iter().map(|s| s.title.as_str()).collect();
    assert_eq!(
        titles,
        vec![
            "Receive HTTP requests",
            "Read configuration",
            "Call internal modules",
            "Read and write data",
            "Use brokers and caches",
            "Hand off to background workers",
            "Produce results"
        ]
    );

    let orders = cap(&doc, "Orders API");
    assert_eq!(
        entry_names(orders),
        vec![("route", "GET /orders"), ("route", "POST /orders")]
    );
    assert_eq!(items(&orders.data_flow.stores), vec![("prisma", "Order")]);
    assert_eq!(
        items(&orders.data_flow.externals),
        vec![("payments", "Stripe")]
    );
    assert_eq!(
        of_kind(&orders.data_flow.inputs, "env"),
        vec!["STRIPE_SECRET_KEY"]
    );
    assert_eq!(
        orders.lanes.other,
        s(&["src/lib/db.ts", "src/server.ts", "src/services/payments.ts"])
    );

    let jobs = cap(&doc, "Email jobs");
    assert_eq!(entry_names(jobs), vec![("job", "email")]);
    assert_eq!(jobs.entry_points[0].framework, "bullmq");
    assert_eq!(jobs.lanes.workers, s(&["src/workers/email.worker.ts"]));
    assert_eq!(
        jobs.orchestrators,
        s(&["src/routes/users.ts"]),
        "the producer triggers the worker"
    );
    assert_eq!(items(&jobs.data_flow.stores), vec![("prisma", "User")]);
    assert_eq!(
        items(&jobs.data_flow.externals),
        vec![("email", "SendGrid")]
    );
    assert_eq!(
        of_kind(&jobs.data_flow.inputs, "env"),
        vec!["SENDGRID_API_KEY"]
    );
    assert_eq!(
        items(&jobs.data_flow.infrastructure),
        vec![("broker", "Redis")]
    );
    assert_eq!(of_kind(&jobs.data_flow.inputs, "jobPayload"), vec!["email"]);
    assert!(
        jobs.steps[0]
            .description
            .ends_with("triggered by src/routes/users.ts (enqueue)"),
        "{}",
        jobs.steps[0].description
    );
    assert!(jobs
        .steps
        .iter()
        .all(|s| s.title != "Hand off to background workers"));

    // Product is in the schema but used by no capability.
    assert!(doc.capabilities.iter().all(|c| c
        .data_flow
        .stores
        .iter()
        .all(|s| s.name != "Product")));
}

#[test]
fn fastapi_app_with_sqlalchemy_and_celery() {
    let (_, doc, _) = fastapi_app().run();
    assert_eq!(
        names(&doc),
        vec![
            "Users API",
            "App background tasks",
            "Items API",
            "Celery app schedule",
            "Health API"
        ]
    );

    let users = cap(&doc, "Users API");
    assert_eq!(
        entry_names(users),
        vec![("route", "GET /users/{user_id}"), ("route", "POST /users")]
    );
    assert_eq!(users.lanes.api, s(&["app/main.py", "app/routers/users.py"]));
    // `send_welcome_email.delay()` reaches the task's registration (`@celery.task`, hence
    // the Celery app and its broker), not the task's body.
    assert_eq!(
        users.lanes.workers,
        s(&["app/celery_app.py", "app/tasks.py"])
    );
    assert_eq!(
        users.lanes.other,
        s(&["app/database.py", "app/models.py", "app/schemas.py"])
    );
    assert_eq!(users.orchestrators, s(&["app/main.py"]));
    assert_eq!(
        items(&users.data_flow.stores),
        vec![("sqlalchemy", "User")],
        "Item is not used here; pydantic schemas are not stores"
    );
    assert!(
        users.data_flow.externals.is_empty(),
        "SMTP runs in the Celery task, not in the request"
    );
    assert_eq!(
        of_kind(&users.data_flow.inputs, "env"),
        vec!["CELERY_BROKER_URL", "DATABASE_URL"]
    );
    assert_eq!(
        items(&users.data_flow.infrastructure),
        vec![("broker", "Redis")]
    );
    assert_eq!(
        of_kind(&users.data_flow.outputs, "job"),
        vec!["send_welcome_email"]
    );
    assert!(has_edge(
        users,
        "app/routers/users.py",
        "app/tasks.py",
        "enqueue"
    ));
    assert!(has_edge(
        users,
        "app/main.py",
        "app/routers/users.py",
        "mount"
    ));

    let items_cap = cap(&doc, "Items API");
    assert_eq!(
        entry_names(items_cap),
        vec![("route", "GET /items"), ("route", "GET /items/search")]
    );
    assert_eq!(
        items(&items_cap.data_flow.stores),
        vec![("sqlalchemy", "Item"), ("sql", "items")]
    );
    assert!(items_cap.data_flow.externals.is_empty());

    let tasks = cap(&doc, "App background tasks");
    assert_eq!(
        entry_names(tasks),
        vec![("job", "cleanup_unwelcomed"), ("job", "send_welcome_email")]
    );
    assert!(tasks.entry_points.iter().all(|e| e.framework == "celery"));
    assert_eq!(
        tasks.lanes.workers,
        s(&["app/celery_app.py", "app/tasks.py"])
    );
    // The Celery app is reached (the tasks are registered on it), so it is a member, not
    // an outside orchestrator; the route that enqueues is.
    assert_eq!(tasks.orchestrators, s(&["app/routers/users.py"]));
    assert!(tasks.steps[0]
        .description
        .contains("app/celery_app.py (schedule)"));
    assert!(tasks.steps[0]
        .description
        .contains("app/routers/users.py (enqueue)"));
    assert_eq!(items(&tasks.data_flow.externals), vec![("email", "SMTP")]);

    let sched = cap(&doc, "Celery app schedule");
    assert_eq!(entry_names(sched), vec![("schedule", "cleanup_unwelcomed")]);
    assert_eq!(
        sched.lanes.workers,
        s(&["app/celery_app.py", "app/tasks.py"])
    );
    assert!(has_edge(
        sched,
        "app/celery_app.py",
        "app/tasks.py",
        "schedule"
    ));
    // The scheduled task's database work is the tasks capability's: a hand-off adds its
    // target to the capability, not the target's data flow.
    assert_eq!(
        of_kind(&sched.data_flow.inputs, "env"),
        vec!["CELERY_BROKER_URL"]
    );

    let health = cap(&doc, "Health API");
    assert_eq!(entry_names(health), vec![("route", "GET /health")]);
    assert_eq!(health.lanes.api, s(&["app/main.py"]));
    // main.py imports the database module for `create_all` and mounts both routers; the
    // handler of GET /health touches none of it (before, it was credited with
    // app/database.py through the file's imports).
    assert!(health.lanes.other.is_empty(), "{:?}", health.lanes.other);
    assert!(health.data_flow.stores.is_empty());
    assert!(of_kind(&health.data_flow.inputs, "env").is_empty());
}

#[test]
fn nextjs_app_router_pages_and_api_routes() {
    let (_, doc, _) = nextjs_app().run();
    assert_eq!(
        names(&doc),
        vec!["Dashboard pages", "Todos API", "Home page", "Summarize API"]
    );

    let dash = cap(&doc, "Dashboard pages");
    assert_eq!(
        entry_names(dash),
        vec![("page", "/dashboard"), ("page", "/dashboard/settings")]
    );
    assert_eq!(
        dash.lanes.web,
        s(&[
            "app/dashboard/page.tsx",
            "app/dashboard/settings/page.tsx",
            "components/TodoList.tsx"
        ])
    );
    assert_eq!(
        dash.lanes.api,
        s(&["app/api/todos/[id]/route.ts", "app/api/todos/route.ts"])
    );
    // The pages call the API routes over HTTP: the route files join the capability (a
    // hand-off), their database does not (it is the Todos API's).
    assert!(dash.lanes.other.is_empty(), "{:?}", dash.lanes.other);
    assert!(has_edge(
        dash,
        "components/TodoList.tsx",
        "app/api/todos/route.ts",
        "http"
    ));
    assert!(has_edge(
        dash,
        "components/TodoList.tsx",
        "app/api/todos/[id]/route.ts",
        "http"
    ));
    assert!(
        dash.data_flow.stores.is_empty(),
        "{:?}",
        dash.data_flow.stores
    );
    assert_eq!(
        of_kind(&dash.data_flow.outputs, "page"),
        vec!["/dashboard", "/dashboard/settings"]
    );

    let todos = cap(&doc, "Todos API");
    assert_eq!(
        entry_names(todos),
        vec![
            ("route", "DELETE /api/todos/[id]"),
            ("route", "GET /api/todos"),
            ("route", "POST /api/todos")
        ]
    );
    assert!(todos
        .entry_points
        .iter()
        .all(|e| e.framework == "nextjs-app"));
    assert_eq!(
        todos.lanes.api,
        s(&["app/api/todos/[id]/route.ts", "app/api/todos/route.ts"])
    );
    assert_eq!(todos.orchestrators, s(&["components/TodoList.tsx"]));
    assert_eq!(
        items(&todos.data_flow.stores),
        vec![("pg", "PostgreSQL"), ("sql", "todos")]
    );
    assert_eq!(
        of_kind(&todos.data_flow.inputs, "env"),
        vec!["DATABASE_URL"]
    );

    let home = cap(&doc, "Home page");
    assert_eq!(entry_names(home), vec![("page", "/")]);
    assert_eq!(home.lanes.web, s(&["app/page.tsx", "components/Hero.tsx"]));

    let ai = cap(&doc, "Summarize API");
    assert_eq!(items(&ai.data_flow.externals), vec![("ai", "OpenAI")]);
    assert_eq!(of_kind(&ai.data_flow.inputs, "env"), vec!["OPENAI_API_KEY"]);
    assert_eq!(ai.lanes.other, s(&["lib/ai.ts"]));
}

#[test]
fn django_app_with_included_urlconfs() {
    let (_, doc, _) = django_app().run();
    assert_eq!(
        names(&doc),
        vec!["Blog API", "Accounts API", "Admin API", "manage CLI"]
    );

    let blog = cap(&doc, "Blog API");
    assert_eq!(
        entry_names(blog),
        vec![
            ("route", "ANY /blog/"),
            ("route", "ANY /blog/<int:pk>/"),
            ("route", "ANY /blog/<int:pk>/comment/")
        ]
    );
    assert_eq!(
        blog.lanes.api,
        s(&["blog/urls.py", "blog/views.py", "mysite/urls.py"])
    );
    assert_eq!(blog.lanes.other, s(&["blog/models.py"]));
    assert_eq!(blog.orchestrators, s(&["mysite/urls.py"]));
    assert!(has_edge(blog, "mysite/urls.py", "blog/urls.py", "include"));
    // Reached through each view's use of the model (`views.post_list` → `Post`), in the
    // order the models are defined.
    assert_eq!(
        items(&blog.data_flow.stores),
        vec![("django", "Post"), ("django", "Comment")]
    );

    let accounts = cap(&doc, "Accounts API");
    assert_eq!(
        entry_names(accounts),
        vec![("route", "ANY /accounts/signup/")]
    );
    assert_eq!(
        accounts.lanes.api,
        s(&["accounts/urls.py", "accounts/views.py", "mysite/urls.py"])
    );
    assert!(accounts.data_flow.stores.is_empty());

    let admin = cap(&doc, "Admin API");
    assert_eq!(entry_names(admin), vec![("route", "ANY /admin/")]);

    let manage = cap(&doc, "manage CLI");
    assert_eq!(entry_names(manage), vec![("cli", "manage")]);
    assert_eq!(
        of_kind(&manage.data_flow.inputs, "env"),
        vec!["DJANGO_SETTINGS_MODULE"]
    );
    assert_eq!(manage.lanes.other, s(&["manage.py"]));
}

#[test]
fn click_cli_with_console_script() {
    let (_, doc, _) = click_app().run();
    assert_eq!(names(&doc), vec!["notes CLI"]);
    let cli = cap(&doc, "notes CLI");
    assert_eq!(
        entry_names(cli),
        vec![
            ("cli", "add"),
            ("cli", "export"),
            ("cli", "list"),
            ("cli", "main"),
            ("cli", "notes"),
            ("cli", "notes"),
        ]
    );
    let files: Vec<&str> = cli
        .entry_points
        .iter()
        .filter(|e| e.name == "notes")
        .map(|e| e.file.as_str())
        .collect();
    assert_eq!(files, vec!["notes/__main__.py", "notes/cli.py"]);
    assert_eq!(
        cli.lanes.other,
        s(&[
            "notes/__main__.py",
            "notes/cli.py",
            "notes/export.py",
            "notes/storage.py"
        ])
    );
    assert!(cli.orchestrators.is_empty(), "tests do not orchestrate");
    assert_eq!(
        of_kind(&cli.data_flow.inputs, "cliArg"),
        vec!["text", "--limit", "--out"]
    );
    assert_eq!(of_kind(&cli.data_flow.inputs, "env"), vec!["NOTES_DB"]);
    assert_eq!(
        items(&cli.data_flow.stores),
        vec![("sqlite3", "SQLite"), ("sql", "notes")]
    );
    assert_eq!(
        items(&cli.data_flow.outputs),
        vec![("console", "stdout"), ("file", "(dynamic path)")]
    );
    assert!(
        cli.purpose.contains("with 3 commands: add, list, export"),
        "{}",
        cli.purpose
    );
}

// ---------------------------------------------------------------------------------------
// Identity, ordering, shape
// ---------------------------------------------------------------------------------------

#[test]
fn ids_are_stable_hashes_of_the_seed_and_order_does_not_depend_on_input_order() {
    let app = express_app();
    let (_, first, sums_a) = app.run();
    let (_, second, sums_b) = app.run();
    assert_eq!(first, second);
    assert_eq!(sums_a, sums_b);
    let mut reversed = app.files.clone();
    reversed.reverse();
    let (_, third, sums_c) = app.run_with(&reversed);
    assert_eq!(first, third, "input order must not matter");
    assert_eq!(sums_a, sums_c);

    // The key is the unit: the router `src/routes/users.ts` creates.
    let users = cap(&first, "Users API");
    assert_eq!(
        users.id,
        blake3::hash(b"api:src/routes/users.ts:router").to_hex()[..16].to_string()
    );
    let ids: std::collections::BTreeSet<&str> =
        first.capabilities.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids.len(), first.capabilities.len());
    for c in &first.capabilities {
        assert_eq!(c.id.len(), 16);
        assert!(c.id.bytes().all(|b| b.is_ascii_hexdigit()));
    }
}

#[test]
fn capabilities_are_ranked_by_reach() {
    for app in [express_app(), fastapi_app(), nextjs_app(), django_app()] {
        let (_, doc, _) = app.run();
        let reach: Vec<usize> = doc
            .capabilities
            .iter()
            .map(|c| {
                // Reach counts gathered files: every lane member that is not an orchestrator.
                let l = &c.lanes;
                l.web.len() + l.api.len() + l.workers.len() + l.other.len() - c.orchestrators.len()
            })
            .collect();
        let mut sorted = reach.clone();
        sorted.sort_by(|a, b| b.cmp(a));
        assert_eq!(reach, sorted, "{:?}", names(&doc));
    }
}

#[test]
fn artifact_json_has_the_design_shape() {
    let (_, doc, sums) = express_app().run();
    let v = serde_json::to_value(&doc).expect("serialize");
    let c = &v["capabilities"][0];
    for key in [
        "id",
        "name",
        "purpose",
        "entryPoints",
        "keyFiles",
        "orchestrators",
        "lanes",
        "controlFlow",
        "dataFlow",
        "steps",
    ] {
        assert!(c.get(key).is_some(), "missing {key}");
    }
    for lane in ["web", "api", "workers", "other"] {
        assert!(c["lanes"][lane].is_array(), "lane {lane}");
    }
    for flow in ["inputs", "stores", "externals", "outputs"] {
        assert!(c["dataFlow"][flow].is_array(), "dataFlow.{flow}");
    }
    let edge = &c["controlFlow"][0];
    assert!(edge["from"].is_string() && edge["to"].is_string() && edge["kind"].is_string());
    let back: CapabilitiesDoc = serde_json::from_value(v).expect("round trip");
    assert_eq!(back, doc);

    let s = serde_json::to_value(&sums).expect("serialize");
    assert_eq!(s["source"], "deterministic");
    let f = &s["files"][0];
    for key in ["path", "title", "purpose", "keyFunctions", "risks", "blurb"] {
        assert!(f.get(key).is_some(), "file summary missing {key}");
    }
    assert!(s["capabilities"][0].get("keyFiles").is_some());
}

mod summaries;
mod units;
