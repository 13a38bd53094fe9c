//! The guest environment: the guard every test calls first, the IOMMU configuration of
//! this boot, the two vfio-pci devices (from the harness's environment and sysfs), the
//! legacy and cdev sessions that clean up after themselves, and a small driver for QEMU's
//! `edu` device (`docs/specs/edu.rst` of QEMU).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use vsva_vfio::cdev::CdevDevice;
use vsva_vfio::container::Container;
use vsva_vfio::device::{Device, RegionInfo};
use vsva_vfio::group::Group;
use vsva_vfio::iommufd::{DevId, Iommufd};
use vsva_vfio::sys::{Host, Kernel};
use vsva_vfio::vtd::VtdCapabilities;

use crate::sys;
use crate::tier;

/// Why a guest test refuses to run anywhere else.
pub const NOT_IN_GUEST: &str =
    "this test runs inside the kernel tier's QEMU guest: bash compat-tests/kernel/run";

/// Every test calls this first: outside the guest (no `VSVA_KERNEL_GUEST`) the test
/// panics instead of passing silently.
pub fn require_guest() {
    if std::env::var_os("VSVA_KERNEL_GUEST").is_none() {
        panic!("{NOT_IN_GUEST}");
    }
}

/// The running kernel's release (`/proc/sys/kernel/osrelease`).
pub fn release() -> tier::Release {
    let s =
        std::fs::read_to_string("/proc/sys/kernel/osrelease").expect("/proc/sys/kernel/osrelease");
    tier::Release::parse(&s).unwrap_or_else(|| panic!("kernel release {s:?} does not parse"))
}

/// `IOMMU_HW_CAP_PCI_ATS_NOT_SUPPORTED` (7.1): `GET_HW_INFO` reports it for a device
/// without ATS, such as QEMU's edu and e1000e under the emulated VT-d.
pub const HW_CAP_PCI_ATS_NOT_SUPPORTED: u64 = 1 << 3;

/// The `out_capabilities` `GET_HW_INFO` gives edu and e1000e under QEMU's VT-d on
/// `release`: nothing up to 7.0 (no dirty tracking, no PASID), `PCI_ATS_NOT_SUPPORTED`
/// from 7.1.
pub fn vtd_device_hw_caps(release: tier::Release) -> u64 {
    if release.series() >= (7, 1) {
        HW_CAP_PCI_ATS_NOT_SUPPORTED
    } else {
        0
    }
}

/// The kernel the harness booted: its name in the `kernels` table and its source
/// package version (`VSVA_KERNEL_NAME`, `VSVA_KERNEL_VERSION`, set by `/init`).
pub fn harness_kernel() -> (String, String) {
    let get = |v: &str| std::env::var(v).unwrap_or_else(|_| panic!("{v} is not set by /init"));
    (get("VSVA_KERNEL_NAME"), get("VSVA_KERNEL_VERSION"))
}

/// The kernel-log line that opens a window of expected DMAR faults; the harness fails a
/// boot on any DMAR fault outside such a window.
pub const EXPECTED_FAULT_BEGIN: &str = "vsva-guest: EXPECTED DMAR fault";
/// The line that closes it.
pub const EXPECTED_FAULT_END: &str = "vsva-guest: end of the expected DMAR fault";

/// Writes one line to the kernel log at `KERN_WARNING`, so that it reaches the console
/// between the kernel's own messages, in order.
fn kmsg(line: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/kmsg")
        .expect("open /dev/kmsg");
    f.write_all(format!("<4>{line}\n").as_bytes())
        .expect("write /dev/kmsg");
}

/// Runs `dma`, a DMA the IOMMU must block (`why` says which and why), inside a window of
/// expected DMAR faults: a note in the kernel log before it (so the fault QEMU and the
/// kernel print next is marked as intended where it occurs), and after it, once the
/// kernel has logged the fault, a closing note. Asserts that the kernel did log a DMAR
/// fault (waiting up to 5 s for it): the IOMMU, not luck, stopped the device.
pub fn expect_dmar_fault<R>(why: &str, dma: impl FnOnce() -> R) -> R {
    use std::io::{Read, Seek, SeekFrom};
    use std::os::unix::fs::OpenOptionsExt;
    let test = std::thread::current().name().unwrap_or("?").to_owned();
    let mut log = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open("/dev/kmsg")
        .expect("open /dev/kmsg");
    log.seek(SeekFrom::End(0))
        .expect("seek /dev/kmsg to its end");
    kmsg(&format!(
        "{EXPECTED_FAULT_BEGIN} next ({test}): {why}; the QEMU vtd_* errors and the \
         kernel's 'DMAR: [DMA ...] fault reason' lines that follow are this blocked DMA"
    ));
    let r = dma();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut record = vec![0u8; 8192];
    let mut seen = None;
    while seen.is_none() && Instant::now() < deadline {
        match log.read(&mut record) {
            Ok(n) => {
                let text = String::from_utf8_lossy(&record[..n]);
                if text.contains("DMAR: [DMA ") {
                    seen = Some(text.trim_end().to_owned());
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(10));
            }
            // A record overwritten before it was read (EPIPE): read on.
            Err(e) if e.raw_os_error() == Some(libc::EPIPE) => {}
            Err(e) => panic!("read /dev/kmsg: {e}"),
        }
    }
    kmsg(&format!("{EXPECTED_FAULT_END} ({test})"));
    assert!(
        seen.is_some(),
        "{test}: no DMAR fault in the kernel log within 5 s of a DMA the IOMMU must block ({why})"
    );
    r
}

