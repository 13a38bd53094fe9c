//! A small, honest model of a nesting-capable iommufd and VFIO cdev, answering a
//! [`ScriptedKernel`](vsva_vfio::scripted::ScriptedKernel): it keeps the objects (IOAS,
//! devices, HWPTs, fault queues), the RID and PASID attachments, the invalidations and
//! the fault records, and refuses what the kernel refuses (unknown ids `ENOENT`, a
//! destroy of a HWPT in use `EBUSY`, a nested HWPT on a non-parent `EINVAL`, a nest
//! parent without nesting `EOPNOTSUPP`, a PASID beyond the device's width `EINVAL`, bad
//! VT-d stage-1 flags `EOPNOTSUPP`, bad invalidation entries with the `entry_num` written
//! back, unknown cookies `EINVAL`). Tests of VMMs, and this crate's, drive the iommufd
//! backend over it without `/dev/iommu`.
//!
//! What it does not model: mapping (`IOAS_MAP`), the auto-created HWPT of an IOAS attach
//! (the attach reports the IOAS id back), the open-fd hold on a fault object's destroy,
//! and more than one fault queue's worth of reads (every queue reads the same records).
//!
//! ```
//! use vsva_vfio::iommufd::{HwptAllocRequest, Iommufd};
//! use vsva_viommu::iommufd::fake::FakeIommufd;
//! use vsva_vfio::cdev::CdevDevice;
//! use vsva_uapi::Errno;
//!
//! let fake = FakeIommufd::new(false); // no nesting
//! let path = fake.add_device(20);
//! let fd = Iommufd::open(fake.kernel()).unwrap();
//! let ioas = fd.ioas_alloc().unwrap();
//! let dev = CdevDevice::open(fake.kernel(), &path).unwrap().bind(&fd).unwrap();
//! let err = fd.hwpt_alloc(&HwptAllocRequest::new(dev, ioas).nest_parent()).unwrap_err();
//! assert_eq!(err.errno(), Errno::EOPNOTSUPP);
//! assert!(fake.hwpts().is_empty());
//! ```

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use vsva_uapi::consts::{DevicePtFlags, HwptAllocFlags, PgfaultFlags};
use vsva_uapi::ioctl;
use vsva_uapi::iommufd::{
    HwInfoVtd, HwptAlloc, HwptInvalidate, HwptPageResponse, HwptPgfault, HwptVtdS1,
    HwptVtdS1Invalidate,
};
use vsva_uapi::Errno;
use vsva_vfio::cdev::{
    VFIO_DEVICE_ATTACH_IOMMUFD_PT, VFIO_DEVICE_BIND_IOMMUFD, VFIO_DEVICE_DETACH_IOMMUFD_PT,
};
use vsva_vfio::iommufd::{
    HWPT_DATA_VTD_S1, HWPT_INVALIDATE_DATA_VTD_S1, IOMMUFD_PATH, IOMMU_DESTROY,
    IOMMU_FAULT_QUEUE_ALLOC, IOMMU_GET_HW_INFO, IOMMU_HWPT_ALLOC, IOMMU_HWPT_INVALIDATE,
    IOMMU_IOAS_ALLOC,
};
use vsva_vfio::scripted::{as_declared, Call, Recorded, Reply, ScriptedKernel};
use vsva_vfio::sys::Kernel;
use zerocopy::{FromBytes, FromZeros, IntoBytes};

use crate::host::HostIommu;

/// The path fault-queue fds are opened as.
pub const FAULT_PATH: &str = "anon_inode:[iommufd-pgfault]";
/// How many fault queues the model can hand out.
const FAULT_FDS: usize = 4;
const PGFAULT: usize = 40;
const VTD_S1_LEN: usize = 24;
const VTD_INV_LEN: usize = 24;

/// A HWPT the model holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeHwpt {
    /// `dev_id` it was allocated for.
    pub dev_id: u32,
    /// `pt_id`: its IOAS or parent HWPT.
    pub pt_id: u32,
    /// `flags` as sent.
    pub flags: u32,
    /// `data_type` (0: a paging HWPT).
    pub data_type: u32,
    /// The driver data as sent.
    pub data: Vec<u8>,
    /// The fault queue, with `FAULT_ID_VALID`.
    pub fault_id: Option<u32>,
}

