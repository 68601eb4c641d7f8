//! Assertions and report settings.

use std::time::Duration;

use super::Ctx;
use crate::scenario::model::{Assertion, Expect, ReportConfig, ReportFormat, ThroughputFloor};
use crate::scenario::schema_check::closest;
use crate::scenario::spec::assertions::{AssertionSpec, ExpectSpec};
use crate::scenario::spec::{AmountSpec, ScenarioSpec};
use crate::scenario::units::{
    Amount, DURATION_HELP, RateValue, parse_amount, parse_duration, parse_percentile, parse_rate,
};

pub(super) fn assertions(
    cx: &mut Ctx<'_>,
    spec: &ScenarioSpec,
    queues: &[String],
) -> Vec<Assertion> {
    let phases: Vec<String> = spec.phases.iter().map(|p| p.name.clone()).collect();
    let streams: Vec<String> = spec.streams.iter().map(|s| s.name.clone()).collect();
    let mut out = Vec::new();
    for (i, a) in spec.assertions.iter().enumerate() {
        let ptr = format!("/assertions/{i}");
        let mut r = Refs {
            cx,
            ptr: &ptr,
            ok: true,
        };
        let assertion = match a {
            AssertionSpec::Arrivals {
                queue,
                expect,
                tolerance,
                within,
                phase,
            } => {
                r.name("queue", Some(queue.as_str()), queues, "queue", "queues are created by a `create_queue` setup step or named by a stream's `queue`");
                r.name("phase", phase.as_deref(), &phases, "phase", "");
                let tolerance = tolerance
                    .as_ref()
                    .map_or(Some(Amount::Count(0)), |t| r.amount("tolerance", t));
                let within = within.as_ref().map_or(Some(Duration::from_secs(30)), |w| {
                    r.duration("within", &w.0)
                });
                Assertion::Arrivals {
                    queue: queue.clone(),
                    expect: match expect {
                        None | Some(ExpectSpec::Keyword(_)) => Expect::AllAcked,
                        Some(ExpectSpec::Count(n)) => Expect::Count(*n),
                    },
                    tolerance: tolerance.unwrap_or(Amount::Count(0)),
                    within: within.unwrap_or_default(),
                    phase: phase.clone(),
                }
            }
            AssertionSpec::Throughput { phase, stream, min } => {
                r.name("phase", phase.as_deref(), &phases, "phase", "");
                r.name("stream", stream.as_deref(), &streams, "stream", "");
                let floor = if let Some(p) = min.trim().strip_suffix('%') {
                    p.trim()
                        .parse::<f64>()
                        .ok()
                        .filter(|v| v.is_finite() && *v >= 0.0)
                        .map(ThroughputFloor::PercentOfTarget)
                } else {
                    match parse_rate(min) {
                        Ok(RateValue::PerSecond(v)) => Some(ThroughputFloor::Absolute(v)),
                        _ => None,
                    }
                };
                if floor.is_none() {
                    r.fail("min", format!("invalid throughput floor `{min}`"), "write a percentage of the target rate (`95%`) or an absolute rate (`190/s`)");
                }
                Assertion::Throughput {
                    phase: phase.clone(),
                    stream: stream.clone(),
                    min: floor.unwrap_or(ThroughputFloor::Absolute(0.0)),
                }
            }
            AssertionSpec::SustainableRate { phase, min } => {
                let seeking: Vec<String> = spec_seek_phases(spec);
                r.name("phase", phase.as_deref(), &seeking, "seek phase", "");
                if phase.is_none() && seeking.len() != 1 {
                    r.fail(
                        "type",
                        format!(
                            "`sustainable_rate` needs a `seek` phase; this scenario has {}",
                            seeking.len()
                        ),
                        "add `phase:` naming the seek phase, or a phase with `rate: { type: seek, … }`",
                    );
                }
                let min = match parse_rate(min) {
                    Ok(RateValue::PerSecond(v)) => v,
                    _ => {
                        r.fail(
                            "min",
                            format!("invalid rate `{min}`"),
                            "write a rate, e.g. `2k/s`",
                        );
                        0.0
                    }
                };
                Assertion::SustainableRate {
                    phase: phase.clone().or_else(|| seeking.first().cloned()),
                    min,
                }
            }
            AssertionSpec::Latency {
                metric,
                percentile,
                max,
                phase,
            } => {
                r.name("phase", phase.as_deref(), &phases, "phase", "");
                let pct = match parse_percentile(percentile) {
                    Ok(p) => p,
                    Err(e) => {
                        r.fail(
                            "percentile",
                            format!("invalid percentile: {e}"),
                            "write `p50`, `p99` or `p99.9`",
                        );
                        0.0
                    }
                };
                let max = r.duration("max", &max.0);
                Assertion::Latency {
                    metric: *metric,
                    percentile: pct,
                    max: max.unwrap_or_default(),
                    phase: phase.clone(),
                }
            }
            AssertionSpec::Errors { max, phase } => {
                r.name("phase", phase.as_deref(), &phases, "phase", "");
                let max = r.amount("max", max);
                Assertion::Errors {
                    max: max.unwrap_or(Amount::Count(0)),
                    phase: phase.clone(),
                }
            }
            AssertionSpec::Dropped { max, phase } => {
                r.name("phase", phase.as_deref(), &phases, "phase", "");
                let max = r.amount("max", max);
                Assertion::Dropped {
                    max: max.unwrap_or(Amount::Count(0)),
                    phase: phase.clone(),
                }
            }
            AssertionSpec::Duplicates { max, queue } => {
                r.name("queue", queue.as_deref(), queues, "queue", "");
                let max = r.amount("max", max);
                Assertion::Duplicates {
                    max: max.unwrap_or(Amount::Count(0)),
                    queue: queue.clone(),
                }
            }
            AssertionSpec::QueueDepth {
                queue,
                dead_letter,
                max,
            } => {
                r.name("queue", Some(queue), queues, "queue", "");
                Assertion::QueueDepth {
                    queue: queue.clone(),
                    dead_letter: dead_letter.unwrap_or(false),
                    max: *max,
                }
            }
        };
        if r.ok {
            out.push(assertion);
        }
    }
    out
}

