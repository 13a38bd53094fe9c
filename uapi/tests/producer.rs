//! The producer role: `encode_for` every generation of every struct round-trips through
//! the consumer under the struct's default policy; a field, flag or member the target
//! generation does not have is `FieldLost` rather than silently dropped; short outputs
//! and unknown generations are refused; `encode_min` writes the smallest `argsz` that
//! carries everything, and no smaller `argsz` would.

mod common;

use common::{all_ops, build, cases, expected_copy, get, oracle, put, Case, Expect};
use vsva_uapi::consts::HwptAllocFlags;
use vsva_uapi::{
    Check, Errno, HwInfo, HwptAlloc, Layout, Policy, UapiError, UapiStruct,
    VfioDeviceAttachIommufdPt, ALL_STRUCTS,
};
use zerocopy::FromZeros;

const FILL: u8 = 0xEE;

/// `build(case)` restricted to what generation `g` has: later fields zero, bytes past
/// the generation's size zero, and (so that the default policy keeps every byte) bytes
/// past the policy's read limit zero. `None` if the case needs something `g` lacks.
fn for_generation(l: &'static Layout, case: &Case, g: usize) -> Option<Vec<u8>> {
    let gen = l.generations[g];
    if case.exts.iter().any(|x| usize::from(x.since) > g)
        || case.variant.is_some_and(|v| usize::from(v.since) > g)
    {
        return None;
    }
    let mut v = build(l, case);
    for f in l.fields {
        if usize::from(f.since) > g {
            v[f.offset..f.end()].fill(0);
        }
    }
    v[gen.size..].fill(0);
    if l.default_policy == Policy::FlagsXend {
        let x = case.xend(l);
        v[x..].fill(0);
    }
    Some(v)
}

fn with_argsz(l: &Layout, v: &[u8], n: usize) -> Vec<u8> {
    let mut v = v.to_vec();
    if l.sized {
        put(&mut v, 0, 4, n as u64);
    }
    v
}

#[test]
fn encode_for_every_generation_round_trips_under_the_default_policy() {
    let mut n_checked = 0;
    for o in all_ops() {
        let l = o.layout;
        for case in cases(l) {
            for (g, gen) in l.generations.iter().enumerate() {
                let Some(value) = for_generation(l, &case, g) else {
                    continue;
                };
                let at = format!("{} [{}] for {}", l.name, case.label(), gen.name);
                let mut out = vec![FILL; 256];
                let n = (o.encode_for)(&value, g, &mut out).unwrap_or_else(|e| panic!("{at}: {e}"));
                assert_eq!(n, gen.size, "{at}: writes the generation's size");
                assert!(out[n..].iter().all(|b| *b == FILL), "{at}: wrote past {n}");
                if l.sized {
                    assert_eq!(get(&out, 0, 4), n as u64, "{at}: argsz");
                }
                let want = with_argsz(l, &value, n);
                assert_eq!(out[4.min(n)..n], want[4.min(n)..n], "{at}: bytes");
                // The peer reads it back, with or without memory past the struct.
                for user in [&out[..n], &out[..]] {
                    let (got, info) = (o.decode)(user, l.default_policy, None)
                        .unwrap_or_else(|e| panic!("{at}: the peer refuses it: {e}"));
                    assert_eq!(got, want, "{at}: round trip (readable {})", user.len());
                    assert_eq!(info.argsz as usize, n, "{at}");
                }
                n_checked += 1;
            }
        }
    }
    assert!(n_checked >= ALL_STRUCTS.len(), "{n_checked}");
}

#[test]
fn encode_is_encode_for_the_newest_generation() {
    for o in all_ops() {
        let l = o.layout;
        for case in cases(l) {
            let v = build(l, &case);
            let (mut a, mut b) = (vec![0u8; 128], vec![0u8; 128]);
            let na = (o.encode)(&v, &mut a).unwrap();
            let nb = (o.encode_for)(&v, l.generations.len() - 1, &mut b).unwrap();
            assert_eq!((na, &a), (nb, &b), "{}", l.name);
            assert_eq!(na, l.size, "{}", l.name);
        }
    }
}

