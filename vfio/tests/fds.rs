//! Handles built from a VMM's fds: owned (`from_owned`, `From<OwnedFd>`: vsva closes) and
//! borrowed (`borrow`, an `FdView`: the owner closes), on the scripted kernel (whose fd
//! numbers are real `/dev/null`s) and on the real kernel with real fds; and `AsFd` hands
//! out only real open descriptors.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use vsva_uapi::iommufd::HwptPageResponse;
use vsva_uapi::vfio_core::{VFIO_DEVICE_RESET, VFIO_GET_API_VERSION, VFIO_GROUP_UNSET_CONTAINER};
use vsva_uapi::Errno;
use vsva_vfio::cdev::{CdevDevice, VFIO_DEVICE_DETACH_IOMMUFD_PT};
use vsva_vfio::container::Container;
use vsva_vfio::device::Device;
use vsva_vfio::group::Group;
use vsva_vfio::iommufd::{DevId, FaultId, FaultQueue, Iommufd, IOMMU_IOAS_ALLOC};
use vsva_vfio::scripted::{Call, Reply, ScriptedKernel};
use vsva_vfio::sys::{Host, Kernel};
use zerocopy::FromZeros;

fn null() -> OwnedFd {
    File::open("/dev/null").unwrap().into()
}

/// Where `/proc/self/fd/<fd>` points (None: not open).
fn target(fd: RawFd) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/self/fd/{fd}")).ok()
}

/// A scripted kernel answering `request` with 0, recording the paths it was made on.
fn answering(requests: &[u32]) -> (ScriptedKernel, Arc<Mutex<Vec<PathBuf>>>) {
    let k = ScriptedKernel::new();
    let seen = Arc::new(Mutex::new(Vec::new()));
    for &request in requests {
        let seen = Arc::clone(&seen);
        k.on(request, move |path, call| {
            seen.lock().unwrap().push(path.to_path_buf());
            if let (IOMMU_IOAS_ALLOC, Call::Sized(arg)) = (request, call) {
                arg[8..12].copy_from_slice(&7u32.to_ne_bytes());
            }
            Ok(Reply::Value(0))
        });
    }
    (k, seen)
}

#[test]
fn scripted_fds_are_real_open_descriptors() {
    let k = ScriptedKernel::new();
    k.add_path("/dev/iommu");
    let fd = Iommufd::open(Arc::new(k.clone())).unwrap();
    let raw = fd.as_raw_fd();
    assert_eq!(raw, fd.fd().raw());
    // The number AsFd hands out is an open fd of this process: a /dev/null.
    assert_eq!(target(raw).as_deref(), Some(Path::new("/dev/null")));
    let dup = fd.as_fd().try_clone_to_owned().unwrap();
    assert_ne!(dup.as_raw_fd(), raw);
    drop(fd);
    assert_eq!(k.open_fds(), 0);
    assert_eq!(k.closed(), vec![raw]);
}

#[test]
fn an_adopted_fd_is_answered_as_its_path_and_closed_by_vsva() {
    let (k, seen) = answering(&[IOMMU_IOAS_ALLOC]);
    k.set_adopted_path("/dev/iommu");
    let owned = null();
    let raw = owned.as_raw_fd();
    let fd = Iommufd::from_owned(Arc::new(k.clone()), owned);
    assert_eq!(fd.as_raw_fd(), raw);
    assert!(fd.fd().is_owned());
    assert_eq!(fd.ioas_alloc().unwrap().0, 7);
    assert_eq!(*seen.lock().unwrap(), vec![PathBuf::from("/dev/iommu")]);
    assert_eq!(k.open_fds(), 1);
    drop(fd);
    assert_eq!(k.open_fds(), 0);
    assert_eq!(k.closed(), vec![raw]);
}

#[test]
fn a_borrowed_fd_is_used_and_never_closed() {
    let (k, seen) = answering(&[IOMMU_IOAS_ALLOC]);
    let kernel: Arc<dyn Kernel> = Arc::new(k.clone());
    let vmm = File::open("/dev/null").unwrap();
    {
        let view = Iommufd::borrow(Arc::clone(&kernel), vmm.as_fd());
        assert_eq!(view.as_raw_fd(), vmm.as_raw_fd());
        assert!(!view.fd().is_owned());
        assert_eq!(view.ioas_alloc().unwrap().0, 7);
        // Two views of one fd: the first to go does not end the other's.
        let second = Iommufd::borrow(Arc::clone(&kernel), vmm.as_fd());
        drop(second);
        assert_eq!(view.ioas_alloc().unwrap().0, 7);
        assert_eq!(k.open_fds(), 1);
    }
    assert_eq!(k.open_fds(), 0);
    assert!(k.closed().is_empty(), "{:?}", k.closed());
    assert_eq!(seen.lock().unwrap().len(), 2);
    // Still the VMM's, still open.
    assert!(vmm.metadata().is_ok());
    assert_eq!(
        target(vmm.as_raw_fd()).as_deref(),
        Some(Path::new("/dev/null"))
    );
}

