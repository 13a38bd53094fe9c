//! The host-wide [`Viommu`] and the per-VM [`Vm`]: the IOMMU UAPI layer a VMM embeds.
//!
//! Every operation takes the guest's untrusted payload bytes, decodes them with
//! `vsva-uapi` under the VM's [`Policy`] (with the VT-d vendor layer on a VT-d host),
//! checks them against the host's capabilities and against what the VM owns, and only
//! then touches state: the VM's own, the system-wide PASID space, and the backend. A
//! refused request changes nothing anywhere.
//!
//! Concurrency: each VM's state sits behind its own lock; the PASID space is lock-free;
//! the device → VM routing table is read-locked only when the hardware reports a page
//! request and write-locked only when devices are attached or detached. No lock is shared
//! by two VMs' vCPU paths. Reporting a page request never waits on a VM's lock: it goes
//! to the VM's inbox (a leaf lock held for one push), which the VM drains into its queue
//! whenever it next takes its lock.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, Weak};

use vsva_uapi::consts::{
    CacheInvType, GpasidBindFlags, InvAddrFlags, InvPasidFlags, NestingFeatures, PageRequestFlags,
    PageResponseCode, PageResponseFlags, PasidTableConfigKind, VtdGpasidFlags, PASID_MAX,
};
use vsva_uapi::{
    CacheInvalidateInfo, Errno, Fault, FaultPageRequest, GpasidBindData, Granu, InvAddrInfo,
    NestingInfo, PasidTableConfig, Policy, UapiStruct,
};
use vsva_vfio::nesting::NestingHandler;
use zerocopy::IntoBytes;

use crate::backend::{
    Backend, DeviceId, GpasidBind, Invalidation, InvalidationScope, PageRequest, PageResponse,
    PasidTableBind, VmId,
};
use crate::error::{Result, ViommuError};
use crate::host::HostIommu;
use crate::pasid::PasidSpace;

/// Per-VM settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VmConfig {
    /// How the VM's payloads are copied in (`argsz` handling); default
    /// [`Policy::Linux510`], the kernel's.
    pub policy: Policy,
    /// The most PASIDs the VM may hold at once (`ENOSPC` beyond).
    pub max_pasids: usize,
    /// The most page requests queued for the VM (unread, or read and awaiting a
    /// response). When full, the oldest is answered `FAILURE` on the device's behalf.
    pub max_pending_faults: usize,
}

impl Default for VmConfig {
    fn default() -> VmConfig {
        VmConfig {
            policy: Policy::Linux510,
            max_pasids: 1024,
            max_pending_faults: 512,
        }
    }
}

/// Fault-queue counters of one VM.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VmStats {
    /// Page requests queued for the VM.
    pub faults_reported: u64,
    /// Requests answered `FAILURE` on the device's behalf because the queue was full
    /// (or the VM detached the device or was torn down).
    pub faults_auto_failed: u64,
    /// Requests that needed no response (not the last of their group) dropped unread
    /// because the queue was full.
    pub faults_dropped: u64,
    /// Requests tagged with a host PASID the VM does not own, answered `INVALID`
    /// without reaching the VM.
    pub faults_rejected: u64,
}

/// A page request queued for a VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingFault {
    /// The request as the hardware reported it (host PASID).
    pub request: PageRequest,
    /// The PASID the VM sees: the guest PASID when the host PASID is bound with
    /// `IOMMU_SVA_GPASID_VAL`, else the request's own.
    pub guest_pasid: Option<u32>,
    /// The VM has read the record.
    pub read: bool,
}

/// A copy of everything one VM holds, for tests and for VMM state inspection. Two
/// snapshots compare equal exactly when the VM's state is the same.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VmSnapshot {
    /// Host PASIDs the VM owns.
    pub pasids: BTreeSet<u32>,
    /// Bound guest page tables, by host PASID (VT-d).
    pub binds: BTreeMap<u32, GpasidBind>,
    /// The bound guest PASID table (SMMUv3).
    pub pasid_table: Option<PasidTableBind>,
    /// Devices attached to the VM.
    pub devices: BTreeSet<DeviceId>,
    /// Queued page requests, oldest first.
    pub faults: VecDeque<PendingFault>,
    /// Fault-queue counters.
    pub stats: VmStats,
}

