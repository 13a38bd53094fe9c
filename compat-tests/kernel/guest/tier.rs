//! The tier's plan: which suite runs in which boot, and why not where it does not.
//!
//! Every suite (a module of this binary, declared with [`crate::suites!`] in `main.rs`)
//! says what it [`Need`]s: an emulated VT-d, a kernel release, a kernel option, the mock
//! IOMMU taking devices, a real `/dev/kvm`. The guest `/init` asks this binary for the
//! plan of its boot ([`plan`], run alone before the tests with `VSVA_GUEST_PLAN` naming
//! the file to write), skips the suites whose needs this boot does not meet and reports
//! them as **n/a with the reason**; the harness counts them apart from passes and failures.
//! A test inside a suite that runs can still need more (a newer release, say): it calls
//! [`applies`] first and returns when that says no; `applies` reports the test n/a the
//! same way (a marker on the console and a line in `VSVA_NA_LOG`).
//!
//! The facts come from this boot, not from the harness's intentions: the release from
//! `/proc/sys/kernel/osrelease`, the kernel options from `/proc/config.gz` (the `/init`
//! unpacks it to `VSVA_KERNEL_CONFIG`), the IOMMU from `VSVA_GUEST_IOMMU` checked against
//! sysfs, `/dev/kvm` from `/dev` and `/sys/module`.
//!
//! The tests of this module check the boot itself: the kernel is the one the harness
//! built (its release and every line of its config fragments), and whether the kernel's
//! mock IOMMU takes a device beside VT-d (6.12 refuses; fixed in the 6.18 cycle).

use std::fmt;
use std::io::Write;
use std::path::Path;

use vsva_uapi::Errno;
use vsva_vfio::iommufd::Iommufd;
use zerocopy::IntoBytes;

use crate::guest;
use crate::mock_nesting::{test_cmd, IommuTestCmd, MockDomain, IOMMU_TEST_OP_MOCK_DOMAIN};

/// A Linux release, `major.minor.patch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Release(pub u32, pub u32, pub u32);

impl Release {
    /// Parses the leading `major.minor[.patch]` of a release string (`6.12.118+deb12`).
    pub fn parse(s: &str) -> Option<Release> {
        let mut parts = s
            .trim()
            .split(|c: char| !c.is_ascii_digit())
            .take(3)
            .map(|p| p.parse::<u32>().ok());
        let major = parts.next()??;
        let minor = parts.next()??;
        let patch = parts.next().flatten().unwrap_or(0);
        Some(Release(major, minor, patch))
    }

    /// `major.minor` as a comparable pair.
    pub const fn series(self) -> (u32, u32) {
        (self.0, self.1)
    }
}

impl fmt::Display for Release {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

/// The release from which the mock IOMMU takes a device while VT-d is registered
/// (`iommufd: Register iommufd mock devices with fwspec`, the 6.18 cycle).
pub const MOCK_BESIDE_VTD: (u32, u32) = (6, 18);

/// What a kernel option is in this kernel's `.config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelOption {
    /// `CONFIG_X=value`.
    Set(String),
    /// `# CONFIG_X is not set`.
    NotSet,
    /// No line at all: this kernel has no such option (or its dependencies are off).
    Absent,
}

/// The facts of this boot a plan is made from.
#[derive(Debug, Clone)]
pub struct Facts {
    /// The harness's name of this boot (`VSVA_GUEST_BOOT`: `default`, `scalable`, `mock`,
    /// `nested`).
    pub boot: String,
    /// The emulated VT-d of this boot, if any (devices on vfio-pci).
    pub vtd: Option<guest::IommuConfig>,
    /// The running kernel's release.
    pub release: Release,
    /// The running kernel's `.config` (`VSVA_KERNEL_CONFIG`).
    pub config: String,
    /// `/dev/kvm` is present and backed by a hardware-style KVM (`kvm_amd` or `kvm_intel`).
    pub kvm: bool,
}

