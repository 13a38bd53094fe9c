//! The guest programs of `viommu/vmm/guests/` (nasm sources, committed images) under
//! /dev/kvm: the well-behaved guest checked against the software model's recorded
//! effects; old and new header generations (G1/G2/G3) against one VMM; the hostile guest
//! next to well-behaved guests and a bystander VM whose state must not move. Prints a loud
//! SKIP line and returns where KVM is unusable.

mod vmm_support;

use std::sync::atomic::{AtomicBool, Ordering};
use vsva_viommu::{GuestPasid, HostPasid};

use vmm_support::*;
use vsva_uapi::consts::{CacheInvType, FaultPerm, PageResponseCode, VtdGpasidFlags};
use vsva_uapi::{Errno, GpasidBindData, GpasidBindDataVtd};
use vsva_viommu::soft::{Event, SoftwareIommu};
use vsva_viommu::{
    DeviceId, GpasidBind, HostIommu, HostPageResponse, Invalidation, InvalidationScope,
    PageRequest, Viommu,
};
use vsva_vmm::{inject_on_ready, GuestSpec, Op, RunReport, StartRegs, Vmm, BOOT_INFO_GPA};
use zerocopy::{FromZeros, IntoBytes};

const WELL_BEHAVED: &[u8] = include_bytes!("../guests/well_behaved.bin");
const GEN1: &[u8] = include_bytes!("../guests/gen1.bin");
const GEN2: &[u8] = include_bytes!("../guests/gen2.bin");
const GEN3: &[u8] = include_bytes!("../guests/gen3.bin");
const HOSTILE: &[u8] = include_bytes!("../guests/hostile.bin");

/// Page requests the READY hook injects into each well-behaved guest.
const INJECT: u32 = 3;

/// The guests' DETAILS words (GPA 0x0540, see `guests/pv.inc`).
#[derive(Debug, Clone, Copy)]
struct Details {
    pasid_a: u32,
    pasid_b: u32,
    inv_sent: u32,
    inv_ok: u32,
    faults: u32,
    responses: u32,
    status: u32,
    reads: u32,
}

fn details(ram: &[u8]) -> Details {
    let w = |i: usize| u32::from_le_bytes(ram[0x540 + 4 * i..0x544 + 4 * i].try_into().unwrap());
    Details {
        pasid_a: w(0),
        pasid_b: w(1),
        inv_sent: w(2),
        inv_ok: w(3),
        faults: w(4),
        responses: w(5),
        status: w(6),
        reads: w(7),
    }
}

fn diag(ram: &[u8]) -> String {
    format!(
        "DIAG (first unexpected: request, result, expected, guest) = {:x?}",
        &ram[0x510..0x520]
    )
}

/// The model's log with host PASID `a` → 1, `b` → 2 and the device → 0: what is left is
/// the same for every run of the same sequence.
fn normalized(log: &[Event], a: u32, b: u32) -> Vec<Event> {
    let p = |x: u32| match x {
        x if x == a => 1,
        x if x == b => 2,
        _ => 0xdead,
    };
    let scope = |s: InvalidationScope| match s {
        InvalidationScope::Pasid { pasid, archid } => InvalidationScope::Pasid {
            pasid: pasid.map(|h| HostPasid(p(h.0))),
            archid,
        },
        InvalidationScope::Addr {
            pasid,
            archid,
            addr,
            last,
            granule_size,
            leaf,
        } => InvalidationScope::Addr {
            pasid: pasid.map(|h| HostPasid(p(h.0))),
            archid,
            addr,
            last,
            granule_size,
            leaf,
        },
        other => other,
    };
    log.iter()
        .map(|e| match *e {
            Event::Bind(bind) => Event::Bind(GpasidBind {
                hpasid: HostPasid(p(bind.hpasid.0)),
                ..bind
            }),
            Event::Unbind(h) => Event::Unbind(HostPasid(p(h.0))),
            Event::Invalidate(inv) => Event::Invalidate(Invalidation {
                scope: scope(inv.scope),
                ..inv
            }),
            Event::PageResponse(r) => Event::PageResponse(HostPageResponse {
                device: DeviceId(0),
                pasid: r.pasid.map(|h| HostPasid(p(h.0))),
                ..r
            }),
            other => other,
        })
        .collect()
}

