//! `vsva features` reports what this backend offers: `probe_host` and
//! `vsva_vfio::features::iommufd_backend::probe` with the vIOMMU's rule
//! (`vsva_viommu::host::offer`) agree on nesting and on the features of every host the
//! fake iommufd models, and `HostIommu::features` is that rule on a table of register
//! values.

use vsva_uapi::consts::NestingFeatures;
use vsva_uapi::Errno;
use vsva_vfio::cdev::CdevDevice;
use vsva_vfio::features::iommufd_backend as shared;
use vsva_vfio::iommufd::{Iommufd, IOMMU_HWPT_ALLOC};
use vsva_vfio::smmuv3::Smmuv3Capabilities;
use vsva_vfio::vtd::VtdCapabilities;
use vsva_viommu::host;
use vsva_viommu::iommufd::fake::FakeIommufd;
use vsva_viommu::iommufd::{probe_host, NestingSupport};
use vsva_viommu::HostIommu;

#[test]
fn probe_host_and_vsva_features_agree_on_every_fake_host() {
    // (hardware nests, the kernel's refusal of the nest parent)
    for (nesting, refusal) in [
        (true, None),
        (false, None),
        (true, Some(Errno::EOPNOTSUPP)),
        (false, Some(Errno::EOPNOTSUPP)),
    ] {
        let fake = FakeIommufd::new(nesting);
        let iommufd = Iommufd::open(fake.kernel()).unwrap();
        let path = fake.add_device(20);
        let dev = CdevDevice::open(fake.kernel(), &path)
            .unwrap()
            .bind(&iommufd)
            .unwrap();
        let hw = iommufd.hw_info(dev).unwrap();
        let before = fake.objects();

        if let Some(e) = refusal {
            fake.fail(IOMMU_HWPT_ALLOC, 0, e);
        }
        let offer = shared::probe(&iommufd, dev, &hw, host::offer).unwrap();
        assert_eq!(
            fake.objects(),
            before,
            "vsva features leaves nothing behind"
        );

        let ioas = iommufd.ioas_alloc().unwrap();
        let with_ioas = fake.objects();
        if let Some(e) = refusal {
            fake.fail(IOMMU_HWPT_ALLOC, 0, e);
        }
        let p = probe_host(&iommufd, dev, ioas).unwrap();
        assert_eq!(
            fake.objects(),
            with_ioas,
            "probe_host leaves nothing behind"
        );

        let at = format!("nesting {nesting}, refusal {refusal:?}");
        assert_eq!(p.nesting, offer.nesting, "{at}: {p} vs {offer}");
        assert_eq!(p.host.unwrap().features(), offer.features, "{at}");
        assert_eq!(
            p.host,
            offer.vtd.map(HostIommu::Vtd),
            "{at}: the same masked registers"
        );
        if refusal.is_none() && !nesting {
            // The fake refuses a nest parent without nesting itself, as the kernel does.
            assert_eq!(offer.nest_parent, Err(Errno::EOPNOTSUPP), "{at}");
        }
    }

    // A refusal other than EOPNOTSUPP: an error for probe_host, recorded by the report.
    let fake = FakeIommufd::new(true);
    let iommufd = Iommufd::open(fake.kernel()).unwrap();
    let path = fake.add_device(20);
    let dev = CdevDevice::open(fake.kernel(), &path)
        .unwrap()
        .bind(&iommufd)
        .unwrap();
    let hw = iommufd.hw_info(dev).unwrap();
    fake.fail(IOMMU_HWPT_ALLOC, 0, Errno::EINVAL);
    let offer = shared::probe(&iommufd, dev, &hw, host::offer).unwrap();
    assert_eq!(
        offer.nesting,
        NestingSupport::RefusedByKernel(Errno::EINVAL)
    );
    let ioas = iommufd.ioas_alloc().unwrap();
    fake.fail(IOMMU_HWPT_ALLOC, 0, Errno::EINVAL);
    assert_eq!(
        probe_host(&iommufd, dev, ioas).unwrap_err().errno(),
        Errno::EINVAL
    );
}

#[test]
fn host_features_are_the_shared_rule_on_a_table_of_registers() {
    // VT-d ECAP bits: QI 1, NEST 26, PRS 29, PSS 35..39, PASID 40, SMTS 43, FLTS 47.
    let (qi, nest, prs, pss19, pasid, smts, flts) = (
        1u64 << 1,
        1u64 << 26,
        1u64 << 29,
        19u64 << 35,
        1u64 << 40,
        1u64 << 43,
        1u64 << 47,
    );
    let full = qi | nest | prs | pss19 | pasid | smts | flts;
    let b = |f: NestingFeatures| f.bits();
    let (sys, bind, inv, pr) = (
        b(NestingFeatures::SYSWIDE_PASID),
        b(NestingFeatures::BIND_PGTBL),
        b(NestingFeatures::CACHE_INVLD),
        b(NestingFeatures::PAGE_REQUEST),
    );
    for (ecap, want) in [
        (full, sys | bind | inv | pr),
        (full & !prs, sys | bind | inv),
        (full & !qi, sys),
        (full & !nest, sys),
        (full & !smts, sys),
        (full & !flts, sys),
        (full & !pasid, 0),
        (0, 0),
        // The emulated VT-d of the kernel tier: `scalable` (PASID, no nesting), `default`.
        (0x0000_4900_80f0_0f4a, sys),
        (0x0000_0000_00f0_0f4a, 0),
    ] {
        let c = VtdCapabilities::decode(0, ecap);
        assert_eq!(HostIommu::Vtd(c).features().bits(), want, "ecap {ecap:#x}");
    }
    // SMMUv3 IDR0: S2P 0, S1P 1, PRI 16, STALL_MODEL 24..25; IDR1.SSIDSIZE 6..10.
    let ssid = 20 << 6;
    let bind_table = b(NestingFeatures::BIND_PASID_TABLE);
    for (idr0, idr1, want) in [
        (
            0b11 | (1 << 16) | (1 << 24),
            ssid,
            sys | bind_table | inv | pr,
        ),
        (0b11 | (1 << 24), ssid, sys | bind_table | inv),
        (0b11, ssid, sys | bind_table | inv | pr), // stall model 0: stalls
        (0b10 | (1 << 16), ssid, sys),
        (0b01 | (1 << 16), ssid, sys),
        (0b11 | (1 << 16), 0, 0),
    ] {
        let c = Smmuv3Capabilities::decode(&[idr0, idr1, 0, 0, 0, 5]);
        assert_eq!(HostIommu::Smmuv3(c).features().bits(), want, "{idr0:#x}");
    }
    // The default hosts: everything their kind of IOMMU can offer.
    assert_eq!(
        HostIommu::vtd_default().features(),
        NestingFeatures::all() - NestingFeatures::BIND_PASID_TABLE
    );
    assert_eq!(
        HostIommu::smmuv3_default().features(),
        NestingFeatures::all() - NestingFeatures::BIND_PGTBL
    );
}
