//! What `vsva-viommu`'s iommufd backend would offer a guest on this host: the
//! transport-level nest-parent probe, and the registers as the backend would see them.
//!
//! The rule from those registers to `IOMMU_NESTING_FEAT_*` is vIOMMU policy and lives in
//! `vsva-viommu` (`HostIommu::features`); the probe takes it as an [`OfferRule`]
//! (`vsva_viommu::host::offer`, which `vsva features` passes; [`no_offer`] offers
//! nothing). `vsva_viommu::iommufd::probe_host` calls [`probe_on`]; `vsva features` calls
//! [`probe`] for every cdev device whose `IOMMU_GET_HW_INFO` worked.
//!
//! The probe: on an IOAS (a fresh one for [`probe`], the caller's for [`probe_on`]),
//! `IOMMU_HWPT_ALLOC` with `IOMMU_HWPT_ALLOC_NEST_PARENT`, then `IOMMU_DESTROY` of
//! everything it created, on every path. The nest parent is asked for **even when the
//! registers already say no**: the kernel's answer is recorded
//! ([`BackendOffer::nest_parent`]) so a report can show that the kernel agrees
//! (`EOPNOTSUPP` from an IOMMU without nesting). The classification ([`NestingSupport`]):
//!
//! | registers (`GET_HW_INFO`) | nest parent | [`NestingSupport`] |
//! |---|---|---|
//! | VT-d `ECAP.SMTS`+`NEST`+`FLTS`, or SMMUv3 `IDR0.S1P`+`S2P` | allocated | `Supported` |
//! | as above | refused with errno *e* | `RefusedByKernel(e)` |
//! | anything else (including an IOMMU type vsva does not decode) | either | `NotInHardware` |
//!
//! The offer is the rule applied to the registers **as the backend sees them**: with
//! `ECAP.NEST` (VT-d) or `IDR0.S2P` (SMMUv3) cleared unless nesting is `Supported`.
//! Unlike the per-device verdicts of [`super::derive_features`], the offer is a property
//! of the host IOMMU (what `iommu_nesting_info.features` tells the guest), not of the
//! device's own PASID / PRI capabilities.
//!
//! ```
//! use vsva_uapi::consts::NestingFeatures;
//! use vsva_uapi::hw::vtd::{Ecap, EcapFlags};
//! use vsva_uapi::Errno;
//! use vsva_vfio::features::iommufd_backend::{BackendOffer, NestingSupport};
//! use vsva_vfio::iommufd::{DecodedHwInfo, HW_INFO_TYPE_INTEL_VTD};
//! use vsva_vfio::vtd::VtdCapabilities;
//!
//! let ecap = Ecap { nest: true, pss: 19, pasid: true, smts: true, fsts: true, ..Ecap::default() }.raw();
//! let hw = DecodedHwInfo {
//!     data_type: HW_INFO_TYPE_INTEL_VTD,
//!     capabilities: vsva_uapi::consts::HwCapabilities::empty(),
//!     max_pasid_log2: 20,
//!     vtd: Some(VtdCapabilities::decode(0, ecap)),
//!     vtd_flags: Some(0),
//!     smmuv3_idr: None,
//!     smmuv3: None,
//!     data: Vec::new(),
//! };
//! // The registers nest, the kernel refuses: the backend sees no ECAP.NEST.
//! let offer = BackendOffer::new(&hw, Err(Errno::EOPNOTSUPP), |o| {
//!     if o.vtd.is_some_and(|v| v.nesting) { NestingFeatures::BIND_PGTBL } else { NestingFeatures::empty() }
//! });
//! assert_eq!(offer.nesting, NestingSupport::RefusedByKernel(Errno::EOPNOTSUPP));
//! assert_eq!(offer.vtd.unwrap().ecap_reg & EcapFlags::NEST.bits(), 0);
//! assert!(offer.features.is_empty());
//! ```

use std::fmt;

use vsva_uapi::consts::NestingFeatures;
use vsva_uapi::hw::smmuv3::Idr0Flags;
use vsva_uapi::hw::vtd::EcapFlags;
use vsva_uapi::Errno;

use crate::iommufd::{DecodedHwInfo, DevId, HwptAllocRequest, IoasId, Iommufd};
use crate::smmuv3::Smmuv3Capabilities;
use crate::vtd::VtdCapabilities;
use crate::{Error, Result};

