//! The one engine behind every struct: the consumer's `from_user` under each
//! [`Policy`], the content checks a [`Layout`] declares, and the producer's encoder.
//!
//! Nothing here is specific to a struct; everything specific is in the declaration.
//! No allocation and no panic for any input: every slice access is checked.

use core::ops::Range;

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use crate::decl::{
    bits_at, Check, Field, FieldKind, FieldRef, Late, Layout, Policy, Rule, StrictCheck,
    StrictRule, Variant, Vendor,
};
use crate::error::UapiError;
use crate::release::Release;

/// Which rules a decode applies: a kernel release's, and whether vsva's own strictness
/// ([`StrictRule`]) comes on top.
///
/// ```
/// use vsva_uapi::{Errno, HwptAlloc, Policy, Release, Rules, UapiStruct};
///
/// // IOMMU_HWPT_ALLOC with FAULT_ID_VALID | NEST_PARENT and a 48-byte struct.
/// let mut user = [0u8; 48];
/// user[..4].copy_from_slice(&48u32.to_ne_bytes());
/// user[4] = 0b101;
/// let at = |release| {
///     HwptAlloc::decode_with(&user, Policy::ZeroTail, None, Rules::kernel(release))
///         .map(drop)
///         .map_err(|e| e.errno())
/// };
/// assert_eq!(at(Release::new(6, 12)), Ok(()));
/// assert_eq!(at(Release::V6_15), Err(Errno::EOPNOTSUPP));
/// // Before 6.11 FAULT_ID_VALID is an unknown flag; before 6.6 there is no such ioctl.
/// assert_eq!(at(Release::V6_7), Err(Errno::EOPNOTSUPP));
/// assert_eq!(at(Release::V5_10), Err(Errno::ENOTTY));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rules {
    /// The kernel release whose rules apply.
    pub release: Release,
    /// Whether vsva's strictness applies on top (vsva-viommu's rules).
    pub strict: bool,
}

impl Rules {
    /// What vsva-viommu applies: the newest kernel's rules and vsva's strictness.
    pub const VSVA: Rules = Rules {
        release: Release::NEWEST,
        strict: true,
    };

    /// Exactly the rules of a kernel of `release`.
    pub const fn kernel(release: Release) -> Rules {
        Rules {
            release,
            strict: false,
        }
    }

    /// The rules of a kernel of `release` and vsva's strictness on top.
    pub const fn strict(release: Release) -> Rules {
        Rules {
            release,
            strict: true,
        }
    }
}

/// A struct the kernel accepts but vsva's strictness refuses: the rule, and the error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StrictRefusal {
    /// The rule that refused.
    pub rule: &'static StrictRule,
    /// The refusal, with the errno vsva-viommu answers.
    pub error: UapiError,
}

/// What a successful decode found besides the value itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeInfo {
    /// The `argsz` the user gave (the struct size for records without a size field).
    pub argsz: u32,
    /// One past the last user byte the policy read (copied or checked for zero).
    pub bytes_read: usize,
    /// The union member the discriminator selected, if any.
    pub variant: Option<&'static Variant>,
}

/// A decoded struct together with [`DecodeInfo`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoded<T> {
    /// The kernel's copy: user bytes up to the policy's read limit, zero beyond.
    pub value: T,
    /// What the decode found.
    pub info: DecodeInfo,
}

/// A struct declared with [`uapi_struct!`](crate::uapi_struct): its zerocopy type plus
/// its [`Layout`]. Decoding and encoding are provided; nothing is per-struct.
pub trait UapiStruct: FromBytes + IntoBytes + KnownLayout + Immutable + Copy {
    /// The struct's declaration.
    const DECL: &'static Layout;

    /// The consumer (kernel) side: copies the struct from the untrusted `user` bytes
    /// (the memory readable from the struct's first byte) under `policy`, and runs the
    /// generic content checks. Returns the kernel's copy.
    ///
    /// # Errors
    /// Any [`UapiError`]; [`UapiError::errno`] is what the kernel would return.
    fn from_user(user: &[u8], policy: Policy) -> Result<Self, UapiError> {
        Self::decode(user, policy, None).map(|d| d.value)
    }

    /// Like [`from_user`](UapiStruct::from_user), with an optional vendor layer, and
    /// returning what the decode found. The rules are vsva-viommu's ([`Rules::VSVA`]:
    /// the newest kernel's, and vsva's strictness).
    ///
    /// # Errors
    /// Any [`UapiError`].
    fn decode(
        user: &[u8],
        policy: Policy,
        vendor: Option<Vendor>,
    ) -> Result<Decoded<Self>, UapiError> {
        Self::decode_with(user, policy, vendor, Rules::VSVA)
    }

