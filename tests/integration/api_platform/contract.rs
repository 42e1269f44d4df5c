//! The OpenAPI document against the running API: schemathesis with every check, and HEAD.

use super::*;

/// Issue 11: `/openapi.json` describes the API that runs. Every operation it lists answers on
/// a live `all-in-one` (no default-service 404), and schemathesis, with every check (status
/// codes, content types, response schemas and headers, no 5xx, negative and positive data,
/// unsupported methods, auth that is not ignored, stateful links), finds nothing: against a
/// job that ran to `done`, so success answers are checked as well as errors. Configuration:
/// `tests/contract/schemathesis.toml`; schemathesis comes from `PROVIS_TOOLS_VENV`
/// (`scripts/dev-services`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_contract_holds_under_schemathesis() {
    const TOKEN: &str = "contract-token";
    let dir = tempfile::tempdir().expect("tempdir");
    let s = all_in_one(dir.path(), &[("PROVIS_API_TOKEN", TOKEN)]).await;
    let accepted = ingest(&s, demo_zip(), Some(TOKEN)).await;
    let job = accepted["jobId"].as_str().expect("jobId").to_string();
    wait_done(&s, &job, Some(TOKEN)).await;
    let (repo, snapshot) = (
        accepted["repoId"].as_str().expect("repoId").to_string(),
        accepted["snapshotId"]
            .as_str()
            .expect("snapshotId")
            .to_string(),
    );

    let doc: Value = http()
        .get(s.url("/openapi.json"))
        .send()
        .await
        .expect("GET /openapi.json")
        .json()
        .await
        .expect("the document is JSON");
    assert!(doc["openapi"]
        .as_str()
        .is_some_and(|v| v.starts_with("3.1")));
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.len() >= 8, "{:?}", paths.keys());
    for (template, item) in paths {
        let path = template
            .replace("{job_id}", &job)
            .replace("{repo_id}", &repo)
            .replace("{snapshot_id}", &snapshot)
            .replace("{kind}", "graph");
        for method in item.as_object().expect("path item").keys() {
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let resp = http()
                .request(m, s.url(&path))
                .bearer_auth(TOKEN)
                .timeout(std::time::Duration::from_secs(10))
                .send()
                .await
                .expect("request");
            let status = resp.status();
            let body: Value = resp.json().await.unwrap_or(Value::Null);
            assert!(
                !(status == StatusCode::NOT_FOUND && body["error"]["code"] == "not_found")
                    && status != StatusCode::METHOD_NOT_ALLOWED,
                "{method} {template} is documented but no route answers it: {status} {body}"
            );
        }
    }

    let venv =
        std::env::var("PROVIS_TOOLS_VENV").unwrap_or_else(|_| "/var/tmp/provis-ci/tools".into());
    let st = Path::new(&venv).join("bin/schemathesis");
    assert!(
        st.exists(),
        "{} missing: scripts/dev-services installs it",
        st.display()
    );
    let config = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/contract/schemathesis.toml"
    );
    let out = tokio::process::Command::new(&st)
        .args(["--no-color", "--config-file", config, "run"])
        .arg(s.url("/openapi.json"))
        // No `--checks`: schemathesis 4 runs every check by default, and a check named on the
        // command line overrides the per-operation settings of the configuration file.
        .args(["--workers", "2"])
        .args(["-H", &format!("Authorization: Bearer {TOKEN}")])
        .env("PROVIS_JOB_ID", &job)
        .env("PROVIS_REPO_ID", &repo)
        .env("PROVIS_SNAPSHOT_ID", &snapshot)
        .current_dir(dir.path())
        .output()
        .await
        .expect("run schemathesis");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "schemathesis found problems ({}):\n{report}\n--- server log (tail) ---\n{}",
        out.status,
        s.logs()
            .lines()
            .rev()
            .take(80)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n")
    );
    // It really ran every phase against every operation.
    for phase in ["Examples", "Coverage", "Fuzzing", "Stateful"] {
        assert!(
            report.contains(&format!("✅ {phase}")),
            "phase {phase} did not pass:\n{report}"
        );
    }
    // Every operation but the document itself (schemathesis leaves its own schema URL out).
    let tested = format!("Tested: {}", count_operations(&doc) - 1);
    assert!(report.contains(&tested), "expected {tested}:\n{report}");
}

/// Operations (path × method) of an OpenAPI document.
fn count_operations(doc: &Value) -> usize {
    doc["paths"]
        .as_object()
        .map(|p| {
            p.values()
                .filter_map(Value::as_object)
                .map(|i| i.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Issue 9 item 13: `HEAD` is answered as `GET` without a body (RFC 9110 §9.3.2), on every
/// route: same status, same headers, `Content-Length` of the `GET` body; an SSE stream ends at
/// once; a path or method no route has still answers 404/405.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_is_answered_like_get_without_a_body() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = all_in_one(dir.path(), &[]).await;
    let c = http();
    let accepted = ingest(&s, demo_zip(), None).await;
    let job = accepted["jobId"].as_str().expect("jobId");
    let done = wait_done(&s, job, None).await;
    let snapshot = done["snapshotId"].as_str().expect("snapshotId");
    let repo = done["repoId"].as_str().expect("repoId");
    for path in [
        "/openapi.json".to_string(),
        "/health".to_string(),
        format!("/status/{job}"),
        format!("/repos/{repo}/snapshots/{snapshot}/artifacts"),
        format!("/repo/{repo}/graph"),
    ] {
        let get = c.get(s.url(&path)).send().await.expect("GET");
        let head = c.head(s.url(&path)).send().await.expect("HEAD");
        assert_eq!(head.status(), get.status(), "{path}");
        assert_eq!(head.status(), StatusCode::OK, "{path}");
        assert_eq!(
            head.headers().get("content-type"),
            get.headers().get("content-type"),
            "{path}"
        );
        let body = get.bytes().await.expect("GET body");
        if path == "/openapi.json" || path.ends_with("/graph") {
            let len = head
                .headers()
                .get("content-length")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<usize>().ok());
            assert_eq!(
                len,
                Some(body.len()),
                "{path}: Content-Length of the GET body"
            );
        }
        assert!(head.bytes().await.expect("HEAD body").is_empty(), "{path}");
    }
    // The event stream: headers at once, no body, and the connection is not held open.
    let head = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        c.head(s.url(&format!("/jobs/{job}/events"))).send(),
    )
    .await
    .expect("HEAD of the stream answers at once")
    .expect("HEAD");
    assert_eq!(head.status(), StatusCode::OK);
    assert!(head
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/event-stream")));
    // Unknown things stay unknown.
    let head = c.head(s.url("/no/such/route")).send().await.expect("HEAD");
    assert_eq!(head.status(), StatusCode::NOT_FOUND);
    let head = c.head(s.url("/ingest")).send().await.expect("HEAD");
    assert_eq!(head.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        head.headers().get("allow").and_then(|v| v.to_str().ok()),
        Some("POST")
    );
    // 405 answers list HEAD beside GET.
    let resp = c.post(s.url("/health")).send().await.expect("POST");
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        resp.headers().get("allow").and_then(|v| v.to_str().ok()),
        Some("GET, HEAD")
    );
}
