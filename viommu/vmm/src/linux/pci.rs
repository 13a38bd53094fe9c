//! The PCI host bridge of the Linux mode: device 00:00.0 (vendor `0x1b36`, device
//! `0x0008`, class host bridge), reached through configuration mechanism #1 (`0xcf8`
//! address, `0xcfc..=0xcff` data) and ECAM. Every other function of bus 0 reads as
//! all ones (absent); the bridge's registers are read-only but for the command register.

/// The host bridge's requester id (bus 0, device 0, function 0).
pub(crate) const HOST_BRIDGE_RID: u16 = 0;

const CONFIG_ADDRESS: u16 = 0xcf8;
const CONFIG_DATA: u16 = 0xcfc;
const CONFIG_SPACE: usize = 4096;

/// The host bridge and the configuration access paths to bus 0.
#[derive(Debug, Clone)]
pub struct HostBridge {
    config: Box<[u8; CONFIG_SPACE]>,
    address: u32,
    /// Configuration accesses to functions that do not exist.
    pub absent_accesses: u64,
}

impl Default for HostBridge {
    fn default() -> Self {
        HostBridge::new()
    }
}

impl HostBridge {
    /// A host bridge with its reset configuration space.
    pub fn new() -> HostBridge {
        let mut config = Box::new([0u8; CONFIG_SPACE]);
        config[0..2].copy_from_slice(&0x1b36u16.to_le_bytes());
        config[2..4].copy_from_slice(&0x0008u16.to_le_bytes());
        // Class code: base 0x06 (bridge), sub-class 0x00 (host), prog-if 0.
        config[0x0b] = 0x06;
        config[0x0a] = 0x00;
        // Header type 0, single function.
        config[0x0e] = 0;
        HostBridge {
            config,
            address: 0,
            absent_accesses: 0,
        }
    }

    /// The (bus, device, function) and register of a mechanism #1 address or an ECAM
    /// offset; `Some` only for the bridge itself.
    fn target(&mut self, bdf: u32, reg: usize, len: usize) -> Option<std::ops::Range<usize>> {
        if bdf != 0 {
            self.absent_accesses += 1;
            return None;
        }
        let end = reg.checked_add(len)?;
        (end <= CONFIG_SPACE).then_some(reg..end)
    }

    fn read(&mut self, bdf: u32, reg: usize, data: &mut [u8]) {
        match self.target(bdf, reg, data.len()) {
            Some(r) => data.copy_from_slice(&self.config[r]),
            None => data.fill(0xff),
        }
    }

    fn write(&mut self, bdf: u32, reg: usize, data: &[u8]) {
        if let Some(r) = self.target(bdf, reg, data.len()) {
            // Only the command register (0x04, 16 bits) is writable.
            for (i, b) in r.zip(data) {
                if (0x04..0x06).contains(&i) {
                    self.config[i] = *b;
                }
            }
        }
    }

    /// A configuration read through ECAM (`off` from the window's base).
    pub fn ecam_read(&mut self, off: u64, data: &mut [u8]) {
        let (bdf, reg) = ((off >> 12) as u32, (off & 0xfff) as usize);
        self.read(bdf, reg, data);
    }

    /// A configuration write through ECAM.
    pub fn ecam_write(&mut self, off: u64, data: &[u8]) {
        let (bdf, reg) = ((off >> 12) as u32, (off & 0xfff) as usize);
        self.write(bdf, reg, data);
    }

    /// A port read; returns whether the port is mechanism #1's.
    pub fn pio_read(&mut self, port: u16, data: &mut [u8]) -> bool {
        match port {
            CONFIG_ADDRESS..=0xcfb => {
                let bytes = self.address.to_le_bytes();
                let o = usize::from(port - CONFIG_ADDRESS);
                for (i, d) in data.iter_mut().enumerate() {
                    *d = bytes.get(o + i).copied().unwrap_or(0xff);
                }
                true
            }
            CONFIG_DATA..=0xcff => {
                match self.mech1(port) {
                    Some((bdf, reg)) => self.read(bdf, reg, data),
                    None => data.fill(0xff),
                }
                true
            }
            _ => false,
        }
    }

    /// A port write; returns whether the port is mechanism #1's.
    pub fn pio_write(&mut self, port: u16, data: &[u8]) -> bool {
        match port {
            CONFIG_ADDRESS..=0xcfb => {
                if port == CONFIG_ADDRESS && data.len() == 4 {
                    self.address = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
                }
                true
            }
            CONFIG_DATA..=0xcff => {
                if let Some((bdf, reg)) = self.mech1(port) {
                    self.write(bdf, reg, data);
                }
                true
            }
            _ => false,
        }
    }

    /// The target of a data-port access: enabled (bit 31), bus/device/function (bits
    /// 23:8), register (bits 7:2) plus the byte of the data port.
    fn mech1(&self, port: u16) -> Option<(u32, usize)> {
        let a = self.address;
        (a & 0x8000_0000 != 0).then(|| {
            (
                (a >> 8) & 0xffff,
                (a & 0xfc) as usize + usize::from(port - CONFIG_DATA),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bridge_answers_both_paths_and_absent_functions_read_all_ones() {
        let mut b = HostBridge::new();
        let mut id = [0u8; 4];
        b.ecam_read(0, &mut id);
        assert_eq!(u32::from_le_bytes(id), 0x0008_1b36);
        assert!(b.pio_write(0xcf8, &0x8000_0008u32.to_le_bytes()));
        let mut class = [0u8; 4];
        assert!(b.pio_read(0xcfc, &mut class));
        assert_eq!(class[3], 0x06);
        // 00:01.0 is absent, through ECAM and mechanism #1.
        let mut v = [0u8; 4];
        b.ecam_read(1 << 15, &mut v);
        assert_eq!(v, [0xff; 4]);
        b.pio_write(0xcf8, &0x8000_0800u32.to_le_bytes());
        b.pio_read(0xcfc, &mut v);
        assert_eq!(v, [0xff; 4]);
        assert_eq!(b.absent_accesses, 2);
        // Disabled mechanism #1 reads all ones and writes nothing.
        b.pio_write(0xcf8, &0x0000_0004u32.to_le_bytes());
        b.pio_write(0xcfc, &[0xff, 0xff]);
        b.ecam_read(4, &mut v[..2]);
        assert_eq!(v[..2], [0, 0]);
        // The command register is writable, the ids are not.
        b.ecam_write(0, &[0, 0, 0, 0x12, 0x34]);
        b.ecam_write(4, &[0x06, 0x00]);
        b.ecam_read(0, &mut id);
        assert_eq!(u32::from_le_bytes(id), 0x0008_1b36);
        b.ecam_read(4, &mut v[..2]);
        assert_eq!(v[..2], [0x06, 0]);
        // Accesses past the config space or of any width never panic.
        b.ecam_read(0xfff, &mut v);
        assert_eq!(v, [0xff; 4]);
        b.ecam_write(0xffe, &[1; 8]);
        b.pio_read(0xcfe, &mut v);
        b.pio_write(0xcf9, &[1]);
    }
}
