//! The HWPT steps of a bind or a table change, each undone by an [`Undo`] guard on failure.

use vsva_uapi::Errno;
use vsva_vfio::iommufd::{HwptAllocRequest, HwptData, HwptId};

use super::backend::{lock, DeviceEntry, DeviceObjects, IommufdBackend, VmEntry};
use super::config::IommufdDevice;
use super::format::StageOneFormat;
use crate::backend::{DeviceId, GpasidBind, HostPasid};

/// One step of a change to a VM's iommufd objects, as an [`Undo`] reverts it.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// A HWPT allocated and not yet recorded anywhere: destroyed.
    Hwpt(HwptId),
    /// The device's nest parent, allocated by this change: destroyed and forgotten.
    Parent(DeviceId),
    /// The device's host PASID attached to a nested HWPT: detached, the HWPT destroyed.
    Pasid(DeviceId, HostPasid),
    /// The device's RID moved onto a new table HWPT from `old` (`None`: its IOAS): moved
    /// back, the new HWPT destroyed, `old` its table again.
    Table(DeviceId, Option<HwptId>),
    /// The device entered the VM's entry with this change: removed.
    Device(DeviceId),
}

/// The steps of one change to a VM's objects (a bind, a table change, a device's
/// registration), undone in reverse when the guard is dropped unless
/// [`commit`](Undo::commit)ted: a change that fails at any step leaves no trace.
pub(super) struct Undo<'a, F: StageOneFormat> {
    backend: &'a IommufdBackend<F>,
    /// The VM's state the change applies to.
    pub(super) st: &'a mut VmEntry,
    steps: Vec<Step>,
}

impl<'a, F: StageOneFormat> Undo<'a, F> {
    /// A change to `st` with no step yet.
    pub(super) fn new(backend: &'a IommufdBackend<F>, st: &'a mut VmEntry) -> Undo<'a, F> {
        Undo {
            backend,
            st,
            steps: Vec::new(),
        }
    }

    /// Keeps every step.
    pub(super) fn commit(mut self) {
        self.steps.clear();
    }
}

impl<F: StageOneFormat> Drop for Undo<'_, F> {
    fn drop(&mut self) {
        while let Some(step) = self.steps.pop() {
            self.backend.undo(self.st, step);
        }
    }
}

impl<F: StageOneFormat> IommufdBackend<F> {
    fn alloc(&self, req: HwptAllocRequest) -> Result<HwptId, Errno> {
        let req = if self.config.alloc_pasid_flag {
            req.pasid()
        } else {
            req
        };
        let id = self.iommufd.hwpt_alloc(&req).map_err(|e| e.errno())?;
        lock(&self.stats).hwpts_allocated += 1;
        Ok(id)
    }

    pub(super) fn destroy(&self, id: HwptId) {
        match self.iommufd.destroy(id) {
            Ok(()) => lock(&self.stats).hwpts_destroyed += 1,
            Err(e) => self.teardown_error("destroy", id.0, &e),
        }
    }

    /// Reverts one step of a failed change.
    fn undo(&self, st: &mut VmEntry, step: Step) {
        let device = match step {
            Step::Hwpt(h) => return self.destroy(h),
            Step::Parent(id) | Step::Pasid(id, _) | Step::Table(id, _) | Step::Device(id) => id,
        };
        if let Step::Device(_) = step {
            if let Some(mut d) = st.devices.remove(&device) {
                self.uninstall_all(&mut d);
            }
            return;
        }
        let Some(d) = st.devices.get_mut(&device) else {
            return;
        };
        match step {
            Step::Parent(_) => {
                if let Some(p) = d.objects.parent.take() {
                    self.destroy(p);
                }
            }
            Step::Pasid(_, hpasid) => self.uninstall_pasid(d, hpasid),
            Step::Table(_, old) => {
                let new = d.objects.table.take();
                let back = old.map_or(d.dev.ioas.0, |h| h.0);
                if let Err(e) = d.dev.attach.attach_rid(back) {
                    self.teardown_error("attach_rid", back, &e);
                }
                if let Some(n) = new {
                    self.destroy(n);
                }
                d.objects.table = old;
            }
            Step::Hwpt(_) | Step::Device(_) => {}
        }
    }

