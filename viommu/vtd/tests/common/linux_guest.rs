//! A scripted guest that drives a [`VtdUnit`] the way Linux's intel-iommu driver does
//! (the boot, device probe, SVA bind/unbind, flush, page-request and drain sequences of
//! the driver, register write by register write), for tests of the unit against any
//! backend. Shared by this crate's tests and the kernel tier
//! (`compat-tests/kernel/guest/vtd_mock.rs` includes it by path).
//!
//! Guest memory layout it uses (it needs 1 MiB of RAM at GPA 0):
//!
//! | GPA | what |
//! |---|---|
//! | `0x10000` | root table |
//! | `0x11000` | context table of bus 0 (lower half) |
//! | `0x12000 + 0x1000·n` | PASID directory of device `n` (PDTS 0: 128 entries) |
//! | `0x20000 + 0x1000·k` | PASID tables (allocated in order) |
//! | `0x40000` | invalidation queue (QS 1: 256 × 32 B) |
//! | `0x42000` | wait status slots (4 bytes per queue slot) |
//! | `0x50000` | page request queue (PQS 4: 2048 × 32 B) |

#![allow(dead_code)]

use std::collections::BTreeMap;

use vm_memory::{Bytes, GuestAddress, GuestMemory};
use vsva_uapi::hw::vtd::{
    ContextEntry, FstsFlags, GcmdFlags, GstsFlags, PageReqDesc, PasidDirEntry, PasidEntry,
    RootEntry,
};
use vsva_viommu::Backend;

use vsva_vtd::{MmioHandler, MsiSink, VtdUnit};

/// Root table GPA.
pub const ROOT: u64 = 0x10000;
/// Context table GPA (bus 0).
pub const CONTEXT: u64 = 0x11000;
/// First PASID directory GPA.
pub const PASID_DIRS: u64 = 0x12000;
/// First PASID table GPA.
pub const PASID_TABLES: u64 = 0x20000;
/// Invalidation queue GPA.
pub const IQ: u64 = 0x40000;
/// Wait status slots GPA.
pub const STATUS: u64 = 0x42000;
/// Page request queue GPA.
pub const PRQ: u64 = 0x50000;
/// Queue entries (QS = 1 with 256-bit descriptors).
pub const IQ_ENTRIES: u32 = 256;
/// Page request queue size in bytes (PQS = 4).
pub const PRQ_BYTES: u32 = 16 * 4096;
/// Linux's `QI_DONE`.
pub const QI_DONE: u32 = 2;
/// Linux's SVA domain id (`FLPT_DEFAULT_DID`).
pub const SVA_DID: u16 = 1;

/// How a queue submission ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QiError {
    /// FSTS.IQE with IQH on the first descriptor of this submission (Linux's -EINVAL:
    /// it overwrote the slot with its wait and cleared IQE).
    InvalidDescriptor {
        /// The faulting queue index.
        index: u32,
    },
    /// The wait's status never read `QI_DONE` and no error named this submission (a
    /// real guest would spin here forever).
    Hang,
}

/// The scripted guest.
pub struct LinuxGuest<'a, B: Backend, M: GuestMemory, I: MsiSink> {
    unit: &'a VtdUnit<B, M, I>,
    mem: &'a M,
    gcmd: u32,
    free_head: u32,
    next_table: u64,
    /// Per device (rid): its PASID directory.
    dirs: BTreeMap<u16, u64>,
    /// Per (rid, directory index): the PASID table.
    tables: BTreeMap<(u16, u32), u64>,
    /// Register writes and reads done, for counting exits.
    pub mmio: u64,
}

impl<'a, B: Backend, M: GuestMemory + Send + Sync, I: MsiSink> LinuxGuest<'a, B, M, I> {
    /// A guest of `unit` whose RAM is `mem` (the unit's own guest memory).
    pub fn new(unit: &'a VtdUnit<B, M, I>, mem: &'a M) -> Self {
        LinuxGuest {
            unit,
            mem,
            gcmd: 0,
            free_head: 0,
            next_table: PASID_TABLES,
            dirs: BTreeMap::new(),
            tables: BTreeMap::new(),
            mmio: 0,
        }
    }

