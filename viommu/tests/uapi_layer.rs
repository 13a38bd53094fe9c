//! The IOMMU UAPI layer, operation by operation: every malformed payload gets the errno
//! the kernel would return and changes nothing; valid requests reach the backend once.

mod common;

use common::*;
use vsva_uapi::consts::{
    CacheInvType, NestingFeatures, PageResponseCode, PasidTableConfigKind, VtdGpasidFlags,
};
use vsva_uapi::{CacheInvalidateInfo, Errno, Fault, Granu, UapiStruct};
use vsva_vfio::smmuv3::Smmuv3Capabilities;
use vsva_vfio::vtd::VtdCapabilities;
use vsva_viommu::soft::{Event, SoftwareIommu};
use vsva_viommu::{DeviceId, HostIommu, InvalidationScope, PageRequest, Viommu, Vm, VmConfig};
use vsva_viommu::{GuestPasid, HostPasid};
use zerocopy::FromBytes;

fn vtd() -> (SoftwareIommu, Viommu<SoftwareIommu>) {
    let model = SoftwareIommu::new(HostIommu::vtd_default());
    (model.clone(), Viommu::new(model))
}

fn smmu() -> (SoftwareIommu, Viommu<SoftwareIommu>) {
    let model = SoftwareIommu::new(HostIommu::smmuv3_default());
    (model.clone(), Viommu::new(model))
}

fn request(device: u32, pasid: Option<u32>, grpid: u32, needs_pasid: bool) -> PageRequest {
    PageRequest {
        id: 0,
        device: DeviceId(device),
        pasid: pasid.map(HostPasid),
        grpid,
        perm: vsva_uapi::consts::FaultPerm::READ,
        addr: 0x7000_0000,
        last_page: true,
        needs_pasid,
        private_data: None,
    }
}

fn mutate<T: Copy>(v: T, f: impl FnOnce(&mut T)) -> T {
    let mut v = v;
    f(&mut v);
    v
}

/// How many of the bind cases below are refused by the decode itself.
const DECODE_LEVEL: usize = 13;

