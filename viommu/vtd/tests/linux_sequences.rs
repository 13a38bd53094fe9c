//! Linux's intel-iommu boot and SVA sequences (the reference's §5), replayed register by
//! register by a scripted guest against the unit on the software backend: every step's
//! effect on vsva-viommu and on the backend is checked.

mod common;

use std::sync::{Arc, Mutex};
use vsva_viommu::{GuestPasid, HostPasid};

use common::linux_guest::{LinuxGuest, QiError, SVA_DID};
use vm_memory::{GuestAddress, GuestMemoryMmap};
use vsva_uapi::consts::{CacheInvType, FaultPerm, PageResponseCode};
use vsva_uapi::hw::vtd::{FaultReason, PasidEntry};
use vsva_viommu::soft::{Event, SoftwareIommu};
use vsva_viommu::{
    DeviceId, HostIommu, Invalidation, InvalidationScope, PageRequest, Viommu, VmConfig,
};
use vsva_vtd::{Msi, VtdConfig, VtdEvent, VtdUnit};

type Msis = Arc<Mutex<Vec<(VtdEvent, Msi)>>>;

fn ram() -> GuestMemoryMmap {
    GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 1 << 20)]).unwrap()
}

struct Setup {
    model: SoftwareIommu,
    viommu: Viommu<SoftwareIommu>,
    msis: Msis,
}

fn setup() -> Setup {
    let model = SoftwareIommu::new(HostIommu::vtd_default());
    Setup {
        viommu: Viommu::new(model.clone()),
        model,
        msis: Arc::default(),
    }
}

type Unit = VtdUnit<SoftwareIommu, GuestMemoryMmap, Box<dyn Fn(VtdEvent, Msi) + Send + Sync>>;

fn unit(s: &Setup, mem: GuestMemoryMmap) -> Unit {
    let vm = Arc::new(s.viommu.create_vm(VmConfig::default()));
    let msis = s.msis.clone();
    let sink: Box<dyn Fn(VtdEvent, Msi) + Send + Sync> =
        Box::new(move |e, m| msis.lock().unwrap().push((e, m)));
    let u = VtdUnit::new(vm, mem, sink, VtdConfig::default()).unwrap();
    u.attach_device(0x0008, DeviceId(0x0300)).unwrap();
    u
}

const RID: u16 = 0x0008;

