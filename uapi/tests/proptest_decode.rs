//! Property tests of the consumer on arbitrary user memory, for every struct of
//! `ALL_STRUCTS`, every policy and with / without the VT-d layer:
//!
//! - no panic; every error is EINVAL, E2BIG, EFAULT or EOPNOTSUPP;
//! - `decode_into` and the typed `T::decode` agree, and never report reading past the
//!   readable bytes;
//! - an accepted value holds the user's bytes below its copy limit and zeros past it,
//!   and garbage past `bytes_read` changes nothing;
//! - idempotence: re-encoding an accepted value with `encode` and decoding it again gives
//!   the same value (apart from the size field, now the kernel's size).
//!
//! Inputs are either raw random bytes (0..=300) or a valid struct with a few random byte
//! mutations; `argsz` is sometimes forced to an interesting value.

mod common;

use common::{all_ops, build, cases, decode_generic, put_argsz, Ops};
use proptest::prelude::*;
use vsva_uapi::{Errno, Layout, Policy, UapiError, Vendor};

const ERRNOS: [Errno; 4] = [
    Errno::EINVAL,
    Errno::E2BIG,
    Errno::EFAULT,
    Errno::EOPNOTSUPP,
];

/// The interesting sizes of `l`, indexed by a random pick.
fn interesting_argsz(l: &Layout, pick: usize) -> u32 {
    let mut v = vec![
        0,
        3,
        4,
        l.min_size as u32 - 1,
        l.min_size as u32,
        l.size as u32 - 1,
        l.size as u32,
        l.size as u32 + 1,
        2 * l.size as u32,
        4096,
        4097,
        u32::MAX,
    ];
    if let Some(u) = l.union {
        for var in u.variants {
            v.push(var.end as u32 - 1);
            v.push(var.end as u32);
        }
    }
    for x in l.extensions {
        v.push(x.end as u32 - 1);
        v.push(x.end as u32);
    }
    v[pick % v.len()]
}

fn check_properties(o: &Ops, user: &[u8]) -> Result<(), TestCaseError> {
    let l = o.layout;
    for policy in Policy::ALL {
        for vendor in std::iter::once(None).chain(Vendor::ALL.map(Some)) {
            let (generic, read) = decode_generic(l, user, policy, vendor);
            let typed = (o.decode)(user, policy, vendor);
            let at = format!("{} {policy} vendor {vendor:?} len {}", l.name, user.len());
            prop_assert_eq!(&typed, &generic, "{}: typed vs generic", at);
            prop_assert!(read <= user.len(), "{}: read {} bytes", at, read);
            let (value, info) = match generic {
                Err(e) => {
                    prop_assert!(
                        ERRNOS.contains(&e.errno()),
                        "{}: errno {} for {:?}",
                        at,
                        e.errno(),
                        e
                    );
                    prop_assert!(
                        !matches!(
                            e,
                            UapiError::FieldLost { .. }
                                | UapiError::OutputTooSmall { .. }
                                | UapiError::UnknownGeneration { .. }
                                | UapiError::NoDevice { .. }
                        ),
                        "{}: producer-side error from the consumer: {:?}",
                        at,
                        e
                    );
                    continue;
                }
                Ok(ok) => ok,
            };
            prop_assert!(info.bytes_read <= user.len(), "{}: bytes_read", at);
            prop_assert_eq!(info.bytes_read, read, "{}: info vs read", at);
            if l.sized {
                prop_assert_eq!(&info.argsz.to_ne_bytes()[..], &user[..4], "{}", at);
            } else {
                prop_assert_eq!(info.argsz as usize, l.size, "{}", at);
            }
            // The copy: user bytes below the limit, zeros above. Every policy copies a
            // prefix of at most bytes_read bytes.
            let copied = (0..l.size)
                .take_while(|i| *i < info.bytes_read && value[*i] == user[*i])
                .count();
            prop_assert!(
                value[copied..].iter().all(|b| *b == 0),
                "{}: non-zero byte past the copy ({} bytes copied)",
                at,
                copied
            );
            // Garbage past bytes_read changes nothing.
            let mut g = user.to_vec();
            for b in g.iter_mut().skip(info.bytes_read) {
                *b ^= 0xA5;
            }
            let (again, _) = decode_generic(l, &g, policy, vendor);
            prop_assert_eq!(
                again.as_ref().map(|(v, _)| v),
                Ok(&value),
                "{}: garbage past bytes_read {}",
                at,
                info.bytes_read
            );
            // Idempotence through the producer.
            let mut out = [0u8; 128];
            let n = (o.encode)(&value, &mut out).map_err(|e| {
                TestCaseError::fail(format!("{at}: encode of a decoded value: {e}"))
            })?;
            prop_assert_eq!(n, l.size, "{}", at);
            let (re, _) = decode_generic(l, &out[..n], policy, vendor);
            let (value2, _) = re
                .map_err(|e| TestCaseError::fail(format!("{at}: re-encoded value refused: {e}")))?;
            let skip = if l.sized { 4 } else { 0 };
            prop_assert_eq!(&value2[skip..], &value[skip..], "{}: idempotence", at);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Arbitrary bytes, sometimes with an interesting `argsz`, for every struct.
    #[test]
    fn arbitrary_bytes_never_panic_and_decode_idempotently(
        bytes in proptest::collection::vec(any::<u8>(), 0..=300),
        force in proptest::option::of(0usize..64),
    ) {
        for o in all_ops() {
            let mut user = bytes.clone();
            if let (Some(pick), true) = (force, user.len() >= 4 && o.layout.sized) {
                put_argsz(&mut user, interesting_argsz(o.layout, pick));
            }
            check_properties(&o, &user)?;
        }
    }

    /// Valid structs with a few random byte mutations (so that content checks are
    /// reached and often passed), random length, sometimes an interesting `argsz`.
    #[test]
    fn mutated_valid_structs_never_panic_and_decode_idempotently(
        case_pick in 0usize..8,
        muts in proptest::collection::vec((0usize..128, any::<u8>()), 0..4),
        extra in 0usize..80,
        cut in proptest::option::of(0usize..128),
        force in proptest::option::of(0usize..64),
    ) {
        for o in all_ops() {
            let l = o.layout;
            let cs = cases(l);
            let case = &cs[case_pick % cs.len()];
            let mut user = build(l, case);
            user.resize(l.size + extra, 0);
            for &(at, byte) in &muts {
                let i = at % user.len();
                user[i] = byte;
            }
            if let Some(pick) = force {
                if l.sized {
                    put_argsz(&mut user, interesting_argsz(l, pick));
                }
            }
            if let Some(c) = cut {
                user.truncate(c % (user.len() + 1));
            }
            check_properties(&o, &user)?;
        }
    }
}
