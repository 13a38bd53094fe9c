//! Fuzzes today's iommufd and VFIO cdev structs: `iommu_hw_info`, `iommu_hwpt_alloc`,
//! `iommu_hwpt_invalidate`, `iommu_fault_alloc`, `vfio_device_attach_iommufd_pt`,
//! `vfio_device_detach_iommufd_pt` and the iommufd data records (VT-d / SMMUv3 hardware
//! info, VT-d stage-1 table and invalidation, fault and page response), each through its
//! typed `from_user` / `decode`. The first input byte picks the struct (low nibble) and
//! the policy (high nibble: 0, 1, 2 one of `Policy::ALL`, else the struct's default);
//! the rest is the user memory. Both vendor settings are tried. Invariants of
//! `vsva_fuzz`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vsva_uapi::{
    FaultAlloc, HwInfo, HwInfoArmSmmuv3, HwInfoVtd, HwptAlloc, HwptInvalidate, HwptPageResponse,
    HwptPgfault, HwptVtdS1, HwptVtdS1Invalidate, Layout, Policy, UapiStruct, Vendor,
    VfioDeviceAttachIommufdPt, VfioDeviceDetachIommufdPt,
};

/// One struct's checked decode.
type Check = fn(&[u8], Policy, Option<Vendor>);

fn run<T: UapiStruct>(data: &[u8], policy: Policy, vendor: Option<Vendor>) {
    vsva_fuzz::check::<T>(data, policy, vendor);
}

/// The structs, with their declarations (for the default policy).
const STRUCTS: [(Check, &Layout); 12] = [
    (run::<HwInfo>, HwInfo::DECL),
    (run::<HwptAlloc>, HwptAlloc::DECL),
    (run::<HwptInvalidate>, HwptInvalidate::DECL),
    (run::<FaultAlloc>, FaultAlloc::DECL),
    (
        run::<VfioDeviceAttachIommufdPt>,
        VfioDeviceAttachIommufdPt::DECL,
    ),
    (
        run::<VfioDeviceDetachIommufdPt>,
        VfioDeviceDetachIommufdPt::DECL,
    ),
    (run::<HwInfoVtd>, HwInfoVtd::DECL),
    (run::<HwInfoArmSmmuv3>, HwInfoArmSmmuv3::DECL),
    (run::<HwptVtdS1>, HwptVtdS1::DECL),
    (run::<HwptVtdS1Invalidate>, HwptVtdS1Invalidate::DECL),
    (run::<HwptPgfault>, HwptPgfault::DECL),
    (run::<HwptPageResponse>, HwptPageResponse::DECL),
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, user)) = data.split_first() else {
        return;
    };
    let (check, layout) = STRUCTS[usize::from(selector & 0x0f) % STRUCTS.len()];
    let policy = vsva_fuzz::policy_from(selector >> 4, layout);
    for vendor in vsva_fuzz::vendors() {
        check(user, policy, vendor);
    }
});
