//! Packing is deterministic and round-trips; unpacking refuses hostile archives.
//!
//! Hostile archives are built byte by byte with the tar crate's low-level `Header` API (its
//! high-level builder refuses to write `..` or absolute paths, which is exactly what we need to
//! produce here).

// Helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use driftless_core::artifact::{
    Digest, Limits, PackError, UnpackError, pack_dir, pack_to_writer, unpack, unpack_file,
};
use flate2::Compression;
use flate2::write::GzEncoder;
use tar::{EntryType, Header};

fn write(path: &Path, content: &[u8]) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, content).unwrap();
}

#[cfg(unix)]
fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

#[cfg(unix)]
fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn long_name() -> String {
    format!("{}/{}.yaml", "d".repeat(80), "f".repeat(60))
}

/// A tree with nested dirs, an executable, an empty dir and a path over 100 bytes.
fn build_tree(root: &Path, reversed: bool) {
    let mut files: Vec<(String, &[u8])> = vec![
        ("kustomization.yaml".into(), b"resources: [app.yaml]\n"),
        ("app.yaml".into(), b"kind: ConfigMap\n"),
        ("base/deploy.yaml".into(), b"kind: Deployment\n"),
        ("base/nested/svc.yaml".into(), b"kind: Service\n"),
        ("scripts/run.sh".into(), b"#!/bin/sh\necho hi\n"),
        (long_name(), b"long: true\n"),
    ];
    if reversed {
        files.reverse();
    }
    for (rel, content) in &files {
        write(&root.join(rel), content);
        chmod(&root.join(rel), if reversed { 0o600 } else { 0o664 });
    }
    chmod(
        &root.join("scripts/run.sh"),
        if reversed { 0o700 } else { 0o775 },
    );
    fs::create_dir_all(root.join("empty")).unwrap();
}

fn pack_bytes(src: &Path) -> (Vec<u8>, Digest) {
    let (bytes, packed) = pack_to_writer(src, Vec::new(), |_, _| true).unwrap();
    assert_eq!(packed.size, bytes.len() as u64);
    assert_eq!(packed.digest, Digest::of_bytes(&bytes));
    (bytes, packed.digest)
}

#[test]
fn same_tree_packs_to_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    build_tree(dir.path(), false);
    let (first, d1) = pack_bytes(dir.path());
    // Touch every file: new mtimes must not change the artifact.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let again = fs::read(dir.path().join("app.yaml")).unwrap();
    fs::write(dir.path().join("app.yaml"), again).unwrap();
    let (second, d2) = pack_bytes(dir.path());
    assert_eq!(first, second);
    assert_eq!(d1, d2);
}

#[test]
fn trees_built_in_different_orders_and_modes_pack_identically() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    build_tree(a.path(), false);
    build_tree(b.path(), true);
    assert_eq!(pack_bytes(a.path()).1, pack_bytes(b.path()).1);
}

#[test]
fn different_content_gives_different_digest() {
    let a = tempfile::tempdir().unwrap();
    build_tree(a.path(), false);
    let before = pack_bytes(a.path()).1;
    fs::write(a.path().join("app.yaml"), b"kind: Secret\n").unwrap();
    assert_ne!(before, pack_bytes(a.path()).1);
}

#[test]
fn archive_headers_are_normalized() {
    let dir = tempfile::tempdir().unwrap();
    build_tree(dir.path(), true);
    let (bytes, _) = pack_bytes(dir.path());
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
    let mut names = Vec::new();
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        let h = entry.header();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        assert_eq!(h.mtime().unwrap(), 0, "{name}");
        assert_eq!((h.uid().unwrap(), h.gid().unwrap()), (0, 0), "{name}");
        assert_eq!(h.username().unwrap().unwrap_or(""), "", "{name}");
        assert_eq!(h.groupname().unwrap().unwrap_or(""), "", "{name}");
        let expected = match (h.entry_type(), name.as_str()) {
            (EntryType::Directory, _) | (_, "scripts/run.sh") => 0o755,
            _ => 0o644,
        };
        assert_eq!(h.mode().unwrap(), expected, "{name}");
        names.push(name);
    }
    let mut sorted = names.clone();
    sorted.sort_by(|a, b| {
        // Depth-first, children in byte order: compare component lists.
        let a: Vec<_> = Path::new(a).components().collect();
        let b: Vec<_> = Path::new(b).components().collect();
        a.cmp(&b)
    });
    assert_eq!(names, sorted);
    assert!(names.contains(&long_name()), "{names:?}");
}

