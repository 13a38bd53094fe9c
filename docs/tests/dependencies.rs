//! The promise of issue 18.8: a VMM that depends on `vsva-vfio` or `vsva-viommu` with
//! `default-features = false` links no CLI crate (clap, serde, serde_json) and no KVM
//! crate (kvm-ioctls, kvm-bindings). Checked with `cargo tree`, the way a VMM's build
//! would resolve them.

use std::process::Command;

/// Crates a VMM library must not pull in through vsva's libraries.
const FORBIDDEN: [&str; 5] = ["clap", "serde", "serde_json", "kvm-ioctls", "kvm-bindings"];

/// The normal (non-dev, non-build) dependency names of `package` without its default
/// features.
fn normal_dependencies(package: &str) -> Vec<String> {
    let out = Command::new(env!("CARGO"))
        .args([
            "tree",
            "-p",
            package,
            "--no-default-features",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo tree");
    assert!(
        out.status.success(),
        "cargo tree -p {package} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    let names: Vec<String> = stdout
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    assert!(
        names.iter().any(|n| n == package),
        "cargo tree did not list {package} itself:\n{stdout}"
    );
    names
}

fn assert_clean(package: &str) {
    let deps = normal_dependencies(package);
    let found: Vec<&str> = FORBIDDEN
        .into_iter()
        .filter(|f| deps.iter().any(|d| d == f))
        .collect();
    assert!(
        found.is_empty(),
        "{package} --no-default-features pulls in {found:?}; full list: {deps:?}"
    );
}

#[test]
fn vsva_vfio_without_default_features_links_no_cli_or_kvm_crate() {
    assert_clean("vsva-vfio");
}

#[test]
fn vsva_viommu_without_default_features_links_no_cli_or_kvm_crate() {
    assert_clean("vsva-viommu");
}

/// The check itself can fail: the CLI crate does pull clap and serde_json, and vsva-vfio
/// with its `kvm` feature pulls kvm-ioctls.
#[test]
fn the_check_sees_what_the_cli_and_the_kvm_feature_pull_in() {
    let cli = normal_dependencies("vsva-cli");
    assert!(cli.iter().any(|d| d == "clap") && cli.iter().any(|d| d == "serde_json"));
    let out = Command::new(env!("CARGO"))
        .args([
            "tree",
            "-p",
            "vsva-vfio",
            "--features",
            "kvm",
            "-e",
            "normal",
        ])
        .args(["--prefix", "none", "--format", "{p}"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo tree");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.lines().any(|l| l.starts_with("kvm-ioctls ")),
        "{stdout}"
    );
}

/// No binding crate (vfio-bindings, iommufd-bindings) is a normal dependency of vsva's
/// libraries, with every feature: a VMM that links its own version of them (cloud-hypervisor
/// pins older ones) gets no second copy through vsva, and no binding type crosses vsva's
/// API. vsva-vfio uses them as dev-dependencies only, to check its own declarations.
#[test]
fn vsva_libraries_link_no_binding_crate() {
    for package in [
        "vsva-uapi",
        "vsva-vfio",
        "vsva-viommu",
        "vsva-vtd",
        "vsva-vmm",
    ] {
        let out = Command::new(env!("CARGO"))
            .args(["tree", "-p", package, "--all-features", "-e", "normal"])
            .args(["--prefix", "none", "--format", "{p}"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("run cargo tree");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(&format!("{package} "))),
            "{stdout}"
        );
        let bindings: Vec<&str> = stdout
            .lines()
            .filter(|l| l.starts_with("vfio-bindings ") || l.starts_with("iommufd-bindings "))
            .collect();
        assert!(bindings.is_empty(), "{package} links {bindings:?}");
    }
}

/// The crates whose types cross vsva's public API (or a VMM hands across it: vm-memory's
/// `GuestMemory`, kvm-ioctls' `VmFd` and `DeviceFd`), and the binding crates. Each must
/// resolve to one copy in a VMM's graph.
const SHARED_WITH_A_VMM: [&str; 8] = [
    "vm-memory",
    "kvm-ioctls",
    "kvm-bindings",
    "vmm-sys-util",
    "zerocopy",
    "vfio-bindings",
    "iommufd-bindings",
    "thiserror",
];

/// vsva's libraries in one graph with rust-vmm's vfio-ioctls 0.10 (its current release,
/// from the registry, with its cdev + iommufd interface): a scratch crate depending on
/// both, resolved by `cargo tree --duplicates`. No crate whose types cross vsva's API is
/// duplicated; the duplicates that exist (bitflags 1 through vmm-sys-util, never in vsva's API;
/// syn versions for proc macros) are the check's proof that it sees duplicates at all.
/// Resolving vfio-ioctls needs the registry, like every build of the workspace.
#[test]
fn vsva_and_vfio_ioctls_share_one_copy_of_every_crate_across_the_api() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf();
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("vmm-graph");
    std::fs::create_dir_all(dir.join("src")).unwrap();
    let path = |p: &str| root.join(p).display().to_string();
    let manifest = format!(
        "[package]\nname = \"vmm-graph\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\
         [dependencies]\n\
         vsva-vfio = {{ path = {:?}, features = [\"kvm\", \"vm-memory\"] }}\n\
         vsva-viommu = {{ path = {:?} }}\n\
         vsva-vtd = {{ path = {:?} }}\n\
         vfio-ioctls = {{ version = \"0.10\", features = [\"vfio_cdev\"] }}\n\
         [workspace]\n",
        path("vfio"),
        path("viommu"),
        path("viommu/vtd"),
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    std::fs::write(dir.join("src/lib.rs"), "").unwrap();
    let tree = |extra: &[&str]| {
        let out = Command::new(env!("CARGO"))
            .args([
                "tree", "-e", "normal", "--prefix", "none", "--format", "{p}",
            ])
            .args(extra)
            .current_dir(&dir)
            .output()
            .expect("run cargo tree");
        assert!(
            out.status.success(),
            "cargo tree {extra:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    };
    let all = tree(&[]);
    assert!(
        all.lines().any(|l| l.starts_with("vfio-ioctls v0.10.")),
        "vfio-ioctls 0.10 is not in the graph:\n{all}"
    );
    let dups = tree(&["--duplicates", "--depth", "0"]);
    let dup_names: Vec<&str> = dups
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(
        dup_names.contains(&"bitflags"),
        "the check should see bitflags 1 and 2: {dups}"
    );
    let crossing: Vec<&str> = dup_names
        .iter()
        .copied()
        .filter(|n| SHARED_WITH_A_VMM.contains(n))
        .collect();
    assert!(
        crossing.is_empty(),
        "duplicated in a graph with vfio-ioctls: {crossing:?}\n{dups}"
    );
}
