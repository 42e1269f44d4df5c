//! The `provis` binary's command line and configuration (docs/architecture.md,
//! docs/operations.md), run as a user runs it: `--help` of every subcommand, the two
//! `--queues` forms, bad settings refused with exit code 2, flag > env > file precedence seen
//! from outside, and `provis migrate` on Postgres and SQLite.
//!
//! Run: `cargo test --test integration cli::` (Postgres from `TEST_DATABASE_URL`, Redis from
//! `TEST_REDIS_URL`).

use crate::common;
use crate::common::{
    free_port, listening, provis, redis_url, run, text, PgSchema, Proc, RedisPrefix, Server,
};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

/// `provis <args> --help`: exit 0, stdout.
fn help(args: &[&str]) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = provis(dir.path());
    cmd.args(args).arg("--help");
    let out = run(cmd, LIMIT);
    let (stdout, stderr) = text(&out);
    assert!(
        out.status.success(),
        "provis {args:?} --help failed: {stderr}"
    );
    stdout
}

#[test]
fn help_documents_every_subcommand_and_its_flags() {
    let top = help(&[]);
    for sub in ["serve", "work", "migrate", "all-in-one", "analyze"] {
        assert!(top.contains(sub), "`provis --help` lacks {sub}:\n{top}");
    }
    assert!(top.contains("--config"), "{top}");

    let cases: &[(&str, &[&str])] = &[
        ("serve", &["--host", "--port"]),
        ("work", &["--queues", "--name", "--burst"]),
        ("migrate", &["--database-url"]),
        ("all-in-one", &["--port", "--data-dir", "--workers"]),
        ("analyze", &["--out", "--json"]),
    ];
    for (sub, flags) in cases {
        let out = help(&[sub]);
        assert!(
            out.contains(&format!("Usage: provis {sub}")),
            "{sub} --help has no usage line:\n{out}"
        );
        for flag in *flags {
            // Documented: the flag appears on a line that also says something about it.
            let line = out
                .lines()
                .find(|l| l.trim_start().starts_with(flag) || l.contains(&format!(" {flag} ")))
                .unwrap_or_else(|| panic!("`provis {sub} --help` lacks {flag}:\n{out}"));
            let words = line.split_whitespace().count();
            assert!(
                words >= 3,
                "`provis {sub} --help`: {flag} has no description: {line:?}"
            );
        }
    }
    // The space-separated queue form of the old runbook is documented.
    assert!(help(&["work"]).contains("high normal low"));
}

/// `provis work --burst` on an empty private prefix with the diagnostic tasks (no database
/// needed) drains nothing and exits 0; the JSON start line shows the queues it took.
fn burst_worker_queues(queue_args: &[&str]) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let prefix = RedisPrefix::new("plat");
    let mut cmd = provis(dir.path());
    cmd.env("REDIS_URL", redis_url())
        .env("RQ_KEY_PREFIX", &prefix.name)
        .env("PROVIS_DIAG_TASKS", "1")
        .env("LOG_FORMAT", "json")
        .args(["work", "--burst", "--name", &format!("{}-w", prefix.name)])
        .arg("--queues")
        .args(queue_args);
    let out = run(cmd, LIMIT);
    let (_, stderr) = text(&out);
    assert!(out.status.success(), "work --burst failed: {stderr}");
    let started: Value = stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["message"] == "worker started")
        .unwrap_or_else(|| panic!("no `worker started` line:\n{stderr}"));
    started["queues"]
        .as_str()
        .unwrap_or_else(|| panic!("no queues field: {started}"))
        .to_string()
}

#[test]
fn work_accepts_comma_and_space_separated_queues() {
    assert_eq!(burst_worker_queues(&["high,normal,low"]), "high,normal,low");
    assert_eq!(
        burst_worker_queues(&["high", "normal", "low"]),
        "high,normal,low"
    );
    // Order is priority: it is kept as given.
    assert_eq!(burst_worker_queues(&["low", "high"]), "low,high");
}