#[test]
fn bind_refusals_have_the_kernels_errno_and_change_nothing() {
    let (model, viommu) = vtd();
    let vm = viommu.create_vm(VmConfig::default());
    // Above 7: guest PASID 7 must not be one of the VM's host PASIDs.
    let p = vm.alloc_pasid(8, 100).unwrap();
    let q = vm.alloc_pasid(101, 200).unwrap();
    vm.bind_gpasid(&bytes(&bind(q.0, Some(7)))).unwrap();
    let good = bind(p.0, None);
    let g = bytes(&good);
    let cases: Vec<(&str, Vec<u8>, Errno)> = vec![
        ("nothing readable", vec![], Errno::EFAULT),
        ("header cut short", g[..40].to_vec(), Errno::EFAULT),
        (
            "argsz below minsz",
            bytes(&mutate(good, |b| b.argsz = 40)),
            Errno::EINVAL,
        ),
        (
            "argsz below the VT-d member",
            bytes(&mutate(good, |b| b.argsz = 64)),
            Errno::EINVAL,
        ),
        ("argsz 72, 60 readable", g[..60].to_vec(), Errno::EFAULT),
        (
            "version 2",
            bytes(&mutate(good, |b| b.version = 2)),
            Errno::EINVAL,
        ),
        (
            "format 2",
            bytes(&mutate(good, |b| b.format = 2)),
            Errno::EINVAL,
        ),
        (
            "format 0",
            bytes(&mutate(good, |b| b.format = 0)),
            Errno::EINVAL,
        ),
        (
            "unknown bind flag",
            bytes(&mutate(good, |b| b.flags = 2)),
            Errno::EINVAL,
        ),
        (
            "padding",
            bytes(&mutate(good, |b| b.padding[3] = 1)),
            Errno::EINVAL,
        ),
        (
            "memory-type flag",
            bytes(&with_vtd_flags(good, VtdGpasidFlags::PCD.bits())),
            Errno::EINVAL,
        ),
        (
            "unknown VT-d flag",
            bytes(&with_vtd_flags(good, 1 << 9)),
            Errno::EINVAL,
        ),
        (
            "hpasid 0",
            bytes(&mutate(good, |b| b.hpasid = 0)),
            Errno::EINVAL,
        ),
        // (the cases above are refused by the decode, for unbind too)
        (
            "hpasid 2^20",
            bytes(&mutate(good, |b| b.hpasid = 1 << 20)),
            Errno::EINVAL,
        ),
        (
            "hpasid not owned",
            bytes(&bind(if p == HostPasid(300) { 301 } else { 300 }, None)),
            Errno::EINVAL,
        ),
        ("gpasid 0", bytes(&bind(p.0, Some(0))), Errno::EINVAL),
        (
            "gpasid 2^20",
            bytes(&bind(p.0, Some(1 << 20))),
            Errno::EINVAL,
        ),
        (
            "address width 39",
            bytes(&mutate(good, |b| b.addr_width = 39)),
            Errno::EINVAL,
        ),
        (
            "5-level without FL5LP",
            bytes(&mutate(good, |b| b.addr_width = 57)),
            Errno::EINVAL,
        ),
        (
            "host PASID bound twice",
            bytes(&bind(q.0, None)),
            Errno::EBUSY,
        ),
        (
            "guest PASID in use",
            bytes(&bind(p.0, Some(7))),
            Errno::EBUSY,
        ),
    ];
    for (i, (what, payload, errno)) in cases.into_iter().enumerate() {
        assert_refused(what, &vm, &model, errno, || vm.bind_gpasid(&payload));
        // Unbind takes the same struct through the same checks (iommu_uapi_sva_unbind_gpasid).
        if i < DECODE_LEVEL {
            assert_refused(what, &vm, &model, errno, || vm.unbind_gpasid(&payload));
        }
    }
    // Bytes past the kernel's struct are ignored (v5.10 copies min(argsz, size)).
    let mut long = g.clone();
    long[0] = 200;
    long.resize(200, 0xff);
    vm.bind_gpasid(&long).unwrap();
    assert_eq!(model.vm_state(vm.id()).pasid_entries.len(), 2);
    assert_eq!(model.violations(), 0);
}

#[test]
fn bind_checks_the_hosts_capabilities() {
    // A VT-d without SRS, EAFS or FL5LP refuses SRE, EAFE and 57-bit tables; one with
    // them accepts each.
    let bare = HostIommu::vtd_default();
    let HostIommu::Vtd(caps) = bare else {
        unreachable!()
    };
    let without = HostIommu::Vtd(VtdCapabilities::decode(
        caps.cap_reg,
        caps.ecap_reg & !((1 << 31) | (1 << 34)),
    ));
    let with = HostIommu::Vtd(VtdCapabilities::decode(
        caps.cap_reg | (1 << 60),
        caps.ecap_reg,
    ));
    for (host, accepted) in [(without, false), (with, true)] {
        let model = SoftwareIommu::new(host);
        let viommu = Viommu::new(model.clone());
        let vm = viommu.create_vm(VmConfig::default());
        for (what, b) in [
            (
                "SRE",
                with_vtd_flags(bind(0, None), VtdGpasidFlags::SRE.bits()),
            ),
            (
                "EAFE",
                with_vtd_flags(bind(0, None), VtdGpasidFlags::EAFE.bits()),
            ),
            ("57-bit", mutate(bind(0, None), |b| b.addr_width = 57)),
        ] {
            let p = vm.alloc_pasid(1, 1000).unwrap();
            let payload = bytes(&mutate(b, |b| b.hpasid = u64::from(p)));
            if accepted {
                vm.bind_gpasid(&payload)
                    .unwrap_or_else(|e| panic!("{what}: {e}"));
            } else {
                assert_refused(what, &vm, &model, Errno::EINVAL, || {
                    vm.bind_gpasid(&payload)
                });
            }
        }
    }
    // A host with 10-bit PASIDs: a PASID above 2^10 - 1 cannot be bound or allocated.
    let narrow = HostIommu::Vtd(VtdCapabilities::decode(
        caps.cap_reg,
        (caps.ecap_reg & !(0x1f << 35)) | (9 << 35),
    ));
    let model = SoftwareIommu::new(narrow);
    let viommu = Viommu::new(model.clone());
    let vm = viommu.create_vm(VmConfig::default());
    assert_eq!(narrow.max_pasid(), 1023);
    for _ in 0..100 {
        assert!(vm.alloc_pasid(1, u32::MAX).unwrap() <= HostPasid(1023));
    }
    assert_refused(
        "PASID beyond the host width",
        &vm,
        &model,
        Errno::EINVAL,
        || vm.bind_gpasid(&bytes(&bind(5000, None))),
    );
    let err = vm.alloc_pasid(2000, 3000).unwrap_err();
    assert_eq!(err.errno(), Errno::ENOSPC);
}

