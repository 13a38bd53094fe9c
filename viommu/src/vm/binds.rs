//! Binds: VT-d guest page tables per PASID, and the SMMUv3 guest PASID table.

use vsva_uapi::consts::{
    GpasidBindFlags, NestingFeatures, PasidTableConfigKind, VtdGpasidFlags, PASID_MAX,
};
use vsva_uapi::{GpasidBindData, PasidTableConfig, UapiStruct};

use crate::backend::{Backend, GpasidBind, GuestPasid, HostPasid, PasidTableBind};
use crate::error::{Result, ViommuError};
use crate::host::HostIommu;

use super::*;

impl<B: Backend> Vm<B> {
    // ---- VT-d: guest page tables per PASID -----------------------------------------

    pub(super) fn decode_bind(&self, payload: &[u8]) -> Result<GpasidBindData> {
        self.require(NestingFeatures::BIND_PGTBL, "binding a guest page table")?;
        let vendor = self.host_iommu().vendor();
        Ok(GpasidBindData::decode(payload, self.vm.config.policy, vendor)?.value)
    }

    /// Binds a guest first-level page table to a host PASID the VM owns
    /// (`VFIO_IOMMU_NESTING_OP_BIND_PGTBL`; `payload` is the untouched
    /// `iommu_gpasid_bind_data`).
    ///
    /// # Errors
    /// The UAPI checks (`EINVAL`/`EFAULT`); [`ViommuError::HostCapability`] for a flag or
    /// width the host lacks; [`ViommuError::NotOwned`]; [`ViommuError::AlreadyBound`] /
    /// [`ViommuError::GpasidInUse`] (`EBUSY`); the backend's errno. Nothing changes on
    /// error.
    pub fn bind_gpasid(&self, payload: &[u8]) -> Result<()> {
        let data = self.decode_bind(payload)?;
        let bind = self.check_bind(&data)?;
        let mut st = self.lock();
        if !st.view.pasids.contains(&bind.hpasid) {
            return Err(ViommuError::NotOwned { pasid: bind.hpasid });
        }
        if st.view.binds.contains_key(&bind.hpasid) {
            return Err(ViommuError::AlreadyBound {
                hpasid: bind.hpasid,
            });
        }
        if let Some(g) = bind.gpasid {
            if let Some(&hpasid) = st.gpasids.get(&g) {
                return Err(ViommuError::GpasidInUse { gpasid: g, hpasid });
            }
            // The guest sees another host PASID of the VM as itself: `g` would name
            // two PASIDs (and two pending page requests could look the same).
            if g.0 != bind.hpasid.0 && st.view.pasids.contains(&HostPasid(g.0)) {
                return Err(ViommuError::GpasidInUse {
                    gpasid: g,
                    hpasid: HostPasid(g.0),
                });
            }
        }
        self.host
            .backend
            .bind_gpasid(self.vm.id, &bind)
            .map_err(|errno| ViommuError::Backend { errno })?;
        st.view.binds.insert(bind.hpasid, bind);
        if let Some(g) = bind.gpasid {
            st.gpasids.insert(g, bind.hpasid);
        }
        Ok(())
    }

    /// The host-capability checks of `intel_svm_bind_gpasid` / `intel_pasid_setup_nested`
    /// on a payload the UAPI layer accepted.
    pub(super) fn check_bind(&self, data: &GpasidBindData) -> Result<GpasidBind> {
        let HostIommu::Vtd(caps) = self.host_iommu() else {
            return Err(ViommuError::Unsupported {
                op: "binding a guest page table",
            });
        };
        let hpasid = u32::try_from(data.hpasid)
            .ok()
            .filter(|p| (1..=self.host_iommu().max_pasid()).contains(p))
            .ok_or(ViommuError::HostCapability {
                what: "a host PASID wider than its PASID width",
            })?;
        let gpasid = if GpasidBindFlags::from_bits_retain(data.flags)
            .contains(GpasidBindFlags::GPASID_VAL)
        {
            let g = u32::try_from(data.gpasid)
                .ok()
                .filter(|g| (1..PASID_MAX).contains(g))
                .ok_or(ViommuError::GpasidRange {
                    gpasid: data.gpasid,
                })?;
            Some(g)
        } else {
            None
        };
        let vtd = data.vtd().ok_or(ViommuError::Unsupported {
            op: "a non-VT-d PASID format",
        })?;
        let flags = VtdGpasidFlags::from_bits_retain(vtd.flags);
        if flags.contains(VtdGpasidFlags::SRE) && !caps.supervisor_requests {
            return Err(ViommuError::HostCapability {
                what: "supervisor requests (SRE) without ECAP.SRS",
            });
        }
        if flags.contains(VtdGpasidFlags::EAFE) && !caps.extended_accessed_flag {
            return Err(ViommuError::HostCapability {
                what: "the extended access flag (EAFE) without ECAP.EAFS",
            });
        }
        // Memory-type flags (MTS_MASK) never get here: the VT-d vendor layer of the
        // decode refuses them, as v5.10 does ("no memory type support").
        match data.addr_width {
            48 => {}
            57 if caps.first_level_5_level => {}
            57 => {
                return Err(ViommuError::HostCapability {
                    what: "a 5-level first-level table without CAP.FL5LP",
                })
            }
            _ => {
                return Err(ViommuError::HostCapability {
                    what: "an address width other than 48 or 57 bits",
                })
            }
        }
        Ok(GpasidBind {
            hpasid: HostPasid(hpasid),
            gpasid: gpasid.map(GuestPasid),
            gpgd: data.gpgd,
            addr_width: data.addr_width,
            vtd_flags: flags,
            pat: vtd.pat,
            emt: vtd.emt,
        })
    }

