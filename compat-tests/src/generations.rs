//! Header generations G1, G2 and G3 of every argsz struct of the 2020 IOMMU UAPI,
//! declared with the same [`vsva_uapi::uapi_struct!`] that declares today's structs.
//!
//! - **G1** is today's layout (Linux v5.10, the Auger SMMUv3 series, the 2020 VFIO series):
//!   the `vsva-uapi` type itself, not a copy.
//! - **G2** is a future header that *repurposes padding*: a field carved out of
//!   `padding[]`, same size, valid only with a new flag
//!   ([`vsva_uapi::Rule::Requires`]).
//! - **G3** is a future header that *appends a union member* larger than today's union,
//!   selected by a new granularity or format value, so `sizeof` grows. G3 keeps G2's
//!   fields (G3 ⊇ G2).
//!
//! These are the only two ways the 2020 rules let a struct grow (`docs/extension-rules.md`
//! §1), so `iommu_page_response` and `vfio_iommu_type1_pasid_request`, which have neither
//! padding nor a union, have no G2 and no G3: [`Header::Impossible`] records that as data.
//!
//! **G2 and G3 are declarations only.** Nothing in this module decodes anything: the
//! `vsva_uapi` codec ([`vsva_uapi::decode_into`], [`vsva_uapi::encode_for`]) reads and
//! writes every generation unchanged, driven by the declarations below. That the future
//! headers needed no new decode logic is part of what the [matrix](crate::matrix) shows.
//!
//! All new names and values of G2 and G3 (`IOMMU_CACHE_INV_FLAGS_ASID_VALID`,
//! `IOMMU_INV_GRANU_RANGE_LIST`, `IOMMU_PASID_FORMAT_VENDOR2`, …) are hypothetical: no
//! kernel ever defined them.
//!
//! [`FAMILIES`] holds the data in one place: per struct, its three [`Header`]s and a
//! builder of representative values (test fixtures) for each generation and
//! [`Features`] choice.

use vsva_uapi::consts::{CacheInvType, GpasidBindFlags, VtdGpasidFlags, IOMMU_PASID_FORMAT_SMMUV3};
use vsva_uapi::{
    uapi_struct, Check, FieldRef, Generation, Granu, InvAddrInfo, InvPasidInfo, Layout, Policy,
    Rule, UapiStruct, Union, Variant,
};
use zerocopy::{FromZeros, IntoBytes};

// ---------------------------------------------------------------------------------------
// New constants of the future headers (hypothetical).

/// G2 `iommu_cache_invalidate_info.flags` bit 0: `asid` is valid (hypothetical).
pub const IOMMU_CACHE_INV_FLAGS_ASID_VALID: u16 = 1 << 0;
/// G3 granularity 3: the `range_list` union member (hypothetical).
pub const IOMMU_INV_GRANU_RANGE_LIST: u8 = 3;
/// G2 `iommu_gpasid_bind_data.flags` bit 1: `pasid_bits` is valid (hypothetical).
pub const IOMMU_SVA_GPASID_PASID_BITS: u64 = 1 << 1;
/// G3 format 2 of `iommu_gpasid_bind_data` and `iommu_pasid_table_config`: the
/// `vendor2` union member (hypothetical).
pub const IOMMU_PASID_FORMAT_VENDOR2: u32 = 2;
/// G2 `iommu_pasid_table_config.flags` bit 0: `asid_bits` is valid (hypothetical).
pub const IOMMU_PASID_CONFIG_FLAGS_ASID_BITS: u8 = 1 << 0;

/// The generation names every G2/G3 declaration shares: G1 is v5.10 (or the series the
/// struct comes from), then the two future headers.
const fn gens(g1: &'static str, g1_size: usize, g2_size: usize) -> [Generation; 2] {
    [
        Generation {
            name: g1,
            size: g1_size,
        },
        Generation {
            name: "G2",
            size: g2_size,
        },
    ]
}

// ---------------------------------------------------------------------------------------
// G1: today's layouts, reused.

/// G1 of `iommu_cache_invalidate_info`: today's (v5.10) struct.
pub type CacheInvalidateInfoG1 = vsva_uapi::CacheInvalidateInfo;
/// G1 of `iommu_gpasid_bind_data`: today's (v5.10) struct.
pub type GpasidBindDataG1 = vsva_uapi::GpasidBindData;
/// G1 of `iommu_page_response`: today's (v5.10) struct.
pub type PageResponseG1 = vsva_uapi::PageResponse;
/// G1 of `iommu_pasid_table_config`: today's (Auger series, final argsz) struct.
pub type PasidTableConfigG1 = vsva_uapi::PasidTableConfig;
/// G1 of `vfio_iommu_type1_pasid_request`: today's (2020 VFIO series v7) struct.
pub type PasidRequestG1 = vsva_uapi::PasidRequest;

