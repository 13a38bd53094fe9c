//! The iommufd and VFIO cdev wrappers against the scripted kernel: success, each errno,
//! the exact request sizes (smallest generation that carries the request), replies
//! shorter than requested, VT-d decoding, partial invalidation and fault-fd records.

use std::path::Path;
use std::sync::Arc;

use vsva_uapi::consts::{HwCapabilities, HwptAllocFlags};
use vsva_uapi::iommufd::{HwptPageResponse, HwptPgfault, HwptVtdS1, HwptVtdS1Invalidate};
use vsva_uapi::Errno;
use vsva_vfio::cdev::{
    CdevDevice, VFIO_DEVICE_ATTACH_IOMMUFD_PT, VFIO_DEVICE_BIND_IOMMUFD,
    VFIO_DEVICE_DETACH_IOMMUFD_PT,
};
use vsva_vfio::iommufd::*;
use vsva_vfio::scripted::{Call, Reply, ScriptedKernel};
use vsva_vfio::sys::Kernel;
use vsva_vfio::vtd::VtdCapabilities;
use vsva_vfio::Error;
use zerocopy::{FromZeros, IntoBytes};

const CDEV: &str = "/dev/vfio/devices/vfio0";
const FAULT_PATH: &str = "anon_inode:[iommufd-pgfault]";

fn kernel() -> ScriptedKernel {
    let k = ScriptedKernel::new();
    k.add_path(IOMMUFD_PATH);
    k.add_path(CDEV);
    k
}

fn iommufd(k: &ScriptedKernel) -> Iommufd {
    Iommufd::open(Arc::new(k.clone())).unwrap()
}

fn cdev(k: &ScriptedKernel) -> CdevDevice {
    CdevDevice::open(Arc::new(k.clone()), CDEV).unwrap()
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(b[at..at + 4].try_into().unwrap())
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_ne_bytes(b[at..at + 8].try_into().unwrap())
}

fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_ne_bytes());
}

fn put64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_ne_bytes());
}

/// Scripts `request` to write `fill` into the struct and succeed.
fn on_sized(k: &ScriptedKernel, request: u32, fill: impl Fn(&mut [u8]) + Send + 'static) {
    k.on(request, move |_, call| match call {
        Call::Sized(arg) => {
            fill(arg);
            Ok(Reply::Value(0))
        }
        _ => Err(Errno::EFAULT),
    });
}

// ---------------------------------------------------------------- open

#[test]
fn open_reports_the_errno_and_path() {
    let k = ScriptedKernel::new();
    let err = Iommufd::open(Arc::new(k.clone())).unwrap_err();
    assert_eq!(
        err,
        Error::Open {
            path: IOMMUFD_PATH.into(),
            errno: Errno::ENOENT
        }
    );
    k.fail_path(CDEV, Errno::EBUSY);
    let err = CdevDevice::open(Arc::new(k.clone()), CDEV).unwrap_err();
    assert_eq!(err.errno(), Errno::EBUSY);
    assert!(err.to_string().contains("vfio0"));
    assert_eq!(k.open_fds(), 0);
}

#[test]
fn descriptors_close_on_drop() {
    let k = kernel();
    let fd = iommufd(&k);
    let dev = cdev(&k);
    assert_eq!(k.open_fds(), 2);
    assert_eq!(dev.path(), Some(Path::new(CDEV)));
    let raw = fd.fd().raw();
    drop(fd);
    drop(dev);
    assert_eq!(k.open_fds(), 0);
    assert!(k.closed().contains(&raw));
}

// ---------------------------------------------------------------- every errno

type Wrapper = Box<dyn Fn(&Iommufd, &CdevDevice) -> Result<(), Error>>;

