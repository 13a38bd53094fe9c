//! The iommufd backend over `FakeIommufd` (a scripted kernel modelling a nesting iommufd):
//! the exact ioctls of each mapping, rollback at every step, invalidation batching and
//! partial failures, the page-request round trip with the kernel's cookie, PASID width,
//! and the features derived from `GET_HW_INFO`.

use std::sync::Arc;

use vsva_uapi::consts::{
    CacheInvType, HwptAllocFlags, InvAddrFlags, InvPasidFlags, NestingFeatures, PageResponseCode,
    PageResponseFlags, PasidTableConfigKind,
};
use vsva_uapi::{
    CacheInvalidateInfo, Errno, GpasidBindData, GpasidBindDataVtd, Granu, InvAddrInfo,
    InvPasidInfo, PageResponse, UapiStruct,
};
use vsva_vfio::cdev::{CdevDevice, VFIO_DEVICE_ATTACH_IOMMUFD_PT, VFIO_DEVICE_DETACH_IOMMUFD_PT};
use vsva_vfio::iommufd::{
    DevId, IoasId, Iommufd, HWPT_DATA_VTD_S1, IOMMU_DESTROY, IOMMU_HWPT_ALLOC,
    IOMMU_HWPT_INVALIDATE,
};
use vsva_viommu::iommufd::fake::FakeIommufd;
use vsva_viommu::iommufd::{
    probe_host, Diagnostic, IommufdBackend, IommufdConfig, IommufdDevice, NestingSupport,
    Smmuv3Ste, VtdS1,
};
use vsva_viommu::{Backend, DeviceId, HostIommu, PasidTableBind, Viommu, Vm, VmConfig, VmId};
use zerocopy::{FromZeros, IntoBytes};

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(b[at..at + 4].try_into().unwrap())
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_ne_bytes(b[at..at + 8].try_into().unwrap())
}

struct Setup {
    fake: FakeIommufd,
    iommufd: Arc<Iommufd>,
    ioas: IoasId,
    viommu: Viommu<IommufdBackend<VtdS1>>,
}

impl Setup {
    fn new(config: IommufdConfig) -> Setup {
        let fake = FakeIommufd::new(true);
        let iommufd = Arc::new(Iommufd::open(fake.kernel()).unwrap());
        let ioas = iommufd.ioas_alloc().unwrap();
        let backend = IommufdBackend::new(
            Arc::clone(&iommufd),
            HostIommu::vtd_default(),
            VtdS1,
            config,
        )
        .unwrap();
        Setup {
            fake,
            iommufd,
            ioas,
            viommu: Viommu::new(backend),
        }
    }

    fn backend(&self) -> &IommufdBackend<VtdS1> {
        self.viommu.backend()
    }

    /// A device of `width` PASID bits, attached to `vm` as `device`.
    fn device(&self, vm: &Vm<IommufdBackend<VtdS1>>, device: u32, width: u8) -> DevId {
        let path = self.fake.add_device(width);
        let cdev = CdevDevice::open(self.fake.kernel(), &path).unwrap();
        let dev_id = cdev.bind(&self.iommufd).unwrap();
        vm.attach_device(DeviceId(device)).unwrap();
        self.backend()
            .add_device(
                vm.id(),
                DeviceId(device),
                IommufdDevice::new(dev_id, self.ioas, width, Box::new(cdev)),
            )
            .unwrap();
        dev_id
    }

    fn calls_since(&self, n: usize) -> Vec<vsva_vfio::scripted::Recorded> {
        self.fake.calls().split_off(n)
    }
}

fn bind(hpasid: u32, vtd_flags: u64) -> Vec<u8> {
    let mut b = GpasidBindData::new_zeroed();
    b.argsz = GpasidBindData::DECL.size as u32;
    b.version = 1;
    b.addr_width = 48;
    b.gpgd = 0xabcd_e000;
    b.hpasid = u64::from(hpasid);
    let mut vtd = GpasidBindDataVtd::new_zeroed();
    vtd.flags = vtd_flags;
    b.set_vtd(vtd);
    b.as_bytes().to_vec()
}