    /// Unbinds the guest page table of a host PASID the VM owns
    /// (`VFIO_IOMMU_NESTING_OP_UNBIND_PGTBL`; `payload` is the full
    /// `iommu_gpasid_bind_data`, checked as for bind). Unbinding an unbound PASID does
    /// nothing.
    ///
    /// # Errors
    /// A malformed payload, or [`ViommuError::NotOwned`]: the handle is not valid. For
    /// a valid handle it cannot fail.
    pub fn unbind_gpasid(&self, payload: &[u8]) -> Result<()> {
        let data = self.decode_bind(payload)?;
        let hpasid = HostPasid(u32::try_from(data.hpasid).unwrap_or(u32::MAX));
        let mut st = self.lock();
        if !st.view.pasids.contains(&hpasid) {
            return Err(ViommuError::NotOwned { pasid: hpasid });
        }
        self.unbind_locked(&mut st, hpasid);
        Ok(())
    }

    pub(super) fn unbind_locked(&self, st: &mut VmState, hpasid: HostPasid) {
        if let Some(bind) = st.view.binds.remove(&hpasid) {
            if let Some(g) = bind.gpasid {
                st.gpasids.remove(&g);
            }
            self.host.backend.unbind_gpasid(self.vm.id, hpasid);
        }
    }

    // ---- SMMUv3: the guest PASID table ---------------------------------------------

    /// Binds the guest's PASID (context-descriptor) table, or replaces the bound config
    /// (`payload` is the untouched `iommu_pasid_table_config`).
    ///
    /// # Errors
    /// The UAPI checks; [`ViommuError::Unsupported`] on a host without SMMUv3 nesting;
    /// [`ViommuError::HostCapability`] for PASID bits, a CD-table format or an S1DSS
    /// the host refuses, or a misaligned table; the backend's errno. Nothing changes on
    /// error.
    pub fn set_pasid_table(&self, payload: &[u8]) -> Result<()> {
        self.require(NestingFeatures::BIND_PASID_TABLE, "binding a PASID table")?;
        let HostIommu::Smmuv3(caps) = self.host_iommu() else {
            return Err(ViommuError::Unsupported {
                op: "binding a PASID table",
            });
        };
        let cfg = PasidTableConfig::from_user(payload, self.vm.config.policy)?;
        let config =
            PasidTableConfigKind::from_raw(cfg.config).ok_or(ViommuError::HostCapability {
                what: "an unknown PASID-table config",
            })?;
        let smmu = cfg.smmuv3().ok_or(ViommuError::Unsupported {
            op: "a non-SMMUv3 PASID table",
        })?;
        if cfg.pasid_bits > caps.substream_id_bits {
            return Err(ViommuError::HostCapability {
                what: "more PASID bits than the host's SSIDSIZE",
            });
        }
        if smmu.s1fmt > 2 || (smmu.s1fmt != 0 && !caps.cd_two_level) {
            return Err(ViommuError::HostCapability {
                what: "a CD-table format the host lacks (S1Fmt)",
            });
        }
        if smmu.s1dss > 2 {
            return Err(ViommuError::HostCapability {
                what: "an S1DSS value outside 0..=2",
            });
        }
        if config == PasidTableConfigKind::Translate && !cfg.base_ptr.is_multiple_of(64) {
            return Err(ViommuError::HostCapability {
                what: "a CD table not aligned to 64 bytes",
            });
        }
        let table = PasidTableBind {
            config,
            base_ptr: cfg.base_ptr,
            pasid_bits: cfg.pasid_bits,
            s1fmt: smmu.s1fmt,
            s1dss: smmu.s1dss,
        };
        let mut st = self.lock();
        self.host
            .backend
            .set_pasid_table(self.vm.id, &table)
            .map_err(|errno| ViommuError::Backend { errno })?;
        st.view.pasid_table = Some(table);
        Ok(())
    }

    /// Unbinds the guest PASID table. Cannot fail; doing it twice does nothing.
    pub fn clear_pasid_table(&self) {
        let mut st = self.lock();
        if st.view.pasid_table.take().is_some() {
            self.host.backend.clear_pasid_table(self.vm.id);
        }
    }
}