#[test]
fn bind_and_unbind_reach_the_backend_once_and_unbind_is_idempotent() {
    let (model, viommu) = vtd();
    let vm = viommu.create_vm(VmConfig::default());
    // Above 42: guest PASID 42 must not be one of the VM's host PASIDs.
    let p = vm.alloc_pasid(43, 1 << 19).unwrap();
    let payload = bytes(&bind(p.0, Some(42)));
    vm.bind_gpasid(&payload).unwrap();
    let st = model.vm_state(vm.id());
    let entry = st.pasid_entries[&p];
    assert_eq!(
        (entry.gpasid, entry.gpgd, entry.addr_width),
        (Some(GuestPasid(42)), 0x1234_5000, 48)
    );
    assert_eq!(vm.snapshot().binds[&p], entry);
    vm.unbind_gpasid(&payload).unwrap();
    vm.unbind_gpasid(&payload).unwrap();
    let st = model.vm_state(vm.id());
    assert!(st.pasid_entries.is_empty());
    assert_eq!(
        st.log
            .iter()
            .filter(|e| matches!(e, Event::Unbind(_)))
            .count(),
        1,
        "the second unbind must not reach the backend"
    );
    // The guest PASID is free again for another host PASID.
    let q = vm.alloc_pasid(1, 1 << 19).unwrap();
    vm.bind_gpasid(&bytes(&bind(q.0, Some(42)))).unwrap();
    // Unbinding a PASID the VM does not own is an invalid handle.
    assert_refused("unbind not owned", &vm, &model, Errno::EINVAL, || {
        vm.unbind_gpasid(&bytes(&bind(if q == HostPasid(9) { 10 } else { 9 }, None)))
    });
    assert_eq!(model.violations(), 0);
}

#[test]
fn a_backend_failure_leaves_no_state_behind() {
    let (model, viommu) = vtd();
    let vm = viommu.create_vm(VmConfig::default());
    let p = vm.alloc_pasid(1, 1000).unwrap();
    model.fail_next_bind(Errno::ENOMEM);
    assert_refused("backend ENOMEM", &vm, &model, Errno::ENOMEM, || {
        vm.bind_gpasid(&bytes(&bind(p.0, Some(3))))
    });
    // The guest PASID was not taken by the failed bind.
    vm.bind_gpasid(&bytes(&bind(p.0, Some(3)))).unwrap();
}

