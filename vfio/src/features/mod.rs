//! `vsva features`: what this host can give a guest.
//!
//! [`collect`] reads the host (or a recorded copy of it) and returns a [`Report`]:
//!
//! - host checks ([`Check`]): the kernel release; `/dev/vfio/vfio`, `/dev/iommu` and
//!   `/dev/vfio/devices/`; the VFIO API version and the TYPE1v2 / NOIOMMU extensions
//!   (through the [`Kernel`] seam); the IOMMU groups; each Intel VT-d unit
//!   (`<sysfs>/class/iommu/*/intel-iommu/{cap,ecap}`, decoded by [`VtdCapabilities`]);
//!   the devices bound to `vfio-pci`; and a WARN for every device whose config space
//!   could not be walked;
//! - every device of every IOMMU group (`<sysfs>/kernel/iommu_groups/N/devices/BDF`),
//!   with vendor, device, driver, VFIO cdev and IOMMU unit from
//!   `<sysfs>/bus/pci/devices/BDF/`, and its PASID / PRI / ATS capabilities from its
//!   `config` file ([`pci::parse_ext_caps`]);
//! - per device, the derived `IOMMU_NESTING_FEAT_*` set ([`NestingFeatures`]), each
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
//! Check ids: `kernel`, `dev_vfio`, `vfio_api`, `vfio_type1v2`, `vfio_noiommu`,
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

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use vsva_uapi::consts::NestingFeatures;
use vsva_uapi::Errno;

use crate::bounded;
use crate::cdev::CdevDevice;
use crate::container::Container;
use crate::iommufd::{DevId, HwInfo, Iommufd};
use crate::sys::KernelFd;
use crate::sys::{Host, Kernel};
use crate::vtd::VtdCapabilities;

pub mod iommufd_backend;
pub mod pci;

use iommufd_backend::BackendOffer;
use pci::{parse_ext_caps, ExtCaps};

/// `VFIO_TYPE1v2_IOMMU`.
const VFIO_TYPE1V2_IOMMU: u64 = 3;
/// `VFIO_NOIOMMU_IOMMU`.
const VFIO_NOIOMMU_IOMMU: u64 = 8;

/// The outcome of one check or feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Present and usable.
    Pass,
    /// Usable, but something is off (see the hint).
    Warn,
    /// Missing.
    Fail,
    /// Does not apply to this host.
    NotApplicable,
}

impl Status {
    /// `PASS`, `WARN`, `FAIL` or `N/A`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
            Status::NotApplicable => "N/A",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One host check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// A stable identifier (`dev_vfio`, `vtd:dmar0`, …).
    pub id: String,
    /// What the human output calls it.
    pub label: String,
    /// The outcome.
    pub status: Status,
    /// What was found.
    pub detail: String,
    /// How to fix it, for WARN and FAIL.
    pub hint: Option<String>,
}

impl Check {
    fn new(
        id: impl Into<String>,
        label: impl Into<String>,
        status: Status,
        detail: impl Into<String>,
    ) -> Check {
        Check {
            id: id.into(),
            label: label.into(),
            status,
            detail: detail.into(),
            hint: None,
        }
    }

    fn hint(mut self, hint: impl Into<String>) -> Check {
        self.hint = Some(hint.into());
        self
    }

    /// The parenthesised part of the human line: `detail: hint`.
    pub fn explanation(&self) -> String {
        match &self.hint {
            Some(h) if self.detail.is_empty() => h.clone(),
            Some(h) => format!("{}: {h}", self.detail),
            None => self.detail.clone(),
        }
    }
}

/// One nesting feature of one device: available or not, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureVerdict {
    /// The feature (one bit).
    pub feature: NestingFeatures,
    /// Its name without the `IOMMU_NESTING_FEAT_` prefix.
    pub name: &'static str,
    /// PASS (available), FAIL (not available) or N/A (not for this IOMMU).
    pub status: Status,
    /// One line saying why.
    pub reason: String,
}

/// An Intel VT-d unit from `<sysfs>/class/iommu/<name>/intel-iommu/{cap,ecap}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VtdUnit {
    /// The unit's name (`dmar0`).
    pub name: String,
    /// Its decoded registers.
    pub caps: VtdCapabilities,
}

impl VtdUnit {
    /// What nested translation on this unit lacks: empty when scalable mode, nesting,
    /// first-level tables and PASID are all there.
    pub fn nesting_missing(&self) -> Vec<&'static str> {
        let c = &self.caps;
        [
            (c.scalable_mode, "scalable mode (ECAP.SMTS)"),
            (c.nesting, "nesting (ECAP.NEST)"),
            (c.first_level, "first-level translation (ECAP.FLTS)"),
            (c.pasid, "PASID (ECAP.PASID)"),
        ]
        .into_iter()
        .filter(|(ok, _)| !ok)
        .map(|(_, name)| name)
        .collect()
    }
}

/// One device of an IOMMU group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceReport {
    /// PCI address, `dddd:bb:dd.f`.
    pub bdf: String,
    /// PCI vendor id, when readable.
    pub vendor: Option<u16>,
    /// PCI device id, when readable.
    pub device: Option<u16>,
    /// The bound driver's name (the `driver` symlink's target).
    pub driver: Option<String>,
    /// The IOMMU group.
    pub group: u32,
    /// The VFIO cdev (`vfio-dev/vfioN`), when the device has one.
    pub cdev: Option<String>,
    /// The IOMMU unit translating for it (the `iommu` symlink's target).
    pub iommu: Option<String>,
    /// Its extended capabilities (PASID, PRI, ATS).
    pub caps: ExtCaps,
    /// Why its config space could not be read at all, if it could not.
    pub config_error: Option<String>,
    /// What `IOMMU_GET_HW_INFO` reported for it (vfio-pci devices with a VFIO cdev, on
    /// a host with `/dev/iommu`): the IOMMU data or why the query failed; `None` when
    /// not asked.
    pub hw_info: Option<std::result::Result<HwInfo, String>>,
    /// What `vsva-viommu`'s iommufd backend would offer a guest behind this device
    /// ([`iommufd_backend::probe`], in the session that asked `IOMMU_GET_HW_INFO`), or
    /// why it was not probed (not on `vfio-pci`, no VFIO cdev, a recorded `/dev` root,
    /// `IOMMU_GET_HW_INFO` failed, the probe failed).
    pub iommufd_backend: std::result::Result<BackendOffer, String>,
    /// One verdict per nesting feature, in bit order.
    pub features: Vec<FeatureVerdict>,
}

