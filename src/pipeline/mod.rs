//! Pure code intelligence: discovery rules, parsing, import resolution and the graph.
//!
//! Nothing here talks to a service: functions take bytes and in-memory views of a snapshot
//! and return records, so the same code runs in workers, in `provis analyze` and in parser
//! child processes. The one exception is `ingest`, which reads the zip or directory at a path
//! its caller passes.

pub mod caps;
pub mod discover;
pub mod encoded;
pub mod graph;
pub mod ingest;
pub mod js;
pub mod json;
pub mod model;
pub mod py;
pub mod role;
pub mod routing;
pub mod wiring;

mod plan;

pub use plan::{
    capabilities_and_summaries, capabilities_and_summaries_reusing, caps_reads, is_resolver_config,
    language_counts, language_label, parse_file, plan, resolve_imports, resolve_imports_reusing,
    resolve_indexed, unparsed_record, Indexes, Plan, PlannedFile, Resolved, Spent,
};
