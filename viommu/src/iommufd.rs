//! The iommufd [`Backend`]: the 2020 IOMMU UAPI served on today's kernels, with real nested
//! page tables, through `vsva-vfio`'s iommufd and VFIO cdev wrappers.
//!
//! The 2020 nesting UAPI was never merged; today's kernels nest through iommufd. The
//! [`Viommu`] layer still speaks the 2020 API to its guests and checks every request;
//! [`IommufdBackend`] carries each checked request onto iommufd:
//!
//! | 2020 operation | iommufd |
//! |---|---|
//! | bind guest PASID (VT-d) | per device: a nest-parent HWPT on the VM's IOAS (allocated once, at the device's first bind), a nested HWPT with the [`StageOneFormat`]'s data (`IOMMU_HWPT_DATA_VTD_S1`: `gpgd` → `pgtbl_addr`, `addr_width`, SRE/EAFE/WPE), `FAULT_ID_VALID` with the backend's fault queue, and a PASID attach ([`DeviceAttach::attach_pasid`]) |
//! | unbind guest PASID | PASID detach, `IOMMU_DESTROY` of the nested HWPT |
//! | bind PASID table (SMMUv3) | per device: a nested HWPT with the two STE words ([`Smmuv3Ste`]), the device's RID attached to it |
//! | clear PASID table | the RID back on the VM's IOAS, the nested HWPT destroyed |
//! | cache invalidation | `IOMMU_HWPT_INVALIDATE` entries (`iommu_hwpt_vtd_s1_invalidate`) on the nested HWPT(s) of the named PASID, batched |
//! | page request | a record read from the fault queue fd ([`IommufdBackend::poll_faults`]) → [`Viommu::report_page_request`] |
//! | page response | a response record written to the fault fd with the kernel's cookie |
//! | features | [`probe_host`]: `IOMMU_GET_HW_INFO` plus a nest-parent allocation the kernel accepts or refuses |
//!
//! **A failure leaves no trace.** A bind that fails at any step (parent, nested HWPT,
//! attach, on any device of the VM) undoes the steps before it, in reverse, and returns
//! the kernel's errno; the [`Viommu`] then commits nothing either.
//!
//! **Batching.** Invalidations are queued per VM, keyed by the set of HWPTs they name;
//! consecutive invalidations of the same HWPT(s) go down as one entry array. The queue is
//! flushed when an invalidation names different HWPTs, when it holds
//! [`IommufdConfig::max_batch`] entries, before any bind, unbind, table change or page
//! response of the VM, and on [`IommufdBackend::flush`]. The 2020 API makes an
//! invalidation complete when its request returns, so **a VMM that batches must call
//! [`IommufdBackend::flush`] at the guest's synchronisation point** (VT-d's
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
//! **PASIDs** stay allocated by the [`Viommu`] (system-wide, random); the backend refuses
//! (`EINVAL`, no trace) a bind whose host PASID is beyond a device's
//! `out_max_pasid_log2`.
//!
//! Several VMs share one backend (one iommufd, one fault queue); each VM may hold several
//! devices, each registered with [`IommufdBackend::add_device`] alongside
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

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use vsva_uapi::consts::{
    CacheInvType, FaultPerm, PageResponseCode, PasidTableConfigKind, PgfaultFlags, VtdGpasidFlags,
    VtdInvFlags, VtdS1Flags,
};
use vsva_uapi::iommufd::{HwptPageResponse, HwptVtdS1, HwptVtdS1Invalidate};
use vsva_uapi::Errno;
use vsva_vfio::cdev::CdevDevice;
use vsva_vfio::iommufd::{
    DevId, FaultQueue, HwInfo, HwptAllocRequest, HwptData, HwptId, IoasId, Iommufd,
    HWPT_INVALIDATE_DATA_VTD_S1,
};
use zerocopy::{FromZeros, IntoBytes};

use crate::backend::{
    Backend, DeviceId, GpasidBind, Invalidation, InvalidationScope, PageRequest, PageResponse,
    PasidTableBind, VmId,
};
use crate::host::HostIommu;
use crate::Viommu;

// ------------------------------------------------------------------------------------
// Parameters: the stage-1 payload and the PASID attach.

/// The `IOMMU_HWPT_INVALIDATE` entry type of a [`StageOneFormat`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidationType {
    /// `iommu_hwpt_invalidate.data_type`.
    pub data_type: u32,
    /// `entry_len`: bytes per entry (the entry struct's size this build sends).
    pub entry_len: usize,
}

/// The stage-1 payload of nested HWPTs: the driver data of `IOMMU_HWPT_ALLOC` and the
/// entries of `IOMMU_HWPT_INVALIDATE`. [`VtdS1`] and [`Smmuv3Ste`] are the hardware
/// formats; the kernel tier plugs in the mock IOMMU's selftest format.
///
/// ```
/// use vsva_uapi::consts::{CacheInvType, VtdGpasidFlags};
/// use vsva_viommu::iommufd::{StageOneFormat, VtdS1};
/// use vsva_viommu::{GpasidBind, Invalidation, InvalidationScope};
/// use vsva_vfio::iommufd::HwptData;
///
/// let bind = GpasidBind {
///     hpasid: 5, gpasid: None, gpgd: 0x1234_5000, addr_width: 48,
///     vtd_flags: VtdGpasidFlags::SRE, pat: 0, emt: 0,
/// };
/// let HwptData::VtdS1(s1) = VtdS1.gpasid_data(&bind).unwrap() else { unreachable!() };
/// assert_eq!((s1.pgtbl_addr, s1.addr_width, s1.flags), (0x1234_5000, 48, 1));
///
/// let inv = Invalidation { caches: CacheInvType::IOTLB, scope: InvalidationScope::Domain };
/// let mut entries = Vec::new();
/// assert_eq!(VtdS1.invalidation_entries(&inv, &mut entries), 1);
/// assert_eq!(entries.len(), 24); // addr 0, npages u64::MAX: everything
/// ```
pub trait StageOneFormat: Send + Sync + fmt::Debug {
    /// A short name, for diagnostics.
    fn name(&self) -> &'static str;

    /// The nested-HWPT data for a guest page table bound to one PASID (VT-d).
    ///
    /// # Errors
    /// `EOPNOTSUPP` if the format has no per-PASID tables; `EINVAL` for a bind it cannot
    /// express.
    fn gpasid_data(&self, bind: &GpasidBind) -> Result<HwptData, Errno>;

    /// The nested-HWPT data for a guest PASID table (SMMUv3).
    ///
    /// # Errors
    /// `EOPNOTSUPP` if the format has no PASID tables (the default).
    fn pasid_table_data(&self, table: &PasidTableBind) -> Result<HwptData, Errno> {
        let _ = table;
        Err(Errno::EOPNOTSUPP)
    }

    /// The entry type nested HWPTs of this format take, or `None` if they take no
    /// `IOMMU_HWPT_INVALIDATE` (the invalidation is then counted as unsupported).
    fn invalidation_type(&self) -> Option<InvalidationType>;

    /// Appends the entries (each [`InvalidationType::entry_len`] bytes) that carry `inv`
    /// to `out` and returns how many; 0 when nothing needs to be sent (say, only the
    /// PASID cache is named, which iommufd manages itself).
    fn invalidation_entries(&self, inv: &Invalidation, out: &mut Vec<u8>) -> usize;
}

/// VT-d stage 1: `IOMMU_HWPT_DATA_VTD_S1` nested HWPTs and `iommu_hwpt_vtd_s1_invalidate`
/// entries (an example is on [`StageOneFormat`]).
///
/// - bind: `gpgd` → `pgtbl_addr`, `addr_width` as is, `IOMMU_SVA_VTD_GPASID_{SRE, EAFE,
///   WPE}` → `IOMMU_VTD_S1_{SRE, EAFE, WPE}` (the memory-type flags never reach a backend);
/// - invalidation: IOTLB or device-IOTLB named → one entry (the device TLB is flushed
///   with the IOTLB when ATS is on); domain or PASID scope → `addr` 0, `npages`
///   `u64::MAX`; address scope → `addr`, `len / 4096` pages, `LEAF` if only leaves
///   changed. The PASID cache alone → no entry (iommufd owns the PASID entries).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VtdS1;

impl StageOneFormat for VtdS1 {
    fn name(&self) -> &'static str {
        "vtd_s1"
    }

    fn gpasid_data(&self, bind: &GpasidBind) -> Result<HwptData, Errno> {
        let mut s1 = HwptVtdS1::new_zeroed();
        let mut flags = VtdS1Flags::empty();
        flags.set(
            VtdS1Flags::SRE,
            bind.vtd_flags.contains(VtdGpasidFlags::SRE),
        );
        flags.set(
            VtdS1Flags::EAFE,
            bind.vtd_flags.contains(VtdGpasidFlags::EAFE),
        );
        flags.set(
            VtdS1Flags::WPE,
            bind.vtd_flags.contains(VtdGpasidFlags::WPE),
        );
        s1.flags = flags.bits();
        s1.pgtbl_addr = bind.gpgd;
        s1.addr_width = bind.addr_width;
        Ok(HwptData::VtdS1(s1))
    }

    fn invalidation_type(&self) -> Option<InvalidationType> {
        Some(InvalidationType {
            data_type: HWPT_INVALIDATE_DATA_VTD_S1,
            entry_len: core::mem::size_of::<HwptVtdS1Invalidate>(),
        })
    }

    fn invalidation_entries(&self, inv: &Invalidation, out: &mut Vec<u8>) -> usize {
        if !inv
            .caches
            .intersects(CacheInvType::IOTLB | CacheInvType::DEV_IOTLB)
        {
            return 0;
        }
        let mut e = HwptVtdS1Invalidate::new_zeroed();
        match inv.scope {
            InvalidationScope::Domain | InvalidationScope::Pasid { .. } => {
                e.addr = 0;
                e.npages = u64::MAX;
            }
            InvalidationScope::Addr {
                addr, last, leaf, ..
            } => {
                // The vIOMMU layer checked: granule ≥ 4 KiB, a power of two, addr aligned
                // to it, `addr <= last` (the end may be exactly 2^64).
                e.addr = addr & !0xfff;
                e.npages = ((last - e.addr) >> 12) + 1;
                if leaf {
                    e.flags = VtdInvFlags::LEAF.bits();
                }
            }
        }
        out.extend_from_slice(e.as_bytes());
        1
    }
}

