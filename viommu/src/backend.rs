//! The hardware side: what a [`Backend`] is asked to do once a request has passed every
//! check. Requests reach it already decoded, validated against the host's capabilities,
//! checked for ownership and translated to host PASIDs, so a backend never sees
//! untrusted bytes and never needs to re-check them.
//!
//! The [`SoftwareIommu`](crate::soft::SoftwareIommu) model implements it for tests and for
//! VMMs without the hardware; an iommufd backend drives a real IOMMU through
//! `IOMMU_HWPT_ALLOC` / `IOMMU_HWPT_INVALIDATE` / the fault queue.

use vsva_uapi::consts::{
    CacheInvType, FaultPerm, PageResponseCode, PasidTableConfigKind, VtdGpasidFlags,
};
use vsva_uapi::Errno;

use crate::host::HostIommu;

/// A VM, as the host numbers them: unique for the life of a [`Viommu`](crate::Viommu)
/// (64 bits, counted from 1: a billion VMs a second would take 584 years to wrap).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VmId(pub u64);

/// A device: its PCI requester id (VT-d) or stream id (SMMUv3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceId(pub u32);

/// A host PASID: one of the system-wide PASIDs a [`Viommu`](crate::Viommu) allocates to
/// its VMs, the tag the hardware sees (as vm-memory's `GuestAddress` wraps a `u64`). The
/// wire structs keep the raw `u32` they carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct HostPasid(pub u32);

/// A guest PASID: the number a guest uses for one of its host PASIDs (VT-d
/// `IOMMU_SVA_GPASID_VAL`), what its page requests are reported with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct GuestPasid(pub u32);

impl HostPasid {
    /// The raw value.
    pub const fn raw_value(self) -> u32 {
        self.0
    }
}

impl GuestPasid {
    /// The raw value.
    pub const fn raw_value(self) -> u32 {
        self.0
    }
}

impl From<HostPasid> for u32 {
    fn from(p: HostPasid) -> u32 {
        p.0
    }
}

impl From<HostPasid> for u64 {
    fn from(p: HostPasid) -> u64 {
        u64::from(p.0)
    }
}

impl From<GuestPasid> for u32 {
    fn from(p: GuestPasid) -> u32 {
        p.0
    }
}

impl core::fmt::Display for HostPasid {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(&self.0, f)
    }
}

impl core::fmt::Display for GuestPasid {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(&self.0, f)
    }
}

impl core::fmt::LowerHex for HostPasid {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::LowerHex::fmt(&self.0, f)
    }
}

impl core::fmt::LowerHex for GuestPasid {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::LowerHex::fmt(&self.0, f)
    }
}

/// A guest first-level page table bound to a host PASID (VT-d `iommu_gpasid_bind_data`,
/// checked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GpasidBind {
    /// The host PASID (owned by the VM).
    pub hpasid: HostPasid,
    /// The guest PASID, when it differs from the host one (`IOMMU_SVA_GPASID_VAL`).
    pub gpasid: Option<GuestPasid>,
    /// Guest page directory base (a guest physical address).
    pub gpgd: u64,
    /// Guest address width: 48 (4-level) or 57 (5-level).
    pub addr_width: u32,
    /// The VT-d PASID-entry flags (SRE, EAFE, WPE; never a memory-type flag).
    pub vtd_flags: VtdGpasidFlags,
    /// Page attribute table.
    pub pat: u32,
    /// Extended memory type.
    pub emt: u32,
}

/// A guest PASID (context-descriptor) table bound to the VM's stream table entries
/// (SMMUv3 `iommu_pasid_table_config`, checked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasidTableBind {
    /// What the STE does with stage 1: translate through the guest table, bypass, abort.
    pub config: PasidTableConfigKind,
    /// Guest physical address of the CD table (translate only).
    pub base_ptr: u64,
    /// PASID bits of the table (≤ the host's SSIDSIZE).
    pub pasid_bits: u8,
    /// `STE.S1Fmt`: 0 linear, 1 two-level 4 KiB leaves, 2 two-level 64 KiB leaves.
    pub s1fmt: u8,
    /// `STE.S1DSS`: 0 terminate, 1 bypass, 2 substream 0 for untagged traffic.
    pub s1dss: u8,
}

/// What an invalidation covers, with host PASIDs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidationScope {
    /// Everything the VM has bound.
    Domain,
    /// Everything tagged with the PASID (or the whole VM without one) / the archid.
    Pasid {
        /// The host PASID, if the request named one.
        pasid: Option<HostPasid>,
        /// The architecture id (SMMUv3 ASID), if the request named one.
        archid: Option<u32>,
    },
    /// An address range.
    Addr {
        /// The host PASID, if the request named one.
        pasid: Option<HostPasid>,
        /// The architecture id, if the request named one.
        archid: Option<u32>,
        /// First address (rounded down to the granule).
        addr: u64,
        /// The last byte covered, inclusive: `addr + granule_size × nb_granules − 1`. A
        /// range may end exactly at 2^64 (`last` is then `u64::MAX`); none ends past it.
        last: u64,
        /// Granule size (a power of two, at least 4 KiB).
        granule_size: u64,
        /// Only leaf entries changed (`IOMMU_INV_ADDR_FLAGS_LEAF`).
        leaf: bool,
    },
}

