//! # vsva-vfio: the kernel transport of vsva
//!
//! This crate is where vsva meets the kernel. Every system call goes through the
//! [`sys::Kernel`] trait: [`sys::Host`] makes the real calls (the crate's only `unsafe`
//! code, in [`sys`]), and [`scripted::ScriptedKernel`] answers from a script so every
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
//! - the KVM-VFIO pseudo device ([`kvm`]) and the `vsva features` report ([`features`]).
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
//! The same code runs against [`scripted::ScriptedKernel`] in the tests, which is how
//! every wrapper is checked for each errno, short and oversize replies, argsz growth and
//! malformed capability chains.
//!
//! It also hosts [`explain`]: the logic of `vsva explain`, which shows how the kernel
//! judges an untrusted user struct under one of the three size policies of
//! [`vsva_uapi::Policy`] — every decoded field, how many bytes the kernel read, and on
//! rejection the errno and the rule that fired. The `vsva` binary is a thin clap front
//! end over it.
//!
//! ## Example: explain a guest's cache invalidation
//!
//! ```
//! use vsva_uapi::{layout_named, Errno, Policy};
//! use vsva_vfio::explain::{explain, parse_hex};
//!
//! let layout = layout_named("iommu_cache_invalidate_info").unwrap();
//! // An address-selective IOTLB invalidation, 56 bytes (x86_64, little endian).
//! let mut user = parse_hex(
//!     "38000000 01000000 01 02 000000000000 \
//!      01000000 00000000 0500000000000000 0010000000000000 \
//!      0010000000000000 0400000000000000",
//! )
//! .unwrap();
//! let verdict = explain(layout, None, None, &user);
//! assert!(verdict.is_accepted());
//! assert_eq!(verdict.policy, Policy::Linux510); // the struct's own policy
//! assert_eq!(verdict.bytes_read, 56);
//! let json = verdict.to_json();
//! assert_eq!(json["fields"]["granu.addr_info.nb_granules"], 4);
//! assert!(verdict.to_string().starts_with(
//!     "iommu_cache_invalidate_info under linux-5.10: ACCEPTED (argsz 56, read 56 bytes)"
//! ));
//!
//! // argsz 40 ends inside addr_info: EINVAL, after reading only the 16-byte header.
//! user[0] = 40;
//! let verdict = explain(layout, None, None, &user);
//! assert_eq!(verdict.error().map(|e| e.errno()), Some(Errno::EINVAL));
//! assert_eq!(verdict.bytes_read, 16);
//! assert_eq!(verdict.exit_code(), 1);
//! ```

#![deny(unsafe_code)]

pub mod caps;
pub mod cdev;
pub mod container;
pub mod device;
pub mod error;
pub mod explain;
pub mod features;
pub mod group;
pub mod iommu;
pub mod iommufd;
pub mod kvm;
pub mod nesting;
#[allow(unsafe_code)]
pub mod sys;

pub use error::{CapChainError, Error, Result};

pub mod smmuv3;
pub mod vtd;

pub use sys::scripted;