/// `VFIO_TYPE1_IOMMU`.
pub const VFIO_TYPE1_IOMMU: u32 = 1;
/// `VFIO_SPAPR_TCE_IOMMU`.
pub const VFIO_SPAPR_TCE_IOMMU: u32 = 2;
/// `VFIO_TYPE1v2_IOMMU`.
pub const VFIO_TYPE1V2_IOMMU: u32 = 3;
/// `VFIO_DMA_CC_IOMMU`.
pub const VFIO_DMA_CC_IOMMU: u32 = 4;
/// `VFIO_EEH`.
pub const VFIO_EEH: u32 = 5;
/// `VFIO_TYPE1_NESTING_IOMMU`.
pub const VFIO_TYPE1_NESTING_IOMMU: u32 = 6;
/// `VFIO_SPAPR_TCE_v2_IOMMU`.
pub const VFIO_SPAPR_TCE_V2_IOMMU: u32 = 7;
/// `VFIO_NOIOMMU_IOMMU`.
pub const VFIO_NOIOMMU_IOMMU: u32 = 8;
/// `VFIO_UNMAP_ALL`.
pub const VFIO_UNMAP_ALL: u32 = 9;
/// `VFIO_UPDATE_VADDR`.
pub const VFIO_UPDATE_VADDR: u32 = 10;

/// `VFIO_PCI_CONFIG_REGION_INDEX`.
pub const CONFIG_REGION: u32 = 7;
/// `PCI_COMMAND`, and its bus-master bit.
const PCI_COMMAND: u64 = 0x04;
/// `PCI_COMMAND_MASTER`.
pub const PCI_COMMAND_MASTER: u16 = 1 << 2;

/// The QEMU `intel-iommu` configuration this boot runs (`VSVA_GUEST_IOMMU`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IommuConfig {
    /// `-device intel-iommu,intremap=on`.
    Default,
    /// `-device intel-iommu,intremap=on,x-scalable-mode=on,x-pasid-mode=on`.
    Scalable,
}

impl IommuConfig {
    /// Both configurations.
    pub const ALL: [IommuConfig; 2] = [IommuConfig::Default, IommuConfig::Scalable];

    /// The configuration of this boot, from `VSVA_GUEST_IOMMU` (`default` | `scalable`).
    /// Panics in a boot without VT-d: only suites that need VT-d call it.
    pub fn of_this_boot() -> IommuConfig {
        IommuConfig::of_this_boot_if_any().unwrap_or_else(|| {
            panic!(
                "this boot has no emulated VT-d (VSVA_GUEST_IOMMU=mock): the suite needs Need::Vtd"
            )
        })
    }

    /// The configuration of this boot, or `None` in a boot without an IOMMU device
    /// (`VSVA_GUEST_IOMMU=mock`: the `mock` and `nested` boots).
    pub fn of_this_boot_if_any() -> Option<IommuConfig> {
        match std::env::var("VSVA_GUEST_IOMMU").as_deref() {
            Ok("default") => Some(IommuConfig::Default),
            Ok("scalable") => Some(IommuConfig::Scalable),
            Ok("mock") => None,
            other => panic!("VSVA_GUEST_IOMMU must be default, scalable or mock, not {other:?}"),
        }
    }

    /// The VT-d `CAP_REG` QEMU 10.0 reports in this configuration
    /// (`shared/reference/kernel-tier.md`).
    pub const fn cap_reg(self) -> u64 {
        0x00d2_008c_222f_0606
    }

