//! The API in process, for tests that only need an HTTP answer: the actix app `provis serve`
//! runs ([`provis::api::app`]: its route table, the request middleware and the shared data) on
//! an embedded context — SQLite, local artifacts and the in-process queue in a temp
//! dir — driven through `actix_web::test`, with no process, port or network.

use actix_web::http::StatusCode;
use actix_web::test;
use provis::api;
use provis::config::RawConfig;
use provis::tasks::context::{AppContext, Role};
use serde_json::Value;

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
        let shared = api::Shared::new(self.ctx.clone(), None).expect("the app's shared parts");
        let app = test::init_service(api::app(shared)).await;
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
