//! The kernel's rules, observed on the real kernel and compared with what vsva-uapi
//! predicts for the very same bytes **at the release this boot runs**
//! ([`Rules::kernel`] of the booted kernel's release: 6.12 or 7.3).
//!
//! Each case crafts a struct (a size, a tail, a flag, a reserved field, a field the
//! handler checks in its own order), sends it raw through `ioctl` and asks
//! `T::decode_with(bytes, policy, None, Rules::kernel(booted))` what the kernel should
//! answer. A predicted refusal must be the kernel's errno exactly; a predicted acceptance
//! means the kernel gets past its own checks of the struct, to success or to a refusal
//! that needs more than the bytes (an object lookup, the driver), which the case names.
//! vsva's own strictness (`Rules::VSVA`) is not compared: it is stricter on purpose.
//! The structs: every iommufd and VFIO cdev struct the emulated VT-d can take
//! (`IOMMU_IOAS_ALLOC`, `IOMMU_IOAS_UNMAP`, `IOMMU_DESTROY`, `IOMMU_GET_HW_INFO`,
//! `IOMMU_HWPT_ALLOC`, `IOMMU_HWPT_INVALIDATE`, `VFIO_DEVICE_BIND/ATTACH/DETACH_IOMMUFD_PT`);
//! the size policies among them:
//!
//! - iommufd (`copy_struct_from_user`, [`Policy::ZeroTail`]): a larger size with a
//!   non-zero tail is `E2BIG`, with a zero tail accepted, below the minimum `EINVAL`;
//! - VFIO cdev (`vfio_df_ioctl_*`, [`Policy::FlagsXend`]): bytes past what the flags
//!   select are never read, whatever they hold.

use std::sync::Arc;

