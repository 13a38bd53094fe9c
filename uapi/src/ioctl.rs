//! One declaration per ioctl: its number, kernel name, struct type, the pointer and length
//! fields of the user buffer it points at (by name), and the release it appeared in —
//! the kernel's iommufd `IOCTL_OP` table and kvm-ioctls' `ioctl_iow_nr!` as data.
//!
//! Everything else reads the declaration: `vsva-vfio`'s wrappers take the number, the
//! name for errors, the buffer size and the data pointer from it; the scripted kernel
//! and viommu's fake iommufd decode the struct it names; `vsva explain` accepts its name;
//! the fuzz targets, the C conformance and `docs/ioctls.md` reach every declared ioctl's
//! struct through [`ALL_IOCTLS`].
//!
//! ```
//! use vsva_uapi::ioctl::{self, DataLen, ALL_IOCTLS};
//! use vsva_uapi::Release;
//!
//! let alloc = ioctl::IOMMU_HWPT_ALLOC.info();
//! assert_eq!((alloc.name, alloc.number), ("IOMMU_HWPT_ALLOC", 0x3b89));
//! assert_eq!(alloc.layout.name, "iommu_hwpt_alloc");
//! assert_eq!(alloc.since, Release::V6_6);
//! let data = alloc.data.unwrap();
//! assert_eq!((data.ptr.name, data.ptr.offset), ("data_uptr", 32));
//! assert!(matches!(data.len, DataLen::Bytes(len) if len.name == "data_len" && len.offset == 28));
//! assert!(ALL_IOCTLS.iter().any(|i| i.name == "IOMMU_DESTROY"));
//! ```

use core::marker::PhantomData;

use crate::consts::{io, VFIO_BASE, VFIO_TYPE};
use crate::iommufd::{
    Destroy, FaultAlloc, HwInfo, HwQueueAlloc, HwptAlloc, HwptGetDirtyBitmap, HwptInvalidate,
    HwptSetDirtyTracking, IoasAlloc, IoasAllowIovas, IoasChangeProcess, IoasCopy, IoasIovaRanges,
    IoasMap, IoasMapFile, IoasUnmap, IommuOption, IovaRange, VdeviceAlloc, VeventqAlloc,
    VfioDeviceAttachIommufdPt, VfioDeviceBindIommufd, VfioDeviceDetachIommufdPt, VfioIoas,
    ViommuAlloc,
};
use crate::release::Release;
use crate::{FieldRef, Layout};

/// How the struct gives the length of the user buffer behind its pointer field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataLen {
    /// A `u32` byte count (`iommu_hw_info.data_len`, `iommu_hwpt_alloc.data_len`).
    Bytes(FieldRef),
    /// A `u32` element count, each element `elem` bytes
    /// (`iommu_ioas_iova_ranges.num_iovas` × `sizeof(struct iommu_iova_range)`).
    Count {
        /// The count field.
        count: FieldRef,
        /// Bytes per element.
        elem: usize,
    },
    /// `entry_len × entry_num`, two `u32` fields (`iommu_hwpt_invalidate`).
    Entries {
        /// The entry length field.
        len: FieldRef,
        /// The entry count field.
        num: FieldRef,
    },
}

/// The user buffer an ioctl's struct points at: a `__u64` pointer field and its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Data {
    /// The `__u64` user pointer field (`data_uptr`, `allowed_iovas`).
    pub ptr: FieldRef,
    /// Where the buffer's length comes from.
    pub len: DataLen,
}

/// The declaration of one ioctl. See the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IoctlInfo {
    /// The kernel's name (`IOMMU_HWPT_ALLOC`).
    pub name: &'static str,
    /// The request number (`_IO(';', 0x89)`).
    pub number: u32,
    /// The struct the argument points at.
    pub layout: &'static Layout,
    /// The one user buffer the struct points at, if any.
    pub data: Option<Data>,
    /// The release the ioctl appeared in.
    pub since: Release,
}

