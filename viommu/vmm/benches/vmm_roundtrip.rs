//! One request round trip through the mini-VMM (guest `out` → exit → command block →
//! `vsva_vfio::nesting::dispatch` → `Vm::cache_invalidate` → backend → result written →
//! `KVM_RUN` again) against the bare I/O exit round trip (the same guest loop, the same
//! doorbell, op `NOP`: the exit and the command block, no vsva processing), measured in
//! the same run.
//!
//! Both guests run the same code (`REPEAT` below: `ecx` doorbells of the block at
//! 0x2000); only the block differs. The request is a PASID-selective IOTLB invalidation
//! of a PASID the VM owns, through the VFIO nesting envelope; the software model's event
//! log is off. Each sample builds a fresh guest (not timed) and times its vCPU loop
//! ([`RunReport::elapsed`]), so a sample of `n` iterations is `n` exits plus one `hlt`.
//!
//! After the Criterion groups, an interleaved A/B run prints the per-exit medians and
//! the ratio (the number `docs/performance.md` quotes).

use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use vsva_uapi::consts::{CacheInvType, InvPasidFlags, NestingOpCode, VFIO_IOMMU_NESTING_OP};
use vsva_uapi::{CacheInvalidateInfo, Granu, InvPasidInfo, NestingOp};
use vsva_viommu::soft::SoftwareIommu;
use vsva_viommu::{DeviceId, HostIommu, Viommu, VmConfig};
use vsva_vmm::{GuestSpec, Limits, Op, PvIommu, RunReport, StartRegs, Vmm, RAM_SIZE};
use zerocopy::IntoBytes;

/// `ecx` doorbells of the block at 0x2000, then `hlt` (GNU as, `.code16`).
const REPEAT: &[u8] = &[
    0xba, 0x10, 0x05, //                     mov  $0x510, %dx
    0x66, 0xb8, 0x00, 0x20, 0x00, 0x00, //   mov  $0x2000, %eax
    0x66, 0xef, //                        1: out  %eax, (%dx)
    0x66, 0x49, //                           dec  %ecx
    0x75, 0xfa, //                           jnz  1b
    0xf4, //                                 hlt
];

const BLOCK: usize = 0x2000;
const ENVELOPE: u32 = 0x2100;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Request {
    /// Op NOP: the bare exit round trip.
    Nop,
    /// Op IOCTL: `VFIO_IOMMU_NESTING_OP` cache invalidation, PASID-selective.
    Invalidate,
}

fn block(op: Op, arg0: u32, arg_gpa: u32) -> Vec<u8> {
    [op as u32, arg0, arg_gpa, 0]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect()
}

fn vmm() -> Vmm<SoftwareIommu> {
    let model = SoftwareIommu::with_log_capacity(HostIommu::vtd_default(), 0);
    let limits = Limits {
        max_exits: u64::MAX,
        timeout: Duration::from_secs(600),
        log_capacity: 0,
    };
    Vmm::with_limits(Viommu::new(model), limits)
}

/// Runs `iters` round trips of `req` in a fresh guest; returns the timed vCPU loop.
/// Writes `req`'s command block (and, for the invalidation, a fresh PASID's envelope)
/// into `ram`; the PASID is allocated to `vm`.
fn setup(ram: &mut [u8], vm: &vsva_viommu::Vm<SoftwareIommu>, req: Request) {
    match req {
        Request::Nop => ram[BLOCK..BLOCK + 16].copy_from_slice(&block(Op::Nop, 0, 0)),
        Request::Invalidate => {
            let pasid = vm.alloc_pasid(1, (1 << 20) - 1).expect("PASID");
            let inv = CacheInvalidateInfo::new(
                CacheInvType::IOTLB,
                Granu::Pasid(InvPasidInfo {
                    flags: InvPasidFlags::PASID.bits(),
                    archid: 0,
                    pasid: u64::from(pasid),
                }),
            );
            let mut env = vec![0u8; 8 + inv.as_bytes().len()];
            NestingOp::encode_envelope(NestingOpCode::CacheInvld, inv.as_bytes(), &mut env)
                .expect("envelope");
            let e = ENVELOPE as usize;
            ram[e..e + env.len()].copy_from_slice(&env);
            ram[BLOCK..BLOCK + 16].copy_from_slice(&block(
                Op::Ioctl,
                VFIO_IOMMU_NESTING_OP,
                ENVELOPE,
            ));
        }
    }
}

