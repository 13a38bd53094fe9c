//! The ACPI tables of the Linux-booting mini-VMM: RSDP, XSDT, FADT (hardware-reduced,
//! with a reset register and sleep control/status registers), DSDT (the PCI host bridge
//! `PNP0A08`, COM1 `PNP0501` with its GSI, and `_S5`), MADT (one LAPIC, the IOAPIC, IRQ 0 → GSI 2), MCFG (ECAM for bus
//! 0) from the acpi_tables crate, and the DMAR (which that crate lacks) from vsva's own
//! small builder: one DRHD at the emulated VT-d's register base with a PCI endpoint
//! device scope per attached device, and an ATSR for all root ports (so the guest may use
//! ATS and page requests).

use acpi_tables::{aml, fadt, gas, madt, mcfg, rsdp, sdt::Sdt, xsdt, Aml};

use super::layout;

/// The OEM id of every table.
pub const OEM_ID: [u8; 6] = *b"VSVA  ";
/// The OEM table id of every table.
pub const OEM_TABLE_ID: [u8; 8] = *b"VSVAMINI";

/// DMAR table flags: none (no interrupt remapping offered).
const DMAR_FLAGS: u8 = 0;
/// DMAR remapping structure types (VT-d spec 8.2).
const DMAR_TYPE_DRHD: u16 = 0;
/// Root port ATS capability reporting structure.
const DMAR_TYPE_ATSR: u16 = 2;
/// ATSR flag: ATS is supported on all root ports of the segment.
const ATSR_ALL_PORTS: u8 = 1;
/// Device scope type: a PCI endpoint device.
const SCOPE_PCI_ENDPOINT: u8 = 1;

/// What the DMAR describes: the unit's register base and size, its host address width,
/// and the PCI endpoints (bus, device, function) in the DRHD's device scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmarSpec {
    /// The register base of the unit (the DRHD's address).
    pub base: u64,
    /// The register set's size in bytes (a power of two, at least 4 KiB).
    pub size: u64,
    /// The host address width in bits (the DMAR's `HAW` is this minus one).
    pub host_address_width: u8,
    /// The endpoints under the unit, as (bus, device, function).
    pub endpoints: Vec<(u8, u8, u8)>,
}

/// The DMAR table's bytes (header, checksum included).
pub fn dmar(spec: &DmarSpec) -> Vec<u8> {
    let mut t = Sdt::new(*b"DMAR", 36, 1, OEM_ID, OEM_TABLE_ID, 1);
    let mut body = vec![spec.host_address_width.saturating_sub(1), DMAR_FLAGS];
    body.extend_from_slice(&[0; 10]);
    // DRHD: type, length, flags (0: only the scoped devices), size (2^n 4 KiB pages),
    // segment, register base, then the device scopes.
    let pages = (spec.size.max(4096) / 4096).next_power_of_two();
    let mut drhd = Vec::new();
    drhd.extend_from_slice(&DMAR_TYPE_DRHD.to_le_bytes());
    drhd.extend_from_slice(&0u16.to_le_bytes());
    drhd.push(0);
    drhd.push(pages.trailing_zeros() as u8);
    drhd.extend_from_slice(&0u16.to_le_bytes());
    drhd.extend_from_slice(&spec.base.to_le_bytes());
    for &(bus, dev, func) in &spec.endpoints {
        // type, length (6 + one 2-byte path entry), reserved, enumeration id, start bus,
        // path (device, function).
        drhd.extend_from_slice(&[SCOPE_PCI_ENDPOINT, 8, 0, 0, 0, bus, dev & 0x1f, func & 7]);
    }
    let len = drhd.len() as u16;
    drhd[2..4].copy_from_slice(&len.to_le_bytes());
    body.extend_from_slice(&drhd);
    // ATSR: type, length 8, flags (all ports), reserved, segment 0.
    body.extend_from_slice(&DMAR_TYPE_ATSR.to_le_bytes());
    body.extend_from_slice(&8u16.to_le_bytes());
    body.extend_from_slice(&[ATSR_ALL_PORTS, 0, 0, 0]);
    t.append_slice(&body);
    t.as_slice().to_vec()
}

