//! The system calls: the only `unsafe` code of `vsva-vfio`.
//!
//! Everything above this module talks to the kernel through [`Kernel`], so every wrapper
//! can be tested against a scripted kernel (`crate::scripted::ScriptedKernel`, feature `testing`) and the
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
use std::marker::PhantomData;
use std::ops::Deref;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;

use vsva_uapi::Errno;

pub mod dma;
#[cfg(feature = "vm-memory")]
pub mod guest_memory;
#[cfg(any(test, feature = "testing"))]
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

impl From<vsva_uapi::ioctl::DataLen> for DataLen {
    /// The offsets of the length fields a declared ioctl names.
    fn from(len: vsva_uapi::ioctl::DataLen) -> DataLen {
        use vsva_uapi::ioctl::DataLen as Declared;
        match len {
            Declared::Bytes(f) => DataLen::Bytes { at: f.offset },
            Declared::Count { count, elem } => DataLen::Count {
                at: count.offset,
                elem,
            },
            Declared::Entries { len, num } => DataLen::Entries {
                len_at: len.offset,
                num_at: num.offset,
            },
        }
    }
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
/// [`Host`] makes the real system calls; `crate::scripted::ScriptedKernel` (feature
/// `testing`) answers from a script, so every wrapper is testable without `/dev/vfio` or
/// `/dev/iommu`. Code outside this crate reaches the kernel through [`KernelFd`] and the
/// typed wrappers built on it ([`crate::container::Container`], ...), never through these
/// methods.
///
/// # Safety
/// An implementor promises that **every fd number it returns** (from
/// [`open`](Kernel::open), an fd-returning ioctl, [`adopt`](Kernel::adopt) or
/// [`lend`](Kernel::lend)) **is an open file descriptor of this process** until the
/// [`close`](Kernel::close) (or [`release`](Kernel::release)) that ends it, and is not
/// closed by the kernel before: [`KernelFd`]'s `AsFd` hands it out as a [`BorrowedFd`].
/// A kernel that answers from a script backs its numbers with real descriptors
/// (`ScriptedKernel` opens `/dev/null` for each).
///
/// Every method but [`open`](Kernel::open), [`adopt`](Kernel::adopt) and
/// [`lend`](Kernel::lend) is `unsafe`: its caller promises
///
/// - **fd**: `fd` was returned by this kernel (by [`open`](Kernel::open), an
///   fd-returning ioctl, [`adopt`](Kernel::adopt) or [`lend`](Kernel::lend)), is still
///   open, and is held by the caller (a [`KernelFd`]), which ends it exactly once —
///   [`close`](Kernel::close) for an owned fd, [`release`](Kernel::release) for a lent
///   one — and uses `fd` no more after it;
/// - **request**: `request` is an ioctl of the form the method names: for
///   [`ioctl_value`](Kernel::ioctl_value) the kernel never dereferences `value`; for
///   [`ioctl_i32`](Kernel::ioctl_i32) it reads or writes one `int`; for
///   [`ioctl_cstr`](Kernel::ioctl_cstr) it only reads the string; for
///   [`ioctl_sized`](Kernel::ioctl_sized) its accesses to the struct are bounded by the
///   struct's first `u32` and it follows no pointer in the struct (for the flags `arg`
///   holds); for [`ioctl_sized_data`](Kernel::ioctl_sized_data) the same, except the one
///   pointer field at `ptr_at` whose length `len` describes; for
///   [`dma_map`](Kernel::dma_map) additionally that method's own contract.
///
/// Without these promises safe code could make the kernel write past a slice
/// (`TIOCGWINSZ` into 4 bytes), through a pointer passed as an integer, close an fd a
/// `File` owns, or map DMA around [`Container::map_dma`](crate::container::Container::map_dma).
/// None of that compiles from safe code:
///
/// ```compile_fail,E0133
/// use vsva_vfio::sys::{Host, Kernel};
/// let mut buf = [0u8; 8];
/// // TIOCGWINSZ writes 8 bytes; the slice has 4.
/// let _ = Host.ioctl_sized(0, 0x5413, &mut buf[..4]);
/// ```
///
/// ```compile_fail,E0133
/// use vsva_vfio::sys::{Host, Kernel};
/// let n = 0i32;
/// // FIONREAD writes an int through the "value": here an immutable one.
/// let _ = Host.ioctl_value(0, 0x541b, &n as *const i32 as u64);
/// ```
///
/// ```compile_fail,E0133
/// use std::os::fd::AsRawFd;
/// use vsva_vfio::sys::{Host, Kernel};
/// let file = std::fs::File::open("/dev/null").unwrap();
/// Host.close(file.as_raw_fd()); // the File would close it again
/// ```
///
/// ```compile_fail,E0133
/// use vsva_vfio::sys::{Host, Kernel};
/// use vsva_uapi::vfio_core::VFIO_IOMMU_MAP_DMA;
/// let mut req = [0u8; 32];
/// req[..4].copy_from_slice(&32u32.to_ne_bytes());
/// let _ = Host.ioctl_sized(3, VFIO_IOMMU_MAP_DMA, &mut req); // around `map_dma`
/// ```
pub unsafe trait Kernel: Send + Sync + fmt::Debug {
    /// `open(path, O_RDWR | O_CLOEXEC)` (or `O_RDONLY` when `write` is false). The
    /// caller owns the returned fd; [`KernelFd::open`] wraps it at once.
    ///
    /// # Errors
    /// The errno of `open(2)`.
    fn open(&self, path: &Path, write: bool) -> Result<RawFd, Errno>;

