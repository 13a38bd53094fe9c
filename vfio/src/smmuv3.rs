//! Arm SMMUv3 ID registers (`IDR0`, `IDR1`, `IDR5`) decoded into named fields: what
//! `IOMMU_GET_HW_INFO` reports in `iommu_hw_info_arm_smmuv3.idr[]`, as a VMM needs it to
//! decide whether a guest can own stage-1 (a PASID table / CD table) on top of a host
//! stage 2.
//!
//! The registers' bit fields are declared in [`vsva_uapi::hw::smmuv3`] (Arm SMMUv3
//! architecture specification, IHI 0070, §6.3).
//!
//! ```
//! use vsva_vfio::smmuv3::Smmuv3Capabilities;
//! // Both stages, PRI, ATS, 20-bit substream ids, 48-bit output, 4K granule.
//! let idr = [(1 << 0) | (1 << 1) | (1 << 10) | (1 << 16), 20 << 6, 0, 0, 0, 5 | (1 << 4)];
//! let caps = Smmuv3Capabilities::decode(&idr);
//! assert!(caps.stage1 && caps.stage2 && caps.nesting());
//! assert_eq!(caps.substream_id_bits, 20);
//! assert_eq!(caps.output_address_bits, 48);
//! ```

use vsva_uapi::hw::smmuv3::{Idr0, Idr1, Idr5};

/// Named fields of the SMMUv3 ID registers vsva uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(clippy::struct_excessive_bools)]
pub struct Smmuv3Capabilities {
    /// The raw `IDR0`..`IDR5`.
    pub idr: [u32; 6],
    /// `IDR0.S2P`: stage-2 translation.
    pub stage2: bool,
    /// `IDR0.S1P`: stage-1 translation.
    pub stage1: bool,
    /// `IDR0.COHACC`: coherent access.
    pub coherent: bool,
    /// `IDR0.BTM`: broadcast TLB maintenance.
    pub broadcast_tlb: bool,
    /// `IDR0.ATS`: PCIe ATS.
    pub ats: bool,
    /// `IDR0.PRI`: PCIe page requests.
    pub pri: bool,
    /// `IDR0.STALL_MODEL`: 0 stall and terminate, 1 terminate only, 2 stall forced.
    pub stall_model: u8,
    /// `IDR0.CD2L`: two-level context-descriptor tables.
    pub cd_two_level: bool,
    /// `IDR1.SSIDSIZE`: substream-id (PASID) bits.
    pub substream_id_bits: u8,
    /// `IDR1.SIDSIZE`: stream-id bits.
    pub stream_id_bits: u8,
    /// `IDR5.OAS`, in bits (32, 36, 40, 42, 44, 48, 52).
    pub output_address_bits: u8,
    /// `IDR5.GRAN4K`, `GRAN16K`, `GRAN64K`.
    pub granules: [bool; 3],
}

impl Smmuv3Capabilities {
    /// Decodes `IDR0`..`IDR5` (the fields are declared once, in
    /// [`vsva_uapi::hw::smmuv3`]).
    pub const fn decode(idr: &[u32; 6]) -> Smmuv3Capabilities {
        let idr0 = Idr0::decode_raw(idr[0] as u64);
        let idr1 = Idr1::decode_raw(idr[1] as u64);
        let idr5 = Idr5::decode_raw(idr[5] as u64);
        Smmuv3Capabilities {
            idr: *idr,
            stage2: idr0.s2p,
            stage1: idr0.s1p,
            coherent: idr0.cohacc,
            broadcast_tlb: idr0.btm,
            ats: idr0.ats,
            pri: idr0.pri,
            stall_model: idr0.stall_model,
            cd_two_level: idr0.cd2l,
            substream_id_bits: idr1.ssidsize,
            stream_id_bits: idr1.sidsize,
            output_address_bits: idr5.oas_bits(),
            granules: [idr5.gran4k, idr5.gran16k, idr5.gran64k],
        }
    }

    /// Whether a guest-owned stage 1 can be nested on a host stage 2 (both stages).
    pub const fn nesting(&self) -> bool {
        self.stage1 && self.stage2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_come_from_their_own_bits() {
        let none = Smmuv3Capabilities::decode(&[0; 6]);
        assert!(!none.nesting() && !none.pri && none.substream_id_bits == 0);
        assert_eq!(none.output_address_bits, 32);
        let s1 = Smmuv3Capabilities::decode(&[1 << 1, 0, 0, 0, 0, 0]);
        assert!(s1.stage1 && !s1.stage2 && !s1.nesting());
        let ids = Smmuv3Capabilities::decode(&[0, (31 << 6) | 63, 0, 0, 0, 6]);
        assert_eq!((ids.substream_id_bits, ids.stream_id_bits), (31, 63));
        assert_eq!(ids.output_address_bits, 52);
        let stall = Smmuv3Capabilities::decode(&[2 << 24, 0, 0, 0, 0, 1 << 6]);
        assert_eq!(stall.stall_model, 2);
        assert_eq!(stall.granules, [false, false, true]);
    }
}
