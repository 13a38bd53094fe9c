//! Kernel releases: which kernel's rules a verdict follows.
//!
//! A [`Release`] is a kernel version, `major.minor` (the stable sublevel and the
//! distribution suffix never change the UAPI rules vsva models). Every field, flag and
//! check vsva declares carries the release that introduced or changed it, one of the
//! [`Release::KNOWN`] points; a rule applies to a release `r` when its point is `<= r`.
//! So a release between two known points gets the rules of the newest known point not
//! newer than it ([`Release::rules`]), and one newer than [`Release::NEWEST`] gets the
//! newest rules vsva knows. A release older than [`Release::OLDEST`] is refused
//! ([`ReleaseError::TooOld`]): vsva models nothing before the 2020 IOMMU UAPI of v5.10.
//!
//! ```
//! use vsva_uapi::release::{Release, ReleaseError};
//!
//! let debian: Release = "6.14.0-1-amd64".parse().unwrap();
//! assert_eq!(debian, Release::new(6, 14));
//! assert_eq!(debian.to_string(), "6.14");
//! // No rule changed between 6.13 and 6.14 in what vsva models.
//! assert_eq!(debian.rules(), Release::V6_13);
//! assert_eq!("7.3".parse::<Release>(), Ok(Release::V7_3));
//! assert_eq!("5.4".parse::<Release>(), Err(ReleaseError::TooOld(Release::new(5, 4))));
//! assert_eq!("six".parse::<Release>(), Err(ReleaseError::Malformed));
//! ```

use core::fmt;
use core::str::FromStr;

/// A kernel release, `major.minor`, ordered by version. See the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Release {
    major: u16,
    minor: u16,
}

impl Release {
    /// v5.10: the 2020 argsz-versioned IOMMU UAPI (`iommu.h`), vsva's oldest release.
    pub const V5_10: Release = Release::new(5, 10);
    /// v5.13: VT-d bind data's `IOMMU_SVA_VTD_GPASID_WPE` (bit 6).
    pub const V5_13: Release = Release::new(5, 13);
    /// v6.2: iommufd (`/dev/iommu`) merged.
    pub const V6_2: Release = Release::new(6, 2);
    /// v6.6: `IOMMU_HWPT_ALLOC`, `IOMMU_GET_HW_INFO`, VFIO cdev attach/detach.
    pub const V6_6: Release = Release::new(6, 6);
    /// v6.7: user data in `iommu_hwpt_alloc` (nesting: VT-d stage 1), dirty tracking.
    pub const V6_7: Release = Release::new(6, 7);
    /// v6.8: `IOMMU_HWPT_INVALIDATE`.
    pub const V6_8: Release = Release::new(6, 8);
    /// v6.11: fault queues (`IOMMU_FAULT_QUEUE_ALLOC`, `fault_id`, `FAULT_ID_VALID`).
    pub const V6_11: Release = Release::new(6, 11);
    /// v6.12, the long-term release as its stable series ships it today (Debian's
    /// 6.12.118): with the backports of `iommu_hw_info.out_max_pasid_log2` (6.12.32) and
    /// of `iommu_hwpt_invalidate`'s bounds on `entry_len` and `entry_num` (6.12.96). The
    /// tier's policies suite checks these against the booted 6.12. (Later non-LTS
    /// releases up to 7.1 get them too, by the newest-known-point rule.)
    pub const V6_12: Release = Release::new(6, 12);
    /// v6.13: vIOMMU objects, ARM SMMUv3 nesting data, `FAULT_ID_VALID` on paging HWPTs.
    pub const V6_13: Release = Release::new(6, 13);
    /// v6.15: PASID-compatible HWPTs, VFIO PASID attach, `out_max_pasid_log2`;
    /// `FAULT_ID_VALID | NEST_PARENT` refused.
    pub const V6_15: Release = Release::new(6, 15);
    /// v6.17: `IOMMU_GET_HW_INFO` input types, hardware queues.
    pub const V6_17: Release = Release::new(6, 17);
    /// v7.0: AMD hardware info and guest (nested) data.
    pub const V7_0: Release = Release::new(7, 0);
    /// v7.1: `IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED`.
    pub const V7_1: Release = Release::new(7, 1);
    /// v7.2: fault queue and vEVENTQ read fixes (no rule vsva models changed: the
    /// invalidation bounds merged here were already in 6.12's stable series).
    pub const V7_2: Release = Release::new(7, 2);
    /// v7.3: the newest release vsva models (noiommu mode, SMMUv3 errata bits).
    pub const V7_3: Release = Release::new(7, 3);