    /// Takes ownership of `fd`, opened outside vsva (a VMM's iommufd or device), as if
    /// this kernel had returned it: the [`KernelFd`] that wraps the number closes it with
    /// [`close`](Kernel::close). The default (the real kernel's) is `fd`'s own number.
    fn adopt(&self, fd: OwnedFd) -> RawFd {
        fd.into_raw_fd()
    }

    /// Starts using `fd`, which something else owns and closes, for as long as the
    /// borrow lasts: the [`KernelFd`] that wraps the number ends it with
    /// [`release`](Kernel::release), never [`close`](Kernel::close). The default (the
    /// real kernel's) is `fd`'s own number.
    fn lend(&self, fd: BorrowedFd<'_>) -> RawFd {
        fd.as_raw_fd()
    }

    /// Ends a [`lend`](Kernel::lend): the number is no more used; nothing is closed. The
    /// default does nothing.
    ///
    /// # Safety
    /// The trait's **fd** contract for a lent fd; only [`KernelFd`]'s `Drop` calls this.
    unsafe fn release(&self, fd: RawFd) {
        let _ = fd;
    }

    /// `close(fd)`; errors are ignored (the descriptor is gone either way).
    ///
    /// # Safety
    /// The trait's **fd** contract for an owned fd; only [`KernelFd`]'s `Drop` calls this.
    unsafe fn close(&self, fd: RawFd);

    /// `ioctl(fd, request, value)`: an ioctl whose argument is a plain integer (or none).
    ///
    /// # Safety
    /// The trait's **fd** and **request** contracts.
    ///
    /// # Errors
    /// The errno of `ioctl(2)`.
    unsafe fn ioctl_value(&self, fd: RawFd, request: u32, value: u64) -> Result<i32, Errno>;

    /// `ioctl(fd, request, &mut i32)`: an ioctl whose argument points to one `int`
    /// (`VFIO_GROUP_SET_CONTAINER`).
    ///
    /// # Safety
    /// The trait's **fd** and **request** contracts.
    ///
    /// # Errors
    /// The errno of `ioctl(2)`.
    unsafe fn ioctl_i32(&self, fd: RawFd, request: u32, arg: &mut i32) -> Result<i32, Errno>;

    /// `ioctl(fd, request, name)`: an ioctl whose argument is a NUL-terminated string
    /// (`VFIO_GROUP_GET_DEVICE_FD`).
    ///
    /// # Safety
    /// The trait's **fd** and **request** contracts.
    ///
    /// # Errors
    /// The errno of `ioctl(2)`.
    unsafe fn ioctl_cstr(&self, fd: RawFd, request: u32, arg: &CStr) -> Result<i32, Errno>;

