//! A scripted kernel: answers every [`Kernel`] call from responders a test registers,
//! and records every call, so each wrapper is tested without `/dev/vfio` or `/dev/iommu`
//! — including the errnos, short and oversize replies and malformed capability chains
//! a real kernel would rarely produce.
//!
//! Every fd number it hands out is a **real open descriptor** (each `open` and each
//! fd-returning reply opens `/dev/null`, closed by the scripted `close`), so a
//! [`KernelFd`](super::KernelFd)'s `AsFd` is sound on it too; fds a test hands over
//! ([`Kernel::adopt`], [`Kernel::lend`]) are answered as opened at the path set by
//! [`ScriptedKernel::set_adopted_path`].
//!
//! ```
//! use std::path::Path;
//! use std::sync::Arc;
//! use vsva_vfio::scripted::{Call, Reply, ScriptedKernel};
//! use vsva_vfio::sys::Kernel;
//! use vsva_uapi::Errno;
//!
//! let k = ScriptedKernel::new();
//! k.add_path("/dev/vfio/vfio");
//! k.on(0x3b64, |_path, _call| Ok(Reply::Value(0))); // VFIO_GET_API_VERSION
//! let kernel: Arc<dyn Kernel> = Arc::new(k.clone());
//! let c = vsva_vfio::container::Container::open(Arc::clone(&kernel)).unwrap();
//! assert_eq!(c.api_version().unwrap(), 0);
//! assert_eq!(k.calls()[0].request, 0x3b64);
//! assert_eq!(k.open(Path::new("/dev/iommu"), true), Err(Errno::ENOENT));
//! ```

use std::collections::HashMap;
use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use vsva_uapi::Errno;

#[cfg(test)]
use super::KernelFd;
use super::{declared_size, prepare_data, DataLen, Kernel};

/// The argument of one scripted ioctl, as the responder sees it.
#[derive(Debug)]
pub enum Call<'a> {
    /// [`Kernel::ioctl_value`].
    Value(u64),
    /// [`Kernel::ioctl_i32`].
    I32(&'a mut i32),
    /// [`Kernel::ioctl_cstr`].
    Cstr(&'a CStr),
    /// [`Kernel::ioctl_sized`]: the struct, exactly its declared size.
    Sized(&'a mut [u8]),
    /// [`Kernel::ioctl_sized_data`]: the struct and the buffer its pointer field names
    /// (as long as the struct's length field says).
    SizedData {
        /// The struct, exactly its declared size.
        arg: &'a mut [u8],
        /// The data buffer, as long as the struct's length field(s) describe.
        data: &'a mut [u8],
    },
    /// [`Kernel::dma_map`]: the struct, exactly its declared size.
    DmaMap(&'a mut [u8]),
}

/// What a scripted ioctl returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// The ioctl's non-negative return value.
    Value(i32),
    /// A new file descriptor for `path` (`VFIO_GROUP_GET_DEVICE_FD`, fault queues).
    NewFd(PathBuf),
}

/// A responder: given the path the fd was opened as and the call, answer.
pub type Responder = Box<dyn FnMut(&Path, Call<'_>) -> Result<Reply, Errno> + Send>;
/// A read responder: fill the buffer (at the offset, for `pread`) and return the count.
pub type Reader = Box<dyn FnMut(&mut [u8], Option<u64>) -> Result<usize, Errno> + Send>;
/// A write responder: take the bytes (at the offset, for `pwrite`) and return the count.
pub type Writer = Box<dyn FnMut(&[u8], Option<u64>) -> Result<usize, Errno> + Send>;

/// One recorded call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The path of the fd the call was made on.
    pub path: PathBuf,
    /// The ioctl request (0 for reads and writes).
    pub request: u32,
    /// The argument bytes as the caller passed them (before the responder ran).
    pub arg: Vec<u8>,
}

impl Recorded {
    /// The declaration of the recorded ioctl ([`vsva_uapi::ioctl`]), if vsva declares one
    /// with this number.
    pub fn ioctl(&self) -> Option<&'static vsva_uapi::ioctl::IoctlInfo> {
        vsva_uapi::ioctl::ioctl_numbered(self.request)
    }
}

/// A responder's view of a declared ioctl's argument: `arg` (the bytes the caller sent)
/// read as the kernel's copy of the struct `T` the ioctl declares (bytes past what was
/// sent read as zero), handed to `f` to read and fill in by field name, and written back
/// to `arg` (never more than was sent, as the kernel does). `ioctl` only names the
/// struct: `as_declared(&ioctl::IOMMU_HWPT_ALLOC, arg, |req| ...)` gets an
/// `iommu_hwpt_alloc`.
pub fn as_declared<T: vsva_uapi::UapiStruct, R>(
    _ioctl: &vsva_uapi::ioctl::Ioctl<T>,
    arg: &mut [u8],
    f: impl FnOnce(&mut T) -> R,
) -> R {
    let mut value = T::new_zeroed();
    let n = arg.len().min(T::DECL.size);
    value.as_mut_bytes()[..n].copy_from_slice(&arg[..n]);
    let r = f(&mut value);
    arg[..n].copy_from_slice(&value.as_bytes()[..n]);
    r
}

#[derive(Default)]
struct State {
    paths: HashMap<PathBuf, Result<(), Errno>>,
    /// Every fd in use, with the path it answers as.
    fds: HashMap<RawFd, PathBuf>,
    /// The descriptors behind the owned fds (`/dev/null`s, or adopted ones).
    backing: HashMap<RawFd, OwnedFd>,
    /// How many lends of each lent fd are active.
    lends: HashMap<RawFd, usize>,
    adopted_path: PathBuf,
    responders: HashMap<u32, Responder>,
    readers: HashMap<PathBuf, Reader>,
    writers: HashMap<PathBuf, Writer>,
    log: Vec<Recorded>,
    closed: Vec<RawFd>,
}

/// A kernel that answers from a script. Unscripted ioctls are `ENOTTY` (as on a kernel
/// without them); unknown paths are `ENOENT`; unknown fds are `EBADF`.
#[derive(Clone, Default)]
pub struct ScriptedKernel {
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for ScriptedKernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptedKernel").finish_non_exhaustive()
    }
}

