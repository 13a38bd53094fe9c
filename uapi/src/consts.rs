//! Every constant and flag of the IOMMU UAPI (Linux v5.10 `include/uapi/linux/iommu.h`,
//! later additions marked), the 2020 VFIO nesting series, and the iommufd / VFIO cdev
//! values vsva encodes. Flag sets are [`bitflags`](mod@bitflags); enumerations are Rust enums with
//! `from_raw` (unknown values are `None`, never a panic).

use bitflags::bitflags;

macro_rules! uapi_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident: $repr:ty {
            $( $(#[$vmeta:meta])* $variant:ident = $value:expr => $cname:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr($repr)]
        pub enum $name {
            $( $(#[$vmeta])* #[doc = concat!("C: `", $cname, "`.")] $variant = $value, )*
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The enum for a raw value, or `None` for a value this header does not define.
            pub const fn from_raw(raw: $repr) -> Option<$name> {
                match raw {
                    $( x if x == $value => Some($name::$variant), )*
                    _ => None,
                }
            }

            /// The raw value.
            pub const fn raw(self) -> $repr {
                self as $repr
            }

            /// The kernel's name for the value.
            pub const fn c_name(self) -> &'static str {
                match self {
                    $( $name::$variant => $cname, )*
                }
            }
        }
    };
}

uapi_enum! {
    /// `enum iommu_fault_type`.
    pub enum FaultType: u32 {
        /// Unrecoverable DMA fault.
        DmaUnrecov = 1 => "IOMMU_FAULT_DMA_UNRECOV",
        /// Page request (recoverable).
        PageReq = 2 => "IOMMU_FAULT_PAGE_REQ",
    }
}

uapi_enum! {
    /// `enum iommu_fault_reason`.
    pub enum FaultReason: u32 {
        /// Unknown reason.
        Unknown = 0 => "IOMMU_FAULT_REASON_UNKNOWN",
        /// Could not access the PASID table.
        PasidFetch = 1 => "IOMMU_FAULT_REASON_PASID_FETCH",
        /// The PASID entry is invalid or has configuration errors.
        BadPasidEntry = 2 => "IOMMU_FAULT_REASON_BAD_PASID_ENTRY",
        /// The PASID is out of range.
        PasidInvalid = 3 => "IOMMU_FAULT_REASON_PASID_INVALID",
        /// An external abort occurred fetching a table entry.
        WalkEabt = 4 => "IOMMU_FAULT_REASON_WALK_EABT",
        /// Could not access the page table entry.
        PteFetch = 5 => "IOMMU_FAULT_REASON_PTE_FETCH",
        /// The protection flags do not match.
        Permission = 6 => "IOMMU_FAULT_REASON_PERMISSION",
        /// The access flag is not set.
        Access = 7 => "IOMMU_FAULT_REASON_ACCESS",
        /// The output address is out of range.
        OorAddress = 8 => "IOMMU_FAULT_REASON_OOR_ADDRESS",
    }
}

uapi_enum! {
    /// `enum iommu_page_response_code`.
    pub enum PageResponseCode: u32 {
        /// The fault was handled and the page tables populated.
        Success = 0 => "IOMMU_PAGE_RESP_SUCCESS",
        /// General error; drop all subsequent faults from this device.
        Invalid = 1 => "IOMMU_PAGE_RESP_INVALID",
        /// Could not handle this fault; do not retry.
        Failure = 2 => "IOMMU_PAGE_RESP_FAILURE",
    }
}

uapi_enum! {
    /// `enum iommu_inv_granularity`; also the selector of `iommu_cache_invalidate_info.granu`.
    pub enum InvGranularity: u8 {
        /// Domain-selective (no payload).
        Domain = 0 => "IOMMU_INV_GRANU_DOMAIN",
        /// PASID-selective (`pasid_info`).
        Pasid = 1 => "IOMMU_INV_GRANU_PASID",
        /// Page-selective (`addr_info`).
        Addr = 2 => "IOMMU_INV_GRANU_ADDR",
    }
}

/// `IOMMU_INV_GRANU_NR`: the number of granularities.
pub const IOMMU_INV_GRANU_NR: u8 = 3;

uapi_enum! {
    /// PASID table formats (`iommu_gpasid_bind_data.format`, `iommu_nesting_info.format`).
    pub enum PasidFormat: u32 {
        /// Intel VT-d first-level page tables.
        IntelVtd = 1 => "IOMMU_PASID_FORMAT_INTEL_VTD",
    }
}

/// `IOMMU_PASID_FORMAT_LAST` (v5.10+): formats are `< 2`.
pub const IOMMU_PASID_FORMAT_LAST: u32 = 2;
/// `IOMMU_PASID_FORMAT_SMMUV3`: the format of `iommu_pasid_table_config` (Auger series).
pub const IOMMU_PASID_FORMAT_SMMUV3: u32 = 1;

uapi_enum! {
    /// `iommu_pasid_table_config.config` (Auger SMMUv3 series).
    pub enum PasidTableConfigKind: u8 {
        /// Stage-1 translation through the guest CD table.
        Translate = 1 => "IOMMU_PASID_CONFIG_TRANSLATE",
        /// Stage-1 bypass.
        Bypass = 2 => "IOMMU_PASID_CONFIG_BYPASS",
        /// Abort all transactions.
        Abort = 3 => "IOMMU_PASID_CONFIG_ABORT",
    }
}

/// `IOMMU_PAGE_RESP_VERSION_1`.
pub const IOMMU_PAGE_RESP_VERSION_1: u32 = 1;
/// `IOMMU_CACHE_INVALIDATE_INFO_VERSION_1`.
pub const IOMMU_CACHE_INVALIDATE_INFO_VERSION_1: u32 = 1;
/// `IOMMU_GPASID_BIND_VERSION_1`.
pub const IOMMU_GPASID_BIND_VERSION_1: u32 = 1;
/// `PASID_TABLE_CFG_VERSION_1`.
pub const PASID_TABLE_CFG_VERSION_1: u32 = 1;
/// `PASID_TABLE_SMMUV3_CFG_VERSION_1`.
pub const PASID_TABLE_SMMUV3_CFG_VERSION_1: u32 = 1;
/// `IOMMU_CACHE_INV_TYPE_NR`: the number of cache-type bits (not a mask).
pub const IOMMU_CACHE_INV_TYPE_NR: u32 = 3;
/// The largest PASID plus one (20-bit PASID space; PASID 0 is reserved).
pub const PASID_MAX: u32 = 1 << 20;

bitflags! {
    /// `IOMMU_FAULT_PERM_*`: access permissions of a fault.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct FaultPerm: u32 {
        /// `IOMMU_FAULT_PERM_READ`.
        const READ = 1 << 0;
        /// `IOMMU_FAULT_PERM_WRITE`.
        const WRITE = 1 << 1;
        /// `IOMMU_FAULT_PERM_EXEC`.
        const EXEC = 1 << 2;
        /// `IOMMU_FAULT_PERM_PRIV`.
        const PRIV = 1 << 3;
    }

    /// `IOMMU_FAULT_UNRECOV_*`: `iommu_fault_unrecoverable.flags`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct FaultUnrecovFlags: u32 {
        /// `IOMMU_FAULT_UNRECOV_PASID_VALID`.
        const PASID_VALID = 1 << 0;
        /// `IOMMU_FAULT_UNRECOV_ADDR_VALID`.
        const ADDR_VALID = 1 << 1;
        /// `IOMMU_FAULT_UNRECOV_FETCH_ADDR_VALID`.
        const FETCH_ADDR_VALID = 1 << 2;
    }

    /// `IOMMU_FAULT_PAGE_REQUEST_*` / `IOMMU_FAULT_PAGE_RESPONSE_*`:
    /// `iommu_fault_page_request.flags`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct PageRequestFlags: u32 {
        /// `IOMMU_FAULT_PAGE_REQUEST_PASID_VALID`.
        const PASID_VALID = 1 << 0;
        /// `IOMMU_FAULT_PAGE_REQUEST_LAST_PAGE`.
        const LAST_PAGE = 1 << 1;
        /// `IOMMU_FAULT_PAGE_REQUEST_PRIV_DATA`.
        const PRIV_DATA = 1 << 2;
        /// `IOMMU_FAULT_PAGE_RESPONSE_NEEDS_PASID` (added after v5.10).
        const NEEDS_PASID = 1 << 3;
    }

    /// `IOMMU_PAGE_RESP_*`: `iommu_page_response.flags`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct PageResponseFlags: u32 {
        /// `IOMMU_PAGE_RESP_PASID_VALID`.
        const PASID_VALID = 1 << 0;
    }

    /// `IOMMU_INV_ADDR_FLAGS_*`: `iommu_inv_addr_info.flags`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct InvAddrFlags: u32 {
        /// `IOMMU_INV_ADDR_FLAGS_PASID`.
        const PASID = 1 << 0;
        /// `IOMMU_INV_ADDR_FLAGS_ARCHID`.
        const ARCHID = 1 << 1;
        /// `IOMMU_INV_ADDR_FLAGS_LEAF`.
        const LEAF = 1 << 2;
    }

    /// `IOMMU_INV_PASID_FLAGS_*`: `iommu_inv_pasid_info.flags`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct InvPasidFlags: u32 {
        /// `IOMMU_INV_PASID_FLAGS_PASID`.
        const PASID = 1 << 0;
        /// `IOMMU_INV_PASID_FLAGS_ARCHID`.
        const ARCHID = 1 << 1;
    }

    /// `IOMMU_CACHE_INV_TYPE_*`: `iommu_cache_invalidate_info.cache`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct CacheInvType: u8 {
        /// `IOMMU_CACHE_INV_TYPE_IOTLB`.
        const IOTLB = 1 << 0;
        /// `IOMMU_CACHE_INV_TYPE_DEV_IOTLB`.
        const DEV_IOTLB = 1 << 1;
        /// `IOMMU_CACHE_INV_TYPE_PASID`: the PASID cache.
        const PASID = 1 << 2;
    }

    /// `IOMMU_SVA_GPASID_*`: `iommu_gpasid_bind_data.flags`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct GpasidBindFlags: u64 {
        /// `IOMMU_SVA_GPASID_VAL`: `gpasid` is valid.
        const GPASID_VAL = 1 << 0;
    }

    /// `IOMMU_SVA_VTD_GPASID_*`: `iommu_gpasid_bind_data_vtd.flags`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct VtdGpasidFlags: u64 {
        /// `IOMMU_SVA_VTD_GPASID_SRE`: supervisor requests.
        const SRE = 1 << 0;
        /// `IOMMU_SVA_VTD_GPASID_EAFE`: extended access flag.
        const EAFE = 1 << 1;
        /// `IOMMU_SVA_VTD_GPASID_PCD`: page-level cache disable.
        const PCD = 1 << 2;
        /// `IOMMU_SVA_VTD_GPASID_PWT`: page-level write through.
        const PWT = 1 << 3;
        /// `IOMMU_SVA_VTD_GPASID_EMTE`: extended memory type enable.
        const EMTE = 1 << 4;
        /// `IOMMU_SVA_VTD_GPASID_CD`: PASID-level cache disable.
        const CD = 1 << 5;
        /// `IOMMU_SVA_VTD_GPASID_WPE`: write protect enable (added after v5.10).
        const WPE = 1 << 6;
        /// `IOMMU_SVA_VTD_GPASID_MTS_MASK`: the memory-type flags.
        const MTS_MASK = Self::CD.bits() | Self::EMTE.bits() | Self::PCD.bits() | Self::PWT.bits();
    }

    /// `IOMMU_NESTING_FEAT_*`: `iommu_nesting_info.features`.
    ///
    /// No kernel header ever fixed all five values: the early Liu series had
    /// SYSWIDE_PASID 1<<0, BIND_PGTBL 1<<1, CACHE_INVLD 1<<2; the late one dropped
    /// SYSWIDE_PASID and renumbered BIND_PGTBL 1<<0, CACHE_INVLD 1<<1; none defined
    /// BIND_PASID_TABLE or PAGE_REQUEST. vsva numbers all five `1<<0 … 1<<4` in the
    /// order the 2020 document lists them, so its values match neither series from
    /// CACHE_INVLD on: a peer built from either header must translate.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct NestingFeatures: u32 {
        /// `IOMMU_NESTING_FEAT_SYSWIDE_PASID`: PASIDs are allocated system-wide.
        const SYSWIDE_PASID = 1 << 0;
        /// `IOMMU_NESTING_FEAT_BIND_PGTBL`: guest page tables can be bound (VT-d).
        const BIND_PGTBL = 1 << 1;
        /// `IOMMU_NESTING_FEAT_BIND_PASID_TABLE`: a guest PASID table can be bound (SMMUv3).
        const BIND_PASID_TABLE = 1 << 2;
        /// `IOMMU_NESTING_FEAT_CACHE_INVLD`: cache invalidation is forwarded.
        const CACHE_INVLD = 1 << 3;
        /// `IOMMU_NESTING_FEAT_PAGE_REQUEST`: page requests are reported.
        const PAGE_REQUEST = 1 << 4;
    }

    /// `VFIO_IOMMU_FLAG_*_PASID`: `vfio_iommu_type1_pasid_request.flags`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct PasidRequestFlags: u32 {
        /// `VFIO_IOMMU_FLAG_ALLOC_PASID`: allocate one PASID in `[min, max]`.
        const ALLOC = 1 << 0;
        /// `VFIO_IOMMU_FLAG_FREE_PASID`: free every PASID in `[min, max]`.
        const FREE = 1 << 1;
    }

    /// `IOMMU_HW_INFO_FLAG_*`: `iommu_hw_info.flags`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct HwInfoFlags: u32 {
        /// `IOMMU_HW_INFO_FLAG_INPUT_TYPE`: `in_data_type` is valid.
        const INPUT_TYPE = 1 << 0;
    }

    /// `IOMMU_HW_CAP_*`: `iommu_hw_info.out_capabilities`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct HwCapabilities: u64 {
        /// `IOMMU_HW_CAP_DIRTY_TRACKING`.
        const DIRTY_TRACKING = 1 << 0;
        /// `IOMMU_HW_CAP_PCI_PASID_EXEC`.
        const PCI_PASID_EXEC = 1 << 1;
        /// `IOMMU_HW_CAP_PCI_PASID_PRIV`.
        const PCI_PASID_PRIV = 1 << 2;
    }

    /// `IOMMU_HWPT_ALLOC_*`: `iommu_hwpt_alloc.flags`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct HwptAllocFlags: u32 {
        /// `IOMMU_HWPT_ALLOC_NEST_PARENT`.
        const NEST_PARENT = 1 << 0;
        /// `IOMMU_HWPT_ALLOC_DIRTY_TRACKING`.
        const DIRTY_TRACKING = 1 << 1;
        /// `IOMMU_HWPT_FAULT_ID_VALID`: `fault_id` is valid.
        const FAULT_ID_VALID = 1 << 2;
        /// `IOMMU_HWPT_ALLOC_PASID`.
        const PASID = 1 << 3;
    }

    /// `IOMMU_VTD_S1_*`: `iommu_hwpt_vtd_s1.flags`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct VtdS1Flags: u64 {
        /// `IOMMU_VTD_S1_SRE`.
        const SRE = 1 << 0;
        /// `IOMMU_VTD_S1_EAFE`.
        const EAFE = 1 << 1;
        /// `IOMMU_VTD_S1_WPE`.
        const WPE = 1 << 2;
    }

    /// `IOMMU_VTD_INV_FLAGS_*`: `iommu_hwpt_vtd_s1_invalidate.flags`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct VtdInvFlags: u32 {
        /// `IOMMU_VTD_INV_FLAGS_LEAF`.
        const LEAF = 1 << 0;
    }

    /// `IOMMU_VEVENTQ_FLAG_*`: `iommufd_vevent_header.flags` (6.15).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct VeventFlags: u32 {
        /// `IOMMU_VEVENTQ_FLAG_LOST_EVENTS`: the queue dropped events; no data follows.
        const LOST_EVENTS = 1 << 0;
    }

    /// `IOMMU_PGFAULT_FLAGS_*`: `iommu_hwpt_pgfault.flags`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct PgfaultFlags: u32 {
        /// `IOMMU_PGFAULT_FLAGS_PASID_VALID`.
        const PASID_VALID = 1 << 0;
        /// `IOMMU_PGFAULT_FLAGS_LAST_PAGE`.
        const LAST_PAGE = 1 << 1;
    }

    /// `VFIO_DEVICE_ATTACH_PASID` / `VFIO_DEVICE_DETACH_PASID`.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct DevicePtFlags: u32 {
        /// `VFIO_DEVICE_ATTACH_PASID` (= `VFIO_DEVICE_DETACH_PASID`): `pasid` is valid.
        const PASID = 1 << 0;
    }
}

