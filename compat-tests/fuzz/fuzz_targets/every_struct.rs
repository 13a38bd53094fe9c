//! Fuzzes every declared struct (`vsva_uapi::ALL_STRUCTS`, generated from the
//! declarations, so a newly declared struct is fuzzed without touching this file; every
//! declared ioctl's struct, `vsva_uapi::ioctl::ALL_IOCTLS`, is one of them), each
//! through its typed `from_user` / `decode` (the registry's typed visit). The first input
//! byte picks the struct (its index in `ALL_STRUCTS`, modulo their number), the second the
//! policy (0, 1, 2 one of `Policy::ALL`, else the struct's default); the rest is the user
//! memory. Both vendor settings are tried. Invariants of `vsva_fuzz`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vsva_uapi::{visit_all_structs, StructVisitor, UapiStruct, ALL_STRUCTS};

/// Runs the checked decode of the `index`-th struct of the typed visit.
struct Pick<'a> {
    index: usize,
    policy_selector: u8,
    user: &'a [u8],
}

impl StructVisitor for Pick<'_> {
    fn visit<T: UapiStruct>(&mut self) {
        if self.index == 0 {
            let policy = vsva_fuzz::policy_from(self.policy_selector, T::DECL);
            for vendor in vsva_fuzz::vendors() {
                vsva_fuzz::check::<T>(self.user, policy, vendor);
            }
        }
        self.index = self.index.wrapping_sub(1);
    }
}

fuzz_target!(|data: &[u8]| {
    let [index, policy_selector, user @ ..] = data else {
        return;
    };
    let mut pick = Pick {
        index: usize::from(*index) % ALL_STRUCTS.len(),
        policy_selector: *policy_selector,
        user,
    };
    visit_all_structs(&mut pick);
});
