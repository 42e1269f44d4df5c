//! The parser sandbox (docs/pipeline.md#the-parser-sandbox, limits in
//! docs/operations.md#limits-and-safety): parsing runs in child processes of the same binary.
//!
//! Parsers are pure functions, but they read hostile bytes: a file can make one loop, recurse
//! until the stack ends, allocate without bound or hit a bug that aborts. In a child process any
//! of that costs one file, not the worker. The parts:
//!
//! - [`ParserPool`] (worker side): at most `NODE_SUBPROC_CONCURRENCY` children at once, reused
//!   across files and batches; a file that takes longer than `NODE_FILE_TIMEOUT_S` kills its child
//!   and becomes a `parse_timeout` record, a child that dies makes its file a `parse_crash`
//!   record, and either way the child is replaced and the rest of the batch is still parsed.
//!   `NODE_BATCH_TIMEOUT_S` bounds the whole batch.
//! - [`child_main`] (child side): the binary re-executed with [`CHILD_ENV`] set. Before it reads a
//!   single input byte it locks itself down — parent-death signal, `no_new_privs`, a new user and
//!   network namespace where the kernel allows it, Landlock (no file-system access, no TCP) where
//!   the kernel has it, and rlimits (address space, CPU, no core files, no file writes, few
//!   descriptors) — then serves length-prefixed requests ([`protocol`]) on a thread with a large
//!   stack, catching panics.
//! - [`parse_in_process`]: the same contract without processes, for when the sandbox is disabled.
//!
//! Where the kernel refuses namespaces (no user namespaces for unprivileged users and not root,
//! or a seccomp profile forbidding `unshare`), the child keeps the worker's network: it logs that
//! once through the worker (see [`Isolation`]); Landlock still denies TCP on kernels ≥ 6.7, and the
//! rlimits always apply. Where Landlock is missing too, the child can read files the worker can
//! read, but cannot write a byte to any file (RLIMIT_FSIZE = 0).
//!
//! Why the lockdown runs at the top of `child_main` and not in a `pre_exec` hook: code between
//! `fork` and `exec` of a multi-threaded tokio process may only make async-signal-safe calls and
//! cannot report anything; after `exec` the child is a fresh single-threaded process that can call
//! `unshare(CLONE_NEWUSER)`, try fallbacks, and tell the parent exactly which layers took effect
//! (its first frame). The trust boundary is the input, not our own binary, and no input is read
//! before the lockdown is complete. It also lets std spawn children with `posix_spawn`.

mod budget;
mod child;
mod pool;
mod process;
pub(crate) mod protocol;
mod sys;
#[cfg(any(test, feature = "test-support"))]
mod test_parser;

pub use budget::{machine_memory_bytes, ParserBudget, MIN_CHILD_BYTES};
pub use child::{child_main, child_main_with};
pub use pool::{parse_in_process, ParserPool, PoolStats, SandboxOptions};
pub use sys::NetIsolation;

use crate::pipeline::model::{FileRecord, FileWarning, Language};
use serde::{Deserialize, Serialize};

/// A parser: path and raw bytes in, record out. Pure; may panic, loop or abort on hostile input,
/// which is what the sandbox is for.
pub type ParseFn = fn(&str, &[u8]) -> FileRecord;

/// Environment variable that turns the `provis` binary into a parser child; `main` checks it
/// before parsing the command line.
pub const CHILD_ENV: &str = "PROVIS_PARSER_CHILD";
/// Set to `1` in a child's environment (only through [`SandboxOptions::child_env`]) to make it
/// run the misbehaving test parser instead of the real one. Children start with a cleared
/// environment, so setting this on a worker has no effect.
pub const TEST_PARSER_ENV: &str = "PROVIS_SANDBOX_TEST_PARSER";
/// Test parser mode only: comma list of best-effort layers the child skips (`namespaces`,
/// `landlock`), so tests can check the fallbacks of kernels that lack them. Ignored unless
/// [`TEST_PARSER_ENV`] is `1`.
pub const WEAKEN_ENV: &str = "PROVIS_SANDBOX_TEST_WEAKEN";
/// Child environment: pid of the worker, checked after the parent-death signal is armed.
pub(crate) const PARENT_PID_ENV: &str = "PROVIS_PARSER_PARENT_PID";
/// Child environment: RLIMIT_AS in bytes.
pub(crate) const MEMORY_LIMIT_ENV: &str = "PROVIS_PARSER_MEMORY_LIMIT";
/// Child environment: RLIMIT_CPU soft limit in seconds.
pub(crate) const CPU_LIMIT_ENV: &str = "PROVIS_PARSER_CPU_LIMIT_S";
/// Child environment: stack size of the parse thread in bytes.
pub(crate) const STACK_ENV: &str = "PROVIS_PARSER_STACK_BYTES";

/// Histogram of the wall time of one file in a parser child (request sent → reply read), in
/// milliseconds, failures included (the name lives with the others in `telemetry::metrics`).
pub const NODE_PARSE_MS: &str = crate::telemetry::metrics::NODE_PARSE_MS;
/// Warning code of a file whose parse ran out of time (per file or per batch).
pub const PARSE_TIMEOUT: &str = "parse_timeout";
/// Warning code of a file whose parser panicked or whose child died.
pub const PARSE_CRASH: &str = "parse_crash";

