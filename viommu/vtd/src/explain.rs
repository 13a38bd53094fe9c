//! What the unit makes of one hardware structure a VMM engineer pasted from a trace: its
//! fields, whether the unit accepts it, and the 2020 request vsva-viommu receives for it
//! (`vsva explain --struct vtd_inv_desc | vtd_pasid_entry | vtd_page_req_desc`).
//!
//! The checks are those of a unit over [`HostIommu::vtd_default`] (a 256-bit queue
//! with ECAP.PDS, no DIT, MAMV 18). A request that needs the unit's state (the host
//! PASID bound for a guest PASID) is shown with the guest's value in its place, and the
//! note says so.
//!
//! ```
//! use vsva_vtd::explain::explain;
//! // A PASID-selective IOTLB invalidation of PASID 5, DID 1 (32 bytes, memory order).
//! let mut b = [0u8; 32];
//! b[..8].copy_from_slice(&(6u64 | (2 << 4) | (1 << 16) | (5 << 32)).to_le_bytes());
//! let e = explain("vtd_inv_desc", &b).unwrap();
//! assert_eq!(e.layout.unwrap().name, "vtd_piotlb_inv_desc");
//! assert!(e.verdict.is_ok());
//! assert_eq!(e.maps_to.unwrap().struct_name, "iommu_cache_invalidate_info");
//! ```

use vsva_uapi::hw::vtd::{desc_type, DescCheck, InvDesc, InvDescType, PageReqDesc, PasidEntry};
use vsva_uapi::hw::{BitField, HwLayout};
use vsva_viommu::HostIommu;
use zerocopy::IntoBytes;

use crate::caps::Offer;
use crate::mapping::{self, FirstStage};

/// The structures `explain` knows.
pub const NAMES: &[&str] = &["vtd_inv_desc", "vtd_pasid_entry", "vtd_page_req_desc"];

/// What vsva-viommu receives for a structure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapsTo {
    /// The 2020 struct (`iommu_cache_invalidate_info`, `iommu_gpasid_bind_data`,
    /// `iommu_page_response`, `iommu_fault`).
    pub struct_name: &'static str,
    /// The operation: `cache_invalidate`, `bind_gpasid`, `unbind_gpasid`,
    /// `bind_gpasid / unbind_gpasid`, `page_response`, `page request (iommu_fault)`.
    pub op: &'static str,
    /// Its bytes, when they follow from the structure alone.
    pub bytes: Option<Vec<u8>>,
    /// What the unit fills in from its state, if anything.
    pub note: &'static str,
}

/// One explained structure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explained {
    /// The name asked for.
    pub name: &'static str,
    /// The declaration the bytes decode as (`None`: an unknown descriptor type).
    pub layout: Option<&'static HwLayout>,
    /// The words, in order.
    pub words: Vec<u64>,
    /// Accepted, or why not (the specification's queue error or fault reason).
    pub verdict: Result<(), String>,
    /// What vsva-viommu receives (`None`: nothing).
    pub maps_to: Option<MapsTo>,
}

impl Explained {
    /// Every field of the declaration with its value.
    pub fn fields(&self) -> Vec<(&'static BitField, u64)> {
        self.layout
            .map(|l| l.fields.iter().map(|f| (f, f.read(&self.words))).collect())
            .unwrap_or_default()
    }
}

/// Why `explain` could not decode the bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExplainError {
    /// Not one of [`NAMES`].
    #[error(
        "unknown hardware struct {0:?} (known: vtd_inv_desc, vtd_pasid_entry, vtd_page_req_desc)"
    )]
    UnknownStruct(String),
    /// The wrong number of bytes.
    #[error("{name} takes {want} bytes, got {got}")]
    Length {
        /// The structure.
        name: &'static str,
        /// What it takes.
        want: &'static str,
        /// What was given.
        got: usize,
    },
}

fn words(bytes: &[u8]) -> Vec<u64> {
    bytes
        .chunks_exact(8)
        .map(|c| {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            u64::from_le_bytes(b)
        })
        .collect()
}

fn offer() -> Offer {
    // The default host always backs a unit.
    Offer::derive(&HostIommu::vtd_default(), 8, true).unwrap_or(Offer {
        cap: Default::default(),
        ecap: Default::default(),
    })
}

/// Explains `bytes` (memory order) as the structure `name`.
///
/// # Errors
/// [`ExplainError`].
pub fn explain(name: &str, bytes: &[u8]) -> Result<Explained, ExplainError> {
    match name {
        "vtd_inv_desc" => inv_desc(bytes),
        "vtd_pasid_entry" => pasid_entry(bytes),
        "vtd_page_req_desc" => page_req(bytes),
        other => Err(ExplainError::UnknownStruct(other.to_string())),
    }
}

