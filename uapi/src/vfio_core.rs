//! VFIO's own size-first structs (`include/uapi/linux/vfio.h`): the legacy container,
//! group and device info replies, DMA map/unmap, and the `VFIO_IOMMU_GET_INFO`
//! capability records.
//!
//! Every info reply follows one rule: the user sets `argsz` to its buffer size, the
//! kernel copies `minsz` bytes, fills in what fits, sets `flags & *_CAPS` when it has a
//! capability chain and, if the chain does not fit, raises `argsz` to the size it needs
//! (leaving `cap_offset` 0). The user grows the buffer and asks again. VFIO never reads
//! past what the flags select ([`Policy::FlagsXend`]).
//!
//! Capability records (`vfio_info_cap_header` and the records starting with one) are
//! fixed records without a size field (`sized: false`): the chain's `next` offsets and
//! the enclosing `argsz` bound them. Layouts are cross-checked against the bindgen output
//! of `vfio-bindings` in `vsva-vfio`'s tests.
//!
//! The ioctl numbers below are `_IO(VFIO_TYPE, VFIO_BASE + n)`.

use crate::consts::{io, VFIO_BASE, VFIO_TYPE};
use crate::decl::uapi_structs;
use crate::decl::{Check, Extension, FieldRef, Generation, Layout, Policy};

/// `VFIO_GET_API_VERSION` (`VFIO_BASE + 0`).
pub const VFIO_GET_API_VERSION: u32 = io(VFIO_TYPE, VFIO_BASE);
/// `VFIO_CHECK_EXTENSION` (`VFIO_BASE + 1`).
pub const VFIO_CHECK_EXTENSION: u32 = io(VFIO_TYPE, VFIO_BASE + 1);
/// `VFIO_SET_IOMMU` (`VFIO_BASE + 2`).
pub const VFIO_SET_IOMMU: u32 = io(VFIO_TYPE, VFIO_BASE + 2);
/// `VFIO_GROUP_GET_STATUS` (`VFIO_BASE + 3`).
pub const VFIO_GROUP_GET_STATUS: u32 = io(VFIO_TYPE, VFIO_BASE + 3);
/// `VFIO_GROUP_SET_CONTAINER` (`VFIO_BASE + 4`).
pub const VFIO_GROUP_SET_CONTAINER: u32 = io(VFIO_TYPE, VFIO_BASE + 4);
/// `VFIO_GROUP_UNSET_CONTAINER` (`VFIO_BASE + 5`).
pub const VFIO_GROUP_UNSET_CONTAINER: u32 = io(VFIO_TYPE, VFIO_BASE + 5);
/// `VFIO_GROUP_GET_DEVICE_FD` (`VFIO_BASE + 6`).
pub const VFIO_GROUP_GET_DEVICE_FD: u32 = io(VFIO_TYPE, VFIO_BASE + 6);
/// `VFIO_DEVICE_GET_INFO` (`VFIO_BASE + 7`).
pub const VFIO_DEVICE_GET_INFO: u32 = io(VFIO_TYPE, VFIO_BASE + 7);
/// `VFIO_DEVICE_GET_REGION_INFO` (`VFIO_BASE + 8`).
pub const VFIO_DEVICE_GET_REGION_INFO: u32 = io(VFIO_TYPE, VFIO_BASE + 8);
/// `VFIO_DEVICE_GET_IRQ_INFO` (`VFIO_BASE + 9`).
pub const VFIO_DEVICE_GET_IRQ_INFO: u32 = io(VFIO_TYPE, VFIO_BASE + 9);
/// `VFIO_DEVICE_RESET` (`VFIO_BASE + 11`).
pub const VFIO_DEVICE_RESET: u32 = io(VFIO_TYPE, VFIO_BASE + 11);
/// `VFIO_IOMMU_GET_INFO` (`VFIO_BASE + 12`).
pub const VFIO_IOMMU_GET_INFO: u32 = io(VFIO_TYPE, VFIO_BASE + 12);
/// `VFIO_IOMMU_MAP_DMA` (`VFIO_BASE + 13`).
pub const VFIO_IOMMU_MAP_DMA: u32 = io(VFIO_TYPE, VFIO_BASE + 13);
/// `VFIO_IOMMU_UNMAP_DMA` (`VFIO_BASE + 14`).
pub const VFIO_IOMMU_UNMAP_DMA: u32 = io(VFIO_TYPE, VFIO_BASE + 14);

