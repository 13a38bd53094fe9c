//! vsva-vmm: a mini-VMM on `kvm-ioctls` whose guests drive the vIOMMU (`vsva-viommu`):
//! vsva embedded in a VMM, with real KVM guests as the untrusted users and their RAM as
//! the user memory.
//!
//! The path of a guest request through the tree: a guest (`viommu/vmm/guests/`) rings
//! the doorbell of [`PvIommu`] (this crate), which hands the bytes to
//! `vsva_vfio::nesting::dispatch` (`vfio/`), which calls the guest's
//! [`vsva_viommu::Vm`] (`viommu/`), which decodes them with `vsva-uapi` (`uapi/`) and
//! drives a [`vsva_viommu::Backend`].
//!
//! One [`Vmm`] (one process, one shared [`Viommu`]) runs any number of [`Guest`]s. Each
//! guest is a KVM VM with its own 1 MiB of RAM at GPA 0 and one vCPU in real mode
//! (code loaded at [`LOAD_GPA`], `CS = 0`, `IP = 0x1000`), its own [`Vm`] and one
//! attached device. [`Vmm::run_all`] runs each guest's vCPU on its own thread; all of
//! them call into the same `Viommu`.
//!
//! # The paravirtual vIOMMU device
//!
//! - **Doorbell**: a 32-bit `out dx, eax` to I/O port [`DOORBELL_PORT`] (`0x0510`);
//!   `eax` is the GPA of a 16-byte command block
//!   `{ u32 op; u32 arg0; u32 arg_gpa; i32 result; }` (little-endian). The VMM handles
//!   it during the exit and writes `result` (≥ 0 success value, or −errno) into the
//!   block before resuming the vCPU. A doorbell that is not a 4-byte `out`, or whose
//!   block is not entirely inside RAM, is ignored (counted in
//!   [`VmmStats::bad_doorbells`]; nothing is written).
//! - **Ops** ([`Op`]):
//!
//!   | op | name | arguments | result |
//!   |---|---|---|---|
//!   | 0 | `NOP` | – | 0 |
//!   | 1 | `IOCTL` | `arg0` = VFIO request (`VFIO_IOMMU_PASID_REQUEST` 0x3b76, `VFIO_IOMMU_NESTING_OP` 0x3b77), `arg_gpa` = its user struct | the ioctl's return (the PASID of an alloc) or −errno |
//!   | 2 | `READ_FAULTS` | `arg0` = buffer length, `arg_gpa` = buffer | bytes of whole 64-byte `iommu_fault` records written ([`Vm::read_faults`]); −`EFAULT` if the buffer is not in RAM |
//!   | 3 | `PAGE_RESPONSE` | `arg0` = device id, `arg_gpa` = `iommu_page_response` | 0 or −errno ([`Vm::page_response`]) |
//!   | 4 | `FAULT_STATUS` | – | unread page requests queued for the VM |
//!   | 5 | `READY` | – | 0, after running the guest's [`ReadyHook`] (e.g. [`inject_on_ready`]) |
//!   | other | | | −`EINVAL` |
//!
//!   For `IOCTL` and `PAGE_RESPONSE` the user memory is the guest RAM from `arg_gpa` to
//!   the end of RAM: `vsva_vfio::nesting::dispatch(arg0, &ram[arg_gpa..], &vm)`. A struct
//!   whose `argsz` runs past RAM is `EFAULT`, as a kernel copy from user memory that
//!   faults; an `arg_gpa` outside RAM is `EFAULT` too.
//! - **Boot info**: before the vCPU first runs, the VMM writes `{ u32 device_id;
//!   u32 seed; }` at [`BOOT_INFO_GPA`] (`0x04F0`), then the preloads of the
//!   [`GuestSpec`].
//! - **End**: `hlt` ends the run. Before it, a guest writes a report at [`REPORT_GPA`]
//!   (`0x0500`): `{ u32 magic = 0x56535641 ("VSVA"); u32 requests_sent;
//!   u32 unexpected_results; u32 reserved }`, returned as [`RunReport::guest`]. Any other
//!   exit (MMIO, other ports, `in`, shutdown, internal error) ends the run with
//!   [`VmmError::UnexpectedExit`]; a run is bounded by [`Limits::max_exits`] and
//!   [`Limits::timeout`] (a guest looping without exits is kicked out of `KVM_RUN` by a
//!   signal). The VMM never panics on guest input.
//!
//! # Guest memory and threads
//!
//! The VMM reads and writes guest RAM only during an exit, on the vCPU's own thread,
//! while the (single) vCPU is stopped: the exit is handled synchronously before the next
//! `KVM_RUN`. The RAM is a safe `&mut [u8]` view borrowed for that handling only; the
//! raw-memory code that creates it (the mapping, `KVM_SET_USER_MEMORY_REGION`, the slice) is in
//! the crate's `sys` module, and `KVM_RUN` takes the machine by `&mut`, so no view can
//! outlive the exit. Between runs ([`Guest::ram`]) the vCPU is stopped as well.
//!
//! ```no_run
//! use vsva_viommu::soft::SoftwareIommu;
//! use vsva_vmm::{GuestSpec, Vmm};
//! use vsva_viommu::{DeviceId, HostIommu, Viommu};
//!
//! let model = SoftwareIommu::new(HostIommu::vtd_default());
//! let vmm = Vmm::new(Viommu::new(model.clone()));
//! // mov dx, 0x510; mov eax, 0x2000; out dx, eax; hlt — one NOP (the block at 0x2000 is zero).
//! let code = [0xba, 0x10, 0x05, 0x66, 0xb8, 0x00, 0x20, 0x00, 0x00, 0x66, 0xef, 0xf4];
//! let mut guests = vec![
//!     vmm.create_guest(GuestSpec::new("a", code.to_vec(), DeviceId(0x100)))?,
//!     vmm.create_guest(GuestSpec::new("b", code.to_vec(), DeviceId(0x200)))?,
//! ];
//! for report in vmm.run_all(&mut guests) {
//!     assert_eq!(report?.stats.ops.nop, 1);
//! }
//! # Ok::<(), vsva_vmm::VmmError>(())
//! ```

