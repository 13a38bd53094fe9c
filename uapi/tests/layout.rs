//! Layout of every declared struct against the reference tables, typed in by hand from
//! `reference/uapi.md` §1.3 / §1.4 (iommu.h and its out-of-tree members), §4 (VFIO
//! nesting envelope), §5 (iommufd, VFIO cdev). The numbers below are literals from the
//! reference, never read back from the declarations.
//!
//! Field offsets against the Rust types are already asserted at compile time by
//! `uapi_struct!`; here the *declared* table (sizes, minimum sizes, union member ends,
//! extension ends, generations, default policies) is pinned to the reference.

mod common;

use vsva_uapi::{
    argsz_structs, layout_named, Check, Layout, Policy, UapiStruct, Vendor, ALL_STRUCTS,
    MAX_STRUCT_SIZE,
};

/// One struct as the reference describes it.
struct Ref {
    name: &'static str,
    size: usize,
    align: usize,
    /// Starts with a `u32 argsz` / `size`.
    sized: bool,
    /// `minsz` / `min_size` (the first-release fields; the union's offset).
    min: usize,
    /// Every field: (name, offset, size).
    fields: &'static [(&'static str, usize, usize)],
    /// Union members: (discriminator value, offsetofend of the member).
    variants: &'static [(u64, usize)],
    /// Flag-selected extensions: (bit, offsetofend of the field it validates).
    exts: &'static [(u64, usize)],
    /// `sizeof` per header generation, oldest first.
    generations: &'static [usize],
    /// The kernel path's size policy (reference §7).
    policy: Policy,
}

const L510: Policy = Policy::Linux510;
const ZT: Policy = Policy::ZeroTail;
const FX: Policy = Policy::FlagsXend;

