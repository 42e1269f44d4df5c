//! Issue 8: capabilities by unit, reachability, infrastructure, one CLI, the tests lane.

use super::*;

#[test]
fn two_express_routes_in_one_file_are_one_capability() {
    let (_, doc, _) = express_two_routes_app().run();
    // One app object, one unit: before, `/hello` and `/users` became two capabilities with
    // the same key files and steps.
    assert_eq!(names(&doc), vec!["Server API"]);
    let c = &doc.capabilities[0];
    assert_eq!(
        entry_names(c),
        vec![("route", "GET /hello"), ("route", "GET /users")]
    );
    assert_eq!(c.key_files, s(&["server.js"]));
    assert_eq!(
        items(&c.data_flow.stores),
        vec![("pg", "PostgreSQL"), ("sql", "users")],
        "GET /users queries the pool"
    );
    assert_eq!(of_kind(&c.data_flow.inputs, "env"), vec!["DATABASE_URL"]);
    assert!(duplicate_pairs(&doc).is_empty());
}

#[test]
fn hello_api_claims_only_what_get_hello_reaches() {
    let (_, doc, sums) = express_hello_app().run();
    assert_eq!(names(&doc), vec!["Users API", "Hello API"]);

    let hello = cap(&doc, "Hello API");
    assert_eq!(entry_names(hello), vec![("route", "GET /hello")]);
    // server.js imports db.js (for a shutdown hook) and reads PORT at module level; the
    // handler of GET /hello touches neither.
    assert!(
        hello.data_flow.stores.is_empty(),
        "{:?}",
        hello.data_flow.stores
    );
    assert!(of_kind(&hello.data_flow.inputs, "env").is_empty());
    assert!(hello.data_flow.externals.is_empty());
    assert_eq!(hello.key_files, s(&["server.js"]));
    assert_eq!(hello.lanes.api, s(&["server.js"]));
    assert!(hello.lanes.other.is_empty(), "{:?}", hello.lanes.other);
    assert!(!hello.purpose.contains("PostgreSQL"), "{}", hello.purpose);

    let users = cap(&doc, "Users API");
    assert_eq!(
        entry_names(users),
        vec![("route", "GET /users"), ("route", "GET /users/:id")]
    );
    assert_eq!(
        items(&users.data_flow.stores),
        vec![("pg", "PostgreSQL"), ("sql", "users")]
    );
    assert_eq!(
        of_kind(&users.data_flow.inputs, "env"),
        vec!["DATABASE_URL"]
    );
    assert_eq!(users.lanes.other, s(&["db.js"]));
    assert_eq!(users.orchestrators, s(&["server.js"]));
    assert!(has_edge(users, "server.js", "routes/users.js", "mount"));

    // Tests lane: each test is linked by the routes it calls, not by importing the app.
    assert_eq!(hello.lanes.tests, s(&["test/hello.test.js"]));
    assert_eq!(users.lanes.tests, s(&["test/users.test.js"]));
    let summary = sums
        .capabilities
        .iter()
        .find(|c| c.title == "Users API")
        .expect("summary");
    assert!(
        summary.purpose.ends_with("Exercised by 1 test file."),
        "{}",
        summary.purpose
    );
    assert!(duplicate_pairs(&doc).is_empty());
}

#[test]
fn routes_of_three_mounted_routers_give_three_capabilities() {
    for with_units in [true, false] {
        let (_, doc, _) = koa_routers_app(with_units).run();
        assert_eq!(
            names(&doc),
            vec!["Documents API", "Users API", "Auth API"],
            "with_units={with_units}"
        );
        let docs = cap(&doc, "Documents API");
        assert_eq!(
            entry_names(docs),
            vec![
                ("route", "POST /api/documents.info"),
                ("route", "POST /api/documents.list")
            ]
        );
        assert!(docs
            .entry_points
            .iter()
            .all(|e| e.file == "server/api/documents.js"));
        assert_eq!(
            items(&docs.data_flow.stores),
            vec![("sequelize", "Document")],
            "User is defined beside Document but not used here"
        );
        assert_eq!(of_kind(&docs.data_flow.inputs, "env"), vec!["DATABASE_URL"]);
        let users = cap(&doc, "Users API");
        assert_eq!(items(&users.data_flow.stores), vec![("sequelize", "User")]);
        let auth = cap(&doc, "Auth API");
        assert!(auth.data_flow.stores.is_empty());
        assert_eq!(
            of_kind(&auth.data_flow.inputs, "env"),
            vec!["OIDC_CLIENT_ID"]
        );
        assert_eq!(
            auth.lanes.api,
            s(&["server/api/auth.js", "server/api/index.js"])
        );
        assert_eq!(auth.orchestrators, s(&["server/api/index.js"]));
        let id = blake3::hash(b"api:server/api/auth.js:router").to_hex()[..16].to_string();
        assert_eq!(auth.id, id, "the id is the unit's");
    }
}

