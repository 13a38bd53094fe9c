//! `vsva explain --struct vtd_inv_desc | vtd_pasid_entry | vtd_page_req_desc`: the
//! hardware formats of the emulated VT-d, decoded field by field, with what vsva-viommu
//! receives for them (the decoding and mapping are `vsva_vtd::explain`'s; this module
//! only renders).
//!
//! JSON: `{"struct", "decoded_as", "ok", "error", "words", "fields", "maps_to"}`:
//! `words` are the 64-bit words as hex strings in order, `fields` maps each field name to
//! its value (a number), `maps_to` is `{"struct", "op", "hex", "note"}` (`hex` the
//! request's bytes in memory order, or `null` when they depend on the unit's state) or
//! `null` when the structure reaches vsva-viommu as nothing.

use std::fmt::Write as _;

use serde_json::{json, Map, Value};
use vsva_vtd::explain::{explain, ExplainError, Explained, NAMES};

/// Whether `name` is one of the hardware structures.
pub fn is_hw_struct(name: &str) -> bool {
    NAMES.contains(&name)
}

/// Explains `bytes` as `name`.
///
/// # Errors
/// An unknown name or a wrong length (exit status 2).
pub fn explain_hw(name: &str, bytes: &[u8]) -> Result<Explained, ExplainError> {
    explain(name, bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The JSON object.
pub fn to_json(e: &Explained) -> Value {
    let mut fields = Map::new();
    for (f, v) in e.fields() {
        fields.insert(f.name.to_owned(), json!(v));
    }
    json!({
        "struct": e.name,
        "decoded_as": e.layout.map(|l| l.name),
        "ok": e.verdict.is_ok(),
        "error": e.verdict.as_ref().err(),
        "words": e.words.iter().map(|w| format!("{w:#018x}")).collect::<Vec<_>>(),
        "fields": fields,
        "maps_to": e.maps_to.as_ref().map(|m| json!({
            "struct": m.struct_name,
            "op": m.op,
            "hex": m.bytes.as_deref().map(hex),
            "note": m.note,
        })),
    })
}

/// The table.
pub fn to_text(e: &Explained) -> String {
    let mut out = String::new();
    let bits = e.words.len() * 64;
    let verdict = match &e.verdict {
        Ok(()) => "ACCEPTED".to_owned(),
        Err(why) => format!("REFUSED: {why}"),
    };
    let _ = writeln!(
        out,
        "{} ({bits}-bit) as {}: {verdict}",
        e.name,
        e.layout.map_or("an unknown descriptor type", |l| l.name)
    );
    let fields = e.fields();
    let width = fields
        .iter()
        .map(|(f, _)| f.name.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let _ = writeln!(out, "  bits     {:width$}  value", "field");
    for (f, v) in fields {
        let _ = writeln!(
            out,
            "  {:<7}  {:width$}  {v:#x} ({v})",
            f.bit_range().to_string(),
            f.name
        );
    }
    match &e.maps_to {
        None => out.push_str("  maps to: nothing (no request reaches vsva-viommu)\n"),
        Some(m) => {
            let _ = writeln!(out, "  maps to: {} ({})", m.struct_name, m.op);
            if let Some(b) = &m.bytes {
                let _ = writeln!(out, "  hex:     {}", hex(b));
            }
            let _ = writeln!(out, "  note:    {}", m.note);
        }
    }
    out.pop();
    out
}
