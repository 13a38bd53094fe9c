//! The invalidation descriptors of the invalidation queue, their checks and decode.

use crate::hw::HwLayout;

/// An invalidation descriptor's 7-bit type: bits 3:0 and 11:9 of `QW0`.
pub const fn desc_type(qw0: u64) -> u8 {
    (((qw0 >> 5) & 0x70) | (qw0 & 0xf)) as u8
}

/// The invalidation descriptor types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum InvDescType {
    /// 1: context-cache invalidate.
    ContextCache = 1,
    /// 2: IOTLB invalidate.
    Iotlb = 2,
    /// 3: device-TLB invalidate.
    DevTlb = 3,
    /// 4: interrupt-entry-cache invalidate.
    Iec = 4,
    /// 5: invalidation wait.
    Wait = 5,
    /// 6: PASID-based IOTLB invalidate (256-bit).
    PasidIotlb = 6,
    /// 7: PASID-cache invalidate (256-bit).
    PasidCache = 7,
    /// 8: PASID-based device-TLB invalidate (256-bit).
    PasidDevTlb = 8,
    /// 9: page group response.
    PageGroupResponse = 9,
}

impl InvDescType {
    /// Every type.
    pub const ALL: &'static [InvDescType] = &[
        InvDescType::ContextCache,
        InvDescType::Iotlb,
        InvDescType::DevTlb,
        InvDescType::Iec,
        InvDescType::Wait,
        InvDescType::PasidIotlb,
        InvDescType::PasidCache,
        InvDescType::PasidDevTlb,
        InvDescType::PageGroupResponse,
    ];

    /// The type for a 7-bit type value.
    pub const fn from_raw(v: u8) -> Option<InvDescType> {
        match v {
            1 => Some(InvDescType::ContextCache),
            2 => Some(InvDescType::Iotlb),
            3 => Some(InvDescType::DevTlb),
            4 => Some(InvDescType::Iec),
            5 => Some(InvDescType::Wait),
            6 => Some(InvDescType::PasidIotlb),
            7 => Some(InvDescType::PasidCache),
            8 => Some(InvDescType::PasidDevTlb),
            9 => Some(InvDescType::PageGroupResponse),
            _ => None,
        }
    }

    /// Only valid in a 256-bit queue (types 6, 7, 8).
    pub const fn needs_wide_queue(self) -> bool {
        matches!(
            self,
            InvDescType::PasidIotlb | InvDescType::PasidCache | InvDescType::PasidDevTlb
        )
    }

    /// The descriptor's declaration.
    pub const fn layout(self) -> &'static HwLayout {
        match self {
            InvDescType::ContextCache => &CcInvDesc::LAYOUT,
            InvDescType::Iotlb => &IotlbInvDesc::LAYOUT,
            InvDescType::DevTlb => &DevTlbInvDesc::LAYOUT,
            InvDescType::Iec => &IecInvDesc::LAYOUT,
            InvDescType::Wait => &WaitDesc::LAYOUT,
            InvDescType::PasidIotlb => &PiotlbInvDesc::LAYOUT,
            InvDescType::PasidCache => &PcInvDesc::LAYOUT,
            InvDescType::PasidDevTlb => &PdevTlbInvDesc::LAYOUT,
            InvDescType::PageGroupResponse => &PgrpRespDesc::LAYOUT,
        }
    }
}

hw_struct! {
    /// Type 1: context-cache invalidate (128 bits).
    pub struct CcInvDesc = "vtd_cc_inv_desc", words 2 {
        /// Type bits 3:0 (1).
        type_lo: u8 = 0 @ 0 : 4;
        /// G: granularity (1 global, 2 domain, 3 device).
        g: u8 = 0 @ 4 : 2;
        /// Type bits 6:4 (0).
        type_hi: u8 = 0 @ 9 : 3;
        /// DID: domain id.
        did: u16 = 0 @ 16 : 16;
        /// SID: source id.
        sid: u16 = 0 @ 32 : 16;
        /// FM: function mask (0: none, 1: SID bit 2 ignored, 2: bits 2:1, 3: bits 2:0).
        fm: u8 = 0 @ 48 : 2;
    }
}