    /// Like [`decode`](UapiStruct::decode), under the `rules` of a kernel release (with
    /// or without vsva's strictness).
    ///
    /// # Errors
    /// Any [`UapiError`]; [`UapiError::NotInRelease`] for a struct the release does
    /// not have.
    fn decode_with(
        user: &[u8],
        policy: Policy,
        vendor: Option<Vendor>,
        rules: Rules,
    ) -> Result<Decoded<Self>, UapiError> {
        let mut value = Self::new_zeroed();
        let mut read = 0;
        // The inlined engine, with the declaration a compile-time constant: LLVM unrolls
        // the walk over fields and rules and folds the checks into straight-line code.
        let info = decode_impl(
            Self::DECL,
            user,
            policy,
            vendor,
            rules,
            value.as_mut_bytes(),
            &mut read,
        )?;
        Ok(Decoded { value, info })
    }

    /// The producer (user) side: encodes `self` for a peer whose header is generation
    /// `generation` of [`Layout::generations`]: writes `argsz` = that generation's size
    /// and exactly its bytes. Returns the number of bytes written.
    ///
    /// # Errors
    /// [`UapiError::FieldLost`] when a non-zero field, set flag or selected union
    /// member does not exist in that generation; [`UapiError::OutputTooSmall`];
    /// [`UapiError::UnknownGeneration`].
    fn encode_for(&self, generation: usize, out: &mut [u8]) -> Result<usize, UapiError> {
        encode_for(Self::DECL, self.as_bytes(), generation, out)
    }

    /// Encodes `self` as a request for a kernel of `release`: at that kernel's struct
    /// size ([`Layout::size_at`]) and only if every flag bit, enumeration value, field
    /// and extension it sets is one that release has — the "new user, old kernel" case.
    /// Returns the number of bytes written (the `size` / `argsz` sent).
    ///
    /// # Errors
    /// [`UapiError::NotInRelease`] if the release has no such struct;
    /// [`UapiError::FeatureNewer`] for a newer flag or value; [`UapiError::FieldLost`]
    /// for a newer field or extension; [`UapiError::OutputTooSmall`].
    fn encode_for_release(&self, release: Release, out: &mut [u8]) -> Result<usize, UapiError> {
        encode_for_release(Self::DECL, self.as_bytes(), release, out)
    }

    /// Encodes `self` for the newest header this crate knows.
    ///
    /// # Errors
    /// [`UapiError::OutputTooSmall`].
    fn encode(&self, out: &mut [u8]) -> Result<usize, UapiError> {
        encode_for(
            Self::DECL,
            self.as_bytes(),
            Self::DECL.generations.len() - 1,
            out,
        )
    }

    /// Encodes `self` with the smallest `argsz` that still carries every non-zero field,
    /// the selected union member and every flag-selected extension, so that older
    /// kernels accept it. Returns the number of bytes written.
    ///
    /// # Errors
    /// [`UapiError::OutputTooSmall`].
    fn encode_min(&self, out: &mut [u8]) -> Result<usize, UapiError> {
        let len = min_encoded_len(Self::DECL, self.as_bytes());
        write_encoded(Self::DECL, self.as_bytes(), len, out)
    }
}

/// Tracks how far the consumer has read, and turns out-of-range reads into `EFAULT`.
struct UserReader<'a> {
    strukt: &'static str,
    user: &'a [u8],
    read: &'a mut usize,
}

impl UserReader<'_> {
    #[cold]
    fn fault(&mut self, offset: usize) -> UapiError {
        *self.read = (*self.read).max(self.user.len().min(offset));
        UapiError::Fault {
            strukt: self.strukt,
            offset: offset.max(self.user.len()),
            readable: self.user.len(),
        }
    }

    /// `copy_from_user(out + r.start, user + r.start, r.len())`.
    #[inline(always)]
    fn copy(&mut self, r: Range<usize>, out: &mut [u8]) -> Result<(), UapiError> {
        if r.start >= r.end {
            return Ok(());
        }
        let end = r.end;
        let src = match self.user.get(r.clone()) {
            Some(s) => s,
            None => return Err(self.fault(end)),
        };
        if let Some(dst) = out.get_mut(r) {
            dst.copy_from_slice(src);
        }
        *self.read = (*self.read).max(end);
        Ok(())
    }

    /// `check_zeroed_user(user + r.start, r.len())`: a non-zero byte found before the
    /// first unreadable one is `E2BIG`; an all-zero readable prefix of a range that runs
    /// past the readable bytes is `EFAULT`.
    fn check_zeroed(&mut self, r: Range<usize>) -> Result<(), UapiError> {
        let (start, end) = (r.start, r.end);
        let readable = self
            .user
            .get(start..end.min(self.user.len()))
            .unwrap_or(&[]);
        if let Some(i) = readable.iter().position(|b| *b != 0) {
            *self.read = (*self.read).max(start + i + 1);
            return Err(UapiError::NonZeroTail {
                strukt: self.strukt,
                offset: start + i,
                byte: readable.get(i).copied().unwrap_or(0),
            });
        }
        if end > self.user.len() {
            return Err(self.fault(end));
        }
        *self.read = (*self.read).max(end);
        Ok(())
    }
}

