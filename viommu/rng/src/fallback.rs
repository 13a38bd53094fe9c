//! The fallback for kernels without the vDSO getrandom: the 2022 RFC design, in
//! userspace.
//!
//! - **Memory.** One mapping of [`Bucket`]s, `MAP_LOCKED` (retried without it when
//!   `RLIMIT_MEMLOCK` refuses), `MADV_WIPEONFORK` (required) and `MADV_DONTDUMP`. The
//!   buckets' lock words live in ordinary memory ([`crate::sys::mem::CellPage`]).
//! - **Buckets** are claimed by compare-and-swap, starting at the bucket of the current
//!   CPU (`sched_getcpu(3)`) and moving on while they are busy; when every bucket is
//!   busy (more concurrent draws than buckets, or nested signal handlers), the draw
//!   uses `getrandom(2)`. A signal handler that interrupts a draw simply claims
//!   another bucket.
//! - **Fast key erasure** with ChaCha20: a refill generates [`REFILL_BLOCKS`] blocks
//!   with the current key (nonce 0, counter 0); the first 32 bytes become the next key
//!   and the rest is the batch. Bytes are zeroed in the batch as they are copied out.
//!   What a request still needs after the batch is exhausted is generated straight
//!   into the caller's buffer in whole groups of 4 blocks (256 bytes: the chacha20
//!   crate makes a lone block as expensive as four), at most [`STRAIGHT_MAX`] bytes per
//!   key, and the same key stream then refills the bucket, which overwrites the key;
//!   a remainder below 256 bytes comes from the fresh batch.
//! - **Reseed** from `getrandom(2)` when the bucket's `marker` is 0 (never seeded, or
//!   wiped in a forked child) and after [`RESEED_AFTER`] bytes of output (1 MiB). A VM
//!   snapshot restore is invisible to userspace, so up to that much output may repeat
//!   across VM clones; the vDSO path does not have this limit.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use chacha20::cipher::array::Array;
use chacha20::cipher::consts::U64;
use chacha20::cipher::{KeyIvInit, StreamCipherCore};
use chacha20::variants::Ietf;
use chacha20::{ChaChaCore, Nonce, R20};
use zerocopy::{FromBytes, FromZeros, Immutable, IntoBytes, KnownLayout};

use super::bulk::GROUP;
use super::{syscall, RngError, STATS};
use crate::sys::mem::{CellPage, PageOptions};
use crate::sys::thread::{self, SignalsBlocked};

/// ChaCha20 blocks per refill (1 KiB: 32 bytes of next key, 992 bytes of batch).
pub(crate) const REFILL_BLOCKS: usize = 16;
const KEY: usize = 32;
/// Bytes of buffered output per bucket.
pub(crate) const BATCH: usize = REFILL_BLOCKS * 64 - KEY;
/// Output bytes after which a bucket reseeds from `getrandom(2)`.
pub(crate) const RESEED_AFTER: u64 = 1 << 20;
/// Bytes generated straight into the output with one key before it is erased.
pub(crate) const STRAIGHT_MAX: usize = 64 << 10;

type Block = Array<u8, U64>;

/// The key and the batch, contiguous so one refill writes both.
#[derive(FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
pub(crate) struct KeyBatch {
    pub(crate) key: [u8; KEY],
    pub(crate) batch: [u8; BATCH],
}

/// One generator. All-zero is a valid, unseeded bucket (that is what a fork wipe leaves).
#[derive(FromZeros, IntoBytes, Immutable, KnownLayout)]
#[repr(C, align(64))]
pub(crate) struct Bucket {
    /// Nonzero once seeded; reads 0 after a fork wipe.
    pub(crate) marker: u64,
    /// Output bytes since the last reseed.
    pub(crate) since_seed: u64,
    /// Next unread byte of `kb.batch`; `BATCH` means empty.
    pub(crate) pos: u32,
    _pad: [u8; 44],
    pub(crate) kb: KeyBatch,
}

/// Seed markers: nonzero, different for every reseed in this process.
static MARKERS: AtomicU64 = AtomicU64::new(0);