#[test]
fn a_vmm_bound_cdev_comes_with_its_dev_id() {
    let (k, seen) = answering(&[VFIO_DEVICE_DETACH_IOMMUFD_PT]);
    k.set_adopted_path("/dev/vfio/devices/vfio0");
    let kernel: Arc<dyn Kernel> = Arc::new(k.clone());
    let owned = CdevDevice::from_owned(Arc::clone(&kernel), null(), Some(DevId(3)));
    assert_eq!(owned.dev_id(), Some(DevId(3)));
    assert_eq!(owned.path(), None);
    owned.detach().unwrap();
    let vmm = File::open("/dev/null").unwrap();
    let view = CdevDevice::borrow(Arc::clone(&kernel), vmm.as_fd(), None);
    assert_eq!(view.dev_id(), None);
    assert_eq!(view.as_raw_fd(), vmm.as_raw_fd());
    assert_eq!(view.device().as_raw_fd(), vmm.as_raw_fd());
    view.detach().unwrap();
    assert_eq!(seen.lock().unwrap().len(), 2);
    let raw = owned.as_raw_fd();
    drop((owned, view));
    assert_eq!(k.closed(), vec![raw]);
    assert!(vmm.metadata().is_ok());
}

#[test]
fn legacy_handles_and_fault_queues_from_fds() {
    let (k, seen) = answering(&[
        VFIO_GET_API_VERSION,
        VFIO_GROUP_UNSET_CONTAINER,
        VFIO_DEVICE_RESET,
    ]);
    let kernel: Arc<dyn Kernel> = Arc::new(k.clone());
    k.set_adopted_path("/dev/vfio/vfio");
    let container = Container::from_owned(Arc::clone(&kernel), null());
    assert_eq!(container.api_version().unwrap(), 0);
    k.set_adopted_path("/dev/vfio/12");
    let group = Group::from_owned(Arc::clone(&kernel), null(), 12);
    assert_eq!(group.number(), 12);
    group.unset_container().unwrap();
    k.set_adopted_path("device");
    let device = Device::from_owned(Arc::clone(&kernel), null());
    device.reset().unwrap();
    k.set_adopted_path("fault");
    let written = Arc::new(Mutex::new(0usize));
    let w = Arc::clone(&written);
    k.on_write("fault", move |buf, _| {
        *w.lock().unwrap() += buf.len();
        Ok(buf.len())
    });
    let queue = FaultQueue::from_owned(Arc::clone(&kernel), null(), FaultId(9));
    assert_eq!(queue.id, FaultId(9));
    assert_eq!(queue.respond(&[HwptPageResponse::new_zeroed()]).unwrap(), 1);
    let vmm = File::open("/dev/null").unwrap();
    {
        let c = Container::borrow(Arc::clone(&kernel), vmm.as_fd());
        assert_eq!(c.api_version().unwrap(), 0);
        let g = Group::borrow(Arc::clone(&kernel), vmm.as_fd(), 4);
        assert_eq!(g.number(), 4);
        g.unset_container().unwrap();
        let d = Device::borrow(Arc::clone(&kernel), vmm.as_fd());
        d.reset().unwrap();
        let q = FaultQueue::borrow(Arc::clone(&kernel), vmm.as_fd(), FaultId(10));
        assert_eq!(q.id, FaultId(10));
        assert_eq!(q.respond(&[HwptPageResponse::new_zeroed()]).unwrap(), 1);
        for fd in [c.as_raw_fd(), g.as_raw_fd(), d.as_raw_fd(), q.as_raw_fd()] {
            assert_eq!(fd, vmm.as_raw_fd());
        }
    }
    assert_eq!(*written.lock().unwrap(), 16);
    assert_eq!(
        seen.lock().unwrap().as_slice(),
        [
            "/dev/vfio/vfio",
            "/dev/vfio/12",
            "device",
            "fault",
            "fault",
            "fault"
        ]
        .map(PathBuf::from)
        .as_slice()
    );
    let owned = [
        container.as_raw_fd(),
        group.as_raw_fd(),
        device.as_raw_fd(),
        queue.as_raw_fd(),
    ];
    drop((container, group, device, queue));
    assert_eq!(k.closed(), owned.to_vec());
    assert_eq!(k.open_fds(), 0);
    assert!(vmm.metadata().is_ok());
}

/// A file of this test's own, so `/proc/self/fd` can tell it from any other test's fds.
fn unique_file(name: &str) -> (PathBuf, File) {
    let dir = std::env::temp_dir().join(format!("vsva-fds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let file = File::create(&path).unwrap();
    (path, file)
}

#[test]
fn the_real_kernel_takes_owned_fds_and_lends_borrowed_ones() {
    let (path, file) = unique_file("owned");
    let raw = file.as_raw_fd();
    let fd = Iommufd::from(OwnedFd::from(file));
    assert_eq!(fd.as_raw_fd(), raw);
    assert_eq!(target(fd.as_raw_fd()).as_deref(), Some(path.as_path()));
    // A real ioctl on a file that is no iommufd.
    assert_eq!(fd.ioas_alloc().unwrap_err().errno(), Errno::ENOTTY);
    drop(fd);
    // Closed: the number is gone or, reused by another test, no longer this file.
    assert_ne!(target(raw).as_deref(), Some(path.as_path()));

    let (path, vmm) = unique_file("borrowed");
    let kernel: Arc<dyn Kernel> = Arc::new(Host);
    {
        let view = CdevDevice::borrow(Arc::clone(&kernel), vmm.as_fd(), Some(DevId(1)));
        assert_eq!(view.detach().unwrap_err().errno(), Errno::ENOTTY);
        assert_eq!(view.as_raw_fd(), vmm.as_raw_fd());
    }
    assert_eq!(target(vmm.as_raw_fd()).as_deref(), Some(path.as_path()));
    drop(vmm);
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}
