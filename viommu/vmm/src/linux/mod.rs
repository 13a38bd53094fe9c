//! The mini-VMM's Linux mode (feature `linux`): boots an unmodified Linux kernel image
//! under KVM with vsva's emulated VT-d at the register base its ACPI DMAR table names.
//!
//! - **Kernel**: an ELF `vmlinux` with a PVH entry note (rust-vmm's linux-loader), booted
//!   through the PVH ABI (`hvm_start_info` with the memory map, the command line, the
//!   initrd as module 0 and the RSDP's address).
//! - **Interrupts**: KVM's in-kernel irqchip (8259s, IOAPIC, LAPIC) and PIT; the serial
//!   port's line is an irqfd on GSI 4; the VT-d unit's MSIs go to KVM as `KVM_SIGNAL_MSI`.
//! - **Console**: vm-superio's 16550 at `0x3f8`; what the guest writes is captured (up to
//!   [`LinuxSpec::console_limit`] bytes) and returned in [`LinuxRun::console`].
//! - **ACPI** ([`acpi`]): RSDP, XSDT, FADT, DSDT, MADT, MCFG and, with a VT-d unit, the
//!   DMAR (one DRHD at [`layout::VTD_BASE`] whose device scope is the host bridge, and an
//!   ATSR).
//! - **PCI**: a host bridge at 00:00.0 behind configuration mechanism #1 (`0xcf8`/`0xcfc`)
//!   and ECAM at [`layout::ECAM_BASE`] (bus 0).
//! - **End**: the guest's reset (the FADT reset register, the i8042's `0xfe` command, a
//!   triple fault) or power-off (`SLP_EN` in the sleep control register) ends the run.
//!
//! Guest-chosen values never panic the VMM: ports and addresses nothing emulates read as
//! all ones and ignore writes, and are counted ([`LinuxRun::unknown_pio`],
//! [`LinuxRun::unknown_mmio`]); a run is bounded by [`LinuxSpec::timeout`] and
//! [`LinuxSpec::max_exits`].

pub mod acpi;
mod pci;

use std::io::Write;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use linux_loader::configurator::pvh::PvhBootConfigurator;
use linux_loader::configurator::{BootConfigurator, BootParams};
use linux_loader::loader::elf::start_info::{
    hvm_memmap_table_entry, hvm_modlist_entry, hvm_start_info,
};
use linux_loader::loader::elf::{Elf, PvhBootCapability};
use linux_loader::loader::KernelLoader;
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};
use vm_superio::{Serial, Trigger};
use vmm_sys_util::eventfd::EventFd;

use vsva_uapi::hw::vtd::{offset, GstsFlags, Rtaddr, TTM_SCALABLE};
use vsva_viommu::{Backend, DeviceId, Viommu, VmConfig};
use vsva_vtd::{MmioHandler, Msi, MsiSink, VtdConfig, VtdEvent, VtdStats, VtdUnit};

use crate::sys::kvm::with_deadline;
use crate::sys::linux::{Access, LinuxExit, LinuxMachine, MsiInjector};
use crate::VmmError;

pub use pci::HostBridge;

