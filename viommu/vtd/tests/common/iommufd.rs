//! A unit over vsva-viommu's iommufd backend on the scripted nesting iommufd
//! (`iommufd::fake::FakeIommufd`), with one device.
#![allow(dead_code)]

use std::sync::Arc;

use vm_memory::{GuestAddress, GuestMemoryMmap};
use vsva_vfio::cdev::CdevDevice;
use vsva_vfio::iommufd::Iommufd;
use vsva_viommu::iommufd::fake::FakeIommufd;
use vsva_viommu::iommufd::{IommufdBackend, IommufdConfig, IommufdDevice, VtdS1};
use vsva_viommu::{DeviceId, HostIommu, Viommu, VmConfig};
use vsva_vtd::{Msi, VtdConfig, VtdEvent, VtdUnit};

/// The sink type.
pub type Sink = fn(VtdEvent, Msi);
/// The unit type.
pub type Unit = VtdUnit<IommufdBackend<VtdS1>, GuestMemoryMmap, Sink>;

/// The fake kernel, the vIOMMU and a unit with device 0x300 as guest 00:01.0.
pub fn unit_on_fake() -> (
    FakeIommufd,
    Viommu<IommufdBackend<VtdS1>>,
    Unit,
    GuestMemoryMmap,
) {
    let fake = FakeIommufd::new(true);
    let iommufd = Arc::new(Iommufd::open(fake.kernel()).unwrap());
    let ioas = iommufd.ioas_alloc().unwrap();
    let backend = IommufdBackend::new(
        Arc::clone(&iommufd),
        HostIommu::vtd_default(),
        VtdS1,
        IommufdConfig::default(),
    )
    .unwrap();
    let viommu = Viommu::new(backend);
    let vm = Arc::new(viommu.create_vm(VmConfig::default()));
    let mem = GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 1 << 20)]).unwrap();
    let sink: Sink = |_, _| {};
    let unit = VtdUnit::new(Arc::clone(&vm), mem.clone(), sink, VtdConfig::default()).unwrap();
    unit.attach_device(0x0008, DeviceId(0x300)).unwrap();
    let path = fake.add_device(20);
    let cdev = CdevDevice::open(fake.kernel(), &path).unwrap();
    let dev_id = cdev.bind(&iommufd).unwrap();
    viommu
        .backend()
        .add_device(
            vm.id(),
            DeviceId(0x300),
            IommufdDevice::new(dev_id, ioas, 20, Box::new(cdev)),
        )
        .unwrap();
    (fake, viommu, unit, mem)
}
