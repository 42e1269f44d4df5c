//! The `provis` binary: parse the command line and hand off to the library.

/// jemalloc serves the binary's allocations: glibc's allocator, whose frees and consolidations
/// were a fifth of the worker's time on a re-upload of the 53.6k-file monorepo, took that
/// re-upload 3.5–3.6 s against jemalloc's 2.3–3.2 s, at the same peak (docs/operations.md,
/// Memory and Time).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's settings ([`provis::host::JEMALLOC_CONF`]), read by jemalloc before `main`.
#[allow(unsafe_code, non_upper_case_globals)]
// SAFETY: jemalloc reads this symbol as a `const char *` to a NUL-terminated string: a
// reference to the first byte of a static NUL-terminated byte string is exactly that.
#[export_name = "_rjem_malloc_conf"]
static malloc_conf: &u8 = &provis::host::JEMALLOC_CONF[0];

fn main() -> std::process::ExitCode {
    // Before any thread starts: see the function's docs for the measurements.
    provis::host::limit_malloc_arenas();
    // A parser child (docs/pipeline.md#the-parser-sandbox) is this binary re-executed; it must not
    // parse the command line, nor start the allocator's threads (see the function's docs).
    if std::env::var_os(provis::sandbox::CHILD_ENV).is_some() {
        return provis::sandbox::child_main();
    }
    provis::host::start_allocator_threads();
    provis::cli::main()
}
