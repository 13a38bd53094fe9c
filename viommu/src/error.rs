//! Every way a vIOMMU request can be refused, each with the errno the kernel would return.

use vsva_uapi::{error_catalogue, Errno, UapiError};

use crate::backend::{GuestPasid, HostPasid};

error_catalogue! {
    /// Why a request from a VM (or from the VMM on its behalf) was refused. A refused
    /// request changes no state: not the VM's, not another VM's, not the backend's.
    ///
    /// `docs/errno.md` lists every variant; its table is generated from
    /// [`ViommuError::CATALOGUE`] (every variant but [`ViommuError::Uapi`], whose errnos
    /// are `UapiError`'s own table).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum ViommuError {
        /// The payload failed the IOMMU UAPI checks (size, version, flags, padding, union,
        /// vendor rules); the errno is the one `vsva-uapi` gives.
        Uapi {
            /// The rule that refused it.
            error: UapiError,
        } => {
            errno: error.errno(),
            source: error.kernel_source(),
            display: ("{error}"),
            examples: [],
        },
        /// The host IOMMU cannot do this at all (`IOMMU_NESTING_FEAT_*` not reported):
        /// VFIO's `EOPNOTSUPP` before the IOMMU layer is called.
        Unsupported {
            /// The operation.
            op: &'static str,
        } => {
            errno: Errno::EOPNOTSUPP,
            source: "vfio_iommu_type1 nesting op: the IOMMU lacks the nesting feature bit",
            display: ("{op} is not supported by this host IOMMU"),
            examples: [{ op: "binding a guest page table" }],
        },
        /// The request asks for something the host's capabilities refuse (SRE without
        /// ECAP.SRS, EAFE without ECAP.EAFS, a PASID wider than the host's, a 5-level table
        /// without FL5LP…): `EINVAL`, as `intel_svm_bind_gpasid` / `intel_pasid_setup_nested`.
        HostCapability {
            /// What the host lacks.
            what: &'static str,
        } => {
            errno: Errno::EINVAL,
            source: "intel_svm_bind_gpasid / intel_pasid_setup_nested; arm-smmu-v3 attach_pasid_table",
            display: ("the host IOMMU refuses {what}"),
            examples: [{ what: "supervisor requests (SRE) without ECAP.SRS" }],
        },
        /// A PASID the VM does not own (never allocated to it, freed, or another VM's):
        /// `EINVAL`, as `ioasid_find` with the VM's set.
        NotOwned {
            /// The PASID.
            pasid: HostPasid,
        } => {
            errno: Errno::EINVAL,
            source: "ioasid_find(set, pasid): the PASID is not in the VM's set",
            display: ("PASID {pasid} is not owned by this VM"),
            examples: [{ pasid: HostPasid(42) }],
        },
        /// A guest PASID outside `1 .. 2^20`: `EINVAL`.
        GpasidRange {
            /// The guest PASID.
            gpasid: u64,
        } => {
            errno: Errno::EINVAL,
            source: "intel_svm_bind_gpasid: gpasid outside the PASID range",
            display: ("guest PASID {gpasid} is out of range"),
            examples: [{ gpasid: 0 }],
        },
        /// An address range whose end overflows, a zero or non-power-of-two granule, or no
        /// granules: `EINVAL`.
        BadRange {
            /// First address.
            addr: u64,
            /// Granule size.
            granule_size: u64,
            /// Number of granules.
            nb_granules: u64,
        } => {
            errno: Errno::EINVAL,
            source: "vsva: the kernel multiplied granule_size by nb_granules unchecked",
            display: (
                "invalid invalidation range (addr {addr:#x}, granule {granule_size:#x} x {nb_granules})"
            ),
            examples: [{ addr: 0, granule_size: 4096, nb_granules: 0 }],
        },
        /// A page response that matches no pending page request of this VM for this device
        /// (group id, and PASID where the request needs one): `EINVAL` ("no pending PRQ").
        NoPendingRequest {
            /// The response's group id.
            grpid: u32,
        } => {
            errno: Errno::EINVAL,
            source: "iommu_page_response: \"no pending PRQ\"",
            display: ("no pending page request matches the response (grpid {grpid})"),
            examples: [{ grpid: 3 }],
        },
        /// The host PASID is already bound (one guest page table per PASID): `EBUSY`, as
        /// `intel_svm_bind_gpasid` ("Already bound with PASID").
        AlreadyBound {
            /// The host PASID.
            hpasid: HostPasid,
        } => {
            errno: Errno::EBUSY,
            source: "intel_svm_bind_gpasid: \"Already bound with PASID\"",
            display: ("host PASID {hpasid} is already bound"),
            examples: [{ hpasid: HostPasid(42) }],
        },
        /// The guest PASID already names another host PASID of this VM (bound with it, or
        /// the VM's own host PASID of that value, which its page requests show): `EBUSY`.
        GpasidInUse {
            /// The guest PASID.
            gpasid: GuestPasid,
            /// The host PASID it is bound to.
            hpasid: HostPasid,
        } => {
            errno: Errno::EBUSY,
            source: "vsva: a guest PASID names one host PASID of the VM (bound with it, or its own value)",
            display: ("guest PASID {gpasid} is already bound to host PASID {hpasid}"),
            examples: [{ gpasid: GuestPasid(7), hpasid: HostPasid(42) }],
        },
        /// The device is attached to another VM: `EBUSY`.
        DeviceBusy {
            /// The device.
            device: u32,
        } => {
            errno: Errno::EBUSY,
            source: "vfio: a device belongs to one container / iommufd",
            display: ("device {device:#x} is attached to another VM"),
            examples: [{ device: 0x10 }],
        },
        /// No PASID is free in the requested range of the system-wide space: `ENOSPC`.
        PasidSpaceExhausted {
            /// Lowest PASID asked for (after clamping to the host's width).
            min: u32,
            /// Highest PASID asked for.
            max: u32,
        } => {
            errno: Errno::ENOSPC,
            source: "ioasid_alloc: no free id in [min, max]",
            display: ("no free PASID in [{min}, {max}]"),
            examples: [{ min: 1, max: 10 }],
        },
        /// The VM holds its quota of PASIDs: `ENOSPC`, as the `vfio_mm` PASID quota.
        PasidQuota {
            /// The quota.
            quota: usize,
        } => {
            errno: Errno::ENOSPC,
            source: "vfio_pasid_alloc: the vfio_mm PASID quota",
            display: ("the VM holds its quota of {quota} PASIDs"),
            examples: [{ quota: 1024 }],
        },
        /// The device is not attached to this VM: `ENODEV`, as a page response for a
        /// device without a fault handler.
        DeviceNotAttached {
            /// The device.
            device: u32,
        } => {
            errno: Errno::ENODEV,
            source: "iommu_page_response: no fault handler for the device",
            display: ("device {device:#x} is not attached to this VM"),
            examples: [{ device: 0x10 }],
        },
        /// The entropy source failed (never expected: the last fallback is `getrandom(2)`).
        Entropy {
            /// The source's errno.
            errno: Errno,
        } => {
            errno: errno,
            source: "getrandom(2)",
            display: ("the random number generator failed ({errno})"),
            examples: [{ errno: Errno::EINTR }],
        },
        /// The hardware backend refused the request; its errno is passed through.
        Backend {
            /// The backend's errno.
            errno: Errno,
        } => {
            errno: errno,
            source: "the hardware backend's own errno",
            display: ("the IOMMU backend refused the request ({errno})"),
            examples: [{ errno: Errno::ENOMEM }],
        },
    }
}

impl From<UapiError> for ViommuError {
    fn from(error: UapiError) -> ViommuError {
        ViommuError::Uapi { error }
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
