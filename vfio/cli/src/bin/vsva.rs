//! `vsva`: the command-line tool of vsva.
//!
//! A thin clap front end: argument parsing and printing only. The logic lives in the
//! libraries ([`vsva_cli::explain`], [`vsva_vfio::features`], [`vsva_cli::features`]).
//!
//! Exit codes of `explain`: 0 accepted (or a batch ran), 1 the kernel rejects the blob, 2
//! bad arguments or unreadable input. Of `features`: 0 every nesting feature usable, 1
//! some missing, 2 error (bad arguments, unreadable `--sysfs-root`).

use std::io::{self, BufReader, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use vsva_cli::explain::{self, UserBytes};
use vsva_uapi::{Layout, Policy, Release, Vendor};
use vsva_vfio::features::{self, Options};

/// Shared virtual addressing for VMMs through the VFIO/IOMMU userspace API.
#[derive(Debug, Parser)]
#[command(name = "vsva", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show how the kernel judges a user struct: every decoded field, the bytes read,
    /// and on rejection the errno with the rule that fired.
    ///
    /// Exit status: 0 accepted, 1 rejected, 2 bad arguments. With --batch: 0 unless
    /// the input cannot be read.
    #[command(override_usage = EXPLAIN_USAGE, after_help = EXPLAIN_EXAMPLES)]
    Explain(ExplainArgs),

    /// Report what this host can give a guest: /dev/vfio and /dev/iommu, the VFIO API,
    /// IOMMU groups and devices, their PASID/PRI/ATS capabilities, VT-d units, and the
    /// IOMMU_NESTING_FEAT_* set per device with the reason for each.
    ///
    /// Exit status: 0 every nesting feature usable, 1 some missing, 2 error.
    Features(FeaturesArgs),
}

#[derive(Debug, Args)]
struct FeaturesArgs {
    /// Print one JSON object (schema_version 1) instead of the check lines.
    #[arg(long)]
    json: bool,

    /// Read a recorded sysfs tree instead of /sys (the kernel release is read from
    /// DIR/../proc/sys/kernel/osrelease, the device nodes from DIR/../dev unless
    /// --dev-root or --host-dev says otherwise): a replay is self-contained.
    #[arg(long, value_name = "DIR")]
    sysfs_root: Option<PathBuf>,

    /// Look for device nodes under DIR instead of /dev (presence only: no ioctls are
    /// made on a recorded /dev).
    #[arg(long, value_name = "DIR", conflicts_with = "host_dev")]
    dev_root: Option<PathBuf>,

    /// With --sysfs-root: check this host's /dev (and make the VFIO ioctls on it)
    /// instead of the recorded tree's DIR/../dev.
    #[arg(long, requires = "sysfs_root")]
    host_dev: bool,
}

const EXPLAIN_USAGE: &str = "\
vsva explain --struct <NAME> [--policy <POLICY>] [--vendor <VENDOR>] [--kernel <VERSION>] [--json] --hex <HEX|@FILE>
       vsva explain --batch <FILE|->";

const EXPLAIN_EXAMPLES: &str = "\
Examples:
  vsva explain --struct iommu_cache_invalidate_info --hex @examples/cache-invalidate-addr.hex
  vsva explain --struct vfio_device_attach_iommufd_pt --json --hex '10000000 01000000 07000000 05000000'
  vsva explain --struct iommu_hwpt_alloc --kernel 6.12 --hex @examples/hwpt-alloc-fault-nest.hex
  vsva explain --batch examples/batch.jsonl";

#[derive(Debug, Args)]
struct ExplainArgs {
    /// The kernel's struct name, e.g. iommu_cache_invalidate_info, iommu_hwpt_alloc.
    #[arg(
        long = "struct",
        value_name = "NAME",
        value_parser = parse_struct,
        required_unless_present = "batch",
        conflicts_with = "batch"
    )]
    layout: Option<StructArg>,

    /// The size policy [default: the struct's own] [possible values: linux-5.10,
    /// zero-tail, flags-xend].
    #[arg(long, value_name = "POLICY", value_parser = explain::parse_policy, conflicts_with = "batch")]
    policy: Option<Policy>,

    /// Add a vendor driver's checks [possible values: vtd].
    #[arg(long, value_name = "VENDOR", value_parser = explain::parse_vendor, conflicts_with = "batch")]
    vendor: Option<Vendor>,

    /// The kernel release whose rules judge the struct: 5.10 for the 2020 API, 6.2 to the
    /// newest vsva models for iommufd and VFIO cdev (6.12, 6.12.0-1-amd64: a release
    /// between two known points gets the older one's rules), or `running`
    /// [default: the newest vsva models].
    #[arg(long, value_name = "VERSION", value_parser = explain::parse_kernel, conflicts_with = "batch")]
    kernel: Option<Release>,

    /// The user memory from the struct's first byte, as hex in memory order (whitespace,
    /// 0x prefixes and ':'/'-' separators allowed), or @FILE to read it from a file
    /// ('#' comments allowed). Fewer bytes than argsz model unreadable memory (EFAULT).
    #[arg(
        long,
        value_name = "HEX",
        value_parser = explain::parse_hex_arg,
        required_unless_present = "batch",
        conflicts_with = "batch"
    )]
    hex: Option<UserBytes>,

    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,

    /// Explain every line of a JSON-lines FILE ('-' for stdin) of
    /// {"struct", "policy", "vendor", "kernel", "hex"} requests; print one JSON result per
    /// line.
    #[arg(long, value_name = "FILE")]
    batch: Option<PathBuf>,
}

