//! The shared request-sequence suite (`sequences/mod.rs`) on both backends, on the host:
//! the software model, and the iommufd backend over `FakeIommufd` (a scripted kernel that
//! models a nesting-capable iommufd: it tracks its objects and refuses what the kernel
//! refuses). The kernel tier runs the same suite against the real kernel's mock IOMMU.

mod sequences;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use vsva_viommu::HostPasid;

use sequences::SequenceProbe;
use vsva_uapi::consts::FaultPerm;
use vsva_uapi::consts::PageResponseCode;
use vsva_uapi::Errno;
use vsva_vfio::cdev::{CdevDevice, VFIO_DEVICE_ATTACH_IOMMUFD_PT};
use vsva_vfio::iommufd::{DevId, IoasId, Iommufd};
use vsva_viommu::iommufd::fake::FakeIommufd;
use vsva_viommu::iommufd::{IommufdBackend, IommufdConfig, IommufdDevice, VtdS1};
use vsva_viommu::soft::{Event, SoftwareIommu};
use vsva_viommu::{DeviceId, HostIommu, PageRequest, Viommu, Vm, VmId};

// ---- the software model ----------------------------------------------------------------

struct SoftProbe {
    model: SoftwareIommu,
    viommu: Viommu<SoftwareIommu>,
    next_device: Mutex<u32>,
}

impl SoftProbe {
    fn new() -> SoftProbe {
        let model = SoftwareIommu::new(HostIommu::vtd_default());
        SoftProbe {
            viommu: Viommu::new(model.clone()),
            model,
            next_device: Mutex::new(0x100),
        }
    }
}

impl SequenceProbe for SoftProbe {
    type Backend = SoftwareIommu;

    fn viommu(&self) -> &Viommu<SoftwareIommu> {
        &self.viommu
    }

    fn add_device(&self, vm: &Vm<SoftwareIommu>) -> DeviceId {
        let mut next = self.next_device.lock().unwrap();
        *next += 1;
        let d = DeviceId(*next);
        vm.attach_device(d).unwrap();
        d
    }

    fn settle(&self, _vm: VmId) {}

    fn bound(&self, vm: VmId) -> BTreeMap<u32, u64> {
        let st = self.model.vm_state(vm);
        st.pasid_entries
            .iter()
            .map(|(p, b)| (p.0, b.gpgd))
            .collect()
    }

    fn invalidations(&self, vm: VmId) -> u64 {
        self.model.vm_state(vm).invalidations
    }

    fn page_request(&self, device: DeviceId, pasid: u32, grpid: u32, addr: u64) -> bool {
        self.model.inject_page_request(
            &self.viommu,
            PageRequest {
                id: 0,
                device,
                pasid: Some(HostPasid(pasid)),
                grpid,
                perm: FaultPerm::READ,
                addr,
                last_page: true,
                needs_pasid: true,
                private_data: None,
            },
        );
        true
    }

    fn responses(&self, vm: VmId) -> Vec<(DeviceId, u32, PageResponseCode)> {
        self.model
            .vm_state(vm)
            .log
            .iter()
            .filter_map(|e| match e {
                Event::PageResponse(r) => Some((r.device, r.grpid, r.code)),
                _ => None,
            })
            .collect()
    }

    fn fail_next_bind(&self) -> Option<Errno> {
        self.model.fail_next_bind(Errno::ENOMEM);
        Some(Errno::ENOMEM)
    }

    fn leaks(&self) -> Vec<String> {
        match self.model.violations() {
            0 => vec![],
            n => vec![format!("{n} calls a correct vIOMMU layer never makes")],
        }
    }
}

#[test]
fn the_suite_passes_on_the_software_model() {
    sequences::run_all(SoftProbe::new);
}

// ---- the iommufd backend over the modelled kernel --------------------------------------

type Iommu = IommufdBackend<VtdS1>;

struct IommufdProbe {
    fake: FakeIommufd,
    iommufd: Arc<Iommufd>,
    ioas: IoasId,
    viommu: Viommu<Iommu>,
    next_device: Mutex<u32>,
    /// Every device registered: vIOMMU id → (iommufd id, VM).
    devices: Mutex<HashMap<DeviceId, (DevId, VmId)>>,
}

/// The devices' PASID width.
const WIDTH: u8 = 20;

impl IommufdProbe {
    fn new(config: IommufdConfig) -> IommufdProbe {
        let fake = FakeIommufd::new(true);
        let iommufd = Arc::new(Iommufd::open(fake.kernel()).unwrap());
        let ioas = iommufd.ioas_alloc().unwrap();
        let backend = IommufdBackend::new(
            Arc::clone(&iommufd),
            HostIommu::vtd_default(),
            VtdS1,
            config,
        )
        .unwrap();
        IommufdProbe {
            fake,
            iommufd,
            ioas,
            viommu: Viommu::new(backend),
            next_device: Mutex::new(0x100),
            devices: Mutex::new(HashMap::new()),
        }
    }

    fn dev_ids(&self, vm: VmId) -> BTreeSet<u32> {
        self.devices
            .lock()
            .unwrap()
            .values()
            .filter(|(_, v)| *v == vm)
            .map(|(d, _)| d.0)
            .collect()
    }

    fn device_of(&self, dev_id: u32) -> Option<DeviceId> {
        self.devices
            .lock()
            .unwrap()
            .iter()
            .find(|(_, (d, _))| d.0 == dev_id)
            .map(|(id, _)| *id)
    }
}

impl SequenceProbe for IommufdProbe {
    type Backend = Iommu;

    fn viommu(&self) -> &Viommu<Iommu> {
        &self.viommu
    }

