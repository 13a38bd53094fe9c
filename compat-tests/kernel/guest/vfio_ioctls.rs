//! vsva on a VMM's fds: rust-vmm's vfio-ioctls (its current release, 0.10, in iommufd
//! mode) opens `/dev/iommu`, allocates the IOAS and opens, binds and attaches the device,
//! as cloud-hypervisor does; vsva is handed those fds and ids (`dev_id`, the IOAS id) and
//! works on them, never opening its own.
//!
//! What each boot proves:
//!
//! - **VT-d boots** ([`vfio_ioctls_device_handed_to_vsva`]): a real VFIO device (QEMU's
//!   `edu` behind the emulated VT-d) opened by vfio-ioctls. vsva, on the borrowed fds, reads
//!   the IOMMU's registers for the VMM's `dev_id`, the VMM's IOAS ranges and the device's
//!   regions, maps guest memory (`GuestMemoryDma`) into the VMM's IOAS, and edu DMAs through
//!   it; after vsva unmaps, edu's DMA is blocked. QEMU's VT-d offers no nesting
//!   (`ECAP.NEST` is never set), which vsva's probe reports on the VMM's fds: a bind
//!   cannot run on this device.
//! - **Mock boots** ([`vfio_ioctls_iommufd_bind_and_invalidate_through_vsva`]): the bind
//!   and the invalidation. vfio-ioctls cannot open the kernel's mock IOMMU device (it is no
//!   VFIO device), so the VMM's iommufd and IOAS come from vfio-ioctls, and the device on
//!   that IOAS is a mock device (`IOMMU_TEST_OP_MOCK_DOMAIN`, the VMM's `dev_id`). vsva,
//!   on an owned duplicate of the VMM's iommufd, binds a guest PASID through
//!   `vsva-viommu`'s iommufd backend (nest parent and nested HWPT on the VMM's IOAS), and a
//!   page invalidation reaches the kernel's mock IOTLB.
//!
//! On 7.3 the mock takes devices beside VT-d, so both tests run in its VT-d boots.

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use iommufd_ioctls::IommuFd;
use vfio_ioctls::{VfioDevice, VfioIommufd, VfioOps};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};
use vsva_uapi::Errno;
use vsva_vfio::cdev::CdevDevice;
use vsva_vfio::guest_memory::GuestMemoryDma;
use vsva_vfio::iommufd::{
    DevId, IoasId, Iommufd, HW_INFO_TYPE_INTEL_VTD, IOAS_MAP_READABLE, IOAS_MAP_WRITEABLE,
};
use vsva_viommu::iommufd::{probe_host, IommufdBackend, IommufdConfig, IommufdDevice, NestingSupport};
use vsva_viommu::{DeviceId, HostIommu, Viommu, VmConfig};

use crate::guest::{self, Edu};
use crate::sys;
use crate::tier::{self, Need};
use crate::viommu_iommufd::sequences::{bind_payload, inv_addr, GPGD};
use crate::viommu_iommufd::{iotlb_is, MockDevice, SelftestFormat, PASID_WIDTH};

const RW: u32 = IOAS_MAP_READABLE | IOAS_MAP_WRITEABLE;

/// Where `/proc/self/fd/<fd>` points.
fn fd_target(fd: i32) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/self/fd/{fd}")).ok()
}

/// The VMM side, as vfio-ioctls builds it: its iommufd and its IOAS.
fn vmm_iommufd() -> (Arc<IommuFd>, Arc<VfioIommufd>, IoasId) {
    let fd = Arc::new(IommuFd::new().expect("vfio-ioctls: open /dev/iommu (IommuFd::new)"));
    let vfio = Arc::new(
        VfioIommufd::new(Arc::clone(&fd), None, None).expect("vfio-ioctls: VfioIommufd::new"),
    );
    let ioas = IoasId(vfio.ioas().id());
    (fd, vfio, ioas)
}

