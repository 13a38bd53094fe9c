//! The compatibility matrix: for every [family](crate::generations::FAMILIES), user header
//! Gu × kernel header Gk × [`Features`] × [`Policy`].
//!
//! In each cell the user encodes its representative value with its own header
//! ([`vsva_uapi::encode_for`], `argsz = sizeof(Gu)`), and the kernel decodes those bytes
//! with Gk's declaration ([`vsva_uapi::decode_into`]). Nothing else decodes: the codec is
//! the one `vsva-uapi` ships, unchanged for the future headers.
//!
//! Each cell holds two outcomes, computed independently:
//! - [`Expected`], from the **rules** ([`expect`]), without running the codec:
//!   - old features only: accepted, and identical in meaning;
//!   - the new feature of Gu on a kernel that knows it (Gk ≥ Gu): accepted, read back
//!     exactly;
//!   - the new feature of Gu on an older kernel (Gk < Gu): refused, never misread. Under
//!     zero-tail, a non-zero tail past `sizeof(Gk)` is `E2BIG` (`copy_struct_from_user`
//!     runs before any content check); otherwise the kernel meets the feature's *signal*
//!     (its new flag, its new selector value, or its bytes in old padding — see
//!     [`signal_offset`]) and refuses it with the policy's content errno: `EINVAL` under
//!     linux-5.10 and flags-xend, `EOPNOTSUPP` under zero-tail (iommufd's convention,
//!     `docs/errno.md`).
//! - [`Actual`], from the codec, with the meaning check ([`misreadings`]) for accepted
//!   cells: every field both headers declare (and every field of the selected union
//!   member) reads as the user wrote it, every field only the kernel has is zero, and
//!   nothing the user set is lost.
//!
//! [`render`] prints the matrix as the generated block of `docs/compat-matrix.md`.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

use vsva_uapi::{
    decode_into, encode_for, read_field, Check, Errno, Field, FieldKind, Layout, Policy, Rule,
    UapiError, Variant,
};

use crate::generations::{Family, Features, Gen, Header, FAMILIES};

/// The marker name of the generated block in `docs/compat-matrix.md`.
pub const MARKER: &str = "compat-matrix";

/// What the rules say a cell's outcome must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// No such cell: a G1 user has no new feature.
    NotApplicable,
    /// Accepted, identical in meaning.
    Ok,
    /// Refused with this errno and [`UapiError::kind`].
    Refused {
        /// The errno.
        errno: Errno,
        /// The [`UapiError`] variant name.
        kind: &'static str,
    },
    /// The rules find nothing in Gk that would refuse the new feature: an older kernel
    /// would silently misread it. A declaration that leads here breaks the 2020 rules.
    Misread {
        /// What is missing.
        why: &'static str,
    },
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expected::NotApplicable => f.write_str("—"),
            Expected::Ok => f.write_str("ok"),
            Expected::Refused { errno, kind } => write!(f, "{} ({kind})", errno.name()),
            Expected::Misread { why } => write!(f, "silent misreading: {why}"),
        }
    }
}

/// What the codec did in a cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actual {
    /// No such cell.
    NotApplicable,
    /// Decoded; `misread` lists every field whose meaning changed (empty: identical).
    Ok {
        /// The meaning check's findings ([`misreadings`]).
        misread: Vec<String>,
    },
    /// Refused.
    Refused(UapiError),
    /// The user's encoder refused its own value (a broken fixture).
    EncodeFailed(UapiError),
}

impl fmt::Display for Actual {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Actual::NotApplicable => f.write_str("—"),
            Actual::Ok { misread } if misread.is_empty() => f.write_str("ok"),
            Actual::Ok { misread } => write!(f, "ok but misread: {}", misread.join("; ")),
            Actual::Refused(e) => write!(f, "{} ({})", e.errno().name(), e.kind()),
            Actual::EncodeFailed(e) => write!(f, "encode failed: {} ({e})", e.kind()),
        }
    }
}

/// One cell of the matrix.
#[derive(Debug, Clone)]
pub struct Cell {
    /// The struct.
    pub family: &'static Family,
    /// The user's header, Gu.
    pub user: Gen,
    /// The kernel's header, Gk.
    pub kernel: Gen,
    /// Old features only, or the new feature of Gu.
    pub features: Features,
    /// The kernel's size policy.
    pub policy: Policy,
    /// The rule-derived outcome.
    pub expected: Expected,
    /// The codec's outcome.
    pub actual: Actual,
}

