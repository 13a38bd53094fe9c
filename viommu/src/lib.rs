//! vsva-viommu: the host-side vIOMMU backend a VMM embeds to give its guests shared
//! virtual addressing through the 2020 IOMMU UAPI.
//!
//! It plays the role the kernel's IOMMU UAPI layer plays behind VFIO: the VMM's vIOMMU
//! emulation (or [`vsva_vfio::nesting::dispatch`], for guests that speak the VFIO nesting
//! envelope) hands it the guest's untrusted payload bytes; it decodes them with
//! `vsva-uapi` under the VM's `argsz` policy, checks them against the host IOMMU's
//! capabilities and against what the VM owns, and drives a [`Backend`].
//!
//! - [`Viommu`]: one per host IOMMU: the system-wide [`pasid::PasidSpace`] (PASIDs placed
//!   at random, drawn from the `vsva-rng` CSPRNG, [`vsva_rng`]), the device → VM routing of page requests, the
//!   `IOMMU_NESTING_FEAT_*` derived from the [`HostIommu`].
//! - [`Vm`]: one per guest: PASID alloc/free, guest page-table bind/unbind (VT-d), PASID
//!   table bind (SMMUv3), cache invalidation, page requests and responses, quotas,
//!   teardown on drop. It implements [`vsva_vfio::nesting::NestingHandler`].
//! - [`Backend`]: the hardware side; [`soft::SoftwareIommu`] is a software model of it,
//!   [`iommufd::IommufdBackend`] drives a real IOMMU through iommufd (nested HWPTs,
//!   `IOMMU_HWPT_INVALIDATE`, the fault queue).
//!
//! The crate is policy only: it makes no system call of its own and is
//! `#![forbid(unsafe_code)]`. Its neighbours in `viommu/` hold what does: `vsva-rng`
//! (`viommu/rng/`, the vDSO-style CSPRNG the PASID placement draws from) and `vsva-vmm`
//! (`viommu/vmm/`, a mini-VMM on `kvm-ioctls` whose real KVM guests drive this crate
//! through a paravirtual device: vsva embedded).
//!
//! The 2020 rules hold throughout: freeing PASIDs, unbinding, invalidating and answering a
//! page request cannot fail for a valid handle; every refusal is a [`ViommuError`] with the
//! kernel's errno and leaves all state as it was; a VM can only touch PASIDs, binds and
//! faults it owns.
//!
//! ```
//! use vsva_uapi::consts::{NestingOpCode, VFIO_IOMMU_NESTING_OP, VFIO_IOMMU_PASID_REQUEST};
//! use vsva_uapi::{GpasidBindData, GpasidBindDataVtd, NestingOp, PasidRequest, UapiStruct};
//! use vsva_vfio::nesting::dispatch;
//! use vsva_viommu::soft::SoftwareIommu;
//! use vsva_viommu::{HostIommu, Viommu, VmConfig};
//! use zerocopy::{FromZeros, IntoBytes};
//!
//! let model = SoftwareIommu::new(HostIommu::vtd_default());
//! let viommu = Viommu::new(model.clone());
//! let vm = viommu.create_vm(VmConfig::default());
//!
//! // The guest allocates a PASID through VFIO_IOMMU_PASID_REQUEST...
//! let req = PasidRequest::alloc(1, (1 << 20) - 1);
//! let pasid = dispatch(VFIO_IOMMU_PASID_REQUEST, req.as_bytes(), &vm).unwrap() as u32;
//!
//! // ...and binds its page table to it through the nesting envelope.
//! let mut bind = GpasidBindData::new_zeroed();
//! bind.argsz = 72;
//! bind.version = 1;
//! bind.addr_width = 48;
//! bind.gpgd = 0x1000;
//! bind.hpasid = u64::from(pasid);
//! bind.set_vtd(GpasidBindDataVtd::new_zeroed());
//! let mut env = [0u8; 80];
//! NestingOp::encode_envelope(NestingOpCode::BindPgtbl, bind.as_bytes(), &mut env).unwrap();
//! assert_eq!(dispatch(VFIO_IOMMU_NESTING_OP, &env, &vm), Ok(0));
//! assert_eq!(model.vm_state(vm.id()).pasid_entries[&vsva_viommu::HostPasid(pasid)].gpgd, 0x1000);
//!
//! // A second bind of the same PASID is refused, naming the rule (EBUSY), and changes
//! // nothing.
//! let e = dispatch(VFIO_IOMMU_NESTING_OP, &env, &vm).unwrap_err();
//! assert_eq!(
//!     e,
//!     vsva_vfio::nesting::DispatchError::Handler(vsva_viommu::ViommuError::AlreadyBound {
//!         hpasid: vsva_viommu::HostPasid(pasid)
//!     })
//! );
//! assert_eq!(e.errno(), vsva_uapi::Errno::EBUSY);
//! ```
#![forbid(unsafe_code)]

pub mod backend;
pub mod error;
#[cfg(feature = "vm-memory")]
pub mod guest;
pub mod host;
pub mod iommufd;
pub mod pasid;
pub mod soft;
mod vm;

pub use backend::{
    Backend, DeviceId, GpasidBind, GuestPasid, HostPageResponse, HostPasid, Invalidation,
    InvalidationScope, PageRequest, PasidTableBind, VmId,
};
pub use error::{Result, ViommuError};
pub use host::HostIommu;
pub use vm::{PendingFault, Unrouted, Viommu, Vm, VmConfig, VmSnapshot, VmStats};
