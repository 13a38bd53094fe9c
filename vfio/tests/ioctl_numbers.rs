//! Every ioctl number vsva uses, against rust-vmm's `vmm-sys-util` `ioctl_io_nr!` (the
//! macros rust-vmm's own VFIO and KVM crates are built on). VFIO and iommufd ioctls are
//! all `_IO(';', nr)`: the size travels in `argsz`, never in the number.

use vsva_uapi::consts as c;
use vsva_uapi::vfio_core as v;

/// The numbers as `ioctl_io_nr!` computes them (one generated `fn` each).
mod nr {
    #![allow(missing_docs)]
    use vmm_sys_util::ioctl_io_nr;

    const VFIO_TYPE: u32 = b';' as u32;
    const VFIO_BASE: u32 = 100;

    ioctl_io_nr!(GET_API_VERSION, VFIO_TYPE, VFIO_BASE);
    ioctl_io_nr!(CHECK_EXTENSION, VFIO_TYPE, VFIO_BASE + 1);
    ioctl_io_nr!(SET_IOMMU, VFIO_TYPE, VFIO_BASE + 2);
    ioctl_io_nr!(GROUP_GET_STATUS, VFIO_TYPE, VFIO_BASE + 3);
    ioctl_io_nr!(GROUP_SET_CONTAINER, VFIO_TYPE, VFIO_BASE + 4);
    ioctl_io_nr!(GROUP_UNSET_CONTAINER, VFIO_TYPE, VFIO_BASE + 5);
    ioctl_io_nr!(GROUP_GET_DEVICE_FD, VFIO_TYPE, VFIO_BASE + 6);
    ioctl_io_nr!(DEVICE_GET_INFO, VFIO_TYPE, VFIO_BASE + 7);
    ioctl_io_nr!(DEVICE_GET_REGION_INFO, VFIO_TYPE, VFIO_BASE + 8);
    ioctl_io_nr!(DEVICE_GET_IRQ_INFO, VFIO_TYPE, VFIO_BASE + 9);
    ioctl_io_nr!(DEVICE_RESET, VFIO_TYPE, VFIO_BASE + 11);
    ioctl_io_nr!(IOMMU_GET_INFO, VFIO_TYPE, VFIO_BASE + 12);
    ioctl_io_nr!(IOMMU_MAP_DMA, VFIO_TYPE, VFIO_BASE + 13);
    ioctl_io_nr!(IOMMU_UNMAP_DMA, VFIO_TYPE, VFIO_BASE + 14);
    ioctl_io_nr!(DEVICE_BIND_IOMMUFD, VFIO_TYPE, VFIO_BASE + 18);
    ioctl_io_nr!(DEVICE_ATTACH_IOMMUFD_PT, VFIO_TYPE, VFIO_BASE + 19);
    ioctl_io_nr!(DEVICE_DETACH_IOMMUFD_PT, VFIO_TYPE, VFIO_BASE + 20);
    ioctl_io_nr!(IOMMUFD_DESTROY, VFIO_TYPE, 0x80);
    ioctl_io_nr!(IOAS_ALLOC, VFIO_TYPE, 0x81);
    ioctl_io_nr!(IOAS_IOVA_RANGES, VFIO_TYPE, 0x84);
    ioctl_io_nr!(IOAS_MAP, VFIO_TYPE, 0x85);
    ioctl_io_nr!(IOAS_UNMAP, VFIO_TYPE, 0x86);
    ioctl_io_nr!(HWPT_ALLOC, VFIO_TYPE, 0x89);
    ioctl_io_nr!(GET_HW_INFO, VFIO_TYPE, 0x8a);
    ioctl_io_nr!(HWPT_INVALIDATE, VFIO_TYPE, 0x8d);
    ioctl_io_nr!(FAULT_QUEUE_ALLOC, VFIO_TYPE, 0x8e);
}

use nr::*;

