//! The legacy VFIO wrappers (container, group, device, type1 IOMMU) against the scripted
//! kernel: success, each errno, short and oversize replies, argsz growth and malformed
//! capability chains; and every `vsva_uapi::vfio_core` layout against vfio-bindings.

use std::sync::{Arc, Mutex};

use vfio_bindings::bindings::vfio as b;
use vsva_uapi::vfio_core::*;
use vsva_uapi::Errno;
use vsva_vfio::container::Container;
use vsva_vfio::device::{Device, MAX_INFO_ARGSZ};
use vsva_vfio::group::Group;
use vsva_vfio::iommu::dma_map_request;
use vsva_vfio::scripted::{Call, Reply, ScriptedKernel};
use vsva_vfio::sys::Kernel;
use vsva_vfio::{CapChainError, Error};

// ---------------------------------------------------------------------------------
// Layouts: every vsva declaration matches the bindgen output.

macro_rules! same_layout {
    ($ours:ty, $theirs:ty, [$($f:ident),*]) => {{
        assert_eq!(size_of::<$ours>(), size_of::<$theirs>(), stringify!($ours));
        $( assert_eq!(
            core::mem::offset_of!($ours, $f),
            core::mem::offset_of!($theirs, $f),
            concat!(stringify!($ours), ".", stringify!($f))
        ); )*
    }};
}

/// Cap records flatten `header`: its fields sit at `header`'s offset in the C struct.
macro_rules! same_cap_layout {
    ($ours:ty, $theirs:ty, [$($f:ident),*]) => {{
        assert_eq!(size_of::<$ours>(), size_of::<$theirs>(), stringify!($ours));
        let h = core::mem::offset_of!($theirs, header);
        assert_eq!(core::mem::offset_of!($ours, id), h + core::mem::offset_of!(b::vfio_info_cap_header, id));
        assert_eq!(core::mem::offset_of!($ours, version), h + core::mem::offset_of!(b::vfio_info_cap_header, version));
        assert_eq!(core::mem::offset_of!($ours, next), h + core::mem::offset_of!(b::vfio_info_cap_header, next));
        same_layout!($ours, $theirs, [$($f),*]);
    }};
}

#[test]
fn layouts_match_vfio_bindings() {
    same_layout!(VfioGroupStatus, b::vfio_group_status, [argsz, flags]);
    same_layout!(
        VfioDeviceInfo,
        b::vfio_device_info,
        [argsz, flags, num_regions, num_irqs, cap_offset, pad]
    );
    same_layout!(
        VfioRegionInfo,
        b::vfio_region_info,
        [argsz, flags, index, cap_offset, size, offset]
    );
    same_layout!(VfioIrqInfo, b::vfio_irq_info, [argsz, flags, index, count]);
    same_layout!(
        VfioIommuType1Info,
        b::vfio_iommu_type1_info,
        [argsz, flags, iova_pgsizes, cap_offset, pad]
    );
    same_layout!(
        VfioIommuType1DmaMap,
        b::vfio_iommu_type1_dma_map,
        [argsz, flags, vaddr, iova, size]
    );
    same_layout!(
        VfioIommuType1DmaUnmap,
        b::vfio_iommu_type1_dma_unmap,
        [argsz, flags, iova, size]
    );
    same_layout!(
        VfioInfoCapHeader,
        b::vfio_info_cap_header,
        [id, version, next]
    );
    same_layout!(VfioIovaRange, b::vfio_iova_range, [start, end]);
    same_cap_layout!(
        VfioIommuType1InfoCapIovaRange,
        b::vfio_iommu_type1_info_cap_iova_range,
        [nr_iovas, reserved]
    );
    same_cap_layout!(
        VfioIommuType1InfoCapMigration,
        b::vfio_iommu_type1_info_cap_migration,
        [flags, pgsize_bitmap, max_dirty_bitmap_size]
    );
    same_cap_layout!(
        VfioIommuType1InfoDmaAvail,
        b::vfio_iommu_type1_info_dma_avail,
        [avail]
    );
    assert_eq!(align_of::<VfioIommuType1InfoDmaAvail>(), 4);
    assert_eq!(
        align_of::<VfioIommuType1InfoDmaAvail>(),
        align_of::<b::vfio_iommu_type1_info_dma_avail>()
    );
    // The flag checks declared in uapi equal the bindings' flag sets.
    let map_flags =
        b::VFIO_DMA_MAP_FLAG_READ | b::VFIO_DMA_MAP_FLAG_WRITE | b::VFIO_DMA_MAP_FLAG_VADDR;
    assert_eq!(
        VfioIommuType1DmaMap::FIELDS[1].check,
        vsva_uapi::Check::Flags(u64::from(map_flags))
    );
    let unmap_flags = b::VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP
        | b::VFIO_DMA_UNMAP_FLAG_ALL
        | b::VFIO_DMA_UNMAP_FLAG_VADDR;
    assert_eq!(
        VfioIommuType1DmaUnmap::FIELDS[1].check,
        vsva_uapi::Check::Flags(u64::from(unmap_flags))
    );
    assert_eq!(b::VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, 1);
    assert_eq!(b::VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION, 2);
    assert_eq!(b::VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL, 3);
}

// ---------------------------------------------------------------------------------
// Helpers.

const DEV: &str = "vfio-device:0000:00:02.0";

fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_ne_bytes());
}
fn put64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_ne_bytes());
}
fn get32(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(b[at..at + 4].try_into().unwrap())
}
fn get64(b: &[u8], at: usize) -> u64 {
    u64::from_ne_bytes(b[at..at + 8].try_into().unwrap())
}
/// A cap header at `at`.
fn cap(b: &mut [u8], at: usize, id: u16, next: u32) {
    b[at..at + 2].copy_from_slice(&id.to_ne_bytes());
    b[at + 2..at + 4].copy_from_slice(&1u16.to_ne_bytes());
    put32(b, at + 4, next);
}

fn kernel() -> (ScriptedKernel, Arc<dyn Kernel>) {
    let k = ScriptedKernel::new();
    k.add_path("/dev/vfio/vfio").add_path("/dev/vfio/7");
    let dyn_k: Arc<dyn Kernel> = Arc::new(k.clone());
    (k, dyn_k)
}

