//! A VFIO device fd (from [`crate::group::Group::device`], or a cdev): device info,
//! region info by **index**, IRQ info, reset, and bounds-checked region reads/writes.
//!
//! The info ioctls negotiate `argsz`: ask with the base struct; if the
//! kernel reports a capability chain (`*_CAPS` flag) and a larger `argsz`, grow the
//! buffer to exactly that size and ask again — at most [`MAX_INFO_ROUNDS`] times and never
//! past [`MAX_INFO_ARGSZ`]. The chain is then walked by [`crate::caps::walk`] within the
//! `argsz` the kernel actually returned.
//!
//! # References
//! `include/uapi/linux/vfio.h`; `drivers/vfio/pci/vfio_pci_core.c`.

use std::os::fd::{BorrowedFd, OwnedFd};
use std::sync::Arc;

use vsva_uapi::vfio_core::{
    caps_extension, VfioDeviceInfo, VfioIrqInfo, VfioRegionInfo, VFIO_DEVICE_FLAGS_PCI,
    VFIO_DEVICE_FLAGS_RESET, VFIO_DEVICE_GET_INFO, VFIO_DEVICE_GET_IRQ_INFO,
    VFIO_DEVICE_GET_REGION_INFO, VFIO_DEVICE_RESET, VFIO_REGION_INFO_CAP_SPARSE_MMAP,
    VFIO_REGION_INFO_CAP_TYPE, VFIO_REGION_INFO_FLAG_MMAP, VFIO_REGION_INFO_FLAG_READ,
    VFIO_REGION_INFO_FLAG_WRITE,
};
use vsva_uapi::{Errno, UapiStruct};
use zerocopy::{FromBytes, FromZeros, IntoBytes};

use crate::caps::{collect_raw, RawCap};
use crate::error::{CapChainError, Error, Result};
use crate::sys::{FdView, Kernel, KernelFd};

/// The largest `argsz` an info reply may ask for (a bound on the negotiation).
pub const MAX_INFO_ARGSZ: usize = 64 * 1024;

/// The most calls one info negotiation makes.
pub const MAX_INFO_ROUNDS: usize = 3;

fn u32_at(bytes: &[u8], at: usize) -> Option<u32> {
    u32::read_from_prefix(bytes.get(at..)?).ok().map(|(v, _)| v)
}

/// A VFIO info reply: the fixed struct (zero-filled past what the kernel wrote), the
/// reply bytes (`min(argsz returned, buffer)` long), and where the capability chain
/// starts when the struct's CAPS flag says there is one.
pub(crate) struct InfoReply<T> {
    /// The fixed struct.
    pub head: T,
    /// The whole reply.
    pub bytes: Vec<u8>,
    /// `cap_offset`, when the CAPS flag is set and the reply covers the fixed struct.
    pub first_cap: Option<u32>,
}

impl<T> InfoReply<T> {
    /// The chain, raw, walked within the reply (after the fixed struct).
    pub fn raw_caps(&self, op: &'static str) -> Result<Vec<RawCap>> {
        match self.first_cap {
            None => Ok(Vec::new()),
            Some(first) => collect_raw(&self.bytes, first, size_of::<T>())
                .map_err(|source| Error::CapChain { op, source }),
        }
    }
}

