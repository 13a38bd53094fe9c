//! The parameters of the backend: the stage-1 payload of nested HWPTs ([`StageOneFormat`](crate::iommufd::StageOneFormat):
//! [`VtdS1`](crate::iommufd::VtdS1), [`Smmuv3Ste`](crate::iommufd::Smmuv3Ste)) and how a device's PASID or RID is attached ([`DeviceAttach`](crate::iommufd::DeviceAttach)).

use std::fmt;

use vsva_uapi::consts::{
    CacheInvType, PasidTableConfigKind, VtdGpasidFlags, VtdInvFlags, VtdS1Flags,
};
use vsva_uapi::iommufd::{HwptVtdS1, HwptVtdS1Invalidate};
use vsva_uapi::Errno;
use vsva_vfio::cdev::CdevDevice;
use vsva_vfio::iommufd::{HwptData, HwptId, HWPT_INVALIDATE_DATA_VTD_S1};
use zerocopy::{FromZeros, IntoBytes};

use crate::backend::{GpasidBind, HostPasid, Invalidation, InvalidationScope, PasidTableBind};

/// The `IOMMU_HWPT_INVALIDATE` entry type of a [`StageOneFormat`](crate::iommufd::StageOneFormat).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidationType {
    /// `iommu_hwpt_invalidate.data_type`.
    pub data_type: u32,
    /// `entry_len`: bytes per entry (the entry struct's size this build sends).
    pub entry_len: usize,
}

/// The stage-1 payload of nested HWPTs: the driver data of `IOMMU_HWPT_ALLOC` and the
/// entries of `IOMMU_HWPT_INVALIDATE`. [`VtdS1`](crate::iommufd::VtdS1) and [`Smmuv3Ste`](crate::iommufd::Smmuv3Ste) are the hardware
/// formats; the kernel tier plugs in the mock IOMMU's selftest format.
///
/// ```
/// use vsva_uapi::consts::{CacheInvType, VtdGpasidFlags};
/// use vsva_viommu::iommufd::{StageOneFormat, VtdS1};
/// use vsva_viommu::{GpasidBind, HostPasid, Invalidation, InvalidationScope};
/// use vsva_vfio::iommufd::HwptData;
///
/// let bind = GpasidBind {
///     hpasid: HostPasid(5), gpasid: None, gpgd: 0x1234_5000, addr_width: 48,
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

    /// Appends the entries (each [`InvalidationType::entry_len`](crate::iommufd::InvalidationType::entry_len) bytes) that carry `inv`
    /// to `out` and returns how many; 0 when nothing needs to be sent (say, only the
    /// PASID cache is named, which iommufd manages itself).
    fn invalidation_entries(&self, inv: &Invalidation, out: &mut Vec<u8>) -> usize;
}

/// VT-d stage 1: `IOMMU_HWPT_DATA_VTD_S1` nested HWPTs and `iommu_hwpt_vtd_s1_invalidate`
/// entries (an example is on [`StageOneFormat`](crate::iommufd::StageOneFormat)).
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
/// `IOMMU_HWPT_INVALIDATE` ([`IommufdStats::invalidations_unsupported`](crate::iommufd::IommufdStats::invalidations_unsupported) counts them).
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
/// use vsva_viommu::HostPasid;
/// use vsva_vfio::iommufd::HwptId;
///
/// /// A device that can only replace its one page table.
/// #[derive(Debug)]
/// struct Replace;
/// impl DeviceAttach for Replace {
///     fn attach_pasid(&self, _pasid: HostPasid, hwpt: HwptId) -> vsva_vfio::Result<()> {
///         self.attach_rid(hwpt.0)
///     }
///     fn detach_pasid(&self, _pasid: HostPasid, parent: HwptId) -> vsva_vfio::Result<()> {
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
    fn attach_pasid(&self, pasid: HostPasid, hwpt: HwptId) -> vsva_vfio::Result<()>;

    /// Detaches `pasid` (attached earlier); `parent` is the device's nest parent, for
    /// devices that cannot leave a PASID unattached.
    ///
    /// # Errors
    /// The kernel's refusal.
    fn detach_pasid(&self, pasid: HostPasid, parent: HwptId) -> vsva_vfio::Result<()>;

    /// Attaches (or moves) the device's RID to `pt` (a HWPT or an IOAS).
    ///
    /// # Errors
    /// The kernel's refusal.
    fn attach_rid(&self, pt: u32) -> vsva_vfio::Result<()>;
}

impl DeviceAttach for CdevDevice {
    fn attach_pasid(&self, pasid: HostPasid, hwpt: HwptId) -> vsva_vfio::Result<()> {
        CdevDevice::attach_pasid(self, pasid.raw_value(), hwpt).map(drop)
    }

    fn detach_pasid(&self, pasid: HostPasid, _parent: HwptId) -> vsva_vfio::Result<()> {
        CdevDevice::detach_pasid(self, pasid.raw_value())
    }

    fn attach_rid(&self, pt: u32) -> vsva_vfio::Result<()> {
        CdevDevice::attach(self, pt).map(drop)
    }
}
