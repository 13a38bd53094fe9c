//! Page requests: queued per VM, reported to the guest, answered by its responses.

use vsva_uapi::consts::{PageResponseCode, PageResponseFlags};
use vsva_uapi::{Fault, UapiStruct};

use crate::backend::{Backend, DeviceId, GuestPasid};
use crate::error::{Result, ViommuError};
use zerocopy::IntoBytes;

use super::*;

impl<B: Backend> Vm<B> {
    // ---- page requests -------------------------------------------------------------

    /// Sends the backend's queued work for this VM (batched invalidations) to the
    /// hardware: call it at the guest's synchronisation point (a VT-d invalidation wait
    /// descriptor, the end of an invalidation queue run), so that the guest proceeds only
    /// once everything it asked before has taken effect. Cannot fail.
    pub fn flush(&self) {
        let _st = self.lock();
        self.host.backend.flush(self.vm.id);
    }

    /// The oldest unread page request with the device it came from (what an emulated
    /// IOMMU needs to write its own page request descriptor; [`Vm::next_fault`] gives the
    /// `iommu_fault` record instead). Marks it read, exactly as `next_fault` does, so it is
    /// answered with [`Vm::page_response`].
    pub fn next_page_request(&self) -> Option<PendingFault> {
        Self::take_unread(&mut self.lock())
    }

    /// The oldest unread page request, as the `iommu_fault` record the VM reads (its
    /// PASID is the one the VM knows). Marks it read.
    pub fn next_fault(&self) -> Option<Fault> {
        Self::take_unread(&mut self.lock()).map(|f| fault_record(&f))
    }

    /// The oldest unread request, now read: O(1). The last of its group waits for its
    /// response; any other leaves the queue (nothing will answer it).
    pub(super) fn take_unread(st: &mut VmState) -> Option<PendingFault> {
        let mut f = st.unread.pop_front()?;
        f.read = true;
        if f.request.last_page {
            st.awaiting.push_back(f);
        }
        Some(f)
    }

    /// Copies unread page requests into `out` as whole 64-byte `iommu_fault` records,
    /// oldest first, and marks them read. Returns the bytes written (0 when none are
    /// unread or `out` holds less than one record).
    pub fn read_faults(&self, out: &mut [u8]) -> usize {
        let size = core::mem::size_of::<Fault>();
        let mut st = self.lock();
        let mut written = 0;
        while let Some(dst) = out.get_mut(written..written + size) {
            let Some(f) = Self::take_unread(&mut st) else {
                break;
            };
            dst.copy_from_slice(fault_record(&f).as_bytes());
            written += size;
        }
        written
    }

    /// Answers a page request the VM has read (`payload` is the untouched
    /// `iommu_page_response`, decoded under the VM's policy). It must match a pending
    /// request of `device` on the group id, and on the PASID when the request needs one
    /// (`IOMMU_FAULT_PAGE_RESPONSE_NEEDS_PASID`).
    ///
    /// # Errors
    /// A malformed payload; [`ViommuError::DeviceNotAttached`];
    /// [`ViommuError::NoPendingRequest`] (`EINVAL`). For a valid handle it cannot fail.
    pub fn page_response(&self, device: DeviceId, payload: &[u8]) -> Result<()> {
        // The device first, before the user memory is read (iommu_page_response finds
        // no fault handler for the device before copying anything): ENODEV.
        if !self.lock().view.devices.contains(&device) {
            return Err(ViommuError::DeviceNotAttached { device: device.0 });
        }
        let msg = vsva_uapi::PageResponse::from_user(payload, self.vm.config.policy)?;
        let code = PageResponseCode::from_raw(msg.code)
            .ok_or(ViommuError::NoPendingRequest { grpid: msg.grpid })?;
        let pasid_valid =
            PageResponseFlags::from_bits_retain(msg.flags).contains(PageResponseFlags::PASID_VALID);
        let mut st = self.lock();
        // Detached since the check above (another vCPU): still ENODEV.
        if !st.view.devices.contains(&device) {
            return Err(ViommuError::DeviceNotAttached { device: device.0 });
        }
        // Responses come oldest first in practice: the match is near the front.
        let i = st
            .awaiting
            .iter()
            .position(|f| {
                f.request.device == device
                    && f.request.grpid == msg.grpid
                    && (!f.request.needs_pasid
                        || (pasid_valid && f.guest_pasid == Some(GuestPasid(msg.pasid))))
            })
            .ok_or(ViommuError::NoPendingRequest { grpid: msg.grpid })?;
        let Some(f) = st.awaiting.remove(i) else {
            return Err(ViommuError::NoPendingRequest { grpid: msg.grpid });
        };
        self.host
            .backend
            .page_response(self.vm.id, &response_to(&f.request, code));
        Ok(())
    }

    pub(super) fn teardown(&self) {
        let mut devices = self.host.devices_mut();
        let mut st = self.lock();
        if st.dead {
            return;
        }
        self.fail_faults(&mut st, |_| true);
        for d in std::mem::take(&mut st.view.devices) {
            devices.remove(&d);
        }
        drop(devices);
        for p in std::mem::take(&mut st.view.pasids) {
            self.unbind_locked(&mut st, p);
            self.host.pasids.free(p.0);
        }
        if st.view.pasid_table.take().is_some() {
            self.host.backend.clear_pasid_table(self.vm.id);
        }
        st.dead = true;
    }
}
