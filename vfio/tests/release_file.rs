//! The bounded reader of a kernel release file (`/proc/sys/kernel/osrelease`).

use std::path::PathBuf;
use std::process::Command;

use vsva_uapi::{Release, ReleaseError};
use vsva_vfio::bounded::{read_release, running_release, ReadError, ReleaseFileError};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vsva-release-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn running_kernel_release_parses() {
    let text = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let mut parts = text.trim().split(['.', '-']);
    let major: u16 = parts.next().unwrap().parse().unwrap();
    let minor: u16 = parts.next().unwrap().parse().unwrap();
    let expected = Release::new(major, minor);
    match running_release() {
        Ok(r) => assert_eq!(r, expected),
        Err(ReleaseFileError::Release {
            source: ReleaseError::TooOld(r),
            ..
        }) => assert_eq!(r, expected),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn release_lines() {
    let dir = scratch("lines");
    let f = dir.join("osrelease");
    for (text, want) in [
        ("7.3.4-1~bpo13+1\n", Some(Release::V7_3)),
        ("6.12.0-1-amd64", Some(Release::new(6, 12))),
        ("6.1.0\nsecond line ignored\n", Some(Release::new(6, 1))),
        ("", None),
        ("\n", None),
        ("garbage\n", None),
    ] {
        std::fs::write(&f, text).unwrap();
        match (read_release(&f), want) {
            (Ok(r), Some(w)) => assert_eq!(r, w, "{text:?}"),
            (Err(ReleaseFileError::Release { source, .. }), None) => {
                assert_eq!(source, ReleaseError::Malformed, "{text:?}")
            }
            (got, _) => panic!("{text:?}: {got:?}"),
        }
    }
    // A line longer than any release, with or without an end: refused unparsed.
    for text in [
        "6.12".to_owned() + &"x".repeat(100),
        "6.".to_owned() + &"1".repeat(1 << 20) + "\n",
    ] {
        std::fs::write(&f, &text).unwrap();
        assert!(
            matches!(read_release(&f), Err(ReleaseFileError::NotALine { .. })),
            "{}",
            text.len()
        );
    }
    std::fs::write(&f, b"6.12\xff\n").unwrap();
    assert!(matches!(
        read_release(&f),
        Err(ReleaseFileError::NotALine { .. })
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A FIFO with no writer, a character device and a directory are refused at once.
#[test]
fn non_regular_files_are_refused_without_blocking() {
    let dir = scratch("fifo");
    let fifo = dir.join("osrelease");
    let ok = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("run mkfifo");
    assert!(ok.success());
    for (path, kind) in [
        (fifo.clone(), "FIFO"),
        (PathBuf::from("/dev/zero"), "character device"),
        (dir.clone(), "directory"),
    ] {
        match read_release(&path) {
            Err(ReleaseFileError::Read {
                source: ReadError::NotRegular { kind: k },
                ..
            }) => assert_eq!(k, kind),
            other => panic!("{}: {other:?}", path.display()),
        }
    }
    assert!(matches!(
        read_release(dir.join("missing")),
        Err(ReleaseFileError::Read { source, .. }) if source.is_not_found()
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}
