//! The mini-VMM under /dev/kvm with tiny hand-assembled guests (their bytes and assembly
//! are in `vmm_support`): the doorbell protocol end to end, two VMs on one vIOMMU, and
//! every way a run can end. Prints a loud SKIP line and returns where KVM is unusable.

mod vmm_support;

use std::time::Duration;

use vmm_support::*;
use vsva_uapi::consts::VFIO_IOMMU_PASID_REQUEST;
use vsva_uapi::{Errno, PasidRequest};
use vsva_viommu::soft::SoftwareIommu;
use vsva_viommu::{DeviceId, HostIommu, Viommu};
use vsva_vmm::{GuestSpec, Limits, Op, StartRegs, UnexpectedExit, Vmm, VmmError, RAM_SIZE};
use zerocopy::IntoBytes;

fn vmm() -> (SoftwareIommu, Vmm<SoftwareIommu>) {
    let model = SoftwareIommu::new(HostIommu::vtd_default());
    (model.clone(), Vmm::new(Viommu::new(model)))
}

fn ecx(n: u64) -> StartRegs {
    StartRegs {
        rcx: n,
        ..StartRegs::default()
    }
}

fn word(ram: &[u8], gpa: usize) -> i32 {
    i32::from_le_bytes(ram[gpa..gpa + 4].try_into().unwrap())
}

#[test]
fn nop_loop_counts_every_doorbell() {
    if !kvm_usable("nop_loop_counts_every_doorbell") {
        return;
    }
    let (_, vmm) = vmm();
    let spec = GuestSpec::new("nop", REPEAT, DeviceId(1))
        .regs(ecx(1000))
        .preload(BLOCKS_GPA, cmd(Op::Nop, 0, 0));
    let mut g = vmm.create_guest(spec).unwrap();
    let r = g.run().unwrap();
    assert_eq!(r.stats.doorbells, 1000);
    assert_eq!(r.stats.ops.nop, 1000);
    assert_eq!(r.stats.successes, 1000);
    assert_eq!(r.stats.exits, 1001, "1000 doorbells and the hlt");
    assert_eq!(r.stats.bad_doorbells, 0);
    assert!(r.stats.errnos.is_empty());
    let report = r.guest.expect("the guest wrote its report");
    assert_eq!(report.requests_sent, 0);
    assert_eq!(
        word(g.ram(), BLOCKS_GPA + 12),
        0,
        "NOP's result written back"
    );
}

#[test]
fn alloc_and_free_a_pasid_from_two_vms_at_once() {
    if !kvm_usable("alloc_and_free_a_pasid_from_two_vms_at_once") {
        return;
    }
    let (model, vmm) = vmm();
    let spec = |name: &str, dev: u32, image: &[u8]| {
        GuestSpec::new(name, image, DeviceId(dev))
            .preload(0x2000, cmd(Op::Ioctl, VFIO_IOMMU_PASID_REQUEST, 0x2100))
            .preload(0x2010, cmd(Op::Ioctl, VFIO_IOMMU_PASID_REQUEST, 0x2110))
            .preload(0x2100, PasidRequest::alloc(1, (1 << 20) - 1).as_bytes())
            .preload(0x2110, PasidRequest::free(0, 0).as_bytes())
    };
    // Guest b stops after its alloc: the same code cut right after the first `out`.
    let alloc_only = [&ALLOC_FREE[..11], &[0xf4][..]].concat();
    let mut guests = vec![
        vmm.create_guest(spec("a", 0x100, ALLOC_FREE)).unwrap(),
        vmm.create_guest(spec("b", 0x200, &alloc_only)).unwrap(),
    ];
    let reports: Vec<_> = vmm
        .run_all(&mut guests)
        .into_iter()
        .map(Result::unwrap)
        .collect();

    // a: PASID p allocated (result ≥ 1), then freed (0); it owns nothing afterwards.
    let a = &reports[0];
    assert_eq!(a.guest.unwrap().requests_sent, 2);
    assert_eq!(a.stats.ops.ioctl, 2);
    let pa = word(guests[0].ram(), 0x200c);
    assert!(pa >= 1, "alloc returned {pa}");
    assert_eq!(word(guests[0].ram(), 0x201c), 0, "free returned 0");
    assert_eq!(a.stats.log[0].result, pa);
    assert!(guests[0].vm().snapshot().pasids.is_empty());

    // b: owns exactly the PASID it was given, a different one from a's.
    let b = &reports[1];
    assert_eq!(b.stats.ops.ioctl, 1);
    assert!(b.guest.is_none(), "b wrote no report");
    let pb = word(guests[1].ram(), 0x200c);
    assert!(pb >= 1);
    assert_eq!(
        guests[1]
            .vm()
            .snapshot()
            .pasids
            .into_iter()
            .map(|p| p.0)
            .collect::<Vec<_>>(),
        vec![pb as u32]
    );
    assert_eq!(
        word(guests[1].ram(), 0x201c),
        0x7fff_ffff,
        "b never rang block 2"
    );
    assert_eq!(model.violations(), 0);

    // Dropping b's guest tears its VM down: its PASID returns to the space.
    assert!(vmm.viommu().pasid_space().is_allocated(pb as u32));
    drop(guests);
    assert!(!vmm.viommu().pasid_space().is_allocated(pb as u32));
}

