//! The legacy VFIO path on the real kernel: container, group, type1 IOMMU, device, and a
//! real DMA round trip through the emulated VT-d.

use std::sync::Arc;

use vsva_uapi::vfio_core::{VFIO_DEVICE_GET_REGION_INFO, VFIO_IOMMU_GET_INFO};
use vsva_uapi::Errno;
use vsva_vfio::container::Container;
use vsva_vfio::group::Group;
use vsva_vfio::iommu::MigrationCap;
use vsva_vfio::Error;

use crate::guest::{self, Edu, Legacy, PciDevice};
use crate::sys::{DmaBuffer, Type1Mapping, PAGE};

/// `VFIO_IOMMU_INFO_PGSIZES | VFIO_IOMMU_INFO_CAPS`.
const IOMMU_INFO_PGSIZES_CAPS: u32 = 0b11;
/// 4 KiB | 2 MiB | 1 GiB.
const PGSIZES: u64 = 0x4020_1000;
/// The usable IOVA ranges of this guest: everything below 48 bits but the MSI window.
const IOVA_RANGES: [(u64, u64); 2] = [(0, 0xfedf_ffff), (0xfef0_0000, 0xffff_ffff_ffff)];
/// The x86 MSI window, which no mapping may use.
const MSI_WINDOW: (u64, u64) = (0xfee0_0000, 0xfeef_ffff);
/// `vfio_iommu_type1.dma_entry_limit`'s default.
const DMA_ENTRY_LIMIT: u32 = 65535;

const VFIO_DEVICE_FLAGS_RESET: u32 = 1 << 0;
const VFIO_DEVICE_FLAGS_PCI: u32 = 1 << 1;
const REGION_RW: u32 = 0b011;
const REGION_RW_MMAP: u32 = 0b111;
const REGION_FLAG_CAPS: u32 = 1 << 3;
/// `VFIO_REGION_INFO_CAP_MSIX_MAPPABLE`.
const REGION_CAP_MSIX_MAPPABLE: u16 = 3;
/// `VFIO_IRQ_INFO_EVENTFD | MASKABLE | AUTOMASKED`.
const IRQ_INTX: u32 = 0b0111;
/// `VFIO_IRQ_INFO_EVENTFD | NORESIZE`.
const IRQ_EVENTFD_NORESIZE: u32 = 0b1001;
/// `VFIO_IRQ_INFO_EVENTFD`.
const IRQ_EVENTFD: u32 = 0b0001;

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(b[at..at + 4].try_into().unwrap())
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_ne_bytes(b[at..at + 8].try_into().unwrap())
}

#[test]
fn container_reports_api_version_0_and_the_type1_extensions() {
    guest::require_guest();
    let c = Container::open(guest::kernel()).expect("open /dev/vfio/vfio");
    assert_eq!(c.api_version().unwrap(), 0);
    // Before SET_IOMMU: what every type1 kernel of this config answers.
    let expected = [
        (guest::VFIO_TYPE1_IOMMU, true),
        (guest::VFIO_SPAPR_TCE_IOMMU, false),
        (guest::VFIO_TYPE1V2_IOMMU, true),
        (guest::VFIO_DMA_CC_IOMMU, false),
        (guest::VFIO_EEH, false),
        // Advertised up to 6.12 (removed in 6.13).
        (
            guest::VFIO_TYPE1_NESTING_IOMMU,
            guest::release().series() < (6, 13),
        ),
        (guest::VFIO_SPAPR_TCE_V2_IOMMU, false),
        (guest::VFIO_NOIOMMU_IOMMU, false),
        (guest::VFIO_UNMAP_ALL, true),
        // Needs an IOMMU set on the container.
        (guest::VFIO_UPDATE_VADDR, false),
    ];
    let got: Vec<(u32, bool)> = expected
        .iter()
        .map(|&(ext, _)| (ext, c.check_extension(ext).unwrap()))
        .collect();
    assert_eq!(got, expected);
    // No group attached: SET_IOMMU is refused.
    assert_eq!(
        c.set_iommu(guest::VFIO_TYPE1V2_IOMMU).unwrap_err(),
        Error::Ioctl {
            op: "VFIO_SET_IOMMU",
            errno: Errno::EINVAL
        }
    );
}

