//! The worker side: a bounded, reusable set of parser children, and the in-process fallback.

use super::process::{BatchFiles, ChildProc, Spawner};
use super::{
    failure_record, panic_message, Isolation, NetIsolation, ParseFn, SandboxError, CHILD_ENV,
    CPU_LIMIT_ENV, MEMORY_LIMIT_ENV, NODE_PARSE_MS, PARENT_PID_ENV, PARSE_CRASH, PARSE_TIMEOUT,
    STACK_ENV,
};
use crate::config::Config;
use crate::pipeline::encoded::EncodedRecord;
use crate::pipeline::model::FileRecord;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::process::Command;
use tokio::sync::Semaphore;
use tokio::time::{timeout_at, Instant};

/// Files queued to one child at once (the one it parses and those waiting in its pipe). With
/// 4, a child often finished its queue before the worker (busy with the other batches' files,
/// packs and events) came back to refill it; with 16 the cold 53.6k-file job ran 0.5–1.1 s
/// faster in five interleaved pairs. The pipe (1 MiB) holds that many typical files.
const AHEAD: usize = 16;
/// Largest stack given to a parse thread.
const MAX_PARSE_STACK: u64 = 256 << 20;
/// Smallest stack given to a parse thread.
const MIN_PARSE_STACK: u64 = 8 << 20;
/// Stack of the in-process parse thread (reserved address space, not memory).
const IN_PROCESS_STACK: usize = 256 << 20;

/// `start + d`, saturating at a year for absurd settings instead of overflowing.
fn after(start: Instant, d: Duration) -> Instant {
    start
        .checked_add(d)
        .unwrap_or_else(|| start + Duration::from_secs(365 * 24 * 3600))
}

/// Stack size of the parse thread for a given address-space limit: a quarter of it, between
/// 8 MiB and 256 MiB (the stack is reserved address space, so it must fit under RLIMIT_AS).
pub(crate) fn stack_bytes_for(memory_limit: u64) -> usize {
    let bytes = (memory_limit / 4).clamp(MIN_PARSE_STACK, MAX_PARSE_STACK);
    usize::try_from(bytes).unwrap_or(MIN_PARSE_STACK as usize)
}

/// How a [`ParserPool`] runs parsers. Build it with [`SandboxOptions::from_config`] (or
/// `Default`) and adjust fields.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// Run parsers in child processes. When false, [`ParserPool::parse_batch`] parses in-process
    /// (no timeouts, no isolation — a parser that overflows its stack takes the worker down).
    pub enabled: bool,
    /// Most children alive at once for this pool (`NODE_SUBPROC_CONCURRENCY`); at least 1.
    pub concurrency: usize,
    /// Wall time one file may take (`NODE_FILE_TIMEOUT_S`).
    pub file_timeout: Duration,
    /// Wall time one batch may take (`NODE_BATCH_TIMEOUT_S`).
    pub batch_timeout: Duration,
    /// RLIMIT_AS of each child; allocation beyond it aborts the child (`parse_crash`).
    pub memory_limit_bytes: u64,
    /// RLIMIT_CPU of each child over its whole life; a child is retired before it could reach it.
    pub cpu_limit: Duration,
    /// A child is replaced after this many files, to bound what a leaky parser accumulates.
    pub max_files_per_child: u32,
    /// The `provis` binary to re-execute as a child.
    pub exe: PathBuf,
    /// Extra environment for children (their environment is otherwise cleared, so no secret of
    /// the worker is visible to a parser). Tests put `PROVIS_SANDBOX_TEST_PARSER=1` here.
    pub child_env: Vec<(String, String)>,
    /// Parser used when `enabled` is false.
    pub in_process_parser: ParseFn,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        Self {
            enabled: true,
            concurrency: 2,
            file_timeout: Duration::from_secs(20),
            batch_timeout: Duration::from_secs(120),
            memory_limit_bytes: 2 << 30,
            cpu_limit: Duration::from_secs(600),
            max_files_per_child: 5_000,
            exe: std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/proc/self/exe")),
            child_env: Vec::new(),
            in_process_parser: super::child::PRODUCTION_PARSER,
        }
    }
}

