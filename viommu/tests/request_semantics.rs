//! Semantics at the edges of the vIOMMU layer, each pinned against a concrete bug:
//! the nesting envelope does not bound the payload, ranges may end exactly at 2^64, a
//! page response for a foreign device is `ENODEV` before user memory is read, no
//! spurious `ENOSPC`, fault queues cost O(1) per record, every pending page request has
//! one identity, and VM ids never repeat.

mod common;

use common::*;
use vsva_uapi::consts::{NestingOpCode, VFIO_IOMMU_NESTING_OP};
use vsva_uapi::{Errno, NestingOp};
use vsva_vfio::nesting::{dispatch, DispatchError};
use vsva_viommu::soft::{Event, SoftwareIommu};
use vsva_viommu::{GuestPasid, HostPasid};
use vsva_viommu::{HostIommu, InvalidationScope, Viommu, ViommuError, VmConfig};

fn vtd() -> (SoftwareIommu, Viommu<SoftwareIommu>) {
    let model = SoftwareIommu::new(HostIommu::vtd_default());
    (model.clone(), Viommu::new(model))
}

/// `payload` in a `VFIO_IOMMU_NESTING_OP` envelope whose header says `argsz`.
fn envelope(op: NestingOpCode, payload: &[u8], argsz: u32) -> Vec<u8> {
    let mut env = vec![0u8; 8 + payload.len()];
    NestingOp::encode_envelope(op, payload, &mut env).unwrap();
    env[..4].copy_from_slice(&argsz.to_ne_bytes());
    env
}

/// The series' `vfio_iommu_type1_nesting_op` passes `arg + minsz` to the IOMMU layer:
/// the envelope's argsz does not cut the payload; the IOMMU struct's own argsz governs.
#[test]
fn the_envelope_argsz_does_not_bound_the_payload() {
    let (model, viommu) = vtd();
    let vm = viommu.create_vm(VmConfig::default());
    let p = vm.alloc_pasid(1, 100).unwrap();
    let inv = bytes(&inv_addr(p.0, 0x1000, 4096, 4));
    assert_eq!(inv.len(), 56);
    for argsz in [8, 16, 80, u32::MAX] {
        let env = envelope(NestingOpCode::CacheInvld, &inv, argsz);
        assert_eq!(
            dispatch(VFIO_IOMMU_NESTING_OP, &env, &vm),
            Ok(0),
            "argsz {argsz}"
        );
    }
    // A bind that succeeds with a right-sized envelope succeeds with argsz 8 too.
    let env = envelope(NestingOpCode::BindPgtbl, &bytes(&bind(p.0, None)), 8);
    assert_eq!(dispatch(VFIO_IOMMU_NESTING_OP, &env, &vm), Ok(0));
    assert!(model.vm_state(vm.id()).pasid_entries.contains_key(&p));
    // The IOMMU struct's argsz still governs: its own truncation is EFAULT.
    let env = envelope(NestingOpCode::CacheInvld, &inv[..40], 8 + 56);
    assert_eq!(
        dispatch(VFIO_IOMMU_NESTING_OP, &env, &vm).map_err(|e| e.errno()),
        Err(Errno::EFAULT)
    );
}

/// A VMM using `dispatch` learns which rule refused its guest, not only the errno.
#[test]
fn dispatch_returns_the_typed_refusal() {
    let (_model, viommu) = vtd();
    let vm = viommu.create_vm(VmConfig::default());
    let p = vm.alloc_pasid(1, 100).unwrap();
    let env = envelope(NestingOpCode::BindPgtbl, &bytes(&bind(p.0, None)), 80);
    assert_eq!(dispatch(VFIO_IOMMU_NESTING_OP, &env, &vm), Ok(0));
    let again = dispatch(VFIO_IOMMU_NESTING_OP, &env, &vm).unwrap_err();
    assert_eq!(
        again,
        DispatchError::Handler(ViommuError::AlreadyBound { hpasid: p })
    );
    assert_eq!(again.errno(), Errno::EBUSY);
    let short = dispatch(VFIO_IOMMU_NESTING_OP, &env[..4], &vm).unwrap_err();
    assert!(matches!(
        short,
        DispatchError::Vfio(vsva_uapi::UapiError::Fault { .. })
    ));
    assert_eq!(
        dispatch(0x3b70, &env, &vm).unwrap_err(),
        DispatchError::UnknownIoctl { request: 0x3b70 }
    );
}