impl IoctlInfo {
    /// Compile-time consistency check; a violation fails the build: the struct starts
    /// with a size field, the pointer is a `__u64` and the length fields `__u32`s, all
    /// inside the struct.
    pub const fn validate(&self) {
        assert!(self.layout.sized, "an ioctl's struct starts with its size");
        if let Some(d) = self.data {
            assert!(d.ptr.size == 8, "the data pointer is a __u64");
            assert!(
                d.ptr.offset + 8 <= self.layout.size,
                "pointer inside the struct"
            );
            let (a, b) = match d.len {
                DataLen::Bytes(len) => (len, len),
                DataLen::Count { count, elem } => {
                    assert!(elem > 0, "element size");
                    (count, count)
                }
                DataLen::Entries { len, num } => (len, num),
            };
            assert!(a.size == 4 && b.size == 4, "length fields are __u32");
            assert!(
                a.offset + 4 <= self.layout.size && b.offset + 4 <= self.layout.size,
                "length fields inside the struct"
            );
        }
    }
}

/// A declared ioctl whose argument is a `T`: what the typed wrappers take.
#[derive(Debug)]
pub struct Ioctl<T> {
    info: IoctlInfo,
    _arg: PhantomData<fn() -> T>,
}

impl<T> Ioctl<T> {
    /// The declaration.
    pub const fn info(&self) -> &IoctlInfo {
        &self.info
    }

    /// The request number.
    pub const fn number(&self) -> u32 {
        self.info.number
    }

    /// The kernel's name.
    pub const fn name(&self) -> &'static str {
        self.info.name
    }
}

/// The declared ioctl called `name` (`IOMMU_HWPT_ALLOC`), if vsva declares it.
pub fn ioctl_named(name: &str) -> Option<&'static IoctlInfo> {
    ALL_IOCTLS.iter().copied().find(|i| i.name == name)
}

/// The declared ioctl with request number `number`, if any. iommufd and VFIO share the
/// type `';'`, and VFIO reuses numbers per fd type (`VFIO_BASE + 18` is the legacy
/// PASID request on a container and `VFIO_DEVICE_BIND_IOMMUFD` on a cdev): this looks in
/// the table below, which holds each number once.
pub fn ioctl_numbered(number: u32) -> Option<&'static IoctlInfo> {
    ALL_IOCTLS.iter().copied().find(|i| i.number == number)
}

