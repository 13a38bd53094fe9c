//! # vsva-vtd: an emulated scalable-mode Intel VT-d for VMMs
//!
//! A VMM instantiates one [`VtdUnit`] per guest IOMMU it exposes, wires its register
//! window to MMIO ([`MmioHandler`]), hands it the guest's memory (vm-memory's
//! [`GuestMemory`](vm_memory::GuestMemory)) and an MSI sink ([`MsiSink`]), and attaches the
//! assigned devices under the requester ids the guest sees. The guest's unmodified
//! intel-iommu driver then programs it as hardware: root, context and PASID tables in
//! its memory, the invalidation queue, the page request queue, the fault registers. The
//! unit turns that into the 2020 IOMMU UAPI requests of a [`vsva_viommu::Vm`]:
//!
//! - a first-stage PASID entry, announced by the PASID-cache invalidation that caching
//!   mode makes the guest send, becomes `bind_gpasid` (a host PASID the unit allocates
//!   for the guest PASID, `IOMMU_SVA_GPASID_VAL`); clearing it becomes `unbind_gpasid`;
//!   RID_PASID (PASID 0) and PASIDs ≥ 1 alike;
//! - PASID-based IOTLB invalidations become `cache_invalidate`, every run of the queue
//!   one batch that reaches the backend with one `flush` (one `IOMMU_HWPT_INVALIDATE`
//!   array per table on the iommufd backend); wait descriptors complete only after it;
//! - page requests the backend reports become page request descriptors in the guest's
//!   queue, and the guest's page group responses become `page_response`;
//! - the guest's own mistakes become the specification's faults: invalidation queue
//!   errors with IQH on the faulting descriptor, fault records and the fault event.
//!
//! See [`caps`] for what the unit offers on a given host and why, [`mapping`] for the
//! field-by-field translation, and the VMM guide (`docs/vtd.md`).
//!
//! ```
//! use std::sync::Arc;
//! use vm_memory::{GuestAddress, GuestMemoryMmap};
//! use vsva_viommu::soft::SoftwareIommu;
//! use vsva_viommu::{DeviceId, HostIommu, Viommu, VmConfig};
//! use vsva_vtd::{MmioHandler, VtdConfig, VtdUnit};
//!
//! let viommu = Viommu::new(SoftwareIommu::new(HostIommu::vtd_default()));
//! let vm = Arc::new(viommu.create_vm(VmConfig::default()));
//! let ram = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), 1 << 20)]).unwrap();
//! let unit = VtdUnit::new(vm, ram, |_, _| {}, VtdConfig::default()).unwrap();
//! unit.attach_device(0x0008, DeviceId(0x0300)).unwrap(); // guest 00:01.0
//!
//! // The guest reads CAP_REG: caching mode, ESRTPS, first-stage scalable mode.
//! let mut cap = [0u8; 8];
//! unit.mmio_read(0x08, &mut cap);
//! let cap = vsva_uapi::hw::vtd::Cap::decode_raw(u64::from_le_bytes(cap));
//! assert!(cap.cm && cap.esrtps);
//! assert!(unit.offer().ecap.smts && unit.offer().ecap.fsts);
//! ```

#![deny(unsafe_code)]

pub mod caps;
pub mod error;
pub mod explain;
pub mod mapping;
mod tables;
mod unit;

pub use caps::Offer;
pub use error::VtdError;
pub use unit::{MmioHandler, Msi, MsiSink, VtdConfig, VtdEvent, VtdStats, VtdUnit, MMIO_SIZE};