impl Facts {
    /// The facts of this boot (panics outside the guest, like every guest test).
    pub fn of_this_boot() -> Facts {
        guest::require_guest();
        let boot = std::env::var("VSVA_GUEST_BOOT").unwrap_or_else(|_| {
            std::env::var("VSVA_GUEST_IOMMU").expect("VSVA_GUEST_BOOT is set by /init")
        });
        let vtd = guest::IommuConfig::of_this_boot_if_any();
        let dmar = Path::new("/sys/class/iommu/dmar0").exists();
        assert_eq!(
            vtd.is_some(),
            dmar,
            "VSVA_GUEST_IOMMU says {vtd:?}, sysfs says dmar0 present: {dmar}"
        );
        let osrelease = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .expect("/proc/sys/kernel/osrelease");
        let release = Release::parse(&osrelease)
            .unwrap_or_else(|| panic!("kernel release {osrelease:?} does not parse"));
        let config_path =
            std::env::var("VSVA_KERNEL_CONFIG").expect("VSVA_KERNEL_CONFIG is set by /init");
        let config = std::fs::read_to_string(&config_path)
            .unwrap_or_else(|e| panic!("{config_path} (from /proc/config.gz): {e}"));
        let kvm = Path::new("/dev/kvm").exists()
            && (Path::new("/sys/module/kvm_amd").exists()
                || Path::new("/sys/module/kvm_intel").exists());
        Facts {
            boot,
            vtd,
            release,
            config,
            kvm,
        }
    }

    /// What `option` (with its `CONFIG_` prefix) is in this kernel.
    pub fn option(&self, option: &str) -> KernelOption {
        let set = format!("{option}=");
        let not_set = format!("# {option} is not set");
        for line in self.config.lines() {
            if let Some(v) = line.strip_prefix(&set) {
                return KernelOption::Set(v.to_owned());
            }
            if line == not_set {
                return KernelOption::NotSet;
            }
        }
        KernelOption::Absent
    }

    /// `true` if the kernel's mock IOMMU takes devices in this boot: it is built in, and
    /// either no VT-d is registered or the kernel is new enough to give the mock device a
    /// fwspec of its own ([`MOCK_BESIDE_VTD`]).
    pub fn mock_takes_devices(&self) -> bool {
        self.option("CONFIG_IOMMUFD_TEST") == KernelOption::Set("y".into())
            && (self.vtd.is_none() || self.release.series() >= MOCK_BESIDE_VTD)
    }
}

