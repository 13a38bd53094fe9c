//! The system calls: the only `unsafe` code of `vsva-vfio`.
//!
//! Everything above this module talks to the kernel through [`Kernel`], so every wrapper
//! can be tested against a scripted kernel ([`crate::scripted::ScriptedKernel`]) and the
//! real one ([`Host`]) is a few lines per system call. Each call here keeps the kernel
//! inside buffers Rust owns:
//!
//! - [`Kernel::ioctl_sized`] takes a size-first struct (`argsz` / `size` in its first
//!   `u32`) and refuses, before the call, a size larger than the buffer, so the kernel —
//!   which reads and writes at most that size — never leaves it;
//! - [`Kernel::ioctl_sized_data`] additionally points one `__u64` pointer field of the
//!   struct at a Rust buffer and checks, before the call, that the struct's length field(s)
//!   do not describe more than that buffer;
//! - [`Kernel::dma_map`] is `unsafe`: a DMA mapping outlives the call, so its caller must
//!   keep the memory mapped until it unmaps it.
//!
//! # References
//! `ioctl(2)`, `open(2)`, `close(2)`, `pread(2)`, `pwrite(2)`, `read(2)`, `write(2)`;
//! `include/uapi/linux/vfio.h`, `include/uapi/linux/iommufd.h`.

use std::ffi::CStr;
use std::fmt;
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use vsva_uapi::Errno;

pub mod dma;
pub mod scripted;

/// How a size-first struct says how long the buffer behind its pointer field is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataLen {
    /// A `u32` byte count at this offset (`iommu_hw_info.data_len`, `iommu_hwpt_alloc.data_len`).
    Bytes {
        /// Offset of the `u32` length field.
        at: usize,
    },
    /// A `u32` element count at `at`, each element `elem` bytes
    /// (`iommu_ioas_iova_ranges.num_iovas` × 16).
    Count {
        /// Offset of the `u32` count field.
        at: usize,
        /// Bytes per element.
        elem: usize,
    },
    /// `entry_len × entry_num`, two `u32` fields (`iommu_hwpt_invalidate`).
    Entries {
        /// Offset of the `u32` entry length.
        len_at: usize,
        /// Offset of the `u32` entry count.
        num_at: usize,
    },
}

impl DataLen {
    /// The number of bytes the struct in `arg` describes, or `None` if a field is
    /// missing or the product overflows.
    pub fn described(self, arg: &[u8]) -> Option<usize> {
        let u32_at = |at: usize| -> Option<usize> {
            let b = arg.get(at..at.checked_add(4)?)?;
            Some(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize)
        };
        match self {
            DataLen::Bytes { at } => u32_at(at),
            DataLen::Count { at, elem } => u32_at(at)?.checked_mul(elem),
            DataLen::Entries { len_at, num_at } => u32_at(len_at)?.checked_mul(u32_at(num_at)?),
        }
    }
}

/// The kernel as `vsva-vfio` sees it: file descriptors, ioctls and reads/writes.
///
/// [`Host`] makes the real system calls; [`crate::scripted::ScriptedKernel`] answers
/// from a script, so every wrapper is testable without `/dev/vfio` or `/dev/iommu`.
pub trait Kernel: Send + Sync + fmt::Debug {
    /// `open(path, O_RDWR | O_CLOEXEC)` (or `O_RDONLY` when `write` is false).
    ///
    /// # Errors
    /// The errno of `open(2)`.
    fn open(&self, path: &Path, write: bool) -> Result<RawFd, Errno>;

    /// `close(fd)`; errors are ignored (the descriptor is gone either way).
    fn close(&self, fd: RawFd);

    /// `ioctl(fd, request, value)`: an ioctl whose argument is a plain integer (or none).
    ///
    /// # Errors
    /// The errno of `ioctl(2)`.
    fn ioctl_value(&self, fd: RawFd, request: u32, value: u64) -> Result<i32, Errno>;

