//! The 2020 nesting envelope: `VFIO_IOMMU_PASID_REQUEST` and
//! `VFIO_IOMMU_NESTING_OP {argsz, flags, data[]}` (series v3–v7, never merged), on both
//! sides of the ioctl.
//!
//! - **User side** ([`pasid_alloc`], [`pasid_free`], [`bind_pgtbl`], [`unbind_pgtbl`],
//!   [`cache_invalidate`]): encodes the IOMMU UAPI struct with `vsva-uapi` (the smallest
//!   `argsz` that carries the request, so older consumers accept it), wraps it in the
//!   envelope and issues it to any [`NestingTarget`]: a real container fd
//!   ([`KernelFd`]) or an in-process [`NestingHandler`].
//! - **VFIO side** ([`dispatch`]): given the raw bytes of one ioctl, checks what VFIO
//!   checked — the envelope's own `argsz` against its minimum (8) and `flags` against the
//!   op mask and the known ops — and hands the user memory from `arg + 8` **untouched**
//!   (no copy, no parse, not bounded by the envelope's `argsz`) to a [`NestingHandler`],
//!   exactly as the series did (`iommu_uapi_*(domain, dev, arg + minsz)`): VFIO never
//!   interprets IOMMU data; the IOMMU struct's own `argsz` governs how much of it is
//!   read. A refusal is a [`DispatchError`] that says whether VFIO or the handler refused,
//!   and which rule.
//!
//! No mainline kernel has these ioctls: against a real container the user side fails with
//! [`Error::NotSupported`] (`ENOTTY`), distinct from a request the kernel refused
//! ([`Error::Ioctl`]).
//!
//! # Example: an in-process handler
//!
//! ```
//! use vsva_uapi::consts::{CacheInvType, NestingOpCode, VFIO_IOMMU_NESTING_OP};
//! use vsva_uapi::{CacheInvalidateInfo, Errno, Granu, NestingOp, Policy, UapiStruct};
//! use vsva_vfio::nesting::{self, DispatchError, NestingHandler};
//! use zerocopy::FromZeros;
//!
//! struct Viommu;
//! impl NestingHandler for Viommu {
//!     // A real handler has its own error type, naming the rule that refused.
//!     type Error = vsva_uapi::UapiError;
//!     fn pasid_alloc(&self, min: u32, _max: u32) -> Result<u32, Self::Error> {
//!         Ok(min)
//!     }
//!     fn pasid_free(&self, _min: u32, _max: u32) -> Result<(), Self::Error> {
//!         Ok(())
//!     }
//!     fn bind_pgtbl(&self, _payload: &[u8]) -> Result<(), Self::Error> {
//!         Err(vsva_uapi::UapiError::NoDevice { op: "sva_bind_gpasid" })
//!     }
//!     fn unbind_pgtbl(&self, _payload: &[u8]) -> Result<(), Self::Error> {
//!         Err(vsva_uapi::UapiError::NoDevice { op: "sva_unbind_gpasid" })
//!     }
//!     fn cache_invalidate(&self, payload: &[u8]) -> Result<(), Self::Error> {
//!         // The handler decodes the untouched IOMMU UAPI bytes itself, under its policy.
//!         CacheInvalidateInfo::from_user(payload, Policy::Linux510).map(drop)
//!     }
//! }
//!
//! assert_eq!(nesting::pasid_alloc(&Viommu, 5, 100).unwrap(), 5);
//! let info = CacheInvalidateInfo::new(CacheInvType::IOTLB, Granu::Domain);
//! nesting::cache_invalidate(&Viommu, &info).unwrap();
//!
//! // The envelope's argsz does not bound the payload: the IOMMU struct's own does.
//! let mut env = [0u8; 8 + 16];
//! NestingOp::encode_envelope(NestingOpCode::CacheInvld, &[0; 16], &mut env).unwrap();
//! info.encode_min(&mut env[8..]).unwrap();
//! env[0] = 8; // an envelope argsz that covers no payload at all
//! assert_eq!(nesting::dispatch(VFIO_IOMMU_NESTING_OP, &env, &Viommu), Ok(0));
//! // A refusal says who refused and why.
//! let err = nesting::bind_pgtbl(&Viommu, &vsva_uapi::GpasidBindData::new_zeroed());
//! assert!(err.is_err());
//! let env = [8, 0, 0, 0, 0, 0, 0, 0];
//! let e = nesting::dispatch(VFIO_IOMMU_NESTING_OP, &env, &Viommu).unwrap_err();
//! assert_eq!(e.errno(), Errno::ENODEV);
//! assert!(matches!(e, DispatchError::Handler(vsva_uapi::UapiError::NoDevice { .. })));
//! ```
//!
//! # References
//! `drivers/vfio/vfio_iommu_type1.c` of the series (`vfio_iommu_type1_pasid_request`,
//! `vfio_iommu_type1_nesting_op`); `include/uapi/linux/vfio.h` of the series;
//! `drivers/iommu/iommu.c` (`iommu_uapi_sva_bind_gpasid`, `iommu_uapi_cache_invalidate`);
//! `shared/reference/uapi.md` §4.

