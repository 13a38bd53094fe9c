//! The emulated VT-d in the mini-VMM under /dev/kvm: `guests/vtd_linux.asm` drives the
//! unit at `VTD_MMIO_GPA` the way Linux's intel-iommu driver does (boot, device probe, an
//! SVA bind of guest PASID 5, a page request the host injects and the guest's page group
//! response, a 16-page flush, the unbind and its drain), against the software backend.
//! Asserts what the backend saw, what the guest reported, the wait status writes in its
//! RAM and the VMM's MMIO exit counts; and the same guest beside hostile VT-d guests
//! (`guests/vtd_hostile.asm`), byte-identical to a run alone. Prints a loud SKIP line and
//! returns where KVM is unusable.

mod vmm_support;

use vmm_support::kvm_usable;
use vsva_uapi::consts::{CacheInvType, FaultPerm, PageResponseCode, VtdGpasidFlags};
use vsva_uapi::hw::vtd::PageReqDesc;
use vsva_viommu::soft::{Event, SoftwareIommu};
use vsva_viommu::{
    DeviceId, GpasidBind, HostIommu, HostPageResponse, Invalidation, InvalidationScope,
    PageRequest, Viommu,
};
use vsva_viommu::{GuestPasid, HostPasid};
use vsva_vmm::{Guest, GuestSpec, Vmm};
use vsva_vtd::VtdStats;

const VTD_LINUX: &[u8] = include_bytes!("../guests/vtd_linux.bin");
const VTD_HOSTILE: &[u8] = include_bytes!("../guests/vtd_hostile.bin");

/// The guest's device: requester id 00:01.0 (`RID` in vtd_linux.asm).
const RID: u16 = 0x0008;
/// The guest's first-stage table (`GPGD`) and the PASID it binds.
const GPGD: u64 = 0x20000;
const GPASID: u32 = 5;
/// Queue submissions, each ending with a wait descriptor.
const SUBMISSIONS: u32 = 7;
/// Descriptors written: 13 (1 + 1 + 2 + 1 + 2 + 3 + 3, the drain's fence wait counted
/// with them) plus the 7 status waits.
const DESCRIPTORS: u64 = 20;
/// Where the guest's page request queue is (`PRQ`).
const PRQ_GPA: usize = 0xF000;
/// The page request the host injects: its group and address.
const GRPID: u32 = 0x42;
const FAULT_ADDR: u64 = 0x7f00_0003_0000;
/// Where the guest's wait status slots are (`STATUS`: one u32 per queue slot).
const STATUS_GPA: usize = 0xE000;
/// Linux's wait status value.
const QI_DONE: u32 = 2;

fn w32(ram: &[u8], gpa: usize) -> u32 {
    u32::from_le_bytes(ram[gpa..gpa + 4].try_into().unwrap())
}

fn diag(ram: &[u8]) -> String {
    format!(
        "DIAG (first unexpected: request, read, expected, guest) = {:x?}",
        &ram[0x510..0x520]
    )
}

