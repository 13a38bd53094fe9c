//! A safe DMA mapper of vm-memory guest memory (feature `vm-memory`): every region of a
//! [`GuestMemoryMmap`] mapped into an IOAS ([`Iommufd`]) or a type1 [`Container`] at
//! IOVA = guest physical address, unmapped when the mapping is dropped.
//!
//! # The safety argument
//!
//! [`Iommufd::ioas_map`] and [`Container::map_dma`] are `unsafe fn`s: the device reads and
//! writes the mapped user range after the call returns, so it must stay mapped (and be
//! used for nothing the device must not see) until it is unmapped. [`GuestMemoryDma`]
//! keeps that promise by construction:
//!
//! - **the range is the region's own.** The user address and length come from the
//!   region's `MmapRegion` (vm-memory's concrete type: `as_ptr()` and `size()` of the
//!   `mmap` it made, or that an `unsafe` `MmapRegion::build_raw` caller vouched for), never
//!   from a trait a caller implements;
//! - **the mapping cannot outlive the region.** The mapper holds an `Arc` of every
//!   mapped region's `MmapRegion`, so its `mmap` is not unmapped (vm-memory unmaps in
//!   the `MmapRegion`'s `Drop`) while the mapper lives, even if the VMM drops or replaces
//!   its `GuestMemoryMmap`;
//! - **unmapped before released.** `Drop` (or [`GuestMemoryDma::unmap`]) unmaps every
//!   range it mapped from the IOAS or container it mapped it in, which it borrows (or
//!   holds an `Arc` of), and only then releases that range's `Arc`. A range the kernel
//!   does not unmap (an error, or fewer bytes) keeps its region forever: the `Arc` is
//!   leaked, so the memory the device may still reach is never reused;
//! - **no half mapping.** If mapping a region fails, the regions mapped before it are
//!   unmapped (by the same rule) and the error is returned.
//!
//! Guest memory is shared with the device as it is with the guest: vm-memory accesses it
//! through volatile slices only, never through Rust references, so the device writing it
//! concurrently is no aliasing violation. DMA writes are not recorded in the regions'
//! dirty bitmaps.
//!
//! ```
//! use std::sync::Arc;
//! use vm_memory::{GuestAddress, GuestMemoryMmap};
//! use vsva_vfio::guest_memory::GuestMemoryDma;
//! use vsva_vfio::iommufd::{IoasId, Iommufd, IOAS_MAP_READABLE, IOAS_MAP_WRITEABLE, IOMMU_IOAS_MAP, IOMMU_IOAS_UNMAP};
//! use vsva_vfio::scripted::{Reply, ScriptedKernel};
//!
//! let k = ScriptedKernel::new();
//! k.add_path("/dev/iommu");
//! k.on(IOMMU_IOAS_MAP, |_, _| Ok(Reply::Value(0)));
//! k.on(IOMMU_IOAS_UNMAP, |_, _| Ok(Reply::Value(0))); // unmaps the length asked
//! let iommufd = Iommufd::open(Arc::new(k.clone())).unwrap();
//! let ram = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), 0x10000)]).unwrap();
//! let dma = GuestMemoryDma::map_ioas(&iommufd, IoasId(2), &ram, IOAS_MAP_READABLE | IOAS_MAP_WRITEABLE).unwrap();
//! drop(ram); // the mapping keeps the region mapped
//! assert_eq!(dma.ranges().collect::<Vec<_>>(), [(0, 0x10000)]);
//! dma.unmap().unwrap();
//! ```

use std::any::Any;
use std::sync::Arc;

use vm_memory::bitmap::Bitmap;
use vm_memory::{GuestMemoryBackend, GuestMemoryMmap, GuestMemoryRegion};

use crate::container::Container;
use crate::error::{Error, Result};
use crate::iommufd::{IoasId, Iommufd};

/// Where the guest memory is mapped.
#[derive(Debug)]
enum Target<'a> {
    /// An IOAS of a borrowed iommufd.
    Ioas(&'a Iommufd, IoasId),
    /// An IOAS of a shared iommufd.
    SharedIoas(Arc<Iommufd>, IoasId),
    /// A type1 container.
    Container(&'a Container),
}

impl Target<'_> {
    /// Maps `[user_va, user_va + len)` at `iova`.
    ///
    /// # Safety
    /// The range must stay mapped, and be used for nothing the device must not see, until
    /// it is unmapped (`ioas_map` / `map_dma`'s contract).
    unsafe fn map(&self, user_va: u64, iova: u64, len: u64, flags: u32) -> Result<()> {
        let (fd, ioas) = match self {
            Target::Ioas(fd, ioas) => (*fd, *ioas),
            Target::SharedIoas(fd, ioas) => (&**fd, *ioas),
            Target::Container(c) => {
                // SAFETY: the caller's contract is `map_dma`'s.
                return unsafe { c.map_dma(user_va, iova, len, flags) };
            }
        };
        // SAFETY: the caller's contract is `ioas_map`'s.
        unsafe { fd.ioas_map(ioas, user_va, len, Some(iova), flags) }.map(drop)
    }

    /// Unmaps `[iova, iova + len)`; an error unless exactly `len` bytes were unmapped.
    fn unmap(&self, iova: u64, len: u64) -> Result<()> {
        let (op, unmapped) = match self {
            Target::Ioas(fd, ioas) => ("IOMMU_IOAS_UNMAP", fd.ioas_unmap(*ioas, iova, len)?),
            Target::SharedIoas(fd, ioas) => ("IOMMU_IOAS_UNMAP", fd.ioas_unmap(*ioas, iova, len)?),
            Target::Container(c) => ("VFIO_IOMMU_UNMAP_DMA", c.unmap_dma(iova, len)?),
        };
        if unmapped == len {
            Ok(())
        } else {
            Err(Error::BadReply {
                op,
                what: "unmapped another length than the mapping's",
            })
        }
    }
}

