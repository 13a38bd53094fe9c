//! The invariants every vsva fuzz target asserts (not just "no panic").
//!
//! For a decode of fuzzer bytes as `T` under a [`Policy`] and an optional [`Vendor`]:
//!
//! - the typed front end ([`UapiStruct::decode`], [`UapiStruct::from_user`]) and the
//!   generic engine ([`decode_into`], into a buffer pre-filled with junk) agree;
//! - the decode never claims to have read more than the input holds;
//! - **on rejection**: the errno is one of `EINVAL`, `E2BIG`, `EFAULT`, `EOPNOTSUPP`, the
//!   error is a consumer error (never a producer-side one), and garbage past the bytes
//!   the decode read does not change the errno or the rule;
//! - **on acceptance**: `bytes_read <= input length`; the kernel copy holds the input's
//!   bytes below `min(bytes_read, size)` and zeros from there; `argsz` and the union
//!   member are the ones the bytes hold; garbage past `bytes_read` changes nothing; and
//!   the value re-encodes and decodes to itself, both at the newest size
//!   ([`UapiStruct::encode`]) and at the smallest one ([`UapiStruct::encode_min`]).
//!
//! Per kernel release (every point of [`Release::KNOWN`], [`Rules::kernel`]): the
//! decode never panics, refuses only with a consumer errno (or `ENOTTY` before the
//! struct's release); vsva's strictness ([`Rules::VSVA`]) is never looser than the
//! newest kernel's rules, and where the kernel accepts and vsva refuses,
//! [`strict_check`] names the rule.
//!
//! A violated invariant panics, which libFuzzer reports as a crash with the input saved
//! under `artifacts/<target>/`.

#![forbid(unsafe_code)]

use vsva_uapi::codec::read_field;
use vsva_uapi::{
    decode_into, decode_into_with, strict_check, Decoded, Errno, Layout, Policy, Release, Rules,
    UapiError, UapiStruct, Vendor, MAX_STRUCT_SIZE,
};

/// The only errnos a consumer may return.
pub const ERRNOS: [Errno; 4] = [
    Errno::EINVAL,
    Errno::E2BIG,
    Errno::EFAULT,
    Errno::EOPNOTSUPP,
];

/// Every vendor setting: none, then each vendor with rules.
pub fn vendors() -> impl Iterator<Item = Option<Vendor>> {
    core::iter::once(None).chain(Vendor::ALL.map(Some))
}

/// Every (policy, vendor) pair.
pub fn settings() -> impl Iterator<Item = (Policy, Option<Vendor>)> {
    Policy::ALL
        .into_iter()
        .flat_map(|p| vendors().map(move |v| (p, v)))
}

/// The policy a selector value names: 0..=2 one of [`Policy::ALL`], anything else the
/// struct's default policy.
pub fn policy_from(selector: u8, layout: &Layout) -> Policy {
    Policy::ALL
        .get(usize::from(selector))
        .copied()
        .unwrap_or(layout.default_policy)
}

/// Decodes `data` as `T` under every policy and vendor setting, checking the invariants
/// of the [crate documentation](crate).
pub fn fuzz_struct<T: UapiStruct>(data: &[u8]) {
    for (policy, vendor) in settings() {
        check::<T>(data, policy, vendor);
    }
}

