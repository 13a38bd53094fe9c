//! The compatibility matrix: every cell's codec outcome equals its rule-derived
//! expectation; the headline cases explicitly; the fixtures are what they claim; and
//! `docs/compat-matrix.md` holds exactly the generated tables.
//!
//! Regenerate the page with `VSVA_BLESS=1 cargo test -p compat-tests --test matrix`.

use std::fs;
use std::path::PathBuf;

use compat_tests::generations::{
    family, CacheInvalidateInfoG1, CacheInvalidateInfoG3, Family, Features, Gen, GpasidBindDataG2,
    Header, FAMILIES,
};
use compat_tests::matrix::{self, Actual, Cell, Expected, MARKER};
use vsva_uapi::{Check, Errno, Field, Layout, Policy, UapiError, UapiStruct};

fn page_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("docs")
        .join("compat-matrix.md")
}

fn blessing() -> bool {
    std::env::var("VSVA_BLESS").is_ok_and(|v| v == "1")
}

fn find<'a>(
    cells: &'a [Cell],
    name: &str,
    user: Gen,
    kernel: Gen,
    features: Features,
    policy: Policy,
) -> &'a Cell {
    cells
        .iter()
        .find(|c| {
            c.family.name == name
                && c.user == user
                && c.kernel == kernel
                && c.features == features
                && c.policy == policy
        })
        .unwrap_or_else(|| panic!("no cell {name} {user:?} {kernel:?} {features:?} {policy}"))
}

/// Asserts the codec's refusal of a cell, independently of the oracle.
fn assert_refused(cell: &Cell, errno: Errno, kind: &str) {
    match &cell.actual {
        Actual::Refused(e) => {
            assert_eq!(e.errno(), errno, "{}: {e}", cell.label());
            assert_eq!(e.kind(), kind, "{}: {e}", cell.label());
        }
        other => panic!("{}: expected {errno} ({kind}), got {other}", cell.label()),
    }
}

fn assert_ok(cell: &Cell) {
    assert_eq!(
        cell.actual,
        Actual::Ok { misread: vec![] },
        "{}: expected ok, identical in meaning",
        cell.label()
    );
}

#[test]
fn every_cell_matches_its_rule_derived_expectation() {
    let cells = matrix::matrix();
    let failures: Vec<String> = cells
        .iter()
        .filter(|c| !c.passes())
        .map(|c| format!("{}: expected {}, got {}", c.label(), c.expected, c.actual))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cells disagree with the rules:\n{}",
        failures.len(),
        cells.len(),
        failures.join("\n")
    );
}

#[test]
fn the_rules_never_predict_a_silent_misreading() {
    for c in matrix::matrix() {
        assert!(
            !matches!(c.expected, Expected::Misread { .. }),
            "{}: {}",
            c.label(),
            c.expected
        );
    }
}

#[test]
fn the_matrix_covers_every_combination() {
    let cells = matrix::matrix();
    for f in FAMILIES {
        let gens = f.declared().count();
        let mine = cells.iter().filter(|c| c.family.name == f.name).count();
        assert_eq!(
            mine,
            gens * gens * Features::ALL.len() * Policy::ALL.len(),
            "{}",
            f.name
        );
    }
    // Gu = G1 has no new feature: exactly those cells are not applicable.
    for c in &cells {
        let na = c.user == Gen::G1 && c.features == Features::New;
        assert_eq!(
            matches!(c.expected, Expected::NotApplicable),
            na,
            "{}",
            c.label()
        );
        assert_eq!(
            matches!(c.actual, Actual::NotApplicable),
            na,
            "{}",
            c.label()
        );
    }
    let s = matrix::Summary::of(&cells);
    assert_eq!(s.cells, 3 * 54 + 2 * 6);
    assert_eq!(s.not_applicable, 3 * 9 + 2 * 3);
    assert_eq!(s.ok, 3 * (27 + 9) + 2 * 3);
    assert_eq!(s.refused_total(), 3 * 9);
    assert_eq!(s.mismatches, 0);
}

