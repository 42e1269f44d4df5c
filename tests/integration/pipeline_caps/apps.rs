//! The five fixture apps with the facts their parsers would record.

use super::fixture::App;

pub fn express_app() -> App {
    let mut a = App::load("express-bull-prisma");
    a.at("src/server.ts")
        .import("express", None, &["default"])
        .import("./routes/users", Some("src/routes/users.ts"), &["default"])
        .import(
            "./routes/orders",
            Some("src/routes/orders.ts"),
            &["default"],
        )
        .import("./lib/config", Some("src/lib/config.ts"), &["config"]);
    a.at("src/lib/config.ts").exports(&["config"]);
    a.at("src/lib/db.ts")
        .import("@prisma/client", None, &["PrismaClient"])
        .exports(&["prisma"]);
    a.at("src/queues.ts")
        .import("bullmq", None, &["Queue"])
        .import("./lib/config", Some("src/lib/config.ts"), &["config"])
        .exports(&["emailQueue"]);
    a.at("src/routes/users.ts")
        .import("express", None, &["Router"])
        .import("../lib/db", Some("src/lib/db.ts"), &["prisma"])
        .import("../queues", Some("src/queues.ts"), &["emailQueue"])
        .route("GET", "/", "listUsers", "express")
        .route("GET", "/:id", "getUser", "express")
        .route("POST", "/", "createUser", "express")
        .exports(&["default"]);
    a.at("src/routes/orders.ts")
        .import("express", None, &["Router"])
        .import("../lib/db", Some("src/lib/db.ts"), &["prisma"])
        .import(
            "../services/payments",
            Some("src/services/payments.ts"),
            &["charge"],
        )
        .route("GET", "/", "listOrders", "express")
        .route("POST", "/", "createOrder", "express")
        .exports(&["default"]);
    a.at("src/services/payments.ts")
        .import("stripe", None, &["default"])
        .func("charge", &[])
        .exports(&["charge"]);
    a.at("src/workers/email.worker.ts")
        .import("bullmq", None, &["Worker"])
        .import("@sendgrid/mail", None, &["default"])
        .import("../lib/db", Some("src/lib/db.ts"), &["prisma"])
        .exports(&["worker"]);
    a.at("tests/users.test.ts")
        .test()
        .import("supertest", None, &["default"])
        .import(
            "../src/routes/users",
            Some("src/routes/users.ts"),
            &["default"],
        );
    a
}

pub fn fastapi_app() -> App {
    let mut a = App::load("fastapi-celery");
    a.at("app/database.py")
        .import("os", None, &[])
        .import("sqlalchemy", None, &["create_engine"])
        .import("sqlalchemy.orm", None, &["DeclarativeBase", "sessionmaker"])
        .class("Base", &["DeclarativeBase"])
        .func("get_db", &[]);
    a.at("app/models.py")
        .import(
            "sqlalchemy",
            None,
            &["Boolean", "Column", "ForeignKey", "Integer", "String"],
        )
        .import("app.database", Some("app/database.py"), &["Base"])
        .class("User", &["Base"])
        .class("Item", &["Base"]);
    a.at("app/schemas.py")
        .import("pydantic", None, &["BaseModel"])
        .class("UserCreate", &["BaseModel"])
        .class("UserOut", &["BaseModel"])
        .class("ItemOut", &["BaseModel"]);
    a.at("app/main.py")
        .import("fastapi", None, &["FastAPI"])
        .import("app.database", Some("app/database.py"), &["Base", "engine"])
        .import("app.routers", Some("app/routers/items.py"), &["items"])
        .import("app.routers", Some("app/routers/users.py"), &["users"])
        .func("health", &["app.get(\"/health\")"])
        .route("GET", "/health", "health", "fastapi");
    a.at("app/routers/users.py")
        .import("fastapi", None, &["APIRouter", "Depends", "HTTPException"])
        .import("sqlalchemy.orm", None, &["Session"])
        .import("app.database", Some("app/database.py"), &["get_db"])
        .import("app.models", Some("app/models.py"), &["User"])
        .import(
            "app.schemas",
            Some("app/schemas.py"),
            &["UserCreate", "UserOut"],
        )
        .import("app.tasks", Some("app/tasks.py"), &["send_welcome_email"])
        .func(
            "create_user",
            &["router.post(\"/\", response_model=UserOut, status_code=201)"],
        )
        .func(
            "read_user",
            &["router.get(\"/{user_id}\", response_model=UserOut)"],
        )
        .route("POST", "/", "create_user", "fastapi")
        .route("GET", "/{user_id}", "read_user", "fastapi");
    a.at("app/routers/items.py")
        .import("fastapi", None, &["APIRouter", "Depends"])
        .import("sqlalchemy", None, &["text"])
        .import("sqlalchemy.orm", None, &["Session"])
        .import("app.database", Some("app/database.py"), &["get_db"])
        .import("app.models", Some("app/models.py"), &["Item"])
        .import("app.schemas", Some("app/schemas.py"), &["ItemOut"])
        .func(
            "list_items",
            &["router.get(\"/\", response_model=list[ItemOut])"],
        )
        .func("search_items", &["router.get(\"/search\")"])
        .route("GET", "/", "list_items", "fastapi")
        .route("GET", "/search", "search_items", "fastapi");
    a.at("app/celery_app.py")
        .import("os", None, &[])
        .import("celery", None, &["Celery"])
        .import("celery.schedules", None, &["crontab"]);
    a.at("app/tasks.py")
        .import("smtplib", None, &[])
        .import("email.message", None, &["EmailMessage"])
        .import("app.celery_app", Some("app/celery_app.py"), &["celery"])
        .import("app.database", Some("app/database.py"), &["SessionLocal"])
        .import("app.models", Some("app/models.py"), &["User"])
        .func("send_welcome_email", &["celery.task"])
        .func("cleanup_unwelcomed", &["celery.task"]);
    a
}