    // ---- register and memory access --------------------------------------------------

    /// `readl`.
    pub fn readl(&mut self, off: u64) -> u32 {
        self.mmio += 1;
        let mut b = [0u8; 4];
        self.unit.mmio_read(off, &mut b);
        u32::from_le_bytes(b)
    }

    /// `writel`.
    pub fn writel(&mut self, off: u64, v: u32) {
        self.mmio += 1;
        self.unit.mmio_write(off, &v.to_le_bytes());
    }

    /// `readq` (`dmar_readq`).
    pub fn readq(&mut self, off: u64) -> u64 {
        self.mmio += 1;
        let mut b = [0u8; 8];
        self.unit.mmio_read(off, &mut b);
        u64::from_le_bytes(b)
    }

    /// `writeq` (`dmar_writeq`).
    pub fn writeq(&mut self, off: u64, v: u64) {
        self.mmio += 1;
        self.unit.mmio_write(off, &v.to_le_bytes());
    }

    fn put(&self, gpa: u64, words: &[u64]) {
        let mut b = vec![0u8; words.len() * 8];
        vsva_uapi::hw::words_to_le_bytes(words, &mut b);
        self.mem
            .write_slice(&b, GuestAddress(gpa))
            .expect("guest RAM");
    }

    fn get(&self, gpa: u64, n: usize) -> Vec<u64> {
        let mut b = vec![0u8; n * 8];
        self.mem
            .read_slice(&mut b, GuestAddress(gpa))
            .expect("guest RAM");
        b.chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
            .collect()
    }

    fn status(&self, slot: u32) -> u32 {
        let mut b = [0u8; 4];
        self.mem
            .read_slice(&mut b, GuestAddress(STATUS + 4 * u64::from(slot)))
            .expect("guest RAM");
        u32::from_le_bytes(b)
    }

    fn set_status(&self, slot: u32, v: u32) {
        self.mem
            .write_slice(&v.to_le_bytes(), GuestAddress(STATUS + 4 * u64::from(slot)))
            .expect("guest RAM");
    }

    fn gcmd_and_poll(&mut self, bit: GcmdFlags, status: GstsFlags, on: bool) -> bool {
        if on {
            self.gcmd |= bit.bits() as u32;
        } else {
            self.gcmd &= !(bit.bits() as u32);
        }
        self.writel(0x18, self.gcmd);
        let sts = GstsFlags::from_bits_truncate(u64::from(self.readl(0x1c)));
        sts.contains(status) == on
    }

    // ---- queued invalidation (qi_submit_sync) ---------------------------------------

    /// Submits `descs` followed by Linux's wait descriptor (SW, `QI_DONE`, plus PD with
    /// `drain`), writes IQT with a 32-bit store and checks the status as Linux does.
    ///
    /// # Errors
    /// [`QiError`].
    pub fn submit(&mut self, descs: &[[u64; 4]], drain: bool) -> Result<(), QiError> {
        let first = self.free_head;
        let mut index = first;
        for d in descs {
            self.put(IQ + u64::from(index) * 32, d);
            self.set_status(index, 0);
            index = (index + 1) % IQ_ENTRIES;
        }
        let wait_index = index;
        self.set_status(wait_index, 1);
        let mut qw0 = 5 | (1 << 5) | (u64::from(QI_DONE) << 32);
        if drain {
            qw0 |= 1 << 7;
        }
        let slot = STATUS + 4 * u64::from(wait_index);
        self.put(IQ + u64::from(wait_index) * 32, &[qw0, slot, 0, 0]);
        self.free_head = (wait_index + 1) % IQ_ENTRIES;
        self.writel(0x88, self.free_head << 5);
        if self.status(wait_index) == QI_DONE {
            return Ok(());
        }
        // qi_check_fault: IQE on our first descriptor → overwrite it with the wait,
        // clear IQE, fail the submission.
        let fsts = FstsFlags::from_bits_truncate(u64::from(self.readl(0x34)));
        if fsts.contains(FstsFlags::IQE) {
            let head = (self.readl(0x80) >> 5) % IQ_ENTRIES;
            if head == first {
                let wait = self.get(IQ + u64::from(wait_index) * 32, 4);
                self.put(IQ + u64::from(head) * 32, &wait);
                self.writel(0x34, FstsFlags::IQE.bits() as u32);
                return Err(QiError::InvalidDescriptor { index: head });
            }
        }
        Err(QiError::Hang)
    }

