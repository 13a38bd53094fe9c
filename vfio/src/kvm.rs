//! Attaching VFIO to a VM: the KVM-VFIO pseudo device (`KVM_DEV_TYPE_VFIO`).
//!
//! KVM must know which VFIO groups (or, since Linux 6.6, VFIO cdev device files) a VM
//! uses: it tells VFIO the `struct kvm` (needed by vGPU/mdev drivers and s390), and
//! decides from their coherency whether guest `WBINVD` must be honoured (non-coherent
//! DMA). A VMM creates one KVM-VFIO device per VM and adds every group or cdev fd to it:
//!
//! ```c
//! struct kvm_create_device cd = { .type = KVM_DEV_TYPE_VFIO };
//! ioctl(vm_fd, KVM_CREATE_DEVICE, &cd);                 // cd.fd: the device
//! int32_t file = group_or_cdev_fd;
//! struct kvm_device_attr attr = { .group = KVM_DEV_VFIO_FILE,
//!                                 .attr = KVM_DEV_VFIO_FILE_ADD,
//!                                 .addr = (uint64_t)&file };
//! ioctl(cd.fd, KVM_SET_DEVICE_ATTR, &attr);
//! ```
//!
//! [`probe_vfio_device`] asks whether the kernel has the device type without creating
//! one (`KVM_CREATE_DEVICE_TEST`).
//!
//! # Example
//!
//! ```no_run
//! use std::os::fd::AsRawFd;
//! use vsva_vfio::kvm::{probe_vfio_device, KvmVfioDevice};
//!
//! let vm = kvm_ioctls::Kvm::new()?.create_vm()?;
//! if probe_vfio_device(&vm) {
//!     let kvm_vfio = KvmVfioDevice::create(&vm)?;
//!     let group = std::fs::File::open("/dev/vfio/7")?;
//!     kvm_vfio.add_file(group.as_raw_fd())?;
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # References
//! `Documentation/virt/kvm/devices/vfio.rst`; `Documentation/virt/kvm/api.rst`
//! (4.80 `KVM_CREATE_DEVICE`, 4.81 `KVM_SET_DEVICE_ATTR`); `virt/kvm/vfio.c`.

use std::fs::File;
use std::os::fd::{AsRawFd, RawFd};

use kvm_bindings::{
    kvm_create_device, kvm_device_attr, kvm_device_type_KVM_DEV_TYPE_VFIO, KVM_CREATE_DEVICE_TEST,
    KVM_DEV_VFIO_FILE, KVM_DEV_VFIO_FILE_ADD, KVM_DEV_VFIO_FILE_DEL,
};
use kvm_ioctls::{DeviceFd, VmFd};
use vsva_uapi::Errno;

use crate::{Error, Result};

const CREATE_OP: &str = "KVM_CREATE_DEVICE(KVM_DEV_TYPE_VFIO)";
const ADD_OP: &str = "KVM_SET_DEVICE_ATTR(KVM_DEV_VFIO_FILE_ADD)";
const DEL_OP: &str = "KVM_SET_DEVICE_ATTR(KVM_DEV_VFIO_FILE_DEL)";

fn errno(e: kvm_ioctls::Error) -> Errno {
    Errno(e.errno())
}

/// A VM's KVM-VFIO pseudo device (`KVM_DEV_TYPE_VFIO`); closed on drop.
#[derive(Debug)]
pub struct KvmVfioDevice {
    fd: DeviceFd,
}

impl KvmVfioDevice {
    /// Creates the VM's KVM-VFIO device:
    /// `ioctl(vm, KVM_CREATE_DEVICE, &{type: KVM_DEV_TYPE_VFIO, flags: 0})`.
    /// The kernel allows one per VM: a second one fails with `EBUSY`.
    ///
    /// # Errors
    /// [`Error::Ioctl`] with `ENODEV` when the kernel lacks `CONFIG_KVM_VFIO`, `EBUSY`
    /// for a second device, or another errno of `KVM_CREATE_DEVICE`.
    ///
    /// # References
    /// `Documentation/virt/kvm/api.rst` 4.80; `kvm_vfio_create` in `virt/kvm/vfio.c`.
    pub fn create(vm: &VmFd) -> Result<KvmVfioDevice> {
        let mut cd = kvm_create_device {
            type_: kvm_device_type_KVM_DEV_TYPE_VFIO,
            fd: 0,
            flags: 0,
        };
        let fd = vm
            .create_device(&mut cd)
            .map_err(|e| Error::ioctl(CREATE_OP, errno(e)))?;
        Ok(KvmVfioDevice { fd })
    }

