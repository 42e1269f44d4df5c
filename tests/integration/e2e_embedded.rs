//! End to end in embedded mode: the real `provis` binary as `all-in-one` (SQLite, in-process
//! queue, artifacts on local disk — no DATABASE_URL/REDIS_URL/S3 in its environment) driven
//! over real HTTP: multipart uploads, the SSE stream followed to its end, `/status`, every
//! artifact, and the `tasks` rows read from the server's own SQLite file. Also idempotency,
//! bad input (every zip rule), `kill -9` durability, and `provis analyze`.

mod allocator;
mod analyze;
mod bad_input;
mod check;
mod durability;
mod fixtures;
mod hostile;
mod support;

use check::{finished_job, s};
use fixtures::{Order, PY_EDGES, PY_EXTERNAL, TS_EDGES, TS_EXTERNAL};
use serde_json::Value;
use std::collections::BTreeSet;
use support::{check_stream, files_under, type_counts, Root, Server, KINDS};

fn set3(list: &[(&str, &str, &str)]) -> BTreeSet<(String, String, String)> {
    list.iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect()
}

fn set2(list: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn strings(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|x| x.to_string()).collect()
}

/// Names (`GET /path`) of the route entry points of all capabilities.
fn route_entry_points(caps: &Value) -> BTreeSet<String> {
    caps["capabilities"]
        .as_array()
        .expect("capabilities")
        .iter()
        .flat_map(|c| c["entryPoints"].as_array().cloned().unwrap_or_default())
        .filter(|e| e["kind"] == "route")
        .map(|e| s(&e["name"]))
        .collect()
}