#[derive(Default)]
struct VmState {
    /// Everything but the fault queue (`view.faults` stays empty: see `awaiting` and
    /// `unread`, which `snapshot` joins).
    view: VmSnapshot,
    /// Read requests awaiting a response, oldest first. Every one is older than every
    /// unread request (requests are read oldest first), so `awaiting` then `unread` is
    /// the queue in arrival order.
    awaiting: VecDeque<PendingFault>,
    /// Unread requests, oldest first: reading one is a `pop_front`, O(1).
    unread: VecDeque<PendingFault>,
    /// Guest PASID → host PASID, for binds with `IOMMU_SVA_GPASID_VAL`.
    gpasids: BTreeMap<u32, u32>,
    /// Torn down: every request is refused as for an unknown handle.
    dead: bool,
}

/// Page requests reported since the VM last took its lock, oldest first. Its lock is a
/// leaf, held only for one push or one take: the reporter takes it with the routing table
/// read-locked, the VM with its own state locked.
#[derive(Default)]
struct Inbox {
    requests: VecDeque<PageRequest>,
    /// What evictions from a full inbox add to [`VmStats`], merged at the next drain.
    stats: VmStats,
}

impl Inbox {
    /// Queues `request`; when `cap` (at least 1) are queued already, the oldest leaves and
    /// is returned, counted as reported and then auto-failed (it must be answered) or
    /// dropped.
    fn push(&mut self, request: PageRequest, cap: usize) -> Option<PageRequest> {
        let evicted = if self.requests.len() >= cap.max(1) {
            self.requests.pop_front()
        } else {
            None
        };
        if let Some(old) = &evicted {
            self.stats.faults_reported += 1;
            if old.last_page {
                self.stats.faults_auto_failed += 1;
            } else {
                self.stats.faults_dropped += 1;
            }
        }
        self.requests.push_back(request);
        evicted
    }
}

struct VmShared {
    id: VmId,
    config: VmConfig,
    state: Mutex<VmState>,
    inbox: Mutex<Inbox>,
}

impl VmShared {
    fn inbox(&self) -> MutexGuard<'_, Inbox> {
        // Every update is one push or one take: a poisoned inbox is still coherent.
        self.inbox.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock(&self) -> MutexGuard<'_, VmState> {
        // Every update below is committed only after all fallible steps, so a panic in
        // a backend call cannot leave half an update: a poisoned lock is still coherent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

struct Host<B> {
    backend: B,
    pasids: PasidSpace,
    features: NestingFeatures,
    next_vm: AtomicU64,
    devices: RwLock<HashMap<DeviceId, Weak<VmShared>>>,
}

impl<B> Host<B> {
    /// The device → VM routing table, for writing. Lock order: this table, then a VM's
    /// state; never the other way round.
    fn devices_mut(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<DeviceId, Weak<VmShared>>> {
        // Every update is a single insert/remove: a poisoned table is still coherent.
        self.devices.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The host-wide vIOMMU: one per host IOMMU (backend), shared by every VM. Cloning gives
/// another handle to the same vIOMMU.
///
/// ```
/// use vsva_viommu::soft::SoftwareIommu;
/// use vsva_viommu::{HostIommu, Viommu, VmConfig};
/// use vsva_uapi::consts::NestingFeatures;
///
/// let viommu = Viommu::new(SoftwareIommu::new(HostIommu::vtd_default()));
/// assert!(viommu.features().contains(NestingFeatures::BIND_PGTBL));
/// let vm = viommu.create_vm(VmConfig::default());
/// let p = vm.alloc_pasid(1, (1 << 20) - 1).unwrap();
/// assert!(viommu.pasid_space().is_allocated(p));
/// drop(vm); // tearing the VM down frees what it held
/// assert!(!viommu.pasid_space().is_allocated(p));
/// ```
pub struct Viommu<B: Backend> {
    host: Arc<Host<B>>,
}

impl<B: Backend> Clone for Viommu<B> {
    fn clone(&self) -> Self {
        Viommu {
            host: Arc::clone(&self.host),
        }
    }
}

impl<B: Backend> std::fmt::Debug for Viommu<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Viommu")
            .field("host", self.host.backend.host())
            .field("pasids_allocated", &self.host.pasids.allocated_count())
            .finish_non_exhaustive()
    }
}

/// The hardware reported a page request for a device no VM holds; the caller (the
/// backend) must answer it itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("device {:#x} is attached to no VM", .0 .0)]
pub struct Unrouted(pub DeviceId);

impl<B: Backend> Viommu<B> {
    /// A vIOMMU over `backend`, with a PASID space as wide as the host's.
    pub fn new(backend: B) -> Viommu<B> {
        let host = *backend.host();
        Viommu {
            host: Arc::new(Host {
                pasids: PasidSpace::with_bits(u32::from(host.pasid_bits())),
                features: host.features(),
                backend,
                next_vm: AtomicU64::new(1),
                devices: RwLock::new(HashMap::new()),
            }),
        }
    }