// ---------------------------------------------------------------------------------------
// iommu_cache_invalidate_info

const CACHE_G2_GENS: [Generation; 2] = gens("v5.10", 56, 56);

uapi_struct! {
    /// G2 of `iommu_cache_invalidate_info`: `padding[6]` becomes `flags` (bit 0:
    /// `IOMMU_CACHE_INV_FLAGS_ASID_VALID`) and `asid`. Same size as G1; a G1 kernel sees
    /// non-zero padding when the new field is used.
    pub struct CacheInvalidateInfoG2 = "iommu_cache_invalidate_info", size 56, align 8 {
        /// Size of the user's struct.
        argsz: u32, at 0 => Check::Argsz, since 0;
        /// `IOMMU_CACHE_INVALIDATE_INFO_VERSION_1`.
        version: u32, at 4 => Check::Version(1), since 0;
        /// `IOMMU_CACHE_INV_TYPE_*` bitmask.
        cache: u8, at 8 => Check::Flags(0b111), since 0;
        /// `enum iommu_inv_granularity`: selects the union member.
        granularity: u8, at 9 => Check::Within { mask: 0xff, below: 3 }, since 0;
        /// G2: `IOMMU_CACHE_INV_FLAGS_ASID_VALID` (carved from `padding[0..2]`).
        flags: u16, at 10 => Check::Flags(IOMMU_CACHE_INV_FLAGS_ASID_VALID as u64), since 1;
        /// G2: the address-space id, valid with `ASID_VALID` (carved from `padding[2..6]`).
        asid: u32, at 12 => Check::None, since 1;
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
            Rule::ForbidBits { field: FieldRef::named(FIELDS, "cache"),
                bits: CacheInvType::DEV_IOTLB.bits() as u64,
                when: FieldRef::named(FIELDS, "granularity"), equals: 0 },
            Rule::ForbidBits { field: FieldRef::named(FIELDS, "cache"),
                bits: CacheInvType::PASID.bits() as u64,
                when: FieldRef::named(FIELDS, "granularity"), equals: 2 },
            // A new field comes with a new flag.
            Rule::Requires { when: FieldRef::named(FIELDS, "asid"),
                field: FieldRef::named(FIELDS, "flags"),
                mask: IOMMU_CACHE_INV_FLAGS_ASID_VALID as u64 },
        ],
        generations: &CACHE_G2_GENS,
        vendor: None,
    }
}

uapi_struct! {
    /// G3 payload `granu.range_list` of `iommu_cache_invalidate_info`: two page ranges in
    /// one request (hypothetical). 56 bytes, larger than the whole G1 union (40).
    pub struct InvRangeListInfo = "iommu_inv_range_list_info", size 56, align 8 {
        /// `IOMMU_INV_ADDR_FLAGS_*` (PASID, ARCHID, LEAF).
        flags: u32, at 0 => Check::Flags(0b111), since 0;
        /// Architecture-specific id, if `ARCHID`.
        archid: u32, at 4 => Check::None, since 0;
        /// The PASID, if `PASID`.
        pasid: u64, at 8 => Check::None, since 0;
        /// Granule size in bytes, for both ranges.
        granule_size: u64, at 16 => Check::None, since 0;
        /// First address of range 0.
        addr0: u64, at 24 => Check::None, since 0;
        /// Number of granules of range 0.
        nb_granules0: u64, at 32 => Check::None, since 0;
        /// First address of range 1.
        addr1: u64, at 40 => Check::None, since 0;
        /// Number of granules of range 1.
        nb_granules1: u64, at 48 => Check::None, since 0;
    }
    layout |FIELDS| {
        sized: false, min_size: 56,
        default_policy: Policy::Linux510, union: None, extensions: &[],
        rules: &[], generations: &[Generation { name: "G3", size: 56 }], vendor: None,
    }
}

const CACHE_G3_GENS: [Generation; 3] = [
    CACHE_G2_GENS[0],
    CACHE_G2_GENS[1],
    Generation {
        name: "G3",
        size: 72,
    },
];

