//! Malicious sizes (issue "Malicious sizes"): for every sized struct, every policy and
//! every union-member / extension shape the shared builder enumerates, every `argsz` from
//! 0 to 2 × the largest struct size (inclusive) plus 4095, 4096, 4097 and `u32::MAX`,
//! with readable memory shorter than, equal to and longer than `argsz`, and with tails
//! past the struct that are all zero or pseudo-random (seeded, deterministic):
//!
//! - no panic;
//! - the errno (and the rule) the independent oracle of `uapi/tests/common` gives;
//! - on acceptance, `bytes_read` is exactly the policy's read limit, the kernel copy holds
//!   the user's bytes below the copy limit and zeros from there, and garbage written past
//!   the read limit changes nothing (the decoded value never holds a byte from past it);
//! - on rejection, garbage past the bytes the decode reports having read changes neither
//!   the errno nor the rule.
//!
//! Records without a size field are tried with every readable length from 0 to 2 × size.
//!
//! The oracle and the builder are shared with `vsva-uapi`'s own tests, not copied.

#[path = "../../uapi/tests/common/mod.rs"]
mod common;

use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};

use common::{
    build, cases, compare, decode_generic, ops_for, oracle, prng_bytes, readables, user_bytes,
    Case, DecodeResult, Expect, Ops, Tail,
};
use vsva_uapi::{argsz_structs, Layout, Policy, ALL_STRUCTS, MAX_STRUCT_SIZE};

/// How many mismatches a failure message lists.
const SHOWN: usize = 20;

/// Readable memory is never allocated beyond this many bytes past the largest `argsz`
/// that can be accepted (`PAGE_SIZE + 1` under zero-tail): `u32::MAX` is clamped here.
const READABLE_CAP: usize = 4097 + 64;

/// Every `argsz` of the issue: 0 ..= 2 × the largest struct, 4095, 4096, 4097, `u32::MAX`.
fn argsz_values() -> Vec<u32> {
    let mut v: Vec<u32> = (0..=2 * MAX_STRUCT_SIZE as u32).collect();
    v.extend([4095, 4096, 4097, u32::MAX]);
    v
}

/// Readable lengths for `argsz`: just below, at, just past and well past `argsz` (clamped
/// to [`READABLE_CAP`]), the struct's size ± 1, and every structural boundary of `case`.
fn readable_lengths(l: &Layout, case: &Case, argsz: u32) -> BTreeSet<usize> {
    let c = (argsz as usize).min(READABLE_CAP);
    let mut r: BTreeSet<usize> = readables(l, case, argsz).into_iter().collect();
    r.extend([c.saturating_sub(1), c, c + 1, c + 64]);
    r.extend([l.size - 1, l.size, l.size + 1]);
    r
}

/// A deterministic seed for one (struct, argsz, readable) triple.
fn seed(l: &Layout, argsz: u32, readable: usize) -> u64 {
    let name = l.name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    name ^ (u64::from(argsz) << 20) ^ readable as u64
}

/// Overwrites every byte from `from` on with seeded non-zero garbage.
fn garble(user: &[u8], from: usize, seed: u64) -> Vec<u8> {
    let noise = prng_bytes(seed, user.len().saturating_sub(from));
    let mut g = user.to_vec();
    for (b, n) in g.iter_mut().skip(from).zip(noise) {
        *b = n | 0x01;
    }
    g
}

/// The errno and rule of an error, for comparing two decodes.
fn verdict(r: &DecodeResult) -> Result<(), (i32, &'static str)> {
    match r {
        Ok(_) => Ok(()),
        Err(e) => Err((e.errno().raw(), e.kind())),
    }
}

/// Counts and collects what disagrees.
#[derive(Default)]
struct Tally {
    checked: usize,
    mismatches: Vec<String>,
}

impl Tally {
    fn fail(&mut self, msg: String) {
        self.mismatches.push(msg);
    }

    fn finish(self, what: &str, at_least: usize) {
        assert!(
            self.checked >= at_least,
            "{what}: only {} cases checked (expected at least {at_least})",
            self.checked
        );
        if !self.mismatches.is_empty() {
            let shown: Vec<&str> = self
                .mismatches
                .iter()
                .take(SHOWN)
                .map(String::as_str)
                .collect();
            panic!(
                "{what}: {} of {} cases disagree (first {}):\n  {}",
                self.mismatches.len(),
                self.checked,
                shown.len(),
                shown.join("\n  ")
            );
        }
    }
}

