//! The `provis` binary: parse the command line and hand off to the library.

fn main() -> std::process::ExitCode {
    provis::cli::main()
}
