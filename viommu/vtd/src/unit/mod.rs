//! The remapping unit: its register file, the invalidation queue, the page request
//! queue, fault recording, and the guest's translation structures turned into
//! vsva-viommu binds.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use vm_memory::GuestMemory;
use vsva_uapi::hw::vtd::{
    EventControlFlags, FaultRecord, FstsFlags, GstsFlags, Iqercd, PrsFlags, Rtaddr,
};
use vsva_uapi::CacheInvalidateInfo;
use vsva_viommu::{Backend, DeviceId, GuestPasid, HostPasid, Vm};

use crate::caps::{Offer, IRO};
use crate::error::VtdError;
use crate::mapping::FirstStage;

mod binds;
mod interrupts;
mod mmio;
mod page_requests;
mod queue;

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
    pub fn bindings(&self) -> Vec<(HostPasid, GuestPasid, Vec<u16>)> {
        self.lock()
            .bindings
            .iter()
            .map(|(h, b)| {
                (
                    HostPasid(*h),
                    GuestPasid(b.gpasid),
                    b.devices.iter().copied().collect(),
                )
            })
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