impl FakeHwpt {
    /// Allocated with `IOMMU_HWPT_ALLOC_NEST_PARENT`.
    pub fn is_nest_parent(&self) -> bool {
        self.flags & HwptAllocFlags::NEST_PARENT.bits() != 0
    }
}

/// An object of the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FakeObject {
    /// An IOAS.
    Ioas,
    /// A bound device (its cdev path).
    Device(PathBuf),
    /// A HWPT.
    Hwpt(FakeHwpt),
    /// A fault queue.
    Fault,
}

/// One `IOMMU_HWPT_INVALIDATE` call the model received (with a valid HWPT).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeInvalidation {
    /// The HWPT.
    pub hwpt: u32,
    /// The device the HWPT was allocated for.
    pub dev_id: u32,
    /// `data_type`.
    pub data_type: u32,
    /// `entry_len`.
    pub entry_len: u32,
    /// The entries sent, each `entry_len` bytes.
    pub entries: Vec<Vec<u8>>,
    /// `entry_num` written back.
    pub handled: u32,
}

/// A page request the model delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FakeFault {
    /// The device's iommufd id.
    pub dev_id: u32,
    /// The PASID, if the request carried one.
    pub pasid: Option<u32>,
    /// The group index.
    pub grpid: u32,
    /// The cookie the record carried.
    pub cookie: u32,
    /// The HWPT whose fault queue got it.
    pub hwpt: u32,
}

#[derive(Default)]
struct Model {
    nesting: bool,
    cap: u64,
    ecap: u64,
    next_id: u32,
    objects: BTreeMap<u32, FakeObject>,
    /// cdev path → (PASID width, bound device id).
    cdevs: HashMap<PathBuf, (u8, Option<u32>)>,
    rid: BTreeMap<u32, u32>,
    pasids: BTreeMap<(u32, u32), u32>,
    fault_fds: Vec<i32>,
    invalidations: Vec<FakeInvalidation>,
    fail: Vec<(u32, usize, Errno)>,
    fail_entry: Option<(usize, Errno)>,
    unread: VecDeque<HwptPgfault>,
    outstanding: BTreeMap<u32, FakeFault>,
    next_cookie: u32,
    responses: Vec<(FakeFault, u32)>,
    auto_answered: Vec<FakeFault>,
}

impl Model {
    fn new_id(&mut self, o: FakeObject) -> u32 {
        self.next_id += 1;
        self.objects.insert(self.next_id, o);
        self.next_id
    }

    fn injected(&mut self, request: u32) -> Result<(), Errno> {
        let mut hit = None;
        for (i, (r, skip, e)) in self.fail.iter_mut().enumerate() {
            if *r == request {
                if *skip == 0 {
                    hit = Some((i, *e));
                    break;
                }
                *skip -= 1;
            }
        }
        match hit {
            Some((i, e)) => {
                self.fail.remove(i);
                Err(e)
            }
            None => Ok(()),
        }
    }

    fn hwpt(&self, id: u32) -> Option<&FakeHwpt> {
        match self.objects.get(&id) {
            Some(FakeObject::Hwpt(h)) => Some(h),
            _ => None,
        }
    }

    fn is_device(&self, id: u32) -> bool {
        matches!(self.objects.get(&id), Some(FakeObject::Device(_)))
    }

    fn in_use(&self, id: u32) -> bool {
        self.rid.values().any(|pt| *pt == id)
            || self.pasids.values().any(|h| *h == id)
            || self.objects.values().any(|o| match o {
                FakeObject::Hwpt(h) => h.pt_id == id || h.fault_id == Some(id),
                _ => false,
            })
    }