#![deny(unsafe_code)]

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use vsva_uapi::consts::FaultPerm;
use vsva_uapi::Errno;

use vsva_viommu::soft::SoftwareIommu;
use vsva_viommu::{
    Backend, DeviceId, GuestPasid, HostPasid, PageRequest, Viommu, ViommuError, Vm, VmConfig, VmId,
};

use crate::sys::kvm::{self as kvm, Exit, Machine, MmioData};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};
use vsva_vtd::{MmioHandler, Msi, MsiSink, VtdConfig, VtdEvent, VtdStats, VtdUnit};

mod device;
#[cfg(feature = "linux")]
pub mod linux;
// The only module with `allow(unsafe_code)`: guest RAM, KVM_SET_USER_MEMORY_REGION,
// the vCPU's kick signal.
#[allow(unsafe_code)]
mod sys;

pub use device::{
    CommandBlock, Doorbell, Op, OpCounts, PvIommu, ReadyContext, ReadyHook, VmmStats,
    COMMAND_BLOCK_SIZE, DOORBELL_PORT, RESULT_OFFSET,
};

/// Guest RAM per VM: 1 MiB at GPA 0.
pub const RAM_SIZE: usize = 1 << 20;

/// Where the guest image is loaded and the vCPU starts (`CS = 0`, `IP = 0x1000`).
pub const LOAD_GPA: u64 = 0x1000;

/// Where the VMM writes the boot info before the vCPU first runs:
/// `{ u32 device_id; u32 seed; }` (the guest's device, for `PAGE_RESPONSE`'s `arg0`, and
/// [`GuestSpec::seed`], e.g. for a guest-side pseudo-random generator).
pub const BOOT_INFO_GPA: usize = 0x04f0;

/// Where the guest writes its [`GuestReport`] before `hlt`.
pub const REPORT_GPA: usize = 0x0500;

