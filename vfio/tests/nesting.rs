//! The 2020 nesting envelope, both sides: the VFIO-side dispatch checks only the envelope
//! and hands the payload over untouched; the user side reaches an in-process handler or a
//! (scripted) container, and reports a missing ioctl distinctly from a refusal.

use std::path::Path;
use std::sync::{Arc, Mutex};

use vsva_uapi::consts::{
    CacheInvType, NestingOpCode, VFIO_IOMMU_NESTING_OP, VFIO_IOMMU_PASID_REQUEST,
};
use vsva_uapi::{
    CacheInvalidateInfo, Errno, GpasidBindData, GpasidBindDataVtd, Granu, InvAddrInfo, NestingOp,
    PasidRequest, Policy, UapiStruct,
};
use vsva_vfio::nesting::{self, dispatch, NestingHandler, NestingTarget};
use vsva_vfio::scripted::{Call, Reply, ScriptedKernel};
use vsva_vfio::sys::Kernel;
use vsva_vfio::sys::KernelFd;
use vsva_vfio::Error;
use zerocopy::{FromZeros, IntoBytes};

/// [`dispatch`] with its typed error reduced to the errno the ioctl returns.
fn dispatch_errno<H: NestingHandler + ?Sized>(
    request: u32,
    user: &[u8],
    handler: &H,
) -> Result<i32, Errno> {
    dispatch(request, user, handler).map_err(|e| e.errno())
}

/// One call a handler received: the op, the payload's address and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seen {
    op: &'static str,
    addr: usize,
    bytes: Vec<u8>,
    range: Option<(u32, u32)>,
}

/// Records every call; answers `pasid` for alloc and `fail` (if set) for everything.
#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<Seen>>,
    pasid: u32,
    fail: Option<Errno>,
}

impl Recorder {
    fn with_pasid(pasid: u32) -> Recorder {
        Recorder {
            pasid,
            ..Recorder::default()
        }
    }

