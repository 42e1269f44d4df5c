//! What a process asks of its own host: its name and whether another process still runs.
//!
//! The queue names workers after the host (as RQ does) and reclaims the work of a dead local
//! worker; the scratch space removes folders of dead local processes. Both ask the same two
//! questions, so the answers (and their two `libc` calls) live here once.

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