uapi_struct! {
    /// G3 of `iommu_cache_invalidate_info`: G2 plus granularity 3
    /// (`IOMMU_INV_GRANU_RANGE_LIST`) selecting the 56-byte `range_list`; the union grows
    /// from 40 to 56 bytes and the struct from 56 to 72.
    pub struct CacheInvalidateInfoG3 = "iommu_cache_invalidate_info", size 72, align 8 {
        /// Size of the user's struct.
        argsz: u32, at 0 => Check::Argsz, since 0;
        /// `IOMMU_CACHE_INVALIDATE_INFO_VERSION_1`.
        version: u32, at 4 => Check::Version(1), since 0;
        /// `IOMMU_CACHE_INV_TYPE_*` bitmask.
        cache: u8, at 8 => Check::Flags(0b111), since 0;
        /// `enum iommu_inv_granularity`: selects the union member (G3: `< 4`).
        granularity: u8, at 9 => Check::Within { mask: 0xff, below: 4 }, since 0;
        /// G2: `IOMMU_CACHE_INV_FLAGS_ASID_VALID`.
        flags: u16, at 10 => Check::Flags(IOMMU_CACHE_INV_FLAGS_ASID_VALID as u64), since 1;
        /// G2: the address-space id, valid with `ASID_VALID`.
        asid: u32, at 12 => Check::None, since 1;
        /// The union `granu { pasid_info; addr_info; range_list }`.
        granu: [u64; 7], at 16 => Check::Union, since 0;
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
                Variant { name: "range_list", value: IOMMU_INV_GRANU_RANGE_LIST as u64, end: 72,
                          layout: Some(InvRangeListInfo::DECL), since: 2 },
            ],
            enforce_end: true,
        }),
        extensions: &[],
        rules: &[
            Rule::ForbidBits { field: FieldRef::named(FIELDS, "cache"),
                bits: CacheInvType::DEV_IOTLB.bits() as u64,
                when: FieldRef::named(FIELDS, "granularity"), equals: 0 },
            Rule::ForbidBits { field: FieldRef::named(FIELDS, "cache"),
                bits: CacheInvType::PASID.bits() as u64,
                when: FieldRef::named(FIELDS, "granularity"), equals: 2 },
            Rule::Requires { when: FieldRef::named(FIELDS, "asid"),
                field: FieldRef::named(FIELDS, "flags"),
                mask: IOMMU_CACHE_INV_FLAGS_ASID_VALID as u64 },
        ],
        generations: &CACHE_G3_GENS,
        vendor: None,
    }
}

// ---------------------------------------------------------------------------------------
// iommu_gpasid_bind_data

const BIND_G2_GENS: [Generation; 2] = gens("v5.10", 72, 72);

uapi_struct! {
    /// G2 of `iommu_gpasid_bind_data`: a new flag bit `IOMMU_SVA_GPASID_PASID_BITS` in
    /// `flags` and a field `pasid_bits` carved from `padding[8]`. Same size as G1; a G1
    /// kernel sees an unknown flag when the new field is used.
    pub struct GpasidBindDataG2 = "iommu_gpasid_bind_data", size 72, align 8 {
        /// Size of the user's struct.
        argsz: u32, at 0 => Check::Argsz, since 0;
        /// `IOMMU_GPASID_BIND_VERSION_1`.
        version: u32, at 4 => Check::Version(1), since 0;
        /// `IOMMU_PASID_FORMAT_*`: selects the vendor member (`< 2`).
        format: u32, at 8 => Check::Within { mask: 0xffff_ffff, below: 2 }, since 0;
        /// Guest address width.
        addr_width: u32, at 12 => Check::None, since 0;
        /// `IOMMU_SVA_GPASID_VAL`, G2: `IOMMU_SVA_GPASID_PASID_BITS`.
        flags: u64, at 16 => Check::Flags(0b11), since 0;
        /// Guest page directory base (GPA).
        gpgd: u64, at 24 => Check::None, since 0;
        /// Host PASID.
        hpasid: u64, at 32 => Check::None, since 0;
        /// Guest PASID, if `GPASID_VAL`.
        gpasid: u64, at 40 => Check::None, since 0;
        /// G2: the guest's PASID width, valid with `PASID_BITS` (carved from `padding[0..4]`).
        pasid_bits: u32, at 48 => Check::None, since 1;
        /// Must be zero (what is left of `padding[8]`).
        padding: [u8; 4], at 52 => Check::Zero, since 0;
        /// The union `vendor { vtd }`.
        vendor: [u64; 2], at 56 => Check::Union, since 0;
    }
    layout |FIELDS| {
        sized: true, min_size: 56,
        default_policy: Policy::Linux510, union: Some(Union {
            name: "vendor", offset: 56, selector: FieldRef::named(FIELDS, "format"),
            variants: &[Variant { name: "vtd", value: 1, end: 72,
                                  layout: Some(vsva_uapi::GpasidBindDataVtd::DECL), since: 0 }],
            enforce_end: false,
        }),
        extensions: &[],
        rules: &[Rule::Requires { when: FieldRef::named(FIELDS, "pasid_bits"),
            field: FieldRef::named(FIELDS, "flags"), mask: IOMMU_SVA_GPASID_PASID_BITS }],
        generations: &BIND_G2_GENS,
        vendor: None,
    }
}

