//! The register file's semantics (reset values, access widths, GCMD one-shot and level
//! bits, W1C, reserved bits, queue geometry, page request overflow), a property test of
//! random queue runs, and a hostile guest beside a bystander VM whose state must stay
//! byte-identical.

mod common;

use std::sync::{Arc, Mutex};
use vsva_viommu::HostPasid;

use common::linux_guest::{pc_psi, LinuxGuest, CONTEXT, IQ, PRQ, SVA_DID};
use proptest::prelude::*;
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};
use vsva_uapi::consts::FaultPerm;
use vsva_uapi::hw::vtd::{Cap, ContextEntry, Ecap, EcapFlags, GcmdFlags};
use vsva_viommu::soft::SoftwareIommu;
use vsva_viommu::{DeviceId, HostIommu, PageRequest, Viommu, VmConfig};
use vsva_vtd::{MmioHandler, Msi, VtdConfig, VtdEvent, VtdUnit, MMIO_SIZE};

type Sink = Box<dyn Fn(VtdEvent, Msi) + Send + Sync>;
type Unit = VtdUnit<SoftwareIommu, GuestMemoryMmap, Sink>;

fn ram() -> GuestMemoryMmap {
    GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 1 << 20)]).unwrap()
}

fn make(
    viommu: &Viommu<SoftwareIommu>,
    mem: GuestMemoryMmap,
    dev: u32,
    log: Arc<Mutex<Vec<VtdEvent>>>,
) -> Unit {
    let vm = Arc::new(viommu.create_vm(VmConfig::default()));
    let sink: Sink = Box::new(move |e, _| log.lock().unwrap().push(e));
    let u = VtdUnit::new(vm, mem, sink, VtdConfig::default()).unwrap();
    u.attach_device(0x0008, DeviceId(dev)).unwrap();
    u
}

fn r32(u: &Unit, off: u64) -> u32 {
    let mut b = [0u8; 4];
    u.mmio_read(off, &mut b);
    u32::from_le_bytes(b)
}
fn w32(u: &Unit, off: u64, v: u32) {
    u.mmio_write(off, &v.to_le_bytes());
}
fn r64(u: &Unit, off: u64) -> u64 {
    let mut b = [0u8; 8];
    u.mmio_read(off, &mut b);
    u64::from_le_bytes(b)
}
fn w64(u: &Unit, off: u64, v: u64) {
    u.mmio_write(off, &v.to_le_bytes());
}

#[test]
fn reset_values_and_capabilities() {
    let viommu = Viommu::new(SoftwareIommu::new(HostIommu::vtd_default()));
    let u = make(&viommu, ram(), 0x300, Arc::default());
    assert_eq!(r32(&u, 0x00), 0x10);
    let cap = Cap::decode_raw(r64(&u, 0x08));
    let ecap = Ecap::decode_raw(r64(&u, 0x10));
    assert!(cap.cm && cap.esrtps && cap.psi && !cap.rwbf);
    assert_eq!(
        (cap.fro, cap.fault_records(), cap.mamv, cap.mgaw),
        (0x22, 8, 18, 47)
    );
    assert!(ecap.qi && ecap.smts && ecap.fsts && ecap.pasid && ecap.prs && ecap.pds);
    assert!(!ecap.ssts && !ecap.pt && !ecap.nest && !ecap.ir && !ecap.mts && !ecap.vcs);
    assert_eq!((ecap.iro, ecap.pasid_bits()), (0xf, 20));
    // Reset: IM = 1 on all three event controls (PECTL too, as hardware), GSTS 0.
    assert_eq!(r32(&u, 0x38), 0x8000_0000);
    assert_eq!(r32(&u, 0xa0), 0x8000_0000);
    assert_eq!(r32(&u, 0xe0), 0x8000_0000);
    assert_eq!(r32(&u, 0x1c), 0);
    // 64-bit registers read as two dwords.
    assert_eq!(
        u64::from(r32(&u, 0x08)) | (u64::from(r32(&u, 0x0c)) << 32),
        cap.raw()
    );
    // Outside the window and odd widths read 0; odd-width writes are dropped.
    let mut b = [0xffu8; 8];
    u.mmio_read(MMIO_SIZE, &mut b);
    assert_eq!(b, [0; 8]);
    let mut b3 = [0xffu8; 3];
    u.mmio_read(0x8, &mut b3);
    assert_eq!(b3, [0; 3]);
    u.mmio_write(0x18, &[0xff]);
    assert_eq!(u.stats().bad_accesses, 1);
    assert_eq!(r32(&u, 0x1c), 0);
    // Byte reads of a register give its bytes.
    let mut one = [0u8; 1];
    u.mmio_read(0x00, &mut one);
    assert_eq!(one, [0x10]);
}

