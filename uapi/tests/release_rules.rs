//! Verdicts that are the kernel's own, per release (issue 12 §4): each field, flag and
//! check carries the release that introduced or changed it, and vsva's deliberate
//! strictness is a separate, named layer. Every test here failed before the rules were
//! a function of the release.

mod common;

use common::errno_of;
use vsva_uapi::consts::{HwptAllocFlags, VtdGpasidFlags};
use vsva_uapi::{
    strict_check, CacheInvalidateInfo, Errno, GpasidBindData, GpasidBindDataVtd, HwInfo, HwptAlloc,
    HwptInvalidate, PageResponse, Policy, Release, Rules, UapiError, UapiStruct, Vendor,
    VfioDeviceAttachIommufdPt,
};
use zerocopy::{FromZeros, IntoBytes};

fn kernel<T: UapiStruct>(user: &[u8], release: Release) -> Option<Errno> {
    kernel_with::<T>(user, None, release)
}

fn kernel_with<T: UapiStruct>(
    user: &[u8],
    vendor: Option<Vendor>,
    release: Release,
) -> Option<Errno> {
    errno_of(&T::decode_with(
        user,
        T::DECL.default_policy,
        vendor,
        Rules::kernel(release),
    ))
}

fn vsva<T: UapiStruct>(user: &[u8], vendor: Option<Vendor>) -> Result<(), UapiError> {
    T::decode(user, T::DECL.default_policy, vendor).map(drop)
}

/// v5.10's `IOMMU_SVA_VTD_GPASID_LAST` is `1 << 6`: WPE (bit 6) is an undefined flag
/// there (EINVAL); it arrived in v5.13.
#[test]
fn vtd_bind_wpe_is_refused_by_v5_10_and_accepted_since_v5_13() {
    let mut b = GpasidBindData::new_zeroed();
    b.argsz = 72;
    b.version = 1;
    b.hpasid = 5;
    b.set_vtd(GpasidBindDataVtd {
        flags: VtdGpasidFlags::WPE.bits(),
        pat: 0,
        emt: 0,
    });
    let at = |r| kernel_with::<GpasidBindData>(b.as_bytes(), Some(Vendor::Vtd), r);
    assert_eq!(at(Release::V5_10), Some(Errno::EINVAL));
    assert_eq!(at(Release::new(5, 12)), Some(Errno::EINVAL));
    assert_eq!(at(Release::V5_13), None);
    assert_eq!(at(Release::NEWEST), None);
    assert_eq!(
        vsva::<GpasidBindData>(b.as_bytes(), Some(Vendor::Vtd)),
        Ok(())
    );
    // SRE and EAFE were there from the start.
    b.set_vtd(GpasidBindDataVtd {
        flags: (VtdGpasidFlags::SRE | VtdGpasidFlags::EAFE).bits(),
        pat: 0,
        emt: 0,
    });
    assert_eq!(
        kernel_with::<GpasidBindData>(b.as_bytes(), Some(Vendor::Vtd), Release::V5_10),
        None
    );
}

/// `iommufd_hwpt_alloc` never reads `__reserved2`.
#[test]
fn hwpt_alloc_reserved2_is_never_read() {
    let mut a = HwptAlloc::new_zeroed();
    a.size = 48;
    a.__reserved2 = 0xdead_beef;
    for r in [Release::V6_11, Release::new(6, 12), Release::NEWEST] {
        assert_eq!(kernel::<HwptAlloc>(a.as_bytes(), r), None, "{r}");
    }
    assert_eq!(vsva::<HwptAlloc>(a.as_bytes(), None), Ok(()));
    // `__reserved` is checked (EOPNOTSUPP).
    a.__reserved = 1;
    assert_eq!(
        kernel::<HwptAlloc>(a.as_bytes(), Release::NEWEST),
        Some(Errno::EOPNOTSUPP)
    );
}

