//! A provis cluster for one test: `provis serve` plus `provis work` processes on a fresh
//! Postgres schema, a unique Redis key prefix and a unique S3 bucket, all torn down on drop.
//!
//! Services come from `TEST_DATABASE_URL`, `TEST_REDIS_URL` and `TEST_S3_ENDPOINT` (defaults:
//! the local Postgres, Redis and moto of the development machine and CI).

pub mod checks;
pub mod faults;
pub mod fixtures;
pub mod observe;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use deadpool_redis::redis::{self, aio::MultiplexedConnection};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use provis::artifacts::ArtifactStore;
use provis::config::S3Settings;
use provis::db::Db;
use serde_json::Value;
use uuid::Uuid;

use super::{
    base_pg_url, free_port, http_with_timeout, provis, read_sse, redis_url, s3_endpoint, tail,
    PgSchema, Proc, RedisPrefix,
};

/// Longest a job may take from upload to `done` in these tests (a generous bound for a
/// loaded 2-core machine, not a speed assertion).
pub const JOB_DEADLINE: Duration = Duration::from_secs(120);

/// What a cluster is started with.
#[derive(Debug, Clone)]
pub struct Options {
    /// `provis work` processes (named w1, w2, …).
    pub workers: usize,
    /// `PARSE_BATCH_SIZE`, when not the default.
    pub parse_batch_size: Option<usize>,
    /// `WORKER_LEASE_S`, when not the default.
    pub worker_lease_s: Option<u64>,
    /// `--concurrency` of each worker.
    pub concurrency: usize,
    /// `KEEP_WORK_FILES=true`: jobs keep their work files after they end.
    pub keep_work_files: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            workers: 2,
            parse_batch_size: None,
            worker_lease_s: None,
            concurrency: 1,
            keep_work_files: false,
        }
    }
}

/// One test's cluster.
pub struct Cluster {
    /// `DATABASE_URL` selecting the cluster's schema.
    pub db_url: String,
    /// `RQ_KEY_PREFIX`.
    pub prefix: String,
    /// `REDIS_URL` of the processes (the shared Redis, or a fault test's private one).
    pub redis_url: String,
    /// `S3_BUCKET`.
    pub bucket: String,
    /// `http://127.0.0.1:<port>` of `provis serve`.
    pub base: String,
    /// HTTP client.
    pub http: reqwest::Client,
    /// The database, from the test.
    pub db: Db,
    /// Logs and the processes' working directory.
    pub dir: tempfile::TempDir,
    /// Environment of every spawned process.
    pub env: BTreeMap<String, String>,
    /// `provis serve`.
    pub server: Option<Proc>,
    /// `provis work` processes; index i is worker `w{i+1}`.
    pub workers: Vec<Option<Proc>>,
    /// The schema (dropped after the processes are gone).
    _schema: PgSchema,
    /// The keys under `prefix` (deleted after the processes are gone).
    keys: RedisPrefix,
}

impl Cluster {
    /// Creates the schema, migrates it with `provis migrate`, then starts `serve` and the
    /// workers and waits until `/health` answers 200 and every worker is registered.
    pub async fn start(opts: Options) -> Cluster {
        Cluster::start_on(opts, redis_url(), None).await
    }

    /// [`Cluster::start`] with the processes on the Redis at `redis` and, when given, the
    /// Postgres at base URL `pg` (private instances of a fault test).
    pub async fn start_on(opts: Options, redis: String, pg: Option<String>) -> Cluster {
        let mut c = Cluster::prepare_on(&opts, pg.unwrap_or_else(base_pg_url)).await;
        c.redis_url = redis;
        c.start_server(&c.redis_env()).await;
        c.wait_healthy().await;
        for i in 0..opts.workers {
            c.start_worker(i, opts.concurrency);
        }
        c.wait_workers(opts.workers).await;
        c
    }

    /// Schema, migrations, environment; no process running yet.
    pub async fn prepare(opts: &Options) -> Cluster {
        Cluster::prepare_on(opts, base_pg_url()).await
    }

