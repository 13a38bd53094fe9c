//! The kernel's vDSO `getrandom` (Linux 6.11+): lookup, call, state memory.
//!
//! - **Lookup.** `getauxval(3)` `AT_SYSINFO_EHDR` gives the vDSO's ELF image. The
//!   image is read as one bounded byte slice and parsed with zerocopy: the load bias of
//!   the first `PT_LOAD`, `PT_DYNAMIC`, then `DT_SYMTAB` / `DT_STRTAB` / `DT_STRSZ` /
//!   `DT_HASH` or `DT_GNU_HASH` / `DT_VERSYM` / `DT_VERDEF`, and the symbol must be a
//!   defined global or weak `STT_FUNC` whose version is the arch's vDSO version
//!   (`LINUX_2.6` on x86_64), as in the kernel's CC0 `parse_vdso.c`. Every offset is
//!   checked against the image length, so a malformed image yields `None`, never an
//!   out-of-bounds read ([`find_symbol`] is safe code and is fuzzed by the tests).
//! - **Query.** `(NULL, 0, 0, &params, ~0UL)` returns the opaque state size and the
//!   `mmap` protection and flags the kernel wants (x86_64 6.18: 144, RW,
//!   `MAP_ANONYMOUS | MAP_DROPPABLE`).
//! - **States** are carved from mappings made with exactly those prot/flags, with a
//!   stride of `round_up(size, 64)` and never across a page. Ownership of each state is
//!   a [`ClaimTable`] word (compare-and-swap with the owner's thread token), so no state
//!   can be handed to two threads, and the claim table's atfork handler frees the
//!   states of threads that do not exist in a forked child.
//! - **Per-thread slot.** One thread-local word holds the thread's state pointer plus
//!   a busy bit; a draw takes the state out (busy), a signal handler that re-enters
//!   sees the bit and must use the system call.

use std::ffi::{c_uint, c_void};
use std::ptr::NonNull;
use std::sync::atomic::{compiler_fence, AtomicUsize, Ordering};
use std::sync::OnceLock;

use zerocopy::{FromBytes, Immutable, KnownLayout};

use super::claims::ClaimTable;
use super::mem::{round_up, Mapping};
use super::thread::{self, SignalsBlocked};

/// `ssize_t getrandom(void *buf, size_t len, unsigned flags, void *state, size_t state_len)`:
/// returns the byte count or a raw negative errno (never -1 with errno).
type GetrandomFn = unsafe extern "C" fn(*mut c_void, usize, c_uint, *mut c_void, usize) -> isize;

/// The symbol name and version node of the vDSO getrandom on this architecture.
#[cfg(target_arch = "x86_64")]
pub(crate) const SYMBOL: Option<(&str, &str)> = Some(("__vdso_getrandom", "LINUX_2.6"));
/// The symbol name and version node of the vDSO getrandom on this architecture.
#[cfg(target_arch = "aarch64")]
pub(crate) const SYMBOL: Option<(&str, &str)> = Some(("__kernel_getrandom", "LINUX_2.6.39"));
/// The symbol name and version node of the vDSO getrandom on this architecture.
#[cfg(target_arch = "loongarch64")]
pub(crate) const SYMBOL: Option<(&str, &str)> = Some(("__vdso_getrandom", "LINUX_5.10"));
/// No vDSO getrandom known for this architecture.
#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "loongarch64"
)))]
pub(crate) const SYMBOL: Option<(&str, &str)> = None;

// ---------------------------------------------------------------------------------------
// ELF64 structures (native endianness) and the bounded parser
// ---------------------------------------------------------------------------------------

#[derive(FromBytes, KnownLayout, Immutable)]
#[repr(C)]
struct Ehdr {
    e_ident: [u8; 16],
    e_type: u16,
    e_machine: u16,
    e_version: u32,
    e_entry: u64,
    e_phoff: u64,
    e_shoff: u64,
    e_flags: u32,
    e_ehsize: u16,
    e_phentsize: u16,
    e_phnum: u16,
    e_shentsize: u16,
    e_shnum: u16,
    e_shstrndx: u16,
}