/// The reference, struct by struct (the 2020 UAPI and iommufd from `reference/uapi.md`,
/// the IOAS and bind structs from `reference/iommufd-7x.md`, VFIO's own from `vfio.h`).
const REFERENCE: &[Ref] = &[
    // §1.3: v5.10 size 56, minsz = offsetof(granu) = 16, offsetofend(pasid_info) = 32,
    // offsetofend(addr_info) = 56; DOMAIN needs only the 16-byte header.
    Ref {
        name: "iommu_cache_invalidate_info",
        size: 56,
        align: 8,
        sized: true,
        min: 16,
        fields: &[
            ("argsz", 0, 4),
            ("version", 4, 4),
            ("cache", 8, 1),
            ("granularity", 9, 1),
            ("padding", 10, 6),
            ("granu", 16, 40),
        ],
        variants: &[(0, 16), (1, 32), (2, 56)],
        exts: &[],
        generations: &[56],
        policy: L510,
    },
    // §1.3: size 72, minsz = offsetof(vendor) = 56, offsetofend(vendor.vtd) = 72.
    Ref {
        name: "iommu_gpasid_bind_data",
        size: 72,
        align: 8,
        sized: true,
        min: 56,
        fields: &[
            ("argsz", 0, 4),
            ("version", 4, 4),
            ("format", 8, 4),
            ("addr_width", 12, 4),
            ("flags", 16, 8),
            ("gpgd", 24, 8),
            ("hpasid", 32, 8),
            ("gpasid", 40, 8),
            ("padding", 48, 8),
            ("vendor", 56, 16),
        ],
        variants: &[(1, 72)],
        exts: &[],
        generations: &[72],
        policy: L510,
    },
    // §1.3: v5.10 size 24.
    Ref {
        name: "iommu_page_response",
        size: 24,
        align: 4,
        sized: true,
        min: 24,
        fields: &[
            ("argsz", 0, 4),
            ("version", 4, 4),
            ("flags", 8, 4),
            ("pasid", 12, 4),
            ("grpid", 16, 4),
            ("code", 20, 4),
        ],
        variants: &[],
        exts: &[],
        generations: &[24],
        policy: L510,
    },
    // §1.4: Auger final layout, 32 bytes, smmuv3 member at 24.
    Ref {
        name: "iommu_pasid_table_config",
        size: 32,
        align: 8,
        sized: true,
        min: 24,
        fields: &[
            ("argsz", 0, 4),
            ("version", 4, 4),
            ("base_ptr", 8, 8),
            ("format", 16, 4),
            ("pasid_bits", 20, 1),
            ("config", 21, 1),
            ("padding", 22, 2),
            ("vendor_data", 24, 8),
        ],
        variants: &[(1, 32)],
        exts: &[],
        generations: &[32],
        policy: L510,
    },
    // §1.4: late Liu layout, 64 bytes, vendor.vtd at 32.
    Ref {
        name: "iommu_nesting_info",
        size: 64,
        align: 8,
        sized: true,
        min: 32,
        fields: &[
            ("argsz", 0, 4),
            ("flags", 4, 4),
            ("format", 8, 4),
            ("features", 12, 4),
            ("addr_width", 16, 2),
            ("pasid_bits", 18, 2),
            ("padding", 20, 12),
            ("vendor", 32, 32),
        ],
        variants: &[(1, 64)],
        exts: &[],
        generations: &[64],
        policy: L510,
    },
    // §4 v3–v7: {argsz; flags; range {min; max}}, size 16, minsz = offsetofend(range).
    Ref {
        name: "vfio_iommu_type1_pasid_request",
        size: 16,
        align: 4,
        sized: true,
        min: 16,
        fields: &[
            ("argsz", 0, 4),
            ("flags", 4, 4),
            ("min", 8, 4),
            ("max", 12, 4),
        ],
        variants: &[],
        exts: &[],
        generations: &[16],
        policy: L510,
    },
    // §4: header {argsz; flags} 8 bytes, minsz = offsetofend(flags) = 8.
    Ref {
        name: "vfio_iommu_type1_nesting_op",
        size: 8,
        align: 4,
        sized: true,
        min: 8,
        fields: &[("argsz", 0, 4), ("flags", 4, 4)],
        variants: &[],
        exts: &[],
        generations: &[8],
        policy: L510,
    },
    // §5.1: size 40, min_size = offsetofend(__reserved) = 32 (§6). The C union
    // in_data_type / out_data_type at 24 is declared as `data_type`.
    Ref {
        name: "iommu_hw_info",
        size: 40,
        align: 8,
        sized: true,
        min: 32,
        fields: &[
            ("size", 0, 4),
            ("flags", 4, 4),
            ("dev_id", 8, 4),
            ("data_len", 12, 4),
            ("data_uptr", 16, 8),
            ("data_type", 24, 4),
            ("out_max_pasid_log2", 28, 1),
            ("__reserved", 29, 3),
            ("out_capabilities", 32, 8),
        ],
        variants: &[],
        // IOMMU_HW_INFO_FLAG_INPUT_TYPE validates in_data_type (offsetofend = 28).
        exts: &[(1, 28)],
        // 6.6, 6.7 (out_capabilities), 6.12 (out_max_pasid_log2: 6.15, backported to
        // 6.12.32), 6.17 (INPUT_TYPE).
        generations: &[32, 40, 40, 40],
        policy: ZT,
    },
    // §5.2: size 48 (24 in v6.6, 40 in v6.7), min_size 24.
    Ref {
        name: "iommu_hwpt_alloc",
        size: 48,
        align: 8,
        sized: true,
        min: 24,
        fields: &[
            ("size", 0, 4),
            ("flags", 4, 4),
            ("dev_id", 8, 4),
            ("pt_id", 12, 4),
            ("out_hwpt_id", 16, 4),
            ("__reserved", 20, 4),
            ("data_type", 24, 4),
            ("data_len", 28, 4),
            ("data_uptr", 32, 8),
            ("fault_id", 40, 4),
            ("__reserved2", 44, 4),
        ],
        variants: &[],
        // IOMMU_HWPT_FAULT_ID_VALID (1<<2) validates fault_id (offsetofend = 44).
        exts: &[(1 << 2, 44)],
        generations: &[24, 40, 48],
        policy: ZT,
    },
    // §5.3: size 32, min_size 32.
    Ref {
        name: "iommu_hwpt_invalidate",
        size: 32,
        align: 8,
        sized: true,
        min: 32,
        fields: &[
            ("size", 0, 4),
            ("hwpt_id", 4, 4),
            ("data_uptr", 8, 8),
            ("data_type", 16, 4),
            ("entry_len", 20, 4),
            ("entry_num", 24, 4),
            ("__reserved", 28, 4),
        ],
        variants: &[],
        exts: &[],
        generations: &[32],
        policy: ZT,
    },
    // §5.4: size 16.
    Ref {
        name: "iommu_fault_alloc",
        size: 16,
        align: 4,
        sized: true,
        min: 16,
        fields: &[
            ("size", 0, 4),
            ("flags", 4, 4),
            ("out_fault_id", 8, 4),
            ("out_fault_fd", 12, 4),
        ],
        variants: &[],
        exts: &[],
        generations: &[16],
        policy: ZT,
    },
    // §5.5: size 16, minsz = offsetofend(pt_id) = 12, PASID flag → xend 16.
    Ref {
        name: "vfio_device_attach_iommufd_pt",
        size: 16,
        align: 4,
        sized: true,
        min: 12,
        fields: &[
            ("argsz", 0, 4),
            ("flags", 4, 4),
            ("pt_id", 8, 4),
            ("pasid", 12, 4),
        ],
        variants: &[],
        exts: &[(1, 16)],
        generations: &[12, 16],
        policy: FX,
    },
    // §5.5: {argsz; flags; pasid}, size 12; before PASID support {argsz, flags} (8).
    Ref {
        name: "vfio_device_detach_iommufd_pt",
        size: 12,
        align: 4,
        sized: true,
        min: 8,
        fields: &[("argsz", 0, 4), ("flags", 4, 4), ("pasid", 8, 4)],
        variants: &[],
        exts: &[(1, 12)],
        generations: &[8, 12],
        policy: FX,
    },
    // §1.3: 64 bytes; union at 8 of event (32) / prm (40) / padding2[56].
    Ref {
        name: "iommu_fault",
        size: 64,
        align: 8,
        sized: false,
        min: 8,
        fields: &[("type", 0, 4), ("padding", 4, 4), ("data", 8, 56)],
        variants: &[(1, 8 + 32), (2, 8 + 40)],
        exts: &[],
        generations: &[64],
        policy: L510,
    },
    Ref {
        name: "iommu_fault_unrecoverable",
        size: 32,
        align: 8,
        sized: false,
        min: 32,
        fields: &[
            ("reason", 0, 4),
            ("flags", 4, 4),
            ("pasid", 8, 4),
            ("perm", 12, 4),
            ("addr", 16, 8),
            ("fetch_addr", 24, 8),
        ],
        variants: &[],
        exts: &[],
        generations: &[32],
        policy: L510,
    },
    Ref {
        name: "iommu_fault_page_request",
        size: 40,
        align: 8,
        sized: false,
        min: 40,
        fields: &[
            ("flags", 0, 4),
            ("pasid", 4, 4),
            ("grpid", 8, 4),
            ("perm", 12, 4),
            ("addr", 16, 8),
            ("private_data", 24, 16),
        ],
        variants: &[],
        exts: &[],
        generations: &[40],
        policy: L510,
    },
    Ref {
        name: "iommu_inv_addr_info",
        size: 40,
        align: 8,
        sized: false,
        min: 40,
        fields: &[
            ("flags", 0, 4),
            ("archid", 4, 4),
            ("pasid", 8, 8),
            ("addr", 16, 8),
            ("granule_size", 24, 8),
            ("nb_granules", 32, 8),
        ],
        variants: &[],
        exts: &[],
        generations: &[40],
        policy: L510,
    },
    Ref {
        name: "iommu_inv_pasid_info",
        size: 16,
        align: 8,
        sized: false,
        min: 16,
        fields: &[("flags", 0, 4), ("archid", 4, 4), ("pasid", 8, 8)],
        variants: &[],
        exts: &[],
        generations: &[16],
        policy: L510,
    },
    Ref {
        name: "iommu_gpasid_bind_data_vtd",
        size: 16,
        align: 8,
        sized: false,
        min: 16,
        fields: &[("flags", 0, 8), ("pat", 8, 4), ("emt", 12, 4)],
        variants: &[],
        exts: &[],
        generations: &[16],
        policy: L510,
    },
    Ref {
        name: "iommu_pasid_smmuv3",
        size: 8,
        align: 4,
        sized: false,
        min: 8,
        fields: &[
            ("version", 0, 4),
            ("s1fmt", 4, 1),
            ("s1dss", 5, 1),
            ("padding", 6, 2),
        ],
        variants: &[],
        exts: &[],
        generations: &[8],
        policy: L510,
    },
    Ref {
        name: "iommu_nesting_info_vtd",
        size: 32,
        align: 8,
        sized: false,
        min: 32,
        fields: &[
            ("flags", 0, 4),
            ("padding", 4, 12),
            ("cap_reg", 16, 8),
            ("ecap_reg", 24, 8),
        ],
        variants: &[],
        exts: &[],
        generations: &[32],
        policy: L510,
    },
    Ref {
        name: "iommu_hw_info_vtd",
        size: 24,
        align: 8,
        sized: false,
        min: 24,
        fields: &[
            ("flags", 0, 4),
            ("__reserved", 4, 4),
            ("cap_reg", 8, 8),
            ("ecap_reg", 16, 8),
        ],
        variants: &[],
        exts: &[],
        generations: &[24],
        policy: ZT,
    },
    Ref {
        name: "iommu_hw_info_arm_smmuv3",
        size: 40,
        align: 4,
        sized: false,
        min: 40,
        fields: &[
            ("flags", 0, 4),
            ("__reserved", 4, 4),
            ("idr", 8, 24),
            ("iidr", 32, 4),
            ("aidr", 36, 4),
        ],
        variants: &[],
        exts: &[],
        generations: &[40],
        policy: ZT,
    },
    Ref {
        name: "iommu_hwpt_vtd_s1",
        size: 24,
        align: 8,
        sized: false,
        min: 24,
        fields: &[
            ("flags", 0, 8),
            ("pgtbl_addr", 8, 8),
            ("addr_width", 16, 4),
            ("__reserved", 20, 4),
        ],
        variants: &[],
        exts: &[],
        generations: &[24],
        policy: ZT,
    },
    Ref {
        name: "iommu_hwpt_vtd_s1_invalidate",
        size: 24,
        align: 8,
        sized: false,
        min: 24,
        fields: &[
            ("addr", 0, 8),
            ("npages", 8, 8),
            ("flags", 16, 4),
            ("__reserved", 20, 4),
        ],
        variants: &[],
        exts: &[],
        generations: &[24],
        policy: ZT,
    },
    Ref {
        name: "iommu_hwpt_pgfault",
        size: 40,
        align: 8,
        sized: false,
        min: 40,
        fields: &[
            ("flags", 0, 4),
            ("dev_id", 4, 4),
            ("pasid", 8, 4),
            ("grpid", 12, 4),
            ("perm", 16, 4),
            ("__reserved", 20, 4),
            ("addr", 24, 8),
            ("length", 32, 4),
            ("cookie", 36, 4),
        ],
        variants: &[],
        exts: &[],
        generations: &[40],
        policy: ZT,
    },
    Ref {
        name: "iommu_hwpt_page_response",
        size: 8,
        align: 4,
        sized: false,
        min: 8,
        fields: &[("cookie", 0, 4), ("code", 4, 4)],
        variants: &[],
        exts: &[],
        generations: &[8],
        policy: ZT,
    },
    // iommufd-7x.md §2.1: size @0, id @4; 8 B.
    Ref {
        name: "iommu_destroy",
        size: 8,
        align: 4,
        sized: true,
        min: 8,
        fields: &[("size", 0, 4), ("id", 4, 4)],
        variants: &[],
        exts: &[],
        generations: &[8],
        policy: ZT,
    },
    // §2.2: 12 B, min_size 12 (out_ioas_id).
    Ref {
        name: "iommu_ioas_alloc",
        size: 12,
        align: 4,
        sized: true,
        min: 12,
        fields: &[("size", 0, 4), ("flags", 4, 4), ("out_ioas_id", 8, 4)],
        variants: &[],
        exts: &[],
        generations: &[12],
        policy: ZT,
    },
    // §2.5: 40 B.
    Ref {
        name: "iommu_ioas_map",
        size: 40,
        align: 8,
        sized: true,
        min: 40,
        fields: &[
            ("size", 0, 4),
            ("flags", 4, 4),
            ("ioas_id", 8, 4),
            ("__reserved", 12, 4),
            ("user_va", 16, 8),
            ("length", 24, 8),
            ("iova", 32, 8),
        ],
        variants: &[],
        exts: &[],
        generations: &[40],
        policy: ZT,
    },
    // §1.5: 24 B, min_size 24 (length).
    Ref {
        name: "iommu_ioas_unmap",
        size: 24,
        align: 8,
        sized: true,
        min: 24,
        fields: &[
            ("size", 0, 4),
            ("ioas_id", 4, 4),
            ("iova", 8, 8),
            ("length", 16, 8),
        ],
        variants: &[],
        exts: &[],
        generations: &[24],
        policy: ZT,
    },
    // §2.3: 32 B.
    Ref {
        name: "iommu_ioas_iova_ranges",
        size: 32,
        align: 8,
        sized: true,
        min: 32,
        fields: &[
            ("size", 0, 4),
            ("ioas_id", 4, 4),
            ("num_iovas", 8, 4),
            ("__reserved", 12, 4),
            ("allowed_iovas", 16, 8),
            ("out_iova_alignment", 24, 8),
        ],
        variants: &[],
        exts: &[],
        generations: &[32],
        policy: ZT,
    },
    // §4.1: 24 B (16 B before the VF token); BIND_FLAG_TOKEN unlocks token_uuid_ptr.
    Ref {
        name: "vfio_device_bind_iommufd",
        size: 24,
        align: 8,
        sized: true,
        min: 16,
        fields: &[
            ("argsz", 0, 4),
            ("flags", 4, 4),
            ("iommufd", 8, 4),
            ("out_devid", 12, 4),
            ("token_uuid_ptr", 16, 8),
        ],
        variants: &[],
        exts: &[(1, 24)],
        generations: &[16, 24],
        policy: FX,
    },
    // vfio.h: argsz, flags.
    Ref {
        name: "vfio_group_status",
        size: 8,
        align: 4,
        sized: true,
        min: 8,
        fields: &[("argsz", 0, 4), ("flags", 4, 4)],
        variants: &[],
        exts: &[],
        generations: &[8],
        policy: FX,
    },
    // vfio.h: minsz offsetofend(num_irqs) = 16; VFIO_DEVICE_FLAGS_CAPS (1 << 7) → cap_offset.
    Ref {
        name: "vfio_device_info",
        size: 24,
        align: 4,
        sized: true,
        min: 16,
        fields: &[
            ("argsz", 0, 4),
            ("flags", 4, 4),
            ("num_regions", 8, 4),
            ("num_irqs", 12, 4),
            ("cap_offset", 16, 4),
            ("pad", 20, 4),
        ],
        variants: &[],
        exts: &[(1 << 7, 20)],
        generations: &[16, 24],
        policy: FX,
    },
    // vfio.h: cap_offset was resv; VFIO_REGION_INFO_FLAG_CAPS (1 << 3).
    Ref {
        name: "vfio_region_info",
        size: 32,
        align: 8,
        sized: true,
        min: 32,
        fields: &[
            ("argsz", 0, 4),
            ("flags", 4, 4),
            ("index", 8, 4),
            ("cap_offset", 12, 4),
            ("size", 16, 8),
            ("offset", 24, 8),
        ],
        variants: &[],
        exts: &[(1 << 3, 16)],
        generations: &[32],
        policy: FX,
    },
    // vfio.h: 16 B.
    Ref {
        name: "vfio_irq_info",
        size: 16,
        align: 4,
        sized: true,
        min: 16,
        fields: &[
            ("argsz", 0, 4),
            ("flags", 4, 4),
            ("index", 8, 4),
            ("count", 12, 4),
        ],
        variants: &[],
        exts: &[],
        generations: &[16],
        policy: FX,
    },
    // vfio.h: minsz offsetofend(iova_pgsizes) = 16; VFIO_IOMMU_INFO_CAPS (1 << 1).
    Ref {
        name: "vfio_iommu_type1_info",
        size: 24,
        align: 8,
        sized: true,
        min: 16,
        fields: &[
            ("argsz", 0, 4),
            ("flags", 4, 4),
            ("iova_pgsizes", 8, 8),
            ("cap_offset", 16, 4),
            ("pad", 20, 4),
        ],
        variants: &[],
        exts: &[(1 << 1, 20)],
        generations: &[16, 24],
        policy: FX,
    },
    // vfio.h: flags READ, WRITE, VADDR; no extension.
    Ref {
        name: "vfio_iommu_type1_dma_map",
        size: 32,
        align: 8,
        sized: true,
        min: 32,
        fields: &[
            ("argsz", 0, 4),
            ("flags", 4, 4),
            ("vaddr", 8, 8),
            ("iova", 16, 8),
            ("size", 24, 8),
        ],
        variants: &[],
        exts: &[],
        generations: &[32],
        policy: FX,
    },
    // vfio.h: 24 B before the flexible data[].
    Ref {
        name: "vfio_iommu_type1_dma_unmap",
        size: 24,
        align: 8,
        sized: true,
        min: 24,
        fields: &[
            ("argsz", 0, 4),
            ("flags", 4, 4),
            ("iova", 8, 8),
            ("size", 16, 8),
        ],
        variants: &[],
        exts: &[],
        generations: &[24],
        policy: FX,
    },
    // §2.3: start @0, last @8, 16 B each.
    Ref {
        name: "iommu_iova_range",
        size: 16,
        align: 8,
        sized: false,
        min: 16,
        fields: &[("start", 0, 8), ("last", 8, 8)],
        variants: &[],
        exts: &[],
        generations: &[16],
        policy: ZT,
    },
    // vfio.h: id u16, version u16, next u32.
    Ref {
        name: "vfio_info_cap_header",
        size: 8,
        align: 4,
        sized: false,
        min: 8,
        fields: &[("id", 0, 2), ("version", 2, 2), ("next", 4, 4)],
        variants: &[],
        exts: &[],
        generations: &[8],
        policy: FX,
    },
    // vfio.h: header, nr_iovas, reserved (then the flexible ranges).
    Ref {
        name: "vfio_iommu_type1_info_cap_iova_range",
        size: 16,
        align: 4,
        sized: false,
        min: 16,
        fields: &[
            ("id", 0, 2),
            ("version", 2, 2),
            ("next", 4, 4),
            ("nr_iovas", 8, 4),
            ("reserved", 12, 4),
        ],
        variants: &[],
        exts: &[],
        generations: &[16],
        policy: FX,
    },
    // vfio.h: start, end (inclusive).
    Ref {
        name: "vfio_iova_range",
        size: 16,
        align: 8,
        sized: false,
        min: 16,
        fields: &[("start", 0, 8), ("end", 8, 8)],
        variants: &[],
        exts: &[],
        generations: &[16],
        policy: FX,
    },
    // vfio.h: header, flags, (padding), pgsize_bitmap, max_dirty_bitmap_size.
    Ref {
        name: "vfio_iommu_type1_info_cap_migration",
        size: 32,
        align: 8,
        sized: false,
        min: 32,
        fields: &[
            ("id", 0, 2),
            ("version", 2, 2),
            ("next", 4, 4),
            ("flags", 8, 4),
            ("__pad", 12, 4),
            ("pgsize_bitmap", 16, 8),
            ("max_dirty_bitmap_size", 24, 8),
        ],
        variants: &[],
        exts: &[],
        generations: &[32],
        policy: FX,
    },
    // vfio.h: header, avail.
    Ref {
        name: "vfio_iommu_type1_info_dma_avail",
        size: 12,
        align: 4,
        sized: false,
        min: 12,
        fields: &[
            ("id", 0, 2),
            ("version", 2, 2),
            ("next", 4, 4),
            ("avail", 8, 4),
        ],
        variants: &[],
        exts: &[],
        generations: &[12],
        policy: FX,
    },
    // iommufd-7x.md §2.15: size @0, flags @4 (ENABLE=1), hwpt_id @8, __reserved @12; 16 B.
    Ref {
        name: "iommu_hwpt_set_dirty_tracking",
        size: 16,
        align: 4,
        sized: true,
        min: 16,
        fields: &[
            ("size", 0, 4),
            ("flags", 4, 4),
            ("hwpt_id", 8, 4),
            ("__reserved", 12, 4),
        ],
        variants: &[],
        exts: &[],
        generations: &[16],
        policy: ZT,
    },
    // iommufd-7x.md §2.16: size, hwpt_id, flags (NO_CLEAR=1), __reserved, iova, length, page_size, data; 48 B.
    Ref {
        name: "iommu_hwpt_get_dirty_bitmap",
        size: 48,
        align: 8,
        sized: true,
        min: 48,
        fields: &[
            ("size", 0, 4),
            ("hwpt_id", 4, 4),
            ("flags", 8, 4),
            ("__reserved", 12, 4),
            ("iova", 16, 8),
            ("length", 24, 8),
            ("page_size", 32, 8),
            ("data", 40, 8),
        ],
        variants: &[],
        exts: &[],
        generations: &[48],
        policy: ZT,
    },
    // iommufd-7x.md §2.19: 24 B in 6.13, data_len/__reserved/data_uptr in 6.17 (40 B).
    Ref {
        name: "iommu_viommu_alloc",
        size: 40,
        align: 8,
        sized: true,
        min: 24,
        fields: &[
            ("size", 0, 4),
            ("flags", 4, 4),
            ("type", 8, 4),
            ("dev_id", 12, 4),
            ("hwpt_id", 16, 4),
            ("out_viommu_id", 20, 4),
            ("data_len", 24, 4),
            ("__reserved", 28, 4),
            ("data_uptr", 32, 8),
        ],
        variants: &[],
        exts: &[],
        generations: &[24, 40],
        policy: ZT,
    },
    // iommufd-7x.md §2.20: 24 B, virt_id u64 @16.
    Ref {
        name: "iommu_vdevice_alloc",
        size: 24,
        align: 8,
        sized: true,
        min: 24,
        fields: &[
            ("size", 0, 4),
            ("viommu_id", 4, 4),
            ("dev_id", 8, 4),
            ("out_vdevice_id", 12, 4),
            ("virt_id", 16, 8),
        ],
        variants: &[],
        exts: &[],
        generations: &[24],
        policy: ZT,
    },
    // iommufd-7x.md §2.21: 32 B, min 28 (out_veventq_fd).
    Ref {
        name: "iommu_veventq_alloc",
        size: 32,
        align: 4,
        sized: true,
        min: 28,
        fields: &[
            ("size", 0, 4),
            ("flags", 4, 4),
            ("viommu_id", 8, 4),
            ("type", 12, 4),
            ("veventq_depth", 16, 4),
            ("out_veventq_id", 20, 4),
            ("out_veventq_fd", 24, 4),
            ("__reserved", 28, 4),
        ],
        variants: &[],
        exts: &[],
        generations: &[32],
        policy: ZT,
    },
    // iommufd-7x.md §2.22: 40 B.
    Ref {
        name: "iommu_hw_queue_alloc",
        size: 40,
        align: 8,
        sized: true,
        min: 40,
        fields: &[
            ("size", 0, 4),
            ("flags", 4, 4),
            ("viommu_id", 8, 4),
            ("type", 12, 4),
            ("index", 16, 4),
            ("out_hw_queue_id", 20, 4),
            ("nesting_parent_iova", 24, 8),
            ("length", 32, 8),
        ],
        variants: &[],
        exts: &[],
        generations: &[40],
        policy: ZT,
    },
    // iommufd-7x.md §2.21: the vEVENTQ record header, flags u32 @0 (LOST_EVENTS=1), sequence u32 @4.
    Ref {
        name: "iommufd_vevent_header",
        size: 8,
        align: 4,
        sized: false,
        min: 8,
        fields: &[("flags", 0, 4), ("sequence", 4, 4)],
        variants: &[],
        exts: &[],
        generations: &[8],
        policy: ZT,
    },
    // iommufd-7x.md §2: iommu_ioas_allow_iovas, 24 B.
    Ref {
        name: "iommu_ioas_allow_iovas",
        size: 24,
        align: 8,
        sized: true,
        min: 24,
        fields: &[
            ("size", 0, 4),
            ("ioas_id", 4, 4),
            ("num_iovas", 8, 4),
            ("__reserved", 12, 4),
            ("allowed_iovas", 16, 8),
        ],
        variants: &[],
        exts: &[],
        generations: &[24],
        policy: ZT,
    },
    // iommufd-7x.md §2: iommu_ioas_copy, 40 B.
    Ref {
        name: "iommu_ioas_copy",
        size: 40,
        align: 8,
        sized: true,
        min: 40,
        fields: &[
            ("size", 0, 4),
            ("flags", 4, 4),
            ("dst_ioas_id", 8, 4),
            ("src_ioas_id", 12, 4),
            ("length", 16, 8),
            ("dst_iova", 24, 8),
            ("src_iova", 32, 8),
        ],
        variants: &[],
        exts: &[],
        generations: &[40],
        policy: ZT,
    },
    // iommufd-7x.md §2: iommu_option, 24 B.
    Ref {
        name: "iommu_option",
        size: 24,
        align: 8,
        sized: true,
        min: 24,
        fields: &[
            ("size", 0, 4),
            ("option_id", 4, 4),
            ("op", 8, 2),
            ("__reserved", 10, 2),
            ("object_id", 12, 4),
            ("val64", 16, 8),
        ],
        variants: &[],
        exts: &[],
        generations: &[24],
        policy: ZT,
    },
    // iommufd-7x.md §2: iommu_vfio_ioas, 12 B.
    Ref {
        name: "iommu_vfio_ioas",
        size: 12,
        align: 4,
        sized: true,
        min: 12,
        fields: &[
            ("size", 0, 4),
            ("ioas_id", 4, 4),
            ("op", 8, 2),
            ("__reserved", 10, 2),
        ],
        variants: &[],
        exts: &[],
        generations: &[12],
        policy: ZT,
    },
    // iommufd-7x.md §2: iommu_ioas_map_file, 40 B.
    Ref {
        name: "iommu_ioas_map_file",
        size: 40,
        align: 8,
        sized: true,
        min: 40,
        fields: &[
            ("size", 0, 4),
            ("flags", 4, 4),
            ("ioas_id", 8, 4),
            ("fd", 12, 4),
            ("start", 16, 8),
            ("length", 24, 8),
            ("iova", 32, 8),
        ],
        variants: &[],
        exts: &[],
        generations: &[40],
        policy: ZT,
    },
    // iommufd-7x.md §2: iommu_ioas_change_process, 8 B.
    Ref {
        name: "iommu_ioas_change_process",
        size: 8,
        align: 4,
        sized: true,
        min: 8,
        fields: &[("size", 0, 4), ("__reserved", 4, 4)],
        variants: &[],
        exts: &[],
        generations: &[8],
        policy: ZT,
    },
    // iommufd-7x.md §3: iommu_hw_info_tegra241_cmdqv, 8 B.
    Ref {
        name: "iommu_hw_info_tegra241_cmdqv",
        size: 8,
        align: 4,
        sized: false,
        min: 8,
        fields: &[
            ("flags", 0, 4),
            ("version", 4, 1),
            ("log2vcmdqs", 5, 1),
            ("log2vsids", 6, 1),
            ("__reserved", 7, 1),
        ],
        variants: &[],
        exts: &[],
        generations: &[8],
        policy: ZT,
    },
    // iommufd-7x.md §3: iommu_hw_info_amd, 16 B.
    Ref {
        name: "iommu_hw_info_amd",
        size: 16,
        align: 8,
        sized: false,
        min: 16,
        fields: &[("efr", 0, 8), ("efr2", 8, 8)],
        variants: &[],
        exts: &[],
        generations: &[16],
        policy: ZT,
    },
    // iommufd-7x.md §3: iommu_hwpt_arm_smmuv3, 16 B.
    Ref {
        name: "iommu_hwpt_arm_smmuv3",
        size: 16,
        align: 8,
        sized: false,
        min: 16,
        fields: &[("ste", 0, 16)],
        variants: &[],
        exts: &[],
        generations: &[16],
        policy: ZT,
    },
    // iommufd-7x.md §3: iommu_hwpt_amd_guest, 32 B.
    Ref {
        name: "iommu_hwpt_amd_guest",
        size: 32,
        align: 8,
        sized: false,
        min: 32,
        fields: &[("dte", 0, 32)],
        variants: &[],
        exts: &[],
        generations: &[32],
        policy: ZT,
    },
    // iommufd-7x.md §3: iommu_viommu_arm_smmuv3_invalidate, 16 B.
    Ref {
        name: "iommu_viommu_arm_smmuv3_invalidate",
        size: 16,
        align: 8,
        sized: false,
        min: 16,
        fields: &[("cmd", 0, 16)],
        variants: &[],
        exts: &[],
        generations: &[16],
        policy: ZT,
    },
    // iommufd-7x.md §3: iommu_viommu_tegra241_cmdqv, 16 B.
    Ref {
        name: "iommu_viommu_tegra241_cmdqv",
        size: 16,
        align: 8,
        sized: false,
        min: 16,
        fields: &[
            ("out_vintf_mmap_offset", 0, 8),
            ("out_vintf_mmap_length", 8, 8),
        ],
        variants: &[],
        exts: &[],
        generations: &[16],
        policy: ZT,
    },
    // iommufd-7x.md §3: iommu_vevent_arm_smmuv3, 32 B.
    Ref {
        name: "iommu_vevent_arm_smmuv3",
        size: 32,
        align: 8,
        sized: false,
        min: 32,
        fields: &[("evt", 0, 32)],
        variants: &[],
        exts: &[],
        generations: &[32],
        policy: ZT,
    },
    // iommufd-7x.md §3: iommu_vevent_tegra241_cmdqv, 16 B.
    Ref {
        name: "iommu_vevent_tegra241_cmdqv",
        size: 16,
        align: 8,
        sized: false,
        min: 16,
        fields: &[("lvcmdq_err_map", 0, 16)],
        variants: &[],
        exts: &[],
        generations: &[16],
        policy: ZT,
    },
];

