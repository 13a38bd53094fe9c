//! Fuzzes `vsva explain`'s input parsing: `vsva_cli::explain::run_batch` (the
//! `--batch` JSON-lines reader) on arbitrary bytes, and `parse_hex` / `parse_hex_lines`
//! (`--hex`, `--hex @FILE`) on the same bytes when they are UTF-8.
//!
//! Invariants: no panic and no I/O error; exactly one result line per non-blank input
//! line, each a JSON object with the documented keys (`kernel`, the release whose rules
//! judged it, and `vsva_strict`, vsva-viommu's extra refusal); `ok` agrees with `errno`, an errno
//! is one of the kernel's four, a malformed line's message names its line number, a
//! rejected or malformed line has no fields; the summary counts the lines. A successful
//! hex parse yields at most one byte per two input characters.

#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use vsva_cli::explain::{parse_hex, parse_hex_lines, run_batch};

/// The keys of every result object, in order.
const KEYS: [&str; 12] = [
    "struct",
    "policy",
    "vendor",
    "kernel",
    "ok",
    "errno",
    "errno_name",
    "error",
    "argsz",
    "bytes_read",
    "fields",
    "vsva_strict",
];

/// The errnos (raw) a verdict may carry (ENOTTY: the release lacks the ioctl).
const ERRNOS: [i64; 5] = [7, 14, 22, 25, 95];

fuzz_target!(|data: &[u8]| {
    let mut out = Vec::new();
    let summary = run_batch(data, &mut out).expect("in-memory I/O cannot fail");

    // Which input lines get a result: every line that is not blank UTF-8.
    let numbers: Vec<usize> = data
        .split(|b| *b == b'\n')
        .enumerate()
        .filter(|(_, l)| !std::str::from_utf8(l).is_ok_and(|t| t.trim().is_empty()))
        .map(|(i, _)| i + 1)
        .collect();
    let text = std::str::from_utf8(&out).expect("results are UTF-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), numbers.len(), "one result per non-blank line");
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "results end with a newline"
    );

    let (mut accepted, mut rejected, mut malformed) = (0, 0, 0);
    for (line, number) in lines.iter().zip(&numbers) {
        let v: Value = serde_json::from_str(line).expect("each result is JSON");
        let obj = v.as_object().expect("each result is an object");
        let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        assert_eq!(keys, KEYS, "result keys");
        let ok = obj["ok"].as_bool().expect("`ok` is a bool");
        let fields = obj["fields"].as_object().expect("`fields` is an object");
        assert!(obj["bytes_read"].is_u64(), "`bytes_read` is a number");
        match (&obj["errno"], ok) {
            (Value::Null, true) => {
                accepted += 1;
                assert!(obj["error"].is_null(), "an accepted line has no error");
                assert!(obj["struct"].is_string() && obj["policy"].is_string());
                assert!(
                    obj["kernel"].is_string(),
                    "an accepted line names its kernel"
                );
                assert!(!fields.is_empty(), "an accepted struct has fields");
                // vsva's strictness: null, or a named rule with a refusal.
                match &obj["vsva_strict"] {
                    Value::Null => {}
                    Value::Object(s) => {
                        assert!(s["rule"].is_string() && s["error"].is_string());
                        assert!(ERRNOS.contains(&s["errno"].as_i64().expect("a number")));
                    }
                    other => panic!("vsva_strict {other}"),
                }
            }
            (Value::Null, false) => {
                malformed += 1;
                let e = obj["error"].as_str().expect("a malformed line says why");
                assert!(
                    e.starts_with(&format!("line {number}: ")),
                    "message {e:?} names line {number}"
                );
                assert!(fields.is_empty());
                assert!(obj["vsva_strict"].is_null());
            }
            (errno, false) => {
                rejected += 1;
                let raw = errno.as_i64().expect("errno is a number");
                assert!(ERRNOS.contains(&raw), "errno {raw}");
                assert!(obj["errno_name"].is_string() && obj["error"].is_string());
                assert!(fields.is_empty(), "a rejected struct has no fields");
                assert!(
                    obj["kernel"].is_string(),
                    "a rejected line names its kernel"
                );
                assert!(
                    obj["vsva_strict"].is_null(),
                    "the kernel refused: no strict note"
                );
            }
            (errno, true) => panic!("accepted with errno {errno}"),
        }
    }
    assert_eq!(summary.accepted, accepted, "summary.accepted");
    assert_eq!(summary.rejected, rejected, "summary.rejected");
    assert_eq!(summary.malformed, malformed, "summary.malformed");

    // The hex readers of `--hex` and `--hex @FILE`.
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(bytes) = parse_hex(s) {
            assert!(
                2 * bytes.len() <= s.len(),
                "parse_hex: more bytes than digits"
            );
        }
        if let Ok(bytes) = parse_hex_lines(s) {
            assert!(
                2 * bytes.len() <= s.len(),
                "parse_hex_lines: more bytes than digits"
            );
        }
    }
});
