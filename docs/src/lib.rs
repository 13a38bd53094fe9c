//! # vsva-docs: the vsva documentation pages, doctested
//!
//! Every page under `docs/` is a module of this crate, included with
//! `#[doc = include_str!(..)]`, so `cargo test -p vsva-docs` compiles and runs every Rust
//! code block of every page against the current `vsva-uapi` (blocks that are not Rust
//! are marked `text`).
//!
//! Two pages carry generated tables: [`errno`] (from
//! [`UapiError::CATALOGUE`](vsva_uapi::UapiError::CATALOGUE) and
//! [`ViommuError::CATALOGUE`](vsva_viommu::ViommuError::CATALOGUE)) and [`layouts`] (from
//! [`vsva_uapi::ALL_STRUCTS`]). The [`tables`] module renders them;
//! the tests `docs/tests/errno_table.rs` and `docs/tests/layouts_table.rs` check that the
//! committed pages hold exactly what the declarations produce today, and rewrite them
//! when run with `VSVA_BLESS=1`:
//!
//! ```text
//! VSVA_BLESS=1 cargo test -p vsva-docs   # regenerate docs/errno.md and docs/layouts.md
//! cargo test -p vsva-docs                # fails if a page is stale
//! ```
//!
//! The pages:
//! - [`extension_rules`]: the 2020 IOMMU UAPI extension rules, the three size policies,
//!   and how to add a field to a vsva declaration;
//! - [`errno`]: every [`UapiError`](vsva_uapi::UapiError) with its errno and the kernel
//!   code it mirrors;
//! - [`layouts`]: every declared struct, field by field;
//! - [`compat_matrix`]: user header × kernel header × feature use × policy, generated and
//!   checked by `compat-tests` (`VSVA_BLESS=1 cargo test -p compat-tests --test matrix`);
//! - [`vmm_embedding`]: how a VMM embeds `vsva-viommu`;
//! - [`vmm_fds`]: using vsva with an existing VMM's fds (owned or borrowed, who closes
//!   what);
//! - [`embedding`]: the mini-VMM on `kvm-ioctls` as a worked example of wiring vsva in
//!   (device model, guest memory reads, threads, teardown);
//! - [`performance`]: what each layer costs against its baseline;
//! - [`architecture`]: the crates and how the declaration flows through them;
//! - [`vtd`]: the emulated VT-d (`vsva-vtd`) for VMM engineers: wiring, what it offers
//!   and refuses, the choices it makes;
//! - [`kernel_tier`]: the guest tests against a real 6.12 kernel with an emulated VT-d in
//!   QEMU (`compat-tests/kernel/run`).

#![forbid(unsafe_code)]

#[doc = include_str!("../extension-rules.md")]
pub mod extension_rules {}

#[doc = include_str!("../errno.md")]
pub mod errno {}

#[doc = include_str!("../layouts.md")]
pub mod layouts {}

#[doc = include_str!("../compat-matrix.md")]
pub mod compat_matrix {}

#[doc = include_str!("../vmm-embedding.md")]
pub mod vmm_embedding {}

#[doc = include_str!("../vmm-fds.md")]
pub mod vmm_fds {}

#[doc = include_str!("../embedding.md")]
pub mod embedding {}

#[doc = include_str!("../performance.md")]
pub mod performance {}

#[doc = include_str!("../architecture.md")]
pub mod architecture {}

#[doc = include_str!("../kernel-tier.md")]
pub mod kernel_tier {}

#[doc = include_str!("../vtd.md")]
pub mod vtd {}

/// Renders the generated tables of the pages, and splices them between markers.
///
/// Everything here reads the declarations (`vsva_uapi::ALL_STRUCTS`,
/// [`UapiError::CATALOGUE`](vsva_uapi::UapiError::CATALOGUE)); nothing is written by
/// hand.
pub mod tables {
    use std::fmt::Write as _;