/// SMMUv3: `IOMMU_HWPT_DATA_ARM_SMMUV3` nested HWPTs carrying the guest's STE words
/// (`iommu_hwpt_arm_smmuv3 { __le64 ste[2] }`).
///
/// Bit positions (Arm IHI 0070 §5.2 "Stream Table Entry"; Linux `arm-smmu-v3.h`
/// `STRTAB_STE_*`):
///
/// | word | bits | field | from |
/// |---|---|---|---|
/// | 0 | 0 | V | 1 |
/// | 0 | 3:1 | Config | translate 0b101 (S1 translate), bypass 0b100, abort 0b000 |
/// | 0 | 5:4 | S1Fmt | `s1fmt` (translate only) |
/// | 0 | 51:6 | S1ContextPtr | `base_ptr & GENMASK(51, 6)` (translate only) |
/// | 0 | 63:59 | S1CDMax | `pasid_bits` (translate only) |
/// | 1 | 1:0 | S1DSS | `s1dss` (translate only) |
///
/// **Unverified**: these positions come from the driver's header, not a kernel run
/// (no SMMUv3 in the kernel tier). Mainline's SMMUv3 nesting (≥ 6.13) allocates nested
/// HWPTs on a vIOMMU object and takes invalidations as `CMDQ` commands on that object
/// (`IOMMU_VIOMMU_INVALIDATE_DATA_ARM_SMMUV3`), neither of which `vsva-vfio` wraps yet:
/// this format allocates on the nest parent and its nested HWPTs take no
/// `IOMMU_HWPT_INVALIDATE` ([`IommufdStats::invalidations_unsupported`] counts them).
///
/// ```
/// use vsva_uapi::consts::PasidTableConfigKind;
/// use vsva_viommu::iommufd::Smmuv3Ste;
/// use vsva_viommu::PasidTableBind;
/// let t = PasidTableBind {
///     config: PasidTableConfigKind::Translate, base_ptr: 0x8000_0040,
///     pasid_bits: 10, s1fmt: 1, s1dss: 2,
/// };
/// let [w0, w1] = Smmuv3Ste::ste(&t);
/// assert_eq!(w0 & 0xf, 0b1011); // V, Config 0b101
/// assert_eq!((w0 >> 4) & 3, 1);
/// assert_eq!(w0 & 0x000f_ffff_ffff_ffc0, 0x8000_0040);
/// assert_eq!(w0 >> 59, 10);
/// assert_eq!(w1 & 3, 2);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Smmuv3Ste;

/// `STRTAB_STE_0_V`.
const STE0_V: u64 = 1;
/// `STRTAB_STE_0_CFG` shift (bits 3:1).
const STE0_CFG_SHIFT: u32 = 1;
/// `STRTAB_STE_0_S1FMT` shift (bits 5:4).
const STE0_S1FMT_SHIFT: u32 = 4;
/// `STRTAB_STE_0_S1CTXPTR_MASK`: `GENMASK_ULL(51, 6)`.
const STE0_S1CTXPTR_MASK: u64 = ((1u64 << 52) - 1) & !((1u64 << 6) - 1);
/// `STRTAB_STE_0_S1CDMAX` shift (bits 63:59).
const STE0_S1CDMAX_SHIFT: u32 = 59;

impl Smmuv3Ste {
    /// The two STE words for `table`.
    pub fn ste(table: &PasidTableBind) -> [u64; 2] {
        let cfg: u64 = match table.config {
            PasidTableConfigKind::Translate => 0b101,
            PasidTableConfigKind::Bypass => 0b100,
            PasidTableConfigKind::Abort => 0b000,
        };
        let mut w0 = STE0_V | (cfg << STE0_CFG_SHIFT);
        let mut w1 = 0;
        if table.config == PasidTableConfigKind::Translate {
            w0 |= (u64::from(table.s1fmt) & 0b11) << STE0_S1FMT_SHIFT;
            w0 |= table.base_ptr & STE0_S1CTXPTR_MASK;
            w0 |= (u64::from(table.pasid_bits) & 0x1f) << STE0_S1CDMAX_SHIFT;
            w1 |= u64::from(table.s1dss) & 0b11;
        }
        [w0, w1]
    }
}

impl StageOneFormat for Smmuv3Ste {
    fn name(&self) -> &'static str {
        "arm_smmuv3"
    }

    fn gpasid_data(&self, _bind: &GpasidBind) -> Result<HwptData, Errno> {
        Err(Errno::EOPNOTSUPP)
    }

    fn pasid_table_data(&self, table: &PasidTableBind) -> Result<HwptData, Errno> {
        let [w0, w1] = Self::ste(table);
        let mut bytes = Vec::with_capacity(16);
        bytes.extend_from_slice(&w0.to_le_bytes());
        bytes.extend_from_slice(&w1.to_le_bytes());
        Ok(HwptData::ArmSmmuv3(bytes))
    }

    fn invalidation_type(&self) -> Option<InvalidationType> {
        None
    }

    fn invalidation_entries(&self, _inv: &Invalidation, _out: &mut Vec<u8>) -> usize {
        0
    }
}

/// Attaches a device's PASID (or its RID) to a page table. [`CdevDevice`] implements it
/// with `VFIO_DEVICE_{ATTACH,DETACH}_IOMMUFD_PT`; the kernel tier's mock device with
/// `IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE` (which has no PASID).
///
/// ```
/// use vsva_viommu::iommufd::DeviceAttach;
/// use vsva_vfio::iommufd::HwptId;
///
/// /// A device that can only replace its one page table.
/// #[derive(Debug)]
/// struct Replace;
/// impl DeviceAttach for Replace {
///     fn attach_pasid(&self, _pasid: u32, hwpt: HwptId) -> vsva_vfio::Result<()> {
///         self.attach_rid(hwpt.0)
///     }
///     fn detach_pasid(&self, _pasid: u32, parent: HwptId) -> vsva_vfio::Result<()> {
///         self.attach_rid(parent.0)
///     }
///     fn attach_rid(&self, _pt: u32) -> vsva_vfio::Result<()> {
///         Ok(())
///     }
/// }
/// ```
pub trait DeviceAttach: Send + Sync + fmt::Debug {
    /// Attaches `pasid` of the device to `hwpt`.
    ///
    /// # Errors
    /// The kernel's refusal.
    fn attach_pasid(&self, pasid: u32, hwpt: HwptId) -> vsva_vfio::Result<()>;

    /// Detaches `pasid` (attached earlier); `parent` is the device's nest parent, for
    /// devices that cannot leave a PASID unattached.
    ///
    /// # Errors
    /// The kernel's refusal.
    fn detach_pasid(&self, pasid: u32, parent: HwptId) -> vsva_vfio::Result<()>;

    /// Attaches (or moves) the device's RID to `pt` (a HWPT or an IOAS).
    ///
    /// # Errors
    /// The kernel's refusal.
    fn attach_rid(&self, pt: u32) -> vsva_vfio::Result<()>;
}

impl DeviceAttach for CdevDevice {
    fn attach_pasid(&self, pasid: u32, hwpt: HwptId) -> vsva_vfio::Result<()> {
        CdevDevice::attach_pasid(self, pasid, hwpt).map(drop)
    }

    fn detach_pasid(&self, pasid: u32, _parent: HwptId) -> vsva_vfio::Result<()> {
        CdevDevice::detach_pasid(self, pasid)
    }

    fn attach_rid(&self, pt: u32) -> vsva_vfio::Result<()> {
        CdevDevice::attach(self, pt).map(drop)
    }
}

// ------------------------------------------------------------------------------------
// Features.

/// Whether the host nests, and if not, who said no.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NestingSupport {
    /// The hardware nests and the kernel allocated a nest parent.
    Supported,
    /// The capability registers say no (VT-d `ECAP.NEST`/`FLTS`/`SMTS`, SMMUv3 `S1P`+`S2P`),
    /// or the IOMMU is of a type vsva does not decode.
    NotInHardware,
    /// The registers say yes but the kernel refused a nest-parent HWPT with this errno
    /// (`EOPNOTSUPP`: a driver without nesting).
    RefusedByKernel(Errno),
}

/// What [`probe_host`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostProbe {
    /// `IOMMU_GET_HW_INFO` for the probing device.
    pub hw_info: HwInfo,
    /// Nesting, as the hardware and the kernel agree on it.
    pub nesting: NestingSupport,
    /// The host as the vIOMMU layer should see it (its features follow from it), with
    /// nesting masked off unless [`NestingSupport::Supported`]; `None` for an IOMMU type
    /// vsva does not decode.
    pub host: Option<HostIommu>,
}

impl fmt::Display for HostProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.host {
            Some(HostIommu::Vtd(_)) => "Intel VT-d",
            Some(HostIommu::Smmuv3(_)) => "Arm SMMUv3",
            None => "an IOMMU vsva does not decode",
        };
        write!(f, "{kind} (hw info type {}): ", self.hw_info.data_type)?;
        match self.nesting {
            NestingSupport::Supported => f.write_str("nesting supported")?,
            NestingSupport::NotInHardware => f.write_str("no nesting: the hardware lacks it")?,
            NestingSupport::RefusedByKernel(e) => {
                write!(f, "no nesting: the kernel refused a nest parent ({e})")?
            }
        }
        write!(
            f,
            "; device PASID width {} bits",
            self.hw_info.max_pasid_log2
        )?;
        if let Some(h) = self.host {
            write!(f, "; features {:?}", h.features())?;
        }
        Ok(())
    }
}

/// VT-d `ECAP.NEST` (the fake host clears it when it models no nesting).
#[cfg(any(test, feature = "testing"))]
const ECAP_NEST: u64 = vsva_uapi::hw::vtd::EcapFlags::NEST.bits();

