//! Payload builders and assertions shared by the vsva-viommu tests.
#![allow(dead_code)]

use vsva_uapi::consts::{
    CacheInvType, GpasidBindFlags, InvAddrFlags, InvPasidFlags, PageResponseFlags,
    PasidTableConfigKind,
};
use vsva_uapi::{
    CacheInvalidateInfo, Errno, GpasidBindData, GpasidBindDataVtd, Granu, InvAddrInfo,
    InvPasidInfo, PageResponse, PasidSmmuv3, PasidTableConfig, UapiStruct,
};
use vsva_viommu::soft::SoftwareIommu;
use vsva_viommu::{Backend, ViommuError, Vm};
use zerocopy::{FromZeros, IntoBytes};

/// The bytes of a payload, exactly `argsz` long when `argsz` is within the struct.
pub fn bytes<T: IntoBytes + zerocopy::Immutable>(v: &T) -> Vec<u8> {
    v.as_bytes().to_vec()
}

/// A valid VT-d bind of `hpasid` (4-level, no vendor flags), optionally with a guest PASID.
pub fn bind(hpasid: u32, gpasid: Option<u32>) -> GpasidBindData {
    let mut b = GpasidBindData::new_zeroed();
    b.argsz = GpasidBindData::DECL.size as u32;
    b.version = 1;
    b.addr_width = 48;
    b.gpgd = 0x1234_5000;
    b.hpasid = u64::from(hpasid);
    if let Some(g) = gpasid {
        b.flags = GpasidBindFlags::GPASID_VAL.bits();
        b.gpasid = u64::from(g);
    }
    b.set_vtd(GpasidBindDataVtd::new_zeroed());
    b
}

/// Sets the VT-d vendor flags of a bind.
pub fn with_vtd_flags(mut b: GpasidBindData, flags: u64) -> GpasidBindData {
    let mut vtd = b.vtd().unwrap_or_else(GpasidBindDataVtd::new_zeroed);
    vtd.flags = flags;
    b.set_vtd(vtd);
    b
}

/// A PASID-selective IOTLB invalidation of `pasid`.
pub fn inv_pasid(pasid: u32) -> CacheInvalidateInfo {
    CacheInvalidateInfo::new(
        CacheInvType::IOTLB,
        Granu::Pasid(InvPasidInfo {
            flags: InvPasidFlags::PASID.bits(),
            archid: 0,
            pasid: u64::from(pasid),
        }),
    )
}

/// An address-selective IOTLB + device-IOTLB invalidation.
pub fn inv_addr(pasid: u32, addr: u64, granule_size: u64, nb_granules: u64) -> CacheInvalidateInfo {
    CacheInvalidateInfo::new(
        CacheInvType::IOTLB | CacheInvType::DEV_IOTLB,
        Granu::Addr(InvAddrInfo {
            flags: InvAddrFlags::PASID.bits(),
            archid: 0,
            pasid: u64::from(pasid),
            addr,
            granule_size,
            nb_granules,
        }),
    )
}

/// A version-1 page response.
pub fn response(grpid: u32, pasid: Option<u32>, code: u32) -> PageResponse {
    let mut r = PageResponse::new_zeroed();
    r.argsz = PageResponse::DECL.size as u32;
    r.version = 1;
    if let Some(p) = pasid {
        r.flags = PageResponseFlags::PASID_VALID.bits();
        r.pasid = p;
    }
    r.grpid = grpid;
    r.code = code;
    r
}

/// A valid SMMUv3 PASID-table config.
pub fn table(config: PasidTableConfigKind, pasid_bits: u8) -> PasidTableConfig {
    let mut t = PasidTableConfig::new_zeroed();
    t.argsz = PasidTableConfig::DECL.size as u32;
    t.version = 1;
    t.base_ptr = 0x8000_0000;
    t.pasid_bits = pasid_bits;
    t.config = config.raw();
    let mut s = PasidSmmuv3::new_zeroed();
    s.version = 1;
    s.s1fmt = 1;
    s.s1dss = 0;
    t.set_smmuv3(s);
    t
}

/// Runs `op`, expects it to be refused with `errno`, and checks that neither the VM nor
/// the model changed.
pub fn assert_refused<B: Backend>(
    what: &str,
    vm: &Vm<B>,
    model: &SoftwareIommu,
    errno: Errno,
    op: impl FnOnce() -> Result<(), ViommuError>,
) {
    let before = (vm.snapshot(), model.vm_state(vm.id()), model.violations());
    match op() {
        Ok(()) => panic!("{what}: accepted, expected {errno}"),
        Err(e) => assert_eq!(
            e.errno(),
            errno,
            "{what}: refused with {e}, expected {errno}"
        ),
    }
    let after = (vm.snapshot(), model.vm_state(vm.id()), model.violations());
    assert_eq!(before, after, "{what}: a refused request changed state");
}
