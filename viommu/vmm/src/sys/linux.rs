//! KVM for the Linux-booting mini-VMM ([`crate::linux`]): one VM with the in-kernel
//! irqchip (PIC, IOAPIC, LAPIC) and PIT, its RAM (vm-memory's anonymous mapping) in one
//! memory slot at GPA 0, one vCPU in 32-bit flat protected mode at a PVH entry point, and
//! the interrupt paths: irqfds for legacy lines and `KVM_SIGNAL_MSI` for MSIs.
//!
//! The only unsafe operation is `KVM_SET_USER_MEMORY_REGION`: the slot is the mapping that
//! [`LinuxMachine`] owns (through its [`GuestMemoryMmap`]) and the field order drops the
//! VM before the memory. Device models reach guest memory only through vm-memory's checked
//! volatile accessors, never through references.

use std::sync::Arc;

use kvm_bindings::{kvm_msi, kvm_pit_config, kvm_userspace_memory_region, KVM_MAX_CPUID_ENTRIES};
use kvm_ioctls::{Kvm, VcpuExit, VcpuFd, VmFd};
use vm_memory::{GuestAddress, GuestMemoryBackend, GuestMemoryMmap};
use vmm_sys_util::eventfd::EventFd;

use super::kvm::KvmFailure;

fn fail(what: &'static str) -> impl Fn(kvm_ioctls::Error) -> KvmFailure {
    move |e| KvmFailure {
        what,
        errno: e.errno(),
    }
}

/// Where the TSS of the (Intel) VMX real-mode emulation goes: three pages below 4 GiB
/// that the memory map leaves unused.
const TSS_ADDRESS: usize = 0xfffb_d000;

/// How a `KVM_RUN` ended (copied out of the `kvm_run` page).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LinuxExit {
    /// An `in` or `out` (handled by the callback before `run` returned).
    Io,
    /// An MMIO access (handled by the callback).
    Mmio,
    /// `hlt` (only without the in-kernel LAPIC's halt handling; counted).
    Hlt,
    /// Triple fault: the guest reset itself.
    Shutdown,
    /// `KVM_EXIT_SYSTEM_EVENT` (PSCI-style reset/shutdown).
    SystemEvent,
    /// `KVM_RUN` returned `EINTR` (the deadline's kick).
    Interrupted,
    /// `KVM_EXIT_INTERNAL_ERROR`.
    InternalError,
    /// `KVM_EXIT_FAIL_ENTRY` with the hardware reason.
    FailEntry(u64),
    /// Another exit, by name.
    Other(&'static str),
}