use vsva_uapi::ioctl::{self, Ioctl};
use vsva_uapi::iommufd::IoasAlloc;
use vsva_uapi::{Errno, HwInfo, Policy, Release, Rules, UapiStruct};
use vsva_vfio::cdev::CdevDevice;
use vsva_vfio::iommufd::{Iommufd, IOMMU_IOAS_ALLOC};
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

    /// Sends `buf` through the declared `ioctl` ([`ask`]) and checks both answers
    /// against the expectation; returns the kernel's.
    fn run<T: UapiStruct>(&self, fd: &KernelFd, ioctl: &Ioctl<T>, buf: &mut [u8]) -> KResult {
        let (kernel, predicted) = ask(fd, ioctl, buf);
        self.judge(ioctl.name(), kernel, predicted);
        kernel
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

const EINVAL: Errno = Errno::EINVAL;
const ENOENT: Errno = Errno::ENOENT;
const EOPNOTSUPP: Errno = Errno::EOPNOTSUPP;

/// The release this boot runs, as vsva-uapi names it.
fn booted() -> Release {
    let text = std::fs::read_to_string("/proc/sys/kernel/osrelease").expect("osrelease");
    Release::parse(&text).unwrap_or_else(|e| panic!("kernel {text:?}: {e}"))
}

/// What vsva-uapi says this boot's kernel does with `user` under `policy`: all the memory
/// readable from the struct's first byte, exactly as sent (a VFIO handler copies its base
/// struct before looking at `argsz`, so a short `argsz` in a full buffer is `EINVAL`, not
/// `EFAULT`).
fn predict<T: UapiStruct>(user: &[u8], policy: Policy) -> Result<(), Errno> {
    T::decode_with(user, policy, None, Rules::kernel(booted()))
        .map(drop)
        .map_err(|e| e.errno())
}

/// One crafted struct of the per-release comparison: `bytes` written over a valid base
/// of `size` bytes, and the refusals the kernel may give after its own checks of the
/// struct pass (object lookups, the driver) when vsva predicts acceptance.
#[derive(Clone, Copy)]
struct Probe {
    what: &'static str,
    size: u32,
    bytes: &'static [(usize, u32)],
    after: &'static [Errno],
}

const fn probe(
    what: &'static str,
    size: u32,
    bytes: &'static [(usize, u32)],
    after: &'static [Errno],
) -> Probe {
    Probe {
        what,
        size,
        bytes,
        after,
    }
}

impl Probe {
    /// The user memory: the base (`base` bytes, at least `size`) with the size field and
    /// the `u32` writes of the probe.
    fn build(&self, base: &[u8]) -> Vec<u8> {
        let mut buf = base.to_vec();
        buf.resize((self.size as usize).max(base.len()), 0);
        buf[..4].copy_from_slice(&self.size.to_ne_bytes());
        for &(at, v) in self.bytes {
            buf[at..at + 4].copy_from_slice(&v.to_ne_bytes());
        }
        buf
    }

    /// Sends `buf` through the declared `ioctl` ([`ask`]) and checks that the kernel's
    /// answer agrees with the prediction; returns the kernel's.
    fn run<T: UapiStruct>(&self, fd: &KernelFd, ioctl: &Ioctl<T>, buf: &mut [u8]) -> KResult {
        let (kernel, predicted) = ask(fd, ioctl, buf);
        self.judge(ioctl.name(), kernel, predicted);
        kernel
    }

    /// The kernel's answer agrees with the prediction: the same refusal, or past the
    /// struct's checks (success or one of `after`).
    fn judge(&self, name: &str, kernel: Result<(), Errno>, predicted: Result<(), Errno>) {
        let release = booted();
        match predicted {
            Err(p) => assert_eq!(
                kernel,
                Err(p),
                "{name} {} on {release}: vsva-uapi predicts {p}, the kernel said {kernel:?}",
                self.what
            ),
            Ok(()) => assert!(
                kernel.is_ok() || kernel.is_err_and(|e| self.after.contains(&e)),
                "{name} {} on {release}: vsva-uapi predicts the struct's checks pass, \
                 the kernel said {kernel:?} (expected Ok or one of {:?})",
                self.what,
                self.after
            ),
        }
    }
}

fn sized(fd: &KernelFd, request: u32, arg: &mut [u8]) -> Result<(), Errno> {
    crate::sys::raw_sized(fd, request, arg).map(drop)
}

/// A kernel's (or vsva-uapi's prediction of a kernel's) answer to one ioctl.
type KResult = Result<(), Errno>;

/// The same bytes to vsva-uapi and to the booted kernel, through the ioctl's declaration
/// (its number, its struct and the struct's own size policy): the prediction first, as
/// the kernel writes its outputs into `buf`. Returns (kernel, predicted).
fn ask<T: UapiStruct>(fd: &KernelFd, ioctl: &Ioctl<T>, buf: &mut [u8]) -> (KResult, KResult) {
    let predicted = predict::<T>(buf, T::DECL.default_policy);
    (sized(fd, ioctl.number(), buf), predicted)
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
        let kernel = case.run(fd, &ioctl::IOMMU_IOAS_ALLOC, &mut buf);
        if kernel.is_ok() {
            let id = u32::from_ne_bytes(buf[8..12].try_into().unwrap());
            iommufd
                .destroy(id)
                .expect("destroy the IOAS a case allocated");
        }
    }
}

#[test]
fn iommufd_past_a_page_the_kernel_accepts_a_zero_tail_and_vsva_strict_caps_it() {
    guest::require_guest();
    // copy_struct_from_user has no upper bound: iommufd takes any size with a zero tail,
    // and so do the kernel's rules in vsva-uapi. vsva's strictness (the named rule
    // `zero-tail-page-cap`, which vsva-viommu applies) caps it at a page, on purpose:
    // this pins both.
    let iommufd = Iommufd::open(guest::kernel()).unwrap();
    for size in [4097u32, 8192, 65536] {
        let mut buf = vec![0u8; size as usize];
        buf[..4].copy_from_slice(&size.to_ne_bytes());
        assert_eq!(predict::<IoasAlloc>(&buf, Policy::ZeroTail), Ok(()), "size {size}");
        let strict = IoasAlloc::decode(&buf, Policy::ZeroTail, None).map(drop);
        assert_eq!(strict.map_err(|e| e.errno()), Err(Errno::E2BIG), "size {size}");
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
        let kernel = crate::sys::raw_sized_data(fd, ioctl::IOMMU_GET_HW_INFO.number(), &mut buf, 16, len, &mut data)
            .map(drop);
        case.judge(ioctl::IOMMU_GET_HW_INFO.name(), kernel, predicted);
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
        let kernel = case.run(fd, &ioctl::VFIO_DEVICE_ATTACH_IOMMUFD_PT, &mut buf);
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
        let kernel = case.run(fd, &ioctl::VFIO_DEVICE_DETACH_IOMMUFD_PT, &mut buf);
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
        let kernel = case.run(cdev.fd(), &ioctl::VFIO_DEVICE_BIND_IOMMUFD, &mut buf);
        if kernel.is_ok() {
            assert_ne!(
                u32::from_ne_bytes(buf[12..16].try_into().unwrap()),
                0,
                "out_devid"
            );
        }
    }
}