impl ScriptedKernel {
    /// An empty script.
    pub fn new() -> ScriptedKernel {
        let k = ScriptedKernel::default();
        k.lock().adopted_path = PathBuf::from("adopted");
        k
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes `path` openable.
    pub fn add_path(&self, path: impl Into<PathBuf>) -> &Self {
        self.lock().paths.insert(path.into(), Ok(()));
        self
    }

    /// Makes opening `path` fail with `errno` (e.g. `EACCES`, `EBUSY`).
    pub fn fail_path(&self, path: impl Into<PathBuf>, errno: Errno) -> &Self {
        self.lock().paths.insert(path.into(), Err(errno));
        self
    }

    /// Answers ioctl `request` (on any fd) with `responder`; a later call replaces it.
    pub fn on(
        &self,
        request: u32,
        responder: impl FnMut(&Path, Call<'_>) -> Result<Reply, Errno> + Send + 'static,
    ) -> &Self {
        self.lock().responders.insert(request, Box::new(responder));
        self
    }

    /// Answers `read`/`pread` on fds opened as `path`.
    pub fn on_read(
        &self,
        path: impl Into<PathBuf>,
        reader: impl FnMut(&mut [u8], Option<u64>) -> Result<usize, Errno> + Send + 'static,
    ) -> &Self {
        self.lock().readers.insert(path.into(), Box::new(reader));
        self
    }

    /// Answers `write`/`pwrite` on fds opened as `path`.
    pub fn on_write(
        &self,
        path: impl Into<PathBuf>,
        writer: impl FnMut(&[u8], Option<u64>) -> Result<usize, Errno> + Send + 'static,
    ) -> &Self {
        self.lock().writers.insert(path.into(), Box::new(writer));
        self
    }

    /// The path fds adopted or lent from now on answer as (default `adopted`): the
    /// path responders, readers and writers see for them.
    pub fn set_adopted_path(&self, path: impl Into<PathBuf>) -> &Self {
        self.lock().adopted_path = path.into();
        self
    }

    /// Every ioctl made so far, in order.
    pub fn calls(&self) -> Vec<Recorded> {
        self.lock().log.clone()
    }

    /// The fds closed so far, in order.
    pub fn closed(&self) -> Vec<RawFd> {
        self.lock().closed.clone()
    }

    /// The number of fds in use now (owned and lent).
    pub fn open_fds(&self) -> usize {
        self.lock().fds.len()
    }

    /// A new owned fd answering as `path`, backed by a fresh `/dev/null`.
    fn new_fd(state: &mut State, path: PathBuf) -> Result<RawFd, Errno> {
        let null = std::fs::File::open("/dev/null")
            .map_err(|e| Errno(e.raw_os_error().unwrap_or(libc::EMFILE)))?;
        let fd = null.as_raw_fd();
        state.fds.insert(fd, path);
        state.backing.insert(fd, null.into());
        Ok(fd)
    }

    fn ioctl(
        &self,
        fd: RawFd,
        request: u32,
        snapshot: &[u8],
        call: Call<'_>,
    ) -> Result<i32, Errno> {
        let mut state = self.lock();
        let path = state.fds.get(&fd).cloned().ok_or(Errno::EBADF)?;
        state.log.push(Recorded {
            path: path.clone(),
            request,
            arg: snapshot.to_vec(),
        });
        let reply = match state.responders.get_mut(&request) {
            Some(r) => r(&path, call)?,
            None => return Err(Errno::ENOTTY),
        };
        match reply {
            Reply::Value(v) => Ok(v),
            Reply::NewFd(p) => Self::new_fd(&mut state, p),
        }
    }
}

// SAFETY: the scripted kernel makes no ioctl and no read or write: every method works on
// its own state and on the buffers it is handed, within their bounds (`declared_size` and
// `prepare_data` bound what a responder sees), so no argument can make it touch memory or
// an fd it does not own. Its only system calls open and close the `/dev/null`s behind the
// numbers it hands out (owned `File`s / `OwnedFd`s, closed by `close` when their
// `KernelFd` drops), which is what keeps every number a real open fd while it is in use.
unsafe impl Kernel for ScriptedKernel {
    fn open(&self, path: &Path, _write: bool) -> Result<RawFd, Errno> {
        let mut state = self.lock();
        match state.paths.get(path) {
            Some(Ok(())) => Self::new_fd(&mut state, path.to_path_buf()),
            Some(Err(e)) => Err(*e),
            None => Err(Errno::ENOENT),
        }
    }

    fn adopt(&self, fd: OwnedFd) -> RawFd {
        let mut state = self.lock();
        let raw = fd.as_raw_fd();
        let path = state.adopted_path.clone();
        state.fds.insert(raw, path);
        state.backing.insert(raw, fd);
        raw
    }

    fn lend(&self, fd: BorrowedFd<'_>) -> RawFd {
        let mut state = self.lock();
        let raw = fd.as_raw_fd();
        if !state.fds.contains_key(&raw) {
            let path = state.adopted_path.clone();
            state.fds.insert(raw, path);
        }
        *state.lends.entry(raw).or_default() += 1;
        raw
    }

    unsafe fn release(&self, fd: RawFd) {
        let mut state = self.lock();
        let left = state.lends.get_mut(&fd).map(|n| {
            *n = n.saturating_sub(1);
            *n
        });
        if left == Some(0) {
            state.lends.remove(&fd);
            if !state.backing.contains_key(&fd) {
                state.fds.remove(&fd);
            }
        }
    }

    unsafe fn close(&self, fd: RawFd) {
        let mut state = self.lock();
        // Dropping the backing descriptor closes it.
        drop(state.backing.remove(&fd));
        if !state.lends.contains_key(&fd) {
            state.fds.remove(&fd);
        }
        state.closed.push(fd);
    }

    unsafe fn ioctl_value(&self, fd: RawFd, request: u32, value: u64) -> Result<i32, Errno> {
        self.ioctl(fd, request, &value.to_ne_bytes(), Call::Value(value))
    }

    unsafe fn ioctl_i32(&self, fd: RawFd, request: u32, arg: &mut i32) -> Result<i32, Errno> {
        let snapshot = arg.to_ne_bytes();
        self.ioctl(fd, request, &snapshot, Call::I32(arg))
    }

    unsafe fn ioctl_cstr(&self, fd: RawFd, request: u32, arg: &CStr) -> Result<i32, Errno> {
        self.ioctl(fd, request, arg.to_bytes(), Call::Cstr(arg))
    }

    unsafe fn ioctl_sized(&self, fd: RawFd, request: u32, arg: &mut [u8]) -> Result<i32, Errno> {
        let size = declared_size(arg).ok_or(Errno::EINVAL)?;
        let arg = &mut arg[..size];
        let snapshot = arg.to_vec();
        self.ioctl(fd, request, &snapshot, Call::Sized(arg))
    }

    unsafe fn ioctl_sized_data(
        &self,
        fd: RawFd,
        request: u32,
        arg: &mut [u8],
        ptr_at: usize,
        len: DataLen,
        data: &mut [u8],
    ) -> Result<i32, Errno> {
        // The scripted kernel cannot follow a real pointer; it records a marker instead.
        let (size, n) = prepare_data(arg, ptr_at, len, 0x5c12_17ed_da7a_0000, data.len())?;
        let arg = &mut arg[..size];
        let snapshot = arg.to_vec();
        self.ioctl(
            fd,
            request,
            &snapshot,
            Call::SizedData {
                arg,
                data: &mut data[..n],
            },
        )
    }

    unsafe fn dma_map(&self, fd: RawFd, request: u32, arg: &mut [u8]) -> Result<i32, Errno> {
        let size = declared_size(arg).ok_or(Errno::EINVAL)?;
        let arg = &mut arg[..size];
        let snapshot = arg.to_vec();
        self.ioctl(fd, request, &snapshot, Call::DmaMap(arg))
    }

    unsafe fn pread(&self, fd: RawFd, buf: &mut [u8], offset: u64) -> Result<usize, Errno> {
        let mut state = self.lock();
        let path = state.fds.get(&fd).cloned().ok_or(Errno::EBADF)?;
        let r = state.readers.get_mut(&path).ok_or(Errno::EINVAL)?;
        r(buf, Some(offset))
    }

    unsafe fn pwrite(&self, fd: RawFd, buf: &[u8], offset: u64) -> Result<usize, Errno> {
        let mut state = self.lock();
        let path = state.fds.get(&fd).cloned().ok_or(Errno::EBADF)?;
        let w = state.writers.get_mut(&path).ok_or(Errno::EINVAL)?;
        w(buf, Some(offset))
    }

    unsafe fn read(&self, fd: RawFd, buf: &mut [u8]) -> Result<usize, Errno> {
        let mut state = self.lock();
        let path = state.fds.get(&fd).cloned().ok_or(Errno::EBADF)?;
        let r = state.readers.get_mut(&path).ok_or(Errno::EINVAL)?;
        r(buf, None)
    }

    unsafe fn write(&self, fd: RawFd, buf: &[u8]) -> Result<usize, Errno> {
        let mut state = self.lock();
        let path = state.fds.get(&fd).cloned().ok_or(Errno::EBADF)?;
        let w = state.writers.get_mut(&path).ok_or(Errno::EINVAL)?;
        w(buf, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fds_close_on_drop_and_new_fds_come_from_replies() {
        let k = ScriptedKernel::new();
        k.add_path("/dev/vfio/7");
        k.on(0x3b6a, |_, call| match call {
            Call::Cstr(name) if name.to_bytes() == b"0000:00:02.0" => {
                Ok(Reply::NewFd("device:0000:00:02.0".into()))
            }
            _ => Err(Errno::EINVAL),
        });
        let kernel: Arc<dyn Kernel> = Arc::new(k.clone());
        let group = KernelFd::open(&kernel, Path::new("/dev/vfio/7"), true).unwrap();
        let dev = group.ioctl_cstr_fd(0x3b6a, c"0000:00:02.0").unwrap();
        assert_eq!(k.open_fds(), 2);
        assert_eq!(
            group.ioctl_cstr_fd(0x3b6a, c"x").map(|fd| fd.raw()),
            Err(Errno::EINVAL)
        );
        drop(dev);
        drop(group);
        assert_eq!(k.open_fds(), 0);
        assert_eq!(k.calls().len(), 2);
    }

    #[test]
    fn sized_calls_see_exactly_the_declared_size() {
        let k = ScriptedKernel::new();
        k.add_path("/dev/iommu");
        k.on(0x3b8a, |_, call| match call {
            Call::SizedData { arg, data } => {
                assert_eq!(arg.len(), 32);
                assert_eq!(data.len(), 4);
                data.copy_from_slice(&[1, 2, 3, 4]);
                Ok(Reply::Value(0))
            }
            _ => Err(Errno::EINVAL),
        });
        let kernel: Arc<dyn Kernel> = Arc::new(k.clone());
        let fd = KernelFd::open(&kernel, Path::new("/dev/iommu"), true).unwrap();
        let mut arg = [0u8; 40];
        arg[..4].copy_from_slice(&32u32.to_ne_bytes());
        arg[12..16].copy_from_slice(&4u32.to_ne_bytes());
        let mut data = [0u8; 8];
        let len = DataLen::Bytes { at: 12 };
        assert_eq!(
            fd.ioctl_sized_data(0x3b8a, &mut arg, 16, len, &mut data),
            Ok(0)
        );
        assert_eq!(data, [1, 2, 3, 4, 0, 0, 0, 0]);
        arg[..4].copy_from_slice(&41u32.to_ne_bytes());
        assert_eq!(
            fd.ioctl_sized_data(0x3b8a, &mut arg, 16, len, &mut data),
            Err(Errno::EINVAL)
        );
    }
}
