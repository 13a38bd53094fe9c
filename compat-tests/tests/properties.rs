//! The property tests (proptest, 256 cases each):
//!
//! 1. **Round trip**: `decode(encode_for(x, g)) == x` for every struct of
//!    `vsva_uapi::ALL_STRUCTS` and every header generation `g` it declares, and
//!    `decode(encode_min(x)) == x`, where `x` is an arbitrary *valid* value: the shared
//!    declaration-driven builder's struct with its unconstrained fields (and, where the
//!    value stays valid, its constrained ones) randomized, with every field, union member
//!    and extension flag newer than `g` cleared. Decoded under the struct's default policy
//!    with the struct's own (newest) declaration, with and without its vendor layer.
//!    The same for the G2 / G3 future headers of `compat_tests::generations` (through
//!    every generation each declares; `encode_min` is typed-only, so there only
//!    `encode_for`).
//! 2. **No panic**: `from_user` / `decode` never panic on arbitrary bytes, for every
//!    struct × policy × vendor (`None`, `Some(Vtd)`), and every error's errno is one of
//!    `EINVAL`, `E2BIG`, `EFAULT`, `EOPNOTSUPP`.
//! 3. **Zero-tail is stricter than linux-5.10**: for every sized struct, what `zero-tail`
//!    accepts `linux-5.10` accepts too (same vendor setting), with the same kernel copy
//!    and the same union member — on arbitrary bytes and on mutated valid structs.
//!
//! The builder is shared with `vsva-uapi`'s tests, not copied.

#[path = "../../uapi/tests/common/mod.rs"]
mod common;

use common::{
    all_ops, apply_rules, apply_vendor, build, cases, get, put, put_argsz, Case, DecodeResult, Ops,
};
use compat_tests::generations::FAMILIES;
use proptest::collection::vec;
use proptest::prelude::*;
use vsva_uapi::{
    Check, Errno, Field, FieldKind, Layout, Policy, UapiError, Vendor, MAX_STRUCT_SIZE,
};

/// The only errnos a consumer may return.
const ERRNOS: [Errno; 4] = [
    Errno::EINVAL,
    Errno::E2BIG,
    Errno::EFAULT,
    Errno::EOPNOTSUPP,
];

/// Room for any encoding (the G3 headers are larger than today's).
const OUT: usize = 4 * MAX_STRUCT_SIZE;

/// A producer and a consumer of one declaration, for the round trip: the typed front end
/// of a `vsva-uapi` struct, or the generic engine over a `compat-tests` G2 / G3
/// declaration.
struct Codec {
    layout: &'static Layout,
    decode: Box<DecodeFn>,
    encode_for: Box<EncodeForFn>,
    /// `encode_min`, which only the typed front end offers.
    encode_min: Option<EncodeMinFn>,
}

/// A consumer: (user bytes, policy, vendor) → the kernel copy and what the decode found.
type DecodeFn = dyn Fn(&[u8], Policy, Option<Vendor>) -> DecodeResult;
/// A producer for one generation: (value, generation, output) → bytes written.
type EncodeForFn = dyn Fn(&[u8], usize, &mut [u8]) -> Result<usize, UapiError>;
/// The shortest encoding: (value, output) → bytes written.
type EncodeMinFn = fn(&[u8], &mut [u8]) -> Result<usize, UapiError>;

impl Codec {
    /// The typed front end of a `vsva-uapi` struct.
    fn typed(o: &Ops) -> Codec {
        let (decode, encode_for) = (o.decode, o.encode_for);
        Codec {
            layout: o.layout,
            decode: Box::new(decode),
            encode_for: Box::new(encode_for),
            encode_min: Some(o.encode_min),
        }
    }

    /// The generic engine (`decode_into`, `encode_for`) over any declaration.
    fn generic(layout: &'static Layout) -> Codec {
        Codec {
            layout,
            decode: Box::new(move |u, p, v| {
                // Junk-filled, and sized for the declaration (G3 may exceed today's
                // MAX_STRUCT_SIZE).
                let mut out = vec![0x5Au8; layout.size];
                let mut read = 0;
                vsva_uapi::decode_into(layout, u, p, v, &mut out, &mut read).map(|info| (out, info))
            }),
            encode_for: Box::new(move |value, g, out| vsva_uapi::encode_for(layout, value, g, out)),
            encode_min: None,
        }
    }
}

