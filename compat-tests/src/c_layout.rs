//! The ABI as a C VMM sees it: `c/vsva_uapi.h`, written by hand from the reference
//! layout tables (not generated from the Rust declarations), compiled by `build.rs`
//! together with `c/conformance.c`.
//!
//! This module is the safe view of that C library:
//!
//! - [`structs`]: every C struct's `sizeof` and `_Alignof`;
//! - [`fields`]: every field's `offsetof` and `sizeof`, union members included, under
//!   the path vsva gives it ([`FieldInfo::path`], as [`vsva_uapi::field_entries`]
//!   prints it) and the member designator C used ([`FieldInfo::c_member`]);
//! - [`constants`]: the header's constants;
//! - [`samples`]: structs C fills with known values ([`Sample::fill`]) and compares,
//!   field by field, against bytes produced elsewhere ([`Sample::check`]).
//!
//! `tests/c_conformance.rs` holds these against [`vsva_uapi::ALL_STRUCTS`].
//!
//! ```
//! let info = compat_tests::c_layout::struct_named("iommu_cache_invalidate_info").unwrap();
//! assert_eq!((info.size, info.align), (56, 8));
//! let addr = compat_tests::c_layout::fields_of("iommu_cache_invalidate_info")
//!     .into_iter()
//!     .find(|f| f.path == "granu.addr_info.addr")
//!     .unwrap();
//! assert_eq!((addr.offset, addr.size), (32, 8));
//! ```

use core::fmt;

use crate::sys;

/// One C struct: `sizeof` and `_Alignof` as the C compiler lays it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StructInfo {
    /// The kernel's struct name (`iommu_cache_invalidate_info`).
    pub name: &'static str,
    /// `sizeof(struct name)`.
    pub size: usize,
    /// `_Alignof(struct name)`.
    pub align: usize,
}

/// What a field-table entry describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldRole {
    /// A field: a top-level member, or a field of a union member.
    Field,
    /// A union as a whole (vsva's raw union storage, `granu`, `vendor`, ...).
    Union,
}

/// One entry of the C field table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldInfo {
    /// The struct the field belongs to.
    pub strukt: &'static str,
    /// The path vsva gives the field (`granu.addr_info.addr`, `data.prm.grpid`).
    pub path: &'static str,
    /// The member designator C passed to `offsetof` (`granu.addr_info.addr`,
    /// `prm.grpid`); differs from [`path`](FieldInfo::path) only where the kernel's C
    /// names something vsva's flat declaration does not (anonymous unions, `range`).
    pub c_member: &'static str,
    /// `offsetof(struct, c_member)`.
    pub offset: usize,
    /// `sizeof(((struct *)0)->c_member)`.
    pub size: usize,
    /// Field or whole union.
    pub role: FieldRole,
}

impl FieldInfo {
    /// `(path, offset, size)`.
    pub fn triple(&self) -> (&'static str, usize, usize) {
        (self.path, self.offset, self.size)
    }
}

/// One constant of `vsva_uapi.h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Constant {
    /// The kernel's name (`IOMMU_INV_GRANU_ADDR`).
    pub name: &'static str,
    /// Its value, widened to 64 bits.
    pub value: u64,
}

/// Every struct `vsva_uapi.h` declares, in `ALL_STRUCTS` order.
pub fn structs() -> Vec<StructInfo> {
    (0..sys::struct_count())
        .filter_map(sys::struct_info)
        .map(|(name, size, align)| StructInfo { name, size, align })
        .collect()
}

/// The C struct called `name`, if `vsva_uapi.h` declares it.
pub fn struct_named(name: &str) -> Option<StructInfo> {
    structs().into_iter().find(|s| s.name == name)
}

/// The whole C field table, struct by struct, each struct's fields in declaration order.
pub fn fields() -> Vec<FieldInfo> {
    (0..sys::field_count())
        .filter_map(sys::field_info)
        .map(|(strukt, path, c_member, offset, size, role)| FieldInfo {
            strukt,
            path,
            c_member,
            offset,
            size,
            role: if role == 1 {
                FieldRole::Union
            } else {
                FieldRole::Field
            },
        })
        .collect()
}

