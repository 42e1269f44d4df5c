//! API answers that need no process: the app of `provis serve` in process ([`TestApp`], an
//! embedded context in a temp dir), so these run in milliseconds.

use actix_web::http::{header, StatusCode};
use actix_web::test::TestRequest;
use serde_json::json;

use crate::common::TestApp;

#[actix_web::test]
async fn health_names_each_embedded_backend() {
    let app = TestApp::embedded().await;
    let a = app.get("/health").await;
    assert_eq!(a.status, StatusCode::OK);
    let body = a.json();
    assert_eq!(body["status"], "ok", "{body}");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    for c in ["database", "redis", "storage"] {
        assert_eq!(body["checks"][c]["status"], "ok", "{c}: {body}");
    }
    assert_eq!(body["checks"]["database"]["backend"], "sqlite", "{body}");
    assert!(
        body["checks"]["redis"]["backend"]
            .as_str()
            .is_some_and(|b| b.contains("in-process")),
        "{body}"
    );
    assert_eq!(body["checks"]["storage"]["backend"], "local", "{body}");
    assert_eq!(body["failing"], json!([]), "{body}");
}

#[actix_web::test]
async fn unknown_job_is_404_job_not_found() {
    let app = TestApp::embedded().await;
    let job = uuid::Uuid::new_v4();
    for path in [format!("/status/{job}"), format!("/jobs/{job}/events")] {
        let a = app.get(&path).await;
        assert_eq!(a.status, StatusCode::NOT_FOUND, "{path}");
        let body = a.json();
        assert_eq!(body["error"]["code"], "job_not_found", "{path}: {body}");
        assert!(body["error"]["message"].is_string(), "{path}: {body}");
    }
}

/// A job id that is not even a UUID names no job either: the same 404, not a 400.
#[actix_web::test]
async fn a_job_id_that_is_no_uuid_is_404_job_not_found() {
    let app = TestApp::embedded().await;
    let a = app.get("/status/not-a-uuid").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.json()["error"]["code"], "job_not_found", "{}", a.json());
}

#[actix_web::test]
async fn unknown_route_is_404_and_wrong_method_405_in_the_envelope() {
    let app = TestApp::embedded().await;
    let a = app.get("/no/such/route").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    let body = a.json();
    assert_eq!(body["error"]["code"], "not_found", "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");

    let a = app.call(TestRequest::delete().uri("/health")).await;
    assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(a.json()["error"]["code"], "method_not_allowed");
    let allow = a.headers.get(header::ALLOW).expect("an Allow header");
    assert!(allow.to_str().unwrap().contains("GET"), "{allow:?}");
}

#[actix_web::test]
async fn an_upload_that_is_no_zip_is_400_not_a_zip() {
    let app = TestApp::embedded().await;
    let boundary = "provis-test-boundary";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"repo.zip\"\r\n\
         Content-Type: application/zip\r\n\r\nthis is plain text, named .zip\r\n--{boundary}--\r\n"
    );
    let a = app
        .call(
            TestRequest::post()
                .uri("/ingest")
                .insert_header((
                    header::CONTENT_TYPE,
                    format!("multipart/form-data; boundary={boundary}"),
                ))
                .set_payload(body),
        )
        .await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    let body = a.json();
    assert_eq!(body["error"]["code"], "not_a_zip", "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
}
