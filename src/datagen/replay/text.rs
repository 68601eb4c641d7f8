//! Text forms of numbers and instants found in recorded data, parsed by hand.
//!
//! ```text
//!   integer      "42", "-7", "+3"; "3.0" / "3.000" too (pandas writes integer columns
//!                that hold a gap as floats), but never "3.5" or "1e3"
//!   decimal      "19.99", "-0.5", ".5", "7"        → unscaled BigInt for a given scale
//!   date         "2026-03-01"                       → days since 1970-01-01
//!   time         "13:45:07", "13:45:07.250"        → microseconds since midnight
//!   instant      "2026-03-01T13:45:07.250Z", "2026-03-01 13:45:07+02:00"
//!                (RFC 3339; `T`, `t` or a space between date and time)
//!                                                   → seconds since the epoch (UTC) + nanos
//! ```
//!
//! Why not a date crate: the crate needs exactly these three shapes, all in UTC or
//! without a zone, and the civil-date arithmetic is a dozen lines (Howard Hinnant's
//! `days_from_civil`, exact for every proleptic Gregorian date). Errors are
//! [`TextError`]s whose messages are short phrases that finish the sentence
//! "cannot use `…`: …".

use num_bigint::BigInt;

/// Why a text is not the number, date, time or instant a field needs: a
/// phrase that finishes "cannot use `…`: …" (the caller adds where and a hint).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum TextError {
    #[error("has a fractional part")]
    Fraction,
    #[error("is out of range for a 64-bit integer")]
    IntegerRange,
    #[error("is not an integer")]
    NotInteger,
    #[error("is not a decimal number (digits with an optional `.` and sign)")]
    NotDecimal,
    #[error("has {digits} digits after the decimal point, the schema's scale allows {scale}")]
    Scale { digits: usize, scale: usize },
    #[error(
        "has {digits} significant digits, the schema's precision allows {precision} ({} before the decimal point)",
        .precision.saturating_sub(*.scale)
    )]
    Precision {
        digits: usize,
        precision: usize,
        scale: usize,
    },
    #[error("is not a decimal number")]
    DecimalDigits,
    /// A field of a date, time or offset (`what`) that does not parse.
    #[error("has a bad {what}")]
    Field { what: &'static str },
    #[error("has a bad {what} `{text}`")]
    FieldDigits { what: &'static str, text: String },
    #[error("is not a date in the form YYYY-MM-DD")]
    NotDate,
    #[error("has month {0}, which is not 1–12")]
    Month(u32),
    #[error("has day {day}, which month {month} of {year} does not have")]
    Day { day: u32, month: u32, year: i64 },
    #[error("is not a time in the form HH:MM:SS[.fraction]")]
    NotTime,
    #[error("has {0}, which is not a time of day")]
    TimeOfDay(String),
    #[error("has a bad fraction of a second `.{0}` (1–9 digits)")]
    SecondFraction(String),
    #[error("is not an RFC 3339 date-time like 2026-03-01T13:45:07Z")]
    NotInstant,
    #[error("needs `T` between the date and the time")]
    NoT,
    #[error("has no UTC offset; add `Z` for UTC or an offset like `+02:00`")]
    NoOffset,
    #[error("has the offset `{0}` but a local timestamp has no time zone; remove it")]
    LocalOffset(String),
    #[error("is too far from 1970 to fit a 64-bit timestamp")]
    TooFar,
    #[error("has a bad UTC offset `{0}` (use `Z` or `+HH:MM`)")]
    OffsetForm(String),
    #[error("has a bad UTC offset `{0}`")]
    OffsetRange(String),
}

/// An integer literal, or a decimal literal whose fraction is all zeros.
pub(super) fn integer(text: &str) -> Result<i64, TextError> {
    if let Ok(n) = text.parse::<i64>() {
        return Ok(n);
    }
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let digits = int.strip_prefix(['-', '+']).unwrap_or(int);
    let is_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if is_digits(digits) && (frac.is_empty() || frac.bytes().all(|b| b.is_ascii_digit())) {
        if frac.bytes().any(|b| b != b'0') {
            return Err(TextError::Fraction);
        }
        return int.parse::<i64>().map_err(|_| TextError::IntegerRange);
    }
    Err(TextError::NotInteger)
}

/// The unscaled value of a decimal literal for `scale`, holding at most `precision` digits.
pub(super) fn decimal(text: &str, precision: usize, scale: usize) -> Result<BigInt, TextError> {
    let (negative, unsigned) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !all_digits(int) || !all_digits(frac) {
        return Err(TextError::NotDecimal);
    }
    if frac.len() > scale {
        return Err(TextError::Scale {
            digits: frac.len(),
            scale,
        });
    }
    // Unscaled digits: integer part, fraction, then zeros up to the scale ("19.9" → 1990).
    let mut digits = String::with_capacity(int.len() + scale);
    digits.push_str(int);
    digits.push_str(frac);
    digits.extend(std::iter::repeat_n('0', scale - frac.len()));
    let significant = digits.trim_start_matches('0');
    if significant.len() > precision {
        return Err(TextError::Precision {
            digits: significant.len(),
            precision,
            scale,
        });
    }
    let magnitude: BigInt = if significant.is_empty() {
        BigInt::from(0u8)
    } else {
        significant.parse().map_err(|_| TextError::DecimalDigits)?
    };
    Ok(if negative { -magnitude } else { magnitude })
}

/// Days since 1970-01-01 of a proleptic Gregorian date (negative before 1970).
pub(super) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    // Hinnant: shift the year to start in March so the leap day is the year's last day.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400; // [0, 399]
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A fixed-width run of ASCII digits.
fn number(text: &str, what: &'static str) -> Result<u32, TextError> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse().map_err(|_| TextError::Field { what })
    } else {
        Err(TextError::FieldDigits {
            what,
            text: text.to_string(),
        })
    }
}

