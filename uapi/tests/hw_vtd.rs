//! The VT-d hardware formats of `vsva_uapi::hw::vtd` against the specification's facts:
//! every field's bit position, every register offset, the reserved masks against the
//! masks QEMU rejects (the reference's QEMU `*_RSVD*` values), the capability values QEMU
//! computes, decode/encode round trips, and the descriptor checks.

#![allow(clippy::field_reassign_with_default)]

use proptest::prelude::*;
use vsva_uapi::consts::PageResponseCode;
use vsva_uapi::hw::vtd::*;
use vsva_uapi::hw::{BitField, HwLayout};

/// `(name, first bit, last bit)` of every field, as the specification numbers them.
fn bits(layout: &HwLayout) -> Vec<(&'static str, u16, u16)> {
    layout
        .fields
        .iter()
        .map(|f| (f.name, f.first_bit(), f.last_bit()))
        .collect()
}

fn assert_fields(layout: &HwLayout, expected: &[(&str, u16, u16)]) {
    let got = bits(layout);
    assert_eq!(
        got.len(),
        expected.len(),
        "{}: field count\n got {got:?}",
        layout.name
    );
    for ((gn, glo, ghi), (en, elo, ehi)) in got.iter().zip(expected) {
        assert_eq!(
            (*gn, *glo, *ghi),
            (*en, *elo, *ehi),
            "{}: field {en}",
            layout.name
        );
    }
}

#[test]
fn register_offsets_and_widths() {
    // Reference §1.1.
    let expected: &[(&str, u32, u8)] = &[
        ("VER", 0x000, 4),
        ("CAP", 0x008, 8),
        ("ECAP", 0x010, 8),
        ("GCMD", 0x018, 4),
        ("GSTS", 0x01c, 4),
        ("RTADDR", 0x020, 8),
        ("CCMD", 0x028, 8),
        ("FSTS", 0x034, 4),
        ("FECTL", 0x038, 4),
        ("FEDATA", 0x03c, 4),
        ("FEADDR", 0x040, 4),
        ("FEUADDR", 0x044, 4),
        ("PMEN", 0x064, 4),
        ("IQH", 0x080, 8),
        ("IQT", 0x088, 8),
        ("IQA", 0x090, 8),
        ("ICS", 0x09c, 4),
        ("IECTL", 0x0a0, 4),
        ("IEDATA", 0x0a4, 4),
        ("IEADDR", 0x0a8, 4),
        ("IEUADDR", 0x0ac, 4),
        ("IQERCD", 0x0b0, 8),
        ("IRTA", 0x0b8, 8),
        ("PQH", 0x0c0, 8),
        ("PQT", 0x0c8, 8),
        ("PQA", 0x0d0, 8),
        ("PRS", 0x0dc, 4),
        ("PECTL", 0x0e0, 4),
        ("PEDATA", 0x0e4, 4),
        ("PEADDR", 0x0e8, 4),
        ("PEUADDR", 0x0ec, 4),
    ];
    let got: Vec<_> = REGISTERS
        .iter()
        .map(|r| (r.name, r.offset, r.width))
        .collect();
    assert_eq!(got, expected);
    // No two registers overlap, and each is naturally aligned.
    for w in REGISTERS.windows(2) {
        assert!(w[0].offset + u32::from(w[0].width) <= w[1].offset, "{w:?}");
    }
    for r in REGISTERS {
        assert_eq!(r.offset % u32::from(r.width), 0, "{}", r.name);
        if let Some(l) = r.layout {
            assert_eq!(l.words, 1, "{}", r.name);
            for f in l.fields {
                assert!(
                    f.last_bit() < u16::from(r.width) * 8,
                    "{}.{}",
                    r.name,
                    f.name
                );
            }
        }
    }
    // QEMU's layout: IRO 0xF (IVA 0xF0, IOTLB 0xF8), FRO 0x22 (FRCD 0x220).
    let ecap = Ecap::decode_raw(0xf42);
    assert_eq!((iva_offset(&ecap), iotlb_offset(&ecap)), (0xf0, 0xf8));
    let cap = Cap::decode_raw(0x80d2_008c_222f_0606);
    assert_eq!((frcd_offset(&cap, 0), frcd_offset(&cap, 1)), (0x220, 0x230));
    assert_eq!(register_at(0x9c).map(|r| r.name), Some("ICS"));
    assert_eq!(register_at(0x9d), None);
}

