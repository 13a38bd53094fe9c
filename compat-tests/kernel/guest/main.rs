//! The kernel tier's guest side: one test binary that runs inside the QEMU guests booted by
//! `compat-tests/kernel/run` (small 6.1, 6.12 and 7.x kernels built from Debian's sources,
//! with an emulated VT-d or without, QEMU's `edu` and `e1000e` devices bound to vfio-pci).
//! Built only with the `kernel-guest` feature, static, by the harness; never by a plain
//! `cargo test` on the host. Outside the guest every test panics (see
//! [`guest::require_guest`]) rather than passing silently.
//!
//! The guest `/init` runs it with `--test-threads=1`; every test leaves the devices as it
//! found them (container unset, cdev and iommufd closed), because a device cannot be in a
//! container and bound to an iommufd at the same time.
//!
//! **Suites.** Each module below that holds tests is a suite, declared in [`suites!`] with
//! what it needs from a boot ([`tier::Need`]: an emulated VT-d, a kernel option, a
//! release, the mock IOMMU, a real `/dev/kvm`). The `/init` asks [`tier::plan`] which
//! suites this boot can run and reports the others as n/a with the reason; a test that
//! needs more than its suite calls [`tier::applies`] first. A new suite is one line here.
//!
//! Other modules: `guest` (the guest environment: devices, the IOMMU config of this boot,
//! the edu driver, expected DMAR faults) and `sys` (the only `unsafe` code: the DMA
//! buffer, DMA mappings).

#![deny(unsafe_code)]

use tier::Need::{Config, Mock, Vtd};

/// Declares the suites: `name needs [Need, ...];` becomes `mod name;` and an entry of
/// [`SUITES`], the table [`tier::plan`] reads.
macro_rules! suites {
    ($( $(#[$attr:meta])* $name:ident needs [$($need:expr),* $(,)?]; )*) => {
        $( $(#[$attr])* mod $name; )*

        /// Every suite of this binary and what its tests need, in declaration order.
        pub(crate) const SUITES: &[tier::Suite] = &[
            $( tier::Suite { name: stringify!($name), needs: &[$($need),*] }, )*
        ];
    };
}

suites! {
    /// The boot itself: the kernel is the one built, the plan can be made, whether the
    /// mock IOMMU takes a device beside VT-d.
    tier needs [];
    /// Container/group/device and the edu DMA round trip through type1.
    legacy needs [Vtd];
    /// cdev + iommufd, GET_HW_INFO, IOAS, HWPT, the edu DMA through an IOAS.
    iommufd needs [Vtd, Config("CONFIG_IOMMUFD"), Config("CONFIG_VFIO_DEVICE_CDEV")];
    /// The size policies observed on the real kernel vs vsva-uapi's prediction.
    policies needs [Vtd, Config("CONFIG_IOMMUFD"), Config("CONFIG_VFIO_DEVICE_CDEV")];
    /// `vsva features --json` in the guest.
    features needs [Vtd, Config("CONFIG_VFIO_DEVICE_CDEV")];
    /// Nesting on the kernel's mock IOMMU (`IOMMUFD_TEST`).
    mock_nesting needs [Mock];
    /// vsva-viommu's iommufd backend on the mock IOMMU (the shared request sequences, and
    /// each step against the kernel's accounting).
    viommu_iommufd needs [Mock];
    /// vsva's emulated VT-d driven by a scripted Linux guest over vsva-viommu's iommufd
    /// backend on the mock IOMMU.
    vtd_mock needs [Mock];
    /// vsva on a VMM's fds: rust-vmm's vfio-ioctls opens the iommufd, the IOAS and (VT-d
    /// boots) the device; vsva maps guest memory, DMAs, binds and invalidates on them.
    vfio_ioctls needs [Config("CONFIG_IOMMUFD")];
}

mod guest;
#[allow(unsafe_code)]
mod sys;
