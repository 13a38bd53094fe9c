//! The VFIO cdev + iommufd path on the real kernel: bind, `IOMMU_GET_HW_INFO` decoded and
//! checked against this boot's emulated VT-d, IOAS, attach/detach, HWPT allocation, the
//! edu DMA round trip through an IOAS mapping, what this host cannot do (nest parent,
//! dirty tracking: `EOPNOTSUPP`) and what this kernel does not have (the 2020 nesting
//! ioctls: `ENOTTY`).

use std::sync::Arc;

use vsva_uapi::consts::CacheInvType;
use vsva_uapi::{CacheInvalidateInfo, Errno, GpasidBindData, GpasidBindDataVtd, Granu};
use vsva_vfio::cdev::CdevDevice;
use vsva_vfio::group::Group;
use vsva_vfio::iommufd::{
    DevId, HwptAllocRequest, HwptId, IoasId, Iommufd, HW_INFO_TYPE_INTEL_VTD,
};
use vsva_vfio::nesting;
use vsva_vfio::vtd::VtdCapabilities;
use vsva_vfio::Error;
use zerocopy::FromZeros;

use crate::guest::{self, Cdev, Edu, IommuConfig, Legacy};
use crate::sys::{DmaBuffer, IoasMapping, PAGE};

/// `IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17`: the kernel always reports it for VT-d.
const VTD_ERRATA_772415_SPR17: u32 = 1;
/// The IOVA ranges of an IOAS with this guest's device attached (as type1's).
const IOVA_RANGES: [(u64, u64); 2] = [(0, 0xfedf_ffff), (0xfef0_0000, 0xffff_ffff_ffff)];

fn ranges(fd: &Iommufd, ioas: IoasId) -> (Vec<(u64, u64)>, u64) {
    let r = fd.ioas_iova_ranges(ioas).expect("IOMMU_IOAS_IOVA_RANGES");
    (
        r.ranges.iter().map(|r| (r.start, r.last)).collect(),
        r.alignment,
    )
}

/// The named fields of a decode, for comparing two of them field by field.
fn named_fields(c: &VtdCapabilities) -> Vec<(&'static str, u64)> {
    vec![
        (
            "max_guest_address_width",
            u64::from(c.max_guest_address_width),
        ),
        ("sagaw", u64::from(c.sagaw)),
        ("first_level_1g_pages", u64::from(c.first_level_1g_pages)),
        ("first_level_5_level", u64::from(c.first_level_5_level)),
        (
            "page_selective_invalidation",
            u64::from(c.page_selective_invalidation),
        ),
        ("page_walk_coherency", u64::from(c.page_walk_coherency)),
        ("queued_invalidation", u64::from(c.queued_invalidation)),
        ("device_tlb", u64::from(c.device_tlb)),
        ("pass_through", u64::from(c.pass_through)),
        ("memory_type", u64::from(c.memory_type)),
        ("nesting", u64::from(c.nesting)),
        ("page_requests", u64::from(c.page_requests)),
        ("supervisor_requests", u64::from(c.supervisor_requests)),
        (
            "extended_accessed_flag",
            u64::from(c.extended_accessed_flag),
        ),
        ("pasid", u64::from(c.pasid)),
        ("pasid_bits", u64::from(c.pasid_bits)),
        ("scalable_mode", u64::from(c.scalable_mode)),
        ("first_level", u64::from(c.first_level)),
        ("second_level", u64::from(c.second_level)),
        (
            "scalable_page_walk_coherency",
            u64::from(c.scalable_page_walk_coherency),
        ),
    ]
}

