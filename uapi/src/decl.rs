//! The declaration of a UAPI struct: one [`Layout`] per struct, from which decoding,
//! encoding, the documentation tables and the compatibility matrix all follow.
//!
//! A `Layout` says, as data:
//! - where the size field sits (`argsz` / `size` at offset 0, or none for fixed records);
//! - the minimum size (the first-release fields: the offset of the variable union);
//! - every field with its offset, size, content check and the header generation that added it;
//! - the variable-size union, its discriminator, and the end of every member;
//! - which flag bit unlocks which extension end (the VFIO cdev `xend` rule);
//! - cross-field rules (the cache-type × granularity table, exclusive flags, ranges);
//! - the known sizes per header generation;
//! - vendor rules (VT-d) that tighten the core checks.
//!
//! Adding a field to a future header is a change to the declaration: a new
//! [`Field`] with a later `since`, a new [`Variant`], or a new [`Extension`] — never new
//! decode logic. [`Layout::validate`] runs at compile time for every declaration.

use core::fmt;

use crate::release::Release;

/// The size policy a consumer (kernel side) applies to an untrusted `argsz`.
///
/// See `docs/extension-rules.md` and the reference §7 for the three side by side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Policy {
    /// The merged v5.10 IOMMU UAPI core (`iommu_uapi_cache_invalidate`,
    /// `iommu_sva_prepare_bind_data`): copy `min(argsz, sizeof)`, zero-fill the rest,
    /// ignore bytes past the kernel's size, `EINVAL` below the minimum or below the end
    /// of the union member the discriminator selects. No upper bound on `argsz`.
    Linux510,
    /// `copy_struct_from_user` as its callers use it (iommufd, openat2, clone3): bytes
    /// past the kernel's size must be zero (else `E2BIG`), a shorter struct is
    /// zero-filled. Unknown flags and non-zero reserved fields are `EOPNOTSUPP`. The
    /// kernel has no upper bound; vsva's strictness ([`STRICT_ARGSZ_CAP`], the callers'
    /// pattern from the kernel-doc) refuses `argsz > PAGE_SIZE` with `E2BIG`.
    ZeroTail,
    /// The VFIO cdev rule (`vfio_df_ioctl_attach_pt`): read the base struct, then only up
    /// to the end the set flags (and the union discriminator) select; bytes beyond that
    /// end are never looked at.
    FlagsXend,
}

impl Policy {
    /// Every policy, in documentation order.
    pub const ALL: [Policy; 3] = [Policy::Linux510, Policy::ZeroTail, Policy::FlagsXend];

