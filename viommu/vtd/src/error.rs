//! The errors a VMM sees while setting the unit up. Nothing a guest does is an error of
//! the VMM's: the guest's mistakes become the specification's faults (fault records,
//! invalidation queue errors), never a `Result` the VMM must handle.

use vsva_viommu::ViommuError;

/// Why the unit could not be built or a device not attached.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VtdError {
    /// The host IOMMU cannot back what a scalable-mode unit must offer.
    #[error("the host cannot back an emulated scalable-mode VT-d: {why}")]
    HostCannotBack {
        /// What is missing.
        why: &'static str,
    },
    /// A guest requester id is attached twice (to two host devices).
    #[error("guest requester id {rid:#06x} is already attached")]
    RidInUse {
        /// The guest requester id (bus:devfn).
        rid: u16,
    },
    /// The host device could not be attached to the VM.
    #[error("attaching the device: {0}")]
    Attach(#[from] ViommuError),
}
