//! Bad input over real HTTP: not a zip (400), too large (413, answered while the client is
//! still sending), and every zip safety rule of docs/operations.md (400 with the rule's code,
//! a failed job with that code in `/status` and a terminal `error` event, and nothing written
//! outside the data dir).

use super::fixtures::{self, noise, zip_entries};
use super::support::{check_stream, files_under, Root, Server};
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Checks a refused upload's job: failed, pct 100, the code in its error, and a stream that
/// ends with the terminal `error` event carrying the code. No task ran.
async fn assert_failed_job(server: &Server, body: &Value, code: &str) {
    let job = body["jobId"]
        .as_str()
        .unwrap_or_else(|| panic!("{code}: a refused upload names its failed job: {body}"))
        .to_string();
    assert!(body["repoId"].is_string(), "{body}");
    let status = server.get_json(&format!("/status/{job}"), 200).await;
    assert_eq!(status["phase"], "failed", "{code}: {status}");
    assert_eq!(status["pct"], 100, "{code}: {status}");
    let error = status["error"].as_str().unwrap_or_default();
    assert!(error.contains(code), "{code}: error {error:?}");
    let events = check_stream(&server.events(&job).await, &job);
    let last = events.last().expect("events");
    assert_eq!(last["type"], "error", "{code}: {last}");
    assert_eq!(last["payload"]["code"], code, "{last}");
    assert_eq!(last["payload"]["terminal"], true, "{last}");
    assert!(last["payload"]["message"].is_string(), "{last}");
    assert!(
        server.tasks(&job).await.is_empty(),
        "{code}: no task was queued"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_a_zip_is_400() {
    let root = Root::new();
    let server = Server::start(&root, &[]).await;
    // No zip signature at all: refused while streaming, before any job exists.
    let up = server
        .upload("repo.zip", b"this is plain text, named .zip".to_vec(), None)
        .await;
    assert_eq!(up.status, 400, "{}", up.body);
    assert_eq!(up.body["error"]["code"], "not_a_zip", "{}", up.body);
    assert!(up.body["error"]["message"].is_string());
    // A zip signature with garbage after it: refused by inspection, as a failed job.
    let mut fake = b"PK\x03\x04".to_vec();
    fake.extend(noise(2000, 9));
    let up = server.upload("fake.zip", fake, None).await;
    assert_eq!(up.status, 400, "{}", up.body);
    assert_eq!(up.body["error"]["code"], "not_a_zip", "{}", up.body);
    assert_failed_job(&server, &up.body, "not_a_zip").await;
    // The multipart form without a `file` part.
    let r = server
        .http
        .post(server.url("/ingest"))
        .multipart(reqwest::multipart::Form::new().text("repo", "x"))
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status().as_u16(), 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_max_upload_bytes_is_413_before_the_body_is_sent() {
    const LIMIT: u64 = 1 << 20;
    const TOTAL: u64 = 5 << 20;
    const CHUNK: usize = 64 << 10;
    let root = Root::new();
    let server = Server::start(&root, &[("MAX_UPLOAD_BYTES", &LIMIT.to_string())]).await;

    // Declared length: a 5 MB body with Content-Length is refused.
    let zip = zip_entries(&[("big.bin", &noise(TOTAL as usize, 5))]);
    let up = server.upload("big.zip", zip, None).await;
    assert_eq!(up.status, 413, "{}", up.body);
    assert_eq!(up.body["error"]["code"], "upload_too_large", "{}", up.body);

    // Streamed (chunked, no length): the body trickles in from a channel, and the 413 must
    // arrive while most of it is still unsent.
    let sent = Arc::new(AtomicU64::new(0));
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    let producer = {
        let sent = sent.clone();
        tokio::spawn(async move {
            let mut first = b"PK\x03\x04".to_vec();
            first.resize(CHUNK, b'x');
            let mut chunk = Some(first);
            while sent.load(Ordering::SeqCst) < TOTAL {
                let c = chunk.take().unwrap_or_else(|| noise(CHUNK, 7));
                let n = c.len() as u64;
                if tx.send(Ok(c)).await.is_err() {
                    break; // the client stopped sending
                }
                sent.fetch_add(n, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        })
    };
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let part = reqwest::multipart::Part::stream(reqwest::Body::wrap_stream(stream))
        .file_name("stream.zip")
        .mime_str("application/zip")
        .expect("mime");
    let form = reqwest::multipart::Form::new().part("file", part);
    let resp = server
        .http
        .post(server.url("/ingest"))
        .multipart(form)
        .send()
        .await
        .expect("the server answers before the body ends");
    let sent_at_answer = sent.load(Ordering::SeqCst);
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    producer.abort();
    eprintln!("413 answered after {sent_at_answer} of {TOTAL} bytes were sent");
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["error"]["code"], "upload_too_large", "{body}");
    assert!(
        sent_at_answer >= LIMIT,
        "the limit was passed before the answer ({sent_at_answer} bytes sent)"
    );
    assert!(
        sent_at_answer < TOTAL - 1024 * 1024,
        "the 413 came while data remained unsent ({sent_at_answer} of {TOTAL} bytes sent)"
    );
    // Nothing of the refused uploads stays behind.
    let leftovers: Vec<String> = files_under(&root.tmp());
    assert!(
        leftovers.is_empty(),
        "spooled uploads removed: {leftovers:?}"
    );
    assert!(files_under(&root.data().join("artifacts"))
        .iter()
        .all(|f| !f.starts_with("uploads")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_zip_rule_fails_its_job_with_its_code() {
    let root = Root::new();
    let server = Server::start(
        &root,
        &[
            ("ZIP_MAX_ENTRIES", "20"),
            ("ZIP_MAX_DEPTH", "6"),
            ("ZIP_MAX_UNCOMPRESSED_BYTES", "3145728"),
            ("ZIP_MAX_RATIO", "200"),
        ],
    )
    .await;
    let marker = format!("escape-{}", uuid::Uuid::new_v4().simple());
    let traversal = format!("../{marker}.txt");
    let deep_traversal = format!("src/../../{marker}-2.txt");
    let absolute = format!("/tmp/{marker}.txt");
    let ok: &[u8] = b"export const ok = 1;\n";
    let many: Vec<(String, Vec<u8>)> = (0..25)
        .map(|i| (format!("src/f{i}.ts"), ok.to_vec()))
        .collect();
    let many_refs: Vec<(&str, &[u8])> = many
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    let big: Vec<Vec<u8>> = (0..4).map(|i| noise(1 << 20, 11 + i)).collect();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "path_traversal",
            zip_entries(&[("src/a.ts", ok), (&traversal, b"pwned")]),
        ),
        (
            "path_traversal",
            zip_entries(&[("src/a.ts", ok), (&deep_traversal, b"pwned")]),
        ),
        (
            "absolute_path",
            zip_entries(&[("src/a.ts", ok), (&absolute, b"pwned")]),
        ),
        ("symlink_entry", fixtures::symlink_zip()),
        ("too_many_entries", zip_entries(&many_refs)),
        (
            "too_deep",
            zip_entries(&[("src/a.ts", ok), ("a/b/c/d/e/f/g/h.ts", ok)]),
        ),
        ("ratio_exceeded", fixtures::zero_bomb(2 << 20)),
        (
            "total_too_large",
            zip_entries(&[
                ("data/0.bin", &big[0]),
                ("data/1.bin", &big[1]),
                ("data/2.bin", &big[2]),
                ("data/3.bin", &big[3]),
            ]),
        ),
        (
            "reserved_name",
            zip_entries(&[("src/a.ts", ok), ("src/con.ts", ok)]),
        ),
        ("duplicate_entry", fixtures::duplicate_zip()),
        ("encrypted_entry", fixtures::encrypted_zip()),
    ];
    for (code, zip) in cases {
        let up = server.upload("bad.zip", zip, Some("bad-repo")).await;
        assert_eq!(up.status, 400, "{code}: {}", up.body);
        assert_eq!(up.body["error"]["code"], code, "{}", up.body);
        assert!(up.body["error"]["message"].is_string(), "{}", up.body);
        assert_failed_job(&server, &up.body, code).await;
    }

    // Nothing was written outside the data dir: no traversal target exists anywhere it
    // could have landed, the server's cwd and TMPDIR are empty, and every file of the
    // test's tree is the data dir's, an input, or a server log.
    let data = root.data();
    for base in [
        root.path().to_path_buf(),
        root.path().parent().expect("parent").to_path_buf(),
        data.clone(),
        data.join("artifacts"),
        data.join("artifacts").join("uploads"),
        data.join("artifacts").join("work"),
        root.cwd(),
        root.tmp(),
        std::env::temp_dir(),
    ] {
        for name in [format!("{marker}.txt"), format!("{marker}-2.txt")] {
            let p = base.join(&name);
            assert!(!p.exists(), "{} was written", p.display());
        }
    }
    assert!(
        !std::path::Path::new(&absolute).exists(),
        "{absolute} was written"
    );
    assert!(files_under(&root.cwd()).is_empty(), "cwd untouched");
    assert!(files_under(&root.tmp()).is_empty(), "no temp file left");
    for f in files_under(root.path()) {
        let allowed = f.starts_with("data/")
            || f.starts_with("inputs/")
            || (f.starts_with("server-") && f.ends_with(".log"));
        assert!(allowed, "unexpected file {f}");
        assert!(!f.contains(&marker), "a file named after an entry: {f}");
    }
    // A refused zip is not kept: no upload and no artifact was stored.
    let stored = files_under(&data.join("artifacts"));
    assert!(
        stored.is_empty(),
        "nothing stored for refused zips: {stored:?}"
    );
}
