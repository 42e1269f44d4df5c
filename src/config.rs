//! Settings: command-line flag > environment > `provis.toml` > built-in default
//! (docs/operations.md#settings).
//!
//! Every setting is declared once in [`KEYS`] with its TOML key, the environment names that
//! set it (the old runbook's names keep working) and its default. Loading collects raw
//! strings by precedence and then parses them into [`Config`]; a value that does not parse
//! stops start-up with an error naming the key and the value. `provis.toml.example` must
//! list every key (a test checks it).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One setting: where it can come from and what it defaults to.
#[derive(Debug, Clone, Copy)]
pub struct KeySpec {
    /// Key in `provis.toml` (lower snake case).
    pub toml: &'static str,
    /// Environment variables, first match wins.
    pub env: &'static [&'static str],
    /// Default as text; empty means unset.
    pub default: &'static str,
    /// One line for `provis.toml.example` and `--help`.
    pub help: &'static str,
}

macro_rules! keys {
    ($( $toml:literal, [$($env:literal),*], $default:literal, $help:literal; )*) => {
        /// Every setting provis reads, in documentation order.
        pub const KEYS: &[KeySpec] = &[ $( KeySpec { toml: $toml, env: &[$($env),*], default: $default, help: $help } ),* ];
    };
}

keys! {
    "database_url", ["DATABASE_URL"], "", "postgres://… for cluster mode or sqlite://path; unset = SQLite in the data dir";
    "db_timeout_s", ["DB_TIMEOUT_S"], "10", "seconds to wait for a Postgres connection (free, new, or checked with a round trip); past it the call fails as unavailable (503 on /ingest) instead of hanging";
    "db_statement_timeout_s", ["DB_STATEMENT_TIMEOUT_S"], "30", "seconds one Postgres statement may run, waits for locks included (statement_timeout on every connection); past it the call fails as unavailable (503 on /ingest, a retry for a task)";
    "redis_url", ["REDIS_URL"], "", "redis://host:port/db for cluster queues, status and events; unset = in-process";
    "redis_timeout_s", ["REDIS_TIMEOUT_S"], "10", "seconds to connect to Redis and for one Redis command to answer (a blocking read: its own wait plus this); past it the call fails as unavailable (503 on /ingest) instead of hanging";
    "rq_key_prefix", ["RQ_KEY_PREFIX"], "rq", "prefix of every queue key in Redis (Python RQ's layout; `rq` reads the same variable): serve and every worker of a cluster must share it; letters, digits and _ . : - { } only";
    "s3_bucket", ["S3_BUCKET"], "", "bucket for artifacts and uploads; unset (and no endpoint) = local disk under the data dir";
    "s3_region", ["S3_REGION"], "us-east-1", "S3 region";
    "s3_endpoint_url", ["S3_ENDPOINT_URL", "S3_ENDPOINT"], "", "S3-compatible endpoint (MinIO, moto); setting it enables S3 with bucket provis-artifacts";
    "s3_access_key_id", ["S3_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID"], "", "S3 access key";
    "s3_secret_access_key", ["S3_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY"], "", "S3 secret key";
    "s3_request_timeout_s", ["S3_REQUEST_TIMEOUT_S"], "300", "seconds one S3 request may take, uploads included (raise it for very large uploads over a slow link); past it /ingest answers 503 and leaves no job";
    "data_dir", ["PROVIS_DATA_DIR"], "./.provis", "embedded mode: SQLite file, artifacts and uploads live here";
    "host", ["PROVIS_HOST"], "0.0.0.0", "address the API listens on";
    "port", ["PORT", "PROVIS_PORT"], "8000", "port the API listens on";
    "workers", ["PROVIS_WORKERS"], "", "worker tasks run by all-in-one; unset = one more than node_subproc_concurrency (while each parser child parses a batch, the extra task reads its next batch or records the last one)";
    "queues", ["PROVIS_QUEUES"], "high,normal,low", "queues a worker takes from, in priority order";
    "worker_lease_s", ["WORKER_LEASE_S"], "20", "seconds a claimed task stays leased without a heartbeat before another worker may take it";
    "node_subproc_concurrency", ["NODE_SUBPROC_CONCURRENCY"], "2", "parser child processes per worker";
    "node_file_timeout_s", ["NODE_FILE_TIMEOUT_S"], "20", "seconds one file may take to parse before it becomes a parse_timeout warning";
    "node_batch_timeout_s", ["NODE_BATCH_TIMEOUT_S"], "120", "seconds one parse batch may take";
    "parse_batch_size", ["PARSE_BATCH_SIZE"], "50", "files per parse_batch task";
    "parser_sandbox", ["PARSER_SANDBOX"], "true", "parse in sandboxed child processes (rlimits, no network); false parses in the worker itself";
    "parser_memory_mb", ["PARSER_MEMORY_MB"], "", "memory budget (MiB) of all parser children of one process, split evenly between them (the worst case a worker's parsing can use); unset = 1/16 of the machine's memory, between 512 and 2048";
    "max_file_bytes", ["MAX_FILE_BYTES"], "2097152", "larger files are kept as graph nodes but not parsed";
    "max_upload_bytes", ["MAX_UPLOAD_BYTES"], "536870912", "uploads larger than this are refused with 413";
    "zip_max_entries", ["ZIP_MAX_ENTRIES"], "60000", "most entries a zip may have";
    "zip_max_depth", ["ZIP_MAX_DEPTH"], "20", "most folders a file may be inside (the file name and a zip's single top folder are not counted)";
    "zip_max_uncompressed_bytes", ["ZIP_MAX_UNCOMPRESSED_BYTES"], "1073741824", "most bytes a zip may inflate to in total";
    "zip_max_ratio", ["ZIP_MAX_RATIO"], "200", "highest compression ratio of one entry, measured on the inflated bytes";
    "llm_base_url", ["LLM_BASE_URL"], "", "OpenAI-compatible endpoint for summaries; unset = deterministic summaries";
    "llm_api_key", ["LLM_API_KEY", "OPENAI_API_KEY"], "", "API key for the LLM endpoint";
    "llm_model", ["LLM_MODEL"], "gpt-4o-mini", "model name sent to the LLM endpoint";
    "llm_rpm", ["LLM_RPM"], "100", "LLM requests per minute across all workers";
    "llm_tpm", ["LLM_TPM"], "10000", "LLM tokens per minute across all workers";
    "llm_concurrency", ["LLM_CONCURRENCY"], "4", "LLM requests in flight at once per process";
    "llm_timeout_s", ["LLM_TIMEOUT_S"], "30", "seconds one LLM request may take before its file falls back to the deterministic summary";
    "llm_max_tokens", ["LLM_MAX_TOKENS"], "600", "completion tokens asked for per file summary";
    "llm_repo_token_budget", ["LLM_REPO_TOKEN_BUDGET"], "200000", "LLM tokens one job may spend; the rest of its files get deterministic summaries";
    "llm_bucket_key", ["LLM_BUCKET_KEY"], "provis:llm:bucket", "Redis key of the LLM rate-limit bucket shared by every worker (cluster mode)";
    "api_token", ["PROVIS_API_TOKEN"], "", "when set, every route but /health and /metrics needs Authorization: Bearer <token>";
    "cors_origins", ["CORS_ORIGINS"], "", "comma-separated origins allowed by CORS";
    "presign_ttl_s", ["PRESIGN_TTL_S"], "600", "lifetime of presigned artifact URLs";
    "upload_retention_s", ["UPLOAD_RETENTION_S"], "604800", "seconds an uploaded zip is kept after its job ended (0 = deleted when the job ends)";
    "keep_work_files", ["KEEP_WORK_FILES"], "false", "keep a job's intermediate work files (work/<job>/) after it ends, for debugging; by default they are deleted when the job ends";
    "otel_exporter_otlp_endpoint", ["OTEL_EXPORTER_OTLP_ENDPOINT"], "", "OTLP endpoint for traces (http://collector:4318, or :4317 for grpc); unset = no export; the other OTEL_* variables work too";
    "otel_exporter_otlp_protocol", ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"], "http/protobuf", "OTLP transport: http/protobuf or grpc";
    "metrics_port", ["METRICS_PORT", "PROVIS_METRICS_PORT"], "9464", "provis work: port of the worker's /metrics and /health on the host address (0 = off); serve and all-in-one export on their API port";
    "migration_wait_s", ["MIGRATION_WAIT_S"], "60", "serve and work: seconds to wait for `provis migrate` when the database has pending migrations, then stop";
    "log", ["RUST_LOG"], "info", "log filter (tracing EnvFilter syntax)";
    "log_format", ["LOG_FORMAT"], "pretty", "json or pretty";
}