pub fn nextjs_app() -> App {
    let mut a = App::load("nextjs-app");
    a.at("app/layout.tsx")
        .func("RootLayout", &[])
        .exports(&["default"])
        .react();
    a.at("app/page.tsx")
        .import(
            "../components/Hero",
            Some("components/Hero.tsx"),
            &["default"],
        )
        .func("HomePage", &[])
        .route("PAGE", "/", "HomePage", "nextjs-app")
        .exports(&["default"])
        .react();
    a.at("app/dashboard/page.tsx")
        .import(
            "../../components/TodoList",
            Some("components/TodoList.tsx"),
            &["default"],
        )
        .func("DashboardPage", &[])
        .route("PAGE", "/dashboard", "DashboardPage", "nextjs-app")
        .exports(&["default"])
        .react();
    a.at("app/dashboard/settings/page.tsx")
        .func("SettingsPage", &[])
        .route("PAGE", "/dashboard/settings", "SettingsPage", "nextjs-app")
        .exports(&["default"])
        .react();
    a.at("components/Hero.tsx")
        .func("Hero", &[])
        .exports(&["default"])
        .react();
    a.at("components/TodoList.tsx")
        .import("react", None, &["useEffect", "useState"])
        .func("TodoList", &[])
        .exports(&["default"])
        .react();
    a.at("lib/db.ts")
        .import("pg", None, &["Pool"])
        .func("listTodos", &[])
        .func("addTodo", &[])
        .func("deleteTodo", &[])
        .exports(&["pool", "listTodos", "addTodo", "deleteTodo"]);
    a.at("lib/ai.ts")
        .import("openai", None, &["default"])
        .func("summarize", &[])
        .exports(&["summarize"]);
    a.at("app/api/todos/route.ts")
        .import("next/server", None, &["NextResponse"])
        .import(
            "../../../lib/db",
            Some("lib/db.ts"),
            &["addTodo", "listTodos"],
        )
        .func("GET", &[])
        .func("POST", &[])
        .route("GET", "/api/todos", "GET", "nextjs-app")
        .route("POST", "/api/todos", "POST", "nextjs-app")
        .exports(&["GET", "POST"]);
    a.at("app/api/todos/[id]/route.ts")
        .import("next/server", None, &["NextResponse"])
        .import("../../../../lib/db", Some("lib/db.ts"), &["deleteTodo"])
        .func("DELETE", &[])
        .route("DELETE", "/api/todos/[id]", "DELETE", "nextjs-app")
        .exports(&["DELETE"]);
    a.at("app/api/summarize/route.ts")
        .import("next/server", None, &["NextResponse"])
        .import("../../../lib/ai", Some("lib/ai.ts"), &["summarize"])
        .func("POST", &[])
        .route("POST", "/api/summarize", "POST", "nextjs-app")
        .exports(&["POST"]);
    a
}

