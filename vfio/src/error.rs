//! [`Error`]: every way a `vsva-vfio` operation fails, with the errno to report.

use std::path::PathBuf;

use vsva_uapi::{Errno, UapiError};

/// Why a capability chain (VFIO info caps: IOMMU info, region info, device info) was
/// refused. The chain comes from the kernel, but vsva bounds it anyway: every error is
/// typed, and no walk reads outside the bytes the kernel reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CapChainError {
    /// A `next` offset points back to a capability already visited.
    #[error("capability chain loops back to offset {offset}")]
    Loop {
        /// The offset visited twice.
        offset: usize,
    },
    /// A `next` offset is not past the current capability (chains only go forward).
    #[error("capability at {offset} points backward to {next}")]
    Backward {
        /// The capability's offset.
        offset: usize,
        /// Its `next`.
        next: usize,
    },
    /// A capability overlaps the previous one or the fixed struct before the chain.
    #[error("capability at {offset} overlaps bytes before {limit}")]
    Overlap {
        /// The capability's offset.
        offset: usize,
        /// The first byte it may start at.
        limit: usize,
    },
    /// A capability header (or its body) runs past the bytes the kernel returned.
    #[error("capability at {offset} needs {need} bytes, only {len} were returned")]
    OutOfBounds {
        /// The capability's offset.
        offset: usize,
        /// One past the last byte it needs.
        need: usize,
        /// The bytes returned (`argsz`).
        len: usize,
    },
    /// A capability offset that is not 4-byte aligned (the kernel aligns them to 8).
    #[error("capability offset {offset} is misaligned")]
    Misaligned {
        /// The offset.
        offset: usize,
    },
    /// More capabilities than any kernel returns: a bound on the walk.
    #[error("more than {limit} capabilities")]
    TooMany {
        /// The bound.
        limit: usize,
    },
}

/// A failed `vsva-vfio` operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Opening a device node failed (`/dev/vfio/vfio`, `/dev/vfio/N`, `/dev/iommu`, a cdev).
    #[error("open {path}: {errno}")]
    Open {
        /// The path.
        path: PathBuf,
        /// The errno of `open(2)`.
        errno: Errno,
    },
    /// The kernel refused the ioctl.
    #[error("{op}: {errno}")]
    Ioctl {
        /// The ioctl (`VFIO_IOMMU_GET_INFO`).
        op: &'static str,
        /// The errno.
        errno: Errno,
    },
    /// The kernel does not have the ioctl at all (`ENOTTY`): an older kernel, or one of
    /// the 2020 nesting ioctls, which mainline never merged. Distinct from a refusal.
    #[error("{op}: not supported by this kernel (ENOTTY)")]
    NotSupported {
        /// The ioctl.
        op: &'static str,
    },
    /// The kernel has the ioctl but this host cannot do what was asked (`EOPNOTSUPP`):
    /// an IOMMU without nesting or dirty tracking, a driver without PASID attach.
    /// Distinct from a refusal of the request itself.
    #[error("{op}: not supported by this host (EOPNOTSUPP)")]
    HostNotSupported {
        /// The ioctl.
        op: &'static str,
    },
    /// The kernel's reply is inconsistent (a size it reports but did not honour, an
    /// `argsz` that keeps growing, a count past the buffer).
    #[error("{op}: malformed reply: {what}")]
    BadReply {
        /// The ioctl.
        op: &'static str,
        /// What is wrong.
        what: &'static str,
    },
    /// A capability chain in a reply is malformed.
    #[error("{op}: {source}")]
    CapChain {
        /// The ioctl whose reply holds the chain.
        op: &'static str,
        /// The defect.
        source: CapChainError,
    },
    /// A struct was refused by the IOMMU UAPI rules (encoding a request, or decoding a
    /// reply or an untrusted payload).
    #[error(transparent)]
    Uapi(#[from] UapiError),
}

impl Error {
    /// The error for a failed ioctl: `ENOTTY` becomes [`Error::NotSupported`] (not
    /// supported by this kernel), `EOPNOTSUPP` [`Error::HostNotSupported`] (not supported
    /// by this host).
    pub fn ioctl(op: &'static str, errno: Errno) -> Error {
        match errno {
            Errno::ENOTTY => Error::NotSupported { op },
            Errno::EOPNOTSUPP => Error::HostNotSupported { op },
            errno => Error::Ioctl { op, errno },
        }
    }

    /// The errno to report for this error (what the kernel said, or what it would say).
    pub fn errno(&self) -> Errno {
        match self {
            Error::Open { errno, .. } | Error::Ioctl { errno, .. } => *errno,
            Error::NotSupported { .. } => Errno::ENOTTY,
            Error::HostNotSupported { .. } => Errno::EOPNOTSUPP,
            Error::BadReply { .. } | Error::CapChain { .. } => Errno::EIO,
            Error::Uapi(e) => e.errno(),
        }
    }
}

/// `Result<T, vsva_vfio::Error>`.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enotty_means_not_supported_and_keeps_its_errno() {
        let e = Error::ioctl("VFIO_IOMMU_NESTING_OP", Errno::ENOTTY);
        assert_eq!(
            e,
            Error::NotSupported {
                op: "VFIO_IOMMU_NESTING_OP"
            }
        );
        assert_eq!(e.errno(), Errno::ENOTTY);
        let e = Error::ioctl("VFIO_IOMMU_NESTING_OP", Errno::EINVAL);
        assert_eq!(e.errno(), Errno::EINVAL);
        assert!(e.to_string().contains("EINVAL"));
    }
}
