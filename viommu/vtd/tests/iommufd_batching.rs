//! One queue run is one batch: on vsva-viommu's iommufd backend (over the scripted
//! nesting iommufd) a guest's run of PASID-based IOTLB invalidations reaches the kernel
//! as one `IOMMU_HWPT_INVALIDATE` array per nested HWPT, sent before the run's wait
//! completes, even when the guest interleaves PASIDs.

mod common;

use common::linux_guest::{piotlb_all, LinuxGuest, SVA_DID};

#[test]
fn a_run_is_one_invalidate_array_per_hwpt() {
    let (fake, viommu, unit, mem) = common::iommufd::unit_on_fake();
    let mut g = LinuxGuest::new(&unit, &mem);
    assert!(g.boot());
    g.probe_device(0x0008, true, true).unwrap();
    g.bind(0x0008, 1, SVA_DID, 0x7_0000).unwrap();
    g.bind(0x0008, 2, SVA_DID, 0x7_1000).unwrap();
    assert_eq!(
        fake.hwpts()
            .values()
            .filter(|h| !h.is_nest_parent())
            .count(),
        2
    );
    let before = viommu.backend().stats();
    // 16 flushes, PASIDs 1 and 2 interleaved, then Linux's wait.
    let run: Vec<[u64; 4]> = (0..16).map(|i| piotlb_all(SVA_DID, 1 + (i % 2))).collect();
    g.submit(&run, false).unwrap();
    let after = viommu.backend().stats();
    assert_eq!(
        after.invalidate_calls - before.invalidate_calls,
        2,
        "one array per HWPT"
    );
    assert_eq!(after.entries_sent - before.entries_sent, 16);
    assert_eq!(after.entries_handled - before.entries_handled, 16);
    assert_eq!(unit.stats().queue_errors, 0);
}