#[test]
fn capabilities_follow_the_host() {
    // A host without page requests: no PRS/PDS, and PQ registers are reserved.
    let base = HostIommu::vtd_default();
    let HostIommu::Vtd(c) = base else { panic!() };
    let ecap = c.ecap_reg & !EcapFlags::PRS.bits();
    let host = HostIommu::Vtd(vsva_vfio::vtd::VtdCapabilities::decode(c.cap_reg, ecap));
    let viommu = Viommu::new(SoftwareIommu::new(host));
    let u = make(&viommu, ram(), 0x300, Arc::default());
    assert!(!u.offer().ecap.prs && !u.offer().ecap.pds);
    w64(&u, 0xd0, PRQ | 4);
    assert_eq!(r64(&u, 0xd0), 0);
    // A host without nesting: no unit at all.
    let ecap = c.ecap_reg & !EcapFlags::NEST.bits();
    let host = HostIommu::Vtd(vsva_vfio::vtd::VtdCapabilities::decode(c.cap_reg, ecap));
    let viommu = Viommu::new(SoftwareIommu::new(host));
    let vm = Arc::new(viommu.create_vm(VmConfig::default()));
    let sink: Sink = Box::new(|_, _| {});
    assert!(VtdUnit::new(vm, ram(), sink, VtdConfig::default()).is_err());
    // An SMMUv3 host: no VT-d unit.
    let viommu = Viommu::new(SoftwareIommu::new(HostIommu::smmuv3_default()));
    let vm = Arc::new(viommu.create_vm(VmConfig::default()));
    let sink: Sink = Box::new(|_, _| {});
    assert!(VtdUnit::new(vm, ram(), sink, VtdConfig::default()).is_err());
}

#[test]
fn gcmd_one_shot_and_level_bits() {
    let viommu = Viommu::new(SoftwareIommu::new(HostIommu::vtd_default()));
    let u = make(&viommu, ram(), 0x300, Arc::default());
    let te = GcmdFlags::TE.bits() as u32;
    let srtp = GcmdFlags::SRTP.bits() as u32;
    let qie = GcmdFlags::QIE.bits() as u32;
    // GCMD reads as 0.
    w32(&u, 0x18, qie);
    assert_eq!(r32(&u, 0x18), 0);
    assert_eq!(r32(&u, 0x1c) & qie, qie, "QIES");
    // SRTP latches RTADDR (with TTM) on each write of 1, even with QIE re-stated.
    w64(&u, 0x20, 0x1_0000 | (1 << 10));
    w32(&u, 0x18, qie | srtp);
    assert_eq!(r32(&u, 0x1c) & srtp, srtp, "RTPS");
    // TE acts on change only: writing gcmd with TE twice is one enable.
    w32(&u, 0x18, qie | te);
    w32(&u, 0x18, qie | te);
    assert_eq!(r32(&u, 0x1c) & (te | qie), te | qie);
    // QIE cannot be cleared with descriptors pending: IQT ahead of IQH.
    w64(&u, 0x90, IQ | (1 << 11) | 1);
    // RTADDR reserved bits 9:0 read as 0.
    w64(&u, 0x20, 0x1_0000 | 0x3ff);
    assert_eq!(r64(&u, 0x20), 0x1_0000);
}

#[test]
fn queue_tail_bit4_in_256bit_mode_and_beyond_queue_are_iqe() {
    let viommu = Viommu::new(SoftwareIommu::new(HostIommu::vtd_default()));
    let mem = ram();
    let u = make(&viommu, mem.clone(), 0x300, Arc::default());
    let mut g = LinuxGuest::new(&u, &mem);
    assert!(g.boot());
    w32(&u, 0x88, 0x10);
    assert_eq!(r32(&u, 0x34) & 0x10, 0x10, "IQE");
    assert_eq!(r64(&u, 0xb0) & 0xf, 1, "IQEI: invalid tail");
    w32(&u, 0x34, 0x10);
    assert_eq!(r32(&u, 0x34) & 0x10, 0);
    // QS = 1, 256-bit: 256 entries = 0x2000 bytes; IQT 0x2000 is masked into range by
    // bits 18:4 but names index 256: IQE.
    w32(&u, 0x88, 0x2000);
    assert_eq!(r32(&u, 0x34) & 0x10, 0x10);
}