/// A non-zero field the target generation lacks is `FieldLost` (EOPNOTSUPP), never
/// dropped. Likewise a set extension flag the generation does not define.
#[test]
fn field_lost_for_every_later_field_and_flag() {
    let mut n_checked = 0;
    for o in all_ops() {
        let l = o.layout;
        let base_case = &cases(l)[0];
        for (g, gen) in l.generations.iter().enumerate() {
            let Some(base) = for_generation(l, base_case, g) else {
                continue;
            };
            for f in l.fields {
                let missing = usize::from(f.since) > g || f.end() > gen.size;
                if !missing || f.check == Check::Argsz {
                    continue;
                }
                let mut v = base.clone();
                v[f.offset] = 1;
                let mut out = vec![0u8; 128];
                let r = (o.encode_for)(&v, g, &mut out);
                match r {
                    Err(UapiError::FieldLost {
                        field, generation, ..
                    }) => {
                        assert_eq!((field, generation), (f.name, gen.name), "{}", l.name);
                    }
                    other => panic!("{}.{} for {}: {other:?}", l.name, f.name, gen.name),
                }
                assert_eq!(r.unwrap_err().errno(), Errno::EOPNOTSUPP);
                n_checked += 1;
            }
            for x in l.extensions {
                if usize::from(x.since) <= g {
                    continue;
                }
                let mut v = base.clone();
                let flags = get(&v, x.flags.offset, x.flags.size) | x.bit;
                put(&mut v, x.flags.offset, x.flags.size, flags);
                let r = (o.encode_for)(&v, g, &mut [0u8; 128]);
                assert!(
                    matches!(r, Err(UapiError::FieldLost { field, .. }) if field == x.name),
                    "{} {} for {}: {r:?}",
                    l.name,
                    x.name,
                    gen.name
                );
                n_checked += 1;
            }
        }
    }
    // hw_info: out_capabilities, out_max_pasid_log2 ×2, INPUT_TYPE ×2; hwpt_alloc: 6
    // fields for v6.6, 2 for v6.7, FAULT_ID_VALID ×2; attach/detach: pasid + flag.
    assert!(n_checked >= 15, "{n_checked}");
}

#[test]
fn field_lost_named_cases() {
    // hwpt_alloc: a fault queue needs the v6.11 field.
    let mut a = HwptAlloc::new_zeroed();
    a.flags = (HwptAllocFlags::NEST_PARENT | HwptAllocFlags::FAULT_ID_VALID).bits();
    a.fault_id = 7;
    let mut out = [0u8; 64];
    assert_eq!(
        a.encode_for(1, &mut out),
        Err(UapiError::FieldLost {
            strukt: "iommu_hwpt_alloc",
            field: "fault_id",
            generation: "v6.7",
        })
    );
    assert_eq!(a.encode_for(2, &mut out), Ok(48));
    // data_type does not exist in v6.6.
    let mut b = HwptAlloc::new_zeroed();
    b.data_type = 1;
    assert!(matches!(
        b.encode_for(0, &mut out),
        Err(UapiError::FieldLost {
            field: "data_type",
            generation: "v6.6",
            ..
        })
    ));
    // attach: the PASID flag (and its field) came in v6.13.
    let x = VfioDeviceAttachIommufdPt {
        argsz: 16,
        flags: 1,
        pt_id: 2,
        pasid: 0,
    };
    assert!(matches!(
        x.encode_for(0, &mut out),
        Err(UapiError::FieldLost {
            field: "VFIO_DEVICE_ATTACH_PASID",
            generation: "v6.6",
            ..
        })
    ));
    let x = VfioDeviceAttachIommufdPt { pasid: 5, ..x };
    assert!(matches!(
        x.encode_for(0, &mut out),
        Err(UapiError::FieldLost { field: "pasid", .. })
    ));
    assert_eq!(x.encode_for(1, &mut out), Ok(16));
    // hw_info: out_max_pasid_log2 reuses __reserved bytes: same size (40), later field.
    let mut h = HwInfo::new_zeroed();
    h.out_max_pasid_log2 = 20;
    assert!(matches!(
        h.encode_for(1, &mut out),
        Err(UapiError::FieldLost {
            field: "out_max_pasid_log2",
            generation: "v6.7",
            ..
        })
    ));
    assert_eq!(h.encode_for(2, &mut out), Ok(40));
}

#[test]
fn output_too_small_and_unknown_generation() {
    for o in all_ops() {
        let l = o.layout;
        let v = build(l, &cases(l)[0]);
        let last = l.generations.len() - 1;
        let mut short = vec![0u8; l.size - 1];
        let r = (o.encode_for)(&v, last, &mut short);
        assert_eq!(
            r,
            Err(UapiError::OutputTooSmall {
                strukt: l.name,
                need: l.size,
                have: l.size - 1,
            }),
            "{}",
            l.name
        );
        assert_eq!(r.unwrap_err().errno(), Errno::EFAULT);
        assert!(matches!(
            (o.encode)(&v, &mut short),
            Err(UapiError::OutputTooSmall { .. })
        ));
        assert!(matches!(
            (o.encode_min)(&v, &mut []),
            Err(UapiError::OutputTooSmall { .. })
        ));
        for g in [l.generations.len(), l.generations.len() + 1, usize::MAX] {
            let r = (o.encode_for)(&v, g, &mut [0u8; 128]);
            assert_eq!(
                r,
                Err(UapiError::UnknownGeneration {
                    strukt: l.name,
                    index: g,
                }),
                "{}",
                l.name
            );
            assert_eq!(r.unwrap_err().errno(), Errno::EINVAL);
        }
    }
}