fn inv_desc(bytes: &[u8]) -> Result<Explained, ExplainError> {
    let name = "vtd_inv_desc";
    if bytes.len() != 16 && bytes.len() != 32 {
        return Err(ExplainError::Length {
            name,
            want: "16 (128-bit queue) or 32 (256-bit queue)",
            got: bytes.len(),
        });
    }
    let w = words(bytes);
    let mut four = [0u64; 4];
    four[..w.len()].copy_from_slice(&w);
    let o = offer();
    let check = DescCheck {
        wide: bytes.len() == 32,
        pds: o.ecap.pds,
        dit: o.ecap.dit,
        mamv: o.cap.mamv,
    };
    let layout = InvDescType::from_raw(desc_type(four[0])).map(InvDescType::layout);
    let (verdict, maps_to) = match InvDesc::decode(&four, &check) {
        Err(e) => (
            Err(format!("queue error (IQE, IQEI {}): {e}", e.iqei() as u8)),
            None,
        ),
        Ok(d) => (Ok(()), desc_maps_to(&d, o.cap.mamv)),
    };
    Ok(Explained {
        name,
        layout,
        words: w,
        verdict,
        maps_to,
    })
}

fn desc_maps_to(d: &InvDesc, mamv: u8) -> Option<MapsTo> {
    match d {
        InvDesc::PasidIotlb(p) => Some(MapsTo {
            struct_name: "iommu_cache_invalidate_info",
            op: "cache_invalidate",
            bytes: Some(mapping::piotlb_invalidation(p, p.pasid, mamv).as_bytes().to_vec()),
            note: "one per host PASID bound for (DID, guest PASID); the pasid field shown is the guest's, the unit puts the host PASID there; sent with the queue run's flush",
        }),
        InvDesc::PasidCache(_) => Some(MapsTo {
            struct_name: "iommu_gpasid_bind_data",
            op: "bind_gpasid / unbind_gpasid",
            bytes: None,
            note: "the unit re-reads every PASID entry the descriptor names: a new or changed first-stage entry is bound, a cleared one unbound",
        }),
        InvDesc::PageGroupResponse(r) => Some(MapsTo {
            struct_name: "iommu_page_response",
            op: "page_response",
            bytes: Some(mapping::page_response(r, Some(r.pasid)).as_bytes().to_vec()),
            note: "only if it answers a request the unit delivered (RID, PASID, PRGI); the pasid field is the one vsva-viommu showed for that request",
        }),
        // Context cache: a re-walk inside the unit; wait: a flush and the status write;
        // second-stage IOTLB, device-TLB and interrupt-entry flushes: nothing to send.
        _ => None,
    }
}

fn pasid_entry(bytes: &[u8]) -> Result<Explained, ExplainError> {
    let name = "vtd_pasid_entry";
    let Some(e) = PasidEntry::from_le_bytes(bytes) else {
        return Err(ExplainError::Length {
            name,
            want: "64",
            got: bytes.len(),
        });
    };
    let w = words(bytes);
    let mut raw = [0u64; 8];
    raw.copy_from_slice(&w);
    let (verdict, maps_to) = if !e.p {
        (
            Ok(()),
            Some(MapsTo {
                struct_name: "iommu_gpasid_bind_data",
                op: "unbind_gpasid",
                bytes: None,
                note: "not present: on the PASID-cache invalidation naming it, the host PASID bound for it (if any) is unbound",
            }),
        )
    } else if PasidEntry::has_reserved(&raw) {
        (
            Err("fault 0x5a: non-zero reserved field set in the PASID table entry".to_string()),
            None,
        )
    } else {
        match FirstStage::from_entry(&e, &offer()) {
            Err(r) => (Err(format!("fault {:#04x}: {r:?}", r.code())), None),
            Ok(fs) => (
                Ok(()),
                Some(MapsTo {
                    struct_name: "iommu_gpasid_bind_data",
                    op: "bind_gpasid",
                    bytes: Some(fs.bind_data(0, None).as_bytes().to_vec()),
                    note: "on the PASID-cache invalidation naming it; hpasid is allocated by the unit and gpasid (with IOMMU_SVA_GPASID_VAL) is the entry's PASID, both 0 here",
                }),
            ),
        }
    };
    Ok(Explained {
        name,
        layout: Some(&PasidEntry::LAYOUT),
        words: w,
        verdict,
        maps_to,
    })
}

fn page_req(bytes: &[u8]) -> Result<Explained, ExplainError> {
    let name = "vtd_page_req_desc";
    let Some(d) = PageReqDesc::from_le_bytes(bytes) else {
        return Err(ExplainError::Length {
            name,
            want: "32",
            got: bytes.len(),
        });
    };
    Ok(Explained {
        name,
        layout: Some(&PageReqDesc::LAYOUT),
        words: words(bytes),
        verdict: Ok(()),
        maps_to: Some(MapsTo {
            struct_name: "iommu_fault",
            op: "page request (iommu_fault)",
            bytes: Some(mapping::fault_of_page_request(&d).as_bytes().to_vec()),
            note: "the unit writes this descriptor for the iommu_fault vsva-viommu reported; the PASID is the guest's",
        }),
    })
}