fn inv_addr(pasid: u32, addr: u64, pages: u64, leaf: bool) -> Vec<u8> {
    let mut flags = InvAddrFlags::PASID;
    flags.set(InvAddrFlags::LEAF, leaf);
    CacheInvalidateInfo::new(
        CacheInvType::IOTLB,
        Granu::Addr(InvAddrInfo {
            flags: flags.bits(),
            archid: 0,
            pasid: u64::from(pasid),
            addr,
            granule_size: 4096,
            nb_granules: pages,
        }),
    )
    .as_bytes()
    .to_vec()
}

fn inv_pasid(pasid: u32) -> Vec<u8> {
    CacheInvalidateInfo::new(
        CacheInvType::IOTLB,
        Granu::Pasid(InvPasidInfo {
            flags: InvPasidFlags::PASID.bits(),
            archid: 0,
            pasid: u64::from(pasid),
        }),
    )
    .as_bytes()
    .to_vec()
}

fn response(grpid: u32, pasid: u32, code: PageResponseCode) -> Vec<u8> {
    let mut r = PageResponse::new_zeroed();
    r.argsz = 24;
    r.version = 1;
    r.flags = PageResponseFlags::PASID_VALID.bits();
    r.pasid = pasid;
    r.grpid = grpid;
    r.code = code.raw();
    r.as_bytes().to_vec()
}

// ---- bind / unbind: the exact ioctls ---------------------------------------------------

#[test]
fn bind_allocates_a_parent_a_nested_vtd_s1_hwpt_and_attaches_the_pasid() {
    let s = Setup::new(IommufdConfig::default());
    let vm = s.viommu.create_vm(VmConfig::default());
    let dev = s.device(&vm, 0x10, 20);
    let fault_id = s.backend().fault_queue().unwrap().id.0;
    let p = vm.alloc_pasid(1, 1000).unwrap();
    let n = s.fake.calls().len();
    // SRE (bit 0) and EAFE (bit 1): the host has SRS and EAFS.
    vm.bind_gpasid(&bind(p.0, 0b11)).unwrap();
    let calls = s.calls_since(n);
    let reqs: Vec<u32> = calls.iter().map(|c| c.request).collect();
    assert_eq!(
        reqs,
        [
            IOMMU_HWPT_ALLOC,
            IOMMU_HWPT_ALLOC,
            VFIO_DEVICE_ATTACH_IOMMUFD_PT
        ]
    );

    // 1. The nest parent on the VM's IOAS: the 24-byte v6.6 struct.
    let parent = &calls[0].arg;
    assert_eq!(parent.len(), 24);
    assert_eq!(u32_at(parent, 4), HwptAllocFlags::NEST_PARENT.bits());
    assert_eq!((u32_at(parent, 8), u32_at(parent, 12)), (dev.0, s.ioas.0));
    let objects = s.backend().device_objects(DeviceId(0x10)).unwrap();
    let (parent_id, nested_id) = (objects.parent.unwrap(), objects.nested[&p]);

    // 2. The nested HWPT: 48 bytes (fault queue), VT-d stage-1 data on the parent.
    let nested = &calls[1].arg;
    assert_eq!(nested.len(), 48);
    assert_eq!(u32_at(nested, 4), HwptAllocFlags::FAULT_ID_VALID.bits());
    assert_eq!(
        (u32_at(nested, 8), u32_at(nested, 12)),
        (dev.0, parent_id.0)
    );
    assert_eq!(
        (u32_at(nested, 24), u32_at(nested, 28)),
        (HWPT_DATA_VTD_S1, 24)
    );
    assert_eq!(u32_at(nested, 40), fault_id);
    let data = s.fake.hwpts()[&nested_id.0].data.clone();
    assert_eq!(u64_at(&data, 0), 0b11, "IOMMU_VTD_S1_SRE | EAFE");
    assert_eq!(u64_at(&data, 8), 0xabcd_e000, "gpgd → pgtbl_addr");
    assert_eq!((u32_at(&data, 16), u32_at(&data, 20)), (48, 0));

    // 3. The PASID attach: 16 bytes, VFIO_DEVICE_ATTACH_PASID.
    let attach = &calls[2].arg;
    assert_eq!(attach.len(), 16);
    assert_eq!(
        (u32_at(attach, 4), u32_at(attach, 8), u32_at(attach, 12)),
        (1, nested_id.0, p.0)
    );
    assert_eq!(
        s.fake.pasid_attachments().into_iter().collect::<Vec<_>>(),
        [((dev.0, p.0), nested_id.0)]
    );

    // Unbind: detach the PASID (12 bytes), destroy the nested HWPT; the parent stays.
    let n = s.fake.calls().len();
    vm.unbind_gpasid(&bind(p.0, 0b11)).unwrap();
    let calls = s.calls_since(n);
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].request, VFIO_DEVICE_DETACH_IOMMUFD_PT);
    assert_eq!(calls[0].arg.len(), 12);
    assert_eq!(
        (u32_at(&calls[0].arg, 4), u32_at(&calls[0].arg, 8)),
        (1, p.0)
    );
    assert_eq!(calls[1].request, IOMMU_DESTROY);
    assert_eq!(u32_at(&calls[1].arg, 4), nested_id.0);
    assert_eq!(
        s.fake.hwpts().keys().copied().collect::<Vec<_>>(),
        [parent_id.0]
    );

    // A second bind reuses the parent: two calls.
    let n = s.fake.calls().len();
    vm.bind_gpasid(&bind(p.0, 0)).unwrap();
    let reqs: Vec<u32> = s.calls_since(n).iter().map(|c| c.request).collect();
    assert_eq!(reqs, [IOMMU_HWPT_ALLOC, VFIO_DEVICE_ATTACH_IOMMUFD_PT]);
    assert!(s.backend().diagnostics().is_empty());
}

