//! Every Prometheus metric provis exports: names, help text and the exporter.
//!
//! Names are the runbook's (DESIGN §10). Each is described here (`promtool check metrics` wants
//! a HELP line for every metric), and labels come from closed sets (never a job id). The
//! runbook's duration histograms keep their `_ms` names and buckets; `promtool`'s style lint
//! flags that abbreviated unit (its only remark on this output), which the runbook's dashboards
//! and alerts outweigh. Metrics provis adds (HTTP) use base units: seconds.

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

/// Jobs by phase reached and final status.
pub const JOBS_TOTAL: &str = "provis_jobs_total";
/// Upload-to-end time of jobs.
pub const JOB_DURATION_MS: &str = "provis_job_duration_ms";
/// Task executions by name and resulting state.
pub const TASKS_TOTAL: &str = "provis_tasks_total";
/// Task execution time by name.
pub const TASK_DURATION_MS: &str = "provis_task_duration_ms";
/// Files parsed by language and status.
pub const FILES_PARSED_TOTAL: &str = "provis_files_parsed_total";
/// Time a parser child spent on one file.
pub const NODE_PARSE_MS: &str = "provis_node_parse_ms";
/// Imports by resolution type (internal, external, unresolved).
pub const IMPORTS_TOTAL: &str = "provis_imports_total";
/// Artifacts written by kind.
pub const ARTIFACTS_CREATED_TOTAL: &str = "provis_artifacts_created_total";
/// Queue lengths by queue name.
pub const QUEUE_SIZE: &str = "provis_queue_size";
/// Errors by component.
pub const ERRORS_TOTAL: &str = "provis_errors_total";
/// HTTP requests by method, route and status.
pub const HTTP_REQUESTS_TOTAL: &str = "provis_http_requests_total";
/// HTTP request duration by method and route, in seconds.
pub const HTTP_REQUEST_DURATION_SECONDS: &str = "provis_http_request_duration_seconds";

/// Histogram buckets: the runbook's for its histograms, Prometheus' usual ones for HTTP.
const BUCKETS: &[(&str, &[f64])] = &[
    (
        JOB_DURATION_MS,
        &[100.0, 500.0, 1e3, 5e3, 1e4, 3e4, 6e4, 3e5, 6e5, 1.8e6],
    ),
    (
        TASK_DURATION_MS,
        &[10.0, 50.0, 100.0, 500.0, 1e3, 5e3, 1e4, 3e4, 6e4, 3e5],
    ),
    (NODE_PARSE_MS, &[100.0, 500.0, 1e3, 5e3, 1e4, 2e4, 3e4]),
    (
        HTTP_REQUEST_DURATION_SECONDS,
        &[
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ],
    ),
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the Prometheus recorder once per process and describes every metric.
///
/// Returns the handle that renders `/metrics`, or `None` when another recorder was
/// installed first (tests that link the library twice).
pub fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let mut builder = PrometheusBuilder::new();
            for (name, buckets) in BUCKETS {
                builder = builder
                    .set_buckets_for_metric(Matcher::Full((*name).to_string()), buckets)
                    .ok()?;
            }
            let handle = builder.install_recorder().ok()?;
            describe_all();
            Some(handle)
        })
        .clone()
}

fn describe_all() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(
        JOBS_TOTAL,
        "Jobs that reached a final phase, by phase and status"
    );
    describe_histogram!(
        JOB_DURATION_MS,
        Unit::Milliseconds,
        "Time from upload to the end of a job"
    );
    describe_counter!(
        TASKS_TOTAL,
        "Task executions by task name and resulting state"
    );
    describe_histogram!(
        TASK_DURATION_MS,
        Unit::Milliseconds,
        "Time one task execution took, by task name"
    );
    describe_counter!(FILES_PARSED_TOTAL, "Files parsed, by language and status");
    describe_histogram!(
        NODE_PARSE_MS,
        Unit::Milliseconds,
        "Time a sandboxed parser child spent on one file"
    );
    describe_counter!(
        IMPORTS_TOTAL,
        "Imports resolved, by type (internal, external, unresolved)"
    );
    describe_counter!(
        ARTIFACTS_CREATED_TOTAL,
        "Artifact versions written, by kind"
    );
    describe_gauge!(QUEUE_SIZE, "Tasks waiting in each queue");
    describe_counter!(ERRORS_TOTAL, "Errors, by component");
    describe_counter!(
        HTTP_REQUESTS_TOTAL,
        "HTTP requests, by method, route and status"
    );
    describe_histogram!(
        HTTP_REQUEST_DURATION_SECONDS,
        Unit::Seconds,
        "HTTP request duration, by method and route"
    );
}