    /// The device's nest parent and a nested HWPT on it with `data`, both recorded as
    /// steps of `undo` (the parent only if allocated now).
    fn alloc_nested(
        &self,
        undo: &mut Undo<'_, F>,
        device: DeviceId,
        data: &HwptData,
    ) -> Result<HwptId, Errno> {
        let Some(d) = undo.st.devices.get_mut(&device) else {
            return Err(Errno::ENODEV);
        };
        let parent = match d.objects.parent {
            Some(p) => p,
            None => {
                let p =
                    self.alloc(HwptAllocRequest::new(d.dev.dev_id, d.dev.ioas).nest_parent())?;
                d.objects.parent = Some(p);
                undo.steps.push(Step::Parent(device));
                p
            }
        };
        let mut req = HwptAllocRequest::new(d.dev.dev_id, parent).data(data.clone());
        if let Some(q) = &self.fault {
            req = req.fault(q.id);
        }
        let nested = self.alloc(req)?;
        undo.steps.push(Step::Hwpt(nested));
        Ok(nested)
    }

    /// Parent (if needed), nested HWPT, PASID attach, as steps of `undo`.
    pub(super) fn install_pasid(
        &self,
        undo: &mut Undo<'_, F>,
        device: DeviceId,
        hpasid: HostPasid,
        data: &HwptData,
    ) -> Result<(), Errno> {
        let nested = self.alloc_nested(undo, device, data)?;
        let Some(d) = undo.st.devices.get_mut(&device) else {
            return Err(Errno::ENODEV);
        };
        d.dev
            .attach
            .attach_pasid(hpasid, nested)
            .map_err(|e| e.errno())?;
        d.objects.nested.insert(hpasid, nested);
        undo.steps.pop();
        undo.steps.push(Step::Pasid(device, hpasid));
        Ok(())
    }

    pub(super) fn uninstall_pasid(&self, d: &mut DeviceEntry, hpasid: HostPasid) {
        let Some(nested) = d.objects.nested.remove(&hpasid) else {
            return;
        };
        let parent = d.objects.parent.unwrap_or(nested);
        if let Err(e) = d.dev.attach.detach_pasid(hpasid, parent) {
            self.teardown_error("detach_pasid", hpasid.0, &e);
        }
        self.destroy(nested);
    }

    /// Parent (if needed), nested HWPT with the table, RID moved onto it, as steps of
    /// `undo`. The old table HWPT (if any) is the caller's to destroy once the change is
    /// committed: until then the undo moves the RID back onto it.
    pub(super) fn install_table(
        &self,
        undo: &mut Undo<'_, F>,
        device: DeviceId,
        data: &HwptData,
    ) -> Result<(), Errno> {
        let nested = self.alloc_nested(undo, device, data)?;
        let Some(d) = undo.st.devices.get_mut(&device) else {
            return Err(Errno::ENODEV);
        };
        d.dev.attach.attach_rid(nested.0).map_err(|e| e.errno())?;
        let old = d.objects.table.replace(nested);
        undo.steps.pop();
        undo.steps.push(Step::Table(device, old));
        Ok(())
    }

    pub(super) fn uninstall_table(&self, d: &mut DeviceEntry) {
        let Some(table) = d.objects.table.take() else {
            return;
        };
        if let Err(e) = d.dev.attach.attach_rid(d.dev.ioas.0) {
            self.teardown_error("attach_rid", d.dev.ioas.0, &e);
        }
        self.destroy(table);
    }

    pub(super) fn uninstall_all(&self, d: &mut DeviceEntry) {
        let pasids: Vec<HostPasid> = d.objects.nested.keys().copied().collect();
        for p in pasids {
            self.uninstall_pasid(d, p);
        }
        self.uninstall_table(d);
        if let Some(p) = d.objects.parent.take() {
            self.destroy(p);
        }
    }

    /// Enters `device` into `st` with the VM's current binds and PASID table installed on
    /// it, all or nothing.
    pub(super) fn install_device(
        &self,
        st: &mut VmEntry,
        device: DeviceId,
        dev: IommufdDevice,
    ) -> Result<(), Errno> {
        let binds: Vec<GpasidBind> = st.binds.values().copied().collect();
        let table = st.table;
        let fits = binds.iter().all(|b| dev.pasid_fits(u64::from(b.hpasid)));
        let entry = DeviceEntry {
            dev,
            objects: DeviceObjects::default(),
        };
        st.devices.insert(device, entry);
        let mut undo = Undo::new(self, st);
        undo.steps.push(Step::Device(device));
        if !fits {
            return Err(Errno::EINVAL);
        }
        for bind in &binds {
            let data = self.format.gpasid_data(bind)?;
            self.install_pasid(&mut undo, device, bind.hpasid, &data)?;
        }
        if let Some(table) = table {
            let data = self.format.pasid_table_data(&table)?;
            self.install_table(&mut undo, device, &data)?;
        }
        undo.commit();
        Ok(())
    }
}