/// What the backend must have received from one well-behaved run (G1 sequence), with
/// PASID A = 1 and B = 2 (see `guests/well_behaved.asm`).
fn expected_effects() -> Vec<Event> {
    let bind = |hpasid, gpasid, gpgd| {
        Event::Bind(GpasidBind {
            hpasid,
            gpasid,
            gpgd,
            addr_width: 48,
            vtd_flags: VtdGpasidFlags::empty(),
            pat: 0,
            emt: 0,
        })
    };
    let at_pasid = |caches, pasid| {
        Event::Invalidate(Invalidation {
            caches,
            scope: InvalidationScope::Pasid {
                pasid: Some(pasid),
                archid: None,
            },
        })
    };
    let at_addr = |caches, pasid| {
        Event::Invalidate(Invalidation {
            caches,
            scope: InvalidationScope::Addr {
                pasid: Some(pasid),
                archid: None,
                addr: 0x7f12_3456_7000,
                last: 0x7f12_3456_7000 + 16 * 4096 - 1,
                granule_size: 4096,
                leaf: true,
            },
        })
    };
    let mut v = vec![
        bind(HostPasid(1), None, 0x20000),
        bind(HostPasid(2), Some(GuestPasid(0x42)), 0x30000),
        at_pasid(CacheInvType::IOTLB, HostPasid(1)), // #9
        at_addr(CacheInvType::IOTLB, HostPasid(1)),  // #12
        at_addr(CacheInvType::DEV_IOTLB, HostPasid(1)), // #13
        at_addr(CacheInvType::IOTLB | CacheInvType::DEV_IOTLB, HostPasid(2)), // #15
        at_pasid(CacheInvType::IOTLB, HostPasid(2)), // #16
    ];
    // The hook tags the requests with B (bound with guest PASID 0x42); the guest answers
    // each with the PASID it was shown, the backend gets host PASID B.
    for grpid in 1..=INJECT {
        v.push(Event::PageResponse(HostPageResponse {
            id: 0,
            device: DeviceId(0),
            pasid: Some(HostPasid(2)),
            grpid,
            code: PageResponseCode::Success,
        }));
    }
    v.extend([Event::Unbind(HostPasid(1)), Event::Unbind(HostPasid(2))]);
    v
}

/// Checks one finished well-behaved run (any generation: `new_features` refused requests
/// on top of the G1 sequence) against its report, its RAM and the software model.
fn check_well_behaved(
    model: &SoftwareIommu,
    guest: &vsva_vmm::Guest<SoftwareIommu>,
    report: &RunReport,
    new_features: u32,
) {
    let name = &report.name;
    let ram = guest.ram();
    let d = details(ram);
    let g = report.guest.unwrap_or_else(|| panic!("{name}: no report"));
    assert_eq!(g.unexpected_results, 0, "{name}: {}", diag(ram));
    // Every request reached the VMM and got a result.
    assert_eq!(report.stats.bad_doorbells, 0, "{name}");
    assert_eq!(u64::from(g.requests_sent), report.stats.doorbells, "{name}");
    assert_eq!(
        g.requests_sent,
        21 + new_features + d.status + d.reads + d.responses,
        "{name}"
    );
    // The guest's own counts match the VMM's.
    assert_eq!(u64::from(d.status), report.stats.ops.fault_status, "{name}");
    assert_eq!(u64::from(d.reads), report.stats.ops.read_faults, "{name}");
    assert_eq!(
        u64::from(d.responses),
        report.stats.ops.page_response,
        "{name}"
    );
    assert_eq!((d.faults, d.responses), (INJECT, INJECT), "{name}");
    assert_eq!((d.inv_sent, d.inv_ok), (11, 5), "{name}");
    // Refused: the 6 invalidations of the VT-d table, and the generation's new features.
    assert_eq!(
        report.stats.errnos.len(),
        1,
        "{name}: {:?}",
        report.stats.errnos
    );
    assert_eq!(
        report.stats.errno_count(Errno::EINVAL),
        u64::from(6 + new_features),
        "{name}"
    );
    // Two distinct PASIDs in the host's range.
    assert!(d.pasid_a != d.pasid_b, "{name}");
    for p in [d.pasid_a, d.pasid_b] {
        assert!((1..=0xf_ffff).contains(&p), "{name}: PASID {p:#x}");
        assert!(!model
            .vm_state(guest.vm().id())
            .pasid_entries
            .contains_key(&HostPasid(p)));
    }
    // The backend saw exactly the effects of the sequence, in order; the refused
    // requests left no trace.
    let st = model.vm_state(guest.vm().id());
    let log: Vec<Event> = st.log.iter().copied().collect();
    assert_eq!(
        normalized(&log, d.pasid_a, d.pasid_b),
        expected_effects(),
        "{name}"
    );
    assert_eq!(
        (st.invalidations, st.responses),
        (5, u64::from(INJECT)),
        "{name}"
    );
    assert!(
        st.pasid_entries.is_empty() && st.pasid_table.is_none(),
        "{name}"
    );
    // And the VM holds nothing but its device.
    let snap = guest.vm().snapshot();
    assert!(
        snap.pasids.is_empty() && snap.binds.is_empty() && snap.faults.is_empty(),
        "{name}"
    );
    assert_eq!(
        snap.devices.into_iter().collect::<Vec<_>>(),
        vec![guest.device()]
    );
    assert_eq!(snap.stats.faults_reported, u64::from(INJECT), "{name}");
    // The device id the VMM passed in the boot info.
    assert_eq!(
        &ram[BOOT_INFO_GPA..BOOT_INFO_GPA + 4],
        &guest.device().0.to_le_bytes()
    );
}

