//! Pure code intelligence: discovery rules, parsing, import resolution and the graph.
//!
//! Nothing here performs I/O: functions take bytes and in-memory views of a snapshot and
//! return records, so the same code runs in workers, in `provis analyze` and in parser
//! child processes.

pub mod caps;
pub mod model;