#[test]
fn one_bind_installs_on_every_device_of_the_vm_and_a_late_device_gets_it_too() {
    let s = Setup::new(IommufdConfig::default());
    let vm = s.viommu.create_vm(VmConfig::default());
    let d1 = s.device(&vm, 1, 20);
    let d2 = s.device(&vm, 2, 20);
    let p = vm.alloc_pasid(1, 1000).unwrap();
    vm.bind_gpasid(&bind(p.0, 0)).unwrap();
    let att = s.fake.pasid_attachments();
    assert!(att.contains_key(&(d1.0, p.0)) && att.contains_key(&(d2.0, p.0)));
    assert_eq!(s.fake.hwpts().len(), 4, "a parent and a nested HWPT each");
    let d3 = s.device(&vm, 3, 20);
    assert!(s.fake.pasid_attachments().contains_key(&(d3.0, p.0)));
    s.backend().remove_device(DeviceId(3));
    assert!(!s.fake.pasid_attachments().contains_key(&(d3.0, p.0)));
    assert_eq!(
        s.fake.hwpts().len(),
        4,
        "the removed device's HWPTs are gone"
    );
}

// ---- rollback ------------------------------------------------------------------------

#[test]
fn a_failure_at_each_step_of_a_bind_leaves_no_object_behind() {
    // (request, calls of it to let through, errno): parent, nested HWPT, PASID attach.
    let steps = [
        (IOMMU_HWPT_ALLOC, 0, Errno::ENOMEM),
        (IOMMU_HWPT_ALLOC, 1, Errno::EINVAL),
        (VFIO_DEVICE_ATTACH_IOMMUFD_PT, 0, Errno::EBUSY),
        // The second device's attach: the first device's bind is undone.
        (VFIO_DEVICE_ATTACH_IOMMUFD_PT, 1, Errno::ENODEV),
        // The second device's parent.
        (IOMMU_HWPT_ALLOC, 2, Errno::ENOSPC),
    ];
    for (request, skip, errno) in steps {
        let s = Setup::new(IommufdConfig::default());
        let vm = s.viommu.create_vm(VmConfig::default());
        s.device(&vm, 1, 20);
        s.device(&vm, 2, 20);
        let p = vm.alloc_pasid(1, 1000).unwrap();
        s.fake.fail(request, skip, errno);
        let r = vm.bind_gpasid(&bind(p.0, 0));
        assert_eq!(r.map_err(|e| e.errno()), Err(errno), "{request:#x}+{skip}");
        assert!(
            s.fake.hwpts().is_empty(),
            "{request:#x}+{skip}: {:?}",
            s.fake.hwpts()
        );
        assert!(s.fake.pasid_attachments().is_empty());
        assert!(vm.snapshot().binds.is_empty());
        for d in [1, 2] {
            let o = s.backend().device_objects(DeviceId(d)).unwrap();
            assert_eq!(o, Default::default(), "device {d}");
        }
        assert!(s.backend().diagnostics().is_empty());
        // Every HWPT allocated was destroyed, by id.
        let allocated = s.backend().stats().hwpts_allocated;
        assert_eq!(s.backend().stats().hwpts_destroyed, allocated);
        // And the same bind then succeeds.
        vm.bind_gpasid(&bind(p.0, 0)).unwrap();
        assert_eq!(s.fake.pasid_attachments().len(), 2);
    }
}

