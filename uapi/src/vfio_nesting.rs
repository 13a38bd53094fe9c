//! The VFIO nesting envelope of the 2020 vSVA series (v3–v7, never merged):
//! `VFIO_IOMMU_PASID_REQUEST` and `VFIO_IOMMU_NESTING_OP {argsz, flags, data[]}`.
//!
//! VFIO checks only its own header; `data[]` is carried opaquely to the IOMMU UAPI
//! layer, which decodes it with its own `argsz` (see [`NestingOp::payload`]).

use crate::consts::{NestingOpCode, PasidRequestFlags, VFIO_NESTING_OP_MASK, VFIO_NESTING_OP_NR};
use crate::decl::uapi_structs;
use crate::decl::{Check, FieldRef, Generation, Policy, Rule};

uapi_structs! {
    uapi_struct! {
        /// `VFIO_IOMMU_PASID_REQUEST`: allocate one PASID in `[min, max]`, or free all of them.
        pub struct PasidRequest = "vfio_iommu_type1_pasid_request", size 16, align 4 {
            /// Size of the user's struct.
            argsz: u32, at 0 => Check::Argsz, since 0;
            /// `VFIO_IOMMU_FLAG_ALLOC_PASID` or `VFIO_IOMMU_FLAG_FREE_PASID` (exactly one).
            flags: u32, at 4 => Check::Flags(PasidRequestFlags::all().bits() as u64), since 0;
            /// `range.min`: the lowest PASID.
            min: u32, at 8 => Check::None, since 0;
            /// `range.max`: the highest PASID.
            max: u32, at 12 => Check::None, since 0;
        }
        layout |FIELDS| {
            sized: true, min_size: 16,
            default_policy: Policy::Linux510, union: None, extensions: &[],
            rules: &[
                Rule::ExactlyOne { field: FieldRef::named(FIELDS, "flags"),
                                   bits: PasidRequestFlags::all().bits() as u64 },
                Rule::Ordered { low: FieldRef::named(FIELDS, "min"),
                                high: FieldRef::named(FIELDS, "max") },
            ],
            generations: &[Generation { name: "v7 (2020)", size: 16 }], vendor: None,
        }
    }

    uapi_struct! {
        /// The header of `VFIO_IOMMU_NESTING_OP`; `data[]` (an IOMMU UAPI struct with its own
        /// `argsz`) follows it in user memory.
        pub struct NestingOp = "vfio_iommu_type1_nesting_op", size 8, align 4 {
            /// Size of header plus data.
            argsz: u32, at 0 => Check::Argsz, since 0;
            /// The op in the low 16 bits (`VFIO_NESTING_OP_MASK`); higher bits must be zero.
            flags: u32, at 4 => Check::Within { mask: VFIO_NESTING_OP_MASK as u64, below: VFIO_NESTING_OP_NR as u64 }, since 0;
        }
        layout |FIELDS| {
            sized: true, min_size: 8,
            default_policy: Policy::Linux510, union: None, extensions: &[],
            rules: &[], generations: &[Generation { name: "v7 (2020)", size: 8 }], vendor: None,
        }
    }
}

impl PasidRequest {
    /// A request to allocate one PASID in `[min, max]`.
    pub fn alloc(min: u32, max: u32) -> PasidRequest {
        PasidRequest {
            argsz: 16,
            flags: PasidRequestFlags::ALLOC.bits(),
            min,
            max,
        }
    }

    /// A request to free every PASID in `[min, max]`.
    pub fn free(min: u32, max: u32) -> PasidRequest {
        PasidRequest {
            argsz: 16,
            flags: PasidRequestFlags::FREE.bits(),
            min,
            max,
        }
    }

    /// The request flags (unknown bits retained).
    pub fn request_flags(&self) -> PasidRequestFlags {
        PasidRequestFlags::from_bits_retain(self.flags)
    }
}

impl NestingOp {
    /// A header for `op` carrying `data_len` bytes of data.
    pub fn new(op: NestingOpCode, data_len: u32) -> NestingOp {
        NestingOp {
            argsz: 8u32.saturating_add(data_len),
            flags: op.raw(),
        }
    }