/// The vendor settings to try with `l`: none, and its vendor layer if it has one.
fn vendors_of(l: &Layout) -> Vec<Option<Vendor>> {
    std::iter::once(None)
        .chain(l.vendor.map(|r| Some(r.vendor)))
        .collect()
}

/// Every vendor setting, whether or not the struct has rules for it.
fn all_vendors() -> impl Iterator<Item = Option<Vendor>> {
    std::iter::once(None).chain(Vendor::ALL.map(Some))
}

/// The interesting sizes of `l`, indexed by a random pick.
fn interesting_argsz(l: &Layout, pick: usize) -> u32 {
    let (s, m) = (l.size as u32, l.min_size as u32);
    let mut v = vec![
        0,
        3,
        4,
        m - 1,
        m,
        s - 1,
        s,
        s + 1,
        2 * s,
        4095,
        4096,
        4097,
        u32::MAX,
    ];
    if let Some(u) = l.union {
        for var in u.variants {
            v.extend([var.end as u32 - 1, var.end as u32]);
        }
    }
    for x in l.extensions {
        v.extend([x.end as u32 - 1, x.end as u32]);
    }
    v[pick % v.len()]
}

// ---------------------------------------------------------------------------------------
// Arbitrary valid values
// ---------------------------------------------------------------------------------------

/// A value for `f` drawn from `noise` that passes its check, or `None` if the field is not
/// randomized (the size field, the union storage, the union selector).
fn random_field_value(f: &Field, noise: u64) -> Option<u64> {
    let width = if f.size >= 8 {
        u64::MAX
    } else {
        (1u64 << (f.size * 8)) - 1
    };
    let n = noise & width;
    // The newest kernel's reading (the default rules).
    Some(match f.check.at(vsva_uapi::Release::NEWEST) {
        Check::Argsz | Check::Union | Check::Zero | Check::Version(_) => return None,
        Check::FlagsSince(_) => return None,
        Check::OneOfSince(list) => list[(n % list.len() as u64) as usize].value,
        Check::None => n,
        Check::Flags(known) => n & known,
        Check::Within { mask, below } => (n & mask) % below,
        Check::OneOf(vals) | Check::Valid(vals) => vals[(n % vals.len() as u64) as usize],
        Check::Aligned(a) => n & !(a - 1),
        Check::Range { min, below } => min + n % (below - min),
    })
}

/// Sets `f` (at `base`) from `noise`: integers through their check, unconstrained byte
/// arrays to the raw noise bytes.
fn randomize_field(buf: &mut [u8], base: usize, f: &Field, noise: &[u8]) {
    let off = base + f.offset;
    match (f.kind, f.check) {
        (FieldKind::Bytes, Check::None) => {
            for (i, b) in buf.iter_mut().enumerate().skip(off).take(f.size) {
                *b = noise[i % noise.len()];
            }
        }
        (FieldKind::Int, _) => {
            let mut n = 0u64;
            for i in 0..8 {
                n = (n << 8) | u64::from(noise[(off + i) % noise.len()]);
            }
            if let Some(v) = random_field_value(f, n) {
                put(buf, off, f.size, v);
            }
        }
        (FieldKind::Bytes, _) => {}
    }
}

/// Re-establishes the cross-field rules after a change.
fn fix_rules(l: &'static Layout, case: &Case, vendor: Option<Vendor>, buf: &mut [u8]) {
    if let (Some(u), Some(vl)) = (l.union, case.variant.and_then(|v| v.layout)) {
        apply_rules(buf, u.offset, vl.rules);
    }
    apply_rules(buf, 0, l.rules);
    if vendor.is_some() {
        apply_vendor(l, buf);
    }
}

