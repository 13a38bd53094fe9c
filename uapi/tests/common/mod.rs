//! Shared helpers of the `vsva-uapi` integration tests:
//!
//! - [`all_ops`]: a typed dispatch table (one entry per declared struct) so that data-driven
//!   loops over [`ALL_STRUCTS`] also exercise the typed `UapiStruct` front end;
//! - [`build`] / [`cases`]: a small builder of *valid* structs driven only by the
//!   [`Layout`] (never by the codec);
//! - [`oracle`]: the kernel's size rules per policy, written directly from the reference
//!   (§2.1/§2.3 for `linux-5.10`, §3/§6 for `zero-tail`, §5.5 for `flags-xend`), without
//!   calling the crate's codec;
//! - byte helpers, a tiny deterministic PRNG and the user-buffer constructor.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::fmt;

use vsva_uapi::{
    decode_into, CacheInvalidateInfo, Check, DecodeInfo, Errno, Extension, Fault, FaultAlloc,
    FaultPageRequest, FaultUnrecoverable, Field, FieldKind, GpasidBindData, GpasidBindDataVtd,
    HwInfo, HwInfoArmSmmuv3, HwInfoVtd, HwptAlloc, HwptInvalidate, HwptPageResponse, HwptPgfault,
    HwptVtdS1, HwptVtdS1Invalidate, InvAddrInfo, InvPasidInfo, Layout, NestingInfo, NestingInfoVtd,
    NestingOp, PageResponse, PasidRequest, PasidSmmuv3, PasidTableConfig, Policy, Rule, UapiError,
    UapiStruct, Variant, Vendor, VfioDeviceAttachIommufdPt, VfioDeviceDetachIommufdPt, ALL_STRUCTS,
    MAX_STRUCT_SIZE,
};

/// What user memory holds past the user's `argsz` (and past the kernel struct when
/// `argsz` is shorter): bytes no policy may ever look at.
pub const GARBAGE: u8 = 0xAA;

/// The `PAGE_SIZE` cap of `copy_struct_from_user` callers (reference §3).
pub const PAGE: usize = 4096;

// ---------------------------------------------------------------------------------------
// Typed dispatch
// ---------------------------------------------------------------------------------------

/// A typed decode: the value's bytes and what the decode found.
pub type DecodeResult = Result<(Vec<u8>, DecodeInfo), UapiError>;

/// `encode_for` of a value given as bytes: (value, generation, output) → bytes written.
pub type EncodeForFn = fn(&[u8], usize, &mut [u8]) -> Result<usize, UapiError>;

/// The typed front end of one declared struct, callable from a loop over layouts.
pub struct Ops {
    /// The declaration.
    pub layout: &'static Layout,
    /// `T::decode`.
    pub decode: fn(&[u8], Policy, Option<Vendor>) -> DecodeResult,
    /// `T::from_user`.
    pub from_user: fn(&[u8], Policy) -> Result<Vec<u8>, UapiError>,
    /// `T::encode_for` of the value given as bytes.
    pub encode_for: EncodeForFn,
    /// `T::encode` of the value given as bytes.
    pub encode: fn(&[u8], &mut [u8]) -> Result<usize, UapiError>,
    /// `T::encode_min` of the value given as bytes.
    pub encode_min: fn(&[u8], &mut [u8]) -> Result<usize, UapiError>,
}

impl fmt::Debug for Ops {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.layout.name)
    }
}

fn typed<T: UapiStruct>(bytes: &[u8]) -> T {
    T::read_from_bytes(bytes).unwrap_or_else(|_| {
        panic!(
            "{}: a value is exactly {} bytes, got {}",
            T::DECL.name,
            T::DECL.size,
            bytes.len()
        )
    })
}