fn container() -> (ScriptedKernel, Container) {
    let (k, kd) = kernel();
    (k, Container::open(kd).unwrap())
}

fn device() -> (ScriptedKernel, Device) {
    let (k, kd) = kernel();
    k.on(VFIO_GROUP_GET_DEVICE_FD, |_, _| {
        Ok(Reply::NewFd(DEV.into()))
    });
    let group = Group::open(kd, 7).unwrap();
    let dev = group.device("0000:00:02.0").unwrap();
    (k, dev)
}

/// Responds to a sized ioctl with `f` (or with the errno).
fn sized(
    k: &ScriptedKernel,
    request: u32,
    mut f: impl FnMut(&mut [u8]) -> Result<(), Errno> + Send + 'static,
) {
    k.on(request, move |_, call| match call {
        Call::Sized(arg) => f(arg).map(|()| Reply::Value(0)),
        _ => Err(Errno::EFAULT),
    });
}

fn fails_with(k: &ScriptedKernel, request: u32, errno: Errno) {
    k.on(request, move |_, _| Err(errno));
}

fn is_ioctl(e: &Error, op: &str, errno: Errno) -> bool {
    matches!(e, Error::Ioctl { op: o, errno: x } if *o == op && *x == errno)
}

fn is_bad_reply(e: &Error) -> bool {
    matches!(e, Error::BadReply { .. })
}

// ---------------------------------------------------------------------------------
// Container.

#[test]
fn container_open_reports_the_errno() {
    let k = ScriptedKernel::new();
    let e = Container::open(Arc::new(k.clone())).unwrap_err();
    assert!(matches!(&e, Error::Open { errno, .. } if *errno == Errno::ENOENT));
    k.fail_path("/dev/vfio/vfio", Errno::EACCES);
    let e = Container::open(Arc::new(k)).unwrap_err();
    assert_eq!(e.errno(), Errno::EACCES);
}

#[test]
fn api_version_success_errno_and_enotty() {
    let (k, c) = container();
    k.on(VFIO_GET_API_VERSION, |_, _| Ok(Reply::Value(0)));
    assert_eq!(c.api_version(), Ok(0));
    fails_with(&k, VFIO_GET_API_VERSION, Errno::EPERM);
    assert!(is_ioctl(
        &c.api_version().unwrap_err(),
        "VFIO_GET_API_VERSION",
        Errno::EPERM
    ));
    fails_with(&k, VFIO_GET_API_VERSION, Errno::ENOTTY);
    assert_eq!(
        c.api_version(),
        Err(Error::NotSupported {
            op: "VFIO_GET_API_VERSION"
        })
    );
}

#[test]
fn check_extension_passes_the_extension_and_reads_the_answer() {
    let (k, c) = container();
    k.on(VFIO_CHECK_EXTENSION, |_, call| match call {
        Call::Value(v) if v == u64::from(b::VFIO_TYPE1v2_IOMMU) => Ok(Reply::Value(1)),
        Call::Value(_) => Ok(Reply::Value(0)),
        _ => Err(Errno::EFAULT),
    });
    assert_eq!(c.check_extension(b::VFIO_TYPE1v2_IOMMU), Ok(true));
    assert_eq!(c.check_extension(b::VFIO_UPDATE_VADDR), Ok(false));
    let calls = k.calls();
    assert_eq!(calls[1].arg, u64::from(b::VFIO_UPDATE_VADDR).to_ne_bytes());
    fails_with(&k, VFIO_CHECK_EXTENSION, Errno::EINVAL);
    assert_eq!(c.check_extension(1).unwrap_err().errno(), Errno::EINVAL);
    fails_with(&k, VFIO_CHECK_EXTENSION, Errno::ENOTTY);
    assert!(matches!(
        c.check_extension(1),
        Err(Error::NotSupported { .. })
    ));
}

#[test]
fn set_iommu_success_and_each_errno() {
    let (k, c) = container();
    let seen = Arc::new(Mutex::new(0u64));
    let s = Arc::clone(&seen);
    k.on(VFIO_SET_IOMMU, move |_, call| match call {
        Call::Value(v) => {
            *s.lock().unwrap() = v;
            Ok(Reply::Value(0))
        }
        _ => Err(Errno::EFAULT),
    });
    assert_eq!(c.set_iommu(b::VFIO_TYPE1v2_IOMMU), Ok(()));
    assert_eq!(*seen.lock().unwrap(), 3);
    for errno in [Errno::EINVAL, Errno::EPERM, Errno::EBUSY] {
        fails_with(&k, VFIO_SET_IOMMU, errno);
        assert!(is_ioctl(
            &c.set_iommu(3).unwrap_err(),
            "VFIO_SET_IOMMU",
            errno
        ));
    }
    fails_with(&k, VFIO_SET_IOMMU, Errno::ENOTTY);
    assert_eq!(c.set_iommu(3).unwrap_err().errno(), Errno::ENOTTY);
    assert!(matches!(c.set_iommu(3), Err(Error::NotSupported { .. })));
}

// ---------------------------------------------------------------------------------
// Group.

#[test]
fn group_open_uses_the_group_number() {
    let (k, kd) = kernel();
    let g = Group::open(Arc::clone(&kd), 7).unwrap();
    assert_eq!(g.number(), 7);
    let e = Group::open(Arc::clone(&kd), 8).unwrap_err();
    assert!(matches!(&e, Error::Open { path, errno }
        if path.to_str() == Some("/dev/vfio/8") && *errno == Errno::ENOENT));
    k.fail_path("/dev/vfio/9", Errno::EBUSY);
    assert_eq!(Group::open(kd, 9).unwrap_err().errno(), Errno::EBUSY);
}

#[test]
fn group_status_reads_flags_and_rejects_short_replies() {
    let (k, kd) = kernel();
    let g = Group::open(kd, 7).unwrap();
    sized(&k, VFIO_GROUP_GET_STATUS, |arg| {
        assert_eq!(arg.len(), 8);
        put32(arg, 4, b::VFIO_GROUP_FLAGS_VIABLE);
        Ok(())
    });
    let s = g.status().unwrap();
    assert!(s.viable && !s.container_set);
    sized(&k, VFIO_GROUP_GET_STATUS, |arg| {
        put32(arg, 4, 3);
        Ok(())
    });
    let s = g.status().unwrap();
    assert!(s.viable && s.container_set);
    sized(&k, VFIO_GROUP_GET_STATUS, |arg| {
        put32(arg, 0, 4);
        Ok(())
    });
    assert!(is_bad_reply(&g.status().unwrap_err()));
    fails_with(&k, VFIO_GROUP_GET_STATUS, Errno::EINVAL);
    assert_eq!(g.status().unwrap_err().errno(), Errno::EINVAL);
    fails_with(&k, VFIO_GROUP_GET_STATUS, Errno::ENOTTY);
    assert!(matches!(g.status(), Err(Error::NotSupported { .. })));
}