#[test]
fn round_trip_restores_content_and_modes() {
    let src = tempfile::tempdir().unwrap();
    build_tree(src.path(), false);
    let (bytes, _) = pack_bytes(src.path());
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("tree");
    let summary = unpack(&bytes[..], &dest, &Limits::default()).unwrap();
    assert_eq!(summary.files, 6);
    for rel in [
        "kustomization.yaml",
        "base/nested/svc.yaml",
        "scripts/run.sh",
        &long_name(),
    ] {
        assert_eq!(
            fs::read(dest.join(rel)).unwrap(),
            fs::read(src.path().join(rel)).unwrap()
        );
    }
    assert!(dest.join("empty").is_dir());
    assert_eq!(mode_of(&dest.join("scripts/run.sh")), 0o755);
    assert_eq!(mode_of(&dest.join("app.yaml")), 0o644);
}

#[test]
fn filter_leaves_out_paths_and_whole_directories() {
    let src = tempfile::tempdir().unwrap();
    build_tree(src.path(), false);
    write(&src.path().join(".git/HEAD"), b"ref: refs/heads/main\n");
    let mut seen = Vec::new();
    let (bytes, _) = pack_to_writer(src.path(), Vec::new(), |rel, is_dir| {
        seen.push((rel.to_path_buf(), is_dir));
        !(rel == Path::new(".git") || rel.extension().is_some_and(|e| e == "sh"))
    })
    .unwrap();
    assert!(seen.contains(&(PathBuf::from(".git"), true)));
    assert!(
        !seen
            .iter()
            .any(|(p, _)| p.starts_with(".git") && p != Path::new(".git")),
        "filter must not descend into an excluded directory"
    );
    let dest = tempfile::tempdir().unwrap();
    unpack(&bytes[..], dest.path(), &Limits::default()).unwrap();
    assert!(!dest.path().join(".git").exists());
    assert!(!dest.path().join("scripts/run.sh").exists());
    assert!(dest.path().join("base/deploy.yaml").exists());
}

#[cfg(unix)]
#[test]
fn source_symlinks_are_not_packed() {
    let src = tempfile::tempdir().unwrap();
    write(&src.path().join("a.yaml"), b"a\n");
    std::os::unix::fs::symlink("/etc/passwd", src.path().join("passwd")).unwrap();
    std::os::unix::fs::symlink("a.yaml", src.path().join("b.yaml")).unwrap();
    let (bytes, _) = pack_bytes(src.path());
    let dest = tempfile::tempdir().unwrap();
    let summary = unpack(&bytes[..], dest.path(), &Limits::default()).unwrap();
    assert_eq!(summary.files, 1);
    assert!(fs::symlink_metadata(dest.path().join("passwd")).is_err());
}

#[test]
fn pack_dir_writes_atomically_and_reports_the_file_digest() {
    let src = tempfile::tempdir().unwrap();
    build_tree(src.path(), false);
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("artifact.tar.gz");
    fs::write(&dest, b"previous artifact").unwrap();
    let packed = pack_dir(src.path(), &dest, |_, _| true).unwrap();
    assert_eq!(packed.digest, Digest::of_file(&dest).unwrap());
    assert_eq!(packed.size, fs::metadata(&dest).unwrap().len());
    assert_eq!(packed.digest, pack_bytes(src.path()).1);
    let leftovers: Vec<_> = fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, vec![std::ffi::OsString::from("artifact.tar.gz")]);
}

#[test]
fn packing_a_missing_or_non_directory_source_fails_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    fs::write(&file, b"x").unwrap();
    let err = pack_dir(&file, &dir.path().join("o.tgz"), |_, _| true).unwrap_err();
    assert!(
        matches!(err, PackError::NotADirectory(ref p) if p == &file),
        "{err}"
    );
    let missing = dir.path().join("missing");
    let err = pack_dir(&missing, &dir.path().join("o.tgz"), |_, _| true).unwrap_err();
    assert!(err.to_string().contains("missing"), "{err}");
}

