//! Command-line entry points: one subcommand per role of the binary.
//!
//! This is the only module that wires the others together; nothing depends on it.

mod analyze;
mod serve;
mod work;

pub use analyze::AnalyzeArgs;

use crate::config::Config;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// provis: a versioned map of a source repository — files, imports graph, capabilities —
/// served over REST and Server-Sent Events.
#[derive(Debug, Parser)]
#[command(name = "provis", version, about, long_about = None)]
pub struct Cli {
    /// Path of a provis.toml (default: $PROVIS_CONFIG, else ./provis.toml when present).
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log format: json or pretty (env LOG_FORMAT).
    #[arg(long, global = true, value_name = "FORMAT")]
    pub log_format: Option<String>,
    /// Prefix of the queue keys in Redis (env RQ_KEY_PREFIX, default rq); serve and every
    /// worker of a cluster must use the same one.
    #[arg(long, global = true, value_name = "PREFIX")]
    pub rq_key_prefix: Option<String>,
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP API only (cluster mode: Postgres, Redis and S3 from the configuration).
    Serve(ServeArgs),
    /// Run a task worker taking from the given queues in priority order (cluster mode).
    Work(WorkArgs),
    /// Apply database migrations, then exit. Safe to run again.
    Migrate(MigrateArgs),
    /// Run the API and N workers in one process; embedded (SQLite, in-process queue, local
    /// disk under --data-dir) unless Postgres/Redis/S3 are configured.
    AllInOne(AllInOneArgs),
    /// Run the whole pipeline once on a zip or a directory, embedded, with a progress bar;
    /// artifacts go under --out and a summary is printed. Exits non-zero when the job fails.
    Analyze(AnalyzeArgs),
}

/// Flags of `provis serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on [env: PROVIS_HOST] [default: 0.0.0.0].
    #[arg(long)]
    pub host: Option<String>,
    /// Port to listen on [env: PORT] [default: 8000].
    #[arg(long)]
    pub port: Option<u16>,
}

/// Flags of `provis work`.
#[derive(Debug, Args)]
pub struct WorkArgs {
    /// Queues in priority order: `high,normal,low` or `high normal low` [env: PROVIS_QUEUES]
    /// [default: high,normal,low].
    #[arg(long, num_args = 1.., value_delimiter = ',')]
    pub queues: Vec<String>,
    /// Worker name shown by `rq info` (default: <hostname>.<pid>).
    #[arg(long)]
    pub name: Option<String>,
    /// Drain the queues, then exit (like RQ's --burst).
    #[arg(long)]
    pub burst: bool,
    /// Tasks run at once by this process; each shows in `rq info` as worker <name>-<i>.
    #[arg(long, default_value_t = 1)]
    pub concurrency: usize,
    /// Seconds a running task may take to finish after SIGTERM/SIGINT before it is handed
    /// back to its queue.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    pub shutdown_grace: u64,
    /// Port of this worker's /metrics (Prometheus) and /health (liveness); 0 turns them off.
    /// Give each worker on one host its own [env: METRICS_PORT] [default: 9464].
    #[arg(long, value_name = "PORT")]
    pub metrics_port: Option<u16>,
}

/// Flags of `provis migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Database to migrate: postgres://… or sqlite://path (default: DATABASE_URL, else the
    /// embedded SQLite file under the data dir).
    #[arg(long)]
    pub database_url: Option<String>,
}

/// Flags of `provis all-in-one`.
#[derive(Debug, Args)]
pub struct AllInOneArgs {
    /// Port to listen on [env: PORT] [default: 8000].
    #[arg(long)]
    pub port: Option<u16>,
    /// Where embedded mode keeps its SQLite file, artifacts and uploads [env: PROVIS_DATA_DIR]
    /// [default: ./.provis].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Number of concurrent workers in this process [env: PROVIS_WORKERS] [default: one more
    /// than NODE_SUBPROC_CONCURRENCY, so 3].
    #[arg(long)]
    pub workers: Option<usize>,
}

/// Collects the flags that override configuration keys.
fn flags_of(cli: &Cli) -> Vec<(&'static str, String)> {
    let mut flags = Vec::new();
    if let Some(f) = &cli.log_format {
        flags.push(("log_format", f.clone()));
    }
    if let Some(p) = &cli.rq_key_prefix {
        flags.push(("rq_key_prefix", p.clone()));
    }
    match &cli.command {
        Command::Serve(a) => {
            if let Some(h) = &a.host {
                flags.push(("host", h.clone()));
            }
            if let Some(p) = a.port {
                flags.push(("port", p.to_string()));
            }
        }
        Command::Work(a) => {
            if !a.queues.is_empty() {
                flags.push(("queues", a.queues.join(",")));
            }
            if let Some(p) = a.metrics_port {
                flags.push(("metrics_port", p.to_string()));
            }
        }
        Command::Migrate(a) => {
            if let Some(u) = &a.database_url {
                flags.push(("database_url", u.clone()));
            }
        }
        Command::AllInOne(a) => {
            if let Some(p) = a.port {
                flags.push(("port", p.to_string()));
            }
            if let Some(d) = &a.data_dir {
                flags.push(("data_dir", d.display().to_string()));
            }
            if let Some(w) = a.workers {
                flags.push(("workers", w.to_string()));
            }
        }
        Command::Analyze(_) => {}
    }
    flags
}

/// Parses the command line, loads the configuration and runs the subcommand.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let cfg = match Config::load_with(cli.config.as_deref(), &flags_of(&cli)) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprintln!("provis: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    let mut log_cfg = cfg.clone();
    if matches!(cli.command, Command::Analyze(_)) && std::env::var_os("RUST_LOG").is_none() {
        // The progress bar and the summary are the output; logs only for problems.
        log_cfg.log = "warn".into();
    }
    let role = match &cli.command {
        Command::Serve(_) => "serve",
        Command::Work(_) => "worker",
        Command::Migrate(_) => "migrate",
        Command::AllInOne(_) => "all-in-one",
        Command::Analyze(_) => "analyze",
    };
    // Kept until the end of main: dropping it sends the spans still buffered.
    let telemetry = crate::telemetry::init(&log_cfg, role);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("provis: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve(_) => serve::serve(cfg).await,
            Command::Work(args) => work::run(cfg, args).await,
            Command::Migrate(_) => serve::migrate(cfg).await,
            Command::AllInOne(_) => serve::all_in_one(cfg).await,
            Command::Analyze(args) => analyze::run(cfg, args).await,
        }
    });
    drop(runtime);
    telemetry.flush();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "provis stopped with an error");
            eprintln!("provis: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }

    #[test]
    fn queues_accept_comma_and_space_forms() {
        for argv in [
            vec!["provis", "work", "--queues", "high,normal,low"],
            vec!["provis", "work", "--queues", "high", "normal", "low"],
        ] {
            let cli = Cli::try_parse_from(argv).expect("parses");
            match cli.command {
                Command::Work(w) => assert_eq!(w.queues, vec!["high", "normal", "low"]),
                other => panic!("unexpected {other:?}"),
            }
        }
    }
}