    /// The backend.
    pub fn backend(&self) -> &B {
        &self.host.backend
    }

    /// The system-wide PASID space.
    pub fn pasid_space(&self) -> &PasidSpace {
        &self.host.pasids
    }

    /// The `IOMMU_NESTING_FEAT_*` the host supports.
    pub fn features(&self) -> NestingFeatures {
        self.host.features
    }

    /// The `iommu_nesting_info` for VMs of this host.
    pub fn nesting_info(&self) -> NestingInfo {
        self.host.backend.host().nesting_info()
    }

    /// Creates a VM. Dropping the returned handle tears the VM down.
    pub fn create_vm(&self, config: VmConfig) -> Vm<B> {
        let id = VmId(self.host.next_vm.fetch_add(1, Ordering::Relaxed));
        Vm {
            host: Arc::clone(&self.host),
            vm: Arc::new(VmShared {
                id,
                config,
                state: Mutex::new(VmState::default()),
                inbox: Mutex::new(Inbox::default()),
            }),
        }
    }

    /// The hardware side reports a page request: it is queued for the VM the device is
    /// attached to. A request tagged with a host PASID that VM does not own (VT-d) is
    /// answered `INVALID` and never reaches the VM. A full queue answers its oldest
    /// request `FAILURE`.
    ///
    /// Never waits on any VM's lock (one fault reader serves every VM, so a VM busy in a
    /// long call must not hold up the others): the request goes to the VM's inbox, which
    /// the VM moves into its queue, PASID check and bound included, the next time it takes
    /// its lock (reading faults, polling [`Vm::unread_faults`], any call). The inbox holds
    /// at most [`VmConfig::max_pending_faults`] requests; beyond, its oldest is answered
    /// `FAILURE` (or dropped, when not the last of its group) at once, as a full queue does.
    ///
    /// # Errors
    /// [`Unrouted`] when no VM holds the device; the backend answers it.
    pub fn report_page_request(&self, request: PageRequest) -> std::result::Result<(), Unrouted> {
        // The routing table stays read-locked until the request is in the inbox (and any
        // request it evicts answered): attach/detach, which write-lock it, see either
        // none of this or all of it. The VM's own lock is never waited on here.
        let devices = self
            .host
            .devices
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let owner = devices
            .get(&request.device)
            .and_then(Weak::upgrade)
            .ok_or(Unrouted(request.device))?;
        let evicted = owner.inbox().push(request, owner.config.max_pending_faults);
        if let Some(old) = evicted.filter(|old| old.last_page) {
            self.host
                .backend
                .page_response(owner.id, &response_to(&old, PageResponseCode::Failure));
        }
        drop(devices);
        Ok(())
    }
}

/// A uniformly placed start in `[lo, hi]` for the PASID search (`lo <= hi`), from
/// [`vsva_rng`], so that no VM can predict where another VM's PASIDs land.
fn random_start(lo: u32, hi: u32) -> Result<u32> {
    let r = vsva_rng::u32().map_err(|e| ViommuError::Entropy(Errno(e.errno())))?;
    let span = u64::from(hi - lo) + 1;
    // Multiply-shift maps the 32 random bits onto the span; the bias (below 2^-12 for
    // any PASID span) does not matter for a search start, which needs only be
    // unpredictable.
    Ok(lo + ((u64::from(r) * span) >> 32) as u32)
}

fn response_to(request: &PageRequest, code: PageResponseCode) -> PageResponse {
    PageResponse {
        id: request.id,
        device: request.device,
        pasid: request.pasid,
        grpid: request.grpid,
        code,
    }
}

/// One VM's view of the vIOMMU: what its vCPU threads call (directly, or through
/// [`vsva_vfio::nesting::dispatch`], as [`Vm`] implements [`NestingHandler`]). `&Vm` is
/// `Send + Sync`; calls from many vCPU threads are serialised per VM only.
///
/// Dropping it tears the VM down: pending page requests are answered `FAILURE`, guest
/// page tables and the PASID table are unbound, PASIDs freed, devices detached.
pub struct Vm<B: Backend> {
    host: Arc<Host<B>>,
    vm: Arc<VmShared>,
}

impl<B: Backend> std::fmt::Debug for Vm<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vm")
            .field("id", &self.vm.id)
            .field("config", &self.vm.config)
            .finish_non_exhaustive()
    }
}

