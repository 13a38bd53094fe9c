//! The remapping unit: its register file, the invalidation queue, the page request
//! queue, fault recording, and the guest's translation structures turned into
//! vsva-viommu binds.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use vm_memory::{Bytes, GuestAddress, GuestMemory};
use vsva_uapi::hw::vtd::{
    offset, Ccmd, ContextEntry, DescCheck, DescError, EventControlFlags, FaultReason, FaultRecord,
    FstsFlags, GcmdFlags, GstsFlags, InvDesc, IotlbReg, Iqa, Iqei, Iqercd, PcInvDesc, PgrpRespDesc,
    PiotlbInvDesc, Pqa, PrsFlags, Rtaddr, TTM_SCALABLE,
};
use vsva_uapi::CacheInvalidateInfo;
use vsva_viommu::{Backend, DeviceId, Vm};
use zerocopy::IntoBytes;

use crate::caps::{Offer, FRO, IRO, VERSION};
use crate::error::VtdError;
use crate::mapping::{self, FirstStage};
use crate::tables::{self, Absent};

/// The size of the unit's MMIO window (one page; every register is inside it).
pub const MMIO_SIZE: u64 = 0x1000;

/// How one unit is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VtdConfig {
    /// Fault recording registers (1 ..= 128; default 8).
    pub fault_records: u8,
    /// Offer page requests (`ECAP.PRS`, `PDS`) when the host can deliver them (default
    /// true).
    pub page_requests: bool,
    /// The most PASID tables one domain-selective or global PASID-cache invalidation (or
    /// a context-cache invalidation) reads to find entries it has not bound yet (default
    /// 1024: 4 MiB of guest memory). Linux never needs the scan: with caching mode it
    /// names every new entry with a PASID-selective invalidation.
    pub max_scan_tables: usize,
    /// The most page requests awaiting the guest's response the unit remembers (default
    /// 4096); beyond, the oldest is forgotten (vsva-viommu's own quota answers it).
    pub max_outstanding: usize,
}

impl Default for VtdConfig {
    fn default() -> VtdConfig {
        VtdConfig {
            fault_records: 8,
            page_requests: true,
            max_scan_tables: 1024,
            max_outstanding: 4096,
        }
    }
}

/// The unit's three interrupt sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VtdEvent {
    /// A fault record, an overflow, or an invalidation queue error (`FECTL`).
    Fault,
    /// A wait descriptor with IF completed (`IECTL`).
    InvalidationComplete,
    /// A page request was written, or the queue overflowed (`PECTL`).
    PageRequest,
}

/// One MSI: the address and data the guest programmed for the event (`xEADDR`,
/// `xEUADDR`, `xEDATA`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Msi {
    /// The message address.
    pub address: u64,
    /// The message data.
    pub data: u32,
}

/// What the VMM implements to deliver the unit's interrupts (for KVM: an MSI route /
/// `KVM_SIGNAL_MSI`). The unit's own event interrupts are not remapped (it offers no
/// interrupt remapping). Called with the unit's lock held: it must not call back into
/// the unit.
pub trait MsiSink: Send + Sync {
    /// Delivers `msi` for `event`.
    fn deliver(&self, event: VtdEvent, msi: Msi);
}

impl<F: Fn(VtdEvent, Msi) + Send + Sync> MsiSink for F {
    fn deliver(&self, event: VtdEvent, msi: Msi) {
        self(event, msi)
    }
}

/// What the unit implements for the VMM's MMIO bus: accesses to its register window at
/// an offset from the base the VMM placed it at (the DRHD's register base in the ACPI
/// DMAR table). Every access is accepted: an access the specification does not define
/// (a width other than 4 or 8, a misaligned one, outside the registers) reads as 0 and
/// writes nothing.
pub trait MmioHandler: Send + Sync {
    /// A read of `data.len()` bytes at `offset`.
    fn mmio_read(&self, offset: u64, data: &mut [u8]);
    /// A write of `data` at `offset`.
    fn mmio_write(&self, offset: u64, data: &[u8]);
}

/// The unit's counters (for VMM monitoring and tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VtdStats {
    /// MMIO reads.
    pub mmio_reads: u64,
    /// MMIO writes.
    pub mmio_writes: u64,
    /// Writes of an undefined width or alignment, dropped.
    pub bad_accesses: u64,
    /// Invalidation queue runs (IQT writes that fetched at least one descriptor).
    pub queue_runs: u64,
    /// Descriptors executed.
    pub descriptors: u64,
    /// Invalidation queue errors raised (FSTS.IQE).
    pub queue_errors: u64,
    /// Wait descriptors completed.
    pub waits: u64,
    /// `Vm::cache_invalidate` calls (type-6 flushes of a bound PASID).
    pub invalidations: u64,
    /// Invalidations vsva-viommu refused (a bug of the unit's mapping if ever non-zero).
    pub invalidations_refused: u64,
    /// `Vm::flush` calls (synchronisation points that had work behind them).
    pub flushes: u64,
    /// `Vm::bind_gpasid` calls that succeeded.
    pub binds: u64,
    /// `Vm::unbind_gpasid` calls.
    pub unbinds: u64,
    /// Binds refused by vsva-viommu or the backend (recorded as a fault).
    pub bind_failures: u64,
    /// Fault records written.
    pub faults_recorded: u64,
    /// Faults lost to a full set of records (FSTS.PFO).
    pub fault_overflows: u64,
    /// Page request descriptors written to the guest's queue.
    pub page_requests: u64,
    /// Page requests answered by the unit instead (queue full or overflowed, no
    /// PASID, page requests not enabled for the device, the queue outside RAM).
    pub page_requests_refused: u64,
    /// Page group responses forwarded to `Vm::page_response`.
    pub responses: u64,
    /// Page group responses that matched no request the unit delivered (dropped).
    pub responses_unmatched: u64,
    /// MSIs delivered, per event: fault, invalidation completion, page request.
    pub msis: [u64; 3],
}

#[derive(Debug, Clone, Copy)]
struct EventRegs {
    im: bool,
    ip: bool,
    data: u32,
    addr: u32,
}

impl EventRegs {
    const RESET: EventRegs = EventRegs {
        im: true,
        ip: false,
        data: 0,
        addr: 0,
    };