/// Makes a VFIO info ioctl with `argsz` negotiation. Everything specific to the struct
/// comes from its declaration: the smallest size any kernel writes (`min_size`; below it
/// [`Error::BadReply`]), and the CAPS flag with the position of `cap_offset`
/// ([`caps_extension`]). `request` is the struct as the caller fills it (its `argsz` is
/// set here).
///
/// # Errors
/// [`Error::ioctl`] with the kernel's errno; [`Error::BadReply`] for an `argsz` below
/// `min_size`, above [`MAX_INFO_ARGSZ`], or still growing after [`MAX_INFO_ROUNDS`] calls.
pub(crate) fn get_info<T: UapiStruct>(
    fd: &KernelFd,
    ioctl: u32,
    op: &'static str,
    request: &T,
) -> Result<InfoReply<T>> {
    let layout = T::DECL;
    let caps = caps_extension(layout);
    let caps_flag = caps.map_or(0, |x| x.bit);
    let request = request.as_bytes();
    let mut buf = request.to_vec();
    for round in 0..MAX_INFO_ROUNDS {
        let size = buf.len();
        let size32 = u32::try_from(size).map_err(|_| Error::BadReply {
            op,
            what: "argsz past the bound",
        })?;
        buf[..4].copy_from_slice(&size32.to_ne_bytes());
        fd.ioctl_sized(ioctl, &mut buf)
            .map_err(|e| Error::ioctl(op, e))?;
        let argsz = u32_at(&buf, 0).unwrap_or(0) as usize;
        let flags = u64::from(u32_at(&buf, 4).unwrap_or(0));
        if argsz < layout.min_size {
            return Err(Error::BadReply {
                op,
                what: "argsz below the struct's minimum size",
            });
        }
        if flags & caps_flag != 0 && argsz > size {
            if argsz > MAX_INFO_ARGSZ {
                return Err(Error::BadReply {
                    op,
                    what: "argsz past the 64 KiB bound",
                });
            }
            if round + 1 == MAX_INFO_ROUNDS {
                break;
            }
            let mut grown = vec![0u8; argsz];
            grown[..request.len()].copy_from_slice(request);
            buf = grown;
            continue;
        }
        buf.truncate(argsz.min(size));
        let mut head = T::new_zeroed();
        let n = buf.len().min(size_of::<T>());
        head.as_mut_bytes()[..n].copy_from_slice(&buf[..n]);
        let first_cap = caps
            .filter(|x| flags & x.bit != 0 && buf.len() >= size_of::<T>())
            .and_then(|x| u32_at(&buf, x.end - 4));
        return Ok(InfoReply {
            head,
            bytes: buf,
            first_cap,
        });
    }
    Err(Error::BadReply {
        op,
        what: "argsz keeps growing",
    })
}

/// What `VFIO_DEVICE_GET_INFO` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// `VFIO_DEVICE_FLAGS_*`.
    pub flags: u32,
    /// The number of region indexes.
    pub num_regions: u32,
    /// The number of IRQ indexes.
    pub num_irqs: u32,
    /// The device capability chain (`VFIO_DEVICE_INFO_CAP_*`), raw.
    pub caps: Vec<RawCap>,
}

impl DeviceInfo {
    /// `VFIO_DEVICE_FLAGS_PCI`.
    pub fn is_pci(&self) -> bool {
        self.flags & VFIO_DEVICE_FLAGS_PCI != 0
    }

    /// `VFIO_DEVICE_FLAGS_RESET`: [`Device::reset`] is supported.
    pub fn can_reset(&self) -> bool {
        self.flags & VFIO_DEVICE_FLAGS_RESET != 0
    }
}

/// What `VFIO_DEVICE_GET_REGION_INFO` reports for one region index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionInfo {
    /// The region index asked for.
    pub index: u32,
    /// `VFIO_REGION_INFO_FLAG_*`.
    pub flags: u32,
    /// The region size in bytes.
    pub size: u64,
    /// The region's offset in the device fd.
    pub offset: u64,
    /// The region capability chain (`VFIO_REGION_INFO_CAP_*`), raw.
    pub caps: Vec<RawCap>,
}

impl RegionInfo {
    /// `VFIO_REGION_INFO_FLAG_READ`.
    pub fn readable(&self) -> bool {
        self.flags & VFIO_REGION_INFO_FLAG_READ != 0
    }

    /// `VFIO_REGION_INFO_FLAG_WRITE`.
    pub fn writable(&self) -> bool {
        self.flags & VFIO_REGION_INFO_FLAG_WRITE != 0
    }

    /// `VFIO_REGION_INFO_FLAG_MMAP`.
    pub fn mmappable(&self) -> bool {
        self.flags & VFIO_REGION_INFO_FLAG_MMAP != 0
    }

    /// The first capability with `id` (`VFIO_REGION_INFO_CAP_MSIX_MAPPABLE`, ...).
    pub fn cap(&self, id: u32) -> Option<&RawCap> {
        self.caps.iter().find(|c| u32::from(c.id) == id)
    }

