//! The guest tests' only `unsafe` code: a page-aligned DMA buffer, the DMA mappings that
//! own it (vsva-vfio's `unsafe fn` [`Container::map_dma`] and [`Iommufd::ioas_map`]), and
//! the raw size-first ioctls the policy tests send ([`raw_sized`], [`raw_sized_data`]), and
//! the `BorrowedFd`s of a rust-vmm VMM's fds ([`vmm_iommufd_fd`], [`vmm_device_fd`]).
//!
//! The mappings are sound by construction: a mapping owns its buffer, so the memory the
//! device may reach stays mapped for as long as the IOMMU maps it. Unmapping hands the
//! buffer back; when an unmap fails the buffer is leaked (never unmapped from this
//! process) rather than freed under a live mapping.

use std::os::fd::{AsRawFd, BorrowedFd};
use std::ptr::NonNull;

use iommufd_ioctls::IommuFd;
use vfio_ioctls::VfioDevice;

use vsva_uapi::consts::{
    IOMMU_DESTROY, IOMMU_GET_HW_INFO, IOMMU_HWPT_ALLOC, IOMMU_HWPT_INVALIDATE, IOMMU_IOAS_ALLOC,
    IOMMU_IOAS_UNMAP, VFIO_DEVICE_ATTACH_IOMMUFD_PT, VFIO_DEVICE_BIND_IOMMUFD,
    VFIO_DEVICE_DETACH_IOMMUFD_PT,
};
use vsva_uapi::vfio_core::{VFIO_DEVICE_GET_REGION_INFO, VFIO_IOMMU_GET_INFO};
use vsva_uapi::Errno;
use vsva_vfio::container::Container;
use vsva_vfio::sys::{DataLen, KernelFd};

use crate::mock_nesting::{
    IOMMU_TEST_CMD, IOMMU_TEST_OP_MD_CHECK_IOTLB, IOMMU_TEST_OP_MOCK_DOMAIN,
    IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE, IOMMU_TEST_OP_TRIGGER_IOPF,
};

/// The size-first VFIO and iommufd requests the tests send as raw bytes: the kernel reads
/// and writes each within the struct's first-`u32` size, and through a pointer field
/// it only reads (or, with [`raw_sized_data`], uses the buffer given). No DMA map, no fd
/// or string argument.
const RAW_SIZED: [u32; 12] = [
    VFIO_IOMMU_GET_INFO,
    VFIO_DEVICE_GET_REGION_INFO,
    VFIO_DEVICE_BIND_IOMMUFD,
    VFIO_DEVICE_ATTACH_IOMMUFD_PT,
    VFIO_DEVICE_DETACH_IOMMUFD_PT,
    IOMMU_IOAS_ALLOC,
    IOMMU_IOAS_UNMAP,
    IOMMU_DESTROY,
    IOMMU_GET_HW_INFO,
    IOMMU_HWPT_ALLOC,
    IOMMU_HWPT_INVALIDATE,
    IOMMU_TEST_CMD,
];

/// The `IOMMU_TEST_CMD` ops the tests send (the `op` at offset 4): none has a pointer.
const RAW_TEST_OPS: [u32; 4] = [
    IOMMU_TEST_OP_MOCK_DOMAIN,
    IOMMU_TEST_OP_MOCK_DOMAIN_REPLACE,
    IOMMU_TEST_OP_MD_CHECK_IOTLB,
    IOMMU_TEST_OP_TRIGGER_IOPF,
];

/// Panics unless `request` (with `arg`) is one of [`RAW_SIZED`] (and, for
/// `IOMMU_TEST_CMD`, one of [`RAW_TEST_OPS`]).
fn check_raw(request: u32, arg: &[u8]) {
    assert!(
        RAW_SIZED.contains(&request),
        "ioctl {request:#x} is not a size-first request the tests may send raw"
    );
    if request == IOMMU_TEST_CMD {
        let op = arg
            .get(4..8)
            .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
        assert!(
            op.is_some_and(|op| RAW_TEST_OPS.contains(&op)),
            "IOMMU_TEST_CMD op {op:?} is not a pointer-free one"
        );
    }
}

/// The fd of a VMM's iommufd (rust-vmm's `IommuFd`, which exposes `AsRawFd` only),
/// borrowed for as long as `fd` is.
pub fn vmm_iommufd_fd(fd: &IommuFd) -> BorrowedFd<'_> {
    // SAFETY: an `IommuFd` owns its `/dev/iommu` `File` from construction to drop and
    // closes it only then; the `BorrowedFd` borrows the `IommuFd`, so it ends first.
    unsafe { BorrowedFd::borrow_raw(fd.as_raw_fd()) }
}

/// The cdev fd of a VMM's device (rust-vmm's `VfioDevice`, `AsRawFd` only), borrowed for
/// as long as `device` is.
pub fn vmm_device_fd(device: &VfioDevice) -> BorrowedFd<'_> {
    // SAFETY: a `VfioDevice` holds its device `File` open until its `Drop` (which closes
    // it); the `BorrowedFd` borrows the `VfioDevice`, so it ends first.
    unsafe { BorrowedFd::borrow_raw(device.as_raw_fd()) }
}

