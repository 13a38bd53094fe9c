//! The `getrandom(2)` path: the floor every other path falls back to.

use super::RngError;
use crate::sys::getrandom::getrandom;

/// Bounded retries when the kernel returns 0 bytes for a non-empty request (it never
/// should; this only stops a livelock).
const MAX_EMPTY_READS: u32 = 16;

/// Fills `buf` with `getrandom(2)` (flags 0: waits for the crng at early boot, never
/// after), looping on short reads and `EINTR`.
pub(crate) fn fill(buf: &mut [u8]) -> Result<(), RngError> {
    let mut done = 0;
    let mut empty = 0;
    while let Some(rest) = buf.get_mut(done..).filter(|r| !r.is_empty()) {
        match getrandom(rest, 0) {
            Ok(0) => {
                empty += 1;
                if empty > MAX_EMPTY_READS {
                    return Err(RngError::Os { errno: libc::EIO });
                }
            }
            Ok(n) => done += n,
            Err(libc::EINTR) => {}
            Err(errno) => return Err(RngError::Os { errno }),
        }
    }
    Ok(())
}

/// Whether `getrandom(2)` exists (Linux 3.17+): one non-blocking 1-byte probe.
pub(crate) fn available() -> bool {
    !matches!(
        getrandom(&mut [0u8; 1], crate::sys::getrandom::GRND_NONBLOCK),
        Err(libc::ENOSYS)
    )
}
