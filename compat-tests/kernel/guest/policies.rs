//! The size policies, observed on the real kernel and compared with what vsva-uapi predicts
//! for the very same bytes.
//!
//! Each case crafts a struct (a size, a tail, sometimes a flag), sends it raw through
//! [`Kernel::ioctl_sized`] and asks `T::from_user(bytes, policy)` what the kernel should
//! answer. The two must agree, and both must be the errno the kernel is known to give:
//!
//! - iommufd (`copy_struct_from_user`, [`Policy::ZeroTail`]): a larger size with a
//!   non-zero tail is `E2BIG`, with a zero tail accepted, below the minimum `EINVAL`;
//! - VFIO cdev (`vfio_df_ioctl_*`, [`Policy::FlagsXend`]): bytes past what the flags
//!   select are never read, whatever they hold.

use std::sync::Arc;

use vsva_uapi::iommufd::{IoasAlloc, VfioDeviceBindIommufd};
use vsva_uapi::VfioDeviceDetachIommufdPt;
use vsva_uapi::{Errno, HwInfo, Policy, UapiStruct, VfioDeviceAttachIommufdPt};
use vsva_vfio::cdev::{
    CdevDevice, VFIO_DEVICE_ATTACH_IOMMUFD_PT, VFIO_DEVICE_BIND_IOMMUFD,
    VFIO_DEVICE_DETACH_IOMMUFD_PT,
};
use vsva_vfio::iommufd::{Iommufd, IOMMU_GET_HW_INFO, IOMMU_IOAS_ALLOC};
use vsva_vfio::sys::KernelFd;
use vsva_vfio::sys::{prepare_data, DataLen};

use crate::guest::{self, Cdev};
use crate::tier::{self, Need::Before};

/// One crafted struct.
#[derive(Debug, Clone)]
struct Case {
    what: &'static str,
    /// The size field (`size` / `argsz`).
    size: u32,
    /// `(offset, byte)` writes after the size field.
    bytes: &'static [(usize, u8)],
    /// What the 6.12 kernel answers.
    expected: Result<(), Errno>,
}

impl Case {
    /// The user memory: `size` bytes (at least `base`), the base fields from `fill`.
    fn build(&self, base: usize, fill: impl Fn(&mut [u8])) -> Vec<u8> {
        let mut buf = vec![0u8; (self.size as usize).max(base)];
        fill(&mut buf);
        buf[..4].copy_from_slice(&self.size.to_ne_bytes());
        for &(at, b) in self.bytes {
            buf[at] = b;
        }
        buf
    }

    /// Checks the kernel's answer and the prediction against the expectation.
    fn judge(&self, name: &str, kernel: Result<(), Errno>, predicted: Result<(), Errno>) {
        assert_eq!(
            kernel, self.expected,
            "{name} {}: the kernel answered {kernel:?}",
            self.what
        );
        assert_eq!(
            predicted, kernel,
            "{name} {}: vsva-uapi predicts {predicted:?}, the kernel said {kernel:?}",
            self.what
        );
    }
}

/// What vsva-uapi's `policy` says the kernel does with `user`: all the memory readable from
/// the struct's first byte, exactly as sent (a VFIO handler copies its base struct before
/// looking at `argsz`, so a short `argsz` in a full buffer is `EINVAL`, not `EFAULT`).
fn predict<T: UapiStruct>(user: &[u8], policy: Policy) -> Result<(), Errno> {
    T::from_user(user, policy).map(drop).map_err(|e| e.errno())
}

fn sized(fd: &KernelFd, request: u32, arg: &mut [u8]) -> Result<(), Errno> {
    crate::sys::raw_sized(fd, request, arg).map(drop)
}

const fn ok(what: &'static str, size: u32, bytes: &'static [(usize, u8)]) -> Case {
    Case {
        what,
        size,
        bytes,
        expected: Ok(()),
    }
}

const fn err(what: &'static str, size: u32, bytes: &'static [(usize, u8)], errno: Errno) -> Case {
    Case {
        what,
        size,
        bytes,
        expected: Err(errno),
    }
}