    /// The policy's command-line name (`linux-5.10`, `zero-tail`, `flags-xend`).
    pub const fn name(self) -> &'static str {
        match self {
            Policy::Linux510 => "linux-5.10",
            Policy::ZeroTail => "zero-tail",
            Policy::FlagsXend => "flags-xend",
        }
    }

    /// Parses a command-line name as printed by [`Policy::name`].
    pub fn from_name(name: &str) -> Option<Policy> {
        Policy::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The largest `argsz` the policy accepts, if it has a cap (`ZeroTail`: `PAGE_SIZE`).
    pub const fn argsz_cap(self) -> Option<usize> {
        match self {
            Policy::ZeroTail => Some(PAGE_SIZE),
            Policy::Linux510 | Policy::FlagsXend => None,
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The page size `copy_struct_from_user` callers cap `usize` at.
pub const PAGE_SIZE: usize = 4096;

/// An IOMMU vendor whose driver adds checks on top of the generic layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Vendor {
    /// Intel VT-d (`intel_svm_bind_gpasid`, `intel_iommu_sva_invalidate`).
    Vtd,
}

impl Vendor {
    /// Every vendor with rules, in documentation order.
    pub const ALL: [Vendor; 1] = [Vendor::Vtd];

    /// The command-line name (`vtd`).
    pub const fn name(self) -> &'static str {
        match self {
            Vendor::Vtd => "vtd",
        }
    }

    /// Parses a command-line name as printed by [`Vendor::name`].
    pub fn from_name(name: &str) -> Option<Vendor> {
        Vendor::ALL.into_iter().find(|v| v.name() == name)
    }
}

/// What the consumer checks about one field's content after the copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Nothing (addresses, ids, output fields).
    None,
    /// The size field itself (`argsz` / `size`).
    Argsz,
    /// Must equal this version number (`EINVAL` otherwise).
    Version(u64),
    /// Only these bits may be set (unknown bits: `EINVAL`, or `EOPNOTSUPP` under zero-tail).
    Flags(u64),
    /// Only these bits may be set, each from the release that introduced it: a kernel
    /// knows the bits whose release is not newer than its own ([`Check::at`]).
    FlagsSince(&'static [Since]),
    /// Padding or reserved bytes: must be zero.
    Zero,
    /// An enumeration: bits outside `mask` are unknown flags; `value & mask` must be `< below`.
    Within {
        /// The bits that carry the value.
        mask: u64,
        /// The first unsupported value.
        below: u64,
    },
    /// An enumeration with sparse values: must be one of these.
    OneOf(&'static [u64]),
    /// An enumeration whose values arrived release by release: must be one of those a
    /// kernel of the release knows ([`Check::at`]).
    OneOfSince(&'static [Since]),
    /// A value the kernel judges *wrong* (not merely unknown) unless it is one of these:
    /// `EINVAL` under every policy (iommufd fault.c's response code, an invalidation
    /// array of the wrong type).
    Valid(&'static [u64]),
    /// Must be a multiple of this power of two (`EINVAL`; VT-d's 4 KiB-aligned address).
    Aligned(u64),
    /// A number that must lie in `min..below` (`EINVAL`; VT-d: `0 < hpasid < PASID_MAX`).
    Range {
        /// The smallest valid value.
        min: u64,
        /// The first value past the range.
        below: u64,
    },
    /// The raw bytes of the variable-size union; its members are checked by [`Variant`].
    Union,
}

/// A flag bit or an enumeration value, and the kernel release that introduced it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Since {
    /// The bit (for [`Check::FlagsSince`]) or the value (for [`Check::OneOfSince`]).
    pub value: u64,
    /// The release that introduced it.
    pub release: Release,
}

/// `Since { value, release }`, for declarations.
pub const fn since(value: u64, release: Release) -> Since {
    Since { value, release }
}

/// The bits of `list` a kernel of `release` knows, ORed.
pub const fn bits_at(list: &[Since], release: Release) -> u64 {
    let mut bits = 0;
    let mut i = 0;
    while i < list.len() {
        if list[i].release.not_newer_than(release) {
            bits |= list[i].value;
        }
        i += 1;
    }
    bits
}

impl Check {
    /// The check a kernel of `release` makes: [`Check::FlagsSince`] becomes the
    /// [`Check::Flags`] of the bits it knows; every other check is the same at every
    /// release. [`Check::OneOfSince`] stays (see [`Check::allows_value`]).
    pub const fn at(self, release: Release) -> Check {
        match self {
            Check::FlagsSince(list) => Check::Flags(bits_at(list, release)),
            other => other,
        }
    }

    /// For [`Check::OneOf`] and [`Check::OneOfSince`]: whether a kernel of `release`
    /// knows `value`. `true` for every other check.
    pub fn allows_value(self, value: u64, release: Release) -> bool {
        match self {
            Check::OneOf(values) => values.contains(&value),
            Check::OneOfSince(list) => list
                .iter()
                .any(|s| s.value == value && s.release.not_newer_than(release)),
            _ => true,
        }
    }
}

/// The human text of a field's check (`version == 1`, `flags ⊆ 0x7`), as the docs tables
/// and `vsva explain` print it. Made by [`Field::check_text`].
#[derive(Debug, Clone, Copy)]
pub struct CheckText<'a>(&'a Field);

impl fmt::Display for CheckText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let field = self.0;
        let name = field.name;
        let width_mask = match field.size {
            8.. => u64::MAX,
            n => (1u64 << (n * 8)) - 1,
        };
        match field.check {
            Check::None => f.write_str("—"),
            Check::Argsz => f.write_str("size field (set by the user, untrusted)"),
            Check::Version(v) => write!(f, "{name} == {v}"),
            Check::Flags(0) => write!(f, "{name} == 0 (no flag defined)"),
            Check::Flags(known) => write!(f, "{name} ⊆ {known:#x}"),
            Check::Zero => f.write_str("must be zero"),
            Check::Within { mask, below } if mask == width_mask => write!(f, "{name} < {below}"),
            Check::Within { mask, below } => {
                write!(f, "{name} & {mask:#x} < {below}, other bits zero")
            }
            Check::OneOf(values) => write!(f, "{name} ∈ {}", ValueSet(values)),
            Check::FlagsSince(list) => {
                write!(f, "{name} ⊆ {:#x}", bits_at(list, Release::NEWEST))?;
                write_since(f, list, |f, v| write!(f, "{v:#x}"))
            }
            Check::OneOfSince(list) => {
                f.write_str(name)?;
                f.write_str(" ∈ {")?;
                for (i, s) in list.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}", s.value)?;
                }
                f.write_str("}")?;
                write_since(f, list, |f, v| write!(f, "{v}"))
            }
            Check::Valid(values) => write!(f, "{name} ∈ {} (else EINVAL)", ValueSet(values)),
            Check::Aligned(a) => write!(f, "{name} aligned to {a:#x}"),
            Check::Range { min, below } => write!(f, "{min} ≤ {name} < {below}"),
            Check::Union => f.write_str("union storage (see the members)"),
        }
    }
}