#[test]
fn queue_wraps() {
    let viommu = Viommu::new(SoftwareIommu::new(HostIommu::vtd_default()));
    let mem = ram();
    let u = make(&viommu, mem.clone(), 0x300, Arc::default());
    let mut g = LinuxGuest::new(&u, &mem);
    assert!(g.boot());
    // 300 submissions of a wait each: the 256-entry ring wraps; every wait completes.
    for _ in 0..300 {
        g.submit(&[], false).unwrap();
    }
    assert_eq!(u.stats().waits, 300);
    assert_eq!(u.stats().queue_errors, 0);
}

#[test]
fn page_request_overflow_sets_pro_and_answers_the_device() {
    let model = SoftwareIommu::new(HostIommu::vtd_default());
    let viommu = Viommu::new(model.clone());
    let mem = ram();
    let log = Arc::<Mutex<Vec<VtdEvent>>>::default();
    let u = make(&viommu, mem.clone(), 0x300, log.clone());
    let mut g = LinuxGuest::new(&u, &mem);
    assert!(g.boot());
    // A one-page queue (128 entries) instead of Linux's 16 pages.
    w64(&u, 0xd0, PRQ);
    g.probe_device(0x0008, true, true).unwrap();
    g.bind(0x0008, 2, SVA_DID, 0x7_0000).unwrap();
    let h = u.bindings()[0].0;
    for grp in 0..200u32 {
        model.inject_page_request(
            &viommu,
            PageRequest {
                id: 0,
                device: DeviceId(0x300),
                pasid: Some(HostPasid(h.0)),
                grpid: grp & 0x1ff,
                perm: FaultPerm::READ,
                addr: 0x1000 * u64::from(grp),
                last_page: true,
                needs_pasid: true,
                private_data: None,
            },
        );
    }
    assert_eq!(u.deliver_page_requests(), 127, "one slot stays free");
    assert_eq!(r32(&u, 0xdc), 3, "PPR and PRO");
    // Every request the guest could not take was answered at once.
    assert_eq!(model.outstanding(), 127);
    assert_eq!(
        log.lock()
            .unwrap()
            .iter()
            .filter(|e| **e == VtdEvent::PageRequest)
            .count(),
        1
    );
    let reqs = g.read_page_requests();
    assert_eq!(reqs.len(), 127);
    for r in &reqs {
        g.respond(r, 0).unwrap();
    }
    assert_eq!(model.outstanding(), 0);
    assert_eq!(model.violations(), 0);
}

/// A guest's register writes and queue contents, as random as they come.
#[derive(Debug, Clone)]
enum Op {
    Write { off: u16, v: u64, wide: bool },
    Desc { words: [u64; 4] },
    Run { n: u8 },
    Mem { gpa: u32, v: u64 },
    Respond { prgi: u16 },
    Inject,
}

fn op() -> impl Strategy<Value = Op> {
    let hot = prop_oneof![
        Just(0x18u16),
        Just(0x20),
        Just(0x34),
        Just(0x38),
        Just(0x88),
        Just(0x90),
        Just(0x9c),
        Just(0xc0),
        Just(0xc8),
        Just(0xd0),
        Just(0xdc),
        Just(0xe0),
        Just(0x22c),
        0u16..0x1000
    ];
    let desc_ty = prop_oneof![1u64..=9, 0u64..16];
    prop_oneof![
        (hot, any::<u64>(), any::<bool>()).prop_map(|(off, v, wide)| Op::Write { off, v, wide }),
        (desc_ty, any::<[u64; 4]>(), any::<bool>()).prop_map(|(ty, mut w, clean)| {
            w[0] = (w[0] & !0xe0f) | ty;
            if clean {
                // Mostly-valid: keep the fields, clear reserved-prone high words.
                w[0] &= 0x000f_ffff_ffff_00ff;
                w[1] &= !0xffe;
                w[2] = 0;
                w[3] = 0;
            }
            Op::Desc { words: w }
        }),
        (1u8..20).prop_map(|n| Op::Run { n }),
        (0u32..(2 << 20), any::<u64>()).prop_map(|(gpa, v)| Op::Mem { gpa, v }),
        (0u16..0x200).prop_map(|prgi| Op::Respond { prgi }),
        Just(Op::Inject),
    ]
}

