//! Linux errno values, as the kernel returns them (negated) from an ioctl.
//!
//! `vsva-uapi` is `no_std` and needs only the errnos the IOMMU UAPI, VFIO and iommufd
//! paths return, so it names them here instead of depending on `libc` (x86_64 and every
//! other Linux architecture with the generic errno numbers).

use core::fmt;

/// An errno value (positive, as in `errno(3)`), e.g. [`Errno::EINVAL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(transparent)]
pub struct Errno(pub i32);

impl Errno {
    /// `EPERM` (1): operation not permitted.
    pub const EPERM: Errno = Errno(1);
    /// `ENOENT` (2): no such file, or (iommufd) no such object id.
    pub const ENOENT: Errno = Errno(2);
    /// `EINTR` (4): interrupted system call.
    pub const EINTR: Errno = Errno(4);
    /// `EIO` (5): I/O error.
    pub const EIO: Errno = Errno(5);
    /// `EBADF` (9): bad file descriptor.
    pub const EBADF: Errno = Errno(9);
    /// `EAGAIN` (11): try again (an empty non-blocking queue).
    pub const EAGAIN: Errno = Errno(11);
    /// `ENOMEM` (12): out of memory.
    pub const ENOMEM: Errno = Errno(12);
    /// `EACCES` (13): permission denied.
    pub const EACCES: Errno = Errno(13);
    /// `EBUSY` (16): device or resource busy.
    pub const EBUSY: Errno = Errno(16);
    /// `EEXIST` (17): already exists (an IOVA range that is already mapped).
    pub const EEXIST: Errno = Errno(17);
    /// `ENOTTY` (25): the ioctl does not exist for this file (a kernel without it).
    pub const ENOTTY: Errno = Errno(25);
    /// `ENOSPC` (28): no space left (an exhausted id or PASID space).
    pub const ENOSPC: Errno = Errno(28);
    /// `ESPIPE` (29): illegal seek (iommufd fault fd at a non-zero offset).
    pub const ESPIPE: Errno = Errno(29);
    /// `ERANGE` (34): result out of range.
    pub const ERANGE: Errno = Errno(34);
    /// `ENOSYS` (38): the system call does not exist.
    pub const ENOSYS: Errno = Errno(38);
    /// `EOVERFLOW` (75): value too large (iommufd).
    pub const EOVERFLOW: Errno = Errno(75);
    /// `E2BIG` (7): "argument list too long"; the kernel's answer to a non-zero
    /// tail it does not understand, or an oversized `argsz` (copy_struct_from_user).
    pub const E2BIG: Errno = Errno(7);
    /// `EFAULT` (14): a copy from user memory faulted.
    pub const EFAULT: Errno = Errno(14);
    /// `ENODEV` (19): the IOMMU driver has no such operation (2020 core).
    pub const ENODEV: Errno = Errno(19);
    /// `EINVAL` (22): a field is understood but its value is wrong.
    pub const EINVAL: Errno = Errno(22);
    /// `EOPNOTSUPP` (95): iommufd's "a known field has a value the kernel does not
    /// understand or support"; also a missing feature.
    pub const EOPNOTSUPP: Errno = Errno(95);

    /// The raw positive errno number.
    pub const fn raw(self) -> i32 {
        self.0
    }

    /// The symbolic name (`"EINVAL"`), or `"E?"` for a number this crate does not name.
    pub const fn name(self) -> &'static str {
        match self.0 {
            1 => "EPERM",
            2 => "ENOENT",
            4 => "EINTR",
            5 => "EIO",
            7 => "E2BIG",
            9 => "EBADF",
            11 => "EAGAIN",
            12 => "ENOMEM",
            13 => "EACCES",
            14 => "EFAULT",
            16 => "EBUSY",
            17 => "EEXIST",
            19 => "ENODEV",
            22 => "EINVAL",
            25 => "ENOTTY",
            28 => "ENOSPC",
            29 => "ESPIPE",
            34 => "ERANGE",
            38 => "ENOSYS",
            75 => "EOVERFLOW",
            95 => "EOPNOTSUPP",
            _ => "E?",
        }
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.0)
    }
}
