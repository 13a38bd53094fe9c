//! Arm SMMUv3 ID registers: `SMMU_IDR0`, `SMMU_IDR1` and `SMMU_IDR5`, each declared once
//! as bit fields (decode and encode derived, one-bit fields also as flags). What
//! `IOMMU_GET_HW_INFO` reports in `iommu_hw_info_arm_smmuv3.idr[]`.
//!
//! Source: the Arm SMMUv3 architecture specification (IHI 0070), §6.3.1 `SMMU_IDR0`,
//! §6.3.2 `SMMU_IDR1`, §6.3.6 `SMMU_IDR5` (32-bit registers, held here in the low half
//! of a 64-bit word).
//!
//! ```
//! use vsva_uapi::hw::smmuv3::{Idr0, Idr0Flags, Idr1, Idr5};
//!
//! // Both stages, ATS and PRI; decoded into named fields and encoded back bit for bit.
//! let raw = (1 << 0) | (1 << 1) | (1 << 10) | (1 << 16) | (2 << 24);
//! let idr0 = Idr0::decode_raw(raw);
//! assert!(idr0.s1p && idr0.s2p && idr0.pri && !idr0.cd2l);
//! assert_eq!(idr0.stall_model, 2);
//! assert!(Idr0::flags_of(raw).contains(Idr0Flags::S1P | Idr0Flags::S2P));
//! assert_eq!(idr0.raw(), raw);
//!
//! let idr1 = Idr1 { ssidsize: 20, sidsize: 16, ..Idr1::default() };
//! assert_eq!(idr1.raw(), (20 << 6) | 16);
//! assert_eq!(Idr5::decode_raw(5).oas_bits(), 48);
//! ```

hw_struct! {
    /// `SMMU_IDR0`: translation stages, table formats and the features of the SMMU.
    pub struct Idr0 = "SMMU_IDR0", words 1, flags Idr0Flags {
        /// S2P: stage-2 translation.
        s2p: bool = 0 @ 0 => S2P;
        /// S1P: stage-1 translation.
        s1p: bool = 0 @ 1 => S1P;
        /// TTF: translation table formats (1 AArch32, 2 AArch64, 3 both).
        ttf: u8 = 0 @ 2 : 2;
        /// COHACC: coherent access to tables and queues.
        cohacc: bool = 0 @ 4 => COHACC;
        /// BTM: broadcast TLB maintenance.
        btm: bool = 0 @ 5 => BTM;
        /// HTTU: hardware translation table update (1 access flag, 2 also dirty state).
        httu: u8 = 0 @ 6 : 2;
        /// HYP: hypervisor stage-1 contexts.
        hyp: bool = 0 @ 9 => HYP;
        /// ATS: PCIe ATS.
        ats: bool = 0 @ 10 => ATS;
        /// ASID16: 16-bit ASIDs.
        asid16: bool = 0 @ 12 => ASID16;
        /// MSI: message-signalled interrupts.
        msi: bool = 0 @ 13 => MSI;
        /// SEV: the SMMU sends WFE wake-up events.
        sev: bool = 0 @ 14 => SEV;
        /// PRI: PCIe page requests.
        pri: bool = 0 @ 16 => PRI;
        /// VMID16: 16-bit VMIDs.
        vmid16: bool = 0 @ 18 => VMID16;
        /// CD2L: two-level context-descriptor tables.
        cd2l: bool = 0 @ 19 => CD2L;
        /// TTENDIAN: table endianness (0 mixed, 2 little, 3 big).
        ttendian: u8 = 0 @ 21 : 2;
        /// STALL_MODEL: 0 stall and terminate, 1 terminate only, 2 stall forced.
        stall_model: u8 = 0 @ 24 : 2;
        /// ST_LVL: stream table levels (0 linear, 1 two-level).
        st_lvl: u8 = 0 @ 27 : 2;
    }
}

