//! Inspection hooks for the crate's tests and benchmarks. Not a stable API.
//!
//! Everything here is read-only with respect to the generators' guarantees: it reports
//! what the kernel granted, copies state bytes the calling thread owns, or builds
//! standalone generators that the real paths never use (the raw vDSO state for the
//! benchmark, the no-wipe page for the tests' negative control).

use std::sync::atomic::Ordering;

use zerocopy::IntoBytes;

use super::{bulk, fallback, RngError, STATS};
use crate::sys;
use crate::sys::mem::CellPage;
use crate::sys::vdso::OwnedState;

/// Counters of the rare paths since the process started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// vDSO draws that found their thread's state busy (a signal handler re-entered a
    /// draw) and used the syscall.
    pub vdso_reentered: u64,
    /// vDSO draws that could not get a state and used the syscall.
    pub vdso_no_state: u64,
    /// vDSO calls that returned an error and handed the rest to the syscall.
    pub vdso_error_syscalls: u64,
    /// Fallback draws that found every bucket busy and used the syscall.
    pub fallback_all_busy: u64,
    /// Requests redone because the process forked during them.
    pub fork_redone: u64,
}

/// The current counters.
pub fn stats() -> Stats {
    Stats {
        vdso_reentered: STATS.vdso_reentered.load(Ordering::Relaxed),
        vdso_no_state: STATS.vdso_no_state.load(Ordering::Relaxed),
        vdso_error_syscalls: STATS.vdso_error_syscalls.load(Ordering::Relaxed),
        fallback_all_busy: STATS.fallback_all_busy.load(Ordering::Relaxed),
        fork_redone: STATS.fork_redone.load(Ordering::Relaxed),
    }
}

/// What the vDSO lookup and query found.
#[derive(Clone, Copy, Debug)]
pub struct VdsoInfo {
    /// The symbol looked up (`__vdso_getrandom` on x86_64).
    pub symbol: &'static str,
    /// Its required version node (`LINUX_2.6` on x86_64).
    pub version: &'static str,
    /// Address of the resolved function.
    pub symbol_addr: usize,
    /// Start of the vDSO image.
    pub image_addr: usize,
    /// Bytes of the vDSO image that were parsed.
    pub image_len: usize,
    /// `size_of_opaque_state` from the query.
    pub state_size: usize,
    /// Distance between pooled states (`round_up(size, 64)`).
    pub stride: usize,
    /// `mmap_prot` from the query.
    pub mmap_prot: i32,
    /// `mmap_flags` from the query.
    pub mmap_flags: i32,
}

/// The vDSO lookup result, or `None` if this kernel has no vDSO getrandom.
pub fn vdso_info() -> Option<VdsoInfo> {
    let v = sys::vdso::get()?;
    let (symbol, version) = sys::vdso::SYMBOL?;
    let p = v.params();
    Some(VdsoInfo {
        symbol,
        version,
        symbol_addr: v.symbol_addr(),
        image_addr: v.image().as_ptr() as usize,
        image_len: v.image().len(),
        state_size: p.size,
        stride: p.stride,
        mmap_prot: p.prot,
        mmap_flags: p.flags,
    })
}

/// Why the vDSO path is unavailable, for a test's `SKIP:` line.
pub fn vdso_absent_reason() -> &'static str {
    if sys::vdso::SYMBOL.is_none() {
        "no vDSO getrandom is known for this architecture"
    } else {
        "the kernel's vDSO has no getrandom (Linux < 6.11) or its query failed"
    }
}

/// A copy of the vDSO image the symbol was found in.
pub fn vdso_image() -> Option<Vec<u8>> {
    Some(sys::vdso::get()?.image().to_vec())
}

/// The ELF lookup used for the vDSO, on any image (the tests fuzz it): the offset of
/// the defined function `name` at version `version`, inside an executable segment.
pub fn find_vdso_symbol(image: &[u8], name: &str, version: &str) -> Option<usize> {
    sys::vdso::find_symbol(image, name, version)
}

