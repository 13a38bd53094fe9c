//! Signal re-entry: a handler draws while the interrupted thread is inside a draw.
//!
//! A helper thread sends SIGUSR1 to the drawing thread every ~50 µs (pthread_kill, so
//! the signal always lands on that thread); the handler draws 16 bytes with the same
//! path. On the vDSO path a re-entered draw must take the syscall (the thread's state is
//! busy); on the fallback path it takes another bucket. Every handler draw must succeed,
//! re-entry must actually happen, and no 16-byte output may repeat across the main loop
//! and the handler.

use std::ffi::c_int;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use vsva_rng::{testing, Path};

mod sys;

const MAX_HANDLER_DRAWS: usize = 50_000;
const MAIN_DRAWS_MAX: usize = 2_000_000;
const WANT_REENTRIES: u64 = 200;

static PATH: AtomicU8 = AtomicU8::new(0);
static IN_DRAW: AtomicBool = AtomicBool::new(false);
static REENTERED: AtomicU64 = AtomicU64::new(0);
static HANDLER_ERRORS: AtomicU64 = AtomicU64::new(0);
static HANDLER_DRAWS: AtomicUsize = AtomicUsize::new(0);
static OUT: [[AtomicU64; 2]; MAX_HANDLER_DRAWS] =
    [const { [AtomicU64::new(0), AtomicU64::new(0)] }; MAX_HANDLER_DRAWS];

fn path_of(i: u8) -> Path {
    match i {
        0 => Path::Vdso,
        1 => Path::Fallback,
        _ => Path::Syscall,
    }
}

extern "C" fn handler(_: c_int) {
    // errno is saved and restored so the interrupted code never sees the handler's.
    let errno = sys::errno();
    let reentered = IN_DRAW.load(Ordering::Relaxed);
    let mut b = [0u8; 16];
    match vsva_rng::fill_with(path_of(PATH.load(Ordering::Relaxed)), &mut b) {
        Ok(()) => {
            if reentered {
                REENTERED.fetch_add(1, Ordering::Relaxed);
            }
            let i = HANDLER_DRAWS.fetch_add(1, Ordering::Relaxed);
            if let Some(slot) = OUT.get(i) {
                let (lo, hi) = b.split_at(8);
                slot[0].store(
                    u64::from_ne_bytes(lo.try_into().unwrap_or([0; 8])),
                    Ordering::Relaxed,
                );
                slot[1].store(
                    u64::from_ne_bytes(hi.try_into().unwrap_or([0; 8])),
                    Ordering::Relaxed,
                );
            }
        }
        Err(_) => {
            HANDLER_ERRORS.fetch_add(1, Ordering::Relaxed);
        }
    }
    sys::set_errno(errno);
}

#[test]
fn a_handler_drawing_during_a_draw_succeeds_and_never_repeats() {
    // Nothing else in this test binary uses SIGUSR1.
    sys::install_handler(libc::SIGUSR1, handler);
    for (i, path) in [Path::Vdso, Path::Fallback, Path::Syscall]
        .into_iter()
        .enumerate()
    {
        if !vsva_rng::available(path) {
            let _ = std::io::Write::write_fmt(
                &mut std::io::stderr(),
                format_args!("SKIP: path {path:?} is not available on this machine\n"),
            );
            continue;
        }
        PATH.store(u8::try_from(i).expect("index"), Ordering::Relaxed);
        REENTERED.store(0, Ordering::Relaxed);
        HANDLER_ERRORS.store(0, Ordering::Relaxed);
        HANDLER_DRAWS.store(0, Ordering::Relaxed);
        let stats_before = testing::stats();
        // One-time set-up happens here, outside any handler.
        let mut main_out = vec![[0u8; 16]; MAIN_DRAWS_MAX];
        vsva_rng::fill_with(path, &mut main_out[0]).expect("warm");

        let me = sys::current_thread();
        let stop = Arc::new(AtomicBool::new(false));
        let sender = {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    // The test thread outlives this one (it joins it before returning).
                    sys::signal_thread(me, libc::SIGUSR1);
                    std::thread::sleep(Duration::from_micros(50));
                }
            })
        };
        let mut n = 0;
        while n < MAIN_DRAWS_MAX
            && (REENTERED.load(Ordering::Relaxed) < WANT_REENTRIES
                || HANDLER_DRAWS.load(Ordering::Relaxed) < 2 * WANT_REENTRIES as usize)
            && HANDLER_DRAWS.load(Ordering::Relaxed) < MAX_HANDLER_DRAWS
        {
            IN_DRAW.store(true, Ordering::Relaxed);
            std::sync::atomic::compiler_fence(Ordering::SeqCst);
            let r = vsva_rng::fill_with(path, &mut main_out[n]);
            std::sync::atomic::compiler_fence(Ordering::SeqCst);
            IN_DRAW.store(false, Ordering::Relaxed);
            r.expect("main draw");
            n += 1;
        }
        stop.store(true, Ordering::Relaxed);
        sender.join().expect("sender");

        let handled = HANDLER_DRAWS.load(Ordering::Relaxed).min(MAX_HANDLER_DRAWS);
        let reentered = REENTERED.load(Ordering::Relaxed);
        let stats = testing::stats();
        println!(
            "{path:?}: {n} main draws, {handled} handler draws, {reentered} re-entered; \
             vDSO busy → syscall: {}",
            stats.vdso_reentered - stats_before.vdso_reentered
        );
        assert_eq!(
            HANDLER_ERRORS.load(Ordering::Relaxed),
            0,
            "{path:?}: a handler draw failed"
        );
        assert!(
            reentered > 0,
            "{path:?}: no handler ever ran during a draw ({handled} ran)"
        );
        if path == Path::Vdso {
            assert!(
                stats.vdso_reentered > stats_before.vdso_reentered,
                "no re-entered vDSO draw found its state busy"
            );
        }
        let mut all: Vec<[u8; 16]> = main_out[..n].to_vec();
        for slot in &OUT[..handled] {
            let mut b = [0u8; 16];
            b[..8].copy_from_slice(&slot[0].load(Ordering::Relaxed).to_ne_bytes());
            b[8..].copy_from_slice(&slot[1].load(Ordering::Relaxed).to_ne_bytes());
            all.push(b);
        }
        let total = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(
            all.len(),
            total,
            "{path:?}: {} repeated outputs",
            total - all.len()
        );
    }
}
