//! The PCIe extended capability list of a device's config space, walked with bounds:
//! the PASID (`0x1b`), PRI (`0x13`) and ATS (`0x0f`) capabilities a VMM needs for vSVA.
//!
//! The list starts at offset `0x100`; each header is a `u32`: capability id in bits
//! 15:0, version in 19:16, next offset in 31:20 (low two bits reserved, masked as Linux's
//! `PCI_EXT_CAP_NEXT` does). The walk never reads outside the bytes given and stops at
//! the first loop, backward pointer into the standard header, or out-of-range offset,
//! keeping what it found so far and reporting the problem ([`ExtCapProblem`]).
//!
//! ```
//! use vsva_vfio::features::pci::{parse_ext_caps, ExtCapProblem};
//! // 64 bytes: what an unprivileged read of sysfs `config` returns.
//! let caps = parse_ext_caps(&[0u8; 64]);
//! assert_eq!(caps.problem, Some(ExtCapProblem::NotReadable { len: 64 }));
//! // 256 bytes, read as root: a conventional PCI device, with no extended space at all.
//! let caps = parse_ext_caps(&[0u8; 256]);
//! assert_eq!((caps.problem, caps.pcie), (None, false));
//! assert!(caps.pasid.is_none());
//! ```

use std::fmt;

/// Where the extended capability list starts.
pub const EXT_CAP_START: usize = 0x100;
/// The most sysfs `config` returns to a reader without `CAP_SYS_ADMIN` (a CardBus
/// bridge's 128 bytes; 64 for every other header type).
pub const UNPRIVILEGED_READ_MAX: usize = 128;
/// The size of PCIe config space.
pub const CONFIG_SPACE_SIZE: usize = 0x1000;
/// `PCI_EXT_CAP_ID_ATS`: Address Translation Services.
pub const EXT_CAP_ID_ATS: u16 = 0x0f;
/// `PCI_EXT_CAP_ID_PRI`: Page Request Interface.
pub const EXT_CAP_ID_PRI: u16 = 0x13;
/// `PCI_EXT_CAP_ID_PASID`: Process Address Space ID.
pub const EXT_CAP_ID_PASID: u16 = 0x1b;
/// At most this many headers are visited (each takes at least 4 bytes of the 3840).
const MAX_CAPS: usize = (CONFIG_SPACE_SIZE - EXT_CAP_START) / 4;

/// The PASID extended capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasidCap {
    /// Its offset in config space.
    pub offset: u16,
    /// PASID capability bit 1: execute permission supported.
    pub exec: bool,
    /// PASID capability bit 2: privileged mode supported.
    pub privileged: bool,
    /// PASID capability bits 12:8: the maximum PASID width in bits.
    pub max_width: u8,
    /// PASID control bit 0: PASID enabled.
    pub enabled: bool,
}

/// The PRI extended capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PriCap {
    /// Its offset in config space.
    pub offset: u16,
    /// PRI control bit 0: page requests enabled.
    pub enabled: bool,
    /// Outstanding page request capacity.
    pub capacity: u32,
}

/// The ATS extended capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AtsCap {
    /// Its offset in config space.
    pub offset: u16,
    /// ATS capability bits 4:0: invalidate queue depth (0 means 32).
    pub queue_depth: u8,
    /// ATS control bit 15: ATS enabled.
    pub enabled: bool,
}

/// Why the walk stopped early. Everything found before the problem is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExtCapProblem {
    /// Only the standard header was readable: sysfs `config` gives readers without
    /// `CAP_SYS_ADMIN` the first 64 bytes (128 for a CardBus bridge).
    NotReadable {
        /// The bytes read.
        len: usize,
    },
    /// A `next` offset points back to a capability already visited.
    Loop {
        /// The capability whose `next` loops.
        offset: usize,
        /// The offset visited twice.
        next: usize,
    },
    /// A `next` offset points into the standard header (below `0x100`).
    IntoHeader {
        /// The capability whose `next` is bad.
        offset: usize,
        /// Its `next`.
        next: usize,
    },
    /// A capability (header or the registers read from it) lies past the bytes read.
    OutOfRange {
        /// The capability's offset.
        offset: usize,
        /// The bytes read.
        len: usize,
    },
    /// More headers than fit in config space.
    TooMany,
}

impl fmt::Display for ExtCapProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ExtCapProblem::NotReadable { .. } => {
                f.write_str("extended config space not readable (run as root)")
            }
            ExtCapProblem::Loop { offset, next } => write!(
                f,
                "extended capability chain loops: {offset:#x} points back to {next:#x}"
            ),
            ExtCapProblem::IntoHeader { offset, next } => write!(
                f,
                "extended capability at {offset:#x} points to {next:#x}, inside the standard header"
            ),
            ExtCapProblem::OutOfRange { offset, len } => write!(
                f,
                "extended capability at {offset:#x} lies past the {len} bytes of config space"
            ),
            ExtCapProblem::TooMany => write!(f, "more than {MAX_CAPS} extended capabilities"),
        }
    }
}