    // ---- boot (intel-iommu init in scalable mode) -----------------------------------

    /// The driver's init: CAP/ECAP, stale faults, QI on (IQT = 0, IQA with DW and QS 1,
    /// QIE), the root table with SMT and SRTP (no post-SRTP flush with ESRTPS), the page
    /// request queue (if ECAP.PRS), the fault interrupt, then TE. Returns whether every
    /// status poll saw what Linux waits for.
    pub fn boot(&mut self) -> bool {
        let cap = vsva_uapi::hw::vtd::Cap::decode_raw(self.readq(0x08));
        let ecap = vsva_uapi::hw::vtd::Ecap::decode_raw(self.readq(0x10));
        let _ver = self.readl(0x00);
        let gsts = self.readl(0x1c);
        self.gcmd = gsts & (GcmdFlags::TE | GcmdFlags::QIE | GcmdFlags::IRE).bits() as u32;
        // Clear stale faults (dmar_fault): the records from FRI, then FSTS.
        let fro = u64::from(cap.fro) * 16;
        for i in 0..u64::from(cap.fault_records()) {
            let hi = self.readl(fro + 16 * i + 12);
            if hi & 0x8000_0000 != 0 {
                self.writel(fro + 16 * i + 12, 0x8000_0000);
            }
        }
        self.writel(0x34, 0x83);
        // QI on.
        self.writeq(0x88, 0);
        let dw = if ecap.smts { 1 << 11 } else { 0 };
        self.writeq(0x90, IQ | dw | 1);
        let mut ok = self.gcmd_and_poll(GcmdFlags::QIE, GstsFlags::QIES, true);
        // Root table, scalable mode.
        self.put(ROOT, &[0; 512]);
        self.writeq(0x20, ROOT | (1 << 10));
        self.writel(0x18, self.gcmd | GcmdFlags::SRTP.bits() as u32);
        ok &= GstsFlags::from_bits_truncate(u64::from(self.readl(0x1c))).contains(GstsFlags::RTPS);
        if !cap.esrtps {
            // Context-cache global, PASID-cache global, IOTLB global.
            ok &= self.submit(&[[1 | (1 << 4), 0, 0, 0]], false).is_ok();
            ok &= self.submit(&[[7 | (3 << 4), 0, 0, 0]], false).is_ok();
            ok &= self.submit(&[[2 | (1 << 4), 0, 0, 0]], false).is_ok();
        }
        if ecap.prs {
            self.writel(0xe4, 0x41); // PEDATA: vector 0x41
            self.writel(0xe8, 0xfee0_0000);
            self.writel(0xec, 0);
            self.writel(0xe0, 0); // unmask
            self.writeq(0xc0, 0);
            self.writeq(0xc8, 0);
            self.writeq(0xd0, PRQ | 4);
        }
        self.writel(0x3c, 0x40); // FEDATA: vector 0x40
        self.writel(0x40, 0xfee0_0000);
        self.writel(0x44, 0);
        self.writel(0x38, 0); // unmask the fault event
        ok &= self.gcmd_and_poll(GcmdFlags::TE, GstsFlags::TES, true);
        ok
    }

    // ---- device probe ------------------------------------------------------------------