/// ` (0x8 since 6.15, …)`: the values of `list` newer than the oldest one's release.
fn write_since(
    f: &mut fmt::Formatter<'_>,
    list: &[Since],
    value: impl Fn(&mut fmt::Formatter<'_>, u64) -> fmt::Result,
) -> fmt::Result {
    let first = list.iter().map(|s| s.release).min();
    let mut open = false;
    for s in list.iter().filter(|s| Some(s.release) != first) {
        f.write_str(if open { ", " } else { " (" })?;
        open = true;
        value(f, s.value)?;
        write!(f, " since {}", s.release)?;
    }
    if open {
        f.write_str(")")?;
    }
    Ok(())
}

/// `{1, 2, 3}`: a set of values as the check texts print it.
struct ValueSet(&'static [u64]);

impl fmt::Display for ValueSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, v) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{v}")?;
        }
        f.write_str("}")
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Rule::ForbidBits {
                field,
                bits,
                when,
                equals,
            } => write!(
                f,
                "`{} & {bits:#x}` must be 0 when `{} == {equals}`",
                field.name, when.name
            ),
            Rule::ExactlyOne { field, bits } => {
                write!(f, "exactly one bit of `{} & {bits:#x}`", field.name)
            }
            Rule::Requires { when, field, mask } if mask == u64::MAX => {
                write!(f, "`{} != 0` requires `{} != 0`", when.name, field.name)
            }
            Rule::Requires { when, field, mask } => write!(
                f,
                "`{} != 0` requires `{} & {mask:#x}`",
                when.name, field.name
            ),
            Rule::Ordered { low, high } => write!(f, "`{} <= {}`", low.name, high.name),
            Rule::NotTogether { field, bits } => {
                write!(f, "not all of `{} & {bits:#x}` together", field.name)
            }
            Rule::AnyOf { field, bits } => {
                write!(f, "at least one bit of `{} & {bits:#x}`", field.name)
            }
            Rule::AtMost { when, field, max } => write!(
                f,
                "`{} != 0` requires `{} <= {max:#x}`",
                when.name, field.name
            ),
            Rule::Since { release, rule } => write!(f, "{rule} (since {release})"),
        }
    }
}

/// One field of a declared struct.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// The kernel's field name.
    pub name: &'static str,
    /// Offset from the start of the struct (or, in a union member's layout, the member).
    pub offset: usize,
    /// Size in bytes.
    pub size: usize,
    /// Integer fields are read as native-endian integers; byte arrays are shown as bytes.
    pub kind: FieldKind,
    /// The content check.
    pub check: Check,
    /// Index into [`Layout::generations`] of the header that introduced the field.
    pub since: u8,
}

impl Field {
    /// The human text of the field's check.
    pub const fn check_text(&self) -> CheckText<'_> {
        CheckText(self)
    }

    /// One past the field's last byte.
    pub const fn end(&self) -> usize {
        self.offset + self.size
    }
}

/// How a field's bytes are interpreted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// An unsigned native-endian integer of the field's size (1, 2, 4 or 8 bytes).
    Int,
    /// A byte array (padding, reserved bytes, union storage).
    Bytes,
}

/// Rust types a declared field can have, and how they are interpreted.
pub trait FieldType {
    /// The interpretation of the type's bytes.
    const KIND: FieldKind;
}
impl FieldType for u8 {
    const KIND: FieldKind = FieldKind::Int;
}
impl FieldType for u16 {
    const KIND: FieldKind = FieldKind::Int;
}
impl FieldType for u32 {
    const KIND: FieldKind = FieldKind::Int;
}
impl FieldType for u64 {
    const KIND: FieldKind = FieldKind::Int;
}
impl<const N: usize> FieldType for [u8; N] {
    const KIND: FieldKind = FieldKind::Bytes;
}
impl<const N: usize> FieldType for [u32; N] {
    const KIND: FieldKind = FieldKind::Bytes;
}
impl<const N: usize> FieldType for [u64; N] {
    const KIND: FieldKind = FieldKind::Bytes;
}

/// A reference to a declared integer field, by position and width.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldRef {
    /// The field's name.
    pub name: &'static str,
    /// Offset from the start of the struct.
    pub offset: usize,
    /// Width in bytes (1, 2, 4 or 8).
    pub size: usize,
}

