//! The four compatibility cases of the 2020 "IOMMU user API" document, one named test
//! each: same size; old user on a new kernel; new user on an old kernel (using only old
//! features); malicious sizes. Expected outcomes are the reference's (§2.1, §2.6, §3, §5.2,
//! §5.5, §7), stated per policy.

mod common;

use common::{build, build_default, cases, decode_generic, put, put_argsz, GARBAGE};
use vsva_uapi::consts::{CacheInvType, HwptAllocFlags};
use vsva_uapi::{
    argsz_structs, CacheInvalidateInfo, Errno, Granu, HwInfo, HwptAlloc, InvPasidInfo, Policy,
    UapiError, UapiStruct, VfioDeviceAttachIommufdPt,
};
use zerocopy::{FromZeros, IntoBytes};

fn with_garbage(bytes: &[u8], extra: usize) -> Vec<u8> {
    let mut v = bytes.to_vec();
    v.resize(bytes.len() + extra, GARBAGE);
    v
}

/// Case 1: user and kernel agree on the size. Every policy accepts every valid struct
/// and the kernel copy is the user's struct (flags-xend: up to the end the flags select).
#[test]
fn case1_same_size() {
    for l in argsz_structs() {
        for case in cases(l) {
            let value = build(l, &case);
            for policy in Policy::ALL {
                let (r, _) = decode_generic(l, &value, policy, None);
                let (got, info) =
                    r.unwrap_or_else(|e| panic!("{} [{}] {policy}: {e}", l.name, case.label()));
                assert_eq!(info.argsz as usize, l.size, "{}", l.name);
                let limit = if policy == Policy::FlagsXend {
                    case.xend(l)
                } else {
                    l.size
                };
                assert_eq!(got[..limit], value[..limit], "{} {policy}", l.name);
                assert!(got[limit..].iter().all(|b| *b == 0), "{} {policy}", l.name);
            }
        }
    }
}

/// Case 2: an old user on a new kernel — a shorter `argsz`; the kernel zero-fills the
/// fields the user does not know, and zero there means the old behaviour.
#[test]
fn case2_old_user_new_kernel_hwpt_alloc_v6_6() {
    // §5.2: "A v6.6 binary that passes size=24 gets data_type=0 (NONE) and fault_id=0
    // through zero-fill." Whatever lies in memory past its 24 bytes is never read.
    let mut v = HwptAlloc::new_zeroed();
    v.size = 24;
    v.flags = HwptAllocFlags::NEST_PARENT.bits();
    v.dev_id = 3;
    v.pt_id = 4;
    let user = with_garbage(&v.as_bytes()[..24], 64);
    let d = HwptAlloc::decode(&user, Policy::ZeroTail, None).expect("v6.6 hwpt_alloc");
    assert_eq!(d.info.argsz, 24);
    assert_eq!(d.info.bytes_read, 24);
    assert_eq!((d.value.dev_id, d.value.pt_id), (3, 4));
    assert_eq!(d.value.data_type, 0, "zero-filled: IOMMU_HWPT_DATA_NONE");
    assert_eq!(d.value.data_len, 0);
    assert_eq!(d.value.data_uptr, 0);
    assert_eq!(d.value.fault_id, 0);
    assert_eq!(d.value.__reserved2, 0);
    // The v6.7 size (40) is accepted too, with fault_id zero-filled.
    let mut v67 = v;
    v67.size = 40;
    v67.data_type = 1;
    v67.data_len = 24;
    v67.data_uptr = 0x1000;
    let user = with_garbage(&v67.as_bytes()[..40], 8);
    let d = HwptAlloc::decode(&user, Policy::ZeroTail, None).expect("v6.7 hwpt_alloc");
    assert_eq!((d.value.data_type, d.value.data_len), (1, 24));
    assert_eq!(d.value.fault_id, 0);
}

#[test]
fn case2_old_user_new_kernel_hw_info_and_attach() {
    // §6: GET_HW_INFO min_size 32 of 40; out_capabilities zero-filled.
    let mut h = HwInfo::new_zeroed();
    h.size = 32;
    h.dev_id = 9;
    let user = with_garbage(&h.as_bytes()[..32], 16);
    let v = HwInfo::from_user(&user, Policy::ZeroTail).expect("v6.6 hw_info");
    assert_eq!((v.size, v.dev_id, v.out_capabilities), (32, 9, 0));
    // §5.5: a pre-PASID user passes {argsz, flags, pt_id} = 12 bytes.
    let mut a = VfioDeviceAttachIommufdPt::new_zeroed();
    a.argsz = 12;
    a.pt_id = 5;
    let user = with_garbage(&a.as_bytes()[..12], 4);
    let d = VfioDeviceAttachIommufdPt::decode(&user, Policy::FlagsXend, None).expect("v6.6 attach");
    assert_eq!(
        (d.value.pt_id, d.value.pasid, d.info.bytes_read),
        (5, 0, 12)
    );
}

