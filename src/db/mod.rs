//! State through Diesel: Postgres (cluster) or SQLite (embedded) behind one schema
//! (docs/architecture.md#state).
//!
//! # Design
//! - [`Db`] is a cheap-to-clone handle over one of two pools: deadpool of `AsyncPgConnection`
//!   (diesel-async over tokio-postgres, no libpq) or deadpool of
//!   `SyncConnectionWrapper<SqliteConnection>` (bundled SQLite, every query in
//!   `spawn_blocking`; a routine of several statements in one, see [`hop`]). The backend is
//!   chosen by the URL alone ([`Db::connect`]).
//! - One hand-written [`schema`] serves both, through the custom SQL types of [`types`]
//!   (uuid/timestamptz/jsonb on Postgres, TEXT on SQLite). Every query is written once and the
//!   private `with_conn!` macro expands it once per backend, so both are type-checked.
//! - Two migration trees (`migrations/postgres`, `migrations/sqlite`) are embedded in the
//!   binary and run through diesel_migrations on a blocking thread ([`Db::migrate`]).
//! - Concurrency guarantees come from single atomic statements and unique keys, never from
//!   reading then writing without a guard: task claims ([`Db::claim_next_task`]), artifact
//!   versions ([`Db::allocate_artifact`]), event sequence numbers ([`Db::insert_event`]), the
//!   parse-batch fan-in ([`Db::incr_batches_done`]) and the merge guard ([`Db::claim_merge`]).
//! - All times come from the application (see [`now`]), truncated to microseconds so both
//!   backends store and return the same instant.
//!
//! # SQLite connections
//! Each pooled connection runs `busy_timeout=5000`, `journal_mode=WAL`, `foreign_keys=ON` and
//! `synchronous=NORMAL` (durable across a process kill, which is what the embedded queue
//! needs). The pool is small (4): SQLite has one writer at a time anyway.

use std::path::{Path, PathBuf};

use chrono::{DateTime, SubsecRound, Utc};
use diesel::connection::SimpleConnection;
use diesel::sqlite::SqliteConnection;
use diesel::Connection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use futures_util::FutureExt;
use uuid::Uuid;

/// Runs `$body` with `$conn` bound to a pooled connection of whichever backend `$db` uses.
///
/// The body is expanded twice (once per backend) so each copy is type-checked against its
/// own connection type; it must evaluate to the same `Result<_, DbError>` in both.
///
/// `with_conn!(db, one_hop conn => body)` is for a routine of several statements: on SQLite
/// the whole body runs on one blocking thread, each statement in place ([`in_one_hop!`]). Its
/// body may only capture owned (`'static`, `Send`) values.
macro_rules! with_conn {
    ($db:expr, $conn:ident => $body:expr) => {
        with_conn!(@ $db, $conn, $body, each_statement)
    };
    ($db:expr, one_hop $conn:ident => $body:expr) => {
        with_conn!(@ $db, $conn, $body, in_one_hop)
    };
    (@ $db:expr, $conn:ident, $body:expr, $sqlite:ident) => {
        match &$db.backend {
            $crate::db::Backend::Pg { pool, .. } => {
                let mut pooled = pool.get().await?;
                let $conn: &mut diesel_async::AsyncPgConnection = &mut *pooled;
                $body
            }
            $crate::db::Backend::Sqlite { pool, .. } => {
                let pooled = pool.get().await?;
                $sqlite!(pooled, $conn => $body)
            }
        }
    };
}

/// `$body` with `$conn` bound to the pooled SQLite connection `$pooled`, each statement handed
/// off to a blocking thread on its own (diesel-async's way).
macro_rules! each_statement {
    ($pooled:ident, $conn:ident => $body:expr) => {{
        let mut $pooled = $pooled;
        let $conn: &mut $crate::db::SqliteConn = &mut *$pooled;
        $body
    }};
}