#[test]
fn iommufd_ioas_alloc_follows_zero_tail() {
    guest::require_guest();
    let iommufd = Iommufd::open(guest::kernel()).unwrap();
    let fd = iommufd.fd();
    let cases = [
        ok("exact size", 12, &[]),
        ok("larger, zero tail", 16, &[]),
        ok("much larger, zero tail", 256, &[]),
        ok("a page, zero tail", 4096, &[]),
        err("larger, non-zero tail", 16, &[(12, 1)], Errno::E2BIG),
        err(
            "much larger, last byte set",
            256,
            &[(255, 0xff)],
            Errno::E2BIG,
        ),
        err("below the minimum", 8, &[], Errno::EINVAL),
        err("size field only", 4, &[], Errno::EINVAL),
        err("unknown flag", 12, &[(4, 1)], Errno::EOPNOTSUPP),
    ];
    for case in &cases {
        let mut buf = case.build(12, |_| {});
        let predicted = predict::<IoasAlloc>(&buf, Policy::ZeroTail);
        let kernel = sized(fd, IOMMU_IOAS_ALLOC, &mut buf);
        case.judge("IOMMU_IOAS_ALLOC", kernel, predicted);
        if kernel.is_ok() {
            let id = u32::from_ne_bytes(buf[8..12].try_into().unwrap());
            iommufd
                .destroy(id)
                .expect("destroy the IOAS a case allocated");
        }
    }
}

#[test]
fn iommufd_past_a_page_the_kernel_accepts_a_zero_tail_and_vsva_caps_it() {
    guest::require_guest();
    // copy_struct_from_user has no upper bound: iommufd takes any size with a zero tail.
    // vsva-uapi's ZeroTail applies the kernel-doc's callers' `usize > PAGE_SIZE` cap to
    // every struct (decl.rs), so it is stricter here, on purpose: this pins the difference.
    let iommufd = Iommufd::open(guest::kernel()).unwrap();
    for size in [4097u32, 8192, 65536] {
        let mut buf = vec![0u8; size as usize];
        buf[..4].copy_from_slice(&size.to_ne_bytes());
        let predicted = predict::<IoasAlloc>(&buf, Policy::ZeroTail);
        assert_eq!(predicted, Err(Errno::E2BIG), "size {size}");
        assert_eq!(Policy::ZeroTail.argsz_cap(), Some(4096));
        let kernel = sized(iommufd.fd(), IOMMU_IOAS_ALLOC, &mut buf);
        assert_eq!(
            kernel,
            Ok(()),
            "IOMMU_IOAS_ALLOC of {size} bytes, zero tail"
        );
        let id = u32::from_ne_bytes(buf[8..12].try_into().unwrap());
        iommufd.destroy(id).unwrap();
        // A non-zero byte anywhere past the struct: E2BIG from both.
        let mut buf = vec![0u8; size as usize];
        buf[..4].copy_from_slice(&size.to_ne_bytes());
        buf[size as usize - 1] = 1;
        assert_eq!(
            sized(iommufd.fd(), IOMMU_IOAS_ALLOC, &mut buf),
            Err(Errno::E2BIG)
        );
        assert_eq!(
            predict::<IoasAlloc>(&buf, Policy::ZeroTail),
            Err(Errno::E2BIG)
        );
    }
}

#[test]
fn iommufd_get_hw_info_follows_zero_tail() {
    guest::require_guest();
    let s = Cdev::open(&guest::edu());
    let fd = s.iommufd.fd();
    let dev_id = s.dev_id.0;
    let cases = [
        ok("v6.6 size (32)", 32, &[]),
        ok("v6.7 size (40)", 40, &[]),
        ok("larger, zero tail", 48, &[]),
        ok("much larger, zero tail", 512, &[]),
        err("larger, non-zero tail", 48, &[(44, 0x80)], Errno::E2BIG),
        err("much larger, last byte set", 512, &[(511, 1)], Errno::E2BIG),
        err("below the minimum (32)", 24, &[], Errno::EINVAL),
        err("reserved byte set", 40, &[(29, 1)], Errno::EOPNOTSUPP),
    ];
    for case in &cases {
        let mut data = vec![0u8; 64];
        let mut buf = case.build(16, |b| {
            b[8..12].copy_from_slice(&dev_id.to_ne_bytes());
            b[12..16].copy_from_slice(&64u32.to_ne_bytes());
        });
        let len = DataLen::Bytes { at: 12 };
        // The exact bytes the kernel will see: data_uptr pointing at `data`.
        prepare_data(&mut buf, 16, len, data.as_mut_ptr() as u64, data.len())
            .expect("a well-formed data request");
        let predicted = predict::<HwInfo>(&buf, Policy::ZeroTail);
        let kernel = crate::sys::raw_sized_data(fd, IOMMU_GET_HW_INFO, &mut buf, 16, len, &mut data)
            .map(drop);
        case.judge("IOMMU_GET_HW_INFO", kernel, predicted);
        if kernel.is_ok() {
            assert_eq!(u32::from_ne_bytes(buf[12..16].try_into().unwrap()), 24);
            assert_eq!(
                u32::from_ne_bytes(buf[24..28].try_into().unwrap()),
                1,
                "VT-d"
            );
        }
    }
}