    /// [`Cluster::prepare`] on the Postgres at base URL `pg_base`.
    pub async fn prepare_on(opts: &Options, pg_base: String) -> Cluster {
        let id = Uuid::new_v4().simple().to_string()[..16].to_string();
        let schema = PgSchema::create_on(&pg_base, &format!("provis_e2e_{id}"));
        let db_url = schema.url.clone();
        let keys = RedisPrefix {
            name: format!("provis-e2e-{id}"),
            url: redis_url(),
        };
        let prefix = keys.name.clone();
        let bucket = format!("provis-e2e-{id}");
        let dir = tempfile::tempdir().expect("tempdir");
        let mut env = BTreeMap::new();
        for (k, v) in [
            ("DATABASE_URL", db_url.as_str()),
            ("RQ_KEY_PREFIX", prefix.as_str()),
            ("S3_ENDPOINT_URL", s3_endpoint().as_str()),
            ("S3_BUCKET", bucket.as_str()),
            ("S3_ACCESS_KEY_ID", "provis-test"),
            ("S3_SECRET_ACCESS_KEY", "provis-test-secret"),
            ("RUST_S3_SKIP_LOCATION_CONSTRAINT", "true"),
            ("RUST_LOG", "info"),
            // Plain log files (tracing-subscriber honours NO_COLOR).
            ("NO_COLOR", "1"),
            // Workers serve no /metrics unless a test gives them a port of their own (the
            // default, 9464, is one port per host).
            ("METRICS_PORT", "0"),
        ] {
            env.insert(k.to_string(), v.to_string());
        }
        if let Some(n) = opts.parse_batch_size {
            env.insert("PARSE_BATCH_SIZE".into(), n.to_string());
        }
        if let Some(n) = opts.worker_lease_s {
            env.insert("WORKER_LEASE_S".into(), n.to_string());
        }
        if opts.keep_work_files {
            env.insert("KEEP_WORK_FILES".into(), "true".into());
        }
        let db = Db::connect(&db_url).await.expect("database pool");
        let port = free_port();
        let mut c = Cluster {
            db_url,
            prefix,
            redis_url: redis_url(),
            bucket,
            base: format!("http://127.0.0.1:{port}"),
            http: http_with_timeout(Duration::from_secs(60)),
            db,
            dir,
            env,
            server: None,
            workers: Vec::new(),
            _schema: schema,
            keys,
        };
        let mut migrate = c.spawn(&["migrate"], "migrate", &[]);
        let status = migrate.wait_exit(Duration::from_secs(60));
        assert!(
            status.success(),
            "provis migrate failed: {status}\n{}",
            migrate.log_text()
        );
        assert_eq!(
            c.db.pending_migrations().await.expect("read migrations"),
            0,
            "provis migrate left migrations pending"
        );
        c.env.insert("PROVIS_TEST_PORT".into(), port.to_string());
        c
    }

    /// The usual `REDIS_URL` for spawned processes.
    pub fn redis_env(&self) -> Vec<(String, String)> {
        vec![("REDIS_URL".to_string(), self.redis_url.clone())]
    }

