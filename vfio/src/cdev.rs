//! VFIO device cdev (`/dev/vfio/devices/vfioN`): bind a device to an iommufd, and attach
//! it (or one of its PASIDs) to an IOAS or HWPT.
//!
//! The attach and detach structs follow VFIO's flags → `xend` rule: the PASID field
//! exists only when `VFIO_DEVICE_{ATTACH,DETACH}_PASID` is set, so they are sent as 12 /
//! 8 bytes without a PASID (every cdev kernel) and 16 / 12 with one (v6.13+).
//!
//! ```
//! use std::sync::Arc;
//! use vsva_vfio::cdev::{CdevDevice, VFIO_DEVICE_ATTACH_IOMMUFD_PT};
//! use vsva_vfio::scripted::{Call, Reply, ScriptedKernel};
//! use vsva_vfio::iommufd::IoasId;
//!
//! let k = ScriptedKernel::new();
//! k.add_path("/dev/vfio/devices/vfio0");
//! k.on(VFIO_DEVICE_ATTACH_IOMMUFD_PT, |_, call| match call {
//!     Call::Sized(arg) => {
//!         arg[8..12].copy_from_slice(&3u32.to_ne_bytes()); // the auto-created HWPT
//!         Ok(Reply::Value(0))
//!     }
//!     _ => unreachable!(),
//! });
//! let dev = CdevDevice::open(Arc::new(k.clone()), "/dev/vfio/devices/vfio0").unwrap();
//! assert_eq!(dev.attach(IoasId(2)).unwrap().0, 3);
//! assert_eq!(k.calls()[0].arg.len(), 12);
//! ```
//!
//! # References
//! `include/uapi/linux/vfio.h` (`VFIO_DEVICE_BIND_IOMMUFD`, `VFIO_DEVICE_ATTACH_IOMMUFD_PT`,
//! `VFIO_DEVICE_DETACH_IOMMUFD_PT`); `drivers/vfio/device_cdev.c`.

use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use vsva_uapi::consts::DevicePtFlags;
use vsva_uapi::ioctl::{self, Ioctl};
use vsva_uapi::iommufd::{
    VfioDeviceAttachIommufdPt, VfioDeviceBindIommufd, VfioDeviceDetachIommufdPt,
};
use vsva_uapi::{FieldRef, UapiStruct};
use zerocopy::FromZeros;

use crate::device::Device;
use crate::iommufd::{encode_request, send_declared, DevId, HwptId, Iommufd, Sent};
use crate::sys::{FdView, Kernel, KernelFd};
use crate::{Error, Result};

pub use vsva_uapi::consts::{
    VFIO_DEVICE_ATTACH_IOMMUFD_PT, VFIO_DEVICE_BIND_IOMMUFD, VFIO_DEVICE_DETACH_IOMMUFD_PT,
};

const ATTACH: &str = ioctl::VFIO_DEVICE_ATTACH_IOMMUFD_PT.name();
const ATTACH_PASID: &str = "VFIO_DEVICE_ATTACH_IOMMUFD_PT (VFIO_DEVICE_ATTACH_PASID)";
const DETACH: &str = ioctl::VFIO_DEVICE_DETACH_IOMMUFD_PT.name();
const DETACH_PASID: &str = "VFIO_DEVICE_DETACH_IOMMUFD_PT (VFIO_DEVICE_DETACH_PASID)";

/// An open VFIO device cdev.
#[derive(Debug)]
pub struct CdevDevice {
    device: Device,
    path: Option<PathBuf>,
    /// The device's id in the iommufd it is bound to: set by [`CdevDevice::bind`], or
    /// given with a VMM's already bound fd.
    dev_id: OnceLock<DevId>,
}

fd_handle!(CdevDevice, |h| h.device.fd());

fn with_dev_id(dev_id: Option<DevId>) -> OnceLock<DevId> {
    let cell = OnceLock::new();
    if let Some(id) = dev_id {
        let _ = cell.set(id);
    }
    cell
}

