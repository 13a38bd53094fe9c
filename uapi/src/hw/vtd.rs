//! Intel VT-d, scalable mode: the register map, the capability registers (decode and
//! encode), the translation structures (root, context, PASID directory and PASID table
//! entries), every invalidation descriptor, the fault record, the page request
//! descriptor and the page group response, each declared once as bit fields.
//!
//! Sources: the Intel Virtualization Technology for Directed I/O specification (register
//! chapter 11 in revisions 4.x and later, chapter 10 before; translation structures in
//! chapter 9; invalidation in chapter 6; page requests in chapter 7), as the facts are
//! collected in vsva's reference notes. Bits are numbered from 0 at the least significant
//! bit of `QW0`; a 128/256/512-bit structure is an array of little-endian 64-bit words.
//!
//! ```
//! use vsva_uapi::hw::vtd::{Cap, CapFlags, Ecap, InvDesc, DescCheck, PasidEntry};
//!
//! // CAP_REG decodes into named fields and encodes back bit for bit.
//! let raw = 0x80d2_008c_222f_0606; // QEMU's default CAP (48-bit, ESRTPS, PSI, ...)
//! let cap = Cap::decode_raw(raw);
//! assert_eq!((cap.mgaw, cap.fro, cap.nfr, cap.mamv), (47, 0x22, 0, 18));
//! assert!(cap.esrtps && cap.psi && !cap.cm);
//! assert!(Cap::flags_of(raw).contains(CapFlags::ESRTPS | CapFlags::PSI));
//! assert_eq!(cap.raw(), raw);
//!
//! // A PASID entry for a first-stage table at 0x12_3000, as a Linux guest writes it.
//! let mut e = PasidEntry::default();
//! e.p = true;
//! e.pgtt = 1;
//! e.aw = 2;
//! e.did = 1;
//! e.fsptptr = 0x12_3000;
//! let words = e.encode();
//! assert_eq!(words[0], 0x1 | (2 << 2) | (1 << 6));
//! assert_eq!(words[2], 0x12_3000);
//! assert_eq!(PasidEntry::decode(&words), e);
//!
//! // A PASID-selective IOTLB invalidation (type 6, G = 2) of PASID 5 in domain 1.
//! let qw0 = 6 | (2 << 4) | (1 << 16) | (5 << 32);
//! let d = InvDesc::decode(&[qw0, 0, 0, 0], &DescCheck::scalable()).unwrap();
//! assert!(matches!(d, InvDesc::PasidIotlb(p) if p.pasid == 5 && p.did == 1));
//! ```

use super::{BitField, HwLayout};

// ---------------------------------------------------------------------------------------
// The register map
// ---------------------------------------------------------------------------------------

/// How software may access a register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegAccess {
    /// Read-only.
    Ro,
    /// Read-write.
    Rw,
    /// Write-only: reads return 0 (GCMD).
    Wo,
    /// Status bits that software clears by writing 1 (and read-only bits beside them).
    Rw1c,
}

/// One register of the fixed part of the map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Register {
    /// The specification's name (`GCMD_REG` is `GCMD`).
    pub name: &'static str,
    /// Offset from the unit's register base.
    pub offset: u32,
    /// Width in bytes: 4 or 8.
    pub width: u8,
    /// Software access.
    pub access: RegAccess,
    /// The fields, when the register has any besides one value.
    pub layout: Option<&'static HwLayout>,
    /// What it holds.
    pub doc: &'static str,
}

/// Register offsets (from the unit's base).
pub mod offset {
    /// Version.
    pub const VER: u32 = 0x000;
    /// Capability.
    pub const CAP: u32 = 0x008;
    /// Extended capability.
    pub const ECAP: u32 = 0x010;
    /// Global command.
    pub const GCMD: u32 = 0x018;
    /// Global status.
    pub const GSTS: u32 = 0x01c;
    /// Root table address.
    pub const RTADDR: u32 = 0x020;
    /// Context command (register-based context-cache invalidation).
    pub const CCMD: u32 = 0x028;
    /// Fault status.
    pub const FSTS: u32 = 0x034;
    /// Fault event control.
    pub const FECTL: u32 = 0x038;
    /// Fault event data.
    pub const FEDATA: u32 = 0x03c;
    /// Fault event address.
    pub const FEADDR: u32 = 0x040;
    /// Fault event upper address.
    pub const FEUADDR: u32 = 0x044;
    /// Advanced fault log (removed in revision 4.0).
    pub const AFLOG: u32 = 0x058;
    /// Protected memory enable.
    pub const PMEN: u32 = 0x064;
    /// Protected low-memory base.
    pub const PLMBASE: u32 = 0x068;
    /// Protected low-memory limit.
    pub const PLMLIMIT: u32 = 0x06c;
    /// Protected high-memory base.
    pub const PHMBASE: u32 = 0x070;
    /// Protected high-memory limit.
    pub const PHMLIMIT: u32 = 0x078;
    /// Invalidation queue head.
    pub const IQH: u32 = 0x080;
    /// Invalidation queue tail.
    pub const IQT: u32 = 0x088;
    /// Invalidation queue address.
    pub const IQA: u32 = 0x090;
    /// Invalidation completion status.
    pub const ICS: u32 = 0x09c;
    /// Invalidation completion event control.
    pub const IECTL: u32 = 0x0a0;
    /// Invalidation completion event data.
    pub const IEDATA: u32 = 0x0a4;
    /// Invalidation completion event address.
    pub const IEADDR: u32 = 0x0a8;
    /// Invalidation completion event upper address.
    pub const IEUADDR: u32 = 0x0ac;
    /// Invalidation queue error record.
    pub const IQERCD: u32 = 0x0b0;
    /// Interrupt remapping table address.
    pub const IRTA: u32 = 0x0b8;
    /// Page request queue head.
    pub const PQH: u32 = 0x0c0;
    /// Page request queue tail.
    pub const PQT: u32 = 0x0c8;
    /// Page request queue address.
    pub const PQA: u32 = 0x0d0;
    /// Page request status.
    pub const PRS: u32 = 0x0dc;
    /// Page request event control.
    pub const PECTL: u32 = 0x0e0;
    /// Page request event data.
    pub const PEDATA: u32 = 0x0e4;
    /// Page request event address.
    pub const PEADDR: u32 = 0x0e8;
    /// Page request event upper address.
    pub const PEUADDR: u32 = 0x0ec;
}

