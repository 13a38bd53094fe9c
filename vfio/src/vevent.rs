//! Reading a vEVENTQ fd (`IOMMU_VEVENTQ_ALLOC`'s `out_veventq_fd`): a stream of
//! `iommufd_vevent_header` records, each followed by the queue type's data, except a
//! `IOMMU_VEVENTQ_FLAG_LOST_EVENTS` header, which has none.
//!
//! The kernel gives every event it tries to queue the next sequence number, even one it
//! drops (a full queue, a failed allocation); the counter wraps from `i32::MAX` to 0. A
//! dropped event leaves one LOST_EVENTS header at the tail carrying the dropped event's
//! number, and that header is removed when a later event is queued: the gap in the
//! numbers is what tells the reader how many were lost (iommufd-7x.md §2.21). The bytes
//! are untrusted: a short record, an unknown flag or a number past `i32::MAX` is a
//! [`Error::BadReply`], and nothing of the reader's state changes on an error.
//!
//! ```
//! use vsva_vfio::vevent::{Vevent, VeventReader};
//!
//! let record = |flags: u32, seq: u32, data: &[u8]| {
//!     let mut r = [flags.to_ne_bytes(), seq.to_ne_bytes()].concat();
//!     r.extend_from_slice(data);
//!     r
//! };
//! // depth 2, five events: seq 0 and 1 queued, 2..=4 dropped (the LOST header says 4).
//! let mut read = record(0, 0, &[0x99, 0, 0, 0]);
//! read.extend(record(0, 1, &[0x99, 0, 0, 0]));
//! read.extend(record(1, 4, &[]));
//! let mut reader = VeventReader::new(4);
//! let got = reader.parse(&read).unwrap();
//! assert_eq!(got.len(), 3);
//! assert!(matches!(got[2], Vevent::Lost { sequence: 4, missed: 3 }));
//! // The next event carries 5: nothing more was lost.
//! let next = record(0, 5, &[0x99, 0, 0, 0]);
//! let got = reader.parse(&next).unwrap();
//! assert!(matches!(got[0], Vevent::Event { sequence: 5, missed: 0, .. }));
//! ```

use vsva_uapi::consts::VeventFlags;
use vsva_uapi::iommufd::VeventHeader;
use vsva_uapi::UapiStruct;

use crate::{Error, Result};

const OP: &str = "vEVENTQ read";
const HEADER: usize = VeventHeader::DECL.size;
/// The sequence counter's modulus: it runs `0..=i32::MAX`.
const MODULUS: u64 = 1 << 31;

/// One record read from a vEVENTQ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Vevent<'a> {
    /// An event and its type-specific data.
    Event {
        /// Its sequence number.
        sequence: u32,
        /// Events lost just before it (the gap since the last number seen).
        missed: u32,
        /// The queue type's data (`iommu_vevent_arm_smmuv3`, ...).
        data: &'a [u8],
    },
    /// The LOST_EVENTS header: the queue overflowed.
    Lost {
        /// The last dropped event's number.
        sequence: u32,
        /// Events lost up to and including `sequence`.
        missed: u32,
    },
}

/// Parses what `read(2)` returned on a vEVENTQ fd, keeping the sequence across reads.
#[derive(Debug, Clone)]
pub struct VeventReader {
    data_len: usize,
    next: Option<u32>,
}

impl VeventReader {
    /// A reader for a queue whose events carry `data_len` bytes each (SMMUv3 32,
    /// Tegra241 16, the mock's 4).
    pub fn new(data_len: usize) -> VeventReader {
        VeventReader {
            data_len,
            next: None,
        }
    }

    /// The sequence number the next event should carry, once one has been seen.
    pub fn expected(&self) -> Option<u32> {
        self.next
    }

    /// Parses the records in `buf` (what one `read` returned: whole records only).
    ///
    /// # Errors
    /// [`Error::BadReply`] for a truncated record, an unknown flag or a sequence number
    /// above `i32::MAX`; the reader's state is unchanged then.
    pub fn parse<'a>(&mut self, mut buf: &'a [u8]) -> Result<Vec<Vevent<'a>>> {
        let bad = |what| Error::BadReply { op: OP, what };
        let mut next = self.next;
        let mut out = Vec::new();
        while !buf.is_empty() {
            let head = buf.get(..HEADER).ok_or(bad("a truncated header"))?;
            let header = VeventHeader::from_user(head, VeventHeader::DECL.default_policy)
                .map_err(|_| bad("a header with an unknown flag"))?;
            let sequence = header.sequence;
            if u64::from(sequence) >= MODULUS {
                return Err(bad("a sequence number above i32::MAX"));
            }
            let missed = next.map_or(0, |n| {
                ((u64::from(sequence) + MODULUS - u64::from(n)) % MODULUS) as u32
            });
            if VeventFlags::from_bits_retain(header.flags).contains(VeventFlags::LOST_EVENTS) {
                out.push(Vevent::Lost {
                    sequence,
                    missed: missed + 1,
                });
                buf = &buf[HEADER..];
            } else {
                let end = HEADER + self.data_len;
                let data = buf.get(HEADER..end).ok_or(bad("a truncated event"))?;
                out.push(Vevent::Event {
                    sequence,
                    missed,
                    data,
                });
                buf = &buf[end..];
            }
            next = Some(((u64::from(sequence) + 1) % MODULUS) as u32);
        }
        self.next = next;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(flags: u32, seq: u32, data: &[u8]) -> Vec<u8> {
        let mut r = [flags.to_ne_bytes(), seq.to_ne_bytes()].concat();
        r.extend_from_slice(data);
        r
    }

    #[test]
    fn gaps_count_lost_events_and_the_counter_wraps_at_i32_max() {
        let mut r = VeventReader::new(4);
        let max = i32::MAX as u32;
        let mut buf = record(0, max - 1, &[1, 2, 3, 4]);
        buf.extend(record(0, 1, &[5, 6, 7, 8]));
        let got = r.parse(&buf).unwrap();
        assert_eq!(
            got,
            [
                Vevent::Event {
                    sequence: max - 1,
                    missed: 0,
                    data: &[1, 2, 3, 4]
                },
                // max and 0 were dropped.
                Vevent::Event {
                    sequence: 1,
                    missed: 2,
                    data: &[5, 6, 7, 8]
                },
            ]
        );
        assert_eq!(r.expected(), Some(2));
        let lost = record(VeventFlags::LOST_EVENTS.bits(), 2, &[]);
        let got = r.parse(&lost).unwrap();
        assert_eq!(
            got,
            [Vevent::Lost {
                sequence: 2,
                missed: 1
            }]
        );
        assert_eq!(r.expected(), Some(3));
    }

    #[test]
    fn untrusted_bytes_are_refused_without_a_state_change() {
        let mut r = VeventReader::new(4);
        r.parse(&record(0, 7, &[0; 4])).unwrap();
        let cases: [Vec<u8>; 4] = [
            record(0, 8, &[0; 3]),
            record(2, 8, &[0; 4]),
            record(0, 1 << 31, &[0; 4]),
            vec![0; 5],
        ];
        for bad in cases {
            assert!(
                matches!(r.parse(&bad), Err(Error::BadReply { .. })),
                "{bad:?}"
            );
            assert_eq!(r.expected(), Some(8));
        }
        assert_eq!(r.parse(&[]).unwrap(), []);
    }
}
