//! Units written inside values: rates (`250/s`, `15k/min`, `0/s`, `max`),
//! durations (humantime: `500ms`, `1m30s`), amounts (`12` or `0.5%`) and
//! percentiles (`p99`, `p99.9`).
//!
//! Parsers return a short reason on failure; callers turn it into a located
//! [`super::diagnostic::Diagnostic`] with a help line.

use std::fmt;
use std::time::Duration;

/// Grammar of a rate, shared by the JSON Schema and the help text.
pub const RATE_PATTERN: &str =
    r"^\s*(max|[0-9]+(\.[0-9]+)?\s*[kKM]?\s*/\s*(s|sec|second|m|min|minute|h|hour))\s*$";
pub const RATE_HELP: &str = "write a rate as <number>/s, <number>/min or <number>/h, with an optional k or M multiplier (`250/s`, `15k/min`, `0/s` for idle) or `max`";
pub const DURATION_PATTERN: &str = r"^\s*[0-9]+\s*[a-zA-Zµ]+(\s*[0-9]+\s*[a-zA-Zµ]+)*\s*$";
pub const DURATION_HELP: &str = "write a duration with units, e.g. `500ms`, `30s`, `1m30s`, `2h`";

/// A message rate in messages per second, or the closed-model `max`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RateValue {
    PerSecond(f64),
    Max,
}

/// Parses `250/s`, `15k/min`, `1.5M/h`, `0/s`, `max`.
pub fn parse_rate(text: &str) -> Result<RateValue, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("max") {
        return Ok(RateValue::Max);
    }
    let Some((num, unit)) = t.split_once('/') else {
        return Err(format!("`{t}` has no time unit"));
    };
    let num = num.trim();
    let (digits, mult) = match num.chars().last() {
        Some('k' | 'K') => (&num[..num.len() - 1], 1e3),
        Some('M') => (&num[..num.len() - 1], 1e6),
        _ => (num, 1.0),
    };
    let digits = digits.trim();
    if digits.starts_with('-') {
        return Err(format!("`{t}` is negative; a rate is zero or more"));
    }
    if !digits.chars().all(|c| c.is_ascii_digit() || c == '.') || digits.is_empty() {
        return Err(format!("`{digits}` in `{t}` is not a number"));
    }
    let value: f64 = digits
        .parse()
        .map_err(|_| format!("`{digits}` in `{t}` is not a number"))?;
    let per = match unit.trim() {
        "s" | "sec" | "second" => 1.0,
        "m" | "min" | "minute" => 60.0,
        "h" | "hour" => 3600.0,
        other => return Err(format!("unknown time unit `{other}` in `{t}`")),
    };
    let rate = value * mult / per;
    if !rate.is_finite() {
        return Err(format!("`{t}` is not a finite rate"));
    }
    if rate > MAX_RATE_PER_SECOND {
        return Err(format!(
            "`{t}` is more than the {}M/s a phase may ask for",
            MAX_RATE_PER_SECOND / 1e6
        ));
    }
    Ok(RateValue::PerSecond(rate))
}

/// The highest rate a phase may ask for (per stream share and in total):
/// far above what one process sends, low enough that message counts and
/// instants never overflow.
pub const MAX_RATE_PER_SECOND: f64 = 100e6;
/// The longest a phase may last (a year): with [`MAX_RATE_PER_SECOND`], a
/// phase plans at most ~3.2·10^15 messages, inside what an event id numbers.
pub const MAX_PHASE_DURATION: Duration = Duration::from_secs(31_557_600);

/// Parses a humantime duration (`500ms`, `1m30s`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim()).map_err(|e| format!("`{text}` is not a duration: {e}"))
}

/// Formats a duration compactly and deterministically (`1m30s`, `250ms`).
pub fn format_duration(d: Duration) -> String {
    if d.is_zero() {
        return "0s".to_string();
    }
    humantime::format_duration(d).to_string().replace(' ', "")
}

/// Formats an elapsed time for progress lines: `850ms`, `5.1s`, `2m3s`.
pub fn format_elapsed(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms < 60_000 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format_duration(Duration::from_secs(d.as_secs()))
    }
}

