//! The register map: each register's offset, width and access, and the offsets that
//! follow from CAP and ECAP.

use super::*;
use crate::hw::HwLayout;

/// How software may access a register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegAccess {
    /// Read-only.
    Ro,
    /// Read-write.
    Rw,
    /// Write-only: reads return 0 (GCMD).
    Wo,
    /// Status bits that software clears by writing 1 (and read-only bits beside them).
    Rw1c,
}

/// One register of the fixed part of the map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Register {
    /// The specification's name (`GCMD_REG` is `GCMD`).
    pub name: &'static str,
    /// Offset from the unit's register base.
    pub offset: u32,
    /// Width in bytes: 4 or 8.
    pub width: u8,
    /// Software access.
    pub access: RegAccess,
    /// The fields, when the register has any besides one value.
    pub layout: Option<&'static HwLayout>,
    /// What it holds.
    pub doc: &'static str,
}

/// Register offsets (from the unit's base).
pub mod offset {
    /// Version.
    pub const VER: u32 = 0x000;
    /// Capability.
    pub const CAP: u32 = 0x008;
    /// Extended capability.
    pub const ECAP: u32 = 0x010;
    /// Global command.
    pub const GCMD: u32 = 0x018;
    /// Global status.
    pub const GSTS: u32 = 0x01c;
    /// Root table address.
    pub const RTADDR: u32 = 0x020;
    /// Context command (register-based context-cache invalidation).
    pub const CCMD: u32 = 0x028;
    /// Fault status.
    pub const FSTS: u32 = 0x034;
    /// Fault event control.
    pub const FECTL: u32 = 0x038;
    /// Fault event data.
    pub const FEDATA: u32 = 0x03c;
    /// Fault event address.
    pub const FEADDR: u32 = 0x040;
    /// Fault event upper address.
    pub const FEUADDR: u32 = 0x044;
    /// Advanced fault log (removed in revision 4.0).
    pub const AFLOG: u32 = 0x058;
    /// Protected memory enable.
    pub const PMEN: u32 = 0x064;
    /// Protected low-memory base.
    pub const PLMBASE: u32 = 0x068;
    /// Protected low-memory limit.
    pub const PLMLIMIT: u32 = 0x06c;
    /// Protected high-memory base.
    pub const PHMBASE: u32 = 0x070;
    /// Protected high-memory limit.
    pub const PHMLIMIT: u32 = 0x078;
    /// Invalidation queue head.
    pub const IQH: u32 = 0x080;
    /// Invalidation queue tail.
    pub const IQT: u32 = 0x088;
    /// Invalidation queue address.
    pub const IQA: u32 = 0x090;
    /// Invalidation completion status.
    pub const ICS: u32 = 0x09c;
    /// Invalidation completion event control.
    pub const IECTL: u32 = 0x0a0;
    /// Invalidation completion event data.
    pub const IEDATA: u32 = 0x0a4;
    /// Invalidation completion event address.
    pub const IEADDR: u32 = 0x0a8;
    /// Invalidation completion event upper address.
    pub const IEUADDR: u32 = 0x0ac;
    /// Invalidation queue error record.
    pub const IQERCD: u32 = 0x0b0;
    /// Interrupt remapping table address.
    pub const IRTA: u32 = 0x0b8;
    /// Page request queue head.
    pub const PQH: u32 = 0x0c0;
    /// Page request queue tail.
    pub const PQT: u32 = 0x0c8;
    /// Page request queue address.
    pub const PQA: u32 = 0x0d0;
    /// Page request status.
    pub const PRS: u32 = 0x0dc;
    /// Page request event control.
    pub const PECTL: u32 = 0x0e0;
    /// Page request event data.
    pub const PEDATA: u32 = 0x0e4;
    /// Page request event address.
    pub const PEADDR: u32 = 0x0e8;
    /// Page request event upper address.
    pub const PEUADDR: u32 = 0x0ec;
}