    /// The VT-d `ECAP_REG`: scalable mode adds SRS, SMTS and SLTS, PASID mode adds PASID.
    pub const fn ecap_reg(self) -> u64 {
        match self {
            IommuConfig::Default => 0x0000_0000_00f0_0f4a,
            IommuConfig::Scalable => 0x0000_4900_80f0_0f4a,
        }
    }

    /// The registers decoded.
    pub const fn vtd(self) -> VtdCapabilities {
        VtdCapabilities::decode(self.cap_reg(), self.ecap_reg())
    }
}

/// The real kernel, as vsva-vfio calls it.
pub fn kernel() -> Arc<dyn Kernel> {
    Arc::new(Host)
}

/// A PCI device bound to vfio-pci in the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PciDevice {
    /// `0000:00:01.0`.
    pub bdf: String,
    /// Its IOMMU group (`/sys/bus/pci/devices/<bdf>/iommu_group`).
    pub group: u32,
    /// Its VFIO cdev name (`/sys/bus/pci/devices/<bdf>/vfio-dev/vfioN`).
    pub cdev: String,
}

impl PciDevice {
    /// The device named by the environment variable `var` (set by the guest `/init`).
    fn from_env(var: &str) -> PciDevice {
        let bdf = std::env::var(var).unwrap_or_else(|_| panic!("{var} is not set by /init"));
        let sysfs = Path::new("/sys/bus/pci/devices").join(&bdf);
        let group_link = std::fs::read_link(sysfs.join("iommu_group"))
            .unwrap_or_else(|e| panic!("{bdf}: no iommu_group link: {e}"));
        let group = group_link
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{bdf}: iommu_group -> {}", group_link.display()));
        let mut cdevs: Vec<String> = std::fs::read_dir(sysfs.join("vfio-dev"))
            .unwrap_or_else(|e| panic!("{bdf}: no vfio-dev directory: {e}"))
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.starts_with("vfio"))
            .collect();
        assert_eq!(cdevs.len(), 1, "{bdf}: VFIO cdevs {cdevs:?}");
        PciDevice {
            bdf,
            group,
            cdev: cdevs.remove(0),
        }
    }

    /// `/dev/vfio/devices/<cdev>`.
    pub fn cdev_path(&self) -> PathBuf {
        Path::new("/dev/vfio/devices").join(&self.cdev)
    }
}

/// QEMU's `edu` device (`VSVA_EDU_BDF`).
pub fn edu() -> PciDevice {
    PciDevice::from_env("VSVA_EDU_BDF")
}

/// QEMU's `e1000e` device (`VSVA_NIC_BDF`).
pub fn nic() -> PciDevice {
    PciDevice::from_env("VSVA_NIC_BDF")
}

/// A device opened through the legacy path: a container with a TYPE1v2 IOMMU, its group
/// attached, the device fd. Dropping it closes the device and unsets the container.
#[derive(Debug)]
pub struct Legacy {
    device: Option<Device>,
    /// The group.
    pub group: Group,
    /// The container.
    pub container: Container,
}

impl Legacy {
    /// Container, group (checked viable), `SET_CONTAINER`, `SET_IOMMU(TYPE1v2)`, device.
    pub fn open(dev: &PciDevice) -> Legacy {
        let k = kernel();
        let container = Container::open(Arc::clone(&k)).expect("open /dev/vfio/vfio");
        let group = Group::open(Arc::clone(&k), dev.group)
            .unwrap_or_else(|e| panic!("open group {}: {e}", dev.group));
        assert!(group.status().expect("GROUP_GET_STATUS").viable);
        group
            .set_container(&container)
            .expect("GROUP_SET_CONTAINER");
        container
            .set_iommu(VFIO_TYPE1V2_IOMMU)
            .expect("SET_IOMMU(TYPE1v2)");
        let device = group
            .device(&dev.bdf)
            .unwrap_or_else(|e| panic!("GROUP_GET_DEVICE_FD({}): {e}", dev.bdf));
        Legacy {
            device: Some(device),
            group,
            container,
        }
    }

    /// The device.
    pub fn device(&self) -> &Device {
        self.device.as_ref().expect("the device is open")
    }

    /// Closes the device and unsets the container, asserting that the kernel agrees.
    pub fn close(mut self) {
        drop(self.device.take());
        self.group
            .unset_container()
            .expect("GROUP_UNSET_CONTAINER after closing the device");
        assert!(!self.group.status().expect("GROUP_GET_STATUS").container_set);
    }
}

impl Drop for Legacy {
    fn drop(&mut self) {
        if self.device.take().is_some() {
            // A test failed before `close`: still leave the group out of the container.
            let _ = self.group.unset_container();
        }
    }
}

