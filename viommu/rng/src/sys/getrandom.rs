//! `getrandom(2)`: one raw system call.

/// `GRND_NONBLOCK`: fail with `EAGAIN` instead of blocking before the kernel's crng is ready.
pub(crate) const GRND_NONBLOCK: u32 = libc::GRND_NONBLOCK;

/// One `getrandom(2)` call (`syscall(SYS_getrandom, buf, len, flags)`).
///
/// Returns the number of bytes written (it can be short: at most `0x7fff_f000`, and
/// requests above 256 bytes can be interrupted by a signal), or the `errno`.
/// An empty `buf` returns `Ok(0)` without a system call.
pub(crate) fn getrandom(buf: &mut [u8], flags: u32) -> Result<usize, i32> {
    if buf.is_empty() {
        return Ok(0);
    }
    // SAFETY: getrandom(2) writes at most `len` bytes to `buf`, which is a live, writable,
    // exclusively borrowed slice of exactly `len` bytes. The raw syscall (not glibc's
    // wrapper) keeps this usable on any glibc; it touches no other memory.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_getrandom,
            buf.as_mut_ptr(),
            buf.len(),
            libc::c_uint::from(flags),
        )
    };
    match usize::try_from(ret) {
        Ok(n) => Ok(n.min(buf.len())),
        Err(_) => Err(super::errno()),
    }
}