#[test]
fn pasid_alloc_and_free_respect_ranges_quotas_and_ownership() {
    let (model, viommu) = vtd();
    let config = VmConfig {
        max_pasids: 8,
        ..VmConfig::default()
    };
    let a = viommu.create_vm(config);
    let b = viommu.create_vm(config);
    let mine: Vec<u32> = (0..8).map(|_| a.alloc_pasid(100, 200).unwrap().0).collect();
    assert!(mine.iter().all(|p| (100..=200).contains(p)));
    let err = a.alloc_pasid(1, 1000).unwrap_err();
    assert_eq!(err.errno(), Errno::ENOSPC, "quota");
    // A range with a single PASID, taken by the other VM.
    let only = b.alloc_pasid(5, 5).unwrap();
    assert_eq!(only, HostPasid(5));
    let err = a.alloc_pasid(5, 5);
    assert_eq!(err.map_err(|e| e.errno()), Err(Errno::ENOSPC));
    // PASID 0 is never handed out.
    assert_eq!(b.alloc_pasid(0, 1).unwrap(), HostPasid(1));
    // B freeing A's range frees nothing of A's.
    let before = a.snapshot();
    b.free_pasids(HostPasid(0), HostPasid(u32::MAX));
    assert_eq!(a.snapshot(), before);
    assert!(mine.iter().all(|p| viommu.pasid_space().is_allocated(*p)));
    // Free a sub-range, twice: idempotent.
    a.free_pasids(HostPasid(100), HostPasid(150));
    a.free_pasids(HostPasid(100), HostPasid(150));
    let left: Vec<u32> = mine.iter().copied().filter(|p| *p > 150).collect();
    assert_eq!(
        a.snapshot()
            .pasids
            .into_iter()
            .map(|p| p.0)
            .collect::<Vec<_>>(),
        {
            let mut l = left.clone();
            l.sort();
            l
        }
    );
    // Freeing a bound PASID unbinds it first.
    let p = left[0];
    a.bind_gpasid(&bytes(&bind(p, None))).unwrap();
    a.free_pasids(HostPasid(p), HostPasid(p));
    assert!(!model
        .vm_state(a.id())
        .pasid_entries
        .contains_key(&HostPasid(p)));
    assert!(!viommu.pasid_space().is_allocated(p));
    assert_eq!(model.violations(), 0);
}

#[test]
fn invalidation_refusals_have_the_kernels_errno() {
    let (model, viommu) = vtd();
    let vm = viommu.create_vm(VmConfig::default());
    let p = vm.alloc_pasid(1, 1000).unwrap();
    let other = if p == HostPasid(1001) { 1002 } else { 1001 };
    let good = inv_addr(p.0, 0x4000_0000, 4096, 16);
    let cases: Vec<(&str, CacheInvalidateInfo, Errno)> = vec![
        ("version 0", mutate(good, |i| i.version = 0), Errno::EINVAL),
        (
            "unknown cache bit",
            mutate(good, |i| i.cache |= 1 << 3),
            Errno::EINVAL,
        ),
        (
            "granularity 3",
            mutate(good, |i| i.granularity = 3),
            Errno::EINVAL,
        ),
        ("padding", mutate(good, |i| i.padding[5] = 9), Errno::EINVAL),
        (
            "argsz short of addr_info",
            mutate(good, |i| i.argsz = 40),
            Errno::EINVAL,
        ),
        (
            "PASID cache at ADDR (generic)",
            mutate(good, |i| i.cache = 0b100),
            Errno::EINVAL,
        ),
        (
            "IOTLB at DOMAIN (VT-d table)",
            CacheInvalidateInfo::new(CacheInvType::IOTLB, Granu::Domain),
            Errno::EINVAL,
        ),
        (
            "device IOTLB at PASID (VT-d table)",
            mutate(inv_pasid(p.0), |i| i.cache = 0b10),
            Errno::EINVAL,
        ),
        (
            "unknown addr flag",
            mutate(good, |i| i.granu[0] |= 1 << 3),
            Errno::EINVAL,
        ),
        ("PASID not owned", inv_pasid(other), Errno::EINVAL),
        ("granule 0", inv_addr(p.0, 0, 0, 1), Errno::EINVAL),
        (
            "granule not a power of two",
            inv_addr(p.0, 0, 3 << 12, 1),
            Errno::EINVAL,
        ),
        (
            "granule below 4 KiB",
            inv_addr(p.0, 0, 512, 8),
            Errno::EINVAL,
        ),
        ("no granules", inv_addr(p.0, 0, 4096, 0), Errno::EINVAL),
        (
            "size overflows",
            inv_addr(p.0, 0, 1 << 40, 1 << 30),
            Errno::EINVAL,
        ),
        (
            "end overflows",
            inv_addr(p.0, u64::MAX - 4095, 4096, 2),
            Errno::EINVAL,
        ),
    ];
    for (what, info, errno) in cases {
        assert_refused(what, &vm, &model, errno, || {
            vm.cache_invalidate(&bytes(&info))
        });
    }
    // Truncated user memory is EFAULT.
    assert_refused("16 of 56 readable", &vm, &model, Errno::EFAULT, || {
        vm.cache_invalidate(&bytes(&good)[..20])
    });
    // A misaligned address is rounded down (v5.10 only logs it); the backend sees the
    // host PASID and the checked length.
    vm.cache_invalidate(&bytes(&inv_addr(p.0, 0x4000_0123, 4096, 16)))
        .unwrap();
    let st = model.vm_state(vm.id());
    let Some(Event::Invalidate(inv)) = st.log.back() else {
        panic!("no invalidation")
    };
    assert_eq!(
        inv.scope,
        InvalidationScope::Addr {
            pasid: Some(p),
            archid: None,
            addr: 0x4000_0000,
            last: 0x4000_0000 + 16 * 4096 - 1,
            granule_size: 4096,
            leaf: false
        }
    );
    // Idempotent: the same invalidation again succeeds and is forwarded again.
    vm.cache_invalidate(&bytes(&inv_pasid(p.0))).unwrap();
    vm.cache_invalidate(&bytes(&inv_pasid(p.0))).unwrap();
    assert_eq!(model.vm_state(vm.id()).invalidations, 3);
    // The smallest argsz for PASID granularity (32) is enough.
    let mut short = bytes(&inv_pasid(p.0));
    short[0] = 32;
    short.truncate(32);
    vm.cache_invalidate(&short).unwrap();
}