/// Declares ioctls, one line each, and registers them in [`ALL_IOCTLS`]:
///
/// `NAME = number => Struct, since release;` or, for an ioctl whose struct points at a
/// user buffer, `NAME = number => Struct { ptr field, bytes field }` (also
/// `count field of Element`, `entries len_field x num_field`).
macro_rules! ioctls {
    (
        $(
            $(#[$meta:meta])*
            $name:ident = $number:expr => $ty:ident $({ ptr $ptr:ident, $($len:tt)* })?,
                since $since:expr;
        )*
    ) => {
        $(
            $(#[$meta])*
            pub const $name: Ioctl<$ty> = Ioctl {
                info: IoctlInfo {
                    name: stringify!($name),
                    number: $number,
                    layout: <$ty as $crate::UapiStruct>::DECL,
                    data: ioctls!(@data $ty $(ptr $ptr, $($len)*)?),
                    since: $since,
                },
                _arg: PhantomData,
            };
        )*

        /// Every declared ioctl, in declaration order.
        pub const ALL_IOCTLS: &[&IoctlInfo] = &[$( &$name.info, )*];

        const _: () = {
            $( $name.info.validate(); )*
        };
    };
    (@data $ty:ident) => { None };
    (@data $ty:ident ptr $ptr:ident, bytes $len:ident) => {
        Some(Data {
            ptr: FieldRef::named($ty::FIELDS, stringify!($ptr)),
            len: DataLen::Bytes(FieldRef::named($ty::FIELDS, stringify!($len))),
        })
    };
    (@data $ty:ident ptr $ptr:ident, count $count:ident of $elem:ty) => {
        Some(Data {
            ptr: FieldRef::named($ty::FIELDS, stringify!($ptr)),
            len: DataLen::Count {
                count: FieldRef::named($ty::FIELDS, stringify!($count)),
                elem: core::mem::size_of::<$elem>(),
            },
        })
    };
    (@data $ty:ident ptr $ptr:ident, entries $len:ident x $num:ident) => {
        Some(Data {
            ptr: FieldRef::named($ty::FIELDS, stringify!($ptr)),
            len: DataLen::Entries {
                len: FieldRef::named($ty::FIELDS, stringify!($len)),
                num: FieldRef::named($ty::FIELDS, stringify!($num)),
            },
        })
    };
}

/// iommufd's command number `nr` (`_IO(IOMMUFD_TYPE, nr)`).
const fn iommufd(nr: u8) -> u32 {
    io(VFIO_TYPE, nr)
}

/// A VFIO device (cdev) ioctl, `VFIO_BASE + n`.
const fn vfio(n: u8) -> u32 {
    io(VFIO_TYPE, VFIO_BASE + n)
}

ioctls! {
    /// Destroys any iommufd object.
    IOMMU_DESTROY = iommufd(0x80) => Destroy, since Release::V6_2;
    /// Allocates an I/O address space.
    IOMMU_IOAS_ALLOC = iommufd(0x81) => IoasAlloc, since Release::V6_2;
    /// The IOVA ranges an IOAS may map (into a user array of `iommu_iova_range`).
    IOMMU_IOAS_IOVA_RANGES = iommufd(0x84) => IoasIovaRanges {
        ptr allowed_iovas, count num_iovas of IovaRange
    }, since Release::V6_2;
    /// Maps user memory into an IOAS.
    IOMMU_IOAS_MAP = iommufd(0x85) => IoasMap, since Release::V6_2;
    /// Unmaps an IOVA range.
    IOMMU_IOAS_UNMAP = iommufd(0x86) => IoasUnmap, since Release::V6_2;
    /// Allocates a hardware page table (with driver data for a nested one).
    IOMMU_HWPT_ALLOC = iommufd(0x89) => HwptAlloc { ptr data_uptr, bytes data_len },
        since Release::V6_6;
    /// What the IOMMU behind a device supports (with its driver data).
    IOMMU_GET_HW_INFO = iommufd(0x8a) => HwInfo { ptr data_uptr, bytes data_len },
        since Release::V6_6;
    /// Starts or stops dirty tracking on a paging HWPT.
    IOMMU_HWPT_SET_DIRTY_TRACKING = iommufd(0x8b) => HwptSetDirtyTracking, since Release::V6_7;
    /// Reads (and clears, unless `NO_CLEAR`) a paging HWPT's dirty bits of an IOVA range.
    IOMMU_HWPT_GET_DIRTY_BITMAP = iommufd(0x8c) => HwptGetDirtyBitmap, since Release::V6_7;
    /// Invalidates a nested HWPT's caches (an array of driver entries).
    IOMMU_HWPT_INVALIDATE = iommufd(0x8d) => HwptInvalidate {
        ptr data_uptr, entries entry_len x entry_num
    }, since Release::V6_8;
    /// Allocates a fault queue and its fd.
    IOMMU_FAULT_QUEUE_ALLOC = iommufd(0x8e) => FaultAlloc, since Release::V6_11;
    /// Restricts the IOVAs an IOAS may use (a user array of `iommu_iova_range`).
    IOMMU_IOAS_ALLOW_IOVAS = iommufd(0x82) => IoasAllowIovas {
        ptr allowed_iovas, count num_iovas of IovaRange
    }, since Release::V6_2;
    /// Maps what one IOAS maps into another.
    IOMMU_IOAS_COPY = iommufd(0x83) => IoasCopy, since Release::V6_2;
    /// Gets or sets an iommufd option.
    IOMMU_OPTION = iommufd(0x87) => IommuOption, since Release::V6_2;
    /// The IOAS of the type1 compatibility layer.
    IOMMU_VFIO_IOAS = iommufd(0x88) => VfioIoas, since Release::V6_2;
    /// Maps a range of a file (memfd, dma-buf) into an IOAS.
    IOMMU_IOAS_MAP_FILE = iommufd(0x8f) => IoasMapFile, since Release::V6_13;
    /// Moves the pinned-page accounting to the calling process (after a fork/exec of the VMM).
    IOMMU_IOAS_CHANGE_PROCESS = iommufd(0x92) => IoasChangeProcess, since Release::V6_13;
    /// Allocates a vIOMMU over a nest-parent HWPT (with driver data since 6.17).
    IOMMU_VIOMMU_ALLOC = iommufd(0x90) => ViommuAlloc { ptr data_uptr, bytes data_len },
        since Release::V6_13;
    /// Gives a device its guest-visible id in a vIOMMU.
    IOMMU_VDEVICE_ALLOC = iommufd(0x91) => VdeviceAlloc, since Release::V6_13;
    /// Allocates a vIOMMU event queue and its fd.
    IOMMU_VEVENTQ_ALLOC = iommufd(0x93) => VeventqAlloc, since Release::V6_15;
    /// Allocates a guest-owned hardware queue of a vIOMMU.
    IOMMU_HW_QUEUE_ALLOC = iommufd(0x94) => HwQueueAlloc, since Release::V6_17;
    /// Binds a VFIO cdev device to an iommufd. (The VF token pointer, with
    /// `VFIO_DEVICE_BIND_FLAG_TOKEN`, is not a buffer vsva sends: no data declared.)
    VFIO_DEVICE_BIND_IOMMUFD = vfio(18) => VfioDeviceBindIommufd, since Release::V6_6;
    /// Attaches a VFIO cdev device (or one of its PASIDs) to a page table.
    VFIO_DEVICE_ATTACH_IOMMUFD_PT = vfio(19) => VfioDeviceAttachIommufdPt, since Release::V6_6;
    /// Detaches a VFIO cdev device (or one of its PASIDs).
    VFIO_DEVICE_DETACH_IOMMUFD_PT = vfio(20) => VfioDeviceDetachIommufdPt, since Release::V6_6;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ioctl_is_declared_once_with_a_registered_struct() {
        for (i, a) in ALL_IOCTLS.iter().enumerate() {
            assert!(
                crate::ALL_STRUCTS.iter().any(|l| l.name == a.layout.name),
                "{}",
                a.name
            );
            for b in &ALL_IOCTLS[i + 1..] {
                assert_ne!(a.name, b.name);
                assert_ne!(a.number, b.number, "{} and {}", a.name, b.name);
            }
            assert_eq!(ioctl_named(a.name), Some(*a));
            assert_eq!(ioctl_numbered(a.number), Some(*a));
        }
        assert_eq!(ioctl_named("IOMMU_NOPE"), None);
    }

    #[test]
    fn numbers_are_the_kernels() {
        // iommufd-7x.md §1.5: `_IO(';', nr)` = 0x3b00 | nr.
        assert_eq!(IOMMU_DESTROY.number(), 0x3b80);
        assert_eq!(IOMMU_HWPT_INVALIDATE.number(), 0x3b8d);
        assert_eq!(IOMMU_FAULT_QUEUE_ALLOC.number(), 0x3b8e);
        assert_eq!(IOMMU_HWPT_GET_DIRTY_BITMAP.number(), 0x3b8c);
        assert_eq!(IOMMU_VIOMMU_ALLOC.number(), 0x3b90);
        assert_eq!(IOMMU_VDEVICE_ALLOC.number(), 0x3b91);
        assert_eq!(IOMMU_VEVENTQ_ALLOC.number(), 0x3b93);
        assert_eq!(IOMMU_HW_QUEUE_ALLOC.number(), 0x3b94);
        // vfio.h: VFIO_BASE (100) + 18 / 19 / 20.
        assert_eq!(VFIO_DEVICE_BIND_IOMMUFD.number(), 0x3b76);
        assert_eq!(VFIO_DEVICE_DETACH_IOMMUFD_PT.number(), 0x3b78);
    }
}
