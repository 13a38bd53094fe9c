//! What the emulated unit offers (`CAP_REG`, `ECAP_REG`), derived from the host IOMMU and
//! from what vsva can back. Nothing is configured separately, so the guest is never told
//! of a feature the host cannot deliver.
//!
//! | guest-visible | value | why |
//! |---|---|---|
//! | `VER` | 1.0 (`0x10`) | what QEMU reports; Linux only prints it |
//! | `CAP.ND` | 6 (16-bit domain ids) | domain ids only tag the guest's own flushes |
//! | `CAP.SAGAW`, `MGAW` | 48-bit (57 with host `FL5LP`) | SAGAW is kept for guests older than the first-stage-only agaw rule; no second stage is offered (`ECAP.SSTS` 0) |
//! | `CAP.CM` | 1 | without caching mode a guest sends no invalidation when it *creates* a PASID entry, and the unit would never learn of a bind (nest, don't shadow) |
//! | `CAP.ESRTPS` | 1 | GCMD.SRTP drops every cache: the unit re-reads all tables (as QEMU) |
//! | `CAP.PSI`, `MAMV` | 1, 18 | page-selective flushes become address-granular 2020 invalidations |
//! | `CAP.DWD`, `DRD` | 1 | drains are trivially met: the unit is synchronous |
//! | `CAP.FL1GP`, `FL5LP` | the host's | the host walks the guest's first-stage table |
//! | `CAP.NFR`, `FRO` | [`VtdConfig::fault_records`](crate::VtdConfig) − 1, `0x22` | fault records at `0x220`, in the first page |
//! | `ECAP.QI` | 1 | scalable mode needs queued invalidation |
//! | `ECAP.SMTS`, `FSTS` | 1 | first-stage tables bound as nested stage 1 (`bind_gpasid`); needs the host's `BIND_PGTBL` and `CACHE_INVLD` |
//! | `ECAP.SSTS`, `PT`, `NEST` | 0 | vsva binds only first-stage tables; it does not shadow second-stage ones |
//! | `ECAP.PASID`, `PSS` | the host's PASID width (≤ 20 bits) | guest PASIDs map to host PASIDs the unit allocates |
//! | `ECAP.SRS`, `EAFS` | the host's | carried into the bind (SRE, WPE, EAFE) |
//! | `ECAP.PRS`, `PDS` | host `PAGE_REQUEST` | page requests come through vsva-viommu; the drain is synchronous |
//! | `ECAP.DT` | the host's | device-TLB flushes are the host's (its nested invalidation covers ATS) |
//! | `ECAP.C`, `SMPWC` | the host's | page-walk coherency is the host walker's |
//! | `ECAP.IRO` | `0xF` | IVA at `0xF0`, IOTLB at `0xF8` (as QEMU) |
//! | `ECAP.IR`, `EIM`, `MTS`, `VCS`, `DIT`, `ERS`, `SC`, `PMS`, `RPS` | 0 | not backed (interrupt remapping is the VMM's; memory types are refused by the 2020 UAPI; PASIDs are the guest's own since Linux 6.4) |

use vsva_uapi::consts::NestingFeatures;
use vsva_uapi::hw::vtd::{Cap, Ecap};
use vsva_viommu::HostIommu;

use crate::error::VtdError;

/// The register offset of the IOTLB registers / 16 (`ECAP.IRO`): IVA at `0xF0`.
pub const IRO: u16 = 0xf;

/// The register offset of the fault recording registers / 16 (`CAP.FRO`): `0x220`.
pub const FRO: u16 = 0x22;

/// The most fault recording registers the unit has (they must end inside its first
/// 4 KiB page: `0x220 + 16 × 128 < 0x1000`).
pub const MAX_FAULT_RECORDS: u8 = 128;

/// The `VER_REG` value: 1.0.
pub const VERSION: u32 = 0x10;

/// The capabilities of one emulated unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Offer {
    /// `CAP_REG`.
    pub cap: Cap,
    /// `ECAP_REG`.
    pub ecap: Ecap,
}

impl Offer {
    /// What a unit over `host` offers, with `fault_records` recording registers
    /// (clamped to `1 ..= MAX_FAULT_RECORDS`) and page requests if `page_requests` and
    /// the host can deliver them.
    ///
    /// # Errors
    /// [`VtdError::HostCannotBack`] when the host is not a VT-d with nested first-stage
    /// binds and cache invalidation (`BIND_PGTBL` and `CACHE_INVLD`) and PASIDs.
    pub fn derive(
        host: &HostIommu,
        fault_records: u8,
        page_requests: bool,
    ) -> Result<Offer, VtdError> {
        let HostIommu::Vtd(h) = host else {
            return Err(VtdError::HostCannotBack {
                why: "the host IOMMU is not an Intel VT-d",
            });
        };
        let features = host.features();
        if !features.contains(NestingFeatures::BIND_PGTBL | NestingFeatures::CACHE_INVLD) {
            return Err(VtdError::HostCannotBack {
                why: "the host cannot bind first-stage tables with cache invalidation (no BIND_PGTBL / CACHE_INVLD: no nesting)",
            });
        }
        let pasid_bits = u32::from(host.pasid_bits());
        if pasid_bits == 0 {
            return Err(VtdError::HostCannotBack {
                why: "the host has no PASIDs",
            });
        }
        let records = fault_records.clamp(1, MAX_FAULT_RECORDS);
        let five_level = h.first_level_5_level;
        let cap = Cap {
            nd: 6,
            sagaw: if five_level { 0b1100 } else { 0b0100 },
            mgaw: if five_level { 56 } else { 47 },
            cm: true,
            fro: FRO,
            psi: true,
            nfr: records - 1,
            mamv: 18,
            dwd: true,
            drd: true,
            fl1gp: h.first_level_1g_pages,
            fl5lp: five_level,
            esrtps: true,
            ..Cap::default()
        };
        let prs = page_requests && features.contains(NestingFeatures::PAGE_REQUEST);
        let ecap = Ecap {
            c: h.page_walk_coherency,
            qi: true,
            dt: h.device_tlb,
            iro: IRO,
            prs,
            srs: h.supervisor_requests,
            eafs: h.extended_accessed_flag,
            pss: (pasid_bits - 1) as u8,
            pasid: true,
            pds: prs,
            smts: true,
            fsts: true,
            smpwc: h.scalable_page_walk_coherency,
            ..Ecap::default()
        };
        Ok(Offer { cap, ecap })
    }

    /// The highest guest PASID (`2^(PSS+1) − 1`).
    pub const fn max_pasid(&self) -> u32 {
        (1u32 << self.ecap.pasid_bits()) - 1
    }

    /// The number of fault recording registers.
    pub const fn fault_records(&self) -> u32 {
        self.cap.fault_records()
    }
}