use vsva_uapi::consts::{
    NestingOpCode, PasidRequestFlags, VFIO_IOMMU_NESTING_OP, VFIO_IOMMU_PASID_REQUEST,
};
use vsva_uapi::{
    CacheInvalidateInfo, Errno, GpasidBindData, NestingOp, PasidRequest, Policy, UapiError,
    UapiStruct,
};
use zerocopy::IntoBytes;

use crate::sys::KernelFd;
use crate::{Error, Result};

/// The size of the `vfio_iommu_type1_nesting_op` header (`offsetofend(flags)`): the
/// envelope's `minsz`, and where `data[]` starts.
pub const NESTING_OP_HEADER: usize = 8;

/// The size of `vfio_iommu_type1_pasid_request` (`offsetofend(range)`): its `minsz`.
pub const PASID_REQUEST_SIZE: usize = 16;

/// An error a [`NestingHandler`] returns: it names the rule that refused the request
/// (its `Display`), and [`errno`](HandlerError::errno) is what the user's ioctl returns.
pub trait HandlerError: core::fmt::Debug + core::fmt::Display {
    /// The errno for the user.
    fn errno(&self) -> Errno;
}

/// A bare errno, for handlers with nothing more to say.
impl HandlerError for Errno {
    fn errno(&self) -> Errno {
        *self
    }
}

/// A refusal of the IOMMU UAPI decode, with the rule that fired.
impl HandlerError for UapiError {
    fn errno(&self) -> Errno {
        UapiError::errno(self)
    }
}

/// Why [`dispatch`] refused a nesting ioctl: VFIO's own checks (with the rule), or the
/// handler's refusal (its own typed error, so a VMM can tell which rule refused its
/// guest). [`errno`](DispatchError::errno) is what the ioctl returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DispatchError<E> {
    /// VFIO refused the envelope or the PASID request before the handler ran (the
    /// decode's rule: `EFAULT`, `EINVAL`).
    #[error("VFIO refused the request: {0}")]
    Vfio(UapiError),
    /// Not a nesting ioctl: `ENOTTY`.
    #[error("ioctl {request:#x} is not a VFIO nesting request")]
    UnknownIoctl {
        /// The request number.
        request: u32,
    },
    /// The allocated PASID does not fit the ioctl's (non-negative `int`) return value:
    /// `EOVERFLOW`.
    #[error("PASID {pasid} does not fit the ioctl's return value")]
    PasidOverflow {
        /// The PASID the handler allocated.
        pasid: u32,
    },
    /// The handler (the IOMMU layer) refused.
    #[error("{0}")]
    Handler(E),
}

impl<E: HandlerError> DispatchError<E> {
    /// The errno the ioctl returns.
    pub fn errno(&self) -> Errno {
        match self {
            DispatchError::Vfio(e) => e.errno(),
            DispatchError::UnknownIoctl { .. } => Errno::ENOTTY,
            DispatchError::PasidOverflow { .. } => Errno::EOVERFLOW,
            DispatchError::Handler(e) => e.errno(),
        }
    }
}

/// The consumer of the nesting ioctls (implemented by `vsva-viommu`): what the IOMMU
/// driver behind VFIO did with each request.
///
/// Every `payload` is the untouched user memory from the envelope's `data[]` (`arg + 8`)
/// to the end of what is readable, neither copied nor parsed by VFIO, and **not** cut at
/// the envelope's `argsz`: the series passed `arg + minsz` to the IOMMU layer, whose own
/// struct `argsz` governs. The handler decodes it itself with `vsva-uapi` (e.g.
/// [`UapiStruct::from_user`] under the policy it implements). An `Err` is returned to
/// the user as [`DispatchError::Handler`], with its [`HandlerError::errno`].
pub trait NestingHandler: Send + Sync {
    /// The handler's refusal: which rule refused, and the errno.
    type Error: HandlerError;