/// One extended capability header found by the walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtCapHeader {
    /// Its offset.
    pub offset: u16,
    /// Capability id (bits 15:0).
    pub id: u16,
    /// Capability version (bits 19:16).
    pub version: u8,
}

/// What the walk found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtCaps {
    /// Every header visited, in chain order.
    pub headers: Vec<ExtCapHeader>,
    /// The PASID capability, if present.
    pub pasid: Option<PasidCap>,
    /// The PRI capability, if present.
    pub pri: Option<PriCap>,
    /// The ATS capability, if present.
    pub ats: Option<AtsCap>,
    /// Why the walk stopped early, if it did.
    pub problem: Option<ExtCapProblem>,
    /// The device has PCIe extended config space (more than 256 bytes readable). A
    /// conventional PCI device (256 bytes, read with privilege) has none, so it has no
    /// PASID, PRI or ATS capability: a fact, not a problem.
    pub pcie: bool,
}

fn u16_at(config: &[u8], at: usize) -> Option<u16> {
    let b = config.get(at..at.checked_add(2)?)?;
    Some(u16::from_le_bytes([b[0], b[1]]))
}

fn u32_at(config: &[u8], at: usize) -> Option<u32> {
    let b = config.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Walks the extended capability list of `config` (a device's config space, as read
/// from sysfs; little endian). Never panics and never reads outside `config`.
pub fn parse_ext_caps(config: &[u8]) -> ExtCaps {
    let mut caps = ExtCaps::default();
    if config.len() <= UNPRIVILEGED_READ_MAX {
        caps.problem = Some(ExtCapProblem::NotReadable { len: config.len() });
        return caps;
    }
    if config.len() <= EXT_CAP_START {
        return caps;
    }
    caps.pcie = true;
    let len = config.len().min(CONFIG_SPACE_SIZE);
    let config = &config[..len];
    let mut offset = EXT_CAP_START;
    loop {
        if caps.headers.len() >= MAX_CAPS {
            caps.problem = Some(ExtCapProblem::TooMany);
            break;
        }
        let Some(header) = u32_at(config, offset) else {
            caps.problem = Some(ExtCapProblem::OutOfRange { offset, len });
            break;
        };
        // An all-zero or all-ones first header: no extended capabilities.
        if offset == EXT_CAP_START && (header == 0 || header == u32::MAX) {
            break;
        }
        let id = (header & 0xffff) as u16;
        let version = ((header >> 16) & 0xf) as u8;
        let next = ((header >> 20) & 0xffc) as usize;
        let off16 = offset as u16; // offset < 0x1000
        caps.headers.push(ExtCapHeader {
            offset: off16,
            id,
            version,
        });
        let found = match id {
            EXT_CAP_ID_PASID => u16_at(config, offset + 4)
                .zip(u16_at(config, offset + 6))
                .map(|(cap, ctrl)| {
                    caps.pasid.get_or_insert(PasidCap {
                        offset: off16,
                        exec: cap & (1 << 1) != 0,
                        privileged: cap & (1 << 2) != 0,
                        max_width: ((cap >> 8) & 0x1f) as u8,
                        enabled: ctrl & 1 != 0,
                    });
                }),
            EXT_CAP_ID_PRI => u16_at(config, offset + 4)
                .zip(u32_at(config, offset + 8))
                .map(|(ctrl, capacity)| {
                    caps.pri.get_or_insert(PriCap {
                        offset: off16,
                        enabled: ctrl & 1 != 0,
                        capacity,
                    });
                }),
            EXT_CAP_ID_ATS => u16_at(config, offset + 4)
                .zip(u16_at(config, offset + 6))
                .map(|(cap, ctrl)| {
                    caps.ats.get_or_insert(AtsCap {
                        offset: off16,
                        queue_depth: (cap & 0x1f) as u8,
                        enabled: ctrl & (1 << 15) != 0,
                    });
                }),
            _ => Some(()),
        };
        if found.is_none() {
            caps.problem = Some(ExtCapProblem::OutOfRange { offset, len });
            break;
        }
        if next == 0 {
            break;
        }
        if next < EXT_CAP_START {
            caps.problem = Some(ExtCapProblem::IntoHeader { offset, next });
            break;
        }
        if caps.headers.iter().any(|h| usize::from(h.offset) == next) {
            caps.problem = Some(ExtCapProblem::Loop { offset, next });
            break;
        }
        offset = next;
    }
    caps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(config: &mut [u8], at: usize, v: u32) {
        config[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }

    fn header(id: u16, next: usize) -> u32 {
        u32::from(id) | (1 << 16) | ((next as u32) << 20)
    }

    #[test]
    fn ats_pri_pasid_chain_decodes_each_field() {
        let mut c = vec![0u8; 4096];
        put(&mut c, 0x100, header(EXT_CAP_ID_ATS, 0x110));
        put(&mut c, 0x104, 0x8000_0003); // ATS cap: depth 3; ctrl: enabled
        put(&mut c, 0x110, header(EXT_CAP_ID_PRI, 0x120));
        put(&mut c, 0x114, 0x0000_0001); // PRI ctrl: enabled
        put(&mut c, 0x118, 0x200);
        put(&mut c, 0x120, header(EXT_CAP_ID_PASID, 0));
        put(&mut c, 0x124, 0x0001_1406); // exec, priv, width 20; ctrl: enabled
        let caps = parse_ext_caps(&c);
        assert_eq!(caps.problem, None);
        assert_eq!(caps.headers.len(), 3);
        assert_eq!(
            caps.pasid,
            Some(PasidCap {
                offset: 0x120,
                exec: true,
                privileged: true,
                max_width: 20,
                enabled: true
            })
        );
        assert_eq!(
            caps.pri,
            Some(PriCap {
                offset: 0x110,
                enabled: true,
                capacity: 0x200
            })
        );
        assert_eq!(
            caps.ats,
            Some(AtsCap {
                offset: 0x100,
                queue_depth: 3,
                enabled: true
            })
        );
        // Exec only, width 5: each bit from its own position.
        put(&mut c, 0x124, 0x0000_0502);
        let p = parse_ext_caps(&c).pasid.unwrap();
        assert_eq!(
            (p.exec, p.privileged, p.max_width, p.enabled),
            (true, false, 5, false)
        );
    }

    #[test]
    fn malformed_chains_stop_with_a_problem_and_keep_what_was_found() {
        let mut c = vec![0u8; 4096];
        put(&mut c, 0x100, header(EXT_CAP_ID_ATS, 0x110));
        put(&mut c, 0x110, header(EXT_CAP_ID_PRI, 0x100));
        let caps = parse_ext_caps(&c);
        assert_eq!(
            caps.problem,
            Some(ExtCapProblem::Loop {
                offset: 0x110,
                next: 0x100
            })
        );
        assert!(caps.ats.is_some() && caps.pri.is_some() && caps.pasid.is_none());

        // Self loop.
        put(&mut c, 0x100, header(EXT_CAP_ID_ATS, 0x100));
        assert!(matches!(
            parse_ext_caps(&c).problem,
            Some(ExtCapProblem::Loop { .. })
        ));

        // Into the standard header.
        put(&mut c, 0x100, header(EXT_CAP_ID_ATS, 0x40));
        assert_eq!(
            parse_ext_caps(&c).problem,
            Some(ExtCapProblem::IntoHeader {
                offset: 0x100,
                next: 0x40
            })
        );

        // Past a short (truncated) config.
        put(&mut c, 0x100, header(EXT_CAP_ID_ATS, 0x200));
        let short = &c[..0x180];
        assert_eq!(
            parse_ext_caps(short).problem,
            Some(ExtCapProblem::OutOfRange {
                offset: 0x200,
                len: 0x180
            })
        );
        // A PASID header whose registers are cut off.
        put(&mut c, 0x100, header(EXT_CAP_ID_PASID, 0));
        assert_eq!(
            parse_ext_caps(&c[..0x106]).problem,
            Some(ExtCapProblem::OutOfRange {
                offset: 0x100,
                len: 0x106
            })
        );
    }

    #[test]
    fn unreadable_and_empty_extended_space() {
        // Conventional PCI (256 bytes read as root): no extended space, no problem.
        let caps = parse_ext_caps(&[0u8; 256]);
        assert_eq!(caps, ExtCaps::default());
        assert!(!caps.pcie);
        for len in [0, 64, 128] {
            let caps = parse_ext_caps(&vec![0xffu8; len]);
            assert_eq!(caps.problem, Some(ExtCapProblem::NotReadable { len }));
            assert_eq!(
                caps.problem.unwrap().to_string(),
                "extended config space not readable (run as root)"
            );
        }
        let pcie = ExtCaps {
            pcie: true,
            ..ExtCaps::default()
        };
        assert_eq!(parse_ext_caps(&[0u8; 4096]), pcie);
        assert_eq!(parse_ext_caps(&[0xffu8; 4096]), pcie);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_stay_bounded() {
        // A cheap deterministic generator: every header a pseudo-random u32.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for len in [257usize, 300, 1024, 4096, 5000] {
            for _ in 0..200 {
                let c: Vec<u8> = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        x as u8
                    })
                    .collect();
                let caps = parse_ext_caps(&c);
                assert!(caps.headers.len() <= MAX_CAPS);
            }
        }
    }
}