impl Cell {
    /// Whether the codec did what the rules say: the same errno and kind for a refusal;
    /// for an accepted cell, no misreading.
    pub fn passes(&self) -> bool {
        match (&self.expected, &self.actual) {
            (Expected::NotApplicable, Actual::NotApplicable) => true,
            (Expected::Ok, Actual::Ok { misread }) => misread.is_empty(),
            (Expected::Refused { errno, kind }, Actual::Refused(e)) => {
                e.errno() == *errno && e.kind() == *kind
            }
            _ => false,
        }
    }

    /// `iommu_cache_invalidate_info G3 user × G1 kernel, new feature, zero-tail`.
    pub fn label(&self) -> String {
        format!(
            "{} {} user × {} kernel, {}, {}",
            self.family.name,
            self.user.name(),
            self.kernel.name(),
            features_name(self.features),
            self.policy
        )
    }

    /// The table cell: the outcome, or both outcomes when they disagree.
    fn text(&self) -> String {
        if self.passes() {
            self.actual.to_string()
        } else {
            format!("**expected {}, got {}**", self.expected, self.actual)
        }
    }
}

fn features_name(features: Features) -> &'static str {
    match features {
        Features::Old => "old features only",
        Features::New => "new feature",
    }
}

/// The errno the 2020 rules give a field value the header does not know (unknown flag,
/// non-zero padding, unknown enumeration value): `EINVAL` in the 2020 core and VFIO,
/// `EOPNOTSUPP` under iommufd's `copy_struct_from_user` convention.
pub const fn content_errno(policy: Policy) -> Errno {
    match policy {
        Policy::ZeroTail => Errno::EOPNOTSUPP,
        Policy::Linux510 | Policy::FlagsXend => Errno::EINVAL,
    }
}

/// Where an older kernel first meets the new feature of generation `g` of `layout`: the
/// lowest offset among the fields `g` adds (`since == g`), the flags fields that gate
/// them (the `when` → `field` of a [`Rule::Requires`]), and the selector of a union
/// member `g` adds. The kernel checks fields in struct order, so the lowest offset is the
/// one it refuses. `None` if `g` adds nothing.
pub fn signal_offset(layout: &Layout, g: Gen) -> Option<usize> {
    let since = g.index();
    let new_fields: Vec<&Field> = layout
        .fields
        .iter()
        .filter(|f| usize::from(f.since) == since && f.check != Check::Union)
        .collect();
    let gates = layout.rules.iter().filter_map(|r| match *r {
        Rule::Requires { when, field, .. }
            if new_fields
                .iter()
                .any(|f| f.offset == when.offset && f.size == when.size) =>
        {
            Some(field.offset)
        }
        _ => None,
    });
    let selector = layout.union.and_then(|u| {
        u.variants
            .iter()
            .any(|v| usize::from(v.since) == since)
            .then_some(u.selector.offset)
    });
    new_fields
        .iter()
        .map(|f| f.offset)
        .chain(gates)
        .chain(selector)
        .min()
}

/// The rule-derived outcome of a cell, without running the codec. `user_bytes` is what
/// the user sends (its value encoded for Gu), or `None` when the cell does not exist.
pub fn expect(
    family: &Family,
    user: Gen,
    kernel: Gen,
    features: Features,
    policy: Policy,
    user_bytes: Option<&[u8]>,
) -> Expected {
    let (Some(gu), Some(gk), Some(bytes)) =
        (family.layout(user), family.layout(kernel), user_bytes)
    else {
        return Expected::NotApplicable;
    };
    if features == Features::Old || kernel >= user {
        // Old features: zero means the old behaviour. A kernel that knows the feature
        // reads it.
        return Expected::Ok;
    }
    // A new feature on an older kernel. copy_struct_from_user checks the tail first.
    let tail = bytes.get(gk.size..).unwrap_or(&[]);
    if policy == Policy::ZeroTail && tail.iter().any(|b| *b != 0) {
        return Expected::Refused {
            errno: Errno::E2BIG,
            kind: "NonZeroTail",
        };
    }
    let Some(offset) = signal_offset(gu, user) else {
        return Expected::Misread {
            why: "the generation declares no new field, flag or member",
        };
    };
    let Some(field) = gk.field_at(offset) else {
        return Expected::Misread {
            why: "the feature's signal lies past the older kernel's struct",
        };
    };
    let kind = match field.check {
        // Bytes the older header calls padding.
        Check::Zero => "NonZeroReserved",
        // A bit the older header's flags mask does not hold.
        Check::Flags(_) => "UnknownFlags",
        // A selector value the older header does not list (bits outside the enumeration's
        // mask would be unknown flags).
        Check::Within { mask, .. } => {
            let value = read_field(bytes, field_ref(field));
            if value & !mask != 0 {
                "UnknownFlags"
            } else {
                "UnsupportedValue"
            }
        }
        Check::OneOf(_) => "UnsupportedValue",
        _ => {
            return Expected::Misread {
                why: "the older kernel does not check the field that signals the feature",
            }
        }
    };
    Expected::Refused {
        errno: content_errno(policy),
        kind,
    }
}