/// Derives what the iommufd backend can offer a guest on this host: `IOMMU_GET_HW_INFO`
/// for `dev` (VT-d CAP/ECAP decoded with [`VtdCapabilities::decode`], SMMUv3 IDRs with
/// [`Smmuv3Capabilities::decode`]) and a nest-parent `IOMMU_HWPT_ALLOC` on `ioas`
/// (destroyed at once), through [`vsva_vfio::features::iommufd_backend::probe_on`], the
/// probe `vsva features` reports with. A kernel that refuses it (`EOPNOTSUPP`) means no
/// nesting, whatever the registers say: [`HostProbe::host`] then has `ECAP.NEST` (VT-d)
/// or `IDR0.S2P` (SMMUv3) cleared, so the derived features offer no bind.
///
/// An example is in the [module documentation](self).
///
/// [`VtdCapabilities::decode`]: vsva_vfio::vtd::VtdCapabilities::decode
/// [`Smmuv3Capabilities::decode`]: vsva_vfio::smmuv3::Smmuv3Capabilities::decode
///
/// # Errors
/// `IOMMU_GET_HW_INFO`'s error; a nest-parent refusal other than `EOPNOTSUPP`.
pub fn probe_host(iommufd: &Iommufd, dev: DevId, ioas: IoasId) -> vsva_vfio::Result<HostProbe> {
    // The probe and the register masking live in vsva-vfio, shared with `vsva features`.
    use vsva_vfio::features::iommufd_backend as shared;
    let hw_info = iommufd.hw_info(dev)?;
    let offer = shared::probe_on(iommufd, dev, ioas, &hw_info)?;
    if let Err(e) = offer.nest_parent {
        if e != Errno::EOPNOTSUPP {
            return Err(vsva_vfio::Error::ioctl("IOMMU_HWPT_ALLOC", e));
        }
    }
    let nesting = match offer.nesting {
        shared::NestingSupport::Supported => NestingSupport::Supported,
        shared::NestingSupport::NotInHardware => NestingSupport::NotInHardware,
        shared::NestingSupport::RefusedByKernel(e) => NestingSupport::RefusedByKernel(e),
    };
    let host = match (offer.vtd, offer.smmuv3) {
        (Some(v), _) => Some(HostIommu::Vtd(v)),
        (None, Some(s)) => Some(HostIommu::Smmuv3(s)),
        (None, None) => None,
    };
    Ok(HostProbe {
        hw_info,
        nesting,
        host,
    })
}

// ------------------------------------------------------------------------------------
// The backend.

/// Settings of an [`IommufdBackend`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IommufdConfig {
    /// The most invalidation entries one HWPT's batch holds before it is sent (at least
    /// 1; 1 sends every invalidation at once). Default 64.
    pub max_batch: usize,
    /// Allocate a fault queue and attach every nested HWPT to it (`FAULT_ID_VALID`), so
    /// page requests reach [`IommufdBackend::poll_faults`]. Default `true`.
    pub page_requests: bool,
    /// Allocate nest parents and nested HWPTs with `IOMMU_HWPT_ALLOC_PASID` (v6.15+,
    /// which wants it for a HWPT attached to a PASID; older kernels refuse the flag).
    /// Default `false`. **Unverified** against a 6.15 kernel.
    pub alloc_pasid_flag: bool,
}

impl Default for IommufdConfig {
    fn default() -> IommufdConfig {
        IommufdConfig {
            max_batch: 64,
            page_requests: true,
            alloc_pasid_flag: false,
        }
    }
}

/// A device as the backend drives it (registered with [`IommufdBackend::add_device`]).
#[derive(Debug)]
pub struct IommufdDevice {
    /// The device's iommufd id (`VFIO_DEVICE_BIND_IOMMUFD`'s `out_devid`).
    pub dev_id: DevId,
    /// The VM's IOAS (the stage 2: guest physical → host physical).
    pub ioas: IoasId,
    /// The device's PASID width (`IOMMU_GET_HW_INFO`'s `out_max_pasid_log2`).
    pub max_pasid_log2: u8,
    /// How its PASIDs and RID are attached.
    pub attach: Box<dyn DeviceAttach>,
}

impl IommufdDevice {
    /// A device with these ids and attach (an example is in the [module documentation](self)).
    pub fn new(
        dev_id: DevId,
        ioas: IoasId,
        max_pasid_log2: u8,
        attach: Box<dyn DeviceAttach>,
    ) -> IommufdDevice {
        IommufdDevice {
            dev_id,
            ioas,
            max_pasid_log2,
            attach,
        }
    }

    fn pasid_fits(&self, pasid: u64) -> bool {
        u32::from(self.max_pasid_log2) >= 64 || pasid >> self.max_pasid_log2 == 0
    }
}

/// Counters of an [`IommufdBackend`] (an example is on [`IommufdBackend::stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IommufdStats {
    /// HWPTs allocated (nest parents and nested).
    pub hwpts_allocated: u64,
    /// HWPTs destroyed.
    pub hwpts_destroyed: u64,
    /// `IOMMU_HWPT_INVALIDATE` calls.
    pub invalidate_calls: u64,
    /// Invalidation entries sent.
    pub entries_sent: u64,
    /// Invalidation entries the kernel reported handled.
    pub entries_handled: u64,
    /// Calls the kernel failed (some entries unhandled; see [`Diagnostic::InvalidateFailed`]).
    pub invalidate_failures: u64,
    /// Invalidations with nothing to send: no HWPT bound for the scope, or no cache the
    /// format sends (the PASID cache alone).
    pub invalidations_skipped: u64,
    /// Invalidations the format's nested HWPTs cannot take ([`StageOneFormat::invalidation_type`] `None`).
    pub invalidations_unsupported: u64,
    /// Fault records read from the fault queue.
    pub faults_read: u64,
    /// Fault records for a device no VM holds (answered `INVALID` by the backend).
    pub faults_unrouted: u64,
    /// Page responses written to the fault queue.
    pub responses_sent: u64,
    /// Page responses with no cookie on record (the kernel already answered the group,
    /// say on a detach): nothing to send.
    pub responses_unmatched: u64,
    /// Steps of an unbind, a clear, a rollback or a teardown the kernel refused
    /// (see [`Diagnostic::TeardownFailed`]).
    pub teardown_errors: u64,
}

/// A kernel refusal the backend could not return to anyone (the 2020 API makes these
/// operations infallible), kept for the VMM to inspect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Diagnostic {
    /// `IOMMU_HWPT_INVALIDATE` stopped early: entries `0..handled` of the `sent` were
    /// carried out, entry `handled` was refused with `errno`, the rest were not tried.
    InvalidateFailed {
        /// The VM.
        vm: VmId,
        /// The nested HWPT.
        hwpt: HwptId,
        /// Entries in the call.
        sent: usize,
        /// Entries the kernel reported handled (`entry_num` written back).
        handled: usize,
        /// The kernel's errno.
        errno: Errno,
    },
    /// A detach, destroy or re-attach failed during an unbind, clear, rollback or teardown.
    TeardownFailed {
        /// What was being done (`"destroy"`, `"detach_pasid"`, `"attach_rid"`).
        op: &'static str,
        /// The object or PASID concerned.
        id: u32,
        /// The kernel's errno.
        errno: Errno,
    },
    /// Writing a page response to the fault queue failed.
    ResponseFailed {
        /// The cookie.
        cookie: u32,
        /// The kernel's errno.
        errno: Errno,
    },
}

/// How many diagnostics are kept (older ones are dropped; the counters keep counting).
pub const DIAGNOSTICS_KEPT: usize = 256;

/// Fault records read per `read(2)` of the fault fd.
const FAULT_BATCH: usize = 32;

/// The iommufd objects one device holds for its VM.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceObjects {
    /// The nest parent (allocated at the device's first bind, kept until it is removed).
    pub parent: Option<HwptId>,
    /// Nested HWPTs by host PASID (VT-d binds).
    pub nested: BTreeMap<u32, HwptId>,
    /// The nested HWPT of the guest PASID table (SMMUv3).
    pub table: Option<HwptId>,
}

#[derive(Debug)]
struct DeviceEntry {
    dev: IommufdDevice,
    objects: DeviceObjects,
}

/// One batch of invalidation entries for one HWPT.
#[derive(Debug)]
struct Batch {
    hwpt: HwptId,
    entries: Vec<u8>,
    count: usize,
}

#[derive(Debug, Default)]
struct VmEntry {
    devices: BTreeMap<DeviceId, DeviceEntry>,
    binds: BTreeMap<u32, GpasidBind>,
    table: Option<PasidTableBind>,
    pending: Vec<Batch>,
}

#[derive(Debug, Default)]
struct Routes {
    by_dev_id: HashMap<DevId, DeviceId>,
    vm_of: HashMap<DeviceId, VmId>,
}

