//! KVM for the mini-VMM: guest RAM, its memory slot, one vCPU, and the
//! signal that kicks a vCPU thread out of `KVM_RUN` when its run is over time.
//!
//! - [`Machine`]: one KVM VM with one memory slot (anonymous `mmap(2)` at GPA 0) and one
//!   vCPU in real mode. The guest RAM is handed out only as safe `&[u8]` / `&mut [u8]`
//!   views borrowed from the `Machine`, and [`Machine::run`] takes `&mut self`: the borrow
//!   checker guarantees that no view exists while the vCPU runs. With a single vCPU, the
//!   guest cannot touch its RAM while the VMM holds a view (the vCPU is stopped on an
//!   exit, and the VMM handles exits synchronously on the vCPU's own thread).
//! - [`with_deadline`]: runs a closure on the calling thread with a scoped watchdog
//!   thread that, past the deadline, sets a flag and sends the calling thread
//!   [`kick_signal`] until the closure returns, so a guest looping without exits still
//!   makes `KVM_RUN` return `EINTR`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, Once, PoisonError};
use std::time::{Duration, Instant};

use kvm_bindings::kvm_userspace_memory_region;
use kvm_ioctls::{Kvm, VcpuExit, VcpuFd, VmFd};
use vm_memory::{GuestAddress, GuestMemoryBackend, GuestMemoryMmap};

/// The guest RAM: one vm-memory region of `len` zeroed bytes of anonymous memory at GPA 0
/// (vm-memory maps it and unmaps it when the last clone of the [`GuestMemoryMmap`] is
/// dropped, so the emulated VT-d's clone keeps it alive).
struct GuestRam {
    mem: GuestMemoryMmap,
    base: std::ptr::NonNull<u8>,
}

// SAFETY: `GuestRam` is an address range owned by `mem` (whose regions are `Send`); its
// bytes are reached only through `Machine`'s borrow-checked views or vm-memory's
// volatile accessors, so moving the handle to another thread cannot race.
unsafe impl Send for GuestRam {}

impl GuestRam {
    /// `len` zeroed bytes at GPA 0.
    fn new(len: usize) -> Result<GuestRam, i32> {
        let mem =
            GuestMemoryMmap::from_ranges(&[(GuestAddress(0), len)]).map_err(|_| libc::ENOMEM)?;
        let base = mem
            .get_host_address(GuestAddress(0))
            .ok()
            .and_then(std::ptr::NonNull::new)
            .ok_or(libc::ENOMEM)?;
        Ok(GuestRam { mem, base })
    }
}

/// Where the mini-VMM failed to set a machine up: the KVM call and its `errno`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KvmFailure {
    /// What was being done (`"open /dev/kvm"`, `"KVM_CREATE_VM"`, ...).
    pub(crate) what: &'static str,
    /// The `errno`.
    pub(crate) errno: i32,
}

fn fail(what: &'static str) -> impl Fn(kvm_ioctls::Error) -> KvmFailure {
    move |e| KvmFailure {
        what,
        errno: e.errno(),
    }
}

/// How a `KVM_RUN` ended, copied out of the `kvm_run` page (so it borrows nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    /// `out` to `port` of `size` bytes; `value` is the data, little-endian, zero-extended
    /// (`size` ≤ 4; a longer string `outs` is reported with its first 4 bytes).
    IoOut { port: u16, size: usize, value: u32 },
    /// `in` from `port` of `size` bytes (the mini-VMM never answers one).
    IoIn { port: u16, size: usize },
    /// An MMIO read at `addr`; `handled` if the MMIO callback of [`Machine::run`]
    /// filled the data.
    MmioRead {
        addr: u64,
        len: usize,
        handled: bool,
    },
    /// An MMIO write at `addr`; `handled` if the MMIO callback took it.
    MmioWrite {
        addr: u64,
        len: usize,
        handled: bool,
    },
    /// `hlt`.
    Hlt,
    /// Triple fault or similar.
    Shutdown,
    /// `KVM_EXIT_INTERNAL_ERROR`.
    InternalError,
    /// `KVM_EXIT_FAIL_ENTRY` with the hardware reason.
    FailEntry(u64),
    /// `KVM_RUN` returned `EINTR` (a signal, e.g. the deadline's kick).
    Interrupted,
    /// Any other exit reason, by name.
    Other(&'static str),
}

