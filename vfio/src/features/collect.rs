//! [`collect`]: where to look ([`Options`]), the walk, and the one error that stops it.

use std::fs;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use crate::iommufd::DecodedHwInfo;

use crate::sys::{Host, Kernel};

use super::iommufd_backend::{self, OfferRule};
use super::probes::{iommufd_checks, query_iommufd, vfio_checks};

use super::report::{HostCheck, Report, Status, VtdUnit};
use super::rules::{derive_features, vtd_check};
use super::sysfs::{read_device, read_trimmed, read_vtd_units, sorted_names};

/// Where to look, and which kernel to ask.
#[derive(Debug, Clone)]
pub struct Options {
    /// The sysfs root (`/sys`).
    pub sysfs_root: PathBuf,
    /// The device root (`/dev`).
    pub dev_root: PathBuf,
    /// The procfs root (`/proc`), for `sys/kernel/osrelease`.
    pub proc_root: PathBuf,
    /// The kernel for the VFIO ioctls, or `None` to skip them (a recorded `/dev` root,
    /// whose nodes are plain files).
    pub kernel: Option<Arc<dyn Kernel>>,
    /// The vIOMMU's rule for the iommufd backend's offer ([`iommufd_backend::no_offer`]
    /// unless set: vsva-vfio holds no policy; `vsva features` sets
    /// `vsva_viommu::host::offer`).
    pub offer_rule: OfferRule,
}

impl Options {
    /// This host: `/sys`, `/dev`, `/proc`, and the real kernel.
    pub fn host() -> Options {
        Options {
            sysfs_root: "/sys".into(),
            dev_root: "/dev".into(),
            proc_root: "/proc".into(),
            kernel: Some(Arc::new(Host)),
            offer_rule: iommufd_backend::no_offer,
        }
    }

    /// A recorded host: the sysfs tree at `sysfs_root` (its release in
    /// `<sysfs_root>/../proc/sys/kernel/osrelease`), and the device nodes under
    /// `dev_root` (plain files: presence only, no ioctls) or, when `None`, this host's
    /// `/dev` and kernel.
    pub fn recorded(sysfs_root: impl Into<PathBuf>, dev_root: Option<PathBuf>) -> Options {
        let sysfs_root = sysfs_root.into();
        let proc_root = sysfs_root
            .parent()
            .map_or_else(|| PathBuf::from("proc"), |p| p.join("proc"));
        let host = Options::host();
        Options {
            sysfs_root,
            proc_root,
            kernel: if dev_root.is_some() {
                None
            } else {
                host.kernel
            },
            dev_root: dev_root.unwrap_or(host.dev_root),
            offer_rule: host.offer_rule,
        }
    }
}