/// The guest physical memory map.
pub mod layout {
    /// The PVH `hvm_start_info`.
    pub const START_INFO: u64 = 0x6000;
    /// The module list (the initrd).
    pub const MODLIST: u64 = 0x6800;
    /// The memory map.
    pub const MEMMAP: u64 = 0x7000;
    /// The kernel command line (at most [`CMDLINE_MAX`] bytes with its NUL).
    pub const CMDLINE: u64 = 0x20000;
    /// The longest command line.
    pub const CMDLINE_MAX: usize = 4096;
    /// The end of low RAM (below it: boot data; above it to 1 MiB: the ACPI tables).
    pub const LOW_RAM_END: u64 = 0xa0000;
    /// The ACPI tables (RSDP first).
    pub const ACPI_BASE: u64 = 0xe0000;
    /// Where high RAM (and the kernel) starts.
    pub const HIGH_RAM: u64 = 0x10_0000;
    /// The most RAM a guest may have (below the 32-bit device hole).
    pub const MAX_RAM: u64 = 0xc000_0000;
    /// ECAM for bus 0 (1 MiB).
    pub const ECAM_BASE: u64 = 0xe000_0000;
    /// The ECAM window's size: one bus.
    pub const ECAM_SIZE: u64 = 1 << 20;
    /// The PCI MMIO window the host bridge's `_CRS` offers.
    pub const PCI_MMIO_START: u64 = 0xe010_0000;
    /// Its end (exclusive).
    pub const PCI_MMIO_END: u64 = 0xfec0_0000;
    /// The IOAPIC (KVM's in-kernel one).
    pub const IOAPIC_BASE: u64 = 0xfec0_0000;
    /// vsva's emulated VT-d register set (where QEMU's intel-iommu sits too).
    pub const VTD_BASE: u64 = 0xfed9_0000;
    /// The LAPIC.
    pub const LAPIC_BASE: u64 = 0xfee0_0000;
    /// The 16550 serial port (COM1).
    pub const SERIAL_PORT: u16 = 0x3f8;
    /// Its interrupt line (GSI).
    pub const SERIAL_GSI: u32 = 4;
    /// The FADT's sleep control register (I/O port, 8 bits).
    pub const SLEEP_CONTROL_PORT: u16 = 0x600;
    /// The FADT's sleep status register.
    pub const SLEEP_STATUS_PORT: u16 = 0x601;
    /// The FADT's reset register.
    pub const RESET_PORT: u16 = 0x602;
    /// The value the guest writes to [`RESET_PORT`] to reset.
    pub const RESET_VALUE: u8 = 1;
    /// The i8042's command port (`0xfe`: pulse the reset line).
    pub const I8042_COMMAND_PORT: u16 = 0x64;
}

/// How to boot one Linux guest.
#[derive(Debug, Clone)]
pub struct LinuxSpec {
    /// The kernel: an ELF `vmlinux` with a PVH entry note.
    pub kernel: Vec<u8>,
    /// The initrd (module 0 of the PVH start info), if any.
    pub initrd: Option<Vec<u8>>,
    /// The kernel command line.
    pub cmdline: String,
    /// Guest RAM in bytes (a multiple of 4 KiB, 16 MiB ..= [`layout::MAX_RAM`]).
    pub mem_size: u64,
    /// vsva's emulated VT-d at [`layout::VTD_BASE`] (in the DMAR), with the host bridge
    /// attached as this device; `None`: no DMAR, no unit.
    pub vtd: Option<(DeviceId, VtdConfig)>,
    /// The guest's [`vsva_viommu::Vm`] settings.
    pub vm_config: VmConfig,
    /// The most console bytes kept (later ones are counted, not kept).
    pub console_limit: usize,
    /// Also copy the console to this process's standard error as it comes.
    pub echo: bool,
    /// The longest the run may take ([`VmmError::Timeout`]).
    pub timeout: Duration,
    /// The most vCPU exits the run may take ([`VmmError::ExitLimit`]).
    pub max_exits: u64,
}

impl LinuxSpec {
    /// A spec booting `kernel` with `cmdline`: 256 MiB, no initrd, vsva's VT-d with the
    /// host bridge as device 0, 1 MiB of console, 120 s, 50 M exits.
    pub fn new(kernel: Vec<u8>, cmdline: impl Into<String>) -> LinuxSpec {
        LinuxSpec {
            kernel,
            initrd: None,
            cmdline: cmdline.into(),
            mem_size: 256 << 20,
            vtd: Some((DeviceId(0), VtdConfig::default())),
            vm_config: VmConfig::default(),
            console_limit: 1 << 20,
            echo: false,
            timeout: Duration::from_secs(120),
            max_exits: 50_000_000,
        }
    }
}