/// The registers at fixed offsets, in offset order. The IOTLB registers sit at
/// `ECAP.IRO × 16` ([`iva_offset`], [`iotlb_offset`]) and the fault recording registers
/// at `CAP.FRO × 16` ([`frcd_offset`]).
pub const REGISTERS: &[Register] = &[
    Register {
        name: "VER",
        offset: offset::VER,
        width: 4,
        access: RegAccess::Ro,
        layout: Some(&Ver::LAYOUT),
        doc: "architecture version (major 7:4, minor 3:0)",
    },
    Register {
        name: "CAP",
        offset: offset::CAP,
        width: 8,
        access: RegAccess::Ro,
        layout: Some(&Cap::LAYOUT),
        doc: "capabilities",
    },
    Register {
        name: "ECAP",
        offset: offset::ECAP,
        width: 8,
        access: RegAccess::Ro,
        layout: Some(&Ecap::LAYOUT),
        doc: "extended capabilities",
    },
    Register {
        name: "GCMD",
        offset: offset::GCMD,
        width: 4,
        access: RegAccess::Wo,
        layout: Some(&Gcmd::LAYOUT),
        doc: "global command (reads as 0)",
    },
    Register {
        name: "GSTS",
        offset: offset::GSTS,
        width: 4,
        access: RegAccess::Ro,
        layout: Some(&Gsts::LAYOUT),
        doc: "global status",
    },
    Register {
        name: "RTADDR",
        offset: offset::RTADDR,
        width: 8,
        access: RegAccess::Rw,
        layout: Some(&Rtaddr::LAYOUT),
        doc: "root table address and translation table mode, latched by GCMD.SRTP",
    },
    Register {
        name: "CCMD",
        offset: offset::CCMD,
        width: 8,
        access: RegAccess::Rw,
        layout: Some(&Ccmd::LAYOUT),
        doc: "register-based context-cache invalidation",
    },
    Register {
        name: "FSTS",
        offset: offset::FSTS,
        width: 4,
        access: RegAccess::Rw1c,
        layout: Some(&Fsts::LAYOUT),
        doc: "fault status",
    },
    Register {
        name: "FECTL",
        offset: offset::FECTL,
        width: 4,
        access: RegAccess::Rw,
        layout: Some(&EventControl::LAYOUT),
        doc: "fault event control (IM resets to 1)",
    },
    Register {
        name: "FEDATA",
        offset: offset::FEDATA,
        width: 4,
        access: RegAccess::Rw,
        layout: Some(&EventData::LAYOUT),
        doc: "fault event MSI data",
    },
    Register {
        name: "FEADDR",
        offset: offset::FEADDR,
        width: 4,
        access: RegAccess::Rw,
        layout: Some(&EventAddress::LAYOUT),
        doc: "fault event MSI address (31:2)",
    },
    Register {
        name: "FEUADDR",
        offset: offset::FEUADDR,
        width: 4,
        access: RegAccess::Rw,
        layout: None,
        doc: "fault event MSI upper address (reserved without ECAP.EIM)",
    },
    Register {
        name: "PMEN",
        offset: offset::PMEN,
        width: 4,
        access: RegAccess::Rw,
        layout: Some(&Pmen::LAYOUT),
        doc: "protected memory enable (writable only with CAP.PLMR or CAP.PHMR)",
    },
    Register {
        name: "IQH",
        offset: offset::IQH,
        width: 8,
        access: RegAccess::Ro,
        layout: Some(&QueueOffset16::LAYOUT),
        doc: "invalidation queue head: byte offset of the next descriptor the unit fetches",
    },
    Register {
        name: "IQT",
        offset: offset::IQT,
        width: 8,
        access: RegAccess::Rw,
        layout: Some(&QueueOffset16::LAYOUT),
        doc: "invalidation queue tail: byte offset one past the last descriptor software wrote",
    },
    Register {
        name: "IQA",
        offset: offset::IQA,
        width: 8,
        access: RegAccess::Rw,
        layout: Some(&Iqa::LAYOUT),
        doc: "invalidation queue base, descriptor width and size",
    },
    Register {
        name: "ICS",
        offset: offset::ICS,
        width: 4,
        access: RegAccess::Rw1c,
        layout: Some(&Ics::LAYOUT),
        doc: "invalidation completion status",
    },
    Register {
        name: "IECTL",
        offset: offset::IECTL,
        width: 4,
        access: RegAccess::Rw,
        layout: Some(&EventControl::LAYOUT),
        doc: "invalidation completion event control (IM resets to 1)",
    },
    Register {
        name: "IEDATA",
        offset: offset::IEDATA,
        width: 4,
        access: RegAccess::Rw,
        layout: Some(&EventData::LAYOUT),
        doc: "invalidation completion event MSI data",
    },
    Register {
        name: "IEADDR",
        offset: offset::IEADDR,
        width: 4,
        access: RegAccess::Rw,
        layout: Some(&EventAddress::LAYOUT),
        doc: "invalidation completion event MSI address",
    },
    Register {
        name: "IEUADDR",
        offset: offset::IEUADDR,
        width: 4,
        access: RegAccess::Rw,
        layout: None,
        doc: "invalidation completion event MSI upper address",
    },
    Register {
        name: "IQERCD",
        offset: offset::IQERCD,
        width: 8,
        access: RegAccess::Ro,
        layout: Some(&Iqercd::LAYOUT),
        doc: "invalidation queue error record",
    },
    Register {
        name: "IRTA",
        offset: offset::IRTA,
        width: 8,
        access: RegAccess::Rw,
        layout: Some(&Irta::LAYOUT),
        doc: "interrupt remapping table address (reserved without ECAP.IR)",
    },
    Register {
        name: "PQH",
        offset: offset::PQH,
        width: 8,
        access: RegAccess::Rw,
        layout: Some(&QueueOffset32::LAYOUT),
        doc: "page request queue head (software advances it)",
    },
    Register {
        name: "PQT",
        offset: offset::PQT,
        width: 8,
        access: RegAccess::Rw,
        layout: Some(&QueueOffset32::LAYOUT),
        doc: "page request queue tail (the unit advances it; software resets it to 0)",
    },
    Register {
        name: "PQA",
        offset: offset::PQA,
        width: 8,
        access: RegAccess::Rw,
        layout: Some(&Pqa::LAYOUT),
        doc: "page request queue base and size",
    },
    Register {
        name: "PRS",
        offset: offset::PRS,
        width: 4,
        access: RegAccess::Rw1c,
        layout: Some(&Prs::LAYOUT),
        doc: "page request status",
    },
    Register {
        name: "PECTL",
        offset: offset::PECTL,
        width: 4,
        access: RegAccess::Rw,
        layout: Some(&EventControl::LAYOUT),
        doc: "page request event control (IM resets to 1 in hardware)",
    },
    Register {
        name: "PEDATA",
        offset: offset::PEDATA,
        width: 4,
        access: RegAccess::Rw,
        layout: Some(&EventData::LAYOUT),
        doc: "page request event MSI data",
    },
    Register {
        name: "PEADDR",
        offset: offset::PEADDR,
        width: 4,
        access: RegAccess::Rw,
        layout: Some(&EventAddress::LAYOUT),
        doc: "page request event MSI address",
    },
    Register {
        name: "PEUADDR",
        offset: offset::PEUADDR,
        width: 4,
        access: RegAccess::Rw,
        layout: None,
        doc: "page request event MSI upper address",
    },
];

/// The register at `offset` (its first byte) among [`REGISTERS`].
pub fn register_at(offset: u32) -> Option<&'static Register> {
    REGISTERS.iter().find(|r| r.offset == offset)
}

/// The offset of the IOTLB invalidation address register (`IVA`): `ECAP.IRO × 16`.
pub const fn iva_offset(ecap: &Ecap) -> u32 {
    ecap.iro as u32 * 16
}

/// The offset of the IOTLB invalidate register: `ECAP.IRO × 16 + 8`.
pub const fn iotlb_offset(ecap: &Ecap) -> u32 {
    ecap.iro as u32 * 16 + 8
}

/// The offset of fault recording register `index`: `CAP.FRO × 16 + 16 × index`.
pub const fn frcd_offset(cap: &Cap, index: u32) -> u32 {
    cap.fro as u32 * 16 + 16 * index
}

hw_struct! {
    /// `VER_REG`: the architecture version.
    pub struct Ver = "VER_REG", words 1 {
        /// Minor version.
        min: u8 = 0 @ 0 : 4;
        /// Major version.
        max: u8 = 0 @ 4 : 4;
    }
}

hw_struct! {
    /// `CAP_REG`: what the remapping unit can do.
    pub struct Cap = "CAP_REG", words 1, flags CapFlags {
        /// ND: number of domain ids supported, `2^(4 + 2·ND)`.
        nd: u8 = 0 @ 0 : 3;
        /// AFL: advanced fault logging (removed in revision 4.0).
        afl: bool = 0 @ 3 => AFL;
        /// RWBF: software must flush the write buffer (GCMD.WBF).
        rwbf: bool = 0 @ 4 => RWBF;
        /// PLMR: protected low-memory region.
        plmr: bool = 0 @ 5 => PLMR;
        /// PHMR: protected high-memory region.
        phmr: bool = 0 @ 6 => PHMR;
        /// CM: caching mode (not-present and invalid entries may be cached).
        cm: bool = 0 @ 7 => CM;
        /// SAGAW: supported second-stage widths (bit 1: 39-bit, 2: 48-bit, 3: 57-bit).
        sagaw: u8 = 0 @ 8 : 5;
        /// MGAW: maximum guest address width − 1.
        mgaw: u8 = 0 @ 16 : 6;
        /// ZLR: zero-length reads.
        zlr: bool = 0 @ 22 => ZLR;
        /// FRO: fault recording register offset / 16.
        fro: u16 = 0 @ 24 : 10;
        /// SLLPS: second-stage large pages (bit 0: 2 MiB, bit 1: 1 GiB).
        sllps: u8 = 0 @ 34 : 4;
        /// PSI: page-selective invalidation.
        psi: bool = 0 @ 39 => PSI;
        /// NFR: number of fault recording registers − 1.
        nfr: u8 = 0 @ 40 : 8;
        /// MAMV: maximum address mask value of a page-selective invalidation.
        mamv: u8 = 0 @ 48 : 6;
        /// DWD: write draining.
        dwd: bool = 0 @ 54 => DWD;
        /// DRD: read draining.
        drd: bool = 0 @ 55 => DRD;
        /// FL1GP: first-stage 1 GiB pages.
        fl1gp: bool = 0 @ 56 => FL1GP;
        /// PI: posted interrupts.
        pi: bool = 0 @ 59 => PI;
        /// FL5LP: first-stage 5-level paging.
        fl5lp: bool = 0 @ 60 => FL5LP;
        /// ECMDS: enhanced command support.
        ecmds: bool = 0 @ 61 => ECMDS;
        /// ESIRTPS: GCMD.SIRTP also invalidates the interrupt entry cache.
        esirtps: bool = 0 @ 62 => ESIRTPS;
        /// ESRTPS: GCMD.SRTP also invalidates the context, PASID and IOTLB caches.
        esrtps: bool = 0 @ 63 => ESRTPS;
    }
}