/// A device opened through its VFIO cdev and bound to a fresh iommufd. Dropping it closes
/// the device (unbinding it), then the iommufd.
#[derive(Debug)]
pub struct Cdev {
    /// The cdev.
    pub cdev: CdevDevice,
    /// The device's id in `iommufd`.
    pub dev_id: DevId,
    /// The iommufd.
    pub iommufd: Iommufd,
}

impl Cdev {
    /// `open(/dev/iommu)`, `open(/dev/vfio/devices/vfioN)`, `VFIO_DEVICE_BIND_IOMMUFD`.
    pub fn open(dev: &PciDevice) -> Cdev {
        let k = kernel();
        let iommufd = Iommufd::open(Arc::clone(&k)).expect("open /dev/iommu");
        let cdev = CdevDevice::open(Arc::clone(&k), dev.cdev_path())
            .unwrap_or_else(|e| panic!("open {}: {e}", dev.cdev_path().display()));
        let dev_id = cdev.bind(&iommufd).expect("VFIO_DEVICE_BIND_IOMMUFD");
        Cdev {
            cdev,
            dev_id,
            iommufd,
        }
    }
}

impl Cdev {
    /// The device behind the cdev: info, regions and IRQs through the cdev's own fd.
    pub fn device(&self) -> &Device {
        self.cdev.device()
    }
}

/// `edu`'s identification register value in QEMU 10 (version 1.0).
pub const EDU_IDENT: u32 = 0x0100_00ed;
/// The device-side DMA buffer.
pub const EDU_BUFFER: u64 = 0x4_0000;
/// Its size.
pub const EDU_BUFFER_LEN: u32 = 4096;
/// `edu`'s default DMA mask: 28 bits.
pub const EDU_DMA_LIMIT: u64 = 1 << 28;

const EDU_REG_IDENT: u64 = 0x00;
const EDU_REG_LIVENESS: u64 = 0x04;
const EDU_REG_DMA_SRC: u64 = 0x80;
const EDU_REG_DMA_DST: u64 = 0x88;
const EDU_REG_DMA_COUNT: u64 = 0x90;
const EDU_REG_DMA_CMD: u64 = 0x98;
const EDU_DMA_START: u32 = 1 << 0;
/// Direction bit: 0 from RAM to edu, 1 from edu to RAM.
const EDU_DMA_TO_RAM: u32 = 1 << 1;
/// How long one DMA may take (edu runs it from a 100 ms virtual timer).
const EDU_DMA_TIMEOUT: Duration = Duration::from_secs(10);

/// A driver for QEMU's `edu` through vsva-vfio's region access: BAR0 registers by
/// `pread`/`pwrite` (32-bit accesses only, as edu allows below 0x80), `PCI_COMMAND` through
/// the config region.
#[derive(Debug)]
pub struct Edu<'d> {
    dev: &'d Device,
    bar0: RegionInfo,
    config: RegionInfo,
}

