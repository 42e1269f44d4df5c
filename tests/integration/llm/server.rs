//! A tiny HTTP/1.1 server speaking the chat-completions protocol, started by each test.
//!
//! Every request is recorded (arrival time, raw body, parsed JSON, headers) before the test's
//! behaviour decides the answer, so assertions read exactly what reached "the LLM". One
//! request per connection (`Connection: close`), which reqwest handles transparently.

use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// When the whole request had arrived.
    pub at: Instant,
    /// Request path.
    pub path: String,
    /// `Authorization` header.
    pub authorization: Option<String>,
    /// The body as text.
    pub raw: String,
    /// The body as JSON (`Null` when it is not JSON).
    pub json: Value,
}

impl Recorded {
    /// The repo file the request is about (from "Text of <path>:" in the user message).
    pub fn file(&self) -> Option<String> {
        let msgs = self.json["messages"].as_array()?;
        msgs.iter().find_map(|m| {
            let c = m["content"].as_str()?;
            let start = c.find("\nText of ")? + "\nText of ".len();
            let end = c[start..].find(":\n")? + start;
            Some(c[start..end].to_string())
        })
    }

    /// Number of chat messages sent.
    pub fn messages(&self) -> usize {
        self.json["messages"].as_array().map_or(0, Vec::len)
    }
}

/// The answer to one request.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Wait this long before answering.
    pub delay: Duration,
}

impl Reply {
    /// A chat completion whose message content is `content`, with `total` tokens of usage.
    pub fn content(content: &str, total: u64) -> Reply {
        let body = json!({
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "model": "test-model",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": total.saturating_sub(20), "completion_tokens": 20.min(total), "total_tokens": total},
        });
        Reply {
            status: 200,
            headers: Vec::new(),
            body: body.to_string(),
            delay: Duration::ZERO,
        }
    }

    /// A valid summary of `file` (titles name the file so tests can tell answers apart).
    pub fn summary(file: &str, total: u64) -> Reply {
        let content = json!({
            "title": format!("LLM title of {file}"),
            "purpose": format!("LLM purpose of {file}."),
            "keyFunctions": ["main"],
            "risks": ["LLM risk"],
            "blurb": format!("LLM blurb of {file}."),
        });
        Reply::content(&content.to_string(), total)
    }

    /// A bare status with a JSON error body.
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: json!({"error": {"message": "test error", "type": "test"}}).to_string(),
            delay: Duration::ZERO,
        }
    }

    pub fn header(mut self, k: &str, v: &str) -> Reply {
        self.headers.push((k.to_string(), v.to_string()));
        self
    }

    pub fn delayed(mut self, d: Duration) -> Reply {
        self.delay = d;
        self
    }
}

/// Decides the answer from the request and the requests before it.
pub type Behavior = Arc<dyn Fn(&Recorded, &[Recorded]) -> Reply + Send + Sync>;

/// Answers every request with a valid summary of its file.
pub fn always_valid() -> Behavior {
    Arc::new(|r, _| Reply::summary(&r.file().unwrap_or_default(), 120))
}

/// The running server; stops on drop.
pub struct FakeLlm {
    /// Base URL to use as `LLM_BASE_URL`.
    pub url: String,
    log: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeLlm {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FakeLlm {
    pub async fn start(behavior: Behavior) -> FakeLlm {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let log: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let log2 = log.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    continue;
                };
                let (log, behavior) = (log2.clone(), behavior.clone());
                tokio::spawn(async move {
                    let _ = serve_one(sock, log, behavior).await;
                });
            }
        });
        FakeLlm {
            url: format!("http://{addr}/v1"),
            log,
            task,
        }
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.log.lock().expect("log").clone()
    }
}

async fn serve_one(
    mut sock: TcpStream,
    log: Arc<Mutex<Vec<Recorded>>>,
    behavior: Behavior,
) -> std::io::Result<()> {
    let mut buf: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let head_end = loop {
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let path = request_line
        .split(' ')
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let mut content_length = 0usize;
    let mut authorization = None;
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "content-length" => content_length = v.trim().parse().unwrap_or(0),
                "authorization" => authorization = Some(v.trim().to_string()),
                _ => {}
            }
        }
    }
    while buf.len() < head_end + content_length {
        let n = sock.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let raw = String::from_utf8_lossy(&buf[head_end..]).into_owned();
    let rec = Recorded {
        at: Instant::now(),
        path,
        authorization,
        json: serde_json::from_str(&raw).unwrap_or(Value::Null),
        raw,
    };
    let before = {
        let mut l = log.lock().expect("log");
        let before = l.clone();
        l.push(rec.clone());
        before
    };
    let reply = behavior(&rec, &before);
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut out = format!(
        "HTTP/1.1 {} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        reply.status,
        reply.body.len()
    );
    for (k, v) in &reply.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(&reply.body);
    sock.write_all(out.as_bytes()).await?;
    sock.shutdown().await
}
