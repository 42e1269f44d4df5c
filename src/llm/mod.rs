//! Optional LLM summaries (settings in docs/operations.md, the `summaries` document in
//! docs/artifacts.md#summaries): an OpenAI-compatible chat-completions client with a rate limit
//! shared by every worker, a cache, secret redaction and a per-job token budget. The LLM only ever
//! *improves* summaries: when it is not configured, down, slow, rate limited, out of budget or
//! answering nonsense, the file keeps its deterministic summary and the job gets a `warning`;
//! nothing here fails a job.
//!
//! # Flow per file (see [`summarize`])
//! 1. Only parsed code files (js/ts/py) with text are sent; the rest keep their deterministic
//!    summary.
//! 2. The [`cache`] is asked first (content hash + [`PROMPT_VERSION`] + model).
//! 3. The per-job token budget (`LLM_REPO_TOKEN_BUDGET`) must cover the estimate.
//! 4. A permit of the process-wide semaphore (`LLM_CONCURRENCY`) and a grant of the shared
//!    [`bucket`] (`LLM_RPM`, `LLM_TPM`) are taken; the request goes out through [`client`],
//!    which redacts secrets ([`redact`]) and times out after `LLM_TIMEOUT_S`.
//! 5. The answer is validated ([`prompt::parse_reply`]); an invalid one is asked again once,
//!    then the file falls back. A `429` pauses the shared bucket for `Retry-After` and tries
//!    again (up to [`summarize::MAX_RATE_LIMIT_RETRIES`] times). Real `usage` settles the bucket
//!    and the budget. After [`summarize::CIRCUIT_FAILURES`] consecutive failures (timeouts,
//!    unreachable, 5xx) the rest of the job is not sent.
//!
//! The summaries artifact then says, per file, `"source": "llm"` or `"deterministic"`, and at
//! the top level `"source"` (`llm`, `mixed`, `deterministic`) and `"llm"` (model, prompt
//! version, requests, cache hits, tokens, budget).
//!
//! # Process-wide state
//! Rate limiting and concurrency must be shared by all the worker tasks of a process, and in
//! cluster mode by all processes. [`LlmService::shared`] keeps one service per distinct
//! configuration in the process (the HTTP connection pool, the semaphore, the in-process
//! bucket or the Redis pool); the Redis bucket key (`LLM_BUCKET_KEY`) joins the processes.

pub mod bucket;
pub mod cache;
pub mod client;
pub mod prompt;
pub mod redact;
pub mod summarize;

pub use bucket::{Limits, RateLimiter};
pub use client::{CallError, ChatClient, ChatReply, Message, Usage};
pub use prompt::{parse_reply, LlmSummary, SchemaError, PROMPT_VERSION};
pub use redact::{redact, Redacted};
pub use summarize::{LlmStats, LlmWarning, Outcome};

use crate::artifacts::ArtifactStore;
use crate::config::Config;
use crate::pipeline::caps::SummariesDoc;
use crate::pipeline::model::FileRecord;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// `source` of a summary written by the LLM.
pub const SOURCE_LLM: &str = "llm";
/// `source` of a deterministic summary.
pub const SOURCE_DETERMINISTIC: &str = crate::pipeline::caps::summaries::SOURCE_DETERMINISTIC;
/// Top-level `source` when some files came from the LLM and some did not.
pub const SOURCE_MIXED: &str = "mixed";

/// Warning codes (the `code` of `warning` events and rows) raised by the LLM path.
pub mod codes {
    /// A request took longer than `LLM_TIMEOUT_S`.
    pub const TIMEOUT: &str = "llm_timeout";
    /// Two answers in a row failed the schema.
    pub const INVALID_RESPONSE: &str = "llm_invalid_response";
    /// Still rate limited after the retries, or asked to wait too long.
    pub const RATE_LIMITED: &str = "llm_rate_limited";
    /// The endpoint was unreachable or failing (or the shared bucket was).
    pub const UNAVAILABLE: &str = "llm_unavailable";
    /// The endpoint refused the request (4xx other than 429).
    pub const REJECTED: &str = "llm_rejected";
    /// The per-job token budget ran out.
    pub const BUDGET_EXHAUSTED: &str = "llm_budget_exhausted";
}

/// Errors setting up or using the LLM machinery (never a job failure: callers turn them into
/// warnings and deterministic summaries).
#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    /// The HTTP client could not be built.
    #[error("LLM client: {0}")]
    Client(String),
    /// The shared rate-limit bucket failed (Redis unreachable, script error).
    #[error("LLM rate limiter: {0}")]
    Limiter(String),
}

/// Everything that configures the LLM path; one [`LlmService`] exists per distinct value.
/// (`Debug` hides the API key.)
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct LlmSettings {
    /// Endpoint base URL.
    pub base_url: String,
    /// API key.
    pub api_key: String,
    /// Model name.
    pub model: String,
    /// Requests and tokens per minute.
    pub limits: Limits,
    /// Requests in flight per process.
    pub concurrency: usize,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Completion tokens asked for.
    pub max_tokens: u64,
    /// Tokens one job may spend.
    pub job_token_budget: u64,
    /// Redis for the shared bucket; `None` = in-process bucket.
    pub redis_url: Option<String>,
    /// Key of the shared bucket.
    pub bucket_key: String,
}

