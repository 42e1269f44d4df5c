//! The actix-web HTTP layer: the route table, its OpenAPI document, and the servers.
//!
//! Handlers live in [`routes`], [`browse`], [`ops`] and [`sse`]; errors become the envelope of
//! [`crate::error`]; answers are the typed structs of [`model`]. Uploads go through the tasks'
//! intake (`tasks::intake`); reads go to the context's backends (database, status overlay,
//! artifacts). Some handlers still do their own querying and filtering.
//!
//! The route table ([`configure`]) registers handlers through utoipa-actix-web, which takes
//! only handlers that carry an OpenAPI description, so the document at `/openapi.json`
//! ([`openapi`]) lists every route the server answers.

pub mod browse;
#[cfg(test)]
mod docs_page;
pub mod middleware;
pub mod model;
pub mod ops;
pub mod page;
pub mod probe;
pub mod routes;
pub mod sse;
pub mod upload;

use crate::error::{ApiError, ErrorBody, ErrorCode};
use crate::tasks::context::AppContext;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{web, App, HttpResponse, HttpServer};
use metrics_exporter_prometheus::PrometheusHandle;
use std::net::TcpListener;
use std::sync::Arc;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::OpenApi as _;
use utoipa_actix_web::service_config::ServiceConfig;
use utoipa_actix_web::AppExt;

/// Shared state of the handlers.
pub struct ApiState {
    /// The process context.
    pub ctx: AppContext,
    /// Renders `/metrics`; `None` when another recorder owns the process.
    pub metrics: Option<PrometheusHandle>,
}

/// The single route table. Every service registered here must carry `#[utoipa::path]`.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(ops::health)
        .service(ops::metrics)
        .service(ops::openapi_json)
        .service(routes::ingest)
        .service(routes::status)
        .service(routes::events)
        .service(routes::list_artifacts)
        .service(routes::artifact)
        .service(browse::list_repos)
        .service(browse::list_snapshots)
        .service(page::index)
        .service(page::ui_asset)
        .default_service(web::to(not_found));
}

/// What the document says beyond the routes: title, the bearer token, the error envelope.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "provis",
        description = "Turns a zip of a source repository into a versioned map of the code \
            (parsed files, import graph, capabilities, summaries, metrics), served over REST \
            and Server-Sent Events.\n\nWhen the server has `PROVIS_API_TOKEN` set, every \
            route but `/health`, `/metrics` and `/openapi.json` needs \
            `Authorization: Bearer <token>`; without it, no route does. Every error is \
            `{\"error\":{\"code\",\"message\"}}`; a path no route has answers 404 \
            `not_found`, and a method a path does not have answers 405 \
            `method_not_allowed` with an `Allow` header. Every `GET` route answers `HEAD` \
            with the same status and headers and no body."
    ),
    components(schemas(ErrorBody, model::ArtifactKindParam)),
    modifiers(&BearerToken),
    tags(
        (name = "jobs", description = "Upload a repository and follow its job"),
        (name = "artifacts", description = "What a job produced"),
        (name = "repositories", description = "What has been uploaded: repositories and their snapshots"),
        (name = "web", description = "The web page (public: it holds no data)"),
        (name = "operations", description = "Health, metrics and this document"),
    )
)]
struct ApiDoc;

/// Declares the bearer token and requires it by default (public routes opt out).
struct BearerToken;

impl utoipa::Modify for BearerToken {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The server's PROVIS_API_TOKEN"))
                    .build(),
            ),
        );
        doc.security = Some(vec![utoipa::openapi::security::SecurityRequirement::new(
            "bearer",
            Vec::<String>::new(),
        )]);
    }
}

/// The OpenAPI 3.1 document of the route table.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let (_, doc) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(configure)
        .split_for_parts();
    doc
}

/// Methods the document lists for each path template, for `Allow` headers.
#[derive(Debug, Clone, Default)]
pub struct Allowed(Arc<std::collections::HashMap<String, String>>);

