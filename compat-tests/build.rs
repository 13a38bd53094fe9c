//! Compiles the C conformance code (written from the layout tables, like a C VMM such as
//! QEMU would declare the ABI) into a static library the tests link against.
//!
//! Strict C11 with every warning an error: `-Wall -Wextra` (from `cc`), plus
//! `-Wpedantic` (no GNU extensions beyond the kernel's `__attribute__((aligned(8)))`),
//! prototypes for every exported function, no shadowing, no implicit narrowing.

fn main() {
    println!("cargo:rerun-if-changed=c/vsva_uapi.h");
    println!("cargo:rerun-if-changed=c/conformance.c");
    let mut build = cc::Build::new();
    build
        .file("c/conformance.c")
        .include("c")
        .flag_if_supported("-std=c11")
        .warnings(true)
        .extra_warnings(true)
        .warnings_into_errors(true);
    for flag in [
        "-Wpedantic",
        "-Wmissing-prototypes",
        "-Wstrict-prototypes",
        "-Wshadow",
        "-Wconversion",
    ] {
        build.flag_if_supported(flag);
    }
    build.compile("vsva_conformance");
}