hw_struct! {
    /// Type 2: IOTLB invalidate (128 bits).
    pub struct IotlbInvDesc = "vtd_iotlb_inv_desc", words 2 {
        /// Type bits 3:0 (2).
        type_lo: u8 = 0 @ 0 : 4;
        /// G: granularity (1 global, 2 domain, 3 page).
        g: u8 = 0 @ 4 : 2;
        /// DW: drain writes.
        dw: bool = 0 @ 6;
        /// DR: drain reads.
        dr: bool = 0 @ 7;
        /// Type bits 6:4 (0).
        type_hi: u8 = 0 @ 9 : 3;
        /// DID: domain id.
        did: u16 = 0 @ 16 : 16;
        /// AM: address mask, `2^AM` pages.
        am: u8 = 1 @ 0 : 6;
        /// IH: invalidation hint (leaf only).
        ih: bool = 1 @ 6;
        /// ADDR: page address.
        addr: u64 = 1 @ 12 : 52, addr;
    }
}

hw_struct! {
    /// Type 3: device-TLB invalidate (128 bits).
    pub struct DevTlbInvDesc = "vtd_dev_tlb_inv_desc", words 2 {
        /// Type bits 3:0 (3).
        type_lo: u8 = 0 @ 0 : 4;
        /// Type bits 6:4 (0).
        type_hi: u8 = 0 @ 9 : 3;
        /// PFSID bits 3:0 (only with ECAP.DIT; reserved otherwise).
        pfsid_lo: u8 = 0 @ 12 : 4;
        /// MIP: the device's invalidate queue depth.
        mip: u8 = 0 @ 16 : 5;
        /// SID: the device.
        sid: u16 = 0 @ 32 : 16;
        /// PFSID bits 15:4 (only with ECAP.DIT; reserved otherwise).
        pfsid_hi: u16 = 0 @ 52 : 12;
        /// S: size (ATS encoding in ADDR).
        s: bool = 1 @ 0;
        /// ADDR: page address (with S, the trailing ones encode the size).
        addr: u64 = 1 @ 12 : 52, addr;
    }
}

hw_struct! {
    /// Type 4: interrupt-entry-cache invalidate (128 bits).
    pub struct IecInvDesc = "vtd_iec_inv_desc", words 2 {
        /// Type bits 3:0 (4).
        type_lo: u8 = 0 @ 0 : 4;
        /// G: 0 global, 1 index-selective.
        g: bool = 0 @ 4;
        /// Type bits 6:4 (0).
        type_hi: u8 = 0 @ 9 : 3;
        /// IM: index mask, `2^IM` entries.
        im: u8 = 0 @ 27 : 5;
        /// IIDX: interrupt remapping table index.
        iidx: u16 = 0 @ 32 : 16;
    }
}

hw_struct! {
    /// Type 5: invalidation wait (128 bits).
    pub struct WaitDesc = "vtd_wait_desc", words 2 {
        /// Type bits 3:0 (5).
        type_lo: u8 = 0 @ 0 : 4;
        /// IF: raise an invalidation completion event when done.
        if_flag: bool = 0 @ 4;
        /// SW: write the status data to the status address when done.
        sw: bool = 0 @ 5;
        /// FN: fence (later descriptors wait for this one).
        fn_flag: bool = 0 @ 6;
        /// PD: page-request drain (only with ECAP.PDS; reserved otherwise).
        pd: bool = 0 @ 7;
        /// Type bits 6:4 (0).
        type_hi: u8 = 0 @ 9 : 3;
        /// Status data, written as exactly 4 bytes.
        status_data: u32 = 0 @ 32 : 32;
        /// Status address (dword aligned).
        status_addr: u64 = 1 @ 2 : 62, addr;
    }
}

hw_struct! {
    /// Type 6: PASID-based IOTLB invalidate (256 bits).
    pub struct PiotlbInvDesc = "vtd_piotlb_inv_desc", words 4 {
        /// Type bits 3:0 (6).
        type_lo: u8 = 0 @ 0 : 4;
        /// G: 2 = the PASID's non-global mappings in DID, 3 = page-selective within the PASID.
        g: u8 = 0 @ 4 : 2;
        /// Type bits 6:4 (0).
        type_hi: u8 = 0 @ 9 : 3;
        /// DID: domain id.
        did: u16 = 0 @ 16 : 16;
        /// PASID.
        pasid: u32 = 0 @ 32 : 20;
        /// AM: address mask, `2^AM` pages.
        am: u8 = 1 @ 0 : 6;
        /// IH: invalidation hint (leaf only).
        ih: bool = 1 @ 6;
        /// ADDR: page address.
        addr: u64 = 1 @ 12 : 52, addr;
    }
}