/// `YYYY-MM-DD` → days since the epoch.
pub(super) fn date(text: &str) -> Result<i64, TextError> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return Err(TextError::NotDate);
    }
    let year = i64::from(number(&text[0..4], "year")?);
    let month = number(&text[5..7], "month")?;
    let day = number(&text[8..10], "day")?;
    if !(1..=12).contains(&month) {
        return Err(TextError::Month(month));
    }
    if day == 0 || day > days_in_month(year, month) {
        return Err(TextError::Day { day, month, year });
    }
    Ok(days_from_civil(year, month, day))
}

/// `HH:MM:SS[.fraction]` → (seconds since midnight, nanoseconds).
fn clock(text: &str) -> Result<(i64, u32), TextError> {
    let (hms, frac) = text.split_once('.').unwrap_or((text, ""));
    let bytes = hms.as_bytes();
    if bytes.len() != 8 || bytes[2] != b':' || bytes[5] != b':' {
        return Err(TextError::NotTime);
    }
    let hour = number(&hms[0..2], "hour")?;
    let minute = number(&hms[3..5], "minute")?;
    let second = number(&hms[6..8], "second")?;
    if hour > 23 || minute > 59 || second > 59 {
        return Err(TextError::TimeOfDay(hms.to_string()));
    }
    let nanos = if frac.is_empty() {
        0
    } else if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TextError::SecondFraction(frac.to_string()));
    } else {
        // ".25" → 250_000_000: pad to nine digits.
        number(&format!("{frac:0<9}"), "fraction of a second")?
    };
    Ok((i64::from(hour * 3_600 + minute * 60 + second), nanos))
}

/// Time of day → microseconds since midnight.
pub(super) fn time_of_day_micros(text: &str) -> Result<i64, TextError> {
    let (seconds, nanos) = clock(text)?;
    Ok(seconds * 1_000_000 + i64::from(nanos / 1_000))
}

/// Whether an instant must carry a UTC offset (`timestamp-*`) or must not (`local-…`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Zone {
    Required,
    Forbidden,
}

/// RFC 3339 date-time → `units_per_second` since the epoch (sub-unit digits truncated
/// toward the past, like a clock).
pub(super) fn instant(text: &str, zone: Zone, units_per_second: i64) -> Result<i64, TextError> {
    if text.len() < 19 || !text.is_char_boundary(10) || !text.is_char_boundary(11) {
        return Err(TextError::NotInstant);
    }
    let days = date(&text[..10])?;
    if !matches!(text.as_bytes()[10], b'T' | b't' | b' ') {
        return Err(TextError::NoT);
    }
    let rest = &text[11..];
    // The offset starts at the first `Z`, `+` or `-` after the clock.
    let split = rest.find(['Z', 'z', '+', '-']).unwrap_or(rest.len());
    let (clock_text, offset_text) = rest.split_at(split);
    let (seconds, nanos) = clock(clock_text)?;
    let offset = match (offset_text, zone) {
        ("", Zone::Required) => return Err(TextError::NoOffset),
        ("", Zone::Forbidden) => 0,
        (_, Zone::Forbidden) => return Err(TextError::LocalOffset(offset_text.to_string())),
        ("Z" | "z", Zone::Required) => 0,
        (_, Zone::Required) => offset_seconds(offset_text)?,
    };
    let utc_seconds = days * 86_400 + seconds - offset;
    let sub_unit = i64::from(nanos) / (1_000_000_000 / units_per_second);
    utc_seconds
        .checked_mul(units_per_second)
        .and_then(|n| n.checked_add(sub_unit))
        .ok_or(TextError::TooFar)
}