#[derive(FromBytes, KnownLayout, Immutable)]
#[repr(C)]
struct Phdr {
    p_type: u32,
    p_flags: u32,
    p_offset: u64,
    p_vaddr: u64,
    p_paddr: u64,
    p_filesz: u64,
    p_memsz: u64,
    p_align: u64,
}

#[derive(FromBytes, KnownLayout, Immutable)]
#[repr(C)]
struct Dyn {
    d_tag: i64,
    d_val: u64,
}

#[derive(FromBytes, KnownLayout, Immutable)]
#[repr(C)]
struct Sym {
    st_name: u32,
    st_info: u8,
    st_other: u8,
    st_shndx: u16,
    st_value: u64,
    st_size: u64,
}

#[derive(FromBytes, KnownLayout, Immutable)]
#[repr(C)]
struct Verdef {
    vd_version: u16,
    vd_flags: u16,
    vd_ndx: u16,
    vd_cnt: u16,
    vd_hash: u32,
    vd_aux: u32,
    vd_next: u32,
}

#[derive(FromBytes, KnownLayout, Immutable)]
#[repr(C)]
struct Verdaux {
    vda_name: u32,
    vda_next: u32,
}

const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const PF_X: u32 = 1;
const DT_NULL: i64 = 0;
const DT_HASH: i64 = 4;
const DT_STRTAB: i64 = 5;
const DT_SYMTAB: i64 = 6;
const DT_STRSZ: i64 = 10;
const DT_GNU_HASH: i64 = 0x6fff_fef5;
const DT_VERSYM: i64 = 0x6fff_fff0;
const DT_VERDEF: i64 = 0x6fff_fffc;
const STT_FUNC: u8 = 2;
const STB_GLOBAL: u8 = 1;
const STB_WEAK: u8 = 2;
const SHN_UNDEF: u16 = 0;
const VER_FLG_BASE: u16 = 1;
/// Upper bound on chain walks and verdef lists (a loop in a corrupt image ends here).
const MAX_STEPS: usize = 1 << 16;

/// Reads a `T` at byte offset `off` of `image`, or `None` if it does not fit.
fn read<T: FromBytes>(image: &[u8], off: u64) -> Option<T> {
    let off = usize::try_from(off).ok()?;
    T::read_from_prefix(image.get(off..)?).ok().map(|(t, _)| t)
}

/// The NUL-terminated string at `off`, bounded by the image.
fn cstr(image: &[u8], off: u64) -> Option<&[u8]> {
    let rest = image.get(usize::try_from(off).ok()?..)?;
    let end = rest.iter().position(|&b| b == 0)?;
    rest.get(..end)
}

/// The SysV ELF hash of a symbol or version name.
fn elf_hash(name: &[u8]) -> u32 {
    let mut h: u32 = 0;
    for &c in name {
        h = (h << 4).wrapping_add(u32::from(c));
        let g = h & 0xf000_0000;
        if g != 0 {
            h ^= g >> 24;
        }
        h &= !g;
    }
    h
}

/// The GNU hash (djb2) of a symbol name.
fn gnu_hash(name: &[u8]) -> u32 {
    name.iter().fold(5381u32, |h, &c| {
        h.wrapping_mul(33).wrapping_add(u32::from(c))
    })
}

/// The tables of the dynamic section, as image offsets.
struct Tables<'a> {
    image: &'a [u8],
    bias: u64,
    symtab: u64,
    strtab: u64,
    strsz: u64,
    hash: Option<u64>,
    gnu_hash: Option<u64>,
    versym: Option<u64>,
    verdef: Option<u64>,
}

