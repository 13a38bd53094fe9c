//! `include/uapi/linux/iommu.h` (Linux v5.10), byte-exact for x86_64, plus the
//! out-of-tree members of the same header: `iommu_pasid_table_config` (Auger SMMUv3
//! series, final argsz layout) and `iommu_nesting_info` (Liu vSVA series, late layout).
//!
//! Unions are raw `u64` storage (so the struct keeps C's 8-byte alignment) with typed
//! views chosen by their discriminator; no Rust `union` (the crate is `forbid(unsafe_code)`).

use zerocopy::{FromBytes, FromZeros, IntoBytes};

use crate::consts::{
    CacheInvType, FaultType, InvGranularity, VtdGpasidFlags, IOMMU_INV_GRANU_NR,
    IOMMU_PASID_FORMAT_LAST, IOMMU_PASID_FORMAT_SMMUV3, PASID_MAX,
};
use crate::decl::uapi_structs;
use crate::decl::{
    since, Check, FieldRef, Generation, Policy, Rule, StrictCheck, StrictRule, Union, Variant,
    Vendor, VendorRules,
};
use crate::release::Release;
use crate::UapiStruct;

/// The single v5.10 generation of a struct of `size` bytes.
const fn v510(size: usize) -> [Generation; 1] {
    [Generation {
        name: "v5.10",
        size,
    }]
}

