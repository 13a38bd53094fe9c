//! The vDSO-style RNG against its baselines, per request size.
//!
//! One criterion group per size (`rng/<bytes>`, throughput in bytes) with:
//! - `vsva_fill`: [`vsva_rng::fill`], the best path (vDSO + bulk expansion here);
//! - `vsva_vdso_unbulked`: the pooled vDSO path without the bulk expansion (where the
//!   two cross is where `BULK_THRESHOLD` belongs);
//! - `vsva_fallback`: the userspace fast-key-erasure buckets;
//! - `syscall`: `getrandom(2)` (the `Path::Syscall` loop);
//! - `raw_vdso`: one `__vdso_getrandom` call through our sys wrapper with one state of
//!   its own (no pool, no thread slot, no fork epoch): the floor for small draws;
//! - `thread_rng`: rand 0.10's `ThreadRng::fill_bytes` (ChaCha12, no erasure, no fork
//!   or VM-fork safety), for scale.
//!
//! Targets: a 4-byte `vsva_fill` within 1.15× of `raw_vdso` and ≥ 10× faster than
//! `syscall`; at 64 KiB ≥ 4× `raw_vdso`'s throughput. The chacha20 crate's AVX-512
//! backend is opt-in; the repository's `.cargo/config.toml` turns it on. Compare
//! `cargo bench -p vsva-rng --bench rng` with the AVX2-only build,
//! `RUSTFLAGS="" cargo bench -p vsva-rng --bench rng`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rand::Rng;
use vsva_rng::{testing, Path};

const SIZES: [usize; 7] = [4, 16, 32, 64, 256, 4096, 65536];

fn bench_sizes(c: &mut Criterion) {
    let mut raw = testing::RawVdso::new();
    if raw.is_none() {
        eprintln!(
            "SKIP: raw_vdso and vsva_vdso_unbulked: {}",
            testing::vdso_absent_reason()
        );
    }
    let fallback = vsva_rng::available(Path::Fallback);
    let mut thread_rng = rand::rng();
    for size in SIZES {
        let mut buf = vec![0u8; size];
        // Every measured function must work before it is timed.
        vsva_rng::fill(&mut buf).expect("fill");
        vsva_rng::fill_with(Path::Syscall, &mut buf).expect("syscall");
        let mut g = c.benchmark_group(format!("rng/{size}"));
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_function(BenchmarkId::from_parameter("vsva_fill"), |b| {
            b.iter(|| vsva_rng::fill(black_box(&mut buf)).expect("fill"));
        });
        if let Some(raw) = raw.as_mut() {
            testing::vdso_fill_unbulked(&mut buf).expect("vdso");
            g.bench_function(BenchmarkId::from_parameter("vsva_vdso_unbulked"), |b| {
                b.iter(|| testing::vdso_fill_unbulked(black_box(&mut buf)).expect("vdso"));
            });
            assert_eq!(raw.fill(&mut buf), size as isize);
            g.bench_function(BenchmarkId::from_parameter("raw_vdso"), |b| {
                b.iter(|| black_box(raw.fill(black_box(&mut buf))));
            });
        }
        if fallback {
            vsva_rng::fill_with(Path::Fallback, &mut buf).expect("fallback");
            g.bench_function(BenchmarkId::from_parameter("vsva_fallback"), |b| {
                b.iter(|| {
                    vsva_rng::fill_with(Path::Fallback, black_box(&mut buf)).expect("fallback")
                });
            });
        }
        g.bench_function(BenchmarkId::from_parameter("syscall"), |b| {
            b.iter(|| vsva_rng::fill_with(Path::Syscall, black_box(&mut buf)).expect("syscall"));
        });
        g.bench_function(BenchmarkId::from_parameter("thread_rng"), |b| {
            b.iter(|| thread_rng.fill_bytes(black_box(&mut buf)));
        });
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50);
    targets = bench_sizes
}
criterion_main!(benches);