pub fn django_app() -> App {
    let mut a = App::load("django-blog");
    a.at("manage.py")
        .import("os", None, &[])
        .import("sys", None, &[])
        .func("main", &[]);
    a.at("mysite/settings.py")
        .import("pathlib", None, &["Path"]);
    a.at("mysite/urls.py")
        .import("django.contrib", None, &["admin"])
        .import("django.urls", None, &["include", "path"])
        .route("ANY", "admin/", "admin.site.urls", "django");
    a.at("blog/models.py")
        .import("django.db", None, &["models"])
        .class("Post", &["models.Model"])
        .class("Comment", &["models.Model"]);
    a.at("blog/views.py")
        .import(
            "django.shortcuts",
            None,
            &["get_object_or_404", "redirect", "render"],
        )
        .import(".models", Some("blog/models.py"), &["Comment", "Post"])
        .func("post_list", &[])
        .func("post_detail", &[])
        .func("comment_create", &[]);
    a.at("blog/urls.py")
        .import("django.urls", None, &["path"])
        .import(".", Some("blog/views.py"), &["views"])
        .route("ANY", "", "views.post_list", "django")
        .route("ANY", "<int:pk>/", "views.post_detail", "django")
        .route("ANY", "<int:pk>/comment/", "views.comment_create", "django");
    a.at("accounts/views.py")
        .import("django.contrib.auth.forms", None, &["UserCreationForm"])
        .import("django.shortcuts", None, &["redirect", "render"])
        .func("signup", &[]);
    a.at("accounts/urls.py")
        .import("django.urls", None, &["path"])
        .import(".", Some("accounts/views.py"), &["views"])
        .route("ANY", "signup/", "views.signup", "django");
    a
}

pub fn click_app() -> App {
    let mut a = App::load("click-cli");
    a.at("notes/__main__.py")
        .import("notes.cli", Some("notes/cli.py"), &["main"]);
    a.at("notes/storage.py")
        .import("os", None, &[])
        .import("sqlite3", None, &[])
        .func("connect", &[])
        .func("add_note", &[])
        .func("recent", &[]);
    a.at("notes/export.py").func("to_markdown", &[]);
    a.at("notes/cli.py")
        .import("click", None, &[])
        .import("notes", Some("notes/storage.py"), &["storage"])
        .import("notes.export", Some("notes/export.py"), &["to_markdown"])
        .func("main", &["click.group()"])
        .func("add", &["main.command()", "click.argument(\"text\")"])
        .func(
            "list_notes",
            &[
                "main.command(\"list\")",
                "click.option(\"--limit\", default=10, show_default=True)",
            ],
        )
        .func(
            "export",
            &[
                "main.command()",
                "click.option(\"--out\", default=\"notes.md\")",
            ],
        );
    a.at("tests/test_cli.py")
        .test()
        .import("click.testing", None, &["CliRunner"])
        .import("notes.cli", Some("notes/cli.py"), &["main"])
        .func("test_add_and_list", &[]);
    a
}

/// GET /hello beside a mounted users router, in a file that also holds the database pool
/// (for a shutdown hook): the "Hello API claimed PostgreSQL" case.
pub fn express_hello_app() -> App {
    let mut a = App::load("express-hello");
    a.at("db.js").import("pg", None, &[]);
    a.at("server.js")
        .import("express", None, &[])
        .import("./db", Some("db.js"), &[])
        .import("./routes/users", Some("routes/users.js"), &[])
        .route("GET", "/hello", "", "express");
    a.at("routes/users.js")
        .import("express", None, &[])
        .import("../db", Some("db.js"), &[])
        .route("GET", "/", "", "express")
        .route("GET", "/:id", "", "express");
    a.at("test/hello.test.js")
        .test()
        .import("supertest", None, &[])
        .import("../server", Some("server.js"), &[]);
    a.at("test/users.test.js")
        .test()
        .import("supertest", None, &[])
        .import("../server", Some("server.js"), &[]);
    a
}