uapi_structs! {
    uapi_struct! {
        /// An unrecoverable fault (`iommu_fault.event`).
        pub struct FaultUnrecoverable = "iommu_fault_unrecoverable", size 32, align 8 {
            /// `enum iommu_fault_reason`.
            reason: u32, at 0 => Check::None, since 0;
            /// `IOMMU_FAULT_UNRECOV_*`.
            flags: u32, at 4 => Check::None, since 0;
            /// The PASID, if `PASID_VALID`.
            pasid: u32, at 8 => Check::None, since 0;
            /// `IOMMU_FAULT_PERM_*`.
            perm: u32, at 12 => Check::None, since 0;
            /// The faulting address, if `ADDR_VALID`.
            addr: u64, at 16 => Check::None, since 0;
            /// The page-table entry address, if `FETCH_ADDR_VALID`.
            fetch_addr: u64, at 24 => Check::None, since 0;
        }
        layout |FIELDS| {
            sized: false, min_size: 32,
            default_policy: Policy::Linux510, union: None, extensions: &[],
            rules: &[], generations: &[Generation { name: "v5.3", size: 32 }], vendor: None,
        }
    }

    uapi_struct! {
        /// A page request (`iommu_fault.prm`).
        pub struct FaultPageRequest = "iommu_fault_page_request", size 40, align 8 {
            /// `IOMMU_FAULT_PAGE_REQUEST_*`.
            flags: u32, at 0 => Check::None, since 0;
            /// The PASID, if `PASID_VALID`.
            pasid: u32, at 4 => Check::None, since 0;
            /// The page request group index.
            grpid: u32, at 8 => Check::None, since 0;
            /// `IOMMU_FAULT_PERM_*`.
            perm: u32, at 12 => Check::None, since 0;
            /// The page address.
            addr: u64, at 16 => Check::None, since 0;
            /// Device-specific private data, if `PRIV_DATA`.
            private_data: [u64; 2], at 24 => Check::None, since 0;
        }
        layout |FIELDS| {
            sized: false, min_size: 40,
            default_policy: Policy::Linux510, union: None, extensions: &[],
            rules: &[], generations: &[Generation { name: "v5.3", size: 40 }], vendor: None,
        }
    }

    uapi_struct! {
        /// A fault record as the kernel reports it; `padding2[56]` fixes the size at 64.
        pub struct Fault = "iommu_fault", size 64, align 8 {
            /// `enum iommu_fault_type`: selects the union member.
            r#type: u32, at 0 => Check::None, since 0;
            /// Reserved.
            padding: u32, at 4 => Check::Zero, since 0;
            /// The union `{ event; prm; padding2[56] }`.
            data: [u64; 7], at 8 => Check::Union, since 0;
        }
        layout |FIELDS| {
            sized: false, min_size: 8,
            default_policy: Policy::Linux510, union: Some(Union {
                name: "data", offset: 8, selector: FieldRef::named(FIELDS, "type"),
                variants: &[
                    Variant { name: "event", value: 1, end: 40,
                              layout: Some(FaultUnrecoverable::DECL), since: 0 },
                    Variant { name: "prm", value: 2, end: 48,
                              layout: Some(FaultPageRequest::DECL), since: 0 },
                ],
                enforce_end: false,
            }),
            extensions: &[], rules: &[], generations: &[Generation { name: "v5.3", size: 64 }],
            vendor: None,
        }
    }

    uapi_struct! {
        /// A page response (`iommu_page_response`, v5.10: `argsz` first). The v5.10 kernel
        /// takes it through an in-kernel API that reads neither `argsz` nor `code`; vsva
        /// checks both (strict rules `argsz-minimum` and `page-response-code`).
        pub struct PageResponse = "iommu_page_response", size 24, align 4 {
            /// Size of the user's struct.
            argsz: u32, at 0 => Check::Argsz, since 0;
            /// `IOMMU_PAGE_RESP_VERSION_1`.
            version: u32, at 4 => Check::Version(1), since 0;
            /// `IOMMU_PAGE_RESP_PASID_VALID`.
            flags: u32, at 8 => Check::Flags(1), since 0;
            /// The PASID, if `PASID_VALID`.
            pasid: u32, at 12 => Check::None, since 0;
            /// The group index of the page request answered.
            grpid: u32, at 16 => Check::None, since 0;
            /// `enum iommu_page_response_code` (not checked by the kernel).
            code: u32, at 20 => Check::None, since 0;
        }
        layout |FIELDS| {
            sized: true, min_size: 24,
            default_policy: Policy::Linux510, union: None, extensions: &[],
            rules: &[], generations: &v510(24), vendor: None,
            argsz_read: false,
            strict: &[StrictRule {
                name: "page-response-code",
                kernel: "iommu_page_response does not check code",
                why: "a response from an untrusted guest gets the same checks as every other 2020 struct",
                vendor: None,
                check: StrictCheck::Field(crate::Field { name: "code", offset: 20, size: 4,
                    kind: crate::FieldKind::Int,
                    check: Check::Within { mask: 0xffff_ffff, below: 3 }, since: 0 }),
            }],
        }
    }

    uapi_struct! {
        /// Page-selective invalidation payload (`granu.addr_info`).
        pub struct InvAddrInfo = "iommu_inv_addr_info", size 40, align 8 {
            /// `IOMMU_INV_ADDR_FLAGS_*`.
            flags: u32, at 0 => Check::Flags(0b111), since 0;
            /// Architecture-specific id, if `ARCHID`.
            archid: u32, at 4 => Check::None, since 0;
            /// The PASID, if `PASID`.
            pasid: u64, at 8 => Check::None, since 0;
            /// First address.
            addr: u64, at 16 => Check::None, since 0;
            /// Granule size in bytes.
            granule_size: u64, at 24 => Check::None, since 0;
            /// Number of granules.
            nb_granules: u64, at 32 => Check::None, since 0;
        }
        layout |FIELDS| {
            sized: false, min_size: 40,
            default_policy: Policy::Linux510, union: None, extensions: &[],
            rules: &[], generations: &[Generation { name: "v5.3", size: 40 }], vendor: None,
        }
    }

    uapi_struct! {
        /// PASID-selective invalidation payload (`granu.pasid_info`).
        pub struct InvPasidInfo = "iommu_inv_pasid_info", size 16, align 8 {
            /// `IOMMU_INV_PASID_FLAGS_*`.
            flags: u32, at 0 => Check::Flags(0b11), since 0;
            /// Architecture-specific id, if `ARCHID`.
            archid: u32, at 4 => Check::None, since 0;
            /// The PASID, if `PASID`.
            pasid: u64, at 8 => Check::None, since 0;
        }
        layout |FIELDS| {
            sized: false, min_size: 16,
            default_policy: Policy::Linux510, union: None, extensions: &[],
            rules: &[], generations: &[Generation { name: "v5.3", size: 16 }], vendor: None,
        }
    }

    uapi_struct! {
        /// A guest's cache invalidation request.
        pub struct CacheInvalidateInfo = "iommu_cache_invalidate_info", size 56, align 8 {
            /// Size of the user's struct.
            argsz: u32, at 0 => Check::Argsz, since 0;
            /// `IOMMU_CACHE_INVALIDATE_INFO_VERSION_1`.
            version: u32, at 4 => Check::Version(1), since 0;
            /// `IOMMU_CACHE_INV_TYPE_*` bitmask.
            cache: u8, at 8 => Check::Flags(0b111), since 0;
            /// `enum iommu_inv_granularity`: selects the union member.
            granularity: u8, at 9 => Check::Within { mask: 0xff, below: IOMMU_INV_GRANU_NR as u64 }, since 0;
            /// Must be zero.
            padding: [u8; 6], at 10 => Check::Zero, since 0;
            /// The union `granu { pasid_info; addr_info }`.
            granu: [u64; 5], at 16 => Check::Union, since 0;
        }
        layout |FIELDS| {
            sized: true, min_size: 16,
            default_policy: Policy::Linux510, union: Some(Union {
                name: "granu", offset: 16, selector: FieldRef::named(FIELDS, "granularity"),
                variants: &[
                    Variant { name: "domain (no payload)", value: 0, end: 16, layout: None, since: 0 },
                    Variant { name: "pasid_info", value: 1, end: 32,
                              layout: Some(InvPasidInfo::DECL), since: 0 },
                    Variant { name: "addr_info", value: 2, end: 56,
                              layout: Some(InvAddrInfo::DECL), since: 0 },
                ],
                enforce_end: true,
            }),
            extensions: &[],
            rules: &[
                // iommu_check_cache_invl_data: no device-IOTLB flush at domain granularity,
                // no PASID-cache flush at address granularity.
                Rule::ForbidBits { field: FieldRef::named(FIELDS, "cache"),
                    bits: CacheInvType::DEV_IOTLB.bits() as u64,
                    when: FieldRef::named(FIELDS, "granularity"), equals: 0 },
                Rule::ForbidBits { field: FieldRef::named(FIELDS, "cache"),
                    bits: CacheInvType::PASID.bits() as u64,
                    when: FieldRef::named(FIELDS, "granularity"), equals: 2 },
            ],
            generations: &v510(56),
            vendor: Some(&VendorRules {
                vendor: Vendor::Vtd, min_argsz: 16, checks: &[], rules: &[],
            }),
            // intel/iommu.c inv_type_granu_table: IOTLB at PASID or ADDR granularity, device
            // IOTLB at ADDR granularity only, never the PASID cache. The kernel logs another
            // combination and returns 0; vsva refuses it.
            strict: &[
                vtd_cache_granu(Rule::ForbidBits { field: FieldRef::named(FIELDS, "cache"),
                    bits: 0b111, when: FieldRef::named(FIELDS, "granularity"), equals: 0 }),
                vtd_cache_granu(Rule::ForbidBits { field: FieldRef::named(FIELDS, "cache"),
                    bits: 0b110, when: FieldRef::named(FIELDS, "granularity"), equals: 1 }),
                vtd_cache_granu(Rule::ForbidBits { field: FieldRef::named(FIELDS, "cache"),
                    bits: 0b100, when: FieldRef::named(FIELDS, "granularity"), equals: 2 }),
            ],
        }
    }

    uapi_struct! {
        /// VT-d vendor data of a guest PASID bind (`vendor.vtd`).
        pub struct GpasidBindDataVtd = "iommu_gpasid_bind_data_vtd", size 16, align 8 {
            /// `IOMMU_SVA_VTD_GPASID_*` (checked by the VT-d vendor layer).
            flags: u64, at 0 => Check::None, since 0;
            /// Page attribute table data.
            pat: u32, at 8 => Check::None, since 0;
            /// Extended memory type.
            emt: u32, at 12 => Check::None, since 0;
        }
        layout |FIELDS| {
            sized: false, min_size: 16,
            default_policy: Policy::Linux510, union: None, extensions: &[],
            rules: &[], generations: &v510(16), vendor: None,
        }
    }

    uapi_struct! {
        /// Bind a guest PASID (guest first-level page table) to a host PASID (VT-d).
        pub struct GpasidBindData = "iommu_gpasid_bind_data", size 72, align 8 {
            /// Size of the user's struct.
            argsz: u32, at 0 => Check::Argsz, since 0;
            /// `IOMMU_GPASID_BIND_VERSION_1`.
            version: u32, at 4 => Check::Version(1), since 0;
            /// `IOMMU_PASID_FORMAT_*`: selects the vendor member (`< IOMMU_PASID_FORMAT_LAST`).
            format: u32, at 8 => Check::Within { mask: 0xffff_ffff, below: IOMMU_PASID_FORMAT_LAST as u64 }, since 0;
            /// Guest address width.
            addr_width: u32, at 12 => Check::None, since 0;
            /// `IOMMU_SVA_GPASID_VAL`.
            flags: u64, at 16 => Check::Flags(1), since 0;
            /// Guest page directory base (GPA).
            gpgd: u64, at 24 => Check::None, since 0;
            /// Host PASID.
            hpasid: u64, at 32 => Check::None, since 0;
            /// Guest PASID, if `GPASID_VAL`.
            gpasid: u64, at 40 => Check::None, since 0;
            /// Must be zero.
            padding: [u8; 8], at 48 => Check::Zero, since 0;
            /// The union `vendor { vtd }`.
            vendor: [u64; 2], at 56 => Check::Union, since 0;
        }
        layout |FIELDS| {
            sized: true, min_size: 56,
            default_policy: Policy::Linux510, union: Some(Union {
                name: "vendor", offset: 56, selector: FieldRef::named(FIELDS, "format"),
                variants: &[Variant { name: "vtd", value: 1, end: 72,
                                      layout: Some(GpasidBindDataVtd::DECL), since: 0 }],
                // iommu_sva_prepare_bind_data: "the vendor driver decides what size it needs".
                enforce_end: false,
            }),
            extensions: &[], rules: &[], generations: &v510(72),
            vendor: Some(&VendorRules {
                vendor: Vendor::Vtd,
                // intel_svm_bind_gpasid: argsz < offsetofend(vendor.vtd) is EINVAL.
                min_argsz: 72,
                checks: &[
                    crate::Field { name: "format", offset: 8, size: 4, kind: crate::FieldKind::Int,
                        check: Check::OneOf(&[1]), since: 0 },
                    crate::Field { name: "hpasid", offset: 32, size: 8, kind: crate::FieldKind::Int,
                        check: Check::Range { min: 1, below: PASID_MAX as u64 }, since: 0 },
                    // flags & ~(IOMMU_SVA_VTD_GPASID_LAST - 1) is EINVAL (LAST is 1 << 6 in
                    // v5.10, 1 << 7 once WPE arrived in v5.13), and so is any memory-type flag
                    // (MTS_MASK: "no memory type support"), which leaves SRE, EAFE and WPE.
                    crate::Field { name: "vendor.vtd.flags", offset: 56, size: 8,
                        kind: crate::FieldKind::Int,
                        check: Check::FlagsSince(&[
                            since(VtdGpasidFlags::SRE.bits(), Release::V5_10),
                            since(VtdGpasidFlags::EAFE.bits(), Release::V5_10),
                            since(VtdGpasidFlags::WPE.bits(), Release::V5_13),
                        ]), since: 0 },
                ],
                rules: &[],
            }),
        }
    }

    uapi_struct! {
        /// SMMUv3 vendor data of a PASID table config (`vendor_data.smmuv3`).
        pub struct PasidSmmuv3 = "iommu_pasid_smmuv3", size 8, align 4 {
            /// `PASID_TABLE_SMMUV3_CFG_VERSION_1`.
            version: u32, at 0 => Check::Version(1), since 0;
            /// Stage-1 format (`STE.S1Fmt`).
            s1fmt: u8, at 4 => Check::None, since 0;
            /// Default substream behaviour (`STE.S1DSS`).
            s1dss: u8, at 5 => Check::None, since 0;
            /// Must be zero.
            padding: [u8; 2], at 6 => Check::Zero, since 0;
        }
        layout |FIELDS| {
            sized: false, min_size: 8,
            default_policy: Policy::Linux510, union: None, extensions: &[],
            rules: &[], generations: &v510(8), vendor: None,
        }
    }

    uapi_struct! {
        /// Bind a guest PASID table (SMMUv3 CD table) — Auger series, final argsz layout.
        pub struct PasidTableConfig = "iommu_pasid_table_config", size 32, align 8 {
            /// Size of the user's struct.
            argsz: u32, at 0 => Check::Argsz, since 0;
            /// `PASID_TABLE_CFG_VERSION_1`.
            version: u32, at 4 => Check::Version(1), since 0;
            /// GPA of the guest CD table.
            base_ptr: u64, at 8 => Check::None, since 0;
            /// `IOMMU_PASID_FORMAT_SMMUV3`: selects the vendor member.
            format: u32, at 16 => Check::OneOf(&[IOMMU_PASID_FORMAT_SMMUV3 as u64]), since 0;
            /// Number of PASID bits.
            pasid_bits: u8, at 20 => Check::None, since 0;
            /// `IOMMU_PASID_CONFIG_{TRANSLATE, BYPASS, ABORT}`.
            config: u8, at 21 => Check::OneOf(&[1, 2, 3]), since 0;
            /// Must be zero.
            padding: [u8; 2], at 22 => Check::Zero, since 0;
            /// The union `vendor_data { smmuv3 }`.
            vendor_data: [u8; 8], at 24 => Check::Union, since 0;
        }
        layout |FIELDS| {
            sized: true, min_size: 24,
            default_policy: Policy::Linux510, union: Some(Union {
                name: "vendor_data", offset: 24, selector: FieldRef::named(FIELDS, "format"),
                variants: &[Variant { name: "smmuv3", value: 1, end: 32,
                                      layout: Some(PasidSmmuv3::DECL), since: 0 }],
                enforce_end: true,
            }),
            extensions: &[], rules: &[], generations: &v510(32), vendor: None,
        }
    }

    uapi_struct! {
        /// VT-d vendor data of the nesting info (`vendor.vtd`): the raw CAP and ECAP registers.
        pub struct NestingInfoVtd = "iommu_nesting_info_vtd", size 32, align 8 {
            /// Reserved flags.
            flags: u32, at 0 => Check::None, since 0;
            /// Must be zero.
            padding: [u8; 12], at 4 => Check::Zero, since 0;
            /// VT-d capability register.
            cap_reg: u64, at 16 => Check::None, since 0;
            /// VT-d extended capability register.
            ecap_reg: u64, at 24 => Check::None, since 0;
        }
        layout |FIELDS| {
            sized: false, min_size: 32,
            default_policy: Policy::Linux510, union: None, extensions: &[],
            rules: &[], generations: &v510(32), vendor: None,
        }
    }

    uapi_struct! {
        /// What the host's nesting IOMMU supports (kernel → user; late Liu series layout,
        /// `features` with vsva's five `IOMMU_NESTING_FEAT_*` bits).
        pub struct NestingInfo = "iommu_nesting_info", size 64, align 8 {
            /// Size of the struct.
            argsz: u32, at 0 => Check::Argsz, since 0;
            /// Must be zero.
            flags: u32, at 4 => Check::Flags(0), since 0;
            /// `IOMMU_PASID_FORMAT_*`: selects the vendor member.
            format: u32, at 8 => Check::Within { mask: 0xffff_ffff, below: IOMMU_PASID_FORMAT_LAST as u64 }, since 0;
            /// `IOMMU_NESTING_FEAT_*`.
            features: u32, at 12 => Check::Flags(0x1f), since 0;
            /// Stage-1 address width.
            addr_width: u16, at 16 => Check::None, since 0;
            /// PASID bits (0: no PASID support).
            pasid_bits: u16, at 18 => Check::None, since 0;
            /// Must be zero.
            padding: [u8; 12], at 20 => Check::Zero, since 0;
            /// The union `vendor { vtd }`.
            vendor: [u64; 4], at 32 => Check::Union, since 0;
        }
        layout |FIELDS| {
            sized: true, min_size: 32,
            default_policy: Policy::Linux510, union: Some(Union {
                name: "vendor", offset: 32, selector: FieldRef::named(FIELDS, "format"),
                variants: &[Variant { name: "vtd", value: 1, end: 64,
                                      layout: Some(NestingInfoVtd::DECL), since: 0 }],
                enforce_end: true,
            }),
            extensions: &[], rules: &[], generations: &v510(64), vendor: None,
        }
    }
}