fn reference(name: &str) -> &'static Ref {
    REFERENCE
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("{name} is not in the reference table of this test"))
}

#[test]
fn all_structs_is_exactly_the_reference_set_sized_first() {
    let declared: Vec<&str> = ALL_STRUCTS.iter().map(|l| l.name).collect();
    let mut sorted = declared.clone();
    sorted.sort_unstable();
    let mut want: Vec<&str> = REFERENCE.iter().map(|r| r.name).collect();
    want.sort_unstable();
    assert_eq!(sorted, want);
    assert!(
        declared.len() >= 46,
        "the registry lost structs: {declared:?}"
    );
    // The structs with a size field come first (documentation order).
    let first_record = ALL_STRUCTS.iter().position(|l| !l.sized).unwrap();
    assert!(ALL_STRUCTS[first_record..].iter().all(|l| !l.sized));
    let ops: Vec<&str> = common::all_ops().iter().map(|o| o.layout.name).collect();
    assert_eq!(ops, declared, "the typed visit is not in ALL_STRUCTS order");
    for (l, o) in ALL_STRUCTS.iter().zip(common::all_ops()) {
        // (Constants have no guaranteed address: compare by value.)
        assert_eq!(**l, *o.layout, "{}: DECL is not ALL_STRUCTS' entry", l.name);
    }
}