#[test]
fn capabilities_with_identical_content_are_merged() {
    // Two units in one file whose handlers reach the same things: nothing tells them apart,
    // so they are one capability (before, two with identical key files and steps).
    let mut app = express_hello_app();
    let rec = app
        .files
        .iter_mut()
        .find(|f| f.path == "routes/users.js")
        .expect("users");
    rec.routes[0].unit = Some("routes/users.js:listRouter".into());
    rec.routes[1].unit = Some("routes/users.js:itemRouter".into());
    let (_, doc, _) = app.run();
    assert_eq!(names(&doc), vec!["Users API", "Hello API"]);
    assert_eq!(cap(&doc, "Users API").entry_points.len(), 2);
    assert!(duplicate_pairs(&doc).is_empty());
    // The check itself: a copy of a capability is a duplicate of it.
    let mut twice = doc.clone();
    let mut copy = twice.capabilities[0].clone();
    copy.id = "0000000000000000".into();
    copy.name = "Copy".into();
    copy.entry_points.clear();
    twice.capabilities.push(copy);
    assert_eq!(duplicate_pairs(&twice), vec![(0, 2)]);
}

#[test]
fn celery_broker_is_infrastructure() {
    let (_, doc, sums) = fastapi_app().run();
    let tasks = cap(&doc, "App background tasks");
    assert_eq!(
        items(&tasks.data_flow.infrastructure),
        vec![("broker", "Redis")],
        "Celery(broker=os.getenv(..., \"redis://...\"))"
    );
    assert!(tasks.data_flow.stores.iter().all(|s| s.name != "Redis"));
    // The API enqueues through the same broker; it does not run the task's SMTP call.
    let users = cap(&doc, "Users API");
    assert_eq!(
        items(&users.data_flow.infrastructure),
        vec![("broker", "Redis")]
    );
    assert!(users.data_flow.externals.is_empty());
    let titles: Vec<&str> = tasks.steps.iter().map(|s| s.title.as_str()).collect();
    assert!(titles.contains(&"Use brokers and caches"), "{titles:?}");
    assert!(
        tasks.purpose.contains("infrastructure Redis (broker)"),
        "{}",
        tasks.purpose
    );
    let celery = file_summary(&sums, "app/celery_app.py");
    assert!(
        celery
            .purpose
            .contains("Uses infrastructure: Redis (broker via Celery)"),
        "{}",
        celery.purpose
    );
    let items_cap = cap(&doc, "Items API");
    assert!(items_cap.data_flow.infrastructure.is_empty());
}

#[test]
fn one_cli_appears_once() {
    let (_, doc, _) = argparse_app().run();
    // The pyproject script, the argparse parser, the `__main__` guard and `python -m greet`
    // are one program.
    assert_eq!(names(&doc), vec!["greet CLI"]);
    let cli = cap(&doc, "greet CLI");
    let kinds: Vec<(&str, &str)> = cli
        .entry_points
        .iter()
        .map(|e| (e.name.as_str(), e.file.as_str()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("cli", "greet/cli.py"),
            ("greet", "greet/__main__.py"),
            ("greet", "greet/cli.py"),
        ]
    );
    assert_eq!(
        of_kind(&cli.data_flow.inputs, "cliArg"),
        vec!["name", "--shout"]
    );
    assert_eq!(cli.lanes.tests, s(&["tests/test_cli.py"]));
    assert!(duplicate_pairs(&doc).is_empty());
}

#[test]
fn tests_lane_links_tests_to_what_they_import_and_never_makes_them_members() {
    let (_, doc, _) = express_app().run();
    let users = cap(&doc, "Users API");
    assert_eq!(users.lanes.tests, s(&["tests/users.test.ts"]));
    for c in &doc.capabilities {
        let l = &c.lanes;
        for lane in [&l.web, &l.api, &l.workers, &l.other] {
            assert!(lane.iter().all(|f| !f.starts_with("tests/")), "{}", c.name);
        }
        assert!(c.key_files.iter().all(|f| !f.starts_with("tests/")));
        if c.name != "Users API" {
            assert!(c.lanes.tests.is_empty(), "{}: {:?}", c.name, c.lanes.tests);
        }
    }
    let (_, click, _) = click_app().run();
    assert_eq!(
        cap(&click, "notes CLI").lanes.tests,
        s(&["tests/test_cli.py"])
    );
}

#[test]
fn capabilities_sharing_a_name_are_told_apart_by_their_shared_path() {
    let (_, doc, _) = django_drf_app().run();
    let mut got = names(&doc);
    got.sort();
    // Both units are labelled by their file ("Support"): the router's routes share `/api`,
    // the urlpatterns' share nothing, so the file names them.
    assert_eq!(
        got,
        vec!["Support API (/api)", "Support API (support/urls.py)"]
    );
    assert_eq!(
        entry_names(cap(&doc, "Support API (/api)")),
        vec![
            ("route", "ANY /api/"),
            ("route", "ANY /api/tickets/"),
            ("route", "ANY /api/tickets/<pk>/")
        ]
    );
    assert!(duplicate_pairs(&doc).is_empty());
}
