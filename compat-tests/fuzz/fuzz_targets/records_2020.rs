//! Fuzzes the rest of the 2020 IOMMU UAPI: `struct iommu_nesting_info` and the
//! fixed-size records (fault records, invalidation payloads, vendor data), each through
//! its typed `from_user` / `decode`. The first input byte picks the struct (low nibble)
//! and the policy (high nibble: 0, 1, 2 one of `Policy::ALL`, else the default); the
//! rest is the user memory. Both vendor settings are tried. Invariants of `vsva_fuzz`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vsva_uapi::{
    Fault, FaultPageRequest, FaultUnrecoverable, GpasidBindDataVtd, InvAddrInfo, InvPasidInfo,
    NestingInfo, NestingInfoVtd, PasidSmmuv3, Policy, UapiStruct, Vendor,
};

/// One struct's checked decode.
type Check = fn(&[u8], Policy, Option<Vendor>);

fn run<T: UapiStruct>(data: &[u8], policy: Policy, vendor: Option<Vendor>) {
    vsva_fuzz::check::<T>(data, policy, vendor);
}

/// The structs, with their declarations (for the default policy).
const STRUCTS: [(Check, &vsva_uapi::Layout); 9] = [
    (run::<NestingInfo>, NestingInfo::DECL),
    (run::<Fault>, Fault::DECL),
    (run::<FaultUnrecoverable>, FaultUnrecoverable::DECL),
    (run::<FaultPageRequest>, FaultPageRequest::DECL),
    (run::<InvAddrInfo>, InvAddrInfo::DECL),
    (run::<InvPasidInfo>, InvPasidInfo::DECL),
    (run::<GpasidBindDataVtd>, GpasidBindDataVtd::DECL),
    (run::<PasidSmmuv3>, PasidSmmuv3::DECL),
    (run::<NestingInfoVtd>, NestingInfoVtd::DECL),
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