    /// The scalable-mode context entry of `rid` (bus 0 only): PASID directory, PDTS 0,
    /// RID_PASID 0, DTE/PASIDE/PRE as given, then with CM the device-selective
    /// context-cache and domain-selective IOTLB invalidations.
    ///
    /// # Errors
    /// A queue error.
    pub fn probe_device(&mut self, rid: u16, pasid: bool, pri: bool) -> Result<(), QiError> {
        let n = self.dirs.len() as u64;
        let dir = PASID_DIRS + 0x1000 * n;
        self.put(dir, &[0; 512]);
        self.dirs.insert(rid, dir);
        let root = RootEntry {
            lp: true,
            lctp: CONTEXT,
            ..RootEntry::default()
        };
        self.put(ROOT, &root.encode());
        let ce = ContextEntry {
            p: true,
            dte: pri,
            paside: pasid,
            pre: pri,
            pdts: 0,
            pasiddirptr: dir,
            ..ContextEntry::default()
        };
        self.put(CONTEXT + u64::from(rid & 0x7f) * 32, &ce.encode());
        self.submit(&[[1 | (3 << 4) | (u64::from(rid) << 32), 0, 0, 0]], false)?;
        self.submit(&[[2 | (2 << 4), 0, 0, 0]], false)
    }

    fn table_for(&mut self, rid: u16, pasid: u32) -> u64 {
        let dir = self.dirs[&rid];
        let index = pasid >> 6;
        if let Some(t) = self.tables.get(&(rid, index)) {
            return *t;
        }
        let table = self.next_table;
        self.next_table += 0x1000;
        self.put(table, &[0; 512]);
        let de = PasidDirEntry {
            p: true,
            smptblptr: table,
            ..PasidDirEntry::default()
        };
        self.put(dir + u64::from(index) * 8, &de.encode());
        self.tables.insert((rid, index), table);
        table
    }

    fn entry_gpa(&mut self, rid: u16, pasid: u32) -> u64 {
        self.table_for(rid, pasid) + u64::from(pasid & 63) * 64
    }

    /// Writes `entry` for (`rid`, `pasid`) with P written last, as `pasid_set_present`.
    pub fn write_pasid_entry(&mut self, rid: u16, pasid: u32, entry: &PasidEntry) {
        let gpa = self.entry_gpa(rid, pasid);
        let mut w = entry.encode();
        let present = w[0] & 1;
        w[0] &= !1;
        self.put(gpa, &w);
        if present == 1 {
            self.put(gpa, &[w[0] | 1]);
        }
    }

    /// The raw words of (`rid`, `pasid`)'s entry.
    pub fn pasid_entry_words(&mut self, rid: u16, pasid: u32) -> Vec<u64> {
        let gpa = self.entry_gpa(rid, pasid);
        self.get(gpa, 8)
    }

    /// A first-stage entry as `intel_pasid_setup_first_level` writes it.
    pub fn first_stage_entry(did: u16, pgd: u64, supervisor: bool) -> PasidEntry {
        PasidEntry {
            p: true,
            aw: 2,
            pgtt: 1,
            did,
            fsptptr: pgd,
            sre: supervisor,
            wpe: supervisor,
            ..PasidEntry::default()
        }
    }

    /// Binds `pgd` to `pasid` of `rid` (the DMA domain of RID_PASID when `pasid` is 0, an
    /// SVA bind otherwise): the entry, then with CM PASID-cache PASID-selective and
    /// PIOTLB all-in-PASID.
    ///
    /// # Errors
    /// A queue error.
    pub fn bind(&mut self, rid: u16, pasid: u32, did: u16, pgd: u64) -> Result<(), QiError> {
        let e = Self::first_stage_entry(did, pgd, false);
        self.write_pasid_entry(rid, pasid, &e);
        self.submit(&[pc_psi(did, pasid), piotlb_all(did, pasid)], false)
    }

    /// The mmu-notifier flush of an SVA PASID: PIOTLB page-selective of `pages` (a power
    /// of two) at `addr`, plus the PASID device-TLB flush.
    ///
    /// # Errors
    /// A queue error.
    pub fn flush_range(
        &mut self,
        rid: u16,
        pasid: u32,
        did: u16,
        addr: u64,
        pages: u64,
    ) -> Result<(), QiError> {
        let am = pages.trailing_zeros() as u64;
        self.submit(
            &[
                [
                    6 | (3 << 4) | (u64::from(did) << 16) | (u64::from(pasid) << 32),
                    am | (1 << 6) | (addr & !0xfff),
                    0,
                    0,
                ],
                pdevtlb(rid, pasid),
            ],
            false,
        )
    }