/// `$body` with `$conn` bound to the pooled SQLite connection `$pooled`, the whole body on one
/// blocking thread and each statement in place ([`hop`]) instead of one thread hand-off per
/// statement. The body may only capture owned (`'static`, `Send`) values.
macro_rules! in_one_hop {
    ($pooled:ident, $conn:ident => $body:expr) => {
        $crate::db::hop::run(move || {
            let mut $pooled = $pooled;
            let $conn: &mut $crate::db::SqliteConn = &mut *$pooled;
            $crate::db::hop::block_on(async move { $body })
        })
        .await
    };
}

mod artifacts;
mod events;
mod hop;
mod jobs;
pub mod models;
mod repos;
pub mod schema;
mod tasks;
pub mod types;

pub use models::{
    Artifact, BatchResult, EventRow, Job, JobUpdate, NewArtifact, NewJob, NewTask, NewWarning,
    Repo, Snapshot, Task, Warning,
};
pub use types::{SnapshotStatus, TaskState};

/// The SQLite connection type used by the pool.
/// Its runtime is [`hop::Hop`]: statements of a routine run with [`in_one_hop!`] run in place.
pub(crate) type SqliteConn = SyncConnectionWrapper<SqliteConnection, hop::Hop>;

/// Postgres migrations, embedded at build time.
pub const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
/// SQLite migrations, embedded at build time.
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// Pragmas run on every SQLite connection (pooled or used for migrations). `busy_timeout`
/// comes first: `journal_mode` needs a lock, and without the timeout in effect a new
/// connection opened while another one writes fails at once with "database is locked".
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
     PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;";

/// Takes the session advisory lock that serialises migrations of the current schema.
const PG_MIGRATION_LOCK: &str =
    "SELECT pg_advisory_lock(hashtext('provis.migrations.' || current_schema()))";
/// Releases it.
const PG_MIGRATION_UNLOCK: &str =
    "SELECT pg_advisory_unlock(hashtext('provis.migrations.' || current_schema()))";

/// How Postgres begins the message of a statement it cancelled (statement or lock timeout,
/// `pg_cancel_backend`); diesel files these under `Unknown`, so the text tells them apart.
const CANCELLED_STATEMENT: &str = "canceling statement due to";

/// Default pool size for Postgres.
pub const DEFAULT_PG_POOL_SIZE: usize = 10;
/// Default bound on taking a Postgres connection from the pool (opening one, or checking an
/// idle one with a round trip); see [`Db::connect_with`].
pub const DEFAULT_PG_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Bounds on waiting for Postgres (see [`Db::connect_with`]); SQLite ignores them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PgBounds {
    /// Longest wait for a connection: a free one, a new one, or checking an idle one.
    pub wait: std::time::Duration,
    /// Longest any one statement may run (`statement_timeout`); `None` = the server's default.
    pub statement: Option<std::time::Duration>,
}

impl Default for PgBounds {
    fn default() -> Self {
        Self {
            wait: DEFAULT_PG_TIMEOUT,
            statement: None,
        }
    }
}

/// Default pool size for SQLite (one writer at a time; more connections only add contention).
pub const DEFAULT_SQLITE_POOL_SIZE: usize = 4;

/// How many times a unique-key allocation (artifact version, event seq) is retried before
/// giving up. Each round lets at least one concurrent caller win, so this bounds the number
/// of callers racing for the same key, not the expected cost.
pub(crate) const MAX_ALLOCATION_ATTEMPTS: usize = 200;

