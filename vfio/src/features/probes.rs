//! The ioctl probes: the VFIO container's API version and extensions, `/dev/iommu`, and
//! an iommufd session per VFIO cdev (`IOMMU_GET_HW_INFO`, the backend offer).

use std::path::Path;
use std::sync::Arc;

use vsva_uapi::Errno;

use crate::cdev::CdevDevice;
use crate::container::Container;
use crate::iommufd::{DecodedHwInfo, DevId, Iommufd};
use crate::sys::Kernel;
use crate::sys::KernelFd;

use super::iommufd_backend::{self, BackendOffer, OfferRule};

use super::collect::Options;

use super::report::{HostCheck, Status};

use super::sysfs::sorted_names;

/// `VFIO_TYPE1v2_IOMMU`.
pub(super) const VFIO_TYPE1V2_IOMMU: u64 = 3;

/// `VFIO_NOIOMMU_IOMMU`.
pub(super) const VFIO_NOIOMMU_IOMMU: u64 = 8;

/// Opens `<dev_root>/iommu` and binds the cdev `<dev_root>/vfio/devices/<cdev>` to it.
pub(super) fn iommufd_session(
    kernel: &Arc<dyn Kernel>,
    dev_root: &Path,
    cdev: &str,
) -> crate::Result<(Iommufd, CdevDevice, DevId)> {
    let node = dev_root.join("iommu");
    let fd = KernelFd::open(kernel, &node, true).map_err(|errno| crate::Error::Open {
        path: node.clone(),
        errno,
    })?;
    let iommufd = Iommufd::from_fd(fd);
    let device = CdevDevice::open(Arc::clone(kernel), dev_root.join("vfio/devices").join(cdev))?;
    let dev_id = device.bind(&iommufd)?;
    Ok((iommufd, device, dev_id))
}

/// `IOMMU_GET_HW_INFO` for the device whose VFIO cdev is `<dev_root>/vfio/devices/<cdev>`:
/// open `<dev_root>/iommu`, bind the cdev to it, ask.
///
/// # Errors
/// Any [`crate::Error`] of the open, bind or query.
pub fn query_hw_info(
    kernel: &Arc<dyn Kernel>,
    dev_root: &Path,
    cdev: &str,
) -> crate::Result<DecodedHwInfo> {
    let (iommufd, _device, dev_id) = iommufd_session(kernel, dev_root, cdev)?;
    iommufd.hw_info(dev_id)
}

/// [`query_hw_info`] and, in the same session, what the iommufd backend would offer a
/// guest by `rule` ([`iommufd_backend::probe`]: a nest parent on an IOAS of its own,
/// both destroyed before the session closes).
///
/// # Errors
/// The outer error: [`query_hw_info`]'s. The inner one: the probe's.
pub fn query_iommufd(
    kernel: &Arc<dyn Kernel>,
    dev_root: &Path,
    cdev: &str,
    rule: OfferRule,
) -> crate::Result<(DecodedHwInfo, crate::Result<BackendOffer>)> {
    let (iommufd, _device, dev_id) = iommufd_session(kernel, dev_root, cdev)?;
    let hw = iommufd.hw_info(dev_id)?;
    let offer = iommufd_backend::probe(&iommufd, dev_id, &hw, rule);
    Ok((hw, offer))
}

/// The VFIO container at `node` (`/dev/vfio/vfio` under the dev root).
pub(super) fn container_at(kernel: &Arc<dyn Kernel>, node: &Path) -> Result<Container, Errno> {
    Ok(Container::from_fd(KernelFd::open(kernel, node, true)?))
}

pub(super) fn probe_api_version(kernel: &Arc<dyn Kernel>, node: &Path) -> Result<i32, Errno> {
    container_at(kernel, node)?
        .api_version()
        .map_err(|e| e.errno())
}

pub(super) fn probe_extension(
    kernel: &Arc<dyn Kernel>,
    node: &Path,
    extension: u64,
) -> Result<bool, Errno> {
    let extension = u32::try_from(extension).map_err(|_| Errno::EINVAL)?;
    container_at(kernel, node)?
        .check_extension(extension)
        .map_err(|e| e.errno())
}