#[test]
fn groups_are_viable_exclusive_and_take_a_type1v2_container() {
    guest::require_guest();
    let k = guest::kernel();
    for dev in [guest::edu(), guest::nic()] {
        let group = Group::open(Arc::clone(&k), dev.group).unwrap();
        assert_eq!(group.number(), dev.group);
        let status = group.status().unwrap();
        assert!(status.viable && !status.container_set, "{status:?}");
        assert_eq!(status.flags, 1, "VFIO_GROUP_FLAGS_VIABLE only");
        // A group has one opener at a time.
        assert!(matches!(
            Group::open(Arc::clone(&k), dev.group),
            Err(Error::Open {
                errno: Errno::EBUSY,
                ..
            })
        ));
        // No device fd before the container has an IOMMU.
        assert!(group.device(&dev.bdf).is_err());

        let container = Container::open(Arc::clone(&k)).unwrap();
        group.set_container(&container).unwrap();
        assert!(group.status().unwrap().container_set);
        container.set_iommu(guest::VFIO_TYPE1V2_IOMMU).unwrap();
        // Once set, the IOMMU cannot be set again.
        assert!(container.set_iommu(guest::VFIO_TYPE1V2_IOMMU).is_err());
        // With an IOMMU, UPDATE_VADDR is answered by it (no emulated devices: supported).
        assert!(container.check_extension(guest::VFIO_UPDATE_VADDR).unwrap());
        let device = group.device(&dev.bdf).unwrap();
        // The group cannot leave the container while a device is open.
        assert_eq!(
            group.unset_container().unwrap_err().errno(),
            Errno::EBUSY,
            "{}",
            dev.bdf
        );
        drop(device);
        group.unset_container().unwrap();
        assert!(!group.status().unwrap().container_set);
        // Not in a container any more.
        assert_eq!(group.unset_container().unwrap_err().errno(), Errno::EINVAL);
    }
}

#[test]
fn iommu_info_grows_argsz_and_decodes_the_cap_chain() {
    guest::require_guest();
    let legacy = Legacy::open(&guest::edu());
    // The raw first call with sizeof(vfio_iommu_type1_info) = 24: success, a larger argsz,
    // and no chain (cap_offset 0) until the buffer holds it.
    let mut small = [0u8; 24];
    small[..4].copy_from_slice(&24u32.to_ne_bytes());
    let fd = legacy.container.fd();
    crate::sys::raw_sized(fd, VFIO_IOMMU_GET_INFO, &mut small)
        .expect("GET_INFO with argsz 24");
    // 120 since the capabilities are 8-byte aligned ("vfio: align capability structures",
    // 6.6); 6.1 packs them and asks for 116.
    let want_argsz = if guest::release().series() >= (6, 6) {
        120
    } else {
        116
    };
    assert_eq!(u32_at(&small, 0), want_argsz, "argsz the kernel asks for");
    assert_eq!(u32_at(&small, 4), IOMMU_INFO_PGSIZES_CAPS, "flags");
    assert_eq!(u64_at(&small, 8), PGSIZES, "iova_pgsizes");
    assert_eq!(u32_at(&small, 16), 0, "cap_offset: the chain did not fit");

    // vsva-vfio negotiates: asks again with 120 bytes and decodes the chain.
    let info = legacy.container.iommu_info().expect("iommu_info");
    assert_eq!(info.flags, IOMMU_INFO_PGSIZES_CAPS);
    assert_eq!(info.pgsizes(), Some(PGSIZES));
    assert_eq!(
        info.caps.migration,
        Some(MigrationCap {
            flags: 0,
            pgsize_bitmap: 0x1000,
            max_dirty_bitmap_size: 256 << 20,
        })
    );
    assert_eq!(info.caps.dma_avail, Some(DMA_ENTRY_LIMIT));
    assert_eq!(info.caps.iova_ranges, IOVA_RANGES);
    for &(start, end) in &info.caps.iova_ranges {
        assert!(start <= end);
        assert!(
            end < MSI_WINDOW.0 || start > MSI_WINDOW.1,
            "[{start:#x}, {end:#x}] overlaps the MSI window"
        );
    }
    assert!(info.caps.unknown.is_empty(), "{:?}", info.caps.unknown);
    legacy.close();
}

