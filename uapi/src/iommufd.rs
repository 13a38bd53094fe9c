//! Today's size-first structs that vsva encodes or decodes: iommufd
//! (`include/uapi/linux/iommufd.h`) and the VFIO cdev attach/detach
//! (`include/uapi/linux/vfio.h`). Same extension rules as the 2020 API: the struct
//! grows at its end or reuses reserved bytes, and a new field comes with a new flag.
//!
//! Fixed records without a size field (driver data, fault records) are `sized: false`
//! (the [`LAYOUT_DEFAULTS`](crate::decl::LAYOUT_DEFAULTS) value, so their layouts name
//! only what differs: the minimum size and the release): they are versioned by the
//! enclosing `data_len` / `entry_len` or not at all.

use crate::consts::HwptAllocFlags;
use crate::decl::uapi_structs;
use crate::decl::{since, Check, Extension, FieldRef, Generation, Late, Policy, Rule};
use crate::release::Release;

uapi_structs! {
    uapi_struct! {
        /// `IOMMU_GET_HW_INFO`: what the IOMMU behind a device supports.
        pub struct HwInfo = "iommu_hw_info", size 40, align 8 {
            /// Size of the user's struct.
            size: u32, at 0 => Check::Argsz, since 0;
            /// `IOMMU_HW_INFO_FLAG_INPUT_TYPE` (6.17).
            flags: u32, at 4 => Check::FlagsSince(&[since(1, Release::V6_17)]), since 0;
            /// The device (iommufd object id).
            dev_id: u32, at 8 => Check::None, since 0;
            /// In: user buffer length; out: the driver data's length.
            data_len: u32, at 12 => Check::None, since 0;
            /// User buffer for the driver data.
            data_uptr: u64, at 16 => Check::None, since 0;
            /// `in_data_type` (with `INPUT_TYPE`) / `out_data_type`: `enum iommu_hw_info_type`.
            data_type: u32, at 24 => Check::None, since 0;
            /// Out: log2 of the largest PASID (was part of `__reserved`).
            out_max_pasid_log2: u8, at 28 => Check::None, since 2;
            /// Must be zero.
            __reserved: [u8; 3], at 29 => Check::Zero, since 0;
            /// Out: `IOMMU_HW_CAP_*`.
            out_capabilities: u64, at 32 => Check::None, since 1;
        }
        layout |FIELDS| {
            sized: true, min_size: 32,
            default_policy: Policy::ZeroTail, union: None,
            extensions: &[Extension { name: "IOMMU_HW_INFO_FLAG_INPUT_TYPE",
                flags: FieldRef::named(FIELDS, "flags"), bit: 1, end: 28, since: 3 }],
            rules: &[],
            generations: &[
                Generation { name: "v6.6", size: 32 },
                Generation { name: "v6.7", size: 40 },
                // out_max_pasid_log2: 6.15, and 6.12's stable series since 6.12.32.
                Generation { name: "v6.12", size: 40 },
                Generation { name: "v6.17", size: 40 },
            ],
            vendor: None,
        }
    }

    uapi_struct! {
        /// `IOMMU_HW_INFO_TYPE_INTEL_VTD` driver data: the raw VT-d CAP and ECAP registers.
        pub struct HwInfoVtd = "iommu_hw_info_vtd", size 24, align 8 {
            /// `IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17`.
            flags: u32, at 0 => Check::None, since 0;
            /// Reserved.
            __reserved: u32, at 4 => Check::None, since 0;
            /// VT-d capability register.
            cap_reg: u64, at 8 => Check::None, since 0;
            /// VT-d extended capability register.
            ecap_reg: u64, at 16 => Check::None, since 0;
        }
        layout |FIELDS| {
            min_size: 24,
            generations: &[Generation { name: "v6.6", size: 24 }],
        }
    }

    uapi_struct! {
        /// `IOMMU_HW_INFO_TYPE_ARM_SMMUV3` driver data: the SMMUv3 ID registers.
        pub struct HwInfoArmSmmuv3 = "iommu_hw_info_arm_smmuv3", size 40, align 4 {
            /// Reserved flags.
            flags: u32, at 0 => Check::None, since 0;
            /// Reserved.
            __reserved: u32, at 4 => Check::None, since 0;
            /// `IDR0`..`IDR5`.
            idr: [u32; 6], at 8 => Check::None, since 0;
            /// `IIDR`.
            iidr: u32, at 32 => Check::None, since 0;
            /// `AIDR`.
            aidr: u32, at 36 => Check::None, since 0;
        }
        layout |FIELDS| {
            min_size: 40,
            generations: &[Generation { name: "v6.13", size: 40 }],
        }
    }

    uapi_struct! {
        /// `IOMMU_HWPT_ALLOC`: allocate a hardware page table (nest parent, nested stage 1).
        pub struct HwptAlloc = "iommu_hwpt_alloc", size 48, align 8 {
            /// Size of the user's struct.
            size: u32, at 0 => Check::Argsz, since 0;
            /// `IOMMU_HWPT_ALLOC_*` (NEST_PARENT, DIRTY_TRACKING 6.7; PASID 6.15),
            /// `IOMMU_HWPT_FAULT_ID_VALID` (6.11).
            flags: u32, at 4 => Check::FlagsSince(&[
                since(HwptAllocFlags::NEST_PARENT.bits() as u64, Release::V6_7),
                since(HwptAllocFlags::DIRTY_TRACKING.bits() as u64, Release::V6_7),
                since(HwptAllocFlags::FAULT_ID_VALID.bits() as u64, Release::V6_11),
                since(HwptAllocFlags::PASID.bits() as u64, Release::V6_15),
            ]), since 0;
            /// The device.
            dev_id: u32, at 8 => Check::None, since 0;
            /// IOAS, parent HWPT or vIOMMU.
            pt_id: u32, at 12 => Check::None, since 0;
            /// Out: the new HWPT.
            out_hwpt_id: u32, at 16 => Check::None, since 0;
            /// Must be zero.
            __reserved: u32, at 20 => Check::Zero, since 0;
            /// `enum iommu_hwpt_data_type`: NONE, VTD_S1 (6.7), ARM_SMMUV3 (6.13), AMD_GUEST (7.0).
            data_type: u32, at 24 => Check::OneOfSince(&[
                since(0, Release::V6_7), since(1, Release::V6_7),
                since(2, Release::V6_13), since(3, Release::V7_0),
            ]), since 1;
            /// Length of the driver data.
            data_len: u32, at 28 => Check::None, since 1;
            /// User pointer to the driver data.
            data_uptr: u64, at 32 => Check::None, since 1;
            /// The fault queue, if `FAULT_ID_VALID`.
            fault_id: u32, at 40 => Check::None, since 2;
            /// Reserved; the kernel never reads it (only the zero-tail rule past `size` covers it).
            __reserved2: u32, at 44 => Check::None, since 2;
        }
        layout |FIELDS| {
            sized: true, min_size: 24,
            default_policy: Policy::ZeroTail, union: None,
            extensions: &[Extension { name: "IOMMU_HWPT_FAULT_ID_VALID",
                flags: FieldRef::named(FIELDS, "flags"), bit: HwptAllocFlags::FAULT_ID_VALID.bits() as u64,
                end: 44, since: 2 }],
            // iommufd_hwpt_alloc: __reserved (the field pass), then a data type needs data and
            // data needs a type (EINVAL), then (after the object lookups) the paging
            // allocation's flags, FAULT_ID_VALID with NEST_PARENT (6.15), and the driver's
            // data type.
            rules: &[
                Rule::Requires { when: FieldRef::named(FIELDS, "data_type"),
                    field: FieldRef::named(FIELDS, "data_len"), mask: u64::MAX },
                Rule::Requires { when: FieldRef::named(FIELDS, "data_len"),
                    field: FieldRef::named(FIELDS, "data_type"), mask: u64::MAX },
            ],
            generations: &[
                Generation { name: "v6.6", size: 24 },
                Generation { name: "v6.7", size: 40 },
                Generation { name: "v6.11", size: 48 },
            ],
            vendor: None,
            late: &[
                Late::Field("flags"),
                Late::Rule(Rule::Since { release: Release::V6_15, rule: &Rule::NotTogether {
                    field: FieldRef::named(FIELDS, "flags"),
                    bits: (HwptAllocFlags::FAULT_ID_VALID.bits()
                        | HwptAllocFlags::NEST_PARENT.bits()) as u64 } }),
                Late::Field("data_type"),
            ],
        }
    }

    uapi_struct! {
        /// `IOMMU_HWPT_DATA_VTD_S1`: a nested VT-d stage-1 (the heir of the VT-d guest PASID bind).
        pub struct HwptVtdS1 = "iommu_hwpt_vtd_s1", size 24, align 8 {
            /// `IOMMU_VTD_S1_{SRE, EAFE, WPE}`.
            flags: u64, at 0 => Check::Flags(0b111), since 0;
            /// Stage-1 page table base (GPA).
            pgtbl_addr: u64, at 8 => Check::None, since 0;
            /// Stage-1 address width.
            addr_width: u32, at 16 => Check::None, since 0;
            /// Must be zero.
            __reserved: u32, at 20 => Check::Zero, since 0;
        }
        layout |FIELDS| {
            min_size: 24,
            generations: &[Generation { name: "v6.7", size: 24 }],
        }
    }

    uapi_struct! {
        /// `IOMMU_HWPT_INVALIDATE`: an array of `entry_len`-sized driver entries.
        pub struct HwptInvalidate = "iommu_hwpt_invalidate", size 32, align 8 {
            /// Size of the user's struct.
            size: u32, at 0 => Check::Argsz, since 0;
            /// Nested HWPT or vIOMMU.
            hwpt_id: u32, at 4 => Check::None, since 0;
            /// User pointer to the entry array.
            data_uptr: u64, at 8 => Check::None, since 0;
            /// `enum iommu_hwpt_invalidate_data_type`; the driver checks it (a type the HWPT
            /// does not take is `EINVAL` there), after the object lookup.
            data_type: u32, at 16 => Check::None, since 0;
            /// Bytes per entry, chosen by the user.
            entry_len: u32, at 20 => Check::None, since 0;
            /// In: entries; out: entries handled.
            entry_num: u32, at 24 => Check::None, since 0;
            /// Must be zero.
            __reserved: u32, at 28 => Check::Zero, since 0;
        }
        layout |FIELDS| {
            sized: true, min_size: 32,
            default_policy: Policy::ZeroTail, union: None, extensions: &[],
            // iommufd_hwpt_invalidate: __reserved first (EOPNOTSUPP), then entry_num != 0 needs
            // an array: data_uptr and entry_len, and entry_len <= PAGE_SIZE and entry_num
            // <= 2^19 (EINVAL; merged in 7.2, in 6.12's stable series since 6.12.96).
            rules: &[
                Rule::Requires { when: FieldRef::named(FIELDS, "entry_num"),
                    field: FieldRef::named(FIELDS, "data_uptr"), mask: u64::MAX },
                Rule::Requires { when: FieldRef::named(FIELDS, "entry_num"),
                    field: FieldRef::named(FIELDS, "entry_len"), mask: u64::MAX },
                Rule::Since { release: Release::V6_12, rule: &Rule::AtMost {
                    when: FieldRef::named(FIELDS, "entry_num"),
                    field: FieldRef::named(FIELDS, "entry_len"), max: crate::PAGE_SIZE as u64 } },
                Rule::Since { release: Release::V6_12, rule: &Rule::AtMost {
                    when: FieldRef::named(FIELDS, "entry_num"),
                    field: FieldRef::named(FIELDS, "entry_num"), max: 1 << 19 } },
            ],
            generations: &[Generation { name: "v6.8", size: 32 }], vendor: None,
        }
    }

    uapi_struct! {
        /// One VT-d stage-1 invalidation entry (`IOMMU_HWPT_INVALIDATE_DATA_VTD_S1`).
        pub struct HwptVtdS1Invalidate = "iommu_hwpt_vtd_s1_invalidate", size 24, align 8 {
            /// First address (4 KiB aligned); 0 with `npages == u64::MAX` means everything.
            addr: u64, at 0 => Check::Aligned(4096), since 0;
            /// Number of 4 KiB pages.
            npages: u64, at 8 => Check::None, since 0;
            /// `IOMMU_VTD_INV_FLAGS_LEAF`.
            flags: u32, at 16 => Check::Flags(1), since 0;
            /// Must be zero.
            __reserved: u32, at 20 => Check::Zero, since 0;
        }
        layout |FIELDS| {
            sized: false, min_size: 24,
            default_policy: Policy::ZeroTail, union: None, extensions: &[],
            // intel/nested.c: "everything" is addr 0 with npages U64_MAX, nothing else.
            // Its flags and __reserved (EOPNOTSUPP) are checked before the address (EINVAL).
            rules: &[Rule::ForbidBits { field: FieldRef::named(FIELDS, "addr"), bits: u64::MAX,
                when: FieldRef::named(FIELDS, "npages"), equals: u64::MAX }],
            generations: &[Generation { name: "v6.8", size: 24 }], vendor: None,
            late: &[Late::Field("addr")],
        }
    }

    uapi_struct! {
        /// One page-fault record read from a fault queue fd.
        pub struct HwptPgfault = "iommu_hwpt_pgfault", size 40, align 8 {
            /// `IOMMU_PGFAULT_FLAGS_*`.
            flags: u32, at 0 => Check::Flags(0b11), since 0;
            /// The device.
            dev_id: u32, at 4 => Check::None, since 0;
            /// The PASID, if `PASID_VALID`.
            pasid: u32, at 8 => Check::None, since 0;
            /// Page request group index.
            grpid: u32, at 12 => Check::None, since 0;
            /// `IOMMU_PGFAULT_PERM_*`.
            perm: u32, at 16 => Check::Flags(0b1111), since 0;
            /// Reserved.
            __reserved: u32, at 20 => Check::Zero, since 0;
            /// Faulting address.
            addr: u64, at 24 => Check::None, since 0;
            /// Length hint.
            length: u32, at 32 => Check::None, since 0;
            /// Per fault group; echo it back in the response.
            cookie: u32, at 36 => Check::None, since 0;
        }
        layout |FIELDS| {
            min_size: 40,
            generations: &[Generation { name: "v6.11", size: 40 }],
        }
    }

    uapi_struct! {
        /// One page-response record written to a fault queue fd.
        pub struct HwptPageResponse = "iommu_hwpt_page_response", size 8, align 4 {
            /// The cookie of the fault group answered.
            cookie: u32, at 0 => Check::None, since 0;
            /// `IOMMUFD_PAGE_RESP_{SUCCESS, INVALID}`; any other code is `EINVAL` (fault.c).
            code: u32, at 4 => Check::Valid(&[0, 1]), since 0;
        }
        layout |FIELDS| {
            min_size: 8,
            generations: &[Generation { name: "v6.11", size: 8 }],
        }
    }

    uapi_struct! {
        /// `IOMMU_FAULT_QUEUE_ALLOC`: allocate a fault queue and its fd.
        pub struct FaultAlloc = "iommu_fault_alloc", size 16, align 4 {
            /// Size of the user's struct.
            size: u32, at 0 => Check::Argsz, since 0;
            /// Must be zero.
            flags: u32, at 4 => Check::Flags(0), since 0;
            /// Out: the fault object id.
            out_fault_id: u32, at 8 => Check::None, since 0;
            /// Out: the fault fd.
            out_fault_fd: u32, at 12 => Check::None, since 0;
        }
        layout |FIELDS| {
            sized: true, min_size: 16,
            default_policy: Policy::ZeroTail, union: None, extensions: &[],
            rules: &[], generations: &[Generation { name: "v6.11", size: 16 }], vendor: None,
        }
    }

    uapi_struct! {
        /// `VFIO_DEVICE_ATTACH_IOMMUFD_PT`: attach a cdev device (or one of its PASIDs) to a page table.
        pub struct VfioDeviceAttachIommufdPt = "vfio_device_attach_iommufd_pt", size 16, align 4 {
            /// Size of the user's struct.
            argsz: u32, at 0 => Check::Argsz, since 0;
            /// `VFIO_DEVICE_ATTACH_PASID` (6.15).
            flags: u32, at 4 => Check::FlagsSince(&[since(1, Release::V6_15)]), since 0;
            /// In: IOAS or HWPT; out: the attached HWPT.
            pt_id: u32, at 8 => Check::None, since 0;
            /// The PASID, if `VFIO_DEVICE_ATTACH_PASID`.
            pasid: u32, at 12 => Check::None, since 1;
        }
        layout |FIELDS| {
            sized: true, min_size: 12,
            default_policy: Policy::FlagsXend, union: None,
            extensions: &[Extension { name: "VFIO_DEVICE_ATTACH_PASID",
                flags: FieldRef::named(FIELDS, "flags"), bit: 1, end: 16, since: 1 }],
            rules: &[],
            generations: &[Generation { name: "v6.6", size: 12 }, Generation { name: "v6.15", size: 16 }],
            vendor: None,
        }
    }

    uapi_struct! {
        /// `VFIO_DEVICE_DETACH_IOMMUFD_PT`: detach a cdev device (or one of its PASIDs).
        pub struct VfioDeviceDetachIommufdPt = "vfio_device_detach_iommufd_pt", size 12, align 4 {
            /// Size of the user's struct.
            argsz: u32, at 0 => Check::Argsz, since 0;
            /// `VFIO_DEVICE_DETACH_PASID` (6.15).
            flags: u32, at 4 => Check::FlagsSince(&[since(1, Release::V6_15)]), since 0;
            /// The PASID, if `VFIO_DEVICE_DETACH_PASID`.
            pasid: u32, at 8 => Check::None, since 1;
        }
        layout |FIELDS| {
            sized: true, min_size: 8,
            default_policy: Policy::FlagsXend, union: None,
            extensions: &[Extension { name: "VFIO_DEVICE_DETACH_PASID",
                flags: FieldRef::named(FIELDS, "flags"), bit: 1, end: 12, since: 1 }],
            rules: &[],
            generations: &[Generation { name: "v6.6", size: 8 }, Generation { name: "v6.15", size: 12 }],
            vendor: None,
        }
    }

    uapi_struct! {
        /// `IOMMU_DESTROY`: destroy any iommufd object (IOAS, HWPT, fault queue, ...).
        pub struct Destroy = "iommu_destroy", size 8, align 4 {
            /// Size of the user's struct.
            size: u32, at 0 => Check::Argsz, since 0;
            /// The object to destroy.
            id: u32, at 4 => Check::None, since 0;
        }
        layout |FIELDS| {
            sized: true, min_size: 8,
            default_policy: Policy::ZeroTail, union: None, extensions: &[],
            rules: &[], generations: &[Generation { name: "v6.2", size: 8 }], vendor: None,
        }
    }

    uapi_struct! {
        /// `IOMMU_HWPT_SET_DIRTY_TRACKING`: start or stop dirty tracking on a paging HWPT.
        pub struct HwptSetDirtyTracking = "iommu_hwpt_set_dirty_tracking", size 16, align 4 {
            /// Size of the user's struct.
            size: u32, at 0 => Check::Argsz, since 0;
            /// `IOMMU_HWPT_DIRTY_TRACKING_ENABLE`.
            flags: u32, at 4 => Check::Flags(1), since 0;
            /// The paging HWPT.
            hwpt_id: u32, at 8 => Check::None, since 0;
            /// Reserved; the handler does not check it (hw_pagetable.c).
            __reserved: u32, at 12 => Check::None, since 0;
        }
        layout |FIELDS| {
            sized: true, min_size: 16,
            default_policy: Policy::ZeroTail, union: None, extensions: &[],
            rules: &[], generations: &[Generation { name: "v6.7", size: 16 }], vendor: None,
        }
    }

    uapi_struct! {
        /// `IOMMU_IOAS_ALLOC`: allocate an I/O address space.
        pub struct IoasAlloc = "iommu_ioas_alloc", size 12, align 4 {
            /// Size of the user's struct.
            size: u32, at 0 => Check::Argsz, since 0;
            /// Must be zero.
            flags: u32, at 4 => Check::Flags(0), since 0;
            /// Out: the new IOAS.
            out_ioas_id: u32, at 8 => Check::None, since 0;
        }
        layout |FIELDS| {
            sized: true, min_size: 12,
            default_policy: Policy::ZeroTail, union: None, extensions: &[],
            rules: &[], generations: &[Generation { name: "v6.2", size: 12 }], vendor: None,
        }
    }

    uapi_struct! {
        /// `IOMMU_IOAS_MAP`: map user memory into an IOAS.
        pub struct IoasMap = "iommu_ioas_map", size 40, align 8 {
            /// Size of the user's struct.
            size: u32, at 0 => Check::Argsz, since 0;
            /// `IOMMU_IOAS_MAP_{FIXED_IOVA, WRITEABLE, READABLE}`.
            flags: u32, at 4 => Check::Flags(0b111), since 0;
            /// The IOAS.
            ioas_id: u32, at 8 => Check::None, since 0;
            /// Must be zero.
            __reserved: u32, at 12 => Check::Zero, since 0;
            /// Start of the user memory.
            user_va: u64, at 16 => Check::None, since 0;
            /// Bytes to map.
            length: u64, at 24 => Check::None, since 0;
            /// In with `FIXED_IOVA`: the IOVA; out: the IOVA chosen.
            iova: u64, at 32 => Check::None, since 0;
        }
        layout |FIELDS| {
            sized: true, min_size: 40,
            default_policy: Policy::ZeroTail, union: None, extensions: &[],
            // iommufd_ioas_map: unknown flags or __reserved (EOPNOTSUPP), then iova and
            // length below ULONG_MAX (EOVERFLOW, not modelled), then READABLE or
            // WRITEABLE (EINVAL), then the IOAS lookup.
            rules: &[Rule::AnyOf { field: FieldRef::named(FIELDS, "flags"), bits: 0b110 }],
            generations: &[Generation { name: "v6.2", size: 40 }], vendor: None,
        }
    }

    uapi_struct! {
        /// `IOMMU_IOAS_UNMAP`: unmap an IOVA range (0 / `u64::MAX` length: everything).
        pub struct IoasUnmap = "iommu_ioas_unmap", size 24, align 8 {
            /// Size of the user's struct.
            size: u32, at 0 => Check::Argsz, since 0;
            /// The IOAS.
            ioas_id: u32, at 4 => Check::None, since 0;
            /// First IOVA.
            iova: u64, at 8 => Check::None, since 0;
            /// In: bytes to unmap; out: bytes unmapped.
            length: u64, at 16 => Check::None, since 0;
        }
        layout |FIELDS| {
            sized: true, min_size: 24,
            default_policy: Policy::ZeroTail, union: None, extensions: &[],
            rules: &[], generations: &[Generation { name: "v6.2", size: 24 }], vendor: None,
        }
    }

    uapi_struct! {
        /// `IOMMU_IOAS_IOVA_RANGES`: the IOVA ranges an IOAS may use.
        pub struct IoasIovaRanges = "iommu_ioas_iova_ranges", size 32, align 8 {
            /// Size of the user's struct.
            size: u32, at 0 => Check::Argsz, since 0;
            /// The IOAS.
            ioas_id: u32, at 4 => Check::None, since 0;
            /// In: entries in the user array; out: ranges the IOAS has (`EMSGSIZE` if more).
            num_iovas: u32, at 8 => Check::None, since 0;
            /// Must be zero.
            __reserved: u32, at 12 => Check::Zero, since 0;
            /// User pointer to an array of `iommu_iova_range`.
            allowed_iovas: u64, at 16 => Check::None, since 0;
            /// Out: the minimum IOVA alignment.
            out_iova_alignment: u64, at 24 => Check::None, since 0;
        }
        layout |FIELDS| {
            sized: true, min_size: 32,
            default_policy: Policy::ZeroTail, union: None, extensions: &[],
            rules: &[], generations: &[Generation { name: "v6.2", size: 32 }], vendor: None,
        }
    }

    uapi_struct! {
        /// One IOVA range of `IOMMU_IOAS_IOVA_RANGES` (inclusive bounds).
        pub struct IovaRange = "iommu_iova_range", size 16, align 8 {
            /// First IOVA.
            start: u64, at 0 => Check::None, since 0;
            /// Last IOVA (inclusive).
            last: u64, at 8 => Check::None, since 0;
        }
        layout |FIELDS| {
            min_size: 16,
            generations: &[Generation { name: "v6.2", size: 16 }],
        }
    }

    uapi_struct! {
        /// `VFIO_DEVICE_BIND_IOMMUFD`: bind a cdev device to an iommufd.
        ///
        /// `iommufd` is the C `__s32` fd, carried as its `u32` bit pattern. The VF token
        /// pointer (`VFIO_DEVICE_BIND_FLAG_TOKEN`) is the newest extension (vfio-bindings 0.7).
        pub struct VfioDeviceBindIommufd = "vfio_device_bind_iommufd", size 24, align 8 {
            /// Size of the user's struct.
            argsz: u32, at 0 => Check::Argsz, since 0;
            /// `VFIO_DEVICE_BIND_FLAG_TOKEN` (6.17).
            flags: u32, at 4 => Check::FlagsSince(&[since(1, Release::V6_17)]), since 0;
            /// The iommufd (`__s32`).
            iommufd: u32, at 8 => Check::None, since 0;
            /// Out: the device's iommufd object id.
            out_devid: u32, at 12 => Check::None, since 0;
            /// User pointer to the VF token UUID, if `VFIO_DEVICE_BIND_FLAG_TOKEN`.
            token_uuid_ptr: u64, at 16 => Check::None, since 1;
        }
        layout |FIELDS| {
            sized: true, min_size: 16,
            default_policy: Policy::FlagsXend, union: None,
            extensions: &[Extension { name: "VFIO_DEVICE_BIND_FLAG_TOKEN",
                flags: FieldRef::named(FIELDS, "flags"), bit: 1, end: 24, since: 1 }],
            rules: &[],
            generations: &[Generation { name: "v6.6", size: 16 }, Generation { name: "v6.17", size: 24 }],
            vendor: None,
        }
    }

    uapi_struct! {
        /// `IOMMU_IOAS_ALLOW_IOVAS`: restrict the IOVAs an IOAS may use to these ranges.
        pub struct IoasAllowIovas = "iommu_ioas_allow_iovas", size 24, align 8 {
            /// Size of the user's struct.
            size: u32, at 0 => Check::Argsz, since 0;
            /// The IOAS.
            ioas_id: u32, at 4 => Check::None, since 0;
            /// Entries in the user array (each `start < last`, no overlap: `EINVAL`).
            num_iovas: u32, at 8 => Check::None, since 0;
            /// Must be zero.
            __reserved: u32, at 12 => Check::Zero, since 0;
            /// User pointer to an array of `iommu_iova_range`.
            allowed_iovas: u64, at 16 => Check::None, since 0;
        }
        layout |FIELDS| {
            sized: true, min_size: 24,
            default_policy: Policy::ZeroTail, union: None, extensions: &[],
            rules: &[], generations: &[Generation { name: "v6.2", size: 24 }], vendor: None,
        }
    }

    uapi_struct! {
        /// `IOMMU_IOAS_COPY`: map what one IOAS maps at `src_iova` into another at `dst_iova`.
        pub struct IoasCopy = "iommu_ioas_copy", size 40, align 8 {
            /// Size of the user's struct.
            size: u32, at 0 => Check::Argsz, since 0;
            /// `IOMMU_IOAS_MAP_{WRITEABLE, READABLE}` (the destination is always fixed).
            flags: u32, at 4 => Check::Flags(0b110), since 0;
            /// The destination IOAS.
            dst_ioas_id: u32, at 8 => Check::None, since 0;
            /// The source IOAS.
            src_ioas_id: u32, at 12 => Check::None, since 0;
            /// Bytes to copy (non-zero).
            length: u64, at 16 => Check::None, since 0;
            /// The destination IOVA.
            dst_iova: u64, at 24 => Check::None, since 0;
            /// The source IOVA (fully mapped: `ENOENT`).
            src_iova: u64, at 32 => Check::None, since 0;
        }
        layout |FIELDS| {
            sized: true, min_size: 40,
            default_policy: Policy::ZeroTail, union: None, extensions: &[],
            rules: &[], generations: &[Generation { name: "v6.2", size: 40 }], vendor: None,
        }
    }

    uapi_struct! {
        /// `IOMMU_OPTION`: get or set an iommufd option (RLIMIT_MODE, HUGE_PAGES of an IOAS).
        pub struct IommuOption = "iommu_option", size 24, align 8 {
            /// Size of the user's struct.
            size: u32, at 0 => Check::Argsz, since 0;
            /// `IOMMU_OPTION_{RLIMIT_MODE, HUGE_PAGES}`; unknown is `EOPNOTSUPP` after `__reserved`.
            option_id: u32, at 4 => Check::None, since 0;
            /// `IOMMU_OPTION_OP_{SET, GET}`.
            op: u16, at 8 => Check::None, since 0;
            /// Must be zero.
            __reserved: u16, at 10 => Check::Zero, since 0;
            /// The IOAS for HUGE_PAGES; 0 for RLIMIT_MODE.
            object_id: u32, at 12 => Check::None, since 0;
            /// In for SET, out for GET.
            val64: u64, at 16 => Check::None, since 0;
        }
        layout |FIELDS| {
            sized: true, min_size: 24,
            default_policy: Policy::ZeroTail, union: None, extensions: &[],
            rules: &[], generations: &[Generation { name: "v6.2", size: 24 }], vendor: None,
        }
    }

    uapi_struct! {
        /// `IOMMU_VFIO_IOAS`: get, set or clear the IOAS the type1 compatibility layer uses.
        pub struct VfioIoas = "iommu_vfio_ioas", size 12, align 4 {
            /// Size of the user's struct.
            size: u32, at 0 => Check::Argsz, since 0;
            /// In for SET, out for GET.
            ioas_id: u32, at 4 => Check::None, since 0;
            /// `IOMMU_VFIO_IOAS_{GET, SET, CLEAR}`; unknown is `EOPNOTSUPP`.
            op: u16, at 8 => Check::None, since 0;
            /// Must be zero.
            __reserved: u16, at 10 => Check::Zero, since 0;
        }
        layout |FIELDS| {
            sized: true, min_size: 12,
            default_policy: Policy::ZeroTail, union: None, extensions: &[],
            rules: &[], generations: &[Generation { name: "v6.2", size: 12 }], vendor: None,
        }
    }

    uapi_struct! {
        /// `IOMMU_IOAS_MAP_FILE`: map a range of a memfd (or, since 6.19, a VFIO dma-buf) into an IOAS.
        pub struct IoasMapFile = "iommu_ioas_map_file", size 40, align 8 {
            /// Size of the user's struct.
            size: u32, at 0 => Check::Argsz, since 0;
            /// `IOMMU_IOAS_MAP_{FIXED_IOVA, WRITEABLE, READABLE}`.
            flags: u32, at 4 => Check::Flags(0b111), since 0;
            /// The IOAS.
            ioas_id: u32, at 8 => Check::None, since 0;
            /// The file (`__s32`, as its `u32` bit pattern; a bad fd is `EBADF`).
            fd: u32, at 12 => Check::None, since 0;
            /// Byte offset in the file.
            start: u64, at 16 => Check::None, since 0;
            /// Bytes to map.
            length: u64, at 24 => Check::None, since 0;
            /// In with `FIXED_IOVA`: the IOVA; out: the IOVA chosen.
            iova: u64, at 32 => Check::None, since 0;
        }
        layout |FIELDS| {
            sized: true, min_size: 40,
            default_policy: Policy::ZeroTail, union: None, extensions: &[],
            rules: &[], generations: &[Generation { name: "v6.13", size: 40 }], vendor: None,
        }
    }

    uapi_struct! {
        /// `IOMMU_IOAS_CHANGE_PROCESS`: charge every IOAS's pinned pages (all from MAP_FILE) to the calling process.
        pub struct IoasChangeProcess = "iommu_ioas_change_process", size 8, align 4 {
            /// Size of the user's struct.
            size: u32, at 0 => Check::Argsz, since 0;
            /// Must be zero.
            __reserved: u32, at 4 => Check::Zero, since 0;
        }
        layout |FIELDS| {
            sized: true, min_size: 8,
            default_policy: Policy::ZeroTail, union: None, extensions: &[],
            rules: &[], generations: &[Generation { name: "v6.13", size: 8 }], vendor: None,
        }
    }

    uapi_struct! {
        /// `IOMMU_HWPT_GET_DIRTY_BITMAP`: read (and clear) the dirty bits of an IOVA range.
        pub struct HwptGetDirtyBitmap = "iommu_hwpt_get_dirty_bitmap", size 48, align 8 {
            /// Size of the user's struct.
            size: u32, at 0 => Check::Argsz, since 0;
            /// The paging HWPT.
            hwpt_id: u32, at 4 => Check::None, since 0;
            /// `IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR`.
            flags: u32, at 8 => Check::Flags(1), since 0;
            /// Must be zero.
            __reserved: u32, at 12 => Check::Zero, since 0;
            /// First IOVA (aligned to the IOAS and to `page_size`).
            iova: u64, at 16 => Check::None, since 0;
            /// Bytes (non-zero; `EINVAL` otherwise, after the HWPT lookup).
            length: u64, at 24 => Check::None, since 0;
            /// Bytes each bit stands for (non-zero).
            page_size: u64, at 32 => Check::None, since 0;
            /// User pointer to the bitmap, one bit per `page_size` of `length`.
            data: u64, at 40 => Check::None, since 0;
        }
        layout |FIELDS| {
            sized: true, min_size: 48,
            default_policy: Policy::ZeroTail, union: None, extensions: &[],
            rules: &[], generations: &[Generation { name: "v6.7", size: 48 }], vendor: None,
        }
    }

    uapi_struct! {
        /// `IOMMU_VIOMMU_ALLOC`: a vIOMMU object over a nest-parent HWPT (SMMUv3, Tegra241).
        pub struct ViommuAlloc = "iommu_viommu_alloc", size 40, align 8 {
            /// Size of the user's struct.
            size: u32, at 0 => Check::Argsz, since 0;
            /// Must be zero.
            flags: u32, at 4 => Check::Flags(0), since 0;
            /// `enum iommu_viommu_type`: ARM_SMMUV3 (6.13), TEGRA241_CMDQV (6.17); the core
            /// refuses DEFAULT (0) with `EOPNOTSUPP` and the driver judges the rest (the
            /// mock takes `0xdeadbeef`), so no value list is declared.
            r#type: u32, at 8 => Check::None, since 0;
            /// The device whose IOMMU instance the vIOMMU virtualises.
            dev_id: u32, at 12 => Check::None, since 0;
            /// A `NEST_PARENT` paging HWPT (`EINVAL` if not a nest parent).
            hwpt_id: u32, at 16 => Check::None, since 0;
            /// Out: the vIOMMU.
            out_viommu_id: u32, at 20 => Check::None, since 0;
            /// Length of the driver data (6.17).
            data_len: u32, at 24 => Check::None, since 1;
            /// Reserved; the handler does not check it (viommu.c).
            __reserved: u32, at 28 => Check::None, since 1;
            /// User pointer to the driver data, in and out (6.17).
            data_uptr: u64, at 32 => Check::None, since 1;
        }
        layout |FIELDS| {
            sized: true, min_size: 24,
            default_policy: Policy::ZeroTail, union: None, extensions: &[],
            rules: &[Rule::Requires { when: FieldRef::named(FIELDS, "data_len"),
                field: FieldRef::named(FIELDS, "data_uptr"), mask: u64::MAX }],
            generations: &[
                Generation { name: "v6.13", size: 24 },
                Generation { name: "v6.17", size: 40 },
            ],
            vendor: None,
        }
    }

    uapi_struct! {
        /// `IOMMU_VDEVICE_ALLOC`: a device's virtual id (vSID, vDeviceID, vRID) in a vIOMMU.
        pub struct VdeviceAlloc = "iommu_vdevice_alloc", size 24, align 8 {
            /// Size of the user's struct.
            size: u32, at 0 => Check::Argsz, since 0;
            /// The vIOMMU.
            viommu_id: u32, at 4 => Check::None, since 0;
            /// The physical device (on the vIOMMU's IOMMU instance).
            dev_id: u32, at 8 => Check::None, since 0;
            /// Out: the vDEVICE.
            out_vdevice_id: u32, at 12 => Check::None, since 0;
            /// The guest's id for the device (unique in the vIOMMU: `EEXIST`).
            virt_id: u64, at 16 => Check::None, since 0;
        }
        layout |FIELDS| {
            sized: true, min_size: 24,
            default_policy: Policy::ZeroTail, union: None, extensions: &[],
            rules: &[], generations: &[Generation { name: "v6.13", size: 24 }], vendor: None,
        }
    }

    uapi_struct! {
        /// `IOMMU_VEVENTQ_ALLOC`: a vIOMMU event queue and its read-only fd.
        pub struct VeventqAlloc = "iommu_veventq_alloc", size 32, align 4 {
            /// Size of the user's struct.
            size: u32, at 0 => Check::Argsz, since 0;
            /// Must be zero.
            flags: u32, at 4 => Check::Flags(0), since 0;
            /// The vIOMMU.
            viommu_id: u32, at 8 => Check::None, since 0;
            /// `enum iommu_veventq_type`: ARM_SMMUV3 (6.15), TEGRA241_CMDQV (6.17); DEFAULT
            /// (0) is `EOPNOTSUPP`, the rest is not checked against the driver.
            r#type: u32, at 12 => Check::None, since 0;
            /// Queue depth in events, `1..=2^19` (`EINVAL`).
            veventq_depth: u32, at 16 => Check::Range { min: 1, below: (1 << 19) + 1 }, since 0;
            /// Out: the vEVENTQ.
            out_veventq_id: u32, at 20 => Check::None, since 0;
            /// Out: its fd (`O_CLOEXEC`).
            out_veventq_fd: u32, at 24 => Check::None, since 0;
            /// Must be zero (checked with the flags: `EOPNOTSUPP`).
            __reserved: u32, at 28 => Check::Zero, since 0;
        }
        layout |FIELDS| {
            sized: true, min_size: 28,
            default_policy: Policy::ZeroTail, union: None, extensions: &[],
            rules: &[], generations: &[Generation { name: "v6.15", size: 32 }], vendor: None,
        }
    }

    uapi_struct! {
        /// `IOMMU_HW_QUEUE_ALLOC`: a guest-owned hardware queue of a vIOMMU (Tegra241 VCMDQ).
        pub struct HwQueueAlloc = "iommu_hw_queue_alloc", size 40, align 8 {
            /// Size of the user's struct.
            size: u32, at 0 => Check::Argsz, since 0;
            /// Must be zero.
            flags: u32, at 4 => Check::Flags(0), since 0;
            /// The vIOMMU.
            viommu_id: u32, at 8 => Check::None, since 0;
            /// `enum iommu_hw_queue_type`: TEGRA241_CMDQV (6.17); DEFAULT (0) is `EOPNOTSUPP`.
            r#type: u32, at 12 => Check::None, since 0;
            /// The queue's index (ascending allocation, descending destruction).
            index: u32, at 16 => Check::None, since 0;
            /// Out: the HW queue.
            out_hw_queue_id: u32, at 20 => Check::None, since 0;
            /// The queue's base: an IOVA of the parent IOAS (a guest PA), pinned while it lives.
            nesting_parent_iova: u64, at 24 => Check::None, since 0;
            /// The queue's length in bytes (non-zero: `EINVAL`).
            length: u64, at 32 => Check::None, since 0;
        }
        layout |FIELDS| {
            sized: true, min_size: 40,
            default_policy: Policy::ZeroTail, union: None, extensions: &[],
            rules: &[], generations: &[Generation { name: "v6.17", size: 40 }], vendor: None,
        }
    }

    uapi_struct! {
        /// `IOMMU_HW_INFO_TYPE_TEGRA241_CMDQV` (3) driver data: the CMDQV's version and sizes.
        pub struct HwInfoTegra241Cmdqv = "iommu_hw_info_tegra241_cmdqv", size 8, align 4 {
            /// Reserved flags.
            flags: u32, at 0 => Check::None, since 0;
            /// The CMDQV version.
            version: u8, at 4 => Check::None, since 0;
            /// log2 of the VCMDQs per VINTF.
            log2vcmdqs: u8, at 5 => Check::None, since 0;
            /// log2 of the virtual stream ids.
            log2vsids: u8, at 6 => Check::None, since 0;
            /// Reserved.
            __reserved: u8, at 7 => Check::None, since 0;
        }
        layout |FIELDS| {
            min_size: 8,
            generations: &[Generation { name: "v6.17", size: 8 }],
        }
    }

    uapi_struct! {
        /// `IOMMU_HW_INFO_TYPE_AMD` (4, 7.0) driver data: the raw EFR and EFR2 registers.
        pub struct HwInfoAmd = "iommu_hw_info_amd", size 16, align 8 {
            /// Extended Feature Register.
            efr: u64, at 0 => Check::None, since 0;
            /// Extended Feature 2 Register.
            efr2: u64, at 8 => Check::None, since 0;
        }
        layout |FIELDS| {
            min_size: 16,
            generations: &[Generation { name: "v7.0", size: 16 }],
        }
    }

    uapi_struct! {
        /// `IOMMU_HWPT_DATA_ARM_SMMUV3` (2) nested data: STE words 0-1 (little-endian; disallowed bits are `EIO` in the driver).
        pub struct HwptArmSmmuv3 = "iommu_hwpt_arm_smmuv3", size 16, align 8 {
            /// The guest's STE words 0 and 1.
            ste: [u64; 2], at 0 => Check::None, since 0;
        }
        layout |FIELDS| {
            min_size: 16,
            generations: &[Generation { name: "v6.13", size: 16 }],
        }
    }

    uapi_struct! {
        /// `IOMMU_HWPT_DATA_AMD_GUEST` (3, 7.0) nested data: a guest DTE (not wired to an allocator in 7.3: `EOPNOTSUPP`).
        pub struct HwptAmdGuest = "iommu_hwpt_amd_guest", size 32, align 8 {
            /// The guest device table entry.
            dte: [u64; 4], at 0 => Check::None, since 0;
        }
        layout |FIELDS| {
            min_size: 32,
            generations: &[Generation { name: "v7.0", size: 32 }],
        }
    }

    uapi_struct! {
        /// `IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3` (1) entry: one raw SMMUv3 CMDQ command, sent through the vIOMMU.
        pub struct ViommuArmSmmuv3Invalidate = "iommu_viommu_arm_smmuv3_invalidate", size 16, align 8 {
            /// The command (little-endian); the kernel rewrites VMID and vSID.
            cmd: [u64; 2], at 0 => Check::None, since 0;
        }
        layout |FIELDS| {
            min_size: 16,
            generations: &[Generation { name: "v6.13", size: 16 }],
        }
    }

    uapi_struct! {
        /// `IOMMU_VIOMMU_TYPE_TEGRA241_CMDQV` (2) driver data: where to mmap the VINTF page 0.
        pub struct ViommuTegra241Cmdqv = "iommu_viommu_tegra241_cmdqv", size 16, align 8 {
            /// Out: the mmap offset on the iommufd fd.
            out_vintf_mmap_offset: u64, at 0 => Check::None, since 0;
            /// Out: the mmap length (64 KiB).
            out_vintf_mmap_length: u64, at 8 => Check::None, since 0;
        }
        layout |FIELDS| {
            min_size: 16,
            generations: &[Generation { name: "v6.17", size: 16 }],
        }
    }

    uapi_struct! {
        /// `IOMMU_VEVENTQ_TYPE_ARM_SMMUV3` (1) event data: the raw event record with the vSID.
        pub struct VeventArmSmmuv3 = "iommu_vevent_arm_smmuv3", size 32, align 8 {
            /// The event record (little-endian).
            evt: [u64; 4], at 0 => Check::None, since 0;
        }
        layout |FIELDS| {
            min_size: 32,
            generations: &[Generation { name: "v6.15", size: 32 }],
        }
    }

    uapi_struct! {
        /// `IOMMU_VEVENTQ_TYPE_TEGRA241_CMDQV` (2) event data: the VINTF's LVCMDQ_ERR_MAP.
        pub struct VeventTegra241Cmdqv = "iommu_vevent_tegra241_cmdqv", size 16, align 8 {
            /// LVCMDQ_ERR_MAP (little-endian).
            lvcmdq_err_map: [u64; 2], at 0 => Check::None, since 0;
        }
        layout |FIELDS| {
            min_size: 16,
            generations: &[Generation { name: "v6.17", size: 16 }],
        }
    }

    uapi_struct! {
        /// The header of every record read from a vEVENTQ fd (`iommufd_vevent_header`):
        /// the type's data follows, except after a `LOST_EVENTS` header, which has none.
        pub struct VeventHeader = "iommufd_vevent_header", size 8, align 4 {
            /// `IOMMU_VEVENTQ_FLAG_LOST_EVENTS` ([`VeventFlags`](crate::consts::VeventFlags)).
            flags: u32, at 0 => Check::Flags(crate::consts::VeventFlags::all().bits() as u64), since 0;
            /// The event's sequence number (a dropped event takes one too; wraps at `i32::MAX`).
            sequence: u32, at 4 => Check::None, since 0;
        }
        layout |FIELDS| {
            min_size: 8,
            generations: &[Generation { name: "v6.15", size: 8 }],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::UapiStruct;

    /// Offsets and sizes checked against iommufd-bindings 0.2 / vfio-bindings 0.7
    /// (`include/uapi/linux/iommufd.h`, `vfio.h`): the macro checks the declaration
    /// against the Rust struct, this checks it against the C header.
    fn assert_fields(fields: &[crate::Field], want: &[(usize, usize)]) {
        assert_eq!(fields.len(), want.len());
        for (f, w) in fields.iter().zip(want) {
            assert_eq!((f.offset, f.size), *w, "{}", f.name);
        }
    }

    #[test]
    fn new_layouts_match_the_c_headers() {
        type Case<'a> = (&'a [crate::Field], &'a [(usize, usize)], usize);
        let cases: [Case; 7] = [
            (Destroy::FIELDS, &[(0, 4), (4, 4)], 8),
            (IoasAlloc::FIELDS, &[(0, 4), (4, 4), (8, 4)], 12),
            (
                IoasMap::FIELDS,
                &[(0, 4), (4, 4), (8, 4), (12, 4), (16, 8), (24, 8), (32, 8)],
                40,
            ),
            (IoasUnmap::FIELDS, &[(0, 4), (4, 4), (8, 8), (16, 8)], 24),
            (
                IoasIovaRanges::FIELDS,
                &[(0, 4), (4, 4), (8, 4), (12, 4), (16, 8), (24, 8)],
                32,
            ),
            (IovaRange::FIELDS, &[(0, 8), (8, 8)], 16),
            (
                VfioDeviceBindIommufd::FIELDS,
                &[(0, 4), (4, 4), (8, 4), (12, 4), (16, 8)],
                24,
            ),
        ];
        for (fields, want, size) in cases {
            assert_fields(fields, want);
            let last = want[want.len() - 1];
            assert_eq!(last.0 + last.1, size);
        }
        assert_eq!(IoasIovaRanges::DECL.min_size, 32); // offsetofend(out_iova_alignment)
    }

    #[test]
    fn encode_for_release_sends_that_kernels_size_and_only_its_flags() {
        use crate::consts::HwptAllocFlags;
        use crate::UapiError;
        use zerocopy::FromZeros;
        let mut out = [0u8; 48];
        // vIOMMU: 24 bytes on 6.13 (no driver data), 40 from 6.17; none before 6.13.
        let mut viommu = ViommuAlloc::new_zeroed();
        viommu.r#type = 1;
        viommu.hwpt_id = 3;
        assert_eq!(viommu.encode_for_release(Release::V6_13, &mut out), Ok(24));
        assert_eq!(&out[..4], &24u32.to_ne_bytes());
        assert_eq!(viommu.encode_for_release(Release::V7_3, &mut out), Ok(40));
        assert_eq!(&out[..4], &40u32.to_ne_bytes());
        assert!(matches!(
            viommu.encode_for_release(Release::V6_12, &mut out),
            Err(UapiError::NotInRelease {
                since: Release::V6_13,
                ..
            })
        ));
        viommu.data_len = 16;
        viommu.data_uptr = 0x1000;
        assert!(matches!(
            viommu.encode_for_release(Release::V6_15, &mut out),
            Err(UapiError::FieldLost {
                field: "data_len",
                ..
            })
        ));
        assert_eq!(viommu.encode_for_release(Release::V6_17, &mut out), Ok(40));
        // HWPT_ALLOC: PASID is a 6.15 flag; 6.12 gets a typed refusal, 6.15 the request.
        let mut alloc = HwptAlloc::new_zeroed();
        alloc.flags = HwptAllocFlags::PASID.bits();
        let err = alloc
            .encode_for_release(Release::V6_12, &mut out)
            .unwrap_err();
        assert_eq!(
            err,
            UapiError::FeatureNewer {
                strukt: "iommu_hwpt_alloc",
                field: "flags",
                value: u64::from(HwptAllocFlags::PASID.bits()),
                since: Some(Release::V6_15),
                release: Release::V6_12,
            }
        );
        assert_eq!(err.errno(), crate::Errno::EOPNOTSUPP);
        assert_eq!(alloc.encode_for_release(Release::V6_15, &mut out), Ok(48));
        // A bit no release knows names no release.
        alloc.flags = 1 << 20;
        assert!(matches!(
            alloc.encode_for_release(Release::V7_3, &mut out),
            Err(UapiError::FeatureNewer {
                since: None,
                value: 0x10_0000,
                ..
            })
        ));
        // An enumeration value: AMD_GUEST (3) is 7.0.
        alloc.flags = 0;
        alloc.data_type = 3;
        alloc.data_len = 32;
        assert!(matches!(
            alloc.encode_for_release(Release::V6_17, &mut out),
            Err(UapiError::FeatureNewer {
                field: "data_type",
                value: 3,
                since: Some(Release::V7_0),
                ..
            })
        ));
        assert_eq!(alloc.encode_for_release(Release::V7_0, &mut out), Ok(48));
        // On 6.7 HWPT_ALLOC is 40 bytes; 6.6 had no data at all.
        alloc.data_type = 1;
        assert_eq!(alloc.encode_for_release(Release::V6_7, &mut out), Ok(40));
        assert!(matches!(
            alloc.encode_for_release(Release::V6_6, &mut out),
            Err(UapiError::FeatureNewer {
                field: "data_type",
                ..
            })
        ));
    }

    #[test]
    fn object_model_layouts_match_the_reference() {
        // iommufd-7x.md §2.16, §2.19-2.22: offsets, sizes and min sizes.
        type Case<'a> = (&'a crate::Layout, &'a [(usize, usize)], usize);
        let cases: [Case; 6] = [
            (
                HwptGetDirtyBitmap::DECL,
                &[
                    (0, 4),
                    (4, 4),
                    (8, 4),
                    (12, 4),
                    (16, 8),
                    (24, 8),
                    (32, 8),
                    (40, 8),
                ],
                48,
            ),
            (
                ViommuAlloc::DECL,
                &[
                    (0, 4),
                    (4, 4),
                    (8, 4),
                    (12, 4),
                    (16, 4),
                    (20, 4),
                    (24, 4),
                    (28, 4),
                    (32, 8),
                ],
                24,
            ),
            (
                VdeviceAlloc::DECL,
                &[(0, 4), (4, 4), (8, 4), (12, 4), (16, 8)],
                24,
            ),
            (
                VeventqAlloc::DECL,
                &[
                    (0, 4),
                    (4, 4),
                    (8, 4),
                    (12, 4),
                    (16, 4),
                    (20, 4),
                    (24, 4),
                    (28, 4),
                ],
                28,
            ),
            (
                HwQueueAlloc::DECL,
                &[
                    (0, 4),
                    (4, 4),
                    (8, 4),
                    (12, 4),
                    (16, 4),
                    (20, 4),
                    (24, 8),
                    (32, 8),
                ],
                40,
            ),
            (VeventHeader::DECL, &[(0, 4), (4, 4)], 8),
        ];
        for (layout, want, min) in cases {
            assert_fields(layout.fields, want);
            assert_eq!(layout.min_size, min, "{}", layout.name);
        }
        assert_eq!(ViommuAlloc::DECL.size_at(Release::V6_15), 24);
        assert_eq!(ViommuAlloc::DECL.size_at(Release::V6_17), 40);
    }

    #[test]
    fn bind_sends_16_bytes_unless_a_token_is_given() {
        use zerocopy::FromZeros;
        let mut bind = VfioDeviceBindIommufd::new_zeroed();
        bind.iommufd = 5;
        let mut out = [0u8; 24];
        assert_eq!(bind.encode_min(&mut out), Ok(16));
        bind.flags = 1;
        bind.token_uuid_ptr = 0x1000;
        assert_eq!(bind.encode_min(&mut out), Ok(24));
        // A 16-byte user struct with the token flag is refused, as vfio_df_ioctl_bind does.
        out[..4].copy_from_slice(&16u32.to_ne_bytes());
        let err = VfioDeviceBindIommufd::from_user(&out[..16], Policy::FlagsXend).unwrap_err();
        assert_eq!(err.errno(), crate::Errno::EINVAL);
    }
}