fn ops<T: UapiStruct>() -> Ops {
    Ops {
        layout: T::DECL,
        decode: |u, p, v| T::decode(u, p, v).map(|d| (d.value.as_bytes().to_vec(), d.info)),
        from_user: |u, p| T::from_user(u, p).map(|v| v.as_bytes().to_vec()),
        encode_for: |val, g, out| typed::<T>(val).encode_for(g, out),
        encode: |val, out| typed::<T>(val).encode(out),
        encode_min: |val, out| typed::<T>(val).encode_min(out),
    }
}

/// One [`Ops`] per struct of [`ALL_STRUCTS`], in the same order (checked by the layout tests).
pub fn all_ops() -> Vec<Ops> {
    vec![
        ops::<CacheInvalidateInfo>(),
        ops::<GpasidBindData>(),
        ops::<PageResponse>(),
        ops::<PasidTableConfig>(),
        ops::<NestingInfo>(),
        ops::<PasidRequest>(),
        ops::<NestingOp>(),
        ops::<HwInfo>(),
        ops::<HwptAlloc>(),
        ops::<HwptInvalidate>(),
        ops::<FaultAlloc>(),
        ops::<VfioDeviceAttachIommufdPt>(),
        ops::<VfioDeviceDetachIommufdPt>(),
        ops::<Fault>(),
        ops::<FaultUnrecoverable>(),
        ops::<FaultPageRequest>(),
        ops::<InvAddrInfo>(),
        ops::<InvPasidInfo>(),
        ops::<GpasidBindDataVtd>(),
        ops::<PasidSmmuv3>(),
        ops::<NestingInfoVtd>(),
        ops::<HwInfoVtd>(),
        ops::<HwInfoArmSmmuv3>(),
        ops::<HwptVtdS1>(),
        ops::<HwptVtdS1Invalidate>(),
        ops::<HwptPgfault>(),
        ops::<HwptPageResponse>(),
    ]
}

/// The typed front end of `layout`.
pub fn ops_for(layout: &Layout) -> Ops {
    all_ops()
        .into_iter()
        .find(|o| o.layout.name == layout.name)
        .unwrap_or_else(|| panic!("no typed ops for {}", layout.name))
}

/// The generic consumer ([`decode_into`]) with an output buffer pre-filled with junk, so
/// that a byte the codec forgets to zero shows up. Returns the result and `read`.
pub fn decode_generic(
    layout: &'static Layout,
    user: &[u8],
    policy: Policy,
    vendor: Option<Vendor>,
) -> (DecodeResult, usize) {
    let mut out = [0x5Au8; MAX_STRUCT_SIZE];
    let mut read = usize::MAX;
    let r = decode_into(layout, user, policy, vendor, &mut out, &mut read);
    (r.map(|info| (out[..layout.size].to_vec(), info)), read)
}

// ---------------------------------------------------------------------------------------
// Bytes
// ---------------------------------------------------------------------------------------

/// Writes `value` as a native-endian integer of `size` bytes at `offset`.
pub fn put(buf: &mut [u8], offset: usize, size: usize, value: u64) {
    let b = value.to_ne_bytes();
    let src = if cfg!(target_endian = "little") {
        &b[..size]
    } else {
        &b[8 - size..]
    };
    buf[offset..offset + size].copy_from_slice(src);
}

/// Reads a native-endian integer of `size` bytes at `offset`.
pub fn get(buf: &[u8], offset: usize, size: usize) -> u64 {
    let mut b = [0u8; 8];
    if cfg!(target_endian = "little") {
        b[..size].copy_from_slice(&buf[offset..offset + size]);
    } else {
        b[8 - size..].copy_from_slice(&buf[offset..offset + size]);
    }
    u64::from_ne_bytes(b)
}

/// Writes the `u32` size field.
pub fn put_argsz(buf: &mut [u8], argsz: u32) {
    buf[..4].copy_from_slice(&argsz.to_ne_bytes());
}

/// A recognisable non-zero byte for offset `i` of a struct (never 0 for `i < 200`).
pub fn pattern(i: usize) -> u8 {
    0x11u8.wrapping_add(i as u8)
}

