//! iommufd (`/dev/iommu`): I/O address spaces, hardware page tables (nest parents and
//! nested VT-d / SMMUv3 stage 1), hardware info, cache invalidation and fault queues.
//!
//! One method per ioctl. Every request is encoded from its [`vsva_uapi`] declaration with
//! the **smallest header generation that carries what the caller asked for**
//! ([`encode_request`]): a plain `IOMMU_HWPT_ALLOC` is the 24 bytes of v6.6, one with
//! driver data the 40 bytes of v6.7, one with a fault queue the 48 bytes of v6.11, so the
//! same binary works on every kernel that has the feature used. Every reply is read only
//! from the bytes sent (the kernel writes back `min(user size, its size)`), and every
//! driver buffer only up to the length the kernel reports.
//!
//! ```
//! use std::sync::Arc;
//! use vsva_vfio::iommufd::{Iommufd, IOMMU_IOAS_ALLOC};
//! use vsva_vfio::scripted::{Call, Reply, ScriptedKernel};
//!
//! let k = ScriptedKernel::new();
//! k.add_path("/dev/iommu");
//! k.on(IOMMU_IOAS_ALLOC, |_, call| match call {
//!     Call::Sized(arg) => {
//!         arg[8..12].copy_from_slice(&2u32.to_ne_bytes()); // out_ioas_id
//!         Ok(Reply::Value(0))
//!     }
//!     _ => unreachable!(),
//! });
//! let iommufd = Iommufd::open(Arc::new(k.clone())).unwrap();
//! assert_eq!(iommufd.ioas_alloc().unwrap().0, 2);
//! assert_eq!(k.calls()[0].arg.len(), 12);
//! ```
//!
//! `IOMMU_IOAS_MAP` is [`Iommufd::ioas_map`], an `unsafe fn` (the mapping outlives the
//! call) declared in [`crate::sys`] with the crate's other unsafe code;
//! [`ioas_map_request`] builds its argument. Its safe form for guest memory is
//! `guest_memory::GuestMemoryDma` (feature `vm-memory`).
//!
//! # References
//! `include/uapi/linux/iommufd.h`; `drivers/iommu/iommufd/main.c` (size handling),
//! `hw_pagetable.c`, `fault.c`, `io_pagetable.c`.

use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::Path;
use std::sync::Arc;

use vsva_uapi::consts::{HwCapabilities, HwptAllocFlags};
use vsva_uapi::ioctl::{self, Ioctl};
use vsva_uapi::iommufd as uapi;
use vsva_uapi::iommufd::{HwptPageResponse, HwptPgfault, HwptVtdS1, HwptVtdS1Invalidate};
use vsva_uapi::{min_encoded_len, Errno, FieldRef, UapiStruct, MAX_STRUCT_SIZE};
use zerocopy::{FromBytes, FromZeros, IntoBytes};

use crate::smmuv3::Smmuv3Capabilities;
use crate::sys::{FdView, Host, Kernel, KernelFd};
use crate::vtd::VtdCapabilities;
use crate::{Error, Result};

pub use vsva_uapi::consts::{
    IOMMU_DESTROY, IOMMU_FAULT_QUEUE_ALLOC, IOMMU_GET_HW_INFO, IOMMU_HWPT_ALLOC,
    IOMMU_HWPT_INVALIDATE, IOMMU_IOAS_ALLOC, IOMMU_IOAS_IOVA_RANGES, IOMMU_IOAS_MAP,
    IOMMU_IOAS_UNMAP,
};

/// `IOMMU_HW_INFO_TYPE_INTEL_VTD`.
pub const HW_INFO_TYPE_INTEL_VTD: u32 = vsva_uapi::consts::HwInfoType::IntelVtd.raw();
/// `IOMMU_HW_INFO_TYPE_ARM_SMMUV3`.
pub const HW_INFO_TYPE_ARM_SMMUV3: u32 = vsva_uapi::consts::HwInfoType::ArmSmmuv3.raw();
/// `IOMMU_HWPT_DATA_VTD_S1`.
pub const HWPT_DATA_VTD_S1: u32 = vsva_uapi::consts::HwptDataType::VtdS1.raw();
/// `IOMMU_HWPT_DATA_ARM_SMMUV3`.
pub const HWPT_DATA_ARM_SMMUV3: u32 = vsva_uapi::consts::HwptDataType::ArmSmmuv3.raw();
/// `IOMMU_HWPT_INVALIDATE_DATA_VTD_S1`.
pub const HWPT_INVALIDATE_DATA_VTD_S1: u32 = vsva_uapi::consts::HwptInvalidateDataType::VtdS1.raw();
/// `IOMMU_IOAS_MAP_FIXED_IOVA`.
pub const IOAS_MAP_FIXED_IOVA: u32 = 1 << 0;
/// `IOMMU_IOAS_MAP_WRITEABLE`.
pub const IOAS_MAP_WRITEABLE: u32 = 1 << 1;
/// `IOMMU_IOAS_MAP_READABLE`.
pub const IOAS_MAP_READABLE: u32 = 1 << 2;

/// The path of the iommufd character device.
pub const IOMMUFD_PATH: &str = "/dev/iommu";

/// `EMSGSIZE`: `IOMMU_IOAS_IOVA_RANGES`' "more ranges than the array holds".
const EMSGSIZE: Errno = Errno(libc::EMSGSIZE);

/// The largest driver-data buffer `hw_info` grows to (a kernel reporting more is malformed).
const MAX_HW_INFO_DATA: usize = 4096;
/// The largest IOVA range count `ioas_iova_ranges` accepts.
const MAX_IOVA_RANGES: usize = 4096;
/// How many times a growing reply (`EMSGSIZE`, `data_len`) is asked again.
const MAX_RETRIES: usize = 4;

macro_rules! object_id {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub u32);

        impl From<$name> for u32 {
            fn from(id: $name) -> u32 {
                id.0
            }
        }
    };
}

object_id!(
    /// An I/O address space (`IOMMU_IOAS_ALLOC`).
    IoasId
);
object_id!(
    /// A hardware page table (`IOMMU_HWPT_ALLOC`, or the one an attach created).
    HwptId
);
object_id!(
    /// A device bound to an iommufd (`VFIO_DEVICE_BIND_IOMMUFD`'s `out_devid`).
    DevId
);
object_id!(
    /// A fault queue (`IOMMU_FAULT_QUEUE_ALLOC`).
    FaultId
);
object_id!(
    /// A vIOMMU (`IOMMU_VIOMMU_ALLOC`).
    ViommuId
);
object_id!(
    /// A vDEVICE: a device's guest id in a vIOMMU (`IOMMU_VDEVICE_ALLOC`).
    VdeviceId
);

