//! The system-wide PASID space shared by all VMs of a host.
//!
//! A PASID (Process Address Space ID) is a 20-bit tag; `0` is reserved, so the
//! valid host PASIDs are `1 ..= 2^20 - 1` ([`PASID_MAX`]` - 1`). Every VM on the
//! host draws its host PASIDs from one [`PasidSpace`], concurrently, from many
//! vCPU threads. The space is therefore lock-free: a hierarchical bitmap of
//! [`AtomicU64`] words, no `Mutex`, and no allocation after construction.
//!
//! Allocation takes a *start* position: the first free PASID at or after
//! `start` is claimed, wrapping around to the bottom of the requested range.
//! Callers pass a random start (see [`vsva_rng`]) so PASIDs are spread over
//! the space and not predictable from one VM to the next; finding the next
//! free PASID from any start costs `O(log N)` word operations, never a linear
//! scan over the bitmap.
//!
//! ```
//! use vsva_viommu::pasid::PasidSpace;
//!
//! let space = PasidSpace::new(); // 1 ..= 2^20 - 1
//! assert_eq!(space.capacity(), (1 << 20) - 1);
//!
//! // A VMM draws `start` from `vsva_rng`; a fixed one keeps this example exact.
//! let start = 0x1234;
//! let a = space.alloc(1, 0xf_ffff, start).unwrap();
//! assert_eq!(a, 0x1234);
//! let b = space.alloc(1, 0xf_ffff, start).unwrap();
//! assert_eq!(b, 0x1235); // `a` is taken: the next free one
//! assert_eq!(space.allocated_count(), 2);
//!
//! // A VMM restoring saved state re-claims the exact PASIDs it had.
//! assert!(space.try_claim(7));
//! assert!(!space.try_claim(7));
//!
//! assert!(space.free(a));
//! assert!(!space.free(a)); // already free
//! assert!(!space.is_allocated(a));
//!
//! // A host IOMMU with a 12-bit PASID width: 1 ..= 4095.
//! let small = PasidSpace::with_bits(12);
//! assert_eq!(small.alloc(1, u32::MAX, 5000), Some(4095)); // start and max are clamped
//! ```
//!
//! # Structure and the "full" hints
//!
//! Level 0 holds one bit per PASID value (bit `p` of the bitmap is PASID `p`;
//! bits outside the space's range, including PASID 0, are permanently set).
//! Level `k >= 1` holds one bit per word of level `k - 1`: a set bit is a
//! *hint* that the child word is full (all 64 bits set). Levels are added
//! until one has a single word; for the full 20-bit space that is
//! 16384 + 256 + 4 + 1 words (~130 KiB). Bits of a summary word that have no
//! child word are permanently set.
//!
//! A search skips every subtree whose hint says "full", so the hints must
//! never *permanently* claim that a word is full when it is not — that would
//! lose PASIDs. A hint that says "not full" for a full word is harmless: the
//! search looks at the word, finds nothing, and moves on (repairing the hint).
//!
//! The protocol (all accesses `SeqCst`, so there is a single total order `<`
//! over all of them, consistent with each word's modification order):
//!
//! 1. **Set.** Whoever sees a word become full (`fetch_or` returned
//!    `old != !0 && old | bit == !0`), or finds a full word during a search,
//!    sets the word's hint with `fetch_or` on the parent and then **re-reads**
//!    the word; if it is no longer full, it clears the hint again (rule 2
//!    applies to that clear). If the set made the parent full, the same is
//!    done one level up.
//! 2. **Clear.** Every operation that turns a full word into a non-full one
//!    (a `fetch_and` that returned `!0`: a free on a leaf, or a hint clear on a
//!    summary word) afterwards clears that word's hint in its parent, and so
//!    on up.
//!
//! *Claim:* once no operation is in flight, every set hint bit `h` (for child
//! word `c`) has `c == !0`. *Proof.* Let `S` be the last `fetch_or` that
//! turned `h` from 0 to 1; no clear of `h` follows `S` (else `h` would be 0).
//! `S`'s thread re-reads `c` at some `R > S`. If `R` saw `c` not full, that
//! thread cleared `h` after `R > S`: contradiction. So `R` saw `c` full. If `c`
//! is not full now, then some modification `T > R` of `c` turned it from full
//! into not full, and by rule 2 `T`'s thread cleared `h` after `T > S`:
//! contradiction. ∎ By induction from the leaves, a set hint then means the
//! whole subtree is allocated, so a quiescent search finds every free PASID.
//!
//! While operations are in flight a hint may be wrong in either direction for
//! a moment (between a `fetch_or` and its re-read, or between a free's leaf
//! clear and its hint clear). A wrong "not full" costs a wasted look; a wrong
//! "full" can make the hinted search skip a subtree whose last free PASID is
//! being freed or re-checked right now. So when the fast, hinted search finds
//! nothing, [`PasidSpace::alloc`] takes a **slow path** that ignores the hints:
//!
//! 3. **Exhaustive scan.** Read `frees_done`, then scan every leaf word of the
//!    range and claim the first clear bit; if none is clear, read
//!    `frees_started`. A free increments `frees_started` before it clears its
//!    bit and `frees_done` after. If the two reads are equal, no free was in
//!    flight when the scan began and none started before it ended, so no bit
//!    of the range was cleared during the scan: every word seen full was still
//!    full at the end, and the range was full at that instant. Otherwise the
//!    scan is repeated.
//!
//! So `None` is linearizable: it means every PASID of the range was allocated
//! at one instant during the call. The slow path costs one pass over the
//! range's leaf words (at most 16384 for the full space) and runs only when the
//! range is full or almost full; it is lock-free (it repeats only because
//! another thread freed a PASID, which the next pass can claim).
//! [`PasidSpace::check_invariants`] verifies the quiescent invariant.
//!
//! [`PASID_MAX`]: vsva_uapi::consts::PASID_MAX