/// The vIOMMU's rule from the probed registers ([`BackendOffer::vtd`],
/// [`BackendOffer::smmuv3`]) to the features a guest is offered: `vsva_viommu::host::offer`.
pub type OfferRule = fn(&BackendOffer) -> NestingFeatures;

/// The [`OfferRule`] of a caller without vIOMMU policy: nothing is offered.
pub fn no_offer(_: &BackendOffer) -> NestingFeatures {
    NestingFeatures::empty()
}

/// Whether the host nests, and if not, who said no.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NestingSupport {
    /// The registers say nesting and the kernel allocated a nest parent.
    Supported,
    /// The registers say no (VT-d `ECAP.SMTS`/`NEST`/`FLTS`, SMMUv3 `S1P`+`S2P`), or the
    /// IOMMU is of a type vsva does not decode.
    NotInHardware,
    /// The registers say yes but the kernel refused a nest-parent HWPT with this errno
    /// (`EOPNOTSUPP`: a driver without nesting).
    RefusedByKernel(Errno),
}

impl NestingSupport {
    /// Classifies a probe: whether the registers nest ([`hardware_nests`]) and the
    /// kernel's answer to the nest-parent allocation.
    pub fn classify(hardware: bool, nest_parent: std::result::Result<(), Errno>) -> Self {
        match (hardware, nest_parent) {
            (true, Ok(())) => NestingSupport::Supported,
            (true, Err(e)) => NestingSupport::RefusedByKernel(e),
            (false, _) => NestingSupport::NotInHardware,
        }
    }

    /// `supported`, `not_in_hardware` or `refused_by_kernel` (the JSON value).
    pub const fn as_str(self) -> &'static str {
        match self {
            NestingSupport::Supported => "supported",
            NestingSupport::NotInHardware => "not_in_hardware",
            NestingSupport::RefusedByKernel(_) => "refused_by_kernel",
        }
    }
}

/// What nested translation lacks according to `IOMMU_GET_HW_INFO`: empty when the
/// registers nest (VT-d scalable mode + nesting + first-level; SMMUv3 both stages).
pub fn hardware_missing(hw: &DecodedHwInfo) -> Vec<&'static str> {
    let pick = |l: &[(bool, &'static str)]| -> Vec<&'static str> {
        l.iter().filter(|(ok, _)| !ok).map(|(_, n)| *n).collect()
    };
    match (&hw.vtd, &hw.smmuv3) {
        (Some(v), _) => pick(&[
            (v.scalable_mode, "ECAP.SMTS"),
            (v.nesting, "ECAP.NEST"),
            (v.first_level, "ECAP.FLTS"),
        ]),
        (None, Some(s)) => pick(&[(s.stage1, "IDR0.S1P"), (s.stage2, "IDR0.S2P")]),
        (None, None) => vec!["a decoded IOMMU (neither VT-d nor SMMUv3)"],
    }
}

/// Whether the registers of `hw` nest ([`hardware_missing`] is empty).
pub fn hardware_nests(hw: &DecodedHwInfo) -> bool {
    hardware_missing(hw).is_empty()
}

/// What the iommufd backend would offer a guest behind one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendOffer {
    /// `IOMMU_GET_HW_INFO`'s `out_data_type`.
    pub data_type: u32,
    /// Nesting, as the registers and the kernel agree on it.
    pub nesting: NestingSupport,
    /// The kernel's answer to the nest-parent `IOMMU_HWPT_ALLOC` (asked even when the
    /// registers say no): `Ok` when it allocated one (destroyed at once).
    pub nest_parent: std::result::Result<(), Errno>,
    /// What the registers lack for nesting ([`hardware_missing`]).
    pub hardware_missing: Vec<&'static str>,
    /// The VT-d registers as the backend sees them (`ECAP.NEST` cleared unless
    /// [`NestingSupport::Supported`]), if VT-d.
    pub vtd: Option<VtdCapabilities>,
    /// The SMMUv3 registers as the backend sees them (`IDR0.S2P` cleared unless
    /// [`NestingSupport::Supported`]), if SMMUv3 (and not VT-d).
    pub smmuv3: Option<Smmuv3Capabilities>,
    /// The offer: the [`OfferRule`]'s features for those registers.
    pub features: NestingFeatures,
}

