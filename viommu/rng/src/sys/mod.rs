//! Every `unsafe` operation of vsva-rng.
//!
//! This is the only module of the crate allowed to use `unsafe` (`lib.rs` denies it
//! everywhere else). Each submodule wraps a handful of libc calls or raw-memory
//! accesses behind safe functions whose invariants are enforced here, so that the
//! rest of the crate is ordinary safe Rust:
//!
//! | module | wraps |
//! |---|---|
//! | [`getrandom`] | `getrandom(2)`, one call |
//! | [`mem`] | `mmap(2)`, `madvise(2)`, `munmap(2)`; wipe-on-fork pages of try-lock cells; the fork canary |
//! | [`claims`] | per-slot ownership words (owner = thread token) and their reset in a forked child (`pthread_atfork(3)`) |
//! | [`thread`] | `pthread_sigmask(3)`, `sched_getcpu(3)`, `sysconf(3)`, `pthread_key_create(3)` |
//! | [`vdso`] | the vDSO's ELF lookup (`getauxval(3)`), the `__vdso_getrandom` call, its state blocks and the per-thread state slot |
//!
//! Each libc function is named with its man page, rustix style.

pub(crate) mod claims;
pub(crate) mod getrandom;
pub(crate) mod mem;
pub(crate) mod thread;
pub(crate) mod vdso;

/// The calling thread's `errno`, read right after a failed libc call.
fn errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}
