//! The paravirtual vIOMMU device: the doorbell port, the command block, and the device
//! model that turns one doorbell into one call of [`Vm`] (or of
//! [`vsva_vfio::nesting::dispatch`]).
//!
//! The device model does not know about KVM: it is given the guest's RAM as a byte
//! slice for the duration of one doorbell, so it is tested without `/dev/kvm` too.

use std::collections::BTreeMap;
use std::sync::Arc;

use vsva_uapi::Errno;

use vsva_viommu::{Backend, DeviceId, Viommu, Vm};

/// The doorbell: a 32-bit `out dx, eax` to this I/O port; `eax` is the GPA of a
/// command block.
pub const DOORBELL_PORT: u16 = 0x0510;

/// The size of a command block `{ u32 op; u32 arg0; u32 arg_gpa; i32 result; }`.
pub const COMMAND_BLOCK_SIZE: usize = 16;

/// Byte offset of `result` in the command block.
pub const RESULT_OFFSET: usize = 12;

/// The command-block operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u32)]
pub enum Op {
    /// `0`: do nothing, result 0 (the benchmark's baseline).
    Nop = 0,
    /// `1`: a VFIO ioctl: `arg0` = request (`VFIO_IOMMU_PASID_REQUEST` or
    /// `VFIO_IOMMU_NESTING_OP`), `arg_gpa` = its user struct. Result: the ioctl's return
    /// (the PASID of an alloc) or −errno.
    Ioctl = 1,
    /// `2`: copy whole 64-byte `iommu_fault` records into the buffer of `arg0` bytes at
    /// `arg_gpa`. Result: bytes written, or −`EFAULT` when the buffer is not in RAM.
    ReadFaults = 2,
    /// `3`: answer a page request: `arg0` = device id, `arg_gpa` = `iommu_page_response`.
    /// Result 0 or −errno.
    PageResponse = 3,
    /// `4`: result = the number of unread page requests queued for the VM.
    FaultStatus = 4,
    /// `5`: the guest is ready for page requests; the VMM runs the VM's ready hook.
    /// Result 0.
    Ready = 5,
}

impl Op {
    /// The op numbered `raw`, if any.
    pub fn from_raw(raw: u32) -> Option<Op> {
        Some(match raw {
            0 => Op::Nop,
            1 => Op::Ioctl,
            2 => Op::ReadFaults,
            3 => Op::PageResponse,
            4 => Op::FaultStatus,
            5 => Op::Ready,
            _ => return None,
        })
    }
}

/// A command block as the guest wrote it (little-endian).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandBlock {
    /// The operation ([`Op`] as a raw number; an unknown one is answered −`EINVAL`).
    pub op: u32,
    /// First argument.
    pub arg0: u32,
    /// The GPA of the operation's argument struct or buffer.
    pub arg_gpa: u32,
    /// The result, written by the VMM.
    pub result: i32,
}

impl CommandBlock {
    /// Parses the 16-byte block at `gpa` in `ram`; `None` unless it lies entirely in RAM.
    pub fn read(ram: &[u8], gpa: u32) -> Option<CommandBlock> {
        let b = block(ram, gpa)?;
        let word = |i: usize| {
            let mut w = [0u8; 4];
            w.copy_from_slice(&b[i..i + 4]);
            w
        };
        Some(CommandBlock {
            op: u32::from_le_bytes(word(0)),
            arg0: u32::from_le_bytes(word(4)),
            arg_gpa: u32::from_le_bytes(word(8)),
            result: i32::from_le_bytes(word(12)),
        })
    }
}

fn block(ram: &[u8], gpa: u32) -> Option<&[u8]> {
    let start = usize::try_from(gpa).ok()?;
    ram.get(start..start.checked_add(COMMAND_BLOCK_SIZE)?)
}

/// Per-op doorbell counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpCounts {
    /// [`Op::Nop`].
    pub nop: u64,
    /// [`Op::Ioctl`].
    pub ioctl: u64,
    /// [`Op::ReadFaults`].
    pub read_faults: u64,
    /// [`Op::PageResponse`].
    pub page_response: u64,
    /// [`Op::FaultStatus`].
    pub fault_status: u64,
    /// [`Op::Ready`].
    pub ready: u64,
    /// Unknown op numbers (answered −`EINVAL`).
    pub unknown: u64,
}