use std::fmt;
use std::ops::RangeInclusive;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::SeqCst};

use vsva_uapi::consts::PASID_MAX;

/// The number of bits in a PASID on PCIe (and the widest host PASID space).
pub const PASID_BITS: u32 = 20;

/// A word with every bit set: a full leaf, or a summary whose children are all full.
const FULL: u64 = !0;

/// The system-wide PASID space: a lock-free allocator of host PASIDs.
///
/// `Send + Sync`; share it between VMs and vCPU threads by reference or in an
/// `Arc`. See the [module documentation](self) for the structure and the
/// concurrency argument.
pub struct PasidSpace {
    /// `levels[0]` is the leaf bitmap (bit `p` = PASID `p`); `levels[k]` for
    /// `k >= 1` holds the "child word is full" hints for `levels[k - 1]`.
    /// The last level has exactly one word.
    levels: Box<[Box<[AtomicU64]>]>,
    /// Lowest PASID of the space.
    min: u32,
    /// Highest PASID of the space (`min > max` only for an empty space).
    max: u32,
    /// Number of allocated PASIDs. Incremented *before* a claim attempt and
    /// decremented after a failed attempt or a successful free, so it never
    /// underflows and is exact whenever no operation is in flight.
    allocated: AtomicU32,
    /// Frees begun (incremented before the leaf bit is cleared): rule 3.
    frees_started: AtomicU64,
    /// Frees finished (incremented after the leaf bit is cleared): rule 3.
    frees_done: AtomicU64,
}

impl PasidSpace {
    /// The full host PASID space, `1 ..= PASID_MAX - 1` (2^20 − 1 PASIDs).
    pub fn new() -> Self {
        Self::with_range(1..=PASID_MAX - 1)
    }

    /// The PASID space of a host IOMMU supporting `bits`-bit PASIDs:
    /// `1 ..= 2^bits - 1`.
    ///
    /// `bits` above [`PASID_BITS`] (20) is clamped to 20; `bits == 0` gives an
    /// empty space (capacity 0).
    pub fn with_bits(bits: u32) -> Self {
        let bits = bits.min(PASID_BITS);
        Self::with_range(1..=(1u32 << bits) - 1)
    }

