//! The translation structures (scalable mode): root, context, PASID directory and PASID
//! table entries.

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