// ---- hostile archives -------------------------------------------------------------------

/// One raw tar entry: type, name bytes, link name bytes, content.
struct Raw<'a> {
    kind: EntryType,
    name: &'a str,
    link: &'a str,
    data: &'a [u8],
}

fn file<'a>(name: &'a str, data: &'a [u8]) -> Raw<'a> {
    Raw {
        kind: EntryType::Regular,
        name,
        link: "",
        data,
    }
}

fn symlink<'a>(name: &'a str, target: &'a str) -> Raw<'a> {
    Raw {
        kind: EntryType::Symlink,
        name,
        link: target,
        data: b"",
    }
}

fn hardlink<'a>(name: &'a str, target: &'a str) -> Raw<'a> {
    Raw {
        kind: EntryType::Link,
        name,
        link: target,
        data: b"",
    }
}

fn special(kind: EntryType, name: &str) -> Raw<'_> {
    Raw {
        kind,
        name,
        link: "",
        data: b"",
    }
}

/// Writes the names straight into the header fields, bypassing the crate's path checks.
fn hostile_tar_gz(entries: &[Raw<'_>]) -> Vec<u8> {
    let mut tar_bytes = Vec::new();
    for e in entries {
        let mut header = Header::new_old();
        let old = header.as_old_mut();
        old.name[..e.name.len()].copy_from_slice(e.name.as_bytes());
        old.linkname[..e.link.len()].copy_from_slice(e.link.as_bytes());
        header.set_entry_type(e.kind);
        header.set_mode(0o644);
        header.set_size(e.data.len() as u64);
        header.set_mtime(0);
        header.set_cksum();
        tar_bytes.extend_from_slice(header.as_bytes());
        tar_bytes.extend_from_slice(e.data);
        let pad = (512 - e.data.len() % 512) % 512;
        tar_bytes.extend(std::iter::repeat_n(0u8, pad));
    }
    tar_bytes.extend(std::iter::repeat_n(0u8, 1024));
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    gz.write_all(&tar_bytes).unwrap();
    gz.finish().unwrap()
}

/// Unpacks into `<tmp>/root/dest` and checks nothing appeared outside `dest` and that `dest`
/// is empty again after the refusal.
fn refuse(entries: &[Raw<'_>], limits: &Limits) -> UnpackError {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let dest = root.join("dest");
    fs::create_dir_all(&dest).unwrap();
    fs::create_dir_all(root.join("sub")).unwrap();
    let err = unpack(&hostile_tar_gz(entries)[..], &dest, limits).unwrap_err();
    let outside: Vec<_> = walk(tmp.path())
        .into_iter()
        .filter(|p| !p.starts_with(&dest) && p != &dest && p != &root && p != &root.join("sub"))
        .collect();
    assert!(
        outside.is_empty(),
        "wrote outside the destination: {outside:?}"
    );
    assert_eq!(
        fs::read_dir(&dest).unwrap().count(),
        0,
        "partial unpack left behind"
    );
    err
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        out.push(path.clone());
        if fs::symlink_metadata(&path).unwrap().is_dir() {
            out.extend(walk(&path));
        }
    }
    out
}

fn assert_names(err: &UnpackError, entry: &str) {
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("{entry:?}")),
        "error {msg:?} should name {entry:?}"
    );
}

#[test]
fn refuses_absolute_paths() {
    let err = refuse(
        &[file("ok.yaml", b"ok"), file("/tmp/evil", b"x")],
        &Limits::default(),
    );
    assert!(matches!(err, UnpackError::AbsolutePath { .. }), "{err}");
    assert_names(&err, "/tmp/evil");
}

#[test]
fn refuses_parent_components() {
    for name in ["../evil", "a/../../evil", "a/b/../../../sub/evil"] {
        let err = refuse(&[file(name, b"x")], &Limits::default());
        assert!(
            matches!(err, UnpackError::ParentComponent { .. }),
            "{name}: {err}"
        );
        assert_names(&err, name);
    }
}

