//! One job's LLM summaries: which files to send, retries, fallbacks, budget and warnings.

use super::cache::{self, CacheEntry};
use super::client::CallError;
use super::prompt::{self, LlmSummary};
use super::{codes, LlmService, PROMPT_VERSION, SOURCE_DETERMINISTIC, SOURCE_LLM, SOURCE_MIXED};
use crate::artifacts::ArtifactStore;
use crate::pipeline::caps::{FileSummary, SummariesDoc};
use crate::pipeline::model::{FileRecord, Language};
use futures_util::StreamExt;
use serde::Serialize;
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Times one file is retried after a `429` before it falls back.
pub const MAX_RATE_LIMIT_RETRIES: u32 = 4;
/// A `Retry-After` longer than this is not waited for: the rest of the job falls back.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);
/// Consecutive failures (timeouts, unreachable, 5xx) after which the job stops calling.
pub const CIRCUIT_FAILURES: u32 = 3;
/// Wait before the one retry of a 5xx answer.
const SERVER_ERROR_BACKOFF: Duration = Duration::from_secs(1);
/// Paths named in one aggregated warning at most.
const WARNING_PATHS: usize = 10;

/// A warning to record on the job (a `warnings` row and a `warning` event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LlmWarning {
    /// One of [`codes`].
    pub code: &'static str,
    /// The file, when the warning concerns exactly one.
    pub path: Option<String>,
    /// What happened and what was done instead.
    pub message: String,
}

/// What the LLM did for one job (also written to the artifact as `llm`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LlmStats {
    /// HTTP requests sent (retries included).
    pub requests: u64,
    /// Files answered from the cache.
    pub cache_hits: u64,
    /// Files whose summary came from the LLM (cache hits included).
    pub files_from_llm: u64,
    /// Files that were eligible but kept the deterministic summary.
    pub fallbacks: u64,
    /// Prompt tokens reported by the server.
    pub prompt_tokens: u64,
    /// Completion tokens reported by the server.
    pub completion_tokens: u64,
    /// Tokens charged to the job's budget (real counts; estimates where none was reported).
    pub tokens_charged: u64,
    /// Secrets redacted from requests.
    pub redactions: u64,
}

/// The artifact body and the warnings of one job.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The summaries document, `source` on every entry and `llm` at the top.
    pub doc: SummariesDoc,
    /// Warnings to record.
    pub warnings: Vec<LlmWarning>,
    /// Counters.
    pub stats: LlmStats,
}

/// Why a file kept its deterministic summary.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fallback {
    Timeout,
    Invalid(String),
    RateLimited(String),
    Unavailable(String),
    Rejected(String),
    Budget,
    /// Not sent: the job stopped calling after repeated failures.
    Stopped,
}

impl Fallback {
    fn code(&self) -> &'static str {
        match self {
            Fallback::Timeout => codes::TIMEOUT,
            Fallback::Invalid(_) => codes::INVALID_RESPONSE,
            Fallback::RateLimited(_) => codes::RATE_LIMITED,
            Fallback::Unavailable(_) | Fallback::Stopped => codes::UNAVAILABLE,
            Fallback::Rejected(_) => codes::REJECTED,
            Fallback::Budget => codes::BUDGET_EXHAUSTED,
        }
    }
}

enum FileResult {
    Llm(LlmSummary),
    Fallback(Fallback),
}

/// Shared state of one job's concurrent file summaries.
struct JobState {
    budget: u64,
    charged: AtomicU64,
    consecutive_failures: AtomicU32,
    stopped: AtomicBool,
    stats: Mutex<LlmStats>,
}

impl JobState {
    fn stats(&self) -> std::sync::MutexGuard<'_, LlmStats> {
        // A poisoned lock only means a panic elsewhere mid-count; the counters are usable.
        self.stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Reserves `est` tokens of the budget; false when it does not fit.
    fn reserve(&self, est: u64) -> bool {
        self.charged
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |c| {
                (c + est <= self.budget).then_some(c + est)
            })
            .is_ok()
    }

    /// Replaces a reservation of `est` by the real `real` tokens.
    fn settle(&self, est: u64, real: u64) {
        let _ = self
            .charged
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |c| {
                Some(c.saturating_sub(est) + real)
            });
    }

    fn success(&self) {
        self.consecutive_failures.store(0, Ordering::SeqCst);
    }

    fn failure(&self) {
        if self.consecutive_failures.fetch_add(1, Ordering::SeqCst) + 1 >= CIRCUIT_FAILURES {
            self.stopped.store(true, Ordering::SeqCst);
        }
    }
}