    /// Starts the binary with `args`, the cluster's environment plus `extra`.
    pub fn spawn(&self, args: &[&str], label: &str, extra: &[(String, String)]) -> Proc {
        let mut cmd = provis(self.dir.path());
        cmd.args(args);
        cmd.envs(
            self.env
                .iter()
                .filter(|(k, _)| !k.starts_with("PROVIS_TEST_")),
        );
        cmd.envs(extra.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        Proc::spawn(cmd, label, self.dir.path().join(format!("{label}.log")))
    }

    /// The port `serve` listens on.
    pub fn port(&self) -> String {
        self.env["PROVIS_TEST_PORT"].clone()
    }

    /// Starts `provis serve --port P` with `extra` environment.
    pub async fn start_server(&mut self, extra: &[(String, String)]) {
        let port = self.port();
        let p = self.spawn(
            &["serve", "--host", "127.0.0.1", "--port", &port],
            "serve",
            extra,
        );
        self.server = Some(p);
    }

    /// Polls `/health` until it answers (any status); returns status and body.
    pub async fn wait_health_answer(&mut self) -> (u16, Value) {
        let base = self.base.clone();
        let server = self.server.as_mut().expect("provis serve was started");
        server.wait_health(&base, false).await
    }

    /// Waits for a 200 from `/health`.
    pub async fn wait_healthy(&mut self) {
        let base = self.base.clone();
        let server = self.server.as_mut().expect("provis serve was started");
        server.wait_health(&base, true).await;
    }

    /// Starts worker `w{i+1}`.
    pub fn start_worker(&mut self, i: usize, concurrency: usize) {
        let name = format!("w{}", i + 1);
        let conc = concurrency.to_string();
        let p = self.spawn(
            &[
                "work",
                "--queues",
                "high,normal,low",
                "--name",
                &name,
                "--concurrency",
                &conc,
            ],
            &name,
            &self.redis_env(),
        );
        while self.workers.len() <= i {
            self.workers.push(None);
        }
        self.workers[i] = Some(p);
    }

    /// Waits until `n` workers are registered in `<prefix>:workers`.
    pub async fn wait_workers(&mut self, n: usize) {
        let t0 = Instant::now();
        let mut r = self.redis().await;
        loop {
            let members: Vec<String> = redis::cmd("SMEMBERS")
                .arg(format!("{}:workers", self.prefix))
                .query_async(&mut r)
                .await
                .expect("SMEMBERS workers");
            if members.len() >= n {
                return;
            }
            for (i, w) in self.workers.iter_mut().enumerate() {
                if let Some(st) = w.as_mut().and_then(Proc::exited) {
                    let log = w.as_ref().map(Proc::log_text).unwrap_or_default();
                    panic!("worker w{} exited ({st}) at start:\n{log}", i + 1);
                }
            }
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "workers not registered within 60 s: {members:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A URL on the API.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A process's log by label (`serve`, `w1`, …).
    pub fn log(&self, label: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("{label}.log"))).unwrap_or_default()
    }

    /// A Redis connection.
    pub async fn redis(&self) -> MultiplexedConnection {
        redis::Client::open(self.redis_url.as_str())
            .expect("redis url")
            .get_multiplexed_async_connection()
            .await
            .expect("connect to Redis (TEST_REDIS_URL)")
    }

    /// The artifact store as the cluster sees it (the same bucket).
    pub async fn store(&self) -> ArtifactStore {
        ArtifactStore::s3(&self.s3_settings())
            .await
            .expect("open the test bucket")
    }

    /// S3 settings of the cluster's bucket.
    pub fn s3_settings(&self) -> S3Settings {
        S3Settings {
            bucket: self.bucket.clone(),
            region: "us-east-1".to_string(),
            endpoint_url: Some(s3_endpoint()),
            access_key_id: Some("provis-test".to_string()),
            secret_access_key: Some("provis-test-secret".to_string()),
            request_timeout_s: 300,
        }
    }

    /// `POST /ingest` with the zip as multipart `file` (and `repo` when given).
    pub async fn upload(&self, zip: Vec<u8>, filename: &str, repo: Option<&str>) -> (u16, Value) {
        let form = super::zip_form(zip, filename, repo);
        let resp = self
            .http
            .post(self.url("/ingest"))
            .multipart(form)
            .send()
            .await
            .expect("POST /ingest");
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.expect("ingest answer is JSON");
        (status, body)
    }

    /// Uploads and expects 202; returns the answer.
    pub async fn submit(&self, zip: Vec<u8>, filename: &str, repo: Option<&str>) -> Accepted {
        let (status, body) = self.upload(zip, filename, repo).await;
        assert_eq!(status, 202, "POST /ingest answered {status}: {body}");
        Accepted::from(&body)
    }

    /// Follows `GET /jobs/{id}/events` (after `after`, when given) until the server ends the
    /// stream; returns every event. Panics past [`JOB_DEADLINE`].
    pub async fn follow(&self, job: Uuid, after: Option<i64>) -> Vec<SseEvent> {
        let mut url = self.url(&format!("/jobs/{job}/events"));
        if let Some(a) = after {
            url.push_str(&format!("?last_event_id={a}"));
        }
        let fut = async {
            let resp = reqwest::Client::new()
                .get(&url)
                .send()
                .await
                .expect("GET events");
            assert_eq!(resp.status().as_u16(), 200, "events endpoint");
            let ctype = resp
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            assert!(
                ctype.starts_with("text/event-stream"),
                "content type {ctype}"
            );
            read_sse(resp, None)
                .await
                .into_iter()
                .filter_map(SseEvent::of)
                .collect::<Vec<_>>()
        };
        match tokio::time::timeout(JOB_DEADLINE, fut).await {
            Ok(ev) => ev,
            Err(_) => panic!(
                "job {job}: the event stream did not end within {JOB_DEADLINE:?}\nserve:\n{}\nw1:\n{}\nw2:\n{}",
                tail(&self.log("serve")),
                tail(&self.log("w1")),
                tail(&self.log("w2"))
            ),
        }
    }

    /// `GET path` as JSON with its status.
    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let r = self
            .http
            .get(self.url(path))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e:?}\nserve:\n{}", tail(&self.log("serve"))));
        let status = r.status().as_u16();
        let body = r.json().await.unwrap_or(Value::Null);
        (status, body)
    }

    /// Rows of `table` in the cluster's schema matching `filter` (an SQL condition).
    pub async fn count(&self, table: &str, filter: &str) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = AsyncPgConnection::establish(&self.db_url)
            .await
            .expect("connect to the test schema");
        let rows: Vec<Count> =
            diesel::sql_query(format!("SELECT count(*) AS n FROM {table} WHERE {filter}"))
                .load(&mut conn)
                .await
                .expect("count query");
        <[Count]>::first(&rows).map_or(0, |c| c.n)
    }

    /// Kills worker `w{i+1}` with SIGKILL and reaps it.
    pub fn kill_worker(&mut self, i: usize) {
        if let Some(mut p) = self.workers[i].take() {
            p.kill();
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for label in ["serve", "w1", "w2"] {
                eprintln!("---- {label} log (tail) ----\n{}", tail(&self.log(label)));
            }
        }
        self.server.take();
        self.workers.clear();
        // The keys live where the processes were last told to look.
        self.keys.url = self.redis_url.clone();
        let s3 = self.s3_settings();
        // Own thread and runtime: Drop may run inside the test's runtime.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(delete_bucket(&s3));
        })
        .join();
        // Then the schema and the keys go (the fields' own drops).
    }
}