#[test]
fn a_failed_bind_keeps_a_parent_allocated_earlier() {
    let s = Setup::new(IommufdConfig::default());
    let vm = s.viommu.create_vm(VmConfig::default());
    s.device(&vm, 1, 20);
    let (p, q) = (
        vm.alloc_pasid(1, 1000).unwrap(),
        vm.alloc_pasid(1, 1000).unwrap(),
    );
    vm.bind_gpasid(&bind(p.0, 0)).unwrap();
    let before = s.fake.hwpts();
    s.fake.fail(VFIO_DEVICE_ATTACH_IOMMUFD_PT, 0, Errno::EINVAL);
    assert!(vm.bind_gpasid(&bind(q.0, 0)).is_err());
    assert_eq!(s.fake.hwpts(), before);
}

#[test]
fn a_pasid_beyond_the_devices_width_is_refused_before_any_ioctl() {
    let s = Setup::new(IommufdConfig::default());
    let vm = s.viommu.create_vm(VmConfig::default());
    s.device(&vm, 1, 4); // PASIDs 0..16
    let wide = vm.alloc_pasid(16, 1000).unwrap();
    let n = s.fake.calls().len();
    let r = vm.bind_gpasid(&bind(wide.0, 0));
    assert_eq!(r.map_err(|e| e.errno()), Err(Errno::EINVAL));
    assert_eq!(s.fake.calls().len(), n, "no ioctl");
    assert!(vm.snapshot().binds.is_empty());
    let narrow = vm.alloc_pasid(1, 15).unwrap();
    vm.bind_gpasid(&bind(narrow.0, 0)).unwrap();
    // A device too narrow for a bind the VM holds cannot join it.
    let path = s.fake.add_device(0);
    let cdev = CdevDevice::open(s.fake.kernel(), &path).unwrap();
    let dev_id = cdev.bind(&s.iommufd).unwrap();
    let r = s.backend().add_device(
        vm.id(),
        DeviceId(2),
        IommufdDevice::new(dev_id, s.ioas, 0, Box::new(cdev)),
    );
    assert_eq!(r, Err(Errno::EINVAL));
    assert_eq!(s.backend().device_objects(DeviceId(2)), None);
}