/// Reads an integer field (native endian) from `buf`; out of range reads as 0.
#[inline(always)]
pub fn read_field(buf: &[u8], f: FieldRef) -> u64 {
    read_int(buf, f.offset, f.size)
}

#[inline(always)]
fn read_int(buf: &[u8], offset: usize, size: usize) -> u64 {
    let Some(b) = offset
        .checked_add(size)
        .and_then(|end| buf.get(offset..end))
    else {
        return 0;
    };
    match size {
        1 => u64::from(b.first().copied().unwrap_or(0)),
        2 => u16::read_from_bytes(b).map_or(0, u64::from),
        4 => u32::read_from_bytes(b).map_or(0, u64::from),
        8 => u64::read_from_bytes(b).unwrap_or(0),
        _ => 0,
    }
}

fn write_u32(buf: &mut [u8], offset: usize, v: u32) {
    if let Some(dst) = buf.get_mut(offset..offset + 4) {
        dst.copy_from_slice(&v.to_ne_bytes());
    }
}

/// The union member the header bytes select, if the struct has a union and the
/// selector holds a known value.
#[inline(always)]
pub fn selected_variant(layout: &Layout, buf: &[u8]) -> Option<&'static Variant> {
    let u = layout.union?;
    layout.variant_for(read_field(buf, u.selector))
}

/// Decodes `layout` from `user` into `out` (at least `layout.size` bytes, zeroed here
/// first) under `policy`, then runs the content checks and, if `vendor` has rules for
/// the struct, the vendor checks. `read` receives how far the policy read, also on error.
///
/// This is the consumer role; [`UapiStruct::from_user`] is its typed front end. The
/// rules are vsva-viommu's ([`Rules::VSVA`]); see [`decode_into_with`].
///
/// # Errors
/// Any [`UapiError`], in the kernel's order: `EFAULT` for the mandatory copy, then the
/// size checks, then the tail copy, then content checks, then vendor checks.
pub fn decode_into(
    layout: &'static Layout,
    user: &[u8],
    policy: Policy,
    vendor: Option<Vendor>,
    out: &mut [u8],
    read: &mut usize,
) -> Result<DecodeInfo, UapiError> {
    decode_impl(layout, user, policy, vendor, Rules::VSVA, out, read)
}

/// [`decode_into`] under the `rules` of a kernel release: with
/// [`Rules::kernel`], the verdict is exactly that kernel's (its struct size, the flags
/// and values it knows, its checks in its order); with [`Rules::strict`], vsva's
/// strictness ([`strict_check`]) comes after the kernel's checks.
///
/// # Errors
/// Any [`UapiError`]; [`UapiError::NotInRelease`] for a struct the release does not
/// have.
pub fn decode_into_with(
    layout: &'static Layout,
    user: &[u8],
    policy: Policy,
    vendor: Option<Vendor>,
    rules: Rules,
    out: &mut [u8],
    read: &mut usize,
) -> Result<DecodeInfo, UapiError> {
    decode_impl(layout, user, policy, vendor, rules, out, read)
}