#[test]
fn case2_old_user_new_kernel_cache_invalidate_pasid_granularity() {
    // §2.1 step 5: PASID granularity needs only offsetofend(granu.pasid_info) = 32.
    let info = CacheInvalidateInfo::new(
        CacheInvType::IOTLB,
        Granu::Pasid(InvPasidInfo {
            flags: 1,
            archid: 0,
            pasid: 42,
        }),
    );
    let mut user = with_garbage(&info.as_bytes()[..32], 24);
    put_argsz(&mut user, 32);
    for policy in Policy::ALL {
        let d = CacheInvalidateInfo::decode(&user, policy, None)
            .unwrap_or_else(|e| panic!("{policy}: argsz 32 with PASID granularity: {e}"));
        assert_eq!(d.value.granu_view(), info.granu_view(), "{policy}");
        assert!(
            d.value.granu.as_bytes()[16..].iter().all(|b| *b == 0),
            "{policy}: the addr_info tail is zero-filled, not garbage"
        );
        assert_eq!(d.info.variant.map(|v| v.name), Some("pasid_info"));
    }
    // DOMAIN granularity: the 16-byte header is enough (§2.1).
    let dom = CacheInvalidateInfo::new(CacheInvType::IOTLB, Granu::Domain);
    let mut user = with_garbage(&dom.as_bytes()[..16], 40);
    put_argsz(&mut user, 16);
    for policy in Policy::ALL {
        assert!(
            CacheInvalidateInfo::from_user(&user, policy).is_ok(),
            "{policy}: argsz 16 at domain granularity"
        );
    }
}

/// Case 3: a new user on an old kernel, using only old features: `argsz` larger than the
/// kernel's size, the tail all zero. All three policies accept it, with the same value
/// as the same-size struct.
#[test]
fn case3_new_user_old_kernel_zero_tail() {
    for l in argsz_structs() {
        for case in cases(l) {
            let value = build(l, &case);
            for extra in [1usize, 8, l.size, 4096 - l.size] {
                let argsz = l.size + extra;
                let mut user = value.clone();
                user.resize(argsz, 0);
                put_argsz(&mut user, argsz as u32);
                let user = with_garbage(&user, 32);
                let mut results = Vec::new();
                for policy in Policy::ALL {
                    let (same, _) = decode_generic(l, &value, policy, None);
                    let (r, _) = decode_generic(l, &user, policy, None);
                    let (got, info) = r.unwrap_or_else(|e| {
                        panic!("{} [{}] {policy} argsz {argsz}: {e}", l.name, case.label())
                    });
                    let (want, _) = same.unwrap();
                    assert_eq!(got[4..], want[4..], "{} {policy} argsz {argsz}", l.name);
                    assert_eq!(info.argsz as usize, argsz);
                    let read = match policy {
                        Policy::Linux510 => l.size,
                        Policy::ZeroTail => argsz,
                        Policy::FlagsXend => case.xend(l),
                    };
                    assert_eq!(info.bytes_read, read, "{} {policy} argsz {argsz}", l.name);
                    results.push(got);
                }
                // Identical under linux-5.10 and zero-tail (flags-xend reads less).
                assert_eq!(results[0], results[1], "{} argsz {argsz}", l.name);
            }
        }
    }
}

/// Case 4: malicious sizes.
#[test]
fn case4_malicious_non_zero_tail() {
    // linux-5.10 and flags-xend ignore bytes past the kernel's size; zero-tail refuses
    // them with E2BIG (§2.1 step 6, §3, §5.5 step 5).
    for l in argsz_structs() {
        let value = build_default(l);
        for (argsz, at) in [
            (l.size + 1, l.size),
            (2 * l.size, 2 * l.size - 1),
            (4096, 4095),
        ] {
            let mut user = value.clone();
            user.resize(argsz, 0);
            user[at] = 0xff;
            put_argsz(&mut user, argsz as u32);
            for policy in [Policy::Linux510, Policy::FlagsXend] {
                let (r, _) = decode_generic(l, &user, policy, None);
                assert!(r.is_ok(), "{} {policy} argsz {argsz}: {r:?}", l.name);
            }
            let (r, _) = decode_generic(l, &user, Policy::ZeroTail, None);
            match r {
                Err(UapiError::NonZeroTail { offset, byte, .. }) => {
                    assert_eq!((offset, byte), (at, 0xff), "{} argsz {argsz}", l.name);
                }
                other => panic!("{} argsz {argsz}: expected E2BIG, got {other:?}", l.name),
            }
        }
    }
}