fn u32_at(buf: &[u8], at: usize) -> Option<u32> {
    let b = buf.get(at..at + 4)?;
    Some(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
}

impl CdevDevice {
    /// `open("/dev/vfio/devices/vfioN", O_RDWR | O_CLOEXEC)`.
    ///
    /// # Errors
    /// [`Error::Open`] with the errno of `open(2)` (`ENOENT`: no cdev, `EBUSY`: the device
    /// is in use through its group).
    ///
    /// # References
    /// `Documentation/driver-api/vfio.rst` ("VFIO device cdev").
    pub fn open(kernel: Arc<dyn Kernel>, path: impl AsRef<Path>) -> Result<CdevDevice> {
        let path = path.as_ref().to_path_buf();
        let fd = KernelFd::open(&kernel, &path, true).map_err(|errno| Error::Open {
            path: path.clone(),
            errno,
        })?;
        Ok(CdevDevice {
            device: Device::from_fd(fd),
            path: Some(path),
            dev_id: OnceLock::new(),
        })
    }

    /// Takes a VMM's device cdev fd (rust-vmm's `VfioDevice` opens one): vsva owns it
    /// from here and closes it on drop — which ends its iommufd binding, the kernel's
    /// per-open-file state, so pass a duplicate (`try_clone_to_owned`) if the VMM keeps
    /// using the device. `dev_id` is the id the VMM's `VFIO_DEVICE_BIND_IOMMUFD`
    /// returned (`VfioDevice::iommufd_dev_id`), `None` for an unbound cdev.
    pub fn from_owned(kernel: Arc<dyn Kernel>, fd: OwnedFd, dev_id: Option<DevId>) -> CdevDevice {
        CdevDevice {
            device: Device::from_fd(KernelFd::from_owned(&kernel, fd)),
            path: None,
            dev_id: with_dev_id(dev_id),
        }
    }

    /// A view of a device cdev the VMM keeps (and closes), with its `dev_id` if bound:
    /// every method, nothing closed on drop (see [`FdView`]).
    pub fn borrow(
        kernel: Arc<dyn Kernel>,
        fd: BorrowedFd<'_>,
        dev_id: Option<DevId>,
    ) -> FdView<'_, CdevDevice> {
        FdView::new(&kernel, fd, |fd| CdevDevice {
            device: Device::from_fd(fd),
            path: None,
            dev_id: with_dev_id(dev_id),
        })
    }

    /// The device's id in its iommufd: from [`CdevDevice::bind`], or given with the fd.
    pub fn dev_id(&self) -> Option<DevId> {
        self.dev_id.get().copied()
    }

    /// The device's descriptor (device ioctls, KVM-VFIO attach).
    pub fn fd(&self) -> &KernelFd {
        self.device.fd()
    }

    /// The device itself: info, regions (read and write), IRQs and reset, exactly as
    /// through its group (`VFIO_DEVICE_GET_INFO` and the rest are the same ioctls on the
    /// cdev fd).
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The path the device was opened as (`None` for a VMM's fd).
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Sends `req` through the declared `ioctl` on the device fd (errors named `op`).
    fn call<T: UapiStruct>(&self, op: &'static str, ioctl: &Ioctl<T>, req: &T) -> Result<Sent> {
        let (sent, r) = send_declared(self.device.fd(), ioctl, |b| encode_request(req, b), None)?;
        r.map_err(|e| Error::ioctl(op, e))?;
        Ok(sent)
    }

    /// `ioctl(device, VFIO_DEVICE_BIND_IOMMUFD, &{argsz = 16, iommufd})`: binds the
    /// device to `iommufd` and returns its device id there (also kept:
    /// [`CdevDevice::dev_id`]).
    ///
    /// # Errors
    /// `EINVAL` (bad fd, already bound), `EPERM`, `ENOTTY`; [`Error::BadReply`] if the
    /// reply is shorter than `out_devid`.
    ///
    /// # References
    /// `struct vfio_device_bind_iommufd` in `vfio.h`; `vfio_df_ioctl_bind_iommufd`.
    pub fn bind(&self, iommufd: &Iommufd) -> Result<DevId> {
        const OP: &str = ioctl::VFIO_DEVICE_BIND_IOMMUFD.name();
        let mut req = VfioDeviceBindIommufd::new_zeroed();
        req.iommufd = iommufd.fd().raw() as u32; // the C __s32, bit for bit
        let sent = self.call(OP, &ioctl::VFIO_DEVICE_BIND_IOMMUFD, &req)?;
        let at = FieldRef::named(VfioDeviceBindIommufd::FIELDS, "out_devid").offset;
        let devid = u32_at(sent.bytes(), at);
        let id = devid.map(DevId).ok_or(Error::BadReply {
            op: OP,
            what: "reply shorter than out_devid",
        })?;
        // The kernel binds a cdev once (EINVAL after): the first id is the one.
        let _ = self.dev_id.set(id);
        Ok(id)
    }

    fn attach_pt(&self, pasid: Option<u32>, pt_id: u32) -> Result<HwptId> {
        let op = if pasid.is_some() {
            ATTACH_PASID
        } else {
            ATTACH
        };
        let mut req = VfioDeviceAttachIommufdPt::new_zeroed();
        req.pt_id = pt_id;
        if let Some(pasid) = pasid {
            req.flags = DevicePtFlags::PASID.bits();
            req.pasid = pasid;
        }
        let sent = self.call(op, &ioctl::VFIO_DEVICE_ATTACH_IOMMUFD_PT, &req)?;
        let at = FieldRef::named(VfioDeviceAttachIommufdPt::FIELDS, "pt_id").offset;
        let pt = u32_at(sent.bytes(), at);
        pt.map(HwptId).ok_or(Error::BadReply {
            op,
            what: "reply shorter than pt_id",
        })
    }

    /// `ioctl(device, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &{argsz = 12, flags = 0, pt_id})`:
    /// attaches the device (its RID) to an IOAS or HWPT; returns the HWPT attached (the
    /// one the kernel created, for an IOAS).
    ///
    /// # Errors
    /// `EINVAL` (incompatible page table), `ENOENT`, `ENODEV` (not bound), `ENOTTY`.
    ///
    /// # References
    /// `struct vfio_device_attach_iommufd_pt` in `vfio.h`; `vfio_df_ioctl_attach_pt`.
    pub fn attach(&self, pt_id: impl Into<u32>) -> Result<HwptId> {
        self.attach_pt(None, pt_id.into())
    }

    /// `ioctl(device, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &{argsz = 16, flags = ATTACH_PASID,
    /// pt_id, pasid})`: attaches one PASID of the device; returns the HWPT attached.
    ///
    /// # Errors
    /// A kernel without PASID attach refuses the flag: `EINVAL` (before v6.13, unknown
    /// flag) or `EOPNOTSUPP` (the driver has no `pasid_attach_ioas`), reported with the
    /// op named `... (VFIO_DEVICE_ATTACH_PASID)`; `ENOENT`, `ENOTTY`.
    ///
    /// # References
    /// `VFIO_DEVICE_ATTACH_PASID` in `vfio.h`.
    pub fn attach_pasid(&self, pasid: u32, pt_id: impl Into<u32>) -> Result<HwptId> {
        self.attach_pt(Some(pasid), pt_id.into())
    }

    fn detach_pt(&self, pasid: Option<u32>) -> Result<()> {
        let op = if pasid.is_some() {
            DETACH_PASID
        } else {
            DETACH
        };
        let mut req = VfioDeviceDetachIommufdPt::new_zeroed();
        if let Some(pasid) = pasid {
            req.flags = DevicePtFlags::PASID.bits();
            req.pasid = pasid;
        }
        self.call(op, &ioctl::VFIO_DEVICE_DETACH_IOMMUFD_PT, &req)?;
        Ok(())
    }

    /// `ioctl(device, VFIO_DEVICE_DETACH_IOMMUFD_PT, &{argsz = 8, flags = 0})`: detaches
    /// the device (its RID) from its page table.
    ///
    /// # Errors
    /// `EINVAL`, `ENODEV`, `ENOTTY`.
    ///
    /// # References
    /// `struct vfio_device_detach_iommufd_pt` in `vfio.h`; `vfio_df_ioctl_detach_pt`.
    pub fn detach(&self) -> Result<()> {
        self.detach_pt(None)
    }

    /// `ioctl(device, VFIO_DEVICE_DETACH_IOMMUFD_PT, &{argsz = 12, flags = DETACH_PASID,
    /// pasid})`: detaches one PASID.
    ///
    /// # Errors
    /// `EINVAL` / `EOPNOTSUPP` from a kernel without PASID detach, `ENOTTY`.
    ///
    /// # References
    /// `VFIO_DEVICE_DETACH_PASID` in `vfio.h`.
    pub fn detach_pasid(&self, pasid: u32) -> Result<()> {
        self.detach_pt(Some(pasid))
    }
}
