//! Shared by the `vmm_*` tests: the KVM check with its loud SKIP line, hand-assembled
//! guests, and command-block builders.
#![allow(dead_code)]

use std::io::Write;

use vsva_vmm::{self as vmm, Op};

/// `true` when `/dev/kvm` can run a guest here; otherwise prints a loud SKIP line (past
/// the test harness's capture, so it shows in every run) and returns `false`.
pub fn kvm_usable(test: &str) -> bool {
    match vmm::probe() {
        Ok(()) => true,
        Err(e) => {
            let line = format!("\nSKIP: {test}: /dev/kvm is absent or unusable ({e})\n");
            let _ = std::io::stderr().write_all(line.as_bytes());
            false
        }
    }
}

/// A 16-byte command block `{ op, arg0, arg_gpa, result = 0x7fff_ffff }` (the VMM
/// overwrites `result`; the sentinel shows when it did not).
pub fn block(op: u32, arg0: u32, arg_gpa: u32) -> Vec<u8> {
    [op, arg0, arg_gpa, 0x7fff_ffff]
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect()
}

/// [`block`] for a known op.
pub fn cmd(op: Op, arg0: u32, arg_gpa: u32) -> Vec<u8> {
    block(op as u32, arg0, arg_gpa)
}

/// Where [`BLOCKS`] finds its command blocks.
pub const BLOCKS_GPA: usize = 0x2000;

/// Rings the doorbell with each of `ecx` command blocks at 0x2000, 0x2010, ... in turn,
/// then reports `requests_sent = ecx` and halts. (Assembled with GNU as `.code16`.)
pub const BLOCKS: &[u8] = &[
    0xba, 0x10, 0x05, //                     mov  $0x510, %dx
    0x66, 0x89, 0xcb, //                     mov  %ecx, %ebx
    0x66, 0xb8, 0x00, 0x20, 0x00, 0x00, //   mov  $0x2000, %eax
    0x66, 0xef, //                        1: out  %eax, (%dx)
    0x66, 0x83, 0xc0, 0x10, //               add  $0x10, %eax
    0x66, 0x49, //                           dec  %ecx
    0x75, 0xf6, //                           jnz  1b
    0x66, 0xc7, 0x06, 0x00, 0x05, 0x41, 0x56, 0x53, 0x56, // movl $0x56535641, (0x500)
    0x66, 0x89, 0x1e, 0x04, 0x05, //         mov  %ebx, (0x504)
    0xf4, //                                 hlt
];

/// Rings the doorbell `ecx` times with the one block at 0x2000, writes the report magic
/// (requests_sent left 0) and halts: the NOP loop / benchmark guest.
pub const REPEAT: &[u8] = &[
    0xba, 0x10, 0x05, //                     mov  $0x510, %dx
    0x66, 0xb8, 0x00, 0x20, 0x00, 0x00, //   mov  $0x2000, %eax
    0x66, 0xef, //                        1: out  %eax, (%dx)
    0x66, 0x49, //                           dec  %ecx
    0x75, 0xfa, //                           jnz  1b
    0x66, 0xc7, 0x06, 0x00, 0x05, 0x41, 0x56, 0x53, 0x56, // movl $0x56535641, (0x500)
    0xf4, //                                 hlt
];

/// Allocates a PASID with the block at 0x2000 (request at 0x2100), copies the result
/// into `min` and `max` of the free request at 0x2110, frees it with the block at 0x2010,
/// reports `requests_sent = 2` and halts.
pub const ALLOC_FREE: &[u8] = &[
    0xba, 0x10, 0x05, //                     mov  $0x510, %dx
    0x66, 0xb8, 0x00, 0x20, 0x00, 0x00, //   mov  $0x2000, %eax
    0x66, 0xef, //                           out  %eax, (%dx)
    0x66, 0xa1, 0x0c, 0x20, //               mov  (0x200c), %eax
    0x66, 0xa3, 0x18, 0x21, //               mov  %eax, (0x2118)
    0x66, 0xa3, 0x1c, 0x21, //               mov  %eax, (0x211c)
    0x66, 0xb8, 0x10, 0x20, 0x00, 0x00, //   mov  $0x2010, %eax
    0x66, 0xef, //                           out  %eax, (%dx)
    0x66, 0xc7, 0x06, 0x00, 0x05, 0x41, 0x56, 0x53, 0x56, // movl $0x56535641, (0x500)
    0x66, 0xc7, 0x06, 0x04, 0x05, 0x02, 0x00, 0x00, 0x00, // movl $2, (0x504)
    0xf4, //                                 hlt
];

/// Bad doorbells: a block at 0xffff8 (runs past the end of RAM), a 1-byte and a 2-byte
/// `out` to the doorbell; then one good doorbell of the block at 0x2000; `hlt`.
pub const BAD_DOORBELLS: &[u8] = &[
    0xba, 0x10, 0x05, //                     mov  $0x510, %dx
    0x66, 0xb8, 0xf8, 0xff, 0x0f, 0x00, //   mov  $0xffff8, %eax
    0x66, 0xef, //                           out  %eax, (%dx)
    0x66, 0xb8, 0x00, 0x20, 0x00, 0x00, //   mov  $0x2000, %eax
    0xee, //                                 out  %al, (%dx)
    0xef, //                                 out  %ax, (%dx)
    0x66, 0xef, //                           out  %eax, (%dx)
    0xf4, //                                 hlt
];

/// `out %al` to port 0x80 (not the doorbell).
pub const PORT_80: &[u8] = &[
    0xba, 0x80, 0x00, //                     mov  $0x80, %dx
    0xee, //                                 out  %al, (%dx)
    0xf4, //                                 hlt
];

/// A byte write at 0xffff:0x10 = GPA 0x100000, just past RAM: an MMIO exit.
pub const MMIO_WRITE: &[u8] = &[
    0xb8, 0xff, 0xff, //                     mov  $0xffff, %ax
    0x8e, 0xd8, //                           mov  %ax, %ds
    0xc6, 0x06, 0x10, 0x00, 0x00, //         movb $0, (0x10)
    0xf4, //                                 hlt
];

/// A loop with no exits.
pub const SPIN: &[u8] = &[
    0xeb, 0xfe, //                        1: jmp  1b
];