hw_struct! {
    /// Type 7: PASID-cache invalidate (256 bits).
    pub struct PcInvDesc = "vtd_pc_inv_desc", words 4 {
        /// Type bits 3:0 (7).
        type_lo: u8 = 0 @ 0 : 4;
        /// G: 0 = all PASIDs of DID, 1 = one PASID in DID, 3 = global (2 reserved).
        g: u8 = 0 @ 4 : 2;
        /// Type bits 6:4 (0).
        type_hi: u8 = 0 @ 9 : 3;
        /// DID: domain id.
        did: u16 = 0 @ 16 : 16;
        /// PASID.
        pasid: u32 = 0 @ 32 : 20;
    }
}

hw_struct! {
    /// Type 8: PASID-based device-TLB invalidate (256 bits).
    pub struct PdevTlbInvDesc = "vtd_pdev_tlb_inv_desc", words 4 {
        /// Type bits 3:0 (8).
        type_lo: u8 = 0 @ 0 : 4;
        /// MIP: the device's invalidate queue depth.
        mip: u8 = 0 @ 4 : 5;
        /// Type bits 6:4 (0).
        type_hi: u8 = 0 @ 9 : 3;
        /// PFSID bits 3:0 (only with ECAP.DIT; reserved otherwise).
        pfsid_lo: u8 = 0 @ 12 : 4;
        /// SID: the device.
        sid: u16 = 0 @ 16 : 16;
        /// PASID.
        pasid: u32 = 0 @ 32 : 20;
        /// PFSID bits 15:4 (only with ECAP.DIT; reserved otherwise).
        pfsid_hi: u16 = 0 @ 52 : 12;
        /// G: every PASID of the SID.
        g: bool = 1 @ 0;
        /// S: size (ATS encoding in ADDR).
        s: bool = 1 @ 11;
        /// ADDR: page address.
        addr: u64 = 1 @ 12 : 52, addr;
    }
}

hw_struct! {
    /// Type 9: page group response (128 bits used; before revision 4.0 `QW2`/`QW3` held
    /// private data).
    pub struct PgrpRespDesc = "vtd_page_grp_resp_desc", words 2 {
        /// Type bits 3:0 (9).
        type_lo: u8 = 0 @ 0 : 4;
        /// PP: PASID present.
        pp: bool = 0 @ 4;
        /// PDP: private data present (before revision 4.0).
        pdp: bool = 0 @ 5;
        /// Type bits 6:4 (0).
        type_hi: u8 = 0 @ 9 : 3;
        /// RC: response code ([`ResponseCode`]).
        rc: u8 = 0 @ 12 : 4;
        /// RID: the requester.
        rid: u16 = 0 @ 16 : 16;
        /// PASID.
        pasid: u32 = 0 @ 32 : 20;
        /// LPIG: last page in group (reserved since revision 4.0; older guests set it).
        lpig: bool = 1 @ 2;
        /// PRGI: page request group index.
        prgi: u16 = 1 @ 3 : 9;
    }
}

/// A page group response code (`RC`), in the VT-d / PCIe encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ResponseCode {
    /// 0: the page(s) are now accessible.
    Success = 0,
    /// 1: invalid request; the device should not retry.
    InvalidRequest = 1,
    /// 0xF: response failure; the device disables its page request interface.
    Failure = 0xf,
}

impl ResponseCode {
    /// The code for a raw `RC` value: 0 and 1 are themselves, 0xF is failure, and so is
    /// any reserved value (as QEMU reads them).
    pub const fn from_raw(rc: u8) -> ResponseCode {
        match rc {
            0 => ResponseCode::Success,
            1 => ResponseCode::InvalidRequest,
            _ => ResponseCode::Failure,
        }
    }

    /// The raw `RC` value.
    pub const fn raw(self) -> u8 {
        self as u8
    }

    /// The 2020 UAPI's `enum iommu_page_response_code` for this code (success 0,
    /// invalid 1, failure 2): VT-d's failure is 0xF on the wire, not 2.
    pub const fn to_generic(self) -> crate::consts::PageResponseCode {
        match self {
            ResponseCode::Success => crate::consts::PageResponseCode::Success,
            ResponseCode::InvalidRequest => crate::consts::PageResponseCode::Invalid,
            ResponseCode::Failure => crate::consts::PageResponseCode::Failure,
        }
    }

