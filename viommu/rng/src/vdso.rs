//! The vDSO path: one kernel state per thread, pooled.
//!
//! - A thread takes a state on its first draw ([`crate::sys::vdso::Vdso::acquire`],
//!   with signals blocked) and keeps it in its thread slot. A `pthread_key_create(3)`
//!   destructor gives it back to the pool when the thread exits; the next thread to
//!   need one reuses it.
//! - Each draw takes the state out of the slot (the slot's busy bit). A signal handler
//!   that draws on the same thread meanwhile finds the bit set and uses `getrandom(2)`.
//! - The vDSO is always called with `GRND_NONBLOCK`, as glibc does: if the crng is not
//!   ready yet (`-EAGAIN`) the rest of the request goes to the blocking syscall. `-EINTR`
//!   is retried; any other error, or a zero-length result, also goes to the syscall.

use std::ffi::c_void;
use std::sync::atomic::Ordering;
use std::sync::OnceLock;

use super::{bulk, epoch, syscall, RngError, STATS};
use crate::sys::getrandom::GRND_NONBLOCK;
use crate::sys::thread::{SignalsBlocked, ThreadExitKey};
use crate::sys::vdso::{self as sys_vdso, Taken, Vdso, VdsoState};

/// Retries of `-EINTR` before handing the rest to the syscall.
const MAX_EINTR: u32 = 64;

/// Fills `buf` through the vDSO; requests above [`bulk::THRESHOLD`] are expanded from a
/// fresh vDSO key (when fork detection is available).
///
/// A small request that one vDSO call completes needs no fork epoch: the vDSO itself
/// re-checks the kernel generation at the end of the call and rewrites the whole buffer
/// if the state was wiped (a fork) meanwhile. Anything else (no state yet, re-entry,
/// a short or failed call, bulk) is done from scratch under [`super::whole_request`].
#[inline]
pub(crate) fn fill(vdso: &'static Vdso, buf: &mut [u8]) -> Result<(), RngError> {
    if buf.len() <= bulk::THRESHOLD && one_call(vdso, buf) {
        return Ok(());
    }
    super::whole_request(buf, |b| {
        if b.len() > bulk::THRESHOLD && epoch::available() {
            bulk::fill(vdso, b)
        } else {
            fill_small(vdso, b)
        }
    })
}

/// One vDSO call with the thread's state, if it has one and is not busy. Returns
/// whether it filled all of `buf`.
#[inline]
fn one_call(vdso: &Vdso, buf: &mut [u8]) -> bool {
    if buf.is_empty() {
        return true;
    }
    match sys_vdso::take_thread_state() {
        Taken::State(mut state) => {
            let ret = vdso.getrandom(&mut state, buf, GRND_NONBLOCK);
            sys_vdso::put_thread_state(state);
            usize::try_from(ret) == Ok(buf.len())
        }
        Taken::Empty => {
            sys_vdso::clear_thread_state();
            false
        }
        Taken::Busy | Taken::Exited => false,
    }
}

/// Fills `buf` with vDSO calls only, using the calling thread's state.
pub(crate) fn fill_small(vdso: &'static Vdso, buf: &mut [u8]) -> Result<(), RngError> {
    if buf.is_empty() {
        return Ok(());
    }
    match sys_vdso::take_thread_state() {
        Taken::State(mut state) => {
            let got = call(vdso, &mut state, buf);
            sys_vdso::put_thread_state(state);
            got
        }
        Taken::Empty => match acquire(vdso) {
            Some(mut state) => {
                let got = call(vdso, &mut state, buf);
                sys_vdso::put_thread_state(state);
                got
            }
            None => {
                sys_vdso::clear_thread_state();
                STATS.vdso_no_state.fetch_add(1, Ordering::Relaxed);
                syscall::fill(buf)
            }
        },
        Taken::Busy => {
            // Re-entered from a signal handler while this thread's draw is in progress.
            STATS.vdso_reentered.fetch_add(1, Ordering::Relaxed);
            syscall::fill(buf)
        }
        Taken::Exited => syscall::fill(buf),
    }
}

/// The vDSO loop for one request with one state.
fn call(vdso: &Vdso, state: &mut VdsoState, buf: &mut [u8]) -> Result<(), RngError> {
    let mut done = 0;
    let mut eintr = 0;
    while let Some(rest) = buf.get_mut(done..).filter(|r| !r.is_empty()) {
        let ret = vdso.getrandom(state, rest, GRND_NONBLOCK);
        match usize::try_from(ret) {
            Ok(n) if n > 0 => done += n.min(rest.len()),
            _ if ret == -(libc::EINTR as isize) && eintr < MAX_EINTR => eintr += 1,
            _ => {
                // -EAGAIN (crng not ready: block in the syscall), or an unexpected error.
                STATS.vdso_error_syscalls.fetch_add(1, Ordering::Relaxed);
                return syscall::fill(rest);
            }
        }
    }
    Ok(())
}

/// The key whose destructor returns a thread's state to the pool.
static EXIT_KEY: OnceLock<Option<ThreadExitKey>> = OnceLock::new();

/// Claims a state for this thread and arms the thread-exit hook; signals blocked, so a
/// handler (or a `fork()` from one) never sees it half done.
fn acquire(vdso: &Vdso) -> Option<VdsoState> {
    let _blocked = SignalsBlocked::new();
    let state = vdso.acquire()?;
    if let Some(key) = EXIT_KEY.get_or_init(|| ThreadExitKey::new(on_thread_exit)) {
        // Without it the state is not reused after this thread exits (a leak, no more).
        key.arm();
    }
    Some(state)
}

/// `pthread_key_create(3)` destructor: gives the exiting thread's state back. Later
/// draws on this thread (other TLS destructors) use the syscall.
extern "C" fn on_thread_exit(_: *mut c_void) {
    if let Some(state) = sys_vdso::exit_thread_state() {
        if let Some(vdso) = sys_vdso::get() {
            vdso.release(state);
        }
    }
}