/// The registers at fixed offsets, in offset order. The IOTLB registers sit at
/// `ECAP.IRO × 16` ([`iva_offset`], [`iotlb_offset`]) and the fault recording registers
/// at `CAP.FRO × 16` ([`frcd_offset`]).
pub const REGISTERS: &[Register] = &[
    Register {
        name: "VER",
        offset: offset::VER,
        width: 4,
        access: RegAccess::Ro,
        layout: Some(&Ver::LAYOUT),
        doc: "architecture version (major 7:4, minor 3:0)",
    },
    Register {
        name: "CAP",
        offset: offset::CAP,
        width: 8,
        access: RegAccess::Ro,
        layout: Some(&Cap::LAYOUT),
        doc: "capabilities",
    },
    Register {
        name: "ECAP",
        offset: offset::ECAP,
        width: 8,
        access: RegAccess::Ro,
        layout: Some(&Ecap::LAYOUT),
        doc: "extended capabilities",
    },
    Register {
        name: "GCMD",
        offset: offset::GCMD,
        width: 4,
        access: RegAccess::Wo,
        layout: Some(&Gcmd::LAYOUT),
        doc: "global command (reads as 0)",
    },
    Register {
        name: "GSTS",
        offset: offset::GSTS,
        width: 4,
        access: RegAccess::Ro,
        layout: Some(&Gsts::LAYOUT),
        doc: "global status",
    },
    Register {
        name: "RTADDR",
        offset: offset::RTADDR,
        width: 8,
        access: RegAccess::Rw,
        layout: Some(&Rtaddr::LAYOUT),
        doc: "root table address and translation table mode, latched by GCMD.SRTP",
    },
    Register {
        name: "CCMD",
        offset: offset::CCMD,
        width: 8,
        access: RegAccess::Rw,
        layout: Some(&Ccmd::LAYOUT),
        doc: "register-based context-cache invalidation",
    },
    Register {
        name: "FSTS",
        offset: offset::FSTS,
        width: 4,
        access: RegAccess::Rw1c,
        layout: Some(&Fsts::LAYOUT),
        doc: "fault status",
    },
    Register {
        name: "FECTL",
        offset: offset::FECTL,
        width: 4,
        access: RegAccess::Rw,
        layout: Some(&EventControl::LAYOUT),
        doc: "fault event control (IM resets to 1)",
    },
    Register {
        name: "FEDATA",
        offset: offset::FEDATA,
        width: 4,
        access: RegAccess::Rw,
        layout: Some(&EventData::LAYOUT),
        doc: "fault event MSI data",
    },
    Register {
        name: "FEADDR",
        offset: offset::FEADDR,
        width: 4,
        access: RegAccess::Rw,
        layout: Some(&EventAddress::LAYOUT),
        doc: "fault event MSI address (31:2)",
    },
    Register {
        name: "FEUADDR",
        offset: offset::FEUADDR,
        width: 4,
        access: RegAccess::Rw,
        layout: None,
        doc: "fault event MSI upper address (reserved without ECAP.EIM)",
    },
    Register {
        name: "PMEN",
        offset: offset::PMEN,
        width: 4,
        access: RegAccess::Rw,
        layout: Some(&Pmen::LAYOUT),
        doc: "protected memory enable (writable only with CAP.PLMR or CAP.PHMR)",
    },
    Register {
        name: "IQH",
        offset: offset::IQH,
        width: 8,
        access: RegAccess::Ro,
        layout: Some(&QueueOffset16::LAYOUT),
        doc: "invalidation queue head: byte offset of the next descriptor the unit fetches",
    },
    Register {
        name: "IQT",
        offset: offset::IQT,
        width: 8,
        access: RegAccess::Rw,
        layout: Some(&QueueOffset16::LAYOUT),
        doc: "invalidation queue tail: byte offset one past the last descriptor software wrote",
    },
    Register {
        name: "IQA",
        offset: offset::IQA,
        width: 8,
        access: RegAccess::Rw,
        layout: Some(&Iqa::LAYOUT),
        doc: "invalidation queue base, descriptor width and size",
    },
    Register {
        name: "ICS",
        offset: offset::ICS,
        width: 4,
        access: RegAccess::Rw1c,
        layout: Some(&Ics::LAYOUT),
        doc: "invalidation completion status",
    },
    Register {
        name: "IECTL",
        offset: offset::IECTL,
        width: 4,
        access: RegAccess::Rw,
        layout: Some(&EventControl::LAYOUT),
        doc: "invalidation completion event control (IM resets to 1)",
    },
    Register {
        name: "IEDATA",
        offset: offset::IEDATA,
        width: 4,
        access: RegAccess::Rw,
        layout: Some(&EventData::LAYOUT),
        doc: "invalidation completion event MSI data",
    },
    Register {
        name: "IEADDR",
        offset: offset::IEADDR,
        width: 4,
        access: RegAccess::Rw,
        layout: Some(&EventAddress::LAYOUT),
        doc: "invalidation completion event MSI address",
    },
    Register {
        name: "IEUADDR",
        offset: offset::IEUADDR,
        width: 4,
        access: RegAccess::Rw,
        layout: None,
        doc: "invalidation completion event MSI upper address",
    },
    Register {
        name: "IQERCD",
        offset: offset::IQERCD,
        width: 8,
        access: RegAccess::Ro,
        layout: Some(&Iqercd::LAYOUT),
        doc: "invalidation queue error record",
    },
    Register {
        name: "IRTA",
        offset: offset::IRTA,
        width: 8,
        access: RegAccess::Rw,
        layout: Some(&Irta::LAYOUT),
        doc: "interrupt remapping table address (reserved without ECAP.IR)",
    },
    Register {
        name: "PQH",
        offset: offset::PQH,
        width: 8,
        access: RegAccess::Rw,
        layout: Some(&QueueOffset32::LAYOUT),
        doc: "page request queue head (software advances it)",
    },
    Register {
        name: "PQT",
        offset: offset::PQT,
        width: 8,
        access: RegAccess::Rw,
        layout: Some(&QueueOffset32::LAYOUT),
        doc: "page request queue tail (the unit advances it; software resets it to 0)",
    },
    Register {
        name: "PQA",
        offset: offset::PQA,
        width: 8,
        access: RegAccess::Rw,
        layout: Some(&Pqa::LAYOUT),
        doc: "page request queue base and size",
    },
    Register {
        name: "PRS",
        offset: offset::PRS,
        width: 4,
        access: RegAccess::Rw1c,
        layout: Some(&Prs::LAYOUT),
        doc: "page request status",
    },
    Register {
        name: "PECTL",
        offset: offset::PECTL,
        width: 4,
        access: RegAccess::Rw,
        layout: Some(&EventControl::LAYOUT),
        doc: "page request event control (IM resets to 1 in hardware)",
    },
    Register {
        name: "PEDATA",
        offset: offset::PEDATA,
        width: 4,
        access: RegAccess::Rw,
        layout: Some(&EventData::LAYOUT),
        doc: "page request event MSI data",
    },
    Register {
        name: "PEADDR",
        offset: offset::PEADDR,
        width: 4,
        access: RegAccess::Rw,
        layout: Some(&EventAddress::LAYOUT),
        doc: "page request event MSI address",
    },
    Register {
        name: "PEUADDR",
        offset: offset::PEUADDR,
        width: 4,
        access: RegAccess::Rw,
        layout: None,
        doc: "page request event MSI upper address",
    },
];

/// The register at `offset` (its first byte) among [`REGISTERS`].
pub fn register_at(offset: u32) -> Option<&'static Register> {
    REGISTERS.iter().find(|r| r.offset == offset)
}

/// The offset of the IOTLB invalidation address register (`IVA`): `ECAP.IRO × 16`.
pub const fn iva_offset(ecap: &Ecap) -> u32 {
    ecap.iro as u32 * 16
}

/// The offset of the IOTLB invalidate register: `ECAP.IRO × 16 + 8`.
pub const fn iotlb_offset(ecap: &Ecap) -> u32 {
    ecap.iro as u32 * 16 + 8
}

/// The offset of fault recording register `index`: `CAP.FRO × 16 + 16 × index`.
pub const fn frcd_offset(cap: &Cap, index: u32) -> u32 {
    cap.fro as u32 * 16 + 16 * index
}