/// `IOMMU_HWPT_ALLOC` on the edu device and an IOAS: sizes, reserved fields, the flags
/// of this release, and the handler's order (`__reserved`, then `data_type` against
/// `data_len`, then the lookups, then the paging allocation's flags).
#[test]
fn iommufd_hwpt_alloc_follows_this_releases_rules() {
    guest::require_guest();
    let s = Cdev::open(&guest::edu());
    let fd = s.iommufd.fd();
    let ioas = s.iommufd.ioas_alloc().unwrap();
    let mut base = vec![0u8; 48];
    base[8..12].copy_from_slice(&s.dev_id.0.to_ne_bytes());
    base[12..16].copy_from_slice(&ioas.0.to_ne_bytes());
    let probes = [
        probe("v6.6 size (24)", 24, &[], &[]),
        probe("v6.7 size (40)", 40, &[], &[]),
        probe("v6.11 size (48)", 48, &[], &[]),
        probe("larger, zero tail", 64, &[], &[]),
        probe("past a page, zero tail", 8192, &[], &[]),
        probe("larger, non-zero tail", 64, &[(60, 1)], &[]),
        probe("below the minimum (24)", 20, &[], &[]),
        probe("__reserved set", 48, &[(20, 1)], &[]),
        probe("__reserved2 set (never read)", 48, &[(44, 0xdead)], &[]),
        probe("unknown flag bit 4", 48, &[(4, 1 << 4)], &[]),
        probe(
            "unknown flag and data_type without data_len: the lengths first",
            48,
            &[(4, 1 << 4), (24, 9)],
            &[],
        ),
        probe("data_len without data_type", 48, &[(28, 8)], &[]),
        probe("unknown data_type with data_len", 48, &[(24, 9), (28, 8)], &[EOPNOTSUPP]),
        // QEMU's VT-d has no ECAP.NEST and no SLADS: the driver refuses.
        probe("NEST_PARENT", 48, &[(4, 1)], &[EOPNOTSUPP]),
        probe("DIRTY_TRACKING", 48, &[(4, 2)], &[EOPNOTSUPP]),
        // 6.11–6.12: FAULT_ID_VALID is a nested-HWPT flag only; from 6.13 a paging one
        // too, whose fault_id 0 is then looked up.
        probe("FAULT_ID_VALID", 48, &[(4, 4)], &[EOPNOTSUPP, ENOENT]),
        probe("FAULT_ID_VALID, size 40", 40, &[(4, 4)], &[EOPNOTSUPP, ENOENT]),
        probe("FAULT_ID_VALID | NEST_PARENT", 48, &[(4, 5)], &[EOPNOTSUPP]),
        probe("PASID (6.15)", 48, &[(4, 8)], &[EOPNOTSUPP]),
        probe("VTD_S1 data on a paging HWPT", 48, &[(24, 1), (28, 24)], &[EOPNOTSUPP, EINVAL]),
    ];
    for p in &probes {
        let mut buf = p.build(&base);
        let kernel = p.run(fd, &ioctl::IOMMU_HWPT_ALLOC, &mut buf);
        if kernel.is_ok() {
            let hwpt = u32::from_ne_bytes(buf[16..20].try_into().unwrap());
            s.iommufd.destroy(hwpt).expect("destroy the HWPT a probe allocated");
        }
    }
    s.iommufd.destroy(ioas).unwrap();
}