/// The report's magic: `"VSVA"` as a little-endian `u32`.
pub const REPORT_MAGIC: u32 = 0x5653_5641;

/// Where an emulated VT-d's register window starts (just above RAM, reachable from real
/// mode as `0xFFFF:0x0010`); it is [`vsva_vtd::MMIO_SIZE`] bytes long.
pub const VTD_MMIO_GPA: u64 = RAM_SIZE as u64;

/// The emulated VT-d unit of a guest (see [`GuestSpec::vtd`]): the guest RAM as
/// vm-memory's guest memory, its MSIs delivered by [`RamMsi`].
pub type GuestVtd<B> = VtdUnit<B, GuestMemoryMmap, RamMsi>;

/// The MSI sink of the mini-VMM's VT-d units. The tiny real-mode guests have no interrupt
/// controller, so an MSI is delivered as the memory write it is on the bus: its 32-bit
/// data stored at its address when that lies in RAM (a guest programs a RAM address in
/// `xEADDR` and polls it); an address outside RAM (e.g. the LAPIC's `0xFEE0_0000`) drops
/// the write. Every MSI is also logged for the VMM ([`Guest::vtd_msis`]).
#[derive(Debug, Clone)]
pub struct RamMsi {
    mem: GuestMemoryMmap,
    log: Arc<std::sync::Mutex<Vec<(VtdEvent, Msi)>>>,
}

/// How many MSIs [`RamMsi`] logs (the first ones; later ones are still delivered).
pub const MSI_LOG_CAPACITY: usize = 4096;

impl MsiSink for RamMsi {
    fn deliver(&self, event: VtdEvent, msi: Msi) {
        let mut log = self
            .log
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if log.len() < MSI_LOG_CAPACITY {
            log.push((event, msi));
        }
        drop(log);
        if msi
            .address
            .checked_add(4)
            .is_some_and(|e| e <= RAM_SIZE as u64)
        {
            // In RAM by the check above; a failure would only drop the write.
            let _ = self.mem.write_obj(msi.data, GuestAddress(msi.address));
        }
    }
}

/// Bounds of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most vCPU exits a run may take ([`VmmError::ExitLimit`] beyond).
    pub max_exits: u64,
    /// The longest a run may take ([`VmmError::Timeout`] beyond).
    pub timeout: Duration,
    /// How many doorbells [`VmmStats::log`] keeps (the first ones).
    pub log_capacity: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_exits: 1_000_000,
            timeout: Duration::from_secs(30),
            log_capacity: 4096,
        }
    }
}

/// The general registers a guest starts with (`rip` is [`LOAD_GPA`], `rflags` 2; all
/// zero by default). Lets one image take parameters, e.g. a loop count in `rcx`.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StartRegs {
    pub rax: u64,
    pub rbx: u64,
    pub rcx: u64,
    pub rdx: u64,
    pub rsi: u64,
    pub rdi: u64,
    pub rsp: u64,
}

/// How to build one guest.
pub struct GuestSpec<B: Backend> {
    /// A name for reports and the vCPU thread.
    pub name: String,
    /// The flat binary loaded at [`LOAD_GPA`] (at most `RAM_SIZE - LOAD_GPA` bytes).
    pub image: Vec<u8>,
    /// The device attached to the guest's [`Vm`].
    pub device: DeviceId,
    /// The guest's [`Vm`] settings.
    pub config: VmConfig,
    /// Run on every `READY` doorbell.
    pub ready: Option<ReadyHook<B>>,
    /// The starting registers.
    pub regs: StartRegs,
    /// Data copied into RAM before the start: (GPA, bytes). Entries outside RAM are
    /// refused ([`VmmError::ImageTooLarge`]).
    pub preload: Vec<(usize, Vec<u8>)>,
    /// The seed written to the boot info (0: the guest's built-in one).
    pub seed: u32,
    /// An emulated VT-d at [`VTD_MMIO_GPA`] with [`GuestSpec::device`] attached under
    /// this requester id (bus:devfn), or none (the device is attached to the [`Vm`]
    /// directly, for the paravirtual port only).
    pub vtd: Option<(u16, VtdConfig)>,
}

