//! Bulk requests: a fresh vDSO key per request, expanded with SIMD ChaCha20.
//!
//! The vDSO's ChaCha20 is a one-block SSE2 routine (about 5 cycles/byte), tuned for
//! small draws. For a request above [`THRESHOLD`] bytes we draw a fresh 32-byte key from
//! the vDSO for this request only (so it keeps the vDSO's per-call reseed and VM-fork
//! semantics: the key comes from a state the kernel rekeys on every crng reseed), expand
//! it with the `chacha20` crate (AVX2, or AVX-512 when built with
//! `RUSTFLAGS="--cfg chacha20_avx512"`) with nonce 0 and block counter 0, and erase the
//! key. The key is never used for anything else, so the fixed nonce is safe. At most
//! [`KEY_SPAN`] bytes come from one key; a longer request takes a new key per span.

use chacha20::cipher::array::Array;
use chacha20::cipher::consts::U64;
use chacha20::cipher::{KeyIvInit, StreamCipherCore};
use chacha20::variants::Ietf;
use chacha20::{ChaChaCore, Nonce, R20};
use zerocopy::IntoBytes;
use zeroize::Zeroize;

use super::RngError;
use crate::sys::vdso::Vdso;

/// Requests longer than this many bytes take the bulk path: 128, or 96 when the chacha20
/// crate's AVX-512 backend is enabled (`--cfg chacha20_avx512`). Measured on a 2-vCPU
/// Sapphire Rapids guest: the bulk path costs a 32-byte vDSO draw (~73 ns) plus one
/// 4-block ChaCha20 group (~185 ns with AVX2, ~105 ns with AVX-512) for any request up
/// to 256 bytes, while the vDSO alone costs ~135 ns at 64 bytes, ~215 ns at 96 and
/// ~265–310 ns at 128 (see `benches/rng.rs`).
// `chacha20_avx512` is the chacha20 crate's opt-in, set by the repository's .cargo/config.toml.
pub(crate) const THRESHOLD: usize = if cfg!(chacha20_avx512) { 96 } else { 128 };

/// Bytes generated from one key at most (1 MiB), then a new key is drawn.
pub(crate) const KEY_SPAN: usize = 1 << 20;

type Block = Array<u8, U64>;

/// Fills `buf` (any length) with ChaCha20 keyed by fresh vDSO keys.
pub(crate) fn fill(vdso: &'static Vdso, buf: &mut [u8]) -> Result<(), RngError> {
    for span in buf.chunks_mut(KEY_SPAN) {
        let mut key = [0u8; 32];
        let got = super::vdso::fill_small(vdso, &mut key);
        if got.is_ok() {
            expand(&key, span);
        }
        key.zeroize();
        got?;
    }
    Ok(())
}

/// Bytes the chacha20 crate generates efficiently in one go: 4 blocks. Fewer blocks cost
/// about as much (a lone block: 110 ns with AVX2, 320 ns with AVX-512 on the benchmark
/// machine, against 90–145 ns for four), so output is generated in such groups.
pub(crate) const GROUP: usize = 4 * 64;

/// Writes the ChaCha20 (RFC 8439) keystream of `key`, nonce 0, block counter 0 into
/// `out`. Whole groups of 4 blocks go straight into `out`; the rest comes from one more
/// group generated on the stack, which is erased after the copy. The cipher state is
/// zeroized when it drops.
pub(crate) fn expand(key: &[u8; 32], out: &mut [u8]) {
    let mut core = ChaChaCore::<R20, Ietf>::new(key.into(), &Nonce::default());
    let whole = out.len() / GROUP * GROUP;
    let (direct, tail) = out.split_at_mut(whole);
    core.write_keystream_blocks(Block::slice_as_chunks_mut(direct).0);
    if !tail.is_empty() {
        let mut group = [0u64; GROUP / 8];
        core.write_keystream_blocks(Block::slice_as_chunks_mut(group.as_mut_bytes()).0);
        let n = tail.len();
        tail.copy_from_slice(&group.as_bytes()[..n]);
        group.zeroize();
    }
}
