//! `vsva explain`: how the kernel judges an untrusted user struct.
//!
//! Given a struct name (any of [`vsva_uapi::ALL_STRUCTS`]), a [`Policy`] (by default the
//! struct's own [`Layout::default_policy`]), an optional [`Vendor`] layer, a kernel
//! [`Release`] (by default the newest vsva models) and the user memory readable from the
//! struct's first byte, [`explain_at`] runs that kernel's copy and checks
//! ([`vsva_uapi::decode_into_with`] under [`Rules::kernel`], into a [`MAX_STRUCT_SIZE`]
//! stack buffer) and returns a [`Verdict`]: accepted or rejected, the `argsz` the user
//! gave, how many bytes the kernel read, every decoded field (accepted structs only), and
//! on rejection the errno and the rule that fired. The verdict is exactly that kernel's;
//! vsva's own strictness, which vsva-viommu applies on top, is reported beside it
//! ([`Verdict::strict`]: "vsva-viommu also refuses: rule …"). A verdict renders for
//! people ([`Verdict`]'s `Display`) and for machines ([`Verdict::to_json`]).
//!
//! The input side is here too: [`parse_hex`] / [`parse_hex_arg`] for the blob,
//! [`lookup_struct`], [`parse_policy`], [`parse_vendor`] and [`parse_kernel`] for the
//! names, and
//! [`run_batch`] / [`explain_line`] for JSON-lines batches. Every parse error is an
//! [`ExplainError`] whose message says what was wrong.
//!
//! The blob is raw user memory in **memory order**, read as native-endian integers
//! (x86_64: little endian): `38000000` is an `argsz` of 56.

use std::fmt;
use std::io::{self, BufRead, Write};

use serde_json::{json, Map, Value};
use vsva_uapi::codec::read_field;
use vsva_uapi::{
    decode_into_with, field_entries, layout_named, strict_check, DecodeInfo, FieldEntry,
    FieldValue, Layout, Policy, Release, ReleaseError, Rules, StrictRefusal, UapiError, Vendor,
    ALL_STRUCTS, MAX_STRUCT_SIZE,
};

/// A bad input to `vsva explain`: a name it does not know, a blob that is not hex, a
/// file it cannot read, or a malformed batch line. The `Display` text is the message
/// shown to the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExplainError {
    /// No struct of this name is declared (see [`vsva_uapi::ALL_STRUCTS`]).
    UnknownStruct(String),
    /// Not a policy name (`linux-5.10`, `zero-tail`, `flags-xend`).
    UnknownPolicy(String),
    /// Not a vendor name (`vtd`).
    UnknownVendor(String),
    /// Not a kernel release vsva has rules for (`--kernel`, a request's `kernel`).
    UnknownKernel {
        /// What was given.
        given: String,
        /// Why it is not a release.
        reason: ReleaseError,
    },
    /// `--kernel running`, but the running kernel's release could not be read.
    RunningKernel(String),
    /// A character that is neither a hex digit, whitespace, a `0x` prefix nor a `:`/`-`
    /// separator.
    NotHex {
        /// The character.
        ch: char,
        /// Its position, counted in characters from 1.
        position: usize,
    },
    /// A run of hex digits of odd length: every byte needs two digits.
    OddDigits {
        /// The run.
        group: String,
        /// The position of its first digit, counted in characters from 1.
        position: usize,
    },
    /// A `0x` prefix or a `:`/`-` separator with no hex digits where a byte belongs.
    MissingByte {
        /// The position where a byte was expected, counted in characters from 1.
        position: usize,
    },
    /// A hex file (`--hex @FILE`) could not be read.
    ReadFile {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// A line of a hex file (`--hex @FILE`) is not valid hex.
    HexFile {
        /// The file.
        path: String,
        /// The line, counted from 1.
        line: usize,
        /// What is wrong with it ([`ExplainError::NotHex`] and so on).
        reason: Box<ExplainError>,
    },
    /// A batch line that is not a request object (bad JSON, a missing or mistyped key).
    BadRequest(String),
    /// An input longer than anything that can matter (no struct is over 4 KiB): refused
    /// without holding more than the limit.
    TooLong {
        /// What was too long (`hex text`, `user memory`, `batch line`, `hex file`).
        what: &'static str,
        /// The limit, in bytes.
        limit: usize,
    },
}

/// The most user memory a request may describe: 64 KiB, sixteen times the largest size
/// a kernel reads of any struct (`copy_struct_from_user` callers stop at a page).
pub const MAX_USER_BYTES: usize = 64 * 1024;

/// The longest hex text (`--hex`, a batch request's `hex`): 1 MiB.
pub const MAX_HEX_TEXT: usize = 1024 * 1024;

/// The longest hex file (`--hex @FILE`, comments included): 1 MiB.
pub const MAX_HEX_FILE: usize = 1024 * 1024;

/// The longest batch line: a request with [`MAX_HEX_TEXT`] of hex and its keys.
pub const MAX_BATCH_LINE: usize = MAX_HEX_TEXT + 4096;

impl fmt::Display for ExplainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExplainError::UnknownStruct(name) => {
                write!(f, "unknown struct `{name}`; valid names: ")?;
                write_list(f, ALL_STRUCTS.iter().map(|l| l.name))?;
                f.write_str("; or an ioctl's: ")?;
                write_list(f, vsva_uapi::ioctl::ALL_IOCTLS.iter().map(|i| i.name))
            }
            ExplainError::UnknownPolicy(name) => {
                write!(f, "unknown policy `{name}`; valid policies: ")?;
                write_list(f, Policy::ALL.iter().map(|p| p.name()))
            }
            ExplainError::UnknownVendor(name) => {
                write!(f, "unknown vendor `{name}`; valid vendors: ")?;
                write_list(f, VENDORS.iter().map(|v| v.name()))
            }
            ExplainError::UnknownKernel { given, reason } => write!(
                f,
                "unknown kernel `{given}`: {reason}; give a release from {} to {} \
                 (e.g. 6.12 or 6.12.0-1-amd64) or `running`",
                Release::OLDEST,
                Release::NEWEST
            ),
            ExplainError::RunningKernel(why) => {
                write!(f, "cannot read the running kernel's release: {why}")
            }
            ExplainError::NotHex { ch, position } => write!(
                f,
                "bad hex: {ch:?} at character {position} is not a hex digit \
                 (allowed: hex digits, whitespace, a 0x prefix, ':' or '-' between bytes)"
            ),
            ExplainError::OddDigits { group, position } => write!(
                f,
                "bad hex: `{group}` at character {position} has an odd number of hex digits \
                 ({}); every byte needs two",
                group.chars().count()
            ),
            ExplainError::MissingByte { position } => write!(
                f,
                "bad hex: expected a byte at character {position} \
                 (a 0x prefix or a ':'/'-' separator must be next to hex digits)"
            ),
            ExplainError::ReadFile { path, reason } => {
                write!(f, "cannot read hex file `{path}`: {reason}")
            }
            ExplainError::HexFile { path, line, reason } => {
                write!(f, "hex file `{path}` line {line}: {reason}")
            }
            ExplainError::BadRequest(message) => f.write_str(message),
            ExplainError::TooLong { what, limit } => write!(
                f,
                "the {what} is longer than {limit} bytes (no struct is over 4 KiB): not read"
            ),
        }
    }
}