struct Pair {
    model: SoftwareIommu,
    viommu: Viommu<SoftwareIommu>,
    hostile: Unit,
    hmem: GuestMemoryMmap,
    bystander: Unit,
    bmem: GuestMemoryMmap,
}

fn pair() -> Pair {
    let model = SoftwareIommu::new(HostIommu::vtd_default());
    let viommu = Viommu::new(model.clone());
    let hmem = ram();
    let bmem = ram();
    let hostile = make(&viommu, hmem.clone(), 0x300, Arc::default());
    let bystander = make(&viommu, bmem.clone(), 0x400, Arc::default());
    Pair {
        model,
        viommu,
        hostile,
        hmem,
        bystander,
        bmem,
    }
}

fn bystander_snapshot(
    p: &Pair,
) -> (
    vsva_viommu::VmSnapshot,
    vsva_viommu::soft::SoftVmState,
    Vec<u8>,
) {
    let mut ram = vec![0u8; 1 << 20];
    p.bmem.read_slice(&mut ram, GuestAddress(0)).unwrap();
    (
        p.bystander.vm().snapshot(),
        p.model.vm_state(p.bystander.vm().id()),
        ram,
    )
}

fn play(p: &Pair, ops: &[Op], tail: &mut u32) {
    let u = &p.hostile;
    for o in ops {
        match o {
            Op::Write { off, v, wide } => {
                let off = u64::from(*off);
                if *wide {
                    u.mmio_write(off & !7, &v.to_le_bytes());
                } else {
                    u.mmio_write(off & !3, &(*v as u32).to_le_bytes());
                }
            }
            Op::Desc { words } => {
                let mut b = [0u8; 32];
                vsva_uapi::hw::words_to_le_bytes(words, &mut b);
                let _ = p
                    .hmem
                    .write_slice(&b, GuestAddress(IQ + u64::from(*tail % 256) * 32));
                *tail = (*tail + 1) % 256;
            }
            Op::Run { n } => {
                let _ = n;
                u.mmio_write(0x88, &((*tail) << 5).to_le_bytes());
            }
            Op::Mem { gpa, v } => {
                let _ = p
                    .hmem
                    .write_slice(&v.to_le_bytes(), GuestAddress(u64::from(*gpa)));
            }
            Op::Respond { prgi } => {
                let w = [
                    9 | (1 << 4) | (0x0008 << 16) | (1 << 32),
                    u64::from(*prgi) << 3,
                    0,
                    0,
                ];
                let mut b = [0u8; 32];
                vsva_uapi::hw::words_to_le_bytes(&w, &mut b);
                let _ = p
                    .hmem
                    .write_slice(&b, GuestAddress(IQ + u64::from(*tail % 256) * 32));
                *tail = (*tail + 1) % 256;
                u.mmio_write(0x88, &((*tail) << 5).to_le_bytes());
            }
            Op::Inject => {
                let pasid = u.bindings().first().map(|b| b.0);
                p.model.inject_page_request(
                    &p.viommu,
                    PageRequest {
                        id: 0,
                        device: DeviceId(0x300),
                        pasid,
                        grpid: 1,
                        perm: FaultPerm::READ,
                        addr: 0x1000,
                        last_page: true,
                        needs_pasid: pasid.is_some(),
                        private_data: None,
                    },
                );
                u.deliver_page_requests();
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, .. ProptestConfig::default() })]

    /// Random queue runs after a Linux boot: no panic, the bystander untouched, every
    /// wait descriptor that completes writes its status only after the descriptors
    /// before it (the unit is synchronous: the status of a wait is written exactly when
    /// IQH passes it), and the backend saw no call a correct vIOMMU never makes.
    #[test]
    fn random_queue_runs(ops in proptest::collection::vec(op(), 1..60)) {
        let p = pair();
        {
            let mut g = LinuxGuest::new(&p.bystander, &p.bmem);
            prop_assert!(g.boot());
            g.probe_device(0x0008, true, true).unwrap();
            g.bind(0x0008, 3, SVA_DID, 0x7_0000).unwrap();
        }
        {
            let mut g = LinuxGuest::new(&p.hostile, &p.hmem);
            prop_assert!(g.boot());
            g.probe_device(0x0008, true, true).unwrap();
            g.bind(0x0008, 1, SVA_DID, 0x8_0000).unwrap();
        }
        let before = bystander_snapshot(&p);
        let mut b = [0u8; 4];
        p.hostile.mmio_read(0x88, &mut b);
        let mut tail = (u32::from_le_bytes(b) >> 5) % 256;
        play(&p, &ops, &mut tail);
        prop_assert_eq!(bystander_snapshot(&p), before);
        prop_assert_eq!(p.model.violations(), 0);
        // The hostile VM holds only PASIDs it bound through its own unit.
        let snap = p.hostile.vm().snapshot();
        let bound: std::collections::BTreeSet<HostPasid> =
            p.hostile.bindings().iter().map(|b| HostPasid(b.0.0)).collect();
        prop_assert_eq!(snap.pasids, bound);
    }
}