impl<B: Backend> std::fmt::Debug for GuestSpec<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuestSpec")
            .field("name", &self.name)
            .field("image_len", &self.image.len())
            .field("device", &self.device)
            .field("config", &self.config)
            .field("regs", &self.regs)
            .finish_non_exhaustive()
    }
}

impl<B: Backend> GuestSpec<B> {
    /// A guest running `image` with `device` attached, default [`VmConfig`], no hook.
    pub fn new(name: impl Into<String>, image: impl Into<Vec<u8>>, device: DeviceId) -> Self {
        GuestSpec {
            name: name.into(),
            image: image.into(),
            device,
            config: VmConfig::default(),
            ready: None,
            regs: StartRegs::default(),
            preload: Vec::new(),
            seed: 0,
            vtd: None,
        }
    }

    /// Gives the guest an emulated VT-d unit (default [`VtdConfig`]) at [`VTD_MMIO_GPA`],
    /// the device attached under requester id `rid`.
    #[must_use]
    pub fn vtd(mut self, rid: u16) -> Self {
        self.vtd = Some((rid, VtdConfig::default()));
        self
    }

    /// Sets the seed written to the boot info.
    #[must_use]
    pub fn seed(mut self, seed: u32) -> Self {
        self.seed = seed;
        self
    }

    /// Sets the [`VmConfig`].
    #[must_use]
    pub fn config(mut self, config: VmConfig) -> Self {
        self.config = config;
        self
    }

    /// Sets the ready hook.
    #[must_use]
    pub fn on_ready(mut self, hook: ReadyHook<B>) -> Self {
        self.ready = Some(hook);
        self
    }

    /// Sets the starting registers.
    #[must_use]
    pub fn regs(mut self, regs: StartRegs) -> Self {
        self.regs = regs;
        self
    }

    /// Copies `bytes` to `gpa` before the start.
    #[must_use]
    pub fn preload(mut self, gpa: usize, bytes: impl Into<Vec<u8>>) -> Self {
        self.preload.push((gpa, bytes.into()));
        self
    }
}

/// The guest's own report, read from [`REPORT_GPA`] at `hlt`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GuestReport {
    /// Requests the guest says it sent.
    pub requests_sent: u32,
    /// Results the guest did not expect.
    pub unexpected_results: u32,
    /// The fourth word (guest-defined).
    pub reserved: u32,
}

impl GuestReport {
    /// The report at [`REPORT_GPA`] in `ram`, if its magic is there.
    pub fn read(ram: &[u8]) -> Option<GuestReport> {
        let b = ram.get(REPORT_GPA..REPORT_GPA + 16)?;
        let w = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        (w(0) == REPORT_MAGIC).then(|| GuestReport {
            requests_sent: w(4),
            unexpected_results: w(8),
            reserved: w(12),
        })
    }
}

/// The outcome of a run that ended with `hlt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunReport {
    /// The guest's name.
    pub name: String,
    /// Its VM.
    pub vm: VmId,
    /// Its device.
    pub device: DeviceId,
    /// The guest's report at [`REPORT_GPA`]; `None` if it wrote none (no magic).
    pub guest: Option<GuestReport>,
    /// The VMM's counters for the guest (cumulative over its runs).
    pub stats: VmmStats,
    /// Wall-clock time of the vCPU loop (first `KVM_RUN` to `hlt`).
    pub elapsed: Duration,
}

/// An exit the mini-VMM does not emulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnexpectedExit {
    /// `out` to a port other than the doorbell.
    IoOut {
        /// The port.
        port: u16,
        /// Bytes written.
        size: usize,
    },
    /// Any `in`.
    IoIn {
        /// The port.
        port: u16,
        /// Bytes read.
        size: usize,
    },
    /// An MMIO read (an address outside RAM).
    MmioRead {
        /// The address.
        addr: u64,
        /// Bytes read.
        len: usize,
    },
    /// An MMIO write.
    MmioWrite {
        /// The address.
        addr: u64,
        /// Bytes written.
        len: usize,
    },
    /// Shutdown (triple fault).
    Shutdown,
    /// `KVM_EXIT_INTERNAL_ERROR` (e.g. an instruction KVM cannot emulate).
    InternalError,
    /// `KVM_EXIT_FAIL_ENTRY`, with the hardware reason.
    FailEntry(u64),
    /// Another exit reason.
    Other(&'static str),
}

