//! The directory source (`inspect_dir`, `read_dir_entries`): the same rules and the same
//! manifest as a zip of the same tree, and inspection that writes nothing.

use super::*;

/// Builds the same small tree on disk and as a wrapped zip (heavy dirs included in both).
fn tree() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("src/app.ts", b"import x from './lib/x';\n".to_vec()),
        ("src/lib/x.ts", b"export default 1;\n".to_vec()),
        ("pkg/__init__.py", Vec::new()),
        ("pkg/mod.py", b"from . import x\n".repeat(300)),
        ("data.bin", noise(70_000, 5)),
        ("node_modules/dep/index.js", b"module.exports = 1".to_vec()),
        (".git/HEAD", b"ref: refs/heads/main\n".to_vec()),
    ]
}

fn write_tree(root: &Path) {
    for (path, data) in tree() {
        let p = root.join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, data).unwrap();
    }
}

fn listing(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            out.push(e.path());
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn inspect_dir_matches_inspect_zip_of_the_same_tree() {
    let f = Fixture::new();
    let root = f.dir.path().join("proj");
    write_tree(&root);
    #[cfg(unix)]
    std::os::unix::fs::symlink("/etc/passwd", root.join("src/passwd")).unwrap();

    let t = tree();
    let wrapped: Vec<(String, &[u8])> = t
        .iter()
        .map(|(p, d)| (format!("proj-main/{p}"), d.as_slice()))
        .collect();
    let entries: Vec<(&str, &[u8])> = wrapped.iter().map(|(p, d)| (p.as_str(), *d)).collect();
    let z = f.write("proj.zip", &zip_bytes(&entries, opts()));

    let from_zip = inspect_zip(&z, &ZipLimits::default()).unwrap();
    let from_dir = inspect_dir(&root, &ZipLimits::default()).unwrap();
    let strip = |m: &ZipManifest| -> Vec<(String, u64, String)> {
        m.entries
            .iter()
            .map(|e| (e.path.clone(), e.size, e.hash.clone()))
            .collect()
    };
    assert_eq!(strip(&from_zip), strip(&from_dir));
    assert_eq!(from_zip.commit_hash(), from_dir.commit_hash());
    assert_eq!(from_zip.total_bytes, from_dir.total_bytes);
    assert_eq!(
        paths(&from_dir),
        [
            "data.bin",
            "pkg/__init__.py",
            "pkg/mod.py",
            "src/app.ts",
            "src/lib/x.ts"
        ]
    );
    assert!(from_dir.entries.iter().all(|e| e.zip.is_none()));
    let skipped: Vec<_> = from_dir
        .skipped
        .iter()
        .map(|s| (s.path.as_str(), s.reason))
        .collect();
    let mut expected = vec![
        (".git", SkipReason::IgnoredDir),
        ("node_modules", SkipReason::IgnoredDir),
    ];
    #[cfg(unix)]
    expected.push(("src/passwd", SkipReason::Symlink));
    assert_eq!(skipped, expected);

    // inspect_source picks the right one.
    assert_eq!(
        inspect_source(&root, &ZipLimits::default()).unwrap(),
        from_dir
    );
    assert_eq!(inspect_source(&z, &ZipLimits::default()).unwrap(), from_zip);
}

#[test]
fn inspect_dir_applies_limits_and_name_rules() {
    let f = Fixture::new();
    let root = f.dir.path().join("t");
    write_tree(&root);
    let limits = ZipLimits {
        max_uncompressed_bytes: 50_000,
        ..ZipLimits::default()
    };
    let r = inspect_dir(&root, &limits).unwrap_err();
    assert_code(&r, "total_too_large");
    assert!(r.inflated_bytes <= 50_000 + BUF);
    // src/lib/x.ts is inside 2 folders: allowed at 2, refused at 1.
    let limits = ZipLimits {
        max_depth: 2,
        ..ZipLimits::default()
    };
    assert!(inspect_dir(&root, &limits).is_ok());
    let limits = ZipLimits {
        max_depth: 1,
        ..ZipLimits::default()
    };
    assert_code(&inspect_dir(&root, &limits).unwrap_err(), "too_deep");
    let limits = ZipLimits {
        max_entries: 4,
        ..ZipLimits::default()
    };
    assert_code(
        &inspect_dir(&root, &limits).unwrap_err(),
        "too_many_entries",
    );
    fs::write(root.join("src/aux.py"), b"").unwrap();
    assert_code(
        &inspect_dir(&root, &ZipLimits::default()).unwrap_err(),
        "reserved_name",
    );
}

#[test]
fn read_dir_entries_round_trip_and_refusals() {
    let f = Fixture::new();
    let root = f.dir.path().join("t");
    write_tree(&root);
    let m = inspect_dir(&root, &ZipLimits::default()).unwrap();
    let got: Vec<(String, Vec<u8>)> = read_dir_entries(&root, &m.entries)
        .collect::<Result<_, _>>()
        .unwrap();
    let expected: Vec<(String, Vec<u8>)> = {
        let mut t: Vec<_> = tree()
            .into_iter()
            .filter(|(p, _)| !p.starts_with("node_modules") && !p.starts_with(".git"))
            .map(|(p, d)| (p.to_string(), d))
            .collect();
        t.sort();
        t
    };
    assert_eq!(got, expected);

    let outside = ManifestEntry {
        path: "../secret".into(),
        ..m.entries[0].clone()
    };
    let r = read_dir_entries(&root, std::slice::from_ref(&outside))
        .next()
        .unwrap()
        .unwrap_err();
    assert_code(&r, "path_traversal");

    fs::write(root.join("src/app.ts"), b"changed").unwrap();
    let app = m.entries.iter().find(|e| e.path == "src/app.ts").unwrap();
    let r = read_dir_entries(&root, std::slice::from_ref(app))
        .next()
        .unwrap()
        .unwrap_err();
    assert_code(&r, "entry_changed");
}

#[test]
fn inspection_writes_nothing() {
    let f = Fixture::new();
    let z = f.zip(&[("r/a.py", b"x = 1\n"), ("r/b/c.py", b"y = 2\n")]);
    let bomb = f.dir.path().join("bomb.zip");
    zero_bomb(&bomb, "r/zeros", 20);
    let root = f.dir.path().join("tree");
    write_tree(&root);
    let before = listing(f.dir.path());

    let m = inspect_zip(&z, &ZipLimits::default()).unwrap();
    for item in read_entries(&z, &m.entries).unwrap() {
        item.unwrap();
    }
    assert_code(&reject(&bomb, &ZipLimits::default()), "ratio_exceeded");
    let d = inspect_dir(&root, &ZipLimits::default()).unwrap();
    for item in read_dir_entries(&root, &d.entries) {
        item.unwrap();
    }
    assert_eq!(
        listing(f.dir.path()),
        before,
        "no file was created or removed"
    );
}
