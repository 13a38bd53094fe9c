//! The mini-VMM boots an unmodified Linux kernel (`vsva_vmm::linux`) with vsva's VT-d in
//! its ACPI DMAR table, and Linux's intel-iommu driver enables that unit in scalable mode.
//!
//! Needs a /dev/kvm that boots Linux (kvm_amd or kvm_intel; the CI machines' paravirtual
//! KVM cannot) and the guest: `VSVA_L2_KERNEL` (an ELF vmlinux with a PVH entry, e.g. the
//! kernel tier's) and `VSVA_L2_INITRD` (an initramfs whose `/init` prints
//! `VSVA-L2-INIT`, then the DMAR lines of `dmesg`, `VSVA-L2-ECAP <sysfs ecap>` and
//! powers off: the kernel tier's `linuxvm` payload packs both and runs this test in its
//! nested boot's L1). Without them each test prints a loud SKIP and passes.

use std::io::Write;

use vsva_viommu::soft::SoftwareIommu;
use vsva_viommu::{HostIommu, Viommu};
use vsva_vmm::linux::{
    boot_linux, gsts_translation_enabled, layout, LinuxEnd, LinuxRun, LinuxSpec,
};

/// The guest, or why this machine cannot boot it.
fn guest(test: &str) -> Option<(Vec<u8>, Vec<u8>)> {
    // Past the test harness's capture, so it shows in every run.
    let skip = |why: String| {
        let line = format!("\nSKIP: {test}: {why}\n");
        let _ = std::io::stderr().write_all(line.as_bytes());
        None
    };
    if !std::path::Path::new("/sys/module/kvm_amd").exists()
        && !std::path::Path::new("/sys/module/kvm_intel").exists()
    {
        return skip("no kvm_amd or kvm_intel: this /dev/kvm cannot boot Linux (run in the kernel tier's nested boot)".into());
    }
    let (Ok(k), Ok(i)) = (
        std::env::var("VSVA_L2_KERNEL"),
        std::env::var("VSVA_L2_INITRD"),
    ) else {
        return skip("VSVA_L2_KERNEL and VSVA_L2_INITRD are not set".into());
    };
    match (std::fs::read(&k), std::fs::read(&i)) {
        (Ok(k), Ok(i)) => Some((k, i)),
        _ => skip(format!("cannot read {k} or {i}")),
    }
}

fn boot(kernel: Vec<u8>, initrd: Vec<u8>, cmdline: &str, vtd: bool) -> LinuxRun {
    let mut spec = LinuxSpec::new(kernel, cmdline);
    spec.initrd = Some(initrd);
    if !vtd {
        spec.vtd = None;
    }
    let viommu = Viommu::new(SoftwareIommu::new(HostIommu::vtd_default()));
    let run = boot_linux(&viommu, &spec).expect("the guest boots and ends");
    // Past the capture too: the tier's log keeps the boot times (the guest's uptime at
    // init, which its init prints, and the VMM's run from first KVM_RUN to power-off).
    let text = run.console_text();
    let uptime = text
        .lines()
        .find_map(|l| l.strip_prefix("VSVA-L2-INIT uptime "))
        .unwrap_or("?");
    let line = format!(
        "\nlinux_boot: {cmdline:?}: init at uptime {uptime} s; end {:?} in {} ms, exits {:?}, unknown pio {} mmio {} {:x?}, vtd {:?} {:x?}\n",
        run.end,
        run.elapsed.as_millis(),
        run.exits,
        run.unknown_pio,
        run.unknown_mmio,
        run.unknown_log,
        run.vtd,
        run.vtd_registers
    );
    let _ = std::io::stderr().write_all(line.as_bytes());
    run
}

fn show(run: &LinuxRun) -> String {
    let text = run.console_text();
    eprintln!("---- L2 console ----\n{text}\n---- end ----");
    text
}