/// Why a guest could not be built or its run did not end with `hlt`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VmmError {
    /// A KVM call (or the guest RAM's `mmap`) failed.
    #[error("{what} failed: {errno}")]
    Kvm {
        /// The call.
        what: &'static str,
        /// Its errno.
        errno: Errno,
    },
    /// The image (or a preload) does not fit in RAM.
    #[error("the guest image does not fit: {len} bytes at {gpa:#x}, RAM is {RAM_SIZE:#x}")]
    ImageTooLarge {
        /// Where it was to go.
        gpa: usize,
        /// Its length.
        len: usize,
    },
    /// The device could not be attached (another VM holds it).
    #[error("attaching the device: {0}")]
    Attach(ViommuError),
    /// The guest exited in a way the VMM does not emulate.
    #[error("unexpected exit: {0:?}")]
    UnexpectedExit(UnexpectedExit),
    /// The run took more than [`Limits::max_exits`] exits.
    #[error("the guest took more than {0} exits")]
    ExitLimit(u64),
    /// The run took longer than [`Limits::timeout`].
    #[error("the guest ran longer than {0:?}")]
    Timeout(Duration),
    /// The emulated VT-d could not be built or the device not attached to it.
    #[error("the emulated VT-d: {0}")]
    Vtd(vsva_vtd::VtdError),
    /// The vCPU thread panicked (a bug in the VMM, never the guest's doing).
    #[error("the vCPU thread panicked")]
    VcpuPanicked,
    /// A Linux guest could not be loaded (feature `linux`): what was wrong.
    #[error("booting Linux: {0}")]
    Boot(&'static str),
}

impl From<kvm::KvmFailure> for VmmError {
    fn from(f: kvm::KvmFailure) -> VmmError {
        VmmError::Kvm {
            what: f.what,
            errno: Errno(f.errno),
        }
    }
}

/// The VMM: one shared [`Viommu`] and the [`Limits`] of every run.
pub struct Vmm<B: Backend> {
    viommu: Viommu<B>,
    limits: Limits,
}

