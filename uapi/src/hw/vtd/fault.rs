//! Fault recording: the fault reasons and the fault record.

hw_struct! {
    /// A fault recording register (`FRCD_REG`, 128 bits).
    pub struct FaultRecord = "vtd_fault_record", words 2 {
        /// FI: faulting page address (for interrupt-remapping faults, 63:48 hold the
        /// interrupt index).
        fi: u64 = 0 @ 12 : 52, addr;
        /// SID: source (requester) id.
        sid: u16 = 1 @ 0 : 16;
        /// PP: a PASID is present.
        pp: bool = 1 @ 31;
        /// FR: fault reason ([`FaultReason`]).
        fr: u8 = 1 @ 32 : 8;
        /// PV: PASID value.
        pv: u32 = 1 @ 40 : 20;
        /// T: request type, 1 = read, 0 = write.
        t: bool = 1 @ 62;
        /// F: fault (RW1C: software clears it by writing 1 to dword 3's bit 31).
        f: bool = 1 @ 63;
    }
}

/// Scalable-mode fault reasons (`FRCD.FR`) the emulation reports, with the specification's
/// condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FaultReason {
    /// SM: invalid root table address.
    InvalidRootTableAddress = 0x30,
    /// SM: TTM 0 for a request with a PASID.
    LegacyModeWithPasid = 0x31,
    /// SM: TTM 0 for a page group request.
    LegacyModePageRequest = 0x32,
    /// SM: error attempting to access the root entry.
    RootEntryAccess = 0x38,
    /// SM: present bit in the root entry is clear.
    RootEntryNotPresent = 0x39,
    /// SM: non-zero reserved field set in the root entry.
    RootEntryReserved = 0x3a,
    /// SM: error attempting to access the context entry.
    ContextEntryAccess = 0x40,
    /// SM: present bit in the context entry is clear.
    ContextEntryNotPresent = 0x41,
    /// SM: non-zero reserved field set in the context entry.
    ContextEntryReserved = 0x42,
    /// SM: invalid context entry.
    ContextEntryInvalid = 0x43,
    /// SM: DTE field in the context entry is clear.
    DteClear = 0x44,
    /// SM: PASID enable field in the context entry is clear.
    PasidDisabled = 0x45,
    /// SM: PASID larger than the context entry's directory allows.
    PasidTooLarge = 0x46,
    /// SM: PRE field in the context entry is clear.
    PreClear = 0x47,
    /// SM: RID_PASID field error in the context entry.
    RidPasidError = 0x48,
    /// SM: error attempting to access the PASID directory entry.
    PasidDirAccess = 0x50,
    /// SM: present bit in the PASID directory entry is clear.
    PasidDirNotPresent = 0x51,
    /// SM: non-zero reserved field set in the PASID directory entry.
    PasidDirReserved = 0x52,
    /// SM: error attempting to access the PASID table entry.
    PasidEntryAccess = 0x58,
    /// SM: present bit in the PASID table entry is clear.
    PasidEntryNotPresent = 0x59,
    /// SM: non-zero reserved field set in the PASID table entry.
    PasidEntryReserved = 0x5a,
    /// SM: invalid scalable-mode PASID table entry (e.g. a translation type the unit does
    /// not support).
    PasidEntryInvalid = 0x5b,
    /// SM: ERE field is clear in the PASID table entry.
    EreClear = 0x5c,
    /// SM: SRE field is clear in the PASID table entry.
    SreClear = 0x5d,
    /// SM: error attempting to access a first-stage paging entry.
    FirstStageAccess = 0x70,
    /// SM: a first-stage paging entry is not present.
    FirstStageNotPresent = 0x71,
    /// SM: non-zero reserved bits in a first-stage paging entry.
    FirstStageReserved = 0x72,
    /// SM: invalid first-stage table pointer.
    FirstStagePointer = 0x73,
    /// SM: non-canonical address.
    NonCanonical = 0x80,
    /// SM: user/supervisor privilege violation.
    Privilege = 0x81,
    /// SM: write to a read-only page.
    WriteDenied = 0x85,
    /// SM: output address in the interrupt address range.
    InterruptRange = 0x87,
    /// SM: accessed/dirty update failed.
    AccessedDirtyUpdate = 0x91,
}

impl FaultReason {
    /// Every reason, in code order.
    pub const ALL: &'static [FaultReason] = &[
        FaultReason::InvalidRootTableAddress,
        FaultReason::LegacyModeWithPasid,
        FaultReason::LegacyModePageRequest,
        FaultReason::RootEntryAccess,
        FaultReason::RootEntryNotPresent,
        FaultReason::RootEntryReserved,
        FaultReason::ContextEntryAccess,
        FaultReason::ContextEntryNotPresent,
        FaultReason::ContextEntryReserved,
        FaultReason::ContextEntryInvalid,
        FaultReason::DteClear,
        FaultReason::PasidDisabled,
        FaultReason::PasidTooLarge,
        FaultReason::PreClear,
        FaultReason::RidPasidError,
        FaultReason::PasidDirAccess,
        FaultReason::PasidDirNotPresent,
        FaultReason::PasidDirReserved,
        FaultReason::PasidEntryAccess,
        FaultReason::PasidEntryNotPresent,
        FaultReason::PasidEntryReserved,
        FaultReason::PasidEntryInvalid,
        FaultReason::EreClear,
        FaultReason::SreClear,
        FaultReason::FirstStageAccess,
        FaultReason::FirstStageNotPresent,
        FaultReason::FirstStageReserved,
        FaultReason::FirstStagePointer,
        FaultReason::NonCanonical,
        FaultReason::Privilege,
        FaultReason::WriteDenied,
        FaultReason::InterruptRange,
        FaultReason::AccessedDirtyUpdate,
    ];

    /// The `FR` code.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The reason for an `FR` code this module declares.
    pub fn from_code(code: u8) -> Option<FaultReason> {
        FaultReason::ALL.iter().copied().find(|r| r.code() == code)
    }
}
