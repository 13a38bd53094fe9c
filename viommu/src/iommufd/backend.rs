//! The [`IommufdBackend`](crate::iommufd::IommufdBackend): its state, its devices and the [`Backend`](crate::backend::Backend) operations.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use vsva_uapi::consts::PasidTableConfigKind;
use vsva_uapi::Errno;
use vsva_vfio::iommufd::{DevId, FaultQueue, HwptId, Iommufd};

use super::config::{Diagnostic, IommufdConfig, IommufdDevice, IommufdStats, DIAGNOSTICS_KEPT};
use super::format::StageOneFormat;
use super::hwpt::Undo;
use crate::backend::{
    Backend, DeviceId, GpasidBind, HostPageResponse, HostPasid, Invalidation, PasidTableBind, VmId,
};
use crate::host::HostIommu;

/// The iommufd objects one device holds for its VM.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceObjects {
    /// The nest parent (allocated at the device's first bind, kept until it is removed).
    pub parent: Option<HwptId>,
    /// Nested HWPTs by host PASID (VT-d binds).
    pub nested: BTreeMap<HostPasid, HwptId>,
    /// The nested HWPT of the guest PASID table (SMMUv3).
    pub table: Option<HwptId>,
}

#[derive(Debug)]
pub(super) struct DeviceEntry {
    pub(super) dev: IommufdDevice,
    pub(super) objects: DeviceObjects,
}

/// One batch of invalidation entries for one HWPT.
#[derive(Debug)]
pub(super) struct Batch {
    pub(super) hwpt: HwptId,
    pub(super) entries: Vec<u8>,
    pub(super) count: usize,
}

#[derive(Debug, Default)]
pub(super) struct VmEntry {
    pub(super) devices: BTreeMap<DeviceId, DeviceEntry>,
    pub(super) binds: BTreeMap<HostPasid, GpasidBind>,
    pub(super) table: Option<PasidTableBind>,
    pub(super) pending: Vec<Batch>,
}

#[derive(Debug, Default)]
pub(super) struct Routes {
    pub(super) by_dev_id: HashMap<DevId, DeviceId>,
    pub(super) vm_of: HashMap<DeviceId, VmId>,
}

/// What an outstanding cookie was issued for: the device and the host PASID (what a
/// detach or unbind answers in the kernel).
pub(super) type CookieOwner = (DeviceId, Option<HostPasid>);

