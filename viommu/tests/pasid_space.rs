//! Tests of the system-wide PASID space (`vsva_viommu::pasid`).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::sync::Barrier;

use proptest::prelude::*;
use vsva_uapi::consts::PASID_MAX;
use vsva_viommu::pasid::PasidSpace;

/// Random starts for the tests: a tiny xorshift64*, seeded per test so
/// failures reproduce. The production start comes from `vsva_rng`;
/// these tests only need uniform, not secret, starts.
struct Starts(u64);

impl Starts {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    fn next_u32(&mut self) -> u32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32
    }

    /// Uniform in `lo ..= hi` (modulo bias is irrelevant here).
    fn range(&mut self, lo: u32, hi: u32) -> u32 {
        lo + self.next_u32() % (hi - lo + 1)
    }
}

/// The reference model: the first PASID not in `set`, at or after the clamped
/// start within the clamped range, wrapping to the bottom.
fn model_alloc(
    set: &BTreeSet<u32>,
    space: (u32, u32),
    min: u32,
    max: u32,
    start: u32,
) -> Option<u32> {
    let lo = min.max(space.0);
    let hi = max.min(space.1);
    if lo > hi {
        return None;
    }
    let s = start.clamp(lo, hi);
    (s..=hi).chain(lo..s).find(|p| !set.contains(p))
}

#[test]
fn space_is_send_sync_and_sized() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<PasidSpace>();

    let full = PasidSpace::new();
    assert_eq!((full.min(), full.max()), (1, PASID_MAX - 1));
    assert_eq!(full.capacity(), PASID_MAX - 1);
    assert_eq!(full.allocated_count(), 0);
    full.check_invariants().unwrap();

    let small = PasidSpace::with_bits(12);
    assert_eq!(
        (small.min(), small.max(), small.capacity()),
        (1, 4095, 4095)
    );
    // Widths beyond 20 bits are clamped; 0 bits is empty.
    assert_eq!(PasidSpace::with_bits(32).capacity(), PASID_MAX - 1);
    let empty = PasidSpace::with_bits(0);
    assert_eq!(empty.capacity(), 0);
    assert_eq!(empty.alloc(0, u32::MAX, 0), None);
    assert!(!empty.try_claim(1));
    empty.check_invariants().unwrap();
    // Ranges are clamped to 1 ..= PASID_MAX - 1.
    let r = PasidSpace::with_range(0..=u32::MAX);
    assert_eq!((r.min(), r.max()), (1, PASID_MAX - 1));
    let (ten, five) = (10, 5);
    assert_eq!(PasidSpace::with_range(ten..=five).capacity(), 0);
    assert_eq!(PasidSpace::with_range(PASID_MAX..=u32::MAX).capacity(), 0);
}

#[test]
fn pasid_zero_is_never_returned_or_claimable() {
    let space = PasidSpace::with_bits(8);
    assert!(!space.try_claim(0));
    assert!(!space.is_allocated(0));
    assert!(!space.free(0));
    // Explicitly asking for 0 (as min, max and start) yields 1.
    assert_eq!(space.alloc(0, 0xff, 0), Some(1));
    // A window holding only PASID 0 is empty.
    assert_eq!(space.alloc(0, 0, 0), None);
    let mut got = vec![1];
    while let Some(p) = space.alloc(0, u32::MAX, 0) {
        got.push(p);
    }
    got.sort_unstable();
    assert_eq!(got, (1..=255).collect::<Vec<_>>());
}