uapi_enum! {
    /// The op code in the low 16 bits of `vfio_iommu_type1_nesting_op.flags` (series v3–v7).
    pub enum NestingOpCode: u32 {
        /// Bind a guest page table; data is `iommu_gpasid_bind_data`.
        BindPgtbl = 0 => "VFIO_IOMMU_NESTING_OP_BIND_PGTBL",
        /// Unbind a guest page table; data is `iommu_gpasid_bind_data`.
        UnbindPgtbl = 1 => "VFIO_IOMMU_NESTING_OP_UNBIND_PGTBL",
        /// Invalidate caches; data is `iommu_cache_invalidate_info`.
        CacheInvld = 2 => "VFIO_IOMMU_NESTING_OP_CACHE_INVLD",
    }
}

/// `VFIO_NESTING_OP_MASK`: the op lives in the low 16 bits of `flags`.
pub const VFIO_NESTING_OP_MASK: u32 = 0xffff;
/// The number of nesting op codes (the first unknown op).
pub const VFIO_NESTING_OP_NR: u32 = 3;
/// `VFIO_IOMMU_TYPE1_INFO_CAP_NESTING` in the last series version.
pub const VFIO_IOMMU_TYPE1_INFO_CAP_NESTING: u16 = 4;

/// `_IO(type, nr)`: VFIO and iommufd ioctls carry no size in the number.
pub const fn io(ty: u8, nr: u8) -> u32 {
    ((ty as u32) << 8) | nr as u32
}
/// `VFIO_TYPE` / `IOMMUFD_TYPE` (`';'`).
pub const VFIO_TYPE: u8 = b';';
/// `VFIO_BASE`.
pub const VFIO_BASE: u8 = 100;
/// `VFIO_IOMMU_PASID_REQUEST` (`VFIO_BASE + 18`, series v3–v7; never merged).
pub const VFIO_IOMMU_PASID_REQUEST: u32 = io(VFIO_TYPE, VFIO_BASE + 18);
/// `VFIO_IOMMU_NESTING_OP` (`VFIO_BASE + 19`, series v3–v7; never merged).
pub const VFIO_IOMMU_NESTING_OP: u32 = io(VFIO_TYPE, VFIO_BASE + 19);
/// The number of [`crate::ioctl::VFIO_DEVICE_BIND_IOMMUFD`] (declared there).
pub const VFIO_DEVICE_BIND_IOMMUFD: u32 = crate::ioctl::VFIO_DEVICE_BIND_IOMMUFD.number();
/// The number of [`crate::ioctl::VFIO_DEVICE_ATTACH_IOMMUFD_PT`] (declared there).
pub const VFIO_DEVICE_ATTACH_IOMMUFD_PT: u32 = crate::ioctl::VFIO_DEVICE_ATTACH_IOMMUFD_PT.number();
/// The number of [`crate::ioctl::VFIO_DEVICE_DETACH_IOMMUFD_PT`] (declared there).
pub const VFIO_DEVICE_DETACH_IOMMUFD_PT: u32 = crate::ioctl::VFIO_DEVICE_DETACH_IOMMUFD_PT.number();
/// The number of [`crate::ioctl::IOMMU_DESTROY`] (declared there).
pub const IOMMU_DESTROY: u32 = crate::ioctl::IOMMU_DESTROY.number();
/// The number of [`crate::ioctl::IOMMU_IOAS_ALLOC`] (declared there).
pub const IOMMU_IOAS_ALLOC: u32 = crate::ioctl::IOMMU_IOAS_ALLOC.number();
/// The number of [`crate::ioctl::IOMMU_IOAS_IOVA_RANGES`] (declared there).
pub const IOMMU_IOAS_IOVA_RANGES: u32 = crate::ioctl::IOMMU_IOAS_IOVA_RANGES.number();
/// The number of [`crate::ioctl::IOMMU_IOAS_MAP`] (declared there).
pub const IOMMU_IOAS_MAP: u32 = crate::ioctl::IOMMU_IOAS_MAP.number();
/// The number of [`crate::ioctl::IOMMU_IOAS_UNMAP`] (declared there).
pub const IOMMU_IOAS_UNMAP: u32 = crate::ioctl::IOMMU_IOAS_UNMAP.number();
/// The number of [`crate::ioctl::IOMMU_HWPT_ALLOC`] (declared there).
pub const IOMMU_HWPT_ALLOC: u32 = crate::ioctl::IOMMU_HWPT_ALLOC.number();
/// The number of [`crate::ioctl::IOMMU_GET_HW_INFO`] (declared there).
pub const IOMMU_GET_HW_INFO: u32 = crate::ioctl::IOMMU_GET_HW_INFO.number();
/// The number of [`crate::ioctl::IOMMU_HWPT_INVALIDATE`] (declared there).
pub const IOMMU_HWPT_INVALIDATE: u32 = crate::ioctl::IOMMU_HWPT_INVALIDATE.number();
/// The number of [`crate::ioctl::IOMMU_FAULT_QUEUE_ALLOC`] (declared there).
pub const IOMMU_FAULT_QUEUE_ALLOC: u32 = crate::ioctl::IOMMU_FAULT_QUEUE_ALLOC.number();