pub(super) fn vfio_checks(opts: &Options, checks: &mut Vec<HostCheck>) {
    let node = opts.dev_root.join("vfio/vfio");
    let present = node.exists();
    if present {
        checks.push(HostCheck::new(
            "dev_vfio",
            "/dev/vfio/vfio",
            Status::Pass,
            "present",
        ));
    } else {
        checks.push(
            HostCheck::new(
                "dev_vfio",
                "/dev/vfio/vfio",
                Status::Fail,
                "/dev/vfio missing",
            )
            .hint("load vfio-pci (modprobe vfio-pci)"),
        );
    }
    let ids = [
        ("vfio_api", "VFIO API version"),
        ("vfio_type1v2", "VFIO TYPE1v2 IOMMU"),
        ("vfio_noiommu", "VFIO no-IOMMU mode"),
    ];
    let kernel = match (&opts.kernel, present) {
        (Some(k), true) => k,
        (None, true) => {
            for (id, label) in ids {
                checks.push(HostCheck::new(
                    id,
                    label,
                    Status::NotApplicable,
                    "not probed: recorded /dev root",
                ));
            }
            return;
        }
        (_, false) => {
            for (id, label) in ids {
                checks.push(HostCheck::new(
                    id,
                    label,
                    Status::NotApplicable,
                    "not probed: no /dev/vfio/vfio",
                ));
            }
            return;
        }
    };
    checks.push(match probe_api_version(kernel, &node) {
        Ok(0) => HostCheck::new(ids[0].0, ids[0].1, Status::Pass, "VFIO_API_VERSION 0"),
        Ok(v) => HostCheck::new(
            ids[0].0,
            ids[0].1,
            Status::Fail,
            format!("unknown VFIO API version {v} (expected 0)"),
        ),
        Err(e) => HostCheck::new(
            ids[0].0,
            ids[0].1,
            Status::Fail,
            format!("VFIO_GET_API_VERSION failed: {e}"),
        )
        .hint("run as root, or give this user access to /dev/vfio/vfio"),
    });
    checks.push(match probe_extension(kernel, &node, VFIO_TYPE1V2_IOMMU) {
        Ok(true) => HostCheck::new(ids[1].0, ids[1].1, Status::Pass, "supported"),
        Ok(false) => HostCheck::new(ids[1].0, ids[1].1, Status::Fail, "not supported")
            .hint("load vfio_iommu_type1 (modprobe vfio_iommu_type1)"),
        Err(e) => HostCheck::new(
            ids[1].0,
            ids[1].1,
            Status::Fail,
            format!("VFIO_CHECK_EXTENSION failed: {e}"),
        ),
    });
    checks.push(match probe_extension(kernel, &node, VFIO_NOIOMMU_IOMMU) {
        Ok(false) => HostCheck::new(ids[2].0, ids[2].1, Status::Pass, "off"),
        Ok(true) => HostCheck::new(
            ids[2].0,
            ids[2].1,
            Status::Warn,
            "enabled: devices may be used without DMA isolation",
        )
        .hint("unset vfio.enable_unsafe_noiommu_mode"),
        Err(e) => HostCheck::new(
            ids[2].0,
            ids[2].1,
            Status::Warn,
            format!("VFIO_CHECK_EXTENSION failed: {e}"),
        ),
    });
}

pub(super) fn iommufd_checks(opts: &Options, checks: &mut Vec<HostCheck>) {
    checks.push(if opts.dev_root.join("iommu").exists() {
        HostCheck::new("dev_iommu", "/dev/iommu", Status::Pass, "present")
    } else {
        HostCheck::new(
            "dev_iommu",
            "/dev/iommu",
            Status::Warn,
            "/dev/iommu missing",
        )
        .hint("load iommufd (modprobe iommufd)")
    });
    let devices = opts.dev_root.join("vfio/devices");
    checks.push(if devices.is_dir() {
        let n = sorted_names(&devices).len();
        HostCheck::new(
            "vfio_cdev",
            "/dev/vfio/devices",
            Status::Pass,
            format!("{n} VFIO cdev(s)"),
        )
    } else {
        HostCheck::new(
            "vfio_cdev",
            "/dev/vfio/devices",
            Status::Warn,
            "/dev/vfio/devices missing",
        )
        .hint("a kernel with CONFIG_VFIO_DEVICE_CDEV=y and a device bound to vfio-pci")
    });
}