#[test]
fn cdev_binds_and_hw_info_decodes_this_boots_vtd_registers() {
    guest::require_guest();
    let config = IommuConfig::of_this_boot();
    for dev in [guest::edu(), guest::nic()] {
        let s = Cdev::open(&dev);
        assert_eq!(s.dev_id, DevId(1), "the first object of a fresh iommufd");
        let hw = s.iommufd.hw_info(s.dev_id).expect("IOMMU_GET_HW_INFO");
        assert_eq!(hw.data_type, HW_INFO_TYPE_INTEL_VTD);
        assert_eq!(hw.data.len(), 24, "sizeof(iommu_hw_info_vtd)");
        assert_eq!(hw.vtd_flags, Some(VTD_ERRATA_772415_SPR17));
        assert_eq!(
            hw.capabilities.bits(),
            guest::vtd_device_hw_caps(guest::release()),
            "no dirty tracking, no PASID caps (7.1+: ATS not supported): {:?}",
            hw.capabilities
        );
        assert_eq!(hw.max_pasid_log2, 0, "6.12 has no out_max_pasid_log2");
        assert!(hw.smmuv3.is_none() && hw.smmuv3_idr.is_none());
        let vtd = hw.vtd.expect("VT-d data decoded");
        assert_eq!(
            (vtd.cap_reg, vtd.ecap_reg),
            (config.cap_reg(), config.ecap_reg()),
            "{config:?}: cap {:#x} ecap {:#x}",
            vtd.cap_reg,
            vtd.ecap_reg
        );
        assert_eq!(vtd, config.vtd());
        // The same registers as sysfs shows for dmar0.
        assert_eq!(guest::sysfs_vtd_registers(), (vtd.cap_reg, vtd.ecap_reg));
        // What every config of QEMU's intel-iommu has ...
        assert_eq!(
            (vtd.max_guest_address_width, vtd.sagaw),
            (48, 0b0110),
            "48-bit, 3- and 4-level"
        );
        assert!(vtd.queued_invalidation && vtd.pass_through);
        assert!(!vtd.nesting && !vtd.first_level && !vtd.page_requests && !vtd.device_tlb);
        assert!(!vtd.page_walk_coherency && !vtd.first_level_1g_pages);
        // ... and what differs.
        match config {
            IommuConfig::Default => {
                assert!(!vtd.scalable_mode && !vtd.second_level && !vtd.supervisor_requests);
                assert!(!vtd.pasid);
                assert_eq!(vtd.pasid_bits, 0);
            }
            IommuConfig::Scalable => {
                assert!(vtd.scalable_mode && vtd.second_level && vtd.supervisor_requests);
                assert!(vtd.pasid);
                assert_eq!(vtd.pasid_bits, 1, "ECAP.PSS 0: one PASID bit");
            }
        }
        drop(s);
    }
}

#[test]
fn decoded_vtd_fields_differ_between_the_configs_exactly_as_the_registers_do() {
    guest::require_guest();
    let [a, b] = IommuConfig::ALL.map(IommuConfig::vtd);
    assert_eq!(a.cap_reg, b.cap_reg);
    let changed_bits: Vec<u32> = (0..64)
        .filter(|n| (a.ecap_reg ^ b.ecap_reg) >> n & 1 == 1)
        .collect();
    // SRS (31), PASID (40), SMTS (43), SLTS (46).
    assert_eq!(changed_bits, [31, 40, 43, 46]);
    let differing: Vec<&str> = named_fields(&a)
        .into_iter()
        .zip(named_fields(&b))
        .filter(|(x, y)| x.1 != y.1)
        .map(|(x, _)| x.0)
        .collect();
    assert_eq!(
        differing,
        [
            "supervisor_requests",
            "pasid",
            "pasid_bits",
            "scalable_mode",
            "second_level"
        ]
    );
    // And this boot is one of the two, as the kernel reports it.
    let s = Cdev::open(&guest::edu());
    let vtd = s.iommufd.hw_info(s.dev_id).unwrap().vtd.unwrap();
    assert_eq!(vtd, IommuConfig::of_this_boot().vtd());
}

#[test]
fn cdev_device_info_matches_the_group_path() {
    guest::require_guest();
    for dev in [guest::edu(), guest::nic()] {
        let legacy = Legacy::open(&dev);
        let d = legacy.device();
        let info = d.info().unwrap();
        let regions: Vec<_> = (0..info.num_regions).map(|i| d.region_info(i)).collect();
        let irqs: Vec<_> = (0..info.num_irqs).map(|i| d.irq_info(i)).collect();
        legacy.close();

        let s = Cdev::open(&dev);
        let d = s.device();
        assert_eq!(d.info().unwrap(), info, "{}", dev.bdf);
        let cdev_regions: Vec<_> = (0..info.num_regions).map(|i| d.region_info(i)).collect();
        let cdev_irqs: Vec<_> = (0..info.num_irqs).map(|i| d.irq_info(i)).collect();
        assert_eq!(cdev_regions, regions, "{}", dev.bdf);
        assert_eq!(cdev_irqs, irqs, "{}", dev.bdf);
    }
}

