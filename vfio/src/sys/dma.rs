//! DMA mappings: the wrappers whose effect outlives the call, so they are `unsafe fn`s.
//! They are methods of [`Container`] and [`Iommufd`], declared here because every
//! `unsafe` item of the crate lives in [`crate::sys`].

use vsva_uapi::ioctl;
use vsva_uapi::vfio_core::VFIO_IOMMU_MAP_DMA;
use zerocopy::{FromBytes, IntoBytes};

use crate::container::Container;
use crate::error::{Error, Result};
use crate::iommu::dma_map_request;
use crate::iommufd::{ioas_map_request, IoasId, Iommufd};

impl Container {
    /// `ioctl(container, VFIO_IOMMU_MAP_DMA, {argsz, flags, vaddr, iova, size})`: maps
    /// `size` bytes of this process at `vaddr` to `iova` in the container's IOMMU.
    /// `flags` is `VFIO_DMA_MAP_FLAG_{READ, WRITE}`.
    ///
    /// # Safety
    /// `[vaddr, vaddr + size)` must stay mapped in this process, and must not be reused
    /// for anything the device must not see, until [`Container::unmap_dma`] removes it:
    /// the device reads and writes that memory after this call returns.
    ///
    /// # Errors
    /// [`Error::Ioctl`] (`EINVAL` for a misaligned or overlapping range, `EEXIST`,
    /// `ENOSPC` past the DMA-mapping limit), [`Error::NotSupported`] without a type1 IOMMU.
    ///
    /// # References
    /// `include/uapi/linux/vfio.h` (`VFIO_IOMMU_MAP_DMA`).
    pub unsafe fn map_dma(&self, vaddr: u64, iova: u64, size: u64, flags: u32) -> Result<()> {
        let mut req = dma_map_request(vaddr, iova, size, flags);
        // SAFETY: the request names exactly the caller's range, whose lifetime is this
        // function's contract; `dma_map` bounds the kernel's access to `req` by argsz.
        unsafe {
            self.fd()
                .kernel()
                .dma_map(self.fd().raw(), VFIO_IOMMU_MAP_DMA, req.as_mut_bytes())
        }
        .map_err(|e| Error::ioctl("VFIO_IOMMU_MAP_DMA", e))?;
        Ok(())
    }
}

impl Iommufd {
    /// `ioctl(iommufd, IOMMU_IOAS_MAP, {size, flags, ioas_id, user_va, length, iova})`:
    /// maps `length` bytes at `user_va` into `ioas`, at `iova` (`Some`: fixed) or where
    /// the kernel chooses (`None`). `flags` is `IOMMU_IOAS_MAP_{READABLE, WRITEABLE}`.
    /// Returns the IOVA used.
    ///
    /// # Safety
    /// `[user_va, user_va + length)` must stay mapped in this process, and must not be
    /// reused for anything the device must not see, until it is unmapped.
    ///
    /// # Errors
    /// [`Error::Ioctl`] (`ENOENT` unknown IOAS, `EINVAL`, `EEXIST`),
    /// [`Error::NotSupported`] without iommufd.
    ///
    /// # References
    /// `include/uapi/linux/iommufd.h` (`IOMMU_IOAS_MAP`).
    pub unsafe fn ioas_map(
        &self,
        ioas: IoasId,
        user_va: u64,
        length: u64,
        iova: Option<u64>,
        flags: u32,
    ) -> Result<u64> {
        const OP: &str = ioctl::IOMMU_IOAS_MAP.name();
        let mut req = ioas_map_request(ioas, user_va, length, iova, flags)?;
        // SAFETY: the request names exactly the caller's range, whose lifetime is this
        // function's contract; `dma_map` bounds the kernel's access to `req` by its size.
        unsafe {
            self.fd()
                .kernel()
                .dma_map(self.fd().raw(), ioctl::IOMMU_IOAS_MAP.number(), &mut req)
        }
        .map_err(|e| Error::ioctl(OP, e))?;
        let reply =
            vsva_uapi::iommufd::IoasMap::read_from_bytes(&req).map_err(|_| Error::BadReply {
                op: OP,
                what: "reply is not an iommu_ioas_map",
            })?;
        match iova {
            Some(fixed) if reply.iova != fixed => Err(Error::BadReply {
                op: OP,
                what: "the kernel moved a fixed IOVA",
            }),
            _ => Ok(reply.iova),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::scripted::{Call, Reply, ScriptedKernel};
    use crate::sys::Kernel;
    use vsva_uapi::Errno;

    #[test]
    fn map_dma_sends_the_range_and_reports_errnos() {
        let k = ScriptedKernel::new();
        k.add_path("/dev/vfio/vfio");
        k.on(VFIO_IOMMU_MAP_DMA, |_, call| match call {
            Call::DmaMap(arg) if arg.len() == 32 => Ok(Reply::Value(0)),
            _ => Err(Errno::EINVAL),
        });
        let kernel: Arc<dyn Kernel> = Arc::new(k.clone());
        let c = Container::open(kernel).unwrap();
        let page = vec![0u8; 4096];
        // SAFETY: `page` outlives the (scripted) mapping; nothing DMAs into it.
        unsafe { c.map_dma(page.as_ptr() as u64, 0x10_0000, 4096, 3) }.unwrap();
        let sent = &k.calls()[0].arg;
        assert_eq!(u32::from_ne_bytes(sent[..4].try_into().unwrap()), 32);
        assert_eq!(
            u64::from_ne_bytes(sent[16..24].try_into().unwrap()),
            0x10_0000
        );
        k.on(VFIO_IOMMU_MAP_DMA, |_, _| Err(Errno::ENOSPC));
        // SAFETY: as above.
        let e = unsafe { c.map_dma(page.as_ptr() as u64, 0, 4096, 3) }.unwrap_err();
        assert_eq!(e.errno(), Errno::ENOSPC);
    }

    #[test]
    fn ioas_map_returns_the_kernel_iova_and_checks_a_fixed_one() {
        let k = ScriptedKernel::new();
        k.add_path("/dev/iommu");
        k.on(ioctl::IOMMU_IOAS_MAP.number(), |_, call| match call {
            Call::DmaMap(arg) => {
                arg[32..40].copy_from_slice(&0x2000u64.to_ne_bytes());
                Ok(Reply::Value(0))
            }
            _ => Err(Errno::EINVAL),
        });
        let kernel: Arc<dyn Kernel> = Arc::new(k.clone());
        let fd = Iommufd::open(kernel).unwrap();
        let buf = vec![0u8; 8192];
        // SAFETY: `buf` outlives the (scripted) mapping; nothing DMAs into it.
        let iova = unsafe { fd.ioas_map(IoasId(1), buf.as_ptr() as u64, 8192, None, 3) };
        assert_eq!(iova.unwrap(), 0x2000);
        // SAFETY: as above.
        let moved = unsafe { fd.ioas_map(IoasId(1), buf.as_ptr() as u64, 8192, Some(0x4000), 3) };
        assert!(matches!(moved, Err(Error::BadReply { .. })), "{moved:?}");
        assert_eq!(k.calls().len(), 2);
    }
}