/// Small helper so each assertion field check is one line.
struct Refs<'c, 'a> {
    cx: &'c mut Ctx<'a>,
    ptr: &'c str,
    ok: bool,
}

impl Refs<'_, '_> {
    fn fail(&mut self, key: &str, message: String, help: &str) {
        self.cx.error(&format!("{}/{key}", self.ptr), message, help);
        self.ok = false;
    }

    fn name(&mut self, key: &str, value: Option<&str>, known: &[String], what: &str, extra: &str) {
        let Some(v) = value else { return };
        if known.iter().any(|k| k == v) {
            return;
        }
        let mut help = match closest(v, known) {
            Some(b) => format!("did you mean `{b}`?"),
            None if known.is_empty() => format!("this scenario defines no {what}s"),
            None => format!("known {what}s: {}", known.join(", ")),
        };
        if !extra.is_empty() {
            help = format!("{help} ({extra})");
        }
        self.fail(key, format!("unknown {what} `{v}`"), &help);
    }

    fn amount(&mut self, key: &str, a: &AmountSpec) -> Option<Amount> {
        match parse_amount(&a.as_text()) {
            Ok(v) => Some(v),
            Err(e) => {
                self.fail(
                    key,
                    format!("invalid amount: {e}"),
                    "write a count (`12`) or a percentage (`0.5%`)",
                );
                None
            }
        }
    }

    fn duration(&mut self, key: &str, text: &str) -> Option<Duration> {
        match parse_duration(text) {
            Ok(d) => Some(d),
            Err(e) => {
                self.fail(key, format!("invalid duration: {e}"), DURATION_HELP);
                None
            }
        }
    }
}

pub(super) fn report(spec: &ScenarioSpec) -> ReportConfig {
    let r = spec.report.as_ref();
    ReportConfig {
        dir: r
            .and_then(|r| r.dir.clone())
            .unwrap_or_else(|| "reports/".into()),
        formats: r.and_then(|r| r.formats.clone()).unwrap_or_else(|| {
            vec![
                ReportFormat::Json,
                ReportFormat::Markdown,
                ReportFormat::Html,
                ReportFormat::Junit,
            ]
        }),
    }
}

/// Names of the phases whose rate is a `seek`.
fn spec_seek_phases(spec: &crate::scenario::spec::ScenarioSpec) -> Vec<String> {
    use crate::scenario::spec::{RateShapeSpec, RateSpec};
    spec.phases
        .iter()
        .filter(|p| matches!(p.rate, RateSpec::Shape(RateShapeSpec::Seek { .. })))
        .map(|p| p.name.clone())
        .collect()
}
