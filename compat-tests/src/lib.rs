//! # compat-tests: vsva's compatibility proofs
//!
//! The 2020 IOMMU UAPI promises that extensions never break existing users: old users on
//! new kernels, new users on old kernels (while they use only old features), and
//! malicious sizes that harm nobody else. This crate proves it for every struct:
//!
//! - [`generations`]: future headers G2 (padding repurposed behind a new flag) and G3 (a
//!   larger union member appended), declared with the same `uapi_struct!` as `vsva-uapi`
//!   — declarations only, no new decode logic;
//! - [`matrix`]: user header × kernel header × feature use × policy, each cell's expected
//!   outcome derived from the rules, rendered into `docs/compat-matrix.md`;
//! - [`c_layout`]: a C header written from the layout tables, compiled by `build.rs`,
//!   against which Rust checks sizes, offsets and bytes in both directions.
//!
//! The tests live in `tests/`; fuzz targets in `fuzz/` (cargo-fuzz, run by `.ci/run`).

#![deny(unsafe_code)]

pub mod c_layout;
pub mod generations;
pub mod matrix;
#[allow(unsafe_code)]
mod sys;