/// The data of an MMIO exit: the bytes to fill for a read, the bytes written.
#[derive(Debug)]
pub(crate) enum MmioData<'a> {
    /// A read: fill these bytes (the `kvm_run` page's buffer, returned to the guest).
    Read(&'a mut [u8]),
    /// A write of these bytes.
    Write(&'a [u8]),
}

/// One KVM VM: RAM at GPA 0 and one real-mode vCPU.
pub(crate) struct Machine {
    // Field order is drop order: the vCPU and the VM go before the memory they map.
    vcpu: VcpuFd,
    _vm: VmFd,
    _kvm: Kvm,
    ram: GuestRam,
    ram_size: usize,
}

impl std::fmt::Debug for Machine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Machine")
            .field("ram_size", &self.ram_size)
            .finish_non_exhaustive()
    }
}

/// The general registers a guest starts with (besides `rip` and `rflags`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct StartRegs {
    pub(crate) rax: u64,
    pub(crate) rbx: u64,
    pub(crate) rcx: u64,
    pub(crate) rdx: u64,
    pub(crate) rsi: u64,
    pub(crate) rdi: u64,
    pub(crate) rsp: u64,
}

impl Machine {
    /// Opens `/dev/kvm`, creates a VM with `ram_size` bytes of zeroed RAM at GPA 0
    /// (`ram_size` a multiple of the page size), copies `image` to `load_gpa`, and
    /// creates vCPU 0 in real mode with `CS = 0`, `IP = load_gpa`, `RFLAGS = 2` and the
    /// given general registers. The caller checks that the image fits.
    pub(crate) fn new(
        ram_size: usize,
        image: &[u8],
        load_gpa: u64,
        regs: StartRegs,
    ) -> Result<Machine, KvmFailure> {
        let kvm = Kvm::new().map_err(fail("open /dev/kvm"))?;
        let vm = kvm.create_vm().map_err(fail("KVM_CREATE_VM"))?;
        let ram = GuestRam::new(ram_size).map_err(|errno| KvmFailure {
            what: "mmap guest RAM",
            errno,
        })?;
        let region = kvm_userspace_memory_region {
            slot: 0,
            guest_phys_addr: 0,
            memory_size: ram_size as u64,
            userspace_addr: ram.base.as_ptr() as u64,
            flags: 0,
        };
        // SAFETY: the region is `ram`, a live private anonymous mapping of `ram_size`
        // bytes (vm-memory's) that no Rust reference covers yet.
        // It stays mapped for as long as the VM can use it: `Machine` owns both, and its
        // field order drops the vCPU and VM fds (and with the VM, the slot) before
        // unmapping the memory. Guest writes through the slot are seen by the views below
        // only while the vCPU is stopped (see the module docs).
        unsafe { vm.set_user_memory_region(region) }.map_err(fail("KVM_SET_USER_MEMORY_REGION"))?;
        let vcpu = vm.create_vcpu(0).map_err(fail("KVM_CREATE_VCPU"))?;
        let mut sregs = vcpu.get_sregs().map_err(fail("KVM_GET_SREGS"))?;
        sregs.cs.base = 0;
        sregs.cs.selector = 0;
        vcpu.set_sregs(&sregs).map_err(fail("KVM_SET_SREGS"))?;
        let mut r = vcpu.get_regs().map_err(fail("KVM_GET_REGS"))?;
        r.rip = load_gpa;
        r.rflags = 2;
        r.rax = regs.rax;
        r.rbx = regs.rbx;
        r.rcx = regs.rcx;
        r.rdx = regs.rdx;
        r.rsi = regs.rsi;
        r.rdi = regs.rdi;
        r.rsp = regs.rsp;
        vcpu.set_regs(&r).map_err(fail("KVM_SET_REGS"))?;
        let mut machine = Machine {
            vcpu,
            _vm: vm,
            _kvm: kvm,
            ram,
            ram_size,
        };
        let start = usize::try_from(load_gpa).unwrap_or(usize::MAX);
        if let Some(dst) = start
            .checked_add(image.len())
            .and_then(|end| machine.ram_mut().get_mut(start..end))
        {
            dst.copy_from_slice(image);
        }
        Ok(machine)
    }

