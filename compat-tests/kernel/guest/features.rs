//! `vsva features --json` inside the guest: the real sysfs, `/dev/vfio`, `/dev/iommu` and
//! `IOMMU_GET_HW_INFO` of the emulated VT-d, read by the static `/bin/vsva`, and what
//! `vsva-viommu`'s iommufd backend would offer a guest (its nest-parent probe against
//! the real kernel).

use std::process::{Command, Stdio};

use serde_json::Value;

use crate::guest::{self, IommuConfig, PciDevice};

/// The static `vsva` the harness puts into the initramfs (`VSVA_BIN`, set by `/init`).
fn vsva() -> String {
    std::env::var("VSVA_BIN").unwrap_or_else(|_| "/bin/vsva".into())
}

struct Run {
    code: i32,
    json: Value,
}

fn features_json() -> Run {
    let vsva = vsva();
    let out = Command::new(&vsva)
        .args(["features", "--json"])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {vsva}: {e}"));
    let stdout = String::from_utf8(out.stdout).expect("utf-8 stdout");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let json = serde_json::from_str(stdout.trim_end())
        .unwrap_or_else(|e| panic!("not one JSON object ({e}): {stdout}\nstderr: {stderr}"));
    Run {
        code: out.status.code().expect("vsva exited, not killed"),
        json,
    }
}

/// `vsva features` (human output): stdout and exit code.
fn features_human() -> (i32, String) {
    let vsva = vsva();
    let out = Command::new(&vsva)
        .arg("features")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {vsva}: {e}"));
    (
        out.status.code().expect("vsva exited, not killed"),
        String::from_utf8(out.stdout).expect("utf-8 stdout"),
    )
}

fn check_opt<'a>(report: &'a Value, id: &str) -> Option<&'a Value> {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["id"] == id)
}

fn check<'a>(report: &'a Value, id: &str) -> &'a Value {
    check_opt(report, id).unwrap_or_else(|| panic!("no check {id}: {}", report["checks"]))
}

fn device<'a>(report: &'a Value, bdf: &str) -> &'a Value {
    report["devices"]
        .as_array()
        .expect("devices")
        .iter()
        .find(|d| d["bdf"] == bdf)
        .unwrap_or_else(|| panic!("{bdf} not listed: {}", report["devices"]))
}

fn hex(v: u64) -> String {
    format!("{v:#x}")
}