/// xorshift64*: a deterministic byte stream for "random" tails.
pub fn prng_bytes(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
        })
        .collect()
}

/// The errno of a result, or `None` for `Ok`.
pub fn errno_of<T>(r: &Result<T, UapiError>) -> Option<Errno> {
    r.as_ref().err().map(UapiError::errno)
}

/// The errno a content check failure maps to under `policy` (reference §7: EINVAL in the
/// 2020 core and VFIO, EOPNOTSUPP in iommufd).
pub fn content_errno(policy: Policy) -> Errno {
    match policy {
        Policy::ZeroTail => Errno::EOPNOTSUPP,
        Policy::Linux510 | Policy::FlagsXend => Errno::EINVAL,
    }
}

// ---------------------------------------------------------------------------------------
// Builder of valid structs
// ---------------------------------------------------------------------------------------

/// Whether `value` passes `check` — the tests' own reading of the declaration.
pub fn check_accepts(check: Check, value: u64) -> bool {
    match check {
        Check::None | Check::Argsz | Check::Union => true,
        Check::Version(v) => value == v,
        Check::Flags(known) => value & !known == 0,
        Check::Zero => value == 0,
        Check::Within { mask, below } => value & !mask == 0 && value & mask < below,
        Check::OneOf(vals) | Check::Valid(vals) => vals.contains(&value),
        Check::Aligned(a) => value.is_multiple_of(a),
        Check::Range { min, below } => min <= value && value < below,
        // The newest kernel's reading (the default rules).
        Check::FlagsSince(list) => {
            value & !vsva_uapi::decl::bits_at(list, vsva_uapi::Release::NEWEST) == 0
        }
        Check::OneOfSince(list) => list.iter().any(|s| s.value == value),
    }
}

/// A value that passes `check`, for checks that constrain the value.
pub fn valid_for(check: Check) -> Option<u64> {
    match check {
        Check::None | Check::Argsz | Check::Union => None,
        Check::Version(v) => Some(v),
        Check::Flags(_) | Check::Zero => Some(0),
        Check::Within { below, .. } => {
            assert!(below > 0, "Within with below 0 accepts nothing");
            Some(0)
        }
        Check::OneOf(vals) | Check::Valid(vals) => Some(vals[0]),
        Check::Aligned(_) => Some(0),
        Check::Range { min, .. } => Some(min),
        Check::FlagsSince(_) => Some(0),
        Check::OneOfSince(list) => Some(list[0].value),
    }
}

/// Fills `fields` (offsets relative to `base`) with valid content: constrained fields get
/// a valid value, unconstrained ones a non-zero pattern (so a lost byte is visible).
pub fn fill_fields(buf: &mut [u8], base: usize, fields: &[Field]) {
    for f in fields {
        let off = base + f.offset;
        match f.check {
            Check::Argsz => {}
            // `data_len` is tied to `data_type` by the iommufd handlers (reference §5.2:
            // NONE with data_len != 0 is EINVAL), so it stays 0 in a valid struct.
            Check::None if f.name == "data_len" => put(buf, off, f.size, 0),
            Check::None | Check::Union => {
                for (i, b) in buf.iter_mut().enumerate().skip(off).take(f.size) {
                    *b = pattern(i);
                }
            }
            c => {
                let v = valid_for(c).unwrap_or(0);
                if f.kind == FieldKind::Int {
                    put(buf, off, f.size, v);
                } else {
                    assert_eq!(v, 0, "{}: byte-array field with non-zero check", f.name);
                    buf[off..off + f.size].fill(0);
                }
            }
        }
    }
}