#[test]
fn cap_fields() {
    assert_fields(
        &Cap::LAYOUT,
        &[
            ("nd", 0, 2),
            ("afl", 3, 3),
            ("rwbf", 4, 4),
            ("plmr", 5, 5),
            ("phmr", 6, 6),
            ("cm", 7, 7),
            ("sagaw", 8, 12),
            ("mgaw", 16, 21),
            ("zlr", 22, 22),
            ("fro", 24, 33),
            ("sllps", 34, 37),
            ("psi", 39, 39),
            ("nfr", 40, 47),
            ("mamv", 48, 53),
            ("dwd", 54, 54),
            ("drd", 55, 55),
            ("fl1gp", 56, 56),
            ("pi", 59, 59),
            ("fl5lp", 60, 60),
            ("ecmds", 61, 61),
            ("esirtps", 62, 62),
            ("esrtps", 63, 63),
        ],
    );
    // Every one-bit field is a flag at the same bit.
    let flags: Vec<u64> = CapFlags::all().iter().map(|f| f.bits()).collect();
    let one_bit: Vec<u64> = Cap::FIELDS
        .iter()
        .filter(|f| f.width == 1)
        .map(|f| 1 << f.lo)
        .collect();
    assert_eq!(flags, one_bit);
}

#[test]
fn ecap_fields() {
    assert_fields(
        &Ecap::LAYOUT,
        &[
            ("c", 0, 0),
            ("qi", 1, 1),
            ("dt", 2, 2),
            ("ir", 3, 3),
            ("eim", 4, 4),
            ("pt", 6, 6),
            ("sc", 7, 7),
            ("iro", 8, 17),
            ("mhmv", 20, 23),
            ("mts", 25, 25),
            ("nest", 26, 26),
            ("prs", 29, 29),
            ("ers", 30, 30),
            ("srs", 31, 31),
            ("nwfs", 33, 33),
            ("eafs", 34, 34),
            ("pss", 35, 39),
            ("pasid", 40, 40),
            ("dit", 41, 41),
            ("pds", 42, 42),
            ("smts", 43, 43),
            ("vcs", 44, 44),
            ("ssads", 45, 45),
            ("ssts", 46, 46),
            ("fsts", 47, 47),
            ("smpwc", 48, 48),
            ("rps", 49, 49),
            ("pms", 51, 51),
        ],
    );
}

#[test]
fn qemu_capability_values_decode_as_documented() {
    // Reference §1.4: QEMU defaults, aw-bits 48.
    let cap = Cap::decode_raw(0x80d2_008c_222f_0606);
    assert_eq!(cap.nd, 6);
    assert_eq!(cap.sagaw, 0b0110, "39- and 48-bit second stage");
    assert_eq!(cap.guest_address_width(), 48);
    assert_eq!(cap.fro, 0x22);
    assert_eq!(cap.sllps, 0b11, "2 MiB and 1 GiB");
    assert_eq!(cap.fault_records(), 1);
    assert_eq!(cap.mamv, 18);
    assert!(cap.psi && cap.dwd && cap.drd && cap.esrtps);
    assert!(!cap.cm && !cap.fl1gp && !cap.rwbf);
    // + caching-mode=on sets bit 7; + x-flts (fs1gp) sets bit 56.
    assert!(Cap::decode_raw(0x80d2_008c_222f_0686).cm);
    let flts = Cap::decode_raw(0x81d2_008c_222f_0686);
    assert!(flts.cm && flts.fl1gp);

    let ecap = Ecap::decode_raw(0xf42);
    assert!(ecap.qi && ecap.pt && !ecap.smts);
    assert_eq!(ecap.iro, 0xf);
    // x-flts + x-pasid-mode + svm + device-iotlb.
    let svm = Ecap::decode_raw(0x0000_8d3a_2000_0f46);
    let want = EcapFlags::QI
        | EcapFlags::DT
        | EcapFlags::PT
        | EcapFlags::PRS
        | EcapFlags::NWFS
        | EcapFlags::PASID
        | EcapFlags::PDS
        | EcapFlags::SMTS
        | EcapFlags::FSTS;
    assert_eq!(Ecap::flags_of(0x0000_8d3a_2000_0f46), want);
    assert_eq!((svm.pss, svm.pasid_bits()), (7, 8));
    // x-scalable-mode=on, x-flts=off: SMTS + SRS + SSTS.
    let sm = Ecap::decode_raw(0x0000_4800_8000_0f42);
    assert!(sm.smts && sm.srs && sm.ssts && !sm.fsts);
    // intremap=on, eim=on adds IR, EIM, MHMV 0xF.
    let ir = Ecap::decode_raw(0xf42 + 0xf0_0018);
    assert!(ir.ir && ir.eim && ir.mhmv == 0xf);
}

#[test]
fn capability_encode_is_the_inverse_of_decode() {
    for raw in [
        0x80d2_008c_222f_0606u64,
        0x81d2_008c_222f_0686,
        0x0000_d200_8604_62ef,
    ] {
        assert_eq!(Cap::decode_raw(raw).raw(), raw & !Cap::RESERVED[0]);
    }
    let mut cap = Cap::default();
    cap.nd = 6;
    cap.mgaw = 47;
    cap.sagaw = 0b0100;
    cap.fro = 0x22;
    cap.psi = true;
    cap.mamv = 18;
    cap.esrtps = true;
    let raw = cap.raw();
    assert_eq!(
        raw,
        6 | (0b0100 << 8) | (47 << 16) | (0x22 << 24) | (1 << 39) | (18 << 48) | (1 << 63)
    );
    let mut ecap = Ecap::default();
    ecap.qi = true;
    ecap.iro = 0xf;
    ecap.pss = 19;
    ecap.pasid = true;
    ecap.smts = true;
    ecap.fsts = true;
    assert_eq!(
        ecap.raw(),
        (1 << 1) | (0xf << 8) | (19 << 35) | (1 << 40) | (1 << 43) | (1 << 47)
    );
    assert_eq!(ecap.pasid_bits(), 20);
}

