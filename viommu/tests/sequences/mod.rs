//! The 2020-API request sequences every `Backend` must pass: written once against a
//! generic [`Viommu<B>`] and a [`SequenceProbe`] that reports what the backend did, so the
//! same sequences run on the software model, on the iommufd backend over a modelled
//! kernel (`viommu/tests/backend_sequences.rs`), and on the iommufd backend over the real
//! kernel's mock IOMMU (the kernel tier).
//!
//! The guest's side goes through the real vIOMMU layer (`Vm::alloc_pasid`,
//! `Vm::bind_gpasid` with `iommu_gpasid_bind_data` bytes, `Vm::cache_invalidate` with
//! `iommu_cache_invalidate_info` bytes, `Vm::next_fault`, `Vm::page_response` with
//! `iommu_page_response` bytes, `Vm::free_pasids`, dropping the `Vm`); the hardware's side
//! is asked of the probe.
//!
//! # Entry points
//! - [`SequenceProbe`]: implement it for a backend (one probe per sequence: a fresh
//!   `Viommu`).
//! - [`run_all`]`(|| probe)`: runs every sequence, each on a fresh probe, and panics with
//!   the sequence's name on the first failure. [`sequences`] lists them, to run one by one.
//!
//! # Including it
//! This file depends only on `vsva-uapi`, `vsva-viommu` and `zerocopy`, never on its test
//! crate's other modules, so it can be included from anywhere:
//!
//! ```ignore
//! #[path = "../../../viommu/tests/sequences/mod.rs"]
//! mod sequences;
//! sequences::run_all(|| MyProbe::new());
//! ```
//!
//! # What a probe reports
//! Effects are observed after [`SequenceProbe::settle`] (a batching backend sends what it
//! queued). The counting sequences hold one device per VM, so "one invalidation" is one
//! unit of work on every backend (one model event; one `IOMMU_HWPT_INVALIDATE` entry).
#![allow(dead_code)]

use std::collections::BTreeMap;
use vsva_viommu::HostPasid;

use vsva_uapi::consts::{
    CacheInvType, GpasidBindFlags, InvAddrFlags, InvPasidFlags, PageRequestFlags, PageResponseCode,
    PageResponseFlags,
};
use vsva_uapi::{
    CacheInvalidateInfo, Errno, GpasidBindData, GpasidBindDataVtd, Granu, InvAddrInfo,
    InvPasidInfo, PageResponse, UapiStruct,
};
use vsva_viommu::{Backend, DeviceId, Viommu, ViommuError, Vm, VmConfig, VmId};
use zerocopy::{FromZeros, IntoBytes};

/// What a backend did, as the sequences need to see it.
pub trait SequenceProbe {
    /// The backend under test.
    type Backend: Backend;

    /// The vIOMMU over the backend (one per probe).
    fn viommu(&self) -> &Viommu<Self::Backend>;

    /// Gives `vm` a new device: attached in the vIOMMU (`Vm::attach_device`) and
    /// registered with the backend, ready for binds and page requests.
    fn add_device(&self, vm: &Vm<Self::Backend>) -> DeviceId;

    /// Makes everything the backend queued for `vm` reach the hardware (flush a batch).
    fn settle(&self, vm: VmId);

    /// Host PASID → guest page-table base, for every guest page table the hardware holds
    /// for `vm`'s devices.
    fn bound(&self, vm: VmId) -> BTreeMap<u32, u64>;

    /// Invalidation work the hardware carried out for `vm` so far (model events, or
    /// invalidation entries the kernel handled).
    fn invalidations(&self, vm: VmId) -> u64;

    /// Plays `device`: a one-page page request (last of its group) tagged with host
    /// `pasid`, reported through the backend's own path to the vIOMMU. `false` if the
    /// hardware did not deliver it.
    fn page_request(&self, device: DeviceId, pasid: u32, grpid: u32, addr: u64) -> bool;

