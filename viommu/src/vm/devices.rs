//! A VM's devices: attach and detach.

use std::sync::{Arc, Weak};
use vsva_uapi::consts::PageResponseCode;

use crate::backend::{Backend, DeviceId};
use crate::error::{Result, ViommuError};

use super::*;

impl<B: Backend> Vm<B> {
    // ---- devices -------------------------------------------------------------------

    /// Attaches a device to the VM: its page requests are routed here from now on.
    /// Attaching a device the VM already holds does nothing.
    ///
    /// # Errors
    /// [`ViommuError::DeviceBusy`] when another VM holds it.
    pub fn attach_device(&self, device: DeviceId) -> Result<()> {
        let mut devices = self.host.devices_mut();
        if let Some(other) = devices.get(&device).and_then(Weak::upgrade) {
            if !Arc::ptr_eq(&other, &self.vm) && !other.lock().dead {
                return Err(ViommuError::DeviceBusy { device: device.0 });
            }
        }
        devices.insert(device, Arc::downgrade(&self.vm));
        self.lock().view.devices.insert(device);
        Ok(())
    }

    /// Detaches a device; its queued requests that await a response are answered
    /// `FAILURE`. Detaching a device the VM does not hold does nothing.
    pub fn detach_device(&self, device: DeviceId) {
        let mut devices = self.host.devices_mut();
        let mut st = self.lock();
        if !st.view.devices.remove(&device) {
            return;
        }
        devices.remove(&device);
        self.fail_faults(&mut st, |f| f.request.device == device);
    }

    pub(super) fn fail_faults(&self, st: &mut VmState, which: impl Fn(&PendingFault) -> bool) {
        let backend = &self.host.backend;
        let id = self.vm.id;
        let stats = &mut st.view.stats;
        let mut fail = |f: &PendingFault| {
            if !which(f) {
                return true;
            }
            if f.request.last_page {
                stats.faults_auto_failed += 1;
                backend.page_response(id, &response_to(&f.request, PageResponseCode::Failure));
            }
            false
        };
        st.awaiting.retain(|f| fail(f));
        st.unread.retain(|f| fail(f));
    }
}