#[test]
fn boot_probe_bind_flush_fault_respond_unbind() {
    let s = setup();
    let mem = ram();
    let u = unit(&s, mem.clone());
    let mut g = LinuxGuest::new(&u, &mem);
    assert!(g.boot(), "every status poll sees what Linux waits for");
    assert!(s.model.vm_state(u.vm().id()).pasid_entries.is_empty());

    // Device probe: context entry with PASID + PRI, DMA domain on RID_PASID (DID 2).
    g.probe_device(RID, true, true).unwrap();
    g.bind(RID, 0, 2, 0x6_0000).unwrap();
    let st = s.model.vm_state(u.vm().id());
    assert_eq!(st.pasid_entries.len(), 1, "RID_PASID bound");
    let rid_pasid = *st.pasid_entries.values().next().unwrap();
    assert_eq!((rid_pasid.gpgd, rid_pasid.gpasid), (0x6_0000, None));
    assert_eq!(rid_pasid.addr_width, 48);

    // SVA bind of PASID 5 (DID 1).
    let before = s.model.vm_state(u.vm().id()).flushes;
    g.bind(RID, 5, SVA_DID, 0x7_0000).unwrap();
    let st = s.model.vm_state(u.vm().id());
    let sva = st
        .pasid_entries
        .values()
        .find(|b| b.gpasid == Some(GuestPasid(5)))
        .copied()
        .expect("PASID 5 bound with its guest PASID");
    assert_eq!(sva.gpgd, 0x7_0000);
    assert!(u.vm().snapshot().pasids.contains(&sva.hpasid));
    // The PIOTLB all-in-PASID after the bind reached the backend, with one flush.
    assert_eq!(
        st.log.back(),
        Some(&Event::Invalidate(Invalidation {
            caches: CacheInvType::IOTLB,
            scope: InvalidationScope::Pasid {
                pasid: Some(sva.hpasid),
                archid: None
            },
        }))
    );
    assert_eq!(st.flushes, before + 1, "one run, one flush");

    // mmu notifier: 16 pages at 0x7f00_0001_0000 → PIOTLB PSI (+ devTLB, not forwarded).
    let n = st.invalidations;
    g.flush_range(RID, 5, SVA_DID, 0x7f00_0001_0000, 16)
        .unwrap();
    let st = s.model.vm_state(u.vm().id());
    assert_eq!(st.invalidations, n + 1);
    let Some(Event::Invalidate(inv)) = st.log.back() else {
        panic!("{:?}", st.log.back())
    };
    assert_eq!(
        inv.scope,
        InvalidationScope::Addr {
            pasid: Some(sva.hpasid),
            archid: None,
            addr: 0x7f00_0001_0000,
            last: 0x7f00_0001_0000 + 16 * 4096 - 1,
            granule_size: 4096,
            leaf: true,
        }
    );

    // The device faults on the host PASID: a page request descriptor for guest PASID 5.
    s.model.inject_page_request(
        &s.viommu,
        PageRequest {
            id: 0,
            device: DeviceId(0x0300),
            pasid: Some(sva.hpasid),
            grpid: 0x1a,
            perm: FaultPerm::READ | FaultPerm::WRITE,
            addr: 0x7f00_0002_3000,
            last_page: true,
            needs_pasid: true,
            private_data: None,
        },
    );
    assert_eq!(u.deliver_page_requests(), 1);
    assert!(s
        .msis
        .lock()
        .unwrap()
        .iter()
        .any(|(e, m)| *e == VtdEvent::PageRequest && m.data == 0x41 && m.address == 0xfee0_0000));
    let reqs = g.read_page_requests();
    assert_eq!(reqs.len(), 1);
    let r = reqs[0];
    assert_eq!((r.rid, r.pasid, r.pp, r.prgi), (RID, 5, true, 0x1a));
    assert_eq!(
        (r.rd, r.wr, r.lpig, r.addr),
        (true, true, true, 0x7f00_0002_3000)
    );
    assert_eq!(s.model.outstanding(), 1);
    // The guest answers success: the device gets it, with the host PASID.
    g.respond(&r, 0).unwrap();
    assert_eq!(s.model.outstanding(), 0);
    let st = s.model.vm_state(u.vm().id());
    let Some(Event::PageResponse(resp)) = st.log.back() else {
        panic!()
    };
    assert_eq!(
        (resp.pasid, resp.grpid, resp.code),
        (Some(sva.hpasid), 0x1a, PageResponseCode::Success)
    );
    // A second answer matches nothing: dropped, nothing reaches the backend.
    g.respond(&r, 0).unwrap();
    assert_eq!(u.stats().responses_unmatched, 1);
    assert_eq!(s.model.violations(), 0);

    // Unbind with the PRQ drain: the host PASID is unbound and freed.
    g.unbind(RID, 5, SVA_DID).unwrap();
    let st = s.model.vm_state(u.vm().id());
    assert!(!st.pasid_entries.contains_key(&sva.hpasid));
    assert!(!u.vm().snapshot().pasids.contains(&sva.hpasid));
    assert!(st.log.iter().any(|e| *e == Event::Unbind(sva.hpasid)));
    assert_eq!(u.stats().queue_errors, 0);

    // TE off: every bind goes.
    assert!(g.disable_translation());
    assert!(s.model.vm_state(u.vm().id()).pasid_entries.is_empty());
    assert_eq!(s.model.violations(), 0);
}

#[test]
fn vtd_failure_code_is_failure_and_linux_generic_codes_map_too() {
    for (rc, want) in [
        (0, PageResponseCode::Success),
        (1, PageResponseCode::Invalid),
        (0xf, PageResponseCode::Failure),
        (2, PageResponseCode::Failure),
    ] {
        let s = setup();
        let mem = ram();
        let u = unit(&s, mem.clone());
        let mut g = LinuxGuest::new(&u, &mem);
        assert!(g.boot());
        g.probe_device(RID, true, true).unwrap();
        g.bind(RID, 9, SVA_DID, 0x7_0000).unwrap();
        let h = u.bindings()[0].0;
        s.model.inject_page_request(
            &s.viommu,
            PageRequest {
                id: 0,
                device: DeviceId(0x0300),
                pasid: Some(HostPasid(h.0)),
                grpid: 3,
                perm: FaultPerm::READ,
                addr: 0x1000,
                last_page: true,
                needs_pasid: true,
                private_data: None,
            },
        );
        u.deliver_page_requests();
        let r = g.read_page_requests()[0];
        g.respond(&r, rc).unwrap();
        let st = s.model.vm_state(u.vm().id());
        let Some(Event::PageResponse(resp)) = st.log.back() else {
            panic!()
        };
        assert_eq!(resp.code, want, "RC {rc:#x}");
        assert_eq!(
            vsva_uapi::hw::vtd::ResponseCode::from_generic(resp.code).raw(),
            if rc == 0 || rc == 1 { rc } else { 0xf },
            "the wire code a VT-d backend writes"
        );
    }
}

