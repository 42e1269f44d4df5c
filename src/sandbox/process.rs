//! One parser child as the worker sees it: spawning, talking, killing, and explaining a death.

use super::protocol::{self, Reply, MAX_HELLO_BYTES, MAX_REPLY_BYTES};
use super::{Isolation, SandboxError};
use std::collections::VecDeque;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command};
use tokio::runtime::Handle;
use tokio::sync::mpsc as mpsc_async;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Longest stderr line kept (longer lines are cut).
const MAX_STDERR_LINE: u64 = 2048;
/// Stderr lines logged per child; the rest are only kept in the tail.
const MAX_STDERR_LOGGED: usize = 200;
/// Stderr lines quoted in a crash message.
const STDERR_TAIL: usize = 3;
/// How long to wait for a dying child to be reaped before giving up on its status.
const REAP_WAIT: Duration = Duration::from_secs(5);
/// How long to wait for the rest of a dead child's stderr.
const STDERR_WAIT: Duration = Duration::from_secs(1);

/// Starts children from one long-lived thread.
///
/// `PR_SET_PDEATHSIG` fires when the *thread* that forked the child exits, not the process. Tokio
/// may call `spawn` from a blocking-pool thread that exits after 10 s idle, which would kill a
/// healthy child mid-parse. This thread lives exactly as long as the pool, so the children die
/// with the pool or the worker process, and never earlier.
pub(super) struct Spawner {
    jobs: mpsc::Sender<SpawnJob>,
}

struct SpawnJob {
    command: Command,
    runtime: Handle,
    reply: oneshot::Sender<io::Result<Child>>,
}

impl Spawner {
    /// Starts the spawner thread.
    pub(super) fn start() -> io::Result<Self> {
        let (jobs, queue) = mpsc::channel::<SpawnJob>();
        std::thread::Builder::new()
            .name("provis-parser-spawn".to_string())
            .spawn(move || {
                while let Ok(mut job) = queue.recv() {
                    // The child's pipes and reaping belong to the caller's runtime.
                    let _entered = job.runtime.enter();
                    let _ = job.reply.send(job.command.spawn());
                }
            })?;
        Ok(Self { jobs })
    }

    /// Spawns `command` on the spawner thread, registering the child with the current runtime.
    async fn spawn(&self, command: Command) -> io::Result<Child> {
        let runtime = Handle::try_current().map_err(io::Error::other)?;
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(SpawnJob {
                command,
                runtime,
                reply,
            })
            .map_err(|_| io::Error::other("the parser spawner thread is gone"))?;
        answer
            .await
            .map_err(|_| io::Error::other("the parser spawner thread dropped the request"))?
    }
}

/// The files of one batch, shared by the slots and the children's writer tasks.
pub(super) type BatchFiles = Arc<Vec<(String, Vec<u8>)>>;

/// A running parser child with its pipes. Dropping it kills the process (`kill_on_drop`).
///
/// Requests go through a writer task that owns stdin, so the worker can queue the next files
/// while the child parses (the child never waits for a round trip) and a large request can
/// never deadlock against a large reply: one side always drains.
pub(super) struct ChildProc {
    child: Child,
    requests: mpsc_async::UnboundedSender<(BatchFiles, usize)>,
    writer: JoinHandle<()>,
    stdout: BufReader<ChildStdout>,
    /// OS pid, for logs and messages.
    pub(super) pid: u32,
    /// Files this child has answered.
    pub(super) files: u32,
    /// Forwards stderr to the log; yields the last lines when the pipe closes.
    stderr: Option<JoinHandle<VecDeque<String>>>,
    live: Arc<AtomicUsize>,
}