/// One mapped region: its IOVA range and the `Arc` that keeps its memory mapped.
struct Mapped {
    iova: u64,
    len: u64,
    region: Arc<dyn Any + Send + Sync>,
}

/// Every region of a guest memory, mapped for DMA at IOVA = guest physical address, until
/// dropped (see the [module documentation](self) for why that is safe).
pub struct GuestMemoryDma<'a> {
    target: Target<'a>,
    mapped: Vec<Mapped>,
}

impl std::fmt::Debug for GuestMemoryDma<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuestMemoryDma")
            .field("target", &self.target)
            .field("ranges", &self.ranges().collect::<Vec<_>>())
            .finish()
    }
}

impl<'a> GuestMemoryDma<'a> {
    fn map<B: Bitmap + Send + Sync + 'static>(
        target: Target<'a>,
        mem: &GuestMemoryMmap<B>,
        flags: u32,
    ) -> Result<GuestMemoryDma<'a>> {
        let mut dma = GuestMemoryDma {
            target,
            mapped: Vec::with_capacity(mem.num_regions()),
        };
        for region in mem.iter() {
            let mmap = region.get_mmap();
            let user_va = mmap.as_ptr() as u64;
            let len = mmap.size() as u64;
            let iova = region.start_addr().0;
            // SAFETY: `[user_va, user_va + len)` is the `mmap` of `mmap` (an
            // `Arc<MmapRegion>`), which stays mapped while the `Arc` lives; it is kept in
            // `dma.mapped` from here until the range is unmapped (`unmap_all`), or
            // forever if it cannot be. Guest memory is the device's to see.
            unsafe { dma.target.map(user_va, iova, len, flags) }?;
            dma.mapped.push(Mapped {
                iova,
                len,
                region: mmap,
            });
        }
        Ok(dma)
        // On an error, `dma` drops here: what was mapped is unmapped (or kept forever).
    }

    /// Maps every region of `mem` into `ioas` of `iommufd` (`IOMMU_IOAS_MAP` with
    /// `IOMMU_IOAS_MAP_FIXED_IOVA`, IOVA = GPA); `flags` is
    /// `IOAS_MAP_{READABLE, WRITEABLE}`. Unmapped when dropped.
    ///
    /// # Errors
    /// The first `IOMMU_IOAS_MAP` error (`EEXIST` over an existing mapping, `ENOENT`
    /// unknown IOAS, `EINVAL`); the regions mapped before it are unmapped again.
    pub fn map_ioas<B: Bitmap + Send + Sync + 'static>(
        iommufd: &'a Iommufd,
        ioas: IoasId,
        mem: &GuestMemoryMmap<B>,
        flags: u32,
    ) -> Result<GuestMemoryDma<'a>> {
        Self::map(Target::Ioas(iommufd, ioas), mem, flags)
    }

    /// Maps every region of `mem` into `container` (`VFIO_IOMMU_MAP_DMA`, IOVA = GPA);
    /// `flags` is `VFIO_DMA_MAP_FLAG_{READ, WRITE}`. Unmapped when dropped.
    ///
    /// # Errors
    /// The first `VFIO_IOMMU_MAP_DMA` error (`EEXIST`, `EINVAL`, `ENOSPC` past the
    /// mapping limit); the regions mapped before it are unmapped again.
    pub fn map_container<B: Bitmap + Send + Sync + 'static>(
        container: &'a Container,
        mem: &GuestMemoryMmap<B>,
        flags: u32,
    ) -> Result<GuestMemoryDma<'a>> {
        Self::map(Target::Container(container), mem, flags)
    }

    /// The mapped `(iova, length)` ranges, in guest address order.
    pub fn ranges(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.mapped.iter().map(|m| (m.iova, m.len))
    }

    /// Unmaps every range (what `Drop` does), reporting the first error. A range the
    /// kernel did not unmap keeps its region mapped in this process for good.
    ///
    /// # Errors
    /// The first unmap error ([`Error::Ioctl`], or [`Error::BadReply`] when the kernel
    /// unmapped another length).
    pub fn unmap(mut self) -> Result<()> {
        self.unmap_all()
    }

    fn unmap_all(&mut self) -> Result<()> {
        let mut first = Ok(());
        for m in self.mapped.drain(..).rev() {
            if let Err(e) = self.target.unmap(m.iova, m.len) {
                // The device may still reach this memory: never release it.
                std::mem::forget(m.region);
                if first.is_ok() {
                    first = Err(e);
                }
            }
        }
        first
    }
}

impl GuestMemoryDma<'static> {
    /// [`GuestMemoryDma::map_ioas`] on a shared iommufd, which the mapping keeps: for a
    /// VMM that stores the mapping beside its `Arc<Iommufd>`.
    ///
    /// # Errors
    /// As [`GuestMemoryDma::map_ioas`].
    pub fn map_ioas_shared<B: Bitmap + Send + Sync + 'static>(
        iommufd: Arc<Iommufd>,
        ioas: IoasId,
        mem: &GuestMemoryMmap<B>,
        flags: u32,
    ) -> Result<GuestMemoryDma<'static>> {
        Self::map(Target::SharedIoas(iommufd, ioas), mem, flags)
    }
}

impl Drop for GuestMemoryDma<'_> {
    fn drop(&mut self) {
        let _ = self.unmap_all();
    }
}
