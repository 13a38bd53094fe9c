//! Content checks after the copy (reference §2.2–§2.5, §4, §5, §7): a generic sweep of
//! every declared field check (version, flag masks, reserved bytes, enumerations) under
//! every policy, the cache-type × granularity tables (generic and VT-d), and the named
//! rules of the issue.

mod common;

use common::{
    apply_vendor, build, cases, content_errno, decode_generic, errno_of, put, put_argsz, Case,
};
use vsva_uapi::consts::{CacheInvType, HwptAllocFlags, PasidRequestFlags, VtdGpasidFlags};
use vsva_uapi::{
    CacheInvalidateInfo, Check, Errno, FaultAlloc, Field, FieldKind, GpasidBindData,
    GpasidBindDataVtd, Granu, HwInfo, HwptAlloc, HwptInvalidate, InvAddrInfo, InvPasidInfo, Layout,
    NestingOp, PageResponse, PasidRequest, Policy, UapiError, UapiStruct, Vendor,
    VfioDeviceAttachIommufdPt, VfioDeviceDetachIommufdPt, ALL_STRUCTS,
};
use zerocopy::{FromZeros, IntoBytes};

/// An invalid value for a field check, with the errno class it must produce.
struct Bad {
    value: u64,
    /// `true`: EINVAL under every policy (version); `false`: the policy's content errno.
    always_einval: bool,
    what: String,
}

fn width_mask(size: usize) -> u64 {
    if size >= 8 {
        u64::MAX
    } else {
        (1u64 << (8 * size)) - 1
    }
}

/// The invalid values of an integer field's check.
fn bad_values(f: &Field) -> Vec<Bad> {
    let w = width_mask(f.size);
    let mut v = Vec::new();
    let mut push = |value: u64, always_einval: bool, what: String| {
        v.push(Bad {
            value: value & w,
            always_einval,
            what,
        })
    };
    // The newest kernel's reading (the default rules).
    match f.check.at(vsva_uapi::Release::NEWEST) {
        Check::OneOfSince(list) => {
            let max = list.iter().map(|s| s.value).max().unwrap_or(0);
            push(max + 1, false, format!("value {} (not listed)", max + 1));
            push(w, false, "all-ones".into());
        }
        Check::Version(n) => {
            push(n + 1, true, format!("version {}", n + 1));
            push(0, true, "version 0".into());
            push(w, true, "version all-ones".into());
        }
        Check::Flags(known) => {
            let unknown = w & !known;
            if unknown != 0 {
                let low = unknown & unknown.wrapping_neg();
                let high = 1u64 << (63 - unknown.leading_zeros());
                push(low, false, format!("unknown flag {low:#x}"));
                push(high, false, format!("unknown flag {high:#x}"));
            }
        }
        Check::Within { mask, below } => {
            if below <= mask {
                push(below, false, format!("value {below} (first unsupported)"));
                push(mask, false, format!("value {mask}"));
            }
            let outside = w & !mask;
            if outside != 0 {
                let low = outside & outside.wrapping_neg();
                push(low, false, format!("bit {low:#x} outside the value mask"));
            }
        }
        Check::OneOf(vals) => {
            let max = vals.iter().copied().max().unwrap_or(0);
            push(max + 1, false, format!("value {} (not listed)", max + 1));
            push(w, false, "all-ones".into());
        }
        Check::Range { min, below } => {
            if min > 0 {
                push(min - 1, true, format!("value {} below the range", min - 1));
            }
            push(below, true, format!("value {below} past the range"));
            push(w, true, "all-ones".into());
        }
        Check::Valid(vals) => {
            let max = vals.iter().copied().max().unwrap_or(0);
            push(max + 1, true, format!("value {} (not valid)", max + 1));
            push(w, true, "all-ones".into());
        }
        Check::Aligned(a) => {
            push(a / 2, true, format!("value {:#x} (misaligned)", a / 2));
            push(1, true, "value 1 (misaligned)".into());
        }
        Check::None | Check::Argsz | Check::Union | Check::Zero | Check::FlagsSince(_) => {}
    }
    v
}

/// One mutation of a valid struct: bytes to write and the errno class expected.
struct Mutation {
    field: String,
    offset: usize,
    bytes: Vec<u8>,
    always_einval: bool,
    what: String,
}

