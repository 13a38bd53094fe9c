//! vsva-rng: a vDSO-style CSPRNG: the kernel's vDSO `getrandom` when present, a
//! fork-safe userspace fallback otherwise, and `getrandom(2)` under both.
//!
//! vsva-viommu's PASID allocator draws a random start position on every allocation, so draws of
//! a few bytes must be cheap, safe across `fork()`, threads and signal handlers, and
//! never fail silently.
//!
//! # Paths
//!
//! | [`Path`] | when | what |
//! |---|---|---|
//! | [`Path::Vdso`] | Linux 6.11+ (x86_64; 6.12+ arm64, loongarch64) | `__vdso_getrandom`, found in the vDSO's ELF dynamic symbols, with one kernel state per thread (pooled and reused when threads exit). Requests above [`BULK_THRESHOLD`] bytes take a fresh 32-byte vDSO key for that request only and expand it with SIMD ChaCha20 (the vDSO's own ChaCha is one block at a time). |
//! | [`Path::Fallback`] | kernels without it (4.14+) | a userspace ChaCha20 fast-key-erasure generator: per-CPU buckets claimed by compare-and-swap, in a `MAP_LOCKED`, `MADV_WIPEONFORK`, `MADV_DONTDUMP` page, reseeded from `getrandom(2)` after a fork wipe and after every MiB of output. |
//! | [`Path::Syscall`] | always (3.17+) | `getrandom(2)`, looping on short reads and `EINTR`. |
//!
//! [`fill`] uses the best available path. [`fill_with`] forces one (tests, benchmarks).
//!
//! # Guarantees
//!
//! - **Fork.** A child never repeats its parent's output, on every path: vDSO states
//!   are `MAP_DROPPABLE` (wiped in the child, so the kernel rekeys them), fallback
//!   buckets are `MADV_WIPEONFORK`, and a request that a signal handler interrupts to
//!   call `fork()` is redone from scratch in the child (the *fork epoch*, a word in a
//!   wipe-on-fork page, is compared at the end of every request).
//! - **Threads.** A vDSO state belongs to one thread at a time (an atomic claim word
//!   holds the owner), and a fallback bucket to one draw at a time. After `fork()` the
//!   claims of the parent's other threads are released in the child, so the child's
//!   threads reuse them, never sharing one.
//! - **Signals.** A handler that draws while its thread is inside a draw uses the
//!   syscall (vDSO path) or another bucket (fallback path); it never touches the state
//!   in use. Draws are async-signal-safe (no locks, no allocation) except for one-time
//!   set-up, which runs with signals blocked: the process's first use of each path
//!   (vDSO lookup, `mmap`, `pthread_atfork(3)`, `pthread_key_create(3)`), and a thread's
//!   first vDSO draw, which registers its exit hook with `pthread_setspecific(3)` (no
//!   allocation in glibc for the first 32 keys of a process). Draw once on a thread
//!   before a handler on it may draw.
//! - **Forward secrecy.** Output is erased from every buffer it passes through (vDSO
//!   states and fallback batches zero consumed bytes; keys are overwritten by the next
//!   refill or zeroized after use).
//! - **VM snapshots.** The vDSO path is rekeyed by the kernel on a VM-fork reseed
//!   (vmgenid); the fallback cannot see one, so a restored clone may repeat up to 1 MiB
//!   of a bucket's output (its reseed interval).
//! - **No panics.** Every function returns [`RngError`] instead; the syscall is the
//!   last resort of every path.
//!
//! # Example
//!
//! ```
//! use vsva_rng::Path;
//!
//! # fn main() -> Result<(), vsva_rng::RngError> {
//! // A 20-bit PASID start position: one 4-byte draw.
//! let start = vsva_rng::u32()? & 0xf_ffff;
//! assert!(start < 1 << 20);
//!
//! // Any length; the best path is chosen.
//! let mut key = [0u8; 32];
//! vsva_rng::fill(&mut key)?;
//! assert_ne!(key, [0u8; 32]);
//!
//! // A specific path, e.g. for a benchmark; the syscall path always exists.
//! assert!(vsva_rng::available(Path::Syscall));
//! let mut nonce = [0u8; 12];
//! vsva_rng::fill_with(Path::Syscall, &mut nonce)?;
//! match vsva_rng::fill_with(Path::Vdso, &mut nonce) {
//!     Ok(()) => assert!(vsva_rng::available(Path::Vdso)),
//!     Err(e) => assert_eq!(e, vsva_rng::RngError::Unavailable(Path::Vdso)), // kernel < 6.11
//! }
//! # Ok(())
//! # }
//! ```

#![deny(unsafe_code)]

use std::sync::atomic::AtomicU64;
use std::sync::OnceLock;

mod bulk;
mod epoch;
mod fallback;
mod syscall;
// The only module with `allow(unsafe_code)`: the vDSO, getrandom(2), mmap, signals.
#[allow(unsafe_code)]
mod sys;
#[doc(hidden)]
pub mod testing;
mod vdso;

/// Requests longer than this many bytes take the bulk path of [`Path::Vdso`]: a fresh
/// 32-byte vDSO key expanded with SIMD ChaCha20 for that request only. 128, or 96 in a
/// build with the chacha20 crate's AVX-512 backend (`--cfg chacha20_avx512`, which the
/// repository's `.cargo/config.toml` sets), where the two costs cross on the benchmark
/// machine.
pub const BULK_THRESHOLD: usize = bulk::THRESHOLD;