/// Default of `rq_key_prefix`: RQ's own, so Python RQ tools see provis's queues unchanged.
pub const DEFAULT_RQ_KEY_PREFIX: &str = "rq";

/// Default of `llm_bucket_key`: the Redis key of the LLM rate limit all processes share.
pub const DEFAULT_LLM_BUCKET_KEY: &str = "provis:llm:bucket";

/// Whether `prefix` can prefix the RQ keys: non-empty, and only the characters RQ accepts
/// (letters, digits and `_ . : - { }`), so Python RQ can be pointed at the same keys. Checked
/// here at start-up (in every mode) and again by `queue::keys::Keys::new`.
pub fn check_rq_key_prefix(prefix: &str) -> Result<(), String> {
    let ok = !prefix.is_empty()
        && prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.:-{}".contains(c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid key prefix {prefix:?}: only letters, digits and _ . : - {{ }} are allowed"
        ))
    }
}

/// The OTLP transport (`OTEL_EXPORTER_OTLP_PROTOCOL`); the telemetry module exports with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpProtocol {
    /// OTLP/gRPC (default port 4317).
    Grpc,
    /// OTLP/HTTP with protobuf bodies (default port 4318), the specification's default.
    HttpProtobuf,
}

impl OtlpProtocol {
    /// Parses `OTEL_EXPORTER_OTLP_PROTOCOL`'s values; `http/json` is not supported.
    pub fn parse(text: &str) -> Result<OtlpProtocol, String> {
        match text.trim() {
            "grpc" => Ok(OtlpProtocol::Grpc),
            "http/protobuf" | "" => Ok(OtlpProtocol::HttpProtobuf),
            other => Err(format!(
                "unsupported OTLP protocol {other:?}: expected grpc or http/protobuf"
            )),
        }
    }
}

