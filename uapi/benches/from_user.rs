//! The cost of the declaration-driven consumer: `T::from_user` of a valid user struct,
//! against a plain copy of `size_of::<T>()` bytes from the same buffer into a `T`
//! (what a consumer that checks nothing would pay), measured in the same run.
//!
//! One criterion group per struct of [`vsva_uapi::argsz_structs`], named after the
//! kernel struct (`target/criterion/<struct>/<bench>/new/estimates.json`), with:
//! - `memcpy`: `T::read_from_prefix` of the user bytes (the baseline);
//! - `from_user`: `T::from_user` under the struct's default policy;
//! - `encode_min`: the producer side, `encode_min` of the decoded value;
//! - for `iommu_cache_invalidate_info` also `from_user_zero_tail`,
//!   `from_user_flags_xend` (the two other policies) and `decode_vtd`
//!   (`decode` under the default policy with the VT-d vendor layer); for
//!   `iommu_gpasid_bind_data` also `decode_vtd`.
//!
//! Every input is built by hand (the structs without a rule a zeroed struct breaks —
//! VFIO's own, the IOAS and bind structs — come from the registry, zeroed with `argsz`
//! set) and asserted to decode before any timing starts.
//! Run with `cargo bench -p vsva-uapi --bench from_user`; see `docs/performance.md`.

use std::collections::BTreeSet;
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use vsva_uapi::consts::{HwptAllocFlags, NestingFeatures, NestingOpCode};
use vsva_uapi::{
    argsz_structs, visit_all_structs, CacheInvalidateInfo, FaultAlloc, GpasidBindData,
    GpasidBindDataVtd, Granu, HwInfo, HwptAlloc, HwptInvalidate, InvAddrInfo, NestingInfo,
    NestingInfoVtd, NestingOp, PageResponse, PasidRequest, PasidSmmuv3, PasidTableConfig, Policy,
    StructVisitor, UapiStruct, Vendor, VfioDeviceAttachIommufdPt, VfioDeviceDetachIommufdPt,
};
use zerocopy::{FromZeros, IntoBytes};

/// The largest encoding any benchmarked struct needs.
const OUT_LEN: usize = 128;