    fn failing(errno: Errno) -> Recorder {
        Recorder {
            fail: Some(errno),
            ..Recorder::default()
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    fn record(&self, op: &'static str, payload: &[u8], range: Option<(u32, u32)>) {
        self.seen.lock().unwrap().push(Seen {
            op,
            addr: payload.as_ptr() as usize,
            bytes: payload.to_vec(),
            range,
        });
    }

    fn answer(&self) -> Result<(), Errno> {
        self.fail.map_or(Ok(()), Err)
    }
}

impl NestingHandler for Recorder {
    type Error = Errno;
    fn pasid_alloc(&self, min: u32, max: u32) -> Result<u32, Errno> {
        self.record("alloc", &[], Some((min, max)));
        self.answer().map(|()| self.pasid)
    }
    fn pasid_free(&self, min: u32, max: u32) -> Result<(), Errno> {
        self.record("free", &[], Some((min, max)));
        self.answer()
    }
    fn bind_pgtbl(&self, payload: &[u8]) -> Result<(), Errno> {
        self.record("bind", payload, None);
        self.answer()
    }
    fn unbind_pgtbl(&self, payload: &[u8]) -> Result<(), Errno> {
        self.record("unbind", payload, None);
        self.answer()
    }
    fn cache_invalidate(&self, payload: &[u8]) -> Result<(), Errno> {
        self.record("invalidate", payload, None);
        self.answer()
    }
}

fn addr_invalidation() -> CacheInvalidateInfo {
    CacheInvalidateInfo::new(
        CacheInvType::IOTLB,
        Granu::Addr(InvAddrInfo {
            flags: 1,
            archid: 0,
            pasid: 5,
            addr: 0x1000,
            granule_size: 0x1000,
            nb_granules: 4,
        }),
    )
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

/// A header with `argsz` and `flags`, followed by `tail` readable bytes of 0xa5.
fn envelope(argsz: u32, flags: u32, tail: usize) -> Vec<u8> {
    let mut user = NestingOp { argsz, flags }.as_bytes().to_vec();
    user.resize(8 + tail, 0xa5);
    user
}

fn pasid_bytes(argsz: u32, flags: u32, min: u32, max: u32) -> Vec<u8> {
    PasidRequest {
        argsz,
        flags,
        min,
        max,
    }
    .as_bytes()
    .to_vec()
}

#[test]
fn the_handler_receives_the_user_memory_after_the_header_untouched() {
    let info = addr_invalidation();
    let mut payload = [0u8; 56];
    let n = info.encode_min(&mut payload).unwrap();
    assert_eq!(n, 56);
    // The envelope, then 24 more readable bytes: the handler sees them too (the series
    // passes `arg + minsz`; the IOMMU struct's own argsz says how much is read).
    let mut user = vec![0u8; 8 + n + 24];
    user[8 + n..].fill(0xee);
    let total =
        NestingOp::encode_envelope(NestingOpCode::CacheInvld, &payload[..n], &mut user).unwrap();
    assert_eq!(total, 64);
    let h = Recorder::default();
    assert_eq!(dispatch_errno(VFIO_IOMMU_NESTING_OP, &user, &h), Ok(0));
    let seen = h.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].op, "invalidate");
    // Pointer-identical sub-slice of the user buffer, from byte 8 to the end.
    assert_eq!(seen[0].addr, user.as_ptr() as usize + 8);
    assert_eq!(seen[0].bytes, &user[8..]);

    // VFIO does not parse: garbage for the IOMMU layer still reaches the handler byte
    // for byte, whatever the envelope's argsz (8, 21, 80, u32::MAX).
    for argsz in [8, 8 + 13, 80, u32::MAX] {
        for (op, name) in [(0, "bind"), (1, "unbind"), (2, "invalidate")] {
            let user = envelope(argsz, op, 40);
            let h = Recorder::default();
            assert_eq!(
                dispatch_errno(VFIO_IOMMU_NESTING_OP, &user, &h),
                Ok(0),
                "{argsz}"
            );
            let seen = h.seen();
            assert_eq!(seen.len(), 1);
            assert_eq!(seen[0].op, name);
            assert_eq!(seen[0].addr, user.as_ptr() as usize + 8);
            assert_eq!(seen[0].bytes, vec![0xa5; 40]);
        }
    }

    // Nothing readable after the header: an empty payload, still at header + 8.
    let user = envelope(64, 2, 0);
    let h = Recorder::default();
    assert_eq!(dispatch_errno(VFIO_IOMMU_NESTING_OP, &user, &h), Ok(0));
    assert_eq!(h.seen()[0].bytes.len(), 0);
    assert_eq!(h.seen()[0].addr, user.as_ptr() as usize + 8);
}

#[test]
fn bad_envelopes_are_refused_before_the_handler_runs() {
    let h = Recorder::default();
    for argsz in [0, 4, 7] {
        let user = envelope(argsz, 2, 64);
        assert_eq!(
            dispatch_errno(VFIO_IOMMU_NESTING_OP, &user, &h),
            Err(Errno::EINVAL),
            "argsz {argsz}"
        );
    }
    for flags in [3, 0xffff, 1 << 16, (1 << 16) | 2, 0x8000_0000] {
        let user = envelope(64, flags, 56);
        assert_eq!(
            dispatch_errno(VFIO_IOMMU_NESTING_OP, &user, &h),
            Err(Errno::EINVAL),
            "flags {flags:#x}"
        );
    }
    // Unreadable memory: the header itself (the payload is the IOMMU layer's to read).
    for user in [vec![64u8, 0, 0], envelope(64, 2, 0)[..7].to_vec()] {
        assert_eq!(
            dispatch_errno(VFIO_IOMMU_NESTING_OP, &user, &h),
            Err(Errno::EFAULT)
        );
    }
    assert_eq!(h.count(), 0);
}

#[test]
fn bad_pasid_requests_are_refused_before_the_handler_runs() {
    let h = Recorder::with_pasid(9);
    let einval = [
        pasid_bytes(16, 3, 1, 10),       // both
        pasid_bytes(16, 0, 1, 10),       // neither
        pasid_bytes(16, 1 | 4, 1, 10),   // unknown flag
        pasid_bytes(16, 1, 10, 1),       // min > max
        pasid_bytes(16, 2, u32::MAX, 0), // min > max, free
        pasid_bytes(15, 1, 1, 10),       // argsz < minsz
        pasid_bytes(0, 1, 1, 10),
    ];
    for user in &einval {
        assert_eq!(
            dispatch_errno(VFIO_IOMMU_PASID_REQUEST, user, &h),
            Err(Errno::EINVAL),
            "{user:?}"
        );
    }
    let short = &pasid_bytes(16, 1, 1, 10)[..12];
    assert_eq!(
        dispatch_errno(VFIO_IOMMU_PASID_REQUEST, short, &h),
        Err(Errno::EFAULT)
    );
    assert_eq!(h.count(), 0);
    // Not a nesting ioctl at all.
    assert_eq!(
        dispatch_errno(0x3b70, &pasid_bytes(16, 1, 1, 10), &h),
        Err(Errno::ENOTTY)
    );
    assert_eq!(h.count(), 0);
}

#[test]
fn pasid_requests_reach_the_handler() {
    let h = Recorder::with_pasid(42);
    assert_eq!(
        dispatch_errno(VFIO_IOMMU_PASID_REQUEST, &pasid_bytes(16, 1, 1, 100), &h),
        Ok(42)
    );
    // A larger argsz is fine (VFIO reads minsz only); min == max is a valid range.
    assert_eq!(
        dispatch_errno(VFIO_IOMMU_PASID_REQUEST, &pasid_bytes(16, 2, 5, 5), &h),
        Ok(0)
    );
    let mut big = pasid_bytes(24, 2, 6, 9);
    big.extend_from_slice(&[0xff; 8]);
    assert_eq!(dispatch_errno(VFIO_IOMMU_PASID_REQUEST, &big, &h), Ok(0));
    let seen: Vec<_> = h.seen().into_iter().map(|s| (s.op, s.range)).collect();
    assert_eq!(
        seen,
        [
            ("alloc", Some((1, 100))),
            ("free", Some((5, 5))),
            ("free", Some((6, 9)))
        ]
    );
    // A PASID that cannot be an ioctl return value.
    let h = Recorder::with_pasid(0x8000_0000);
    assert_eq!(
        dispatch_errno(
            VFIO_IOMMU_PASID_REQUEST,
            &pasid_bytes(16, 1, 0, u32::MAX),
            &h
        ),
        Err(Errno::EOVERFLOW)
    );
}

#[test]
fn handler_errors_are_the_ioctl_errno() {
    let h = Recorder::failing(Errno::ENOSPC);
    assert_eq!(
        dispatch_errno(VFIO_IOMMU_PASID_REQUEST, &pasid_bytes(16, 1, 1, 2), &h),
        Err(Errno::ENOSPC)
    );
    assert_eq!(
        dispatch_errno(VFIO_IOMMU_NESTING_OP, &envelope(72, 0, 64), &h),
        Err(Errno::ENOSPC)
    );
    let h = Recorder::failing(Errno::EOPNOTSUPP);
    assert_eq!(
        nesting::bind_pgtbl(&h, &vtd_bind()),
        Err(Error::HostNotSupported {
            op: "VFIO_IOMMU_NESTING_OP_BIND_PGTBL"
        })
    );
    assert_eq!(
        nesting::pasid_alloc(&h, 1, 2).unwrap_err().errno(),
        Errno::EOPNOTSUPP
    );
    // A handler that claims ENOTTY reads as "not supported", like the kernel.
    let h = Recorder::failing(Errno::ENOTTY);
    assert!(matches!(
        nesting::pasid_free(&h, 1, 2),
        Err(Error::NotSupported { .. })
    ));
}

#[test]
fn the_user_side_round_trips_through_an_in_process_handler() {
    let h = Recorder::with_pasid(77);
    assert_eq!(nesting::pasid_alloc(&h, 10, 100), Ok(77));
    nesting::pasid_free(&h, 10, 100).unwrap();

    let info = addr_invalidation();
    nesting::cache_invalidate(&h, &info).unwrap();
    let domain = CacheInvalidateInfo::new(CacheInvType::IOTLB, Granu::Domain);
    nesting::cache_invalidate(&h, &domain).unwrap();
    let bind = vtd_bind();
    nesting::bind_pgtbl(&h, &bind).unwrap();
    nesting::unbind_pgtbl(&h, &bind).unwrap();

    let seen = h.seen();
    let ops: Vec<_> = seen.iter().map(|s| s.op).collect();
    assert_eq!(
        ops,
        [
            "alloc",
            "free",
            "invalidate",
            "invalidate",
            "bind",
            "unbind"
        ]
    );
    assert_eq!(seen[0].range, Some((10, 100)));
    // The consumer decodes the payload back to what the user sent.
    let got = CacheInvalidateInfo::from_user(&seen[2].bytes, Policy::Linux510).unwrap();
    assert_eq!(seen[2].bytes.len(), 56);
    assert_eq!(got, info);
    // Domain granularity needs only the 16-byte header: the smallest argsz is sent.
    assert_eq!(seen[3].bytes.len(), 16);
    let got = CacheInvalidateInfo::from_user(&seen[3].bytes, Policy::Linux510).unwrap();
    assert_eq!(got.argsz, 16);
    assert_eq!(
        got,
        CacheInvalidateInfo {
            argsz: 16,
            ..domain
        }
    );
    for s in &seen[4..] {
        assert_eq!(s.bytes.len(), 72);
        assert_eq!(
            GpasidBindData::from_user(&s.bytes, Policy::Linux510),
            Ok(bind)
        );
    }

    // Through trait objects too.
    let shared: Arc<dyn NestingHandler<Error = Errno>> = Arc::new(Recorder::with_pasid(3));
    assert_eq!(nesting::pasid_alloc(&*shared, 1, 8), Ok(3));
    let target: &dyn NestingHandler<Error = Errno> = &h;
    nesting::cache_invalidate(target, &info).unwrap();
}

#[test]
fn a_pasid_outside_the_requested_range_is_a_bad_reply() {
    let h = Recorder::with_pasid(500);
    assert!(matches!(
        nesting::pasid_alloc(&h, 1, 100),
        Err(Error::BadReply {
            op: "VFIO_IOMMU_PASID_REQUEST",
            ..
        })
    ));
}

fn container(k: &ScriptedKernel) -> KernelFd {
    k.add_path("/dev/vfio/vfio");
    let kernel: Arc<dyn Kernel> = Arc::new(k.clone());
    KernelFd::open(&kernel, Path::new("/dev/vfio/vfio"), true).unwrap()
}

#[test]
fn a_kernel_without_the_ioctls_is_not_supported_distinct_from_a_refusal() {
    let k = ScriptedKernel::new();
    let fd = container(&k);
    // No responder: the ioctl does not exist (every mainline kernel).
    assert_eq!(
        nesting::pasid_alloc(&fd, 1, 10),
        Err(Error::NotSupported {
            op: "VFIO_IOMMU_PASID_REQUEST"
        })
    );
    assert_eq!(
        nesting::cache_invalidate(&fd, &addr_invalidation()),
        Err(Error::NotSupported {
            op: "VFIO_IOMMU_NESTING_OP_CACHE_INVLD"
        })
    );
    assert!(matches!(
        nesting::bind_pgtbl(&fd, &vtd_bind()),
        Err(Error::NotSupported { .. })
    ));
    // The envelopes went out whole, with argsz = 8 + the inner struct's smallest argsz.
    let calls = k.calls();
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[0].request, VFIO_IOMMU_PASID_REQUEST);
    assert_eq!(calls[0].arg, PasidRequest::alloc(1, 10).as_bytes().to_vec());
    assert_eq!(calls[1].request, VFIO_IOMMU_NESTING_OP);
    assert_eq!(calls[1].arg.len(), 64);
    assert_eq!(
        &calls[1].arg[..8],
        NestingOp {
            argsz: 64,
            flags: 2
        }
        .as_bytes()
    );
    assert_eq!(&calls[1].arg[8..], addr_invalidation().as_bytes());
    assert_eq!(calls[2].arg.len(), 80);