#[test]
fn unmodified_linux_finds_vsvas_dmar_and_enables_it_in_scalable_mode() {
    let Some((kernel, initrd)) =
        guest("unmodified_linux_finds_vsvas_dmar_and_enables_it_in_scalable_mode")
    else {
        return;
    };
    let run = boot(kernel, initrd, "console=ttyS0 intel_iommu=on,sm_on", true);
    let text = show(&run);
    assert_eq!(run.end, LinuxEnd::PowerOff, "the guest's init powers off");
    assert!(text.contains("VSVA-L2-INIT"), "the guest reached init");
    let regs = run.vtd_registers.expect("a VT-d unit");
    // The DMAR table was found through ACPI: the host address width and the DRHD at
    // vsva's register base, and the unit's CAP/ECAP as vsva's registers hold them.
    assert!(text.contains("DMAR: Host address width 48"));
    assert!(text.contains(&format!(
        "DMAR: DRHD base: {:#016x} flags: 0x0",
        layout::VTD_BASE
    )));
    assert!(text.contains("DMAR: ATSR flags: 0x1"));
    let unit_line = format!(
        "DMAR: dmar0: reg_base_addr {:x} ver 1:0 cap {:x} ecap {:x}",
        layout::VTD_BASE,
        regs.cap,
        regs.ecap
    );
    assert!(text.contains(&unit_line), "expected {unit_line:?}");
    // The guest's sysfs shows the same ECAP.
    assert!(
        text.contains(&format!("VSVA-L2-ECAP {:x}", regs.ecap)),
        "sysfs ecap is vsva's {:x}",
        regs.ecap
    );
    // intel-iommu enabled the unit: queued invalidation, a scalable-mode root table,
    // translation on, and the driver's banner.
    assert!(text.contains("DMAR: dmar0: Using Queued invalidation"));
    assert!(text.contains("DMAR: Intel(R) Virtualization Technology for Directed I/O"));
    // Translation was on while the guest ran (6.12's shutdown turns it off again);
    // queued invalidation and the scalable-mode root table stay.
    assert!(
        gsts_translation_enabled(run.vtd_gsts_seen),
        "GSTS seen {:#x}",
        run.vtd_gsts_seen
    );
    assert!(regs.queued_invalidation_enabled(), "GSTS {:#x}", regs.gsts);
    assert!(regs.scalable_mode(), "RTADDR {:#x}", regs.rtaddr);
    // The invalidation queue, the page request queue (the unit offers PRS) and both event
    // interrupts are programmed: Linux's boot reads and writes them all.
    assert_ne!(regs.iqa, 0, "IQA");
    assert_ne!(regs.pqa, 0, "PQA: Linux set up the page request queue");
    assert_eq!(
        regs.feaddr & 0xfff0_0000,
        0xfee0_0000,
        "FEADDR {:#x}",
        regs.feaddr
    );
    assert_eq!(
        regs.peaddr & 0xfff0_0000,
        0xfee0_0000,
        "PEADDR {:#x}",
        regs.peaddr
    );
    assert_eq!(
        regs.fectl & (1 << 31),
        0,
        "fault interrupt unmasked: FECTL {:#x}",
        regs.fectl
    );
    let stats = run.vtd.expect("the unit's counters");
    assert!(stats.queue_runs > 0 && stats.waits > 0, "{stats:?}");
    // No DMAR faults: none recorded by the unit, none reported by the guest.
    assert_eq!(stats.faults_recorded, 0, "{stats:?}");
    assert_eq!(regs.fsts & 0x7f, 0, "FSTS {:#x}", regs.fsts);
    assert!(!text.contains("DMAR: DRHD: handling fault"));
    assert!(!text.contains("DMAR: [DMA"));
    assert!(!text.contains("DMAR: [INTR"));
}

#[test]
fn with_intel_iommu_off_the_unit_stays_disabled() {
    let Some((kernel, initrd)) = guest("with_intel_iommu_off_the_unit_stays_disabled") else {
        return;
    };
    let run = boot(kernel, initrd, "console=ttyS0 intel_iommu=off", true);
    let text = show(&run);
    assert_eq!(run.end, LinuxEnd::PowerOff);
    assert!(text.contains("VSVA-L2-INIT"));
    // The driver leaves the unit alone.
    assert!(text.contains("DMAR: IOMMU disabled"));
    assert!(!text.contains("DMAR: dmar0: Using Queued invalidation"));
    let regs = run.vtd_registers.expect("a VT-d unit");
    assert_eq!(run.vtd_gsts_seen, 0, "the guest enabled nothing");
    assert_eq!((regs.iqa, regs.pqa), (0, 0), "no queue set up");
    assert_ne!(
        regs.fectl & (1 << 31),
        0,
        "the fault interrupt stays masked"
    );
    assert!(!regs.translation_enabled(), "GSTS {:#x}", regs.gsts);
    assert!(!regs.scalable_mode());
}