impl std::error::Error for ExplainError {}

fn write_list<'a>(f: &mut fmt::Formatter<'_>, names: impl Iterator<Item = &'a str>) -> fmt::Result {
    for (i, name) in names.enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        f.write_str(name)?;
    }
    Ok(())
}

/// Every vendor [`parse_vendor`] knows.
const VENDORS: [Vendor; 1] = [Vendor::Vtd];

/// The declaration of the struct the kernel calls `name` (any of
/// [`vsva_uapi::ALL_STRUCTS`]), or of the struct a declared ioctl takes when `name` is
/// the ioctl's (`IOMMU_HWPT_ALLOC`: `iommu_hwpt_alloc`; [`vsva_uapi::ioctl::ALL_IOCTLS`]).
///
/// # Errors
/// [`ExplainError::UnknownStruct`], whose message lists the valid names.
pub fn lookup_struct(name: &str) -> Result<&'static Layout, ExplainError> {
    layout_named(name)
        .or_else(|| vsva_uapi::ioctl::ioctl_named(name).map(|i| i.layout))
        .ok_or_else(|| ExplainError::UnknownStruct(name.to_owned()))
}

/// Parses a policy name as [`Policy::name`] prints it (`linux-5.10`, `zero-tail`,
/// `flags-xend`).
///
/// # Errors
/// [`ExplainError::UnknownPolicy`].
pub fn parse_policy(name: &str) -> Result<Policy, ExplainError> {
    Policy::from_name(name).ok_or_else(|| ExplainError::UnknownPolicy(name.to_owned()))
}

/// Parses a vendor name as [`Vendor::name`] prints it (`vtd`).
///
/// # Errors
/// [`ExplainError::UnknownVendor`].
pub fn parse_vendor(name: &str) -> Result<Vendor, ExplainError> {
    Vendor::from_name(name).ok_or_else(|| ExplainError::UnknownVendor(name.to_owned()))
}

/// Parses a kernel release (`6.12`, `6.12.0-1-amd64`, `7.3`), or `running` for the
/// running kernel's (`/proc/sys/kernel/osrelease`, read with
/// [`vsva_vfio::bounded::running_release`]).
///
/// # Errors
/// [`ExplainError::UnknownKernel`] or [`ExplainError::RunningKernel`].
pub fn parse_kernel(text: &str) -> Result<Release, ExplainError> {
    if text == "running" {
        return vsva_vfio::bounded::running_release()
            .map_err(|e| ExplainError::RunningKernel(e.to_string()));
    }
    Release::parse(text).map_err(|reason| ExplainError::UnknownKernel {
        given: text.to_owned(),
        reason,
    })
}

/// Parses user memory written as hex, in memory order: pairs of hex digits (either
/// case), with any whitespace, an optional `0x`/`0X` prefix on each whitespace-separated
/// word, and optional `:` or `-` separators between bytes (`38:00:00:00`,
/// `0x38000000`, `38-00 00 00`). An empty text is zero bytes of readable memory.
///
/// # Errors
/// [`ExplainError::NotHex`], [`ExplainError::OddDigits`] or
/// [`ExplainError::MissingByte`], with the position of the problem.
pub fn parse_hex(text: &str) -> Result<Vec<u8>, ExplainError> {
    if text.len() > MAX_HEX_TEXT {
        return Err(ExplainError::TooLong {
            what: "hex text",
            limit: MAX_HEX_TEXT,
        });
    }
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::with_capacity(chars.len() / 2);
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && !chars[i].is_whitespace() {
            i += 1;
        }
        parse_word(&chars[start..i], start, &mut out)?;
    }
    user_bytes(out)
}

/// `bytes`, if they are no more than [`MAX_USER_BYTES`].
fn user_bytes(bytes: Vec<u8>) -> Result<Vec<u8>, ExplainError> {
    if bytes.len() > MAX_USER_BYTES {
        return Err(ExplainError::TooLong {
            what: "user memory",
            limit: MAX_USER_BYTES,
        });
    }
    Ok(bytes)
}

/// One whitespace-separated word starting at character index `at` (from 0).
fn parse_word(word: &[char], at: usize, out: &mut Vec<u8>) -> Result<(), ExplainError> {
    let (word, at) = match word {
        ['0', 'x' | 'X', rest @ ..] => (rest, at + 2),
        _ => (word, at),
    };
    let mut group_start = 0;
    for j in 0..=word.len() {
        let at_end = j == word.len();
        if at_end || matches!(word[j], ':' | '-') {
            let group = &word[group_start..j];
            if group.is_empty() {
                return Err(ExplainError::MissingByte {
                    position: at + j + 1,
                });
            }
            parse_group(group, at + group_start, out)?;
            group_start = j + 1;
        }
    }
    Ok(())
}

/// A run of hex digits starting at character index `at` (from 0).
fn parse_group(group: &[char], at: usize, out: &mut Vec<u8>) -> Result<(), ExplainError> {
    let mut digits = Vec::with_capacity(group.len());
    for (k, ch) in group.iter().enumerate() {
        match ch.to_digit(16) {
            Some(d) => digits.push(d as u8),
            None => {
                return Err(ExplainError::NotHex {
                    ch: *ch,
                    position: at + k + 1,
                })
            }
        }
    }
    if digits.len() % 2 != 0 {
        return Err(ExplainError::OddDigits {
            group: group.iter().collect(),
            position: at + 1,
        });
    }
    out.extend(digits.chunks_exact(2).map(|pair| (pair[0] << 4) | pair[1]));
    Ok(())
}