/// What an outstanding cookie was issued for: the device and the host PASID (what a
/// detach or unbind answers in the kernel).
type CookieOwner = (DeviceId, Option<u32>);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every update is committed after its fallible steps: a poisoned lock is coherent.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The iommufd [`Backend`] (see the [module documentation](self) for the mapping and an
/// example). `F` is the stage-1 payload.
pub struct IommufdBackend<F: StageOneFormat> {
    iommufd: Arc<Iommufd>,
    host: HostIommu,
    format: F,
    config: IommufdConfig,
    fault: Option<FaultQueue>,
    vms: RwLock<HashMap<VmId, Arc<Mutex<VmEntry>>>>,
    routes: RwLock<Routes>,
    /// The kernel's cookies of the outstanding groups: a response finds its own by the
    /// [`PageRequest::id`] it carries, never by (device, group, PASID), which two
    /// outstanding groups may share.
    cookies: Mutex<HashMap<u32, CookieOwner>>,
    stats: Mutex<IommufdStats>,
    diagnostics: Mutex<VecDeque<Diagnostic>>,
}

impl<F: StageOneFormat> fmt::Debug for IommufdBackend<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IommufdBackend")
            .field("host", &self.host)
            .field("format", &self.format)
            .field("config", &self.config)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl<F: StageOneFormat> IommufdBackend<F> {
    /// A backend on `iommufd` for a host IOMMU described by `host` (from [`probe_host`],
    /// or given: the kernel tier's mock IOMMU has no VT-d registers), with stage-1
    /// payloads in `format`. Allocates the fault queue if `config.page_requests`.
    ///
    /// # Errors
    /// `IOMMU_FAULT_QUEUE_ALLOC`'s error (`ENOTTY` before v6.11: set `page_requests`
    /// false on such a kernel).
    pub fn new(
        iommufd: Arc<Iommufd>,
        host: HostIommu,
        format: F,
        config: IommufdConfig,
    ) -> vsva_vfio::Result<IommufdBackend<F>> {
        let fault = if config.page_requests {
            Some(iommufd.fault_queue_alloc()?)
        } else {
            None
        };
        Ok(IommufdBackend {
            iommufd,
            host,
            format,
            config: IommufdConfig {
                max_batch: config.max_batch.max(1),
                ..config
            },
            fault,
            vms: RwLock::new(HashMap::new()),
            routes: RwLock::new(Routes::default()),
            cookies: Mutex::new(HashMap::new()),
            stats: Mutex::new(IommufdStats::default()),
            diagnostics: Mutex::new(VecDeque::new()),
        })
    }

    /// The iommufd.
    pub fn iommufd(&self) -> &Arc<Iommufd> {
        &self.iommufd
    }

    /// The stage-1 format.
    pub fn format(&self) -> &F {
        &self.format
    }

    /// The fault queue, if any.
    pub fn fault_queue(&self) -> Option<&FaultQueue> {
        self.fault.as_ref()
    }

    /// The counters.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use vsva_viommu::iommufd::{fake::FakeIommufd, IommufdBackend, IommufdConfig, VtdS1};
    /// # use vsva_viommu::HostIommu;
    /// # let fake = FakeIommufd::new(true);
    /// # let iommufd = Arc::new(vsva_vfio::iommufd::Iommufd::open(fake.kernel()).unwrap());
    /// let backend = IommufdBackend::new(iommufd, HostIommu::vtd_default(), VtdS1,
    ///     IommufdConfig::default()).unwrap();
    /// assert_eq!(backend.stats().invalidate_calls, 0);
    /// assert!(backend.diagnostics().is_empty());
    /// ```
    pub fn stats(&self) -> IommufdStats {
        *lock(&self.stats)
    }

    /// The most recent kernel refusals the backend absorbed, oldest first (at most
    /// [`DIAGNOSTICS_KEPT`]).
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        lock(&self.diagnostics).iter().copied().collect()
    }

    /// The iommufd objects `device` holds now (`None` if it is not registered).
    pub fn device_objects(&self, device: DeviceId) -> Option<DeviceObjects> {
        let vm = *self.routes.read().ok()?.vm_of.get(&device)?;
        let entry = self.vm_entry(vm)?;
        let st = lock(&entry);
        st.devices.get(&device).map(|d| d.objects.clone())
    }

    fn vm_entry(&self, vm: VmId) -> Option<Arc<Mutex<VmEntry>>> {
        self.vms
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&vm)
            .cloned()
    }

    fn vm_entry_or_new(&self, vm: VmId) -> Arc<Mutex<VmEntry>> {
        if let Some(e) = self.vm_entry(vm) {
            return e;
        }
        let mut vms = self.vms.write().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(vms.entry(vm).or_default())
    }

    fn diagnose(&self, d: Diagnostic) {
        let mut q = lock(&self.diagnostics);
        if q.len() == DIAGNOSTICS_KEPT {
            q.pop_front();
        }
        q.push_back(d);
    }

    fn teardown_error(&self, op: &'static str, id: u32, e: &vsva_vfio::Error) {
        lock(&self.stats).teardown_errors += 1;
        self.diagnose(Diagnostic::TeardownFailed {
            op,
            id,
            errno: e.errno(),
        });
    }

    // ---- devices ---------------------------------------------------------------------

    /// Registers `device` (the vIOMMU's id for it) of `vm` with its iommufd identity. The
    /// VM's current binds and PASID table are installed on it (all or nothing). Call it
    /// next to [`Vm::attach_device`](crate::Vm::attach_device).
    ///
    /// # Errors
    /// `EBUSY` if the device (or its `dev_id`) is registered already; the kernel's errno
    /// if installing a current bind fails (nothing is left behind).
    pub fn add_device(&self, vm: VmId, device: DeviceId, dev: IommufdDevice) -> Result<(), Errno> {
        let mut routes = self.routes.write().unwrap_or_else(PoisonError::into_inner);
        if routes.vm_of.contains_key(&device) || routes.by_dev_id.contains_key(&dev.dev_id) {
            return Err(Errno::EBUSY);
        }
        let entry = self.vm_entry_or_new(vm);
        let mut st = lock(&entry);
        self.flush_locked(vm, &mut st);
        let mut d = DeviceEntry {
            dev,
            objects: DeviceObjects::default(),
        };
        let binds: Vec<GpasidBind> = st.binds.values().copied().collect();
        for bind in &binds {
            if !d.dev.pasid_fits(u64::from(bind.hpasid)) {
                self.uninstall_all(&mut d);
                return Err(Errno::EINVAL);
            }
            let data = self.format.gpasid_data(bind)?;
            if let Err(e) = self.install_pasid(&mut d, bind.hpasid, &data) {
                self.uninstall_all(&mut d);
                return Err(e);
            }
        }
        if let Some(table) = st.table {
            let r = self
                .format
                .pasid_table_data(&table)
                .and_then(|data| self.install_table(&mut d, &data));
            if let Err(e) = r {
                self.uninstall_all(&mut d);
                return Err(e);
            }
        }
        routes.by_dev_id.insert(d.dev.dev_id, device);
        routes.vm_of.insert(device, vm);
        st.devices.insert(device, d);
        Ok(())
    }

    /// Unregisters `device`: its PASIDs are detached, its RID put back on its IOAS if a
    /// guest table held it, and every HWPT it held (nested and parent) destroyed. Its
    /// page requests not yet answered are forgotten (the kernel answers them on detach).
    /// Removing an unknown device does nothing.
    pub fn remove_device(&self, device: DeviceId) {
        let mut routes = self.routes.write().unwrap_or_else(PoisonError::into_inner);
        let Some(vm) = routes.vm_of.remove(&device) else {
            return;
        };
        let Some(entry) = self.vm_entry(vm) else {
            return;
        };
        let mut st = lock(&entry);
        self.flush_locked(vm, &mut st);
        if let Some(mut d) = st.devices.remove(&device) {
            routes.by_dev_id.remove(&d.dev.dev_id);
            self.uninstall_all(&mut d);
        }
        drop(st);
        drop(routes);
        lock(&self.cookies).retain(|_, o| o.0 != device);
    }

    // ---- HWPT steps ------------------------------------------------------------------

    fn alloc(&self, req: HwptAllocRequest) -> Result<HwptId, Errno> {
        let req = if self.config.alloc_pasid_flag {
            req.pasid()
        } else {
            req
        };
        let id = self.iommufd.hwpt_alloc(&req).map_err(|e| e.errno())?;
        lock(&self.stats).hwpts_allocated += 1;
        Ok(id)
    }

    fn destroy(&self, id: HwptId) {
        match self.iommufd.destroy(id) {
            Ok(()) => lock(&self.stats).hwpts_destroyed += 1,
            Err(e) => self.teardown_error("destroy", id.0, &e),
        }
    }

    /// The device's nest parent, allocated if it has none (`true`: allocated now).
    fn ensure_parent(&self, d: &mut DeviceEntry) -> Result<(HwptId, bool), Errno> {
        if let Some(p) = d.objects.parent {
            return Ok((p, false));
        }
        let p = self.alloc(HwptAllocRequest::new(d.dev.dev_id, d.dev.ioas).nest_parent())?;
        d.objects.parent = Some(p);
        Ok((p, true))
    }

    fn drop_parent_if(&self, d: &mut DeviceEntry, created: bool) {
        if created {
            if let Some(p) = d.objects.parent.take() {
                self.destroy(p);
            }
        }
    }

    fn alloc_nested(
        &self,
        d: &DeviceEntry,
        parent: HwptId,
        data: &HwptData,
    ) -> Result<HwptId, Errno> {
        let mut req = HwptAllocRequest::new(d.dev.dev_id, parent).data(data.clone());
        if let Some(q) = &self.fault {
            req = req.fault(q.id);
        }
        self.alloc(req)
    }

    /// Parent (if needed), nested HWPT, PASID attach; each failure undoes the steps
    /// before it. Returns whether the parent was allocated now.
    fn install_pasid(
        &self,
        d: &mut DeviceEntry,
        hpasid: u32,
        data: &HwptData,
    ) -> Result<bool, Errno> {
        let (parent, created) = self.ensure_parent(d)?;
        let nested = match self.alloc_nested(d, parent, data) {
            Ok(h) => h,
            Err(e) => {
                self.drop_parent_if(d, created);
                return Err(e);
            }
        };
        if let Err(e) = d.dev.attach.attach_pasid(hpasid, nested) {
            self.destroy(nested);
            self.drop_parent_if(d, created);
            return Err(e.errno());
        }
        d.objects.nested.insert(hpasid, nested);
        Ok(created)
    }

    fn uninstall_pasid(&self, d: &mut DeviceEntry, hpasid: u32) {
        let Some(nested) = d.objects.nested.remove(&hpasid) else {
            return;
        };
        let parent = d.objects.parent.unwrap_or(nested);
        if let Err(e) = d.dev.attach.detach_pasid(hpasid, parent) {
            self.teardown_error("detach_pasid", hpasid, &e);
        }
        self.destroy(nested);
    }

    /// Parent (if needed), nested HWPT with the table, RID moved onto it; the old table
    /// HWPT (if any) is destroyed only after the move. Each failure undoes the steps
    /// before it.
    fn install_table(&self, d: &mut DeviceEntry, data: &HwptData) -> Result<(), Errno> {
        let (parent, created) = self.ensure_parent(d)?;
        let nested = match self.alloc_nested(d, parent, data) {
            Ok(h) => h,
            Err(e) => {
                self.drop_parent_if(d, created);
                return Err(e);
            }
        };
        if let Err(e) = d.dev.attach.attach_rid(nested.0) {
            self.destroy(nested);
            self.drop_parent_if(d, created);
            return Err(e.errno());
        }
        if let Some(old) = d.objects.table.replace(nested) {
            self.destroy(old);
        }
        Ok(())
    }

    fn uninstall_table(&self, d: &mut DeviceEntry) {
        let Some(table) = d.objects.table.take() else {
            return;
        };
        if let Err(e) = d.dev.attach.attach_rid(d.dev.ioas.0) {
            self.teardown_error("attach_rid", d.dev.ioas.0, &e);
        }
        self.destroy(table);
    }

    fn uninstall_all(&self, d: &mut DeviceEntry) {
        let pasids: Vec<u32> = d.objects.nested.keys().copied().collect();
        for p in pasids {
            self.uninstall_pasid(d, p);
        }
        self.uninstall_table(d);
        if let Some(p) = d.objects.parent.take() {
            self.destroy(p);
        }
    }

    // ---- invalidation batches --------------------------------------------------------

    /// Sends every queued invalidation of `vm` now. Call it at the guest's
    /// synchronisation point (see the [module documentation](self)).
    pub fn flush(&self, vm: VmId) {
        if let Some(entry) = self.vm_entry(vm) {
            let mut st = lock(&entry);
            self.flush_locked(vm, &mut st);
        }
    }

    /// [`IommufdBackend::flush`] for every VM.
    pub fn flush_all(&self) {
        let vms: Vec<VmId> = self
            .vms
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .copied()
            .collect();
        for vm in vms {
            self.flush(vm);
        }
    }

    fn flush_locked(&self, vm: VmId, st: &mut VmEntry) {
        let Some(ty) = self.format.invalidation_type() else {
            st.pending.clear();
            return;
        };
        for batch in std::mem::take(&mut st.pending) {
            let r = self.iommufd.hwpt_invalidate_entries(
                batch.hwpt,
                ty.data_type,
                ty.entry_len,
                &batch.entries,
            );
            let mut stats = lock(&self.stats);
            stats.invalidate_calls += 1;
            stats.entries_sent += batch.count as u64;
            match r {
                Ok(n) => stats.entries_handled += n as u64,
                Err((handled, e)) => {
                    stats.entries_handled += handled as u64;
                    stats.invalidate_failures += 1;
                    drop(stats);
                    self.diagnose(Diagnostic::InvalidateFailed {
                        vm,
                        hwpt: batch.hwpt,
                        sent: batch.count,
                        handled,
                        errno: e.errno(),
                    });
                }
            }
        }
    }

    /// The nested HWPTs an invalidation of `scope` names in `st`.
    fn targets(st: &VmEntry, scope: &InvalidationScope) -> Vec<HwptId> {
        let pasid = match scope {
            InvalidationScope::Domain => None,
            InvalidationScope::Pasid { pasid, .. } | InvalidationScope::Addr { pasid, .. } => {
                *pasid
            }
        };
        let mut out = BTreeSet::new();
        for d in st.devices.values() {
            match pasid {
                Some(p) => out.extend(d.objects.nested.get(&p)),
                None => out.extend(d.objects.nested.values()),
            }
            // A guest PASID table covers every substream id.
            out.extend(d.objects.table);
        }
        out.into_iter().collect()
    }

    // ---- page requests ---------------------------------------------------------------

    /// Reads the fault queue once and reports each page request to `viommu`
    /// ([`Viommu::report_page_request`]: the record's `dev_id` becomes the registered
    /// [`DeviceId`], its PASID the host PASID). The kernel's cookie of each group is kept
    /// for [`Backend::page_response`]. A record of an unregistered device, or one no VM
    /// holds, is answered `INVALID` here. Returns the number of records read (0 without
    /// a fault queue or with nothing pending).
    ///
    /// # Errors
    /// The fault fd's `read(2)` error (`EAGAIN` when non-blocking and empty is returned
    /// as `Ok(0)`).
    pub fn poll_faults<B: Backend>(&self, viommu: &Viommu<B>) -> vsva_vfio::Result<usize> {
        let Some(queue) = &self.fault else {
            return Ok(0);
        };
        let mut buf = [0u8; FAULT_BATCH * 40];
        let records = match queue.read_faults(&mut buf) {
            Ok(r) => r,
            Err(e) if e.errno() == Errno::EAGAIN => return Ok(0),
            Err(e) => return Err(e),
        };
        lock(&self.stats).faults_read += records.len() as u64;
        for r in &records {
            let flags = PgfaultFlags::from_bits_retain(r.flags);
            let last_page = flags.contains(PgfaultFlags::LAST_PAGE);
            let pasid = flags.contains(PgfaultFlags::PASID_VALID).then_some(r.pasid);
            let device = self
                .routes
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .by_dev_id
                .get(&DevId(r.dev_id))
                .copied();
            let Some(device) = device else {
                lock(&self.stats).faults_unrouted += 1;
                if last_page {
                    self.respond(r.cookie, PageResponseCode::Invalid);
                }
                continue;
            };
            if last_page {
                // Before the report: the vIOMMU may answer it at once (a PASID the VM
                // does not own, a full queue).
                lock(&self.cookies).insert(r.cookie, (device, pasid));
            }
            let request = PageRequest {
                id: u64::from(r.cookie),
                device,
                pasid,
                grpid: r.grpid,
                perm: FaultPerm::from_bits_truncate(r.perm),
                addr: r.addr,
                last_page,
                needs_pasid: pasid.is_some(),
                private_data: None,
            };
            if viommu.report_page_request(request).is_err() {
                lock(&self.stats).faults_unrouted += 1;
                if last_page {
                    if let Some(cookie) = self.take_cookie(u64::from(r.cookie), device) {
                        self.respond(cookie, PageResponseCode::Invalid);
                    }
                }
            }
        }
        Ok(records.len())
    }

    /// The outstanding cookie `id` of `device`, now answered (`None` if the kernel
    /// already answered it, or it is another device's).
    fn take_cookie(&self, id: u64, device: DeviceId) -> Option<u32> {
        let cookie = u32::try_from(id).ok()?;
        let mut cookies = lock(&self.cookies);
        match cookies.get(&cookie) {
            Some(&(d, _)) if d == device => cookies.remove(&cookie).map(|_| cookie),
            _ => None,
        }
    }

    /// Writes one response. iommufd has `SUCCESS` and `INVALID` only: the 2020
    /// `FAILURE` ("do not retry") is sent as `INVALID`.
    fn respond(&self, cookie: u32, code: PageResponseCode) {
        let Some(queue) = &self.fault else {
            return;
        };
        let code = match code {
            PageResponseCode::Success => 0,
            PageResponseCode::Invalid | PageResponseCode::Failure => 1,
        };
        match queue.respond(&[HwptPageResponse { cookie, code }]) {
            Ok(1) => lock(&self.stats).responses_sent += 1,
            Ok(_) => self.diagnose(Diagnostic::ResponseFailed {
                cookie,
                errno: Errno::EIO,
            }),
            Err(e) => self.diagnose(Diagnostic::ResponseFailed {
                cookie,
                errno: e.errno(),
            }),
        }
    }
}