#[inline(always)]
fn decode_impl(
    layout: &'static Layout,
    user: &[u8],
    policy: Policy,
    vendor: Option<Vendor>,
    rules: Rules,
    out: &mut [u8],
    read: &mut usize,
) -> Result<DecodeInfo, UapiError> {
    let strukt = layout.name;
    let release = rules.release;
    *read = 0;
    let since = layout.since();
    if release < since {
        return Err(UapiError::NotInRelease {
            strukt,
            since,
            release,
        });
    }
    // The kernel's struct size at this release; the copy is `layout.size` bytes, zero
    // past what that kernel knows.
    let ksize = layout.size_at(release);
    let Some(out) = out.get_mut(..layout.size) else {
        return Err(UapiError::OutputTooSmall {
            strukt,
            need: layout.size,
            have: out.len(),
        });
    };
    out.fill(0);
    let mut r = UserReader { strukt, user, read };
    let ctx = Ctx {
        strukt,
        policy,
        release,
    };

    // The size field. Records without one are exactly `ksize` bytes; an in-kernel API
    // that does not read it takes the whole struct.
    let argsz = if layout.sized {
        r.copy(0..4, out)?;
        read_int(out, 0, 4) as u32
    } else {
        ksize as u32
    };
    // vsva's strictness reads it anyway (STRICT_ARGSZ_MINIMUM, at the kernel's place for
    // the size check).
    let usize_ = if layout.argsz_read || rules.strict {
        argsz as usize
    } else {
        ksize
    };

    // Under FlagsXend the base fields are checked before the flags select an `xend`
    // (vfio_df_ioctl_attach_pt: unknown flags are EINVAL before any further copy).
    let base_first = policy == Policy::FlagsXend;
    let min_size = layout.min_size;
    match policy {
        Policy::Linux510 | Policy::FlagsXend => {
            // The 2020 core and VFIO copy the mandatory fields before looking at argsz.
            r.copy(0..min_size, out)?;
            if usize_ < min_size {
                return Err(UapiError::ArgszTooSmall {
                    strukt,
                    argsz,
                    need: min_size,
                });
            }
            if base_first {
                check_fields(ctx, layout, layout.fields, 0, out, |f| f.end() <= min_size)?;
            }
        }
        Policy::ZeroTail => {
            // No upper bound in the kernel: the page cap is vsva's (STRICT_ARGSZ_CAP),
            // checked before anything is scanned.
            if let (true, Some(limit)) = (rules.strict, policy.argsz_cap()) {
                if usize_ > limit {
                    return Err(UapiError::ArgszTooLarge {
                        strukt,
                        argsz,
                        limit,
                    });
                }
            }
            if usize_ < layout.min_size {
                return Err(UapiError::ArgszTooSmall {
                    strukt,
                    argsz,
                    need: layout.min_size,
                });
            }
            if usize_ > ksize {
                r.check_zeroed(ksize..usize_)?;
            }
            r.copy(0..usize_.min(ksize), out)?;
        }
    }

    // The ends the header selects: the union member, and every set extension flag.
    let variant =
        selected_variant(layout, out).filter(|v| layout.generation_release(v.since) <= release);
    if let (Some(u), Some(v)) = (layout.union, variant) {
        let required = u.enforce_end || policy == Policy::FlagsXend;
        if required && usize_ < v.end {
            return Err(UapiError::VariantTruncated {
                strukt,
                variant: v.name,
                argsz,
                need: v.end,
            });
        }
    }
    let mut xend = layout.min_size.max(variant.map_or(0, |v| v.end));
    for x in layout.extensions {
        if layout.generation_release(x.since) > release {
            continue;
        }
        if read_field(out, x.flags) & x.bit != 0 {
            // copy_struct_from_user zero-fills a field past `size`: only the 2020 core
            // and VFIO refuse the flag (under zero-tail, STRICT_EXTENSION_END does).
            if usize_ < x.end && (policy != Policy::ZeroTail || rules.strict) {
                return Err(UapiError::ExtensionTruncated {
                    strukt,
                    flag: x.name,
                    argsz,
                    need: x.end,
                });
            }
            xend = xend.max(x.end);
        }
    }

    // The rest of the copy.
    match policy {
        Policy::Linux510 => r.copy(layout.min_size..usize_.min(ksize), out)?,
        Policy::FlagsXend => r.copy(layout.min_size..xend.min(ksize).min(usize_), out)?,
        Policy::ZeroTail => {}
    }
    let bytes_read = *r.read;

    // Content checks of the generic layer, the late ones after the rules.
    let is_late = |f: &Field| {
        layout
            .late
            .iter()
            .any(|l| matches!(l, Late::Field(name) if *name == f.name))
    };
    check_fields(ctx, layout, layout.fields, 0, out, |f| {
        (!base_first || f.end() > min_size) && !is_late(f)
    })?;
    if let (
        Some(u),
        Some(Variant {
            layout: Some(vl), ..
        }),
    ) = (layout.union, variant)
    {
        check_fields(ctx, vl, vl.fields, u.offset, out, |_| true)?;
        check_rules(ctx, vl.rules, u.offset, out)?;
    }
    check_rules(ctx, layout.rules, 0, out)?;
    for step in layout.late {
        match step {
            Late::Field(name) => {
                check_fields(ctx, layout, layout.fields, 0, out, |f| f.name == *name)?;
            }
            Late::Rule(rule) => check_rules(ctx, core::slice::from_ref(rule), 0, out)?,
        }
    }

    // The vendor layer.
    if let (Some(want), Some(vendor_rules)) = (vendor, layout.vendor) {
        if vendor_rules.vendor == want {
            check_fields(ctx, layout, vendor_rules.checks, 0, out, |_| true)?;
            if usize_ < vendor_rules.min_argsz {
                return Err(UapiError::VendorTruncated {
                    strukt,
                    vendor: want,
                    argsz,
                    need: vendor_rules.min_argsz,
                });
            }
            check_rules(ctx, vendor_rules.rules, 0, out)?;
        }
    }

    let info = DecodeInfo {
        argsz,
        bytes_read,
        variant,
    };
    if rules.strict {
        strict_check(layout, user, out, &info, policy, vendor, release).map_err(|r| r.error)?;
    }
    Ok(info)
}