#[test]
fn set_and_unset_container() {
    let (k, kd) = kernel();
    let c = Container::open(Arc::clone(&kd)).unwrap();
    let g = Group::open(kd, 7).unwrap();
    let raw = c.fd().raw();
    k.on(VFIO_GROUP_SET_CONTAINER, move |_, call| match call {
        Call::I32(fd) if *fd == raw => Ok(Reply::Value(0)),
        _ => Err(Errno::EBADF),
    });
    assert_eq!(g.set_container(&c), Ok(()));
    assert_eq!(k.calls().last().unwrap().arg, raw.to_ne_bytes());
    for errno in [Errno::EINVAL, Errno::EPERM, Errno::EBUSY] {
        fails_with(&k, VFIO_GROUP_SET_CONTAINER, errno);
        assert!(is_ioctl(
            &g.set_container(&c).unwrap_err(),
            "VFIO_GROUP_SET_CONTAINER",
            errno
        ));
    }
    fails_with(&k, VFIO_GROUP_SET_CONTAINER, Errno::ENOTTY);
    assert!(matches!(
        g.set_container(&c),
        Err(Error::NotSupported { .. })
    ));

    k.on(VFIO_GROUP_UNSET_CONTAINER, |_, _| Ok(Reply::Value(0)));
    assert_eq!(g.unset_container(), Ok(()));
    for errno in [Errno::EINVAL, Errno::EBUSY] {
        fails_with(&k, VFIO_GROUP_UNSET_CONTAINER, errno);
        assert_eq!(g.unset_container().unwrap_err().errno(), errno);
    }
    fails_with(&k, VFIO_GROUP_UNSET_CONTAINER, Errno::ENOTTY);
    assert!(matches!(
        g.unset_container(),
        Err(Error::NotSupported { .. })
    ));
}

#[test]
fn get_device_fd_wraps_the_new_fd_and_closes_it() {
    let (k, kd) = kernel();
    let g = Group::open(kd, 7).unwrap();
    k.on(VFIO_GROUP_GET_DEVICE_FD, |_, call| match call {
        Call::Cstr(n) if n.to_bytes() == b"0000:00:02.0" => Ok(Reply::NewFd(DEV.into())),
        _ => Err(Errno::ENODEV),
    });
    let d = g.device("0000:00:02.0").unwrap();
    assert_eq!(k.open_fds(), 2);
    assert_eq!(k.calls().last().unwrap().arg, b"0000:00:02.0");
    assert!(is_ioctl(
        &g.device("0000:00:03.0").unwrap_err(),
        "VFIO_GROUP_GET_DEVICE_FD",
        Errno::ENODEV
    ));
    let before = k.calls().len();
    assert_eq!(g.device("bad\0name").unwrap_err().errno(), Errno::EINVAL);
    assert_eq!(k.calls().len(), before, "a NUL in the name makes no call");
    for errno in [Errno::EPERM, Errno::EBUSY] {
        fails_with(&k, VFIO_GROUP_GET_DEVICE_FD, errno);
        assert_eq!(g.device("x").unwrap_err().errno(), errno);
    }
    fails_with(&k, VFIO_GROUP_GET_DEVICE_FD, Errno::ENOTTY);
    assert!(matches!(g.device("x"), Err(Error::NotSupported { .. })));
    let raw = d.fd().raw();
    drop(d);
    assert!(k.closed().contains(&raw));
    assert_eq!(k.open_fds(), 1);
}

// ---------------------------------------------------------------------------------
// Device info.

#[test]
fn device_info_without_caps() {
    let (k, d) = device();
    sized(&k, VFIO_DEVICE_GET_INFO, |arg| {
        assert_eq!(arg.len(), 24);
        put32(arg, 4, b::VFIO_DEVICE_FLAGS_PCI);
        put32(arg, 8, 9);
        put32(arg, 12, 5);
        Ok(())
    });
    let info = d.info().unwrap();
    assert_eq!((info.num_regions, info.num_irqs), (9, 5));
    assert!(info.is_pci() && !info.can_reset() && info.caps.is_empty());
}

#[test]
fn device_info_grows_argsz_for_its_chain() {
    let (k, d) = device();
    sized(&k, VFIO_DEVICE_GET_INFO, |arg| {
        put32(arg, 4, b::VFIO_DEVICE_FLAGS_PCI | b::VFIO_DEVICE_FLAGS_CAPS);
        put32(arg, 8, 9);
        if arg.len() < 40 {
            put32(arg, 0, 40);
        } else {
            put32(arg, 16, 24);
            cap(arg, 24, b::VFIO_DEVICE_INFO_CAP_PCI_ATOMIC_COMP as u16, 0);
            put32(arg, 32, b::VFIO_PCI_ATOMIC_COMP64);
        }
        Ok(())
    });
    let info = d.info().unwrap();
    assert_eq!(info.caps.len(), 1);
    assert_eq!(
        u32::from(info.caps[0].id),
        b::VFIO_DEVICE_INFO_CAP_PCI_ATOMIC_COMP
    );
    assert_eq!(get32(&info.caps[0].bytes, 8), b::VFIO_PCI_ATOMIC_COMP64);
    let calls = k.calls();
    let infos: Vec<_> = calls
        .iter()
        .filter(|c| c.request == VFIO_DEVICE_GET_INFO)
        .collect();
    assert_eq!(infos.len(), 2);
    assert_eq!((get32(&infos[0].arg, 0), infos[0].arg.len()), (24, 24));
    assert_eq!((get32(&infos[1].arg, 0), infos[1].arg.len()), (40, 40));
}