impl Tables<'_> {
    fn name_at(&self, st_name: u32) -> Option<&[u8]> {
        if u64::from(st_name) >= self.strsz {
            return None;
        }
        cstr(self.image, self.strtab.checked_add(u64::from(st_name))?)
    }

    fn sym(&self, i: u64) -> Option<Sym> {
        read(self.image, self.symtab.checked_add(i.checked_mul(24)?)?)
    }

    /// Symbol `i` if it is the defined global/weak function `name` at `version`.
    fn matches(&self, i: u64, name: &[u8], version: &[u8]) -> Option<u64> {
        let sym = self.sym(i)?;
        let (kind, bind) = (sym.st_info & 0xf, sym.st_info >> 4);
        if kind != STT_FUNC || !(bind == STB_GLOBAL || bind == STB_WEAK) {
            return None;
        }
        if sym.st_shndx == SHN_UNDEF || self.name_at(sym.st_name)? != name {
            return None;
        }
        if let (Some(versym), Some(verdef)) = (self.versym, self.verdef) {
            let ver: u16 = read(self.image, versym.checked_add(i.checked_mul(2)?)?)?;
            if !self.version_matches(verdef, ver, version) {
                return None;
            }
        }
        Some(sym.st_value)
    }

    fn version_matches(&self, mut def_off: u64, ver: u16, version: &[u8]) -> bool {
        let ver = ver & 0x7fff;
        for _ in 0..MAX_STEPS {
            let Some(def) = read::<Verdef>(self.image, def_off) else {
                return false;
            };
            if def.vd_flags & VER_FLG_BASE == 0 && def.vd_ndx & 0x7fff == ver {
                let aux = def_off
                    .checked_add(u64::from(def.vd_aux))
                    .and_then(|off| read::<Verdaux>(self.image, off));
                return aux.is_some_and(|aux| {
                    def.vd_hash == elf_hash(version) && self.name_at(aux.vda_name) == Some(version)
                });
            }
            if def.vd_next == 0 {
                return false;
            }
            let Some(next) = def_off.checked_add(u64::from(def.vd_next)) else {
                return false;
            };
            def_off = next;
        }
        false
    }

    fn lookup_sysv(&self, hash_off: u64, name: &[u8], version: &[u8]) -> Option<u64> {
        let nbucket: u32 = read(self.image, hash_off)?;
        let nchain: u32 = read(self.image, hash_off.checked_add(4)?)?;
        if nbucket == 0 {
            return None;
        }
        let buckets = hash_off.checked_add(8)?;
        let chains = buckets.checked_add(u64::from(nbucket) * 4)?;
        let mut i: u32 = read(
            self.image,
            buckets.checked_add(u64::from(elf_hash(name) % nbucket) * 4)?,
        )?;
        for _ in 0..MAX_STEPS.min(nchain as usize + 1) {
            if i == 0 || i >= nchain {
                return None;
            }
            if let Some(v) = self.matches(u64::from(i), name, version) {
                return Some(v);
            }
            i = read(self.image, chains.checked_add(u64::from(i) * 4)?)?;
        }
        None
    }

    fn lookup_gnu(&self, off: u64, name: &[u8], version: &[u8]) -> Option<u64> {
        let nbuckets: u32 = read(self.image, off)?;
        let symoffset: u32 = read(self.image, off.checked_add(4)?)?;
        let bloom_size: u32 = read(self.image, off.checked_add(8)?)?;
        let bloom_shift: u32 = read(self.image, off.checked_add(12)?)?;
        if nbuckets == 0 || bloom_size == 0 {
            return None;
        }
        let h = gnu_hash(name);
        let bloom = off.checked_add(16)?;
        let word: u64 = read(
            self.image,
            bloom.checked_add(u64::from((h / 64) % bloom_size) * 8)?,
        )?;
        let mask = (1u64 << (h % 64)) | (1u64 << (h.checked_shr(bloom_shift).unwrap_or(0) % 64));
        if word & mask != mask {
            return None;
        }
        let buckets = bloom.checked_add(u64::from(bloom_size) * 8)?;
        let chains = buckets.checked_add(u64::from(nbuckets) * 4)?;
        let mut i: u32 = read(
            self.image,
            buckets.checked_add(u64::from(h % nbuckets) * 4)?,
        )?;
        if i < symoffset {
            return None;
        }
        for _ in 0..MAX_STEPS {
            let ch: u32 = read(
                self.image,
                chains.checked_add(u64::from(i - symoffset) * 4)?,
            )?;
            if ch | 1 == h | 1 {
                if let Some(v) = self.matches(u64::from(i), name, version) {
                    return Some(v);
                }
            }
            if ch & 1 != 0 {
                return None;
            }
            i = i.checked_add(1)?;
        }
        None
    }
}