impl<B: Backend> std::fmt::Debug for Vmm<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vmm")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl<B: Backend> Vmm<B> {
    /// A VMM whose guests share `viommu`, with default [`Limits`].
    pub fn new(viommu: Viommu<B>) -> Vmm<B> {
        Vmm::with_limits(viommu, Limits::default())
    }

    /// A VMM whose guests share `viommu`, with `limits`.
    pub fn with_limits(viommu: Viommu<B>, limits: Limits) -> Vmm<B> {
        Vmm { viommu, limits }
    }

    /// The shared vIOMMU.
    pub fn viommu(&self) -> &Viommu<B> {
        &self.viommu
    }

    /// The limits of every run.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Builds a guest: a [`Vm`] from the shared vIOMMU with `spec.device` attached, and a
    /// KVM VM with fresh RAM holding the image (and preloads), its vCPU ready to start.
    ///
    /// # Errors
    /// [`VmmError::Kvm`] (no usable `/dev/kvm`), [`VmmError::ImageTooLarge`],
    /// [`VmmError::Attach`].
    pub fn create_guest(&self, spec: GuestSpec<B>) -> Result<Guest<B>, VmmError> {
        let fits = |gpa: usize, len: usize| gpa.checked_add(len).is_some_and(|e| e <= RAM_SIZE);
        let load = LOAD_GPA as usize;
        if !fits(load, spec.image.len()) {
            return Err(VmmError::ImageTooLarge {
                gpa: load,
                len: spec.image.len(),
            });
        }
        if let Some((gpa, bytes)) = spec.preload.iter().find(|(g, b)| !fits(*g, b.len())) {
            return Err(VmmError::ImageTooLarge {
                gpa: *gpa,
                len: bytes.len(),
            });
        }
        let r = spec.regs;
        let regs = kvm::StartRegs {
            rax: r.rax,
            rbx: r.rbx,
            rcx: r.rcx,
            rdx: r.rdx,
            rsi: r.rsi,
            rdi: r.rdi,
            rsp: r.rsp,
        };
        let mut machine = Machine::new(RAM_SIZE, &spec.image, LOAD_GPA, regs)?;
        let boot = [spec.device.0.to_le_bytes(), spec.seed.to_le_bytes()].concat();
        machine.ram_mut()[BOOT_INFO_GPA..BOOT_INFO_GPA + 8].copy_from_slice(&boot);
        for (gpa, bytes) in &spec.preload {
            machine.ram_mut()[*gpa..*gpa + bytes.len()].copy_from_slice(bytes);
        }
        let vm = Arc::new(self.viommu.create_vm(spec.config));
        let vtd = match spec.vtd {
            None => {
                vm.attach_device(spec.device).map_err(VmmError::Attach)?;
                None
            }
            Some((rid, config)) => {
                let msi = RamMsi {
                    mem: machine.guest_memory(),
                    log: Arc::default(),
                };
                let unit = VtdUnit::new(vm.clone(), machine.guest_memory(), msi.clone(), config)
                    .map_err(VmmError::Vtd)?;
                unit.attach_device(rid, spec.device)
                    .map_err(VmmError::Vtd)?;
                Some((unit, msi))
            }
        };
        let device = PvIommu::new(
            self.viommu.clone(),
            vm,
            spec.device,
            spec.ready,
            self.limits.log_capacity,
        );
        Ok(Guest {
            name: spec.name,
            machine,
            device,
            vtd,
            limits: self.limits,
        })
    }

    /// Runs every guest to its end, each guest's vCPU on its own thread, concurrently;
    /// returns each run's outcome in the order of `guests`. The guests stay usable
    /// afterwards (their RAM, VM and counters can be inspected; the VM stays alive
    /// until the [`Guest`] is dropped).
    pub fn run_all(&self, guests: &mut [Guest<B>]) -> Vec<Result<RunReport, VmmError>> {
        std::thread::scope(|s| {
            let handles: Vec<_> = guests
                .iter_mut()
                .map(|g| {
                    let name = format!("vcpu-{}", g.name);
                    std::thread::Builder::new()
                        .name(name)
                        .spawn_scoped(s, move || g.run())
                })
                .collect();
            handles
                .into_iter()
                .map(|h| match h {
                    Ok(h) => h.join().unwrap_or(Err(VmmError::VcpuPanicked)),
                    Err(e) => Err(VmmError::Kvm {
                        what: "spawn the vCPU thread",
                        errno: Errno(e.raw_os_error().unwrap_or(libc::EAGAIN)),
                    }),
                })
                .collect()
        })
    }
}

/// One guest: its KVM VM (RAM and vCPU), its device model and its [`Vm`].
///
/// Dropping it closes the KVM VM and drops its `Vm` (tearing the guest's vIOMMU state
/// down: PASIDs freed, binds removed, pending page requests answered `FAILURE`) unless
/// another `Arc` of the `Vm` is held.
pub struct Guest<B: Backend> {
    name: String,
    machine: Machine,
    device: PvIommu<B>,
    // Private: the unit writes guest RAM, which only the run loop may let it do.
    vtd: Option<(GuestVtd<B>, RamMsi)>,
    limits: Limits,
}

impl<B: Backend> std::fmt::Debug for Guest<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guest")
            .field("name", &self.name)
            .field("device", &self.device)
            .finish_non_exhaustive()
    }
}

impl<B: Backend> Guest<B> {
    /// The guest's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The guest's [`Vm`].
    pub fn vm(&self) -> &Arc<Vm<B>> {
        self.device.vm()
    }

    /// The guest's device.
    pub fn device(&self) -> DeviceId {
        self.device.device()
    }

