//! Hardware formats: the registers and in-memory structures of IOMMUs, declared once as
//! bit fields, with decode and encode derived from the declaration.
//!
//! A structure is a little-endian array of 64-bit words (`QW0` holds bits 63:0, `QW1`
//! bits 127:64, …), as the specifications number them. Each is declared with the
//! `hw_struct!` macro of this module: one line per field (word, lowest bit, width). The
//! declaration yields
//!
//! - a Rust struct with one typed member per field (`bool` for one bit);
//! - `decode` (words → struct, every undeclared bit dropped) and `encode` (struct →
//!   words), so `encode(decode(w)) == w & !RESERVED`;
//! - `RESERVED`, the mask of every bit no field declares (what the specification calls
//!   reserved), and `reserved_bits` to test a raw value against it;
//! - `LAYOUT`, a [`HwLayout`] that names every field: what `vsva explain`, the
//!   documentation and the layout tests read.
//!
//! A declaration with a `flags` clause also yields a [`bitflags`](mod@bitflags) type for
//! its one-bit fields (single-word registers such as `CAP_REG`), so a caller can write
//! `CapFlags::CM` or `Cap::decode_raw(v).cm`, whichever reads better.
//!
//! The module is `no_std` and allocation-free, like the rest of the crate; a decode never
//! fails (every bit pattern decodes) and never panics.
//!
//! - [`vtd`]: Intel VT-d (registers, root / context / PASID entries, invalidation and
//!   page-request descriptors).
//! - [`smmuv3`]: Arm SMMUv3 (the ID registers `IDR0`, `IDR1`, `IDR5`).

/// One named bit field of a hardware structure: bits `lo .. lo + width` of word `word`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BitField {
    /// The field's name as the specification spells it (lowercase).
    pub name: &'static str,
    /// The 64-bit word that holds the field (`QW<word>`).
    pub word: u8,
    /// The lowest bit of the field within its word.
    pub lo: u8,
    /// The field's width in bits (1..=64).
    pub width: u8,
    /// An address field: its value is the word masked in place (the low bits below `lo`
    /// are implied zero), not shifted down.
    pub addr: bool,
    /// What the field means.
    pub doc: &'static str,
}

impl BitField {
    /// The field's bits within its word.
    pub const fn mask(&self) -> u64 {
        if self.width >= 64 {
            u64::MAX
        } else {
            ((1u64 << self.width) - 1) << self.lo
        }
    }

    /// The field's lowest bit in the whole structure (`64 × word + lo`).
    pub const fn first_bit(&self) -> u16 {
        self.word as u16 * 64 + self.lo as u16
    }

    /// The field's highest bit in the whole structure.
    pub const fn last_bit(&self) -> u16 {
        self.first_bit() + self.width as u16 - 1
    }

    /// The field's value in `words` (0 when the word is missing): shifted down to bit 0,
    /// or masked in place for an address field.
    pub const fn read(&self, words: &[u64]) -> u64 {
        let w = self.word as usize;
        if w >= words.len() {
            return 0;
        }
        let v = words[w] & self.mask();
        if self.addr {
            v
        } else {
            v >> self.lo
        }
    }

    /// `value` placed in the field's bits (truncated to the field's width; an address
    /// field keeps only its own bits of `value`).
    pub const fn place(&self, value: u64) -> u64 {
        if self.addr {
            value & self.mask()
        } else if self.width >= 64 {
            value
        } else {
            (value << self.lo) & self.mask()
        }
    }

    /// `[hi:lo]` in the structure's bit numbering, e.g. `127:76` (one bit: `66`).
    pub fn bit_range(&self) -> BitRange {
        BitRange {
            hi: self.last_bit(),
            lo: self.first_bit(),
        }
    }
}

/// A bit range of a structure, printed as the specifications do (`127:76`, or `66`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BitRange {
    /// The highest bit.
    pub hi: u16,
    /// The lowest bit.
    pub lo: u16,
}

impl core::fmt::Display for BitRange {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.hi == self.lo {
            write!(f, "{}", self.lo)
        } else {
            write!(f, "{}:{}", self.hi, self.lo)
        }
    }
}

/// The declaration of one hardware structure: its name, size and fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HwLayout {
    /// The name `vsva explain --struct` takes (e.g. `vtd_pasid_entry`), or the register's
    /// name (`CAP_REG`).
    pub name: &'static str,
    /// Its size in 64-bit words.
    pub words: usize,
    /// Every field, in declaration order.
    pub fields: &'static [BitField],
    /// What it is.
    pub doc: &'static str,
}