#[test]
fn vsva_features_json_reports_the_guest() {
    guest::require_guest();
    let config = IommuConfig::of_this_boot();
    let vtd = config.vtd();
    let run = features_json();
    let r = &run.json;

    // Emulated VT-d cannot nest: some features are missing, exit code 1 (as documented).
    assert_eq!(run.code, 1, "{r:#}");
    assert_eq!(r["exit_code"], 1);
    assert_eq!(r["usable"], false);
    assert_eq!(r["schema_version"], 1);
    let release = r["kernel"].as_str().expect("kernel release");
    // The release of the kernel the harness built (its source package's upstream part).
    let (_, version) = guest::harness_kernel();
    let upstream = version.split(['-', '~', '+']).next().unwrap_or_default();
    assert!(release.starts_with(upstream), "{release}, built from {version}");

    for id in [
        "kernel",
        "dev_vfio",
        "vfio_api",
        "vfio_type1v2",
        "vfio_noiommu",
        "dev_iommu",
        "vfio_cdev",
        "iommu_groups",
        "vfio_devices",
    ] {
        assert_eq!(check(r, id)["status"], "PASS", "{id}: {}", check(r, id));
    }
    assert_eq!(check(r, "vfio_cdev")["detail"], "2 VFIO cdev(s)");
    let (edu, nic) = (guest::edu(), guest::nic());
    assert_eq!(
        check(r, "vfio_devices")["detail"],
        format!("{} {}", edu.bdf, nic.bdf)
    );
    // The VT-d unit, from sysfs: no nesting on either config, hence a WARN.
    let unit = check(r, "vtd:dmar0");
    assert_eq!(unit["status"], "WARN", "{unit}");
    let detail = unit["detail"].as_str().unwrap();
    assert!(detail.contains("nesting (ECAP.NEST)"), "{detail}");
    let hint = unit["hint"].as_str().unwrap();
    match config {
        IommuConfig::Default => {
            assert!(detail.contains("scalable mode (ECAP.SMTS)"), "{detail}");
            assert!(hint.contains("needs scalable-mode hardware"), "{hint}");
        }
        IommuConfig::Scalable => {
            assert!(!detail.contains("ECAP.SMTS"), "{detail}");
            assert!(!detail.contains("PASID (ECAP.PASID)"), "{detail}");
            assert_eq!(hint, "this IOMMU cannot nest guest page tables");
        }
    }
    assert_eq!(r["vtd_units"].as_array().unwrap().len(), 1);
    let u = &r["vtd_units"][0];
    assert_eq!(u["name"], "dmar0");
    assert_eq!(u["cap"], hex(vtd.cap_reg));
    assert_eq!(u["ecap"], hex(vtd.ecap_reg));
    assert_eq!(u["scalable_mode"], vtd.scalable_mode);
    assert_eq!(u["pasid"], vtd.pasid);
    assert_eq!(u["pasid_bits"], vtd.pasid_bits);
    assert_eq!(u["nesting"], false);
    assert_eq!(u["first_level"], false);
    assert_eq!(u["page_requests"], false);
    assert_eq!(u["queued_invalidation"], true);

    for (dev, vendor, id) in [(&edu, "1234", "11e8"), (&nic, "8086", "10d3")] {
        check_device(r, dev, vendor, id, config);
    }
    // e1000e is PCIe: its 4 KiB config space is walked without a problem.
    assert!(device(r, &nic.bdf)["config_problem"].is_null());
    assert_eq!(device(r, &nic.bdf)["pcie"], true);
    assert!(check_opt(r, &format!("pci_config:{}", nic.bdf)).is_none());
    // edu is conventional PCI: its sysfs `config` is 256 bytes even for root. That is a
    // fact about the device, not a problem with the read: no WARN, `pcie` false, and the
    // missing PASID capability explained.
    let e = device(r, &edu.bdf);
    assert!(e["config_problem"].is_null(), "{e}");
    assert_eq!(e["pcie"], false);
    assert!(check_opt(r, &format!("pci_config:{}", edu.bdf)).is_none());
    let why = e["reasons"]["BIND_PGTBL"].as_str().unwrap();
    assert!(
        why.contains("a conventional PCI device has no extended capabilities"),
        "{why}"
    );

    // Every other device of every group is listed too, not bound to vfio-pci, not asked.
    let devices = r["devices"].as_array().unwrap();
    assert!(devices.len() > 2, "only {} devices", devices.len());
    for d in devices {
        if d["bdf"] != edu.bdf.as_str() && d["bdf"] != nic.bdf.as_str() {
            assert_ne!(d["driver"], "vfio-pci", "{d}");
            assert!(d["hw_info"].is_null(), "{d}");
            assert!(d["cdev"].is_null(), "{d}");
            assert!(d["iommufd_backend"].is_null(), "{d}");
            assert_eq!(d["iommufd_backend_not_probed"], "not bound to vfio-pci");
        }
    }

    // The human output: one offer line per vfio-pci device, as the JSON says.
    let (code, human) = features_human();
    assert_eq!(code, 1, "{human}");
    let line = match config {
        IommuConfig::Default => {
            "  iommufd backend offer: none (no nesting: not in hardware, no ECAP.SMTS, \
             ECAP.NEST, ECAP.FLTS; the kernel also refused a nest parent: EOPNOTSUPP (95))"
        }
        IommuConfig::Scalable => {
            "  iommufd backend offer: SYSWIDE_PASID (no nesting: not in hardware, no \
             ECAP.NEST, ECAP.FLTS; the kernel also refused a nest parent: EOPNOTSUPP (95))"
        }
    };
    assert_eq!(
        human.lines().filter(|l| *l == line).count(),
        2,
        "edu and e1000e: {line:?}\n{human}"
    );
    println!("vsva features (human), {config:?}: {line}");
    println!(
        "vsva features --json, {config:?}, {}: \"iommufd_backend\": {}",
        edu.bdf,
        device(r, &edu.bdf)["iommufd_backend"]
    );

    let groups: Vec<u64> = devices
        .iter()
        .map(|d| d["group"].as_u64().unwrap())
        .collect();
    assert!(
        groups.windows(2).all(|w| w[0] <= w[1]),
        "by group: {groups:?}"
    );
}