#[test]
fn edu_device_region_and_irq_info() {
    guest::require_guest();
    let legacy = Legacy::open(&guest::edu());
    let dev = legacy.device();
    let info = dev.info().unwrap();
    assert_eq!(info.flags, VFIO_DEVICE_FLAGS_PCI, "PCI, no reset");
    assert!(info.is_pci() && !info.can_reset());
    assert_eq!((info.num_regions, info.num_irqs), (9, 5));
    assert!(info.caps.is_empty());

    let bar0 = dev.region_info(0).unwrap();
    assert_eq!(
        (bar0.size, bar0.offset, bar0.flags),
        (0x10_0000, 0, REGION_RW_MMAP)
    );
    assert!(bar0.caps.is_empty());
    for index in 1..=6 {
        let r = dev.region_info(index).unwrap();
        assert_eq!(r.size, 0, "edu has only BAR0: region {index}");
        assert_eq!(r.offset, u64::from(index) << 40);
    }
    let config = dev.region_info(guest::CONFIG_REGION).unwrap();
    assert_eq!(
        (config.size, config.offset, config.flags),
        (0x100, 0x700_0000_0000, REGION_RW)
    );
    // No VGA region on edu.
    assert_eq!(dev.region_info(8).unwrap_err().errno(), Errno::EINVAL);
    assert_eq!(dev.region_info(9).unwrap_err().errno(), Errno::EINVAL);

    let irqs: Vec<(u32, u32)> = [0, 1, 2, 4]
        .into_iter()
        .map(|i| {
            let irq = dev.irq_info(i).unwrap();
            (irq.count, irq.flags)
        })
        .collect();
    assert_eq!(
        irqs,
        [
            (1, IRQ_INTX),             // INTx
            (1, IRQ_EVENTFD_NORESIZE), // MSI
            (0, IRQ_EVENTFD_NORESIZE), // MSI-X: none on edu
            (1, IRQ_EVENTFD_NORESIZE), // REQ
        ]
    );
    // ERR: up to 6.12 only on PCIe devices (edu is conventional PCI); 7.3 reports it for
    // every device. (The release in between that changed it is not pinned down here.)
    let release = guest::release();
    if release.series() <= (6, 12) {
        assert_eq!(dev.irq_info(3).unwrap_err().errno(), Errno::EINVAL);
    } else if release.series() >= (7, 3) {
        let err = dev.irq_info(3).expect("the ERR IRQ of a conventional PCI device on 7.3");
        assert_eq!((err.count, err.flags), (1, IRQ_EVENTFD_NORESIZE));
    }
    assert_eq!(dev.irq_info(5).unwrap_err().errno(), Errno::EINVAL);
    legacy.close();
}