impl SandboxOptions {
    /// Options from the `NODE_*` and `PARSER_*` settings; the rest keep their defaults. The
    /// number of children and each one's memory limit come from one budget
    /// (`PARSER_MEMORY_MB`, see [`ParserBudget`](super::ParserBudget)).
    pub fn from_config(cfg: &Config) -> Self {
        let file_timeout = Duration::from_secs(cfg.node_file_timeout_s);
        let budget = super::ParserBudget::for_this_machine(
            cfg.parser_memory_mb,
            cfg.node_subproc_concurrency,
        );
        Self {
            enabled: cfg.parser_sandbox,
            concurrency: budget.children,
            memory_limit_bytes: budget.per_child_bytes,
            file_timeout,
            batch_timeout: Duration::from_secs(cfg.node_batch_timeout_s),
            cpu_limit: Duration::from_secs(600).max(file_timeout * 10),
            ..Self::default()
        }
    }
}

/// Counters of a pool, for tests, logs and health checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolStats {
    /// Children started so far.
    pub spawned: u64,
    /// Children alive now (busy or idle).
    pub live: usize,
    /// Most children alive at the same time so far (never above `concurrency`).
    pub max_live: usize,
    /// Children that died under a file (each such file is a `parse_crash`).
    pub crashes: u64,
    /// Files recorded as `parse_timeout` (per file or per batch).
    pub timeouts: u64,
    /// Healthy children retired (file count or CPU budget reached).
    pub retired: u64,
    /// Isolation reported by the most recently started child.
    pub isolation: Option<Isolation>,
}

#[derive(Default)]
struct Counters {
    spawned: AtomicU64,
    live: Arc<AtomicUsize>,
    max_live: AtomicUsize,
    crashes: AtomicU64,
    timeouts: AtomicU64,
    retired: AtomicU64,
    isolation: Mutex<Option<Isolation>>,
    warned: AtomicBool,
}

/// Parses batches of files in sandboxed child processes (see the [module docs](super)).
///
/// One pool per worker; share it (`Arc`) between concurrent jobs of that worker so the
/// concurrency cap holds across them. Dropping the pool kills its children.
pub struct ParserPool {
    opts: SandboxOptions,
    permits: Semaphore,
    idle: Mutex<Vec<ChildProc>>,
    counters: Counters,
    spawner: Spawner,
}

/// Why a file's time ran out.
#[derive(Clone, Copy)]
enum Deadline {
    File,
    Batch,
}

impl ParserPool {
    /// A pool with no children yet; they start on demand.
    pub fn new(mut opts: SandboxOptions) -> Result<Self, SandboxError> {
        opts.concurrency = opts.concurrency.max(1);
        let spawner = Spawner::start().map_err(|source| SandboxError::Spawn {
            exe: "provis-parser-spawn thread".to_string(),
            source,
        })?;
        Ok(Self {
            permits: Semaphore::new(opts.concurrency),
            idle: Mutex::new(Vec::new()),
            counters: Counters::default(),
            spawner,
            opts,
        })
    }