#[test]
fn linux_style_guest_binds_flushes_and_unbinds_through_the_emulated_vtd() {
    if !kvm_usable("linux_style_guest_binds_flushes_and_unbinds_through_the_emulated_vtd") {
        return;
    }
    let model = SoftwareIommu::new(HostIommu::vtd_default());
    let vmm = Vmm::new(Viommu::new(model.clone()));
    let dev = DeviceId(0x10);
    let mut guest = vmm
        .create_guest(GuestSpec::new("vtd_linux", VTD_LINUX, dev).vtd(RID))
        .expect("create the guest");
    // The first run ends at the guest's hlt after the bind.
    let first = guest.run().expect("the guest halts after the bind");
    assert_eq!(first.guest, None, "no report yet");
    let bindings = guest.vtd_bindings().expect("the guest has a VT-d");
    let [(h, gpasid, ref rids)] = bindings[..] else {
        panic!("one bind after the first run: {bindings:?}");
    };
    assert_eq!((gpasid, rids.as_slice()), (GuestPasid(GPASID), &[RID][..]));
    // The host reports a page request of the device on the bound PASID; the VMM delivers
    // it before the vCPU resumes.
    model.inject_page_request(
        vmm.viommu(),
        PageRequest {
            id: 0,
            device: dev,
            pasid: Some(HostPasid(h.0)),
            grpid: GRPID,
            perm: FaultPerm::READ | FaultPerm::WRITE,
            addr: FAULT_ADDR,
            last_page: true,
            needs_pasid: true,
            private_data: None,
        },
    );
    let report = guest.run().expect("the guest halts at its end");
    let ram = guest.ram();

    // The page request descriptor the guest found in its queue: the guest's RID and
    // PASID (not the host's), the group, the address and access.
    let words: [u64; 4] = std::array::from_fn(|i| {
        u64::from_le_bytes(ram[PRQ_GPA + 8 * i..][..8].try_into().unwrap())
    });
    let req = PageReqDesc::decode(&words);
    assert!(req.pp && req.lpig && req.rd && req.wr, "{req:?}");
    assert_eq!(
        (req.rid, req.pasid, u32::from(req.prgi), req.addr),
        (RID, GPASID, GRPID, FAULT_ADDR),
        "{req:?}"
    );
    // Its event was delivered as the memory write the guest polled (PEDATA at PEADDR).
    assert_eq!(w32(ram, 0x588), 0x41);

    // What the guest saw: every check passed, every wait wrote QI_DONE.
    let g = report.guest.expect("the guest wrote its report");
    assert_eq!(g.unexpected_results, 0, "{}", diag(ram));
    assert_eq!(g.requests_sent, SUBMISSIONS);
    assert_eq!(g.reserved, SUBMISSIONS, "waits whose status read QI_DONE");
    assert_eq!(u64::from(w32(ram, 0x540 + 16)), DESCRIPTORS);
    // The wait slots: QI_DONE exactly where the waits were (after 1, 1, 2, 2, 3, 3
    // descriptors), not in the slots of the other descriptors (which the guest cleared).
    let waits: Vec<usize> = (0..DESCRIPTORS as usize)
        .filter(|&slot| w32(ram, STATUS_GPA + 4 * slot) == QI_DONE)
        .collect();
    assert_eq!(waits, [1, 3, 6, 8, 11, 15, 19]);
    // Final registers: GSTS has TES | QIES | RTPS, IQH is at the tail, no fault.
    let gsts = w32(ram, 0x540 + 20);
    assert_eq!(gsts & 0xC400_0000, 0xC400_0000, "GSTS {gsts:#x}");
    assert_eq!(u64::from(w32(ram, 0x540 + 24)), DESCRIPTORS * 32, "IQH");
    assert_eq!(w32(ram, 0x540 + 28), 0, "FSTS");

    // What the unit did.
    let vs = guest.vtd_stats().expect("the guest has a VT-d");
    assert_eq!(vs.queue_runs, u64::from(SUBMISSIONS));
    assert_eq!(vs.descriptors, DESCRIPTORS);
    assert_eq!(vs.waits, 8, "7 status waits and the drain's fence");
    assert_eq!((vs.page_requests, vs.responses), (1, 1));
    assert_eq!(vs.queue_errors, 0);
    assert_eq!((vs.binds, vs.unbinds, vs.bind_failures), (1, 1, 0));
    assert_eq!(vs.faults_recorded, 0);
    assert!(
        guest.vtd_bindings().unwrap().is_empty(),
        "unbound at the end"
    );
    // Every MMIO access is one exit, all of them the unit's.
    assert_eq!(report.stats.mmio_exits, vs.mmio_reads + vs.mmio_writes);
    assert_eq!(
        report.stats.exits,
        report.stats.mmio_exits + 2,
        "and the two hlts"
    );
    assert_eq!(vs.bad_accesses, 0);
    assert_eq!(report.stats.doorbells, 0, "no paravirtual request");

    // What the backend saw: the bind of guest PASID 5 with the guest's table, the page
    // response (the guest's RC 0xF, VT-d's response failure, is the generic failure), the
    // invalidations of the bound PASID (IH 0: not leaf-only), the unbind of the same host
    // PASID. The flushes after the unbind's PASID-cache invalidation name a PASID no longer
    // bound and reach no backend.
    let st = model.vm_state(guest.vm().id());
    let log: Vec<Event> = st.log.iter().copied().collect();
    let Some(Event::Bind(bind)) = log.first() else {
        panic!("first backend call is not a bind: {log:?}");
    };
    assert_eq!(bind.hpasid, HostPasid(h.0));
    assert_eq!(
        *bind,
        GpasidBind {
            hpasid: HostPasid(h.0),
            gpasid: Some(GuestPasid(GPASID)),
            gpgd: GPGD,
            addr_width: 48,
            vtd_flags: VtdGpasidFlags::empty(),
            pat: 0,
            emt: 0,
        }
    );
    let at_pasid = Event::Invalidate(Invalidation {
        caches: CacheInvType::IOTLB,
        scope: InvalidationScope::Pasid {
            pasid: Some(HostPasid(h.0)),
            archid: None,
        },
    });
    let pages = Event::Invalidate(Invalidation {
        caches: CacheInvType::IOTLB,
        scope: InvalidationScope::Addr {
            pasid: Some(HostPasid(h.0)),
            archid: None,
            addr: 0x7f00_0001_0000,
            last: 0x7f00_0001_0000 + 16 * 4096 - 1,
            granule_size: 4096,
            leaf: false,
        },
    });
    assert_eq!(
        log,
        [
            Event::Bind(*bind),
            at_pasid,
            Event::PageResponse(HostPageResponse {
                id: 0,
                device: dev,
                pasid: Some(HostPasid(h.0)),
                grpid: GRPID,
                code: PageResponseCode::Failure,
            }),
            pages,
            Event::Unbind(HostPasid(h.0))
        ],
        "backend calls"
    );
    assert!(st.pasid_entries.is_empty());
    assert_eq!(st.invalidations, vs.invalidations);
    // Batches: one backend flush per queue run that had invalidations behind it, fewer
    // than the descriptors.
    assert_eq!(st.flushes, vs.flushes);
    assert!(st.flushes <= vs.queue_runs, "flushes {}", st.flushes);
    assert!(st.flushes < DESCRIPTORS, "flushes {}", st.flushes);
    eprintln!(
        "vtd_linux: {} exits, {} MMIO ({} reads, {} writes), {} queue runs, {} descriptors, \
         {} backend invalidations in {} flushes",
        report.stats.exits,
        report.stats.mmio_exits,
        vs.mmio_reads,
        vs.mmio_writes,
        vs.queue_runs,
        vs.descriptors,
        st.invalidations,
        st.flushes
    );
}