#[test]
fn status_and_control_registers() {
    // GCMD and GSTS share bit positions (reference §1.2).
    let cmd: Vec<u64> = GcmdFlags::all().iter().map(|f| f.bits()).collect();
    let sts: Vec<u64> = GstsFlags::all().iter().map(|f| f.bits()).collect();
    assert_eq!(cmd, sts);
    assert_eq!(GcmdFlags::TE.bits(), 1 << 31);
    assert_eq!(GcmdFlags::SRTP.bits(), 1 << 30);
    assert_eq!(GcmdFlags::WBF.bits(), 1 << 27);
    assert_eq!(GcmdFlags::QIE.bits(), 1 << 26);
    assert_eq!(GcmdFlags::IRE.bits(), 1 << 25);
    assert_eq!(GcmdFlags::SIRTP.bits(), 1 << 24);
    assert_eq!(GcmdFlags::CFI.bits(), 1 << 23);
    assert_eq!(GCMD_ONE_SHOT.bits() | GCMD_LEVEL.bits(), 0xff80_0000);
    assert!((GCMD_ONE_SHOT & GCMD_LEVEL).is_empty());
    // FSTS (reference §1.5).
    assert_fields(
        &Fsts::LAYOUT,
        &[
            ("pfo", 0, 0),
            ("ppf", 1, 1),
            ("afo", 2, 2),
            ("apf", 3, 3),
            ("iqe", 4, 4),
            ("ice", 5, 5),
            ("ite", 6, 6),
            ("pro", 7, 7),
            ("fri", 8, 15),
        ],
    );
    assert_eq!(EventControlFlags::IM.bits(), 0x8000_0000);
    assert_eq!(EventControlFlags::IP.bits(), 0x4000_0000);
    assert_eq!(PrsFlags::PPR.bits() | PrsFlags::PRO.bits(), 0x3);
    assert_eq!(IcsFlags::IWC.bits(), 1);
    // Queue registers (reference §1.1, §3.1, §4.2).
    assert_fields(&QueueOffset16::LAYOUT, &[("offset", 4, 18)]);
    assert_fields(&QueueOffset32::LAYOUT, &[("offset", 5, 18)]);
    assert_eq!(QueueOffset16::decode_raw(0x7fff0 | 0xf).offset, 0x7fff0);
    assert_fields(
        &Iqa::LAYOUT,
        &[("qs", 0, 2), ("dw", 11, 11), ("iqa", 12, 63)],
    );
    let iqa = Iqa::decode_raw(0x1234_5000 | (1 << 11) | 1);
    assert_eq!((iqa.iqa, iqa.dw, iqa.qs), (0x1234_5000, true, 1));
    assert_eq!(iqa.entries(true), 256, "Linux: QS=1, 256 entries of 32 B");
    assert_eq!(Iqa::decode_raw(0).entries(false), 256);
    assert_fields(&Pqa::LAYOUT, &[("pqs", 0, 2), ("pqa", 12, 63)]);
    assert_eq!(Pqa::decode_raw(4).entries(), 2048, "Linux: PQS=4, 16 pages");
    assert_fields(
        &Iqercd::LAYOUT,
        &[("iqei", 0, 3), ("itesid", 32, 47), ("icesid", 48, 63)],
    );
    assert_fields(&Rtaddr::LAYOUT, &[("ttm", 10, 11), ("rta", 12, 63)]);
    let rt = Rtaddr::decode_raw(0xabc_d000 | (1 << 10));
    assert_eq!((rt.rta, rt.ttm), (0xabc_d000, TTM_SCALABLE));
    assert_fields(
        &Ccmd::LAYOUT,
        &[
            ("did", 0, 15),
            ("sid", 16, 31),
            ("fm", 32, 33),
            ("caig", 59, 60),
            ("cirg", 61, 62),
            ("icc", 63, 63),
        ],
    );
    assert_fields(
        &Iva::LAYOUT,
        &[("am", 0, 5), ("ih", 6, 6), ("addr", 12, 63)],
    );
    assert_fields(
        &IotlbReg::LAYOUT,
        &[
            ("did", 32, 47),
            ("dw", 48, 48),
            ("dr", 49, 49),
            ("iaig", 57, 58),
            ("iirg", 60, 61),
            ("ivt", 63, 63),
        ],
    );
    assert_fields(&EventData::LAYOUT, &[("imd", 0, 15), ("eimd", 16, 31)]);
    assert_fields(&EventAddress::LAYOUT, &[("ma", 2, 31)]);
    assert_fields(&Ver::LAYOUT, &[("min", 0, 3), ("max", 4, 7)]);
}