#[test]
fn e1000e_msix_bar_region_cap_needs_the_larger_argsz() {
    guest::require_guest();
    let nic: PciDevice = guest::nic();
    let legacy = Legacy::open(&nic);
    let dev = legacy.device();
    let info = dev.info().unwrap();
    assert_eq!(info.flags, VFIO_DEVICE_FLAGS_RESET | VFIO_DEVICE_FLAGS_PCI);
    assert_eq!((info.num_regions, info.num_irqs), (9, 5));

    // The raw call with sizeof(vfio_region_info) = 32 for BAR3 (the MSI-X table's BAR):
    // success, argsz 40, the CAPS flag, and no chain yet.
    let mut small = [0u8; 32];
    small[..4].copy_from_slice(&32u32.to_ne_bytes());
    small[8..12].copy_from_slice(&3u32.to_ne_bytes());
    let fd = dev.fd();
    crate::sys::raw_sized(fd, VFIO_DEVICE_GET_REGION_INFO, &mut small)
        .expect("GET_REGION_INFO(3) with argsz 32");
    assert_eq!(u32_at(&small, 0), 40, "argsz the kernel asks for");
    assert_eq!(u32_at(&small, 4), REGION_RW_MMAP | REGION_FLAG_CAPS);
    assert_eq!(u32_at(&small, 8), 3, "index");
    assert_eq!(u32_at(&small, 12), 0, "cap_offset: the chain did not fit");
    assert_eq!(u64_at(&small, 16), 0x4000, "size");

    // vsva-vfio grows to 40 and walks the chain: one MSIX_MAPPABLE header, no body.
    let bar3 = dev.region_info(3).unwrap();
    assert_eq!(
        (bar3.size, bar3.flags),
        (0x4000, REGION_RW_MMAP | REGION_FLAG_CAPS)
    );
    assert_eq!(bar3.caps.len(), 1, "{:?}", bar3.caps);
    let cap = bar3
        .cap(u32::from(REGION_CAP_MSIX_MAPPABLE))
        .expect("MSIX_MAPPABLE");
    assert_eq!(
        (cap.id, cap.version, cap.offset),
        (REGION_CAP_MSIX_MAPPABLE, 1, 32)
    );
    assert_eq!(cap.bytes.len(), 8, "a bare header");

    let sizes: Vec<(u32, u64, u32)> = [0, 1, 2, 6, 7]
        .into_iter()
        .map(|i| {
            let r = dev.region_info(i).unwrap();
            (i, r.size, r.flags)
        })
        .collect();
    assert_eq!(
        sizes,
        [
            (0, 0x2_0000, REGION_RW_MMAP),
            (1, 0x2_0000, REGION_RW_MMAP),
            (2, 0x20, REGION_RW), // I/O BAR
            (6, 0, 0),            // no ROM: the harness sets romfile=
            (7, 0x1000, REGION_RW),
        ]
    );
    let msix = dev.irq_info(2).unwrap();
    // Resizable since dynamic MSI-X allocation (6.5); NORESIZE on 6.1.
    let msix_flags = if guest::release().series() >= (6, 5) {
        IRQ_EVENTFD
    } else {
        IRQ_EVENTFD_NORESIZE
    };
    assert_eq!((msix.count, msix.flags), (5, msix_flags));
    let err = dev.irq_info(3).unwrap();
    assert_eq!((err.count, err.flags), (1, IRQ_EVENTFD_NORESIZE));
    legacy.close();
}

#[test]
fn edu_dma_round_trip_through_type1() {
    guest::require_guest();
    let legacy = Legacy::open(&guest::edu());
    let edu = Edu::new(legacy.device());
    assert_eq!(edu.ident(), guest::EDU_IDENT);
    for v in [0u32, 0x1234_5678, u32::MAX] {
        assert_eq!(edu.liveness(v), !v, "edu inverts the liveness register");
    }
    let (before, after) = edu.enable_bus_master();
    assert_eq!(
        before & guest::PCI_COMMAND_MASTER,
        0,
        "vfio-pci leaves it off"
    );
    assert_eq!(after, before | guest::PCI_COMMAND_MASTER);

    let iova = 0x10_0000;
    let map = Type1Mapping::map(&legacy.container, DmaBuffer::new(2 * PAGE), iova)
        .expect("VFIO_IOMMU_MAP_DMA");
    assert_eq!(map.iova(), iova);
    let info = legacy.container.iommu_info().unwrap();
    assert_eq!(
        info.caps.dma_avail,
        Some(DMA_ENTRY_LIMIT - 1),
        "one mapping used"
    );
    // The same IOVA cannot be mapped twice.
    let again = Type1Mapping::map(&legacy.container, DmaBuffer::new(PAGE), iova);
    assert_eq!(again.unwrap_err().errno(), Errno(libc::EEXIST));

    guest::edu_round_trip(&edu, map.buffer(), iova, 0x5a);

    let (unmapped, buf) = map.unmap().expect("VFIO_IOMMU_UNMAP_DMA");
    assert_eq!(unmapped, 2 * PAGE as u64);
    // Unmapped: the device's write to the old IOVA is blocked by the IOMMU (a DMAR fault),
    // and the buffer keeps what it had.
    buf.write(PAGE, &[0u8; PAGE]);
    edu.device_to_unmapped_iova(iova + PAGE as u64, guest::EDU_BUFFER_LEN);
    assert!(
        buf.read(PAGE, PAGE).iter().all(|b| *b == 0),
        "edu reached RAM through an unmapped IOVA"
    );
    assert_eq!(
        legacy.container.iommu_info().unwrap().caps.dma_avail,
        Some(DMA_ENTRY_LIMIT)
    );
    legacy.close();
}