/// Empties and deletes a test bucket (best effort).
pub async fn delete_bucket(s: &S3Settings) {
    let Some(endpoint) = &s.endpoint_url else {
        return;
    };
    let region = s3::Region::Custom {
        region: s.region.clone(),
        endpoint: endpoint.clone(),
    };
    let Ok(creds) = s3::creds::Credentials::new(
        s.access_key_id.as_deref(),
        s.secret_access_key.as_deref(),
        None,
        None,
        None,
    ) else {
        return;
    };
    let Ok(bucket) = s3::Bucket::new(&s.bucket, region, creds) else {
        return;
    };
    let bucket = bucket.with_path_style();
    if let Ok(pages) = bucket.list(String::new(), None).await {
        for page in pages {
            for obj in page.contents {
                let _ = bucket.delete_object(&obj.key).await;
            }
        }
    }
    let _ = bucket.delete().await;
}

/// The 202 answer of `POST /ingest`.
#[derive(Debug, Clone)]
pub struct Accepted {
    /// `repoId`.
    pub repo_id: Uuid,
    /// `snapshotId`.
    pub snapshot_id: Uuid,
    /// `jobId`.
    pub job_id: Uuid,
    /// `commitHash`.
    pub commit_hash: String,
    /// `settingsHash`.
    pub settings_hash: String,
    /// `cacheHit`.
    pub cache_hit: bool,
}

impl From<&Value> for Accepted {
    fn from(v: &Value) -> Self {
        let id = |k: &str| {
            v[k].as_str()
                .and_then(|s| Uuid::parse_str(s).ok())
                .unwrap_or_else(|| panic!("ingest answer without a valid {k}: {v}"))
        };
        let text = |k: &str| {
            v[k].as_str()
                .unwrap_or_else(|| panic!("ingest answer without {k}: {v}"))
                .to_string()
        };
        Accepted {
            repo_id: id("repoId"),
            snapshot_id: id("snapshotId"),
            job_id: id("jobId"),
            commit_hash: text("commitHash"),
            settings_hash: text("settingsHash"),
            cache_hit: v["cacheHit"]
                .as_bool()
                .unwrap_or_else(|| panic!("ingest answer without cacheHit: {v}")),
        }
    }
}

/// One Server-Sent Event.
#[derive(Debug, Clone)]
pub struct SseEvent {
    /// The `id:` line.
    pub id: i64,
    /// The `event:` line.
    pub event: String,
    /// The `data:` line, parsed.
    pub data: Value,
}

impl SseEvent {
    /// A message of the job stream; `None` for one without an `event:` line.
    fn of(m: super::Sse) -> Option<SseEvent> {
        Some(SseEvent {
            id: m
                .id
                .as_deref()
                .expect("every event has an id: line")
                .parse()
                .expect("numeric event id"),
            event: m.event?,
            data: m.data,
        })
    }
}
