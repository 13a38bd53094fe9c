//! Forward secrecy of the fallback: fast key erasure, observed from inside a bucket.

use vsva_rng::testing;

fn probe(len: usize) -> Option<testing::FallbackProbe> {
    match testing::fallback_probe(len) {
        Some(r) => Some(r.expect("draw")),
        None => {
            let _ = std::io::Write::write_fmt(
                &mut std::io::stderr(),
                format_args!("SKIP: the fallback page is unavailable\n"),
            );
            None
        }
    }
}

/// No 8-byte window of `out` occurs anywhere in `state`.
fn absent(out: &[u8], state: &[u8]) -> bool {
    out.chunks_exact(8)
        .all(|w| !state.windows(8).any(|s| s == w))
}

#[test]
fn consumed_batch_bytes_are_zero_and_returned_bytes_are_gone() {
    // This test file has one test, so the probe's bucket is not shared.
    let Some(first) = probe(16) else { return };
    assert_ne!(first.marker_after, 0, "bucket not seeded");
    // A fresh bucket refills; either way 16 bytes were consumed from the batch.
    let p = probe(16).expect("probe");
    assert_eq!(p.bucket, first.bucket);
    assert_eq!(p.pos_after, p.pos_before + 16);
    assert!(
        p.batch_after[..p.pos_after].iter().all(|&b| b == 0),
        "consumed bytes not zeroed"
    );
    assert!(
        p.batch_after[p.pos_after..].iter().any(|&b| b != 0),
        "unconsumed batch is empty"
    );
    assert!(
        absent(&p.output, &p.bucket_after),
        "returned bytes still in the bucket"
    );
    assert_eq!(p.key_before, p.key_after, "no refill expected for 16 bytes");

    // Drain the batch: the next draw must refill, which replaces the key.
    let rest = 992 - p.pos_after;
    let drained = probe(rest).expect("probe");
    assert!(
        drained.batch_after.iter().all(|&b| b == 0),
        "drained batch not zero"
    );
    assert!(absent(&drained.output, &drained.bucket_after));
    let r = probe(8).expect("probe");
    assert_ne!(r.key_before, r.key_after, "refill did not replace the key");
    assert!(
        absent(&r.key_before, &r.bucket_after),
        "old key still in the bucket"
    );
    assert_eq!(r.pos_after, 8);

    // Large draws on an empty batch: generated straight into the output, then a refill
    // erases the key.
    for len in [64usize, 1000, 5000, 100_000] {
        let pos = probe(0).expect("probe").pos_after;
        if pos < 992 {
            let _ = probe(992 - pos).expect("drain");
        }
        let big = probe(len).expect("probe");
        assert_eq!(big.pos_before, 992);
        assert_eq!(big.output.len(), len);
        assert_ne!(big.key_before, big.key_after, "{len}: key not replaced");
        assert!(absent(&big.key_before, &big.bucket_after));
        assert!(absent(
            &big.output[big.output.len() - 64..],
            &big.bucket_after
        ));
        assert!(big.batch_after[..big.pos_after].iter().all(|&b| b == 0));
    }

    // A bucket reseeds from getrandom(2) after its output budget.
    let before = probe(1).expect("probe").marker_after;
    let budget = usize::try_from(testing::FALLBACK_RESEED_AFTER).expect("budget");
    let _ = probe(budget).expect("probe");
    let after = probe(1).expect("probe").marker_after;
    assert_ne!(before, after, "no reseed after {budget} bytes");
}