/// Parses the text of a hex file: [`parse_hex`] line by line, where `#` starts a
/// comment that runs to the end of the line (so example files can name their fields).
///
/// # Errors
/// The first bad line's number (from 1) and what is wrong with it.
pub fn parse_hex_lines(text: &str) -> Result<Vec<u8>, (usize, ExplainError)> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.split_once('#').map_or(line, |(code, _)| code);
        out.extend(parse_hex(code).map_err(|e| (n + 1, e))?);
        if out.len() > MAX_USER_BYTES {
            return user_bytes(out).map_err(|e| (n + 1, e));
        }
    }
    Ok(out)
}

/// The user memory of an explain request: the parsed `--hex` argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserBytes(pub Vec<u8>);

/// Parses a `--hex` argument: hex text ([`parse_hex`]), or `@FILE` to read the hex from
/// a file ([`parse_hex_lines`]: `#` comments allowed). The file must be a regular file
/// (a FIFO or `/dev/zero` is refused without blocking or reading) of at most
/// [`MAX_HEX_FILE`] bytes.
///
/// # Errors
/// A bad-hex [`ExplainError`], [`ExplainError::ReadFile`], [`ExplainError::HexFile`]
/// or [`ExplainError::TooLong`].
pub fn parse_hex_arg(arg: &str) -> Result<UserBytes, ExplainError> {
    let Some(path) = arg.strip_prefix('@') else {
        return parse_hex(arg).map(UserBytes);
    };
    let read_failed = |reason: String| ExplainError::ReadFile {
        path: path.to_owned(),
        reason,
    };
    let (bytes, more) = vsva_vfio::bounded::read_prefix(path, MAX_HEX_FILE)
        .map_err(|e| read_failed(e.to_string()))?;
    if more {
        return Err(ExplainError::TooLong {
            what: "hex file",
            limit: MAX_HEX_FILE,
        });
    }
    let text = String::from_utf8(bytes).map_err(|_| read_failed("not UTF-8 text".into()))?;
    parse_hex_lines(&text)
        .map(UserBytes)
        .map_err(|(line, reason)| ExplainError::HexFile {
            path: path.to_owned(),
            line,
            reason: Box::new(reason),
        })
}

/// What the kernel makes of one user blob: the outcome of [`explain`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The struct's declaration.
    pub layout: &'static Layout,
    /// The policy applied (the struct's default unless overridden).
    pub policy: Policy,
    /// The vendor layer asked for, if any (it only acts on structs it has rules for).
    pub vendor: Option<Vendor>,
    /// The kernel release whose rules judged the struct.
    pub release: Release,
    /// What the decode found, or why the kernel refuses the struct.
    pub outcome: Result<DecodeInfo, UapiError>,
    /// When the kernel accepts: the rule of vsva's strictness that vsva-viommu refuses
    /// the struct with anyway, if any.
    pub strict: Option<StrictRefusal>,
    /// The `argsz` (`size`) the user gave: `None` when fewer than 4 bytes are readable;
    /// the struct size for records without a size field.
    pub argsz: Option<u32>,
    /// One past the last user byte the kernel read (copied or checked for zero), also
    /// on rejection.
    pub bytes_read: usize,
    /// How many bytes of user memory were given (readable).
    pub given: usize,
    /// The kernel's copy: user bytes up to the policy's read limit, zero beyond.
    kernel: [u8; MAX_STRUCT_SIZE],
}

/// [`explain_at`] for the newest release vsva models ([`Release::NEWEST`]).
pub fn explain(
    layout: &'static Layout,
    policy: Option<Policy>,
    vendor: Option<Vendor>,
    user: &[u8],
) -> Verdict {
    explain_at(layout, policy, vendor, Release::NEWEST, user)
}

/// Runs the copy and checks of `layout` that a kernel of `release` makes over `user`
/// (the memory readable from the struct's first byte) under `policy` (default:
/// [`Layout::default_policy`]), with the `vendor` layer if given, and returns the
/// verdict; for a struct the kernel accepts, also whether vsva's strictness refuses it.
///
/// The kernel copy lives in a [`MAX_STRUCT_SIZE`] stack buffer; nothing is allocated.
pub fn explain_at(
    layout: &'static Layout,
    policy: Option<Policy>,
    vendor: Option<Vendor>,
    release: Release,
    user: &[u8],
) -> Verdict {
    let policy = policy.unwrap_or(layout.default_policy);
    let mut kernel = [0u8; MAX_STRUCT_SIZE];
    let mut read = 0;
    let outcome = decode_into_with(
        layout,
        user,
        policy,
        vendor,
        Rules::kernel(release),
        &mut kernel,
        &mut read,
    );
    let strict = outcome
        .as_ref()
        .ok()
        .and_then(|info| strict_check(layout, user, &kernel, info, policy, vendor, release).err());
    let (argsz, bytes_read) = match &outcome {
        Ok(info) => (Some(info.argsz), info.bytes_read),
        Err(_) if layout.sized => (
            user.get(..4)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map(u32::from_ne_bytes),
            read,
        ),
        Err(_) => (u32::try_from(layout.size).ok(), read),
    };
    Verdict {
        layout,
        policy,
        vendor,
        release,
        outcome,
        strict,
        argsz,
        bytes_read,
        given: user.len(),
        kernel,
    }
}

impl Verdict {
    /// Whether the kernel accepts the struct.
    pub fn is_accepted(&self) -> bool {
        self.outcome.is_ok()
    }

    /// Why the kernel refuses the struct, if it does.
    pub fn error(&self) -> Option<&UapiError> {
        self.outcome.as_ref().err()
    }

    /// The process exit code `vsva explain` uses: 0 accepted, 1 rejected.
    pub fn exit_code(&self) -> u8 {
        if self.is_accepted() {
            0
        } else {
            1
        }
    }

    /// The kernel's copy of the struct (`layout.size` bytes). On rejection it holds
    /// what was copied before the check that failed; the kernel would discard it.
    pub fn kernel_copy(&self) -> &[u8] {
        self.kernel.get(..self.layout.size).unwrap_or(&self.kernel)
    }

    /// Every decoded field in offset order, the union shown through the member its
    /// discriminator selects; empty when the struct is rejected.
    pub fn fields(&self) -> impl Iterator<Item = FieldEntry<'_>> + '_ {
        let buf = self.kernel_copy();
        self.outcome
            .as_ref()
            .ok()
            .into_iter()
            .flat_map(move |info| field_entries(self.layout, buf, info.variant))
    }

