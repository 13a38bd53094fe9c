//! # vsva-cli: the `vsva` tool
//!
//! The command-line face of vsva, kept out of the libraries a VMM links (`vsva-vfio`
//! and `vsva-viommu` pull in neither clap nor serde):
//!
//! - [`explain`]: the logic of `vsva explain`, which shows how the kernel judges an
//!   untrusted user struct under one of the three size policies of
//!   [`vsva_uapi::Policy`]: every decoded field, how many bytes the kernel read, and on
//!   rejection the errno and the rule that fired;
//! - [`hw`]: `vsva explain --struct vtd_inv_desc | vtd_pasid_entry | vtd_page_req_desc`,
//!   the emulated VT-d's hardware formats (decoded by `vsva_vtd::explain`);
//! - [`features`]: the JSON form of `vsva features` (the report itself is collected by
//!   [`vsva_vfio::features::collect`]);
//! - the `vsva` binary (`src/bin/vsva.rs`), a thin clap front end over both.
//!
//! ## Example: explain a guest's cache invalidation
//!
//! ```
//! use vsva_uapi::{layout_named, Errno, Policy};
//! use vsva_cli::explain::{explain, parse_hex};
//!
//! let layout = layout_named("iommu_cache_invalidate_info").unwrap();
//! // An address-selective IOTLB invalidation, 56 bytes (x86_64, little endian).
//! let mut user = parse_hex(
//!     "38000000 01000000 01 02 000000000000 \
//!      01000000 00000000 0500000000000000 0010000000000000 \
//!      0010000000000000 0400000000000000",
//! )
//! .unwrap();
//! let verdict = explain(layout, None, None, &user);
//! assert!(verdict.is_accepted());
//! assert_eq!(verdict.policy, Policy::Linux510); // the struct's own policy
//! assert_eq!(verdict.bytes_read, 56);
//! let json = verdict.to_json();
//! assert_eq!(json["fields"]["granu.addr_info.nb_granules"], 4);
//! assert!(verdict.to_string().starts_with(
//!     "iommu_cache_invalidate_info under linux-5.10, kernel 7.3: ACCEPTED (argsz 56, read 56 bytes)"
//! ));
//!
//! // argsz 40 ends inside addr_info: EINVAL, after reading only the 16-byte header.
//! user[0] = 40;
//! let verdict = explain(layout, None, None, &user);
//! assert_eq!(verdict.error().map(|e| e.errno()), Some(Errno::EINVAL));
//! assert_eq!(verdict.bytes_read, 16);
//! assert_eq!(verdict.exit_code(), 1);
//! ```

#![forbid(unsafe_code)]

pub mod explain;
pub mod features;
pub mod hw;
