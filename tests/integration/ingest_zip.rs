//! Zip ingest: every safety rule with its exact code, bombs stopped early, content hashing,
//! reading entries back, and the directory source. All zips are generated here with the
//! zip crate's writer, some then patched byte by byte to say what the writer refuses to.

use provis::pipeline::ingest::{
    commit_hash, inspect_dir, inspect_source, inspect_zip, read_dir_entries, read_entries,
    ManifestEntry, RejectCode, SkipReason, ZipLimits, ZipManifest, ZipRejection,
    INFLATE_BUFFER_BYTES,
};
use std::fs;
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use tempfile::TempDir;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipArchive, ZipWriter};

const BUF: u64 = INFLATE_BUFFER_BYTES as u64;

fn opts() -> SimpleFileOptions {
    SimpleFileOptions::default().compression_method(CompressionMethod::Deflated)
}

fn stored() -> SimpleFileOptions {
    SimpleFileOptions::default().compression_method(CompressionMethod::Stored)
}

/// A zip in memory from (name, content) pairs; a name ending in `/` is a directory.
fn zip_bytes(entries: &[(&str, &[u8])], options: SimpleFileOptions) -> Vec<u8> {
    crate::common::zip_with(entries, options)
}

struct Fixture {
    dir: TempDir,
}