#[test]
fn headline_g3_invalidation_on_a_g1_kernel() {
    let cells = matrix::matrix();
    let name = "iommu_cache_invalidate_info";
    let at = |p| find(&cells, name, Gen::G3, Gen::G1, Features::New, p);
    // copy_struct_from_user: the 16 new bytes past the G1 kernel's 56 are not zero.
    assert_refused(at(Policy::ZeroTail), Errno::E2BIG, "NonZeroTail");
    // The 2020 core ignores the tail but does not know granularity 3.
    assert_refused(at(Policy::Linux510), Errno::EINVAL, "UnsupportedValue");
    // VFIO cdev: the same, from the base-struct check.
    assert_refused(at(Policy::FlagsXend), Errno::EINVAL, "UnsupportedValue");
    // A G2 kernel does not know granularity 3 either.
    let at = |p| find(&cells, name, Gen::G3, Gen::G2, Features::New, p);
    assert_refused(at(Policy::ZeroTail), Errno::E2BIG, "NonZeroTail");
    assert_refused(at(Policy::Linux510), Errno::EINVAL, "UnsupportedValue");
    // A G3 kernel reads it.
    for p in Policy::ALL {
        assert_ok(find(&cells, name, Gen::G3, Gen::G3, Features::New, p));
    }
}

#[test]
fn headline_g1_user_on_a_g3_kernel_reads_zero_filled_new_fields() {
    let cells = matrix::matrix();
    let f = family("iommu_cache_invalidate_info").expect("declared");
    let user = (f.value)(Gen::G1, Features::Old).expect("a G1 value");
    assert_eq!(user.len(), 56);
    for p in Policy::ALL {
        assert_ok(find(&cells, f.name, Gen::G1, Gen::G3, Features::Old, p));
        // Directly, through the typed G3 struct.
        let v = CacheInvalidateInfoG3::from_user(&user, p).expect("accepted");
        assert_eq!((v.flags, v.asid), (0, 0), "{p}");
        assert_eq!(
            &v.granu[5..],
            &[0, 0],
            "{p}: the grown union is zero-filled"
        );
        assert_eq!(v.granularity, 2, "{p}");
        assert_eq!(v.argsz, 56, "{p}");
    }
}

#[test]
fn headline_g2_bind_flag_on_a_g1_kernel() {
    let cells = matrix::matrix();
    let name = "iommu_gpasid_bind_data";
    let at = |p| find(&cells, name, Gen::G2, Gen::G1, Features::New, p);
    assert_refused(at(Policy::Linux510), Errno::EINVAL, "UnknownFlags");
    assert_refused(at(Policy::FlagsXend), Errno::EINVAL, "UnknownFlags");
    // iommufd's convention for the same bytes.
    assert_refused(at(Policy::ZeroTail), Errno::EOPNOTSUPP, "UnknownFlags");
    // A G2 (or G3) kernel reads the new field back.
    let f = family(name).expect("declared");
    let user = (f.value)(Gen::G2, Features::New).expect("a G2 value");
    for p in Policy::ALL {
        let v = GpasidBindDataG2::from_user(&user, p).expect("accepted");
        assert_eq!((v.flags & 2, v.pasid_bits), (2, 20), "{p}");
        assert_ok(find(&cells, name, Gen::G2, Gen::G3, Features::New, p));
    }
}

#[test]
fn headline_g2_padding_on_a_g1_kernel() {
    let cells = matrix::matrix();
    for name in ["iommu_cache_invalidate_info", "iommu_pasid_table_config"] {
        let at = |p| find(&cells, name, Gen::G2, Gen::G1, Features::New, p);
        assert_refused(at(Policy::Linux510), Errno::EINVAL, "NonZeroReserved");
        assert_refused(at(Policy::FlagsXend), Errno::EINVAL, "NonZeroReserved");
        // Same size: no tail, so zero-tail answers with its content errno.
        assert_refused(at(Policy::ZeroTail), Errno::EOPNOTSUPP, "NonZeroReserved");
    }
}

#[test]
fn headline_g3_vendor_formats_on_older_kernels() {
    let cells = matrix::matrix();
    for name in ["iommu_gpasid_bind_data", "iommu_pasid_table_config"] {
        for kernel in [Gen::G1, Gen::G2] {
            let at = |p| find(&cells, name, Gen::G3, kernel, Features::New, p);
            assert_refused(at(Policy::ZeroTail), Errno::E2BIG, "NonZeroTail");
            assert_refused(at(Policy::Linux510), Errno::EINVAL, "UnsupportedValue");
            assert_refused(at(Policy::FlagsXend), Errno::EINVAL, "UnsupportedValue");
        }
    }
}

#[test]
fn old_features_are_accepted_everywhere() {
    for c in matrix::matrix()
        .iter()
        .filter(|c| c.features == Features::Old)
    {
        assert_ok(c);
    }
}

