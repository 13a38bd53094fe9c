//! The settings, the devices, the counters and the diagnostics of an [`IommufdBackend`](crate::iommufd::IommufdBackend).

use vsva_uapi::Errno;
use vsva_vfio::iommufd::{DevId, HwptId, IoasId};

use super::format::DeviceAttach;
use crate::backend::VmId;

/// Settings of an [`IommufdBackend`](crate::iommufd::IommufdBackend).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IommufdConfig {
    /// The most invalidation entries one HWPT's batch holds before it is sent (at least
    /// 1; 1 sends every invalidation at once). Default 64.
    pub max_batch: usize,
    /// Allocate a fault queue and attach every nested HWPT to it (`FAULT_ID_VALID`), so
    /// page requests reach [`IommufdBackend::poll_faults`](crate::iommufd::IommufdBackend::poll_faults). Default `true`.
    pub page_requests: bool,
    /// Allocate nest parents and nested HWPTs with `IOMMU_HWPT_ALLOC_PASID` (v6.15+,
    /// which wants it for a HWPT attached to a PASID; older kernels refuse the flag).
    /// Default `false`. **Unverified** against a 6.15 kernel.
    pub alloc_pasid_flag: bool,
}

impl Default for IommufdConfig {
    fn default() -> IommufdConfig {
        IommufdConfig {
            max_batch: 64,
            page_requests: true,
            alloc_pasid_flag: false,
        }
    }
}

/// A device as the backend drives it (registered with [`IommufdBackend::add_device`](crate::iommufd::IommufdBackend::add_device)).
#[derive(Debug)]
pub struct IommufdDevice {
    /// The device's iommufd id (`VFIO_DEVICE_BIND_IOMMUFD`'s `out_devid`).
    pub dev_id: DevId,
    /// The VM's IOAS (the stage 2: guest physical → host physical).
    pub ioas: IoasId,
    /// The device's PASID width (`IOMMU_GET_HW_INFO`'s `out_max_pasid_log2`).
    pub max_pasid_log2: u8,
    /// How its PASIDs and RID are attached.
    pub attach: Box<dyn DeviceAttach>,
}

impl IommufdDevice {
    /// A device with these ids and attach (an example is in the [module documentation](crate::iommufd)).
    pub fn new(
        dev_id: DevId,
        ioas: IoasId,
        max_pasid_log2: u8,
        attach: Box<dyn DeviceAttach>,
    ) -> IommufdDevice {
        IommufdDevice {
            dev_id,
            ioas,
            max_pasid_log2,
            attach,
        }
    }

    pub(super) fn pasid_fits(&self, pasid: u64) -> bool {
        u32::from(self.max_pasid_log2) >= 64 || pasid >> self.max_pasid_log2 == 0
    }
}

/// Counters of an [`IommufdBackend`](crate::iommufd::IommufdBackend) (an example is on [`IommufdBackend::stats`](crate::iommufd::IommufdBackend::stats)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IommufdStats {
    /// HWPTs allocated (nest parents and nested).
    pub hwpts_allocated: u64,
    /// HWPTs destroyed.
    pub hwpts_destroyed: u64,
    /// `IOMMU_HWPT_INVALIDATE` calls.
    pub invalidate_calls: u64,
    /// Invalidation entries sent.
    pub entries_sent: u64,
    /// Invalidation entries the kernel reported handled.
    pub entries_handled: u64,
    /// Calls the kernel failed (some entries unhandled; see [`Diagnostic::InvalidateFailed`](crate::iommufd::Diagnostic::InvalidateFailed)).
    pub invalidate_failures: u64,
    /// Invalidations with nothing to send: no HWPT bound for the scope, or no cache the
    /// format sends (the PASID cache alone).
    pub invalidations_skipped: u64,
    /// Invalidations the format's nested HWPTs cannot take ([`StageOneFormat::invalidation_type`](crate::iommufd::StageOneFormat::invalidation_type) `None`).
    pub invalidations_unsupported: u64,
    /// Fault records read from the fault queue.
    pub faults_read: u64,
    /// Fault records for a device no VM holds (answered `INVALID` by the backend).
    pub faults_unrouted: u64,
    /// Page responses written to the fault queue.
    pub responses_sent: u64,
    /// Page responses with no cookie on record (the kernel already answered the group,
    /// say on a detach): nothing to send.
    pub responses_unmatched: u64,
    /// Steps of an unbind, a clear, a rollback or a teardown the kernel refused
    /// (see [`Diagnostic::TeardownFailed`](crate::iommufd::Diagnostic::TeardownFailed)).
    pub teardown_errors: u64,
}

/// A kernel refusal the backend could not return to anyone (the 2020 API makes these
/// operations infallible), kept for the VMM to inspect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Diagnostic {
    /// `IOMMU_HWPT_INVALIDATE` stopped early: entries `0..handled` of the `sent` were
    /// carried out, entry `handled` was refused with `errno`, the rest were not tried.
    InvalidateFailed {
        /// The VM.
        vm: VmId,
        /// The nested HWPT.
        hwpt: HwptId,
        /// Entries in the call.
        sent: usize,
        /// Entries the kernel reported handled (`entry_num` written back).
        handled: usize,
        /// The kernel's errno.
        errno: Errno,
    },
    /// A detach, destroy or re-attach failed during an unbind, clear, rollback or teardown.
    TeardownFailed {
        /// What was being done (`"destroy"`, `"detach_pasid"`, `"attach_rid"`).
        op: &'static str,
        /// The object or PASID concerned.
        id: u32,
        /// The kernel's errno.
        errno: Errno,
    },
    /// Writing a page response to the fault queue failed.
    ResponseFailed {
        /// The cookie.
        cookie: u32,
        /// The kernel's errno.
        errno: Errno,
    },
}

/// How many diagnostics are kept (older ones are dropped; the counters keep counting).
pub const DIAGNOSTICS_KEPT: usize = 256;