    /// `ioctl(fd, request, arg)` for a size-first struct: the first `u32` of `arg` is the
    /// size the kernel may read and write. A size above `arg.len()` (or below 4) is
    /// refused with `EINVAL` before any call.
    ///
    /// # Safety
    /// The trait's **fd** and **request** contracts.
    ///
    /// # Errors
    /// `EINVAL` for a size that does not fit; otherwise the errno of `ioctl(2)`.
    unsafe fn ioctl_sized(&self, fd: RawFd, request: u32, arg: &mut [u8]) -> Result<i32, Errno>;

    /// Like [`ioctl_sized`](Kernel::ioctl_sized), with the `__u64` pointer field at
    /// `ptr_at` set to `data`: the kernel reads or writes the buffer the struct's `len`
    /// describes, which must not exceed `data.len()` (else `EINVAL` before any call).
    ///
    /// # Safety
    /// The trait's **fd** and **request** contracts.
    ///
    /// # Errors
    /// `EINVAL` for a size or length that does not fit; otherwise the errno of `ioctl(2)`.
    unsafe fn ioctl_sized_data(
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
    /// The trait's **fd** and **request** contracts, and: the user address range in `arg`
    /// must stay mapped in this process, and must not be reused for anything the device
    /// must not see, until it is unmapped.
    ///
    /// # Errors
    /// As [`ioctl_sized`](Kernel::ioctl_sized).
    unsafe fn dma_map(&self, fd: RawFd, request: u32, arg: &mut [u8]) -> Result<i32, Errno>;

    /// `pread(fd, buf, offset)`.
    ///
    /// # Safety
    /// The trait's **fd** contract.
    ///
    /// # Errors
    /// The errno of `pread(2)`.
    unsafe fn pread(&self, fd: RawFd, buf: &mut [u8], offset: u64) -> Result<usize, Errno>;

    /// `pwrite(fd, buf, offset)`.
    ///
    /// # Safety
    /// The trait's **fd** contract.
    ///
    /// # Errors
    /// The errno of `pwrite(2)`.
    unsafe fn pwrite(&self, fd: RawFd, buf: &[u8], offset: u64) -> Result<usize, Errno>;

    /// `read(fd, buf)`.
    ///
    /// # Safety
    /// The trait's **fd** contract.
    ///
    /// # Errors
    /// The errno of `read(2)`.
    unsafe fn read(&self, fd: RawFd, buf: &mut [u8]) -> Result<usize, Errno>;

    /// `write(fd, buf)`.
    ///
    /// # Safety
    /// The trait's **fd** contract.
    ///
    /// # Errors
    /// The errno of `write(2)`.
    unsafe fn write(&self, fd: RawFd, buf: &[u8]) -> Result<usize, Errno>;
}

/// A file descriptor of a [`Kernel`]: **owned** (closed by `Drop` alone; on [`Host`],
/// the descriptor is an [`OwnedFd`]'s) or **lent** (only inside an [`FdView`], which
/// ends with the borrow; `Drop` releases it and closes nothing). Built only by
/// [`KernelFd::open`], [`KernelFd::from_owned`], the crate's fd-returning ioctls and
/// [`FdView`]'s crate-private constructor, so it never owns a descriptor something else
/// owns and never outlives one it borrows. There is no constructor from a raw number:
///
/// ```compile_fail,E0599
/// use std::sync::Arc;
/// use vsva_vfio::sys::{Host, Kernel, KernelFd};
/// let kernel: Arc<dyn Kernel> = Arc::new(Host);
/// let _ = KernelFd::new(kernel, 0); // would close stdin on drop
/// ```
///
/// It is [`AsFd`] (and [`AsRawFd`]): the [`Kernel`] contract makes every number it
/// holds an open descriptor of this process while it lives.
#[derive(Debug)]
pub struct KernelFd {
    raw: RawFd,
    kernel: Arc<dyn Kernel>,
    owned: bool,
}

impl KernelFd {
    /// Opens `path` through `kernel`.
    ///
    /// # Errors
    /// The errno of `open(2)`.
    pub fn open(kernel: &Arc<dyn Kernel>, path: &Path, write: bool) -> Result<KernelFd, Errno> {
        let raw = kernel.open(path, write)?;
        Ok(KernelFd {
            raw,
            kernel: Arc::clone(kernel),
            owned: true,
        })
    }

