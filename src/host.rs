//! What a process asks of its own host: its name, whether another process still runs, and how
//! its memory allocator behaves.
//!
//! The queue names workers after the host (as RQ does) and reclaims the work of a dead local
//! worker; the scratch space removes folders of dead local processes. Both ask the same two
//! questions, so the answers (and their `libc` calls) live here once, with the settings the
//! process gives its allocators (jemalloc for Rust, glibc's for C code) and their purges.

/// The host name (RQ shows it next to the worker name); `unknown` when the call fails.
#[allow(unsafe_code)] // one libc call; see SAFETY below
pub fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates on success.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown".to_string();
    }
    let end = buf.iter().position(|&c| c == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// Whether a process with this pid exists on this host (`kill(pid, 0)`; `EPERM` means it
/// exists under another user). Pids ≤ 0 name process groups, never one process: false.
#[allow(unsafe_code)] // one libc call; see SAFETY below
pub fn process_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks that the process exists and may be signalled; nothing is sent.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// The settings the binary gives jemalloc, its allocator (`main.rs` exports them as jemalloc's
/// `malloc_conf`; `_RJEM_MALLOC_CONF` in the environment overrides them one by one), as a
/// NUL-terminated string.
///
/// `narenas:2`: by default jemalloc makes four arenas per core, and a job's records, decoded
/// by whichever thread is free, scatter over all of them with their free holes (the
/// 53.6k-file monorepo's `all-in-one` peaked at 618 MB with the default).
///
/// Background threads (which give unused pages back while the process is idle) are started by
/// [`start_allocator_threads`] in the server and CLI process only: a parser child must stay
/// single-threaded until it has entered its namespaces (`unshare` refuses a threaded process).
pub const JEMALLOC_CONF: &[u8] = b"narenas:2\0";

/// Arenas glibc's allocator may create, unless `MALLOC_ARENA_MAX` says otherwise. glibc's
/// allocator only serves C code now (the bundled SQLite); Rust allocates from jemalloc.
pub const MALLOC_ARENAS: i32 = 2;

/// Caps glibc's allocator at [`MALLOC_ARENAS`] arenas, unless the environment sets
/// `MALLOC_ARENA_MAX` (glibc reads it itself). Call first thing in `main`.
///
/// By default glibc gives threads up to eight arenas per core; the C libraries' few
/// allocations need no more than two. Elsewhere (other C libraries) this does nothing.
#[allow(unsafe_code)] // one libc call; see SAFETY below
pub fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt takes two integers and only changes the allocator's own settings.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, MALLOC_ARENAS);
        }
    }
}

/// Starts jemalloc's background threads, which give the pages a finished stage freed back to
/// the system after a while (`dirty_decay_ms`, 10 s) even when the process then sits idle.
/// Called by `main` in the server and CLI process, never in a parser child (see
/// [`JEMALLOC_CONF`]).
#[allow(unsafe_code)] // one jemalloc control call; see SAFETY below
pub fn start_allocator_threads() {
    let mut on = true;
    // SAFETY: the name is NUL-terminated; the new value points at a live bool of the size
    // given, the type jemalloc documents for `background_thread`. A refusal (a jemalloc built
    // without thread support) leaves the threads off, which only delays giving pages back.
    unsafe {
        tikv_jemalloc_sys::mallctl(
            c"background_thread".as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            (&mut on as *mut bool).cast(),
            std::mem::size_of::<bool>(),
        );
    }
}

/// Gives the heap memory a stage or a job freed back to the operating system at once: every
/// jemalloc arena's unused pages, and glibc's free lists (C code's heap).
///
/// Called where a stage has just freed a large amount (after merge's resolution, before
/// summarize, after the job): otherwise an idle worker would hold its peak until the
/// allocator's decay returns it, and the next stage's peak would stack on the freed pages.
#[allow(unsafe_code)] // libc and jemalloc control calls; see SAFETY below
pub fn release_free_memory() {
    // SAFETY: the name is a NUL-terminated string; "purge" reads and writes nothing through
    // the null pointers (MALLCTL_ARENAS_ALL = 4096 names every arena).
    unsafe {
        tikv_jemalloc_sys::mallctl(
            c"arena.4096.purge".as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        );
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes an integer and only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Bytes of a large file being written (a document or upload that is synced once complete)
/// after which their writeback is started (see [`start_writeback`]): files smaller than this
/// are synced at the end only, as before.
pub const WRITEBACK_EVERY: u64 = 8 << 20;

/// Asks the kernel to start writing `len` bytes of `file` from `offset` to its disk, without
/// waiting for them (`sync_file_range` with `SYNC_FILE_RANGE_WRITE`).
///
/// A large document written and then `fsync`ed leaves nearly all of its pages dirty until
/// the end, and the `fsync` then waits for them (180–200 ms for the 95 MB `files` of the
/// 53.6k-file monorepo on a disk writing 240 MB/s, with both cores idle; on one writing
/// 1.3 GB/s a whole re-upload's syncs waited about 40–60 ms either way). Started range by
/// range while the writer goes on, the writes overlap the serializing, and the final `fsync`
/// waits only for what the disk has not caught up with. Advice, not a promise: an error (a
/// filesystem without the call) changes nothing, since the `fsync` that follows is what
/// makes the bytes durable.
#[allow(unsafe_code)] // one libc call; see SAFETY below
pub fn start_writeback(file: &impl std::os::fd::AsFd, offset: u64, len: u64) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
            return;
        };
        // SAFETY: the descriptor is open for as long as `file` is borrowed; the call only
        // schedules writeback of that file's pages and touches no memory of this process.
        unsafe {
            libc::sync_file_range(
                file.as_fd().as_raw_fd(),
                offset,
                len,
                libc::SYNC_FILE_RANGE_WRITE,
            );
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (file, offset, len);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_group_pids_are_not() {
        assert!(process_alive(std::process::id() as i32));
        assert!(!process_alive(0));
        assert!(!process_alive(-1));
        assert!(!hostname().is_empty());
    }
}