impl Fault {
    /// A page-request fault record.
    pub fn page_request(prm: FaultPageRequest) -> Fault {
        let mut f = Fault::new_zeroed();
        f.r#type = FaultType::PageReq.raw();
        prm.write_to_prefix(f.data.as_mut_bytes()).ok();
        f
    }

    /// An unrecoverable fault record.
    pub fn unrecoverable(event: FaultUnrecoverable) -> Fault {
        let mut f = Fault::new_zeroed();
        f.r#type = FaultType::DmaUnrecov.raw();
        event.write_to_prefix(f.data.as_mut_bytes()).ok();
        f
    }

    /// The `event` member, if `type` is `IOMMU_FAULT_DMA_UNRECOV`.
    pub fn event(&self) -> Option<FaultUnrecoverable> {
        (self.r#type == FaultType::DmaUnrecov.raw())
            .then(|| FaultUnrecoverable::read_from_prefix(self.data.as_bytes()).ok())
            .flatten()
            .map(|(v, _)| v)
    }

    /// The `prm` member, if `type` is `IOMMU_FAULT_PAGE_REQ`.
    pub fn prm(&self) -> Option<FaultPageRequest> {
        (self.r#type == FaultType::PageReq.raw())
            .then(|| FaultPageRequest::read_from_prefix(self.data.as_bytes()).ok())
            .flatten()
            .map(|(v, _)| v)
    }
}

impl InvAddrInfo {
    /// `granule_size * nb_granules`, or `None` when it overflows.
    pub fn range_len(&self) -> Option<u64> {
        self.granule_size.checked_mul(self.nb_granules)
    }

    /// One past the last address, or `None` when it does not fit a `u64` — including a
    /// valid range that ends exactly at 2^64 (the last page): use
    /// [`range_last`](Self::range_last) for those.
    pub fn range_end(&self) -> Option<u64> {
        self.range_len().and_then(|len| self.addr.checked_add(len))
    }

    /// The last address covered, inclusive (`addr + granule_size × nb_granules − 1`), or
    /// `None` when the range is empty or ends past 2^64. A range ending exactly at 2^64
    /// is valid: `u64::MAX`.
    pub fn range_last(&self) -> Option<u64> {
        let len = u128::from(self.granule_size) * u128::from(self.nb_granules);
        let last = (u128::from(self.addr) + len)
            .checked_sub(1)
            .filter(|_| len > 0)?;
        u64::try_from(last).ok()
    }
}

/// One row of the VT-d cache-type × granularity table, as a rule of vsva's strictness.
const fn vtd_cache_granu(rule: Rule) -> StrictRule {
    StrictRule {
        name: "vtd-cache-granularity",
        kernel: "intel_iommu_sva_invalidate logs \"Invalid cache type and granu combination\" \
                 and returns 0",
        why: "a silently dropped invalidation leaves stale translations in a guest that \
              believes they are gone",
        vendor: Some(Vendor::Vtd),
        check: StrictCheck::Rule(rule),
    }
}

/// The typed view of `iommu_cache_invalidate_info.granu`, chosen by `granularity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granu {
    /// `IOMMU_INV_GRANU_DOMAIN`: no payload.
    Domain,
    /// `IOMMU_INV_GRANU_PASID`.
    Pasid(InvPasidInfo),
    /// `IOMMU_INV_GRANU_ADDR`.
    Addr(InvAddrInfo),
}

impl CacheInvalidateInfo {
    /// A version-1 request with the given caches and granularity payload; `argsz` is the
    /// full size (use [`UapiStruct::encode_min`] to send the smallest valid size).
    pub fn new(cache: CacheInvType, granu: Granu) -> CacheInvalidateInfo {
        let mut v = CacheInvalidateInfo::new_zeroed();
        v.argsz = Self::DECL.size as u32;
        v.version = 1;
        v.cache = cache.bits();
        let storage = v.granu.as_mut_bytes();
        v.granularity = match granu {
            Granu::Domain => InvGranularity::Domain.raw(),
            Granu::Pasid(p) => {
                p.write_to_prefix(storage).ok();
                InvGranularity::Pasid.raw()
            }
            Granu::Addr(a) => {
                a.write_to_prefix(storage).ok();
                InvGranularity::Addr.raw()
            }
        };
        v
    }