#[test]
fn vfio_ioctls_device_handed_to_vsva() {
    guest::require_guest();
    if !tier::applies(&[Need::Vtd, Need::Config("CONFIG_VFIO_DEVICE_CDEV")]) {
        return;
    }
    let edu = guest::edu();
    let (vmm_fd, vfio, ioas) = vmm_iommufd();
    let sysfs = Path::new("/sys/bus/pci/devices").join(&edu.bdf);
    let device = VfioDevice::new(&sysfs, Arc::clone(&vfio) as Arc<dyn VfioOps>, true)
        .expect("vfio-ioctls: VfioDevice::new (open the cdev, bind, attach to the IOAS)");
    let dev_id = DevId(device.iommufd_dev_id().expect("vfio-ioctls bound the cdev"));

    let kernel = guest::kernel();
    let iommufd = Iommufd::borrow(Arc::clone(&kernel), sys::vmm_iommufd_fd(&vmm_fd));
    let cdev = CdevDevice::borrow(Arc::clone(&kernel), sys::vmm_device_fd(&device), Some(dev_id));
    assert_eq!(iommufd.as_raw_fd(), vmm_fd.as_raw_fd());
    assert_eq!(cdev.as_raw_fd(), device.as_raw_fd());
    assert_eq!(cdev.dev_id(), Some(dev_id));

    // The VMM's dev_id and IOAS, seen through vsva.
    let hw = iommufd.hw_info(dev_id).expect("IOMMU_GET_HW_INFO on the VMM's dev_id");
    assert_eq!(hw.data_type, HW_INFO_TYPE_INTEL_VTD);
    let vtd = hw.vtd.expect("VT-d registers");
    let ranges = iommufd
        .ioas_iova_ranges(ioas)
        .expect("IOMMU_IOAS_IOVA_RANGES on the VMM's IOAS");
    assert!(!ranges.ranges.is_empty(), "{ranges:?}");
    // The same device: vsva's region info is what vfio-ioctls read at open.
    let bar0 = cdev.device().region_info(0).expect("VFIO_DEVICE_GET_REGION_INFO");
    assert_eq!(bar0.size, device.get_region_size(0));
    // The cdev is bound already (to the VMM's iommufd): the kernel refuses a second bind.
    assert_eq!(
        cdev.bind(&iommufd).map_err(|e| e.errno()),
        Err(Errno::EINVAL),
        "VFIO_DEVICE_BIND_IOMMUFD on a bound cdev"
    );
    // No nesting on QEMU's VT-d, whatever the mode: the bind runs on the mock instead.
    let probe = probe_host(&iommufd, dev_id, ioas).expect("probe_host on the VMM's fds");
    assert!(!vtd.nesting, "QEMU's VT-d never sets ECAP.NEST");
    assert_eq!(probe.nesting, NestingSupport::NotInHardware, "{probe}");

    // Guest memory into the VMM's IOAS through vsva, and edu's DMA through it.
    let gpa = 0x20_0000u64;
    let page = sys::PAGE;
    let mem = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(gpa), 2 * page)])
        .expect("guest memory");
    let dma = GuestMemoryDma::map_ioas(&iommufd, ioas, &mem, RW).expect("IOMMU_IOAS_MAP");
    assert_eq!(dma.ranges().collect::<Vec<_>>(), [(gpa, 2 * page as u64)]);
    let e = Edu::new(cdev.device());
    assert_eq!(e.ident(), guest::EDU_IDENT);
    let (_, cmd) = e.enable_bus_master();
    assert_ne!(cmd & guest::PCI_COMMAND_MASTER, 0);
    let data = guest::pattern(0x5a, page);
    mem.write_slice(&data, GuestAddress(gpa)).expect("write");
    mem.write_slice(&vec![0u8; page], GuestAddress(gpa + page as u64))
        .expect("write");
    e.ram_to_device(gpa, guest::EDU_BUFFER_LEN);
    e.device_to_ram(gpa + page as u64, guest::EDU_BUFFER_LEN);
    let mut back = vec![0u8; page];
    mem.read_slice(&mut back, GuestAddress(gpa + page as u64))
        .expect("read");
    assert!(back == data, "edu DMA through the VMM's IOAS: data differs");
    dma.unmap().expect("IOMMU_IOAS_UNMAP");
    mem.write_slice(&vec![0u8; page], GuestAddress(gpa + page as u64))
        .expect("write");
    e.device_to_unmapped_iova(gpa + page as u64, guest::EDU_BUFFER_LEN);
    mem.read_slice(&mut back, GuestAddress(gpa + page as u64))
        .expect("read");
    assert!(
        back.iter().all(|b| *b == 0),
        "edu reached guest memory after vsva unmapped it"
    );

    // vsva's views close nothing: the VMM's fds are open, and still the same files.
    let (iommufd_raw, cdev_raw) = (vmm_fd.as_raw_fd(), device.as_raw_fd());
    drop((cdev, iommufd));
    assert_eq!(fd_target(iommufd_raw).as_deref(), Some(Path::new("/dev/iommu")));
    assert_eq!(fd_target(cdev_raw), Some(edu.cdev_path()));
    assert_eq!(device.get_region_size(0), bar0.size);
    drop(device);
    drop(vfio);
    drop(vmm_fd);
}

