//! The LLM summary path against a local chat-completions server the tests start
//! ([`server::FakeLlm`], which records every request it gets).
//!
//! Most tests run `provis analyze` (embedded mode: SQLite, local artifacts, in-process
//! bucket) with `LLM_BASE_URL` pointing at the fake server; `embedded_all_in_one_end_to_end`
//! goes through `provis all-in-one` over HTTP; `cluster::two_worker_processes_share_llm_rpm`
//! runs `provis serve` and two `provis work` processes on Postgres, Redis and S3 (~80 s).
//!
//! Run: `cargo test --test integration llm::` (Postgres, Redis and moto as in HELPERS.md for
//! the cluster and Redis tests).

mod cluster;
mod server;
mod support;

use provis::llm::{Limits, RateLimiter};
use serde_json::Value;
use server::{always_valid, FakeLlm, Reply};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{analyze, llm_env, small_app, write_repo};

const CODE_FILES_3: [&str; 4] = [
    "src/routes/r0.js",
    "src/routes/r1.js",
    "src/routes/r2.js",
    "src/server.js",
];

fn sorted_files(reqs: &[server::Recorded]) -> Vec<String> {
    let mut v: Vec<String> = reqs
        .iter()
        .map(|r| r.file().expect("every request names its file"))
        .collect();
    v.sort();
    v
}