#[test]
fn group_and_cdev_paths_exclude_each_other() {
    guest::require_guest();
    let dev = guest::edu();
    let k = guest::kernel();
    {
        // The group is open (and in a container): binding the cdev is refused.
        let legacy = Legacy::open(&dev);
        let iommufd = Iommufd::open(Arc::clone(&k)).unwrap();
        let cdev = CdevDevice::open(Arc::clone(&k), dev.cdev_path()).expect("open the cdev");
        assert_eq!(
            cdev.bind(&iommufd).unwrap_err(),
            Error::Ioctl {
                op: "VFIO_DEVICE_BIND_IOMMUFD",
                errno: Errno::EBUSY
            }
        );
        drop(cdev);
        legacy.close();
    }
    {
        // The cdev is bound: the group cannot be opened.
        let s = Cdev::open(&dev);
        assert!(matches!(
            Group::open(Arc::clone(&k), dev.group),
            Err(Error::Open {
                errno: Errno::EBUSY,
                ..
            })
        ));
        drop(s);
    }
    // Both closed: the group path works again.
    Legacy::open(&dev).close();
}

#[test]
fn ioas_alloc_map_unmap_and_iova_ranges() {
    guest::require_guest();
    let s = Cdev::open(&guest::edu());
    let fd = &s.iommufd;
    let ioas = fd.ioas_alloc().expect("IOMMU_IOAS_ALLOC");
    assert_eq!(ioas, IoasId(2));
    // Nothing attached: the whole IOVA space, byte-aligned.
    assert_eq!(ranges(fd, ioas), (vec![(0, u64::MAX)], 1));

    let hwpt = s
        .cdev
        .attach(ioas)
        .expect("VFIO_DEVICE_ATTACH_IOMMUFD_PT(ioas)");
    assert_eq!(hwpt, HwptId(3), "the HWPT the kernel created for the IOAS");
    // Attached: the device's reserved regions (MSI window) and the 48-bit aperture.
    assert_eq!(ranges(fd, ioas), (IOVA_RANGES.to_vec(), 0x1000));

    let fixed = IoasMapping::map(fd, ioas, DmaBuffer::new(2 * PAGE), Some(0x20_0000))
        .expect("IOMMU_IOAS_MAP fixed");
    assert_eq!(fixed.iova(), 0x20_0000);
    let chosen =
        IoasMapping::map(fd, ioas, DmaBuffer::new(PAGE), None).expect("IOMMU_IOAS_MAP anywhere");
    let at = chosen.iova();
    assert_eq!(at % 0x1000, 0, "{at:#x}");
    assert!(
        IOVA_RANGES
            .iter()
            .any(|&(lo, hi)| lo <= at && at + PAGE as u64 - 1 <= hi),
        "{at:#x} outside the allowed ranges"
    );
    assert!(
        at + PAGE as u64 <= 0x20_0000 || at >= 0x20_2000,
        "{at:#x} overlaps"
    );
    // Taken, and reserved.
    let twice = IoasMapping::map(fd, ioas, DmaBuffer::new(PAGE), Some(0x20_0000));
    assert_eq!(twice.unwrap_err().errno(), Errno(libc::EEXIST));
    let msi = IoasMapping::map(fd, ioas, DmaBuffer::new(PAGE), Some(0xfee0_0000));
    assert_eq!(
        msi.unwrap_err().errno(),
        Errno::EINVAL,
        "the MSI window is reserved"
    );

    let (len, _buf) = fixed.unmap().expect("IOMMU_IOAS_UNMAP");
    assert_eq!(len, 2 * PAGE as u64);
    assert_eq!(
        fd.ioas_unmap(ioas, 0x20_0000, 2 * PAGE as u64)
            .unwrap_err()
            .errno(),
        Errno::ENOENT
    );
    let (len, _buf) = chosen.unmap().unwrap();
    assert_eq!(len, PAGE as u64);

    s.cdev.detach().expect("VFIO_DEVICE_DETACH_IOMMUFD_PT");
    assert_eq!(ranges(fd, ioas), (vec![(0, u64::MAX)], 1));
    fd.destroy(ioas).expect("IOMMU_DESTROY(ioas)");
    assert_eq!(fd.destroy(ioas).unwrap_err().errno(), Errno::ENOENT);
}

