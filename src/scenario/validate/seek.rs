//! `seek` rate shapes: the levels (`from`, `max`, `factor`), `hold`,
//! `precision` and the `until` bounds of a goal-seeking phase.

use std::time::Duration;

use super::Ctx;
use super::phases::numeric_rate;
use crate::scenario::spec::RateStr;
use crate::scenario::units::{Amount, DURATION_HELP, parse_amount, parse_duration};

/// A `seek` rate, every value checked and located.
pub(super) fn seek(
    cx: &mut Ctx<'_>,
    ptr: &str,
    (from, max): (&RateStr, &RateStr),
    factor: Option<f64>,
    hold: Option<&crate::scenario::spec::DurationStr>,
    precision: Option<&str>,
    until: Option<&crate::scenario::spec::SeekUntilSpec>,
) -> Option<crate::scenario::model::Seek> {
    let f = numeric_rate(cx, &format!("{ptr}/from"), from);
    let m = numeric_rate(cx, &format!("{ptr}/max"), max);
    let (f, m) = (f?, m?);
    let factor = factor.unwrap_or(2.0);
    let ok = check_growth(cx, ptr, f, m, factor);
    let hold = positive_duration(
        cx,
        ptr,
        "hold",
        hold.map(|h| h.0.as_str()),
        Duration::from_secs(20),
    );
    let p99 = match until.and_then(|u| u.p99.as_ref()) {
        Some(p) => Some(positive_duration(
            cx,
            ptr,
            "until/p99",
            Some(&p.0),
            Duration::ZERO,
        )?),
        None => None,
    };
    let precision = seek_precision(cx, ptr, precision);
    let dropped = until_amount(
        cx,
        ptr,
        "dropped",
        until.and_then(|u| u.dropped.as_ref()),
        Amount::Percent(0.1),
    );
    let errors = until_amount(
        cx,
        ptr,
        "errors",
        until.and_then(|u| u.errors.as_ref()),
        Amount::Count(0),
    );
    let (hold, precision, dropped, errors) = (hold?, precision?, dropped?, errors?);
    ok.then_some(crate::scenario::model::Seek {
        from: f,
        max: m,
        factor,
        hold,
        precision,
        p99,
        dropped,
        errors,
    })
}

/// `0 < from ≤ max` and a growth `factor` in (1, 10]; false when not.
fn check_growth(cx: &mut Ctx<'_>, ptr: &str, f: f64, m: f64, factor: f64) -> bool {
    let mut ok = true;
    if f <= 0.0 || m < f {
        cx.error(
            &format!("{ptr}/max"),
            "`seek` needs 0 < from ≤ max",
            "e.g. `from: 100/s, max: 50k/s`",
        );
        ok = false;
    }
    if !(factor > 1.0 && factor <= 10.0) {
        cx.error(
            &format!("{ptr}/factor"),
            format!("`factor` must be above 1 and at most 10 (got {factor})"),
            "the growth between levels, e.g. `2` (double) or `1.5`",
        );
        ok = false;
    }
    ok
}

/// A seek duration at `{ptr}/{key}` (`default` when absent): longer than 0s.
fn positive_duration(
    cx: &mut Ctx<'_>,
    ptr: &str,
    key: &str,
    text: Option<&str>,
    default: Duration,
) -> Option<Duration> {
    match text {
        None => Some(default),
        Some(t) => match parse_duration(t) {
            Ok(d) if !d.is_zero() => Some(d),
            Ok(_) => {
                cx.error(
                    &format!("{ptr}/{key}"),
                    "must be longer than 0s",
                    DURATION_HELP,
                );
                None
            }
            Err(e) => {
                cx.error(
                    &format!("{ptr}/{key}"),
                    format!("invalid duration: {e}"),
                    DURATION_HELP,
                );
                None
            }
        },
    }
}

/// The seek's bisection precision: a percentage in (0%, 50%], 2.5% by default.
fn seek_precision(cx: &mut Ctx<'_>, ptr: &str, precision: Option<&str>) -> Option<f64> {
    match precision.map(parse_amount) {
        None => Some(0.025),
        Some(Ok(Amount::Percent(p))) if p > 0.0 && p <= 50.0 => Some(p / 100.0),
        Some(_) => {
            cx.error(
                &format!("{ptr}/precision"),
                "`precision` must be a percentage above 0% and at most 50%",
                "e.g. `2.5%`: bisection stops when first bad and last good are that close",
            );
            None
        }
    }
}

/// A seek `until` amount (`default` when absent): a count or a percentage.
fn until_amount(
    cx: &mut Ctx<'_>,
    ptr: &str,
    key: &str,
    a: Option<&crate::scenario::spec::AmountSpec>,
    default: Amount,
) -> Option<Amount> {
    match a.map(|a| parse_amount(&a.as_text())) {
        None => Some(default),
        Some(Ok(v)) => Some(v),
        Some(Err(e)) => {
            cx.error(
                &format!("{ptr}/until/{key}"),
                format!("invalid amount: {e}"),
                "write a count (`12`) or a percentage (`0.5%`)",
            );
            None
        }
    }
}
