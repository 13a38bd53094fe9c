//! The text form of a [`Report`]: `virt-host-validate`-style lines and one block per
//! device.

use std::fmt;

use super::report::{Report, Status};

pub(super) fn yes_no(b: bool) -> char {
    if b {
        '+'
    } else {
        '-'
    }
}

pub(super) fn status_lines(
    f: &mut fmt::Formatter<'_>,
    lines: &[(String, Status, String)],
) -> fmt::Result {
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
