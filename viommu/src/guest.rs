//! A guest's request read from its memory (feature `vm-memory`).
//!
//! A VMM whose guest passes a request by address (a doorbell carrying a GPA, a queue
//! entry pointing at a struct) reads it through vm-memory's [`GuestMemory`] with
//! [`read_user`]: the bytes readable from that address, as the kernel's copy from user
//! memory would see them. Reading stops at the end of guest RAM (or at a hole between
//! regions) and never reads more than [`USER_WINDOW`] bytes, so a hostile `argsz` costs
//! nothing: the decode ([`vsva_uapi::UapiStruct::from_user`], or a [`crate::Vm`] method
//! given the bytes) then answers `EFAULT` for a struct that runs past the end, exactly as
//! `copy_from_user` faulting would.
//!
//! ```
//! use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};
//! use vsva_uapi::{CacheInvalidateInfo, Errno, Policy, UapiStruct};
//! use vsva_viommu::guest::{read_user, USER_WINDOW};
//!
//! let ram = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), 0x2000)]).unwrap();
//! // argsz 56, version 1, IOTLB, address-selective: 40 bytes before the end of RAM.
//! let at = GuestAddress(0x2000 - 40);
//! ram.write_slice(&[56, 0, 0, 0, 1, 0, 0, 0, 1, 2], at).unwrap();
//! let mut buf = [0u8; USER_WINDOW];
//! let user = read_user(&ram, at, &mut buf);
//! assert_eq!(user.len(), 40);
//! let err = CacheInvalidateInfo::from_user(user, Policy::Linux510).unwrap_err();
//! assert_eq!(err.errno(), Errno::EFAULT);
//! ```

use vm_memory::{Bytes, GuestAddress, GuestMemory};

/// The most bytes [`read_user`] reads: one page, the most the kernel copies of an
/// extensible struct (`copy_struct_from_user` callers refuse a larger `size` with
/// `E2BIG`), and more than [`vsva_uapi::MAX_STRUCT_SIZE`].
pub const USER_WINDOW: usize = 4096;

/// The guest memory readable from `addr`, at most `buf.len()` bytes (give it a
/// [`USER_WINDOW`] buffer): a prefix of `buf` holding what was read. Empty when `addr` is
/// not in guest RAM; shorter than `buf` when RAM ends, or a hole between regions starts,
/// before it. Never fails and never panics: what is not readable is simply not there,
/// and the decode of the result turns a struct cut short into `EFAULT`.
pub fn read_user<'b, M: GuestMemory + ?Sized>(
    mem: &M,
    addr: GuestAddress,
    buf: &'b mut [u8],
) -> &'b [u8] {
    let mut done = 0usize;
    while done < buf.len() {
        let Some(at) = addr.0.checked_add(done as u64) else {
            break;
        };
        match mem.read(&mut buf[done..], GuestAddress(at)) {
            Ok(0) | Err(_) => break,
            Ok(n) => done += n,
        }
    }
    &buf[..done]
}
