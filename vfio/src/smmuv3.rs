//! Arm SMMUv3 ID registers (`IDR0`, `IDR1`, `IDR5`) decoded into named fields: what
//! `IOMMU_GET_HW_INFO` reports in `iommu_hw_info_arm_smmuv3.idr[]`, as a VMM needs it to
//! decide whether a guest can own stage-1 (a PASID table / CD table) on top of a host
//! stage 2.
//!
//! Bit positions: Arm SMMUv3 architecture specification (IHI 0070), §6.3.1 `SMMU_IDR0`,
//! §6.3.2 `SMMU_IDR1`, §6.3.6 `SMMU_IDR5`.
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

const fn bit(reg: u32, n: u32) -> bool {
    (reg >> n) & 1 == 1
}

const fn field(reg: u32, lo: u32, width: u32) -> u32 {
    (reg >> lo) & ((1u32 << width) - 1)
}

impl Smmuv3Capabilities {
    /// Decodes `IDR0`..`IDR5`.
    pub const fn decode(idr: &[u32; 6]) -> Smmuv3Capabilities {
        let (idr0, idr1, idr5) = (idr[0], idr[1], idr[5]);
        let oas = match field(idr5, 0, 3) {
            0 => 32,
            1 => 36,
            2 => 40,
            3 => 42,
            4 => 44,
            5 => 48,
            _ => 52,
        };
        Smmuv3Capabilities {
            idr: *idr,
            stage2: bit(idr0, 0),
            stage1: bit(idr0, 1),
            coherent: bit(idr0, 4),
            broadcast_tlb: bit(idr0, 5),
            ats: bit(idr0, 10),
            pri: bit(idr0, 16),
            stall_model: field(idr0, 24, 2) as u8,
            cd_two_level: bit(idr0, 19),
            substream_id_bits: field(idr1, 6, 5) as u8,
            stream_id_bits: field(idr1, 0, 6) as u8,
            output_address_bits: oas,
            granules: [bit(idr5, 4), bit(idr5, 5), bit(idr5, 6)],
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