    /// Page responses the hardware received for `vm`'s devices, in order: (device, group,
    /// code). A backend whose hardware has no `FAILURE` reports what it sent instead.
    fn responses(&self, vm: VmId) -> Vec<(DeviceId, u32, PageResponseCode)>;

    /// Arranges for the hardware to refuse the next bind; returns the errno the bind
    /// will fail with, or `None` if this probe cannot (the sequence is then skipped).
    fn fail_next_bind(&self) -> Option<Errno>;

    /// Backend state that nothing accounts for (objects left behind, calls a correct
    /// vIOMMU layer never makes, refusals absorbed); empty when all is well.
    fn leaks(&self) -> Vec<String>;
}

/// One sequence: its name and the function that runs it on a probe.
pub type Sequence<P> = (&'static str, fn(&P));

/// Every sequence, by name.
pub fn sequences<P: SequenceProbe>() -> Vec<Sequence<P>> {
    vec![
        ("alloc_bind_unbind_free", alloc_bind_unbind_free::<P>),
        ("bind_with_guest_pasid", bind_with_guest_pasid::<P>),
        (
            "invalidate_each_granularity",
            invalidate_each_granularity::<P>,
        ),
        ("page_request_and_response", page_request_and_response::<P>),
        ("refusals_leave_no_trace", refusals_leave_no_trace::<P>),
        (
            "backend_refusal_leaves_no_trace",
            backend_refusal_leaves_no_trace::<P>,
        ),
        ("two_vms_are_isolated", two_vms_are_isolated::<P>),
        (
            "teardown_unbinds_and_answers",
            teardown_unbinds_and_answers::<P>,
        ),
    ]
}

/// Runs every sequence on a fresh probe from `make`.
pub fn run_all<P: SequenceProbe>(make: impl Fn() -> P) {
    for (name, seq) in sequences::<P>() {
        println!("sequence {name}");
        let probe = make();
        seq(&probe);
        let leaks = probe.leaks();
        assert!(leaks.is_empty(), "{name}: backend leaks {leaks:?}");
    }
}

// ---- payloads (the guest's bytes) ------------------------------------------------------

/// The guest page-table base every sequence binds (a 4 KiB-aligned GPA).
pub const GPGD: u64 = 0x1234_5000;

/// A v1 VT-d `iommu_gpasid_bind_data` of `hpasid` (4-level, no vendor flags).
pub fn bind_payload(hpasid: u32, gpasid: Option<u32>, gpgd: u64) -> Vec<u8> {
    let mut b = GpasidBindData::new_zeroed();
    b.argsz = GpasidBindData::DECL.size as u32;
    b.version = 1;
    b.addr_width = 48;
    b.gpgd = gpgd;
    b.hpasid = u64::from(hpasid);
    if let Some(g) = gpasid {
        b.flags = GpasidBindFlags::GPASID_VAL.bits();
        b.gpasid = u64::from(g);
    }
    b.set_vtd(GpasidBindDataVtd::new_zeroed());
    b.as_bytes().to_vec()
}

/// A domain-selective IOTLB invalidation.
pub fn inv_domain() -> Vec<u8> {
    CacheInvalidateInfo::new(CacheInvType::IOTLB, Granu::Domain)
        .as_bytes()
        .to_vec()
}

/// A PASID-selective invalidation of `caches`.
pub fn inv_pasid(caches: CacheInvType, pasid: u32) -> Vec<u8> {
    CacheInvalidateInfo::new(
        caches,
        Granu::Pasid(InvPasidInfo {
            flags: InvPasidFlags::PASID.bits(),
            archid: 0,
            pasid: u64::from(pasid),
        }),
    )
    .as_bytes()
    .to_vec()
}

/// An address-selective IOTLB + device-IOTLB invalidation of `pages` 4 KiB pages.
pub fn inv_addr(pasid: u32, addr: u64, pages: u64, leaf: bool) -> Vec<u8> {
    let mut flags = InvAddrFlags::PASID;
    flags.set(InvAddrFlags::LEAF, leaf);
    CacheInvalidateInfo::new(
        CacheInvType::IOTLB | CacheInvType::DEV_IOTLB,
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

/// A v1 `iommu_page_response`.
pub fn response_payload(grpid: u32, pasid: Option<u32>, code: PageResponseCode) -> Vec<u8> {
    let mut r = PageResponse::new_zeroed();
    r.argsz = PageResponse::DECL.size as u32;
    r.version = 1;
    if let Some(p) = pasid {
        r.flags = PageResponseFlags::PASID_VALID.bits();
        r.pasid = p;
    }
    r.grpid = grpid;
    r.code = code.raw();
    r.as_bytes().to_vec()
}

fn new_vm<P: SequenceProbe>(p: &P) -> (Vm<P::Backend>, DeviceId) {
    let vm = p.viommu().create_vm(VmConfig::default());
    let dev = p.add_device(&vm);
    (vm, dev)
}

fn alloc<B: Backend>(vm: &Vm<B>) -> u32 {
    vm.alloc_pasid(1, (1 << 20) - 1).expect("alloc a PASID").0
}

fn bound_now<P: SequenceProbe>(p: &P, vm: VmId) -> BTreeMap<u32, u64> {
    p.settle(vm);
    p.bound(vm)
}

fn invalidations_now<P: SequenceProbe>(p: &P, vm: VmId) -> u64 {
    p.settle(vm);
    p.invalidations(vm)
}

// ---- the sequences ---------------------------------------------------------------------

/// Alloc, bind (the hardware holds the table), a second bind refused, unbind (gone),
/// free (the PASID is gone: a bind of it is refused).
pub fn alloc_bind_unbind_free<P: SequenceProbe>(p: &P) {
    let (vm, _) = new_vm(p);
    let pasid = alloc(&vm);
    assert!(bound_now(p, vm.id()).is_empty());
    let bind = bind_payload(pasid, None, GPGD);
    vm.bind_gpasid(&bind).expect("bind");
    assert_eq!(bound_now(p, vm.id()), BTreeMap::from([(pasid, GPGD)]));

    let again = vm.bind_gpasid(&bind_payload(pasid, None, GPGD + 0x1000));
    assert!(
        matches!(again, Err(ViommuError::AlreadyBound { .. })),
        "{again:?}"
    );
    assert_eq!(bound_now(p, vm.id()), BTreeMap::from([(pasid, GPGD)]));

    vm.unbind_gpasid(&bind).expect("unbind");
    assert!(bound_now(p, vm.id()).is_empty());
    // Bind, then free the PASID while bound: free unbinds.
    vm.bind_gpasid(&bind).expect("bind again");
    vm.free_pasids(HostPasid(pasid), HostPasid(pasid));
    assert!(bound_now(p, vm.id()).is_empty());
    assert!(!vm.snapshot().pasids.contains(&HostPasid(pasid)));
    let gone = vm.bind_gpasid(&bind);
    assert!(
        matches!(gone, Err(ViommuError::NotOwned { .. })),
        "{gone:?}"
    );
    assert!(bound_now(p, vm.id()).is_empty());
}

/// A bind with a guest PASID: the hardware holds the host PASID; a page request on it
/// reaches the guest with its own PASID, and the response finds its way back.
pub fn bind_with_guest_pasid<P: SequenceProbe>(p: &P) {
    let (vm, dev) = new_vm(p);
    let hpasid = alloc(&vm);
    let gpasid = 77;
    vm.bind_gpasid(&bind_payload(hpasid, Some(gpasid), GPGD))
        .expect("bind");
    assert_eq!(bound_now(p, vm.id()), BTreeMap::from([(hpasid, GPGD)]));
    assert!(p.page_request(dev, hpasid, 3, 0x7000));
    let f = vm
        .next_fault()
        .and_then(|f| f.prm())
        .expect("a page request");
    assert_eq!((f.pasid, f.grpid, f.addr), (gpasid, 3, 0x7000));
    vm.page_response(
        dev,
        &response_payload(3, Some(gpasid), PageResponseCode::Success),
    )
    .expect("answer with the guest PASID");
    assert_eq!(p.responses(vm.id()), [(dev, 3, PageResponseCode::Success)]);
}

/// Invalidations at each granularity the host takes reach the hardware once each (one
/// device, one bound PASID), also when several are queued before the hardware is looked
/// at; a domain-selective or PASID-cache one on VT-d, a PASID the VM does not own and an overflowing
/// range are refused and reach nothing.
pub fn invalidate_each_granularity<P: SequenceProbe>(p: &P) {
    let (vm, _) = new_vm(p);
    let pasid = alloc(&vm);
    vm.bind_gpasid(&bind_payload(pasid, None, GPGD))
        .expect("bind");
    let id = vm.id();
    let base = invalidations_now(p, id);

    // Domain-selective: the VT-d granularity table has no domain-selective IOTLB
    // invalidation for a guest (v5.10 `inv_type_granu_table`): refused, nothing sent.
    if p.viommu().backend().host().vendor() == Some(vsva_uapi::Vendor::Vtd) {
        assert_eq!(
            vm.cache_invalidate(&inv_domain()).map_err(|e| e.errno()),
            Err(Errno::EINVAL),
            "domain-selective on VT-d"
        );
        assert_eq!(invalidations_now(p, id), base, "domain-selective");
    }
    vm.cache_invalidate(&inv_pasid(CacheInvType::IOTLB, pasid))
        .expect("pasid");
    assert_eq!(invalidations_now(p, id), base + 1, "PASID-selective");
    vm.cache_invalidate(&inv_addr(pasid, 0x40_0000, 4, false))
        .expect("addr");
    assert_eq!(invalidations_now(p, id), base + 2, "address-selective");
    vm.cache_invalidate(&inv_addr(pasid, 0x40_0000, 1, true))
        .expect("addr leaf");
    assert_eq!(invalidations_now(p, id), base + 3, "leaf");

    // Three in a row, looked at once: all three carried out.
    for i in 0..3u64 {
        vm.cache_invalidate(&inv_addr(pasid, 0x80_0000 + i * 0x1000, 1, false))
            .expect("addr");
    }
    assert_eq!(invalidations_now(p, id), base + 6, "a run of three");

    // Refusals reach nothing.
    let base = invalidations_now(p, id);
    if p.viommu().backend().host().vendor() == Some(vsva_uapi::Vendor::Vtd) {
        // The PASID cache: no granularity takes it from a guest on VT-d (v5.10).
        let r = vm.cache_invalidate(&inv_pasid(CacheInvType::PASID, pasid));
        assert_eq!(r.map_err(|e| e.errno()), Err(Errno::EINVAL), "PASID cache");
    }
    let stranger = vm.cache_invalidate(&inv_pasid(CacheInvType::IOTLB, pasid ^ 1));
    assert!(
        matches!(stranger, Err(ViommuError::NotOwned { .. })),
        "{stranger:?}"
    );
    let overflow = vm.cache_invalidate(&inv_addr(pasid, !0xfff_u64, 2, false));
    assert!(overflow.is_err(), "{overflow:?}");
    assert_eq!(invalidations_now(p, id), base, "refused invalidations");
}

/// A page request reaches the guest as an `iommu_fault` record; each response goes to
/// the hardware once; a response to nothing pending is refused and sends nothing.
pub fn page_request_and_response<P: SequenceProbe>(p: &P) {
    let (vm, dev) = new_vm(p);
    let pasid = alloc(&vm);
    vm.bind_gpasid(&bind_payload(pasid, None, GPGD))
        .expect("bind");
    assert!(p.page_request(dev, pasid, 7, 0x1000));
    assert!(p.page_request(dev, pasid, 8, 0x2000));
    assert_eq!(vm.unread_faults(), 2);
    let a = vm.next_fault().and_then(|f| f.prm()).expect("first");
    let flags = PageRequestFlags::from_bits_retain(a.flags);
    assert!(flags.contains(PageRequestFlags::PASID_VALID | PageRequestFlags::LAST_PAGE));
    assert_eq!((a.pasid, a.grpid, a.addr), (pasid, 7, 0x1000));
    let b = vm.next_fault().and_then(|f| f.prm()).expect("second");
    assert_eq!((b.grpid, b.addr), (8, 0x2000));
    assert!(p.responses(vm.id()).is_empty());

    vm.page_response(
        dev,
        &response_payload(7, Some(pasid), PageResponseCode::Success),
    )
    .expect("answer 7");
    vm.page_response(
        dev,
        &response_payload(8, Some(pasid), PageResponseCode::Invalid),
    )
    .expect("answer 8");
    let want = [
        (dev, 7, PageResponseCode::Success),
        (dev, 8, PageResponseCode::Invalid),
    ];
    assert_eq!(p.responses(vm.id()), want);

    let twice = vm.page_response(
        dev,
        &response_payload(7, Some(pasid), PageResponseCode::Success),
    );
    assert!(
        matches!(twice, Err(ViommuError::NoPendingRequest { .. })),
        "{twice:?}"
    );
    assert_eq!(
        p.responses(vm.id()),
        want,
        "a refused response sends nothing"
    );
}

/// Requests the vIOMMU layer refuses never reach the backend.
pub fn refusals_leave_no_trace<P: SequenceProbe>(p: &P) {
    let (vm, _) = new_vm(p);
    let pasid = alloc(&vm);
    let before = bound_now(p, vm.id());
    // Not allocated.
    let r = vm.bind_gpasid(&bind_payload(pasid ^ 1, None, GPGD));
    assert!(matches!(r, Err(ViommuError::NotOwned { .. })), "{r:?}");
    // A malformed payload (argsz cut inside the vendor data).
    let mut short = bind_payload(pasid, None, GPGD);
    short[..4].copy_from_slice(&40u32.to_ne_bytes());
    assert_eq!(
        vm.bind_gpasid(&short).map_err(|e| e.errno()),
        Err(Errno::EINVAL)
    );
    // A 3-level table (width 39): the host refuses.
    let mut narrow = GpasidBindData::read_from_payload(&bind_payload(pasid, None, GPGD));
    narrow.addr_width = 39;
    assert!(vm.bind_gpasid(narrow.as_bytes()).is_err());
    assert_eq!(bound_now(p, vm.id()), before);
    assert_eq!(vm.snapshot().binds.len(), 0);
}

/// The hardware refusing a bind: the guest gets the errno, and neither the vIOMMU nor the
/// backend keeps anything; the same bind then succeeds.
pub fn backend_refusal_leaves_no_trace<P: SequenceProbe>(p: &P) {
    let (vm, _) = new_vm(p);
    let pasid = alloc(&vm);
    let Some(errno) = p.fail_next_bind() else {
        println!("  (skipped: the probe cannot make the hardware refuse a bind)");
        return;
    };
    let snapshot = vm.snapshot();
    let bind = bind_payload(pasid, None, GPGD);
    assert_eq!(vm.bind_gpasid(&bind).map_err(|e| e.errno()), Err(errno));
    assert_eq!(vm.snapshot(), snapshot);
    assert!(bound_now(p, vm.id()).is_empty());
    let leaks = p.leaks();
    assert!(leaks.is_empty(), "after a refused bind: {leaks:?}");
    vm.bind_gpasid(&bind).expect("the same bind, now accepted");
    assert_eq!(bound_now(p, vm.id()), BTreeMap::from([(pasid, GPGD)]));
}

/// Two VMs on one backend: neither can name the other's PASIDs, invalidations and page
/// requests stay with their VM.
pub fn two_vms_are_isolated<P: SequenceProbe>(p: &P) {
    let (a, dev_a) = new_vm(p);
    let (b, dev_b) = new_vm(p);
    let pa = alloc(&a);
    let pb = alloc(&b);
    a.bind_gpasid(&bind_payload(pa, None, GPGD))
        .expect("bind a");
    b.bind_gpasid(&bind_payload(pb, None, GPGD + 0x1000))
        .expect("bind b");
    assert_eq!(bound_now(p, a.id()), BTreeMap::from([(pa, GPGD)]));
    assert_eq!(bound_now(p, b.id()), BTreeMap::from([(pb, GPGD + 0x1000)]));

    // B names A's PASID: refused everywhere.
    let r = b.bind_gpasid(&bind_payload(pa, None, GPGD));
    assert!(matches!(r, Err(ViommuError::NotOwned { .. })), "{r:?}");
    let r = b.unbind_gpasid(&bind_payload(pa, None, GPGD));
    assert!(matches!(r, Err(ViommuError::NotOwned { .. })), "{r:?}");
    let r = b.cache_invalidate(&inv_pasid(CacheInvType::IOTLB, pa));
    assert!(matches!(r, Err(ViommuError::NotOwned { .. })), "{r:?}");
    assert_eq!(bound_now(p, a.id()), BTreeMap::from([(pa, GPGD)]));

    // A's invalidation is A's alone.
    let (ia, ib) = (invalidations_now(p, a.id()), invalidations_now(p, b.id()));
    a.cache_invalidate(&inv_pasid(CacheInvType::IOTLB, pa))
        .expect("a invalidates");
    assert_eq!(invalidations_now(p, a.id()), ia + 1);
    assert_eq!(invalidations_now(p, b.id()), ib);

    // A page request of B's device goes to B; B cannot answer for A's device.
    assert!(p.page_request(dev_b, pb, 5, 0x3000));
    assert_eq!((a.unread_faults(), b.unread_faults()), (0, 1));
    assert!(b.next_fault().is_some());
    let r = b.page_response(
        dev_a,
        &response_payload(5, Some(pb), PageResponseCode::Success),
    );
    assert!(
        matches!(r, Err(ViommuError::DeviceNotAttached { .. })),
        "{r:?}"
    );
    b.page_response(
        dev_b,
        &response_payload(5, Some(pb), PageResponseCode::Success),
    )
    .expect("b answers");
    assert!(p.responses(a.id()).is_empty());
    assert_eq!(p.responses(b.id()), [(dev_b, 5, PageResponseCode::Success)]);
}

/// Dropping a VM unbinds everything it bound and answers its pending page requests; the
/// other VM keeps its state.
pub fn teardown_unbinds_and_answers<P: SequenceProbe>(p: &P) {
    let (keep, _) = new_vm(p);
    let pk = alloc(&keep);
    keep.bind_gpasid(&bind_payload(pk, None, GPGD))
        .expect("bind keep");

    let (vm, dev) = new_vm(p);
    let id = vm.id();
    let (p1, p2) = (alloc(&vm), alloc(&vm));
    vm.bind_gpasid(&bind_payload(p1, None, GPGD))
        .expect("bind 1");
    vm.bind_gpasid(&bind_payload(p2, None, GPGD + 0x1000))
        .expect("bind 2");
    vm.cache_invalidate(&inv_pasid(CacheInvType::IOTLB, p1))
        .expect("invalidate");
    assert!(p.page_request(dev, p2, 9, 0x5000));
    assert!(vm.next_fault().is_some(), "read, not answered");
    assert_eq!(bound_now(p, id).len(), 2);

    drop(vm);
    assert!(bound_now(p, id).is_empty(), "teardown unbinds");
    let answered = p.responses(id);
    assert_eq!(answered.len(), 1, "{answered:?}");
    assert_eq!((answered[0].0, answered[0].1), (dev, 9));
    assert_ne!(answered[0].2, PageResponseCode::Success);
    assert_eq!(bound_now(p, keep.id()), BTreeMap::from([(pk, GPGD)]));
}

/// Reading a payload back as a struct (for tweaking one field).
trait ReadPayload: Sized {
    fn read_from_payload(bytes: &[u8]) -> Self;
}

impl ReadPayload for GpasidBindData {
    fn read_from_payload(bytes: &[u8]) -> Self {
        use zerocopy::FromBytes;
        GpasidBindData::read_from_prefix(bytes)
            .expect("a whole payload")
            .0
    }
}