/// Errors of the state layer.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL is neither `postgres://`, `postgresql://`, `sqlite://` nor a file path.
    #[error("unsupported database url {0:?}: expected postgres://…, postgresql://…, sqlite://path or a file path")]
    InvalidUrl(String),
    /// The directory for the SQLite file could not be created.
    #[error("cannot create directory {path:?} for the SQLite database: {source}")]
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The pool could not be built.
    #[error("cannot build the database pool: {0}")]
    PoolBuild(#[from] diesel_async::pooled_connection::deadpool::BuildError),
    /// No connection could be taken from the pool (the database is down or unreachable).
    #[error("database unavailable: {0}")]
    Pool(#[from] diesel_async::pooled_connection::deadpool::PoolError),
    /// A direct connection (migrations) failed.
    #[error("cannot connect to the database: {0}")]
    Connect(#[from] diesel::ConnectionError),
    /// A query failed.
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migration(String),
    /// A row that must exist does not.
    #[error("{what} {id} not found")]
    NotFound {
        /// Table or entity name.
        what: &'static str,
        /// The key looked up.
        id: String,
    },
    /// A unique-key allocation lost the race too many times.
    #[error("could not allocate a {what} after {attempts} attempts")]
    Contention {
        /// What was being allocated.
        what: &'static str,
        /// Attempts made.
        attempts: usize,
    },
    /// A blocking task (migrations) panicked or was cancelled.
    #[error("blocking database task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

impl DbError {
    /// Whether the error means "no such row" (an API maps it to 404).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            DbError::NotFound { .. } | DbError::Query(diesel::result::Error::NotFound)
        )
    }

    /// Whether the database could not be reached, or could not answer in time (a statement
    /// cancelled by `statement_timeout` or `lock_timeout`, a connection closed under the
    /// query): an API maps it to 503, as the client may retry.
    pub fn is_unavailable(&self) -> bool {
        use diesel::result::{DatabaseErrorKind, Error};
        match self {
            DbError::Pool(_) | DbError::Connect(_) => true,
            DbError::Query(Error::DatabaseError(DatabaseErrorKind::ClosedConnection, _)) => true,
            DbError::Query(Error::DatabaseError(_, info)) => {
                info.message().starts_with(CANCELLED_STATEMENT)
            }
            _ => false,
        }
    }
}

/// Unreachable or cancelled: 503 naming the database; anything else is a 500.
impl crate::error::Coded for DbError {
    fn code(&self) -> crate::error::ErrorCode {
        if self.is_unavailable() {
            crate::error::ErrorCode::Unavailable
        } else {
            crate::error::ErrorCode::Internal
        }
    }
    fn dependency(&self) -> &'static str {
        "database"
    }
}

/// Result alias of the state layer.
pub type Result<T, E = DbError> = std::result::Result<T, E>;

/// The pool behind a [`Db`].
#[derive(Clone)]
pub(crate) enum Backend {
    Pg {
        pool: Pool<AsyncPgConnection>,
        url: String,
    },
    Sqlite {
        pool: Pool<SqliteConn>,
        path: PathBuf,
    },
}

/// Handle to the state database; clone it freely (the pools are shared).
#[derive(Clone)]
pub struct Db {
    pub(crate) backend: Backend,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.backend {
            // The URL may carry a password; show only the backend.
            Backend::Pg { .. } => f.write_str("Db(postgres)"),
            Backend::Sqlite { path, .. } => write!(f, "Db(sqlite {})", path.display()),
        }
    }
}

/// Which backend a URL selects.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Pg(String),
    Sqlite(PathBuf),
}

fn parse_url(url: &str) -> Result<Target> {
    let url = url.trim();
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Target::Pg(url.to_owned()));
    }
    let path = if let Some(rest) = url.strip_prefix("sqlite://") {
        rest
    } else if let Some(rest) = url.strip_prefix("sqlite:") {
        rest
    } else if url.contains("://") {
        return Err(DbError::InvalidUrl(url.to_owned()));
    } else {
        url
    };
    // A pooled `:memory:` database would be one separate database per connection.
    if path.is_empty() || path.contains(":memory:") || path.starts_with("file:") {
        return Err(DbError::InvalidUrl(url.to_owned()));
    }
    Ok(Target::Sqlite(PathBuf::from(path)))
}

/// The current time as the database stores it (UTC, microsecond precision), so a value
/// written and read back compares equal on both backends.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// A stable task id for (job, task name, batch): enqueueing the same task twice inserts one
/// row (see [`Db::insert_task`]). A UUID v8 built from a BLAKE3 hash.
pub fn task_id(job_id: Uuid, name: &str, batch_index: Option<i32>) -> Uuid {
    let key = format!(
        "provis-task\0{job_id}\0{name}\0{}",
        batch_index.map_or_else(|| "-".to_owned(), |b| b.to_string())
    );
    content_uuid(&key)
}

