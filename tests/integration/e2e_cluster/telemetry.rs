//! A worker's metrics on the Prometheus dashboard, and one trace across serve and two workers.

use super::*;

/// What an operator sees of a worker (issue 11): its own `/metrics` after a job carries the
/// runbook's job, task, parse and artifact metrics and passes `promtool check metrics`; its
/// `/health` answers; every failure counts in `provis_errors_total`; and the Grafana
/// dashboard's queries use only names and labels the processes export.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_exports_its_metrics_and_the_dashboard_queries_them() {
    let opts = Options {
        workers: 1,
        ..Options::default()
    };
    let mut c = Cluster::prepare(&opts).await;
    c.start_server(&c.redis_env()).await;
    c.wait_healthy().await;
    let port = crate::common::free_port();
    observe::start_worker(
        &mut c,
        0,
        "high,normal,low",
        &[("METRICS_PORT", port.to_string())],
    );
    c.wait_workers(1).await;
    let probe = format!("http://127.0.0.1:{port}");
    let w1 = c.workers[0].as_mut().expect("w1");
    w1.wait_health(&probe, true).await;

    let (status, ctype, body) = observe::get_text(&format!("{probe}/health")).await;
    assert_eq!(status, 200, "{body}");
    assert!(ctype.starts_with("application/json"), "{ctype}");
    let health: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(health["status"], "ok");
    assert_eq!(health["role"], "worker");
    assert_eq!(health["worker"], "w1");

    let repo = fixtures::ts_app();
    let acc = c.submit(fixtures::zip(&repo), "ts-app.zip", None).await;
    let events = c.follow(acc.job_id, None).await;
    assert_eq!(events.last().map(|e| e.event.as_str()), Some("done"));
    // A refused archive: a failed job, counted as an error where it was refused (serve).
    let evil = fixtures::zip(&vec![("../evil.txt".to_string(), "x".to_string())]);
    let (status, body) = c.upload(evil, "evil.zip", None).await;
    assert_eq!(status, 400, "{body}");

    let (status, ctype, worker) = observe::get_text(&format!("{probe}/metrics")).await;
    assert_eq!(status, 200);
    assert!(ctype.starts_with("text/plain"), "{ctype}");
    prom::assert_promtool_accepts(&worker);
    for name in [
        "provis_jobs_total",
        "provis_tasks_total",
        "provis_files_parsed_total",
        "provis_artifacts_created_total",
        "provis_task_duration_ms",
        "provis_node_parse_ms",
        "provis_imports_total",
        "provis_queue_size",
    ] {
        assert!(
            worker.contains(&format!("# TYPE {name} ")),
            "the worker does not export {name}:\n{worker}"
        );
    }
    // Recorded where the work happened: this worker ran every task of the job.
    assert_eq!(
        prom::sample_sum(&worker, "provis_jobs_total", &["status=\"done\""]),
        1.0
    );
    for task in provis::tasks::ALL.map(|t| t.name) {
        let n = prom::sample_sum(
            &worker,
            "provis_tasks_total",
            &[&format!("name=\"{task}\""), "state=\"done\""],
        );
        assert!(n >= 1.0, "no done {task}:\n{worker}");
    }
    let (_, status) = c.get_json(&format!("/status/{}", acc.job_id)).await;
    let parsed = status["filesParsed"].as_f64().expect("filesParsed");
    assert!(parsed >= 5.0, "{status}");
    assert_eq!(
        prom::sample_sum(&worker, "provis_files_parsed_total", &[]),
        parsed,
        "every file this worker parsed:\n{worker}"
    );
    assert!(prom::sample_sum(&worker, "provis_artifacts_created_total", &[]) >= 6.0);

    let (_, _, api) = observe::get_text(&c.url("/metrics")).await;
    prom::assert_promtool_accepts(&api);
    assert!(
        prom::sample_sum(&api, "provis_errors_total", &["component=\"ingest\""]) >= 1.0,
        "the refused upload is an error of serve's ingest:\n{api}"
    );
    assert!(
        prom::sample_sum(&api, "provis_jobs_total", &["status=\"failed\""]) >= 1.0,
        "{api}"
    );

    // The dashboard, against what the two processes export.
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/docs/grafana-dashboard.json"
        ))
        .expect("docs/grafana-dashboard.json"),
    )
    .expect("dashboard JSON");
    let checked = prom::check_dashboard(&dashboard, &format!("{worker}\n{api}"));
    assert!(checked >= 10, "only {checked} dashboard queries");
    let (code, report) = prom::promtool(
        &[
            "check",
            "config",
            concat!(env!("CARGO_MANIFEST_DIR"), "/docs/prometheus.yml"),
        ],
        "",
    );
    assert_eq!(code, 0, "docs/prometheus.yml: {report}");
}

