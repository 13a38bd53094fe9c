//! Unit tests of the feature walk, probes and rules.

use super::collect::*;
use super::pci::ExtCaps;
use super::probes::*;
use super::report::*;
use super::rules::*;
use super::sysfs::*;
use super::*;
use crate::scripted::{Call, Reply, ScriptedKernel};
use crate::sys::Kernel;
use crate::vtd::VtdCapabilities;
use std::path::Path;
use std::sync::Arc;
use vsva_uapi::consts::NestingFeatures;
use vsva_uapi::vfio_core::{VFIO_CHECK_EXTENSION, VFIO_GET_API_VERSION};
use vsva_uapi::Errno;

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
        // A rule that offers SYSWIDE_PASID when the registers it is shown have PASIDs:
        // what reaches the report is the rule's answer on this session's registers.
        offer_rule: |o| match o.vtd {
            Some(v) if v.pasid_bits > 0 => NestingFeatures::SYSWIDE_PASID,
            _ => NestingFeatures::empty(),
        },
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