#[test]
fn unsupported_features_are_eopnotsupp() {
    let (model, viommu) = smmu();
    let vm = viommu.create_vm(VmConfig::default());
    assert!(!vm.features().contains(NestingFeatures::BIND_PGTBL));
    let p = vm.alloc_pasid(1, 100).unwrap();
    assert_refused("bind on SMMUv3", &vm, &model, Errno::EOPNOTSUPP, || {
        vm.bind_gpasid(&bytes(&bind(p.0, None)))
    });
    let (model, viommu) = vtd();
    let vm = viommu.create_vm(VmConfig::default());
    assert_refused(
        "PASID table on VT-d",
        &vm,
        &model,
        Errno::EOPNOTSUPP,
        || vm.set_pasid_table(&bytes(&table(PasidTableConfigKind::Translate, 16))),
    );
    // A host without PASID support offers nothing.
    let bare = HostIommu::Vtd(VtdCapabilities::decode(0, 0));
    assert!(bare.features().is_empty());
    let model = SoftwareIommu::new(bare);
    let viommu = Viommu::new(model.clone());
    let vm = viommu.create_vm(VmConfig::default());
    assert_eq!(
        vm.alloc_pasid(1, 10).unwrap_err().errno(),
        Errno::EOPNOTSUPP
    );
    assert_refused(
        "invalidate without nesting",
        &vm,
        &model,
        Errno::EOPNOTSUPP,
        || vm.cache_invalidate(&bytes(&inv_pasid(1))),
    );
}