/// Runs `provis <args>` with `env` in an empty directory; asserts exit code 2, that stderr
/// names every needle, and that nothing was started or created.
fn refused(args: &[&str], env: &[(&str, &str)], needles: &[&str]) {
    let dir = tempfile::tempdir().expect("tempdir");
    refused_in(dir.path(), args, env, needles);
}

fn refused_in(cwd: &Path, args: &[&str], env: &[(&str, &str)], needles: &[&str]) {
    let before: Vec<_> = std::fs::read_dir(cwd).expect("ls").flatten().collect();
    let mut cmd = provis(cwd);
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = run(cmd, LIMIT);
    let (stdout, stderr) = text(&out);
    assert_eq!(
        out.status.code(),
        Some(2),
        "provis {args:?} with {env:?} should stop with exit code 2; stderr: {stderr}"
    );
    for n in needles {
        assert!(
            stderr.contains(n),
            "provis {args:?} with {env:?}: the message should name {n:?}: {stderr}"
        );
    }
    assert!(stdout.is_empty(), "nothing on stdout: {stdout}");
    let after: Vec<_> = std::fs::read_dir(cwd).expect("ls").flatten().collect();
    assert_eq!(
        before.len(),
        after.len(),
        "a refused start-up must not create anything (e.g. ./.provis) in {}",
        cwd.display()
    );
}

#[test]
fn bad_setting_values_stop_start_up_with_exit_code_2_naming_key_and_value() {
    refused(
        &["all-in-one"],
        &[("MAX_UPLOAD_BYTES", "lots")],
        &["max_upload_bytes", "MAX_UPLOAD_BYTES", "lots"],
    );
    refused(
        &["serve"],
        &[("LOG_FORMAT", "xml")],
        &["log_format", "LOG_FORMAT", "xml"],
    );
    refused(
        &["migrate"],
        &[("DATABASE_URL", "mysql://x")],
        &["database_url", "DATABASE_URL", "mysql://x"],
    );
    refused(
        &["serve"],
        &[("REDIS_URL", "http://127.0.0.1:6379")],
        &["redis_url", "REDIS_URL", "http://127.0.0.1:6379"],
    );
    refused(
        &["all-in-one"],
        &[("PORT", "99999")],
        &["port", "PORT", "99999"],
    );
    refused(
        &["work", "--queues", "high"],
        &[("PARSER_SANDBOX", "maybe")],
        &["parser_sandbox", "PARSER_SANDBOX", "maybe"],
    );
    refused(
        &["all-in-one"],
        &[("RUST_LOG", "provis=loud")],
        &["log", "RUST_LOG", "provis=loud"],
    );
    // A flag is checked the same way and named as the source.
    refused(
        &["all-in-one", "--workers", "0"],
        &[],
        &["workers", "--workers", "\"0\""],
    );
    refused(
        &["all-in-one"],
        &[("LLM_RPM", "-3")],
        &["llm_rpm", "LLM_RPM", "-3"],
    );
    // An alternative environment name is the one reported when it is the one used.
    refused(
        &["serve"],
        &[("S3_ENDPOINT", "ftp://x")],
        &["s3_endpoint_url", "(from S3_ENDPOINT)", "ftp://x"],
    );
}

#[test]
fn a_config_file_with_an_unknown_key_or_a_bad_value_is_refused() {
    // ./provis.toml is read when present.
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("provis.toml"), "prot = 8000\n").expect("write");
    refused_in(dir.path(), &["all-in-one"], &[], &["prot", "provis.toml"]);

    // --config and PROVIS_CONFIG name another file.
    let other = tempfile::tempdir().expect("tempdir");
    let path = other.path().join("custom.toml");
    std::fs::write(&path, "port = 8000\nredis_ulr = \"redis://x\"\n").expect("write");
    let p = path.to_str().expect("utf-8 path");
    refused(
        &["serve", "--config", p],
        &[],
        &["redis_ulr", "custom.toml"],
    );
    refused(&["serve"], &[("PROVIS_CONFIG", p)], &["redis_ulr"]);

    // A known key with a bad value names the key, the value and the file.
    std::fs::write(&path, "max_upload_bytes = \"lots\"\n").expect("write");
    refused(
        &["all-in-one", "--config", p],
        &[],
        &["max_upload_bytes", "lots", "custom.toml"],
    );
    // A file that is not TOML.
    std::fs::write(&path, "port = = 1\n").expect("write");
    refused(&["migrate", "--config", p], &[], &["custom.toml"]);
}