    fn control(&self) -> u32 {
        let mut f = EventControlFlags::empty();
        f.set(EventControlFlags::IM, self.im);
        f.set(EventControlFlags::IP, self.ip);
        f.bits() as u32
    }
}

#[derive(Debug, Clone, Copy)]
struct IqGeom {
    base: u64,
    entries: u32,
    wide: bool,
}

impl IqGeom {
    fn shift(&self) -> u32 {
        if self.wide {
            5
        } else {
            4
        }
    }
}

/// One host PASID bound for the guest: a guest PASID with one first-stage configuration,
/// shared by every device whose entry for that PASID is the same.
#[derive(Debug, Clone)]
struct Binding {
    gpasid: u32,
    stage: FirstStage,
    devices: BTreeSet<u16>,
    gpasid_val: bool,
}

#[derive(Debug, Clone, Copy)]
struct Outstanding {
    rid: u16,
    gpasid: u32,
    prgi: u16,
    device: DeviceId,
    vm_pasid: Option<u32>,
}

struct State {
    gsts: GstsFlags,
    rtaddr: u64,
    root: Option<Rtaddr>,
    fsts: FstsFlags,
    fault_ev: EventRegs,
    iqh: u32,
    iqt: u32,
    iqa: u64,
    iq: Option<IqGeom>,
    ics: bool,
    inv_ev: EventRegs,
    iqercd: Iqercd,
    pqh: u32,
    pqt: u32,
    pqa: u64,
    prs: PrsFlags,
    prq_ev: EventRegs,
    iva: u64,
    iotlb: u64,
    ccmd: u64,
    frcd: Vec<FaultRecord>,
    next_record: usize,
    fri: u8,
    devices: BTreeMap<u16, DeviceId>,
    rids: HashMap<DeviceId, u16>,
    bindings: BTreeMap<u32, Binding>,
    by_key: HashMap<(u32, FirstStage), u32>,
    entries: BTreeMap<(u16, u32), u32>,
    pending: Vec<(u32, CacheInvalidateInfo)>,
    unflushed: bool,
    outstanding: VecDeque<Outstanding>,
    stats: VtdStats,
}

/// An emulated scalable-mode Intel VT-d remapping unit for one VM.
///
/// It holds the VM's [`Vm`] (vsva-viommu), the VM's guest memory (vm-memory's
/// [`GuestMemory`]: every table and queue access is a bounded, checked copy) and the
/// VMM's [`MsiSink`]. The VMM routes the unit's MMIO window ([`MMIO_SIZE`] bytes at the
/// DRHD register base) to [`MmioHandler`], attaches each assigned device under the
/// requester id the guest sees ([`VtdUnit::attach_device`]), and calls
/// [`VtdUnit::deliver_page_requests`] when the backend has reported page requests.
///
/// Every method takes `&self` (one lock inside), so vCPU threads share the unit in an
/// `Arc`. Lock order: the unit, then the VM's state inside vsva-viommu.
pub struct VtdUnit<B: Backend, M: GuestMemory, I: MsiSink> {
    vm: Arc<Vm<B>>,
    mem: M,
    msi: I,
    offer: Offer,
    config: VtdConfig,
    state: Mutex<State>,
}

impl<B: Backend, M: GuestMemory, I: MsiSink> std::fmt::Debug for VtdUnit<B, M, I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VtdUnit")
            .field("vm", &self.vm.id())
            .field("cap", &format_args!("{:#x}", self.offer.cap.raw()))
            .field("ecap", &format_args!("{:#x}", self.offer.ecap.raw()))
            .finish_non_exhaustive()
    }
}

fn event_index(e: VtdEvent) -> usize {
    match e {
        VtdEvent::Fault => 0,
        VtdEvent::InvalidationComplete => 1,
        VtdEvent::PageRequest => 2,
    }
}