impl<F: StageOneFormat> Backend for IommufdBackend<F> {
    fn host(&self) -> &HostIommu {
        &self.host
    }

    fn bind_gpasid(&self, vm: VmId, bind: &GpasidBind) -> Result<(), Errno> {
        let entry = self.vm_entry_or_new(vm);
        let mut st = lock(&entry);
        self.flush_locked(vm, &mut st);
        if st.binds.contains_key(&bind.hpasid) {
            return Err(Errno::EBUSY);
        }
        if st
            .devices
            .values()
            .any(|d| !d.dev.pasid_fits(u64::from(bind.hpasid)))
        {
            return Err(Errno::EINVAL);
        }
        let data = self.format.gpasid_data(bind)?;
        let ids: Vec<DeviceId> = st.devices.keys().copied().collect();
        let mut done: Vec<(DeviceId, bool)> = Vec::new();
        for id in ids {
            let Some(d) = st.devices.get_mut(&id) else {
                continue;
            };
            match self.install_pasid(d, bind.hpasid, &data) {
                Ok(created) => done.push((id, created)),
                Err(e) => {
                    for (id, created) in done.into_iter().rev() {
                        if let Some(d) = st.devices.get_mut(&id) {
                            self.uninstall_pasid(d, bind.hpasid);
                            self.drop_parent_if(d, created);
                        }
                    }
                    return Err(e);
                }
            }
        }
        st.binds.insert(bind.hpasid, *bind);
        Ok(())
    }

    fn unbind_gpasid(&self, vm: VmId, hpasid: u32) {
        let Some(entry) = self.vm_entry(vm) else {
            return;
        };
        let mut st = lock(&entry);
        self.flush_locked(vm, &mut st);
        st.binds.remove(&hpasid);
        for d in st.devices.values_mut() {
            self.uninstall_pasid(d, hpasid);
        }
        // The kernel answered the PASID's pending groups on the detach: their cookies
        // are dead (a late response counts as unmatched instead of failing).
        let devices: BTreeSet<DeviceId> = st.devices.keys().copied().collect();
        drop(st);
        lock(&self.cookies).retain(|_, o| !(devices.contains(&o.0) && o.1 == Some(hpasid)));
    }

    fn set_pasid_table(&self, vm: VmId, table: &PasidTableBind) -> Result<(), Errno> {
        let entry = self.vm_entry_or_new(vm);
        let mut st = lock(&entry);
        self.flush_locked(vm, &mut st);
        if st.devices.values().any(|d| {
            table.config == PasidTableConfigKind::Translate
                && table.pasid_bits > d.dev.max_pasid_log2
        }) {
            return Err(Errno::EINVAL);
        }
        let data = self.format.pasid_table_data(table)?;
        let ids: Vec<DeviceId> = st.devices.keys().copied().collect();
        // Each device: (id, parent allocated now, its table HWPT before).
        let mut done: Vec<(DeviceId, bool, Option<HwptId>)> = Vec::new();
        for id in ids {
            let Some(d) = st.devices.get_mut(&id) else {
                continue;
            };
            let had_parent = d.objects.parent.is_some();
            let old = d.objects.table;
            // Keep the old table alive until every device has moved: take it out so
            // install_table does not destroy it.
            d.objects.table = None;
            match self.install_table(d, &data) {
                Ok(()) => done.push((id, !had_parent, old)),
                Err(e) => {
                    d.objects.table = old;
                    for (id, created, old) in done.into_iter().rev() {
                        let Some(d) = st.devices.get_mut(&id) else {
                            continue;
                        };
                        let new = d.objects.table.take();
                        let back = old.map_or(d.dev.ioas.0, |h| h.0);
                        if let Err(e) = d.dev.attach.attach_rid(back) {
                            self.teardown_error("attach_rid", back, &e);
                        }
                        if let Some(n) = new {
                            self.destroy(n);
                        }
                        d.objects.table = old;
                        self.drop_parent_if(d, created);
                    }
                    return Err(e);
                }
            }
        }
        for (_, _, old) in done {
            if let Some(old) = old {
                self.destroy(old);
            }
        }
        st.table = Some(*table);
        Ok(())
    }

