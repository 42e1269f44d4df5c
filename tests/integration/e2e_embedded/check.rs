//! The checks every successful job gets: its event stream, `/status`, the artifact listing
//! and each artifact document, and its `tasks` rows.

use super::support::{check_stream, type_counts, Server, Upload, KINDS};
use provis::db::TaskState;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// What a finished job left behind, for fixture-specific checks.
pub struct Finished {
    pub upload: Upload,
    pub events: Vec<Value>,
    pub status: Value,
    /// Artifact documents by kind, from `GET /repo/{repo}/{kind}`.
    pub docs: BTreeMap<String, Value>,
    /// Parse batches the job ran.
    pub batches: usize,
}

impl Finished {
    pub fn doc(&self, kind: &str) -> &Value {
        &self.docs[kind]
    }

    /// `(from, to, kind)` of the internal edges of the graph artifact.
    pub fn internal_edges(&self) -> BTreeSet<(String, String, String)> {
        edges(self.doc("graph"), false)
            .into_iter()
            .map(|e| (e.0, e.1, e.2))
            .collect()
    }

    /// `(from, package)` of the external edges of the graph artifact.
    pub fn external_edges(&self) -> BTreeSet<(String, String)> {
        edges(self.doc("graph"), true)
            .into_iter()
            .map(|e| (e.0, e.1))
            .collect()
    }

    /// `(from, raw)` of the graph's unresolved imports.
    pub fn unresolved(&self) -> BTreeSet<(String, String)> {
        self.doc("graph")["unresolved"]
            .as_array()
            .expect("unresolved list")
            .iter()
            .map(|u| (s(&u["from"]), s(&u["raw"])))
            .collect()
    }

    /// The files artifact's record of `path`.
    pub fn file(&self, path: &str) -> &Value {
        self.doc("files")["files"]
            .as_array()
            .expect("files list")
            .iter()
            .find(|f| f["path"] == path)
            .unwrap_or_else(|| panic!("no file record for {path}"))
    }

    /// The resolved target of the import `raw` in `path`'s file record.
    pub fn resolved(&self, path: &str, raw: &str) -> Option<String> {
        let imp = self.file(path)["imports"]
            .as_array()
            .expect("imports")
            .iter()
            .find(|i| i["raw"] == raw)
            .unwrap_or_else(|| panic!("{path} has no import {raw:?}: {}", self.file(path)));
        imp["resolved"].as_str().map(str::to_string)
    }
}

pub fn s(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_string()
}