fn field_ref(f: &Field) -> vsva_uapi::FieldRef {
    vsva_uapi::FieldRef {
        name: f.name,
        offset: f.offset,
        size: f.size,
    }
}

/// The meaning check of an accepted cell: compares the user's bytes (a struct of `gu`)
/// with the kernel's copy (a struct of `gk`), field by field **by name**, so a field that
/// moved between headers shows up too. Returns one line per difference:
/// - a field both declare must hold the same value (integers by value; byte arrays by
///   their common prefix, the longer one's rest zero);
/// - a field only the kernel declares must be zero (zero-filled, the old behaviour);
/// - a field only the user declares must be zero in the user's bytes (else it is lost);
/// - the union member the kernel selected (`kernel_variant`) must be the user's, and
///   its fields are compared the same way.
pub fn misreadings(
    gu: &Layout,
    user: &[u8],
    gk: &Layout,
    kernel: &[u8],
    kernel_variant: Option<&Variant>,
) -> Vec<String> {
    let mut out = Vec::new();
    compare_fields((gu.fields, 0, user), (gk.fields, 0, kernel), "", &mut out);
    let user_variant = gu
        .union
        .and_then(|u| gu.variant_for(read_field(user, u.selector)));
    match (gu.union, user_variant, gk.union, kernel_variant) {
        (Some(uu), Some(uv), Some(ku), Some(kv)) => {
            if uv.name != kv.name || uv.value != kv.value {
                out.push(format!(
                    "union member: the user's `{}`, the kernel's `{}`",
                    uv.name, kv.name
                ));
            } else if let (Some(ul), Some(kl)) = (uv.layout, kv.layout) {
                let path = format!("{}.{}.", ku.name, kv.name);
                compare_fields(
                    (ul.fields, uu.offset, user),
                    (kl.fields, ku.offset, kernel),
                    &path,
                    &mut out,
                );
            }
        }
        (_, None, _, None) => {}
        (_, uv, _, kv) => out.push(format!(
            "union member: the user's {}, the kernel's {}",
            uv.map_or("none", |v| v.name),
            kv.map_or("none", |v| v.name)
        )),
    }
    out
}

type Side<'a> = (&'a [Field], usize, &'a [u8]);

fn field_bytes<'a>(f: &Field, base: usize, buf: &'a [u8]) -> &'a [u8] {
    buf.get(base + f.offset..base + f.end()).unwrap_or(&[])
}

fn is_zero(b: &[u8]) -> bool {
    b.iter().all(|b| *b == 0)
}

fn int_value(b: &[u8]) -> u64 {
    let mut v = [0u8; 8];
    let n = b.len().min(8);
    if cfg!(target_endian = "little") {
        v[..n].copy_from_slice(&b[..n]);
        u64::from_le_bytes(v)
    } else {
        v[8 - n..].copy_from_slice(&b[..n]);
        u64::from_be_bytes(v)
    }
}

fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().min(b.len());
    a[..n] == b[..n] && is_zero(&a[n..]) && is_zero(&b[n..])
}