    /// The releases at which a rule vsva models was introduced or changed, oldest first.
    pub const KNOWN: &'static [Release] = &[
        Release::V5_10,
        Release::V5_13,
        Release::V6_2,
        Release::V6_6,
        Release::V6_7,
        Release::V6_8,
        Release::V6_11,
        Release::V6_12,
        Release::V6_13,
        Release::V6_15,
        Release::V6_17,
        Release::V7_0,
        Release::V7_1,
        Release::V7_2,
        Release::V7_3,
    ];

    /// The oldest release vsva models (the 2020 IOMMU UAPI).
    pub const OLDEST: Release = Release::V5_10;

    /// The newest release vsva models: the default rules.
    pub const NEWEST: Release = Release::V7_3;

    /// The release `major.minor`. Any version is representable; [`Release::rules`] maps it
    /// to the rules vsva has for it.
    pub const fn new(major: u16, minor: u16) -> Release {
        Release { major, minor }
    }

    /// The major version (`6` of 6.12).
    pub const fn major(self) -> u16 {
        self.major
    }

    /// The minor version (`12` of 6.12).
    pub const fn minor(self) -> u16 {
        self.minor
    }

    /// `self <= other`, usable in `const` context.
    pub const fn not_newer_than(self, other: Release) -> bool {
        self.major < other.major || (self.major == other.major && self.minor <= other.minor)
    }

    /// The known point whose rules apply to this release: the newest of
    /// [`Release::KNOWN`] not newer than it. `None` before [`Release::OLDEST`].
    pub const fn try_rules(self) -> Option<Release> {
        let mut found = None;
        let mut i = 0;
        while i < Release::KNOWN.len() {
            if Release::KNOWN[i].not_newer_than(self) {
                found = Some(Release::KNOWN[i]);
            }
            i += 1;
        }
        found
    }

    /// The known point whose rules apply to this release (see [`Release::try_rules`]);
    /// a release before [`Release::OLDEST`] gets the oldest rules.
    pub const fn rules(self) -> Release {
        match self.try_rules() {
            Some(r) => r,
            None => Release::OLDEST,
        }
    }

    /// Whether this release is one of the [`Release::KNOWN`] points.
    pub const fn is_known(self) -> bool {
        let mut i = 0;
        while i < Release::KNOWN.len() {
            let k = Release::KNOWN[i];
            if k.major == self.major && k.minor == self.minor {
                return true;
            }
            i += 1;
        }
        false
    }

    /// Parses a kernel release string: `6.12`, `v6.12`, `6.12.118`, `6.12.0-1-amd64`,
    /// `7.3-rc2` (`major.minor`, then optionally a `.`, `-`, `+` or `_` and anything).
    ///
    /// # Errors
    /// [`ReleaseError::Malformed`] if the string does not start with `major.minor`
    /// (decimal, at most 5 digits each); [`ReleaseError::TooOld`] before
    /// [`Release::OLDEST`].
    pub fn parse(s: &str) -> Result<Release, ReleaseError> {
        let release = Release::parse_version(s)?;
        if release.try_rules().is_none() {
            return Err(ReleaseError::TooOld(release));
        }
        Ok(release)
    }

    /// Parses `major.minor[…]` like [`Release::parse`], whatever the version (a header
    /// generation's `v5.3` names a release older than vsva's rules).
    ///
    /// # Errors
    /// [`ReleaseError::Malformed`].
    pub fn parse_version(s: &str) -> Result<Release, ReleaseError> {
        let s = s.trim();
        let s = s.strip_prefix('v').unwrap_or(s);
        let (major, rest) = leading_number(s).ok_or(ReleaseError::Malformed)?;
        let rest = rest.strip_prefix('.').ok_or(ReleaseError::Malformed)?;
        let (minor, rest) = leading_number(rest).ok_or(ReleaseError::Malformed)?;
        match rest.as_bytes().first() {
            None | Some(b'.' | b'-' | b'+' | b'_') => {}
            Some(_) => return Err(ReleaseError::Malformed),
        }
        Ok(Release::new(major, minor))
    }
}