#[test]
fn vfio_cdev_attach_and_detach_ignore_bytes_past_the_flags_end() {
    guest::require_guest();
    let s = Cdev::open(&guest::edu());
    let fd = s.cdev.fd();
    let ioas = s.iommufd.ioas_alloc().unwrap();
    let garbage: &[(usize, u8)] = &[(12, 0xde), (13, 0xad), (14, 0xbe), (15, 0xef)];
    let attach = [
        ok("v6.6 size (12)", 12, &[]),
        ok("v6.13 size, no PASID flag, garbage pasid", 16, garbage),
        ok(
            "much larger, garbage tail",
            64,
            &[(12, 0xff), (40, 0xff), (63, 0xff)],
        ),
        err("below the minimum (12)", 8, &[], Errno::EINVAL),
        err("unknown flag", 12, &[(4, 2)], Errno::EINVAL),
    ];
    for case in &attach {
        let mut buf = case.build(12, |b| b[8..12].copy_from_slice(&ioas.0.to_ne_bytes()));
        let predicted = predict::<VfioDeviceAttachIommufdPt>(&buf, Policy::FlagsXend);
        let kernel = sized(fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &mut buf);
        case.judge("VFIO_DEVICE_ATTACH_IOMMUFD_PT", kernel, predicted);
        if kernel.is_ok() {
            // Nothing past pt_id was written back either.
            assert_eq!(buf[12..], case.build(12, |_| {})[12..], "{}", case.what);
            s.cdev.detach().unwrap();
        }
    }

    let detach = [
        ok("v6.6 size (8)", 8, &[]),
        ok(
            "v6.13 size, no PASID flag, garbage pasid",
            12,
            &[(8, 0x5a), (11, 0xa5)],
        ),
        ok("much larger, garbage tail", 64, &[(8, 0xff), (63, 0xff)]),
        err("size field only", 4, &[], Errno::EINVAL),
        err("unknown flag", 8, &[(4, 2)], Errno::EINVAL),
    ];
    for case in &detach {
        s.cdev.attach(ioas).unwrap();
        let mut buf = case.build(8, |_| {});
        let predicted = predict::<VfioDeviceDetachIommufdPt>(&buf, Policy::FlagsXend);
        let kernel = sized(fd, VFIO_DEVICE_DETACH_IOMMUFD_PT, &mut buf);
        case.judge("VFIO_DEVICE_DETACH_IOMMUFD_PT", kernel, predicted);
        if kernel.is_err() {
            s.cdev.detach().unwrap();
        }
    }
    s.iommufd.destroy(ioas).unwrap();
}

#[test]
fn vfio_cdev_bind_ignores_bytes_past_the_flags_end() {
    if !tier::applies(&[Before(
        6,
        17,
        "VFIO_DEVICE_BIND_IOMMUFD grew to 24 bytes in 6.17 and answers E2BIG for \
         a non-zero tail",
    )]) {
        return;
    }
    let dev = guest::edu();
    let k = guest::kernel();
    let iommufd = Iommufd::open(Arc::clone(&k)).unwrap();
    let raw_iommufd = iommufd.fd().raw() as u32;
    let bind = [
        ok("v6.6 size (16)", 16, &[]),
        ok(
            "vf-token size, no TOKEN flag, garbage pointer",
            24,
            &[(16, 0xff), (23, 0xff)],
        ),
        ok("much larger, garbage tail", 128, &[(16, 1), (127, 1)]),
        err("below the minimum (16)", 12, &[], Errno::EINVAL),
    ];
    for case in &bind {
        // One bind per open cdev: a fresh one for each case.
        let cdev = CdevDevice::open(Arc::clone(&k), dev.cdev_path()).unwrap();
        let mut buf = case.build(16, |b| b[8..12].copy_from_slice(&raw_iommufd.to_ne_bytes()));
        let predicted = predict::<VfioDeviceBindIommufd>(&buf, Policy::FlagsXend);
        let kernel = sized(cdev.fd(), VFIO_DEVICE_BIND_IOMMUFD, &mut buf);
        case.judge("VFIO_DEVICE_BIND_IOMMUFD", kernel, predicted);
        if kernel.is_ok() {
            assert_ne!(
                u32::from_ne_bytes(buf[12..16].try_into().unwrap()),
                0,
                "out_devid"
            );
        }
    }
}