/// `FAULT_ID_VALID | NEST_PARENT`: an unknown flag before 6.11, accepted by 6.11–6.14,
/// refused (EOPNOTSUPP) since 6.15.
#[test]
fn hwpt_alloc_fault_id_valid_with_nest_parent_is_refused_since_6_15() {
    let mut a = HwptAlloc::new_zeroed();
    a.size = 48;
    a.flags = (HwptAllocFlags::FAULT_ID_VALID | HwptAllocFlags::NEST_PARENT).bits();
    a.fault_id = 3;
    let at = |r| kernel::<HwptAlloc>(a.as_bytes(), r);
    // 6.7's struct ends before fault_id (E2BIG); without it, the flag is unknown there.
    assert_eq!(
        at(Release::V6_7),
        Some(Errno::E2BIG),
        "fault_id past 6.7's struct"
    );
    let x = HwptAlloc { fault_id: 0, ..a };
    assert_eq!(
        kernel::<HwptAlloc>(x.as_bytes(), Release::V6_7),
        Some(Errno::EOPNOTSUPP),
        "unknown flag in 6.7"
    );
    assert_eq!(at(Release::V6_11), None);
    assert_eq!(at(Release::new(6, 12)), None);
    assert_eq!(at(Release::new(6, 14)), None);
    assert_eq!(at(Release::V6_15), Some(Errno::EOPNOTSUPP));
    assert_eq!(at(Release::NEWEST), Some(Errno::EOPNOTSUPP));
    let err = HwptAlloc::decode_with(
        a.as_bytes(),
        Policy::ZeroTail,
        None,
        Rules::kernel(Release::V6_15),
    )
    .unwrap_err();
    assert!(
        matches!(err, UapiError::UnsupportedCombination { bits: 0b101, .. }),
        "{err:?}"
    );
    // Each flag alone is fine.
    for flags in [HwptAllocFlags::FAULT_ID_VALID, HwptAllocFlags::NEST_PARENT] {
        let x = HwptAlloc {
            flags: flags.bits(),
            ..a
        };
        assert_eq!(
            kernel::<HwptAlloc>(x.as_bytes(), Release::NEWEST),
            None,
            "{flags:?}"
        );
    }
}

/// `iommufd_hwpt_alloc` checks that `data_type` and `data_len` agree (EINVAL) before
/// the flags and the data type (EOPNOTSUPP).
#[test]
fn hwpt_alloc_checks_data_type_and_len_before_flags_and_type() {
    let mut a = HwptAlloc::new_zeroed();
    a.size = 48;
    a.flags = 1 << 4; // unknown
    a.data_type = 9; // unknown, and without data_len
    assert_eq!(
        kernel::<HwptAlloc>(a.as_bytes(), Release::NEWEST),
        Some(Errno::EINVAL)
    );
    assert!(matches!(
        vsva::<HwptAlloc>(a.as_bytes(), None),
        Err(UapiError::MissingField {
            when: "data_type",
            ..
        })
    ));
    // With the lengths agreeing, the flags come next, then the type.
    a.data_len = 24;
    assert!(matches!(
        vsva::<HwptAlloc>(a.as_bytes(), None),
        Err(UapiError::UnknownFlags { .. })
    ));
    a.flags = 0;
    assert!(matches!(
        vsva::<HwptAlloc>(a.as_bytes(), None),
        Err(UapiError::UnsupportedValue {
            field: "data_type",
            ..
        })
    ));
    // AMD_GUEST arrived in 7.0, ARM_SMMUV3 in 6.13.
    a.data_type = 3;
    assert_eq!(kernel::<HwptAlloc>(a.as_bytes(), Release::V7_0), None);
    assert_eq!(
        kernel::<HwptAlloc>(a.as_bytes(), Release::new(6, 19)),
        Some(Errno::EOPNOTSUPP)
    );
    a.data_type = 2;
    assert_eq!(kernel::<HwptAlloc>(a.as_bytes(), Release::V6_13), None);
    assert_eq!(
        kernel::<HwptAlloc>(a.as_bytes(), Release::new(6, 12)),
        Some(Errno::EOPNOTSUPP)
    );
}

/// `iommufd_hwpt_invalidate` refuses `__reserved != 0` first (EOPNOTSUPP), and leaves
/// the data type to the driver.
#[test]
fn hwpt_invalidate_checks_reserved_first_and_leaves_the_type() {
    let mut i = HwptInvalidate::new_zeroed();
    i.size = 32;
    i.data_type = 0x77;
    i.entry_num = 1; // and no array: EINVAL, but __reserved comes first
    i.__reserved = 1;
    assert_eq!(
        kernel::<HwptInvalidate>(i.as_bytes(), Release::NEWEST),
        Some(Errno::EOPNOTSUPP)
    );
    i.__reserved = 0;
    assert_eq!(
        kernel::<HwptInvalidate>(i.as_bytes(), Release::NEWEST),
        Some(Errno::EINVAL)
    );
    i.data_uptr = 0x1000;
    i.entry_len = 24;
    assert_eq!(
        kernel::<HwptInvalidate>(i.as_bytes(), Release::NEWEST),
        None,
        "any type"
    );
    // 7.2's bounds (in 6.12's stable series since 6.12.96): entry_len <= PAGE_SIZE,
    // entry_num <= 2^19.
    for (len, num) in [(4097u32, 1u32), (24, (1 << 19) + 1)] {
        let x = HwptInvalidate {
            entry_len: len,
            entry_num: num,
            ..i
        };
        assert_eq!(
            kernel::<HwptInvalidate>(x.as_bytes(), Release::V6_12),
            Some(Errno::EINVAL)
        );
        assert_eq!(kernel::<HwptInvalidate>(x.as_bytes(), Release::V6_11), None);
    }
    let x = HwptInvalidate {
        entry_len: 4096,
        entry_num: 1 << 19,
        ..i
    };
    assert_eq!(kernel::<HwptInvalidate>(x.as_bytes(), Release::V6_12), None);
    // The ioctl arrived in 6.8.
    assert_eq!(
        kernel::<HwptInvalidate>(i.as_bytes(), Release::V6_7),
        Some(Errno::ENOTTY)
    );
}