hw_struct! {
    /// `ECAP_REG`: extended capabilities.
    pub struct Ecap = "ECAP_REG", words 1, flags EcapFlags {
        /// C: page walks are coherent.
        c: bool = 0 @ 0 => C;
        /// QI: queued invalidation.
        qi: bool = 0 @ 1 => QI;
        /// DT: device-TLB (ATS).
        dt: bool = 0 @ 2 => DT;
        /// IR: interrupt remapping.
        ir: bool = 0 @ 3 => IR;
        /// EIM: extended interrupt mode (x2APIC).
        eim: bool = 0 @ 4 => EIM;
        /// PT: pass-through.
        pt: bool = 0 @ 6 => PT;
        /// SC: snoop control.
        sc: bool = 0 @ 7 => SC;
        /// IRO: IOTLB register offset / 16.
        iro: u16 = 0 @ 8 : 10;
        /// MHMV: maximum handle mask value (interrupt entry cache invalidation).
        mhmv: u8 = 0 @ 20 : 4;
        /// MTS: memory-type support.
        mts: bool = 0 @ 25 => MTS;
        /// NEST: nested translation.
        nest: bool = 0 @ 26 => NEST;
        /// PRS: page requests.
        prs: bool = 0 @ 29 => PRS;
        /// ERS: execute requests.
        ers: bool = 0 @ 30 => ERS;
        /// SRS: supervisor requests.
        srs: bool = 0 @ 31 => SRS;
        /// NWFS: no-write-flag support (ATS).
        nwfs: bool = 0 @ 33 => NWFS;
        /// EAFS: extended accessed flag.
        eafs: bool = 0 @ 34 => EAFS;
        /// PSS: PASID size − 1.
        pss: u8 = 0 @ 35 : 5;
        /// PASID: PASID support.
        pasid: bool = 0 @ 40 => PASID;
        /// DIT: device-TLB invalidation throttling (the PFSID fields are meaningful).
        dit: bool = 0 @ 41 => DIT;
        /// PDS: page-request drain (the wait descriptor's PD bit).
        pds: bool = 0 @ 42 => PDS;
        /// SMTS: scalable-mode translation.
        smts: bool = 0 @ 43 => SMTS;
        /// VCS: virtual command support.
        vcs: bool = 0 @ 44 => VCS;
        /// SSADS: second-stage accessed/dirty.
        ssads: bool = 0 @ 45 => SSADS;
        /// SSTS (SLTS): second-stage translation in scalable mode.
        ssts: bool = 0 @ 46 => SSTS;
        /// FSTS (FLTS): first-stage translation in scalable mode.
        fsts: bool = 0 @ 47 => FSTS;
        /// SMPWC: scalable-mode page-walk coherency.
        smpwc: bool = 0 @ 48 => SMPWC;
        /// RPS: RID_PASID support.
        rps: bool = 0 @ 49 => RPS;
        /// PMS: performance monitoring.
        pms: bool = 0 @ 51 => PMS;
    }
}

hw_struct! {
    /// `GCMD_REG`: one-shot commands (SRTP, SFL, WBF, SIRTP) and enables (TE, EAFL, QIE,
    /// IRE, CFI). It reads as 0.
    pub struct Gcmd = "GCMD_REG", words 1, flags GcmdFlags {
        /// CFI: allow compatibility-format interrupts.
        cfi: bool = 0 @ 23 => CFI;
        /// SIRTP: set the interrupt remapping table pointer (one-shot).
        sirtp: bool = 0 @ 24 => SIRTP;
        /// IRE: enable interrupt remapping.
        ire: bool = 0 @ 25 => IRE;
        /// QIE: enable queued invalidation.
        qie: bool = 0 @ 26 => QIE;
        /// WBF: flush the write buffer (one-shot).
        wbf: bool = 0 @ 27 => WBF;
        /// EAFL: enable advanced fault logging (removed).
        eafl: bool = 0 @ 28 => EAFL;
        /// SFL: set the fault log (one-shot; removed).
        sfl: bool = 0 @ 29 => SFL;
        /// SRTP: set the root table pointer (one-shot).
        srtp: bool = 0 @ 30 => SRTP;
        /// TE: enable DMA remapping.
        te: bool = 0 @ 31 => TE;
    }
}

hw_struct! {
    /// `GSTS_REG`: the status of each GCMD command, at the same bit.
    pub struct Gsts = "GSTS_REG", words 1, flags GstsFlags {
        /// CFIS: compatibility-format interrupts allowed.
        cfis: bool = 0 @ 23 => CFIS;
        /// IRTPS: interrupt remapping table pointer latched.
        irtps: bool = 0 @ 24 => IRTPS;
        /// IRES: interrupt remapping enabled.
        ires: bool = 0 @ 25 => IRES;
        /// QIES: queued invalidation enabled.
        qies: bool = 0 @ 26 => QIES;
        /// WBFS: a write-buffer flush is in progress.
        wbfs: bool = 0 @ 27 => WBFS;
        /// AFLS: advanced fault logging enabled.
        afls: bool = 0 @ 28 => AFLS;
        /// FLS: fault log latched.
        fls: bool = 0 @ 29 => FLS;
        /// RTPS: root table pointer latched.
        rtps: bool = 0 @ 30 => RTPS;
        /// TES: DMA remapping enabled.
        tes: bool = 0 @ 31 => TES;
    }
}

/// The one-shot GCMD commands: they act whenever written as 1 (GCMD reads as 0, so a
/// guest re-writes its level bits with each of them).
pub const GCMD_ONE_SHOT: GcmdFlags = GcmdFlags::SRTP
    .union(GcmdFlags::SFL)
    .union(GcmdFlags::WBF)
    .union(GcmdFlags::SIRTP);

/// The level (enable) GCMD bits: they act only when they differ from GSTS.
pub const GCMD_LEVEL: GcmdFlags = GcmdFlags::TE
    .union(GcmdFlags::EAFL)
    .union(GcmdFlags::QIE)
    .union(GcmdFlags::IRE)
    .union(GcmdFlags::CFI);

hw_struct! {
    /// `RTADDR_REG`: the root table address and the translation table mode.
    pub struct Rtaddr = "RTADDR_REG", words 1 {
        /// TTM: translation table mode (0 legacy, 1 scalable; 2 and 3 reserved here).
        ttm: u8 = 0 @ 10 : 2;
        /// RTA: root table address (4 KiB aligned).
        rta: u64 = 0 @ 12 : 52, addr;
    }
}

/// `RTADDR.TTM` for scalable mode.
pub const TTM_SCALABLE: u8 = 1;

hw_struct! {
    /// `CCMD_REG`: register-based context-cache invalidation.
    pub struct Ccmd = "CCMD_REG", words 1 {
        /// DID: domain id (domain-selective).
        did: u16 = 0 @ 0 : 16;
        /// SID: source id (device-selective).
        sid: u16 = 0 @ 16 : 16;
        /// FM: function mask (device-selective).
        fm: u8 = 0 @ 32 : 2;
        /// CAIG: actual granularity (set by the unit).
        caig: u8 = 0 @ 59 : 2;
        /// CIRG: requested granularity (1 global, 2 domain, 3 device).
        cirg: u8 = 0 @ 61 : 2;
        /// ICC: invalidate; the unit clears it when done.
        icc: bool = 0 @ 63;
    }
}

hw_struct! {
    /// `FSTS_REG`: fault status.
    pub struct Fsts = "FSTS_REG", words 1, flags FstsFlags {
        /// PFO: primary fault overflow (RW1C).
        pfo: bool = 0 @ 0 => PFO;
        /// PPF: primary pending fault: some fault record has F set (read-only).
        ppf: bool = 0 @ 1 => PPF;
        /// AFO: advanced fault overflow (removed).
        afo: bool = 0 @ 2 => AFO;
        /// APF: advanced pending fault (removed).
        apf: bool = 0 @ 3 => APF;
        /// IQE: invalidation queue error (RW1C).
        iqe: bool = 0 @ 4 => IQE;
        /// ICE: invalidation completion error (RW1C).
        ice: bool = 0 @ 5 => ICE;
        /// ITE: invalidation time-out error (RW1C).
        ite: bool = 0 @ 6 => ITE;
        /// PRO: page request overflow, legacy (RW1C; scalable mode uses PRS.PRO).
        pro: bool = 0 @ 7 => PRO;
        /// FRI: index of the first pending fault record (read-only).
        fri: u8 = 0 @ 8 : 8;
    }
}

hw_struct! {
    /// `FECTL_REG`, `IECTL_REG`, `PECTL_REG`: an event's interrupt mask and pending bit.
    pub struct EventControl = "EVENT_CTL_REG", words 1, flags EventControlFlags {
        /// IP: an interrupt is pending (read-only).
        ip: bool = 0 @ 30 => IP;
        /// IM: the interrupt is masked.
        im: bool = 0 @ 31 => IM;
    }
}

hw_struct! {
    /// `FEDATA_REG`, `IEDATA_REG`, `PEDATA_REG`: an event's MSI data.
    pub struct EventData = "EVENT_DATA_REG", words 1 {
        /// IMD: interrupt message data.
        imd: u16 = 0 @ 0 : 16;
        /// EIMD: extended interrupt message data (only with ECAP.EIM).
        eimd: u16 = 0 @ 16 : 16;
    }
}

hw_struct! {
    /// `FEADDR_REG`, `IEADDR_REG`, `PEADDR_REG`: an event's MSI address (dword aligned).
    pub struct EventAddress = "EVENT_ADDR_REG", words 1 {
        /// MA: message address, bits 31:2.
        ma: u32 = 0 @ 2 : 30, addr;
    }
}

hw_struct! {
    /// `PMEN_REG`: protected memory enable.
    pub struct Pmen = "PMEN_REG", words 1 {
        /// PRS: protected region status (read-only).
        prs: bool = 0 @ 0;
        /// EPM: enable protected memory.
        epm: bool = 0 @ 31;
    }
}

