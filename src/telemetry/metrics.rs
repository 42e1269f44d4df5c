//! Every Prometheus metric provis exports: names, help text and the exporter.
//!
//! Names are the runbook's (docs/operations.md#metrics). Each is described here (`promtool check
//! metrics` wants a HELP line for every metric), and labels come from closed sets (never a job id).
//! The runbook's duration histograms keep their `_ms` names and buckets; `promtool`'s style lint
//! flags that abbreviated unit (its only remark on this output), which the runbook's dashboards and
//! alerts outweigh. Metrics provis adds (HTTP) use base units: seconds.

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

/// Every metric name provis exports, for tests and the dashboard check.
pub const ALL: &[&str] = &[
    JOBS_TOTAL,
    JOB_DURATION_MS,
    TASKS_TOTAL,
    TASK_DURATION_MS,
    FILES_PARSED_TOTAL,
    NODE_PARSE_MS,
    IMPORTS_TOTAL,
    ARTIFACTS_CREATED_TOTAL,
    QUEUE_SIZE,
    ERRORS_TOTAL,
    HTTP_REQUESTS_TOTAL,
    HTTP_REQUEST_DURATION_SECONDS,
];

/// The `method` label of HTTP metrics: a known method, else `other`.
///
/// actix accepts any token as a method, and a label per token would let any client grow
/// `/metrics` without bound (issue 9 item 11), so the set is closed here.
pub fn method_label(method: &actix_web::http::Method) -> &'static str {
    const KNOWN: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE",
    ];
    KNOWN
        .into_iter()
        .find(|k| *k == method.as_str())
        .unwrap_or("other")
}

/// The part of provis an error belongs to: the `component` label of `provis_errors_total`.
///
/// A closed set. Errors are counted where they are logged (see `telemetry::errors`): every
/// WARN or ERROR line of provis's own code counts once under the component of the module that
/// logged it, or of its `component` / `dependency` field when that names one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    /// HTTP handlers and the error table (5xx answers, failing health checks).
    Api,
    /// Postgres / SQLite.
    Database,
    /// Redis (queues, status, events) as a dependency.
    Redis,
    /// The artifact store (S3 or local disk).
    Storage,
    /// Queue internals (claims, recovery sweeps, worker registration).
    Queue,
    /// The worker runtime: task executions that failed, were retried or lost their lease.
    Worker,
    /// Live status and event streams.
    Events,
    /// Pipeline task bodies.
    Task,
    /// Jobs that failed.
    Job,
    /// Accepting uploads (refused archives included).
    Ingest,
    /// Sandboxed parser children (crashes, timeouts).
    Parser,
    /// The pure pipeline (parsing, resolution, capabilities).
    Pipeline,
    /// The LLM client.
    Llm,
    /// Start-up and configuration.
    Startup,
    /// Metrics and trace export.
    Telemetry,
    /// Anything else (errors logged by libraries).
    Other,
}

impl Component {
    /// Every component, in documentation order.
    pub const ALL: [Component; 16] = [
        Component::Api,
        Component::Database,
        Component::Redis,
        Component::Storage,
        Component::Queue,
        Component::Worker,
        Component::Events,
        Component::Task,
        Component::Job,
        Component::Ingest,
        Component::Parser,
        Component::Pipeline,
        Component::Llm,
        Component::Startup,
        Component::Telemetry,
        Component::Other,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Component::Api => "api",
            Component::Database => "database",
            Component::Redis => "redis",
            Component::Storage => "storage",
            Component::Queue => "queue",
            Component::Worker => "worker",
            Component::Events => "events",
            Component::Task => "task",
            Component::Job => "job",
            Component::Ingest => "ingest",
            Component::Parser => "parser",
            Component::Pipeline => "pipeline",
            Component::Llm => "llm",
            Component::Startup => "startup",
            Component::Telemetry => "telemetry",
            Component::Other => "other",
        }
    }

    /// The component a label value names, if any.
    pub fn parse(text: &str) -> Option<Component> {
        Component::ALL.into_iter().find(|c| c.as_str() == text)
    }

    /// The component of a module path (a tracing target): the longest matching prefix.
    pub fn of_target(target: &str) -> Component {
        const PREFIXES: &[(&str, Component)] = &[
            ("provis::api", Component::Api),
            ("provis::error", Component::Api),
            ("provis::db", Component::Database),
            ("provis::queue::worker", Component::Worker),
            ("provis::queue", Component::Queue),
            ("provis::events", Component::Events),
            ("provis::artifacts", Component::Storage),
            ("provis::sandbox", Component::Parser),
            ("provis::tasks::progress", Component::Job),
            ("provis::tasks::intake", Component::Ingest),
            ("provis::tasks", Component::Task),
            ("provis::pipeline::ingest", Component::Ingest),
            ("provis::pipeline", Component::Pipeline),
            ("provis::llm", Component::Llm),
            ("provis::cli", Component::Startup),
            ("provis::tasks::context", Component::Startup),
            ("provis::config", Component::Startup),
            ("provis::telemetry", Component::Telemetry),
        ];
        PREFIXES
            .iter()
            .filter(|(p, _)| {
                target == *p || target.strip_prefix(p).is_some_and(|r| r.starts_with("::"))
            })
            .max_by_key(|(p, _)| p.len())
            .map_or(Component::Other, |(_, c)| *c)
    }
}

/// Counts one error of `component`.
pub fn count_error(component: Component) {
    metrics::counter!(ERRORS_TOTAL, "component" => component.as_str()).increment(1);
}

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
    describe_counter!(
        ERRORS_TOTAL,
        "Errors and warnings logged by provis, by component"
    );
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

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::Method;

    #[test]
    fn unknown_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        let odd = Method::from_bytes(b"BREW").expect("a token is a method");
        assert_eq!(method_label(&odd), "other");
        let lower = Method::from_bytes(b"get").expect("a token is a method");
        assert_eq!(method_label(&lower), "other", "methods are case-sensitive");
    }

    #[test]
    fn components_come_from_module_paths() {
        assert_eq!(
            Component::of_target("provis::db::jobs"),
            Component::Database
        );
        assert_eq!(
            Component::of_target("provis::queue::worker"),
            Component::Worker
        );
        assert_eq!(
            Component::of_target("provis::queue::rq::sweep"),
            Component::Queue
        );
        assert_eq!(
            Component::of_target("provis::sandbox::pool"),
            Component::Parser
        );
        assert_eq!(
            Component::of_target("provis::tasks::stages"),
            Component::Task
        );
        assert_eq!(
            Component::of_target("provis::tasks::context"),
            Component::Startup
        );
        assert_eq!(Component::of_target("provis::dbx"), Component::Other);
        assert_eq!(Component::of_target("h2::proto"), Component::Other);
        for c in Component::ALL {
            assert_eq!(Component::parse(c.as_str()), Some(c));
        }
        assert_eq!(Component::parse("storage or database"), None);
    }
}
