//! Shared support of the binary-level platform tests (`tests/cli.rs`, `tests/api_platform.rs`):
//! run the real `provis` binary with a clean environment, spawned servers that are always
//! stopped, a fresh Postgres schema per test, a unique Redis key prefix, a small repo zip.
//!
//! Services: `TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`),
//! `TEST_REDIS_URL` (default `redis://127.0.0.1:6379`).

#![allow(dead_code)] // each test file uses a different part

pub mod cluster;
pub mod prom;

use std::fs::File;
use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use uuid::Uuid;

/// The binary under test (built by cargo for this test run).
pub const BIN: &str = env!("CARGO_BIN_EXE_provis");

/// The Postgres server of the tests.
pub fn base_pg_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// The Redis server of the tests.
pub fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// A `provis` command in `cwd` with an empty environment (only `PATH` and `HOME`), so no
/// setting of the machine running the tests leaks in; stdin closed.
pub fn provis(cwd: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.env_clear().current_dir(cwd).stdin(Stdio::null());
    for keep in ["PATH", "HOME"] {
        if let Some(v) = std::env::var_os(keep) {
            c.env(keep, v);
        }
    }
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

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
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

/// An HTTP client with a timeout, so a hung server fails the test instead of hanging it.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("http client")
}

/// A spawned `provis` server (serve or all-in-one); stopped on drop, whatever happened.
pub struct Server {
    child: Option<Child>,
    /// The port it was told to use.
    pub port: u16,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    log: PathBuf,
}

impl Server {
    /// Spawns `cmd` (host 127.0.0.1, stderr into `log_dir/<name>.log`) and waits until it
    /// answers `/health` (any status). Panics with the log when it exits first.
    pub async fn start(mut cmd: Command, port: u16, log_dir: &Path) -> Server {
        let log = log_dir.join(format!("provis-{port}.log"));
        let file = File::create(&log).expect("create the server log");
        cmd.env("PROVIS_HOST", "127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::from(file));
        let child = cmd.spawn().expect("spawn provis");
        let mut server = Server {
            child: Some(child),
            port,
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        server.wait_ready().await;
        server
    }

    async fn wait_ready(&mut self) {
        let client = http();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.exited() {
                panic!(
                    "provis exited ({status}) before serving; log:\n{}",
                    self.logs()
                );
            }
            if let Ok(resp) = client.get(self.url("/health")).send().await {
                let _ = resp.bytes().await;
                return;
            }
            assert!(
                Instant::now() < deadline,
                "provis did not answer /health within 60 s; log:\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The exit status when the process has ended.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// What the server wrote to stderr so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, then up to 20 s for a graceful stop (SIGKILL after that); returns the status.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        // SAFETY: plain kill(2) on the pid of our own, not yet reaped, child.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        child.wait().ok()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A fresh Postgres schema; dropped (CASCADE) on drop.
pub struct PgSchema {
    /// Schema name.
    pub name: String,
    /// A URL whose connections use only this schema.
    pub url: String,
}

/// Runs `f` on a synchronous Postgres connection on its own thread (outside any runtime).
fn with_pg<T: Send + 'static>(
    f: impl FnOnce(&mut AsyncConnectionWrapper<AsyncPgConnection>) -> T + Send + 'static,
) -> T {
    std::thread::spawn(move || {
        let mut conn =
            <AsyncConnectionWrapper<AsyncPgConnection> as diesel::Connection>::establish(
                &base_pg_url(),
            )
            .expect("connect to postgres (TEST_DATABASE_URL)");
        f(&mut conn)
    })
    .join()
    .expect("postgres thread")
}

use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::AsyncPgConnection;

impl PgSchema {
    /// Creates `provis_plat_<random>`.
    pub fn create() -> PgSchema {
        use diesel::connection::SimpleConnection;
        let name = format!("provis_plat_{}", Uuid::new_v4().simple());
        let sql = format!("CREATE SCHEMA {name}");
        with_pg(move |c| c.batch_execute(&sql)).expect("create schema");
        let base = base_pg_url();
        let sep = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{sep}options=-csearch_path%3D{name}");
        PgSchema { name, url }
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
        let rows: Vec<Row> = with_pg(move |c| diesel::sql_query(sql).load(c)).expect("tables");
        rows.into_iter().map(|r| r.table_name).collect()
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        use diesel::connection::SimpleConnection;
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name);
        let _ = std::thread::spawn(move || {
            if let Ok(mut c) =
                <AsyncConnectionWrapper<AsyncPgConnection> as diesel::Connection>::establish(
                    &base_pg_url(),
                )
            {
                let _ = c.batch_execute(&sql);
            }
        })
        .join();
    }
}

/// A unique RQ key prefix; its keys are deleted on drop.
pub struct RedisPrefix(pub String);

impl RedisPrefix {
    /// `provis-plat-<random>`.
    pub fn new() -> RedisPrefix {
        RedisPrefix(format!("provis-plat-{}", Uuid::new_v4().simple()))
    }

    /// Keys under the prefix right now.
    pub fn keys(&self) -> Vec<String> {
        use deadpool_redis::redis;
        let client = redis::Client::open(redis_url()).expect("redis url");
        let mut conn = client
            .get_connection()
            .expect("connect to redis (TEST_REDIS_URL)");
        redis::cmd("KEYS")
            .arg(format!("{}:*", self.0))
            .query(&mut conn)
            .expect("KEYS")
    }
}

impl Drop for RedisPrefix {
    fn drop(&mut self) {
        use deadpool_redis::redis;
        let keys = self.keys();
        if keys.is_empty() {
            return;
        }
        if let Ok(client) = redis::Client::open(redis_url()) {
            if let Ok(mut conn) = client.get_connection() {
                let _: Result<i64, _> = redis::cmd("DEL").arg(keys).query(&mut conn);
            }
        }
    }
}

/// A small JavaScript repo as a zip: `a.js` imports `./b`, and `lodash`.
pub fn demo_zip() -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut out);
        let opts = zip::write::SimpleFileOptions::default();
        let files = [
            (
                "demo/src/a.js",
                "import b from './b';\nimport _ from 'lodash';\nexport default () => b + _.size([]);\n",
            ),
            ("demo/src/b.js", "export default 41;\n"),
            ("demo/package.json", "{\"name\":\"demo\",\"dependencies\":{\"lodash\":\"4\"}}\n"),
        ];
        for (name, body) in files {
            zip.start_file(name, opts).expect("zip entry");
            zip.write_all(body.as_bytes()).expect("zip write");
        }
        zip.finish().expect("zip finish");
    }
    out.into_inner()
}

/// Uploads `zip` as `demo.zip`; returns the 202 body.
pub async fn ingest(server: &Server, zip: Vec<u8>, token: Option<&str>) -> Value {
    let part = reqwest::multipart::Part::bytes(zip)
        .file_name("demo.zip")
        .mime_str("application/zip")
        .expect("mime");
    let form = reqwest::multipart::Form::new().part("file", part);
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