/// The kernel's struct size is the release's: a 6.7 kernel's `iommu_hwpt_alloc` is 40
/// bytes, so a non-zero `fault_id` past it is E2BIG there.
#[test]
fn struct_size_and_ioctls_follow_the_release() {
    let mut a = HwptAlloc::new_zeroed();
    a.size = 48;
    a.fault_id = 1;
    assert_eq!(
        kernel::<HwptAlloc>(a.as_bytes(), Release::V6_7),
        Some(Errno::E2BIG)
    );
    assert_eq!(kernel::<HwptAlloc>(a.as_bytes(), Release::V6_11), None);
    a.fault_id = 0;
    a.data_type = 1;
    a.data_len = 24;
    assert_eq!(
        kernel::<HwptAlloc>(a.as_bytes(), Release::V6_6),
        Some(Errno::E2BIG)
    );
    assert_eq!(kernel::<HwptAlloc>(a.as_bytes(), Release::V6_7), None);
    for r in [Release::V5_10, Release::V6_2, Release::new(6, 5)] {
        let err = HwptAlloc::decode_with(a.as_bytes(), Policy::ZeroTail, None, Rules::kernel(r))
            .unwrap_err();
        assert_eq!(
            err,
            UapiError::NotInRelease {
                strukt: "iommu_hwpt_alloc",
                since: Release::V6_6,
                release: r
            }
        );
        assert_eq!(err.errno(), Errno::ENOTTY);
    }
    // A PASID attach before 6.15: an unknown VFIO flag (EINVAL).
    let x = VfioDeviceAttachIommufdPt {
        argsz: 16,
        flags: 1,
        pt_id: 2,
        pasid: 5,
    };
    assert_eq!(
        kernel::<VfioDeviceAttachIommufdPt>(x.as_bytes(), Release::new(6, 12)),
        Some(Errno::EINVAL)
    );
    assert_eq!(
        kernel::<VfioDeviceAttachIommufdPt>(x.as_bytes(), Release::V6_15),
        None
    );
    // GET_HW_INFO's INPUT_TYPE flag arrived in 6.17.
    let mut h = HwInfo::new_zeroed();
    h.size = 40;
    h.flags = 1;
    assert_eq!(
        kernel::<HwInfo>(h.as_bytes(), Release::new(6, 16)),
        Some(Errno::EOPNOTSUPP)
    );
    assert_eq!(kernel::<HwInfo>(h.as_bytes(), Release::V6_17), None);
}

