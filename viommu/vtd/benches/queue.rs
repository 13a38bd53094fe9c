//! The invalidation queue through the unit, against its baselines, in one run:
//!
//! - `decode_dispatch/unit`: a Linux submission of 16 page-selective PASID-based IOTLB
//!   invalidations + its wait, written to the queue and run by one IQT write (decode,
//!   checks, mapping to 2020 requests, vsva-viommu's checks, the software backend),
//!   against `decode_dispatch/memcpy`: copying the same 17 descriptors;
//! - `iommufd/batched_run`: the same run on the iommufd backend over the scripted
//!   nesting iommufd (one `IOMMU_HWPT_INVALIDATE` array per table per run), against
//!   `iommufd/one_call_per_descriptor`: QEMU's approach, one invalidation and one ioctl
//!   per descriptor. The calls and ioctls per run are printed before the timings.

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::sync::Arc;

use common::linux_guest::{LinuxGuest, SVA_DID};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use vm_memory::{GuestAddress, GuestMemoryMmap};
use vsva_viommu::soft::SoftwareIommu;
use vsva_viommu::{DeviceId, HostIommu, Viommu, VmConfig};
use vsva_vtd::{Msi, VtdConfig, VtdEvent, VtdUnit};
use zerocopy::IntoBytes;

const N: u64 = 16;

fn psi(pasid: u32, i: u64) -> [u64; 4] {
    [
        6 | (3 << 4) | (u64::from(SVA_DID) << 16) | (u64::from(pasid) << 32),
        (1 << 6) | (0x7f00_0000_0000 + 0x1000 * i),
        0,
        0,
    ]
}

fn run_of(pasid: u32) -> Vec<[u64; 4]> {
    (0..N).map(|i| psi(pasid, i)).collect()
}

fn bench(c: &mut Criterion) {
    // Software backend, no event log: the unit's own cost.
    let model = SoftwareIommu::with_log_capacity(HostIommu::vtd_default(), 0);
    let viommu = Viommu::new(model.clone());
    let vm = Arc::new(viommu.create_vm(VmConfig::default()));
    let mem = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), 1 << 20)]).unwrap();
    let sink: fn(VtdEvent, Msi) = |_, _| {};
    let unit = VtdUnit::new(Arc::clone(&vm), mem.clone(), sink, VtdConfig::default()).unwrap();
    unit.attach_device(0x0008, DeviceId(0x300)).unwrap();
    let mut g = LinuxGuest::new(&unit, &mem);
    assert!(g.boot());
    g.probe_device(0x0008, true, true).unwrap();
    g.bind(0x0008, 1, SVA_DID, 0x7_0000).unwrap();
    let run = run_of(1);
    let before = (unit.stats(), model.vm_state(vm.id()));
    g.submit(&run, false).unwrap();
    let after = (unit.stats(), model.vm_state(vm.id()));
    eprintln!(
        "software backend, one run of {N} + wait: {} cache_invalidate calls, {} flush",
        after.1.invalidations - before.1.invalidations,
        after.1.flushes - before.1.flushes
    );

    let mut group = c.benchmark_group("decode_dispatch");
    group.throughput(Throughput::Elements(N + 1));
    group.bench_function("unit", |b| {
        b.iter(|| g.submit(black_box(&run), false).unwrap())
    });
    let bytes: Vec<u8> = run
        .iter()
        .flatten()
        .flat_map(|w| w.to_le_bytes())
        .chain([0u8; 32])
        .collect();
    let mut dst = vec![0u8; bytes.len()];
    group.bench_function("memcpy", |b| {
        b.iter(|| dst.copy_from_slice(black_box(&bytes)));
    });
    group.finish();

    // iommufd backend over the scripted kernel.
    let (fake, iviommu, iunit, imem) = common::iommufd::unit_on_fake();
    let mut ig = LinuxGuest::new(&iunit, &imem);
    assert!(ig.boot());
    ig.probe_device(0x0008, true, true).unwrap();
    ig.bind(0x0008, 1, SVA_DID, 0x7_0000).unwrap();
    let hpasid = iunit.bindings()[0].0;
    let ivm = Arc::clone(iunit.vm());
    let calls = || fake.calls().len();
    let s0 = (iviommu.backend().stats(), calls());
    ig.submit(&run, false).unwrap();
    let s1 = (iviommu.backend().stats(), calls());
    // QEMU's approach: one invalidation, one ioctl per descriptor.
    let infos: Vec<_> = run
        .iter()
        .map(|d| {
            let w = [d[0], d[1]];
            let p = vsva_uapi::hw::vtd::PiotlbInvDesc::decode(&[w[0], w[1], 0, 0]);
            vsva_vtd::mapping::piotlb_invalidation(&p, hpasid.0, 18)
        })
        .collect();
    let one_by_one = || {
        for info in &infos {
            ivm.cache_invalidate(info.as_bytes()).unwrap();
            iviommu.backend().flush(ivm.id());
        }
    };
    one_by_one();
    let s2 = (iviommu.backend().stats(), calls());
    eprintln!(
        "iommufd backend, one run of {N} + wait: {} IOMMU_HWPT_INVALIDATE ({} entries), {} ioctls in all; one call per descriptor: {} IOMMU_HWPT_INVALIDATE, {} ioctls",
        s1.0.invalidate_calls - s0.0.invalidate_calls,
        s1.0.entries_sent - s0.0.entries_sent,
        s1.1 - s0.1,
        s2.0.invalidate_calls - s1.0.invalidate_calls,
        s2.1 - s1.1,
    );
    let mut group = c.benchmark_group("iommufd");
    group.throughput(Throughput::Elements(N));
    group.bench_function("batched_run", |b| {
        b.iter(|| ig.submit(black_box(&run), false).unwrap())
    });
    group.bench_function("one_call_per_descriptor", |b| b.iter(one_by_one));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