/// Formats messages/s with at most 3 decimals, no trailing zeros (`12.5/s`).
pub fn format_rate(per_second: f64) -> String {
    format!("{}/s", format_number(per_second))
}

/// Formats a float with at most 3 decimals and no trailing zeros.
pub fn format_number(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.to_string() }
}

/// A measured rate for people: whole messages per second from 100/s up (a
/// run's 383,909.875/s is noise below the unit), one decimal below.
pub fn format_measured_rate(rate: f64) -> String {
    if rate >= 100.0 {
        format!("{rate:.0}/s")
    } else {
        format!("{}/s", format_number((rate * 10.0).round() / 10.0))
    }
}

/// An absolute count or a percentage (`12`, `0.5%`).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Amount {
    Count(u64),
    Percent(f64),
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Amount::Count(n) => write!(f, "{n}"),
            Amount::Percent(p) => write!(f, "{}%", format_number(*p)),
        }
    }
}

/// Parses `0.5%` or `12` (a string) into an [`Amount`].
pub fn parse_amount(text: &str) -> Result<Amount, String> {
    let t = text.trim();
    if let Some(p) = t.strip_suffix('%') {
        let v: f64 = p
            .trim()
            .parse()
            .map_err(|_| format!("`{t}` is not a percentage"))?;
        if !(0.0..=100.0).contains(&v) || !v.is_finite() {
            return Err(format!("`{t}` is outside 0%..100%"));
        }
        return Ok(Amount::Percent(v));
    }
    t.parse::<u64>()
        .map(Amount::Count)
        .map_err(|_| format!("`{t}` is neither a count nor a percentage"))
}

/// Parses `p99`, `p99.9`, `99` into a percentile in (0, 100].
pub fn parse_percentile(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let digits = t.strip_prefix(['p', 'P']).unwrap_or(t);
    let v: f64 = digits
        .parse()
        .map_err(|_| format!("`{t}` is not a percentile"))?;
    if v <= 0.0 || v > 100.0 || !v.is_finite() {
        return Err(format!("`{t}` must be above p0 and at most p100"));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        assert_eq!(parse_rate("250/s"), Ok(RateValue::PerSecond(250.0)));
        assert_eq!(parse_rate("15k/min"), Ok(RateValue::PerSecond(250.0)));
        assert_eq!(parse_rate("3.6M/h"), Ok(RateValue::PerSecond(1000.0)));
        assert_eq!(parse_rate(" 0/s "), Ok(RateValue::PerSecond(0.0)));
        assert_eq!(parse_rate("MAX"), Ok(RateValue::Max));
        assert!(parse_rate("-5/s").unwrap_err().contains("negative"));
        assert!(parse_rate("NaN/s").is_err());
        assert!(parse_rate("250").is_err());
        assert!(
            parse_rate("250/d")
                .unwrap_err()
                .contains("unknown time unit")
        );
    }

    #[test]
    fn rate_pattern_agrees_with_parser_on_examples() {
        let re = jsonschema_regex(RATE_PATTERN);
        for ok in ["250/s", "15k/min", "0/s", "max", "1.5M/h"] {
            assert!(re(ok), "{ok}");
            assert!(parse_rate(ok).is_ok(), "{ok}");
        }
        for bad in ["-5/s", "NaN/s", "250", "5/d"] {
            assert!(!re(bad), "{bad}");
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }

    fn jsonschema_regex(pattern: &str) -> impl Fn(&str) -> bool {
        let schema = serde_json::json!({"type": "string", "pattern": pattern});
        let v = jsonschema::validator_for(&schema).unwrap();
        move |s| v.is_valid(&serde_json::json!(s))
    }

    #[test]
    fn amounts_percentiles_durations() {
        assert_eq!(parse_amount("0.5%"), Ok(Amount::Percent(0.5)));
        assert_eq!(parse_amount("12"), Ok(Amount::Count(12)));
        assert!(parse_amount("150%").is_err());
        assert_eq!(parse_percentile("p99.9"), Ok(99.9));
        assert!(parse_percentile("p0").is_err());
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(format_duration(Duration::from_millis(90_500)), "1m30s500ms");
        assert_eq!(format_rate(12.5), "12.5/s");
        assert_eq!(format_number(1.0 / 3.0), "0.333");
    }
}
