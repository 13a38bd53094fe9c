//! The one capability-chain parser for every VFIO info chain (`VFIO_IOMMU_GET_INFO`,
//! `VFIO_DEVICE_GET_REGION_INFO`, `VFIO_DEVICE_GET_INFO`).
//!
//! A chain is a list of `vfio_info_cap_header { id, version, next }` records inside the
//! bytes the kernel returned, linked by `next` offsets measured from the start of the
//! info struct; `next == 0` ends it. [`walk`] trusts none of it:
//!
//! - every read is bounded by the bytes actually returned (`argsz`), and headers are
//!   copied out with zerocopy (`read_from_prefix`), never referenced in place, so an
//!   odd offset cannot create a misaligned reference;
//! - chains only go forward: a `next` that points back to a visited capability is a
//!   [`CapChainError::Loop`], any other backward `next` a [`CapChainError::Backward`];
//! - a capability may not start inside the fixed struct or the previous header
//!   ([`CapChainError::Overlap`]), nor at an offset that is not 4-byte aligned
//!   ([`CapChainError::Misaligned`]), nor past the returned bytes
//!   ([`CapChainError::OutOfBounds`]);
//! - at most [`MAX_CAPS`] capabilities are walked ([`CapChainError::TooMany`]).
//!
//! Unknown capability ids are yielded like known ones, as raw bytes.
//!
//! ```
//! use vsva_vfio::caps::walk;
//!
//! // A 16-byte fixed struct, then one capability (id 3, version 1) of 12 bytes.
//! let mut reply = vec![0u8; 28];
//! reply[16..18].copy_from_slice(&3u16.to_ne_bytes());
//! reply[18..20].copy_from_slice(&1u16.to_ne_bytes());
//! reply[24..28].copy_from_slice(&65535u32.to_ne_bytes());
//! let caps: Vec<_> = walk(&reply, 16, 16).collect::<Result<_, _>>().unwrap();
//! assert_eq!((caps[0].id, caps[0].version, caps[0].offset), (3, 1, 16));
//! assert_eq!(caps[0].bytes.len(), 12);
//! ```
//!
//! # References
//! `include/uapi/linux/vfio.h` (`struct vfio_info_cap_header`), `drivers/vfio/vfio_main.c`
//! (`vfio_info_cap_add`, `vfio_info_cap_shift`).

use vsva_uapi::vfio_core::VfioInfoCapHeader;
use zerocopy::FromBytes;

use crate::error::CapChainError;

/// The most capabilities [`walk`] visits. Kernels return a handful per chain.
pub const MAX_CAPS: usize = 64;

/// The size of `vfio_info_cap_header`.
pub const CAP_HEADER_LEN: usize = 8;

/// The alignment [`walk`] requires of every capability offset.
pub const CAP_ALIGN: usize = 4;

/// One capability of a chain, borrowed from the reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cap<'a> {
    /// The capability id (its meaning depends on the chain).
    pub id: u16,
    /// The capability version.
    pub version: u16,
    /// Its offset from the start of the info struct.
    pub offset: usize,
    /// The capability from its header to the next capability (or the end of the reply).
    pub bytes: &'a [u8],
}

impl Cap<'_> {
    /// An owned copy.
    pub fn to_raw(&self) -> RawCap {
        RawCap {
            id: self.id,
            version: self.version,
            offset: self.offset,
            bytes: self.bytes.to_vec(),
        }
    }

    /// Reads a `T` from the start of the capability (header included), or the
    /// [`CapChainError::OutOfBounds`] saying how many bytes `T` needs.
    ///
    /// # Errors
    /// [`CapChainError::OutOfBounds`] if the capability is shorter than `T`.
    pub fn read<T: FromBytes>(&self) -> Result<T, CapChainError> {
        T::read_from_prefix(self.bytes)
            .map(|(t, _)| t)
            .map_err(|_| self.short(core::mem::size_of::<T>()))
    }

    /// The error for a capability that needs `need` bytes from its header on.
    pub fn short(&self, need: usize) -> CapChainError {
        CapChainError::OutOfBounds {
            offset: self.offset,
            need: self.offset.saturating_add(need),
            len: self.offset + self.bytes.len(),
        }
    }
}