    /// `VFIO_IOMMU_PASID_REQUEST` with `VFIO_IOMMU_FLAG_ALLOC_PASID`: allocate one PASID
    /// in `[min, max]` (`min <= max`, already checked) and return it; it becomes the
    /// ioctl's return value.
    ///
    /// # Errors
    /// The refusal (`ENOSPC` when the range is exhausted, `EOPNOTSUPP` without PASID
    /// support...).
    fn pasid_alloc(&self, min: u32, max: u32) -> std::result::Result<u32, Self::Error>;

    /// `VFIO_IOMMU_PASID_REQUEST` with `VFIO_IOMMU_FLAG_FREE_PASID`: free every PASID in
    /// `[min, max]` (`min <= max`, already checked).
    ///
    /// # Errors
    /// The refusal.
    fn pasid_free(&self, min: u32, max: u32) -> std::result::Result<(), Self::Error>;

    /// `VFIO_IOMMU_NESTING_OP_BIND_PGTBL`: `payload` is the user's untouched
    /// `iommu_gpasid_bind_data` memory (what `iommu_uapi_sva_bind_gpasid` receives).
    ///
    /// # Errors
    /// The refusal (`EINVAL`, `EFAULT`, `EOPNOTSUPP`...).
    fn bind_pgtbl(&self, payload: &[u8]) -> std::result::Result<(), Self::Error>;

    /// `VFIO_IOMMU_NESTING_OP_UNBIND_PGTBL`: `payload` is the user's untouched
    /// `iommu_gpasid_bind_data` memory (what `iommu_uapi_sva_unbind_gpasid` receives).
    ///
    /// # Errors
    /// The refusal.
    fn unbind_pgtbl(&self, payload: &[u8]) -> std::result::Result<(), Self::Error>;

    /// `VFIO_IOMMU_NESTING_OP_CACHE_INVLD`: `payload` is the user's untouched
    /// `iommu_cache_invalidate_info` memory (what `iommu_uapi_cache_invalidate`
    /// receives).
    ///
    /// # Errors
    /// The refusal.
    fn cache_invalidate(&self, payload: &[u8]) -> std::result::Result<(), Self::Error>;
}

/// The VFIO side of one nesting ioctl: `ioctl(container, request, arg)` where `user` is
/// the memory readable from `arg`.
///
/// - `VFIO_IOMMU_PASID_REQUEST`: decoded with [`PasidRequest::from_user`] under
///   [`Policy::Linux510`] (VFIO's rules: fewer than 16 readable bytes is `EFAULT`;
///   `argsz < 16`, unknown flags, both or neither of ALLOC/FREE, `min > max` are
///   `EINVAL`), then [`NestingHandler::pasid_alloc`] (the return value is the PASID) or
///   [`NestingHandler::pasid_free`] (0).
/// - `VFIO_IOMMU_NESTING_OP`: the header is decoded with [`NestingOp::from_user`]
///   (fewer than 8 readable bytes is `EFAULT`; `argsz < 8`, bits above
///   `VFIO_NESTING_OP_MASK`, an unknown op are `EINVAL`); the payload is `user[8..]`,
///   a sub-slice handed over untouched, however large or small the envelope's `argsz`
///   (`vfio_iommu_type1_nesting_op` passes `arg + minsz`). Nothing reaches the handler
///   before these checks pass.
/// - Any other request: `ENOTTY`.
///
/// # Errors
/// [`DispatchError`]: VFIO's refusal with its rule, or the handler's own error.
pub fn dispatch<H: NestingHandler + ?Sized>(
    request: u32,
    user: &[u8],
    handler: &H,
) -> std::result::Result<i32, DispatchError<H::Error>> {
    match request {
        VFIO_IOMMU_PASID_REQUEST => {
            let req =
                PasidRequest::from_user(user, Policy::Linux510).map_err(DispatchError::Vfio)?;
            let flags = req.request_flags();
            if flags == PasidRequestFlags::FREE {
                return handler
                    .pasid_free(req.min, req.max)
                    .map(|()| 0)
                    .map_err(DispatchError::Handler);
            }
            // The decode's exactly-one rule leaves ALLOC.
            let pasid = handler
                .pasid_alloc(req.min, req.max)
                .map_err(DispatchError::Handler)?;
            // The PASID travels as the ioctl's (non-negative `int`) return value.
            i32::try_from(pasid).map_err(|_| DispatchError::PasidOverflow { pasid })
        }
        VFIO_IOMMU_NESTING_OP => {
            let hdr = NestingOp::from_user(user, Policy::Linux510).map_err(DispatchError::Vfio)?;
            // The decode refused every unknown op; `None` cannot happen after it.
            let op = hdr
                .op()
                .ok_or(DispatchError::Vfio(UapiError::UnsupportedValue {
                    strukt: "vfio_iommu_type1_nesting_op",
                    field: "flags",
                    offset: 4,
                    have: u64::from(hdr.flags),
                    policy: Policy::Linux510,
                }))?;
            // The decode found the 8-byte header readable.
            let payload = user.get(NESTING_OP_HEADER..).unwrap_or_default();
            match op {
                NestingOpCode::BindPgtbl => handler.bind_pgtbl(payload),
                NestingOpCode::UnbindPgtbl => handler.unbind_pgtbl(payload),
                NestingOpCode::CacheInvld => handler.cache_invalidate(payload),
            }
            .map(|()| 0)
            .map_err(DispatchError::Handler)
        }
        _ => Err(DispatchError::UnknownIoctl { request }),
    }
}

