//! Fork: a child never repeats its parent's output, on every path.
//!
//! fork(2) and friends come from `tests/sys`, the test crates' only `unsafe`.

use std::ffi::c_int;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::time::Duration;

use vsva_rng::{testing, Path};

mod sys;

const PATHS: [Path; 3] = [Path::Vdso, Path::Fallback, Path::Syscall];

/// Runs `f(true)` in a forked child and `f(false)` here; returns (parent's, child's).
fn fork_with(mut f: impl FnMut(bool) -> Vec<u8>) -> (Vec<u8>, Vec<u8>) {
    let (read_end, write_end) = sys::pipe();
    // The child runs only `f`, writes to the pipe and exits; it never returns into the
    // test harness.
    let pid = sys::fork();
    if pid == 0 {
        let code = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(true))) {
            Ok(bytes) => {
                sys::write_all(write_end, &bytes);
                0
            }
            Err(_) => 101,
        };
        sys::exit_now(code);
    }
    sys::close(write_end);
    let mine = f(false);
    let theirs = sys::read_all(read_end);
    sys::close(read_end);
    sys::reap(pid);
    (mine, theirs)
}

fn draw(path: Option<Path>, len: usize) -> Vec<u8> {
    let mut b = vec![0u8; len];
    match path {
        Some(p) => vsva_rng::fill_with(p, &mut b).expect("fill_with"),
        None => vsva_rng::fill(&mut b).expect("fill"),
    }
    b
}

#[test]
fn parent_and_child_draw_different_bytes_on_every_path() {
    let mut paths: Vec<Option<Path>> = Vec::new();
    for p in PATHS {
        if vsva_rng::available(p) {
            paths.push(Some(p));
        } else {
            let _ = std::io::Write::write_fmt(
                &mut std::io::stderr(),
                format_args!("SKIP: path {p:?} is not available on this machine\n"),
            );
        }
    }
    paths.push(None);
    // Small draws from the buffered state, and bulk draws (vDSO key + expansion).
    for path in paths {
        for len in [4usize, 16, 32, 200, 4096] {
            for _ in 0..3 {
                let _ = draw(path, len); // the state is warm and mid-batch at the fork
                let (parent, child) = fork_with(|_| draw(path, len));
                assert_eq!(child.len(), len);
                assert_ne!(parent, child, "{path:?} {len}: child repeated the parent");
            }
        }
    }
}

#[test]
fn the_childs_state_is_wiped_before_its_first_draw() {
    if vsva_rng::available(Path::Vdso) {
        let _ = draw(Some(Path::Vdso), 16);
        let (_, child) = fork_with(|in_child| {
            if !in_child {
                return Vec::new();
            }
            let state = testing::thread_vdso_state_bytes().expect("state");
            vec![u8::from(state.iter().all(|&b| b == 0))]
        });
        assert_eq!(child, [1], "vDSO state not wiped in the child");
    } else {
        let _ = std::io::Write::write_fmt(
            &mut std::io::stderr(),
            format_args!("SKIP: {}\n", testing::vdso_absent_reason()),
        );
    }
    if vsva_rng::available(Path::Fallback) {
        let _ = draw(Some(Path::Fallback), 16);
        let (_, child) = fork_with(|in_child| {
            if !in_child {
                return Vec::new();
            }
            let p = testing::fallback_probe(0).expect("bucket").expect("draw");
            vec![u8::from(p.key_before == [0u8; 32] && p.pos_before == 0)]
        });
        assert_eq!(child, [1], "fallback bucket not wiped in the child");
    }
}

#[test]
fn negative_controls_without_a_wipe_repeat_the_parent() {
    // The same generators in memory that a fork copies: parent and child repeat each
    // other, which shows the tests above would catch a missing wipe.
    match (testing::RawVdso::in_plain_memory(), testing::RawVdso::new()) {
        (Some(mut plain), Some(mut droppable)) => {
            for (raw, repeats) in [(&mut plain, true), (&mut droppable, false)] {
                assert_eq!(raw.fill(&mut [0u8; 16]), 16); // warm, mid-batch
                let (p, c) = fork_with(|_| {
                    let mut b = vec![0u8; 32];
                    assert_eq!(raw.fill(&mut b), 32);
                    b
                });
                if repeats {
                    assert_eq!(p, c, "plain-memory vDSO state: expected a repeat");
                } else {
                    assert_ne!(p, c, "droppable vDSO state repeated across fork");
                }
            }
        }
        _ => {
            let _ = std::io::Write::write_fmt(
                &mut std::io::stderr(),
                format_args!("SKIP: {}\n", testing::vdso_absent_reason()),
            );
        }
    }
    for wipe in [false, true] {
        let Some(g) = testing::FallbackGen::new(wipe) else {
            let _ = std::io::Write::write_fmt(
                &mut std::io::stderr(),
                format_args!("SKIP: fallback page (wipe_on_fork={wipe}) not mapped\n"),
            );
            continue;
        };
        let mut warm = [0u8; 16];
        g.fill(&mut warm).expect("fill");
        let (p, c) = fork_with(|_| {
            let mut b = vec![0u8; 32];
            g.fill(&mut b).expect("fill");
            b
        });
        if wipe {
            assert_ne!(p, c, "wipe-on-fork bucket repeated across fork");
        } else {
            assert_eq!(p, c, "no-wipe bucket: expected a repeat");
        }
    }
}

