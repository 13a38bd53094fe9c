//! Linux errno values, as the kernel returns them (negated) from an ioctl.
//!
//! `vsva-uapi` is `no_std` and needs only the handful of errnos the IOMMU UAPI
//! paths return, so it names them here instead of depending on `libc`.

use core::fmt;

/// An errno value (positive, as in `errno(3)`), e.g. [`Errno::EINVAL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(transparent)]
pub struct Errno(pub i32);

impl Errno {
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
            7 => "E2BIG",
            14 => "EFAULT",
            19 => "ENODEV",
            22 => "EINVAL",
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
