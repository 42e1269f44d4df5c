//! Command-line entry points (being written).

/// Runs the command line; returns the process exit code.
pub fn main() -> std::process::ExitCode {
    std::process::ExitCode::SUCCESS
}
