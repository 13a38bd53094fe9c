//! Fuzzes `struct iommu_gpasid_bind_data`: `GpasidBindData::from_user` and
//! `decode` under every policy, with and without the VT-d layer, asserting the
//! invariants of `vsva_fuzz` (not just "no panic").

#![no_main]

use libfuzzer_sys::fuzz_target;
use vsva_uapi::GpasidBindData;

fuzz_target!(|data: &[u8]| {
    vsva_fuzz::fuzz_struct::<GpasidBindData>(data);
});