/// Makes `buf` satisfy `rules` (field offsets relative to `base`).
pub fn apply_rules(buf: &mut [u8], base: usize, rules: &[Rule]) {
    for rule in rules {
        match *rule {
            Rule::NotTogether { field, bits } => {
                let v = get(buf, base + field.offset, field.size);
                if v & bits == bits {
                    let highest = 1u64 << (63 - bits.leading_zeros());
                    put(buf, base + field.offset, field.size, v & !highest);
                }
            }
            Rule::AtMost { when, field, max } => {
                if get(buf, base + when.offset, when.size) != 0
                    && get(buf, base + field.offset, field.size) > max
                {
                    put(buf, base + field.offset, field.size, max);
                }
            }
            Rule::Since { rule, .. } => apply_rules(buf, base, core::slice::from_ref(rule)),
            Rule::ForbidBits {
                field,
                bits,
                when,
                equals,
            } => {
                if get(buf, base + when.offset, when.size) == equals {
                    let v = get(buf, base + field.offset, field.size) & !bits;
                    put(buf, base + field.offset, field.size, v);
                }
            }
            Rule::ExactlyOne { field, bits } => {
                let lowest = bits & bits.wrapping_neg();
                let v = (get(buf, base + field.offset, field.size) & !bits) | lowest;
                put(buf, base + field.offset, field.size, v);
            }
            Rule::Requires { when, field, mask } => {
                let have = get(buf, base + field.offset, field.size);
                if get(buf, base + when.offset, when.size) != 0 && have & mask == 0 {
                    let lowest = mask & mask.wrapping_neg();
                    put(buf, base + field.offset, field.size, have | lowest);
                }
            }
            Rule::Ordered { low, high } => {
                if get(buf, base + low.offset, low.size) > get(buf, base + high.offset, high.size) {
                    put(buf, base + low.offset, low.size, 0);
                }
            }
        }
    }
}

/// One shape of a valid struct: which union member the selector picks (or a valid
/// selector value that picks none), and which extension flags are set.
#[derive(Debug, Clone)]
pub struct Case {
    /// The selected union member, if any.
    pub variant: Option<&'static Variant>,
    /// The selector value (`None` for structs without a union).
    pub selector: Option<u64>,
    /// The extension flags set.
    pub exts: Vec<&'static Extension>,
}

impl Case {
    /// A short human-readable label.
    pub fn label(&self) -> String {
        let mut s = match (self.variant, self.selector) {
            (Some(v), _) => format!("member {}", v.name),
            (None, Some(sel)) => format!("selector {sel} (no member)"),
            (None, None) => "base".to_string(),
        };
        for x in &self.exts {
            s.push_str(" + ");
            s.push_str(x.name);
        }
        s
    }

    /// The end of the selected union member, if any.
    pub fn variant_end(&self) -> Option<usize> {
        self.variant.map(|v| v.end)
    }

    /// `xend`: the furthest byte the header selects (min size, member end, flag ends).
    pub fn xend(&self, l: &Layout) -> usize {
        let mut x = l.min_size.max(self.variant_end().unwrap_or(0));
        for e in &self.exts {
            x = x.max(e.end);
        }
        x
    }
}

/// Every case of `l`: each union member, a "no member" selector value when the
/// declaration allows one, and each extension flag on top of the first case.
pub fn cases(l: &'static Layout) -> Vec<Case> {
    let mut v = Vec::new();
    match l.union {
        Some(u) => {
            for var in u.variants {
                v.push(Case {
                    variant: Some(var),
                    selector: Some(var.value),
                    exts: vec![],
                });
            }
            let sel = l
                .fields
                .iter()
                .find(|f| f.offset == u.selector.offset)
                .expect("selector is a field");
            if let Some(none) = (0..=255u64)
                .find(|x| !u.variants.iter().any(|v| v.value == *x) && check_accepts(sel.check, *x))
            {
                v.push(Case {
                    variant: None,
                    selector: Some(none),
                    exts: vec![],
                });
            }
        }
        None => v.push(Case {
            variant: None,
            selector: None,
            exts: vec![],
        }),
    }
    let first = v[0].clone();
    for x in l.extensions {
        v.push(Case {
            exts: vec![x],
            ..first.clone()
        });
    }
    v
}

