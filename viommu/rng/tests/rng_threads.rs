//! Threads: 8 threads × 100 000 draws of 16 bytes on each path, no 16-byte output
//! repeated anywhere.

use std::sync::{Arc, Barrier};

use vsva_rng::{testing, Path};

const THREADS: usize = 8;
const DRAWS: usize = 100_000;

fn no_repeats(path: Path) {
    if !vsva_rng::available(path) {
        let _ = std::io::Write::write_fmt(
            &mut std::io::stderr(),
            format_args!("SKIP: path {path:?} is not available on this machine\n"),
        );
        return;
    }
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|_| {
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                let mut out = vec![[0u8; 16]; DRAWS];
                barrier.wait();
                for o in out.iter_mut() {
                    vsva_rng::fill_with(path, o).expect("fill");
                }
                out
            })
        })
        .collect();
    let mut all: Vec<[u8; 16]> = Vec::with_capacity(THREADS * DRAWS);
    for h in handles {
        all.extend(h.join().expect("thread"));
    }
    let n = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!(
        all.len(),
        n,
        "{path:?}: {} repeated 16-byte outputs",
        n - all.len()
    );
}

#[test]
fn vdso_threads_never_repeat() {
    no_repeats(Path::Vdso);
}

#[test]
fn fallback_threads_never_repeat() {
    no_repeats(Path::Fallback);
}

#[test]
fn syscall_threads_never_repeat() {
    no_repeats(Path::Syscall);
}

#[test]
fn fallback_page_has_its_flags() {
    let Some(info) = testing::fallback_info() else {
        let _ = std::io::Write::write_fmt(
            &mut std::io::stderr(),
            format_args!("SKIP: the fallback page could not be mapped\n"),
        );
        return;
    };
    println!("fallback: {info:?}");
    assert!(info.wipe_on_fork);
    assert!(info.buckets >= 4);
    assert_eq!(info.bucket_size % 64, 0);
    assert!(info.len >= info.buckets * info.bucket_size);
    let smaps = std::fs::read_to_string("/proc/self/smaps").expect("smaps");
    let start = format!("{:x}-", info.addr);
    let entry = smaps
        .split('\n')
        .skip_while(|l| !l.starts_with(&start))
        .find_map(|l| l.strip_prefix("VmFlags:"))
        .expect("fallback mapping in smaps");
    println!("fallback VmFlags:{entry}");
    let flags: Vec<&str> = entry.split_whitespace().collect();
    assert!(flags.contains(&"wf"), "no wipe-on-fork: {flags:?}");
    if info.dont_dump {
        assert!(flags.contains(&"dd"), "no dont-dump: {flags:?}");
    }
    if info.locked {
        assert!(flags.contains(&"lo"), "not locked: {flags:?}");
    }
}