/// A setting that could not be used; start-up stops with this message.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value did not parse.
    #[error("invalid value for {key} (from {source_name}): {value:?}: {reason}")]
    Invalid {
        /// Setting name (TOML key).
        key: String,
        /// Where the value came from (env name, file, flag).
        source_name: String,
        /// The value as given.
        value: String,
        /// What was wrong.
        reason: String,
    },
    /// The config file could not be read or parsed.
    #[error("cannot read config file {path}: {reason}")]
    File {
        /// Path of the file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// The config file has a key provis does not know.
    #[error("unknown key {key:?} in config file {path}")]
    UnknownKey {
        /// Path of the file.
        path: String,
        /// The unknown key.
        key: String,
    },
}

/// Output format of logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line (for log shippers).
    Json,
    /// Human-readable lines.
    Pretty,
}

/// Where artifacts and uploads are stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Settings {
    /// Bucket name.
    pub bucket: String,
    /// Region.
    pub region: String,
    /// Custom endpoint (MinIO, moto), path-style.
    pub endpoint_url: Option<String>,
    /// Access key.
    pub access_key_id: Option<String>,
    /// Secret key.
    pub secret_access_key: Option<String>,
    /// Longest one request may take, seconds (a hung S3 fails the call instead of holding it).
    pub request_timeout_s: u64,
}

