//! Route composition: routes of fixture apps through their mounts across files, as `merge`
//! composes them (Express, Koa, Fastify, NestJS, Next.js).

use super::*;

/// Parses a fixture app under `tests/fixtures/js/routes/<case>` and resolves it the way the
/// `merge` stage does, which composes the routes through their mounts.
fn compose_app(case: &str) -> Vec<FileRecord> {
    let base = fixtures().join("routes").join(case);
    let mut paths = Vec::new();
    walk(&base, &base, &mut paths);
    paths.sort();
    let mut configs = std::collections::BTreeMap::new();
    let mut records = Vec::new();
    for p in &paths {
        let bytes = std::fs::read(base.join(p)).expect("fixture file");
        if provis::pipeline::is_resolver_config(p) {
            configs.insert(p.clone(), String::from_utf8_lossy(&bytes).into_owned());
        }
        records.push(provis::pipeline::parse_file(p, &bytes));
    }
    provis::pipeline::resolve_imports(&mut records, &configs);
    records
}

/// Every route of an app as `METHOD path  file:line  unit  [mount, …]` (`dyn` when a prefix
/// on the way is not a literal), in file order.
fn route_table(records: &[FileRecord]) -> Vec<String> {
    records
        .iter()
        .flat_map(|r| {
            r.routes.iter().map(move |x| {
                format!(
                    "{} {}  {}:{}  {}  [{}]{}",
                    x.method,
                    x.path,
                    r.path,
                    x.line,
                    x.unit.as_deref().unwrap_or("-"),
                    x.mounts.join(", "),
                    if x.dynamic_prefix { " dyn" } else { "" }
                )
            })
        })
        .collect()
}

fn roles(records: &[FileRecord]) -> Vec<(&str, provis::pipeline::model::FileRole)> {
    records.iter().map(|r| (r.path.as_str(), r.role)).collect()
}

#[test]
fn express_mounts_across_files() {
    let records = compose_app("express");
    let table = route_table(&records);
    assert_eq!(
        table,
        vec![
            // `app.use(config.adminBase, require('./admin'))`: the prefix is not a literal.
            "DELETE /cache  admin.js:4  admin.js:admin  [server.js:10] dyn",
            // `app.use('/v2', createRouter())`: the router the function returns.
            "GET /v2/ping  factory.js:5  factory.js:r  [server.js:11]",
            // `require('./health')(app)`: the function's routes are the app's.
            "GET /health  health.js:2  health.js:default  [server.js:12]",
            // `router.use(['/articles', '/posts'], articles)`: one route per prefix.
            // `const legacy = makeLegacy(); router.use('/legacy', legacy)`: the function's
            // routes, on an app it builds with a helper provis does not know.
            "GET /api/legacy/old  legacy.js:5  legacy.js:makeLegacy  [server.js:9, routes/index.ts:15]",
            "POST /api/articles  routes/articles.ts:5  routes/articles.ts:articlesRouter  [server.js:9, routes/index.ts:11]",
            "POST /api/posts  routes/articles.ts:5  routes/articles.ts:articlesRouter  [server.js:9, routes/index.ts:11]",
            "GET /api/status  routes/index.ts:12  routes/index.ts:router  [server.js:9]",
            // `settings.keys()` returns `keys.app()`, which returns the router: two hops.
            "GET /api/keys  routes/keys.js:6  routes/keys.js:app  [server.js:9, routes/index.ts:16, routes/settings.js:5]",
            // A route on `route` (a name HTTP clients also have) stands because `tags(router)`
            // mounts it; the seed script's `api.put('/api/users/1', h)` is mounted nowhere.
            "GET /api/tags  routes/tags.js:4  routes/tags.js:default  [server.js:9, routes/index.ts:17]",
            "GET /api/users  routes/users.js:6  routes/users.js:router  [server.js:9, routes/index.ts:10]",
            "GET /api/users/:id  routes/users.js:7  routes/users.js:router  [server.js:9, routes/index.ts:10]",
            "PUT /api/users/:id/avatar  routes/users.js:8  routes/users.js:router  [server.js:9, routes/index.ts:10]",
            "GET /  server.js:13  server.js:app  []",
        ]
    );
    // The test's own mount (`app.use('/mounted-in-a-test', users)`) and its routes are not the
    // application's; the seed script's client calls (a body, a query string) are not routes.
    let test = records
        .iter()
        .find(|r| r.path == "test/users.test.js")
        .expect("test file");
    assert_eq!(test.role, provis::pipeline::model::FileRole::Test);
    assert!(test.routes.is_empty());
    assert!(roles(&records)
        .iter()
        .filter(|(p, _)| !p.starts_with("test/"))
        .all(|(_, role)| *role == provis::pipeline::model::FileRole::App));
}