/// Starts `all-in-one` in a fresh directory holding `toml` as ./provis.toml; returns the
/// directory and the server, already answering on `expect_port`.
async fn start_in(
    toml: &str,
    env: &[(&str, String)],
    args: &[String],
    expect_port: u16,
) -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("provis.toml"), toml).expect("write provis.toml");
    let mut cmd = provis(dir.path());
    cmd.arg("all-in-one").args(args).env("LOG_FORMAT", "json");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let server = Server::start(cmd, expect_port, dir.path()).await;
    (dir, server)
}

/// The address from the `provis API listening` log line.
fn listening_addr(server: &Server) -> String {
    server
        .logs()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v["message"] == "provis API listening")
        .and_then(|v| v["addr"].as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("no listening line:\n{}", server.logs()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flag_beats_env_beats_file_beats_default_seen_from_outside() {
    let (file_port, env_port, flag_port) = (free_port(), free_port(), free_port());
    let toml = format!("port = {file_port}\ndata_dir = \"file-data\"\nworkers = 1\n");

    // File only.
    let (dir, mut s) = start_in(&toml, &[], &[], file_port).await;
    assert_eq!(listening_addr(&s), format!("127.0.0.1:{file_port}"));
    assert!(dir.path().join("file-data/provis.db").exists());
    assert!(
        !dir.path().join(".provis").exists(),
        "the default data dir is not used"
    );
    assert!(s.stop().is_some());

    // Env beats file.
    let env = [
        ("PORT", env_port.to_string()),
        ("PROVIS_DATA_DIR", "env-data".to_string()),
    ];
    let (dir, mut s) = start_in(&toml, &env, &[], env_port).await;
    assert_eq!(listening_addr(&s), format!("127.0.0.1:{env_port}"));
    assert!(!listening(file_port), "nothing on the file's port");
    assert!(dir.path().join("env-data/provis.db").exists());
    assert!(!dir.path().join("file-data").exists());
    assert!(s.stop().is_some());

    // Flag beats env and file.
    let args = [
        "--port".to_string(),
        flag_port.to_string(),
        "--data-dir".to_string(),
        "flag-data".to_string(),
    ];
    let (dir, mut s) = start_in(&toml, &env, &args, flag_port).await;
    assert_eq!(listening_addr(&s), format!("127.0.0.1:{flag_port}"));
    assert!(!listening(env_port) && !listening(file_port));
    let health: Value = common::http()
        .get(s.url("/health"))
        .send()
        .await
        .expect("health")
        .json()
        .await
        .expect("json");
    assert_eq!(health["status"], "ok", "{health}");
    assert!(dir.path().join("flag-data/provis.db").exists());
    assert!(!dir.path().join("env-data").exists() && !dir.path().join("file-data").exists());
    let status = s.stop().expect("stopped");
    assert!(status.success(), "SIGTERM is a clean stop: {status}");
}

/// `provis migrate <args>`: asserts success and returns (applied, pending) from its summary.
fn migrate(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> (u32, u32) {
    let mut cmd = provis(cwd);
    cmd.arg("migrate").args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = run(cmd, LIMIT);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "migrate failed: {stderr}");
    // "provis migrate: N migration(s) applied, M pending (backend)"
    let line = stdout
        .lines()
        .find(|l| l.starts_with("provis migrate:"))
        .unwrap_or_else(|| panic!("no summary on stdout: {stdout:?}"));
    let nums: Vec<u32> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().expect("number"))
        .collect();
    assert_eq!(nums.len(), 2, "{line}");
    (nums[0], nums[1])
}

#[test]
fn migrate_is_idempotent_on_postgres() {
    let schema = PgSchema::create("plat");
    let dir = tempfile::tempdir().expect("tempdir");
    assert!(schema.tables().is_empty());
    let (applied, pending) = migrate(dir.path(), &["--database-url", &schema.url], &[]);
    assert!(applied >= 1, "a fresh schema gets every migration");
    assert_eq!(pending, 0);
    let tables = schema.tables();
    for t in [
        "repos",
        "snapshots",
        "jobs",
        "tasks",
        "artifacts",
        "events",
        "warnings",
    ] {
        assert!(tables.iter().any(|x| x == t), "no table {t} in {tables:?}");
    }
    // Again, through DATABASE_URL this time: nothing left to do, nothing changed.
    assert_eq!(
        migrate(dir.path(), &[], &[("DATABASE_URL", &schema.url)]),
        (0, 0)
    );
    assert_eq!(schema.tables(), tables);
    assert!(
        !dir.path().join(".provis").exists(),
        "a Postgres migrate creates no embedded data dir"
    );
}

#[test]
fn migrate_is_idempotent_on_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("nested").join("x.db");
    let url = format!("sqlite://{}", db.display());
    let (applied, pending) = migrate(dir.path(), &["--database-url", &url], &[]);
    assert!(applied >= 1);
    assert_eq!(pending, 0);
    assert!(db.exists(), "the SQLite file is created");
    assert_eq!(migrate(dir.path(), &["--database-url", &url], &[]), (0, 0));

    // Without any database setting: the embedded file under ./.provis.
    let (applied, _) = migrate(dir.path(), &[], &[]);
    assert!(applied >= 1);
    assert!(dir.path().join(".provis/provis.db").exists());
    assert_eq!(migrate(dir.path(), &[], &[]).0, 0);
}

