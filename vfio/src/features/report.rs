//! What `vsva features` found: the [`Report`], its checks and its devices.

use std::fmt;

use vsva_uapi::consts::NestingFeatures;

use crate::iommufd::DecodedHwInfo;

use crate::vtd::VtdCapabilities;

use super::iommufd_backend::BackendOffer;
use super::pci::ExtCaps;

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
pub struct HostCheck {
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

impl HostCheck {
    pub(super) fn new(
        id: impl Into<String>,
        label: impl Into<String>,
        status: Status,
        detail: impl Into<String>,
    ) -> HostCheck {
        HostCheck {
            id: id.into(),
            label: label.into(),
            status,
            detail: detail.into(),
            hint: None,
        }
    }

    pub(super) fn hint(mut self, hint: impl Into<String>) -> HostCheck {
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
    pub hw_info: Option<std::result::Result<DecodedHwInfo, String>>,
    /// What `vsva-viommu`'s iommufd backend would offer a guest behind this device
    /// ([`iommufd_backend::probe`](super::iommufd_backend::probe), in the session that asked `IOMMU_GET_HW_INFO`), or
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

/// Everything `vsva features` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The kernel release, when readable.
    pub kernel: Option<String>,
    /// The host checks, in output order.
    pub checks: Vec<HostCheck>,
    /// The Intel VT-d units.
    pub vtd_units: Vec<VtdUnit>,
    /// Every device of every IOMMU group, by group then address.
    pub devices: Vec<DeviceReport>,
}

impl Report {
    /// The check with this id.
    pub fn check(&self, id: &str) -> Option<&HostCheck> {
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
