//! `vsva-viommu`'s iommufd backend on the real kernel: the 2020-API request sequences
//! shared with the software backend (`viommu/tests/sequences/mod.rs`), and a step-by-step
//! walk through bind, batched invalidation, a partial failure, a page request and its
//! response, and unbind, each step checked against the kernel's own accounting.
//!
//! The hardware is the kernel's mock IOMMU (`IOMMUFD_TEST`, driven with the helpers of
//! [`crate::mock_nesting`]), so this runs in full only in the harness's `mock` boot; in
//! the VT-d boots each test asserts that the mock is unavailable there
//! ([`Mock::new`]) and stops.
//!
//! **The payload is a parameter.** [`SelftestFormat`] is a [`StageOneFormat`] whose
//! nested-HWPT data and invalidation entries are the mock driver's selftest types
//! (`IOMMU_HWPT_DATA_SELFTEST`, `IOMMU_HWPT_INVALIDATE_DATA_SELFTEST`): they stand in for
//! `IOMMU_HWPT_DATA_VTD_S1` / `iommu_hwpt_vtd_s1_invalidate`. Everything else, the
//! backend's HWPT steps, batching, rollback, fault queue and cookies, is the same code
//! that drives VT-d with [`vsva_viommu::iommufd::VtdS1`]. The vIOMMU above it is given
//! VT-d's defaults ([`HostIommu::vtd_default`]): the mock has no VT-d registers.
//!
//! **The kernel's accounting.** The tests give `/dev/iommu` a [`Recorder`]: a
//! [`Kernel`] that makes the real system calls and writes down what the kernel
//! *answered*: the HWPTs it allocated (with their data) and destroyed, each
//! `IOMMU_HWPT_INVALIDATE` with the `entry_num` it wrote back, the fault records it
//! delivered and the page responses it took. From that ledger the tests keep a shadow of
//! each nested HWPT's four-entry mock IOTLB and compare it with the kernel's, entry by
//! entry (`IOMMU_TEST_OP_MD_CHECK_IOTLB`), before every observation; a destroyed HWPT
//! must be gone (`ENOENT`); the HWPT a device is attached to cannot be destroyed
//! (`EBUSY`).
//!
//! # The mock device and PASIDs
//! The mock device has no PASIDs (its `out_max_pasid_log2` is 0) and one translation
//! context, its RID; the mock driver sets `user_pasid_table`, so the kernel delivers a
//! page request tagged with any PASID to the nested domain attached to the RID.
//! [`MockDevice`] (the [`DeviceAttach`]) therefore attaches "PASID p" by
//! `IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE` of the RID onto p's nested HWPT, and keeps PASID
//! attaches as a stack: the latest holds the RID, earlier ones are *shadowed* (their
//! nested HWPTs stay allocated and take invalidations, which need no attach, but the
//! RID is not on them) until the ones above them detach; detaching the top moves the
//! RID to the one below, or back to the IOAS. The backend is told a 20-bit PASID width.
//! Limitations, none of which the tests rely on: a page request for a shadowed PASID
//! is delivered to the top PASID's HWPT (the queue is shared, so it still arrives), and
//! moving the RID answers the pending requests of the HWPT it leaves (`INVALID`, the
//! kernel's auto-response), so a later response to one of them is refused by the kernel.
//!
//! # References
//! 6.12: `drivers/iommu/iommufd/selftest.c` (`mock_domain_alloc_user`,
//! `mock_domain_cache_invalidate_user`, `iommufd_test_md_check_iotlb`,
//! `iommufd_test_trigger_iopf`), `drivers/iommu/iommufd/fault.c`
//! (`iommufd_auto_response_faults`), `drivers/iommu/io-pgfault.c` (`find_fault_handler`).

#[path = "../../../viommu/tests/sequences/mod.rs"]
pub(crate) mod sequences;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::CStr;
use std::os::fd::RawFd;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use sequences::{bind_payload, inv_addr, inv_pasid, response_payload, SequenceProbe, GPGD};
use vsva_uapi::consts::{CacheInvType, PageResponseCode};
use vsva_uapi::iommufd::{HwptPageResponse, HwptPgfault};
use vsva_uapi::{Errno, HwptVtdS1};
use vsva_vfio::iommufd::{
    DevId, HwptData, HwptId, IoasId, Iommufd, IOMMU_DESTROY, IOMMU_HWPT_ALLOC,
    IOMMU_HWPT_INVALIDATE,
};
use vsva_vfio::sys::{DataLen, Host, Kernel};
use vsva_viommu::iommufd::{
    probe_host, DeviceAttach, Diagnostic, InvalidationType, IommufdBackend, IommufdConfig,
    IommufdDevice, NestingSupport, StageOneFormat,
};
use vsva_viommu::{
    HostPasid,
    DeviceId, GpasidBind, HostIommu, Invalidation, InvalidationScope, Viommu, ViommuError, Vm,
    VmConfig, VmId,
};
use zerocopy::{FromBytes, FromZeros, IntoBytes};

use crate::guest;
use crate::mock_nesting::{
    mock_replace, mock_trigger_iopf, test_cmd, CheckIotlb, HwptInvalidateSelftest, IommuTestCmd,
    KResult, Mock, MockDomain, FAULT_ID_VALID, IOMMU_HWPT_DATA_SELFTEST,
    IOMMU_HWPT_INVALIDATE_DATA_SELFTEST, IOMMU_TEST_INVALIDATE_FLAG_ALL,
    IOMMU_TEST_OP_MD_CHECK_IOTLB, IOMMU_TEST_OP_MOCK_DOMAIN, MOCK_IOTLB_NUM, NEST_PARENT,
    PERM_READ, PERM_WRITE, PGFAULT_LAST_PAGE, PGFAULT_PASID_VALID, RESP_SUCCESS,
};

/// The PASID width the backend is told for a mock device (the mock reports 0).
pub(crate) const PASID_WIDTH: u8 = 20;
/// `IOMMU_HW_INFO_TYPE_SELFTEST`.
const HW_INFO_TYPE_SELFTEST: u32 = 0xfeed_beef;
/// A mock IOTLB, one value per entry.
pub(crate) type Iotlb = [u32; MOCK_IOTLB_NUM];

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .map_or(0, |s| u32::from_ne_bytes([s[0], s[1], s[2], s[3]]))
}