/// Which isolation layers a parser child managed to put in place; each child reports this in
/// its first frame, and [`PoolStats::isolation`] keeps the latest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Isolation {
    /// Namespace isolation of the network.
    pub network: NetIsolation,
    /// Landlock ABI the child restricted itself with (0 = no Landlock applied).
    pub landlock_abi: u32,
    /// Landlock denies every file-system access.
    pub fs_denied: bool,
    /// Landlock denies TCP bind and connect.
    pub tcp_denied: bool,
}

impl Isolation {
    /// True when the child cannot reach the network through either namespaces or Landlock (TCP).
    pub fn network_blocked(&self) -> bool {
        self.network != NetIsolation::None || self.tcp_denied
    }
}

/// What went wrong talking to or setting up a parser child. Callers of [`ParserPool`] never see
/// these: they become `parse_crash`/`parse_timeout` records; they appear in logs and messages.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// Pipe I/O with the child failed (usually: the child died).
    #[error("parser child i/o: {0}")]
    Io(#[from] std::io::Error),
    /// A frame did not parse as the expected JSON.
    #[error("parser child protocol: {0}")]
    Json(#[from] serde_json::Error),
    /// A frame announced more bytes than allowed.
    #[error("frame of {size} bytes is over the limit")]
    FrameTooLarge {
        /// Announced size.
        size: u64,
    },
    /// The child answered for another file than the one asked.
    #[error("parser child answered for {got:?} instead of {expected:?}")]
    WrongFile {
        /// Path sent.
        expected: String,
        /// Path in the reply.
        got: String,
    },
    /// The child could not be started.
    #[error("cannot start parser child {exe}: {source}")]
    Spawn {
        /// Executable path.
        exe: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// No tokio runtime around a call that needs one.
    #[error("the parser pool must be used inside a tokio runtime")]
    NoRuntime,
    /// A mandatory lockdown step failed in the child.
    #[error("parser child lockdown failed at {step}: {source}")]
    Lockdown {
        /// Which step.
        step: &'static str,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The child died or stopped answering; the detail says how (signal, exit code, stderr).
    #[error("the parser child died: {detail}")]
    ChildDied {
        /// Exit status and the last lines of the child's stderr.
        detail: String,
    },
    /// The worker that started this child is already gone.
    #[error("the worker that started this parser child is gone")]
    ParentGone,
}

/// Language and extension of a path, as the records name them (`d.ts` for declaration files).
/// Used for records the sandbox writes itself (timeouts, crashes) and by [`identity_record`].
pub fn language_of(path: &str) -> (Language, String) {
    let name = path.rsplit('/').next().unwrap_or(path);
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".d.ts") {
        return (Language::Ts, "d.ts".to_string());
    }
    let ext = match lower.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => ext.to_string(),
        _ => String::new(),
    };
    let language = match ext.as_str() {
        "js" | "mjs" | "cjs" | "jsx" => Language::Js,
        "ts" | "mts" | "cts" | "tsx" => Language::Ts,
        "py" | "pyi" => Language::Py,
        _ => Language::Other,
    };
    (language, ext)
}

/// The record of a file with only its identity (language, size, lines, hash) filled in: what
/// the child returns until the real parser dispatch is wired in (see `child::PRODUCTION_PARSER`).
pub fn identity_record(path: &str, bytes: &[u8]) -> FileRecord {
    let (language, ext) = language_of(path);
    FileRecord::new(path, language, &ext, bytes)
}

/// A record for a file that could not be parsed: identity fields, `skipped` with `code` as the
/// reason, and one warning.
pub fn failure_record(path: &str, bytes: &[u8], code: &str, message: String) -> FileRecord {
    let mut record = identity_record(path, bytes);
    record.skipped = true;
    record.skip_reason = Some(code.to_string());
    record.warnings.push(FileWarning {
        code: code.to_string(),
        message,
    });
    record
}

/// The text of a panic payload (`panic!("…")` carries a `&str` or a `String`).
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_and_extensions() {
        let cases = [
            ("a/b.ts", Language::Ts, "ts"),
            ("types/x.d.ts", Language::Ts, "d.ts"),
            ("App.TSX", Language::Ts, "tsx"),
            ("m.cjs", Language::Js, "cjs"),
            ("pkg/__init__.py", Language::Py, "py"),
            ("stubs.pyi", Language::Py, "pyi"),
            (".eslintrc", Language::Other, ""),
            ("Makefile", Language::Other, ""),
            ("data.json", Language::Other, "json"),
        ];
        for (path, lang, ext) in cases {
            assert_eq!(language_of(path), (lang, ext.to_string()), "{path}");
        }
    }

    #[test]
    fn failure_record_is_skipped_with_one_warning() {
        let r = failure_record("x.js", b"a\nb", PARSE_CRASH, "boom".into());
        assert!(r.skipped);
        assert_eq!(r.skip_reason.as_deref(), Some(PARSE_CRASH));
        assert_eq!(r.warnings.len(), 1);
        assert_eq!(r.warnings[0].code, PARSE_CRASH);
        assert_eq!((r.size, r.lines), (3, 2));
    }
}
