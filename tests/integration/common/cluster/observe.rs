//! What an operator sees of a cluster: workers started with their own `/metrics` port and
//! OTLP settings, scrapes, and a real OTLP receiver (`otlp_receiver.py`, the published
//! `opentelemetry-proto` and `grpcio` packages in the tools virtualenv of
//! `scripts/dev-services`, `PROVIS_TOOLS_VENV`).

use super::Cluster;
use serde_json::Value;
use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Starts worker `w{i+1}` on `queues` with `extra` environment (metrics port, OTLP …).
pub fn start_worker(c: &mut Cluster, i: usize, queues: &str, extra: &[(&str, String)]) {
    let name = format!("w{}", i + 1);
    let mut env = c.redis_env();
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
    let p = c.spawn(&["work", "--queues", queues, "--name", &name], &name, &env);
    while c.workers.len() <= i {
        c.workers.push(None);
    }
    c.workers[i] = Some(p);
}

/// `GET url` as text, with its status and content type.
pub async fn get_text(url: &str) -> (u16, String, String) {
    let r = reqwest::Client::new()
        .get(url)
        .timeout(Duration::from_secs(20))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = r.status().as_u16();
    let ctype = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, ctype, r.text().await.expect("body"))
}

/// A running OTLP receiver; killed on drop.
pub struct Receiver {
    child: Child,
    /// Where it writes one JSON line per span.
    pub out: PathBuf,
    /// OTLP/HTTP port (`/v1/traces`).
    pub http_port: u16,
    /// OTLP/gRPC port.
    pub grpc_port: u16,
    _dir: tempfile::TempDir,
}

impl Receiver {
    /// Starts the receiver and waits until it listens.
    pub fn start() -> Receiver {
        let venv = std::env::var("PROVIS_TOOLS_VENV")
            .unwrap_or_else(|_| "/var/tmp/provis-ci/tools".to_string());
        let python = PathBuf::from(&venv).join("bin/python");
        assert!(
            python.exists(),
            "{} missing: scripts/dev-services installs the OTLP receiver's packages",
            python.display()
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("spans.jsonl");
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/integration/common/cluster/otlp_receiver.py"
        );
        let mut child = Command::new(python)
            .arg(script)
            .arg(&out)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the OTLP receiver");
        let stdout = child.stdout.take().expect("receiver stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("receiver says ready");
        let ports: Vec<u16> = match line.split_whitespace().collect::<Vec<_>>().as_slice() {
            ["ready", http, grpc] => [http, grpc].iter().filter_map(|p| p.parse().ok()).collect(),
            _ => Vec::new(),
        };
        let [http_port, grpc_port] = ports[..] else {
            panic!("OTLP receiver did not start: {line:?}");
        };
        Receiver {
            child,
            out,
            http_port,
            grpc_port,
            _dir: dir,
        }
    }

    /// The spans received so far.
    pub fn spans(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| serde_json::from_str(l).expect("span line is JSON"))
            .collect()
    }

    /// Polls until `done(spans)` holds; panics with what arrived past `limit`.
    pub async fn wait_for(&self, limit: Duration, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let t0 = Instant::now();
        loop {
            let spans = self.spans();
            if done(&spans) {
                return spans;
            }
            assert!(
                t0.elapsed() < limit,
                "spans did not arrive within {limit:?}; got {}:\n{}",
                spans.len(),
                spans
                    .iter()
                    .map(|s| format!(
                        "{} {} {}",
                        s["resource"]["provis.role"], s["name"], s["trace_id"]
                    ))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