/// Finds the defined function `name` with version `version` in the ELF64 image
/// `image` (a vDSO as mapped in memory). Returns the symbol's offset in the image, which
/// is checked to lie inside an executable `PT_LOAD` segment of the image. Pure and
/// bounded: any malformed input gives `None`.
pub(crate) fn find_symbol(image: &[u8], name: &str, version: &str) -> Option<usize> {
    let (name, version) = (name.as_bytes(), version.as_bytes());
    let eh: Ehdr = read(image, 0)?;
    let native_data = if cfg!(target_endian = "little") { 1 } else { 2 };
    if eh.e_ident[..4] != *b"\x7fELF" || eh.e_ident[4] != 2 || eh.e_ident[5] != native_data {
        return None;
    }
    if usize::from(eh.e_phentsize) != size_of::<Phdr>() {
        return None;
    }
    let mut bias = None;
    let mut dynamic = None;
    let mut exec = Vec::new();
    for i in 0..u64::from(eh.e_phnum) {
        let ph: Phdr = read(image, eh.e_phoff.checked_add(i * 56)?)?;
        match ph.p_type {
            PT_LOAD => {
                // Image offset of a virtual address = vaddr + (p_offset - p_vaddr).
                bias.get_or_insert(ph.p_offset.wrapping_sub(ph.p_vaddr));
                if ph.p_flags & PF_X != 0 {
                    exec.push((ph.p_offset, ph.p_offset.checked_add(ph.p_filesz)?));
                }
            }
            PT_DYNAMIC => dynamic = Some((ph.p_offset, ph.p_filesz)),
            _ => {}
        }
    }
    let (bias, (dyn_off, dyn_len)) = (bias?, dynamic?);
    let mut t = Tables {
        image,
        bias,
        symtab: 0,
        strtab: 0,
        strsz: 0,
        hash: None,
        gnu_hash: None,
        versym: None,
        verdef: None,
    };
    let (mut symtab, mut strtab) = (None, None);
    for i in 0..dyn_len / 16 {
        let d: Dyn = read(image, dyn_off.checked_add(i * 16)?)?;
        let at = d.d_val.wrapping_add(t.bias);
        match d.d_tag {
            DT_NULL => break,
            DT_SYMTAB => symtab = Some(at),
            DT_STRTAB => strtab = Some(at),
            DT_STRSZ => t.strsz = d.d_val,
            DT_HASH => t.hash = Some(at),
            DT_GNU_HASH => t.gnu_hash = Some(at),
            DT_VERSYM => t.versym = Some(at),
            DT_VERDEF => t.verdef = Some(at),
            _ => {}
        }
    }
    t.symtab = symtab?;
    t.strtab = strtab?;
    if t.strsz == 0 {
        // No DT_STRSZ: bound the string table by the image.
        t.strsz = (image.len() as u64).checked_sub(t.strtab)?;
    }
    let value = match (t.hash, t.gnu_hash) {
        (_, Some(gnu)) => t.lookup_gnu(gnu, name, version)?,
        (Some(hash), None) => t.lookup_sysv(hash, name, version)?,
        (None, None) => return None,
    };
    let off = value.wrapping_add(t.bias);
    exec.iter()
        .any(|&(start, end)| (start..end).contains(&off))
        .then(|| usize::try_from(off).ok())
        .flatten()
        .filter(|&o| o < image.len())
}