#[test]
fn structs_without_padding_or_union_have_no_g2_or_g3() {
    for name in ["iommu_page_response", "vfio_iommu_type1_pasid_request"] {
        let f = family(name).expect("declared");
        assert!(f.layout(Gen::G1).is_some(), "{name}");
        let reasons: Vec<&str> = [Gen::G2, Gen::G3]
            .iter()
            .map(|g| match f.header(*g) {
                Header::Impossible { reason, .. } => *reason,
                Header::Declared { .. } => panic!("{name} {g:?} is declared"),
            })
            .collect();
        assert_eq!(reasons, ["no padding", "no union"], "{name}");
        // ...which the declaration confirms: no padding field, no union.
        let g1 = f.layout(Gen::G1).expect("G1");
        assert!(g1.union.is_none(), "{name}");
        assert!(
            g1.fields.iter().all(|f| f.check != Check::Zero),
            "{name} has padding"
        );
    }
    // The others have both.
    for f in FAMILIES.iter().filter(|f| f.layout(Gen::G2).is_some()) {
        let g1 = f.layout(Gen::G1).expect("G1");
        assert!(g1.union.is_some(), "{}", f.name);
        assert!(
            g1.fields.iter().any(|f| f.check == Check::Zero),
            "{}",
            f.name
        );
    }
}

#[test]
fn generations_follow_the_2020_rules() {
    for f in FAMILIES {
        let Some(g1) = f.layout(Gen::G1) else {
            panic!("{} has no G1", f.name)
        };
        for g in [Gen::G2, Gen::G3] {
            let Some(l) = f.layout(g) else { continue };
            assert_eq!(l.name, f.name);
            assert_eq!(l.generations.len(), g.index() + 1, "{} {g:?}", f.name);
            assert_eq!(usize::from(l.latest()), g.index());
            // The minimum (the union's offset) never moves; nothing follows the union.
            assert_eq!(l.min_size, g1.min_size, "{} {g:?}", f.name);
            // Every G1 field that is not padding or the union keeps its offset and size.
            for f1 in g1
                .fields
                .iter()
                .filter(|x| x.check != Check::Zero && x.check != Check::Union)
            {
                let fl = l.fields.iter().find(|x| x.name == f1.name);
                assert_eq!(
                    fl.map(|x| (x.offset, x.size)),
                    Some((f1.offset, f1.size)),
                    "{} {g:?}: {} moved",
                    f.name,
                    f1.name
                );
            }
            // Every new field lies inside G1's padding.
            for nf in l.fields.iter().filter(|x| usize::from(x.since) == 1) {
                let covering = g1.field_at(nf.offset).map(|x| x.check);
                assert_eq!(covering, Some(Check::Zero), "{} {}", f.name, nf.name);
            }
        }
        let (Some(g2), Some(g3)) = (f.layout(Gen::G2), f.layout(Gen::G3)) else {
            continue;
        };
        // G2 repurposes padding: same size. G3 appends a larger member: grows.
        assert_eq!(g2.size, g1.size, "{}", f.name);
        assert!(g3.size > g2.size, "{}", f.name);
        // G3 ⊇ G2: every G2 field is in G3 at the same place (the union grows).
        for f2 in g2.fields {
            let f3 = g3.fields.iter().find(|x| x.name == f2.name);
            let f3 = f3.unwrap_or_else(|| panic!("{}: G3 lacks {}", f.name, f2.name));
            assert_eq!(f3.offset, f2.offset, "{} {}", f.name, f2.name);
            assert_eq!(f3.since, f2.since, "{} {}", f.name, f2.name);
            if f2.check != Check::Union {
                assert_eq!(f3.size, f2.size, "{} {}", f.name, f2.name);
            }
        }
        // G3's new member is larger than the whole G1 union.
        let u1 = g1.union.expect("union");
        let u3 = g3.union.expect("union");
        let new: Vec<_> = u3.variants.iter().filter(|v| v.since == 2).collect();
        assert_eq!(new.len(), 1, "{}", f.name);
        assert!(new[0].end > g1.size, "{}", f.name);
        assert!(u1.variants.iter().all(|v| v.value != new[0].value));
    }
}