/// Whether a file is worth an LLM call: parsed code with some text.
fn eligible(rec: &FileRecord, text: Option<&String>) -> bool {
    rec.language != Language::Other && !rec.skipped && text.is_some_and(|t| !t.trim().is_empty())
}

impl LlmService {
    /// Summarizes a job's files with the LLM where it can (see the module doc of [`super`]);
    /// `summaries` is the deterministic document. Never fails.
    pub async fn summarize_job(
        &self,
        store: &ArtifactStore,
        job: &str,
        records: &[FileRecord],
        texts: &HashMap<String, String>,
        doc: SummariesDoc,
    ) -> Outcome {
        let dets: HashMap<&str, &FileSummary> =
            doc.files.iter().map(|f| (f.path.as_str(), f)).collect();
        let state = JobState {
            budget: self.settings.job_token_budget,
            charged: AtomicU64::new(0),
            consecutive_failures: AtomicU32::new(0),
            stopped: AtomicBool::new(false),
            stats: Mutex::new(LlmStats::default()),
        };
        let work: Vec<(&FileRecord, &str, &FileSummary)> = records
            .iter()
            .filter_map(|r| {
                let text = texts.get(&r.path);
                let det = dets.get(r.path.as_str())?;
                eligible(r, text).then(|| (r, text.map_or("", String::as_str), *det))
            })
            .collect();
        tracing::info!(job, files = work.len(), model = %self.settings.model, "LLM summaries");
        // Futures built up front (not in a stream combinator's closure) keep the task's future
        // `Send` for every lifetime, which the worker's registry requires.
        let state = &state;
        let futures: Vec<_> = work
            .into_iter()
            .map(|(rec, text, det)| async move {
                let r = self.summarize_file(store, state, rec, text, det).await;
                (rec.path.clone(), r)
            })
            .collect();
        let results: Vec<(String, FileResult)> = futures_util::stream::iter(futures)
            .buffer_unordered(self.settings.concurrency)
            .collect()
            .await;
        let mut llm: HashMap<String, LlmSummary> = HashMap::new();
        let mut failed: BTreeMap<&'static str, Vec<(String, Fallback)>> = BTreeMap::new();
        for (path, r) in results {
            match r {
                FileResult::Llm(s) => {
                    llm.insert(path, s);
                }
                FileResult::Fallback(f) => failed.entry(f.code()).or_default().push((path, f)),
            }
        }
        let mut stats = state.stats().clone();
        stats.files_from_llm = llm.len() as u64;
        stats.fallbacks = failed.values().map(|v| v.len() as u64).sum();
        stats.tokens_charged = state.charged.load(Ordering::SeqCst);
        let warnings = warnings(&failed, self, &stats);
        for w in &warnings {
            tracing::warn!(job, code = w.code, message = %w.message, "LLM fallback");
        }
        tracing::info!(
            job,
            requests = stats.requests,
            cache_hits = stats.cache_hits,
            from_llm = stats.files_from_llm,
            fallbacks = stats.fallbacks,
            tokens = stats.tokens_charged,
            "LLM summaries done"
        );
        let doc = merge(doc, &llm, self, &stats);
        Outcome {
            doc,
            warnings,
            stats,
        }
    }