    fn destroy(&mut self, arg: &mut [u8]) -> Result<Reply, Errno> {
        let id = as_declared(&ioctl::IOMMU_DESTROY, arg, |req| req.id);
        match self.objects.get(&id) {
            None | Some(FakeObject::Device(_)) => Err(Errno::ENOENT),
            Some(_) if self.in_use(id) => Err(Errno::EBUSY),
            Some(_) => {
                self.objects.remove(&id);
                Ok(Reply::Value(0))
            }
        }
    }

    fn hw_info(&mut self, arg: &mut [u8], data: &mut [u8]) -> Result<Reply, Errno> {
        as_declared(&ioctl::IOMMU_GET_HW_INFO, arg, |req| {
            let Some(FakeObject::Device(path)) = self.objects.get(&req.dev_id) else {
                return Err(Errno::ENOENT);
            };
            let mut vtd = HwInfoVtd::new_zeroed();
            vtd.cap_reg = self.cap;
            vtd.ecap_reg = self.ecap;
            let vtd = vtd.as_bytes();
            let n = data.len().min(vtd.len());
            data[..n].copy_from_slice(&vtd[..n]);
            req.data_len = vtd.len() as u32;
            req.data_type = vsva_vfio::iommufd::HW_INFO_TYPE_INTEL_VTD;
            req.out_max_pasid_log2 = self.cdevs.get(path).map_or(0, |c| c.0);
            req.out_capabilities = 0;
            Ok(Reply::Value(0))
        })
    }

    fn hwpt_alloc(&mut self, arg: &mut [u8], data: &[u8]) -> Result<Reply, Errno> {
        as_declared(&ioctl::IOMMU_HWPT_ALLOC, arg, |req| {
            self.hwpt_alloc_req(req, data)
        })
    }

    fn hwpt_alloc_req(&mut self, req: &mut HwptAlloc, data: &[u8]) -> Result<Reply, Errno> {
        let flags = req.flags;
        let (dev, pt) = (req.dev_id, req.pt_id);
        let (data_type, data_len) = (req.data_type, req.data_len);
        let fault = flags & HwptAllocFlags::FAULT_ID_VALID.bits() != 0;
        let fault_id = req.fault_id;
        if flags & !HwptAllocFlags::all().bits() != 0 || req.__reserved != 0 {
            return Err(Errno::EOPNOTSUPP);
        }
        if !self.is_device(dev) || !self.objects.contains_key(&pt) {
            return Err(Errno::ENOENT);
        }
        if fault && !matches!(self.objects.get(&fault_id), Some(FakeObject::Fault)) {
            return Err(Errno::ENOENT);
        }
        let nest_parent = flags & HwptAllocFlags::NEST_PARENT.bits() != 0;
        if data_type == 0 {
            if data_len != 0 || !matches!(self.objects.get(&pt), Some(FakeObject::Ioas)) {
                return Err(Errno::EINVAL);
            }
            if nest_parent && !self.nesting {
                return Err(Errno::EOPNOTSUPP);
            }
        } else {
            if data_len == 0 || nest_parent {
                return Err(Errno::EOPNOTSUPP);
            }
            match self.hwpt(pt) {
                Some(p) if p.is_nest_parent() => {}
                _ => return Err(Errno::EINVAL),
            }
            if data_type != HWPT_DATA_VTD_S1 {
                return Err(Errno::EOPNOTSUPP);
            }
            if data.len() != VTD_S1_LEN {
                return Err(Errno::EINVAL);
            }
            // iommu_hwpt_vtd_s1: flags ⊆ SRE|EAFE|WPE, __reserved zero.
            let s1 = HwptVtdS1::read_from_bytes(data).map_err(|_| Errno::EINVAL)?;
            if s1.flags & !0b111 != 0 || s1.__reserved != 0 {
                return Err(Errno::EOPNOTSUPP);
            }
        }
        let id = self.new_id(FakeObject::Hwpt(FakeHwpt {
            dev_id: dev,
            pt_id: pt,
            flags,
            data_type,
            data: data.to_vec(),
            fault_id: fault.then_some(fault_id),
        }));
        req.out_hwpt_id = id;
        Ok(Reply::Value(0))
    }

