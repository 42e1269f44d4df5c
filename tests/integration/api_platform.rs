//! The platform side of the HTTP API, against the real binary (docs/architecture.md,
//! docs/http-api.md, docs/operations.md):
//! `all-in-one` with nothing configured, `/health` naming a Redis that is down, `/metrics`
//! after a job (checked by `promtool`), the error envelope, the bearer token, CORS, and JSON
//! logs.
//!
//! Run: `cargo test --test integration api_platform::` (Postgres from `TEST_DATABASE_URL`,
//! Redis from `TEST_REDIS_URL`; `promtool` on PATH, or `PROMTOOL`).

use crate::common;
use crate::common::prom::{self, sample_sum, RUNBOOK_MS};
use crate::common::{
    demo_zip, free_port, http, ingest, provis, redis_url, wait_done, PgSchema, RedisPrefix, Server,
};
use reqwest::StatusCode;
use serde_json::Value;
use std::path::Path;

/// A closed port: Redis "unreachable".
const DOWN_REDIS: &str = "redis://127.0.0.1:1";

/// Starts `all-in-one` with its data under `dir/data` and `env`.
async fn all_in_one(dir: &Path, env: &[(&str, &str)]) -> Server {
    let port = free_port();
    let mut cmd = provis(dir);
    cmd.args(["all-in-one", "--port", &port.to_string(), "--workers", "2"])
        .arg("--data-dir")
        .arg(dir.join("data"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    Server::start(cmd, port, dir).await
}

async fn get(server: &Server, path: &str) -> (StatusCode, Value) {
    let resp = http().get(server.url(path)).send().await.expect("GET");
    let status = resp.status();
    let body = resp.json().await.unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_in_one_with_nothing_configured_runs_embedded_in_dot_provis() {
    let cwd = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mut cmd = provis(cwd.path());
    cmd.args(["all-in-one", "--port", &port.to_string()]);
    let mut s = Server::start(cmd, port, cwd.path()).await;

    let (status, body) = get(&s, "/health").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    let checks = &body["checks"];
    for c in ["database", "redis", "storage"] {
        assert_eq!(checks[c]["status"], "ok", "{c}: {body}");
    }
    assert_eq!(checks["database"]["backend"], "sqlite", "{body}");
    assert!(
        checks["redis"]["backend"]
            .as_str()
            .is_some_and(|b| b.contains("in-process")),
        "{body}"
    );
    assert_eq!(checks["storage"]["backend"], "local", "{body}");
    assert_eq!(body["failing"], serde_json::json!([]));

    let data = cwd.path().join(".provis");
    assert!(data.join("provis.db").is_file(), "SQLite under ./.provis");
    assert!(data.join("artifacts").is_dir(), "artifacts under ./.provis");

    // And it works: a job runs to the end with nothing else installed.
    let accepted = ingest(&s, demo_zip(), None).await;
    let job = accepted["jobId"].as_str().expect("jobId");
    let done = wait_done(&s, job, None).await;
    assert_eq!(done["filesParsed"], 2, "{done}");
    assert!(s.stop().expect("stopped").success());
}

/// Asserts a 503 `/health` that names Redis, and only Redis.
async fn assert_redis_down(s: &Server) {
    let (status, body) = get(s, "/health").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["checks"]["redis"]["status"], "down", "{body}");
    assert!(
        body["checks"]["redis"]["error"]
            .as_str()
            .is_some_and(|e| !e.is_empty()),
        "the check says why: {body}"
    );
    assert_eq!(body["checks"]["database"]["status"], "ok", "{body}");
    assert_eq!(body["checks"]["storage"]["status"], "ok", "{body}");
    assert_eq!(body["failing"], serde_json::json!(["redis"]), "{body}");
    assert_ne!(body["status"], "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_in_one_with_redis_down_starts_and_health_names_redis() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}", dir.path().join("data/provis.db").display());
    let mut s = all_in_one(
        dir.path(),
        &[("REDIS_URL", DOWN_REDIS), ("DATABASE_URL", &db)],
    )
    .await;
    assert_redis_down(&s).await;
    // Still up after a while (the workers keep retrying instead of taking the process down).
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert!(s.exited().is_none(), "log:\n{}", s.logs());
    assert_redis_down(&s).await;
    assert!(
        s.logs().contains("Redis does not answer"),
        "start-up logs a warning:\n{}",
        s.logs()
    );
    // The API still answers what needs only the database.
    let (status, body) = get(&s, &format!("/status/{}", uuid::Uuid::new_v4())).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(body["error"]["code"], "job_not_found");
    assert!(s.stop().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_health_follows_redis_on_postgres() {
    let schema = PgSchema::create("plat");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut m = provis(dir.path());
    m.args(["migrate", "--database-url", &schema.url]);
    let out = common::run(m, std::time::Duration::from_secs(60));
    assert!(out.status.success(), "{}", common::text(&out).1);

    let prefix = RedisPrefix::new("plat");
    let serve = |redis: String| {
        let port = free_port();
        let mut cmd = provis(dir.path());
        cmd.args(["serve", "--port", &port.to_string()])
            .env("DATABASE_URL", &schema.url)
            .env("REDIS_URL", redis)
            .env("RQ_KEY_PREFIX", &prefix.name)
            .env("PROVIS_DATA_DIR", dir.path().join("data"));
        (cmd, port)
    };
    // Real Redis: healthy.
    let (cmd, port) = serve(redis_url());
    let mut up = Server::start(cmd, port, dir.path()).await;
    let (status, body) = get(&up, "/health").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["checks"]["redis"]["status"], "ok");
    assert_eq!(body["checks"]["database"]["backend"], "postgres");
    // An upload is queued under RQ_KEY_PREFIX, where `provis work` with the same prefix
    // (and `rq info`) look.
    let accepted = ingest(&up, demo_zip(), None).await;
    let job = accepted["jobId"].as_str().expect("jobId");
    let keys = prefix.keys();
    assert!(
        keys.contains(&format!("{}:queue:high", prefix.name)),
        "ingest task queued under the prefix: {keys:?}"
    );
    let (status, body) = get(&up, &format!("/status/{job}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    up.stop();

    // Same database, Redis unreachable: serve starts anyway and /health says 503 redis.
    let (cmd, port) = serve(DOWN_REDIS.to_string());
    let mut down = Server::start(cmd, port, dir.path()).await;
    assert_redis_down(&down).await;
    down.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_after_one_job_pass_promtool_and_carry_the_runbook_names() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = all_in_one(dir.path(), &[]).await;
    let accepted = ingest(&s, demo_zip(), None).await;
    let job = accepted["jobId"].as_str().expect("jobId").to_string();
    wait_done(&s, &job, None).await;

    let resp = http().get(s.url("/metrics")).send().await.expect("metrics");
    assert_eq!(resp.status(), StatusCode::OK);
    let ctype = resp.headers()["content-type"]
        .to_str()
        .unwrap_or("")
        .to_string();
    assert!(ctype.starts_with("text/plain"), "{ctype}");
    let text = resp.text().await.expect("metrics text");

    prom::assert_promtool_accepts(&text);

    for name in [
        "provis_jobs_total",
        "provis_job_duration_ms",
        "provis_tasks_total",
        "provis_task_duration_ms",
        "provis_files_parsed_total",
        "provis_node_parse_ms",
        "provis_imports_total",
        "provis_artifacts_created_total",
        "provis_queue_size",
        "provis_http_requests_total",
    ] {
        assert!(
            text.contains(&format!("# HELP {name} ")),
            "{name} has no description:\n{text}"
        );
        assert!(text.contains(&format!("# TYPE {name} ")), "{name} missing");
    }
    // Every exported metric is described.
    for line in text.lines().filter(|l| l.starts_with("# TYPE ")) {
        let name = line.split_whitespace().nth(2).expect("name");
        assert!(
            text.contains(&format!("# HELP {name} ")),
            "{name} undescribed"
        );
    }
    // Histograms, with the runbook's buckets, not summaries.
    for name in RUNBOOK_MS {
        assert!(
            text.contains(&format!("# TYPE {name} histogram")),
            "{name} is not a histogram:\n{text}"
        );
    }
    assert!(text.contains("provis_task_duration_ms_bucket{name=\"finalize\",le=\"10\"}"));

    // The values reflect the one job.
    assert!(sample_sum(&text, "provis_jobs_total", &["status=\"done\""]) >= 1.0);
    for task in [
        "ingest",
        "discover",
        "parse_batch",
        "merge",
        "map",
        "summarize",
        "finalize",
    ] {
        let n = sample_sum(
            &text,
            "provis_tasks_total",
            &[&format!("name=\"{task}\""), "state=\"done\""],
        );
        assert!(n >= 1.0, "no done {task} in provis_tasks_total:\n{text}");
    }
    assert_eq!(
        sample_sum(&text, "provis_files_parsed_total", &["language=\"js\""]),
        2.0
    );
    assert!(sample_sum(&text, "provis_imports_total", &["type=\"internal\""]) >= 1.0);
    assert!(sample_sum(&text, "provis_imports_total", &["type=\"external\""]) >= 1.0);
    for kind in [
        "tree",
        "files",
        "graph",
        "capabilities",
        "metrics",
        "summaries",
    ] {
        let n = sample_sum(
            &text,
            "provis_artifacts_created_total",
            &[&format!("kind=\"{kind}\"")],
        );
        assert!(n >= 1.0, "no {kind} artifact counted:\n{text}");
    }
    assert!(text.contains("provis_queue_size{queue_name=\"high\"}"));
    assert!(sample_sum(&text, "provis_node_parse_ms_count", &[]) >= 2.0);
    // HTTP labels are route patterns: never an id.
    assert!(
        text.contains("route=\"/status/{job_id}\""),
        "status polls are labelled by pattern:\n{text}"
    );
    assert!(!text.contains(&job), "a job id leaked into a label");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_use_the_envelope_with_fitting_codes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = all_in_one(dir.path(), &[]).await;
    let cases = [
        ("/no/such/route", StatusCode::NOT_FOUND, "not_found"),
        ("/status/not-a-uuid", StatusCode::NOT_FOUND, "job_not_found"),
        (
            &format!("/status/{}", uuid::Uuid::new_v4()),
            StatusCode::NOT_FOUND,
            "job_not_found",
        ),
    ];
    for (path, status, code) in cases {
        let resp = http().get(s.url(path)).send().await.expect("GET");
        assert_eq!(resp.status(), status, "{path}");
        assert!(
            resp.headers()["content-type"]
                .to_str()
                .is_ok_and(|c| c.starts_with("application/json")),
            "{path}"
        );
        let body: Value = resp.json().await.expect("JSON envelope");
        assert_eq!(body["error"]["code"], code, "{path}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{path}: {body}"
        );
    }
    // A known path with the wrong method.
    let resp = http().post(s.url("/health")).send().await.expect("POST");
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    let body: Value = resp.json().await.expect("JSON envelope");
    assert_eq!(body["error"]["code"], "method_not_allowed", "{body}");
    // Not a multipart upload.
    let resp = http()
        .post(s.url("/ingest"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("POST");
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = resp.json().await.expect("JSON envelope");
    assert!(body["error"]["code"].is_string(), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_token_guards_every_route_but_health_and_metrics() {
    const TOKEN: &str = "s3cret-token";
    let dir = tempfile::tempdir().expect("tempdir");
    let s = all_in_one(dir.path(), &[("PROVIS_API_TOKEN", TOKEN)]).await;
    let c = http();
    let missing = uuid::Uuid::new_v4();

    for path in [
        format!("/status/{missing}"),
        "/status/x".into(),
        "/no/such/route".into(),
    ] {
        for auth in [
            None,
            Some("Bearer wrong"),
            Some(TOKEN),
            Some("Basic czNjcmV0"),
        ] {
            let mut req = c.get(s.url(&path));
            if let Some(a) = auth {
                req = req.header("authorization", a);
            }
            let resp = req.send().await.expect("GET");
            assert_eq!(
                resp.status(),
                StatusCode::UNAUTHORIZED,
                "{path} with {auth:?}"
            );
            // RFC 7235 §3.1: a 401 carries the challenge; a wrong bearer token says so.
            let challenge = resp
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            assert!(
                challenge.starts_with("Bearer realm=\"provis\""),
                "{path} with {auth:?}: WWW-Authenticate {challenge:?}"
            );
            assert_eq!(
                challenge.contains("error=\"invalid_token\""),
                auth == Some("Bearer wrong"),
                "{challenge}"
            );
            let body: Value = resp.json().await.expect("envelope");
            assert_eq!(body["error"]["code"], "unauthorized", "{body}");
        }
    }
    // The scheme name is case-insensitive (RFC 7235 §2.1).
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let resp = c
            .get(s.url(&format!("/status/{missing}")))
            .header("authorization", format!("{scheme} {TOKEN}"))
            .send()
            .await
            .expect("GET");
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{scheme}");
    }
    // The token opens the routes (they then answer for themselves).
    let resp = c
        .get(s.url(&format!("/status/{missing}")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("GET");
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let body: Value = resp.json().await.expect("envelope");
    assert_eq!(body["error"]["code"], "job_not_found");
    // Uploads too.
    let accepted = ingest(&s, demo_zip(), Some(TOKEN)).await;
    let job = accepted["jobId"].as_str().expect("jobId");
    wait_done(&s, job, Some(TOKEN)).await;
    let part = reqwest::multipart::Part::bytes(demo_zip()).file_name("demo.zip");
    let resp = c
        .post(s.url("/ingest"))
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .expect("POST");
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    // Probes and scrapes stay open.
    assert_eq!(
        c.get(s.url("/health")).send().await.expect("GET").status(),
        StatusCode::OK
    );
    let resp = c.get(s.url("/metrics")).send().await.expect("GET");
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp
        .text()
        .await
        .expect("text")
        .contains("provis_http_requests_total"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_answers_the_configured_origins_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = all_in_one(
        dir.path(),
        &[
            ("CORS_ORIGINS", "http://a.example, http://c.example"),
            ("PROVIS_API_TOKEN", "t"),
        ],
    )
    .await;
    let c = http();
    let acao = |r: &reqwest::Response| {
        r.headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap_or("").to_string())
    };

    for origin in ["http://a.example", "http://c.example"] {
        let r = c
            .get(s.url("/health"))
            .header("origin", origin)
            .send()
            .await
            .expect("GET");
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(acao(&r).as_deref(), Some(origin));
    }
    let r = c
        .get(s.url("/health"))
        .header("origin", "http://b.example")
        .send()
        .await
        .expect("GET");
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "CORS does not block the server side"
    );
    assert_eq!(acao(&r), None, "another origin gets no CORS header");
    // Errors carry the header too, so a browser can read the envelope.
    let r = c
        .get(s.url("/status/x"))
        .header("origin", "http://a.example")
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(acao(&r).as_deref(), Some("http://a.example"));

    // A preflight needs no token (browsers send none) and answers 204.
    let r = c
        .request(reqwest::Method::OPTIONS, s.url("/status/x"))
        .header("origin", "http://a.example")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .expect("OPTIONS");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(acao(&r).as_deref(), Some("http://a.example"));
    let methods = r.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap_or("")
        .to_string();
    assert!(
        methods.contains("GET") && methods.contains("POST"),
        "{methods}"
    );
    let headers = r.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap_or("")
        .to_lowercase();
    assert!(headers.contains("authorization"), "{headers}");
    // From an origin not configured, no preflight approval.
    let r = c
        .request(reqwest::Method::OPTIONS, s.url("/status/x"))
        .header("origin", "http://b.example")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .expect("OPTIONS");
    assert_ne!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(acao(&r), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_flat_objects_with_request_and_task_fields() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = all_in_one(dir.path(), &[("LOG_FORMAT", "json")]).await;
    let accepted = ingest(&s, demo_zip(), None).await;
    let job = accepted["jobId"].as_str().expect("jobId").to_string();
    wait_done(&s, &job, None).await;
    let _ = http().get(s.url("/nope")).send().await;
    assert!(s.stop().is_some());
    let logs = s.logs();

    let mut lines = Vec::new();
    for line in logs.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        assert!(v.is_object(), "{line}");
        let ts = v["timestamp"]
            .as_str()
            .unwrap_or_else(|| panic!("no timestamp: {line}"));
        assert!(
            chrono::DateTime::parse_from_rfc3339(ts).is_ok(),
            "timestamp is RFC 3339: {line}"
        );
        assert!(
            ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]
                .contains(&v["level"].as_str().unwrap_or("")),
            "{line}"
        );
        assert!(v["message"].is_string(), "no message: {line}");
        lines.push(v);
    }

    let request = lines
        .iter()
        .find(|v| v["http.method"] == "POST" && v["http.path"] == "/ingest" && v["status"] == 202)
        .unwrap_or_else(|| panic!("no request line for POST /ingest:\n{logs}"));
    assert!(request["duration_ms"].is_u64(), "{request}");
    assert!(
        lines
            .iter()
            .any(|v| v["http.path"] == "/nope" && v["status"] == 404),
        "the 404 is logged too"
    );

    let task_lines: Vec<&Value> = lines
        .iter()
        .filter(|v| v["job_id"] == job.as_str())
        .collect();
    let names: std::collections::BTreeSet<&str> = task_lines
        .iter()
        .filter_map(|v| v["task_name"].as_str())
        .collect();
    for t in ["ingest", "parse_batch", "finalize"] {
        assert!(
            names.contains(t),
            "no log line of task {t} with job_id {job}:\n{logs}"
        );
    }
    let done = task_lines
        .iter()
        .find(|v| v["message"] == "task done" && v["task_name"] == "finalize")
        .unwrap_or_else(|| panic!("no `task done` line for finalize:\n{logs}"));
    assert_eq!(done["success"], true, "{done}");
    assert!(done["duration_ms"].is_u64(), "{done}");
}

/// One request on a kept-alive connection: writes `METHOD path`, reads the whole answer;
/// returns its status.
fn raw_request(
    conn: &mut std::io::BufReader<std::net::TcpStream>,
    method: &str,
    path: &str,
) -> u16 {
    use std::io::{BufRead as _, Read as _, Write as _};
    let request = format!("{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    conn.get_mut()
        .write_all(request.as_bytes())
        .expect("write request");
    let mut status = 0;
    let mut len = 0usize;
    let mut line = String::new();
    loop {
        line.clear();
        conn.read_line(&mut line).expect("read answer head");
        let l = line.trim_end().to_ascii_lowercase();
        if l.is_empty() {
            break;
        }
        if let Some(v) = l.strip_prefix("content-length:") {
            len = v.trim().parse().unwrap_or(0);
        } else if l.starts_with("http/1.1 ") {
            status = l[9..12].parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; len];
    conn.read_exact(&mut body).expect("read answer body");
    status
}

/// The series of a scrape (name and labels, without values).
fn series(text: &str) -> std::collections::BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.rsplit_once(' ').map(|(s, _)| s.to_string()))
        .collect()
}

/// Issue 9 item 11: labels come from closed sets. 20,000 requests with random method tokens
/// on random paths (and on real routes) add no series to `/metrics`: unknown methods are
/// `other`, paths no route has are `unmatched`, ids never appear.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_methods_and_paths_do_not_grow_metrics() {
    use rand::Rng as _;
    let dir = tempfile::tempdir().expect("tempdir");
    let s = all_in_one(dir.path(), &[]).await;
    let addr = s.url("").trim_start_matches("http://").to_string();
    let send = move |n: usize| {
        let addr = addr.clone();
        std::thread::spawn(move || {
            let mut rng = rand::thread_rng();
            let stream = std::net::TcpStream::connect(&addr).expect("connect");
            stream.set_nodelay(true).expect("nodelay");
            let mut conn = std::io::BufReader::new(stream);
            for _ in 0..n {
                // `Z…`: never a method provis knows.
                let method: String = std::iter::once('Z')
                    .chain((0..rng.gen_range(2..10)).map(|_| (b'A' + rng.gen_range(0..26)) as char))
                    .collect();
                let path = match rng.gen_range(0..3) {
                    0 => format!("/status/{}", uuid::Uuid::new_v4()),
                    1 => format!("/no/{}", uuid::Uuid::new_v4()),
                    _ => format!(
                        "/repo/{}/graph?x={}",
                        uuid::Uuid::new_v4(),
                        rng.gen::<u64>()
                    ),
                };
                let status = raw_request(&mut conn, &method, &path);
                assert!(
                    status == 404 || status == 405,
                    "{method} {path} -> {status}"
                );
            }
        })
    };
    let scrape = || async {
        http()
            .get(s.url("/metrics"))
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text")
    };
    // Warm up: every label value the flood can produce exists once (the scrape's own too).
    send(200).join().expect("warm-up");
    scrape().await;
    let before = scrape().await;
    let threads: Vec<_> = (0..4).map(|_| send(5_000)).collect();
    for t in threads {
        t.join().expect("sender");
    }
    let after = scrape().await;
    let (b, a) = (series(&before), series(&after));
    let added: Vec<&String> = a.difference(&b).collect();
    assert!(
        added.is_empty(),
        "20,000 random requests added series: {added:?}"
    );
    assert!(
        after.len() < before.len() + 2048,
        "/metrics grew from {} to {} bytes",
        before.len(),
        after.len()
    );
    assert!(
        sample_sum(&after, "provis_http_requests_total", &["method=\"other\""]) >= 20_000.0,
        "the flood is counted, under method=\"other\":\n{after}"
    );
    assert!(after.contains("route=\"unmatched\""), "{after}");
    assert!(!after.contains("/no/"), "a raw path leaked into a label");
}

/// Issue 9 item 13: uploads are staged inside the data dir (`<data>/tmp/<host>.<pid>.<n>`),
/// not in the system's temp dir; a SIGTERM removes the folder, and a start removes the ones
/// processes of this host left behind when they were killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_are_staged_in_the_data_dir_and_the_folder_goes_with_the_process() {
    let dir = tempfile::tempdir().expect("tempdir");
    let staging = dir.path().join("data").join("tmp");
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .expect("hostname")
        .trim()
        .to_string();
    // What a killed process left: its pid is free again.
    let mut gone = std::process::Command::new("true").spawn().expect("spawn");
    let pid = gone.id();
    gone.wait().expect("wait");
    let stale = staging.join(format!("{host}.{pid}.0"));
    std::fs::create_dir_all(&stale).expect("mkdir");
    std::fs::write(stale.join("upload-x.zip"), b"PK\x03\x04half").expect("write");

    let mut s = all_in_one(dir.path(), &[]).await;
    assert!(
        !stale.exists(),
        "the dead process's staging folder was removed"
    );
    let listed = |p: &Path| -> Vec<String> {
        std::fs::read_dir(p)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    let own = listed(&staging);
    assert_eq!(own.len(), 1, "{own:?}");
    assert!(own[0].starts_with(&format!("{host}.")), "{own:?}");
    let accepted = ingest(&s, demo_zip(), None).await;
    let job = accepted["jobId"].as_str().expect("jobId");
    wait_done(&s, job, None).await;
    assert!(
        listed(&staging.join(&own[0])).is_empty(),
        "the spooled upload is gone once stored"
    );
    let status = s.stop().expect("stopped");
    assert!(status.success(), "{status}");
    assert!(
        listed(&staging).is_empty(),
        "SIGTERM removed the staging folder: {:?}",
        listed(&staging)
    );
}

mod contract;
mod inprocess;