/// The effective configuration of one process.
#[derive(Debug, Clone)]
pub struct Config {
    /// Database URL; `None` = embedded SQLite under `data_dir`.
    pub database_url: Option<String>,
    /// Bound on waiting for a Postgres connection, seconds.
    pub db_timeout_s: u64,
    /// Bound on one Postgres statement (`statement_timeout`), seconds.
    pub db_statement_timeout_s: u64,
    /// Redis URL; `None` = in-process queue and events.
    pub redis_url: Option<String>,
    /// Bound on connecting to Redis and on one command's answer, seconds.
    pub redis_timeout_s: u64,
    /// Prefix of the queue keys in Redis. A setting rather than a constant so several clusters
    /// (or tests) can share one Redis; serve and the workers must agree on it, so both read it
    /// from here.
    pub rq_key_prefix: String,
    /// S3 settings; `None` = local disk under `data_dir`.
    pub s3: Option<S3Settings>,
    /// Embedded-mode data directory.
    pub data_dir: PathBuf,
    /// API listen host.
    pub host: String,
    /// API listen port.
    pub port: u16,
    /// Worker tasks in all-in-one (and at least this many in analyze).
    pub workers: usize,
    /// Queues in priority order.
    pub queues: Vec<String>,
    /// Task lease without heartbeat, seconds.
    pub worker_lease_s: u64,
    /// Parser child processes per worker.
    pub node_subproc_concurrency: usize,
    /// Per-file parse timeout, seconds.
    pub node_file_timeout_s: u64,
    /// Per-batch parse timeout, seconds.
    pub node_batch_timeout_s: u64,
    /// Files per parse batch.
    pub parse_batch_size: usize,
    /// Largest file parsed, bytes.
    pub max_file_bytes: u64,
    /// Parse in sandboxed child processes.
    pub parser_sandbox: bool,
    /// Memory budget of all parser children of one process, MiB; `None` = sized from the
    /// machine's memory (see `sandbox::ParserBudget`).
    pub parser_memory_mb: Option<u64>,
    /// Largest upload, bytes.
    pub max_upload_bytes: u64,
    /// Zip entry limit.
    pub zip_max_entries: u64,
    /// Zip depth limit.
    pub zip_max_depth: u64,
    /// Zip total inflated size limit.
    pub zip_max_uncompressed_bytes: u64,
    /// Zip per-entry ratio limit.
    pub zip_max_ratio: u64,
    /// LLM endpoint.
    pub llm_base_url: Option<String>,
    /// LLM key.
    pub llm_api_key: Option<String>,
    /// LLM model.
    pub llm_model: String,
    /// LLM requests per minute.
    pub llm_rpm: u64,
    /// LLM tokens per minute.
    pub llm_tpm: u64,
    /// LLM requests in flight per process.
    pub llm_concurrency: usize,
    /// Timeout of one LLM request, seconds.
    pub llm_timeout_s: u64,
    /// Completion tokens asked for per file.
    pub llm_max_tokens: u64,
    /// Tokens one job may spend on the LLM.
    pub llm_repo_token_budget: u64,
    /// Redis key of the shared LLM rate-limit bucket.
    pub llm_bucket_key: String,
    /// Bearer token required by the API.
    pub api_token: Option<String>,
    /// CORS origins.
    pub cors_origins: Vec<String>,
    /// Presigned URL lifetime, seconds.
    pub presign_ttl_s: u64,
    /// Seconds an upload is kept after its job ended.
    pub upload_retention_s: u64,
    /// Keep `work/<job>/` after the job ends (debugging).
    pub keep_work_files: bool,
    /// OTLP endpoint.
    pub otel_endpoint: Option<String>,
    /// OTLP transport.
    pub otel_protocol: OtlpProtocol,
    /// Port of a worker's `/metrics` and `/health`; 0 = none.
    pub metrics_port: u16,
    /// Whether `metrics_port` was set (flag, environment or file) rather than defaulted: a
    /// port that was asked for and is taken stops the worker; the default only warns.
    pub metrics_port_explicit: bool,
    /// Seconds `serve`/`work` wait for pending migrations to be applied.
    pub migration_wait_s: u64,
    /// Log filter.
    pub log: String,
    /// Log format.
    pub log_format: LogFormat,
}

