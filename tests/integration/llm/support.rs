//! Helpers: small repositories on disk, `provis analyze` runs with an LLM configured, and
//! reading a finished job's warnings and summaries.

use crate::common;
use provis::db::{Db, Warning};
use serde_json::Value;
use std::path::Path;
use uuid::Uuid;

/// Writes `files` (path, content) under `dir`.
pub fn write_repo(dir: &Path, files: &[(String, String)]) {
    for (p, c) in files {
        let path = dir.join(p);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, c).expect("write file");
    }
}

/// A small Express app: `n` route modules plus an entry point and a package.json.
pub fn small_app(tag: &str, n: usize) -> Vec<(String, String)> {
    let mut files = vec![
        (
            "package.json".to_string(),
            format!(r#"{{"name": "{tag}", "dependencies": {{"express": "^4"}}}}"#),
        ),
        (
            "src/server.js".to_string(),
            format!(
                "// {tag}\nconst express = require('express');\nconst app = express();\n{}\napp.listen(3000);\n",
                (0..n)
                    .map(|i| format!("app.use('/r{i}', require('./routes/r{i}'));"))
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
        ),
    ];
    for i in 0..n {
        files.push((
            format!("src/routes/r{i}.js"),
            format!(
                "// {tag} route {i}\nconst router = require('express').Router();\nfunction handler{i}(req, res) {{ res.json({{ id: {i} }}); }}\nrouter.get('/', handler{i});\nmodule.exports = router;\n"
            ),
        ));
    }
    files
}

/// A finished `provis analyze` run.
pub struct Run {
    pub job_id: Uuid,
    pub summaries: Value,
    pub warnings: Vec<Warning>,
}

impl Run {
    /// The summary entry of `path`.
    pub fn file(&self, path: &str) -> &Value {
        self.summaries["files"]
            .as_array()
            .and_then(|fs| fs.iter().find(|f| f["path"] == path))
            .unwrap_or_else(|| panic!("no summary for {path}: {}", self.summaries))
    }

    pub fn warning(&self, code: &str) -> Option<&Warning> {
        self.warnings.iter().find(|w| w.code == code)
    }

    pub fn codes(&self) -> Vec<String> {
        self.warnings.iter().map(|w| w.code.clone()).collect()
    }
}

/// Runs `provis analyze <dir> --out <out> --repo <repo> --json` with `env`; panics with the
/// output when it fails.
pub async fn analyze(dir: &Path, out: &Path, repo: &str, env: &[(&str, String)]) -> Run {
    let mut cmd = common::provis(out.parent().unwrap_or(dir));
    cmd.arg("analyze")
        .arg(dir)
        .arg("--out")
        .arg(out)
        .args(["--repo", repo, "--json"])
        .env("RUST_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut cmd = tokio::process::Command::from(cmd);
    cmd.kill_on_drop(true);
    let output = tokio::time::timeout(std::time::Duration::from_secs(120), cmd.output())
        .await
        .expect("analyze finished within 120 s")
        .expect("spawn provis analyze");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "provis analyze failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    let summary: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("analyze --json output ({e}):\n{stdout}\n{stderr}"));
    let job_id: Uuid = summary["jobId"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("jobId");
    let summaries: Value = serde_json::from_slice(
        &std::fs::read(out.join("summaries.json")).expect("summaries.json written"),
    )
    .expect("summaries.json is JSON");
    let db = Db::connect(&format!(
        "sqlite://{}",
        out.join(".provis").join("provis.db").display()
    ))
    .await
    .expect("open the embedded database");
    let warnings = db.list_warnings(job_id, 1000).await.expect("warnings");
    let job = db.get_job(job_id).await.expect("job").expect("job row");
    assert_eq!(job.phase, "done", "the job ends done whatever the LLM did");
    Run {
        job_id,
        summaries,
        warnings,
    }
}

/// Environment for a run against `url`, with generous limits unless overridden by `extra`.
pub fn llm_env(url: &str, extra: &[(&str, &str)]) -> Vec<(&'static str, String)> {
    let mut env: Vec<(&'static str, String)> = vec![
        ("LLM_BASE_URL", url.to_string()),
        ("LLM_API_KEY", "test-key-123".to_string()),
        ("LLM_MODEL", "test-model".to_string()),
        ("LLM_RPM", "100000".to_string()),
        ("LLM_TPM", "100000000".to_string()),
        ("LLM_TIMEOUT_S", "20".to_string()),
    ];
    for (k, v) in extra {
        let key: &'static str = common::SCRUBBED_ENV
            .iter()
            .find(|s| *s == k)
            .copied()
            .unwrap_or_else(|| panic!("add {k} to SCRUBBED_ENV"));
        env.retain(|(e, _)| *e != key);
        env.push((key, v.to_string()));
    }
    env
}
