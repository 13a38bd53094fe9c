//! Many vCPU threads of many VMs at once: every operation from every thread, plus the
//! hardware reporting page requests, with no lost PASID, no PASID owned twice, no call
//! the backend should never see, and an empty host after teardown.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use vsva_viommu::HostPasid;

use common::*;
use vsva_uapi::consts::{FaultPerm, PageResponseCode};
use vsva_uapi::Fault;
use vsva_viommu::soft::SoftwareIommu;
use vsva_viommu::{DeviceId, HostIommu, PageRequest, Viommu, Vm, VmConfig};
use zerocopy::FromBytes;

fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn vm_and_viommu_are_send_and_sync() {
    assert_send_sync::<Vm<SoftwareIommu>>();
    assert_send_sync::<Viommu<SoftwareIommu>>();
    assert_send_sync::<SoftwareIommu>();
}

const VMS: usize = 4;
const THREADS_PER_VM: usize = 3;
const ROUNDS: usize = 400;

#[test]
fn vcpu_threads_of_many_vms_run_concurrently() {
    let model = SoftwareIommu::with_log_capacity(HostIommu::vtd_default(), 16);
    let viommu = Viommu::new(model.clone());
    let config = VmConfig {
        max_pasids: 64,
        max_pending_faults: 8,
        ..VmConfig::default()
    };
    let vms: Vec<Arc<Vm<SoftwareIommu>>> = (0..VMS)
        .map(|_| Arc::new(viommu.create_vm(config)))
        .collect();
    for (i, vm) in vms.iter().enumerate() {
        vm.attach_device(DeviceId(i as u32)).unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    std::thread::scope(|s| {
        // The hardware: page requests for every device.
        let injector = {
            let (model, viommu, stop) = (model.clone(), viommu.clone(), Arc::clone(&stop));
            s.spawn(move || {
                let mut n = 0u32;
                // At least 2000 requests, and more for as long as the workers run.
                while n < 2000 || !stop.load(Ordering::Relaxed) {
                    model.inject_page_request(
                        &viommu,
                        PageRequest {
                            id: 0,
                            device: DeviceId(n % VMS as u32),
                            // Untagged, or tagged with a PASID that is rarely the VM's own.
                            pasid: ((n / 4) % 2 == 1).then_some(HostPasid(n % 4096 + 1)),
                            grpid: n % 16,
                            perm: FaultPerm::READ,
                            addr: 0,
                            last_page: true,
                            needs_pasid: false,
                            private_data: None,
                        },
                    );
                    n = n.wrapping_add(1);
                    std::thread::yield_now();
                }
            })
        };
        let mut workers = Vec::new();
        for vm in &vms {
            for t in 0..THREADS_PER_VM {
                let vm = Arc::clone(vm);
                workers.push(s.spawn(move || {
                    let mut mine = Vec::new();
                    for round in 0..ROUNDS {
                        if let Ok(p) = vm.alloc_pasid(1, 4096) {
                            mine.push(p);
                            // Threads of one VM race to bind the same PASID at times.
                            let _ = vm.bind_gpasid(&bytes(&bind(p.0, None)));
                            vm.cache_invalidate(&bytes(&inv_pasid(p.0))).unwrap();
                            vm.cache_invalidate(&bytes(&inv_addr(p.0, 0x1000, 4096, 4)))
                                .unwrap();
                        }
                        if mine.len() > 4 || round % 3 == t % 3 {
                            if let Some(p) = mine.pop() {
                                vm.unbind_gpasid(&bytes(&bind(p.0, None))).unwrap();
                                vm.free_pasids(p, p);
                            }
                        }
                        let mut buf = [0u8; 64 * 4];
                        let n = vm.read_faults(&mut buf);
                        for rec in buf[..n].chunks(64) {
                            let prm = Fault::read_from_bytes(rec).unwrap().prm().unwrap();
                            let resp = response(prm.grpid, None, PageResponseCode::Success.raw());
                            // Another thread of the VM may have answered it already.
                            let _ = vm.page_response(vm_device(&vm), &bytes(&resp));
                        }
                    }
                    for p in mine {
                        vm.free_pasids(p, p);
                    }
                }));
            }
        }
        for w in workers {
            w.join().unwrap();
        }
        stop.store(true, Ordering::Relaxed);
        injector.join().unwrap();
    });
    assert_eq!(model.violations(), 0);
    for vm in &vms {
        let hw = model.vm_state(vm.id());
        // Every round of every thread allocated, so invalidated twice.
        assert!(
            hw.invalidations >= (2 * THREADS_PER_VM * ROUNDS) as u64,
            "{}",
            hw.invalidations
        );
        assert!(
            vm.stats().faults_reported > 0,
            "no page request reached VM {:?}",
            vm.id()
        );
    }
    let held: usize = vms.iter().map(|vm| vm.snapshot().pasids.len()).sum();
    assert_eq!(held, 0, "every thread freed what it allocated");
    assert_eq!(
        viommu.pasid_space().allocated_count(),
        0,
        "a PASID was lost"
    );
    drop(vms);
    assert_eq!(model.outstanding(), 0, "a page request was never answered");
    // Every PASID of the range is allocatable again.
    let vm = viommu.create_vm(VmConfig {
        max_pasids: 4096,
        ..VmConfig::default()
    });
    for _ in 0..4096 {
        vm.alloc_pasid(1, 4096).unwrap();
    }
}

fn vm_device(vm: &Vm<SoftwareIommu>) -> DeviceId {
    vm.snapshot().devices.into_iter().next().unwrap()
}

/// A backend whose `flush` for one VM blocks until the test releases it: the VM holds its
/// lock meanwhile (as in a slow backend call or a long read).
struct Gated {
    model: SoftwareIommu,
    blocked: std::sync::atomic::AtomicU64,
    entered: std::sync::Mutex<std::sync::mpsc::Sender<()>>,
    release: std::sync::Mutex<std::sync::mpsc::Receiver<()>>,
}

use vsva_viommu::Backend;

impl Backend for Gated {
    fn host(&self) -> &HostIommu {
        self.model.host()
    }
    fn bind_gpasid(
        &self,
        vm: vsva_viommu::VmId,
        bind: &vsva_viommu::GpasidBind,
    ) -> Result<(), vsva_uapi::Errno> {
        self.model.bind_gpasid(vm, bind)
    }
    fn unbind_gpasid(&self, vm: vsva_viommu::VmId, hpasid: HostPasid) {
        self.model.unbind_gpasid(vm, hpasid)
    }
    fn set_pasid_table(
        &self,
        vm: vsva_viommu::VmId,
        table: &vsva_viommu::PasidTableBind,
    ) -> Result<(), vsva_uapi::Errno> {
        self.model.set_pasid_table(vm, table)
    }
    fn clear_pasid_table(&self, vm: vsva_viommu::VmId) {
        self.model.clear_pasid_table(vm)
    }
    fn invalidate(&self, vm: vsva_viommu::VmId, inv: &vsva_viommu::Invalidation) {
        self.model.invalidate(vm, inv)
    }
    fn page_response(&self, vm: vsva_viommu::VmId, response: &vsva_viommu::HostPageResponse) {
        self.model.page_response(vm, response)
    }
    fn flush(&self, vm: vsva_viommu::VmId) {
        if vm.0 == self.blocked.load(Ordering::SeqCst) {
            self.entered.lock().unwrap().send(()).unwrap();
            let _ = self.release.lock().unwrap().recv();
        }
        self.model.flush(vm)
    }
}

fn request(device: u32, grpid: u32) -> PageRequest {
    PageRequest {
        id: 0,
        device: DeviceId(device),
        pasid: None,
        grpid,
        perm: FaultPerm::READ,
        addr: 0x1000,
        last_page: true,
        needs_pasid: false,
        private_data: None,
    }
}

/// One fault reader serves every VM: a VM holding its lock (here in a backend call that
/// blocks) must not stall delivery to the others, nor the reader itself. The VM's own
/// requests wait in its inbox, bounded like its queue, and reach it once it lets go.
#[test]
fn a_vm_holding_its_lock_does_not_stall_page_requests_for_others() {
    use std::sync::mpsc::channel;
    use std::time::Duration;
    const WAIT: Duration = Duration::from_secs(20);

    let model = SoftwareIommu::new(HostIommu::vtd_default());
    let (entered_tx, entered_rx) = channel();
    let (release_tx, release_rx) = channel();
    let viommu = Viommu::new(Gated {
        model: model.clone(),
        blocked: std::sync::atomic::AtomicU64::new(0),
        entered: std::sync::Mutex::new(entered_tx),
        release: std::sync::Mutex::new(release_rx),
    });
    let config = VmConfig {
        max_pending_faults: 2,
        ..VmConfig::default()
    };
    let a = viommu.create_vm(config);
    let b = viommu.create_vm(config);
    a.attach_device(DeviceId(1)).unwrap();
    b.attach_device(DeviceId(2)).unwrap();
    viommu.backend().blocked.store(a.id().0, Ordering::SeqCst);

    std::thread::scope(|s| {
        let holder = s.spawn(|| a.flush());
        entered_rx
            .recv_timeout(WAIT)
            .expect("VM A reached the blocking backend call");
        // The shared fault reader: A's requests first (three, one over A's bound), then B's.
        let (done_tx, done_rx) = channel();
        let (model, viommu) = (&model, &viommu);
        let reader = s.spawn(move || {
            for grpid in 1..=3 {
                model.inject_page_request(viommu, request(1, grpid));
            }
            model.inject_page_request(viommu, request(2, 7));
            done_tx.send(()).unwrap();
        });
        let delivered = done_rx.recv_timeout(WAIT);
        let b_request = delivered.is_ok().then(|| b.next_page_request());
        let holder_blocked = !holder.is_finished();
        // With A still blocked: the oldest of A's requests, one over its bound, was
        // answered at once; the other two and B's await their responses.
        let outstanding = model.outstanding();
        release_tx.send(()).unwrap();
        holder.join().unwrap();
        reader.join().unwrap();
        delivered.expect("page requests were delivered while VM A held its lock");
        assert!(holder_blocked);
        let got = b_request.flatten().expect("B's request is readable");
        assert_eq!((got.request.device, got.request.grpid), (DeviceId(2), 7));
        assert_eq!(outstanding, 3);
    });

    // A's requests reach it, oldest first, once it lets go of its lock.
    let grpids: Vec<u32> = std::iter::from_fn(|| a.next_page_request())
        .map(|f| f.request.grpid)
        .collect();
    assert_eq!(grpids, [2, 3]);
    let stats = a.stats();
    assert_eq!(
        (
            stats.faults_reported,
            stats.faults_auto_failed,
            stats.faults_dropped
        ),
        (3, 1, 0)
    );
    assert_eq!(b.stats().faults_reported, 1);
    assert_eq!(model.violations(), 0);
}
