//! Values for Avro logical types, realistic and deterministic.
//!
//! Time values are spread around a fixed base instant, never the wall clock, so a record
//! generated today and next year is the same:
//!
//! ```text
//!   BASE = 2026-01-01T00:00:00Z  (day 20_454 since 1970-01-01, 1_767_225_600 s)
//!   date, timestamp-*, local-timestamp-*   uniform in [BASE − 365 d, BASE + 365 d]
//!   time-millis / time-micros              uniform over one day [00:00, 24:00)
//!   duration                               months 0..12, days 0..31, millis within a day
//! ```
//!
//! Decimals: the unscaled integer gets at most `precision` digits, but by default only six
//! digits before the decimal point (`decimal(38, 2)` produces amounts like 123456.78, not
//! 36-digit monsters); about one value in ten is negative so sign handling is exercised.
//! On `bytes` the value is the minimal big-endian two's complement; on `fixed(n)` it is
//! sign-extended to exactly `n` bytes.

use super::avro::GenError;
use super::compile::{DecimalNode, Node, display_path};
use super::draw;
use apache_avro::schema::{DecimalSchema, FixedSchema, InnerDecimalSchema, Name};
use apache_avro::types::Value;
use apache_avro::{Days, Decimal, Duration, Millis, Months};
use bigdecimal::BigDecimal;
use num_bigint::{BigInt, Sign};
use rand::Rng;

/// 2026-01-01 as days since the Unix epoch.
pub const BASE_EPOCH_DAY: i64 = 20_454;
/// 2026-01-01T00:00:00Z as seconds since the Unix epoch.
pub const BASE_EPOCH_SECONDS: i64 = BASE_EPOCH_DAY * SECONDS_PER_DAY;
/// Half-width of the window time values are drawn from.
pub const SPREAD_DAYS: i64 = 365;
const SECONDS_PER_DAY: i64 = 86_400;

/// Precision limit: keeps big-number work per value bounded whatever the schema says
/// (BigQuery's widest decimal is 76 digits, Java's BigDecimal users rarely pass 100).
pub const MAX_DECIMAL_PRECISION: usize = 1_000;
/// Digits allowed before the decimal point in generated decimals.
const INTEGER_DIGITS: usize = 6;
/// Probability that a generated decimal is negative.
const NEGATIVE_DECIMAL: f64 = 0.1;

pub fn date<R: Rng + ?Sized>(rng: &mut R) -> Value {
    let day = draw::range_i64(
        rng,
        BASE_EPOCH_DAY - SPREAD_DAYS,
        BASE_EPOCH_DAY + SPREAD_DAYS,
    );
    // Within ±365 days of day 20_454 the value is far inside i32.
    Value::Date(i32::try_from(day).unwrap_or(i32::MAX))
}

pub fn time_millis<R: Rng + ?Sized>(rng: &mut R) -> Value {
    let ms = draw::range_i64(rng, 0, SECONDS_PER_DAY * 1_000 - 1);
    Value::TimeMillis(i32::try_from(ms).unwrap_or(0))
}

pub fn time_micros<R: Rng + ?Sized>(rng: &mut R) -> Value {
    Value::TimeMicros(draw::range_i64(rng, 0, SECONDS_PER_DAY * 1_000_000 - 1))
}

/// An instant near the base, in `units_per_second` (1_000 ms, 1_000_000 µs, 10^9 ns).
/// 2027-01-01 in nanoseconds is ~1.8·10^18, comfortably inside i64.
pub fn instant<R: Rng + ?Sized>(rng: &mut R, units_per_second: i64) -> i64 {
    let base = BASE_EPOCH_SECONDS * units_per_second;
    let spread = SPREAD_DAYS * SECONDS_PER_DAY * units_per_second;
    draw::range_i64(rng, base - spread, base + spread)
}

pub fn uuid<R: Rng + ?Sized>(rng: &mut R) -> Value {
    Value::Uuid(random_uuid(rng))
}