#[test]
fn device_info_errnos_and_bad_replies() {
    let (k, d) = device();
    for errno in [Errno::EINVAL, Errno::EFAULT] {
        fails_with(&k, VFIO_DEVICE_GET_INFO, errno);
        assert!(is_ioctl(
            &d.info().unwrap_err(),
            "VFIO_DEVICE_GET_INFO",
            errno
        ));
    }
    fails_with(&k, VFIO_DEVICE_GET_INFO, Errno::ENOTTY);
    assert!(matches!(d.info(), Err(Error::NotSupported { .. })));
    // argsz shrunk below the 16-byte first generation.
    sized(&k, VFIO_DEVICE_GET_INFO, |arg| {
        put32(arg, 0, 12);
        Ok(())
    });
    assert!(is_bad_reply(&d.info().unwrap_err()));
    // A malformed chain (overlapping the fixed struct).
    sized(&k, VFIO_DEVICE_GET_INFO, |arg| {
        put32(arg, 4, b::VFIO_DEVICE_FLAGS_CAPS);
        put32(arg, 16, 8);
        Ok(())
    });
    assert_eq!(
        d.info(),
        Err(Error::CapChain {
            op: "VFIO_DEVICE_GET_INFO",
            source: CapChainError::Overlap {
                offset: 8,
                limit: 24
            }
        })
    );
}

// ---------------------------------------------------------------------------------
// Region info.

/// e1000e's MSI-X BAR 3 (kernel tier): 32 bytes are not enough, argsz 40 carries an
/// MSIX_MAPPABLE cap.
fn msix_bar(arg: &mut [u8]) -> Result<(), Errno> {
    if get32(arg, 8) != 3 {
        return Err(Errno::EINVAL);
    }
    put32(
        arg,
        4,
        b::VFIO_REGION_INFO_FLAG_READ
            | b::VFIO_REGION_INFO_FLAG_WRITE
            | b::VFIO_REGION_INFO_FLAG_MMAP
            | b::VFIO_REGION_INFO_FLAG_CAPS,
    );
    put64(arg, 16, 0x4000);
    put64(arg, 24, 0x3_0000_0000);
    if arg.len() < 40 {
        put32(arg, 0, 40);
    } else {
        put32(arg, 12, 32);
        cap(arg, 32, b::VFIO_REGION_INFO_CAP_MSIX_MAPPABLE as u16, 0);
    }
    Ok(())
}

#[test]
fn region_info_by_index_with_argsz_growth() {
    let (k, d) = device();
    sized(&k, VFIO_DEVICE_GET_REGION_INFO, msix_bar);
    let r = d.region_info(3).unwrap();
    assert_eq!((r.index, r.size, r.offset), (3, 0x4000, 0x3_0000_0000));
    assert!(r.readable() && r.writable() && r.mmappable());
    assert!(r.cap(b::VFIO_REGION_INFO_CAP_MSIX_MAPPABLE).is_some());
    assert_eq!(r.caps[0].offset, 32);
    let calls: Vec<_> = k
        .calls()
        .into_iter()
        .filter(|c| c.request == VFIO_DEVICE_GET_REGION_INFO)
        .collect();
    assert_eq!(calls.len(), 2);
    assert_eq!((get32(&calls[0].arg, 0), get32(&calls[0].arg, 8)), (32, 3));
    assert_eq!((get32(&calls[1].arg, 0), get32(&calls[1].arg, 8)), (40, 3));
    assert_eq!(calls[1].arg.len(), 40);
    // Index 8 (VGA) is EINVAL: an error for that index, not a shifted table.
    assert!(is_ioctl(
        &d.region_info(8).unwrap_err(),
        "VFIO_DEVICE_GET_REGION_INFO",
        Errno::EINVAL
    ));
}

#[test]
fn region_info_errnos() {
    let (k, d) = device();
    for errno in [Errno::EINVAL, Errno::EPERM, Errno::EBUSY] {
        fails_with(&k, VFIO_DEVICE_GET_REGION_INFO, errno);
        assert_eq!(d.region_info(0).unwrap_err().errno(), errno);
    }
    fails_with(&k, VFIO_DEVICE_GET_REGION_INFO, Errno::ENOTTY);
    assert!(matches!(d.region_info(0), Err(Error::NotSupported { .. })));
}

#[test]
fn region_info_oversize_argsz_is_bounded() {
    let (k, d) = device();
    // A huge argsz with CAPS: refused, not allocated.
    let rounds = Arc::new(Mutex::new(0));
    let r2 = Arc::clone(&rounds);
    sized(&k, VFIO_DEVICE_GET_REGION_INFO, move |arg| {
        *r2.lock().unwrap() += 1;
        put32(arg, 0, u32::MAX);
        put32(arg, 4, b::VFIO_REGION_INFO_FLAG_CAPS);
        Ok(())
    });
    let e = d.region_info(0).unwrap_err();
    assert!(matches!(e, Error::BadReply { what, .. } if what.contains("64 KiB")));
    assert_eq!(*rounds.lock().unwrap(), 1);
    // Exactly the bound is still grown to.
    sized(&k, VFIO_DEVICE_GET_REGION_INFO, |arg| {
        put32(arg, 4, b::VFIO_REGION_INFO_FLAG_CAPS);
        if arg.len() < MAX_INFO_ARGSZ {
            put32(arg, 0, MAX_INFO_ARGSZ as u32);
        }
        Ok(())
    });
    assert!(d.region_info(0).unwrap().caps.is_empty());
    assert_eq!(k.calls().last().unwrap().arg.len(), MAX_INFO_ARGSZ);
    // A huge argsz without CAPS: ignored, the reply is bounded by our buffer.
    sized(&k, VFIO_DEVICE_GET_REGION_INFO, |arg| {
        put32(arg, 0, u32::MAX);
        put64(arg, 16, 0x100);
        Ok(())
    });
    assert_eq!(d.region_info(0).unwrap().size, 0x100);
}

#[test]
fn region_info_argsz_that_keeps_growing_stops_after_three_calls() {
    let (k, d) = device();
    sized(&k, VFIO_DEVICE_GET_REGION_INFO, |arg| {
        let n = arg.len() as u32 + 8;
        put32(arg, 0, n);
        put32(arg, 4, b::VFIO_REGION_INFO_FLAG_CAPS);
        Ok(())
    });
    let e = d.region_info(0).unwrap_err();
    assert!(matches!(e, Error::BadReply { what, .. } if what.contains("growing")));
    let sizes: Vec<_> = k
        .calls()
        .iter()
        .filter(|c| c.request == VFIO_DEVICE_GET_REGION_INFO)
        .map(|c| c.arg.len())
        .collect();
    assert_eq!(sizes, [32, 40, 48]);
}

