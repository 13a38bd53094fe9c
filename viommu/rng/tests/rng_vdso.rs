//! The vDSO path: the lookup, the query, the state pool and its memory.
//!
//! On a kernel without the vDSO getrandom (before 6.11) every test prints a `SKIP:`
//! line with the reason instead of passing silently.

use std::sync::{Arc, Barrier};

mod sys;

use proptest::prelude::*;
use vsva_rng::{testing, Path};

fn info_or_skip() -> Option<testing::VdsoInfo> {
    let info = testing::vdso_info();
    if info.is_none() {
        let _ = std::io::Write::write_fmt(
            &mut std::io::stderr(),
            format_args!("SKIP: {}\n", testing::vdso_absent_reason()),
        );
    }
    info
}

fn page_size() -> usize {
    sys::page_size()
}

/// The `VmFlags:` line of the /proc/self/smaps entry containing `addr`.
fn vm_flags(addr: usize) -> Option<Vec<String>> {
    let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
    let mut inside = false;
    for line in smaps.lines() {
        if let Some((range, _)) = line.split_once(' ') {
            if let Some((a, b)) = range.split_once('-') {
                if let (Ok(a), Ok(b)) = (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
                {
                    inside = (a..b).contains(&addr);
                    continue;
                }
            }
        }
        if inside {
            if let Some(flags) = line.strip_prefix("VmFlags:") {
                return Some(flags.split_whitespace().map(str::to_owned).collect());
            }
        }
    }
    None
}

#[test]
fn lookup_finds_the_symbol_and_the_query_is_sane() {
    let Some(info) = info_or_skip() else { return };
    println!("vDSO: {info:?}");
    assert!(vsva_rng::available(Path::Vdso));
    assert_eq!(vsva_rng::best_path(), Path::Vdso);
    // The symbol is inside the image, which the auxv points to.
    assert!(info.symbol_addr > info.image_addr);
    assert!(info.symbol_addr < info.image_addr + info.image_len);
    let image = testing::vdso_image().expect("image");
    assert_eq!(
        testing::find_vdso_symbol(&image, info.symbol, info.version),
        Some(info.symbol_addr - info.image_addr)
    );
    // A wrong version or name is not accepted.
    assert_eq!(
        testing::find_vdso_symbol(&image, info.symbol, "LINUX_9.9"),
        None
    );
    assert_eq!(
        testing::find_vdso_symbol(&image, "__vdso_getrandomx", info.version),
        None
    );
    assert_eq!(
        testing::find_vdso_symbol(&image, "__vdso_getrando", info.version),
        None
    );
    // Query: 144 bytes on x86_64 6.11-6.18; sane on anything.
    assert!(
        (64..=1024).contains(&info.state_size),
        "state size {}",
        info.state_size
    );
    assert_eq!(info.stride, info.state_size.div_ceil(64) * 64);
    assert_eq!(
        info.mmap_prot & (libc::PROT_READ | libc::PROT_WRITE),
        libc::PROT_READ | libc::PROT_WRITE
    );
    assert_ne!(info.mmap_flags & libc::MAP_ANONYMOUS, 0);
    #[cfg(target_arch = "x86_64")]
    {
        assert_eq!(info.symbol, "__vdso_getrandom");
        assert_eq!(info.version, "LINUX_2.6");
    }
}

#[test]
fn pooled_states_are_distinct_never_cross_a_page_and_have_the_kernels_flags() {
    let Some(info) = info_or_skip() else { return };
    let page = page_size();
    const N: usize = 48; // more than one block of states on a 2-CPU machine
    let barrier = Arc::new(Barrier::new(N));
    let handles: Vec<_> = (0..N)
        .map(|_| {
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                let mut b = [0u8; 16];
                vsva_rng::fill_with(Path::Vdso, &mut b).expect("fill");
                let state = testing::thread_vdso_state().expect("thread has a state");
                let flags = vm_flags(state.1);
                barrier.wait(); // all N hold their states at once
                (state, b, flags)
            })
        })
        .collect();
    let results: Vec<_> = handles
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .collect();
    let mut ids: Vec<usize> = results.iter().map(|r| r.0 .0).collect();
    let mut addrs: Vec<usize> = results.iter().map(|r| r.0 .1).collect();
    for &a in &addrs {
        assert_eq!(a % 64, 0, "state {a:#x} not cache-line aligned");
        assert!(
            a % page + info.state_size <= page,
            "state {a:#x} crosses a page"
        );
    }
    ids.sort_unstable();
    ids.dedup();
    addrs.sort_unstable();
    addrs.dedup();
    assert_eq!(ids.len(), N, "two live threads shared a state id");
    assert_eq!(addrs.len(), N, "two live threads shared a state address");
    for w in addrs.windows(2) {
        assert!(w[1] - w[0] >= info.stride);
    }
    let mut outs: Vec<[u8; 16]> = results.iter().map(|r| r.1).collect();
    outs.sort_unstable();
    outs.dedup();
    assert_eq!(outs.len(), N);
    // smaps: MAP_DROPPABLE shows as `dp`, and implies wipe-on-fork `wf` and no-dump `dd`.
    match &results[0].2 {
        Some(flags) => {
            println!("state VmFlags: {flags:?}");
            if info.mmap_flags & libc::MAP_DROPPABLE != 0 {
                for f in ["wf", "dd", "dp"] {
                    assert!(flags.iter().any(|x| x == f), "missing {f} in {flags:?}");
                }
            }
        }
        None => {
            let _ = std::io::Write::write_fmt(
                &mut std::io::stderr(),
                format_args!("SKIP: smaps check: /proc/self/smaps not readable\n"),
            );
        }
    }
}