/// Decodes `data` as `T` under `policy` and `vendor`, checks every invariant of the
/// [crate documentation](crate) and returns the accepted value.
///
/// # Panics
/// When an invariant does not hold (that is the fuzzer's finding).
pub fn check<T: UapiStruct>(data: &[u8], policy: Policy, vendor: Option<Vendor>) -> Option<T> {
    let l = T::DECL;
    let typed = T::decode(data, policy, vendor);
    let (generic, read) = generic_decode(l, data, policy, vendor);
    assert!(
        read <= data.len(),
        "{} {policy} {vendor:?}: read {read} of {} bytes",
        l.name,
        data.len()
    );
    match (&typed, &generic) {
        (Ok(t), Ok((bytes, info))) => {
            assert_eq!(
                t.value.as_bytes(),
                &bytes[..l.size],
                "{}: typed vs generic value",
                l.name
            );
            assert_eq!(&t.info, info, "{}: typed vs generic info", l.name);
            assert_eq!(read, info.bytes_read, "{}: read vs bytes_read", l.name);
        }
        (Err(a), Err(b)) => assert_eq!(a, b, "{}: typed vs generic error", l.name),
        _ => panic!(
            "{} {policy} {vendor:?}: typed {:?} but generic {:?}",
            l.name,
            typed.as_ref().map(|d| d.info),
            generic.as_ref().map(|g| g.1)
        ),
    }
    if vendor.is_none() {
        let plain = T::from_user(data, policy);
        assert_eq!(
            plain.as_ref().ok().map(|v| v.as_bytes()),
            typed.as_ref().ok().map(|d| d.value.as_bytes()),
            "{}: from_user vs decode",
            l.name
        );
    }
    check_releases(l, data, policy, vendor, typed.is_ok());
    match typed {
        Err(e) => {
            check_refusal(l, data, policy, vendor, &e, read);
            None
        }
        Ok(d) => {
            check_accepted(data, policy, vendor, &d);
            Some(d.value)
        }
    }
}

/// The per-release invariants of the [crate documentation](crate); `strict_ok` is
/// vsva-viommu's verdict ([`Rules::VSVA`]).
fn check_releases(
    l: &'static Layout,
    data: &[u8],
    policy: Policy,
    vendor: Option<Vendor>,
    strict_ok: bool,
) {
    for &release in Release::KNOWN {
        let at = format!("{} {policy} {vendor:?} kernel {release}", l.name);
        let mut out = [0x5Au8; MAX_STRUCT_SIZE];
        let mut read = usize::MAX;
        let r = decode_into_with(
            l,
            data,
            policy,
            vendor,
            Rules::kernel(release),
            &mut out,
            &mut read,
        );
        match &r {
            Err(e) if release < l.since() => {
                assert_eq!(e.errno(), Errno::ENOTTY, "{at}: {e}");
            }
            Err(e) => assert!(
                ERRNOS.contains(&e.errno()),
                "{at}: errno {} ({e})",
                e.errno()
            ),
            Ok(info) => {
                assert!(info.bytes_read <= data.len(), "{at}: read past the input");
                if release == Release::NEWEST && !strict_ok {
                    // The kernel accepts, vsva refuses: a named rule says why.
                    let refusal = strict_check(l, data, &out, info, policy, vendor, release);
                    assert!(refusal.is_err(), "{at}: vsva refuses without a strict rule");
                }
            }
        }
        if release == Release::NEWEST && strict_ok {
            assert!(
                r.is_ok(),
                "{at}: vsva accepts what the kernel refuses: {r:?}"
            );
        }
    }
}

/// The generic engine, into a junk-filled buffer: (kernel copy and info, bytes read).
fn generic_decode(
    l: &'static Layout,
    data: &[u8],
    policy: Policy,
    vendor: Option<Vendor>,
) -> (
    Result<([u8; MAX_STRUCT_SIZE], vsva_uapi::DecodeInfo), UapiError>,
    usize,
) {
    let mut out = [0x5Au8; MAX_STRUCT_SIZE];
    let mut read = usize::MAX;
    let r = decode_into(l, data, policy, vendor, &mut out, &mut read);
    (r.map(|info| (out, info)), read)
}

/// `data` with every byte from `from` on flipped (so it differs from the original).
fn garble(data: &[u8], from: usize) -> Vec<u8> {
    let mut g = data.to_vec();
    for b in g.iter_mut().skip(from) {
        *b ^= 0xA5;
    }
    g
}