/// The DSDT: `\_SB.PCI0`, the PCI host bridge (bus 0, its config ports and the MMIO
/// window above RAM), and `\_S5` (for power-off through the sleep control register).
fn dsdt() -> Vec<u8> {
    let mut t = Sdt::new(*b"DSDT", 36, 6, OEM_ID, OEM_TABLE_ID, 1);
    let mut body = Vec::new();
    let hid = aml::EISAName::new("PNP0A08");
    let cid = aml::EISAName::new("PNP0A03");
    let zero = aml::ZERO;
    let bus = aml::AddressSpace::new_bus_number(0u16, 0u16);
    let cfg = aml::IO::new(0xcf8, 0xcf8, 1, 8);
    let io_lo = aml::AddressSpace::new_io(0u16, 0x0cf7u16, None);
    let io_hi = aml::AddressSpace::new_io(0x0d00u16, 0xffffu16, None);
    let mmio = aml::AddressSpace::new_memory(
        aml::AddressSpaceCacheable::NotCacheable,
        true,
        layout::PCI_MMIO_START as u32,
        (layout::PCI_MMIO_END - 1) as u32,
        None,
    );
    let crs = aml::ResourceTemplate::new(vec![&bus, &cfg, &io_lo, &io_hi, &mmio]);
    let names = [
        aml::Name::new("_HID".into(), &hid),
        aml::Name::new("_CID".into(), &cid),
        aml::Name::new("_SEG".into(), &zero),
        aml::Name::new("_UID".into(), &zero),
        aml::Name::new("_BBN".into(), &zero),
        aml::Name::new("_CRS".into(), &crs),
    ];
    let children: Vec<&dyn Aml> = names.iter().map(|n| n as &dyn Aml).collect();
    aml::Device::new("_SB_.PCI0".into(), children).to_aml_bytes(&mut body);
    // COM1: in a hardware-reduced platform there is no legacy PIC, so the 16550's
    // interrupt reaches Linux only as a GSI named by an ACPI device (8250_pnp).
    let com_hid = aml::EISAName::new("PNP0501");
    let com_io = aml::IO::new(layout::SERIAL_PORT, layout::SERIAL_PORT, 1, 8);
    let com_irq = aml::Interrupt::new(true, true, false, false, layout::SERIAL_GSI);
    let com_crs = aml::ResourceTemplate::new(vec![&com_io, &com_irq]);
    let com_names = [
        aml::Name::new("_HID".into(), &com_hid),
        aml::Name::new("_UID".into(), &zero),
        aml::Name::new("_CRS".into(), &com_crs),
    ];
    let com: Vec<&dyn Aml> = com_names.iter().map(|n| n as &dyn Aml).collect();
    aml::Device::new("_SB_.COM1".into(), com).to_aml_bytes(&mut body);
    let five = 5u8;
    aml::Name::new("_S5_".into(), &aml::Package::new(vec![&five])).to_aml_bytes(&mut body);
    t.append_slice(&body);
    t.as_slice().to_vec()
}

fn fadt(dsdt: u64) -> Vec<u8> {
    let io = |port: u16| {
        gas::GAS::new(
            gas::AddressSpace::SystemIo,
            8,
            0,
            gas::AccessSize::ByteAccess,
            u64::from(port),
        )
    };
    let mut b = fadt::FADTBuilder::new(OEM_ID, OEM_TABLE_ID, 1)
        .dsdt_64(dsdt)
        .flag(fadt::Flags::HwReducedAcpi)
        .flag(fadt::Flags::ResetRegSup)
        .flag(fadt::Flags::PwrButton)
        .flag(fadt::Flags::SlpButton);
    b.reset_reg = io(layout::RESET_PORT);
    b.reset_value = layout::RESET_VALUE;
    b.sleep_control_reg = io(layout::SLEEP_CONTROL_PORT);
    b.sleep_status_reg = io(layout::SLEEP_STATUS_PORT);
    // IAPC_BOOT_ARCH: no VGA (bit 2), no MSI-less platform bits, no CMOS RTC (bit 5).
    b.iapc_boot_arch = ((1u16 << 2) | (1u16 << 5)).into();
    let mut out = Vec::new();
    b.finalize().to_aml_bytes(&mut out);
    out
}