#[test]
fn fixtures_are_what_they_claim() {
    for f in FAMILIES {
        for g in f.declared() {
            let l = f.layout(g).expect("declared");
            let old = matrix::user_bytes(f, g, Features::Old)
                .expect("an old-feature value")
                .expect("encodes");
            assert_eq!(old.len(), l.size, "{} {g:?}: argsz = sizeof(Gu)", f.name);
            assert_eq!(
                u32::from_ne_bytes(old[..4].try_into().expect("4 bytes")) as usize,
                l.size
            );
            // Old features: every field a later generation added is zero...
            for nf in l.fields.iter().filter(|x| x.since > 0) {
                assert!(
                    old[nf.offset..nf.end()].iter().all(|b| *b == 0),
                    "{} {g:?}: {} set in an old-feature value",
                    f.name,
                    nf.name
                );
            }
            // ...and nothing lies past G1's size.
            let g1 = f.layout(Gen::G1).expect("G1");
            assert!(old[g1.size..].iter().all(|b| *b == 0), "{} {g:?}", f.name);

            let new = matrix::user_bytes(f, g, Features::New);
            if g == Gen::G1 {
                assert!(new.is_none(), "{}: G1 has no new feature", f.name);
                continue;
            }
            let new = new.expect("a new-feature value").expect("encodes");
            assert_eq!(new.len(), l.size);
            for nf in l
                .fields
                .iter()
                .filter(|x| usize::from(x.since) == g.index())
            {
                assert!(
                    new[nf.offset..nf.end()].iter().any(|b| *b != 0),
                    "{} {g:?}: new field {} is zero",
                    f.name,
                    nf.name
                );
            }
            if g == Gen::G3 {
                let u = l.union.expect("union");
                let v = l
                    .variant_for(vsva_uapi::read_field(&new, u.selector))
                    .expect("a known member");
                assert_eq!(v.since, 2, "{}: selects the new member", f.name);
                assert!(
                    new[g1.size..].iter().any(|b| *b != 0),
                    "{}: non-zero bytes past G1's size",
                    f.name
                );
            }
        }
    }
}

#[test]
fn the_oracle_agrees_with_a_hand_written_table() {
    // The oracle derives the refusals from the declarations alone (it never runs the
    // codec); check a sample against a table written out by hand from the rules.
    use compat_tests::matrix::expect;
    #[rustfmt::skip]
    let table: &[(&str, Gen, Gen, Policy, Errno, &str)] = &[
        ("iommu_cache_invalidate_info", Gen::G2, Gen::G1, Policy::Linux510, Errno::EINVAL, "NonZeroReserved"),
        ("iommu_cache_invalidate_info", Gen::G3, Gen::G1, Policy::ZeroTail, Errno::E2BIG, "NonZeroTail"),
        ("iommu_gpasid_bind_data", Gen::G2, Gen::G1, Policy::ZeroTail, Errno::EOPNOTSUPP, "UnknownFlags"),
        ("iommu_gpasid_bind_data", Gen::G3, Gen::G2, Policy::FlagsXend, Errno::EINVAL, "UnsupportedValue"),
        ("iommu_pasid_table_config", Gen::G2, Gen::G1, Policy::FlagsXend, Errno::EINVAL, "NonZeroReserved"),
        ("iommu_pasid_table_config", Gen::G3, Gen::G1, Policy::Linux510, Errno::EINVAL, "UnsupportedValue"),
    ];
    for &(name, user, kernel, policy, errno, kind) in table {
        let f = family(name).expect("declared");
        let bytes = matrix::user_bytes(f, user, Features::New)
            .expect("value")
            .expect("encodes");
        assert_eq!(
            expect(f, user, kernel, Features::New, policy, Some(&bytes)),
            Expected::Refused { errno, kind },
            "{name} {user:?} on {kernel:?}, {policy}"
        );
    }
}

/// A G1 header that forgot to check its padding (`Check::None` instead of `Check::Zero`):
/// a G2 user's repurposed field would be silently ignored by it.
static SLOPPY_G1_FIELDS: [Field; 6] = {
    let f = CacheInvalidateInfoG1::FIELDS;
    [
        f[0],
        f[1],
        f[2],
        f[3],
        Field {
            check: Check::None,
            ..f[4]
        },
        f[5],
    ]
};
static SLOPPY_G1: Layout = Layout {
    fields: &SLOPPY_G1_FIELDS,
    ..*CacheInvalidateInfoG1::DECL
};
static SLOPPY_FAMILY: Family = Family {
    name: "iommu_cache_invalidate_info (G1 without its padding check)",
    headers: [
        Header::Declared {
            layout: &SLOPPY_G1,
            adds: "",
            feature: "",
        },
        FAMILIES[0].headers[1],
        FAMILIES[0].headers[2],
    ],
    value: FAMILIES[0].value,
};