impl FieldRef {
    /// Looks `name` up in `fields` at compile time; a missing name fails the build.
    pub const fn named(fields: &'static [Field], name: &'static str) -> FieldRef {
        let mut i = 0;
        while i < fields.len() {
            if str_eq(fields[i].name, name) {
                return FieldRef {
                    name: fields[i].name,
                    offset: fields[i].offset,
                    size: fields[i].size,
                };
            }
            i += 1;
        }
        panic!("FieldRef::named: no such field")
    }

    /// The same field seen from a struct in which its container starts at `base`.
    pub const fn at(self, base: usize) -> FieldRef {
        FieldRef {
            name: self.name,
            offset: self.offset + base,
            size: self.size,
        }
    }
}

/// The variable-size union at the end of a struct (`granu`, `vendor`, `vendor_data`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Union {
    /// The union's field name.
    pub name: &'static str,
    /// The union's offset; equal to the struct's minimum size.
    pub offset: usize,
    /// The field whose value picks the member (`granularity`, `format`, `type`).
    pub selector: FieldRef,
    /// The known members.
    pub variants: &'static [Variant],
    /// Whether the generic layer itself requires `argsz >= ` the selected member's end
    /// (`true` for cache invalidation; `false` for bind, where the vendor decides).
    pub enforce_end: bool,
}

/// One member of the variable-size union.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variant {
    /// The member's name (`addr_info`), or a description for members without payload.
    pub name: &'static str,
    /// The selector value that picks this member.
    pub value: u64,
    /// `offsetofend(struct, union.member)`: the argsz the member needs.
    pub end: usize,
    /// The member's own layout (its fields' checks apply), if it has a payload.
    pub layout: Option<&'static Layout>,
    /// Index into [`Layout::generations`] of the header that introduced the member.
    pub since: u8,
}

/// A flag bit that unlocks bytes past the base struct (VFIO's `xend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extension {
    /// The flag's kernel name (`VFIO_DEVICE_ATTACH_PASID`).
    pub name: &'static str,
    /// The flags field holding the bit.
    pub flags: FieldRef,
    /// The bit.
    pub bit: u64,
    /// `offsetofend` of the last field the flag makes valid.
    pub end: usize,
    /// Index into [`Layout::generations`] of the header that introduced the flag.
    pub since: u8,
}

/// A rule that involves more than one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// `field & bits` must be zero when `when == equals` (`EINVAL`).
    ForbidBits {
        /// The bitmask field (`cache`).
        field: FieldRef,
        /// The forbidden bits.
        bits: u64,
        /// The field the condition reads (`granularity`).
        when: FieldRef,
        /// The value of `when` that forbids `bits`.
        equals: u64,
    },
    /// Exactly one of `bits` must be set in `field` (`EINVAL`).
    ExactlyOne {
        /// The flags field.
        field: FieldRef,
        /// The mutually exclusive bits.
        bits: u64,
    },
    /// When `when` is non-zero, `field & mask` must be non-zero (`EINVAL`): a value that
    /// needs a companion (iommufd `data_type` needs `data_len`), or a field repurposed from
    /// padding that is only valid with its new flag (`mask` = the flag bit).
    Requires {
        /// The field whose non-zero value creates the requirement.
        when: FieldRef,
        /// The field that must then be non-zero under `mask`.
        field: FieldRef,
        /// The bits of `field` that count (`u64::MAX` for the whole value).
        mask: u64,
    },
    /// `low <= high` (`EINVAL`).
    Ordered {
        /// The lower bound field.
        low: FieldRef,
        /// The upper bound field.
        high: FieldRef,
    },
    /// Not all of `bits` may be set in `field` together (`EOPNOTSUPP` under zero-tail,
    /// else `EINVAL`): each is known, the combination is not supported.
    NotTogether {
        /// The flags field.
        field: FieldRef,
        /// The bits that may not all be set.
        bits: u64,
    },
    /// At least one of `bits` must be set in `field` (`EINVAL`).
    AnyOf {
        /// The flags field.
        field: FieldRef,
        /// The bits of which one must be set.
        bits: u64,
    },
    /// When `when` is non-zero, `field` must be at most `max` (`EINVAL`).
    AtMost {
        /// The field whose non-zero value creates the bound.
        when: FieldRef,
        /// The bounded field.
        field: FieldRef,
        /// The largest valid value.
        max: u64,
    },
    /// `rule` holds from kernel `release` on; older kernels do not check it.
    Since {
        /// The release that introduced the check.
        release: Release,
        /// The check.
        rule: &'static Rule,
    },
}