/// The buckets: `2 × CPUs`, at least 4, at most 64.
pub(crate) fn bucket_count() -> usize {
    (2 * thread::online_cpus()).clamp(4, 64)
}

static PAGE: OnceLock<Option<&'static CellPage<Bucket>>> = OnceLock::new();

/// The process's bucket page, mapped on first use (signals blocked). `None` if it
/// cannot be mapped with `MADV_WIPEONFORK`.
pub(crate) fn page() -> Option<&'static CellPage<Bucket>> {
    if let Some(p) = PAGE.get() {
        return *p;
    }
    let _blocked = SignalsBlocked::new();
    *PAGE.get_or_init(|| new_page(bucket_count(), true).ok())
}

/// Maps a page of `n` buckets (`wipe_on_fork: false` only for the tests' negative control).
pub(crate) fn new_page(n: usize, wipe_on_fork: bool) -> Result<&'static CellPage<Bucket>, i32> {
    CellPage::new(
        n,
        PageOptions {
            wipe_on_fork,
            lock: true,
            dont_dump: true,
        },
    )
}

/// Fills `buf` from a bucket of `page`, or with the syscall if all are busy.
pub(crate) fn fill(page: &'static CellPage<Bucket>, buf: &mut [u8]) -> Result<(), RngError> {
    if buf.is_empty() {
        return Ok(());
    }
    let n = page.len();
    let start = thread::current_cpu() % n;
    for i in 0..n {
        if let Some(mut bucket) = page.try_lock((start + i) % n) {
            return draw(&mut bucket, buf);
        }
    }
    STATS.fallback_all_busy.fetch_add(1, Ordering::Relaxed);
    syscall::fill(buf)
}

/// One draw from a locked bucket.
pub(crate) fn draw(b: &mut Bucket, mut out: &mut [u8]) -> Result<(), RngError> {
    if b.marker == 0 || b.since_seed >= RESEED_AFTER {
        reseed(b)?;
    }
    while !out.is_empty() {
        let pos = (b.pos as usize).min(BATCH);
        if pos < BATCH {
            // Copy out of the batch, zeroing every byte taken.
            let n = out.len().min(BATCH - pos);
            let (now, rest) = out.split_at_mut(n);
            let src = &mut b.kb.batch[pos..pos + n];
            now.copy_from_slice(src);
            src.fill(0);
            b.pos = (pos + n) as u32;
            b.since_seed += n as u64;
            out = rest;
            continue;
        }
        // Batch empty. Whole groups of 4 blocks go straight into the output (a group is
        // what the chacha20 crate generates efficiently; see `bulk::GROUP`).
        if out.len() >= GROUP {
            let n = (out.len() / GROUP * GROUP).min(STRAIGHT_MAX);
            let (now, rest) = out.split_at_mut(n);
            refill(b, now);
            b.since_seed += n as u64;
            out = rest;
        } else {
            refill(b, &mut []);
        }
        if b.since_seed >= RESEED_AFTER {
            reseed(b)?;
        }
    }
    Ok(())
}

/// Generates `direct.len() / 64` blocks into `direct`, then `REFILL_BLOCKS` more into the
/// key and batch (continuing the same key stream), which overwrites the key.
fn refill(b: &mut Bucket, direct: &mut [u8]) {
    let mut core = ChaChaCore::<R20, Ietf>::new((&b.kb.key).into(), &Nonce::default());
    let (blocks, _) = Block::slice_as_chunks_mut(direct);
    core.write_keystream_blocks(blocks);
    let (blocks, _) = Block::slice_as_chunks_mut(b.kb.as_mut_bytes());
    core.write_keystream_blocks(blocks);
    b.pos = 0;
    // `core` is zeroized when it drops.
}

/// A fresh key from `getrandom(2)`; the old batch is thrown away.
fn reseed(b: &mut Bucket) -> Result<(), RngError> {
    b.marker = 0;
    b.kb.batch.fill(0);
    b.pos = BATCH as u32;
    syscall::fill(&mut b.kb.key)?;
    b.since_seed = 0;
    b.marker = MARKERS.fetch_add(1, Ordering::Relaxed) + 1;
    Ok(())
}