#[test]
fn range_bounds_are_respected() {
    let space = PasidSpace::new();
    // min == max: exactly that PASID, then None.
    assert_eq!(space.alloc(500, 500, 0), Some(500));
    assert_eq!(space.alloc(500, 500, 12345), None);
    // min > max: None, and nothing is allocated.
    assert_eq!(space.alloc(600, 599, 600), None);
    assert_eq!(space.allocated_count(), 1);
    // max beyond the space is clamped; start beyond max is clamped to max.
    assert_eq!(
        space.alloc(PASID_MAX - 3, u32::MAX, u32::MAX),
        Some(PASID_MAX - 1)
    );
    // start below min is clamped to min.
    assert_eq!(space.alloc(1000, 2000, 3), Some(1000));
    // A small host width clamps max.
    let small = PasidSpace::with_bits(12);
    assert_eq!(small.alloc(4000, 1 << 19, 1 << 19), Some(4095));
    assert_eq!(small.alloc(4096, u32::MAX, 0), None);
    // Every returned PASID lies in the requested window.
    let mut rng = Starts::new(1);
    for _ in 0..2000 {
        let a = rng.range(1, 4095);
        let b = rng.range(a, 4095.min(a + 40));
        if let Some(p) = small.alloc(a, b, rng.next_u32()) {
            assert!((a..=b).contains(&p), "{p} not in {a}..={b}");
        }
    }
    small.check_invariants().unwrap();
    space.check_invariants().unwrap();
}

#[test]
fn allocation_wraps_around_from_start() {
    let space = PasidSpace::with_bits(10);
    // Occupy the tail of the window: 1000 ..= 1023, plus 64 ..= 127 (a full word).
    for p in (1000..=1023).chain(64..=127) {
        assert!(space.try_claim(p));
    }
    assert_eq!(space.alloc(1, 1023, 1010), Some(1));
    assert_eq!(space.alloc(1, 1023, 1010), Some(2));
    // Within a sub-window the wrap goes to the window's min, skipping the full word.
    assert_eq!(space.alloc(60, 130, 125), Some(128));
    assert_eq!(space.alloc(60, 127, 125), Some(60));
    // The same word: free bits below start are found only after wrapping.
    assert!(space.try_claim(200));
    assert_eq!(space.alloc(195, 205, 200), Some(201));
    assert_eq!(space.alloc(195, 200, 200), Some(195));
    space.check_invariants().unwrap();
}

#[test]
fn exhaustion_of_a_12_bit_space_then_free_one() {
    let space = PasidSpace::with_bits(12);
    let mut rng = Starts::new(2);
    let mut seen = vec![false; 4096];
    for _ in 0..4095 {
        let p = space
            .alloc(1, 4095, rng.next_u32())
            .expect("space not yet full");
        assert!((1..=4095).contains(&p));
        assert!(!seen[p as usize], "{p} handed out twice");
        seen[p as usize] = true;
    }
    assert_eq!(space.allocated_count(), 4095);
    for _ in 0..100 {
        assert_eq!(space.alloc(0, u32::MAX, rng.next_u32()), None);
    }
    space.check_invariants().unwrap();
    // Free one (in the middle of a word) and one at a word boundary: exactly those come back.
    for victim in [1234, 64, 4095, 1] {
        assert!(space.free(victim));
        assert!(!space.free(victim));
        assert_eq!(space.allocated_count(), 4094);
        assert_eq!(space.alloc(1, 4095, rng.next_u32()), Some(victim));
        assert_eq!(space.alloc(1, 4095, rng.next_u32()), None);
    }
    space.check_invariants().unwrap();
}

#[test]
fn exhaustion_of_the_full_20_bit_space() {
    let space = PasidSpace::new();
    let mut rng = Starts::new(3);
    let mut seen = vec![false; PASID_MAX as usize];
    for _ in 0..PASID_MAX - 1 {
        let p = space
            .alloc(1, PASID_MAX - 1, rng.next_u32())
            .expect("space not yet full");
        assert!(p != 0 && p < PASID_MAX);
        assert!(!seen[p as usize], "{p} handed out twice");
        seen[p as usize] = true;
    }
    assert_eq!(space.allocated_count(), PASID_MAX - 1);
    assert_eq!(space.alloc(1, PASID_MAX - 1, rng.next_u32()), None);
    space.check_invariants().unwrap();
    let victim = 0xabcde;
    assert!(space.free(victim));
    assert_eq!(space.alloc(1, PASID_MAX - 1, rng.next_u32()), Some(victim));
    assert_eq!(space.alloc(1, PASID_MAX - 1, rng.next_u32()), None);
}