    /// The VT-d code a generic `iommu_page_response_code` puts on the wire.
    pub const fn from_generic(code: crate::consts::PageResponseCode) -> ResponseCode {
        match code {
            crate::consts::PageResponseCode::Success => ResponseCode::Success,
            crate::consts::PageResponseCode::Invalid => ResponseCode::InvalidRequest,
            crate::consts::PageResponseCode::Failure => ResponseCode::Failure,
        }
    }
}

/// The invalidation queue error info (`IQERCD.IQEI`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Iqei {
    /// 0: no further information (also: a wait descriptor's status write failed).
    NoInfo = 0,
    /// 1: invalid IQT (bit 4 set with 256-bit descriptors, or beyond the queue).
    InvalidTail = 1,
    /// 2: the descriptor could not be fetched.
    FetchError = 2,
    /// 3: invalid descriptor type.
    InvalidType = 3,
    /// 4: a reserved field (or a reserved encoding, such as a granularity) is set.
    ReservedField = 4,
    /// 5: a 256-bit descriptor in a 128-bit queue.
    InvalidWidth = 5,
}

/// What a descriptor is checked against: the queue's width and the capabilities that
/// make fields valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DescCheck {
    /// The queue holds 256-bit descriptors (IQA.DW with ECAP.SMTS).
    pub wide: bool,
    /// ECAP.PDS: the wait descriptor's PD bit is valid.
    pub pds: bool,
    /// ECAP.DIT: the PFSID fields are valid.
    pub dit: bool,
    /// CAP.MAMV: the largest AM of a page-selective IOTLB invalidation (type 2).
    pub mamv: u8,
}

impl DescCheck {
    /// A 256-bit queue on a unit with PDS, without DIT, MAMV 18 (what vsva's model offers).
    pub const fn scalable() -> DescCheck {
        DescCheck {
            wide: true,
            pds: true,
            dit: false,
            mamv: 18,
        }
    }
}

/// Why a descriptor is invalid (the unit sets FSTS.IQE and leaves IQH on it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DescError {
    /// No such descriptor type.
    InvalidType {
        /// The 7-bit type.
        ty: u8,
    },
    /// A 256-bit-only type in a 128-bit queue.
    NeedsWideQueue {
        /// The type.
        ty: InvDescType,
    },
    /// A reserved bit is set.
    Reserved {
        /// The type.
        ty: InvDescType,
        /// The word.
        word: u8,
        /// The reserved bits that are set.
        bits: u64,
    },
    /// A reserved granularity.
    Granularity {
        /// The type.
        ty: InvDescType,
        /// The `G` value.
        g: u8,
    },
    /// An IOTLB address mask beyond CAP.MAMV.
    AddressMask {
        /// AM.
        am: u8,
        /// CAP.MAMV.
        mamv: u8,
    },
    /// A wait descriptor with none of SW, IF, FN.
    WaitWithoutAction,
    /// A page group response without PP.
    ResponseWithoutPasid,
}

impl DescError {
    /// The `IQERCD.IQEI` code the unit records.
    pub const fn iqei(&self) -> Iqei {
        match self {
            DescError::InvalidType { .. } => Iqei::InvalidType,
            DescError::NeedsWideQueue { .. } => Iqei::InvalidWidth,
            DescError::Reserved { .. }
            | DescError::Granularity { .. }
            | DescError::AddressMask { .. }
            | DescError::WaitWithoutAction
            | DescError::ResponseWithoutPasid => Iqei::ReservedField,
        }
    }
}

impl core::fmt::Display for DescError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DescError::InvalidType { ty } => write!(f, "invalid descriptor type {ty}"),
            DescError::NeedsWideQueue { ty } => {
                write!(f, "{ty:?} is a 256-bit descriptor in a 128-bit queue")
            }
            DescError::Reserved { ty, word, bits } => {
                write!(f, "{ty:?}: reserved bits {bits:#x} set in QW{word}")
            }
            DescError::Granularity { ty, g } => write!(f, "{ty:?}: reserved granularity {g}"),
            DescError::AddressMask { am, mamv } => {
                write!(f, "IOTLB address mask {am} beyond CAP.MAMV {mamv}")
            }
            DescError::WaitWithoutAction => f.write_str("wait descriptor with none of SW, IF, FN"),
            DescError::ResponseWithoutPasid => f.write_str("page group response without PP"),
        }
    }
}