/// (method, path) of a file record's routes.
fn routes(record: &Value) -> BTreeSet<(String, String)> {
    record["routes"]
        .as_array()
        .expect("routes")
        .iter()
        .map(|r| (s(&r["method"]), s(&r["path"])))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typescript_app_with_tsconfig_paths_end_to_end() {
    let root = Root::new();
    let server = Server::start(&root, &[]).await;
    let repo = fixtures::ts_app();
    let up = server.upload("ts-app.zip", repo.zip(), None).await;
    let done = finished_job(&server, up, repo.len()).await;

    // Repo identity from the zip's file name.
    let repo_row = server
        .db()
        .await
        .get_repo(uuid::Uuid::parse_str(&done.upload.repo()).expect("uuid"))
        .await
        .expect("get_repo")
        .expect("repo row");
    assert_eq!(repo_row.name, "ts-app");

    // The files artifact: records with their content facts and resolved imports.
    for (path, bytes) in &repo.files {
        let f = done.file(path);
        assert_eq!(f["size"], bytes.len() as u64, "{path} size");
        assert_eq!(
            f["hash"],
            blake3::hash(bytes).to_hex().as_str(),
            "{path} hash"
        );
    }
    let index = done.file("src/index.ts");
    assert_eq!(index["language"], "ts");
    assert_eq!(
        index["ext"], "ts",
        "the extension without its dot (the pipeline's choice)"
    );
    assert_eq!(done.file("src/data.json")["language"], "other");
    assert_eq!(
        done.resolved("src/index.ts", "@lib/math").as_deref(),
        Some("src/lib/math.ts"),
        "tsconfig paths wildcard"
    );
    assert_eq!(
        done.resolved("src/index.ts", "@app/config").as_deref(),
        Some("src/config/index.ts"),
        "tsconfig paths exact alias"
    );
    assert_eq!(
        done.resolved("src/index.ts", "models/user").as_deref(),
        Some("models/user.ts"),
        "tsconfig baseUrl"
    );
    assert_eq!(
        done.resolved("src/lib/math.ts", "../util/strings")
            .as_deref(),
        Some("src/util/strings.ts"),
        "`..` normalised"
    );
    assert_eq!(done.resolved("src/index.ts", "express"), None);
    assert_eq!(done.resolved("src/index.ts", "./does-not-exist"), None);
    let exported: Vec<&str> = done.file("src/lib/math.ts")["exports"]
        .as_array()
        .expect("exports")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(exported.contains(&"add"), "{exported:?}");

    // The graph: exactly the fixture's edges, counted apart.
    assert_eq!(done.internal_edges(), set3(TS_EDGES), "internal edges");
    assert_eq!(done.external_edges(), set2(TS_EXTERNAL), "external edges");
    assert_eq!(
        done.unresolved(),
        set2(&[("src/index.ts", "./does-not-exist")]),
        "unresolved"
    );
    let gm = &done.doc("graph")["metrics"];
    assert_eq!(gm["internal"], TS_EDGES.len() as u64);
    assert_eq!(gm["external"], TS_EXTERNAL.len() as u64);
    assert_eq!(gm["unresolvedLocal"], 1);
    assert_eq!(done.status["importsInternal"], TS_EDGES.len() as u64);

    // Express routes, with the mount prefix of `app.use("/api", usersRouter)` in another
    // file, and in the capabilities.
    let users = routes(done.file("src/routes/users.ts"));
    assert!(
        users.contains(&("GET".into(), "/api/users/:id".into())),
        "{users:?}"
    );
    assert!(
        users.contains(&("POST".into(), "/api/users".into())),
        "{users:?}"
    );
    assert!(routes(index).contains(&("GET".into(), "/health".into())));
    // The capabilities: one entry point per route, the router's mount prefix applied.
    assert_eq!(
        route_entry_points(done.doc("capabilities")),
        strings(&["GET /health", "GET /api/users/:id", "POST /api/users"]),
        "{}",
        done.doc("capabilities")
    );
    assert!(done.batches >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_src_layout_package_with_fastapi_end_to_end() {
    let root = Root::new();
    let server = Server::start(&root, &[]).await;
    let repo = fixtures::py_pkg();
    let up = server
        .upload("upload.zip", repo.zip(), Some("shop-service"))
        .await;
    let done = finished_job(&server, up, repo.len()).await;
    let repo_row = server
        .db()
        .await
        .get_repo(uuid::Uuid::parse_str(&done.upload.repo()).expect("uuid"))
        .await
        .expect("get_repo")
        .expect("repo row");
    assert_eq!(
        repo_row.name, "shop-service",
        "the `repo` field names the repo"
    );

    assert_eq!(done.file("src/shop/api.py")["language"], "py");
    assert_eq!(
        done.resolved("src/shop/db/session.py", "..models")
            .as_deref(),
        Some("src/shop/models.py"),
        "level-2 relative import"
    );
    assert_eq!(
        done.resolved("tests/test_api.py", "shop.api").as_deref(),
        Some("src/shop/api.py"),
        "absolute import from the src/ root"
    );
    let want: BTreeSet<(String, String, String)> = PY_EDGES
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string(), "py".to_string()))
        .collect();
    assert_eq!(done.internal_edges(), want, "internal edges");
    assert_eq!(done.external_edges(), set2(PY_EXTERNAL), "external edges");
    assert_eq!(
        done.unresolved(),
        set2(&[("src/shop/broken.py", ".nope")]),
        "unresolved"
    );

    // FastAPI routes, in the file record and in the capabilities.
    let api_routes = routes(done.file("src/shop/api.py"));
    assert!(
        api_routes.contains(&("GET".into(), "/items".into())),
        "{api_routes:?}"
    );
    assert!(
        api_routes.contains(&("POST".into(), "/items".into())),
        "{api_routes:?}"
    );
    assert!(
        api_routes
            .iter()
            .any(|(m, p)| m == "GET" && p.ends_with("{order_id}")),
        "{api_routes:?}"
    );
    let framework = done.file("src/shop/api.py")["routes"][0]["framework"].clone();
    assert_eq!(framework, "fastapi");
    let caps = done.doc("capabilities");
    let list = caps["capabilities"].as_array().expect("capabilities");
    assert!(!list.is_empty(), "{caps}");
    // Each route is an entry point under its own path: `/orders` is the prefix of `router`
    // only, never of the `app` routes beside it.
    assert_eq!(
        route_entry_points(caps),
        strings(&["GET /items", "POST /items", "GET /orders/{order_id}"]),
        "capabilities name the FastAPI routes: {caps}"
    );
    let text = caps.to_string();
    assert!(text.contains("src/shop/api.py"), "{caps}");
    let summaries = done.doc("summaries").to_string();
    assert!(
        summaries.contains("src/shop/service.py"),
        "per-file summaries"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_repo_fans_out_to_many_batches_and_merges_once() {
    let root = Root::new();
    let server = Server::start(&root, &[("PARSE_BATCH_SIZE", "50")]).await;
    let repo = fixtures::mixed();
    assert!(repo.len() > 3 * 50, "more than three batches of files");
    let up = server.upload("mixed.zip", repo.zip(), None).await;
    let done = finished_job(&server, up, repo.len()).await;
    assert_eq!(done.batches, repo.len().div_ceil(50));
    assert!(done.batches >= 4);

    let want: BTreeSet<(String, String, String)> = fixtures::mixed_edges()
        .into_iter()
        .map(|(a, b)| {
            let kind = if a.ends_with(".py") { "py" } else { "esm" };
            (a, b, kind.to_string())
        })
        .collect();
    assert_eq!(
        done.internal_edges(),
        want,
        "every chain link, across batches"
    );
    let langs = &done.doc("files")["summary"]["languages"];
    assert_eq!(langs["ts"], fixtures::MIXED_TS as u64, "{langs}");
    assert_eq!(langs["py"], (fixtures::MIXED_PY + 1) as u64, "{langs}");
    // Fan-in counted every batch once.
    let last_batch = done
        .events
        .iter()
        .filter(|e| e["type"] == "batch_parsed")
        .map(|e| e["payload"]["batchesDone"].as_u64().expect("batchesDone"))
        .max();
    assert_eq!(last_batch, Some(done.batches as u64));
    let job = server
        .db()
        .await
        .get_job(uuid::Uuid::parse_str(&done.upload.job()).expect("uuid"))
        .await
        .expect("get_job")
        .expect("job row");
    assert_eq!(job.batches_done, job.batches_total);
    assert_eq!(job.batches_total as usize, done.batches);
    // The plain copy of the upload's files that intake wrote goes when the job ends.
    let mirrors = || -> Vec<std::path::PathBuf> {
        let Ok(dirs) = std::fs::read_dir(root.data().join("tmp")) else {
            return Vec::new();
        };
        dirs.flatten()
            .filter_map(|d| std::fs::read_dir(d.path()).ok())
            .flat_map(|files| files.flatten().map(|f| f.path()))
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("mirror-"))
            })
            .collect()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !mirrors().is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        mirrors(),
        Vec::<std::path::PathBuf>::new(),
        "left after the job"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_content_twice_is_a_cache_hit_with_no_new_versions() {
    let root = Root::new();
    let server = Server::start(&root, &[]).await;
    let repo = fixtures::ts_app();
    let zip = repo.zip();
    let first = server
        .upload("app.zip", zip.clone(), Some("cache-app"))
        .await;
    let done = finished_job(&server, first.clone(), repo.len()).await;
    let artifacts_dir = root.data().join("artifacts").join("repos");
    let stored_before = files_under(&artifacts_dir);
    assert_eq!(stored_before.len(), KINDS.len(), "{stored_before:?}");

    // The same zip again, then the same tree in another entry order, with other
    // timestamps, under a wrapper directory.
    let reordered = repo.zip_with(
        Order::Reversed,
        fixtures::time(2019, 7, 8),
        Some("app-main"),
    );
    assert_ne!(zip, reordered, "different bytes");
    for (what, bytes) in [("same zip", zip), ("re-zipped", reordered)] {
        let again = server.upload("app.zip", bytes, Some("cache-app")).await;
        assert_eq!(again.status, 202, "{what}: {}", again.body);
        let b = &again.body;
        assert_eq!(b["cacheHit"], true, "{what}: {b}");
        assert_eq!(
            b["commitHash"], first.body["commitHash"],
            "{what}: same commitHash"
        );
        assert_eq!(b["settingsHash"], first.body["settingsHash"], "{what}");
        assert_eq!(b["repoId"], first.body["repoId"], "{what}");
        assert_eq!(
            b["snapshotId"], first.body["snapshotId"],
            "{what}: same snapshot"
        );
        assert_ne!(b["jobId"], first.body["jobId"], "{what}: a job of its own");
        let job = again.job();
        // Done at once: the answer came after the job ended.
        let status = server.get_json(&format!("/status/{job}"), 200).await;
        assert_eq!(status["phase"], "done", "{what}: {status}");
        assert_eq!(status["pct"], 100);
        assert_eq!(status["filesDiscovered"], repo.len() as u64, "{status}");
        for counter in [
            "filesParsed",
            "importsTotal",
            "importsInternal",
            "importsExternal",
        ] {
            assert_eq!(status[counter], done.status[counter], "{what}: {counter}");
        }
        let events = check_stream(&server.events(&job).await, &job);
        let types: Vec<&str> = events
            .iter()
            .map(|e| e["type"].as_str().expect("type"))
            .collect();
        assert_eq!(types, ["upload_received", "cache_hit", "done"], "{what}");
        assert_eq!(events[1]["payload"]["commitHash"], first.body["commitHash"]);
        assert_eq!(events[2]["payload"]["cacheHit"], true);
        assert!(server.tasks(&job).await.is_empty(), "{what}: no task ran");
    }
    // No new artifact versions, in the database or on disk.
    let rows = server.artifact_rows(&first.snapshot()).await;
    assert_eq!(rows.len(), KINDS.len());
    assert!(rows.iter().all(|a| a.version == 1), "{rows:?}");
    assert_eq!(files_under(&artifacts_dir), stored_before);
    let list = server
        .get_json(
            &format!(
                "/repos/{}/snapshots/{}/artifacts",
                first.repo(),
                first.snapshot()
            ),
            200,
        )
        .await;
    assert_eq!(
        list["artifacts"].as_array().map(Vec::len),
        Some(KINDS.len())
    );

    // A changed file is new content: a new commitHash and a real run.
    let mut changed = repo.clone();
    changed.files[0].1.extend_from_slice(b"\n");
    let third = server
        .upload("app.zip", changed.zip(), Some("cache-app"))
        .await;
    assert_eq!(third.body["cacheHit"], false, "{}", third.body);
    assert_ne!(third.body["commitHash"], first.body["commitHash"]);
    assert_ne!(third.body["snapshotId"], first.body["snapshotId"]);
    let msgs = server.events(&third.job()).await;
    let counts = type_counts(&check_stream(&msgs, &third.job()));
    assert_eq!(counts.get("done"), Some(&1), "{counts:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_with_last_event_id_and_unknown_ids() {
    let root = Root::new();
    let server = Server::start(&root, &[]).await;
    let repo = fixtures::py_pkg();
    let up = server.upload("py.zip", repo.zip(), None).await;
    let job = up.job();
    let all = check_stream(&server.events(&job).await, &job);
    assert_eq!(all.last().map(|e| e["type"].clone()), Some("done".into()));
    let cut = all[all.len() / 2]["seq"].as_i64().expect("seq");
    let want: Vec<i64> = all
        .iter()
        .map(|e| e["seq"].as_i64().expect("seq"))
        .filter(|s| *s > cut)
        .collect();
    // Header and query parameter both resume after the given id, and end after `done`.
    let by_header = server
        .http
        .get(server.url(&format!("/jobs/{job}/events")))
        .header("Last-Event-ID", cut.to_string())
        .send()
        .await
        .expect("events");
    let by_query = server
        .http
        .get(server.url(&format!("/jobs/{job}/events?last_event_id={cut}")))
        .send()
        .await
        .expect("events");
    for resp in [by_header, by_query] {
        let msgs = support::read_sse(resp, None).await;
        let seqs: Vec<i64> = msgs
            .iter()
            .map(|m| m.data["seq"].as_i64().expect("seq"))
            .collect();
        assert_eq!(seqs, want, "replay after {cut}");
        assert_eq!(
            msgs.last().map(|m| m.kind().to_string()),
            Some("done".into())
        );
    }
    // Unknown ids answer 404 with the error shape.
    let missing = uuid::Uuid::new_v4();
    for path in [
        format!("/status/{missing}"),
        format!("/jobs/{missing}/events"),
        format!("/repo/{missing}/graph"),
        format!("/repos/{}/snapshots/{missing}/artifacts", up.repo()),
    ] {
        let body = server.get_json(&path, 404).await;
        assert!(body["error"]["code"].is_string(), "{path}: {body}");
    }
    let body = server
        .get_json(&format!("/repo/{}/nonsense", up.repo()), 404)
        .await;
    assert!(body["error"]["message"].is_string(), "{body}");
    // Nothing left in the server's TMPDIR or working directory after a finished job.
    assert!(
        files_under(&root.tmp()).is_empty(),
        "{:?}",
        files_under(&root.tmp())
    );
    assert!(files_under(&root.cwd()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_uploads_get_one_snapshot_per_distinct_content() {
    let root = Root::new();
    let server = Server::start(&root, &[]).await;
    let a = fixtures::ts_app().zip();
    let b = fixtures::py_pkg().zip();
    let uploads = (0..8).map(|i| {
        let zip = if i % 2 == 0 { a.clone() } else { b.clone() };
        let server = &server;
        async move { server.upload("same.zip", zip, Some("concurrent")).await }
    });
    let answers = futures_util::future::join_all(uploads).await;
    let mut snapshots = BTreeSet::new();
    for (i, up) in answers.iter().enumerate() {
        assert_eq!(up.status, 202, "{}", up.body);
        let job = up.job();
        let events = check_stream(&server.events(&job).await, &job);
        let last = events.last().expect("events");
        assert_eq!(
            last["type"],
            "done",
            "upload {i}: {last}\n{}",
            server.log_text()
        );
        let status = server.get_json(&format!("/status/{job}"), 200).await;
        assert_eq!(status["phase"], "done", "{status}");
        snapshots.insert((up.str("commitHash"), up.snapshot()));
    }
    assert_eq!(
        snapshots.len(),
        2,
        "one snapshot per distinct content: {snapshots:?}"
    );
    for (_, snap) in &snapshots {
        let rows = server.artifact_rows(snap).await;
        let kinds: BTreeSet<&str> = rows.iter().map(|a| a.kind.as_str()).collect();
        assert_eq!(kinds.len(), KINDS.len(), "{rows:?}");
        // Versions: each job that ran the pipeline wrote its own (uploads that overlap in
        // time are not coalesced onto one job); each is complete and ready.
        assert!(
            rows.iter().all(|a| a.version >= 1 && a.bytes > 0),
            "{rows:?}"
        );
    }
    // Once one of them completed, the same content again is a cache hit.
    let again = server
        .upload("same.zip", a.clone(), Some("concurrent"))
        .await;
    assert_eq!(again.body["cacheHit"], true, "{}", again.body);
}

/// Issue 10 goal 3: a re-upload of a repository with one file changed reuses the parse
/// records of the others, and `/status` (`filesReused`, from the job row and from the live
/// overlay alike) and `metrics.json` say how many. The records of files that are not parsed
/// come from the cache too: the re-upload's parse batches hold only the changed file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_metrics_report_files_reused_from_the_parse_cache() {
    let root = Root::new();
    let server = Server::start(&root, &[]).await;
    let mut repo = fixtures::ts_app();
    // More files than one parse batch takes (50), none of them code.
    for i in 0..60 {
        repo.files.push((
            format!("docs/page-{i}.md"),
            format!("# Page {i}\n\ntext\n").into_bytes(),
        ));
    }
    let parsed = repo.files.iter().filter(|f| f.0.ends_with(".ts")).count() as u64;
    let first = server.upload("app.zip", repo.zip(), Some("reuse")).await;
    let cold_batches = finished_job(&server, first.clone(), repo.len())
        .await
        .batches;
    let job = first.job();
    let status = server.get_json(&format!("/status/{job}"), 200).await;
    assert_eq!(status["filesReused"], 0, "nothing to reuse yet: {status}");

    let mut changed = repo.clone();
    for f in changed.files.iter_mut().filter(|f| f.0 == "src/lazy.ts") {
        f.1.extend_from_slice(b"export const touched = 1;\n");
    }
    let second = server.upload("app.zip", changed.zip(), Some("reuse")).await;
    assert_eq!(second.body["cacheHit"], false, "{}", second.body);
    let done = finished_job(&server, second.clone(), changed.len()).await;
    let job = second.job();
    let status = server.get_json(&format!("/status/{job}"), 200).await;
    assert_eq!(status["filesReused"], parsed - 1, "{status}");
    assert_eq!(
        status["filesParsed"], parsed,
        "reused files count as parsed: {status}"
    );
    let metrics = &done.docs["metrics"];
    assert_eq!(metrics["filesReused"], parsed - 1, "{metrics}");
    assert_eq!(metrics["jobId"], job.as_str());
    // The row alone (the answer when the live overlay is gone) says the same.
    let id = uuid::Uuid::parse_str(&job).expect("uuid");
    let row = server
        .db()
        .await
        .get_job(id)
        .await
        .expect("job")
        .expect("row");
    assert_eq!(row.files_reused as u64, parsed - 1);
    assert!(cold_batches >= 2, "{cold_batches}");
    assert_eq!(
        done.batches, 1,
        "only the changed file is read and parsed again"
    );
    let files = &done.docs["files"]["files"];
    let page = files
        .as_array()
        .expect("files")
        .iter()
        .find(|f| f["path"] == "docs/page-7.md")
        .expect("a reused page");
    assert_eq!(page["lines"], 3, "{page}");
    assert_eq!(page["skipReason"], "not_code", "{page}");
}