    /// Takes ownership of `fd`, opened outside vsva (e.g. by a VMM), through `kernel`
    /// ([`Kernel::adopt`]; on [`Host`] the number stays `fd`'s). The `KernelFd` closes
    /// it on drop; whoever gave it up closes nothing.
    pub fn from_owned(kernel: &Arc<dyn Kernel>, fd: OwnedFd) -> KernelFd {
        KernelFd {
            raw: kernel.adopt(fd),
            kernel: Arc::clone(kernel),
            owned: true,
        }
    }

    /// A lent `KernelFd` for `fd`: only [`FdView::new`] calls this, and the view it
    /// builds keeps it from outliving the borrow.
    fn lent(kernel: &Arc<dyn Kernel>, fd: BorrowedFd<'_>) -> KernelFd {
        KernelFd {
            raw: kernel.lend(fd),
            kernel: Arc::clone(kernel),
            owned: false,
        }
    }

    /// Whether this `KernelFd` closes its descriptor on drop (`false`: a lent one, inside
    /// an [`FdView`]).
    pub fn is_owned(&self) -> bool {
        self.owned
    }

    /// The raw descriptor number (still owned by `self`; for logs and fd-number
    /// arguments such as `VFIO_GROUP_SET_CONTAINER`'s).
    pub fn raw(&self) -> RawFd {
        self.raw
    }

    /// The kernel the descriptor belongs to.
    pub fn kernel(&self) -> &Arc<dyn Kernel> {
        &self.kernel
    }

    /// [`Kernel::ioctl_value`] on this fd. Crate contract: `request` is one of the
    /// crate's integer-argument ioctl constants.
    pub(crate) fn ioctl_value(&self, request: u32, value: u64) -> Result<i32, Errno> {
        // SAFETY: `self` owns `raw` (from `kernel`); every in-crate caller passes an
        // integer-argument VFIO ioctl (the method's crate contract).
        unsafe { self.kernel.ioctl_value(self.raw, request, value) }
    }

    /// [`Kernel::ioctl_i32`] on this fd. Crate contract: `request` reads or writes one
    /// `int`.
    pub(crate) fn ioctl_i32(&self, request: u32, arg: &mut i32) -> Result<i32, Errno> {
        // SAFETY: fd as above; the in-crate caller passes VFIO_GROUP_SET_CONTAINER.
        unsafe { self.kernel.ioctl_i32(self.raw, request, arg) }
    }

    /// [`Kernel::ioctl_cstr`] on this fd, for an ioctl that returns a new fd, owned by
    /// the returned [`KernelFd`]. Crate contract: `request` reads only the string and
    /// returns a new fd (`VFIO_GROUP_GET_DEVICE_FD`).
    pub(crate) fn ioctl_cstr_fd(&self, request: u32, arg: &CStr) -> Result<KernelFd, Errno> {
        // SAFETY: fd as above; the in-crate caller passes VFIO_GROUP_GET_DEVICE_FD.
        let raw = unsafe { self.kernel.ioctl_cstr(self.raw, request, arg) }?;
        Ok(KernelFd {
            raw,
            kernel: Arc::clone(&self.kernel),
            owned: true,
        })
    }

    /// [`Kernel::ioctl_sized`] on this fd. Crate contract: `request` is a size-first
    /// VFIO/iommufd ioctl that follows no pointer for the flags `arg` holds.
    pub(crate) fn ioctl_sized(&self, request: u32, arg: &mut [u8]) -> Result<i32, Errno> {
        // SAFETY: fd as above; request per the crate contract, which every in-crate
        // caller keeps (they build `arg` themselves from typed requests).
        unsafe { self.kernel.ioctl_sized(self.raw, request, arg) }
    }

