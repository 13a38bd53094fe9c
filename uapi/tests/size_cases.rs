//! The size matrix: every sized struct × every policy × every union member / extension
//! shape × every interesting `argsz` × readable lengths shorter than, equal to and
//! longer than `argsz` (plus every structural boundary), checked against the
//! independent oracle of `common::oracle` (reference §2, §3, §5.5, §6, §7).
//!
//! For every accepted case it also asserts that `DecodeInfo::bytes_read` is the policy's
//! read limit, that the kernel copy holds the user's bytes below the copy limit and zeros
//! from there, and that overwriting everything past the read limit with garbage changes
//! nothing. The generic consumer (`decode_into`) and the typed one (`T::decode`) must agree.

mod common;

use common::{
    build, cases, compare, decode_generic, ops_for, oracle, readables, size_cases, user_bytes,
    Case, Expect, Tail, GARBAGE,
};
use vsva_uapi::{argsz_structs, Layout, Policy, ALL_STRUCTS};

/// Every built example is valid: it decodes under every policy at `argsz = size`.
#[test]
fn valid_examples_decode_under_every_policy() {
    let mut n = 0;
    for l in ALL_STRUCTS {
        let o = ops_for(l);
        for case in cases(l) {
            let value = build(l, &case);
            for policy in Policy::ALL {
                let r = (o.decode)(&value, policy, None);
                let (value_out, info) = r.unwrap_or_else(|e| {
                    panic!(
                        "{} [{}] under {policy}: the valid example is refused: {e}",
                        l.name,
                        case.label()
                    )
                });
                assert_eq!(
                    info.variant.map(|v| v.value),
                    case.variant.map(|v| v.value),
                    "{} [{}] under {policy}: selected member",
                    l.name,
                    case.label()
                );
                if policy != Policy::FlagsXend {
                    assert_eq!(value_out, value, "{} [{}] {policy}", l.name, case.label());
                }
                n += 1;
            }
        }
    }
    // 27 structs, at least one shape each, three policies.
    assert!(n >= 27 * 3, "{n}");
}

fn run_case(
    l: &'static Layout,
    case: &Case,
    policy: Policy,
    user: &[u8],
    why: &str,
    mismatches: &mut Vec<String>,
) {
    let o = ops_for(l);
    let want = oracle(l, policy, case, user);
    let (generic, read) = decode_generic(l, user, policy, None);
    let typed = (o.decode)(user, policy, None);
    let argsz = if l.sized && user.len() >= 4 {
        u32::from_ne_bytes([user[0], user[1], user[2], user[3]]).to_string()
    } else if l.sized {
        "(unreadable)".to_string()
    } else {
        "-".to_string()
    };
    let at = format!(
        "{} [{}] policy {policy} argsz {argsz} ({why}) readable {}",
        l.name,
        case.label(),
        user.len()
    );
    if let Some(d) = compare(l, user, want, &generic, case) {
        mismatches.push(format!("{at}: decode_into: {d}"));
        return;
    }
    if typed != generic {
        mismatches.push(format!(
            "{at}: T::decode {typed:?} differs from decode_into {generic:?}"
        ));
        return;
    }
    if read > user.len() {
        mismatches.push(format!(
            "{at}: read {read} bytes of {} readable",
            user.len()
        ));
    }
    // Nothing past the read limit matters: overwrite it with garbage and decode again.
    if let Expect::Ok { read: limit, .. } = want {
        let mut g = user.to_vec();
        for b in g.iter_mut().skip(limit) {
            *b = GARBAGE ^ 0x0F;
        }
        let (again, _) = decode_generic(l, &g, policy, None);
        if again != generic {
            mismatches.push(format!(
                "{at}: garbage past the read limit {limit} changed the result: {again:?}"
            ));
        }
    }
}

#[test]
fn size_matrix_of_every_sized_struct_under_every_policy() {
    let mut checked = 0;
    let mut mismatches = Vec::new();
    for l in argsz_structs() {
        for case in cases(l) {
            let value = build(l, &case);
            for sc in size_cases(l) {
                for readable in readables(l, &case, sc.argsz) {
                    let user = user_bytes(l, &value, sc.argsz, sc.tail, readable);
                    for policy in Policy::ALL {
                        run_case(l, &case, policy, &user, sc.why, &mut mismatches);
                        checked += 1;
                    }
                }
            }
        }
    }
    common::assert_no_mismatch("size matrix", checked, &mismatches);
    eprintln!("size matrix: {checked} cases");
}

#[test]
fn readable_lengths_of_every_fixed_record_under_every_policy() {
    // Records without a size field are exactly `size` bytes; only the readable length
    // varies (reference §1.3, §5.4).
    let mut checked = 0;
    let mut mismatches = Vec::new();
    for l in ALL_STRUCTS.iter().copied().filter(|l| !l.sized) {
        for case in cases(l) {
            let value = build(l, &case);
            for readable in readables(l, &case, l.size as u32) {
                let user = user_bytes(l, &value, l.size as u32, Tail::Zero, readable);
                for policy in Policy::ALL {
                    run_case(l, &case, policy, &user, "fixed record", &mut mismatches);
                    checked += 1;
                }
            }
        }
    }
    common::assert_no_mismatch("fixed records", checked, &mismatches);
    eprintln!("fixed records: {checked} cases");
}

/// The oracle is not vacuous: across the matrix it predicts every outcome it knows.
#[test]
fn the_matrix_reaches_every_outcome_under_every_policy() {
    use std::collections::BTreeSet;
    for policy in Policy::ALL {
        let mut kinds = BTreeSet::new();
        for l in argsz_structs() {
            for case in cases(l) {
                let value = build(l, &case);
                for sc in size_cases(l) {
                    for readable in readables(l, &case, sc.argsz) {
                        let user = user_bytes(l, &value, sc.argsz, sc.tail, readable);
                        kinds.insert(match oracle(l, policy, &case, &user) {
                            Expect::Ok { .. } => "Ok",
                            Expect::Err { kind, .. } => kind,
                        });
                    }
                }
            }
        }
        let want: &[&str] = match policy {
            Policy::Linux510 | Policy::FlagsXend => &[
                "ArgszTooSmall",
                "ExtensionTruncated",
                "Fault",
                "Ok",
                "VariantTruncated",
            ],
            Policy::ZeroTail => &[
                "ArgszTooLarge",
                "ArgszTooSmall",
                "ExtensionTruncated",
                "Fault",
                "NonZeroTail",
                "Ok",
                "VariantTruncated",
            ],
        };
        assert_eq!(kinds.into_iter().collect::<Vec<_>>(), want, "{policy}");
    }
}
