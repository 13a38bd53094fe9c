//! `GuestMemoryDma`: vm-memory guest memory mapped for DMA into an IOAS or a type1
//! container on the scripted kernel — IOVA = GPA, the region's own host range, unmapped
//! on drop, nothing half mapped, and a region the kernel would not unmap kept forever.

use std::sync::{Arc, Weak};

use vm_memory::{GuestAddress, GuestMemoryBackend, GuestMemoryMmap, MmapRegion};
use vsva_uapi::vfio_core::{VFIO_IOMMU_MAP_DMA, VFIO_IOMMU_UNMAP_DMA};
use vsva_uapi::Errno;
use vsva_vfio::container::Container;
use vsva_vfio::guest_memory::GuestMemoryDma;
use vsva_vfio::iommufd::{
    IoasId, Iommufd, IOAS_MAP_FIXED_IOVA, IOAS_MAP_READABLE, IOAS_MAP_WRITEABLE, IOMMU_IOAS_MAP,
    IOMMU_IOAS_UNMAP,
};
use vsva_vfio::scripted::{Call, Reply, ScriptedKernel};
use vsva_vfio::sys::Kernel;

const RW: u32 = IOAS_MAP_READABLE | IOAS_MAP_WRITEABLE;

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(b[at..at + 4].try_into().unwrap())
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_ne_bytes(b[at..at + 8].try_into().unwrap())
}

/// Two regions: 64 KiB at GPA 0, 8 KiB at GPA 1 MiB.
fn ram() -> GuestMemoryMmap {
    GuestMemoryMmap::from_ranges(&[
        (GuestAddress(0), 0x10000),
        (GuestAddress(0x10_0000), 0x2000),
    ])
    .unwrap()
}

/// `(host address, weak ref to the region's mmap)` of every region.
fn regions(mem: &GuestMemoryMmap) -> Vec<(u64, Weak<MmapRegion>)> {
    mem.iter()
        .map(|r| {
            let m = r.get_mmap();
            (m.as_ptr() as u64, Arc::downgrade(&m))
        })
        .collect()
}

fn iommufd_kernel() -> (ScriptedKernel, Iommufd) {
    let k = ScriptedKernel::new();
    k.add_path("/dev/iommu");
    k.on(IOMMU_IOAS_MAP, |_, _| Ok(Reply::Value(0)));
    k.on(IOMMU_IOAS_UNMAP, |_, _| Ok(Reply::Value(0))); // the reply keeps the length asked
    let fd = Iommufd::open(Arc::new(k.clone()) as Arc<dyn Kernel>).unwrap();
    (k, fd)
}

#[test]
fn every_region_is_mapped_at_its_gpa_and_kept_until_unmapped() {
    let (k, fd) = iommufd_kernel();
    let mem = ram();
    let regions = regions(&mem);
    let dma = GuestMemoryDma::map_ioas(&fd, IoasId(5), &mem, RW).unwrap();
    assert_eq!(
        dma.ranges().collect::<Vec<_>>(),
        [(0, 0x10000), (0x10_0000, 0x2000)]
    );
    let maps: Vec<_> = k
        .calls()
        .into_iter()
        .filter(|c| c.request == IOMMU_IOAS_MAP)
        .collect();
    assert_eq!(maps.len(), 2);
    for (call, (gpa, len, (host, _))) in maps.iter().zip(
        [(0u64, 0x10000u64), (0x10_0000, 0x2000)]
            .iter()
            .zip(&regions)
            .map(|((g, l), r)| (g, l, r)),
    ) {
        let a = &call.arg;
        assert_eq!(u32_at(a, 4), RW | IOAS_MAP_FIXED_IOVA);
        assert_eq!(u32_at(a, 8), 5);
        assert_eq!(u64_at(a, 16), *host, "user_va is the region's own mmap");
        assert_eq!(u64_at(a, 24), *len);
        assert_eq!(u64_at(a, 32), *gpa, "IOVA = GPA");
    }
    // The VMM drops its guest memory: the mapping keeps the regions mapped.
    drop(mem);
    assert!(regions.iter().all(|(_, w)| w.upgrade().is_some()));
    drop(dma);
    let unmaps: Vec<_> = k
        .calls()
        .into_iter()
        .filter(|c| c.request == IOMMU_IOAS_UNMAP)
        .map(|c| (u32_at(&c.arg, 4), u64_at(&c.arg, 8), u64_at(&c.arg, 16)))
        .collect();
    assert_eq!(unmaps, [(5, 0x10_0000, 0x2000), (5, 0, 0x10000)]);
    // Unmapped, then released: the regions are gone.
    assert!(regions.iter().all(|(_, w)| w.upgrade().is_none()));
}