    async fn summarize_file(
        &self,
        store: &ArtifactStore,
        state: &JobState,
        rec: &FileRecord,
        text: &str,
        det: &FileSummary,
    ) -> FileResult {
        let key = cache::cache_key(&self.settings.model, &rec.hash);
        if let Some(k) = &key {
            if let Some(hit) = cache::get(store, k).await {
                state.stats().cache_hits += 1;
                tracing::debug!(path = %rec.path, "LLM cache hit");
                return FileResult::Llm(hit.summary);
            }
        }
        let limits = self.settings.limits;
        let first = prompt::file_messages(rec, text, det);
        let mut messages = first.clone();
        let mut invalid_once = false;
        let mut rate_limited = 0u32;
        let mut server_errors = 0u32;
        loop {
            if state.stopped.load(Ordering::SeqCst) {
                return FileResult::Fallback(Fallback::Stopped);
            }
            let est = prompt::estimate_tokens(&messages) + self.settings.max_tokens;
            if !state.reserve(est) {
                return FileResult::Fallback(Fallback::Budget);
            }
            let permit = self.permits.acquire().await;
            if let Err(e) = self.limiter.acquire(limits, est).await {
                state.settle(est, 0);
                state.failure();
                return FileResult::Fallback(Fallback::Unavailable(e.to_string()));
            }
            let res = self.client.complete(&messages).await;
            drop(permit);
            state.stats().requests += 1;
            let refund = |state: &JobState| {
                state.settle(est, 0);
                let limiter = self.limiter.clone();
                async move {
                    if let Err(e) = limiter.settle(limits, -(est as i64)).await {
                        tracing::warn!(error = %e, "LLM bucket refund failed");
                    }
                }
            };
            let answer = match res {
                Ok(reply) => {
                    let real = reply.usage.map_or(est, |u| u.total_tokens);
                    state.settle(est, real);
                    if let Err(e) = self.limiter.settle(limits, real as i64 - est as i64).await {
                        tracing::warn!(error = %e, "LLM bucket settle failed");
                    }
                    {
                        let mut s = state.stats();
                        s.redactions += reply.redactions as u64;
                        if let Some(u) = reply.usage {
                            s.prompt_tokens += u.prompt_tokens;
                            s.completion_tokens += u.completion_tokens;
                        }
                    }
                    state.success();
                    Ok((reply.content, real))
                }
                Err(CallError::BadEnvelope(m)) => {
                    state.success();
                    Err(prompt::SchemaError::NotJson(m))
                }
                Err(CallError::RateLimited { retry_after }) => {
                    refund(state).await;
                    rate_limited += 1;
                    let wait = retry_after
                        .unwrap_or_else(|| Duration::from_secs(1u64 << rate_limited.min(5)));
                    if wait > MAX_RETRY_AFTER {
                        state.stopped.store(true, Ordering::SeqCst);
                        return FileResult::Fallback(Fallback::RateLimited(format!(
                            "asked to wait {:.0}s",
                            wait.as_secs_f64()
                        )));
                    }
                    if rate_limited > MAX_RATE_LIMIT_RETRIES {
                        return FileResult::Fallback(Fallback::RateLimited(format!(
                            "still rate limited after {MAX_RATE_LIMIT_RETRIES} retries"
                        )));
                    }
                    tracing::info!(path = %rec.path, wait_ms = wait.as_millis() as u64, "LLM 429; pausing the shared bucket");
                    if let Err(e) = self.limiter.pause(limits, wait).await {
                        tracing::warn!(error = %e, "LLM bucket pause failed; sleeping here");
                        tokio::time::sleep(wait).await;
                    }
                    continue;
                }
                Err(CallError::Timeout(_)) => {
                    // The server may have done the work: the estimate stays charged.
                    state.failure();
                    return FileResult::Fallback(Fallback::Timeout);
                }
                Err(CallError::Transport(m)) => {
                    refund(state).await;
                    state.failure();
                    return FileResult::Fallback(Fallback::Unavailable(m));
                }
                Err(CallError::Status { status, body }) if status >= 500 => {
                    refund(state).await;
                    server_errors += 1;
                    if server_errors <= 1 {
                        tokio::time::sleep(SERVER_ERROR_BACKOFF).await;
                        continue;
                    }
                    state.failure();
                    return FileResult::Fallback(Fallback::Unavailable(format!(
                        "HTTP {status}: {body}"
                    )));
                }
                Err(CallError::Status { status, body }) => {
                    refund(state).await;
                    if status == 401 || status == 403 {
                        state.stopped.store(true, Ordering::SeqCst);
                    }
                    return FileResult::Fallback(Fallback::Rejected(format!(
                        "HTTP {status}: {body}"
                    )));
                }
            };
            let parsed = answer.and_then(|(content, real)| match prompt::parse_reply(&content) {
                Ok(summary) => Ok((summary, real)),
                Err(e) => {
                    // The second attempt shows the model its answer and what was wrong.
                    messages = prompt::retry_messages(&first, &content, &e);
                    Err(e)
                }
            });
            match parsed {
                Ok((summary, real)) => {
                    if let Some(k) = &key {
                        let entry = CacheEntry {
                            prompt_version: PROMPT_VERSION.to_string(),
                            model: self.settings.model.clone(),
                            hash: rec.hash.clone(),
                            summary: summary.clone(),
                            total_tokens: real,
                            created_at: chrono::Utc::now(),
                        };
                        cache::put(store, k, &entry).await;
                    }
                    return FileResult::Llm(summary);
                }
                Err(e) if !invalid_once => {
                    tracing::info!(path = %rec.path, error = %e, "invalid LLM answer; asking once more");
                    invalid_once = true;
                }
                Err(e) => return FileResult::Fallback(Fallback::Invalid(e.to_string())),
            }
        }
    }
}