uapi_struct! {
    /// G3 vendor member `vendor.vendor2` of `iommu_gpasid_bind_data` (format 2,
    /// hypothetical): 32 bytes, twice the size of `vendor.vtd`.
    pub struct GpasidBindDataVendor2 = "iommu_gpasid_bind_data_vendor2", size 32, align 8 {
        /// Vendor flags.
        flags: u64, at 0 => Check::None, since 0;
        /// Root of the guest's PASID-level table.
        pgtbl_root: u64, at 8 => Check::None, since 0;
        /// An extension table pointer.
        ext_ptr: u64, at 16 => Check::None, since 0;
        /// The guest domain id.
        domain_id: u32, at 24 => Check::None, since 0;
        /// Number of page-table levels.
        levels: u32, at 28 => Check::None, since 0;
    }
    layout |FIELDS| {
        sized: false, min_size: 32,
        default_policy: Policy::Linux510, union: None, extensions: &[],
        rules: &[], generations: &[Generation { name: "G3", size: 32 }], vendor: None,
    }
}

const BIND_G3_GENS: [Generation; 3] = [
    BIND_G2_GENS[0],
    BIND_G2_GENS[1],
    Generation {
        name: "G3",
        size: 88,
    },
];

uapi_struct! {
    /// G3 of `iommu_gpasid_bind_data`: G2 plus format 2 (`IOMMU_PASID_FORMAT_VENDOR2`)
    /// selecting the 32-byte `vendor2`; the union grows from 16 to 32 bytes and the
    /// struct from 72 to 88.
    pub struct GpasidBindDataG3 = "iommu_gpasid_bind_data", size 88, align 8 {
        /// Size of the user's struct.
        argsz: u32, at 0 => Check::Argsz, since 0;
        /// `IOMMU_GPASID_BIND_VERSION_1`.
        version: u32, at 4 => Check::Version(1), since 0;
        /// `IOMMU_PASID_FORMAT_*`: selects the vendor member (G3: `< 3`).
        format: u32, at 8 => Check::Within { mask: 0xffff_ffff, below: 3 }, since 0;
        /// Guest address width.
        addr_width: u32, at 12 => Check::None, since 0;
        /// `IOMMU_SVA_GPASID_VAL`, G2: `IOMMU_SVA_GPASID_PASID_BITS`.
        flags: u64, at 16 => Check::Flags(0b11), since 0;
        /// Guest page directory base (GPA).
        gpgd: u64, at 24 => Check::None, since 0;
        /// Host PASID.
        hpasid: u64, at 32 => Check::None, since 0;
        /// Guest PASID, if `GPASID_VAL`.
        gpasid: u64, at 40 => Check::None, since 0;
        /// G2: the guest's PASID width, valid with `PASID_BITS`.
        pasid_bits: u32, at 48 => Check::None, since 1;
        /// Must be zero.
        padding: [u8; 4], at 52 => Check::Zero, since 0;
        /// The union `vendor { vtd; vendor2 }`.
        vendor: [u64; 4], at 56 => Check::Union, since 0;
    }
    layout |FIELDS| {
        sized: true, min_size: 56,
        default_policy: Policy::Linux510, union: Some(Union {
            name: "vendor", offset: 56, selector: FieldRef::named(FIELDS, "format"),
            variants: &[
                Variant { name: "vtd", value: 1, end: 72,
                          layout: Some(vsva_uapi::GpasidBindDataVtd::DECL), since: 0 },
                Variant { name: "vendor2", value: IOMMU_PASID_FORMAT_VENDOR2 as u64, end: 88,
                          layout: Some(GpasidBindDataVendor2::DECL), since: 2 },
            ],
            enforce_end: false,
        }),
        extensions: &[],
        rules: &[Rule::Requires { when: FieldRef::named(FIELDS, "pasid_bits"),
            field: FieldRef::named(FIELDS, "flags"), mask: IOMMU_SVA_GPASID_PASID_BITS }],
        generations: &BIND_G3_GENS,
        vendor: None,
    }
}

// ---------------------------------------------------------------------------------------
// iommu_pasid_table_config

const PTC_G2_GENS: [Generation; 2] = gens("v5.10", 32, 32);