impl OpCounts {
    fn bump(&mut self, op: Option<Op>) {
        let n = match op {
            Some(Op::Nop) => &mut self.nop,
            Some(Op::Ioctl) => &mut self.ioctl,
            Some(Op::ReadFaults) => &mut self.read_faults,
            Some(Op::PageResponse) => &mut self.page_response,
            Some(Op::FaultStatus) => &mut self.fault_status,
            Some(Op::Ready) => &mut self.ready,
            None => &mut self.unknown,
        };
        *n += 1;
    }
}

/// One handled doorbell, as kept in [`VmmStats::log`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Doorbell {
    /// The command block's GPA.
    pub gpa: u32,
    /// The block as read (its `result` is the guest's, before the VMM wrote its own).
    pub block: CommandBlock,
    /// The result the VMM wrote.
    pub result: i32,
}

/// What the VMM saw of one guest: exits, doorbells, per-op counts, errnos.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VmmStats {
    /// vCPU exits handled (every `KVM_RUN` return, including the final `hlt`).
    pub exits: u64,
    /// Doorbells with a command block in RAM (each one got a result).
    pub doorbells: u64,
    /// MMIO exits handled by the guest's emulated VT-d (every access to its window).
    pub mmio_exits: u64,
    /// Doorbells ignored: not a 4-byte `out`, or a command block not entirely in RAM.
    pub bad_doorbells: u64,
    /// Handled doorbells per op.
    pub ops: OpCounts,
    /// Doorbells whose result was ≥ 0.
    pub successes: u64,
    /// Doorbells whose result was −errno: errno → count.
    pub errnos: BTreeMap<i32, u64>,
    /// The first handled doorbells, in order (at most the log capacity).
    pub log: Vec<Doorbell>,
}

impl VmmStats {
    /// Doorbells answered with −`errno`.
    pub fn errno_count(&self, errno: Errno) -> u64 {
        self.errnos.get(&errno.raw()).copied().unwrap_or(0)
    }

    /// Doorbells answered with any −errno.
    pub fn failures(&self) -> u64 {
        self.errnos.values().sum()
    }
}

/// What the ready hook is given when a guest sends [`Op::Ready`].
pub struct ReadyContext<'a, B: Backend> {
    /// The shared vIOMMU (to inject page requests through the backend).
    pub viommu: &'a Viommu<B>,
    /// The guest's VM.
    pub vm: &'a Vm<B>,
    /// The guest's device.
    pub device: DeviceId,
    /// How many `READY`s this guest sent before this one.
    pub previous: u64,
}

impl<B: Backend> std::fmt::Debug for ReadyContext<'_, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadyContext")
            .field("vm", &self.vm.id())
            .field("device", &self.device)
            .field("previous", &self.previous)
            .finish_non_exhaustive()
    }
}