fn wrappers() -> Vec<(&'static str, u32, Wrapper)> {
    vec![
        (
            "IOMMU_DESTROY",
            IOMMU_DESTROY,
            Box::new(|f, _| f.destroy(IoasId(2))),
        ),
        (
            "IOMMU_IOAS_ALLOC",
            IOMMU_IOAS_ALLOC,
            Box::new(|f, _| f.ioas_alloc().map(drop)),
        ),
        (
            "IOMMU_IOAS_UNMAP",
            IOMMU_IOAS_UNMAP,
            Box::new(|f, _| f.ioas_unmap(IoasId(2), 0, u64::MAX).map(drop)),
        ),
        (
            "IOMMU_IOAS_IOVA_RANGES",
            IOMMU_IOAS_IOVA_RANGES,
            Box::new(|f, _| f.ioas_iova_ranges(IoasId(2)).map(drop)),
        ),
        (
            "IOMMU_GET_HW_INFO",
            IOMMU_GET_HW_INFO,
            Box::new(|f, _| f.hw_info(DevId(1)).map(drop)),
        ),
        (
            "IOMMU_HWPT_ALLOC",
            IOMMU_HWPT_ALLOC,
            Box::new(|f, _| {
                f.hwpt_alloc(&HwptAllocRequest::new(DevId(1), IoasId(2)).nest_parent())
                    .map(drop)
            }),
        ),
        (
            "IOMMU_HWPT_INVALIDATE",
            IOMMU_HWPT_INVALIDATE,
            Box::new(|f, _| {
                let e = HwptVtdS1Invalidate::new_zeroed();
                f.hwpt_invalidate(HwptId(3), &[e])
                    .map(drop)
                    .map_err(|(n, e)| {
                        assert_eq!(n, 0, "no entry handled on {e}");
                        e
                    })
            }),
        ),
        (
            "IOMMU_FAULT_QUEUE_ALLOC",
            IOMMU_FAULT_QUEUE_ALLOC,
            Box::new(|f, _| f.fault_queue_alloc().map(drop)),
        ),
        (
            "VFIO_DEVICE_BIND_IOMMUFD",
            VFIO_DEVICE_BIND_IOMMUFD,
            Box::new(|f, d| d.bind(f).map(drop)),
        ),
        (
            "VFIO_DEVICE_ATTACH_IOMMUFD_PT",
            VFIO_DEVICE_ATTACH_IOMMUFD_PT,
            Box::new(|_, d| d.attach(IoasId(2)).map(drop)),
        ),
        (
            "VFIO_DEVICE_ATTACH_IOMMUFD_PT (VFIO_DEVICE_ATTACH_PASID)",
            VFIO_DEVICE_ATTACH_IOMMUFD_PT,
            Box::new(|_, d| d.attach_pasid(5, HwptId(3)).map(drop)),
        ),
        (
            "VFIO_DEVICE_DETACH_IOMMUFD_PT",
            VFIO_DEVICE_DETACH_IOMMUFD_PT,
            Box::new(|_, d| d.detach()),
        ),
        (
            "VFIO_DEVICE_DETACH_IOMMUFD_PT (VFIO_DEVICE_DETACH_PASID)",
            VFIO_DEVICE_DETACH_IOMMUFD_PT,
            Box::new(|_, d| d.detach_pasid(5)),
        ),
    ]
}

#[test]
fn every_wrapper_reports_each_errno_and_which_side_lacks_support() {
    for errno in [
        Errno::ENOENT,
        Errno::EINVAL,
        Errno::EOPNOTSUPP,
        Errno::ENOTTY,
    ] {
        for (op, request, call) in wrappers() {
            let k = kernel();
            k.on(request, move |_, _| Err(errno));
            let (f, d) = (iommufd(&k), cdev(&k));
            let err = call(&f, &d).unwrap_err();
            let want = match errno {
                Errno::ENOTTY => Error::NotSupported { op },
                Errno::EOPNOTSUPP => Error::HostNotSupported { op },
                errno => Error::Ioctl { op, errno },
            };
            assert_eq!(err, want, "{op} {errno:?}");
            assert_eq!(err.errno(), errno);
            assert_eq!(k.calls().len(), 1, "{op}: one call, no retry on {errno:?}");
            assert_eq!(k.calls()[0].request, request);
        }
    }
}

#[test]
fn an_unscripted_kernel_has_none_of_the_ioctls() {
    let k = kernel();
    let (f, d) = (iommufd(&k), cdev(&k));
    for (op, _, call) in wrappers() {
        assert_eq!(call(&f, &d), Err(Error::NotSupported { op }));
    }
}

// ---------------------------------------------------------------- simple object ioctls

#[test]
fn ioas_alloc_sends_12_bytes_and_returns_the_id() {
    let k = kernel();
    on_sized(&k, IOMMU_IOAS_ALLOC, |a| put32(a, 8, 2));
    assert_eq!(iommufd(&k).ioas_alloc(), Ok(IoasId(2)));
    let c = &k.calls()[0];
    assert_eq!(
        (c.request, c.arg.len(), u32_at(&c.arg, 0)),
        (0x3b81, 12, 12)
    );
    assert_eq!(u32_at(&c.arg, 4), 0, "flags");
}

#[test]
fn destroy_sends_the_id_in_8_bytes() {
    let k = kernel();
    on_sized(&k, IOMMU_DESTROY, |_| {});
    iommufd(&k).destroy(HwptId(9)).unwrap();
    let c = &k.calls()[0];
    assert_eq!(c.arg, [8, 0, 0, 0, 9, 0, 0, 0]);
}

#[test]
fn ioas_unmap_returns_the_length_the_kernel_unmapped() {
    let k = kernel();
    on_sized(&k, IOMMU_IOAS_UNMAP, |a| put64(a, 16, 0x2000));
    assert_eq!(iommufd(&k).ioas_unmap(IoasId(2), 0, u64::MAX), Ok(0x2000));
    let c = &k.calls()[0];
    assert_eq!(c.arg.len(), 24);
    assert_eq!(
        (u32_at(&c.arg, 4), u64_at(&c.arg, 8), u64_at(&c.arg, 16)),
        (2, 0, u64::MAX)
    );
}

#[test]
fn ioas_map_request_sets_fixed_iova_only_with_an_iova() {
    let req = ioas_map_request(IoasId(2), 0x7f00_0000, 0x2000, Some(0x20_0000), 6).unwrap();
    assert_eq!(u32_at(&req, 0), 40);
    assert_eq!(u32_at(&req, 4), IOAS_MAP_FIXED_IOVA | 6);
    assert_eq!(
        (u64_at(&req, 16), u64_at(&req, 24), u64_at(&req, 32)),
        (0x7f00_0000, 0x2000, 0x20_0000)
    );
    let req = ioas_map_request(IoasId(2), 0x7f00_0000, 0x2000, None, IOAS_MAP_READABLE).unwrap();
    assert_eq!(u32_at(&req, 4), IOAS_MAP_READABLE);
    assert_eq!(u64_at(&req, 32), 0);
}