/// One decoded, checked invalidation descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvDesc {
    /// Type 1.
    ContextCache(CcInvDesc),
    /// Type 2.
    Iotlb(IotlbInvDesc),
    /// Type 3.
    DevTlb(DevTlbInvDesc),
    /// Type 4.
    Iec(IecInvDesc),
    /// Type 5.
    Wait(WaitDesc),
    /// Type 6.
    PasidIotlb(PiotlbInvDesc),
    /// Type 7.
    PasidCache(PcInvDesc),
    /// Type 8.
    PasidDevTlb(PdevTlbInvDesc),
    /// Type 9.
    PageGroupResponse(PgrpRespDesc),
}

fn check_words<const N: usize>(
    ty: InvDescType,
    words: &[u64; 4],
    reserved: &[u64; N],
    also_reserved: [u64; N],
) -> Result<[u64; N], DescError> {
    let mut w = [0u64; N];
    w.copy_from_slice(&words[..N]);
    for (i, ((v, r), extra)) in w.iter().zip(reserved).zip(also_reserved).enumerate() {
        let bad = v & (r | extra);
        if bad != 0 {
            return Err(DescError::Reserved {
                ty,
                word: i as u8,
                bits: bad,
            });
        }
    }
    Ok(w)
}

impl InvDesc {
    /// Decodes and checks one descriptor as the unit fetched it (`words[2..]` are 0 in a
    /// 128-bit queue). The checks are the specification's: the type, the queue width,
    /// reserved bits (`QW2`/`QW3` must be 0 for types 1–8 in a 256-bit queue; type 9
    /// ignores them, as they held private data before revision 4.0), reserved
    /// granularities, an IOTLB AM beyond MAMV, a wait without SW/IF/FN, a page group
    /// response without PP.
    ///
    /// # Errors
    /// [`DescError`]: the unit's IQE, with [`DescError::iqei`] for IQERCD.
    pub fn decode(words: &[u64; 4], check: &DescCheck) -> Result<InvDesc, DescError> {
        let raw = desc_type(words[0]);
        let ty = InvDescType::from_raw(raw).ok_or(DescError::InvalidType { ty: raw })?;
        if ty.needs_wide_queue() && !check.wide {
            return Err(DescError::NeedsWideQueue { ty });
        }
        if check.wide && ty != InvDescType::PageGroupResponse {
            let hi = words[2] | words[3];
            if hi != 0 && !ty.needs_wide_queue() {
                return Err(DescError::Reserved {
                    ty,
                    word: if words[2] != 0 { 2 } else { 3 },
                    bits: if words[2] != 0 { words[2] } else { words[3] },
                });
            }
        }
        // Without ECAP.DIT the PFSID fields of types 3 and 8 are reserved.
        let pfsid = if check.dit {
            0
        } else {
            (0xf << 12) | (0xfff << 52)
        };
        let gran = |g: u8| DescError::Granularity { ty, g };
        let d = match ty {
            InvDescType::ContextCache => {
                let w = check_words(ty, words, &CcInvDesc::RESERVED, [0; 2])?;
                let d = CcInvDesc::decode(&w);
                if d.g == 0 {
                    return Err(gran(d.g));
                }
                InvDesc::ContextCache(d)
            }
            InvDescType::Iotlb => {
                let w = check_words(ty, words, &IotlbInvDesc::RESERVED, [0; 2])?;
                let d = IotlbInvDesc::decode(&w);
                if d.g == 0 {
                    return Err(gran(d.g));
                }
                if d.g == 3 && d.am > check.mamv {
                    return Err(DescError::AddressMask {
                        am: d.am,
                        mamv: check.mamv,
                    });
                }
                InvDesc::Iotlb(d)
            }
            InvDescType::DevTlb => {
                let w = check_words(ty, words, &DevTlbInvDesc::RESERVED, [pfsid, 0])?;
                InvDesc::DevTlb(DevTlbInvDesc::decode(&w))
            }
            InvDescType::Iec => {
                let w = check_words(ty, words, &IecInvDesc::RESERVED, [0; 2])?;
                InvDesc::Iec(IecInvDesc::decode(&w))
            }
            InvDescType::Wait => {
                // Without ECAP.PDS the PD bit is reserved.
                let pd = if check.pds { 0 } else { 1 << 7 };
                let w = check_words(ty, words, &WaitDesc::RESERVED, [pd, 0])?;
                let d = WaitDesc::decode(&w);
                if !(d.sw || d.if_flag || d.fn_flag) {
                    return Err(DescError::WaitWithoutAction);
                }
                InvDesc::Wait(d)
            }
            InvDescType::PasidIotlb => {
                let w = check_words(ty, words, &PiotlbInvDesc::RESERVED, [0; 4])?;
                let d = PiotlbInvDesc::decode(&w);
                if d.g < 2 {
                    return Err(gran(d.g));
                }
                InvDesc::PasidIotlb(d)
            }
            InvDescType::PasidCache => {
                let w = check_words(ty, words, &PcInvDesc::RESERVED, [0; 4])?;
                let d = PcInvDesc::decode(&w);
                if d.g == 2 {
                    return Err(gran(d.g));
                }
                InvDesc::PasidCache(d)
            }
            InvDescType::PasidDevTlb => {
                let w = check_words(ty, words, &PdevTlbInvDesc::RESERVED, [pfsid, 0, 0, 0])?;
                InvDesc::PasidDevTlb(PdevTlbInvDesc::decode(&w))
            }
            InvDescType::PageGroupResponse => {
                // PDP is pre-4.0 private data: a guest of this unit never gets a request
                // with private data, so its response may not claim any.
                let w = check_words(ty, words, &PgrpRespDesc::RESERVED, [1 << 5, 0])?;
                let d = PgrpRespDesc::decode(&w);
                if !d.pp {
                    return Err(DescError::ResponseWithoutPasid);
                }
                InvDesc::PageGroupResponse(d)
            }
        };
        Ok(d)
    }