// ---- the payload -----------------------------------------------------------------------

/// The mock IOMMU's selftest types as a [`StageOneFormat`], standing in for VT-d stage 1.
///
/// - **bind** → `iommu_hwpt_selftest { iotlb }` with `iotlb` = the guest page table's
///   frame number (`gpgd >> 12`), so every mock IOTLB entry of a fresh nested HWPT names
///   its bind ([`SelftestFormat::gpgd_of`] reads it back). A `gpgd` that is not 4 KiB
///   aligned, is 0, or whose frame number does not fit 32 bits is `EINVAL` (the format
///   cannot express it). Nothing else of the bind (width, SRE/EAFE/WPE) has a place in
///   the selftest data.
/// - **invalidation** (IOTLB or device IOTLB named; the PASID cache alone sends nothing):
///   one `iommu_hwpt_invalidate_selftest` entry. A domain or PASID scope →
///   `IOMMU_TEST_INVALIDATE_FLAG_ALL` (every entry cleared). An address scope within one
///   4 KiB page → `iotlb_id = (addr >> 12) % sets`: the mock IOTLB read as a
///   direct-mapped TLB of `sets` entries indexed by page number; an address scope over
///   more than one page → `FLAG_ALL` (over-invalidating is always correct).
///
/// `sets` is the mock's 4 ([`SelftestFormat::new`]); the step-by-step test uses 5, so
/// page 4 becomes `iotlb_id` 4, an entry the kernel refuses (`EINVAL`).
#[derive(Debug)]
pub(crate) struct SelftestFormat {
    sets: u64,
    refuse_next_bind: AtomicBool,
}

impl SelftestFormat {
    /// The format for the mock's four IOTLB entries.
    pub(crate) fn new() -> SelftestFormat {
        SelftestFormat::with_sets(MOCK_IOTLB_NUM as u64)
    }

    /// A format that indexes `sets` IOTLB entries (ids past 3 are refused by the kernel).
    pub(crate) fn with_sets(sets: u64) -> SelftestFormat {
        SelftestFormat {
            sets: sets.max(1),
            refuse_next_bind: AtomicBool::new(false),
        }
    }

    /// The `iotlb` value of a bind of `gpgd`.
    pub(crate) fn iotlb_of(gpgd: u64) -> Option<u32> {
        if gpgd & 0xfff != 0 {
            return None;
        }
        u32::try_from(gpgd >> 12).ok().filter(|v| *v != 0)
    }

    /// The `gpgd` whose bind has this `iotlb` value.
    pub(crate) fn gpgd_of(iotlb: u32) -> u64 {
        u64::from(iotlb) << 12
    }

    /// The test's lever for a real kernel refusal of a bind: the next bind's nested HWPT
    /// carries `IOMMU_HWPT_DATA_VTD_S1` data, which the mock driver refuses
    /// (`mock_domain_alloc_user`: `EOPNOTSUPP`), after the backend allocated the device's
    /// nest parent, which it must then destroy.
    pub(crate) fn refuse_next_bind(&self) {
        self.refuse_next_bind.store(true, Ordering::SeqCst);
    }

    /// The entry for `inv`, if it names a cache the format sends.
    pub(crate) fn entry(&self, inv: &Invalidation) -> Option<HwptInvalidateSelftest> {
        if !inv
            .caches
            .intersects(CacheInvType::IOTLB | CacheInvType::DEV_IOTLB)
        {
            return None;
        }
        let all = HwptInvalidateSelftest {
            flags: IOMMU_TEST_INVALIDATE_FLAG_ALL,
            iotlb_id: 0,
        };
        Some(match inv.scope {
            InvalidationScope::Domain | InvalidationScope::Pasid { .. } => all,
            InvalidationScope::Addr { addr, last, .. } => {
                if addr >> 12 == last >> 12 {
                    HwptInvalidateSelftest {
                        flags: 0,
                        iotlb_id: u32::try_from((addr >> 12) % self.sets).unwrap_or(u32::MAX),
                    }
                } else {
                    all
                }
            }
        })
    }
}

impl StageOneFormat for SelftestFormat {
    fn name(&self) -> &'static str {
        "selftest"
    }

    fn gpasid_data(&self, bind: &GpasidBind) -> Result<HwptData, Errno> {
        let iotlb = SelftestFormat::iotlb_of(bind.gpgd).ok_or(Errno::EINVAL)?;
        if self.refuse_next_bind.swap(false, Ordering::SeqCst) {
            let mut s1 = HwptVtdS1::new_zeroed();
            s1.pgtbl_addr = bind.gpgd;
            s1.addr_width = bind.addr_width;
            return Ok(HwptData::VtdS1(s1));
        }
        Ok(HwptData::Driver {
            data_type: IOMMU_HWPT_DATA_SELFTEST,
            data: iotlb.to_ne_bytes().to_vec(),
        })
    }

    fn invalidation_type(&self) -> Option<InvalidationType> {
        Some(InvalidationType {
            data_type: IOMMU_HWPT_INVALIDATE_DATA_SELFTEST,
            entry_len: core::mem::size_of::<HwptInvalidateSelftest>(),
        })
    }

    fn invalidation_entries(&self, inv: &Invalidation, out: &mut Vec<u8>) -> usize {
        match self.entry(inv) {
            Some(e) => {
                out.extend_from_slice(e.as_bytes());
                1
            }
            None => 0,
        }
    }
}

// ---- the device ------------------------------------------------------------------------

/// Where a mock device's PASIDs and RID are (as the kernel answered the replaces).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Attachments {
    /// PASID attaches, oldest first; the last one holds the RID (see the module docs).
    pub(crate) stack: Vec<(u32, HwptId)>,
    /// The page table the kernel reported attached by the last replace (for the IOAS:
    /// its automatic paging HWPT).
    pub(crate) rid: u32,
}

