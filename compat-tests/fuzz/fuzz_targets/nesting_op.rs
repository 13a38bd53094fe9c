//! Fuzzes the 2020 VFIO nesting envelope, `VFIO_IOMMU_NESTING_OP`: the header
//! `struct vfio_iommu_type1_nesting_op` (`NestingOp::from_user` / `decode` under every
//! policy and vendor setting), then, for an accepted header, its `data[]` payload decoded
//! as the IOMMU UAPI struct the op carries (`NestingOpCode::payload_layout`, from
//! `NestingOp::payload`), under the same settings. Invariants of `vsva_fuzz`, plus: an
//! accepted header always names a known op, and the payload's typed decode is the one
//! `payload_layout` names.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vsva_uapi::consts::NestingOpCode;
use vsva_uapi::{CacheInvalidateInfo, GpasidBindData, NestingOp, UapiStruct};

fuzz_target!(|data: &[u8]| {
    for (policy, vendor) in vsva_fuzz::settings() {
        let Some(header) = vsva_fuzz::check::<NestingOp>(data, policy, vendor) else {
            continue;
        };
        let op = header
            .op()
            .unwrap_or_else(|| panic!("accepted header with unknown op: {:#x}", header.flags));
        let payload = NestingOp::payload(data);
        assert_eq!(payload, data.get(8..).unwrap_or(&[]), "payload bytes");
        let layout = op.payload_layout();
        match op {
            NestingOpCode::BindPgtbl | NestingOpCode::UnbindPgtbl => {
                assert_eq!(layout, GpasidBindData::DECL, "{op:?} payload layout");
                vsva_fuzz::check::<GpasidBindData>(payload, policy, vendor);
            }
            NestingOpCode::CacheInvld => {
                assert_eq!(layout, CacheInvalidateInfo::DECL, "{op:?} payload layout");
                vsva_fuzz::check::<CacheInvalidateInfo>(payload, policy, vendor);
            }
        }
    }
});