/// A valid struct of `l` in shape `case`, with `argsz` = size.
pub fn build(l: &'static Layout, case: &Case) -> Vec<u8> {
    let mut b = vec![0u8; l.size];
    fill_fields(&mut b, 0, l.fields);
    if let Some(u) = l.union {
        let sel = case
            .selector
            .expect("a struct with a union needs a selector");
        put(&mut b, u.selector.offset, u.selector.size, sel);
        if let Some(vl) = case.variant.and_then(|v| v.layout) {
            fill_fields(&mut b, u.offset, vl.fields);
            apply_rules(&mut b, u.offset, vl.rules);
        }
    }
    apply_rules(&mut b, 0, l.rules);
    for x in &case.exts {
        let v = get(&b, x.flags.offset, x.flags.size) | x.bit;
        put(&mut b, x.flags.offset, x.flags.size, v);
    }
    for step in l.late {
        if let vsva_uapi::Late::Rule(rule) = step {
            apply_rules(&mut b, 0, core::slice::from_ref(rule));
        }
    }
    // vsva's strictness too: `from_user` applies it.
    for strict in l.strict {
        match strict.check {
            vsva_uapi::StrictCheck::Field(f) => {
                if let Some(v) = valid_for(f.check) {
                    put(&mut b, f.offset, f.size, v);
                }
            }
            vsva_uapi::StrictCheck::Rule(rule) => {
                apply_rules(&mut b, 0, core::slice::from_ref(&rule))
            }
            _ => {}
        }
    }
    if l.sized {
        put_argsz(&mut b, l.size as u32);
    }
    b
}

/// Makes a built struct also pass the vendor layer of `l` (if it has one).
pub fn apply_vendor(l: &'static Layout, buf: &mut [u8]) {
    if let Some(rules) = l.vendor {
        for f in rules.checks {
            if let Some(v) = valid_for(f.check) {
                put(buf, f.offset, f.size, v);
            }
        }
        apply_rules(buf, 0, rules.rules);
    }
}

/// The first case of `l` as a valid struct (the "default" example).
pub fn build_default(l: &'static Layout) -> Vec<u8> {
    build(l, &cases(l)[0])
}

// ---------------------------------------------------------------------------------------
// User buffers
// ---------------------------------------------------------------------------------------

/// What a user puts between the kernel's size and its own `argsz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tail {
    /// All zero (a newer user that uses no new feature).
    Zero,
    /// Non-zero in the first byte past the kernel's size.
    NonZeroFirst,
    /// Non-zero only in the last byte (`argsz - 1`).
    NonZeroLast,
    /// Pseudo-random bytes from this seed.
    Random(u64),
}

/// The user memory, `readable` bytes from the struct's first byte: the struct `value`
/// (with its size field set to `argsz`) up to `min(argsz, size)` (and at least the size
/// field), then the `tail` up to `argsz`, then [`GARBAGE`].
pub fn user_bytes(l: &Layout, value: &[u8], argsz: u32, tail: Tail, readable: usize) -> Vec<u8> {
    let mut v = value.to_vec();
    let a = if l.sized {
        put_argsz(&mut v, argsz);
        argsz as usize
    } else {
        l.size
    };
    let size = l.size;
    let random = match tail {
        Tail::Random(seed) => prng_bytes(seed, a.saturating_sub(size).min(1 << 16)),
        _ => Vec::new(),
    };
    (0..readable)
        .map(|i| {
            // The size field itself is always the user's `argsz`.
            if i < a.min(size) || (l.sized && i < 4) {
                v[i]
            } else if i < a {
                match tail {
                    Tail::Zero => 0,
                    Tail::NonZeroFirst => u8::from(i == size),
                    Tail::NonZeroLast => {
                        if i == a - 1 {
                            0x80
                        } else {
                            0
                        }
                    }
                    Tail::Random(_) => random.get(i - size).copied().unwrap_or(0),
                }
            } else {
                GARBAGE
            }
        })
        .collect()
}