uapi_struct! {
    /// G2 of `iommu_pasid_table_config`: `padding[2]` becomes `flags` (bit 0:
    /// `IOMMU_PASID_CONFIG_FLAGS_ASID_BITS`) and `asid_bits`. Same size as G1; a G1 kernel
    /// sees non-zero padding when the new field is used.
    pub struct PasidTableConfigG2 = "iommu_pasid_table_config", size 32, align 8 {
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
        /// G2: `IOMMU_PASID_CONFIG_FLAGS_ASID_BITS` (carved from `padding[0]`).
        flags: u8, at 22 => Check::Flags(IOMMU_PASID_CONFIG_FLAGS_ASID_BITS as u64), since 1;
        /// G2: the ASID width, valid with `ASID_BITS` (carved from `padding[1]`).
        asid_bits: u8, at 23 => Check::None, since 1;
        /// The union `vendor_data { smmuv3 }`.
        vendor_data: [u8; 8], at 24 => Check::Union, since 0;
    }
    layout |FIELDS| {
        sized: true, min_size: 24,
        default_policy: Policy::Linux510, union: Some(Union {
            name: "vendor_data", offset: 24, selector: FieldRef::named(FIELDS, "format"),
            variants: &[Variant { name: "smmuv3", value: 1, end: 32,
                                  layout: Some(vsva_uapi::PasidSmmuv3::DECL), since: 0 }],
            enforce_end: true,
        }),
        extensions: &[],
        rules: &[Rule::Requires { when: FieldRef::named(FIELDS, "asid_bits"),
            field: FieldRef::named(FIELDS, "flags"),
            mask: IOMMU_PASID_CONFIG_FLAGS_ASID_BITS as u64 }],
        generations: &PTC_G2_GENS,
        vendor: None,
    }
}

uapi_struct! {
    /// G3 vendor member `vendor_data.vendor2` of `iommu_pasid_table_config` (format 2,
    /// hypothetical): 16 bytes, twice the size of `vendor_data.smmuv3`.
    pub struct PasidVendor2 = "iommu_pasid_vendor2", size 16, align 8 {
        /// `PASID_TABLE_VENDOR2_CFG_VERSION_1`.
        version: u32, at 0 => Check::Version(1), since 0;
        /// The table mode.
        mode: u8, at 4 => Check::None, since 0;
        /// Must be zero.
        padding: [u8; 3], at 5 => Check::Zero, since 0;
        /// An extension table pointer.
        ext_ptr: u64, at 8 => Check::None, since 0;
    }
    layout |FIELDS| {
        sized: false, min_size: 16,
        default_policy: Policy::Linux510, union: None, extensions: &[],
        rules: &[], generations: &[Generation { name: "G3", size: 16 }], vendor: None,
    }
}

const PTC_G3_GENS: [Generation; 3] = [
    PTC_G2_GENS[0],
    PTC_G2_GENS[1],
    Generation {
        name: "G3",
        size: 40,
    },
];

uapi_struct! {
    /// G3 of `iommu_pasid_table_config`: G2 plus format 2 (`IOMMU_PASID_FORMAT_VENDOR2`)
    /// selecting the 16-byte `vendor2`; the union grows from 8 to 16 bytes and the struct
    /// from 32 to 40.
    pub struct PasidTableConfigG3 = "iommu_pasid_table_config", size 40, align 8 {
        /// Size of the user's struct.
        argsz: u32, at 0 => Check::Argsz, since 0;
        /// `PASID_TABLE_CFG_VERSION_1`.
        version: u32, at 4 => Check::Version(1), since 0;
        /// GPA of the guest CD table.
        base_ptr: u64, at 8 => Check::None, since 0;
        /// `IOMMU_PASID_FORMAT_SMMUV3` or (G3) `IOMMU_PASID_FORMAT_VENDOR2`.
        format: u32, at 16 => Check::OneOf(&[
            IOMMU_PASID_FORMAT_SMMUV3 as u64, IOMMU_PASID_FORMAT_VENDOR2 as u64,
        ]), since 0;
        /// Number of PASID bits.
        pasid_bits: u8, at 20 => Check::None, since 0;
        /// `IOMMU_PASID_CONFIG_{TRANSLATE, BYPASS, ABORT}`.
        config: u8, at 21 => Check::OneOf(&[1, 2, 3]), since 0;
        /// G2: `IOMMU_PASID_CONFIG_FLAGS_ASID_BITS`.
        flags: u8, at 22 => Check::Flags(IOMMU_PASID_CONFIG_FLAGS_ASID_BITS as u64), since 1;
        /// G2: the ASID width, valid with `ASID_BITS`.
        asid_bits: u8, at 23 => Check::None, since 1;
        /// The union `vendor_data { smmuv3; vendor2 }`.
        vendor_data: [u8; 16], at 24 => Check::Union, since 0;
    }
    layout |FIELDS| {
        sized: true, min_size: 24,
        default_policy: Policy::Linux510, union: Some(Union {
            name: "vendor_data", offset: 24, selector: FieldRef::named(FIELDS, "format"),
            variants: &[
                Variant { name: "smmuv3", value: 1, end: 32,
                          layout: Some(vsva_uapi::PasidSmmuv3::DECL), since: 0 },
                Variant { name: "vendor2", value: IOMMU_PASID_FORMAT_VENDOR2 as u64, end: 40,
                          layout: Some(PasidVendor2::DECL), since: 2 },
            ],
            enforce_end: true,
        }),
        extensions: &[],
        rules: &[Rule::Requires { when: FieldRef::named(FIELDS, "asid_bits"),
            field: FieldRef::named(FIELDS, "flags"),
            mask: IOMMU_PASID_CONFIG_FLAGS_ASID_BITS as u64 }],
        generations: &PTC_G3_GENS,
        vendor: None,
    }
}