    /// `ioctl(fd, request, &mut i32)`: an ioctl whose argument points to one `int`
    /// (`VFIO_GROUP_SET_CONTAINER`).
    ///
    /// # Errors
    /// The errno of `ioctl(2)`.
    fn ioctl_i32(&self, fd: RawFd, request: u32, arg: &mut i32) -> Result<i32, Errno>;

    /// `ioctl(fd, request, name)`: an ioctl whose argument is a NUL-terminated string
    /// (`VFIO_GROUP_GET_DEVICE_FD`).
    ///
    /// # Errors
    /// The errno of `ioctl(2)`.
    fn ioctl_cstr(&self, fd: RawFd, request: u32, arg: &CStr) -> Result<i32, Errno>;

    /// `ioctl(fd, request, arg)` for a size-first struct: the first `u32` of `arg` is the
    /// size the kernel may read and write. A size above `arg.len()` (or below 4) is
    /// refused with `EINVAL` before any call.
    ///
    /// # Errors
    /// `EINVAL` for a size that does not fit; otherwise the errno of `ioctl(2)`.
    fn ioctl_sized(&self, fd: RawFd, request: u32, arg: &mut [u8]) -> Result<i32, Errno>;

    /// Like [`ioctl_sized`](Kernel::ioctl_sized), with the `__u64` pointer field at
    /// `ptr_at` set to `data`: the kernel reads or writes the buffer the struct's `len`
    /// describes, which must not exceed `data.len()` (else `EINVAL` before any call).
    ///
    /// # Errors
    /// `EINVAL` for a size or length that does not fit; otherwise the errno of `ioctl(2)`.
    fn ioctl_sized_data(
        &self,
        fd: RawFd,
        request: u32,
        arg: &mut [u8],
        ptr_at: usize,
        len: DataLen,
        data: &mut [u8],
    ) -> Result<i32, Errno>;

    /// `ioctl(fd, request, arg)` for a DMA mapping (`VFIO_IOMMU_MAP_DMA`,
    /// `IOMMU_IOAS_MAP`): a size-first struct holding a user address the device will
    /// access after the call returns.
    ///
    /// # Safety
    /// The user address range in `arg` must stay mapped in this process, and must not be
    /// reused for anything the device must not see, until it is unmapped.
    ///
    /// # Errors
    /// As [`ioctl_sized`](Kernel::ioctl_sized).
    unsafe fn dma_map(&self, fd: RawFd, request: u32, arg: &mut [u8]) -> Result<i32, Errno>;

    /// `pread(fd, buf, offset)`.
    ///
    /// # Errors
    /// The errno of `pread(2)`.
    fn pread(&self, fd: RawFd, buf: &mut [u8], offset: u64) -> Result<usize, Errno>;

    /// `pwrite(fd, buf, offset)`.
    ///
    /// # Errors
    /// The errno of `pwrite(2)`.
    fn pwrite(&self, fd: RawFd, buf: &[u8], offset: u64) -> Result<usize, Errno>;

    /// `read(fd, buf)`.
    ///
    /// # Errors
    /// The errno of `read(2)`.
    fn read(&self, fd: RawFd, buf: &mut [u8]) -> Result<usize, Errno>;

    /// `write(fd, buf)`.
    ///
    /// # Errors
    /// The errno of `write(2)`.
    fn write(&self, fd: RawFd, buf: &[u8]) -> Result<usize, Errno>;
}

/// The size a size-first struct declares, if it fits in `arg` and covers its own field.
pub fn declared_size(arg: &[u8]) -> Option<usize> {
    let b = arg.get(..4)?;
    let size = u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize;
    (4..=arg.len()).contains(&size).then_some(size)
}