/// An owned capability (kept for unknown ids, and for chains a caller stores).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawCap {
    /// The capability id.
    pub id: u16,
    /// The capability version.
    pub version: u16,
    /// Its offset from the start of the info struct.
    pub offset: usize,
    /// The capability from its header to the next capability (or the end of the reply).
    pub bytes: Vec<u8>,
}

/// The iterator [`walk`] returns: yields each capability, or one error and then stops.
#[derive(Debug, Clone)]
pub struct CapChain<'a> {
    bytes: &'a [u8],
    /// The next capability's offset (0: done).
    next: usize,
    /// The first byte the next capability may start at.
    limit: usize,
    visited: [usize; MAX_CAPS],
    count: usize,
    done: bool,
}

/// Walks the capability chain in `bytes` (the reply, exactly as long as the `argsz` the
/// kernel returned), starting at `first` (the struct's `cap_offset`; 0 for no chain),
/// after a fixed struct of `fixed_len` bytes.
pub fn walk(bytes: &[u8], first: u32, fixed_len: usize) -> CapChain<'_> {
    CapChain {
        bytes,
        next: first as usize,
        limit: fixed_len,
        visited: [0; MAX_CAPS],
        count: 0,
        done: first == 0,
    }
}

impl<'a> CapChain<'a> {
    fn step(&mut self) -> Result<Cap<'a>, CapChainError> {
        let offset = self.next;
        let len = self.bytes.len();
        if self.count >= MAX_CAPS {
            return Err(CapChainError::TooMany { limit: MAX_CAPS });
        }
        if self.count > 0 {
            let prev = self.visited[self.count - 1];
            if offset <= prev {
                return Err(if self.visited[..self.count].contains(&offset) {
                    CapChainError::Loop { offset }
                } else {
                    CapChainError::Backward {
                        offset: prev,
                        next: offset,
                    }
                });
            }
        }
        if offset < self.limit {
            return Err(CapChainError::Overlap {
                offset,
                limit: self.limit,
            });
        }
        if !offset.is_multiple_of(CAP_ALIGN) {
            return Err(CapChainError::Misaligned { offset });
        }
        let need = offset.saturating_add(CAP_HEADER_LEN);
        let out_of_bounds = CapChainError::OutOfBounds { offset, need, len };
        let rest = self.bytes.get(offset..).ok_or(out_of_bounds)?;
        let (header, _) = VfioInfoCapHeader::read_from_prefix(rest).map_err(|_| out_of_bounds)?;
        let next = header.next as usize;
        let end = if next == 0 {
            len
        } else if next > len {
            return Err(CapChainError::OutOfBounds {
                offset,
                need: next,
                len,
            });
        } else {
            next.max(need)
        };
        self.visited[self.count] = offset;
        self.count += 1;
        self.limit = need;
        self.next = next;
        self.done = next == 0;
        Ok(Cap {
            id: header.id,
            version: header.version,
            offset,
            bytes: &self.bytes[offset..end],
        })
    }
}

impl<'a> Iterator for CapChain<'a> {
    type Item = Result<Cap<'a>, CapChainError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let r = self.step();
        if r.is_err() {
            self.done = true;
        }
        Some(r)
    }
}

impl core::iter::FusedIterator for CapChain<'_> {}

