//! The process context: configuration plus one handle per backend, built once per process.
//!
//! Storage, queue, artifacts and events do not know each other; this struct is where they
//! meet, and the API handlers and the tasks receive it. It lives in `tasks` because it is the
//! tasks' composition root (it holds their caches and scratch space); the API, one layer up,
//! reads through its handles and hands it to intake. The backends are chosen by configuration alone
//! (docs/architecture.md#one-binary-two-modes): Postgres or SQLite, Redis or in-process, S3 or
//! local disk.

use super::memo::Memo;
use super::source::SourceCache;
use super::store::DbTaskStore;
use crate::artifacts::ArtifactStore;
use crate::config::Config;
use crate::db::Db;
use crate::events::{BusConfig, EventBus};
use crate::queue::{LocalBackend, QueueBackend, RedisBackend};
use crate::sandbox::{ParserPool, SandboxOptions};
use crate::telemetry::redact_url;
use anyhow::Context as _;
use std::sync::Arc;
use std::time::Duration;

/// Everything a handler or a task needs; cheap to clone.
#[derive(Clone)]
pub struct AppContext {
    inner: Arc<Inner>,
}

struct Inner {
    cfg: Config,
    db: Db,
    artifacts: ArtifactStore,
    events: EventBus,
    queue: QueueBackend,
    scratch: super::scratch::Scratch,
    sources: SourceCache,
    parsers: Option<ParserPool>,
    memo: Memo,
}

/// How much of the stack a process needs (the API does not need parser children, etc.).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `serve`: API only.
    Api,
    /// `work`: workers only.
    Worker,
    /// `all-in-one` / `analyze`: both; embedded mode migrates its own database.
    AllInOne,
}

/// How long one dependency check may take before the dependency counts as down.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// What each dependency answered just now: the backend's name, or why it is down. One probe
/// for `/health` and for the workers' wait on a dependency, so both judge alike.
#[derive(Debug, Clone)]
pub struct DependencyChecks {
    /// The database (`postgres`, `sqlite`).
    pub database: Result<String, String>,
    /// Redis (`redis`), or `in-process (not configured)` in embedded mode.
    pub redis: Result<String, String>,
    /// The object store (`s3`, `local`).
    pub storage: Result<String, String>,
}

impl DependencyChecks {
    /// The dependencies that are down, by name, with their error.
    pub fn failing(&self) -> Vec<(&'static str, &str)> {
        [
            ("database", &self.database),
            ("redis", &self.redis),
            ("storage", &self.storage),
        ]
        .into_iter()
        .filter_map(|(name, r)| r.as_ref().err().map(|e| (name, e.as_str())))
        .collect()
    }
}