/// The smallest `argsz` that carries `value`, computed here from the layout (not by the
/// crate): a fixed record (no size field) is always its whole size; otherwise the
/// minimum size, the selected member's end, the set flags' ends, and the end of the
/// field holding the last non-zero byte (the size field itself excepted) — inside the
/// union, the field *of the selected member* holding it (a union byte outside the
/// selected member counts up to the union's end).
fn smallest(l: &Layout, case: &Case, value: &[u8]) -> usize {
    if !l.sized {
        return l.size;
    }
    let mut n = case.xend(l);
    if let Some(i) = (4..l.size).rev().find(|i| value[*i] != 0) {
        let f = l
            .fields
            .iter()
            .find(|f| f.offset <= i && i < f.end())
            .unwrap();
        let mut end = f.end();
        if let (Check::Union, Some(u), Some(vl)) =
            (f.check, l.union, case.variant.and_then(|v| v.layout))
        {
            if let Some(mf) = vl
                .fields
                .iter()
                .find(|mf| u.offset + mf.offset <= i && i < u.offset + mf.end())
            {
                end = u.offset + mf.end();
            }
        }
        n = n.max(end);
    }
    n
}

/// Checks `encode_min` of `value`; returns the first problem, if any.
fn check_encode_min(l: &'static Layout, case: &Case, value: &[u8]) -> Option<String> {
    let o = common::ops_for(l);
    let want_n = smallest(l, case, value);
    let mut out = vec![FILL; 128];
    let n = match (o.encode_min)(value, &mut out) {
        Ok(n) => n,
        Err(e) => return Some(format!("encode_min refused: {e}")),
    };
    if n != want_n {
        return Some(format!(
            "encode_min wrote {n} bytes, the smallest is {want_n}"
        ));
    }
    if out[n..].iter().any(|b| *b != FILL) {
        return Some(format!("wrote past {n}"));
    }
    let sent = &out[..n];
    if sent[4.min(n)..] != value[4.min(n)..n] {
        return Some("bytes differ from the value".into());
    }
    // The kernel accepts it under the struct's policy and gets every byte it reads.
    if (o.decode)(value, l.default_policy, None).is_err() {
        return None;
    }
    let Expect::Ok { copied, .. } = oracle(l, l.default_policy, case, sent) else {
        return Some("the oracle refuses the encode_min output".into());
    };
    match (o.decode)(sent, l.default_policy, None) {
        Err(e) => return Some(format!("the output is refused: {e}")),
        Ok((got, _)) if got != expected_copy(l, sent, copied) => {
            return Some("the output decodes to a different value".into())
        }
        Ok(_) => {}
    }
    // And it is the smallest: one byte less loses a byte or is refused (v5.10 rules:
    // the member end is only needed where the core enforces it).
    if l.sized && n > l.min_size {
        let mut less = sent[..n - 1].to_vec();
        put(&mut less, 0, 4, (n - 1) as u64);
        let full = (o.decode)(sent, Policy::Linux510, None);
        let cut = (o.decode)(&less, Policy::Linux510, None);
        let member_only =
            case.variant.is_some_and(|v| v.end == n) && !l.union.is_some_and(|u| u.enforce_end);
        let same = match (&full, &cut) {
            (Ok((a, _)), Ok((b, _))) => a[4..] == b[4..],
            _ => false,
        };
        if same && !member_only {
            return Some(format!("argsz {} would do", n - 1));
        }
    }
    None
}

