//! The committed guest images of `viommu/vmm/guests` (issue 7's KVM guests) are what their
//! nasm sources assemble to, and each fits where the mini-VMM loads it.
//!
//! With nasm installed, `viommu/vmm/guests/build.sh --check` re-assembles every image into a
//! temporary directory and compares it byte for byte. Without nasm the check cannot run:
//! under `CI=true` that is a failure (CI installs nasm), elsewhere a loud `SKIP:` line.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Every image `build.sh` produces.
const IMAGES: [&str; 7] = [
    "well_behaved.bin",
    "gen1.bin",
    "gen2.bin",
    "gen3.bin",
    "hostile.bin",
    "vtd_linux.bin",
    "vtd_hostile.bin",
];

/// Code is loaded at GPA 0x1000 and the stack starts at 0x7000: an image must end below it.
const MAX_IMAGE: usize = 0x7000 - 0x1000;

/// Every image starts with `GUEST_START` (pv.inc): `cli; xor ax, ax; mov ds, ax; mov es, ax;
/// mov ss, ax; mov sp, 0x7000`.
const PROLOGUE: [u8; 12] = [
    0xfa, 0x31, 0xc0, 0x8e, 0xd8, 0x8e, 0xc0, 0x8e, 0xd0, 0xbc, 0x00, 0x70,
];

fn guests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("guests")
}

fn nasm_available() -> bool {
    Command::new("nasm")
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn committed_images_fit_the_load_area() {
    for name in IMAGES {
        let path = guests_dir().join(name);
        let image = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (run viommu/vmm/guests/build.sh)", path.display()));
        assert!(!image.is_empty(), "{name} is empty");
        assert!(
            image.len() < MAX_IMAGE,
            "{name} is {} bytes: it must fit GPA 0x1000..0x7000 ({MAX_IMAGE} bytes)",
            image.len()
        );
        assert!(
            image.starts_with(&PROLOGUE),
            "{name} does not start with GUEST_START's prologue: {:02x?}",
            &image[..image.len().min(PROLOGUE.len())]
        );
    }
}

#[test]
fn committed_images_match_their_sources() {
    if !nasm_available() {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        assert!(
            !ci,
            "nasm not installed under CI=true: the guest images cannot be checked against \
             their sources (apt-get install nasm)"
        );
        let _ = std::io::Write::write_fmt(
            &mut std::io::stderr(),
            format_args!("SKIP: nasm not installed (apt-get install nasm)\n"),
        );
        return;
    }
    let out = Command::new("sh")
        .arg(guests_dir().join("build.sh"))
        .arg("--check")
        .output()
        .expect("run viommu/vmm/guests/build.sh --check");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "build.sh --check failed ({}): the committed guest images are not what their sources \
         assemble to; run viommu/vmm/guests/build.sh\n{stdout}{stderr}",
        out.status
    );
    for name in IMAGES {
        assert!(
            stdout.contains(&format!("ok: {name} ")),
            "build.sh --check did not check {name}:\n{stdout}"
        );
    }
}
