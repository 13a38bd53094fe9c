//! # vsva-vfio: the kernel transport of vsva
//!
//! This crate is where vsva meets the kernel. Every system call goes through the
//! [`sys::Kernel`] trait: [`sys::Host`] makes the real calls (the crate's only `unsafe`
//! code, in [`sys`]), and `scripted::ScriptedKernel` (feature `testing`) answers from a script so every
//! wrapper is tested without `/dev/vfio` or `/dev/iommu`. On that seam:
//!
//! - legacy VFIO: [`container::Container`], [`group::Group`], [`device::Device`] and the
//!   type1 IOMMU ([`iommu`]: `VFIO_IOMMU_GET_INFO` with argsz negotiation, DMA map/unmap);
//! - one bounded capability-chain parser for every chain ([`caps`]);
//! - VFIO cdev and iommufd ([`cdev`], [`iommufd`]): IOAS, IOVA ranges, `GET_HW_INFO`
//!   (VT-d registers decoded by [`vtd`], SMMUv3 ID registers by [`smmuv3`]), HWPT allocation and invalidation, fault queues —
//!   every request sent at the smallest size that carries it;
//! - the 2020 nesting envelope ([`nesting`]): the VFIO-side dispatch that hands the IOMMU
//!   payload untouched to a [`nesting::NestingHandler`], and the user side;
//! - the KVM-VFIO pseudo device (`kvm`, with the `kvm` feature) and the facts the
//!   `vsva features` report is made of ([`features`]).
//!
//! ## Example: open a device both ways and read what its IOMMU offers
//!
//! Against the real kernel ([`sys::Host`]); it needs a device bound to `vfio-pci`.
//!
//! ```no_run
//! use std::sync::Arc;
//! use vsva_vfio::cdev::CdevDevice;
//! use vsva_vfio::container::Container;
//! use vsva_vfio::group::Group;
//! use vsva_vfio::iommufd::Iommufd;
//! use vsva_vfio::sys::{Host, Kernel};
//!
//! # fn main() -> vsva_vfio::Result<()> {
//! let kernel: Arc<dyn Kernel> = Arc::new(Host);
//!
//! // Legacy: container + group, then the device by name.
//! let container = Container::open(Arc::clone(&kernel))?;
//! let group = Group::open(Arc::clone(&kernel), 12)?;
//! assert!(group.status()?.viable);
//! group.set_container(&container)?;
//! container.set_iommu(3)?; // VFIO_TYPE1v2_IOMMU
//! let info = container.iommu_info()?; // argsz grows until the caps fit
//! println!("page sizes {:#x}, IOVA ranges {:?}", info.iova_pgsizes, info.caps.iova_ranges);
//! let device = group.device("0000:3b:00.0")?;
//! let bar0 = device.region_info(0)?; // by region index
//! println!("BAR0: {} bytes", bar0.size);
//!
//! // VFIO cdev + iommufd: bind, attach to an IOAS, ask the IOMMU what it supports.
//! let iommufd = Iommufd::open(Arc::clone(&kernel))?;
//! let cdev = CdevDevice::open(Arc::clone(&kernel), "/dev/vfio/devices/vfio0")?;
//! let dev_id = cdev.bind(&iommufd)?;
//! let ioas = iommufd.ioas_alloc()?;
//! cdev.attach(ioas)?;
//! let hw = iommufd.hw_info(dev_id)?;
//! if let Some(vtd) = hw.vtd {
//!     println!("VT-d: nesting {}, {} PASID bits", vtd.nesting, vtd.pasid_bits);
//! }
//! println!("IOVA ranges: {:?}", iommufd.ioas_iova_ranges(ioas)?.ranges);
//! # Ok(())
//! # }
//! ```
//!
//! The same code runs against `scripted::ScriptedKernel` (feature `testing`) in the tests, which is how
//! every wrapper is checked for each errno, short and oversize replies, argsz growth and
//! malformed capability chains.
//!
//! The `vsva` tool (`vsva explain`, `vsva features`) is a separate crate, `vsva-cli`
//! (`vfio/cli/`), so this library pulls in no argument parser and no JSON.
//!
//! ## Features
//!
//! - `kvm` (off by default): the KVM-VFIO pseudo device (module `kvm`, on `kvm-ioctls`). A
//!   VMM on another hypervisor builds this crate with no KVM crate at all.
//! - `vm-memory` (off by default): `guest_memory::GuestMemoryDma`, a safe mapper of
//!   vm-memory's `GuestMemoryMmap` into an IOAS or a type1 container (it holds the regions
//!   and unmaps on drop), the safe counterpart of the `unsafe` `Iommufd::ioas_map` and
//!   `Container::map_dma`.

#![deny(unsafe_code)]

/// `AsFd` and `AsRawFd` for a handle, through the [`sys::KernelFd`] an expression of it
/// names.
macro_rules! fd_handle {
    ($ty:ty, |$h:ident| $fd:expr) => {
        impl std::os::fd::AsFd for $ty {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                let $h = self;
                std::os::fd::AsFd::as_fd($fd)
            }
        }

        impl std::os::fd::AsRawFd for $ty {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                let $h = self;
                std::os::fd::AsRawFd::as_raw_fd($fd)
            }
        }
    };
}

pub mod bounded;
pub mod caps;
pub mod cdev;
pub mod container;
pub mod device;
pub mod error;
pub mod features;
pub mod group;
pub mod iommu;
pub mod iommufd;
#[cfg(feature = "kvm")]
pub mod kvm;
pub mod nesting;
#[allow(unsafe_code)]
pub mod sys;

pub use error::{CapChainError, Error, Result};

pub mod smmuv3;
pub mod vevent;
pub mod vtd;

#[cfg(any(test, feature = "testing"))]
pub use sys::scripted;

#[cfg(feature = "vm-memory")]
pub use sys::guest_memory;
