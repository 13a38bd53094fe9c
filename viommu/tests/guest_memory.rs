//! `guest::read_user` (feature `vm-memory`): a guest's request read from its RAM the way a
//! kernel copy from user memory sees it: bounded, cut at the end of RAM or at a hole, and
//! `EFAULT` from the decode for a struct that runs past what is readable.

use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};
use vsva_uapi::{CacheInvalidateInfo, Errno, Policy, UapiStruct};
use vsva_viommu::guest::{read_user, USER_WINDOW};

/// An address-selective IOTLB invalidation header (argsz 56); the rest is zero.
fn invalidation() -> [u8; 56] {
    let mut b = [0u8; 56];
    b[..4].copy_from_slice(&56u32.to_le_bytes());
    b[4] = 1; // version
    b[8] = 1; // IOTLB
    b[9] = 2; // address-selective
    b[16] = 1; // addr_info.flags = PASID
    b
}

#[test]
fn a_struct_inside_ram_is_read_whole_and_bounded_by_the_window() {
    let ram = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), 0x4000)]).unwrap();
    ram.write_slice(&invalidation(), GuestAddress(0x1000))
        .unwrap();
    let mut buf = [0u8; USER_WINDOW];
    let user = read_user(&ram, GuestAddress(0x1000), &mut buf);
    // Everything up to the end of RAM is readable, but never more than the window.
    assert_eq!(user.len(), USER_WINDOW);
    assert_eq!(&user[..56], &invalidation());
    let info = CacheInvalidateInfo::from_user(user, Policy::Linux510).unwrap();
    assert_eq!(info.granularity, 2);
}

#[test]
fn past_the_end_of_ram_is_efault_and_outside_ram_reads_nothing() {
    let ram = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), 0x2000)]).unwrap();
    let at = GuestAddress(0x2000 - 40);
    ram.write_slice(&invalidation()[..40], at).unwrap();
    let mut buf = [0u8; USER_WINDOW];
    let user = read_user(&ram, at, &mut buf);
    assert_eq!(user.len(), 40);
    let err = CacheInvalidateInfo::from_user(user, Policy::Linux510).unwrap_err();
    assert_eq!(err.errno(), Errno::EFAULT);

    for outside in [0x2000, 0x1_0000_0000, u64::MAX] {
        let user = read_user(&ram, GuestAddress(outside), &mut buf);
        assert!(user.is_empty(), "{outside:#x}");
        let err = CacheInvalidateInfo::from_user(user, Policy::Linux510).unwrap_err();
        assert_eq!(err.errno(), Errno::EFAULT);
    }
}

#[test]
fn adjacent_regions_read_through_and_a_hole_stops_the_read() {
    // Two regions back to back, then a hole, then a third.
    let ram = GuestMemoryMmap::<()>::from_ranges(&[
        (GuestAddress(0), 0x1000),
        (GuestAddress(0x1000), 0x1000),
        (GuestAddress(0x3000), 0x1000),
    ])
    .unwrap();
    let at = GuestAddress(0x1000 - 20);
    ram.write_slice(&invalidation(), at).unwrap();
    let mut buf = [0u8; 64];
    let user = read_user(&ram, at, &mut buf);
    assert_eq!(
        user.len(),
        64,
        "the read continues into the adjacent region"
    );
    assert_eq!(&user[..56], &invalidation());

    let at = GuestAddress(0x2000 - 30);
    ram.write_slice(&invalidation()[..30], at).unwrap();
    let user = read_user(&ram, at, &mut buf);
    assert_eq!(user.len(), 30, "the hole at 0x2000 ends what is readable");
    let err = CacheInvalidateInfo::from_user(user, Policy::Linux510).unwrap_err();
    assert_eq!(err.errno(), Errno::EFAULT);
}