/// The calling thread's pooled vDSO state as `(pool index, address)`, if it has one.
pub fn thread_vdso_state() -> Option<(usize, usize)> {
    let addr = sys::vdso::peek_thread_state()?;
    Some((sys::vdso::get()?.id_of(addr)?, addr))
}

/// A copy of the calling thread's vDSO state bytes, if it has a state and is not in a
/// draw.
pub fn thread_vdso_state_bytes() -> Option<Vec<u8>> {
    let v = sys::vdso::get()?;
    match sys::vdso::take_thread_state() {
        sys::vdso::Taken::State(s) => {
            let bytes = v.snapshot(&s);
            sys::vdso::put_thread_state(s);
            Some(bytes)
        }
        sys::vdso::Taken::Empty => {
            sys::vdso::clear_thread_state();
            None
        }
        sys::vdso::Taken::Busy | sys::vdso::Taken::Exited => None,
    }
}

/// The vDSO path without the bulk expansion: every byte from the thread's pooled vDSO
/// state (benchmarks compare it with [`super::fill`] to place [`super::BULK_THRESHOLD`]).
pub fn vdso_fill_unbulked(buf: &mut [u8]) -> Result<(), RngError> {
    let v = sys::vdso::get().ok_or(RngError::Unavailable(super::Path::Vdso))?;
    super::vdso::fill_small(v, buf)
}

/// Number of pooled vDSO states currently claimed by threads.
pub fn vdso_claimed_states() -> usize {
    sys::vdso::get().map_or(0, |v| v.claimed_count())
}

/// One vDSO state in a mapping of its own, called directly: no pool, no thread slot,
/// no fallback (the benchmark's "raw vDSO" baseline and the tests' controls).
pub struct RawVdso(OwnedState);

impl RawVdso {
    /// A state in memory mapped with the kernel's prot/flags, as the pool does.
    pub fn new() -> Option<Self> {
        Self::at(true, 0)
    }

    /// A state in plain `MAP_PRIVATE | MAP_ANONYMOUS` memory, which a fork copies
    /// instead of wiping (negative control: parent and child then repeat each other).
    pub fn in_plain_memory() -> Option<Self> {
        Self::at(false, 0)
    }

    /// A state at byte `offset` of a two-page mapping with the kernel's flags (an
    /// offset near the page end makes it cross a page: the vDSO then returns `-EFAULT`).
    pub fn at_offset(offset: usize) -> Option<Self> {
        Self::at(true, offset)
    }

    fn at(kernel_flags: bool, offset: usize) -> Option<Self> {
        OwnedState::new(sys::vdso::get()?, kernel_flags, offset).map(RawVdso)
    }

    /// One `getrandom` vDSO call with flags 0: the byte count or a negative errno.
    pub fn fill(&mut self, buf: &mut [u8]) -> isize {
        self.0.getrandom(buf, 0)
    }

    /// A copy of the state's bytes.
    pub fn state_bytes(&self) -> Vec<u8> {
        self.0.snapshot()
    }

    /// Address of the state.
    pub fn addr(&self) -> usize {
        self.0.addr()
    }
}

/// What the fallback page got from the kernel.
#[derive(Clone, Copy, Debug)]
pub struct FallbackInfo {
    /// Start of the bucket mapping.
    pub addr: usize,
    /// Its length.
    pub len: usize,
    /// Number of buckets.
    pub buckets: usize,
    /// Bytes per bucket.
    pub bucket_size: usize,
    /// `MAP_LOCKED` was accepted.
    pub locked: bool,
    /// `MADV_WIPEONFORK` is in effect.
    pub wipe_on_fork: bool,
    /// `MADV_DONTDUMP` is in effect.
    pub dont_dump: bool,
}