    /// The VMM's counters so far (also after a failed run).
    pub fn stats(&self) -> &VmmStats {
        self.device.stats()
    }

    /// The guest's RAM (the vCPU is not running while `&self` is borrowed).
    pub fn ram(&self) -> &[u8] {
        self.machine.ram()
    }

    /// The emulated VT-d's counters, if the guest has one.
    pub fn vtd_stats(&self) -> Option<VtdStats> {
        self.vtd.as_ref().map(|(u, _)| u.stats())
    }

    /// The emulated VT-d's binds (`(host PASID, guest PASID, requester ids)`), if the
    /// guest has one.
    pub fn vtd_bindings(&self) -> Option<Vec<(HostPasid, GuestPasid, Vec<u16>)>> {
        self.vtd.as_ref().map(|(u, _)| u.bindings())
    }

    /// The MSIs the emulated VT-d sent (the first [`MSI_LOG_CAPACITY`]), if the guest has
    /// one.
    pub fn vtd_msis(&self) -> Option<Vec<(VtdEvent, Msi)>> {
        self.vtd.as_ref().map(|(_, m)| {
            m.log
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone()
        })
    }

    /// The guest's RAM, writable (between runs).
    pub fn ram_mut(&mut self) -> &mut [u8] {
        self.machine.ram_mut()
    }

    /// Runs the vCPU on the calling thread until `hlt` (or an error), handling every
    /// exit synchronously.
    ///
    /// The deadline is enforced by a watchdog thread that sends the vCPU thread
    /// `SIGRTMIN`; the first run installs a do-nothing handler for it, process-wide,
    /// without `SA_RESTART` (a VMM that uses `SIGRTMIN` itself would pick another kick
    /// signal).
    ///
    /// # Errors
    /// [`VmmError::UnexpectedExit`], [`VmmError::ExitLimit`], [`VmmError::Timeout`],
    /// [`VmmError::Kvm`] (`KVM_RUN` failed).
    pub fn run(&mut self) -> Result<RunReport, VmmError> {
        let expired = AtomicBool::new(false);
        let limits = self.limits;
        let machine = &mut self.machine;
        let device = &mut self.device;
        let vtd = self.vtd.as_ref().map(|(u, _)| u);
        let (end, elapsed) = kvm::with_deadline(limits.timeout, &expired, || {
            let start = Instant::now();
            let end = run_loop(machine, device, vtd, limits, &expired);
            (end, start.elapsed())
        });
        end?;
        Ok(RunReport {
            name: self.name.clone(),
            vm: self.vm().id(),
            device: self.device(),
            guest: GuestReport::read(self.machine.ram()),
            stats: self.device.stats().clone(),
            elapsed,
        })
    }
}

fn run_loop<B: Backend>(
    machine: &mut Machine,
    device: &mut PvIommu<B>,
    vtd: Option<&GuestVtd<B>>,
    limits: Limits,
    expired: &AtomicBool,
) -> Result<(), VmmError> {
    let mut exits = 0u64;
    // MMIO inside the VT-d window goes to the unit (every width: the unit accepts any
    // access, reading 0 and ignoring writes it does not define).
    let mut mmio = |addr: u64, data: MmioData<'_>| {
        let Some(unit) = vtd else { return false };
        let Some(off) = addr
            .checked_sub(VTD_MMIO_GPA)
            .filter(|o| *o < vsva_vtd::MMIO_SIZE)
        else {
            return false;
        };
        match data {
            MmioData::Read(d) => unit.mmio_read(off, d),
            MmioData::Write(d) => unit.mmio_write(off, d),
        }
        true
    };
    loop {
        if expired.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(VmmError::Timeout(limits.timeout));
        }
        if exits >= limits.max_exits {
            return Err(VmmError::ExitLimit(limits.max_exits));
        }
        // Page requests the backend reported for the unit's devices go into the guest's
        // page request queue (its event raised) while the vCPU is stopped, before it runs.
        if let Some(unit) = vtd {
            unit.deliver_page_requests();
        }
        let exit = machine.run(&mut mmio)?;
        exits += 1;
        device.count_exit();
        let unexpected = match exit {
            Exit::IoOut {
                port: DOORBELL_PORT,
                size,
                value,
            } => {
                device.doorbell(machine.ram_mut(), size, value);
                continue;
            }
            Exit::Hlt => return Ok(()),
            // A stray signal: go round (the deadline's kick is seen at the top).
            Exit::Interrupted => continue,
            Exit::IoOut { port, size, .. } => UnexpectedExit::IoOut { port, size },
            Exit::IoIn { port, size } => UnexpectedExit::IoIn { port, size },
            Exit::MmioRead { handled: true, .. } | Exit::MmioWrite { handled: true, .. } => {
                device.count_mmio();
                continue;
            }
            Exit::MmioRead { addr, len, .. } => UnexpectedExit::MmioRead { addr, len },
            Exit::MmioWrite { addr, len, .. } => UnexpectedExit::MmioWrite { addr, len },
            Exit::Shutdown => UnexpectedExit::Shutdown,
            Exit::InternalError => UnexpectedExit::InternalError,
            Exit::FailEntry(r) => UnexpectedExit::FailEntry(r),
            Exit::Other(what) => UnexpectedExit::Other(what),
        };
        return Err(VmmError::UnexpectedExit(unexpected));
    }
}

