//! What a process asks of its own host: its name, whether another process still runs, and how
//! its memory allocator behaves.
//!
//! The queue names workers after the host (as RQ does) and reclaims the work of a dead local
//! worker; the scratch space removes folders of dead local processes. Both ask the same two
//! questions, so the answers (and their `libc` calls) live here once, with the two allocator
//! settings the process makes.

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

/// Arenas glibc's allocator may create, unless `MALLOC_ARENA_MAX` says otherwise.
pub const MALLOC_ARENAS: i32 = 2;

/// Caps glibc's allocator at [`MALLOC_ARENAS`] arenas, unless the environment sets
/// `MALLOC_ARENA_MAX` (glibc reads it itself). Call first thing in `main`.
///
/// By default glibc gives threads up to eight arenas per core. The parse batches decode their
/// records on whichever blocking thread runs them, so a job's records end up spread over many
/// arenas, each with its own free holes. Measured with `analyze` on a 53.6k-file monorepo
/// (docs/operations.md#memory): peak RSS of the process tree 912 MB with the default,
/// 651 MB with two arenas, 632 MB with one, and no measurable change in time. With jemalloc
/// or mimalloc (background purging) it was 750 and 759 MB.
/// Elsewhere (other C libraries) this does nothing.
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

/// Gives the heap memory freed by a finished job back to the operating system.
///
/// glibc's allocator keeps freed memory in its arenas for reuse, so after a 50k-file job an idle
/// worker stayed at its peak (over 1 GB) until the next job; trimming returns it at once.
/// Elsewhere (other C libraries, other allocators) this does nothing.
#[allow(unsafe_code)] // one libc call; see SAFETY below
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim takes an integer and only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
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
