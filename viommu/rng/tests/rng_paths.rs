//! Every path fills exactly the bytes asked for, with fresh bytes on every call.

use vsva_rng::{testing, Path, RngError};

const PATHS: [Path; 3] = [Path::Vdso, Path::Fallback, Path::Syscall];
const SIZES: [usize; 10] = [0, 1, 4, 16, 63, 64, 65, 4095, 4096, 65537];

fn paths_here() -> Vec<Path> {
    PATHS
        .into_iter()
        .filter(|&p| {
            let ok = vsva_rng::available(p);
            if !ok {
                let _ = std::io::Write::write_fmt(
                    &mut std::io::stderr(),
                    format_args!("SKIP: path {p:?} is not available on this machine\n"),
                );
            }
            ok
        })
        .collect()
}

/// Fills `len` bytes in the middle of a sentinel-filled buffer; returns the filled part.
fn fill_exact(path: Option<Path>, len: usize) -> Vec<u8> {
    const GUARD: usize = 80;
    let mut buf = vec![0xa5u8; len + 2 * GUARD];
    let target = &mut buf[GUARD..GUARD + len];
    match path {
        Some(p) => vsva_rng::fill_with(p, target).expect("fill_with"),
        None => vsva_rng::fill(target).expect("fill"),
    }
    assert!(
        buf[..GUARD].iter().all(|&b| b == 0xa5),
        "{path:?} {len}: wrote before the buffer"
    );
    assert!(
        buf[GUARD + len..].iter().all(|&b| b == 0xa5),
        "{path:?} {len}: wrote past the buffer"
    );
    buf[GUARD..GUARD + len].to_vec()
}

#[test]
fn exact_length_and_fresh_output_on_every_path() {
    let mut paths: Vec<Option<Path>> = paths_here().into_iter().map(Some).collect();
    paths.push(None);
    for path in paths {
        for len in SIZES {
            let a = fill_exact(path, len);
            let b = fill_exact(path, len);
            assert_eq!(a.len(), len);
            if len >= 16 {
                assert_ne!(a, b, "{path:?} {len}: two calls returned the same bytes");
                // Not left as the sentinel, not zero: 16 equal bytes in a row would be a bug.
                for w in a.windows(16) {
                    assert!(
                        w.iter().any(|&x| x != w[0]),
                        "{path:?} {len}: constant run {w:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn bulk_sizes_differ_across_calls_and_have_no_repeated_blocks() {
    if !vsva_rng::available(Path::Vdso) {
        let _ = std::io::Write::write_fmt(
            &mut std::io::stderr(),
            format_args!("SKIP: {}\n", testing::vdso_absent_reason()),
        );
        return;
    }
    // Around and above the threshold, and across the per-key span.
    let t = vsva_rng::BULK_THRESHOLD;
    for len in [t, t + 1, 4095, 65537, testing::BULK_KEY_SPAN + 65] {
        let a = fill_exact(Some(Path::Vdso), len);
        let b = fill_exact(Some(Path::Vdso), len);
        assert_ne!(a[..len.min(64)], b[..len.min(64)], "{len}: same prefix");
        let mut blocks: Vec<&[u8]> = a.chunks_exact(16).chain(b.chunks_exact(16)).collect();
        let n = blocks.len();
        blocks.sort_unstable();
        blocks.dedup();
        assert_eq!(blocks.len(), n, "{len}: a 16-byte block repeated");
    }
}

#[test]
fn bulk_expansion_is_rfc8439_chacha20() {
    // RFC 8439 §2.4.2 uses counter 1; its keystream from counter 0 for key 00..1f and
    // nonce 00:00:00:09:00:00:00:4a:00:00:00:00 is not ours. Use §A.1 test vector #1:
    // all-zero key and nonce, counter 0.
    let mut out = [0u8; 64];
    testing::bulk_expand(&[0u8; 32], &mut out);
    let expect: [u8; 64] = [
        0x76, 0xb8, 0xe0, 0xad, 0xa0, 0xf1, 0x3d, 0x90, 0x40, 0x5d, 0x6a, 0xe5, 0x53, 0x86, 0xbd,
        0x28, 0xbd, 0xd2, 0x19, 0xb8, 0xa0, 0x8d, 0xed, 0x1a, 0xa8, 0x36, 0xef, 0xcc, 0x8b, 0x77,
        0x0d, 0xc7, 0xda, 0x41, 0x59, 0x7c, 0x51, 0x57, 0x48, 0x8d, 0x77, 0x24, 0xe0, 0x3f, 0xb8,
        0xd8, 0x4a, 0x37, 0x6a, 0x43, 0xb8, 0xf4, 0x15, 0x18, 0xa1, 0x1c, 0xc3, 0x87, 0xb6, 0x69,
        0xb2, 0xee, 0x65, 0x86,
    ];
    assert_eq!(out, expect);
    // Odd lengths are a prefix of the same stream.
    for len in [1, 63, 65, 200] {
        let mut long = vec![0u8; 256];
        testing::bulk_expand(&[7u8; 32], &mut long);
        let mut short = vec![0u8; len];
        testing::bulk_expand(&[7u8; 32], &mut short);
        assert_eq!(short[..], long[..len]);
    }
}

#[test]
fn helpers_and_errors() {
    let a: Vec<u32> = (0..64).map(|_| vsva_rng::u32().expect("u32")).collect();
    assert!(a.iter().any(|&x| x != a[0]));
    let b: Vec<u64> = (0..64).map(|_| vsva_rng::u64().expect("u64")).collect();
    assert!(b.iter().any(|&x| x != b[0]));
    assert!(vsva_rng::available(Path::Syscall));
    assert!(vsva_rng::available(vsva_rng::best_path()));
    if !vsva_rng::available(Path::Vdso) {
        assert_eq!(
            vsva_rng::fill_with(Path::Vdso, &mut [0u8; 4]),
            Err(RngError::Unavailable(Path::Vdso))
        );
    }
    assert_eq!(
        RngError::Unavailable(Path::Vdso).to_string(),
        "random source Vdso is not available on this system"
    );
    assert_eq!(
        RngError::Os { errno: 38 }.to_string(),
        "getrandom(2) failed with errno 38"
    );
    // Empty buffers never fail and never touch anything.
    for p in PATHS {
        if vsva_rng::available(p) {
            vsva_rng::fill_with(p, &mut []).expect("empty");
        }
    }
}