/// One header generation of a struct: a name and `sizeof` in that header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generation {
    /// A name for the header (`"v5.10"`, `"v6.7"`).
    pub name: &'static str,
    /// `sizeof(struct)` in that header.
    pub size: usize,
}

impl Generation {
    /// The kernel release the generation's name gives (`v6.7` → 6.7); `None` for names
    /// that are not a release (`caps`, out-of-tree series): such a generation is in
    /// every release vsva models.
    pub fn release(&self) -> Option<Release> {
        Release::parse_version(self.name).ok()
    }
}

/// A check the kernel's handler makes after the cross-field rules, in the order listed
/// in [`Layout::late`] (`iommufd_hwpt_alloc` checks `data_type` against `data_len`
/// before its flags and the driver's data type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Late {
    /// The check of the named field ([`Field::check`]), moved after the rules.
    Field(&'static str),
    /// A cross-field rule the handler makes at that point.
    Rule(Rule),
}

/// What a rule of vsva's deliberate strictness checks (see [`StrictRule`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrictCheck {
    /// Under [`Policy::ZeroTail`], `argsz` at most [`PAGE_SIZE`] (`E2BIG`).
    ArgszCap,
    /// Under [`Policy::ZeroTail`], a set extension flag needs `argsz` past the field
    /// it makes valid (`EINVAL`).
    ExtensionEnd,
    /// For a struct whose `argsz` the kernel does not read ([`Layout::argsz_read`]),
    /// `argsz` at least [`Layout::min_size`] (`EINVAL`).
    ArgszMinimum,
    /// A field check (offset from the start of the struct).
    Field(Field),
    /// A cross-field rule.
    Rule(Rule),
}

/// One rule of vsva's own strictness: a refusal the kernel does not make, which
/// vsva-viommu applies on top of the kernel's rules (and `vsva explain` reports as a
/// note). Each is stricter than the kernel, never looser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StrictRule {
    /// The rule's name (`vtd-cache-granularity`).
    pub name: &'static str,
    /// What the kernel does instead.
    pub kernel: &'static str,
    /// Why vsva refuses.
    pub why: &'static str,
    /// The vendor layer the rule belongs to, if any.
    pub vendor: Option<Vendor>,
    /// What it checks.
    pub check: StrictCheck,
}

/// vsva's strictness for every struct under [`Policy::ZeroTail`]: the page cap.
pub const STRICT_ARGSZ_CAP: StrictRule = StrictRule {
    name: "zero-tail-page-cap",
    kernel:
        "iommufd's dispatch has no size > PAGE_SIZE check: any size with a zero tail is accepted",
    why: "the caller pattern the copy_struct_from_user kernel-doc prescribes (openat2, clone3); \
          it bounds how far a hostile size makes the consumer scan",
    vendor: None,
    check: StrictCheck::ArgszCap,
};

/// vsva's strictness for every struct under [`Policy::ZeroTail`]: a set extension flag
/// whose field lies past `argsz`.
pub const STRICT_EXTENSION_END: StrictRule = StrictRule {
    name: "extension-needs-size",
    kernel: "zero-fills the field past size; the handler fails later (fault_id lookup: ENOENT)",
    why: "a flag whose field lies past argsz is inconsistent input, refused before anything runs",
    vendor: None,
    check: StrictCheck::ExtensionEnd,
};

/// vsva's strictness for structs whose `argsz` the kernel does not read.
pub const STRICT_ARGSZ_MINIMUM: StrictRule = StrictRule {
    name: "argsz-minimum",
    kernel: "an in-kernel API: argsz is not checked",
    why: "a struct from an untrusted guest needs the same size check as every other 2020 struct",
    vendor: None,
    check: StrictCheck::ArgszMinimum,
};

/// Checks a vendor driver adds on top of the generic layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VendorRules {
    /// The vendor.
    pub vendor: Vendor,
    /// The smallest `argsz` the vendor accepts (`offsetofend(vendor.vtd)` for a VT-d bind).
    pub min_argsz: usize,
    /// Extra field checks, with offsets from the start of the struct.
    pub checks: &'static [Field],
    /// Extra cross-field rules (the VT-d cache-type × granularity table).
    pub rules: &'static [Rule],
}