#[test]
fn refuses_symlinks_leaving_the_root() {
    for target in ["/etc/passwd", "../sub", "a/../../sub", "../../../../etc"] {
        let err = refuse(&[symlink("link", target)], &Limits::default());
        assert!(
            matches!(err, UnpackError::LinkEscapes { .. }),
            "{target}: {err}"
        );
        assert_names(&err, "link");
        assert!(err.to_string().contains(target), "{err}");
    }
    // Deeper links may climb, but not above the root.
    let err = refuse(&[symlink("a/b/link", "../../../x")], &Limits::default());
    assert!(matches!(err, UnpackError::LinkEscapes { .. }), "{err}");
}

#[test]
fn refuses_a_file_written_through_an_escaping_symlink() {
    let err = refuse(
        &[symlink("link", "../sub"), file("link/evil", b"x")],
        &Limits::default(),
    );
    assert!(matches!(err, UnpackError::LinkEscapes { .. }), "{err}");
}

#[test]
fn refuses_a_file_under_an_inside_symlink() {
    // Even a link that stays inside must not be written through: the file order is a trick.
    let err = refuse(
        &[
            file("real/keep", b"k"),
            symlink("link", "real"),
            file("link/evil", b"x"),
        ],
        &Limits::default(),
    );
    assert!(matches!(err, UnpackError::EntryUnderLink { .. }), "{err}");
    assert_names(&err, "link/evil");
}

#[test]
fn refuses_symlink_chains_that_escape() {
    // `d/l -> ..` points at the root (allowed alone); `m -> d/l/../x` would then resolve to
    // the parent of the root on a real file system.
    let err = refuse(
        &[symlink("d/l", ".."), symlink("m", "d/l/../sub")],
        &Limits::default(),
    );
    assert!(matches!(err, UnpackError::LinkThroughLink { .. }), "{err}");
    assert_names(&err, "m");
}

#[test]
fn refuses_hardlinks_leaving_the_root_or_to_unknown_files() {
    let err = refuse(&[hardlink("h", "/etc/passwd")], &Limits::default());
    assert!(matches!(err, UnpackError::LinkEscapes { .. }), "{err}");
    assert_names(&err, "h");
    let err = refuse(&[hardlink("h", "../sub/x")], &Limits::default());
    assert!(matches!(err, UnpackError::LinkEscapes { .. }), "{err}");
    let err = refuse(&[hardlink("h", "nothing")], &Limits::default());
    assert!(
        matches!(err, UnpackError::HardLinkTargetMissing { .. }),
        "{err}"
    );
}

#[test]
fn refuses_devices_and_fifos() {
    for (kind, what) in [
        (EntryType::Char, "character device"),
        (EntryType::Block, "block device"),
        (EntryType::Fifo, "fifo"),
    ] {
        let err = refuse(
            &[file("ok", b"1"), special(kind, "dev/x")],
            &Limits::default(),
        );
        assert!(matches!(err, UnpackError::UnsupportedEntry { .. }), "{err}");
        assert_names(&err, "dev/x");
        assert!(err.to_string().contains(what), "{err}");
    }
}

#[test]
fn refuses_archives_over_the_limits() {
    let limits = Limits {
        max_total_bytes: 10,
        max_file_bytes: 6,
        max_entries: 3,
    };
    let err = refuse(&[file("big", b"1234567")], &limits);
    assert!(
        matches!(
            err,
            UnpackError::FileTooLarge {
                size: 7,
                limit: 6,
                ..
            }
        ),
        "{err}"
    );
    assert_names(&err, "big");
    let err = refuse(&[file("a", b"123456"), file("b", b"12345")], &limits);
    assert!(
        matches!(err, UnpackError::TotalTooLarge { limit: 10, .. }),
        "{err}"
    );
    assert_names(&err, "b");
    let err = refuse(
        &[
            file("a", b""),
            file("b", b""),
            file("c", b""),
            file("d", b""),
        ],
        &limits,
    );
    assert!(
        matches!(err, UnpackError::TooManyEntries { limit: 3, .. }),
        "{err}"
    );
    assert_names(&err, "d");
    // Hard-link copies count against the total.
    let err = refuse(&[file("a", b"123456"), hardlink("b", "a")], &limits);
    assert!(matches!(err, UnpackError::TotalTooLarge { .. }), "{err}");
}