fn compare_fields(
    (ufields, ubase, user): Side<'_>,
    (kfields, kbase, kernel): Side<'_>,
    path: &str,
    out: &mut Vec<String>,
) {
    for fk in kfields {
        let kb = field_bytes(fk, kbase, kernel);
        match ufields.iter().find(|fu| fu.name == fk.name) {
            Some(fu) => {
                let ub = field_bytes(fu, ubase, user);
                let ints = fu.kind == FieldKind::Int && fk.kind == FieldKind::Int;
                if ints && int_value(ub) != int_value(kb) {
                    out.push(format!(
                        "`{path}{}`: the user wrote {:#x}, the kernel read {:#x}",
                        fk.name,
                        int_value(ub),
                        int_value(kb)
                    ));
                } else if !ints && !same_bytes(ub, kb) {
                    out.push(format!(
                        "`{path}{}`: the kernel's bytes differ from the user's",
                        fk.name
                    ));
                }
            }
            None if !is_zero(kb) => out.push(format!(
                "`{path}{}` (kernel header only) is not zero-filled",
                fk.name
            )),
            None => {}
        }
    }
    for fu in ufields {
        if !kfields.iter().any(|fk| fk.name == fu.name) && !is_zero(field_bytes(fu, ubase, user)) {
            out.push(format!(
                "`{path}{}` (user header only) is set but the kernel has no such field",
                fu.name
            ));
        }
    }
}

/// What the user sends: its value of generation `user` encoded with its own header
/// (`argsz = sizeof(Gu)`), `None` when the family has no such value.
pub fn user_bytes(
    family: &Family,
    user: Gen,
    features: Features,
) -> Option<Result<Vec<u8>, UapiError>> {
    let gu = family.layout(user)?;
    let value = (family.value)(user, features)?;
    let mut out = vec![0u8; gu.size];
    Some(
        encode_for(gu, &value, usize::from(gu.latest()), &mut out).map(|n| {
            out.truncate(n);
            out
        }),
    )
}

/// The codec's outcome of a cell: the kernel decodes `user` (the user's bytes, exactly
/// `argsz` of them) with Gk's declaration under `policy`, without a vendor layer.
pub fn run(gu: &Layout, user: &[u8], gk: &'static Layout, policy: Policy) -> Actual {
    let mut kernel = vec![0u8; gk.size];
    let mut read = 0;
    match decode_into(gk, user, policy, None, &mut kernel, &mut read) {
        Ok(info) => Actual::Ok {
            misread: misreadings(gu, user, gk, &kernel, info.variant),
        },
        Err(e) => Actual::Refused(e),
    }
}

/// Every cell of one family, in table order (Gu, then Gk, then features, then policy),
/// over the generations the family declares.
pub fn family_cells(family: &'static Family) -> Vec<Cell> {
    let mut cells = Vec::new();
    for user in family.declared() {
        for kernel in family.declared() {
            for features in Features::ALL {
                let bytes = user_bytes(family, user, features);
                for policy in Policy::ALL {
                    let (expected, actual) =
                        match (&bytes, family.layout(user), family.layout(kernel)) {
                            (Some(Ok(b)), Some(gu), Some(gk)) => (
                                expect(family, user, kernel, features, policy, Some(b)),
                                run(gu, b, gk, policy),
                            ),
                            // A fixture the user's own encoder refuses: judge the
                            // expectation on the unencoded value; the cell fails.
                            (Some(Err(e)), _, _) => {
                                let value = (family.value)(user, features);
                                (
                                    expect(
                                        family,
                                        user,
                                        kernel,
                                        features,
                                        policy,
                                        value.as_deref(),
                                    ),
                                    Actual::EncodeFailed(*e),
                                )
                            }
                            _ => (Expected::NotApplicable, Actual::NotApplicable),
                        };
                    cells.push(Cell {
                        family,
                        user,
                        kernel,
                        features,
                        policy,
                        expected,
                        actual,
                    });
                }
            }
        }
    }
    cells
}

/// Every cell of every family.
pub fn matrix() -> Vec<Cell> {
    FAMILIES.iter().flat_map(family_cells).collect()
}

/// The counts of a matrix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Every cell, including the not-applicable ones.
    pub cells: usize,
    /// Cells with no value (G1 has no new feature).
    pub not_applicable: usize,
    /// Cells the codec accepted.
    pub ok: usize,
    /// Refused cells by (errno name, [`UapiError::kind`]).
    pub refused: BTreeMap<(&'static str, &'static str), usize>,
    /// Cells where the codec disagreed with the rules.
    pub mismatches: usize,
}

impl Summary {
    /// Counts `cells`.
    pub fn of(cells: &[Cell]) -> Summary {
        let mut s = Summary {
            cells: cells.len(),
            ..Summary::default()
        };
        for c in cells {
            match &c.actual {
                Actual::NotApplicable => s.not_applicable += 1,
                Actual::Ok { .. } => s.ok += 1,
                Actual::Refused(e) => {
                    *s.refused.entry((e.errno().name(), e.kind())).or_default() += 1;
                }
                Actual::EncodeFailed(_) => {}
            }
            if !c.passes() {
                s.mismatches += 1;
            }
        }
        s
    }

