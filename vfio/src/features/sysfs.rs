//! The sysfs walk: bounded one-line attributes, VT-d units, PCI devices.

use std::fmt;
use std::fs;

use std::path::Path;

use crate::bounded;

use crate::vtd::VtdCapabilities;

use super::pci::{self, parse_ext_caps, ExtCaps};

use super::report::{DeviceReport, HostCheck, Status, VtdUnit};

/// The most a one-line sysfs attribute (`cap`, `vendor`, `osrelease`…) may hold.
pub(super) const ATTR_MAX: usize = 4096;

/// A WARN naming a file that is there but was refused (not a regular file, too long).
pub(super) fn file_warning(path: &Path, why: impl fmt::Display) -> HostCheck {
    HostCheck::new(
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
pub(super) fn read_trimmed(path: &Path, warnings: &mut Vec<HostCheck>) -> Option<String> {
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

pub(super) fn link_name(path: &Path) -> Option<String> {
    fs::read_link(path)
        .ok()?
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
}

/// A sysfs hex value: an optional `0x`, then 1 to 16 hex digits and nothing else (no
/// sign: `0x+1` is not 1).
pub(super) fn parse_hex_u64(s: &str) -> Option<u64> {
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

pub(super) fn sorted_names(dir: &Path) -> Vec<String> {
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

/// The VT-d units of `<sysfs>/class/iommu`. A unit whose `cap` or `ecap` is there but
/// does not parse is left out with a `vtd:<unit>` WARN in `warnings` (returned count).
pub(super) fn read_vtd_units(sysfs: &Path, warnings: &mut Vec<HostCheck>) -> (Vec<VtdUnit>, usize) {
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
                    HostCheck::new(
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

pub(super) fn read_u16_hex(path: &Path, warnings: &mut Vec<HostCheck>) -> Option<u16> {
    u16::try_from(parse_hex_u64(&read_trimmed(path, warnings)?)?).ok()
}

pub(super) fn read_device(
    sysfs: &Path,
    bdf: &str,
    group: u32,
    warnings: &mut Vec<HostCheck>,
) -> DeviceReport {
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