// ---------------------------------------------------------------- IOVA ranges

fn script_ranges(k: &ScriptedKernel, ranges: &'static [(u64, u64)], report: u32) {
    k.on(IOMMU_IOAS_IOVA_RANGES, move |_, call| match call {
        Call::SizedData { arg, data } => {
            let room = u32_at(arg, 8) as usize;
            assert_eq!(data.len(), room * 16, "data is exactly num_iovas entries");
            for (i, (s, l)) in ranges.iter().enumerate().take(room) {
                put64(data, i * 16, *s);
                put64(data, i * 16 + 8, *l);
            }
            put32(arg, 8, report);
            put64(arg, 24, 0x1000);
            if report as usize > room {
                Err(Errno(libc::EMSGSIZE))
            } else {
                Ok(Reply::Value(0))
            }
        }
        _ => Err(Errno::EFAULT),
    });
}

#[test]
fn iova_ranges_asks_the_count_then_exactly_that_many() {
    static RANGES: [(u64, u64); 2] = [(0, 0xfedf_ffff), (0xfef0_0000, 0xffff_ffff_ffff)];
    let k = kernel();
    script_ranges(&k, &RANGES, 2);
    let r = iommufd(&k).ioas_iova_ranges(IoasId(2)).unwrap();
    assert_eq!(r.alignment, 0x1000);
    let got: Vec<_> = r.ranges.iter().map(|r| (r.start, r.last)).collect();
    assert_eq!(got, RANGES);
    let calls = k.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!((calls[0].arg.len(), u32_at(&calls[0].arg, 8)), (32, 0));
    assert_eq!((calls[1].arg.len(), u32_at(&calls[1].arg, 8)), (32, 2));
}

#[test]
fn iova_ranges_reads_only_the_ranges_the_kernel_reports() {
    // The kernel has fewer ranges than the array holds: only those are returned.
    let k = kernel();
    k.on(IOMMU_IOAS_IOVA_RANGES, |_, call| match call {
        Call::SizedData { arg, data } => {
            if u32_at(arg, 8) == 0 {
                put32(arg, 8, 3);
                return Err(Errno(libc::EMSGSIZE));
            }
            data.fill(0xaa); // would show up if read past num_iovas
            put64(data, 0, 0x1000);
            put64(data, 8, 0x1fff);
            put32(arg, 8, 1);
            Ok(Reply::Value(0))
        }
        _ => Err(Errno::EFAULT),
    });
    let r = iommufd(&k).ioas_iova_ranges(IoasId(2)).unwrap();
    assert_eq!(r.ranges.len(), 1);
    assert_eq!((r.ranges[0].start, r.ranges[0].last), (0x1000, 0x1fff));
}

#[test]
fn iova_ranges_bounds_its_retries_and_refuses_inconsistent_counts() {
    // The count grows on every call: bounded.
    let k = kernel();
    k.on(IOMMU_IOAS_IOVA_RANGES, |_, call| match call {
        Call::SizedData { arg, .. } => {
            let n = u32_at(arg, 8);
            put32(arg, 8, n + 1);
            Err(Errno(libc::EMSGSIZE))
        }
        _ => Err(Errno::EFAULT),
    });
    let err = iommufd(&k).ioas_iova_ranges(IoasId(2)).unwrap_err();
    assert!(matches!(err, Error::BadReply { what, .. } if what.contains("growing")));
    assert_eq!(k.calls().len(), 4);

    // EMSGSIZE without a larger count.
    let k = kernel();
    k.on(IOMMU_IOAS_IOVA_RANGES, |_, _| Err(Errno(libc::EMSGSIZE)));
    let err = iommufd(&k).ioas_iova_ranges(IoasId(2)).unwrap_err();
    assert!(matches!(err, Error::BadReply { .. }));
    assert_eq!(k.calls().len(), 1);

    // Success claiming more ranges than the array held.
    let k = kernel();
    k.on(IOMMU_IOAS_IOVA_RANGES, |_, call| match call {
        Call::SizedData { arg, .. } => {
            put32(arg, 8, 5);
            Ok(Reply::Value(0))
        }
        _ => Err(Errno::EFAULT),
    });
    let err = iommufd(&k).ioas_iova_ranges(IoasId(2)).unwrap_err();
    assert!(matches!(err, Error::BadReply { what, .. } if what.contains("num_iovas")));

    // An absurd count is refused before allocating for it.
    let k = kernel();
    k.on(IOMMU_IOAS_IOVA_RANGES, |_, call| match call {
        Call::SizedData { arg, .. } => {
            put32(arg, 8, u32::MAX);
            Err(Errno(libc::EMSGSIZE))
        }
        _ => Err(Errno::EFAULT),
    });
    assert!(matches!(
        iommufd(&k).ioas_iova_ranges(IoasId(2)),
        Err(Error::BadReply { .. })
    ));
    assert_eq!(k.calls().len(), 1);
}

// ---------------------------------------------------------------- GET_HW_INFO

