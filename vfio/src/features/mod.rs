//! `vsva features`: what this host can give a guest.
//!
//! [`collect`] reads the host (or a recorded copy of it) and returns a [`Report`]:
//!
//! - host checks ([`HostCheck`]): the kernel release; `/dev/vfio/vfio`, `/dev/iommu` and
//!   `/dev/vfio/devices/`; the VFIO API version and the TYPE1v2 / NOIOMMU extensions
//!   (through the [`Kernel`](crate::sys::Kernel) seam); the IOMMU groups; each Intel VT-d unit
//!   (`<sysfs>/class/iommu/*/intel-iommu/{cap,ecap}`, decoded by [`VtdCapabilities`](crate::vtd::VtdCapabilities));
//!   the devices bound to `vfio-pci`; and a WARN for every device whose config space
//!   could not be walked;
//! - every device of every IOMMU group (`<sysfs>/kernel/iommu_groups/N/devices/BDF`),
//!   with vendor, device, driver, VFIO cdev and IOMMU unit from
//!   `<sysfs>/bus/pci/devices/BDF/`, and its PASID / PRI / ATS capabilities from its
//!   `config` file ([`pci::parse_ext_caps`]);
//! - per device, the derived `IOMMU_NESTING_FEAT_*` set ([`NestingFeatures`](vsva_uapi::consts::NestingFeatures)), each
//!   feature with one line saying why it is or is not available ([`FeatureVerdict`]);
//! - per device bound to `vfio-pci` with a VFIO cdev, `IOMMU_GET_HW_INFO` (its IOMMU's
//!   registers win over sysfs) and, in the same iommufd session, the **iommufd backend
//!   offer** ([`iommufd_backend`]): what `vsva-viommu`'s iommufd backend would offer a
//!   guest on this host — a nest-parent probe (an IOAS and an
//!   `IOMMU_HWPT_ALLOC_NEST_PARENT` HWPT, both destroyed on every path) classified as
//!   supported / not in hardware / refused by the kernel, and the features of the one
//!   rule `vsva_viommu::HostIommu::features` also uses.
//!
//! The per-device rules (VT-d; other IOMMUs are not decoded yet):
//!
//! | feature | available when |
//! |---|---|
//! | `SYSWIDE_PASID` | the unit has `ECAP.PASID` |
//! | `BIND_PGTBL` | the unit has scalable mode (`ECAP.SMTS`), nesting (`ECAP.NEST`) and first-level tables (`ECAP.FLTS`), and the device has a PASID capability and is bound to `vfio-pci` |
//! | `CACHE_INVLD` | `BIND_PGTBL`, and the unit has queued invalidation (`ECAP.QI`) |
//! | `PAGE_REQUEST` | `BIND_PGTBL`, the unit has `ECAP.PRS` and the device a PRI capability |
//! | `BIND_PASID_TABLE` | never: SMMUv3 only (N/A on VT-d) |
//!
//! The backend offer follows the host IOMMU alone (what `iommu_nesting_info.features`
//! would tell the guest), not the device's capabilities; its rules and the probe's
//! classification are in [`iommufd_backend`]. The nest parent is asked for even when the
//! registers say no, so the report shows whether the kernel agrees (`errno`).
//!
//! ## Output
//!
//! [`Report`]'s `Display` prints `virt-host-validate`-style lines, `  <check> : STATUS
//! (detail: hint)`, aligned, then one block per device with `lspci`-style capability
//! lines, one line per nesting feature, and one `  iommufd backend offer: …` line (the
//! offered features or `none`, then why: `(nesting supported: …)`, `(no nesting: not in
//! hardware, no ECAP.NEST, …; the kernel also refused a nest parent: EOPNOTSUPP (95))`,
//! or `not probed (why)`).
//!
//! The JSON form (`vsva features --json`) and its schema are the CLI's:
//! `vsva_cli::features` in `vfio/cli/`.
//!
//! HostCheck ids: `kernel`, `dev_vfio`, `vfio_api`, `vfio_type1v2`, `vfio_noiommu`,
//! `dev_iommu`, `vfio_cdev`, `iommu_groups`, `vtd:<unit>` (or `vtd` when there is none),
//! `vfio_devices`, `pci_config:<bdf>`.
//!
//! Exit code ([`Report::exit_code`]): 0 when no check FAILs, at least one device is bound
//! to `vfio-pci`, and every such device has every nesting feature its IOMMU can have
//! (N/A ones aside); 1 otherwise. WARNs and the backend offer do not change it. An unreadable sysfs root is an
//! error ([`FeaturesError`], exit 2 in the binary).
//!
//! ```
//! use vsva_vfio::features::{collect, Options, Status};
//! // A recorded sysfs tree of a scalable-mode VT-d host with one PASID device on vfio-pci.
//! let data = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/hosts/vtd-pasid");
//! let opts = Options::recorded(format!("{data}/sys"), Some(format!("{data}/dev").into()));
//! let report = collect(&opts).unwrap();
//! assert_eq!(report.exit_code(), 0);
//! let dev = &report.devices[0];
//! assert_eq!(dev.bdf, "0000:3b:00.0");
//! assert_eq!(dev.feature("BIND_PGTBL").unwrap().status, Status::Pass);
//! ```

pub mod iommufd_backend;
pub mod pci;

mod collect;
mod probes;
mod render;
mod report;
mod rules;
mod sysfs;
#[cfg(test)]
mod tests;

pub use collect::{collect, FeaturesError, Options};
pub use probes::{query_hw_info, query_iommufd};
pub use report::{DeviceReport, FeatureVerdict, HostCheck, Report, Status, VtdUnit};
pub use rules::derive_features;