impl AppContext {
    /// Checks the database, Redis and the object store at once, each bounded by
    /// [`CHECK_TIMEOUT`].
    pub async fn check_dependencies(&self) -> DependencyChecks {
        /// `backend` when `check` answers in time, else why not.
        async fn probe<T, E: std::fmt::Display>(
            check: impl std::future::Future<Output = Result<T, E>>,
            backend: &str,
        ) -> Result<String, String> {
            match tokio::time::timeout(CHECK_TIMEOUT, check).await {
                Ok(Ok(_)) => Ok(backend.to_string()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err(format!("no answer within {} s", CHECK_TIMEOUT.as_secs())),
            }
        }
        let redis = async {
            match self.queue() {
                QueueBackend::Redis(_) => probe(self.events().check(), "redis").await,
                QueueBackend::Local(_) => Ok("in-process (not configured)".to_string()),
            }
        };
        let (database, redis, storage) = tokio::join!(
            probe(self.db().ping(), self.db().backend_name()),
            redis,
            probe(self.artifacts().check(), self.artifacts().backend_name()),
        );
        DependencyChecks {
            database,
            redis,
            storage,
        }
    }

    /// Connects every backend the configuration names.
    ///
    /// In embedded mode (no `DATABASE_URL`) the SQLite database under the data dir is migrated
    /// here; a configured database must be migrated by `provis migrate`: start-up waits up to
    /// `migration_wait_s` for it, then stops with that instruction.
    pub async fn build(cfg: Config, role: Role) -> anyhow::Result<Self> {
        if cfg.database_url.is_none() || cfg.s3.is_none() {
            std::fs::create_dir_all(&cfg.data_dir).with_context(|| {
                format!("cannot create the data dir {}", cfg.data_dir.display())
            })?;
        }
        let db_url = cfg.effective_database_url();
        let db = Db::connect_with(
            &db_url,
            None,
            crate::db::PgBounds {
                wait: Duration::from_secs(cfg.db_timeout_s),
                statement: Some(Duration::from_secs(cfg.db_statement_timeout_s)),
            },
        )
        .await
        .with_context(|| format!("cannot open the database {}", redact_url(&db_url)))?;
        if cfg.database_url.is_none() || role == Role::AllInOne && db.backend_name() == "sqlite" {
            db.migrate()
                .await
                .context("migrating the embedded database")?;
        } else {
            // `provis migrate` may be running right now (all processes started at once).
            match db
                .wait_for_migrations(std::time::Duration::from_secs(cfg.migration_wait_s))
                .await
            {
                Ok(()) => {}
                // Postgres down at start-up: the API starts anyway and `/health` names the
                // database until it answers (workers wait for it instead; see `provis work`).
                Err(e) if e.is_unavailable() && role != Role::Worker => tracing::warn!(
                    error = %e,
                    "the database does not answer; starting anyway, /health reports it until it does"
                ),
                Err(e) => return Err(anyhow::Error::new(e).context("checking migrations")),
            }
        }
        let artifacts = match &cfg.s3 {
            Some(s3) => ArtifactStore::s3(s3)
                .await
                .context("connecting to S3 (S3_ENDPOINT_URL / S3_BUCKET)")?,
            None => ArtifactStore::local(cfg.data_dir.join("artifacts"))
                .context("opening the local artifact directory")?,
        };
        let (events, queue) = match &cfg.redis_url {
            Some(url) => {
                let redis_timeout = Duration::from_secs(cfg.redis_timeout_s);
                let events = EventBus::redis(
                    url,
                    BusConfig {
                        timeout: redis_timeout,
                        ..BusConfig::default()
                    },
                )
                .context("connecting to Redis for events (REDIS_URL)")?;
                let prefix = &cfg.rq_key_prefix;
                // Lazy: a Redis that is down at start-up is reported by /health (503) and
                // retried on use, rather than stopping the process.
                let queue = RedisBackend::connect_lazy_with(url, prefix, redis_timeout)
                    .context("using Redis for queues (REDIS_URL)")?;
                if let Err(e) = events.check().await {
                    tracing::warn!(
                        redis = %redact_url(url),
                        error = %e,
                        "Redis does not answer; starting anyway, /health reports it until it does"
                    );
                }
                (events, QueueBackend::Redis(queue))
            }
            None => {
                let store = DbTaskStore::new(db.clone());
                (
                    EventBus::in_process(BusConfig::default()),
                    QueueBackend::Local(LocalBackend::new(Arc::new(store))),
                )
            }
        };
        let parsers = if role == Role::Api {
            None
        } else {
            let opts = SandboxOptions::from_config(&cfg);
            if opts.enabled {
                tracing::info!(
                    budget_mb = (opts.memory_limit_bytes * opts.concurrency as u64) >> 20,
                    children = opts.concurrency,
                    per_child_mb = opts.memory_limit_bytes >> 20,
                    "parser memory budget (PARSER_MEMORY_MB): the most this process's parser children can use"
                );
            }
            Some(ParserPool::new(opts).context("starting the parser pool")?)
        };
        let scratch = super::scratch::Scratch::open(&cfg.data_dir).with_context(|| {
            format!(
                "creating the staging folder under {} (PROVIS_DATA_DIR)",
                cfg.data_dir.display()
            )
        })?;
        Ok(Self {
            inner: Arc::new(Inner {
                cfg,
                db,
                artifacts,
                events,
                queue,
                scratch,
                sources: SourceCache::default(),
                parsers,
                memo: Memo::default(),
            }),
        })
    }

    /// The effective configuration.
    pub fn cfg(&self) -> &Config {
        &self.inner.cfg
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// The artifact store (also holds uploads).
    pub fn artifacts(&self) -> &ArtifactStore {
        &self.inner.artifacts
    }

    /// The live status and event transport.
    pub fn events(&self) -> &EventBus {
        &self.inner.events
    }

    /// The queue backend.
    pub fn queue(&self) -> &QueueBackend {
        &self.inner.queue
    }

    /// The worker's cache of fetched uploads.
    pub fn sources(&self) -> &SourceCache {
        &self.inner.sources
    }

    /// Stage results this process holds for the next stage (see [`Memo`]).
    pub fn memo(&self) -> &Memo {
        &self.inner.memo
    }

    /// The parser pool (sandboxed children, or in-process when `parser_sandbox` is off);
    /// `None` in an API-only process, which never runs tasks.
    pub fn parsers(&self) -> Option<&ParserPool> {
        self.inner.parsers.as_ref()
    }

    /// Removes the staging folder of [`scratch`](Self::scratch), when the process stops.
    pub fn remove_scratch(&self) {
        self.inner.scratch.remove();
    }

    /// A per-process scratch directory for temporary files (upload spooling, zip copies),
    /// inside the data dir.
    pub fn scratch(&self) -> &std::path::Path {
        self.inner.scratch.path()
    }
}
