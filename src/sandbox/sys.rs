//! The only code of the sandbox that calls into libc: process limits, namespaces, Landlock,
//! pipe sizes.
//!
//! Every function is a safe wrapper around one or a few system calls, with its `unsafe` block and
//! SAFETY argument at the call. The parser child calls these at the top of its own `main` (after
//! `exec`, while it is still single-threaded), never between `fork` and `exec`, so nothing here has
//! to be async-signal-safe and errors can be reported normally. The one the worker calls,
//! [`set_pipe_size`], acts on its own ends of a running child's pipes.
#![allow(unsafe_code)]

use serde::{Deserialize, Serialize};
use std::io;

/// How the child is cut off from the network by namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NetIsolation {
    /// A new user namespace with a new network namespace inside it (unprivileged-friendly, and
    /// it also drops every capability the child had in the initial namespaces).
    UserAndNet,
    /// A new network namespace only (the parent was root, but user namespaces were refused).
    Net,
    /// The kernel refused both: the child shares the worker's network (Landlock may still deny
    /// TCP, and the rlimits still apply).
    None,
}

/// What Landlock managed to deny; all false when the kernel has no Landlock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct LandlockOutcome {
    /// Landlock ABI version of the running kernel (0 = unavailable).
    pub abi: u32,
    /// Every file-system access (read, write, create, remove, execute) is denied.
    pub fs_denied: bool,
    /// TCP bind and connect are denied (ABI 4+).
    pub tcp_denied: bool,
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Sets the capacity of the pipe `fd` to at least `bytes` (the worker's end of a pipe to a
/// parser child; see `process::widen_pipe`).
pub(crate) fn set_pipe_size(fd: std::os::fd::RawFd, bytes: usize) -> io::Result<()> {
    let bytes = libc::c_int::try_from(bytes).map_err(|_| io::ErrorKind::InvalidInput)?;
    // SAFETY: fcntl(F_SETPIPE_SZ) takes a descriptor and an integer and touches no memory; on
    // a descriptor that is not a pipe it fails with EBADF/EINVAL and changes nothing.
    let rc = unsafe { libc::fcntl(fd, libc::F_SETPIPE_SZ, bytes) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Asks the kernel to SIGKILL this process when the thread that spawned it exits.
pub(crate) fn set_parent_death_signal() -> io::Result<()> {
    // SAFETY: prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0) takes integers only and touches no memory.
    let rc = unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    };
    check(rc)
}

/// Makes `execve` unable to grant privileges (setuid bits, file capabilities) from now on; also
/// the precondition of Landlock for unprivileged processes.
pub(crate) fn set_no_new_privs() -> io::Result<()> {
    // SAFETY: prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) takes integers only and touches no memory.
    let rc = unsafe {
        libc::prctl(
            libc::PR_SET_NO_NEW_PRIVS,
            1 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    };
    check(rc)
}

/// Moves the process into a fresh network namespace (only a loopback interface, down), through
/// a new user namespace when allowed. Must run while the process is single-threaded.
pub(crate) fn unshare_network() -> NetIsolation {
    // SAFETY: unshare takes a flag word only; it changes this process's namespaces, no memory.
    if unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNET) } == 0 {
        return NetIsolation::UserAndNet;
    }
    // SAFETY: as above.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } == 0 {
        return NetIsolation::Net;
    }
    NetIsolation::None
}

/// Ignores SIGXFSZ so that a write past RLIMIT_FSIZE fails with EFBIG instead of killing.
pub(crate) fn ignore_file_size_signal() {
    // SAFETY: installs the predefined SIG_IGN disposition; no handler code of ours runs.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

/// A resource limit the child lowers.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Resource {
    /// Address space (RLIMIT_AS).
    AddressSpace,
    /// CPU seconds (RLIMIT_CPU): SIGXCPU at the soft limit, SIGKILL at the hard one.
    Cpu,
    /// Core file size (RLIMIT_CORE).
    Core,
    /// Largest file the process may write (RLIMIT_FSIZE).
    FileSize,
    /// Open file descriptors (RLIMIT_NOFILE).
    OpenFiles,
}

