//! What the host IOMMU can do, and the `IOMMU_NESTING_FEAT_*` / `iommu_nesting_info` a VM
//! is told, derived from it (never configured separately, so they cannot disagree).

use vsva_uapi::consts::{NestingFeatures, PasidFormat, IOMMU_PASID_FORMAT_SMMUV3, PASID_MAX};
use vsva_uapi::hw::smmuv3::{Idr0, Idr0Flags, Idr1, Idr5};
use vsva_uapi::hw::vtd::{Cap, Ecap};
use vsva_uapi::{NestingInfo, NestingInfoVtd, UapiStruct, Vendor};
use vsva_vfio::features::iommufd_backend::BackendOffer;
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

    /// The host as the iommufd backend sees it after a probe: the registers of `offer`
    /// (nesting masked off unless the kernel allocated a nest parent); `None` for an
    /// IOMMU type vsva does not decode.
    pub fn from_offer(offer: &BackendOffer) -> Option<HostIommu> {
        match (offer.vtd, offer.smmuv3) {
            (Some(v), _) => Some(HostIommu::Vtd(v)),
            (None, Some(s)) => Some(HostIommu::Smmuv3(s)),
            (None, None) => None,
        }
    }

    /// The nesting features this host really supports, the one rule from registers to
    /// `IOMMU_NESTING_FEAT_*` (what a guest is told, and what `vsva features` reports as
    /// the iommufd backend's offer, through [`offer`]):
    ///
    /// | feature | offered when |
    /// |---|---|
    /// | `SYSWIDE_PASID` | PASID bits > 0 (VT-d `ECAP.PASID`+`PSS`, SMMUv3 `IDR1.SSIDSIZE`) |
    /// | `BIND_PGTBL` + `CACHE_INVLD` | VT-d: scalable mode, nesting, first-level and queued invalidation |
    /// | `BIND_PASID_TABLE` + `CACHE_INVLD` | SMMUv3: `IDR0.S1P` and `IDR0.S2P` |
    /// | `PAGE_REQUEST` | with a bind: VT-d `ECAP.PRS`; SMMUv3 `IDR0.PRI` or a stall model other than terminate-only |
    ///
    /// ```
    /// use vsva_uapi::consts::NestingFeatures;
    /// use vsva_uapi::hw::vtd::{Ecap, EcapFlags};
    /// use vsva_vfio::vtd::VtdCapabilities;
    /// use vsva_viommu::HostIommu;
    ///
    /// let ecap = Ecap { qi: true, nest: true, prs: true, pss: 19, pasid: true, smts: true,
    ///     fsts: true, ..Ecap::default() }.raw();
    /// let host = HostIommu::Vtd(VtdCapabilities::decode(0, ecap));
    /// assert_eq!(host.features(), NestingFeatures::all() - NestingFeatures::BIND_PASID_TABLE);
    /// let no_nest = HostIommu::Vtd(VtdCapabilities::decode(0, ecap & !EcapFlags::NEST.bits()));
    /// assert_eq!(no_nest.features(), NestingFeatures::SYSWIDE_PASID);
    /// ```
    pub fn features(&self) -> NestingFeatures {
        let (pasid, bind, page_requests) = match self {
            HostIommu::Vtd(c) => (
                c.pasid_bits > 0,
                (c.scalable_mode && c.nesting && c.first_level && c.queued_invalidation)
                    .then_some(NestingFeatures::BIND_PGTBL),
                c.page_requests,
            ),
            HostIommu::Smmuv3(c) => {
                let idr0 = Idr0Flags::from_bits_truncate(u64::from(c.idr[0]));
                // IDR0.STALL_MODEL 1: terminate only, no stall to report.
                let stall = Idr0::decode_raw(u64::from(c.idr[0])).stall_model != 1;
                (
                    c.substream_id_bits > 0,
                    idr0.contains(Idr0Flags::S1P | Idr0Flags::S2P)
                        .then_some(NestingFeatures::BIND_PASID_TABLE),
                    idr0.contains(Idr0Flags::PRI) || stall,
                )
            }
        };
        let mut f = NestingFeatures::empty();
        if !pasid {
            return f;
        }
        f |= NestingFeatures::SYSWIDE_PASID;
        if let Some(bind) = bind {
            f |= bind | NestingFeatures::CACHE_INVLD;
            if page_requests {
                f |= NestingFeatures::PAGE_REQUEST;
            }
        }
        f
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

/// The iommufd backend's offer for a probed host ([`HostIommu::features`] of
/// [`HostIommu::from_offer`]; nothing for an IOMMU vsva does not decode): the
/// [`OfferRule`](vsva_vfio::features::iommufd_backend::OfferRule) `vsva features` is given.
pub fn offer(probed: &BackendOffer) -> NestingFeatures {
    HostIommu::from_offer(probed).map_or(NestingFeatures::empty(), |h| h.features())
}