    /// Whether the vendor asked for has rules for this struct (otherwise only the
    /// generic layer applies).
    pub fn vendor_applies(&self) -> bool {
        match (self.vendor, self.layout.vendor) {
            (Some(want), Some(rules)) => rules.vendor == want,
            _ => false,
        }
    }

    /// The machine-readable verdict: one JSON object with the keys `struct`, `policy`,
    /// `vendor`, `kernel`, `ok`, `errno`, `errno_name`, `error`, `argsz`, `bytes_read`,
    /// `fields` (C path → value: integers as numbers, byte arrays as lowercase hex
    /// strings; `{}` on rejection) and `vsva_strict`, in that order. `ok` and `errno` are
    /// the kernel's; `vsva_strict` is `null`, or when vsva-viommu refuses what the kernel
    /// accepts, `{"rule", "errno", "errno_name", "error", "kernel_does"}`.
    pub fn to_json(&self) -> Value {
        let mut fields = Map::new();
        for entry in self.fields() {
            fields.insert(entry.to_string(), value_json(entry.value));
        }
        let err = self.error();
        json!({
            "struct": self.layout.name,
            "policy": self.policy.name(),
            "vendor": self.vendor.map(Vendor::name),
            "kernel": self.release.to_string(),
            "ok": self.is_accepted(),
            "errno": err.map(|e| e.errno().raw()),
            "errno_name": err.map(|e| e.errno().name()),
            "error": err.map(|e| e.to_string()),
            "argsz": self.argsz,
            "bytes_read": self.bytes_read,
            "fields": fields,
            "vsva_strict": self.strict.map(|s| json!({
                "rule": s.rule.name,
                "errno": s.error.errno().raw(),
                "errno_name": s.error.errno().name(),
                "error": s.error.to_string(),
                "kernel_does": s.rule.kernel,
            })),
        })
    }
}

fn value_json(value: FieldValue<'_>) -> Value {
    match value {
        FieldValue::Int(v) => Value::from(v),
        FieldValue::Bytes(b) => Value::from(hex_string(b, "")),
    }
}

fn hex_string(bytes: &[u8], sep: &str) -> String {
    let mut s = String::with_capacity(bytes.len() * (2 + sep.len()));
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push_str(sep);
        }
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// The human-readable verdict: a header line, notes, and either the field table
/// (offset, size, C path, value) or the errno with the rule that fired and its kernel
/// source. No trailing newline.
impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} under {}", self.layout.name, self.policy.name())?;
        if let Some(v) = self.vendor {
            write!(f, " with {}", v.name())?;
        }
        write!(f, ", kernel {}", self.release)?;
        let argsz = self
            .argsz
            .map_or_else(|| "unreadable".to_owned(), |a| a.to_string());
        match &self.outcome {
            Ok(_) => write!(
                f,
                ": ACCEPTED (argsz {argsz}, read {} bytes)",
                self.bytes_read
            )?,
            Err(err) => {
                write!(f, ": REJECTED with {}", err.errno())?;
                write!(f, "\n  rule:   {}: {err}", err.kind())?;
                write!(f, "\n  kernel: {}", err.kernel_source())?;
                write!(
                    f,
                    "\n  argsz {argsz}, read {} of {} bytes given",
                    self.bytes_read, self.given
                )?;
            }
        }
        if self.policy != self.layout.default_policy {
            write!(
                f,
                "\n  note: the kernel applies {} to this struct; --policy chose {}",
                self.layout.default_policy.name(),
                self.policy.name()
            )?;
        }
        if let Some(s) = &self.strict {
            write!(
                f,
                "\n  note: vsva-viommu also refuses: rule {}: {} ({}): {}",
                s.rule.name,
                s.error.errno(),
                s.error.kind(),
                s.error
            )?;
            write!(f, "\n        (the kernel: {})", s.rule.kernel)?;
        }
        if self.release > Release::NEWEST {
            write!(
                f,
                "\n  note: kernel {} is newer than vsva models: the rules of {} apply",
                self.release,
                Release::NEWEST
            )?;
        }
        if let (Some(v), false) = (self.vendor, self.vendor_applies()) {
            write!(
                f,
                "\n  note: {} has no rules for {}; only the generic checks apply",
                v.name(),
                self.layout.name
            )?;
        }
        let Ok(info) = &self.outcome else {
            return Ok(());
        };
        if self.given > self.bytes_read {
            write!(
                f,
                "\n  note: {} of the {} bytes given were never read",
                self.given - self.bytes_read,
                self.given
            )?;
        }
        if let (Some(u), Some(v)) = (self.layout.union, info.variant) {
            write!(
                f,
                "\n  union {}: member {} ({} = {}, needs argsz >= {})",
                u.name, v.name, u.selector.name, v.value, v.end
            )?;
        }
        for x in self.layout.extensions {
            if read_field(self.kernel_copy(), x.flags) & x.bit != 0 {
                write!(
                    f,
                    "\n  flag {} set: the kernel reads up to byte {}",
                    x.name, x.end
                )?;
            }
        }
        let width = self
            .fields()
            .map(|e| e.to_string().len())
            .max()
            .unwrap_or(0)
            .max("field".len());
        write!(f, "\n  offset  size  {:<width$}  value", "field")?;
        for entry in self.fields() {
            let value = match entry.value {
                FieldValue::Int(v) => format!("{v:#x} ({v})"),
                FieldValue::Bytes(b) => hex_string(b, " "),
            };
            write!(
                f,
                "\n  {:>6}  {:>4}  {:<width$}  {value}",
                entry.offset,
                entry.field.size,
                entry.to_string()
            )?;
        }
        Ok(())
    }
}

/// The keys a batch request may have.
const REQUEST_KEYS: [&str; 5] = ["struct", "policy", "vendor", "kernel", "hex"];

/// Explains one batch request, a JSON object `{"struct", "policy", "vendor", "kernel",
/// "hex"}` (`policy`, `vendor` and `kernel` optional or `null`; `kernel` as for
/// [`parse_kernel`], default the newest; `hex` as for [`parse_hex`]), and returns the
/// result object ([`Verdict::to_json`]).
///
/// A malformed request (bad JSON, an unknown key, struct, policy or vendor, bad hex)
/// gives an error result instead: `ok: false`, `errno: null`, the message in `error`,
/// `struct` as given (or `null`), `fields: {}`.
pub fn explain_line(line: &str) -> Value {
    match explain_request(line) {
        Ok(verdict) => verdict.to_json(),
        Err(bad) => bad.to_json(),
    }
}

