//! Every way a vIOMMU request can be refused, each with the errno the kernel would return.

use vsva_uapi::{Errno, UapiError};

/// Why a request from a VM (or from the VMM on its behalf) was refused. A refused request
/// changes no state: not the VM's, not another VM's, not the backend's.
///
/// `docs/errno.md` lists every variant; its table is generated from
/// [`ViommuError::CATALOGUE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ViommuError {
    /// The payload failed the IOMMU UAPI checks (size, version, flags, padding, union,
    /// vendor rules); the errno is the one `vsva-uapi` gives.
    #[error(transparent)]
    Uapi(#[from] UapiError),
    /// The host IOMMU cannot do this at all (`IOMMU_NESTING_FEAT_*` not reported): VFIO's
    /// `EOPNOTSUPP` before the IOMMU layer is called.
    #[error("{op} is not supported by this host IOMMU")]
    Unsupported {
        /// The operation.
        op: &'static str,
    },
    /// The request asks for something the host's capabilities refuse (SRE without
    /// ECAP.SRS, EAFE without ECAP.EAFS, a PASID wider than the host's, a 5-level table
    /// without FL5LP…): `EINVAL`, as `intel_svm_bind_gpasid` / `intel_pasid_setup_nested`.
    #[error("the host IOMMU refuses {what}")]
    HostCapability {
        /// What the host lacks.
        what: &'static str,
    },
    /// A PASID the VM does not own (never allocated to it, freed, or another VM's):
    /// `EINVAL`, as `ioasid_find` with the VM's set.
    #[error("PASID {pasid} is not owned by this VM")]
    NotOwned {
        /// The PASID.
        pasid: u32,
    },
    /// The host PASID is already bound (one guest page table per PASID): `EBUSY`, as
    /// `intel_svm_bind_gpasid` ("Already bound with PASID").
    #[error("host PASID {hpasid} is already bound")]
    AlreadyBound {
        /// The host PASID.
        hpasid: u32,
    },
    /// The guest PASID already names another host PASID of this VM (bound with it, or
    /// the VM's own host PASID of that value, which its page requests show): `EBUSY`.
    #[error("guest PASID {gpasid} is already bound to host PASID {hpasid}")]
    GpasidInUse {
        /// The guest PASID.
        gpasid: u32,
        /// The host PASID it is bound to.
        hpasid: u32,
    },
    /// A guest PASID outside `1 .. 2^20`: `EINVAL`.
    #[error("guest PASID {gpasid} is out of range")]
    GpasidRange {
        /// The guest PASID.
        gpasid: u64,
    },
    /// An address range whose end overflows, a zero or non-power-of-two granule, or no
    /// granules: `EINVAL`.
    #[error(
        "invalid invalidation range (addr {addr:#x}, granule {granule_size:#x} x {nb_granules})"
    )]
    BadRange {
        /// First address.
        addr: u64,
        /// Granule size.
        granule_size: u64,
        /// Number of granules.
        nb_granules: u64,
    },
    /// No PASID is free in the requested range of the system-wide space: `ENOSPC`.
    #[error("no free PASID in [{min}, {max}]")]
    PasidSpaceExhausted {
        /// Lowest PASID asked for (after clamping to the host's width).
        min: u32,
        /// Highest PASID asked for.
        max: u32,
    },
    /// The VM holds its quota of PASIDs: `ENOSPC`, as the `vfio_mm` PASID quota.
    #[error("the VM holds its quota of {quota} PASIDs")]
    PasidQuota {
        /// The quota.
        quota: usize,
    },
    /// A page response that matches no pending page request of this VM for this device
    /// (group id, and PASID where the request needs one): `EINVAL` ("no pending PRQ").
    #[error("no pending page request matches the response (grpid {grpid})")]
    NoPendingRequest {
        /// The response's group id.
        grpid: u32,
    },
    /// The device is attached to another VM: `EBUSY`.
    #[error("device {device:#x} is attached to another VM")]
    DeviceBusy {
        /// The device.
        device: u32,
    },
    /// The device is not attached to this VM: `ENODEV`, as a page response for a device
    /// without a fault handler.
    #[error("device {device:#x} is not attached to this VM")]
    DeviceNotAttached {
        /// The device.
        device: u32,
    },
    /// The entropy source failed (never expected: the last fallback is `getrandom(2)`).
    #[error("the random number generator failed ({0})")]
    Entropy(Errno),
    /// The hardware backend refused the request; its errno is passed through.
    #[error("the IOMMU backend refused the request ({0})")]
    Backend(Errno),
}

impl ViommuError {
    /// The errno the kernel would return for this refusal.
    pub fn errno(&self) -> Errno {
        match self {
            ViommuError::Uapi(e) => e.errno(),
            ViommuError::Unsupported { .. } => Errno::EOPNOTSUPP,
            ViommuError::HostCapability { .. }
            | ViommuError::NotOwned { .. }
            | ViommuError::GpasidRange { .. }
            | ViommuError::BadRange { .. }
            | ViommuError::NoPendingRequest { .. } => Errno::EINVAL,
            ViommuError::AlreadyBound { .. }
            | ViommuError::GpasidInUse { .. }
            | ViommuError::DeviceBusy { .. } => Errno::EBUSY,
            ViommuError::PasidSpaceExhausted { .. } | ViommuError::PasidQuota { .. } => {
                Errno::ENOSPC
            }
            ViommuError::DeviceNotAttached { .. } => Errno::ENODEV,
            ViommuError::Entropy(e) | ViommuError::Backend(e) => *e,
        }
    }
}