impl HwLayout {
    /// Its size in bytes.
    pub const fn size(&self) -> usize {
        self.words * 8
    }

    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<&'static BitField> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// The mask of the bits of word `word` that no field of `fields` declares.
pub const fn reserved_mask(fields: &[BitField], word: usize) -> u64 {
    let mut used = 0u64;
    let mut i = 0;
    while i < fields.len() {
        if fields[i].word as usize == word {
            used |= fields[i].mask();
        }
        i += 1;
    }
    !used
}

/// Whether the fields of a declaration are well formed: each inside its word and inside
/// the structure, none overlapping another. Evaluated at compile time for every
/// declaration (a bad one does not build).
pub const fn fields_are_disjoint(fields: &[BitField], words: usize) -> bool {
    let mut i = 0;
    while i < fields.len() {
        let f = &fields[i];
        if f.width == 0 || f.lo as u16 + f.width as u16 > 64 || f.word as usize >= words {
            return false;
        }
        let mut j = i + 1;
        while j < fields.len() {
            let g = &fields[j];
            if g.word == f.word && g.mask() & f.mask() != 0 {
                return false;
            }
            j += 1;
        }
        i += 1;
    }
    true
}

/// Reads `N` little-endian 64-bit words from `bytes` (`None` unless it holds exactly
/// `8 × N` bytes).
pub fn words_from_le_bytes<const N: usize>(bytes: &[u8]) -> Option<[u64; N]> {
    if bytes.len() != N * 8 {
        return None;
    }
    let mut out = [0u64; N];
    for (w, chunk) in out.iter_mut().zip(bytes.chunks_exact(8)) {
        let mut b = [0u8; 8];
        b.copy_from_slice(chunk);
        *w = u64::from_le_bytes(b);
    }
    Some(out)
}

/// Writes `words` little-endian into `out` (`false`, writing nothing, unless `out` holds
/// exactly `8 × words.len()` bytes).
pub fn words_to_le_bytes(words: &[u64], out: &mut [u8]) -> bool {
    if out.len() != words.len() * 8 {
        return false;
    }
    for (w, chunk) in words.iter().zip(out.chunks_exact_mut(8)) {
        chunk.copy_from_slice(&w.to_le_bytes());
    }
    true
}

/// A field value (shifted down, at most the field's width) as the member's type.
macro_rules! hw_from {
    (bool, $v:expr) => {
        $v & 1 == 1
    };
    ($t:ident, $v:expr) => {
        $v as $t
    };
}

/// The widest field a member type holds.
macro_rules! hw_bits {
    (bool) => {
        1
    };
    ($t:ident) => {
        <$t>::BITS
    };
}

/// `1` when a field gives no width (a one-bit field).
macro_rules! hw_width {
    () => {
        1
    };
    ($w:literal) => {
        $w
    };
}

/// `true` for an `addr` field.
macro_rules! hw_is_addr {
    () => {
        false
    };
    (addr) => {
        true
    };
}

/// A [`BitField`] without its documentation.
macro_rules! hw_field {
    ($field:ident, $w:expr, $lo:expr, $width:expr, $addr:expr) => {
        $crate::hw::BitField {
            name: stringify!($field),
            word: $w,
            lo: $lo,
            width: $width,
            addr: $addr,
            doc: "",
        }
    };
}

/// Declares one hardware structure (see the [module documentation](self)).
///
/// ```text
/// hw_struct! {
///     /// doc
///     pub struct Name = "c_name", words N [, flags FlagsName] {
///         /// doc
///         field: type = WORD @ LO [: WIDTH] [, addr] [=> FLAG_CONST];
///     }
/// }
/// ```
macro_rules! hw_struct {
    (
        $(#[doc = $sdoc:literal])*
        pub struct $name:ident = $cname:literal, words $words:literal, flags $flags:ident {
            $(
                $(#[doc = $fdoc:literal])*
                $field:ident : $fty:ident = $fw:literal @ $flo:literal $(: $fwidth:literal)? $(, $kind:ident)? $(=> $flag:ident)? ;
            )*
        }
    ) => {
        hw_struct! {
            $(#[doc = $sdoc])*
            pub struct $name = $cname, words $words {
                $(
                    $(#[doc = $fdoc])*
                    $field : $fty = $fw @ $flo $(: $fwidth)? $(, $kind)? ;
                )*
            }
        }

        bitflags::bitflags! {
            #[doc = concat!("The one-bit fields of `", $cname, "` as flags (see [`", stringify!($name), "`]).")]
            #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
            pub struct $flags: u64 {
                $($(
                    #[doc = concat!("`", stringify!($field), "` (bit ", stringify!($flo), "; see [`", stringify!($name), "::", stringify!($field), "`]).")]
                    const $flag = 1u64 << $flo;
                )?)*
            }
        }

        impl $name {
            /// The one-bit fields of the raw register value that are set.
            pub const fn flags_of(raw: u64) -> $flags {
                $flags::from_bits_truncate(raw)
            }
        }

        // A flag is a bit of the register's one word.
        const _: () = { $($( let _ = stringify!($flag); assert!($fw == 0); )?)* };
    };
    (
        $(#[doc = $sdoc:literal])*
        pub struct $name:ident = $cname:literal, words $words:literal {
            $(
                $(#[doc = $fdoc:literal])*
                $field:ident : $fty:ident = $fw:literal @ $flo:literal $(: $fwidth:literal)? $(, $kind:ident)? ;
            )*
        }
    ) => {
        $(#[doc = $sdoc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
        #[allow(clippy::struct_excessive_bools)]
        pub struct $name {
            $(
                $(#[doc = $fdoc])*
                #[doc = ""]
                #[doc = concat!("`QW", stringify!($fw), "`, from bit ", stringify!($flo) $(, ", ", stringify!($fwidth), " bits")?, ".")]
                pub $field: $fty,
            )*
        }

        impl $name {
            /// The structure's size in 64-bit words.
            pub const WORDS: usize = $words;
            /// The structure's size in bytes.
            pub const SIZE: usize = $words * 8;
            /// Every field, in declaration order.
            pub const FIELDS: &'static [$crate::hw::BitField] = &[
                $(
                    $crate::hw::BitField {
                        doc: concat!($($fdoc, )* ""),
                        ..hw_field!($field, $fw, $flo, hw_width!($($fwidth)?), hw_is_addr!($($kind)?))
                    },
                )*
            ];
            /// The declaration.
            pub const LAYOUT: $crate::hw::HwLayout = $crate::hw::HwLayout {
                name: $cname,
                words: $words,
                fields: Self::FIELDS,
                doc: concat!($($sdoc, )* ""),
            };
            /// The bits no field declares (reserved), per word.
            pub const RESERVED: [u64; $words] = {
                let mut r = [0u64; $words];
                let mut w = 0;
                while w < $words {
                    r[w] = $crate::hw::reserved_mask(Self::FIELDS, w);
                    w += 1;
                }
                r
            };
            /// Compile-time check of the declaration (evaluated below).
            const WELL_FORMED: () = {
                assert!($crate::hw::fields_are_disjoint(Self::FIELDS, $words));
                $(
                    assert!(
                        hw_width!($($fwidth)?) <= hw_bits!($fty)
                            || hw_is_addr!($($kind)?)
                    );
                )*
            };

            /// Decodes the words (every bit pattern decodes; reserved bits are dropped).
            #[allow(clippy::cast_possible_truncation)]
            pub const fn decode(words: &[u64; $words]) -> $name {
                $name {
                    $(
                        $field: hw_from!(
                            $fty,
                            hw_field!($field, $fw, $flo, hw_width!($($fwidth)?), hw_is_addr!($($kind)?)).read(words)
                        ),
                    )*
                }
            }

            /// Encodes the struct (each member truncated to its field's width).
            pub const fn encode(&self) -> [u64; $words] {
                let mut words = [0u64; $words];
                $(
                    let f = hw_field!($field, $fw, $flo, hw_width!($($fwidth)?), hw_is_addr!($($kind)?));
                    words[f.word as usize] |= f.place(self.$field as u64);
                )*
                words
            }

            /// Decodes the structure from its bytes in memory order (little-endian words);
            /// `None` unless `bytes` holds exactly [`Self::SIZE`] bytes.
            pub fn from_le_bytes(bytes: &[u8]) -> Option<$name> {
                $crate::hw::words_from_le_bytes::<$words>(bytes).map(|w| Self::decode(&w))
            }

            /// The structure's bytes in memory order.
            pub fn to_le_bytes(&self) -> [u8; $words * 8] {
                let mut out = [0u8; $words * 8];
                $crate::hw::words_to_le_bytes(&self.encode(), &mut out);
                out
            }

            /// The reserved bits that are set in `words` (all zero for a clean value).
            pub fn reserved_bits(words: &[u64; $words]) -> [u64; $words] {
                let mut r = *words;
                for (v, m) in r.iter_mut().zip(Self::RESERVED.iter()) {
                    *v &= *m;
                }
                r
            }

            /// Whether any reserved bit of `words` is set.
            pub fn has_reserved(words: &[u64; $words]) -> bool {
                words.iter().zip(Self::RESERVED.iter()).any(|(v, m)| v & m != 0)
            }
        }

        const _: () = $name::WELL_FORMED;
    };
}

/// Adds `decode_raw` / `raw` to a one-word [`hw_struct!`] (a register).
macro_rules! hw_register {
    ($($name:ident),* $(,)?) => {$(
        impl $name {
            /// Decodes a raw register value.
            pub const fn decode_raw(raw: u64) -> $name {
                Self::decode(&[raw])
            }

            /// The raw register value.
            pub const fn raw(&self) -> u64 {
                self.encode()[0]
            }
        }
    )*};
}

pub mod smmuv3;
pub mod vtd;
