//! The in-memory file system `oxc_resolver` runs on: the snapshot's paths under a virtual root
//! `/repo`, the text of its config files, and workspace packages linked into virtual
//! `node_modules` folders the way package managers link them.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io;
use std::path::{Path, PathBuf};

use oxc_resolver::{FileMetadata, FileSystem, ResolveError};

/// What the resolver needs from a snapshot: its file list and, on demand, the bytes of a few
/// config files (`package.json`, `tsconfig*.json`, `jsconfig*.json`, files they `extends`,
/// `pnpm-workspace.yaml`, `lerna.json`). Reading happens once, in [`super::JsResolver::new`].
pub trait SnapshotFiles {
    /// Every file of the snapshot: repo-relative, `/`-separated, no leading `./`.
    fn paths(&self) -> &[String];
    /// The content of one file, `None` when it cannot be read.
    fn read(&self, path: &str) -> Option<Vec<u8>>;
}

/// A [`SnapshotFiles`] held in memory: the path list plus the contents supplied for some files.
#[derive(Debug, Clone, Default)]
pub struct MemorySnapshot {
    paths: Vec<String>,
    known: HashSet<String>,
    contents: HashMap<String, Vec<u8>>,
}

impl MemorySnapshot {
    /// A snapshot of these files, with no content yet.
    pub fn new(paths: impl IntoIterator<Item = String>) -> Self {
        let paths: Vec<String> = paths.into_iter().collect();
        Self {
            known: paths.iter().cloned().collect(),
            paths,
            contents: HashMap::new(),
        }
    }

    /// Adds (or replaces) a file with its content.
    pub fn insert(&mut self, path: &str, content: impl Into<Vec<u8>>) {
        if self.known.insert(path.to_string()) {
            self.paths.push(path.to_string());
        }
        self.contents.insert(path.to_string(), content.into());
    }

    /// Whether the resolver will ask for this file's content (so callers need only keep those).
    pub fn wants_content(path: &str) -> bool {
        let name = path.rsplit('/').next().unwrap_or(path);
        matches!(name, "package.json" | "pnpm-workspace.yaml" | "lerna.json")
            || (name.ends_with(".json")
                && (name.starts_with("tsconfig") || name.starts_with("jsconfig")))
    }
}

impl SnapshotFiles for MemorySnapshot {
    fn paths(&self) -> &[String] {
        &self.paths
    }

    fn read(&self, path: &str) -> Option<Vec<u8>> {
        self.contents.get(path).cloned()
    }
}

/// Absolute virtual root of the snapshot for the resolver.
pub(super) const ROOT: &str = "/repo";

/// Repo-relative form of an absolute virtual path (`""` for the root).
pub(super) fn rel_of(path: &Path) -> Option<&str> {
    let s = path.to_str()?;
    if s == ROOT {
        return Some("");
    }
    s.strip_prefix(ROOT)?.strip_prefix('/')
}

/// Absolute virtual path of a repo-relative one.
pub(super) fn abs_of(rel: &str) -> PathBuf {
    if rel.is_empty() {
        PathBuf::from(ROOT)
    } else {
        PathBuf::from(format!("{ROOT}/{rel}"))
    }
}

fn not_found() -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, "not in snapshot")
}

/// The snapshot as a read-only file system.
#[derive(Debug, Default)]
pub(super) struct MemFs {
    files: HashSet<String>,
    dirs: HashSet<String>,
    contents: HashMap<String, String>,
    /// Virtual symlinks: `…/node_modules/<name>` → package folder.
    links: BTreeMap<String, String>,
}

impl MemFs {
    pub fn new(
        files: HashSet<String>,
        contents: HashMap<String, String>,
        links: BTreeMap<String, String>,
    ) -> Self {
        let mut dirs: HashSet<String> = HashSet::new();
        dirs.insert(String::new());
        for path in files.iter().chain(links.keys()) {
            let mut p = path.as_str();
            while let Some((parent, _)) = p.rsplit_once('/') {
                if !dirs.insert(parent.to_string()) {
                    break;
                }
                p = parent;
            }
        }
        Self {
            files,
            dirs,
            contents,
            links,
        }
    }