impl Allowed {
    /// The table of `doc` (what [`serve`] gives the app; public for in-process tests).
    pub fn of(doc: &utoipa::openapi::OpenApi) -> Self {
        let map = doc
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let methods: Vec<&str> = [
                    ("GET", item.get.is_some()),
                    // Every GET answers HEAD too (see the middleware).
                    ("HEAD", item.get.is_some() || item.head.is_some()),
                    ("POST", item.post.is_some()),
                    ("PUT", item.put.is_some()),
                    ("DELETE", item.delete.is_some()),
                    ("PATCH", item.patch.is_some()),
                    ("OPTIONS", item.options.is_some()),
                ]
                .into_iter()
                .filter_map(|(m, has)| has.then_some(m))
                .collect();
                (path.clone(), methods.join(", "))
            })
            .collect();
        Allowed(Arc::new(map))
    }
}

/// Answers what no route took: 405 (with `Allow`) when a route has this path but not this
/// method, else 404.
async fn not_found(req: actix_web::HttpRequest, allowed: web::Data<Allowed>) -> HttpResponse {
    match req.match_pattern() {
        Some(pattern) => {
            let err = ApiError::new(
                ErrorCode::MethodNotAllowed,
                format!("{pattern} does not answer {}", req.method()),
            );
            let mut resp = actix_web::ResponseError::error_response(&err);
            if let Some(methods) = allowed.0.get(&pattern) {
                if let Ok(v) = actix_web::http::header::HeaderValue::from_str(methods) {
                    resp.headers_mut().insert(actix_web::http::header::ALLOW, v);
                }
            }
            resp
        }
        None => actix_web::ResponseError::error_response(&ApiError::new(
            ErrorCode::NotFound,
            format!("no route for {} {}", req.method(), req.path()),
        )),
    }
}

/// A query string or path segment the handler's types cannot take: the error envelope
/// (actix would answer plain text).
fn bad_request(err: impl std::fmt::Display) -> actix_web::Error {
    ApiError::new(ErrorCode::BadRequest, err.to_string()).into()
}

/// What every worker thread's app shares, built once per server from the context: the
/// handlers' state, the rendered OpenAPI document, the methods of each path, the request guard.
#[derive(Clone)]
pub struct Shared {
    state: web::Data<ApiState>,
    doc: web::Data<ops::OpenApiJson>,
    allowed: web::Data<Allowed>,
    guard: middleware::Guard,
    max_upload: usize,
}

impl Shared {
    /// The shared parts for `ctx`; `metrics` renders `/metrics` (`None`: another recorder owns
    /// the process, as in tests).
    pub fn new(ctx: AppContext, metrics: Option<PrometheusHandle>) -> std::io::Result<Shared> {
        let doc = openapi();
        let allowed = web::Data::new(Allowed::of(&doc));
        let json = doc.to_json().map_err(|e| {
            std::io::Error::other(format!("cannot render the OpenAPI document: {e}"))
        })?;
        let guard = middleware::Guard {
            api_token: ctx.cfg().api_token.as_deref().map(Into::into),
            cors_origins: Arc::new(ctx.cfg().cors_origins.clone()),
        };
        let max_upload = ctx.cfg().max_upload_bytes as usize;
        Ok(Shared {
            state: web::Data::new(ApiState { ctx, metrics }),
            doc: web::Data::new(ops::OpenApiJson(Arc::new(json))),
            allowed,
            guard,
            max_upload,
        })
    }
}

