//! # vsva-uapi: the IOMMU userspace API, versioned by `argsz`
//!
//! Every struct of the 2020 IOMMU UAPI (Linux v5.10 `include/uapi/linux/iommu.h`), the
//! out-of-tree members of that header (SMMUv3 PASID table, nesting info), the 2020 VFIO
//! nesting envelope, and today's iommufd / VFIO cdev structs — byte-exact for x86_64,
//! each declared **once** with [`uapi_struct!`]. The declaration ([`Layout`]) drives:
//!
//! - the **consumer** role ([`UapiStruct::from_user`]): copy an untrusted struct the way
//!   the kernel does under one of three [`Policy`]s — the v5.10 core
//!   ([`Policy::Linux510`]), `copy_struct_from_user` ([`Policy::ZeroTail`]) and VFIO
//!   cdev's flags → `xend` ([`Policy::FlagsXend`]) — then check its content, optionally
//!   with a vendor layer ([`Vendor::Vtd`]);
//! - the **producer** role ([`UapiStruct::encode_for`]): write the bytes a peer of a
//!   given header generation expects, refusing to drop a field it does not have;
//! - the registry ([`ALL_STRUCTS`], [`visit_all_structs`]): each module declares its
//!   structs in one `uapi_structs!` list, and the registry is generated from those lists
//!   ([`registry`]), so `vsva explain`, the fuzz targets, the C conformance test and
//!   `docs/layouts.md` reach every declared struct;
//! - the documentation tables and the compatibility matrix (see the `compat-tests` and
//!   `vsva-docs` crates).
//!
//! Every rejection is a [`UapiError`] whose [`errno`](UapiError::errno) is the kernel's.
//! `no_std`, `#![forbid(unsafe_code)]`, no allocation, and no panic on any input.
//!
//! ## Example: a guest's cache invalidation, three ways
//!
//! ```
//! use vsva_uapi::{CacheInvalidateInfo, Errno, Policy, UapiStruct};
//!
//! // A guest sends an address-selective IOTLB invalidation, 56 bytes...
//! let mut user = [0u8; 64];
//! user[..4].copy_from_slice(&56u32.to_ne_bytes()); // argsz
//! user[4] = 1; // version
//! user[8] = 1; // cache = IOTLB
//! user[9] = 2; // granularity = ADDR
//! let info = CacheInvalidateInfo::from_user(&user, Policy::Linux510).unwrap();
//! assert_eq!(info.granularity, 2);
//!
//! // ...but with argsz 40 the addr_info member is cut short: EINVAL, as in v5.10.
//! user[..4].copy_from_slice(&40u32.to_ne_bytes());
//! let err = CacheInvalidateInfo::from_user(&user, Policy::Linux510).unwrap_err();
//! assert_eq!(err.errno(), Errno::EINVAL);
//!
//! // A newer user's 64-byte struct with a non-zero tail: v5.10 ignores the tail,
//! // copy_struct_from_user refuses it.
//! user[..4].copy_from_slice(&64u32.to_ne_bytes());
//! user[60] = 0xff;
//! assert!(CacheInvalidateInfo::from_user(&user, Policy::Linux510).is_ok());
//! let err = CacheInvalidateInfo::from_user(&user, Policy::ZeroTail).unwrap_err();
//! assert_eq!(err.errno(), Errno::E2BIG);
//! ```
//!
//! ## Example: encoding for an older kernel
//!
//! ```
//! use vsva_uapi::{HwptAlloc, UapiError, UapiStruct};
//! use zerocopy::FromZeros;
//!
//! let mut alloc = HwptAlloc::new_zeroed();
//! alloc.flags = 1; // NEST_PARENT
//! let mut out = [0u8; 48];
//! // A v6.6 kernel knows 24 bytes; nothing set lies past them.
//! assert_eq!(alloc.encode_for(0, &mut out), Ok(24));
//! // A fault queue needs the v6.11 field: refused for v6.7 rather than silently dropped.
//! alloc.flags |= 4; // FAULT_ID_VALID
//! alloc.fault_id = 7;
//! assert!(matches!(alloc.encode_for(1, &mut out), Err(UapiError::FieldLost { .. })));
//! assert_eq!(alloc.encode_min(&mut out), Ok(44));
//! ```

#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod codec;
pub mod consts;
pub mod decl;
pub mod errno;
pub mod error;
pub mod hw;
pub mod ioctl;
pub mod iommu;
pub mod iommufd;
pub mod registry;
pub mod release;
pub mod vfio_core;
pub mod vfio_nesting;

pub use codec::{
    decode_into, decode_into_with, encode_for, encode_for_release, field_entries, min_encoded_len,
    read_field, strict_check, DecodeInfo, Decoded, FieldEntry, FieldValue, Rules, StrictRefusal,
    UapiStruct,
};
pub use decl::{
    Check, Extension, Field, FieldKind, FieldRef, Generation, Late, Layout, Policy, Rule, Since,
    StrictCheck, StrictRule, Union, Variant, Vendor, VendorRules, PAGE_SIZE, STRICT_ARGSZ_CAP,
    STRICT_ARGSZ_MINIMUM, STRICT_EXTENSION_END,
};
pub use errno::Errno;
pub use error::UapiError;
pub use iommu::{
    CacheInvalidateInfo, Fault, FaultPageRequest, FaultUnrecoverable, GpasidBindData,
    GpasidBindDataVtd, Granu, InvAddrInfo, InvPasidInfo, NestingInfo, NestingInfoVtd, PageResponse,
    PasidSmmuv3, PasidTableConfig,
};
pub use iommufd::{
    FaultAlloc, HwInfo, HwInfoArmSmmuv3, HwInfoVtd, HwptAlloc, HwptInvalidate, HwptPageResponse,
    HwptPgfault, HwptVtdS1, HwptVtdS1Invalidate, VfioDeviceAttachIommufdPt,
    VfioDeviceDetachIommufdPt,
};
pub use registry::{
    argsz_structs, layout_named, visit_all_structs, StructVisitor, ALL_STRUCTS, MAX_STRUCT_SIZE,
};
pub use release::{Release, ReleaseError};
pub use vfio_nesting::{NestingOp, PasidRequest};