    fn clear_pasid_table(&self, vm: VmId) {
        let Some(entry) = self.vm_entry(vm) else {
            return;
        };
        let mut st = lock(&entry);
        self.flush_locked(vm, &mut st);
        st.table = None;
        for d in st.devices.values_mut() {
            self.uninstall_table(d);
        }
        // The RIDs left the table's HWPTs: the kernel answered their pending groups.
        let devices: BTreeSet<DeviceId> = st.devices.keys().copied().collect();
        drop(st);
        lock(&self.cookies).retain(|_, o| !devices.contains(&o.0));
    }

    fn invalidate(&self, vm: VmId, inv: &Invalidation) {
        let Some(ty) = self.format.invalidation_type() else {
            lock(&self.stats).invalidations_unsupported += 1;
            return;
        };
        let Some(entry) = self.vm_entry(vm) else {
            lock(&self.stats).invalidations_skipped += 1;
            return;
        };
        let mut st = lock(&entry);
        let targets = Self::targets(&st, &inv.scope);
        let mut entries = Vec::with_capacity(ty.entry_len);
        let n = self.format.invalidation_entries(inv, &mut entries);
        if targets.is_empty() || n == 0 {
            lock(&self.stats).invalidations_skipped += 1;
            return;
        }
        let same = st.pending.len() == targets.len()
            && st.pending.iter().zip(&targets).all(|(b, t)| b.hwpt == *t);
        if !same {
            self.flush_locked(vm, &mut st);
            st.pending = targets
                .iter()
                .map(|&hwpt| Batch {
                    hwpt,
                    entries: Vec::new(),
                    count: 0,
                })
                .collect();
        }
        let mut full = false;
        for b in &mut st.pending {
            b.entries.extend_from_slice(&entries);
            b.count += n;
            full |= b.count >= self.config.max_batch;
        }
        if full {
            self.flush_locked(vm, &mut st);
        }
    }

    fn page_response(&self, vm: VmId, response: &PageResponse) {
        self.flush(vm);
        match self.take_cookie(response.id, response.device) {
            Some(cookie) => self.respond(cookie, response.code),
            None => lock(&self.stats).responses_unmatched += 1,
        }
    }

    fn flush(&self, vm: VmId) {
        IommufdBackend::flush(self, vm);
    }
}

impl<F: StageOneFormat> Drop for IommufdBackend<F> {
    fn drop(&mut self) {
        self.flush_all();
        let vms: Vec<Arc<Mutex<VmEntry>>> = self
            .vms
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .drain()
            .map(|(_, v)| v)
            .collect();
        for entry in vms {
            let mut st = lock(&entry);
            let devices = std::mem::take(&mut st.devices);
            for (_, mut d) in devices {
                self.uninstall_all(&mut d);
            }
        }
        // The kernel keeps a fault object while its fd is open: close, then destroy.
        if let Some(FaultQueue { id, fd }) = self.fault.take() {
            drop(fd);
            if let Err(e) = self.iommufd.destroy(id) {
                self.teardown_error("destroy", id.0, &e);
            }
        }
    }
}

/// A small, honest model of a nesting-capable iommufd and VFIO cdev, answering a
/// [`ScriptedKernel`](vsva_vfio::scripted::ScriptedKernel): it keeps the objects (IOAS,
/// devices, HWPTs, fault queues), the RID and PASID attachments, the invalidations and
/// the fault records, and refuses what the kernel refuses (unknown ids `ENOENT`, a
/// destroy of a HWPT in use `EBUSY`, a nested HWPT on a non-parent `EINVAL`, a nest
/// parent without nesting `EOPNOTSUPP`, a PASID beyond the device's width `EINVAL`, bad
/// VT-d stage-1 flags `EOPNOTSUPP`, bad invalidation entries with the `entry_num` written
/// back, unknown cookies `EINVAL`). Tests of VMMs, and this crate's, drive the iommufd
/// backend over it without `/dev/iommu`.
///
/// What it does not model: mapping (`IOAS_MAP`), the auto-created HWPT of an IOAS attach
/// (the attach reports the IOAS id back), the open-fd hold on a fault object's destroy,
/// and more than one fault queue's worth of reads (every queue reads the same records).
///
/// ```
/// use vsva_vfio::iommufd::{HwptAllocRequest, Iommufd};
/// use vsva_viommu::iommufd::fake::FakeIommufd;
/// use vsva_vfio::cdev::CdevDevice;
/// use vsva_uapi::Errno;
///
/// let fake = FakeIommufd::new(false); // no nesting
/// let path = fake.add_device(20);
/// let fd = Iommufd::open(fake.kernel()).unwrap();
/// let ioas = fd.ioas_alloc().unwrap();
/// let dev = CdevDevice::open(fake.kernel(), &path).unwrap().bind(&fd).unwrap();
/// let err = fd.hwpt_alloc(&HwptAllocRequest::new(dev, ioas).nest_parent()).unwrap_err();
/// assert_eq!(err.errno(), Errno::EOPNOTSUPP);
/// assert!(fake.hwpts().is_empty());
/// ```
#[cfg(any(test, feature = "testing"))]
pub mod fake {
    use std::collections::{BTreeMap, HashMap, VecDeque};
    use std::path::{Path, PathBuf};
    use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

    use vsva_uapi::consts::{DevicePtFlags, HwptAllocFlags, PgfaultFlags};
    use vsva_uapi::iommufd::HwptPgfault;
    use vsva_uapi::Errno;
    use vsva_vfio::cdev::{
        VFIO_DEVICE_ATTACH_IOMMUFD_PT, VFIO_DEVICE_BIND_IOMMUFD, VFIO_DEVICE_DETACH_IOMMUFD_PT,
    };
    use vsva_vfio::iommufd::{
        HWPT_DATA_VTD_S1, HWPT_INVALIDATE_DATA_VTD_S1, IOMMUFD_PATH, IOMMU_DESTROY,
        IOMMU_FAULT_QUEUE_ALLOC, IOMMU_GET_HW_INFO, IOMMU_HWPT_ALLOC, IOMMU_HWPT_INVALIDATE,
        IOMMU_IOAS_ALLOC,
    };
    use vsva_vfio::scripted::{Call, Recorded, Reply, ScriptedKernel};
    use vsva_vfio::sys::Kernel;
    use zerocopy::IntoBytes;

    use crate::host::HostIommu;

    /// The path fault-queue fds are opened as.
    pub const FAULT_PATH: &str = "anon_inode:[iommufd-pgfault]";
    /// How many fault queues the model can hand out.
    const FAULT_FDS: usize = 4;
    const PGFAULT: usize = 40;
    const VTD_S1_LEN: usize = 24;
    const VTD_INV_LEN: usize = 24;