/// The glibc 2.41 development bug: after a fork from a multi-threaded process, two
/// threads of the child could get the same state. Here N parent threads hold vDSO
/// states (and hammer the fallback buckets) while the main thread forks; the child
/// starts N threads, which must all get distinct states and outputs, none of them the
/// forking thread's.
#[test]
fn multithreaded_fork_hands_out_distinct_states() {
    const N: usize = 6;
    let vdso = vsva_rng::available(Path::Vdso);
    let fallback = vsva_rng::available(Path::Fallback);
    let _ = draw(None, 16);
    let held = Arc::new(Barrier::new(N + 1));
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let stop_rx = Arc::new(std::sync::Mutex::new(stop_rx));
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..N)
        .map(|_| {
            let (held, stop, stop_rx) =
                (Arc::clone(&held), Arc::clone(&stop), Arc::clone(&stop_rx));
            std::thread::spawn(move || {
                if vdso {
                    let _ = draw(Some(Path::Vdso), 16);
                }
                held.wait();
                while !stop.load(Ordering::Relaxed) {
                    if fallback {
                        let _ = draw(Some(Path::Fallback), 16);
                    } else {
                        std::thread::yield_now();
                    }
                }
                drop(stop_rx);
            })
        })
        .collect();
    held.wait();
    std::thread::sleep(Duration::from_millis(5));
    let parent_state = testing::thread_vdso_state();
    let (_, child) = fork_with(|in_child| {
        if !in_child {
            return Vec::new();
        }
        let mut report = Vec::new();
        // Only this thread exists: its own state is the only one still claimed.
        let claimed = testing::vdso_claimed_states();
        let free = testing::fallback_free_buckets();
        let me = testing::thread_vdso_state();
        let all_hold = Arc::new(Barrier::new(N));
        let kids: Vec<_> = (0..N)
            .map(|_| {
                let all_hold = Arc::clone(&all_hold);
                std::thread::spawn(move || {
                    let out = draw(Some(if vdso { Path::Vdso } else { Path::Syscall }), 32);
                    let state = testing::thread_vdso_state();
                    all_hold.wait(); // all N hold their states at once
                    (state, out)
                })
            })
            .collect();
        let results: Vec<_> = kids
            .into_iter()
            .map(|k| k.join().expect("child thread"))
            .collect();
        let mut ids: Vec<usize> = results.iter().filter_map(|r| r.0.map(|s| s.0)).collect();
        ids.extend(me.map(|s| s.0));
        let n_ids = ids.len();
        ids.sort_unstable();
        ids.dedup();
        let mut outs: Vec<&Vec<u8>> = results.iter().map(|r| &r.1).collect();
        outs.sort_unstable();
        outs.dedup();
        report.push(u8::from(ids.len() == n_ids)); // distinct states
        report.push(u8::from(outs.len() == N)); // distinct outputs
        report.push(u8::try_from(claimed.min(255)).unwrap_or(255));
        report.push(u8::from(!vdso || n_ids == N + usize::from(me.is_some())));
        report.push(u8::from(free.is_none_or(|f| {
            Some(f) == testing::fallback_info().map(|i| i.buckets)
        })));
        report
    });
    stop.store(true, Ordering::Relaxed);
    drop(stop_tx);
    for t in threads {
        t.join().expect("thread");
    }
    assert_eq!(child.len(), 5, "child report: {child:?}");
    assert_eq!(
        child[0], 1,
        "two child threads (or a child thread and the forking thread) share a vDSO state"
    );
    assert_eq!(child[1], 1, "child threads repeated each other's output");
    if vdso {
        // The parent held N + 1 states (more with other tests running); the child's reset
        // left only the forking thread's.
        assert!(parent_state.is_some());
        assert_eq!(
            child[2], 1,
            "claims of the parent's other threads were not released in the child"
        );
        assert_eq!(child[3], 1, "a child thread had no state");
    } else {
        let _ = std::io::Write::write_fmt(
            &mut std::io::stderr(),
            format_args!("SKIP: vDSO part: {}\n", testing::vdso_absent_reason()),
        );
    }
    assert_eq!(
        child[4], 1,
        "fallback buckets held by the parent's threads stayed locked in the child"
    );
}