/// The app: shared data, extractor limits and error answers, the request middleware and the
/// route table. `serve` runs one per worker thread; the in-process API tests run the same.
pub fn app(
    shared: Shared,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let guard = shared.guard.clone();
    App::new()
        .app_data(shared.state)
        .app_data(shared.doc)
        .app_data(shared.allowed)
        .app_data(web::PayloadConfig::new(
            shared.max_upload.saturating_add(1 << 20),
        ))
        .app_data(web::QueryConfig::default().error_handler(|e, _| bad_request(e)))
        .app_data(web::PathConfig::default().error_handler(|e, _| bad_request(e)))
        .wrap_fn(move |req, srv| middleware::handle(guard.clone(), req, srv))
        .into_utoipa_app()
        .configure(configure)
        .into_app()
}

/// Runs the HTTP server on `listener` until the returned future is dropped or a signal
/// stops actix (it handles SIGINT/SIGTERM gracefully).
pub async fn serve(ctx: AppContext, listener: TcpListener) -> std::io::Result<()> {
    let shared = Shared::new(ctx, crate::telemetry::metrics::install())?;
    tracing::info!(addr = %listener.local_addr()?, "provis API listening");
    HttpServer::new(move || app(shared.clone()))
        .listen(listener)?
        .shutdown_timeout(10)
        .run()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every route attribute in `src/api` (and every manual `.route(…)`/`web::resource(…)`)
    /// is in the OpenAPI document, with its method: a route added without a description
    /// fails here, whichever way it was registered.
    #[test]
    fn every_route_in_the_source_is_documented() {
        let doc = openapi();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/api");
        let mut seen = 0;
        for entry in std::fs::read_dir(&dir).expect("src/api") {
            let path = entry.expect("entry").path();
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("read");
            for (method, route) in routes_in(&text) {
                seen += 1;
                let item = doc.paths.paths.get(&route).unwrap_or_else(|| {
                    panic!(
                        "{} registers {route} but /openapi.json lacks it",
                        path.display()
                    )
                });
                let has = match method.as_str() {
                    "get" => item.get.is_some(),
                    "post" => item.post.is_some(),
                    "put" => item.put.is_some(),
                    "delete" => item.delete.is_some(),
                    "patch" => item.patch.is_some(),
                    "head" => item.head.is_some(),
                    _ => false,
                };
                assert!(has, "{method} {route} is not in /openapi.json");
            }
        }
        assert!(seen >= 8, "found only {seen} routes in src/api");
    }

    /// (method, path) of `#[get("…")]`-style attributes, `.route("…", web::get()…)` and
    /// `web::resource("…")` (method `any`, which must not appear undocumented either).
    fn routes_in(text: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for line in text.lines().map(str::trim) {
            if line.starts_with("//") {
                continue;
            }
            for m in ["get", "post", "put", "delete", "patch", "head"] {
                if let Some(rest) = line.strip_prefix(&format!("#[{m}(\"")) {
                    if let Some(end) = rest.find('"') {
                        out.push((m.to_string(), rest[..end].to_string()));
                    }
                }
            }
            for marker in [".route(\"", "web::resource(\""] {
                if let Some(i) = line.find(marker) {
                    let rest = &line[i + marker.len()..];
                    if let Some(end) = rest.find('"') {
                        let method = ["get", "post", "put", "delete", "patch", "head"]
                            .into_iter()
                            .find(|m| line.contains(&format!("web::{m}()")))
                            .unwrap_or("any");
                        out.push((method.to_string(), rest[..end].to_string()));
                    }
                }
            }
        }
        out
    }

    #[test]
    fn the_document_is_openapi_3_1_with_the_error_envelope() {
        let doc = openapi();
        let json: serde_json::Value =
            serde_json::from_str(&doc.to_json().expect("json")).expect("parses");
        assert!(
            json["openapi"]
                .as_str()
                .is_some_and(|v| v.starts_with("3.1")),
            "{}",
            json["openapi"]
        );
        assert!(json["components"]["schemas"]["ErrorBody"].is_object());
        assert_eq!(
            json["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
        // Public routes opt out of the token.
        assert_eq!(
            json["paths"]["/health"]["get"]["security"],
            serde_json::json!([{}])
        );
    }
}