impl ViommuError {
    /// One value of every variant except [`ViommuError::Uapi`] (whose errnos are
    /// `UapiError`'s own table), in documentation order.
    pub const CATALOGUE: &'static [ViommuError] = &[
        ViommuError::Unsupported {
            op: "binding a guest page table",
        },
        ViommuError::HostCapability {
            what: "supervisor requests (SRE) without ECAP.SRS",
        },
        ViommuError::NotOwned { pasid: 42 },
        ViommuError::GpasidRange { gpasid: 0 },
        ViommuError::BadRange {
            addr: 0,
            granule_size: 4096,
            nb_granules: 0,
        },
        ViommuError::NoPendingRequest { grpid: 3 },
        ViommuError::AlreadyBound { hpasid: 42 },
        ViommuError::GpasidInUse {
            gpasid: 7,
            hpasid: 42,
        },
        ViommuError::DeviceBusy { device: 0x10 },
        ViommuError::PasidSpaceExhausted { min: 1, max: 10 },
        ViommuError::PasidQuota { quota: 1024 },
        ViommuError::DeviceNotAttached { device: 0x10 },
        ViommuError::Entropy(Errno::EINTR),
        ViommuError::Backend(Errno::ENOMEM),
    ];

    /// The variant's name.
    pub fn kind(&self) -> &'static str {
        match self {
            ViommuError::Uapi(_) => "Uapi",
            ViommuError::Unsupported { .. } => "Unsupported",
            ViommuError::HostCapability { .. } => "HostCapability",
            ViommuError::NotOwned { .. } => "NotOwned",
            ViommuError::AlreadyBound { .. } => "AlreadyBound",
            ViommuError::GpasidInUse { .. } => "GpasidInUse",
            ViommuError::GpasidRange { .. } => "GpasidRange",
            ViommuError::BadRange { .. } => "BadRange",
            ViommuError::PasidSpaceExhausted { .. } => "PasidSpaceExhausted",
            ViommuError::PasidQuota { .. } => "PasidQuota",
            ViommuError::NoPendingRequest { .. } => "NoPendingRequest",
            ViommuError::DeviceBusy { .. } => "DeviceBusy",
            ViommuError::DeviceNotAttached { .. } => "DeviceNotAttached",
            ViommuError::Entropy(_) => "Entropy",
            ViommuError::Backend(_) => "Backend",
        }
    }

    /// Where the kernel (or the 2020 series) gives the same answer.
    pub fn kernel_source(&self) -> &'static str {
        match self {
            ViommuError::Uapi(e) => e.kernel_source(),
            ViommuError::Unsupported { .. } => {
                "vfio_iommu_type1 nesting op: the IOMMU lacks the nesting feature bit"
            }
            ViommuError::HostCapability { .. } => {
                "intel_svm_bind_gpasid / intel_pasid_setup_nested; arm-smmu-v3 attach_pasid_table"
            }
            ViommuError::NotOwned { .. } => {
                "ioasid_find(set, pasid): the PASID is not in the VM's set"
            }
            ViommuError::AlreadyBound { .. } => {
                "intel_svm_bind_gpasid: \"Already bound with PASID\""
            }
            ViommuError::GpasidInUse { .. } => {
                "vsva: a guest PASID names one host PASID of the VM (bound with it, or its own value)"
            }
            ViommuError::GpasidRange { .. } => {
                "intel_svm_bind_gpasid: gpasid outside the PASID range"
            }
            ViommuError::BadRange { .. } => {
                "vsva: the kernel multiplied granule_size by nb_granules unchecked"
            }
            ViommuError::PasidSpaceExhausted { .. } => "ioasid_alloc: no free id in [min, max]",
            ViommuError::PasidQuota { .. } => "vfio_pasid_alloc: the vfio_mm PASID quota",
            ViommuError::NoPendingRequest { .. } => "iommu_page_response: \"no pending PRQ\"",
            ViommuError::DeviceBusy { .. } => "vfio: a device belongs to one container / iommufd",
            ViommuError::DeviceNotAttached { .. } => {
                "iommu_page_response: no fault handler for the device"
            }
            ViommuError::Entropy(_) => "getrandom(2)",
            ViommuError::Backend(_) => "the hardware backend's own errno",
        }
    }
}

impl vsva_vfio::nesting::HandlerError for ViommuError {
    fn errno(&self) -> Errno {
        ViommuError::errno(self)
    }
}

impl From<ViommuError> for Errno {
    fn from(e: ViommuError) -> Errno {
        e.errno()
    }
}

/// `Result` with [`ViommuError`].
pub type Result<T> = std::result::Result<T, ViommuError>;