    /// The path with a linked `node_modules/<name>` prefix replaced by the package folder.
    fn follow<'p>(&self, rel: &'p str) -> Cow<'p, str> {
        if self.links.is_empty() {
            return Cow::Borrowed(rel);
        }
        for (at, _) in rel.match_indices("node_modules/") {
            let after = at + "node_modules/".len();
            let mut segs = rel[after..].splitn(3, '/');
            let Some(first) = segs.next() else { continue };
            let mut end = after + first.len();
            if first.starts_with('@') {
                match segs.next() {
                    Some(second) => end += 1 + second.len(),
                    None => continue,
                }
            }
            if let Some(target) = self.links.get(&rel[..end]) {
                return Cow::Owned(format!("{target}{}", &rel[end..]));
            }
        }
        Cow::Borrowed(rel)
    }

    fn kind(&self, rel: &str) -> Option<FileMetadata> {
        let real = self.follow(rel);
        if self.files.contains(real.as_ref()) {
            Some(FileMetadata::new(true, false, false))
        } else if self.dirs.contains(real.as_ref()) {
            Some(FileMetadata::new(false, true, false))
        } else {
            None
        }
    }
}

impl FileSystem for MemFs {
    fn new() -> Self {
        Self::default()
    }

    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        self.read_to_string(path).map(String::into_bytes)
    }

    fn read_to_string(&self, path: &Path) -> io::Result<String> {
        let rel = rel_of(path).ok_or_else(not_found)?;
        self.contents
            .get(self.follow(rel).as_ref())
            .cloned()
            .ok_or_else(not_found)
    }

    fn metadata(&self, path: &Path) -> io::Result<FileMetadata> {
        if path == Path::new("/") {
            return Ok(FileMetadata::new(false, true, false));
        }
        rel_of(path)
            .and_then(|rel| self.kind(rel))
            .ok_or_else(not_found)
    }

    fn symlink_metadata(&self, path: &Path) -> io::Result<FileMetadata> {
        match rel_of(path) {
            Some(rel) if self.links.contains_key(rel) => Ok(FileMetadata::new(false, false, true)),
            _ => self.metadata(path),
        }
    }

    fn read_link(&self, path: &Path) -> Result<PathBuf, ResolveError> {
        rel_of(path)
            .and_then(|rel| self.links.get(rel))
            .map(|target| abs_of(target))
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a symlink").into())
    }

    fn canonicalize(&self, path: &Path) -> io::Result<PathBuf> {
        let rel = rel_of(path).ok_or_else(not_found)?;
        let real = self.follow(rel);
        if self.files.contains(real.as_ref()) || self.dirs.contains(real.as_ref()) {
            Ok(abs_of(&real))
        } else {
            Err(not_found())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fs() -> MemFs {
        let files: HashSet<String> = [
            "src/a.ts",
            "packages/lib/package.json",
            "packages/lib/src/index.ts",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut contents = HashMap::new();
        contents.insert("packages/lib/package.json".to_string(), "{}".to_string());
        let mut links = BTreeMap::new();
        links.insert(
            "node_modules/@x/lib".to_string(),
            "packages/lib".to_string(),
        );
        MemFs::new(files, contents, links)
    }

    #[test]
    fn files_dirs_and_links() {
        let fs = fs();
        assert!(fs
            .metadata(Path::new("/repo/src/a.ts"))
            .is_ok_and(|m| m.is_file()));
        assert!(fs
            .metadata(Path::new("/repo/src"))
            .is_ok_and(|m| m.is_dir()));
        assert!(fs
            .metadata(Path::new("/repo/node_modules/@x"))
            .is_ok_and(|m| m.is_dir()));
        assert!(fs
            .symlink_metadata(Path::new("/repo/node_modules/@x/lib"))
            .is_ok_and(|m| m.is_symlink()));
        assert!(fs
            .metadata(Path::new("/repo/node_modules/@x/lib/src/index.ts"))
            .is_ok_and(|m| m.is_file()));
        assert_eq!(
            fs.canonicalize(Path::new("/repo/node_modules/@x/lib/src/index.ts"))
                .ok(),
            Some(PathBuf::from("/repo/packages/lib/src/index.ts"))
        );
        assert_eq!(
            fs.read_to_string(Path::new("/repo/node_modules/@x/lib/package.json"))
                .ok()
                .as_deref(),
            Some("{}")
        );
        assert!(fs.metadata(Path::new("/etc/passwd")).is_err());
        assert!(fs.metadata(Path::new("/repo/src/b.ts")).is_err());
    }
}
