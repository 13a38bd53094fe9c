//! What the host IOMMU can do, and the `IOMMU_NESTING_FEAT_*` / `iommu_nesting_info` a VM
//! is told, derived from it (never configured separately, so they cannot disagree).

use vsva_uapi::consts::{NestingFeatures, PasidFormat, IOMMU_PASID_FORMAT_SMMUV3, PASID_MAX};
use vsva_uapi::hw::smmuv3::{Idr0, Idr1, Idr5};
use vsva_uapi::hw::vtd::{Cap, Ecap};
use vsva_uapi::{NestingInfo, NestingInfoVtd, UapiStruct, Vendor};
use vsva_vfio::features::iommufd_backend;
use vsva_vfio::smmuv3::Smmuv3Capabilities;
use vsva_vfio::vtd::VtdCapabilities;
use zerocopy::FromZeros;

/// The host IOMMU behind a backend, as its capability registers describe it (what
/// `IOMMU_GET_HW_INFO` or sysfs report; see [`vsva_vfio::vtd`] and [`vsva_vfio::smmuv3`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostIommu {
    /// Intel VT-d: guest first-level page tables are bound per PASID.
    Vtd(VtdCapabilities),
    /// Arm SMMUv3: the guest's whole PASID (context-descriptor) table is bound.
    Smmuv3(Smmuv3Capabilities),
}

impl HostIommu {
    /// A scalable-mode VT-d with nesting, first-level tables, 20-bit PASIDs, SRS, EAFS,
    /// page requests, device TLB and 4-level (48-bit) first-level paging: what the
    /// software model emulates by default.
    pub fn vtd_default() -> HostIommu {
        let cap = Cap {
            mgaw: 47,      // 48-bit guest addresses
            sagaw: 0b0100, // 4-level second stage
            psi: true,
            fl1gp: true,
            ..Cap::default()
        };
        let ecap = Ecap {
            c: true,
            qi: true,
            dt: true,
            nest: true,
            prs: true,
            srs: true,
            eafs: true,
            pss: 19, // 20-bit PASIDs
            pasid: true,
            smts: true,
            ssts: true,
            fsts: true,
            smpwc: true,
            ..Ecap::default()
        };
        HostIommu::Vtd(VtdCapabilities::decode(cap.raw(), ecap.raw()))
    }

    /// An SMMUv3 with both stages, PRI, two-level CD tables, 20-bit substream ids, 48-bit
    /// output addresses and 4 KiB / 64 KiB granules.
    pub fn smmuv3_default() -> HostIommu {
        let idr0 = Idr0 {
            s2p: true,
            s1p: true,
            cohacc: true,
            ats: true,
            pri: true,
            cd2l: true,
            ..Idr0::default()
        };
        let idr1 = Idr1 {
            ssidsize: 20,
            sidsize: 16,
            ..Idr1::default()
        };
        let idr5 = Idr5 {
            oas: 5, // 48 bits
            gran4k: true,
            gran64k: true,
            ..Idr5::default()
        };
        let [idr0, idr1, idr5] = [idr0.raw(), idr1.raw(), idr5.raw()].map(|r| r as u32);
        HostIommu::Smmuv3(Smmuv3Capabilities::decode(&[idr0, idr1, 0, 0, 0, idr5]))
    }

    /// The vendor whose extra UAPI checks apply (`Some(Vtd)` for VT-d).
    pub fn vendor(&self) -> Option<Vendor> {
        match self {
            HostIommu::Vtd(_) => Some(Vendor::Vtd),
            HostIommu::Smmuv3(_) => None,
        }
    }

    /// PASID (substream id) width in bits, capped at the UAPI's 20.
    pub fn pasid_bits(&self) -> u8 {
        let bits = match self {
            HostIommu::Vtd(c) => c.pasid_bits,
            HostIommu::Smmuv3(c) => c.substream_id_bits,
        };
        bits.min(20)
    }

    /// The highest host PASID (`2^pasid_bits − 1`), or 0 without PASID support.
    pub fn max_pasid(&self) -> u32 {
        match self.pasid_bits() {
            0 => 0,
            b => ((1u64 << b) - 1).min(u64::from(PASID_MAX - 1)) as u32,
        }
    }

    /// Stage-1 (guest) input address width in bits.
    pub fn addr_width(&self) -> u16 {
        match self {
            HostIommu::Vtd(c) if c.first_level_5_level => 57,
            HostIommu::Vtd(_) => 48,
            HostIommu::Smmuv3(c) => u16::from(c.output_address_bits),
        }
    }

    /// The nesting features this host really supports: the rule of
    /// [`vsva_vfio::features::iommufd_backend::vtd_offer`] /
    /// [`smmuv3_offer`](vsva_vfio::features::iommufd_backend::smmuv3_offer), kept in one
    /// place so `vsva features` reports exactly what a guest is offered.
    pub fn features(&self) -> NestingFeatures {
        match self {
            HostIommu::Vtd(c) => iommufd_backend::vtd_offer(c),
            HostIommu::Smmuv3(c) => iommufd_backend::smmuv3_offer(c),
        }
    }

    /// The `iommu_nesting_info` a VM is given: `features`, the address and PASID widths,
    /// and for VT-d the raw CAP/ECAP registers in `vendor.vtd`. (The union has no SMMUv3
    /// member: an SMMUv3 host reports `IOMMU_PASID_FORMAT_SMMUV3` with the union zero.)
    pub fn nesting_info(&self) -> NestingInfo {
        let mut info = NestingInfo::new_zeroed();
        info.argsz = NestingInfo::DECL.size as u32;
        info.features = self.features().bits();
        info.addr_width = self.addr_width();
        info.pasid_bits = u16::from(self.pasid_bits());
        match self {
            HostIommu::Vtd(c) => {
                let mut vtd = NestingInfoVtd::new_zeroed();
                vtd.cap_reg = c.cap_reg;
                vtd.ecap_reg = c.ecap_reg;
                info.set_vtd(vtd);
                debug_assert_eq!(info.format, PasidFormat::IntelVtd.raw());
            }
            HostIommu::Smmuv3(_) => info.format = IOMMU_PASID_FORMAT_SMMUV3,
        }
        info
    }
}
