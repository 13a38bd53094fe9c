//! End-to-end tests of `vsva explain`: the built binary, its exit codes, its JSON and
//! human output, `--batch`, and the README's quick-start command and output.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{json, Value};

/// The valid 56-byte address-selective IOTLB invalidation of
/// `examples/cache-invalidate-addr.hex` (x86_64): argsz 56, version 1, cache IOTLB,
/// granularity ADDR, addr_info {flags PASID, pasid 5, addr 0x1000, 4 x 4096}.
const ADDR_INV: &str = "38000000 01000000 01 02 000000000000 \
    01000000 00000000 0500000000000000 0010000000000000 \
    0010000000000000 0400000000000000";

/// The same request with argsz 40: it ends inside `granu.addr_info`.
const ADDR_INV_ARGSZ_40: &str = "28000000 01000000 01 02 000000000000 \
    01000000 00000000 0500000000000000 0010000000000000 \
    0010000000000000 0400000000000000";

/// A VT-d guest PASID bind: argsz 56 (no vendor.vtd), version 1, format 1 (VT-d),
/// addr_width 48, hpasid 5.
const BIND_ARGSZ_56: &str = "38000000 01000000 01000000 30000000 0000000000000000 \
    0000000000000000 0500000000000000 0000000000000000 0000000000000000";

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim_end())
            .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}): {}", self.stdout))
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("vfio/cli/ is two levels down")
        .to_path_buf()
}

/// Runs `vsva ARGS` in the workspace root, feeding `stdin` if given.
fn vsva(args: &[&str], stdin: Option<&str>) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vsva"))
        .args(args)
        .current_dir(workspace_root())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run vsva");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        pipe.write_all(input.as_bytes()).expect("write stdin");
    }
    let out = child.wait_with_output().expect("wait for vsva");
    Run {
        code: out.status.code().expect("vsva exited normally"),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    }
}