impl BackendOffer {
    /// The offer for `hw` given the kernel's answer to a nest parent, its features by
    /// `rule`.
    pub fn new(
        hw: &DecodedHwInfo,
        nest_parent: std::result::Result<(), Errno>,
        rule: OfferRule,
    ) -> BackendOffer {
        let missing = hardware_missing(hw);
        let nesting = NestingSupport::classify(missing.is_empty(), nest_parent);
        let nests = nesting == NestingSupport::Supported;
        let vtd = hw.vtd.map(|v| {
            if nests {
                v
            } else {
                VtdCapabilities::decode(v.cap_reg, v.ecap_reg & !EcapFlags::NEST.bits())
            }
        });
        let smmuv3 = match (vtd, hw.smmuv3_idr) {
            (None, Some(mut idr)) => {
                if !nests {
                    idr[0] &= !(Idr0Flags::S2P.bits() as u32);
                }
                Some(Smmuv3Capabilities::decode(&idr))
            }
            _ => None,
        };
        let mut offer = BackendOffer {
            data_type: hw.data_type,
            nesting,
            nest_parent,
            hardware_missing: missing,
            vtd,
            smmuv3,
            features: NestingFeatures::empty(),
        };
        offer.features = rule(&offer);
        offer
    }

    /// The offered features' names (without `IOMMU_NESTING_FEAT_`), in bit order.
    pub fn feature_names(&self) -> Vec<&'static str> {
        self.features.iter_names().map(|(n, _)| n).collect()
    }
}

impl fmt::Display for BackendOffer {
    /// `SYSWIDE_PASID BIND_PGTBL (nesting supported: …)`, `none (no nesting: …)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = self.feature_names();
        if names.is_empty() {
            f.write_str("none")?;
        } else {
            f.write_str(&names.join(" "))?;
        }
        match (self.nesting, self.nest_parent) {
            (NestingSupport::Supported, _) => {
                f.write_str(" (nesting supported: the kernel allocated a nest parent)")
            }
            (NestingSupport::RefusedByKernel(e), _) => write!(
                f,
                " (no nesting: the registers nest but the kernel refused a nest parent: {e})"
            ),
            (NestingSupport::NotInHardware, kernel) => {
                write!(
                    f,
                    " (no nesting: not in hardware, no {}",
                    self.hardware_missing.join(", ")
                )?;
                match kernel {
                    Ok(()) => f.write_str("; the kernel accepted a nest parent)"),
                    Err(e) => write!(f, "; the kernel also refused a nest parent: {e})"),
                }
            }
        }
    }
}

/// Asks for a nest parent of `dev` on `ioas` and destroys it at once. `Ok(Err(errno))`
/// when the kernel refused (any errno, `ENOTTY` and `EOPNOTSUPP` included).
///
/// # Errors
/// A malformed reply, or the `IOMMU_DESTROY` of the allocated parent failing.
pub fn try_nest_parent(
    iommufd: &Iommufd,
    dev: DevId,
    ioas: IoasId,
) -> Result<std::result::Result<(), Errno>> {
    match iommufd.hwpt_alloc(&HwptAllocRequest::new(dev, ioas).nest_parent()) {
        Ok(parent) => {
            iommufd.destroy(parent)?;
            Ok(Ok(()))
        }
        Err(
            e @ (Error::Ioctl { .. } | Error::NotSupported { .. } | Error::HostNotSupported { .. }),
        ) => Ok(Err(e.errno())),
        Err(e) => Err(e),
    }
}

/// The offer for `dev` (whose `IOMMU_GET_HW_INFO` is `hw`) by `rule`, probing a nest
/// parent on the caller's `ioas` ([`try_nest_parent`]). Leaves nothing behind.
///
/// # Errors
/// As [`try_nest_parent`].
pub fn probe_on(
    iommufd: &Iommufd,
    dev: DevId,
    ioas: IoasId,
    hw: &DecodedHwInfo,
    rule: OfferRule,
) -> Result<BackendOffer> {
    Ok(BackendOffer::new(
        hw,
        try_nest_parent(iommufd, dev, ioas)?,
        rule,
    ))
}