#[test]
fn argsz_structs_are_the_sized_ones() {
    let sized: Vec<&str> = argsz_structs().map(|l| l.name).collect();
    let want: Vec<&str> = REFERENCE
        .iter()
        .filter(|r| r.sized)
        .map(|r| r.name)
        .collect();
    let mut sorted = sized.clone();
    sorted.sort_unstable();
    let mut want = want;
    want.sort_unstable();
    assert_eq!(sorted, want);
    assert!(sized.len() >= 26, "{sized:?}");
    for l in argsz_structs() {
        let f = &l.fields[0];
        assert_eq!(
            (f.offset, f.size, f.check),
            (0, 4, Check::Argsz),
            "{}",
            l.name
        );
        assert!(
            f.name == "argsz" || f.name == "size",
            "{}: size field {}",
            l.name,
            f.name
        );
    }
}

#[test]
fn layout_named_and_max_size() {
    for r in REFERENCE {
        let l = layout_named(r.name).unwrap_or_else(|| panic!("layout_named({})", r.name));
        assert_eq!(l.name, r.name);
    }
    assert!(layout_named("iommu_nonexistent").is_none());
    assert_eq!(
        MAX_STRUCT_SIZE, 72,
        "the largest struct is iommu_gpasid_bind_data"
    );
}