impl Drop for ChildProc {
    fn drop(&mut self) {
        self.writer.abort();
        self.live.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Writes queued requests to the child's stdin until the queue closes or the pipe breaks (the
/// reader then sees the child's death).
async fn write_requests(
    mut stdin: ChildStdin,
    mut queue: mpsc_async::UnboundedReceiver<(BatchFiles, usize)>,
) {
    while let Some((files, index)) = queue.recv().await {
        let Some((path, bytes)) = files.get(index) else {
            break;
        };
        if protocol::write_request(&mut stdin, path, bytes)
            .await
            .is_err()
        {
            break;
        }
    }
}

/// Bytes a widened pipe to a child holds: Linux's default `pipe-max-size`.
const PIPE_BYTES: usize = 1 << 20;

/// Widens a pipe to a child from Linux's default 64 KiB, so a batch's files (about 0.5 MB for
/// 50 files) go to the child in a few writes instead of a wake-up of each side every 64 KiB,
/// and the child finds its next file already there while the worker is busy elsewhere. Best
/// effort: a refusal (a lower `pipe-max-size`) leaves the pipe as it was.
fn widen_pipe(pipe: &impl std::os::fd::AsRawFd) {
    if let Err(e) = super::sys::set_pipe_size(pipe.as_raw_fd(), PIPE_BYTES) {
        tracing::debug!(error = %e, "parser pipe left at its default size");
    }
}

impl ChildProc {
    /// Spawns a child through `spawner`, counts it in `live` from that moment, and waits for
    /// its hello frame (the isolation it achieved).
    pub(super) async fn start(
        spawner: &Spawner,
        command: Command,
        exe: &str,
        live: Arc<AtomicUsize>,
    ) -> Result<(Self, Isolation), SandboxError> {
        let mut child = spawner
            .spawn(command)
            .await
            .map_err(|source| SandboxError::Spawn {
                exe: exe.to_string(),
                source,
            })?;
        live.fetch_add(1, Ordering::SeqCst);
        let pid = child.id().unwrap_or(0);
        let pipes = (child.stdin.take(), child.stdout.take(), child.stderr.take());
        let stderr = pipes.2.map(|e| tokio::spawn(forward_stderr(pid, e)));
        let (Some(stdin), Some(stdout)) = (pipes.0, pipes.1) else {
            // Invariant: the command always asks for piped stdin and stdout.
            let _ = child.start_kill();
            live.fetch_sub(1, Ordering::SeqCst);
            return Err(io::Error::other("parser child started without pipes").into());
        };
        widen_pipe(&stdin);
        widen_pipe(&stdout);
        let (requests, queue) = mpsc_async::unbounded_channel();
        let writer = tokio::spawn(write_requests(stdin, queue));
        let mut proc = Self {
            child,
            requests,
            writer,
            stdout: BufReader::new(stdout),
            pid,
            files: 0,
            stderr,
            live,
        };
        let hello = match protocol::read_frame(&mut proc.stdout, MAX_HELLO_BYTES).await {
            Ok(frame) => frame,
            Err(e) => {
                let detail = proc.death_report(&e).await;
                return Err(SandboxError::ChildDied { detail });
            }
        };
        let isolation: Isolation = serde_json::from_slice(&hello)?;
        Ok((proc, isolation))
    }

    /// True when the process has already exited (checked before reusing an idle child).
    pub(super) fn has_exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// Queues file `index` of `files` for the child (it answers in order).
    pub(super) fn send(&self, files: &BatchFiles, index: usize) -> Result<(), SandboxError> {
        self.requests
            .send((Arc::clone(files), index))
            .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe).into())
    }

    /// Reads the reply to the oldest queued file, which must be `path`; any error leaves the
    /// child unusable.
    pub(super) async fn recv(&mut self, path: &str) -> Result<Reply, SandboxError> {
        let frame = protocol::read_frame(&mut self.stdout, MAX_REPLY_BYTES).await?;
        let reply = protocol::decode_reply(frame)?;
        if reply.record.head.path != path {
            return Err(SandboxError::WrongFile {
                expected: path.to_string(),
                got: reply.record.head.path,
            });
        }
        self.files += 1;
        Ok(reply)
    }

    /// Kills the child and waits until it is reaped.
    pub(super) async fn kill(mut self) {
        let _ = self.child.kill().await;
    }

    /// After a failed exchange: makes sure the child is gone and says how it ended, with the
    /// last lines it wrote to stderr (a panic message, "has overflowed its stack",
    /// "memory allocation of … failed").
    pub(super) async fn death_report(mut self, error: &SandboxError) -> String {
        // If it is still alive (a protocol error rather than a death) it cannot be trusted either.
        // Killing an exited child does not change its recorded status.
        let _ = self.child.start_kill();
        let status = match tokio::time::timeout(REAP_WAIT, self.child.wait()).await {
            Ok(Ok(status)) => describe_status(status),
            Ok(Err(e)) => format!("exit status unknown ({e})"),
            Err(_) => "did not exit after SIGKILL".to_string(),
        };
        let tail = match self.stderr.take() {
            Some(task) => tokio::time::timeout(STDERR_WAIT, task)
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default(),
            None => VecDeque::new(),
        };
        let mut detail = format!("{status} ({error})");
        if !tail.is_empty() {
            detail.push_str("; stderr: ");
            detail.push_str(&Vec::from(tail).join(" | "));
        }
        detail
    }
}

/// "killed by signal 6 (SIGABRT)" or "exited with status 70".
fn describe_status(status: ExitStatus) -> String {
    if let Some(signal) = status.signal() {
        let name = match signal {
            libc::SIGABRT => "SIGABRT",
            libc::SIGSEGV => "SIGSEGV",
            libc::SIGBUS => "SIGBUS",
            libc::SIGILL => "SIGILL",
            libc::SIGKILL => "SIGKILL",
            libc::SIGXCPU => "SIGXCPU",
            libc::SIGXFSZ => "SIGXFSZ",
            libc::SIGSYS => "SIGSYS",
            _ => "?",
        };
        format!("killed by signal {signal} ({name})")
    } else {
        match status.code() {
            Some(code) => format!("exited with status {code}"),
            None => format!("ended with {status}"),
        }
    }
}

/// Logs each stderr line of a child as a structured event and returns the last lines at EOF.
async fn forward_stderr(pid: u32, stderr: ChildStderr) -> VecDeque<String> {
    let mut reader = BufReader::new(stderr);
    let mut tail = VecDeque::with_capacity(STDERR_TAIL);
    let mut logged = 0;
    loop {
        let mut buf = Vec::new();
        match (&mut reader)
            .take(MAX_STDERR_LINE)
            .read_until(b'\n', &mut buf)
            .await
        {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let line = String::from_utf8_lossy(&buf).trim_end().to_string();
        if line.is_empty() {
            continue;
        }
        if logged < MAX_STDERR_LOGGED {
            tracing::warn!(child_pid = pid, line = %line, "parser child stderr");
            logged += 1;
        }
        if tail.len() == STDERR_TAIL {
            tail.pop_front();
        }
        tail.push_back(line);
    }
    tail
}