    /// The guest RAM, read-only. Exists only while the vCPU is stopped (`run` needs
    /// `&mut self`).
    pub(crate) fn ram(&self) -> &[u8] {
        // SAFETY: `ram` maps at least `ram_size` readable bytes for the life of `self`.
        // The other writers are the guest, through KVM, only inside `run`, which takes
        // `&mut self` and so cannot overlap this shared borrow (there is one vCPU), and
        // device models holding `guest_memory()`, which the mini-VMM calls only during an
        // exit, from inside `run`'s MMIO callback or while it holds `&mut Machine`.
        unsafe { std::slice::from_raw_parts(self.ram.base.as_ptr(), self.ram_size) }
    }

    /// The guest RAM, writable. Exists only while the vCPU is stopped.
    pub(crate) fn ram_mut(&mut self) -> &mut [u8] {
        // SAFETY: as for `ram`, and the `&mut self` borrow makes this view unique: no
        // other view and no `run` can exist while it lives.
        unsafe { std::slice::from_raw_parts_mut(self.ram.base.as_ptr(), self.ram_size) }
    }

    /// The guest RAM as vm-memory guest memory (a clone sharing the mapping), for device
    /// models that reach guest memory with vm-memory's checked, volatile accessors. They
    /// may use it only while the vCPU is stopped and no view of [`Machine::ram`] lives:
    /// the mini-VMM calls them during an exit, on the vCPU's thread.
    pub(crate) fn guest_memory(&self) -> GuestMemoryMmap {
        self.ram.mem.clone()
    }