    /// The device fd.
    pub fn device_fd(&self) -> &DeviceFd {
        &self.fd
    }

    fn set_file(&self, attr: u32, file: RawFd, op: &'static str) -> Result<()> {
        // The kernel reads one `int32_t` (the fd) from `addr`; `file` lives on this
        // stack frame for the whole (synchronous) call.
        let file: i32 = file;
        let attr = kvm_device_attr {
            flags: 0,
            group: KVM_DEV_VFIO_FILE,
            attr: u64::from(attr),
            addr: std::ptr::addr_of!(file) as u64,
        };
        self.fd
            .set_device_attr(&attr)
            .map_err(|e| Error::ioctl(op, errno(e)))
    }

    /// Adds a VFIO group fd (`/dev/vfio/N`) or VFIO cdev fd (`/dev/vfio/devices/vfioN`,
    /// Linux 6.6+) to the VM:
    /// `ioctl(dev, KVM_SET_DEVICE_ATTR, &{group: KVM_DEV_VFIO_FILE, attr:
    /// KVM_DEV_VFIO_FILE_ADD, addr: &(int32_t)file})`.
    ///
    /// `file` is only read by the kernel (it takes its own reference), so any integer is
    /// safe to pass: one that is not an open fd is `EBADF`.
    ///
    /// # Errors
    /// [`Error::Ioctl`]: `EBADF` (not an open fd), `EINVAL` (not a VFIO file), `EEXIST`
    /// (already added), `EFAULT`; `ENXIO` on kernels before 6.6 for a cdev fd.
    ///
    /// # References
    /// `Documentation/virt/kvm/devices/vfio.rst`; `kvm_vfio_file_add`.
    pub fn add_file(&self, file: RawFd) -> Result<()> {
        self.set_file(KVM_DEV_VFIO_FILE_ADD, file, ADD_OP)
    }

    /// Removes a VFIO group or cdev fd from the VM (`KVM_DEV_VFIO_FILE_DEL`, same call
    /// shape as [`add_file`](Self::add_file)).
    ///
    /// # Errors
    /// [`Error::Ioctl`]: `EBADF`, `ENOENT` (not added), `EFAULT`.
    ///
    /// # References
    /// `Documentation/virt/kvm/devices/vfio.rst`; `kvm_vfio_file_del`.
    pub fn del_file(&self, file: RawFd) -> Result<()> {
        self.set_file(KVM_DEV_VFIO_FILE_DEL, file, DEL_OP)
    }
}

/// Whether the kernel can create a KVM-VFIO device for `vm`, without creating one:
/// `ioctl(vm, KVM_CREATE_DEVICE, &{type: KVM_DEV_TYPE_VFIO, flags: KVM_CREATE_DEVICE_TEST})`.
///
/// `false` for any failure; see [`probe_vfio_device_checked`] to tell "no KVM-VFIO"
/// (`ENODEV`) from a failed call.
///
/// # References
/// `Documentation/virt/kvm/api.rst` 4.80 (`KVM_CREATE_DEVICE_TEST`).
pub fn probe_vfio_device(vm: &VmFd) -> bool {
    probe_vfio_device_checked(vm).unwrap_or(false)
}