/// vsva's strictness over a struct the kernel's rules accepted: `user` is the user
/// memory, `kernel` the decode's output and `info` what it found. Every rule of
/// [`Layout::strict_rules_under`] `policy` that applies with `vendor`, in order.
///
/// # Errors
/// The first [`StrictRefusal`].
pub fn strict_check(
    layout: &'static Layout,
    user: &[u8],
    kernel: &[u8],
    info: &DecodeInfo,
    policy: Policy,
    vendor: Option<Vendor>,
    release: Release,
) -> Result<(), StrictRefusal> {
    let strukt = layout.name;
    let ctx = Ctx {
        strukt,
        policy,
        release,
    };
    let argsz = info.argsz;
    for rule in layout.strict_rules_under(policy) {
        if rule.vendor.is_some() && rule.vendor != vendor {
            continue;
        }
        let refuse = |error| Err(StrictRefusal { rule, error });
        match rule.check {
            StrictCheck::ArgszCap => {
                if let Some(limit) = policy.argsz_cap() {
                    if argsz as usize > limit {
                        return refuse(UapiError::ArgszTooLarge {
                            strukt,
                            argsz,
                            limit,
                        });
                    }
                }
            }
            StrictCheck::ExtensionEnd => {
                if policy != Policy::ZeroTail {
                    continue;
                }
                for x in layout.extensions {
                    let known = layout.generation_release(x.since) <= release;
                    if known && read_field(kernel, x.flags) & x.bit != 0 && (argsz as usize) < x.end
                    {
                        return refuse(UapiError::ExtensionTruncated {
                            strukt,
                            flag: x.name,
                            argsz,
                            need: x.end,
                        });
                    }
                }
            }
            StrictCheck::ArgszMinimum => {
                if (argsz as usize) < layout.min_size {
                    return refuse(UapiError::ArgszTooSmall {
                        strukt,
                        argsz,
                        need: layout.min_size,
                    });
                }
                // Honouring argsz under zero-tail also means its tail past the struct.
                let ksize = layout.size_at(release);
                if policy == Policy::ZeroTail && argsz as usize > ksize {
                    let mut read = 0;
                    let mut r = UserReader {
                        strukt,
                        user,
                        read: &mut read,
                    };
                    if let Err(e) = r.check_zeroed(ksize..argsz as usize) {
                        return refuse(e);
                    }
                }
            }
            StrictCheck::Field(f) => {
                if let Err(e) =
                    check_fields(ctx, layout, core::slice::from_ref(&f), 0, kernel, |_| true)
                {
                    return refuse(e);
                }
            }
            StrictCheck::Rule(r) => {
                if let Err(e) = check_rules(ctx, core::slice::from_ref(&r), 0, kernel) {
                    return refuse(e);
                }
            }
        }
    }
    Ok(())
}

/// What every check needs to know besides the bytes.
#[derive(Clone, Copy)]
struct Ctx {
    strukt: &'static str,
    policy: Policy,
    release: Release,
}