#[test]
fn region_info_short_reply_and_changed_index() {
    let (k, d) = device();
    sized(&k, VFIO_DEVICE_GET_REGION_INFO, |arg| {
        put32(arg, 0, 16);
        Ok(())
    });
    assert!(is_bad_reply(&d.region_info(0).unwrap_err()));
    sized(&k, VFIO_DEVICE_GET_REGION_INFO, |arg| {
        put32(arg, 8, 5);
        Ok(())
    });
    let e = d.region_info(4).unwrap_err();
    assert!(matches!(e, Error::BadReply { what, .. } if what.contains("index")));
}

fn region_with_chain(k: &ScriptedKernel, len: usize, build: impl Fn(&mut [u8]) + Send + 'static) {
    sized(k, VFIO_DEVICE_GET_REGION_INFO, move |arg| {
        put32(
            arg,
            4,
            b::VFIO_REGION_INFO_FLAG_CAPS | b::VFIO_REGION_INFO_FLAG_READ,
        );
        put64(arg, 16, 0x1000);
        if arg.len() < len {
            put32(arg, 0, len as u32);
        } else {
            build(arg);
        }
        Ok(())
    });
}

#[test]
fn region_info_malformed_chains_are_typed_errors() {
    let (k, d) = device();
    let chain_err = |d: &Device| match d.region_info(0) {
        Err(Error::CapChain { op, source }) => {
            assert_eq!(op, "VFIO_DEVICE_GET_REGION_INFO");
            source
        }
        other => panic!("expected a chain error, got {other:?}"),
    };
    region_with_chain(&k, 48, |a| {
        put32(a, 12, 32);
        cap(a, 32, 3, 32);
    });
    assert_eq!(chain_err(&d), CapChainError::Loop { offset: 32 });
    region_with_chain(&k, 64, |a| {
        put32(a, 12, 32);
        cap(a, 32, 3, 36);
    });
    assert_eq!(
        chain_err(&d),
        CapChainError::Overlap {
            offset: 36,
            limit: 40
        }
    );
    region_with_chain(&k, 48, |a| {
        put32(a, 12, 32);
        cap(a, 32, 3, 0x100);
    });
    assert_eq!(
        chain_err(&d),
        CapChainError::OutOfBounds {
            offset: 32,
            need: 0x100,
            len: 48
        }
    );
    region_with_chain(&k, 48, |a| put32(a, 12, 33));
    assert_eq!(chain_err(&d), CapChainError::Misaligned { offset: 33 });
    region_with_chain(&k, 48, |a| put32(a, 12, 44));
    assert_eq!(
        chain_err(&d),
        CapChainError::OutOfBounds {
            offset: 44,
            need: 52,
            len: 48
        }
    );
    region_with_chain(&k, 64, |a| {
        put32(a, 12, 48);
        cap(a, 48, 3, 32);
        cap(a, 32, 2, 0);
    });
    assert_eq!(
        chain_err(&d),
        CapChainError::Backward {
            offset: 48,
            next: 32
        }
    );
}

#[test]
fn region_type_and_sparse_mmap_caps() {
    let (k, d) = device();
    region_with_chain(&k, 80, |a| {
        put32(a, 12, 32);
        cap(a, 32, b::VFIO_REGION_INFO_CAP_TYPE as u16, 48);
        put32(a, 40, b::VFIO_REGION_TYPE_PCI_VENDOR_TYPE | 0x8086);
        put32(a, 44, b::VFIO_REGION_SUBTYPE_INTEL_IGD_OPREGION);
        cap(a, 48, b::VFIO_REGION_INFO_CAP_SPARSE_MMAP as u16, 0);
        put32(a, 56, 1);
        put64(a, 64, 0x0);
        put64(a, 72, 0x800);
    });
    let r = d.region_info(0).unwrap();
    assert_eq!(
        r.region_type(),
        Ok(Some((b::VFIO_REGION_TYPE_PCI_VENDOR_TYPE | 0x8086, 1)))
    );
    assert_eq!(r.sparse_mmap_areas(), Ok(Some(vec![(0, 0x800)])));
    // nr_areas that lies about the cap's size is refused, not trusted.
    region_with_chain(&k, 80, |a| {
        put32(a, 12, 48);
        cap(a, 48, b::VFIO_REGION_INFO_CAP_SPARSE_MMAP as u16, 0);
        put32(a, 56, 0x1000_0000);
    });
    let r = d.region_info(0).unwrap();
    assert!(matches!(
        r.sparse_mmap_areas(),
        Err(CapChainError::OutOfBounds { offset: 48, .. })
    ));
    assert_eq!(r.region_type(), Ok(None));
}

// ---------------------------------------------------------------------------------
// IRQ info, reset.

#[test]
fn irq_info_success_errnos_and_short_reply() {
    let (k, d) = device();
    sized(&k, VFIO_DEVICE_GET_IRQ_INFO, |arg| {
        assert_eq!(arg.len(), 16);
        if get32(arg, 8) != 2 {
            return Err(Errno::EINVAL);
        }
        put32(arg, 4, b::VFIO_IRQ_INFO_EVENTFD);
        put32(arg, 12, 5);
        Ok(())
    });
    let irq = d.irq_info(2).unwrap();
    assert_eq!((irq.index, irq.flags, irq.count), (2, 1, 5));
    assert!(is_ioctl(
        &d.irq_info(9).unwrap_err(),
        "VFIO_DEVICE_GET_IRQ_INFO",
        Errno::EINVAL
    ));
    sized(&k, VFIO_DEVICE_GET_IRQ_INFO, |arg| {
        put32(arg, 0, 8);
        Ok(())
    });
    assert!(is_bad_reply(&d.irq_info(0).unwrap_err()));
    fails_with(&k, VFIO_DEVICE_GET_IRQ_INFO, Errno::EFAULT);
    assert_eq!(d.irq_info(0).unwrap_err().errno(), Errno::EFAULT);
    fails_with(&k, VFIO_DEVICE_GET_IRQ_INFO, Errno::ENOTTY);
    assert!(matches!(d.irq_info(0), Err(Error::NotSupported { .. })));
}