    /// `intel_pasid_tear_down_entry` + `intel_iommu_drain_pasid_prq`: clear P, PASID-cache
    /// PASID-selective, PIOTLB all-in-PASID, device-TLB, clear the entry, then the drain
    /// (FN wait, PIOTLB, device-TLB, and the SW|PD wait).
    ///
    /// # Errors
    /// A queue error.
    pub fn unbind(&mut self, rid: u16, pasid: u32, did: u16) -> Result<(), QiError> {
        let gpa = self.entry_gpa(rid, pasid);
        let w = self.get(gpa, 1);
        self.put(gpa, &[w[0] & !1]);
        self.submit(
            &[
                pc_psi(did, pasid),
                piotlb_all(did, pasid),
                pdevtlb(rid, pasid),
            ],
            false,
        )?;
        self.put(gpa, &[0; 8]);
        let fn_wait = [5 | (1 << 6) | (u64::from(QI_DONE) << 32), 0, 0, 0];
        self.submit(
            &[fn_wait, piotlb_all(did, pasid), pdevtlb(rid, pasid)],
            true,
        )
    }

    // ---- page requests -------------------------------------------------------------

    /// `prq_event_thread`: PRS = PPR first, then every descriptor from PQH to PQT, PQH =
    /// tail, PRO cleared when the queue is empty. Returns the descriptors read.
    pub fn read_page_requests(&mut self) -> Vec<PageReqDesc> {
        self.writel(0xdc, 1);
        let tail = (self.readq(0xc8) as u32) & (PRQ_BYTES - 32);
        let mut head = (self.readq(0xc0) as u32) & (PRQ_BYTES - 32);
        let mut out = Vec::new();
        while head != tail {
            let w = self.get(PRQ + u64::from(head), 4);
            out.push(PageReqDesc::decode(&[w[0], w[1], w[2], w[3]]));
            head = (head + 32) % PRQ_BYTES;
        }
        self.writeq(0xc0, u64::from(tail));
        if self.readl(0xdc) & 2 != 0 && self.readq(0xc0) == self.readq(0xc8) {
            self.writel(0xdc, 2);
        }
        out
    }

    /// `intel_iommu_page_response`: one page group response (type 9) + wait, with `rc`
    /// in RC (Linux puts the generic code there numerically).
    ///
    /// # Errors
    /// A queue error.
    pub fn respond(&mut self, req: &PageReqDesc, rc: u8) -> Result<(), QiError> {
        let qw0 = 9
            | (u64::from(req.pp) << 4)
            | (u64::from(rc & 0xf) << 12)
            | (u64::from(req.rid) << 16)
            | (u64::from(req.pasid) << 32);
        let qw1 = u64::from(req.prgi) << 3;
        self.submit(&[[qw0, qw1, 0, 0]], false)
    }

    /// Disables translation (`iommu_disable_translation`).
    pub fn disable_translation(&mut self) -> bool {
        self.gcmd_and_poll(GcmdFlags::TE, GstsFlags::TES, false)
    }
}

/// PASID-cache PASID-selective (type 7, G = 1).
pub fn pc_psi(did: u16, pasid: u32) -> [u64; 4] {
    [
        7 | (1 << 4) | (u64::from(did) << 16) | (u64::from(pasid) << 32),
        0,
        0,
        0,
    ]
}

/// PIOTLB all-in-PASID (type 6, G = 2).
pub fn piotlb_all(did: u16, pasid: u32) -> [u64; 4] {
    [
        6 | (2 << 4) | (u64::from(did) << 16) | (u64::from(pasid) << 32),
        0,
        0,
        0,
    ]
}

/// PASID device-TLB, full range (type 8, S = 1, ADDR all ones).
pub fn pdevtlb(rid: u16, pasid: u32) -> [u64; 4] {
    [
        8 | (u64::from(rid) << 16) | (u64::from(pasid) << 32),
        (1 << 11) | 0x7fff_ffff_ffff_f000,
        0,
        0,
    ]
}
