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