#[test]
fn encode_min_is_the_smallest_accepted_argsz() {
    let mut checked = 0;
    let mut bad = Vec::new();
    for l in ALL_STRUCTS.iter().copied() {
        for case in cases(l) {
            let full = build(l, &case);
            let mut values = vec![("full".to_string(), full.clone())];
            // Only what the header selects: everything past xend zero.
            let mut sparse = full.clone();
            sparse[case.xend(l)..].fill(0);
            values.push(("sparse".into(), sparse.clone()));
            // One more field past xend set.
            for f in l.fields.iter().filter(|f| f.offset >= case.xend(l)) {
                let mut v = sparse.clone();
                v[f.end() - 1] = 0x01;
                values.push((format!("sparse + {}", f.name), v));
            }
            for (what, v) in values {
                checked += 1;
                if let Some(d) = check_encode_min(l, &case, &v) {
                    bad.push(format!("{} [{}] {what}: {d}", l.name, case.label()));
                }
            }
        }
    }
    common::assert_no_mismatch("encode_min", checked, &bad);
}

/// BUG (codec.rs `min_encoded_len`): a byte inside the union rounds up to the end of the
/// whole union field, not of the selected member's field. A PASID-selective
/// invalidation needs offsetofend(granu.pasid_info) = 32 (reference §2.1 step 5), but
/// any non-zero pasid_info byte makes encode_min write 56.
#[test]
fn encode_min_of_a_pasid_selective_invalidation_is_32() {
    use vsva_uapi::consts::CacheInvType;
    use vsva_uapi::{CacheInvalidateInfo, Granu, InvPasidInfo};
    let info = CacheInvalidateInfo::new(
        CacheInvType::IOTLB,
        Granu::Pasid(InvPasidInfo {
            flags: 1,
            archid: 0,
            pasid: 42,
        }),
    );
    let mut out = [0u8; 64];
    assert_eq!(info.encode_min(&mut out), Ok(32));
}

/// BUG (codec.rs `min_encoded_len` / `encode_min`): a fixed record has no size field and
/// is always exactly `size` bytes (it is "decoded as if argsz == size", decl.rs), but
/// encode_min of an `iommu_fault` writes only `min_size` (8) or a member's end; the
/// consumer then refuses the short record with EFAULT.
#[test]
fn encode_min_of_a_fixed_record_is_the_whole_record() {
    use vsva_uapi::{Fault, FaultPageRequest};
    let mut out = [0u8; 128];
    let empty = Fault::new_zeroed();
    let n = empty.encode_min(&mut out).unwrap();
    assert_eq!(n, 64, "an empty iommu_fault is still 64 bytes");
    assert!(Fault::from_user(&out[..n], Policy::Linux510).is_ok());
    let prm = Fault::page_request(FaultPageRequest {
        flags: 1,
        pasid: 3,
        grpid: 4,
        perm: 1,
        addr: 0x1000,
        private_data: [0; 2],
    });
    assert_eq!(prm.encode_min(&mut out), Ok(64));
}

#[test]
fn encode_min_named_cases() {
    use vsva_uapi::consts::CacheInvType;
    use vsva_uapi::{CacheInvalidateInfo, Granu, InvAddrInfo, InvPasidInfo};
    let mut out = [0u8; 128];
    let mut a = HwptAlloc::new_zeroed();
    a.flags = HwptAllocFlags::NEST_PARENT.bits();
    assert_eq!(a.encode_min(&mut out), Ok(24), "v6.6 size suffices");
    a.flags |= HwptAllocFlags::FAULT_ID_VALID.bits();
    a.fault_id = 7;
    assert_eq!(a.encode_min(&mut out), Ok(44), "offsetofend(fault_id)");
    let dom = CacheInvalidateInfo::new(CacheInvType::IOTLB, Granu::Domain);
    assert_eq!(dom.encode_min(&mut out), Ok(16));
    let pasid = CacheInvalidateInfo::new(
        CacheInvType::IOTLB,
        Granu::Pasid(InvPasidInfo {
            flags: 0,
            archid: 0,
            pasid: 0,
        }),
    );
    assert_eq!(
        pasid.encode_min(&mut out),
        Ok(32),
        "member end even if zero"
    );
    let addr =
        CacheInvalidateInfo::new(CacheInvType::IOTLB, Granu::Addr(InvAddrInfo::new_zeroed()));
    assert_eq!(addr.encode_min(&mut out), Ok(56));
    let x = VfioDeviceAttachIommufdPt {
        argsz: 0,
        flags: 0,
        pt_id: 1,
        pasid: 0,
    };
    assert_eq!(x.encode_min(&mut out), Ok(12));
    let x = VfioDeviceAttachIommufdPt { flags: 1, ..x };
    assert_eq!(x.encode_min(&mut out), Ok(16));
    // The encoded argsz is what was written, whatever the value's own argsz said.
    let x = VfioDeviceAttachIommufdPt { argsz: 9999, ..x };
    assert_eq!(x.encode_min(&mut out), Ok(16));
    assert_eq!(get(&out, 0, 4), 16);
}