/// The checks of `fields` (of the struct or member `owner`, at `base`), as a kernel of
/// `ctx.release` makes them: a field newer than the release is reserved space there
/// (must be zero) if that kernel's struct reaches it, else it is past its end.
#[inline(always)]
fn check_fields(
    ctx: Ctx,
    owner: &Layout,
    fields: &[Field],
    base: usize,
    buf: &[u8],
    select: impl Fn(&Field) -> bool,
) -> Result<(), UapiError> {
    let Ctx {
        strukt,
        policy,
        release,
    } = ctx;
    for f in fields.iter().filter(|f| select(f)) {
        let offset = base + f.offset;
        let value = if f.kind == FieldKind::Int {
            read_int(buf, offset, f.size)
        } else {
            0
        };
        let mut check = f.check.at(release);
        if owner.generation_release(f.since) > release {
            if f.offset >= owner.size_at(release) {
                continue;
            }
            check = Check::Zero;
        }
        match check {
            Check::None | Check::Argsz | Check::Union => {}
            Check::FlagsSince(_) => {}
            Check::OneOfSince(_) => {
                if !check.allows_value(value, release) {
                    return Err(UapiError::UnsupportedValue {
                        strukt,
                        field: f.name,
                        offset,
                        have: value,
                        policy,
                    });
                }
            }
            Check::Version(need) => {
                if value != need {
                    return Err(UapiError::BadVersion {
                        strukt,
                        field: f.name,
                        have: value,
                        need,
                    });
                }
            }
            Check::Flags(known) => {
                if value & !known != 0 {
                    return Err(UapiError::UnknownFlags {
                        strukt,
                        field: f.name,
                        offset,
                        have: value,
                        known,
                        policy,
                    });
                }
            }
            Check::Zero => {
                let bytes = buf.get(offset..offset + f.size).unwrap_or(&[]);
                if let Some(i) = bytes.iter().position(|b| *b != 0) {
                    return Err(UapiError::NonZeroReserved {
                        strukt,
                        field: f.name,
                        offset: offset + i,
                        policy,
                    });
                }
            }
            Check::Within { mask, below } => {
                if value & !mask != 0 {
                    return Err(UapiError::UnknownFlags {
                        strukt,
                        field: f.name,
                        offset,
                        have: value,
                        known: mask,
                        policy,
                    });
                }
                if value & mask >= below {
                    return Err(UapiError::UnsupportedValue {
                        strukt,
                        field: f.name,
                        offset,
                        have: value,
                        policy,
                    });
                }
            }
            Check::Range { min, below } => {
                if value < min || value >= below {
                    return Err(invalid(strukt, f, offset, value));
                }
            }
            Check::Valid(values) => {
                if !values.contains(&value) {
                    return Err(invalid(strukt, f, offset, value));
                }
            }
            Check::Aligned(align) => {
                if value & align.wrapping_sub(1) != 0 {
                    return Err(invalid(strukt, f, offset, value));
                }
            }
            Check::OneOf(values) => {
                if !values.contains(&value) {
                    return Err(UapiError::UnsupportedValue {
                        strukt,
                        field: f.name,
                        offset,
                        have: value,
                        policy,
                    });
                }
            }
        }
    }
    Ok(())
}

fn invalid(strukt: &'static str, f: &Field, offset: usize, have: u64) -> UapiError {
    UapiError::InvalidValue {
        strukt,
        field: f.name,
        offset,
        have,
    }
}

#[inline(always)]
fn check_rules(ctx: Ctx, rules: &[Rule], base: usize, buf: &[u8]) -> Result<(), UapiError> {
    for rule in rules {
        check_rule(ctx, rule, base, buf)?;
    }
    Ok(())
}

#[inline(always)]
fn check_rule(ctx: Ctx, rule: &Rule, base: usize, buf: &[u8]) -> Result<(), UapiError> {
    let strukt = ctx.strukt;
    {
        match *rule {
            Rule::ForbidBits {
                field,
                bits,
                when,
                equals,
            } => {
                let set = read_field(buf, field.at(base)) & bits;
                if set != 0 && read_field(buf, when.at(base)) == equals {
                    return Err(UapiError::ForbiddenCombination {
                        strukt,
                        field: field.name,
                        bits: set,
                        when: when.name,
                        equals,
                    });
                }
            }
            Rule::ExactlyOne { field, bits } => {
                let have = read_field(buf, field.at(base));
                if (have & bits).count_ones() != 1 {
                    return Err(UapiError::ExclusiveFlags {
                        strukt,
                        field: field.name,
                        have,
                        bits,
                    });
                }
            }
            Rule::Requires { when, field, mask } => {
                if read_field(buf, when.at(base)) != 0
                    && read_field(buf, field.at(base)) & mask == 0
                {
                    return Err(UapiError::MissingField {
                        strukt,
                        when: when.name,
                        field: field.name,
                    });
                }
            }
            Rule::Ordered { low, high } => {
                let (lo, hi) = (
                    read_field(buf, low.at(base)),
                    read_field(buf, high.at(base)),
                );
                if lo > hi {
                    return Err(UapiError::InvertedRange {
                        strukt,
                        low: low.name,
                        high: high.name,
                        low_value: lo,
                        high_value: hi,
                    });
                }
            }
            Rule::NotTogether { field, bits } => {
                let have = read_field(buf, field.at(base));
                if have & bits == bits {
                    return Err(UapiError::UnsupportedCombination {
                        strukt,
                        field: field.name,
                        have,
                        bits,
                        policy: ctx.policy,
                    });
                }
            }
            Rule::AnyOf { field, bits } => {
                let have = read_field(buf, field.at(base));
                if have & bits == 0 {
                    return Err(UapiError::NoneOf {
                        strukt,
                        field: field.name,
                        have,
                        bits,
                    });
                }
            }
            Rule::AtMost { when, field, max } => {
                let have = read_field(buf, field.at(base));
                if read_field(buf, when.at(base)) != 0 && have > max {
                    return Err(UapiError::InvalidValue {
                        strukt,
                        field: field.name,
                        offset: base + field.offset,
                        have,
                    });
                }
            }
            Rule::Since { release, rule } => {
                if release <= ctx.release {
                    check_rule(ctx, rule, base, buf)?;
                }
            }
        }
    }
    Ok(())
}