    // A kernel that has them and refuses: Error::Ioctl, not NotSupported.
    k.on(VFIO_IOMMU_PASID_REQUEST, |_, _| Err(Errno::EINVAL));
    k.on(VFIO_IOMMU_NESTING_OP, |_, _| Err(Errno::EINVAL));
    let refused = nesting::pasid_alloc(&fd, 1, 10).unwrap_err();
    assert_eq!(
        refused,
        Error::Ioctl {
            op: "VFIO_IOMMU_PASID_REQUEST",
            errno: Errno::EINVAL
        }
    );
    assert_ne!(refused.errno(), Errno::ENOTTY);
    assert_eq!(
        nesting::unbind_pgtbl(&fd, &vtd_bind()),
        Err(Error::Ioctl {
            op: "VFIO_IOMMU_NESTING_OP_UNBIND_PGTBL",
            errno: Errno::EINVAL
        })
    );
}

#[test]
fn a_scripted_kernel_running_the_dispatch_serves_the_user_side() {
    // The out-of-tree kernel of the series, modelled as dispatch behind the container fd.
    let k = ScriptedKernel::new();
    let fd = container(&k);
    let h = Arc::new(Recorder::with_pasid(12));
    for request in [VFIO_IOMMU_PASID_REQUEST, VFIO_IOMMU_NESTING_OP] {
        let h = Arc::clone(&h);
        k.on(request, move |_, call| match call {
            Call::Sized(arg) => dispatch_errno(request, arg, &*h).map(Reply::Value),
            _ => Err(Errno::EINVAL),
        });
    }
    assert_eq!(nesting::pasid_alloc(&fd, 12, 20), Ok(12));
    let info = addr_invalidation();
    nesting::cache_invalidate(&fd, &info).unwrap();
    let seen = h.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(
        CacheInvalidateInfo::from_user(&seen[1].bytes, Policy::Linux510),
        Ok(info)
    );
    // The target is usable as a trait object as well.
    let target: &dyn NestingTarget = &fd;
    let mut arg = envelope(8, 7, 0);
    assert_eq!(
        target.ioctl(VFIO_IOMMU_NESTING_OP, &mut arg),
        Err(Errno::EINVAL)
    );
    assert_eq!(h.count(), 2);
}