    /// The options this pool runs with.
    pub fn options(&self) -> &SandboxOptions {
        &self.opts
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> PoolStats {
        let c = &self.counters;
        PoolStats {
            spawned: c.spawned.load(Ordering::SeqCst),
            live: c.live.load(Ordering::SeqCst),
            max_live: c.max_live.load(Ordering::SeqCst),
            crashes: c.crashes.load(Ordering::SeqCst),
            timeouts: c.timeouts.load(Ordering::SeqCst),
            retired: c.retired.load(Ordering::SeqCst),
            isolation: *c.isolation.lock().unwrap_or_else(PoisonError::into_inner),
        }
    }

    /// Parses `files` (path, content) and returns one record per file, in the same order.
    ///
    /// Never fails: a file that times out is a `parse_timeout` record, one whose child died is a
    /// `parse_crash` record (both `skipped`, with the reason), and the other files are parsed.
    /// Files not reached before the batch timeout are `parse_timeout` records too.
    ///
    /// The records come as the JSON the child wrote (see [`crate::pipeline::encoded`]).
    pub async fn parse_batch(&self, files: Vec<(String, Vec<u8>)>) -> Vec<EncodedRecord> {
        if files.is_empty() {
            return Vec::new();
        }
        if !self.opts.enabled {
            return self.parse_batch_in_process(files).await;
        }
        let started = Instant::now();
        let deadline = after(started, self.opts.batch_timeout);
        let next = AtomicUsize::new(0);
        let slots = self.opts.concurrency.min(files.len());
        let files: BatchFiles = Arc::new(files);
        let done = futures_util::future::join_all(
            (0..slots).map(|_| self.run_slot(&files, &next, deadline)),
        )
        .await;
        let mut records: Vec<Option<EncodedRecord>> = vec![None; files.len()];
        for (index, record) in done.into_iter().flatten() {
            records[index] = Some(record);
        }
        let mut unreached = 0u64;
        let records: Vec<EncodedRecord> = records
            .into_iter()
            .zip(files.iter())
            .map(|(record, (path, bytes))| {
                record.unwrap_or_else(|| {
                    unreached += 1;
                    encoded_failure(
                        path,
                        bytes,
                        PARSE_TIMEOUT,
                        format!(
                            "the parse batch ran out of time (NODE_BATCH_TIMEOUT_S = {:?}) \
                             before this file was parsed",
                            self.opts.batch_timeout
                        ),
                    )
                })
            })
            .collect();
        self.counters
            .timeouts
            .fetch_add(unreached, Ordering::SeqCst);
        tracing::info!(
            files = files.len(),
            unreached,
            duration_ms = started.elapsed().as_millis() as u64,
            "parse batch done"
        );
        records
    }

    /// One lane of a batch: holds a concurrency permit and (at most) one child, and takes files
    /// from the shared cursor until none are left or the batch is out of time. Up to
    /// [`AHEAD`] files are queued to the child at once, so it goes from one file to the next
    /// without waiting for the worker; a file's own time starts when the one before it is
    /// answered. When the child dies or times out on a file, that file alone is the failure:
    /// the files queued behind it go to a fresh child.
    async fn run_slot(
        &self,
        files: &BatchFiles,
        next: &AtomicUsize,
        deadline: Instant,
    ) -> Vec<(usize, EncodedRecord)> {
        let mut done = Vec::new();
        let Ok(Ok(_permit)) = timeout_at(deadline, self.permits.acquire()).await else {
            return done;
        };
        let mut slot = self.take_idle();
        let mut queued: VecDeque<usize> = VecDeque::new();
        let mut again: VecDeque<usize> = VecDeque::new();
        let mut front_since = Instant::now();
        'files: while Instant::now() < deadline {
            while queued.len() < AHEAD {
                let index = match again.pop_front() {
                    Some(index) => index,
                    None => match next.fetch_add(1, Ordering::SeqCst) {
                        i if i < files.len() => i,
                        _ => break,
                    },
                };
                if slot.is_none() {
                    match timeout_at(deadline, self.start_child()).await {
                        Ok(Ok(child)) => slot = Some(child),
                        Ok(Err(error)) => {
                            let (path, bytes) = &files[index];
                            done.push((index, self.crashed(path, bytes, error.to_string())));
                            continue;
                        }
                        Err(_) => {
                            again.push_front(index);
                            break 'files;
                        }
                    }
                }
                let Some(child) = slot.as_ref() else { break };
                if queued.is_empty() {
                    front_since = Instant::now();
                }
                if child.send(files, index).is_err() {
                    // The writer is gone: the child died; the read below says how.
                    again.push_front(index);
                    break;
                }
                queued.push_back(index);
            }
            let (Some(&index), Some(child)) = (queued.front(), slot.as_mut()) else {
                break;
            };
            let (path, bytes) = &files[index];
            let file_deadline = after(front_since, self.opts.file_timeout);
            let (until, why) = if deadline < file_deadline {
                (deadline, Deadline::Batch)
            } else {
                (file_deadline, Deadline::File)
            };
            let outcome = timeout_at(until, child.recv(path)).await;
            metrics::histogram!(NODE_PARSE_MS).record(front_since.elapsed().as_secs_f64() * 1000.0);
            queued.pop_front();
            front_since = Instant::now();
            match outcome {
                Ok(Ok(reply)) => {
                    done.push((index, reply.record));
                    if self.spent(&slot, reply.cpu_ms) {
                        again.extend(queued.drain(..));
                        self.retire(&mut slot, reply.cpu_ms).await;
                    }
                }
                Ok(Err(error)) => {
                    let detail = match slot.take() {
                        Some(child) => child.death_report(&error).await,
                        None => error.to_string(),
                    };
                    again.extend(queued.drain(..));
                    done.push((index, self.crashed(path, bytes, detail)));
                }
                Err(_elapsed) => {
                    let pid = slot.as_ref().map(|c| c.pid);
                    if let Some(child) = slot.take() {
                        child.kill().await;
                    }
                    again.extend(queued.drain(..));
                    done.push((index, self.timed_out(path, bytes, why, pid)));
                }
            }
        }
        if let Some(child) = slot {
            if queued.is_empty() {
                self.idle
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(child);
            } else {
                child.kill().await;
            }
        }
        done
    }