#[test]
fn refuses_a_decompression_bomb_before_reading_it_all() {
    // 64 MiB of zeros inside a single pax header compresses to ~64 KiB; the stream bound
    // (limits plus header allowance) stops it.
    let limits = Limits {
        max_total_bytes: 1024,
        max_file_bytes: 1024,
        max_entries: 4,
    };
    let mut header = Header::new_ustar();
    header.set_path("pax").unwrap();
    header.set_entry_type(EntryType::XHeader);
    let size = 64u64 << 20;
    header.set_size(size);
    header.set_cksum();
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    gz.write_all(header.as_bytes()).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..64 {
        gz.write_all(&zeros).unwrap();
    }
    let bytes = gz.finish().unwrap();
    let dest = tempfile::tempdir().unwrap();
    let err = unpack(&bytes[..], dest.path(), &limits).unwrap_err();
    assert!(
        matches!(
            err,
            UnpackError::StreamTooLarge { .. } | UnpackError::Corrupt(_)
        ),
        "{err}"
    );
}

#[cfg(unix)]
#[test]
fn keeps_links_that_stay_inside() {
    let bytes = hostile_tar_gz(&[
        file("base/app.yaml", b"kind: ConfigMap\n"),
        symlink("overlay/app.yaml", "../base/app.yaml"),
        symlink("current", "base"),
        hardlink("copy.yaml", "base/app.yaml"),
    ]);
    let dest = tempfile::tempdir().unwrap();
    let summary = unpack(&bytes[..], dest.path(), &Limits::default()).unwrap();
    assert_eq!((summary.files, summary.symlinks), (2, 2));
    assert_eq!(
        fs::read(dest.path().join("overlay/app.yaml")).unwrap(),
        b"kind: ConfigMap\n"
    );
    assert_eq!(
        fs::read(dest.path().join("current/app.yaml")).unwrap(),
        b"kind: ConfigMap\n"
    );
    let copy = dest.path().join("copy.yaml");
    assert!(fs::symlink_metadata(&copy).unwrap().is_file());
    assert_eq!(fs::read(copy).unwrap(), b"kind: ConfigMap\n");
}

#[test]
fn refuses_a_non_empty_destination() {
    let src = tempfile::tempdir().unwrap();
    build_tree(src.path(), false);
    let (bytes, _) = pack_bytes(src.path());
    let dest = tempfile::tempdir().unwrap();
    fs::write(dest.path().join("old"), b"x").unwrap();
    let err = unpack(&bytes[..], dest.path(), &Limits::default()).unwrap_err();
    assert!(matches!(err, UnpackError::DestinationNotEmpty(_)), "{err}");
    assert_eq!(fs::read(dest.path().join("old")).unwrap(), b"x");
}

#[test]
fn refuses_corrupt_input_and_removes_a_created_destination() {
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("new");
    let err = unpack(&b"definitely not gzip"[..], &dest, &Limits::default()).unwrap_err();
    assert!(matches!(err, UnpackError::Corrupt(_)), "{err}");
    assert!(!dest.exists());
    // A valid gzip stream with a truncated tar inside.
    let mut bytes = hostile_tar_gz(&[file("a", &[7u8; 2000])]);
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    let tar = {
        let mut d = flate2::read::GzDecoder::new(&bytes[..]);
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut d, &mut v).unwrap();
        v
    };
    gz.write_all(&tar[..1000]).unwrap();
    bytes = gz.finish().unwrap();
    let err = unpack(&bytes[..], &dest, &Limits::default()).unwrap_err();
    assert!(
        matches!(err, UnpackError::Corrupt(_) | UnpackError::Io { .. }),
        "{err}"
    );
    assert!(!dest.exists());
}

#[test]
fn unpack_file_reads_from_disk() {
    let src = tempfile::tempdir().unwrap();
    build_tree(src.path(), false);
    let out = tempfile::tempdir().unwrap();
    let archive = out.path().join("a.tar.gz");
    pack_dir(src.path(), &archive, |_, _| true).unwrap();
    let summary = unpack_file(&archive, &out.path().join("x"), &Limits::default()).unwrap();
    assert_eq!(summary.files, 6);
    let err = unpack_file(
        &out.path().join("nope"),
        &out.path().join("y"),
        &Limits::default(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
}
