//! Issue 12: the web page is served by the binary (public, embedded assets) and the list
//! endpoints it browses with, `GET /repos` and `GET /repos/{repo_id}/snapshots`, page, count
//! and refuse bad pages — against a real `all-in-one` with a bearer token set. The page itself
//! is driven in a real browser by `scripts/test-browser` (run by `scripts/test`).
//!
//! Run: `cargo test --test integration web_page::`.

use crate::common::{demo_zip, free_port, http, provis, wait_done, Server};
use reqwest::StatusCode;
use serde_json::Value;

const TOKEN: &str = "page-token";

async fn get(s: &Server, path: &str, token: Option<&str>) -> (StatusCode, Value) {
    let mut req = http().get(s.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("GET");
    let status = resp.status();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn upload(s: &Server, repo: &str) -> Value {
    let form = crate::common::zip_form(demo_zip(), "demo.zip", Some(repo));
    let resp = http()
        .post(s.url("/ingest"))
        .bearer_auth(TOKEN)
        .multipart(form)
        .send()
        .await
        .expect("POST /ingest");
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    resp.json().await.expect("JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_is_public_and_the_lists_page_through_repos_and_snapshots() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mut cmd = provis(dir.path());
    cmd.args(["all-in-one", "--port", &port.to_string(), "--workers", "2"])
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .env("PROVIS_API_TOKEN", TOKEN);
    let s = Server::start(cmd, port, dir.path()).await;

    // The page and its assets need no token (they hold no data); the API still does.
    let page = http().get(s.url("/")).send().await.expect("GET /");
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .starts_with("text/html"));
    let html = page.text().await.expect("text");
    assert!(html.contains("/ui/app.js"), "{html}");
    for (asset, kind) in [
        ("app.js", "text/javascript"),
        ("graph.js", "text/javascript"),
        ("cytoscape.esm.min.mjs", "text/javascript"),
        ("style.css", "text/css"),
    ] {
        let resp = http()
            .get(s.url(&format!("/ui/{asset}")))
            .send()
            .await
            .expect("asset");
        assert_eq!(resp.status(), StatusCode::OK, "{asset}");
        assert!(
            resp.headers()["content-type"]
                .to_str()
                .expect("ascii")
                .starts_with(kind),
            "{asset}"
        );
    }
    let (status, body) = get(&s, "/ui/secrets.txt", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "asset_not_found");
    let (status, _) = get(&s, "/repos", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "the list needs the token");

    let (status, body) = get(&s, "/repos", Some(TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["total"], 0);
    assert_eq!(body["repos"], serde_json::json!([]));

    // Two repositories (b before a in time); the second has two snapshots (other settings).
    let b = upload(&s, "beta").await;
    wait_done(&s, b["jobId"].as_str().expect("job"), Some(TOKEN)).await;
    let a = upload(&s, "alpha").await;
    wait_done(&s, a["jobId"].as_str().expect("job"), Some(TOKEN)).await;
    let part = reqwest::multipart::Part::bytes(demo_zip()).file_name("alpha.zip");
    let form = reqwest::multipart::Form::new()
        .part("file", part)
        .text("settings", r#"{"llm":false,"other":1}"#);
    let resp = http()
        .post(s.url("/ingest"))
        .bearer_auth(TOKEN)
        .multipart(form)
        .send()
        .await
        .expect("POST");
    let a2: Value = resp.json().await.expect("JSON");
    let a2_job = a2["jobId"].as_str().expect("job").to_string();
    wait_done(&s, &a2_job, Some(TOKEN)).await;
    assert_eq!(a2["repoId"], a["repoId"]);
    assert_ne!(a2["snapshotId"], a["snapshotId"]);

    let (_, page1) = get(&s, "/repos?limit=1", Some(TOKEN)).await;
    assert_eq!(page1["total"], 2);
    assert_eq!(page1["limit"], 1);
    assert_eq!(page1["repos"].as_array().expect("repos").len(), 1);
    assert_eq!(page1["repos"][0]["name"], "alpha", "by name: {page1}");
    assert_eq!(page1["repos"][0]["snapshots"], 2);
    let latest = &page1["repos"][0]["latestSnapshot"];
    assert_eq!(latest["id"], a2["snapshotId"], "newest first: {page1}");
    assert_eq!(latest["status"], "completed");
    assert_eq!(latest["jobId"], a2_job.as_str());
    assert_eq!(latest["phase"], "done");
    let (_, page2) = get(&s, "/repos?limit=1&offset=1", Some(TOKEN)).await;
    assert_eq!(page2["repos"][0]["name"], "beta");
    assert_eq!(page2["repos"][0]["id"], b["repoId"]);
    let (_, page3) = get(&s, "/repos?limit=1&offset=2", Some(TOKEN)).await;
    assert_eq!(page3["repos"], serde_json::json!([]));
    assert_eq!(page3["total"], 2);

    let repo = a["repoId"].as_str().expect("repo");
    let (status, snaps) = get(&s, &format!("/repos/{repo}/snapshots"), Some(TOKEN)).await;
    assert_eq!(status, StatusCode::OK, "{snaps}");
    assert_eq!(snaps["repoName"], "alpha");
    assert_eq!(snaps["total"], 2);
    let list = snaps["snapshots"].as_array().expect("snapshots");
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["id"], a2["snapshotId"]);
    assert_eq!(list[1]["id"], a["snapshotId"]);
    assert_eq!(list[1]["commitHash"], a["commitHash"]);
    assert_eq!(list[1]["jobId"], a["jobId"]);
    let (_, second) = get(
        &s,
        &format!("/repos/{repo}/snapshots?limit=1&offset=1"),
        Some(TOKEN),
    )
    .await;
    assert_eq!(second["snapshots"][0]["id"], a["snapshotId"]);

    // Bad pages and unknown repositories answer the error envelope.
    for (path, status, code) in [
        ("/repos?limit=0", StatusCode::BAD_REQUEST, "bad_request"),
        ("/repos?limit=201", StatusCode::BAD_REQUEST, "bad_request"),
        ("/repos?offset=-1", StatusCode::BAD_REQUEST, "bad_request"),
        ("/repos?limit=ten", StatusCode::BAD_REQUEST, "bad_request"),
        (
            "/repos/00000000-0000-0000-0000-000000000000/snapshots",
            StatusCode::NOT_FOUND,
            "repo_not_found",
        ),
        (
            "/repos/not-a-uuid/snapshots",
            StatusCode::NOT_FOUND,
            "repo_not_found",
        ),
    ] {
        let (got, body) = get(&s, path, Some(TOKEN)).await;
        assert_eq!(got, status, "{path}: {body}");
        assert_eq!(body["error"]["code"], code, "{path}: {body}");
    }
}
