//! A legacy VFIO group (`/dev/vfio/N`): status, container attachment, device fds.
//!
//! # References
//! `include/uapi/linux/vfio.h`; `Documentation/driver-api/vfio.rst`.

use std::ffi::CString;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::PathBuf;
use std::sync::Arc;

use vsva_uapi::vfio_core::{
    VfioGroupStatus, VFIO_GROUP_FLAGS_CONTAINER_SET, VFIO_GROUP_FLAGS_VIABLE,
    VFIO_GROUP_GET_DEVICE_FD, VFIO_GROUP_GET_STATUS, VFIO_GROUP_SET_CONTAINER,
    VFIO_GROUP_UNSET_CONTAINER,
};
use vsva_uapi::Errno;
use zerocopy::IntoBytes;

use crate::container::Container;
use crate::device::Device;
use crate::error::{Error, Result};
use crate::sys::{FdView, Kernel, KernelFd};

/// An open VFIO group.
#[derive(Debug)]
pub struct Group {
    fd: KernelFd,
    number: u32,
}

/// What `VFIO_GROUP_GET_STATUS` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupStatus {
    /// The raw `flags`.
    pub flags: u32,
    /// `VFIO_GROUP_FLAGS_VIABLE`: every device of the group is bound to a VFIO driver.
    pub viable: bool,
    /// `VFIO_GROUP_FLAGS_CONTAINER_SET`: the group is attached to a container.
    pub container_set: bool,
}

fd_handle!(Group, |h| &h.fd);

impl Group {
    /// `open("/dev/vfio/<group>", O_RDWR | O_CLOEXEC)`.
    ///
    /// # Errors
    /// [`Error::Open`] with the errno of `open(2)` (`ENOENT`: no such group; `EBUSY`:
    /// already open elsewhere).
    ///
    /// # References
    /// `include/uapi/linux/vfio.h`.
    pub fn open(kernel: Arc<dyn Kernel>, group: u32) -> Result<Group> {
        let path = PathBuf::from(format!("/dev/vfio/{group}"));
        let fd =
            KernelFd::open(&kernel, &path, true).map_err(|errno| Error::Open { path, errno })?;
        Ok(Group { fd, number: group })
    }

    /// Takes a VMM's group fd (`/dev/vfio/<number>`): vsva owns it from here and closes
    /// it on drop.
    pub fn from_owned(kernel: Arc<dyn Kernel>, fd: OwnedFd, number: u32) -> Group {
        Group {
            fd: KernelFd::from_owned(&kernel, fd),
            number,
        }
    }

    /// A view of a group the VMM keeps (and closes): every method, nothing closed on drop
    /// (see [`FdView`]).
    pub fn borrow(kernel: Arc<dyn Kernel>, fd: BorrowedFd<'_>, number: u32) -> FdView<'_, Group> {
        FdView::new(&kernel, fd, |fd| Group { fd, number })
    }

    /// The group number.
    pub fn number(&self) -> u32 {
        self.number
    }

    /// The group's descriptor (for the KVM-VFIO device).
    pub fn fd(&self) -> &KernelFd {
        &self.fd
    }

    /// `ioctl(group, VFIO_GROUP_GET_STATUS, &status)`.
    ///
    /// # Errors
    /// [`Error::Ioctl`] with the kernel's errno; `ENOTTY` is [`Error::NotSupported`];
    /// [`Error::BadReply`] if the kernel shrinks `argsz` below the struct.
    ///
    /// # References
    /// `include/uapi/linux/vfio.h` (`VFIO_GROUP_GET_STATUS`, `struct vfio_group_status`).
    pub fn status(&self) -> Result<GroupStatus> {
        const OP: &str = "VFIO_GROUP_GET_STATUS";
        let mut arg = VfioGroupStatus { argsz: 8, flags: 0 };
        self.fd
            .ioctl_sized(VFIO_GROUP_GET_STATUS, arg.as_mut_bytes())
            .map_err(|e| Error::ioctl(OP, e))?;
        if (arg.argsz as usize) < size_of::<VfioGroupStatus>() {
            return Err(Error::BadReply {
                op: OP,
                what: "argsz below sizeof(vfio_group_status)",
            });
        }
        Ok(GroupStatus {
            flags: arg.flags,
            viable: arg.flags & VFIO_GROUP_FLAGS_VIABLE != 0,
            container_set: arg.flags & VFIO_GROUP_FLAGS_CONTAINER_SET != 0,
        })
    }

    /// `ioctl(group, VFIO_GROUP_SET_CONTAINER, &container_fd)`.
    ///
    /// # Errors
    /// [`Error::Ioctl`]: `EINVAL` (already in a container), `EPERM` (group not viable /
    /// IOMMU type incompatible), `EBUSY`; `ENOTTY` is [`Error::NotSupported`].
    ///
    /// # References
    /// `include/uapi/linux/vfio.h` (`VFIO_GROUP_SET_CONTAINER`).
    pub fn set_container(&self, container: &Container) -> Result<()> {
        let mut raw = container.fd().raw();
        self.fd
            .ioctl_i32(VFIO_GROUP_SET_CONTAINER, &mut raw)
            .map(drop)
            .map_err(|e| Error::ioctl("VFIO_GROUP_SET_CONTAINER", e))
    }

    /// `ioctl(group, VFIO_GROUP_UNSET_CONTAINER)`.
    ///
    /// # Errors
    /// [`Error::Ioctl`]: `EINVAL` (not in a container), `EBUSY` (devices still open);
    /// `ENOTTY` is [`Error::NotSupported`].
    ///
    /// # References
    /// `include/uapi/linux/vfio.h` (`VFIO_GROUP_UNSET_CONTAINER`).
    pub fn unset_container(&self) -> Result<()> {
        self.fd
            .ioctl_value(VFIO_GROUP_UNSET_CONTAINER, 0)
            .map(drop)
            .map_err(|e| Error::ioctl("VFIO_GROUP_UNSET_CONTAINER", e))
    }

    /// `ioctl(group, VFIO_GROUP_GET_DEVICE_FD, "0000:00:02.0")`: opens a device of the
    /// group by name (its PCI address for vfio-pci).
    ///
    /// # Errors
    /// [`Error::Ioctl`]: `EINVAL` (a name with a NUL byte is refused here with it),
    /// `ENODEV` (no such device), `EPERM` (no container/IOMMU set), `EBUSY`; `ENOTTY` is
    /// [`Error::NotSupported`].
    ///
    /// # References
    /// `include/uapi/linux/vfio.h` (`VFIO_GROUP_GET_DEVICE_FD`).
    pub fn device(&self, name: &str) -> Result<Device> {
        const OP: &str = "VFIO_GROUP_GET_DEVICE_FD";
        let cname = CString::new(name).map_err(|_| Error::ioctl(OP, Errno::EINVAL))?;
        let fd = self
            .fd
            .ioctl_cstr_fd(VFIO_GROUP_GET_DEVICE_FD, &cname)
            .map_err(|e| Error::ioctl(OP, e))?;
        Ok(Device::from_fd(fd))
    }
}
