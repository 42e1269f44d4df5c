//! The parser child: lock down, then answer parse requests until stdin closes.
//!
//! The child has no tracing subscriber: what it has to say goes to stderr, which the worker reads
//! and logs as structured events with the child's pid.

use super::protocol::{encode_reply, read_request, write_frame};
use super::sys::{self, Resource};
use super::{
    failure_record, panic_message, Isolation, NetIsolation, ParseFn, SandboxError, CPU_LIMIT_ENV,
    MEMORY_LIMIT_ENV, PARENT_PID_ENV, PARSE_CRASH, STACK_ENV,
};
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::process::ExitCode;

/// The parse function children run in production.
/// The real dispatch by language (JS/TS with oxc, Python with ruff, identity for the rest).
pub(crate) const PRODUCTION_PARSER: ParseFn = crate::pipeline::parse_file;

/// Address-space limit when the parent did not pass one.
const DEFAULT_MEMORY_LIMIT: u64 = 2 << 30;
/// CPU-seconds limit when the parent did not pass one.
const DEFAULT_CPU_LIMIT_S: u64 = 600;
/// Descriptors the child may hold: stdin, stdout, stderr and a few for std internals.
const MAX_OPEN_FILES: u64 = 16;
/// Seconds between SIGXCPU (soft CPU limit) and SIGKILL (hard limit).
const CPU_GRACE_S: u64 = 5;

/// Exit code of a child whose lockdown failed (so the parent never gets a hello frame).
const EXIT_LOCKDOWN: u8 = 70;
/// Exit code of a child that lost the protocol (bad frame, broken pipe).
const EXIT_PROTOCOL: u8 = 71;

/// Entry point of the hidden parser-child mode. `main` calls this, before parsing the command
/// line, when [`CHILD_ENV`](super::CHILD_ENV) is set. Runs the test parser when
/// [`TEST_PARSER_ENV`](super::TEST_PARSER_ENV) is `1` in the child's environment (only tests set it; only a build with
/// the `test-support` feature has it), else the production parser.
pub fn child_main() -> ExitCode {
    #[cfg(feature = "test-support")]
    if std::env::var_os(super::TEST_PARSER_ENV).is_some_and(|v| v == "1") {
        let weaken = std::env::var(super::WEAKEN_ENV).unwrap_or_default();
        let skip = |layer: &str| weaken.split(',').any(|w| w.trim() == layer);
        let layers = Layers {
            namespaces: !skip("namespaces"),
            landlock: !skip("landlock"),
        };
        return run(super::test_parser::parse, layers);
    }
    child_main_with(PRODUCTION_PARSER)
}

/// [`child_main`] with an explicit parse function: lock the process down, then serve requests
/// from stdin on a large-stack thread until the parent closes the pipe.
pub fn child_main_with(parse: ParseFn) -> ExitCode {
    run(
        parse,
        Layers {
            namespaces: true,
            landlock: true,
        },
    )
}

/// Best-effort isolation layers to attempt. Only the test parser mode can turn them off, so
/// tests can exercise the fallbacks of kernels without namespaces or Landlock.
struct Layers {
    namespaces: bool,
    landlock: bool,
}

fn run(parse: ParseFn, layers: Layers) -> ExitCode {
    let limits = ChildLimits::from_env();
    let isolation = match lockdown(&limits, &layers) {
        Ok(isolation) => isolation,
        Err(e) => {
            eprintln!("provis parser child {}: {e}", std::process::id());
            return ExitCode::from(EXIT_LOCKDOWN);
        }
    };
    let serving = std::thread::Builder::new()
        .name("parser".to_string())
        .stack_size(limits.stack_bytes)
        .spawn(move || {
            // This thread's stack is sized for parsing under the child's address-space limit.
            crate::pipeline::js::assume_parse_stack();
            serve(parse, &isolation)
        });
    match serving {
        Ok(handle) => handle.join().unwrap_or(ExitCode::from(EXIT_PROTOCOL)),
        Err(e) => {
            eprintln!(
                "provis parser child {}: cannot start the parse thread ({} byte stack): {e}",
                std::process::id(),
                limits.stack_bytes
            );
            ExitCode::from(EXIT_LOCKDOWN)
        }
    }
}

