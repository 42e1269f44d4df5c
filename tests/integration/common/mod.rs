//! The harness every area shares, one of each: the test services' URLs, free ports, an HTTP
//! client with a timeout, a per-test Postgres schema and Redis key prefix (both removed on
//! drop), one in-memory zip builder, one SSE reader, one `provis` command with a scrubbed
//! environment, one child-process type (log file, kill on drop, wait for `/health`), the
//! platform tests' server on top of it, and the in-process [`TestApp`].
//!
//! Services: `TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`),
//! `TEST_REDIS_URL` (default `redis://127.0.0.1:6379`), `TEST_S3_ENDPOINT` (default
//! `http://127.0.0.1:9900`).

pub mod app;
pub mod cluster;
pub mod prom;

pub use app::TestApp;

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::AsyncPgConnection;
use serde_json::Value;
use uuid::Uuid;
use zip::write::SimpleFileOptions;

// ---- services ---------------------------------------------------------------------------

/// The Postgres server of the tests (no schema selected).
pub fn base_pg_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// The Redis server of the tests.
pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// The S3 server of the tests (moto or MinIO).
pub fn s3_endpoint() -> String {
    std::env::var("TEST_S3_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:9900".to_owned())
}

/// A port nothing listens on right now (bound, read, released).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local addr").port()
}

/// True when something accepts TCP connections on 127.0.0.1:`port`.
pub fn listening(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(300),
    )
    .is_ok()
}

/// An HTTP client with a 20 s timeout, so a hung server fails the test instead of hanging it.
pub fn http() -> reqwest::Client {
    http_with_timeout(Duration::from_secs(20))
}

/// An HTTP client whose requests give up after `limit`.
pub fn http_with_timeout(limit: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(limit)
        .build()
        .expect("http client")
}

// ---- per-test Postgres schema and Redis prefix ----------------------------------------------

/// Runs `f` on a synchronous Postgres connection to `base` on its own thread (outside any
/// runtime; `AsyncConnectionWrapper` brings its own there).
fn with_pg<T: Send + 'static>(
    base: String,
    f: impl FnOnce(&mut AsyncConnectionWrapper<AsyncPgConnection>) -> T + Send + 'static,
) -> Option<T> {
    std::thread::spawn(move || {
        let mut conn =
            <AsyncConnectionWrapper<AsyncPgConnection> as diesel::Connection>::establish(&base)
                .ok()?;
        Some(f(&mut conn))
    })
    .join()
    .ok()
    .flatten()
}

/// A fresh Postgres schema; dropped (CASCADE) on drop, also when the test panicked.
pub struct PgSchema {
    /// Schema name.
    pub name: String,
    /// A URL whose connections use only this schema (`options=-csearch_path`).
    pub url: String,
    /// The server it lives on.
    base: String,
}

impl PgSchema {
    /// `provis_<tag>_<random>` on the tests' Postgres.
    pub fn create(tag: &str) -> PgSchema {
        PgSchema::create_on(
            &base_pg_url(),
            &format!("provis_{tag}_{}", Uuid::new_v4().simple()),
        )
    }

    /// Schema `name` on the Postgres at base URL `base` (a fault test's private one).
    pub fn create_on(base: &str, name: &str) -> PgSchema {
        use diesel::connection::SimpleConnection;
        let sql = format!("CREATE SCHEMA {name}");
        with_pg(base.to_owned(), move |c| c.batch_execute(&sql))
            .expect("connect to postgres (TEST_DATABASE_URL)")
            .expect("create schema");
        let sep = if base.contains('?') { '&' } else { '?' };
        PgSchema {
            name: name.to_owned(),
            url: format!("{base}{sep}options=-csearch_path%3D{name}"),
            base: base.to_owned(),
        }
    }