/// `IOMMU_HWPT_INVALIDATE`: `__reserved` first (EOPNOTSUPP), then the array's shape
/// (EINVAL; 7.2's bounds on `entry_len` and `entry_num`), then the object lookup (an IOAS
/// id is not an invalidatable object); the data type is the driver's.
#[test]
fn iommufd_hwpt_invalidate_follows_this_releases_rules() {
    guest::require_guest();
    let s = Cdev::open(&guest::edu());
    let fd = s.iommufd.fd();
    let ioas = s.iommufd.ioas_alloc().unwrap();
    let mut base = vec![0u8; 32];
    base[4..8].copy_from_slice(&ioas.0.to_ne_bytes());
    // data_uptr (offset 8) is only followed after the lookup, which fails here: an IOAS
    // is not a nested HWPT (ENOENT up to 6.12), nor an object to invalidate (EINVAL from
    // 6.13, where hwpt_id may name any object). So a refusal before the lookup (7.2's
    // bounds, in 6.12.96+) shows on 6.12 as EINVAL where the lookup would be ENOENT.
    const PTR: u32 = 0x1000;
    let lookup: &'static [Errno] = if booted() >= Release::V6_13 {
        &[EINVAL]
    } else {
        &[ENOENT]
    };
    let probes = [
        probe("exact size, no entries", 32, &[], lookup),
        probe("larger, zero tail", 40, &[], lookup),
        probe("larger, non-zero tail", 40, &[(36, 1)], &[]),
        probe("below the minimum (32)", 28, &[], &[]),
        probe(
            "__reserved set, entries without an array",
            32,
            &[(28, 1), (24, 1)],
            &[],
        ),
        probe("entries without an array", 32, &[(24, 1)], &[]),
        probe("entries without entry_len", 32, &[(24, 1), (8, PTR)], &[]),
        probe(
            "an unknown data type, one entry",
            32,
            &[(24, 1), (8, PTR), (20, 24), (16, 0x77)],
            lookup,
        ),
        probe(
            "entry_len past a page (7.2, 6.12.96)",
            32,
            &[(24, 1), (8, PTR), (20, 8192)],
            lookup,
        ),
        probe(
            "entry_num past 2^19 (7.2, 6.12.96)",
            32,
            &[(24, (1 << 19) + 1), (8, PTR), (20, 24)],
            lookup,
        ),
    ];
    for p in &probes {
        let mut buf = p.build(&base);
        let _ = p.run(fd, &ioctl::IOMMU_HWPT_INVALIDATE, &mut buf); // judged by run
    }
    s.iommufd.destroy(ioas).unwrap();
}

/// The PASID flags of the cdev attach and detach, at this release: unknown (EINVAL)
/// before 6.15; from 6.15 known, and an IOAS `pt_id` for a PASID is EINVAL (edu has no
/// PASID capability either).
#[test]
fn vfio_cdev_pasid_flags_follow_this_release() {
    guest::require_guest();
    let s = Cdev::open(&guest::edu());
    let ioas = s.iommufd.ioas_alloc().unwrap();
    let mut base = vec![0u8; 16];
    base[8..12].copy_from_slice(&ioas.0.to_ne_bytes());
    let attach = [
        probe("PASID flag, pasid 5", 16, &[(4, 1), (12, 5)], &[EINVAL, EOPNOTSUPP]),
        probe("PASID flag, v6.6 size (12)", 12, &[(4, 1)], &[EINVAL, EOPNOTSUPP]),
    ];
    for p in &attach {
        let mut buf = p.build(&base);
        let kernel = p.run(s.cdev.fd(), &ioctl::VFIO_DEVICE_ATTACH_IOMMUFD_PT, &mut buf);
        if kernel.is_ok() {
            s.cdev.detach().unwrap();
        }
    }
    s.cdev.attach(ioas).unwrap();
    let detach = [
        probe("PASID flag, pasid 5", 12, &[(4, 1), (8, 5)], &[EOPNOTSUPP]),
        probe("PASID flag, v6.6 size (8)", 8, &[(4, 1)], &[EINVAL, EOPNOTSUPP]),
    ];
    for p in &detach {
        let mut buf = p.build(&base[..12]);
        let _ = p.run(s.cdev.fd(), &ioctl::VFIO_DEVICE_DETACH_IOMMUFD_PT, &mut buf); // judged by run
    }
    s.cdev.detach().unwrap();
    s.iommufd.destroy(ioas).unwrap();
}