#[test]
fn reset_success_and_errnos() {
    let (k, d) = device();
    k.on(VFIO_DEVICE_RESET, |_, _| Ok(Reply::Value(0)));
    assert_eq!(d.reset(), Ok(()));
    for errno in [Errno::EINVAL, Errno::EBUSY, Errno::EPERM] {
        fails_with(&k, VFIO_DEVICE_RESET, errno);
        assert!(is_ioctl(
            &d.reset().unwrap_err(),
            "VFIO_DEVICE_RESET",
            errno
        ));
    }
    fails_with(&k, VFIO_DEVICE_RESET, Errno::ENOTTY);
    assert!(matches!(d.reset(), Err(Error::NotSupported { .. })));
}

// ---------------------------------------------------------------------------------
// Region read/write.

const CFG_OFFSET: u64 = 0x700_0000_0000;

/// The edu config region (index 7): 0x100 bytes at 0x70000000000, R|W.
fn config_region(k: &ScriptedKernel, offset: u64, flags: u32) {
    sized(k, VFIO_DEVICE_GET_REGION_INFO, move |arg| {
        if get32(arg, 8) != 7 {
            return Err(Errno::EINVAL);
        }
        put32(arg, 4, flags);
        put64(arg, 16, 0x100);
        put64(arg, 24, offset);
        Ok(())
    });
}

#[test]
fn region_read_at_the_region_offset() {
    let (k, d) = device();
    config_region(&k, CFG_OFFSET, 3);
    let at = Arc::new(Mutex::new(None));
    let a = Arc::clone(&at);
    k.on_read(DEV, move |buf, off| {
        *a.lock().unwrap() = off;
        buf.copy_from_slice(&[0x07, 0x01][..buf.len()]);
        Ok(buf.len())
    });
    let mut cmd = [0u8; 2];
    d.read(7, 4, &mut cmd).unwrap();
    assert_eq!(cmd, [0x07, 0x01]);
    assert_eq!(*at.lock().unwrap(), Some(CFG_OFFSET + 4));
    // The last bytes of the region are readable.
    d.read(7, 0xfe, &mut cmd).unwrap();
}

#[test]
fn region_read_bounds_overflow_and_short_reads() {
    let (k, d) = device();
    config_region(&k, CFG_OFFSET, 3);
    let reads = Arc::new(Mutex::new(0));
    let r = Arc::clone(&reads);
    k.on_read(DEV, move |buf, _| {
        *r.lock().unwrap() += 1;
        Ok(buf.len() / 2)
    });
    let mut buf = [0u8; 4];
    let op = "VFIO region read (pread)";
    assert!(is_ioctl(
        &d.read(7, 0xfd, &mut buf).unwrap_err(),
        op,
        Errno::EINVAL
    ));
    assert!(is_ioctl(
        &d.read(7, 0x100, &mut buf).unwrap_err(),
        op,
        Errno::EINVAL
    ));
    assert!(is_ioctl(
        &d.read(7, u64::MAX - 1, &mut buf).unwrap_err(),
        op,
        Errno::EOVERFLOW
    ));
    assert_eq!(*reads.lock().unwrap(), 0, "refused before any pread");
    assert!(is_bad_reply(&d.read(7, 0, &mut buf).unwrap_err()));
    assert_eq!(*reads.lock().unwrap(), 1);
    k.on_read(DEV, |_, _| Err(Errno::EIO));
    assert!(is_ioctl(
        &d.read(7, 0, &mut buf).unwrap_err(),
        op,
        Errno::EIO
    ));
    // No such region: the region-info errno.
    assert_eq!(d.read(8, 0, &mut buf).unwrap_err().errno(), Errno::EINVAL);
    // A region offset at the top of the address space overflows.
    config_region(&k, u64::MAX - 8, 3);
    assert!(is_ioctl(
        &d.read(7, 0x10, &mut buf).unwrap_err(),
        op,
        Errno::EOVERFLOW
    ));
    // A write-only region cannot be read.
    config_region(&k, CFG_OFFSET, b::VFIO_REGION_INFO_FLAG_WRITE);
    assert!(is_ioctl(
        &d.read(7, 0, &mut buf).unwrap_err(),
        op,
        Errno::EINVAL
    ));
}

#[test]
fn region_write_checks_bounds_and_counts() {
    let (k, d) = device();
    config_region(&k, CFG_OFFSET, 3);
    let written = Arc::new(Mutex::new(Vec::new()));
    let w = Arc::clone(&written);
    k.on_write(DEV, move |buf, off| {
        w.lock().unwrap().push((off, buf.to_vec()));
        Ok(buf.len())
    });
    d.write(7, 4, &[0x07, 0x01]).unwrap();
    assert_eq!(
        *written.lock().unwrap(),
        [(Some(CFG_OFFSET + 4), vec![0x07, 0x01])]
    );
    let op = "VFIO region write (pwrite)";
    assert!(is_ioctl(
        &d.write(7, 0xff, &[0, 0]).unwrap_err(),
        op,
        Errno::EINVAL
    ));
    assert!(is_ioctl(
        &d.write(7, u64::MAX, &[0]).unwrap_err(),
        op,
        Errno::EOVERFLOW
    ));
    assert_eq!(written.lock().unwrap().len(), 1);
    k.on_write(DEV, |buf, _| Ok(buf.len() - 1));
    assert!(is_bad_reply(&d.write(7, 0, &[1, 2]).unwrap_err()));
    k.on_write(DEV, |_, _| Err(Errno::EPERM));
    assert!(is_ioctl(
        &d.write(7, 0, &[1]).unwrap_err(),
        op,
        Errno::EPERM
    ));
    config_region(&k, CFG_OFFSET, b::VFIO_REGION_INFO_FLAG_READ);
    assert!(is_ioctl(
        &d.write(7, 0, &[1]).unwrap_err(),
        op,
        Errno::EINVAL
    ));
}

// ---------------------------------------------------------------------------------
// IOMMU.