    use vsva_uapi::{Field, Layout, Policy, UapiError, ALL_STRUCTS};

    /// The marker name of the errno table in `docs/errno.md`.
    pub const ERRNO_MARKER: &str = "errno";
    /// The marker name of the vIOMMU errno table in `docs/errno.md`.
    pub const VIOMMU_ERRNO_MARKER: &str = "viommu-errno";
    /// The marker name of the struct tables in `docs/layouts.md`.
    pub const LAYOUTS_MARKER: &str = "layouts";

    /// `<!-- BEGIN GENERATED: name -->`.
    pub fn begin_marker(name: &str) -> String {
        format!("<!-- BEGIN GENERATED: {name} -->")
    }

    /// `<!-- END GENERATED: name -->`.
    pub fn end_marker(name: &str) -> String {
        format!("<!-- END GENERATED: {name} -->")
    }

    /// The byte range between the end of the begin marker `name` and the start of its
    /// end marker.
    fn block_range(page: &str, name: &str) -> Option<(usize, usize)> {
        let (begin, end) = (begin_marker(name), end_marker(name));
        let start = page.find(&begin)? + begin.len();
        let stop = start + page.get(start..)?.find(&end)?;
        Some((start, stop))
    }

    /// The generated text between the markers `name` in `page`, as [`splice`] wrote it
    /// (the blank lines that separate it from the markers removed), or `None` if the
    /// markers are missing or out of order.
    pub fn generated_block<'a>(page: &'a str, name: &str) -> Option<&'a str> {
        let (start, stop) = block_range(page, name)?;
        let block = page.get(start..stop)?;
        let block = block.strip_prefix("\n\n").unwrap_or(block);
        Some(block.strip_suffix('\n').unwrap_or(block))
    }

    /// `page` with the text between the markers `name` replaced by `generated` (which
    /// ends with a newline), set off from each marker by a blank line so that Markdown
    /// ends the table before the end marker; `None` if the markers are missing.
    pub fn splice(page: &str, name: &str, generated: &str) -> Option<String> {
        let (start, stop) = block_range(page, name)?;
        Some(format!(
            "{}\n\n{}\n{}",
            page.get(..start)?,
            generated,
            page.get(stop..)?
        ))
    }

    /// One table cell: `|` escaped, line breaks removed.
    fn cell(s: &str) -> String {
        s.replace('|', "\\|").replace('\n', " ")
    }

    /// The errno table: one row per entry of [`UapiError::CATALOGUE`], in catalogue order.
    pub fn errno_table() -> String {
        let mut out = String::new();
        out.push_str(
            "| variant (kind) | policy | errno name | errno number | kernel source |\n\
             |---|---|---|---:|---|\n",
        );
        for e in UapiError::CATALOGUE {
            let policy = e.policy().map_or("any", Policy::name);
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                e.kind(),
                policy,
                e.errno().name(),
                e.errno().raw(),
                cell(e.kernel_source()),
            );
        }
        out
    }

    /// The vIOMMU errno table: one row per entry of
    /// [`ViommuError::CATALOGUE`](vsva_viommu::ViommuError::CATALOGUE).
    pub fn viommu_errno_table() -> String {
        let mut out = String::new();
        out.push_str(
            "| variant (kind) | example | errno name | errno number | kernel source |\n\
             |---|---|---|---:|---|\n",
        );
        for e in vsva_viommu::ViommuError::CATALOGUE {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                e.kind(),
                cell(&e.to_string()),
                e.errno().name(),
                e.errno().raw(),
                cell(e.kernel_source()),
            );
        }
        out
    }

    /// The name of generation `index` of `layout` (`"?"` if out of range).
    fn generation_name(layout: &Layout, index: u8) -> &'static str {
        layout
            .generations
            .get(usize::from(index))
            .map_or("?", |g| g.name)
    }

    /// A field table: offset, size, name, check, since.
    fn field_table(out: &mut String, layout: &Layout, fields: &[Field]) {
        out.push_str("| offset | size | field | check | since |\n|---:|---:|---|---|---|\n");
        for f in fields {
            let _ = writeln!(
                out,
                "| {} | {} | `{}` | {} | {} |",
                f.offset,
                f.size,
                f.name,
                cell(&f.check_text().to_string()),
                generation_name(layout, f.since),
            );
        }
    }

    /// The section of one struct: summary, fields, union, extensions, rules, vendor rules.
    pub fn layout_section(layout: &Layout) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "### `{}`\n", layout.name);
        let size_field = if layout.sized {
            format!(
                "`{}` (offset 0)",
                layout.fields.first().map_or("?", |f| f.name)
            )
        } else {
            "none (fixed record)".to_string()
        };
        let generations: Vec<String> = layout
            .generations
            .iter()
            .map(|g| format!("{}: {}", g.name, g.size))
            .collect();
        let _ = writeln!(
            out,
            "| size | align | min_size | size field | default policy | generations (name: size) |\n\
             |---:|---:|---:|---|---|---|\n\
             | {} | {} | {} | {} | {} | {} |\n",
            layout.size,
            layout.align,
            layout.min_size,
            size_field,
            layout.default_policy.name(),
            generations.join(", "),
        );
        field_table(&mut out, layout, layout.fields);

        if let Some(u) = layout.union {
            let bytes = if u.selector.size == 1 {
                "byte"
            } else {
                "bytes"
            };
            let end_rule = if u.enforce_end {
                "`argsz` must reach the selected member's end (generic layer)"
            } else {
                "the generic layer does not require `argsz` to reach the selected member's \
                 end (the vendor layer decides)"
            };
            let _ = writeln!(
                out,
                "\nUnion `{}` at offset {}, member selected by `{}` (offset {}, {} {bytes}); \
                 {end_rule}.\n",
                u.name, u.offset, u.selector.name, u.selector.offset, u.selector.size,
            );
            out.push_str(
                "| value | member | end (`offsetofend`) | payload | since |\n\
                 |---:|---|---:|---|---|\n",
            );
            for v in u.variants {
                let payload = v
                    .layout
                    .map_or("—".to_string(), |l| format!("`{}`", l.name));
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} |",
                    v.value,
                    v.name,
                    v.end,
                    payload,
                    generation_name(layout, v.since),
                );
            }
        }

        if !layout.extensions.is_empty() {
            out.push_str(
                "\nExtensions (a set flag makes the fields up to `xend` valid; \
                 `argsz` must reach it):\n\n\
                 | flag | flags field | bit | xend | since |\n|---|---|---|---:|---|\n",
            );
            for x in layout.extensions {
                let _ = writeln!(
                    out,
                    "| `{}` | `{}` | {:#x} | {} | {} |",
                    x.name,
                    x.flags.name,
                    x.bit,
                    x.end,
                    generation_name(layout, x.since),
                );
            }
        }

        if !layout.rules.is_empty() {
            out.push_str("\nRules:\n\n");
            for r in layout.rules {
                let _ = writeln!(out, "- {}", r);
            }
        }

        if let Some(v) = layout.vendor {
            let _ = writeln!(
                out,
                "\nVendor rules (`{}`): `argsz` ≥ {}.",
                v.vendor.name(),
                v.min_argsz
            );
            if !v.checks.is_empty() {
                out.push('\n');
                field_table(&mut out, layout, v.checks);
            }
            if !v.rules.is_empty() {
                out.push('\n');
                for r in v.rules {
                    let _ = writeln!(out, "- {}", r);
                }
            }
        }
        out
    }

    /// Every section of [`ALL_STRUCTS`], in its order.
    pub fn layouts() -> String {
        let sections: Vec<String> = ALL_STRUCTS.iter().map(|l| layout_section(l)).collect();
        sections.join("\n")
    }
}