/// The producer role: encodes the kernel-layout bytes `value` (exactly `layout.size`
/// bytes) for a peer of header generation `generation`. See [`UapiStruct::encode_for`].
///
/// # Errors
/// [`UapiError::FieldLost`], [`UapiError::OutputTooSmall`], [`UapiError::UnknownGeneration`].
pub fn encode_for(
    layout: &'static Layout,
    value: &[u8],
    generation: usize,
    out: &mut [u8],
) -> Result<usize, UapiError> {
    let strukt = layout.name;
    let Some(target) = layout.generations.get(generation) else {
        return Err(UapiError::UnknownGeneration {
            strukt,
            index: generation,
        });
    };
    let lost = |field| UapiError::FieldLost {
        strukt,
        field,
        generation: target.name,
    };
    for f in layout.fields {
        let bytes = value.get(f.offset..f.end()).unwrap_or(&[]);
        if f.since as usize > generation && bytes.iter().any(|b| *b != 0) {
            return Err(lost(f.name));
        }
        // Any non-zero byte the target generation cannot receive would be dropped:
        // a field past its size, or union bytes past it whatever member is selected.
        let cut = target.size.clamp(f.offset, f.end());
        let past = value.get(cut..f.end()).unwrap_or(&[]);
        if past.iter().any(|b| *b != 0) {
            return Err(lost(f.name));
        }
    }
    if let Some(v) = selected_variant(layout, value) {
        if v.since as usize > generation {
            return Err(lost(v.name));
        }
    }
    for x in layout.extensions {
        if x.since as usize > generation && read_field(value, x.flags) & x.bit != 0 {
            return Err(lost(x.name));
        }
    }
    write_encoded(layout, value, target.size, out)
}

/// The producer role for a kernel of `release`: encodes the kernel-layout bytes `value`
/// at the struct's size in that release, refusing what that release would not accept.
/// See [`UapiStruct::encode_for_release`].
///
/// # Errors
/// [`UapiError::NotInRelease`], [`UapiError::FeatureNewer`], [`UapiError::FieldLost`],
/// [`UapiError::OutputTooSmall`].
pub fn encode_for_release(
    layout: &'static Layout,
    value: &[u8],
    release: Release,
    out: &mut [u8],
) -> Result<usize, UapiError> {
    let strukt = layout.name;
    let since = layout.since();
    if release < since {
        return Err(UapiError::NotInRelease {
            strukt,
            since,
            release,
        });
    }
    for f in layout.fields {
        if f.size > 8 || f.end() > value.len() {
            continue;
        }
        let v = read_int(value, f.offset, f.size);
        let newer = |value: u64, since: Option<Release>| UapiError::FeatureNewer {
            strukt,
            field: f.name,
            value,
            since,
            release,
        };
        match f.check {
            Check::FlagsSince(list) => {
                let unknown = v & !bits_at(list, release);
                if unknown != 0 {
                    let bit = unknown & unknown.wrapping_neg();
                    let since = list.iter().find(|s| s.value & bit != 0);
                    return Err(newer(bit, since.map(|s| s.release)));
                }
            }
            Check::OneOfSince(list) if !f.check.allows_value(v, release) => {
                let since = list.iter().find(|s| s.value == v);
                return Err(newer(v, since.map(|s| s.release)));
            }
            _ => {}
        }
    }
    // The newest generation that release has (the first one for the struct's own release).
    let generation = (0..layout.generations.len())
        .rev()
        .find(|&i| layout.generation_release(i as u8) <= release)
        .unwrap_or(0);
    encode_for(layout, value, generation, out)
}