    /// Names of the tables in this schema, sorted.
    pub fn tables(&self) -> Vec<String> {
        use diesel::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Text)]
            table_name: String,
        }
        let sql = format!(
            "SELECT table_name::text AS table_name FROM information_schema.tables \
             WHERE table_schema = '{}' ORDER BY table_name",
            self.name
        );
        let rows: Vec<Row> = with_pg(self.base.clone(), move |c| diesel::sql_query(sql).load(c))
            .expect("connect to postgres")
            .expect("tables");
        rows.into_iter().map(|r| r.table_name).collect()
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        use diesel::connection::SimpleConnection;
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name);
        let _ = with_pg(self.base.clone(), move |c| c.batch_execute(&sql));
    }
}

/// A unique Redis key prefix (`RQ_KEY_PREFIX`); every key under `<name>:` is deleted on drop.
pub struct RedisPrefix {
    /// The prefix.
    pub name: String,
    /// The Redis its keys live on (the shared one unless a test says otherwise).
    pub url: String,
}

impl RedisPrefix {
    /// `provis-<tag>-<random>` on the tests' Redis.
    pub fn new(tag: &str) -> RedisPrefix {
        RedisPrefix {
            name: format!("provis-{tag}-{}", Uuid::new_v4().simple()),
            url: redis_url(),
        }
    }

    /// Keys under the prefix right now.
    pub fn keys(&self) -> Vec<String> {
        use deadpool_redis::redis;
        let client = redis::Client::open(self.url.as_str()).expect("redis url");
        let mut conn = client.get_connection().expect("connect to redis");
        redis::cmd("KEYS")
            .arg(format!("{}:*", self.name))
            .query(&mut conn)
            .expect("KEYS")
    }
}

impl Drop for RedisPrefix {
    fn drop(&mut self) {
        use deadpool_redis::redis;
        let Ok(client) = redis::Client::open(self.url.as_str()) else {
            return;
        };
        let Ok(mut conn) = client.get_connection_with_timeout(Duration::from_secs(5)) else {
            return;
        };
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("{}:*", self.name))
            .query(&mut conn)
            .unwrap_or_default();
        for chunk in keys.chunks(500) {
            let _: Result<i64, _> = redis::cmd("DEL").arg(chunk).query(&mut conn);
        }
    }
}

/// The six artifact kinds (docs/artifacts.md).
pub const KINDS: [&str; 6] = [
    "tree",
    "files",
    "graph",
    "summaries",
    "capabilities",
    "metrics",
];

// ---- zips and SSE ---------------------------------------------------------------------------

/// A zip in memory from (name, content) pairs with the writer's default options (deflated,
/// 1980-01-01); a name ending in `/` is a directory.
pub fn zip_of<N: AsRef<str>, B: AsRef<[u8]>>(entries: &[(N, B)]) -> Vec<u8> {
    zip_with(entries, SimpleFileOptions::default())
}

/// [`zip_of`] with every entry written with `options` (compression, timestamp).
pub fn zip_with<N: AsRef<str>, B: AsRef<[u8]>>(
    entries: &[(N, B)],
    options: SimpleFileOptions,
) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in entries {
        let name = name.as_ref();
        if let Some(dir) = name.strip_suffix('/') {
            w.add_directory(dir, options).expect("zip directory");
        } else {
            w.start_file(name, options).expect("zip entry");
            w.write_all(data.as_ref()).expect("zip write");
        }
    }
    w.finish().expect("zip finish").into_inner()
}

/// One SSE message as received.
#[derive(Debug, Clone)]
pub struct Sse {
    /// The `id:` line.
    pub id: Option<String>,
    /// The `event:` line.
    pub event: Option<String>,
    /// The `data:` lines joined, parsed.
    pub data: Value,
}

impl Sse {
    /// The event type (`message` without an `event:` line).
    pub fn kind(&self) -> &str {
        self.event.as_deref().unwrap_or("message")
    }
}