fn mutations(fields: &[Field], base: usize, prefix: &str) -> Vec<Mutation> {
    let mut m = Vec::new();
    for f in fields {
        let off = base + f.offset;
        let name = format!("{prefix}{}", f.name);
        if f.check == Check::Zero {
            for i in 0..f.size {
                for byte in [0x01u8, 0x80] {
                    m.push(Mutation {
                        field: name.clone(),
                        offset: off + i,
                        bytes: vec![byte],
                        always_einval: false,
                        what: format!("byte {} = {byte:#04x}", off + i),
                    });
                }
            }
            continue;
        }
        if f.kind != FieldKind::Int {
            continue;
        }
        for b in bad_values(f) {
            let mut bytes = vec![0u8; f.size];
            put(&mut bytes, 0, f.size, b.value);
            m.push(Mutation {
                field: name.clone(),
                offset: off,
                bytes,
                always_einval: b.always_einval,
                what: b.what,
            });
        }
    }
    m
}

/// Every field check of every struct (and of its selected union member), under every
/// policy: an invalid value is refused with EINVAL (2020 core, VFIO) or EOPNOTSUPP
/// (iommufd) — version errors are always EINVAL — unless the policy never reads the field
/// (flags-xend past `xend`), in which case it cannot matter.
#[test]
fn every_declared_check_refuses_bad_content_under_every_policy() {
    let mut checked = 0;
    let mut bad = Vec::new();
    for l in ALL_STRUCTS {
        for case in cases(l) {
            let valid = build(l, &case);
            let mut ms = mutations(l.fields, 0, "");
            if let (Some(u), Some(vl)) = (l.union, case.variant.and_then(|v| v.layout)) {
                ms.extend(mutations(vl.fields, u.offset, &format!("{}.", u.name)));
            }
            assert!(
                !ms.is_empty() || no_checks(l, &case),
                "{}: no mutation generated",
                l.name
            );
            for m in &ms {
                let mut user = valid.clone();
                user[m.offset..m.offset + m.bytes.len()].copy_from_slice(&m.bytes);
                // A field the kernel checks after the cross-field rules is only reached
                // when they hold (iommufd_hwpt_alloc: data_type needs data_len first).
                if l.late
                    .iter()
                    .any(|s| matches!(s, vsva_uapi::Late::Field(n) if *n == m.field))
                {
                    common::apply_rules(&mut user, 0, l.rules);
                }
                for policy in Policy::ALL {
                    let limit = if policy == Policy::FlagsXend {
                        case.xend(l)
                    } else {
                        l.size
                    };
                    let want = if m.offset >= limit {
                        None
                    } else if m.always_einval {
                        Some(Errno::EINVAL)
                    } else {
                        Some(content_errno(policy))
                    };
                    let (r, _) = decode_generic(l, &user, policy, None);
                    checked += 1;
                    if errno_of(&r) != want {
                        bad.push(format!(
                            "{} [{}] {policy}: {} {}: expected {:?}, got {:?}",
                            l.name,
                            case.label(),
                            m.field,
                            m.what,
                            want.map(Errno::name),
                            r.map(|(_, i)| i.bytes_read)
                        ));
                    }
                }
            }
        }
    }
    common::assert_no_mismatch("content sweep", checked, &bad);
    eprintln!("content sweep: {checked} cases");
}

fn no_checks(l: &Layout, case: &Case) -> bool {
    let member = case
        .variant
        .and_then(|v| v.layout)
        .map_or(&[][..], |vl| vl.fields);
    l.fields.iter().chain(member).all(|f| {
        matches!(f.check, Check::None | Check::Argsz | Check::Union)
            || (f.kind != FieldKind::Int && f.check != Check::Zero)
    })
}