#[test]
fn waits_complete_in_order_after_the_descriptors_before_them() {
    // A run of [PIOTLB, wait A, PIOTLB, wait B]: when A's status is written the first
    // invalidation has reached the backend and the second has not.
    let model = SoftwareIommu::new(HostIommu::vtd_default());
    let viommu = Viommu::new(model.clone());
    let mem = ram();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let u = {
        let vm = Arc::new(viommu.create_vm(VmConfig::default()));
        let (m2, s2) = (model.clone(), seen.clone());
        let id = vm.id();
        // The invalidation-completion MSI fires at each IF wait: record how many
        // invalidations the backend had by then.
        let sink: Sink = Box::new(move |e, _| {
            if e == VtdEvent::InvalidationComplete {
                s2.lock().unwrap().push(m2.vm_state(id).invalidations);
            }
        });
        let u = VtdUnit::new(vm, mem.clone(), sink, VtdConfig::default()).unwrap();
        u.attach_device(0x0008, DeviceId(0x300)).unwrap();
        u
    };
    let mut g = LinuxGuest::new(&u, &mem);
    assert!(g.boot());
    g.probe_device(0x0008, true, true).unwrap();
    g.bind(0x0008, 4, SVA_DID, 0x7_0000).unwrap();
    w32(&u, 0xa0, 0); // unmask the completion event
    let n = model.vm_state(u.vm().id()).invalidations;
    let piotlb = common::linux_guest::piotlb_all(SVA_DID, 4);
    let wait_if = [5 | (1 << 4), 0, 0, 0];
    // Clear ICS between the two waits is not possible inside one run, so the second
    // IF wait is gated (ICS.IWC still set): only the first fires. Use two runs.
    g.submit(&[piotlb, wait_if], false).unwrap();
    w32(&u, 0x9c, 1);
    g.submit(&[piotlb, piotlb, wait_if], false).unwrap();
    assert_eq!(*seen.lock().unwrap(), vec![n + 1, n + 3]);
}

#[test]
fn hostile_tables_outside_ram_and_garbage_never_reach_the_bystander() {
    let p = pair();
    {
        let mut g = LinuxGuest::new(&p.bystander, &p.bmem);
        assert!(g.boot());
        g.probe_device(0x0008, true, true).unwrap();
        g.bind(0x0008, 3, SVA_DID, 0x7_0000).unwrap();
    }
    let before = bystander_snapshot(&p);
    let u = &p.hostile;
    // A response flood from a booted guest: nothing was requested, nothing is forwarded.
    let mut g = LinuxGuest::new(u, &p.hmem);
    assert!(g.boot());
    for prgi in 0..2000u16 {
        g.respond(
            &vsva_uapi::hw::vtd::PageReqDesc {
                pp: true,
                rid: 0x0008,
                pasid: 3,
                prgi: prgi & 0x1ff,
                ..Default::default()
            },
            0,
        )
        .unwrap();
    }
    assert_eq!(u.stats().responses_unmatched, 2000);
    assert_eq!(u.stats().responses, 0);
    // Root table, IQ and PRQ outside RAM; garbage in every register.
    w32(u, 0x18, 0);
    w64(u, 0x20, 0xffff_ffff_f000 | (1 << 10));
    w32(u, 0x18, GcmdFlags::SRTP.bits() as u32);
    w64(u, 0x90, 0x7fff_ffff_0000 | (1 << 11) | 7);
    w32(u, 0x18, (GcmdFlags::QIE | GcmdFlags::TE).bits() as u32);
    w32(u, 0x88, 0x20);
    assert_eq!(r32(u, 0x34) & 0x10, 0x10, "fetch outside RAM: IQE");
    assert_eq!(r64(u, 0xb0) & 0xf, 2, "IQEI: fetch error");
    for off in (0..0x1000u64).step_by(4) {
        w32(u, off, 0xdead_beef);
        w64(u, off & !7, 0xffff_ffff_ffff_ffff);
    }
    drop(g);
    assert_eq!(bystander_snapshot(&p), before);
    assert_eq!(p.model.violations(), 0);
}