fn check_one(l: &Layout, r: &Ref) -> Vec<String> {
    let mut bad = Vec::new();
    let mut eq = |what: &str, got: String, want: String| {
        if got != want {
            bad.push(format!(
                "{}: {what}: declared {got}, reference {want}",
                r.name
            ));
        }
    };
    eq("size", l.size.to_string(), r.size.to_string());
    eq("align", l.align.to_string(), r.align.to_string());
    eq("sized", l.sized.to_string(), r.sized.to_string());
    eq("min_size", l.min_size.to_string(), r.min.to_string());
    eq(
        "default policy",
        l.default_policy.to_string(),
        r.policy.to_string(),
    );
    let fields: Vec<(&str, usize, usize)> = l
        .fields
        .iter()
        .map(|f| (f.name, f.offset, f.size))
        .collect();
    eq("fields", format!("{fields:?}"), format!("{:?}", r.fields));
    let variants: Vec<(u64, usize)> = l
        .union
        .map(|u| u.variants.iter().map(|v| (v.value, v.end)).collect())
        .unwrap_or_default();
    eq(
        "union members (value, end)",
        format!("{variants:?}"),
        format!("{:?}", r.variants),
    );
    let exts: Vec<(u64, usize)> = l.extensions.iter().map(|x| (x.bit, x.end)).collect();
    eq(
        "extensions (bit, end)",
        format!("{exts:?}"),
        format!("{:?}", r.exts),
    );
    let gens: Vec<usize> = l.generations.iter().map(|g| g.size).collect();
    eq(
        "generation sizes",
        format!("{gens:?}"),
        format!("{:?}", r.generations),
    );
    bad
}

