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
//! - [`vmm_embedding`]: how a VMM embeds `vsva-viommu`, and the wiring (ACPI DMAR, MMIO,
//!   MSI, guest memory) for an unmodified Linux guest, the mini-VMM's Linux mode as the
//!   worked example;
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

    use vsva_uapi::{
        Check, Field, Layout, Policy, Release, Rule, Rules, StrictCheck, StrictRule, UapiError,
        Vendor, ALL_STRUCTS,
    };

    /// The marker name of the errno table in `docs/errno.md`.
    pub const ERRNO_MARKER: &str = "errno";
    /// The marker name of the vIOMMU errno table in `docs/errno.md`.
    pub const VIOMMU_ERRNO_MARKER: &str = "viommu-errno";
    /// The marker name of the kernel-vs-vsva-strict table in `docs/errno.md`.
    pub const STRICT_MARKER: &str = "strict";
    /// The marker name of the per-release rules table in `docs/errno.md`.
    pub const RELEASES_MARKER: &str = "releases";
    /// The marker name of the struct tables in `docs/layouts.md`.
    pub const LAYOUTS_MARKER: &str = "layouts";
    /// The marker name of the ioctl table in `docs/layouts.md`.
    pub const IOCTLS_MARKER: &str = "ioctls";

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

    /// A struct of `layout` that passes its own field checks as far as values go:
    /// versions, enumerations and ranges at their first valid value, one bit of each
    /// flag set a rule needs one of, everything else zero, the size field the struct size.
    pub fn valid_default(layout: &Layout) -> Vec<u8> {
        let mut buf = vec![0u8; layout.size];
        for f in layout.fields {
            let value = match f.check {
                Check::Version(v) => v,
                Check::OneOf(v) | Check::Valid(v) => v.first().copied().unwrap_or(0),
                Check::OneOfSince(v) => v.first().map_or(0, |s| s.value),
                Check::Range { min, .. } => min,
                _ => 0,
            };
            put(&mut buf, f.offset, f.size, value);
        }
        for rule in layout.rules {
            if let Rule::AnyOf { field, bits } = *rule {
                put(
                    &mut buf,
                    field.offset,
                    field.size,
                    bits & bits.wrapping_neg(),
                );
            }
        }
        if layout.sized {
            put(&mut buf, 0, 4, layout.size as u64);
        }
        buf
    }

    fn put(buf: &mut [u8], offset: usize, size: usize, value: u64) {
        if size > 8 {
            return;
        }
        if let Some(dst) = buf.get_mut(offset..offset + size) {
            dst.copy_from_slice(&value.to_ne_bytes()[..size]);
        }
    }

    /// The kernel's verdict at `release` and vsva-viommu's on `user`.
    fn verdicts(
        layout: &'static Layout,
        user: &[u8],
        vendor: Option<Vendor>,
        release: Release,
    ) -> (Result<(), UapiError>, Result<(), UapiError>) {
        let mut out = vec![0u8; layout.size];
        let mut read = 0;
        let mut run = |rules| {
            vsva_uapi::decode_into_with(
                layout,
                user,
                layout.default_policy,
                vendor,
                rules,
                &mut out,
                &mut read,
            )
            .map(drop)
        };
        (run(Rules::kernel(release)), run(Rules::VSVA))
    }

    /// A struct of `layout` that the newest kernel accepts and `rule` refuses, with the
    /// vendor layer to apply; `None` if every struct the rule refuses is refused by the
    /// kernel too (the rule then only restates a kernel check).
    pub fn strict_witness(
        layout: &'static Layout,
        rule: &StrictRule,
    ) -> Option<(Vec<u8>, Option<Vendor>)> {
        let base = valid_default(layout);
        let mut candidates = Vec::new();
        match rule.check {
            StrictCheck::ArgszCap => {
                let mut big = base.clone();
                big.resize(vsva_uapi::PAGE_SIZE + 1, 0);
                let len = big.len() as u64;
                put(&mut big, 0, 4, len);
                candidates.push(big);
            }
            StrictCheck::ExtensionEnd => {
                for x in layout.extensions {
                    let argsz = x.end.saturating_sub(1);
                    if argsz >= layout.min_size {
                        let mut b = base.clone();
                        put(&mut b, x.flags.offset, x.flags.size, x.bit);
                        put(&mut b, 0, 4, argsz as u64);
                        candidates.push(b);
                    }
                }
            }
            StrictCheck::ArgszMinimum => {
                let mut b = base.clone();
                put(&mut b, 0, 4, layout.min_size.saturating_sub(1) as u64);
                candidates.push(b);
            }
            StrictCheck::Field(f) => {
                let bad = match f.check {
                    Check::Within { below, .. } | Check::Range { below, .. } => Some(below),
                    Check::Flags(known) => Some(!known & (!known).wrapping_neg()),
                    Check::OneOf(v) | Check::Valid(v) => v.iter().max().map(|m| m + 1),
                    Check::Version(v) => Some(v + 1),
                    Check::Zero | Check::Aligned(_) => Some(1),
                    _ => None,
                };
                if let Some(value) = bad {
                    let mut b = base.clone();
                    put(&mut b, f.offset, f.size, value);
                    candidates.push(b);
                }
            }
            StrictCheck::Rule(Rule::ForbidBits {
                field,
                bits,
                when,
                equals,
            }) => {
                for bit in (0..64).map(|i| 1u64 << i).filter(|b| bits & b != 0) {
                    let mut b = base.clone();
                    put(&mut b, when.offset, when.size, equals);
                    put(&mut b, field.offset, field.size, bit);
                    candidates.push(b);
                }
            }
            StrictCheck::Rule(_) => {}
        }
        candidates.into_iter().find_map(|user| {
            let (kernel, strict) = verdicts(layout, &user, rule.vendor, Release::NEWEST);
            (kernel.is_ok() && strict.is_err()).then_some((user, rule.vendor))
        })
    }

    fn verdict_cell(r: &Result<(), UapiError>) -> String {
        match r {
            Ok(()) => "accepted".to_string(),
            Err(e) => format!(
                "**{}** ({}): {}",
                e.errno().name(),
                e.kind(),
                cell(&e.to_string())
            ),
        }
    }

    /// The kernel's answer and vsva-viommu's side by side: one row per struct and rule of
    /// vsva's strictness, each with a witness struct run through both rule sets (the
    /// newest kernel's; [`Rules::VSVA`]).
    pub fn strict_table() -> String {
        let mut out = String::from(
            "| struct | vsva-strict rule | witness | kernel | vsva-strict | the kernel | why vsva refuses |\n\
             |---|---|---|---|---|---|---|\n",
        );
        for layout in ALL_STRUCTS {
            for rule in layout.strict_rules() {
                let vendor = rule
                    .vendor
                    .map_or(String::new(), |v| format!(" ({})", v.name()));
                let (witness, kernel, strict) = match strict_witness(layout, rule) {
                    Some((user, vendor)) => {
                        let (k, s) = verdicts(layout, &user, vendor, Release::NEWEST);
                        let argsz = if layout.sized {
                            format!(
                                "argsz {}",
                                u32::from_ne_bytes([user[0], user[1], user[2], user[3]])
                            )
                        } else {
                            "record".to_string()
                        };
                        (
                            format!("{argsz}, {} bytes", user.len()),
                            verdict_cell(&k),
                            verdict_cell(&s),
                        )
                    }
                    None => (
                        "—".to_string(),
                        "refuses it too".to_string(),
                        "—".to_string(),
                    ),
                };
                let _ = writeln!(
                    out,
                    "| `{}` | `{}`{vendor} | {witness} | {kernel} | {strict} | {} | {} |",
                    layout.name,
                    rule.name,
                    cell(rule.kernel),
                    cell(rule.why),
                );
            }
        }
        out
    }

    /// Every rule that depends on the kernel release: one row per struct and change
    /// (struct arrival, size, flag bit, enumeration value, release-gated rule).
    pub fn releases_table() -> String {
        let mut out = String::from("| struct | what | since |\n|---|---|---|\n");
        for layout in ALL_STRUCTS {
            let mut row = |what: String, release: Release| {
                let _ = writeln!(out, "| `{}` | {} | {} |", layout.name, cell(&what), release);
            };
            row("the struct (its ioctl)".into(), layout.since());
            for (i, g) in layout.generations.iter().enumerate().skip(1) {
                let r = layout.generation_release(i as u8);
                if r > layout.since() && layout.generations[i - 1].size != g.size {
                    row(format!("`sizeof` {}", g.size), r);
                }
            }
            let vendor_checks = layout.vendor.map_or(&[][..], |v| v.checks);
            for f in layout.fields.iter().chain(vendor_checks) {
                if layout.generation_release(f.since) > layout.since() {
                    row(
                        format!("field `{}`", f.name),
                        layout.generation_release(f.since),
                    );
                }
                match f.check {
                    Check::FlagsSince(list) => {
                        for s in list.iter().filter(|s| s.release > layout.since()) {
                            row(format!("`{}` bit {:#x}", f.name, s.value), s.release);
                        }
                    }
                    Check::OneOfSince(list) => {
                        for s in list.iter().filter(|s| s.release > layout.since()) {
                            row(format!("`{}` value {}", f.name, s.value), s.release);
                        }
                    }
                    _ => {}
                }
            }
            let late = layout.late.iter().filter_map(|l| match l {
                vsva_uapi::Late::Rule(r) => Some(r),
                vsva_uapi::Late::Field(_) => None,
            });
            for r in layout.rules.iter().chain(late) {
                if let Rule::Since { release, rule } = r {
                    row(format!("rule: {rule}"), *release);
                }
            }
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

        if !layout.late.is_empty() {
            out.push_str("\nChecked after the rules, in this order (the kernel's order):\n\n");
            for l in layout.late {
                match l {
                    vsva_uapi::Late::Field(name) => {
                        let _ = writeln!(out, "- the check of `{name}`");
                    }
                    vsva_uapi::Late::Rule(r) => {
                        let _ = writeln!(out, "- {r}");
                    }
                }
            }
        }

        let strict: Vec<&StrictRule> = layout.strict_rules().collect();
        if !strict.is_empty() {
            out.push_str("\nvsva's strictness (not the kernel's; see `docs/errno.md`):\n\n");
            for r in strict {
                let vendor = r
                    .vendor
                    .map_or(String::new(), |v| format!(" ({})", v.name()));
                let _ = writeln!(out, "- `{}`{vendor}", r.name);
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

    /// The table of every declared ioctl ([`vsva_uapi::ioctl::ALL_IOCTLS`]): number,
    /// name, struct, the user buffer it points at, and the release it appeared in.
    pub fn ioctls() -> String {
        use vsva_uapi::ioctl::{DataLen, ALL_IOCTLS};
        let mut out = String::from(
            "| number | ioctl | struct | user buffer (pointer, length) | since |\n\
             |---|---|---|---|---|\n",
        );
        for i in ALL_IOCTLS {
            let data = match i.data {
                None => "—".to_owned(),
                Some(d) => {
                    let len = match d.len {
                        DataLen::Bytes(f) => format!("`{}` bytes", f.name),
                        DataLen::Count { count, elem } => {
                            format!("`{}` × {elem} bytes", count.name)
                        }
                        DataLen::Entries { len, num } => {
                            format!("`{}` × `{}`", len.name, num.name)
                        }
                    };
                    format!("`{}`, {len}", d.ptr.name)
                }
            };
            out.push_str(&format!(
                "| {:#06x} | `{}` | [`{}`](#{}) | {data} | {} |\n",
                i.number, i.name, i.layout.name, i.layout.name, i.since
            ));
        }
        out
    }

    /// Every section of [`ALL_STRUCTS`], in its order.
    pub fn layouts() -> String {
        let sections: Vec<String> = ALL_STRUCTS.iter().map(|l| layout_section(l)).collect();
        sections.join("\n")
    }
}