#[test]
fn a_silent_misreading_is_caught_by_both_the_rules_and_the_meaning_check() {
    assert_eq!(SLOPPY_G1_FIELDS[4].name, "padding");
    let cells = matrix::family_cells(&SLOPPY_FAMILY);
    for p in Policy::ALL {
        let c = find(
            &cells,
            SLOPPY_FAMILY.name,
            Gen::G2,
            Gen::G1,
            Features::New,
            p,
        );
        // The rules find nothing in the sloppy G1 that refuses the G2 feature...
        assert!(
            matches!(c.expected, Expected::Misread { .. }),
            "{}",
            c.label()
        );
        // ...the codec accepts it, and the meaning check reports the lost fields.
        let Actual::Ok { misread } = &c.actual else {
            panic!("{}: {}", c.label(), c.actual)
        };
        assert!(
            misread.iter().any(|m| m.contains("`asid`")),
            "{}: {misread:?}",
            c.label()
        );
        assert!(!c.passes(), "{}", c.label());
    }
    // Old features stay fine on it.
    for c in cells.iter().filter(|c| c.features == Features::Old) {
        assert!(c.passes(), "{}: {}", c.label(), c.actual);
    }
}

#[test]
fn the_meaning_check_sees_every_difference() {
    let f = family("iommu_cache_invalidate_info").expect("declared");
    let g1 = f.layout(Gen::G1).expect("G1");
    let g3 = f.layout(Gen::G3).expect("G3");
    let user = matrix::user_bytes(f, Gen::G1, Features::Old)
        .expect("value")
        .expect("encodes");
    let mut kernel = user.clone();
    kernel.resize(g3.size, 0);
    let addr_info = g3.variant_for(2);
    assert_eq!(
        matrix::misreadings(g1, &user, g3, &kernel, addr_info),
        Vec::<String>::new()
    );
    // A header field read differently.
    let mut k = kernel.clone();
    k[8] ^= 1;
    let m = matrix::misreadings(g1, &user, g3, &k, addr_info);
    assert!(m.iter().any(|m| m.contains("`cache`")), "{m:?}");
    // A member field read differently (addr_info.addr at 16 + 16).
    let mut k = kernel.clone();
    k[33] ^= 1;
    let m = matrix::misreadings(g1, &user, g3, &k, addr_info);
    assert!(
        m.iter().any(|m| m.contains("`granu.addr_info.addr`")),
        "{m:?}"
    );
    // A kernel-only field not zero-filled; the grown union not zero-filled.
    let mut k = kernel.clone();
    k[12] = 1;
    k[60] = 1;
    let m = matrix::misreadings(g1, &user, g3, &k, addr_info);
    assert!(
        m.iter().any(|m| m.contains("`asid` (kernel header only)")),
        "{m:?}"
    );
    assert!(m.iter().any(|m| m.contains("`granu`")), "{m:?}");
    // The wrong member selected.
    let m = matrix::misreadings(g1, &user, g3, &kernel, g3.variant_for(1));
    assert!(m.iter().any(|m| m.contains("union member")), "{m:?}");
}

#[test]
fn g2_and_g3_need_no_decode_logic() {
    // The same generic entry point decodes every generation; the typed front end of a
    // G2/G3 declaration is the same trait method as for a uapi struct.
    let f = family("iommu_gpasid_bind_data").expect("declared");
    let bytes = (f.value)(Gen::G3, Features::New).expect("value");
    let v = compat_tests::generations::GpasidBindDataG3::from_user(&bytes, Policy::Linux510)
        .expect("accepted");
    assert_eq!(v.format, 2);
    let err = vsva_uapi::GpasidBindData::from_user(&bytes, Policy::Linux510).unwrap_err();
    assert!(matches!(
        err,
        UapiError::UnsupportedValue {
            field: "format",
            have: 2,
            ..
        }
    ));
}

/// The generated block as committed, or (when blessing) as generated.
#[test]
fn compat_matrix_md_is_generated_from_the_matrix() {
    let path = page_path();
    let page = fs::read_to_string(&path).expect("docs/compat-matrix.md is readable");
    let want = matrix::render(&matrix::matrix());
    if blessing() {
        let new = vsva_docs::tables::splice(&page, MARKER, &want).expect("compat-matrix markers");
        if new != page {
            fs::write(&path, new).expect("docs/compat-matrix.md is writable");
        }
        return;
    }
    let have = vsva_docs::tables::generated_block(&page, MARKER).expect("compat-matrix markers");
    assert_eq!(
        have, want,
        "docs/compat-matrix.md is stale: regenerate it with \
         `VSVA_BLESS=1 cargo test -p compat-tests --test matrix`"
    );
}