/// A mock device (`IOMMU_TEST_OP_MOCK_DOMAIN`) as a [`DeviceAttach`]: PASID attaches
/// through `IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE` (see the module docs). Clones share the
/// attachments, so the test can look at what the backend's clone did.
#[derive(Debug, Clone)]
pub(crate) struct MockDevice {
    iommufd: Arc<Iommufd>,
    /// The IOAS it was created on (and returns to).
    pub(crate) ioas: IoasId,
    /// The selftest object (`MOCK_DOMAIN_REPLACE`'s id).
    pub(crate) stdev_id: u32,
    /// Its iommufd device id (`dev_id` of `HWPT_ALLOC`, `TRIGGER_IOPF`, fault records).
    pub(crate) idev: DevId,
    state: Arc<Mutex<Attachments>>,
}

fn ioctl_err(op: &'static str) -> impl Fn(Errno) -> vsva_vfio::Error {
    move |e| vsva_vfio::Error::ioctl(op, e)
}

const REPLACE: &str = "IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE";

impl MockDevice {
    /// A new mock device on `ioas` of `iommufd`.
    pub(crate) fn create(iommufd: &Arc<Iommufd>, ioas: IoasId) -> KResult<MockDevice> {
        let mut cmd = IommuTestCmd::new(IOMMU_TEST_OP_MOCK_DOMAIN, ioas.0, &MockDomain::default());
        test_cmd(iommufd, cmd.as_mut_bytes())?;
        let out: MockDomain = cmd.member();
        Ok(MockDevice {
            iommufd: Arc::clone(iommufd),
            ioas,
            stdev_id: out.out_stdev_id,
            idev: DevId(out.out_idev_id),
            state: Arc::new(Mutex::new(Attachments {
                stack: Vec::new(),
                rid: out.out_hwpt_id,
            })),
        })
    }

    /// The attachments now.
    pub(crate) fn attachments(&self) -> Attachments {
        lock(&self.state).clone()
    }

    /// `IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE`: the RID onto `pt`; the page table attached.
    fn replace(&self, pt: u32) -> KResult<u32> {
        mock_replace(&self.iommufd, self.stdev_id, pt)
    }

    /// `IOMMU_TEST_OP_TRIGGER_IOPF`: the device reports a one-page page request.
    pub(crate) fn trigger_iopf(&self, pasid: u32, grpid: u32, perm: u32, addr: u64) -> KResult<()> {
        mock_trigger_iopf(&self.iommufd, self.idev, pasid, grpid, perm, addr)
    }
}

impl DeviceAttach for MockDevice {
    fn attach_pasid(&self, pasid: HostPasid, hwpt: HwptId) -> vsva_vfio::Result<()> {
        let pasid = pasid.raw_value();
        let mut st = lock(&self.state);
        if st.stack.iter().any(|(p, _)| *p == pasid) {
            return Err(vsva_vfio::Error::ioctl(REPLACE, Errno::EBUSY));
        }
        st.rid = self.replace(hwpt.0).map_err(ioctl_err(REPLACE))?;
        st.stack.push((pasid, hwpt));
        Ok(())
    }

    fn detach_pasid(&self, pasid: HostPasid, _parent: HwptId) -> vsva_vfio::Result<()> {
        let pasid = pasid.raw_value();
        let mut st = lock(&self.state);
        let Some(i) = st.stack.iter().position(|(p, _)| *p == pasid) else {
            return Err(vsva_vfio::Error::ioctl(REPLACE, Errno::EINVAL));
        };
        if i + 1 == st.stack.len() {
            // The RID leaves this PASID's HWPT: to the PASID below, or the IOAS.
            let back = i
                .checked_sub(1)
                .map_or(self.ioas.0, |below| st.stack[below].1 .0);
            st.rid = self.replace(back).map_err(ioctl_err(REPLACE))?;
        }
        st.stack.remove(i);
        Ok(())
    }

    fn attach_rid(&self, pt: u32) -> vsva_vfio::Result<()> {
        let mut st = lock(&self.state);
        if !st.stack.is_empty() {
            return Err(vsva_vfio::Error::ioctl(REPLACE, Errno::EBUSY));
        }
        st.rid = self.replace(pt).map_err(ioctl_err(REPLACE))?;
        Ok(())
    }
}

/// `IOMMU_TEST_OP_MD_CHECK_IOTLB`: `Ok` iff nested HWPT `hwpt` has `iotlb[id] == value`.
fn check_iotlb(iommufd: &Iommufd, hwpt: u32, id: u32, value: u32) -> KResult<()> {
    let mut cmd = IommuTestCmd::new(
        IOMMU_TEST_OP_MD_CHECK_IOTLB,
        hwpt,
        &CheckIotlb { id, iotlb: value },
    );
    test_cmd(iommufd, cmd.as_mut_bytes()).map(drop)
}

/// Whether the kernel's mock IOTLB of `hwpt` is exactly `want` (each entry equal, and one
/// bit off refused, so the check does compare).
pub(crate) fn iotlb_is(iommufd: &Iommufd, hwpt: u32, want: &Iotlb) -> Result<(), String> {
    for (i, w) in (0u32..).zip(want) {
        let eq = check_iotlb(iommufd, hwpt, i, *w);
        let off = check_iotlb(iommufd, hwpt, i, *w ^ 1);
        if eq.is_err() || off != Err(Errno::EINVAL) {
            return Err(format!(
                "HWPT {hwpt}: iotlb[{i}] == {w:#x}? the kernel: {eq:?} (one bit off: {off:?}); \
                 want {want:x?}"
            ));
        }
    }
    Ok(())
}

// ---- the kernel's answers ----------------------------------------------------------------

/// A HWPT the kernel allocated (`IOMMU_HWPT_ALLOC` succeeded) and has not destroyed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hwpt {
    /// `dev_id`.
    pub(crate) dev_id: u32,
    /// `pt_id`: the IOAS or the nest parent.
    pub(crate) pt_id: u32,
    /// `flags`.
    pub(crate) flags: u32,
    /// `data_type` (0: a paging HWPT).
    pub(crate) data_type: u32,
    /// The driver data the kernel read.
    pub(crate) data: Vec<u8>,
    /// `fault_id` (meaningful with `FAULT_ID_VALID`).
    pub(crate) fault_id: u32,
    /// For a selftest nested HWPT: the `iotlb` it was given, and its mock IOTLB as the
    /// kernel's answers say it must be now.
    pub(crate) iotlb: Option<(u32, Iotlb)>,
}

