//! What the embedded end-to-end tests share: a real `provis all-in-one` child process on a
//! free port with its own data dir (a [`Proc`] of the common harness), an HTTP client, the
//! event-stream checks, and readers of the server's SQLite database.

use crate::common::{self, free_port, http_with_timeout, Proc};
pub use crate::common::{read_sse, Sse, KINDS};
use provis::db::{Artifact, Db, Task};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use tempfile::TempDir;
use uuid::Uuid;

/// Longest any single wait in these tests may take before it fails with the server's log.
pub const WAIT: Duration = Duration::from_secs(60);

/// Every event type of docs/events.md.
pub const EVENT_TYPES: [&str; 11] = [
    "upload_received",
    "cache_hit",
    "phase",
    "progress",
    "files_total",
    "batch_parsed",
    "artifact_ready",
    "imports_metrics",
    "warning",
    "error",
    "done",
];

/// A command for the binary with a scrubbed environment (nothing of cluster mode), scratch
/// files under `tmp`, and `cwd` as working directory (so nothing lands in the repository).
pub fn provis_command(cwd: &Path, tmp: &Path) -> Command {
    let mut cmd = common::provis(cwd);
    cmd.env("TMPDIR", tmp)
        .env("RUST_LOG", "info")
        .env("LOG_FORMAT", "json");
    cmd
}

/// A test's own directory tree: `data/` (the server's data dir), `tmp/` (its TMPDIR),
/// `cwd/` (its working directory) and `inputs/` (files the test writes).
pub struct Root {
    pub dir: TempDir,
}

impl Root {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        for d in ["data", "tmp", "cwd", "inputs"] {
            std::fs::create_dir_all(dir.path().join(d)).expect("mkdir");
        }
        Root { dir }
    }
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
    pub fn data(&self) -> PathBuf {
        self.path().join("data")
    }
    pub fn tmp(&self) -> PathBuf {
        self.path().join("tmp")
    }
    pub fn cwd(&self) -> PathBuf {
        self.path().join("cwd")
    }
    pub fn inputs(&self) -> PathBuf {
        self.path().join("inputs")
    }
    /// Writes a file under `inputs/`.
    pub fn input(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.inputs().join(name);
        std::fs::write(&p, bytes).expect("write input");
        p
    }
}

/// A running `provis all-in-one`, killed (SIGKILL) and reaped on drop.
pub struct Server {
    proc: Proc,
    pub base: String,
    pub data: PathBuf,
    pub http: reqwest::Client,
}

impl Server {
    /// Starts all-in-one on `root`'s data dir with extra environment, and waits for /health.
    pub async fn start(root: &Root, env: &[(&str, &str)]) -> Server {
        Self::start_with(root, env, &[]).await
    }

    /// Like [`Server::start`] with extra command-line flags (`--workers 1`, …).
    pub async fn start_with(root: &Root, env: &[(&str, &str)], flags: &[&str]) -> Server {
        let port = free_port();
        let n = std::fs::read_dir(root.path())
            .map(|d| d.count())
            .unwrap_or(0);
        let log = root.path().join(format!("server-{port}-{n}.log"));
        let mut cmd = provis_command(&root.cwd(), &root.tmp());
        cmd.arg("all-in-one")
            .args(["--port", &port.to_string()])
            .arg("--data-dir")
            .arg(root.data())
            .args(flags);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut server = Server {
            proc: Proc::spawn(cmd, "provis all-in-one", log),
            base: format!("http://127.0.0.1:{port}"),
            data: root.data(),
            http: http_with_timeout(WAIT),
        };
        let (_, body) = server.proc.wait_health(&server.base, true).await;
        assert_eq!(body["status"], "ok", "{body}");
        assert_eq!(body["checks"]["database"]["backend"], "sqlite", "{body}");
        server
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The server's process id.
    pub fn pid(&self) -> i32 {
        self.proc.pid()
    }

    /// The last lines of the server's log (for failure messages).
    pub fn log_text(&self) -> String {
        self.proc.log_tail()
    }

    /// SIGKILL now, without any chance to clean up.
    pub fn kill9(&mut self) {
        let st = self.proc.kill().expect("kill -9");
        assert!(!st.success(), "a killed server does not exit cleanly");
    }

    /// `POST /ingest` with a zip file (its bytes), an optional `repo` field.
    pub async fn upload(&self, file_name: &str, zip: Vec<u8>, repo: Option<&str>) -> Upload {
        let form = crate::common::zip_form(zip, file_name, repo);
        let r = self
            .http
            .post(self.url("/ingest"))
            .multipart(form)
            .send()
            .await
            .expect("POST /ingest");
        let status = r.status().as_u16();
        let text = r.text().await.expect("ingest body");
        let body: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("ingest answer is not JSON ({e}): {text}"));
        Upload { status, body }
    }