#[test]
fn fault_record() {
    assert_fields(
        &FaultRecord::LAYOUT,
        &[
            ("fi", 12, 63),
            ("sid", 64, 79),
            ("pp", 95, 95),
            ("fr", 96, 103),
            ("pv", 104, 123),
            ("t", 126, 126),
            ("f", 127, 127),
        ],
    );
    // Linux reads dword 3 (bits 127:96): F is its bit 31, FR its bits 7:0, T bit 30.
    let mut r = FaultRecord::default();
    r.f = true;
    r.fr = 0x59;
    r.t = true;
    r.pv = 0x12345;
    r.pp = true;
    r.sid = 0x0300;
    r.fi = 0x7f00_1234_5000;
    let w = r.encode();
    let dword3 = (w[1] >> 32) as u32;
    assert_eq!(dword3 & 0x8000_0000, 0x8000_0000);
    assert_eq!(dword3 & 0xff, 0x59);
    assert_eq!((dword3 >> 30) & 1, 1);
    assert_eq!((dword3 >> 8) & 0xfffff, 0x12345);
    let dword2 = w[1] as u32;
    assert_eq!((dword2 & 0xffff, dword2 >> 31), (0x0300, 1));
    assert_eq!(w[0], 0x7f00_1234_5000);
    for r in FaultReason::ALL {
        assert_eq!(FaultReason::from_code(r.code()), Some(*r));
    }
    assert_eq!(FaultReason::PreClear.code(), 0x47);
    assert_eq!(FaultReason::PasidEntryInvalid.code(), 0x5b);
    assert_eq!(FaultReason::PasidDirNotPresent.code(), 0x51);
    assert_eq!(FaultReason::from_code(0x33), None);
}

#[test]
fn translation_structures() {
    // Reference §2.1–§2.4.
    assert_fields(
        &RootEntry::LAYOUT,
        &[
            ("lp", 0, 0),
            ("lctp", 12, 63),
            ("up", 64, 64),
            ("uctp", 76, 127),
        ],
    );
    assert_eq!(RootEntry::RESERVED, [0xffe, 0xffe], "bits 11:1 and 75:65");
    assert_fields(
        &ContextEntry::LAYOUT,
        &[
            ("p", 0, 0),
            ("fpd", 1, 1),
            ("dte", 2, 2),
            ("paside", 3, 3),
            ("pre", 4, 4),
            ("pdts", 9, 11),
            ("pasiddirptr", 12, 63),
            ("rid_pasid", 64, 83),
            ("rid_priv", 84, 84),
        ],
    );
    // QEMU's context-entry reserved masks: QW0 0x1e0, QW1 0xffffffffffe00000.
    assert_eq!(ContextEntry::RESERVED[0], 0x1e0);
    assert_eq!(ContextEntry::RESERVED[1], 0xffff_ffff_ffe0_0000);
    assert_eq!(ContextEntry::RESERVED[2..], [u64::MAX; 2]);
    let mut c = ContextEntry::default();
    c.pdts = 7;
    assert_eq!(c.pasid_dir_entries(), 1 << 14, "PASID bits 19:6");
    assert_fields(
        &PasidDirEntry::LAYOUT,
        &[("p", 0, 0), ("fpd", 1, 1), ("smptblptr", 12, 63)],
    );
    assert_eq!(PasidDirEntry::RESERVED, [0xffc]);
    assert_fields(
        &PasidEntry::LAYOUT,
        &[
            ("p", 0, 0),
            ("fpd", 1, 1),
            ("aw", 2, 4),
            ("pgtt", 6, 8),
            ("ssade", 9, 9),
            ("ssptptr", 12, 63),
            ("did", 64, 79),
            ("pwsnp", 87, 87),
            ("pgsnp", 88, 88),
            ("cd", 89, 89),
            ("emte", 90, 90),
            ("emt", 91, 93),
            ("pwt", 94, 94),
            ("pcd", 95, 95),
            ("pat", 96, 127),
            ("sre", 128, 128),
            ("ere", 129, 129),
            ("fspm", 130, 131),
            ("wpe", 132, 132),
            ("nxe", 133, 133),
            ("eafe", 135, 135),
            ("fsptptr", 140, 191),
        ],
    );
    assert_eq!(PasidEntry::RESERVED[3..], [u64::MAX; 5], "bits 511:192");
    assert_eq!(PasidEntry::SIZE, 64);
    for (v, t) in [
        (1, Pgtt::FirstStage),
        (2, Pgtt::SecondStage),
        (3, Pgtt::Nested),
        (4, Pgtt::PassThrough),
    ] {
        assert_eq!(Pgtt::from_raw(v), Some(t));
    }
    assert_eq!(Pgtt::from_raw(0), None);
    assert_eq!(Pgtt::from_raw(5), None);
}

