//! Issue 9 item 13 over real HTTP against the real binary: the depth limit counts folders
//! below the wrapper, a truncated zip is explained in plain words, a binary `.py` is skipped,
//! and artifact `uri`s never show where the server keeps its files.

use super::fixtures::zip_entries;
use super::support::{check_stream, Root, Server};
use serde_json::Value;

/// Follows the job of an accepted upload to its end; returns its terminal event.
async fn run_to_end(server: &Server, body: &Value) -> Value {
    let job = body["jobId"].as_str().expect("jobId").to_string();
    let events = check_stream(&server.events(&job).await, &job);
    events.last().cloned().expect("events")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn depth_limit_truncated_zip_binary_py_and_artifact_uris() {
    let root = Root::new();
    let server = Server::start(&root, &[]).await;

    // A file inside 20 folders (the default limit) of a GitHub-style wrapper, and a binary
    // file named .py beside it: accepted, the binary skipped without a syntax-error flood.
    let folders: Vec<String> = (1..=20).map(|i| format!("d{i}")).collect();
    let deep = format!("repo-main/{}/deep.py", folders.join("/"));
    let mut blob = b"\x7fELF\x02\x01\x01\x00\x00".to_vec();
    blob.extend((0..50_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    let zip = zip_entries(&[
        (deep.as_str(), b"import os\n".as_slice()),
        ("repo-main/app.py", b"from d1 import x\n".as_slice()),
        ("repo-main/tools/blob.py", blob.as_slice()),
    ]);
    let up = server.upload("deep.zip", zip, Some("deep")).await;
    assert_eq!(up.status, 202, "{}", up.body);
    let last = run_to_end(&server, &up.body).await;
    assert_eq!(last["type"], "done", "{last}\n{}", server.log_text());
    let repo = up.body["repoId"].as_str().expect("repoId");
    let files = server.get_json(&format!("/repo/{repo}/files"), 200).await;
    let record = |path: &str| -> Value {
        files["files"]
            .as_array()
            .expect("files")
            .iter()
            .find(|f| f["path"] == path)
            .cloned()
            .unwrap_or_else(|| panic!("{path} in files.json"))
    };
    let deep_rel = deep.trim_start_matches("repo-main/");
    assert_eq!(record(deep_rel)["skipped"], false);
    let blob_rec = record("tools/blob.py");
    assert_eq!(blob_rec["skipped"], true, "{blob_rec}");
    assert_eq!(blob_rec["skipReason"], "binary", "{blob_rec}");
    assert_eq!(blob_rec["warnings"], serde_json::json!([]), "{blob_rec}");
    let job = uuid::Uuid::parse_str(up.body["jobId"].as_str().expect("jobId")).expect("uuid");
    let warnings = server
        .db()
        .await
        .list_warnings(job, 1000)
        .await
        .expect("warnings");
    let codes: Vec<&str> = warnings.iter().map(|w| w.code.as_str()).collect();
    assert_eq!(codes, ["no_llm"], "no syntax-error flood: {warnings:?}");

    // Artifact uris are keys under the artifact directory; rows written by older versions
    // (`file:///abs/path`) are shown the same way.
    let snap = up.body["snapshotId"].as_str().expect("snapshotId");
    let list_path = format!("/repos/{repo}/snapshots/{snap}/artifacts");
    let data = server.data.to_string_lossy().into_owned();
    let uris = |list: &Value| -> Vec<String> {
        list["artifacts"]
            .as_array()
            .expect("artifacts")
            .iter()
            .map(|a| a["uri"].as_str().expect("uri").to_string())
            .collect()
    };
    let before = uris(&server.get_json(&list_path, 200).await);
    assert_eq!(before.len(), 6);
    for uri in &before {
        assert!(uri.starts_with(&format!("local:repos/{repo}/")), "{uri}");
        assert!(!uri.contains(&data), "{uri}");
    }
    let db = server.db().await;
    let id = uuid::Uuid::parse_str(snap).expect("uuid");
    for a in db.list_artifacts(id).await.expect("artifacts") {
        let old = format!("file://{data}/artifacts/x/{}.json", a.kind);
        db.finalize_artifact(a.id, &old, a.bytes)
            .await
            .expect("rewrite uri");
    }
    let after = uris(&server.get_json(&list_path, 200).await);
    assert_eq!(after, before, "old absolute uris are not shown");

    // A truncated zip: 400 not_a_zip, and a message in plain words.
    let good = zip_entries(&[("src/a.ts", b"export const a = 1;\n".as_slice())]);
    for cut in [1, 10, good.len() / 2] {
        let up = server
            .upload("cut.zip", good[..good.len() - cut].to_vec(), None)
            .await;
        assert_eq!(up.status, 400, "{}", up.body);
        assert_eq!(up.body["error"]["code"], "not_a_zip", "{}", up.body);
        let message = up.body["error"]["message"].as_str().expect("message");
        assert!(message.contains("truncated"), "{message}");
        assert!(!message.contains("::"), "no crate internals: {message}");
    }

    // One folder more than the limit is refused with its code.
    let deeper = format!("repo-main/{}/d21/deep.py", folders.join("/"));
    let zip = zip_entries(&[
        (deeper.as_str(), b"import os\n".as_slice()),
        ("repo-main/app.py", b"import os\n".as_slice()),
    ]);
    let up = server.upload("deeper.zip", zip, None).await;
    assert_eq!(up.status, 400, "{}", up.body);
    assert_eq!(up.body["error"]["code"], "too_deep", "{}", up.body);
    let message = up.body["error"]["message"].as_str().expect("message");
    assert!(message.contains("inside 21 folders"), "{message}");
}

/// Lists the files under `dir` (relative), empty when it does not exist.
fn files_in(dir: &std::path::Path) -> Vec<String> {
    super::support::files_under(dir)
}

/// Polls `cond` for up to 20 s.
async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let t0 = std::time::Instant::now();
    while !cond() {
        assert!(t0.elapsed().as_secs() < 20, "{what}: not within 20 s");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Issue 9 item 13: a job's work blobs are deleted when it ends; its upload is kept for
/// UPLOAD_RETENTION_S after that, then deleted by the sweep (which also deletes work blobs
/// written after the end); artifacts are never touched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_blobs_go_when_the_job_ends_and_uploads_after_the_retention() {
    let root = Root::new();
    let store = root.data().join("artifacts");
    let server = Server::start(&root, &[]).await;
    let up = server
        .upload("ts.zip", super::fixtures::ts_app().zip(), None)
        .await;
    assert_eq!(up.status, 202, "{}", up.body);
    let last = run_to_end(&server, &up.body).await;
    assert_eq!(last["type"], "done", "{last}");
    let job = up.body["jobId"].as_str().expect("jobId").to_string();
    let work = store.join("work").join(&job);
    eventually("work blobs deleted when the job ends", || {
        files_in(&work).is_empty()
    })
    .await;
    assert!(!work.exists(), "the job's work folder is gone");
    let upload = store.join("uploads").join(format!("{job}.zip"));
    assert!(upload.is_file(), "kept for the default retention (7 days)");
    let artifacts = files_in(&store.join("repos"));
    assert_eq!(artifacts.len(), 6, "{artifacts:?}");
    drop(server);

    // A late write after the end (a retry that lost its race), then a restart with a short
    // retention: the sweep at start deletes both, and nothing else.
    std::fs::create_dir_all(&work).expect("mkdir");
    std::fs::write(work.join("late.json"), b"{}").expect("write");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let server = Server::start(&root, &[("UPLOAD_RETENTION_S", "1")]).await;
    eventually("upload deleted after its retention", || !upload.exists()).await;
    eventually("late work blob deleted", || !work.exists()).await;
    assert_eq!(files_in(&store.join("repos")), artifacts, "artifacts kept");
    let repo = up.body["repoId"].as_str().expect("repoId");
    server.get_json(&format!("/repo/{repo}/graph"), 200).await;

    // With UPLOAD_RETENTION_S=0 the upload goes with the job's end.
    drop(server);
    let server = Server::start(&root, &[("UPLOAD_RETENTION_S", "0")]).await;
    let up2 = server
        .upload("mixed.zip", super::fixtures::mixed().zip(), None)
        .await;
    assert_eq!(up2.status, 202, "{}", up2.body);
    let last = run_to_end(&server, &up2.body).await;
    assert_eq!(last["type"], "done", "{last}");
    let job2 = up2.body["jobId"].as_str().expect("jobId");
    eventually("upload deleted as the job ends", || {
        !store.join("uploads").join(format!("{job2}.zip")).exists()
            && !store.join("work").join(job2).exists()
    })
    .await;
}