    /// A PASID space holding exactly the PASIDs in `range`, clamped to the
    /// valid `1 ..= PASID_MAX - 1` (PASID 0 is never part of a space).
    ///
    /// An empty (or entirely out-of-bounds) range gives an empty space whose
    /// [`alloc`](Self::alloc) always returns `None`.
    pub fn with_range(range: RangeInclusive<u32>) -> Self {
        let lo = (*range.start()).max(1);
        let hi = (*range.end()).min(PASID_MAX - 1);
        let (lo, hi) = if lo <= hi { (lo, hi) } else { (1, 0) };

        // Leaf level: bit p is PASID p, bits outside lo..=hi permanently set.
        let leaf_words = (hi as usize + 1).div_ceil(64);
        let leaf: Box<[AtomicU64]> = (0..leaf_words)
            .map(|w| {
                let base = w as u64 * 64;
                // Words wholly inside the range start empty; only the (at most two)
                // boundary words need a bit-by-bit mask.
                if base >= u64::from(lo) && base + 63 <= u64::from(hi) {
                    return AtomicU64::new(0);
                }
                let mut v = 0u64;
                for b in 0..64 {
                    let p = base + b;
                    if p < u64::from(lo) || p > u64::from(hi) {
                        v |= 1 << b;
                    }
                }
                AtomicU64::new(v)
            })
            .collect();

        // Summary levels, until one level has a single word. A bit is set if
        // the child word is full or does not exist.
        let mut levels = vec![leaf];
        while levels[levels.len() - 1].len() > 1 {
            let child = &levels[levels.len() - 1];
            let summary: Box<[AtomicU64]> = (0..child.len().div_ceil(64))
                .map(|j| {
                    let mut v = 0u64;
                    for b in 0..64 {
                        let c = j * 64 + b;
                        if c >= child.len() || child[c].load(SeqCst) == FULL {
                            v |= 1 << b;
                        }
                    }
                    AtomicU64::new(v)
                })
                .collect();
            levels.push(summary);
        }

        Self {
            levels: levels.into_boxed_slice(),
            min: lo,
            max: hi,
            allocated: AtomicU32::new(0),
            frees_started: AtomicU64::new(0),
            frees_done: AtomicU64::new(0),
        }
    }

    /// The lowest PASID of the space (meaningless if [`capacity`](Self::capacity) is 0).
    pub fn min(&self) -> u32 {
        self.min
    }

    /// The highest PASID of the space (meaningless if [`capacity`](Self::capacity) is 0).
    pub fn max(&self) -> u32 {
        self.max
    }

    /// The number of PASIDs in the space (`max - min + 1`, or 0 if empty).
    pub fn capacity(&self) -> u32 {
        if self.min <= self.max {
            self.max - self.min + 1
        } else {
            0
        }
    }

    /// The number of currently allocated PASIDs.
    ///
    /// Exact when no operation is in flight; while allocations race it may
    /// briefly count an attempt that is about to fail (it is clamped to
    /// [`capacity`](Self::capacity)).
    pub fn allocated_count(&self) -> u32 {
        self.allocated.load(SeqCst).min(self.capacity())
    }

    /// Whether `pasid` is part of this space (`min ..= max`).
    pub fn contains(&self, pasid: u32) -> bool {
        self.min <= pasid && pasid <= self.max
    }

    /// Whether `pasid` is currently allocated (`false` for PASIDs outside the space).
    pub fn is_allocated(&self, pasid: u32) -> bool {
        self.contains(pasid) && self.leaf(pasid).load(SeqCst) & bit(pasid) != 0
    }

    /// Claims the specific PASID `pasid`.
    ///
    /// Returns `true` if it was free and is now allocated to the caller;
    /// `false` if it was already allocated or lies outside the space. Used by
    /// VMMs restoring state (and by tests to set up occupancy).
    pub fn try_claim(&self, pasid: u32) -> bool {
        if !self.contains(pasid) {
            return false;
        }
        let word = self.leaf(pasid);
        let bit = bit(pasid);
        // Cheap pre-check: avoids touching the shared counter for taken PASIDs.
        if word.load(SeqCst) & bit != 0 {
            return false;
        }
        self.claim(word, (pasid / 64) as usize, bit)
    }