/// One `IOMMU_HWPT_INVALIDATE`, with what the kernel wrote back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InvalidateCall {
    /// `hwpt_id`.
    pub(crate) hwpt: u32,
    /// The device the HWPT was allocated for (0 if the ledger does not know the HWPT).
    pub(crate) dev_id: u32,
    /// `data_type`.
    pub(crate) data_type: u32,
    /// `entry_len`.
    pub(crate) entry_len: u32,
    /// The entries sent.
    pub(crate) entries: Vec<u8>,
    /// `entry_num` as sent.
    pub(crate) sent: u32,
    /// `entry_num` as the kernel wrote it back: the entries it handled.
    pub(crate) handled: u32,
    /// The ioctl's result.
    pub(crate) result: KResult<()>,
}

/// What the kernel answered, call by call.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    /// Live HWPTs by id.
    pub(crate) hwpts: BTreeMap<u32, Hwpt>,
    /// HWPT ids the kernel destroyed (`IOMMU_DESTROY` succeeded), in order.
    pub(crate) destroyed: Vec<u32>,
    /// Other objects the kernel destroyed (fault queues).
    pub(crate) destroyed_other: Vec<u32>,
    /// Every `IOMMU_HWPT_INVALIDATE`.
    pub(crate) invalidations: Vec<InvalidateCall>,
    /// Fault records the kernel delivered (fault fd reads).
    pub(crate) faults: Vec<HwptPgfault>,
    /// Page responses written to the fault fd, and whether the kernel took each.
    pub(crate) responses: Vec<(HwptPageResponse, bool)>,
}

/// The real kernel ([`Host`]), with a [`Ledger`] of its answers to the calls that matter
/// here. Every call goes to the kernel unchanged.
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    ledger: Mutex<Ledger>,
}

impl Recorder {
    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        lock(&self.ledger)
    }

    fn allocated(&self, arg: &[u8], data: &[u8]) {
        let data_type = u32_at(arg, 24);
        let iotlb = (data_type == IOMMU_HWPT_DATA_SELFTEST && data.len() >= 4).then(|| {
            let v = u32_at(data, 0);
            (v, [v; MOCK_IOTLB_NUM])
        });
        let hwpt = Hwpt {
            dev_id: u32_at(arg, 8),
            pt_id: u32_at(arg, 12),
            flags: u32_at(arg, 4),
            data_type,
            data: data.to_vec(),
            fault_id: u32_at(arg, 40),
            iotlb,
        };
        self.ledger().hwpts.insert(u32_at(arg, 16), hwpt);
    }

    fn invalidated(&self, arg: &[u8], data: &[u8], sent: u32, result: KResult<()>) {
        let (hwpt, data_type, entry_len) = (u32_at(arg, 4), u32_at(arg, 16), u32_at(arg, 20));
        let handled = u32_at(arg, 24);
        let mut l = self.ledger();
        let dev_id = l.hwpts.get(&hwpt).map_or(0, |h| h.dev_id);
        let n = (entry_len as usize)
            .saturating_mul(sent as usize)
            .min(data.len());
        let entries = data[..n].to_vec();
        if data_type == IOMMU_HWPT_INVALIDATE_DATA_SELFTEST {
            if let Some((_, iotlb)) = l.hwpts.get_mut(&hwpt).and_then(|h| h.iotlb.as_mut()) {
                for e in entries
                    .chunks_exact((entry_len as usize).max(1))
                    .take(handled as usize)
                {
                    let (flags, id) = (u32_at(e, 0), u32_at(e, 4) as usize);
                    if flags & IOMMU_TEST_INVALIDATE_FLAG_ALL != 0 {
                        *iotlb = [0; MOCK_IOTLB_NUM];
                    } else if let Some(slot) = iotlb.get_mut(id) {
                        *slot = 0;
                    }
                }
            }
        }
        l.invalidations.push(InvalidateCall {
            hwpt,
            dev_id,
            data_type,
            entry_len,
            entries,
            sent,
            handled,
            result,
        });
    }
}

// SAFETY: every method passes its arguments unchanged to the same method of `Host` (so
// the caller's contract is `Host`'s), and only reads the buffers it was handed, within
// their bounds, after the call; it maps no DMA.
#[allow(unsafe_code)]
unsafe impl Kernel for Recorder {
    fn open(&self, path: &Path, write: bool) -> Result<RawFd, Errno> {
        Host.open(path, write)
    }

    unsafe fn close(&self, fd: RawFd) {
        // SAFETY: the caller keeps the trait's contract for these arguments.
        unsafe { Host.close(fd) };
    }

    unsafe fn ioctl_value(&self, fd: RawFd, request: u32, value: u64) -> Result<i32, Errno> {
        // SAFETY: the caller keeps the trait's contract for these arguments.
        unsafe { Host.ioctl_value(fd, request, value) }
    }

    unsafe fn ioctl_i32(&self, fd: RawFd, request: u32, arg: &mut i32) -> Result<i32, Errno> {
        // SAFETY: the caller keeps the trait's contract for these arguments.
        unsafe { Host.ioctl_i32(fd, request, arg) }
    }

    unsafe fn ioctl_cstr(&self, fd: RawFd, request: u32, arg: &CStr) -> Result<i32, Errno> {
        // SAFETY: the caller keeps the trait's contract for these arguments.
        unsafe { Host.ioctl_cstr(fd, request, arg) }
    }