/// QEMU `intel-iommu,x-scalable-mode=on,x-pasid-mode=on` (kernel-tier.md).
const QEMU_CAP: u64 = 0x00d2_008c_222f_0606;
const QEMU_ECAP: u64 = 0x0000_4900_80f0_0f4a;

fn script_vtd(k: &ScriptedKernel, cap: u64, ecap: u64, caps: u64, pasid_log2: u8) {
    k.on(IOMMU_GET_HW_INFO, move |_, call| match call {
        Call::SizedData { arg, data } => {
            assert_eq!(arg.len(), 40);
            assert_eq!(u32_at(arg, 8), 1, "dev_id");
            data.fill(0xaa); // past data_len: must not be read
            put32(data, 0, 1); // ERRATA_772415_SPR17
            put32(data, 4, 0);
            put64(data, 8, cap);
            put64(data, 16, ecap);
            put32(arg, 12, 24);
            put32(arg, 24, HW_INFO_TYPE_INTEL_VTD);
            arg[28] = pasid_log2;
            put64(arg, 32, caps);
            Ok(Reply::Value(0))
        }
        _ => Err(Errno::EFAULT),
    });
}

#[test]
fn hw_info_decodes_vtd_and_reads_only_data_len_bytes() {
    let k = kernel();
    script_vtd(&k, QEMU_CAP, QEMU_ECAP, 0b110, 20);
    let info = iommufd(&k).hw_info(DevId(1)).unwrap();
    assert_eq!(info.data_type, HW_INFO_TYPE_INTEL_VTD);
    assert_eq!(info.data.len(), 24);
    assert!(!info.data.contains(&0xaa));
    assert_eq!(info.vtd_flags, Some(1));
    assert_eq!(info.max_pasid_log2, 20);
    assert_eq!(
        info.capabilities,
        HwCapabilities::PCI_PASID_EXEC | HwCapabilities::PCI_PASID_PRIV
    );
    let vtd = info.vtd.unwrap();
    assert_eq!(vtd, VtdCapabilities::decode(QEMU_CAP, QEMU_ECAP));
    assert!(vtd.scalable_mode && vtd.pasid && vtd.second_level);
    assert!(!vtd.nesting && !vtd.first_level);
    assert_eq!(vtd.max_guest_address_width, 48);
    assert_eq!(info.smmuv3_idr, None);
    // The request: the 40-byte header (out_capabilities), data_len = the buffer.
    let c = &k.calls()[0];
    assert_eq!((c.arg.len(), u32_at(&c.arg, 0)), (40, 40));
    assert_eq!(u32_at(&c.arg, 4), 0, "no INPUT_TYPE flag");
    assert!(u32_at(&c.arg, 12) >= 24);
}

#[test]
fn hw_info_decodes_nesting_and_pasid_width() {
    let k = kernel();
    // NEST (26), PASID (40), PSS 19 (35..39), SRS (31), FLTS (47), SMTS (43).
    let ecap = (1 << 26) | (1 << 40) | (19 << 35) | (1 << 31) | (1 << 47) | (1 << 43);
    script_vtd(&k, 0, ecap, 0, 0);
    let vtd = iommufd(&k).hw_info(DevId(1)).unwrap().vtd.unwrap();
    assert!(vtd.nesting && vtd.pasid && vtd.supervisor_requests && vtd.first_level);
    assert_eq!(vtd.pasid_bits, 20);
    assert_eq!(vtd.ecap_reg, ecap);
}

#[test]
fn hw_info_from_a_v66_kernel_has_no_capabilities() {
    // A v6.6 kernel writes back only its 32 bytes: out_capabilities stays zero.
    let k = kernel();
    k.on(IOMMU_GET_HW_INFO, |_, call| match call {
        Call::SizedData { arg, data } => {
            put64(data, 8, QEMU_CAP);
            put64(data, 16, QEMU_ECAP);
            put32(arg, 12, 24);
            put32(arg, 24, HW_INFO_TYPE_INTEL_VTD);
            Ok(Reply::Value(0))
        }
        _ => Err(Errno::EFAULT),
    });
    let info = iommufd(&k).hw_info(DevId(1)).unwrap();
    assert!(info.capabilities.is_empty());
    assert_eq!(info.max_pasid_log2, 0);
    assert!(info.vtd.unwrap().pasid);
}

#[test]
fn hw_info_grows_its_buffer_to_the_kernels_data_len() {
    let k = kernel();
    k.on(IOMMU_GET_HW_INFO, |_, call| match call {
        Call::SizedData { arg, data } => {
            let room = u32_at(arg, 12) as usize;
            assert_eq!(data.len(), room);
            let n = data.len().min(100);
            data[..n].fill(0x5a);
            put32(arg, 12, 100);
            put32(arg, 24, 9); // a type vsva does not decode
            Ok(Reply::Value(0))
        }
        _ => Err(Errno::EFAULT),
    });
    let info = iommufd(&k).hw_info(DevId(1)).unwrap();
    assert_eq!(info.data, vec![0x5a; 100]);
    assert_eq!((info.vtd, info.smmuv3_idr), (None, None));
    let calls = k.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(u32_at(&calls[1].arg, 12), 100);
}