/// The fallback page, or `None` if it could not be mapped.
pub fn fallback_info() -> Option<FallbackInfo> {
    let p = fallback::page()?;
    let i = p.info();
    Some(FallbackInfo {
        addr: i.addr,
        len: i.len,
        buckets: p.len(),
        bucket_size: size_of::<fallback::Bucket>(),
        locked: i.locked,
        wipe_on_fork: i.wipe_on_fork,
        dont_dump: i.dont_dump,
    })
}

/// How many buckets of the fallback page are free right now (each is locked and
/// unlocked in turn). `None` if the page is unavailable.
pub fn fallback_free_buckets() -> Option<usize> {
    let p = fallback::page()?;
    Some((0..p.len()).filter(|&i| p.try_lock(i).is_some()).count())
}

/// One fallback draw observed from inside its bucket.
#[derive(Clone, Debug)]
pub struct FallbackProbe {
    /// Index of the bucket used.
    pub bucket: usize,
    /// The bytes the draw returned.
    pub output: Vec<u8>,
    /// The bucket's key before the draw.
    pub key_before: [u8; 32],
    /// The bucket's key after the draw.
    pub key_after: [u8; 32],
    /// Read position in the batch before the draw.
    pub pos_before: usize,
    /// Read position in the batch after the draw.
    pub pos_after: usize,
    /// The batch after the draw.
    pub batch_after: Vec<u8>,
    /// Every byte of the bucket after the draw (key, batch, counters).
    pub bucket_after: Vec<u8>,
    /// The bucket's seed marker after the draw (nonzero: seeded).
    pub marker_after: u64,
}

/// Draws `len` bytes from a free bucket of the process's fallback page and reports the
/// bucket before and after. `None` if the page is unavailable or every bucket is busy.
pub fn fallback_probe(len: usize) -> Option<Result<FallbackProbe, RngError>> {
    let p = fallback::page()?;
    let mut b = (0..p.len()).find_map(|i| p.try_lock(i))?;
    let key_before = b.kb.key;
    let pos_before = b.pos as usize;
    let mut output = vec![0u8; len];
    if let Err(e) = fallback::draw(&mut b, &mut output) {
        return Some(Err(e));
    }
    Some(Ok(FallbackProbe {
        bucket: b.index(),
        output,
        key_before,
        key_after: b.kb.key,
        pos_before,
        pos_after: b.pos as usize,
        batch_after: b.kb.batch.to_vec(),
        bucket_after: b.as_bytes().to_vec(),
        marker_after: b.marker,
    }))
}

/// A standalone fallback generator with one bucket on its own page (leaked).
pub struct FallbackGen(&'static CellPage<fallback::Bucket>);

impl FallbackGen {
    /// `wipe_on_fork: false` is the tests' negative control: a fork copies the bucket,
    /// so parent and child repeat each other.
    pub fn new(wipe_on_fork: bool) -> Option<Self> {
        fallback::new_page(1, wipe_on_fork).ok().map(FallbackGen)
    }

    /// One draw from the bucket (no fork-epoch redo, no syscall fallback when busy).
    pub fn fill(&self, buf: &mut [u8]) -> Result<(), RngError> {
        let mut b = self
            .0
            .try_lock(0)
            .ok_or(RngError::Unavailable(super::Path::Fallback))?;
        fallback::draw(&mut b, buf)
    }
}

/// Bytes per fallback refill (key + batch).
pub const FALLBACK_REFILL: usize = fallback::REFILL_BLOCKS * 64;
/// Bytes of fallback output between reseeds from `getrandom(2)`.
pub const FALLBACK_RESEED_AFTER: u64 = fallback::RESEED_AFTER;
/// Bytes generated from one bulk key at most.
pub const BULK_KEY_SPAN: usize = bulk::KEY_SPAN;

/// The bulk expansion alone: the ChaCha20 (RFC 8439) keystream of `key`, nonce 0,
/// counter 0 (tests compare it with the RFC's test vector).
pub fn bulk_expand(key: &[u8; 32], out: &mut [u8]) {
    bulk::expand(key, out);
}