pub(super) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every update is committed after its fallible steps: a poisoned lock is coherent.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The iommufd [`Backend`](crate::backend::Backend) (see the [module documentation](crate::iommufd) for the mapping and an
/// example). `F` is the stage-1 payload.
pub struct IommufdBackend<F: StageOneFormat> {
    pub(super) iommufd: Arc<Iommufd>,
    pub(super) host: HostIommu,
    pub(super) format: F,
    pub(super) config: IommufdConfig,
    pub(super) fault: Option<FaultQueue>,
    pub(super) vms: RwLock<HashMap<VmId, Arc<Mutex<VmEntry>>>>,
    pub(super) routes: RwLock<Routes>,
    /// The kernel's cookies of the outstanding groups: a response finds its own by the
    /// [`PageRequest::id`] it carries, never by (device, group, PASID), which two
    /// outstanding groups may share.
    pub(super) cookies: Mutex<HashMap<u32, CookieOwner>>,
    pub(super) stats: Mutex<IommufdStats>,
    pub(super) diagnostics: Mutex<VecDeque<Diagnostic>>,
}

impl<F: StageOneFormat> fmt::Debug for IommufdBackend<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IommufdBackend")
            .field("host", &self.host)
            .field("format", &self.format)
            .field("config", &self.config)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl<F: StageOneFormat> IommufdBackend<F> {
    /// A backend on `iommufd` for a host IOMMU described by `host` (from [`probe_host`](crate::iommufd::probe_host),
    /// or given: the kernel tier's mock IOMMU has no VT-d registers), with stage-1
    /// payloads in `format`. Allocates the fault queue if `config.page_requests`.
    ///
    /// # Errors
    /// `IOMMU_FAULT_QUEUE_ALLOC`'s error (`ENOTTY` before v6.11: set `page_requests`
    /// false on such a kernel).
    pub fn new(
        iommufd: Arc<Iommufd>,
        host: HostIommu,
        format: F,
        config: IommufdConfig,
    ) -> vsva_vfio::Result<IommufdBackend<F>> {
        let fault = if config.page_requests {
            Some(iommufd.fault_queue_alloc()?)
        } else {
            None
        };
        Ok(IommufdBackend {
            iommufd,
            host,
            format,
            config: IommufdConfig {
                max_batch: config.max_batch.max(1),
                ..config
            },
            fault,
            vms: RwLock::new(HashMap::new()),
            routes: RwLock::new(Routes::default()),
            cookies: Mutex::new(HashMap::new()),
            stats: Mutex::new(IommufdStats::default()),
            diagnostics: Mutex::new(VecDeque::new()),
        })
    }

    /// The iommufd.
    pub fn iommufd(&self) -> &Arc<Iommufd> {
        &self.iommufd
    }

    /// The stage-1 format.
    pub fn format(&self) -> &F {
        &self.format
    }

    /// The fault queue, if any.
    pub fn fault_queue(&self) -> Option<&FaultQueue> {
        self.fault.as_ref()
    }

    /// The counters.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use vsva_viommu::iommufd::{fake::FakeIommufd, IommufdBackend, IommufdConfig, VtdS1};
    /// # use vsva_viommu::HostIommu;
    /// # let fake = FakeIommufd::new(true);
    /// # let iommufd = Arc::new(vsva_vfio::iommufd::Iommufd::open(fake.kernel()).unwrap());
    /// let backend = IommufdBackend::new(iommufd, HostIommu::vtd_default(), VtdS1,
    ///     IommufdConfig::default()).unwrap();
    /// assert_eq!(backend.stats().invalidate_calls, 0);
    /// assert!(backend.diagnostics().is_empty());
    /// ```
    pub fn stats(&self) -> IommufdStats {
        *lock(&self.stats)
    }

    /// The most recent kernel refusals the backend absorbed, oldest first (at most
    /// [`DIAGNOSTICS_KEPT`](crate::iommufd::DIAGNOSTICS_KEPT)).
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        lock(&self.diagnostics).iter().copied().collect()
    }

    /// The iommufd objects `device` holds now (`None` if it is not registered).
    pub fn device_objects(&self, device: DeviceId) -> Option<DeviceObjects> {
        let vm = *self.routes.read().ok()?.vm_of.get(&device)?;
        let entry = self.vm_entry(vm)?;
        let st = lock(&entry);
        st.devices.get(&device).map(|d| d.objects.clone())
    }

    pub(super) fn vm_entry(&self, vm: VmId) -> Option<Arc<Mutex<VmEntry>>> {
        self.vms
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&vm)
            .cloned()
    }

    pub(super) fn vm_entry_or_new(&self, vm: VmId) -> Arc<Mutex<VmEntry>> {
        if let Some(e) = self.vm_entry(vm) {
            return e;
        }
        let mut vms = self.vms.write().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(vms.entry(vm).or_default())
    }

    pub(super) fn diagnose(&self, d: Diagnostic) {
        let mut q = lock(&self.diagnostics);
        if q.len() == DIAGNOSTICS_KEPT {
            q.pop_front();
        }
        q.push_back(d);
    }

    pub(super) fn teardown_error(&self, op: &'static str, id: u32, e: &vsva_vfio::Error) {
        lock(&self.stats).teardown_errors += 1;
        self.diagnose(Diagnostic::TeardownFailed {
            op,
            id,
            errno: e.errno(),
        });
    }

    // ---- devices ---------------------------------------------------------------------

    /// Registers `device` (the vIOMMU's id for it) of `vm` with its iommufd identity. The
    /// VM's current binds and PASID table are installed on it (all or nothing). Call it
    /// next to [`Vm::attach_device`](crate::Vm::attach_device).
    ///
    /// # Errors
    /// `EBUSY` if the device (or its `dev_id`) is registered already; the kernel's errno
    /// if installing a current bind fails (nothing is left behind).
    pub fn add_device(&self, vm: VmId, device: DeviceId, dev: IommufdDevice) -> Result<(), Errno> {
        let mut routes = self.routes.write().unwrap_or_else(PoisonError::into_inner);
        if routes.vm_of.contains_key(&device) || routes.by_dev_id.contains_key(&dev.dev_id) {
            return Err(Errno::EBUSY);
        }
        let entry = self.vm_entry_or_new(vm);
        let mut st = lock(&entry);
        self.flush_locked(vm, &mut st);
        let dev_id = dev.dev_id;
        self.install_device(&mut st, device, dev)?;
        routes.by_dev_id.insert(dev_id, device);
        routes.vm_of.insert(device, vm);
        Ok(())
    }

    /// Unregisters `device`: its PASIDs are detached, its RID put back on its IOAS if a
    /// guest table held it, and every HWPT it held (nested and parent) destroyed. Its
    /// page requests not yet answered are forgotten (the kernel answers them on detach).
    /// Removing an unknown device does nothing.
    pub fn remove_device(&self, device: DeviceId) {
        let mut routes = self.routes.write().unwrap_or_else(PoisonError::into_inner);
        let Some(vm) = routes.vm_of.remove(&device) else {
            return;
        };
        let Some(entry) = self.vm_entry(vm) else {
            return;
        };
        let mut st = lock(&entry);
        self.flush_locked(vm, &mut st);
        if let Some(mut d) = st.devices.remove(&device) {
            routes.by_dev_id.remove(&d.dev.dev_id);
            self.uninstall_all(&mut d);
        }
        drop(st);
        drop(routes);
        lock(&self.cookies).retain(|_, o| o.0 != device);
    }
}