/// Checks a [`Kernel::ioctl_sized_data`] request before any call: the struct's size
/// fits `arg`, the pointer field at `ptr_at` lies inside the struct and is set to `ptr`,
/// and the length field(s) describe at most `data_len` bytes. Returns the struct's size
/// and the byte count the length fields describe.
///
/// # Errors
/// `EINVAL` when any of those does not hold.
pub fn prepare_data(
    arg: &mut [u8],
    ptr_at: usize,
    len: DataLen,
    ptr: u64,
    data_len: usize,
) -> Result<(usize, usize), Errno> {
    let size = declared_size(arg).ok_or(Errno::EINVAL)?;
    let ptr_field = ptr_at
        .checked_add(8)
        .filter(|end| *end <= size)
        .and_then(|end| arg.get_mut(ptr_at..end))
        .ok_or(Errno::EINVAL)?;
    ptr_field.copy_from_slice(&ptr.to_ne_bytes());
    match len.described(arg.get(..size).unwrap_or(&[])) {
        Some(n) if n <= data_len => Ok((size, n)),
        _ => Err(Errno::EINVAL),
    }
}

/// The real kernel.
#[derive(Debug, Default, Clone, Copy)]
pub struct Host;

fn last_errno() -> Errno {
    Errno(
        std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO),
    )
}

fn check(ret: libc::c_int) -> Result<i32, Errno> {
    if ret < 0 {
        Err(last_errno())
    } else {
        Ok(ret)
    }
}

fn check_len(ret: libc::ssize_t) -> Result<usize, Errno> {
    usize::try_from(ret).map_err(|_| last_errno())
}

