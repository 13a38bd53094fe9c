//! Hostile inputs to the `vsva` tool cost bounded memory and time: a 1 GiB batch line,
//! `--hex @/dev/zero`, FIFOs in place of files, a sysfs tree with `/dev/zero` as a
//! device's config space, and a VT-d unit whose `cap` does not parse.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn vsva() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vsva"));
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Waits for `child` at most `limit`; kills it and fails the test past that.
fn finish_within(mut child: Child, limit: Duration, what: &str) -> (i32, String, String) {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let mut out = String::new();
            let mut err = String::new();
            child
                .stdout
                .take()
                .unwrap()
                .read_to_string(&mut out)
                .unwrap();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            return (status.code().unwrap_or(-1), out, err);
        }
        if start.elapsed() > limit {
            child.kill().ok();
            child.wait().ok();
            panic!("{what}: still running after {limit:?} (it hangs)");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("vsva-bounded-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn mkfifo(path: &Path) {
    let ok = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("run mkfifo");
    assert!(ok.success(), "mkfifo {}", path.display());
}

/// The child's peak resident set so far (`VmHWM` of `/proc/<pid>/status`, in KiB); the
/// test samples it while the child runs, `None` once it has exited.
fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// One 1 GiB line through a pipe: one error line comes back, and the tool's peak RSS
/// stays under 64 MB (it holds at most one bounded line; the rest is read and dropped).
#[test]
fn a_one_gib_batch_line_costs_kilobytes_and_gets_one_error_line() {
    let mut child = vsva()
        .args(["explain", "--batch", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("run vsva");
    let pid = child.id();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        // {"struct": "iommu_cache_invalidate_info", "hex": "000…0"} with 1 GiB of hex,
        // generated on the fly.
        stdin
            .write_all(br#"{"struct": "iommu_cache_invalidate_info", "hex": ""#)
            .unwrap();
        let chunk = vec![b'0'; 1 << 20];
        for _ in 0..1024 {
            stdin.write_all(&chunk).unwrap();
        }
        stdin.write_all(b"\"}\n").unwrap();
        // A good line after it is still answered.
        stdin
            .write_all(br#"{"struct": "iommu_cache_invalidate_info", "hex": "10000000 01000000 01 00 000000000000"}"#)
            .unwrap();
        stdin.write_all(b"\n").unwrap();
    });
    let mut peak = 0;
    while child.try_wait().unwrap().is_none() {
        if let Some(kib) = vm_hwm_kib(pid) {
            peak = peak.max(kib);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    writer.join().unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    let first: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(first["ok"], false);
    assert!(first["errno"].is_null());
    assert!(
        first["error"]
            .as_str()
            .unwrap()
            .contains("line 1: the batch line is longer than"),
        "{first}"
    );
    let second: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(second["ok"], true, "{second}");
    assert!(peak > 0, "VmHWM was sampled");
    assert!(peak < 64 * 1024, "peak RSS {peak} KiB");
}

/// `--hex @/dev/zero` is refused at once without reading (not a regular file); so is a
/// FIFO (no writer would make the open or the read hang).
#[test]
fn hex_files_that_are_not_regular_files_are_refused_at_once() {
    let tmp = TempDir::new("hex");
    let fifo = tmp.0.join("fifo");
    mkfifo(&fifo);
    for (arg, kind) in [
        ("@/dev/zero".to_owned(), "character device"),
        (format!("@{}", fifo.display()), "FIFO"),
    ] {
        let child = vsva()
            .args([
                "explain",
                "--struct",
                "iommu_cache_invalidate_info",
                "--hex",
                &arg,
            ])
            .spawn()
            .unwrap();
        let (code, _, err) = finish_within(child, Duration::from_secs(10), &arg);
        assert_eq!(code, 2, "{err}");
        assert!(
            err.contains(kind) && err.contains("not a regular file"),
            "{err}"
        );
    }
    // A batch "file" that is a FIFO: refused too (`-` reads a pipe).
    let child = vsva()
        .args(["explain", "--batch"])
        .arg(&fifo)
        .spawn()
        .unwrap();
    let (code, _, err) = finish_within(child, Duration::from_secs(10), "--batch fifo");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("FIFO"), "{err}");
}

/// A large hex file is refused by size without reading it whole.
#[test]
fn an_oversized_hex_file_is_refused() {
    let tmp = TempDir::new("big");
    let big = tmp.0.join("big.hex");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(1 << 30).unwrap(); // sparse 1 GiB
    let child = vsva()
        .args([
            "explain",
            "--struct",
            "iommu_cache_invalidate_info",
            "--hex",
        ])
        .arg(format!("@{}", big.display()))
        .spawn()
        .unwrap();
    let (code, _, err) = finish_within(child, Duration::from_secs(10), "1 GiB hex file");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("longer than"), "{err}");
}

/// A copy of the recorded tree `name` of `testdata/hosts/`.
fn recorded(name: &str, tmp: &TempDir) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/hosts")
        .join(name);
    let dst = tmp.0.join(name);
    let ok = Command::new("cp")
        .arg("-a")
        .arg(&src)
        .arg(&dst)
        .status()
        .unwrap();
    assert!(ok.success());
    dst
}

fn features(root: &Path) -> (i32, String, String) {
    let child = vsva()
        .args(["features", "--sysfs-root"])
        .arg(root.join("sys"))
        .arg("--dev-root")
        .arg(root.join("dev"))
        .spawn()
        .unwrap();
    finish_within(child, Duration::from_secs(10), "vsva features")
}

/// FIFOs as `osrelease` and as a device's `config`, and `/dev/zero` as a unit's `cap`:
/// the report finishes in seconds and names each file in a WARN line.
#[test]
fn features_refuses_fifos_and_devices_in_sysfs_without_hanging() {
    let tmp = TempDir::new("features");
    let root = recorded("vtd-pasid", &tmp);
    let osrelease = root.join("proc/sys/kernel/osrelease");
    std::fs::remove_file(&osrelease).unwrap();
    mkfifo(&osrelease);
    let config = root.join("sys/bus/pci/devices/0000:3b:00.0/config");
    std::fs::remove_file(&config).unwrap();
    mkfifo(&config);
    let cap = root.join("sys/class/iommu/dmar0/intel-iommu/cap");
    std::fs::remove_file(&cap).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &cap).unwrap();
    let (code, out, err) = features(&root);
    assert!(code == 0 || code == 1, "{code}: {err}");
    for needle in [
        format!("{} ", osrelease.display()),
        format!("config space not readable: {} is a FIFO", config.display()),
        format!("{} ", cap.display()),
    ] {
        assert!(out.contains(&needle), "no {needle:?} in:\n{out}");
    }
    assert!(out.contains("is a FIFO, not a regular file"), "{out}");
    assert!(
        out.contains("is a character device, not a regular file"),
        "{out}"
    );
    assert!(out.contains("VT-d dmar0"), "{out}");
    assert!(!out.contains("no VT-d unit"), "{out}");
}

/// `cap` = `0x+1` is not 1: the unit is a WARN line, not silently gone.
#[test]
fn a_cap_that_does_not_parse_is_a_warn_line() {
    let tmp = TempDir::new("cap");
    let root = recorded("vtd-pasid", &tmp);
    let cap = root.join("sys/class/iommu/dmar0/intel-iommu/cap");
    for bad in ["0x+1\n", "+1\n", "0x\n", "12345678901234567\n", "0x1f zz\n"] {
        std::fs::write(&cap, bad).unwrap();
        let (_, out, _) = features(&root);
        let line = out
            .lines()
            .find(|l| l.contains("VT-d dmar0"))
            .unwrap_or_else(|| panic!("{bad:?}: no dmar0 line in:\n{out}"));
        assert!(
            line.contains("WARN") && line.contains("not a hex register value"),
            "{bad:?}: {line}"
        );
        assert!(!out.contains("no VT-d unit"), "{bad:?}: {out}");
    }
}
