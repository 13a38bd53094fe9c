//! The mini-VMM: three KVM guests sharing one vIOMMU.
//!
//! ```text
//! cargo run --release -p vsva-vmm --example minivmm [-- --verbose]
//! ```
//!
//! VM 1 runs the well-behaved guest (`viommu/vmm/guests/well_behaved.asm`: PASID allocs,
//! binds, invalidations of every granularity, page requests answered, unbinds, frees);
//! VM 2 runs the same sequence built with the G3 header sizes plus G2/G3-only requests
//! (`generations.asm`), which vsva, a G1 consumer, refuses. Both run at once, each on its
//! own vCPU thread, against one `Viommu` over the software IOMMU model. The report shows
//! what each guest sent, what vsva answered, and what the backend recorded. With
//! `--verbose`, every request and its result. VM 3 then runs `vtd_linux.asm` on an
//! emulated VT-d (`vsva-vtd`) over the same `Viommu`: the guest programs the unit as
//! Linux's intel-iommu driver does, binds guest PASID 5, answers a page request the VMM
//! injects, flushes and unbinds; the report shows what the unit and the backend saw.
//!
//! Without a usable `/dev/kvm` it says so and exits with status 2.

use std::process::ExitCode;
use vsva_viommu::GuestPasid;

use vsva_uapi::consts::{FaultPerm, VFIO_IOMMU_NESTING_OP, VFIO_IOMMU_PASID_REQUEST};
use vsva_uapi::Errno;
use vsva_viommu::soft::{Event, SoftwareIommu};
use vsva_viommu::{DeviceId, HostIommu, PageRequest, Viommu};
use vsva_vmm::{inject_on_ready, Guest, GuestSpec, Op, RunReport, Vmm};

const WELL_BEHAVED: &[u8] = include_bytes!("../guests/well_behaved.bin");
const GEN3: &[u8] = include_bytes!("../guests/gen3.bin");
const VTD_LINUX: &[u8] = include_bytes!("../guests/vtd_linux.bin");

/// Page requests injected when a guest says it is ready.
const PAGE_REQUESTS: u32 = 3;

fn result(r: i32) -> String {
    if r >= 0 {
        format!("{r:#x}")
    } else {
        let e = Errno(r.saturating_neg());
        format!("-{}", e.name())
    }
}

fn request(op: u32, arg0: u32) -> String {
    match Op::from_raw(op) {
        Some(Op::Ioctl) if arg0 == VFIO_IOMMU_PASID_REQUEST => {
            "IOCTL VFIO_IOMMU_PASID_REQUEST".into()
        }
        Some(Op::Ioctl) if arg0 == VFIO_IOMMU_NESTING_OP => "IOCTL VFIO_IOMMU_NESTING_OP".into(),
        Some(op) => format!("{op:?}"),
        None => format!("op {op}"),
    }
}

fn print_vm(
    model: &SoftwareIommu,
    guest: &Guest<SoftwareIommu>,
    report: &RunReport,
    verbose: bool,
) {
    let s = &report.stats;
    println!(
        "VM {} \"{}\" (device {:#06x}): halted after {} exits in {:.2?}",
        report.vm.0, report.name, report.device.0, s.exits, report.elapsed
    );
    match report.guest {
        Some(g) => println!(
            "  guest:   {} requests sent, {} unexpected results",
            g.requests_sent, g.unexpected_results
        ),
        None => println!("  guest:   wrote no report"),
    }
    let refused: Vec<String> = s
        .errnos
        .iter()
        .map(|(e, n)| format!("{} x{n}", Errno(*e).name()))
        .collect();
    println!(
        "  vsva:    {} answered: {} succeeded, {} refused ({}); {} ignored doorbells",
        s.doorbells,
        s.successes,
        s.failures(),
        refused.join(", "),
        s.bad_doorbells
    );
    println!(
        "           per op: {} NOP, {} IOCTL, {} READ_FAULTS, {} PAGE_RESPONSE, {} FAULT_STATUS, {} READY",
        s.ops.nop, s.ops.ioctl, s.ops.read_faults, s.ops.page_response, s.ops.fault_status, s.ops.ready
    );
    let allocs: Vec<String> = s
        .log
        .iter()
        .filter(|d| {
            d.block.op == Op::Ioctl as u32
                && d.block.arg0 == VFIO_IOMMU_PASID_REQUEST
                && d.result > 0
        })
        .map(|d| format!("{:#x}", d.result))
        .collect();
    println!(
        "  PASIDs:  allocated {} (random placement), all freed: {}",
        allocs.join(", "),
        guest.vm().snapshot().pasids.is_empty()
    );
    let st = model.vm_state(guest.vm().id());
    let (mut binds, mut unbinds, mut invs, mut resps) = (Vec::new(), 0, 0, 0);
    for e in &st.log {
        match e {
            Event::Bind(b) => binds.push(match b.gpasid {
                Some(g) => format!(
                    "{:#x} -> gpgd {:#x} as guest PASID {g:#x}",
                    b.hpasid, b.gpgd
                ),
                None => format!("{:#x} -> gpgd {:#x}", b.hpasid, b.gpgd),
            }),
            Event::Unbind(_) => unbinds += 1,
            Event::Invalidate(_) => invs += 1,
            Event::PageResponse(_) => resps += 1,
            _ => {}
        }
    }
    println!("  backend: binds [{}]", binds.join("; "));
    println!(
        "           {invs} invalidations forwarded, {resps} page responses, {unbinds} unbinds; now {} PASID entries",
        st.pasid_entries.len()
    );
    if verbose {
        for (i, d) in s.log.iter().enumerate() {
            println!(
                "    #{:<3} {:<34} -> {}",
                i + 1,
                request(d.block.op, d.block.arg0),
                result(d.result)
            );
        }
    }
}