/// An interrupt source override (MADT type 2): ISA `source` is GSI `gsi`.
#[derive(Clone, Copy, zerocopy::IntoBytes, zerocopy::Immutable)]
#[repr(C, packed)]
struct InterruptSourceOverride {
    r#type: u8,
    length: u8,
    bus: u8,
    source: u8,
    gsi: u32,
    flags: u16,
}

impl Aml for InterruptSourceOverride {
    fn to_aml_bytes(&self, sink: &mut dyn acpi_tables::AmlSink) {
        sink.vec(zerocopy::IntoBytes::as_bytes(self));
    }
}

fn madt() -> Vec<u8> {
    let mut m = madt::MADT::new(
        OEM_ID,
        OEM_TABLE_ID,
        1,
        madt::LocalInterruptController::Address(layout::LAPIC_BASE as u32),
    );
    m.add_structure(madt::ProcessorLocalApic::new(
        0,
        0,
        madt::EnabledStatus::Enabled,
    ));
    m.add_structure(madt::IoApic::new(0, layout::IOAPIC_BASE as u32, 0));
    m.add_structure(InterruptSourceOverride {
        r#type: 2,
        length: 10,
        bus: 0,
        source: 0,
        gsi: 2,
        flags: 0,
    });
    let mut out = Vec::new();
    m.to_aml_bytes(&mut out);
    // MADT flags: PCAT_COMPAT (there are 8259 PICs; KVM's in-kernel irqchip has them).
    if let Some(f) = out.get_mut(40) {
        *f |= 1;
    }
    fix_checksum(&mut out);
    out
}

fn mcfg() -> Vec<u8> {
    let mut m = mcfg::MCFG::new(OEM_ID, OEM_TABLE_ID, 1);
    m.add_ecam(layout::ECAM_BASE, 0, 0, 0);
    let mut out = Vec::new();
    m.to_aml_bytes(&mut out);
    out
}

/// Sets byte 9 of a table so that its bytes sum to zero.
fn fix_checksum(t: &mut [u8]) {
    if t.len() < 10 {
        return;
    }
    t[9] = 0;
    let sum = t.iter().fold(0u8, |a, b| a.wrapping_add(*b));
    t[9] = 0u8.wrapping_sub(sum);
}