/// Lowers a resource limit to `soft`/`hard`, never above the current hard limit (raising it would
/// need privileges and is never what we want).
pub(crate) fn lower_limit(resource: Resource, soft: u64, hard: u64) -> io::Result<()> {
    let res = match resource {
        Resource::AddressSpace => libc::RLIMIT_AS,
        Resource::Cpu => libc::RLIMIT_CPU,
        Resource::Core => libc::RLIMIT_CORE,
        Resource::FileSize => libc::RLIMIT_FSIZE,
        Resource::OpenFiles => libc::RLIMIT_NOFILE,
    };
    let mut current = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes one rlimit through a pointer to a live local of that type.
    check(unsafe { libc::getrlimit(res, &mut current) })?;
    let hard = (hard as libc::rlim_t).min(current.rlim_max);
    let wanted = libc::rlimit {
        rlim_cur: (soft as libc::rlim_t).min(hard),
        rlim_max: hard,
    };
    // SAFETY: setrlimit reads one rlimit through a pointer to a live local of that type.
    check(unsafe { libc::setrlimit(res, &wanted) })
}

/// CPU time (user + system) this process has used so far, in milliseconds.
pub(crate) fn cpu_time_ms() -> u64 {
    // SAFETY: rusage is a plain C struct of integers, for which all-zero bytes are a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes one rusage through a pointer to a live local of that type.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return 0;
    }
    let ms = |t: libc::timeval| (t.tv_sec as u64) * 1000 + (t.tv_usec as u64) / 1000;
    ms(usage.ru_utime) + ms(usage.ru_stime)
}

/// `struct landlock_ruleset_attr` of the kernel UAPI (linux/landlock.h), ABI 6 layout. Older
/// kernels accept it because the fields they do not know are zero.
#[repr(C)]
struct RulesetAttr {
    handled_access_fs: u64,
    handled_access_net: u64,
    scoped: u64,
}

const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
/// EXECUTE … MAKE_SYM: the 13 file-system rights of ABI 1.
const FS_RIGHTS_ABI1: u64 = (1 << 13) - 1;
const FS_REFER: u64 = 1 << 13;
const FS_TRUNCATE: u64 = 1 << 14;
const FS_IOCTL_DEV: u64 = 1 << 15;
const NET_BIND_TCP: u64 = 1 << 0;
const NET_CONNECT_TCP: u64 = 1 << 1;
const SCOPE_ABSTRACT_UNIX_SOCKET: u64 = 1 << 0;
const SCOPE_SIGNAL: u64 = 1 << 1;

fn landlock_abi() -> u32 {
    // SAFETY: with a null attribute, size 0 and the VERSION flag the kernel reads no memory and
    // only returns the ABI version (or -1 when Landlock is absent).
    let v = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<RulesetAttr>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    u32::try_from(v).unwrap_or(0)
}

/// Denies this process (and anything it could start) every file-system access, TCP bind and
/// connect, abstract Unix sockets and signals to processes outside it, as far as the kernel's
/// Landlock ABI allows. Already-open descriptors (stdin, stdout, stderr) keep working.
/// Needs `no_new_privs` first.
pub(crate) fn landlock_deny_all() -> io::Result<LandlockOutcome> {
    let abi = landlock_abi();
    if abi == 0 {
        return Ok(LandlockOutcome::default());
    }
    let mut fs = FS_RIGHTS_ABI1;
    if abi >= 2 {
        fs |= FS_REFER;
    }
    if abi >= 3 {
        fs |= FS_TRUNCATE;
    }
    if abi >= 5 {
        fs |= FS_IOCTL_DEV;
    }
    let net = if abi >= 4 {
        NET_BIND_TCP | NET_CONNECT_TCP
    } else {
        0
    };
    let scoped = if abi >= 6 {
        SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
    } else {
        0
    };
    let attr = RulesetAttr {
        handled_access_fs: fs,
        handled_access_net: net,
        scoped,
    };
    // SAFETY: `attr` is a live, #[repr(C)] landlock_ruleset_attr and the size passed is its size;
    // the kernel only reads it.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            &attr as *const RulesetAttr,
            std::mem::size_of::<RulesetAttr>(),
            0 as libc::c_uint,
        )
    };
    let fd = libc::c_int::try_from(fd).map_err(|_| io::Error::last_os_error())?;
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: restrict_self takes the ruleset descriptor we just got and flags 0; no memory.
    let rc = unsafe { libc::syscall(libc::SYS_landlock_restrict_self, fd, 0 as libc::c_uint) };
    let err = io::Error::last_os_error();
    // SAFETY: `fd` is a descriptor this function owns and closes exactly once.
    unsafe {
        libc::close(fd);
    }
    if rc != 0 {
        return Err(err);
    }
    Ok(LandlockOutcome {
        abi,
        fs_denied: true,
        tcp_denied: net != 0,
    })
}
