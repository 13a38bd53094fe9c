//! A software model of the host IOMMU: it keeps the PASID entries, bound page-table
//! pointers and PASID-table configs per VM, records every invalidation and page response,
//! injects page requests, and counts every call a correct vIOMMU layer would never make
//! (a second bind of a bound PASID, an unbind of an unbound one, a response to a request
//! it never injected). VMM tests use it in place of hardware; the property tests of this
//! crate check its counters after every step.
//!
//! ```
//! use vsva_viommu::soft::SoftwareIommu;
//! use vsva_viommu::{HostIommu, Viommu, VmConfig};
//!
//! let model = SoftwareIommu::new(HostIommu::vtd_default());
//! let viommu = Viommu::new(model.clone());
//! let vm = viommu.create_vm(VmConfig::default());
//! let pasid = vm.alloc_pasid(1, 1000).unwrap();
//! assert!((1..=1000).contains(&pasid.raw_value()));
//! assert!(model.vm_state(vm.id()).pasid_entries.is_empty());
//! assert_eq!(model.violations(), 0);
//! ```

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use vsva_uapi::consts::PageResponseCode;
use vsva_uapi::Errno;

use crate::backend::{
    Backend, DeviceId, GpasidBind, HostPageResponse, HostPasid, Invalidation, PageRequest,
    PasidTableBind, VmId,
};
use crate::host::HostIommu;
use crate::Viommu;

/// How many events each VM's log keeps by default (older ones are dropped; the totals in
/// [`SoftVmState`] keep counting).
pub const DEFAULT_LOG_CAPACITY: usize = 4096;

const SHARDS: usize = 16;

/// One call the model received for a VM, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// [`Backend::bind_gpasid`].
    Bind(GpasidBind),
    /// [`Backend::unbind_gpasid`] of this host PASID.
    Unbind(HostPasid),
    /// [`Backend::set_pasid_table`].
    SetPasidTable(PasidTableBind),
    /// [`Backend::clear_pasid_table`].
    ClearPasidTable,
    /// [`Backend::invalidate`].
    Invalidate(Invalidation),
    /// [`Backend::page_response`].
    PageResponse(HostPageResponse),
}

/// The model's state for one VM: what the hardware would hold, plus its recent calls.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SoftVmState {
    /// PASID-table entries: host PASID → the bound guest page table.
    pub pasid_entries: BTreeMap<HostPasid, GpasidBind>,
    /// The bound guest PASID table (SMMUv3).
    pub pasid_table: Option<PasidTableBind>,
    /// Invalidations received, in total.
    pub invalidations: u64,
    /// Page responses received, in total.
    pub responses: u64,
    /// [`Backend::flush`] calls received, in total (not logged: a flush changes no state
    /// of the model, which sends every request at once).
    pub flushes: u64,
    /// The most recent calls, oldest first (at most the log capacity).
    pub log: VecDeque<Event>,
}

#[derive(Default)]
struct Shard {
    vms: HashMap<VmId, SoftVmState>,
}

struct Inner {
    host: HostIommu,
    log_capacity: usize,
    shards: [Mutex<Shard>; SHARDS],
    /// Injected last-page requests not yet answered: (device, grpid) → count.
    outstanding: Mutex<HashMap<(DeviceId, u32), u32>>,
    fail_next: AtomicI32,
    violations: AtomicU64,
    unrouted: AtomicU64,
}