/// One `argsz` to try, with the tail a user puts past the kernel's size.
#[derive(Debug, Clone, Copy)]
pub struct SizeCase {
    /// The `argsz`.
    pub argsz: u32,
    /// The tail past the kernel's size (only meaningful when `argsz > size`).
    pub tail: Tail,
    /// Why this size is interesting.
    pub why: &'static str,
}

/// The sizes of the issue: 0, 3, 4, min−1, min, every member end and end−1, every
/// extension end and end−1, size−1, size, size+1 (zero and non-zero tail), 2×size
/// (random tail), 4095, 4096 (zero and non-zero tail), 4097, `u32::MAX`.
pub fn size_cases(l: &Layout) -> Vec<SizeCase> {
    let s = l.size as u32;
    let m = l.min_size as u32;
    let mut v = vec![
        SizeCase {
            argsz: 0,
            tail: Tail::Zero,
            why: "0",
        },
        SizeCase {
            argsz: 3,
            tail: Tail::Zero,
            why: "3",
        },
        SizeCase {
            argsz: 4,
            tail: Tail::Zero,
            why: "4",
        },
        SizeCase {
            argsz: m - 1,
            tail: Tail::Zero,
            why: "min-1",
        },
        SizeCase {
            argsz: m,
            tail: Tail::Zero,
            why: "min",
        },
    ];
    if let Some(u) = l.union {
        for var in u.variants {
            v.push(SizeCase {
                argsz: var.end as u32 - 1,
                tail: Tail::Zero,
                why: "member end-1",
            });
            v.push(SizeCase {
                argsz: var.end as u32,
                tail: Tail::Zero,
                why: "member end",
            });
        }
    }
    for x in l.extensions {
        v.push(SizeCase {
            argsz: x.end as u32 - 1,
            tail: Tail::Zero,
            why: "extension end-1",
        });
        v.push(SizeCase {
            argsz: x.end as u32,
            tail: Tail::Zero,
            why: "extension end",
        });
    }
    let more = [
        (s - 1, Tail::Zero, "size-1"),
        (s, Tail::Zero, "size"),
        (s + 1, Tail::Zero, "size+1 zero tail"),
        (s + 1, Tail::NonZeroFirst, "size+1 non-zero tail"),
        (
            2 * s,
            Tail::Random(u64::from(s) * 7919),
            "2*size random tail",
        ),
        (2 * s, Tail::NonZeroLast, "2*size non-zero last byte"),
        (4095, Tail::Zero, "4095"),
        (4096, Tail::Zero, "4096 zero tail"),
        (4096, Tail::NonZeroLast, "4096 non-zero last byte"),
        (4097, Tail::Zero, "4097"),
        (u32::MAX, Tail::Zero, "u32::MAX"),
    ];
    v.extend(
        more.iter()
            .map(|&(argsz, tail, why)| SizeCase { argsz, tail, why }),
    );
    v
}

/// The readable lengths to try with `argsz`: shorter than, exactly and longer than
/// `argsz` (when that fits in memory), plus every structural boundary of the case.
pub fn readables(l: &Layout, case: &Case, argsz: u32) -> Vec<usize> {
    let mut r = BTreeSet::new();
    let size = l.size;
    let min = l.min_size;
    let xend = case.xend(l);
    for n in [
        0,
        3,
        4,
        min - 1,
        min,
        xend - 1,
        xend,
        size - 1,
        size,
        size + 13,
    ] {
        r.insert(n);
    }
    if let Some(e) = case.variant_end() {
        r.insert(e - 1);
        r.insert(e);
    }
    let a = argsz as usize;
    if a <= 2 * PAGE + 64 {
        if a > 0 {
            r.insert(a - 1);
        }
        r.insert(a);
        r.insert(a + 13);
    }
    r.into_iter().collect()
}