#[test]
fn case4_malicious_huge_argsz() {
    // linux-5.10 copies min(argsz, sizeof): u32::MAX with exactly `size` readable bytes
    // is accepted; no upper bound (§2.1 step 6). flags-xend reads to xend only.
    // zero-tail: argsz > PAGE_SIZE is E2BIG before anything is read (§3).
    for l in argsz_structs() {
        let value = build_default(l);
        for argsz in [4097u32, 1 << 20, u32::MAX] {
            let mut user = value.clone();
            put_argsz(&mut user, argsz);
            for policy in [Policy::Linux510, Policy::FlagsXend] {
                let (r, _) = decode_generic(l, &user, policy, None);
                assert!(r.is_ok(), "{} {policy} argsz {argsz}: {r:?}", l.name);
            }
            let (r, read) = decode_generic(l, &user, Policy::ZeroTail, None);
            assert!(
                matches!(r, Err(UapiError::ArgszTooLarge { limit: 4096, .. })),
                "{} argsz {argsz}: {r:?}",
                l.name
            );
            assert_eq!(read, 4, "{}: only the size field was read", l.name);
        }
    }
}

#[test]
fn case4_huge_argsz_with_a_short_buffer_faults_only_when_the_copy_needs_the_bytes() {
    // Cache invalidation at DOMAIN granularity, argsz u32::MAX, only the 16-byte header
    // readable: the v5.10 core copies min(argsz, 56) = 56 bytes → EFAULT; flags-xend
    // needs only minsz = member end = 16 → accepted; zero-tail: E2BIG first.
    let dom = CacheInvalidateInfo::new(CacheInvType::IOTLB, Granu::Domain);
    let mut user = dom.as_bytes()[..16].to_vec();
    put_argsz(&mut user, u32::MAX);
    let e = CacheInvalidateInfo::from_user(&user, Policy::Linux510).unwrap_err();
    assert_eq!(e.errno(), Errno::EFAULT, "{e}");
    assert!(matches!(e, UapiError::Fault { readable: 16, .. }), "{e:?}");
    let d = CacheInvalidateInfo::decode(&user, Policy::FlagsXend, None).unwrap();
    assert_eq!(d.info.bytes_read, 16);
    let e = CacheInvalidateInfo::from_user(&user, Policy::ZeroTail).unwrap_err();
    assert_eq!(e.errno(), Errno::E2BIG);
    // With the full 56 bytes readable the v5.10 core accepts u32::MAX.
    let mut user = dom.as_bytes().to_vec();
    put_argsz(&mut user, u32::MAX);
    assert!(CacheInvalidateInfo::from_user(&user, Policy::Linux510).is_ok());
}

#[test]
fn case4_malicious_small_sizes() {
    // 0, 3, 4 and min-1: EINVAL under every policy once the header is readable; EFAULT
    // if not even the mandatory fields can be copied (§2.1 steps 3–4, §6 steps 2 and 4).
    for l in argsz_structs() {
        let value = build_default(l);
        for argsz in [0u32, 3, 4, l.min_size as u32 - 1] {
            if argsz as usize >= l.min_size {
                continue;
            }
            let mut user = value.clone();
            put_argsz(&mut user, argsz);
            for policy in Policy::ALL {
                let (r, _) = decode_generic(l, &user, policy, None);
                assert!(
                    matches!(r, Err(UapiError::ArgszTooSmall { need, .. }) if need == l.min_size),
                    "{} {policy} argsz {argsz}: {r:?}",
                    l.name
                );
            }
            // Only the size field readable.
            let short = &user[..4];
            for policy in Policy::ALL {
                let (r, _) = decode_generic(l, short, policy, None);
                let want = match policy {
                    // get_user(size) succeeded; the size check comes before the copy.
                    Policy::ZeroTail => Errno::EINVAL,
                    // copy_from_user(minsz) comes first.
                    Policy::Linux510 | Policy::FlagsXend if l.min_size > 4 => Errno::EFAULT,
                    _ => Errno::EINVAL,
                };
                assert_eq!(
                    common::errno_of(&r),
                    Some(want),
                    "{} {policy} argsz {argsz} readable 4",
                    l.name
                );
            }
        }
    }
}

#[test]
fn case4_member_end_minus_one() {
    // §2.1 step 5: PASID granularity with argsz 31, ADDR granularity with argsz 55.
    for (granu, end) in [
        (
            Granu::Pasid(InvPasidInfo {
                flags: 1,
                archid: 0,
                pasid: 1,
            }),
            32u32,
        ),
        (Granu::Addr(vsva_uapi::InvAddrInfo::new_zeroed()), 56),
    ] {
        let info = CacheInvalidateInfo::new(CacheInvType::IOTLB, granu);
        let mut user = info.as_bytes().to_vec();
        put(&mut user, 0, 4, u64::from(end - 1));
        for policy in Policy::ALL {
            let e = CacheInvalidateInfo::from_user(&user, policy).unwrap_err();
            assert!(
                matches!(e, UapiError::VariantTruncated { need, .. } if need == end as usize),
                "{policy} argsz {}: {e:?}",
                end - 1
            );
            assert_eq!(e.errno(), Errno::EINVAL);
        }
    }
}