/// `IOMMU_GET_HW_INFO` at this release: the INPUT_TYPE flag (6.17) and
/// `out_max_pasid_log2`, once part of `__reserved` (6.15; in 6.12's stable series since
/// 6.12.32, which this tier's 6.12.118 has).
#[test]
fn iommufd_get_hw_info_flags_follow_this_release() {
    guest::require_guest();
    let s = Cdev::open(&guest::edu());
    let fd = s.iommufd.fd();
    let mut base = vec![0u8; 40];
    base[8..12].copy_from_slice(&s.dev_id.0.to_ne_bytes());
    base[12..16].copy_from_slice(&64u32.to_ne_bytes());
    let probes = [
        probe("INPUT_TYPE, DEFAULT type", 40, &[(4, 1)], &[]),
        probe("INPUT_TYPE, INTEL_VTD type", 40, &[(4, 1), (24, 1)], &[Errno::EOPNOTSUPP]),
        probe("out_max_pasid_log2 byte set on input", 40, &[(28, 3)], &[]),
        probe("unknown flag bit 1", 40, &[(4, 2)], &[]),
    ];
    for p in &probes {
        let mut data = vec![0u8; 64];
        let mut buf = p.build(&base);
        let len = DataLen::Bytes { at: 12 };
        prepare_data(&mut buf, 16, len, data.as_mut_ptr() as u64, data.len())
            .expect("a well-formed data request");
        let predicted = predict::<HwInfo>(&buf, Policy::ZeroTail);
        let kernel = crate::sys::raw_sized_data(fd, ioctl::IOMMU_GET_HW_INFO.number(), &mut buf, 16, len, &mut data)
            .map(drop);
        p.judge(ioctl::IOMMU_GET_HW_INFO.name(), kernel, predicted);
    }
}

/// `IOMMU_DESTROY` and `IOMMU_IOAS_UNMAP`: the dispatch's size rules (nothing else is in
/// their bytes but ids and ranges, which the handlers look up).
#[test]
fn iommufd_destroy_and_unmap_follow_zero_tail() {
    guest::require_guest();
    let iommufd = Iommufd::open(guest::kernel()).unwrap();
    let fd = iommufd.fd();
    let sizes: [Probe; 5] = [
        probe("exact size", 0, &[], &[]),
        probe("larger, zero tail", 16, &[], &[]),
        probe("past a page, zero tail", 8192, &[], &[]),
        probe("larger, non-zero tail", 64, &[(60, 1)], &[]),
        probe("below the minimum", 4, &[], &[]),
    ];
    for p in &sizes {
        // A fresh IOAS per probe: a destroy that goes through removes it.
        let ioas = iommufd.ioas_alloc().unwrap();
        let mut base = vec![0u8; 8];
        base[4..8].copy_from_slice(&ioas.0.to_ne_bytes());
        let probe = Probe {
            size: if p.size == 0 { 8 } else { p.size },
            ..*p
        };
        let mut buf = probe.build(&base);
        let kernel = probe.run(fd, &ioctl::IOMMU_DESTROY, &mut buf);
        if kernel.is_err() {
            iommufd.destroy(ioas).unwrap();
        }
    }
    let ioas = iommufd.ioas_alloc().unwrap();
    let mut base = vec![0u8; 24];
    base[4..8].copy_from_slice(&ioas.0.to_ne_bytes());
    for p in &sizes {
        // iova 0, length 0: past the struct's checks, nothing is mapped (ENOENT or
        // EINVAL from the unmap itself).
        let probe = Probe {
            size: if p.size == 0 { 24 } else { p.size },
            after: &[ENOENT, EINVAL],
            ..*p
        };
        let mut buf = probe.build(&base);
        let _ = probe.run(fd, &ioctl::IOMMU_IOAS_UNMAP, &mut buf); // judged by run
    }
    iommufd.destroy(ioas).unwrap();
}
