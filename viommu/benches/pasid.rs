//! PASID space: one alloc + free pair from a random start, at several
//! occupancies, against a linear-scan bitmap baseline measured in the same run.
//!
//! Run with `cargo bench -p vsva-viommu --bench pasid`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use vsva_uapi::consts::PASID_MAX;
use vsva_viommu::pasid::PasidSpace;

/// Source of random starts and occupancy positions.
///
/// A tiny xorshift64*, seeded once, so the `hierarchical` / `linear-scan`
/// comparison measures the allocators and not the RNG; `hierarchical+rng`
/// adds the real draw from `vsva_rng`.
struct Starts(u64);

impl Starts {
    fn new() -> Self {
        Self(0x853c_49e6_748f_ea9b)
    }

    fn next_u32(&mut self) -> u32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32
    }

    /// A start in `1 ..= PASID_MAX - 1`.
    fn pasid(&mut self) -> u32 {
        1 + self.next_u32() % (PASID_MAX - 1)
    }
}

/// The baseline: a plain single-threaded bitmap with a find-first-zero
/// linear scan (word at a time, `trailing_zeros`) from the start, wrapping.
struct LinearBitmap {
    words: Vec<u64>,
}

impl LinearBitmap {
    fn new() -> Self {
        let mut words = vec![0u64; (PASID_MAX / 64) as usize];
        words[0] = 1; // PASID 0 is reserved
        Self { words }
    }

    fn try_claim(&mut self, p: u32) -> bool {
        let (w, bit) = ((p / 64) as usize, 1u64 << (p % 64));
        let old = self.words[w];
        self.words[w] |= bit;
        old & bit == 0
    }

    fn alloc(&mut self, start: u32) -> Option<u32> {
        let n = self.words.len();
        let first = (start / 64) as usize;
        let masked = !self.words[first] & (!0u64 << (start % 64));
        let found = if masked != 0 {
            Some((first, masked.trailing_zeros()))
        } else {
            // The rest of the bitmap, then wrap around (including the
            // start word's low bits).
            (first + 1..n)
                .chain(0..=first)
                .find(|&w| self.words[w] != !0)
                .map(|w| (w, (!self.words[w]).trailing_zeros()))
        };
        let (w, b) = found?;
        self.words[w] |= 1 << b;
        Some(w as u32 * 64 + b)
    }

    fn free(&mut self, p: u32) {
        self.words[(p / 64) as usize] &= !(1u64 << (p % 64));
    }
}

/// How the occupied PASIDs are placed.
#[derive(Clone, Copy)]
enum Layout {
    /// At uniformly random positions.
    Random,
    /// One contiguous block from PASID 1 (the linear scan's worst case).
    Clustered,
}

/// Both allocators, occupied to `percent`% of the space with the same PASIDs.
fn setup(percent: u32, layout: Layout, rng: &mut Starts) -> (PasidSpace, LinearBitmap) {
    let space = PasidSpace::new();
    let mut linear = LinearBitmap::new();
    let target = u64::from(space.capacity()) * u64::from(percent) / 100;
    match layout {
        Layout::Random => {
            while u64::from(space.allocated_count()) < target {
                let p = rng.pasid();
                if space.try_claim(p) {
                    assert!(linear.try_claim(p));
                }
            }
        }
        Layout::Clustered => {
            for p in 1..=target as u32 {
                assert!(space.try_claim(p) && linear.try_claim(p));
            }
        }
    }
    (space, linear)
}

fn alloc_free_pair(c: &mut Criterion) {
    let mut rng = Starts::new();
    let mut group = c.benchmark_group("pasid_alloc_free");
    let cases = [
        ("0%", 0, Layout::Random),
        ("50%", 50, Layout::Random),
        ("90%", 90, Layout::Random),
        ("99%", 99, Layout::Random),
        ("99%-clustered", 99, Layout::Clustered),
    ];
    for (name, percent, layout) in cases {
        let (space, mut linear) = setup(percent, layout, &mut rng);
        group.bench_with_input(BenchmarkId::new("hierarchical", name), &(), |b, _| {
            b.iter(|| {
                let p = space.alloc(1, PASID_MAX - 1, rng.pasid()).unwrap();
                black_box(p);
                space.free(p)
            })
        });
        // The same pair with the start drawn from vsva's RNG, as `Vm::alloc_pasid`
        // draws it: what one allocation really costs.
        group.bench_with_input(BenchmarkId::new("hierarchical+rng", name), &(), |b, _| {
            b.iter(|| {
                let r = vsva_rng::u32().unwrap();
                let start = 1 + ((u64::from(r) * u64::from(PASID_MAX - 1)) >> 32) as u32;
                let p = space.alloc(1, PASID_MAX - 1, start).unwrap();
                black_box(p);
                space.free(p)
            })
        });
        group.bench_with_input(BenchmarkId::new("linear-scan", name), &(), |b, _| {
            b.iter(|| {
                let p = linear.alloc(rng.pasid()).unwrap();
                black_box(p);
                linear.free(p)
            })
        });
        assert_eq!(
            u64::from(space.allocated_count()),
            u64::from(space.capacity()) * u64::from(percent) / 100
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = alloc_free_pair
}
criterion_main!(benches);
