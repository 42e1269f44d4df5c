//! The OpenAI-compatible chat-completions client.
//!
//! `POST {LLM_BASE_URL}/chat/completions` with `model`, `messages`, `temperature: 0`,
//! `max_tokens` and `response_format: {"type": "json_object"}`, `Authorization: Bearer
//! <LLM_API_KEY>`. Every message passes through [`super::redact::redact`] right here, the one
//! place text leaves the process, so no caller can forget it. One call is one HTTP request:
//! retries, rate limiting and fallbacks are the caller's ([`super::summarize`]).

use super::redact::redact;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::time::Duration;

/// Path appended to the base URL.
pub const CHAT_COMPLETIONS_PATH: &str = "/chat/completions";

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// `system`, `user` or `assistant`.
    pub role: String,
    /// The text.
    pub content: String,
}

impl Message {
    /// A message with `role` and `content`.
    pub fn new(role: &str, content: impl Into<String>) -> Self {
        Self {
            role: role.to_string(),
            content: content.into(),
        }
    }
}

/// Token counts the server reported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens.
    pub prompt_tokens: u64,
    /// Completion tokens.
    pub completion_tokens: u64,
    /// Both.
    pub total_tokens: u64,
}

/// A successful answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatReply {
    /// The first choice's message content.
    pub content: String,
    /// Usage, when the server sent it.
    pub usage: Option<Usage>,
    /// Secrets redacted from the request.
    pub redactions: usize,
}

/// Why a call produced no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// 429: too many requests; wait `retry_after` when the server said how long.
    #[error("rate limited (HTTP 429){}", .retry_after.map(|d| format!(", retry after {:.1}s", d.as_secs_f64())).unwrap_or_default())]
    RateLimited {
        /// From `Retry-After` / `retry-after-ms`.
        retry_after: Option<Duration>,
    },
    /// No complete answer within the timeout.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The endpoint could not be reached (refused, reset, DNS).
    #[error("endpoint unreachable: {0}")]
    Transport(String),
    /// Any other non-2xx answer.
    #[error("HTTP {status}: {body}")]
    Status {
        /// The status code.
        status: u16,
        /// Start of the body.
        body: String,
    },
    /// A 2xx answer that is not a chat completion (no `choices[0].message.content`).
    #[error("not a chat completion: {0}")]
    BadEnvelope(String),
}

/// The HTTP client for one endpoint, key and model.
#[derive(Clone)]
pub struct ChatClient {
    http: reqwest::Client,
    url: String,
    api_key: String,
    model: String,
    max_tokens: u64,
    timeout: Duration,
}

impl std::fmt::Debug for ChatClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatClient")
            .field("url", &self.url)
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

