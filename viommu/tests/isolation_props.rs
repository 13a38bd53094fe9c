//! Random operation sequences from two VMs on one host. After every step: a refused
//! request changed nothing anywhere; a request of one VM never changed the other VM;
//! the VMs' view and the backend model agree; no page request is lost or answered twice;
//! the model saw no call a correct layer never makes.

mod common;

use common::*;
use proptest::prelude::*;
use vsva_uapi::consts::{FaultPerm, PageResponseCode};
use vsva_viommu::soft::{Event, SoftwareIommu};
use vsva_viommu::{
    DeviceId, HostIommu, InvalidationScope, PageRequest, Viommu, ViommuError, Vm, VmConfig,
};
use vsva_viommu::{GuestPasid, HostPasid};

#[derive(Debug, Clone)]
enum Op {
    Alloc {
        vm: usize,
        min: u32,
        max: u32,
    },
    Free {
        vm: usize,
        min: u32,
        max: u32,
    },
    Bind {
        vm: usize,
        pick: usize,
        gpasid: Option<u32>,
    },
    Unbind {
        vm: usize,
        pick: usize,
    },
    InvalidatePasid {
        vm: usize,
        pick: usize,
    },
    InvalidateAddr {
        vm: usize,
        pick: usize,
        addr: u64,
        granule_shift: u8,
        nb: u64,
    },
    Raw {
        vm: usize,
        which: u8,
        bytes: Vec<u8>,
    },
    Attach {
        vm: usize,
        dev: u32,
    },
    Detach {
        vm: usize,
        dev: u32,
    },
    Inject {
        dev: u32,
        pick: usize,
        grpid: u32,
        last: bool,
        needs_pasid: bool,
    },
    Read {
        vm: usize,
    },
    Respond {
        vm: usize,
        dev: u32,
        grpid: u32,
        pick: Option<usize>,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let vm = 0usize..2;
    let pick = 0usize..12;
    let small = 1u32..64;
    prop_oneof![
        3 => (vm.clone(), small.clone(), small.clone()).prop_map(|(vm, a, b)| Op::Alloc { vm, min: a, max: a + b }),
        1 => (vm.clone(), small.clone(), small.clone()).prop_map(|(vm, a, b)| Op::Free { vm, min: a, max: a + b }),
        3 => (vm.clone(), pick.clone(), prop::option::of(1u32..8)).prop_map(|(vm, pick, gpasid)| Op::Bind { vm, pick, gpasid }),
        2 => (vm.clone(), pick.clone()).prop_map(|(vm, pick)| Op::Unbind { vm, pick }),
        2 => (vm.clone(), pick.clone()).prop_map(|(vm, pick)| Op::InvalidatePasid { vm, pick }),
        2 => (vm.clone(), pick.clone(), any::<u64>(), 0u8..64, any::<u64>())
            .prop_map(|(vm, pick, addr, granule_shift, nb)| Op::InvalidateAddr { vm, pick, addr, granule_shift, nb: nb % 4 + if nb % 7 == 0 { u64::MAX / 2 } else { 0 } }),
        2 => (vm.clone(), 0u8..4, prop::collection::vec(any::<u8>(), 0..80)).prop_map(|(vm, which, bytes)| Op::Raw { vm, which, bytes }),
        1 => (vm.clone(), 1u32..4).prop_map(|(vm, dev)| Op::Attach { vm, dev }),
        1 => (vm.clone(), 1u32..4).prop_map(|(vm, dev)| Op::Detach { vm, dev }),
        3 => (1u32..5, pick.clone(), 0u32..4, any::<bool>(), any::<bool>()).prop_map(|(dev, pick, grpid, last, needs_pasid)| Op::Inject { dev, pick, grpid, last, needs_pasid }),
        2 => vm.clone().prop_map(|vm| Op::Read { vm }),
        2 => (vm, 1u32..4, 0u32..4, prop::option::of(pick)).prop_map(|(vm, dev, grpid, pick)| Op::Respond { vm, dev, grpid, pick }),
    ]
}

struct World {
    model: SoftwareIommu,
    viommu: Viommu<SoftwareIommu>,
    vms: [Vm<SoftwareIommu>; 2],
    /// PASIDs the VMs were ever given (so picks also name freed and foreign ones).
    seen: Vec<u32>,
}

impl World {
    fn new() -> World {
        let model = SoftwareIommu::with_log_capacity(HostIommu::vtd_default(), 64);
        let viommu = Viommu::new(model.clone());
        let config = VmConfig {
            max_pasids: 6,
            max_pending_faults: 3,
            ..VmConfig::default()
        };
        let vms = [viommu.create_vm(config), viommu.create_vm(config)];
        World {
            model,
            viommu,
            vms,
            seen: Vec::new(),
        }
    }