#[test]
fn descriptor_layouts() {
    // Reference §3.3.
    assert_fields(
        &CcInvDesc::LAYOUT,
        &[
            ("type_lo", 0, 3),
            ("g", 4, 5),
            ("type_hi", 9, 11),
            ("did", 16, 31),
            ("sid", 32, 47),
            ("fm", 48, 49),
        ],
    );
    assert_fields(
        &IotlbInvDesc::LAYOUT,
        &[
            ("type_lo", 0, 3),
            ("g", 4, 5),
            ("dw", 6, 6),
            ("dr", 7, 7),
            ("type_hi", 9, 11),
            ("did", 16, 31),
            ("am", 64, 69),
            ("ih", 70, 70),
            ("addr", 76, 127),
        ],
    );
    assert_fields(
        &DevTlbInvDesc::LAYOUT,
        &[
            ("type_lo", 0, 3),
            ("type_hi", 9, 11),
            ("pfsid_lo", 12, 15),
            ("mip", 16, 20),
            ("sid", 32, 47),
            ("pfsid_hi", 52, 63),
            ("s", 64, 64),
            ("addr", 76, 127),
        ],
    );
    assert_fields(
        &IecInvDesc::LAYOUT,
        &[
            ("type_lo", 0, 3),
            ("g", 4, 4),
            ("type_hi", 9, 11),
            ("im", 27, 31),
            ("iidx", 32, 47),
        ],
    );
    assert_fields(
        &WaitDesc::LAYOUT,
        &[
            ("type_lo", 0, 3),
            ("if_flag", 4, 4),
            ("sw", 5, 5),
            ("fn_flag", 6, 6),
            ("pd", 7, 7),
            ("type_hi", 9, 11),
            ("status_data", 32, 63),
            ("status_addr", 66, 127),
        ],
    );
    assert_fields(
        &PiotlbInvDesc::LAYOUT,
        &[
            ("type_lo", 0, 3),
            ("g", 4, 5),
            ("type_hi", 9, 11),
            ("did", 16, 31),
            ("pasid", 32, 51),
            ("am", 64, 69),
            ("ih", 70, 70),
            ("addr", 76, 127),
        ],
    );
    assert_fields(
        &PcInvDesc::LAYOUT,
        &[
            ("type_lo", 0, 3),
            ("g", 4, 5),
            ("type_hi", 9, 11),
            ("did", 16, 31),
            ("pasid", 32, 51),
        ],
    );
    assert_fields(
        &PdevTlbInvDesc::LAYOUT,
        &[
            ("type_lo", 0, 3),
            ("mip", 4, 8),
            ("type_hi", 9, 11),
            ("pfsid_lo", 12, 15),
            ("sid", 16, 31),
            ("pasid", 32, 51),
            ("pfsid_hi", 52, 63),
            ("g", 64, 64),
            ("s", 75, 75),
            ("addr", 76, 127),
        ],
    );
    assert_fields(
        &PgrpRespDesc::LAYOUT,
        &[
            ("type_lo", 0, 3),
            ("pp", 4, 4),
            ("pdp", 5, 5),
            ("type_hi", 9, 11),
            ("rc", 12, 15),
            ("rid", 16, 31),
            ("pasid", 32, 51),
            ("lpig", 66, 66),
            ("prgi", 67, 75),
        ],
    );
    assert_fields(
        &PageReqDesc::LAYOUT,
        &[
            ("ty", 0, 7),
            ("pp", 8, 8),
            ("pdp", 9, 9),
            ("rid", 16, 31),
            ("pasid", 32, 51),
            ("er", 52, 52),
            ("pm", 53, 53),
            ("rd", 64, 64),
            ("wr", 65, 65),
            ("lpig", 66, 66),
            ("prgi", 67, 75),
            ("addr", 76, 127),
            ("priv_data0", 128, 191),
            ("priv_data1", 192, 255),
        ],
    );
    // Each descriptor's declared size: 128 bits for 1-5 and 9, 256 for 6-8.
    for ty in InvDescType::ALL {
        let words = if ty.needs_wide_queue() { 4 } else { 2 };
        assert_eq!(ty.layout().words, words, "{ty:?}");
        assert_eq!(InvDescType::from_raw(*ty as u8), Some(*ty));
    }
    assert_eq!(PageReqDesc::SIZE, 32);
}