/// The vendor layer's checks, with `Vendor::Vtd`, on a vendor-valid struct.
#[test]
fn every_vendor_check_refuses_bad_content() {
    let mut checked = 0;
    for l in ALL_STRUCTS.iter().copied().filter(|l| l.vendor.is_some()) {
        let rules = l.vendor.unwrap();
        for case in cases(l) {
            let mut valid = build(l, &case);
            apply_vendor(l, &mut valid);
            let (r, _) = decode_generic(l, &valid, l.default_policy, Some(rules.vendor));
            if r.is_err() {
                // Only shapes the vendor accepts at all (VT-d bind: format 1).
                assert_eq!(l.name, "iommu_gpasid_bind_data", "{}: {r:?}", l.name);
                assert_ne!(case.selector, Some(1), "{r:?}");
                continue;
            }
            for m in mutations(rules.checks, 0, "vendor ") {
                let mut user = valid.clone();
                user[m.offset..m.offset + m.bytes.len()].copy_from_slice(&m.bytes);
                let (r, _) = decode_generic(l, &user, l.default_policy, Some(rules.vendor));
                assert_eq!(
                    errno_of(&r),
                    Some(Errno::EINVAL),
                    "{} [{}] {} {}",
                    l.name,
                    case.label(),
                    m.field,
                    m.what
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 6, "{checked}");
}

// ---------------------------------------------------------------------------------------
// §2.2 / §2.5: cache type × granularity
// ---------------------------------------------------------------------------------------

fn cache_info(cache: u8, granularity: u8) -> Vec<u8> {
    let granu = match granularity {
        0 => Granu::Domain,
        1 => Granu::Pasid(InvPasidInfo {
            flags: 1,
            archid: 0,
            pasid: 7,
        }),
        _ => Granu::Addr(InvAddrInfo {
            flags: 1,
            archid: 0,
            pasid: 7,
            addr: 0x10_0000,
            granule_size: 4096,
            nb_granules: 4,
        }),
    };
    let mut v = CacheInvalidateInfo::new(CacheInvType::empty(), granu);
    v.cache = cache;
    v.as_bytes().to_vec()
}

/// §2.2: generic validity table; Y everywhere except DOMAIN × DEV_IOTLB and
/// ADDR × PASID cache. Every combination of the three cache bits at every granularity.
#[test]
fn generic_cache_type_granularity_table() {
    const DEV_IOTLB: u8 = 2;
    const PASID: u8 = 4;
    // (granularity, forbidden bits) straight from the table.
    let forbidden = [(0u8, DEV_IOTLB), (1, 0), (2, PASID)];
    for (g, bits) in forbidden {
        for cache in 0u8..8 {
            let user = cache_info(cache, g);
            for policy in Policy::ALL {
                let r = CacheInvalidateInfo::from_user(&user, policy);
                if cache & bits != 0 {
                    let e = r.unwrap_err();
                    assert_eq!(
                        e.errno(),
                        Errno::EINVAL,
                        "granu {g} cache {cache:#b} {policy}"
                    );
                    assert!(matches!(e, UapiError::ForbiddenCombination { .. }), "{e:?}");
                } else {
                    assert!(r.is_ok(), "granu {g} cache {cache:#b} {policy}: {r:?}");
                }
            }
        }
        // Bit 3 and up are unknown cache types at every granularity.
        for cache in [8u8, 0x10, 0x80, 0xff] {
            let r = CacheInvalidateInfo::from_user(&cache_info(cache, g), Policy::Linux510);
            assert_eq!(
                errno_of(&r),
                Some(Errno::EINVAL),
                "granu {g} cache {cache:#x}"
            );
        }
    }
}

/// §2.5: VT-d's table — IOTLB at PASID/ADDR, DEV_IOTLB at ADDR only, never the PASID
/// cache, nothing at DOMAIN granularity. (The real driver merely logs and stops walking
/// the bits — returning 0 — see the report; the crate refuses with EINVAL.)
#[test]
fn vtd_cache_type_granularity_table() {
    // allowed[bit][granularity]
    let allowed = [
        [false, true, true],   // IOTLB
        [false, false, true],  // DEV_IOTLB
        [false, false, false], // PASID cache
    ];
    for g in 0u8..3 {
        for cache in 0u8..8 {
            let user = cache_info(cache, g);
            let ok = (0..3).all(|bit| cache & (1 << bit) == 0 || allowed[bit][g as usize]);
            let r = CacheInvalidateInfo::decode(&user, Policy::Linux510, Some(Vendor::Vtd));
            if ok {
                assert!(r.is_ok(), "VT-d granu {g} cache {cache:#b}: {r:?}");
            } else {
                assert_eq!(
                    errno_of(&r),
                    Some(Errno::EINVAL),
                    "VT-d granu {g} cache {cache:#b}"
                );
            }
        }
    }
    // No vendor argsz check for invalidation (§2.3): the core's ends suffice.
    let mut user = cache_info(1, 1);
    put_argsz(&mut user, 32);
    assert!(CacheInvalidateInfo::decode(&user[..32], Policy::Linux510, Some(Vendor::Vtd)).is_ok());
}

#[test]
fn cache_invalidate_scalar_checks() {
    let valid = cache_info(1, 2);
    assert!(CacheInvalidateInfo::from_user(&valid, Policy::Linux510).is_ok());
    // version != 1
    for version in [0u32, 2, u32::MAX] {
        let mut u = valid.clone();
        put(&mut u, 4, 4, u64::from(version));
        let e = CacheInvalidateInfo::from_user(&u, Policy::Linux510).unwrap_err();
        assert!(matches!(e, UapiError::BadVersion { .. }), "{e:?}");
        assert_eq!(e.errno(), Errno::EINVAL);
    }
    // granularity >= IOMMU_INV_GRANU_NR (3)
    for g in [3u8, 4, 0x80, 0xff] {
        let mut u = valid.clone();
        u[9] = g;
        let r = CacheInvalidateInfo::from_user(&u, Policy::Linux510);
        assert_eq!(errno_of(&r), Some(Errno::EINVAL), "granularity {g}");
    }
    // every padding byte (offsets 10..16)
    for off in 10..16 {
        let mut u = valid.clone();
        u[off] = 1;
        let e = CacheInvalidateInfo::from_user(&u, Policy::Linux510).unwrap_err();
        assert!(
            matches!(e, UapiError::NonZeroReserved { offset, .. } if offset == off),
            "{e:?}"
        );
        assert_eq!(e.errno(), Errno::EINVAL);
    }
    // addr_info.flags within {PASID, ARCHID, LEAF}; pasid_info.flags within {PASID, ARCHID}
    let mut u = valid.clone();
    put(&mut u, 16, 4, 0b1000);
    assert_eq!(
        errno_of(&CacheInvalidateInfo::from_user(&u, Policy::Linux510)),
        Some(Errno::EINVAL)
    );
    let mut u = cache_info(1, 1);
    put(&mut u, 16, 4, 0b100);
    assert_eq!(
        errno_of(&CacheInvalidateInfo::from_user(&u, Policy::Linux510)),
        Some(Errno::EINVAL)
    );
    // "at least one of PASID or ARCHID must be set" is a comment, not enforced (§2.2).
    let mut u = cache_info(1, 1);
    put(&mut u, 16, 4, 0);
    assert!(CacheInvalidateInfo::from_user(&u, Policy::Linux510).is_ok());
}

// ---------------------------------------------------------------------------------------
// §2.3: bind
// ---------------------------------------------------------------------------------------

fn vtd_bind() -> GpasidBindData {
    let mut b = GpasidBindData::new_zeroed();
    b.argsz = 72;
    b.version = 1;
    b.addr_width = 48;
    b.gpgd = 0x1000;
    b.hpasid = 5;
    b.set_vtd(GpasidBindDataVtd {
        flags: VtdGpasidFlags::SRE.bits(),
        pat: 0,
        emt: 0,
    });
    b
}

fn bind_errno(b: &GpasidBindData, argsz: usize, vendor: Option<Vendor>) -> Option<Errno> {
    let mut u = b.as_bytes().to_vec();
    put_argsz(&mut u, argsz as u32);
    errno_of(&GpasidBindData::decode(&u, Policy::Linux510, vendor))
}

#[test]
fn bind_core_checks() {
    let b = vtd_bind();
    assert_eq!(bind_errno(&b, 72, None), None);
    assert_eq!(bind_errno(&b, 72, Some(Vendor::Vtd)), None);
    // version != 1
    for version in [0, 2] {
        let x = GpasidBindData { version, ..b };
        assert_eq!(
            bind_errno(&x, 72, None),
            Some(Errno::EINVAL),
            "version {version}"
        );
    }
    // format >= IOMMU_PASID_FORMAT_LAST (2); format 0 passes the core check.
    for format in [2u32, 3, u32::MAX] {
        let x = GpasidBindData { format, ..b };
        assert_eq!(
            bind_errno(&x, 72, None),
            Some(Errno::EINVAL),
            "format {format}"
        );
    }
    let x = GpasidBindData { format: 0, ..b };
    assert_eq!(bind_errno(&x, 72, None), None, "format 0 passes the core");
    // flags & ~IOMMU_SVA_GPASID_VAL
    for flags in [2u64, 1 << 63] {
        let x = GpasidBindData { flags, ..b };
        assert_eq!(
            bind_errno(&x, 72, None),
            Some(Errno::EINVAL),
            "flags {flags:#x}"
        );
    }
    let x = GpasidBindData { flags: 1, ..b };
    assert_eq!(bind_errno(&x, 72, None), None);
    // every padding byte (48..56)
    for i in 0..8 {
        let mut x = b;
        x.padding[i] = 0x40;
        assert_eq!(
            bind_errno(&x, 72, None),
            Some(Errno::EINVAL),
            "padding[{i}]"
        );
    }
    // The core does not need the vendor member: argsz 56..71 is fine without a vendor.
    for argsz in 56..72 {
        assert_eq!(bind_errno(&b, argsz, None), None, "argsz {argsz}");
    }
}

#[test]
fn bind_vtd_vendor_checks() {
    let b = vtd_bind();
    // format != IOMMU_PASID_FORMAT_INTEL_VTD
    let x = GpasidBindData { format: 0, ..b };
    assert_eq!(bind_errno(&x, 72, Some(Vendor::Vtd)), Some(Errno::EINVAL));
    // argsz < offsetofend(vendor.vtd) = 72
    for argsz in 56..72 {
        let e = bind_errno(&b, argsz, Some(Vendor::Vtd));
        assert_eq!(e, Some(Errno::EINVAL), "argsz {argsz}");
    }
    let mut u = b.as_bytes().to_vec();
    put_argsz(&mut u, 71);
    assert!(matches!(
        GpasidBindData::decode(&u, Policy::Linux510, Some(Vendor::Vtd)),
        Err(UapiError::VendorTruncated { need: 72, .. })
    ));
    // vendor.vtd.flags & ~(IOMMU_SVA_VTD_GPASID_LAST - 1): bit 7 and up are unknown.
    for bit in [7u32, 8, 63] {
        let mut x = b;
        x.set_vtd(GpasidBindDataVtd {
            flags: 1 << bit,
            pat: 0,
            emt: 0,
        });
        assert_eq!(
            bind_errno(&x, 72, Some(Vendor::Vtd)),
            Some(Errno::EINVAL),
            "vtd flag bit {bit}"
        );
        assert_eq!(
            bind_errno(&x, 72, None),
            None,
            "the core ignores vendor flags"
        );
    }
    // SRE, EAFE and WPE are defined (their support depends on the hardware).
    for flags in [
        VtdGpasidFlags::SRE,
        VtdGpasidFlags::EAFE,
        VtdGpasidFlags::WPE,
    ] {
        let mut x = b;
        x.set_vtd(GpasidBindDataVtd {
            flags: flags.bits(),
            pat: 0,
            emt: 0,
        });
        assert_eq!(bind_errno(&x, 72, Some(Vendor::Vtd)), None, "{flags:?}");
    }
    // hpasid <= 0 || hpasid >= PASID_MAX (1 << 20)
    for hpasid in [0u64, 1 << 20, (1 << 20) + 1, u64::MAX] {
        let x = GpasidBindData { hpasid, ..b };
        assert_eq!(
            bind_errno(&x, 72, Some(Vendor::Vtd)),
            Some(Errno::EINVAL),
            "hpasid {hpasid:#x}"
        );
        assert_eq!(
            bind_errno(&x, 72, None),
            None,
            "the core does not check hpasid"
        );
    }
    for hpasid in [1u64, (1 << 20) - 1] {
        let x = GpasidBindData { hpasid, ..b };
        assert_eq!(
            bind_errno(&x, 72, Some(Vendor::Vtd)),
            None,
            "hpasid {hpasid:#x}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// §2.4, §4: page response, PASID request, nesting op
// ---------------------------------------------------------------------------------------

#[test]
fn page_response_checks() {
    let ok = PageResponse {
        argsz: 24,
        version: 1,
        flags: 1,
        pasid: 3,
        grpid: 9,
        code: 0,
    };
    for code in 0..3 {
        let x = PageResponse { code, ..ok };
        assert!(PageResponse::from_user(x.as_bytes(), Policy::Linux510).is_ok());
    }
    // code 3 is not an iommu_page_response_code (vsva's check; see the report).
    for code in [3u32, u32::MAX] {
        let x = PageResponse { code, ..ok };
        let r = PageResponse::from_user(x.as_bytes(), Policy::Linux510);
        assert_eq!(errno_of(&r), Some(Errno::EINVAL), "code {code}");
    }
    // version != 1 or flags & ~PASID_VALID (§2.4)
    for x in [
        PageResponse { version: 0, ..ok },
        PageResponse { version: 2, ..ok },
        PageResponse { flags: 2, ..ok },
        PageResponse {
            flags: 1 << 31,
            ..ok
        },
    ] {
        let r = PageResponse::from_user(x.as_bytes(), Policy::Linux510);
        assert_eq!(errno_of(&r), Some(Errno::EINVAL), "{x:?}");
    }
}

#[test]
fn pasid_request_checks() {
    let ok = PasidRequest::alloc(1, 100);
    let e = |x: PasidRequest| errno_of(&PasidRequest::from_user(x.as_bytes(), Policy::Linux510));
    assert_eq!(e(ok), None);
    assert_eq!(e(PasidRequest::free(1, 100)), None);
    assert_eq!(e(PasidRequest::alloc(7, 7)), None, "min == max");
    // Both flags or neither: the flags are mutually exclusive.
    let both = PasidRequestFlags::all().bits();
    assert_eq!(e(PasidRequest { flags: both, ..ok }), Some(Errno::EINVAL));
    assert_eq!(e(PasidRequest { flags: 0, ..ok }), Some(Errno::EINVAL));
    // Unknown flags.
    assert_eq!(e(PasidRequest { flags: 1 | 4, ..ok }), Some(Errno::EINVAL));
    // range.min > range.max
    let r = PasidRequest::from_user(PasidRequest::alloc(101, 100).as_bytes(), Policy::Linux510);
    assert!(matches!(r, Err(UapiError::InvertedRange { .. })), "{r:?}");
    // minsz = offsetofend(range) = 16
    let mut u = ok.as_bytes().to_vec();
    put_argsz(&mut u, 15);
    assert!(matches!(
        PasidRequest::from_user(&u, Policy::Linux510),
        Err(UapiError::ArgszTooSmall { need: 16, .. })
    ));
}

#[test]
fn nesting_op_checks() {
    let hdr = |flags: u32, argsz: u32| NestingOp { argsz, flags };
    let e = |x: NestingOp| errno_of(&NestingOp::from_user(x.as_bytes(), Policy::Linux510));
    for op in 0..3 {
        assert_eq!(e(hdr(op, 8 + 56)), None, "op {op}");
    }
    // An unknown op (3) and bits above VFIO_NESTING_OP_MASK (bit 16 and up).
    assert_eq!(e(hdr(3, 64)), Some(Errno::EINVAL));
    assert_eq!(e(hdr(0xffff, 64)), Some(Errno::EINVAL));
    assert_eq!(e(hdr(1 << 16, 64)), Some(Errno::EINVAL));
    assert_eq!(e(hdr(2 | 1 << 31, 64)), Some(Errno::EINVAL));
    // minsz = offsetofend(flags) = 8; argsz covers header + data and is not bounded.
    assert_eq!(e(hdr(2, 7)), Some(Errno::EINVAL));
    assert_eq!(e(hdr(2, 8)), None);
    assert_eq!(e(hdr(2, u32::MAX)), None);
}

// ---------------------------------------------------------------------------------------
// §5, §6: iommufd (EOPNOTSUPP) and VFIO cdev (EINVAL)
// ---------------------------------------------------------------------------------------

#[test]
fn iommufd_unknown_flags_and_reserved_are_eopnotsupp() {
    let mut a = HwptAlloc::new_zeroed();
    a.size = 48;
    a.flags = HwptAllocFlags::NEST_PARENT.bits();
    let e = |x: &HwptAlloc| errno_of(&HwptAlloc::from_user(x.as_bytes(), Policy::ZeroTail));
    assert_eq!(e(&a), None);
    for bit in [4u32, 5, 31] {
        let x = HwptAlloc {
            flags: a.flags | 1 << bit,
            ..a
        };
        assert_eq!(e(&x), Some(Errno::EOPNOTSUPP), "hwpt_alloc flags bit {bit}");
    }
    let x = HwptAlloc { __reserved: 1, ..a };
    assert_eq!(e(&x), Some(Errno::EOPNOTSUPP), "hwpt_alloc __reserved");
    // An unknown data type with data: EOPNOTSUPP; without data_len the handler's
    // agreement check comes first: EINVAL (iommufd_hwpt_alloc's order).
    let x = HwptAlloc {
        data_type: 9,
        data_len: 8,
        ..a
    };
    assert_eq!(e(&x), Some(Errno::EOPNOTSUPP), "hwpt_alloc data_type 9");
    let x = HwptAlloc { data_type: 9, ..a };
    assert_eq!(
        e(&x),
        Some(Errno::EINVAL),
        "hwpt_alloc data_type 9 without data_len"
    );

    let mut h = HwInfo::new_zeroed();
    h.size = 40;
    let eh = |x: &HwInfo| errno_of(&HwInfo::from_user(x.as_bytes(), Policy::ZeroTail));
    assert_eq!(eh(&h), None);
    assert_eq!(eh(&HwInfo { flags: 1, ..h }), None, "INPUT_TYPE is known");
    assert_eq!(eh(&HwInfo { flags: 2, ..h }), Some(Errno::EOPNOTSUPP));
    for i in 0..3 {
        let mut x = h;
        x.__reserved[i] = 1;
        assert_eq!(eh(&x), Some(Errno::EOPNOTSUPP), "hw_info __reserved[{i}]");
    }

    let f = FaultAlloc {
        size: 16,
        flags: 1,
        out_fault_id: 0,
        out_fault_fd: 0,
    };
    assert_eq!(
        errno_of(&FaultAlloc::from_user(f.as_bytes(), Policy::ZeroTail)),
        Some(Errno::EOPNOTSUPP),
        "fault_alloc flags must be 0"
    );

    let mut i = HwptInvalidate::new_zeroed();
    i.size = 32;
    i.__reserved = 1;
    assert_eq!(
        errno_of(&HwptInvalidate::from_user(i.as_bytes(), Policy::ZeroTail)),
        Some(Errno::EOPNOTSUPP),
        "hwpt_invalidate __reserved"
    );
    // The same unknown flag is EINVAL under the 2020 core's and VFIO's conventions.
    let x = HwptAlloc { flags: 1 << 4, ..a };
    for policy in [Policy::Linux510, Policy::FlagsXend] {
        assert_eq!(
            errno_of(&HwptAlloc::from_user(x.as_bytes(), policy)),
            Some(Errno::EINVAL),
            "{policy}"
        );
    }
}

#[test]
fn hwpt_alloc_fault_id_needs_its_bytes() {
    // FAULT_ID_VALID makes fault_id (offsetofend 44) mandatory.
    // (NEST_PARENT with FAULT_ID_VALID is refused since 6.15: DIRTY_TRACKING instead.)
    let mut a = HwptAlloc::new_zeroed();
    a.flags = (HwptAllocFlags::DIRTY_TRACKING | HwptAllocFlags::FAULT_ID_VALID).bits();
    a.fault_id = 7;
    for (argsz, ok) in [
        (24u32, false),
        (40, false),
        (43, false),
        (44, true),
        (48, true),
    ] {
        let mut u = a.as_bytes()[..(argsz as usize).min(48)].to_vec();
        put_argsz(&mut u, argsz);
        let r = HwptAlloc::from_user(&u, Policy::ZeroTail);
        if ok {
            assert_eq!(r.unwrap().fault_id, 7, "argsz {argsz}");
        } else {
            assert!(
                matches!(r, Err(UapiError::ExtensionTruncated { need: 44, .. })),
                "argsz {argsz}: {r:?}"
            );
        }
    }
}

fn attach(flags: u32, argsz: u32, pasid: u32) -> VfioDeviceAttachIommufdPt {
    VfioDeviceAttachIommufdPt {
        argsz,
        flags,
        pt_id: 3,
        pasid,
    }
}

#[test]
fn attach_iommufd_pt_flags_and_xend() {
    let p = Policy::FlagsXend;
    // PASID flag with argsz 12: xend 16 is past argsz → EINVAL (§5.5 step 4).
    let x = attach(1, 12, 9);
    let r = VfioDeviceAttachIommufdPt::from_user(&x.as_bytes()[..12], p);
    assert!(
        matches!(r, Err(UapiError::ExtensionTruncated { need: 16, .. })),
        "{r:?}"
    );
    let r = VfioDeviceAttachIommufdPt::from_user(x.as_bytes(), p);
    assert_eq!(
        errno_of(&r),
        Some(Errno::EINVAL),
        "argsz 12 with PASID even if readable"
    );
    // Without the flag, argsz 12 is the whole struct.
    let x = attach(0, 12, 0);
    let d = VfioDeviceAttachIommufdPt::decode(&x.as_bytes()[..12], p, None).unwrap();
    assert_eq!((d.value.pt_id, d.info.bytes_read), (3, 12));
    // With the flag and argsz 16 the pasid is copied.
    let x = attach(1, 16, 9);
    let d = VfioDeviceAttachIommufdPt::decode(x.as_bytes(), p, None).unwrap();
    assert_eq!((d.value.pasid, d.info.bytes_read), (9, 16));
    // Bytes past xend are never read: without the flag, a garbage pasid and a huge,
    // partly unreadable argsz are harmless (§5.5 step 5).
    let x = attach(0, 4096, 0xdead_beef);
    let d = VfioDeviceAttachIommufdPt::decode(x.as_bytes(), p, None).unwrap();
    assert_eq!((d.value.pasid, d.info.bytes_read), (0, 12));
    let d = VfioDeviceAttachIommufdPt::decode(&x.as_bytes()[..12], p, None).unwrap();
    assert_eq!(d.value.pasid, 0);
    // Unknown flags are EINVAL (VFIO's convention).
    for flags in [2u32, 1 << 31, 3] {
        let x = attach(flags, 16, 0);
        let r = VfioDeviceAttachIommufdPt::from_user(x.as_bytes(), p);
        assert_eq!(errno_of(&r), Some(Errno::EINVAL), "flags {flags:#x}");
    }
    // minsz = offsetofend(pt_id) = 12.
    let x = attach(0, 11, 0);
    assert!(matches!(
        VfioDeviceAttachIommufdPt::from_user(x.as_bytes(), p),
        Err(UapiError::ArgszTooSmall { need: 12, .. })
    ));
    // Not even minsz readable: EFAULT.
    let x = attach(0, 12, 0);
    assert_eq!(
        errno_of(&VfioDeviceAttachIommufdPt::from_user(
            &x.as_bytes()[..11],
            p
        )),
        Some(Errno::EFAULT)
    );
    // With the flag, the pasid must be readable.
    let x = attach(1, 16, 9);
    assert_eq!(
        errno_of(&VfioDeviceAttachIommufdPt::from_user(
            &x.as_bytes()[..15],
            p
        )),
        Some(Errno::EFAULT)
    );
}

#[test]
fn detach_iommufd_pt_flags_and_xend() {
    let p = Policy::FlagsXend;
    let d = |argsz: u32, flags: u32, pasid: u32| VfioDeviceDetachIommufdPt {
        argsz,
        flags,
        pasid,
    };
    let x = d(8, 1, 4);
    assert!(matches!(
        VfioDeviceDetachIommufdPt::from_user(x.as_bytes(), p),
        Err(UapiError::ExtensionTruncated { need: 12, .. })
    ));
    let x = d(8, 0, 4);
    let v = VfioDeviceDetachIommufdPt::from_user(&x.as_bytes()[..8], p).unwrap();
    assert_eq!(v.pasid, 0);
    let x = d(12, 1, 4);
    assert_eq!(
        VfioDeviceDetachIommufdPt::from_user(x.as_bytes(), p)
            .unwrap()
            .pasid,
        4
    );
    let x = d(12, 2, 0);
    assert_eq!(
        errno_of(&VfioDeviceDetachIommufdPt::from_user(x.as_bytes(), p)),
        Some(Errno::EINVAL)
    );
}

#[test]
fn content_errno_convention_per_policy() {
    // §7: unknown flags / reserved != 0 → EINVAL (2020 core), EOPNOTSUPP (iommufd),
    // EINVAL (VFIO). Checked on one struct under all three policies.
    let mut u = cache_info(1, 0);
    u[12] = 1; // padding
    for (policy, want) in [
        (Policy::Linux510, Errno::EINVAL),
        (Policy::ZeroTail, Errno::EOPNOTSUPP),
        (Policy::FlagsXend, Errno::EINVAL),
    ] {
        assert_eq!(
            errno_of(&CacheInvalidateInfo::from_user(&u, policy)),
            Some(want),
            "{policy}"
        );
    }
}