/// `ioctl(fd, request, arg)` for one of [`RAW_SIZED`], `arg` as given (sizes included).
///
/// # Errors
/// The kernel's errno (`EINVAL` before the call for a size past `arg`).
///
/// # Panics
/// For a request outside [`RAW_SIZED`] (or an `IOMMU_TEST_CMD` op outside
/// [`RAW_TEST_OPS`]).
pub fn raw_sized(fd: &KernelFd, request: u32, arg: &mut [u8]) -> Result<i32, Errno> {
    check_raw(request, arg);
    // SAFETY: `fd` is owned by the `KernelFd` (its kernel returned it) and outlives the
    // call; `request` is one of `RAW_SIZED` (checked above), which access the struct only
    // within its first-`u32` size (the kernel checks) and only read through its pointers.
    unsafe { fd.kernel().ioctl_sized(fd.raw(), request, arg) }
}

/// Like [`raw_sized`], with the pointer field at `ptr_at` set to `data`, whose length
/// `len` describes (`EINVAL` before the call if it does not fit).
///
/// # Errors
/// As [`raw_sized`].
///
/// # Panics
/// As [`raw_sized`].
pub fn raw_sized_data(
    fd: &KernelFd,
    request: u32,
    arg: &mut [u8],
    ptr_at: usize,
    len: DataLen,
    data: &mut [u8],
) -> Result<i32, Errno> {
    check_raw(request, arg);
    // SAFETY: as in `raw_sized`; the one pointer field is `data`, bounded by `len`.
    unsafe {
        fd.kernel()
            .ioctl_sized_data(fd.raw(), request, arg, ptr_at, len, data)
    }
}
use vsva_vfio::iommufd::{IoasId, Iommufd, IOAS_MAP_READABLE, IOAS_MAP_WRITEABLE};

/// `VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE`.
const VFIO_DMA_MAP_READ_WRITE: u32 = 0b11;

/// The page size of the guest (x86_64).
pub const PAGE: usize = 4096;

/// Anonymous, page-aligned, private memory for the device to read and write.
///
/// The device writes into it behind the compiler's back, so it is only ever accessed
/// through volatile byte copies ([`DmaBuffer::write`], [`DmaBuffer::read`]), never through
/// a Rust reference.
#[derive(Debug)]
pub struct DmaBuffer {
    ptr: NonNull<u8>,
    len: usize,
}

impl DmaBuffer {
    /// `mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE)`,
    /// zero-filled. `len` is a non-zero multiple of [`PAGE`].
    pub fn new(len: usize) -> DmaBuffer {
        assert!(
            len > 0 && len.is_multiple_of(PAGE),
            "DMA buffer of {len} bytes"
        );
        // SAFETY: a fresh anonymous mapping with no address hint: it cannot overlap any
        // memory Rust already uses. The result is checked before use.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
                -1,
                0,
            )
        };
        assert_ne!(
            p,
            libc::MAP_FAILED,
            "mmap of a {len}-byte DMA buffer: {}",
            std::io::Error::last_os_error()
        );
        let ptr = NonNull::new(p.cast::<u8>()).expect("mmap returned NULL");
        DmaBuffer { ptr, len }
    }

    /// The buffer's user virtual address.
    pub fn vaddr(&self) -> u64 {
        self.ptr.as_ptr() as u64
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    fn check(&self, offset: usize, n: usize) {
        let end = offset.checked_add(n).expect("offset overflows");
        assert!(
            end <= self.len,
            "[{offset}, {end}) outside the {}-byte buffer",
            self.len
        );
    }

    /// Writes `data` at `offset`, byte by byte, volatile.
    pub fn write(&self, offset: usize, data: &[u8]) {
        self.check(offset, data.len());
        for (i, b) in data.iter().enumerate() {
            // SAFETY: `offset + i < len` (checked above): inside the mapping this value
            // owns, which lives until `self` is dropped. No Rust reference to it exists.
            unsafe { self.ptr.as_ptr().add(offset + i).write_volatile(*b) };
        }
    }

    /// Reads `n` bytes at `offset`, byte by byte, volatile.
    pub fn read(&self, offset: usize, n: usize) -> Vec<u8> {
        self.check(offset, n);
        (0..n)
            // SAFETY: as in `write`: in bounds of the live mapping, no reference to it.
            .map(|i| unsafe { self.ptr.as_ptr().add(offset + i).read_volatile() })
            .collect()
    }
}