// The flag bits and capability ids of the legacy VFIO replies (`include/uapi/linux/vfio.h`),
// declared here so that no binding crate's item is part of vsva's build (vsva-vfio's
// tests check each against vfio-bindings).

/// `vfio_group_status.flags`: the group is viable (all its devices bound to VFIO drivers).
pub const VFIO_GROUP_FLAGS_VIABLE: u32 = 1 << 0;
/// `vfio_group_status.flags`: the group is set to a container.
pub const VFIO_GROUP_FLAGS_CONTAINER_SET: u32 = 1 << 1;
/// `vfio_device_info.flags`: the device supports `VFIO_DEVICE_RESET`.
pub const VFIO_DEVICE_FLAGS_RESET: u32 = 1 << 0;
/// `vfio_device_info.flags`: a PCI device.
pub const VFIO_DEVICE_FLAGS_PCI: u32 = 1 << 1;
/// `vfio_region_info.flags`: the region can be read.
pub const VFIO_REGION_INFO_FLAG_READ: u32 = 1 << 0;
/// `vfio_region_info.flags`: the region can be written.
pub const VFIO_REGION_INFO_FLAG_WRITE: u32 = 1 << 1;
/// `vfio_region_info.flags`: the region can be mmap'd.
pub const VFIO_REGION_INFO_FLAG_MMAP: u32 = 1 << 2;
/// Region capability id: the sparse mmap areas.
pub const VFIO_REGION_INFO_CAP_SPARSE_MMAP: u32 = 1;
/// Region capability id: the region's type and subtype.
pub const VFIO_REGION_INFO_CAP_TYPE: u32 = 2;
/// `vfio_iommu_type1_info.flags`: `iova_pgsizes` is valid.
pub const VFIO_IOMMU_INFO_PGSIZES: u32 = 1 << 0;
/// Type1 info capability id: the usable IOVA ranges.
pub const VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE: u32 = 1;
/// Type1 info capability id: dirty-page tracking parameters.
pub const VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION: u32 = 2;
/// Type1 info capability id: how many more DMA mappings the container allows.
pub const VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL: u32 = 3;