fn check_refusal(
    l: &'static Layout,
    data: &[u8],
    policy: Policy,
    vendor: Option<Vendor>,
    e: &UapiError,
    read: usize,
) {
    let at = format!("{} {policy} {vendor:?}", l.name);
    assert!(
        ERRNOS.contains(&e.errno()),
        "{at}: errno {} ({e})",
        e.errno()
    );
    assert!(
        !matches!(
            e,
            UapiError::FieldLost { .. }
                | UapiError::OutputTooSmall { .. }
                | UapiError::UnknownGeneration { .. }
                | UapiError::NoDevice { .. }
        ),
        "{at}: producer-side error from a consumer: {e:?}"
    );
    // The message renders (explain prints it).
    assert!(!format!("{e}").is_empty(), "{at}: empty message");
    // A refusal depends only on the bytes read.
    let (again, _) = generic_decode(l, &garble(data, read), policy, vendor);
    match again {
        Err(e2) => assert_eq!(
            (e2.errno(), e2.kind()),
            (e.errno(), e.kind()),
            "{at}: garbage past the {read} bytes read changed the refusal"
        ),
        Ok(_) => panic!("{at}: garbage past the {read} bytes read turned {e} into Ok"),
    }
}

fn check_accepted<T: UapiStruct>(
    data: &[u8],
    policy: Policy,
    vendor: Option<Vendor>,
    d: &Decoded<T>,
) {
    let l = T::DECL;
    let at = format!("{} {policy} {vendor:?}", l.name);
    let br = d.info.bytes_read;
    assert!(br <= data.len(), "{at}: bytes_read {br} > {}", data.len());
    let value = d.value.as_bytes();
    let copied = br.min(l.size);
    assert_eq!(
        &value[..copied],
        &data[..copied],
        "{at}: the kernel copy is not the user's bytes below {copied}"
    );
    assert!(
        value[copied..].iter().all(|b| *b == 0),
        "{at}: a byte past the read limit {br} is non-zero in the kernel copy"
    );
    let argsz = if l.sized {
        data.get(..4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(u32::from_ne_bytes)
    } else {
        u32::try_from(l.size).ok()
    };
    assert_eq!(Some(d.info.argsz), argsz, "{at}: argsz");
    let member = l
        .union
        .and_then(|u| l.variant_for(read_field(value, u.selector)));
    assert_eq!(d.info.variant, member, "{at}: union member");

    // Nothing past bytes_read matters.
    let again = T::decode(&garble(data, br), policy, vendor);
    assert_eq!(
        again.as_ref().map(|a| a.value.as_bytes()),
        Ok(value),
        "{at}: garbage past bytes_read {br} changed the result"
    );

    // Re-encode at the newest size, and at the smallest; both decode to the value.
    let skip = if l.sized { 4 } else { 0 };
    let mut out = [0u8; 2 * MAX_STRUCT_SIZE];
    let n = d
        .value
        .encode(&mut out)
        .unwrap_or_else(|e| panic!("{at}: encode of an accepted value: {e}"));
    assert_eq!(n, l.size, "{at}: encode length");
    let re = T::decode(&out[..n], policy, vendor)
        .unwrap_or_else(|e| panic!("{at}: the re-encoded value is refused: {e}"));
    assert_eq!(
        &re.value.as_bytes()[skip..],
        &value[skip..],
        "{at}: encode round trip"
    );
    let m = d
        .value
        .encode_min(&mut out)
        .unwrap_or_else(|e| panic!("{at}: encode_min of an accepted value: {e}"));
    assert!(m <= l.size, "{at}: encode_min wrote {m} > {} bytes", l.size);
    let re = T::decode(&out[..m], policy, vendor)
        .unwrap_or_else(|e| panic!("{at}: the encode_min bytes ({m}) are refused: {e}"));
    assert_eq!(
        &re.value.as_bytes()[skip..],
        &value[skip..],
        "{at}: encode_min round trip"
    );
}