    fn pick(&self, i: usize) -> u32 {
        self.seen.get(i).copied().unwrap_or(1000 + i as u32)
    }

    fn state(&self) -> impl PartialEq + std::fmt::Debug {
        (
            self.vms[0].snapshot(),
            self.vms[1].snapshot(),
            self.model.vm_state(self.vms[0].id()),
            self.model.vm_state(self.vms[1].id()),
            self.viommu.pasid_space().allocated_count(),
            self.model.outstanding(),
        )
    }

    /// Runs `op`; returns which VM it could change (None: either, for an injected
    /// request, which changes only the device's owner) and its result.
    fn apply(&mut self, op: &Op) -> (Option<usize>, Result<(), ViommuError>) {
        let r = match *op {
            Op::Alloc { vm, min, max } => {
                let r = self.vms[vm].alloc_pasid(min, max);
                if let Ok(p) = r {
                    self.seen.push(p.0);
                }
                return (Some(vm), r.map(|_| ()));
            }
            Op::Free { vm, min, max } => {
                self.vms[vm].free_pasids(HostPasid(min), HostPasid(max));
                return (Some(vm), Ok(()));
            }
            Op::Bind { vm, pick, gpasid } => (
                vm,
                self.vms[vm].bind_gpasid(&bytes(&bind(self.pick(pick), gpasid))),
            ),
            Op::Unbind { vm, pick } => (
                vm,
                self.vms[vm].unbind_gpasid(&bytes(&bind(self.pick(pick), None))),
            ),
            Op::InvalidatePasid { vm, pick } => (
                vm,
                self.vms[vm].cache_invalidate(&bytes(&inv_pasid(self.pick(pick)))),
            ),
            Op::InvalidateAddr {
                vm,
                pick,
                addr,
                granule_shift,
                nb,
            } => {
                let info = inv_addr(self.pick(pick), addr, 1u64 << granule_shift, nb);
                (vm, self.vms[vm].cache_invalidate(&bytes(&info)))
            }
            Op::Raw {
                vm,
                which,
                ref bytes,
            } => {
                let v = &self.vms[vm];
                let r = match which {
                    0 => v.bind_gpasid(bytes),
                    1 => v.unbind_gpasid(bytes),
                    2 => v.cache_invalidate(bytes),
                    _ => v.page_response(DeviceId(1), bytes),
                };
                (vm, r)
            }
            Op::Attach { vm, dev } => (vm, self.vms[vm].attach_device(DeviceId(dev))),
            Op::Detach { vm, dev } => {
                self.vms[vm].detach_device(DeviceId(dev));
                (vm, Ok(()))
            }
            Op::Inject {
                dev,
                pick,
                grpid,
                last,
                needs_pasid,
            } => {
                let request = PageRequest {
                    id: 0,
                    device: DeviceId(dev),
                    pasid: (pick % 3 != 0).then(|| self.pick(pick)).map(HostPasid),
                    grpid,
                    perm: FaultPerm::READ | FaultPerm::WRITE,
                    addr: 0x1000 * u64::from(grpid),
                    last_page: last,
                    needs_pasid,
                    private_data: None,
                };
                self.model.inject_page_request(&self.viommu, request);
                return (None, Ok(()));
            }
            Op::Read { vm } => {
                let mut buf = [0u8; 128];
                let n = self.vms[vm].read_faults(&mut buf);
                assert_eq!(n % 64, 0);
                (vm, Ok(()))
            }
            Op::Respond {
                vm,
                dev,
                grpid,
                pick,
            } => {
                // Answer with the PASID the VM was shown, when asked to pick one.
                let pasid = pick.map(|i| {
                    self.vms[vm]
                        .snapshot()
                        .faults
                        .iter()
                        .filter_map(|f| f.guest_pasid)
                        .nth(i % 3)
                        .unwrap_or(GuestPasid(self.pick(i)))
                });
                let payload = bytes(&response(
                    grpid,
                    pasid.map(u32::from),
                    PageResponseCode::Success.raw(),
                ));
                (vm, self.vms[vm].page_response(DeviceId(dev), &payload))
            }
        };
        (Some(r.0), r.1)
    }