// ---------------------------------------------------------------------------------------
// The oracle
// ---------------------------------------------------------------------------------------

/// What the kernel does with a user struct, as far as the size rules go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// Accepted: the policy read `read` bytes; the kernel copy holds the user's bytes
    /// below `copied` and zeros from there.
    Ok {
        /// One past the last user byte read (copied or checked for zero).
        read: usize,
        /// One past the last user byte copied into the kernel struct.
        copied: usize,
    },
    /// Refused with this errno; `kind` is the [`UapiError::kind`] naming the reason.
    Err {
        /// The errno.
        errno: Errno,
        /// The reason.
        kind: &'static str,
    },
}

const fn fault() -> Expect {
    Expect::Err {
        errno: Errno::EFAULT,
        kind: "Fault",
    }
}

const fn einval(kind: &'static str) -> Expect {
    Expect::Err {
        errno: Errno::EINVAL,
        kind,
    }
}

const fn e2big(kind: &'static str) -> Expect {
    Expect::Err {
        errno: Errno::E2BIG,
        kind,
    }
}

/// The kernel's size rules for a struct of shape `case` given as `user` (the readable
/// memory), under `policy`. Content checks are not modelled: the caller only asks about
/// structs whose content is valid (also once truncated and zero-filled).
///
/// - `linux-5.10` (§2.1, §2.3, §2.6): copy `minsz` (EFAULT), `argsz < minsz` EINVAL,
///   the discriminator's member end if the core enforces it (EINVAL), a set flag's end
///   (EINVAL), copy `min(argsz, size)` (EFAULT). Bytes past `size` are ignored.
/// - `zero-tail` (§3, §6): `get_user(size)` (EFAULT), `> PAGE_SIZE` E2BIG, `< min`
///   EINVAL, `check_zeroed_user(size..argsz)` (E2BIG at a readable non-zero byte, else
///   EFAULT if the tail is not all readable), copy `min(argsz, size)`
///   (EFAULT), then the member / flag ends (EINVAL).
/// - `flags-xend` (§5.5): copy `minsz` (EFAULT), `argsz < minsz` EINVAL, member and flag
///   ends (always enforced; EINVAL), copy only up to `xend` (EFAULT). Nothing past
///   `xend` is read.
pub fn oracle(l: &Layout, policy: Policy, case: &Case, user: &[u8]) -> Expect {
    let readable = user.len();
    let min = l.min_size;
    let size = l.size;
    let argsz = if l.sized {
        if readable < 4 {
            // Every policy reads the size field first.
            return fault();
        }
        u32::from_ne_bytes([user[0], user[1], user[2], user[3]]) as usize
    } else {
        size
    };
    let enforce = l.union.is_some_and(|u| u.enforce_end);
    let member_short = |always: bool| match case.variant {
        Some(v) if (always || enforce) && argsz < v.end => Some(einval("VariantTruncated")),
        _ => None,
    };
    let ext_short = || {
        case.exts
            .iter()
            .any(|x| argsz < x.end)
            .then(|| einval("ExtensionTruncated"))
    };
    match policy {
        Policy::Linux510 => {
            if readable < min {
                return fault();
            }
            if argsz < min {
                return einval("ArgszTooSmall");
            }
            if let Some(e) = member_short(false).or_else(ext_short) {
                return e;
            }
            let lim = argsz.min(size);
            if readable < lim {
                return fault();
            }
            Expect::Ok {
                read: lim,
                copied: lim,
            }
        }
        Policy::ZeroTail => {
            if argsz > PAGE {
                return e2big("ArgszTooLarge");
            }
            if argsz < min {
                return einval("ArgszTooSmall");
            }
            if argsz > size {
                // check_zeroed_user stops at the first non-zero byte it can read; only
                // an all-zero readable part of a tail that runs past the readable
                // memory faults.
                let seen = user.get(size..argsz.min(readable)).unwrap_or(&[]);
                if seen.iter().any(|b| *b != 0) {
                    return e2big("NonZeroTail");
                }
                if readable < argsz {
                    return fault();
                }
            }
            let lim = argsz.min(size);
            if readable < lim {
                return fault();
            }
            if let Some(e) = member_short(false).or_else(ext_short) {
                return e;
            }
            Expect::Ok {
                read: argsz,
                copied: lim,
            }
        }
        Policy::FlagsXend => {
            if readable < min {
                return fault();
            }
            if argsz < min {
                return einval("ArgszTooSmall");
            }
            if let Some(e) = member_short(true).or_else(ext_short) {
                return e;
            }
            let lim = case.xend(l).min(size);
            if readable < lim {
                return fault();
            }
            Expect::Ok {
                read: lim,
                copied: lim,
            }
        }
    }
}