/// Reads an SSE body chunk by chunk as it streams, parsing `id:`/`event:`/`data:` lines and
/// skipping comment lines, until the server closes the stream. With `stop_after`, returns
/// (dropping the connection) once that many messages passed the predicate.
pub async fn read_sse(resp: reqwest::Response, stop_after: Option<(usize, &str)>) -> Vec<Sse> {
    use futures_util::StreamExt;
    let mut stream = resp.bytes_stream();
    let mut buf: Vec<u8> = Vec::new();
    let mut out = Vec::new();
    let (mut id, mut event, mut data): (Option<String>, Option<String>, Vec<String>) =
        (None, None, Vec::new());
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.expect("SSE chunk");
        buf.extend_from_slice(&chunk);
        while let Some(nl) = buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buf.drain(..=nl).collect();
            let line = String::from_utf8(line).expect("utf8 SSE");
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if !data.is_empty() {
                    let text = data.join("\n");
                    let value: Value = serde_json::from_str(&text)
                        .unwrap_or_else(|e| panic!("SSE data is not JSON ({e}): {text}"));
                    out.push(Sse {
                        id: id.take(),
                        event: event.take(),
                        data: value,
                    });
                    data.clear();
                    if let Some((n, kind)) = stop_after {
                        if out.iter().filter(|m| m.kind() == kind).count() >= n {
                            return out;
                        }
                    }
                }
                id = None;
                event = None;
                continue;
            }
            if line.starts_with(':') {
                continue; // heartbeat comment
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value).to_string();
            match field {
                "id" => id = Some(value),
                "event" => event = Some(value),
                "data" => data.push(value),
                _ => {}
            }
        }
    }
    assert!(
        buf.iter().all(|b| b.is_ascii_whitespace()),
        "stream ended inside a message"
    );
    out
}

// ---- the binary ---------------------------------------------------------------------------

/// The binary under test: the one cargo built for this run, or `PROVIS_BIN` when set.
pub fn provis_bin() -> PathBuf {
    std::env::var_os("PROVIS_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_provis")))
}

/// Every variable the binary (or a library it uses) reads, plus the logging ones: removed
/// from each child, so no setting of the machine running the tests leaks in. A test sets
/// what it means to set.
pub const SCRUBBED_ENV: &[&str] = &[
    // configuration file, data, network
    "PROVIS_CONFIG",
    "PROVIS_DATA_DIR",
    "PROVIS_HOST",
    "PROVIS_PORT",
    "PORT",
    "PROVIS_API_TOKEN",
    "CORS_ORIGINS",
    "PROVIS_WORKERS",
    "PROVIS_QUEUES",
    "PROVIS_DIAG_TASKS",
    "METRICS_PORT",
    "PROVIS_METRICS_PORT",
    // database, queue, storage
    "DATABASE_URL",
    "DB_TIMEOUT_S",
    "DB_STATEMENT_TIMEOUT_S",
    "MIGRATION_WAIT_S",
    "REDIS_URL",
    "REDIS_TIMEOUT_S",
    "RQ_KEY_PREFIX",
    "WORKER_LEASE_S",
    "S3_BUCKET",
    "S3_REGION",
    "S3_ENDPOINT",
    "S3_ENDPOINT_URL",
    "S3_ACCESS_KEY_ID",
    "S3_SECRET_ACCESS_KEY",
    "S3_REQUEST_TIMEOUT_S",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "RUST_S3_SKIP_LOCATION_CONSTRAINT",
    "PRESIGN_TTL_S",
    // pipeline and its limits
    "PARSE_BATCH_SIZE",
    "MAX_UPLOAD_BYTES",
    "MAX_FILE_BYTES",
    "ZIP_MAX_ENTRIES",
    "ZIP_MAX_DEPTH",
    "ZIP_MAX_UNCOMPRESSED_BYTES",
    "ZIP_MAX_RATIO",
    "KEEP_WORK_FILES",
    "UPLOAD_RETENTION_S",
    "PARSER_SANDBOX",
    "PARSER_MEMORY_MB",
    "NODE_BATCH_TIMEOUT_S",
    "NODE_FILE_TIMEOUT_S",
    "NODE_SUBPROC_CONCURRENCY",
    "PROVIS_PARSER_CHILD",
    "PROVIS_SANDBOX_TEST_PARSER",
    "PROVIS_SANDBOX_TEST_WEAKEN",
    // LLM
    "LLM_BASE_URL",
    "LLM_API_KEY",
    "OPENAI_API_KEY",
    "LLM_MODEL",
    "LLM_RPM",
    "LLM_TPM",
    "LLM_CONCURRENCY",
    "LLM_TIMEOUT_S",
    "LLM_MAX_TOKENS",
    "LLM_REPO_TOKEN_BUDGET",
    "LLM_BUCKET_KEY",
    // logs and traces
    "RUST_LOG",
    "LOG_FORMAT",
    "NO_COLOR",
    "TMPDIR",
    "OTEL_SDK_DISABLED",
    "OTEL_SERVICE_NAME",
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
];