fn paths_text(items: &[(String, Fallback)]) -> String {
    let mut names: Vec<&str> = items.iter().map(|(p, _)| p.as_str()).collect();
    names.sort_unstable();
    let shown = names
        .iter()
        .take(WARNING_PATHS)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > WARNING_PATHS {
        format!("{shown} and {} more", names.len() - WARNING_PATHS)
    } else {
        shown
    }
}

fn warnings(
    failed: &BTreeMap<&'static str, Vec<(String, Fallback)>>,
    svc: &LlmService,
    stats: &LlmStats,
) -> Vec<LlmWarning> {
    let mut out = Vec::new();
    for (code, items) in failed {
        let n = items.len();
        let files = format!("{n} file{}", if n == 1 { "" } else { "s" });
        let detail = items.iter().find_map(|(_, f)| match f {
            Fallback::Invalid(m)
            | Fallback::RateLimited(m)
            | Fallback::Unavailable(m)
            | Fallback::Rejected(m) => Some(m.clone()),
            _ => None,
        });
        let why = match *code {
            codes::TIMEOUT => format!(
                "LLM requests timed out after {}s",
                svc.settings.timeout.as_secs()
            ),
            codes::INVALID_RESPONSE => "the LLM answered twice with something that is not the summary JSON".to_string(),
            codes::RATE_LIMITED => "the LLM endpoint kept answering 429".to_string(),
            codes::UNAVAILABLE if items.iter().all(|(_, f)| *f == Fallback::Stopped) => {
                "LLM calls stopped after repeated failures".to_string()
            }
            codes::UNAVAILABLE => "the LLM endpoint failed".to_string(),
            codes::REJECTED => "the LLM endpoint refused the request".to_string(),
            codes::BUDGET_EXHAUSTED => format!(
                "the job's LLM token budget ({} tokens, LLM_REPO_TOKEN_BUDGET) is exhausted after {} tokens",
                svc.settings.job_token_budget, stats.tokens_charged
            ),
            _ => "the LLM was not used".to_string(),
        };
        let detail = detail
            .map(|d| format!(" ({})", super::truncate(&d, 200)))
            .unwrap_or_default();
        out.push(LlmWarning {
            code,
            path: (n == 1).then(|| items[0].0.clone()),
            message: format!(
                "{why}{detail}; deterministic summaries used for {files}: {}",
                paths_text(items)
            ),
        });
    }
    out
}