#[test]
fn pasid_table_binds_are_checked_against_the_smmu() {
    let (model, viommu) = smmu();
    let vm = viommu.create_vm(VmConfig::default());
    let good = table(PasidTableConfigKind::Translate, 16);
    let smmu_field = |t: &mut vsva_uapi::PasidTableConfig,
                      f: &dyn Fn(&mut vsva_uapi::PasidSmmuv3)| {
        let mut s = t.smmuv3().unwrap();
        f(&mut s);
        t.set_smmuv3(s);
    };
    let cases: Vec<(&str, vsva_uapi::PasidTableConfig, Errno)> = vec![
        ("version 2", mutate(good, |t| t.version = 2), Errno::EINVAL),
        ("config 0", mutate(good, |t| t.config = 0), Errno::EINVAL),
        ("config 4", mutate(good, |t| t.config = 4), Errno::EINVAL),
        ("format 2", mutate(good, |t| t.format = 2), Errno::EINVAL),
        ("padding", mutate(good, |t| t.padding[1] = 1), Errno::EINVAL),
        (
            "argsz without vendor data",
            mutate(good, |t| t.argsz = 24),
            Errno::EINVAL,
        ),
        (
            "vendor version 2",
            mutate(good, |t| smmu_field(t, &|s| s.version = 2)),
            Errno::EINVAL,
        ),
        (
            "21 PASID bits",
            mutate(good, |t| t.pasid_bits = 21),
            Errno::EINVAL,
        ),
        (
            "S1Fmt 3",
            mutate(good, |t| smmu_field(t, &|s| s.s1fmt = 3)),
            Errno::EINVAL,
        ),
        (
            "S1DSS 3",
            mutate(good, |t| smmu_field(t, &|s| s.s1dss = 3)),
            Errno::EINVAL,
        ),
        (
            "misaligned CD table",
            mutate(good, |t| t.base_ptr = 0x8000_0020),
            Errno::EINVAL,
        ),
    ];
    for (what, t, errno) in cases {
        assert_refused(what, &vm, &model, errno, || vm.set_pasid_table(&bytes(&t)));
    }
    vm.set_pasid_table(&bytes(&good)).unwrap();
    assert_eq!(
        model.vm_state(vm.id()).pasid_table.map(|t| t.pasid_bits),
        Some(16)
    );
    // Replacing the config (the guest rewrote its STE) and clearing it twice.
    vm.set_pasid_table(&bytes(&table(PasidTableConfigKind::Abort, 0)))
        .unwrap();
    vm.clear_pasid_table();
    vm.clear_pasid_table();
    assert!(model.vm_state(vm.id()).pasid_table.is_none());
    // Invalidations name substream ids within the table's width.
    vm.set_pasid_table(&bytes(&table(PasidTableConfigKind::Translate, 4)))
        .unwrap();
    vm.cache_invalidate(&bytes(&inv_pasid(15))).unwrap();
    assert_refused(
        "substream beyond the table",
        &vm,
        &model,
        Errno::EINVAL,
        || vm.cache_invalidate(&bytes(&inv_pasid(16))),
    );
    assert_eq!(model.violations(), 0);
}

fn read_all<B: vsva_viommu::Backend>(vm: &Vm<B>) -> Vec<Fault> {
    let mut buf = vec![0u8; 64 * 8];
    let n = vm.read_faults(&mut buf);
    assert_eq!(n % 64, 0);
    buf[..n]
        .chunks(64)
        .map(|c| Fault::read_from_bytes(c).unwrap())
        .collect()
}

