//! The type1 IOMMU of a legacy container: `VFIO_IOMMU_GET_INFO` (page sizes and the
//! capability chain: IOVA ranges, migration, DMA mappings available) and DMA unmap.
//!
//! `VFIO_IOMMU_GET_INFO` negotiates `argsz` like every VFIO info ioctl: with the base
//! 24 bytes a real kernel answers `argsz = 120`, `flags = PGSIZES | CAPS`,
//! `cap_offset = 0` ("grow and ask again"), then the chain with 120 bytes.
//!
//! DMA mapping is not here yet: `VFIO_IOMMU_MAP_DMA` needs the `unsafe`
//! [`Kernel::dma_map`](crate::sys::Kernel::dma_map), which only [`crate::sys`] may call;
//! [`dma_map_request`] builds the request it will send.
//!
//! # References
//! `include/uapi/linux/vfio.h`; `drivers/vfio/vfio_iommu_type1.c`
//! (`vfio_iommu_type1_get_info`, `vfio_iommu_type1_unmap_dma`).

use vsva_uapi::vfio_core::{
    VfioIommuType1DmaMap, VfioIommuType1DmaUnmap, VfioIommuType1Info,
    VfioIommuType1InfoCapIovaRange, VfioIommuType1InfoCapMigration, VfioIommuType1InfoDmaAvail,
    VfioIovaRange, VFIO_IOMMU_GET_INFO, VFIO_IOMMU_INFO_PGSIZES,
    VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION,
    VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, VFIO_IOMMU_UNMAP_DMA,
};
use zerocopy::{FromBytes, FromZeros, IntoBytes};

use crate::caps::{walk, RawCap};
use crate::container::Container;
use crate::device::get_info;
use crate::error::{CapChainError, Error, Result};

const GET_INFO: &str = "VFIO_IOMMU_GET_INFO";

/// `VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION`: dirty-page tracking parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MigrationCap {
    /// Reserved flags.
    pub flags: u32,
    /// The page sizes dirty tracking supports.
    pub pgsize_bitmap: u64,
    /// The largest dirty bitmap the kernel returns, in bytes.
    pub max_dirty_bitmap_size: u64,
}

/// The capabilities of a `VFIO_IOMMU_GET_INFO` reply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IommuCaps {
    /// `VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE`: usable IOVA ranges, `(start, end)` inclusive.
    pub iova_ranges: Vec<(u64, u64)>,
    /// `VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION`.
    pub migration: Option<MigrationCap>,
    /// `VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL`: DMA mappings still available.
    pub dma_avail: Option<u32>,
    /// Capabilities with an id vsva does not know (or a known id seen twice), raw.
    pub unknown: Vec<RawCap>,
}

/// What `VFIO_IOMMU_GET_INFO` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IommuInfo {
    /// `VFIO_IOMMU_INFO_PGSIZES`, `VFIO_IOMMU_INFO_CAPS`.
    pub flags: u32,
    /// The supported page sizes (bitmap; valid with `VFIO_IOMMU_INFO_PGSIZES`).
    pub iova_pgsizes: u64,
    /// The capability chain, decoded.
    pub caps: IommuCaps,
}

impl IommuInfo {
    /// The page-size bitmap, if the kernel reported one.
    pub fn pgsizes(&self) -> Option<u64> {
        (self.flags & VFIO_IOMMU_INFO_PGSIZES != 0).then_some(self.iova_pgsizes)
    }
}

/// Decodes the chain of a `VFIO_IOMMU_GET_INFO` reply (`reply` exactly as long as the
/// `argsz` returned).
///
/// # Errors
/// The first [`CapChainError`] of the walk, or of a known capability too short for
/// what it declares (an IOVA range count past the capability).
pub fn decode_iommu_caps(
    reply: &[u8],
    cap_offset: u32,
) -> std::result::Result<IommuCaps, CapChainError> {
    let mut caps = IommuCaps::default();
    let mut seen_ranges = false;
    for cap in walk(reply, cap_offset, size_of::<VfioIommuType1Info>()) {
        let cap = cap?;
        match u32::from(cap.id) {
            VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE if !seen_ranges => {
                seen_ranges = true;
                let head: VfioIommuType1InfoCapIovaRange = cap.read()?;
                let nr = head.nr_iovas as usize;
                let hl = size_of::<VfioIommuType1InfoCapIovaRange>();
                let need = nr
                    .checked_mul(size_of::<VfioIovaRange>())
                    .and_then(|n| n.checked_add(hl));
                let body = need
                    .and_then(|n| cap.bytes.get(hl..n))
                    .ok_or_else(|| cap.short(need.unwrap_or(usize::MAX)))?;
                caps.iova_ranges = body
                    .chunks_exact(size_of::<VfioIovaRange>())
                    .filter_map(|c| VfioIovaRange::read_from_bytes(c).ok())
                    .map(|r| (r.start, r.end))
                    .collect();
            }
            VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION if caps.migration.is_none() => {
                let m: VfioIommuType1InfoCapMigration = cap.read()?;
                caps.migration = Some(MigrationCap {
                    flags: m.flags,
                    pgsize_bitmap: m.pgsize_bitmap,
                    max_dirty_bitmap_size: m.max_dirty_bitmap_size,
                });
            }
            VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL if caps.dma_avail.is_none() => {
                let d: VfioIommuType1InfoDmaAvail = cap.read()?;
                caps.dma_avail = Some(d.avail);
            }
            _ => caps.unknown.push(cap.to_raw()),
        }
    }
    Ok(caps)
}