/// A decimal number of 1 to 5 digits at the start of `s` that fits a `u16`, and the rest.
fn leading_number(s: &str) -> Option<(u16, &str)> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || digits > 5 {
        return None;
    }
    let (num, rest) = s.split_at(digits);
    Some((num.parse().ok()?, rest))
}

impl fmt::Display for Release {
    /// `6.12` (no `v`, no sublevel).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl FromStr for Release {
    type Err = ReleaseError;

    fn from_str(s: &str) -> Result<Release, ReleaseError> {
        Release::parse(s)
    }
}

/// Why a string is not a release vsva has rules for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReleaseError {
    /// Not `major.minor[…]`.
    Malformed,
    /// A well-formed release older than [`Release::OLDEST`].
    TooOld(Release),
}

impl fmt::Display for ReleaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReleaseError::Malformed => f.write_str(
                "not a kernel release (expected MAJOR.MINOR, e.g. 6.12 or 6.12.0-1-amd64)",
            ),
            ReleaseError::TooOld(r) => write!(
                f,
                "kernel {r} is older than {}, the oldest release vsva models",
                Release::OLDEST
            ),
        }
    }
}

impl core::error::Error for ReleaseError {}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::string::ToString;

    #[test]
    fn known_points_are_sorted_and_bracketed() {
        for w in Release::KNOWN.windows(2) {
            assert!(w[0] < w[1], "{} !< {}", w[0], w[1]);
        }
        assert_eq!(Release::KNOWN.first(), Some(&Release::OLDEST));
        assert_eq!(Release::KNOWN.last(), Some(&Release::NEWEST));
        for &k in Release::KNOWN {
            assert!(k.is_known());
            assert_eq!(k.rules(), k);
            assert_eq!(k.to_string().parse::<Release>(), Ok(k));
        }
    }

    #[test]
    fn between_points_gets_the_older_point() {
        assert_eq!(Release::new(6, 12).rules(), Release::V6_12);
        assert_eq!(Release::new(6, 10).rules(), Release::V6_8);
        assert_eq!(Release::new(6, 14).rules(), Release::V6_13);
        assert_eq!(Release::new(5, 15).rules(), Release::V5_13);
        assert_eq!(Release::new(6, 1).rules(), Release::V5_13);
        assert_eq!(Release::new(8, 0).rules(), Release::NEWEST);
        assert_eq!(Release::new(7, 99).rules(), Release::NEWEST);
        assert_eq!(Release::new(5, 9).try_rules(), None);
        assert_eq!(Release::new(4, 19).try_rules(), None);
        assert!(!Release::new(6, 14).is_known());
    }

    #[test]
    fn ordering_is_numeric() {
        assert!(Release::new(6, 9) < Release::new(6, 10));
        assert!(Release::new(6, 19) < Release::new(7, 0));
        assert!(Release::new(6, 9).not_newer_than(Release::new(6, 10)));
        assert!(!Release::new(7, 0).not_newer_than(Release::new(6, 19)));
    }

    #[test]
    fn parses_kernel_strings() {
        let ok = [
            ("6.12", (6, 12)),
            ("v6.12", (6, 12)),
            ("6.12.118", (6, 12)),
            ("6.12.0-1-amd64", (6, 12)),
            ("7.3.4-1~bpo13+1", (7, 3)),
            ("7.3-rc2", (7, 3)),
            ("6.6+", (6, 6)),
            ("5.10.0_custom", (5, 10)),
            (" 6.12.0\n", (6, 12)),
            ("65535.65535", (65535, 65535)),
        ];
        for (s, (maj, min)) in ok {
            assert_eq!(Release::parse(s), Ok(Release::new(maj, min)), "{s:?}");
        }
        let bad = [
            "",
            "6",
            "6.",
            ".12",
            "6..12",
            "6.12x",
            "x6.12",
            "6,12",
            "-6.12",
            "+6.12",
            "6.+12",
            "65536.1",
            "1.65536",
            "000006.1",
            "6.123456",
            "running",
            "v",
            "vv6.12",
            "६.१२",
        ];
        for s in bad {
            assert_eq!(Release::parse(s), Err(ReleaseError::Malformed), "{s:?}");
        }
        assert_eq!(
            Release::parse("5.4.0-150-generic"),
            Err(ReleaseError::TooOld(Release::new(5, 4)))
        );
        assert_eq!(
            Release::parse("3.10"),
            Err(ReleaseError::TooOld(Release::new(3, 10)))
        );
    }
}
