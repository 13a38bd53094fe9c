//! FFI to the C conformance library (the crate's only unsafe code).