/// The mapped vDSO image: `getauxval(3)` `AT_SYSINFO_EHDR`, bounded by the extent of
/// its `PT_LOAD` segments. `None` if there is no vDSO or the header is not usable.
fn image() -> Option<&'static [u8]> {
    // SAFETY: getauxval(3) reads the process's auxiliary vector; no caller memory.
    let base = unsafe { libc::getauxval(libc::AT_SYSINFO_EHDR) } as usize;
    let page = thread::page_size();
    if base == 0 || !base.is_multiple_of(page) {
        return None;
    }
    // SAFETY: AT_SYSINFO_EHDR is the page-aligned start of the vDSO, which the kernel
    // maps read-only (r-x) for the life of the process, at least one page long, and
    // which nothing in the process writes. The slice covers its first page only.
    let first = unsafe { std::slice::from_raw_parts(base as *const u8, page) };
    let eh: Ehdr = read(first, 0)?;
    let mut len: u64 = 0;
    for i in 0..u64::from(eh.e_phnum) {
        let ph: Phdr = read(first, eh.e_phoff.checked_add(i.checked_mul(56)?)?)?;
        if ph.p_type == PT_LOAD {
            len = len.max(ph.p_offset.checked_add(ph.p_filesz)?);
        }
    }
    // The vDSO is a few pages: a larger extent is not trusted. The first page is
    // mapped whatever the headers say.
    let len = usize::try_from(len)
        .ok()
        .filter(|&l| l <= 16 << 20)?
        .max(page);
    // SAFETY: the kernel maps the whole vDSO image (every PT_LOAD file range, i.e. the
    // first `len` bytes of the ELF file, rounded up to pages) contiguously at `base`,
    // readable and immutable for the life of the process; `len` is that extent.
    Some(unsafe { std::slice::from_raw_parts(base as *const u8, len) })
}

// ---------------------------------------------------------------------------------------
// The function, its parameters, and the global instance
// ---------------------------------------------------------------------------------------

/// `struct vgetrandom_opaque_params` from `include/uapi/linux/random.h` (64 bytes).
#[repr(C)]
#[derive(Default)]
struct OpaqueParams {
    size_of_opaque_state: u32,
    mmap_prot: u32,
    mmap_flags: u32,
    reserved: [u32; 13],
}

/// What the kernel's query call returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Params {
    /// Bytes of one opaque state (144 on x86_64 6.11–6.18).
    pub(crate) size: usize,
    /// `mmap` protection for state memory.
    pub(crate) prot: i32,
    /// `mmap` flags for state memory (`MAP_ANONYMOUS | MAP_DROPPABLE`).
    pub(crate) flags: i32,
    /// Distance between states: `round_up(size, 64)`.
    pub(crate) stride: usize,
}

/// The vDSO getrandom of this process.
pub(crate) struct Vdso {
    func: GetrandomFn,
    params: Params,
    symbol_addr: usize,
    image: &'static [u8],
    page: usize,
    per_page: usize,
    first_block: usize,
}

static VDSO: OnceLock<Option<Vdso>> = OnceLock::new();

/// The vDSO getrandom, looked up and queried on first use (with signals blocked, so a
/// signal handler can never find the one-time set-up half done on its own thread).
/// `None` if the kernel has none, or it failed the query.
#[inline]
pub(crate) fn get() -> Option<&'static Vdso> {
    if let Some(v) = VDSO.get() {
        return v.as_ref();
    }
    let _blocked = SignalsBlocked::new();
    VDSO.get_or_init(init).as_ref()
}

