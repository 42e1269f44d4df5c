//! The binary's allocator (jemalloc, see `host.rs`): its background threads, which give the
//! pages a finished job freed back while the server idles, run in the server process. (That a
//! parser child starts none, so it can still enter its namespaces, is checked by
//! `sandbox::children_run_no_allocator_threads`.)

use super::check::finished_job;
use super::fixtures;
use super::support::{Root, Server};
use crate::common::thread_names;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_runs_the_allocators_background_threads() {
    let root = Root::new();
    let server = Server::start(&root, &[]).await;
    let repo = fixtures::ts_app();
    let up = server.upload("app.zip", repo.zip(), None).await;
    finished_job(&server, up, repo.len()).await;
    let names = thread_names(server.pid() as u32);
    assert!(
        names.iter().any(|n| n == "jemalloc_bg_thd"),
        "no allocator background thread among {names:?}"
    );
}