#[test]
fn reserved_masks_match_qemus() {
    // QEMU's VTD_INV_DESC_*_RSVD* masks (reference §3.3). Where QEMU treats the PFSID
    // fields and PDP as reserved, so does a unit without ECAP.DIT / with revision-4 PDP.
    assert_eq!(CcInvDesc::RESERVED, [0xfffc_0000_0000_f1c0, u64::MAX]);
    assert_eq!(IotlbInvDesc::RESERVED, [0xffff_ffff_0000_f100, 0xf80]);
    let pfsid = (0xfu64 << 12) | (0xfff << 52);
    assert_eq!(DevTlbInvDesc::RESERVED[0] | pfsid, 0xffff_0000_ffe0_f1f0);
    assert_eq!(DevTlbInvDesc::RESERVED[1], 0xffe);
    assert_eq!(IecInvDesc::RESERVED[0], 0xffff_0000_07ff_f1e0);
    assert_eq!(WaitDesc::RESERVED[0] | (1 << 7), 0xffff_f180);
    assert_eq!(WaitDesc::RESERVED[1], 0x3);
    assert_eq!(
        PiotlbInvDesc::RESERVED,
        [0xfff0_0000_0000_f1c0, 0xf80, u64::MAX, u64::MAX]
    );
    assert_eq!(
        PcInvDesc::RESERVED,
        [0xfff0_0000_0000_f1c0, u64::MAX, u64::MAX, u64::MAX]
    );
    assert_eq!(PdevTlbInvDesc::RESERVED[0] | pfsid, 0xfff0_0000_0000_f000);
    assert_eq!(PdevTlbInvDesc::RESERVED[1], 0x7fe);
    assert_eq!(PgrpRespDesc::RESERVED[0] | (1 << 5), 0xfff0_0000_0000_01e0);
    assert_eq!(PgrpRespDesc::RESERVED[1], 0xffff_ffff_ffff_f003);
}

fn check128() -> DescCheck {
    DescCheck {
        wide: false,
        pds: false,
        dit: false,
        mamv: 18,
    }
}

#[test]
fn descriptor_decode_accepts_what_linux_sends() {
    let wide = DescCheck::scalable();
    // qi_submit_sync's wait: SW, status data QI_DONE (2), a 4-byte slot.
    let wait = [5 | (1 << 5) | (2u64 << 32), 0x8_1234, 0, 0];
    let InvDesc::Wait(w) = InvDesc::decode(&wait, &wide).unwrap() else {
        panic!()
    };
    assert!(w.sw && !w.if_flag && !w.fn_flag);
    assert_eq!((w.status_data, w.status_addr), (2, 0x8_1234));
    // The drain's FN-only wait and the SW|PD wait.
    assert!(InvDesc::decode(&[5 | (1 << 6), 0, 0, 0], &wide).is_ok());
    assert!(InvDesc::decode(&[5 | (1 << 5) | (1 << 7), 0x100, 0, 0], &wide).is_ok());
    // PIOTLB PSI: G=3, DID 1, PASID 0x42, AM 4, IH, ADDR.
    let psi = [
        6 | (3 << 4) | (1 << 16) | (0x42 << 32),
        4 | (1 << 6) | 0x7f12_3450_0000,
        0,
        0,
    ];
    let InvDesc::PasidIotlb(p) = InvDesc::decode(&psi, &wide).unwrap() else {
        panic!()
    };
    assert_eq!(
        (p.g, p.did, p.pasid, p.am, p.ih, p.addr),
        (3, 1, 0x42, 4, true, 0x7f12_3450_0000)
    );
    // PASID cache: PASID-selective and global.
    assert!(InvDesc::decode(&[7 | (1 << 4) | (1 << 16) | (0x42 << 32), 0, 0, 0], &wide).is_ok());
    assert!(InvDesc::decode(&[7 | (3 << 4), 0, 0, 0], &wide).is_ok());
    // Context cache device-selective, IOTLB DSI, device-TLB full range, IEC global.
    assert!(InvDesc::decode(&[1 | (3 << 4) | (0x0300 << 32), 0, 0, 0], &wide).is_ok());
    assert!(InvDesc::decode(&[2 | (2 << 4) | (1 << 16), 0, 0, 0], &wide).is_ok());
    assert!(InvDesc::decode(&[3 | (0x0300 << 32), 1 | !0xfffu64, 0, 0], &wide).is_ok());
    assert!(InvDesc::decode(&[4, 0, 0, 0], &wide.with_128()).is_ok());
    // PASID device-TLB and a page group response (LPIG from an older guest).
    assert!(InvDesc::decode(
        &[
            8 | (0x0300 << 16) | (0x42 << 32),
            1 | (1 << 11) | !0xfffu64,
            0,
            0
        ],
        &wide
    )
    .is_ok());
    let resp = [
        9 | (1 << 4) | (0x0300 << 16) | (0x42 << 32),
        (1 << 2) | (7 << 3),
        0xdead,
        0xbeef,
    ];
    let InvDesc::PageGroupResponse(r) = InvDesc::decode(&resp, &wide).unwrap() else {
        panic!()
    };
    assert_eq!(
        (r.rid, r.pasid, r.prgi, r.lpig, r.rc),
        (0x0300, 0x42, 7, true, 0)
    );
    // Encode gives the words back.
    for d in [&wait, &psi] {
        assert_eq!(InvDesc::decode(d, &wide).unwrap().encode(), *d);
    }
}

trait With128 {
    fn with_128(self) -> DescCheck;
}
impl With128 for DescCheck {
    fn with_128(self) -> DescCheck {
        DescCheck {
            wide: false,
            ..self
        }
    }
}