    /// Writes the whole envelope for `op` into `out`: the header with
    /// `argsz = 8 + payload.len()`, then `payload` (an IOMMU UAPI struct encoded with its
    /// own `argsz`). Returns the bytes written. Use this rather than the generic
    /// [`UapiStruct::encode`](crate::UapiStruct::encode), which writes the 8-byte header
    /// alone (`argsz = 8`).
    ///
    /// # Errors
    /// [`UapiError::OutputTooSmall`](crate::UapiError::OutputTooSmall) when `out` cannot
    /// hold header and payload, or the total does not fit `argsz`.
    pub fn encode_envelope(
        op: NestingOpCode,
        payload: &[u8],
        out: &mut [u8],
    ) -> Result<usize, crate::UapiError> {
        use zerocopy::IntoBytes;
        let too_small = crate::UapiError::OutputTooSmall {
            strukt: "vfio_iommu_type1_nesting_op",
            need: 8usize.saturating_add(payload.len()),
            have: out.len(),
        };
        let total = 8usize
            .checked_add(payload.len())
            .filter(|t| u32::try_from(*t).is_ok())
            .ok_or(too_small)?;
        let dst = out.get_mut(..total).ok_or(too_small)?;
        let (hdr, data) = dst.split_at_mut(8);
        hdr.copy_from_slice(NestingOp::new(op, payload.len() as u32).as_bytes());
        data.copy_from_slice(payload);
        Ok(total)
    }

    /// The op code, or `None` for an unknown op.
    pub fn op(&self) -> Option<NestingOpCode> {
        NestingOpCode::from_raw(self.flags & VFIO_NESTING_OP_MASK)
    }

    /// The opaque `data[]` of a decoded header: the user bytes from offset 8, as far as
    /// they are readable. VFIO passes the pointer on untouched; the IOMMU UAPI layer
    /// decodes it with its own `argsz`, so the header's `argsz` does not bound it.
    pub fn payload(user: &[u8]) -> &[u8] {
        user.get(8..).unwrap_or(&[])
    }
}

impl NestingOpCode {
    /// The IOMMU UAPI struct the op's `data[]` carries (decoded by the IOMMU layer,
    /// never by VFIO): `iommu_gpasid_bind_data` for bind and unbind,
    /// `iommu_cache_invalidate_info` for cache invalidation.
    pub fn payload_layout(self) -> &'static crate::Layout {
        use crate::UapiStruct;
        match self {
            NestingOpCode::BindPgtbl | NestingOpCode::UnbindPgtbl => crate::GpasidBindData::DECL,
            NestingOpCode::CacheInvld => crate::CacheInvalidateInfo::DECL,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Errno, Policy, UapiStruct};
    use zerocopy::IntoBytes;

    #[test]
    fn nesting_op_payload_is_opaque_and_typed_by_op() {
        let info = crate::CacheInvalidateInfo::new(
            crate::consts::CacheInvType::IOTLB,
            crate::Granu::Domain,
        );
        let mut user = [0u8; 8 + 56];
        let n = NestingOp::encode_envelope(NestingOpCode::CacheInvld, info.as_bytes(), &mut user)
            .unwrap();
        assert_eq!(n, 64);
        assert!(NestingOp::encode_envelope(
            NestingOpCode::CacheInvld,
            info.as_bytes(),
            &mut [0; 63]
        )
        .is_err());
        let op = NestingOp::from_user(&user, Policy::Linux510).unwrap();
        assert_eq!(op.argsz, 64);
        assert_eq!(op.op(), Some(NestingOpCode::CacheInvld));
        let layout = NestingOpCode::CacheInvld.payload_layout();
        assert_eq!(layout.name, "iommu_cache_invalidate_info");
        let payload = NestingOp::payload(&user);
        let inner = crate::CacheInvalidateInfo::from_user(payload, Policy::Linux510).unwrap();
        assert_eq!(inner, info);
    }

    #[test]
    fn pasid_request_rules() {
        let ok = PasidRequest::alloc(1, 100);
        assert!(PasidRequest::from_user(ok.as_bytes(), Policy::Linux510).is_ok());
        let both = PasidRequest { flags: 3, ..ok };
        let e = PasidRequest::from_user(both.as_bytes(), Policy::Linux510).unwrap_err();
        assert!(matches!(e, crate::UapiError::ExclusiveFlags { .. }), "{e}");
        let inverted = PasidRequest::free(9, 1);
        let e = PasidRequest::from_user(inverted.as_bytes(), Policy::Linux510).unwrap_err();
        assert_eq!(e.errno(), Errno::EINVAL);
        assert!(matches!(e, crate::UapiError::InvertedRange { .. }), "{e}");
    }
}