#[test]
fn a_refused_smmuv3_table_leaves_nothing_and_the_ste_words_are_built() {
    let fake = FakeIommufd::new(true);
    let iommufd = Arc::new(Iommufd::open(fake.kernel()).unwrap());
    let ioas = iommufd.ioas_alloc().unwrap();
    let backend = IommufdBackend::new(
        Arc::clone(&iommufd),
        HostIommu::smmuv3_default(),
        Smmuv3Ste,
        IommufdConfig::default(),
    )
    .unwrap();
    let path = fake.add_device(20);
    let cdev = CdevDevice::open(fake.kernel(), &path).unwrap();
    let dev_id = cdev.bind(&iommufd).unwrap();
    backend
        .add_device(
            VmId(1),
            DeviceId(1),
            IommufdDevice::new(dev_id, ioas, 20, Box::new(cdev)),
        )
        .unwrap();
    let table = PasidTableBind {
        config: PasidTableConfigKind::Translate,
        base_ptr: 0x8000_0000,
        pasid_bits: 8,
        s1fmt: 1,
        s1dss: 1,
    };
    let n = fake.calls().len();
    // The fake is a VT-d kernel: it refuses SMMUv3 data (EOPNOTSUPP) after the parent.
    assert_eq!(
        backend.set_pasid_table(VmId(1), &table),
        Err(Errno::EOPNOTSUPP)
    );
    let calls = fake.calls().split_off(n);
    let nested = calls
        .iter()
        .find(|c| c.request == IOMMU_HWPT_ALLOC && c.arg.len() == 48)
        .expect("the nested HWPT was asked for");
    assert_eq!(
        (u32_at(&nested.arg, 24), u32_at(&nested.arg, 28)),
        (2, 16),
        "IOMMU_HWPT_DATA_ARM_SMMUV3, two STE words"
    );
    assert!(fake.hwpts().is_empty(), "the parent went too");
    let [w0, w1] = Smmuv3Ste::ste(&table);
    assert_eq!(w0, 1 | (0b101 << 1) | (1 << 4) | 0x8000_0000 | (8 << 59));
    assert_eq!(w1, 1);
    let bypass = Smmuv3Ste::ste(&PasidTableBind {
        config: PasidTableConfigKind::Bypass,
        ..table
    });
    assert_eq!(bypass, [1 | (0b100 << 1), 0], "no stage-1 fields");
    // SMMUv3 nested HWPTs take no HWPT_INVALIDATE: counted, nothing sent.
    backend.invalidate(
        VmId(1),
        &vsva_viommu::Invalidation {
            caches: CacheInvType::IOTLB,
            scope: vsva_viommu::InvalidationScope::Domain,
        },
    );
    assert_eq!(backend.stats().invalidations_unsupported, 1);
}

// ---- invalidation batching -----------------------------------------------------------

#[test]
fn k_invalidations_of_one_hwpt_go_down_as_one_array() {
    let s = Setup::new(IommufdConfig::default());
    let vm = s.viommu.create_vm(VmConfig::default());
    s.device(&vm, 1, 20);
    let (p, q) = (
        vm.alloc_pasid(1, 1000).unwrap(),
        vm.alloc_pasid(1, 1000).unwrap(),
    );
    vm.bind_gpasid(&bind(p.0, 0)).unwrap();
    vm.bind_gpasid(&bind(q.0, 0)).unwrap();
    let hp = s.backend().device_objects(DeviceId(1)).unwrap().nested[&p];
    let hq = s.backend().device_objects(DeviceId(1)).unwrap().nested[&q];
    for i in 0..5u64 {
        vm.cache_invalidate(&inv_addr(p.0, 0x10_0000 + i * 0x2000, 2, i == 4))
            .unwrap();
    }
    assert!(s.fake.invalidations().is_empty(), "queued, not sent");
    // Naming another HWPT sends the first batch.
    vm.cache_invalidate(&inv_pasid(q.0)).unwrap();
    let inv = s.fake.invalidations();
    assert_eq!(inv.len(), 1);
    assert_eq!(
        (inv[0].hwpt, inv[0].entries.len(), inv[0].handled),
        (hp.0, 5, 5)
    );
    assert_eq!((inv[0].data_type, inv[0].entry_len), (0, 24));
    let e = &inv[0].entries;
    assert_eq!(
        (u64_at(&e[1], 0), u64_at(&e[1], 8), u32_at(&e[1], 16)),
        (0x10_2000, 2, 0)
    );
    assert_eq!(u32_at(&e[4], 16), 1, "IOMMU_VTD_INV_FLAGS_LEAF");
    // The request struct: 32 bytes, entry_num 5.
    let call = s
        .fake
        .calls()
        .into_iter()
        .find(|c| c.request == IOMMU_HWPT_INVALIDATE)
        .unwrap();
    assert_eq!((call.arg.len(), u32_at(&call.arg, 4)), (32, hp.0));
    assert_eq!((u32_at(&call.arg, 20), u32_at(&call.arg, 24)), (24, 5));
    // flush() sends the PASID-selective one: addr 0, npages u64::MAX.
    s.backend().flush(vm.id());
    let inv = s.fake.invalidations();
    assert_eq!(inv.len(), 2);
    assert_eq!(inv[1].hwpt, hq.0);
    assert_eq!(
        (u64_at(&inv[1].entries[0], 0), u64_at(&inv[1].entries[0], 8)),
        (0, u64::MAX)
    );
    // An unbind flushes first.
    vm.cache_invalidate(&inv_pasid(p.0)).unwrap();
    vm.unbind_gpasid(&bind(p.0, 0)).unwrap();
    assert_eq!(s.fake.invalidations().len(), 3);
    let st = s.backend().stats();
    assert_eq!(
        (st.invalidate_calls, st.entries_sent, st.entries_handled),
        (3, 7, 7)
    );
}