impl<B: Backend, M: GuestMemory, I: MsiSink> VtdUnit<B, M, I> {
    /// A unit for `vm`, its registers at their reset values, offering what the backend's
    /// host can back ([`Offer::derive`]).
    ///
    /// # Errors
    /// [`VtdError::HostCannotBack`].
    pub fn new(vm: Arc<Vm<B>>, mem: M, msi: I, config: VtdConfig) -> Result<Self, VtdError> {
        let offer = Offer::derive(vm.host(), config.fault_records, config.page_requests)?;
        let records = offer.fault_records() as usize;
        Ok(VtdUnit {
            vm,
            mem,
            msi,
            offer,
            config,
            state: Mutex::new(State {
                frcd: vec![FaultRecord::default(); records],
                ..empty_state()
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update is committed step by step with the registers consistent after
        // each: a panic in a backend call leaves a usable state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The VM behind the unit.
    pub fn vm(&self) -> &Arc<Vm<B>> {
        &self.vm
    }

    /// What the unit offers (`CAP_REG`, `ECAP_REG`).
    pub fn offer(&self) -> &Offer {
        &self.offer
    }

    /// The unit's settings.
    pub fn config(&self) -> &VtdConfig {
        &self.config
    }

    /// The unit's counters.
    pub fn stats(&self) -> VtdStats {
        self.lock().stats
    }

    /// The host PASIDs bound for the guest: `(host PASID, guest PASID, the guest
    /// requester ids whose entries use it)`.
    pub fn bindings(&self) -> Vec<(u32, u32, Vec<u16>)> {
        self.lock()
            .bindings
            .iter()
            .map(|(h, b)| (*h, b.gpasid, b.devices.iter().copied().collect()))
            .collect()
    }

    /// Attaches a host device to the VM under the requester id `rid` (bus:devfn) the
    /// guest sees in its tables; its page requests reach the guest as `rid`'s.
    ///
    /// # Errors
    /// [`VtdError::RidInUse`]; [`VtdError::Attach`] (another VM holds the device).
    pub fn attach_device(&self, rid: u16, device: DeviceId) -> Result<(), VtdError> {
        let mut st = self.lock();
        if st.devices.contains_key(&rid) {
            return Err(VtdError::RidInUse { rid });
        }
        self.vm.attach_device(device)?;
        st.devices.insert(rid, device);
        st.rids.insert(device, rid);
        if self.translating(&st) {
            let mut budget = self.config.max_scan_tables;
            self.sync_device(&mut st, rid, None, &mut budget);
            self.sync_point(&mut st);
        }
        Ok(())
    }

    // ---- MMIO ----------------------------------------------------------------------

    fn read_dword(&self, st: &State, off: u32) -> u32 {
        let lo = |v: u64| v as u32;
        let hi = |v: u64| (v >> 32) as u32;
        let iva = iva_offset();
        let frcd = u32::from(FRO) * 16;
        match off {
            offset::VER => VERSION,
            0x08 => lo(self.offer.cap.raw()),
            0x0c => hi(self.offer.cap.raw()),
            0x10 => lo(self.offer.ecap.raw()),
            0x14 => hi(self.offer.ecap.raw()),
            offset::GCMD => 0,
            offset::GSTS => st.gsts.bits() as u32,
            0x20 => lo(st.rtaddr),
            0x24 => hi(st.rtaddr),
            0x28 => lo(st.ccmd),
            0x2c => hi(st.ccmd),
            offset::FSTS => self.fsts_value(st),
            offset::FECTL => st.fault_ev.control(),
            offset::FEDATA => st.fault_ev.data,
            offset::FEADDR => st.fault_ev.addr,
            0x80 => st.iqh,
            0x88 => st.iqt,
            0x90 => lo(st.iqa),
            0x94 => hi(st.iqa),
            offset::ICS => u32::from(st.ics),
            offset::IECTL => st.inv_ev.control(),
            offset::IEDATA => st.inv_ev.data,
            offset::IEADDR => st.inv_ev.addr,
            0xb0 => lo(st.iqercd.raw()),
            0xb4 => hi(st.iqercd.raw()),
            0xc0 if self.offer.ecap.prs => st.pqh,
            0xc8 if self.offer.ecap.prs => st.pqt,
            0xd0 if self.offer.ecap.prs => lo(st.pqa),
            0xd4 if self.offer.ecap.prs => hi(st.pqa),
            offset::PRS if self.offer.ecap.prs => st.prs.bits() as u32,
            offset::PECTL if self.offer.ecap.prs => st.prq_ev.control(),
            offset::PEDATA if self.offer.ecap.prs => st.prq_ev.data,
            offset::PEADDR if self.offer.ecap.prs => st.prq_ev.addr,
            o if o == iva => lo(st.iva),
            o if o == iva + 4 => hi(st.iva),
            o if o == iva + 8 => lo(st.iotlb),
            o if o == iva + 12 => hi(st.iotlb),
            o if o >= frcd && o < frcd + 16 * st.frcd.len() as u32 => {
                let i = ((o - frcd) / 16) as usize;
                let w = st.frcd.get(i).map_or([0; 2], FaultRecord::encode);
                match (o - frcd) % 16 {
                    0 => lo(w[0]),
                    4 => hi(w[0]),
                    8 => lo(w[1]),
                    _ => hi(w[1]),
                }
            }
            _ => 0,
        }
    }

    fn fsts_value(&self, st: &State) -> u32 {
        let mut f = st.fsts;
        f.set(FstsFlags::PPF, st.frcd.iter().any(|r| r.f));
        (f.bits() as u32) | (u32::from(st.fri) << 8)
    }

    fn write_dword(&self, st: &mut State, off: u32, v: u32) {
        let iva = iva_offset();
        let frcd = u32::from(FRO) * 16;
        let set_lo = |r: &mut u64, v: u32| *r = (*r & !0xffff_ffff) | u64::from(v);
        let set_hi = |r: &mut u64, v: u32| *r = (*r & 0xffff_ffff) | (u64::from(v) << 32);
        let prs = self.offer.ecap.prs;
        match off {
            offset::GCMD => self.gcmd(st, v),
            0x20 => set_lo(&mut st.rtaddr, v & 0xffff_fc00),
            0x24 => set_hi(&mut st.rtaddr, v),
            0x28 if !st.gsts.contains(GstsFlags::QIES) => set_lo(&mut st.ccmd, v),
            0x2c if !st.gsts.contains(GstsFlags::QIES) => {
                set_hi(&mut st.ccmd, v & 0xe000_0003);
                self.ccmd(st);
            }
            offset::FSTS => {
                let w1c = FstsFlags::PFO | FstsFlags::IQE | FstsFlags::ICE | FstsFlags::ITE;
                let clear = FstsFlags::from_bits_truncate(u64::from(v)) & (w1c | FstsFlags::PRO);
                let had_iqe = st.fsts.contains(FstsFlags::IQE);
                st.fsts.remove(clear);
                self.fault_status_cleared(st);
                if had_iqe && !st.fsts.contains(FstsFlags::IQE) {
                    // Fetching resumes at IQH, the faulting slot the guest rewrote.
                    self.run_queue(st);
                }
            }
            offset::FECTL => {
                st.fault_ev.im = v & EventControlFlags::IM.bits() as u32 != 0;
                self.unmasked(st, VtdEvent::Fault);
            }
            offset::FEDATA => st.fault_ev.data = v & 0xffff,
            offset::FEADDR => st.fault_ev.addr = v & !3,
            0x88 => {
                st.iqt = v & 0x7fff0;
                let wide = st.iq.is_some_and(|g| g.wide);
                if wide && v & 0x10 != 0 {
                    self.queue_error(st, Iqei::InvalidTail);
                } else {
                    self.run_queue(st);
                }
            }
            0x90 => set_lo(&mut st.iqa, v & 0xffff_f807),
            0x94 => set_hi(&mut st.iqa, v),
            offset::ICS if v & 1 != 0 => {
                st.ics = false;
                st.inv_ev.ip = false;
            }
            offset::IECTL => {
                st.inv_ev.im = v & EventControlFlags::IM.bits() as u32 != 0;
                self.unmasked(st, VtdEvent::InvalidationComplete);
            }
            offset::IEDATA => st.inv_ev.data = v & 0xffff,
            offset::IEADDR => st.inv_ev.addr = v & !3,
            0xc0 if prs => st.pqh = v & 0x7ffe0,
            0xc8 if prs => st.pqt = v & 0x7ffe0,
            0xd0 if prs => set_lo(&mut st.pqa, v & 0xffff_f007),
            0xd4 if prs => set_hi(&mut st.pqa, v),
            offset::PRS if prs => {
                st.prs.remove(PrsFlags::from_bits_truncate(u64::from(v)));
                if st.prs.is_empty() {
                    st.prq_ev.ip = false;
                }
            }
            offset::PECTL if prs => {
                st.prq_ev.im = v & EventControlFlags::IM.bits() as u32 != 0;
                self.unmasked(st, VtdEvent::PageRequest);
            }
            offset::PEDATA if prs => st.prq_ev.data = v & 0xffff,
            offset::PEADDR if prs => st.prq_ev.addr = v & !3,
            o if o == iva => set_lo(&mut st.iva, v & 0xffff_f07f),
            o if o == iva + 4 => set_hi(&mut st.iva, v),
            o if o == iva + 8 => {}
            o if o == iva + 12 && !st.gsts.contains(GstsFlags::QIES) => {
                set_hi(&mut st.iotlb, v & 0xb003_ffff);
                let mut r = IotlbReg::decode_raw(st.iotlb);
                if r.ivt {
                    // Register-based IOTLB invalidation covers second-stage mappings,
                    // which the unit does not offer: complete it at once.
                    r.ivt = false;
                    r.iaig = r.iirg;
                    st.iotlb = r.raw();
                }
            }
            o if o >= frcd && o < frcd + 16 * st.frcd.len() as u32 && (o - frcd) % 16 == 12 => {
                let i = ((o - frcd) / 16) as usize;
                if v & 0x8000_0000 != 0 {
                    if let Some(r) = st.frcd.get_mut(i) {
                        r.f = false;
                    }
                    self.fault_status_cleared(st);
                }
            }
            // Read-only, reserved, or not offered: the write does nothing.
            _ => {}
        }
    }

    // ---- GCMD, CCMD ----------------------------------------------------------------

    fn gcmd(&self, st: &mut State, v: u32) {
        let cmd = GcmdFlags::from_bits_truncate(u64::from(v));
        // Level bits act only when they differ from GSTS; one-shot bits whenever set.
        let want_qi = cmd.contains(GcmdFlags::QIE);
        if want_qi != st.gsts.contains(GstsFlags::QIES) {
            if want_qi {
                let iqa = Iqa::decode_raw(st.iqa);
                let wide = iqa.dw && self.offer.ecap.smts;
                st.iq = Some(IqGeom {
                    base: iqa.iqa,
                    entries: iqa.entries(wide),
                    wide,
                });
                st.iqh = 0;
                st.gsts.insert(GstsFlags::QIES);
                // A guest that wrote IQT before enabling (not Linux) is served now.
                self.run_queue(st);
            } else if st.iqh == st.iqt {
                st.gsts.remove(GstsFlags::QIES);
                st.iqh = 0;
            }
            // Disabling with descriptors pending is refused, as QEMU does: QIES stays 1.
        }
        if cmd.contains(GcmdFlags::SRTP) {
            st.root = Some(Rtaddr::decode_raw(st.rtaddr));
            st.gsts.insert(GstsFlags::RTPS);
            // CAP.ESRTPS: latching the root table drops every cache: re-read everything.
            if st.gsts.contains(GstsFlags::TES) {
                self.sync_all(st);
            }
        }
        let want_te = cmd.contains(GcmdFlags::TE);
        if want_te != st.gsts.contains(GstsFlags::TES) {
            if want_te {
                st.gsts.insert(GstsFlags::TES);
                if st.root.is_some_and(|r| r.ttm != TTM_SCALABLE) {
                    // Legacy (or reserved) translation table mode: not offered.
                    self.record_fault(st, 0, None, 0, FaultReason::InvalidRootTableAddress, true);
                }
                self.sync_all(st);
            } else {
                st.gsts.remove(GstsFlags::TES);
                self.unbind_all(st);
            }
        }
        // WBF (CAP.RWBF is 0: nothing is buffered; WBFS never sets), SFL, EAFL, IRE,
        // SIRTP and CFI (no advanced fault log, no interrupt remapping) do nothing.
        self.sync_point(st);
    }

    fn ccmd(&self, st: &mut State) {
        let mut c = Ccmd::decode_raw(st.ccmd);
        if !c.icc {
            return;
        }
        self.context_invalidation(st, c.cirg, c.sid, c.fm);
        c.icc = false;
        c.caig = if c.cirg == 2 { 1 } else { c.cirg };
        st.ccmd = c.raw();
        self.sync_point(st);
    }

    // ---- interrupts ----------------------------------------------------------------

    fn regs_of(st: &mut State, e: VtdEvent) -> &mut EventRegs {
        match e {
            VtdEvent::Fault => &mut st.fault_ev,
            VtdEvent::InvalidationComplete => &mut st.inv_ev,
            VtdEvent::PageRequest => &mut st.prq_ev,
        }
    }

    fn send(&self, st: &mut State, e: VtdEvent) {
        let r = *Self::regs_of(st, e);
        st.stats.msis[event_index(e)] += 1;
        self.msi.deliver(
            e,
            Msi {
                address: u64::from(r.addr),
                data: r.data,
            },
        );
    }

    fn raise(&self, st: &mut State, e: VtdEvent) {
        let r = Self::regs_of(st, e);
        r.ip = true;
        if !r.im {
            r.ip = false;
            self.send(st, e);
        }
    }

    fn unmasked(&self, st: &mut State, e: VtdEvent) {
        let r = Self::regs_of(st, e);
        if !r.im && r.ip {
            r.ip = false;
            self.send(st, e);
        }
    }

    /// The fault event is raised only when FSTS had no PPF, PFO or IQE before.
    fn fault_event_gate(&self, st: &State) -> bool {
        let f = FstsFlags::from_bits_truncate(u64::from(self.fsts_value(st)));
        !f.intersects(FstsFlags::PPF | FstsFlags::PFO | FstsFlags::IQE)
    }

    fn fault_status_cleared(&self, st: &mut State) {
        if self.fault_event_gate(st) {
            st.fault_ev.ip = false;
        }
        // FRI follows the first pending record.
        if let Some(i) = (0..st.frcd.len())
            .map(|k| (st.fri as usize + k) % st.frcd.len())
            .find(|&i| st.frcd[i].f)
        {
            st.fri = i as u8;
        }
    }

    fn record_fault(
        &self,
        st: &mut State,
        sid: u16,
        pasid: Option<u32>,
        addr: u64,
        reason: FaultReason,
        read: bool,
    ) {
        let gate = self.fault_event_gate(st);
        let n = st.frcd.len();
        let slot = (0..n)
            .map(|k| (st.next_record + k) % n)
            .find(|&i| !st.frcd[i].f);
        let Some(i) = slot else {
            st.stats.fault_overflows += 1;
            st.fsts.insert(FstsFlags::PFO);
            if gate {
                self.raise(st, VtdEvent::Fault);
            }
            return;
        };
        if !st.frcd.iter().any(|r| r.f) {
            st.fri = i as u8;
        }
        st.frcd[i] = FaultRecord {
            fi: addr & !0xfff,
            sid,
            pp: pasid.is_some(),
            fr: reason.code(),
            pv: pasid.unwrap_or(0) & 0xf_ffff,
            t: read,
            f: true,
        };
        st.next_record = (i + 1) % n;
        st.stats.faults_recorded += 1;
        if gate {
            self.raise(st, VtdEvent::Fault);
        }
    }

    /// Records a fault the VMM observed for a guest device (e.g. a translation fault of
    /// an emulated device that walks the guest's tables), as the unit would: in the next
    /// free fault recording register, with the fault event.
    pub fn report_fault(
        &self,
        rid: u16,
        pasid: Option<u32>,
        addr: u64,
        reason: FaultReason,
        read: bool,
    ) {
        let mut st = self.lock();
        self.record_fault(&mut st, rid, pasid, addr, reason, read);
    }

    fn queue_error(&self, st: &mut State, iqei: Iqei) {
        let gate = self.fault_event_gate(st);
        st.fsts.insert(FstsFlags::IQE);
        st.iqercd = Iqercd {
            iqei: iqei as u8,
            ..Iqercd::default()
        };
        st.stats.queue_errors += 1;
        if gate {
            self.raise(st, VtdEvent::Fault);
        }
    }

    // ---- the invalidation queue ----------------------------------------------------

    fn run_queue(&self, st: &mut State) {
        let Some(g) = st.iq else { return };
        if !st.gsts.contains(GstsFlags::QIES) || st.fsts.contains(FstsFlags::IQE) {
            return;
        }
        let shift = g.shift();
        let tail = st.iqt >> shift;
        if tail >= g.entries {
            self.queue_error(st, Iqei::InvalidTail);
            return;
        }
        let mut head = (st.iqh >> shift) % g.entries;
        if head == tail {
            return;
        }
        st.stats.queue_runs += 1;
        let check = DescCheck {
            wide: g.wide,
            pds: self.offer.ecap.pds,
            dit: self.offer.ecap.dit,
            mamv: self.offer.cap.mamv,
        };
        // Each run fetches at most one queue's worth: head only moves towards tail.
        while head != tail {
            // A queue that wraps past the end of the address space is outside guest
            // memory: a fetch error.
            let addr = g.base.checked_add(u64::from(head) << shift);
            let mut words = [0u64; 4];
            let fetched = match addr {
                None => None,
                Some(addr) if g.wide => tables::read_words::<M, 4>(&self.mem, addr),
                Some(addr) => {
                    tables::read_words::<M, 2>(&self.mem, addr).map(|w| [w[0], w[1], 0, 0])
                }
            };
            let Some(w) = fetched else {
                self.fail_at(st, head, shift, Iqei::FetchError);
                return;
            };
            words.copy_from_slice(&w);
            let desc = match InvDesc::decode(&words, &check) {
                Ok(d) => d,
                Err(e) => {
                    self.fail_at(st, head, shift, DescError::iqei(&e));
                    return;
                }
            };
            if !self.execute(st, &desc) {
                self.fail_at(st, head, shift, Iqei::NoInfo);
                return;
            }
            st.stats.descriptors += 1;
            head = (head + 1) % g.entries;
            st.iqh = head << shift;
        }
        self.sync_point(st);
    }

    fn fail_at(&self, st: &mut State, head: u32, shift: u32, iqei: Iqei) {
        // Everything before the faulting descriptor has taken effect; IQH names it.
        self.sync_point(st);
        st.iqh = head << shift;
        self.queue_error(st, iqei);
    }

    /// Runs one descriptor; `false` when it failed in a way the queue reports (a wait's
    /// status write outside guest memory).
    fn execute(&self, st: &mut State, d: &InvDesc) -> bool {
        match d {
            InvDesc::ContextCache(c) => {
                self.flush_pending(st);
                self.context_invalidation(st, c.g, c.sid, c.fm);
            }
            // Second-stage / nested IOTLB (type 2): the unit offers no second stage.
            // Device-TLB flushes (types 3 and 8): the host flushes device TLBs itself
            // when it processes the IOTLB invalidation of a nested table. Interrupt
            // entries (type 4): no interrupt remapping.
            InvDesc::Iotlb(_) | InvDesc::DevTlb(_) | InvDesc::Iec(_) | InvDesc::PasidDevTlb(_) => {}
            InvDesc::Wait(w) => {
                self.sync_point(st);
                if w.pd {
                    // Page-request drain: every request reported so far is in the
                    // guest's queue (or answered) before the wait completes.
                    self.deliver_locked(st);
                }
                if w.sw
                    && self
                        .mem
                        .write_slice(&w.status_data.to_le_bytes(), GuestAddress(w.status_addr))
                        .is_err()
                {
                    return false;
                }
                if w.if_flag && !st.ics {
                    st.ics = true;
                    self.raise(st, VtdEvent::InvalidationComplete);
                }
                st.stats.waits += 1;
            }
            InvDesc::PasidIotlb(p) => self.piotlb(st, p),
            InvDesc::PasidCache(p) => {
                self.flush_pending(st);
                self.pasid_cache(st, p);
            }
            InvDesc::PageGroupResponse(r) => {
                self.flush_pending(st);
                self.page_group_response(st, r);
            }
        }
        true
    }

    fn piotlb(&self, st: &mut State, p: &PiotlbInvDesc) {
        let mamv = self.offer.cap.mamv;
        let targets: Vec<u32> = st
            .bindings
            .iter()
            .filter(|(_, b)| b.gpasid == p.pasid && b.stage.did == p.did)
            .map(|(h, _)| *h)
            .collect();
        for h in targets {
            st.pending
                .push((h, mapping::piotlb_invalidation(p, h, mamv)));
        }
    }

    /// Sends the invalidations queued since the last barrier, grouped by host PASID (the
    /// guest's flushes of different PASIDs commute), so a batching backend builds one
    /// array per table.
    fn flush_pending(&self, st: &mut State) {
        if st.pending.is_empty() {
            return;
        }
        let mut pending = std::mem::take(&mut st.pending);
        pending.sort_by_key(|(h, _)| *h);
        for (_, info) in &pending {
            match self.vm.cache_invalidate(info.as_bytes()) {
                Ok(()) => st.stats.invalidations += 1,
                Err(_) => st.stats.invalidations_refused += 1,
            }
        }
        st.unflushed = true;
        pending.clear();
        st.pending = pending;
    }

    /// A synchronisation point: what the guest asked so far reaches the hardware.
    fn sync_point(&self, st: &mut State) {
        self.flush_pending(st);
        if st.unflushed {
            self.vm.flush();
            st.stats.flushes += 1;
            st.unflushed = false;
        }
    }

    // ---- translation structures → binds ------------------------------------------

    fn translating(&self, st: &State) -> bool {
        st.gsts.contains(GstsFlags::TES) && st.root.is_some_and(|r| r.ttm == TTM_SCALABLE)
    }

    fn root(&self, st: &State) -> u64 {
        st.root.map_or(0, |r| r.rta)
    }

    fn context(&self, st: &mut State, rid: u16) -> Option<ContextEntry> {
        match tables::context_entry(&self.mem, self.root(st), rid) {
            Ok(Ok(ce)) => Some(ce),
            Ok(Err(_)) => None,
            Err(f) => {
                if !f.suppressed {
                    self.record_fault(st, rid, None, 0, f.reason, true);
                }
                None
            }
        }
    }

    /// Re-reads the entry of (`rid`, `gpasid`) and makes the binds agree with it. With
    /// `did`, only an entry (old or new) of that domain is touched.
    fn sync_entry(
        &self,
        st: &mut State,
        rid: u16,
        ce: Option<&ContextEntry>,
        gpasid: u32,
        did: Option<u16>,
    ) {
        let old_did = st
            .entries
            .get(&(rid, gpasid))
            .and_then(|h| st.bindings.get(h))
            .map(|b| b.stage.did);
        let new = match ce {
            None => Ok(None),
            Some(ce) => match tables::pasid_entry(&self.mem, ce, gpasid) {
                Ok(Ok(pe)) => match FirstStage::from_entry(&pe, &self.offer) {
                    Ok(stage) => Ok(Some(stage)),
                    Err(reason) => Err((reason, pe.fpd || ce.fpd)),
                },
                Ok(Err(Absent::NotPresent | Absent::OutOfRange)) => Ok(None),
                Err(f) => Err((f.reason, f.suppressed)),
            },
        };
        if let Some(d) = did {
            let new_did = match &new {
                Ok(Some(s)) => Some(s.did),
                _ => None,
            };
            if old_did != Some(d) && new_did != Some(d) && new.is_ok() {
                return;
            }
        }
        match new {
            Ok(Some(stage)) => self.attach_entry(st, rid, gpasid, stage),
            Ok(None) => self.detach_entry(st, rid, gpasid),
            Err((reason, suppressed)) => {
                self.detach_entry(st, rid, gpasid);
                if !suppressed {
                    self.record_fault(st, rid, Some(gpasid), 0, reason, true);
                }
            }
        }
    }

    /// Re-reads every entry of `rid` the unit has bound, and finds present ones it has
    /// not (within `budget` PASID tables).
    fn sync_device(&self, st: &mut State, rid: u16, did: Option<u16>, budget: &mut usize) {
        let ce = if self.translating(st) {
            self.context(st, rid)
        } else {
            None
        };
        let tracked: Vec<u32> = st
            .entries
            .range((rid, 0)..=(rid, u32::MAX))
            .map(|((_, g), _)| *g)
            .collect();
        for g in &tracked {
            self.sync_entry(st, rid, ce.as_ref(), *g, did);
        }
        let Some(ce) = ce else { return };
        let max = self.offer.max_pasid();
        for (base, table) in tables::present_tables(&self.mem, &ce, *budget) {
            *budget = budget.saturating_sub(1);
            for g in tables::present_pasids(&self.mem, base, table) {
                if g > max || (g != ce.rid_pasid && !ce.paside) || tracked.contains(&g) {
                    continue;
                }
                self.sync_entry(st, rid, Some(&ce), g, did);
            }
        }
    }

    fn sync_all(&self, st: &mut State) {
        let rids: Vec<u16> = st.devices.keys().copied().collect();
        let mut budget = self.config.max_scan_tables;
        for rid in rids {
            self.sync_device(st, rid, None, &mut budget);
        }
    }

    fn context_invalidation(&self, st: &mut State, g: u8, sid: u16, fm: u8) {
        let rids: Vec<u16> = st.devices.keys().copied().collect();
        // Device-selective with a function mask: FM = n ignores the low n bits of the
        // function number (bits 2:0 of the SID).
        let ignore = match fm {
            0 => 0,
            1 => 0b100,
            2 => 0b110,
            _ => 0b111,
        };
        let mut budget = self.config.max_scan_tables;
        for rid in rids {
            if g == 3 && (rid & !ignore) != (sid & !ignore) {
                continue;
            }
            // Global and domain-selective (scalable-mode context entries carry no
            // domain id) re-read every device, as QEMU does.
            self.sync_device(st, rid, None, &mut budget);
        }
    }

    fn pasid_cache(&self, st: &mut State, p: &PcInvDesc) {
        if !self.translating(st) {
            return;
        }
        let rids: Vec<u16> = st.devices.keys().copied().collect();
        match p.g {
            1 => {
                for rid in rids {
                    let ce = self.context(st, rid);
                    self.sync_entry(st, rid, ce.as_ref(), p.pasid, Some(p.did));
                }
            }
            0 => {
                let mut budget = self.config.max_scan_tables;
                for rid in rids {
                    self.sync_device(st, rid, Some(p.did), &mut budget);
                }
            }
            _ => self.sync_all(st),
        }
    }

    fn attach_entry(&self, st: &mut State, rid: u16, gpasid: u32, stage: FirstStage) {
        let key_stage = FirstStage {
            fpd: false,
            ..stage
        };
        let key = (gpasid, key_stage);
        if let Some(h) = st.entries.get(&(rid, gpasid)) {
            if st.by_key.get(&key) == Some(h) {
                return;
            }
        }
        self.detach_entry(st, rid, gpasid);
        if let Some(&h) = st.by_key.get(&key) {
            if let Some(b) = st.bindings.get_mut(&h) {
                b.devices.insert(rid);
                st.entries.insert((rid, gpasid), h);
                return;
            }
        }
        let fault = |this: &Self, st: &mut State| {
            st.stats.bind_failures += 1;
            if !stage.fpd {
                this.record_fault(
                    st,
                    rid,
                    Some(gpasid),
                    0,
                    FaultReason::PasidEntryInvalid,
                    true,
                );
            }
        };
        self.flush_pending(st);
        let Ok(h) = self.vm.alloc_pasid(1, u32::MAX) else {
            fault(self, st);
            return;
        };
        let gpasid_val = gpasid >= 1
            && !st
                .bindings
                .values()
                .any(|b| b.gpasid_val && b.gpasid == gpasid);
        let data = key_stage.bind_data(h, gpasid_val.then_some(gpasid));
        if self.vm.bind_gpasid(data.as_bytes()).is_err() {
            self.vm.free_pasids(h, h);
            fault(self, st);
            return;
        }
        st.stats.binds += 1;
        st.unflushed = true;
        st.bindings.insert(
            h,
            Binding {
                gpasid,
                stage: key_stage,
                devices: BTreeSet::from([rid]),
                gpasid_val,
            },
        );
        st.by_key.insert(key, h);
        st.entries.insert((rid, gpasid), h);
    }

    fn detach_entry(&self, st: &mut State, rid: u16, gpasid: u32) {
        let Some(h) = st.entries.remove(&(rid, gpasid)) else {
            return;
        };
        let Some(b) = st.bindings.get_mut(&h) else {
            return;
        };
        b.devices.remove(&rid);
        if b.devices.is_empty() {
            self.flush_pending(st);
            if let Some(b) = st.bindings.remove(&h) {
                st.by_key.remove(&(b.gpasid, b.stage));
                let data = b.stage.bind_data(h, b.gpasid_val.then_some(b.gpasid));
                let _ = self.vm.unbind_gpasid(data.as_bytes());
                self.vm.free_pasids(h, h);
                st.stats.unbinds += 1;
                st.unflushed = true;
                // Requests of the PASID awaiting a response were answered by the host on
                // the unbind: forget them.
                st.outstanding
                    .retain(|o| !(o.gpasid == b.gpasid && o.rid == rid));
            }
        }
    }

    fn unbind_all(&self, st: &mut State) {
        let entries: Vec<(u16, u32)> = st.entries.keys().copied().collect();
        for (rid, g) in entries {
            self.detach_entry(st, rid, g);
        }
    }

    // ---- page requests -------------------------------------------------------------

    /// Moves the page requests vsva-viommu holds for the VM into the guest's page request
    /// queue, raising the page request event; returns how many descriptors were written.
    /// The VMM calls it when the backend has reported page requests (after
    /// `IommufdBackend::poll_faults`, or a software model's injection). A request the
    /// guest cannot take (page requests not offered or not enabled for the device, no
    /// PASID, the queue full or overflowed, the queue outside guest memory) is answered
    /// `INVALID` at once, so no device is left waiting.
    pub fn deliver_page_requests(&self) -> usize {
        let mut st = self.lock();
        self.deliver_locked(&mut st)
    }

    fn refuse_request(
        &self,
        st: &mut State,
        device: DeviceId,
        vm_pasid: Option<u32>,
        grpid: u32,
        last: bool,
    ) {
        st.stats.page_requests_refused += 1;
        if !last {
            return;
        }
        let r = PgrpRespDesc {
            type_lo: 9,
            pp: vm_pasid.is_some(),
            rc: vsva_uapi::hw::vtd::ResponseCode::InvalidRequest.raw(),
            prgi: (grpid & 0x1ff) as u16,
            ..PgrpRespDesc::default()
        };
        let mut resp = mapping::page_response(&r, vm_pasid);
        resp.grpid = grpid;
        let _ = self.vm.page_response(device, resp.as_bytes());
    }

    fn deliver_locked(&self, st: &mut State) -> usize {
        let mut written = 0;
        while let Some(p) = self.vm.next_page_request() {
            let req = p.request;
            let rid = st.rids.get(&req.device).copied();
            let binding = req
                .pasid
                .and_then(|h| st.bindings.get(&h))
                .map(|b| b.gpasid);
            let (Some(rid), Some(gpasid)) = (rid, binding) else {
                self.refuse_request(st, req.device, p.guest_pasid, req.grpid, req.last_page);
                continue;
            };
            if !self.offer.ecap.prs || !self.translating(st) {
                self.refuse_request(st, req.device, p.guest_pasid, req.grpid, req.last_page);
                continue;
            }
            match self.context(st, rid) {
                Some(ce) if ce.pre => {}
                Some(ce) => {
                    if !ce.fpd {
                        let read = req.perm.contains(vsva_uapi::consts::FaultPerm::READ);
                        self.record_fault(
                            st,
                            rid,
                            Some(gpasid),
                            req.addr,
                            FaultReason::PreClear,
                            read,
                        );
                    }
                    self.refuse_request(st, req.device, p.guest_pasid, req.grpid, req.last_page);
                    continue;
                }
                None => {
                    self.refuse_request(st, req.device, p.guest_pasid, req.grpid, req.last_page);
                    continue;
                }
            }
            if !self.write_request(st, rid, gpasid, &req) {
                self.refuse_request(st, req.device, p.guest_pasid, req.grpid, req.last_page);
                continue;
            }
            written += 1;
            if req.last_page {
                if st.outstanding.len() >= self.config.max_outstanding.max(1) {
                    st.outstanding.pop_front();
                }
                st.outstanding.push_back(Outstanding {
                    rid,
                    gpasid,
                    prgi: (req.grpid & 0x1ff) as u16,
                    device: req.device,
                    vm_pasid: p.guest_pasid,
                });
            }
        }
        written
    }

    /// Writes one descriptor at PQT: `false` if the queue overflowed (PRO set, the event
    /// raised), was already overflowed, or is outside guest memory.
    fn write_request(
        &self,
        st: &mut State,
        rid: u16,
        gpasid: u32,
        req: &vsva_viommu::PageRequest,
    ) -> bool {
        if st.prs.contains(PrsFlags::PRO) {
            return false;
        }
        let pqa = Pqa::decode_raw(st.pqa);
        let size = pqa.entries() * 32;
        let tail = st.pqt % size;
        let head = st.pqh % size;
        let gate = !st.prs.intersects(PrsFlags::PPR | PrsFlags::PRO);
        if (tail + 32) % size == head {
            st.prs.insert(PrsFlags::PRO);
            if gate {
                self.raise(st, VtdEvent::PageRequest);
            }
            return false;
        }
        let desc = mapping::page_request_desc(
            rid,
            Some(gpasid),
            req.grpid,
            req.perm,
            req.addr,
            req.last_page,
        );
        // A queue that wraps past the end of the address space is outside guest memory.
        let Some(addr) = pqa.pqa.checked_add(u64::from(tail)) else {
            return false;
        };
        if self
            .mem
            .write_slice(&desc.to_le_bytes(), GuestAddress(addr))
            .is_err()
        {
            return false;
        }
        st.pqt = (tail + 32) % size;
        st.stats.page_requests += 1;
        if !st.prs.contains(PrsFlags::PPR) {
            st.prs.insert(PrsFlags::PPR);
            if gate {
                self.raise(st, VtdEvent::PageRequest);
            }
        }
        true
    }

    fn page_group_response(&self, st: &mut State, r: &PgrpRespDesc) {
        let i = st
            .outstanding
            .iter()
            .position(|o| o.rid == r.rid && o.prgi == r.prgi && o.gpasid == r.pasid);
        let Some(o) = i.and_then(|i| st.outstanding.remove(i)) else {
            st.stats.responses_unmatched += 1;
            return;
        };
        let resp = mapping::page_response(r, o.vm_pasid);
        match self.vm.page_response(o.device, resp.as_bytes()) {
            Ok(()) => st.stats.responses += 1,
            Err(_) => st.stats.responses_unmatched += 1,
        }
    }
}

fn iva_offset() -> u32 {
    u32::from(IRO) * 16
}

impl<B: Backend, M: GuestMemory + Send + Sync, I: MsiSink> MmioHandler for VtdUnit<B, M, I> {
    fn mmio_read(&self, offset: u64, data: &mut [u8]) {
        data.fill(0);
        let mut st = self.lock();
        st.stats.mmio_reads += 1;
        let len = data.len() as u64;
        if !matches!(len, 1 | 2 | 4 | 8) || offset.checked_add(len).is_none_or(|e| e > MMIO_SIZE) {
            return;
        }
        // Reads have no side effects: assemble the bytes from the dwords they cover.
        let first = offset & !3;
        let mut buf = [0u8; 12];
        for (k, chunk) in buf.chunks_exact_mut(4).enumerate() {
            let off = first + 4 * k as u64;
            if off < MMIO_SIZE {
                chunk.copy_from_slice(&self.read_dword(&st, off as u32).to_le_bytes());
            }
        }
        let start = (offset - first) as usize;
        data.copy_from_slice(&buf[start..start + data.len()]);
    }

    fn mmio_write(&self, offset: u64, data: &[u8]) {
        let mut st = self.lock();
        st.stats.mmio_writes += 1;
        let dword = |b: &[u8]| u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        match data.len() {
            4 if offset.is_multiple_of(4) && offset < MMIO_SIZE => {
                self.write_dword(&mut st, offset as u32, dword(data));
            }
            8 if offset.is_multiple_of(8) && offset < MMIO_SIZE => {
                // A 64-bit write is its low dword, then its high dword.
                self.write_dword(&mut st, offset as u32, dword(&data[..4]));
                self.write_dword(&mut st, offset as u32 + 4, dword(&data[4..]));
            }
            _ => st.stats.bad_accesses += 1,
        }
    }
}

impl<B: Backend, M: GuestMemory, I: MsiSink> Drop for VtdUnit<B, M, I> {
    fn drop(&mut self) {
        // The guest's binds end with the unit (the VM may outlive it).
        let st = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        let mut st = std::mem::replace(
            st,
            State {
                frcd: Vec::new(),
                ..empty_state()
            },
        );
        let entries: Vec<(u16, u32)> = st.entries.keys().copied().collect();
        for (rid, g) in entries {
            self.detach_entry(&mut st, rid, g);
        }
        self.sync_point(&mut st);
    }
}

fn empty_state() -> State {
    State {
        gsts: GstsFlags::empty(),
        rtaddr: 0,
        root: None,
        fsts: FstsFlags::empty(),
        fault_ev: EventRegs::RESET,
        iqh: 0,
        iqt: 0,
        iqa: 0,
        iq: None,
        ics: false,
        inv_ev: EventRegs::RESET,
        iqercd: Iqercd::default(),
        pqh: 0,
        pqt: 0,
        pqa: 0,
        prs: PrsFlags::empty(),
        prq_ev: EventRegs::RESET,
        iva: 0,
        iotlb: 0,
        ccmd: 0,
        frcd: Vec::new(),
        next_record: 0,
        fri: 0,
        devices: BTreeMap::new(),
        rids: HashMap::new(),
        bindings: BTreeMap::new(),
        by_key: HashMap::new(),
        entries: BTreeMap::new(),
        pending: Vec::new(),
        unflushed: false,
        outstanding: VecDeque::new(),
        stats: VtdStats::default(),
    }
}