/// Checks one user buffer against the oracle, under one policy.
fn check_one(
    o: &Ops,
    case: &Case,
    policy: Policy,
    user: &[u8],
    at: &dyn Fn() -> String,
    tally: &mut Tally,
) {
    let l = o.layout;
    tally.checked += 1;
    let want = oracle(l, policy, case, user);
    let run = catch_unwind(AssertUnwindSafe(|| {
        let (generic, read) = decode_generic(l, user, policy, None);
        let typed = (o.decode)(user, policy, None);
        (generic, read, typed)
    }));
    let Ok((generic, read, typed)) = run else {
        tally.fail(format!("{}: PANIC on {}", at(), hex(user)));
        return;
    };
    if let Some(d) = compare(l, user, want, &generic, case) {
        tally.fail(format!("{}: {d}", at()));
        return;
    }
    if typed != generic {
        tally.fail(format!(
            "{}: T::decode {typed:?} != decode_into {generic:?}",
            at()
        ));
        return;
    }
    if read > user.len() {
        tally.fail(format!(
            "{}: reports reading {read} of {} readable bytes",
            at(),
            user.len()
        ));
        return;
    }
    match want {
        Expect::Ok {
            read: limit,
            copied,
        } => {
            // compare() checked bytes_read == limit and value == user[..copied] ++ zeros;
            // now fill everything past the read limit with garbage: nothing may change,
            // and the kernel copy must still be zero past the copy limit.
            let g = garble(user, limit, seed(l, copied as u32, user.len()));
            let (again, _) = decode_generic(l, &g, policy, None);
            match &again {
                Ok((value, info)) => {
                    if let Some(i) = value.iter().skip(copied).position(|b| *b != 0) {
                        tally.fail(format!(
                            "{}: garbage past the read limit {limit} leaked into byte {}",
                            at(),
                            copied + i
                        ));
                    } else if again != generic || info.bytes_read != limit {
                        tally.fail(format!(
                            "{}: garbage past the read limit {limit} changed the result: {again:?}",
                            at()
                        ));
                    }
                }
                Err(e) => tally.fail(format!(
                    "{}: garbage past the read limit {limit} made it fail: {e}",
                    at()
                )),
            }
        }
        Expect::Err { .. } => {
            // A refusal depends only on the bytes the decode read.
            let g = garble(user, read, seed(l, read as u32, user.len()));
            let (again, _) = decode_generic(l, &g, policy, None);
            if verdict(&again) != verdict(&generic) {
                tally.fail(format!(
                    "{}: garbage past the {read} bytes read changed {:?} into {:?}",
                    at(),
                    verdict(&generic),
                    verdict(&again)
                ));
            }
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    let shown: String = bytes.iter().take(96).map(|b| format!("{b:02x}")).collect();
    if bytes.len() > 96 {
        format!("{shown}… ({} bytes)", bytes.len())
    } else {
        shown
    }
}

/// Every sized struct × every shape × every argsz × every readable length × zero and
/// random tails × every policy.
#[test]
fn every_argsz_of_every_sized_struct_under_every_policy() {
    let mut tally = Tally::default();
    let sizes = argsz_values();
    for l in argsz_structs() {
        let o = ops_for(l);
        for case in cases(l) {
            let value = build(l, &case);
            for &argsz in &sizes {
                // A random tail differs from a zero one only when argsz > size.
                let tails: &[Tail] = if argsz as usize > l.size {
                    &[Tail::Zero, Tail::Random(0)]
                } else {
                    &[Tail::Zero]
                };
                for &tail in tails {
                    for readable in readable_lengths(l, &case, argsz) {
                        let tail = match tail {
                            Tail::Random(_) => Tail::Random(seed(l, argsz, readable)),
                            t => t,
                        };
                        let mut user = user_bytes(l, &value, argsz, tail, readable);
                        if matches!(tail, Tail::Random(_)) {
                            // Past argsz too: random garbage, not a constant.
                            let from = (argsz as usize).max(4);
                            user = garble(&user, from, seed(l, argsz, readable) ^ 0x5eed);
                        }
                        for policy in Policy::ALL {
                            let at = || {
                                format!(
                                    "{} [{}] {policy} argsz {argsz} {tail:?} readable {readable}",
                                    l.name,
                                    case.label()
                                )
                            };
                            check_one(&o, &case, policy, &user, &at, &mut tally);
                        }
                    }
                }
            }
        }
    }
    // 13 sized structs, ≥ 1 shape, 149 sizes, ≥ 7 readable lengths, 3 policies.
    tally.finish("malicious sizes", 13 * 149 * 7 * 3);
}

/// Records without a size field: every readable length from 0 to 2 × size, every shape,
/// every policy.
#[test]
fn every_readable_length_of_every_fixed_record() {
    let mut tally = Tally::default();
    for l in ALL_STRUCTS.iter().copied().filter(|l| !l.sized) {
        let o = ops_for(l);
        for case in cases(l) {
            let value = build(l, &case);
            for readable in 0..=2 * l.size {
                for tail in [Tail::Zero, Tail::Random(seed(l, 0, readable))] {
                    let mut user = user_bytes(l, &value, l.size as u32, Tail::Zero, readable);
                    if let Tail::Random(s) = tail {
                        user = garble(&user, l.size, s);
                    }
                    for policy in Policy::ALL {
                        let at = || {
                            format!(
                                "{} [{}] {policy} {tail:?} readable {readable}",
                                l.name,
                                case.label()
                            )
                        };
                        check_one(&o, &case, policy, &user, &at, &mut tally);
                    }
                }
            }
        }
    }
    // 14 records, ≥ 1 shape, ≥ 2 × 8 + 1 lengths, 2 tails, 3 policies.
    tally.finish("fixed records", 14 * 17 * 2 * 3);
}