    /// The descriptor's type.
    pub const fn ty(&self) -> InvDescType {
        match self {
            InvDesc::ContextCache(_) => InvDescType::ContextCache,
            InvDesc::Iotlb(_) => InvDescType::Iotlb,
            InvDesc::DevTlb(_) => InvDescType::DevTlb,
            InvDesc::Iec(_) => InvDescType::Iec,
            InvDesc::Wait(_) => InvDescType::Wait,
            InvDesc::PasidIotlb(_) => InvDescType::PasidIotlb,
            InvDesc::PasidCache(_) => InvDescType::PasidCache,
            InvDesc::PasidDevTlb(_) => InvDescType::PasidDevTlb,
            InvDesc::PageGroupResponse(_) => InvDescType::PageGroupResponse,
        }
    }

    /// The descriptor's words (`QW2`/`QW3` zero for the 128-bit types).
    pub fn encode(&self) -> [u64; 4] {
        fn pad<const N: usize>(w: [u64; N]) -> [u64; 4] {
            let mut out = [0u64; 4];
            out[..N].copy_from_slice(&w);
            out
        }
        match self {
            InvDesc::ContextCache(d) => pad(d.encode()),
            InvDesc::Iotlb(d) => pad(d.encode()),
            InvDesc::DevTlb(d) => pad(d.encode()),
            InvDesc::Iec(d) => pad(d.encode()),
            InvDesc::Wait(d) => pad(d.encode()),
            InvDesc::PasidIotlb(d) => pad(d.encode()),
            InvDesc::PasidCache(d) => pad(d.encode()),
            InvDesc::PasidDevTlb(d) => pad(d.encode()),
            InvDesc::PageGroupResponse(d) => pad(d.encode()),
        }
    }
}

/// The size encoding of a device-TLB invalidation (types 3 and 8): `(address, bytes)`.
/// With S = 0 one 4 KiB page at ADDR; with S = 1 the run of 1 bits at the bottom of
/// ADDR\[63:12\] gives the size, `8 KiB << ones`, and those bits are cleared from the
/// address (all 52 ones: the whole address space).
pub const fn dev_tlb_range(addr: u64, s: bool) -> (u64, u64) {
    if !s {
        return (addr & !0xfff, 4096);
    }
    let pfn = addr >> 12;
    let ones = pfn.trailing_ones();
    if ones >= 51 {
        return (0, u64::MAX);
    }
    let bytes = 8192u64 << ones;
    (addr & !(bytes - 1), bytes)
}