/// A `provis` command in `cwd` with the [`SCRUBBED_ENV`] variables removed; stdin closed.
pub fn provis(cwd: &Path) -> Command {
    let mut c = Command::new(provis_bin());
    for k in SCRUBBED_ENV {
        c.env_remove(k);
    }
    c.current_dir(cwd).stdin(Stdio::null());
    c
}

/// Runs a command to completion, failing the test after `limit`.
pub fn run(mut cmd: Command, limit: Duration) -> Output {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = cmd.spawn().expect("spawn provis");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(limit) {
        Ok(out) => out.expect("wait for provis"),
        Err(_) => {
            // SAFETY: plain kill(2) on the pid of our own child.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            panic!("provis did not finish within {limit:?}");
        }
    }
}

/// stdout and stderr as text.
pub fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The last ~60 lines of a log.
pub fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}

/// The names of a process's threads (`/proc/<pid>/task/*/comm`); panics when the process is gone.
pub fn thread_names(pid: u32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap_or_else(|e| panic!("threads of process {pid}: {e}"))
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|name| name.trim().to_string())
        .collect()
}

/// A child process with its stdout and stderr in a log file; killed (SIGKILL) and reaped on
/// drop, whatever happened.
pub struct Proc {
    /// What it is (for messages).
    pub label: String,
    child: Option<Child>,
    /// Its combined stdout/stderr.
    pub log: PathBuf,
}

impl Proc {
    /// Spawns `cmd` with stdout and stderr into a new file `log`.
    pub fn spawn(mut cmd: Command, label: &str, log: PathBuf) -> Proc {
        let out = File::create(&log).expect("create the log file");
        let err = out.try_clone().expect("clone the log handle");
        cmd.stdout(out).stderr(err);
        let child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {label}: {e}"));
        Proc {
            label: label.to_owned(),
            child: Some(child),
            log,
        }
    }

    /// Process id (0 once reaped).
    pub fn pid(&self) -> i32 {
        self.child.as_ref().map_or(0, |c| c.id() as i32)
    }

    /// Sends `sig` to the process (nothing once reaped).
    pub fn signal(&self, sig: i32) {
        if let Some(c) = &self.child {
            // SAFETY: kill(2) on the pid of our own, not yet reaped child.
            unsafe { libc::kill(c.id() as i32, sig) };
        }
    }

    /// The exit status once the process has ended.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// The log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last ~60 lines of the log, named (for failure messages).
    pub fn log_tail(&self) -> String {
        format!(
            "---- {} log (tail) ----\n{}",
            self.label,
            tail(&self.log_text())
        )
    }

