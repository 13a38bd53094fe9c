//! FFI to the C conformance library built by `build.rs` from `c/conformance.c` — the
//! crate's only unsafe code. Every function here is a thin safe wrapper that turns the
//! C results into owned or `'static` Rust values; [`crate::c_layout`] is the public API.
//!
//! The C side keeps every table, name and path in static storage (string literals and
//! `static const` arrays), never frees or mutates them, and range-checks every index
//! (returning `NULL` / `0` past the end). That is what makes the wrappers sound.

use core::ffi::{c_char, c_int, c_void, CStr};
use core::ptr;

/// `struct vsva_c_struct_info`.
#[repr(C)]
struct RawStructInfo {
    name: *const c_char,
    size: usize,
    align: usize,
}

/// `struct vsva_c_field_info`.
#[repr(C)]
struct RawFieldInfo {
    strukt: *const c_char,
    path: *const c_char,
    c_member: *const c_char,
    offset: usize,
    size: usize,
    role: u32,
}

/// `struct vsva_c_const_info`.
#[repr(C)]
struct RawConstInfo {
    name: *const c_char,
    value: u64,
}

// SAFETY: these declarations match the definitions in c/conformance.c ("Exported API"),
// with `size_t` as `usize` and `int` as `c_int`. The functions marked `safe` take no
// pointers, read only static data, and are defined for every argument value (an index
// out of range gives NULL or 0), so calling them can never be unsound; returning a raw
// pointer is safe, and every dereference below is in its own documented `unsafe` block.
unsafe extern "C" {
    safe fn vsva_c_struct_count() -> usize;
    safe fn vsva_c_struct(i: usize) -> *const RawStructInfo;
    safe fn vsva_c_field_count() -> usize;
    safe fn vsva_c_field(i: usize) -> *const RawFieldInfo;
    safe fn vsva_c_const_count() -> usize;
    safe fn vsva_c_const(i: usize) -> *const RawConstInfo;
    safe fn vsva_c_sample_count() -> usize;
    safe fn vsva_c_sample_name(i: usize) -> *const c_char;
    safe fn vsva_c_sample_struct(i: usize) -> *const c_char;
    safe fn vsva_c_sample_len(i: usize) -> usize;
    fn vsva_c_sample_fill(i: usize, buf: *mut c_void, len: usize) -> usize;
    fn vsva_c_sample_check(
        i: usize,
        buf: *const c_void,
        len: usize,
        field: *mut *const c_char,
    ) -> c_int;
}

/// `VSVA_C_CHECK_NO_SAMPLE`: the sample index is out of range.
pub(crate) const CHECK_NO_SAMPLE: i32 = -1;
/// `VSVA_C_CHECK_TOO_SHORT`: the buffer is shorter than the sample.
pub(crate) const CHECK_TOO_SHORT: i32 = -2;

/// A C string from the library's static storage, as `&'static str`.
fn static_str(p: *const c_char) -> Option<&'static str> {
    if p.is_null() {
        return None;
    }
    // SAFETY: every non-NULL `const char *` the library returns points to a
    // NUL-terminated string literal in static storage, which lives for the whole
    // program and is never written.
    let s: &'static CStr = unsafe { CStr::from_ptr(p) };
    s.to_str().ok()
}

/// `vsva_c_struct(i)`: `(name, sizeof, _Alignof)`.
pub(crate) fn struct_info(i: usize) -> Option<(&'static str, usize, usize)> {
    let p = vsva_c_struct(i);
    if p.is_null() {
        return None;
    }
    // SAFETY: non-NULL results point into the library's `static const` struct table,
    // properly aligned and initialised, valid for the program's lifetime and never
    // mutated; `RawStructInfo` has the C struct's layout.
    let raw = unsafe { &*p };
    Some((static_str(raw.name)?, raw.size, raw.align))
}

/// `vsva_c_struct_count()`.
pub(crate) fn struct_count() -> usize {
    vsva_c_struct_count()
}

/// One field-table entry: `(struct, path, C member, offset, size, role)`.
pub(crate) type FieldRow = (&'static str, &'static str, &'static str, usize, usize, u32);

/// `vsva_c_field(i)`.
pub(crate) fn field_info(i: usize) -> Option<FieldRow> {
    let p = vsva_c_field(i);
    if p.is_null() {
        return None;
    }
    // SAFETY: non-NULL results point into the library's `static const` field table,
    // properly aligned and initialised, valid for the program's lifetime and never
    // mutated; `RawFieldInfo` has the C struct's layout.
    let raw = unsafe { &*p };
    Some((
        static_str(raw.strukt)?,
        static_str(raw.path)?,
        static_str(raw.c_member)?,
        raw.offset,
        raw.size,
        raw.role,
    ))
}

/// `vsva_c_field_count()`.
pub(crate) fn field_count() -> usize {
    vsva_c_field_count()
}

/// `vsva_c_const(i)`: `(name, value)`.
pub(crate) fn const_info(i: usize) -> Option<(&'static str, u64)> {
    let p = vsva_c_const(i);
    if p.is_null() {
        return None;
    }
    // SAFETY: non-NULL results point into the library's `static const` constant
    // table, properly aligned and initialised, valid for the program's lifetime and
    // never mutated; `RawConstInfo` has the C struct's layout.
    let raw = unsafe { &*p };
    Some((static_str(raw.name)?, raw.value))
}

/// `vsva_c_const_count()`.
pub(crate) fn const_count() -> usize {
    vsva_c_const_count()
}

/// `vsva_c_sample_count()`.
pub(crate) fn sample_count() -> usize {
    vsva_c_sample_count()
}

/// `(sample name, struct name, length of the filled bytes)` of sample `i`.
pub(crate) fn sample_info(i: usize) -> Option<(&'static str, &'static str, usize)> {
    let name = static_str(vsva_c_sample_name(i))?;
    let strukt = static_str(vsva_c_sample_struct(i))?;
    Some((name, strukt, vsva_c_sample_len(i)))
}

/// `vsva_c_sample_fill(i, buf, len)`: fills `buf` with sample `i`'s known values;
/// returns the number of bytes written (0 for an unknown sample or a short buffer).
pub(crate) fn sample_fill(i: usize, buf: &mut [u8]) -> usize {
    // SAFETY: `buf` is a valid, exclusively borrowed region of `buf.len()` bytes; the
    // C function writes at most `len` bytes (it returns 0 without writing when the
    // sample needs more), keeps no pointer after returning, and any byte pattern is a
    // valid `u8`.
    unsafe { vsva_c_sample_fill(i, buf.as_mut_ptr().cast(), buf.len()) }
}

/// `vsva_c_sample_check(i, bytes, len, &field)`: the C comparison's result and, on a
/// mismatch, the path of the first differing field.
pub(crate) fn sample_check(i: usize, bytes: &[u8]) -> (i32, Option<&'static str>) {
    let mut field: *const c_char = ptr::null();
    // SAFETY: `bytes` is valid for reads of `bytes.len()` bytes and the C function
    // reads at most `len` of them (it copies them into its own, aligned struct, so the
    // buffer needs no alignment); `field` is a valid, writable `const char *` that it
    // sets only to a string literal; it keeps no pointer after returning.
    let r = unsafe { vsva_c_sample_check(i, bytes.as_ptr().cast(), bytes.len(), &mut field) };
    (r, static_str(field))
}