/// `+HH:MM` / `-HH:MM` → seconds east of UTC.
fn offset_seconds(text: &str) -> Result<i64, TextError> {
    let bytes = text.as_bytes();
    if bytes.len() != 6 || bytes[3] != b':' {
        return Err(TextError::OffsetForm(text.to_string()));
    }
    let hours = number(&text[1..3], "offset hour")?;
    let minutes = number(&text[4..6], "offset minute")?;
    if hours > 23 || minutes > 59 {
        return Err(TextError::OffsetRange(text.to_string()));
    }
    let seconds = i64::from(hours * 3_600 + minutes * 60);
    Ok(if bytes[0] == b'-' { -seconds } else { seconds })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_reject_fractions_but_take_float_formatted_whole_numbers() {
        assert_eq!(integer("42"), Ok(42));
        assert_eq!(integer("-7"), Ok(-7));
        assert_eq!(integer("3.00"), Ok(3));
        assert_eq!(integer("3.5"), Err(TextError::Fraction));
        assert_eq!(integer("abc"), Err(TextError::NotInteger));
        assert_eq!(integer("1e3"), Err(TextError::NotInteger));
        assert_eq!(integer(""), Err(TextError::NotInteger));
        assert_eq!(
            integer("99999999999999999999"),
            Err(TextError::IntegerRange)
        );
    }

    #[test]
    fn decimals_apply_the_scale_and_count_digits() {
        assert_eq!(decimal("19.99", 10, 2), Ok(BigInt::from(1999)));
        assert_eq!(decimal("19.9", 10, 2), Ok(BigInt::from(1990)));
        assert_eq!(decimal("-0.5", 10, 2), Ok(BigInt::from(-50)));
        assert_eq!(decimal(".5", 10, 2), Ok(BigInt::from(50)));
        assert_eq!(decimal("0007", 3, 0), Ok(BigInt::from(7)));
        assert_eq!(
            decimal("1.999", 10, 2).unwrap_err().to_string(),
            "has 3 digits after the decimal point, the schema's scale allows 2"
        );
        assert_eq!(
            decimal("123456789.00", 10, 2).unwrap_err().to_string(),
            "has 11 significant digits, the schema's precision allows 10 (8 before the decimal point)"
        );
        assert!(decimal("12345678.00", 10, 2).is_ok());
        assert_eq!(decimal(".", 10, 2), Err(TextError::NotDecimal));
        assert_eq!(decimal("1e5", 10, 2), Err(TextError::NotDecimal));
    }

    #[test]
    fn civil_days_match_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2026, 1, 1), 20_454);
        assert_eq!(days_from_civil(2000, 2, 29), 11_016);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(date("2026-01-01"), Ok(20_454));
        for (text, message) in [
            (
                "2026-02-29",
                "has day 29, which month 2 of 2026 does not have",
            ),
            ("2026-13-01", "has month 13, which is not 1–12"),
            ("2026/01/01", "is not a date in the form YYYY-MM-DD"),
            ("2026-0x-01", "has a bad month `0x`"),
        ] {
            assert_eq!(date(text).unwrap_err().to_string(), message, "{text}");
        }
    }

    #[test]
    fn instants_honour_offsets_and_truncate_below_the_unit() {
        let base_ms = 1_767_225_600_000; // 2026-01-01T00:00:00Z
        assert_eq!(
            instant("2026-01-01T00:00:00Z", Zone::Required, 1_000),
            Ok(base_ms)
        );
        assert_eq!(
            instant("2026-01-01 02:00:00.1239+02:00", Zone::Required, 1_000),
            Ok(base_ms + 123)
        );
        assert_eq!(
            instant("2025-12-31T23:00:00-01:00", Zone::Required, 1_000_000),
            Ok(base_ms * 1_000)
        );
        assert_eq!(
            instant("2026-01-01T00:00:00", Zone::Forbidden, 1_000),
            Ok(base_ms)
        );
        for (text, zone, message) in [
            (
                "2026-01-01T00:00:00",
                Zone::Required,
                "has no UTC offset; add `Z` for UTC or an offset like `+02:00`",
            ),
            (
                "2026-01-01T00:00:00Z",
                Zone::Forbidden,
                "has the offset `Z` but a local timestamp has no time zone; remove it",
            ),
            (
                "2026-01-01T25:00:00Z",
                Zone::Required,
                "has 25:00:00, which is not a time of day",
            ),
            (
                "2026-01-01T00:00:00+0200",
                Zone::Required,
                "has a bad UTC offset `+0200` (use `Z` or `+HH:MM`)",
            ),
            (
                "2026-01-01é00:00:00Z",
                Zone::Required,
                "is not an RFC 3339 date-time like 2026-03-01T13:45:07Z",
            ),
        ] {
            let got = instant(text, zone, 1_000).unwrap_err().to_string();
            assert_eq!(got, message, "{text}");
        }
    }

    #[test]
    fn times_of_day() {
        assert_eq!(time_of_day_micros("00:00:01.5"), Ok(1_500_000));
        assert_eq!(time_of_day_micros("23:59:59"), Ok(86_399_000_000));
        assert_eq!(
            time_of_day_micros("24:00:00"),
            Err(TextError::TimeOfDay("24:00:00".into()))
        );
        assert_eq!(time_of_day_micros("1:00:00"), Err(TextError::NotTime));
        assert_eq!(
            time_of_day_micros("00:00:01.1234567890")
                .unwrap_err()
                .to_string(),
            "has a bad fraction of a second `.1234567890` (1–9 digits)"
        );
    }
}