    fn invalidate(&mut self, arg: &mut [u8], data: &[u8]) -> Result<Reply, Errno> {
        as_declared(&ioctl::IOMMU_HWPT_INVALIDATE, arg, |req| {
            self.invalidate_req(req, data)
        })
    }

    fn invalidate_req(&mut self, req: &mut HwptInvalidate, data: &[u8]) -> Result<Reply, Errno> {
        let (hwpt, data_type) = (req.hwpt_id, req.data_type);
        let (entry_len, num) = (req.entry_len, req.entry_num);
        if req.__reserved != 0 {
            return Err(Errno::EOPNOTSUPP);
        }
        let (nested, dev_id) = match self.hwpt(hwpt) {
            None => return Err(Errno::ENOENT),
            Some(h) => (h.data_type != 0, h.dev_id),
        };
        req.entry_num = 0;
        if !nested || data_type != HWPT_INVALIDATE_DATA_VTD_S1 {
            return Err(Errno::EINVAL);
        }
        if num == 0 {
            return Ok(Reply::Value(0));
        }
        if entry_len as usize != VTD_INV_LEN {
            return Err(Errno::EINVAL);
        }
        let entries: Vec<Vec<u8>> = data.chunks(VTD_INV_LEN).map(<[u8]>::to_vec).collect();
        let mut handled = 0u32;
        let mut result = Ok(Reply::Value(0));
        for (i, e) in entries.iter().enumerate() {
            if let Some((at, errno)) = self.fail_entry {
                if at == i {
                    self.fail_entry = None;
                    result = Err(errno);
                    break;
                }
            }
            let e = HwptVtdS1Invalidate::read_from_bytes(e).map_err(|_| Errno::EINVAL)?;
            let (addr, npages, flags) = (e.addr, e.npages, e.flags);
            if flags & !1 != 0 || e.__reserved != 0 {
                result = Err(Errno::EOPNOTSUPP);
                break;
            }
            if addr & 0xfff != 0 || (npages == u64::MAX && addr != 0) {
                result = Err(Errno::EINVAL);
                break;
            }
            handled += 1;
        }
        req.entry_num = handled;
        self.invalidations.push(FakeInvalidation {
            hwpt,
            dev_id,
            data_type,
            entry_len,
            entries,
            handled,
        });
        result
    }

    fn fault_alloc(&mut self, arg: &mut [u8]) -> Result<Reply, Errno> {
        let fd = self.fault_fds.pop().ok_or(Errno::ENOMEM)?;
        let id = self.new_id(FakeObject::Fault);
        as_declared(&ioctl::IOMMU_FAULT_QUEUE_ALLOC, arg, |req| {
            req.out_fault_id = id;
            req.out_fault_fd = fd as u32;
        });
        Ok(Reply::Value(0))
    }

    fn bound(&self, path: &Path) -> Result<(u32, u8), Errno> {
        match self.cdevs.get(path) {
            Some((w, Some(id))) => Ok((*id, *w)),
            _ => Err(Errno::ENODEV),
        }
    }

    /// The kernel answers a fault group itself when its device leaves the HWPT.
    fn answer_pending(&mut self, dev: u32, pasid: Option<u32>) {
        let gone: Vec<u32> = self
            .outstanding
            .iter()
            .filter(|(_, f)| f.dev_id == dev && f.pasid == pasid)
            .map(|(c, _)| *c)
            .collect();
        for c in gone {
            if let Some(f) = self.outstanding.remove(&c) {
                self.auto_answered.push(f);
            }
        }
        self.unread
            .retain(|r| !(r.dev_id == dev && (r.flags & 1 != 0).then_some(r.pasid) == pasid));
    }