    /// `VFIO_REGION_INFO_CAP_TYPE`: `(type, subtype)` of a device-specific region.
    ///
    /// # Errors
    /// [`CapChainError::OutOfBounds`] if the capability is shorter than its 16 bytes.
    pub fn region_type(&self) -> std::result::Result<Option<(u32, u32)>, CapChainError> {
        let Some(c) = self.cap(VFIO_REGION_INFO_CAP_TYPE) else {
            return Ok(None);
        };
        match (u32_at(&c.bytes, 8), u32_at(&c.bytes, 12)) {
            (Some(t), Some(s)) => Ok(Some((t, s))),
            _ => Err(short(c, 16)),
        }
    }

    /// `VFIO_REGION_INFO_CAP_SPARSE_MMAP`: the mmappable `(offset, size)` areas, with
    /// `nr_areas` checked against the capability's bytes.
    ///
    /// # Errors
    /// [`CapChainError::OutOfBounds`] if `nr_areas` describes more than the capability holds.
    pub fn sparse_mmap_areas(&self) -> std::result::Result<Option<Vec<(u64, u64)>>, CapChainError> {
        let Some(c) = self.cap(VFIO_REGION_INFO_CAP_SPARSE_MMAP) else {
            return Ok(None);
        };
        let nr = u32_at(&c.bytes, 8).ok_or_else(|| short(c, 16))? as usize;
        let need = nr.checked_mul(16).and_then(|n| n.checked_add(16));
        let body = need
            .and_then(|n| c.bytes.get(16..n))
            .ok_or_else(|| short(c, need.unwrap_or(usize::MAX)))?;
        Ok(Some(
            body.chunks_exact(16)
                .filter_map(|a| <[u64; 2]>::read_from_bytes(a).ok())
                .map(|[o, s]| (o, s))
                .collect(),
        ))
    }

    /// The device-fd offset of `[offset, offset + len)` in this region, checked.
    ///
    /// # Errors
    /// `EOVERFLOW` if the arithmetic overflows; `EINVAL` if the range leaves the region.
    fn file_offset(&self, op: &'static str, offset: u64, len: usize) -> Result<u64> {
        let overflow = Error::Ioctl {
            op,
            errno: Errno::EOVERFLOW,
        };
        let end = u64::try_from(len)
            .ok()
            .and_then(|l| offset.checked_add(l))
            .ok_or(overflow.clone())?;
        if end > self.size {
            return Err(Error::Ioctl {
                op,
                errno: Errno::EINVAL,
            });
        }
        self.offset.checked_add(offset).ok_or(overflow)
    }
}

fn short(c: &RawCap, need: usize) -> CapChainError {
    CapChainError::OutOfBounds {
        offset: c.offset,
        need: c.offset.saturating_add(need),
        len: c.offset + c.bytes.len(),
    }
}

/// What `VFIO_DEVICE_GET_IRQ_INFO` reports for one IRQ index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IrqInfo {
    /// The IRQ index asked for.
    pub index: u32,
    /// `VFIO_IRQ_INFO_*`.
    pub flags: u32,
    /// The number of IRQs at the index.
    pub count: u32,
}

/// An open VFIO device.
#[derive(Debug)]
pub struct Device {
    fd: KernelFd,
}

const REGION_READ: &str = "VFIO region read (pread)";
const REGION_WRITE: &str = "VFIO region write (pwrite)";

fd_handle!(Device, |h| &h.fd);

impl Device {
    /// Wraps a device fd (from `VFIO_GROUP_GET_DEVICE_FD` or a VFIO cdev).
    pub fn from_fd(fd: KernelFd) -> Device {
        Device { fd }
    }

    /// Takes a VMM's device fd (from its `VFIO_GROUP_GET_DEVICE_FD` or cdev open):
    /// vsva owns it from here and closes it on drop.
    pub fn from_owned(kernel: Arc<dyn Kernel>, fd: OwnedFd) -> Device {
        Device {
            fd: KernelFd::from_owned(&kernel, fd),
        }
    }

