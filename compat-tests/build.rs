//! Compiles the C conformance code (written from the layout tables, like a C VMM such as
//! QEMU would declare the ABI) into a static library the tests link against.

fn main() {
    println!("cargo:rerun-if-changed=c/vsva_uapi.h");
    println!("cargo:rerun-if-changed=c/conformance.c");
    cc::Build::new()
        .file("c/conformance.c")
        .include("c")
        .flag_if_supported("-std=c11")
        .warnings(true)
        .extra_warnings(true)
        .warnings_into_errors(true)
        .compile("vsva_conformance");
}
