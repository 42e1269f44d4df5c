//! The API in process, for tests that only need an HTTP answer: the actix app of `provis
//! serve` (its route table [`provis::api::configure`], the request middleware and the shared
//! data) on an embedded context — SQLite, local artifacts and the in-process queue in a temp
//! dir — driven through `actix_web::test`, with no process, port or network.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{test, web, App};
use provis::api::{self, middleware, ops, Allowed, ApiState};
use provis::config::RawConfig;
use provis::error::{ApiError, ErrorCode};
use provis::tasks::context::{AppContext, Role};
use serde_json::Value;
use utoipa_actix_web::AppExt;

/// An embedded API context in a temp dir, answering requests in process.
pub struct TestApp {
    ctx: AppContext,
    _dir: tempfile::TempDir,
}

/// An answer: status, headers and body.
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: actix_web::http::header::HeaderMap,
    /// The body.
    pub body: actix_web::web::Bytes,
}

impl Answer {
    /// The body as JSON (panics, naming the body, when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "{}: not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

impl TestApp {
    /// The API role with the defaults, its data dir a fresh temp dir (nothing is read from
    /// the environment or a `provis.toml`).
    pub async fn embedded() -> TestApp {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut raw = RawConfig::defaults();
        raw.set_flag("data_dir", dir.path().join("data").display().to_string());
        let cfg = raw.build().expect("the default configuration builds");
        assert!(cfg.is_embedded(), "a TestApp runs embedded");
        let ctx = AppContext::build(cfg, Role::Api)
            .await
            .expect("build the embedded context");
        TestApp { ctx, _dir: dir }
    }

    /// Answers `req` with the app `serve` runs (the same data, middleware and routes).
    pub async fn call(&self, req: test::TestRequest) -> Answer {
        let doc = api::openapi();
        let json = doc.to_json().expect("the OpenAPI document renders");
        let guard = middleware::Guard {
            api_token: self.ctx.cfg().api_token.as_deref().map(Into::into),
            cors_origins: Arc::new(self.ctx.cfg().cors_origins.clone()),
        };
        let max_upload = self.ctx.cfg().max_upload_bytes as usize;
        let bad_request =
            |e: &dyn std::fmt::Display| ApiError::new(ErrorCode::BadRequest, e.to_string()).into();
        let app = test::init_service(
            App::new()
                .app_data(web::Data::new(ApiState {
                    ctx: self.ctx.clone(),
                    metrics: None,
                }))
                .app_data(web::Data::new(ops::OpenApiJson(Arc::new(json))))
                .app_data(web::Data::new(Allowed::of(&doc)))
                .app_data(web::PayloadConfig::new(max_upload.saturating_add(1 << 20)))
                .app_data(web::QueryConfig::default().error_handler(move |e, _| bad_request(&e)))
                .app_data(web::PathConfig::default().error_handler(move |e, _| bad_request(&e)))
                .wrap_fn(move |req, srv| middleware::handle(guard.clone(), req, srv))
                .into_utoipa_app()
                .configure(api::configure)
                .into_app(),
        )
        .await;
        let resp = test::call_service(&app, req.to_request()).await;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = test::read_body(resp).await;
        Answer {
            status,
            headers,
            body,
        }
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Answer {
        self.call(test::TestRequest::get().uri(path)).await
    }
}
