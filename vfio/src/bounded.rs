//! Reading files that untrusted parties control (sysfs attributes, a recorded host tree,
//! the hex and batch files of `vsva explain`) with bounded memory and time.
//!
//! [`read_prefix`] opens the file without blocking (`O_NONBLOCK`, so a FIFO with no
//! writer cannot hang the open), checks with `fstat(2)` that it is a regular file
//! (a FIFO, a socket or a character device such as `/dev/zero` is refused before
//! anything is read), and reads at most `limit` bytes: a 1 GiB file, sparse or not, costs
//! `limit` bytes.
//!
//! ```
//! use vsva_vfio::bounded::{read_prefix, ReadError};
//! let dir = std::env::temp_dir().join(format!("vsva-bounded-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let f = dir.join("attr");
//! std::fs::write(&f, "0x1f\n").unwrap();
//! assert_eq!(read_prefix(&f, 4096).unwrap(), (b"0x1f\n".to_vec(), false));
//! assert_eq!(read_prefix(&f, 2).unwrap(), (b"0x".to_vec(), true));
//! assert!(matches!(read_prefix("/dev/zero", 4096), Err(ReadError::NotRegular { .. })));
//! std::fs::remove_dir_all(&dir).unwrap();
//! ```

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

use vsva_uapi::{Release, ReleaseError};

/// Why a bounded read gave nothing.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be opened or read.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// Not a regular file: nothing was read.
    #[error("is a {kind}, not a regular file: not read")]
    NotRegular {
        /// `FIFO`, `socket`, `character device`, `block device` or `directory`.
        kind: &'static str,
    },
}

impl ReadError {
    /// The file does not exist (as opposed to existing and being refused).
    pub fn is_not_found(&self) -> bool {
        matches!(self, ReadError::Io(e) if e.kind() == io::ErrorKind::NotFound)
    }
}

/// Opens `path` for reading without blocking and checks it is a regular file.
///
/// # Errors
/// [`ReadError::Io`] from the open or `fstat(2)`; [`ReadError::NotRegular`].
pub fn open_regular(path: impl AsRef<Path>) -> Result<File, ReadError> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let t = file.metadata()?.file_type();
    if t.is_file() {
        return Ok(file);
    }
    let kind = if t.is_fifo() {
        "FIFO"
    } else if t.is_socket() {
        "socket"
    } else if t.is_char_device() {
        "character device"
    } else if t.is_block_device() {
        "block device"
    } else if t.is_dir() {
        "directory"
    } else {
        "special file"
    };
    Err(ReadError::NotRegular { kind })
}

/// The first `limit` bytes of the regular file `path`, and whether it has more.
///
/// # Errors
/// As [`open_regular`], or a read error.
pub fn read_prefix(path: impl AsRef<Path>, limit: usize) -> Result<(Vec<u8>, bool), ReadError> {
    let file = open_regular(path)?;
    let mut out = Vec::with_capacity(limit.min(64 * 1024));
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    file.take(cap).read_to_end(&mut out)?;
    let more = out.len() > limit;
    out.truncate(limit);
    Ok((out, more))
}

/// Where the running kernel names its release.
pub const OSRELEASE: &str = "/proc/sys/kernel/osrelease";

/// The most bytes a kernel release line may hold (the kernel's `__NEW_UTS_LEN` is 64;
/// anything longer is not a release).
pub const RELEASE_MAX: usize = 64;

/// Why a release file gave no [`Release`].
#[derive(Debug, thiserror::Error)]
pub enum ReleaseFileError {
    /// The file could not be read (missing, not a regular file, an IO error).
    #[error("{}: {source}", path.display())]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: ReadError,
    },
    /// The first line is longer than [`RELEASE_MAX`] bytes or not UTF-8.
    #[error("{}: not a release line (over {RELEASE_MAX} bytes or not UTF-8)", path.display())]
    NotALine {
        /// The file.
        path: std::path::PathBuf,
    },
    /// The line is not a release vsva has rules for.
    #[error("{}: `{text}`: {source}", path.display())]
    Release {
        /// The file.
        path: std::path::PathBuf,
        /// The line, trimmed.
        text: String,
        /// Why.
        source: ReleaseError,
    },
}

/// The kernel release written in `path` (an `osrelease` file: `6.12.0-1-amd64\n`),
/// read with [`read_prefix`]: non-blocking, regular files only, at most
/// [`RELEASE_MAX`] + 1 bytes.
///
/// ```
/// use vsva_vfio::bounded::{read_release, ReleaseFileError};
/// use vsva_uapi::Release;
/// let dir = std::env::temp_dir().join(format!("vsva-release-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let f = dir.join("osrelease");
/// std::fs::write(&f, "6.12.0-1-amd64\n").unwrap();
/// assert_eq!(read_release(&f).unwrap(), Release::new(6, 12));
/// std::fs::write(&f, "4.19.0\n").unwrap();
/// assert!(matches!(read_release(&f), Err(ReleaseFileError::Release { .. })));
/// assert!(matches!(read_release("/dev/zero"), Err(ReleaseFileError::Read { .. })));
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
///
/// # Errors
/// [`ReleaseFileError`]: unreadable, not a line, or not a release vsva models.
pub fn read_release(path: impl AsRef<Path>) -> Result<Release, ReleaseFileError> {
    let path = path.as_ref();
    let (bytes, more) =
        read_prefix(path, RELEASE_MAX + 1).map_err(|source| ReleaseFileError::Read {
            path: path.to_owned(),
            source,
        })?;
    let line = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    let not_a_line = || ReleaseFileError::NotALine {
        path: path.to_owned(),
    };
    if line.len() > RELEASE_MAX || (more && line.len() == bytes.len()) {
        return Err(not_a_line());
    }
    let text = std::str::from_utf8(line).map_err(|_| not_a_line())?.trim();
    Release::parse(text).map_err(|source| ReleaseFileError::Release {
        path: path.to_owned(),
        text: text.to_owned(),
        source,
    })
}

/// The running kernel's release, from [`OSRELEASE`] (see [`read_release`]).
///
/// # Errors
/// As [`read_release`].
pub fn running_release() -> Result<Release, ReleaseFileError> {
    read_release(OSRELEASE)
}