fn n(f: fn() -> std::os::raw::c_ulong) -> u32 {
    u32::try_from(f()).expect("an _IO number fits 32 bits")
}

#[test]
fn vfio_legacy_ioctl_numbers() {
    assert_eq!(v::VFIO_GET_API_VERSION, n(GET_API_VERSION));
    assert_eq!(v::VFIO_CHECK_EXTENSION, n(CHECK_EXTENSION));
    assert_eq!(v::VFIO_SET_IOMMU, n(SET_IOMMU));
    assert_eq!(v::VFIO_GROUP_GET_STATUS, n(GROUP_GET_STATUS));
    assert_eq!(v::VFIO_GROUP_SET_CONTAINER, n(GROUP_SET_CONTAINER));
    assert_eq!(v::VFIO_GROUP_UNSET_CONTAINER, n(GROUP_UNSET_CONTAINER));
    assert_eq!(v::VFIO_GROUP_GET_DEVICE_FD, n(GROUP_GET_DEVICE_FD));
    assert_eq!(v::VFIO_DEVICE_GET_INFO, n(DEVICE_GET_INFO));
    assert_eq!(v::VFIO_DEVICE_GET_REGION_INFO, n(DEVICE_GET_REGION_INFO));
    assert_eq!(v::VFIO_DEVICE_GET_IRQ_INFO, n(DEVICE_GET_IRQ_INFO));
    assert_eq!(v::VFIO_DEVICE_RESET, n(DEVICE_RESET));
    assert_eq!(v::VFIO_IOMMU_GET_INFO, n(IOMMU_GET_INFO));
    assert_eq!(v::VFIO_IOMMU_MAP_DMA, n(IOMMU_MAP_DMA));
    assert_eq!(v::VFIO_IOMMU_UNMAP_DMA, n(IOMMU_UNMAP_DMA));
    // The well-known value rust-vmm's vfio-ioctls pins as well.
    assert_eq!(v::VFIO_GET_API_VERSION, 15204);
}

#[test]
fn vfio_cdev_and_iommufd_ioctl_numbers() {
    assert_eq!(c::VFIO_DEVICE_BIND_IOMMUFD, n(DEVICE_BIND_IOMMUFD));
    assert_eq!(
        c::VFIO_DEVICE_ATTACH_IOMMUFD_PT,
        n(DEVICE_ATTACH_IOMMUFD_PT)
    );
    assert_eq!(
        c::VFIO_DEVICE_DETACH_IOMMUFD_PT,
        n(DEVICE_DETACH_IOMMUFD_PT)
    );
    assert_eq!(c::IOMMU_DESTROY, n(IOMMUFD_DESTROY));
    assert_eq!(c::IOMMU_IOAS_ALLOC, n(IOAS_ALLOC));
    assert_eq!(c::IOMMU_IOAS_IOVA_RANGES, n(IOAS_IOVA_RANGES));
    assert_eq!(c::IOMMU_IOAS_MAP, n(IOAS_MAP));
    assert_eq!(c::IOMMU_IOAS_UNMAP, n(IOAS_UNMAP));
    assert_eq!(c::IOMMU_HWPT_ALLOC, n(HWPT_ALLOC));
    assert_eq!(c::IOMMU_GET_HW_INFO, n(GET_HW_INFO));
    assert_eq!(c::IOMMU_HWPT_INVALIDATE, n(HWPT_INVALIDATE));
    assert_eq!(c::IOMMU_FAULT_QUEUE_ALLOC, n(FAULT_QUEUE_ALLOC));
    // The 2020 nesting series' numbers sit on the same VFIO_BASE + n scheme.
    assert_eq!(c::VFIO_IOMMU_PASID_REQUEST, n(DEVICE_BIND_IOMMUFD));
    assert_eq!(c::VFIO_IOMMU_NESTING_OP, n(DEVICE_ATTACH_IOMMUFD_PT));
}