    /// The caches to invalidate (unknown bits retained).
    pub fn cache_types(&self) -> CacheInvType {
        CacheInvType::from_bits_retain(self.cache)
    }

    /// The union member `granularity` selects, or `None` for an unknown granularity.
    pub fn granu_view(&self) -> Option<Granu> {
        let bytes = self.granu.as_bytes();
        match InvGranularity::from_raw(self.granularity)? {
            InvGranularity::Domain => Some(Granu::Domain),
            InvGranularity::Pasid => InvPasidInfo::read_from_prefix(bytes)
                .ok()
                .map(|(p, _)| Granu::Pasid(p)),
            InvGranularity::Addr => InvAddrInfo::read_from_prefix(bytes)
                .ok()
                .map(|(a, _)| Granu::Addr(a)),
        }
    }
}

impl GpasidBindData {
    /// The VT-d vendor data, if `format` is `IOMMU_PASID_FORMAT_INTEL_VTD`.
    pub fn vtd(&self) -> Option<GpasidBindDataVtd> {
        (self.format == crate::consts::PasidFormat::IntelVtd.raw())
            .then(|| GpasidBindDataVtd::read_from_prefix(self.vendor.as_bytes()).ok())
            .flatten()
            .map(|(v, _)| v)
    }

    /// Stores `vtd` as the vendor data and sets `format` to VT-d.
    pub fn set_vtd(&mut self, vtd: GpasidBindDataVtd) {
        self.format = crate::consts::PasidFormat::IntelVtd.raw();
        vtd.write_to_prefix(self.vendor.as_mut_bytes()).ok();
    }
}

impl PasidTableConfig {
    /// The SMMUv3 vendor data, if `format` is `IOMMU_PASID_FORMAT_SMMUV3`.
    pub fn smmuv3(&self) -> Option<PasidSmmuv3> {
        (self.format == IOMMU_PASID_FORMAT_SMMUV3)
            .then(|| PasidSmmuv3::read_from_bytes(&self.vendor_data).ok())
            .flatten()
    }

    /// Stores `smmuv3` as the vendor data and sets `format` to SMMUv3.
    pub fn set_smmuv3(&mut self, smmuv3: PasidSmmuv3) {
        self.format = IOMMU_PASID_FORMAT_SMMUV3;
        self.vendor_data.copy_from_slice(smmuv3.as_bytes());
    }
}

impl NestingInfo {
    /// The VT-d vendor data, if `format` is VT-d.
    pub fn vtd(&self) -> Option<NestingInfoVtd> {
        (self.format == crate::consts::PasidFormat::IntelVtd.raw())
            .then(|| NestingInfoVtd::read_from_prefix(self.vendor.as_bytes()).ok())
            .flatten()
            .map(|(v, _)| v)
    }

    /// Stores `vtd` as the vendor data and sets `format` to VT-d.
    pub fn set_vtd(&mut self, vtd: NestingInfoVtd) {
        self.format = crate::consts::PasidFormat::IntelVtd.raw();
        vtd.write_to_prefix(self.vendor.as_mut_bytes()).ok();
    }
}
