//! Every iommufd struct vsva declares, against the bindgen output of iommufd-bindings
//! (Linux v7.1 headers): the same size and, field by field, the same offsets. The
//! declaration is the source of vsva's layouts; the bindings are an independent check.

use std::mem::{offset_of, size_of};

use iommufd_bindings::iommufd as b;
use vsva_uapi::{Layout, UapiStruct};

/// Asserts `layout`'s size and the offsets of the named fields against the bindings.
fn check(layout: &Layout, size: usize, fields: &[(&str, usize)]) {
    assert_eq!(layout.size, size, "{}: size", layout.name);
    for (name, offset) in fields {
        let f = layout
            .fields
            .iter()
            .find(|f| f.name == *name)
            .unwrap_or_else(|| panic!("{}: no field {name}", layout.name));
        assert_eq!(f.offset, *offset, "{}.{name}: offset", layout.name);
    }
    // Every declared field was compared (nothing is declared that bindgen lacks).
    assert_eq!(
        fields.len(),
        layout.fields.len(),
        "{}: field count",
        layout.name
    );
}

macro_rules! fields {
    ($t:ty: $($f:ident $(as $name:literal)?),* $(,)?) => {
        &[$( (fields!(@name $f $($name)?), offset_of!($t, $f)) ),*]
    };
    (@name $f:ident $name:literal) => { $name };
    (@name $f:ident) => { stringify!($f) };
}

#[test]
fn iommufd_structs_match_iommufd_bindings() {
    use vsva_uapi::iommufd as v;
    check(
        v::Destroy::DECL,
        size_of::<b::iommu_destroy>(),
        fields!(b::iommu_destroy: size, id),
    );
    check(
        v::IoasAlloc::DECL,
        size_of::<b::iommu_ioas_alloc>(),
        fields!(b::iommu_ioas_alloc: size, flags, out_ioas_id),
    );
    check(
        v::IoasMap::DECL,
        size_of::<b::iommu_ioas_map>(),
        fields!(b::iommu_ioas_map: size, flags, ioas_id, __reserved, user_va, length, iova),
    );
    check(
        v::IoasUnmap::DECL,
        size_of::<b::iommu_ioas_unmap>(),
        fields!(b::iommu_ioas_unmap: size, ioas_id, iova, length),
    );
    check(
        v::IoasIovaRanges::DECL,
        size_of::<b::iommu_ioas_iova_ranges>(),
        fields!(b::iommu_ioas_iova_ranges: size, ioas_id, num_iovas, __reserved,
            allowed_iovas, out_iova_alignment),
    );
    check(
        v::IovaRange::DECL,
        size_of::<b::iommu_iova_range>(),
        fields!(b::iommu_iova_range: start, last),
    );
    check(
        v::HwInfo::DECL,
        size_of::<b::iommu_hw_info>(),
        fields!(b::iommu_hw_info: size, flags, dev_id, data_len, data_uptr,
            __bindgen_anon_1 as "data_type", out_max_pasid_log2, __reserved, out_capabilities),
    );
    check(
        v::HwInfoVtd::DECL,
        size_of::<b::iommu_hw_info_vtd>(),
        fields!(b::iommu_hw_info_vtd: flags, __reserved, cap_reg, ecap_reg),
    );
    check(
        v::HwInfoArmSmmuv3::DECL,
        size_of::<b::iommu_hw_info_arm_smmuv3>(),
        fields!(b::iommu_hw_info_arm_smmuv3: flags, __reserved, idr, iidr, aidr),
    );
    check(
        v::HwptAlloc::DECL,
        size_of::<b::iommu_hwpt_alloc>(),
        fields!(b::iommu_hwpt_alloc: size, flags, dev_id, pt_id, out_hwpt_id, __reserved,
            data_type, data_len, data_uptr, fault_id, __reserved2),
    );
    check(
        v::HwptVtdS1::DECL,
        size_of::<b::iommu_hwpt_vtd_s1>(),
        fields!(b::iommu_hwpt_vtd_s1: flags, pgtbl_addr, addr_width, __reserved),
    );
    check(
        v::HwptInvalidate::DECL,
        size_of::<b::iommu_hwpt_invalidate>(),
        fields!(b::iommu_hwpt_invalidate: size, hwpt_id, data_uptr, data_type, entry_len,
            entry_num, __reserved),
    );
    check(
        v::HwptVtdS1Invalidate::DECL,
        size_of::<b::iommu_hwpt_vtd_s1_invalidate>(),
        fields!(b::iommu_hwpt_vtd_s1_invalidate: addr, npages, flags, __reserved),
    );
    check(
        v::HwptPgfault::DECL,
        size_of::<b::iommu_hwpt_pgfault>(),
        fields!(b::iommu_hwpt_pgfault: flags, dev_id, pasid, grpid, perm, __reserved, addr,
            length, cookie),
    );
    check(
        v::HwptPageResponse::DECL,
        size_of::<b::iommu_hwpt_page_response>(),
        fields!(b::iommu_hwpt_page_response: cookie, code),
    );
    check(
        v::FaultAlloc::DECL,
        size_of::<b::iommu_fault_alloc>(),
        fields!(b::iommu_fault_alloc: size, flags, out_fault_id, out_fault_fd),
    );
}

#[test]
fn iommufd_ioctl_numbers_match_iommufd_bindings() {
    // The bindings give the command numbers (nr); ioctls are _IO(';', nr).
    let io = |nr: u32| (u32::from(b';') << 8) | nr;
    assert_eq!(
        vsva_uapi::consts::IOMMU_HWPT_ALLOC,
        io(b::IOMMUFD_CMD_HWPT_ALLOC)
    );
    assert_eq!(
        vsva_uapi::consts::IOMMU_GET_HW_INFO,
        io(b::IOMMUFD_CMD_GET_HW_INFO)
    );
    assert_eq!(
        vsva_uapi::consts::IOMMU_HWPT_INVALIDATE,
        io(b::IOMMUFD_CMD_HWPT_INVALIDATE)
    );
    assert_eq!(
        vsva_uapi::consts::IOMMU_FAULT_QUEUE_ALLOC,
        io(b::IOMMUFD_CMD_FAULT_QUEUE_ALLOC)
    );
    assert_eq!(
        vsva_vfio::iommufd::IOMMU_IOAS_MAP,
        io(b::IOMMUFD_CMD_IOAS_MAP)
    );
    assert_eq!(
        vsva_vfio::iommufd::IOMMU_IOAS_ALLOC,
        io(b::IOMMUFD_CMD_IOAS_ALLOC)
    );
}
