//! The translation between the guest's hardware formats and the 2020 IOMMU UAPI requests
//! vsva-viommu receives. Pure functions, used by the unit and by `vsva explain`.
//!
//! | guest | 2020 request |
//! |---|---|
//! | a present first-stage PASID entry (`PGTT` = 1), on the PASID-cache invalidation that names it | `iommu_gpasid_bind_data`: `gpgd` ← `FSPTPTR`, `addr_width` ← 48 + 9 × `FSPM`, `vendor.vtd.flags` ← SRE, EAFE, WPE, `pat` ← `PAT`, `emt` ← `EMT`, `hpasid` the unit's, `gpasid` with `IOMMU_SVA_GPASID_VAL` |
//! | the entry cleared (or changed), on the same invalidation | `iommu_gpasid_bind_data` to `unbind_gpasid` (the old one) |
//! | type 6, G = 2 | `iommu_cache_invalidate_info` IOTLB, PASID granularity |
//! | type 6, G = 3 | IOTLB, address granularity: `addr` = ADDR, `granule_size` 4 KiB, `nb_granules` = 2^AM, LEAF if IH |
//! | type 9 | `iommu_page_response`: `grpid` ← PRGI, `code` ← RC (0 success, 1 invalid, 0xF and every other value failure) |

use vsva_uapi::consts::{
    CacheInvType, FaultPerm, GpasidBindFlags, InvAddrFlags, InvPasidFlags, PageRequestFlags,
    PageResponseFlags, VtdGpasidFlags,
};
use vsva_uapi::hw::vtd::{
    FaultReason, PageReqDesc, PasidEntry, PgrpRespDesc, Pgtt, PiotlbInvDesc, ResponseCode,
    PAGE_REQ_TYPE,
};
use vsva_uapi::{
    CacheInvalidateInfo, Fault, FaultPageRequest, GpasidBindData, GpasidBindDataVtd, Granu,
    InvAddrInfo, InvPasidInfo, PageResponse, UapiStruct,
};
use zerocopy::FromZeros;

use crate::caps::Offer;

/// What a present, valid first-stage PASID entry asks the host to bind: everything of
/// the entry that reaches `iommu_gpasid_bind_data`. Two entries with the same
/// `FirstStage` (and DID) share one host PASID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FirstStage {
    /// The domain id (tags the guest's flushes).
    pub did: u16,
    /// `FSPTPTR`: the guest's first-stage table (a guest physical address).
    pub gpgd: u64,
    /// 48 (4-level) or 57 (5-level).
    pub addr_width: u32,
    /// SRE.
    pub sre: bool,
    /// WPE.
    pub wpe: bool,
    /// EAFE.
    pub eafe: bool,
    /// `PAT`.
    pub pat: u32,
    /// `EMT`.
    pub emt: u32,
    /// FPD: faults of this entry are not recorded.
    pub fpd: bool,
}

impl FirstStage {
    /// Checks a present PASID entry against what the unit offers and returns what it binds.
    /// Fields the unit does not support are refused as the specification says: a
    /// translation type other than first-stage is an invalid entry (`0x5B`); a field whose
    /// capability is not offered (memory types without `ECAP.MTS`, SRE/WPE without
    /// `ECAP.SRS`, ERE without `ECAP.ERS`, EAFE without `ECAP.EAFS`, PGSNP without
    /// `ECAP.SC`, 5-level paging without `CAP.FL5LP`, a reserved `FSPM`) is a reserved
    /// field (`0x5A`). Second-stage fields (`AW`, `SSPTPTR`, `SSADE`), `PWSNP` and `NXE`
    /// are ignored for a first-stage-only entry, as hardware ignores them.
    ///
    /// # Errors
    /// The fault reason.
    pub fn from_entry(e: &PasidEntry, offer: &Offer) -> Result<FirstStage, FaultReason> {
        if Pgtt::from_raw(e.pgtt) != Some(Pgtt::FirstStage) {
            return Err(FaultReason::PasidEntryInvalid);
        }
        let ecap = &offer.ecap;
        let reserved = (e.cd || e.emte || e.pcd || e.pwt) && !ecap.mts
            || (e.sre || e.wpe) && !ecap.srs
            || e.ere && !ecap.ers
            || e.eafe && !ecap.eafs
            || e.pgsnp && !ecap.sc
            || e.fspm > 1
            || e.fspm == 1 && !offer.cap.fl5lp;
        if reserved {
            return Err(FaultReason::PasidEntryReserved);
        }
        // WPE makes sense only for supervisor requests; the host refuses it alone.
        if e.wpe && !e.sre {
            return Err(FaultReason::PasidEntryInvalid);
        }
        Ok(FirstStage {
            did: e.did,
            gpgd: e.fsptptr,
            addr_width: if e.fspm == 1 { 57 } else { 48 },
            sre: e.sre,
            wpe: e.wpe,
            eafe: e.eafe,
            pat: e.pat,
            emt: u32::from(e.emt),
            fpd: e.fpd,
        })
    }