hw_struct! {
    /// `IQH_REG` / `IQT_REG`: a byte offset into the invalidation queue, bits 18:4 (a
    /// multiple of 16; of 32 with 256-bit descriptors).
    pub struct QueueOffset16 = "IQ_OFFSET_REG", words 1 {
        /// QH / QT: the byte offset.
        offset: u32 = 0 @ 4 : 15, addr;
    }
}

hw_struct! {
    /// `IQA_REG`: the invalidation queue.
    pub struct Iqa = "IQA_REG", words 1 {
        /// QS: queue size, `2^QS` 4 KiB pages.
        qs: u8 = 0 @ 0 : 3;
        /// DW: 256-bit descriptors (honoured only with ECAP.SMTS).
        dw: bool = 0 @ 11;
        /// IQA: queue base (4 KiB aligned).
        iqa: u64 = 0 @ 12 : 52, addr;
    }
}

hw_struct! {
    /// `ICS_REG`: invalidation completion status.
    pub struct Ics = "ICS_REG", words 1, flags IcsFlags {
        /// IWC: an invalidation wait descriptor with IF completed (RW1C).
        iwc: bool = 0 @ 0 => IWC;
    }
}

hw_struct! {
    /// `IQERCD_REG`: what the last invalidation queue error was.
    pub struct Iqercd = "IQERCD_REG", words 1 {
        /// IQEI: the invalidation queue error info ([`Iqei`]).
        iqei: u8 = 0 @ 0 : 4;
        /// ITESID: source id of the device-TLB invalidation that timed out (valid with
        /// FSTS.ITE).
        itesid: u16 = 0 @ 32 : 16;
        /// ICESID: source id of the device-TLB completion with a bad ITag (valid with
        /// FSTS.ICE).
        icesid: u16 = 0 @ 48 : 16;
    }
}

hw_struct! {
    /// `IRTA_REG`: the interrupt remapping table.
    pub struct Irta = "IRTA_REG", words 1 {
        /// S: table size, `2^(S+1)` entries.
        s: u8 = 0 @ 0 : 4;
        /// EIME: extended interrupt mode enable.
        eime: bool = 0 @ 11;
        /// IRTA: table base.
        irta: u64 = 0 @ 12 : 52, addr;
    }
}

hw_struct! {
    /// `PQH_REG` / `PQT_REG`: a byte offset into the page request queue, bits 18:5 (a
    /// multiple of 32).
    pub struct QueueOffset32 = "PQ_OFFSET_REG", words 1 {
        /// PQH / PQT: the byte offset.
        offset: u32 = 0 @ 5 : 14, addr;
    }
}

hw_struct! {
    /// `PQA_REG`: the page request queue.
    pub struct Pqa = "PQA_REG", words 1 {
        /// PQS: queue size, `2^PQS` 4 KiB pages (`2^(PQS+7)` 32-byte entries).
        pqs: u8 = 0 @ 0 : 3;
        /// PQA: queue base (4 KiB aligned).
        pqa: u64 = 0 @ 12 : 52, addr;
    }
}

hw_struct! {
    /// `PRS_REG`: page request status.
    pub struct Prs = "PRS_REG", words 1, flags PrsFlags {
        /// PPR: pending page request (RW1C).
        ppr: bool = 0 @ 0 => PPR;
        /// PRO: page request overflow (RW1C).
        pro: bool = 0 @ 1 => PRO;
    }
}

hw_struct! {
    /// `IVA_REG`: the address of a register-based page-selective IOTLB invalidation.
    pub struct Iva = "IVA_REG", words 1 {
        /// AM: address mask, `2^AM` pages.
        am: u8 = 0 @ 0 : 6;
        /// IH: invalidation hint (leaf only).
        ih: bool = 0 @ 6;
        /// ADDR: the page address.
        addr: u64 = 0 @ 12 : 52, addr;
    }
}

hw_struct! {
    /// `IOTLB_REG`: register-based IOTLB invalidation.
    pub struct IotlbReg = "IOTLB_REG", words 1 {
        /// DID: domain id.
        did: u16 = 0 @ 32 : 16;
        /// DW: drain writes.
        dw: bool = 0 @ 48;
        /// DR: drain reads.
        dr: bool = 0 @ 49;
        /// IAIG: actual granularity (set by the unit).
        iaig: u8 = 0 @ 57 : 2;
        /// IIRG: requested granularity (1 global, 2 domain, 3 page).
        iirg: u8 = 0 @ 60 : 2;
        /// IVT: invalidate; the unit clears it when done.
        ivt: bool = 0 @ 63;
    }
}

hw_register!(
    Ver,
    Cap,
    Ecap,
    Gcmd,
    Gsts,
    Rtaddr,
    Ccmd,
    Fsts,
    EventControl,
    EventData,
    EventAddress,
    Pmen,
    QueueOffset16,
    Iqa,
    Ics,
    Iqercd,
    Irta,
    QueueOffset32,
    Pqa,
    Prs,
    Iva,
    IotlbReg,
);

impl Cap {
    /// The number of fault recording registers (`NFR + 1`).
    pub const fn fault_records(&self) -> u32 {
        self.nfr as u32 + 1
    }

    /// The maximum guest address width in bits (`MGAW + 1`).
    pub const fn guest_address_width(&self) -> u32 {
        self.mgaw as u32 + 1
    }
}

impl Ecap {
    /// The PASID width in bits (`PSS + 1`) when ECAP.PASID, else 0.
    pub const fn pasid_bits(&self) -> u32 {
        if self.pasid {
            self.pss as u32 + 1
        } else {
            0
        }
    }
}

impl Iqa {
    /// The number of descriptors the queue holds: `2^(QS + 8 − DW)` (with `wide` the
    /// 256-bit width actually in use).
    pub const fn entries(&self, wide: bool) -> u32 {
        1u32 << (self.qs as u32 + 8 - wide as u32)
    }
}

impl Pqa {
    /// The number of 32-byte entries: `2^(PQS + 7)`.
    pub const fn entries(&self) -> u32 {
        1u32 << (self.pqs as u32 + 7)
    }
}

// ---------------------------------------------------------------------------------------
// Fault recording
// ---------------------------------------------------------------------------------------

hw_struct! {
    /// A fault recording register (`FRCD_REG`, 128 bits).
    pub struct FaultRecord = "vtd_fault_record", words 2 {
        /// FI: faulting page address (for interrupt-remapping faults, 63:48 hold the
        /// interrupt index).
        fi: u64 = 0 @ 12 : 52, addr;
        /// SID: source (requester) id.
        sid: u16 = 1 @ 0 : 16;
        /// PP: a PASID is present.
        pp: bool = 1 @ 31;
        /// FR: fault reason ([`FaultReason`]).
        fr: u8 = 1 @ 32 : 8;
        /// PV: PASID value.
        pv: u32 = 1 @ 40 : 20;
        /// T: request type, 1 = read, 0 = write.
        t: bool = 1 @ 62;
        /// F: fault (RW1C: software clears it by writing 1 to dword 3's bit 31).
        f: bool = 1 @ 63;
    }
}

/// Scalable-mode fault reasons (`FRCD.FR`) the emulation reports, with the specification's
/// condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FaultReason {
    /// SM: invalid root table address.
    InvalidRootTableAddress = 0x30,
    /// SM: TTM 0 for a request with a PASID.
    LegacyModeWithPasid = 0x31,
    /// SM: TTM 0 for a page group request.
    LegacyModePageRequest = 0x32,
    /// SM: error attempting to access the root entry.
    RootEntryAccess = 0x38,
    /// SM: present bit in the root entry is clear.
    RootEntryNotPresent = 0x39,
    /// SM: non-zero reserved field set in the root entry.
    RootEntryReserved = 0x3a,
    /// SM: error attempting to access the context entry.
    ContextEntryAccess = 0x40,
    /// SM: present bit in the context entry is clear.
    ContextEntryNotPresent = 0x41,
    /// SM: non-zero reserved field set in the context entry.
    ContextEntryReserved = 0x42,
    /// SM: invalid context entry.
    ContextEntryInvalid = 0x43,
    /// SM: DTE field in the context entry is clear.
    DteClear = 0x44,
    /// SM: PASID enable field in the context entry is clear.
    PasidDisabled = 0x45,
    /// SM: PASID larger than the context entry's directory allows.
    PasidTooLarge = 0x46,
    /// SM: PRE field in the context entry is clear.
    PreClear = 0x47,
    /// SM: RID_PASID field error in the context entry.
    RidPasidError = 0x48,
    /// SM: error attempting to access the PASID directory entry.
    PasidDirAccess = 0x50,
    /// SM: present bit in the PASID directory entry is clear.
    PasidDirNotPresent = 0x51,
    /// SM: non-zero reserved field set in the PASID directory entry.
    PasidDirReserved = 0x52,
    /// SM: error attempting to access the PASID table entry.
    PasidEntryAccess = 0x58,
    /// SM: present bit in the PASID table entry is clear.
    PasidEntryNotPresent = 0x59,
    /// SM: non-zero reserved field set in the PASID table entry.
    PasidEntryReserved = 0x5a,
    /// SM: invalid scalable-mode PASID table entry (e.g. a translation type the unit does
    /// not support).
    PasidEntryInvalid = 0x5b,
    /// SM: ERE field is clear in the PASID table entry.
    EreClear = 0x5c,
    /// SM: SRE field is clear in the PASID table entry.
    SreClear = 0x5d,
    /// SM: error attempting to access a first-stage paging entry.
    FirstStageAccess = 0x70,
    /// SM: a first-stage paging entry is not present.
    FirstStageNotPresent = 0x71,
    /// SM: non-zero reserved bits in a first-stage paging entry.
    FirstStageReserved = 0x72,
    /// SM: invalid first-stage table pointer.
    FirstStagePointer = 0x73,
    /// SM: non-canonical address.
    NonCanonical = 0x80,
    /// SM: user/supervisor privilege violation.
    Privilege = 0x81,
    /// SM: write to a read-only page.
    WriteDenied = 0x85,
    /// SM: output address in the interrupt address range.
    InterruptRange = 0x87,
    /// SM: accessed/dirty update failed.
    AccessedDirtyUpdate = 0x91,
}

