//! `docs/layouts.md` holds exactly the tables generated from `vsva_uapi::ALL_STRUCTS`.
//!
//! Regenerate the page with `VSVA_BLESS=1 cargo test -p vsva-docs`.

use std::fs;
use std::path::PathBuf;

use vsva_docs::tables::{self, LAYOUTS_MARKER};
use vsva_uapi::{Check, ALL_STRUCTS};

fn page_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("layouts.md")
}

fn blessing() -> bool {
    std::env::var("VSVA_BLESS").is_ok_and(|v| v == "1")
}

#[test]
fn layouts_md_is_generated_from_the_declarations() {
    let path = page_path();
    let page = fs::read_to_string(&path).expect("docs/layouts.md is readable");
    let want = tables::layouts();
    if blessing() {
        let new = tables::splice(&page, LAYOUTS_MARKER, &want).expect("layouts markers");
        if new != page {
            fs::write(&path, new).expect("docs/layouts.md is writable");
        }
        return;
    }
    let have = tables::generated_block(&page, LAYOUTS_MARKER).expect("layouts markers");
    assert_eq!(
        have, want,
        "docs/layouts.md is stale: regenerate it with `VSVA_BLESS=1 cargo test -p vsva-docs`"
    );
}

#[test]
fn the_ioctl_table_is_generated_from_the_declarations() {
    let path = page_path();
    let page = fs::read_to_string(&path).expect("docs/layouts.md is readable");
    let want = tables::ioctls();
    if blessing() {
        let new = tables::splice(&page, tables::IOCTLS_MARKER, &want).expect("ioctls markers");
        if new != page {
            fs::write(&path, new).expect("docs/layouts.md is writable");
        }
        return;
    }
    let have = tables::generated_block(&page, tables::IOCTLS_MARKER).expect("ioctls markers");
    assert_eq!(
        have, want,
        "docs/layouts.md's ioctl table is stale: regenerate it with `VSVA_BLESS=1 cargo test -p vsva-docs`"
    );
    for i in vsva_uapi::ioctl::ALL_IOCTLS {
        assert!(have.contains(&format!("| `{}` | [`{}`]", i.name, i.layout.name)));
    }
}

#[test]
fn every_struct_and_field_is_documented() {
    let generated = tables::layouts();
    for layout in ALL_STRUCTS {
        let section = tables::layout_section(layout);
        assert!(
            generated.contains(&format!("### `{}`\n", layout.name)),
            "{} has a section",
            layout.name
        );
        for f in layout.fields {
            assert!(
                section.contains(&format!("| {} | {} | `{}` |", f.offset, f.size, f.name)),
                "{}.{} has a row",
                layout.name,
                f.name
            );
        }
        if let Some(u) = layout.union {
            for v in u.variants {
                assert!(
                    section.contains(&format!("| {} | {} | {} |", v.value, v.name, v.end)),
                    "{} member {} has a row",
                    layout.name,
                    v.name
                );
            }
        }
        for x in layout.extensions {
            assert!(section.contains(&format!("`{}`", x.name)), "{}", x.name);
        }
    }
}

#[test]
fn check_text_reads_like_the_kernel_comments() {
    let field = |name, size, check| vsva_uapi::Field {
        name,
        offset: 0,
        size,
        kind: vsva_uapi::FieldKind::Int,
        check,
        since: 0,
    };
    let text = |f: &vsva_uapi::Field| f.check_text().to_string();
    assert_eq!(
        text(&field("version", 4, Check::Version(1))),
        "version == 1"
    );
    assert_eq!(text(&field("cache", 1, Check::Flags(7))), "cache ⊆ 0x7");
    assert_eq!(text(&field("padding", 6, Check::Zero)), "must be zero");
    let within = Check::Within {
        mask: 0xff,
        below: 3,
    };
    assert_eq!(text(&field("granularity", 1, within)), "granularity < 3");
    assert_eq!(
        text(&field("format", 4, Check::OneOf(&[1]))),
        "format ∈ {1}"
    );
    assert_eq!(
        text(&field("code", 4, Check::Valid(&[0, 1]))),
        "code ∈ {0, 1} (else EINVAL)"
    );
}