impl std::fmt::Debug for LlmSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LlmSettings")
            .field("base_url", &self.base_url)
            .field("api_key", &"***")
            .field("model", &self.model)
            .field("limits", &self.limits)
            .field("concurrency", &self.concurrency)
            .field("timeout", &self.timeout)
            .field("max_tokens", &self.max_tokens)
            .field("job_token_budget", &self.job_token_budget)
            .field(
                "redis_url",
                &self.redis_url.as_deref().map(crate::telemetry::redact_url),
            )
            .field("bucket_key", &self.bucket_key)
            .finish()
    }
}

impl LlmSettings {
    /// The settings, or `None` when `LLM_BASE_URL` or `LLM_API_KEY` is unset.
    pub fn from_config(cfg: &Config) -> Option<Self> {
        Some(Self {
            base_url: cfg.llm_base_url.clone()?,
            api_key: cfg.llm_api_key.clone()?,
            model: cfg.llm_model.clone(),
            limits: Limits::new(cfg.llm_rpm, cfg.llm_tpm),
            concurrency: cfg.llm_concurrency.max(1),
            timeout: Duration::from_secs(cfg.llm_timeout_s.max(1)),
            max_tokens: cfg.llm_max_tokens,
            job_token_budget: cfg.llm_repo_token_budget,
            redis_url: cfg.redis_url.clone(),
            bucket_key: cfg.llm_bucket_key.clone(),
        })
    }
}

/// The LLM client, limiter and concurrency bound of one process.
#[derive(Debug)]
pub struct LlmService {
    settings: LlmSettings,
    client: ChatClient,
    limiter: RateLimiter,
    permits: tokio::sync::Semaphore,
}

type Registry = Mutex<HashMap<LlmSettings, Arc<LlmService>>>;

fn registry() -> &'static Registry {
    static SERVICES: OnceLock<Registry> = OnceLock::new();
    SERVICES.get_or_init(|| Mutex::new(HashMap::new()))
}

impl LlmService {
    /// Builds a service (a fresh limiter and semaphore; see [`LlmService::shared`]).
    pub fn new(settings: LlmSettings) -> Result<Self, LlmError> {
        let client = ChatClient::new(
            &settings.base_url,
            &settings.api_key,
            &settings.model,
            settings.max_tokens,
            settings.timeout,
        )?;
        let limiter = match &settings.redis_url {
            Some(url) => RateLimiter::redis(url, &settings.bucket_key)?,
            None => RateLimiter::local(),
        };
        Ok(Self {
            permits: tokio::sync::Semaphore::new(settings.concurrency),
            settings,
            client,
            limiter,
        })
    }

    /// The process's service for `settings`, created on first use, so every worker task of
    /// the process shares one semaphore and (in embedded mode) one bucket.
    pub fn shared(settings: LlmSettings) -> Result<Arc<Self>, LlmError> {
        // A poisoned lock only means a panic elsewhere while inserting; the map is intact.
        let mut map = registry()
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(s) = map.get(&settings) {
            return Ok(s.clone());
        }
        let svc = Arc::new(Self::new(settings.clone())?);
        map.insert(settings, svc.clone());
        Ok(svc)
    }

    /// The settings in effect.
    pub fn settings(&self) -> &LlmSettings {
        &self.settings
    }

    /// The rate limiter.
    pub fn limiter(&self) -> &RateLimiter {
        &self.limiter
    }
}

/// Cuts `s` to at most `max` characters (with `…` when cut).
pub(crate) fn truncate(s: &str, max: usize) -> String {
    crate::pipeline::caps::summaries::truncate_chars(s, max)
}

/// The summaries artifact body for one job: the deterministic `summaries` (as produced by
/// `pipeline::capabilities_and_summaries`) improved by the LLM when one is configured, with
/// `source` on every entry; plus the warnings to record. Never fails: every LLM problem
/// becomes a warning and the deterministic summary stays.
pub async fn summaries_for_job(
    cfg: &Config,
    store: &ArtifactStore,
    job: &str,
    records: &[FileRecord],
    texts: &HashMap<String, String>,
    summaries: SummariesDoc,
) -> (SummariesDoc, Vec<LlmWarning>) {
    let Some(settings) = LlmSettings::from_config(cfg) else {
        return (summaries, Vec::new());
    };
    let service = match LlmService::shared(settings) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(job, error = %e, "LLM unavailable; deterministic summaries");
            let warning = LlmWarning {
                code: codes::UNAVAILABLE,
                path: None,
                message: format!("{e}; deterministic summaries used"),
            };
            return (summaries, vec![warning]);
        }
    };
    let out = service
        .summarize_job(store, job, records, texts, summaries)
        .await;
    (out.doc, out.warnings)
}