    /// [`KernelFd::ioctl_sized`] for an ioctl whose reply holds a new fd (an `i32` at
    /// `fd_at`), owned by the returned [`KernelFd`]; `None` when the reply's fd is
    /// negative or outside the struct. Crate contract: as `ioctl_sized`, and on success
    /// the field at `fd_at` is a new fd (`IOMMU_FAULT_QUEUE_ALLOC`'s `out_fault_fd`).
    pub(crate) fn ioctl_sized_fd(
        &self,
        request: u32,
        arg: &mut [u8],
        fd_at: usize,
    ) -> Result<Option<KernelFd>, Errno> {
        self.ioctl_sized(request, arg)?;
        let raw = fd_at
            .checked_add(4)
            .and_then(|end| arg.get(fd_at..end))
            .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
        Ok(raw.filter(|raw| *raw >= 0).map(|raw| KernelFd {
            raw,
            kernel: Arc::clone(&self.kernel),
            owned: true,
        }))
    }

    /// [`Kernel::ioctl_sized_data`] on this fd. Crate contract: as `ioctl_sized`, with
    /// the one pointer field at `ptr_at` whose length `len` describes.
    pub(crate) fn ioctl_sized_data(
        &self,
        request: u32,
        arg: &mut [u8],
        ptr_at: usize,
        len: DataLen,
        data: &mut [u8],
    ) -> Result<i32, Errno> {
        // SAFETY: fd as above; request per the crate contract.
        unsafe {
            self.kernel
                .ioctl_sized_data(self.raw, request, arg, ptr_at, len, data)
        }
    }

    /// A declared ioctl ([`vsva_uapi::ioctl`]) on this fd: its number, and its one user
    /// buffer exactly where the declaration says. With `data`, the declared pointer field
    /// points at it and the declared length fields must not describe more than it
    /// ([`KernelFd::ioctl_sized_data`]); without, the pointer field (if sent) is zeroed
    /// and the length fields must describe nothing (`EINVAL` before the call otherwise),
    /// so the kernel follows no pointer ([`KernelFd::ioctl_sized`]). A `data` for an ioctl that
    /// declares no buffer is `EINVAL`. Crate contract: `arg` is a `T` built by the caller
    /// (its size field set), and the declaration is the kernel's.
    pub(crate) fn ioctl_declared<T>(
        &self,
        ioctl: &vsva_uapi::ioctl::Ioctl<T>,
        arg: &mut [u8],
        data: Option<&mut [u8]>,
    ) -> Result<i32, Errno> {
        let info = ioctl.info();
        match (info.data, data) {
            (None, None) => self.ioctl_sized(info.number, arg),
            (None, Some(_)) => Err(Errno::EINVAL),
            (Some(d), Some(data)) => {
                self.ioctl_sized_data(info.number, arg, d.ptr.offset, d.len.into(), data)
            }
            (Some(d), None) => {
                // A pointer (or length) field past the size sent is not read at all.
                let size = declared_size(arg).ok_or(Errno::EINVAL)?;
                if let Some(ptr) = arg[..size].get_mut(d.ptr.offset..d.ptr.offset + 8) {
                    ptr.fill(0);
                }
                match DataLen::from(d.len).described(&arg[..size]) {
                    None | Some(0) => self.ioctl_sized(info.number, arg),
                    Some(_) => Err(Errno::EINVAL),
                }
            }
        }
    }

    /// `pread(fd, buf, offset)`.
    ///
    /// # Errors
    /// The errno of `pread(2)`.
    pub fn pread(&self, buf: &mut [u8], offset: u64) -> Result<usize, Errno> {
        // SAFETY: `self` owns `raw`, which `kernel` returned.
        unsafe { self.kernel.pread(self.raw, buf, offset) }
    }