#[test]
fn koa_mounts_and_paths_without_a_leading_slash() {
    let records = compose_app("koa");
    let table = route_table(&records);
    assert_eq!(
        table,
        vec![
            // `router.post("documents.list")` under `router.use('/', …)` under `mount('/api', …)`.
            "POST /api/documents.list  api/documents.ts:6  api/documents.ts:router  [app.ts:14, api/index.ts:12, api/index.ts:9]",
            "POST /api/documents.info  api/documents.ts:9  api/documents.ts:router  [app.ts:14, api/index.ts:12, api/index.ts:9]",
            // `new Router({ prefix: '/users' })` under `router.use('/v2', users.routes())`.
            "GET /api/v2/users  api/users.ts:5  api/users.ts:router  [app.ts:14, api/index.ts:12, api/index.ts:10]",
            "GET /api/v2/users/:id  api/users.ts:6  api/users.ts:router  [app.ts:14, api/index.ts:12, api/index.ts:10]",
            "GET /  app.ts:10  app.ts:router  [app.ts:16]",
            "POST /oauth/token  oauth.ts:7  oauth.ts:router  [app.ts:15, oauth.ts:12]",
            "GET /oauth/authorize  oauth.ts:10  oauth.ts:router  [app.ts:15, oauth.ts:12]",
        ]
    );
    // `server.post("/api/documents.list", { body })` in a test is a request, not a route.
    let test = records
        .iter()
        .find(|r| r.path == "test/documents.test.ts")
        .expect("test");
    assert_eq!(test.role, provis::pipeline::model::FileRole::Test);
    assert!(test.routes.is_empty());
}

#[test]
fn fastify_register_prefixes() {
    let records = compose_app("fastify");
    let table = route_table(&records);
    assert_eq!(
        table,
        vec![
            // `i.route(getArtifact)`: config objects of other modules, through a barrel, under
            // `/${apiVersion}` where `const { apiVersion = 'v8' } = options` — the default, kept
            // but flagged, as a caller may pass its own.
            "GET /v8/artifacts/:id  cache/index.js:9  cache/index.js:register@7  [server.ts:43, cache/index.js:7] dyn",
            "PUT /v8/artifacts/:id  cache/index.js:10  cache/index.js:register@7  [server.ts:43, cache/index.js:7] dyn",
            "POST /v8/artifacts/:id  cache/index.js:10  cache/index.js:register@7  [server.ts:43, cache/index.js:7] dyn",
            // Through a namespace import; `i.route(provider)` names no config object.
            "GET /v8/artifacts/status  cache/index.js:16  cache/index.js:register@14  [server.ts:43, cache/index.js:14] dyn",
            "DELETE /v1/items/:id  routes.ts:6  routes.ts:routes  [server.ts:7]",
            // A plugin registered by a plugin: both prefixes.
            "GET /v1/admin/users  routes/admin.ts:4  routes/admin.ts:default  [server.ts:7, routes.ts:7]",
            // `register(import('./routes/public'))`: no prefix.
            "GET /about  routes/public.js:2  routes/public.js:default  [server.ts:14]",
            "GET /ping  server.ts:6  server.ts:app  []",
            // An inline plugin is its own unit.
            "GET /internal/status  server.ts:10  server.ts:register@8  [server.ts:8]",
            // `get(path, { handler })`: the handler in the options.
            "GET /favicon.ico  server.ts:16  server.ts:app  []",
            // The instance an inline plugin is handed, whatever its name.
            "POST /v8/clean  server.ts:20  server.ts:register@18  [server.ts:18]",
            "DELETE /v8/cache  server.ts:21  server.ts:register@18  [server.ts:18]",
            // `LIST.forEach((p) => app.get(p, …))`: one route per path of the list.
            "GET /  server.ts:33  server.ts:app  []",
            "GET /cron  server.ts:33  server.ts:app  []",
            "GET /robots.txt  server.ts:36  server.ts:app  []",
            // `app.route(health)`: a config object of the same file.
            "GET /health  server.ts:41  server.ts:app  []",
            "GET /api/meta/version  server.ts:46  server.ts:register@46  [server.ts:46]",
        ]
    );
}

