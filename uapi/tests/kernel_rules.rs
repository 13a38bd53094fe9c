//! Kernel rules that an earlier version of the crate got wrong (found by this suite against
//! the reference, `reference/uapi.md`). Each test asserts the kernel's behaviour and names
//! the section, so the fix cannot regress.

mod common;

use common::errno_of;
use vsva_uapi::consts::VtdGpasidFlags;
use vsva_uapi::{
    Errno, GpasidBindData, GpasidBindDataVtd, HwptAlloc, HwptInvalidate, HwptPageResponse,
    HwptVtdS1Invalidate, Policy, UapiStruct, Vendor, VfioDeviceAttachIommufdPt,
};
use zerocopy::{FromZeros, IntoBytes};

/// §5.5 `vfio_df_ioctl_attach_pt`: step 2 (`flags & ~VFIO_DEVICE_ATTACH_PASID` → EINVAL)
/// comes before step 4 (copy `[minsz, xend)` → EFAULT). An unknown flag next to the PASID
/// flag, with argsz 16 but only the 12-byte base readable, is EINVAL.
///
/// (Was: the codec copied the extension bytes before checking flags, so EFAULT.)
#[test]
fn attach_unknown_flag_is_einval_before_the_pasid_copy() {
    let x = VfioDeviceAttachIommufdPt {
        argsz: 16,
        flags: 0b11,
        pt_id: 1,
        pasid: 5,
    };
    let r = VfioDeviceAttachIommufdPt::from_user(&x.as_bytes()[..12], Policy::FlagsXend);
    assert_eq!(errno_of(&r), Some(Errno::EINVAL), "{r:?}");
}

/// §5.4 fault.c: "Any other response code gives -EINVAL". Declared `Check::Valid`:
/// EINVAL even under zero-tail (was EOPNOTSUPP).
#[test]
fn hwpt_page_response_unknown_code_is_einval() {
    for code in [2u32, 3, u32::MAX] {
        let r = HwptPageResponse { cookie: 1, code };
        let got = HwptPageResponse::from_user(r.as_bytes(), HwptPageResponse::DECL.default_policy);
        assert_eq!(errno_of(&got), Some(Errno::EINVAL), "code {code}: {got:?}");
    }
}

/// §5.2: "`iommufd_hwpt_alloc` returns -EINVAL when data_type is NONE but data_len≠0, or
/// when data_type is not NONE but data_len is 0." Declared as two
/// `Rule::Requires`.
#[test]
fn hwpt_alloc_data_type_and_data_len_must_agree() {
    let mut a = HwptAlloc::new_zeroed();
    a.size = 48;
    let e = |x: &HwptAlloc| errno_of(&HwptAlloc::from_user(x.as_bytes(), Policy::ZeroTail));
    assert_eq!(e(&a), None);
    let x = HwptAlloc {
        data_type: 0,
        data_len: 24,
        data_uptr: 0x1000,
        ..a
    };
    assert_eq!(e(&x), Some(Errno::EINVAL), "NONE with data_len 24");
    let x = HwptAlloc {
        data_type: 1,
        data_len: 0,
        ..a
    };
    assert_eq!(e(&x), Some(Errno::EINVAL), "VTD_S1 with data_len 0");
}

/// §5.3 core checks: "`entry_num != 0` together with (data_uptr==0 or entry_len==0)
/// gives EINVAL"; `entry_num == 0` is a probe and is allowed.
#[test]
fn hwpt_invalidate_entries_need_a_pointer_and_a_length() {
    let ok = HwptInvalidate {
        size: 32,
        hwpt_id: 2,
        data_uptr: 0x1000,
        data_type: 0,
        entry_len: 24,
        entry_num: 1,
        __reserved: 0,
    };
    let e =
        |x: &HwptInvalidate| errno_of(&HwptInvalidate::from_user(x.as_bytes(), Policy::ZeroTail));
    assert_eq!(e(&ok), None);
    let probe = HwptInvalidate {
        data_uptr: 0,
        entry_len: 0,
        entry_num: 0,
        ..ok
    };
    assert_eq!(e(&probe), None, "entry_num 0 probes the data type");
    assert_eq!(
        e(&HwptInvalidate { data_uptr: 0, ..ok }),
        Some(Errno::EINVAL),
        "entry_num 1, data_uptr 0"
    );
    assert_eq!(
        e(&HwptInvalidate { entry_len: 0, ..ok }),
        Some(Errno::EINVAL),
        "entry_num 1, entry_len 0"
    );
}

