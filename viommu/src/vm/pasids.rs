//! A VM's PASIDs: allocation from the host's system-wide space, and free.

use vsva_uapi::consts::NestingFeatures;

use crate::backend::{Backend, GuestPasid, HostPasid};
use crate::error::{Result, ViommuError};

use super::*;

impl<B: Backend> Vm<B> {
    // ---- PASIDs --------------------------------------------------------------------

    /// Allocates a host PASID in `[min, max]` (clamped to `1 ..= 2^host_bits − 1`) for
    /// the VM, at a random place in the system-wide space (`VFIO_IOMMU_PASID_REQUEST`
    /// with `ALLOC`). Never a guest PASID of one of the VM's binds: each PASID the
    /// guest sees names one host PASID (see [`ViommuError::GpasidInUse`]).
    ///
    /// # Errors
    /// [`ViommuError::PasidQuota`], [`ViommuError::PasidSpaceExhausted`] (`ENOSPC`, also
    /// when the range's only free PASIDs are guest PASIDs of the VM's binds);
    /// [`ViommuError::Unsupported`] without PASID support.
    pub fn alloc_pasid(&self, min: u32, max: u32) -> Result<HostPasid> {
        self.require(NestingFeatures::SYSWIDE_PASID, "PASID allocation")?;
        let (lo, hi) = (min.max(1), max.min(self.host_iommu().max_pasid()));
        let mut st = self.lock();
        if st.view.pasids.len() >= self.vm.config.max_pasids {
            return Err(ViommuError::PasidQuota {
                quota: self.vm.config.max_pasids,
            });
        }
        if lo > hi {
            return Err(ViommuError::PasidSpaceExhausted { min: lo, max: hi });
        }
        // A host PASID that is a guest PASID of the VM's binds would name two PASIDs
        // in the guest's eyes: it is held aside (at most one per bind) and freed again.
        let mut aside = Vec::new();
        let found = loop {
            let start = match random_start(lo, hi) {
                Ok(s) => s,
                Err(e) => break Err(e),
            };
            match self.host.pasids.alloc(lo, hi, start) {
                Some(p) if st.gpasids.contains_key(&GuestPasid(p)) => aside.push(p),
                Some(p) => break Ok(p),
                None => break Err(ViommuError::PasidSpaceExhausted { min: lo, max: hi }),
            }
        };
        for p in aside {
            self.host.pasids.free(p);
        }
        let pasid = HostPasid(found?);
        st.view.pasids.insert(pasid);
        Ok(pasid)
    }

    /// Frees every PASID the VM owns in `[min, max]` (`VFIO_IOMMU_PASID_REQUEST` with
    /// `FREE`); a bound one is unbound first. PASIDs of other VMs and unallocated ones
    /// are left alone. Cannot fail; repeating it does nothing.
    pub fn free_pasids(&self, min: HostPasid, max: HostPasid) {
        if min > max {
            return;
        }
        let mut st = self.lock();
        let doomed: Vec<HostPasid> = st.view.pasids.range(min..=max).copied().collect();
        for p in doomed {
            self.unbind_locked(&mut st, p);
            st.view.pasids.remove(&p);
            self.host.pasids.free(p.0);
        }
    }
}