/// The declaration of one UAPI struct. See the [module documentation](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// The kernel's struct name (`iommu_cache_invalidate_info`).
    pub name: &'static str,
    /// `sizeof` in the newest header this crate knows (x86_64).
    pub size: usize,
    /// `alignof` (x86_64).
    pub align: usize,
    /// Whether the struct starts with a `__u32` size field (`argsz` or `size`).
    /// Fixed-size records without one are decoded as if `argsz == size`.
    pub sized: bool,
    /// The first-release fields' end: below it, `EINVAL`.
    pub min_size: usize,
    /// The policy the kernel applies to this struct.
    pub default_policy: Policy,
    /// Every field, in offset order, covering the struct without gaps.
    pub fields: &'static [Field],
    /// The variable-size union, if any.
    pub union: Option<Union>,
    /// Flag bits that unlock bytes past the base struct.
    pub extensions: &'static [Extension],
    /// Cross-field rules of the generic layer.
    pub rules: &'static [Rule],
    /// Known sizes per header generation, oldest first; the last is `size`.
    pub generations: &'static [Generation],
    /// Vendor rules, if any vendor has them for this struct.
    pub vendor: Option<&'static VendorRules>,
    /// Checks the kernel makes after the cross-field rules, in this order (their fields'
    /// checks are skipped in the field pass). Empty: fields, then rules.
    pub late: &'static [Late],
    /// vsva's own strictness for this struct, beyond the kernel's rules (the global
    /// ones, [`STRICT_ARGSZ_CAP`] and so on, apply too: see [`Layout::strict_rules`]).
    pub strict: &'static [StrictRule],
    /// Whether the kernel reads `argsz` (`false`: an in-kernel API such as v5.10's
    /// `iommu_page_response`, which takes the whole struct).
    pub argsz_read: bool,
}

/// The defaults of the [`Layout`] fields a declaration may leave out (`late`, `strict`,
/// `argsz_read`); [`uapi_struct!`](crate::uapi_struct) fills them in.
pub const LAYOUT_DEFAULTS: Layout = Layout {
    name: "",
    size: 0,
    align: 1,
    sized: false,
    min_size: 0,
    default_policy: Policy::ZeroTail,
    fields: &[],
    union: None,
    extensions: &[],
    rules: &[],
    generations: &[],
    vendor: None,
    late: &[],
    strict: &[],
    argsz_read: true,
};

impl Layout {
    /// The release that introduced the struct: its first generation's, no older than
    /// [`Release::OLDEST`].
    pub fn since(&self) -> Release {
        self.generations
            .first()
            .and_then(Generation::release)
            .map_or(Release::OLDEST, |r| r.max(Release::OLDEST))
    }

    /// The release that introduced generation `index` (see [`Layout::since`]).
    pub fn generation_release(&self, index: u8) -> Release {
        self.generations
            .get(usize::from(index))
            .and_then(Generation::release)
            .map_or(Release::OLDEST, |r| r.max(Release::OLDEST))
    }

    /// `sizeof` the struct in a kernel of `release`: the newest generation not newer
    /// than it (the first one for a release older than the struct).
    pub fn size_at(&self, release: Release) -> usize {
        let mut size = self.generations.first().map_or(self.size, |g| g.size);
        for (i, g) in self.generations.iter().enumerate() {
            if self.generation_release(i as u8) <= release {
                size = g.size;
            }
        }
        size
    }

    /// Every rule of vsva's strictness that can apply to this struct under its own
    /// policy ([`Layout::strict_rules_under`] of [`Layout::default_policy`]).
    pub fn strict_rules(&self) -> impl Iterator<Item = &'static StrictRule> + '_ {
        self.strict_rules_under(self.default_policy)
    }

    /// Every rule of vsva's strictness that can apply to this struct under `policy`:
    /// the global ones the policy and the struct's shape make relevant, then its own.
    pub fn strict_rules_under(
        &self,
        policy: Policy,
    ) -> impl Iterator<Item = &'static StrictRule> + '_ {
        let zero_tail = self.sized && policy == Policy::ZeroTail;
        let global = [
            (zero_tail, &STRICT_ARGSZ_CAP),
            (
                zero_tail && self.extensions.iter().any(|x| x.end > self.min_size),
                &STRICT_EXTENSION_END,
            ),
            (self.sized && !self.argsz_read, &STRICT_ARGSZ_MINIMUM),
        ];
        global
            .into_iter()
            .filter_map(|(applies, rule)| applies.then_some(rule))
            .chain(self.strict.iter())
    }
    /// The index of the newest generation.
    pub const fn latest(&self) -> u8 {
        (self.generations.len() - 1) as u8
    }

