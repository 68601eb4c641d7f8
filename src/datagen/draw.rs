//! Value-stable sampling on top of a raw [`rand::Rng`].
//!
//! Generated data must not change when a dependency is upgraded, and `rand`'s own
//! distributions (`random_range`, `random_bool`, …) do not promise value stability across
//! its 0.x releases. These helpers use only `next_u32`/`next_u64`, whose output is fixed by
//! the ChaCha keystream, and algorithms written down here:
//!
//! - integers in a range: Lemire's multiply-shift with rejection ("Fast Random Integer
//!   Generation in an Interval", 2019), exactly uniform;
//! - floats in `[0, 1)`: the top 53 bits of a `u64` scaled by 2^-53, exactly representable;
//! - strings: lowercase ASCII alphanumerics, one bounded integer per character.
//!
//! Every helper draws a fixed, documented number of words where it can, so that the
//! number of values a record consumes depends only on the schema and config.

use rand::Rng;

/// The characters of generated strings and map keys: readable, URL- and log-safe.
const ALPHANUMERIC: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// Uniform integer in `0..n`; `n == 0` yields 0 without drawing.
pub fn below<R: Rng + ?Sized>(rng: &mut R, n: u64) -> u64 {
    if n == 0 {
        return 0;
    }
    // Lemire: the high word of x·n is uniform in 0..n except for a small bias that comes
    // from the low word landing below `2^64 mod n`; those draws are rejected.
    let mut m = u128::from(rng.next_u64()) * u128::from(n);
    // Truncation is the point: the low 64 bits of the product.
    let mut low = m as u64;
    if low < n {
        let threshold = n.wrapping_neg() % n; // = 2^64 mod n
        while low < threshold {
            m = u128::from(rng.next_u64()) * u128::from(n);
            low = m as u64;
        }
    }
    (m >> 64) as u64
}

/// Uniform integer in `lo..=hi` (callers guarantee `lo <= hi`; otherwise returns `lo`).
pub fn range_i64<R: Rng + ?Sized>(rng: &mut R, lo: i64, hi: i64) -> i64 {
    if hi <= lo {
        return lo;
    }
    // Two's complement: the width fits in u64 even for i64::MIN..=i64::MAX.
    let span = hi.wrapping_sub(lo) as u64;
    let offset = if span == u64::MAX {
        rng.next_u64()
    } else {
        below(rng, span + 1)
    };
    lo.wrapping_add(offset as i64)
}

/// Uniform `usize` in `lo..=hi` (for lengths; `hi <= lo` returns `lo`).
pub fn range_usize<R: Rng + ?Sized>(rng: &mut R, lo: usize, hi: usize) -> usize {
    if hi <= lo {
        return lo;
    }
    // usize ≤ 64 bits on supported targets, so these conversions are lossless.
    lo + below(rng, (hi - lo) as u64 + 1) as usize
}

/// Uniform `f64` in `[0, 1)` with 53 random bits.
pub fn unit_f64<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    const SCALE: f64 = 1.0 / (1u64 << 53) as f64;
    (rng.next_u64() >> 11) as f64 * SCALE
}

/// `true` with probability `p` (clamped to `[0, 1]`); always draws one word.
pub fn chance<R: Rng + ?Sized>(rng: &mut R, p: f64) -> bool {
    unit_f64(rng) < p
}

/// A lowercase alphanumeric string of exactly `len` characters.
pub fn alphanumeric<R: Rng + ?Sized>(rng: &mut R, len: usize) -> String {
    let mut out = Vec::with_capacity(len);
    alphanumeric_into(rng, len, &mut out);
    // Every byte comes from ALPHANUMERIC: ASCII, so valid UTF-8.
    String::from_utf8(out).unwrap_or_default()
}

/// Appends the bytes of [`alphanumeric`]`(rng, len)` to `out` (same draws).
pub fn alphanumeric_into<R: Rng + ?Sized>(rng: &mut R, len: usize, out: &mut Vec<u8>) {
    // Sized once and written in place: this is the hot loop of record
    // generation (strings and map keys), and a push per character costs a
    // capacity check each.
    let start = out.len();
    out.resize(start + len, 0);
    for slot in &mut out[start..] {
        *slot = ALPHANUMERIC[below(rng, ALPHANUMERIC.len() as u64) as usize];
    }
}

/// `len` random bytes.
pub fn bytes<R: Rng + ?Sized>(rng: &mut R, len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    rng.fill_bytes(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datagen::seed::StreamSeed;

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut rng = StreamSeed::new(1, "draw").record_rng(0);
        let mut seen = [0u32; 7];
        for _ in 0..7_000 {
            let x = below(&mut rng, 7);
            seen[x as usize] += 1;
        }
        // Each bucket expects 1000; a 20% band is > 6 sigma wide.
        assert!(seen.iter().all(|&c| (800..1200).contains(&c)), "{seen:?}");
        assert_eq!(below(&mut rng, 0), 0);
        assert_eq!(below(&mut rng, 1), 0);
    }

    #[test]
    fn ranges_handle_extremes() {
        let mut rng = StreamSeed::new(1, "draw").record_rng(1);
        for _ in 0..1_000 {
            let x = range_i64(&mut rng, -3, 3);
            assert!((-3..=3).contains(&x));
            let y = range_usize(&mut rng, 4, 16);
            assert!((4..=16).contains(&y));
            let u = unit_f64(&mut rng);
            assert!((0.0..1.0).contains(&u));
        }
        // Full-width range must not overflow.
        let _ = range_i64(&mut rng, i64::MIN, i64::MAX);
        assert_eq!(range_i64(&mut rng, 5, 5), 5);
        assert_eq!(range_i64(&mut rng, 5, 1), 5);
        assert_eq!(range_usize(&mut rng, 9, 2), 9);
    }

    #[test]
    fn block_fetched_strings_take_the_same_draws_as_one_word_at_a_time() {
        // The plain definition: one `below(36)` per character.
        fn one_by_one(rng: &mut impl Rng, len: usize) -> Vec<u8> {
            (0..len)
                .map(|_| ALPHANUMERIC[below(rng, ALPHANUMERIC.len() as u64) as usize])
                .collect()
        }
        let seed = StreamSeed::new(9, "strings");
        for n in 0..40u64 {
            let (mut a, mut b) = (seed.record_rng(n), seed.record_rng(n));
            // Odd offsets and lengths across block and keystream-buffer edges.
            for len in [0, 1, 7, 31, 32, 33, 64, 65, 100, 3] {
                let _ = a.next_u32();
                let _ = b.next_u32();
                let mut got = Vec::new();
                alphanumeric_into(&mut a, len, &mut got);
                assert_eq!(got, one_by_one(&mut b, len), "record {n}, len {len}");
            }
            // Both generators end in the same place.
            assert_eq!(a.next_u64(), b.next_u64());
        }
    }

    #[test]
    fn strings_are_readable() {
        let mut rng = StreamSeed::new(1, "draw").record_rng(2);
        let s = alphanumeric(&mut rng, 64);
        assert_eq!(s.len(), 64);
        assert!(
            s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        );
    }

    #[test]
    fn chance_extremes() {
        let mut rng = StreamSeed::new(1, "draw").record_rng(3);
        assert!((0..100).all(|_| !chance(&mut rng, 0.0)));
        assert!((0..100).all(|_| chance(&mut rng, 1.0)));
    }
}
