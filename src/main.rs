//! The `provis` binary: parse the command line and hand off to the library.

fn main() -> std::process::ExitCode {
    // Before any thread starts: see the function's docs for the measurements.
    provis::host::limit_malloc_arenas();
    // A parser child (docs/pipeline.md#the-parser-sandbox) is this binary re-executed; it must not
    // parse the command line.
    if std::env::var_os(provis::sandbox::CHILD_ENV).is_some() {
        return provis::sandbox::child_main();
    }
    provis::cli::main()
}
