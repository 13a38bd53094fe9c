//! The translation structures: context and PASID entries turned into the VM's binds.

use std::collections::BTreeSet;

use vm_memory::GuestMemory;
use vsva_uapi::hw::vtd::{ContextEntry, FaultReason, GstsFlags, PcInvDesc, TTM_SCALABLE};

use vsva_viommu::{Backend, HostPasid};
use zerocopy::IntoBytes;

use crate::mapping::FirstStage;
use crate::tables::{self, Absent};

use super::*;

impl<B: Backend, M: GuestMemory, I: MsiSink> VtdUnit<B, M, I> {
    // ---- translation structures → binds ------------------------------------------

    pub(super) fn translating(&self, st: &State) -> bool {
        st.gsts.contains(GstsFlags::TES) && st.root.is_some_and(|r| r.ttm == TTM_SCALABLE)
    }

    pub(super) fn root(&self, st: &State) -> u64 {
        st.root.map_or(0, |r| r.rta)
    }

    pub(super) fn context(&self, st: &mut State, rid: u16) -> Option<ContextEntry> {
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
    pub(super) fn sync_entry(
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
    pub(super) fn sync_device(
        &self,
        st: &mut State,
        rid: u16,
        did: Option<u16>,
        budget: &mut usize,
    ) {
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

    pub(super) fn sync_all(&self, st: &mut State) {
        let rids: Vec<u16> = st.devices.keys().copied().collect();
        let mut budget = self.config.max_scan_tables;
        for rid in rids {
            self.sync_device(st, rid, None, &mut budget);
        }
    }

    pub(super) fn context_invalidation(&self, st: &mut State, g: u8, sid: u16, fm: u8) {
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

    pub(super) fn pasid_cache(&self, st: &mut State, p: &PcInvDesc) {
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

    pub(super) fn attach_entry(&self, st: &mut State, rid: u16, gpasid: u32, stage: FirstStage) {
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
        let Ok(h) = self.vm.alloc_pasid(1, u32::MAX).map(|p| p.raw_value()) else {
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
            self.vm.free_pasids(HostPasid(h), HostPasid(h));
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

    pub(super) fn detach_entry(&self, st: &mut State, rid: u16, gpasid: u32) {
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
                self.vm.free_pasids(HostPasid(h), HostPasid(h));
                st.stats.unbinds += 1;
                st.unflushed = true;
                // Requests of the PASID awaiting a response were answered by the host on
                // the unbind: forget them.
                st.outstanding
                    .retain(|o| !(o.gpasid == b.gpasid && o.rid == rid));
            }
        }
    }

    pub(super) fn unbind_all(&self, st: &mut State) {
        let entries: Vec<(u16, u32)> = st.entries.keys().copied().collect();
        for (rid, g) in entries {
            self.detach_entry(st, rid, g);
        }
    }
}
