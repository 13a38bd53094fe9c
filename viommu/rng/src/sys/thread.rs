//! Threads and signals: `pthread_sigmask(3)`, `sched_getcpu(3)`, `sysconf(3)`,
//! `pthread_key_create(3)` / `pthread_setspecific(3)`, and a per-thread token.

use std::ffi::c_void;
use std::mem::MaybeUninit;

/// All (blockable) signals are blocked on this thread until the guard drops, which
/// restores the previous mask. Used around one-time set-up and state acquisition, so a
/// signal handler can never run on this thread while it is half done.
pub(crate) struct SignalsBlocked {
    old: libc::sigset_t,
    restore: bool,
}

impl SignalsBlocked {
    /// Blocks every signal the kernel lets us block (`sigfillset(3)` +
    /// `pthread_sigmask(3)` with `SIG_BLOCK`; SIGKILL/SIGSTOP and glibc's internal
    /// signals are silently left alone).
    pub(crate) fn new() -> Self {
        let mut all = MaybeUninit::<libc::sigset_t>::zeroed();
        let mut old = MaybeUninit::<libc::sigset_t>::zeroed();
        // SAFETY: sigfillset(3) initialises the sigset_t it is given; `all` is a live,
        // writable, properly aligned sigset_t (zeroed, so valid even if it failed).
        unsafe { libc::sigfillset(all.as_mut_ptr()) };
        // SAFETY: pthread_sigmask(3) reads `all` (initialised above) and writes the
        // previous mask into `old`, a live writable sigset_t. It only changes this
        // thread's mask.
        let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, all.as_ptr(), old.as_mut_ptr()) };
        SignalsBlocked {
            // SAFETY: `old` was zero-initialised, and a zeroed sigset_t (the empty set)
            // is a valid value; on success pthread_sigmask(3) overwrote it with the old mask.
            old: unsafe { old.assume_init() },
            restore: rc == 0,
        }
    }
}

impl Drop for SignalsBlocked {
    fn drop(&mut self) {
        if self.restore {
            // SAFETY: pthread_sigmask(3) with SIG_SETMASK reads `self.old`, the mask it
            // returned in `new`; a null `oldset` is allowed.
            unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.old, std::ptr::null_mut()) };
        }
    }
}

/// The CPU this thread runs on now (`sched_getcpu(3)`, which glibc reads from rseq or
/// the vDSO), or 0 if unknown. Only a hint: the thread may migrate right after.
pub(crate) fn current_cpu() -> usize {
    // SAFETY: sched_getcpu(3) takes no arguments and touches no caller memory.
    let cpu = unsafe { libc::sched_getcpu() };
    usize::try_from(cpu).unwrap_or(0)
}

/// The number of online CPUs (`sysconf(3)` `_SC_NPROCESSORS_ONLN`), at least 1.
pub(crate) fn online_cpus() -> usize {
    // SAFETY: sysconf(3) takes an integer name and touches no caller memory.
    let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
    usize::try_from(n).unwrap_or(1).max(1)
}

/// The system page size (`sysconf(3)` `_SC_PAGESIZE`), 4096 if unknown.
pub(crate) fn page_size() -> usize {
    // SAFETY: sysconf(3) takes an integer name and touches no caller memory.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(n)
        .ok()
        .filter(|p| p.is_power_of_two())
        .unwrap_or(4096)
}

thread_local! {
    /// Only its address is used: unique among the live threads of the process, never 0,
    /// and the same in a forked child for the thread that called fork.
    /// (A `Cell`, so the compiler cannot fold it into one shared constant.)
    static TOKEN_ANCHOR: std::cell::Cell<u8> = const { std::cell::Cell::new(0) };
}

/// A nonzero word identifying the calling thread among the live threads of this
/// process (the address of a thread-local). A thread that calls `fork()` keeps its
/// token in the child. Async-signal-safe (a const-initialised thread-local with no
/// destructor is a plain TLS access).
pub(crate) fn token() -> usize {
    TOKEN_ANCHOR.with(|anchor| std::ptr::from_ref(anchor) as usize)
}

/// A `pthread_key_create(3)` key whose destructor runs a hook when a thread that armed
/// it exits.
pub(crate) struct ThreadExitKey(libc::pthread_key_t);

impl ThreadExitKey {
    /// Creates the key; `hook` runs at the exit of every thread that called [`Self::arm`].
    /// Returns `None` if the process is out of keys.
    pub(crate) fn new(hook: extern "C" fn(*mut c_void)) -> Option<Self> {
        let mut key: libc::pthread_key_t = 0;
        // SAFETY: pthread_key_create(3) writes the new key to `key` (a live local) and
        // records `hook`, a valid `extern "C" fn(*mut c_void)` that lives forever.
        let rc = unsafe { libc::pthread_key_create(&mut key, Some(hook)) };
        (rc == 0).then_some(ThreadExitKey(key))
    }

    /// Makes the key's hook run when the calling thread exits (`pthread_setspecific(3)`
    /// with a non-null marker value, never dereferenced). glibc needs no allocation for
    /// the first 32 keys of a process. Returns whether it worked.
    pub(crate) fn arm(&self) -> bool {
        // SAFETY: the key was returned by pthread_key_create(3) and is never deleted; the
        // value is an opaque non-null marker that nobody dereferences.
        let rc = unsafe { libc::pthread_setspecific(self.0, std::ptr::dangling::<c_void>()) };
        rc == 0
    }
}