fn setup() -> (SoftwareIommu, Vmm<SoftwareIommu>) {
    let model = SoftwareIommu::new(HostIommu::vtd_default());
    (model.clone(), Vmm::new(Viommu::new(model)))
}

#[test]
fn well_behaved_guest_matches_the_model() {
    if !kvm_usable("well_behaved_guest_matches_the_model") {
        return;
    }
    let (model, vmm) = setup();
    let spec = GuestSpec::new("well_behaved", WELL_BEHAVED, DeviceId(0x0100))
        .on_ready(inject_on_ready(model.clone(), INJECT));
    let mut g = vmm.create_guest(spec).unwrap();
    let report = g.run().unwrap();
    check_well_behaved(&model, &g, &report, 0);
    // Every doorbell is in the log, in order, each with the result the guest read.
    assert_eq!(report.stats.log.len() as u64, report.stats.doorbells);
    assert_eq!(report.stats.log[0].block.op, Op::Nop as u32);
    let (a, b) = (details(g.ram()).pasid_a, details(g.ram()).pasid_b);
    assert_eq!(
        (report.stats.log[1].result, report.stats.log[2].result),
        (a as i32, b as i32)
    );
    assert_eq!(model.outstanding(), 0);
    assert_eq!(model.violations(), 0);
}

#[test]
fn old_and_new_guests_against_one_vmm() {
    if !kvm_usable("old_and_new_guests_against_one_vmm") {
        return;
    }
    let (model, vmm) = setup();
    let images = [
        ("well_behaved", WELL_BEHAVED, 0),
        ("gen1", GEN1, 0),
        ("gen2", GEN2, 2),
        ("gen3", GEN3, 4),
    ];
    let mut guests: Vec<_> = images
        .iter()
        .enumerate()
        .map(|(i, (name, image, _))| {
            let spec = GuestSpec::new(*name, *image, DeviceId(0x0200 + i as u32))
                .on_ready(inject_on_ready(model.clone(), INJECT));
            vmm.create_guest(spec).unwrap()
        })
        .collect();
    let reports = vmm.run_all(&mut guests);
    for ((guest, report), (_, _, new_features)) in guests.iter().zip(reports).zip(images) {
        check_well_behaved(&model, guest, &report.unwrap(), new_features);
    }
    assert_eq!(model.outstanding(), 0);
    assert_eq!(model.violations(), 0);
}

/// A VM whose state is set up from the host side (two PASIDs, one bound with a guest
/// PASID, three page requests of which one is read) and whose guest only asks
/// FAULT_STATUS, `n` times.
fn bystander(
    vmm: &Vmm<SoftwareIommu>,
    model: &SoftwareIommu,
    device: DeviceId,
    n: u64,
) -> vsva_vmm::Guest<SoftwareIommu> {
    let spec = GuestSpec::new("bystander", REPEAT, device)
        .regs(StartRegs {
            rcx: n,
            ..StartRegs::default()
        })
        .preload(BLOCKS_GPA, cmd(Op::FaultStatus, 0, 0));
    let g = vmm.create_guest(spec).unwrap();
    let vm = g.vm();
    let p1 = vm.alloc_pasid(1, 0xf_ffff).unwrap();
    let _p2 = vm.alloc_pasid(1, 0xf_ffff).unwrap();
    let mut bind = GpasidBindData::new_zeroed();
    bind.argsz = 72;
    bind.version = 1;
    bind.addr_width = 48;
    bind.gpgd = 0x5000;
    bind.hpasid = u64::from(p1);
    bind.flags = 1; // IOMMU_SVA_GPASID_VAL
    bind.gpasid = 9;
    bind.set_vtd(GpasidBindDataVtd::new_zeroed());
    vm.bind_gpasid(bind.as_bytes()).unwrap();
    for grpid in 1..=3 {
        model.inject_page_request(
            vmm.viommu(),
            PageRequest {
                id: 0,
                device,
                pasid: Some(p1),
                grpid,
                perm: FaultPerm::READ,
                addr: 0x4000_0000,
                last_page: true,
                needs_pasid: true,
                private_data: None,
            },
        );
    }
    assert!(vm.next_fault().is_some());
    g
}