#[test]
fn a_full_batch_is_sent_at_max_batch() {
    let s = Setup::new(IommufdConfig {
        max_batch: 2,
        ..IommufdConfig::default()
    });
    let vm = s.viommu.create_vm(VmConfig::default());
    s.device(&vm, 1, 20);
    let p = vm.alloc_pasid(1, 1000).unwrap();
    vm.bind_gpasid(&bind(p.0, 0)).unwrap();
    for _ in 0..5 {
        vm.cache_invalidate(&inv_pasid(p.0)).unwrap();
    }
    let sizes: Vec<usize> = s
        .fake
        .invalidations()
        .iter()
        .map(|i| i.entries.len())
        .collect();
    assert_eq!(sizes, [2, 2]);
    s.backend().flush_all();
    assert_eq!(s.fake.invalidations().len(), 3);
}

#[test]
fn a_partial_failure_reports_exactly_the_entries_handled() {
    let s = Setup::new(IommufdConfig::default());
    let vm = s.viommu.create_vm(VmConfig::default());
    s.device(&vm, 1, 20);
    let p = vm.alloc_pasid(1, 1000).unwrap();
    vm.bind_gpasid(&bind(p.0, 0)).unwrap();
    let hwpt = s.backend().device_objects(DeviceId(1)).unwrap().nested[&p];
    for i in 0..4u64 {
        vm.cache_invalidate(&inv_addr(p.0, i * 0x1000, 1, false))
            .unwrap();
    }
    s.fake.fail_invalidate_entry(2, Errno::EINVAL);
    s.backend().flush(vm.id());
    let st = s.backend().stats();
    assert_eq!(
        (
            st.invalidate_calls,
            st.entries_sent,
            st.entries_handled,
            st.invalidate_failures
        ),
        (1, 4, 2, 1)
    );
    assert_eq!(
        s.backend().diagnostics(),
        [Diagnostic::InvalidateFailed {
            vm: vm.id(),
            hwpt,
            sent: 4,
            handled: 2,
            errno: Errno::EINVAL,
        }]
    );
    assert_eq!(s.fake.invalidations()[0].handled, 2);
}

// ---- page requests -------------------------------------------------------------------

#[test]
fn a_page_request_is_reported_and_answered_with_the_kernels_cookie() {
    let s = Setup::new(IommufdConfig::default());
    let vm = s.viommu.create_vm(VmConfig::default());
    let dev = s.device(&vm, 0x10, 20);
    let p = vm.alloc_pasid(1, 1000).unwrap();
    vm.bind_gpasid(&bind(p.0, 0)).unwrap();
    let f1 = s
        .fake
        .trigger_fault(dev.0, Some(p.0), 4, 0b11, 0x7000)
        .unwrap();
    let f2 = s
        .fake
        .trigger_fault(dev.0, Some(p.0), 5, 0b01, 0x8000)
        .unwrap();
    assert_ne!(f1.cookie, f2.cookie);
    assert_eq!(s.backend().poll_faults(&s.viommu), Ok(2));
    assert_eq!(s.backend().poll_faults(&s.viommu), Ok(0), "nothing more");
    let a = vm.next_fault().and_then(|f| f.prm()).unwrap();
    assert_eq!((a.pasid, a.grpid, a.addr, a.perm), (p.0, 4, 0x7000, 0b11));
    vm.next_fault().unwrap();
    // Answered out of order: each with its own cookie.
    vm.page_response(DeviceId(0x10), &response(5, p.0, PageResponseCode::Invalid))
        .unwrap();
    vm.page_response(DeviceId(0x10), &response(4, p.0, PageResponseCode::Success))
        .unwrap();
    assert_eq!(s.fake.responses(), [(f2, 1), (f1, 0)]);
    assert!(s.fake.outstanding().is_empty());
    // The write: one 8-byte record {cookie, code}.
    assert_eq!(s.backend().stats().responses_sent, 2);
}