    /// Runs the vCPU until its next exit (`KVM_RUN`). An MMIO exit is offered to `mmio`
    /// (`addr`, `MmioData`) before `run` returns, so a read's data reaches the guest when
    /// the vCPU resumes; `mmio` returns whether it handled the access. A failing
    /// `KVM_RUN` other than `EINTR` is returned as its `errno`.
    pub(crate) fn run(
        &mut self,
        mmio: &mut dyn FnMut(u64, MmioData<'_>) -> bool,
    ) -> Result<Exit, KvmFailure> {
        match self.vcpu.run() {
            Ok(exit) => Ok(match exit {
                VcpuExit::IoOut(port, data) => {
                    let mut v = [0u8; 4];
                    let n = data.len().min(4);
                    v[..n].copy_from_slice(&data[..n]);
                    Exit::IoOut {
                        port,
                        size: data.len(),
                        value: u32::from_le_bytes(v),
                    }
                }
                VcpuExit::IoIn(port, data) => Exit::IoIn {
                    port,
                    size: data.len(),
                },
                VcpuExit::MmioRead(addr, data) => {
                    let len = data.len();
                    let handled = mmio(addr, MmioData::Read(data));
                    Exit::MmioRead { addr, len, handled }
                }
                VcpuExit::MmioWrite(addr, data) => {
                    let len = data.len();
                    let handled = mmio(addr, MmioData::Write(data));
                    Exit::MmioWrite { addr, len, handled }
                }
                VcpuExit::Hlt => Exit::Hlt,
                VcpuExit::Shutdown => Exit::Shutdown,
                VcpuExit::InternalError => Exit::InternalError,
                VcpuExit::FailEntry(reason, _) => Exit::FailEntry(reason),
                VcpuExit::Intr => Exit::Interrupted,
                VcpuExit::Unknown => Exit::Other("KVM_EXIT_UNKNOWN"),
                VcpuExit::Exception => Exit::Other("KVM_EXIT_EXCEPTION"),
                VcpuExit::Debug(_) => Exit::Other("KVM_EXIT_DEBUG"),
                VcpuExit::SystemEvent(..) => Exit::Other("KVM_EXIT_SYSTEM_EVENT"),
                _ => Exit::Other("another KVM exit"),
            }),
            Err(e) if e.errno() == libc::EINTR => Ok(Exit::Interrupted),
            Err(e) => Err(KvmFailure {
                what: "KVM_RUN",
                errno: e.errno(),
            }),
        }
    }
}

/// The signal that kicks a vCPU thread out of `KVM_RUN`: `SIGRTMIN`, with an empty
/// handler installed without `SA_RESTART` (process-wide, once).
pub(crate) fn kick_signal() -> i32 {
    libc::SIGRTMIN()
}

extern "C" fn on_kick(_: libc::c_int) {}

fn install_kick_handler() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: an all-zero `sigaction` is a valid value (empty mask, no flags); the
        // handler field is then set to a function with the C signature that does
        // nothing (async-signal-safe).
        let mut sa: libc::sigaction = unsafe { std::mem::zeroed() };
        sa.sa_sigaction = on_kick as extern "C" fn(libc::c_int) as usize;
        // SAFETY: sigaction(2) reads `sa`, a valid struct on our stack, and writes no
        // memory (null old action). No SA_RESTART: an interrupted KVM_RUN returns EINTR.
        let rc = unsafe { libc::sigaction(kick_signal(), &sa, std::ptr::null_mut()) };
        debug_assert_eq!(rc, 0);
    });
}

/// Runs `body` on the calling thread under a deadline: a scoped watchdog thread waits
/// for `timeout`; if `body` has not returned by then, it sets `expired` and sends the
/// calling thread [`kick_signal`] every millisecond until `body` returns. `body` checks
/// `expired` before each `KVM_RUN` and treats [`Exit::Interrupted`] as the end.
pub(crate) fn with_deadline<R>(
    timeout: Duration,
    expired: &AtomicBool,
    body: impl FnOnce() -> R,
) -> R {
    install_kick_handler();
    // SAFETY: pthread_self(3) has no preconditions.
    let me = unsafe { libc::pthread_self() };
    let done = (Mutex::new(false), Condvar::new());
    struct SetDone<'a>(&'a (Mutex<bool>, Condvar));
    impl Drop for SetDone<'_> {
        fn drop(&mut self) {
            *self.0 .0.lock().unwrap_or_else(PoisonError::into_inner) = true;
            self.0 .1.notify_all();
        }
    }
    std::thread::scope(|s| {
        s.spawn(|| {
            let (lock, cv) = &done;
            let deadline = Instant::now() + timeout;
            let mut finished = lock.lock().unwrap_or_else(PoisonError::into_inner);
            loop {
                if *finished {
                    return;
                }
                let now = Instant::now();
                if now < deadline {
                    finished = cv
                        .wait_timeout(finished, deadline - now)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                    continue;
                }
                expired.store(true, Ordering::SeqCst);
                // SAFETY: `me` is the thread running this scope's body; the scope does
                // not end (and that thread cannot exit) before this watchdog thread is
                // joined, so `me` names a live thread. The signal has a do-nothing
                // handler installed above, so it only interrupts a blocking call.
                unsafe { libc::pthread_kill(me, kick_signal()) };
                finished = cv
                    .wait_timeout(finished, Duration::from_millis(1))
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
        });
        let _done = SetDone(&done);
        body()
    })
}