    /// Starts children ahead of a job's first batch, up to the concurrency cap, and parks them
    /// idle; returns how many it started. A child takes a few milliseconds to start: started
    /// while discovery runs, the first batches do not wait for them. Each one is started under
    /// a permit taken without waiting, so a batch already parsing is never held up, and the
    /// pool never holds more children than its cap.
    pub async fn prewarm(&self) -> usize {
        if !self.opts.enabled {
            return 0;
        }
        let permits: Vec<_> = (0..self.opts.concurrency)
            .map_while(|_| self.permits.try_acquire().ok())
            .collect();
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        let wanted = permits.len().saturating_sub(idle);
        let started = futures_util::future::join_all((0..wanted).map(|_| self.start_child())).await;
        let mut n = 0;
        for child in started.into_iter().flatten() {
            self.idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(child);
            n += 1;
        }
        drop(permits);
        n
    }

    /// Stops every idle child and returns how many. A worker calls it when a job's parsing is
    /// over: an idle child keeps its heap (15–20 MB each after 50k files) through the rest of
    /// the job and while the worker waits for the next one, which starts children on demand.
    /// Busy children (another job's batches) are left alone.
    pub async fn release_idle(&self) -> usize {
        let idle = std::mem::take(&mut *self.idle.lock().unwrap_or_else(PoisonError::into_inner));
        let n = idle.len();
        for child in idle {
            child.kill().await;
        }
        n
    }