/// Two outstanding groups with the same device, group id and PASID: a response carries
/// the cookie of the request it answers, not the oldest cookie of that key. Here the
/// guest still holds a request the kernel answered on an unbind when a new one of the
/// same key arrives; answering the old one must not answer the new one.
#[test]
fn a_response_answers_its_own_request_among_requests_of_the_same_key() {
    let s = Setup::new(IommufdConfig::default());
    let vm = s.viommu.create_vm(VmConfig::default());
    let dev = s.device(&vm, 0x10, 20);
    let p = vm.alloc_pasid(1, 1000).unwrap();
    vm.bind_gpasid(&bind(p.0, 0)).unwrap();
    let old = s
        .fake
        .trigger_fault(dev.0, Some(p.0), 4, 1, 0x1000)
        .unwrap();
    assert_eq!(s.backend().poll_faults(&s.viommu), Ok(1));
    vm.next_fault().unwrap();
    // The unbind detaches the PASID: the kernel answers the old group itself.
    vm.unbind_gpasid(&bind(p.0, 0)).unwrap();
    assert_eq!(s.fake.auto_answered(), [old]);
    vm.bind_gpasid(&bind(p.0, 0)).unwrap();
    let new = s
        .fake
        .trigger_fault(dev.0, Some(p.0), 4, 1, 0x2000)
        .unwrap();
    assert_eq!(s.backend().poll_faults(&s.viommu), Ok(1));
    vm.next_fault().unwrap();
    // The guest answers the old request first (INVALID), then the new one (SUCCESS).
    vm.page_response(DeviceId(0x10), &response(4, p.0, PageResponseCode::Invalid))
        .unwrap();
    assert_eq!(
        s.fake.responses(),
        [],
        "the old cookie is gone: nothing sent"
    );
    assert_eq!(s.backend().stats().responses_unmatched, 1);
    vm.page_response(DeviceId(0x10), &response(4, p.0, PageResponseCode::Success))
        .unwrap();
    assert_eq!(s.fake.responses(), [(new, 0)]);
    assert!(s.fake.outstanding().is_empty());
}

#[test]
fn requests_the_vm_may_not_see_are_answered_invalid_by_the_backend() {
    let s = Setup::new(IommufdConfig::default());
    let vm = s.viommu.create_vm(VmConfig::default());
    let dev = s.device(&vm, 0x10, 20);
    let p = vm.alloc_pasid(1, 1000).unwrap();
    vm.bind_gpasid(&bind(p.0, 0)).unwrap();
    // The vIOMMU no longer routes the device to the VM (detached there): unrouted.
    let f = s
        .fake
        .trigger_fault(dev.0, Some(p.0), 1, 1, 0x1000)
        .unwrap();
    vm.detach_device(DeviceId(0x10));
    assert_eq!(s.backend().poll_faults(&s.viommu), Ok(1));
    assert_eq!(s.fake.responses(), [(f, 1)]);
    assert_eq!(s.backend().stats().faults_unrouted, 1);
    assert_eq!(vm.unread_faults(), 0);
}

#[test]
fn teardown_answers_pending_requests_then_unbinds() {
    let s = Setup::new(IommufdConfig::default());
    let vm = s.viommu.create_vm(VmConfig::default());
    let dev = s.device(&vm, 0x10, 20);
    let p = vm.alloc_pasid(1, 1000).unwrap();
    vm.bind_gpasid(&bind(p.0, 0)).unwrap();
    let f = s
        .fake
        .trigger_fault(dev.0, Some(p.0), 2, 1, 0x1000)
        .unwrap();
    s.backend().poll_faults(&s.viommu).unwrap();
    drop(vm);
    // FAILURE has no iommufd code: sent as INVALID, before the detach.
    assert_eq!(s.fake.responses(), [(f, 1)]);
    assert!(s.fake.auto_answered().is_empty());
    assert!(s.fake.pasid_attachments().is_empty());
}