#[test]
fn every_request_gets_a_result_or_is_counted_bad() {
    if !kvm_usable("every_request_gets_a_result_or_is_counted_bad") {
        return;
    }
    let (_, vmm) = vmm();
    let end = RAM_SIZE as u32;
    // (block, expected result)
    let cases: Vec<(Vec<u8>, i32)> = vec![
        (cmd(Op::Nop, 0, 0), 0),
        (block(99, 0, 0), -Errno::EINVAL.raw()),
        // PASID request whose struct starts 8 bytes before the end of RAM: EFAULT.
        (
            cmd(Op::Ioctl, VFIO_IOMMU_PASID_REQUEST, end - 8),
            -Errno::EFAULT.raw(),
        ),
        // ... and one outside RAM.
        (
            cmd(Op::Ioctl, VFIO_IOMMU_PASID_REQUEST, end + 64),
            -Errno::EFAULT.raw(),
        ),
        // A fault buffer that runs past RAM.
        (cmd(Op::ReadFaults, 128, end - 64), -Errno::EFAULT.raw()),
        // A fault buffer in RAM with nothing queued: 0 bytes.
        (cmd(Op::ReadFaults, 128, 0x3000), 0),
        (cmd(Op::FaultStatus, 0, 0), 0),
        (cmd(Op::Ready, 0, 0), 0),
        // A response to nothing (zeroed struct: argsz 0 is EINVAL at decode).
        (cmd(Op::PageResponse, 7, 0x3000), -Errno::EINVAL.raw()),
        // An unknown VFIO request number.
        (cmd(Op::Ioctl, 0x3b00, 0x3000), -Errno::ENOTTY.raw()),
    ];
    let mut spec = GuestSpec::new("cases", BLOCKS, DeviceId(7)).regs(ecx(cases.len() as u64));
    for (i, (b, _)) in cases.iter().enumerate() {
        spec = spec.preload(BLOCKS_GPA + 16 * i, b.clone());
    }
    let mut g = vmm.create_guest(spec).unwrap();
    let r = g.run().unwrap();
    assert_eq!(r.guest.unwrap().requests_sent as usize, cases.len());
    assert_eq!(r.stats.doorbells as usize, cases.len());
    for (i, (_, want)) in cases.iter().enumerate() {
        assert_eq!(word(g.ram(), BLOCKS_GPA + 16 * i + 12), *want, "case {i}");
        assert_eq!(r.stats.log[i].result, *want, "case {i}");
    }
    assert_eq!(r.stats.ops.unknown, 1);
    assert_eq!(r.stats.errno_count(Errno::EFAULT), 3);
}

#[test]
fn bad_doorbells_are_ignored_and_counted() {
    if !kvm_usable("bad_doorbells_are_ignored_and_counted") {
        return;
    }
    let (_, vmm) = vmm();
    let spec = GuestSpec::new("bad", BAD_DOORBELLS, DeviceId(1))
        .preload(BLOCKS_GPA, cmd(Op::Nop, 0, 0))
        .preload(RAM_SIZE - 8, vec![0xaa; 8]);
    let mut g = vmm.create_guest(spec).unwrap();
    let r = g.run().unwrap();
    assert_eq!(r.stats.bad_doorbells, 3);
    assert_eq!(r.stats.doorbells, 1);
    assert_eq!(&g.ram()[RAM_SIZE - 8..], &[0xaa; 8], "nothing written");
}

#[test]
fn other_exits_end_the_run_with_a_typed_error() {
    if !kvm_usable("other_exits_end_the_run_with_a_typed_error") {
        return;
    }
    let (_, vmm) = vmm();
    let mut g = vmm
        .create_guest(GuestSpec::new("p80", PORT_80, DeviceId(1)))
        .unwrap();
    assert_eq!(
        g.run().unwrap_err(),
        VmmError::UnexpectedExit(UnexpectedExit::IoOut {
            port: 0x80,
            size: 1
        })
    );
    let mut g = vmm
        .create_guest(GuestSpec::new("mmio", MMIO_WRITE, DeviceId(2)))
        .unwrap();
    assert_eq!(
        g.run().unwrap_err(),
        VmmError::UnexpectedExit(UnexpectedExit::MmioWrite {
            addr: RAM_SIZE as u64,
            len: 1
        })
    );
}

#[test]
fn runs_are_bounded() {
    if !kvm_usable("runs_are_bounded") {
        return;
    }
    let limits = Limits {
        max_exits: 100,
        timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let vmm = Vmm::with_limits(
        Viommu::new(SoftwareIommu::new(HostIommu::vtd_default())),
        limits,
    );
    // A loop with no exits at all: the watchdog kicks it out of KVM_RUN.
    let mut g = vmm
        .create_guest(GuestSpec::new("spin", SPIN, DeviceId(1)))
        .unwrap();
    let t = std::time::Instant::now();
    assert_eq!(g.run().unwrap_err(), VmmError::Timeout(limits.timeout));
    assert!(t.elapsed() < Duration::from_secs(5));
    // A doorbell loop longer than the exit budget.
    let spec = GuestSpec::new("long", REPEAT, DeviceId(2))
        .regs(ecx(1_000_000))
        .preload(BLOCKS_GPA, cmd(Op::Nop, 0, 0));
    let mut g = vmm.create_guest(spec).unwrap();
    assert_eq!(g.run().unwrap_err(), VmmError::ExitLimit(100));
    assert_eq!(g.stats().doorbells, 100);
}

#[test]
fn a_device_belongs_to_one_vm() {
    if !kvm_usable("a_device_belongs_to_one_vm") {
        return;
    }
    let (_, vmm) = vmm();
    let _a = vmm
        .create_guest(GuestSpec::new("a", SPIN, DeviceId(5)))
        .unwrap();
    let err = vmm
        .create_guest(GuestSpec::new("b", SPIN, DeviceId(5)))
        .unwrap_err();
    assert!(matches!(err, VmmError::Attach(_)), "{err:?}");
    let err = vmm
        .create_guest(GuestSpec::new("big", vec![0u8; RAM_SIZE], DeviceId(6)))
        .unwrap_err();
    assert!(matches!(err, VmmError::ImageTooLarge { .. }), "{err:?}");
}