/// Two routes on one Express app in one file: the issue's "two capabilities with identical
/// key files and steps" case.
pub fn express_two_routes_app() -> App {
    let mut a = App::load("express-two-routes");
    a.at("server.js")
        .import("express", None, &[])
        .import("pg", None, &[])
        .route("GET", "/hello", "", "express")
        .route("GET", "/users", "", "express");
    a
}

/// Three koa-routers mounted into one API (`router.use(x.routes())` under `mount('/api')`),
/// paths without a leading slash. `with_units`: the route composer's `unit` and `mounts`
/// are set; without, only the composed paths are known and the unit falls back to the
/// router object each route is declared on.
pub fn koa_routers_app(with_units: bool) -> App {
    let mut a = App::load("koa-routers");
    a.at("server/index.js")
        .import("koa", None, &[])
        .import("koa-mount", None, &[])
        .import("./api", Some("server/api/index.js"), &[]);
    a.at("server/api/index.js")
        .import("koa", None, &[])
        .import("@koa/router", None, &[])
        .import("./documents", Some("server/api/documents.js"), &[])
        .import("./users", Some("server/api/users.js"), &[])
        .import("./auth", Some("server/api/auth.js"), &[]);
    a.at("server/models.js").import("sequelize", None, &[]);
    let mounts = ["server/index.js:6", "server/api/index.js:10"];
    for (file, names) in [
        (
            "server/api/documents.js",
            ["documents.list", "documents.info"],
        ),
        ("server/api/users.js", ["users.list", "users.info"]),
        ("server/api/auth.js", ["auth.config", "auth.info"]),
    ] {
        let mut f = a.at(file).import("@koa/router", None, &[]);
        if file != "server/api/auth.js" {
            f = f.import("../models", Some("server/models.js"), &[]);
        }
        for n in names {
            f = f.route_written("POST", &format!("/api/{n}"), n, "", "koa");
            if with_units {
                f = f.unit(&format!("{file}:router"), &mounts);
            }
        }
    }
    a
}

/// An argparse program that is also a pyproject console script and a `python -m` module.
pub fn argparse_app() -> App {
    let mut a = App::load("argparse-cli");
    a.at("greet/cli.py")
        .import("argparse", None, &[])
        .import("greet.words", Some("greet/words.py"), &["greeting"])
        .func("main", &[]);
    a.at("greet/words.py").func("greeting", &[]);
    a.at("greet/__main__.py")
        .import("greet.cli", Some("greet/cli.py"), &["main"]);
    a.at("tests/test_cli.py")
        .test()
        .import("greet.cli", Some("greet/cli.py"), &["main"])
        .func("test_greets", &[]);
    a
}

/// One Django urlconf holding two units, as django-helpdesk's does: its `urlpatterns` and a
/// REST framework router included under `api/`. Both are labelled by the file.
pub fn django_drf_app() -> App {
    let mut a = App::load("django-drf");
    a.at("support/views.py")
        .import("django.shortcuts", None, &["render"])
        .func("home", &[])
        .func("tickets", &[])
        .func("kb", &[]);
    a.at("support/api.py")
        .import("rest_framework", None, &["viewsets"])
        .class("TicketViewSet", &["viewsets.ModelViewSet"]);
    let mut f = a
        .at("support/urls.py")
        .import("django.urls", None, &["include", "path"])
        .import("rest_framework.routers", None, &["DefaultRouter"])
        .import(".api", Some("support/api.py"), &["TicketViewSet"])
        .import(
            ".views",
            Some("support/views.py"),
            &["home", "kb", "tickets"],
        );
    for (path, written, handler) in [
        ("/", "", "home"),
        ("/tickets/", "tickets/", "tickets"),
        ("/kb/", "kb/", "kb"),
    ] {
        f = f
            .route_written("ANY", path, written, handler, "django")
            .unit("support/urls.py:support", &[]);
    }
    for path in ["/api/", "/api/tickets/", "/api/tickets/<pk>/"] {
        f = f
            .route_written("ANY", path, "tickets", "TicketViewSet", "django")
            .unit("support/urls.py:router", &["support/urls.py:17"]);
    }
    a
}