    /// The field that covers byte `offset`, if any.
    pub fn field_at(&self, offset: usize) -> Option<&'static Field> {
        self.fields
            .iter()
            .find(|f| f.offset <= offset && offset < f.end())
    }

    /// The union member selected by `selector_value`, if it is a known member.
    pub fn variant_for(&self, selector_value: u64) -> Option<&'static Variant> {
        self.union
            .and_then(|u| u.variants.iter().find(|v| v.value == selector_value))
    }

    /// Compile-time consistency check of a declaration; a violation fails the build.
    ///
    /// Fields are in order, contiguous and cover `size`; the size field is first; the
    /// union starts at `min_size`; selectors and flags lie inside `min_size`; every
    /// variant and extension ends within `size`; an extension's bit is one of the bits
    /// its flags field's check allows; generations grow and end at `size`.
    pub const fn validate(&self) {
        assert!(
            self.size > 0 && self.size.is_multiple_of(self.align),
            "size/align"
        );
        assert!(self.min_size <= self.size, "min_size > size");
        assert!(!self.generations.is_empty(), "no generation");
        assert!(
            self.generations[self.generations.len() - 1].size == self.size,
            "last generation must be the current size"
        );
        let mut g = 1;
        while g < self.generations.len() {
            assert!(
                self.generations[g - 1].size <= self.generations[g].size,
                "generations must not shrink"
            );
            g += 1;
        }
        let mut end = 0;
        let mut i = 0;
        while i < self.fields.len() {
            let f = &self.fields[i];
            assert!(f.offset == end, "fields must be contiguous and in order");
            assert!(
                (f.since as usize) < self.generations.len(),
                "field since out of range"
            );
            end = f.end();
            i += 1;
        }
        assert!(end == self.size, "fields must cover the struct");
        if self.sized {
            assert!(
                self.fields[0].offset == 0 && self.fields[0].size == 4,
                "size field first"
            );
            assert!(self.min_size >= 4, "min_size covers the size field");
        }
        if let Some(u) = &self.union {
            assert!(u.offset == self.min_size, "union starts at min_size");
            assert!(
                u.selector.offset + u.selector.size <= self.min_size,
                "selector inside min_size"
            );
            let mut v = 0;
            while v < u.variants.len() {
                let var = &u.variants[v];
                assert!(
                    var.end >= self.min_size && var.end <= self.size,
                    "variant end"
                );
                if let Some(l) = var.layout {
                    assert!(u.offset + l.size == var.end, "variant layout size");
                }
                v += 1;
            }
        }
        let mut e = 0;
        while e < self.extensions.len() {
            let x = &self.extensions[e];
            assert!(
                x.flags.offset + x.flags.size <= self.min_size,
                "extension flags inside min_size"
            );
            assert!(x.end <= self.size, "extension end");
            // An extension's bit is one its flags field declares (when it checks them).
            let mut i = 0;
            while i < self.fields.len() {
                let f = &self.fields[i];
                if f.offset == x.flags.offset {
                    if let Check::Flags(known) = f.check {
                        assert!(x.bit & known == x.bit, "extension bit not a known flag");
                    }
                }
                i += 1;
            }
            e += 1;
        }
    }
}

