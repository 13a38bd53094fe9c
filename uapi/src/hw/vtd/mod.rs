//! Intel VT-d, scalable mode: the register map, the capability registers (decode and
//! encode), the translation structures (root, context, PASID directory and PASID table
//! entries), every invalidation descriptor, the fault record, the page request
//! descriptor and the page group response, each declared once as bit fields.
//!
//! Sources: the Intel Virtualization Technology for Directed I/O specification (register
//! chapter 11 in revisions 4.x and later, chapter 10 before; translation structures in
//! chapter 9; invalidation in chapter 6; page requests in chapter 7), as the facts are
//! collected in vsva's reference notes. Bits are numbered from 0 at the least significant
//! bit of `QW0`; a 128/256/512-bit structure is an array of little-endian 64-bit words.
//!
//! ```
//! use vsva_uapi::hw::vtd::{Cap, CapFlags, Ecap, InvDesc, DescCheck, PasidEntry};
//!
//! // CAP_REG decodes into named fields and encodes back bit for bit.
//! let raw = 0x80d2_008c_222f_0606; // QEMU's default CAP (48-bit, ESRTPS, PSI, ...)
//! let cap = Cap::decode_raw(raw);
//! assert_eq!((cap.mgaw, cap.fro, cap.nfr, cap.mamv), (47, 0x22, 0, 18));
//! assert!(cap.esrtps && cap.psi && !cap.cm);
//! assert!(Cap::flags_of(raw).contains(CapFlags::ESRTPS | CapFlags::PSI));
//! assert_eq!(cap.raw(), raw);
//!
//! // A PASID entry for a first-stage table at 0x12_3000, as a Linux guest writes it.
//! let mut e = PasidEntry::default();
//! e.p = true;
//! e.pgtt = 1;
//! e.aw = 2;
//! e.did = 1;
//! e.fsptptr = 0x12_3000;
//! let words = e.encode();
//! assert_eq!(words[0], 0x1 | (2 << 2) | (1 << 6));
//! assert_eq!(words[2], 0x12_3000);
//! assert_eq!(PasidEntry::decode(&words), e);
//!
//! // A PASID-selective IOTLB invalidation (type 6, G = 2) of PASID 5 in domain 1.
//! let qw0 = 6 | (2 << 4) | (1 << 16) | (5 << 32);
//! let d = InvDesc::decode(&[qw0, 0, 0, 0], &DescCheck::scalable()).unwrap();
//! assert!(matches!(d, InvDesc::PasidIotlb(p) if p.pasid == 5 && p.did == 1));
//! ```

use crate::hw::{BitField, HwLayout};

mod fault;
mod invalidation;
mod map;
mod page_request;
mod registers;
mod tables;

pub use fault::*;
pub use invalidation::*;
pub use map::*;
pub use page_request::*;
pub use registers::*;
pub use tables::*;

/// Every in-memory structure `vsva explain` and the documentation know, by name.
pub const STRUCTS: &[&HwLayout] = &[
    &RootEntry::LAYOUT,
    &ContextEntry::LAYOUT,
    &PasidDirEntry::LAYOUT,
    &PasidEntry::LAYOUT,
    &CcInvDesc::LAYOUT,
    &IotlbInvDesc::LAYOUT,
    &DevTlbInvDesc::LAYOUT,
    &IecInvDesc::LAYOUT,
    &WaitDesc::LAYOUT,
    &PiotlbInvDesc::LAYOUT,
    &PcInvDesc::LAYOUT,
    &PdevTlbInvDesc::LAYOUT,
    &PgrpRespDesc::LAYOUT,
    &PageReqDesc::LAYOUT,
    &FaultRecord::LAYOUT,
];

/// The fields of one declaration that a value sets, for printing: `(field, value)` in
/// declaration order (every field, set or not).
pub fn fields_of<'a>(
    layout: &'a HwLayout,
    words: &'a [u64],
) -> impl Iterator<Item = (&'static BitField, u64)> + 'a {
    layout.fields.iter().map(move |f| (f, f.read(words)))
}