impl FaultReason {
    /// Every reason, in code order.
    pub const ALL: &'static [FaultReason] = &[
        FaultReason::InvalidRootTableAddress,
        FaultReason::LegacyModeWithPasid,
        FaultReason::LegacyModePageRequest,
        FaultReason::RootEntryAccess,
        FaultReason::RootEntryNotPresent,
        FaultReason::RootEntryReserved,
        FaultReason::ContextEntryAccess,
        FaultReason::ContextEntryNotPresent,
        FaultReason::ContextEntryReserved,
        FaultReason::ContextEntryInvalid,
        FaultReason::DteClear,
        FaultReason::PasidDisabled,
        FaultReason::PasidTooLarge,
        FaultReason::PreClear,
        FaultReason::RidPasidError,
        FaultReason::PasidDirAccess,
        FaultReason::PasidDirNotPresent,
        FaultReason::PasidDirReserved,
        FaultReason::PasidEntryAccess,
        FaultReason::PasidEntryNotPresent,
        FaultReason::PasidEntryReserved,
        FaultReason::PasidEntryInvalid,
        FaultReason::EreClear,
        FaultReason::SreClear,
        FaultReason::FirstStageAccess,
        FaultReason::FirstStageNotPresent,
        FaultReason::FirstStageReserved,
        FaultReason::FirstStagePointer,
        FaultReason::NonCanonical,
        FaultReason::Privilege,
        FaultReason::WriteDenied,
        FaultReason::InterruptRange,
        FaultReason::AccessedDirtyUpdate,
    ];

    /// The `FR` code.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The reason for an `FR` code this module declares.
    pub fn from_code(code: u8) -> Option<FaultReason> {
        FaultReason::ALL.iter().copied().find(|r| r.code() == code)
    }
}

// ---------------------------------------------------------------------------------------
// Translation structures (scalable mode)
// ---------------------------------------------------------------------------------------

hw_struct! {
    /// A scalable-mode root entry (128 bits): the context tables of one bus, lower half
    /// for devfn 0–127, upper half for devfn 128–255.
    pub struct RootEntry = "vtd_root_entry", words 2 {
        /// LP: the lower context table is present.
        lp: bool = 0 @ 0;
        /// LCTP: lower scalable-mode context table pointer.
        lctp: u64 = 0 @ 12 : 52, addr;
        /// UP: the upper context table is present.
        up: bool = 1 @ 0;
        /// UCTP: upper scalable-mode context table pointer.
        uctp: u64 = 1 @ 12 : 52, addr;
    }
}

hw_struct! {
    /// A scalable-mode context entry (256 bits): one device's PASID directory.
    pub struct ContextEntry = "vtd_context_entry", words 4 {
        /// P: present.
        p: bool = 0 @ 0;
        /// FPD: fault processing disable.
        fpd: bool = 0 @ 1;
        /// DTE: device-TLB (ATS) enable.
        dte: bool = 0 @ 2;
        /// PASIDE: requests with a PASID are allowed.
        paside: bool = 0 @ 3;
        /// PRE: page requests allowed.
        pre: bool = 0 @ 4;
        /// PDTS: PASID directory size, `2^(PDTS + 7)` entries.
        pdts: u8 = 0 @ 9 : 3;
        /// PASIDDIRPTR: PASID directory pointer.
        pasiddirptr: u64 = 0 @ 12 : 52, addr;
        /// RID_PASID: the PASID that requests without a PASID use.
        rid_pasid: u32 = 1 @ 0 : 20;
        /// RID_PRIV (bit 84; the name is unverified): requests without a PASID are
        /// privileged. QEMU accepts it; vsva's model keeps it 0 in what it reports.
        rid_priv: bool = 1 @ 20;
    }
}

impl ContextEntry {
    /// The number of PASID directory entries: `2^(PDTS + 7)`.
    pub const fn pasid_dir_entries(&self) -> u32 {
        1u32 << (self.pdts as u32 + 7)
    }
}

hw_struct! {
    /// A PASID directory entry (64 bits): one PASID table of 64 entries.
    pub struct PasidDirEntry = "vtd_pasid_dir_entry", words 1 {
        /// P: present.
        p: bool = 0 @ 0;
        /// FPD: fault processing disable.
        fpd: bool = 0 @ 1;
        /// SMPTBLPTR: scalable-mode PASID table pointer.
        smptblptr: u64 = 0 @ 12 : 52, addr;
    }
}

hw_struct! {
    /// A scalable-mode PASID table entry (512 bits).
    pub struct PasidEntry = "vtd_pasid_entry", words 8 {
        /// P: present.
        p: bool = 0 @ 0;
        /// FPD: fault processing disable.
        fpd: bool = 0 @ 1;
        /// AW: second-stage address width (1: 39-bit, 2: 48-bit, 3: 57-bit).
        aw: u8 = 0 @ 2 : 3;
        /// PGTT: translation type ([`Pgtt`]).
        pgtt: u8 = 0 @ 6 : 3;
        /// SSADE: second-stage accessed/dirty enable.
        ssade: bool = 0 @ 9;
        /// SSPTPTR: second-stage page table pointer.
        ssptptr: u64 = 0 @ 12 : 52, addr;
        /// DID: domain id tagging the IOTLB entries.
        did: u16 = 1 @ 0 : 16;
        /// PWSNP: page-walk snoop.
        pwsnp: bool = 1 @ 23;
        /// PGSNP: page snoop.
        pgsnp: bool = 1 @ 24;
        /// CD: cache disable.
        cd: bool = 1 @ 25;
        /// EMTE: extended memory type enable.
        emte: bool = 1 @ 26;
        /// EMT: extended memory type.
        emt: u8 = 1 @ 27 : 3;
        /// PWT: page-level write-through.
        pwt: bool = 1 @ 30;
        /// PCD: page-level cache disable.
        pcd: bool = 1 @ 31;
        /// PAT: page attribute table.
        pat: u32 = 1 @ 32 : 32;
        /// SRE: supervisor requests enable.
        sre: bool = 2 @ 0;
        /// ERE: execute requests enable (the name is unverified).
        ere: bool = 2 @ 1;
        /// FSPM: first-stage paging mode (0: 4-level, 1: 5-level).
        fspm: u8 = 2 @ 2 : 2;
        /// WPE: write-protect enable (supervisor requests honour CR0.WP).
        wpe: bool = 2 @ 4;
        /// NXE: no-execute enable.
        nxe: bool = 2 @ 5;
        /// EAFE: extended accessed flag enable.
        eafe: bool = 2 @ 7;
        /// FSPTPTR: first-stage page table pointer (the guest's CR3-format root).
        fsptptr: u64 = 2 @ 12 : 52, addr;
    }
}

/// `PASID entry.PGTT`: the translation type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Pgtt {
    /// First-stage only.
    FirstStage = 1,
    /// Second-stage only.
    SecondStage = 2,
    /// Nested (first stage over second stage).
    Nested = 3,
    /// Pass-through.
    PassThrough = 4,
}

impl Pgtt {
    /// The translation type for a `PGTT` value (`None`: reserved).
    pub const fn from_raw(v: u8) -> Option<Pgtt> {
        match v {
            1 => Some(Pgtt::FirstStage),
            2 => Some(Pgtt::SecondStage),
            3 => Some(Pgtt::Nested),
            4 => Some(Pgtt::PassThrough),
            _ => None,
        }
    }
}

/// PASID-table geometry: the directory is indexed by PASID bits 19:6, each table by
/// bits 5:0 (64 entries of 64 bytes in one 4 KiB page).
pub const PASID_TABLE_SHIFT: u32 = 6;

/// The context table of a bus holds 128 scalable-mode entries of 32 bytes per half.
pub const CONTEXT_ENTRIES_PER_TABLE: u32 = 128;

// ---------------------------------------------------------------------------------------
// Invalidation descriptors
// ---------------------------------------------------------------------------------------

/// An invalidation descriptor's 7-bit type: bits 3:0 and 11:9 of `QW0`.
pub const fn desc_type(qw0: u64) -> u8 {
    (((qw0 >> 5) & 0x70) | (qw0 & 0xf)) as u8
}