/// A plugin file that imports no server framework serves under the framework of the file
/// that mounts it.
#[test]
fn fastify_plugins_take_the_framework_of_their_mount() {
    let records = compose_app("fastify");
    let frameworks: std::collections::BTreeSet<(&str, &str)> = records
        .iter()
        .flat_map(|r| {
            r.routes
                .iter()
                .map(move |x| (r.path.as_str(), x.framework.as_str()))
        })
        .collect();
    assert_eq!(
        frameworks.into_iter().collect::<Vec<_>>(),
        [
            ("cache/index.js", "fastify"),
            ("routes.ts", "fastify"),
            ("routes/admin.ts", "fastify"),
            ("routes/public.js", "fastify"),
            ("server.ts", "fastify"),
        ]
    );
}

/// A route declared by naming a config object takes the object's handler, or the object's
/// name when the handler is written inline.
#[test]
fn fastify_route_objects_name_their_handlers() {
    let records = compose_app("fastify");
    let handlers: Vec<(&str, &str)> = records
        .iter()
        .flat_map(|r| &r.routes)
        .filter(|x| x.path.starts_with("/v8/artifacts") || x.path == "/health")
        .map(|x| (x.method.as_str(), x.handler.as_str()))
        .collect();
    assert_eq!(
        handlers,
        [
            ("GET", "getArtifact"),
            ("PUT", "putHandler"),
            ("POST", "putHandler"),
            ("GET", "getStatus"),
            ("GET", "health"),
        ]
    );
}

#[test]
fn nest_global_prefix_router_module_and_versions() {
    let records = compose_app("nest");
    let table = route_table(&records);
    assert_eq!(
        table,
        vec![
            // RouterModule `admin` → AdminModule → StatsController, default version 1, `api`.
            "GET /api/v1/admin/stats  src/admin/stats.controller.ts:5  src/admin/stats.controller.ts:StatsController  [src/app.module.ts:7, src/admin/admin.module.ts:4]",
            // VERSION_NEUTRAL and excluded from the global prefix.
            "GET /health  src/health.controller.ts:5  src/health.controller.ts:HealthController  []",
            "GET /api/v1/users  src/users/users.controller.ts:5  src/users/users.controller.ts:UsersController  []",
            // `@Version('2')` and `@Version(['1', '2'])`.
            "GET /api/v2/users/:id  src/users/users.controller.ts:11  src/users/users.controller.ts:UsersController  []",
            "POST /api/v1/users  src/users/users.controller.ts:16  src/users/users.controller.ts:UsersController  []",
            "POST /api/v2/users  src/users/users.controller.ts:16  src/users/users.controller.ts:UsersController  []",
        ]
    );
    let e2e = records
        .iter()
        .find(|r| r.path == "test/app.e2e-spec.ts")
        .expect("e2e");
    assert_eq!(e2e.role, provis::pipeline::model::FileRole::Test);
}

#[test]
fn next_routers_under_base_path() {
    let records = compose_app("next");
    let table = route_table(&records);
    assert_eq!(
        table,
        vec![
            "PAGE /shop/cart  app/(shop)/cart/page.tsx:1  app:cart  []",
            "GET /shop/api/users/[id]  app/api/users/[id]/route.ts:1  app:api/users  []",
            "DELETE /shop/api/users/[id]  app/api/users/[id]/route.ts:5  app:api/users  []",
            "PAGE /shop  app/page.tsx:1  app:index  []",
            "ANY /shop/api/hello  pages/api/hello.ts:1  pages:api/hello  []",
        ]
    );
}

/// Prefixes that name a constant exported by another file: a `const` and a TS enum member
/// (Express mounts), and Nest's global prefix.
#[test]
fn prefixes_named_by_constants_of_other_files() {
    assert_eq!(
        route_table(&compose_app("xconst")),
        vec![
            "GET /api/users  src/users.ts:4  src/users.ts:router  [src/server.ts:7]",
            "GET /web/home  src/web.ts:4  src/web.ts:router  [src/server.ts:8]",
        ]
    );
    assert_eq!(
        route_table(&compose_app("nestconst")),
        vec![
            "GET /api/users  src/users.controller.ts:5  src/users.controller.ts:UsersController  []"
        ]
    );
}
