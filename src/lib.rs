//! provis turns a zip of a source repository into a versioned map of the code.
//!
//! # Layout
//! - [`cli`]: subcommands (`serve`, `work`, `migrate`, `all-in-one`, `analyze`); the only place
//!   that wires everything together.
//! - [`config`]: settings from flags, environment, `provis.toml` and defaults.
//! - [`error`]: the one table mapping errors to HTTP status and error code.
//! - [`api`]: the actix-web HTTP layer.
//! - [`queue`]: task queues (Redis in the RQ layout, or in-process) and the worker runtime.
//! - [`tasks`]: the pipeline's task types, and the process context ([`tasks::context`]): one
//!   handle per backend, built once per process, where db, queue, artifacts and events meet.
//! - [`sandbox`]: parser child processes (rlimits, namespaces, Landlock) that a hostile file
//!   cannot take the worker down with; used by `tasks`, and by `main` to start a child.
//! - [`pipeline`]: pure code intelligence: discovery, parsing, resolution, graph. No I/O but
//!   `pipeline::ingest`, which reads the uploaded zip or directory it is handed.
//! - [`db`]: state through Diesel, Postgres or SQLite behind one schema.
//! - [`artifacts`]: create-only versioned artifact storage on S3 or local disk.
//! - [`events`]: live job status and event streams.
//! - [`host`]: the host's name and whether a pid still runs (the queue and scratch space ask).
//! - [`llm`]: optional LLM summaries: chat client, shared rate limit, cache, redaction, budget.
//! - [`telemetry`]: logging and metrics set-up; metric names.
//!
//! `queue`, `db` and `artifacts` do not know each other; `tasks` composes them through a context.

// The lints (no unwrap/expect, unsafe code only where a function allows it) are in Cargo.toml.

pub mod api;
pub mod artifacts;
pub mod cli;
pub mod config;
pub mod db;
pub mod error;
pub mod events;
pub mod host;
pub mod llm;
pub mod pipeline;
pub mod queue;
pub mod sandbox;
pub mod tasks;
pub mod telemetry;
pub mod web;