#[test]
fn vfio_ioctls_iommufd_bind_and_invalidate_through_vsva() {
    guest::require_guest();
    if !tier::applies(&[Need::Mock]) {
        return;
    }
    let (vmm_fd, vfio, ioas) = vmm_iommufd();
    let kernel = guest::kernel();
    // The VMM's device on its IOAS: a mock device (vfio-ioctls cannot open one).
    let view = Iommufd::borrow(Arc::clone(&kernel), sys::vmm_iommufd_fd(&vmm_fd));
    // An owned duplicate for the backend, which keeps its Arc<Iommufd>: the same iommufd
    // context, so the VMM's IOAS and devices are its.
    let dup = sys::vmm_iommufd_fd(&vmm_fd)
        .try_clone_to_owned()
        .expect("F_DUPFD_CLOEXEC");
    let dup_raw = dup.as_raw_fd();
    let owned = Arc::new(Iommufd::from_owned(Arc::clone(&kernel), dup));
    let mock = MockDevice::create(&owned, ioas).expect("IOMMU_TEST_OP_MOCK_DOMAIN on the VMM's IOAS");
    let dev_id = mock.idev;

    let backend = IommufdBackend::new(
        Arc::clone(&owned),
        HostIommu::vtd_default(),
        SelftestFormat::new(),
        IommufdConfig::default(),
    )
    .expect("IommufdBackend::new on the VMM's iommufd");
    let viommu = Viommu::new(backend);
    let vm = viommu.create_vm(VmConfig::default());
    let device = DeviceId(1);
    vm.attach_device(device).expect("attach_device");
    viommu
        .backend()
        .add_device(
            vm.id(),
            device,
            IommufdDevice::new(dev_id, ioas, PASID_WIDTH, Box::new(mock.clone())),
        )
        .expect("add_device with the VMM's dev_id and IOAS");

    // The bind: a nest parent on the VMM's IOAS, a nested HWPT with the bind's table.
    let pasid = vm.alloc_pasid(1, (1 << 20) - 1).expect("alloc");
    let bind = bind_payload(pasid.0, Some(0x42), GPGD);
    vm.bind_gpasid(&bind).expect("bind through vsva on the VMM's fds");
    let objects = viommu.backend().device_objects(device).expect("registered");
    let nested = objects.nested[&pasid];
    assert!(objects.parent.is_some(), "a nest parent");
    let v = SelftestFormat::iotlb_of(GPGD).expect("GPGD fits");
    // The kernel holds it, seen through the VMM's own fd as well.
    assert_eq!(iotlb_is(&view, nested.0, &[v; 4]), Ok(()), "after the bind");
    assert_eq!(mock.attachments().rid, nested.0, "the kernel put the RID on it");

    // The invalidation: page 1 of the PASID, flushed: the kernel clears mock IOTLB 1.
    vm.cache_invalidate(&inv_addr(pasid.0, 0x1000, 1, false))
        .expect("invalidate");
    viommu.backend().flush(vm.id());
    let s = viommu.backend().stats();
    assert_eq!((s.invalidate_calls, s.entries_handled), (1, 1));
    assert_eq!(iotlb_is(&view, nested.0, &[v, 0, v, v]), Ok(()), "after the invalidation");

    // Unbind and teardown leave the VMM's objects as they were.
    vm.unbind_gpasid(&bind).expect("unbind");
    assert!(mock.attachments().stack.is_empty(), "the RID is back on the IOAS");
    viommu.backend().remove_device(device);
    drop(vm);
    drop(viommu);
    view.destroy(mock.stdev_id).expect("IOMMU_DESTROY of the mock device");
    drop(mock);
    assert_eq!(Arc::strong_count(&owned), 1, "the backend let go of the iommufd");
    drop(owned);
    // vsva closed its duplicate only; the VMM's IOAS is alive on the VMM's fd.
    assert_ne!(dup_raw, vmm_fd.as_raw_fd());
    assert_ne!(fd_target(dup_raw).as_deref(), Some(Path::new("/dev/iommu")));
    assert_eq!(fd_target(vmm_fd.as_raw_fd()).as_deref(), Some(Path::new("/dev/iommu")));
    let ranges = view.ioas_iova_ranges(ioas).expect("the VMM's IOAS after vsva");
    assert!(!ranges.ranges.is_empty());
    drop(view);
    drop(vfio);
    drop(vmm_fd);
}