/// The smallest `argsz` that carries every non-zero byte of `value`, the selected union
/// member and every set extension, and is at least the minimum size.
pub fn min_encoded_len(layout: &Layout, value: &[u8]) -> usize {
    if !layout.sized {
        // A record without a size field is always the whole record.
        return layout.size;
    }
    let mut len = layout.min_size;
    let variant = selected_variant(layout, value);
    if let Some(v) = variant {
        len = len.max(v.end);
    }
    for x in layout.extensions {
        if read_field(value, x.flags) & x.bit != 0 {
            len = len.max(x.end);
        }
    }
    if let Some(last) = value
        .get(..layout.size)
        .and_then(|v| v.iter().rposition(|b| *b != 0))
    {
        // Round up to the end of the field holding the last non-zero byte: inside the
        // union, the selected member's field; elsewhere, the struct's own field.
        let member_field = layout.union.zip(variant).and_then(|(u, v)| {
            let l = v.layout?;
            let f = l.field_at(last.checked_sub(u.offset)?)?;
            Some(u.offset + f.end())
        });
        let end = member_field
            .or_else(|| layout.field_at(last).map(|f| f.end()))
            .unwrap_or(last + 1);
        // The size field itself is rewritten; it never forces a longer encoding.
        if last >= 4 {
            len = len.max(end);
        }
    }
    len
}

fn write_encoded(
    layout: &Layout,
    value: &[u8],
    len: usize,
    out: &mut [u8],
) -> Result<usize, UapiError> {
    let have = out.len();
    let Some(dst) = out.get_mut(..len) else {
        return Err(UapiError::OutputTooSmall {
            strukt: layout.name,
            need: len,
            have,
        });
    };
    dst.fill(0);
    let n = len.min(layout.size).min(value.len());
    if let (Some(d), Some(s)) = (dst.get_mut(..n), value.get(..n)) {
        d.copy_from_slice(s);
    }
    if layout.sized {
        write_u32(dst, 0, len as u32);
    }
    Ok(len)
}

/// A field's decoded value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValue<'a> {
    /// An integer field.
    Int(u64),
    /// A byte-array field (padding, reserved, or a union without a typed member).
    Bytes(&'a [u8]),
}

/// One field of a decoded struct, with its place in the struct.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldEntry<'a> {
    /// `Some((union, member))` for a field of the selected union member.
    pub member: Option<(&'static str, &'static str)>,
    /// The field's declaration (its offset is relative to its container).
    pub field: &'static Field,
    /// The absolute offset in the struct.
    pub offset: usize,
    /// The value.
    pub value: FieldValue<'a>,
}

impl core::fmt::Display for FieldEntry<'_> {
    /// Writes the field's C path (`granu.addr_info.flags`).
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if let Some((u, m)) = self.member {
            write!(f, "{u}.{m}.")?;
        }
        f.write_str(self.field.name)
    }
}

/// Every field of `buf` (a struct of `layout`, e.g. a decode's output) in offset order.
/// The union is shown through the member `variant` selects (its fields, with
/// [`FieldEntry::member`] set); without a typed member it is shown as raw bytes.
pub fn field_entries<'a>(
    layout: &'static Layout,
    buf: &'a [u8],
    variant: Option<&'static Variant>,
) -> impl Iterator<Item = FieldEntry<'a>> + 'a {
    let member_layout = variant.and_then(|v| v.layout.map(|l| (v, l)));
    layout.fields.iter().flat_map(move |f| {
        let union_member = match (f.check, layout.union, member_layout) {
            (Check::Union, Some(u), Some((v, l))) => Some((u, v, l)),
            _ => None,
        };
        let (own, nested) = match union_member {
            Some((u, v, l)) => (None, Some((u, v, l))),
            None => (Some(entry(buf, f, 0, None)), None),
        };
        own.into_iter()
            .chain(nested.into_iter().flat_map(move |(u, v, l)| {
                l.fields
                    .iter()
                    .map(move |nf| entry(buf, nf, u.offset, Some((u.name, v.name))))
            }))
    })
}

fn entry<'a>(
    buf: &'a [u8],
    f: &'static Field,
    base: usize,
    member: Option<(&'static str, &'static str)>,
) -> FieldEntry<'a> {
    let offset = base + f.offset;
    let value = match f.kind {
        FieldKind::Int => FieldValue::Int(read_int(buf, offset, f.size)),
        FieldKind::Bytes => FieldValue::Bytes(buf.get(offset..offset + f.size).unwrap_or(&[])),
    };
    FieldEntry {
        member,
        field: f,
        offset,
        value,
    }
}