/// A source of random bytes, for [`fill_with`] and [`available`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Path {
    /// The kernel's vDSO `getrandom` (Linux 6.11+), with per-thread pooled states and
    /// ChaCha20 expansion of a fresh vDSO key above [`BULK_THRESHOLD`] bytes.
    Vdso,
    /// The userspace generator: per-CPU ChaCha20 fast-key-erasure buckets in
    /// wipe-on-fork memory, seeded from `getrandom(2)`.
    Fallback,
    /// The `getrandom(2)` system call.
    Syscall,
}

/// Why random bytes could not be produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RngError {
    /// The path does not exist on this system (no vDSO `getrandom` before Linux 6.11;
    /// no wipe-on-fork memory for the fallback before 4.14; no `getrandom(2)` before 3.17).
    #[error("random source {0:?} is not available on this system")]
    Unavailable(Path),
    /// `getrandom(2)` failed with this `errno` (`ENOSYS`, `EFAULT`, …).
    #[error("getrandom(2) failed with errno {errno}")]
    Os {
        /// The raw `errno`.
        errno: i32,
    },
}

impl RngError {
    /// The `errno` a caller reports for it: the system call's own, or `ENOSYS` for a
    /// source that does not exist.
    pub fn errno(self) -> i32 {
        match self {
            RngError::Os { errno } => errno,
            RngError::Unavailable(_) => libc::ENOSYS,
        }
    }
}

/// Counters of the rare paths (for tests and tuning), all relaxed.
pub(crate) struct Stats {
    pub(crate) vdso_reentered: AtomicU64,
    pub(crate) vdso_no_state: AtomicU64,
    pub(crate) vdso_error_syscalls: AtomicU64,
    pub(crate) fallback_all_busy: AtomicU64,
    pub(crate) fork_redone: AtomicU64,
}

pub(crate) static STATS: Stats = Stats {
    vdso_reentered: AtomicU64::new(0),
    vdso_no_state: AtomicU64::new(0),
    vdso_error_syscalls: AtomicU64::new(0),
    fallback_all_busy: AtomicU64::new(0),
    fork_redone: AtomicU64::new(0),
};

/// Fills `buf` with cryptographically secure random bytes from the best available
/// path: the vDSO (with bulk expansion), else the userspace fallback, else
/// `getrandom(2)`.
///
/// # Errors
///
/// [`RngError::Os`] if even `getrandom(2)` fails (no such syscall, or a bad buffer
/// reported by the kernel). Never panics.
#[inline]
pub fn fill(buf: &mut [u8]) -> Result<(), RngError> {
    if let Some(v) = sys::vdso::get() {
        return vdso::fill(v, buf);
    }
    if let Some(p) = fallback::page() {
        return whole_request(buf, |b| fallback::fill(p, b));
    }
    whole_request(buf, syscall::fill)
}

/// Fills `buf` through one specific [`Path`].
///
/// The vDSO and fallback paths still use `getrandom(2)` for a draw they cannot serve
/// themselves (a signal handler re-entering a draw, every bucket busy, a kernel error).
///
/// # Errors
///
/// [`RngError::Unavailable`] if `path` does not exist here ([`available`] is false);
/// [`RngError::Os`] if `getrandom(2)` fails.
pub fn fill_with(path: Path, buf: &mut [u8]) -> Result<(), RngError> {
    match path {
        Path::Vdso => {
            let v = sys::vdso::get().ok_or(RngError::Unavailable(path))?;
            vdso::fill(v, buf)
        }
        Path::Fallback => {
            let p = fallback::page().ok_or(RngError::Unavailable(path))?;
            whole_request(buf, |b| fallback::fill(p, b))
        }
        Path::Syscall => whole_request(buf, syscall::fill),
    }
}

/// Whether `path` works on this system (the first call for a path does its one-time
/// set-up: vDSO lookup and query, or mapping the fallback page).
pub fn available(path: Path) -> bool {
    static SYSCALL: OnceLock<bool> = OnceLock::new();
    match path {
        Path::Vdso => sys::vdso::get().is_some(),
        Path::Fallback => fallback::page().is_some(),
        Path::Syscall => *SYSCALL.get_or_init(syscall::available),
    }
}

/// The path [`fill`] uses on this system.
pub fn best_path() -> Path {
    if available(Path::Vdso) {
        Path::Vdso
    } else if available(Path::Fallback) {
        Path::Fallback
    } else {
        Path::Syscall
    }
}

/// A random `u32` (one 4-byte [`fill`]).
///
/// # Errors
///
/// As [`fill`].
#[inline]
pub fn u32() -> Result<u32, RngError> {
    let mut b = [0u8; 4];
    fill(&mut b)?;
    Ok(u32::from_ne_bytes(b))
}

/// A random `u64` (one 8-byte [`fill`]).
///
/// # Errors
///
/// As [`fill`].
#[inline]
pub fn u64() -> Result<u64, RngError> {
    let mut b = [0u8; 8];
    fill(&mut b)?;
    Ok(u64::from_ne_bytes(b))
}

/// Runs one path over the whole request and redoes it if the process forked meanwhile
/// (a signal handler called `fork()`): the part written before the fork would otherwise
/// be the same in parent and child. After two forked attempts, the syscall.
pub(crate) fn whole_request(
    buf: &mut [u8],
    mut path: impl FnMut(&mut [u8]) -> Result<(), RngError>,
) -> Result<(), RngError> {
    if buf.is_empty() {
        return Ok(());
    }
    for _ in 0..2 {
        let e = epoch::begin();
        path(buf)?;
        if epoch::unchanged(e) {
            return Ok(());
        }
        STATS
            .fork_redone
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    syscall::fill(buf)
}