/// An arbitrary valid value of `o` in shape `case` (and, with `vendor`, valid for its
/// vendor layer): the builder's value, then each field picked by `keep` randomized from
/// `noise`; a change that the consumer refuses at full size is undone, so that the value
/// stays valid. The union selector and the extension flags of `case` are kept.
fn random_valid(
    o: &Codec,
    case: &Case,
    vendor: Option<Vendor>,
    noise: &[u8],
    keep: u64,
) -> Vec<u8> {
    let l = o.layout;
    let mut v = build(l, case);
    if vendor.is_some() {
        apply_vendor(l, &mut v);
    }
    let selector = l.union.map(|u| u.selector.offset);
    let ext_flags: Vec<usize> = l.extensions.iter().map(|x| x.flags.offset).collect();
    let member = l
        .union
        .zip(case.variant.and_then(|v| v.layout))
        .map(|(u, vl)| (u.offset, vl.fields));
    let top = l.fields.iter().map(|f| (0, f));
    let nested = member
        .into_iter()
        .flat_map(|(base, fields)| fields.iter().map(move |f| (base, f)));
    for (i, (base, f)) in top.chain(nested).enumerate() {
        if keep & (1 << (i % 64)) == 0 || Some(base + f.offset) == selector {
            continue;
        }
        let mut candidate = v.clone();
        if f.check == Check::Union && case.variant.is_none() {
            // A union without a selected member: raw bytes nobody checks.
            for (j, b) in candidate.iter_mut().enumerate().skip(f.offset).take(f.size) {
                *b = noise[j % noise.len()];
            }
        } else {
            randomize_field(&mut candidate, base, f, noise);
        }
        if ext_flags.contains(&(base + f.offset)) {
            // Keep exactly the case's extension flags.
            for x in l.extensions {
                let have = get(&candidate, x.flags.offset, x.flags.size);
                let want = if case.exts.iter().any(|e| e.bit == x.bit) {
                    have | x.bit
                } else {
                    have & !x.bit
                };
                put(&mut candidate, x.flags.offset, x.flags.size, want);
            }
        }
        fix_rules(l, case, vendor, &mut candidate);
        if (o.decode)(&candidate, l.default_policy, vendor).is_ok() {
            v = candidate;
        }
    }
    if l.default_policy == Policy::FlagsXend {
        // The kernel never reads past the end the flags select: those bytes carry nothing.
        let xend = case.xend(l);
        v[xend..].fill(0);
    }
    v
}

/// The case that `value` has: its selected union member and set extension flags.
fn case_of(l: &'static Layout, value: &[u8]) -> Case {
    let selector = l
        .union
        .map(|u| get(value, u.selector.offset, u.selector.size));
    Case {
        variant: selector.and_then(|s| l.variant_for(s)),
        selector,
        exts: l
            .extensions
            .iter()
            .filter(|x| get(value, x.flags.offset, x.flags.size) & x.bit != 0)
            .collect(),
    }
}

/// `value` as a peer of generation `g` holds it: every field, extension flag and union
/// byte that generation does not have cleared. `None` if the selected union member is
/// newer than `g` (such a value has no generation-`g` form).
fn for_generation(l: &'static Layout, value: &[u8], g: usize) -> Option<Vec<u8>> {
    let mut x = value.to_vec();
    let gsize = l.generations[g].size;
    if case_of(l, &x).variant.is_some_and(|v| v.since as usize > g) {
        return None;
    }
    for f in l.fields.iter().filter(|f| f.since as usize > g) {
        x[f.offset..f.end()].fill(0);
    }
    for e in l.extensions.iter().filter(|e| e.since as usize > g) {
        let have = get(&x, e.flags.offset, e.flags.size);
        put(&mut x, e.flags.offset, e.flags.size, have & !e.bit);
    }
    if let Some(u) = l.union {
        // Union bytes past the generation's size cannot travel to that peer: `encode_for`
        // refuses them with `FieldLost` (see `encode_for_refuses_union_bytes_past_the_
        // target`), so the generation-`g` form of the value is taken without them.
        let from = gsize.max(u.offset);
        let to = (u.offset + l.fields.iter().find(|f| f.offset == u.offset)?.size).max(from);
        x[from..to].fill(0);
    }
    if l.default_policy == Policy::FlagsXend {
        let xend = case_of(l, &x).xend(l);
        x[xend..].fill(0);
    }
    Some(x)
}