/// The last page (end exactly 2^64) and the whole space from 0 are valid ranges; one byte
/// past 2^64 is not.
#[test]
fn an_invalidation_may_end_exactly_at_two_to_the_64() {
    let (model, viommu) = vtd();
    let vm = viommu.create_vm(VmConfig::default());
    let p = vm.alloc_pasid(1, 100).unwrap();
    let last_scope = || match model.vm_state(vm.id()).log.back() {
        Some(Event::Invalidate(inv)) => inv.scope,
        other => panic!("no invalidation: {other:?}"),
    };
    vm.cache_invalidate(&bytes(&inv_addr(p.0, 0xffff_ffff_ffff_f000, 4096, 1)))
        .unwrap();
    assert!(matches!(
        last_scope(),
        InvalidationScope::Addr {
            addr: 0xffff_ffff_ffff_f000,
            last: u64::MAX,
            ..
        }
    ));
    vm.cache_invalidate(&bytes(&inv_addr(p.0, 0, 4096, 1 << 52)))
        .unwrap();
    assert!(matches!(
        last_scope(),
        InvalidationScope::Addr {
            addr: 0,
            last: u64::MAX,
            ..
        }
    ));
    // 2 MiB granules up to the top.
    vm.cache_invalidate(&bytes(&inv_addr(p.0, 0xffff_ffff_ffe0_0000, 2 << 20, 1)))
        .unwrap();
    // Past 2^64, or empty: EINVAL.
    for (addr, granule, n) in [
        (0xffff_ffff_ffff_f000, 4096, 2),
        (0x1000, 4096, 1 << 52),
        (0, 4096, u64::MAX),
        (0x1000, 4096, 0),
    ] {
        let e = vm
            .cache_invalidate(&bytes(&inv_addr(p.0, addr, granule, n)))
            .unwrap_err();
        assert!(
            matches!(e, ViommuError::BadRange { .. }),
            "{addr:#x} {n}: {e}"
        );
        assert_eq!(e.errno(), Errno::EINVAL);
    }
}

/// `iommu_page_response` finds no fault handler for a device before it reads the user
/// struct: a device the VM does not hold is ENODEV whatever the payload (a version-2
/// struct, 4 readable bytes, none at all).
#[test]
fn a_page_response_for_a_foreign_device_is_enodev_before_the_payload_is_read() {
    let (_model, viommu) = vtd();
    let vm = viommu.create_vm(VmConfig::default());
    let other = viommu.create_vm(VmConfig::default());
    vm.attach_device(vsva_viommu::DeviceId(1)).unwrap();
    other.attach_device(vsva_viommu::DeviceId(2)).unwrap();
    let mut v2 = response(1, None, 0);
    v2.version = 2;
    let good = bytes(&response(1, None, 0));
    for payload in [bytes(&v2), good[..4].to_vec(), Vec::new(), good.clone()] {
        for device in [2, 3] {
            let e = vm
                .page_response(vsva_viommu::DeviceId(device), &payload)
                .unwrap_err();
            assert_eq!(
                e,
                ViommuError::DeviceNotAttached { device },
                "device {device}, {} bytes",
                payload.len()
            );
            assert_eq!(e.errno(), Errno::ENODEV);
        }
    }
    // The attached device gets the payload's own verdict.
    assert_eq!(
        vm.page_response(vsva_viommu::DeviceId(1), &good[..4])
            .unwrap_err()
            .errno(),
        Errno::EFAULT
    );
}

/// A VT-d host with `bits`-bit PASIDs (everything else as `vtd_default`).
fn vtd_with_pasid_bits(bits: u64) -> Viommu<SoftwareIommu> {
    let HostIommu::Vtd(c) = HostIommu::vtd_default() else {
        unreachable!()
    };
    let ecap = (c.ecap_reg & !(0x1f << 35)) | ((bits - 1) << 35);
    let host = HostIommu::Vtd(vsva_vfio::vtd::VtdCapabilities::decode(c.cap_reg, ecap));
    Viommu::new(SoftwareIommu::new(host))
}

/// On a 255-PASID host whose VMs' quotas add up to its capacity (200 + 27 + 27 + 1), a
/// VM under its quota always gets a PASID, however the others churn: ENOSPC only when
/// the range is really full at one instant.
#[test]
fn no_spurious_enospc_under_other_vms_churn() {
    let viommu = vtd_with_pasid_bits(8);
    assert_eq!(viommu.pasid_space().capacity(), 255);
    let vm = |quota| {
        viommu.create_vm(VmConfig {
            max_pasids: quota,
            ..VmConfig::default()
        })
    };
    let (a, b, c, d) = (vm(200), vm(27), vm(27), vm(1));
    let stop = std::sync::atomic::AtomicBool::new(false);
    let spurious = std::thread::scope(|s| {
        for churner in [&a, &c, &d] {
            let stop = &stop;
            s.spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    // Fill up to the quota, then free everything.
                    while churner.alloc_pasid(1, 255).is_ok() {}
                    churner.free_pasids(HostPasid(1), HostPasid(255));
                }
            });
        }
        let subject = s.spawn(|| {
            let mut spurious = 0u32;
            // Hold 26 (under the quota of 27), then allocate and free the 27th.
            for _ in 0..26 {
                while b.alloc_pasid(1, 255).is_err() {}
            }
            for _ in 0..200_000 {
                match b.alloc_pasid(1, 255) {
                    Ok(p) => b.free_pasids(p, p),
                    Err(ViommuError::PasidSpaceExhausted { .. }) => spurious += 1,
                    Err(e) => panic!("{e}"),
                }
            }
            spurious
        });
        let spurious = subject.join().unwrap();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        spurious
    });
    assert_eq!(spurious, 0, "ENOSPC for a VM under its quota");
}