impl DeviceReport {
    /// Whether it is bound to `vfio-pci` (can be assigned to a guest).
    pub fn is_vfio(&self) -> bool {
        self.driver.as_deref() == Some("vfio-pci")
    }

    /// The available features.
    pub fn nesting_features(&self) -> NestingFeatures {
        self.features
            .iter()
            .filter(|v| v.status == Status::Pass)
            .fold(NestingFeatures::empty(), |acc, v| acc | v.feature)
    }

    /// The verdict for one feature, by name (`BIND_PGTBL`).
    pub fn feature(&self, name: &str) -> Option<&FeatureVerdict> {
        self.features.iter().find(|v| v.name == name)
    }

    /// Why the config space walk stopped, or could not start.
    pub fn config_problem(&self) -> Option<String> {
        self.config_error
            .clone()
            .or_else(|| self.caps.problem.map(|p| p.to_string()))
    }
}

/// Opens `<dev_root>/iommu` and binds the cdev `<dev_root>/vfio/devices/<cdev>` to it.
fn iommufd_session(
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
) -> crate::Result<HwInfo> {
    let (iommufd, _device, dev_id) = iommufd_session(kernel, dev_root, cdev)?;
    iommufd.hw_info(dev_id)
}

/// [`query_hw_info`] and, in the same session, what the iommufd backend would offer a
/// guest ([`iommufd_backend::probe`]: a nest parent on an IOAS of its own, both
/// destroyed before the session closes).
///
/// # Errors
/// The outer error: [`query_hw_info`]'s. The inner one: the probe's.
pub fn query_iommufd(
    kernel: &Arc<dyn Kernel>,
    dev_root: &Path,
    cdev: &str,
) -> crate::Result<(HwInfo, crate::Result<BackendOffer>)> {
    let (iommufd, _device, dev_id) = iommufd_session(kernel, dev_root, cdev)?;
    let hw = iommufd.hw_info(dev_id)?;
    let offer = iommufd_backend::probe(&iommufd, dev_id, &hw);
    Ok((hw, offer))
}

/// Everything `vsva features` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The kernel release, when readable.
    pub kernel: Option<String>,
    /// The host checks, in output order.
    pub checks: Vec<Check>,
    /// The Intel VT-d units.
    pub vtd_units: Vec<VtdUnit>,
    /// Every device of every IOMMU group, by group then address.
    pub devices: Vec<DeviceReport>,
}

impl Report {
    /// The check with this id.
    pub fn check(&self, id: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.id == id)
    }

    /// Whether a guest can have every nesting feature: no check FAILs, at least one
    /// device is bound to `vfio-pci`, and every such device has every feature its
    /// IOMMU can offer.
    pub fn usable(&self) -> bool {
        let mut vfio = self.devices.iter().filter(|d| d.is_vfio()).peekable();
        !self.checks.iter().any(|c| c.status == Status::Fail)
            && vfio.peek().is_some()
            && vfio.all(|d| d.features.iter().all(|v| v.status != Status::Fail))
    }

    /// 0 when [`usable`](Report::usable), else 1.
    pub fn exit_code(&self) -> u8 {
        if self.usable() {
            0
        } else {
            1
        }
    }
}

fn yes_no(b: bool) -> char {
    if b {
        '+'
    } else {
        '-'
    }
}

fn status_lines(f: &mut fmt::Formatter<'_>, lines: &[(String, Status, String)]) -> fmt::Result {
    let width = lines.iter().map(|(l, ..)| l.len()).max().unwrap_or(0);
    for (label, status, why) in lines {
        if why.is_empty() {
            writeln!(f, "  {label:<width$} : {status}")?;
        } else {
            writeln!(f, "  {label:<width$} : {status} ({why})")?;
        }
    }
    Ok(())
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Host")?;
        let lines: Vec<_> = self
            .checks
            .iter()
            .map(|c| (c.label.clone(), c.status, c.explanation()))
            .collect();
        status_lines(f, &lines)?;
        for d in &self.devices {
            let id = match (d.vendor, d.device) {
                (Some(v), Some(dev)) => format!(" [{v:04x}:{dev:04x}]"),
                _ => String::new(),
            };
            let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "none".into());
            writeln!(
                f,
                "\nDevice {}{id}: group {}, driver {}, cdev {}, iommu {}",
                d.bdf,
                d.group,
                opt(&d.driver),
                opt(&d.cdev),
                opt(&d.iommu)
            )?;
            if let Some(problem) = d.config_problem() {
                writeln!(f, "    Capabilities: <{problem}>")?;
            } else if !d.caps.pcie {
                writeln!(
                    f,
                    "    Capabilities: <conventional PCI: no extended capabilities>"
                )?;
            }
            let absent = if d.config_problem().is_some() {
                "<not found>"
            } else {
                "<absent>"
            };
            match d.caps.pasid {
                Some(p) => writeln!(
                    f,
                    "    PASIDCap: Exec{} Priv{}, Max PASID Width: {}",
                    yes_no(p.exec),
                    yes_no(p.privileged),
                    p.max_width
                )?,
                None => writeln!(f, "    PASIDCap: {absent}")?,
            }
            match d.caps.pri {
                Some(p) => writeln!(f, "    PRICap: Page Request Capacity: {:08x}", p.capacity)?,
                None => writeln!(f, "    PRICap: {absent}")?,
            }
            match d.caps.ats {
                Some(a) => writeln!(
                    f,
                    "    ATSCap: Invalidate Queue Depth: {:02x}",
                    a.queue_depth
                )?,
                None => writeln!(f, "    ATSCap: {absent}")?,
            }
            let lines: Vec<_> = d
                .features
                .iter()
                .map(|v| {
                    (
                        format!("IOMMU_NESTING_FEAT_{}", v.name),
                        v.status,
                        v.reason.clone(),
                    )
                })
                .collect();
            status_lines(f, &lines)?;
            match &d.iommufd_backend {
                Ok(offer) => writeln!(f, "  iommufd backend offer: {offer}")?,
                Err(why) => writeln!(f, "  iommufd backend offer: not probed ({why})")?,
            }
        }
        let vfio = self.devices.iter().filter(|d| d.is_vfio()).count();
        let full = self
            .devices
            .iter()
            .filter(|d| d.is_vfio() && d.features.iter().all(|v| v.status != Status::Fail))
            .count();
        if self.usable() {
            write!(
                f,
                "\nResult: every nesting feature is usable on {full} of {vfio} vfio-pci device(s)"
            )
        } else {
            write!(
                f,
                "\nResult: some features are missing (nesting usable on {full} of {vfio} vfio-pci device(s))"
            )
        }
    }
}

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
}