impl Kernel for Host {
    fn open(&self, path: &Path, write: bool) -> Result<RawFd, Errno> {
        std::fs::OpenOptions::new()
            .read(true)
            .write(write)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)
            .map(IntoRawFd::into_raw_fd)
            .map_err(|e| Errno(e.raw_os_error().unwrap_or(libc::EIO)))
    }

    fn close(&self, fd: RawFd) {
        // SAFETY: `fd` was returned by `open` (or an fd-returning ioctl) of this kernel and
        // is owned by the `KernelFd` being dropped, which calls this exactly once.
        drop(unsafe { OwnedFd::from_raw_fd(fd) });
    }

    fn ioctl_value(&self, fd: RawFd, request: u32, value: u64) -> Result<i32, Errno> {
        // SAFETY: the argument is an integer, not a pointer; an ioctl that expected a
        // pointer would fault in the kernel (EFAULT), not touch our memory.
        check(unsafe { libc::ioctl(fd, libc::c_ulong::from(request), value) })
    }

    fn ioctl_i32(&self, fd: RawFd, request: u32, arg: &mut i32) -> Result<i32, Errno> {
        // SAFETY: `arg` is a valid, exclusive `int` for the whole call; the ioctls using
        // this form read or write exactly one `int`.
        check(unsafe { libc::ioctl(fd, libc::c_ulong::from(request), arg as *mut i32) })
    }

    fn ioctl_cstr(&self, fd: RawFd, request: u32, arg: &CStr) -> Result<i32, Errno> {
        // SAFETY: `arg` is NUL-terminated and lives for the call; the kernel only reads
        // it up to the NUL (`strndup_user`).
        check(unsafe { libc::ioctl(fd, libc::c_ulong::from(request), arg.as_ptr()) })
    }

    fn ioctl_sized(&self, fd: RawFd, request: u32, arg: &mut [u8]) -> Result<i32, Errno> {
        declared_size(arg).ok_or(Errno::EINVAL)?;
        // SAFETY: `arg` is exclusively borrowed for the call and its first `u32` (checked
        // above to be <= arg.len()) bounds every kernel read and write of the struct
        // (VFIO copies `minsz`..`argsz`; iommufd `copy_struct_from_user` / respond with
        // `min(size, ...)`), so the kernel stays inside `arg`.
        check(unsafe { libc::ioctl(fd, libc::c_ulong::from(request), arg.as_mut_ptr()) })
    }

    fn ioctl_sized_data(
        &self,
        fd: RawFd,
        request: u32,
        arg: &mut [u8],
        ptr_at: usize,
        len: DataLen,
        data: &mut [u8],
    ) -> Result<i32, Errno> {
        prepare_data(arg, ptr_at, len, data.as_mut_ptr() as u64, data.len())?;
        // SAFETY: as in `ioctl_sized` for `arg`; the one pointer field the kernel follows
        // was just set to `data`, exclusively borrowed for the call, and the length
        // field(s) the kernel uses for it were checked to describe at most `data.len()`.
        check(unsafe { libc::ioctl(fd, libc::c_ulong::from(request), arg.as_mut_ptr()) })
    }

    unsafe fn dma_map(&self, fd: RawFd, request: u32, arg: &mut [u8]) -> Result<i32, Errno> {
        declared_size(arg).ok_or(Errno::EINVAL)?;
        // SAFETY: `arg` as in `ioctl_sized`; the user range it names is the caller's
        // obligation (this function's `# Safety`).
        check(unsafe { libc::ioctl(fd, libc::c_ulong::from(request), arg.as_mut_ptr()) })
    }

    fn pread(&self, fd: RawFd, buf: &mut [u8], offset: u64) -> Result<usize, Errno> {
        let offset = libc::off_t::try_from(offset).map_err(|_| Errno::EINVAL)?;
        // SAFETY: `buf` is valid for writes of `buf.len()` bytes for the call.
        check_len(unsafe { libc::pread(fd, buf.as_mut_ptr().cast(), buf.len(), offset) })
    }

    fn pwrite(&self, fd: RawFd, buf: &[u8], offset: u64) -> Result<usize, Errno> {
        let offset = libc::off_t::try_from(offset).map_err(|_| Errno::EINVAL)?;
        // SAFETY: `buf` is valid for reads of `buf.len()` bytes for the call.
        check_len(unsafe { libc::pwrite(fd, buf.as_ptr().cast(), buf.len(), offset) })
    }

    fn read(&self, fd: RawFd, buf: &mut [u8]) -> Result<usize, Errno> {
        // SAFETY: `buf` is valid for writes of `buf.len()` bytes for the call.
        check_len(unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) })
    }

    fn write(&self, fd: RawFd, buf: &[u8]) -> Result<usize, Errno> {
        // SAFETY: `buf` is valid for reads of `buf.len()` bytes for the call.
        check_len(unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sized_ioctl_refuses_a_size_past_the_buffer_before_calling() {
        let mut arg = [0u8; 16];
        arg[..4].copy_from_slice(&17u32.to_ne_bytes());
        // fd -1 would give EBADF if the call were made: EINVAL proves it was not.
        assert_eq!(Host.ioctl_sized(-1, 0x3b70, &mut arg), Err(Errno::EINVAL));
        arg[..4].copy_from_slice(&3u32.to_ne_bytes());
        assert_eq!(Host.ioctl_sized(-1, 0x3b70, &mut arg), Err(Errno::EINVAL));
        arg[..4].copy_from_slice(&16u32.to_ne_bytes());
        assert_eq!(Host.ioctl_sized(-1, 0x3b70, &mut arg), Err(Errno::EBADF));
    }

    #[test]
    fn data_ioctl_refuses_a_length_past_the_data_buffer() {
        let mut arg = [0u8; 40];
        arg[..4].copy_from_slice(&40u32.to_ne_bytes());
        arg[12..16].copy_from_slice(&9u32.to_ne_bytes()); // data_len 9 > 8
        let mut data = [0u8; 8];
        let len = DataLen::Bytes { at: 12 };
        assert_eq!(
            Host.ioctl_sized_data(-1, 0x3b8a, &mut arg, 16, len, &mut data),
            Err(Errno::EINVAL)
        );
        arg[12..16].copy_from_slice(&8u32.to_ne_bytes());
        assert_eq!(
            Host.ioctl_sized_data(-1, 0x3b8a, &mut arg, 16, len, &mut data),
            Err(Errno::EBADF)
        );
        let entries = DataLen::Entries {
            len_at: 0,
            num_at: 4,
        };
        assert_eq!(
            entries.described(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
            Some(0xffff_ffffusize * 0xffff_ffff)
        );
        assert_eq!(DataLen::Count { at: 38, elem: 16 }.described(&arg), None);
    }

    #[test]
    fn host_open_reports_the_errno() {
        assert_eq!(
            Host.open(Path::new("/nonexistent/vsva"), false),
            Err(Errno::ENOENT)
        );
    }
}
