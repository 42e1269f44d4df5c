//! The plain copy of an upload's files (`inspect_zip_mirrored`) as the tasks read it: files
//! come from the copy when it holds them intact, and from the zip otherwise, with the same
//! bytes either way.

use super::*;
use provis::artifacts::{ArtifactStore, LocalStore};
use provis::pipeline::ingest::inspect_zip_mirrored;
use provis::tasks::source::{read, read_one, Source};
use std::os::unix::fs::FileExt as _;
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_come_from_the_plain_copy_and_fall_back_to_the_zip() {
    let f = Fixture::new();
    let files: Vec<(String, Vec<u8>)> = (0..12u64)
        .map(|i| {
            (
                format!("repo/src/f{i}.ts"),
                noise(1_000 + 9_000 * i as usize, i),
            )
        })
        .collect();
    let entries: Vec<(&str, &[u8])> = files
        .iter()
        .map(|(p, b)| (p.as_str(), b.as_slice()))
        .collect();
    // Stored, so a byte of the zip's copy of a file can be changed in place below.
    let zip = f.write("upload.zip", &zip_bytes(&entries, stored()));
    let at = f.dir.path().join("mirror");
    let (manifest, mirror) = inspect_zip_mirrored(&zip, &ZipLimits::default(), &at).unwrap();
    let mirror = Arc::new(mirror.expect("a plain copy"));
    let store = ArtifactStore::Local(LocalStore::open(&f.dir.path().join("store")).unwrap());
    store
        .put_new_file("uploads/x.zip", &zip, "application/zip", false)
        .await
        .unwrap();
    let copy = Arc::new(
        store
            .open_local("uploads/x.zip", f.dir.path())
            .await
            .unwrap(),
    );
    let stored_zip = copy.path().to_path_buf();
    let want = |e: &ManifestEntry| {
        files
            .iter()
            .find(|(p, _)| p.ends_with(&e.path))
            .unwrap()
            .1
            .clone()
    };

    // Change one file's bytes in the zip: only a read that does not use the copy sees it.
    let in_zip = &manifest.entries[2];
    let loc = in_zip.zip.as_ref().unwrap();
    let file = fs::OpenOptions::new()
        .write(true)
        .open(&stored_zip)
        .unwrap();
    file.write_all_at(&[want(in_zip)[0] ^ 0xff], loc.data_offset)
        .unwrap();
    // And another file's bytes in the copy: that read must go to the zip.
    let in_copy = &manifest.entries[5];
    let offset = {
        // Find the file's bytes in the copy by content (its place is the copy's business).
        let all = fs::read(&at).unwrap();
        let body = want(in_copy);
        all.windows(body.len())
            .position(|w| w == body.as_slice())
            .unwrap() as u64
    };
    let copy_file = fs::OpenOptions::new().write(true).open(&at).unwrap();
    copy_file
        .write_all_at(&[want(in_copy)[0] ^ 0xff], offset)
        .unwrap();

    let with = Source::Zip(Arc::clone(&copy), Some(Arc::clone(&mirror)));
    let got = read(&with, &manifest.entries);
    assert_eq!(got.len(), manifest.entries.len());
    for (entry, (path, bytes)) in manifest.entries.iter().zip(&got) {
        assert_eq!(path, &entry.path);
        assert!(bytes.as_ref().unwrap() == &want(entry), "{path}");
        assert!(read_one(&with, entry).unwrap() == want(entry), "{path}");
    }
    // Without the copy, the changed zip entry fails its check: the reads above did use it.
    let without = Source::Zip(copy, None);
    let err = read_one(&without, in_zip).unwrap_err();
    assert!(err.contains("no longer matches"), "{err}");
    assert!(read_one(&without, in_copy).unwrap() == want(in_copy));
}