    /// The `iommu_gpasid_bind_data` that binds this table to `hpasid`, with the guest
    /// PASID when `gpasid` is given (`IOMMU_SVA_GPASID_VAL`).
    pub fn bind_data(&self, hpasid: u32, gpasid: Option<u32>) -> GpasidBindData {
        let mut bind = GpasidBindData::new_zeroed();
        bind.argsz = GpasidBindData::DECL.size as u32;
        bind.version = 1;
        bind.addr_width = self.addr_width;
        bind.gpgd = self.gpgd;
        bind.hpasid = u64::from(hpasid);
        if let Some(g) = gpasid {
            bind.flags = GpasidBindFlags::GPASID_VAL.bits();
            bind.gpasid = u64::from(g);
        }
        let mut flags = VtdGpasidFlags::empty();
        flags.set(VtdGpasidFlags::SRE, self.sre);
        flags.set(VtdGpasidFlags::WPE, self.wpe);
        flags.set(VtdGpasidFlags::EAFE, self.eafe);
        let mut vtd = GpasidBindDataVtd::new_zeroed();
        vtd.flags = flags.bits();
        vtd.pat = self.pat;
        vtd.emt = self.emt;
        bind.set_vtd(vtd);
        bind
    }
}

/// The 2020 invalidation a PASID-based IOTLB invalidation (type 6) becomes for the host
/// PASID bound to its (DID, PASID). An AM beyond `mamv` is widened to the whole PASID
/// (a larger flush is always correct; Linux never sends one).
pub fn piotlb_invalidation(d: &PiotlbInvDesc, hpasid: u32, mamv: u8) -> CacheInvalidateInfo {
    if d.g == 3 && d.am <= mamv {
        let mut flags = InvAddrFlags::PASID;
        flags.set(InvAddrFlags::LEAF, d.ih);
        let mut a = InvAddrInfo::new_zeroed();
        a.flags = flags.bits();
        a.pasid = u64::from(hpasid);
        a.addr = d.addr & !((4096u64 << d.am) - 1);
        a.granule_size = 4096;
        a.nb_granules = 1 << d.am;
        CacheInvalidateInfo::new(CacheInvType::IOTLB, Granu::Addr(a))
    } else {
        let mut p = InvPasidInfo::new_zeroed();
        p.flags = InvPasidFlags::PASID.bits();
        p.pasid = u64::from(hpasid);
        CacheInvalidateInfo::new(CacheInvType::IOTLB, Granu::Pasid(p))
    }
}

/// The `iommu_page_response` a page group response (type 9) becomes, with `pasid` the
/// PASID vsva-viommu showed the VM for the request (`None`: the request had none).
pub fn page_response(d: &PgrpRespDesc, pasid: Option<u32>) -> PageResponse {
    let mut r = PageResponse::new_zeroed();
    r.argsz = PageResponse::DECL.size as u32;
    r.version = 1;
    if let Some(p) = pasid {
        r.flags = PageResponseFlags::PASID_VALID.bits();
        r.pasid = p;
    }
    r.grpid = u32::from(d.prgi);
    r.code = ResponseCode::from_raw(d.rc).to_generic().raw();
    r
}

/// The page request descriptor the unit writes for a request of `rid`: the guest's
/// PASID (`None`: none), the group, the access, the page address.
pub fn page_request_desc(
    rid: u16,
    gpasid: Option<u32>,
    grpid: u32,
    perm: FaultPerm,
    addr: u64,
    last_page: bool,
) -> PageReqDesc {
    PageReqDesc {
        ty: PAGE_REQ_TYPE,
        pp: gpasid.is_some(),
        rid,
        pasid: gpasid.unwrap_or(0),
        er: perm.contains(FaultPerm::EXEC),
        pm: perm.contains(FaultPerm::PRIV),
        rd: perm.contains(FaultPerm::READ),
        wr: perm.contains(FaultPerm::WRITE),
        lpig: last_page,
        prgi: (grpid & 0x1ff) as u16,
        addr: addr & !0xfff,
        ..PageReqDesc::default()
    }
}

/// The `iommu_fault` record (a page request, `prm`) a page request descriptor stands for:
/// what vsva-viommu reported for it.
pub fn fault_of_page_request(d: &PageReqDesc) -> Fault {
    let mut flags = PageRequestFlags::empty();
    flags.set(PageRequestFlags::PASID_VALID, d.pp);
    flags.set(PageRequestFlags::LAST_PAGE, d.lpig);
    let mut perm = FaultPerm::empty();
    perm.set(FaultPerm::READ, d.rd);
    perm.set(FaultPerm::WRITE, d.wr);
    perm.set(FaultPerm::EXEC, d.er);
    perm.set(FaultPerm::PRIV, d.pm);
    Fault::page_request(FaultPageRequest {
        flags: flags.bits(),
        pasid: if d.pp { d.pasid } else { 0 },
        grpid: u32::from(d.prgi),
        perm: perm.bits(),
        addr: d.addr,
        private_data: [0; 2],
    })
}