// --- fork() from a signal handler in the middle of a request ---------------------------

static FORK_PID: AtomicI32 = AtomicI32::new(-1);
static IN_FILL: AtomicBool = AtomicBool::new(false);
static FORKED_IN_FILL: AtomicBool = AtomicBool::new(false);
static SENT: AtomicBool = AtomicBool::new(false);

extern "C" fn forking_handler(_: c_int) {
    let in_fill = IN_FILL.load(Ordering::SeqCst);
    // fork(2) from a signal handler: the interrupted code is our fill, which does not
    // allocate or hold locks the child would need.
    let pid = sys::fork();
    if pid == 0 {
        FORKED_IN_FILL.store(in_fill, Ordering::SeqCst);
    }
    FORK_PID.store(pid, Ordering::SeqCst);
}

/// A signal handler forks while the main thread is in the middle of a multi-MiB request.
/// The child inherits the part written before the fork, so the whole request must be
/// redone there; parent and child must not share any of it.
#[test]
fn fork_from_a_signal_handler_in_the_middle_of_a_request_is_redone() {
    // Long enough that the signal lands inside the request in debug and release builds.
    const LEN: usize = if cfg!(debug_assertions) {
        4 << 20
    } else {
        32 << 20
    };
    const DELAYS_US: [u64; 8] = [500, 200, 100, 1000, 50, 300, 20, 2000];
    // Nothing else in this test binary uses SIGUSR2.
    sys::install_handler(libc::SIGUSR2, forking_handler);
    let mut buf = vec![0u8; LEN];
    for path in PATHS {
        if !vsva_rng::available(path) {
            let _ = std::io::Write::write_fmt(
                &mut std::io::stderr(),
                format_args!("SKIP: path {path:?} is not available on this machine\n"),
            );
            continue;
        }
        vsva_rng::fill_with(path, &mut buf[..64]).expect("warm");
        let mut hit = false;
        for delay_us in DELAYS_US {
            FORK_PID.store(-1, Ordering::SeqCst);
            FORKED_IN_FILL.store(false, Ordering::SeqCst);
            SENT.store(false, Ordering::SeqCst);
            let (read_end, write_end) = sys::pipe();
            let me = sys::current_thread();
            let delay = Duration::from_micros(delay_us);
            let sender = std::thread::spawn(move || {
                std::thread::sleep(delay);
                SENT.store(true, Ordering::SeqCst);
                // The test thread is alive until it has seen FORK_PID set (it waits for
                // that below).
                sys::signal_thread(me, libc::SIGUSR2);
            });
            IN_FILL.store(true, Ordering::SeqCst);
            vsva_rng::fill_with(path, &mut buf).expect("fill");
            IN_FILL.store(false, Ordering::SeqCst);
            // Both processes pass here; only the parent has the sender thread.
            while !SENT.load(Ordering::SeqCst) || FORK_PID.load(Ordering::SeqCst) == -1 {
                std::thread::sleep(Duration::from_micros(100));
            }
            let pid = FORK_PID.load(Ordering::SeqCst);
            if pid == 0 {
                // Child: report whether the fork hit the request, how often a request
                // was redone, and samples of the output.
                let mut report = vec![u8::from(FORKED_IN_FILL.load(Ordering::SeqCst))];
                report.extend_from_slice(&testing::stats().fork_redone.to_le_bytes());
                report.extend_from_slice(&buf[..4096]);
                report.extend_from_slice(&buf[LEN - 4096..]);
                sys::write_all(write_end, &report);
                sys::exit_now(0);
            }
            sender.join().expect("sender");
            sys::close(write_end);
            let report = sys::read_all(read_end);
            sys::close(read_end);
            sys::reap(pid);
            assert_eq!(report.len(), 1 + 8 + 8192);
            if report[0] == 0 {
                continue; // the signal came after the request: try again, earlier
            }
            hit = true;
            let redone = u64::from_le_bytes(report[1..9].try_into().expect("8 bytes"));
            let (head, tail) = (&report[9..9 + 4096], &report[9 + 4096..]);
            assert!(
                redone >= 1,
                "{path:?}: the child did not redo the interrupted request"
            );
            assert_ne!(
                head,
                &buf[..4096],
                "{path:?}: child repeated the parent's first 4 KiB"
            );
            assert_ne!(
                tail,
                &buf[LEN - 4096..],
                "{path:?}: child repeated the parent's last 4 KiB"
            );
            break;
        }
        assert!(hit, "{path:?}: the signal never arrived during the request");
    }
}