    /// GET a JSON document; panics unless the status is `want`.
    pub async fn get_json(&self, path: &str, want: u16) -> Value {
        let r = self.http.get(self.url(path)).send().await.expect("GET");
        let status = r.status().as_u16();
        let text = r.text().await.expect("body");
        assert_eq!(status, want, "GET {path}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {text}"))
    }

    /// Follows `GET /jobs/{id}/events` to its end (see [`read_sse`]).
    pub async fn events(&self, job_id: &str) -> Vec<Sse> {
        let resp = self
            .http
            .get(self.url(&format!("/jobs/{job_id}/events")))
            .send()
            .await
            .expect("GET events");
        assert_eq!(resp.status().as_u16(), 200);
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert!(ct.starts_with("text/event-stream"), "content type {ct}");
        match tokio::time::timeout(WAIT, read_sse(resp, None)).await {
            Ok(msgs) => msgs,
            Err(_) => panic!(
                "the event stream of job {job_id} did not end by itself; log:\n{}",
                self.log_text()
            ),
        }
    }

    /// The server's database (the same SQLite file the server writes).
    pub async fn db(&self) -> Db {
        let url = format!("sqlite://{}", self.data.join("provis.db").display());
        Db::connect(&url).await.expect("open provis.db")
    }

    /// The tasks rows of a job, sorted by name then batch index.
    pub async fn tasks(&self, job_id: &str) -> Vec<Task> {
        let id = Uuid::parse_str(job_id).expect("uuid");
        let mut rows = self.db().await.list_tasks(id).await.expect("list_tasks");
        rows.sort_by(|a, b| (&a.name, a.batch_index).cmp(&(&b.name, b.batch_index)));
        rows
    }

    /// The artifact rows of a snapshot.
    pub async fn artifact_rows(&self, snapshot_id: &str) -> Vec<Artifact> {
        let id = Uuid::parse_str(snapshot_id).expect("uuid");
        self.db()
            .await
            .list_artifacts(id)
            .await
            .expect("list_artifacts")
    }
}

/// The answer of `POST /ingest`.
#[derive(Debug, Clone)]
pub struct Upload {
    pub status: u16,
    pub body: Value,
}

impl Upload {
    pub fn str(&self, key: &str) -> String {
        self.body[key]
            .as_str()
            .unwrap_or_else(|| panic!("no string {key:?} in {}", self.body))
            .to_string()
    }
    pub fn job(&self) -> String {
        self.str("jobId")
    }
    pub fn repo(&self) -> String {
        self.str("repoId")
    }
    pub fn snapshot(&self) -> String {
        self.str("snapshotId")
    }
}

/// Checks every message of a job's stream: the `{"id","seq","type","timestamp","jobId","payload"}`
/// shape, `id:` = seq strictly increasing, `event:` = type from the known list, one job, and
/// exactly one terminal event, last. Returns the events' data objects.
pub fn check_stream(msgs: &[Sse], job_id: &str) -> Vec<Value> {
    assert!(!msgs.is_empty(), "no events for job {job_id}");
    let mut last = 0i64;
    let mut out = Vec::new();
    for (i, m) in msgs.iter().enumerate() {
        let d = &m.data;
        let keys: Vec<&str> = d
            .as_object()
            .unwrap_or_else(|| panic!("event is not an object: {d}"))
            .keys()
            .map(String::as_str)
            .collect();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        assert_eq!(
            sorted,
            ["id", "jobId", "payload", "seq", "timestamp", "type"],
            "event shape: {d}"
        );
        let seq = d["seq"].as_i64().expect("seq is a number");
        assert!(seq > last, "ids strictly increase: {seq} after {last}");
        last = seq;
        assert_eq!(
            m.id.as_deref(),
            Some(seq.to_string().as_str()),
            "id: line = seq"
        );
        assert_eq!(d["id"], seq.to_string(), "id field");
        let ty = d["type"].as_str().expect("type");
        assert_eq!(m.kind(), ty, "event: line = type");
        assert!(EVENT_TYPES.contains(&ty), "unknown event type {ty}");
        assert_eq!(d["jobId"], job_id, "jobId");
        let ts = d["timestamp"].as_str().expect("timestamp");
        chrono::DateTime::parse_from_rfc3339(ts).unwrap_or_else(|e| panic!("timestamp {ts}: {e}"));
        assert!(d["payload"].is_object(), "payload is an object: {d}");
        let terminal =
            ty == "done" || (ty == "error" && d["payload"]["terminal"] == Value::Bool(true));
        assert_eq!(
            terminal,
            i + 1 == msgs.len(),
            "exactly one terminal event and it is the last: {d}"
        );
        out.push(d.clone());
    }
    out
}

/// Counts of each event type.
pub fn type_counts(events: &[Value]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for e in events {
        *m.entry(e["type"].as_str().unwrap_or("?").to_string())
            .or_default() += 1;
    }
    m
}

/// Every regular file under `dir`, relative, sorted.
pub fn files_under(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            let ft = e.file_type().expect("file type");
            if ft.is_dir() {
                walk(base, &p, out);
            } else {
                out.push(p.strip_prefix(base).expect("under").display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}