fn sample(vmm: &Vmm<SoftwareIommu>, req: Request, iters: u64) -> RunReport {
    let regs = StartRegs {
        rcx: iters.clamp(1, u64::from(u32::MAX)),
        ..StartRegs::default()
    };
    let spec = GuestSpec::new("bench", REPEAT, DeviceId(1)).regs(regs);
    let mut g = vmm.create_guest(spec).expect("guest");
    let vm = std::sync::Arc::clone(g.vm());
    setup(g.ram_mut(), &vm, req);
    let report = g.run().expect("run");
    // Every request succeeded: the benchmark measures the path that does the work.
    assert_eq!(report.stats.successes, regs.rcx);
    if req == Request::Invalidate {
        assert_eq!(report.stats.ops.ioctl, regs.rcx);
    }
    report
}

fn bench(c: &mut Criterion, vmm: &Vmm<SoftwareIommu>) {
    let mut group = c.benchmark_group("vmm_roundtrip");
    for (name, req) in [
        ("bare_exit_nop", Request::Nop),
        ("pasid_invalidate", Request::Invalidate),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| sample(vmm, req, iters).elapsed)
        });
    }
    // The VMM's side alone, without KVM: the device model handling one doorbell on a
    // RAM buffer (what the round trip above adds to the exit, without the exit's noise).
    for (name, req) in [
        ("device_only_nop", Request::Nop),
        ("device_only_pasid_invalidate", Request::Invalidate),
    ] {
        let viommu = vmm.viommu().clone();
        let vm = std::sync::Arc::new(viommu.create_vm(VmConfig::default()));
        let mut ram = vec![0u8; RAM_SIZE];
        setup(&mut ram, &vm, req);
        let mut dev = PvIommu::new(viommu, vm, DeviceId(2), None, 0);
        group.bench_function(name, |b| {
            b.iter(|| {
                let r = dev.doorbell(black_box(&mut ram), 4, BLOCK as u32);
                assert_eq!(r, Some(0));
            })
        });
    }
    group.finish();
}

/// Interleaved A/B: `rounds` pairs of `per` round trips; per-exit median of each.
fn ratio(vmm: &Vmm<SoftwareIommu>, rounds: usize, per: u64) {
    let mut nop = Vec::new();
    let mut inv = Vec::new();
    for _ in 0..rounds {
        for (req, out) in [(Request::Nop, &mut nop), (Request::Invalidate, &mut inv)] {
            let r = sample(vmm, req, per);
            out.push(r.elapsed.as_nanos() as f64 / (per + 1) as f64);
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (n, i) = (median(&mut nop), median(&mut inv));
    println!(
        "vmm_roundtrip interleaved ({rounds} x {per} round trips each): bare exit (NOP) {:.0} ns, \
         PASID-selective invalidation {:.0} ns, ratio {:.3} (vsva adds {:+.1} %, {:.0} ns)",
        n,
        i,
        i / n,
        (i / n - 1.0) * 100.0,
        i - n
    );
}

fn main() {
    if let Err(e) = vsva_vmm::probe() {
        let _ = std::io::Write::write_fmt(
            &mut std::io::stderr(),
            format_args!("SKIP: vmm_roundtrip: /dev/kvm is absent or unusable ({e})\n"),
        );
        return;
    }
    let vmm = vmm();
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    bench(&mut c, &vmm);
    ratio(&vmm, 61, 10_000);
    c.final_summary();
}