/// vsva's strictness is its own layer: the kernel accepts, vsva-viommu refuses, and the
/// refusal names its rule.
#[test]
fn strictness_is_a_named_layer_on_top_of_the_kernel() {
    // VT-d: the PASID cache at address granularity. The kernel logs and returns 0.
    let mut c = CacheInvalidateInfo::new_zeroed();
    c.argsz = 16;
    c.version = 1;
    c.cache = 0b001; // IOTLB
    c.granularity = 0; // domain
    let user = &c.as_bytes()[..16];
    assert_eq!(
        kernel_with::<CacheInvalidateInfo>(user, Some(Vendor::Vtd), Release::V5_10),
        None
    );
    let err = vsva::<CacheInvalidateInfo>(user, Some(Vendor::Vtd)).unwrap_err();
    assert!(
        matches!(err, UapiError::ForbiddenCombination { .. }),
        "{err:?}"
    );
    let mut out = [0u8; 56];
    let mut read = 0;
    let info = vsva_uapi::decode_into_with(
        CacheInvalidateInfo::DECL,
        user,
        Policy::Linux510,
        Some(Vendor::Vtd),
        Rules::kernel(Release::V5_10),
        &mut out,
        &mut read,
    )
    .unwrap();
    let refusal = strict_check(
        CacheInvalidateInfo::DECL,
        user,
        &out,
        &info,
        Policy::Linux510,
        Some(Vendor::Vtd),
        Release::V5_10,
    )
    .unwrap_err();
    assert_eq!(refusal.rule.name, "vtd-cache-granularity");
    assert_eq!(refusal.error, err);
    // Without the VT-d layer, no strict rule applies.
    assert_eq!(vsva::<CacheInvalidateInfo>(user, None), Ok(()));

    // page_response: the kernel reads neither argsz nor code.
    let mut p = PageResponse::new_zeroed();
    p.argsz = 8;
    p.version = 1;
    p.code = 7;
    assert_eq!(kernel::<PageResponse>(p.as_bytes(), Release::V5_10), None);
    assert!(matches!(
        vsva::<PageResponse>(p.as_bytes(), None),
        Err(UapiError::ArgszTooSmall { .. })
    ));
    p.argsz = 24;
    assert!(matches!(
        vsva::<PageResponse>(p.as_bytes(), None),
        Err(UapiError::UnsupportedValue { field: "code", .. })
    ));
    // The kernel still checks version and flags.
    p.version = 2;
    assert_eq!(
        kernel::<PageResponse>(p.as_bytes(), Release::V5_10),
        Some(Errno::EINVAL)
    );

    // Zero-tail: no page cap in the kernel; FAULT_ID_VALID with a short size is
    // zero-filled there.
    let mut big = vec![0u8; 8192];
    big[..4].copy_from_slice(&8192u32.to_ne_bytes());
    assert_eq!(kernel::<HwptAlloc>(&big, Release::NEWEST), None);
    assert!(matches!(
        vsva::<HwptAlloc>(&big, None),
        Err(UapiError::ArgszTooLarge { .. })
    ));
    let mut a = HwptAlloc::new_zeroed();
    a.size = 40;
    a.flags = HwptAllocFlags::FAULT_ID_VALID.bits();
    let user = &a.as_bytes()[..40];
    assert_eq!(kernel::<HwptAlloc>(user, Release::NEWEST), None);
    assert!(matches!(
        vsva::<HwptAlloc>(user, None),
        Err(UapiError::ExtensionTruncated { need: 44, .. })
    ));
    let names: Vec<&str> = HwptAlloc::DECL.strict_rules().map(|r| r.name).collect();
    assert_eq!(names, ["zero-tail-page-cap", "extension-needs-size"]);
}

/// `IOMMU_IOAS_MAP` needs READABLE or WRITEABLE (EINVAL), after its flags and
/// `__reserved` (EOPNOTSUPP).
#[test]
fn ioas_map_needs_a_direction() {
    use vsva_uapi::iommufd::IoasMap;
    let mut m = IoasMap::new_zeroed();
    m.size = 40;
    m.length = 4096;
    assert_eq!(
        kernel::<IoasMap>(m.as_bytes(), Release::NEWEST),
        Some(Errno::EINVAL)
    );
    m.flags = 1; // FIXED_IOVA only
    assert!(matches!(
        vsva::<IoasMap>(m.as_bytes(), None),
        Err(UapiError::NoneOf { bits: 0b110, .. })
    ));
    for flags in [2, 4, 6, 7] {
        m.flags = flags;
        assert_eq!(
            kernel::<IoasMap>(m.as_bytes(), Release::NEWEST),
            None,
            "{flags}"
        );
    }
    m.flags = 0;
    m.__reserved = 1;
    assert_eq!(
        kernel::<IoasMap>(m.as_bytes(), Release::V6_2),
        Some(Errno::EOPNOTSUPP)
    );
    m.__reserved = 0;
    m.flags = 8;
    assert_eq!(
        kernel::<IoasMap>(m.as_bytes(), Release::V6_2),
        Some(Errno::EOPNOTSUPP)
    );
}

/// A kernel release string picks the rules: between two known points the older one's.
#[test]
fn a_release_between_known_points_gets_the_older_points_rules() {
    let mut a = HwptAlloc::new_zeroed();
    a.size = 48;
    a.flags = HwptAllocFlags::PASID.bits();
    for (text, want) in [
        ("6.12.0-1-amd64", Some(Errno::EOPNOTSUPP)),
        ("6.14", Some(Errno::EOPNOTSUPP)),
        ("6.15", None),
        ("6.16.3", None),
        ("7.3", None),
        ("8.1", None),
    ] {
        let r: Release = text.parse().unwrap();
        assert_eq!(kernel::<HwptAlloc>(a.as_bytes(), r), want, "{text}");
        assert_eq!(
            kernel::<HwptAlloc>(a.as_bytes(), r.rules()),
            want,
            "{text} as {}",
            r.rules()
        );
    }
}