/// Like [`probe_vfio_device`], with the errors: `Ok(false)` when the kernel has no
/// KVM-VFIO device type (`ENODEV`).
///
/// With `KVM_CREATE_DEVICE_TEST` the kernel creates nothing and leaves `fd` as given,
/// but `kvm_ioctls::VmFd::create_device` still wraps `fd` in a `DeviceFd` that closes it
/// on drop (its own example passes 0 and so closes stdin). This function therefore
/// passes a descriptor it owns for the purpose (`/dev/null`) and hands its ownership to
/// that `DeviceFd`, so exactly one close happens and no other descriptor is touched.
///
/// # Errors
/// [`Error::Open`] if `/dev/null` cannot be opened; [`Error::Ioctl`] with any errno of
/// `KVM_CREATE_DEVICE` other than `ENODEV`.
pub fn probe_vfio_device_checked(vm: &VmFd) -> Result<bool> {
    let placeholder = File::open("/dev/null").map_err(|e| Error::Open {
        path: "/dev/null".into(),
        errno: Errno(e.raw_os_error().unwrap_or(libc::EIO)),
    })?;
    let raw = placeholder.as_raw_fd();
    let mut cd = kvm_create_device {
        type_: kvm_device_type_KVM_DEV_TYPE_VFIO,
        fd: raw as u32,
        flags: KVM_CREATE_DEVICE_TEST,
    };
    match vm.create_device(&mut cd) {
        Ok(dev) => {
            if cd.fd as RawFd == raw {
                // `dev` now owns the placeholder: it alone closes it.
                std::mem::forget(placeholder);
            }
            // Otherwise a kernel ignored TEST and made a real device: `dev` owns that new
            // fd and `placeholder` is still ours; both close on drop.
            drop(dev);
            Ok(true)
        }
        Err(e) if e.errno() == libc::ENODEV => Ok(false),
        Err(e) => Err(Error::ioctl(CREATE_OP, errno(e))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A VM on this host's `/dev/kvm`, or `None` (with a loud SKIP line) without one.
    fn vm(test: &str) -> Option<VmFd> {
        if !std::path::Path::new("/dev/kvm").exists() {
            let _ = std::io::Write::write_fmt(
                &mut std::io::stderr(),
                format_args!("SKIP: /dev/kvm absent: {test} needs a KVM host\n"),
            );
            return None;
        }
        let kvm = match kvm_ioctls::Kvm::new() {
            Ok(kvm) => kvm,
            Err(e) => {
                let _ = std::io::Write::write_fmt(
                    &mut std::io::stderr(),
                    format_args!("SKIP: /dev/kvm present but not usable ({e}): {test}\n"),
                );
                return None;
            }
        };
        Some(kvm.create_vm().expect("KVM_CREATE_VM"))
    }

    #[test]
    fn probing_creates_nothing_and_closes_only_its_own_fd() {
        let Some(vm) = vm("probe") else { return };
        let stdin = std::fs::read_link("/proc/self/fd/0").ok();
        let checked = probe_vfio_device_checked(&vm).expect("KVM_CREATE_DEVICE_TEST");
        println!("KVM-VFIO device supported on this host: {checked}");
        assert_eq!(probe_vfio_device(&vm), checked);
        // Stdin survived (kvm-ioctls' own example, with `fd: 0`, closes it): the
        // placeholder was the only descriptor closed.
        assert_eq!(std::fs::read_link("/proc/self/fd/0").ok(), stdin);
        // TEST created nothing, so a real device can still be created (one per VM).
        if checked {
            let dev = KvmVfioDevice::create(&vm).expect("KVM_CREATE_DEVICE");
            assert!(dev.device_fd().as_raw_fd() >= 0);
            let second = KvmVfioDevice::create(&vm).unwrap_err();
            println!("second KVM-VFIO device: {second}");
            assert_eq!(second.errno(), Errno::EBUSY);
        }
    }

    #[test]
    fn attaching_a_bad_fd_is_an_errno_not_a_panic() {
        let Some(vm) = vm("attach") else { return };
        if !probe_vfio_device(&vm) {
            let _ = std::io::Write::write_fmt(
                &mut std::io::stderr(),
                format_args!("SKIP: no KVM-VFIO device on this host: attach\n"),
            );
            return;
        }
        let dev = KvmVfioDevice::create(&vm).expect("KVM_CREATE_DEVICE");
        let e = dev.add_file(-1).unwrap_err();
        println!("add fd -1: {e}");
        assert!(matches!(e, Error::Ioctl { .. }), "{e:?}");
        assert!([Errno::EBADF, Errno::EINVAL].contains(&e.errno()), "{e:?}");
        // A file that is open but not VFIO.
        let null = File::open("/dev/null").unwrap();
        let e = dev.add_file(null.as_raw_fd()).unwrap_err();
        println!("add /dev/null: {e}");
        assert_eq!(e.errno(), Errno::EINVAL);
        let e = dev.del_file(-1).unwrap_err();
        assert!([Errno::EBADF, Errno::EINVAL].contains(&e.errno()), "{e:?}");
    }
}