impl<F: StageOneFormat> Backend for IommufdBackend<F> {
    fn host(&self) -> &HostIommu {
        &self.host
    }

    fn bind_gpasid(&self, vm: VmId, bind: &GpasidBind) -> Result<(), Errno> {
        let entry = self.vm_entry_or_new(vm);
        let mut st = lock(&entry);
        self.flush_locked(vm, &mut st);
        if st.binds.contains_key(&bind.hpasid) {
            return Err(Errno::EBUSY);
        }
        if st
            .devices
            .values()
            .any(|d| !d.dev.pasid_fits(u64::from(bind.hpasid)))
        {
            return Err(Errno::EINVAL);
        }
        let data = self.format.gpasid_data(bind)?;
        let ids: Vec<DeviceId> = st.devices.keys().copied().collect();
        let mut undo = Undo::new(self, &mut st);
        for id in ids {
            self.install_pasid(&mut undo, id, bind.hpasid, &data)?;
        }
        undo.commit();
        st.binds.insert(bind.hpasid, *bind);
        Ok(())
    }

    fn unbind_gpasid(&self, vm: VmId, hpasid: HostPasid) {
        let Some(entry) = self.vm_entry(vm) else {
            return;
        };
        let mut st = lock(&entry);
        self.flush_locked(vm, &mut st);
        st.binds.remove(&hpasid);
        for d in st.devices.values_mut() {
            self.uninstall_pasid(d, hpasid);
        }
        // The kernel answered the PASID's pending groups on the detach: their cookies
        // are dead (a late response counts as unmatched instead of failing).
        let devices: BTreeSet<DeviceId> = st.devices.keys().copied().collect();
        drop(st);
        lock(&self.cookies).retain(|_, o| !(devices.contains(&o.0) && o.1 == Some(hpasid)));
    }