/// Encodes `value` with the smallest header generation of its declaration that carries
/// every non-zero field and every flag-selected extension ([`min_encoded_len`] rounded up
/// to a size some kernel actually had). Returns the size written (the struct's `size` /
/// `argsz`).
///
/// # Errors
/// [`Error::Uapi`] if `out` is too small.
pub fn encode_request<T: UapiStruct>(value: &T, out: &mut [u8]) -> Result<usize> {
    let need = min_encoded_len(T::DECL, value.as_bytes());
    let generations = T::DECL.generations;
    let generation = generations
        .iter()
        .position(|g| g.size >= need)
        .unwrap_or(generations.len() - 1);
    Ok(value.encode_for(generation, out)?)
}

/// Decodes a reply of `len` bytes (what was sent: the kernel writes back at most that)
/// with the struct's declaration; bytes the kernel did not write read as what was sent.
fn decode_reply<T: UapiStruct>(buf: &[u8], len: usize) -> Result<T> {
    let bytes = buf.get(..len).ok_or(Error::BadReply {
        op: T::DECL.name,
        what: "reply longer than its buffer",
    })?;
    Ok(T::from_user(bytes, T::DECL.default_policy)?)
}

/// An open iommufd (`/dev/iommu`).
#[derive(Debug)]
pub struct Iommufd {
    fd: KernelFd,
}

/// What `IOMMU_GET_HW_INFO` reports for the IOMMU behind a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedHwInfo {
    /// `out_data_type`: `enum iommu_hw_info_type` (1 VT-d, 2 SMMUv3, ...).
    pub data_type: u32,
    /// `out_capabilities` (`IOMMU_HW_CAP_*`; zero on a v6.6 kernel, which lacks the field).
    pub capabilities: HwCapabilities,
    /// `out_max_pasid_log2` (zero on kernels before the field, or without PASID).
    pub max_pasid_log2: u8,
    /// The VT-d registers decoded, if `data_type` is VT-d.
    pub vtd: Option<VtdCapabilities>,
    /// `iommu_hw_info_vtd.flags` (`IOMMU_HW_INFO_VTD_ERRATA_772415_SPR17`), if VT-d.
    pub vtd_flags: Option<u32>,
    /// The SMMUv3 `IDR0`..`IDR5`, if `data_type` is SMMUv3.
    pub smmuv3_idr: Option<[u32; 6]>,
    /// The SMMUv3 ID registers decoded, if `data_type` is SMMUv3.
    pub smmuv3: Option<Smmuv3Capabilities>,
    /// The raw driver data, exactly the `data_len` the kernel reported.
    pub data: Vec<u8>,
}

/// The IOVA ranges of an IOAS (`IOMMU_IOAS_IOVA_RANGES`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IovaRanges {
    /// The usable ranges, inclusive `(start, last)`.
    pub ranges: Vec<uapi::IovaRange>,
    /// `out_iova_alignment`: the minimum IOVA (and length) alignment.
    pub alignment: u64,
}

/// The driver data of a nested HWPT (`iommu_hwpt_alloc.data_type` / `data_uptr`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum HwptData {
    /// `IOMMU_HWPT_DATA_NONE`: a paging HWPT on an IOAS.
    #[default]
    None,
    /// `IOMMU_HWPT_DATA_VTD_S1`: a VT-d stage-1 table nested on a parent.
    VtdS1(HwptVtdS1),
    /// `IOMMU_HWPT_DATA_ARM_SMMUV3`: the raw `iommu_hwpt_arm_smmuv3` (`ste[2]`, 16 bytes).
    ArmSmmuv3(Vec<u8>),
    /// Any other driver's data, sent as given: a type vsva does not declare (a newer
    /// driver, or the kernel's selftest mock IOMMU, `IOMMU_HWPT_DATA_SELFTEST`).
    Driver {
        /// `data_type`.
        data_type: u32,
        /// The driver struct's bytes (`data_len` is their length).
        data: Vec<u8>,
    },
}

/// An `IOMMU_HWPT_ALLOC` request, built up and passed to [`Iommufd::hwpt_alloc`].
///
/// ```
/// use vsva_vfio::iommufd::{DevId, HwptAllocRequest, IoasId};
/// let req = HwptAllocRequest::new(DevId(1), IoasId(2)).nest_parent();
/// assert_eq!(req.flags().bits(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HwptAllocRequest {
    dev_id: DevId,
    pt_id: u32,
    flags: HwptAllocFlags,
    fault_id: Option<FaultId>,
    data: HwptData,
}

impl HwptAllocRequest {
    /// A paging HWPT for `dev_id` on `pt_id` (an IOAS, a parent HWPT or a vIOMMU).
    pub fn new(dev_id: DevId, pt_id: impl Into<u32>) -> HwptAllocRequest {
        HwptAllocRequest {
            dev_id,
            pt_id: pt_id.into(),
            flags: HwptAllocFlags::empty(),
            fault_id: None,
            data: HwptData::None,
        }
    }

    /// `IOMMU_HWPT_ALLOC_NEST_PARENT`: the HWPT may be the stage 2 of nested ones.
    #[must_use]
    pub fn nest_parent(mut self) -> Self {
        self.flags |= HwptAllocFlags::NEST_PARENT;
        self
    }

    /// `IOMMU_HWPT_ALLOC_DIRTY_TRACKING`.
    #[must_use]
    pub fn dirty_tracking(mut self) -> Self {
        self.flags |= HwptAllocFlags::DIRTY_TRACKING;
        self
    }

    /// `IOMMU_HWPT_ALLOC_PASID`: the HWPT may be attached to PASIDs.
    #[must_use]
    pub fn pasid(mut self) -> Self {
        self.flags |= HwptAllocFlags::PASID;
        self
    }

    /// `IOMMU_HWPT_FAULT_ID_VALID` with `fault_id`: report I/O page faults to a queue.
    #[must_use]
    pub fn fault(mut self, fault_id: FaultId) -> Self {
        self.flags |= HwptAllocFlags::FAULT_ID_VALID;
        self.fault_id = Some(fault_id);
        self
    }

    /// The driver data (a nested stage 1).
    #[must_use]
    pub fn data(mut self, data: HwptData) -> Self {
        self.data = data;
        self
    }

    /// The flags that will be sent.
    pub fn flags(&self) -> HwptAllocFlags {
        self.flags
    }

    fn encode(&self) -> Result<(uapi::HwptAlloc, Vec<u8>)> {
        let mut req = uapi::HwptAlloc::new_zeroed();
        req.flags = self.flags.bits();
        req.dev_id = self.dev_id.0;
        req.pt_id = self.pt_id;
        req.fault_id = self.fault_id.map_or(0, |f| f.0);
        let (data_type, data) = match &self.data {
            HwptData::None => (0, Vec::new()),
            HwptData::VtdS1(s1) => (HWPT_DATA_VTD_S1, s1.as_bytes().to_vec()),
            HwptData::ArmSmmuv3(bytes) => (HWPT_DATA_ARM_SMMUV3, bytes.clone()),
            HwptData::Driver { data_type, data } => (*data_type, data.clone()),
        };
        req.data_type = data_type;
        req.data_len = u32::try_from(data.len())
            .map_err(|_| Error::ioctl(ioctl::IOMMU_HWPT_ALLOC.name(), Errno::EINVAL))?;
        Ok((req, data))
    }
}

