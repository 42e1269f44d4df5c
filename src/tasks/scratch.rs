//! The per-process staging folder for temporary files (upload spools, zip copies, streamed
//! artifacts before they are stored): `<data dir>/tmp/<host>.<pid>.<n>`.
//!
//! It lives inside the data dir, so provis writes nothing outside its own folders, and staged
//! uploads sit on the same disk as the artifacts. The folder is removed when the process ends
//! cleanly (SIGTERM/SIGINT: [`Scratch::remove`] from the commands), and a process that starts
//! removes the folders of processes of this host that no longer run (a `kill -9` leaves one).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// Folder under the data dir that holds every process's staging folder.
pub const SCRATCH_DIR: &str = "tmp";

/// One process's staging folder.
#[derive(Debug)]
pub struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    /// Creates this process's folder under `data_dir`, after removing those left by dead
    /// processes of this host.
    pub fn open(data_dir: &Path) -> io::Result<Self> {
        let root = data_dir.join(SCRATCH_DIR);
        std::fs::create_dir_all(&root)?;
        let host = crate::host::hostname();
        let removed = remove_stale(&root, &host);
        if removed > 0 {
            tracing::info!(dir = %root.display(), removed, "removed staging folders of processes that are gone");
        }
        // One folder per context: a process that builds two never shares (or removes) one.
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = root.join(format!("{host}.{}.{n}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(Scratch { dir })
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Removes the folder and everything in it (at the end of the process).
    pub fn remove(&self) {
        match std::fs::remove_dir_all(&self.dir) {
            Ok(()) => tracing::debug!(dir = %self.dir.display(), "staging folder removed"),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(dir = %self.dir.display(), error = %e, "cannot remove the staging folder")
            }
        }
    }
}

impl Drop for Scratch {
    /// The last handle of a context going away (the process ending) removes the folder too.
    fn drop(&mut self) {
        self.remove();
    }
}

/// Removes the folders `<host>.<pid>.<n>` under `root` whose process is gone; returns how many.
/// Folders of other hosts (a data dir on a shared disk) are left alone.
fn remove_stale(root: &Path, host: &str) -> usize {
    let Ok(entries) = std::fs::read_dir(root) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(host))
            .and_then(|n| n.strip_prefix('.'))
            .and_then(|n| n.split('.').next())
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if pid as u32 != std::process::id()
            && !crate::host::process_alive(pid)
            && std::fs::remove_dir_all(entry.path()).is_ok()
        {
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_folders_of_this_host_are_removed_live_and_foreign_ones_kept() {
        let data = tempfile::tempdir().expect("tempdir");
        let root = data.path().join(SCRATCH_DIR);
        let host = crate::host::hostname();
        // A process that has exited: its pid is free (until reused, which this test avoids
        // by checking it right away).
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("spawn true");
        let dead = child.id();
        child.wait().expect("wait");
        let parent = std::os::unix::process::parent_id();
        for name in [
            format!("{host}.{dead}.0"),
            format!("{host}.{parent}.0"),
            format!("other-host.{dead}.0"),
            "notes".to_string(),
        ] {
            std::fs::create_dir_all(root.join(&name).join("sub")).expect("mkdir");
            std::fs::write(root.join(&name).join("sub/upload.zip"), b"PK").expect("write");
        }
        let s = Scratch::open(data.path()).expect("open");
        assert!(s.path().is_dir());
        assert!(
            !root.join(format!("{host}.{dead}.0")).exists(),
            "dead process"
        );
        assert!(
            root.join(format!("{host}.{parent}.0")).exists(),
            "live process"
        );
        assert!(
            root.join(format!("other-host.{dead}.0")).exists(),
            "other host"
        );
        assert!(root.join("notes").exists(), "not a staging folder");
        let dir = s.path().to_path_buf();
        let other = Scratch::open(data.path()).expect("open again");
        assert_ne!(other.path(), dir, "one folder per context");
        drop(s);
        assert!(!dir.exists(), "removed with its context");
        assert!(other.path().is_dir());
    }
}