/// One thing a suite or a test needs from its boot. [`Need::check`] says why a boot does
/// not meet it, in words the summary prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// An emulated VT-d with QEMU's `edu` and `e1000e` bound to vfio-pci.
    Vtd,
    /// A kernel option set to `y` (`"CONFIG_IOMMUFD"`).
    Config(&'static str),
    /// A kernel release of at least `major.minor`.
    #[allow(dead_code, reason = "for suites that need a newer release (issue 19's 7.x suites)")]
    Since(u32, u32),
    /// A kernel release before `major.minor`, with what changed there: for a test that
    /// pins the rules of the releases before.
    Before(u32, u32, &'static str),
    /// The kernel's mock IOMMU (`IOMMUFD_TEST`) takes devices in this boot.
    Mock,
    /// A real `/dev/kvm`: `kvm_amd` on QEMU's emulated AMD SVM (every boot of a kernel
    /// built with `kvm.config`, under TCG's `-cpu max`).
    Kvm,
}

impl Need {
    /// `Ok` if `facts` meet this need, else the reason.
    pub fn check(self, facts: &Facts) -> Result<(), String> {
        let release = facts.release;
        match self {
            Need::Vtd if facts.vtd.is_some() => Ok(()),
            Need::Vtd => Err(format!(
                "needs an emulated VT-d; the '{}' boot has no IOMMU device",
                facts.boot
            )),
            Need::Config(option) => match facts.option(option) {
                KernelOption::Set(v) if v == "y" => Ok(()),
                KernelOption::Set(v) => Err(format!("needs {option}=y; this kernel has {option}={v}")),
                KernelOption::NotSet => Err(format!("{option} is not set in this {release} kernel")),
                KernelOption::Absent => Err(format!("not in this kernel: {release} has no {option}")),
            },
            Need::Since(major, minor) if release.series() >= (major, minor) => Ok(()),
            Need::Since(major, minor) => Err(format!("needs Linux {major}.{minor}+; this is {release}")),
            Need::Before(major, minor, _) if release.series() < (major, minor) => Ok(()),
            Need::Before(major, minor, changed) => Err(format!(
                "checks the rules before Linux {major}.{minor} ({changed}); this is {release}"
            )),
            Need::Mock if facts.mock_takes_devices() => Ok(()),
            Need::Mock => match facts.option("CONFIG_IOMMUFD_TEST") {
                KernelOption::Set(_) => Err(format!(
                    "{release}'s mock IOMMU takes no device beside VT-d (fixed in {}.{}; \
                     tier::mock_iommu_beside_vtd checks the refusal): runs in the 'mock' boot",
                    MOCK_BESIDE_VTD.0, MOCK_BESIDE_VTD.1
                )),
                _ => Need::Config("CONFIG_IOMMUFD_TEST").check(facts),
            },
            Need::Kvm if facts.kvm => Ok(()),
            Need::Kvm => Err(format!(
                "needs a real /dev/kvm; this {release} kernel has no KVM (built without kvm.config)"
            )),
        }
    }

    /// The first of `needs` that `facts` do not meet, as its reason.
    pub fn first_unmet(needs: &[Need], facts: &Facts) -> Option<String> {
        needs.iter().find_map(|n| n.check(facts).err())
    }
}

/// A suite: a module of this binary and what its tests need.
#[derive(Debug, Clone, Copy)]
pub struct Suite {
    /// The module's name, the prefix of its tests' names (`legacy` → `legacy::…`).
    pub name: &'static str,
    /// What every test of the suite needs.
    pub needs: &'static [Need],
}

/// Writes `line` to the console, past libtest's output capture (which only takes
/// `print!`), on a line of its own.
fn console(line: &str) {
    let _ = std::io::stderr().write_all(format!("\n{line}\n").as_bytes());
}

/// `true` if this boot meets `needs`. Otherwise reports the calling test n/a with the
/// reason (`VSVA-NA <test>: <reason>` on the console and a line in `VSVA_NA_LOG`, which
/// the `/init` turns into the test's result) and returns `false`: the test returns
/// without asserting anything.
///
/// ```ignore
/// #[test]
/// fn bind_takes_the_6_17_fields() {
///     if !tier::applies(&[Need::Since(6, 17)]) {
///         return;
///     }
///     // ...
/// }
/// ```
pub fn applies(needs: &[Need]) -> bool {
    let facts = Facts::of_this_boot();
    let Some(reason) = Need::first_unmet(needs, &facts) else {
        return true;
    };
    let test = std::thread::current()
        .name()
        .unwrap_or("(unnamed test)")
        .to_owned();
    console(&format!("VSVA-NA {test}: {reason}"));
    let log = std::env::var("VSVA_NA_LOG").expect("VSVA_NA_LOG is set by /init");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .unwrap_or_else(|e| panic!("{log}: {e}"));
    writeln!(f, "{test}\t{reason}").unwrap_or_else(|e| panic!("{log}: {e}"));
    false
}

/// The plan of this boot as the `/init` reads it: one line per suite,
/// `run <suite>` or `na <suite> <reason>`.
pub fn render_plan(suites: &[Suite], facts: &Facts) -> String {
    let mut out = String::new();
    for s in suites {
        match Need::first_unmet(s.needs, facts) {
            None => out.push_str(&format!("run {}\n", s.name)),
            Some(reason) => out.push_str(&format!("na {} {reason}\n", s.name)),
        }
    }
    out
}

/// Writes the plan of this boot to `VSVA_GUEST_PLAN` (the `/init` runs this test alone,
/// before the others, and skips it in the run proper). Without `VSVA_GUEST_PLAN` it only
/// checks that the plan can be made.
#[test]
fn plan() {
    let facts = Facts::of_this_boot();
    let plan = render_plan(crate::SUITES, &facts);
    let mut names: Vec<&str> = crate::SUITES.iter().map(|s| s.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), crate::SUITES.len(), "a suite declared twice");
    if let Ok(path) = std::env::var("VSVA_GUEST_PLAN") {
        std::fs::write(&path, &plan).unwrap_or_else(|e| panic!("{path}: {e}"));
    }
    print!("{plan}");
}