impl Options {
    /// This host: `/sys`, `/dev`, `/proc`, and the real kernel.
    pub fn host() -> Options {
        Options {
            sysfs_root: "/sys".into(),
            dev_root: "/dev".into(),
            proc_root: "/proc".into(),
            kernel: Some(Arc::new(Host)),
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

/// The most a one-line sysfs attribute (`cap`, `vendor`, `osrelease`…) may hold.
const ATTR_MAX: usize = 4096;

/// A WARN naming a file that is there but was refused (not a regular file, too long).
fn file_warning(path: &Path, why: impl fmt::Display) -> Check {
    Check::new(
        format!("file:{}", path.display()),
        path.display().to_string(),
        Status::Warn,
        format!("{why}"),
    )
    .hint("sysfs attributes are regular files; check the recorded tree")
}

/// A one-line attribute, trimmed: at most [`ATTR_MAX`] bytes are read, without blocking.
/// A missing or empty file is `None`; one that is there but not a regular file, longer
/// than a line of [`ATTR_MAX`] bytes or not UTF-8 is `None` plus a WARN in `warnings`.
fn read_trimmed(path: &Path, warnings: &mut Vec<Check>) -> Option<String> {
    let (bytes, more) = match bounded::read_prefix(path, ATTR_MAX) {
        Ok(r) => r,
        Err(e) if e.is_not_found() => return None,
        Err(e) => {
            warnings.push(file_warning(path, e));
            return None;
        }
    };
    let line = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    if more && line.len() == bytes.len() {
        warnings.push(file_warning(
            path,
            format_args!("no line end in its first {ATTR_MAX} bytes: not read"),
        ));
        return None;
    }
    let Ok(text) = std::str::from_utf8(line) else {
        warnings.push(file_warning(path, "is not UTF-8 text: not read"));
        return None;
    };
    Some(text.trim().to_owned()).filter(|s| !s.is_empty())
}

fn link_name(path: &Path) -> Option<String> {
    fs::read_link(path)
        .ok()?
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
}

/// A sysfs hex value: an optional `0x`, then 1 to 16 hex digits and nothing else (no
/// sign: `0x+1` is not 1).
fn parse_hex_u64(s: &str) -> Option<u64> {
    let s = s.trim();
    let s = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    if s.is_empty() || s.len() > 16 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(s, 16).ok()
}

fn sorted_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The VFIO container at `node` (`/dev/vfio/vfio` under the dev root).
fn container_at(kernel: &Arc<dyn Kernel>, node: &Path) -> Result<Container, Errno> {
    Ok(Container::from_fd(KernelFd::open(kernel, node, true)?))
}

fn probe_api_version(kernel: &Arc<dyn Kernel>, node: &Path) -> Result<i32, Errno> {
    container_at(kernel, node)?
        .api_version()
        .map_err(|e| e.errno())
}

fn probe_extension(kernel: &Arc<dyn Kernel>, node: &Path, extension: u64) -> Result<bool, Errno> {
    let extension = u32::try_from(extension).map_err(|_| Errno::EINVAL)?;
    container_at(kernel, node)?
        .check_extension(extension)
        .map_err(|e| e.errno())
}

fn vfio_checks(opts: &Options, checks: &mut Vec<Check>) {
    let node = opts.dev_root.join("vfio/vfio");
    let present = node.exists();
    if present {
        checks.push(Check::new(
            "dev_vfio",
            "/dev/vfio/vfio",
            Status::Pass,
            "present",
        ));
    } else {
        checks.push(
            Check::new(
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
                checks.push(Check::new(
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
                checks.push(Check::new(
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
        Ok(0) => Check::new(ids[0].0, ids[0].1, Status::Pass, "VFIO_API_VERSION 0"),
        Ok(v) => Check::new(
            ids[0].0,
            ids[0].1,
            Status::Fail,
            format!("unknown VFIO API version {v} (expected 0)"),
        ),
        Err(e) => Check::new(
            ids[0].0,
            ids[0].1,
            Status::Fail,
            format!("VFIO_GET_API_VERSION failed: {e}"),
        )
        .hint("run as root, or give this user access to /dev/vfio/vfio"),
    });
    checks.push(match probe_extension(kernel, &node, VFIO_TYPE1V2_IOMMU) {
        Ok(true) => Check::new(ids[1].0, ids[1].1, Status::Pass, "supported"),
        Ok(false) => Check::new(ids[1].0, ids[1].1, Status::Fail, "not supported")
            .hint("load vfio_iommu_type1 (modprobe vfio_iommu_type1)"),
        Err(e) => Check::new(
            ids[1].0,
            ids[1].1,
            Status::Fail,
            format!("VFIO_CHECK_EXTENSION failed: {e}"),
        ),
    });
    checks.push(match probe_extension(kernel, &node, VFIO_NOIOMMU_IOMMU) {
        Ok(false) => Check::new(ids[2].0, ids[2].1, Status::Pass, "off"),
        Ok(true) => Check::new(
            ids[2].0,
            ids[2].1,
            Status::Warn,
            "enabled: devices may be used without DMA isolation",
        )
        .hint("unset vfio.enable_unsafe_noiommu_mode"),
        Err(e) => Check::new(
            ids[2].0,
            ids[2].1,
            Status::Warn,
            format!("VFIO_CHECK_EXTENSION failed: {e}"),
        ),
    });
}

fn iommufd_checks(opts: &Options, checks: &mut Vec<Check>) {
    checks.push(if opts.dev_root.join("iommu").exists() {
        Check::new("dev_iommu", "/dev/iommu", Status::Pass, "present")
    } else {
        Check::new(
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
        Check::new(
            "vfio_cdev",
            "/dev/vfio/devices",
            Status::Pass,
            format!("{n} VFIO cdev(s)"),
        )
    } else {
        Check::new(
            "vfio_cdev",
            "/dev/vfio/devices",
            Status::Warn,
            "/dev/vfio/devices missing",
        )
        .hint("a kernel with CONFIG_VFIO_DEVICE_CDEV=y and a device bound to vfio-pci")
    });
}

/// The VT-d units of `<sysfs>/class/iommu`. A unit whose `cap` or `ecap` is there but
/// does not parse is left out with a `vtd:<unit>` WARN in `warnings` (returned count).
fn read_vtd_units(sysfs: &Path, warnings: &mut Vec<Check>) -> (Vec<VtdUnit>, usize) {
    let class = sysfs.join("class/iommu");
    let mut units = Vec::new();
    let mut bad = 0;
    for name in sorted_names(&class) {
        let dir = class.join(&name).join("intel-iommu");
        if !dir.is_dir() {
            continue; // another vendor's IOMMU
        }
        let mut reg = |file: &str| {
            let path = dir.join(file);
            let text = read_trimmed(&path, warnings);
            match text.as_deref().map(parse_hex_u64) {
                Some(Some(v)) => Ok(v),
                Some(None) => Err(format!(
                    "{} = {:?} is not a hex register value",
                    path.display(),
                    text.unwrap_or_default()
                )),
                None => Err(format!("{} is not readable", path.display())),
            }
        };
        match (reg("cap"), reg("ecap")) {
            (Ok(cap), Ok(ecap)) => units.push(VtdUnit {
                name,
                caps: VtdCapabilities::decode(cap, ecap),
            }),
            (Err(e), _) | (_, Err(e)) => {
                bad += 1;
                warnings.push(
                    Check::new(
                        format!("vtd:{name}"),
                        format!("VT-d {name}"),
                        Status::Warn,
                        format!("unit not decoded: {e}"),
                    )
                    .hint("the kernel writes cap and ecap as hex; check the recorded tree"),
                );
            }
        }
    }
    (units, bad)
}

fn vtd_check(unit: &VtdUnit) -> Check {
    let c = &unit.caps;
    let detail = format!(
        "scalable{} nesting{} first-level{} PASID{} ({} bits) PRS{} QI{}",
        yes_no(c.scalable_mode),
        yes_no(c.nesting),
        yes_no(c.first_level),
        yes_no(c.pasid),
        c.pasid_bits,
        yes_no(c.page_requests),
        yes_no(c.queued_invalidation)
    );
    let id = format!("vtd:{}", unit.name);
    let label = format!("VT-d {}", unit.name);
    let missing = unit.nesting_missing();
    if missing.is_empty() {
        Check::new(id, label, Status::Pass, detail)
    } else {
        let hint = if c.scalable_mode {
            "this IOMMU cannot nest guest page tables".to_owned()
        } else {
            "needs scalable-mode hardware; boot with intel_iommu=on,sm_on".to_owned()
        };
        Check::new(
            id,
            label,
            Status::Warn,
            format!("{detail}; missing {}", missing.join(", ")),
        )
        .hint(hint)
    }
}

fn read_u16_hex(path: &Path, warnings: &mut Vec<Check>) -> Option<u16> {
    u16::try_from(parse_hex_u64(&read_trimmed(path, warnings)?)?).ok()
}

fn read_device(sysfs: &Path, bdf: &str, group: u32, warnings: &mut Vec<Check>) -> DeviceReport {
    let dir = sysfs.join("bus/pci/devices").join(bdf);
    let cdev = sorted_names(&dir.join("vfio-dev")).into_iter().next();
    // At most the 4 KiB of PCIe config space, without blocking; not a regular file
    // (a FIFO, /dev/zero) is refused unread.
    let config = dir.join("config");
    let (caps, config_error) = match bounded::read_prefix(&config, pci::CONFIG_SPACE_SIZE) {
        Ok((bytes, _)) => (parse_ext_caps(&bytes), None),
        Err(e) => (
            ExtCaps::default(),
            Some(format!(
                "config space not readable: {} {e}",
                config.display()
            )),
        ),
    };
    DeviceReport {
        bdf: bdf.to_owned(),
        vendor: read_u16_hex(&dir.join("vendor"), warnings),
        device: read_u16_hex(&dir.join("device"), warnings),
        driver: link_name(&dir.join("driver")),
        group,
        cdev,
        iommu: link_name(&dir.join("iommu")),
        caps,
        config_error,
        hw_info: None,
        iommufd_backend: Err("not bound to vfio-pci".into()),
        features: Vec::new(),
    }
}

/// Derives the nesting features of `dev` behind `unit` (its VT-d unit, if any).
pub fn derive_features(dev: &DeviceReport, unit: Option<&VtdUnit>) -> Vec<FeatureVerdict> {
    let verdict = |feature: NestingFeatures, name, status, reason: String| FeatureVerdict {
        feature,
        name,
        status,
        reason,
    };
    let Some(unit) = unit else {
        let why = "no Intel VT-d unit translates for this device (only VT-d is decoded)";
        return vec![
            verdict(
                NestingFeatures::SYSWIDE_PASID,
                "SYSWIDE_PASID",
                Status::Fail,
                why.into(),
            ),
            verdict(
                NestingFeatures::BIND_PGTBL,
                "BIND_PGTBL",
                Status::Fail,
                why.into(),
            ),
            verdict(
                NestingFeatures::BIND_PASID_TABLE,
                "BIND_PASID_TABLE",
                Status::NotApplicable,
                "SMMUv3 only; no SMMUv3 found".into(),
            ),
            verdict(
                NestingFeatures::CACHE_INVLD,
                "CACHE_INVLD",
                Status::Fail,
                why.into(),
            ),
            verdict(
                NestingFeatures::PAGE_REQUEST,
                "PAGE_REQUEST",
                Status::Fail,
                why.into(),
            ),
        ];
    };
    let c = &unit.caps;
    let n = &unit.name;
    let mut out = Vec::with_capacity(5);

    out.push(if c.pasid {
        verdict(
            NestingFeatures::SYSWIDE_PASID,
            "SYSWIDE_PASID",
            Status::Pass,
            format!(
                "{n} ECAP.PASID: {}-bit PASIDs, allocated system-wide",
                c.pasid_bits
            ),
        )
    } else {
        verdict(
            NestingFeatures::SYSWIDE_PASID,
            "SYSWIDE_PASID",
            Status::Fail,
            format!("{n} has no ECAP.PASID"),
        )
    });

    let mut missing: Vec<String> = unit
        .nesting_missing()
        .into_iter()
        .filter(|m| !m.starts_with("PASID"))
        .map(|m| format!("{n} {m}"))
        .collect();
    match (&dev.caps.pasid, dev.config_problem()) {
        (Some(_), _) => {}
        (None, Some(problem)) => missing.push(format!("a device PASID capability ({problem})")),
        (None, None) if !dev.caps.pcie && dev.config_error.is_none() => missing.push(
            "a device PASID capability (a conventional PCI device has no extended capabilities)"
                .into(),
        ),
        (None, None) => missing.push("a device PASID capability".into()),
    }
    if !dev.is_vfio() {
        missing.push(format!(
            "binding to vfio-pci (driver: {})",
            dev.driver.as_deref().unwrap_or("none")
        ));
    }
    let bind = missing.is_empty();
    out.push(if bind {
        let p = dev.caps.pasid.map_or(0, |p| p.max_width);
        verdict(
            NestingFeatures::BIND_PGTBL,
            "BIND_PGTBL",
            Status::Pass,
            format!(
                "{n} scalable mode + nesting + first-level; device PASID ({p} bits) on vfio-pci"
            ),
        )
    } else {
        verdict(
            NestingFeatures::BIND_PGTBL,
            "BIND_PGTBL",
            Status::Fail,
            format!("needs {}", missing.join(", ")),
        )
    });

    out.push(verdict(
        NestingFeatures::BIND_PASID_TABLE,
        "BIND_PASID_TABLE",
        Status::NotApplicable,
        "SMMUv3 only; n/a on VT-d".into(),
    ));

    out.push(match (bind, c.queued_invalidation) {
        (true, true) => verdict(
            NestingFeatures::CACHE_INVLD,
            "CACHE_INVLD",
            Status::Pass,
            format!("follows BIND_PGTBL; {n} queued invalidation (ECAP.QI)"),
        ),
        (true, false) => verdict(
            NestingFeatures::CACHE_INVLD,
            "CACHE_INVLD",
            Status::Fail,
            format!("{n} has no queued invalidation (ECAP.QI)"),
        ),
        (false, _) => verdict(
            NestingFeatures::CACHE_INVLD,
            "CACHE_INVLD",
            Status::Fail,
            "follows BIND_PGTBL, which is unavailable".into(),
        ),
    });

    let mut pr_missing = Vec::new();
    if !c.page_requests {
        pr_missing.push(format!("{n} ECAP.PRS"));
    }
    if dev.caps.pri.is_none() {
        pr_missing.push("a device PRI capability".into());
    }
    if !bind {
        pr_missing.push("BIND_PGTBL".into());
    }
    out.push(if pr_missing.is_empty() {
        verdict(
            NestingFeatures::PAGE_REQUEST,
            "PAGE_REQUEST",
            Status::Pass,
            format!("{n} ECAP.PRS + device PRI"),
        )
    } else {
        verdict(
            NestingFeatures::PAGE_REQUEST,
            "PAGE_REQUEST",
            Status::Fail,
            format!("needs {}", pr_missing.join(", ")),
        )
    });
    out
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
        Some(k) => Check::new("kernel", "Kernel release", Status::Pass, k.clone()),
        None => Check::new(
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
        Check::new(
            "iommu_groups",
            "IOMMU groups",
            Status::Fail,
            "no IOMMU groups",
        )
        .hint("enable the IOMMU: add intel_iommu=on (or amd_iommu=on) to the kernel command line")
    } else {
        Check::new(
            "iommu_groups",
            "IOMMU groups",
            Status::Pass,
            format!("{} group(s)", groups.len()),
        )
    });

    let (vtd_units, bad_units) = read_vtd_units(sysfs, &mut warnings);
    if vtd_units.is_empty() && bad_units == 0 {
        checks.push(
            Check::new("vtd", "Intel VT-d", Status::Warn, "no VT-d unit in sysfs")
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
                    let (hw, offer) = match query_iommufd(kernel, &opts.dev_root, cdev) {
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
                Some(Ok(HwInfo {
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
        Check::new(
            "vfio_devices",
            "Devices bound to vfio-pci",
            Status::Warn,
            "none",
        )
        .hint("bind one: driverctl set-override <BDF> vfio-pci")
    } else {
        Check::new(
            "vfio_devices",
            "Devices bound to vfio-pci",
            Status::Pass,
            vfio.join(" "),
        )
    });
    for d in &devices {
        if let Some(problem) = d.config_problem() {
            checks.push(Check::new(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scripted::{Call, Reply, ScriptedKernel};
    use vsva_uapi::vfio_core::{VFIO_CHECK_EXTENSION, VFIO_GET_API_VERSION};

    fn data(tree: &str) -> Options {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../testdata/hosts")
            .join(tree);
        Options::recorded(root.join("sys"), Some(root.join("dev")))
    }

    fn unit(ecap: u64) -> VtdUnit {
        VtdUnit {
            name: "dmar0".into(),
            caps: VtdCapabilities::decode(0, ecap),
        }
    }

    const SM_NEST_FL_PASID_PRS_QI: u64 = vsva_uapi::hw::vtd::Ecap {
        smts: true,
        nest: true,
        fsts: true,
        pasid: true,
        pss: 19,
        prs: true,
        qi: true,
        ..vsva_uapi::hw::vtd::Ecap::decode_raw(0)
    }
    .raw();

    fn device_with(pasid: bool, pri: bool, driver: &str) -> DeviceReport {
        let mut caps = ExtCaps {
            pcie: true,
            ..ExtCaps::default()
        };
        if pasid {
            caps.pasid = Some(pci::PasidCap {
                offset: 0x120,
                exec: true,
                privileged: true,
                max_width: 20,
                enabled: false,
            });
        }
        if pri {
            caps.pri = Some(pci::PriCap {
                offset: 0x110,
                enabled: false,
                capacity: 512,
            });
        }
        DeviceReport {
            bdf: "0000:3b:00.0".into(),
            vendor: Some(0x8086),
            device: Some(0x0b25),
            driver: Some(driver.into()),
            group: 12,
            cdev: None,
            iommu: Some("dmar0".into()),
            caps,
            config_error: None,
            hw_info: None,
            iommufd_backend: Err("not probed".into()),
            features: Vec::new(),
        }
    }

    fn statuses(v: &[FeatureVerdict]) -> Vec<(&'static str, Status)> {
        v.iter().map(|f| (f.name, f.status)).collect()
    }

    #[test]
    fn full_vtd_and_pasid_device_gives_every_vtd_feature() {
        let dev = device_with(true, true, "vfio-pci");
        let v = derive_features(&dev, Some(&unit(SM_NEST_FL_PASID_PRS_QI)));
        assert_eq!(
            statuses(&v),
            [
                ("SYSWIDE_PASID", Status::Pass),
                ("BIND_PGTBL", Status::Pass),
                ("BIND_PASID_TABLE", Status::NotApplicable),
                ("CACHE_INVLD", Status::Pass),
                ("PAGE_REQUEST", Status::Pass),
            ]
        );
        let mut d = dev;
        d.features = v;
        assert_eq!(
            d.nesting_features(),
            NestingFeatures::SYSWIDE_PASID
                | NestingFeatures::BIND_PGTBL
                | NestingFeatures::CACHE_INVLD
                | NestingFeatures::PAGE_REQUEST
        );
    }

    #[test]
    fn each_missing_requirement_is_named_in_the_reason() {
        let full = unit(SM_NEST_FL_PASID_PRS_QI);
        let v = derive_features(&device_with(false, true, "vfio-pci"), Some(&full));
        assert_eq!(v[1].status, Status::Fail);
        assert_eq!(v[1].reason, "needs a device PASID capability");
        let mut conventional = device_with(false, true, "vfio-pci");
        conventional.caps.pcie = false;
        let v = derive_features(&conventional, Some(&full));
        assert_eq!(
            v[1].reason,
            "needs a device PASID capability (a conventional PCI device has no extended capabilities)"
        );
        let v = derive_features(&device_with(true, true, "ixgbe"), Some(&full));
        assert_eq!(v[1].reason, "needs binding to vfio-pci (driver: ixgbe)");
        // No scalable mode: BIND_PGTBL and what follows it go; SYSWIDE_PASID stays.
        let legacy = unit(SM_NEST_FL_PASID_PRS_QI & !(1 << 43));
        let v = derive_features(&device_with(true, true, "vfio-pci"), Some(&legacy));
        assert_eq!(v[0].status, Status::Pass);
        assert!(
            v[1].reason.contains("dmar0 scalable mode (ECAP.SMTS)"),
            "{}",
            v[1].reason
        );
        assert_eq!((v[3].status, v[4].status), (Status::Fail, Status::Fail));
        // No ECAP.PASID.
        let v = derive_features(
            &device_with(true, true, "vfio-pci"),
            Some(&unit(SM_NEST_FL_PASID_PRS_QI & !(1 << 40))),
        );
        assert_eq!(v[0].reason, "dmar0 has no ECAP.PASID");
        // No QI: CACHE_INVLD only.
        let v = derive_features(
            &device_with(true, true, "vfio-pci"),
            Some(&unit(SM_NEST_FL_PASID_PRS_QI & !(1 << 1))),
        );
        assert_eq!(
            statuses(&v)[1..4].iter().map(|s| s.1).collect::<Vec<_>>(),
            [Status::Pass, Status::NotApplicable, Status::Fail]
        );
        // No PRS, no PRI: both named.
        let v = derive_features(
            &device_with(true, false, "vfio-pci"),
            Some(&unit(SM_NEST_FL_PASID_PRS_QI & !(1 << 29))),
        );
        assert_eq!(v[4].reason, "needs dmar0 ECAP.PRS, a device PRI capability");
        // No VT-d at all.
        let v = derive_features(&device_with(true, true, "vfio-pci"), None);
        assert!(v.iter().all(|f| f.status != Status::Pass));
    }

    #[test]
    fn vfio_probes_go_through_the_kernel_seam() {
        let k = ScriptedKernel::new();
        k.add_path("/rec/dev/vfio/vfio");
        k.on(VFIO_GET_API_VERSION, |_, _| Ok(Reply::Value(0)));
        k.on(VFIO_CHECK_EXTENSION, |_, call| match call {
            Call::Value(3) => Ok(Reply::Value(1)),
            Call::Value(_) => Ok(Reply::Value(0)),
            _ => Err(Errno::EINVAL),
        });
        let kernel: Arc<dyn Kernel> = Arc::new(k.clone());
        let node = Path::new("/rec/dev/vfio/vfio");
        assert_eq!(probe_api_version(&kernel, node), Ok(0));
        assert_eq!(probe_extension(&kernel, node, VFIO_TYPE1V2_IOMMU), Ok(true));
        assert_eq!(
            probe_extension(&kernel, node, VFIO_NOIOMMU_IOMMU),
            Ok(false)
        );
        assert_eq!(k.open_fds(), 0, "every probe closes its fd");
        assert_eq!(
            probe_api_version(&kernel, Path::new("/rec/dev/vfio/nope")),
            Err(Errno::ENOENT)
        );

        // The same kernel behind a recorded tree: the probes run and PASS.
        let mut opts = data("vtd-pasid");
        let dev_root = opts.dev_root.clone();
        let k = ScriptedKernel::new();
        k.add_path(dev_root.join("vfio/vfio"));
        k.on(VFIO_GET_API_VERSION, |_, _| Ok(Reply::Value(0)));
        k.on(VFIO_CHECK_EXTENSION, |_, call| match call {
            Call::Value(3 | 8) => Ok(Reply::Value(1)),
            _ => Ok(Reply::Value(0)),
        });
        opts.kernel = Some(Arc::new(k));
        let r = collect(&opts).unwrap();
        assert_eq!(r.check("vfio_api").unwrap().status, Status::Pass);
        assert_eq!(r.check("vfio_type1v2").unwrap().status, Status::Pass);
        let noiommu = r.check("vfio_noiommu").unwrap();
        assert_eq!(noiommu.status, Status::Warn);
        assert_eq!(r.exit_code(), 0, "a WARN does not change the exit code");

        // A kernel without the ioctls: FAIL, exit 1.
        let k = ScriptedKernel::new();
        k.add_path(dev_root.join("vfio/vfio"));
        opts.kernel = Some(Arc::new(k));
        let r = collect(&opts).unwrap();
        let api = r.check("vfio_api").unwrap();
        assert_eq!(api.status, Status::Fail);
        assert!(api.detail.contains("ENOTTY"), "{}", api.detail);
        assert_eq!(r.exit_code(), 1);
    }

    #[test]
    fn recorded_trees_give_the_expected_verdicts() {
        let r = collect(&data("vtd-pasid")).unwrap();
        assert_eq!(r.kernel.as_deref(), Some("6.8.0-vsva-recorded"));
        assert_eq!(r.vtd_units.len(), 1);
        assert!(r.vtd_units[0].nesting_missing().is_empty());
        let d = &r.devices[0];
        assert_eq!(
            (d.vendor, d.device, d.group),
            (Some(0x8086), Some(0x0b25), 12)
        );
        assert_eq!(d.cdev.as_deref(), Some("vfio0"));
        assert_eq!(d.caps.pasid.map(|p| p.max_width), Some(20));
        assert!(r.usable());

        let r = collect(&data("vtd-nopasid")).unwrap();
        assert!(r.devices[0].caps.pasid.is_none());
        assert_eq!(
            r.devices[0].feature("BIND_PGTBL").unwrap().status,
            Status::Fail
        );
        assert!(!r.usable());

        let r = collect(&data("cap-loop")).unwrap();
        let warn = r.check("pci_config:0000:3b:00.0").unwrap();
        assert_eq!(warn.status, Status::Warn);
        assert!(warn.detail.contains("loops"), "{}", warn.detail);
        assert!(r.to_string().contains("PASIDCap: <not found>"));
    }

    #[test]
    fn unreadable_sysfs_root_is_an_error() {
        let opts = Options::recorded("/nonexistent/vsva/sys", Some("/nonexistent/dev".into()));
        let e = collect(&opts).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("cannot read sysfs root `/nonexistent/vsva/sys`"));
    }

    #[test]
    fn hex_register_files_parse_with_or_without_prefix() {
        assert_eq!(parse_hex_u64("d2008c40660462\n"), Some(0xd2_008c_4066_0462));
        assert_eq!(parse_hex_u64("0x1f"), Some(0x1f));
        assert_eq!(parse_hex_u64("zz"), None);
    }

    /// GET_HW_INFO over the recorded VT-d host, through a scripted kernel: the device's
    /// own IOMMU data (here: no nesting) wins over the sysfs registers (nesting).
    #[test]
    fn hw_info_is_queried_for_cdev_devices_and_wins_over_sysfs() {
        use crate::scripted::{Call, Reply, ScriptedKernel};
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/hosts/vtd-pasid");
        let dev_root = root.join("dev");
        let k = ScriptedKernel::new();
        k.add_path(dev_root.join("vfio/vfio"))
            .add_path(dev_root.join("iommu"));
        for cdev in sorted_names(&dev_root.join("vfio/devices")) {
            k.add_path(dev_root.join("vfio/devices").join(cdev));
        }
        k.on(
            vsva_uapi::consts::VFIO_DEVICE_BIND_IOMMUFD,
            |_, call| match call {
                Call::Sized(arg) => {
                    arg[12..16].copy_from_slice(&7u32.to_ne_bytes()); // out_devid
                    Ok(Reply::Value(0))
                }
                _ => Err(Errno::EINVAL),
            },
        );
        k.on(vsva_uapi::consts::IOMMU_GET_HW_INFO, |_, call| match call {
            Call::SizedData { arg, data } => {
                assert_eq!(u32::from_ne_bytes(arg[8..12].try_into().unwrap()), 7);
                // VT-d data: scalable mode, PASID (20 bits), first level, but NO nesting.
                let ecap: u64 = (1 << 43) | (1 << 40) | (19 << 35) | (1 << 47) | 1 | 2;
                data[16..24].copy_from_slice(&ecap.to_ne_bytes());
                arg[12..16].copy_from_slice(&24u32.to_ne_bytes());
                arg[24..28].copy_from_slice(&1u32.to_ne_bytes());
                Ok(Reply::Value(0))
            }
            _ => Err(Errno::EINVAL),
        });
        k.on(VFIO_GET_API_VERSION, |_, _| Ok(Reply::Value(0)));
        k.on(VFIO_CHECK_EXTENSION, |_, _| Ok(Reply::Value(1)));
        // The backend probe: an IOAS, a refused nest parent, the IOAS destroyed.
        let live = Arc::new(std::sync::Mutex::new(0i32));
        let l = Arc::clone(&live);
        k.on(
            crate::iommufd::IOMMU_IOAS_ALLOC,
            move |_, call| match call {
                Call::Sized(arg) => {
                    *l.lock().unwrap() += 1;
                    arg[8..12].copy_from_slice(&5u32.to_ne_bytes());
                    Ok(Reply::Value(0))
                }
                _ => Err(Errno::EINVAL),
            },
        );
        k.on(crate::iommufd::IOMMU_HWPT_ALLOC, |_, _| {
            Err(Errno::EOPNOTSUPP)
        });
        let l = Arc::clone(&live);
        k.on(crate::iommufd::IOMMU_DESTROY, move |_, call| match call {
            Call::Sized(arg) if arg[4..8] == 5u32.to_ne_bytes() => {
                *l.lock().unwrap() -= 1;
                Ok(Reply::Value(0))
            }
            _ => Err(Errno::ENOENT),
        });
        let opts = Options {
            sysfs_root: root.join("sys"),
            dev_root,
            proc_root: root.join("proc"),
            kernel: Some(Arc::new(k.clone())),
        };
        let report = collect(&opts).unwrap();
        let dev = report.devices.iter().find(|d| d.is_vfio()).unwrap();
        let info = dev.hw_info.as_ref().unwrap().as_ref().unwrap();
        assert_eq!(
            info.vtd.map(|v| (v.nesting, v.pasid_bits)),
            Some((false, 20))
        );
        let bind = dev.feature("BIND_PGTBL").unwrap();
        assert_ne!(bind.status, Status::Pass, "{}", bind.reason);
        assert!(bind.reason.contains("nest"), "{}", bind.reason);
        assert_eq!(dev.feature("SYSWIDE_PASID").unwrap().status, Status::Pass);
        // The backend's offer, from the same session: the registers say no nesting, and
        // the kernel, asked anyway, agrees.
        let offer = dev.iommufd_backend.as_ref().unwrap();
        assert_eq!(
            offer.nesting,
            iommufd_backend::NestingSupport::NotInHardware
        );
        assert_eq!(offer.nest_parent, Err(Errno::EOPNOTSUPP));
        assert_eq!(offer.features, NestingFeatures::SYSWIDE_PASID);
        assert!(
            report.to_string().contains(
                "\n  iommufd backend offer: SYSWIDE_PASID (no nesting: not in hardware, \
                 no ECAP.NEST; the kernel also refused a nest parent: EOPNOTSUPP (95))\n"
            ),
            "{report}"
        );
        assert_eq!(*live.lock().unwrap(), 0, "the probe's IOAS is destroyed");
        assert_eq!(k.open_fds(), 0, "every fd closed");

        // GET_HW_INFO fails: not probed, and why.
        k.on(vsva_uapi::consts::IOMMU_GET_HW_INFO, |_, _| {
            Err(Errno::EOPNOTSUPP)
        });
        let report = collect(&opts).unwrap();
        let dev = report.devices.iter().find(|d| d.is_vfio()).unwrap();
        let why = dev.iommufd_backend.as_ref().unwrap_err();
        assert!(why.starts_with("IOMMU_GET_HW_INFO failed: "), "{why}");
        assert!(report
            .to_string()
            .contains("  iommufd backend offer: not probed (IOMMU_GET_HW_INFO failed: "));
        // The probe itself fails (no IOAS): not probed, and why; nothing left open.
        k.on(vsva_uapi::consts::IOMMU_GET_HW_INFO, |_, call| match call {
            Call::SizedData { arg, data } => {
                let ecap: u64 = (1 << 43) | (1 << 40) | (19 << 35) | (1 << 47) | 1 | 2;
                data[16..24].copy_from_slice(&ecap.to_ne_bytes());
                arg[12..16].copy_from_slice(&24u32.to_ne_bytes());
                arg[24..28].copy_from_slice(&1u32.to_ne_bytes());
                Ok(Reply::Value(0))
            }
            _ => Err(Errno::EINVAL),
        });
        k.on(crate::iommufd::IOMMU_IOAS_ALLOC, |_, _| Err(Errno::ENOMEM));
        let report = collect(&opts).unwrap();
        let dev = report.devices.iter().find(|d| d.is_vfio()).unwrap();
        assert!(dev.hw_info.as_ref().unwrap().is_ok());
        let why = dev.iommufd_backend.as_ref().unwrap_err();
        assert!(why.starts_with("probe failed: IOMMU_IOAS_ALLOC"), "{why}");
        assert_eq!(k.open_fds(), 0, "every fd closed");
    }

    #[test]
    fn recorded_dev_roots_and_other_drivers_are_not_probed() {
        let r = collect(&data("vtd-pasid")).unwrap();
        let d = &r.devices[0];
        assert_eq!(
            d.iommufd_backend,
            Err("recorded /dev root: no ioctls".to_owned())
        );
        assert!(r
            .to_string()
            .contains("  iommufd backend offer: not probed (recorded /dev root: no ioctls)\n"));
        let r = collect(&data("cap-loop")).unwrap();
        let e1000e = r.devices.iter().find(|d| d.bdf == "0000:00:1f.6").unwrap();
        assert_eq!(
            e1000e.iommufd_backend,
            Err("not bound to vfio-pci".to_owned())
        );
    }
}