hw_struct! {
    /// `SMMU_IDR1`: table and queue sizes, and the stream and substream id widths.
    pub struct Idr1 = "SMMU_IDR1", words 1, flags Idr1Flags {
        /// SIDSIZE: stream-id bits.
        sidsize: u8 = 0 @ 0 : 6;
        /// SSIDSIZE: substream-id (PASID) bits.
        ssidsize: u8 = 0 @ 6 : 5;
        /// PRIQS: log2 of the PRI queue's maximum entries.
        priqs: u8 = 0 @ 11 : 5;
        /// EVTQS: log2 of the event queue's maximum entries.
        evtqs: u8 = 0 @ 16 : 5;
        /// CMDQS: log2 of the command queue's maximum entries.
        cmdqs: u8 = 0 @ 21 : 5;
        /// ATTR_TYPES_OVR: incoming memory attributes can be overridden.
        attr_types_ovr: bool = 0 @ 27 => ATTR_TYPES_OVR;
        /// REL: base addresses are relative to the SMMU's.
        rel: bool = 0 @ 28 => REL;
        /// QUEUES_PRESET: queue bases and sizes are fixed.
        queues_preset: bool = 0 @ 29 => QUEUES_PRESET;
        /// TABLES_PRESET: table bases and sizes are fixed.
        tables_preset: bool = 0 @ 30 => TABLES_PRESET;
    }
}

hw_struct! {
    /// `SMMU_IDR5`: output address size and translation granules.
    pub struct Idr5 = "SMMU_IDR5", words 1, flags Idr5Flags {
        /// OAS: output address size (0..=6: 32, 36, 40, 42, 44, 48, 52 bits).
        oas: u8 = 0 @ 0 : 3;
        /// GRAN4K: 4 KiB translation granule.
        gran4k: bool = 0 @ 4 => GRAN4K;
        /// GRAN16K: 16 KiB translation granule.
        gran16k: bool = 0 @ 5 => GRAN16K;
        /// GRAN64K: 64 KiB translation granule.
        gran64k: bool = 0 @ 6 => GRAN64K;
        /// VAX: virtual address extension (0 48-bit, 1 52-bit).
        vax: u8 = 0 @ 10 : 2;
        /// STALL_MAX: the most outstanding stalled transactions.
        stall_max: u16 = 0 @ 16 : 16;
    }
}

hw_register!(Idr0, Idr1, Idr5);

/// `IDR5.OAS` encodings, in bits, by value (7 is reserved and reads as the widest).
const OAS_BITS: [u8; 8] = [32, 36, 40, 42, 44, 48, 52, 52];

impl Idr5 {
    /// The output address size in bits.
    pub const fn oas_bits(&self) -> u8 {
        OAS_BITS[(self.oas & 7) as usize]
    }

    /// The `OAS` encoding of an output size of `bits` (`None` unless it is one the
    /// architecture names).
    pub const fn oas_of_bits(bits: u8) -> Option<u8> {
        let mut i = 0;
        while i < 7 {
            if OAS_BITS[i] == bits {
                return Some(i as u8);
            }
            i += 1;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_round_trips_and_reserved_bits_drop() {
        for raw in [0u64, 0xffff_ffff, 0x1b0d_3757, 0x0a5a_5a5a] {
            assert_eq!(Idr0::decode_raw(raw).raw(), raw & !Idr0::RESERVED[0]);
            assert_eq!(Idr1::decode_raw(raw).raw(), raw & !Idr1::RESERVED[0]);
            assert_eq!(Idr5::decode_raw(raw).raw(), raw & !Idr5::RESERVED[0]);
        }
        // Bits 8, 11, 15, 17, 20, 23, 26 and 29..=31 of IDR0 are no field.
        assert_eq!(Idr0::RESERVED[0] & 0xffff_ffff, 0xe492_8900);
    }

    #[test]
    fn oas_encodings_map_both_ways() {
        for oas in 0..7u8 {
            let bits = Idr5 {
                oas,
                ..Idr5::default()
            }
            .oas_bits();
            assert_eq!(Idr5::oas_of_bits(bits), Some(oas));
        }
        assert_eq!(Idr5::decode_raw(7).oas_bits(), 52);
        assert_eq!(Idr5::oas_of_bits(47), None);
    }
}