fn init() -> Option<Vdso> {
    let (name, version) = SYMBOL?;
    let image = image()?;
    let off = find_symbol(image, name, version)?;
    let addr = image.as_ptr() as usize + off;
    // SAFETY: `addr` is the entry of the kernel's `getrandom` vDSO function (a defined
    // STT_FUNC with the arch's version, inside an executable segment of the vDSO, which
    // stays mapped for the process's lifetime). Its C prototype is exactly GetrandomFn.
    let func = unsafe { std::mem::transmute::<usize, GetrandomFn>(addr) };
    let mut p = OpaqueParams::default();
    // SAFETY: the documented query call: NULL buffer, len 0, flags 0, state = a live
    // 64-byte vgetrandom_opaque_params that the function fills in, opaque_len = ~0UL.
    let ret = unsafe {
        func(
            std::ptr::null_mut(),
            0,
            0,
            std::ptr::from_mut(&mut p).cast(),
            usize::MAX,
        )
    };
    if ret != 0 {
        return None;
    }
    let page = thread::page_size();
    let size = p.size_of_opaque_state as usize;
    let stride = round_up(size, 64)?;
    let (prot, flags) = (
        i32::try_from(p.mmap_prot).ok()?,
        i32::try_from(p.mmap_flags).ok()?,
    );
    let rw = libc::PROT_READ | libc::PROT_WRITE;
    if size == 0 || stride > page || prot & rw != rw || flags & libc::MAP_ANONYMOUS == 0 {
        return None;
    }
    let per_page = page / stride;
    // First block: enough states for every CPU, in whole pages.
    let pages = thread::online_cpus().div_ceil(per_page);
    Some(Vdso {
        func,
        params: Params {
            size,
            prot,
            flags,
            stride,
        },
        symbol_addr: addr,
        image,
        page,
        per_page,
        first_block: pages * per_page,
    })
}

// ---------------------------------------------------------------------------------------
// State blocks: memory with the kernel's prot/flags, ownership in claim tables
// ---------------------------------------------------------------------------------------

/// Block `k` holds `first_block << k` states; this many blocks at most.
const MAX_BLOCKS: usize = 20;

struct StateBlock {
    base: usize,
    len: usize,
    count: usize,
    claims: ClaimTable,
}

static BLOCKS: [OnceLock<Option<StateBlock>>; MAX_BLOCKS] = [const { OnceLock::new() }; MAX_BLOCKS];

/// A vDSO state owned by the calling thread (its claim word holds the thread's token).
/// Not `Clone`: a state is used by one owner at a time.
pub(crate) struct VdsoState {
    ptr: NonNull<u8>,
}

impl VdsoState {
    /// Address of the state's first byte.
    pub(crate) fn addr(&self) -> usize {
        self.ptr.as_ptr() as usize
    }
}

impl Vdso {
    /// The query results.
    pub(crate) fn params(&self) -> Params {
        self.params
    }

    /// Address of the resolved function.
    pub(crate) fn symbol_addr(&self) -> usize {
        self.symbol_addr
    }