fn main() -> ExitCode {
    let Cli { command } = Cli::parse();
    match command {
        Command::Explain(args) => run_explain(args),
        Command::Features(args) => run_features(args),
    }
}

fn run_features(args: FeaturesArgs) -> ExitCode {
    let opts = match (args.sysfs_root, args.dev_root) {
        (None, None) => Options::host(),
        // --host-dev: the recorded sysfs, this host's /dev and kernel.
        (Some(sysfs), None) if args.host_dev => Options::recorded(sysfs, None),
        // A replay: the recorded tree's own dev/, the sibling of its sys/ (as proc/ is).
        (Some(sysfs), None) => {
            let dev = sysfs
                .parent()
                .map_or_else(|| PathBuf::from("dev"), |p| p.join("dev"));
            Options::recorded(sysfs, Some(dev))
        }
        (Some(sysfs), dev) => Options::recorded(sysfs, dev),
        (None, Some(dev)) => Options::recorded("/sys", Some(dev)),
    };
    // The offer is the vIOMMU's policy: the rule a guest of vsva-viommu is told.
    let opts = Options {
        offer_rule: vsva_viommu::host::offer,
        ..opts
    };
    let report = match features::collect(&opts) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let text = if args.json {
        vsva_cli::features::to_json(&report).to_string()
    } else {
        report.to_string()
    };
    match writeln!(io::stdout().lock(), "{text}") {
        Ok(()) => ExitCode::from(report.exit_code()),
        Err(e) => output_failed(&e),
    }
}

/// A `--struct` name: a declared UAPI struct, or one of the VT-d hardware formats.
#[derive(Debug, Clone, Copy)]
enum StructArg {
    Uapi(&'static Layout),
    Hw(&'static str),
}

fn parse_struct(name: &str) -> Result<StructArg, explain::ExplainError> {
    if let Some(hw) = vsva_vtd::explain::NAMES.iter().find(|n| **n == name) {
        return Ok(StructArg::Hw(hw));
    }
    explain::lookup_struct(name).map(StructArg::Uapi)
}

fn run_hw(name: &str, bytes: &[u8], json: bool) -> ExitCode {
    let e = match vsva_cli::hw::explain_hw(name, bytes) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let text = if json {
        vsva_cli::hw::to_json(&e).to_string()
    } else {
        vsva_cli::hw::to_text(&e)
    };
    match writeln!(io::stdout().lock(), "{text}") {
        Ok(()) => ExitCode::from(u8::from(e.verdict.is_err())),
        Err(err) => output_failed(&err),
    }
}

fn run_explain(args: ExplainArgs) -> ExitCode {
    if let Some(path) = args.batch {
        return run_batch(&path);
    }
    let (Some(layout), Some(UserBytes(user))) = (args.layout, args.hex) else {
        // clap enforces --struct and --hex without --batch.
        eprintln!("error: --struct and --hex are required without --batch");
        return ExitCode::from(2);
    };
    let layout = match layout {
        StructArg::Uapi(l) => l,
        StructArg::Hw(name) => return run_hw(name, &user, args.json),
    };
    let release = args.kernel.unwrap_or(Release::NEWEST);
    let verdict = explain::explain_at(layout, args.policy, args.vendor, release, &user);
    let text = if args.json {
        verdict.to_json().to_string()
    } else {
        verdict.to_string()
    };
    match writeln!(io::stdout().lock(), "{text}") {
        Ok(()) => ExitCode::from(verdict.exit_code()),
        Err(e) => output_failed(&e),
    }
}

fn run_batch(path: &PathBuf) -> ExitCode {
    let stdout = io::stdout().lock();
    let result = if path.as_os_str() == "-" {
        explain::run_batch(io::stdin().lock(), stdout)
    } else {
        // A regular file only (a FIFO would block; `-` reads a pipe from stdin).
        match vsva_vfio::bounded::open_regular(path) {
            Ok(file) => explain::run_batch(BufReader::new(file), stdout),
            Err(e) => {
                eprintln!("error: cannot read batch file `{}`: {e}", path.display());
                return ExitCode::from(2);
            }
        }
    };
    match result {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => output_failed(&e),
    }
}

fn output_failed(e: &io::Error) -> ExitCode {
    if e.kind() == io::ErrorKind::BrokenPipe {
        // The reader went away (`| head`): nothing left to report.
        return ExitCode::SUCCESS;
    }
    eprintln!("error: {e}");
    ExitCode::from(2)
}