/// A fault queue: its object id (for [`HwptAllocRequest::fault`]) and its fd, from which
/// `iommu_hwpt_pgfault` records are read and to which `iommu_hwpt_page_response` records
/// are written.
#[derive(Debug)]
pub struct FaultQueue {
    /// The fault object.
    pub id: FaultId,
    /// The fault fd (closed on drop).
    pub fd: KernelFd,
}

fd_handle!(Iommufd, |h| &h.fd);
fd_handle!(FaultQueue, |h| &h.fd);

impl From<OwnedFd> for Iommufd {
    /// [`Iommufd::from_owned`] on the real kernel ([`Host`]).
    fn from(fd: OwnedFd) -> Iommufd {
        Iommufd::from_owned(Arc::new(Host), fd)
    }
}

const FAULT_RECORD: usize = core::mem::size_of::<HwptPgfault>();
const RESPONSE_RECORD: usize = core::mem::size_of::<HwptPageResponse>();

impl FaultQueue {
    /// Takes a fault queue's fd (`IOMMU_FAULT_QUEUE_ALLOC`'s `out_fault_fd`, allocated by
    /// a VMM) with its object id: closed on drop.
    pub fn from_owned(kernel: Arc<dyn Kernel>, fd: OwnedFd, id: FaultId) -> FaultQueue {
        FaultQueue {
            id,
            fd: KernelFd::from_owned(&kernel, fd),
        }
    }

    /// A view of a fault queue the VMM keeps (and closes), with its object id.
    pub fn borrow(
        kernel: Arc<dyn Kernel>,
        fd: BorrowedFd<'_>,
        id: FaultId,
    ) -> FdView<'_, FaultQueue> {
        FdView::new(&kernel, fd, |fd| FaultQueue { id, fd })
    }

    /// `read(fault_fd, buf, buf.len())`: the page faults pending, as whole records.
    ///
    /// Size `buf` for whole fault groups (a multiple of 40 bytes); the kernel delivers
    /// whole groups only.
    ///
    /// # Errors
    /// The errno of `read(2)` ([`Error::Ioctl`]); [`Error::BadReply`] if the kernel
    /// returned a partial trailing record or more bytes than `buf` holds.
    ///
    /// # References
    /// `struct iommu_hwpt_pgfault` in `iommufd.h`; `iommufd_fault_fops_read` in `fault.c`.
    pub fn read_faults(&self, buf: &mut [u8]) -> Result<Vec<HwptPgfault>> {
        const OP: &str = "read(iommufd fault fd)";
        let n = self.fd.read(buf).map_err(|e| Error::ioctl(OP, e))?;
        let bytes = buf.get(..n).ok_or(Error::BadReply {
            op: OP,
            what: "read returned more bytes than the buffer holds",
        })?;
        if n % FAULT_RECORD != 0 {
            return Err(Error::BadReply {
                op: OP,
                what: "partial iommu_hwpt_pgfault record",
            });
        }
        bytes
            .chunks_exact(FAULT_RECORD)
            .map(|c| {
                HwptPgfault::read_from_bytes(c).map_err(|_| Error::BadReply {
                    op: OP,
                    what: "partial iommu_hwpt_pgfault record",
                })
            })
            .collect()
    }

    /// `write(fault_fd, responses, 8 * n)`: answers fault groups. Returns how many
    /// responses the kernel took (it stops at the first bad one if it took any).
    ///
    /// # Errors
    /// The errno of `write(2)` (`EINVAL` for an unknown cookie or code when none was
    /// taken); [`Error::BadReply`] if the kernel took a partial record or more than sent.
    ///
    /// # References
    /// `struct iommu_hwpt_page_response` in `iommufd.h`; `iommufd_fault_fops_write`.
    pub fn respond(&self, responses: &[HwptPageResponse]) -> Result<usize> {
        const OP: &str = "write(iommufd fault fd)";
        let bytes = responses.as_bytes();
        let n = self.fd.write(bytes).map_err(|e| Error::ioctl(OP, e))?;
        if n > bytes.len() || n % RESPONSE_RECORD != 0 {
            return Err(Error::BadReply {
                op: OP,
                what: "write took a partial iommu_hwpt_page_response record",
            });
        }
        Ok(n / RESPONSE_RECORD)
    }
}

/// Builds the `iommu_ioas_map` argument (40 bytes) for `IOMMU_IOAS_MAP`: `iova` `Some`
/// sets `IOMMU_IOAS_MAP_FIXED_IOVA`. `flags` holds `IOAS_MAP_{READABLE, WRITEABLE}`.
///
/// [`Iommufd::ioas_map`] sends it (an `unsafe fn`: the memory must stay mapped until
/// unmapped).
///
/// # Errors
/// [`Error::Uapi`] (never, for this fixed-size struct).
pub fn ioas_map_request(
    ioas: IoasId,
    user_va: u64,
    length: u64,
    iova: Option<u64>,
    flags: u32,
) -> Result<[u8; core::mem::size_of::<uapi::IoasMap>()]> {
    let mut req = uapi::IoasMap::new_zeroed();
    req.ioas_id = ioas.0;
    req.flags = flags | iova.map_or(0, |_| IOAS_MAP_FIXED_IOVA);
    req.user_va = user_va;
    req.length = length;
    req.iova = iova.unwrap_or(0);
    let mut out = [0u8; core::mem::size_of::<uapi::IoasMap>()];
    encode_request(&req, &mut out)?;
    Ok(out)
}

impl Iommufd {
    /// `open("/dev/iommu", O_RDWR | O_CLOEXEC)`.
    ///
    /// # Errors
    /// [`Error::Open`] with the errno of `open(2)` (`ENOENT`: no iommufd in this kernel).
    ///
    /// # References
    /// `Documentation/userspace-api/iommufd.rst`.
    pub fn open(kernel: Arc<dyn Kernel>) -> Result<Iommufd> {
        let path = Path::new(IOMMUFD_PATH);
        let fd = KernelFd::open(&kernel, path, true).map_err(|errno| Error::Open {
            path: path.to_path_buf(),
            errno,
        })?;
        Ok(Iommufd { fd })
    }

    /// Wraps an already open iommufd.
    pub fn from_fd(fd: KernelFd) -> Iommufd {
        Iommufd { fd }
    }

