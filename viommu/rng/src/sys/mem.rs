//! Anonymous memory: `mmap(2)`, `madvise(2)`, `munmap(2)`.
//!
//! - [`Mapping`]: an owned anonymous mapping (unmapped on drop unless leaked).
//! - [`map_zeroed_words`]: a leaked array of atomic words in plain private memory.
//! - [`fork_canary`]: one atomic word in a `MADV_WIPEONFORK` page, nonzero in the
//!   process that set it and zero in a child forked after that.
//! - [`CellPage`]: an array of try-lock cells whose contents live in a wipe-on-fork,
//!   optionally locked, not-dumped page, and whose ownership words live in a
//!   [`ClaimTable`] in ordinary memory.

use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::OnceLock;

use zerocopy::FromZeros;

use super::claims::ClaimTable;
use super::thread;

/// An owned anonymous mapping, unmapped on drop.
pub(crate) struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: a Mapping is only an address range; it gives no access to its bytes by itself,
// so moving or sharing the handle between threads cannot race.
unsafe impl Send for Mapping {}
// SAFETY: as above: `&Mapping` exposes only the address and length.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// `mmap(2)` of `len` bytes (rounded up to pages) of fresh anonymous memory with the
    /// given protection and flags (`MAP_ANONYMOUS` is up to the caller: the vDSO's
    /// flags include it). Returns the `errno` on failure.
    pub(crate) fn anonymous(len: usize, prot: i32, flags: i32) -> Result<Self, i32> {
        let len = round_up(len.max(1), thread::page_size()).ok_or(libc::ENOMEM)?;
        // SAFETY: mmap(2) with a null hint and fd -1 creates a new mapping that overlaps
        // nothing the program owns; it dereferences no caller memory.
        let ptr = unsafe { libc::mmap(std::ptr::null_mut(), len, prot, flags, -1, 0) };
        if ptr == libc::MAP_FAILED {
            return Err(super::errno());
        }
        let ptr = NonNull::new(ptr.cast::<u8>()).ok_or(libc::ENOMEM)?;
        Ok(Mapping { ptr, len })
    }

    /// `madvise(2)` over the whole mapping. Returns the `errno` on failure.
    pub(crate) fn advise(&self, advice: i32) -> Result<(), i32> {
        // SAFETY: the range is exactly this live mapping; the advice values used here
        // (MADV_WIPEONFORK, MADV_DONTDUMP) change fork and core-dump behaviour only and
        // never invalidate memory the program is using in this process.
        let rc = unsafe { libc::madvise(self.ptr.as_ptr().cast(), self.len, advice) };
        if rc == 0 {
            Ok(())
        } else {
            Err(super::errno())
        }
    }

    /// The first byte.
    pub(crate) fn addr(&self) -> usize {
        self.ptr.as_ptr() as usize
    }

    /// The base pointer.
    pub(crate) fn ptr(&self) -> NonNull<u8> {
        self.ptr
    }

    /// Length in bytes (whole pages).
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Keeps the mapping for the rest of the process.
    pub(crate) fn leak(self) {
        std::mem::forget(self);
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: munmap(2) of exactly the range mmap returned; every borrow of its bytes
        // is tied to `&self`/`&mut self` of its owner, which is being dropped.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// `x` rounded up to a multiple of the power of two `to`.
pub(crate) fn round_up(x: usize, to: usize) -> Option<usize> {
    Some(x.checked_add(to - 1)? & !(to - 1))
}

/// A leaked array of `len` atomic words, all zero, in plain private anonymous memory
/// (no malloc, so usable on paths a signal handler may reach).
pub(crate) fn map_zeroed_words(len: usize) -> Option<&'static [AtomicUsize]> {
    let bytes = len.checked_mul(size_of::<AtomicUsize>())?;
    let m = Mapping::anonymous(
        bytes,
        libc::PROT_READ | libc::PROT_WRITE,
        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
    )
    .ok()?;
    let ptr = m.ptr().cast::<AtomicUsize>();
    m.leak();
    // SAFETY: the mapping is at least `bytes` long, page aligned (so aligned for
    // AtomicUsize), zero-filled (a valid AtomicUsize is any bit pattern), and leaked, so
    // the slice stays valid for 'static; nothing else refers to it.
    Some(unsafe { std::slice::from_raw_parts(ptr.as_ptr(), len) })
}

/// One atomic word in a private `MADV_WIPEONFORK` page, mapped on first use: whatever a
/// process stores there reads as 0 in its children. `None` if the kernel lacks
/// `MADV_WIPEONFORK` (before 4.14) or mapping failed.
#[inline]
pub(crate) fn fork_canary() -> Option<&'static AtomicU64> {
    static CANARY: OnceLock<Option<&'static AtomicU64>> = OnceLock::new();
    if let Some(c) = CANARY.get() {
        return *c;
    }
    // One-time set-up with signals blocked: a handler on this thread never finds it half done.
    let _blocked = thread::SignalsBlocked::new();
    *CANARY.get_or_init(|| {
        let m = Mapping::anonymous(
            size_of::<AtomicU64>(),
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
        )
        .ok()?;
        m.advise(libc::MADV_WIPEONFORK).ok()?;
        let ptr = m.ptr().cast::<AtomicU64>();
        m.leak();
        // SAFETY: a leaked, page-aligned, zero-filled private page: a valid AtomicU64
        // for 'static. The wipe at fork happens in the child's copy only, and turns it
        // into zero, which is again a valid AtomicU64.
        Some(unsafe { ptr.as_ref() })
    })
}