#[test]
fn page_requests_are_routed_translated_and_answered_once() {
    let (model, viommu) = vtd();
    let a = viommu.create_vm(VmConfig::default());
    let b = viommu.create_vm(VmConfig::default());
    a.attach_device(DeviceId(0x10)).unwrap();
    b.attach_device(DeviceId(0x20)).unwrap();
    assert_eq!(
        b.attach_device(DeviceId(0x10)).unwrap_err().errno(),
        Errno::EBUSY
    );
    let p = a.alloc_pasid(1, 1000).unwrap();
    a.bind_gpasid(&bytes(&bind(p.0, Some(5000)))).unwrap();

    model.inject_page_request(&viommu, request(0x10, Some(p.0), 5, true));
    assert!(read_all(&b).is_empty(), "B sees nothing of A's device");
    let faults = read_all(&a);
    assert_eq!(faults.len(), 1);
    let prm = faults[0].prm().unwrap();
    assert_eq!(
        (prm.pasid, prm.grpid),
        (5000, 5),
        "the VM sees its guest PASID"
    );
    assert_eq!(read_all(&a).len(), 0, "read once");

    let resp = |grpid, pasid| bytes(&response(grpid, pasid, PageResponseCode::Success.raw()));
    assert_refused("wrong group", &a, &model, Errno::EINVAL, || {
        a.page_response(DeviceId(0x10), &resp(6, Some(5000)))
    });
    assert_refused("PASID needed, missing", &a, &model, Errno::EINVAL, || {
        a.page_response(DeviceId(0x10), &resp(5, None))
    });
    assert_refused("PASID needed, host one", &a, &model, Errno::EINVAL, || {
        a.page_response(DeviceId(0x10), &resp(5, Some(p.0)))
    });
    assert_refused("other VM answers", &b, &model, Errno::ENODEV, || {
        b.page_response(DeviceId(0x10), &resp(5, Some(5000)))
    });
    assert_refused("bad version", &a, &model, Errno::EINVAL, || {
        a.page_response(
            DeviceId(0x10),
            &bytes(&mutate(response(5, Some(5000), 0), |r| r.version = 2)),
        )
    });
    assert_refused("bad code", &a, &model, Errno::EINVAL, || {
        a.page_response(DeviceId(0x10), &bytes(&response(5, Some(5000), 3)))
    });
    assert_refused("response argsz 20", &a, &model, Errno::EINVAL, || {
        a.page_response(
            DeviceId(0x10),
            &bytes(&mutate(response(5, Some(5000), 0), |r| r.argsz = 20)),
        )
    });
    assert_refused("response cut short", &a, &model, Errno::EFAULT, || {
        a.page_response(DeviceId(0x10), &bytes(&response(5, Some(5000), 0))[..16])
    });
    assert_refused("bad flags", &a, &model, Errno::EINVAL, || {
        a.page_response(
            DeviceId(0x10),
            &bytes(&mutate(response(5, Some(5000), 0), |r| r.flags = 2)),
        )
    });
    a.page_response(DeviceId(0x10), &resp(5, Some(5000)))
        .unwrap();
    assert_eq!(model.outstanding(), 0);
    assert_refused("answered twice", &a, &model, Errno::EINVAL, || {
        a.page_response(DeviceId(0x10), &resp(5, Some(5000)))
    });
    let Some(Event::PageResponse(r)) = model.vm_state(a.id()).log.back().copied() else {
        panic!("no response reached the backend")
    };
    assert_eq!(
        (r.pasid, r.grpid, r.code),
        (Some(p), 5, PageResponseCode::Success)
    );

    // A request that does not need its PASID echoed matches on the group alone.
    model.inject_page_request(&viommu, request(0x10, Some(p.0), 9, false));
    assert_eq!(read_all(&a).len(), 1);
    a.page_response(DeviceId(0x10), &resp(9, None)).unwrap();

    // A request tagged with a PASID A does not own never reaches A.
    model.inject_page_request(&viommu, request(0x10, Some(p.0 + 1), 1, true));
    assert!(read_all(&a).is_empty());
    assert_eq!(a.stats().faults_rejected, 1);
    // A device no VM holds: answered by the model itself.
    model.inject_page_request(&viommu, request(0x99, None, 1, true));
    assert_eq!(model.unrouted(), 1);
    assert_eq!(model.outstanding(), 0);
    assert_eq!(model.violations(), 0);
}