/// The kernel is the one the harness built for this boot: its release is the source
/// package's (`vsva.kernel=<name>:<version>` on the command line, e.g.
/// `6.12:6.12.118-1~deb12u1`), and every `CONFIG_` line of the kernel's fragments (packed
/// into `/tier/` with the `kernels` table) is in its `/proc/config.gz`.
#[test]
fn this_kernel_is_the_one_the_harness_built() {
    let facts = Facts::of_this_boot();
    let (name, version) = guest::harness_kernel();
    let want = Release::parse(&version).expect("the source package version parses");
    assert_eq!(
        facts.release, want,
        "kernel {name}: running {}, built from {version}",
        facts.release
    );
    let table = std::fs::read_to_string("/tier/kernels").expect("/tier/kernels");
    let fragments: Vec<&str> = table
        .lines()
        .map(str::split_whitespace)
        .find_map(|mut cols| (cols.next() == Some(&name)).then(|| cols.skip(3).collect()))
        .unwrap_or_else(|| panic!("kernel {name} is not in /tier/kernels"));
    assert!(!fragments.is_empty(), "kernel {name} has no fragments");
    let mut checked = 0;
    for frag in &fragments {
        let path = format!("/tier/{frag}.config");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        for line in text.lines().filter(|l| l.starts_with("CONFIG_")) {
            assert!(
                facts.config.lines().any(|l| l == line),
                "{path}: {line} is not in this kernel's /proc/config.gz"
            );
            checked += 1;
        }
    }
    assert!(checked > 20, "only {checked} fragment lines checked");
}

/// Whether the kernel's mock IOMMU takes a device while QEMU's VT-d is registered: 6.12
/// gives a device without a firmware node to the *first* IOMMU registered without one,
/// DMAR, which refuses the mock device, so `IOMMU_TEST_OP_MOCK_DOMAIN` is `EINVAL`; from
/// the 6.18 cycle the mock device gets a fwspec of its own and the call succeeds (so one
/// boot runs the VT-d and the mock suites). On 6.12 this test passes by asserting the
/// refusal, and says so.
#[test]
fn mock_iommu_beside_vtd() {
    if !applies(&[Need::Vtd, Need::Config("CONFIG_IOMMUFD_TEST")]) {
        return;
    }
    let facts = Facts::of_this_boot();
    let iommufd = Iommufd::open(guest::kernel()).expect("open /dev/iommu");
    let ioas = iommufd.ioas_alloc().expect("IOMMU_IOAS_ALLOC");
    let mut cmd = IommuTestCmd::new(IOMMU_TEST_OP_MOCK_DOMAIN, ioas.0, &MockDomain::default());
    let r = test_cmd(&iommufd, cmd.as_mut_bytes());
    if facts.release.series() >= MOCK_BESIDE_VTD {
        r.expect("IOMMU_TEST_OP_MOCK_DOMAIN beside VT-d");
        let out: MockDomain = cmd.member();
        assert_ne!(out.out_idev_id, 0, "the mock device has an iommufd id");
        assert!(facts.mock_takes_devices());
    } else {
        assert_eq!(
            r.map(drop),
            Err(Errno::EINVAL),
            "IOMMU_TEST_OP_MOCK_DOMAIN beside VT-d on {}",
            facts.release
        );
        assert!(!facts.mock_takes_devices());
        console(&format!(
            "VSVA-REFUSAL tier::mock_iommu_beside_vtd: {} refuses the mock device beside \
             VT-d (EINVAL), as expected: this test passes by asserting the refusal",
            facts.release
        ));
    }
}

/// Where the kernel has KVM, `/dev/kvm` is a real one: `kvm_amd` initialised on QEMU's
/// emulated AMD SVM with nested paging (NPT), without which an L2 Linux hangs.
#[test]
fn kvm_amd_runs_with_nested_paging() {
    if !applies(&[Need::Kvm]) {
        return;
    }
    let param = |p: &str| {
        let path = format!("/sys/module/kvm_amd/parameters/{p}");
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .trim()
            .to_owned()
    };
    assert_eq!(param("npt"), "Y", "kvm_amd without nested paging");
    assert_eq!(param("nested"), "1", "kvm_amd without nested virtualization");
    let meta = std::fs::metadata("/dev/kvm").expect("/dev/kvm");
    use std::os::unix::fs::FileTypeExt;
    assert!(meta.file_type().is_char_device(), "/dev/kvm is not a device");
}

/// [`Release::parse`] and the release arithmetic the plan relies on.
#[test]
fn releases_parse_and_order() {
    guest::require_guest();
    assert_eq!(Release::parse("6.12.118+deb12-amd64"), Some(Release(6, 12, 118)));
    assert_eq!(Release::parse("7.3.4-1~bpo13+1"), Some(Release(7, 3, 4)));
    assert_eq!(Release::parse("6.1"), Some(Release(6, 1, 0)));
    assert_eq!(Release::parse("x"), None);
    assert!(Release(6, 12, 0).series() < MOCK_BESIDE_VTD);
    assert!(Release(7, 3, 4).series() >= MOCK_BESIDE_VTD);
}