    /// A view of a device the VMM keeps (and closes): every method, nothing closed on
    /// drop (see [`FdView`]).
    pub fn borrow(kernel: Arc<dyn Kernel>, fd: BorrowedFd<'_>) -> FdView<'_, Device> {
        FdView::new(&kernel, fd, |fd| Device { fd })
    }

    /// The device's descriptor.
    pub fn fd(&self) -> &KernelFd {
        &self.fd
    }

    /// `ioctl(device, VFIO_DEVICE_GET_INFO, &info)`, with `argsz` negotiation and the
    /// device capability chain.
    ///
    /// # Errors
    /// [`Error::Ioctl`] with the kernel's errno (`EINVAL`, `EFAULT`); `ENOTTY` is
    /// [`Error::NotSupported`]; [`Error::BadReply`] for an inconsistent `argsz`;
    /// [`Error::CapChain`] for a malformed chain.
    ///
    /// # References
    /// `include/uapi/linux/vfio.h` (`VFIO_DEVICE_GET_INFO`, `struct vfio_device_info`).
    pub fn info(&self) -> Result<DeviceInfo> {
        const OP: &str = "VFIO_DEVICE_GET_INFO";
        let reply = get_info(
            &self.fd,
            VFIO_DEVICE_GET_INFO,
            OP,
            &VfioDeviceInfo::new_zeroed(),
        )?;
        let caps = reply.raw_caps(OP)?;
        let head = reply.head;
        Ok(DeviceInfo {
            flags: head.flags,
            num_regions: head.num_regions,
            num_irqs: head.num_irqs,
            caps,
        })
    }

    /// `ioctl(device, VFIO_DEVICE_GET_REGION_INFO, &info)` for region **`index`**, with
    /// `argsz` negotiation and the region capability chain.
    ///
    /// # Errors
    /// [`Error::Ioctl`]: `EINVAL` (no such region, e.g. VGA on a non-VGA device);
    /// `ENOTTY` is [`Error::NotSupported`]; [`Error::BadReply`] for an inconsistent
    /// `argsz` or a changed index; [`Error::CapChain`] for a malformed chain.
    ///
    /// # References
    /// `include/uapi/linux/vfio.h` (`VFIO_DEVICE_GET_REGION_INFO`, `struct vfio_region_info`).
    pub fn region_info(&self, index: u32) -> Result<RegionInfo> {
        const OP: &str = "VFIO_DEVICE_GET_REGION_INFO";
        let mut req = VfioRegionInfo::new_zeroed();
        req.index = index;
        let reply = get_info(&self.fd, VFIO_DEVICE_GET_REGION_INFO, OP, &req)?;
        let head = reply.head;
        if head.index != index {
            return Err(Error::BadReply {
                op: OP,
                what: "the reply is for another region index",
            });
        }
        let caps = reply.raw_caps(OP)?;
        Ok(RegionInfo {
            index,
            flags: head.flags,
            size: head.size,
            offset: head.offset,
            caps,
        })
    }

    /// `ioctl(device, VFIO_DEVICE_GET_IRQ_INFO, &info)` for IRQ `index`.
    ///
    /// # Errors
    /// [`Error::Ioctl`]: `EINVAL` (no such index); `ENOTTY` is [`Error::NotSupported`];
    /// [`Error::BadReply`] if the kernel shrinks `argsz` below the struct.
    ///
    /// # References
    /// `include/uapi/linux/vfio.h` (`VFIO_DEVICE_GET_IRQ_INFO`, `struct vfio_irq_info`).
    pub fn irq_info(&self, index: u32) -> Result<IrqInfo> {
        const OP: &str = "VFIO_DEVICE_GET_IRQ_INFO";
        let mut arg = VfioIrqInfo::new_zeroed();
        arg.argsz = size_of::<VfioIrqInfo>() as u32;
        arg.index = index;
        self.fd
            .ioctl_sized(VFIO_DEVICE_GET_IRQ_INFO, arg.as_mut_bytes())
            .map_err(|e| Error::ioctl(OP, e))?;
        if (arg.argsz as usize) < size_of::<VfioIrqInfo>() {
            return Err(Error::BadReply {
                op: OP,
                what: "argsz below sizeof(vfio_irq_info)",
            });
        }
        Ok(IrqInfo {
            index,
            flags: arg.flags,
            count: arg.count,
        })
    }

    /// `ioctl(device, VFIO_DEVICE_RESET)`.
    ///
    /// # Errors
    /// [`Error::Ioctl`]: `EINVAL` (no reset method), `EBUSY`; `ENOTTY` is
    /// [`Error::NotSupported`].
    ///
    /// # References
    /// `include/uapi/linux/vfio.h` (`VFIO_DEVICE_RESET`).
    pub fn reset(&self) -> Result<()> {
        self.fd
            .ioctl_value(VFIO_DEVICE_RESET, 0)
            .map(drop)
            .map_err(|e| Error::ioctl("VFIO_DEVICE_RESET", e))
    }

    /// `pread(device, buf, region.offset + offset)`: reads `buf.len()` bytes at `offset`
    /// of region `index` (looked up by index with [`Device::region_info`]).
    ///
    /// # Errors
    /// As [`Device::region_info`] and [`Device::read_region`].
    ///
    /// # References
    /// `include/uapi/linux/vfio.h` (`struct vfio_region_info`); `pread(2)`.
    pub fn read(&self, index: u32, offset: u64, buf: &mut [u8]) -> Result<()> {
        let region = self.region_info(index)?;
        self.read_region(&region, offset, buf)
    }

    /// `pwrite(device, buf, region.offset + offset)`: writes `buf` at `offset` of region
    /// `index` (looked up by index with [`Device::region_info`]).
    ///
    /// # Errors
    /// As [`Device::region_info`] and [`Device::write_region`].
    ///
    /// # References
    /// `include/uapi/linux/vfio.h` (`struct vfio_region_info`); `pwrite(2)`.
    pub fn write(&self, index: u32, offset: u64, buf: &[u8]) -> Result<()> {
        let region = self.region_info(index)?;
        self.write_region(&region, offset, buf)
    }

    /// `pread(device, buf, region.offset + offset)` for a region already looked up.
    ///
    /// # Errors
    /// [`Error::Ioctl`] (op `VFIO region read (pread)`): `EINVAL` for a region without
    /// `READ` or a range past the region's size, `EOVERFLOW` for offset arithmetic that
    /// overflows, or the errno of `pread(2)`; [`Error::BadReply`] for a short read.
    ///
    /// # References
    /// `pread(2)`; `drivers/vfio/pci/vfio_pci_rdwr.c`.
    pub fn read_region(&self, region: &RegionInfo, offset: u64, buf: &mut [u8]) -> Result<()> {
        if !region.readable() {
            return Err(Error::Ioctl {
                op: REGION_READ,
                errno: Errno::EINVAL,
            });
        }
        let at = region.file_offset(REGION_READ, offset, buf.len())?;
        let n = self
            .fd
            .pread(buf, at)
            .map_err(|e| Error::ioctl(REGION_READ, e))?;
        if n != buf.len() {
            return Err(Error::BadReply {
                op: REGION_READ,
                what: "short read",
            });
        }
        Ok(())
    }

    /// `pwrite(device, buf, region.offset + offset)` for a region already looked up.
    ///
    /// # Errors
    /// [`Error::Ioctl`] (op `VFIO region write (pwrite)`): `EINVAL` for a region without
    /// `WRITE` or a range past the region's size, `EOVERFLOW` for offset arithmetic that
    /// overflows, or the errno of `pwrite(2)`; [`Error::BadReply`] for a short write.
    ///
    /// # References
    /// `pwrite(2)`; `drivers/vfio/pci/vfio_pci_rdwr.c`.
    pub fn write_region(&self, region: &RegionInfo, offset: u64, buf: &[u8]) -> Result<()> {
        if !region.writable() {
            return Err(Error::Ioctl {
                op: REGION_WRITE,
                errno: Errno::EINVAL,
            });
        }
        let at = region.file_offset(REGION_WRITE, offset, buf.len())?;
        let n = self
            .fd
            .pwrite(buf, at)
            .map_err(|e| Error::ioctl(REGION_WRITE, e))?;
        if n != buf.len() {
            return Err(Error::BadReply {
                op: REGION_WRITE,
                what: "short write",
            });
        }
        Ok(())
    }
}