    fn add_device(&self, vm: &Vm<Iommu>) -> DeviceId {
        let path = self.fake.add_device(WIDTH);
        let cdev = CdevDevice::open(self.fake.kernel(), &path).unwrap();
        let dev_id = cdev.bind(&self.iommufd).unwrap();
        let mut next = self.next_device.lock().unwrap();
        *next += 1;
        let device = DeviceId(*next);
        vm.attach_device(device).unwrap();
        self.viommu
            .backend()
            .add_device(
                vm.id(),
                device,
                IommufdDevice::new(dev_id, self.ioas, WIDTH, Box::new(cdev)),
            )
            .unwrap();
        self.devices
            .lock()
            .unwrap()
            .insert(device, (dev_id, vm.id()));
        device
    }

    fn settle(&self, vm: VmId) {
        self.viommu.backend().flush(vm);
    }

    fn bound(&self, vm: VmId) -> BTreeMap<u32, u64> {
        let devs = self.dev_ids(vm);
        let hwpts = self.fake.hwpts();
        self.fake
            .pasid_attachments()
            .into_iter()
            .filter(|((dev, _), _)| devs.contains(dev))
            .map(|((_, pasid), hwpt)| {
                let data = &hwpts[&hwpt].data;
                let gpgd = u64::from_ne_bytes(data[8..16].try_into().unwrap());
                (pasid, gpgd)
            })
            .collect()
    }

    fn invalidations(&self, vm: VmId) -> u64 {
        let devs = self.dev_ids(vm);
        self.fake
            .invalidations()
            .iter()
            .filter(|i| devs.contains(&i.dev_id))
            .map(|i| u64::from(i.handled))
            .sum()
    }

    fn page_request(&self, device: DeviceId, pasid: u32, grpid: u32, addr: u64) -> bool {
        let dev_id = self.devices.lock().unwrap()[&device].0;
        self.fake
            .trigger_fault(dev_id.0, Some(pasid), grpid, 1, addr)
            .is_some()
            && self.viommu.backend().poll_faults(&self.viommu) == Ok(1)
    }

    fn responses(&self, vm: VmId) -> Vec<(DeviceId, u32, PageResponseCode)> {
        let devs = self.dev_ids(vm);
        self.fake
            .responses()
            .into_iter()
            .filter(|(f, _)| devs.contains(&f.dev_id))
            .map(|(f, code)| {
                let code = PageResponseCode::from_raw(code).expect("0 or 1");
                (self.device_of(f.dev_id).expect("registered"), f.grpid, code)
            })
            .collect()
    }

    fn fail_next_bind(&self) -> Option<Errno> {
        // The third step (the PASID attach) fails: the nested HWPT and the parent
        // allocated for it must both go.
        self.fake
            .fail(VFIO_DEVICE_ATTACH_IOMMUFD_PT, 0, Errno::ENOMEM);
        Some(Errno::ENOMEM)
    }

    fn leaks(&self) -> Vec<String> {
        iommufd_leaks(
            &self.fake,
            self.viommu.backend(),
            &self.devices.lock().unwrap(),
        )
    }
}

/// The modelled kernel and the backend agree on every HWPT and attachment, and the
/// backend absorbed no refusal.
fn iommufd_leaks(
    fake: &FakeIommufd,
    backend: &Iommu,
    devices: &HashMap<DeviceId, (DevId, VmId)>,
) -> Vec<String> {
    let mut leaks = Vec::new();
    let mut held = BTreeSet::new();
    let mut attached = BTreeMap::new();
    for (device, (dev_id, _)) in devices {
        let Some(o) = backend.device_objects(*device) else {
            continue;
        };
        held.extend(o.parent.map(|h| h.0));
        held.extend(o.table.map(|h| h.0));
        for (pasid, h) in &o.nested {
            held.insert(h.0);
            attached.insert((dev_id.0, pasid.0), h.0);
        }
    }
    let live: BTreeSet<u32> = fake.hwpts().keys().copied().collect();
    if live != held {
        leaks.push(format!("kernel HWPTs {live:?}, backend holds {held:?}"));
    }
    if fake.pasid_attachments() != attached {
        leaks.push(format!(
            "kernel PASID attachments {:?}, backend {attached:?}",
            fake.pasid_attachments()
        ));
    }
    let diags = backend.diagnostics();
    if !diags.is_empty() {
        leaks.push(format!("absorbed refusals {diags:?}"));
    }
    leaks
}

#[test]
fn the_suite_passes_on_the_iommufd_backend() {
    sequences::run_all(|| IommufdProbe::new(IommufdConfig::default()));
}

#[test]
fn the_suite_passes_on_the_iommufd_backend_without_batching() {
    sequences::run_all(|| {
        IommufdProbe::new(IommufdConfig {
            max_batch: 1,
            ..IommufdConfig::default()
        })
    });
}

#[test]
fn dropping_the_iommufd_backend_destroys_everything() {
    let probe = IommufdProbe::new(IommufdConfig::default());
    let vm = probe.viommu.create_vm(vsva_viommu::VmConfig::default());
    probe.add_device(&vm);
    let p = vm.alloc_pasid(1, 1000).unwrap();
    vm.bind_gpasid(&sequences::bind_payload(p.0, None, sequences::GPGD))
        .unwrap();
    assert_eq!(probe.fake.hwpts().len(), 2, "parent and nested");
    let IommufdProbe { fake, viommu, .. } = probe;
    drop(vm);
    drop(viommu);
    assert!(fake.hwpts().is_empty(), "{:?}", fake.hwpts());
    assert!(fake.pasid_attachments().is_empty());
    let faults = fake
        .objects()
        .values()
        .filter(|o| matches!(o, vsva_viommu::iommufd::fake::FakeObject::Fault))
        .count();
    assert_eq!(faults, 0, "the fault queue is destroyed");
}