fn explain_json(name: &str, extra: &[&str], hex: &str) -> Run {
    let mut args = vec!["explain", "--struct", name, "--json"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--hex", hex]);
    vsva(&args, None)
}

#[test]
fn accepted_blob_exits_0_with_every_field_in_json() {
    let run = explain_json(
        "iommu_cache_invalidate_info",
        &[],
        "@examples/cache-invalidate-addr.hex",
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        run.stdout.lines().count(),
        1,
        "one JSON object: {}",
        run.stdout
    );
    let v = run.json();
    assert_eq!(v["struct"], "iommu_cache_invalidate_info");
    assert_eq!(v["policy"], "linux-5.10");
    assert_eq!(v["vendor"], Value::Null);
    assert_eq!(v["ok"], true);
    assert_eq!(v["errno"], Value::Null);
    assert_eq!(v["errno_name"], Value::Null);
    assert_eq!(v["error"], Value::Null);
    assert_eq!(v["argsz"], 56);
    assert_eq!(v["bytes_read"], 56);
    let fields = v["fields"].as_object().expect("fields is an object");
    assert_eq!(fields["granu.addr_info.nb_granules"], 4);
    assert_eq!(fields["granu.addr_info.granule_size"], 4096);
    assert_eq!(fields["granu.addr_info.addr"], 0x1000);
    assert_eq!(fields["granu.addr_info.pasid"], 5);
    assert_eq!(fields["granu.addr_info.flags"], 1);
    assert_eq!(fields["granularity"], 2);
    assert_eq!(fields["padding"], "000000000000");
    let order: Vec<&str> = fields.keys().map(String::as_str).collect();
    assert_eq!(order.first(), Some(&"argsz"), "offset order: {order:?}");
    assert_eq!(order.last(), Some(&"granu.addr_info.nb_granules"));
}

#[test]
fn inline_hex_and_the_example_file_give_the_same_verdict() {
    let file = explain_json(
        "iommu_cache_invalidate_info",
        &[],
        "@examples/cache-invalidate-addr.hex",
    );
    let inline = explain_json(
        "iommu_cache_invalidate_info",
        &[],
        &format!("0x{}", ADDR_INV.replace(' ', ":")),
    );
    assert_eq!(inline.code, 0, "{}", inline.stderr);
    assert_eq!(file.json(), inline.json());
}

#[test]
fn truncated_argsz_is_einval_with_exit_1() {
    let run = explain_json("iommu_cache_invalidate_info", &[], ADDR_INV_ARGSZ_40);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let v = run.json();
    assert_eq!(v["ok"], false);
    assert_eq!(v["errno"], 22);
    assert_eq!(v["errno_name"], "EINVAL");
    assert_eq!(v["argsz"], 40);
    assert_eq!(v["bytes_read"], 16, "only the mandatory header is read");
    assert_eq!(v["fields"], json!({}));
    let error = v["error"].as_str().expect("error is a string");
    assert!(error.contains("addr_info"), "{error}");
}

#[test]
fn rejection_in_human_form_names_errno_rule_and_kernel_source() {
    let run = vsva(
        &[
            "explain",
            "--struct",
            "iommu_cache_invalidate_info",
            "--hex",
            ADDR_INV_ARGSZ_40,
        ],
        None,
    );
    assert_eq!(run.code, 1);
    let mut lines = run.stdout.lines();
    assert_eq!(
        lines.next(),
        Some("iommu_cache_invalidate_info under linux-5.10, kernel 7.3: REJECTED with EINVAL (22)")
    );
    assert!(lines
        .next()
        .is_some_and(|l| l.starts_with("  rule:   VariantTruncated: ")));
    assert!(lines
        .next()
        .is_some_and(|l| l.starts_with("  kernel: iommu.c iommu_uapi_cache_invalidate")));
    assert!(run.stdout.contains("read 16 of 56 bytes given"));
}

#[test]
fn zero_tail_override_rejects_a_non_zero_tail_with_e2big() {
    // 64 bytes, argsz 64, a non-zero byte past the kernel's 56.
    let hex = format!("40{} 00000000 000000ff", &ADDR_INV[2..]);
    let linux510 = explain_json("iommu_cache_invalidate_info", &[], &hex);
    assert_eq!(
        linux510.code, 0,
        "v5.10 ignores the tail: {}",
        linux510.stdout
    );
    assert_eq!(linux510.json()["bytes_read"], 56);

    let run = explain_json(
        "iommu_cache_invalidate_info",
        &["--policy", "zero-tail"],
        &hex,
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let v = run.json();
    assert_eq!(v["policy"], "zero-tail");
    assert_eq!(v["errno"], 7);
    assert_eq!(v["errno_name"], "E2BIG");
    assert_eq!(v["bytes_read"], 64);
}

#[test]
fn blob_shorter_than_argsz_is_efault() {
    // argsz says 56 but only 40 bytes are readable.
    let hex: String = ADDR_INV.split_whitespace().collect();
    let run = explain_json("iommu_cache_invalidate_info", &[], &hex[..80]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let v = run.json();
    assert_eq!(v["errno"], 14);
    assert_eq!(v["errno_name"], "EFAULT");
    assert_eq!(v["argsz"], 56);
    assert_eq!(v["bytes_read"], 40);
}

#[test]
fn fewer_than_four_bytes_leave_argsz_null() {
    let run = explain_json("iommu_hwpt_alloc", &[], "3000");
    assert_eq!(run.code, 1);
    let v = run.json();
    assert_eq!(v["errno_name"], "EFAULT");
    assert_eq!(v["argsz"], Value::Null);
    assert_eq!(v["bytes_read"], 2);
}

#[test]
fn unknown_struct_exits_2_listing_the_valid_names() {
    let run = vsva(&["explain", "--struct", "iommu_bogus", "--hex", "00"], None);
    assert_eq!(run.code, 2);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(
        run.stderr.contains("unknown struct `iommu_bogus`"),
        "{}",
        run.stderr
    );
    // Exactly the declared structs, the VFIO and IOAS ones too.
    let listed: Vec<&str> = run
        .stderr
        .split("valid names: ")
        .nth(1)
        .expect("a list of names")
        .lines()
        .next()
        .unwrap_or_default()
        .split("; or an ioctl's: ")
        .next()
        .unwrap_or_default()
        .split(", ")
        .collect();
    let declared: Vec<&str> = vsva_uapi::ALL_STRUCTS.iter().map(|l| l.name).collect();
    assert_eq!(listed, declared);
    assert!(declared.len() >= 46);
    // Then every declared ioctl's name, which names its struct.
    let ioctls: Vec<&str> = vsva_uapi::ioctl::ALL_IOCTLS
        .iter()
        .map(|i| i.name)
        .collect();
    let tail = run
        .stderr
        .split("; or an ioctl's: ")
        .nth(1)
        .unwrap_or_default();
    let tail = tail.lines().next().unwrap_or_default();
    assert_eq!(tail.split(", ").collect::<Vec<_>>(), ioctls);
    for name in [
        "vfio_iommu_type1_dma_map",
        "iommu_ioas_map",
        "iommu_destroy",
    ] {
        assert!(
            listed.contains(&name),
            "{name} missing from: {}",
            run.stderr
        );
    }
}

#[test]
fn bad_hex_exits_2_with_a_clear_message() {
    for (hex, want) in [
        ("380", "odd number of hex digits"),
        ("38 0g", "'g' at character 5 is not a hex digit"),
        ("38::00", "expected a byte at character 4"),
        ("@examples/no-such-file.hex", "cannot read hex file"),
    ] {
        let run = vsva(
            &["explain", "--struct", "iommu_hwpt_alloc", "--hex", hex],
            None,
        );
        assert_eq!(run.code, 2, "{hex}: {}", run.stdout);
        assert!(run.stdout.is_empty(), "{hex}: {}", run.stdout);
        assert!(run.stderr.contains(want), "{hex}: {}", run.stderr);
    }
}

#[test]
fn other_bad_arguments_exit_2() {
    for args in [
        &[
            "explain",
            "--struct",
            "iommu_hwpt_alloc",
            "--policy",
            "v5.10",
            "--hex",
            "00",
        ][..],
        &[
            "explain",
            "--struct",
            "iommu_hwpt_alloc",
            "--vendor",
            "amd",
            "--hex",
            "00",
        ],
        &["explain", "--struct", "iommu_hwpt_alloc"],
        &["explain", "--hex", "00"],
        &["explain", "--batch", "-", "--struct", "iommu_hwpt_alloc"],
        &["explain", "--batch", "examples/no-such-file.jsonl"],
        &["frobnicate"],
        &[],
    ] {
        let run = vsva(args, Some(""));
        assert_eq!(run.code, 2, "{args:?}: {}{}", run.stdout, run.stderr);
        assert!(!run.stderr.is_empty(), "{args:?}: no message");
    }
}

#[test]
fn vtd_vendor_needs_the_whole_vendor_member() {
    let generic = explain_json("iommu_gpasid_bind_data", &[], BIND_ARGSZ_56);
    assert_eq!(generic.code, 0, "the core leaves the size to the vendor");

    let run = explain_json(
        "iommu_gpasid_bind_data",
        &["--vendor", "vtd"],
        BIND_ARGSZ_56,
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let v = run.json();
    assert_eq!(v["vendor"], "vtd");
    assert_eq!(v["errno"], 22);
    assert_eq!(v["errno_name"], "EINVAL");
    let error = v["error"].as_str().unwrap();
    assert!(
        error.contains("vtd driver needs argsz >= 72, got 56"),
        "{error}"
    );

    let human = vsva(
        &[
            "explain",
            "--struct",
            "iommu_gpasid_bind_data",
            "--vendor",
            "vtd",
            "--hex",
            BIND_ARGSZ_56,
        ],
        None,
    );
    assert_eq!(human.code, 1);
    assert!(
        human.stdout.contains("rule:   VendorTruncated: "),
        "{}",
        human.stdout
    );
    assert!(
        human.stdout.contains("intel_svm_bind_gpasid"),
        "{}",
        human.stdout
    );
}

#[test]
fn iommufd_and_vfio_cdev_structs_default_to_their_own_policies() {
    // A v6.6-sized iommu_hwpt_alloc (24 bytes).
    let hwpt = explain_json(
        "iommu_hwpt_alloc",
        &[],
        "18000000 00000000 01000000 02000000 00000000 00000000",
    );
    assert_eq!(hwpt.code, 0, "{}{}", hwpt.stdout, hwpt.stderr);
    assert_eq!(hwpt.json()["policy"], "zero-tail");

    let attach = explain_json(
        "vfio_device_attach_iommufd_pt",
        &[],
        "10000000 01000000 07000000 05000000",
    );
    assert_eq!(attach.code, 0, "{}{}", attach.stdout, attach.stderr);
    let v = attach.json();
    assert_eq!(v["policy"], "flags-xend");
    assert_eq!(v["fields"]["pasid"], 5);

    let cache = explain_json("iommu_cache_invalidate_info", &[], ADDR_INV);
    assert_eq!(cache.json()["policy"], "linux-5.10");
}

#[test]
fn batch_from_stdin_answers_every_line_in_order() {
    let input = format!(
        concat!(
            "{{\"struct\": \"iommu_cache_invalidate_info\", \"hex\": \"{ok}\"}}\n",
            "\n",
            "{{\"struct\": \"iommu_cache_invalidate_info\", \"policy\": \"linux-5.10\", \"vendor\": null, \"hex\": \"{short}\"}}\n",
            "this is not json\n",
            "{{\"struct\": \"iommu_nope\", \"hex\": \"00\"}}\n",
            "{{\"struct\": \"vfio_device_attach_iommufd_pt\", \"hex\": \"0c000000 01000000 07000000\"}}\n",
        ),
        ok = ADDR_INV,
        short = ADDR_INV_ARGSZ_40,
    );
    let run = vsva(&["explain", "--batch", "-"], Some(&input));
    assert_eq!(
        run.code, 0,
        "batch exits 0 despite rejections: {}",
        run.stderr
    );
    let results: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("each output line is JSON"))
        .collect();
    assert_eq!(
        results.len(),
        5,
        "one result per non-blank line: {}",
        run.stdout
    );

    assert_eq!(results[0]["ok"], true);
    assert_eq!(results[0]["fields"]["granu.addr_info.nb_granules"], 4);

    assert_eq!(results[1]["errno"], 22);
    assert_eq!(results[1]["argsz"], 40);

    assert_eq!(results[2]["ok"], false);
    assert_eq!(results[2]["errno"], Value::Null);
    assert_eq!(results[2]["struct"], Value::Null);
    let error = results[2]["error"].as_str().unwrap();
    assert!(error.starts_with("line 4: bad JSON"), "{error}");

    assert_eq!(results[3]["struct"], "iommu_nope");
    assert_eq!(results[3]["errno"], Value::Null);
    let error = results[3]["error"].as_str().unwrap();
    assert!(
        error.starts_with("line 5: unknown struct `iommu_nope`"),
        "{error}"
    );

    assert_eq!(results[4]["policy"], "flags-xend");
    assert_eq!(results[4]["errno_name"], "EINVAL");
}

#[test]
fn example_batch_file_gives_the_documented_verdicts() {
    let run = vsva(&["explain", "--batch", "examples/batch.jsonl"], None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let results: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let summary: Vec<(Value, Value)> = results
        .iter()
        .map(|r| (r["struct"].clone(), r["errno_name"].clone()))
        .collect();
    assert_eq!(
        summary,
        [
            (json!("iommu_cache_invalidate_info"), Value::Null),
            (json!("iommu_cache_invalidate_info"), json!("EINVAL")),
            (json!("iommu_hwpt_alloc"), json!("E2BIG")),
            (json!("iommu_gpasid_bind_data"), json!("EINVAL")),
            (json!("vfio_device_attach_iommufd_pt"), json!("EINVAL")),
            (json!("iommu_hwpt_alloc"), Value::Null),
            (json!("iommu_cache_invalidate_info"), Value::Null),
        ]
    );
    assert_eq!(results[0]["ok"], true);
    // FAULT_ID_VALID | NEST_PARENT under 6.12's rules (6.15 refuses the pair).
    assert_eq!(
        (results[5]["ok"].clone(), results[5]["kernel"].clone()),
        (json!(true), json!("6.12"))
    );
    assert_eq!(results[6]["ok"], false, "the last line is malformed");
    assert!(results[6]["error"].as_str().unwrap().contains("bad hex"));
}

/// The README's quick start shows the output of its main command; keep it true.
#[test]
fn readme_quick_start_output_is_what_the_tool_prints() {
    const COMMAND: &str = "cargo run -q -p vsva-cli --bin vsva -- explain --struct iommu_cache_invalidate_info --hex @examples/cache-invalidate-addr.hex";
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).expect("README.md");
    let after = readme
        .split_once(COMMAND)
        .map(|(_, rest)| rest)
        .expect("README shows the quick-start command");
    let shown = after
        .split_once("```text\n")
        .and_then(|(_, rest)| rest.split_once("```"))
        .map(|(block, _)| block)
        .expect("README shows the command's output in a ```text block after it");

    let args: Vec<&str> = COMMAND
        .split_once(" -- ")
        .map(|(_, args)| args.split(' ').collect())
        .unwrap();
    let run = vsva(&args, None);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(shown, run.stdout, "README's expected output is stale");
}

/// `--kernel VERSION` picks the release whose rules judge the blob; `running` reads the
/// running kernel's; a release vsva has no rules for is a usage error (exit 2).
#[test]
fn kernel_option_selects_the_release() {
    let args = |kernel: &str| {
        vec![
            "explain".to_owned(),
            "--struct".into(),
            "iommu_hwpt_alloc".into(),
            "--kernel".into(),
            kernel.into(),
            "--hex".into(),
            "@examples/hwpt-alloc-fault-nest.hex".into(),
        ]
    };
    let run = |kernel: &str| {
        let a = args(kernel);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        vsva(&a, None)
    };
    let old = run("6.12.0-1-amd64");
    assert_eq!(old.code, 0, "{}{}", old.stdout, old.stderr);
    assert!(old
        .stdout
        .starts_with("iommu_hwpt_alloc under zero-tail, kernel 6.12: ACCEPTED"));
    let new = run("6.15");
    assert_eq!(new.code, 1, "{}", new.stdout);
    assert!(
        new.stdout.contains("REJECTED with EOPNOTSUPP (95)"),
        "{}",
        new.stdout
    );
    assert!(
        new.stdout.contains("UnsupportedCombination"),
        "{}",
        new.stdout
    );
    let default = vsva(
        &[
            "explain",
            "--struct",
            "iommu_hwpt_alloc",
            "--json",
            "--hex",
            "@examples/hwpt-alloc-fault-nest.hex",
        ],
        None,
    );
    assert_eq!(default.code, 1);
    let json: serde_json::Value = serde_json::from_str(&default.stdout).unwrap();
    assert_eq!(json["kernel"], vsva_uapi::Release::NEWEST.to_string());
    for bad in ["4.19", "seven", ""] {
        let r = run(bad);
        assert_eq!(r.code, 2, "{bad:?}: {}", r.stdout);
        assert!(r.stderr.contains("unknown kernel"), "{bad:?}: {}", r.stderr);
    }
    // `running`: this machine's kernel, when vsva has rules for it.
    let running = run("running");
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    match vsva_uapi::Release::parse(release.trim()) {
        Ok(r) => {
            assert!(running.code == 0 || running.code == 1, "{}", running.stderr);
            assert!(
                running.stdout.contains(&format!("kernel {r}:")),
                "{}",
                running.stdout
            );
        }
        Err(_) => assert_eq!(running.code, 2, "{}", running.stdout),
    }
}

/// What the kernel accepts and vsva-viommu refuses is accepted (exit 0), with a note.
#[test]
fn vsva_strictness_is_a_note_not_the_verdict() {
    // VT-d: the device IOTLB at PASID granularity, which the VT-d table refuses and the
    // kernel ignores (it logs and returns 0).
    let run = vsva(
        &[
            "explain",
            "--struct",
            "iommu_cache_invalidate_info",
            "--vendor",
            "vtd",
            "--kernel",
            "5.10",
            "--hex",
            "20000000 01000000 02 01 000000000000 00000000 00000000 0000000000000000",
        ],
        None,
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("ACCEPTED"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("note: vsva-viommu also refuses: rule vtd-cache-granularity: EINVAL (22)"),
        "{}",
        run.stdout
    );
}