#[test]
fn free_and_claim_report_previous_state() {
    let space = PasidSpace::with_bits(8);
    assert!(!space.free(5), "free of a free PASID");
    assert!(space.try_claim(5));
    assert!(space.is_allocated(5));
    assert!(!space.try_claim(5), "double claim");
    assert_eq!(space.alloc(5, 5, 5), None);
    assert!(space.free(5));
    assert!(!space.is_allocated(5));
    assert!(!space.try_claim(256), "outside an 8-bit space");
    assert!(!space.free(256));
    assert!(!space.is_allocated(256));
    assert_eq!(space.allocated_count(), 0);
}

/// Runs `threads` threads allocating (random starts, sometimes random
/// windows) and freeing concurrently; an owner table detects any PASID handed
/// out twice while held. Afterwards, the counter must match, and once
/// everything is freed, the whole space must be allocatable again in order —
/// which fails if a stale "full" hint survived.
fn hammer(space: &PasidSpace, threads: u32, ops: u32, max_held: usize) {
    let owner: Vec<AtomicU32> = (0..=space.max()).map(|_| AtomicU32::new(0)).collect();
    let go = Barrier::new(threads as usize);
    let held: Vec<Vec<u32>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (owner, go) = (&owner, &go);
                s.spawn(move || {
                    go.wait();
                    let mut rng = Starts::new(100 + u64::from(t));
                    let mut held = Vec::with_capacity(max_held);
                    let (lo, hi) = (space.min(), space.max());
                    for _ in 0..ops {
                        let r = rng.next_u32() % 8;
                        if held.len() < max_held && r < 4 {
                            let (a, b) = if r == 0 {
                                let a = rng.range(lo, hi);
                                (a, rng.range(a, hi))
                            } else {
                                (lo, hi)
                            };
                            if let Some(p) = space.alloc(a, b, rng.next_u32()) {
                                assert!((a..=b).contains(&p));
                                let prev = owner[p as usize].swap(t + 1, SeqCst);
                                assert_eq!(
                                    prev,
                                    0,
                                    "PASID {p} handed to thread {t} while held by {}",
                                    prev.wrapping_sub(1)
                                );
                                held.push(p);
                            }
                        } else if r < 5 && held.len() < max_held {
                            let p = rng.range(lo, hi);
                            if space.try_claim(p) {
                                let prev = owner[p as usize].swap(t + 1, SeqCst);
                                assert_eq!(prev, 0, "PASID {p} claimed by thread {t} while held");
                                held.push(p);
                            }
                        } else if !held.is_empty() {
                            let i = rng.next_u32() as usize % held.len();
                            let p = held.swap_remove(i);
                            // Release ownership before the PASID can be reallocated.
                            assert_eq!(owner[p as usize].swap(0, SeqCst), t + 1);
                            assert!(space.free(p), "free of held PASID {p} failed");
                        }
                    }
                    held
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    let total: usize = held.iter().map(Vec::len).sum();
    assert_eq!(space.allocated_count() as usize, total);
    space.check_invariants().unwrap();
    for p in held.iter().flatten() {
        assert!(space.is_allocated(*p));
        assert!(space.free(*p));
    }
    assert_eq!(space.allocated_count(), 0);
    space.check_invariants().unwrap();
    // Every PASID is allocatable again, found through the hints in order.
    for p in space.min()..=space.max() {
        assert_eq!(space.alloc(space.min(), space.max(), space.min()), Some(p));
    }
    assert_eq!(space.alloc(0, u32::MAX, 0), None);
    space.check_invariants().unwrap();
}

#[test]
fn concurrent_alloc_free_small_space_near_full() {
    // 8 threads × up to 128 held over 1023 PASIDs: the space runs full, words
    // fill and drain constantly, stressing the full-hint protocol.
    let space = PasidSpace::with_bits(10);
    hammer(&space, 8, 40_000, 128);
}

#[test]
fn concurrent_alloc_free_tiny_space_contended() {
    // Four leaf words, 8 threads: every word is full most of the time, so
    // "became full" (hint set + re-read) races with frees constantly.
    let space = PasidSpace::with_bits(8);
    hammer(&space, 8, 100_000, 40);
}

#[test]
fn concurrent_alloc_free_small_space_odd_range() {
    // An unaligned range with a partially used first and last word.
    let space = PasidSpace::with_range(37..=1500);
    hammer(&space, 8, 30_000, 183);
}

#[test]
fn concurrent_alloc_free_full_space() {
    let space = PasidSpace::new();
    hammer(&space, 8, 20_000, 2000);
}

#[test]
fn random_starts_spread_allocations() {
    let space = PasidSpace::new();
    let mut rng = Starts::new(4);
    let got: Vec<u32> = (0..1000)
        .map(|_| {
            space
                .alloc(1, PASID_MAX - 1, rng.next_u32() % PASID_MAX)
                .unwrap()
        })
        .collect();
    let adjacent = got.windows(2).filter(|w| w[0].abs_diff(w[1]) == 1).count();
    assert!(
        adjacent < 50,
        "{adjacent} of 999 consecutive allocations are adjacent"
    );
    let mut sorted = got.clone();
    sorted.sort_unstable();
    let adjacent_sorted = sorted.windows(2).filter(|w| w[1] - w[0] == 1).count();
    assert!(adjacent_sorted < 50, "{adjacent_sorted} adjacent values");
    let span = sorted[999] - sorted[0];
    assert!(span > PASID_MAX / 2, "span {span:#x}");
    // And a fixed start is sequential (the contrast that makes the above meaningful).
    let fixed: Vec<u32> = (0..10)
        .map(|_| space.alloc(1, PASID_MAX - 1, 0x7_0000).unwrap())
        .collect();
    assert!(fixed.windows(2).all(|w| w[1] > w[0] && w[1] - w[0] <= 2));
}

#[derive(Clone, Debug)]
enum Op {
    Alloc { min: u32, max: u32, start: u32 },
    Free(u32),
    TryClaim(u32),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u32..600, 0u32..600, 0u32..700).prop_map(|(min, max, start)| Op::Alloc { min, max, start }),
        1 => (0u32..600, 0u32..100, 0u32..700).prop_map(|(min, len, start)| Op::Alloc { min, max: min + len, start }),
        2 => (0u32..600).prop_map(Op::Free),
        2 => (0u32..600).prop_map(Op::TryClaim),
    ]
}

proptest! {
    #[test]
    fn matches_btreeset_model(
        lo in 0u32..300,
        len in 0u32..400,
        ops in prop::collection::vec(op(), 1..400),
    ) {
        let space = PasidSpace::with_range(lo..=lo + len);
        let bounds = (lo.max(1), lo + len);
        let mut model = BTreeSet::new();
        for op in ops {
            match op {
                Op::Alloc { min, max, start } => {
                    let want = model_alloc(&model, bounds, min, max, start);
                    prop_assert_eq!(space.alloc(min, max, start), want, "{:?}", op);
                    if let Some(p) = want {
                        model.insert(p);
                    }
                }
                Op::Free(p) => prop_assert_eq!(space.free(p), model.remove(&p)),
                Op::TryClaim(p) => {
                    let inside = (bounds.0..=bounds.1).contains(&p);
                    prop_assert_eq!(space.try_claim(p), inside && model.insert(p));
                }
            }
            prop_assert_eq!(space.allocated_count() as usize, model.len());
            prop_assert_eq!(space.check_invariants(), Ok(()));
        }
        for p in 0..800 {
            prop_assert_eq!(space.is_allocated(p), model.contains(&p));
        }
    }
}