/// `iommufd_hwpt_invalidate` leaves the array's data type to the driver (which answers
/// EINVAL for a type it does not take, after the object lookup): the handler's own checks
/// accept any type. (Was: `Check::Valid`, EINVAL at decode.)
#[test]
fn hwpt_invalidate_data_type_is_the_drivers() {
    let x = HwptInvalidate {
        size: 32,
        hwpt_id: 2,
        data_uptr: 0x1000,
        data_type: 2,
        entry_len: 24,
        entry_num: 1,
        __reserved: 0,
    };
    let r = HwptInvalidate::from_user(x.as_bytes(), Policy::ZeroTail);
    assert_eq!(errno_of(&r), None, "{r:?}");
}

/// §5.3 VT-d nested.c: "unaligned addr, or npages==U64_MAX with addr≠0 → EINVAL".
/// Declared as `Check::Aligned(4096)` and a `Rule::ForbidBits` on addr when npages is all-ones.
#[test]
fn vtd_s1_invalidate_address_rules() {
    let ok = HwptVtdS1Invalidate {
        addr: 0x20_0000,
        npages: 4,
        flags: 0,
        __reserved: 0,
    };
    let e = |x: &HwptVtdS1Invalidate| {
        errno_of(&HwptVtdS1Invalidate::from_user(
            x.as_bytes(),
            Policy::ZeroTail,
        ))
    };
    assert_eq!(e(&ok), None);
    let all = HwptVtdS1Invalidate {
        addr: 0,
        npages: u64::MAX,
        ..ok
    };
    assert_eq!(e(&all), None, "addr 0 with npages U64_MAX: everything");
    for addr in [0x20_0001u64, 0x20_0800, 0xfff] {
        let x = HwptVtdS1Invalidate { addr, ..ok };
        assert_eq!(
            e(&x),
            Some(Errno::EINVAL),
            "addr {addr:#x} not 4 KiB aligned"
        );
    }
    let x = HwptVtdS1Invalidate {
        addr: 0x1000,
        npages: u64::MAX,
        ..ok
    };
    assert_eq!(e(&x), Some(Errno::EINVAL), "npages U64_MAX with addr != 0");
}

/// §2.3 (VT-d, setting up the PASID entry): "Any MTS_MASK flag gives -EINVAL ('no memory
/// type support')" — unconditionally (PCD, PWT, EMTE, CD = 0x3C). The VT-d vendor flags
/// mask is SRE | EAFE | WPE.
#[test]
fn vtd_bind_memory_type_flags_are_einval() {
    let mut b = GpasidBindData::new_zeroed();
    b.argsz = 72;
    b.version = 1;
    b.hpasid = 5;
    for flag in [
        VtdGpasidFlags::PCD,
        VtdGpasidFlags::PWT,
        VtdGpasidFlags::EMTE,
        VtdGpasidFlags::CD,
    ] {
        b.set_vtd(GpasidBindDataVtd {
            flags: flag.bits(),
            pat: 0,
            emt: 0,
        });
        let r = GpasidBindData::decode(b.as_bytes(), Policy::Linux510, Some(Vendor::Vtd));
        assert_eq!(errno_of(&r), Some(Errno::EINVAL), "{flag:?}: {r:?}");
    }
}