#[test]
fn attach_detach_and_a_plain_hwpt() {
    guest::require_guest();
    let s = Cdev::open(&guest::edu());
    let fd = &s.iommufd;
    let ioas = fd.ioas_alloc().unwrap();

    // Attached to the IOAS: the IOAS is in use.
    let auto = s.cdev.attach(ioas).unwrap();
    assert_eq!(fd.destroy(ioas).unwrap_err().errno(), Errno::EBUSY);
    s.cdev.detach().unwrap();
    // The automatic HWPT went away with the detach.
    assert_eq!(fd.destroy(auto).unwrap_err().errno(), Errno::ENOENT);

    let hwpt = fd
        .hwpt_alloc(&HwptAllocRequest::new(s.dev_id, ioas))
        .expect("IOMMU_HWPT_ALLOC, plain paging");
    assert_eq!(s.cdev.attach(hwpt).unwrap(), hwpt, "attached to that HWPT");
    assert_eq!(fd.destroy(hwpt).unwrap_err().errno(), Errno::EBUSY);
    // Attaching to the IOAS replaces it: only automatic HWPTs are reused, so a new one.
    let replaced = s.cdev.attach(ioas).unwrap();
    assert_ne!(replaced, hwpt);
    // The manual HWPT is free again; the automatic one stays while attached.
    fd.destroy(hwpt).expect("IOMMU_DESTROY(hwpt)");
    assert_eq!(fd.destroy(replaced).unwrap_err().errno(), Errno::EBUSY);
    s.cdev.detach().unwrap();
    // Detaching a detached device is a no-op.
    s.cdev.detach().expect("second detach");
    fd.destroy(ioas).expect("IOMMU_DESTROY(ioas)");
}

#[test]
fn edu_dma_round_trip_through_an_ioas() {
    guest::require_guest();
    let s = Cdev::open(&guest::edu());
    let fd = &s.iommufd;
    let ioas = fd.ioas_alloc().unwrap();
    s.cdev.attach(ioas).unwrap();
    let edu = Edu::new(s.device());
    assert_eq!(edu.ident(), guest::EDU_IDENT);
    assert_eq!(edu.liveness(0xa5a5_0f0f), !0xa5a5_0f0f);
    let (_, cmd) = edu.enable_bus_master();
    assert_ne!(cmd & guest::PCI_COMMAND_MASTER, 0);

    let iova = 0x20_0000;
    let map =
        IoasMapping::map(fd, ioas, DmaBuffer::new(2 * PAGE), Some(iova)).expect("IOMMU_IOAS_MAP");
    guest::edu_round_trip(&edu, map.buffer(), iova, 0xc3);
    let (len, buf) = map.unmap().expect("IOMMU_IOAS_UNMAP");
    assert_eq!(len, 2 * PAGE as u64);
    buf.write(PAGE, &[0u8; PAGE]);
    edu.device_to_unmapped_iova(iova + PAGE as u64, guest::EDU_BUFFER_LEN);
    assert!(
        buf.read(PAGE, PAGE).iter().all(|b| *b == 0),
        "edu reached RAM through an unmapped IOVA"
    );
    s.cdev.detach().unwrap();
    fd.destroy(ioas).unwrap();
}