#[test]
fn every_struct_matches_the_reference_tables() {
    let mut bad = Vec::new();
    for l in ALL_STRUCTS {
        bad.extend(check_one(l, reference(l.name)));
    }
    assert!(bad.is_empty(), "\n{}", bad.join("\n"));
}

#[test]
fn union_offset_is_the_minimum_size() {
    // Reference §2.6: minsz = the offset of the variable union.
    for l in ALL_STRUCTS {
        if let Some(u) = l.union {
            assert_eq!(u.offset, reference(l.name).min, "{}", l.name);
            let sel = l
                .fields
                .iter()
                .find(|f| f.offset == u.selector.offset)
                .unwrap();
            assert!(sel.end() <= l.min_size, "{}: selector past minsz", l.name);
        }
    }
}

#[test]
fn member_layouts_match_member_ends() {
    // Each typed union member is the reference struct of that name, ending where the
    // reference says (offsetofend).
    let want: &[(&str, u64, &str, usize)] = &[
        ("iommu_cache_invalidate_info", 1, "iommu_inv_pasid_info", 32),
        ("iommu_cache_invalidate_info", 2, "iommu_inv_addr_info", 56),
        (
            "iommu_gpasid_bind_data",
            1,
            "iommu_gpasid_bind_data_vtd",
            72,
        ),
        ("iommu_pasid_table_config", 1, "iommu_pasid_smmuv3", 32),
        ("iommu_nesting_info", 1, "iommu_nesting_info_vtd", 64),
        ("iommu_fault", 1, "iommu_fault_unrecoverable", 40),
        ("iommu_fault", 2, "iommu_fault_page_request", 48),
    ];
    for &(outer, value, member, end) in want {
        let l = layout_named(outer).unwrap();
        let v = l
            .variant_for(value)
            .unwrap_or_else(|| panic!("{outer}: no member for {value}"));
        let vl = v
            .layout
            .unwrap_or_else(|| panic!("{outer}.{}: untyped", v.name));
        assert_eq!(vl.name, member, "{outer} member {value}");
        assert_eq!(v.end, end, "{outer}.{member} end");
        assert_eq!(l.union.unwrap().offset + reference(member).size, end);
    }
    // DOMAIN granularity has no payload: the 16-byte header is all it needs (§2.1).
    let domain = layout_named("iommu_cache_invalidate_info")
        .unwrap()
        .variant_for(0)
        .unwrap();
    assert!(domain.layout.is_none());
    assert_eq!(domain.end, 16);
}

