//! vsva's emulated VT-d (`vsva-vtd`) driven by a scripted Linux guest (the intel-iommu
//! boot, device probe, SVA bind, flush, page request and unbind sequences, shared with
//! `viommu/vtd/tests/`) against vsva-viommu's iommufd backend on the real kernel's mock
//! IOMMU: the guest's PASID entries become nested HWPTs the kernel holds, a queue run
//! becomes one `IOMMU_HWPT_INVALIDATE` array, and an IOPF the mock triggers reaches the
//! guest's page request queue and its response the mock's fault fd.

#[path = "../../../viommu/vtd/tests/common/linux_guest.rs"]
mod linux_guest;

use std::sync::Arc;

use linux_guest::{LinuxGuest, SVA_DID};
use vm_memory::{GuestAddress, GuestMemoryMmap};
use vsva_viommu::iommufd::IommufdConfig;
use vsva_viommu::{GuestPasid, VmConfig};
use vsva_vtd::{Msi, VtdConfig, VtdEvent, VtdUnit};

use crate::guest;
use crate::viommu_iommufd::sequences::SequenceProbe;
use crate::viommu_iommufd::{KernelProbe, SelftestFormat};

const RID: u16 = 0x0008;

#[test]
fn linux_guest_on_vsva_vtd_over_the_mock_iommu() {
    guest::require_guest();
    if crate::mock_nesting::Mock::new().is_none() {
        return; // a VT-d boot: the mock is the mock boot's
    }
    let p = KernelProbe::new(SelftestFormat::new(), IommufdConfig::default());
    let vm = Arc::new(p.viommu().create_vm(VmConfig::default()));
    let dev = p.add_device(&vm);
    let mem = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), 1 << 20)]).expect("guest RAM");
    let sink: fn(VtdEvent, Msi) = |_, _| {};
    let unit = VtdUnit::new(Arc::clone(&vm), mem.clone(), sink, VtdConfig::default())
        .expect("a unit over the iommufd backend");
    unit.attach_device(RID, dev).expect("attach");
    let mut g = LinuxGuest::new(&unit, &mem);
    assert!(g.boot(), "boot");
    g.probe_device(RID, true, true).expect("probe");

    // RID_PASID and an SVA PASID: two nested HWPTs in the kernel, with the guests' tables.
    let (gpgd0, gpgd5) = (linux_guest::ROOT + 0x5_0000, linux_guest::ROOT + 0x6_0000);
    g.bind(RID, 0, 2, gpgd0).expect("bind RID_PASID");
    g.bind(RID, 5, SVA_DID, gpgd5).expect("bind PASID 5");
    let bound = p.bound(vm.id());
    let gpgds: Vec<u64> = bound.values().copied().collect();
    assert!(
        gpgds.contains(&gpgd0) && gpgds.contains(&gpgd5),
        "kernel holds {bound:?}"
    );
    let h5 = unit
        .bindings()
        .iter()
        .find(|b| b.1 == GuestPasid(5))
        .expect("PASID 5 bound")
        .0;

    // One run of 8 page flushes of PASID 5 + its wait: one IOMMU_HWPT_INVALIDATE.
    let before = p.viommu().backend().stats();
    let run: Vec<[u64; 4]> = (0..8u64)
        .map(|i| {
            [
                6 | (3 << 4) | (u64::from(SVA_DID) << 16) | (5 << 32),
                (1 << 6) | (0x1000 * i),
                0,
                0,
            ]
        })
        .collect();
    g.submit(&run, false).expect("flush run");
    let after = p.viommu().backend().stats();
    assert_eq!(
        after.invalidate_calls - before.invalidate_calls,
        1,
        "{after:?}"
    );
    assert_eq!(
        after.entries_handled - before.entries_handled,
        8,
        "{after:?}"
    );

    // An IOPF on the mock for the host PASID reaches the guest as PASID 5.
    let mock = p.mock(dev);
    mock.trigger_iopf(h5.0, 7, 1, 0x4000)
        .expect("IOMMU_TEST_OP_TRIGGER_IOPF");
    assert_eq!(
        p.viommu()
            .backend()
            .poll_faults(p.viommu())
            .map_err(|e| e.errno()),
        Ok(1)
    );
    assert_eq!(unit.deliver_page_requests(), 1);
    let reqs = g.read_page_requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!((reqs[0].rid, reqs[0].pasid, reqs[0].prgi), (RID, 5, 7));
    let sent = p.viommu().backend().stats().responses_sent;
    g.respond(&reqs[0], 0).expect("response");
    assert_eq!(p.viommu().backend().stats().responses_sent, sent + 1);

    // Unbind both: the kernel holds no nested HWPT for the VM.
    g.unbind(RID, 5, SVA_DID).expect("unbind 5");
    g.unbind(RID, 0, 2).expect("unbind 0");
    assert!(p.bound(vm.id()).is_empty(), "{:?}", p.bound(vm.id()));
    assert_eq!(unit.stats().queue_errors, 0);
}