/// Walks the chain and copies every capability out, or returns the first defect.
///
/// # Errors
/// The first [`CapChainError`] of the walk.
pub fn collect_raw(
    bytes: &[u8],
    first: u32,
    fixed_len: usize,
) -> Result<Vec<RawCap>, CapChainError> {
    walk(bytes, first, fixed_len)
        .map(|c| c.map(|c| c.to_raw()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reply of `len` bytes with headers `(offset, id, next)`.
    fn reply(len: usize, caps: &[(usize, u16, u32)]) -> Vec<u8> {
        let mut b = vec![0u8; len];
        for &(at, id, next) in caps {
            b[at..at + 2].copy_from_slice(&id.to_ne_bytes());
            b[at + 2..at + 4].copy_from_slice(&1u16.to_ne_bytes());
            b[at + 4..at + 8].copy_from_slice(&next.to_ne_bytes());
        }
        b
    }

    fn all(b: &[u8], first: u32, fixed: usize) -> Result<Vec<(u16, usize, usize)>, CapChainError> {
        walk(b, first, fixed)
            .map(|c| c.map(|c| (c.id, c.offset, c.bytes.len())))
            .collect()
    }

    #[test]
    fn the_real_iommu_info_chain_walks_in_order() {
        // Kernel-tier reply: argsz 120, caps at 24 (migration), 56 (dma avail), 72 (iova).
        let b = reply(120, &[(24, 2, 56), (56, 3, 72), (72, 1, 0)]);
        assert_eq!(
            all(&b, 24, 24),
            Ok(vec![(2, 24, 32), (3, 56, 16), (1, 72, 48)])
        );
    }

    #[test]
    fn empty_chain_yields_nothing() {
        assert_eq!(walk(&[0u8; 24], 0, 24).count(), 0);
        assert_eq!(walk(&[], 0, 24).count(), 0);
    }

    #[test]
    fn zero_next_terminates_at_the_end_of_the_reply() {
        let b = reply(40, &[(24, 9, 0)]);
        assert_eq!(all(&b, 24, 24), Ok(vec![(9, 24, 16)]));
    }

    #[test]
    fn self_loop_is_a_loop() {
        let b = reply(48, &[(24, 1, 24)]);
        let mut w = walk(&b, 24, 24);
        assert!(w.next().unwrap().is_ok());
        assert_eq!(w.next(), Some(Err(CapChainError::Loop { offset: 24 })));
        assert_eq!(w.next(), None);
    }

    #[test]
    fn loop_back_to_an_earlier_cap_is_a_loop() {
        let b = reply(64, &[(24, 1, 40), (40, 2, 24)]);
        assert_eq!(all(&b, 24, 24), Err(CapChainError::Loop { offset: 24 }));
    }

    #[test]
    fn backward_to_an_unvisited_offset_is_backward() {
        let b = reply(80, &[(24, 1, 56), (56, 2, 40), (40, 3, 0)]);
        assert_eq!(
            all(&b, 24, 24),
            Err(CapChainError::Backward {
                offset: 56,
                next: 40
            })
        );
    }

    #[test]
    fn overlap_with_fixed_struct_or_previous_header() {
        let b = reply(64, &[(16, 1, 0)]);
        assert_eq!(
            all(&b, 16, 24),
            Err(CapChainError::Overlap {
                offset: 16,
                limit: 24
            })
        );
        let b = reply(64, &[(24, 1, 28)]);
        assert_eq!(
            all(&b, 24, 24),
            Err(CapChainError::Overlap {
                offset: 28,
                limit: 32
            })
        );
    }

    #[test]
    fn out_of_bounds_header_and_body() {
        // First header past the reply.
        assert_eq!(
            all(&[0u8; 24], 24, 24),
            Err(CapChainError::OutOfBounds {
                offset: 24,
                need: 32,
                len: 24
            })
        );
        // Header straddles the end.
        assert_eq!(
            all(&[0u8; 28], 24, 24),
            Err(CapChainError::OutOfBounds {
                offset: 24,
                need: 32,
                len: 28
            })
        );
        // Body: `next` points past the end.
        let b = reply(40, &[(24, 1, 0x1000)]);
        assert_eq!(
            all(&b, 24, 24),
            Err(CapChainError::OutOfBounds {
                offset: 24,
                need: 0x1000,
                len: 40
            })
        );
        // A huge first offset does not overflow.
        assert!(matches!(
            all(&b, !3, 24),
            Err(CapChainError::OutOfBounds { .. })
        ));
    }

    #[test]
    fn misaligned_offsets_are_refused() {
        let b = reply(64, &[(24, 1, 34)]);
        assert_eq!(
            all(&b, 25, 24),
            Err(CapChainError::Misaligned { offset: 25 })
        );
        assert_eq!(
            all(&b, 24, 24),
            Err(CapChainError::Misaligned { offset: 34 })
        );
    }

    #[test]
    fn too_many_caps_are_refused() {
        let n = MAX_CAPS + 1;
        let caps: Vec<_> = (0..n)
            .map(|i| {
                (
                    8 + 8 * i,
                    1,
                    if i + 1 == n { 0 } else { (16 + 8 * i) as u32 },
                )
            })
            .collect();
        let b = reply(8 + 8 * n, &caps);
        assert_eq!(
            all(&b, 8, 8),
            Err(CapChainError::TooMany { limit: MAX_CAPS })
        );
        // Exactly MAX_CAPS is fine.
        let b = reply(8 + 8 * MAX_CAPS, &caps[..MAX_CAPS - 1]);
        let mut b = b;
        let last = 8 + 8 * (MAX_CAPS - 1);
        b[last..last + 2].copy_from_slice(&1u16.to_ne_bytes());
        assert_eq!(all(&b, 8, 8).map(|v| v.len()), Ok(MAX_CAPS));
    }

    #[test]
    fn unknown_ids_are_kept_as_raw_bytes() {
        let mut b = reply(40, &[(24, 0xbeef, 0)]);
        b[32] = 0xaa;
        let raw = collect_raw(&b, 24, 24).unwrap();
        assert_eq!(raw[0].id, 0xbeef);
        assert_eq!(raw[0].bytes.len(), 16);
        assert_eq!(raw[0].bytes[8], 0xaa);
    }

    #[test]
    fn typed_reads_are_bounded_by_the_cap() {
        let b = reply(36, &[(24, 3, 0)]);
        let cap = walk(&b, 24, 24).next().unwrap().unwrap();
        let r: Result<[u8; 16], _> = cap.read();
        assert_eq!(
            r,
            Err(CapChainError::OutOfBounds {
                offset: 24,
                need: 40,
                len: 36
            })
        );
        assert!(cap.read::<[u8; 12]>().is_ok());
    }

    /// The invariants every walk keeps, whatever the bytes: at most `MAX_CAPS + 1` items,
    /// and every yielded cap inside the buffer, past the fixed struct, aligned, at least a
    /// header long, and strictly after the previous one.
    fn assert_walk_is_bounded(b: &[u8], first: u32, fixed: usize) {
        let mut prev: Option<usize> = None;
        let mut n = 0;
        for c in walk(b, first, fixed) {
            n += 1;
            assert!(n <= MAX_CAPS + 1);
            let Ok(c) = c else { continue };
            let start = c.bytes.as_ptr() as usize - b.as_ptr() as usize;
            assert_eq!(start, c.offset);
            assert!(c.offset >= fixed && c.offset % CAP_ALIGN == 0);
            assert!(c.offset + c.bytes.len() <= b.len());
            assert!(c.bytes.len() >= CAP_HEADER_LEN);
            if let Some(p) = prev {
                assert!(c.offset >= p + CAP_HEADER_LEN);
            }
            prev = Some(c.offset);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2048))]

        /// Arbitrary replies never panic or escape the buffer.
        #[test]
        fn arbitrary_replies_never_panic_or_escape_the_buffer(
            b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
            first in 0u32..220,
            fixed in 0usize..40,
        ) {
            assert_walk_is_bounded(&b, first, fixed);
        }

        /// Plausible chains (every `next` a small offset, often aligned, sometimes
        /// looping or pointing back) never panic or escape the buffer either.
        #[test]
        fn plausible_chains_never_panic_or_escape_the_buffer(
            nexts in proptest::collection::vec(0u32..220, 1..24),
            ids in proptest::collection::vec(proptest::prelude::any::<u16>(), 24),
            first in 0u32..220,
            fixed in 0usize..40,
        ) {
            let mut b = vec![0u8; 8 * nexts.len() + 8];
            for (i, next) in nexts.iter().enumerate() {
                let at = 8 * i;
                b[at..at + 2].copy_from_slice(&ids[i].to_ne_bytes());
                b[at + 4..at + 8].copy_from_slice(&next.to_ne_bytes());
            }
            assert_walk_is_bounded(&b, first, fixed);
        }
    }
}