#[test]
fn states_are_returned_to_the_pool_when_threads_exit() {
    if info_or_skip().is_none() {
        return;
    }
    // Threads that run one after the other reuse the pool instead of growing it.
    let run = || {
        std::thread::spawn(|| {
            let mut b = [0u8; 8];
            vsva_rng::fill_with(Path::Vdso, &mut b).expect("fill");
            testing::thread_vdso_state().expect("state").1
        })
        .join()
        .expect("thread")
    };
    let first = run();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..200 {
        seen.insert(run());
    }
    // Other tests of this file run concurrently and hold a few states; 200 sequential
    // threads without reuse would need 200 distinct states.
    assert!(
        seen.len() < 100,
        "no reuse: {} distinct states for 200 threads",
        seen.len()
    );
    assert!(seen.contains(&first) || seen.len() < 100);
}

#[test]
fn raw_state_controls() {
    let Some(info) = info_or_skip() else { return };
    let page = page_size();
    // A state that crosses a page is refused by the kernel (-EFAULT): why the pool
    // packs states per page.
    let mut crossing = testing::RawVdso::at_offset(page - 64).expect("map");
    assert!(info.state_size > 64);
    assert_eq!(crossing.fill(&mut [0u8; 16]), -(libc::EFAULT as isize));
    // A well-placed one works and keeps producing new bytes.
    let mut raw = testing::RawVdso::new().expect("map");
    let (mut a, mut b) = ([0u8; 32], [0u8; 32]);
    assert_eq!(raw.fill(&mut a), 32);
    assert_eq!(raw.fill(&mut b), 32);
    assert_ne!(a, b);
    // The vDSO erases what it returned from its state.
    let state = raw.state_bytes();
    assert!(!state.windows(16).any(|w| w == &b[..16] || w == &b[16..]));
    assert_eq!(raw.fill(&mut []), 0);
}

#[test]
fn the_vdso_erases_returned_bytes_from_the_threads_state() {
    if info_or_skip().is_none() {
        return;
    }
    std::thread::spawn(|| {
        for len in [16usize, 32, 48] {
            let mut out = vec![0u8; len];
            vsva_rng::fill_with(Path::Vdso, &mut out).expect("fill");
            let state = testing::thread_vdso_state_bytes().expect("state");
            for w in out.chunks_exact(16) {
                assert!(
                    !state.windows(16).any(|s| s == w),
                    "returned bytes still in the state"
                );
            }
        }
    })
    .join()
    .expect("thread");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// The ELF lookup is bounded: random corruption of the real vDSO image never makes
    /// it panic or return an offset outside the image.
    #[test]
    fn elf_lookup_never_panics_on_corrupt_images(
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..16),
        cut in any::<usize>(),
    ) {
        let Some(info) = testing::vdso_info() else { return Ok(()) };
        let mut image = testing::vdso_image().expect("image");
        for (at, byte) in flips {
            // Mostly the headers and dynamic tables (the first KiB), sometimes anywhere.
            let i = if at % 4 == 0 { at % image.len() } else { at % image.len().min(1024) };
            image[i] = byte;
        }
        if cut % 3 == 0 {
            image.truncate(cut % image.len());
        }
        if let Some(off) = testing::find_vdso_symbol(&image, info.symbol, info.version) {
            prop_assert!(off < image.len());
        }
    }
}