    unsafe fn ioctl_sized(&self, fd: RawFd, request: u32, arg: &mut [u8]) -> Result<i32, Errno> {
        // SAFETY: the caller keeps the trait's contract for these arguments.
        let r = unsafe { Host.ioctl_sized(fd, request, arg) };
        if r.is_ok() {
            match request {
                IOMMU_HWPT_ALLOC => self.allocated(arg, &[]),
                IOMMU_DESTROY => {
                    let id = u32_at(arg, 4);
                    let mut l = self.ledger();
                    if l.hwpts.remove(&id).is_some() {
                        l.destroyed.push(id);
                    } else {
                        l.destroyed_other.push(id);
                    }
                }
                _ => {}
            }
        }
        r
    }

    unsafe fn ioctl_sized_data(
        &self,
        fd: RawFd,
        request: u32,
        arg: &mut [u8],
        ptr_at: usize,
        len: DataLen,
        data: &mut [u8],
    ) -> Result<i32, Errno> {
        let sent = u32_at(arg, 24);
        // SAFETY: the caller keeps the trait's contract for these arguments.
        let r = unsafe { Host.ioctl_sized_data(fd, request, arg, ptr_at, len, data) };
        match request {
            IOMMU_HWPT_ALLOC if r.is_ok() => {
                let n = (u32_at(arg, 28) as usize).min(data.len());
                self.allocated(arg, &data[..n]);
            }
            IOMMU_HWPT_INVALIDATE => self.invalidated(arg, data, sent, r.map(drop)),
            _ => {}
        }
        r
    }

    // The recorder maps no DMA: nothing here does.
    unsafe fn dma_map(&self, _fd: RawFd, _request: u32, _arg: &mut [u8]) -> Result<i32, Errno> {
        Err(Errno::ENOTTY)
    }

    unsafe fn pread(&self, fd: RawFd, buf: &mut [u8], offset: u64) -> Result<usize, Errno> {
        // SAFETY: the caller keeps the trait's contract for these arguments.
        unsafe { Host.pread(fd, buf, offset) }
    }

    unsafe fn pwrite(&self, fd: RawFd, buf: &[u8], offset: u64) -> Result<usize, Errno> {
        // SAFETY: the caller keeps the trait's contract for these arguments.
        unsafe { Host.pwrite(fd, buf, offset) }
    }

    /// Only fault fds are read through an iommufd's kernel.
    unsafe fn read(&self, fd: RawFd, buf: &mut [u8]) -> Result<usize, Errno> {
        // SAFETY: the caller keeps the trait's contract for these arguments.
        let r = unsafe { Host.read(fd, buf) };
        if let Ok(n) = r {
            let records = buf[..n.min(buf.len())]
                .chunks_exact(core::mem::size_of::<HwptPgfault>())
                .filter_map(|c| HwptPgfault::read_from_bytes(c).ok());
            self.ledger().faults.extend(records);
        }
        r
    }

    /// Only fault fds are written through an iommufd's kernel.
    unsafe fn write(&self, fd: RawFd, buf: &[u8]) -> Result<usize, Errno> {
        // SAFETY: the caller keeps the trait's contract for these arguments.
        let r = unsafe { Host.write(fd, buf) };
        let took = r.map_or(0, |n| n / core::mem::size_of::<HwptPageResponse>());
        let records = buf
            .chunks_exact(core::mem::size_of::<HwptPageResponse>())
            .filter_map(|c| HwptPageResponse::read_from_bytes(c).ok())
            .enumerate()
            .map(|(i, resp)| (resp, i < took));
        self.ledger().responses.extend(records);
        r
    }
}

// ---- the probe -----------------------------------------------------------------------------

type Backend = IommufdBackend<SelftestFormat>;

/// The iommufd backend on the kernel's mock IOMMU, as the shared sequences see it: one
/// iommufd (through a [`Recorder`]), an IOAS per VM, a mock device per vIOMMU device.
pub(crate) struct KernelProbe {
    recorder: Arc<Recorder>,
    iommufd: Arc<Iommufd>,
    viommu: Viommu<Backend>,
    ioas: Mutex<HashMap<VmId, IoasId>>,
    devices: Mutex<BTreeMap<DeviceId, (MockDevice, VmId)>>,
    next_device: Mutex<u32>,
}

impl KernelProbe {
    /// A backend with `format` and `config` on a fresh iommufd.
    pub(crate) fn new(format: SelftestFormat, config: IommufdConfig) -> KernelProbe {
        let recorder = Arc::new(Recorder::default());
        let kernel: Arc<dyn Kernel> = Arc::clone(&recorder) as Arc<dyn Kernel>;
        let iommufd = Arc::new(Iommufd::open(kernel).expect("open /dev/iommu"));
        let backend = IommufdBackend::new(
            Arc::clone(&iommufd),
            HostIommu::vtd_default(),
            format,
            config,
        )
        .expect("IommufdBackend::new (IOMMU_FAULT_QUEUE_ALLOC)");
        KernelProbe {
            recorder,
            iommufd,
            viommu: Viommu::new(backend),
            ioas: Mutex::new(HashMap::new()),
            devices: Mutex::new(BTreeMap::new()),
            next_device: Mutex::new(0x100),
        }
    }

    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        self.recorder.ledger()
    }

    /// The mock device behind `device`.
    pub(crate) fn mock(&self, device: DeviceId) -> MockDevice {
        lock(&self.devices)[&device].0.clone()
    }

    fn devices_of(&self, vm: VmId) -> Vec<(DeviceId, MockDevice)> {
        lock(&self.devices)
            .iter()
            .filter(|(_, (_, v))| *v == vm)
            .map(|(d, (m, _))| (*d, m.clone()))
            .collect()
    }

    fn dev_ids_of(&self, vm: VmId) -> BTreeSet<u32> {
        self.devices_of(vm).iter().map(|(_, m)| m.idev.0).collect()
    }

    /// Where the kernel and the ledger disagree: a live selftest HWPT whose mock IOTLB is
    /// not the shadow's, a destroyed HWPT the kernel still finds.
    fn disagreements(&self) -> Vec<String> {
        let l = self.ledger();
        let mut out = Vec::new();
        for (id, h) in &l.hwpts {
            if let Some((_, want)) = &h.iotlb {
                if let Err(e) = iotlb_is(&self.iommufd, *id, want) {
                    out.push(e);
                }
            }
        }
        for id in l.destroyed.iter().filter(|id| !l.hwpts.contains_key(id)) {
            let r = check_iotlb(&self.iommufd, *id, 0, 0);
            if r != Err(Errno::ENOENT) {
                out.push(format!(
                    "destroyed HWPT {id}: MD_CHECK_IOTLB {r:?}, not ENOENT"
                ));
            }
        }
        out
    }

    fn assert_kernel_agrees(&self, when: &str) {
        let d = self.disagreements();
        assert!(d.is_empty(), "{when}: kernel vs ledger: {d:?}");
    }
}

