//! What the host offers: [`probe_host`](crate::iommufd::probe_host) (`IOMMU_GET_HW_INFO` and a nest-parent probe).

use std::fmt;

use vsva_uapi::Errno;
use vsva_vfio::iommufd::{DecodedHwInfo, DevId, IoasId, Iommufd};

use crate::host::HostIommu;

pub use vsva_vfio::features::iommufd_backend::NestingSupport;

/// What [`probe_host`](crate::iommufd::probe_host) found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostProbe {
    /// `IOMMU_GET_HW_INFO` for the probing device.
    pub hw_info: DecodedHwInfo,
    /// Nesting, as the hardware and the kernel agree on it.
    pub nesting: NestingSupport,
    /// The host as the vIOMMU layer should see it (its features follow from it), with
    /// nesting masked off unless [`NestingSupport::Supported`](crate::iommufd::NestingSupport::Supported); `None` for an IOMMU type
    /// vsva does not decode.
    pub host: Option<HostIommu>,
}

impl fmt::Display for HostProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.host {
            Some(HostIommu::Vtd(_)) => "Intel VT-d",
            Some(HostIommu::Smmuv3(_)) => "Arm SMMUv3",
            None => "an IOMMU vsva does not decode",
        };
        write!(f, "{kind} (hw info type {}): ", self.hw_info.data_type)?;
        match self.nesting {
            NestingSupport::Supported => f.write_str("nesting supported")?,
            NestingSupport::NotInHardware => f.write_str("no nesting: the hardware lacks it")?,
            NestingSupport::RefusedByKernel(e) => {
                write!(f, "no nesting: the kernel refused a nest parent ({e})")?
            }
        }
        write!(
            f,
            "; device PASID width {} bits",
            self.hw_info.max_pasid_log2
        )?;
        if let Some(h) = self.host {
            write!(f, "; features {:?}", h.features())?;
        }
        Ok(())
    }
}

/// Derives what the iommufd backend can offer a guest on this host: `IOMMU_GET_HW_INFO`
/// for `dev` (VT-d CAP/ECAP decoded with [`VtdCapabilities::decode`], SMMUv3 IDRs with
/// [`Smmuv3Capabilities::decode`]) and a nest-parent `IOMMU_HWPT_ALLOC` on `ioas`
/// (destroyed at once), through [`vsva_vfio::features::iommufd_backend::probe_on`], the
/// probe `vsva features` reports with. A kernel that refuses it (`EOPNOTSUPP`) means no
/// nesting, whatever the registers say: [`HostProbe::host`](crate::iommufd::HostProbe::host) then has `ECAP.NEST` (VT-d)
/// or `IDR0.S2P` (SMMUv3) cleared, so the derived features offer no bind.
///
/// An example is in the [module documentation](crate::iommufd).
///
/// [`VtdCapabilities::decode`]: vsva_vfio::vtd::VtdCapabilities::decode
/// [`Smmuv3Capabilities::decode`]: vsva_vfio::smmuv3::Smmuv3Capabilities::decode
///
/// # Errors
/// `IOMMU_GET_HW_INFO`'s error; a nest-parent refusal other than `EOPNOTSUPP`.
pub fn probe_host(iommufd: &Iommufd, dev: DevId, ioas: IoasId) -> vsva_vfio::Result<HostProbe> {
    // The probe and the register masking live in vsva-vfio, shared with `vsva features`.
    use vsva_vfio::features::iommufd_backend as shared;
    let hw_info = iommufd.hw_info(dev)?;
    let offer = shared::probe_on(iommufd, dev, ioas, &hw_info, crate::host::offer)?;
    if let Err(e) = offer.nest_parent {
        if e != Errno::EOPNOTSUPP {
            return Err(vsva_vfio::Error::ioctl("IOMMU_HWPT_ALLOC", e));
        }
    }
    let host = HostIommu::from_offer(&offer);
    Ok(HostProbe {
        hw_info,
        nesting: offer.nesting,
        host,
    })
}
