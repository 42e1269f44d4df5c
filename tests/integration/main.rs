//! provis's integration tests, one test binary: each module is one area (the former test
//! binaries of `tests/`), `common` the harness they share. A test's path starts with its
//! module, so `cargo test queue_redis` runs one area.

// Tests may unwrap; they send signals to their own children (SAFETY comments at each call).
#![allow(clippy::unwrap_used, clippy::expect_used, unsafe_code)]

mod common;

mod api_platform;
mod artifacts;
mod cli;
mod db;
mod e2e_cluster;
mod e2e_embedded;
mod events;
mod faults;
mod ingest_zip;
mod llm;
mod pipeline_caps;
mod pipeline_graph;
mod pipeline_js;
mod pipeline_py;
mod queue_local;
mod queue_redis;
mod sandbox;
mod web_page;