#[test]
fn serve_refuses_an_unmigrated_postgres_schema() {
    let schema = PgSchema::create("plat");
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mut cmd = provis(dir.path());
    cmd.arg("serve")
        .args(["--port", &port.to_string(), "--host", "127.0.0.1"])
        .env("DATABASE_URL", &schema.url)
        // It waits for `provis migrate` this long, then stops.
        .env("MIGRATION_WAIT_S", "2");
    let out = run(cmd, LIMIT);
    let (_, stderr) = text(&out);
    assert!(!out.status.success(), "serve must not start: {stderr}");
    assert!(
        stderr.contains("waiting for `provis migrate`") && stderr.contains("MIGRATION_WAIT_S"),
        "it waited, and says how long is configurable: {stderr}"
    );
    assert!(
        stderr.contains("provis migrate"),
        "the message tells what to run: {stderr}"
    );
    // serve does not migrate by itself (diesel may create its bookkeeping table to count).
    let tables = schema.tables();
    assert!(
        tables.iter().all(|t| t.starts_with("__diesel")),
        "serve does not migrate by itself: {tables:?}"
    );
    assert!(!listening(port));

    // Once migrated, the same command serves.
    migrate(dir.path(), &[], &[("DATABASE_URL", &schema.url)]);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut cmd = provis(dir.path());
        cmd.arg("serve")
            .args(["--port", &port.to_string()])
            .env("DATABASE_URL", &schema.url)
            .env("PROVIS_DATA_DIR", dir.path().join("data"));
        let mut s = Server::start(cmd, port, dir.path()).await;
        let resp = common::http()
            .get(s.url("/health"))
            .send()
            .await
            .expect("health");
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.expect("json");
        assert_eq!(body["checks"]["database"]["backend"], "postgres", "{body}");
        // Pretty logs into a file carry no terminal colour codes.
        assert!(!s.logs().contains('\u{1b}'), "ANSI codes in a log file");
        s.stop();
    });
}