    fn cdev(&mut self, request: u32, path: &Path, arg: &mut [u8]) -> Result<Reply, Errno> {
        match request {
            VFIO_DEVICE_BIND_IOMMUFD => {
                let Some((_, bound)) = self.cdevs.get(path).copied() else {
                    return Err(Errno::ENOTTY);
                };
                if bound.is_some() {
                    return Err(Errno::EINVAL);
                }
                let id = self.new_id(FakeObject::Device(path.to_path_buf()));
                if let Some(c) = self.cdevs.get_mut(path) {
                    c.1 = Some(id);
                }
                as_declared(&ioctl::VFIO_DEVICE_BIND_IOMMUFD, arg, |req| {
                    req.out_devid = id
                });
                Ok(Reply::Value(0))
            }
            VFIO_DEVICE_ATTACH_IOMMUFD_PT => {
                let (dev, width) = self.bound(path)?;
                let req = as_declared(&ioctl::VFIO_DEVICE_ATTACH_IOMMUFD_PT, arg, |req| *req);
                let (flags, pt) = (req.flags, req.pt_id);
                if flags & !DevicePtFlags::PASID.bits() != 0 {
                    return Err(Errno::EINVAL);
                }
                if !self.objects.contains_key(&pt) || self.is_device(pt) {
                    return Err(Errno::ENOENT);
                }
                if flags != 0 {
                    let pasid = req.pasid;
                    if u64::from(pasid) >> width != 0 || self.hwpt(pt).is_none() {
                        return Err(Errno::EINVAL);
                    }
                    if self.pasids.contains_key(&(dev, pasid)) {
                        return Err(Errno::EBUSY);
                    }
                    self.pasids.insert((dev, pasid), pt);
                } else {
                    if self.rid.get(&dev) != Some(&pt) {
                        self.answer_pending(dev, None);
                    }
                    self.rid.insert(dev, pt);
                }
                Ok(Reply::Value(0))
            }
            VFIO_DEVICE_DETACH_IOMMUFD_PT => {
                let (dev, _) = self.bound(path)?;
                let req = as_declared(&ioctl::VFIO_DEVICE_DETACH_IOMMUFD_PT, arg, |req| *req);
                if req.flags != 0 {
                    let pasid = req.pasid;
                    if self.pasids.remove(&(dev, pasid)).is_none() {
                        return Err(Errno::EINVAL);
                    }
                    self.answer_pending(dev, Some(pasid));
                } else {
                    self.rid.remove(&dev);
                    self.answer_pending(dev, None);
                }
                Ok(Reply::Value(0))
            }
            _ => Err(Errno::ENOTTY),
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Errno> {
        if self.unread.is_empty() {
            return Ok(0);
        }
        if buf.len() < PGFAULT {
            return Err(Errno::EINVAL);
        }
        let mut n = 0;
        while let (Some(dst), Some(r)) = (buf.get_mut(n..n + PGFAULT), self.unread.front()) {
            dst.copy_from_slice(r.as_bytes());
            self.unread.pop_front();
            n += PGFAULT;
        }
        Ok(n)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<usize, Errno> {
        if !bytes.len().is_multiple_of(8) {
            return Err(Errno::ESPIPE);
        }
        let mut done = 0;
        for rec in bytes.chunks_exact(8) {
            let rec = HwptPageResponse::read_from_bytes(rec).map_err(|_| Errno::EINVAL)?;
            let (cookie, code) = (rec.cookie, rec.code);
            if code > 1 || !self.outstanding.contains_key(&cookie) {
                break;
            }
            if let Some(f) = self.outstanding.remove(&cookie) {
                self.responses.push((f, code));
            }
            done += 8;
        }
        if done == 0 {
            Err(Errno::EINVAL)
        } else {
            Ok(done)
        }
    }
}

/// The model and the scripted kernel it answers (cloning shares both).
#[derive(Debug, Clone)]
pub struct FakeIommufd {
    kernel: ScriptedKernel,
    model: Arc<Mutex<Model>>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("nesting", &self.nesting)
            .field("objects", &self.objects.len())
            .finish_non_exhaustive()
    }
}

impl FakeIommufd {
    /// A VT-d host ([`HostIommu::vtd_default`]'s registers) whose kernel nests or not
    /// (`ECAP.NEST` cleared, nest parents `EOPNOTSUPP`), with `/dev/iommu` openable.
    pub fn new(nesting: bool) -> FakeIommufd {
        let HostIommu::Vtd(caps) = HostIommu::vtd_default() else {
            unreachable!("vtd_default is VT-d")
        };
        let ecap = if nesting {
            caps.ecap_reg
        } else {
            caps.ecap_reg & !vsva_uapi::hw::vtd::EcapFlags::NEST.bits()
        };
        let kernel = ScriptedKernel::new();
        kernel.add_path(IOMMUFD_PATH);
        kernel.add_path(FAULT_PATH);
        let fault_fds = (0..FAULT_FDS)
            .filter_map(|_| kernel.open(Path::new(FAULT_PATH), true).ok())
            .collect();
        let model = Arc::new(Mutex::new(Model {
            nesting,
            cap: caps.cap_reg,
            ecap,
            fault_fds,
            next_cookie: 1,
            ..Model::default()
        }));
        let fake = FakeIommufd { kernel, model };
        fake.script();
        fake
    }

    fn lock(&self) -> MutexGuard<'_, Model> {
        self.model.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn script(&self) {
        let k = &self.kernel;
        let m = Arc::clone(&self.model);
        let on = move |request: u32| {
            let m = Arc::clone(&m);
            move |path: &Path, call: Call<'_>| -> Result<Reply, Errno> {
                let mut m = m.lock().unwrap_or_else(PoisonError::into_inner);
                m.injected(request)?;
                match (request, call) {
                    (IOMMU_IOAS_ALLOC, Call::Sized(arg)) => {
                        let id = m.new_id(FakeObject::Ioas);
                        as_declared(&ioctl::IOMMU_IOAS_ALLOC, arg, |req| req.out_ioas_id = id);
                        Ok(Reply::Value(0))
                    }
                    (IOMMU_DESTROY, Call::Sized(arg)) => m.destroy(arg),
                    (IOMMU_GET_HW_INFO, Call::SizedData { arg, data }) => m.hw_info(arg, data),
                    (IOMMU_HWPT_ALLOC, Call::Sized(arg)) => m.hwpt_alloc(arg, &[]),
                    (IOMMU_HWPT_ALLOC, Call::SizedData { arg, data }) => m.hwpt_alloc(arg, data),
                    (IOMMU_HWPT_INVALIDATE, Call::SizedData { arg, data }) => {
                        m.invalidate(arg, data)
                    }
                    (IOMMU_FAULT_QUEUE_ALLOC, Call::Sized(arg)) => m.fault_alloc(arg),
                    (
                        VFIO_DEVICE_BIND_IOMMUFD
                        | VFIO_DEVICE_ATTACH_IOMMUFD_PT
                        | VFIO_DEVICE_DETACH_IOMMUFD_PT,
                        Call::Sized(arg),
                    ) => m.cdev(request, path, arg),
                    _ => Err(Errno::EFAULT),
                }
            }
        };
        for request in [
            IOMMU_IOAS_ALLOC,
            IOMMU_DESTROY,
            IOMMU_GET_HW_INFO,
            IOMMU_HWPT_ALLOC,
            IOMMU_HWPT_INVALIDATE,
            IOMMU_FAULT_QUEUE_ALLOC,
            VFIO_DEVICE_BIND_IOMMUFD,
            VFIO_DEVICE_ATTACH_IOMMUFD_PT,
            VFIO_DEVICE_DETACH_IOMMUFD_PT,
        ] {
            k.on(request, on(request));
        }
        let m = Arc::clone(&self.model);
        k.on_read(FAULT_PATH, move |buf, _| {
            m.lock().unwrap_or_else(PoisonError::into_inner).read(buf)
        });
        let m = Arc::clone(&self.model);
        k.on_write(FAULT_PATH, move |bytes, _| {
            m.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .write(bytes)
        });
    }

    /// The kernel to open `/dev/iommu` and the cdevs with.
    pub fn kernel(&self) -> Arc<dyn Kernel> {
        Arc::new(self.kernel.clone())
    }

    /// The scripted kernel underneath (its call log, its open fds).
    pub fn scripted(&self) -> &ScriptedKernel {
        &self.kernel
    }

    /// Every ioctl so far, in order.
    pub fn calls(&self) -> Vec<Recorded> {
        self.kernel.calls()
    }

    /// A new VFIO device cdev (`/dev/vfio/devices/vfioN`) with a PASID width of
    /// `max_pasid_log2` bits; returns its path.
    pub fn add_device(&self, max_pasid_log2: u8) -> PathBuf {
        let mut m = self.lock();
        let path = PathBuf::from(format!("/dev/vfio/devices/vfio{}", m.cdevs.len()));
        m.cdevs.insert(path.clone(), (max_pasid_log2, None));
        drop(m);
        self.kernel.add_path(&path);
        path
    }

    /// Makes the call of ioctl `request` after the next `skip` ones fail with
    /// `errno`, before it has any effect.
    pub fn fail(&self, request: u32, skip: usize, errno: Errno) {
        self.lock().fail.push((request, skip, errno));
    }

    /// Makes the next `IOMMU_HWPT_INVALIDATE` refuse its entry `index` with `errno`
    /// (entries before it are handled and `entry_num` says so).
    pub fn fail_invalidate_entry(&self, index: usize, errno: Errno) {
        self.lock().fail_entry = Some((index, errno));
    }

    /// Every live object, by id.
    pub fn objects(&self) -> BTreeMap<u32, FakeObject> {
        self.lock().objects.clone()
    }

    /// The live HWPTs, by id.
    pub fn hwpts(&self) -> BTreeMap<u32, FakeHwpt> {
        self.lock()
            .objects
            .iter()
            .filter_map(|(id, o)| match o {
                FakeObject::Hwpt(h) => Some((*id, h.clone())),
                _ => None,
            })
            .collect()
    }

    /// PASID attachments: (device id, PASID) → HWPT.
    pub fn pasid_attachments(&self) -> BTreeMap<(u32, u32), u32> {
        self.lock().pasids.clone()
    }

    /// What the device's RID is attached to.
    pub fn rid_attachment(&self, dev_id: u32) -> Option<u32> {
        self.lock().rid.get(&dev_id).copied()
    }

    /// Every `IOMMU_HWPT_INVALIDATE` with a valid HWPT, in order.
    pub fn invalidations(&self) -> Vec<FakeInvalidation> {
        self.lock().invalidations.clone()
    }

    /// Plays the device: a page request (one-page group, `LAST_PAGE`) from `dev_id`
    /// with `pasid`, delivered to the fault queue of the HWPT the PASID (or the RID,
    /// without one) is attached to. Returns the fault, or `None` when that HWPT has
    /// no fault queue (the kernel would not deliver it either).
    pub fn trigger_fault(
        &self,
        dev_id: u32,
        pasid: Option<u32>,
        grpid: u32,
        perm: u32,
        addr: u64,
    ) -> Option<FakeFault> {
        let mut m = self.lock();
        let hwpt = match pasid {
            Some(p) => m.pasids.get(&(dev_id, p)).copied(),
            None => m.rid.get(&dev_id).copied(),
        }?;
        m.hwpt(hwpt)?.fault_id?;
        let cookie = m.next_cookie;
        m.next_cookie += 1;
        let mut flags = PgfaultFlags::LAST_PAGE;
        flags.set(PgfaultFlags::PASID_VALID, pasid.is_some());
        m.unread.push_back(HwptPgfault {
            flags: flags.bits(),
            dev_id,
            pasid: pasid.unwrap_or(0),
            grpid,
            perm,
            __reserved: 0,
            addr,
            length: 0,
            cookie,
        });
        let f = FakeFault {
            dev_id,
            pasid,
            grpid,
            cookie,
            hwpt,
        };
        m.outstanding.insert(cookie, f);
        Some(f)
    }

    /// Responses the model accepted, with their codes, in order.
    pub fn responses(&self) -> Vec<(FakeFault, u32)> {
        self.lock().responses.clone()
    }

    /// Faults delivered and not answered yet.
    pub fn outstanding(&self) -> Vec<FakeFault> {
        self.lock().outstanding.values().copied().collect()
    }

    /// Faults the model answered itself because the device left the HWPT.
    pub fn auto_answered(&self) -> Vec<FakeFault> {
        self.lock().auto_answered.clone()
    }
}