#[test]
fn hw_info_decodes_smmuv3_idrs_and_refuses_short_data() {
    let k = kernel();
    k.on(IOMMU_GET_HW_INFO, |_, call| match call {
        Call::SizedData { arg, data } => {
            for i in 0..6 {
                put32(data, 8 + 4 * i, 0x100 + i as u32);
            }
            put32(arg, 12, 40);
            put32(arg, 24, HW_INFO_TYPE_ARM_SMMUV3);
            Ok(Reply::Value(0))
        }
        _ => Err(Errno::EFAULT),
    });
    let info = iommufd(&k).hw_info(DevId(1)).unwrap();
    assert_eq!(
        info.smmuv3_idr,
        Some([0x100, 0x101, 0x102, 0x103, 0x104, 0x105])
    );
    assert_eq!(info.vtd, None);
    // IDR0 0x100: bit 8 only (no stage 1/2); IDR1 0x101: SIDSIZE 1, SSIDSIZE 4;
    // IDR5 0x105: OAS 5 (48 bits), no granule bits.
    let smmu = info.smmuv3.expect("decoded");
    assert!(!smmu.nesting());
    assert_eq!((smmu.stream_id_bits, smmu.substream_id_bits), (1, 4));
    assert_eq!(smmu.output_address_bits, 48);

    let k = kernel();
    k.on(IOMMU_GET_HW_INFO, |_, call| match call {
        Call::SizedData { arg, .. } => {
            put32(arg, 12, 32); // shorter than iommu_hw_info_arm_smmuv3
            put32(arg, 24, HW_INFO_TYPE_ARM_SMMUV3);
            Ok(Reply::Value(0))
        }
        _ => Err(Errno::EFAULT),
    });
    assert!(matches!(
        iommufd(&k).hw_info(DevId(1)),
        Err(Error::BadReply { what, .. }) if what.contains("SMMUv3")
    ));
}

#[test]
fn hw_info_refuses_a_reply_with_reserved_bytes_set() {
    let k = kernel();
    k.on(IOMMU_GET_HW_INFO, |_, call| match call {
        Call::SizedData { arg, .. } => {
            arg[30] = 1; // __reserved
            Ok(Reply::Value(0))
        }
        _ => Err(Errno::EFAULT),
    });
    assert!(matches!(iommufd(&k).hw_info(DevId(1)), Err(Error::Uapi(_))));
}

// ---------------------------------------------------------------- HWPT_ALLOC

fn script_hwpt(k: &ScriptedKernel) {
    k.on(IOMMU_HWPT_ALLOC, |_, call| {
        let arg = match call {
            Call::Sized(arg) => arg,
            Call::SizedData { arg, data } => {
                assert_eq!(data.len(), u32_at(arg, 28) as usize);
                arg
            }
            _ => return Err(Errno::EFAULT),
        };
        put32(arg, 16, 7);
        Ok(Reply::Value(0))
    });
}

#[test]
fn hwpt_alloc_sends_24_bytes_without_data_or_fault() {
    let k = kernel();
    script_hwpt(&k);
    let f = iommufd(&k);
    let req = HwptAllocRequest::new(DevId(1), IoasId(2))
        .nest_parent()
        .dirty_tracking();
    assert_eq!(f.hwpt_alloc(&req), Ok(HwptId(7)));
    let c = &k.calls()[0];
    assert_eq!((c.arg.len(), u32_at(&c.arg, 0)), (24, 24));
    let flags = HwptAllocFlags::NEST_PARENT | HwptAllocFlags::DIRTY_TRACKING;
    assert_eq!(u32_at(&c.arg, 4), flags.bits());
    assert_eq!((u32_at(&c.arg, 8), u32_at(&c.arg, 12)), (1, 2));
}

#[test]
fn hwpt_alloc_sends_40_bytes_with_vtd_s1_data() {
    let k = kernel();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let s = Arc::clone(&seen);
    k.on(IOMMU_HWPT_ALLOC, move |_, call| match call {
        Call::SizedData { arg, data } => {
            s.lock().unwrap().extend_from_slice(data);
            put32(arg, 16, 8);
            Ok(Reply::Value(0))
        }
        _ => Err(Errno::EFAULT),
    });
    let mut s1 = HwptVtdS1::new_zeroed();
    s1.flags = 1; // SRE
    s1.pgtbl_addr = 0x1234_5000;
    s1.addr_width = 48;
    let req = HwptAllocRequest::new(DevId(1), HwptId(3)).data(HwptData::VtdS1(s1));
    assert_eq!(iommufd(&k).hwpt_alloc(&req), Ok(HwptId(8)));
    let c = &k.calls()[0];
    assert_eq!((c.arg.len(), u32_at(&c.arg, 0)), (40, 40));
    assert_eq!(
        (u32_at(&c.arg, 24), u32_at(&c.arg, 28)),
        (HWPT_DATA_VTD_S1, 24)
    );
    assert_eq!(u32_at(&c.arg, 12), 3, "parent HWPT");
    assert_eq!(&*seen.lock().unwrap(), s1.as_bytes());
}