/// Where the user side sends a nesting ioctl: a container fd of a kernel, or an
/// in-process [`NestingHandler`].
pub trait NestingTarget {
    /// `ioctl(target, request, arg)` for a size-first struct: `arg` is exactly the
    /// envelope (its first `u32` is its `argsz`). Returns the ioctl's return value.
    ///
    /// # Errors
    /// The ioctl's errno (`ENOTTY` where the ioctl does not exist).
    fn ioctl(&self, request: u32, arg: &mut [u8]) -> std::result::Result<i32, Errno>;
}

/// A VFIO container fd (`/dev/vfio/vfio` with an IOMMU set), through
/// [`Kernel::ioctl_sized`](crate::sys::Kernel::ioctl_sized). Only the two nesting
/// requests (`VFIO_IOMMU_PASID_REQUEST`, `VFIO_IOMMU_NESTING_OP`) reach the kernel; any
/// other request is `ENOTTY` before a call, so this safe method cannot issue an ioctl
/// whose kernel access `arg` does not bound. On every mainline kernel the nesting ioctls
/// answer `ENOTTY` themselves.
impl NestingTarget for KernelFd {
    fn ioctl(&self, request: u32, arg: &mut [u8]) -> std::result::Result<i32, Errno> {
        match request {
            VFIO_IOMMU_PASID_REQUEST | VFIO_IOMMU_NESTING_OP => self.ioctl_sized(request, arg),
            _ => Err(Errno::ENOTTY),
        }
    }
}

/// An in-process handler: the request goes through [`dispatch`], with all its checks.
impl<T: NestingHandler> NestingTarget for T {
    fn ioctl(&self, request: u32, arg: &mut [u8]) -> std::result::Result<i32, Errno> {
        dispatch(request, arg, self).map_err(|e| e.errno())
    }
}

/// A handler behind a trait object (`&dyn NestingHandler<Error = E>`, `Arc<dyn …>`).
impl<E: HandlerError> NestingTarget for dyn NestingHandler<Error = E> {
    fn ioctl(&self, request: u32, arg: &mut [u8]) -> std::result::Result<i32, Errno> {
        dispatch(request, arg, self).map_err(|e| e.errno())
    }
}

const PASID_REQUEST_OP: &str = "VFIO_IOMMU_PASID_REQUEST";

fn pasid_request<T: NestingTarget + ?Sized>(target: &T, req: PasidRequest) -> Result<i32> {
    let mut arg = [0u8; PASID_REQUEST_SIZE];
    arg.copy_from_slice(req.as_bytes());
    target
        .ioctl(VFIO_IOMMU_PASID_REQUEST, &mut arg)
        .map_err(|e| Error::ioctl(PASID_REQUEST_OP, e))
}

/// Allocates one PASID in `[min, max]`:
/// `ioctl(container, VFIO_IOMMU_PASID_REQUEST, &{argsz 16, VFIO_IOMMU_FLAG_ALLOC_PASID,
/// {min, max}})`, whose return value is the PASID.
///
/// # Errors
/// [`Error::NotSupported`] where the ioctl does not exist (every mainline kernel);
/// [`Error::Ioctl`] with the errno of a refusal (`EINVAL` for `min > max`, `ENOSPC`...);
/// [`Error::BadReply`] if the returned PASID is outside `[min, max]`.
///
/// # References
/// `vfio_iommu_type1_pasid_request` → `vfio_pasid_alloc` → `ioasid_alloc(set, min, max)`.
pub fn pasid_alloc<T: NestingTarget + ?Sized>(target: &T, min: u32, max: u32) -> Result<u32> {
    let ret = pasid_request(target, PasidRequest::alloc(min, max))?;
    u32::try_from(ret)
        .ok()
        .filter(|p| (min..=max).contains(p))
        .ok_or(Error::BadReply {
            op: PASID_REQUEST_OP,
            what: "PASID outside the requested range",
        })
}

