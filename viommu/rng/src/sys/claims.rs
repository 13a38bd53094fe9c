//! Ownership words: who holds which slot (vDSO state or fallback bucket).
//!
//! A [`ClaimTable`] is an array of words in plain private memory (never wiped at fork,
//! never dropped under memory pressure, never allocated with malloc): 0 means free,
//! anything else is the [token](super::thread::token) of the owning thread. Claiming is a
//! compare-and-swap, so a slot can never have two owners, whatever the bookkeeping above
//! it does.
//!
//! **Fork.** The child of `fork()` has one thread, the caller. Slots held by the
//! parent's other threads would stay claimed forever; a `pthread_atfork(3)` child
//! handler, registered when the first table is created, frees every claim whose owner
//! is not the forking thread. The forking thread keeps its own claims, including one
//! held by a draw that a signal handler interrupted to call `fork()`.

use std::ops::Range;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::sync::Once;

use super::mem;
use super::thread;

/// A fixed-size table of ownership words, leaked (`'static`).
pub(crate) struct ClaimTable {
    words: &'static [AtomicUsize],
}

/// Tables the atfork child handler resets; the first `MAX_TABLES` created are tracked.
const MAX_TABLES: usize = 64;

struct Registered {
    ptr: AtomicPtr<AtomicUsize>,
    len: AtomicUsize,
}

static REGISTRY: [Registered; MAX_TABLES] = [const {
    Registered {
        ptr: AtomicPtr::new(std::ptr::null_mut()),
        len: AtomicUsize::new(0),
    }
}; MAX_TABLES];
static NEXT: AtomicUsize = AtomicUsize::new(0);
static ATFORK: Once = Once::new();

impl ClaimTable {
    /// Maps a table of `len` free words and registers it for the after-fork reset.
    pub(crate) fn new(len: usize) -> Option<Self> {
        let words = mem::map_zeroed_words(len)?;
        ATFORK.call_once(register_atfork);
        let i = NEXT.fetch_add(1, Ordering::Relaxed);
        if let Some(reg) = REGISTRY.get(i) {
            reg.len.store(words.len(), Ordering::Relaxed);
            reg.ptr.store(words.as_ptr().cast_mut(), Ordering::Release);
        }
        Some(ClaimTable { words })
    }

    /// Number of slots.
    pub(crate) fn len(&self) -> usize {
        self.words.len()
    }

    /// Claims slot `i` for the calling thread if it is free.
    pub(crate) fn try_claim(&self, i: usize) -> bool {
        self.words.get(i).is_some_and(|w| {
            w.load(Ordering::Relaxed) == 0
                && w.compare_exchange(0, thread::token(), Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
        })
    }

    /// Claims the first free slot in `range`, if any.
    pub(crate) fn claim_first_free(&self, range: Range<usize>) -> Option<usize> {
        range.into_iter().find(|&i| self.try_claim(i))
    }

    /// Frees slot `i` (its owner's accesses happen-before the next claim).
    pub(crate) fn release(&self, i: usize) {
        if let Some(w) = self.words.get(i) {
            w.store(0, Ordering::Release);
        }
    }

    /// Whether slot `i` is claimed (for tests and statistics).
    pub(crate) fn is_claimed(&self, i: usize) -> bool {
        self.words
            .get(i)
            .is_some_and(|w| w.load(Ordering::Relaxed) != 0)
    }
}

fn register_atfork() {
    // SAFETY: pthread_atfork(3) records three optional `extern "C" fn()` handlers that
    // live forever; only the child handler is given.
    unsafe { libc::pthread_atfork(None, None, Some(after_fork_child)) };
}

/// Runs in the child right after `fork()`, on its only thread: frees every claim that
/// the parent's other threads held. Those threads do not exist in the child, so nothing
/// can use the slots they held. Lock-free and allocation-free.
extern "C" fn after_fork_child() {
    let me = thread::token();
    let n = NEXT.load(Ordering::Relaxed).min(MAX_TABLES);
    for reg in &REGISTRY[..n] {
        let ptr = reg.ptr.load(Ordering::Acquire);
        if ptr.is_null() {
            continue;
        }
        let len = reg.len.load(Ordering::Relaxed);
        // SAFETY: `ptr`/`len` describe a table mapped by `mem::map_zeroed_words` and
        // leaked, so it is live for the rest of the process (and of the child, which has
        // a copy of it); `len` was stored before `ptr` was published with Release.
        let words = unsafe { std::slice::from_raw_parts(ptr.cast_const(), len) };
        for w in words {
            let owner = w.load(Ordering::Relaxed);
            if owner != 0 && owner != me {
                w.store(0, Ordering::Relaxed);
            }
        }
    }
}