/// The invalidation descriptor types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum InvDescType {
    /// 1: context-cache invalidate.
    ContextCache = 1,
    /// 2: IOTLB invalidate.
    Iotlb = 2,
    /// 3: device-TLB invalidate.
    DevTlb = 3,
    /// 4: interrupt-entry-cache invalidate.
    Iec = 4,
    /// 5: invalidation wait.
    Wait = 5,
    /// 6: PASID-based IOTLB invalidate (256-bit).
    PasidIotlb = 6,
    /// 7: PASID-cache invalidate (256-bit).
    PasidCache = 7,
    /// 8: PASID-based device-TLB invalidate (256-bit).
    PasidDevTlb = 8,
    /// 9: page group response.
    PageGroupResponse = 9,
}

impl InvDescType {
    /// Every type.
    pub const ALL: &'static [InvDescType] = &[
        InvDescType::ContextCache,
        InvDescType::Iotlb,
        InvDescType::DevTlb,
        InvDescType::Iec,
        InvDescType::Wait,
        InvDescType::PasidIotlb,
        InvDescType::PasidCache,
        InvDescType::PasidDevTlb,
        InvDescType::PageGroupResponse,
    ];

    /// The type for a 7-bit type value.
    pub const fn from_raw(v: u8) -> Option<InvDescType> {
        match v {
            1 => Some(InvDescType::ContextCache),
            2 => Some(InvDescType::Iotlb),
            3 => Some(InvDescType::DevTlb),
            4 => Some(InvDescType::Iec),
            5 => Some(InvDescType::Wait),
            6 => Some(InvDescType::PasidIotlb),
            7 => Some(InvDescType::PasidCache),
            8 => Some(InvDescType::PasidDevTlb),
            9 => Some(InvDescType::PageGroupResponse),
            _ => None,
        }
    }

    /// Only valid in a 256-bit queue (types 6, 7, 8).
    pub const fn needs_wide_queue(self) -> bool {
        matches!(
            self,
            InvDescType::PasidIotlb | InvDescType::PasidCache | InvDescType::PasidDevTlb
        )
    }

    /// The descriptor's declaration.
    pub const fn layout(self) -> &'static HwLayout {
        match self {
            InvDescType::ContextCache => &CcInvDesc::LAYOUT,
            InvDescType::Iotlb => &IotlbInvDesc::LAYOUT,
            InvDescType::DevTlb => &DevTlbInvDesc::LAYOUT,
            InvDescType::Iec => &IecInvDesc::LAYOUT,
            InvDescType::Wait => &WaitDesc::LAYOUT,
            InvDescType::PasidIotlb => &PiotlbInvDesc::LAYOUT,
            InvDescType::PasidCache => &PcInvDesc::LAYOUT,
            InvDescType::PasidDevTlb => &PdevTlbInvDesc::LAYOUT,
            InvDescType::PageGroupResponse => &PgrpRespDesc::LAYOUT,
        }
    }
}

hw_struct! {
    /// Type 1: context-cache invalidate (128 bits).
    pub struct CcInvDesc = "vtd_cc_inv_desc", words 2 {
        /// Type bits 3:0 (1).
        type_lo: u8 = 0 @ 0 : 4;
        /// G: granularity (1 global, 2 domain, 3 device).
        g: u8 = 0 @ 4 : 2;
        /// Type bits 6:4 (0).
        type_hi: u8 = 0 @ 9 : 3;
        /// DID: domain id.
        did: u16 = 0 @ 16 : 16;
        /// SID: source id.
        sid: u16 = 0 @ 32 : 16;
        /// FM: function mask (0: none, 1: SID bit 2 ignored, 2: bits 2:1, 3: bits 2:0).
        fm: u8 = 0 @ 48 : 2;
    }
}

hw_struct! {
    /// Type 2: IOTLB invalidate (128 bits).
    pub struct IotlbInvDesc = "vtd_iotlb_inv_desc", words 2 {
        /// Type bits 3:0 (2).
        type_lo: u8 = 0 @ 0 : 4;
        /// G: granularity (1 global, 2 domain, 3 page).
        g: u8 = 0 @ 4 : 2;
        /// DW: drain writes.
        dw: bool = 0 @ 6;
        /// DR: drain reads.
        dr: bool = 0 @ 7;
        /// Type bits 6:4 (0).
        type_hi: u8 = 0 @ 9 : 3;
        /// DID: domain id.
        did: u16 = 0 @ 16 : 16;
        /// AM: address mask, `2^AM` pages.
        am: u8 = 1 @ 0 : 6;
        /// IH: invalidation hint (leaf only).
        ih: bool = 1 @ 6;
        /// ADDR: page address.
        addr: u64 = 1 @ 12 : 52, addr;
    }
}

hw_struct! {
    /// Type 3: device-TLB invalidate (128 bits).
    pub struct DevTlbInvDesc = "vtd_dev_tlb_inv_desc", words 2 {
        /// Type bits 3:0 (3).
        type_lo: u8 = 0 @ 0 : 4;
        /// Type bits 6:4 (0).
        type_hi: u8 = 0 @ 9 : 3;
        /// PFSID bits 3:0 (only with ECAP.DIT; reserved otherwise).
        pfsid_lo: u8 = 0 @ 12 : 4;
        /// MIP: the device's invalidate queue depth.
        mip: u8 = 0 @ 16 : 5;
        /// SID: the device.
        sid: u16 = 0 @ 32 : 16;
        /// PFSID bits 15:4 (only with ECAP.DIT; reserved otherwise).
        pfsid_hi: u16 = 0 @ 52 : 12;
        /// S: size (ATS encoding in ADDR).
        s: bool = 1 @ 0;
        /// ADDR: page address (with S, the trailing ones encode the size).
        addr: u64 = 1 @ 12 : 52, addr;
    }
}

hw_struct! {
    /// Type 4: interrupt-entry-cache invalidate (128 bits).
    pub struct IecInvDesc = "vtd_iec_inv_desc", words 2 {
        /// Type bits 3:0 (4).
        type_lo: u8 = 0 @ 0 : 4;
        /// G: 0 global, 1 index-selective.
        g: bool = 0 @ 4;
        /// Type bits 6:4 (0).
        type_hi: u8 = 0 @ 9 : 3;
        /// IM: index mask, `2^IM` entries.
        im: u8 = 0 @ 27 : 5;
        /// IIDX: interrupt remapping table index.
        iidx: u16 = 0 @ 32 : 16;
    }
}

hw_struct! {
    /// Type 5: invalidation wait (128 bits).
    pub struct WaitDesc = "vtd_wait_desc", words 2 {
        /// Type bits 3:0 (5).
        type_lo: u8 = 0 @ 0 : 4;
        /// IF: raise an invalidation completion event when done.
        if_flag: bool = 0 @ 4;
        /// SW: write the status data to the status address when done.
        sw: bool = 0 @ 5;
        /// FN: fence (later descriptors wait for this one).
        fn_flag: bool = 0 @ 6;
        /// PD: page-request drain (only with ECAP.PDS; reserved otherwise).
        pd: bool = 0 @ 7;
        /// Type bits 6:4 (0).
        type_hi: u8 = 0 @ 9 : 3;
        /// Status data, written as exactly 4 bytes.
        status_data: u32 = 0 @ 32 : 32;
        /// Status address (dword aligned).
        status_addr: u64 = 1 @ 2 : 62, addr;
    }
}

hw_struct! {
    /// Type 6: PASID-based IOTLB invalidate (256 bits).
    pub struct PiotlbInvDesc = "vtd_piotlb_inv_desc", words 4 {
        /// Type bits 3:0 (6).
        type_lo: u8 = 0 @ 0 : 4;
        /// G: 2 = the PASID's non-global mappings in DID, 3 = page-selective within the PASID.
        g: u8 = 0 @ 4 : 2;
        /// Type bits 6:4 (0).
        type_hi: u8 = 0 @ 9 : 3;
        /// DID: domain id.
        did: u16 = 0 @ 16 : 16;
        /// PASID.
        pasid: u32 = 0 @ 32 : 20;
        /// AM: address mask, `2^AM` pages.
        am: u8 = 1 @ 0 : 6;
        /// IH: invalidation hint (leaf only).
        ih: bool = 1 @ 6;
        /// ADDR: page address.
        addr: u64 = 1 @ 12 : 52, addr;
    }
}

hw_struct! {
    /// Type 7: PASID-cache invalidate (256 bits).
    pub struct PcInvDesc = "vtd_pc_inv_desc", words 4 {
        /// Type bits 3:0 (7).
        type_lo: u8 = 0 @ 0 : 4;
        /// G: 0 = all PASIDs of DID, 1 = one PASID in DID, 3 = global (2 reserved).
        g: u8 = 0 @ 4 : 2;
        /// Type bits 6:4 (0).
        type_hi: u8 = 0 @ 9 : 3;
        /// DID: domain id.
        did: u16 = 0 @ 16 : 16;
        /// PASID.
        pasid: u32 = 0 @ 32 : 20;
    }
}

