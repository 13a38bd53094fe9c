//! The iommufd [`Backend`](crate::backend::Backend): the 2020 IOMMU UAPI served on today's kernels, with real nested
//! page tables, through `vsva-vfio`'s iommufd and VFIO cdev wrappers.
//!
//! The 2020 nesting UAPI was never merged; today's kernels nest through iommufd. The
//! [`Viommu`](crate::Viommu) layer still speaks the 2020 API to its guests and checks every request;
//! [`IommufdBackend`] carries each checked request onto iommufd:
//!
//! | 2020 operation | iommufd |
//! |---|---|
//! | bind guest PASID (VT-d) | per device: a nest-parent HWPT on the VM's IOAS (allocated once, at the device's first bind), a nested HWPT with the [`StageOneFormat`]'s data (`IOMMU_HWPT_DATA_VTD_S1`: `gpgd` → `pgtbl_addr`, `addr_width`, SRE/EAFE/WPE), `FAULT_ID_VALID` with the backend's fault queue, and a PASID attach ([`DeviceAttach::attach_pasid`]) |
//! | unbind guest PASID | PASID detach, `IOMMU_DESTROY` of the nested HWPT |
//! | bind PASID table (SMMUv3) | per device: a nested HWPT with the two STE words ([`Smmuv3Ste`]), the device's RID attached to it |
//! | clear PASID table | the RID back on the VM's IOAS, the nested HWPT destroyed |
//! | cache invalidation | `IOMMU_HWPT_INVALIDATE` entries (`iommu_hwpt_vtd_s1_invalidate`) on the nested HWPT(s) of the named PASID, batched |
//! | page request | a record read from the fault queue fd ([`IommufdBackend::poll_faults`](crate::iommufd::IommufdBackend::poll_faults)) → [`Viommu::report_page_request`](crate::Viommu::report_page_request) |
//! | page response | a response record written to the fault fd with the kernel's cookie |
//! | features | [`probe_host`]: `IOMMU_GET_HW_INFO` plus a nest-parent allocation the kernel accepts or refuses |
//!
//! **A failure leaves no trace.** A bind that fails at any step (parent, nested HWPT,
//! attach, on any device of the VM) undoes the steps before it, in reverse, and returns
//! the kernel's errno; the [`Viommu`](crate::Viommu) then commits nothing either.
//!
//! **Batching.** Invalidations are queued per VM, keyed by the set of HWPTs they name;
//! consecutive invalidations of the same HWPT(s) go down as one entry array. The queue is
//! flushed when an invalidation names different HWPTs, when it holds
//! [`IommufdConfig::max_batch`](crate::iommufd::IommufdConfig::max_batch) entries, before any bind, unbind, table change or page
//! response of the VM, and on [`IommufdBackend::flush`](crate::iommufd::IommufdBackend::flush). The 2020 API makes an
//! invalidation complete when its request returns, so **a VMM that batches must call
//! [`IommufdBackend::flush`](crate::iommufd::IommufdBackend::flush) at the guest's synchronisation point** (VT-d's
//! invalidation-wait descriptor, SMMUv3's `CMD_SYNC`) before it reports completion; a
//! VMM without one sets `max_batch` to 1. A kernel that refuses an entry handles the ones
//! before it (`entry_num` written back): the backend records exactly that
//! ([`Diagnostic::InvalidateFailed`], [`IommufdStats`]), since an invalidation cannot fail
//! toward the guest.
//!
//! **Parameters.** The stage-1 payload is a [`StageOneFormat`] ([`VtdS1`], [`Smmuv3Ste`],
//! or the kernel's mock IOMMU in the kernel tier), and "attach this device's PASID to a
//! HWPT" is a [`DeviceAttach`] (the VFIO cdev, or the mock device's replace): the same
//! code drives every payload and every kind of device.
//!
//! **PASIDs** stay allocated by the [`Viommu`](crate::Viommu) (system-wide, random); the backend refuses
//! (`EINVAL`, no trace) a bind whose host PASID is beyond a device's
//! `out_max_pasid_log2`.
//!
//! Several VMs share one backend (one iommufd, one fault queue); each VM may hold several
//! devices, each registered with [`IommufdBackend::add_device`](crate::iommufd::IommufdBackend::add_device) alongside
//! [`Vm::attach_device`](crate::Vm::attach_device).
//!
//! ```
//! use std::sync::Arc;
//! use vsva_uapi::consts::NestingFeatures;
//! use vsva_vfio::cdev::CdevDevice;
//! use vsva_vfio::iommufd::Iommufd;
//! use vsva_viommu::iommufd::fake::FakeIommufd;
//! use vsva_viommu::iommufd::{probe_host, IommufdBackend, IommufdConfig, IommufdDevice, VtdS1};
//! use vsva_viommu::{DeviceId, Viommu, VmConfig};
//!
//! // A host with a nesting-capable iommufd (here the fake; on a real host the kernel).
//! let fake = FakeIommufd::new(true);
//! let path = fake.add_device(20);
//! let iommufd = Arc::new(Iommufd::open(fake.kernel()).unwrap());
//! let ioas = iommufd.ioas_alloc().unwrap();
//! let cdev = CdevDevice::open(fake.kernel(), &path).unwrap();
//! let dev_id = cdev.bind(&iommufd).unwrap();
//!
//! // What the host offers, from GET_HW_INFO and a nest-parent probe.
//! let probe = probe_host(&iommufd, dev_id, ioas).unwrap();
//! let host = probe.host.unwrap();
//! assert!(host.features().contains(NestingFeatures::BIND_PGTBL));
//!
//! let backend =
//!     IommufdBackend::new(Arc::clone(&iommufd), host, VtdS1, IommufdConfig::default()).unwrap();
//! let viommu = Viommu::new(backend);
//! let vm = viommu.create_vm(VmConfig::default());
//! let device = DeviceId(0x100);
//! vm.attach_device(device).unwrap();
//! let dev = IommufdDevice::new(dev_id, ioas, probe.hw_info.max_pasid_log2, Box::new(cdev));
//! viommu.backend().add_device(vm.id(), device, dev).unwrap();
//! // From here on the guest's binds, invalidations and page responses go to iommufd.
//! ```
//!
//! # References
//! `include/uapi/linux/iommufd.h` (`iommu_hwpt_alloc`, `iommu_hwpt_vtd_s1`,
//! `iommu_hwpt_arm_smmuv3`, `iommu_hwpt_invalidate`, `iommu_hwpt_vtd_s1_invalidate`,
//! `iommu_hwpt_pgfault`, `iommu_hwpt_page_response`); `drivers/iommu/iommufd/`;
//! `drivers/iommu/arm/arm-smmu-v3/arm-smmu-v3.h` (STE fields).

mod backend;
mod batch;
mod config;
#[cfg(any(test, feature = "testing"))]
pub mod fake;
mod faults;
mod format;
mod hwpt;
mod probe;

pub use backend::{DeviceObjects, IommufdBackend};
pub use config::{Diagnostic, IommufdConfig, IommufdDevice, IommufdStats, DIAGNOSTICS_KEPT};
pub use format::{DeviceAttach, InvalidationType, Smmuv3Ste, StageOneFormat, VtdS1};
pub use probe::{probe_host, HostProbe, NestingSupport};