#[test]
fn a_failed_map_unmaps_what_was_mapped_and_returns_the_errno() {
    let (k, fd) = iommufd_kernel();
    k.on(IOMMU_IOAS_MAP, |_, call| match call {
        Call::DmaMap(arg) if u64_at(arg, 32) == 0x10_0000 => Err(Errno::EEXIST),
        _ => Ok(Reply::Value(0)),
    });
    let mem = ram();
    let regions = regions(&mem);
    let err = GuestMemoryDma::map_ioas(&fd, IoasId(5), &mem, RW).unwrap_err();
    assert_eq!(err.errno(), Errno::EEXIST);
    let unmaps: Vec<_> = k
        .calls()
        .into_iter()
        .filter(|c| c.request == IOMMU_IOAS_UNMAP)
        .map(|c| (u64_at(&c.arg, 8), u64_at(&c.arg, 16)))
        .collect();
    assert_eq!(unmaps, [(0, 0x10000)]);
    drop(mem);
    assert!(
        regions.iter().all(|(_, w)| w.upgrade().is_none()),
        "nothing kept"
    );
}

#[test]
fn a_region_the_kernel_would_not_unmap_is_kept_forever() {
    let (k, fd) = iommufd_kernel();
    // GPA 0 unmaps with an error, GPA 1 MiB reports fewer bytes unmapped.
    k.on(IOMMU_IOAS_UNMAP, |_, call| match call {
        Call::Sized(arg) if u64_at(arg, 8) == 0 => Err(Errno::EBUSY),
        Call::Sized(arg) => {
            arg[16..24].copy_from_slice(&0x1000u64.to_ne_bytes());
            Ok(Reply::Value(0))
        }
        _ => Err(Errno::EINVAL),
    });
    let mem = ram();
    let regions = regions(&mem);
    let dma = GuestMemoryDma::map_ioas(&fd, IoasId(5), &mem, RW).unwrap();
    drop(mem);
    let err = dma.unmap().unwrap_err();
    // The first error in unmap order (GPA 1 MiB first): the short unmap.
    assert!(err.to_string().contains("IOMMU_IOAS_UNMAP"), "{err}");
    assert_eq!(
        k.calls()
            .iter()
            .filter(|c| c.request == IOMMU_IOAS_UNMAP)
            .count(),
        2
    );
    // The device may still reach both: neither region is ever released.
    assert!(regions.iter().all(|(_, w)| w.upgrade().is_some()));
}

#[test]
fn a_shared_iommufd_mapping_is_static_and_unmaps_on_drop() {
    let (k, fd) = iommufd_kernel();
    let fd = Arc::new(fd);
    let mem = ram();
    let dma: GuestMemoryDma<'static> =
        GuestMemoryDma::map_ioas_shared(Arc::clone(&fd), IoasId(1), &mem, RW).unwrap();
    drop(fd); // the mapping holds the iommufd
    drop(dma);
    assert_eq!(
        k.calls()
            .iter()
            .filter(|c| c.request == IOMMU_IOAS_UNMAP)
            .count(),
        2
    );
    assert_eq!(k.open_fds(), 0);
}

#[test]
fn a_type1_container_mapping_is_the_same_ranges() {
    let k = ScriptedKernel::new();
    k.add_path("/dev/vfio/vfio");
    k.on(VFIO_IOMMU_MAP_DMA, |_, _| Ok(Reply::Value(0)));
    k.on(VFIO_IOMMU_UNMAP_DMA, |_, _| Ok(Reply::Value(0)));
    let c = Container::open(Arc::new(k.clone())).unwrap();
    let mem = ram();
    let regions = regions(&mem);
    let dma = GuestMemoryDma::map_container(&c, &mem, 3).unwrap();
    let maps: Vec<_> = k
        .calls()
        .into_iter()
        .filter(|c| c.request == VFIO_IOMMU_MAP_DMA)
        .map(|c| {
            (
                u32_at(&c.arg, 4),
                u64_at(&c.arg, 8),
                u64_at(&c.arg, 16),
                u64_at(&c.arg, 24),
            )
        })
        .collect();
    assert_eq!(
        maps,
        [
            (3, regions[0].0, 0, 0x10000),
            (3, regions[1].0, 0x10_0000, 0x2000)
        ]
    );
    drop(mem);
    assert!(regions.iter().all(|(_, w)| w.upgrade().is_some()));
    dma.unmap().unwrap();
    let unmaps: Vec<_> = k
        .calls()
        .into_iter()
        .filter(|c| c.request == VFIO_IOMMU_UNMAP_DMA)
        .map(|c| (u64_at(&c.arg, 8), u64_at(&c.arg, 16)))
        .collect();
    assert_eq!(unmaps, [(0x10_0000, 0x2000), (0, 0x10000)]);
    assert!(regions.iter().all(|(_, w)| w.upgrade().is_none()));
}