/// The offer for `dev` (whose `IOMMU_GET_HW_INFO` is `hw`) by `rule`, probing a nest
/// parent on an IOAS of its own: `IOMMU_IOAS_ALLOC`, [`probe_on`], `IOMMU_DESTROY` of the IOAS (also
/// when the probe failed). Leaves nothing behind.
///
/// # Errors
/// `IOMMU_IOAS_ALLOC`'s error; [`probe_on`]'s; the IOAS's `IOMMU_DESTROY` failing.
pub fn probe(
    iommufd: &Iommufd,
    dev: DevId,
    hw: &DecodedHwInfo,
    rule: OfferRule,
) -> Result<BackendOffer> {
    let ioas = iommufd.ioas_alloc()?;
    let probed = probe_on(iommufd, dev, ioas, hw, rule);
    let destroyed = iommufd.destroy(ioas);
    let offer = probed?;
    destroyed?;
    Ok(offer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iommufd::{IOMMUFD_PATH, IOMMU_DESTROY, IOMMU_HWPT_ALLOC, IOMMU_IOAS_ALLOC};
    use crate::scripted::{Call, Reply, ScriptedKernel};
    use std::collections::BTreeSet;
    use std::sync::{Arc, Mutex};
    use vsva_uapi::hw::vtd::EcapFlags;

    /// ECAP: QI, NEST, PRS, PSS=19, PASID, SMTS, FLTS.
    const FULL_ECAP: u64 = vsva_uapi::hw::vtd::Ecap {
        qi: true,
        nest: true,
        prs: true,
        pss: 19,
        pasid: true,
        smts: true,
        fsts: true,
        ..EMPTY_ECAP
    }
    .raw();
    const EMPTY_ECAP: vsva_uapi::hw::vtd::Ecap = vsva_uapi::hw::vtd::Ecap::decode_raw(0);

    fn vtd_hw(ecap: u64) -> DecodedHwInfo {
        DecodedHwInfo {
            data_type: crate::iommufd::HW_INFO_TYPE_INTEL_VTD,
            capabilities: vsva_uapi::consts::HwCapabilities::empty(),
            max_pasid_log2: 20,
            vtd: Some(VtdCapabilities::decode(0, ecap)),
            vtd_flags: Some(0),
            smmuv3_idr: None,
            smmuv3: None,
            data: Vec::new(),
        }
    }

    /// A rule that offers one feature per nesting-relevant register it is shown, so the
    /// tests see which registers the probe handed it.
    fn seen(o: &BackendOffer) -> NestingFeatures {
        let mut f = NestingFeatures::empty();
        f.set(
            NestingFeatures::BIND_PGTBL,
            o.vtd.is_some_and(|v| v.nesting),
        );
        f.set(
            NestingFeatures::BIND_PASID_TABLE,
            o.smmuv3.is_some_and(|s| s.stage2),
        );
        f.set(
            NestingFeatures::SYSWIDE_PASID,
            o.vtd.is_some() || o.smmuv3.is_some(),
        );
        f
    }

    fn smmu_hw(idr: [u32; 6]) -> DecodedHwInfo {
        DecodedHwInfo {
            data_type: crate::iommufd::HW_INFO_TYPE_ARM_SMMUV3,
            capabilities: vsva_uapi::consts::HwCapabilities::empty(),
            max_pasid_log2: 20,
            vtd: None,
            vtd_flags: None,
            smmuv3_idr: Some(idr),
            smmuv3: Some(Smmuv3Capabilities::decode(&idr)),
            data: Vec::new(),
        }
    }

    /// A kernel with live-object accounting: `IOAS_ALLOC`, `HWPT_ALLOC` (answering
    /// `hwpt` for nest parents), `DESTROY` (failing with `destroy_fails` for that id).
    struct Fake {
        k: ScriptedKernel,
        live: Arc<Mutex<BTreeSet<u32>>>,
    }

    impl Fake {
        fn new(
            ioas: std::result::Result<(), Errno>,
            hwpt: std::result::Result<(), Errno>,
            destroy_fails: Option<u32>,
        ) -> Fake {
            let k = ScriptedKernel::new();
            k.add_path(IOMMUFD_PATH);
            let live = Arc::new(Mutex::new(BTreeSet::new()));
            let l = Arc::clone(&live);
            k.on(IOMMU_IOAS_ALLOC, move |_, call| {
                let Call::Sized(arg) = call else {
                    return Err(Errno::EINVAL);
                };
                ioas?;
                l.lock().unwrap().insert(2);
                arg[8..12].copy_from_slice(&2u32.to_ne_bytes());
                Ok(Reply::Value(0))
            });
            let l = Arc::clone(&live);
            k.on(IOMMU_HWPT_ALLOC, move |_, call| {
                let Call::Sized(arg) = call else {
                    return Err(Errno::EINVAL);
                };
                assert_eq!(u32::from_ne_bytes(arg[4..8].try_into().unwrap()), 1);
                assert_eq!(u32::from_ne_bytes(arg[8..12].try_into().unwrap()), 7);
                let pt = u32::from_ne_bytes(arg[12..16].try_into().unwrap());
                if !l.lock().unwrap().contains(&pt) {
                    return Err(Errno::ENOENT);
                }
                hwpt?;
                l.lock().unwrap().insert(3);
                arg[16..20].copy_from_slice(&3u32.to_ne_bytes());
                Ok(Reply::Value(0))
            });
            let l = Arc::clone(&live);
            k.on(IOMMU_DESTROY, move |_, call| {
                let Call::Sized(arg) = call else {
                    return Err(Errno::EINVAL);
                };
                let id = u32::from_ne_bytes(arg[4..8].try_into().unwrap());
                if destroy_fails == Some(id) {
                    return Err(Errno::EBUSY);
                }
                if !l.lock().unwrap().remove(&id) {
                    return Err(Errno::ENOENT);
                }
                Ok(Reply::Value(0))
            });
            Fake { k, live }
        }

        fn iommufd(&self) -> Iommufd {
            Iommufd::open(Arc::new(self.k.clone())).unwrap()
        }

        fn live(&self) -> Vec<u32> {
            self.live.lock().unwrap().iter().copied().collect()
        }

        fn requests(&self) -> Vec<u32> {
            self.k.calls().iter().map(|c| c.request).collect()
        }
    }

    #[test]
    fn supported_registers_and_kernel_offer_everything_and_leave_nothing() {
        let fake = Fake::new(Ok(()), Ok(()), None);
        let o = probe(&fake.iommufd(), DevId(7), &vtd_hw(FULL_ECAP), seen).unwrap();
        assert_eq!(o.nesting, NestingSupport::Supported);
        assert_eq!(o.nest_parent, Ok(()));
        assert!(o.hardware_missing.is_empty());
        assert_eq!(o.feature_names(), ["SYSWIDE_PASID", "BIND_PGTBL"]);
        assert_eq!(o.features.bits(), 0b11);
        assert_eq!(o.nesting.as_str(), "supported");
        assert!(o.vtd.unwrap().nesting);
        assert_eq!(
            fake.requests(),
            [
                IOMMU_IOAS_ALLOC,
                IOMMU_HWPT_ALLOC,
                IOMMU_DESTROY,
                IOMMU_DESTROY
            ]
        );
        assert_eq!(fake.live(), Vec::<u32>::new());
        assert!(o.to_string().contains("nesting supported"), "{o}");
    }

    #[test]
    fn registers_without_nesting_are_not_in_hardware_and_the_kernel_is_still_asked() {
        let fake = Fake::new(Ok(()), Err(Errno::EOPNOTSUPP), None);
        let o = probe(
            &fake.iommufd(),
            DevId(7),
            &vtd_hw(FULL_ECAP & !(EcapFlags::NEST | EcapFlags::FSTS).bits()),
            seen,
        )
        .unwrap();
        assert_eq!(o.nesting, NestingSupport::NotInHardware);
        assert_eq!(o.nest_parent, Err(Errno::EOPNOTSUPP));
        assert_eq!(o.hardware_missing, ["ECAP.NEST", "ECAP.FLTS"]);
        assert_eq!(o.features, NestingFeatures::SYSWIDE_PASID);
        assert_eq!(o.nesting.as_str(), "not_in_hardware");
        assert!(fake.requests().contains(&IOMMU_HWPT_ALLOC));
        assert_eq!(fake.live(), Vec::<u32>::new());
        assert_eq!(
            o.to_string(),
            "SYSWIDE_PASID (no nesting: not in hardware, no ECAP.NEST, ECAP.FLTS; \
             the kernel also refused a nest parent: EOPNOTSUPP (95))"
        );

        // No PASID either: nothing offered.
        let o = BackendOffer::new(&vtd_hw(0), Err(Errno::EOPNOTSUPP), no_offer);
        assert_eq!(o.to_string().split(' ').next(), Some("none"));
        assert!(o.features.is_empty());

        // An IOMMU vsva does not decode: not in hardware, whatever the kernel says.
        let mut other = vtd_hw(0);
        (other.data_type, other.vtd) = (0xffff, None);
        let o = BackendOffer::new(&other, Ok(()), seen);
        assert_eq!(o.nesting, NestingSupport::NotInHardware);
        assert!(o.features.is_empty(), "no registers reach the rule");
        assert!(o
            .to_string()
            .ends_with("the kernel accepted a nest parent)"));
    }

    #[test]
    fn a_kernel_refusal_masks_nesting_off() {
        for errno in [Errno::EOPNOTSUPP, Errno::EINVAL, Errno::ENOTTY] {
            let fake = Fake::new(Ok(()), Err(errno), None);
            let o = probe(&fake.iommufd(), DevId(7), &vtd_hw(FULL_ECAP), seen).unwrap();
            assert_eq!(o.nesting, NestingSupport::RefusedByKernel(errno));
            assert_eq!(o.features, NestingFeatures::SYSWIDE_PASID, "{errno}");
            assert!(!o.vtd.unwrap().nesting);
            assert_eq!(o.nesting.as_str(), "refused_by_kernel");
            assert_eq!(fake.live(), Vec::<u32>::new());
        }
        // SMMUv3 both stages, PRI, 20-bit SSIDs: BIND_PASID_TABLE until the kernel says no.
        let idr = [0b11 | (1 << 16), 20 << 6, 0, 0, 0, 5];
        let o = BackendOffer::new(&smmu_hw(idr), Ok(()), seen);
        assert_eq!(o.feature_names(), ["SYSWIDE_PASID", "BIND_PASID_TABLE"]);
        let o = BackendOffer::new(&smmu_hw(idr), Err(Errno::EOPNOTSUPP), seen);
        assert_eq!(o.features, NestingFeatures::SYSWIDE_PASID);
        assert!(!o.smmuv3.unwrap().stage2);
        let o = BackendOffer::new(&smmu_hw([0b10, 20 << 6, 0, 0, 0, 5]), Ok(()), seen);
        assert_eq!(
            (o.nesting, o.hardware_missing.as_slice()),
            (NestingSupport::NotInHardware, ["IDR0.S2P"].as_slice())
        );
    }

    #[test]
    fn every_path_destroys_what_it_created() {
        let hw = vtd_hw(FULL_ECAP);
        // The IOAS allocation fails: nothing created, nothing to destroy.
        let fake = Fake::new(Err(Errno::ENOMEM), Ok(()), None);
        let e = probe(&fake.iommufd(), DevId(7), &hw, no_offer).unwrap_err();
        assert_eq!(e.errno(), Errno::ENOMEM);
        assert_eq!(fake.requests(), [IOMMU_IOAS_ALLOC]);
        // The parent's destroy fails: an error, and the IOAS is destroyed anyway.
        let fake = Fake::new(Ok(()), Ok(()), Some(3));
        let e = probe(&fake.iommufd(), DevId(7), &hw, no_offer).unwrap_err();
        assert_eq!(e.errno(), Errno::EBUSY);
        assert_eq!(
            fake.requests(),
            [
                IOMMU_IOAS_ALLOC,
                IOMMU_HWPT_ALLOC,
                IOMMU_DESTROY,
                IOMMU_DESTROY
            ]
        );
        assert_eq!(fake.live(), [3], "only the parent the kernel kept");
        // The IOAS's destroy fails: an error even though the probe itself worked.
        let fake = Fake::new(Ok(()), Ok(()), Some(2));
        let e = probe(&fake.iommufd(), DevId(7), &hw, no_offer).unwrap_err();
        assert_eq!(e.errno(), Errno::EBUSY);
        assert_eq!(fake.live(), [2]);
        // On the caller's IOAS: only the parent is created and destroyed.
        let fake = Fake::new(Ok(()), Ok(()), None);
        let fd = fake.iommufd();
        let ioas = fd.ioas_alloc().unwrap();
        let o = probe_on(&fd, DevId(7), ioas, &hw, no_offer).unwrap();
        assert_eq!(o.nesting, NestingSupport::Supported);
        assert_eq!(fake.live(), [2], "the caller's IOAS stays");
        drop(fd);
        assert_eq!(fake.k.open_fds(), 0);
    }
}
