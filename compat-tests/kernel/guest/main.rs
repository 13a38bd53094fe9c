//! The kernel tier's guest side: one test binary that runs inside the QEMU guest booted by
//! `compat-tests/kernel/run` (a custom 6.12 kernel with emulated VT-d, QEMU's `edu` and
//! `e1000e` devices bound to vfio-pci). Built only with the `kernel-guest` feature, static,
//! by the harness; never by a plain `cargo test` on the host. Outside the guest every test
//! panics (see [`guest::require_guest`]) rather than passing silently.
//!
//! The guest `/init` runs it with `--test-threads=1`; every test leaves the devices as it
//! found them (container unset, cdev and iommufd closed), because a device cannot be in a
//! container and bound to an iommufd at the same time.
//!
//! Modules:
//! - `guest`: the guest environment (devices, the IOMMU config of this boot, the edu driver);
//! - `sys`: the only `unsafe` code (the DMA buffer, DMA mappings);
//! - `legacy`: container/group/device and the edu DMA round trip through type1;
//! - `iommufd`: cdev + iommufd, GET_HW_INFO, IOAS, HWPT, the edu DMA through an IOAS;
//! - `policies`: the size policies observed on the real kernel vs vsva-uapi's prediction;
//! - `mock_nesting`: nesting on the kernel's mock IOMMU (`IOMMUFD_TEST`);
//! - `features`: `vsva features --json` in the guest;
//! - `viommu_iommufd`: vsva-viommu's iommufd backend on the mock IOMMU (the shared request
//!   sequences, and each step against the kernel's accounting).

#![deny(unsafe_code)]

mod features;
mod guest;
mod iommufd;
mod legacy;
mod mock_nesting;
mod policies;
#[allow(unsafe_code)]
mod sys;
mod viommu_iommufd;
mod vtd_mock;