/// VM 3: the Linux-style guest on an emulated VT-d. Returns whether it went as expected.
fn run_vtd(vmm: &Vmm<SoftwareIommu>, model: &SoftwareIommu) -> bool {
    let device = DeviceId(0x0300);
    let spec = GuestSpec::new("vtd_linux", VTD_LINUX, device).vtd(0x0008);
    let mut guest = match vmm.create_guest(spec) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("minivmm: building guest vtd_linux: {e}");
            return false;
        }
    };
    // The guest halts after its bind; the VMM injects a page request of the device on
    // the bound PASID and resumes it.
    let first = guest
        .run()
        .map(|_| guest.vtd_bindings().unwrap_or_default());
    let report = match first {
        Ok(bindings) => {
            if let Some((hpasid, _, _)) = bindings.first() {
                model.inject_page_request(
                    vmm.viommu(),
                    PageRequest {
                        id: 0,
                        device,
                        pasid: Some(*hpasid),
                        grpid: 1,
                        perm: FaultPerm::READ | FaultPerm::WRITE,
                        addr: 0x7f00_0003_0000,
                        last_page: true,
                        needs_pasid: true,
                        private_data: None,
                    },
                );
            }
            guest.run()
        }
        Err(e) => Err(e),
    };
    let r = match report {
        Ok(r) => r,
        Err(e) => {
            println!("VM {} \"vtd_linux\": {e}\n", guest.vm().id().0);
            return false;
        }
    };
    let s = &r.stats;
    println!(
        "VM {} \"vtd_linux\" (device {:#06x}, emulated VT-d at GPA {:#x}, requester id 00:01.0): halted after {} exits ({} MMIO) over two runs",
        r.vm.0, r.device.0, vsva_vmm::VTD_MMIO_GPA, s.exits, s.mmio_exits
    );
    match r.guest {
        Some(g) => println!(
            "  guest:   {} queue submissions, {} wait status writes seen, {} unexpected results",
            g.requests_sent, g.reserved, g.unexpected_results
        ),
        None => println!("  guest:   wrote no report"),
    }
    let Some(u) = guest.vtd_stats() else {
        return false;
    };
    println!(
        "  unit:    {} queue runs, {} descriptors, {} binds, {} unbinds, {} page requests, {} page responses, {} faults, {} queue errors",
        u.queue_runs, u.descriptors, u.binds, u.unbinds, u.page_requests, u.responses, u.faults_recorded, u.queue_errors
    );
    let st = model.vm_state(guest.vm().id());
    let mut calls = Vec::new();
    for e in &st.log {
        calls.push(match e {
            Event::Bind(b) => format!(
                "bind {:#x} -> gpgd {:#x} as guest PASID {:#x}",
                b.hpasid,
                b.gpgd,
                b.gpasid.unwrap_or(GuestPasid(0))
            ),
            Event::Unbind(h) => format!("unbind {h:#x}"),
            Event::Invalidate(_) => "invalidate".into(),
            Event::PageResponse(p) => format!("page response {:?}", p.code),
            other => format!("{other:?}"),
        });
    }
    println!("  backend: {}", calls.join(", "));
    println!(
        "           {} invalidations in {} flushes; now {} PASID entries\n",
        st.invalidations,
        st.flushes,
        st.pasid_entries.len()
    );
    r.guest.is_some_and(|g| g.unexpected_results == 0) && st.pasid_entries.is_empty()
}

fn main() -> ExitCode {
    let verbose = std::env::args().any(|a| a == "--verbose" || a == "-v");
    if let Err(e) = vsva_vmm::probe() {
        eprintln!("minivmm: cannot run KVM guests here: /dev/kvm is absent or unusable ({e})");
        return ExitCode::from(2);
    }
    let model = SoftwareIommu::new(HostIommu::vtd_default());
    let vmm = Vmm::new(Viommu::new(model.clone()));
    println!("vsva mini-VMM: 3 KVM guests (real mode, 1 MiB RAM each, one vCPU thread each) sharing one vIOMMU (software model of a VT-d host)\n");
    let specs = [
        ("well_behaved", WELL_BEHAVED, 0x0100),
        ("gen3", GEN3, 0x0200),
    ];
    let mut guests = Vec::new();
    for (name, image, dev) in specs {
        let spec = GuestSpec::new(name, image, DeviceId(dev))
            .on_ready(inject_on_ready(model.clone(), PAGE_REQUESTS));
        match vmm.create_guest(spec) {
            Ok(g) => guests.push(g),
            Err(e) => {
                eprintln!("minivmm: building guest {name}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let reports = vmm.run_all(&mut guests);
    let mut ok = true;
    for (guest, report) in guests.iter().zip(reports) {
        match report {
            Ok(r) => {
                ok &= r.guest.is_some_and(|g| g.unexpected_results == 0);
                print_vm(&model, guest, &r, verbose);
            }
            Err(e) => {
                ok = false;
                println!("VM {} \"{}\": {e}", guest.vm().id().0, guest.name());
            }
        }
        println!();
    }
    drop(guests);
    ok &= run_vtd(&vmm, &model);
    println!(
        "torn down: {} PASIDs allocated, {} page requests outstanding, {} calls a correct vIOMMU never makes",
        vmm.viommu().pasid_space().allocated_count(),
        model.outstanding(),
        model.violations()
    );
    if ok && model.violations() == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