/// How a Linux run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinuxEnd {
    /// The guest wrote `SLP_EN` with `SLP_TYP` 5 (S5) to the sleep control register.
    PowerOff,
    /// The guest reset: through the FADT reset register, the i8042, or a triple fault.
    Reset(ResetBy),
}

/// Which way the guest reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetBy {
    /// The FADT's reset register.
    Acpi,
    /// The i8042 controller's `0xfe` command.
    I8042,
    /// A triple fault (`KVM_EXIT_SHUTDOWN`) or a system event.
    TripleFault,
}

/// The exits of a run, by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinuxExits {
    /// Port I/O exits.
    pub pio: u64,
    /// MMIO exits.
    pub mmio: u64,
    /// Of which to the VT-d unit.
    pub vtd_mmio: u64,
    /// Of which to ECAM.
    pub ecam: u64,
    /// `hlt` exits.
    pub hlt: u64,
    /// `EINTR` returns of `KVM_RUN`.
    pub interrupted: u64,
}

/// The outcome of a Linux run.
#[derive(Debug, Clone)]
pub struct LinuxRun {
    /// How it ended.
    pub end: LinuxEnd,
    /// The console output (at most [`LinuxSpec::console_limit`] bytes).
    pub console: Vec<u8>,
    /// Console bytes beyond the limit (dropped).
    pub console_dropped: u64,
    /// Exits by kind.
    pub exits: LinuxExits,
    /// Accesses to ports nothing emulates (read all ones, writes ignored).
    pub unknown_pio: u64,
    /// Accesses to addresses nothing emulates (read all ones, writes ignored).
    pub unknown_mmio: u64,
    /// The first few unknown ports and addresses (port or address, is MMIO), for
    /// diagnosis.
    pub unknown_log: Vec<(u64, bool)>,
    /// The VT-d unit's counters, if it had one.
    pub vtd: Option<VtdStats>,
    /// The VT-d unit's registers at the end, as the guest would read them.
    pub vtd_registers: Option<VtdRegisters>,
    /// Every `GSTS` bit the unit showed after one of the guest's register writes (ORed):
    /// what the guest enabled at some point (Linux disables translation again when it
    /// powers off, so the registers at the end do not say). The VMM's own `GSTS` reads
    /// count in the unit's [`VtdStats::mmio_reads`].
    pub vtd_gsts_seen: u32,
    /// MSIs the VT-d unit raised (delivered or not).
    pub vtd_msis: u64,
    /// Wall time from the first `KVM_RUN` to the end.
    pub elapsed: Duration,
}

impl LinuxRun {
    /// The console as text (lossy UTF-8).
    pub fn console_text(&self) -> String {
        String::from_utf8_lossy(&self.console).into_owned()
    }
}

/// The registers of the VT-d unit that say how the guest left it (VT-d spec 10.4; the
/// offsets and fields are `vsva_uapi::hw::vtd`'s).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VtdRegisters {
    /// `CAP_REG`.
    pub cap: u64,
    /// `ECAP_REG`.
    pub ecap: u64,
    /// `GSTS_REG`.
    pub gsts: u32,
    /// `RTADDR_REG`.
    pub rtaddr: u64,
    /// `FSTS_REG`.
    pub fsts: u32,
    /// `FECTL_REG` (the fault event's interrupt mask).
    pub fectl: u32,
    /// `FEADDR_REG` (the fault event's MSI address).
    pub feaddr: u32,
    /// `IQA_REG` (the invalidation queue).
    pub iqa: u64,
    /// `PQA_REG` (the page request queue).
    pub pqa: u64,
    /// `PECTL_REG` (the page request event's interrupt mask).
    pub pectl: u32,
    /// `PEADDR_REG` (the page request event's MSI address).
    pub peaddr: u32,
}

