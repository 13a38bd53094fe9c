//! Fork detection for whole requests: the *fork epoch*.
//!
//! A request that spans several steps (a multi-call vDSO loop, the bulk expansion, a
//! fallback draw, a chunked syscall loop) writes part of the caller's buffer before it
//! is done. If a signal handler calls `fork()` in the middle, the child inherits the
//! part already written *and* continues the same computation, so parent and child could
//! return the same bytes. The vDSO protects one call with the kernel's generation
//! counter, which userspace cannot read; this module gives the whole request the same
//! protection.
//!
//! The epoch is a word in a private `MADV_WIPEONFORK` page ([`crate::sys::mem::fork_canary`]):
//! nonzero in the process that set it, zero in a child. [`begin`] reads it (setting it
//! to a fresh value if it is zero); [`unchanged`] compares at the end. A fresh value is
//! always above every value this process's ancestors stored (a shadow counter in
//! ordinary memory, which a child inherits, hands them out), so a child that resets the
//! word on another thread still cannot reproduce the value an interrupted request saw.

use std::sync::atomic::{compiler_fence, AtomicU64, Ordering};

use crate::sys::mem::fork_canary;

/// Every epoch value this process (and its ancestors) ever stored is `<=` this.
static SHADOW: AtomicU64 = AtomicU64::new(0);

/// The current fork epoch (nonzero), or 0 if the kernel has no `MADV_WIPEONFORK`.
#[inline]
pub(crate) fn begin() -> u64 {
    let Some(word) = fork_canary() else {
        return 0;
    };
    let now = word.load(Ordering::Acquire);
    let epoch = if now != 0 {
        now
    } else {
        let fresh = SHADOW.fetch_add(1, Ordering::Relaxed) + 1;
        match word.compare_exchange(0, fresh, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => fresh,
            Err(other) => other,
        }
    };
    // The request's work must not be moved before this read.
    compiler_fence(Ordering::SeqCst);
    epoch
}

/// Whether the process is still the one in which [`begin`] returned `epoch` (no fork
/// happened in between, as seen from this thread).
#[inline]
pub(crate) fn unchanged(epoch: u64) -> bool {
    // The request's work must not be moved after this read.
    compiler_fence(Ordering::SeqCst);
    match fork_canary() {
        Some(word) => word.load(Ordering::Acquire) == epoch,
        None => true,
    }
}

/// Whether fork detection is available (bulk expansion needs it).
pub(crate) fn available() -> bool {
    fork_canary().is_some()
}
