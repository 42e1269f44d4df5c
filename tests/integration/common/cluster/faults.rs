//! What fault tests break: private service instances on ports of their own (never the shared
//! ones), and the measurements a fault test reports.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use deadpool_redis::redis;
use uuid::Uuid;

use super::Cluster;
use crate::common::{free_port, tail, Proc};

/// A private `redis-server` on its own port, without persistence, killed on drop.
pub struct PrivateRedis {
    /// Its port.
    pub port: u16,
    child: Option<Proc>,
    dir: tempfile::TempDir,
    aof: bool,
}

impl PrivateRedis {
    /// Starts one and waits until it answers `PING`.
    pub async fn start() -> PrivateRedis {
        PrivateRedis::start_with(false).await
    }

    /// Starts one that keeps its data across restarts (`appendonly yes`, fsync always) when
    /// `aof`, else one without persistence.
    pub async fn start_with(aof: bool) -> PrivateRedis {
        let mut r = PrivateRedis {
            port: free_port(),
            child: None,
            dir: tempfile::tempdir().expect("tempdir"),
            aof,
        };
        r.launch().await;
        r
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("redis.log")
    }

    async fn launch(&mut self) {
        let mut cmd = Command::new("redis-server");
        cmd.args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1", "--save", ""])
            .args(if self.aof {
                ["--appendonly", "yes", "--appendfsync", "always"]
            } else {
                ["--appendonly", "no", "--appendfsync", "no"]
            })
            .arg("--dir")
            .arg(self.dir.path())
            .arg("--logfile")
            .arg(self.log())
            .stdin(Stdio::null());
        let out = self.dir.path().join("redis.out");
        self.child = Some(Proc::spawn(cmd, "redis-server", out));
        let t0 = Instant::now();
        loop {
            if self.ping().await {
                return;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "private redis on {} did not answer:\n{}",
                self.port,
                std::fs::read_to_string(self.log()).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn ping(&self) -> bool {
        let Ok(client) = redis::Client::open(self.url()) else {
            return false;
        };
        let Ok(mut c) = client.get_multiplexed_async_connection().await else {
            return false;
        };
        redis::cmd("PING")
            .query_async::<String>(&mut c)
            .await
            .is_ok()
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Runs one command on it.
    pub async fn cmd(&self, args: &[&str]) -> redis::Value {
        let client = redis::Client::open(self.url()).expect("url");
        let mut c = client
            .get_multiplexed_async_connection()
            .await
            .expect("connect to the private redis");
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        cmd.query_async(&mut c).await.expect("redis command")
    }

    /// Kills it (SIGKILL): every connection breaks, its data is gone.
    pub fn kill(&mut self) {
        self.child.take();
    }

    /// Starts it again on the same port (empty unless it keeps an append-only file).
    pub async fn restart(&mut self) {
        self.kill();
        self.launch().await;
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls the job row until `pred` holds; panics after `limit`.
pub async fn wait_job(
    c: &Cluster,
    job: Uuid,
    limit: Duration,
    what: &str,
    pred: impl Fn(&provis::db::Job) -> bool,
) -> provis::db::Job {
    let t0 = Instant::now();
    loop {
        if let Some(j) = c.db.get_job(job).await.expect("read job") {
            if pred(&j) {
                return j;
            }
            assert!(
                t0.elapsed() < limit,
                "job {job} never reached {what}: phase {} pct {}\nw1:\n{}",
                j.phase,
                j.pct,
                tail(&c.log("w1"))
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the job's `discover` task row is `done` (every parse batch is enqueued) while
/// batches remain to parse; panics when the job got past parsing first.
pub async fn wait_fanned_out(c: &Cluster, job: Uuid) {
    let t0 = Instant::now();
    loop {
        let tasks = c.db.list_tasks(job).await.expect("list tasks");
        let discovered = tasks
            .iter()
            .any(|t| t.name == "discover" && t.state == provis::db::TaskState::Done);
        if discovered {
            let j = c.db.get_job(job).await.expect("job").expect("row");
            assert!(
                j.batches_done < j.batches_total,
                "the job parsed every batch before the fault could hit: {j:?}"
            );
            return;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "discover never finished: {tasks:#?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Prints one fault's time from injection to the job's end, in a form the report collects
/// (`grep FAULT-TIMING`).
pub fn report_timing(fault: &str, since: Instant) {
    eprintln!(
        "FAULT-TIMING {fault}: {:.2} s from fault to job end",
        since.elapsed().as_secs_f64()
    );
}

/// Stops (SIGSTOP) or continues (SIGCONT) every worker of the cluster.
pub fn pause_workers(c: &Cluster, pause: bool) {
    for p in c.workers.iter().flatten() {
        p.signal(if pause { libc::SIGSTOP } else { libc::SIGCONT });
    }
}

/// Where the Postgres 15 server binaries are (Debian's layout).
const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// A private Postgres cluster (initdb + pg_ctl) on its own port, run as the `postgres` user
/// when the test runs as root (Postgres refuses root); stopped on drop.
pub struct PrivatePostgres {
    /// Its port.
    pub port: u16,
    dir: tempfile::TempDir,
}

impl PrivatePostgres {
    fn pg_cmd(&self, tool: &str) -> Command {
        // SAFETY: getuid has no preconditions.
        let root = unsafe { libc::getuid() } == 0;
        let mut c = if root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"])
                .arg(format!("{PG_BIN}/{tool}"));
            c
        } else {
            Command::new(format!("{PG_BIN}/{tool}"))
        };
        c.stdin(Stdio::null());
        c
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// initdb and start; waits until it accepts connections.
    pub async fn start() -> PrivatePostgres {
        let dir = tempfile::tempdir().expect("tempdir");
        // SAFETY: getuid has no preconditions.
        if unsafe { libc::getuid() } == 0 {
            let st = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(st.success(), "chown the private Postgres dir");
        }
        let pg = PrivatePostgres {
            port: free_port(),
            dir,
        };
        let out = pg
            .pg_cmd("initdb")
            .arg("-D")
            .arg(pg.data())
            .args(["-A", "trust", "-U", "postgres", "--no-sync"])
            .output()
            .expect("run initdb");
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        pg.up();
        pg
    }

    /// `pg_ctl start` (waits until it is ready).
    pub fn up(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let out = self
            .pg_cmd("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-o", &opts, "-l"])
            .arg(self.dir.path().join("pg.log"))
            .args(["-w", "-t", "60", "start"])
            .output()
            .expect("run pg_ctl start");
        assert!(
            out.status.success(),
            "pg_ctl start: {}{}",
            String::from_utf8_lossy(&out.stdout),
            std::fs::read_to_string(self.dir.path().join("pg.log")).unwrap_or_default()
        );
    }

    /// `pg_ctl stop -m immediate`: every connection breaks at once.
    pub fn down(&self) {
        let _ = self
            .pg_cmd("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }

    /// `postgres://postgres@127.0.0.1:<port>/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        self.down();
    }
}

/// A TCP proxy the test controls: forwards to `target` until [`StallProxy::stall`], then holds
/// every byte (in both directions) until released — a hung server, as a client sees it.
pub struct StallProxy {
    /// Its port.
    pub port: u16,
    stalled: std::sync::Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl StallProxy {
    /// Listens on a free port, forwarding to `target` (`host:port`).
    pub async fn start(target: String) -> StallProxy {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let port = listener.local_addr().expect("addr").port();
        let stalled = Arc::new(AtomicBool::new(false));
        let flag = stalled.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(upstream) = tokio::net::TcpStream::connect(&target).await else {
                    continue;
                };
                let (cr, cw) = client.into_split();
                let (ur, uw) = upstream.into_split();
                for (mut from, mut to) in [(cr, uw)]
                    .into_iter()
                    .map(|(a, b)| {
                        (
                            Box::new(a) as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
                            Box::new(b) as Box<dyn tokio::io::AsyncWrite + Unpin + Send>,
                        )
                    })
                    .chain([(ur, cw)].into_iter().map(|(a, b)| {
                        (
                            Box::new(a) as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
                            Box::new(b) as Box<dyn tokio::io::AsyncWrite + Unpin + Send>,
                        )
                    }))
                {
                    let flag = flag.clone();
                    tokio::spawn(async move {
                        use tokio::io::{AsyncReadExt, AsyncWriteExt};
                        let mut buf = vec![0u8; 64 * 1024];
                        loop {
                            while flag.load(Ordering::SeqCst) {
                                tokio::time::sleep(Duration::from_millis(20)).await;
                            }
                            let n = match from.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            while flag.load(Ordering::SeqCst) {
                                tokio::time::sleep(Duration::from_millis(20)).await;
                            }
                            if to.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                        let _ = to.shutdown().await;
                    });
                }
            }
        });
        StallProxy {
            port,
            stalled,
            task,
        }
    }

    /// A proxy in front of the server of `url` (`scheme://[user@]host:port[/…]`), and `url`
    /// with the proxy in the server's place.
    pub async fn in_front_of(url: &str) -> (StallProxy, String) {
        let rest = url.split_once("://").map_or(url, |(_, r)| r);
        let authority = rest.split('/').next().unwrap_or(rest);
        let host = authority
            .rsplit('@')
            .next()
            .unwrap_or(authority)
            .to_string();
        let proxy = StallProxy::start(host.clone()).await;
        let proxied = url.replacen(&host, &format!("127.0.0.1:{}", proxy.port), 1);
        (proxy, proxied)
    }

    /// Holds (true) or releases (false) the traffic.
    pub fn stall(&self, on: bool) {
        self.stalled.store(on, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for StallProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}