#[test]
fn a_full_fault_queue_fails_its_oldest_request() {
    let (model, viommu) = vtd();
    let vm = viommu.create_vm(VmConfig {
        max_pending_faults: 4,
        ..VmConfig::default()
    });
    vm.attach_device(DeviceId(1)).unwrap();
    for g in 0..10 {
        model.inject_page_request(&viommu, request(1, None, g, false));
    }
    let stats = vm.stats();
    assert_eq!((stats.faults_reported, stats.faults_auto_failed), (10, 6));
    assert_eq!(
        model.outstanding(),
        4,
        "six answered FAILURE on the device's behalf"
    );
    let groups: Vec<u32> = read_all(&vm)
        .iter()
        .map(|f| f.prm().unwrap().grpid)
        .collect();
    assert_eq!(groups, [6, 7, 8, 9], "the newest four remain, oldest first");
    let failures = model
        .vm_state(vm.id())
        .log
        .iter()
        .filter(|e| matches!(e, Event::PageResponse(r) if r.code == PageResponseCode::Failure))
        .count();
    assert_eq!(failures, 6);
    // Partial requests (not the last of their group) need no answer: dropped, counted.
    let mut partial = request(1, None, 50, false);
    partial.last_page = false;
    for _ in 0..5 {
        model.inject_page_request(&viommu, partial);
    }
    assert_eq!(vm.stats().faults_dropped, 1);
    assert_eq!(vm.stats().faults_auto_failed, 10);
    assert_eq!(read_all(&vm).len(), 4);
    assert!(
        read_all(&vm).is_empty(),
        "partial requests leave the queue once read"
    );
    // Detaching the device fails what it still waits for.
    vm.detach_device(DeviceId(1));
    assert_eq!(model.outstanding(), 0);
    assert_eq!(model.violations(), 0);
}

#[test]
fn teardown_frees_everything_the_vm_held() {
    let (model, viommu) = vtd();
    let keep = viommu.create_vm(VmConfig::default());
    let kept = keep.alloc_pasid(1, 1 << 19).unwrap();
    let vm = viommu.create_vm(VmConfig::default());
    vm.attach_device(DeviceId(3)).unwrap();
    let ps: Vec<u32> = (0..20)
        .map(|_| vm.alloc_pasid(1, 1 << 19).unwrap().0)
        .collect();
    for p in &ps[..10] {
        vm.bind_gpasid(&bytes(&bind(*p, None))).unwrap();
    }
    model.inject_page_request(&viommu, request(3, Some(ps[0]), 1, true));
    let id = vm.id();
    drop(vm);
    assert!(ps.iter().all(|p| !viommu.pasid_space().is_allocated(*p)));
    assert!(viommu.pasid_space().is_allocated(kept.0));
    assert!(model.vm_state(id).pasid_entries.is_empty());
    assert_eq!(model.outstanding(), 0);
    // The device is free for another VM; the dead VM's requests no longer route.
    let other = viommu.create_vm(VmConfig::default());
    other.attach_device(DeviceId(3)).unwrap();
    assert_eq!(model.violations(), 0);
}

#[test]
fn nesting_info_is_derived_from_the_host() {
    let (_, viommu) = vtd();
    let info = viommu.nesting_info();
    let f = NestingFeatures::from_bits_retain(info.features);
    assert_eq!(f, viommu.features());
    assert!(f.contains(
        NestingFeatures::SYSWIDE_PASID
            | NestingFeatures::BIND_PGTBL
            | NestingFeatures::CACHE_INVLD
            | NestingFeatures::PAGE_REQUEST
    ));
    assert!(!f.contains(NestingFeatures::BIND_PASID_TABLE));
    assert_eq!((info.pasid_bits, info.addr_width), (20, 48));
    let HostIommu::Vtd(caps) = HostIommu::vtd_default() else {
        unreachable!()
    };
    assert_eq!(
        info.vtd().map(|v| (v.cap_reg, v.ecap_reg)),
        Some((caps.cap_reg, caps.ecap_reg))
    );
    // The encoded info decodes under the kernel's rules.
    let mut buf = [0u8; 64];
    info.encode(&mut buf).unwrap();
    assert_eq!(
        vsva_uapi::NestingInfo::from_user(&buf, vsva_uapi::Policy::Linux510).unwrap(),
        info
    );

    let (_, viommu) = smmu();
    let f = viommu.features();
    assert!(f.contains(NestingFeatures::BIND_PASID_TABLE | NestingFeatures::PAGE_REQUEST));
    assert!(!f.contains(NestingFeatures::BIND_PGTBL));
    // An SMMUv3 with stage 1 only cannot nest.
    let s1 = HostIommu::Smmuv3(Smmuv3Capabilities::decode(&[0b10, 20 << 6, 0, 0, 0, 5]));
    assert_eq!(s1.features(), NestingFeatures::SYSWIDE_PASID);
}
