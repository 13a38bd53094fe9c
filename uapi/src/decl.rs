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
    /// zero-filled, and — the callers' pattern from the kernel-doc, which vsva applies to
    /// every struct under this policy — `argsz > PAGE_SIZE` is `E2BIG`.
    /// Unknown flags and non-zero reserved fields are `EOPNOTSUPP`.
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
            Check::Valid(values) => write!(f, "{name} ∈ {} (else EINVAL)", ValueSet(values)),
            Check::Aligned(a) => write!(f, "{name} aligned to {a:#x}"),
            Check::Range { min, below } => write!(f, "{min} ≤ {name} < {below}"),
            Check::Union => f.write_str("union storage (see the members)"),
        }
    }
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
}

/// One header generation of a struct: a name and `sizeof` in that header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generation {
    /// A name for the header (`"v5.10"`, `"v6.7"`).
    pub name: &'static str,
    /// `sizeof(struct)` in that header.
    pub size: usize,
}

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
}

impl Layout {
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
    /// variant and extension ends within `size`; generations grow and end at `size`.
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
                }
            };
        }
    };
}