    /// The vDSO image the symbol was found in.
    pub(crate) fn image(&self) -> &'static [u8] {
        self.image
    }

    fn block(&self, k: usize) -> Option<&'static StateBlock> {
        BLOCKS
            .get(k)?
            .get_or_init(|| {
                let count = self.first_block.checked_shl(u32::try_from(k).ok()?)?;
                let pages = count.div_ceil(self.per_page);
                let m = Mapping::anonymous(
                    pages.checked_mul(self.page)?,
                    self.params.prot,
                    self.params.flags,
                )
                .ok()?;
                let claims = ClaimTable::new(count)?;
                let (base, len) = (m.addr(), m.len());
                m.leak();
                Some(StateBlock {
                    base,
                    len,
                    count,
                    claims,
                })
            })
            .as_ref()
    }

    fn block_start(&self, k: usize) -> usize {
        self.first_block * ((1usize << k) - 1)
    }

    /// Claims a free state for the calling thread, mapping a new block when all are in
    /// use. Call with signals blocked (the first mapping of a block may run `mmap`).
    pub(crate) fn acquire(&self) -> Option<VdsoState> {
        for k in 0..MAX_BLOCKS {
            let b = self.block(k)?;
            if let Some(j) = b.claims.claim_first_free(0..b.count) {
                let off =
                    (j / self.per_page) * self.page + (j % self.per_page) * self.params.stride;
                let ptr = NonNull::new((b.base + off) as *mut u8)?;
                return Some(VdsoState { ptr });
            }
        }
        None
    }

    /// The block and slot of the state at `addr`.
    fn locate(&self, addr: usize) -> Option<(usize, &'static StateBlock, usize)> {
        BLOCKS.iter().enumerate().find_map(|(k, b)| {
            let b = b.get()?.as_ref()?;
            let off = addr.checked_sub(b.base).filter(|&o| o < b.len)?;
            let j = (off / self.page) * self.per_page + (off % self.page) / self.params.stride;
            Some((k, b, j))
        })
    }

    /// Pool-wide index of the state at `addr` (tests).
    pub(crate) fn id_of(&self, addr: usize) -> Option<usize> {
        self.locate(addr).map(|(k, _, j)| self.block_start(k) + j)
    }

    /// Returns `state` to the pool.
    pub(crate) fn release(&self, state: VdsoState) {
        if let Some((_, b, j)) = self.locate(state.addr()) {
            b.claims.release(j);
        }
    }

    /// Number of states currently claimed (tests and statistics).
    pub(crate) fn claimed_count(&self) -> usize {
        BLOCKS
            .iter()
            .filter_map(|b| b.get().and_then(Option::as_ref))
            .map(|b| (0..b.count).filter(|&j| b.claims.is_claimed(j)).count())
            .sum()
    }

    /// One call of the vDSO function into `buf` with `state`. Returns the byte count or
    /// a raw negative errno. An empty `buf` returns 0 without calling.
    #[inline]
    pub(crate) fn getrandom(&self, state: &mut VdsoState, buf: &mut [u8], flags: u32) -> isize {
        if buf.is_empty() {
            return 0;
        }
        // SAFETY: `func` is the kernel's vDSO getrandom (see `init`). `buf` is a live,
        // exclusively borrowed, writable slice of `len` bytes (never NULL: the vDSO does
        // not check it). `state` points to `params.size` bytes inside a mapping made with
        // the kernel's prot/flags, not crossing a page (stride and per-page packing), and
        // it is owned by this thread alone (claim word + `&mut` + the busy bit of the
        // thread slot, so a signal handler cannot use it at the same time).
        unsafe {
            (self.func)(
                buf.as_mut_ptr().cast(),
                buf.len(),
                flags,
                state.ptr.as_ptr().cast(),
                self.params.size,
            )
        }
    }

    /// A copy of the bytes of a state this thread owns (tests: wipe and erasure checks).
    pub(crate) fn snapshot(&self, state: &VdsoState) -> Vec<u8> {
        (0..self.params.size)
            // SAFETY: the state's `size` bytes are in a live mapping (never unmapped) and
            // owned by this thread, so no one writes them during the copy; volatile because
            // the kernel may zap the droppable page at any time (it then reads as zero).
            .map(|i| unsafe { state.ptr.as_ptr().add(i).read_volatile() })
            .collect()
    }
}

// ---------------------------------------------------------------------------------------
// The calling thread's state slot
// ---------------------------------------------------------------------------------------

/// No state yet.
const EMPTY: usize = 0;
/// Low bit: a draw is using the slot (with or without a state).
const BUSY: usize = 1;
/// The thread has run its exit hook: no state, never again.
const EXITED: usize = 2;

thread_local! {
    /// `EMPTY`, `BUSY` (acquiring), `EXITED`, or the state's address (64-aligned) with
    /// the `BUSY` bit set while a draw uses it. An atomic, so a signal handler on this
    /// thread never sees a torn value; it is only ever touched by its own thread.
    static SLOT: AtomicUsize = const { AtomicUsize::new(EMPTY) };
}

/// What [`take_thread_state`] found.
pub(crate) enum Taken {
    /// The thread's state, now marked busy: give it back with [`put_thread_state`].
    State(VdsoState),
    /// No state yet; the slot is now marked busy: [`put_thread_state`] a newly acquired
    /// one or call [`clear_thread_state`].
    Empty,
    /// A draw on this thread is in progress (we are in a signal handler): use the syscall.
    Busy,
    /// The thread is exiting and gave its state back: use the syscall.
    Exited,
}

