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