impl VtdRegisters {
    /// Reads them from `unit` through its MMIO interface.
    pub fn read(unit: &dyn MmioHandler) -> VtdRegisters {
        let q = |off: u32| {
            let mut b = [0u8; 8];
            unit.mmio_read(u64::from(off), &mut b);
            u64::from_le_bytes(b)
        };
        let d = |off: u32| {
            let mut b = [0u8; 4];
            unit.mmio_read(u64::from(off), &mut b);
            u32::from_le_bytes(b)
        };
        VtdRegisters {
            cap: q(offset::CAP),
            ecap: q(offset::ECAP),
            gsts: d(offset::GSTS),
            rtaddr: q(offset::RTADDR),
            fsts: d(offset::FSTS),
            fectl: d(offset::FECTL),
            feaddr: d(offset::FEADDR),
            iqa: q(offset::IQA),
            pqa: q(offset::PQA),
            pectl: d(offset::PECTL),
            peaddr: d(offset::PEADDR),
        }
    }

    /// Translation enabled (`GSTS.TES`).
    pub fn translation_enabled(&self) -> bool {
        gsts_translation_enabled(self.gsts)
    }

    /// Queued invalidation enabled (`GSTS.QIES`).
    pub fn queued_invalidation_enabled(&self) -> bool {
        gsts_queued_invalidation_enabled(self.gsts)
    }

    /// The root table is a scalable-mode one (`RTADDR.TTM`).
    pub fn scalable_mode(&self) -> bool {
        Rtaddr::decode_raw(self.rtaddr).ttm == TTM_SCALABLE
    }
}

/// Whether a `GSTS` value has translation enabled (`TES`).
pub fn gsts_translation_enabled(gsts: u32) -> bool {
    GstsFlags::from_bits_retain(gsts.into()).contains(GstsFlags::TES)
}

/// Whether a `GSTS` value has queued invalidation enabled (`QIES`).
pub fn gsts_queued_invalidation_enabled(gsts: u32) -> bool {
    GstsFlags::from_bits_retain(gsts.into()).contains(GstsFlags::QIES)
}

/// How many unknown accesses [`LinuxRun::unknown_log`] keeps.
const UNKNOWN_LOG: usize = 64;

/// The console sink: a bounded buffer, optionally echoed.
#[derive(Debug, Default)]
struct Console {
    buf: Vec<u8>,
    limit: usize,
    dropped: u64,
    echo: bool,
}