/// Parses `Retry-After` (seconds or an HTTP date) or `retry-after-ms`.
pub fn parse_retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    if let Some(ms) = headers
        .get("retry-after-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
    {
        return (ms >= 0.0).then(|| Duration::from_secs_f64(ms / 1000.0));
    }
    let v = headers.get("retry-after")?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<f64>() {
        return (secs >= 0.0 && secs.is_finite()).then(|| Duration::from_secs_f64(secs));
    }
    let when = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let delta = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

fn short(s: &str) -> String {
    super::truncate(s, 300)
}

impl ChatClient {
    /// A client for `base_url` (`…/v1`; `/chat/completions` is appended unless present).
    pub fn new(
        base_url: &str,
        api_key: &str,
        model: &str,
        max_tokens: u64,
        timeout: Duration,
    ) -> Result<Self, super::LlmError> {
        let base = base_url.trim_end_matches('/');
        let url = if base.ends_with(CHAT_COMPLETIONS_PATH) {
            base.to_string()
        } else {
            format!("{base}{CHAT_COMPLETIONS_PATH}")
        };
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("provis/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| super::LlmError::Client(e.to_string()))?;
        Ok(Self {
            http,
            url,
            api_key: api_key.to_string(),
            model: model.to_string(),
            max_tokens,
            timeout,
        })
    }

    /// The endpoint URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The model name sent.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// `max_tokens` sent with every request.
    pub fn max_tokens(&self) -> u64 {
        self.max_tokens
    }

    /// The request body for `messages`, redacted; and the number of redactions.
    pub fn body(&self, messages: &[Message]) -> (Value, usize) {
        let mut redactions = 0;
        let msgs: Vec<Value> = messages
            .iter()
            .map(|m| {
                let r = redact(&m.content);
                redactions += r.count;
                json!({"role": m.role, "content": r.text})
            })
            .collect();
        (
            json!({
                "model": self.model,
                "messages": msgs,
                "temperature": 0,
                "max_tokens": self.max_tokens,
                "response_format": {"type": "json_object"},
            }),
            redactions,
        )
    }

    /// One chat-completions request.
    pub async fn complete(&self, messages: &[Message]) -> Result<ChatReply, CallError> {
        let (body, redactions) = self.body(messages);
        let bytes = serde_json::to_vec(&body).map_err(|e| CallError::BadEnvelope(e.to_string()))?;
        let sent = self
            .http
            .post(&self.url)
            .bearer_auth(&self.api_key)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(bytes)
            .send()
            .await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) if e.is_timeout() => return Err(CallError::Timeout(self.timeout)),
            Err(e) => return Err(CallError::Transport(error_chain(&e))),
        };
        let status = resp.status();
        let retry_after = parse_retry_after(resp.headers());
        let text = match resp.text().await {
            Ok(t) => t,
            Err(e) if e.is_timeout() => return Err(CallError::Timeout(self.timeout)),
            Err(e) => return Err(CallError::Transport(error_chain(&e))),
        };
        if status.as_u16() == 429 {
            return Err(CallError::RateLimited { retry_after });
        }
        if !status.is_success() {
            return Err(CallError::Status {
                status: status.as_u16(),
                body: short(&text),
            });
        }
        let v: Value = serde_json::from_str(&text)
            .map_err(|e| CallError::BadEnvelope(format!("{e}: {}", short(&text))))?;
        let content = v
            .pointer("/choices/0/message/content")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                CallError::BadEnvelope(format!("no choices[0].message.content: {}", short(&text)))
            })?
            .to_string();
        let usage = v.get("usage").and_then(|u| {
            let n = |k: &str| u.get(k).and_then(Value::as_u64);
            let prompt = n("prompt_tokens").unwrap_or(0);
            let completion = n("completion_tokens").unwrap_or(0);
            let total = n("total_tokens").unwrap_or(prompt + completion);
            (total > 0).then_some(Usage {
                prompt_tokens: prompt,
                completion_tokens: completion,
                total_tokens: total,
            })
        });
        Ok(ChatReply {
            content,
            usage,
            redactions,
        })
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    #[test]
    fn retry_after_forms() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(parse_retry_after(&h), Some(Duration::from_secs(2)));
        h.insert("retry-after-ms", HeaderValue::from_static("1500"));
        assert_eq!(parse_retry_after(&h), Some(Duration::from_millis(1500)));
        let mut h = HeaderMap::new();
        let later = (chrono::Utc::now() + chrono::Duration::seconds(30)).to_rfc2822();
        h.insert(
            "retry-after",
            HeaderValue::from_str(&later).expect("header"),
        );
        let d = parse_retry_after(&h).expect("date form");
        assert!(
            d > Duration::from_secs(25) && d <= Duration::from_secs(30),
            "{d:?}"
        );
        h.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(parse_retry_after(&h), None);
    }

    #[test]
    fn body_is_redacted_and_asks_for_json() {
        let c =
            ChatClient::new("http://x/v1/", "k", "m", 100, Duration::from_secs(1)).expect("client");
        assert_eq!(c.url(), "http://x/v1/chat/completions");
        let (body, n) = c.body(&[Message::new("user", "DB_PASSWORD=hunter2\nok")]);
        assert_eq!(n, 1);
        let text = body.to_string();
        assert!(!text.contains("hunter2"));
        assert_eq!(body["response_format"]["type"], "json_object");
        assert_eq!(body["model"], "m");
    }
}
