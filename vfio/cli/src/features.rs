//! `vsva features --json`: the report of [`vsva_vfio::features::collect`] as one JSON
//! object, schema version [`SCHEMA_VERSION`].
//!
//! The schema is these `serde::Serialize` types, field by field in output order; nothing
//! else writes it. [`ReportJson`] is the top-level object:
//!
//! ```text
//! {"schema_version", "kernel", "checks": [HostCheckJson], "vtd_units": [VtdUnitJson],
//!  "devices": [DeviceJson], "usable", "exit_code"}
//! ```
//!
//! Integers are numbers; register values (`cap`, `ecap`, `cap_reg`, `ecap_reg`) are
//! `0x…` strings; PCI ids are 4-digit lowercase hex strings; an absent value is `null`.
//! New keys may be added within a schema version; a key is never removed or changed in
//! meaning without bumping [`SCHEMA_VERSION`].
//!
//! ```
//! use vsva_cli::features::ReportJson;
//! use vsva_vfio::features::{collect, Options};
//!
//! let data = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/hosts/vtd-pasid");
//! let opts = Options::recorded(format!("{data}/sys"), Some(format!("{data}/dev").into()));
//! let report = collect(&opts).unwrap();
//! let json = serde_json::to_value(ReportJson::new(&report)).unwrap();
//! assert_eq!(json["schema_version"], 1);
//! assert_eq!(json["devices"][0]["bdf"], "0000:3b:00.0");
//! assert_eq!(json["devices"][0]["feature_status"]["BIND_PGTBL"], "PASS");
//! ```

use serde::{Serialize, Serializer};
use vsva_uapi::Errno;
use vsva_vfio::features::iommufd_backend::BackendOffer;
use vsva_vfio::features::{DeviceReport, HostCheck, Report, Status, VtdUnit};
use vsva_vfio::iommufd::DecodedHwInfo;

/// The version of the schema below.
pub const SCHEMA_VERSION: u32 = 1;

fn hex_reg(v: u64) -> String {
    format!("{v:#x}")
}

fn status_str(s: Status) -> &'static str {
    s.as_str()
}