impl Drop for DmaBuffer {
    fn drop(&mut self) {
        // SAFETY: exactly the mapping `new` created, unmapped once; nothing refers to it
        // any more (it is never lent out as a reference), and a buffer the IOMMU may still
        // map is never dropped (the mappings below leak it instead).
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// A type1 DMA mapping (`VFIO_IOMMU_MAP_DMA`) of a whole [`DmaBuffer`], read/write.
#[derive(Debug)]
pub struct Type1Mapping<'c> {
    container: &'c Container,
    buf: Option<DmaBuffer>,
    iova: u64,
}

impl<'c> Type1Mapping<'c> {
    /// Maps `buf` at `iova` in `container`.
    ///
    /// # Errors
    /// What [`Container::map_dma`] returns; the buffer is freed (it is not mapped).
    pub fn map(
        container: &'c Container,
        buf: DmaBuffer,
        iova: u64,
    ) -> vsva_vfio::Result<Type1Mapping<'c>> {
        // SAFETY: the mapping takes ownership of `buf`: it stays mapped in this process
        // until `unmap_dma` succeeded (then it is handed back) or forever (leaked) when
        // the unmap fails. Nothing else uses that memory.
        unsafe { container.map_dma(buf.vaddr(), iova, buf.len() as u64, VFIO_DMA_MAP_READ_WRITE) }?;
        Ok(Type1Mapping {
            container,
            buf: Some(buf),
            iova,
        })
    }

    /// The IOVA of the first byte.
    pub fn iova(&self) -> u64 {
        self.iova
    }

    /// The mapped buffer.
    pub fn buffer(&self) -> &DmaBuffer {
        self.buf.as_ref().expect("a live mapping has its buffer")
    }

    /// `VFIO_IOMMU_UNMAP_DMA` of the whole mapping: the size the kernel unmapped, and the
    /// buffer back.
    ///
    /// # Errors
    /// What [`Container::unmap_dma`] returns; the buffer is leaked then.
    pub fn unmap(mut self) -> vsva_vfio::Result<(u64, DmaBuffer)> {
        let buf = self.buf.take().expect("a live mapping has its buffer");
        match self.container.unmap_dma(self.iova, buf.len() as u64) {
            Ok(size) => Ok((size, buf)),
            Err(e) => {
                std::mem::forget(buf);
                Err(e)
            }
        }
    }
}

impl Drop for Type1Mapping<'_> {
    fn drop(&mut self) {
        if let Some(buf) = self.buf.take() {
            if self
                .container
                .unmap_dma(self.iova, buf.len() as u64)
                .is_err()
            {
                std::mem::forget(buf);
            }
        }
    }
}

/// An iommufd IOAS mapping (`IOMMU_IOAS_MAP`) of a whole [`DmaBuffer`], read/write.
#[derive(Debug)]
pub struct IoasMapping<'f> {
    iommufd: &'f Iommufd,
    ioas: IoasId,
    buf: Option<DmaBuffer>,
    iova: u64,
}

impl<'f> IoasMapping<'f> {
    /// Maps `buf` into `ioas` at `iova` (`Some`: fixed) or where the kernel chooses.
    ///
    /// # Errors
    /// What [`Iommufd::ioas_map`] returns; the buffer is freed (it is not mapped).
    pub fn map(
        iommufd: &'f Iommufd,
        ioas: IoasId,
        buf: DmaBuffer,
        iova: Option<u64>,
    ) -> vsva_vfio::Result<IoasMapping<'f>> {
        // SAFETY: as in `Type1Mapping::map`: the mapping owns `buf` until the unmap
        // succeeded, and leaks it otherwise.
        let iova = unsafe {
            iommufd.ioas_map(
                ioas,
                buf.vaddr(),
                buf.len() as u64,
                iova,
                IOAS_MAP_READABLE | IOAS_MAP_WRITEABLE,
            )
        }?;
        Ok(IoasMapping {
            iommufd,
            ioas,
            buf: Some(buf),
            iova,
        })
    }

    /// The IOVA of the first byte (the kernel's choice, for a mapping without a fixed one).
    pub fn iova(&self) -> u64 {
        self.iova
    }

    /// The mapped buffer.
    pub fn buffer(&self) -> &DmaBuffer {
        self.buf.as_ref().expect("a live mapping has its buffer")
    }

    /// `IOMMU_IOAS_UNMAP` of the whole mapping: the length the kernel unmapped, and the
    /// buffer back.
    ///
    /// # Errors
    /// What [`Iommufd::ioas_unmap`] returns; the buffer is leaked then.
    pub fn unmap(mut self) -> vsva_vfio::Result<(u64, DmaBuffer)> {
        let buf = self.buf.take().expect("a live mapping has its buffer");
        match self
            .iommufd
            .ioas_unmap(self.ioas, self.iova, buf.len() as u64)
        {
            Ok(len) => Ok((len, buf)),
            Err(e) => {
                std::mem::forget(buf);
                Err(e)
            }
        }
    }
}

impl Drop for IoasMapping<'_> {
    fn drop(&mut self) {
        if let Some(buf) = self.buf.take() {
            if self
                .iommufd
                .ioas_unmap(self.ioas, self.iova, buf.len() as u64)
                .is_err()
            {
                std::mem::forget(buf);
            }
        }
    }
}
