//! Fuzzes `struct iommu_cache_invalidate_info`: `CacheInvalidateInfo::from_user` and
//! `decode` under every policy, with and without the VT-d layer, asserting the
//! invariants of `vsva_fuzz` (not just "no panic").

#![no_main]

use libfuzzer_sys::fuzz_target;
use vsva_uapi::CacheInvalidateInfo;

fuzz_target!(|data: &[u8]| {
    vsva_fuzz::fuzz_struct::<CacheInvalidateInfo>(data);
});