impl SequenceProbe for KernelProbe {
    type Backend = Backend;

    fn viommu(&self) -> &Viommu<Backend> {
        &self.viommu
    }

    fn add_device(&self, vm: &Vm<Backend>) -> DeviceId {
        let ioas = *lock(&self.ioas)
            .entry(vm.id())
            .or_insert_with(|| self.iommufd.ioas_alloc().expect("IOMMU_IOAS_ALLOC"));
        let mock = MockDevice::create(&self.iommufd, ioas).expect("IOMMU_TEST_OP_MOCK_DOMAIN");
        let device = {
            let mut next = lock(&self.next_device);
            *next += 1;
            DeviceId(*next)
        };
        vm.attach_device(device).expect("attach_device");
        self.viommu
            .backend()
            .add_device(
                vm.id(),
                device,
                IommufdDevice::new(mock.idev, ioas, PASID_WIDTH, Box::new(mock.clone())),
            )
            .expect("backend add_device");
        lock(&self.devices).insert(device, (mock, vm.id()));
        device
    }

    fn settle(&self, vm: VmId) {
        self.viommu.backend().flush(vm);
    }

    /// PASID → `gpgd` read back from the `iotlb` the kernel holds for the nested HWPT each
    /// PASID is attached to; the HWPT on top of each device's stack is the one the kernel
    /// has the RID on (the replace's answer, and `IOMMU_DESTROY` refused with `EBUSY`).
    fn bound(&self, vm: VmId) -> BTreeMap<u32, u64> {
        self.assert_kernel_agrees("bound");
        let mut out = BTreeMap::new();
        for (device, mock) in self.devices_of(vm) {
            let st = mock.attachments();
            for (pasid, hwpt) in &st.stack {
                let l = self.ledger();
                let h = l.hwpts.get(&hwpt.0).unwrap_or_else(|| {
                    panic!("{device:?}: PASID {pasid} on HWPT {hwpt:?}, which the kernel does not hold")
                });
                let (iotlb, _) = h.iotlb.expect("a selftest nested HWPT");
                out.insert(*pasid, SelftestFormat::gpgd_of(iotlb));
            }
            if let Some((_, top)) = st.stack.last() {
                assert_eq!(
                    st.rid, top.0,
                    "{device:?}: the kernel's answer to the replace"
                );
                let busy = self.iommufd.destroy(*top).map_err(|e| e.errno());
                assert_eq!(
                    busy,
                    Err(Errno::EBUSY),
                    "{device:?}: HWPT {top:?} is attached"
                );
            }
        }
        out
    }

    fn invalidations(&self, vm: VmId) -> u64 {
        self.assert_kernel_agrees("invalidations");
        let devs = self.dev_ids_of(vm);
        self.ledger()
            .invalidations
            .iter()
            .filter(|i| devs.contains(&i.dev_id))
            .map(|i| u64::from(i.handled))
            .sum()
    }

    fn page_request(&self, device: DeviceId, pasid: u32, grpid: u32, addr: u64) -> bool {
        let mock = self.mock(device);
        mock.trigger_iopf(pasid, grpid, PERM_READ, addr).is_ok()
            && matches!(self.viommu.backend().poll_faults(&self.viommu), Ok(1))
    }

    /// The responses the kernel took, matched to the records it delivered by cookie.
    fn responses(&self, vm: VmId) -> Vec<(DeviceId, u32, PageResponseCode)> {
        let by_idev: HashMap<u32, DeviceId> = self
            .devices_of(vm)
            .into_iter()
            .map(|(d, m)| (m.idev.0, d))
            .collect();
        let l = self.ledger();
        l.responses
            .iter()
            .filter(|(_, took)| *took)
            .filter_map(|(r, _)| {
                let f = l.faults.iter().rev().find(|f| f.cookie == r.cookie)?;
                let device = by_idev.get(&f.dev_id)?;
                let code = PageResponseCode::from_raw(r.code).expect("0 or 1");
                Some((*device, f.grpid, code))
            })
            .collect()
    }

    fn fail_next_bind(&self) -> Option<Errno> {
        self.viommu.backend().format().refuse_next_bind();
        Some(Errno::EOPNOTSUPP)
    }

    fn leaks(&self) -> Vec<String> {
        let mut leaks = self.disagreements();
        let backend = self.viommu.backend();
        let mut held = BTreeSet::new();
        for (device, (mock, _)) in lock(&self.devices).iter() {
            let Some(o) = backend.device_objects(*device) else {
                continue;
            };
            held.extend(o.parent.map(|h| h.0));
            held.extend(o.table.map(|h| h.0));
            held.extend(o.nested.values().map(|h| h.0));
            let attached: BTreeMap<HostPasid, HwptId> = mock
                .attachments()
                .stack
                .into_iter()
                .map(|(p, h)| (HostPasid(p), h))
                .collect();
            if attached != o.nested {
                leaks.push(format!(
                    "{device:?}: attached {attached:?}, backend {:?}",
                    o.nested
                ));
            }
        }
        let live: BTreeSet<u32> = self.ledger().hwpts.keys().copied().collect();
        if live != held {
            leaks.push(format!("kernel HWPTs {live:?}, backend holds {held:?}"));
        }
        let diags = backend.diagnostics();
        if !diags.is_empty() {
            leaks.push(format!("absorbed refusals {diags:?}"));
        }
        leaks
    }
}

// ---- the tests -------------------------------------------------------------------------------