// ---------------------------------------------------------------------------------------
// The families.

/// A header generation: G1 (today), G2 (padding repurposed), G3 (union member appended).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Gen {
    /// Today's header.
    G1,
    /// A future header that repurposes padding behind a new flag.
    G2,
    /// A future header that appends a larger union member (⊇ G2).
    G3,
}

impl Gen {
    /// Every generation, oldest first.
    pub const ALL: [Gen; 3] = [Gen::G1, Gen::G2, Gen::G3];

    /// The generation's index: into [`Family::headers`], and the `since` value of the
    /// fields and members it adds.
    pub const fn index(self) -> usize {
        match self {
            Gen::G1 => 0,
            Gen::G2 => 1,
            Gen::G3 => 2,
        }
    }

    /// `"G1"`, `"G2"`, `"G3"`.
    pub const fn name(self) -> &'static str {
        match self {
            Gen::G1 => "G1",
            Gen::G2 => "G2",
            Gen::G3 => "G3",
        }
    }
}

/// Which features a representative value uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Features {
    /// Only what G1 already had: every field a later generation adds is zero.
    Old,
    /// The generation's own new feature (G2: the repurposed field and its flag; G3: the new
    /// union member, with non-zero bytes past G1's size). G1 has none.
    New,
}

impl Features {
    /// Both choices, old first.
    pub const ALL: [Features; 2] = [Features::Old, Features::New];
}

/// One generation of one struct: declared, or impossible under the 2020 rules.
#[derive(Debug, Clone, Copy)]
pub enum Header {
    /// The generation exists.
    Declared {
        /// Its declaration.
        layout: &'static Layout,
        /// What this generation adds over the previous one (for the docs).
        adds: &'static str,
        /// Its own new feature, as a representative value uses it (empty for G1).
        feature: &'static str,
    },
    /// The 2020 rules allow no such generation for this struct.
    Impossible {
        /// The short reason (`"no padding"`, `"no union"`).
        reason: &'static str,
        /// Why, in a sentence.
        why: &'static str,
    },
}

/// One argsz struct across its header generations.
#[derive(Debug, Clone, Copy)]
pub struct Family {
    /// The kernel's struct name.
    pub name: &'static str,
    /// G1, G2, G3 (indexed by [`Gen::index`]). G1 is always declared.
    pub headers: [Header; 3],
    /// A representative value of a generation, as the user's struct bytes
    /// (`sizeof(Gu)` bytes, `argsz = sizeof(Gu)`), or `None` when there is no such value
    /// (G1 has no new feature; an impossible generation has no value at all).
    pub value: fn(Gen, Features) -> Option<Vec<u8>>,
}

impl Family {
    /// The header of generation `g`.
    pub fn header(&self, g: Gen) -> &Header {
        &self.headers[g.index()]
    }

    /// The declaration of generation `g`, if it is possible.
    pub fn layout(&self, g: Gen) -> Option<&'static Layout> {
        match self.header(g) {
            Header::Declared { layout, .. } => Some(layout),
            Header::Impossible { .. } => None,
        }
    }

    /// The generations that exist, oldest first.
    pub fn declared(&self) -> impl Iterator<Item = Gen> + '_ {
        Gen::ALL
            .into_iter()
            .filter(move |g| self.layout(*g).is_some())
    }
}

const NO_PADDING: Header = Header::Impossible {
    reason: "no padding",
    why: "every byte is a named field, so no field can be carved out of padding",
};
const NO_UNION: Header = Header::Impossible {
    reason: "no union",
    why: "no variable-size union ends the struct, so no member can be appended",
};

