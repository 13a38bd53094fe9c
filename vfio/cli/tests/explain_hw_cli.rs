//! `vsva explain` on the emulated VT-d's hardware formats: field-by-field output, the
//! verdict and exit status, and `maps_to` in `--json` (the 2020 request vsva-viommu
//! receives).

use std::process::Command;

use serde_json::Value;

fn vsva(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_vsva"))
        .args(args)
        .output()
        .expect("run vsva");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json(args: &[&str]) -> (i32, Value) {
    let (code, out, err) = vsva(args);
    (
        code,
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out} {err}")),
    )
}

#[test]
fn piotlb_psi_maps_to_an_address_invalidation() {
    // Type 6, G = 3, DID 1, PASID 5; AM 4, IH, ADDR 0x7f12_3450_0000.
    let hex = "3600010005000000 4400503412 7f0000 0000000000000000 0000000000000000";
    let (code, v) = json(&[
        "explain",
        "--struct",
        "vtd_inv_desc",
        "--json",
        "--hex",
        hex,
    ]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["decoded_as"], "vtd_piotlb_inv_desc");
    assert_eq!(v["fields"]["pasid"], 5);
    assert_eq!(v["fields"]["am"], 4);
    assert_eq!(v["fields"]["addr"], 0x7f12_3450_0000u64);
    let m = &v["maps_to"];
    assert_eq!(m["struct"], "iommu_cache_invalidate_info");
    assert_eq!(m["op"], "cache_invalidate");
    // argsz 56, version 1, cache IOTLB, granularity ADDR, flags PASID|LEAF (5), the
    // PASID, the address, 4 KiB × 16.
    let h = m["hex"].as_str().unwrap();
    assert!(
        h.starts_with("38000000010000000102000000000000050000000000000005"),
        "{h}"
    );
    assert!(
        h.contains("0000503412 7f0000".replace(' ', "").as_str()),
        "{h}"
    );
    assert!(h.ends_with("00100000000000001000000000000000"), "{h}");
}

#[test]
fn text_output_lists_every_field_with_its_bits() {
    let (code, out, _) = vsva(&[
        "explain",
        "--struct",
        "vtd_inv_desc",
        "--hex",
        "2600010005000000 0000000000000000 0000000000000000 0000000000000000",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.starts_with("vtd_inv_desc (256-bit) as vtd_piotlb_inv_desc: ACCEPTED"),
        "{out}"
    );
    assert!(out.contains("51:32    pasid    0x5 (5)"), "{out}");
    assert!(
        out.contains("maps to: iommu_cache_invalidate_info (cache_invalidate)"),
        "{out}"
    );
}

#[test]
fn refused_descriptors_exit_1_and_map_to_nothing() {
    // A wait with none of SW/IF/FN, 128-bit.
    let (code, v) = json(&[
        "explain",
        "--struct",
        "vtd_inv_desc",
        "--json",
        "--hex",
        "0500000000000000 0000000000000000",
    ]);
    assert_eq!(code, 1);
    assert_eq!(v["ok"], false);
    assert!(v["error"].as_str().unwrap().contains("IQEI 4"));
    assert!(v["maps_to"].is_null());
    // A PASID-cache invalidation in a 128-bit queue: IQEI 5.
    let (code, v) = json(&[
        "explain",
        "--struct",
        "vtd_inv_desc",
        "--json",
        "--hex",
        "1700010005000000 0000000000000000",
    ]);
    assert_eq!(code, 1);
    assert!(v["error"].as_str().unwrap().contains("IQEI 5"), "{v}");
    // A wrong length is a bad argument.
    let (code, _, err) = vsva(&["explain", "--struct", "vtd_inv_desc", "--hex", "05000000"]);
    assert_eq!(code, 2);
    assert!(err.contains("16 (128-bit queue) or 32"), "{err}");
}

#[test]
fn pasid_entry_maps_to_a_bind_and_bad_ones_to_a_fault() {
    // P, AW 2, PGTT 1; DID 1; FSPTPTR 0x12_3000.
    let mut words = [0u64; 8];
    words[0] = 1 | (2 << 2) | (1 << 6);
    words[1] = 1;
    words[2] = 0x12_3000;
    let hex: String = words
        .iter()
        .map(|w| format!("{:016x}", w.swap_bytes()))
        .collect();
    let (code, v) = json(&[
        "explain",
        "--struct",
        "vtd_pasid_entry",
        "--json",
        "--hex",
        &hex,
    ]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["fields"]["fsptptr"], 0x12_3000);
    assert_eq!(v["maps_to"]["struct"], "iommu_gpasid_bind_data");
    assert_eq!(v["maps_to"]["op"], "bind_gpasid");
    let h = v["maps_to"]["hex"].as_str().unwrap();
    // argsz 72, version 1, format 1 (VT-d), flags 0, hpasid 0, gpasid 0, addr_width 48,
    // gpgd 0x12_3000.
    assert!(h.starts_with("4800000001000000"), "{h}");
    assert!(h.contains("0030120000000000"), "{h}");
    // PGTT 2 (second stage): fault 0x5b.
    words[0] = 1 | (2 << 6);
    let hex: String = words
        .iter()
        .map(|w| format!("{:016x}", w.swap_bytes()))
        .collect();
    let (code, v) = json(&[
        "explain",
        "--struct",
        "vtd_pasid_entry",
        "--json",
        "--hex",
        &hex,
    ]);
    assert_eq!(code, 1);
    assert!(v["error"].as_str().unwrap().contains("0x5b"), "{v}");
    // Not present: an unbind.
    let (code, v) = json(&[
        "explain",
        "--struct",
        "vtd_pasid_entry",
        "--json",
        "--hex",
        &"00".repeat(64),
    ]);
    assert_eq!(code, 0);
    assert_eq!(v["maps_to"]["op"], "unbind_gpasid");
}

#[test]
fn page_request_maps_to_its_iommu_fault() {
    // PP, RID 0x0008, PASID 5; RD WR LPIG, PRGI 0x1a, ADDR 0x7f00_0002_3000.
    let w0: u64 = (1 << 8) | (0x0008 << 16) | (5 << 32);
    let w1: u64 = 0b111 | (0x1a << 3) | 0x7f00_0002_3000;
    let hex = format!(
        "{:016x}{:016x}{}",
        w0.swap_bytes(),
        w1.swap_bytes(),
        "00".repeat(16)
    );
    let (code, v) = json(&[
        "explain",
        "--struct",
        "vtd_page_req_desc",
        "--json",
        "--hex",
        &hex,
    ]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["fields"]["prgi"], 0x1a);
    assert_eq!(v["maps_to"]["struct"], "iommu_fault");
    // type 2 (page request), then prm: flags PASID_VALID|LAST_PAGE (3), pasid 5, grpid 0x1a,
    // perm READ|WRITE (3), addr.
    let h = v["maps_to"]["hex"].as_str().unwrap();
    assert!(h.starts_with("02000000"), "{h}");
    assert!(h.contains("03000000050000001a00000003000000"), "{h}");
}