    /// Waits for the process to exit; panics with its log past `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let t0 = Instant::now();
        loop {
            if let Some(st) = self.exited() {
                return st;
            }
            assert!(
                t0.elapsed() < limit,
                "{} did not exit within {limit:?}:\n{}",
                self.label,
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGKILL now and reap; the exit status.
    pub fn kill(&mut self) -> Option<ExitStatus> {
        let mut c = self.child.take()?;
        let _ = c.kill();
        c.wait().ok()
    }

    /// SIGTERM, then up to 20 s for a graceful stop (SIGKILL after that); the exit status.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        self.signal(libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(status) = self.exited() {
                self.child = None;
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill()
    }

    /// Polls `{base}/health` until it answers — any status, or only a 2xx when `until_ok` —
    /// and returns the status and the body (Null when not JSON). Panics with the log when the
    /// process exits first or after 60 s.
    pub async fn wait_health(&mut self, base: &str, until_ok: bool) -> (u16, Value) {
        let client = http_with_timeout(Duration::from_secs(5));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.exited() {
                panic!(
                    "{} exited ({status}) before serving /health; log:\n{}",
                    self.label,
                    self.log_text()
                );
            }
            if let Ok(resp) = client.get(format!("{base}/health")).send().await {
                let status = resp.status();
                let body = resp.json().await.unwrap_or(Value::Null);
                if !until_ok || status.is_success() {
                    return (status.as_u16(), body);
                }
            }
            assert!(
                Instant::now() < deadline,
                "{} did not answer /health{} within 60 s; log:\n{}",
                self.label,
                if until_ok { " with a 2xx" } else { "" },
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

// ---- the platform tests' server ---------------------------------------------------------------

/// A spawned `provis` server (serve or all-in-one) on 127.0.0.1; stopped on drop.
pub struct Server {
    proc: Proc,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
}

impl Server {
    /// Spawns `cmd` (host 127.0.0.1, output into `log_dir/provis-<port>.log`) and waits until
    /// it answers `/health` (any status). Panics with the log when it exits first.
    pub async fn start(mut cmd: Command, port: u16, log_dir: &Path) -> Server {
        cmd.env("PROVIS_HOST", "127.0.0.1");
        let log = log_dir.join(format!("provis-{port}.log"));
        let mut server = Server {
            proc: Proc::spawn(cmd, "provis", log),
            base: format!("http://127.0.0.1:{port}"),
        };
        server.proc.wait_health(&server.base, false).await;
        server
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The exit status when the process has ended.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.proc.exited()
    }

    /// What the server wrote so far.
    pub fn logs(&self) -> String {
        self.proc.log_text()
    }

    /// SIGTERM, then up to 20 s for a graceful stop (SIGKILL after that); returns the status.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        self.proc.stop()
    }
}

/// A small JavaScript repo as a zip: `a.js` imports `./b`, and `lodash`.
pub fn demo_zip() -> Vec<u8> {
    zip_of(&[
        (
            "demo/src/a.js",
            "import b from './b';\nimport _ from 'lodash';\nexport default () => b + _.size([]);\n",
        ),
        ("demo/src/b.js", "export default 41;\n"),
        (
            "demo/package.json",
            "{\"name\":\"demo\",\"dependencies\":{\"lodash\":\"4\"}}\n",
        ),
    ])
}

/// The multipart form of `POST /ingest`: the zip as `file` named `file_name`, and `repo`
/// when given.
pub fn zip_form(zip: Vec<u8>, file_name: &str, repo: Option<&str>) -> reqwest::multipart::Form {
    let part = reqwest::multipart::Part::bytes(zip)
        .file_name(file_name.to_string())
        .mime_str("application/zip")
        .expect("mime");
    let form = reqwest::multipart::Form::new().part("file", part);
    match repo {
        Some(r) => form.text("repo", r.to_string()),
        None => form,
    }
}

/// Uploads `zip` as `demo.zip`; returns the 202 body.
pub async fn ingest(server: &Server, zip: Vec<u8>, token: Option<&str>) -> Value {
    let form = zip_form(zip, "demo.zip", None);
    let mut req = http().post(server.url("/ingest")).multipart(form);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("POST /ingest");
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.expect("ingest answers JSON");
    assert_eq!(status, 202, "ingest: {body}");
    body
}

/// Polls `/status/<job>` until the job is `done` (fails the test on `failed` or after 60 s).
pub async fn wait_done(server: &Server, job: &str, token: Option<&str>) -> Value {
    let client = http();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut req = client.get(server.url(&format!("/status/{job}")));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let body: Value = req
            .send()
            .await
            .expect("GET /status")
            .json()
            .await
            .expect("status JSON");
        match body["phase"].as_str() {
            Some("done") => return body,
            Some("failed") => panic!("job failed: {body}\nlog:\n{}", server.logs()),
            _ => {}
        }
        assert!(
            Instant::now() < deadline,
            "job not done within 60 s: {body}\nlog:\n{}",
            server.logs()
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}