#[test]
fn descriptor_decode_refuses_what_the_spec_refuses() {
    let wide = DescCheck::scalable();
    let narrow = check128();
    let e = |w: [u64; 4], c: &DescCheck| InvDesc::decode(&w, c).unwrap_err();
    // Unknown types, including one in the high type bits.
    assert_eq!(e([0, 0, 0, 0], &wide), DescError::InvalidType { ty: 0 });
    assert_eq!(e([0xa, 0, 0, 0], &wide), DescError::InvalidType { ty: 10 });
    assert_eq!(
        e([1 << 9 | 1 | (1 << 4), 0, 0, 0], &wide),
        DescError::InvalidType { ty: 0x11 }
    );
    // 256-bit types in a 128-bit queue: IQEI 5.
    for ty in [6u64, 7, 8] {
        let err = e([ty | (2 << 4), 0, 0, 0], &narrow);
        assert_eq!(err.iqei(), Iqei::InvalidWidth, "type {ty}");
    }
    // QW2/QW3 of a type 1-8 descriptor in a 256-bit queue are reserved.
    assert!(matches!(
        e([1 | (1 << 4), 0, 1, 0], &wide),
        DescError::Reserved { word: 2, .. }
    ));
    assert!(matches!(
        e([6 | (2 << 4), 0, 0, 1 << 63], &wide),
        DescError::Reserved { word: 3, .. }
    ));
    // Reserved granularities.
    assert!(matches!(
        e([1, 0, 0, 0], &wide),
        DescError::Granularity { g: 0, .. }
    ));
    assert!(matches!(
        e([2, 0, 0, 0], &wide),
        DescError::Granularity { g: 0, .. }
    ));
    assert!(matches!(
        e([6 | (1 << 4), 0, 0, 0], &wide),
        DescError::Granularity { g: 1, .. }
    ));
    assert!(matches!(
        e([7 | (2 << 4), 0, 0, 0], &wide),
        DescError::Granularity { g: 2, .. }
    ));
    // IOTLB PSI AM beyond MAMV.
    assert_eq!(
        e([2 | (3 << 4), 19, 0, 0], &wide),
        DescError::AddressMask { am: 19, mamv: 18 }
    );
    // Wait: none of SW/IF/FN; PD without PDS; status address bits 1:0.
    assert_eq!(e([5, 0, 0, 0], &wide), DescError::WaitWithoutAction);
    assert!(matches!(
        e([5 | (1 << 5) | (1 << 7), 0, 0, 0], &narrow),
        DescError::Reserved {
            word: 0,
            bits: 0x80,
            ..
        }
    ));
    assert!(matches!(
        e([5 | (1 << 5), 2, 0, 0], &wide),
        DescError::Reserved {
            word: 1,
            bits: 2,
            ..
        }
    ));
    // PFSID without DIT; allowed with it.
    let devtlb = [3 | (0x5 << 12), 0, 0, 0];
    assert!(matches!(e(devtlb, &wide), DescError::Reserved { .. }));
    assert!(InvDesc::decode(&devtlb, &DescCheck { dit: true, ..wide }).is_ok());
    // Page group response: PP = 0, PDP = 1.
    assert_eq!(e([9, 0, 0, 0], &wide), DescError::ResponseWithoutPasid);
    assert!(matches!(
        e([9 | (1 << 4) | (1 << 5), 0, 0, 0], &wide),
        DescError::Reserved { bits: 0x20, .. }
    ));
    // Every error has an IQEI code of the datasheet's list.
    assert_eq!(e([0, 0, 0, 0], &wide).iqei() as u8, 3);
    assert_eq!(e([5, 0, 0, 0], &wide).iqei() as u8, 4);
}

#[test]
fn dev_tlb_size_encoding() {
    // S = 0: one page.
    assert_eq!(dev_tlb_range(0x1234_5000, false), (0x1234_5000, 4096));
    // S = 1 with ADDR bit 12 clear: 8 KiB.
    assert_eq!(dev_tlb_range(0x1234_4000, true), (0x1234_4000, 8192));
    // Linux's 2^mask-page range: bits 12 .. 12+mask-2 set. mask = 4 → 64 KiB.
    let mask = 4;
    let addr = 0x10_0000u64 | (((1u64 << (mask - 1)) - 1) << 12);
    assert_eq!(dev_tlb_range(addr, true), (0x10_0000, 64 * 1024));
    // The whole range (mask 52).
    assert_eq!(dev_tlb_range(0x7fff_ffff_ffff_f000, true), (0, u64::MAX));
}

