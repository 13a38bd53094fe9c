//! Intel VT-d capability registers (`CAP_REG`, `ECAP_REG`) decoded into named fields:
//! what `IOMMU_GET_HW_INFO` (`iommu_hw_info_vtd`) and sysfs
//! (`/sys/class/iommu/dmarN/intel-iommu/{cap,ecap}`) report, as a VMM needs it to decide
//! what a guest can be given.
//!
//! Bit positions: Intel VT-d specification, §11.4.2 (Capability Register) and §11.4.3
//! (Extended Capability Register), declared once in [`vsva_uapi::hw::vtd`] (which also
//! encodes them, for an emulated unit); this module names the fields a host-side decision
//! needs.
//!
//! ```
//! use vsva_vfio::vtd::VtdCapabilities;
//! use vsva_uapi::hw::vtd::Ecap;
//! // A scalable-mode VT-d with nesting, 20-bit PASIDs, SRS and first-level tables.
//! let ecap = Ecap { smts: true, nest: true, pss: 19, pasid: true, srs: true, fsts: true, c: true, ..Ecap::default() };
//! let ecap = ecap.raw();
//! let caps = VtdCapabilities::decode(0x00d2_0086_0462_ef, ecap);
//! assert!(caps.scalable_mode && caps.nesting && caps.pasid);
//! assert_eq!(caps.pasid_bits, 20);
//! assert!(caps.supervisor_requests && caps.first_level && caps.page_walk_coherency);
//! ```

use vsva_uapi::hw::vtd::{Cap, Ecap};

/// Named fields of the VT-d `CAP_REG` and `ECAP_REG`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(clippy::struct_excessive_bools)]
pub struct VtdCapabilities {
    /// The raw `CAP_REG`.
    pub cap_reg: u64,
    /// The raw `ECAP_REG`.
    pub ecap_reg: u64,
    /// `CAP.MGAW + 1`: the maximum guest (second-level input) address width in bits.
    pub max_guest_address_width: u8,
    /// `CAP.SAGAW`: supported second-level page-table levels (bit 1: 3-level, 2: 4-level, 3: 5-level).
    pub sagaw: u8,
    /// `CAP.FL1GP`: first-level 1 GiB pages.
    pub first_level_1g_pages: bool,
    /// `CAP.FL5LP`: first-level 5-level paging.
    pub first_level_5_level: bool,
    /// `CAP.PSI`: page-selective invalidation.
    pub page_selective_invalidation: bool,
    /// `ECAP.C`: page-walk coherency.
    pub page_walk_coherency: bool,
    /// `ECAP.QI`: queued invalidation.
    pub queued_invalidation: bool,
    /// `ECAP.DT`: device-TLB (ATS) support.
    pub device_tlb: bool,
    /// `ECAP.PT`: pass-through.
    pub pass_through: bool,
    /// `ECAP.MTS`: memory-type support.
    pub memory_type: bool,
    /// `ECAP.NEST`: nested translation.
    pub nesting: bool,
    /// `ECAP.PRS`: page requests (PRI).
    pub page_requests: bool,
    /// `ECAP.SRS`: supervisor requests.
    pub supervisor_requests: bool,
    /// `ECAP.EAFS`: extended accessed flag.
    pub extended_accessed_flag: bool,
    /// `ECAP.PASID`: PASID support.
    pub pasid: bool,
    /// `ECAP.PSS + 1` when `pasid`: PASID width in bits (0 without PASID support).
    pub pasid_bits: u8,
    /// `ECAP.SMTS`: scalable-mode translation.
    pub scalable_mode: bool,
    /// `ECAP.FLTS`: first-level translation (guest page tables).
    pub first_level: bool,
    /// `ECAP.SLTS`: second-level translation.
    pub second_level: bool,
    /// `ECAP.SMPWCS`: scalable-mode page-walk coherency.
    pub scalable_page_walk_coherency: bool,
}

impl VtdCapabilities {
    /// Decodes the two registers, through the one declaration of their layouts
    /// ([`vsva_uapi::hw::vtd::Cap`], [`vsva_uapi::hw::vtd::Ecap`]).
    pub const fn decode(cap_reg: u64, ecap_reg: u64) -> VtdCapabilities {
        let cap = Cap::decode_raw(cap_reg);
        let ecap = Ecap::decode_raw(ecap_reg);
        VtdCapabilities {
            cap_reg,
            ecap_reg,
            max_guest_address_width: cap.mgaw + 1,
            sagaw: cap.sagaw,
            first_level_1g_pages: cap.fl1gp,
            first_level_5_level: cap.fl5lp,
            page_selective_invalidation: cap.psi,
            page_walk_coherency: ecap.c,
            queued_invalidation: ecap.qi,
            device_tlb: ecap.dt,
            pass_through: ecap.pt,
            memory_type: ecap.mts,
            nesting: ecap.nest,
            page_requests: ecap.prs,
            supervisor_requests: ecap.srs,
            extended_accessed_flag: ecap.eafs,
            pasid: ecap.pasid,
            pasid_bits: ecap.pasid_bits() as u8,
            scalable_mode: ecap.smts,
            first_level: ecap.fsts,
            second_level: ecap.ssts,
            scalable_page_walk_coherency: ecap.smpwc,
        }
    }

    /// The decoded `CAP_REG`, every field.
    pub const fn cap(&self) -> Cap {
        Cap::decode_raw(self.cap_reg)
    }

    /// The decoded `ECAP_REG`, every field.
    pub const fn ecap(&self) -> Ecap {
        Ecap::decode_raw(self.ecap_reg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_named_bit_comes_from_its_own_position() {
        let none = VtdCapabilities::decode(0, 0);
        assert!(!none.pasid && none.pasid_bits == 0 && !none.nesting);
        assert_eq!(none.max_guest_address_width, 1);
        let ecap_bits = [
            (0, "page_walk_coherency"),
            (26, "nesting"),
            (29, "page_requests"),
            (31, "supervisor_requests"),
            (34, "extended_accessed_flag"),
            (43, "scalable_mode"),
            (47, "first_level"),
        ];
        for (n, name) in ecap_bits {
            let c = VtdCapabilities::decode(0, 1 << n);
            let set = [
                c.page_walk_coherency,
                c.nesting,
                c.page_requests,
                c.supervisor_requests,
                c.extended_accessed_flag,
                c.scalable_mode,
                c.first_level,
            ];
            assert_eq!(set.iter().filter(|b| **b).count(), 1, "{name}");
        }
        // MGAW 47 → 48-bit guest addresses; PSS 19 → 20-bit PASIDs.
        let c = VtdCapabilities::decode(47 << 16, (1 << 40) | (19 << 35));
        assert_eq!((c.max_guest_address_width, c.pasid_bits), (48, 20));
    }
}