impl<B: Backend> Vm<B> {
    /// The VM's id (what the backend sees).
    pub fn id(&self) -> VmId {
        self.vm.id
    }

    /// The VM's settings.
    pub fn config(&self) -> &VmConfig {
        &self.vm.config
    }

    /// The `IOMMU_NESTING_FEAT_*` the VM may use.
    pub fn features(&self) -> NestingFeatures {
        self.host.features
    }

    /// The `iommu_nesting_info` the VM is given.
    pub fn nesting_info(&self) -> NestingInfo {
        self.host.backend.host().nesting_info()
    }

    /// The host IOMMU behind the VM (what an emulated IOMMU derives its capability
    /// registers from).
    pub fn host(&self) -> &HostIommu {
        self.host.backend.host()
    }

    /// The VM's state, locked, with the page requests reported since it was last locked
    /// moved in from the inbox. Every `Vm` method locks through here.
    fn lock(&self) -> MutexGuard<'_, VmState> {
        let mut st = self.vm.lock();
        let (requests, evicted) = {
            let mut inbox = self.vm.inbox();
            (
                std::mem::take(&mut inbox.requests),
                std::mem::take(&mut inbox.stats),
            )
        };
        let stats = &mut st.view.stats;
        stats.faults_reported += evicted.faults_reported;
        stats.faults_auto_failed += evicted.faults_auto_failed;
        stats.faults_dropped += evicted.faults_dropped;
        for request in requests {
            self.queue_fault(&mut st, request);
        }
        st
    }

    /// Queues a reported page request (moved in from the inbox): rejected `INVALID` when
    /// tagged with a host PASID the VM does not own (VT-d); a full queue answers its oldest
    /// `FAILURE`.
    fn queue_fault(&self, st: &mut VmState, request: PageRequest) {
        let backend = &self.host.backend;
        let id = self.vm.id;
        // Detach and teardown drain the inbox before they let go of the device, so this
        // is only a guard: nothing may stay unanswered.
        if st.dead || !st.view.devices.contains(&request.device) {
            if request.last_page {
                st.view.stats.faults_auto_failed += 1;
                backend.page_response(id, &response_to(&request, PageResponseCode::Failure));
            }
            return;
        }
        let vtd = matches!(backend.host(), HostIommu::Vtd(_));
        let guest_pasid = match request.pasid {
            Some(p) if vtd && !st.view.pasids.contains(&p) => {
                st.view.stats.faults_rejected += 1;
                // Only the last request of a group is answered; the others are dropped.
                if request.last_page {
                    backend.page_response(id, &response_to(&request, PageResponseCode::Invalid));
                }
                return;
            }
            Some(p) => Some(st.view.binds.get(&p).and_then(|b| b.gpasid).unwrap_or(p)),
            None => None,
        };
        if st.awaiting.len() + st.unread.len() >= self.vm.config.max_pending_faults.max(1) {
            let oldest = match st.awaiting.pop_front() {
                Some(f) => Some(f),
                None => st.unread.pop_front(),
            };
            if let Some(old) = oldest {
                if old.request.last_page {
                    st.view.stats.faults_auto_failed += 1;
                    backend
                        .page_response(id, &response_to(&old.request, PageResponseCode::Failure));
                } else {
                    st.view.stats.faults_dropped += 1;
                }
            }
        }
        st.view.stats.faults_reported += 1;
        st.unread.push_back(PendingFault {
            request,
            guest_pasid,
            read: false,
        });
    }

    /// A copy of everything the VM holds.
    pub fn snapshot(&self) -> VmSnapshot {
        let st = self.lock();
        let mut view = st.view.clone();
        view.faults = st.awaiting.iter().chain(&st.unread).copied().collect();
        view
    }

    /// How many queued page requests the VM has not read yet (what a guest polls).
    pub fn unread_faults(&self) -> usize {
        self.lock().unread.len()
    }

    /// The VM's fault-queue counters.
    pub fn stats(&self) -> VmStats {
        self.lock().view.stats
    }

    fn host_iommu(&self) -> &HostIommu {
        self.host.backend.host()
    }

    fn require(&self, feature: NestingFeatures, op: &'static str) -> Result<()> {
        if self.host.features.contains(feature) {
            Ok(())
        } else {
            Err(ViommuError::Unsupported { op })
        }
    }

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

    fn fail_faults(&self, st: &mut VmState, which: impl Fn(&PendingFault) -> bool) {
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
    pub fn alloc_pasid(&self, min: u32, max: u32) -> Result<u32> {
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
                Some(p) if st.gpasids.contains_key(&p) => aside.push(p),
                Some(p) => break Ok(p),
                None => break Err(ViommuError::PasidSpaceExhausted { min: lo, max: hi }),
            }
        };
        for p in aside {
            self.host.pasids.free(p);
        }
        let pasid = found?;
        st.view.pasids.insert(pasid);
        Ok(pasid)
    }

    /// Frees every PASID the VM owns in `[min, max]` (`VFIO_IOMMU_PASID_REQUEST` with
    /// `FREE`); a bound one is unbound first. PASIDs of other VMs and unallocated ones
    /// are left alone. Cannot fail; repeating it does nothing.
    pub fn free_pasids(&self, min: u32, max: u32) {
        if min > max {
            return;
        }
        let mut st = self.lock();
        let doomed: Vec<u32> = st.view.pasids.range(min..=max).copied().collect();
        for p in doomed {
            self.unbind_locked(&mut st, p);
            st.view.pasids.remove(&p);
            self.host.pasids.free(p);
        }
    }

    // ---- VT-d: guest page tables per PASID -----------------------------------------

    fn decode_bind(&self, payload: &[u8]) -> Result<GpasidBindData> {
        self.require(NestingFeatures::BIND_PGTBL, "binding a guest page table")?;
        let vendor = self.host_iommu().vendor();
        Ok(GpasidBindData::decode(payload, self.vm.config.policy, vendor)?.value)
    }

    /// Binds a guest first-level page table to a host PASID the VM owns
    /// (`VFIO_IOMMU_NESTING_OP_BIND_PGTBL`; `payload` is the untouched
    /// `iommu_gpasid_bind_data`).
    ///
    /// # Errors
    /// The UAPI checks (`EINVAL`/`EFAULT`); [`ViommuError::HostCapability`] for a flag or
    /// width the host lacks; [`ViommuError::NotOwned`]; [`ViommuError::AlreadyBound`] /
    /// [`ViommuError::GpasidInUse`] (`EBUSY`); the backend's errno. Nothing changes on
    /// error.
    pub fn bind_gpasid(&self, payload: &[u8]) -> Result<()> {
        let data = self.decode_bind(payload)?;
        let bind = self.check_bind(&data)?;
        let mut st = self.lock();
        if !st.view.pasids.contains(&bind.hpasid) {
            return Err(ViommuError::NotOwned { pasid: bind.hpasid });
        }
        if st.view.binds.contains_key(&bind.hpasid) {
            return Err(ViommuError::AlreadyBound {
                hpasid: bind.hpasid,
            });
        }
        if let Some(g) = bind.gpasid {
            if let Some(&hpasid) = st.gpasids.get(&g) {
                return Err(ViommuError::GpasidInUse { gpasid: g, hpasid });
            }
            // The guest sees another host PASID of the VM as itself: `g` would name
            // two PASIDs (and two pending page requests could look the same).
            if g != bind.hpasid && st.view.pasids.contains(&g) {
                return Err(ViommuError::GpasidInUse {
                    gpasid: g,
                    hpasid: g,
                });
            }
        }
        self.host
            .backend
            .bind_gpasid(self.vm.id, &bind)
            .map_err(ViommuError::Backend)?;
        st.view.binds.insert(bind.hpasid, bind);
        if let Some(g) = bind.gpasid {
            st.gpasids.insert(g, bind.hpasid);
        }
        Ok(())
    }

    /// The host-capability checks of `intel_svm_bind_gpasid` / `intel_pasid_setup_nested`
    /// on a payload the UAPI layer accepted.
    fn check_bind(&self, data: &GpasidBindData) -> Result<GpasidBind> {
        let HostIommu::Vtd(caps) = self.host_iommu() else {
            return Err(ViommuError::Unsupported {
                op: "binding a guest page table",
            });
        };
        let hpasid = u32::try_from(data.hpasid)
            .ok()
            .filter(|p| (1..=self.host_iommu().max_pasid()).contains(p))
            .ok_or(ViommuError::HostCapability {
                what: "a host PASID wider than its PASID width",
            })?;
        let gpasid = if GpasidBindFlags::from_bits_retain(data.flags)
            .contains(GpasidBindFlags::GPASID_VAL)
        {
            let g = u32::try_from(data.gpasid)
                .ok()
                .filter(|g| (1..PASID_MAX).contains(g))
                .ok_or(ViommuError::GpasidRange {
                    gpasid: data.gpasid,
                })?;
            Some(g)
        } else {
            None
        };
        let vtd = data.vtd().ok_or(ViommuError::Unsupported {
            op: "a non-VT-d PASID format",
        })?;
        let flags = VtdGpasidFlags::from_bits_retain(vtd.flags);
        if flags.contains(VtdGpasidFlags::SRE) && !caps.supervisor_requests {
            return Err(ViommuError::HostCapability {
                what: "supervisor requests (SRE) without ECAP.SRS",
            });
        }
        if flags.contains(VtdGpasidFlags::EAFE) && !caps.extended_accessed_flag {
            return Err(ViommuError::HostCapability {
                what: "the extended access flag (EAFE) without ECAP.EAFS",
            });
        }
        // Memory-type flags (MTS_MASK) never get here: the VT-d vendor layer of the
        // decode refuses them, as v5.10 does ("no memory type support").
        match data.addr_width {
            48 => {}
            57 if caps.first_level_5_level => {}
            57 => {
                return Err(ViommuError::HostCapability {
                    what: "a 5-level first-level table without CAP.FL5LP",
                })
            }
            _ => {
                return Err(ViommuError::HostCapability {
                    what: "an address width other than 48 or 57 bits",
                })
            }
        }
        Ok(GpasidBind {
            hpasid,
            gpasid,
            gpgd: data.gpgd,
            addr_width: data.addr_width,
            vtd_flags: flags,
            pat: vtd.pat,
            emt: vtd.emt,
        })
    }

    /// Unbinds the guest page table of a host PASID the VM owns
    /// (`VFIO_IOMMU_NESTING_OP_UNBIND_PGTBL`; `payload` is the full
    /// `iommu_gpasid_bind_data`, checked as for bind). Unbinding an unbound PASID does
    /// nothing.
    ///
    /// # Errors
    /// A malformed payload, or [`ViommuError::NotOwned`]: the handle is not valid. For
    /// a valid handle it cannot fail.
    pub fn unbind_gpasid(&self, payload: &[u8]) -> Result<()> {
        let data = self.decode_bind(payload)?;
        let hpasid = u32::try_from(data.hpasid).unwrap_or(u32::MAX);
        let mut st = self.lock();
        if !st.view.pasids.contains(&hpasid) {
            return Err(ViommuError::NotOwned { pasid: hpasid });
        }
        self.unbind_locked(&mut st, hpasid);
        Ok(())
    }

    fn unbind_locked(&self, st: &mut VmState, hpasid: u32) {
        if let Some(bind) = st.view.binds.remove(&hpasid) {
            if let Some(g) = bind.gpasid {
                st.gpasids.remove(&g);
            }
            self.host.backend.unbind_gpasid(self.vm.id, hpasid);
        }
    }

    // ---- SMMUv3: the guest PASID table ---------------------------------------------

    /// Binds the guest's PASID (context-descriptor) table, or replaces the bound config
    /// (`payload` is the untouched `iommu_pasid_table_config`).
    ///
    /// # Errors
    /// The UAPI checks; [`ViommuError::Unsupported`] on a host without SMMUv3 nesting;
    /// [`ViommuError::HostCapability`] for PASID bits, a CD-table format or an S1DSS
    /// the host refuses, or a misaligned table; the backend's errno. Nothing changes on
    /// error.
    pub fn set_pasid_table(&self, payload: &[u8]) -> Result<()> {
        self.require(NestingFeatures::BIND_PASID_TABLE, "binding a PASID table")?;
        let HostIommu::Smmuv3(caps) = self.host_iommu() else {
            return Err(ViommuError::Unsupported {
                op: "binding a PASID table",
            });
        };
        let cfg = PasidTableConfig::from_user(payload, self.vm.config.policy)?;
        let config =
            PasidTableConfigKind::from_raw(cfg.config).ok_or(ViommuError::HostCapability {
                what: "an unknown PASID-table config",
            })?;
        let smmu = cfg.smmuv3().ok_or(ViommuError::Unsupported {
            op: "a non-SMMUv3 PASID table",
        })?;
        if cfg.pasid_bits > caps.substream_id_bits {
            return Err(ViommuError::HostCapability {
                what: "more PASID bits than the host's SSIDSIZE",
            });
        }
        if smmu.s1fmt > 2 || (smmu.s1fmt != 0 && !caps.cd_two_level) {
            return Err(ViommuError::HostCapability {
                what: "a CD-table format the host lacks (S1Fmt)",
            });
        }
        if smmu.s1dss > 2 {
            return Err(ViommuError::HostCapability {
                what: "an S1DSS value outside 0..=2",
            });
        }
        if config == PasidTableConfigKind::Translate && !cfg.base_ptr.is_multiple_of(64) {
            return Err(ViommuError::HostCapability {
                what: "a CD table not aligned to 64 bytes",
            });
        }
        let table = PasidTableBind {
            config,
            base_ptr: cfg.base_ptr,
            pasid_bits: cfg.pasid_bits,
            s1fmt: smmu.s1fmt,
            s1dss: smmu.s1dss,
        };
        let mut st = self.lock();
        self.host
            .backend
            .set_pasid_table(self.vm.id, &table)
            .map_err(ViommuError::Backend)?;
        st.view.pasid_table = Some(table);
        Ok(())
    }

    /// Unbinds the guest PASID table. Cannot fail; doing it twice does nothing.
    pub fn clear_pasid_table(&self) {
        let mut st = self.lock();
        if st.view.pasid_table.take().is_some() {
            self.host.backend.clear_pasid_table(self.vm.id);
        }
    }

    // ---- cache invalidation --------------------------------------------------------

    /// Forwards a guest cache invalidation (`VFIO_IOMMU_NESTING_OP_CACHE_INVLD`;
    /// `payload` is the untouched `iommu_cache_invalidate_info`): the generic table of
    /// `iommu_check_cache_invl_data`, the VT-d table on a VT-d host, the PASID checked
    /// against what the VM owns (VT-d) or the bound table's width (SMMUv3), and the
    /// address range checked for overflow.
    ///
    /// # Errors
    /// A malformed payload, a PASID the VM may not name, or a bad range: the handle is
    /// not valid. For a valid handle it cannot fail.
    pub fn cache_invalidate(&self, payload: &[u8]) -> Result<()> {
        self.require(NestingFeatures::CACHE_INVLD, "cache invalidation")?;
        let info = CacheInvalidateInfo::decode(
            payload,
            self.vm.config.policy,
            self.host_iommu().vendor(),
        )?
        .value;
        let caches = CacheInvType::from_bits_retain(info.cache);
        let granu = info.granu_view().ok_or(ViommuError::HostCapability {
            what: "an unknown invalidation granularity",
        })?;
        let st = self.lock();
        let scope = match granu {
            Granu::Domain => InvalidationScope::Domain,
            Granu::Pasid(p) => {
                let flags = InvPasidFlags::from_bits_retain(p.flags);
                InvalidationScope::Pasid {
                    pasid: self.named_pasid(&st, flags.contains(InvPasidFlags::PASID), p.pasid)?,
                    archid: flags.contains(InvPasidFlags::ARCHID).then_some(p.archid),
                }
            }
            Granu::Addr(a) => {
                let flags = InvAddrFlags::from_bits_retain(a.flags);
                let bad = ViommuError::BadRange {
                    addr: a.addr,
                    granule_size: a.granule_size,
                    nb_granules: a.nb_granules,
                };
                if !a.granule_size.is_power_of_two() || a.granule_size < 4096 {
                    return Err(bad);
                }
                // v5.10 only logs a misaligned address: round it down to its granule.
                let addr = a.addr & !(a.granule_size - 1);
                // An end at exactly 2^64 (the last page, or addr 0 with 2^52 × 4 KiB) is
                // valid; only an empty range or one past 2^64 is not.
                let last = InvAddrInfo { addr, ..a }.range_last().ok_or(bad)?;
                InvalidationScope::Addr {
                    pasid: self.named_pasid(&st, flags.contains(InvAddrFlags::PASID), a.pasid)?,
                    archid: flags.contains(InvAddrFlags::ARCHID).then_some(a.archid),
                    addr,
                    last,
                    granule_size: a.granule_size,
                    leaf: flags.contains(InvAddrFlags::LEAF),
                }
            }
        };
        // No cache named: valid, and nothing to do (the VT-d driver's loop over the set
        // bits runs zero times).
        if !caches.is_empty() {
            self.host
                .backend
                .invalidate(self.vm.id, &Invalidation { caches, scope });
        }
        drop(st);
        Ok(())
    }

    /// The PASID an invalidation names: on VT-d a host PASID the VM owns; on SMMUv3 a
    /// substream id within the bound table (the table is the guest's own).
    fn named_pasid(&self, st: &VmState, named: bool, pasid: u64) -> Result<Option<u32>> {
        if !named {
            return Ok(None);
        }
        let p = u32::try_from(pasid).unwrap_or(u32::MAX);
        let ok = match self.host_iommu() {
            HostIommu::Vtd(_) => st.view.pasids.contains(&p),
            HostIommu::Smmuv3(_) => {
                let bits = st
                    .view
                    .pasid_table
                    .map_or(self.host_iommu().pasid_bits(), |t| t.pasid_bits);
                u64::from(p) < (1u64 << bits)
            }
        };
        if ok {
            Ok(Some(p))
        } else {
            Err(ViommuError::NotOwned { pasid: p })
        }
    }

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
    fn take_unread(st: &mut VmState) -> Option<PendingFault> {
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
                    && (!f.request.needs_pasid || (pasid_valid && f.guest_pasid == Some(msg.pasid)))
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

    fn teardown(&self) {
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
            self.host.pasids.free(p);
        }
        if st.view.pasid_table.take().is_some() {
            self.host.backend.clear_pasid_table(self.vm.id);
        }
        st.dead = true;
    }
}