#[test]
fn union_end_enforcement_follows_the_core() {
    // §2.1 step 5: the core refuses argsz below the selected granu member's end.
    let cache = layout_named("iommu_cache_invalidate_info").unwrap();
    assert!(cache.union.unwrap().enforce_end);
    // §2.3: bind copies what argsz covers; "the vendor driver decides what size it needs".
    let bind = layout_named("iommu_gpasid_bind_data").unwrap();
    assert!(!bind.union.unwrap().enforce_end);
}

#[test]
fn vendor_rules_are_vtd_with_the_reference_minimums() {
    // §2.3: intel_svm_bind_gpasid needs argsz >= offsetofend(vendor.vtd) = 72.
    let bind = vsva_uapi::GpasidBindData::DECL
        .vendor
        .expect("VT-d bind rules");
    assert_eq!(bind.vendor, Vendor::Vtd);
    assert_eq!(bind.min_argsz, 72);
    // §2.3: intel_iommu_sva_invalidate does no argsz check of its own.
    let inv = vsva_uapi::CacheInvalidateInfo::DECL
        .vendor
        .expect("VT-d invalidate rules");
    assert_eq!(inv.vendor, Vendor::Vtd);
    assert!(
        inv.min_argsz <= 16,
        "VT-d adds no argsz minimum to invalidation"
    );
    let with_vendor: Vec<&str> = ALL_STRUCTS
        .iter()
        .filter(|l| l.vendor.is_some())
        .map(|l| l.name)
        .collect();
    assert_eq!(
        with_vendor,
        ["iommu_cache_invalidate_info", "iommu_gpasid_bind_data"]
    );
}