    /// Takes a VMM's iommufd (`/dev/iommu` it opened; rust-vmm's `IommuFd`): vsva owns
    /// `fd` from here and closes it on drop. Its objects (IOAS, HWPT, devices bound to
    /// it) are the VMM's ids, usable here as they are: pass a duplicate
    /// (`try_clone_to_owned`, the same iommufd context) to keep using it in the VMM too.
    /// `From<OwnedFd>` does this on the real kernel.
    pub fn from_owned(kernel: Arc<dyn Kernel>, fd: OwnedFd) -> Iommufd {
        Iommufd {
            fd: KernelFd::from_owned(&kernel, fd),
        }
    }

    /// A view of a VMM's iommufd that vsva borrows: every method, nothing closed on
    /// drop; the VMM keeps and closes `fd` (see [`FdView`]).
    pub fn borrow(kernel: Arc<dyn Kernel>, fd: BorrowedFd<'_>) -> FdView<'_, Iommufd> {
        FdView::new(&kernel, fd, |fd| Iommufd { fd })
    }

    /// The iommufd's descriptor (for `VFIO_DEVICE_BIND_IOMMUFD`).
    pub fn fd(&self) -> &KernelFd {
        &self.fd
    }

    /// Sends `req` through the declared `ioctl`, encoded for the oldest header that holds
    /// it ([`encode_request`]), into a buffer of the struct's size, with `data` as the
    /// user buffer the declaration's pointer field points at. Returns what the kernel
    /// left in the buffer and its errno, if any.
    fn send<T: UapiStruct>(
        &self,
        ioctl: &Ioctl<T>,
        req: &T,
        data: Option<&mut [u8]>,
    ) -> Result<(Sent, std::result::Result<i32, Errno>)> {
        send_declared(&self.fd, ioctl, |buf| encode_request(req, buf), data)
    }

    /// [`Iommufd::send`], the errno as [`Error::Ioctl`] named after the ioctl, and the
    /// reply decoded with the struct's declaration.
    fn call<T: UapiStruct>(&self, ioctl: &Ioctl<T>, req: &T, data: Option<&mut [u8]>) -> Result<T> {
        let (sent, r) = self.send(ioctl, req, data)?;
        r.map_err(|e| Error::ioctl(ioctl.name(), e))?;
        sent.reply()
    }

    /// `ioctl(iommufd, IOMMU_DESTROY, &{size = 8, id})`: destroys an object.
    ///
    /// # Errors
    /// `ENOENT` (no such object), `EBUSY` (still in use), `ENOTTY`.
    ///
    /// # References
    /// `struct iommu_destroy` in `iommufd.h`.
    pub fn destroy(&self, id: impl Into<u32>) -> Result<()> {
        let mut req = uapi::Destroy::new_zeroed();
        req.id = id.into();
        self.call(&ioctl::IOMMU_DESTROY, &req, None)?;
        Ok(())
    }

    /// `ioctl(iommufd, IOMMU_IOAS_ALLOC, &{size = 12})`: a new, empty IOAS.
    ///
    /// # Errors
    /// The kernel's errno (`ENOMEM`, `ENOTTY`).
    ///
    /// # References
    /// `struct iommu_ioas_alloc` in `iommufd.h`.
    pub fn ioas_alloc(&self) -> Result<IoasId> {
        let reply = self.call(
            &ioctl::IOMMU_IOAS_ALLOC,
            &uapi::IoasAlloc::new_zeroed(),
            None,
        )?;
        Ok(IoasId(reply.out_ioas_id))
    }

    /// `ioctl(iommufd, IOMMU_IOAS_UNMAP, &{size = 24, ioas_id, iova, length})`: unmaps
    /// `[iova, iova + length)` (`iova` 0 with `length` `u64::MAX`: everything). Returns the
    /// bytes unmapped.
    ///
    /// # Errors
    /// `ENOENT` (no mapping there, or no such IOAS), `EINVAL`, `ENOTTY`.
    ///
    /// # References
    /// `struct iommu_ioas_unmap` in `iommufd.h`.
    pub fn ioas_unmap(&self, ioas: IoasId, iova: u64, length: u64) -> Result<u64> {
        let mut req = uapi::IoasUnmap::new_zeroed();
        req.ioas_id = ioas.0;
        req.iova = iova;
        req.length = length;
        Ok(self.call(&ioctl::IOMMU_IOAS_UNMAP, &req, None)?.length)
    }

    /// `ioctl(iommufd, IOMMU_IOAS_IOVA_RANGES, &{size = 32, ioas_id, num_iovas, allowed_iovas})`:
    /// the IOVA ranges the IOAS may map, and the IOVA alignment.
    ///
    /// Asks first with `num_iovas = 0`; the kernel answers `EMSGSIZE` with the count,
    /// and the call is repeated with exactly that many entries (a few times, if the
    /// ranges change in between).
    ///
    /// # Errors
    /// `ENOENT` (no such IOAS), `ENOTTY`; [`Error::BadReply`] if the count keeps growing,
    /// is absurd, or exceeds the array given without `EMSGSIZE`.
    ///
    /// # References
    /// `struct iommu_ioas_iova_ranges`, `struct iommu_iova_range` in `iommufd.h`.
    pub fn ioas_iova_ranges(&self, ioas: IoasId) -> Result<IovaRanges> {
        let op = ioctl::IOMMU_IOAS_IOVA_RANGES.name();
        let mut count = 0usize;
        for _ in 0..MAX_RETRIES {
            let mut req = uapi::IoasIovaRanges::new_zeroed();
            req.ioas_id = ioas.0;
            req.num_iovas = count as u32; // count <= MAX_IOVA_RANGES
            let mut data = vec![0u8; count * IOVA_RANGE];
            let (sent, r) = self.send(&ioctl::IOMMU_IOAS_IOVA_RANGES, &req, Some(&mut data))?;
            let reply: uapi::IoasIovaRanges = sent.reply()?;
            let have = reply.num_iovas as usize;
            match r {
                Ok(_) => {
                    let bytes = data.get(..have * IOVA_RANGE).ok_or(Error::BadReply {
                        op,
                        what: "num_iovas past the array given",
                    })?;
                    let ranges = bytes
                        .chunks_exact(IOVA_RANGE)
                        .filter_map(|c| uapi::IovaRange::read_from_bytes(c).ok())
                        .collect();
                    return Ok(IovaRanges {
                        ranges,
                        alignment: reply.out_iova_alignment,
                    });
                }
                Err(e) if e == EMSGSIZE => {
                    if have <= count {
                        return Err(Error::BadReply {
                            op,
                            what: "EMSGSIZE without a larger num_iovas",
                        });
                    }
                    if have > MAX_IOVA_RANGES {
                        return Err(Error::BadReply {
                            op,
                            what: "num_iovas beyond any IOMMU",
                        });
                    }
                    count = have;
                }
                Err(e) => return Err(Error::ioctl(op, e)),
            }
        }
        Err(Error::BadReply {
            op,
            what: "num_iovas keeps growing",
        })
    }

    /// `ioctl(iommufd, IOMMU_GET_HW_INFO, &{size = 40, dev_id, data_len, data_uptr})`:
    /// what the IOMMU behind `dev` supports, with the VT-d registers decoded.
    ///
    /// Sends the 40-byte v6.7 header so `out_capabilities` can come back; a v6.6 kernel
    /// (32 bytes) accepts it, since the extra bytes are zero (`copy_struct_from_user`),
    /// and leaves them zero. The driver data is read up to the `data_len` the kernel
    /// reports; a larger one is asked again with a buffer that size.
    ///
    /// # Errors
    /// `ENOENT` (no such device), `EOPNOTSUPP`, `ENOTTY`; [`Error::BadReply`] for driver
    /// data shorter than its type's struct or growing without bound; [`Error::Uapi`] for
    /// a reply the declaration refuses (non-zero reserved bytes).
    ///
    /// # References
    /// `struct iommu_hw_info`, `iommu_hw_info_vtd`, `iommu_hw_info_arm_smmuv3` in
    /// `iommufd.h`; Intel VT-d spec §11.4.2–3.
    pub fn hw_info(&self, dev: DevId) -> Result<DecodedHwInfo> {
        const OP: &str = ioctl::IOMMU_GET_HW_INFO.name();
        let mut cap = 64usize;
        for _ in 0..MAX_RETRIES {
            let mut req = uapi::HwInfo::new_zeroed();
            req.dev_id = dev.0;
            req.data_len = cap as u32; // cap <= MAX_HW_INFO_DATA
            let mut data = vec![0u8; cap];
            let newest = uapi::HwInfo::DECL.generations.len() - 1;
            let (sent, r) = send_declared(
                &self.fd,
                &ioctl::IOMMU_GET_HW_INFO,
                |buf| Ok(req.encode_for(newest, buf)?),
                Some(&mut data),
            )?;
            r.map_err(|e| Error::ioctl(OP, e))?;
            let reply: uapi::HwInfo = sent.reply()?;
            let n = reply.data_len as usize;
            if n > cap {
                if n > MAX_HW_INFO_DATA {
                    return Err(Error::BadReply {
                        op: OP,
                        what: "data_len beyond any IOMMU",
                    });
                }
                cap = n;
                continue;
            }
            data.truncate(n);
            return hw_info_from(OP, &reply, data);
        }
        Err(Error::BadReply {
            op: OP,
            what: "data_len keeps growing",
        })
    }

    /// `ioctl(iommufd, IOMMU_HWPT_ALLOC, &{size, flags, dev_id, pt_id, data_type,
    /// data_len, data_uptr, fault_id})`: a new hardware page table.
    ///
    /// Sends 24 bytes (v6.6) without driver data or fault queue, 40 (v6.7) with driver
    /// data, 48 (v6.11) with a fault queue.
    ///
    /// # Errors
    /// `EOPNOTSUPP` (a flag or data type the IOMMU lacks: dirty tracking, nest parent),
    /// `EINVAL` (parent not a nest parent, bad driver data), `ENOENT`, `ENOTTY`.
    ///
    /// # References
    /// `struct iommu_hwpt_alloc`, `iommu_hwpt_vtd_s1` in `iommufd.h`;
    /// `iommufd_hwpt_alloc` in `hw_pagetable.c`.
    pub fn hwpt_alloc(&self, request: &HwptAllocRequest) -> Result<HwptId> {
        let (req, mut data) = request.encode()?;
        let data = (request.data != HwptData::None).then_some(data.as_mut_slice());
        let (sent, r) = self.send(&ioctl::IOMMU_HWPT_ALLOC, &req, data)?;
        r.map_err(|e| Error::ioctl(ioctl::IOMMU_HWPT_ALLOC.name(), e))?;
        if let HwptData::Driver { .. } = request.data {
            // The reply echoes a data type vsva does not declare, which the declaration's
            // check would refuse; only `out_hwpt_id` is the kernel's.
            let (reply, _) =
                uapi::HwptAlloc::read_from_prefix(&sent.buf).map_err(|_| Error::BadReply {
                    op: ioctl::IOMMU_HWPT_ALLOC.name(),
                    what: "reply shorter than iommu_hwpt_alloc",
                })?;
            return Ok(HwptId(reply.out_hwpt_id));
        }
        Ok(HwptId(sent.reply::<uapi::HwptAlloc>()?.out_hwpt_id))
    }

    /// `ioctl(iommufd, IOMMU_HWPT_SET_DIRTY_TRACKING, &{size = 16, flags, hwpt_id})`:
    /// starts (`enable`, `IOMMU_HWPT_DIRTY_TRACKING_ENABLE`) or stops dirty tracking on a
    /// paging HWPT (one allocated with `IOMMU_HWPT_ALLOC_DIRTY_TRACKING`).
    ///
    /// # Errors
    /// `EOPNOTSUPP` (the domain has no dirty tracking), `ENOENT` (not a paging HWPT),
    /// `ENOTTY` (before v6.7).
    ///
    /// # References
    /// `struct iommu_hwpt_set_dirty_tracking` in `iommufd.h`;
    /// `iommufd_hwpt_set_dirty_tracking` in `hw_pagetable.c`.
    pub fn hwpt_set_dirty_tracking(&self, hwpt: HwptId, enable: bool) -> Result<()> {
        let mut req = uapi::HwptSetDirtyTracking::new_zeroed();
        req.flags = u32::from(enable);
        req.hwpt_id = hwpt.0;
        self.call(&ioctl::IOMMU_HWPT_SET_DIRTY_TRACKING, &req, None)?;
        Ok(())
    }

    /// `ioctl(iommufd, IOMMU_HWPT_INVALIDATE, &{size = 32, hwpt_id, data_uptr,
    /// data_type = VTD_S1, entry_len = 24, entry_num})`: invalidates a nested VT-d
    /// stage-1's caches. Returns how many entries the kernel handled.
    ///
    /// An empty `entries` probes whether the HWPT takes VT-d invalidations.
    ///
    /// # Errors
    /// As [`Iommufd::hwpt_invalidate_entries`].
    ///
    /// # References
    /// `struct iommu_hwpt_invalidate`, `iommu_hwpt_vtd_s1_invalidate` in `iommufd.h`;
    /// `iommufd_hwpt_invalidate` in `hw_pagetable.c`; `intel_nested_cache_invalidate_user`.
    pub fn hwpt_invalidate(
        &self,
        hwpt: HwptId,
        entries: &[HwptVtdS1Invalidate],
    ) -> std::result::Result<usize, (usize, Error)> {
        self.hwpt_invalidate_entries(
            hwpt,
            HWPT_INVALIDATE_DATA_VTD_S1,
            core::mem::size_of::<HwptVtdS1Invalidate>(),
            entries.as_bytes(),
        )
    }

    /// `ioctl(iommufd, IOMMU_HWPT_INVALIDATE, &{size = 32, hwpt_id, data_uptr, data_type,
    /// entry_len, entry_num = entries.len() / entry_len})` for any driver's entry type
    /// (the `entry_len` versioning is the kernel's: shorter than its first version or
    /// longer than its struct is `EINVAL`). Returns how many entries the kernel handled.
    ///
    /// # Errors
    /// `(handled, error)`: the kernel stops at the first bad entry and writes back how many
    /// it handled before it. When it failed before reaching the entries (no such HWPT, no
    /// such ioctl) it leaves `entry_num` as sent (or, as 6.12 does, writes 0); either is
    /// reported as 0 handled, never as all. `EINVAL` (bad entry, `entry_len`, wrong HWPT
    /// type), `EOPNOTSUPP` (unknown flags), `ENOENT`, `ENOTTY`; `EINVAL` without a call
    /// when `entries` is not a whole number of `entry_len`-byte records.
    pub fn hwpt_invalidate_entries(
        &self,
        hwpt: HwptId,
        data_type: u32,
        entry_len: usize,
        entries: &[u8],
    ) -> std::result::Result<usize, (usize, Error)> {
        const OP: &str = ioctl::IOMMU_HWPT_INVALIDATE.name();
        let einval = || (0, Error::ioctl(OP, Errno::EINVAL));
        let sent = match entries.len().checked_div(entry_len) {
            Some(n) if n * entry_len == entries.len() => n,
            None if entries.is_empty() => 0,
            _ => return Err(einval()),
        };
        let num = u32::try_from(sent).map_err(|_| einval())?;
        let mut req = uapi::HwptInvalidate::new_zeroed();
        req.hwpt_id = hwpt.0;
        req.data_type = data_type;
        req.entry_len = u32::try_from(entry_len).map_err(|_| einval())?;
        req.entry_num = num;
        let mut data = entries.to_vec();
        let (reply_buf, r) = self
            .send(&ioctl::IOMMU_HWPT_INVALIDATE, &req, Some(&mut data))
            .map_err(|e| (0, e))?;
        // Only `entry_num` is written back; the rest echoes the request, whose data type
        // may be one vsva does not declare, so it is not decoded.
        let (reply, _) = uapi::HwptInvalidate::read_from_prefix(&reply_buf.buf).map_err(|_| {
            (
                0,
                Error::BadReply {
                    op: OP,
                    what: "reply shorter than iommu_hwpt_invalidate",
                },
            )
        })?;
        let handled = reply.entry_num as usize;
        if handled > sent {
            return Err((
                0,
                Error::BadReply {
                    op: OP,
                    what: "entry_num past the entries sent",
                },
            ));
        }
        match r {
            Ok(_) => Ok(handled),
            // entry_num untouched (== sent) on a failure before the entries: none handled.
            Err(e) if handled == sent => Err((0, Error::ioctl(OP, e))),
            Err(e) => Err((handled, Error::ioctl(OP, e))),
        }
    }

    /// `ioctl(iommufd, IOMMU_FAULT_QUEUE_ALLOC, &{size = 16})`: a new fault queue and its
    /// fd.
    ///
    /// # Errors
    /// `EOPNOTSUPP`, `ENOMEM`, `ENOTTY` (before v6.11); [`Error::BadReply`] for a
    /// negative fd.
    ///
    /// # References
    /// `struct iommu_fault_alloc` in `iommufd.h`; `iommufd_fault_alloc` in `fault.c`.
    pub fn fault_queue_alloc(&self) -> Result<FaultQueue> {
        const OP: &str = ioctl::IOMMU_FAULT_QUEUE_ALLOC.name();
        let req = uapi::FaultAlloc::new_zeroed();
        let mut buf = [0u8; uapi::FaultAlloc::DECL.size];
        let len = encode_request(&req, &mut buf)?;
        // `out_fault_fd` is owned from here on: closed even if the rest of the reply is
        // refused.
        let fd_at = FieldRef::named(uapi::FaultAlloc::FIELDS, "out_fault_fd").offset;
        let fd = self
            .fd
            .ioctl_sized_fd(ioctl::IOMMU_FAULT_QUEUE_ALLOC.number(), &mut buf, fd_at)
            .map_err(|e| Error::ioctl(OP, e))?
            .ok_or(Error::BadReply {
                op: OP,
                what: "negative out_fault_fd",
            })?;
        let reply: uapi::FaultAlloc = decode_reply(&buf, len)?;
        Ok(FaultQueue {
            id: FaultId(reply.out_fault_id),
            fd,
        })
    }
}

/// The vIOMMU object model (6.13+): a kernel without the ioctl answers `ENOTTY` (not
/// in this kernel), a host whose IOMMU driver has no vIOMMU answers `EOPNOTSUPP` (not on
/// this host: VT-d nests through the parent HWPT instead).
impl Iommufd {
    /// `ioctl(iommufd, IOMMU_VIOMMU_ALLOC, &{size = 24, type, dev_id, hwpt_id})`: a
    /// vIOMMU of `viommu_type` (`IOMMU_VIOMMU_TYPE_ARM_SMMUV3` = 1, ...) over the
    /// nest-parent HWPT `parent`, for the IOMMU instance behind `dev`. Sent at the 6.13
    /// size (no driver data), which every kernel since accepts.
    ///
    /// # Errors
    /// `EOPNOTSUPP` (type 0, or the driver has no vIOMMU of that type), `EINVAL`
    /// (`parent` is not a nest parent), `ENOENT`, `ENOTTY` (before v6.13).
    ///
    /// # References
    /// `struct iommu_viommu_alloc` in `iommufd.h`; `iommufd_viommu_alloc_ioctl` in
    /// `viommu.c`.
    pub fn viommu_alloc(&self, dev: DevId, parent: HwptId, viommu_type: u32) -> Result<ViommuId> {
        let mut req = uapi::ViommuAlloc::new_zeroed();
        req.r#type = viommu_type;
        req.dev_id = dev.0;
        req.hwpt_id = parent.0;
        let reply = self.call(&ioctl::IOMMU_VIOMMU_ALLOC, &req, None)?;
        Ok(ViommuId(reply.out_viommu_id))
    }