    fn check_invariants(&self) {
        let snaps = [self.vms[0].snapshot(), self.vms[1].snapshot()];
        assert!(
            snaps[0].pasids.is_disjoint(&snaps[1].pasids),
            "a PASID owned twice"
        );
        assert!(
            snaps[0].devices.is_disjoint(&snaps[1].devices),
            "a device attached twice"
        );
        let held = snaps[0].pasids.len() + snaps[1].pasids.len();
        assert_eq!(
            self.viommu.pasid_space().allocated_count() as usize,
            held,
            "PASID space and owners disagree"
        );
        let mut awaiting = 0;
        for (vm, snap) in self.vms.iter().zip(&snaps) {
            let hw = self.model.vm_state(vm.id());
            assert_eq!(
                hw.pasid_entries, snap.binds,
                "backend and VM disagree on binds"
            );
            assert!(
                snap.binds.keys().all(|p| snap.pasids.contains(p)),
                "a bound PASID not owned"
            );
            assert!(snap.faults.len() <= vm.config().max_pending_faults);
            assert!(snap
                .faults
                .iter()
                .all(|f| snap.devices.contains(&f.request.device)));
            awaiting += snap.faults.iter().filter(|f| f.request.last_page).count() as u64;
        }
        assert_eq!(
            self.model.outstanding(),
            awaiting,
            "a page request was lost or answered twice"
        );
        assert_eq!(
            self.model.violations(),
            0,
            "the backend saw a call a correct layer never makes"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn two_vms_stay_isolated_and_refusals_change_nothing(ops in prop::collection::vec(op(), 1..60)) {
        let mut w = World::new();
        for op in &ops {
            let before = w.state();
            let others_before = [w.vms[0].snapshot(), w.vms[1].snapshot()];
            let others_hw = [w.model.vm_state(w.vms[0].id()), w.model.vm_state(w.vms[1].id())];
            let (touched, result) = w.apply(op);
            if let Err(e) = result {
                prop_assert_eq!(&before, &w.state(), "{:?} refused ({}) but changed state", op, e);
            }
            if let Some(vm) = touched {
                // An invalidation that reached the hardware names only a PASID the VM owns.
                let hw = w.model.vm_state(w.vms[vm].id());
                if hw.invalidations > others_hw[vm].invalidations {
                    let Some(Event::Invalidate(inv)) = hw.log.back() else {
                        panic!("invalidation count grew without an event")
                    };
                    let named = match inv.scope {
                        InvalidationScope::Domain => None,
                        InvalidationScope::Pasid { pasid, .. } | InvalidationScope::Addr { pasid, .. } => pasid,
                    };
                    if let Some(p) = named {
                        prop_assert!(w.vms[vm].snapshot().pasids.contains(&p), "{:?}: VM {} invalidated PASID {} it does not own", op, vm, p);
                    }
                }
                let other = 1 - vm;
                prop_assert_eq!(&others_before[other], &w.vms[other].snapshot(), "{:?} of VM {} changed VM {}", op, vm, other);
                prop_assert_eq!(&others_hw[other], &w.model.vm_state(w.vms[other].id()), "{:?} of VM {} changed VM {}'s hardware state", op, vm, other);
            } else if let Op::Inject { dev, .. } = *op {
                for (i, before) in others_before.iter().enumerate() {
                    if !before.devices.contains(&DeviceId(dev)) {
                        prop_assert_eq!(before, &w.vms[i].snapshot(), "a request of device {} reached VM {}", dev, i);
                    }
                }
            }
            w.check_invariants();
        }
        // Tearing both VMs down returns the host to empty.
        let World { model, viommu, vms, .. } = w;
        drop(vms);
        prop_assert_eq!(viommu.pasid_space().allocated_count(), 0);
        prop_assert_eq!(model.outstanding(), 0);
        prop_assert_eq!(model.violations(), 0);
    }
}