/// Frees every PASID in `[min, max]`:
/// `ioctl(container, VFIO_IOMMU_PASID_REQUEST, &{argsz 16, VFIO_IOMMU_FLAG_FREE_PASID,
/// {min, max}})`.
///
/// # Errors
/// [`Error::NotSupported`] where the ioctl does not exist; [`Error::Ioctl`] otherwise.
///
/// # References
/// `vfio_iommu_type1_pasid_request` → `vfio_pasid_free_range`.
pub fn pasid_free<T: NestingTarget + ?Sized>(target: &T, min: u32, max: u32) -> Result<()> {
    pasid_request(target, PasidRequest::free(min, max)).map(drop)
}

/// The largest IOMMU UAPI payload the user side sends (`iommu_gpasid_bind_data`, 72).
const MAX_PAYLOAD: usize = 128;

fn nesting_op<S: UapiStruct, T: NestingTarget + ?Sized>(
    target: &T,
    op: NestingOpCode,
    data: &S,
) -> Result<()> {
    let mut payload = [0u8; MAX_PAYLOAD];
    let n = data.encode_min(&mut payload)?;
    let mut arg = [0u8; NESTING_OP_HEADER + MAX_PAYLOAD];
    let total = NestingOp::encode_envelope(op, payload.get(..n).unwrap_or(&[]), &mut arg)?;
    let arg = arg.get_mut(..total).unwrap_or(&mut []);
    target
        .ioctl(VFIO_IOMMU_NESTING_OP, arg)
        .map(drop)
        .map_err(|e| Error::ioctl(op.c_name(), e))
}

/// Binds a guest page table (a guest PASID's first-level table) for nested translation:
/// `ioctl(container, VFIO_IOMMU_NESTING_OP, &{argsz 8 + n, BIND_PGTBL, data})` where
/// `data` is `bind` encoded with the smallest `argsz` (`n`) that carries it.
///
/// # Errors
/// [`Error::Uapi`] if `bind` cannot be encoded; [`Error::NotSupported`] where the ioctl
/// does not exist; [`Error::Ioctl`] with the errno the IOMMU layer or handler returned
/// (op name `VFIO_IOMMU_NESTING_OP_BIND_PGTBL`).
///
/// # References
/// `vfio_iommu_type1_nesting_op` → `iommu_uapi_sva_bind_gpasid`.
pub fn bind_pgtbl<T: NestingTarget + ?Sized>(target: &T, bind: &GpasidBindData) -> Result<()> {
    nesting_op(target, NestingOpCode::BindPgtbl, bind)
}

/// Unbinds a guest page table:
/// `ioctl(container, VFIO_IOMMU_NESTING_OP, &{argsz 8 + n, UNBIND_PGTBL, data})`, `data`
/// as in [`bind_pgtbl`].
///
/// # Errors
/// As [`bind_pgtbl`] (op name `VFIO_IOMMU_NESTING_OP_UNBIND_PGTBL`).
///
/// # References
/// `vfio_iommu_type1_nesting_op` → `iommu_uapi_sva_unbind_gpasid`.
pub fn unbind_pgtbl<T: NestingTarget + ?Sized>(target: &T, bind: &GpasidBindData) -> Result<()> {
    nesting_op(target, NestingOpCode::UnbindPgtbl, bind)
}

/// Invalidates IOMMU caches for a guest:
/// `ioctl(container, VFIO_IOMMU_NESTING_OP, &{argsz 8 + n, CACHE_INVLD, data})` where
/// `data` is `info` encoded with the smallest `argsz` (`n`) that carries its
/// granularity's payload (16 for domain, 32 for PASID, 56 for address).
///
/// # Errors
/// As [`bind_pgtbl`] (op name `VFIO_IOMMU_NESTING_OP_CACHE_INVLD`).
///
/// # References
/// `vfio_iommu_type1_nesting_op` → `iommu_uapi_cache_invalidate`.
pub fn cache_invalidate<T: NestingTarget + ?Sized>(
    target: &T,
    info: &CacheInvalidateInfo,
) -> Result<()> {
    nesting_op(target, NestingOpCode::CacheInvld, info)
}