hw_struct! {
    /// Type 8: PASID-based device-TLB invalidate (256 bits).
    pub struct PdevTlbInvDesc = "vtd_pdev_tlb_inv_desc", words 4 {
        /// Type bits 3:0 (8).
        type_lo: u8 = 0 @ 0 : 4;
        /// MIP: the device's invalidate queue depth.
        mip: u8 = 0 @ 4 : 5;
        /// Type bits 6:4 (0).
        type_hi: u8 = 0 @ 9 : 3;
        /// PFSID bits 3:0 (only with ECAP.DIT; reserved otherwise).
        pfsid_lo: u8 = 0 @ 12 : 4;
        /// SID: the device.
        sid: u16 = 0 @ 16 : 16;
        /// PASID.
        pasid: u32 = 0 @ 32 : 20;
        /// PFSID bits 15:4 (only with ECAP.DIT; reserved otherwise).
        pfsid_hi: u16 = 0 @ 52 : 12;
        /// G: every PASID of the SID.
        g: bool = 1 @ 0;
        /// S: size (ATS encoding in ADDR).
        s: bool = 1 @ 11;
        /// ADDR: page address.
        addr: u64 = 1 @ 12 : 52, addr;
    }
}

hw_struct! {
    /// Type 9: page group response (128 bits used; before revision 4.0 `QW2`/`QW3` held
    /// private data).
    pub struct PgrpRespDesc = "vtd_page_grp_resp_desc", words 2 {
        /// Type bits 3:0 (9).
        type_lo: u8 = 0 @ 0 : 4;
        /// PP: PASID present.
        pp: bool = 0 @ 4;
        /// PDP: private data present (before revision 4.0).
        pdp: bool = 0 @ 5;
        /// Type bits 6:4 (0).
        type_hi: u8 = 0 @ 9 : 3;
        /// RC: response code ([`ResponseCode`]).
        rc: u8 = 0 @ 12 : 4;
        /// RID: the requester.
        rid: u16 = 0 @ 16 : 16;
        /// PASID.
        pasid: u32 = 0 @ 32 : 20;
        /// LPIG: last page in group (reserved since revision 4.0; older guests set it).
        lpig: bool = 1 @ 2;
        /// PRGI: page request group index.
        prgi: u16 = 1 @ 3 : 9;
    }
}

/// A page group response code (`RC`), in the VT-d / PCIe encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ResponseCode {
    /// 0: the page(s) are now accessible.
    Success = 0,
    /// 1: invalid request; the device should not retry.
    InvalidRequest = 1,
    /// 0xF: response failure; the device disables its page request interface.
    Failure = 0xf,
}

impl ResponseCode {
    /// The code for a raw `RC` value: 0 and 1 are themselves, 0xF is failure, and so is
    /// any reserved value (as QEMU reads them).
    pub const fn from_raw(rc: u8) -> ResponseCode {
        match rc {
            0 => ResponseCode::Success,
            1 => ResponseCode::InvalidRequest,
            _ => ResponseCode::Failure,
        }
    }

    /// The raw `RC` value.
    pub const fn raw(self) -> u8 {
        self as u8
    }

    /// The 2020 UAPI's `enum iommu_page_response_code` for this code (success 0,
    /// invalid 1, failure 2): VT-d's failure is 0xF on the wire, not 2.
    pub const fn to_generic(self) -> crate::consts::PageResponseCode {
        match self {
            ResponseCode::Success => crate::consts::PageResponseCode::Success,
            ResponseCode::InvalidRequest => crate::consts::PageResponseCode::Invalid,
            ResponseCode::Failure => crate::consts::PageResponseCode::Failure,
        }
    }

    /// The VT-d code a generic `iommu_page_response_code` puts on the wire.
    pub const fn from_generic(code: crate::consts::PageResponseCode) -> ResponseCode {
        match code {
            crate::consts::PageResponseCode::Success => ResponseCode::Success,
            crate::consts::PageResponseCode::Invalid => ResponseCode::InvalidRequest,
            crate::consts::PageResponseCode::Failure => ResponseCode::Failure,
        }
    }
}

/// The invalidation queue error info (`IQERCD.IQEI`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Iqei {
    /// 0: no further information (also: a wait descriptor's status write failed).
    NoInfo = 0,
    /// 1: invalid IQT (bit 4 set with 256-bit descriptors, or beyond the queue).
    InvalidTail = 1,
    /// 2: the descriptor could not be fetched.
    FetchError = 2,
    /// 3: invalid descriptor type.
    InvalidType = 3,
    /// 4: a reserved field (or a reserved encoding, such as a granularity) is set.
    ReservedField = 4,
    /// 5: a 256-bit descriptor in a 128-bit queue.
    InvalidWidth = 5,
}

/// What a descriptor is checked against: the queue's width and the capabilities that
/// make fields valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DescCheck {
    /// The queue holds 256-bit descriptors (IQA.DW with ECAP.SMTS).
    pub wide: bool,
    /// ECAP.PDS: the wait descriptor's PD bit is valid.
    pub pds: bool,
    /// ECAP.DIT: the PFSID fields are valid.
    pub dit: bool,
    /// CAP.MAMV: the largest AM of a page-selective IOTLB invalidation (type 2).
    pub mamv: u8,
}

impl DescCheck {
    /// A 256-bit queue on a unit with PDS, without DIT, MAMV 18 (what vsva's model offers).
    pub const fn scalable() -> DescCheck {
        DescCheck {
            wide: true,
            pds: true,
            dit: false,
            mamv: 18,
        }
    }
}

/// Why a descriptor is invalid (the unit sets FSTS.IQE and leaves IQH on it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DescError {
    /// No such descriptor type.
    InvalidType {
        /// The 7-bit type.
        ty: u8,
    },
    /// A 256-bit-only type in a 128-bit queue.
    NeedsWideQueue {
        /// The type.
        ty: InvDescType,
    },
    /// A reserved bit is set.
    Reserved {
        /// The type.
        ty: InvDescType,
        /// The word.
        word: u8,
        /// The reserved bits that are set.
        bits: u64,
    },
    /// A reserved granularity.
    Granularity {
        /// The type.
        ty: InvDescType,
        /// The `G` value.
        g: u8,
    },
    /// An IOTLB address mask beyond CAP.MAMV.
    AddressMask {
        /// AM.
        am: u8,
        /// CAP.MAMV.
        mamv: u8,
    },
    /// A wait descriptor with none of SW, IF, FN.
    WaitWithoutAction,
    /// A page group response without PP.
    ResponseWithoutPasid,
}

impl DescError {
    /// The `IQERCD.IQEI` code the unit records.
    pub const fn iqei(&self) -> Iqei {
        match self {
            DescError::InvalidType { .. } => Iqei::InvalidType,
            DescError::NeedsWideQueue { .. } => Iqei::InvalidWidth,
            DescError::Reserved { .. }
            | DescError::Granularity { .. }
            | DescError::AddressMask { .. }
            | DescError::WaitWithoutAction
            | DescError::ResponseWithoutPasid => Iqei::ReservedField,
        }
    }
}

impl core::fmt::Display for DescError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DescError::InvalidType { ty } => write!(f, "invalid descriptor type {ty}"),
            DescError::NeedsWideQueue { ty } => {
                write!(f, "{ty:?} is a 256-bit descriptor in a 128-bit queue")
            }
            DescError::Reserved { ty, word, bits } => {
                write!(f, "{ty:?}: reserved bits {bits:#x} set in QW{word}")
            }
            DescError::Granularity { ty, g } => write!(f, "{ty:?}: reserved granularity {g}"),
            DescError::AddressMask { am, mamv } => {
                write!(f, "IOTLB address mask {am} beyond CAP.MAMV {mamv}")
            }
            DescError::WaitWithoutAction => f.write_str("wait descriptor with none of SW, IF, FN"),
            DescError::ResponseWithoutPasid => f.write_str("page group response without PP"),
        }
    }
}

/// One decoded, checked invalidation descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvDesc {
    /// Type 1.
    ContextCache(CcInvDesc),
    /// Type 2.
    Iotlb(IotlbInvDesc),
    /// Type 3.
    DevTlb(DevTlbInvDesc),
    /// Type 4.
    Iec(IecInvDesc),
    /// Type 5.
    Wait(WaitDesc),
    /// Type 6.
    PasidIotlb(PiotlbInvDesc),
    /// Type 7.
    PasidCache(PcInvDesc),
    /// Type 8.
    PasidDevTlb(PdevTlbInvDesc),
    /// Type 9.
    PageGroupResponse(PgrpRespDesc),
}

fn check_words<const N: usize>(
    ty: InvDescType,
    words: &[u64; 4],
    reserved: &[u64; N],
    also_reserved: [u64; N],
) -> Result<[u64; N], DescError> {
    let mut w = [0u64; N];
    w.copy_from_slice(&words[..N]);
    for (i, ((v, r), extra)) in w.iter().zip(reserved).zip(also_reserved).enumerate() {
        let bad = v & (r | extra);
        if bad != 0 {
            return Err(DescError::Reserved {
                ty,
                word: i as u8,
                bits: bad,
            });
        }
    }
    Ok(w)
}

