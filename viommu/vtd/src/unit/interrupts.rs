//! The unit's interrupts: fault events, invalidation completion and page request events.

use vm_memory::GuestMemory;
use vsva_uapi::hw::vtd::{FaultReason, FaultRecord, FstsFlags, Iqei, Iqercd};

use vsva_viommu::Backend;

use super::*;

impl<B: Backend, M: GuestMemory, I: MsiSink> VtdUnit<B, M, I> {
    // ---- interrupts ----------------------------------------------------------------

    pub(super) fn regs_of(st: &mut State, e: VtdEvent) -> &mut EventRegs {
        match e {
            VtdEvent::Fault => &mut st.fault_ev,
            VtdEvent::InvalidationComplete => &mut st.inv_ev,
            VtdEvent::PageRequest => &mut st.prq_ev,
        }
    }

    pub(super) fn send(&self, st: &mut State, e: VtdEvent) {
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

    pub(super) fn raise(&self, st: &mut State, e: VtdEvent) {
        let r = Self::regs_of(st, e);
        r.ip = true;
        if !r.im {
            r.ip = false;
            self.send(st, e);
        }
    }

    pub(super) fn unmasked(&self, st: &mut State, e: VtdEvent) {
        let r = Self::regs_of(st, e);
        if !r.im && r.ip {
            r.ip = false;
            self.send(st, e);
        }
    }

    /// The fault event is raised only when FSTS had no PPF, PFO or IQE before.
    pub(super) fn fault_event_gate(&self, st: &State) -> bool {
        let f = FstsFlags::from_bits_truncate(u64::from(self.fsts_value(st)));
        !f.intersects(FstsFlags::PPF | FstsFlags::PFO | FstsFlags::IQE)
    }

    pub(super) fn fault_status_cleared(&self, st: &mut State) {
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

    pub(super) fn record_fault(
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

    pub(super) fn queue_error(&self, st: &mut State, iqei: Iqei) {
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
}