fn requests_for(reqs: &[server::Recorded], file: &str) -> Vec<server::Recorded> {
    reqs.iter()
        .filter(|r| r.file().as_deref() == Some(file))
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn normal_answers_end_up_in_the_summaries_artifact() {
    let srv = FakeLlm::start(always_valid()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let out = tempfile::tempdir().expect("tempdir");
    write_repo(dir.path(), &small_app("normal", 3));
    let run = analyze(dir.path(), out.path(), "normal", &llm_env(&srv.url, &[])).await;

    let reqs = srv.requests();
    assert_eq!(
        sorted_files(&reqs),
        CODE_FILES_3,
        "one request per code file, none for package.json"
    );
    for r in &reqs {
        assert_eq!(r.path, "/v1/chat/completions");
        assert_eq!(r.authorization.as_deref(), Some("Bearer test-key-123"));
        assert_eq!(r.json["model"], "test-model");
        assert_eq!(r.json["response_format"]["type"], "json_object");
        assert_eq!(r.json["messages"][0]["role"], "system");
        assert_eq!(r.json["messages"][1]["role"], "user");
    }
    for f in CODE_FILES_3 {
        let s = run.file(f);
        assert_eq!(s["source"], "llm", "{f}: {s}");
        assert_eq!(s["title"], format!("LLM title of {f}"));
        assert_eq!(s["blurb"], format!("LLM blurb of {f}."));
        assert_eq!(s["keyFunctions"], serde_json::json!(["main"]));
        let risks = s["risks"].as_array().expect("risks");
        assert!(risks.iter().any(|r| r == "LLM risk"), "{s}");
    }
    let pkg = run.file("package.json");
    assert_eq!(pkg["source"], "deterministic");
    assert!(!pkg["title"].as_str().unwrap_or("").starts_with("LLM"));
    assert_eq!(run.summaries["source"], "mixed");
    let stats = &run.summaries["llm"]["stats"];
    assert_eq!(stats["requests"], 4);
    assert_eq!(stats["filesFromLlm"], 4);
    assert_eq!(stats["cacheHits"], 0);
    assert_eq!(
        stats["promptTokens"],
        4 * 100,
        "usage is read from the answers"
    );
    assert_eq!(stats["tokensCharged"], 4 * 120);
    for c in run.summaries["capabilities"]
        .as_array()
        .expect("capabilities")
    {
        assert_eq!(c["source"], "deterministic");
    }
    let codes = run.codes();
    assert!(
        codes
            .iter()
            .all(|c| !c.starts_with("llm_") && c != "no_llm"),
        "{codes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_reach_the_server() {
    let srv = FakeLlm::start(always_valid()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let out = tempfile::tempdir().expect("tempdir");
    let mut files = small_app("secrets", 1);
    files.push(("src/config.js".into(), SECRET_JS.into()));
    files.push(("app/settings.py".into(), SECRET_PY.into()));
    write_repo(dir.path(), &files);
    let run = analyze(dir.path(), out.path(), "secrets", &llm_env(&srv.url, &[])).await;

    let reqs = srv.requests();
    assert_eq!(
        requests_for(&reqs, "src/config.js").len(),
        1,
        "the file was sent"
    );
    assert_eq!(requests_for(&reqs, "app/settings.py").len(), 1);
    for r in &reqs {
        for secret in SECRETS {
            assert!(
                !r.raw.contains(secret),
                "{secret} reached the server in the request for {:?}",
                r.file()
            );
        }
    }
    let config = &requests_for(&reqs, "src/config.js")[0].raw;
    assert!(config.contains("[REDACTED PRIVATE KEY]"), "{config}");
    assert!(
        config.contains("postgres://admin:[REDACTED]@db.example.com:5432/app"),
        "the rest of the URL stays readable"
    );
    assert!(config.contains("module.exports"), "the code itself is sent");
    let redactions = run.summaries["llm"]["stats"]["redactions"]
        .as_u64()
        .expect("redactions");
    assert!(redactions >= SECRETS.len() as u64 - 1, "{redactions}");
    assert_eq!(run.file("src/config.js")["source"], "llm");
}

const SECRET_JS: &str = r#"// settings with secrets that must never leave the machine
const AWS_SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const AWS_ACCESS_KEY_ID = 'AKIAIOSFODNN7EXAMPLE';
const dbUrl = "postgres://admin:Sup3rS3cretPw@db.example.com:5432/app";
const signingKey = `-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj
MzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu
-----END PRIVATE KEY-----`;
const stripe = require('stripe')('sk_live_51H8abcdefghijklmnopqrstuv');
const session = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ';
module.exports = { dbUrl, signingKey, stripe, session };
"#;

const SECRET_PY: &str = r#"import os

SECRET_KEY = "django-insecure-9x!k2#abcdefghijklmnop"
DATABASES = {"default": {"ENGINE": "postgres", "PASSWORD": "hunter2hunter2"}}
GITHUB_TOKEN = os.environ.get("GITHUB_TOKEN", "ghp_abcdefghijklmnopqrstuvwxyz0123456789")


def main():
    print("settings loaded")


if __name__ == "__main__":
    main()
"#;

const SECRETS: [&str; 11] = [
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "AKIAIOSFODNN7EXAMPLE",
    "Sup3rS3cretPw",
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj",
    "MzEfYyjiWA4R4",
    "sk_live_51H8abcdefghijklmnopqrstuv",
    "c2lnbmF0dXJlLXNpZ25hdHVyZQ",
    "django-insecure-9x",
    "hunter2hunter2",
    "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    "-----BEGIN PRIVATE KEY-----",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_429_retry_after_is_honoured() {
    let srv = FakeLlm::start(Arc::new(
        |r: &server::Recorded, before: &[server::Recorded]| {
            if before.is_empty() {
                Reply::status(429).header("Retry-After", "2")
            } else {
                Reply::summary(&r.file().unwrap_or_default(), 100)
            }
        },
    ))
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let out = tempfile::tempdir().expect("tempdir");
    write_repo(dir.path(), &small_app("ratelimit", 0));
    let run = analyze(dir.path(), out.path(), "ratelimit", &llm_env(&srv.url, &[])).await;

    let reqs = requests_for(&srv.requests(), "src/server.js");
    assert_eq!(reqs.len(), 2, "one 429, then one retry");
    let gap = reqs[1].at - reqs[0].at;
    assert!(
        gap >= Duration::from_millis(1_950),
        "the retry came {gap:?} after the 429 asked for 2 s"
    );
    assert_eq!(run.file("src/server.js")["source"], "llm");
    assert!(
        run.warning("llm_rate_limited").is_none(),
        "{:?}",
        run.codes()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_fall_back_with_a_warning() {
    let srv = FakeLlm::start(Arc::new(|r: &server::Recorded, _: &[server::Recorded]| {
        let f = r.file().unwrap_or_default();
        let reply = Reply::summary(&f, 100);
        if f == "src/routes/r1.js" {
            reply.delayed(Duration::from_secs(4))
        } else {
            reply
        }
    }))
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let out = tempfile::tempdir().expect("tempdir");
    write_repo(dir.path(), &small_app("timeouts", 3));
    let env = llm_env(&srv.url, &[("LLM_TIMEOUT_S", "1")]);
    let run = analyze(dir.path(), out.path(), "timeouts", &env).await;

    let reqs = srv.requests();
    assert_eq!(
        requests_for(&reqs, "src/routes/r1.js").len(),
        1,
        "no retry after a timeout"
    );
    let slow = run.file("src/routes/r1.js");
    assert_eq!(slow["source"], "deterministic");
    assert!(!slow["title"].as_str().unwrap_or("").starts_with("LLM"));
    for f in ["src/routes/r0.js", "src/routes/r2.js", "src/server.js"] {
        assert_eq!(run.file(f)["source"], "llm", "{f}");
    }
    let w = run.warning("llm_timeout").expect("llm_timeout warning");
    assert_eq!(w.file_path.as_deref(), Some("src/routes/r1.js"));
    assert!(w.message.contains("timed out"), "{}", w.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_answers_are_retried_once_then_fall_back() {
    let srv = FakeLlm::start(Arc::new(
        |r: &server::Recorded, before: &[server::Recorded]| {
            let f = r.file().unwrap_or_default();
            let seen = before
                .iter()
                .filter(|b| b.file().as_deref() == Some(f.as_str()))
                .count();
            match f.as_str() {
                // Never JSON.
                "src/routes/r0.js" => Reply::content("Sure! Here is a summary: it routes.", 50),
                // Wrong the first time, right the second.
                "src/routes/r1.js" if seen == 0 => {
                    Reply::content(r#"{"title": "only a title"}"#, 50)
                }
                // Not even a chat completion.
                "src/routes/r2.js" => Reply {
                    body: r#"{"oops": true}"#.into(),
                    ..Reply::status(200)
                },
                _ => Reply::summary(&f, 100),
            }
        },
    ))
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let out = tempfile::tempdir().expect("tempdir");
    write_repo(dir.path(), &small_app("malformed", 3));
    let run = analyze(dir.path(), out.path(), "malformed", &llm_env(&srv.url, &[])).await;

    let reqs = srv.requests();
    let r0 = requests_for(&reqs, "src/routes/r0.js");
    assert_eq!(r0.len(), 2, "one retry, no more");
    assert_eq!(r0[0].messages(), 2);
    assert_eq!(
        r0[1].messages(),
        4,
        "the retry quotes the answer and what was wrong"
    );
    let last = r0[1].json["messages"][3]["content"].as_str().unwrap_or("");
    assert!(last.contains("not valid"), "{last}");
    assert_eq!(run.file("src/routes/r0.js")["source"], "deterministic");

    let r1 = requests_for(&reqs, "src/routes/r1.js");
    assert_eq!(r1.len(), 2);
    assert!(
        r1[1].raw.contains("purpose: missing"),
        "the schema error is named"
    );
    assert_eq!(run.file("src/routes/r1.js")["source"], "llm");
    assert_eq!(
        run.file("src/routes/r1.js")["title"],
        "LLM title of src/routes/r1.js"
    );

    assert_eq!(requests_for(&reqs, "src/routes/r2.js").len(), 2);
    assert_eq!(run.file("src/routes/r2.js")["source"], "deterministic");
    assert_eq!(requests_for(&reqs, "src/server.js").len(), 1);
    assert_eq!(run.file("src/server.js")["source"], "llm");

    let w = run.warning("llm_invalid_response").expect("warning");
    assert!(w.message.contains("2 files"), "{}", w.message);
    assert!(w.message.contains("src/routes/r0.js") && w.message.contains("src/routes/r2.js"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_unchanged_files_are_never_summarized_twice() {
    let srv = FakeLlm::start(always_valid()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let out = tempfile::tempdir().expect("tempdir");
    write_repo(dir.path(), &small_app("cache", 3));
    let env = llm_env(&srv.url, &[]);
    let first = analyze(dir.path(), out.path(), "cache-a", &env).await;
    assert_eq!(srv.requests().len(), 4);

    // Same content under another repository name: a new snapshot, a full pipeline run.
    let second = analyze(dir.path(), out.path(), "cache-b", &env).await;
    assert_ne!(second.job_id, first.job_id);
    assert_eq!(srv.requests().len(), 4, "the second job sent no request");
    for f in CODE_FILES_3 {
        assert_eq!(second.file(f)["source"], "llm");
        assert_eq!(second.file(f)["title"], first.file(f)["title"]);
    }
    assert_eq!(second.summaries["llm"]["stats"]["cacheHits"], 4);
    assert_eq!(second.summaries["llm"]["stats"]["requests"], 0);
    let cached = std::fs::read_dir(
        out.path()
            .join(".provis/artifacts/cache/llm/file-summary-v1/test-model"),
    )
    .expect("cache directory in the artifact store")
    .count();
    assert_eq!(cached, 4);

    // One file changed: exactly one request, for it.
    std::fs::write(
        dir.path().join("src/routes/r0.js"),
        "// changed\nmodule.exports = function changed() { return 1; };\n",
    )
    .expect("edit");
    let third = analyze(dir.path(), out.path(), "cache-c", &env).await;
    let reqs = srv.requests();
    assert_eq!(reqs.len(), 5);
    assert_eq!(reqs[4].file().as_deref(), Some("src/routes/r0.js"));
    assert!(reqs[4].raw.contains("function changed"));
    assert_eq!(third.summaries["llm"]["stats"]["cacheHits"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_budget_exhausted_leaves_the_rest_deterministic() {
    // Each answer reports 1 200 tokens; a budget of 2 600 covers two files (the third
    // one's estimate no longer fits), one at a time so the count is exact.
    let srv = FakeLlm::start(Arc::new(|r: &server::Recorded, _: &[server::Recorded]| {
        Reply::summary(&r.file().unwrap_or_default(), 1_200)
    }))
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let out = tempfile::tempdir().expect("tempdir");
    write_repo(dir.path(), &small_app("budget", 4));
    let env = llm_env(
        &srv.url,
        &[
            ("LLM_CONCURRENCY", "1"),
            ("LLM_MAX_TOKENS", "100"),
            ("LLM_REPO_TOKEN_BUDGET", "2600"),
        ],
    );
    let run = analyze(dir.path(), out.path(), "budget", &env).await;

    assert_eq!(srv.requests().len(), 2);
    let files = run.summaries["files"].as_array().expect("files");
    let from_llm = files.iter().filter(|f| f["source"] == "llm").count();
    assert_eq!(from_llm, 2);
    assert_eq!(run.summaries["llm"]["stats"]["tokensCharged"], 2_400);
    let w = run.warning("llm_budget_exhausted").expect("budget warning");
    assert!(w.message.contains("2600"), "{}", w.message);
    assert!(w.message.contains("3 files"), "{}", w.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn llm_down_never_fails_the_job() {
    // A failing endpoint: each file is tried twice (one retry of a 5xx); after three files
    // in a row failed, the job stops calling.
    let srv = FakeLlm::start(Arc::new(|_: &server::Recorded, _: &[server::Recorded]| {
        Reply::status(503)
    }))
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let out = tempfile::tempdir().expect("tempdir");
    write_repo(dir.path(), &small_app("down", 5));
    let env = llm_env(&srv.url, &[("LLM_CONCURRENCY", "1")]);
    let run = analyze(dir.path(), out.path(), "down", &env).await;
    assert_eq!(
        srv.requests().len(),
        6,
        "3 files x 2 attempts, then no more calls"
    );
    let files = run.summaries["files"].as_array().expect("files");
    assert!(files.iter().all(|f| f["source"] == "deterministic"));
    assert_eq!(run.summaries["source"], "deterministic");
    let w = run.warning("llm_unavailable").expect("warning");
    assert!(w.message.contains("6 files"), "{}", w.message);

    // Nothing listening at all.
    let port = crate::common::free_port();
    let out2 = tempfile::tempdir().expect("tempdir");
    let env = llm_env(&format!("http://127.0.0.1:{port}/v1"), &[]);
    let run = analyze(dir.path(), out2.path(), "down2", &env).await;
    assert!(
        run.warning("llm_unavailable").is_some(),
        "{:?}",
        run.codes()
    );
}

/// Runs `f` on two limiters sharing `key` for `secs` seconds, greedily; returns the grants.
async fn hammer(a: RateLimiter, b: RateLimiter, limits: Limits, secs: u64) -> usize {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let run = |l: RateLimiter| async move {
        let mut n = 0;
        while Instant::now() < deadline {
            match l.try_acquire(limits, 1).await.expect("redis bucket") {
                None => n += 1,
                Some(w) => {
                    tokio::time::sleep(w.min(deadline.saturating_duration_since(Instant::now())))
                        .await
                }
            }
        }
        n
    };
    let (x, y) = tokio::join!(run(a), run(b));
    assert!(x > 0 && y > 0, "both limiters got grants ({x}, {y})");
    x + y
}

fn test_redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_bucket_is_one_bucket_for_every_limiter() {
    let key = format!("provis-test-llm-bucket-{}", uuid::Uuid::new_v4().simple());
    let url = test_redis_url();
    let a = RateLimiter::redis(&url, &key).expect("limiter");
    let b = RateLimiter::redis(&url, &key).expect("limiter");
    // 600 RPM: burst 30, then 570 per 62 s.
    let limits = Limits::new(600, 100_000_000);
    let secs = 4;
    let granted = hammer(a.clone(), b.clone(), limits, secs).await;
    let bound = limits.request_burst() + 570.0 / 62.0 * secs as f64 + 1.0;
    assert!(
        (granted as f64) <= bound,
        "{granted} grants in {secs} s from one shared bucket; at most {bound} allowed"
    );
    assert!(granted >= 30, "the burst was granted ({granted})");

    // A pause set through one limiter holds the other.
    a.pause(limits, Duration::from_millis(1_500))
        .await
        .expect("pause");
    let wait = b
        .try_acquire(limits, 1)
        .await
        .expect("redis")
        .expect("paused");
    assert!(wait >= Duration::from_millis(1_300), "{wait:?}");

    // A token debt settled through one limiter makes the other wait.
    let key2 = format!("{key}-tokens");
    let a = RateLimiter::redis(&url, &key2).expect("limiter");
    let b = RateLimiter::redis(&url, &key2).expect("limiter");
    let limits = Limits::new(100_000, 10_000); // token burst 500
    assert!(a.try_acquire(limits, 100).await.expect("redis").is_none());
    a.settle(limits, 5_000).await.expect("settle");
    let wait = b
        .try_acquire(limits, 100)
        .await
        .expect("redis")
        .expect("in debt");
    assert!(wait > Duration::from_secs(20), "{wait:?}");

    let client = deadpool_redis::redis::Client::open(url).expect("client");
    let mut c = client
        .get_multiplexed_async_connection()
        .await
        .expect("conn");
    let _: Result<(), _> = deadpool_redis::redis::cmd("DEL")
        .arg(&key)
        .arg(&key2)
        .query_async(&mut c)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_all_in_one_end_to_end() {
    let srv = FakeLlm::start(always_valid()).await;
    let data = tempfile::tempdir().expect("tempdir");
    let mut files = small_app("aio", 2);
    files.push(("src/config.js".into(), SECRET_JS.into()));
    let zip = crate::common::zip_of(&files);
    let mut env = llm_env(&srv.url, &[]);
    env.push(("PROVIS_DATA_DIR", data.path().display().to_string()));
    let app = cluster::Spawned::all_in_one(data.path(), &env).await;

    let accepted = app.ingest(&zip, "aio-repo").await;
    let job = accepted["jobId"].as_str().expect("jobId").to_string();
    let repo = accepted["repoId"].as_str().expect("repoId").to_string();
    let status = app.wait_done(&job, Duration::from_secs(60)).await;
    assert_eq!(status["phase"], "done", "{status}");

    // The SSE stream of the job ends after `done`; read it whole.
    let events = app.get_text(&format!("/jobs/{job}/events")).await;
    assert!(events.contains("event: done"), "{events}");
    assert!(
        !events.contains("\"no_llm\""),
        "an LLM was configured: {events}"
    );
    assert!(
        !events.contains("\"llm_"),
        "no LLM warning expected: {events}"
    );

    let summaries: Value =
        serde_json::from_str(&app.get_text(&format!("/repo/{repo}/summaries")).await)
            .expect("summaries JSON");
    for f in [
        "src/server.js",
        "src/routes/r0.js",
        "src/routes/r1.js",
        "src/config.js",
    ] {
        let s = summaries["files"]
            .as_array()
            .and_then(|fs| fs.iter().find(|x| x["path"] == f))
            .unwrap_or_else(|| panic!("{f} in {summaries}"));
        assert_eq!(s["source"], "llm", "{f}");
        assert_eq!(s["title"], format!("LLM title of {f}"));
    }
    let reqs = srv.requests();
    assert_eq!(reqs.len(), 4);
    for r in &reqs {
        for secret in SECRETS {
            assert!(!r.raw.contains(secret), "{secret} reached the server");
        }
    }
}