/// A request that could not be explained, with whatever it named.
struct BadRequest {
    strukt: Option<String>,
    policy: Option<String>,
    vendor: Option<String>,
    kernel: Option<String>,
    error: ExplainError,
}

impl BadRequest {
    /// A request of which nothing is readable.
    fn unreadable(message: String) -> BadRequest {
        BadRequest {
            strukt: None,
            policy: None,
            vendor: None,
            kernel: None,
            error: ExplainError::BadRequest(message),
        }
    }

    fn to_json(&self) -> Value {
        json!({
            "struct": self.strukt,
            "policy": self.policy,
            "vendor": self.vendor,
            "kernel": self.kernel,
            "ok": false,
            "errno": null,
            "errno_name": null,
            "error": self.error.to_string(),
            "argsz": null,
            "bytes_read": 0,
            "fields": {},
            "vsva_strict": null,
        })
    }
}

fn explain_request(line: &str) -> Result<Verdict, Box<BadRequest>> {
    let request = match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(map)) => map,
        Ok(_) => {
            return Err(Box::new(BadRequest::unreadable(
                "a batch line must be a JSON object".into(),
            )))
        }
        Err(e) => return Err(Box::new(BadRequest::unreadable(format!("bad JSON: {e}")))),
    };
    match parse_request(&request) {
        Ok((layout, policy, vendor, release, user)) => {
            Ok(explain_at(layout, policy, vendor, release, &user))
        }
        Err(error) => {
            // Echo what the request names, as far as it is readable.
            let text = |key: &str| request.get(key).and_then(Value::as_str);
            let strukt = text("struct");
            let policy = match request.get("policy") {
                None | Some(Value::Null) => strukt
                    .and_then(layout_named)
                    .map(|l| l.default_policy.name()),
                _ => text("policy"),
            };
            let kernel = match request.get("kernel") {
                None | Some(Value::Null) => Some(Release::NEWEST.to_string()),
                _ => text("kernel").map(str::to_owned),
            };
            Err(Box::new(BadRequest {
                strukt: strukt.map(str::to_owned),
                policy: policy.map(str::to_owned),
                vendor: text("vendor").map(str::to_owned),
                kernel,
                error,
            }))
        }
    }
}

/// The parts of a request object, checked.
type Request = (
    &'static Layout,
    Option<Policy>,
    Option<Vendor>,
    Release,
    Vec<u8>,
);

fn parse_request(request: &Map<String, Value>) -> Result<Request, ExplainError> {
    if let Some(key) = request.keys().find(|k| !REQUEST_KEYS.contains(&k.as_str())) {
        return Err(ExplainError::BadRequest(format!(
            "unknown key `{key}` (a request has struct, policy, vendor, kernel, hex)"
        )));
    }
    let layout = lookup_struct(required_str(request, "struct")?)?;
    let policy = optional_str(request, "policy")?
        .map(parse_policy)
        .transpose()?;
    let vendor = optional_str(request, "vendor")?
        .map(parse_vendor)
        .transpose()?;
    let release = optional_str(request, "kernel")?
        .map(parse_kernel)
        .transpose()?
        .unwrap_or(Release::NEWEST);
    let user = parse_hex(required_str(request, "hex")?)?;
    Ok((layout, policy, vendor, release, user))
}

/// `request[key]` as a string: `Ok(None)` when absent or `null`.
fn optional_str<'a>(
    request: &'a Map<String, Value>,
    key: &str,
) -> Result<Option<&'a str>, ExplainError> {
    match request.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(ExplainError::BadRequest(format!(
            "`{key}` must be a string, not {other}"
        ))),
    }
}

/// `request[key]` as a string, which must be there.
fn required_str<'a>(request: &'a Map<String, Value>, key: &str) -> Result<&'a str, ExplainError> {
    optional_str(request, key)?.ok_or_else(|| {
        ExplainError::BadRequest(format!("missing `{key}` (a request needs struct and hex)"))
    })
}

/// What a batch run produced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchSummary {
    /// Requests the kernel accepts.
    pub accepted: usize,
    /// Requests the kernel rejects.
    pub rejected: usize,
    /// Lines that are not valid requests.
    pub malformed: usize,
}

/// Runs a JSON-lines batch: for every non-blank line of `input`, in order, writes one
/// result line ([`explain_line`]) to `output`. A malformed line gives an error result
/// whose message starts with `line N:` (its line number in `input`); it does not stop
/// the batch.
///
/// # Errors
/// Only I/O errors of `input` or `output`.
pub fn run_batch<R: BufRead, W: Write>(mut input: R, mut output: W) -> io::Result<BatchSummary> {
    let mut summary = BatchSummary::default();
    let mut raw = Vec::new();
    let mut number = 0;
    while let Some(too_long) = read_line_bounded(&mut input, &mut raw, MAX_BATCH_LINE)? {
        number += 1;
        let mut result = if too_long {
            BadRequest::unreadable(
                ExplainError::TooLong {
                    what: "batch line",
                    limit: MAX_BATCH_LINE,
                }
                .to_string(),
            )
            .to_json()
        } else {
            match std::str::from_utf8(&raw) {
                Ok(line) if line.trim().is_empty() => continue,
                Ok(line) => explain_line(line),
                Err(_) => BadRequest::unreadable("the line is not UTF-8".into()).to_json(),
            }
        };
        match (&result["ok"], &result["errno"]) {
            (Value::Bool(true), _) => summary.accepted += 1,
            (_, Value::Null) => {
                summary.malformed += 1;
                if let Some(Value::String(e)) = result.get_mut("error") {
                    *e = format!("line {number}: {e}");
                }
            }
            _ => summary.rejected += 1,
        }
        writeln!(output, "{result}")?;
    }
    output.flush()?;
    Ok(summary)
}