/// A JSON object whose keys keep their order (here: the features' bit order).
#[derive(Debug)]
pub struct OrderedMap<V>(pub Vec<(&'static str, V)>);

impl<V: Serialize> Serialize for OrderedMap<V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

/// The whole report.
#[derive(Debug, Serialize)]
pub struct ReportJson<'a> {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The kernel release (`/proc/sys/kernel/osrelease`), when readable.
    pub kernel: Option<&'a str>,
    /// The host checks, in output order.
    pub checks: Vec<HostCheckJson<'a>>,
    /// The Intel VT-d units.
    pub vtd_units: Vec<VtdUnitJson<'a>>,
    /// Every device of every IOMMU group.
    pub devices: Vec<DeviceJson<'a>>,
    /// [`Report::usable`].
    pub usable: bool,
    /// [`Report::exit_code`].
    pub exit_code: u8,
}

impl<'a> ReportJson<'a> {
    /// The JSON view of `report`.
    pub fn new(report: &'a Report) -> ReportJson<'a> {
        ReportJson {
            schema_version: SCHEMA_VERSION,
            kernel: report.kernel.as_deref(),
            checks: report.checks.iter().map(HostCheckJson::new).collect(),
            vtd_units: report.vtd_units.iter().map(VtdUnitJson::new).collect(),
            devices: report.devices.iter().map(DeviceJson::new).collect(),
            usable: report.usable(),
            exit_code: report.exit_code(),
        }
    }
}

/// One host check: `{"id", "label", "status", "detail", "hint"}`.
#[derive(Debug, Serialize)]
pub struct HostCheckJson<'a> {
    /// A stable identifier: `kernel`, `dev_vfio`, `vfio_api`, `vfio_type1v2`,
    /// `vfio_noiommu`, `dev_iommu`, `vfio_cdev`, `iommu_groups`, `vtd:<unit>` (or `vtd`),
    /// `vfio_devices`, `pci_config:<bdf>`.
    pub id: &'a str,
    /// What the text output calls it.
    pub label: &'a str,
    /// `PASS`, `WARN`, `FAIL` or `N/A`.
    pub status: &'static str,
    /// What was found.
    pub detail: &'a str,
    /// How to fix it, for WARN and FAIL.
    pub hint: Option<&'a str>,
}

impl<'a> HostCheckJson<'a> {
    fn new(c: &'a HostCheck) -> HostCheckJson<'a> {
        HostCheckJson {
            id: &c.id,
            label: &c.label,
            status: status_str(c.status),
            detail: &c.detail,
            hint: c.hint.as_deref(),
        }
    }
}

/// One VT-d unit from sysfs.
#[derive(Debug, Serialize)]
pub struct VtdUnitJson<'a> {
    /// `dmar0`.
    pub name: &'a str,
    /// The capability register, `0x…`.
    pub cap: String,
    /// The extended capability register, `0x…`.
    pub ecap: String,
    /// `ECAP.SMTS`.
    pub scalable_mode: bool,
    /// `ECAP.NEST`.
    pub nesting: bool,
    /// `ECAP.FLTS`.
    pub first_level: bool,
    /// `ECAP.PASID`.
    pub pasid: bool,
    /// PASID width (`ECAP.PSS + 1`).
    pub pasid_bits: u8,
    /// `ECAP.PRS`.
    pub page_requests: bool,
    /// `ECAP.QI`.
    pub queued_invalidation: bool,
}

impl<'a> VtdUnitJson<'a> {
    fn new(u: &'a VtdUnit) -> VtdUnitJson<'a> {
        let c = &u.caps;
        VtdUnitJson {
            name: &u.name,
            cap: hex_reg(c.cap_reg),
            ecap: hex_reg(c.ecap_reg),
            scalable_mode: c.scalable_mode,
            nesting: c.nesting,
            first_level: c.first_level,
            pasid: c.pasid,
            pasid_bits: c.pasid_bits,
            page_requests: c.page_requests,
            queued_invalidation: c.queued_invalidation,
        }
    }
}

/// A device's PASID capability.
#[derive(Debug, Serialize)]
pub struct PasidJson {
    /// Execute permission supported.
    pub exec: bool,
    /// Privileged mode supported.
    #[serde(rename = "priv")]
    pub privileged: bool,
    /// Max PASID width.
    pub max_pasid_width: u8,
    /// PASID enabled in the control register.
    pub enabled: bool,
    /// Offset of the capability in config space.
    pub offset: u16,
}

/// `IOMMU_GET_HW_INFO` of a device, or why it failed (`{"error": …}`).
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum HwInfoJson<'a> {
    /// The query failed.
    Failed {
        /// Why.
        error: &'a str,
    },
    /// The IOMMU's answer.
    Info {
        /// `out_data_type`.
        data_type: u32,
        /// `out_capabilities`.
        capabilities: u64,
        /// `out_max_pasid_log2`.
        max_pasid_log2: u8,
        /// The VT-d registers, if VT-d.
        vtd: Option<HwVtdJson>,
    },
}

/// The VT-d registers of `IOMMU_GET_HW_INFO`.
#[derive(Debug, Serialize)]
pub struct HwVtdJson {
    /// `cap_reg`, `0x…`.
    pub cap_reg: String,
    /// `ecap_reg`, `0x…`.
    pub ecap_reg: String,
    /// `ECAP.SMTS`.
    pub scalable_mode: bool,
    /// `ECAP.NEST`.
    pub nesting: bool,
    /// `ECAP.FLTS`.
    pub first_level: bool,
    /// PASID width.
    pub pasid_bits: u8,
    /// `ECAP.PRS`.
    pub page_requests: bool,
    /// `ECAP.SRS`.
    pub supervisor_requests: bool,
}

impl<'a> HwInfoJson<'a> {
    fn new(r: &'a Result<DecodedHwInfo, String>) -> HwInfoJson<'a> {
        match r {
            Err(error) => HwInfoJson::Failed { error },
            Ok(h) => HwInfoJson::Info {
                data_type: h.data_type,
                capabilities: h.capabilities.bits(),
                max_pasid_log2: h.max_pasid_log2,
                vtd: h.vtd.map(|v| HwVtdJson {
                    cap_reg: hex_reg(v.cap_reg),
                    ecap_reg: hex_reg(v.ecap_reg),
                    scalable_mode: v.scalable_mode,
                    nesting: v.nesting,
                    first_level: v.first_level,
                    pasid_bits: v.pasid_bits,
                    page_requests: v.page_requests,
                    supervisor_requests: v.supervisor_requests,
                }),
            },
        }
    }
}

/// What the iommufd backend would offer a guest behind one device.
#[derive(Debug, Serialize)]
pub struct BackendOfferJson {
    /// `supported`, `not_in_hardware` or `refused_by_kernel`.
    pub nesting: &'static str,
    /// The kernel's answer to the nest-parent allocation (`null`: allocated).
    pub errno: Option<&'static str>,
    /// The register bits nesting lacks (empty when they nest).
    pub hardware_missing: Vec<&'static str>,
    /// The offered `IOMMU_NESTING_FEAT_*` names, in bit order.
    pub offer: Vec<&'static str>,
    /// The same as a mask.
    pub offer_mask: u32,
}

impl BackendOfferJson {
    /// The JSON view of `offer`.
    pub fn new(offer: &BackendOffer) -> BackendOfferJson {
        BackendOfferJson {
            nesting: offer.nesting.as_str(),
            errno: offer.nest_parent.err().map(Errno::name),
            hardware_missing: offer.hardware_missing.clone(),
            offer: offer.feature_names(),
            offer_mask: offer.features.bits(),
        }
    }
}

/// One device of an IOMMU group.
#[derive(Debug, Serialize)]
pub struct DeviceJson<'a> {
    /// `dddd:bb:dd.f`.
    pub bdf: &'a str,
    /// PCI vendor id, 4 hex digits.
    pub vendor: Option<String>,
    /// PCI device id, 4 hex digits.
    pub device: Option<String>,
    /// The bound driver.
    pub driver: Option<&'a str>,
    /// The IOMMU group.
    pub group: u32,
    /// The VFIO cdev (`vfio0`).
    pub cdev: Option<&'a str>,
    /// The IOMMU unit (`dmar0`).
    pub iommu: Option<&'a str>,
    /// The PASID capability.
    pub pasid: Option<PasidJson>,
    /// Whether config space has a PCI Express capability.
    pub pcie: bool,
    /// A PRI capability.
    pub pri: bool,
    /// An ATS capability.
    pub ats: bool,
    /// Why the config-space walk stopped or could not start.
    pub config_problem: Option<String>,
    /// `IOMMU_GET_HW_INFO`, when asked.
    pub hw_info: Option<HwInfoJson<'a>>,
    /// The iommufd backend's offer (`null` exactly when `iommufd_backend_not_probed`
    /// says why).
    pub iommufd_backend: Option<BackendOfferJson>,
    /// Why the backend was not probed.
    pub iommufd_backend_not_probed: Option<&'a str>,
    /// The available `IOMMU_NESTING_FEAT_*` names, in bit order.
    pub nesting_features: Vec<&'static str>,
    /// The same as a mask.
    pub nesting_features_mask: u32,
    /// Every feature's `PASS`, `FAIL` or `N/A`, in bit order.
    pub feature_status: OrderedMap<&'static str>,
    /// Every feature's one-line reason, in bit order.
    pub reasons: OrderedMap<&'a str>,
}

impl<'a> DeviceJson<'a> {
    /// The JSON view of `dev`.
    pub fn new(dev: &'a DeviceReport) -> DeviceJson<'a> {
        DeviceJson {
            bdf: &dev.bdf,
            vendor: dev.vendor.map(|v| format!("{v:04x}")),
            device: dev.device.map(|v| format!("{v:04x}")),
            driver: dev.driver.as_deref(),
            group: dev.group,
            cdev: dev.cdev.as_deref(),
            iommu: dev.iommu.as_deref(),
            pasid: dev.caps.pasid.map(|p| PasidJson {
                exec: p.exec,
                privileged: p.privileged,
                max_pasid_width: p.max_width,
                enabled: p.enabled,
                offset: p.offset,
            }),
            pcie: dev.caps.pcie,
            pri: dev.caps.pri.is_some(),
            ats: dev.caps.ats.is_some(),
            config_problem: dev.config_problem(),
            hw_info: dev.hw_info.as_ref().map(HwInfoJson::new),
            iommufd_backend: dev.iommufd_backend.as_ref().ok().map(BackendOfferJson::new),
            iommufd_backend_not_probed: dev.iommufd_backend.as_ref().err().map(String::as_str),
            nesting_features: dev
                .features
                .iter()
                .filter(|v| v.status == Status::Pass)
                .map(|v| v.name)
                .collect(),
            nesting_features_mask: dev.nesting_features().bits(),
            feature_status: OrderedMap(
                dev.features
                    .iter()
                    .map(|v| (v.name, v.status.as_str()))
                    .collect(),
            ),
            reasons: OrderedMap(
                dev.features
                    .iter()
                    .map(|v| (v.name, v.reason.as_str()))
                    .collect(),
            ),
        }
    }
}

/// `report` as a JSON value.
pub fn to_json(report: &Report) -> serde_json::Value {
    // These types have string keys and no floats: serializing them cannot fail.
    serde_json::to_value(ReportJson::new(report)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use vsva_uapi::consts::HwCapabilities;
    use vsva_vfio::vtd::VtdCapabilities;

    fn vtd_hw(ecap: u64) -> DecodedHwInfo {
        DecodedHwInfo {
            data_type: 1,
            capabilities: HwCapabilities::empty(),
            max_pasid_log2: 20,
            vtd: Some(VtdCapabilities::decode(0, ecap)),
            vtd_flags: Some(0),
            smmuv3_idr: None,
            smmuv3: None,
            data: Vec::new(),
        }
    }

    #[test]
    fn backend_offer_json_names_the_kernel_errno_and_the_offer() {
        // ECAP: PASID, PSS=19, SMTS; no NEST, no FLTS.
        let ecap = (1 << 40) | (19 << 35) | (1 << 43);
        let offer = BackendOffer::new(
            &vtd_hw(ecap),
            Err(Errno::EOPNOTSUPP),
            vsva_viommu::host::offer,
        );
        let j = serde_json::to_value(BackendOfferJson::new(&offer)).unwrap();
        assert_eq!(
            j,
            json!({
                "nesting": "not_in_hardware",
                "errno": "EOPNOTSUPP",
                "hardware_missing": offer.hardware_missing,
                "offer": ["SYSWIDE_PASID"],
                "offer_mask": 1,
            })
        );
        // Allocated: errno null.
        let offer = BackendOffer::new(&vtd_hw(ecap), Ok(()), vsva_viommu::host::offer);
        let j = serde_json::to_value(BackendOfferJson::new(&offer)).unwrap();
        assert!(j["errno"].is_null());
    }

    #[test]
    fn feature_maps_keep_bit_order() {
        let data = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/hosts/vtd-pasid"
        );
        let opts = vsva_vfio::features::Options::recorded(
            format!("{data}/sys"),
            Some(format!("{data}/dev").into()),
        );
        let report = vsva_vfio::features::collect(&opts).unwrap();
        let text = to_json(&report).to_string();
        let at = |k: &str| text.find(&format!("\"{k}\":\"")).unwrap();
        assert!(at("SYSWIDE_PASID") < at("BIND_PGTBL"));
        assert!(at("BIND_PGTBL") < at("BIND_PASID_TABLE"));
        let j = to_json(&report);
        assert_eq!(
            j["devices"][0]["iommufd_backend_not_probed"],
            "recorded /dev root: no ioctls"
        );
        assert!(j["devices"][0]["iommufd_backend"].is_null());
    }
}