impl<'d> Edu<'d> {
    /// Looks up BAR0 and the config region of `dev`.
    pub fn new(dev: &'d Device) -> Edu<'d> {
        Edu {
            dev,
            bar0: dev.region_info(0).expect("edu BAR0 region info"),
            config: dev
                .region_info(CONFIG_REGION)
                .expect("edu config region info"),
        }
    }

    /// A 32-bit BAR0 register.
    pub fn read32(&self, reg: u64) -> u32 {
        let mut b = [0u8; 4];
        self.dev
            .read_region(&self.bar0, reg, &mut b)
            .unwrap_or_else(|e| panic!("edu read {reg:#x}: {e}"));
        u32::from_le_bytes(b)
    }

    /// Writes a 32-bit BAR0 register.
    pub fn write32(&self, reg: u64, value: u32) {
        self.dev
            .write_region(&self.bar0, reg, &value.to_le_bytes())
            .unwrap_or_else(|e| panic!("edu write {reg:#x}: {e}"));
    }

    /// The identification register.
    pub fn ident(&self) -> u32 {
        self.read32(EDU_REG_IDENT)
    }

    /// Writes `value` to the liveness register and reads back (edu inverts it).
    pub fn liveness(&self, value: u32) -> u32 {
        self.write32(EDU_REG_LIVENESS, value);
        self.read32(EDU_REG_LIVENESS)
    }

    /// `PCI_COMMAND`.
    pub fn command(&self) -> u16 {
        let mut b = [0u8; 2];
        self.dev
            .read_region(&self.config, PCI_COMMAND, &mut b)
            .expect("read PCI_COMMAND");
        u16::from_le_bytes(b)
    }

    /// Sets `PCI_COMMAND_MASTER` (vfio-pci leaves it clear; QEMU drops DMA without it).
    /// Returns `(before, after)`.
    pub fn enable_bus_master(&self) -> (u16, u16) {
        let before = self.command();
        let value = before | PCI_COMMAND_MASTER;
        self.dev
            .write_region(&self.config, PCI_COMMAND, &value.to_le_bytes())
            .expect("write PCI_COMMAND");
        (before, self.command())
    }

    /// Runs one DMA and waits until edu clears the start bit.
    ///
    /// # Errors
    /// A timeout, with the command register last read.
    fn dma(&self, src: u64, dst: u64, len: u32, cmd: u32) -> Result<Duration, String> {
        assert!(
            src < EDU_DMA_LIMIT && dst < EDU_DMA_LIMIT,
            "28-bit DMA mask"
        );
        assert!(len <= EDU_BUFFER_LEN);
        // 32-bit writes: edu stores the (zero-extended) value into its 64-bit register.
        self.write32(EDU_REG_DMA_SRC, u32::try_from(src).expect("src < 2^28"));
        self.write32(EDU_REG_DMA_DST, u32::try_from(dst).expect("dst < 2^28"));
        self.write32(EDU_REG_DMA_COUNT, len);
        self.write32(EDU_REG_DMA_CMD, cmd | EDU_DMA_START);
        let start = Instant::now();
        loop {
            let now = self.read32(EDU_REG_DMA_CMD);
            if now & EDU_DMA_START == 0 {
                return Ok(start.elapsed());
            }
            if start.elapsed() > EDU_DMA_TIMEOUT {
                return Err(format!(
                    "edu DMA {src:#x} -> {dst:#x} ({len} bytes) still running after \
                     {EDU_DMA_TIMEOUT:?}: cmd {now:#x}"
                ));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// DMA `len` bytes from RAM at `iova` into edu's buffer.
    pub fn ram_to_device(&self, iova: u64, len: u32) {
        self.dma(iova, EDU_BUFFER, len, 0)
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// DMA `len` bytes from edu's buffer to RAM at `iova`.
    pub fn device_to_ram(&self, iova: u64, len: u32) {
        self.dma(EDU_BUFFER, iova, len, EDU_DMA_TO_RAM)
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// DMA `len` bytes from edu's buffer to `iova`, which the test unmapped: the IOMMU must
    /// block it. The DMAR fault it causes is marked as expected in the kernel log and
    /// asserted ([`expect_dmar_fault`]).
    pub fn device_to_unmapped_iova(&self, iova: u64, len: u32) {
        expect_dmar_fault(
            &format!("edu writes {len} bytes to IOVA {iova:#x}, which the test unmapped"),
            || self.device_to_ram(iova, len),
        );
    }
}

/// A recognisable 4 KiB pattern (never all zeros, differs per `seed`).
pub fn pattern(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ ((i >> 8) as u8))
        .collect()
}

/// The RAM → edu → RAM round trip every DMA test runs, on a mapped 8 KiB buffer at
/// `iova`: the first page goes to edu, edu writes it back into the second page.
pub fn edu_round_trip(edu: &Edu<'_>, buf: &sys::DmaBuffer, iova: u64, seed: u8) {
    assert!(buf.len() >= 2 * sys::PAGE);
    let data = pattern(seed, sys::PAGE);
    buf.write(0, &data);
    buf.write(sys::PAGE, &[0u8; sys::PAGE]);
    edu.ram_to_device(iova, EDU_BUFFER_LEN);
    edu.device_to_ram(iova + sys::PAGE as u64, EDU_BUFFER_LEN);
    let back = buf.read(sys::PAGE, sys::PAGE);
    let first_bad = back.iter().zip(&data).position(|(a, b)| a != b);
    assert_eq!(
        first_bad, None,
        "edu DMA round trip through IOVA {iova:#x}: data differs"
    );
    assert_eq!(
        buf.read(0, sys::PAGE),
        data,
        "the source page must be untouched"
    );
}

/// `/sys/class/iommu/dmar0/intel-iommu/{cap,ecap}`.
pub fn sysfs_vtd_registers() -> (u64, u64) {
    let dir = Path::new("/sys/class/iommu/dmar0/intel-iommu");
    let read = |name: &str| {
        let s = std::fs::read_to_string(dir.join(name))
            .unwrap_or_else(|e| panic!("{}/{name}: {e}", dir.display()));
        u64::from_str_radix(s.trim().trim_start_matches("0x"), 16)
            .unwrap_or_else(|e| panic!("{}/{name} = {s:?}: {e}", dir.display()))
    };
    (read("cap"), read("ecap"))
}