    /// Allocates the first free PASID at or after `start` within `min ..= max`,
    /// wrapping around to `min`; returns `None` if every PASID of the range is
    /// allocated.
    ///
    /// `min` and `max` are clamped to the space (so PASID 0 is never
    /// returned and `max` may exceed the capacity); `start` is clamped into
    /// the resulting range. If `min > max` after clamping, returns `None`.
    /// Pass a random `start` to spread PASIDs over the space.
    ///
    /// Costs `O(log N)` atomic word operations regardless of occupancy. When
    /// that hinted search finds nothing (the range is full, or a concurrent
    /// operation left a transient "full" hint), one exhaustive pass over the
    /// range decides: `None` means every PASID of the range was allocated at one
    /// instant during the call (rule 3 of the [module documentation](self)).
    pub fn alloc(&self, min: u32, max: u32, start: u32) -> Option<u32> {
        let lo = min.max(self.min);
        let hi = max.min(self.max);
        if lo > hi {
            return None;
        }
        let start = start.clamp(lo, hi);
        if let Some(p) = self.alloc_in(start, hi) {
            return Some(p);
        }
        if start > lo {
            if let Some(p) = self.alloc_in(lo, start - 1) {
                return Some(p);
            }
        }
        self.alloc_exhaustive(lo, hi)
    }

    /// Rule 3: claims a free PASID of `lo ..= hi` by scanning every leaf word,
    /// hints ignored; `None` only after a scan during which no free ran.
    fn alloc_exhaustive(&self, lo: u32, hi: u32) -> Option<u32> {
        let leaf = &self.levels[0];
        loop {
            let done = self.frees_done.load(SeqCst);
            for w in (lo / 64) as usize..=(hi / 64) as usize {
                let mut mask = FULL;
                if w == (lo / 64) as usize {
                    mask &= FULL << (lo % 64);
                }
                if w == (hi / 64) as usize {
                    mask &= FULL >> (63 - hi % 64);
                }
                let word = &leaf[w];
                let mut cur = word.load(SeqCst);
                while !cur & mask != 0 {
                    let b = (!cur & mask).trailing_zeros();
                    if self.claim(word, w, 1u64 << b) {
                        return Some(w as u32 * 64 + b);
                    }
                    cur = word.load(SeqCst);
                }
            }
            if self.frees_started.load(SeqCst) == done {
                return None;
            }
        }
    }

    /// Frees `pasid`. Returns `true` if it was allocated (and is now free),
    /// `false` if it was already free or lies outside the space.
    pub fn free(&self, pasid: u32) -> bool {
        if !self.contains(pasid) {
            return false;
        }
        let bit = bit(pasid);
        // Rule 3: a slow-path scan that overlaps this free sees the counters differ.
        self.frees_started.fetch_add(1, SeqCst);
        let old = self.leaf(pasid).fetch_and(!bit, SeqCst);
        self.frees_done.fetch_add(1, SeqCst);
        if old & bit == 0 {
            return false;
        }
        self.allocated.fetch_sub(1, SeqCst);
        if old == FULL {
            // Rule 2: this free turned a full word into a non-full one.
            self.clear_hint(1, (pasid / 64) as usize);
        }
        true
    }

    /// Checks the structural invariants; `Err` describes the first violation.
    ///
    /// Only meaningful while no other thread operates on the space. Verifies
    /// that bits outside the range are set, that every set "full" hint
    /// belongs to a full child word (so no PASID is lost), and that
    /// [`allocated_count`](Self::allocated_count) matches the bitmap. Costs
    /// `O(N)`; meant for tests and debugging.
    pub fn check_invariants(&self) -> Result<(), String> {
        let leaf = &self.levels[0];
        let mut count = 0u64;
        for (w, word) in leaf.iter().enumerate() {
            let v = word.load(SeqCst);
            for b in 0..64 {
                let p = w as u64 * 64 + b;
                let set = v & (1 << b) != 0;
                let inside = p >= u64::from(self.min) && p <= u64::from(self.max);
                if !inside && !set {
                    return Err(format!("bit for out-of-range PASID {p:#x} is clear"));
                }
                if inside && set {
                    count += 1;
                }
            }
        }
        let counter = u64::from(self.allocated.load(SeqCst));
        if count != counter {
            return Err(format!(
                "{count} PASIDs set in the bitmap, counter says {counter}"
            ));
        }
        for k in 1..self.levels.len() {
            let child = &self.levels[k - 1];
            for (j, word) in self.levels[k].iter().enumerate() {
                let v = word.load(SeqCst);
                for b in 0..64 {
                    let c = j * 64 + b;
                    let set = v & (1 << b) != 0;
                    if c >= child.len() {
                        if !set {
                            return Err(format!("padding bit {b} of level {k} word {j} is clear"));
                        }
                    } else if set && child[c].load(SeqCst) != FULL {
                        return Err(format!(
                            "stale full hint: level {k} says level {} word {c} is full, it is {:#x}",
                            k - 1,
                            child[c].load(SeqCst)
                        ));
                    }
                }
            }
        }
        if self.levels[self.levels.len() - 1].len() != 1 {
            return Err("top level has more than one word".into());
        }
        Ok(())
    }

