//! The invalidation queue: descriptors fetched from guest memory and carried out.

use vm_memory::{Bytes, GuestAddress, GuestMemory};
use vsva_uapi::hw::vtd::{
    DescCheck, DescError, FstsFlags, GstsFlags, InvDesc, Iqei, PiotlbInvDesc,
};

use vsva_viommu::Backend;
use zerocopy::IntoBytes;

use crate::mapping::{self};
use crate::tables::{self};

use super::*;

impl<B: Backend, M: GuestMemory, I: MsiSink> VtdUnit<B, M, I> {
    // ---- the invalidation queue ----------------------------------------------------

    pub(super) fn run_queue(&self, st: &mut State) {
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

    pub(super) fn fail_at(&self, st: &mut State, head: u32, shift: u32, iqei: Iqei) {
        // Everything before the faulting descriptor has taken effect; IQH names it.
        self.sync_point(st);
        st.iqh = head << shift;
        self.queue_error(st, iqei);
    }

    /// Runs one descriptor; `false` when it failed in a way the queue reports (a wait's
    /// status write outside guest memory).
    pub(super) fn execute(&self, st: &mut State, d: &InvDesc) -> bool {
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

    pub(super) fn piotlb(&self, st: &mut State, p: &PiotlbInvDesc) {
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
    pub(super) fn flush_pending(&self, st: &mut State) {
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
    pub(super) fn sync_point(&self, st: &mut State) {
        self.flush_pending(st);
        if st.unflushed {
            self.vm.flush();
            st.stats.flushes += 1;
            st.unflushed = false;
        }
    }
}