/// `value` with its size field set to `argsz` (for sized structs).
fn with_argsz(l: &Layout, value: &[u8], argsz: usize) -> Vec<u8> {
    let mut v = value.to_vec();
    if l.sized {
        put_argsz(&mut v, argsz as u32);
    }
    v
}

/// Decodes `bytes` under `l`'s default policy and checks it gives `want`.
fn assert_decodes_to(
    o: &Codec,
    vendor: Option<Vendor>,
    bytes: &[u8],
    want: &[u8],
    at: &str,
) -> Result<(), TestCaseError> {
    let l = o.layout;
    let (value, info) = (o.decode)(bytes, l.default_policy, vendor)
        .map_err(|e| TestCaseError::fail(format!("{at}: refused: {e}\n  bytes {bytes:02x?}")))?;
    prop_assert_eq!(
        &value[..],
        want,
        "{}: decode(encode(x)) != x\n  bytes {:02x?}",
        at,
        bytes
    );
    prop_assert!(info.bytes_read <= bytes.len(), "{}: bytes_read", at);
    Ok(())
}

/// Round trip of one random valid value of `o` through every generation and `encode_min`.
fn round_trip(
    o: &Codec,
    vendor: Option<Vendor>,
    noise: &[u8],
    keep: u64,
    pick: usize,
) -> Result<(), TestCaseError> {
    let l = o.layout;
    let cs = cases(l);
    let case = &cs[pick % cs.len()];
    let x = random_valid(o, case, vendor, noise, keep);
    let name = format!("{} [{}] vendor {vendor:?}", l.name, case.label());
    let mut out = [0u8; OUT];

    // encode_min: the shortest encoding decodes to the value.
    let min_len = match o.encode_min {
        Some(encode_min) => {
            let n = encode_min(&x, &mut out)
                .map_err(|e| TestCaseError::fail(format!("{name}: encode_min: {e}")))?;
            prop_assert!(
                n >= l.min_size && n <= l.size,
                "{}: encode_min wrote {} bytes",
                name,
                n
            );
            assert_decodes_to(
                o,
                vendor,
                &out[..n],
                &with_argsz(l, &x, n),
                &format!("{name} encode_min"),
            )?;
            Some(n)
        }
        None => None,
    };

    for g in 0..l.generations.len() {
        let Some(xg) = for_generation(l, &x, g) else {
            continue;
        };
        let gen = l.generations[g];
        let at = format!("{name} generation {g} ({}, {} bytes)", gen.name, gen.size);
        if vendor.is_some_and(|_| l.vendor.is_some_and(|r| gen.size < r.min_argsz)) {
            continue; // The vendor layer needs a newer header.
        }
        let n = (o.encode_for)(&xg, g, &mut out)
            .map_err(|e| TestCaseError::fail(format!("{at}: encode_for: {e}\n  x {xg:02x?}")))?;
        prop_assert_eq!(n, gen.size, "{}: encode_for length", at);
        assert_decodes_to(o, vendor, &out[..n], &with_argsz(l, &xg, n), &at)?;
        // The shortest encoding is never longer than a generation that carries the value.
        if let Some(encode_min) = o.encode_min {
            let m = encode_min(&xg, &mut out)
                .map_err(|e| TestCaseError::fail(format!("{at}: encode_min: {e}")))?;
            prop_assert!(m <= gen.size, "{}: encode_min {} > {}", at, m, gen.size);
            assert_decodes_to(
                o,
                vendor,
                &out[..m],
                &with_argsz(l, &xg, m),
                &format!("{at} encode_min"),
            )?;
            if g == l.generations.len() - 1 {
                prop_assert_eq!(Some(m), min_len, "{}: encode_min of the newest form", at);
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// No panic, and only the kernel's errnos
// ---------------------------------------------------------------------------------------

fn never_panics(o: &Ops, user: &[u8]) -> Result<(), TestCaseError> {
    let l = o.layout;
    for policy in Policy::ALL {
        let plain = (o.from_user)(user, policy);
        for vendor in all_vendors() {
            let at = format!("{} {policy} vendor {vendor:?} bytes {user:02x?}", l.name);
            let r = (o.decode)(user, policy, vendor);
            if vendor.is_none() {
                prop_assert_eq!(
                    plain.as_ref().map_err(UapiError::errno),
                    r.as_ref().map(|(v, _)| v).map_err(|e| e.errno()),
                    "{}: from_user vs decode",
                    at
                );
            }
            match r {
                Err(e) => prop_assert!(
                    ERRNOS.contains(&e.errno()),
                    "{}: errno {} ({})",
                    at,
                    e.errno(),
                    e
                ),
                Ok((_, info)) => prop_assert!(info.bytes_read <= user.len(), "{}", at),
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// What zero-tail accepts, linux-5.10 accepts too
// ---------------------------------------------------------------------------------------

fn zero_tail_implies_linux510(o: &Ops, user: &[u8]) -> Result<(), TestCaseError> {
    let l = o.layout;
    for vendor in all_vendors() {
        let Ok((zt, zt_info)) = (o.decode)(user, Policy::ZeroTail, vendor) else {
            continue;
        };
        let at = format!("{} vendor {vendor:?} bytes {user:02x?}", l.name);
        match (o.decode)(user, Policy::Linux510, vendor) {
            Err(e) => prop_assert!(
                false,
                "{}: zero-tail accepts, linux-5.10 refuses: {}",
                at,
                e
            ),
            Ok((old, old_info)) => {
                prop_assert_eq!(&zt, &old, "{}: the two copies differ", at);
                prop_assert_eq!(
                    zt_info.variant.map(|v| v.name),
                    old_info.variant.map(|v| v.name),
                    "{}: union member",
                    at
                );
                prop_assert_eq!(zt_info.argsz, old_info.argsz, "{}: argsz", at);
            }
        }
    }
    Ok(())
}

/// A valid struct of `l` (shape `pick`, valid for `vendor`), with `argsz` forced, the
/// user memory extended to `extra` bytes past max(size, argsz), a few byte mutations
/// past the size field, and optionally cut short.
fn mutated(
    l: &'static Layout,
    vendor: Option<Vendor>,
    pick: usize,
    argsz: Option<usize>,
    extra: usize,
    muts: &[(usize, u8)],
    cut: Option<usize>,
) -> Vec<u8> {
    let cs = cases(l);
    let mut user = build(l, &cs[pick % cs.len()]);
    if vendor.is_some() {
        apply_vendor(l, &mut user);
    }
    let argsz = argsz.map_or(l.size as u32, |p| interesting_argsz(l, p));
    let body = if argsz as usize <= 4200 {
        l.size.max(argsz as usize)
    } else {
        l.size
    };
    user.resize(body + extra, 0);
    put_argsz(&mut user, argsz);
    for &(at, byte) in muts {
        if user.len() > 4 {
            let i = 4 + at % (user.len() - 4);
            user[i] = byte;
        }
    }
    if let Some(c) = cut {
        user.truncate(c % (user.len() + 1));
    }
    user
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// decode(encode_for(x, g)) == x and decode(encode_min(x)) == x, every struct,
    /// every generation, with and without the vendor layer.
    #[test]
    fn decode_of_encode_is_identity(
        noise in vec(any::<u8>(), MAX_STRUCT_SIZE),
        keep in any::<u64>(),
        pick in any::<usize>(),
    ) {
        for o in all_ops() {
            let c = Codec::typed(&o);
            for vendor in vendors_of(o.layout) {
                round_trip(&c, vendor, &noise, keep, pick)?;
            }
        }
    }

    /// The same round trip for the future headers of `compat_tests::generations` (G2:
    /// padding repurposed behind a flag; G3: a larger union member appended), through
    /// every generation each declares, with the generic engine.
    #[test]
    fn decode_of_encode_is_identity_for_future_headers(
        noise in vec(any::<u8>(), MAX_STRUCT_SIZE + 64),
        keep in any::<u64>(),
        pick in any::<usize>(),
    ) {
        for f in FAMILIES {
            for layout in f.declared().filter_map(|g| f.layout(g)) {
                let c = Codec::generic(layout);
                for vendor in vendors_of(layout) {
                    round_trip(&c, vendor, &noise, keep, pick)?;
                }
            }
        }
    }

    /// from_user / decode never panic on arbitrary bytes, and only return the kernel's
    /// errnos; every struct × policy × vendor.
    #[test]
    fn from_user_never_panics_on_arbitrary_bytes(
        bytes in vec(any::<u8>(), 0..=300),
        force in proptest::option::of(any::<usize>()),
    ) {
        for o in all_ops() {
            let mut user = bytes.clone();
            if let (Some(pick), true) = (force, user.len() >= 4 && o.layout.sized) {
                put_argsz(&mut user, interesting_argsz(o.layout, pick));
            }
            never_panics(&o, &user)?;
        }
    }

    /// Zero-tail ⊆ linux-5.10 on arbitrary bytes (often with an interesting argsz),
    /// biased towards 0 and 1 so that both policies get past the content checks.
    #[test]
    fn zero_tail_accepts_only_what_linux510_accepts_arbitrary(
        bytes in vec(prop_oneof![4 => Just(0u8), 1 => Just(1u8), 2 => any::<u8>()], 0..=300),
        force in proptest::option::of(any::<usize>()),
    ) {
        for o in all_ops().iter().filter(|o| o.layout.sized) {
            let mut user = bytes.clone();
            if let (Some(pick), true) = (force, user.len() >= 4) {
                put_argsz(&mut user, interesting_argsz(o.layout, pick));
            }
            zero_tail_implies_linux510(o, &user)?;
        }
    }

    /// Zero-tail ⊆ linux-5.10 on mutated valid structs (mostly zero tails, so that
    /// zero-tail often accepts).
    #[test]
    fn zero_tail_accepts_only_what_linux510_accepts_mutated(
        pick in any::<usize>(),
        argsz in proptest::option::of(any::<usize>()),
        extra in 0usize..64,
        muts in vec((any::<usize>(), any::<u8>()), 0..3),
        cut in proptest::option::weighted(0.2, any::<usize>()),
    ) {
        for o in all_ops().iter().filter(|o| o.layout.sized) {
            for vendor in all_vendors() {
                let user = mutated(o.layout, vendor, pick, argsz, extra, &muts, cut);
                zero_tail_implies_linux510(o, &user)?;
                never_panics(o, &user)?;
            }
        }
    }
}

/// Found by the round-trip property: with the G3 headers, non-zero union bytes past an
/// older generation's size (outside the selected member) were dropped silently. They
/// are a lost field: `encode_for` must refuse, as it does for any other field.
#[test]
fn encode_for_refuses_union_bytes_past_the_target() {
    use compat_tests::generations::{CacheInvalidateInfoG3, GpasidBindDataG3};
    use vsva_uapi::UapiStruct;
    use zerocopy::{FromZeros, IntoBytes};

    let mut inv = CacheInvalidateInfoG3::new_zeroed();
    inv.argsz = 72;
    inv.version = 1;
    inv.cache = 1;
    inv.granularity = 0; // domain: no member
    inv.as_mut_bytes()[60] = 0xee;
    let mut out = [0u8; 128];
    let e = inv.encode_for(0, &mut out).unwrap_err();
    assert!(
        matches!(e, UapiError::FieldLost { field: "granu", .. }),
        "{e}"
    );
    assert_eq!(inv.encode_min(&mut out), Ok(72));
    assert_eq!(inv.encode_for(2, &mut out), Ok(72));

    let mut bind = GpasidBindDataG3::new_zeroed();
    bind.argsz = 88;
    bind.version = 1;
    bind.as_mut_bytes()[80] = 0xee;
    let e = bind.encode_for(0, &mut out).unwrap_err();
    assert!(
        matches!(
            e,
            UapiError::FieldLost {
                field: "vendor",
                ..
            }
        ),
        "{e}"
    );
}
