//! The MMIO register file: reads and writes, the global command and context command.

use vm_memory::GuestMemory;
use vsva_uapi::hw::vtd::{
    offset, Ccmd, EventControlFlags, FaultReason, FaultRecord, FstsFlags, GcmdFlags, GstsFlags,
    IotlbReg, Iqa, Iqei, PrsFlags, Rtaddr, TTM_SCALABLE,
};

use vsva_viommu::Backend;

use crate::caps::{FRO, VERSION};

use super::*;

impl<B: Backend, M: GuestMemory, I: MsiSink> VtdUnit<B, M, I> {
    // ---- MMIO ----------------------------------------------------------------------

    pub(super) fn read_dword(&self, st: &State, off: u32) -> u32 {
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

    pub(super) fn fsts_value(&self, st: &State) -> u32 {
        let mut f = st.fsts;
        f.set(FstsFlags::PPF, st.frcd.iter().any(|r| r.f));
        (f.bits() as u32) | (u32::from(st.fri) << 8)
    }

    pub(super) fn write_dword(&self, st: &mut State, off: u32, v: u32) {
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

    pub(super) fn gcmd(&self, st: &mut State, v: u32) {
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

    pub(super) fn ccmd(&self, st: &mut State) {
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
}