    /// A HWPT the model holds.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct FakeHwpt {
        /// `dev_id` it was allocated for.
        pub dev_id: u32,
        /// `pt_id`: its IOAS or parent HWPT.
        pub pt_id: u32,
        /// `flags` as sent.
        pub flags: u32,
        /// `data_type` (0: a paging HWPT).
        pub data_type: u32,
        /// The driver data as sent.
        pub data: Vec<u8>,
        /// The fault queue, with `FAULT_ID_VALID`.
        pub fault_id: Option<u32>,
    }

    impl FakeHwpt {
        /// Allocated with `IOMMU_HWPT_ALLOC_NEST_PARENT`.
        pub fn is_nest_parent(&self) -> bool {
            self.flags & HwptAllocFlags::NEST_PARENT.bits() != 0
        }
    }

    /// An object of the model.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum FakeObject {
        /// An IOAS.
        Ioas,
        /// A bound device (its cdev path).
        Device(PathBuf),
        /// A HWPT.
        Hwpt(FakeHwpt),
        /// A fault queue.
        Fault,
    }

    /// One `IOMMU_HWPT_INVALIDATE` call the model received (with a valid HWPT).
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct FakeInvalidation {
        /// The HWPT.
        pub hwpt: u32,
        /// The device the HWPT was allocated for.
        pub dev_id: u32,
        /// `data_type`.
        pub data_type: u32,
        /// `entry_len`.
        pub entry_len: u32,
        /// The entries sent, each `entry_len` bytes.
        pub entries: Vec<Vec<u8>>,
        /// `entry_num` written back.
        pub handled: u32,
    }

    /// A page request the model delivered.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct FakeFault {
        /// The device's iommufd id.
        pub dev_id: u32,
        /// The PASID, if the request carried one.
        pub pasid: Option<u32>,
        /// The group index.
        pub grpid: u32,
        /// The cookie the record carried.
        pub cookie: u32,
        /// The HWPT whose fault queue got it.
        pub hwpt: u32,
    }

    #[derive(Default)]
    struct Model {
        nesting: bool,
        cap: u64,
        ecap: u64,
        next_id: u32,
        objects: BTreeMap<u32, FakeObject>,
        /// cdev path → (PASID width, bound device id).
        cdevs: HashMap<PathBuf, (u8, Option<u32>)>,
        rid: BTreeMap<u32, u32>,
        pasids: BTreeMap<(u32, u32), u32>,
        fault_fds: Vec<i32>,
        invalidations: Vec<FakeInvalidation>,
        fail: Vec<(u32, usize, Errno)>,
        fail_entry: Option<(usize, Errno)>,
        unread: VecDeque<HwptPgfault>,
        outstanding: BTreeMap<u32, FakeFault>,
        next_cookie: u32,
        responses: Vec<(FakeFault, u32)>,
        auto_answered: Vec<FakeFault>,
    }

    fn u32_at(b: &[u8], at: usize) -> u32 {
        b.get(at..at + 4)
            .map_or(0, |s| u32::from_ne_bytes([s[0], s[1], s[2], s[3]]))
    }

    fn u64_at(b: &[u8], at: usize) -> u64 {
        (u64::from(u32_at(b, at + 4)) << 32) | u64::from(u32_at(b, at))
    }

    fn put32(b: &mut [u8], at: usize, v: u32) {
        if let Some(s) = b.get_mut(at..at + 4) {
            s.copy_from_slice(&v.to_ne_bytes());
        }
    }

    fn put64(b: &mut [u8], at: usize, v: u64) {
        if let Some(s) = b.get_mut(at..at + 8) {
            s.copy_from_slice(&v.to_ne_bytes());
        }
    }

    impl Model {
        fn new_id(&mut self, o: FakeObject) -> u32 {
            self.next_id += 1;
            self.objects.insert(self.next_id, o);
            self.next_id
        }

        fn injected(&mut self, request: u32) -> Result<(), Errno> {
            let mut hit = None;
            for (i, (r, skip, e)) in self.fail.iter_mut().enumerate() {
                if *r == request {
                    if *skip == 0 {
                        hit = Some((i, *e));
                        break;
                    }
                    *skip -= 1;
                }
            }
            match hit {
                Some((i, e)) => {
                    self.fail.remove(i);
                    Err(e)
                }
                None => Ok(()),
            }
        }

        fn hwpt(&self, id: u32) -> Option<&FakeHwpt> {
            match self.objects.get(&id) {
                Some(FakeObject::Hwpt(h)) => Some(h),
                _ => None,
            }
        }

        fn is_device(&self, id: u32) -> bool {
            matches!(self.objects.get(&id), Some(FakeObject::Device(_)))
        }

        fn in_use(&self, id: u32) -> bool {
            self.rid.values().any(|pt| *pt == id)
                || self.pasids.values().any(|h| *h == id)
                || self.objects.values().any(|o| match o {
                    FakeObject::Hwpt(h) => h.pt_id == id || h.fault_id == Some(id),
                    _ => false,
                })
        }

        fn destroy(&mut self, arg: &mut [u8]) -> Result<Reply, Errno> {
            let id = u32_at(arg, 4);
            match self.objects.get(&id) {
                None | Some(FakeObject::Device(_)) => Err(Errno::ENOENT),
                Some(_) if self.in_use(id) => Err(Errno::EBUSY),
                Some(_) => {
                    self.objects.remove(&id);
                    Ok(Reply::Value(0))
                }
            }
        }

        fn hw_info(&mut self, arg: &mut [u8], data: &mut [u8]) -> Result<Reply, Errno> {
            let dev = u32_at(arg, 8);
            let Some(FakeObject::Device(path)) = self.objects.get(&dev) else {
                return Err(Errno::ENOENT);
            };
            let width = self.cdevs.get(path).map_or(0, |c| c.0);
            let mut vtd = [0u8; 24];
            put64(&mut vtd, 8, self.cap);
            put64(&mut vtd, 16, self.ecap);
            let n = data.len().min(vtd.len());
            data[..n].copy_from_slice(&vtd[..n]);
            put32(arg, 12, vtd.len() as u32);
            put32(arg, 24, vsva_vfio::iommufd::HW_INFO_TYPE_INTEL_VTD);
            if let Some(b) = arg.get_mut(28) {
                *b = width;
            }
            put64(arg, 32, 0);
            Ok(Reply::Value(0))
        }

        fn hwpt_alloc(&mut self, arg: &mut [u8], data: &[u8]) -> Result<Reply, Errno> {
            let flags = u32_at(arg, 4);
            let (dev, pt) = (u32_at(arg, 8), u32_at(arg, 12));
            let (data_type, data_len) = (u32_at(arg, 24), u32_at(arg, 28));
            let fault = flags & HwptAllocFlags::FAULT_ID_VALID.bits() != 0;
            let fault_id = u32_at(arg, 40);
            if flags & !HwptAllocFlags::all().bits() != 0 || u32_at(arg, 20) != 0 {
                return Err(Errno::EOPNOTSUPP);
            }
            if !self.is_device(dev) || !self.objects.contains_key(&pt) {
                return Err(Errno::ENOENT);
            }
            if fault && !matches!(self.objects.get(&fault_id), Some(FakeObject::Fault)) {
                return Err(Errno::ENOENT);
            }
            let nest_parent = flags & HwptAllocFlags::NEST_PARENT.bits() != 0;
            if data_type == 0 {
                if data_len != 0 || !matches!(self.objects.get(&pt), Some(FakeObject::Ioas)) {
                    return Err(Errno::EINVAL);
                }
                if nest_parent && !self.nesting {
                    return Err(Errno::EOPNOTSUPP);
                }
            } else {
                if data_len == 0 || nest_parent {
                    return Err(Errno::EOPNOTSUPP);
                }
                match self.hwpt(pt) {
                    Some(p) if p.is_nest_parent() => {}
                    _ => return Err(Errno::EINVAL),
                }
                if data_type != HWPT_DATA_VTD_S1 {
                    return Err(Errno::EOPNOTSUPP);
                }
                if data.len() != VTD_S1_LEN {
                    return Err(Errno::EINVAL);
                }
                // iommu_hwpt_vtd_s1: flags ⊆ SRE|EAFE|WPE, __reserved zero.
                if u64_at(data, 0) & !0b111 != 0 || u32_at(data, 20) != 0 {
                    return Err(Errno::EOPNOTSUPP);
                }
            }
            let id = self.new_id(FakeObject::Hwpt(FakeHwpt {
                dev_id: dev,
                pt_id: pt,
                flags,
                data_type,
                data: data.to_vec(),
                fault_id: fault.then_some(fault_id),
            }));
            put32(arg, 16, id);
            Ok(Reply::Value(0))
        }

        fn invalidate(&mut self, arg: &mut [u8], data: &[u8]) -> Result<Reply, Errno> {
            let (hwpt, data_type) = (u32_at(arg, 4), u32_at(arg, 16));
            let (entry_len, num) = (u32_at(arg, 20), u32_at(arg, 24));
            if u32_at(arg, 28) != 0 {
                return Err(Errno::EOPNOTSUPP);
            }
            let (nested, dev_id) = match self.hwpt(hwpt) {
                None => return Err(Errno::ENOENT),
                Some(h) => (h.data_type != 0, h.dev_id),
            };
            put32(arg, 24, 0);
            if !nested || data_type != HWPT_INVALIDATE_DATA_VTD_S1 {
                return Err(Errno::EINVAL);
            }
            if num == 0 {
                return Ok(Reply::Value(0));
            }
            if entry_len as usize != VTD_INV_LEN {
                return Err(Errno::EINVAL);
            }
            let entries: Vec<Vec<u8>> = data.chunks(VTD_INV_LEN).map(<[u8]>::to_vec).collect();
            let mut handled = 0u32;
            let mut result = Ok(Reply::Value(0));
            for (i, e) in entries.iter().enumerate() {
                if let Some((at, errno)) = self.fail_entry {
                    if at == i {
                        self.fail_entry = None;
                        result = Err(errno);
                        break;
                    }
                }
                let (addr, npages, flags) = (u64_at(e, 0), u64_at(e, 8), u32_at(e, 16));
                if flags & !1 != 0 || u32_at(e, 20) != 0 {
                    result = Err(Errno::EOPNOTSUPP);
                    break;
                }
                if addr & 0xfff != 0 || (npages == u64::MAX && addr != 0) {
                    result = Err(Errno::EINVAL);
                    break;
                }
                handled += 1;
            }
            put32(arg, 24, handled);
            self.invalidations.push(FakeInvalidation {
                hwpt,
                dev_id,
                data_type,
                entry_len,
                entries,
                handled,
            });
            result
        }

        fn fault_alloc(&mut self, arg: &mut [u8]) -> Result<Reply, Errno> {
            let fd = self.fault_fds.pop().ok_or(Errno::ENOMEM)?;
            let id = self.new_id(FakeObject::Fault);
            put32(arg, 8, id);
            put32(arg, 12, fd as u32);
            Ok(Reply::Value(0))
        }

        fn bound(&self, path: &Path) -> Result<(u32, u8), Errno> {
            match self.cdevs.get(path) {
                Some((w, Some(id))) => Ok((*id, *w)),
                _ => Err(Errno::ENODEV),
            }
        }

        /// The kernel answers a fault group itself when its device leaves the HWPT.
        fn answer_pending(&mut self, dev: u32, pasid: Option<u32>) {
            let gone: Vec<u32> = self
                .outstanding
                .iter()
                .filter(|(_, f)| f.dev_id == dev && f.pasid == pasid)
                .map(|(c, _)| *c)
                .collect();
            for c in gone {
                if let Some(f) = self.outstanding.remove(&c) {
                    self.auto_answered.push(f);
                }
            }
            self.unread
                .retain(|r| !(r.dev_id == dev && (r.flags & 1 != 0).then_some(r.pasid) == pasid));
        }

        fn cdev(&mut self, request: u32, path: &Path, arg: &mut [u8]) -> Result<Reply, Errno> {
            match request {
                VFIO_DEVICE_BIND_IOMMUFD => {
                    let Some((_, bound)) = self.cdevs.get(path).copied() else {
                        return Err(Errno::ENOTTY);
                    };
                    if bound.is_some() {
                        return Err(Errno::EINVAL);
                    }
                    let id = self.new_id(FakeObject::Device(path.to_path_buf()));
                    if let Some(c) = self.cdevs.get_mut(path) {
                        c.1 = Some(id);
                    }
                    put32(arg, 12, id);
                    Ok(Reply::Value(0))
                }
                VFIO_DEVICE_ATTACH_IOMMUFD_PT => {
                    let (dev, width) = self.bound(path)?;
                    let flags = u32_at(arg, 4);
                    let pt = u32_at(arg, 8);
                    if flags & !DevicePtFlags::PASID.bits() != 0 {
                        return Err(Errno::EINVAL);
                    }
                    if !self.objects.contains_key(&pt) || self.is_device(pt) {
                        return Err(Errno::ENOENT);
                    }
                    if flags != 0 {
                        let pasid = u32_at(arg, 12);
                        if u64::from(pasid) >> width != 0 || self.hwpt(pt).is_none() {
                            return Err(Errno::EINVAL);
                        }
                        if self.pasids.contains_key(&(dev, pasid)) {
                            return Err(Errno::EBUSY);
                        }
                        self.pasids.insert((dev, pasid), pt);
                    } else {
                        if self.rid.get(&dev) != Some(&pt) {
                            self.answer_pending(dev, None);
                        }
                        self.rid.insert(dev, pt);
                    }
                    Ok(Reply::Value(0))
                }
                VFIO_DEVICE_DETACH_IOMMUFD_PT => {
                    let (dev, _) = self.bound(path)?;
                    if u32_at(arg, 4) != 0 {
                        let pasid = u32_at(arg, 8);
                        if self.pasids.remove(&(dev, pasid)).is_none() {
                            return Err(Errno::EINVAL);
                        }
                        self.answer_pending(dev, Some(pasid));
                    } else {
                        self.rid.remove(&dev);
                        self.answer_pending(dev, None);
                    }
                    Ok(Reply::Value(0))
                }
                _ => Err(Errno::ENOTTY),
            }
        }

        fn read(&mut self, buf: &mut [u8]) -> Result<usize, Errno> {
            if self.unread.is_empty() {
                return Ok(0);
            }
            if buf.len() < PGFAULT {
                return Err(Errno::EINVAL);
            }
            let mut n = 0;
            while let (Some(dst), Some(r)) = (buf.get_mut(n..n + PGFAULT), self.unread.front()) {
                dst.copy_from_slice(r.as_bytes());
                self.unread.pop_front();
                n += PGFAULT;
            }
            Ok(n)
        }

        fn write(&mut self, bytes: &[u8]) -> Result<usize, Errno> {
            if !bytes.len().is_multiple_of(8) {
                return Err(Errno::ESPIPE);
            }
            let mut done = 0;
            for rec in bytes.chunks_exact(8) {
                let (cookie, code) = (u32_at(rec, 0), u32_at(rec, 4));
                if code > 1 || !self.outstanding.contains_key(&cookie) {
                    break;
                }
                if let Some(f) = self.outstanding.remove(&cookie) {
                    self.responses.push((f, code));
                }
                done += 8;
            }
            if done == 0 {
                Err(Errno::EINVAL)
            } else {
                Ok(done)
            }
        }
    }

    /// The model and the scripted kernel it answers (cloning shares both).
    #[derive(Debug, Clone)]
    pub struct FakeIommufd {
        kernel: ScriptedKernel,
        model: Arc<Mutex<Model>>,
    }

    impl std::fmt::Debug for Model {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("Model")
                .field("nesting", &self.nesting)
                .field("objects", &self.objects.len())
                .finish_non_exhaustive()
        }
    }

    impl FakeIommufd {
        /// A VT-d host ([`HostIommu::vtd_default`]'s registers) whose kernel nests or not
        /// (`ECAP.NEST` cleared, nest parents `EOPNOTSUPP`), with `/dev/iommu` openable.
        pub fn new(nesting: bool) -> FakeIommufd {
            let HostIommu::Vtd(caps) = HostIommu::vtd_default() else {
                unreachable!("vtd_default is VT-d")
            };
            let ecap = if nesting {
                caps.ecap_reg
            } else {
                caps.ecap_reg & !super::ECAP_NEST
            };
            let kernel = ScriptedKernel::new();
            kernel.add_path(IOMMUFD_PATH);
            kernel.add_path(FAULT_PATH);
            let fault_fds = (0..FAULT_FDS)
                .filter_map(|_| kernel.open(Path::new(FAULT_PATH), true).ok())
                .collect();
            let model = Arc::new(Mutex::new(Model {
                nesting,
                cap: caps.cap_reg,
                ecap,
                fault_fds,
                next_cookie: 1,
                ..Model::default()
            }));
            let fake = FakeIommufd { kernel, model };
            fake.script();
            fake
        }

        fn lock(&self) -> MutexGuard<'_, Model> {
            self.model.lock().unwrap_or_else(PoisonError::into_inner)
        }

        fn script(&self) {
            let k = &self.kernel;
            let m = Arc::clone(&self.model);
            let on = move |request: u32| {
                let m = Arc::clone(&m);
                move |path: &Path, call: Call<'_>| -> Result<Reply, Errno> {
                    let mut m = m.lock().unwrap_or_else(PoisonError::into_inner);
                    m.injected(request)?;
                    match (request, call) {
                        (IOMMU_IOAS_ALLOC, Call::Sized(arg)) => {
                            let id = m.new_id(FakeObject::Ioas);
                            put32(arg, 8, id);
                            Ok(Reply::Value(0))
                        }
                        (IOMMU_DESTROY, Call::Sized(arg)) => m.destroy(arg),
                        (IOMMU_GET_HW_INFO, Call::SizedData { arg, data }) => m.hw_info(arg, data),
                        (IOMMU_HWPT_ALLOC, Call::Sized(arg)) => m.hwpt_alloc(arg, &[]),
                        (IOMMU_HWPT_ALLOC, Call::SizedData { arg, data }) => {
                            m.hwpt_alloc(arg, data)
                        }
                        (IOMMU_HWPT_INVALIDATE, Call::SizedData { arg, data }) => {
                            m.invalidate(arg, data)
                        }
                        (IOMMU_FAULT_QUEUE_ALLOC, Call::Sized(arg)) => m.fault_alloc(arg),
                        (
                            VFIO_DEVICE_BIND_IOMMUFD
                            | VFIO_DEVICE_ATTACH_IOMMUFD_PT
                            | VFIO_DEVICE_DETACH_IOMMUFD_PT,
                            Call::Sized(arg),
                        ) => m.cdev(request, path, arg),
                        _ => Err(Errno::EFAULT),
                    }
                }
            };
            for request in [
                IOMMU_IOAS_ALLOC,
                IOMMU_DESTROY,
                IOMMU_GET_HW_INFO,
                IOMMU_HWPT_ALLOC,
                IOMMU_HWPT_INVALIDATE,
                IOMMU_FAULT_QUEUE_ALLOC,
                VFIO_DEVICE_BIND_IOMMUFD,
                VFIO_DEVICE_ATTACH_IOMMUFD_PT,
                VFIO_DEVICE_DETACH_IOMMUFD_PT,
            ] {
                k.on(request, on(request));
            }
            let m = Arc::clone(&self.model);
            k.on_read(FAULT_PATH, move |buf, _| {
                m.lock().unwrap_or_else(PoisonError::into_inner).read(buf)
            });
            let m = Arc::clone(&self.model);
            k.on_write(FAULT_PATH, move |bytes, _| {
                m.lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .write(bytes)
            });
        }

        /// The kernel to open `/dev/iommu` and the cdevs with.
        pub fn kernel(&self) -> Arc<dyn Kernel> {
            Arc::new(self.kernel.clone())
        }

        /// The scripted kernel underneath (its call log, its open fds).
        pub fn scripted(&self) -> &ScriptedKernel {
            &self.kernel
        }

        /// Every ioctl so far, in order.
        pub fn calls(&self) -> Vec<Recorded> {
            self.kernel.calls()
        }

        /// A new VFIO device cdev (`/dev/vfio/devices/vfioN`) with a PASID width of
        /// `max_pasid_log2` bits; returns its path.
        pub fn add_device(&self, max_pasid_log2: u8) -> PathBuf {
            let mut m = self.lock();
            let path = PathBuf::from(format!("/dev/vfio/devices/vfio{}", m.cdevs.len()));
            m.cdevs.insert(path.clone(), (max_pasid_log2, None));
            drop(m);
            self.kernel.add_path(&path);
            path
        }

        /// Makes the call of ioctl `request` after the next `skip` ones fail with
        /// `errno`, before it has any effect.
        pub fn fail(&self, request: u32, skip: usize, errno: Errno) {
            self.lock().fail.push((request, skip, errno));
        }

        /// Makes the next `IOMMU_HWPT_INVALIDATE` refuse its entry `index` with `errno`
        /// (entries before it are handled and `entry_num` says so).
        pub fn fail_invalidate_entry(&self, index: usize, errno: Errno) {
            self.lock().fail_entry = Some((index, errno));
        }

        /// Every live object, by id.
        pub fn objects(&self) -> BTreeMap<u32, FakeObject> {
            self.lock().objects.clone()
        }

        /// The live HWPTs, by id.
        pub fn hwpts(&self) -> BTreeMap<u32, FakeHwpt> {
            self.lock()
                .objects
                .iter()
                .filter_map(|(id, o)| match o {
                    FakeObject::Hwpt(h) => Some((*id, h.clone())),
                    _ => None,
                })
                .collect()
        }

        /// PASID attachments: (device id, PASID) → HWPT.
        pub fn pasid_attachments(&self) -> BTreeMap<(u32, u32), u32> {
            self.lock().pasids.clone()
        }

        /// What the device's RID is attached to.
        pub fn rid_attachment(&self, dev_id: u32) -> Option<u32> {
            self.lock().rid.get(&dev_id).copied()
        }

        /// Every `IOMMU_HWPT_INVALIDATE` with a valid HWPT, in order.
        pub fn invalidations(&self) -> Vec<FakeInvalidation> {
            self.lock().invalidations.clone()
        }

        /// Plays the device: a page request (one-page group, `LAST_PAGE`) from `dev_id`
        /// with `pasid`, delivered to the fault queue of the HWPT the PASID (or the RID,
        /// without one) is attached to. Returns the fault, or `None` when that HWPT has
        /// no fault queue (the kernel would not deliver it either).
        pub fn trigger_fault(
            &self,
            dev_id: u32,
            pasid: Option<u32>,
            grpid: u32,
            perm: u32,
            addr: u64,
        ) -> Option<FakeFault> {
            let mut m = self.lock();
            let hwpt = match pasid {
                Some(p) => m.pasids.get(&(dev_id, p)).copied(),
                None => m.rid.get(&dev_id).copied(),
            }?;
            m.hwpt(hwpt)?.fault_id?;
            let cookie = m.next_cookie;
            m.next_cookie += 1;
            let mut flags = PgfaultFlags::LAST_PAGE;
            flags.set(PgfaultFlags::PASID_VALID, pasid.is_some());
            m.unread.push_back(HwptPgfault {
                flags: flags.bits(),
                dev_id,
                pasid: pasid.unwrap_or(0),
                grpid,
                perm,
                __reserved: 0,
                addr,
                length: 0,
                cookie,
            });
            let f = FakeFault {
                dev_id,
                pasid,
                grpid,
                cookie,
                hwpt,
            };
            m.outstanding.insert(cookie, f);
            Some(f)
        }

        /// Responses the model accepted, with their codes, in order.
        pub fn responses(&self) -> Vec<(FakeFault, u32)> {
            self.lock().responses.clone()
        }

        /// Faults delivered and not answered yet.
        pub fn outstanding(&self) -> Vec<FakeFault> {
            self.lock().outstanding.values().copied().collect()
        }

        /// Faults the model answered itself because the device left the HWPT.
        pub fn auto_answered(&self) -> Vec<FakeFault> {
            self.lock().auto_answered.clone()
        }
    }
}
