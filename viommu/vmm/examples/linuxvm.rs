//! The mini-VMM's Linux mode: boots an unmodified Linux kernel (an ELF `vmlinux` with a
//! PVH entry) under KVM with vsva's emulated VT-d in the ACPI DMAR table.
//!
//! ```text
//! cargo run --release -p vsva-vmm --example linuxvm -- \
//!     --kernel vmlinux [--initrd initrd.gz] [--cmdline 'console=ttyS0 intel_iommu=on,sm_on'] \
//!     [--mem-mib 256] [--no-vtd] [--quiet] [--timeout-s 120]
//! ```
//!
//! The guest's console goes to standard output as it comes (not with `--quiet`); at the
//! end a summary line `linuxvm: end=... exits=...` goes to standard error. The exit
//! status is 0 when the guest powered off or reset, 1 on a VMM error, 2 without a usable
//! `/dev/kvm`.

use std::process::ExitCode;
use std::time::Duration;

use vsva_viommu::soft::SoftwareIommu;
use vsva_viommu::{HostIommu, Viommu};
use vsva_vmm::linux::{boot_linux, LinuxSpec};
use vsva_vmm::VmmError;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut kernel = None;
    let mut initrd = None;
    let mut cmdline = "console=ttyS0 intel_iommu=on,sm_on".to_string();
    let mut mem_mib = 256u64;
    let mut vtd = true;
    let mut quiet = false;
    let mut timeout = 120u64;
    while let Some(a) = args.next() {
        let mut val = || args.next().unwrap_or_default();
        match a.as_str() {
            "--kernel" => kernel = Some(val()),
            "--initrd" => initrd = Some(val()),
            "--cmdline" => cmdline = val(),
            "--mem-mib" => mem_mib = val().parse().unwrap_or(0),
            "--timeout-s" => timeout = val().parse().unwrap_or(0),
            "--no-vtd" => vtd = false,
            "--quiet" => quiet = true,
            other => {
                eprintln!("linuxvm: unknown argument {other:?}");
                return ExitCode::from(1);
            }
        }
    }
    let Some(kernel) = kernel else {
        eprintln!("linuxvm: --kernel PATH is required");
        return ExitCode::from(1);
    };
    let read = |p: &str| {
        std::fs::read(p).map_err(|e| {
            eprintln!("linuxvm: reading {p}: {e}");
            ExitCode::from(1)
        })
    };
    let kernel = match read(&kernel) {
        Ok(k) => k,
        Err(c) => return c,
    };
    let mut spec = LinuxSpec::new(kernel, cmdline);
    if let Some(p) = initrd {
        match read(&p) {
            Ok(i) => spec.initrd = Some(i),
            Err(c) => return c,
        }
    }
    spec.mem_size = mem_mib << 20;
    spec.echo = !quiet;
    spec.timeout = Duration::from_secs(timeout);
    if !vtd {
        spec.vtd = None;
    }
    let viommu = Viommu::new(SoftwareIommu::new(HostIommu::vtd_default()));
    match boot_linux(&viommu, &spec) {
        Ok(run) => {
            eprintln!(
                "linuxvm: end={:?} elapsed_ms={} exits={:?} unknown_pio={} unknown_mmio={} vtd_msis={} vtd={:?} unknown={:x?}",
                run.end,
                run.elapsed.as_millis(),
                run.exits,
                run.unknown_pio,
                run.unknown_mmio,
                run.vtd_msis,
                run.vtd,
                run.unknown_log,
            );
            ExitCode::SUCCESS
        }
        Err(e @ VmmError::Kvm { .. }) => {
            eprintln!("linuxvm: no usable /dev/kvm: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("linuxvm: {e}");
            ExitCode::from(1)
        }
    }
}