    fn set_pasid_table(&self, vm: VmId, table: &PasidTableBind) -> Result<(), Errno> {
        let entry = self.vm_entry_or_new(vm);
        let mut st = lock(&entry);
        self.flush_locked(vm, &mut st);
        if st.devices.values().any(|d| {
            table.config == PasidTableConfigKind::Translate
                && table.pasid_bits > d.dev.max_pasid_log2
        }) {
            return Err(Errno::EINVAL);
        }
        let data = self.format.pasid_table_data(table)?;
        let ids: Vec<DeviceId> = st.devices.keys().copied().collect();
        // The old table HWPTs stay alive until every device has moved off them.
        let old: Vec<HwptId> = st
            .devices
            .values()
            .filter_map(|d| d.objects.table)
            .collect();
        let mut undo = Undo::new(self, &mut st);
        for id in ids {
            self.install_table(&mut undo, id, &data)?;
        }
        undo.commit();
        for h in old {
            self.destroy(h);
        }
        st.table = Some(*table);
        Ok(())
    }

    fn clear_pasid_table(&self, vm: VmId) {
        let Some(entry) = self.vm_entry(vm) else {
            return;
        };
        let mut st = lock(&entry);
        self.flush_locked(vm, &mut st);
        st.table = None;
        for d in st.devices.values_mut() {
            self.uninstall_table(d);
        }
        // The RIDs left the table's HWPTs: the kernel answered their pending groups.
        let devices: BTreeSet<DeviceId> = st.devices.keys().copied().collect();
        drop(st);
        lock(&self.cookies).retain(|_, o| !devices.contains(&o.0));
    }

    fn invalidate(&self, vm: VmId, inv: &Invalidation) {
        let Some(ty) = self.format.invalidation_type() else {
            lock(&self.stats).invalidations_unsupported += 1;
            return;
        };
        let Some(entry) = self.vm_entry(vm) else {
            lock(&self.stats).invalidations_skipped += 1;
            return;
        };
        let mut st = lock(&entry);
        let targets = Self::targets(&st, &inv.scope);
        let mut entries = Vec::with_capacity(ty.entry_len);
        let n = self.format.invalidation_entries(inv, &mut entries);
        if targets.is_empty() || n == 0 {
            lock(&self.stats).invalidations_skipped += 1;
            return;
        }
        let same = st.pending.len() == targets.len()
            && st.pending.iter().zip(&targets).all(|(b, t)| b.hwpt == *t);
        if !same {
            self.flush_locked(vm, &mut st);
            st.pending = targets
                .iter()
                .map(|&hwpt| Batch {
                    hwpt,
                    entries: Vec::new(),
                    count: 0,
                })
                .collect();
        }
        let mut full = false;
        for b in &mut st.pending {
            b.entries.extend_from_slice(&entries);
            b.count += n;
            full |= b.count >= self.config.max_batch;
        }
        if full {
            self.flush_locked(vm, &mut st);
        }
    }

    fn page_response(&self, vm: VmId, response: &HostPageResponse) {
        self.flush(vm);
        match self.take_cookie(response.id, response.device) {
            Some(cookie) => self.respond(cookie, response.code),
            None => lock(&self.stats).responses_unmatched += 1,
        }
    }

    fn flush(&self, vm: VmId) {
        IommufdBackend::flush(self, vm);
    }
}

impl<F: StageOneFormat> Drop for IommufdBackend<F> {
    fn drop(&mut self) {
        self.flush_all();
        let vms: Vec<Arc<Mutex<VmEntry>>> = self
            .vms
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .drain()
            .map(|(_, v)| v)
            .collect();
        for entry in vms {
            let mut st = lock(&entry);
            let devices = std::mem::take(&mut st.devices);
            for (_, mut d) in devices {
                self.uninstall_all(&mut d);
            }
        }
        // The kernel keeps a fault object while its fd is open: close, then destroy.
        if let Some(FaultQueue { id, fd }) = self.fault.take() {
            drop(fd);
            if let Err(e) = self.iommufd.destroy(id) {
                self.teardown_error("destroy", id.0, &e);
            }
        }
    }
}