/// A version-4 UUID from 16 drawn bytes (the draws of [`uuid`]).
pub fn random_uuid<R: Rng + ?Sized>(rng: &mut R) -> uuid::Uuid {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

pub fn duration<R: Rng + ?Sized>(rng: &mut R) -> Value {
    // Each bound fits u32; `below` returns < bound, so the conversions cannot fail.
    let months = u32::try_from(draw::below(rng, 12)).unwrap_or(0);
    let days = u32::try_from(draw::below(rng, 31)).unwrap_or(0);
    let millis = u32::try_from(draw::below(rng, 86_400_000)).unwrap_or(0);
    Value::Duration(Duration::new(
        Months::new(months),
        Days::new(days),
        Millis::new(millis),
    ))
}

/// Digits of the unscaled value for `decimal(precision, scale)` (see module docs).
pub fn decimal_digits(precision: usize, scale: usize) -> usize {
    precision.min(scale.saturating_add(INTEGER_DIGITS))
}

/// Checks a decimal's precision against its representation and decides how many digits
/// generated values get (see [`decimal_digits`]).
pub(crate) fn decimal_node(
    decimal: &DecimalSchema,
    fixed_name: Option<&Name>,
    path: &str,
) -> Result<Node, GenError> {
    let DecimalSchema {
        precision,
        scale,
        inner,
    } = decimal;
    if *precision > MAX_DECIMAL_PRECISION {
        return Err(GenError::DecimalTooWide {
            path: display_path(path),
            precision: *precision,
            reason: format!(
                "precisions above {} digits are not supported",
                MAX_DECIMAL_PRECISION
            ),
        });
    }
    let fixed_size = match inner {
        InnerDecimalSchema::Bytes => None,
        InnerDecimalSchema::Fixed(FixedSchema { size, .. }) => {
            // The Avro spec bounds precision by what a signed two's-complement number of
            // `size` bytes can hold; Java rejects such schemas, apache-avro does not.
            if !fits_in_fixed(*precision, *size) {
                let name = fixed_name.map_or_else(String::new, |n| n.fullname(None));
                return Err(GenError::DecimalTooWide {
                    path: display_path(path),
                    precision: *precision,
                    reason: format!("fixed `{name}` of {size} bytes cannot hold that many digits"),
                });
            }
            Some(*size)
        }
    };
    Ok(Node::Decimal(DecimalNode {
        digits: decimal_digits(*precision, *scale),
        fixed_size,
    }))
}

pub fn decimal<R: Rng + ?Sized>(rng: &mut R, node: &DecimalNode) -> Value {
    Value::Decimal(Decimal::from(decimal_bytes(rng, node)))
}

/// The two's complement bytes of a drawn decimal's unscaled value: minimal on
/// `bytes`, sign-extended to the size of a `fixed` (the draws of [`decimal`]).
pub fn decimal_bytes<R: Rng + ?Sized>(rng: &mut R, node: &DecimalNode) -> Vec<u8> {
    // Up to 36 digits (two 18-digit chunks) the value fits an i128: no big
    // numbers on the common path (prices, amounts); wider ones take BigInt.
    if node.digits <= 36 {
        let unscaled = unscaled_small(rng, node.digits);
        return match node.fixed_size {
            Some(size) => sign_extend_i128(unscaled, size),
            None => minimal_be(unscaled).to_vec(),
        };
    }
    let unscaled = unscaled_value(rng, node.digits);
    match node.fixed_size {
        Some(size) => sign_extend(&unscaled, size),
        None => unscaled.to_signed_bytes_be(),
    }
}

/// apache-avro's own `big-decimal` logical type (bytes holding unscaled value and scale).
pub fn big_decimal<R: Rng + ?Sized>(rng: &mut R) -> Value {
    let scale = draw::range_i64(rng, 0, 4);
    let digits = usize::try_from(scale).unwrap_or(0) + INTEGER_DIGITS;
    Value::BigDecimal(BigDecimal::new(unscaled_value(rng, digits), scale))
}

/// Uniform in `(-10^digits, 10^digits)`, negative with probability [`NEGATIVE_DECIMAL`].
fn unscaled_value<R: Rng + ?Sized>(rng: &mut R, digits: usize) -> BigInt {
    let negative = draw::chance(rng, NEGATIVE_DECIMAL);
    // Build the magnitude 18 digits at a time: v ← v·10^c + uniform(0..10^c) is uniform
    // over 0..10^digits, and 10^18 < 2^63 keeps each chunk a single bounded draw.
    let mut magnitude = BigInt::from(0u8);
    let mut remaining = digits;
    while remaining > 0 {
        let chunk = remaining.min(18);
        let bound = 10u64.pow(u32::try_from(chunk).unwrap_or(18));
        magnitude = magnitude * bound + draw::below(rng, bound);
        remaining -= chunk;
    }
    if negative { -magnitude } else { magnitude }
}

/// [`unscaled_value`] for `digits ≤ 36`, in an i128: the same draws, the same value.
fn unscaled_small<R: Rng + ?Sized>(rng: &mut R, digits: usize) -> i128 {
    let negative = draw::chance(rng, NEGATIVE_DECIMAL);
    let mut magnitude: i128 = 0;
    let mut remaining = digits;
    while remaining > 0 {
        let chunk = remaining.min(18);
        let bound = 10u64.pow(u32::try_from(chunk).unwrap_or(18));
        // < 10^36 < 2^127 for the digits this takes: no overflow.
        magnitude = magnitude * i128::from(bound) + i128::from(draw::below(rng, bound));
        remaining -= chunk;
    }
    if negative { -magnitude } else { magnitude }
}

/// Minimal big-endian two's complement of `v` (what `BigInt::to_signed_bytes_be`
/// gives: at least one byte, no redundant sign byte).
fn minimal_be(v: i128) -> impl std::ops::Deref<Target = [u8]> {
    struct Minimal([u8; 16], usize);
    impl std::ops::Deref for Minimal {
        type Target = [u8];
        fn deref(&self) -> &[u8] {
            &self.0[self.1..]
        }
    }
    let bytes = v.to_be_bytes();
    let mut start = 0;
    // A leading byte can go when it only repeats the sign of the next one.
    while start < 15
        && ((bytes[start] == 0x00 && bytes[start + 1] & 0x80 == 0)
            || (bytes[start] == 0xFF && bytes[start + 1] & 0x80 != 0))
    {
        start += 1;
    }
    Minimal(bytes, start)
}

/// [`sign_extend`] for an i128.
fn sign_extend_i128(v: i128, size: usize) -> Vec<u8> {
    let raw = minimal_be(v);
    if raw.len() >= size {
        return raw[raw.len() - size..].to_vec();
    }
    let mut out = vec![if v < 0 { 0xFF } else { 0x00 }; size - raw.len()];
    out.extend_from_slice(&raw);
    out
}

/// Big-endian two's complement of `value` in exactly `size` bytes. Callers only pass
/// values that fit (checked once by [`fits_in_fixed`]); a value that does not fit keeps its
/// low `size` bytes rather than panicking.
pub fn sign_extend(value: &BigInt, size: usize) -> Vec<u8> {
    let raw = value.to_signed_bytes_be();
    let fill = if value.sign() == Sign::Minus {
        0xFF
    } else {
        0x00
    };
    if raw.len() >= size {
        return raw[raw.len() - size..].to_vec();
    }
    let mut out = vec![fill; size - raw.len()];
    out.extend_from_slice(&raw);
    out
}

/// Whether every unscaled value of `precision` digits fits a signed `size`-byte integer,
/// i.e. `10^precision ≤ 2^(8·size − 1)` (the Avro spec's bound).
pub fn fits_in_fixed(precision: usize, size: usize) -> bool {
    if size == 0 {
        return precision == 0;
    }
    let bits = size.saturating_mul(8) - 1;
    // 8^p < 10^p < 16^p: settle the easy cases without big numbers, so a huge `size`
    // never makes us allocate a huge power of two.
    if bits >= precision.saturating_mul(4) {
        return true;
    }
    if bits < precision.saturating_mul(3) {
        return false;
    }
    // Here precision ≤ MAX_DECIMAL_PRECISION (checked by the caller) and bits < 4·precision.
    let ten_pow = num_bigint::BigUint::from(10u8).pow(u32::try_from(precision).unwrap_or(u32::MAX));
    ten_pow <= (num_bigint::BigUint::from(1u8) << bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_constants_agree() {
        // 2025-01-01 is a well-known 1_735_689_600; 2025 has 365 days.
        assert_eq!(BASE_EPOCH_SECONDS, 1_735_689_600 + 365 * 86_400);
    }

    #[test]
    fn fixed_capacity_matches_the_spec_table() {
        // floor(log10(2^(8n-1) - 1)) for n = 1..=8 is 2, 4, 6, 9, 11, 14, 16, 18.
        let table = [
            (1, 2),
            (2, 4),
            (3, 6),
            (4, 9),
            (5, 11),
            (6, 14),
            (7, 16),
            (8, 18),
        ];
        for (size, max) in table {
            assert!(
                fits_in_fixed(max, size),
                "size {size} should hold {max} digits"
            );
            assert!(
                !fits_in_fixed(max + 1, size),
                "size {size} must not hold {}",
                max + 1
            );
        }
        assert!(fits_in_fixed(38, 16));
        assert!(!fits_in_fixed(39, 16));
        assert!(fits_in_fixed(5, usize::MAX / 16));
        assert!(!fits_in_fixed(1, 0));
    }

    #[test]
    fn small_decimals_encode_like_big_integers() {
        let mut values: Vec<i128> = vec![0, 1, -1, 127, 128, -128, -129, 255, 256, -256];
        for shift in 0..127 {
            let p = 1i128 << shift;
            values.extend([p, p - 1, -p, -p + 1, -p - 1]);
        }
        values.extend([10i128.pow(36) - 1, -(10i128.pow(36) - 1)]);
        for v in values {
            let big = BigInt::from(v);
            assert_eq!(&*minimal_be(v), &big.to_signed_bytes_be()[..], "{v}");
            for size in [1, 4, 8, 16, 17, 20] {
                assert_eq!(
                    sign_extend_i128(v, size),
                    sign_extend(&big, size),
                    "{v} in {size}"
                );
            }
        }
        // Same draws, same value as the big-number path, for every digit count it takes.
        let seed = crate::datagen::StreamSeed::new(3, "decimals");
        for digits in 0..=36 {
            for n in 0..200 {
                let small = unscaled_small(&mut seed.record_rng(n), digits);
                let big = unscaled_value(&mut seed.record_rng(n), digits);
                assert_eq!(BigInt::from(small), big, "{digits} digits, record {n}");
            }
        }
    }

    #[test]
    fn sign_extension() {
        assert_eq!(sign_extend(&BigInt::from(-1), 4), vec![0xFF; 4]);
        assert_eq!(sign_extend(&BigInt::from(255), 3), vec![0, 0, 0xFF]);
        assert_eq!(sign_extend(&BigInt::from(-129), 2), vec![0xFF, 0x7F]);
    }

    #[test]
    fn digit_budget() {
        assert_eq!(decimal_digits(4, 2), 4);
        assert_eq!(decimal_digits(10, 2), 8);
        assert_eq!(decimal_digits(38, 18), 24);
    }
}