#[test]
fn hwpt_alloc_sends_48_bytes_with_a_fault_queue() {
    let k = kernel();
    script_hwpt(&k);
    let f = iommufd(&k);
    let req = HwptAllocRequest::new(DevId(1), IoasId(2)).fault(FaultId(4));
    assert_eq!(f.hwpt_alloc(&req), Ok(HwptId(7)));
    let smmu = HwptAllocRequest::new(DevId(1), HwptId(3))
        .fault(FaultId(4))
        .data(HwptData::ArmSmmuv3(vec![1; 16]));
    assert_eq!(f.hwpt_alloc(&smmu), Ok(HwptId(7)));
    let calls = k.calls();
    for c in &calls {
        assert_eq!((c.arg.len(), u32_at(&c.arg, 0)), (48, 48));
        assert_eq!(u32_at(&c.arg, 4), HwptAllocFlags::FAULT_ID_VALID.bits());
        assert_eq!(u32_at(&c.arg, 40), 4, "fault_id");
    }
    assert_eq!(u32_at(&calls[0].arg, 24), 0, "no data type");
    assert_eq!(
        (u32_at(&calls[1].arg, 24), u32_at(&calls[1].arg, 28)),
        (HWPT_DATA_ARM_SMMUV3, 16)
    );
}

// ---------------------------------------------------------------- HWPT_INVALIDATE

fn entries(n: usize) -> Vec<HwptVtdS1Invalidate> {
    (0..n)
        .map(|i| {
            let mut e = HwptVtdS1Invalidate::new_zeroed();
            e.addr = 0x1000 * (i as u64 + 1);
            e.npages = 1;
            e
        })
        .collect()
}

/// The kernel handles `ok` entries, then fails with `errno` (or succeeds if `None`).
fn script_invalidate(k: &ScriptedKernel, ok: u32, errno: Option<Errno>) {
    k.on(IOMMU_HWPT_INVALIDATE, move |_, call| match call {
        Call::SizedData { arg, data } => {
            assert_eq!(data.len(), 24 * u32_at(arg, 24) as usize);
            put32(arg, 24, ok);
            errno.map_or(Ok(Reply::Value(0)), Err)
        }
        _ => Err(Errno::EFAULT),
    });
}

#[test]
fn hwpt_invalidate_reports_all_entries_handled() {
    let k = kernel();
    script_invalidate(&k, 3, None);
    assert_eq!(iommufd(&k).hwpt_invalidate(HwptId(5), &entries(3)), Ok(3));
    let c = &k.calls()[0];
    assert_eq!((c.arg.len(), u32_at(&c.arg, 0)), (32, 32));
    assert_eq!(u32_at(&c.arg, 4), 5, "hwpt_id");
    assert_eq!(u32_at(&c.arg, 16), HWPT_INVALIDATE_DATA_VTD_S1);
    assert_eq!((u32_at(&c.arg, 20), u32_at(&c.arg, 24)), (24, 3));
}

#[test]
fn hwpt_invalidate_reports_a_partial_run_with_its_error() {
    let k = kernel();
    script_invalidate(&k, 2, Some(Errno::EINVAL));
    let (handled, err) = iommufd(&k)
        .hwpt_invalidate(HwptId(5), &entries(3))
        .unwrap_err();
    assert_eq!(handled, 2);
    assert_eq!(
        err,
        Error::Ioctl {
            op: "IOMMU_HWPT_INVALIDATE",
            errno: Errno::EINVAL
        }
    );
}

#[test]
fn hwpt_invalidate_never_claims_more_than_handled() {
    // The kernel failed before the entries and left entry_num as sent: 0 handled.
    let k = kernel();
    script_invalidate(&k, 3, Some(Errno::ENOENT));
    let (handled, err) = iommufd(&k)
        .hwpt_invalidate(HwptId(5), &entries(3))
        .unwrap_err();
    assert_eq!((handled, err.errno()), (0, Errno::ENOENT));
    // A count past the entries sent is malformed.
    let k = kernel();
    script_invalidate(&k, 4, None);
    let (handled, err) = iommufd(&k)
        .hwpt_invalidate(HwptId(5), &entries(3))
        .unwrap_err();
    assert_eq!(handled, 0);
    assert!(matches!(err, Error::BadReply { .. }));
}

#[test]
fn hwpt_invalidate_with_no_entries_is_a_probe() {
    let k = kernel();
    script_invalidate(&k, 0, None);
    assert_eq!(iommufd(&k).hwpt_invalidate(HwptId(5), &[]), Ok(0));
    assert_eq!(u32_at(&k.calls()[0].arg, 24), 0);
}

// ---------------------------------------------------------------- fault queue

/// Scripts FAULT_QUEUE_ALLOC like the kernel: the fd is installed and its number
/// written to `out_fault_fd`.
fn script_fault_alloc(k: &ScriptedKernel) -> i32 {
    k.add_path(FAULT_PATH);
    let raw = k.open(Path::new(FAULT_PATH), true).unwrap();
    on_sized(k, IOMMU_FAULT_QUEUE_ALLOC, move |a| {
        put32(a, 8, 11);
        put32(a, 12, raw as u32);
    });
    raw
}

fn fault_record(i: u32) -> HwptPgfault {
    let mut f = HwptPgfault::new_zeroed();
    f.flags = 1;
    f.dev_id = 1;
    f.pasid = 5;
    f.grpid = i;
    f.perm = 3;
    f.addr = 0x4000 * u64::from(i);
    f.cookie = 100 + i;
    f
}

