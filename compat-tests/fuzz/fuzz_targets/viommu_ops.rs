//! Fuzzes the vIOMMU layer (`vsva-viommu`) with operation sequences from two VMs of one
//! host, VT-d or SMMUv3 (the first byte chooses). Raw payloads and valid templates
//! patched with fuzz bytes reach every operation. After every step it asserts the
//! layer's promises, not just "no panic": a refused request changed nothing (either VM,
//! the backend model, the PASID space, the outstanding page requests); the model saw no
//! call a correct layer never makes; every outstanding page request is queued in the VM
//! that holds its device; teardown returns the host to empty.

#![no_main]

use libfuzzer_sys::fuzz_target;
use vsva_uapi::consts::{FaultPerm, PasidTableConfigKind};
use vsva_uapi::{
    CacheInvalidateInfo, GpasidBindData, GpasidBindDataVtd, Granu, InvAddrInfo, InvPasidInfo,
    PageResponse, PasidSmmuv3, PasidTableConfig, UapiStruct,
};
use vsva_viommu::soft::SoftwareIommu;
use vsva_viommu::{DeviceId, HostIommu, HostPasid, PageRequest, Viommu, ViommuError, Vm, VmConfig};
use zerocopy::{FromZeros, IntoBytes};

struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(*b)
    }
    fn u32(&mut self) -> Option<u32> {
        let b = self.0.get(..4)?;
        let v = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        self.0 = &self.0[4..];
        Some(v)
    }
    fn bytes(&mut self) -> Option<&[u8]> {
        let n = usize::from(self.byte()?).min(self.0.len());
        let (b, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(b)
    }
}

fn templates(pasid: u32) -> [Vec<u8>; 4] {
    let mut bind = GpasidBindData::new_zeroed();
    bind.argsz = 72;
    bind.version = 1;
    bind.addr_width = 48;
    bind.hpasid = u64::from(pasid);
    bind.set_vtd(GpasidBindDataVtd::new_zeroed());
    let inv_p = CacheInvalidateInfo::new(
        vsva_uapi::consts::CacheInvType::IOTLB,
        Granu::Pasid(InvPasidInfo {
            flags: 1,
            archid: 0,
            pasid: u64::from(pasid),
        }),
    );
    let inv_a = CacheInvalidateInfo::new(
        vsva_uapi::consts::CacheInvType::IOTLB,
        Granu::Addr(InvAddrInfo {
            flags: 1,
            archid: 0,
            pasid: u64::from(pasid),
            addr: 0x1000,
            granule_size: 4096,
            nb_granules: 1,
        }),
    );
    let mut table = PasidTableConfig::new_zeroed();
    table.argsz = PasidTableConfig::DECL.size as u32;
    table.version = 1;
    table.pasid_bits = 8;
    table.config = PasidTableConfigKind::Translate.raw();
    let mut s = PasidSmmuv3::new_zeroed();
    s.version = 1;
    table.set_smmuv3(s);
    [
        bind.as_bytes().to_vec(),
        inv_p.as_bytes().to_vec(),
        inv_a.as_bytes().to_vec(),
        table.as_bytes().to_vec(),
    ]
}

fn response(grpid: u32, pasid: u32, flags: u32, code: u32) -> Vec<u8> {
    let mut r = PageResponse::new_zeroed();
    r.argsz = 24;
    r.version = 1;
    r.flags = flags;
    r.pasid = pasid;
    r.grpid = grpid;
    r.code = code;
    r.as_bytes().to_vec()
}

fn state(
    model: &SoftwareIommu,
    viommu: &Viommu<SoftwareIommu>,
    vms: &[Vm<SoftwareIommu>; 2],
) -> impl PartialEq + std::fmt::Debug {
    (
        vms[0].snapshot(),
        vms[1].snapshot(),
        model.vm_state(vms[0].id()),
        model.vm_state(vms[1].id()),
        viommu.pasid_space().allocated_count(),
        model.outstanding(),
    )
}

fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let host = match input.byte() {
        Some(b) if b & 1 == 1 => HostIommu::smmuv3_default(),
        _ => HostIommu::vtd_default(),
    };
    let model = SoftwareIommu::with_log_capacity(host, 8);
    let viommu = Viommu::new(model.clone());
    let config = VmConfig {
        max_pasids: 8,
        max_pending_faults: 4,
        ..VmConfig::default()
    };
    let vms = [viommu.create_vm(config), viommu.create_vm(config)];
    let mut seen: Vec<u32> = vec![1];
    for _ in 0..64 {
        let Some(op) = input.byte() else { break };
        let vm = &vms[usize::from(op >> 7)];
        let pick = |i: u8| seen[usize::from(i) % seen.len()];
        let before = state(&model, &viommu, &vms);
        let result: Result<(), ViommuError> = match op & 0x0f {
            0 => {
                let (a, b) = (
                    input.u32().unwrap_or(1) % 300,
                    input.u32().unwrap_or(2) % 300,
                );
                vm.alloc_pasid(a, b).map(|p| seen.push(p.raw_value()))
            }
            1 => {
                let (a, b) = (
                    input.u32().unwrap_or(0) % 300,
                    input.u32().unwrap_or(0) % 300,
                );
                vm.free_pasids(HostPasid(a), HostPasid(b));
                Ok(())
            }
            2 => vm.bind_gpasid(input.bytes().unwrap_or(&[])),
            3 => vm.unbind_gpasid(input.bytes().unwrap_or(&[])),
            4 => vm.cache_invalidate(input.bytes().unwrap_or(&[])),
            5 => vm.set_pasid_table(input.bytes().unwrap_or(&[])),
            6 => {
                let dev = DeviceId(u32::from(input.byte().unwrap_or(0) % 3));
                vm.page_response(dev, input.bytes().unwrap_or(&[]))
            }
            7..=10 => {
                // A valid template for a PASID the VMs were given, with fuzz bytes
                // patched in at a fuzz offset.
                let which = usize::from(op & 0x0f) - 7;
                let p = pick(input.byte().unwrap_or(0));
                let mut payload = templates(p)[which].clone();
                let at = usize::from(input.byte().unwrap_or(0)) % (payload.len() + 1);
                for (i, b) in input.bytes().unwrap_or(&[]).iter().enumerate() {
                    if let Some(slot) = payload.get_mut(at + i) {
                        *slot = *b;
                    }
                }
                match which {
                    0 if op & 0x40 != 0 => vm.unbind_gpasid(&payload),
                    0 => vm.bind_gpasid(&payload),
                    3 => vm.set_pasid_table(&payload),
                    _ => vm.cache_invalidate(&payload),
                }
            }
            11 => {
                let dev = u32::from(input.byte().unwrap_or(0) % 3);
                if op & 0x40 != 0 {
                    vm.detach_device(DeviceId(dev));
                    Ok(())
                } else {
                    vm.attach_device(DeviceId(dev))
                }
            }
            12 => {
                let b = input.byte().unwrap_or(0);
                model.inject_page_request(
                    &viommu,
                    PageRequest {
                        id: 0,
                        device: DeviceId(u32::from(b % 3)),
                        pasid: (b & 0x10 != 0).then(|| HostPasid(pick(b >> 5))),
                        grpid: u32::from(input.byte().unwrap_or(0) % 4),
                        perm: FaultPerm::READ,
                        addr: 0,
                        last_page: b & 0x08 != 0,
                        needs_pasid: b & 0x04 != 0,
                        private_data: None,
                    },
                );
                Ok(())
            }
            13 => {
                let mut buf = [0u8; 150];
                let n = vm.read_faults(&mut buf);
                assert_eq!(n % 64, 0, "partial fault record");
                Ok(())
            }
            14 => {
                let b = input.byte().unwrap_or(0);
                let g = u32::from(input.byte().unwrap_or(0) % 4);
                let payload = response(g, pick(b), u32::from(b & 1), u32::from(b >> 6));
                vm.page_response(DeviceId(u32::from(b % 3)), &payload)
            }
            _ => {
                vm.clear_pasid_table();
                Ok(())
            }
        };
        if let Err(e) = result {
            assert_eq!(
                before,
                state(&model, &viommu, &vms),
                "refused ({e}) but state changed"
            );
        }
        assert_eq!(
            model.violations(),
            0,
            "the backend saw a call a correct layer never makes"
        );
        let snaps = [vms[0].snapshot(), vms[1].snapshot()];
        assert!(snaps[0].pasids.is_disjoint(&snaps[1].pasids));
        let awaiting: u64 = snaps
            .iter()
            .map(|s| s.faults.iter().filter(|f| f.request.last_page).count() as u64)
            .sum();
        assert_eq!(model.outstanding(), awaiting, "a page request was lost");
    }
    drop(vms);
    assert_eq!(viommu.pasid_space().allocated_count(), 0);
    assert_eq!(model.outstanding(), 0);
    assert_eq!(model.violations(), 0);
});