/// The `VFIO_IOMMU_MAP_DMA` request mapping `size` bytes at user address `vaddr` to
/// `iova` with `flags` (`VFIO_DMA_MAP_FLAG_READ | _WRITE`).
pub fn dma_map_request(vaddr: u64, iova: u64, size: u64, flags: u32) -> VfioIommuType1DmaMap {
    VfioIommuType1DmaMap {
        argsz: size_of::<VfioIommuType1DmaMap>() as u32,
        flags,
        vaddr,
        iova,
        size,
    }
}

impl Container {
    /// `ioctl(container, VFIO_IOMMU_GET_INFO, &info)`: page sizes and the capability
    /// chain, with `argsz` negotiation (ask with 24 bytes, grow to the `argsz` the kernel
    /// reports, ask again; at most 3 calls and 64 KiB).
    ///
    /// # Errors
    /// [`Error::Ioctl`]: `EINVAL` (no IOMMU set yet), `EFAULT`; `ENOTTY` is
    /// [`Error::NotSupported`]; [`Error::BadReply`] for an `argsz` below 16, past 64 KiB,
    /// or still growing; [`Error::CapChain`] for a malformed chain.
    ///
    /// # References
    /// `include/uapi/linux/vfio.h` (`VFIO_IOMMU_GET_INFO`, `struct vfio_iommu_type1_info`,
    /// `VFIO_IOMMU_TYPE1_INFO_CAP_*`).
    pub fn iommu_info(&self) -> Result<IommuInfo> {
        let reply = get_info(
            &self.fd,
            VFIO_IOMMU_GET_INFO,
            GET_INFO,
            &VfioIommuType1Info::new_zeroed(),
        )?;
        let head = reply.head;
        let caps = if let Some(first) = reply.first_cap {
            decode_iommu_caps(&reply.bytes, first).map_err(|source| Error::CapChain {
                op: GET_INFO,
                source,
            })?
        } else {
            IommuCaps::default()
        };
        Ok(IommuInfo {
            flags: head.flags,
            iova_pgsizes: head.iova_pgsizes,
            caps,
        })
    }

    /// `ioctl(container, VFIO_IOMMU_UNMAP_DMA, &unmap)`: unmaps `[iova, iova + size)` and
    /// returns the size the kernel reports it unmapped.
    ///
    /// # Errors
    /// [`Error::Ioctl`]: `EINVAL` (misaligned, or splitting a mapping), `EPERM`, `EBUSY`;
    /// `ENOTTY` is [`Error::NotSupported`]; [`Error::BadReply`] if the kernel reports
    /// more than was asked.
    ///
    /// # References
    /// `include/uapi/linux/vfio.h` (`VFIO_IOMMU_UNMAP_DMA`, `struct vfio_iommu_type1_dma_unmap`).
    pub fn unmap_dma(&self, iova: u64, size: u64) -> Result<u64> {
        const OP: &str = "VFIO_IOMMU_UNMAP_DMA";
        let mut arg = VfioIommuType1DmaUnmap {
            argsz: size_of::<VfioIommuType1DmaUnmap>() as u32,
            flags: 0,
            iova,
            size,
        };
        self.fd
            .ioctl_sized(VFIO_IOMMU_UNMAP_DMA, arg.as_mut_bytes())
            .map_err(|e| Error::ioctl(OP, e))?;
        if arg.size > size {
            return Err(Error::BadReply {
                op: OP,
                what: "unmapped more than was asked",
            });
        }
        Ok(arg.size)
    }
}
