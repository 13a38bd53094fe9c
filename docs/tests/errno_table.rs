//! `docs/errno.md` holds exactly the table generated from `UapiError::CATALOGUE`, and
//! every row agrees with `errno()`.
//!
//! Regenerate the page with `VSVA_BLESS=1 cargo test -p vsva-docs`.

use std::fs;
use std::path::PathBuf;

use vsva_docs::tables::{self, ERRNO_MARKER};
use vsva_uapi::UapiError;

fn page_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("errno.md")
}

/// Serialises the two tests that rewrite docs/errno.md when blessing.
static PAGE_WRITE: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn blessing() -> bool {
    std::env::var("VSVA_BLESS").is_ok_and(|v| v == "1")
}

/// The table as committed, or (when blessing, since the page is being rewritten
/// concurrently) as generated.
fn committed_table() -> String {
    if blessing() {
        return tables::errno_table();
    }
    let page = fs::read_to_string(page_path()).expect("docs/errno.md is readable");
    tables::generated_block(&page, ERRNO_MARKER)
        .expect("docs/errno.md has the errno markers")
        .to_string()
}

/// The cells of the table's data rows (header and separator skipped).
fn rows(table: &str) -> Vec<Vec<String>> {
    table
        .lines()
        .skip(2)
        .map(|line| {
            line.trim()
                .trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

#[test]
fn errno_md_is_generated_from_the_catalogue() {
    let _guard = PAGE_WRITE.lock().unwrap_or_else(|e| e.into_inner());
    let path = page_path();
    let page = fs::read_to_string(&path).expect("docs/errno.md is readable");
    let want = tables::errno_table();
    if blessing() {
        let new = tables::splice(&page, ERRNO_MARKER, &want).expect("errno markers");
        if new != page {
            fs::write(&path, new).expect("docs/errno.md is writable");
        }
        return;
    }
    let have = tables::generated_block(&page, ERRNO_MARKER).expect("errno markers");
    assert_eq!(
        have, want,
        "docs/errno.md is stale: regenerate it with `VSVA_BLESS=1 cargo test -p vsva-docs`"
    );
}

#[test]
fn every_row_matches_its_catalogue_entry() {
    let rows = rows(&committed_table());
    assert_eq!(rows.len(), UapiError::CATALOGUE.len(), "one row per entry");
    for (row, e) in rows.iter().zip(UapiError::CATALOGUE) {
        assert!(row.len() >= 5, "row {row:?} has five columns");
        assert_eq!(row[0], e.kind(), "{e}");
        let policy = e.policy().map_or("any", |p| p.name());
        assert_eq!(row[1], policy, "{e}");
        assert_eq!(row[2], e.errno().name(), "{e}");
        let number: i32 = row[3].parse().expect("errno number is an integer");
        assert_eq!(number, e.errno().raw(), "{e}");
    }
}

#[test]
fn every_variant_kind_appears_in_the_table() {
    // That the catalogue holds every variant is vsva-uapi's own test
    // (`catalogue_covers_every_variant`, an exhaustive match); here, every kind it holds
    // must have a row.
    let rows = rows(&committed_table());
    for e in UapiError::CATALOGUE {
        assert!(
            rows.iter()
                .any(|r| r.first().is_some_and(|k| k == e.kind())),
            "{} is missing from the table",
            e.kind()
        );
    }
}

#[test]
fn policy_dependent_rows_follow_the_convention() {
    // iommufd (zero-tail) says EOPNOTSUPP where the 2020 core and VFIO say EINVAL.
    for e in UapiError::CATALOGUE {
        if let Some(policy) = e.policy() {
            let want = if policy == vsva_uapi::Policy::ZeroTail {
                "EOPNOTSUPP"
            } else {
                "EINVAL"
            };
            assert_eq!(e.errno().name(), want, "{e}");
        }
    }
}

#[test]
fn viommu_errno_table_is_generated_from_its_catalogue() {
    use vsva_docs::tables::VIOMMU_ERRNO_MARKER;
    let _guard = PAGE_WRITE.lock().unwrap_or_else(|e| e.into_inner());
    let path = page_path();
    let page = fs::read_to_string(&path).expect("docs/errno.md is readable");
    let want = tables::viommu_errno_table();
    if blessing() {
        let new = tables::splice(&page, VIOMMU_ERRNO_MARKER, &want).expect("markers");
        if new != page {
            fs::write(&path, new).expect("docs/errno.md is writable");
        }
        return;
    }
    let have = tables::generated_block(&page, VIOMMU_ERRNO_MARKER).expect("markers");
    assert_eq!(
        have, want,
        "docs/errno.md is stale: regenerate it with `VSVA_BLESS=1 cargo test -p vsva-docs`"
    );
    // Every variant but Uapi (whose rows are the table above) has a row.
    let kinds: Vec<String> = rows(&want).into_iter().map(|r| r[0].clone()).collect();
    for kind in [
        "Unsupported",
        "HostCapability",
        "NotOwned",
        "GpasidRange",
        "BadRange",
        "NoPendingRequest",
        "AlreadyBound",
        "GpasidInUse",
        "DeviceBusy",
        "PasidSpaceExhausted",
        "PasidQuota",
        "DeviceNotAttached",
        "Entropy",
        "Backend",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "no row for {kind}");
    }
}

/// The generated block `marker` of docs/errno.md is `want` (rewritten when blessing).
fn check_block(marker: &str, want: &str) {
    let _guard = PAGE_WRITE.lock().unwrap_or_else(|e| e.into_inner());
    let path = page_path();
    let page = fs::read_to_string(&path).expect("docs/errno.md is readable");
    if blessing() {
        let new = tables::splice(&page, marker, want).expect("markers");
        if new != page {
            fs::write(&path, new).expect("docs/errno.md is writable");
        }
        return;
    }
    let have = tables::generated_block(&page, marker).expect("markers");
    assert_eq!(
        have, want,
        "docs/errno.md's {marker} table is stale: regenerate it with `VSVA_BLESS=1 cargo test -p vsva-docs`"
    );
}

#[test]
fn strict_table_is_generated_from_the_rules() {
    check_block(tables::STRICT_MARKER, &tables::strict_table());
}

#[test]
fn releases_table_is_generated_from_the_declarations() {
    check_block(tables::RELEASES_MARKER, &tables::releases_table());
}

/// Every rule of vsva's strictness has a witness the kernel accepts and vsva refuses,
/// except the VT-d table's row that restates the generic layer (the PASID cache at
/// address granularity, which iommu_check_cache_invl_data refuses already).
#[test]
fn every_strict_rule_has_a_witness_the_kernel_accepts() {
    let mut without = Vec::new();
    let mut with = 0;
    for layout in vsva_uapi::ALL_STRUCTS {
        for rule in layout.strict_rules() {
            match tables::strict_witness(layout, rule) {
                Some(_) => with += 1,
                None => without.push((layout.name, rule.name)),
            }
        }
    }
    assert_eq!(
        without,
        [("iommu_cache_invalidate_info", "vtd-cache-granularity")]
    );
    assert!(with >= 8, "{with} witnesses");
}