/// Raw values collected by precedence, remembering where each came from.
#[derive(Debug, Default, Clone)]
pub struct RawConfig {
    values: BTreeMap<&'static str, (String, String)>,
}

impl RawConfig {
    /// Starts from the built-in defaults.
    pub fn defaults() -> Self {
        let mut raw = Self::default();
        for k in KEYS {
            raw.values
                .insert(k.toml, (k.default.to_string(), "default".to_string()));
        }
        raw
    }

    /// Applies a TOML file (`provis.toml`); unknown keys are an error so typos are caught.
    pub fn apply_file(&mut self, path: &Path) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| ConfigError::File {
                path: path.display().to_string(),
                reason: e.to_string(),
            })?;
        for (key, value) in table {
            let Some(spec) = KEYS.iter().find(|k| k.toml == key) else {
                return Err(ConfigError::UnknownKey {
                    path: path.display().to_string(),
                    key,
                });
            };
            let text = match value {
                toml::Value::String(s) => s,
                toml::Value::Array(items) => items
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string())
                    })
                    .collect::<Vec<_>>()
                    .join(","),
                other => other.to_string(),
            };
            self.values
                .insert(spec.toml, (text, format!("{}", path.display())));
        }
        Ok(())
    }

    /// Applies environment variables through `lookup` (so tests need not mutate the process env).
    pub fn apply_env(&mut self, lookup: impl Fn(&str) -> Option<String>) {
        for k in KEYS {
            for name in k.env {
                if let Some(v) = lookup(name) {
                    self.values.insert(k.toml, (v, (*name).to_string()));
                    break;
                }
            }
        }
    }

    /// Sets one key from a command-line flag (highest precedence).
    pub fn set_flag(&mut self, key: &'static str, value: impl Into<String>) {
        self.values
            .insert(key, (value.into(), format!("--{}", key.replace('_', "-"))));
    }

    fn get(&self, key: &str) -> (&str, &str) {
        self.values
            .get(key)
            .map(|(v, s)| (v.as_str(), s.as_str()))
            .unwrap_or(("", "default"))
    }

    fn opt(&self, key: &str) -> Option<String> {
        let v = self.get(key).0.trim();
        (!v.is_empty()).then(|| v.to_string())
    }

    fn num<T>(&self, key: &str, min: T) -> Result<T, ConfigError>
    where
        T: std::str::FromStr + PartialOrd + std::fmt::Display,
        T::Err: std::fmt::Display,
    {
        let (value, source) = self.get(key);
        let invalid = |reason: String| ConfigError::Invalid {
            key: key.to_string(),
            source_name: source.to_string(),
            value: value.to_string(),
            reason,
        };
        let n: T = value
            .trim()
            .replace('_', "")
            .parse()
            .map_err(|e: T::Err| invalid(format!("not a number ({e})")))?;
        if n < min {
            return Err(invalid(format!("must be at least {min}")));
        }
        Ok(n)
    }

    fn flag(&self, key: &str) -> Result<bool, ConfigError> {
        let (value, source) = self.get(key);
        match value.trim().to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" => Ok(false),
            _ => Err(ConfigError::Invalid {
                key: key.to_string(),
                source_name: source.to_string(),
                value: value.to_string(),
                reason: "expected true or false".to_string(),
            }),
        }
    }

    /// Parses and validates every value.
    pub fn build(&self) -> Result<Config, ConfigError> {
        let invalid = |key: &str, reason: &str| {
            let (value, source) = self.get(key);
            ConfigError::Invalid {
                key: key.to_string(),
                source_name: source.to_string(),
                value: value.to_string(),
                reason: reason.to_string(),
            }
        };
        let database_url = self.opt("database_url");
        if let Some(url) = &database_url {
            let ok = ["postgres://", "postgresql://", "sqlite://", "sqlite:"]
                .iter()
                .any(|p| url.starts_with(p));
            if !ok {
                return Err(invalid(
                    "database_url",
                    "expected postgres://…, postgresql://… or sqlite://path",
                ));
            }
        }
        let redis_url = self.opt("redis_url");
        if let Some(url) = &redis_url {
            if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                return Err(invalid("redis_url", "expected redis://host:port[/db]"));
            }
        }
        let endpoint = self.opt("s3_endpoint_url");
        if let Some(url) = &endpoint {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(invalid("s3_endpoint_url", "expected http(s)://host:port"));
            }
        }
        let bucket = self.opt("s3_bucket");
        let s3 = if bucket.is_some() || endpoint.is_some() {
            Some(S3Settings {
                bucket: bucket.unwrap_or_else(|| "provis-artifacts".to_string()),
                region: self.opt("s3_region").unwrap_or_else(|| "us-east-1".into()),
                endpoint_url: endpoint,
                access_key_id: self.opt("s3_access_key_id"),
                secret_access_key: self.opt("s3_secret_access_key"),
                request_timeout_s: self.num("s3_request_timeout_s", 1)?,
            })
        } else {
            None
        };
        let queues: Vec<String> = self
            .get("queues")
            .0
            .split([',', ' '])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        if queues.is_empty() {
            return Err(invalid("queues", "at least one queue name"));
        }
        let log_format = match self.get("log_format").0.trim() {
            "json" => LogFormat::Json,
            "pretty" | "" => LogFormat::Pretty,
            _ => return Err(invalid("log_format", "expected json or pretty")),
        };
        let log = self.opt("log").unwrap_or_else(|| "info".into());
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&log) {
            return Err(invalid("log", &format!("not a log filter ({e})")));
        }
        let port: u16 = self.num("port", 0)?;
        let node_subproc_concurrency: usize = self.num("node_subproc_concurrency", 1)?;
        let rq_key_prefix = self
            .opt("rq_key_prefix")
            .unwrap_or_else(|| DEFAULT_RQ_KEY_PREFIX.into());
        if let Err(e) = check_rq_key_prefix(&rq_key_prefix) {
            return Err(invalid("rq_key_prefix", &e));
        }
        let otel_protocol = OtlpProtocol::parse(self.get("otel_exporter_otlp_protocol").0)
            .map_err(|e| invalid("otel_exporter_otlp_protocol", &e))?;
        Ok(Config {
            database_url,
            db_timeout_s: self.num("db_timeout_s", 1)?,
            db_statement_timeout_s: self.num("db_statement_timeout_s", 1)?,
            redis_url,
            redis_timeout_s: self.num("redis_timeout_s", 1)?,
            rq_key_prefix,
            s3,
            data_dir: PathBuf::from(self.opt("data_dir").unwrap_or_else(|| "./.provis".into())),
            host: self.opt("host").unwrap_or_else(|| "0.0.0.0".into()),
            port,
            workers: match self.opt("workers") {
                Some(_) => self.num("workers", 1)?,
                // A task waits for its parser child while it parses, and the child waits for
                // the task while it reads files and records results: one task more than
                // children keeps the children busy (53.6k files on 2 cores: the parse phase
                // took 5.2 instead of 5.7 s, mean of five runs each).
                None => node_subproc_concurrency + 1,
            },
            queues,
            worker_lease_s: self.num("worker_lease_s", 1)?,
            node_subproc_concurrency,
            node_file_timeout_s: self.num("node_file_timeout_s", 1)?,
            node_batch_timeout_s: self.num("node_batch_timeout_s", 1)?,
            parse_batch_size: self.num("parse_batch_size", 1)?,
            max_file_bytes: self.num("max_file_bytes", 1)?,
            parser_sandbox: self.flag("parser_sandbox")?,
            parser_memory_mb: match self.opt("parser_memory_mb") {
                None => None,
                Some(_) => Some(self.num("parser_memory_mb", 256)?),
            },
            max_upload_bytes: self.num("max_upload_bytes", 1)?,
            zip_max_entries: self.num("zip_max_entries", 1)?,
            zip_max_depth: self.num("zip_max_depth", 1)?,
            zip_max_uncompressed_bytes: self.num("zip_max_uncompressed_bytes", 1)?,
            zip_max_ratio: self.num("zip_max_ratio", 1)?,
            llm_base_url: self.opt("llm_base_url"),
            llm_api_key: self.opt("llm_api_key"),
            llm_model: self
                .opt("llm_model")
                .unwrap_or_else(|| "gpt-4o-mini".into()),
            llm_rpm: self.num("llm_rpm", 1)?,
            llm_tpm: self.num("llm_tpm", 1)?,
            llm_concurrency: self.num("llm_concurrency", 1)?,
            llm_timeout_s: self.num("llm_timeout_s", 1)?,
            llm_max_tokens: self.num("llm_max_tokens", 16)?,
            llm_repo_token_budget: self.num("llm_repo_token_budget", 0)?,
            llm_bucket_key: self
                .opt("llm_bucket_key")
                .unwrap_or_else(|| DEFAULT_LLM_BUCKET_KEY.into()),
            api_token: self.opt("api_token"),
            cors_origins: self
                .get("cors_origins")
                .0
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            presign_ttl_s: self.num("presign_ttl_s", 1)?,
            upload_retention_s: self.num("upload_retention_s", 0)?,
            keep_work_files: self.flag("keep_work_files")?,
            otel_endpoint: self.opt("otel_exporter_otlp_endpoint"),
            otel_protocol,
            metrics_port: self.num("metrics_port", 0)?,
            metrics_port_explicit: self.get("metrics_port").1 != "default",
            migration_wait_s: self.num("migration_wait_s", 0)?,
            log,
            log_format,
        })
    }
}