#[test]
fn hostile_guest_changes_nothing_of_the_other_vms() {
    if !kvm_usable("hostile_guest_changes_nothing_of_the_other_vms") {
        return;
    }
    for seed in [0, 0x1234_5678, 0x9e37_79b9] {
        let (model, vmm) = setup();
        let hostile_dev = DeviceId(0x0300);
        // The neighbour of the hostile guest's device: the one its PAGE_RESPONSEs aim at.
        let bystander_dev = DeviceId(0x0301);
        let well_dev = DeviceId(0x0302);
        let mut hostile = vmm
            .create_guest(
                GuestSpec::new("hostile", HOSTILE, hostile_dev)
                    .seed(seed)
                    .on_ready(inject_on_ready(model.clone(), 2)),
            )
            .unwrap();
        let mut by = bystander(&vmm, &model, bystander_dev, 3000);
        let by_snapshot = by.vm().snapshot();
        let by_state = model.vm_state(by.vm().id());
        assert_eq!((by_snapshot.pasids.len(), by_snapshot.faults.len()), (2, 3));

        let hostile_done = AtomicBool::new(false);
        let (hostile_report, by_report, well_runs) = std::thread::scope(|s| {
            let h = s.spawn(|| {
                let r = hostile.run();
                hostile_done.store(true, Ordering::SeqCst);
                r
            });
            let b = s.spawn(|| by.run());
            // Well-behaved guests, one after another, for as long as the hostile runs:
            // each one's results and effects must be exactly the expected ones.
            let w = s.spawn(|| {
                let mut runs = 0;
                while runs == 0 || !hostile_done.load(Ordering::SeqCst) {
                    let spec =
                        GuestSpec::new(format!("well_behaved#{runs}"), WELL_BEHAVED, well_dev)
                            .on_ready(inject_on_ready(model.clone(), INJECT));
                    let mut g = vmm.create_guest(spec).unwrap();
                    let report = g.run().unwrap();
                    check_well_behaved(&model, &g, &report, 0);
                    runs += 1;
                }
                runs
            });
            (h.join().unwrap(), b.join().unwrap(), w.join().unwrap())
        });

        // The hostile guest ran to its end: no panic, no unexpected exit, and by its
        // own strict checks every request got an errno or a plausible result.
        let r = hostile_report.unwrap_or_else(|e| panic!("seed {seed:#x}: {e}"));
        let g = r.guest.expect("hostile report");
        assert_eq!(
            g.unexpected_results,
            0,
            "seed {seed:#x}: {}",
            diag(hostile.ram())
        );
        assert_eq!(g.requests_sent, 2002);
        assert_eq!(
            u64::from(g.requests_sent),
            r.stats.doorbells + r.stats.bad_doorbells
        );
        assert!(r.stats.bad_doorbells > 0 && r.stats.failures() > r.stats.successes);
        // VMM side: every handled doorbell got a result, an errno or a value.
        assert_eq!(r.stats.successes + r.stats.failures(), r.stats.doorbells);
        for e in r.stats.errnos.keys() {
            assert!((1..=133).contains(e), "errno {e}");
        }
        assert_eq!(r.stats.log.len() as u64, r.stats.doorbells);
        assert!(r.stats.log.iter().all(|d| d.result >= -133));

        // The bystander: byte-for-byte the same VM state and backend state.
        let by_report = by_report.unwrap();
        assert_eq!(by_report.stats.ops.fault_status, 3000);
        assert!(
            by_report.stats.log.iter().all(|d| d.result == 2),
            "2 unread requests throughout"
        );
        assert_eq!(by.vm().snapshot(), by_snapshot, "seed {seed:#x}");
        assert_eq!(
            format!("{:?}", by.vm().snapshot()),
            format!("{by_snapshot:?}")
        );
        assert_eq!(model.vm_state(by.vm().id()), by_state, "seed {seed:#x}");
        assert_eq!(
            format!("{:?}", model.vm_state(by.vm().id())),
            format!("{by_state:?}")
        );
        assert!(well_runs >= 1);
        println!(
            "seed {seed:#x}: {well_runs} well-behaved runs alongside; hostile {:?}",
            r.stats.errnos
        );
        assert_eq!(model.violations(), 0, "seed {seed:#x}");

        // Teardown answers whatever the hostile and the bystander left pending.
        drop(hostile);
        drop(by);
        assert_eq!(model.outstanding(), 0);
        assert_eq!(vmm.viommu().pasid_space().allocated_count(), 0);
    }
}