fn check_device(r: &Value, dev: &PciDevice, vendor: &str, id: &str, config: IommuConfig) {
    let vtd = config.vtd();
    let d = device(r, &dev.bdf);
    let at = &dev.bdf;
    assert_eq!(d["vendor"], vendor, "{at}");
    assert_eq!(d["device"], id, "{at}");
    assert_eq!(d["driver"], "vfio-pci", "{at}");
    assert_eq!(d["group"], dev.group, "{at}");
    assert_eq!(d["cdev"], dev.cdev.as_str(), "{at}");
    assert_eq!(d["iommu"], "dmar0", "{at}");
    // Emulated devices: no PASID, PRI or ATS capability.
    assert!(d["pasid"].is_null(), "{at}: {}", d["pasid"]);
    assert_eq!(
        (&d["pri"], &d["ats"]),
        (&Value::Bool(false), &Value::Bool(false))
    );

    // IOMMU_GET_HW_INFO through the device's cdev, decoded.
    let hw = &d["hw_info"];
    assert!(hw["error"].is_null(), "{at}: {hw}");
    assert_eq!(hw["data_type"], 1, "{at}: VT-d");
    assert_eq!(
        hw["capabilities"],
        guest::vtd_device_hw_caps(guest::release()),
        "{at}"
    );
    assert_eq!(hw["max_pasid_log2"], 0, "{at}");
    let v = &hw["vtd"];
    assert_eq!(v["cap_reg"], hex(vtd.cap_reg), "{at}");
    assert_eq!(v["ecap_reg"], hex(vtd.ecap_reg), "{at}");
    assert_eq!(v["scalable_mode"], vtd.scalable_mode, "{at}");
    assert_eq!(v["nesting"], false, "{at}");
    assert_eq!(v["first_level"], false, "{at}");
    assert_eq!(v["pasid_bits"], vtd.pasid_bits, "{at}");
    assert_eq!(v["page_requests"], false, "{at}");
    assert_eq!(v["supervisor_requests"], vtd.supervisor_requests, "{at}");

    // The derived nesting features: only SYSWIDE_PASID, and only with ECAP.PASID.
    let (features, mask, syswide) = match config {
        IommuConfig::Default => (Vec::<&str>::new(), 0, "FAIL"),
        IommuConfig::Scalable => (vec!["SYSWIDE_PASID"], 1, "PASS"),
    };
    assert_eq!(d["nesting_features"], serde_json::json!(features), "{at}");
    assert_eq!(d["nesting_features_mask"], mask, "{at}");
    let status = &d["feature_status"];
    assert_eq!(status["SYSWIDE_PASID"], syswide, "{at}");
    assert_eq!(status["BIND_PGTBL"], "FAIL", "{at}");
    assert_eq!(status["BIND_PASID_TABLE"], "N/A", "{at}");
    assert_eq!(status["CACHE_INVLD"], "FAIL", "{at}");
    assert_eq!(status["PAGE_REQUEST"], "FAIL", "{at}");
    let why = d["reasons"]["BIND_PGTBL"].as_str().unwrap();
    assert!(
        why.contains("IOMMU_GET_HW_INFO nesting (ECAP.NEST)"),
        "{at}: the unit is the one GET_HW_INFO described: {why}"
    );
    assert!(why.contains("a device PASID capability"), "{at}: {why}");
    assert!(!why.contains("binding to vfio-pci"), "{at}: {why}");
    let pr = d["reasons"]["PAGE_REQUEST"].as_str().unwrap();
    assert!(
        pr.contains("ECAP.PRS") && pr.contains("a device PRI capability"),
        "{at}: {pr}"
    );

    check_backend_offer(d, config);
}

/// What the iommufd backend would offer, probed in the GET_HW_INFO session: neither
/// emulated VT-d has `ECAP.NEST`, so nesting is `not_in_hardware`; the nest parent is
/// asked for anyway and the real kernel refuses it with `EOPNOTSUPP` (intel-iommu's
/// `nested_supported()`), recorded as `errno`. The offer is the shared rule on the
/// decoded registers: `SYSWIDE_PASID` exactly when they have PASID bits (`scalable`).
fn check_backend_offer(d: &Value, config: IommuConfig) {
    let vtd = config.vtd();
    let at = d["bdf"].as_str().unwrap();
    let b = &d["iommufd_backend"];
    assert!(
        d["iommufd_backend_not_probed"].is_null(),
        "{at}: {}",
        d["iommufd_backend_not_probed"]
    );
    assert_eq!(b["nesting"], "not_in_hardware", "{at}: {b}");
    assert_eq!(
        b["errno"], "EOPNOTSUPP",
        "{at}: the kernel refused too: {b}"
    );
    let mut missing = vec![];
    if !vtd.scalable_mode {
        missing.push("ECAP.SMTS");
    }
    missing.extend(["ECAP.NEST", "ECAP.FLTS"]);
    assert_eq!(b["hardware_missing"], serde_json::json!(missing), "{at}");
    // The rule, from the registers: no nesting leaves only SYSWIDE_PASID, with PASID bits.
    assert!(!vtd.nesting && !vtd.first_level, "{at}");
    let offer = vsva_viommu::HostIommu::Vtd(vtd).features();
    let (names, mask) = match config {
        IommuConfig::Default => {
            assert_eq!(vtd.pasid_bits, 0);
            (Vec::<&str>::new(), 0)
        }
        IommuConfig::Scalable => {
            assert!(vtd.pasid && vtd.pasid_bits > 0, "{vtd:?}");
            (vec!["SYSWIDE_PASID"], 1)
        }
    };
    assert_eq!(offer.bits(), mask, "{at}: the shared rule");
    assert_eq!(b["offer"], serde_json::json!(names), "{at}: {b}");
    assert_eq!(b["offer_mask"], mask, "{at}: {b}");
}