impl Config {
    /// Loads defaults, then the config file (explicit path, `PROVIS_CONFIG`, or `./provis.toml`
    /// when present), then the process environment. Flags are applied by the caller through
    /// `raw.set_flag` before [`RawConfig::build`]; see [`Config::load_with`].
    pub fn load_raw(config_path: Option<&Path>) -> Result<RawConfig, ConfigError> {
        let mut raw = RawConfig::defaults();
        let env_path = std::env::var("PROVIS_CONFIG").ok().map(PathBuf::from);
        let path = config_path.map(Path::to_path_buf).or(env_path).or_else(|| {
            let p = PathBuf::from("provis.toml");
            p.exists().then_some(p)
        });
        if let Some(p) = path {
            raw.apply_file(&p)?;
        }
        raw.apply_env(|name| std::env::var(name).ok());
        Ok(raw)
    }

    /// Loads the configuration with `flags` (TOML key, value) taking precedence over everything.
    pub fn load_with(
        config_path: Option<&Path>,
        flags: &[(&'static str, String)],
    ) -> Result<Config, ConfigError> {
        let mut raw = Self::load_raw(config_path)?;
        for (k, v) in flags {
            raw.set_flag(k, v.clone());
        }
        raw.build()
    }

    /// The database URL in effect: the configured one, or the embedded SQLite file.
    pub fn effective_database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("provis.db").display()))
    }

    /// True when nothing external is configured (SQLite, in-process queue, local disk).
    pub fn is_embedded(&self) -> bool {
        self.redis_url.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn defaults_build() {
        let cfg = RawConfig::defaults().build().expect("defaults are valid");
        assert_eq!(cfg.port, 8000);
        assert_eq!(cfg.max_upload_bytes, 536_870_912);
        assert_eq!(cfg.queues, vec!["high", "normal", "low"]);
        assert!(cfg.s3.is_none());
        assert!(cfg.is_embedded());
    }

    #[test]
    fn precedence_flag_env_file_default() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("provis.toml");
        std::fs::write(
            &file,
            "port = 7000\nparse_batch_size = 10\nzip_max_ratio = 99\n",
        )
        .expect("write");
        let mut raw = RawConfig::defaults();
        raw.apply_file(&file).expect("file");
        raw.apply_env(env(&[("PORT", "7100"), ("PARSE_BATCH_SIZE", "20")]));
        raw.set_flag("port", "7200");
        let cfg = raw.build().expect("valid");
        assert_eq!(cfg.port, 7200, "flag beats env");
        assert_eq!(cfg.parse_batch_size, 20, "env beats file");
        assert_eq!(cfg.zip_max_ratio, 99, "file beats default");
        assert_eq!(cfg.node_file_timeout_s, 20, "default");
    }

    #[test]
    fn workers_default_to_one_more_than_the_parser_children() {
        let cfg = RawConfig::defaults().build().expect("valid");
        assert_eq!(cfg.workers, cfg.node_subproc_concurrency + 1);
        assert_eq!(cfg.workers, 3);
        let mut raw = RawConfig::defaults();
        raw.apply_env(env(&[("NODE_SUBPROC_CONCURRENCY", "4")]));
        assert_eq!(raw.build().expect("valid").workers, 5);
        let mut raw = RawConfig::defaults();
        raw.apply_env(env(&[
            ("NODE_SUBPROC_CONCURRENCY", "4"),
            ("PROVIS_WORKERS", "2"),
        ]));
        assert_eq!(raw.build().expect("valid").workers, 2, "a setting wins");
    }

    #[test]
    fn bad_value_names_key_and_value() {
        let mut raw = RawConfig::defaults();
        raw.apply_env(env(&[("MAX_UPLOAD_BYTES", "lots")]));
        let err = raw.build().expect_err("must fail").to_string();
        assert!(err.contains("max_upload_bytes"), "{err}");
        assert!(err.contains("MAX_UPLOAD_BYTES"), "{err}");
        assert!(err.contains("lots"), "{err}");
    }

    #[test]
    fn unknown_file_key_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("provis.toml");
        std::fs::write(&file, "prot = 1\n").expect("write");
        let err = RawConfig::defaults().apply_file(&file).expect_err("typo");
        assert!(err.to_string().contains("prot"));
    }

    #[test]
    fn old_runbook_names_enable_s3() {
        let mut raw = RawConfig::defaults();
        raw.apply_env(env(&[
            ("S3_ENDPOINT_URL", "http://127.0.0.1:9000"),
            ("OPENAI_API_KEY", "k"),
        ]));
        let cfg = raw.build().expect("valid");
        let s3 = cfg.s3.expect("s3 enabled by endpoint");
        assert_eq!(s3.bucket, "provis-artifacts");
        assert_eq!(cfg.llm_api_key.as_deref(), Some("k"));
    }

    #[test]
    fn the_queue_key_prefix_is_a_setting_checked_at_start() {
        let mut raw = RawConfig::defaults();
        assert_eq!(raw.build().expect("valid").rq_key_prefix, "rq");
        raw.apply_env(env(&[("RQ_KEY_PREFIX", "team-a")]));
        assert_eq!(raw.build().expect("valid").rq_key_prefix, "team-a");
        raw.set_flag("rq_key_prefix", "team b");
        let err = raw
            .build()
            .expect_err("a space is no RQ key character")
            .to_string();
        assert!(
            err.contains("rq_key_prefix") && err.contains("team b"),
            "{err}"
        );
    }

    #[test]
    fn example_file_lists_every_key() {
        let example = include_str!("../provis.toml.example");
        for k in KEYS {
            let needle = format!("{} =", k.toml);
            assert!(
                example.contains(&needle),
                "provis.toml.example lacks {}",
                k.toml
            );
        }
        // And the example itself parses with every line uncommented.
        let uncommented: String = example
            .lines()
            .filter_map(|l| l.strip_prefix("# ").filter(|r| r.contains(" = ")))
            .map(|l| format!("{l}\n"))
            .collect();
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("provis.toml");
        std::fs::write(&file, uncommented).expect("write");
        let mut raw = RawConfig::defaults();
        raw.apply_file(&file).expect("example keys are known");
    }
}
