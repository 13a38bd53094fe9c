//! The registers' contents: version, capabilities (decode and encode), commands,
//! status, queue and event registers.

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
        /// IQEI: the invalidation queue error info ([`Iqei`](super::Iqei)).
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