    /// The leaf word holding `pasid` (which must be `<= self.max`).
    fn leaf(&self, pasid: u32) -> &AtomicU64 {
        &self.levels[0][(pasid / 64) as usize]
    }

    /// Tries to set `bit` in leaf word `w` (`word`); on success the caller owns it.
    fn claim(&self, word: &AtomicU64, w: usize, bit: u64) -> bool {
        // Count first, so a racing free of this PASID can never underflow the counter.
        self.allocated.fetch_add(1, SeqCst);
        let old = word.fetch_or(bit, SeqCst);
        if old & bit != 0 {
            self.allocated.fetch_sub(1, SeqCst);
            return false;
        }
        if old | bit == FULL {
            self.mark_full(0, w);
        }
        true
    }

    /// Claims the first free PASID in `from ..= to` (`from <= to`, both in the space).
    fn alloc_in(&self, from: u32, to: u32) -> Option<u32> {
        let leaf = &self.levels[0];
        let last = (to / 64) as usize;
        let mut pos = from;
        loop {
            let w = (pos / 64) as usize;
            let mut mask = FULL << (pos % 64);
            if w == last {
                mask &= FULL >> (63 - to % 64);
            }
            let word = &leaf[w];
            let mut cur = word.load(SeqCst);
            while !cur & mask != 0 {
                let b = (!cur & mask).trailing_zeros();
                let bit = 1u64 << b;
                // Count first (see `claim`), then race for the bit.
                self.allocated.fetch_add(1, SeqCst);
                let old = word.fetch_or(bit, SeqCst);
                if old & bit == 0 {
                    if old | bit == FULL {
                        self.mark_full(0, w);
                    }
                    return Some(w as u32 * 64 + b);
                }
                // Lost the race for this bit: retry with the fresh value.
                self.allocated.fetch_sub(1, SeqCst);
                cur = old | bit;
            }
            if cur == FULL {
                // We got here via a "not full" hint (or it is the start word):
                // make sure the hint is set, so later searches skip the word.
                self.repair(0, w);
            }
            if w >= last {
                return None;
            }
            let next = self.next_candidate(w + 1)?;
            if next > last {
                return None;
            }
            pos = next as u32 * 64;
        }
    }

