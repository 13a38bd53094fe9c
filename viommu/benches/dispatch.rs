//! One bind + cache invalidate + unbind through the whole stack (the VFIO envelope
//! dispatch, the IOMMU UAPI layer, the VM's ownership checks, the backend), against the
//! baseline measured in the same run: the three `from_user` decodes alone.
//!
//! Two backends: a null one (what the layers above decoding cost by themselves) and the
//! software model with its event log off (plus what a realistic backend's bookkeeping
//! costs).

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use vsva_uapi::consts::{
    CacheInvType, GpasidBindFlags, InvPasidFlags, NestingOpCode, VFIO_IOMMU_NESTING_OP,
};
use vsva_uapi::{
    CacheInvalidateInfo, Errno, GpasidBindData, GpasidBindDataVtd, Granu, InvPasidInfo, NestingOp,
    Policy, UapiStruct, Vendor,
};
use vsva_vfio::nesting::dispatch;
use vsva_viommu::soft::SoftwareIommu;
use vsva_viommu::{
    Backend, GpasidBind, HostIommu, HostPageResponse, Invalidation, PasidTableBind, Viommu,
    VmConfig, VmId,
};
use zerocopy::{FromZeros, IntoBytes};

/// A backend that accepts everything and does nothing.
struct NullBackend(HostIommu);

impl Backend for NullBackend {
    fn host(&self) -> &HostIommu {
        &self.0
    }
    fn bind_gpasid(&self, _: VmId, bind: &GpasidBind) -> Result<(), Errno> {
        black_box(bind);
        Ok(())
    }
    fn unbind_gpasid(&self, _: VmId, hpasid: vsva_viommu::HostPasid) {
        black_box(hpasid);
    }
    fn set_pasid_table(&self, _: VmId, table: &PasidTableBind) -> Result<(), Errno> {
        black_box(table);
        Ok(())
    }
    fn clear_pasid_table(&self, _: VmId) {}
    fn invalidate(&self, _: VmId, inv: &Invalidation) {
        black_box(inv);
    }
    fn page_response(&self, _: VmId, response: &HostPageResponse) {
        black_box(response);
    }
}

struct Payloads {
    bind: Vec<u8>,
    invalidate: Vec<u8>,
    bind_env: Vec<u8>,
    unbind_env: Vec<u8>,
    invalidate_env: Vec<u8>,
}

fn payloads(pasid: u32) -> Payloads {
    let mut b = GpasidBindData::new_zeroed();
    b.argsz = 72;
    b.version = 1;
    b.addr_width = 48;
    b.gpgd = 0x1234_5000;
    b.hpasid = u64::from(pasid);
    b.flags = GpasidBindFlags::GPASID_VAL.bits();
    b.gpasid = 7;
    b.set_vtd(GpasidBindDataVtd::new_zeroed());
    let inv = CacheInvalidateInfo::new(
        CacheInvType::IOTLB,
        Granu::Pasid(InvPasidInfo {
            flags: InvPasidFlags::PASID.bits(),
            archid: 0,
            pasid: u64::from(pasid),
        }),
    );
    let env = |op, payload: &[u8]| {
        let mut out = vec![0u8; 8 + payload.len()];
        NestingOp::encode_envelope(op, payload, &mut out).expect("envelope");
        out
    };
    Payloads {
        bind_env: env(NestingOpCode::BindPgtbl, b.as_bytes()),
        unbind_env: env(NestingOpCode::UnbindPgtbl, b.as_bytes()),
        invalidate_env: env(NestingOpCode::CacheInvld, inv.as_bytes()),
        bind: b.as_bytes().to_vec(),
        invalidate: inv.as_bytes().to_vec(),
    }
}

fn stack<B: Backend>(c: &mut Criterion, name: &str, backend: B) {
    let viommu = Viommu::new(backend);
    let vm = viommu.create_vm(VmConfig::default());
    let pasid = vm.alloc_pasid(1, 1 << 19).expect("PASID");
    let p = payloads(pasid.0);
    c.bench_function(&format!("bind_inval_unbind/dispatch/{name}"), |b| {
        b.iter(|| {
            let r1 = dispatch(VFIO_IOMMU_NESTING_OP, black_box(&p.bind_env), &vm);
            let r2 = dispatch(VFIO_IOMMU_NESTING_OP, black_box(&p.invalidate_env), &vm);
            let r3 = dispatch(VFIO_IOMMU_NESTING_OP, black_box(&p.unbind_env), &vm);
            assert!(r1.is_ok() && r2.is_ok() && r3.is_ok());
        })
    });
}

fn bench(c: &mut Criterion) {
    let p = payloads(1234);
    // Baseline: what the kernel's IOMMU UAPI layer does for the three calls (copy and
    // check each payload, VT-d vendor rules included) and nothing else.
    c.bench_function("bind_inval_unbind/from_user_only", |b| {
        b.iter(|| {
            let v = Some(Vendor::Vtd);
            let r1 = GpasidBindData::decode(black_box(&p.bind), Policy::Linux510, v);
            let r2 = CacheInvalidateInfo::decode(black_box(&p.invalidate), Policy::Linux510, v);
            let r3 = GpasidBindData::decode(black_box(&p.bind), Policy::Linux510, v);
            assert!(r1.is_ok() && r2.is_ok() && r3.is_ok());
        })
    });
    stack(c, "null_backend", NullBackend(HostIommu::vtd_default()));
    stack(
        c,
        "software_model",
        SoftwareIommu::with_log_capacity(HostIommu::vtd_default(), 0),
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = bench
}
criterion_main!(benches);
