//! The legacy VFIO container (`/dev/vfio/vfio`): API version, extension checks, the
//! IOMMU type. The IOMMU ioctls of a container are in [`crate::iommu`].
//!
//! # References
//! `include/uapi/linux/vfio.h`; `Documentation/driver-api/vfio.rst`.

use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::Path;
use std::sync::Arc;

use vsva_uapi::vfio_core::{VFIO_CHECK_EXTENSION, VFIO_GET_API_VERSION, VFIO_SET_IOMMU};

use crate::error::{Error, Result};
use crate::sys::{FdView, Kernel, KernelFd};

/// The container device node.
pub const CONTAINER_PATH: &str = "/dev/vfio/vfio";

/// An open VFIO container.
#[derive(Debug)]
pub struct Container {
    pub(crate) fd: KernelFd,
}

fd_handle!(Container, |h| &h.fd);

impl Container {
    /// `open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC)`.
    ///
    /// # Errors
    /// [`Error::Open`] with the errno of `open(2)` (`ENOENT` without vfio loaded).
    ///
    /// # References
    /// `include/uapi/linux/vfio.h`.
    pub fn open(kernel: Arc<dyn Kernel>) -> Result<Container> {
        let fd = KernelFd::open(&kernel, Path::new(CONTAINER_PATH), true).map_err(|errno| {
            Error::Open {
                path: CONTAINER_PATH.into(),
                errno,
            }
        })?;
        Ok(Container { fd })
    }

    /// Wraps an already open container fd.
    pub fn from_fd(fd: KernelFd) -> Container {
        Container { fd }
    }

    /// Takes a VMM's container fd (`/dev/vfio/vfio`; rust-vmm's `VfioContainer` holds
    /// one): vsva owns it from here and closes it on drop.
    pub fn from_owned(kernel: Arc<dyn Kernel>, fd: OwnedFd) -> Container {
        Container {
            fd: KernelFd::from_owned(&kernel, fd),
        }
    }

    /// A view of a container the VMM keeps (and closes): every method, nothing closed on
    /// drop (see [`FdView`]).
    pub fn borrow(kernel: Arc<dyn Kernel>, fd: BorrowedFd<'_>) -> FdView<'_, Container> {
        FdView::new(&kernel, fd, |fd| Container { fd })
    }

    /// The container's descriptor.
    pub fn fd(&self) -> &KernelFd {
        &self.fd
    }

    /// `ioctl(container, VFIO_GET_API_VERSION)`: the VFIO API version (`VFIO_API_VERSION`, 0).
    ///
    /// # Errors
    /// [`Error::Ioctl`] with the kernel's errno; `ENOTTY` is [`Error::NotSupported`].
    ///
    /// # References
    /// `include/uapi/linux/vfio.h` (`VFIO_GET_API_VERSION`).
    pub fn api_version(&self) -> Result<i32> {
        self.fd
            .ioctl_value(VFIO_GET_API_VERSION, 0)
            .map_err(|e| Error::ioctl("VFIO_GET_API_VERSION", e))
    }

    /// `ioctl(container, VFIO_CHECK_EXTENSION, ext)`: whether the kernel supports `ext`
    /// (`VFIO_TYPE1v2_IOMMU`, `VFIO_UNMAP_ALL`, ...; constants in `vfio.h`).
    ///
    /// # Errors
    /// [`Error::Ioctl`] with the kernel's errno; `ENOTTY` is [`Error::NotSupported`].
    ///
    /// # References
    /// `include/uapi/linux/vfio.h` (`VFIO_CHECK_EXTENSION`).
    pub fn check_extension(&self, ext: u32) -> Result<bool> {
        self.fd
            .ioctl_value(VFIO_CHECK_EXTENSION, u64::from(ext))
            .map(|v| v > 0)
            .map_err(|e| Error::ioctl("VFIO_CHECK_EXTENSION", e))
    }

    /// `ioctl(container, VFIO_SET_IOMMU, type)`: selects the IOMMU model; a group must be
    /// attached first.
    ///
    /// # Errors
    /// [`Error::Ioctl`]: `EINVAL` (no group, or an unknown type), `EBUSY` (already set),
    /// `EPERM`; `ENOTTY` is [`Error::NotSupported`].
    ///
    /// # References
    /// `include/uapi/linux/vfio.h` (`VFIO_SET_IOMMU`).
    pub fn set_iommu(&self, iommu_type: u32) -> Result<()> {
        self.fd
            .ioctl_value(VFIO_SET_IOMMU, u64::from(iommu_type))
            .map(drop)
            .map_err(|e| Error::ioctl("VFIO_SET_IOMMU", e))
    }
}