    /// A reusable idle child, dropping (and so killing) any that exited while idle.
    fn take_idle(&self) -> Option<ChildProc> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some(mut child) = idle.pop() {
            if !child.has_exited() {
                return Some(child);
            }
        }
        None
    }

    /// The `parse_crash` record of a file whose child died (`detail` says how).
    fn crashed(&self, path: &str, bytes: &[u8], detail: String) -> EncodedRecord {
        self.counters.crashes.fetch_add(1, Ordering::SeqCst);
        tracing::warn!(path, detail = %detail, "parser child failed; file recorded as parse_crash, child replaced");
        encoded_failure(
            path,
            bytes,
            PARSE_CRASH,
            format!("the parser child died: {detail}"),
        )
    }

    /// The `parse_timeout` record of a file whose child was killed for taking too long.
    fn timed_out(
        &self,
        path: &str,
        bytes: &[u8],
        why: Deadline,
        pid: Option<u32>,
    ) -> EncodedRecord {
        self.counters.timeouts.fetch_add(1, Ordering::SeqCst);
        let message = match why {
            Deadline::File => format!(
                "parsing took longer than NODE_FILE_TIMEOUT_S = {:?}; the parser child \
                 was killed",
                self.opts.file_timeout
            ),
            Deadline::Batch => format!(
                "the parse batch ran out of time (NODE_BATCH_TIMEOUT_S = {:?}) while \
                 this file was being parsed; the parser child was killed",
                self.opts.batch_timeout
            ),
        };
        tracing::warn!(path, child_pid = pid, "{message}");
        encoded_failure(path, bytes, PARSE_TIMEOUT, message)
    }

    /// Whether the slot's healthy child reached its file count or is near its CPU limit.
    fn spent(&self, slot: &Option<ChildProc>, cpu_ms: u64) -> bool {
        let budget_ms = self.opts.cpu_limit.as_millis() as u64;
        let reserve_ms = self.opts.file_timeout.as_millis() as u64;
        slot.as_ref().is_some_and(|c| {
            c.files >= self.opts.max_files_per_child || cpu_ms + reserve_ms >= budget_ms
        })
    }

    /// Retires the slot's child (it is [`spent`](Self::spent)).
    async fn retire(&self, slot: &mut Option<ChildProc>, cpu_ms: u64) {
        if let Some(child) = slot.take() {
            tracing::debug!(
                child_pid = child.pid,
                files = child.files,
                cpu_ms,
                "retiring parser child"
            );
            child.kill().await;
            self.counters.retired.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Starts one child with a cleared environment and the limits of the options.
    async fn start_child(&self) -> Result<ChildProc, SandboxError> {
        let mut command = Command::new(&self.opts.exe);
        command
            .env_clear()
            .env(CHILD_ENV, "1")
            .env(PARENT_PID_ENV, std::process::id().to_string())
            .env(MEMORY_LIMIT_ENV, self.opts.memory_limit_bytes.to_string())
            .env(
                CPU_LIMIT_ENV,
                self.opts.cpu_limit.as_secs().max(1).to_string(),
            )
            .env(
                STACK_ENV,
                stack_bytes_for(self.opts.memory_limit_bytes).to_string(),
            )
            .envs(self.opts.child_env.iter().map(|(k, v)| (k, v)))
            .current_dir("/")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let exe = self.opts.exe.display().to_string();
        let (child, isolation) = ChildProc::start(
            &self.spawner,
            command,
            &exe,
            Arc::clone(&self.counters.live),
        )
        .await?;
        let c = &self.counters;
        c.spawned.fetch_add(1, Ordering::SeqCst);
        c.max_live
            .fetch_max(c.live.load(Ordering::SeqCst), Ordering::SeqCst);
        *c.isolation.lock().unwrap_or_else(PoisonError::into_inner) = Some(isolation);
        self.warn_once(&isolation);
        tracing::debug!(child_pid = child.pid, ?isolation, "parser child started");
        Ok(child)
    }

    /// Logs, once per pool, which isolation layers the kernel refused.
    fn warn_once(&self, isolation: &Isolation) {
        let weak = isolation.network == NetIsolation::None || !isolation.fs_denied;
        if !weak || self.counters.warned.swap(true, Ordering::SeqCst) {
            return;
        }
        if isolation.network == NetIsolation::None {
            tracing::warn!(
                tcp_denied = isolation.tcp_denied,
                "parser children share the worker's network: the kernel refused new user and \
                 network namespaces; Landlock denies TCP only when tcp_denied is true; rlimits \
                 still apply"
            );
        }
        if !isolation.fs_denied {
            tracing::warn!(
                landlock_abi = isolation.landlock_abi,
                "no Landlock on this kernel: parser children can read what the worker can read; \
                 RLIMIT_FSIZE=0 still stops every file write"
            );
        }
    }

    async fn parse_batch_in_process(&self, files: Vec<(String, Vec<u8>)>) -> Vec<EncodedRecord> {
        let parse = self.opts.in_process_parser;
        let files = Arc::new(files);
        let shared = Arc::clone(&files);
        let parsed = tokio::task::spawn_blocking(move || {
            let records = parse_in_process(&shared, parse);
            records.iter().map(EncodedRecord::encode).collect()
        });
        match parsed.await {
            Ok(records) => records,
            Err(e) => files
                .iter()
                .map(|(path, bytes)| {
                    encoded_failure(
                        path,
                        bytes,
                        PARSE_CRASH,
                        format!("in-process parsing failed: {e}"),
                    )
                })
                .collect(),
        }
    }
}

/// A failure record (`parse_timeout`, `parse_crash`), encoded.
fn encoded_failure(path: &str, bytes: &[u8], code: &str, message: String) -> EncodedRecord {
    EncodedRecord::encode(&failure_record(path, bytes, code, message))
}

/// Parses `files` in this process, in order, on a thread with a large stack, turning panics into
/// `parse_crash` records. The fallback when the sandbox is disabled: no timeouts (a thread cannot
/// be killed) and no isolation — a stack overflow or abort takes the whole process down.
pub fn parse_in_process(files: &[(String, Vec<u8>)], parse: ParseFn) -> Vec<FileRecord> {
    let work = move || parse_all(files, parse);
    std::thread::scope(|scope| {
        match std::thread::Builder::new()
            .name("provis-parse".to_string())
            .stack_size(IN_PROCESS_STACK)
            .spawn_scoped(scope, work)
        {
            Ok(handle) => handle.join().unwrap_or_else(|payload| {
                let why = panic_message(payload.as_ref());
                files
                    .iter()
                    .map(|(p, b)| failure_record(p, b, PARSE_CRASH, why.clone()))
                    .collect()
            }),
            // Not enough address space for a big stack: parse on the caller's stack.
            Err(_) => work(),
        }
    })
}

fn parse_all(files: &[(String, Vec<u8>)], parse: ParseFn) -> Vec<FileRecord> {
    files
        .iter()
        .map(|(path, bytes)| {
            let started = std::time::Instant::now();
            let record =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parse(path, bytes)))
                    .unwrap_or_else(|payload| {
                        failure_record(
                            path,
                            bytes,
                            PARSE_CRASH,
                            format!("the parser panicked: {}", panic_message(payload.as_ref())),
                        )
                    });
            metrics::histogram!(NODE_PARSE_MS).record(started.elapsed().as_secs_f64() * 1000.0);
            record
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_fits_under_the_memory_limit() {
        assert_eq!(stack_bytes_for(2 << 30), 256 << 20);
        assert_eq!(stack_bytes_for(256 << 20), 64 << 20);
        assert_eq!(stack_bytes_for(1 << 20), 8 << 20);
    }

    fn panicky(path: &str, bytes: &[u8]) -> FileRecord {
        if bytes == b"panic" {
            panic!("asked to panic on {path}");
        }
        super::super::identity_record(path, bytes)
    }

    #[test]
    fn in_process_keeps_order_and_contains_panics() {
        let files = vec![
            ("a.js".to_string(), b"1".to_vec()),
            ("b.py".to_string(), b"panic".to_vec()),
            ("c.ts".to_string(), b"3".to_vec()),
        ];
        let records = parse_in_process(&files, panicky);
        let paths: Vec<_> = records.iter().map(|r| r.path.as_str()).collect();
        assert_eq!(paths, ["a.js", "b.py", "c.ts"]);
        assert!(records[0].warnings.is_empty());
        assert_eq!(records[1].warnings[0].code, PARSE_CRASH);
        assert!(records[1].warnings[0]
            .message
            .contains("asked to panic on b.py"));
        assert!(!records[2].skipped);
    }
}