/// Takes the calling thread's state out of its slot for one draw. Async-signal-safe.
#[inline]
pub(crate) fn take_thread_state() -> Taken {
    SLOT.with(|slot| {
        let w = slot.load(Ordering::Relaxed);
        let taken = match w {
            EXITED => Taken::Exited,
            EMPTY => match slot.compare_exchange(EMPTY, BUSY, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => Taken::Empty,
                Err(_) => Taken::Busy,
            },
            w if w & BUSY != 0 => Taken::Busy,
            w => {
                // A handler running between this load and store completes its own draw
                // with the state and puts it back before we continue: uses are sequential.
                slot.store(w | BUSY, Ordering::Relaxed);
                match NonNull::new(w as *mut u8) {
                    Some(ptr) => Taken::State(VdsoState { ptr }),
                    None => Taken::Busy,
                }
            }
        };
        compiler_fence(Ordering::SeqCst);
        taken
    })
}

/// Puts `state` (back) into the calling thread's slot, clearing the busy bit.
#[inline]
pub(crate) fn put_thread_state(state: VdsoState) {
    compiler_fence(Ordering::SeqCst);
    SLOT.with(|slot| slot.store(state.ptr.as_ptr() as usize, Ordering::Relaxed));
}

/// Marks the slot empty again after [`Taken::Empty`] when no state could be acquired.
pub(crate) fn clear_thread_state() {
    compiler_fence(Ordering::SeqCst);
    SLOT.with(|slot| slot.store(EMPTY, Ordering::Relaxed));
}

/// At thread exit: marks the slot exited and returns the state it held, if any.
pub(crate) fn exit_thread_state() -> Option<VdsoState> {
    SLOT.with(|slot| {
        let w = slot.swap(EXITED, Ordering::Relaxed);
        compiler_fence(Ordering::SeqCst);
        let ptr = NonNull::new(w as *mut u8).filter(|_| w & BUSY == 0 && w != EXITED)?;
        Some(VdsoState { ptr })
    })
}

/// The address of the calling thread's state, if it has one (tests).
pub(crate) fn peek_thread_state() -> Option<usize> {
    let w = SLOT.with(|slot| slot.load(Ordering::Relaxed));
    (w != EMPTY && w != EXITED).then_some(w & !BUSY)
}

// ---------------------------------------------------------------------------------------
// A standalone state (benchmarks and tests): its own mapping, no pool
// ---------------------------------------------------------------------------------------

/// One state in a mapping of its own, for measuring the raw vDSO call and for the
/// negative controls of the tests.
pub(crate) struct OwnedState {
    vdso: &'static Vdso,
    map: Mapping,
    state: VdsoState,
}

impl OwnedState {
    /// Maps two pages and places the state at byte `offset` (a multiple of 8, at most
    /// `2 * page - size`). `kernel_flags`: with the kernel's prot/flags (as the pool
    /// does), or plain `MAP_PRIVATE | MAP_ANONYMOUS` memory (no wipe on fork).
    pub(crate) fn new(vdso: &'static Vdso, kernel_flags: bool, offset: usize) -> Option<Self> {
        let size = vdso.params.size;
        if !offset.is_multiple_of(8) || offset.checked_add(size)? > 2 * vdso.page {
            return None;
        }
        let (prot, flags) = match kernel_flags {
            true => (vdso.params.prot, vdso.params.flags),
            false => (
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            ),
        };
        let map = Mapping::anonymous(2 * vdso.page, prot, flags).ok()?;
        let ptr = NonNull::new((map.addr() + offset) as *mut u8)?;
        Some(OwnedState {
            vdso,
            map,
            state: VdsoState { ptr },
        })
    }

    /// One raw call into `buf`: the byte count or a negative errno.
    pub(crate) fn getrandom(&mut self, buf: &mut [u8], flags: u32) -> isize {
        // `self.map` keeps the memory alive; `&mut self` makes this the only user.
        let _ = self.map.len();
        self.vdso.getrandom(&mut self.state, buf, flags)
    }

    /// A copy of the state's bytes.
    pub(crate) fn snapshot(&self) -> Vec<u8> {
        self.vdso.snapshot(&self.state)
    }

    /// Address of the state.
    pub(crate) fn addr(&self) -> usize {
        self.state.addr()
    }
}