/// The C field table of one struct.
pub fn fields_of(strukt: &str) -> Vec<FieldInfo> {
    fields()
        .into_iter()
        .filter(|f| f.strukt == strukt)
        .collect()
}

/// Every constant `conformance.c` exports from `vsva_uapi.h`.
pub fn constants() -> Vec<Constant> {
    (0..sys::const_count())
        .filter_map(sys::const_info)
        .map(|(name, value)| Constant { name, value })
        .collect()
}

/// A struct C fills with known values and checks against the same values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    index: usize,
    /// The sample's name (`iommu_cache_invalidate_info/addr`).
    pub name: &'static str,
    /// The struct it fills (`iommu_cache_invalidate_info`).
    pub strukt: &'static str,
    /// The number of bytes [`Sample::fill`] produces and [`Sample::check`] reads:
    /// `sizeof` the struct, or, for the nesting op, the header plus its `data[]`.
    pub len: usize,
}

/// Why C's comparison of a sample failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckError {
    /// Field number `index` (1-based, in the C comparison's order) differs from the
    /// known value; `field` is its vsva path.
    Mismatch {
        /// The 1-based position of the first differing field.
        index: usize,
        /// The field's vsva path (`granu.addr_info.addr`).
        field: &'static str,
    },
    /// Fewer bytes than the sample's length.
    TooShort {
        /// [`Sample::len`].
        need: usize,
        /// The bytes given.
        have: usize,
    },
    /// The C library does not know the sample (a stale [`Sample`]).
    NoSuchSample,
    /// A result code the C library does not document.
    Unexpected(i32),
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckError::Mismatch { index, field } => {
                write!(
                    f,
                    "C sees field #{index} `{field}` differ from the known value"
                )
            }
            CheckError::TooShort { need, have } => {
                write!(f, "{have} bytes given, the sample is {need}")
            }
            CheckError::NoSuchSample => f.write_str("no such C sample"),
            CheckError::Unexpected(r) => write!(f, "unexpected C result {r}"),
        }
    }
}

impl std::error::Error for CheckError {}

impl Sample {
    /// The bytes C produces for the sample: its known values in the C struct, copied
    /// out (`len` bytes).
    pub fn fill(&self) -> Vec<u8> {
        let mut buf = vec![0u8; self.len];
        let n = sys::sample_fill(self.index, &mut buf);
        buf.truncate(n);
        buf
    }

    /// C copies `bytes` into its struct and compares every field (of the union: the
    /// member the known value selects) with the known values.
    ///
    /// # Errors
    /// [`CheckError::Mismatch`] with the first differing field, or
    /// [`CheckError::TooShort`] when `bytes` is shorter than [`Sample::len`].
    pub fn check(&self, bytes: &[u8]) -> Result<(), CheckError> {
        match sys::sample_check(self.index, bytes) {
            (0, _) => Ok(()),
            (n, field) if n > 0 => Err(CheckError::Mismatch {
                index: n as usize,
                field: field.unwrap_or("?"),
            }),
            (sys::CHECK_TOO_SHORT, _) => Err(CheckError::TooShort {
                need: self.len,
                have: bytes.len(),
            }),
            (sys::CHECK_NO_SAMPLE, _) => Err(CheckError::NoSuchSample),
            (n, _) => Err(CheckError::Unexpected(n)),
        }
    }
}

/// Every C sample.
pub fn samples() -> Vec<Sample> {
    (0..sys::sample_count())
        .filter_map(|index| {
            let (name, strukt, len) = sys::sample_info(index)?;
            Some(Sample {
                index,
                name,
                strukt,
                len,
            })
        })
        .collect()
}

/// The C sample called `name`.
pub fn sample(name: &str) -> Option<Sample> {
    samples().into_iter().find(|s| s.name == name)
}