/// A UUID v8 derived from `key`, for rows whose identity is their content.
pub(crate) fn content_uuid(key: &str) -> Uuid {
    let hash = blake3::hash(key.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hash.as_bytes()[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// What to do with the migrations on a blocking thread.
#[derive(Debug, Clone, Copy)]
enum MigrationOp {
    Run,
    RevertAll,
    Pending,
}

fn migration_op<DB, C>(conn: &mut C, source: EmbeddedMigrations, op: MigrationOp) -> Result<usize>
where
    DB: diesel::backend::Backend,
    C: MigrationHarness<DB>,
    EmbeddedMigrations: diesel::migration::MigrationSource<DB>,
{
    let done = match op {
        MigrationOp::Run => conn.run_pending_migrations(source).map(|v| v.len()),
        MigrationOp::RevertAll => conn.revert_all_migrations(source).map(|v| v.len()),
        MigrationOp::Pending => conn.pending_migrations(source).map(|v| v.len()),
    };
    done.map_err(|e| DbError::Migration(e.to_string()))
}

impl Db {
    /// Opens a pool for `url`: `postgres://…`/`postgresql://…` selects Postgres;
    /// `sqlite://path`, `sqlite:path` or a bare path selects a SQLite file (its parent
    /// directory is created). Uses [`DEFAULT_PG_POOL_SIZE`] / [`DEFAULT_SQLITE_POOL_SIZE`].
    ///
    /// Connections are opened lazily, so this succeeds even when Postgres is down; call
    /// [`Db::ping`] to check. Migrations are not run (see [`Db::migrate`]).
    pub async fn connect(url: &str) -> Result<Db> {
        Self::connect_with_pool_size(url, None).await
    }

    /// Like [`Db::connect`] with an explicit pool size (`None` = the backend's default).
    pub async fn connect_with_pool_size(url: &str, pool_size: Option<usize>) -> Result<Db> {
        Self::connect_with(url, pool_size, PgBounds::default()).await
    }

    /// Like [`Db::connect_with_pool_size`], with `bounds` on every wait for Postgres: for a
    /// connection (a free one, a new one, or the round trip that checks an idle one), and for
    /// any one statement (`statement_timeout`, set on each connection, so a statement stuck
    /// behind a lock is cancelled by the server). A Postgres that hangs or is busy then fails
    /// the call as unavailable instead of holding it.
    pub async fn connect_with(url: &str, pool_size: Option<usize>, bounds: PgBounds) -> Result<Db> {
        let timeout = bounds.wait;
        match parse_url(url)? {
            Target::Pg(url) => {
                let mut config = ManagerConfig::<AsyncPgConnection>::default();
                if let Some(limit) = bounds.statement {
                    let set = format!("SET statement_timeout = {}", limit.as_millis().max(1));
                    config.custom_setup = Box::new(move |url| {
                        let url = url.to_owned();
                        let set = set.clone();
                        async move {
                            let mut conn = AsyncPgConnection::establish(&url).await?;
                            conn.batch_execute(&set)
                                .await
                                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                            Ok(conn)
                        }
                        .boxed()
                    });
                }
                let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(
                    url.clone(),
                    config,
                );
                let pool = Pool::builder(manager)
                    .max_size(pool_size.unwrap_or(DEFAULT_PG_POOL_SIZE).max(1))
                    .wait_timeout(Some(timeout))
                    .create_timeout(Some(timeout))
                    .recycle_timeout(Some(timeout))
                    .runtime(deadpool_redis::Runtime::Tokio1)
                    .build()?;
                tracing::debug!(backend = "postgres", "database pool created");
                Ok(Db {
                    backend: Backend::Pg { pool, url },
                })
            }
            Target::Sqlite(path) => {
                create_parent_dir(&path)?;
                let mut config = ManagerConfig::<SqliteConn>::default();
                // A pooled SQLite connection is an open file: it cannot have been dropped by a
                // server, so the default check (`SELECT 1`, one blocking-thread hop, on every
                // checkout: 6.7k of them in one 53.6k-file `analyze`) buys nothing.
                config.recycling_method = RecyclingMethod::Fast;
                config.custom_setup = Box::new(|url| {
                    let url = url.to_owned();
                    async move {
                        let mut conn = SqliteConn::establish(&url).await?;
                        conn.batch_execute(SQLITE_PRAGMAS)
                            .await
                            .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                        Ok(conn)
                    }
                    .boxed()
                });
                let manager = AsyncDieselConnectionManager::<SqliteConn>::new_with_config(
                    path.to_string_lossy().into_owned(),
                    config,
                );
                let pool = Pool::builder(manager)
                    .max_size(pool_size.unwrap_or(DEFAULT_SQLITE_POOL_SIZE).max(1))
                    .build()?;
                tracing::debug!(backend = "sqlite", path = %path.display(), "database pool created");
                Ok(Db {
                    backend: Backend::Sqlite { pool, path },
                })
            }
        }
    }

    /// `"postgres"` or `"sqlite"`, for logs and `/health`.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Pg { .. } => "postgres",
            Backend::Sqlite { .. } => "sqlite",
        }
    }

    /// Checks that a connection can be taken and a trivial query answered.
    pub async fn ping(&self) -> Result<()> {
        with_conn!(self, conn => {
            diesel::sql_query("SELECT 1").execute(conn).await?;
            Ok(())
        })
    }

    /// Applies pending migrations and returns how many ran (0 when up to date, so it is safe
    /// to call repeatedly).
    pub async fn migrate(&self) -> Result<usize> {
        let applied = self.migration(MigrationOp::Run).await?;
        tracing::info!(
            backend = self.backend_name(),
            applied,
            "database migrations applied"
        );
        Ok(applied)
    }

    /// Reverts every applied migration (drops all tables); for tests and `migrate --reset`.
    pub async fn revert_all(&self) -> Result<usize> {
        let reverted = self.migration(MigrationOp::RevertAll).await?;
        tracing::warn!(
            backend = self.backend_name(),
            reverted,
            "database migrations reverted"
        );
        Ok(reverted)
    }

    /// How many embedded migrations are not yet applied (`serve`/`work` refuse to start, or
    /// report not ready, when this is not 0).
    pub async fn pending_migrations(&self) -> Result<usize> {
        self.migration(MigrationOp::Pending).await
    }

    /// Number of migrations embedded for this backend.
    pub fn embedded_migrations(&self) -> usize {
        use diesel::migration::MigrationSource;
        let listed = match self.backend {
            Backend::Pg { .. } => {
                MigrationSource::<diesel::pg::Pg>::migrations(&PG_MIGRATIONS).map(|m| m.len())
            }
            Backend::Sqlite { .. } => {
                MigrationSource::<diesel::sqlite::Sqlite>::migrations(&SQLITE_MIGRATIONS)
                    .map(|m| m.len())
            }
        };
        // Embedded sources cannot fail to list; treat a failure as "none".
        listed.unwrap_or(0)
    }

    /// Waits until no migration is pending, polling with backoff for up to `limit`: `serve`
    /// and `work` started together with `provis migrate` (or before it) wait for it rather
    /// than stop. Past `limit` the error says to run `provis migrate`.
    pub async fn wait_for_migrations(&self, limit: std::time::Duration) -> Result<()> {
        let started = std::time::Instant::now();
        let mut pause = std::time::Duration::from_millis(200);
        loop {
            let pending = self.pending_migrations().await?;
            if pending == 0 {
                return Ok(());
            }
            let waited = started.elapsed();
            if waited >= limit {
                return Err(DbError::Migration(format!(
                    "the database has {pending} pending migration(s); run `provis migrate` first \
                     (waited {} s, MIGRATION_WAIT_S)",
                    waited.as_secs()
                )));
            }
            tracing::info!(
                pending,
                "waiting for `provis migrate` to apply pending migrations"
            );
            tokio::time::sleep(pause.min(limit - waited)).await;
            pause = (pause * 2).min(std::time::Duration::from_secs(5));
        }
    }

    async fn migration(&self, op: MigrationOp) -> Result<usize> {
        match &self.backend {
            Backend::Pg { url, .. } => {
                let url = url.clone();
                // AsyncConnectionWrapper blocks on the current runtime handle, so it must
                // live on a blocking thread.
                tokio::task::spawn_blocking(move || {
                    let mut conn =
                        <AsyncConnectionWrapper<AsyncPgConnection> as Connection>::establish(&url)?;
                    // One process at a time: concurrent `CREATE TABLE`s of diesel's bookkeeping
                    // table (or of the schema) collide in pg_type. The lock is per schema, so
                    // separate schemas of one database migrate independently, and it is released
                    // when this connection closes whatever happens.
                    SimpleConnection::batch_execute(&mut conn, PG_MIGRATION_LOCK)?;
                    let result = migration_op(&mut conn, PG_MIGRATIONS, op);
                    let _ = SimpleConnection::batch_execute(&mut conn, PG_MIGRATION_UNLOCK);
                    result
                })
                .await?
            }
            Backend::Sqlite { path, .. } => {
                let path = path.to_string_lossy().into_owned();
                tokio::task::spawn_blocking(move || {
                    let mut conn = SqliteConnection::establish(&path)?;
                    conn.batch_execute(SQLITE_PRAGMAS)?;
                    migration_op(&mut conn, SQLITE_MIGRATIONS, op)
                })
                .await?
            }
        }
    }
}

fn create_parent_dir(path: &Path) -> Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => {
            std::fs::create_dir_all(dir).map_err(|source| DbError::CreateDir {
                path: dir.to_path_buf(),
                source,
            })
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_select_the_backend() {
        assert_eq!(
            parse_url("postgres://u@h/db").ok(),
            Some(Target::Pg("postgres://u@h/db".into()))
        );
        assert_eq!(
            parse_url("postgresql://h/db?options=-csearch_path%3Dx").ok(),
            Some(Target::Pg(
                "postgresql://h/db?options=-csearch_path%3Dx".into()
            ))
        );
        assert_eq!(
            parse_url("sqlite:///var/x/p.db").ok(),
            Some(Target::Sqlite("/var/x/p.db".into()))
        );
        assert_eq!(
            parse_url("sqlite://.provis/p.db").ok(),
            Some(Target::Sqlite(".provis/p.db".into()))
        );
        assert_eq!(
            parse_url("./data/p.db").ok(),
            Some(Target::Sqlite("./data/p.db".into()))
        );
        assert!(parse_url("mysql://h/db").is_err());
        assert!(parse_url("sqlite::memory:").is_err());
        assert!(parse_url("").is_err());
    }

    #[test]
    fn task_ids_are_stable_and_distinct() {
        let job = Uuid::now_v7();
        assert_eq!(
            task_id(job, "parse_batch", Some(3)),
            task_id(job, "parse_batch", Some(3))
        );
        assert_ne!(
            task_id(job, "parse_batch", Some(3)),
            task_id(job, "parse_batch", Some(4))
        );
        assert_ne!(
            task_id(job, "merge", None),
            task_id(Uuid::now_v7(), "merge", None)
        );
        assert_eq!(task_id(job, "merge", None).get_version_num(), 8);
    }

    /// The bundled SQLite is built with the query planner stability guarantee on by default
    /// (`LIBSQLITE3_FLAGS` in `.cargo/config.toml`): without it SQLite prepares every
    /// statement with a `LIMIT ?` (diesel's `.first()`) again each time it runs.
    #[test]
    fn bundled_sqlite_keeps_plans_whatever_is_bound() {
        use diesel::Connection as _;
        #[derive(diesel::QueryableByName)]
        struct CompileOption {
            #[diesel(sql_type = diesel::sql_types::Text)]
            compile_options: String,
        }
        let mut conn = diesel::SqliteConnection::establish(":memory:").expect("sqlite");
        let options: Vec<CompileOption> =
            diesel::RunQueryDsl::load(diesel::sql_query("PRAGMA compile_options"), &mut conn)
                .expect("compile options");
        let options: Vec<String> = options.into_iter().map(|o| o.compile_options).collect();
        assert!(
            options.iter().any(|o| o == "ENABLE_QPSG"),
            "SQLite built without ENABLE_QPSG: {options:?}"
        );
    }

    #[test]
    fn now_has_microsecond_precision() {
        let t = now();
        assert_eq!(t.timestamp_subsec_nanos() % 1000, 0);
    }
}