uapi_enum! {
    /// `enum iommu_hw_info_type`.
    pub enum HwInfoType: u32 {
        /// No driver data (`IOMMU_HW_INFO_TYPE_DEFAULT` is the same value).
        None = 0 => "IOMMU_HW_INFO_TYPE_NONE",
        /// `struct iommu_hw_info_vtd`.
        IntelVtd = 1 => "IOMMU_HW_INFO_TYPE_INTEL_VTD",
        /// `struct iommu_hw_info_arm_smmuv3`.
        ArmSmmuv3 = 2 => "IOMMU_HW_INFO_TYPE_ARM_SMMUV3",
        /// `struct iommu_hw_info_tegra241_cmdqv`.
        Tegra241Cmdqv = 3 => "IOMMU_HW_INFO_TYPE_TEGRA241_CMDQV",
    }
}

uapi_enum! {
    /// `enum iommu_hwpt_data_type`.
    pub enum HwptDataType: u32 {
        /// No data.
        None = 0 => "IOMMU_HWPT_DATA_NONE",
        /// `struct iommu_hwpt_vtd_s1`.
        VtdS1 = 1 => "IOMMU_HWPT_DATA_VTD_S1",
        /// `struct iommu_hwpt_arm_smmuv3`.
        ArmSmmuv3 = 2 => "IOMMU_HWPT_DATA_ARM_SMMUV3",
    }
}

uapi_enum! {
    /// `enum iommu_hwpt_invalidate_data_type`.
    pub enum HwptInvalidateDataType: u32 {
        /// `struct iommu_hwpt_vtd_s1_invalidate`.
        VtdS1 = 0 => "IOMMU_HWPT_INVALIDATE_DATA_VTD_S1",
        /// `struct iommu_viommu_arm_smmuv3_invalidate`.
        ArmSmmuv3 = 1 => "IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3",
    }
}

uapi_enum! {
    /// `enum iommufd_page_response_code`.
    pub enum IommufdPageResponseCode: u32 {
        /// `IOMMUFD_PAGE_RESP_SUCCESS`.
        Success = 0 => "IOMMUFD_PAGE_RESP_SUCCESS",
        /// `IOMMUFD_PAGE_RESP_INVALID`.
        Invalid = 1 => "IOMMUFD_PAGE_RESP_INVALID",
    }
}