    /// The number of refused cells.
    pub fn refused_total(&self) -> usize {
        self.refused.values().sum()
    }
}

/// `G3 (72 B)`.
fn header_name(family: &Family, g: Gen) -> String {
    match family.layout(g) {
        Some(l) => format!("{} ({} B)", g.name(), l.size),
        None => g.name().to_string(),
    }
}

fn features_text(family: &Family, user: Gen, features: Features) -> String {
    match (features, family.header(user)) {
        (Features::Old, _) => "old only".to_string(),
        (Features::New, Header::Declared { feature, .. }) if !feature.is_empty() => {
            format!("new: {feature}")
        }
        (Features::New, _) => format!("new (none in {})", user.name()),
    }
}

/// One table cell: `|` escaped, line breaks removed.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The generations table: sizes, impossibilities and what each future header adds.
pub fn generations_table() -> String {
    let mut out =
        String::from("| struct | G1 | G2 | G3 | what G2 / G3 add |\n|---|---:|---:|---:|---|\n");
    for family in FAMILIES {
        let mut sizes = Vec::new();
        let mut adds = Vec::new();
        for g in Gen::ALL {
            match family.header(g) {
                Header::Declared {
                    layout, adds: a, ..
                } => {
                    sizes.push(format!("{} B", layout.size));
                    if g != Gen::G1 {
                        adds.push(format!("{}: {a}", g.name()));
                    }
                }
                Header::Impossible { reason, why } => {
                    sizes.push(format!("impossible: {reason}"));
                    adds.push(format!("{}: none ({why})", g.name()));
                }
            }
        }
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} |",
            family.name,
            sizes[0],
            sizes[1],
            sizes[2],
            cell(&adds.join("; "))
        );
    }
    out
}

/// The summary table of `cells`.
pub fn summary_table(cells: &[Cell]) -> String {
    let s = Summary::of(cells);
    let mut out = String::from("| outcome | cells |\n|---|---:|\n");
    let _ = writeln!(out, "| ok (identical in meaning) | {} |", s.ok);
    for ((errno, kind), n) in &s.refused {
        let _ = writeln!(out, "| {errno} ({kind}) | {n} |");
    }
    let _ = writeln!(out, "| — (not applicable) | {} |", s.not_applicable);
    let _ = writeln!(out, "| **total** | {} |", s.cells);
    let _ = writeln!(out, "| codec ≠ rules | {} |", s.mismatches);
    out
}

/// The table of one family: one row per (Gu, Gk, features), one column per policy, then
/// one row per impossible generation.
pub fn family_table(family: &'static Family, cells: &[Cell]) -> String {
    let mut out = String::from("| user header | kernel header | features |");
    for p in Policy::ALL {
        let _ = write!(out, " {} |", p.name());
    }
    out.push_str("\n|---|---|---|");
    for _ in Policy::ALL {
        out.push_str("---|");
    }
    out.push('\n');
    let mine: Vec<&Cell> = cells
        .iter()
        .filter(|c| c.family.name == family.name)
        .collect();
    for row in mine.chunks(Policy::ALL.len()) {
        let Some(first) = row.first() else { continue };
        let _ = write!(
            out,
            "| {} | {} | {} |",
            header_name(family, first.user),
            header_name(family, first.kernel),
            cell(&features_text(family, first.user, first.features)),
        );
        for c in row {
            let _ = write!(out, " {} |", cell(&c.text()));
        }
        out.push('\n');
    }
    for g in Gen::ALL {
        if let Header::Impossible { reason, .. } = family.header(g) {
            let _ = write!(out, "| {} (either side) | any | any |", g.name());
            for _ in Policy::ALL {
                let _ = write!(out, " impossible: {reason} |");
            }
            out.push('\n');
        }
    }
    out
}

/// The whole generated block of `docs/compat-matrix.md`: the generations table, the
/// summary, and one table per struct.
pub fn render(cells: &[Cell]) -> String {
    let mut out = String::new();
    out.push_str("### Generations\n\n");
    out.push_str(&generations_table());
    out.push_str("\n### Summary\n\n");
    out.push_str(&summary_table(cells));
    for family in FAMILIES {
        let _ = writeln!(out, "\n### `{}`\n", family.name);
        out.push_str(&family_table(family, cells));
    }
    out
}
