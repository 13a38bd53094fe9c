//! The only `unsafe` of vsva-viommu's test crates: thin wrappers of the libc calls the
//! fork and signal tests need, each named with its man page. Included with `mod sys;`.
#![allow(dead_code)]

use std::ffi::c_int;

/// `pipe(2)`: `(read end, write end)`.
pub fn pipe() -> (c_int, c_int) {
    let mut fds = [0; 2];
    // SAFETY: pipe(2) writes two descriptors into a live array of two ints.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0, "pipe(2) failed");
    (fds[0], fds[1])
}

/// `fork(2)`: 0 in the child, the child's pid in the parent. The child must end with
/// [`exit_now`] and never return into the test harness; in a multi-threaded parent it
/// may only use what the code under test makes fork-safe.
pub fn fork() -> libc::pid_t {
    // SAFETY: fork(2) has no memory-safety preconditions of its own; the callers' child
    // branches run only the code under test and `exit_now` (documented above).
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork(2) failed");
    pid
}

/// `_exit(2)`: ends the process at once (no atexit handlers, no harness).
pub fn exit_now(code: c_int) -> ! {
    // SAFETY: _exit(2) has no preconditions.
    unsafe { libc::_exit(code) }
}

/// `close(2)` of a descriptor the caller owns.
pub fn close(fd: c_int) {
    // SAFETY: close(2) of a descriptor the caller owns and does not use afterwards.
    unsafe { libc::close(fd) };
}

/// `write(2)` until all of `bytes` is written (or the pipe breaks).
pub fn write_all(fd: c_int, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: write(2) reads at most `len` bytes of a live slice.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        match usize::try_from(n) {
            Ok(n) if n > 0 => bytes = &bytes[n..],
            _ => return,
        }
    }
}

/// `read(2)` until end of file, retrying `EINTR`.
pub fn read_all(fd: c_int) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        // SAFETY: read(2) writes at most `len` bytes into a live buffer.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        match usize::try_from(n) {
            Ok(0) => return out,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) if errno() == libc::EINTR => {}
            Err(_) => return out,
        }
    }
}

/// `waitpid(2)` for our own child, asserting it exited with status 0.
pub fn reap(pid: libc::pid_t) {
    let mut status = 0;
    // SAFETY: waitpid(2) writes the status of our own child into a live int.
    while unsafe { libc::waitpid(pid, &mut status, 0) } < 0 {
        assert_eq!(errno(), libc::EINTR, "waitpid(2) failed");
    }
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child failed: {status:#x}"
    );
}

/// `pthread_self(3)`.
pub fn current_thread() -> libc::pthread_t {
    // SAFETY: pthread_self(3) has no preconditions.
    unsafe { libc::pthread_self() }
}

/// `pthread_kill(3)`: sends `signal` to `thread`, which the caller keeps alive until the
/// signal is handled.
pub fn signal_thread(thread: libc::pthread_t, signal: c_int) {
    // SAFETY: the caller guarantees `thread` is a live thread of this process.
    unsafe { libc::pthread_kill(thread, signal) };
}

/// `sigaction(2)`: installs `handler` for `signal` with `SA_RESTART`. The signal must be
/// one nothing else in the test binary uses.
pub fn install_handler(signal: c_int, handler: extern "C" fn(c_int)) {
    // SAFETY: a zeroed sigaction is a valid "no flags, empty mask" value; the handler is
    // an extern "C" fn that lives for the whole program.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = handler as *const () as usize;
        sa.sa_flags = libc::SA_RESTART;
        assert_eq!(libc::sigaction(signal, &sa, std::ptr::null_mut()), 0);
    }
}

/// This thread's `errno` (`errno(3)`).
pub fn errno() -> c_int {
    // SAFETY: __errno_location(3) returns this thread's errno slot, valid for reads.
    unsafe { *libc::__errno_location() }
}

/// Sets this thread's `errno` (a signal handler restores the interrupted code's).
pub fn set_errno(value: c_int) {
    // SAFETY: __errno_location(3) returns this thread's errno slot, valid for writes.
    unsafe { *libc::__errno_location() = value };
}

/// `sysconf(_SC_PAGESIZE)` (`sysconf(3)`).
pub fn page_size() -> usize {
    // SAFETY: sysconf(3) takes an integer and touches no memory.
    usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).expect("page size")
}