impl Write for Console {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let room = self.limit.saturating_sub(self.buf.len());
        let keep = data.len().min(room);
        self.buf.extend_from_slice(&data[..keep]);
        self.dropped += (data.len() - keep) as u64;
        if self.echo {
            let _ = std::io::stderr().write_all(data);
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The serial port's interrupt: an irqfd.
struct IrqLine(EventFd);

impl Trigger for IrqLine {
    type E = std::io::Error;

    fn trigger(&self) -> std::io::Result<()> {
        self.0.write(1)
    }
}

/// The VT-d unit's MSI sink: `KVM_SIGNAL_MSI`, counted.
#[derive(Debug, Clone)]
struct KvmMsi {
    inject: MsiInjector,
    count: Arc<Mutex<u64>>,
}

impl MsiSink for KvmMsi {
    fn deliver(&self, _event: VtdEvent, msi: Msi) {
        *self.count.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        self.inject.signal(msi.address, msi.data);
    }
}

/// Loads the kernel, initrd, command line, ACPI tables and PVH start info into `mem`;
/// returns the PVH entry point.
fn load(
    spec: &LinuxSpec,
    mem: &GuestMemoryMmap,
    dmar: Option<&acpi::DmarSpec>,
) -> Result<u64, VmmError> {
    let bad = |what: &'static str| VmmError::Boot(what);
    let mut image = std::io::Cursor::new(spec.kernel.as_slice());
    let loaded = Elf::load(mem, None, &mut image, Some(GuestAddress(layout::HIGH_RAM)))
        .map_err(|_| bad("the kernel is not a loadable ELF vmlinux"))?;
    let PvhBootCapability::PvhEntryPresent(entry) = loaded.pvh_boot_cap else {
        return Err(bad("the kernel has no PVH entry note"));
    };
    let kernel_end = loaded.kernel_load.0.saturating_add(loaded.kernel_end);
    let mut cmdline = spec.cmdline.as_bytes().to_vec();
    if cmdline.len() >= layout::CMDLINE_MAX || cmdline.contains(&0) {
        return Err(bad("the command line is too long or has a NUL"));
    }
    cmdline.push(0);
    mem.write_slice(&cmdline, GuestAddress(layout::CMDLINE))
        .map_err(|_| bad("writing the command line"))?;
    let acpi = acpi::tables(layout::ACPI_BASE, dmar);
    if layout::ACPI_BASE + acpi.len() as u64 > layout::HIGH_RAM {
        return Err(bad("the ACPI tables do not fit below 1 MiB"));
    }
    mem.write_slice(&acpi, GuestAddress(layout::ACPI_BASE))
        .map_err(|_| bad("writing the ACPI tables"))?;
    let mut info = hvm_start_info {
        magic: 0x336e_c578,
        version: 1,
        cmdline_paddr: layout::CMDLINE,
        rsdp_paddr: layout::ACPI_BASE,
        memmap_paddr: layout::MEMMAP,
        ..Default::default()
    };
    let mut modules = Vec::new();
    if let Some(initrd) = &spec.initrd {
        let len = initrd.len() as u64;
        let at = spec
            .mem_size
            .checked_sub(len)
            .map(|a| a & !0xfff)
            .filter(|a| *a >= kernel_end.next_multiple_of(0x1000))
            .ok_or(bad("the initrd does not fit above the kernel"))?;
        mem.write_slice(initrd, GuestAddress(at))
            .map_err(|_| bad("writing the initrd"))?;
        modules.push(hvm_modlist_entry {
            paddr: at,
            size: len,
            ..Default::default()
        });
        info.nr_modules = 1;
        info.modlist_paddr = layout::MODLIST;
    }
    let e = |addr: u64, size: u64, type_: u32| hvm_memmap_table_entry {
        addr,
        size,
        type_,
        reserved: 0,
    };
    const RAM: u32 = 1;
    const RESERVED: u32 = 2;
    let memmap = [
        e(0, layout::LOW_RAM_END, RAM),
        e(
            layout::ACPI_BASE,
            layout::HIGH_RAM - layout::ACPI_BASE,
            RESERVED,
        ),
        e(layout::HIGH_RAM, spec.mem_size - layout::HIGH_RAM, RAM),
        e(layout::ECAM_BASE, layout::ECAM_SIZE, RESERVED),
    ];
    info.memmap_entries = memmap.len() as u32;
    let mut params = BootParams::new(&info, GuestAddress(layout::START_INFO));
    params.set_sections(&memmap, GuestAddress(layout::MEMMAP));
    if !modules.is_empty() {
        params.set_modules(&modules, GuestAddress(layout::MODLIST));
    }
    PvhBootConfigurator::write_bootparams(&params, mem)
        .map_err(|_| bad("writing the PVH start info"))?;
    Ok(entry.0)
}

/// Boots `spec`'s kernel in a new KVM VM whose emulated VT-d (if any) belongs to a new
/// [`vsva_viommu::Vm`] of `viommu`, and runs it until it powers off or resets.
///
/// # Errors
/// [`VmmError::Kvm`] (no usable `/dev/kvm`, or it refused the machine), [`VmmError::Boot`]
/// (the kernel, initrd or command line cannot be loaded), [`VmmError::Vtd`] /
/// [`VmmError::Attach`], [`VmmError::UnexpectedExit`] (an internal error or failed
/// entry), [`VmmError::Timeout`], [`VmmError::ExitLimit`].
pub fn boot_linux<B: Backend>(viommu: &Viommu<B>, spec: &LinuxSpec) -> Result<LinuxRun, VmmError> {
    if !spec.mem_size.is_multiple_of(0x1000)
        || spec.mem_size < (16 << 20)
        || spec.mem_size > layout::MAX_RAM
    {
        return Err(VmmError::Boot(
            "RAM must be 16 MiB ..= 3 GiB in 4 KiB pages",
        ));
    }
    let mut machine = LinuxMachine::new(spec.mem_size as usize)?;
    let mem = machine.memory();
    let dmar = spec.vtd.as_ref().map(|_| acpi::DmarSpec {
        base: layout::VTD_BASE,
        size: vsva_vtd::MMIO_SIZE,
        host_address_width: 48,
        endpoints: vec![(0, 0, 0)],
    });
    let entry = load(spec, &mem, dmar.as_ref())?;
    machine.set_pvh_entry(entry, layout::START_INFO)?;

    let msi_count = Arc::new(Mutex::new(0u64));
    let unit = match &spec.vtd {
        None => None,
        Some((device, config)) => {
            let vm = Arc::new(viommu.create_vm(spec.vm_config));
            let sink = KvmMsi {
                inject: machine.msi_injector(),
                count: msi_count.clone(),
            };
            let unit = VtdUnit::new(vm, mem.clone(), sink, *config).map_err(VmmError::Vtd)?;
            unit.attach_device(pci::HOST_BRIDGE_RID, *device)
                .map_err(VmmError::Vtd)?;
            Some(unit)
        }
    };

    let irq = EventFd::new(libc::EFD_NONBLOCK).map_err(|e| VmmError::Kvm {
        what: "eventfd",
        errno: vsva_uapi::Errno(e.raw_os_error().unwrap_or(libc::EIO)),
    })?;
    machine.register_irqfd(&irq, layout::SERIAL_GSI)?;
    let console = Console {
        limit: spec.console_limit,
        echo: spec.echo,
        ..Console::default()
    };
    let mut serial = Serial::new(IrqLine(irq), console);
    let mut bridge = HostBridge::new();
    let mut exits = LinuxExits::default();
    let mut unknown_pio = 0u64;
    let mut unknown_mmio = 0u64;
    let mut unknown_log = Vec::new();
    let mut end: Option<LinuxEnd> = None;
    let mut gsts_seen = 0u32;
    let expired = AtomicBool::new(false);
    let start = Instant::now();

    let result: Result<LinuxEnd, VmmError> = with_deadline(spec.timeout, &expired, || {
        let mut total = 0u64;
        loop {
            if expired.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(VmmError::Timeout(spec.timeout));
            }
            total += 1;
            if total > spec.max_exits {
                return Err(VmmError::ExitLimit(spec.max_exits));
            }
            let mut unknown = |addr: u64, mmio: bool| {
                if mmio {
                    unknown_mmio += 1;
                } else {
                    unknown_pio += 1;
                }
                if unknown_log.len() < UNKNOWN_LOG && !unknown_log.contains(&(addr, mmio)) {
                    unknown_log.push((addr, mmio));
                }
            };
            let exit = machine.run(&mut |access| match access {
                Access::PioRead(port, data) => {
                    exits.pio += 1;
                    data.fill(0xff);
                    if (layout::SERIAL_PORT..layout::SERIAL_PORT + 8).contains(&port) {
                        if let Some(b) = data.first_mut() {
                            *b = serial.read((port - layout::SERIAL_PORT) as u8);
                        }
                    } else if bridge.pio_read(port, data) {
                    } else if port == layout::SLEEP_STATUS_PORT {
                        data.fill(0);
                    } else {
                        unknown(u64::from(port), false);
                    }
                }
                Access::PioWrite(port, data) => {
                    exits.pio += 1;
                    let first = data.first().copied().unwrap_or(0);
                    if (layout::SERIAL_PORT..layout::SERIAL_PORT + 8).contains(&port) {
                        let _ = serial.write((port - layout::SERIAL_PORT) as u8, first);
                    } else if bridge.pio_write(port, data) {
                    } else if port == layout::RESET_PORT && first == layout::RESET_VALUE {
                        end = Some(LinuxEnd::Reset(ResetBy::Acpi));
                    } else if port == layout::I8042_COMMAND_PORT && first == 0xfe {
                        end = Some(LinuxEnd::Reset(ResetBy::I8042));
                    } else if port == layout::SLEEP_STATUS_PORT {
                        // Write-one-to-clear status bits: nothing is ever pending.
                    } else if port == layout::SLEEP_CONTROL_PORT {
                        // SLP_EN (bit 5) with SLP_TYP (bits 4:2) = 5, the `_S5` value.
                        if first & 0x20 != 0 && (first >> 2) & 7 == 5 {
                            end = Some(LinuxEnd::PowerOff);
                        }
                    } else {
                        unknown(u64::from(port), false);
                    }
                }
                Access::MmioRead(addr, data) => {
                    exits.mmio += 1;
                    if let (Some(u), Some(off)) = (&unit, vtd_offset(addr, data.len())) {
                        exits.vtd_mmio += 1;
                        u.mmio_read(off, data);
                    } else if let Some(off) = ecam_offset(addr) {
                        exits.ecam += 1;
                        bridge.ecam_read(off, data);
                    } else {
                        data.fill(0xff);
                        unknown(addr, true);
                    }
                }
                Access::MmioWrite(addr, data) => {
                    exits.mmio += 1;
                    if let (Some(u), Some(off)) = (&unit, vtd_offset(addr, data.len())) {
                        exits.vtd_mmio += 1;
                        u.mmio_write(off, data);
                        let mut g = [0u8; 4];
                        u.mmio_read(u64::from(offset::GSTS), &mut g);
                        gsts_seen |= u32::from_le_bytes(g);
                    } else if let Some(off) = ecam_offset(addr) {
                        exits.ecam += 1;
                        bridge.ecam_write(off, data);
                    } else {
                        unknown(addr, true);
                    }
                }
            })?;
            match exit {
                LinuxExit::Io | LinuxExit::Mmio => {}
                LinuxExit::Hlt => exits.hlt += 1,
                LinuxExit::Interrupted => exits.interrupted += 1,
                LinuxExit::Shutdown | LinuxExit::SystemEvent => {
                    return Ok(LinuxEnd::Reset(ResetBy::TripleFault))
                }
                LinuxExit::InternalError => {
                    return Err(VmmError::UnexpectedExit(
                        crate::UnexpectedExit::InternalError,
                    ))
                }
                LinuxExit::FailEntry(r) => {
                    return Err(VmmError::UnexpectedExit(crate::UnexpectedExit::FailEntry(
                        r,
                    )))
                }
                LinuxExit::Other(what) => {
                    return Err(VmmError::UnexpectedExit(crate::UnexpectedExit::Other(what)))
                }
            }
            if let Some(e) = end {
                return Ok(e);
            }
        }
    });
    let end = result?;
    let elapsed = start.elapsed();
    let console = serial.writer_mut();
    let vtd_msis = *msi_count.lock().unwrap_or_else(PoisonError::into_inner);
    Ok(LinuxRun {
        end,
        console: std::mem::take(&mut console.buf),
        console_dropped: console.dropped,
        exits,
        unknown_pio,
        unknown_mmio,
        unknown_log,
        vtd: unit.as_ref().map(VtdUnit::stats),
        vtd_registers: unit.as_ref().map(|u| VtdRegisters::read(u)),
        vtd_gsts_seen: gsts_seen,
        vtd_msis,
        elapsed,
    })
}

/// The offset in the VT-d register window of an access of `len` bytes at `addr`, if it
/// lies entirely inside.
fn vtd_offset(addr: u64, len: usize) -> Option<u64> {
    let off = addr.checked_sub(layout::VTD_BASE)?;
    (off.checked_add(len as u64)? <= vsva_vtd::MMIO_SIZE).then_some(off)
}

/// The offset in the ECAM window of an access at `addr`.
fn ecam_offset(addr: u64) -> Option<u64> {
    let off = addr.checked_sub(layout::ECAM_BASE)?;
    (off < layout::ECAM_SIZE).then_some(off)
}