/// A queue of 131,072 page requests is read in whole (`read_faults`, `next_fault`) and
/// answered in order: every record once, oldest first, with nothing left behind. (Reading
/// is a `pop_front` per record; the old queue scanned from its head for every record,
/// about 2 s for one `read_faults` of this queue in a release build.)
#[test]
fn a_large_fault_queue_is_read_and_answered_in_order() {
    let (model, viommu) = vtd();
    let n = 131_072u32;
    let vm = viommu.create_vm(VmConfig {
        max_pending_faults: n as usize,
        ..VmConfig::default()
    });
    let dev = vsva_viommu::DeviceId(9);
    vm.attach_device(dev).unwrap();
    for g in 0..n {
        let r = vsva_viommu::PageRequest {
            id: 0,
            device: dev,
            pasid: None,
            grpid: g % 512,
            perm: vsva_uapi::consts::FaultPerm::READ,
            addr: u64::from(g) << 12,
            last_page: g % 2 == 0,
            needs_pasid: false,
            private_data: None,
        };
        viommu.report_page_request(r).unwrap();
    }
    assert_eq!(vm.unread_faults(), n as usize);
    let first = vm.next_fault().unwrap();
    let mut buf = vec![0u8; 64 * 4096];
    let mut records = 1usize;
    loop {
        let got = vm.read_faults(&mut buf);
        if got == 0 {
            break;
        }
        records += got / 64;
    }
    assert_eq!(records, n as usize);
    assert_eq!(vm.unread_faults(), 0);
    let prm = first.prm().unwrap();
    assert_eq!((prm.grpid, prm.addr), (0, 0));
    // Half were the last of their group: those await a response, oldest first.
    let awaiting = vm.snapshot().faults;
    assert_eq!(awaiting.len(), n as usize / 2);
    assert!(awaiting.iter().all(|f| f.read && f.request.last_page));
    assert!(awaiting
        .iter()
        .zip(awaiting.iter().skip(1))
        .all(|(a, b)| a.request.addr < b.request.addr));
    for f in &awaiting {
        vm.page_response(dev, &bytes(&response(f.request.grpid, None, 0)))
            .unwrap();
    }
    assert!(vm.snapshot().faults.is_empty());
    assert_eq!(model.vm_state(vm.id()).responses, u64::from(n / 2));
}

/// A guest PASID may not be another host PASID of the same VM: the VM's page requests on
/// that host PASID show it as itself, so two pending requests of one group would show
/// the same PASID and group id, and a response could not say which it answers.
#[test]
fn a_guest_pasid_never_equals_another_host_pasid_of_the_vm() {
    let (model, viommu) = vtd();
    let vm = viommu.create_vm(VmConfig::default());
    let h1 = vm.alloc_pasid(1, 100).unwrap();
    let h2 = vm.alloc_pasid(1, 100).unwrap();
    let before = vm.snapshot();
    let events = model.vm_state(vm.id()).log.len();
    // Binding h1 with guest PASID h2: refused, nothing changes.
    let e = vm.bind_gpasid(&bytes(&bind(h1.0, Some(h2.0)))).unwrap_err();
    assert_eq!(
        e,
        ViommuError::GpasidInUse {
            gpasid: GuestPasid(h2.0),
            hpasid: h2
        }
    );
    assert_eq!(e.errno(), Errno::EBUSY);
    assert_eq!(vm.snapshot(), before);
    assert_eq!(
        model.vm_state(vm.id()).log.len(),
        events,
        "the backend saw nothing"
    );
    // Its own value is fine (gpasid == hpasid).
    vm.bind_gpasid(&bytes(&bind(h1.0, Some(h1.0)))).unwrap();
}

/// The other order: a host PASID that is already a guest PASID of one of the VM's binds
/// is never allocated to the VM; when it is the range's only free PASID, ENOSPC, and it
/// stays free for other VMs.
#[test]
fn a_host_pasid_equal_to_a_bound_guest_pasid_is_not_allocated_to_the_vm() {
    let viommu = vtd_with_pasid_bits(4); // 1 ..= 15
    let vm = viommu.create_vm(VmConfig::default());
    let h = vm.alloc_pasid(1, 15).unwrap();
    let g = if h == HostPasid(9) { 10 } else { 9 };
    vm.bind_gpasid(&bytes(&bind(h.0, Some(g)))).unwrap();
    // Everything but g is taken.
    for p in 1..=15 {
        if p != g && p != h.0 {
            assert!(viommu.pasid_space().try_claim(p));
        }
    }
    assert_eq!(
        vm.alloc_pasid(1, 15),
        Err(ViommuError::PasidSpaceExhausted { min: 1, max: 15 })
    );
    assert!(!viommu.pasid_space().is_allocated(g), "g is free again");
    assert!(!vm.snapshot().pasids.contains(&HostPasid(g)));
    // Another VM may have it: its guests see their own namespace.
    let other = viommu.create_vm(VmConfig::default());
    assert_eq!(other.alloc_pasid(1, 15), Ok(HostPasid(g)));
}