/// What a well-behaved VT-d guest leaves behind: its RAM, the unit's counters, and the
/// backend's state of its VM with the host PASID (placed at random) replaced by 1.
type Outcome = (Vec<u8>, VtdStats, String);

/// Runs `guest` (vtd_linux) to its end: the first run, the page request, the second run.
fn finish_linux_guest(
    vmm: &Vmm<SoftwareIommu>,
    model: &SoftwareIommu,
    guest: &mut Guest<SoftwareIommu>,
) -> Outcome {
    let h = guest.vtd_bindings().unwrap()[0].0;
    model.inject_page_request(
        vmm.viommu(),
        PageRequest {
            id: 0,
            device: guest.device(),
            pasid: Some(HostPasid(h.0)),
            grpid: GRPID,
            perm: FaultPerm::READ,
            addr: FAULT_ADDR,
            last_page: true,
            needs_pasid: true,
            private_data: None,
        },
    );
    let report = guest.run().expect("the bystander halts at its end");
    let g = report.guest.expect("the bystander's report");
    assert_eq!(g.unexpected_results, 0, "{}", diag(guest.ram()));
    let st = format!("{:?}", model.vm_state(guest.vm().id())).replace(&format!("{h}"), "H");
    (guest.ram().to_vec(), guest.vtd_stats().unwrap(), st)
}

#[test]
fn hostile_vtd_guest_leaves_a_linux_style_bystander_byte_identical() {
    if !kvm_usable("hostile_vtd_guest_leaves_a_linux_style_bystander_byte_identical") {
        return;
    }
    let spec = |dev| GuestSpec::new("bystander", VTD_LINUX, DeviceId(dev)).vtd(RID);
    // Alone.
    let model = SoftwareIommu::new(HostIommu::vtd_default());
    let vmm = Vmm::new(Viommu::new(model.clone()));
    let mut alone = vmm.create_guest(spec(0x10)).unwrap();
    alone.run().expect("the bystander halts after its bind");
    let expected = finish_linux_guest(&vmm, &model, &mut alone);

    // Beside hostile VT-d guests (several seeds), on their own vCPU threads at once.
    let model = SoftwareIommu::new(HostIommu::vtd_default());
    let vmm = Vmm::new(Viommu::new(model.clone()));
    let mut guests = vec![vmm.create_guest(spec(0x10)).unwrap()];
    for (i, seed) in [0u32, 0x1234_5678, 0xdead_beef].into_iter().enumerate() {
        let dev = DeviceId(0x20 + i as u32);
        guests.push(
            vmm.create_guest(
                GuestSpec::new("vtd_hostile", VTD_HOSTILE, dev)
                    .vtd(RID)
                    .seed(seed),
            )
            .unwrap(),
        );
    }
    let reports = vmm.run_all(&mut guests);
    for (guest, report) in guests.iter().zip(&reports).skip(1) {
        // The VMM survives it in bounded time, and the guest runs its whole sequence.
        let r = report.as_ref().expect("the hostile guest halts");
        let g = r.guest.expect("the hostile guest's report");
        assert_eq!(g.requests_sent, 3000);
        let vs = guest.vtd_stats().unwrap();
        assert_eq!(vs.mmio_reads + vs.mmio_writes, 3000, "{vs:?}");
        assert_eq!(r.stats.mmio_exits, 3000);
        assert!(vs.bad_accesses > 0 && vs.queue_errors > 0, "{vs:?}");
        assert!(guest.vtd_bindings().unwrap().is_empty());
    }
    reports[0]
        .as_ref()
        .expect("the bystander halts after its bind");
    let mut bystander = guests.remove(0);
    let beside = finish_linux_guest(&vmm, &model, &mut bystander);
    assert!(expected.0 == beside.0, "the bystander's RAM differs");
    assert_eq!(expected.1, beside.1, "the bystander's unit counters");
    assert_eq!(expected.2, beside.2, "the bystander's backend state");
    assert_eq!(model.violations(), 0);
}