/// One checked cache invalidation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invalidation {
    /// The caches (IOTLB, device IOTLB, PASID cache); never empty.
    pub caches: CacheInvType,
    /// What they cover.
    pub scope: InvalidationScope,
}

/// A page request (PCIe PRI, or an SMMUv3 stall) as the hardware reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// The backend's handle on this request (iommufd: the kernel's cookie), returned
    /// unchanged in its [`HostPageResponse`]: a response names exactly the request it
    /// answers, however many outstanding requests share the device, group and PASID.
    /// A backend that needs no handle passes 0.
    pub id: u64,
    /// The requesting device.
    pub device: DeviceId,
    /// The host PASID, if the request carried one.
    pub pasid: Option<HostPasid>,
    /// The page request group index.
    pub grpid: u32,
    /// Requested access.
    pub perm: FaultPerm,
    /// The page address.
    pub addr: u64,
    /// The last request of its group (only the last one is answered).
    pub last_page: bool,
    /// The response must carry the PASID (`IOMMU_FAULT_PAGE_RESPONSE_NEEDS_PASID`).
    pub needs_pasid: bool,
    /// Device-specific private data, returned with the response.
    pub private_data: Option<[u64; 2]>,
}

/// The answer to a page request, for the hardware.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostPageResponse {
    /// The answered request's [`PageRequest::id`].
    pub id: u64,
    /// The device the request came from.
    pub device: DeviceId,
    /// The request's host PASID, if it carried one.
    pub pasid: Option<HostPasid>,
    /// The group index answered.
    pub grpid: u32,
    /// Success, invalid, or failure.
    pub code: PageResponseCode,
}

/// The hardware side of a vIOMMU. Methods that return `()` cannot fail: the 2020 design
/// makes unbind, cache invalidation and page response infallible once the request is
/// valid, so a backend must complete them (or log and carry on). Every method may be
/// called concurrently for different VMs; calls for one VM are serialised by the caller,
/// except [`Backend::page_response`] for a request a VM's full inbox evicts, which comes
/// from the thread reporting page requests (see [`crate::Viommu::report_page_request`]).
pub trait Backend: Send + Sync {
    /// The host IOMMU's capabilities; constant for the backend's life.
    fn host(&self) -> &HostIommu;

    /// Installs a guest page table for `bind.hpasid` in every device of `vm`.
    ///
    /// # Errors
    /// The errno for the VM; the backend must leave no trace of a failed bind.
    fn bind_gpasid(&self, vm: VmId, bind: &GpasidBind) -> Result<(), Errno>;

    /// Removes the guest page table of `hpasid` (bound earlier by `vm`).
    fn unbind_gpasid(&self, vm: VmId, hpasid: HostPasid);

    /// Installs the guest PASID table (SMMUv3) for every device of `vm`.
    ///
    /// # Errors
    /// The errno for the VM; the backend must leave no trace of a failed bind.
    fn set_pasid_table(&self, vm: VmId, table: &PasidTableBind) -> Result<(), Errno>;

    /// Removes the guest PASID table of `vm` (installed earlier).
    fn clear_pasid_table(&self, vm: VmId);

    /// Invalidates the caches named by `inv` for `vm`.
    fn invalidate(&self, vm: VmId, inv: &Invalidation);

    /// Answers a page request (reported earlier for a device of `vm`).
    fn page_response(&self, vm: VmId, response: &HostPageResponse);

    /// Sends whatever the backend has queued for `vm` (batched invalidations) to the
    /// hardware now: the guest reached a synchronisation point (a VT-d invalidation wait,
    /// the end of a queue run) and may only proceed once everything before it has taken
    /// effect. A backend that sends each request at once does nothing (the default).
    fn flush(&self, vm: VmId) {
        let _ = vm;
    }
}

impl<B: Backend + ?Sized> Backend for std::sync::Arc<B> {
    fn host(&self) -> &HostIommu {
        (**self).host()
    }
    fn bind_gpasid(&self, vm: VmId, bind: &GpasidBind) -> Result<(), Errno> {
        (**self).bind_gpasid(vm, bind)
    }
    fn unbind_gpasid(&self, vm: VmId, hpasid: HostPasid) {
        (**self).unbind_gpasid(vm, hpasid)
    }
    fn set_pasid_table(&self, vm: VmId, table: &PasidTableBind) -> Result<(), Errno> {
        (**self).set_pasid_table(vm, table)
    }
    fn clear_pasid_table(&self, vm: VmId) {
        (**self).clear_pasid_table(vm)
    }
    fn invalidate(&self, vm: VmId, inv: &Invalidation) {
        (**self).invalidate(vm, inv)
    }
    fn page_response(&self, vm: VmId, response: &HostPageResponse) {
        (**self).page_response(vm, response)
    }
    fn flush(&self, vm: VmId) {
        (**self).flush(vm)
    }
}
