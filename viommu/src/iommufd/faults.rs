//! Page requests: the fault queue read, the kernel's cookies kept, responses written.

use std::sync::PoisonError;

use vsva_uapi::consts::{FaultPerm, PageResponseCode, PgfaultFlags};
use vsva_uapi::iommufd::HwptPageResponse;
use vsva_uapi::Errno;
use vsva_vfio::iommufd::DevId;

use super::backend::{lock, IommufdBackend};
use super::config::Diagnostic;
use super::format::StageOneFormat;
use crate::backend::{Backend, DeviceId, HostPasid, PageRequest};
use crate::Viommu;

/// Fault records read per `read(2)` of the fault fd.
const FAULT_BATCH: usize = 32;

impl<F: StageOneFormat> IommufdBackend<F> {
    /// Reads the fault queue once and reports each page request to `viommu`
    /// ([`Viommu::report_page_request`](crate::Viommu::report_page_request): the record's `dev_id` becomes the registered
    /// [`DeviceId`], its PASID the host PASID). The kernel's cookie of each group is kept
    /// for [`Backend::page_response`](crate::backend::Backend::page_response). A record of an unregistered device, or one no VM
    /// holds, is answered `INVALID` here. Returns the number of records read (0 without
    /// a fault queue or with nothing pending).
    ///
    /// # Errors
    /// The fault fd's `read(2)` error (`EAGAIN` when non-blocking and empty is returned
    /// as `Ok(0)`).
    pub fn poll_faults<B: Backend>(&self, viommu: &Viommu<B>) -> vsva_vfio::Result<usize> {
        let Some(queue) = &self.fault else {
            return Ok(0);
        };
        let mut buf = [0u8; FAULT_BATCH * 40];
        let records = match queue.read_faults(&mut buf) {
            Ok(r) => r,
            Err(e) if e.errno() == Errno::EAGAIN => return Ok(0),
            Err(e) => return Err(e),
        };
        lock(&self.stats).faults_read += records.len() as u64;
        for r in &records {
            let flags = PgfaultFlags::from_bits_retain(r.flags);
            let last_page = flags.contains(PgfaultFlags::LAST_PAGE);
            let pasid = flags
                .contains(PgfaultFlags::PASID_VALID)
                .then_some(HostPasid(r.pasid));
            let device = self
                .routes
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .by_dev_id
                .get(&DevId(r.dev_id))
                .copied();
            let Some(device) = device else {
                lock(&self.stats).faults_unrouted += 1;
                if last_page {
                    self.respond(r.cookie, PageResponseCode::Invalid);
                }
                continue;
            };
            if last_page {
                // Before the report: the vIOMMU may answer it at once (a PASID the VM
                // does not own, a full queue).
                lock(&self.cookies).insert(r.cookie, (device, pasid));
            }
            let request = PageRequest {
                id: u64::from(r.cookie),
                device,
                pasid,
                grpid: r.grpid,
                perm: FaultPerm::from_bits_truncate(r.perm),
                addr: r.addr,
                last_page,
                needs_pasid: pasid.is_some(),
                private_data: None,
            };
            if viommu.report_page_request(request).is_err() {
                lock(&self.stats).faults_unrouted += 1;
                if last_page {
                    if let Some(cookie) = self.take_cookie(u64::from(r.cookie), device) {
                        self.respond(cookie, PageResponseCode::Invalid);
                    }
                }
            }
        }
        Ok(records.len())
    }

    /// The outstanding cookie `id` of `device`, now answered (`None` if the kernel
    /// already answered it, or it is another device's).
    pub(super) fn take_cookie(&self, id: u64, device: DeviceId) -> Option<u32> {
        let cookie = u32::try_from(id).ok()?;
        let mut cookies = lock(&self.cookies);
        match cookies.get(&cookie) {
            Some(&(d, _)) if d == device => cookies.remove(&cookie).map(|_| cookie),
            _ => None,
        }
    }

    /// Writes one response. iommufd has `SUCCESS` and `INVALID` only: the 2020
    /// `FAILURE` ("do not retry") is sent as `INVALID`.
    pub(super) fn respond(&self, cookie: u32, code: PageResponseCode) {
        let Some(queue) = &self.fault else {
            return;
        };
        let code = match code {
            PageResponseCode::Success => 0,
            PageResponseCode::Invalid | PageResponseCode::Failure => 1,
        };
        match queue.respond(&[HwptPageResponse { cookie, code }]) {
            Ok(1) => lock(&self.stats).responses_sent += 1,
            Ok(_) => self.diagnose(Diagnostic::ResponseFailed {
                cookie,
                errno: Errno::EIO,
            }),
            Err(e) => self.diagnose(Diagnostic::ResponseFailed {
                cookie,
                errno: e.errno(),
            }),
        }
    }
}
