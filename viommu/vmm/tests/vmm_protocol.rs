//! The paravirtual device model (`vmm::PvIommu`) on a plain RAM buffer: the doorbell
//! protocol without KVM, so it runs everywhere.

mod vmm_support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use vmm_support::{block, cmd};
use vsva_uapi::consts::VFIO_IOMMU_PASID_REQUEST;
use vsva_uapi::{Errno, PageResponse, PasidRequest, UapiStruct};
use vsva_viommu::soft::SoftwareIommu;
use vsva_viommu::{DeviceId, HostIommu, Viommu, VmConfig};
use vsva_vmm::{inject_on_ready, Op, PvIommu, ReadyHook, RAM_SIZE};
use zerocopy::{FromZeros, IntoBytes};

const DEV: DeviceId = DeviceId(0x300);

fn setup(hook: Option<ReadyHook<SoftwareIommu>>) -> (SoftwareIommu, PvIommu<SoftwareIommu>) {
    let model = SoftwareIommu::new(HostIommu::vtd_default());
    let viommu = Viommu::new(model.clone());
    let vm = Arc::new(viommu.create_vm(VmConfig::default()));
    vm.attach_device(DEV).unwrap();
    (model, PvIommu::new(viommu, vm, DEV, hook, 64))
}

fn ring(dev: &mut PvIommu<SoftwareIommu>, ram: &mut [u8], gpa: usize, b: Vec<u8>) -> Option<i32> {
    ram[gpa..gpa + 16].copy_from_slice(&b);
    let r = dev.doorbell(ram, 4, gpa as u32);
    if let Some(r) = r {
        assert_eq!(
            &ram[gpa + 12..gpa + 16],
            &r.to_le_bytes(),
            "result written back"
        );
    }
    r
}

#[test]
fn blocks_not_wholly_in_ram_and_short_writes_are_ignored() {
    let (_, mut dev) = setup(None);
    let mut ram = vec![0u8; RAM_SIZE];
    for gpa in [RAM_SIZE as u32 - 15, RAM_SIZE as u32, u32::MAX] {
        assert_eq!(dev.doorbell(&mut ram, 4, gpa), None);
    }
    assert_eq!(dev.doorbell(&mut ram, 1, 0x2000), None);
    assert_eq!(dev.doorbell(&mut ram, 2, 0x2000), None);
    assert!(ram.iter().all(|&b| b == 0), "nothing written");
    assert_eq!(dev.stats().bad_doorbells, 5);
    assert_eq!(dev.stats().doorbells, 0);
    // The last whole block of RAM is fine.
    assert_eq!(dev.doorbell(&mut ram, 4, RAM_SIZE as u32 - 16), Some(0));
}

#[test]
fn ioctl_user_memory_ends_where_ram_ends() {
    let (_, mut dev) = setup(None);
    let mut ram = vec![0u8; RAM_SIZE];
    let req = PasidRequest::alloc(1, 1000);
    // The request wholly in RAM: a PASID.
    ram[0x3000..0x3010].copy_from_slice(req.as_bytes());
    let p = ring(
        &mut dev,
        &mut ram,
        0x2000,
        cmd(Op::Ioctl, VFIO_IOMMU_PASID_REQUEST, 0x3000),
    );
    assert!(matches!(p, Some(1..=1000)), "{p:?}");
    // The same request in the last 8 bytes: its argsz runs past RAM: EFAULT.
    let end = RAM_SIZE - 8;
    ram[end..].copy_from_slice(&req.as_bytes()[..8]);
    let r = ring(
        &mut dev,
        &mut ram,
        0x2000,
        cmd(Op::Ioctl, VFIO_IOMMU_PASID_REQUEST, end as u32),
    );
    assert_eq!(r, Some(-Errno::EFAULT.raw()));
    // A struct address outside RAM: EFAULT.
    let r = ring(
        &mut dev,
        &mut ram,
        0x2000,
        cmd(Op::Ioctl, VFIO_IOMMU_PASID_REQUEST, u32::MAX),
    );
    assert_eq!(r, Some(-Errno::EFAULT.raw()));
    // Unknown op: EINVAL.
    assert_eq!(
        ring(&mut dev, &mut ram, 0x2000, block(6, 0, 0)),
        Some(-Errno::EINVAL.raw())
    );
    let st = dev.stats();
    assert_eq!((st.successes, st.failures()), (1, 3));
    assert_eq!(st.errno_count(Errno::EFAULT), 2);
    assert_eq!(st.errno_count(Errno::EINVAL), 1);
    assert_eq!((st.ops.ioctl, st.ops.unknown), (3, 1));
    assert_eq!(
        dev.vm().snapshot().pasids.len(),
        1,
        "only the good alloc took one"
    );
}