#[test]
fn two_devices_share_an_sva_pasid_and_unbind_only_with_the_last() {
    let s = setup();
    let mem = ram();
    let u = unit(&s, mem.clone());
    u.attach_device(0x0010, DeviceId(0x0400)).unwrap();
    let mut g = LinuxGuest::new(&u, &mem);
    assert!(g.boot());
    g.probe_device(RID, true, true).unwrap();
    g.probe_device(0x0010, true, true).unwrap();
    g.bind(RID, 7, SVA_DID, 0x7_0000).unwrap();
    g.bind(0x0010, 7, SVA_DID, 0x7_0000).unwrap();
    let b = u.bindings();
    assert_eq!(b.len(), 1, "one host PASID for one mm");
    assert_eq!(b[0].2, vec![RID, 0x0010]);
    g.unbind(RID, 7, SVA_DID).unwrap();
    assert_eq!(u.bindings().len(), 1);
    assert_eq!(s.model.vm_state(u.vm().id()).pasid_entries.len(), 1);
    g.unbind(0x0010, 7, SVA_DID).unwrap();
    assert!(u.bindings().is_empty());
    assert!(s.model.vm_state(u.vm().id()).pasid_entries.is_empty());
    assert_eq!(s.model.violations(), 0);
}

#[test]
fn bad_entries_are_faults_the_guest_sees_and_nothing_is_bound() {
    let s = setup();
    let mem = ram();
    let u = unit(&s, mem.clone());
    let mut g = LinuxGuest::new(&u, &mem);
    assert!(g.boot());
    g.probe_device(RID, true, true).unwrap();
    // PGTT = second-stage: invalid entry (0x5B).
    let mut e = LinuxGuest::<
        SoftwareIommu,
        GuestMemoryMmap,
        Box<dyn Fn(VtdEvent, Msi) + Send + Sync>,
    >::first_stage_entry(1, 0x7_0000, false);
    e.pgtt = 2;
    g.write_pasid_entry(RID, 3, &e);
    g.submit(&[common::linux_guest::pc_psi(1, 3)], false)
        .unwrap();
    // A memory-type flag without ECAP.MTS: reserved field (0x5A).
    let e = PasidEntry {
        emte: true,
        ..LinuxGuest::<SoftwareIommu, GuestMemoryMmap, Box<dyn Fn(VtdEvent, Msi) + Send + Sync>>::first_stage_entry(1, 0x7_0000, false)
    };
    g.write_pasid_entry(RID, 4, &e);
    g.submit(&[common::linux_guest::pc_psi(1, 4)], false)
        .unwrap();
    assert!(s.model.vm_state(u.vm().id()).pasid_entries.is_empty());
    // The fault ISR sees two records, in order, and the fault event fired once.
    let fsts = g.readl(0x34);
    assert_eq!(fsts & 2, 2, "PPF");
    let rec = |g: &mut LinuxGuest<'_, _, _, _>, i: u64| {
        (g.readl(0x220 + 16 * i + 8), g.readl(0x220 + 16 * i + 12))
    };
    let (d2, d3) = rec(&mut g, 0);
    assert_eq!(
        (d2 & 0xffff, d3 & 0xff, (d3 >> 8) & 0xfffff),
        (
            u32::from(RID),
            u32::from(FaultReason::PasidEntryInvalid.code()),
            3
        )
    );
    assert_eq!(d3 >> 31, 1);
    let (_, d3) = rec(&mut g, 1);
    assert_eq!(d3 & 0xff, u32::from(FaultReason::PasidEntryReserved.code()));
    let fault_msis = s
        .msis
        .lock()
        .unwrap()
        .iter()
        .filter(|(e, _)| *e == VtdEvent::Fault)
        .count();
    assert_eq!(fault_msis, 1, "gated while PPF is set");
    // Clearing F of both records and FSTS re-arms the event.
    g.writel(0x220 + 12, 0x8000_0000);
    g.writel(0x230 + 12, 0x8000_0000);
    g.writel(0x34, 0x83);
    assert_eq!(g.readl(0x34) & 2, 0);
    g.write_pasid_entry(RID, 6, &e);
    g.submit(&[common::linux_guest::pc_psi(1, 6)], false)
        .unwrap();
    let fault_msis = s
        .msis
        .lock()
        .unwrap()
        .iter()
        .filter(|(e, _)| *e == VtdEvent::Fault)
        .count();
    assert_eq!(fault_msis, 2);
}

#[test]
fn invalid_descriptor_leaves_iqh_on_it_and_linux_recovers() {
    let s = setup();
    let mem = ram();
    let u = unit(&s, mem.clone());
    let mut g = LinuxGuest::new(&u, &mem);
    assert!(g.boot());
    // A type-2 IOTLB PSI with AM 19 > MAMV: IQE, IQH on it, IQEI 4.
    let r = g.submit(&[[2 | (3 << 4), 19, 0, 0]], false);
    assert!(matches!(r, Err(QiError::InvalidDescriptor { .. })), "{r:?}");
    assert_eq!(u.stats().queue_errors, 1);
    // After Linux's recovery the queue runs on: the next submission completes.
    g.probe_device(RID, true, true).unwrap();
    g.bind(RID, 1, SVA_DID, 0x7_0000).unwrap();
    assert_eq!(u.bindings().len(), 1);
    assert_eq!(u.stats().queue_errors, 1);
}