/// The reply of the kernel tier (QEMU q35 + intel-iommu, Linux 6.12): argsz 24 → 120,
/// then MIGRATION @24, DMA_AVAIL @56, IOVA_RANGE @72 with two ranges.
fn real_iommu_info(arg: &mut [u8]) -> Result<(), Errno> {
    put32(arg, 4, b::VFIO_IOMMU_INFO_PGSIZES | b::VFIO_IOMMU_INFO_CAPS);
    put64(arg, 8, 0x4020_1000);
    if arg.len() < 120 {
        put32(arg, 0, 120);
        put32(arg, 16, 0);
        return Ok(());
    }
    put32(arg, 16, 24);
    cap(arg, 24, 2, 56);
    put64(arg, 40, 0x1000);
    put64(arg, 48, 268_435_456);
    cap(arg, 56, 3, 72);
    put32(arg, 64, 65535);
    cap(arg, 72, 1, 0);
    put32(arg, 80, 2);
    put64(arg, 88, 0);
    put64(arg, 96, 0xfedf_ffff);
    put64(arg, 104, 0xfef0_0000);
    put64(arg, 112, 0xffff_ffff_ffff);
    Ok(())
}

#[test]
fn iommu_info_negotiates_argsz_and_decodes_the_real_chain() {
    let (k, c) = container();
    sized(&k, VFIO_IOMMU_GET_INFO, real_iommu_info);
    let info = c.iommu_info().unwrap();
    assert_eq!(info.pgsizes(), Some(0x4020_1000));
    assert_eq!(
        info.caps.iova_ranges,
        [(0, 0xfedf_ffff), (0xfef0_0000, 0xffff_ffff_ffff)]
    );
    let m = info.caps.migration.unwrap();
    assert_eq!(
        (m.pgsize_bitmap, m.max_dirty_bitmap_size),
        (0x1000, 268_435_456)
    );
    assert_eq!(info.caps.dma_avail, Some(65535));
    assert!(info.caps.unknown.is_empty());
    let calls = k.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!((get32(&calls[0].arg, 0), calls[0].arg.len()), (24, 24));
    assert_eq!((get32(&calls[1].arg, 0), calls[1].arg.len()), (120, 120));
}

#[test]
fn iommu_info_pre_caps_kernel_and_unknown_caps() {
    let (k, c) = container();
    sized(&k, VFIO_IOMMU_GET_INFO, |arg| {
        put32(arg, 4, b::VFIO_IOMMU_INFO_PGSIZES);
        put64(arg, 8, 0x1000);
        Ok(())
    });
    let info = c.iommu_info().unwrap();
    assert_eq!(info.pgsizes(), Some(0x1000));
    assert_eq!(info.caps, Default::default());
    assert_eq!(k.calls().len(), 1);
    sized(&k, VFIO_IOMMU_GET_INFO, |arg| {
        put32(arg, 4, b::VFIO_IOMMU_INFO_CAPS);
        if arg.len() < 56 {
            put32(arg, 0, 56);
        } else {
            put32(arg, 16, 24);
            cap(arg, 24, 4, 40); // the 2020 series' CAP_NESTING: unknown to mainline
            cap(arg, 40, 3, 0);
            put32(arg, 48, 7);
        }
        Ok(())
    });
    let info = c.iommu_info().unwrap();
    assert_eq!(info.pgsizes(), None);
    assert_eq!(info.caps.unknown.len(), 1);
    assert_eq!(info.caps.unknown[0].id, 4);
    assert_eq!(info.caps.unknown[0].bytes.len(), 16);
    assert_eq!(info.caps.dma_avail, Some(7));
    // DMA_AVAIL at 40 is 8 bytes long: too short for its 12.
    sized(&k, VFIO_IOMMU_GET_INFO, |arg| {
        put32(arg, 4, b::VFIO_IOMMU_INFO_CAPS);
        if arg.len() < 48 {
            put32(arg, 0, 48);
        } else {
            put32(arg, 16, 40);
            cap(arg, 40, 3, 0);
        }
        Ok(())
    });
    assert!(matches!(
        c.iommu_info(),
        Err(Error::CapChain {
            source: CapChainError::OutOfBounds {
                offset: 40,
                need: 52,
                len: 48
            },
            ..
        })
    ));
}

#[test]
fn iommu_info_iova_range_count_past_the_cap_is_refused() {
    let (k, c) = container();
    sized(&k, VFIO_IOMMU_GET_INFO, |arg| {
        put32(arg, 4, b::VFIO_IOMMU_INFO_CAPS);
        if arg.len() < 56 {
            put32(arg, 0, 56);
        } else {
            put32(arg, 16, 24);
            cap(arg, 24, 1, 0);
            put32(arg, 32, 3); // 3 ranges need 16 + 48 bytes; 32 are there
        }
        Ok(())
    });
    assert_eq!(
        c.iommu_info(),
        Err(Error::CapChain {
            op: "VFIO_IOMMU_GET_INFO",
            source: CapChainError::OutOfBounds {
                offset: 24,
                need: 88,
                len: 56
            }
        })
    );
}

#[test]
fn iommu_info_errnos_short_and_oversize_replies() {
    let (k, c) = container();
    for errno in [Errno::EINVAL, Errno::EFAULT, Errno::EPERM] {
        fails_with(&k, VFIO_IOMMU_GET_INFO, errno);
        assert!(is_ioctl(
            &c.iommu_info().unwrap_err(),
            "VFIO_IOMMU_GET_INFO",
            errno
        ));
    }
    fails_with(&k, VFIO_IOMMU_GET_INFO, Errno::ENOTTY);
    assert!(matches!(c.iommu_info(), Err(Error::NotSupported { .. })));
    sized(&k, VFIO_IOMMU_GET_INFO, |arg| {
        put32(arg, 0, 8);
        Ok(())
    });
    assert!(is_bad_reply(&c.iommu_info().unwrap_err()));
    sized(&k, VFIO_IOMMU_GET_INFO, |arg| {
        put32(arg, 0, (MAX_INFO_ARGSZ + 8) as u32);
        put32(arg, 4, b::VFIO_IOMMU_INFO_CAPS);
        Ok(())
    });
    assert!(is_bad_reply(&c.iommu_info().unwrap_err()));
    // A loop in the chain.
    sized(&k, VFIO_IOMMU_GET_INFO, |arg| {
        put32(arg, 4, b::VFIO_IOMMU_INFO_CAPS);
        if arg.len() < 64 {
            put32(arg, 0, 64);
        } else {
            put32(arg, 16, 24);
            cap(arg, 24, 3, 40);
            cap(arg, 40, 9, 24);
        }
        Ok(())
    });
    assert_eq!(
        c.iommu_info().unwrap_err(),
        Error::CapChain {
            op: "VFIO_IOMMU_GET_INFO",
            source: CapChainError::Loop { offset: 24 }
        }
    );
}

