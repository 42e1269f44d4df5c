//! provis processes over HTTP: `all-in-one` (embedded) and `serve` + `work` (cluster), and
//! the test that two worker processes share one `LLM_RPM`.

use super::server::{always_valid, FakeLlm, Recorded};
use super::support::llm_env;
use crate::common::{self, free_port, zip_of, PgSchema, Proc, RedisPrefix};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// provis processes (each a [`Proc`]: killed on drop) and the API base URL.
pub struct Spawned {
    pub base: String,
    procs: Vec<Proc>,
    http: reqwest::Client,
}

/// `provis <args>` with `env` (and `RUST_LOG=info`), its output into `dir/<name>.log`.
fn command(args: &[&str], env: &[(&str, String)], dir: &Path) -> Command {
    let mut cmd = common::provis(dir);
    cmd.args(args).env("RUST_LOG", "info");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

impl Spawned {
    fn start(&mut self, args: &[&str], env: &[(&str, String)], dir: &Path, name: &str) {
        let log = dir.join(format!("{name}.log"));
        self.procs
            .push(Proc::spawn(command(args, env, dir), name, log));
    }

    /// The processes' logs (for failure messages).
    pub fn logs(&self) -> String {
        self.procs
            .iter()
            .map(Proc::log_tail)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Waits until the first process (the API) answers `/health` with a 2xx and the others
    /// are still running.
    async fn wait_healthy(&mut self) {
        let base = self.base.clone();
        self.procs[0].wait_health(&base, true).await;
        for i in 1..self.procs.len() {
            if let Some(st) = self.procs[i].exited() {
                panic!("a provis process exited ({st}):\n{}", self.logs());
            }
        }
    }

    fn empty() -> Spawned {
        let port = free_port();
        Spawned {
            base: format!("http://127.0.0.1:{port}"),
            procs: Vec::new(),
            http: reqwest::Client::new(),
        }
    }

    fn port(&self) -> String {
        self.base.rsplit(':').next().unwrap_or_default().to_string()
    }

    /// `provis all-in-one` on `data_dir`, healthy.
    pub async fn all_in_one(data_dir: &Path, env: &[(&str, String)]) -> Spawned {
        let mut s = Spawned::empty();
        let port = s.port();
        let dd = data_dir.display().to_string();
        s.start(
            &[
                "all-in-one",
                "--port",
                &port,
                "--data-dir",
                &dd,
                "--workers",
                "2",
            ],
            env,
            data_dir,
            "all-in-one",
        );
        s.wait_healthy().await;
        s
    }

    /// `provis serve` and `workers` × `provis work --concurrency 1`, healthy.
    pub async fn cluster(dir: &Path, env: &[(&str, String)], workers: usize) -> Spawned {
        let mut s = Spawned::empty();
        let port = s.port();
        s.start(&["serve", "--port", &port], env, dir, "serve");
        for i in 0..workers {
            let name = format!("llm-w{i}-{}", Uuid::new_v4().simple());
            s.start(
                &[
                    "work",
                    "--queues",
                    "high,normal,low",
                    "--name",
                    &name,
                    "--concurrency",
                    "1",
                ],
                env,
                dir,
                &format!("work{i}"),
            );
        }
        s.wait_healthy().await;
        s
    }

    /// `POST /ingest` of a zip; the 202 body.
    pub async fn ingest(&self, zip: &[u8], repo: &str) -> Value {
        let form = crate::common::zip_form(zip.to_vec(), &format!("{repo}.zip"), Some(repo));
        let r = self
            .http
            .post(format!("{}/ingest", self.base))
            .multipart(form)
            .send()
            .await
            .expect("POST /ingest");
        let status = r.status();
        let body: Value = r.json().await.expect("ingest answer is JSON");
        assert_eq!(status.as_u16(), 202, "{body}\n{}", self.logs());
        body
    }

    /// Polls `/status/{job}` until the job ends; the last status.
    pub async fn wait_done(&self, job: &str, limit: Duration) -> Value {
        let t0 = Instant::now();
        loop {
            let r = self
                .http
                .get(format!("{}/status/{job}", self.base))
                .send()
                .await
                .expect("GET /status");
            let v: Value = r.json().await.unwrap_or(Value::Null);
            if v["phase"] == "done" || v["phase"] == "failed" {
                return v;
            }
            assert!(
                t0.elapsed() < limit,
                "job {job} not finished in {limit:?}: {v}\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// `GET path` as text (status must be 2xx).
    pub async fn get_text(&self, path: &str) -> String {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("GET");
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.text().await.expect("body")
    }
}

/// `n` small, distinct modules `<tag>_m<i>.js` at the top level (distinct content: no cache
/// hits across repos; no common directory for the upload to strip).
fn modules(tag: &str, n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| {
            (
                format!("{tag}_m{i}.js"),
                format!("// {tag} module {i}\nexport function {tag}{i}(x) {{ return x + {i}; }}\n"),
            )
        })
        .collect()
}

/// Most requests that arrived within any 60 s window.
fn max_per_minute(reqs: &[Recorded]) -> usize {
    let times: Vec<Instant> = reqs.iter().map(|r| r.at).collect();
    (0..times.len())
        .map(|i| {
            times[i..]
                .iter()
                .take_while(|t| **t - times[i] < Duration::from_secs(60))
                .count()
        })
        .max()
        .unwrap_or(0)
}

/// Two `provis work` processes summarizing two repositories at once, with `LLM_RPM=60`
/// shared through the Redis bucket: the server never sees more than 60 requests in a minute,
/// although the work needs 70 and, unlimited, would send them in a second or two.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_worker_processes_share_llm_rpm() {
    const PER_REPO: usize = 35;
    let srv = FakeLlm::start(always_valid()).await;
    let pg = PgSchema::create("llmtest");
    let redis = RedisPrefix::new("test-llm");
    // Under the prefix, so the guard deletes it too.
    let bucket_key = format!("{}:llm-bucket", redis.name);
    let dir = tempfile::tempdir().expect("tempdir");
    let bucket = format!("provis-llm-{}", Uuid::new_v4().simple());
    let mut env = llm_env(
        &srv.url,
        &[
            ("LLM_RPM", "60"),
            ("LLM_CONCURRENCY", "4"),
            ("LLM_BUCKET_KEY", &bucket_key),
        ],
    );
    let s3 = common::s3_endpoint();
    env.extend([
        ("DATABASE_URL", pg.url.clone()),
        ("REDIS_URL", redis.url.clone()),
        ("RQ_KEY_PREFIX", redis.name.clone()),
        ("S3_ENDPOINT_URL", s3),
        ("S3_BUCKET", bucket),
        ("S3_ACCESS_KEY_ID", "test".to_string()),
        ("S3_SECRET_ACCESS_KEY", "test".to_string()),
        ("RUST_S3_SKIP_LOCATION_CONSTRAINT", "true".to_string()),
        ("PROVIS_DATA_DIR", dir.path().display().to_string()),
    ]);
    let mut migrate = Proc::spawn(
        command(&["migrate"], &env, dir.path()),
        "migrate",
        dir.path().join("migrate.log"),
    );
    let status = migrate.wait_exit(Duration::from_secs(120));
    assert!(status.success(), "migrate: {}", migrate.log_text());
    let cluster = Spawned::cluster(dir.path(), &env, 2).await;

    let a = cluster
        .ingest(&zip_of(&modules("alpha", PER_REPO)), "llm-rpm-alpha")
        .await;
    let b = cluster
        .ingest(&zip_of(&modules("beta", PER_REPO)), "llm-rpm-beta")
        .await;
    let mut repos = Vec::new();
    for acc in [&a, &b] {
        let job = acc["jobId"].as_str().expect("jobId");
        let status = cluster.wait_done(job, Duration::from_secs(200)).await;
        assert_eq!(status["phase"], "done", "{status}\n{}", cluster.logs());
        repos.push(acc["repoId"].as_str().expect("repoId").to_string());
    }

    let reqs = srv.requests();
    let mut files: Vec<String> = reqs.iter().filter_map(Recorded::file).collect();
    files.sort();
    let mut expected: Vec<String> = modules("alpha", PER_REPO)
        .into_iter()
        .chain(modules("beta", PER_REPO))
        .map(|(p, _)| p)
        .collect();
    expected.sort();
    assert_eq!(files, expected, "every module summarized exactly once");

    let worst = max_per_minute(&reqs);
    let span = reqs.last().expect("requests").at - reqs[0].at;
    eprintln!(
        "two workers, LLM_RPM=60: {} requests over {:.1} s, at most {worst} in any 60 s window",
        reqs.len(),
        span.as_secs_f64()
    );
    assert!(
        worst <= 60,
        "{worst} requests reached the server within 60 s (LLM_RPM=60)"
    );

    // Both processes were calling at the same time: the repos' requests interleave (each
    // worker runs one task at a time, so one process cannot serve both summarize tasks).
    let is_alpha = |r: &Recorded| r.file().is_some_and(|f| f.starts_with("alpha_"));
    let switches = reqs
        .windows(2)
        .filter(|w| is_alpha(&w[0]) != is_alpha(&w[1]))
        .count();
    assert!(
        switches >= 10,
        "requests of the two jobs hardly interleave ({switches} switches)"
    );

    for repo in &repos {
        let doc: Value =
            serde_json::from_str(&cluster.get_text(&format!("/repo/{repo}/summaries")).await)
                .expect("summaries");
        let files = doc["files"].as_array().expect("files");
        assert_eq!(files.len(), PER_REPO);
        assert!(files.iter().all(|f| f["source"] == "llm"), "{doc}");
    }
}
