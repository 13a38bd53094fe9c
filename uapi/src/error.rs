//! [`UapiError`]: every way a struct is refused, with context and the kernel's errno, and
//! [`error_catalogue!`](crate::error_catalogue), the declaration every vsva error type is
//! written in.

use crate::decl::{Policy, Vendor};
use crate::errno::Errno;
use crate::release::Release;

/// Declares an error enum one row per variant, and derives from the rows everything else
/// a vsva error type has: `errno()` (what the kernel returns), `kind()` (the variant's
/// name), `kernel_source()` (the kernel code it reproduces), `CATALOGUE` (the rows'
/// example values, in row order, which `docs/errno.md` is generated from), `Display` and
/// `Error`.
///
/// Every variant has named fields; in `errno`, `source` and `display` they are in scope
/// by value (every field is `Copy`). A row lists any number of examples (none keeps the
/// variant out of the catalogue).
///
/// ```
/// use vsva_uapi::{error_catalogue, Errno};
///
/// error_catalogue! {
///     /// Why a toy request was refused.
///     #[derive(Debug, Clone, Copy, PartialEq, Eq)]
///     pub enum ToyError {
///         /// The PASID is too wide.
///         Wide {
///             /// The PASID.
///             pasid: u32,
///         } => {
///             errno: Errno::EINVAL,
///             source: "intel_svm_bind_gpasid: PASID range",
///             display: ("PASID {pasid:#x} is too wide"),
///             examples: [{ pasid: 1 << 20 }],
///         },
///     }
/// }
///
/// let e = ToyError::Wide { pasid: 1 << 20 };
/// assert_eq!((e.errno(), e.kind()), (Errno::EINVAL, "Wide"));
/// assert_eq!(e.to_string(), "PASID 0x100000 is too wide");
/// assert_eq!(ToyError::CATALOGUE, &[e]);
/// ```
#[macro_export]
macro_rules! error_catalogue {
    (
        $(#[$meta:meta])*
        pub enum $E:ident {
            $(
                $(#[$vmeta:meta])*
                $V:ident {
                    $( $(#[$fmeta:meta])* $f:ident : $ft:ty ),* $(,)?
                } => {
                    errno: $errno:expr,
                    source: $source:expr,
                    display: ( $($display:tt)* ),
                    examples: [ $( { $($ef:ident : $ev:expr),* $(,)? } ),* $(,)? ] $(,)?
                }
            ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        pub enum $E {
            $(
                $(#[$vmeta])*
                $V {
                    $( $(#[$fmeta])* $f: $ft ),*
                },
            )*
        }

        impl $E {
            /// The errno the kernel returns for this refusal.
            pub const fn errno(&self) -> $crate::Errno {
                match *self {
                    $(
                        #[allow(unused_variables)]
                        $E::$V { $($f),* } => $errno,
                    )*
                }
            }

            /// The variant's name, as `docs/errno.md` lists it.
            pub const fn kind(&self) -> &'static str {
                match *self {
                    $( $E::$V { .. } => stringify!($V), )*
                }
            }

            /// The kernel code whose behaviour this variant reproduces.
            pub const fn kernel_source(&self) -> &'static str {
                match *self {
                    $(
                        #[allow(unused_variables)]
                        $E::$V { $($f),* } => $source,
                    )*
                }
            }

            /// One value of every catalogued variant, in documentation order (for
            /// `docs/errno.md` and tests): each row's examples, in row order.
            pub const CATALOGUE: &'static [$E] = &[
                $( $( $E::$V { $($ef: $ev),* }, )* )*
            ];
        }

        impl ::core::fmt::Display for $E {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                match *self {
                    $(
                        #[allow(unused_variables)]
                        $E::$V { $($f),* } => ::core::write!(f, $($display)*),
                    )*
                }
            }
        }

        impl ::core::error::Error for $E {}
    };
}

const fn content_errno(policy: Policy) -> Errno {
    match policy {
        Policy::ZeroTail => Errno::EOPNOTSUPP,
        Policy::Linux510 | Policy::FlagsXend => Errno::EINVAL,
    }
}

error_catalogue! {
    /// Why a UAPI struct was refused, with enough context to explain it, and
    /// [`errno`](UapiError::errno) giving what the kernel returns for it.
    ///
    /// `docs/errno.md` lists every variant; it is generated from [`UapiError::CATALOGUE`]
    /// (policy-dependent variants appear once per policy).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum UapiError {
        /// The kernel's copy would read byte `offset`, but only `readable` bytes are
        /// readable from the struct's first byte. `EFAULT` (`copy_from_user` failed).
        Fault {
            /// The struct.
            strukt: &'static str,
            /// The end of the copy that faulted (one past the last byte it needed).
            offset: usize,
            /// How many bytes are readable.
            readable: usize,
        } => {
            errno: Errno::EFAULT,
            source: "copy_from_user / get_user failing (iommu.c, vfio_iommu_type1.c, iommufd main.c)",
            display: ("{strukt}: the copy needs byte {offset} but only {readable} bytes are readable"),
            examples: [{ strukt: "iommu_cache_invalidate_info", offset: 16, readable: 8 }],
        },
        /// `argsz` is below the first-release fields (`minsz`). `EINVAL`.
        ArgszTooSmall {
            /// The struct.
            strukt: &'static str,
            /// The `argsz` given.
            argsz: u32,
            /// The minimum.
            need: usize,
        } => {
            errno: Errno::EINVAL,
            source: "iommu.c `argsz < minsz`; iommufd `user_size < op->min_size`; vfio `argsz < minsz`",
            display: ("{strukt}: argsz {argsz} is below the mandatory fields (minsz {need})"),
            examples: [{ strukt: "iommu_cache_invalidate_info", argsz: 8, need: 16 }],
        },
        /// `argsz` ends inside the union member the discriminator selects. `EINVAL`.
        VariantTruncated {
            /// The struct.
            strukt: &'static str,
            /// The union member.
            variant: &'static str,
            /// The `argsz` given.
            argsz: u32,
            /// `offsetofend` of the member.
            need: usize,
        } => {
            errno: Errno::EINVAL,
            source: "iommu.c iommu_uapi_cache_invalidate: argsz < offsetofend(granu.pasid_info/addr_info)",
            display: ("{strukt}: argsz {argsz} ends inside union member {variant} (needs {need})"),
            examples: [{
                strukt: "iommu_cache_invalidate_info",
                variant: "addr_info",
                argsz: 40,
                need: 56,
            }],
        },
        /// `argsz` ends before the field a set extension flag makes valid. `EINVAL`.
        ExtensionTruncated {
            /// The struct.
            strukt: &'static str,
            /// The flag.
            flag: &'static str,
            /// The `argsz` given.
            argsz: u32,
            /// The end the flag selects (`xend`).
            need: usize,
        } => {
            errno: Errno::EINVAL,
            source: "vfio device_cdev.c vfio_df_ioctl_attach_pt: argsz < xend",
            display: ("{strukt}: flag {flag} needs argsz >= {need} (xend), got {argsz}"),
            examples: [{
                strukt: "vfio_device_attach_iommufd_pt",
                flag: "VFIO_DEVICE_ATTACH_PASID",
                argsz: 12,
                need: 16,
            }],
        },
        /// `argsz` is below the vendor driver's minimum. `EINVAL`.
        VendorTruncated {
            /// The struct.
            strukt: &'static str,
            /// The vendor.
            vendor: Vendor,
            /// The `argsz` given.
            argsz: u32,
            /// The vendor's minimum.
            need: usize,
        } => {
            errno: Errno::EINVAL,
            source: "intel/svm.c intel_svm_bind_gpasid: argsz < offsetofend(vendor.vtd)",
            display: ("{strukt}: the {} driver needs argsz >= {need}, got {argsz}", vendor.name()),
            examples: [{
                strukt: "iommu_gpasid_bind_data",
                vendor: Vendor::Vtd,
                argsz: 56,
                need: 72,
            }],
        },
        /// `argsz` is above the page-size cap of `copy_struct_from_user` callers. `E2BIG`.
        ArgszTooLarge {
            /// The struct.
            strukt: &'static str,
            /// The `argsz` given.
            argsz: u32,
            /// The cap.
            limit: usize,
        } => {
            errno: Errno::E2BIG,
            source: "copy_struct_from_user callers: usize > PAGE_SIZE (openat2, clone3, sched_setattr)",
            display: ("{strukt}: argsz {argsz} is above {limit}"),
            examples: [{ strukt: "iommu_hwpt_alloc", argsz: 4097, limit: 4096 }],
        },
        /// A non-zero byte past the kernel's struct size (`check_zeroed_user`). `E2BIG`.
        NonZeroTail {
            /// The struct.
            strukt: &'static str,
            /// The offset of the first non-zero byte.
            offset: usize,
            /// Its value.
            byte: u8,
        } => {
            errno: Errno::E2BIG,
            source: "copy_struct_from_user: check_zeroed_user(src + ksize, rest) == 0",
            display: ("{strukt}: byte {offset} past the kernel's struct is {byte:#04x}, not zero"),
            examples: [{ strukt: "iommu_hwpt_alloc", offset: 48, byte: 1 }],
        },
        /// A version field does not hold the one version this header knows. `EINVAL`.
        BadVersion {
            /// The struct.
            strukt: &'static str,
            /// The field.
            field: &'static str,
            /// The value given.
            have: u64,
            /// The version required.
            need: u64,
        } => {
            errno: Errno::EINVAL,
            source: "iommu.c iommu_check_cache_invl_data / iommu_check_bind_data / iommu_page_response",
            display: ("{strukt}.{field} is {have}, only version {need} exists"),
            examples: [{ strukt: "iommu_page_response", field: "version", have: 2, need: 1 }],
        },
        /// Flag bits this header does not define. `EINVAL` (2020 core, VFIO);
        /// `EOPNOTSUPP` under [`Policy::ZeroTail`] (iommufd).
        UnknownFlags {
            /// The struct.
            strukt: &'static str,
            /// The field.
            field: &'static str,
            /// The field's offset.
            offset: usize,
            /// The value given.
            have: u64,
            /// The known bits.
            known: u64,
            /// The policy whose errno convention applies.
            policy: Policy,
        } => {
            errno: content_errno(policy),
            source: "iommu.c flag masks (EINVAL); iommufd handlers (EOPNOTSUPP); vfio flags (EINVAL)",
            display: (
                "{strukt}.{field} = {have:#x} has unknown bits {:#x} (known {known:#x})",
                have & !known
            ),
            examples: [
                {
                    strukt: "iommu_gpasid_bind_data",
                    field: "flags",
                    offset: 16,
                    have: 2,
                    known: 1,
                    policy: Policy::Linux510,
                },
                {
                    strukt: "iommu_hwpt_alloc",
                    field: "flags",
                    offset: 4,
                    have: 16,
                    known: 15,
                    policy: Policy::ZeroTail,
                },
                {
                    strukt: "vfio_device_attach_iommufd_pt",
                    field: "flags",
                    offset: 4,
                    have: 2,
                    known: 1,
                    policy: Policy::FlagsXend,
                },
            ],
        },
        /// Padding or a reserved field is not zero. `EINVAL`; `EOPNOTSUPP` under zero-tail.
        NonZeroReserved {
            /// The struct.
            strukt: &'static str,
            /// The field.
            field: &'static str,
            /// The offset of the first non-zero byte.
            offset: usize,
            /// The policy whose errno convention applies.
            policy: Policy,
        } => {
            errno: content_errno(policy),
            source: "iommu.c padding checks (EINVAL); iommufd __reserved checks (EOPNOTSUPP)",
            display: ("{strukt}.{field} must be zero (byte {offset} is not)"),
            examples: [
                {
                    strukt: "iommu_cache_invalidate_info",
                    field: "padding",
                    offset: 10,
                    policy: Policy::Linux510,
                },
                {
                    strukt: "iommu_hwpt_alloc",
                    field: "__reserved",
                    offset: 20,
                    policy: Policy::ZeroTail,
                },
                {
                    strukt: "iommu_cache_invalidate_info",
                    field: "padding",
                    offset: 10,
                    policy: Policy::FlagsXend,
                },
            ],
        },
        /// An enumerated field (format, granularity, code, op) has a value this header
        /// does not define. `EINVAL`; `EOPNOTSUPP` under zero-tail.
        UnsupportedValue {
            /// The struct.
            strukt: &'static str,
            /// The field.
            field: &'static str,
            /// The field's offset.
            offset: usize,
            /// The value given.
            have: u64,
            /// The policy whose errno convention applies.
            policy: Policy,
        } => {
            errno: content_errno(policy),
            source: "iommu.c granularity >= NR, format >= FORMAT_LAST; vfio unknown op; iommufd data_type",
            display: ("{strukt}.{field} = {have} is not a value this header knows"),
            examples: [
                {
                    strukt: "iommu_cache_invalidate_info",
                    field: "granularity",
                    offset: 9,
                    have: 3,
                    policy: Policy::Linux510,
                },
                {
                    strukt: "iommu_hwpt_alloc",
                    field: "data_type",
                    offset: 24,
                    have: 9,
                    policy: Policy::ZeroTail,
                },
                {
                    strukt: "vfio_iommu_type1_nesting_op",
                    field: "flags",
                    offset: 4,
                    have: 3,
                    policy: Policy::FlagsXend,
                },
            ],
        },
        /// Flags that are each known but that the kernel refuses together
        /// (`IOMMU_HWPT_FAULT_ID_VALID | IOMMU_HWPT_ALLOC_NEST_PARENT` since 6.15).
        /// `EINVAL`; `EOPNOTSUPP` under zero-tail.
        UnsupportedCombination {
            /// The struct.
            strukt: &'static str,
            /// The flags field.
            field: &'static str,
            /// The value given.
            have: u64,
            /// The bits that may not all be set.
            bits: u64,
            /// The policy whose errno convention applies.
            policy: Policy,
        } => {
            errno: content_errno(policy),
            source: "iommufd hw_pagetable.c iommufd_hwpt_paging_alloc: FAULT_ID_VALID with NEST_PARENT (6.15)",
            display: ("{strukt}.{field} = {have:#x}: the bits {bits:#x} are not supported together"),
            examples: [
                { strukt: "iommu_hwpt_alloc", field: "flags", have: 5, bits: 5, policy: Policy::Linux510 },
                { strukt: "iommu_hwpt_alloc", field: "flags", have: 5, bits: 5, policy: Policy::ZeroTail },
                { strukt: "iommu_hwpt_alloc", field: "flags", have: 5, bits: 5, policy: Policy::FlagsXend },
            ],
        },
        /// The struct's ioctl does not exist in the kernel release asked for. `ENOTTY`.
        NotInRelease {
            /// The struct.
            strukt: &'static str,
            /// The release that introduced it.
            since: Release,
            /// The release asked for.
            release: Release,
        } => {
            errno: Errno::ENOTTY,
            source: "the ioctl's number is unknown to that kernel: -ENOTTY (iommufd main.c, vfio)",
            display: ("{strukt}: its ioctl arrived in kernel {since}; kernel {release} does not have it"),
            examples: [{ strukt: "iommu_hwpt_alloc", since: Release::V6_6, release: Release::V5_10 }],
        },
        /// Producer side: a request for an older kernel sets a flag bit or an enumeration
        /// value newer than that kernel ([`encode_for_release`](crate::encode_for_release)).
        /// `EOPNOTSUPP` (what that kernel answers for a bit or value it does not know).
        FeatureNewer {
            /// The struct.
            strukt: &'static str,
            /// The field holding the bit or value.
            field: &'static str,
            /// The bit (for flags) or the value.
            value: u64,
            /// The release that introduced it, if vsva declares it at all.
            since: Option<Release>,
            /// The release the request is built for.
            release: Release,
        } => {
            errno: Errno::EOPNOTSUPP,
            source: "producer side (vsva): the target kernel refuses a flag or value it does not know (-EOPNOTSUPP)",
            display: ("{strukt}.{field}: {value:#x} is newer than kernel {release} (since {since:?})"),
            examples: [{ strukt: "iommu_hwpt_alloc", field: "flags", value: 8,
                since: Some(Release::V6_15), release: Release::V6_12 }],
        },
        /// A value the kernel judges wrong (misaligned, out of range, an array of the wrong
        /// type, an unknown response code). `EINVAL` under every policy.
        InvalidValue {
            /// The struct.
            strukt: &'static str,
            /// The field.
            field: &'static str,
            /// The field's offset.
            offset: usize,
            /// The value given.
            have: u64,
        } => {
            errno: Errno::EINVAL,
            source: "intel/svm.c hpasid range; iommufd fault.c response code; intel/nested.c address alignment",
            display: ("{strukt}.{field} = {have:#x} is not a valid value"),
            examples: [{ strukt: "iommu_hwpt_page_response", field: "code", offset: 4, have: 2 }],
        },
        /// A field is set but the field (or flag) it needs is not (`data_type` without
        /// `data_len`, entries without a pointer). `EINVAL`.
        MissingField {
            /// The struct.
            strukt: &'static str,
            /// The field that is set.
            when: &'static str,
            /// The field that must then be non-zero.
            field: &'static str,
        } => {
            errno: Errno::EINVAL,
            source: "iommufd hw_pagetable.c: data_type without data_len, entry_num without data_uptr/entry_len",
            display: ("{strukt}.{when} is set, so {field} must be too"),
            examples: [{ strukt: "iommu_hwpt_alloc", when: "data_type", field: "data_len" }],
        },
        /// None of the flags of which the kernel needs at least one is set
        /// (`IOMMU_IOAS_MAP` without `READABLE` or `WRITEABLE`). `EINVAL`.
        NoneOf {
            /// The struct.
            strukt: &'static str,
            /// The flags field.
            field: &'static str,
            /// The value given.
            have: u64,
            /// The bits of which one must be set.
            bits: u64,
        } => {
            errno: Errno::EINVAL,
            source: "iommufd ioas.c iommufd_ioas_map: neither IOMMU_IOAS_MAP_WRITEABLE nor READABLE",
            display: ("{strukt}.{field} = {have:#x}: at least one of {bits:#x} must be set"),
            examples: [{ strukt: "iommu_ioas_map", field: "flags", have: 1, bits: 6 }],
        },
        /// Bits of `field` that are not allowed together with `when == equals`
        /// (e.g. a device-IOTLB invalidation at domain granularity). `EINVAL`.
        ForbiddenCombination {
            /// The struct.
            strukt: &'static str,
            /// The bitmask field.
            field: &'static str,
            /// The offending bits that were set.
            bits: u64,
            /// The condition field.
            when: &'static str,
            /// Its value.
            equals: u64,
        } => {
            errno: Errno::EINVAL,
            source: "iommu.c iommu_check_cache_invl_data table; intel/iommu.c inv_type_granu_table",
            display: ("{strukt}.{field} bits {bits:#x} are not allowed when {when} = {equals}"),
            examples: [{
                strukt: "iommu_cache_invalidate_info",
                field: "cache",
                bits: 2,
                when: "granularity",
                equals: 0,
            }],
        },
        /// Not exactly one of mutually exclusive flags is set. `EINVAL`.
        ExclusiveFlags {
            /// The struct.
            strukt: &'static str,
            /// The field.
            field: &'static str,
            /// The value given.
            have: u64,
            /// The exclusive bits.
            bits: u64,
        } => {
            errno: Errno::EINVAL,
            source: "vfio_iommu_type1.c VFIO_IOMMU_PASID_REQUEST: ALLOC and FREE are exclusive",
            display: ("{strukt}.{field} = {have:#x}: exactly one of {bits:#x} must be set"),
            examples: [{
                strukt: "vfio_iommu_type1_pasid_request",
                field: "flags",
                have: 3,
                bits: 3,
            }],
        },
        /// A range whose lower bound is above its upper bound. `EINVAL`.
        InvertedRange {
            /// The struct.
            strukt: &'static str,
            /// The lower bound field.
            low: &'static str,
            /// The upper bound field.
            high: &'static str,
            /// The lower bound given.
            low_value: u64,
            /// The upper bound given.
            high_value: u64,
        } => {
            errno: Errno::EINVAL,
            source: "vfio_iommu_type1.c VFIO_IOMMU_PASID_REQUEST: range.min > range.max",
            display: ("{strukt}: {low} = {low_value} is above {high} = {high_value}"),
            examples: [{
                strukt: "vfio_iommu_type1_pasid_request",
                low: "min",
                high: "max",
                low_value: 9,
                high_value: 1,
            }],
        },
        /// Producer side: encoding for an older header would drop a non-zero field that
        /// header does not have. `EOPNOTSUPP` (the peer could not honour it).
        FieldLost {
            /// The struct.
            strukt: &'static str,
            /// The field, union member or flag that would be lost.
            field: &'static str,
            /// The target header generation.
            generation: &'static str,
        } => {
            errno: Errno::EOPNOTSUPP,
            source: "producer side (vsva): iommufd.h's rule that a peer must not silently ignore a field",
            display: ("{strukt}.{field} is set but header {generation} has no such field"),
            examples: [{ strukt: "iommu_hwpt_alloc", field: "fault_id", generation: "v6.7" }],
        },
        /// Producer side: the output buffer is smaller than the encoded size. `EFAULT`
        /// (a kernel writing there would fault).
        OutputTooSmall {
            /// The struct.
            strukt: &'static str,
            /// Bytes needed.
            need: usize,
            /// Bytes available.
            have: usize,
        } => {
            errno: Errno::EFAULT,
            source: "producer side (vsva): copy_to_user would fault",
            display: ("{strukt}: output needs {need} bytes, buffer has {have}"),
            examples: [{ strukt: "iommu_page_response", need: 24, have: 8 }],
        },
        /// Producer side: no such header generation is declared for the struct. `EINVAL`.
        UnknownGeneration {
            /// The struct.
            strukt: &'static str,
            /// The index asked for.
            index: usize,
        } => {
            errno: Errno::EINVAL,
            source: "producer side (vsva): no such header generation",
            display: ("{strukt}: no header generation {index}"),
            examples: [{ strukt: "iommu_page_response", index: 7 }],
        },
        /// The IOMMU driver does not implement the operation. `ENODEV`
        /// (`domain->ops->cache_invalidate` missing, and so on).
        NoDevice {
            /// The operation.
            op: &'static str,
        } => {
            errno: Errno::ENODEV,
            source: "iommu.c: domain->ops->cache_invalidate / sva_bind_gpasid / page_response missing",
            display: ("the IOMMU driver has no {op} operation"),
            examples: [{ op: "cache_invalidate" }],
        },
    }
}

impl UapiError {
    /// The policy whose errno convention decides this error's errno, for the three
    /// variants whose errno depends on it (`UnknownFlags`, `NonZeroReserved`,
    /// `UnsupportedValue`); `None` for every other variant.
    pub const fn policy(&self) -> Option<Policy> {
        match self {
            UapiError::UnknownFlags { policy, .. }
            | UapiError::NonZeroReserved { policy, .. }
            | UapiError::UnsupportedValue { policy, .. }
            | UapiError::UnsupportedCombination { policy, .. } => Some(*policy),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every variant appears in the catalogue (the match is exhaustive, so a new
    /// variant fails to compile here until it is listed).
    #[test]
    fn catalogue_covers_every_variant() {
        let index = |e: &UapiError| match e {
            UapiError::Fault { .. } => 0,
            UapiError::ArgszTooSmall { .. } => 1,
            UapiError::VariantTruncated { .. } => 2,
            UapiError::ExtensionTruncated { .. } => 3,
            UapiError::VendorTruncated { .. } => 4,
            UapiError::ArgszTooLarge { .. } => 5,
            UapiError::NonZeroTail { .. } => 6,
            UapiError::BadVersion { .. } => 7,
            UapiError::UnknownFlags { .. } => 8,
            UapiError::NonZeroReserved { .. } => 9,
            UapiError::UnsupportedValue { .. } => 10,
            UapiError::ForbiddenCombination { .. } => 11,
            UapiError::ExclusiveFlags { .. } => 12,
            UapiError::InvertedRange { .. } => 13,
            UapiError::FieldLost { .. } => 14,
            UapiError::OutputTooSmall { .. } => 15,
            UapiError::UnknownGeneration { .. } => 16,
            UapiError::NoDevice { .. } => 17,
            UapiError::InvalidValue { .. } => 18,
            UapiError::MissingField { .. } => 19,
            UapiError::UnsupportedCombination { .. } => 20,
            UapiError::NotInRelease { .. } => 21,
            UapiError::NoneOf { .. } => 22,
            UapiError::FeatureNewer { .. } => 23,
        };
        let mut seen = [false; 24];
        for e in UapiError::CATALOGUE {
            seen[index(e)] = true;
        }
        assert!(seen.iter().all(|s| *s), "{seen:?}");
    }

    #[test]
    fn policy_dependent_errnos() {
        for e in UapiError::CATALOGUE {
            if let UapiError::UnknownFlags { policy, .. }
            | UapiError::NonZeroReserved { policy, .. }
            | UapiError::UnsupportedValue { policy, .. }
            | UapiError::UnsupportedCombination { policy, .. } = e
            {
                let want = if *policy == Policy::ZeroTail {
                    Errno::EOPNOTSUPP
                } else {
                    Errno::EINVAL
                };
                assert_eq!(e.errno(), want, "{e}");
            }
        }
    }
}