#[test]
fn fault_queue_reads_whole_records_and_closes_its_fd() {
    let k = kernel();
    let raw = script_fault_alloc(&k);
    let f = iommufd(&k);
    let q = f.fault_queue_alloc().unwrap();
    assert_eq!((q.id, q.fd.raw()), (FaultId(11), raw));
    assert_eq!(k.calls()[0].arg.len(), 16);
    k.on_read(FAULT_PATH, |buf, off| {
        assert_eq!(off, None);
        let recs = [fault_record(1), fault_record(2)];
        let bytes = recs.as_bytes();
        buf[..bytes.len()].copy_from_slice(bytes);
        Ok(bytes.len())
    });
    let mut buf = [0u8; 160];
    let faults = q.read_faults(&mut buf).unwrap();
    assert_eq!(faults, vec![fault_record(1), fault_record(2)]);
    drop(q);
    assert!(k.closed().contains(&raw));
}

#[test]
fn fault_queue_refuses_partial_records() {
    let k = kernel();
    script_fault_alloc(&k);
    let q = iommufd(&k).fault_queue_alloc().unwrap();
    k.on_read(FAULT_PATH, |_, _| Ok(60)); // one record and a half
    let mut buf = [0u8; 80];
    assert!(matches!(
        q.read_faults(&mut buf),
        Err(Error::BadReply { what, .. }) if what.contains("partial")
    ));
    k.on_read(FAULT_PATH, |_, _| Ok(120)); // more than the buffer
    assert!(matches!(
        q.read_faults(&mut buf),
        Err(Error::BadReply { .. })
    ));
    k.on_read(FAULT_PATH, |_, _| Err(Errno::EAGAIN));
    assert_eq!(q.read_faults(&mut buf).unwrap_err().errno(), Errno::EAGAIN);
    k.on_read(FAULT_PATH, |_, _| Ok(0));
    assert_eq!(q.read_faults(&mut buf), Ok(vec![]));
}

#[test]
fn fault_queue_responds_in_whole_records() {
    let k = kernel();
    script_fault_alloc(&k);
    let q = iommufd(&k).fault_queue_alloc().unwrap();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let s = Arc::clone(&seen);
    k.on_write(FAULT_PATH, move |b, _| {
        s.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    });
    let resp = [
        HwptPageResponse {
            cookie: 101,
            code: 0,
        },
        HwptPageResponse {
            cookie: 102,
            code: 1,
        },
    ];
    assert_eq!(q.respond(&resp), Ok(2));
    assert_eq!(&*seen.lock().unwrap(), resp.as_bytes());
    k.on_write(FAULT_PATH, |_, _| Ok(8)); // took the first only
    assert_eq!(q.respond(&resp), Ok(1));
    k.on_write(FAULT_PATH, |_, _| Ok(12));
    assert!(matches!(q.respond(&resp), Err(Error::BadReply { .. })));
    k.on_write(FAULT_PATH, |_, _| Err(Errno::EINVAL)); // unknown cookie
    assert_eq!(q.respond(&resp).unwrap_err().errno(), Errno::EINVAL);
}

#[test]
fn fault_queue_alloc_refuses_a_negative_fd() {
    let k = kernel();
    on_sized(&k, IOMMU_FAULT_QUEUE_ALLOC, |a| put32(a, 12, u32::MAX));
    let f = iommufd(&k);
    assert!(matches!(f.fault_queue_alloc(), Err(Error::BadReply { .. })));
    assert_eq!(k.open_fds(), 1, "only the iommufd");
}

// ---------------------------------------------------------------- cdev

#[test]
fn bind_sends_16_bytes_with_the_iommufd_and_returns_the_devid() {
    let k = kernel();
    on_sized(&k, VFIO_DEVICE_BIND_IOMMUFD, |a| put32(a, 12, 1));
    let (f, d) = (iommufd(&k), cdev(&k));
    assert_eq!(d.bind(&f), Ok(DevId(1)));
    let c = &k.calls()[0];
    assert_eq!(c.path, Path::new(CDEV));
    assert_eq!((c.arg.len(), u32_at(&c.arg, 0)), (16, 16));
    assert_eq!(u32_at(&c.arg, 4), 0, "no token flag");
    assert_eq!(u32_at(&c.arg, 8) as i32, f.fd().raw());
}

#[test]
fn attach_sends_12_bytes_without_pasid_and_16_with() {
    let k = kernel();
    on_sized(&k, VFIO_DEVICE_ATTACH_IOMMUFD_PT, |a| {
        let pt = u32_at(a, 8);
        put32(a, 8, if pt == 2 { 3 } else { pt }); // IOAS 2 → auto HWPT 3
    });
    let d = cdev(&k);
    assert_eq!(d.attach(IoasId(2)), Ok(HwptId(3)));
    assert_eq!(d.attach_pasid(0x42, HwptId(9)), Ok(HwptId(9)));
    let calls = k.calls();
    assert_eq!((calls[0].arg.len(), u32_at(&calls[0].arg, 0)), (12, 12));
    assert_eq!(u32_at(&calls[0].arg, 4), 0);
    assert_eq!((calls[1].arg.len(), u32_at(&calls[1].arg, 0)), (16, 16));
    assert_eq!(u32_at(&calls[1].arg, 4), 1, "VFIO_DEVICE_ATTACH_PASID");
    assert_eq!(
        (u32_at(&calls[1].arg, 8), u32_at(&calls[1].arg, 12)),
        (9, 0x42)
    );
}