#[test]
fn unmap_dma_returns_the_kernels_size() {
    let (k, c) = container();
    sized(&k, VFIO_IOMMU_UNMAP_DMA, |arg| {
        assert_eq!(arg.len(), 24);
        assert_eq!((get64(arg, 8), get64(arg, 16)), (0x10_0000, 0x4000));
        put64(arg, 16, 0x2000);
        Ok(())
    });
    assert_eq!(c.unmap_dma(0x10_0000, 0x4000), Ok(0x2000));
    sized(&k, VFIO_IOMMU_UNMAP_DMA, |arg| {
        put64(arg, 16, 0x8000);
        Ok(())
    });
    assert!(is_bad_reply(&c.unmap_dma(0x10_0000, 0x4000).unwrap_err()));
    for errno in [Errno::EINVAL, Errno::EPERM, Errno::EBUSY] {
        fails_with(&k, VFIO_IOMMU_UNMAP_DMA, errno);
        assert!(is_ioctl(
            &c.unmap_dma(0, 0x1000).unwrap_err(),
            "VFIO_IOMMU_UNMAP_DMA",
            errno
        ));
    }
    fails_with(&k, VFIO_IOMMU_UNMAP_DMA, Errno::ENOTTY);
    assert!(matches!(
        c.unmap_dma(0, 0x1000),
        Err(Error::NotSupported { .. })
    ));
}

#[test]
fn dma_map_request_is_the_32_byte_struct() {
    let r = dma_map_request(0x7f00_0000_0000, 0x10_0000, 0x2000, 3);
    assert_eq!(r.argsz, 32);
    assert_eq!(
        (r.vaddr, r.iova, r.size, r.flags),
        (0x7f00_0000_0000, 0x10_0000, 0x2000, 3)
    );
}

/// The CAPS flags the declarations carry (and that `get_info` negotiates with) are
/// vfio-bindings' values, and each ends at `offsetofend(cap_offset)`.
#[test]
fn declared_caps_flags_match_vfio_bindings() {
    use vsva_uapi::vfio_core::caps_extension;
    use vsva_uapi::UapiStruct;
    let cases = [
        (
            caps_extension(vsva_uapi::vfio_core::VfioDeviceInfo::DECL),
            b::VFIO_DEVICE_FLAGS_CAPS,
            std::mem::offset_of!(b::vfio_device_info, cap_offset),
        ),
        (
            caps_extension(vsva_uapi::vfio_core::VfioRegionInfo::DECL),
            b::VFIO_REGION_INFO_FLAG_CAPS,
            std::mem::offset_of!(b::vfio_region_info, cap_offset),
        ),
        (
            caps_extension(vsva_uapi::vfio_core::VfioIommuType1Info::DECL),
            b::VFIO_IOMMU_INFO_CAPS,
            std::mem::offset_of!(b::vfio_iommu_type1_info, cap_offset),
        ),
    ];
    for (ext, bit, cap_offset) in cases {
        let ext = ext.expect("declared");
        assert_eq!(ext.bit, u64::from(bit), "{}", ext.name);
        assert_eq!(ext.end, cap_offset + 4, "{}", ext.name);
    }
}

/// The flag bits and capability ids vsva-uapi declares (so that no binding crate is a
/// normal dependency of vsva) are vfio-bindings' values.
#[test]
fn declared_flags_and_cap_ids_match_vfio_bindings() {
    use vsva_uapi::vfio_core as u;
    let cases = [
        (
            "GROUP_FLAGS_VIABLE",
            u::VFIO_GROUP_FLAGS_VIABLE,
            b::VFIO_GROUP_FLAGS_VIABLE,
        ),
        (
            "GROUP_FLAGS_CONTAINER_SET",
            u::VFIO_GROUP_FLAGS_CONTAINER_SET,
            b::VFIO_GROUP_FLAGS_CONTAINER_SET,
        ),
        (
            "DEVICE_FLAGS_RESET",
            u::VFIO_DEVICE_FLAGS_RESET,
            b::VFIO_DEVICE_FLAGS_RESET,
        ),
        (
            "DEVICE_FLAGS_PCI",
            u::VFIO_DEVICE_FLAGS_PCI,
            b::VFIO_DEVICE_FLAGS_PCI,
        ),
        (
            "REGION_INFO_FLAG_READ",
            u::VFIO_REGION_INFO_FLAG_READ,
            b::VFIO_REGION_INFO_FLAG_READ,
        ),
        (
            "REGION_INFO_FLAG_WRITE",
            u::VFIO_REGION_INFO_FLAG_WRITE,
            b::VFIO_REGION_INFO_FLAG_WRITE,
        ),
        (
            "REGION_INFO_FLAG_MMAP",
            u::VFIO_REGION_INFO_FLAG_MMAP,
            b::VFIO_REGION_INFO_FLAG_MMAP,
        ),
        (
            "REGION_INFO_CAP_SPARSE_MMAP",
            u::VFIO_REGION_INFO_CAP_SPARSE_MMAP,
            b::VFIO_REGION_INFO_CAP_SPARSE_MMAP,
        ),
        (
            "REGION_INFO_CAP_TYPE",
            u::VFIO_REGION_INFO_CAP_TYPE,
            b::VFIO_REGION_INFO_CAP_TYPE,
        ),
        (
            "IOMMU_INFO_PGSIZES",
            u::VFIO_IOMMU_INFO_PGSIZES,
            b::VFIO_IOMMU_INFO_PGSIZES,
        ),
        (
            "IOMMU_TYPE1_INFO_CAP_IOVA_RANGE",
            u::VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE,
            b::VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE,
        ),
        (
            "IOMMU_TYPE1_INFO_CAP_MIGRATION",
            u::VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION,
            b::VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION,
        ),
        (
            "IOMMU_TYPE1_INFO_DMA_AVAIL",
            u::VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL,
            b::VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL,
        ),
    ];
    for (name, declared, bindings) in cases {
        assert_eq!(declared, bindings, "VFIO_{name}");
    }
}
