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

use vsva_uapi::consts::{NestingFeatures, PageRequestFlags, PageResponseCode};
use vsva_uapi::{Errno, Fault, FaultPageRequest, NestingInfo, Policy};
use vsva_vfio::nesting::NestingHandler;

use crate::backend::{
    Backend, DeviceId, GpasidBind, GuestPasid, HostPageResponse, HostPasid, PageRequest,
    PasidTableBind, VmId,
};
use crate::error::{Result, ViommuError};
use crate::host::HostIommu;
use crate::pasid::PasidSpace;

mod binds;
mod devices;
mod faults;
mod invalidate;
mod pasids;

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
    pub guest_pasid: Option<GuestPasid>,
    /// The VM has read the record.
    pub read: bool,
}

/// A copy of everything one VM holds, for tests and for VMM state inspection. Two
/// snapshots compare equal exactly when the VM's state is the same.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VmSnapshot {
    /// Host PASIDs the VM owns.
    pub pasids: BTreeSet<HostPasid>,
    /// Bound guest page tables, by host PASID (VT-d).
    pub binds: BTreeMap<HostPasid, GpasidBind>,
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
    gpasids: BTreeMap<GuestPasid, HostPasid>,
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
/// assert!(viommu.pasid_space().is_allocated(p.raw_value()));
/// drop(vm); // tearing the VM down frees what it held
/// assert!(!viommu.pasid_space().is_allocated(p.raw_value()));
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
    let r = vsva_rng::u32().map_err(|e| ViommuError::Entropy {
        errno: Errno(e.errno()),
    })?;
    let span = u64::from(hi - lo) + 1;
    // Multiply-shift maps the 32 random bits onto the span; the bias (below 2^-12 for
    // any PASID span) does not matter for a search start, which needs only be
    // unpredictable.
    Ok(lo + ((u64::from(r) * span) >> 32) as u32)
}

fn response_to(request: &PageRequest, code: PageResponseCode) -> HostPageResponse {
    HostPageResponse {
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
            Some(p) => Some(
                st.view
                    .binds
                    .get(&p)
                    .and_then(|b| b.gpasid)
                    .unwrap_or(GuestPasid(p.0)),
            ),
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
        pasid: f.guest_pasid.map_or(0, GuestPasid::raw_value),
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
        self.alloc_pasid(min, max).map(HostPasid::raw_value)
    }

    fn pasid_free(&self, min: u32, max: u32) -> Result<()> {
        self.free_pasids(HostPasid(min), HostPasid(max));
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