/// One upload is one trace (issue 11): `POST /ingest` on `serve` and the seven tasks on two
/// workers — `w1` on `high` (ingest, finalize), `w2` on `normal,low` — exported over both OTLP
/// transports to a real receiver, share one trace id and form the chain the tasks enqueue
/// each other in; every process names itself (service.name, a unique service.instance.id,
/// its role); and the JSON log lines carry the trace id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_upload_is_one_trace_across_serve_and_two_workers() {
    let rx = observe::Receiver::start();
    let grpc = format!("http://127.0.0.1:{}", rx.grpc_port);
    let http = format!("http://127.0.0.1:{}", rx.http_port);
    let otel = |endpoint: &str, protocol: &str| {
        vec![
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.to_string()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol.to_string()),
            ("OTEL_BSP_SCHEDULE_DELAY", "200".to_string()),
            ("LOG_FORMAT", "json".to_string()),
        ]
    };
    let opts = Options {
        workers: 2,
        ..Options::default()
    };
    let mut c = Cluster::prepare(&opts).await;
    let mut serve_env = c.redis_env();
    serve_env.extend(
        otel(&grpc, "grpc")
            .into_iter()
            .map(|(k, v)| (k.to_string(), v)),
    );
    c.start_server(&serve_env).await;
    c.wait_healthy().await;
    observe::start_worker(&mut c, 0, "high", &otel(&http, "http/protobuf"));
    observe::start_worker(&mut c, 1, "normal,low", &otel(&grpc, "grpc"));
    c.wait_workers(2).await;

    let acc = c
        .submit(fixtures::zip(&fixtures::ts_app()), "ts-app.zip", None)
        .await;
    let events = c.follow(acc.job_id, None).await;
    assert_eq!(events.last().map(|e| e.event.as_str()), Some("done"));

    let tasks: [&str; 7] = provis::tasks::ALL.map(|t| t.name);
    let spans = rx
        .wait_for(Duration::from_secs(60), |spans| {
            let names: BTreeSet<&str> = spans.iter().filter_map(|s| s["name"].as_str()).collect();
            names.contains("POST /ingest")
                && tasks
                    .iter()
                    .all(|t| names.contains(format!("task {t}").as_str()))
        })
        .await;
    let root = spans
        .iter()
        .find(|s| s["name"] == "POST /ingest")
        .expect("the request span");
    let trace = root["trace_id"].as_str().expect("trace id").to_string();
    assert_eq!(
        root["parent_span_id"], "",
        "the upload starts the trace: {root}"
    );
    assert_eq!(root["kind"], 2, "a server span: {root}");
    assert_eq!(root["resource"]["provis.role"], "serve");
    assert_eq!(root["attributes"]["http.route"], "/ingest");
    let mine: Vec<&Value> = spans
        .iter()
        .filter(|s| s["trace_id"] == trace.as_str())
        .collect();
    assert!(
        mine.len() >= 1 + 1 + tasks.len(),
        "request, handler and seven task spans in trace {trace}: {mine:?}"
    );
    let by_id: BTreeMap<&str, &Value> = mine
        .iter()
        .map(|s| (s["span_id"].as_str().expect("span id"), *s))
        .collect();
    // Every span of the trace hangs off the upload's request span.
    for s in &mine {
        let mut cur = *s;
        let mut hops = 0;
        while cur["parent_span_id"] != "" {
            let parent = cur["parent_span_id"].as_str().expect("parent id");
            cur = by_id.get(parent).unwrap_or_else(|| {
                panic!("span {} has parent {parent}, not in the trace", s["name"])
            });
            hops += 1;
            assert!(hops < 1000, "a cycle");
        }
        assert_eq!(
            cur["span_id"], root["span_id"],
            "{} is not under the request",
            s["name"]
        );
    }
    // The task spans: each of the seven, from the worker that runs its queue, and each the
    // child (through its own spans) of the task that enqueued it.
    let task_span = |t: &str| -> Vec<&Value> {
        mine.iter()
            .copied()
            .filter(|s| s["name"] == format!("task {t}").as_str())
            .collect()
    };
    let ancestor_task = |s: &Value| -> String {
        let mut cur = s;
        loop {
            let parent = cur["parent_span_id"].as_str().unwrap_or("");
            let Some(p) = by_id.get(parent) else {
                return String::new();
            };
            let name = p["name"].as_str().unwrap_or("");
            if name.starts_with("task ") || name == "POST /ingest" {
                return name.to_string();
            }
            cur = p;
        }
    };
    let expected_parent = [
        ("ingest", "POST /ingest", "w1"),
        ("discover", "task ingest", "w2"),
        ("parse_batch", "task discover", "w2"),
        ("merge", "task parse_batch", "w2"),
        ("map", "task merge", "w2"),
        ("summarize", "task map", "w2"),
        ("finalize", "task summarize", "w1"),
    ];
    let mut instances = BTreeMap::new();
    for (task, parent, worker) in expected_parent {
        let found = task_span(task);
        assert!(!found.is_empty(), "no span of {task} in trace {trace}");
        for s in found {
            assert_eq!(ancestor_task(s), parent, "parent of {task}");
            assert_eq!(s["resource"]["provis.role"], "worker", "{task}");
            assert_eq!(s["kind"], 5, "a consumer span: {task}");
            assert_eq!(s["attributes"]["worker"], worker, "{task} ran on {worker}");
            let transport = if worker == "w1" {
                "http/protobuf"
            } else {
                "grpc"
            };
            assert_eq!(s["transport"], transport, "{task}");
            instances.insert(
                worker,
                s["resource"]["service.instance.id"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            );
        }
    }
    instances.insert(
        "serve",
        root["resource"]["service.instance.id"]
            .as_str()
            .unwrap_or("")
            .to_string(),
    );
    let distinct: BTreeSet<&String> = instances.values().collect();
    assert_eq!(
        distinct.len(),
        3,
        "one service.instance.id per process: {instances:?}"
    );
    assert!(distinct.iter().all(|i| i.len() >= 32), "{instances:?}");
    for s in &mine {
        assert_eq!(s["resource"]["service.name"], "provis", "{s}");
    }
    // Other uploads are other traces.
    assert!(spans
        .iter()
        .all(|s| s["trace_id"] == trace.as_str() || s["name"] != "task ingest"));

    // The log lines of all three processes name the trace.
    for label in ["serve", "w1", "w2"] {
        let log = c.log(label);
        let with_trace = log
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|l| l["trace_id"] == trace.as_str())
            .count();
        assert!(
            with_trace >= 1,
            "{label} logged nothing with trace_id {trace}:\n{}",
            common::tail(&log)
        );
    }
}