/// Limits the parent passes through the environment.
struct ChildLimits {
    parent_pid: Option<u32>,
    memory_limit: u64,
    cpu_limit_s: u64,
    stack_bytes: usize,
}

impl ChildLimits {
    fn from_env() -> Self {
        fn num(key: &str) -> Option<u64> {
            std::env::var(key).ok()?.trim().parse().ok()
        }
        let memory_limit = num(MEMORY_LIMIT_ENV).unwrap_or(DEFAULT_MEMORY_LIMIT);
        Self {
            parent_pid: num(PARENT_PID_ENV).and_then(|p| u32::try_from(p).ok()),
            memory_limit,
            cpu_limit_s: num(CPU_LIMIT_ENV).unwrap_or(DEFAULT_CPU_LIMIT_S).max(1),
            stack_bytes: num(STACK_ENV)
                .and_then(|s| usize::try_from(s).ok())
                .unwrap_or_else(|| super::pool::stack_bytes_for(memory_limit)),
        }
    }
}

/// Puts every isolation layer in place, mandatory ones first. Runs while single-threaded.
fn lockdown(limits: &ChildLimits, layers: &Layers) -> Result<Isolation, SandboxError> {
    let step = |step: &'static str| move |source| SandboxError::Lockdown { step, source };
    sys::set_parent_death_signal().map_err(step("PR_SET_PDEATHSIG"))?;
    // The worker may have died between spawning us and the line above; then nobody would
    // ever send the signal.
    if let Some(ppid) = limits.parent_pid {
        if std::os::unix::process::parent_id() != ppid {
            return Err(SandboxError::ParentGone);
        }
    }
    sys::set_no_new_privs().map_err(step("PR_SET_NO_NEW_PRIVS"))?;
    let network = if layers.namespaces {
        sys::unshare_network()
    } else {
        NetIsolation::None
    };
    let landlock = match layers.landlock.then(sys::landlock_deny_all) {
        None => Default::default(),
        Some(Ok(outcome)) => outcome,
        Some(Err(e)) => {
            eprintln!(
                "provis parser child {}: Landlock refused ({e}); continuing without it",
                std::process::id()
            );
            Default::default()
        }
    };
    sys::ignore_file_size_signal();
    sys::lower_limit(Resource::Core, 0, 0).map_err(step("RLIMIT_CORE"))?;
    sys::lower_limit(Resource::FileSize, 0, 0).map_err(step("RLIMIT_FSIZE"))?;
    sys::lower_limit(Resource::OpenFiles, MAX_OPEN_FILES, MAX_OPEN_FILES)
        .map_err(step("RLIMIT_NOFILE"))?;
    sys::lower_limit(
        Resource::Cpu,
        limits.cpu_limit_s,
        limits.cpu_limit_s + CPU_GRACE_S,
    )
    .map_err(step("RLIMIT_CPU"))?;
    sys::lower_limit(
        Resource::AddressSpace,
        limits.memory_limit,
        limits.memory_limit,
    )
    .map_err(step("RLIMIT_AS"))?;
    Ok(Isolation {
        network,
        landlock_abi: landlock.abi,
        fs_denied: landlock.fs_denied,
        tcp_denied: landlock.tcp_denied,
    })
}

/// Says hello, then parses one request after another until stdin closes.
fn serve(parse: ParseFn, isolation: &Isolation) -> ExitCode {
    let pid = std::process::id();
    match serve_loop(parse, isolation) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("provis parser child {pid}: {e}");
            ExitCode::from(EXIT_PROTOCOL)
        }
    }
}

fn serve_loop(parse: ParseFn, isolation: &Isolation) -> Result<(), SandboxError> {
    let stdin = io::stdin();
    let mut input = stdin.lock();
    let stdout = io::stdout();
    let mut output = stdout.lock();
    write_frame(&mut output, &serde_json::to_vec(isolation)?)?;
    while let Some((path, bytes)) = read_request(&mut input)? {
        let record = match panic::catch_unwind(AssertUnwindSafe(|| parse(&path, &bytes))) {
            Ok(record) => record,
            Err(payload) => failure_record(
                &path,
                &bytes,
                PARSE_CRASH,
                format!("the parser panicked: {}", panic_message(payload.as_ref())),
            ),
        };
        write_frame(&mut output, &encode_reply(&record, sys::cpu_time_ms())?)?;
    }
    Ok(())
}