/// One benchmark input: the user bytes and the extra decodes to time.
struct Input<T> {
    /// The user memory, starting at the struct's first byte.
    user: Vec<u8>,
    /// The value the user meant (compared with the decode at setup).
    value: T,
    /// Extra `(bench name, policy, vendor)` decodes beyond the default `from_user`.
    extra: Vec<(&'static str, Policy, Option<Vendor>)>,
}

impl<T: UapiStruct> Input<T> {
    /// An input whose user bytes are exactly `value`'s bytes.
    fn exact(value: T) -> Input<T> {
        Input {
            user: value.as_bytes().to_vec(),
            value,
            extra: Vec::new(),
        }
    }
}

/// Asserts that `input` decodes under every policy the benchmark times, then times the
/// baseline, `from_user`, the extra decodes and `encode_min` in one group.
fn bench_struct<T: UapiStruct>(
    c: &mut Criterion,
    covered: &mut BTreeSet<&'static str>,
    input: Input<T>,
) {
    let layout = T::DECL;
    let policy = layout.default_policy;
    let user = input.user.as_slice();

    // Setup checks: every timed decode succeeds and returns the intended value.
    let decoded = T::from_user(user, policy)
        .unwrap_or_else(|e| panic!("{}: bench input refused under {policy}: {e}", layout.name));
    assert_eq!(
        decoded.as_bytes(),
        input.value.as_bytes(),
        "{}: decode differs",
        layout.name
    );
    let (copied, _) = T::read_from_prefix(user).expect("user buffer holds the struct");
    assert_eq!(
        copied.as_bytes(),
        input.value.as_bytes(),
        "{}: baseline copy differs",
        layout.name
    );
    for &(name, p, vendor) in &input.extra {
        let d = T::decode(user, p, vendor)
            .unwrap_or_else(|e| panic!("{}: {name} refused: {e}", layout.name));
        assert_eq!(
            d.value.as_bytes(),
            input.value.as_bytes(),
            "{}: {name} differs",
            layout.name
        );
    }
    let mut out = [0u8; OUT_LEN];
    let n = decoded
        .encode_min(&mut out)
        .unwrap_or_else(|e| panic!("{}: encode_min failed: {e}", layout.name));
    assert!(
        T::from_user(&out[..n], policy).is_ok(),
        "{}: round trip",
        layout.name
    );
    assert!(
        covered.insert(layout.name),
        "{} benchmarked twice",
        layout.name
    );

    let mut group = c.benchmark_group(layout.name);
    group.bench_function("memcpy", |b| {
        b.iter(|| T::read_from_prefix(black_box(user)).map(|(v, _)| v).ok())
    });
    group.bench_function("from_user", |b| {
        b.iter(|| T::from_user(black_box(user), black_box(policy)))
    });
    for &(name, p, vendor) in &input.extra {
        group.bench_function(name, |b| {
            b.iter(|| T::decode(black_box(user), black_box(p), black_box(vendor)))
        });
    }
    group.bench_function("encode_min", |b| {
        b.iter(|| {
            let mut out = [0u8; OUT_LEN];
            let n = black_box(&decoded).encode_min(&mut out);
            black_box(out);
            n
        })
    });
    group.finish();
}

/// An address-selective IOTLB + device-IOTLB invalidation (valid for the generic and
/// the VT-d tables), 56 bytes.
fn cache_invalidate() -> Input<CacheInvalidateInfo> {
    let addr = InvAddrInfo {
        flags: 0b101, // PASID | LEAF
        archid: 0,
        pasid: 5,
        addr: 0x7f00_0000_0000,
        granule_size: 4096,
        nb_granules: 16,
    };
    let mut v = CacheInvalidateInfo::new_zeroed();
    v.argsz = 56;
    v.version = 1;
    v.cache = 0b011; // IOTLB | DEV_IOTLB
    v.granularity = 2; // ADDR
    addr.write_to_prefix(v.granu.as_mut_bytes())
        .expect("addr_info fits the union");
    assert_eq!(v.granu_view(), Some(Granu::Addr(addr)));
    let mut input = Input::exact(v);
    input.extra = vec![
        ("from_user_zero_tail", Policy::ZeroTail, None),
        ("from_user_flags_xend", Policy::FlagsXend, None),
        ("decode_vtd", Policy::Linux510, Some(Vendor::Vtd)),
    ];
    input
}

/// A VT-d guest PASID bind with a guest PASID and SRE, 72 bytes.
fn gpasid_bind() -> Input<GpasidBindData> {
    let mut v = GpasidBindData::new_zeroed();
    v.argsz = 72;
    v.version = 1;
    v.addr_width = 48;
    v.flags = 1; // IOMMU_SVA_GPASID_VAL
    v.gpgd = 0x1_2345_6000;
    v.hpasid = 100;
    v.gpasid = 5;
    v.set_vtd(GpasidBindDataVtd {
        flags: 1, // SRE
        pat: 0,
        emt: 0,
    });
    let mut input = Input::exact(v);
    input.extra = vec![("decode_vtd", Policy::Linux510, Some(Vendor::Vtd))];
    input
}

/// A successful page response with a PASID, 24 bytes.
fn page_response() -> Input<PageResponse> {
    Input::exact(PageResponse {
        argsz: 24,
        version: 1,
        flags: 1, // PASID_VALID
        pasid: 5,
        grpid: 3,
        code: 0, // SUCCESS
    })
}

/// An SMMUv3 PASID table bind, 32 bytes.
fn pasid_table() -> Input<PasidTableConfig> {
    let mut v = PasidTableConfig::new_zeroed();
    v.argsz = 32;
    v.version = 1;
    v.base_ptr = 0x8000_0000;
    v.pasid_bits = 16;
    v.config = 1; // TRANSLATE
    v.set_smmuv3(PasidSmmuv3 {
        version: 1,
        s1fmt: 1,
        s1dss: 0,
        padding: [0; 2],
    });
    Input::exact(v)
}

/// The host's VT-d nesting capabilities, 64 bytes.
fn nesting_info() -> Input<NestingInfo> {
    let mut v = NestingInfo::new_zeroed();
    v.argsz = 64;
    v.features = (NestingFeatures::SYSWIDE_PASID
        | NestingFeatures::BIND_PGTBL
        | NestingFeatures::CACHE_INVLD)
        .bits();
    v.addr_width = 48;
    v.pasid_bits = 20;
    v.set_vtd(NestingInfoVtd {
        flags: 0,
        padding: [0; 12],
        cap_reg: 0x00d2_0086_1c6f_0462,
        ecap_reg: 0x0005_a00f_0105_a8de,
    });
    Input::exact(v)
}

/// Allocate one PASID in `[1, 1000]`, 16 bytes.
fn pasid_request() -> Input<PasidRequest> {
    Input::exact(PasidRequest::alloc(1, 1000))
}

/// A nesting-op header carrying a 56-byte cache invalidation: the user memory holds the
/// header and the payload; the header decode reads 8 bytes.
fn nesting_op() -> Input<NestingOp> {
    let v = NestingOp::new(NestingOpCode::CacheInvld, 56);
    let mut user = v.as_bytes().to_vec();
    user.extend_from_slice(cache_invalidate().user.as_slice());
    Input {
        user,
        value: v,
        extra: Vec::new(),
    }
}

/// `IOMMU_GET_HW_INFO` with a 24-byte driver buffer, 40 bytes.
fn hw_info() -> Input<HwInfo> {
    let mut v = HwInfo::new_zeroed();
    v.size = 40;
    v.dev_id = 1;
    v.data_len = 24;
    v.data_uptr = 0x7fff_0000_1000;
    Input::exact(v)
}

/// A nested VT-d stage-1 HWPT reporting to a fault queue (`FAULT_ID_VALID`), 48 bytes.
fn hwpt_alloc() -> Input<HwptAlloc> {
    let mut v = HwptAlloc::new_zeroed();
    v.size = 48;
    v.flags = HwptAllocFlags::FAULT_ID_VALID.bits();
    v.dev_id = 1;
    v.pt_id = 2;
    v.data_type = 1; // IOMMU_HWPT_DATA_VTD_S1
    v.data_len = 24;
    v.data_uptr = 0x7fff_0000_2000;
    v.fault_id = 7;
    Input::exact(v)
}

/// Four 24-byte VT-d stage-1 invalidation entries, 32 bytes.
fn hwpt_invalidate() -> Input<HwptInvalidate> {
    let mut v = HwptInvalidate::new_zeroed();
    v.size = 32;
    v.hwpt_id = 3;
    v.data_uptr = 0x7fff_0000_3000;
    v.data_type = 0; // IOMMU_HWPT_INVALIDATE_DATA_VTD_S1
    v.entry_len = 24;
    v.entry_num = 4;
    Input::exact(v)
}

/// `IOMMU_FAULT_QUEUE_ALLOC`, 16 bytes.
fn fault_alloc() -> Input<FaultAlloc> {
    let mut v = FaultAlloc::new_zeroed();
    v.size = 16;
    Input::exact(v)
}

/// Attach PASID 5 of a cdev device to HWPT 3 (`VFIO_DEVICE_ATTACH_PASID`), 16 bytes.
fn attach_pt() -> Input<VfioDeviceAttachIommufdPt> {
    Input::exact(VfioDeviceAttachIommufdPt {
        argsz: 16,
        flags: 1,
        pt_id: 3,
        pasid: 5,
    })
}

/// Detach PASID 5 of a cdev device (`VFIO_DEVICE_DETACH_PASID`), 12 bytes.
fn detach_pt() -> Input<VfioDeviceDetachIommufdPt> {
    Input::exact(VfioDeviceDetachIommufdPt {
        argsz: 12,
        flags: 1,
        pasid: 5,
    })
}

/// Every struct of [`argsz_structs`], each in its own group.
fn from_user(c: &mut Criterion) {
    let mut covered = BTreeSet::new();
    bench_struct(c, &mut covered, cache_invalidate());
    bench_struct(c, &mut covered, gpasid_bind());
    bench_struct(c, &mut covered, page_response());
    bench_struct(c, &mut covered, pasid_table());
    bench_struct(c, &mut covered, nesting_info());
    bench_struct(c, &mut covered, pasid_request());
    bench_struct(c, &mut covered, nesting_op());
    bench_struct(c, &mut covered, hw_info());
    bench_struct(c, &mut covered, hwpt_alloc());
    bench_struct(c, &mut covered, hwpt_invalidate());
    bench_struct(c, &mut covered, fault_alloc());
    bench_struct(c, &mut covered, attach_pt());
    bench_struct(c, &mut covered, detach_pt());
    // The other argsz structs (VFIO's own, the IOAS and bind structs, which have no rule
    // a zeroed struct breaks), from the registry: the struct zeroed, `argsz` its size.
    struct Zeroed<'a> {
        c: &'a mut Criterion,
        covered: &'a mut BTreeSet<&'static str>,
    }
    impl StructVisitor for Zeroed<'_> {
        fn visit<T: UapiStruct>(&mut self) {
            if T::DECL.sized && !self.covered.contains(T::DECL.name) {
                let mut value = T::new_zeroed();
                let argsz = T::DECL.size as u32;
                value.as_mut_bytes()[..4].copy_from_slice(&argsz.to_ne_bytes());
                bench_struct(self.c, self.covered, Input::exact(value));
            }
        }
    }
    visit_all_structs(&mut Zeroed {
        c,
        covered: &mut covered,
    });
    // With a benchmark-name filter criterion skips groups, but setup still runs for
    // every struct, so this holds for any filter.
    let all: BTreeSet<_> = argsz_structs().map(|l| l.name).collect();
    assert_eq!(covered, all, "every argsz struct is benchmarked");
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .sample_size(30);
    targets = from_user
}
criterion_main!(benches);