    /// `ioctl(iommufd, IOMMU_VDEVICE_ALLOC, &{size = 24, viommu_id, dev_id, virt_id})`:
    /// gives `dev` the guest id `virt_id` (SMMUv3 vSID, AMD vDeviceID, VT-d vRID) in
    /// `viommu`.
    ///
    /// # Errors
    /// `EEXIST` (the device already has a vDEVICE — one per device since 6.17 — or the
    /// id is taken), `EINVAL` (another IOMMU instance), `ENOENT`, `ENOTTY` (before v6.13).
    ///
    /// # References
    /// `struct iommu_vdevice_alloc` in `iommufd.h`; `iommufd_vdevice_alloc_ioctl` in
    /// `viommu.c`.
    pub fn vdevice_alloc(&self, viommu: ViommuId, dev: DevId, virt_id: u64) -> Result<VdeviceId> {
        let mut req = uapi::VdeviceAlloc::new_zeroed();
        req.viommu_id = viommu.0;
        req.dev_id = dev.0;
        req.virt_id = virt_id;
        let reply = self.call(&ioctl::IOMMU_VDEVICE_ALLOC, &req, None)?;
        Ok(VdeviceId(reply.out_vdevice_id))
    }
}

const IOVA_RANGE: usize = core::mem::size_of::<uapi::IovaRange>();

/// A request as sent and as the kernel left it: the struct's bytes and the length sent.
pub(crate) struct Sent {
    buf: [u8; MAX_STRUCT_SIZE],
    len: usize,
}

impl Sent {
    /// The reply, decoded with the struct's declaration ([`decode_reply`]).
    pub(crate) fn reply<T: UapiStruct>(&self) -> Result<T> {
        decode_reply(&self.buf, self.len)
    }