/// The software IOMMU model. Cloning gives another handle to the same model.
#[derive(Clone)]
pub struct SoftwareIommu {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SoftwareIommu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftwareIommu")
            .field("host", &self.inner.host)
            .field("violations", &self.violations())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a model lock leaves consistent data (every update is a
    // single insert/remove), so a poisoned lock is still usable.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl SoftwareIommu {
    /// A model of `host` keeping [`DEFAULT_LOG_CAPACITY`] events per VM.
    pub fn new(host: HostIommu) -> SoftwareIommu {
        SoftwareIommu::with_log_capacity(host, DEFAULT_LOG_CAPACITY)
    }

    /// A model of `host` keeping the last `log_capacity` events per VM.
    pub fn with_log_capacity(host: HostIommu, log_capacity: usize) -> SoftwareIommu {
        SoftwareIommu {
            inner: Arc::new(Inner {
                host,
                log_capacity,
                shards: std::array::from_fn(|_| Mutex::new(Shard::default())),
                outstanding: Mutex::new(HashMap::new()),
                fail_next: AtomicI32::new(0),
                violations: AtomicU64::new(0),
                unrouted: AtomicU64::new(0),
            }),
        }
    }

    /// A copy of the model's state for `vm` (empty if it never saw the VM).
    pub fn vm_state(&self, vm: VmId) -> SoftVmState {
        lock(self.shard(vm))
            .vms
            .get(&vm)
            .cloned()
            .unwrap_or_default()
    }

    /// Calls a correct vIOMMU layer never makes: a bind of a bound host PASID, an unbind
    /// of an unbound one, a clear of a PASID table that was never set, a response to a
    /// request that was never injected or was already answered.
    pub fn violations(&self) -> u64 {
        self.inner.violations.load(Ordering::SeqCst)
    }

    /// Injected page requests that reached no VM (the device was attached to none) and
    /// were answered `INVALID` by the model itself.
    pub fn unrouted(&self) -> u64 {
        self.inner.unrouted.load(Ordering::SeqCst)
    }

    /// Injected last-page requests still waiting for a response.
    pub fn outstanding(&self) -> u64 {
        lock(&self.inner.outstanding)
            .values()
            .map(|n| u64::from(*n))
            .sum()
    }

    /// Makes the next [`Backend::bind_gpasid`] or [`Backend::set_pasid_table`] fail with
    /// `errno` (to test that a hardware failure leaves no state behind).
    pub fn fail_next_bind(&self, errno: Errno) {
        self.inner.fail_next.store(errno.raw(), Ordering::SeqCst);
    }

    /// Plays the device: reports `request` to `viommu`, which routes it to the VM the
    /// device is attached to. A last-page request is remembered until it is answered.
    pub fn inject_page_request<B: Backend>(&self, viommu: &Viommu<B>, request: PageRequest) {
        let key = (request.device, request.grpid);
        if request.last_page {
            *lock(&self.inner.outstanding).entry(key).or_insert(0) += 1;
        }
        if viommu.report_page_request(request).is_err() {
            self.inner.unrouted.fetch_add(1, Ordering::SeqCst);
            if request.last_page {
                self.answer_outstanding(key);
            }
        }
    }

    fn answer_outstanding(&self, key: (DeviceId, u32)) {
        let mut outstanding = lock(&self.inner.outstanding);
        match outstanding.get_mut(&key) {
            Some(n) if *n > 1 => *n -= 1,
            Some(_) => {
                outstanding.remove(&key);
            }
            None => {
                self.inner.violations.fetch_add(1, Ordering::SeqCst);
            }
        }
    }

    fn shard(&self, vm: VmId) -> &Mutex<Shard> {
        &self.inner.shards[vm.0 as usize % SHARDS]
    }

    fn violation(&self) {
        self.inner.violations.fetch_add(1, Ordering::SeqCst);
    }

    fn take_failure(&self) -> Result<(), Errno> {
        match self.inner.fail_next.swap(0, Ordering::SeqCst) {
            0 => Ok(()),
            e => Err(Errno(e)),
        }
    }

    fn with_vm<R>(&self, vm: VmId, event: Event, f: impl FnOnce(&mut SoftVmState) -> R) -> R {
        let mut shard = lock(self.shard(vm));
        let state = shard.vms.entry(vm).or_default();
        let r = f(state);
        if self.inner.log_capacity > 0 {
            if state.log.len() == self.inner.log_capacity {
                state.log.pop_front();
            }
            state.log.push_back(event);
        }
        r
    }
}

impl Backend for SoftwareIommu {
    fn host(&self) -> &HostIommu {
        &self.inner.host
    }

    fn bind_gpasid(&self, vm: VmId, bind: &GpasidBind) -> Result<(), Errno> {
        self.take_failure()?;
        let fresh = self.with_vm(vm, Event::Bind(*bind), |s| {
            s.pasid_entries.insert(bind.hpasid, *bind).is_none()
        });
        if !fresh {
            self.violation();
        }
        Ok(())
    }

    fn unbind_gpasid(&self, vm: VmId, hpasid: HostPasid) {
        let was = self.with_vm(vm, Event::Unbind(hpasid), |s| {
            s.pasid_entries.remove(&hpasid).is_some()
        });
        if !was {
            self.violation();
        }
    }

    fn set_pasid_table(&self, vm: VmId, table: &PasidTableBind) -> Result<(), Errno> {
        self.take_failure()?;
        // A new config replaces the old one (the guest rewrote its STE): not a violation.
        self.with_vm(vm, Event::SetPasidTable(*table), |s| {
            s.pasid_table = Some(*table)
        });
        Ok(())
    }

    fn clear_pasid_table(&self, vm: VmId) {
        let was = self.with_vm(vm, Event::ClearPasidTable, |s| {
            s.pasid_table.take().is_some()
        });
        if !was {
            self.violation();
        }
    }

    fn invalidate(&self, vm: VmId, inv: &Invalidation) {
        self.with_vm(vm, Event::Invalidate(*inv), |s| s.invalidations += 1);
    }

    fn flush(&self, vm: VmId) {
        lock(self.shard(vm)).vms.entry(vm).or_default().flushes += 1;
    }

    fn page_response(&self, vm: VmId, response: &HostPageResponse) {
        self.with_vm(vm, Event::PageResponse(*response), |s| s.responses += 1);
        debug_assert!(PageResponseCode::from_raw(response.code.raw()).is_some());
        self.answer_outstanding((response.device, response.grpid));
    }
}