/// The kernel copy of `user` when `copied` bytes were copied: the user's bytes, then zeros.
pub fn expected_copy(l: &Layout, user: &[u8], copied: usize) -> Vec<u8> {
    (0..l.size)
        .map(|i| if i < copied { user[i] } else { 0 })
        .collect()
}

/// Compares a decode with the oracle; returns a description of the first difference.
pub fn compare(
    l: &Layout,
    user: &[u8],
    want: Expect,
    got: &DecodeResult,
    case: &Case,
) -> Option<String> {
    match (want, got) {
        (Expect::Err { errno, kind }, Err(e)) => {
            if e.errno() != errno || e.kind() != kind {
                Some(format!(
                    "expected {} ({kind}), got {} ({}: {e})",
                    errno.name(),
                    e.errno().name(),
                    e.kind()
                ))
            } else {
                None
            }
        }
        (Expect::Err { errno, kind }, Ok((_, info))) => Some(format!(
            "expected {} ({kind}), got Ok (bytes_read {})",
            errno.name(),
            info.bytes_read
        )),
        (Expect::Ok { .. }, Err(e)) => Some(format!(
            "expected Ok, got {} ({}: {e})",
            e.errno().name(),
            e.kind()
        )),
        (Expect::Ok { read, copied }, Ok((value, info))) => {
            let want_value = expected_copy(l, user, copied);
            if info.bytes_read != read {
                return Some(format!(
                    "bytes_read {} but the policy reads exactly {read}",
                    info.bytes_read
                ));
            }
            let want_argsz = if l.sized {
                u32::from_ne_bytes([user[0], user[1], user[2], user[3]])
            } else {
                l.size as u32
            };
            if info.argsz != want_argsz {
                return Some(format!("info.argsz {} != {want_argsz}", info.argsz));
            }
            if info.variant.map(|v| v.name) != case.variant.map(|v| v.name) {
                return Some(format!(
                    "info.variant {:?} != {:?}",
                    info.variant.map(|v| v.name),
                    case.variant.map(|v| v.name)
                ));
            }
            if *value != want_value {
                let i = value
                    .iter()
                    .zip(&want_value)
                    .position(|(a, b)| a != b)
                    .unwrap_or(0);
                return Some(format!(
                    "value differs at byte {i}: got {:#04x}, want {:#04x} (copy limit {copied})",
                    value[i], want_value[i]
                ));
            }
            None
        }
    }
}

/// Every struct's name, for messages.
pub fn names() -> Vec<&'static str> {
    ALL_STRUCTS.iter().map(|l| l.name).collect()
}

/// Asserts that no mismatch was collected, listing the first ones.
pub fn assert_no_mismatch(what: &str, checked: usize, mismatches: &[String]) {
    assert!(checked > 0, "{what}: nothing was checked");
    if !mismatches.is_empty() {
        let shown: Vec<&str> = mismatches.iter().take(40).map(String::as_str).collect();
        panic!(
            "{what}: {} of {checked} cases disagree:\n  {}",
            mismatches.len(),
            shown.join("\n  ")
        );
    }
}