/// `true` in the `mock` boot; in a VT-d boot, asserts that the mock is unavailable
/// ([`Mock::new`]) and returns `false`.
fn mock_boot() -> bool {
    guest::require_guest();
    Mock::new().is_some()
}

/// The shared request sequences, on the iommufd backend over the kernel's mock IOMMU,
/// batching (`max_batch` 64) and not (1).
#[test]
fn shared_sequences_on_the_mock_iommu() {
    if !mock_boot() {
        return;
    }
    for max_batch in [64, 1] {
        println!("max_batch {max_batch}");
        sequences::run_all(|| {
            KernelProbe::new(
                SelftestFormat::new(),
                IommufdConfig {
                    max_batch,
                    ..IommufdConfig::default()
                },
            )
        });
    }
}

/// One device through bind, batched invalidations, a partial failure, a page request
/// and its response, unbind and removal, with the kernel's accounting after each step.
#[test]
fn backend_step_by_step_on_the_mock_iommu() {
    if !mock_boot() {
        return;
    }
    // A format that believes in five IOTLB entries: page 4 becomes iotlb_id 4, refused.
    let p = KernelProbe::new(SelftestFormat::with_sets(5), IommufdConfig::default());
    let backend = p.viommu.backend();
    let fd = &p.iommufd;
    let vm = p.viommu.create_vm(VmConfig::default());
    let dev = p.add_device(&vm);
    let mock = p.mock(dev);

    // What the kernel says about the mock device: no registers vsva decodes, no PASIDs,
    // but a nest parent it accepts.
    let probe = probe_host(fd, mock.idev, mock.ioas).expect("probe_host on the mock device");
    assert_eq!(probe.hw_info.data_type, HW_INFO_TYPE_SELFTEST, "{probe}");
    assert_eq!(
        probe.hw_info.max_pasid_log2, 0,
        "the mock device has no PASIDs"
    );
    assert_eq!(probe.nesting, NestingSupport::NotInHardware, "{probe}");
    assert_eq!(probe.host, None);
    assert!(
        p.ledger().hwpts.is_empty(),
        "probe_host destroyed its nest parent"
    );
    assert_eq!(p.ledger().destroyed.len(), 1);

    // 1. Bind (with a guest PASID): parent, nested HWPT with the bind's iotlb and the
    //    fault queue, the RID on it.
    let pasid = vm.alloc_pasid(1, (1 << 20) - 1).expect("alloc");
    let gpasid = 0x42;
    let bind = bind_payload(pasid.0, Some(gpasid), GPGD);
    vm.bind_gpasid(&bind).expect("bind");
    let objects = backend.device_objects(dev).expect("registered");
    let parent = objects.parent.expect("a nest parent");
    let nested = objects.nested[&pasid];
    let v = SelftestFormat::iotlb_of(GPGD).expect("GPGD fits");
    let queue = backend.fault_queue().expect("a fault queue");
    {
        let l = p.ledger();
        assert_eq!(l.hwpts.len(), 2, "{:?}", l.hwpts);
        let hp = &l.hwpts[&parent.0];
        assert_eq!(
            (hp.dev_id, hp.pt_id, hp.flags, hp.data_type),
            (mock.idev.0, mock.ioas.0, NEST_PARENT, 0)
        );
        let hn = &l.hwpts[&nested.0];
        assert_eq!(
            (hn.dev_id, hn.pt_id, hn.flags, hn.data_type, hn.fault_id),
            (
                mock.idev.0,
                parent.0,
                FAULT_ID_VALID,
                IOMMU_HWPT_DATA_SELFTEST,
                queue.id.0
            )
        );
        assert_eq!(hn.data, v.to_ne_bytes());
    }
    assert_eq!(iotlb_is(fd, nested.0, &[v; 4]), Ok(()), "after the bind");
    assert_eq!(mock.attachments().stack, [(pasid.0, nested)]);
    assert_eq!(
        mock.attachments().rid,
        nested.0,
        "the kernel put the RID on it"
    );
    let busy = |h: HwptId| fd.destroy(h).map_err(|e| e.errno());
    assert_eq!(
        busy(nested),
        Err(Errno::EBUSY),
        "the device is on the nested HWPT"
    );
    assert_eq!(
        busy(parent),
        Err(Errno::EBUSY),
        "the nested HWPT holds the parent"
    );
    assert_eq!(p.bound(vm.id()), BTreeMap::from([(pasid.0, GPGD)]));
    assert_eq!(backend.stats().hwpts_allocated, 2);

    // 2. Two page invalidations, batched: nothing reaches the kernel before the flush,
    //    then one call with both entries.
    vm.cache_invalidate(&inv_addr(pasid.0, 0x1000, 1, false))
        .expect("page 1");
    vm.cache_invalidate(&inv_addr(pasid.0, 0x2000, 1, true))
        .expect("page 2 (leaf)");
    assert_eq!(backend.stats().invalidate_calls, 0, "queued");
    assert!(p.ledger().invalidations.is_empty());
    assert_eq!(iotlb_is(fd, nested.0, &[v; 4]), Ok(()), "before the flush");
    backend.flush(vm.id());
    let s = backend.stats();
    assert_eq!(
        (s.invalidate_calls, s.entries_sent, s.entries_handled),
        (1, 2, 2)
    );
    let entry = |flags, iotlb_id| HwptInvalidateSelftest { flags, iotlb_id };
    {
        let l = p.ledger();
        assert_eq!(l.invalidations.len(), 1);
        let c = &l.invalidations[0];
        assert_eq!(
            (
                c.hwpt,
                c.data_type,
                c.entry_len,
                c.sent,
                c.handled,
                c.result
            ),
            (
                nested.0,
                IOMMU_HWPT_INVALIDATE_DATA_SELFTEST,
                8,
                2,
                2,
                Ok(())
            )
        );
        assert_eq!(c.entries, [entry(0, 1), entry(0, 2)].as_bytes());
    }
    assert_eq!(iotlb_is(fd, nested.0, &[v, 0, 0, v]), Ok(()), "pages 1, 2");

    // 3. A partial failure: pages 3, 4 and 5 → ids 3, 4 (past the mock's last), 0. The
    //    kernel handles entry 0 and refuses entry 1; the backend records exactly that.
    for page in 3..6u64 {
        vm.cache_invalidate(&inv_addr(pasid.0, page << 12, 1, false))
            .expect("page");
    }
    backend.flush(vm.id());
    {
        let l = p.ledger();
        let c = l.invalidations.last().expect("a call");
        assert_eq!(
            (c.sent, c.handled, c.result),
            (3, 1, Err(Errno::EINVAL)),
            "the kernel's entry_num"
        );
        assert_eq!(
            c.entries,
            [entry(0, 3), entry(0, 4), entry(0, 0)].as_bytes()
        );
    }
    let s = backend.stats();
    assert_eq!(
        (
            s.invalidate_calls,
            s.entries_sent,
            s.entries_handled,
            s.invalidate_failures
        ),
        (2, 5, 3, 1)
    );
    assert_eq!(
        backend.diagnostics(),
        [Diagnostic::InvalidateFailed {
            vm: vm.id(),
            hwpt: nested,
            sent: 3,
            handled: 1,
            errno: Errno::EINVAL,
        }]
    );
    assert_eq!(
        iotlb_is(fd, nested.0, &[v, 0, 0, 0]),
        Ok(()),
        "entry 3 cleared, entry 0 untouched"
    );

    // 4. PASID-selective: FLAG_ALL.
    vm.cache_invalidate(&inv_pasid(CacheInvType::IOTLB, pasid.0))
        .expect("PASID-selective");
    backend.flush(vm.id());
    assert_eq!(
        p.ledger().invalidations.last().map(|c| c.entries.clone()),
        Some(entry(IOMMU_TEST_INVALIDATE_FLAG_ALL, 0).as_bytes().to_vec())
    );
    assert_eq!(iotlb_is(fd, nested.0, &[0; 4]), Ok(()), "after FLAG_ALL");
    assert_eq!(p.invalidations(vm.id()), 4, "entries the kernel handled");

    // 5. A page request: the kernel's record, the guest's fault, the guest's response,
    //    the kernel's cookie retired.
    let addr = 0xdead_b000;
    mock.trigger_iopf(pasid.0, 0x21, PERM_READ | PERM_WRITE, addr)
        .expect("TRIGGER_IOPF");
    assert_eq!(backend.poll_faults(&p.viommu).map_err(|e| e.errno()), Ok(1));
    assert_eq!(backend.stats().faults_read, 1);
    let record = {
        let l = p.ledger();
        assert_eq!(l.faults.len(), 1);
        l.faults[0]
    };
    assert_eq!(
        (
            record.flags,
            record.dev_id,
            record.pasid,
            record.grpid,
            record.perm,
            record.addr
        ),
        (
            PGFAULT_PASID_VALID | PGFAULT_LAST_PAGE,
            mock.idev.0,
            pasid.0,
            0x21,
            PERM_READ | PERM_WRITE,
            addr
        )
    );
    let fault = vm
        .next_fault()
        .and_then(|f| f.prm())
        .expect("the guest's fault");
    assert_eq!(
        (fault.pasid, fault.grpid, fault.addr),
        (gpasid, 0x21, addr),
        "the guest sees its own PASID"
    );
    vm.page_response(
        dev,
        &response_payload(0x21, Some(gpasid), PageResponseCode::Success),
    )
    .expect("the guest answers");
    assert_eq!(
        p.ledger().responses,
        [(
            HwptPageResponse {
                cookie: record.cookie,
                code: RESP_SUCCESS
            },
            true
        )],
        "the kernel took the response with its cookie"
    );
    assert_eq!(backend.stats().responses_sent, 1);
    assert_eq!(
        p.responses(vm.id()),
        [(dev, 0x21, PageResponseCode::Success)]
    );
    let again = queue
        .respond(&[HwptPageResponse {
            cookie: record.cookie,
            code: RESP_SUCCESS,
        }])
        .map_err(|e| e.errno());
    assert_eq!(again, Err(Errno::EINVAL), "the kernel retired the cookie");
    let twice = vm.page_response(
        dev,
        &response_payload(0x21, Some(gpasid), PageResponseCode::Success),
    );
    assert!(
        matches!(twice, Err(ViommuError::NoPendingRequest { .. })),
        "{twice:?}"
    );

    // 6. Unbind: the RID back on the IOAS, the nested HWPT destroyed (gone from the
    //    kernel), the parent kept for the device's next bind.
    vm.unbind_gpasid(&bind).expect("unbind");
    assert_eq!(p.ledger().destroyed.last(), Some(&nested.0));
    assert_eq!(
        check_iotlb(fd, nested.0, 0, 0),
        Err(Errno::ENOENT),
        "the nested HWPT is gone"
    );
    let st = mock.attachments();
    assert!(st.stack.is_empty());
    assert!(
        st.rid != nested.0 && st.rid != parent.0 && st.rid != 0,
        "the RID on the IOAS's paging HWPT: {}",
        st.rid
    );
    assert_eq!(
        p.ledger().hwpts.keys().copied().collect::<Vec<_>>(),
        [parent.0]
    );
    assert!(p.bound(vm.id()).is_empty());

    // 7. The device removed: the parent destroyed; every HWPT the backend allocated is gone.
    drop(vm);
    backend.remove_device(dev);
    assert!(p.ledger().hwpts.is_empty(), "{:?}", p.ledger().hwpts);
    assert_eq!(p.ledger().destroyed.last(), Some(&parent.0));
    let s = backend.stats();
    assert_eq!((s.hwpts_allocated, s.hwpts_destroyed), (2, 2), "{s:?}");
    assert_eq!(s.teardown_errors, 0);
    assert_eq!(backend.diagnostics().len(), 1, "only the partial failure");
    assert!(p.disagreements().is_empty(), "{:?}", p.disagreements());

    // 8. Dropping the backend destroys the fault queue.
    let fault_id = queue.id.0;
    let KernelProbe {
        recorder, viommu, ..
    } = p;
    drop(viommu);
    assert_eq!(recorder.ledger().destroyed_other, [fault_id]);
}