/// How a [`CellPage`] is mapped.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PageOptions {
    /// `MADV_WIPEONFORK`: the cells read as zero in a forked child. Required if set.
    pub(crate) wipe_on_fork: bool,
    /// Try `MAP_LOCKED` first (never swapped); retried without if refused.
    pub(crate) lock: bool,
    /// `MADV_DONTDUMP` (best effort): the cells are left out of core dumps.
    pub(crate) dont_dump: bool,
}

/// What a [`CellPage`] got from the kernel.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PageInfo {
    /// First byte of the cells' mapping.
    pub(crate) addr: usize,
    /// Length of the mapping.
    pub(crate) len: usize,
    /// `MAP_LOCKED` was accepted.
    pub(crate) locked: bool,
    /// `MADV_WIPEONFORK` is in effect.
    pub(crate) wipe_on_fork: bool,
    /// `MADV_DONTDUMP` is in effect.
    pub(crate) dont_dump: bool,
}

/// `len` cells of `T`, each behind a try-lock whose ownership word is in a
/// [`ClaimTable`] (ordinary memory), while the cells themselves live in a page mapped
/// with [`PageOptions`]. Leaked: it lives for the rest of the process.
///
/// Wipe on fork: in a child, every cell reads as all-zero bytes, which is a valid `T`
/// (`T: FromZeros`). The lock words are *not* wiped, so a draw that was interrupted by
/// a signal handler calling `fork()` still owns its cell in the child; cells held by the
/// parent's other threads are freed by the claim table's atfork handler.
pub(crate) struct CellPage<T> {
    cells: NonNull<T>,
    claims: ClaimTable,
    info: PageInfo,
    _owns: PhantomData<T>,
}

// SAFETY: access to each cell is serialised by its claim word (compare-and-swap, Acquire
// on claim and Release on release), exactly like a Mutex<T>, so sharing the page between
// threads is sound when T can be sent between threads.
unsafe impl<T: Send> Sync for CellPage<T> {}
// SAFETY: as above; the page is only a handle to memory that is never unmapped.
unsafe impl<T: Send> Send for CellPage<T> {}

impl<T: FromZeros + Send> CellPage<T> {
    /// Maps `len` zeroed cells and their claim table; leaked. Returns the `errno` on
    /// failure (`EINVAL` when `wipe_on_fork` is asked for and unsupported).
    pub(crate) fn new(len: usize, opts: PageOptions) -> Result<&'static Self, i32> {
        let page = thread::page_size();
        if len == 0 || align_of::<T>() > page {
            return Err(libc::EINVAL);
        }
        let bytes = len.checked_mul(size_of::<T>()).ok_or(libc::ENOMEM)?;
        let prot = libc::PROT_READ | libc::PROT_WRITE;
        let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
        let (m, locked) = match opts.lock {
            true => match Mapping::anonymous(bytes, prot, flags | libc::MAP_LOCKED) {
                Ok(m) => (m, true),
                // RLIMIT_MEMLOCK (EAGAIN), no memory (ENOMEM) or not permitted: unlocked.
                Err(_) => (Mapping::anonymous(bytes, prot, flags)?, false),
            },
            false => (Mapping::anonymous(bytes, prot, flags)?, false),
        };
        let wipe_on_fork = match opts.wipe_on_fork {
            true => {
                m.advise(libc::MADV_WIPEONFORK)?;
                true
            }
            false => false,
        };
        let dont_dump = opts.dont_dump && m.advise(libc::MADV_DONTDUMP).is_ok();
        let claims = ClaimTable::new(len).ok_or(libc::ENOMEM)?;
        let info = PageInfo {
            addr: m.addr(),
            len: m.len(),
            locked,
            wipe_on_fork,
            dont_dump,
        };
        let cells = m.ptr().cast::<T>();
        m.leak();
        Ok(Box::leak(Box::new(CellPage {
            cells,
            claims,
            info,
            _owns: PhantomData,
        })))
    }
}

impl<T> CellPage<T> {
    /// Number of cells.
    pub(crate) fn len(&self) -> usize {
        self.claims.len()
    }

    /// What the kernel granted.
    pub(crate) fn info(&self) -> PageInfo {
        self.info
    }

    /// Locks cell `i` if nobody (this thread included) holds it.
    pub(crate) fn try_lock(&'static self, i: usize) -> Option<CellGuard<T>> {
        // `then`, not `then_some`: a guard built for a failed claim would release the
        // owner's claim when dropped.
        self.claims
            .try_claim(i)
            .then(|| CellGuard { page: self, i })
    }
}

/// Exclusive access to one cell of a [`CellPage`]; unlocks on drop.
pub(crate) struct CellGuard<T: 'static> {
    page: &'static CellPage<T>,
    i: usize,
}

impl<T> CellGuard<T> {
    /// The cell's index.
    pub(crate) fn index(&self) -> usize {
        self.i
    }

    fn ptr(&self) -> *mut T {
        // SAFETY: `i < len` (try_claim rejects out-of-range indices), and the mapping
        // holds `len` cells of T, so the offset stays inside it.
        unsafe { self.page.cells.as_ptr().add(self.i) }
    }
}

impl<T> Deref for CellGuard<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the cell is in bounds and aligned (page-aligned base, T-sized stride),
        // initialised (zero-filled memory is a valid T: FromZeros, and only valid Ts are
        // written), and this guard's claim gives exclusive access until it drops. A fork
        // wipe replaces the bytes with zeros, again a valid T.
        unsafe { &*self.ptr() }
    }
}

impl<T> DerefMut for CellGuard<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes this the only live reference.
        unsafe { &mut *self.ptr() }
    }
}

impl<T> Drop for CellGuard<T> {
    fn drop(&mut self) {
        self.page.claims.release(self.i);
    }
}
