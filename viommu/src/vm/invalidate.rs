//! Cache invalidation: a guest's request checked and forwarded to the backend.

use vsva_uapi::consts::{CacheInvType, InvAddrFlags, InvPasidFlags, NestingFeatures};
use vsva_uapi::{CacheInvalidateInfo, Granu, InvAddrInfo, UapiStruct};

use crate::backend::{Backend, HostPasid, Invalidation, InvalidationScope};
use crate::error::{Result, ViommuError};
use crate::host::HostIommu;

use super::*;

impl<B: Backend> Vm<B> {
    // ---- cache invalidation --------------------------------------------------------

    /// Forwards a guest cache invalidation (`VFIO_IOMMU_NESTING_OP_CACHE_INVLD`;
    /// `payload` is the untouched `iommu_cache_invalidate_info`): the generic table of
    /// `iommu_check_cache_invl_data`, the VT-d table on a VT-d host, the PASID checked
    /// against what the VM owns (VT-d) or the bound table's width (SMMUv3), and the
    /// address range checked for overflow.
    ///
    /// # Errors
    /// A malformed payload, a PASID the VM may not name, or a bad range: the handle is
    /// not valid. For a valid handle it cannot fail.
    pub fn cache_invalidate(&self, payload: &[u8]) -> Result<()> {
        self.require(NestingFeatures::CACHE_INVLD, "cache invalidation")?;
        let info = CacheInvalidateInfo::decode(
            payload,
            self.vm.config.policy,
            self.host_iommu().vendor(),
        )?
        .value;
        let caches = CacheInvType::from_bits_retain(info.cache);
        let granu = info.granu_view().ok_or(ViommuError::HostCapability {
            what: "an unknown invalidation granularity",
        })?;
        let st = self.lock();
        let scope = match granu {
            Granu::Domain => InvalidationScope::Domain,
            Granu::Pasid(p) => {
                let flags = InvPasidFlags::from_bits_retain(p.flags);
                InvalidationScope::Pasid {
                    pasid: self.named_pasid(&st, flags.contains(InvPasidFlags::PASID), p.pasid)?,
                    archid: flags.contains(InvPasidFlags::ARCHID).then_some(p.archid),
                }
            }
            Granu::Addr(a) => {
                let flags = InvAddrFlags::from_bits_retain(a.flags);
                let bad = ViommuError::BadRange {
                    addr: a.addr,
                    granule_size: a.granule_size,
                    nb_granules: a.nb_granules,
                };
                if !a.granule_size.is_power_of_two() || a.granule_size < 4096 {
                    return Err(bad);
                }
                // v5.10 only logs a misaligned address: round it down to its granule.
                let addr = a.addr & !(a.granule_size - 1);
                // An end at exactly 2^64 (the last page, or addr 0 with 2^52 × 4 KiB) is
                // valid; only an empty range or one past 2^64 is not.
                let last = InvAddrInfo { addr, ..a }.range_last().ok_or(bad)?;
                InvalidationScope::Addr {
                    pasid: self.named_pasid(&st, flags.contains(InvAddrFlags::PASID), a.pasid)?,
                    archid: flags.contains(InvAddrFlags::ARCHID).then_some(a.archid),
                    addr,
                    last,
                    granule_size: a.granule_size,
                    leaf: flags.contains(InvAddrFlags::LEAF),
                }
            }
        };
        // No cache named: valid, and nothing to do (the VT-d driver's loop over the set
        // bits runs zero times).
        if !caches.is_empty() {
            self.host
                .backend
                .invalidate(self.vm.id, &Invalidation { caches, scope });
        }
        drop(st);
        Ok(())
    }

    /// The PASID an invalidation names: on VT-d a host PASID the VM owns; on SMMUv3 a
    /// substream id within the bound table (the table is the guest's own).
    pub(super) fn named_pasid(
        &self,
        st: &VmState,
        named: bool,
        pasid: u64,
    ) -> Result<Option<HostPasid>> {
        if !named {
            return Ok(None);
        }
        let p = HostPasid(u32::try_from(pasid).unwrap_or(u32::MAX));
        let ok = match self.host_iommu() {
            HostIommu::Vtd(_) => st.view.pasids.contains(&p),
            HostIommu::Smmuv3(_) => {
                let bits = st
                    .view
                    .pasid_table
                    .map_or(self.host_iommu().pasid_bits(), |t| t.pasid_bits);
                u64::from(p) < (1u64 << bits)
            }
        };
        if ok {
            Ok(Some(p))
        } else {
            Err(ViommuError::NotOwned { pasid: p })
        }
    }
}