/// One access of a guest to an emulated device, handed to [`LinuxMachine::run`]'s
/// callback while the vCPU is stopped.
#[derive(Debug)]
pub(crate) enum Access<'a> {
    /// `in` from a port: fill `data`.
    PioRead(u16, &'a mut [u8]),
    /// `out` to a port.
    PioWrite(u16, &'a [u8]),
    /// An MMIO read: fill `data`.
    MmioRead(u64, &'a mut [u8]),
    /// An MMIO write.
    MmioWrite(u64, &'a [u8]),
}

/// One KVM VM booting Linux.
pub(crate) struct LinuxMachine {
    // Field order is drop order: the vCPU and the VM go before the memory they map.
    vcpu: VcpuFd,
    vm: Arc<VmFd>,
    _kvm: Kvm,
    mem: GuestMemoryMmap,
}

impl std::fmt::Debug for LinuxMachine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinuxMachine").finish_non_exhaustive()
    }
}

/// Delivers MSIs to a VM with `KVM_SIGNAL_MSI` (cloneable, shareable with device models).
#[derive(Debug, Clone)]
pub(crate) struct MsiInjector {
    vm: Arc<VmFd>,
}

impl MsiInjector {
    /// Injects one MSI; returns whether KVM delivered it (false: blocked or refused).
    pub(crate) fn signal(&self, address: u64, data: u32) -> bool {
        let msi = kvm_msi {
            address_lo: address as u32,
            address_hi: (address >> 32) as u32,
            data,
            ..Default::default()
        };
        matches!(self.vm.signal_msi(msi), Ok(n) if n > 0)
    }
}

impl LinuxMachine {
    /// Opens `/dev/kvm`, creates a VM with the in-kernel irqchip and PIT and `mem_size`
    /// bytes of zeroed RAM at GPA 0 (a multiple of the page size), and vCPU 0 with the
    /// host's supported CPUID.
    pub(crate) fn new(mem_size: usize) -> Result<LinuxMachine, KvmFailure> {
        let kvm = Kvm::new().map_err(fail("open /dev/kvm"))?;
        let vm = kvm.create_vm().map_err(fail("KVM_CREATE_VM"))?;
        vm.set_tss_address(TSS_ADDRESS)
            .map_err(fail("KVM_SET_TSS_ADDR"))?;
        vm.create_irq_chip().map_err(fail("KVM_CREATE_IRQCHIP"))?;
        // The in-kernel speaker port (0x61) too: it gates PIT channel 2, which Linux's
        // TSC calibration uses.
        let pit = kvm_pit_config::default();
        vm.create_pit2(pit).map_err(fail("KVM_CREATE_PIT2"))?;
        let mem = GuestMemoryMmap::from_ranges(&[(GuestAddress(0), mem_size)]).map_err(|_| {
            KvmFailure {
                what: "mmap guest RAM",
                errno: libc::ENOMEM,
            }
        })?;
        let host = mem
            .get_host_address(GuestAddress(0))
            .map_err(|_| KvmFailure {
                what: "mmap guest RAM",
                errno: libc::ENOMEM,
            })?;
        let region = kvm_userspace_memory_region {
            slot: 0,
            guest_phys_addr: 0,
            memory_size: mem_size as u64,
            userspace_addr: host as u64,
            flags: 0,
        };
        // SAFETY: the region is `mem`'s single live private anonymous mapping of
        // `mem_size` bytes, which no Rust reference covers (device models use vm-memory's
        // volatile accessors). `LinuxMachine` owns a clone of `mem`, and its field order
        // drops the vCPU and VM fds (and with the VM, the slot) before that clone; other
        // clones (device models') only keep the mapping alive longer.
        unsafe { vm.set_user_memory_region(region) }.map_err(fail("KVM_SET_USER_MEMORY_REGION"))?;
        let vcpu = vm.create_vcpu(0).map_err(fail("KVM_CREATE_VCPU"))?;
        let mut cpuid = kvm
            .get_supported_cpuid(KVM_MAX_CPUID_ENTRIES)
            .map_err(fail("KVM_GET_SUPPORTED_CPUID"))?;
        for e in cpuid.as_mut_slice() {
            match e.function {
                // HYPERVISOR (ECX bit 31): the guest looks for KVM's leaves (kvmclock,
                // its TSC frequency); initial APIC id 0 (EBX 31:24).
                1 => {
                    e.ecx |= 1 << 31;
                    e.ebx &= 0x00ff_ffff;
                }
                // The x2APIC id of the one vCPU.
                0xb | 0x1f => e.edx = 0,
                _ => {}
            }
        }
        vcpu.set_cpuid2(&cpuid).map_err(fail("KVM_SET_CPUID2"))?;
        Ok(LinuxMachine {
            vcpu,
            vm: Arc::new(vm),
            _kvm: kvm,
            mem,
        })
    }

    /// The guest RAM (a clone sharing the mapping).
    pub(crate) fn memory(&self) -> GuestMemoryMmap {
        self.mem.clone()
    }

    /// An MSI injector for device models.
    pub(crate) fn msi_injector(&self) -> MsiInjector {
        MsiInjector {
            vm: self.vm.clone(),
        }
    }

    /// Registers `fd` as an irqfd for `gsi` (a write to it raises the line's edge).
    pub(crate) fn register_irqfd(&self, fd: &EventFd, gsi: u32) -> Result<(), KvmFailure> {
        self.vm.register_irqfd(fd, gsi).map_err(fail("KVM_IRQFD"))
    }

    /// Puts the vCPU at a PVH entry: 32-bit flat protected mode, paging off, `rip =
    /// entry`, `rbx = start_info` (the PVH boot ABI).
    pub(crate) fn set_pvh_entry(&self, entry: u64, start_info: u64) -> Result<(), KvmFailure> {
        let mut s = self.vcpu.get_sregs().map_err(fail("KVM_GET_SREGS"))?;
        let code = kvm_bindings::kvm_segment {
            base: 0,
            limit: 0xffff_ffff,
            selector: 0x8,
            type_: 0xb,
            present: 1,
            dpl: 0,
            db: 1,
            s: 1,
            l: 0,
            g: 1,
            avl: 0,
            unusable: 0,
            padding: 0,
        };
        let data = kvm_bindings::kvm_segment {
            selector: 0x10,
            type_: 0x3,
            ..code
        };
        s.cs = code;
        s.ds = data;
        s.es = data;
        s.fs = data;
        s.gs = data;
        s.ss = data;
        s.tr = kvm_bindings::kvm_segment {
            selector: 0x18,
            type_: 0xb,
            s: 0,
            db: 0,
            g: 0,
            limit: 0x67,
            ..code
        };
        s.cr0 = 0x11; // PE | ET
        s.cr4 = 0;
        s.efer = 0;
        self.vcpu.set_sregs(&s).map_err(fail("KVM_SET_SREGS"))?;
        let mut r = self.vcpu.get_regs().map_err(fail("KVM_GET_REGS"))?;
        r.rip = entry;
        r.rbx = start_info;
        r.rflags = 2;
        self.vcpu.set_regs(&r).map_err(fail("KVM_SET_REGS"))?;
        Ok(())
    }

    /// Runs the vCPU until its next exit; port and MMIO accesses are handed to `device`
    /// before `run` returns (a read's data reaches the guest when the vCPU resumes). A
    /// failing `KVM_RUN` other than `EINTR` is returned as its `errno`.
    pub(crate) fn run(
        &mut self,
        device: &mut dyn FnMut(Access<'_>),
    ) -> Result<LinuxExit, KvmFailure> {
        match self.vcpu.run() {
            Ok(exit) => Ok(match exit {
                VcpuExit::IoOut(port, data) => {
                    device(Access::PioWrite(port, data));
                    LinuxExit::Io
                }
                VcpuExit::IoIn(port, data) => {
                    device(Access::PioRead(port, data));
                    LinuxExit::Io
                }
                VcpuExit::MmioRead(addr, data) => {
                    device(Access::MmioRead(addr, data));
                    LinuxExit::Mmio
                }
                VcpuExit::MmioWrite(addr, data) => {
                    device(Access::MmioWrite(addr, data));
                    LinuxExit::Mmio
                }
                VcpuExit::Hlt => LinuxExit::Hlt,
                VcpuExit::Shutdown => LinuxExit::Shutdown,
                VcpuExit::SystemEvent(..) => LinuxExit::SystemEvent,
                VcpuExit::InternalError => LinuxExit::InternalError,
                VcpuExit::FailEntry(reason, _) => LinuxExit::FailEntry(reason),
                VcpuExit::Intr => LinuxExit::Interrupted,
                VcpuExit::Unknown => LinuxExit::Other("KVM_EXIT_UNKNOWN"),
                VcpuExit::Exception => LinuxExit::Other("KVM_EXIT_EXCEPTION"),
                VcpuExit::Debug(_) => LinuxExit::Other("KVM_EXIT_DEBUG"),
                _ => LinuxExit::Other("another KVM exit"),
            }),
            Err(e) if e.errno() == libc::EINTR => Ok(LinuxExit::Interrupted),
            Err(e) => Err(KvmFailure {
                what: "KVM_RUN",
                errno: e.errno(),
            }),
        }
    }
}