// ---- features ------------------------------------------------------------------------

fn probe(fake: &FakeIommufd) -> vsva_viommu::iommufd::HostProbe {
    let iommufd = Iommufd::open(fake.kernel()).unwrap();
    let ioas = iommufd.ioas_alloc().unwrap();
    let path = fake.add_device(20);
    let dev = CdevDevice::open(fake.kernel(), &path)
        .unwrap()
        .bind(&iommufd)
        .unwrap();
    probe_host(&iommufd, dev, ioas).unwrap()
}

#[test]
fn features_come_from_hw_info_and_the_kernels_answer() {
    let nesting = FakeIommufd::new(true);
    let p = probe(&nesting);
    assert_eq!(p.nesting, NestingSupport::Supported);
    assert_eq!(p.hw_info.max_pasid_log2, 20);
    let f = p.host.unwrap().features();
    assert!(f.contains(NestingFeatures::BIND_PGTBL | NestingFeatures::CACHE_INVLD));
    assert!(f.contains(NestingFeatures::PAGE_REQUEST));
    assert!(
        nesting.hwpts().is_empty(),
        "the probe's parent is destroyed"
    );
    assert!(p.to_string().contains("nesting supported"), "{p}");

    let none = FakeIommufd::new(false);
    let p = probe(&none);
    assert_eq!(p.nesting, NestingSupport::NotInHardware);
    let f = p.host.unwrap().features();
    assert!(!f.contains(NestingFeatures::BIND_PGTBL));
    assert!(f.contains(NestingFeatures::SYSWIDE_PASID));
    assert!(
        p.to_string().contains("no nesting: the hardware lacks it"),
        "{p}"
    );

    // The registers say NEST, the kernel says EOPNOTSUPP: no nesting, said plainly.
    let refusing = FakeIommufd::new(true);
    refusing.fail(IOMMU_HWPT_ALLOC, 0, Errno::EOPNOTSUPP);
    let p = probe(&refusing);
    assert_eq!(
        p.nesting,
        NestingSupport::RefusedByKernel(Errno::EOPNOTSUPP)
    );
    let host = p.host.unwrap();
    assert!(!host.features().contains(NestingFeatures::BIND_PGTBL));
    let HostIommu::Vtd(caps) = host else { panic!() };
    assert!(!caps.nesting);
    assert!(p.to_string().contains("kernel refused"), "{p}");
    // A vIOMMU over it tells its guests so.
    let viommu = Viommu::new(vsva_viommu::soft::SoftwareIommu::new(host));
    assert!(!viommu.features().contains(NestingFeatures::BIND_PGTBL));
}

#[test]
fn a_response_after_the_unbind_is_not_sent_the_kernel_answered_on_detach() {
    let s = Setup::new(IommufdConfig::default());
    let vm = s.viommu.create_vm(VmConfig::default());
    let dev = s.device(&vm, 0x10, 20);
    let p = vm.alloc_pasid(1, 1000).unwrap();
    vm.bind_gpasid(&bind(p.0, 0)).unwrap();
    let f = s
        .fake
        .trigger_fault(dev.0, Some(p.0), 6, 1, 0x1000)
        .unwrap();
    s.backend().poll_faults(&s.viommu).unwrap();
    vm.next_fault().unwrap();
    vm.unbind_gpasid(&bind(p.0, 0)).unwrap();
    assert_eq!(s.fake.auto_answered(), [f]);
    vm.page_response(DeviceId(0x10), &response(6, p.0, PageResponseCode::Success))
        .unwrap();
    assert!(s.fake.responses().is_empty());
    assert_eq!(s.backend().stats().responses_unmatched, 1);
    assert!(s.backend().diagnostics().is_empty());
}