#[test]
fn nest_parent_dirty_tracking_and_pasid_are_not_supported_by_this_host() {
    guest::require_guest();
    let s = Cdev::open(&guest::edu());
    let fd = &s.iommufd;
    let ioas = fd.ioas_alloc().unwrap();
    let eopnotsupp = Error::HostNotSupported {
        op: "IOMMU_HWPT_ALLOC",
    };
    let base = HwptAllocRequest::new(s.dev_id, ioas);
    // QEMU's VT-d never sets ECAP.NEST, nor ECAP.SLADS: in both configs.
    assert_eq!(
        fd.hwpt_alloc(&base.clone().nest_parent()),
        Err(eopnotsupp.clone())
    );
    assert_eq!(
        fd.hwpt_alloc(&base.clone().dirty_tracking()),
        Err(eopnotsupp.clone())
    );
    // IOMMU_HWPT_ALLOC_PASID is v6.15: an unknown flag to 6.12; VT-d takes it from 6.15.
    if guest::release().series() >= (6, 15) {
        let pasid = fd.hwpt_alloc(&base.clone().pasid()).expect("a PASID-capable HWPT");
        fd.destroy(pasid).unwrap();
    } else {
        assert_eq!(
            fd.hwpt_alloc(&base.clone().pasid()),
            Err(eopnotsupp.clone())
        );
    }
    assert_eq!(eopnotsupp.errno(), Errno::EOPNOTSUPP);
    assert!(eopnotsupp
        .to_string()
        .contains("not supported by this host"));
    // A refusal, not a missing ioctl.
    assert!(!matches!(eopnotsupp, Error::NotSupported { .. }));
    // PASID attach is v6.13 too: 6.12 refuses the flag with EINVAL.
    assert_eq!(
        s.cdev.attach_pasid(1, ioas).unwrap_err().errno(),
        Errno::EINVAL
    );
    // The plain request still works.
    let hwpt = fd.hwpt_alloc(&base).unwrap();
    fd.destroy(hwpt).unwrap();
    // An unknown device.
    assert_eq!(fd.hw_info(DevId(999)).unwrap_err().errno(), Errno::ENOENT);
    fd.destroy(ioas).unwrap();
}

fn vtd_bind() -> GpasidBindData {
    let mut bind = GpasidBindData::new_zeroed();
    bind.argsz = 72;
    bind.version = 1;
    bind.addr_width = 48;
    bind.flags = 1;
    bind.gpgd = 0x1234_5000;
    bind.hpasid = 7;
    bind.gpasid = 3;
    bind.set_vtd(GpasidBindDataVtd {
        flags: 0,
        pat: 0x0007_0406,
        emt: 0,
    });
    bind
}

#[test]
fn nesting_2020_ioctls_are_not_supported_by_this_kernel() {
    guest::require_guest();
    let legacy = Legacy::open(&guest::edu());
    let c = legacy.container.fd();
    let not_supported = |op| Error::NotSupported { op };
    assert_eq!(
        nesting::pasid_alloc(c, 1, 100),
        Err(not_supported("VFIO_IOMMU_PASID_REQUEST"))
    );
    assert_eq!(
        nesting::pasid_free(c, 1, 100),
        Err(not_supported("VFIO_IOMMU_PASID_REQUEST"))
    );
    let bind = vtd_bind();
    assert_eq!(
        nesting::bind_pgtbl(c, &bind),
        Err(not_supported("VFIO_IOMMU_NESTING_OP_BIND_PGTBL"))
    );
    assert_eq!(
        nesting::unbind_pgtbl(c, &bind),
        Err(not_supported("VFIO_IOMMU_NESTING_OP_UNBIND_PGTBL"))
    );
    let inv = CacheInvalidateInfo::new(CacheInvType::IOTLB, Granu::Domain);
    let e = nesting::cache_invalidate(c, &inv).unwrap_err();
    assert_eq!(e, not_supported("VFIO_IOMMU_NESTING_OP_CACHE_INVLD"));
    assert_eq!(e.errno(), Errno::ENOTTY);
    assert!(
        e.to_string()
            .contains("not supported by this kernel (ENOTTY)"),
        "{e}"
    );
    // The container is unharmed.
    assert!(legacy.container.iommu_info().is_ok());
    legacy.close();
}