    /// The first leaf word index `>= i` whose "full" hint is clear, or `None`.
    ///
    /// Climbs the summary levels until a word has a clear hint at or after the
    /// current position, then descends through clear hints. A word found full
    /// on the way down (a stale "not full" hint) is repaired and skipped.
    /// Positions only move forward, so this terminates; without stale hints
    /// it touches at most two words per level.
    fn next_candidate(&self, i: usize) -> Option<usize> {
        let top = self.levels.len() - 1;
        let mut level = 0;
        let mut i = i;
        'climb: loop {
            // Invariant: every leaf word from the original `i` up to the
            // first leaf below word `i` of `level` is full or hinted full.
            loop {
                if i >= self.levels[level].len() {
                    return None;
                }
                if level == top {
                    break;
                }
                let parent = self.levels[level + 1][i / 64].load(SeqCst);
                let free = !parent & (FULL << (i % 64));
                if free != 0 {
                    i = i / 64 * 64 + free.trailing_zeros() as usize;
                    break;
                }
                i = i / 64 + 1;
                level += 1;
            }
            // Word `i` at `level` had a clear hint: descend to the leaves.
            while level > 0 {
                let v = self.levels[level][i].load(SeqCst);
                if v == FULL {
                    self.repair(level, i);
                    i += 1;
                    continue 'climb;
                }
                i = i * 64 + (!v).trailing_zeros() as usize;
                level -= 1;
            }
            return Some(i);
        }
    }

    /// Word `i` of `level` was seen full: set its hint if it is clear.
    fn repair(&self, level: usize, i: usize) {
        if level + 1 < self.levels.len()
            && self.levels[level + 1][i / 64].load(SeqCst) & (1 << (i % 64)) == 0
        {
            self.mark_full(level, i);
        }
    }

    /// Rule 1: word `i` of `level` was seen full; set its hint, re-read the
    /// word, undo if it is no longer full, and continue upwards if the parent
    /// became full.
    fn mark_full(&self, mut level: usize, mut i: usize) {
        while level + 1 < self.levels.len() {
            let parent = &self.levels[level + 1][i / 64];
            let bit = 1u64 << (i % 64);
            let old = parent.fetch_or(bit, SeqCst);
            if self.levels[level][i].load(SeqCst) != FULL {
                // A concurrent clear raced us: withdraw the hint (rule 2
                // applies if our set had made the parent full).
                self.clear_hint(level + 1, i);
                return;
            }
            if old & bit != 0 || old | bit != FULL {
                // Either someone else set it (and handles the parent), or
                // the parent is not full: nothing more to propagate.
                return;
            }
            level += 1;
            i /= 64;
        }
    }

    /// Rule 2: clears the hint for child word `i` in `level` (`>= 1`), and
    /// propagates upwards while the cleared word was full.
    fn clear_hint(&self, mut level: usize, mut i: usize) {
        while level < self.levels.len() {
            let old = self.levels[level][i / 64].fetch_and(!(1u64 << (i % 64)), SeqCst);
            if old != FULL {
                return;
            }
            i /= 64;
            level += 1;
        }
    }
}

/// The bit of `pasid` within its leaf word.
fn bit(pasid: u32) -> u64 {
    1 << (pasid % 64)
}

impl Default for PasidSpace {
    /// Same as [`PasidSpace::new`].
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for PasidSpace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasidSpace")
            .field("min", &self.min)
            .field("max", &self.max)
            .field("capacity", &self.capacity())
            .field("allocated", &self.allocated_count())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The state a free leaves between clearing its leaf bit and clearing the word's
    /// "full" hint (or a `mark_full` between its `fetch_or` and its re-read): a hint says
    /// full, the word is not. The hinted search skips the word; the slow path must still
    /// find its free PASID, so `alloc` is `None` only for a range that is really full.
    #[test]
    fn a_transient_full_hint_does_not_make_alloc_fail() {
        let space = PasidSpace::with_bits(8); // 1 ..= 255: leaf words 0..=3
        for p in 1..=255 {
            assert!(space.try_claim(p));
        }
        assert_eq!(space.alloc(1, 255, 1), None, "really full");
        // Free PASID 70 (word 1) the way `free` does, stopped before the hint clear.
        space.levels[0][1].fetch_and(!bit(70), SeqCst);
        space.allocated.fetch_sub(1, SeqCst);
        assert_ne!(
            space.levels[1][0].load(SeqCst) & (1 << 1),
            0,
            "hint still set"
        );
        for start in [1, 64, 70, 128, 255] {
            assert_eq!(space.alloc(1, 255, start), Some(70), "start {start}");
            space.levels[0][1].fetch_and(!bit(70), SeqCst);
            space.allocated.fetch_sub(1, SeqCst);
        }
        // A hint over a partly free word high in the tree, in a wider space.
        let wide = PasidSpace::new();
        for p in 1..=4095 {
            assert!(wide.try_claim(p));
        }
        wide.levels[0][10].fetch_and(!bit(10 * 64 + 5), SeqCst);
        assert_eq!(wide.alloc(1, 4095, 1), Some(10 * 64 + 5));
    }
}