#[test]
fn response_codes() {
    assert_eq!(ResponseCode::from_raw(0), ResponseCode::Success);
    assert_eq!(ResponseCode::from_raw(1), ResponseCode::InvalidRequest);
    assert_eq!(ResponseCode::from_raw(0xf), ResponseCode::Failure);
    assert_eq!(ResponseCode::Failure.raw(), 0xf);
    // A Linux guest puts the generic code numerically into RC: 2 reads as failure.
    assert_eq!(ResponseCode::from_raw(2), ResponseCode::Failure);
    assert_eq!(
        ResponseCode::Failure.to_generic(),
        PageResponseCode::Failure
    );
    for c in PageResponseCode::ALL {
        assert_eq!(ResponseCode::from_generic(*c).to_generic(), *c);
    }
    assert_eq!(
        ResponseCode::from_generic(PageResponseCode::Failure).raw(),
        0xf
    );
}

#[test]
fn every_layout_is_named_and_disjoint() {
    let mut names: Vec<&str> = STRUCTS.iter().map(|l| l.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), STRUCTS.len());
    for l in STRUCTS {
        assert!(
            vsva_uapi::hw::fields_are_disjoint(l.fields, l.words),
            "{}",
            l.name
        );
        assert!(
            l.fields.iter().all(|f: &BitField| !f.doc.is_empty()),
            "{}",
            l.name
        );
        assert!(!l.doc.is_empty(), "{}", l.name);
    }
}

fn roundtrip<const N: usize>(
    words: [u64; N],
    decode: fn(&[u64; N]) -> [u64; N],
    reserved: [u64; N],
) {
    let back = decode(&words);
    for i in 0..N {
        assert_eq!(back[i], words[i] & !reserved[i], "word {i}");
    }
}

proptest! {
    #[test]
    fn encode_inverts_decode(w in proptest::array::uniform8(any::<u64>())) {
        let w2 = [w[0], w[1]];
        let w4 = [w[0], w[1], w[2], w[3]];
        let w1 = [w[0]];
        roundtrip(w, |x| PasidEntry::decode(x).encode(), PasidEntry::RESERVED);
        roundtrip(w4, |x| ContextEntry::decode(x).encode(), ContextEntry::RESERVED);
        roundtrip(w2, |x| RootEntry::decode(x).encode(), RootEntry::RESERVED);
        roundtrip(w1, |x| PasidDirEntry::decode(x).encode(), PasidDirEntry::RESERVED);
        roundtrip(w4, |x| PageReqDesc::decode(x).encode(), PageReqDesc::RESERVED);
        roundtrip(w2, |x| FaultRecord::decode(x).encode(), FaultRecord::RESERVED);
        roundtrip(w2, |x| CcInvDesc::decode(x).encode(), CcInvDesc::RESERVED);
        roundtrip(w2, |x| IotlbInvDesc::decode(x).encode(), IotlbInvDesc::RESERVED);
        roundtrip(w2, |x| DevTlbInvDesc::decode(x).encode(), DevTlbInvDesc::RESERVED);
        roundtrip(w2, |x| IecInvDesc::decode(x).encode(), IecInvDesc::RESERVED);
        roundtrip(w2, |x| WaitDesc::decode(x).encode(), WaitDesc::RESERVED);
        roundtrip(w4, |x| PiotlbInvDesc::decode(x).encode(), PiotlbInvDesc::RESERVED);
        roundtrip(w4, |x| PcInvDesc::decode(x).encode(), PcInvDesc::RESERVED);
        roundtrip(w4, |x| PdevTlbInvDesc::decode(x).encode(), PdevTlbInvDesc::RESERVED);
        roundtrip(w2, |x| PgrpRespDesc::decode(x).encode(), PgrpRespDesc::RESERVED);
        roundtrip(w1, |x| Cap::decode(x).encode(), Cap::RESERVED);
        roundtrip(w1, |x| Ecap::decode(x).encode(), Ecap::RESERVED);
        // Bytes in memory order are the little-endian words.
        let mut bytes = [0u8; 64];
        for (i, v) in w.iter().enumerate() {
            bytes[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
        }
        prop_assert_eq!(PasidEntry::from_le_bytes(&bytes), Some(PasidEntry::decode(&w)));
        prop_assert_eq!(PasidEntry::from_le_bytes(&bytes[..63]), None);
        let e = PasidEntry::decode(&w);
        let mut masked = [0u8; 64];
        for (i, v) in e.encode().iter().enumerate() {
            masked[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
        }
        prop_assert_eq!(e.to_le_bytes(), masked);
    }

    /// Any four words decode to a descriptor or an error, never a panic; an accepted one
    /// has no reserved bit set and encodes back to the same words.
    #[test]
    fn any_descriptor_decodes_or_is_refused(w in proptest::array::uniform4(any::<u64>()), ty in 0u64..12, wide: bool, pds: bool, dit: bool) {
        let mut w = w;
        w[0] = (w[0] & !0xe0f) | (ty & 0xf);
        let check = DescCheck { wide, pds, dit, mamv: 18 };
        if let Ok(d) = InvDesc::decode(&w, &check) {
            let enc = d.encode();
            let n = d.ty().layout().words;
            prop_assert_eq!(&enc[..n], &w[..n]);
        }
    }
}