fn merge(
    mut doc: SummariesDoc,
    llm: &HashMap<String, LlmSummary>,
    svc: &LlmService,
    stats: &LlmStats,
) -> SummariesDoc {
    for f in &mut doc.files {
        match llm.get(&f.path) {
            Some(s) => {
                f.title.clone_from(&s.title);
                f.purpose.clone_from(&s.purpose);
                f.key_functions.clone_from(&s.key_functions);
                // The parser's risks are facts with line numbers: kept, the model's added.
                for r in &s.risks {
                    if !f.risks.contains(r) {
                        f.risks.push(r.clone());
                    }
                }
                f.blurb.clone_from(&s.blurb);
                f.source = SOURCE_LLM.to_string();
            }
            None => f.source = SOURCE_DETERMINISTIC.to_string(),
        }
    }
    let top = match llm.len() {
        0 => SOURCE_DETERMINISTIC,
        n if n == doc.files.len() => SOURCE_LLM,
        _ => SOURCE_MIXED,
    };
    doc.source = top.to_string();
    doc.llm = Some(json!({
        "model": svc.settings.model,
        "promptVersion": PROMPT_VERSION,
        "tokenBudget": svc.settings.job_token_budget,
        "stats": stats,
    }));
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_without_a_source_read_as_deterministic_and_are_written_with_it_last() {
        let doc: SummariesDoc = serde_json::from_value(json!({"source": "deterministic",
            "files": [{"path": "a.js", "title": "t", "purpose": "p", "keyFunctions": [],
                       "risks": [], "blurb": "b"}],
            "capabilities": [{"id": "c", "title": "C", "purpose": "p", "keyFiles": [],
                              "risks": [], "blurb": "b"}]}))
        .expect("a document of an earlier version");
        let out = serde_json::to_value(&doc).expect("serializes");
        assert_eq!(out["files"][0]["source"], SOURCE_DETERMINISTIC);
        assert_eq!(out["capabilities"][0]["source"], SOURCE_DETERMINISTIC);
        assert!(out.get("llm").is_none(), "no llm block without an LLM run");
        let keys: Vec<&String> = out["files"][0]
            .as_object()
            .expect("object")
            .keys()
            .collect();
        assert_eq!(keys.last().map(|k| k.as_str()), Some("source"));
    }

    fn service() -> LlmService {
        LlmService::new(super::super::LlmSettings {
            base_url: "http://127.0.0.1:9/v1".into(),
            api_key: "sk-secret-key-value".into(),
            model: "m".into(),
            limits: super::super::Limits::new(10, 1000),
            concurrency: 1,
            timeout: Duration::from_secs(1),
            max_tokens: 100,
            job_token_budget: 1000,
            redis_url: None,
            bucket_key: "k".into(),
        })
        .expect("service")
    }

    #[test]
    fn merge_marks_sources_and_keeps_parser_risks() {
        let svc = service();
        assert!(
            !format!("{svc:?}").contains("sk-secret-key-value"),
            "Debug hides the key"
        );
        let doc: SummariesDoc = serde_json::from_value(json!({"source": "deterministic", "capabilities": [], "files": [
            {"path": "a.js", "title": "A", "purpose": "p", "keyFunctions": [], "risks": ["eval() on line 3"], "blurb": "b"},
            {"path": "b.js", "title": "B", "purpose": "p", "keyFunctions": [], "risks": [], "blurb": "b"}]}))
        .expect("summaries");
        let mut llm = HashMap::new();
        llm.insert(
            "a.js".to_string(),
            LlmSummary {
                title: "LLM A".into(),
                purpose: "does A".into(),
                key_functions: vec!["run".into()],
                risks: vec!["eval() on line 3".into(), "no input validation".into()],
                blurb: "A.".into(),
            },
        );
        let out =
            serde_json::to_value(merge(doc, &llm, &svc, &LlmStats::default())).expect("serializes");
        assert_eq!(out["source"], SOURCE_MIXED);
        assert_eq!(out["files"][0]["source"], SOURCE_LLM);
        assert_eq!(out["files"][0]["title"], "LLM A");
        assert_eq!(
            out["files"][0]["risks"],
            json!(["eval() on line 3", "no input validation"])
        );
        assert_eq!(out["files"][1]["source"], SOURCE_DETERMINISTIC);
        assert_eq!(out["files"][1]["title"], "B");
        assert_eq!(out["llm"]["promptVersion"], PROMPT_VERSION);
    }

    #[test]
    fn budget_reservations() {
        let s = JobState {
            budget: 100,
            charged: AtomicU64::new(0),
            consecutive_failures: AtomicU32::new(0),
            stopped: AtomicBool::new(false),
            stats: Mutex::new(LlmStats::default()),
        };
        assert!(s.reserve(60));
        assert!(!s.reserve(60), "over budget");
        s.settle(60, 20);
        assert!(s.reserve(60), "the real count freed room");
        assert_eq!(s.charged.load(Ordering::SeqCst), 80);
        for _ in 0..CIRCUIT_FAILURES {
            s.failure();
        }
        assert!(s.stopped.load(Ordering::SeqCst));
    }
}