/// Every argsz struct of the 2020 API, in documentation order.
pub const FAMILIES: &[Family] = &[
    Family {
        name: "iommu_cache_invalidate_info",
        headers: [
            Header::Declared {
                layout: CacheInvalidateInfoG1::DECL,
                adds: "v5.10 layout",
                feature: "",
            },
            Header::Declared {
                layout: CacheInvalidateInfoG2::DECL,
                adds: "`padding[6]` → `flags: u16` @10 (bit 0 `ASID_VALID`) + `asid: u32` @12",
                feature: "`flags` = `ASID_VALID`, `asid` ≠ 0",
            },
            Header::Declared {
                layout: CacheInvalidateInfoG3::DECL,
                adds: "granularity 3 → `range_list` (56 B); `granu` 40 → 56 B",
                feature: "granularity 3, `range_list` (bytes 56..72 ≠ 0)",
            },
        ],
        value: cache_value,
    },
    Family {
        name: "iommu_gpasid_bind_data",
        headers: [
            Header::Declared {
                layout: GpasidBindDataG1::DECL,
                adds: "v5.10 layout",
                feature: "",
            },
            Header::Declared {
                layout: GpasidBindDataG2::DECL,
                adds: "`flags` bit 1 `PASID_BITS`; `padding[8]` → `pasid_bits: u32` @48 + \
                       `padding[4]` @52",
                feature: "`PASID_BITS` set in `flags`, `pasid_bits` ≠ 0",
            },
            Header::Declared {
                layout: GpasidBindDataG3::DECL,
                adds: "format 2 → `vendor2` (32 B); `vendor` 16 → 32 B",
                feature: "format 2, `vendor2` (bytes 72..88 ≠ 0)",
            },
        ],
        value: bind_value,
    },
    Family {
        name: "iommu_page_response",
        headers: [
            Header::Declared {
                layout: PageResponseG1::DECL,
                adds: "v5.10 layout",
                feature: "",
            },
            NO_PADDING,
            NO_UNION,
        ],
        value: page_response_value,
    },
    Family {
        name: "iommu_pasid_table_config",
        headers: [
            Header::Declared {
                layout: PasidTableConfigG1::DECL,
                adds: "Auger series layout",
                feature: "",
            },
            Header::Declared {
                layout: PasidTableConfigG2::DECL,
                adds: "`padding[2]` → `flags: u8` @22 (bit 0 `ASID_BITS`) + `asid_bits: u8` @23",
                feature: "`flags` = `ASID_BITS`, `asid_bits` ≠ 0",
            },
            Header::Declared {
                layout: PasidTableConfigG3::DECL,
                adds: "format 2 → `vendor2` (16 B); `vendor_data` 8 → 16 B",
                feature: "format 2, `vendor2` (bytes 32..40 ≠ 0)",
            },
        ],
        value: pasid_table_value,
    },
    Family {
        name: "vfio_iommu_type1_pasid_request",
        headers: [
            Header::Declared {
                layout: PasidRequestG1::DECL,
                adds: "2020 VFIO series (v7) layout",
                feature: "",
            },
            NO_PADDING,
            NO_UNION,
        ],
        value: pasid_request_value,
    },
];

/// The family of the struct the kernel calls `name`.
pub fn family(name: &str) -> Option<&'static Family> {
    FAMILIES.iter().find(|f| f.name == name)
}

// ---------------------------------------------------------------------------------------
// Representative values (test fixtures). Each builds the generation's own typed struct;
// nothing here decodes.

fn cache_g1() -> CacheInvalidateInfoG1 {
    CacheInvalidateInfoG1::new(
        CacheInvType::IOTLB | CacheInvType::DEV_IOTLB,
        Granu::Addr(InvAddrInfo {
            flags: 0b101, // PASID | LEAF
            archid: 0x11,
            pasid: 0x2a,
            addr: 0x7f12_3456_7000,
            granule_size: 4096,
            nb_granules: 16,
        }),
    )
}

fn cache_value(g: Gen, features: Features) -> Option<Vec<u8>> {
    let g1 = cache_g1();
    let new = features == Features::New;
    match g {
        Gen::G1 => (!new).then(|| g1.as_bytes().to_vec()),
        Gen::G2 => {
            let mut v = CacheInvalidateInfoG2 {
                argsz: 56,
                version: g1.version,
                cache: g1.cache,
                granularity: g1.granularity,
                flags: 0,
                asid: 0,
                granu: g1.granu,
            };
            if new {
                v.flags = IOMMU_CACHE_INV_FLAGS_ASID_VALID;
                v.asid = 0x5a5a;
            }
            Some(v.as_bytes().to_vec())
        }
        Gen::G3 => {
            let mut v = CacheInvalidateInfoG3::new_zeroed();
            v.argsz = 72;
            v.version = g1.version;
            v.cache = g1.cache;
            if new {
                v.granularity = IOMMU_INV_GRANU_RANGE_LIST;
                let ranges = InvRangeListInfo {
                    flags: 0b101,
                    archid: 0x11,
                    pasid: 0x2a,
                    granule_size: 4096,
                    addr0: 0x7f12_3456_7000,
                    nb_granules0: 16,
                    addr1: 0x7f12_9abc_d000,
                    nb_granules1: 8,
                };
                v.granu.as_mut_bytes().copy_from_slice(ranges.as_bytes());
            } else {
                v.granularity = g1.granularity;
                v.granu[..5].copy_from_slice(&g1.granu);
            }
            Some(v.as_bytes().to_vec())
        }
    }
}

fn bind_g1() -> GpasidBindDataG1 {
    let mut v = GpasidBindDataG1::new_zeroed();
    v.argsz = 72;
    v.version = 1;
    v.addr_width = 48;
    v.flags = GpasidBindFlags::GPASID_VAL.bits();
    v.gpgd = 0x1_2345_6000;
    v.hpasid = 0x100;
    v.gpasid = 0x42;
    v.set_vtd(vsva_uapi::GpasidBindDataVtd {
        flags: VtdGpasidFlags::SRE.bits(),
        pat: 0x0007_0406,
        emt: 6,
    });
    v
}