fn fault_record(f: &PendingFault) -> Fault {
    let r = &f.request;
    let mut flags = PageRequestFlags::empty();
    flags.set(PageRequestFlags::PASID_VALID, f.guest_pasid.is_some());
    flags.set(PageRequestFlags::LAST_PAGE, r.last_page);
    flags.set(PageRequestFlags::PRIV_DATA, r.private_data.is_some());
    flags.set(PageRequestFlags::NEEDS_PASID, r.needs_pasid);
    Fault::page_request(FaultPageRequest {
        flags: flags.bits(),
        pasid: f.guest_pasid.unwrap_or(0),
        grpid: r.grpid,
        perm: r.perm.bits(),
        addr: r.addr,
        private_data: r.private_data.unwrap_or_default(),
    })
}

impl<B: Backend> Drop for Vm<B> {
    fn drop(&mut self) {
        self.teardown();
    }
}

/// The VFIO nesting dispatch reaches the VM here: a refusal is the [`ViommuError`] that
/// names the rule (`vsva_vfio::nesting::DispatchError::Handler`).
impl<B: Backend> NestingHandler for Vm<B> {
    type Error = ViommuError;

    fn pasid_alloc(&self, min: u32, max: u32) -> Result<u32> {
        self.alloc_pasid(min, max)
    }