/// All tables, laid out from `base`: the RSDP at `base` (where the PVH start info's
/// `rsdp_paddr` points), then each table 16-byte aligned. Returns the bytes to copy to
/// `base`.
pub fn tables(base: u64, dmar_spec: Option<&DmarSpec>) -> Vec<u8> {
    let mut out = vec![0u8; rsdp::Rsdp::len()];
    let place = |out: &mut Vec<u8>, t: &[u8]| -> u64 {
        let at = out.len().next_multiple_of(16);
        out.resize(at, 0);
        out.extend_from_slice(t);
        base + at as u64
    };
    let dsdt_at = place(&mut out, &dsdt());
    let mut entries = vec![
        place(&mut out, &fadt(dsdt_at)),
        place(&mut out, &madt()),
        place(&mut out, &mcfg()),
    ];
    if let Some(d) = dmar_spec {
        entries.push(place(&mut out, &dmar(d)));
    }
    let mut x = xsdt::XSDT::new(OEM_ID, OEM_TABLE_ID, 1);
    for e in entries {
        x.add_entry(e);
    }
    let mut xb = Vec::new();
    x.to_aml_bytes(&mut xb);
    let xsdt_at = place(&mut out, &xb);
    let mut r = Vec::new();
    rsdp::Rsdp::new(OEM_ID, xsdt_at).to_aml_bytes(&mut r);
    out[..r.len()].copy_from_slice(&r);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(b: &[u8]) -> u8 {
        b.iter().fold(0u8, |a, x| a.wrapping_add(*x))
    }

    fn u32_at(b: &[u8], o: usize) -> u32 {
        u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
    }

    fn u64_at(b: &[u8], o: usize) -> u64 {
        u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
    }

    /// Walks RSDP → XSDT → tables as a guest would; returns (signature, bytes).
    fn walk(base: u64, blob: &[u8]) -> Vec<([u8; 4], Vec<u8>)> {
        assert_eq!(&blob[..8], b"RSD PTR ");
        assert_eq!(sum(&blob[..20]), 0, "RSDP checksum");
        assert_eq!(sum(&blob[..36]), 0, "RSDP extended checksum");
        let at = |gpa: u64| (gpa - base) as usize;
        let x = at(u64_at(blob, 24));
        assert_eq!(&blob[x..x + 4], b"XSDT");
        let xlen = u32_at(blob, x + 4) as usize;
        assert_eq!(sum(&blob[x..x + xlen]), 0, "XSDT checksum");
        let mut out = Vec::new();
        for i in (x + 36..x + xlen).step_by(8) {
            let t = at(u64_at(blob, i));
            let len = u32_at(blob, t + 4) as usize;
            let bytes = blob[t..t + len].to_vec();
            assert_eq!(sum(&bytes), 0, "checksum of {:?}", &bytes[..4]);
            out.push((bytes[..4].try_into().unwrap(), bytes));
        }
        out
    }

    #[test]
    fn every_table_is_reachable_from_the_rsdp_and_checksums() {
        let spec = DmarSpec {
            base: 0xfed9_0000,
            size: 0x1000,
            host_address_width: 48,
            endpoints: vec![(0, 0, 0), (0, 3, 1)],
        };
        let blob = tables(0xe0000, Some(&spec));
        let t = walk(0xe0000, &blob);
        let sigs: Vec<_> = t.iter().map(|(s, _)| *s).collect();
        assert_eq!(sigs, [*b"FACP", *b"APIC", *b"MCFG", *b"DMAR"]);
        let facp = &t[0].1;
        let dsdt = (u64_at(facp, 140) - 0xe0000) as usize;
        assert_eq!(&blob[dsdt..dsdt + 4], b"DSDT");
        let dlen = u32_at(&blob, dsdt + 4) as usize;
        assert_eq!(sum(&blob[dsdt..dsdt + dlen]), 0);
        // Without a unit there is no DMAR.
        let none = walk(0xe0000, &tables(0xe0000, None));
        assert!(none.iter().all(|(s, _)| s != b"DMAR"));
    }

    #[test]
    fn dmar_has_the_units_base_haw_scope_and_an_atsr() {
        let spec = DmarSpec {
            base: 0xfed9_0000,
            size: 0x1000,
            host_address_width: 48,
            endpoints: vec![(0, 0, 0), (2, 3, 1)],
        };
        let d = dmar(&spec);
        assert_eq!(u32_at(&d, 4) as usize, d.len());
        assert_eq!(d[36], 47, "HAW is width - 1");
        // DRHD at 48.
        let drhd = &d[48..];
        assert_eq!(u16::from_le_bytes([drhd[0], drhd[1]]), 0);
        let dlen = u16::from_le_bytes([drhd[2], drhd[3]]) as usize;
        assert_eq!(dlen, 16 + 2 * 8);
        assert_eq!(drhd[4], 0, "not INCLUDE_PCI_ALL");
        assert_eq!(drhd[5], 0, "one 4 KiB page");
        assert_eq!(u64_at(drhd, 8), 0xfed9_0000);
        assert_eq!(&drhd[16..24], &[1, 8, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&drhd[24..32], &[1, 8, 0, 0, 0, 2, 3, 1]);
        let atsr = &d[48 + dlen..];
        assert_eq!(&atsr[..8], &[2, 0, 8, 0, 1, 0, 0, 0]);
        assert_eq!(48 + dlen + 8, d.len());
        // A larger register set is a larger size field.
        let big = dmar(&DmarSpec {
            size: 0x4000,
            ..spec
        });
        assert_eq!(big[48 + 5], 2);
    }

    #[test]
    fn madt_names_the_lapic_ioapic_and_the_timer_override() {
        let m = madt();
        assert_eq!(&m[..4], b"APIC");
        assert_eq!(sum(&m), 0);
        assert_eq!(u32_at(&m, 36), layout::LAPIC_BASE as u32);
        assert_eq!(m[40] & 1, 1);
        // Entries from 44: LAPIC (type 0, 8 bytes), IOAPIC (type 1, 12), ISO (type 2, 10).
        assert_eq!(&m[44..46], &[0, 8]);
        assert_eq!(&m[52..54], &[1, 12]);
        assert_eq!(u32_at(&m, 56), layout::IOAPIC_BASE as u32);
        assert_eq!(&m[64..68], &[2, 10, 0, 0]);
        assert_eq!(u32_at(&m, 68), 2);
        assert_eq!(m.len(), 74);
    }
}