uapi_structs! {
    uapi_struct! {
        /// `VFIO_GROUP_GET_STATUS`: whether the group is viable and has a container.
        pub struct VfioGroupStatus = "vfio_group_status", size 8, align 4 {
            /// Size of the user's struct.
            argsz: u32, at 0 => Check::Argsz, since 0;
            /// Out: `VFIO_GROUP_FLAGS_VIABLE`, `VFIO_GROUP_FLAGS_CONTAINER_SET`.
            flags: u32, at 4 => Check::None, since 0;
        }
        layout |FIELDS| {
            sized: true, min_size: 8,
            default_policy: Policy::FlagsXend, union: None, extensions: &[],
            rules: &[], generations: &[Generation { name: "v3.6", size: 8 }], vendor: None,
        }
    }

    uapi_struct! {
        /// `VFIO_DEVICE_GET_INFO`: the device's type flags, region and IRQ counts, and
        /// (with `VFIO_DEVICE_FLAGS_CAPS`) a capability chain at `cap_offset`.
        pub struct VfioDeviceInfo = "vfio_device_info", size 24, align 4 {
            /// Size of the user's buffer; raised by the kernel when the chain does not fit.
            argsz: u32, at 0 => Check::Argsz, since 0;
            /// Out: `VFIO_DEVICE_FLAGS_*`.
            flags: u32, at 4 => Check::None, since 0;
            /// Out: the number of regions (the highest region index + 1).
            num_regions: u32, at 8 => Check::None, since 0;
            /// Out: the number of IRQ indexes.
            num_irqs: u32, at 12 => Check::None, since 0;
            /// Out: offset of the first capability (with `VFIO_DEVICE_FLAGS_CAPS`).
            cap_offset: u32, at 16 => Check::None, since 1;
            /// Padding.
            pad: u32, at 20 => Check::None, since 1;
        }
        layout |FIELDS| {
            sized: true, min_size: 16,
            default_policy: Policy::FlagsXend, union: None,
            extensions: &[Extension { name: "VFIO_DEVICE_FLAGS_CAPS",
                flags: FieldRef::named(FIELDS, "flags"), bit: 1 << 7, end: 20, since: 1 }],
            rules: &[],
            generations: &[
                Generation { name: "pre-caps", size: 16 },
                Generation { name: "caps", size: 24 },
            ],
            vendor: None,
        }
    }

    uapi_struct! {
        /// `VFIO_DEVICE_GET_REGION_INFO`: one region by index, with (with
        /// `VFIO_REGION_INFO_FLAG_CAPS`) a capability chain at `cap_offset`.
        pub struct VfioRegionInfo = "vfio_region_info", size 32, align 8 {
            /// Size of the user's buffer; raised by the kernel when the chain does not fit.
            argsz: u32, at 0 => Check::Argsz, since 0;
            /// Out: `VFIO_REGION_INFO_FLAG_*`.
            flags: u32, at 4 => Check::None, since 0;
            /// In: the region index.
            index: u32, at 8 => Check::None, since 0;
            /// Out: offset of the first capability (was `resv`).
            cap_offset: u32, at 12 => Check::None, since 0;
            /// Out: the region size in bytes.
            size: u64, at 16 => Check::None, since 0;
            /// Out: the region's offset in the device fd.
            offset: u64, at 24 => Check::None, since 0;
        }
        layout |FIELDS| {
            sized: true, min_size: 32,
            default_policy: Policy::FlagsXend, union: None,
            extensions: &[Extension { name: "VFIO_REGION_INFO_FLAG_CAPS",
                flags: FieldRef::named(FIELDS, "flags"), bit: 1 << 3, end: 16, since: 0 }],
            rules: &[], generations: &[Generation { name: "v3.6", size: 32 }], vendor: None,
        }
    }

    uapi_struct! {
        /// `VFIO_DEVICE_GET_IRQ_INFO`: one IRQ index.
        pub struct VfioIrqInfo = "vfio_irq_info", size 16, align 4 {
            /// Size of the user's struct.
            argsz: u32, at 0 => Check::Argsz, since 0;
            /// Out: `VFIO_IRQ_INFO_*`.
            flags: u32, at 4 => Check::None, since 0;
            /// In: the IRQ index.
            index: u32, at 8 => Check::None, since 0;
            /// Out: the number of IRQs at the index.
            count: u32, at 12 => Check::None, since 0;
        }
        layout |FIELDS| {
            sized: true, min_size: 16,
            default_policy: Policy::FlagsXend, union: None, extensions: &[],
            rules: &[], generations: &[Generation { name: "v3.6", size: 16 }], vendor: None,
        }
    }

    uapi_struct! {
        /// `VFIO_IOMMU_GET_INFO` (type1): page sizes and (with `VFIO_IOMMU_INFO_CAPS`) a
        /// capability chain: IOVA ranges, migration, DMA mappings available.
        pub struct VfioIommuType1Info = "vfio_iommu_type1_info", size 24, align 8 {
            /// Size of the user's buffer; raised by the kernel when the chain does not fit.
            argsz: u32, at 0 => Check::Argsz, since 0;
            /// Out: `VFIO_IOMMU_INFO_PGSIZES`, `VFIO_IOMMU_INFO_CAPS`.
            flags: u32, at 4 => Check::None, since 0;
            /// Out: the supported page sizes (bitmap).
            iova_pgsizes: u64, at 8 => Check::None, since 0;
            /// Out: offset of the first capability (with `VFIO_IOMMU_INFO_CAPS`).
            cap_offset: u32, at 16 => Check::None, since 1;
            /// Padding.
            pad: u32, at 20 => Check::None, since 1;
        }
        layout |FIELDS| {
            sized: true, min_size: 16,
            default_policy: Policy::FlagsXend, union: None,
            extensions: &[Extension { name: "VFIO_IOMMU_INFO_CAPS",
                flags: FieldRef::named(FIELDS, "flags"), bit: 2, end: 20, since: 1 }],
            rules: &[],
            generations: &[
                Generation { name: "pre-caps", size: 16 },
                Generation { name: "caps", size: 24 },
            ],
            vendor: None,
        }
    }

    uapi_struct! {
        /// `VFIO_IOMMU_MAP_DMA`: map `size` bytes of user memory at `vaddr` to `iova`.
        pub struct VfioIommuType1DmaMap = "vfio_iommu_type1_dma_map", size 32, align 8 {
            /// Size of the user's struct.
            argsz: u32, at 0 => Check::Argsz, since 0;
            /// `VFIO_DMA_MAP_FLAG_READ`, `_WRITE`, `_VADDR`.
            flags: u32, at 4 => Check::Flags(0x7), since 0;
            /// The process virtual address.
            vaddr: u64, at 8 => Check::None, since 0;
            /// The device (IO) virtual address.
            iova: u64, at 16 => Check::None, since 0;
            /// The size of the mapping in bytes.
            size: u64, at 24 => Check::None, since 0;
        }
        layout |FIELDS| {
            sized: true, min_size: 32,
            // vfio.h: READ, WRITE, VADDR, no flag that unlocks more bytes.
            default_policy: Policy::FlagsXend, union: None, extensions: &[],
            rules: &[], generations: &[Generation { name: "v3.6", size: 32 }], vendor: None,
        }
    }

    uapi_struct! {
        /// `VFIO_IOMMU_UNMAP_DMA`: unmap `[iova, iova + size)`; the kernel writes back the
        /// size it actually unmapped. (`data[]`, the dirty bitmap, follows only with
        /// `VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP`.)
        pub struct VfioIommuType1DmaUnmap = "vfio_iommu_type1_dma_unmap", size 24, align 8 {
            /// Size of the user's struct.
            argsz: u32, at 0 => Check::Argsz, since 0;
            /// `VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP`, `_ALL`, `_VADDR`.
            flags: u32, at 4 => Check::Flags(0x7), since 0;
            /// The IO virtual address.
            iova: u64, at 8 => Check::None, since 0;
            /// In: the size to unmap; out: the size unmapped.
            size: u64, at 16 => Check::None, since 0;
        }
        layout |FIELDS| {
            sized: true, min_size: 24,
            default_policy: Policy::FlagsXend, union: None, extensions: &[],
            rules: &[], generations: &[Generation { name: "v3.6", size: 24 }], vendor: None,
        }
    }

    uapi_struct! {
        /// `vfio_info_cap_header`: the header every capability in an info chain starts with.
        pub struct VfioInfoCapHeader = "vfio_info_cap_header", size 8, align 4 {
            /// The capability id (per chain: `VFIO_IOMMU_TYPE1_INFO_CAP_*`, `VFIO_REGION_INFO_CAP_*`, ...).
            id: u16, at 0 => Check::None, since 0;
            /// The capability's version.
            version: u16, at 2 => Check::None, since 0;
            /// Offset of the next capability from the start of the info struct; 0 ends the chain.
            next: u32, at 4 => Check::None, since 0;
        }
        layout |FIELDS| {
            sized: false, min_size: 8,
            default_policy: Policy::FlagsXend, union: None, extensions: &[],
            rules: &[], generations: &[Generation { name: "v4.7", size: 8 }], vendor: None,
        }
    }

    uapi_struct! {
        /// `VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE`: the header of the usable IOVA ranges;
        /// `nr_iovas` [`VfioIovaRange`]s follow. (The C struct's flexible array makes it
        /// 8-aligned; the fields are the same.)
        pub struct VfioIommuType1InfoCapIovaRange = "vfio_iommu_type1_info_cap_iova_range", size 16, align 4 {
            /// `header.id`.
            id: u16, at 0 => Check::None, since 0;
            /// `header.version`.
            version: u16, at 2 => Check::None, since 0;
            /// `header.next`.
            next: u32, at 4 => Check::None, since 0;
            /// The number of ranges that follow.
            nr_iovas: u32, at 8 => Check::None, since 0;
            /// Reserved.
            reserved: u32, at 12 => Check::None, since 0;
        }
        layout |FIELDS| {
            sized: false, min_size: 16,
            default_policy: Policy::FlagsXend, union: None, extensions: &[],
            rules: &[], generations: &[Generation { name: "v5.4", size: 16 }], vendor: None,
        }
    }

    uapi_struct! {
        /// `vfio_iova_range`: one usable IOVA range, both ends inclusive.
        pub struct VfioIovaRange = "vfio_iova_range", size 16, align 8 {
            /// The first usable IOVA.
            start: u64, at 0 => Check::None, since 0;
            /// The last usable IOVA.
            end: u64, at 8 => Check::None, since 0;
        }
        layout |FIELDS| {
            sized: false, min_size: 16,
            default_policy: Policy::FlagsXend, union: None, extensions: &[],
            rules: &[], generations: &[Generation { name: "v5.4", size: 16 }], vendor: None,
        }
    }

    uapi_struct! {
        /// `VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION`: dirty-page tracking parameters.
        pub struct VfioIommuType1InfoCapMigration = "vfio_iommu_type1_info_cap_migration", size 32, align 8 {
            /// `header.id`.
            id: u16, at 0 => Check::None, since 0;
            /// `header.version`.
            version: u16, at 2 => Check::None, since 0;
            /// `header.next`.
            next: u32, at 4 => Check::None, since 0;
            /// Reserved flags.
            flags: u32, at 8 => Check::None, since 0;
            /// Implicit padding before `pgsize_bitmap` (not a C field).
            __pad: u32, at 12 => Check::None, since 0;
            /// The page sizes dirty tracking supports.
            pgsize_bitmap: u64, at 16 => Check::None, since 0;
            /// The largest dirty bitmap the kernel returns, in bytes.
            max_dirty_bitmap_size: u64, at 24 => Check::None, since 0;
        }
        layout |FIELDS| {
            sized: false, min_size: 32,
            default_policy: Policy::FlagsXend, union: None, extensions: &[],
            rules: &[], generations: &[Generation { name: "v5.8", size: 32 }], vendor: None,
        }
    }

    uapi_struct! {
        /// `VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL`: how many more DMA mappings the container allows.
        pub struct VfioIommuType1InfoDmaAvail = "vfio_iommu_type1_info_dma_avail", size 12, align 4 {
            /// `header.id`.
            id: u16, at 0 => Check::None, since 0;
            /// `header.version`.
            version: u16, at 2 => Check::None, since 0;
            /// `header.next`.
            next: u32, at 4 => Check::None, since 0;
            /// The number of mappings still available.
            avail: u32, at 8 => Check::None, since 0;
        }
        layout |FIELDS| {
            sized: false, min_size: 12,
            default_policy: Policy::FlagsXend, union: None, extensions: &[],
            rules: &[], generations: &[Generation { name: "v5.10", size: 12 }], vendor: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::UapiStruct;

    #[test]
    fn ioctl_numbers_are_vfio_base_plus_n() {
        assert_eq!(VFIO_GET_API_VERSION, 0x3b64);
        assert_eq!(VFIO_GROUP_GET_DEVICE_FD, 0x3b6a);
        assert_eq!(VFIO_DEVICE_RESET, 0x3b6f);
        assert_eq!(VFIO_IOMMU_GET_INFO, 0x3b70);
        assert_eq!(VFIO_IOMMU_UNMAP_DMA, 0x3b72);
    }

    #[test]
    fn info_structs_know_their_pre_caps_generation() {
        assert_eq!(VfioIommuType1Info::DECL.min_size, 16);
        assert_eq!(VfioIommuType1Info::DECL.generations[0].size, 16);
        assert_eq!(VfioDeviceInfo::DECL.generations[0].size, 16);
        assert_eq!(VfioRegionInfo::DECL.min_size, 32);
        assert!(!VfioInfoCapHeader::DECL.sized);
    }
}

/// The extension of an info struct whose flag says a capability chain follows: the one
/// that ends at `offsetofend(cap_offset)` (`VFIO_DEVICE_FLAGS_CAPS`,
/// `VFIO_REGION_INFO_FLAG_CAPS`, `VFIO_IOMMU_INFO_CAPS`). `None` for structs without a
/// chain.
pub fn caps_extension(layout: &Layout) -> Option<&'static Extension> {
    let cap_offset = layout.fields.iter().find(|f| f.name == "cap_offset")?;
    layout.extensions.iter().find(|x| x.end == cap_offset.end())
}

#[cfg(test)]
mod caps_extension_tests {
    use super::*;
    use crate::UapiStruct;

    #[test]
    fn every_info_struct_declares_its_caps_flag_at_cap_offset() {
        let device = caps_extension(VfioDeviceInfo::DECL).unwrap();
        assert_eq!((device.bit, device.end - 4), (1 << 7, 16));
        let region = caps_extension(VfioRegionInfo::DECL).unwrap();
        assert_eq!((region.bit, region.end - 4), (1 << 3, 12));
        let iommu = caps_extension(VfioIommuType1Info::DECL).unwrap();
        assert_eq!((iommu.bit, iommu.end - 4), (1 << 1, 16));
        assert!(caps_extension(VfioIrqInfo::DECL).is_none());
        // vfio.h's map request has READ, WRITE and VADDR and no capability chain.
        assert!(caps_extension(VfioIommuType1DmaMap::DECL).is_none());
        assert!(VfioIommuType1DmaMap::DECL.extensions.is_empty());
    }
}