fn bind_value(g: Gen, features: Features) -> Option<Vec<u8>> {
    let g1 = bind_g1();
    let new = features == Features::New;
    match g {
        Gen::G1 => (!new).then(|| g1.as_bytes().to_vec()),
        Gen::G2 => {
            let mut v = GpasidBindDataG2 {
                argsz: 72,
                version: g1.version,
                format: g1.format,
                addr_width: g1.addr_width,
                flags: g1.flags,
                gpgd: g1.gpgd,
                hpasid: g1.hpasid,
                gpasid: g1.gpasid,
                pasid_bits: 0,
                padding: [0; 4],
                vendor: g1.vendor,
            };
            if new {
                v.flags |= IOMMU_SVA_GPASID_PASID_BITS;
                v.pasid_bits = 20;
            }
            Some(v.as_bytes().to_vec())
        }
        Gen::G3 => {
            let mut v = GpasidBindDataG3 {
                argsz: 88,
                version: g1.version,
                format: g1.format,
                addr_width: g1.addr_width,
                flags: g1.flags,
                gpgd: g1.gpgd,
                hpasid: g1.hpasid,
                gpasid: g1.gpasid,
                pasid_bits: 0,
                padding: [0; 4],
                vendor: [g1.vendor[0], g1.vendor[1], 0, 0],
            };
            if new {
                v.format = IOMMU_PASID_FORMAT_VENDOR2;
                let data = GpasidBindDataVendor2 {
                    flags: 1,
                    pgtbl_root: 0x2_0000_0000,
                    ext_ptr: 0x3_0000_0000,
                    domain_id: 7,
                    levels: 4,
                };
                v.vendor.as_mut_bytes().copy_from_slice(data.as_bytes());
            }
            Some(v.as_bytes().to_vec())
        }
    }
}

fn pasid_table_g1() -> PasidTableConfigG1 {
    let mut v = PasidTableConfigG1::new_zeroed();
    v.argsz = 32;
    v.version = 1;
    v.base_ptr = 0x8000_0000;
    v.pasid_bits = 16;
    v.config = 1; // TRANSLATE
    v.set_smmuv3(vsva_uapi::PasidSmmuv3 {
        version: 1,
        s1fmt: 1,
        s1dss: 2,
        padding: [0; 2],
    });
    v
}

fn pasid_table_value(g: Gen, features: Features) -> Option<Vec<u8>> {
    let g1 = pasid_table_g1();
    let new = features == Features::New;
    match g {
        Gen::G1 => (!new).then(|| g1.as_bytes().to_vec()),
        Gen::G2 => {
            let mut v = PasidTableConfigG2 {
                argsz: 32,
                version: g1.version,
                base_ptr: g1.base_ptr,
                format: g1.format,
                pasid_bits: g1.pasid_bits,
                config: g1.config,
                flags: 0,
                asid_bits: 0,
                vendor_data: g1.vendor_data,
            };
            if new {
                v.flags = IOMMU_PASID_CONFIG_FLAGS_ASID_BITS;
                v.asid_bits = 16;
            }
            Some(v.as_bytes().to_vec())
        }
        Gen::G3 => {
            let mut v = PasidTableConfigG3 {
                argsz: 40,
                version: g1.version,
                base_ptr: g1.base_ptr,
                format: g1.format,
                pasid_bits: g1.pasid_bits,
                config: g1.config,
                flags: 0,
                asid_bits: 0,
                vendor_data: [0; 16],
            };
            if new {
                v.format = IOMMU_PASID_FORMAT_VENDOR2;
                let data = PasidVendor2 {
                    version: 1,
                    mode: 3,
                    padding: [0; 3],
                    ext_ptr: 0x9000_0000,
                };
                v.vendor_data.copy_from_slice(data.as_bytes());
            } else {
                v.vendor_data[..8].copy_from_slice(&g1.vendor_data);
            }
            Some(v.as_bytes().to_vec())
        }
    }
}

fn page_response_value(g: Gen, features: Features) -> Option<Vec<u8>> {
    let v = PageResponseG1 {
        argsz: 24,
        version: 1,
        flags: 1, // PASID_VALID
        pasid: 5,
        grpid: 3,
        code: 2, // FAILURE
    };
    (g == Gen::G1 && features == Features::Old).then(|| v.as_bytes().to_vec())
}

fn pasid_request_value(g: Gen, features: Features) -> Option<Vec<u8>> {
    let v = PasidRequestG1::alloc(1, 100);
    (g == Gen::G1 && features == Features::Old).then(|| v.as_bytes().to_vec())
}
