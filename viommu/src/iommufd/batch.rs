//! Invalidation batches: queued per VM and HWPT set, flushed as one entry array.

use std::collections::BTreeSet;
use std::sync::PoisonError;

use vsva_vfio::iommufd::HwptId;

use super::backend::{lock, IommufdBackend, VmEntry};
use super::config::Diagnostic;
use super::format::StageOneFormat;
use crate::backend::{InvalidationScope, VmId};

impl<F: StageOneFormat> IommufdBackend<F> {
    /// Sends every queued invalidation of `vm` now. Call it at the guest's
    /// synchronisation point (see the [module documentation](crate::iommufd)).
    pub fn flush(&self, vm: VmId) {
        if let Some(entry) = self.vm_entry(vm) {
            let mut st = lock(&entry);
            self.flush_locked(vm, &mut st);
        }
    }

    /// [`IommufdBackend::flush`](crate::iommufd::IommufdBackend::flush) for every VM.
    pub fn flush_all(&self) {
        let vms: Vec<VmId> = self
            .vms
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .copied()
            .collect();
        for vm in vms {
            self.flush(vm);
        }
    }

    pub(super) fn flush_locked(&self, vm: VmId, st: &mut VmEntry) {
        let Some(ty) = self.format.invalidation_type() else {
            st.pending.clear();
            return;
        };
        for batch in std::mem::take(&mut st.pending) {
            let r = self.iommufd.hwpt_invalidate_entries(
                batch.hwpt,
                ty.data_type,
                ty.entry_len,
                &batch.entries,
            );
            let mut stats = lock(&self.stats);
            stats.invalidate_calls += 1;
            stats.entries_sent += batch.count as u64;
            match r {
                Ok(n) => stats.entries_handled += n as u64,
                Err((handled, e)) => {
                    stats.entries_handled += handled as u64;
                    stats.invalidate_failures += 1;
                    drop(stats);
                    self.diagnose(Diagnostic::InvalidateFailed {
                        vm,
                        hwpt: batch.hwpt,
                        sent: batch.count,
                        handled,
                        errno: e.errno(),
                    });
                }
            }
        }
    }

    /// The nested HWPTs an invalidation of `scope` names in `st`.
    pub(super) fn targets(st: &VmEntry, scope: &InvalidationScope) -> Vec<HwptId> {
        let pasid = match scope {
            InvalidationScope::Domain => None,
            InvalidationScope::Pasid { pasid, .. } | InvalidationScope::Addr { pasid, .. } => {
                *pasid
            }
        };
        let mut out = BTreeSet::new();
        for d in st.devices.values() {
            match pasid {
                Some(p) => out.extend(d.objects.nested.get(&p)),
                None => out.extend(d.objects.nested.values()),
            }
            // A guest PASID table covers every substream id.
            out.extend(d.objects.table);
        }
        out.into_iter().collect()
    }
}