#[test]
fn attach_pasid_on_a_kernel_without_it_is_reported_as_such() {
    for errno in [Errno::EINVAL, Errno::EOPNOTSUPP] {
        let k = kernel();
        // A pre-PASID kernel: flags must be 0 (EINVAL); a driver without PASID attach:
        // EOPNOTSUPP. The plain attach still works.
        k.on(VFIO_DEVICE_ATTACH_IOMMUFD_PT, move |_, call| match call {
            Call::Sized(a) if u32_at(a, 4) != 0 => Err(errno),
            Call::Sized(_) => Ok(Reply::Value(0)),
            _ => Err(Errno::EFAULT),
        });
        let d = cdev(&k);
        let err = d.attach_pasid(1, HwptId(3)).unwrap_err();
        assert_eq!(err.errno(), errno);
        assert!(
            err.to_string().contains("VFIO_DEVICE_ATTACH_PASID"),
            "{err}"
        );
        assert_eq!(d.attach(HwptId(3)), Ok(HwptId(3)));
    }
}

#[test]
fn detach_sends_8_bytes_without_pasid_and_12_with() {
    let k = kernel();
    on_sized(&k, VFIO_DEVICE_DETACH_IOMMUFD_PT, |_| {});
    let d = cdev(&k);
    d.detach().unwrap();
    d.detach_pasid(0x42).unwrap();
    let calls = k.calls();
    assert_eq!(calls[0].arg, [8, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!((calls[1].arg.len(), u32_at(&calls[1].arg, 0)), (12, 12));
    assert_eq!(
        (u32_at(&calls[1].arg, 4), u32_at(&calls[1].arg, 8)),
        (1, 0x42)
    );
}

#[test]
fn the_cdev_reaches_its_device_info_and_regions_through_the_same_fd() {
    let k = kernel();
    let d = cdev(&k);
    k.on(
        vsva_uapi::vfio_core::VFIO_DEVICE_GET_INFO,
        |_, call| match call {
            Call::Sized(arg) => {
                arg[4..8].copy_from_slice(&2u32.to_ne_bytes()); // VFIO_DEVICE_FLAGS_PCI
                arg[8..12].copy_from_slice(&9u32.to_ne_bytes());
                arg[12..16].copy_from_slice(&5u32.to_ne_bytes());
                Ok(Reply::Value(0))
            }
            _ => Err(Errno::EFAULT),
        },
    );
    let info = d.device().info().unwrap();
    assert_eq!((info.num_regions, info.num_irqs), (9, 5));
    let calls = k.calls();
    let last = calls.last().unwrap();
    assert_eq!(last.request, vsva_uapi::vfio_core::VFIO_DEVICE_GET_INFO);
    assert_eq!(last.path, Path::new(CDEV), "sent on the cdev's own fd");
}

/// `IOMMU_HWPT_DATA_SELFTEST` / `IOMMU_HWPT_INVALIDATE_DATA_SELFTEST`: a driver type vsva
/// does not declare (the kernel's mock IOMMU).
const SELFTEST: u32 = 0xdead;

#[test]
fn driver_data_of_an_undeclared_type_is_sent_as_given() {
    let k = kernel();
    k.on(IOMMU_HWPT_ALLOC, |_, call| match call {
        Call::SizedData { arg, data } => {
            assert_eq!((u32_at(arg, 24), u32_at(arg, 28)), (SELFTEST, 4));
            assert_eq!(&data[..], &0x1234u32.to_ne_bytes());
            put32(arg, 16, 7); // out_hwpt_id
            Ok(Reply::Value(0))
        }
        _ => Err(Errno::EFAULT),
    });
    let req = HwptAllocRequest::new(DevId(1), HwptId(2)).data(HwptData::Driver {
        data_type: SELFTEST,
        data: 0x1234u32.to_ne_bytes().to_vec(),
    });
    assert_eq!(iommufd(&k).hwpt_alloc(&req), Ok(HwptId(7)));
}

#[test]
fn invalidate_entries_of_any_driver_type_count_records_by_entry_len() {
    let k = kernel();
    k.on(IOMMU_HWPT_INVALIDATE, |_, call| match call {
        Call::SizedData { arg, data } => {
            assert_eq!((u32_at(arg, 16), u32_at(arg, 20)), (SELFTEST, 8));
            assert_eq!(data.len(), 8 * u32_at(arg, 24) as usize);
            put32(arg, 24, 1); // the second entry is bad
            Err(Errno::EINVAL)
        }
        _ => Err(Errno::EFAULT),
    });
    let f = iommufd(&k);
    let (handled, err) = f
        .hwpt_invalidate_entries(HwptId(5), SELFTEST, 8, &[0u8; 24])
        .unwrap_err();
    assert_eq!((handled, err.errno()), (1, Errno::EINVAL));
    assert_eq!(u32_at(&k.calls()[0].arg, 24), 3, "entry_num = 24 / 8");
    // Not a whole number of records: refused before any call.
    let before = k.calls().len();
    let (handled, err) = f
        .hwpt_invalidate_entries(HwptId(5), SELFTEST, 8, &[0u8; 20])
        .unwrap_err();
    assert_eq!((handled, err.errno()), (0, Errno::EINVAL));
    assert_eq!(k.calls().len(), before);
}