#[test]
fn ready_faults_and_responses_round_trip() {
    let calls = Arc::new(AtomicU64::new(0));
    let model = SoftwareIommu::new(HostIommu::vtd_default());
    let inject = inject_on_ready(model.clone(), 3);
    let counted = Arc::clone(&calls);
    let hook: ReadyHook<SoftwareIommu> = Arc::new(move |ctx| {
        assert_eq!(ctx.previous, counted.fetch_add(1, Ordering::SeqCst));
        inject(ctx);
    });
    let viommu = Viommu::new(model.clone());
    let vm = Arc::new(viommu.create_vm(VmConfig::default()));
    vm.attach_device(DEV).unwrap();
    let mut dev = PvIommu::new(viommu, vm, DEV, Some(hook), 64);
    let mut ram = vec![0u8; RAM_SIZE];

    assert_eq!(
        ring(&mut dev, &mut ram, 0x2000, cmd(Op::FaultStatus, 0, 0)),
        Some(0)
    );
    assert_eq!(
        ring(&mut dev, &mut ram, 0x2000, cmd(Op::Ready, 0, 0)),
        Some(0)
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(
        ring(&mut dev, &mut ram, 0x2000, cmd(Op::FaultStatus, 0, 0)),
        Some(3)
    );
    // A buffer past RAM: EFAULT, and nothing is marked read.
    let r = ring(
        &mut dev,
        &mut ram,
        0x2000,
        cmd(Op::ReadFaults, 128, RAM_SIZE as u32 - 64),
    );
    assert_eq!(r, Some(-Errno::EFAULT.raw()));
    assert_eq!(
        ring(&mut dev, &mut ram, 0x2000, cmd(Op::FaultStatus, 0, 0)),
        Some(3)
    );
    // 130 bytes: two whole records.
    let r = ring(&mut dev, &mut ram, 0x2000, cmd(Op::ReadFaults, 130, 0x4000));
    assert_eq!(r, Some(128));
    assert_eq!(
        ring(&mut dev, &mut ram, 0x2000, cmd(Op::FaultStatus, 0, 0)),
        Some(1)
    );
    let grpid = u32::from_le_bytes(ram[0x4000 + 16..0x4000 + 20].try_into().unwrap());
    assert_eq!(grpid, 1);
    // Answer group 1 (no PASID: the VM owns none, so the requests carry none).
    let mut resp = PageResponse::new_zeroed();
    resp.argsz = PageResponse::DECL.size as u32;
    resp.version = 1;
    resp.grpid = 1;
    ram[0x5000..0x5000 + 24].copy_from_slice(resp.as_bytes());
    let r = ring(
        &mut dev,
        &mut ram,
        0x2000,
        cmd(Op::PageResponse, DEV.0, 0x5000),
    );
    assert_eq!(r, Some(0));
    // Again: nothing pending for group 1 any more.
    let r = ring(
        &mut dev,
        &mut ram,
        0x2000,
        cmd(Op::PageResponse, DEV.0, 0x5000),
    );
    assert_eq!(r, Some(-Errno::EINVAL.raw()));
    // Another device id: not this VM's.
    let r = ring(
        &mut dev,
        &mut ram,
        0x2000,
        cmd(Op::PageResponse, 0x999, 0x5000),
    );
    assert!(matches!(r, Some(e) if e < 0), "{r:?}");
    // A response struct cut by the end of RAM: EFAULT.
    ram[RAM_SIZE - 8..].copy_from_slice(&resp.as_bytes()[..8]);
    let r = ring(
        &mut dev,
        &mut ram,
        0x2000,
        cmd(Op::PageResponse, DEV.0, RAM_SIZE as u32 - 8),
    );
    assert_eq!(r, Some(-Errno::EFAULT.raw()));
    assert_eq!(model.outstanding(), 2);
    assert_eq!(model.violations(), 0);
    assert_eq!(dev.stats().ops.ready, 1);
    assert_eq!(dev.stats().log.len() as u64, dev.stats().doorbells);
}