/// Issue 11: four processes started at once on an empty database — two `provis migrate`, a
/// `provis serve` and a `provis work` — all succeed: migrations hold a Postgres advisory lock
/// (one process applies them, the other finds none pending; no `pg_type` unique violation),
/// and `serve` and `work` wait for them instead of stopping. Three rounds, each on a fresh
/// schema, to give the race its chances.
#[test]
fn four_processes_started_at_once_on_an_empty_database() {
    let embedded = diesel::migration::MigrationSource::<diesel::pg::Pg>::migrations(
        &provis::db::PG_MIGRATIONS,
    )
    .expect("embedded migrations")
    .len() as u32;
    for round in 0..3 {
        let schema = PgSchema::create("plat");
        let prefix = RedisPrefix::new("plat");
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let spawn = |label: &str, args: &[&str]| -> Proc {
            let mut cmd = provis(dir.path());
            cmd.args(args)
                .env("DATABASE_URL", &schema.url)
                .env("REDIS_URL", redis_url())
                .env("RQ_KEY_PREFIX", &prefix.name)
                .env("PROVIS_DATA_DIR", dir.path().join("data"))
                .env("METRICS_PORT", "0");
            Proc::spawn(cmd, label, dir.path().join(format!("{label}.log")))
        };
        let port_s = port.to_string();
        let mut procs = vec![
            spawn("migrate-1", &["migrate"]),
            spawn(
                "serve",
                &["serve", "--host", "127.0.0.1", "--port", &port_s],
            ),
            spawn("work", &["work", "--name", &format!("{}-w", prefix.name)]),
            spawn("migrate-2", &["migrate"]),
        ];
        let logs = |procs: &[Proc]| {
            procs
                .iter()
                .map(|p| format!("--- {} ---\n{}", p.log.display(), p.log_text()))
                .collect::<Vec<_>>()
                .join("\n")
        };
        // Both migrations exit 0, and together applied each migration once.
        let mut applied = 0;
        for i in [0, 3] {
            let deadline = std::time::Instant::now() + LIMIT;
            let status = loop {
                if let Some(st) = procs[i].exited() {
                    break st;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "migrate hung:\n{}",
                    logs(&procs)
                );
                std::thread::sleep(Duration::from_millis(50));
            };
            assert!(
                status.success(),
                "round {round}: migrate failed:\n{}",
                logs(&procs)
            );
            let out = procs[i].log_text();
            let line = out
                .lines()
                .find(|l| l.starts_with("provis migrate:"))
                .unwrap_or_else(|| panic!("no summary:\n{out}"));
            applied += line
                .split_whitespace()
                .nth(2)
                .and_then(|n| n.parse::<u32>().ok())
                .unwrap_or_else(|| panic!("summary: {line}"));
        }
        assert_eq!(
            applied,
            embedded,
            "round {round}: each migration applied once:\n{}",
            logs(&procs)
        );
        // serve answers, the worker registers.
        let deadline = std::time::Instant::now() + LIMIT;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        loop {
            let ok = rt.block_on(async {
                common::http()
                    .get(format!("http://127.0.0.1:{port}/health"))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            });
            let registered = !prefix.keys().is_empty()
                && prefix
                    .keys()
                    .iter()
                    .any(|k| k.starts_with(&format!("{}:worker:", prefix.name)));
            if ok && registered {
                break;
            }
            for (i, p) in procs.iter_mut().enumerate().skip(1).take(2) {
                if let Some(st) = p.exited() {
                    panic!(
                        "round {round}: process {i} exited ({st}):\n{}",
                        logs(&procs)
                    );
                }
            }
            assert!(
                std::time::Instant::now() < deadline,
                "round {round}: serve healthy {ok}, worker registered {registered}:\n{}",
                logs(&procs)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let all = logs(&procs);
        assert!(!all.contains("duplicate key"), "round {round}:\n{all}");
        let tables = schema.tables();
        for t in ["jobs", "tasks", "artifacts", "events"] {
            assert!(
                tables.iter().any(|x| x == t),
                "round {round}: {t} missing: {tables:?}"
            );
        }
        for p in procs.iter_mut() {
            p.stop();
        }
    }
}