    /// `pwrite(fd, buf, offset)`.
    ///
    /// # Errors
    /// The errno of `pwrite(2)`.
    pub fn pwrite(&self, buf: &[u8], offset: u64) -> Result<usize, Errno> {
        // SAFETY: as in `pread`.
        unsafe { self.kernel.pwrite(self.raw, buf, offset) }
    }

    /// `read(fd, buf)`.
    ///
    /// # Errors
    /// The errno of `read(2)`.
    pub fn read(&self, buf: &mut [u8]) -> Result<usize, Errno> {
        // SAFETY: as in `pread`.
        unsafe { self.kernel.read(self.raw, buf) }
    }

    /// `write(fd, buf)`.
    ///
    /// # Errors
    /// The errno of `write(2)`.
    pub fn write(&self, buf: &[u8]) -> Result<usize, Errno> {
        // SAFETY: as in `pread`.
        unsafe { self.kernel.write(self.raw, buf) }
    }
}

impl Drop for KernelFd {
    fn drop(&mut self) {
        if self.owned {
            // SAFETY: `self` owns `raw`, from `kernel`; this is its only close.
            unsafe { self.kernel.close(self.raw) }
        } else {
            // SAFETY: `raw` was lent to `self` by `kernel.lend`; this is its only release.
            unsafe { self.kernel.release(self.raw) }
        }
    }
}

impl AsFd for KernelFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: the `Kernel` contract: every number a kernel returns is an open fd of
        // this process until the close or release that ends it, which only `Drop` makes
        // (owned), or which the `FdView` holding a lent `KernelFd` makes before its
        // borrow ends; the `BorrowedFd` borrows `self`, so it ends first.
        unsafe { BorrowedFd::borrow_raw(self.raw) }
    }
}

impl AsRawFd for KernelFd {
    fn as_raw_fd(&self) -> RawFd {
        self.raw
    }
}

/// A vsva handle on a descriptor **borrowed** from its owner (a VMM's iommufd or
/// device): it dereferences to the handle (`&T`: every method), and closes nothing when
/// dropped; the owner keeps the descriptor and closes it, after the view (the `'fd`
/// borrow ends first). The design is io-lifetimes' `FilelikeView`: a `BorrowedFd` turned
/// into a handle that cannot be moved out of its view (no `DerefMut`, no `into_inner`),
/// so the non-owning handle never outlives the borrow.
///
/// Built by the handles' `borrow` constructors ([`Iommufd::borrow`](crate::iommufd::Iommufd::borrow),
/// [`CdevDevice::borrow`](crate::cdev::CdevDevice::borrow), ...). To hand vsva a
/// descriptor it keeps (a component that needs `Arc<Iommufd>`), pass an owned duplicate
/// instead: `fd.try_clone_to_owned()` is the same open file (the same iommufd context,
/// the same device binding), and each side closes its own.
///
/// ```
/// use std::os::fd::{AsFd, AsRawFd};
/// use std::sync::Arc;
/// use vsva_vfio::iommufd::Iommufd;
/// use vsva_vfio::sys::{Host, Kernel};
///
/// let vmm_owned = std::fs::File::open("/dev/null").unwrap(); // stands in for /dev/iommu
/// let kernel: Arc<dyn Kernel> = Arc::new(Host);
/// {
///     let view = Iommufd::borrow(Arc::clone(&kernel), vmm_owned.as_fd());
///     assert_eq!(view.as_raw_fd(), vmm_owned.as_raw_fd());
///     assert!(view.ioas_alloc().is_err()); // /dev/null is no iommufd: ENOTTY
/// } // the view closes nothing
/// assert!(vmm_owned.metadata().is_ok()); // still open, the VMM's to close
/// ```
///
/// The handle cannot be moved out of the view, nor the view outlive the borrow:
///
/// ```compile_fail,E0507
/// # use std::os::fd::AsFd;
/// # use std::sync::Arc;
/// # use vsva_vfio::iommufd::Iommufd;
/// # use vsva_vfio::sys::Host;
/// let file = std::fs::File::open("/dev/null").unwrap();
/// let view = Iommufd::borrow(Arc::new(Host), file.as_fd());
/// let escaped: Iommufd = *view;
/// ```
///
/// ```compile_fail,E0505
/// # use std::os::fd::AsFd;
/// # use std::sync::Arc;
/// # use vsva_vfio::iommufd::Iommufd;
/// # use vsva_vfio::sys::Host;
/// let file = std::fs::File::open("/dev/null").unwrap();
/// let view = Iommufd::borrow(Arc::new(Host), file.as_fd());
/// drop(file);
/// let _ = view.ioas_alloc();
/// ```
#[derive(Debug)]
pub struct FdView<'fd, T> {
    handle: T,
    _borrow: PhantomData<BorrowedFd<'fd>>,
}