/// The hook a [`Op::Ready`] runs, e.g. injecting page requests for the guest's device
/// ([`crate::inject_on_ready`]). It runs on the guest's vCPU thread, during the exit.
pub type ReadyHook<B> = Arc<dyn Fn(&ReadyContext<'_, B>) + Send + Sync>;

/// The device model of one guest: its [`Vm`], its device, its ready hook, its counters.
pub struct PvIommu<B: Backend> {
    viommu: Viommu<B>,
    vm: Arc<Vm<B>>,
    device: DeviceId,
    ready: Option<ReadyHook<B>>,
    log_capacity: usize,
    stats: VmmStats,
}

impl<B: Backend> std::fmt::Debug for PvIommu<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PvIommu")
            .field("vm", &self.vm.id())
            .field("device", &self.device)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

fn neg(e: Errno) -> i32 {
    e.raw().saturating_neg()
}

fn ioctl_result(r: Result<i32, Errno>) -> i32 {
    match r {
        Ok(v) => v,
        Err(e) => neg(e),
    }
}

/// `ram[gpa..]`: the user memory of a request whose struct starts at `gpa` (a copy from
/// it faults where RAM ends).
fn user_from(ram: &[u8], gpa: u32) -> Result<&[u8], Errno> {
    usize::try_from(gpa)
        .ok()
        .and_then(|g| ram.get(g..))
        .ok_or(Errno::EFAULT)
}

impl<B: Backend> PvIommu<B> {
    /// The device model for `vm` (created from `viommu`) with `device` attached to it.
    /// Keeps the first `log_capacity` doorbells in [`VmmStats::log`].
    pub fn new(
        viommu: Viommu<B>,
        vm: Arc<Vm<B>>,
        device: DeviceId,
        ready: Option<ReadyHook<B>>,
        log_capacity: usize,
    ) -> PvIommu<B> {
        PvIommu {
            viommu,
            vm,
            device,
            ready,
            log_capacity,
            stats: VmmStats::default(),
        }
    }

    /// The guest's VM.
    pub fn vm(&self) -> &Arc<Vm<B>> {
        &self.vm
    }

    /// The guest's device.
    pub fn device(&self) -> DeviceId {
        self.device
    }

    /// The counters so far.
    pub fn stats(&self) -> &VmmStats {
        &self.stats
    }

    /// Counts one vCPU exit (the run loop calls this for every exit).
    pub fn count_exit(&mut self) {
        self.stats.exits += 1;
    }

    /// Counts one MMIO exit handled by the emulated VT-d.
    pub fn count_mmio(&mut self) {
        self.stats.mmio_exits += 1;
    }

    /// Handles one `out` to [`DOORBELL_PORT`] of `size` bytes with `value`, the guest's
    /// RAM given as `ram` (the vCPU is stopped). Returns the result written into the
    /// command block, or `None` when the doorbell was ignored (not a 4-byte write, or
    /// a block not entirely in RAM; counted as [`VmmStats::bad_doorbells`]).
    pub fn doorbell(&mut self, ram: &mut [u8], size: usize, value: u32) -> Option<i32> {
        let block = if size == 4 {
            CommandBlock::read(ram, value)
        } else {
            None
        };
        let Some(block) = block else {
            self.stats.bad_doorbells += 1;
            return None;
        };
        let op = Op::from_raw(block.op);
        let result = match op {
            Some(op) => self.handle(ram, op, &block),
            None => neg(Errno::EINVAL),
        };
        // The block was in RAM when read and `ram` has not shrunk: this cannot miss.
        let start = value as usize + RESULT_OFFSET;
        if let Some(dst) = ram.get_mut(start..start + 4) {
            dst.copy_from_slice(&result.to_le_bytes());
        }
        let st = &mut self.stats;
        st.doorbells += 1;
        st.ops.bump(op);
        if result >= 0 {
            st.successes += 1;
        } else {
            *st.errnos.entry(result.saturating_neg()).or_insert(0) += 1;
        }
        if st.log.len() < self.log_capacity {
            st.log.push(Doorbell {
                gpa: value,
                block,
                result,
            });
        }
        Some(result)
    }

    fn handle(&mut self, ram: &mut [u8], op: Op, block: &CommandBlock) -> i32 {
        match op {
            Op::Nop => 0,
            Op::Ioctl => ioctl_result(user_from(ram, block.arg_gpa).and_then(|user| {
                vsva_vfio::nesting::dispatch(block.arg0, user, self.vm.as_ref())
                    .map_err(|e| e.errno())
            })),
            Op::ReadFaults => {
                let buf = usize::try_from(block.arg_gpa).ok().and_then(|g| {
                    let end = g.checked_add(usize::try_from(block.arg0).ok()?)?;
                    ram.get_mut(g..end)
                });
                match buf {
                    // At most a RAM's worth of bytes: fits an i32.
                    Some(buf) => i32::try_from(self.vm.read_faults(buf)).unwrap_or(i32::MAX),
                    None => neg(Errno::EFAULT),
                }
            }
            Op::PageResponse => ioctl_result(user_from(ram, block.arg_gpa).and_then(|user| {
                self.vm
                    .page_response(DeviceId(block.arg0), user)
                    .map(|()| 0)
                    .map_err(Errno::from)
            })),
            Op::FaultStatus => {
                let unread = self.vm.unread_faults();
                i32::try_from(unread).unwrap_or(i32::MAX)
            }
            Op::Ready => {
                if let Some(hook) = &self.ready {
                    hook(&ReadyContext {
                        viommu: &self.viommu,
                        vm: &self.vm,
                        device: self.device,
                        previous: self.stats.ops.ready,
                    });
                }
                0
            }
        }
    }
}