impl Fixture {
    fn new() -> Self {
        Fixture {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.dir.path().join(name);
        fs::write(&p, bytes).unwrap();
        p
    }
    fn zip(&self, entries: &[(&str, &[u8])]) -> PathBuf {
        self.write("upload.zip", &zip_bytes(entries, opts()))
    }
}

fn reject(path: &Path, limits: &ZipLimits) -> ZipRejection {
    match inspect_zip(path, limits) {
        Ok(m) => panic!("expected a rejection, got {} entries", m.entries.len()),
        Err(r) => r,
    }
}

fn assert_code(r: &ZipRejection, code: &str) {
    assert_eq!(r.code.as_str(), code, "{r}");
}

/// (local header offset, central header offset) of entry `i`.
fn offsets(bytes: &[u8], i: usize) -> (usize, usize) {
    let archive = ZipArchive::new(Cursor::new(bytes)).unwrap();
    let e = archive.by_index_data(i).unwrap();
    (e.header_start() as usize, e.central_header_start() as usize)
}

fn put_u16(bytes: &mut [u8], at: usize, v: u16) {
    bytes[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

fn put_u32(bytes: &mut [u8], at: usize, v: u32) {
    bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn blake3_hex(data: &[u8]) -> String {
    blake3::hash(data).to_hex().to_string()
}

/// Incompressible bytes (xorshift), so ratios stay near 1.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A zip holding one deflated entry of `mib` MiB of zeros, written in 1 MiB chunks.
fn zero_bomb(path: &Path, name: &str, mib: usize) {
    let mut w = ZipWriter::new(fs::File::create(path).unwrap());
    w.start_file(name, opts()).unwrap();
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..mib {
        w.write_all(&chunk).unwrap();
    }
    w.finish().unwrap();
}

fn compressed_size(path: &Path, i: usize) -> u64 {
    let archive = ZipArchive::new(fs::File::open(path).unwrap()).unwrap();
    archive.by_index_data(i).unwrap().compressed_size()
}

fn paths(m: &ZipManifest) -> Vec<&str> {
    m.entries.iter().map(|e| e.path.as_str()).collect()
}

#[test]
fn accepts_a_github_style_zip_and_strips_the_wrapper() {
    let f = Fixture::new();
    let main = b"print('hi')\n".repeat(50);
    let z = f.zip(&[
        ("repo-main/", b""),
        ("repo-main/src/", b""),
        ("repo-main/src/main.py", &main),
        ("repo-main/README.md", b"# hello\n"),
        ("repo-main/empty.txt", b""),
    ]);
    let m = inspect_zip(&z, &ZipLimits::default()).unwrap();
    assert_eq!(paths(&m), ["README.md", "empty.txt", "src/main.py"]);
    assert_eq!(m.stripped_prefix.as_deref(), Some("repo-main"));
    let py = &m.entries[2];
    assert_eq!(py.size, main.len() as u64);
    assert_eq!(py.hash, blake3_hex(&main));
    assert_eq!(m.entries[1].hash, blake3_hex(b""));
    assert_eq!(m.total_bytes, main.len() as u64 + 8);
    assert_eq!(m.commit_hash(), commit_hash(&m.entries));
    assert_eq!(m.commit_hash().len(), 64);
    assert!(m.skipped.is_empty());
}

#[test]
fn no_stripping_without_a_single_top_dir() {
    let f = Fixture::new();
    let z = f.zip(&[("a/x.py", b"1"), ("b/y.py", b"2")]);
    let m = inspect_zip(&z, &ZipLimits::default()).unwrap();
    assert_eq!(paths(&m), ["a/x.py", "b/y.py"]);
    assert_eq!(m.stripped_prefix, None);

    // A file at the top level next to the only directory: nothing to strip either.
    let z = f.zip(&[("a/x.py", b"1"), ("setup.py", b"2")]);
    let m = inspect_zip(&z, &ZipLimits::default()).unwrap();
    assert_eq!(paths(&m), ["a/x.py", "setup.py"]);
}

#[test]
fn macos_resource_forks_do_not_block_stripping_and_are_skipped() {
    let f = Fixture::new();
    let z = f.zip(&[
        ("proj/a.py", b"1"),
        ("__MACOSX/", b""),
        ("__MACOSX/proj/._a.py", b"junk"),
    ]);
    let m = inspect_zip(&z, &ZipLimits::default()).unwrap();
    assert_eq!(paths(&m), ["a.py"]);
    assert_eq!(m.stripped_prefix.as_deref(), Some("proj"));
    assert_eq!(m.skipped.len(), 1);
    assert_eq!(m.skipped[0].path, "__MACOSX");
}

#[test]
fn not_a_zip_random_truncated_and_empty() {
    let f = Fixture::new();
    let limits = ZipLimits::default();
    let random = f.write("random.zip", &noise(10_000, 7));
    assert_code(&reject(&random, &limits), "not_a_zip");
    let good = zip_bytes(&[("a.txt", &noise(5000, 1)), ("b.txt", b"b")], opts());
    let truncated = f.write("truncated.zip", &good[..good.len() / 2]);
    assert_code(&reject(&truncated, &limits), "not_a_zip");
    // Cut anywhere, even inside the closing record: a plain sentence, never the zip crate's
    // internal type names (`zip::format::blocks::Zip32CDEBlock`).
    for cut in [1, 10, 21, 100, good.len() / 2] {
        let t = f.write("cut.zip", &good[..good.len() - cut]);
        let r = reject(&t, &limits);
        assert_code(&r, "not_a_zip");
        assert!(!r.message.contains("::"), "cut {cut}: {}", r.message);
        assert!(r.message.contains("truncated"), "cut {cut}: {}", r.message);
        assert!(r.to_string().starts_with("not_a_zip: "), "{r}");
    }
    let empty = f.write("empty.zip", b"");
    assert_code(&reject(&empty, &limits), "not_a_zip");
    let missing = f.dir.path().join("missing.zip");
    let r = reject(&missing, &limits);
    assert_eq!(r.code, RejectCode::IoError);
    assert!(r.code.is_transient());
}

#[test]
fn too_many_entries() {
    let f = Fixture::new();
    let z = f.zip(&[("a", b"1"), ("b", b"2"), ("c/", b""), ("c/d", b"3")]);
    let limits = ZipLimits {
        max_entries: 3,
        ..ZipLimits::default()
    };
    assert_code(&reject(&z, &limits), "too_many_entries");
    let limits = ZipLimits {
        max_entries: 4,
        ..ZipLimits::default()
    };
    assert_eq!(inspect_zip(&z, &limits).unwrap().entries.len(), 3);
}

#[test]
fn too_deep_counts_folders_below_the_wrapper() {
    let f = Fixture::new();
    let limits = ZipLimits {
        max_depth: 3,
        ..ZipLimits::default()
    };
    // Inside 3 folders: allowed (the file name does not count).
    let z = f.zip(&[("a/b/c/d.txt", b"ok"), ("top.txt", b"ok")]);
    assert!(inspect_zip(&z, &limits).is_ok());
    let z = f.zip(&[("a/b/c/d/e.txt", b"deep"), ("top.txt", b"ok")]);
    let r = reject(&z, &limits);
    assert_code(&r, "too_deep");
    assert_eq!(r.entry.as_deref(), Some("a/b/c/d/e.txt"));
    assert!(r.message.contains("inside 4 folders"), "{}", r.message);
    // GitHub's wrapper folder does not count either: repo-main/ + 3 folders is allowed.
    let z = f.zip(&[("repo-main/a/b/c/d.txt", b"ok"), ("repo-main/x.txt", b"ok")]);
    let m = inspect_zip(&z, &limits).unwrap();
    assert!(m.entries.iter().any(|e| e.path == "a/b/c/d.txt"));
    let z = f.zip(&[
        ("repo-main/a/b/c/d/e.txt", b"deep"),
        ("repo-main/x.txt", b"ok"),
    ]);
    assert_code(&reject(&z, &limits), "too_deep");
    // A directory entry is as deep as the folders it names.
    let z = f.zip(&[("a/b/c/", b""), ("top.txt", b"ok")]);
    assert!(inspect_zip(&z, &limits).is_ok());
    let z = f.zip(&[("a/b/c/d/", b""), ("top.txt", b"ok")]);
    assert_code(&reject(&z, &limits), "too_deep");
    // The case at the default limit: a file inside 20 folders, in a wrapper.
    let folders: Vec<String> = (0..20).map(|i| format!("d{i}")).collect();
    let name = format!("repo-main/{}/deep.ts", folders.join("/"));
    let z = f.zip(&[
        (name.as_str(), b"export {}"),
        ("repo-main/a.ts", b"export {}"),
    ]);
    assert!(inspect_zip(&z, &ZipLimits::default()).is_ok());
    let name = format!("repo-main/{}/d20/deep.ts", folders.join("/"));
    let z = f.zip(&[
        (name.as_str(), b"export {}"),
        ("repo-main/a.ts", b"export {}"),
    ]);
    assert_code(&reject(&z, &ZipLimits::default()), "too_deep");
}

#[test]
fn total_too_large_over_many_small_entries_stops_at_the_limit() {
    let f = Fixture::new();
    let blobs: Vec<(String, Vec<u8>)> = (0..100)
        .map(|i| (format!("f{i:03}.bin"), noise(20_000, i + 1)))
        .collect();
    let entries: Vec<(&str, &[u8])> = blobs
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    let z = f.zip(&entries);
    let limits = ZipLimits {
        max_uncompressed_bytes: 1_000_000,
        ..ZipLimits::default()
    };
    let r = reject(&z, &limits);
    assert_code(&r, "total_too_large");
    assert!(r.inflated_bytes > 1_000_000, "{}", r.inflated_bytes);
    assert!(r.inflated_bytes <= 1_000_000 + BUF, "{}", r.inflated_bytes);
    // The same archive passes under the default limit.
    let m = inspect_zip(&z, &ZipLimits::default()).unwrap();
    assert_eq!(m.total_bytes, 2_000_000);
}

#[test]
fn ratio_bomb_is_stopped_early() {
    let f = Fixture::new();
    let z = f.dir.path().join("bomb.zip");
    zero_bomb(&z, "zeros.bin", 50);
    let compressed = compressed_size(&z, 0);
    let limits = ZipLimits::default();
    let r = reject(&z, &limits);
    assert_code(&r, "ratio_exceeded");
    assert_eq!(r.entry.as_deref(), Some("zeros.bin"));
    // Inflation stopped at the first chunk past max_ratio × compressed, far from 50 MiB.
    let cap = limits.max_ratio * compressed;
    assert!(r.inflated_bytes > cap, "{} vs {cap}", r.inflated_bytes);
    assert!(
        r.inflated_bytes <= cap + BUF,
        "{} vs {cap}",
        r.inflated_bytes
    );
    assert!(r.inflated_bytes < 50 << 20);
}

#[test]
fn tiny_entries_are_exempt_from_the_ratio() {
    let f = Fixture::new();
    let small = vec![b' '; 4000];
    let z = f.zip(&[("blank.txt", &small)]);
    let limits = ZipLimits {
        max_ratio: 50,
        ..ZipLimits::default()
    };
    let compressed = compressed_size(&z, 0);
    assert!(
        4000 > limits.max_ratio * compressed,
        "fixture must exceed the ratio"
    );
    assert!(inspect_zip(&z, &limits).is_ok());
    let big = vec![b' '; 100_000];
    let z = f.zip(&[("blank.txt", &big)]);
    assert_code(&reject(&z, &limits), "ratio_exceeded");
}

#[test]
fn header_claiming_a_smaller_size_is_caught_while_inflating() {
    let f = Fixture::new();
    let mut bytes = zip_bytes(&[("liar.bin", &vec![0u8; 8 << 20])], opts());
    let (local, central) = offsets(&bytes, 0);
    put_u32(&mut bytes, local + 22, 100);
    put_u32(&mut bytes, central + 24, 100);
    let z = f.write("liar.zip", &bytes);
    let r = reject(&z, &ZipLimits::default());
    assert_code(&r, "size_mismatch");
    assert!(r.inflated_bytes <= 100 + BUF, "{}", r.inflated_bytes);
}

#[test]
fn header_claiming_a_larger_size_is_caught_at_the_end() {
    let f = Fixture::new();
    let mut bytes = zip_bytes(&[("short.txt", b"only a few bytes")], opts());
    let (local, central) = offsets(&bytes, 0);
    put_u32(&mut bytes, local + 22, 1000);
    put_u32(&mut bytes, central + 24, 1000);
    let z = f.write("short.zip", &bytes);
    assert_code(&reject(&z, &ZipLimits::default()), "size_mismatch");
}

#[test]
fn corrupt_data_fails_the_crc() {
    let f = Fixture::new();
    let mut bytes = zip_bytes(&[("a.txt", b"hello world, hello zip")], stored());
    let (local, _) = offsets(&bytes, 0);
    let data = local + 30 + "a.txt".len();
    bytes[data] ^= 0x20;
    let z = f.write("crc.zip", &bytes);
    assert_code(&reject(&z, &ZipLimits::default()), "corrupt_entry");
}

#[test]
fn name_rules_each_have_their_code() {
    let f = Fixture::new();
    let cases: &[(&str, &str)] = &[
        ("../evil.txt", "path_traversal"),
        ("a/../../evil.txt", "path_traversal"),
        ("a\\..\\evil.txt", "path_traversal"),
        ("/etc/passwd", "absolute_path"),
        ("\\windows\\x.txt", "absolute_path"),
        ("C:/x.txt", "drive_letter"),
        ("d:\\x.txt", "drive_letter"),
        ("src/con.txt", "reserved_name"),
        ("AUX", "reserved_name"),
        ("lib/Com3.py", "reserved_name"),
        ("a\0b.txt", "invalid_name"),
        ("a\nb.txt", "invalid_name"),
    ];
    for (name, code) in cases {
        let z = f.zip(&[("fine.txt", b"ok"), (name, b"x")]);
        let r = reject(&z, &ZipLimits::default());
        assert_eq!(r.code.as_str(), *code, "{name:?}: {r}");
        assert_eq!(
            r.entry.as_deref(),
            Some(*name),
            "the rejection names the entry"
        );
        assert_eq!(r.inflated_bytes, 0, "name rules run before any inflation");
    }
}

#[test]
fn symlink_entry() {
    let mut w = ZipWriter::new(Cursor::new(Vec::new()));
    w.start_file("a.txt", opts()).unwrap();
    w.write_all(b"a").unwrap();
    w.add_symlink("link", "/etc/passwd", opts()).unwrap();
    let bytes = w.finish().unwrap().into_inner();
    let f = Fixture::new();
    let z = f.write("link.zip", &bytes);
    let r = reject(&z, &ZipLimits::default());
    assert_code(&r, "symlink_entry");
    assert_eq!(r.entry.as_deref(), Some("link"));
}

#[test]
fn encrypted_entry_flag_bit_zero() {
    let mut bytes = zip_bytes(&[("a.txt", b"plain"), ("secret.txt", b"hidden")], opts());
    let (local, central) = offsets(&bytes, 1);
    bytes[local + 6] |= 1;
    bytes[central + 8] |= 1;
    let f = Fixture::new();
    let z = f.write("enc.zip", &bytes);
    let r = reject(&z, &ZipLimits::default());
    assert_code(&r, "encrypted_entry");
    assert_eq!(r.entry.as_deref(), Some("secret.txt"));
}

#[test]
fn unsupported_compression_method() {
    let mut bytes = zip_bytes(&[("a.txt", b"some text")], opts());
    let (local, central) = offsets(&bytes, 0);
    put_u16(&mut bytes, local + 8, 12); // bzip2
    put_u16(&mut bytes, central + 10, 12);
    let f = Fixture::new();
    let z = f.write("bz.zip", &bytes);
    assert_code(
        &reject(&z, &ZipLimits::default()),
        "unsupported_compression",
    );
}

#[test]
fn duplicate_entries_exact_normalised_and_file_dir_clash() {
    let f = Fixture::new();
    // Exactly the same stored name twice (the writer refuses, so rename b.txt to a.txt).
    let mut bytes = zip_bytes(&[("a.txt", b"one"), ("b.txt", b"two")], opts());
    let (local, central) = offsets(&bytes, 1);
    bytes[local + 30] = b'a';
    bytes[central + 46] = b'a';
    let z = f.write("dup.zip", &bytes);
    assert_code(&reject(&z, &ZipLimits::default()), "duplicate_entry");

    let z = f.zip(&[("src/a.py", b"1"), ("src\\a.py", b"2")]);
    assert_code(&reject(&z, &ZipLimits::default()), "duplicate_entry");
    let z = f.zip(&[("src/a.py", b"1"), ("./src//a.py", b"2")]);
    assert_code(&reject(&z, &ZipLimits::default()), "duplicate_entry");

    let z = f.zip(&[("lib", b"a file"), ("lib/x.py", b"1")]);
    let r = reject(&z, &ZipLimits::default());
    assert_code(&r, "duplicate_entry");
    assert_eq!(r.entry.as_deref(), Some("lib"));
    let z = f.zip(&[("lib/", b""), ("lib", b"a file")]);
    assert_code(&reject(&z, &ZipLimits::default()), "duplicate_entry");

    // Case differs: both kept (decision: duplicates are case-sensitive).
    let z = f.zip(&[("README.md", b"1"), ("readme.md", b"2")]);
    let m = inspect_zip(&z, &ZipLimits::default()).unwrap();
    assert_eq!(paths(&m), ["README.md", "readme.md"]);
}

#[test]
fn overlapping_entries_are_refused() {
    let mut bytes = zip_bytes(&[("a.txt", &noise(1000, 3)), ("b.txt", b"b")], opts());
    let (local_a, _) = offsets(&bytes, 0);
    let (_, central_b) = offsets(&bytes, 1);
    put_u32(&mut bytes, central_b + 42, local_a as u32);
    let f = Fixture::new();
    let z = f.write("overlap.zip", &bytes);
    assert_code(&reject(&z, &ZipLimits::default()), "overlapping_entries");
}

#[test]
fn heavy_dirs_are_checked_but_not_inflated() {
    let f = Fixture::new();
    let bomb = vec![0u8; 20 << 20];
    let z = f.write(
        "nm.zip",
        &zip_bytes(
            &[
                ("app/index.js", b"require('x')"),
                ("app/node_modules/x/bomb.bin", &bomb),
                ("app/.git/HEAD", b"ref: refs/heads/main"),
            ],
            opts(),
        ),
    );
    let m = inspect_zip(&z, &ZipLimits::default()).unwrap();
    assert_eq!(paths(&m), ["index.js"]);
    let skipped: Vec<_> = m
        .skipped
        .iter()
        .map(|s| (s.path.as_str(), s.reason))
        .collect();
    assert_eq!(
        skipped,
        [
            (".git", SkipReason::IgnoredDir),
            ("node_modules", SkipReason::IgnoredDir)
        ]
    );
    // Names inside them are still checked.
    let z = f.zip(&[("app/index.js", b"1"), ("app/node_modules/../../x", b"2")]);
    assert_code(&reject(&z, &ZipLimits::default()), "path_traversal");
}

#[test]
fn same_tree_same_hash_whatever_the_order_time_or_compression() {
    let files: [(&str, &[u8]); 4] = [
        ("p/src/a.ts", b"export const a = 1;\n"),
        ("p/src/b.ts", b"import { a } from './a';\n"),
        ("p/package.json", b"{\"name\":\"p\"}"),
        ("p/README.md", b"# p\n"),
    ];
    let one = zip_bytes(&files, opts());
    let mut reversed = files;
    reversed.reverse();
    let later = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Stored)
        .last_modified_time(DateTime::from_date_and_time(2031, 7, 4, 12, 30, 10).unwrap());
    let mut with_dirs: Vec<(&str, &[u8])> = vec![("p/", b""), ("p/src/", b"")];
    with_dirs.extend(reversed);
    let two = zip_bytes(&with_dirs, later);
    assert_ne!(one, two, "the two zips differ as bytes");

    let f = Fixture::new();
    let a = inspect_zip(&f.write("one.zip", &one), &ZipLimits::default()).unwrap();
    let b = inspect_zip(&f.write("two.zip", &two), &ZipLimits::default()).unwrap();
    assert_eq!(a.commit_hash(), b.commit_hash());

    let mut changed = files;
    changed[0].1 = b"export const a = 2;\n";
    let c = inspect_zip(
        &f.write("three.zip", &zip_bytes(&changed, opts())),
        &ZipLimits::default(),
    )
    .unwrap();
    assert_ne!(a.commit_hash(), c.commit_hash());

    let mut renamed = files;
    renamed[3].0 = "p/README.txt";
    let d = inspect_zip(
        &f.write("four.zip", &zip_bytes(&renamed, opts())),
        &ZipLimits::default(),
    )
    .unwrap();
    assert_ne!(a.commit_hash(), d.commit_hash());
}

#[test]
fn read_entries_round_trip() {
    let f = Fixture::new();
    let big = noise(300_000, 9);
    let text = b"def f():\n    return 1\n".repeat(100);
    let z = f.zip(&[("r/big.bin", &big), ("r/mod.py", &text), ("r/empty", b"")]);
    let m = inspect_zip(&z, &ZipLimits::default()).unwrap();
    let wanted: Vec<ManifestEntry> = m
        .entries
        .iter()
        .filter(|e| e.path != "empty")
        .cloned()
        .collect();
    let got: Vec<(String, Vec<u8>)> = read_entries(&z, &wanted)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0], ("big.bin".to_string(), big));
    assert_eq!(got[1], ("mod.py".to_string(), text));
}

#[test]
fn read_entries_refuses_a_zip_changed_after_inspection() {
    let f = Fixture::new();
    // Stored, so both versions have the same layout byte for byte.
    let original = b"original content ".repeat(10);
    let z = f.write(
        "upload.zip",
        &zip_bytes(&[("a.txt", &original), ("b.txt", b"b")], stored()),
    );
    let m = inspect_zip(&z, &ZipLimits::default()).unwrap();

    // Same layout, other bytes.
    let tampered = b"tampered content ".repeat(10);
    f.write(
        "upload.zip",
        &zip_bytes(&[("a.txt", &tampered), ("b.txt", b"b")], stored()),
    );
    let items: Vec<_> = read_entries(&z, &m.entries).unwrap().collect();
    assert_code(items[0].as_ref().unwrap_err(), "entry_changed");
    assert!(items[1].is_ok(), "an untouched entry still reads");

    // Swapped for a bomb under the same name: bounded by the manifest, refused.
    zero_bomb(&z, "a.txt", 30);
    let r = read_entries(&z, &m.entries[..1])
        .unwrap()
        .next()
        .unwrap()
        .unwrap_err();
    assert_code(&r, "entry_changed");

    // A directory manifest has no zip locations.
    let dir_entry = ManifestEntry {
        zip: None,
        ..m.entries[0].clone()
    };
    let r = read_entries(&z, std::slice::from_ref(&dir_entry))
        .unwrap()
        .next()
        .unwrap()
        .unwrap_err();
    assert_code(&r, "entry_changed");
}

mod dir;
mod mirror;