/// Reads the next line (without its `\n`) into `line`, keeping at most `limit` bytes:
/// the rest of a longer line is read and dropped. `None` at the end of the input,
/// `Some(true)` for a line longer than `limit` (whose `line` is then incomplete).
fn read_line_bounded<R: BufRead>(
    input: &mut R,
    line: &mut Vec<u8>,
    limit: usize,
) -> io::Result<Option<bool>> {
    line.clear();
    let (mut seen, mut too_long) = (false, false);
    loop {
        let avail = match input.fill_buf() {
            Ok(a) => a,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if avail.is_empty() {
            return Ok(seen.then_some(too_long));
        }
        seen = true;
        let (chunk, used, end) = match avail.iter().position(|b| *b == b'\n') {
            Some(i) => (&avail[..i], i + 1, true),
            None => (avail, avail.len(), false),
        };
        let room = limit.saturating_sub(line.len());
        too_long |= chunk.len() > room;
        line.extend_from_slice(&chunk[..chunk.len().min(room)]);
        input.consume(used);
        if end {
            return Ok(Some(too_long));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vsva_uapi::Errno;

    /// The valid address-selective IOTLB invalidation of `examples/`.
    const ADDR_INV: &str = "38000000 01000000 01 02 000000000000 \
        01000000 00000000 0500000000000000 0010000000000000 \
        0010000000000000 0400000000000000";

    fn cache_inv() -> &'static Layout {
        lookup_struct("iommu_cache_invalidate_info").unwrap()
    }

    #[test]
    fn hex_accepts_whitespace_prefixes_and_separators() {
        let want = vec![0x38, 0x00, 0xab, 0xcd];
        for text in [
            "3800abcd",
            "0x3800ABCD",
            "38 00\tab\ncd",
            "38:00:ab:cd",
            "38-00-ab-cd",
            "0x38 0x00 0xab 0xcd",
            "  3800:ab-cd  ",
        ] {
            assert_eq!(parse_hex(text), Ok(want.clone()), "{text:?}");
        }
        assert_eq!(parse_hex(""), Ok(vec![]));
        assert_eq!(parse_hex(" \n "), Ok(vec![]));
    }

    #[test]
    fn hex_rejects_odd_digits_with_position() {
        assert_eq!(
            parse_hex("38 000"),
            Err(ExplainError::OddDigits {
                group: "000".into(),
                position: 4
            })
        );
        assert_eq!(
            parse_hex("3:8"),
            Err(ExplainError::OddDigits {
                group: "3".into(),
                position: 1
            })
        );
    }

    #[test]
    fn hex_rejects_non_hex_and_dangling_separators() {
        assert_eq!(
            parse_hex("38 0g"),
            Err(ExplainError::NotHex {
                ch: 'g',
                position: 5
            })
        );
        assert_eq!(
            parse_hex("38::00"),
            Err(ExplainError::MissingByte { position: 4 })
        );
        assert_eq!(
            parse_hex("0x"),
            Err(ExplainError::MissingByte { position: 3 })
        );
        assert_eq!(
            parse_hex("38:"),
            Err(ExplainError::MissingByte { position: 4 })
        );
        let msg = parse_hex("zz").unwrap_err().to_string();
        assert!(
            msg.contains("'z' at character 1 is not a hex digit"),
            "{msg}"
        );
    }

    #[test]
    fn hex_lines_strip_comments_and_number_errors() {
        let text = "# argsz\n38000000  # 56\n\n01 # version\n";
        assert_eq!(parse_hex_lines(text), Ok(vec![0x38, 0, 0, 0, 1]));
        assert_eq!(
            parse_hex_lines("38\n0\n").unwrap_err(),
            (
                2,
                ExplainError::OddDigits {
                    group: "0".into(),
                    position: 1
                }
            )
        );
    }

    #[test]
    fn hex_arg_reads_files_and_reports_missing_ones() {
        let dir = std::env::temp_dir().join(format!("vsva-explain-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("blob.hex");
        std::fs::write(&path, "0x38 00 # argsz\nzz\n").unwrap();
        let arg = format!("@{}", path.display());
        let err = parse_hex_arg(&arg).unwrap_err();
        assert!(
            matches!(&err, ExplainError::HexFile { line: 2, .. }),
            "{err:?}"
        );
        std::fs::write(&path, "0x38 00 # argsz\n0000\n").unwrap();
        assert_eq!(parse_hex_arg(&arg), Ok(UserBytes(vec![0x38, 0, 0, 0])));
        std::fs::remove_dir_all(&dir).unwrap();
        let err = parse_hex_arg("@/nonexistent/vsva.hex").unwrap_err();
        assert!(matches!(err, ExplainError::ReadFile { .. }), "{err:?}");
        assert_eq!(parse_hex_arg("01 02"), Ok(UserBytes(vec![1, 2])));
    }

    #[test]
    fn names_are_looked_up_and_unknown_ones_list_the_valid_ones() {
        assert_eq!(lookup_struct("iommu_hwpt_alloc").unwrap().size, 48);
        // An ioctl's name names its struct.
        assert_eq!(
            lookup_struct("IOMMU_HWPT_ALLOC").unwrap().name,
            "iommu_hwpt_alloc"
        );
        for i in vsva_uapi::ioctl::ALL_IOCTLS {
            assert_eq!(lookup_struct(i.name).unwrap().name, i.layout.name);
        }
        let msg = lookup_struct("iommu_nope").unwrap_err().to_string();
        assert!(msg.starts_with("unknown struct `iommu_nope`; valid names: "));
        for layout in ALL_STRUCTS {
            assert!(msg.contains(layout.name), "{msg}");
        }
        assert_eq!(parse_policy("zero-tail"), Ok(Policy::ZeroTail));
        assert!(parse_policy("5.10")
            .unwrap_err()
            .to_string()
            .contains("linux-5.10, zero-tail, flags-xend"));
        assert_eq!(parse_vendor("vtd"), Ok(Vendor::Vtd));
        assert_eq!(
            parse_vendor("amd"),
            Err(ExplainError::UnknownVendor("amd".into()))
        );
    }

    #[test]
    fn accepted_verdict_lists_every_field_with_its_c_path() {
        let user = parse_hex(ADDR_INV).unwrap();
        let v = explain(cache_inv(), None, None, &user);
        assert!(v.is_accepted());
        assert_eq!(
            (v.policy, v.argsz, v.bytes_read),
            (Policy::Linux510, Some(56), 56)
        );
        assert_eq!(v.exit_code(), 0);
        let paths: Vec<String> = v.fields().map(|e| e.to_string()).collect();
        assert_eq!(
            paths,
            [
                "argsz",
                "version",
                "cache",
                "granularity",
                "padding",
                "granu.addr_info.flags",
                "granu.addr_info.archid",
                "granu.addr_info.pasid",
                "granu.addr_info.addr",
                "granu.addr_info.granule_size",
                "granu.addr_info.nb_granules",
            ]
        );
        let json = v.to_json();
        assert_eq!(json["fields"]["granu.addr_info.addr"], 0x1000);
        assert_eq!(json["fields"]["padding"], "000000000000");
        assert_eq!(json["errno"], Value::Null);
        let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "struct",
                "policy",
                "vendor",
                "kernel",
                "ok",
                "errno",
                "errno_name",
                "error",
                "argsz",
                "bytes_read",
                "fields",
                "vsva_strict"
            ]
        );
    }

    #[test]
    fn human_rendering_has_header_union_and_table() {
        let user = parse_hex(ADDR_INV).unwrap();
        let text = explain(cache_inv(), None, None, &user).to_string();
        let mut lines = text.lines();
        assert_eq!(
            lines.next(),
            Some(
                "iommu_cache_invalidate_info under linux-5.10, kernel 7.3: ACCEPTED (argsz 56, read 56 bytes)"
            )
        );
        assert!(text.contains("union granu: member addr_info (granularity = 2, needs argsz >= 56)"));
        assert!(
            text.contains("      48     8  granu.addr_info.nb_granules   0x4 (4)"),
            "{text}"
        );
        assert!(text.contains("      10     6  padding                       00 00 00 00 00 00"));
        assert!(!text.ends_with('\n'));
    }

    #[test]
    fn rejected_verdict_has_errno_rule_and_read_count_but_no_fields() {
        let mut user = parse_hex(ADDR_INV).unwrap();
        user[0] = 40;
        let v = explain(cache_inv(), None, None, &user);
        assert_eq!(v.error().map(UapiError::errno), Some(Errno::EINVAL));
        assert_eq!((v.argsz, v.bytes_read, v.exit_code()), (Some(40), 16, 1));
        assert_eq!(v.fields().count(), 0);
        let json = v.to_json();
        assert_eq!(json["errno"], 22);
        assert_eq!(json["errno_name"], "EINVAL");
        assert_eq!(json["fields"], json!({}));
        let text = v.to_string();
        assert!(text.starts_with(
            "iommu_cache_invalidate_info under linux-5.10, kernel 7.3: REJECTED with EINVAL (22)\n  rule:   VariantTruncated: "
        ), "{text}");
        assert!(text.contains("  kernel: iommu.c iommu_uapi_cache_invalidate"));
        assert!(text.contains("argsz 40, read 16 of 56 bytes given"));
    }

    #[test]
    fn argsz_is_null_below_four_readable_bytes_and_the_size_for_records() {
        let v = explain(cache_inv(), None, None, &[0x38, 0]);
        assert_eq!(v.error().map(UapiError::errno), Some(Errno::EFAULT));
        assert_eq!(v.argsz, None);
        assert_eq!(v.to_json()["argsz"], Value::Null);
        assert!(v
            .to_string()
            .contains("argsz unreadable, read 2 of 2 bytes given"));
        let record = lookup_struct("iommu_hwpt_page_response").unwrap();
        let v = explain(record, None, None, &[0; 4]);
        assert_eq!(v.error().map(UapiError::errno), Some(Errno::EFAULT));
        assert_eq!(v.argsz, Some(8));
        let v = explain(record, None, None, &[0; 8]);
        assert_eq!((v.argsz, v.bytes_read), (Some(8), 8));
    }

    #[test]
    fn policy_override_and_inert_vendor_are_noted() {
        let mut user = parse_hex(ADDR_INV).unwrap();
        user.extend([0, 0, 0, 0, 0, 0, 0, 1]);
        user[0] = 64;
        let v = explain(cache_inv(), None, None, &user);
        assert!(v.is_accepted());
        assert!(v
            .to_string()
            .contains("note: 8 of the 64 bytes given were never read"));
        let v = explain(cache_inv(), Some(Policy::ZeroTail), None, &user);
        assert_eq!(v.error().map(UapiError::errno), Some(Errno::E2BIG));
        assert!(v.to_string().contains(
            "note: the kernel applies linux-5.10 to this struct; --policy chose zero-tail"
        ));
        let hwpt = lookup_struct("iommu_hwpt_alloc").unwrap();
        let mut alloc = vec![0u8; 48];
        alloc[0] = 48;
        let v = explain(hwpt, None, Some(Vendor::Vtd), &alloc);
        assert!(v.is_accepted() && !v.vendor_applies());
        assert!(v
            .to_string()
            .contains("vtd has no rules for iommu_hwpt_alloc"));
        assert_eq!(v.to_json()["vendor"], "vtd");
    }

    #[test]
    fn set_extension_flags_are_shown() {
        let attach = lookup_struct("vfio_device_attach_iommufd_pt").unwrap();
        let user = parse_hex("10000000 01000000 07000000 05000000").unwrap();
        let v = explain(attach, None, None, &user);
        assert_eq!(v.policy, Policy::FlagsXend);
        assert!(v
            .to_string()
            .contains("flag VFIO_DEVICE_ATTACH_PASID set: the kernel reads up to byte 16"));
        assert_eq!(v.to_json()["fields"]["pasid"], 5);
    }

    #[test]
    fn batch_line_explains_or_reports_the_bad_request() {
        let ok = explain_line(&format!(
            r#"{{"struct": "iommu_cache_invalidate_info", "hex": "{ADDR_INV}"}}"#
        ));
        assert_eq!(
            (ok["ok"].clone(), ok["policy"].clone()),
            (json!(true), json!("linux-5.10"))
        );

        let bad_struct = explain_line(r#"{"struct": "nope", "hex": "00"}"#);
        assert_eq!(bad_struct["struct"], "nope");
        assert_eq!(bad_struct["ok"], false);
        assert_eq!(bad_struct["errno"], Value::Null);
        assert!(bad_struct["error"]
            .as_str()
            .unwrap()
            .starts_with("unknown struct `nope`"));

        let bad_policy =
            explain_line(r#"{"struct": "iommu_hwpt_alloc", "policy": "v5", "hex": ""}"#);
        assert_eq!(bad_policy["policy"], "v5");
        assert!(bad_policy["error"]
            .as_str()
            .unwrap()
            .starts_with("unknown policy `v5`"));

        let bad_hex = explain_line(r#"{"struct": "iommu_hwpt_alloc", "hex": "123"}"#);
        assert_eq!(bad_hex["policy"], "zero-tail");
        assert!(bad_hex["error"]
            .as_str()
            .unwrap()
            .contains("odd number of hex digits"));

        let mistyped = explain_line(r#"{"struct": "iommu_hwpt_alloc", "policy": 5, "hex": ""}"#);
        assert_eq!(mistyped["policy"], Value::Null);
        assert!(mistyped["error"]
            .as_str()
            .unwrap()
            .starts_with("`policy` must be a string"));

        let not_json = explain_line("{not json");
        assert_eq!(not_json["struct"], Value::Null);
        assert!(not_json["error"]
            .as_str()
            .unwrap()
            .starts_with("bad JSON: "));

        for (line, want) in [
            (r#"[1, 2]"#, "a batch line must be a JSON object"),
            (r#"{"hex": "00"}"#, "missing `struct`"),
            (r#"{"struct": "iommu_hwpt_alloc"}"#, "missing `hex`"),
            (r#"{"struct": 5, "hex": ""}"#, "`struct` must be a string"),
            (
                r#"{"struct": "iommu_hwpt_alloc", "hex": "", "polcy": "x"}"#,
                "unknown key `polcy`",
            ),
            (
                r#"{"struct": "iommu_hwpt_alloc", "vendor": "amd", "hex": ""}"#,
                "unknown vendor",
            ),
        ] {
            let r = explain_line(line);
            assert_eq!(r["ok"], false, "{line}");
            let error = r["error"].as_str().unwrap();
            assert!(error.starts_with(want), "{line}: {error}");
        }
    }

    #[test]
    fn batch_writes_one_line_per_request_in_order_and_skips_blank_lines() {
        let input = format!(
            "{{\"struct\": \"iommu_cache_invalidate_info\", \"hex\": \"{ADDR_INV}\"}}\n\
             \n   \r\n\
             {{\"struct\": \"iommu_cache_invalidate_info\", \"hex\": \"28000000 01000000 0102 000000000000\"}}\r\n\
             oops\n\
             {{\"struct\": \"iommu_hwpt_alloc\", \"vendor\": null, \"policy\": null, \"hex\": \"18000000\"}}"
        );
        let mut out = Vec::new();
        let summary = run_batch(input.as_bytes(), &mut out).unwrap();
        assert_eq!(
            summary,
            BatchSummary {
                accepted: 1,
                rejected: 2,
                malformed: 1
            }
        );
        let results: Vec<Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(results.len(), 4);
        assert_eq!(results[0]["ok"], true);
        assert_eq!(results[1]["errno_name"], "EINVAL");
        assert!(results[2]["error"]
            .as_str()
            .unwrap()
            .starts_with("line 5: bad JSON"));
        assert_eq!(results[3]["errno_name"], "EFAULT");
        assert_eq!(results[3]["struct"], "iommu_hwpt_alloc");
    }

    #[test]
    fn batch_reports_non_utf8_lines() {
        let mut out = Vec::new();
        let summary = run_batch(&b"\xff\xfe\n"[..], &mut out).unwrap();
        assert_eq!(summary.malformed, 1);
        let r: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(r["error"], "line 1: the line is not UTF-8");
    }

    #[test]
    fn kernel_release_selects_the_rules_and_strictness_is_a_note() {
        let hwpt = lookup_struct("iommu_hwpt_alloc").unwrap();
        // FAULT_ID_VALID | NEST_PARENT, 48 bytes: 6.12 accepts, 6.15 on refuse.
        let user = parse_hex(
            "30000000 05000000 01000000 02000000 00000000 00000000 \
             00000000 00000000 0000000000000000 03000000 00000000",
        )
        .unwrap();
        let at = |r: &str| explain_at(hwpt, None, None, parse_kernel(r).unwrap(), &user);
        assert!(at("6.12.0-1-amd64").is_accepted());
        let v = at("6.15");
        assert_eq!(v.error().map(UapiError::errno), Some(Errno::EOPNOTSUPP));
        assert_eq!(v.to_json()["kernel"], "6.15");
        assert!(v
            .to_string()
            .starts_with("iommu_hwpt_alloc under zero-tail, kernel 6.15: REJECTED"));
        assert_eq!(at("6.2").error().map(UapiError::errno), Some(Errno::ENOTTY));
        assert!(at("9.0")
            .to_string()
            .contains("kernel 9.0 is newer than vsva models"));
        assert!(matches!(
            parse_kernel("5.4"),
            Err(ExplainError::UnknownKernel { .. })
        ));
        assert!(parse_kernel("six")
            .unwrap_err()
            .to_string()
            .contains("or `running`"));

        // The kernel takes a zero tail past a page; vsva-viommu does not: a note.
        let mut big = vec![0u8; 8192];
        big[..4].copy_from_slice(&8192u32.to_ne_bytes());
        let v = explain(hwpt, None, None, &big);
        assert!(v.is_accepted() && v.exit_code() == 0);
        let s = v.strict.expect("the page cap");
        assert_eq!(s.rule.name, "zero-tail-page-cap");
        let json = v.to_json();
        assert_eq!(json["ok"], true);
        assert_eq!(json["vsva_strict"]["rule"], "zero-tail-page-cap");
        assert_eq!(json["vsva_strict"]["errno_name"], "E2BIG");
        assert!(v
            .to_string()
            .contains("note: vsva-viommu also refuses: rule zero-tail-page-cap: E2BIG (7)"));
        // An accepted struct vsva-viommu takes too: no note, `vsva_strict` null.
        let v = explain(hwpt, None, None, &big[..48]);
        assert!(v.strict.is_none() && v.to_json()["vsva_strict"].is_null());
    }

    #[test]
    fn batch_requests_name_their_kernel() {
        let line = |kernel: &str| {
            explain_line(&format!(
                r#"{{"struct": "iommu_hwpt_alloc", "kernel": {kernel}, "hex": "30000000 08000000"}}"#
            ))
        };
        // IOMMU_HWPT_ALLOC_PASID (6.15); 8 of 48 bytes readable: EFAULT once known.
        assert_eq!(line(r#""6.14""#)["errno_name"], "EFAULT");
        assert_eq!(line(r#""6.14""#)["kernel"], "6.14");
        assert_eq!(line("null")["kernel"], Release::NEWEST.to_string());
        let bad = line(r#""4.19""#);
        assert_eq!(
            (bad["ok"].clone(), bad["errno"].clone()),
            (json!(false), Value::Null)
        );
        assert_eq!(bad["kernel"], "4.19");
        assert!(bad["error"]
            .as_str()
            .unwrap()
            .starts_with("unknown kernel `4.19`"));
        let mistyped = line("612");
        assert!(mistyped["error"]
            .as_str()
            .unwrap()
            .starts_with("`kernel` must be a string"));
    }
}