    fn pasid_free(&self, min: u32, max: u32) -> Result<()> {
        self.free_pasids(min, max);
        Ok(())
    }

    fn bind_pgtbl(&self, payload: &[u8]) -> Result<()> {
        self.bind_gpasid(payload)
    }

    fn unbind_pgtbl(&self, payload: &[u8]) -> Result<()> {
        self.unbind_gpasid(payload)
    }

    fn cache_invalidate(&self, payload: &[u8]) -> Result<()> {
        Vm::cache_invalidate(self, payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::soft::SoftwareIommu;

    /// Ids do not wrap after 2^32 VMs (they were an `AtomicU32`).
    #[test]
    fn vm_ids_stay_unique_past_two_to_the_32() {
        let viommu = Viommu::new(SoftwareIommu::new(HostIommu::vtd_default()));
        let first = viommu.create_vm(VmConfig::default());
        viommu
            .host
            .next_vm
            .store(u64::from(u32::MAX) - 1, Ordering::Relaxed);
        let ids: Vec<VmId> = (0..4)
            .map(|_| viommu.create_vm(VmConfig::default()).id())
            .collect();
        assert!(!ids.contains(&first.id()), "{ids:?}");
        assert_eq!(ids[3], VmId(u64::from(u32::MAX) + 2));
    }
}
