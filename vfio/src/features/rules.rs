//! The rules: the VT-d unit's host check and each device's nesting features.

use vsva_uapi::consts::NestingFeatures;

use super::render::yes_no;
use super::report::{DeviceReport, FeatureVerdict, HostCheck, Status, VtdUnit};

pub(super) fn vtd_check(unit: &VtdUnit) -> HostCheck {
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
        HostCheck::new(id, label, Status::Pass, detail)
    } else {
        let hint = if c.scalable_mode {
            "this IOMMU cannot nest guest page tables".to_owned()
        } else {
            "needs scalable-mode hardware; boot with intel_iommu=on,sm_on".to_owned()
        };
        HostCheck::new(
            id,
            label,
            Status::Warn,
            format!("{detail}; missing {}", missing.join(", ")),
        )
        .hint(hint)
    }
}

/// Derives the nesting features of `dev` behind `unit` (its VT-d unit, if any): one
/// verdict per [`NestingFeatures`] flag, in bit order, named by the flag's name.
pub fn derive_features(dev: &DeviceReport, unit: Option<&VtdUnit>) -> Vec<FeatureVerdict> {
    let rule = |feature| match unit {
        Some(unit) => vtd_rule(feature, dev, unit),
        None if feature == NestingFeatures::BIND_PASID_TABLE => {
            (Status::NotApplicable, "SMMUv3 only; no SMMUv3 found".into())
        }
        None => (
            Status::Fail,
            "no Intel VT-d unit translates for this device (only VT-d is decoded)".into(),
        ),
    };
    NestingFeatures::all()
        .iter_names()
        .map(|(name, feature)| {
            let (status, reason) = rule(feature);
            FeatureVerdict {
                feature,
                name,
                status,
                reason,
            }
        })
        .collect()
}

/// What `BIND_PGTBL` needs and `dev` behind `unit` lacks (empty: available).
fn bind_missing(dev: &DeviceReport, unit: &VtdUnit) -> Vec<String> {
    let n = &unit.name;
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
    missing
}

/// One feature of `dev` behind the VT-d `unit`: its status and why.
fn vtd_rule(feature: NestingFeatures, dev: &DeviceReport, unit: &VtdUnit) -> (Status, String) {
    let c = &unit.caps;
    let n = &unit.name;
    let verdict = |ok: bool, pass: String, fail: String| {
        if ok {
            (Status::Pass, pass)
        } else {
            (Status::Fail, fail)
        }
    };
    let missing = bind_missing(dev, unit);
    let bind = missing.is_empty();
    match feature {
        NestingFeatures::SYSWIDE_PASID => verdict(
            c.pasid,
            format!(
                "{n} ECAP.PASID: {}-bit PASIDs, allocated system-wide",
                c.pasid_bits
            ),
            format!("{n} has no ECAP.PASID"),
        ),
        NestingFeatures::BIND_PGTBL => {
            let p = dev.caps.pasid.map_or(0, |p| p.max_width);
            verdict(
                bind,
                format!(
                    "{n} scalable mode + nesting + first-level; device PASID ({p} bits) on vfio-pci"
                ),
                format!("needs {}", missing.join(", ")),
            )
        }
        NestingFeatures::CACHE_INVLD if !bind => (
            Status::Fail,
            "follows BIND_PGTBL, which is unavailable".into(),
        ),
        NestingFeatures::CACHE_INVLD => verdict(
            c.queued_invalidation,
            format!("follows BIND_PGTBL; {n} queued invalidation (ECAP.QI)"),
            format!("{n} has no queued invalidation (ECAP.QI)"),
        ),
        NestingFeatures::PAGE_REQUEST => {
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
            verdict(
                pr_missing.is_empty(),
                format!("{n} ECAP.PRS + device PRI"),
                format!("needs {}", pr_missing.join(", ")),
            )
        }
        // BIND_PASID_TABLE, and any feature a later header adds that VT-d lacks.
        _ => (Status::NotApplicable, "SMMUv3 only; n/a on VT-d".into()),
    }
}