/// Checks that `/dev/kvm` can run a guest here: builds a VM whose code is one `hlt` and
/// runs it. Tests and the example call this first and skip (loudly) on an error.
///
/// # Errors
/// Why KVM is unusable: the failing call and its errno, or the exit the `hlt` did not
/// produce.
pub fn probe() -> Result<(), VmmError> {
    let mut machine = Machine::new(RAM_SIZE, &[0xf4], LOAD_GPA, kvm::StartRegs::default())?;
    match machine.run(&mut |_, _| false)? {
        Exit::Hlt => Ok(()),
        Exit::Shutdown => Err(VmmError::UnexpectedExit(UnexpectedExit::Shutdown)),
        Exit::InternalError => Err(VmmError::UnexpectedExit(UnexpectedExit::InternalError)),
        Exit::FailEntry(r) => Err(VmmError::UnexpectedExit(UnexpectedExit::FailEntry(r))),
        other => Err(VmmError::UnexpectedExit(UnexpectedExit::Other(
            match other {
                Exit::Interrupted => "KVM_RUN interrupted",
                _ => "not hlt",
            },
        ))),
    }
}

/// A ready hook for the software model: on each `READY`, injects `count` page requests
/// for the guest's device through [`SoftwareIommu::inject_page_request`], each the last
/// of its group, with group ids `1..=count` (`+ count` per earlier `READY`), addresses
/// `0x1000 * grpid`, read+write, tagged with a host PASID of the VM: the lowest one bound
/// with a guest PASID (the guest then sees its guest PASID), else the lowest bound one,
/// else the lowest owned one, else none (and then not `needs_pasid`).
pub fn inject_on_ready(model: SoftwareIommu, count: u32) -> ReadyHook<SoftwareIommu> {
    Arc::new(move |ctx: &ReadyContext<'_, SoftwareIommu>| {
        let snap = ctx.vm.snapshot();
        let pasid = snap
            .binds
            .values()
            .find(|b| b.gpasid.is_some())
            .or_else(|| snap.binds.values().next())
            .map(|b| b.hpasid)
            .or_else(|| snap.pasids.iter().next().copied());
        let base = u32::try_from(ctx.previous)
            .unwrap_or(u32::MAX)
            .saturating_mul(count);
        for i in 1..=count {
            let grpid = base.saturating_add(i) & 0x1ff;
            model.inject_page_request(
                ctx.viommu,
                PageRequest {
                    id: 0,
                    device: ctx.device,
                    pasid,
                    grpid,
                    perm: FaultPerm::READ | FaultPerm::WRITE,
                    addr: 0x1000 * u64::from(grpid),
                    last_page: true,
                    needs_pasid: pasid.is_some(),
                    private_data: None,
                },
            );
        }
    })
}