    /// The bytes sent (as the kernel left them).
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// Sends a request through the declared `ioctl` on `fd`: `encode` writes it into a
/// buffer of the struct's size (returning the length encoded), and `data` is the user
/// buffer the declaration's pointer field points at ([`KernelFd::ioctl_declared`]).
/// Returns what the kernel left in the buffer and its errno, if any.
pub(crate) fn send_declared<T: UapiStruct>(
    fd: &KernelFd,
    ioctl: &Ioctl<T>,
    encode: impl FnOnce(&mut [u8]) -> Result<usize>,
    data: Option<&mut [u8]>,
) -> Result<(Sent, std::result::Result<i32, Errno>)> {
    let mut sent = Sent {
        buf: [0u8; MAX_STRUCT_SIZE],
        len: 0,
    };
    sent.len = encode(&mut sent.buf[..T::DECL.size])?;
    let r = fd.ioctl_declared(ioctl, &mut sent.buf[..T::DECL.size], data);
    Ok((sent, r))
}

fn hw_info_from(op: &'static str, reply: &uapi::HwInfo, data: Vec<u8>) -> Result<DecodedHwInfo> {
    let mut info = DecodedHwInfo {
        data_type: reply.data_type,
        capabilities: HwCapabilities::from_bits_retain(reply.out_capabilities),
        max_pasid_log2: reply.out_max_pasid_log2,
        vtd: None,
        vtd_flags: None,
        smmuv3_idr: None,
        smmuv3: None,
        data: Vec::new(),
    };
    match reply.data_type {
        HW_INFO_TYPE_INTEL_VTD => {
            let vtd = uapi::HwInfoVtd::read_from_prefix(&data)
                .map_err(|_| Error::BadReply {
                    op,
                    what: "VT-d data shorter than iommu_hw_info_vtd",
                })?
                .0;
            info.vtd = Some(VtdCapabilities::decode(vtd.cap_reg, vtd.ecap_reg));
            info.vtd_flags = Some(vtd.flags);
        }
        HW_INFO_TYPE_ARM_SMMUV3 => {
            let smmu = uapi::HwInfoArmSmmuv3::read_from_prefix(&data)
                .map_err(|_| Error::BadReply {
                    op,
                    what: "SMMUv3 data shorter than iommu_hw_info_arm_smmuv3",
                })?
                .0;
            info.smmuv3_idr = Some(smmu.idr);
            info.smmuv3 = Some(Smmuv3Capabilities::decode(&smmu.idr));
        }
        _ => {}
    }
    info.data = data;
    Ok(info)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scripted::{as_declared, Call, Reply, ScriptedKernel};

    fn open(k: &ScriptedKernel) -> Iommufd {
        k.add_path(IOMMUFD_PATH);
        Iommufd::open(Arc::new(k.clone())).unwrap()
    }

    #[test]
    fn encode_request_rounds_up_to_a_real_generation() {
        let mut req = uapi::HwptAlloc::new_zeroed();
        let mut out = [0u8; 48];
        assert_eq!(encode_request(&req, &mut out).unwrap(), 24);
        req.flags = HwptAllocFlags::FAULT_ID_VALID.bits();
        req.fault_id = 3;
        // min_encoded_len is 44 (offsetofend(fault_id)); no kernel had a 44-byte struct.
        assert_eq!(min_encoded_len(uapi::HwptAlloc::DECL, req.as_bytes()), 44);
        assert_eq!(encode_request(&req, &mut out).unwrap(), 48);
        assert_eq!(&out[..4], &48u32.to_ne_bytes());
    }

    #[test]
    fn hw_info_refuses_vtd_data_shorter_than_its_struct() {
        let k = ScriptedKernel::new();
        k.on(IOMMU_GET_HW_INFO, |_, call| match call {
            Call::SizedData { arg, data } => {
                arg[12..16].copy_from_slice(&16u32.to_ne_bytes());
                arg[24..28].copy_from_slice(&HW_INFO_TYPE_INTEL_VTD.to_ne_bytes());
                data[..16].fill(0xff);
                Ok(Reply::Value(0))
            }
            _ => Err(Errno::EINVAL),
        });
        let fd = open(&k);
        assert!(matches!(
            fd.hw_info(DevId(1)),
            Err(Error::BadReply { what, .. }) if what.contains("VT-d")
        ));
    }

    #[test]
    fn hw_info_data_len_past_the_bound_is_a_bad_reply() {
        let k = ScriptedKernel::new();
        k.on(IOMMU_GET_HW_INFO, |_, call| match call {
            Call::SizedData { arg, .. } => {
                arg[12..16].copy_from_slice(&100_000u32.to_ne_bytes());
                Ok(Reply::Value(0))
            }
            _ => Err(Errno::EINVAL),
        });
        let fd = open(&k);
        assert!(matches!(fd.hw_info(DevId(1)), Err(Error::BadReply { .. })));
        assert_eq!(k.calls().len(), 1);
    }

    #[test]
    fn hwpt_set_dirty_tracking_sends_enable_for_the_hwpt() {
        let k = ScriptedKernel::new();
        k.on(
            ioctl::IOMMU_HWPT_SET_DIRTY_TRACKING.number(),
            |_, call| match call {
                Call::Sized(arg) => {
                    as_declared(&ioctl::IOMMU_HWPT_SET_DIRTY_TRACKING, arg, |req| {
                        match (req.size, req.hwpt_id, req.flags) {
                            (16, 5, 0 | 1) => Ok(Reply::Value(0)),
                            _ => Err(Errno::ENOENT),
                        }
                    })
                }
                _ => Err(Errno::EFAULT),
            },
        );
        let fd = open(&k);
        fd.hwpt_set_dirty_tracking(HwptId(5), true).unwrap();
        fd.hwpt_set_dirty_tracking(HwptId(5), false).unwrap();
        let flags: Vec<u32> = k
            .calls()
            .iter()
            .map(|c| u32::from_ne_bytes([c.arg[4], c.arg[5], c.arg[6], c.arg[7]]))
            .collect();
        assert_eq!(flags, [1, 0]);
        let err = fd.hwpt_set_dirty_tracking(HwptId(6), true).unwrap_err();
        assert_eq!(
            err,
            Error::ioctl("IOMMU_HWPT_SET_DIRTY_TRACKING", Errno::ENOENT)
        );
    }

    #[test]
    fn viommu_and_vdevice_alloc_send_the_declared_requests() {
        let k = ScriptedKernel::new();
        k.on(ioctl::IOMMU_VIOMMU_ALLOC.number(), |_, call| match call {
            Call::Sized(arg) => as_declared(&ioctl::IOMMU_VIOMMU_ALLOC, arg, |req| {
                // The 6.13 size: no driver data; type 0 and a non-parent are refused.
                match (req.size, req.r#type, req.dev_id, req.hwpt_id) {
                    (24, 0, ..) => Err(Errno::EOPNOTSUPP),
                    (24, 1, 2, 3) => {
                        req.out_viommu_id = 9;
                        Ok(Reply::Value(0))
                    }
                    _ => Err(Errno::EINVAL),
                }
            }),
            _ => Err(Errno::EFAULT),
        });
        k.on(ioctl::IOMMU_VDEVICE_ALLOC.number(), |_, call| match call {
            Call::Sized(arg) => as_declared(&ioctl::IOMMU_VDEVICE_ALLOC, arg, |req| {
                match (req.size, req.viommu_id, req.dev_id, req.virt_id) {
                    (24, 9, 2, 0x99) => {
                        req.out_vdevice_id = 11;
                        Ok(Reply::Value(0))
                    }
                    (24, 9, 2, _) => Err(Errno::EEXIST),
                    _ => Err(Errno::ENOENT),
                }
            }),
            _ => Err(Errno::EFAULT),
        });
        let fd = open(&k);
        let viommu = fd.viommu_alloc(DevId(2), HwptId(3), 1).unwrap();
        assert_eq!(viommu, ViommuId(9));
        assert_eq!(
            fd.viommu_alloc(DevId(2), HwptId(3), 0).unwrap_err(),
            Error::ioctl("IOMMU_VIOMMU_ALLOC", Errno::EOPNOTSUPP)
        );
        assert_eq!(
            fd.viommu_alloc(DevId(2), HwptId(4), 1).unwrap_err(),
            Error::ioctl("IOMMU_VIOMMU_ALLOC", Errno::EINVAL)
        );
        assert_eq!(
            fd.vdevice_alloc(viommu, DevId(2), 0x99).unwrap(),
            VdeviceId(11)
        );
        assert_eq!(
            fd.vdevice_alloc(viommu, DevId(2), 0x98).unwrap_err(),
            Error::ioctl("IOMMU_VDEVICE_ALLOC", Errno::EEXIST)
        );
        let calls = k.calls();
        assert_eq!(calls.len(), 5);
        assert!(calls.iter().all(|c| c.arg.len() == 24));
    }

    #[test]
    fn a_kernel_without_the_object_model_answers_enotty() {
        let k = ScriptedKernel::new();
        let fd = open(&k);
        assert_eq!(
            fd.viommu_alloc(DevId(2), HwptId(3), 1).unwrap_err(),
            Error::ioctl("IOMMU_VIOMMU_ALLOC", Errno::ENOTTY)
        );
        assert_eq!(
            fd.vdevice_alloc(ViommuId(1), DevId(2), 7).unwrap_err(),
            Error::ioctl("IOMMU_VDEVICE_ALLOC", Errno::ENOTTY)
        );
    }

    #[test]
    fn every_call_is_the_declared_ioctl_at_the_declared_size() {
        let k = ScriptedKernel::new();
        // The scripted kernel answers by the declaration: fields by name, not offsets.
        k.on(IOMMU_IOAS_ALLOC, |_, call| match call {
            Call::Sized(arg) => {
                as_declared(&ioctl::IOMMU_IOAS_ALLOC, arg, |req| req.out_ioas_id = 7);
                Ok(Reply::Value(0))
            }
            _ => Err(Errno::EINVAL),
        });
        k.on(IOMMU_DESTROY, |_, _| Ok(Reply::Value(0)));
        let fd = open(&k);
        assert_eq!(fd.ioas_alloc().unwrap(), IoasId(7));
        fd.destroy(IoasId(7)).unwrap();
        let calls = k.calls();
        let names: Vec<_> = calls
            .iter()
            .filter_map(|c| c.ioctl())
            .map(|i| i.name)
            .collect();
        assert_eq!(names, ["IOMMU_IOAS_ALLOC", "IOMMU_DESTROY"]);
        for c in &calls {
            assert_eq!(c.arg.len(), c.ioctl().unwrap().layout.size);
        }
        // Without a buffer the declared pointer is zeroed and the length must be 0.
        let mut req = uapi::HwptAlloc::new_zeroed();
        req.size = 48;
        req.data_uptr = 0xdead_0000;
        let mut arg = req.as_bytes().to_vec();
        k.on(IOMMU_HWPT_ALLOC, |_, call| match call {
            Call::Sized(arg) if arg[32..40] == [0; 8] => Ok(Reply::Value(0)),
            _ => Err(Errno::EFAULT),
        });
        assert_eq!(
            fd.fd
                .ioctl_declared(&ioctl::IOMMU_HWPT_ALLOC, &mut arg, None),
            Ok(0)
        );
        req.data_len = 8;
        let mut arg = req.as_bytes().to_vec();
        assert_eq!(
            fd.fd
                .ioctl_declared(&ioctl::IOMMU_HWPT_ALLOC, &mut arg, None),
            Err(Errno::EINVAL)
        );
        // A buffer for an ioctl that declares none is refused before any call.
        let n = k.calls().len();
        let mut arg = uapi::Destroy::new_zeroed().as_bytes().to_vec();
        arg[0] = 8;
        assert_eq!(
            fd.fd
                .ioctl_declared(&ioctl::IOMMU_DESTROY, &mut arg, Some(&mut [0u8; 4])),
            Err(Errno::EINVAL)
        );
        assert_eq!(k.calls().len(), n);
    }
}