/// The C name of a Rust field identifier: `r#type` is C's `type`.
pub const fn c_field_name(ident: &'static str) -> &'static str {
    let b = ident.as_bytes();
    if b.len() > 2 && b[0] == b'r' && b[1] == b'#' {
        if let Some((_, rest)) = ident.split_at_checked(2) {
            return rest;
        }
    }
    ident
}

const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Declares a UAPI struct once: the `#[repr(C)]` zerocopy type, compile-time
/// assertions of its size, alignment and every field offset, and its [`Layout`].
///
/// ```
/// use vsva_uapi::{uapi_struct, Check, Extension, FieldRef, Generation, Policy, UapiStruct};
///
/// uapi_struct! {
///     /// A demo struct: v1 is 12 bytes; v2 appends `extra`, valid with flag bit 0.
///     pub struct Demo = "demo", size 16, align 4 {
///         /// Size of the user's struct.
///         argsz: u32, at 0 => Check::Argsz, since 0;
///         /// `DEMO_FLAG_EXTRA`.
///         flags: u32, at 4 => Check::Flags(1), since 0;
///         /// A value.
///         value: u32, at 8 => Check::None, since 0;
///         /// Added in v2.
///         extra: u32, at 12 => Check::None, since 1;
///     }
///     layout |FIELDS| {
///         sized: true, min_size: 12, default_policy: Policy::Linux510, union: None,
///         extensions: &[Extension { name: "DEMO_FLAG_EXTRA",
///             flags: FieldRef::named(FIELDS, "flags"), bit: 1, end: 16, since: 1 }],
///         rules: &[],
///         generations: &[Generation { name: "v1", size: 12 }, Generation { name: "v2", size: 16 }],
///         vendor: None,
///     }
/// }
///
/// // An old (v1) user on this (v2) consumer: `extra` is zero-filled.
/// let mut old = [0u8; 12];
/// old[..4].copy_from_slice(&12u32.to_ne_bytes());
/// old[8] = 7;
/// let d = Demo::from_user(&old, Policy::Linux510).unwrap();
/// assert_eq!((d.value, d.extra), (7, 0));
/// // The flag needs the v2 field: with argsz 12 it is refused.
/// old[4] = 1;
/// assert_eq!(Demo::from_user(&old, Policy::Linux510).unwrap_err().errno().name(), "EINVAL");
/// ```
///
/// The `layout` block holds the rest of the [`Layout`] (name, size, alignment and the
/// field table come from the header); it sees the generated field table as `FIELDS`, so
/// rules name fields with [`FieldRef::named`] and the table is written once.
#[macro_export]
macro_rules! uapi_struct {
    (
        $(#[$meta:meta])*
        pub struct $name:ident = $cname:literal, size $size:literal, align $align:literal {
            $(
                $(#[$fmeta:meta])*
                $field:ident : $ty:ty, at $off:literal => $check:expr, since $since:literal;
            )*
        }
        layout |$fields:ident| { $($layout:tt)* }
    ) => {
        $(#[$meta])*
        #[doc = ""]
        #[doc = concat!("C: `struct ", $cname, "`, ", stringify!($size), " bytes, align ", stringify!($align), " (x86_64).")]
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash,
            zerocopy::FromBytes, zerocopy::IntoBytes, zerocopy::KnownLayout, zerocopy::Immutable,
        )]
        #[repr(C)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
        }

        const _: () = {
            assert!(core::mem::size_of::<$name>() == $size);
            assert!(core::mem::align_of::<$name>() == $align);
            $( assert!(core::mem::offset_of!($name, $field) == $off); )*
            <$name as $crate::UapiStruct>::DECL.validate();
        };

        impl $name {
            /// The declared field table, in offset order.
            pub const FIELDS: &'static [$crate::Field] = &[
                $(
                    $crate::Field {
                        name: $crate::decl::c_field_name(stringify!($field)),
                        offset: $off,
                        size: core::mem::size_of::<$ty>(),
                        kind: <$ty as $crate::decl::FieldType>::KIND,
                        check: $check,
                        since: $since,
                    },
                )*
            ];
        }

        impl $crate::UapiStruct for $name {
            const DECL: &'static $crate::Layout = {
                #[allow(unused)]
                const $fields: &'static [$crate::Field] = $name::FIELDS;
                &$crate::Layout {
                    name: $cname,
                    size: $size,
                    align: $align,
                    fields: $fields,
                    $($layout)*
                    ..$crate::decl::LAYOUT_DEFAULTS
                }
            };
        }
    };
}

/// Declares every struct of a module and registers it: each `uapi_struct! { … }` block
/// inside expands as usual, and the module gets
///
/// - `STRUCTS`: every struct the block declares, in declaration order, and
/// - `visit_structs`: the same structs as types, for a [`StructVisitor`](crate::StructVisitor).
///
/// The crate's registry ([`ALL_STRUCTS`](crate::ALL_STRUCTS),
/// [`visit_all_structs`](crate::visit_all_structs)) is the concatenation of the modules'
/// lists, so a struct declared in a module's `uapi_structs!` block cannot miss it (a test
/// also counts the declarations in the source files against the registry).
macro_rules! uapi_structs {
    (@acc [$($names:ident)*]) => {
        /// Every struct this module declares, in declaration order (part of
        /// [`ALL_STRUCTS`](crate::ALL_STRUCTS)).
        pub const STRUCTS: &[&$crate::Layout] = &[
            $( <$names as $crate::UapiStruct>::DECL, )*
        ];

        /// Calls `visitor.visit::<T>()` for every struct of [`STRUCTS`], in its order.
        pub(crate) fn visit_structs<V: $crate::StructVisitor + ?Sized>(visitor: &mut V) {
            $( visitor.visit::<$names>(); )*
        }
    };
    (@acc [$($names:ident)*]
        uapi_struct! { $(#[$meta:meta])* pub struct $name:ident $($body:tt)* }
        $($rest:tt)*
    ) => {
        $crate::uapi_struct! { $(#[$meta])* pub struct $name $($body)* }
        $crate::decl::uapi_structs! { @acc [$($names)* $name] $($rest)* }
    };
    ($($decls:tt)*) => {
        $crate::decl::uapi_structs! { @acc [] $($decls)* }
    };
}
pub(crate) use uapi_structs;