/// Why `vsva features` could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum FeaturesError {
    /// The sysfs root is not a readable directory.
    #[error("cannot read sysfs root `{}`: {source}", path.display())]
    SysfsRoot {
        /// The root.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

/// Reads the host (or the recorded one `opts` names) and derives the report.
///
/// # Errors
/// [`FeaturesError::SysfsRoot`] when the sysfs root cannot be listed. Everything else
/// missing or malformed becomes a WARN or FAIL in the report.
pub fn collect(opts: &Options) -> Result<Report, FeaturesError> {
    let sysfs = &opts.sysfs_root;
    fs::read_dir(sysfs).map_err(|source| FeaturesError::SysfsRoot {
        path: sysfs.clone(),
        source,
    })?;
    let mut checks = Vec::new();
    // Files that are there but refused, reported after the other checks.
    let mut warnings = Vec::new();

    let kernel = read_trimmed(&opts.proc_root.join("sys/kernel/osrelease"), &mut warnings);
    checks.push(match &kernel {
        Some(k) => HostCheck::new("kernel", "Kernel release", Status::Pass, k.clone()),
        None => HostCheck::new(
            "kernel",
            "Kernel release",
            Status::Warn,
            format!(
                "cannot read {}",
                opts.proc_root.join("sys/kernel/osrelease").display()
            ),
        ),
    });
    vfio_checks(opts, &mut checks);
    iommufd_checks(opts, &mut checks);

    let groups_dir = sysfs.join("kernel/iommu_groups");
    let mut groups: Vec<(u32, String)> = sorted_names(&groups_dir)
        .into_iter()
        .filter_map(|g| Some((g.parse().ok()?, g)))
        .collect();
    groups.sort();
    checks.push(if groups.is_empty() {
        HostCheck::new(
            "iommu_groups",
            "IOMMU groups",
            Status::Fail,
            "no IOMMU groups",
        )
        .hint("enable the IOMMU: add intel_iommu=on (or amd_iommu=on) to the kernel command line")
    } else {
        HostCheck::new(
            "iommu_groups",
            "IOMMU groups",
            Status::Pass,
            format!("{} group(s)", groups.len()),
        )
    });

    let (vtd_units, bad_units) = read_vtd_units(sysfs, &mut warnings);
    if vtd_units.is_empty() && bad_units == 0 {
        checks.push(
            HostCheck::new("vtd", "Intel VT-d", Status::Warn, "no VT-d unit in sysfs")
                .hint("only Intel VT-d is decoded; boot with intel_iommu=on on Intel hosts"),
        );
    }
    checks.extend(vtd_units.iter().map(vtd_check));

    let mut devices = Vec::new();
    for (group, name) in &groups {
        for bdf in sorted_names(&groups_dir.join(name).join("devices")) {
            let mut dev = read_device(sysfs, &bdf, *group, &mut warnings);
            match (&opts.kernel, &dev.cdev, dev.is_vfio()) {
                (_, _, false) => {}
                (_, None, true) => dev.iommufd_backend = Err("no VFIO cdev".into()),
                (None, Some(_), true) => {
                    dev.iommufd_backend = Err("recorded /dev root: no ioctls".into())
                }
                (Some(kernel), Some(cdev), true) => {
                    let (hw, offer) =
                        match query_iommufd(kernel, &opts.dev_root, cdev, opts.offer_rule) {
                            Ok((hw, offer)) => {
                                (Ok(hw), offer.map_err(|e| format!("probe failed: {e}")))
                            }
                            Err(e) => (
                                Err(e.to_string()),
                                Err(format!("IOMMU_GET_HW_INFO failed: {e}")),
                            ),
                        };
                    dev.hw_info = Some(hw);
                    dev.iommufd_backend = offer;
                }
            }
            // GET_HW_INFO describes the IOMMU behind this very device: it wins over sysfs.
            let from_hw_info = match &dev.hw_info {
                Some(Ok(DecodedHwInfo {
                    vtd: Some(caps), ..
                })) => Some(VtdUnit {
                    name: "IOMMU_GET_HW_INFO".into(),
                    caps: *caps,
                }),
                _ => None,
            };
            let unit = match (&from_hw_info, &dev.iommu) {
                (Some(u), _) => Some(u),
                (None, Some(name)) => vtd_units.iter().find(|u| &u.name == name),
                (None, None) if vtd_units.len() == 1 => vtd_units.first(),
                (None, None) => None,
            };
            dev.features = derive_features(&dev, unit);
            devices.push(dev);
        }
    }

    let vfio: Vec<&str> = devices
        .iter()
        .filter(|d| d.is_vfio())
        .map(|d| d.bdf.as_str())
        .collect();
    checks.push(if vfio.is_empty() {
        HostCheck::new(
            "vfio_devices",
            "Devices bound to vfio-pci",
            Status::Warn,
            "none",
        )
        .hint("bind one: driverctl set-override <BDF> vfio-pci")
    } else {
        HostCheck::new(
            "vfio_devices",
            "Devices bound to vfio-pci",
            Status::Pass,
            vfio.join(" "),
        )
    });
    for d in &devices {
        if let Some(problem) = d.config_problem() {
            checks.push(HostCheck::new(
                format!("pci_config:{}", d.bdf),
                format!("{} config space", d.bdf),
                Status::Warn,
                problem,
            ));
        }
    }

    checks.extend(warnings);

    Ok(Report {
        kernel,
        checks,
        vtd_units,
        devices,
    })
}