impl<'fd, T> FdView<'fd, T> {
    /// A view of `fd` through `kernel`: `build` wraps the lent [`KernelFd`] in its handle.
    /// Crate-private: every `build` is a handle constructor of this crate, which keeps the
    /// `KernelFd` inside the handle (a closure that stored it elsewhere would let it
    /// outlive the borrow).
    pub(crate) fn new(
        kernel: &Arc<dyn Kernel>,
        fd: BorrowedFd<'fd>,
        build: impl FnOnce(KernelFd) -> T,
    ) -> FdView<'fd, T> {
        FdView {
            handle: build(KernelFd::lent(kernel, fd)),
            _borrow: PhantomData,
        }
    }
}

impl<T> Deref for FdView<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.handle
    }
}

impl<T: AsFd> AsFd for FdView<'_, T> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.handle.as_fd()
    }
}

impl<T: AsRawFd> AsRawFd for FdView<'_, T> {
    fn as_raw_fd(&self) -> RawFd {
        self.handle.as_raw_fd()
    }
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

// SAFETY: each method makes the one system call it names on the caller's fd, with a
// pointer only to the buffer it is handed, bounded as its `// SAFETY:` comment says; the
// trait's contract (fd ownership, the kind of request) is the caller's to keep.
unsafe impl Kernel for Host {
    fn open(&self, path: &Path, write: bool) -> Result<RawFd, Errno> {
        std::fs::OpenOptions::new()
            .read(true)
            .write(write)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)
            .map(IntoRawFd::into_raw_fd)
            .map_err(|e| Errno(e.raw_os_error().unwrap_or(libc::EIO)))
    }

    unsafe fn close(&self, fd: RawFd) {
        // SAFETY: the trait's fd contract: `fd` was returned by this kernel and is owned
        // by the `KernelFd` being dropped, which calls this exactly once; the `OwnedFd`
        // takes that ownership and closes it.
        drop(unsafe { OwnedFd::from_raw_fd(fd) });
    }

    unsafe fn ioctl_value(&self, fd: RawFd, request: u32, value: u64) -> Result<i32, Errno> {
        // SAFETY: the argument is an integer, not a pointer; an ioctl that expected a
        // pointer would fault in the kernel (EFAULT), not touch our memory.
        check(unsafe { libc::ioctl(fd, libc::c_ulong::from(request), value) })
    }

    unsafe fn ioctl_i32(&self, fd: RawFd, request: u32, arg: &mut i32) -> Result<i32, Errno> {
        // SAFETY: `arg` is a valid, exclusive `int` for the whole call; the ioctls using
        // this form read or write exactly one `int`.
        check(unsafe { libc::ioctl(fd, libc::c_ulong::from(request), arg as *mut i32) })
    }

    unsafe fn ioctl_cstr(&self, fd: RawFd, request: u32, arg: &CStr) -> Result<i32, Errno> {
        // SAFETY: `arg` is NUL-terminated and lives for the call; the kernel only reads
        // it up to the NUL (`strndup_user`).
        check(unsafe { libc::ioctl(fd, libc::c_ulong::from(request), arg.as_ptr()) })
    }

    unsafe fn ioctl_sized(&self, fd: RawFd, request: u32, arg: &mut [u8]) -> Result<i32, Errno> {
        declared_size(arg).ok_or(Errno::EINVAL)?;
        // SAFETY: `arg` is exclusively borrowed for the call and its first `u32` (checked
        // above to be <= arg.len()) bounds every kernel read and write of the struct
        // (VFIO copies `minsz`..`argsz`; iommufd `copy_struct_from_user` / respond with
        // `min(size, ...)`), so the kernel stays inside `arg`.
        check(unsafe { libc::ioctl(fd, libc::c_ulong::from(request), arg.as_mut_ptr()) })
    }

    unsafe fn ioctl_sized_data(
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

    unsafe fn pread(&self, fd: RawFd, buf: &mut [u8], offset: u64) -> Result<usize, Errno> {
        let offset = libc::off_t::try_from(offset).map_err(|_| Errno::EINVAL)?;
        // SAFETY: `buf` is valid for writes of `buf.len()` bytes for the call.
        check_len(unsafe { libc::pread(fd, buf.as_mut_ptr().cast(), buf.len(), offset) })
    }

    unsafe fn pwrite(&self, fd: RawFd, buf: &[u8], offset: u64) -> Result<usize, Errno> {
        let offset = libc::off_t::try_from(offset).map_err(|_| Errno::EINVAL)?;
        // SAFETY: `buf` is valid for reads of `buf.len()` bytes for the call.
        check_len(unsafe { libc::pwrite(fd, buf.as_ptr().cast(), buf.len(), offset) })
    }

    unsafe fn read(&self, fd: RawFd, buf: &mut [u8]) -> Result<usize, Errno> {
        // SAFETY: `buf` is valid for writes of `buf.len()` bytes for the call.
        check_len(unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) })
    }

    unsafe fn write(&self, fd: RawFd, buf: &[u8]) -> Result<usize, Errno> {
        // SAFETY: `buf` is valid for reads of `buf.len()` bytes for the call.
        check_len(unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Host.ioctl_sized` on fd -1.
    fn sized_on_no_fd(arg: &mut [u8]) -> Result<i32, Errno> {
        // SAFETY: fd -1 is no descriptor, so the call is refused before the kernel
        // (EINVAL) or fails with EBADF; no memory or fd is touched.
        unsafe { Host.ioctl_sized(-1, 0x3b70, arg) }
    }

    /// `Host.ioctl_sized_data` on fd -1.
    fn sized_data_on_no_fd(arg: &mut [u8], len: DataLen, data: &mut [u8]) -> Result<i32, Errno> {
        // SAFETY: as in `sized_on_no_fd`.
        unsafe { Host.ioctl_sized_data(-1, 0x3b8a, arg, 16, len, data) }
    }

    #[test]
    fn sized_ioctl_refuses_a_size_past_the_buffer_before_calling() {
        let mut arg = [0u8; 16];
        arg[..4].copy_from_slice(&17u32.to_ne_bytes());
        // fd -1 would give EBADF if the call were made: EINVAL proves it was not.
        assert_eq!(sized_on_no_fd(&mut arg), Err(Errno::EINVAL));
        arg[..4].copy_from_slice(&3u32.to_ne_bytes());
        assert_eq!(sized_on_no_fd(&mut arg), Err(Errno::EINVAL));
        arg[..4].copy_from_slice(&16u32.to_ne_bytes());
        assert_eq!(sized_on_no_fd(&mut arg), Err(Errno::EBADF));
    }

    #[test]
    fn data_ioctl_refuses_a_length_past_the_data_buffer() {
        let mut arg = [0u8; 40];
        arg[..4].copy_from_slice(&40u32.to_ne_bytes());
        arg[12..16].copy_from_slice(&9u32.to_ne_bytes()); // data_len 9 > 8
        let mut data = [0u8; 8];
        let len = DataLen::Bytes { at: 12 };
        assert_eq!(
            sized_data_on_no_fd(&mut arg, len, &mut data),
            Err(Errno::EINVAL)
        );
        arg[12..16].copy_from_slice(&8u32.to_ne_bytes());
        assert_eq!(
            sized_data_on_no_fd(&mut arg, len, &mut data),
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