impl InvDesc {
    /// Decodes and checks one descriptor as the unit fetched it (`words[2..]` are 0 in a
    /// 128-bit queue). The checks are the specification's: the type, the queue width,
    /// reserved bits (`QW2`/`QW3` must be 0 for types 1–8 in a 256-bit queue; type 9
    /// ignores them, as they held private data before revision 4.0), reserved
    /// granularities, an IOTLB AM beyond MAMV, a wait without SW/IF/FN, a page group
    /// response without PP.
    ///
    /// # Errors
    /// [`DescError`]: the unit's IQE, with [`DescError::iqei`] for IQERCD.
    pub fn decode(words: &[u64; 4], check: &DescCheck) -> Result<InvDesc, DescError> {
        let raw = desc_type(words[0]);
        let ty = InvDescType::from_raw(raw).ok_or(DescError::InvalidType { ty: raw })?;
        if ty.needs_wide_queue() && !check.wide {
            return Err(DescError::NeedsWideQueue { ty });
        }
        if check.wide && ty != InvDescType::PageGroupResponse {
            let hi = words[2] | words[3];
            if hi != 0 && !ty.needs_wide_queue() {
                return Err(DescError::Reserved {
                    ty,
                    word: if words[2] != 0 { 2 } else { 3 },
                    bits: if words[2] != 0 { words[2] } else { words[3] },
                });
            }
        }
        // Without ECAP.DIT the PFSID fields of types 3 and 8 are reserved.
        let pfsid = if check.dit {
            0
        } else {
            (0xf << 12) | (0xfff << 52)
        };
        let gran = |g: u8| DescError::Granularity { ty, g };
        let d = match ty {
            InvDescType::ContextCache => {
                let w = check_words(ty, words, &CcInvDesc::RESERVED, [0; 2])?;
                let d = CcInvDesc::decode(&w);
                if d.g == 0 {
                    return Err(gran(d.g));
                }
                InvDesc::ContextCache(d)
            }
            InvDescType::Iotlb => {
                let w = check_words(ty, words, &IotlbInvDesc::RESERVED, [0; 2])?;
                let d = IotlbInvDesc::decode(&w);
                if d.g == 0 {
                    return Err(gran(d.g));
                }
                if d.g == 3 && d.am > check.mamv {
                    return Err(DescError::AddressMask {
                        am: d.am,
                        mamv: check.mamv,
                    });
                }
                InvDesc::Iotlb(d)
            }
            InvDescType::DevTlb => {
                let w = check_words(ty, words, &DevTlbInvDesc::RESERVED, [pfsid, 0])?;
                InvDesc::DevTlb(DevTlbInvDesc::decode(&w))
            }
            InvDescType::Iec => {
                let w = check_words(ty, words, &IecInvDesc::RESERVED, [0; 2])?;
                InvDesc::Iec(IecInvDesc::decode(&w))
            }
            InvDescType::Wait => {
                // Without ECAP.PDS the PD bit is reserved.
                let pd = if check.pds { 0 } else { 1 << 7 };
                let w = check_words(ty, words, &WaitDesc::RESERVED, [pd, 0])?;
                let d = WaitDesc::decode(&w);
                if !(d.sw || d.if_flag || d.fn_flag) {
                    return Err(DescError::WaitWithoutAction);
                }
                InvDesc::Wait(d)
            }
            InvDescType::PasidIotlb => {
                let w = check_words(ty, words, &PiotlbInvDesc::RESERVED, [0; 4])?;
                let d = PiotlbInvDesc::decode(&w);
                if d.g < 2 {
                    return Err(gran(d.g));
                }
                InvDesc::PasidIotlb(d)
            }
            InvDescType::PasidCache => {
                let w = check_words(ty, words, &PcInvDesc::RESERVED, [0; 4])?;
                let d = PcInvDesc::decode(&w);
                if d.g == 2 {
                    return Err(gran(d.g));
                }
                InvDesc::PasidCache(d)
            }
            InvDescType::PasidDevTlb => {
                let w = check_words(ty, words, &PdevTlbInvDesc::RESERVED, [pfsid, 0, 0, 0])?;
                InvDesc::PasidDevTlb(PdevTlbInvDesc::decode(&w))
            }
            InvDescType::PageGroupResponse => {
                // PDP is pre-4.0 private data: a guest of this unit never gets a request
                // with private data, so its response may not claim any.
                let w = check_words(ty, words, &PgrpRespDesc::RESERVED, [1 << 5, 0])?;
                let d = PgrpRespDesc::decode(&w);
                if !d.pp {
                    return Err(DescError::ResponseWithoutPasid);
                }
                InvDesc::PageGroupResponse(d)
            }
        };
        Ok(d)
    }

    /// The descriptor's type.
    pub const fn ty(&self) -> InvDescType {
        match self {
            InvDesc::ContextCache(_) => InvDescType::ContextCache,
            InvDesc::Iotlb(_) => InvDescType::Iotlb,
            InvDesc::DevTlb(_) => InvDescType::DevTlb,
            InvDesc::Iec(_) => InvDescType::Iec,
            InvDesc::Wait(_) => InvDescType::Wait,
            InvDesc::PasidIotlb(_) => InvDescType::PasidIotlb,
            InvDesc::PasidCache(_) => InvDescType::PasidCache,
            InvDesc::PasidDevTlb(_) => InvDescType::PasidDevTlb,
            InvDesc::PageGroupResponse(_) => InvDescType::PageGroupResponse,
        }
    }

    /// The descriptor's words (`QW2`/`QW3` zero for the 128-bit types).
    pub fn encode(&self) -> [u64; 4] {
        fn pad<const N: usize>(w: [u64; N]) -> [u64; 4] {
            let mut out = [0u64; 4];
            out[..N].copy_from_slice(&w);
            out
        }
        match self {
            InvDesc::ContextCache(d) => pad(d.encode()),
            InvDesc::Iotlb(d) => pad(d.encode()),
            InvDesc::DevTlb(d) => pad(d.encode()),
            InvDesc::Iec(d) => pad(d.encode()),
            InvDesc::Wait(d) => pad(d.encode()),
            InvDesc::PasidIotlb(d) => pad(d.encode()),
            InvDesc::PasidCache(d) => pad(d.encode()),
            InvDesc::PasidDevTlb(d) => pad(d.encode()),
            InvDesc::PageGroupResponse(d) => pad(d.encode()),
        }
    }
}

/// The size encoding of a device-TLB invalidation (types 3 and 8): `(address, bytes)`.
/// With S = 0 one 4 KiB page at ADDR; with S = 1 the run of 1 bits at the bottom of
/// ADDR\[63:12\] gives the size, `8 KiB << ones`, and those bits are cleared from the
/// address (all 52 ones: the whole address space).
pub const fn dev_tlb_range(addr: u64, s: bool) -> (u64, u64) {
    if !s {
        return (addr & !0xfff, 4096);
    }
    let pfn = addr >> 12;
    let ones = pfn.trailing_ones();
    if ones >= 51 {
        return (0, u64::MAX);
    }
    let bytes = 8192u64 << ones;
    (addr & !(bytes - 1), bytes)
}

// ---------------------------------------------------------------------------------------
// Page requests
// ---------------------------------------------------------------------------------------

hw_struct! {
    /// A page request descriptor, as the unit writes it into the page request queue
    /// (256 bits; `QW2`/`QW3` held private data before revision 4.0).
    pub struct PageReqDesc = "vtd_page_req_desc", words 4 {
        /// Type (the unit writes 1).
        ty: u8 = 0 @ 0 : 8;
        /// PP: PASID present.
        pp: bool = 0 @ 8;
        /// PDP: private data present (before revision 4.0).
        pdp: bool = 0 @ 9;
        /// RID: the requester (bus:devfn).
        rid: u16 = 0 @ 16 : 16;
        /// PASID.
        pasid: u32 = 0 @ 32 : 20;
        /// ER: execute requested.
        er: bool = 0 @ 52;
        /// PM: privileged-mode request.
        pm: bool = 0 @ 53;
        /// RD: read requested.
        rd: bool = 1 @ 0;
        /// WR: write requested.
        wr: bool = 1 @ 1;
        /// LPIG: last page in group (only the last request of a group is answered).
        lpig: bool = 1 @ 2;
        /// PRGI: page request group index.
        prgi: u16 = 1 @ 3 : 9;
        /// ADDR: page address.
        addr: u64 = 1 @ 12 : 52, addr;
        /// Private data, first word (before revision 4.0).
        priv_data0: u64 = 2 @ 0 : 64;
        /// Private data, second word (before revision 4.0).
        priv_data1: u64 = 3 @ 0 : 64;
    }
}

/// The type value the unit writes into a page request descriptor.
pub const PAGE_REQ_TYPE: u8 = 1;

/// Every in-memory structure `vsva explain` and the documentation know, by name.
pub const STRUCTS: &[&HwLayout] = &[
    &RootEntry::LAYOUT,
    &ContextEntry::LAYOUT,
    &PasidDirEntry::LAYOUT,
    &PasidEntry::LAYOUT,
    &CcInvDesc::LAYOUT,
    &IotlbInvDesc::LAYOUT,
    &DevTlbInvDesc::LAYOUT,
    &IecInvDesc::LAYOUT,
    &WaitDesc::LAYOUT,
    &PiotlbInvDesc::LAYOUT,
    &PcInvDesc::LAYOUT,
    &PdevTlbInvDesc::LAYOUT,
    &PgrpRespDesc::LAYOUT,
    &PageReqDesc::LAYOUT,
    &FaultRecord::LAYOUT,
];

/// The fields of one declaration that a value sets, for printing: `(field, value)` in
/// declaration order (every field, set or not).
pub fn fields_of<'a>(
    layout: &'a HwLayout,
    words: &'a [u64],
) -> impl Iterator<Item = (&'static BitField, u64)> + 'a {
    layout.fields.iter().map(move |f| (f, f.read(words)))
}