fn edges(graph: &Value, external: bool) -> Vec<(String, String, String)> {
    graph["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .filter(|e| e["external"] == Value::Bool(external))
        .map(|e| (s(&e["from"]), s(&e["to"]), s(&e["kind"])))
        .collect()
}

/// Follows a fresh (non-cache-hit) upload to `done` and checks everything that every
/// successful job must show. `files` is the number of files of the fixture.
pub async fn finished_job(server: &Server, upload: Upload, files: usize) -> Finished {
    assert_eq!(upload.status, 202, "ingest answer: {}", upload.body);
    let b = &upload.body;
    for k in [
        "repoId",
        "snapshotId",
        "jobId",
        "commitHash",
        "settingsHash",
    ] {
        assert!(b[k].is_string(), "{k} in {b}");
    }
    assert_eq!(b["cacheHit"], false, "{b}");
    let commit = s(&b["commitHash"]);
    assert!(
        commit.len() == 64 && commit.chars().all(|c| c.is_ascii_hexdigit()),
        "commitHash is blake3 hex: {commit}"
    );
    let job = upload.job();

    // The event stream, from upload to done.
    let msgs = server.events(&job).await;
    let events = check_stream(&msgs, &job);
    let counts = type_counts(&events);
    let last = events.last().expect("events");
    assert_eq!(
        last["type"],
        "done",
        "the job ends done: {last}\nlog:\n{}",
        server.log_text()
    );
    assert_eq!(events[0]["type"], "upload_received", "first event");
    assert_eq!(counts.get("upload_received"), Some(&1));
    assert_eq!(counts.get("files_total"), Some(&1));
    assert_eq!(counts.get("imports_metrics"), Some(&1));
    assert_eq!(counts.get("done"), Some(&1));
    let types: Vec<&str> = counts.keys().map(String::as_str).collect();
    assert_eq!(
        types,
        [
            "artifact_ready",
            "batch_parsed",
            "done",
            "files_total",
            "imports_metrics",
            "phase",
            "progress",
            "upload_received",
            "warning"
        ],
        "the event types of a successful run (no error, no cache_hit)"
    );
    let no_llm = events
        .iter()
        .any(|e| e["type"] == "warning" && e["payload"]["code"] == "no_llm");
    assert!(no_llm, "a warning says no LLM was used");
    let files_total = events
        .iter()
        .find(|e| e["type"] == "files_total")
        .expect("files_total");
    assert_eq!(
        files_total["payload"]["count"], files as u64,
        "{files_total}"
    );
    let batches = files_total["payload"]["batches"].as_u64().expect("batches") as usize;
    assert_eq!(counts.get("batch_parsed"), Some(&batches), "{counts:?}");
    let mut seen_batches: Vec<u64> = events
        .iter()
        .filter(|e| e["type"] == "batch_parsed")
        .map(|e| e["payload"]["batchIndex"].as_u64().expect("batchIndex"))
        .collect();
    seen_batches.sort_unstable();
    assert_eq!(
        seen_batches,
        (0..batches as u64).collect::<Vec<_>>(),
        "one batch_parsed per batch"
    );
    let ready: Vec<(String, u64)> = events
        .iter()
        .filter(|e| e["type"] == "artifact_ready")
        .map(|e| {
            (
                s(&e["payload"]["kind"]),
                e["payload"]["version"].as_u64().expect("version"),
            )
        })
        .collect();
    let mut ready_kinds: Vec<&str> = ready.iter().map(|r| r.0.as_str()).collect();
    ready_kinds.sort_unstable();
    let mut all_kinds = KINDS.to_vec();
    all_kinds.sort_unstable();
    assert_eq!(ready_kinds, all_kinds, "one artifact_ready per kind");
    assert!(ready.iter().all(|r| r.1 == 1), "all version 1: {ready:?}");
    // Phases in order, pct never going back.
    let phases: Vec<String> = events
        .iter()
        .filter(|e| e["type"] == "phase")
        .map(|e| s(&e["payload"]["phase"]))
        .fold(Vec::new(), |mut v, p| {
            if v.last() != Some(&p) {
                v.push(p);
            }
            v
        });
    assert_eq!(
        phases,
        [
            "acquiring",
            "discovering",
            "parsing",
            "merging",
            "mapping",
            "summarizing",
            "finalizing",
            "done"
        ],
        "phase order"
    );
    let pcts: Vec<u64> = events
        .iter()
        .filter(|e| e["type"] == "phase" || e["type"] == "progress")
        .map(|e| e["payload"]["pct"].as_u64().expect("pct"))
        .collect();
    assert!(
        pcts.windows(2).all(|w| w[0] <= w[1]),
        "pct never goes back: {pcts:?}"
    );
    assert_eq!(pcts.last(), Some(&100));

    // The artifacts, listed and fetched.
    let repo = upload.repo();
    let snap = upload.snapshot();
    let list = server
        .get_json(&format!("/repos/{repo}/snapshots/{snap}/artifacts"), 200)
        .await;
    assert_eq!(list["snapshotId"], snap.as_str());
    let items = list["artifacts"].as_array().expect("artifacts");
    let mut listed: Vec<&str> = items
        .iter()
        .map(|a| a["kind"].as_str().expect("kind"))
        .collect();
    listed.sort_unstable();
    assert_eq!(listed, all_kinds, "six artifacts, one version each: {list}");
    let mut docs = BTreeMap::new();
    for a in items {
        let kind = s(&a["kind"]);
        assert_eq!(a["version"], 1, "{a}");
        let bytes = a["bytes"].as_u64().expect("bytes");
        assert!(bytes > 0, "{a}");
        assert!(a["createdAt"].is_string(), "{a}");
        // The key under the artifact directory, never the server's absolute path.
        let uri = a["uri"].as_str().expect("uri");
        assert!(
            uri.starts_with(&format!("local:repos/{repo}/snapshots/"))
                && uri.ends_with(&format!("/{kind}.v1.json")),
            "{a}"
        );
        assert!(!uri.contains(&*server.data.to_string_lossy()), "{a}");
        let r = server
            .http
            .get(server.url(&format!("/repo/{repo}/{kind}")))
            .send()
            .await
            .expect("GET artifact");
        assert_eq!(r.status().as_u16(), 200, "/repo/{repo}/{kind}");
        let body = r.bytes().await.expect("artifact body");
        assert_eq!(
            body.len() as u64,
            bytes,
            "{kind}: served bytes = listed bytes"
        );
        let doc: Value = serde_json::from_slice(&body).expect("artifact JSON");
        assert!(doc["schemaVersion"].is_number(), "{kind} schemaVersion");
        assert!(
            doc["generatorVersion"].is_string(),
            "{kind} generatorVersion"
        );
        docs.insert(kind, doc);
    }

    // `?snapshot_id=` names the same snapshot explicitly.
    let by_snapshot = server
        .get_json(&format!("/repo/{repo}/graph?snapshot_id={snap}"), 200)
        .await;
    assert_eq!(by_snapshot, docs["graph"], "graph by snapshot id");

    // /status agrees with the artifacts.
    let status = server.get_json(&format!("/status/{job}"), 200).await;
    assert_eq!(status["phase"], "done", "{status}");
    assert_eq!(status["pct"], 100, "{status}");
    assert_eq!(status["error"], Value::Null, "{status}");
    assert_eq!(status["jobId"], job.as_str());
    assert_eq!(status["repoId"], repo.as_str());
    assert_eq!(status["snapshotId"], snap.as_str());
    assert_eq!(status["filesDiscovered"], files as u64, "{status}");
    let files_doc = &docs["files"];
    let records = files_doc["files"].as_array().expect("file records");
    assert_eq!(records.len(), files, "one record per file");
    assert_eq!(files_doc["summary"]["totalFiles"], files as u64);
    let parsed = records.iter().filter(|r| r["skipped"] != true).count() as u64;
    assert_eq!(status["filesParsed"], parsed, "{status}");
    let gm = &docs["graph"]["metrics"];
    assert_eq!(status["importsInternal"], gm["internal"], "{status} {gm}");
    assert_eq!(status["importsExternal"], gm["external"], "{status} {gm}");
    let total = gm["internal"].as_u64().expect("internal")
        + gm["external"].as_u64().expect("external")
        + gm["unresolvedLocal"].as_u64().expect("unresolvedLocal");
    assert_eq!(status["importsTotal"], total, "{status} {gm}");
    assert!(
        status["warningsCount"].as_u64().expect("warnings") >= 1,
        "no_llm counts"
    );
    let graph = &docs["graph"];
    for (what, list, metric) in [
        ("internal", edges(graph, false).len(), "internal"),
        ("external", edges(graph, true).len(), "external"),
        (
            "unresolved",
            graph["unresolved"].as_array().expect("unresolved").len(),
            "unresolvedLocal",
        ),
    ] {
        assert_eq!(gm[metric], list as u64, "{what} count = list length");
    }
    assert_eq!(graph["nodes"].as_array().expect("nodes").len(), files);
    let metrics = &docs["metrics"];
    assert_eq!(metrics["jobId"], job.as_str());
    assert_eq!(metrics["filesCount"], files as u64);
    assert_eq!(metrics["importsInternal"], gm["internal"]);
    assert_eq!(metrics["cacheHit"], false);
    let uploaded = events[0]["payload"]["bytes"]
        .as_u64()
        .expect("uploaded bytes");
    assert!(uploaded > 0);
    assert_eq!(metrics["bytes"], uploaded, "metrics bytes = the upload's");
    let durations = metrics["phaseDurationsMs"]
        .as_object()
        .expect("phaseDurationsMs");
    for task in [
        "ingest",
        "discover",
        "parse_batch",
        "merge",
        "map",
        "summarize",
    ] {
        assert!(
            durations.get(task).is_some_and(Value::is_u64),
            "a measured duration for {task}: {metrics}"
        );
    }
    assert!(metrics["totalMs"].as_u64().is_some(), "{metrics}");

    // Tree, summaries and graph nodes: one entry per file, agreeing with the files artifact.
    let tree = &docs["tree"];
    assert_eq!(tree["totalFiles"], files as u64, "tree counts every file");
    let hashes: BTreeMap<String, String> = records
        .iter()
        .map(|r| (s(&r["path"]), s(&r["hash"])))
        .collect();
    let tree_hashes: BTreeMap<String, String> = tree["files"]
        .as_array()
        .expect("tree files")
        .iter()
        .map(|f| (s(&f["path"]), s(&f["hash"])))
        .collect();
    assert_eq!(tree_hashes, hashes, "tree and files artifacts agree");
    let summaries = docs["summaries"]["files"].as_array().expect("summaries");
    assert_eq!(summaries.len(), files, "one summary per file");
    for f in summaries {
        for key in ["path", "title", "purpose", "keyFunctions", "risks", "blurb"] {
            assert!(f.get(key).is_some(), "summary without {key}: {f}");
        }
    }
    let mut in_deg: BTreeMap<String, u64> = BTreeMap::new();
    let mut out_deg: BTreeMap<String, u64> = BTreeMap::new();
    for (from, to, _) in edges(graph, false) {
        *out_deg.entry(from).or_default() += 1;
        *in_deg.entry(to).or_default() += 1;
    }
    for n in graph["nodes"].as_array().expect("nodes") {
        let id = s(&n["id"]);
        assert!(hashes.contains_key(&id), "a node per file: {id}");
        assert_eq!(n["inDegree"], in_deg.get(&id).copied().unwrap_or(0), "{n}");
        assert_eq!(
            n["outDegree"],
            out_deg.get(&id).copied().unwrap_or(0),
            "{n}"
        );
    }

    // The tasks rows: one per task (one per batch), all done on their first try.
    let rows = server.tasks(&job).await;
    let mut names: Vec<(String, Option<i32>)> = rows
        .iter()
        .map(|t| (t.name.clone(), t.batch_index))
        .collect();
    names.sort();
    let mut want: Vec<(String, Option<i32>)> = [
        "ingest",
        "discover",
        "merge",
        "map",
        "summarize",
        "finalize",
    ]
    .iter()
    .map(|n| (n.to_string(), None))
    .chain((0..batches as i32).map(|i| ("parse_batch".to_string(), Some(i))))
    .collect();
    want.sort();
    assert_eq!(names, want, "one tasks row per task");
    for t in &rows {
        assert_eq!(t.state, TaskState::Done, "{t:?}");
        assert_eq!(t.attempt, 1, "attempts counted: {t:?}");
        let (Some(st), Some(en)) = (t.started_at, t.ended_at) else {
            panic!("a done task has start and end times: {t:?}");
        };
        assert!(st <= en, "{t:?}");
        assert_eq!(t.error, None, "{t:?}");
    }
    Finished {
        upload,
        events,
        status,
        docs,
        batches,
    }
}