#[test]
fn field_since_matches_the_generation_that_added_it() {
    // Fields added after the first generation (reference §5.1, §5.2, §5.5).
    let want: &[(&str, &str, usize)] = &[
        ("iommu_hw_info", "out_capabilities", 1),
        ("iommu_hw_info", "out_max_pasid_log2", 2),
        ("iommu_hwpt_alloc", "data_type", 1),
        ("iommu_hwpt_alloc", "data_len", 1),
        ("iommu_hwpt_alloc", "data_uptr", 1),
        ("iommu_hwpt_alloc", "fault_id", 2),
        ("iommu_hwpt_alloc", "__reserved2", 2),
        ("vfio_device_attach_iommufd_pt", "pasid", 1),
        ("vfio_device_detach_iommufd_pt", "pasid", 1),
        ("vfio_device_bind_iommufd", "token_uuid_ptr", 1),
        ("iommu_viommu_alloc", "data_len", 1),
        ("iommu_viommu_alloc", "__reserved", 1),
        ("iommu_viommu_alloc", "data_uptr", 1),
        ("vfio_device_info", "cap_offset", 1),
        ("vfio_device_info", "pad", 1),
        ("vfio_iommu_type1_info", "cap_offset", 1),
        ("vfio_iommu_type1_info", "pad", 1),
    ];
    for l in ALL_STRUCTS {
        for f in l.fields {
            let since = want
                .iter()
                .find(|(s, n, _)| *s == l.name && *n == f.name)
                .map_or(0, |w| w.2);
            assert_eq!(usize::from(f.since), since, "{}.{}", l.name, f.name);
            // A field that exists in generation g lies inside that generation's size.
            let g = &l.generations[usize::from(f.since)];
            assert!(
                f.end() <= g.size,
                "{}.{} ends at {} but {} is {} bytes",
                l.name,
                f.name,
                f.end(),
                g.name,
                g.size
            );
        }
        for x in l.extensions {
            let g = &l.generations[usize::from(x.since)];
            assert!(x.end <= g.size, "{}: {} past {}", l.name, x.name, g.name);
        }
    }
}

#[test]
fn fields_tile_the_struct() {
    for l in ALL_STRUCTS {
        let mut end = 0;
        for f in l.fields {
            assert_eq!(f.offset, end, "{}.{}: gap or overlap", l.name, f.name);
            end = f.end();
        }
        assert_eq!(end, l.size, "{}", l.name);
        assert_eq!(l.generations.last().unwrap().size, l.size, "{}", l.name);
        assert_eq!(usize::from(l.latest()) + 1, l.generations.len());
    }
}

/// The fallback check behind the generated registry: every `uapi_struct!` in the crate's
/// source sits inside a module's `uapi_structs!` list, and the declarations in the
/// source files are exactly [`ALL_STRUCTS`].
#[test]
fn every_declaration_in_the_source_reaches_the_registry() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut declared = Vec::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "rs") || path.ends_with("decl.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let list_start = lines.iter().position(|l| *l == "uapi_structs! {");
        let list_end = list_start.map(|s| s + lines[s..].iter().position(|l| *l == "}").unwrap());
        for (i, line) in lines.iter().enumerate() {
            if line.trim_start().starts_with("uapi_struct! {") {
                let inside = matches!((list_start, list_end), (Some(s), Some(e)) if s < i && i < e);
                assert!(
                    inside,
                    "{}:{}: uapi_struct! outside uapi_structs!",
                    path.display(),
                    i + 1
                );
                let decl = lines[i + 1..]
                    .iter()
                    .find(|l| l.trim_start().starts_with("pub struct "))
                    .unwrap();
                let name = decl.split('"').nth(1).unwrap();
                declared.push(name.to_owned());
            }
        }
    }
    declared.sort();
    let mut registered: Vec<String> = ALL_STRUCTS.iter().map(|l| l.name.to_owned()).collect();
    registered.sort();
    assert_eq!(declared, registered);
}
