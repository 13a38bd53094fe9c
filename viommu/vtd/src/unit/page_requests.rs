//! Page requests: written into the guest's page request queue, answered by its page
//! group responses.

use vm_memory::{Bytes, GuestAddress, GuestMemory};
use vsva_uapi::hw::vtd::{FaultReason, PgrpRespDesc, Pqa, PrsFlags};

use vsva_viommu::{Backend, DeviceId};
use zerocopy::IntoBytes;

use crate::mapping::{self};

use super::*;

impl<B: Backend, M: GuestMemory, I: MsiSink> VtdUnit<B, M, I> {
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

    pub(super) fn refuse_request(
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

    pub(super) fn deliver_locked(&self, st: &mut State) -> usize {
        let mut written = 0;
        while let Some(p) = self.vm.next_page_request() {
            let req = p.request;
            let vm_pasid = p.guest_pasid.map(|g| g.raw_value());
            let rid = st.rids.get(&req.device).copied();
            let binding = req
                .pasid
                .and_then(|h| st.bindings.get(&h.raw_value()))
                .map(|b| b.gpasid);
            let (Some(rid), Some(gpasid)) = (rid, binding) else {
                self.refuse_request(st, req.device, vm_pasid, req.grpid, req.last_page);
                continue;
            };
            if !self.offer.ecap.prs || !self.translating(st) {
                self.refuse_request(st, req.device, vm_pasid, req.grpid, req.last_page);
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
                    self.refuse_request(st, req.device, vm_pasid, req.grpid, req.last_page);
                    continue;
                }
                None => {
                    self.refuse_request(st, req.device, vm_pasid, req.grpid, req.last_page);
                    continue;
                }
            }
            if !self.write_request(st, rid, gpasid, &req) {
                self.refuse_request(st, req.device, vm_pasid, req.grpid, req.last_page);
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
                    vm_pasid,
                });
            }
        }
        written
    }

    /// Writes one descriptor at PQT: `false` if the queue overflowed (PRO set, the event
    /// raised), was already overflowed, or is outside guest memory.
    pub(super) fn write_request(
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

    pub(super) fn page_group_response(&self, st: &mut State, r: &PgrpRespDesc) {
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