/// The highest page of the 64-bit address space: a table or queue there runs past 2^64.
const TOP_PAGE: u64 = 0xffff_ffff_ffff_f000;

#[test]
fn page_request_queue_wrapping_past_2_pow_64_refuses_the_request() {
    let model = SoftwareIommu::new(HostIommu::vtd_default());
    let viommu = Viommu::new(model.clone());
    let mem = ram();
    let log = Arc::<Mutex<Vec<VtdEvent>>>::default();
    let u = make(&viommu, mem.clone(), 0x300, log.clone());
    let mut g = LinuxGuest::new(&u, &mem);
    assert!(g.boot());
    g.probe_device(0x0008, true, true).unwrap();
    g.bind(0x0008, 2, SVA_DID, 0x7_0000).unwrap();
    let h = u.bindings()[0].0;
    // PQS 1 (8 KiB) at the top page, the tail at 0x1000: the slot is at 2^64.
    w64(&u, 0xd0, TOP_PAGE | 1);
    w64(&u, 0xc0, 0);
    w64(&u, 0xc8, 0x1000);
    assert_eq!(r64(&u, 0xc8), 0x1000, "PQT");
    let before = log.lock().unwrap().len();
    model.inject_page_request(
        &viommu,
        PageRequest {
            id: 0,
            device: DeviceId(0x300),
            pasid: Some(HostPasid(h.0)),
            grpid: 1,
            perm: FaultPerm::READ,
            addr: 0x1000,
            last_page: true,
            needs_pasid: true,
            private_data: None,
        },
    );
    assert_eq!(u.deliver_page_requests(), 0, "no slot in guest memory");
    // The request is refused (answered to the device), the queue does not move, no event.
    assert_eq!(model.outstanding(), 0);
    assert_eq!(r64(&u, 0xc8), 0x1000, "PQT unchanged");
    assert_eq!(r32(&u, 0xdc), 0, "PRS: no PPR");
    assert_eq!(u.stats().page_requests, 0);
    assert_eq!(log.lock().unwrap().len(), before, "no MSI");
}

#[test]
fn pasid_directory_wrapping_past_2_pow_64_is_a_directory_access_fault() {
    let model = SoftwareIommu::new(HostIommu::vtd_default());
    let viommu = Viommu::new(model.clone());
    let mem = ram();
    let u = make(&viommu, mem.clone(), 0x300, Arc::default());
    let mut g = LinuxGuest::new(&u, &mem);
    assert!(g.boot());
    g.probe_device(0x0008, true, true).unwrap();
    // PDTS 7: 2^14 directory entries (128 KiB) from the top page.
    let ce = ContextEntry {
        p: true,
        dte: true,
        paside: true,
        pre: true,
        pdts: 7,
        pasiddirptr: TOP_PAGE,
        ..ContextEntry::default()
    };
    let words = ce.encode();
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    mem.write_slice(&bytes, GuestAddress(CONTEXT + 8 * 32))
        .unwrap();
    // PASID 0x10000: directory index 1024, at TOP_PAGE + 0x2000 = 2^64 + 0x1000.
    g.submit(&[pc_psi(SVA_DID, 0x10000)], false).unwrap();
    assert!(u.bindings().is_empty());
    assert_eq!(u.stats().binds, 0);
    assert_eq!(u.stats().faults_recorded, 1);
    assert_eq!(r32(&u, 0x34) & 0x2, 0x2, "FSTS.PPF");
    assert_eq!(model.vm_state(u.vm().id()).pasid_entries.len(), 0);
}
