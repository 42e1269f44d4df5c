//! Routes of Python frameworks: FastAPI, Flask, Django (include at any depth) and DRF routers, composed across files as merge does.

use super::*;

#[test]
fn fastapi_routes_with_router_prefix() {
    let records = compose("fastapi_app");
    let main = record(&records, "app/main.py");
    assert_eq!(
        routes_of(&main.routes),
        vec![
            route("GET", "/health", "health", "fastapi"),
            route("WEBSOCKET", "/ws", "ws", "fastapi"),
            route("GET", "/legacy", "legacy", "fastapi"),
            route("POST", "/legacy", "legacy", "fastapi"),
        ]
    );
    assert_eq!(main.routes[0].line, 10);
    assert_eq!(main.hints.framework.as_deref(), Some("fastapi"));
    assert!(main.hints.is_route && main.hints.is_api);
    let health = main.functions.iter().find(|f| f.name == "health").unwrap();
    assert!(health.is_async);
    assert_eq!(health.decorators, vec![r#"app.get("/health")"#]);
    let items = record(&records, "app/routers/items.py");
    assert_eq!(
        routes_of(&items.routes),
        vec![
            route("GET", "/items/", "list_items", "fastapi"),
            route("GET", "/items/{item_id}", "get_item", "fastapi"),
            route("POST", "/items/", "create_item", "fastapi"),
            route("DELETE", "/items/{item_id}", "delete_item", "fastapi"),
        ]
    );
    let list = items
        .functions
        .iter()
        .find(|f| f.name == "list_items")
        .unwrap();
    assert_eq!(list.params, vec!["q", "db"]);
    let users = record(&records, "app/routers/users.py");
    assert_eq!(
        routes_of(&users.routes),
        vec![
            // `app.include_router(users.router, prefix="/api")` in another file.
            route("GET", "/api/users/me", "me", "fastapi"),
            route("PUT", "/api/users/{user_id}", "update_user", "fastapi"),
        ]
    );
    assert_eq!(
        edges("fastapi_app"),
        vec![
            "app/main.py:1 -> fastapi (external)",
            "app/main.py:3 -> app/routers/items.py",
            "app/main.py:3 -> app/routers/users.py",
            "app/routers/items.py:1 -> typing (external)",
            "app/routers/items.py:3 -> fastapi (external)",
            "app/routers/items.py:5 -> app/deps.py",
            "app/routers/users.py:1 -> fastapi (external)",
        ]
    );
}

#[test]
fn flask_routes_one_per_method_and_blueprint_prefix() {
    let records = compose("flask_app");
    let init = record(&records, "shop/__init__.py");
    assert_eq!(
        routes_of(&init.routes),
        vec![
            route("GET", "/", "create_app.index", "flask"),
            route("GET", "/login", "create_app.login", "flask"),
            route("POST", "/login", "create_app.login", "flask"),
            route("GET", "/ping", "ping", "flask"),
        ]
    );
    assert_eq!(init.hints.framework.as_deref(), Some("flask"));
    let views = record(&records, "shop/views.py");
    assert_eq!(
        routes_of(&views.routes),
        vec![
            route("GET", "/orders/", "list_orders", "flask"),
            route("POST", "/orders/", "create_order", "flask"),
            route("PUT", "/orders/<int:order_id>", "change_order", "flask"),
            route("DELETE", "/orders/<int:order_id>", "change_order", "flask"),
        ]
    );
}

#[test]
fn django_urlpatterns_and_include_composition() {
    let records = load("django_site");
    let urls = record(&records, "mysite/urls.py");
    assert_eq!(
        routes_of(&urls.routes),
        vec![
            // `admin.site.urls` and `include()` are mounts, never routes.
            route("ANY", "", "views.home", "django"),
            route("ANY", "api/status/", "views.status", "django"),
            route("ANY", "manage/login/", "views.login", "django"),
            route("ANY", "legacy/", "views.legacy", "django"),
        ]
    );
    let polls = record(&records, "polls/urls.py");
    assert_eq!(polls.routes[0].handler, "views.IndexView");
    assert_eq!(
        record(&records, "mysite/settings.py").symbols["djangoRootUrlconf"],
        vec!["mysite.urls"]
    );
    assert_eq!(
        record(&records, "manage.py").symbols["entrypoints"],
        vec!["__main__"]
    );
    let table = route_table(&compose("django_site"));
    assert_eq!(
        table,
        vec![
            // include() → include() two levels down; the unit is the urlconf's app_name.
            "ANY /accounts/profile/<int:pk>/  accounts/api/urls.py:7  accounts/api/urls.py:accounts-api  [mysite/urls.py:19, accounts/urls.py:4]",
            "ANY /accounts/sessions/  accounts/api/urls.py:8  accounts/api/urls.py:accounts-api  [mysite/urls.py:19, accounts/urls.py:4]",
            // A namespaced include inside an inline include list; regex anchors dropped.
            "ANY /api/v1/things/(?P<pk>[0-9]+)/  api/urls.py:6  api/urls.py:api  [mysite/urls.py:16]",
            // Pattern lists in other variables: `[…] + feed_patterns`, `include(detail_patterns)`.
            "ANY /blog/feed/  blog/urls.py:6  blog/urls.py:feed_patterns  [mysite/urls.py:20, blog/urls.py:16]",
            "ANY /blog/<slug:slug>/more/comments/  blog/urls.py:10  blog/urls.py:detail_patterns  [mysite/urls.py:20, blog/urls.py:15]",
            // include(module object).
            "ANY /blog/<slug:slug>/  blog/urls.py:14  blog/urls.py:blog  [mysite/urls.py:20]",
            "ANY /  mysite/urls.py:12  mysite/urls.py:mysite  []",
            "ANY /api/status/  mysite/urls.py:17  mysite/urls.py:mysite  []",
            // f"{MANAGE}login/" with a module constant.
            "ANY /manage/login/  mysite/urls.py:21  mysite/urls.py:mysite  []",
            // rf"^{settings.URL_PREFIX}legacy/$": the prefix is not known.
            "ANY /legacy/  mysite/urls.py:22  mysite/urls.py:mysite  [] dyn",
            "ANY /polls/  polls/urls.py:7  polls/urls.py:polls  [mysite/urls.py:14]",
            "ANY /polls/<int:pk>/  polls/urls.py:8  polls/urls.py:polls  [mysite/urls.py:14]",
            "ANY /polls/<int:question_id>/vote/  polls/urls.py:9  polls/urls.py:polls  [mysite/urls.py:14]",
        ]
    );
    // Django's tests.py is a test: its urlpatterns are not the site's.
    let tests = compose("django_site");
    assert_eq!(record(&tests, "blog/tests.py").role, FileRole::Test);
}

/// Django REST framework routers (issue 8): each registered viewset gives the routes DRF
/// generates from its actions (own, from DRF's viewsets and mixins, from project bases),
/// `@action` routes, `trailing_slash=False`, and a `DefaultRouter`'s root and `.<format>`
/// suffixes; `include(router.urls)` mounts the router.
#[test]
fn drf_routers_expand_registered_viewsets() {
    let table = route_table(&compose("drf_api"));
    let mount = "[shop/urls.py:19]";
    let v0 = "[shop/urls.py:20]";
    let expect: Vec<String> = [
        ("/api/", 9, mount),
        ("/api/.<format>", 9, mount),
        ("/api/products.<format>", 10, mount),
        ("/api/products/", 10, mount),
        ("/api/products/recent.<format>", 10, mount),
        ("/api/products/recent/", 10, mount),
        ("/api/products/<pk>.<format>", 10, mount),
        ("/api/products/<pk>/", 10, mount),
        ("/api/products/<pk>/set-price.<format>", 10, mount),
        ("/api/products/<pk>/set-price/", 10, mount),
        ("/api/things.<format>", 11, mount),
        ("/api/things/", 11, mount),
        ("/api/things/<pk>.<format>", 11, mount),
        ("/api/things/<pk>/", 11, mount),
        // CreateModelMixin only: the list route, no detail route.
        ("/api/signup.<format>", 12, mount),
        ("/api/signup/", 12, mount),
        // `list` and `@action history` from the project's base class, `retrieve` its own.
        ("/api/orders.<format>", 13, mount),
        ("/api/orders/", 13, mount),
        ("/api/orders/<pk>.<format>", 13, mount),
        ("/api/orders/<pk>/", 13, mount),
        ("/api/orders/<pk>/history.<format>", 13, mount),
        ("/api/orders/<pk>/history/", 13, mount),
        // SimpleRouter(trailing_slash=False): no suffixes, no slash, anchors dropped.
        ("/v0/legacy", 16, v0),
        // A view that is a function named `urls` is a route; `admin.site.urls` (a library's
        // pattern list) is a mount, never a route.
        ("/hooks/", 21, "[]"),
    ]
    .iter()
    .map(|(path, line, mounts)| {
        let unit = match *line {
            16 => "plain",
            21 => "shop",
            _ => "router",
        };
        format!("ANY {path}  shop/urls.py:{line}  shop/urls.py:{unit}  {mounts}")
    })
    .collect();
    assert_eq!(table, expect);
}

#[test]
fn django_include_cycles_opaque_includes_and_unreachable_urlconfs() {
    let files: [(&str, &[u8]); 6] = [
        ("a/__init__.py", b""),
        ("b/__init__.py", b""),
        ("c/__init__.py", b""),
        (
            "a/urls.py",
            b"urlpatterns = [path('b/', include('b.urls')), path('x/', include(router.urls)), path('', view_a)]\n",
        ),
        ("b/urls.py", b"urlpatterns = [path('a/', include('a.urls')), path('y/', view_b)]\n"),
        ("c/urls.py", b"urlpatterns = [path('z/', view_c)]\n"),
    ];
    let mut records: Vec<FileRecord> = files.iter().map(|(p, b)| parse_py(p, b)).collect();
    provis::pipeline::resolve_imports(&mut records, &Default::default());
    let table = route_table(&records);
    assert_eq!(
        table,
        vec![
            // a and b include each other: each is composed under the other, once.
            "ANY /a/  a/urls.py:1  a/urls.py:a  [b/urls.py:1]",
            "ANY /b/y/  b/urls.py:1  b/urls.py:b  [a/urls.py:1]",
            // c is included by nobody: its routes keep their own paths.
            "ANY /z/  c/urls.py:1  c/urls.py:c  []",
        ]
    );
}

#[test]
fn fastapi_nested_routers_across_files() {
    let records = compose("fastapi_nested");
    let table = route_table(&records);
    assert_eq!(
        table,
        vec![
            // `app.mount("/admin", admin.app)`: a sub-application.
            "GET /admin/stats  app/admin.py:6  app/admin.py:app  [app/main.py:10]",
            // Included twice: once under "/api/v1", once under a prefix from settings.
            "GET /api/v1/items/  app/api/endpoints/items.py:6  app/api/endpoints/items.py:router  [app/main.py:8, app/api/api.py:7]",
            "GET /items/  app/api/endpoints/items.py:6  app/api/endpoints/items.py:router  [app/main.py:9, app/api/api.py:7] dyn",
            "GET /api/v1/items/{item_id}  app/api/endpoints/items.py:11  app/api/endpoints/items.py:router  [app/main.py:8, app/api/api.py:7]",
            "GET /items/{item_id}  app/api/endpoints/items.py:11  app/api/endpoints/items.py:router  [app/main.py:9, app/api/api.py:7] dyn",
            // `APIRouter(prefix="/users")` imported `as users_module`; `@router.post("")`.
            "POST /api/v1/users  app/api/endpoints/users.py:6  app/api/endpoints/users.py:router  [app/main.py:8, app/api/api.py:8]",
            "POST /users  app/api/endpoints/users.py:6  app/api/endpoints/users.py:router  [app/main.py:9, app/api/api.py:8] dyn",
            "GET /api/v1/users/me  app/api/endpoints/users.py:11  app/api/endpoints/users.py:router  [app/main.py:8, app/api/api.py:8]",
            "GET /users/me  app/api/endpoints/users.py:11  app/api/endpoints/users.py:router  [app/main.py:9, app/api/api.py:8] dyn",
            "GET /health  app/main.py:13  app/main.py:app  []",
        ]
    );
    // The test module's app and its client calls are not routes.
    let test = record(&records, "tests/test_items.py");
    assert_eq!(test.role, FileRole::Test);
    assert!(test.routes.is_empty());
}

#[test]
fn flask_blueprints_nested_and_registered_with_prefixes() {
    let records = compose("flask_nested");
    let table = route_table(&records);
    assert_eq!(
        table,
        vec![
            // Flask-RESTful resources on an Api wrapping the blueprint: one route per URL and
            // per HTTP method the resource class implements (another file).
            "GET /api/v2/projects/<project_id>  shop/api/__init__.py:11  shop/api/__init__.py:restful  [shop/__init__.py:11, shop/api/__init__.py:10]",
            "DELETE /api/v2/projects/<project_id>  shop/api/__init__.py:11  shop/api/__init__.py:restful  [shop/__init__.py:11, shop/api/__init__.py:10]",
            "GET /api/v2/p/<project_id>  shop/api/__init__.py:11  shop/api/__init__.py:restful  [shop/__init__.py:11, shop/api/__init__.py:10]",
            "DELETE /api/v2/p/<project_id>  shop/api/__init__.py:11  shop/api/__init__.py:restful  [shop/__init__.py:11, shop/api/__init__.py:10]",
            // `view_func=PingView.as_view("ping")`: the MethodView's methods.
            "GET /api/v2/ping  shop/api/__init__.py:12  shop/api/__init__.py:api  [shop/__init__.py:11]",
            // A nested blueprint under a parent registered with url_prefix="/api/v2", which
            // replaces the parent's own "/api".
            "GET /api/v2/orders/  shop/api/orders.py:6  shop/api/orders.py:orders_bp  [shop/__init__.py:11, shop/api/__init__.py:8]",
            "PUT /api/v2/orders/<int:order_id>  shop/api/orders.py:11  shop/api/orders.py:orders_bp  [shop/__init__.py:11, shop/api/__init__.py:8]",
            "DELETE /api/v2/orders/<int:order_id>  shop/api/orders.py:11  shop/api/orders.py:orders_bp  [shop/__init__.py:11, shop/api/__init__.py:8]",
            "GET /auth/login  shop/auth/views.py:6  shop/auth/views.py:auth  [shop/__init__.py:14]",
            "POST /auth/login  shop/auth/views.py:6  shop/auth/views.py:auth  [shop/__init__.py:14]",
            // Views declared on a blueprint imported from its package: the unit is the package's.
            "GET /  shop/main/views.py:4  shop/main/__init__.py:main  [shop/__init__.py:8]",
            "GET /about  shop/main/views.py:9  shop/main/__init__.py:main  [shop/__init__.py:8]",
        ]
    );
}
