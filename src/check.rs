//! Assertions → verdicts. Pure: everything measured is passed in, so the
//! same run data always gives the same verdicts (and tests need no stack).
//!
//! Each verdict carries what was observed, the bound it was held to, and
//! per-phase details a reader needs to act ("phase plateau: 20 missing").

use serde::Serialize;

use crate::collect::Accounting;
use crate::engine::RunSummary;
use crate::plan::Plan;
use crate::plan::describe::group;
use crate::scenario::model::{Assertion, Expect, LatencyMetric, ThroughputFloor};
use crate::scenario::units::{Amount, format_duration, format_number, format_rate};

/// Outcome of one assertion.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Passed,
    Failed,
    /// Not measurable in this run (e.g. arrivals with `--sink null`).
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct Verdict {
    /// 1-based position in the scenario's `assertions:`.
    pub index: usize,
    pub kind: std::borrow::Cow<'static, str>,
    /// The assertion as the plan states it.
    pub description: String,
    pub observed: String,
    pub bound: String,
    pub status: Status,
    pub details: Vec<String>,
}

/// Queue depth at the end of the run.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct QueueDepth {
    pub queue: String,
    pub dead_letter: bool,
    pub depth: u64,
}

/// Everything assertions are checked against.
#[derive(Debug, Clone, Copy)]
pub struct Observed<'a> {
    pub plan: &'a Plan,
    pub summary: &'a RunSummary,
    /// `None` when arrivals were not counted (`--sink null|file`).
    pub accounting: Option<&'a Accounting>,
    pub depths: &'a [QueueDepth],
}

pub fn evaluate(plan: &Plan, obs: &Observed<'_>) -> Vec<Verdict> {
    plan.checks
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let mut v = one(a, obs);
            v.index = i + 1;
            v.description = crate::plan::steps_text::assertion_text(a, plan);
            v
        })
        .collect()
}

/// Overall: failed if any verdict failed.
pub fn passed(verdicts: &[Verdict]) -> bool {
    verdicts.iter().all(|v| v.status != Status::Failed)
}

fn verdict(kind: &'static str, observed: String, bound: String, ok: bool) -> Verdict {
    Verdict {
        index: 0,
        kind: kind.into(),
        description: String::new(),
        observed,
        bound,
        status: if ok { Status::Passed } else { Status::Failed },
        details: Vec::new(),
    }
}

fn skipped(kind: &'static str, why: &str) -> Verdict {
    Verdict {
        status: Status::Skipped,
        ..verdict(kind, why.to_string(), String::new(), true)
    }
}

/// Phase indices an assertion covers.
fn phases(obs: &Observed<'_>, phase: &Option<String>) -> Vec<usize> {
    match phase {
        Some(name) => obs
            .summary
            .phases
            .iter()
            .position(|p| &p.name == name)
            .into_iter()
            .collect(),
        None => (0..obs.summary.phases.len()).collect(),
    }
}

/// `part` of `whole` within `max`.
fn within(part: u64, whole: u64, max: Amount) -> (bool, String) {
    match max {
        Amount::Count(n) => (part <= n, n.to_string()),
        Amount::Percent(p) => {
            let pct = if whole == 0 {
                0.0
            } else {
                part as f64 * 100.0 / whole as f64
            };
            (pct <= p + 1e-9, format!("{}% of {whole}", format_number(p)))
        }
    }
}

fn one(a: &Assertion, obs: &Observed<'_>) -> Verdict {
    match a {
        Assertion::Arrivals {
            queue,
            expect,
            tolerance,
            phase,
            ..
        } => arrivals(obs, queue, *expect, *tolerance, phase),
        Assertion::Throughput { phase, stream, min } => throughput(obs, phase, stream, *min),
        Assertion::SustainableRate { phase, min } => sustainable_rate(obs, phase.as_deref(), *min),
        Assertion::Latency {
            metric,
            percentile,
            max,
            phase,
        } => latency(obs, *metric, *percentile, *max, phase),
        Assertion::Errors { max, phase } => {
            let idx = phases(obs, phase);
            let (failed, sent) = idx.iter().fold((0, 0), |(f, s), i| {
                let c = &obs.summary.phases[*i].counts;
                (f + c.failed, s + c.sent)
            });
            let (ok, bound) = within(failed, sent, *max);
            let mut v = verdict(
                "errors",
                format!("{} failed of {} sent", group(failed), group(sent)),
                format!("≤ {bound}"),
                ok,
            );
            for i in idx {
                let c = &obs.summary.phases[i].counts;
                for (kind, n) in &c.failed_by_kind {
                    v.details.push(format!(
                        "phase {}: {n} × {kind}",
                        obs.summary.phases[i].name
                    ));
                }
            }
            v
        }
        Assertion::Dropped { max, phase } => {
            let (dropped, scheduled) = phases(obs, phase).iter().fold((0, 0), |(d, s), i| {
                let c = &obs.summary.phases[*i].counts;
                (d + c.dropped, s + c.scheduled)
            });
            let (ok, bound) = within(dropped, scheduled, *max);
            verdict(
                "dropped",
                format!(
                    "{} dropped of {} scheduled",
                    group(dropped),
                    group(scheduled)
                ),
                format!("≤ {bound}"),
                ok,
            )
        }
        Assertion::Duplicates { max, queue } => {
            let Some(acc) = obs.accounting else {
                return skipped("duplicates", "arrivals were not counted in this run");
            };
            let (dups, arrived) = acc
                .queues
                .iter()
                .filter(|q| queue.as_ref().is_none_or(|name| &q.queue == name))
                .fold((0, 0), |(d, a), q| (d + q.duplicates, a + q.arrived));
            let (ok, bound) = within(dups, arrived, *max);
            verdict(
                "duplicates",
                format!("{} duplicate(s) of {} arrived", group(dups), group(arrived)),
                format!("≤ {bound}"),
                ok,
            )
        }
        Assertion::QueueDepth {
            queue,
            dead_letter,
            max,
        } => match obs
            .depths
            .iter()
            .find(|d| &d.queue == queue && d.dead_letter == *dead_letter)
        {
            Some(d) => verdict(
                "queue_depth",
                d.depth.to_string(),
                format!("≤ {max}"),
                d.depth <= *max,
            ),
            None => skipped(
                "queue_depth",
                "the queue depth was not measured in this run",
            ),
        },
    }
}

fn arrivals(
    obs: &Observed<'_>,
    queue: &str,
    expect: Expect,
    tolerance: Amount,
    phase: &Option<String>,
) -> Verdict {
    let Some(acc) = obs.accounting else {
        return skipped(
            "arrivals",
            "arrivals were not counted in this run (--sink replaces SQS)",
        );
    };
    let cells: Vec<_> = acc
        .cells
        .iter()
        .filter(|c| c.queue == queue && phase.as_ref().is_none_or(|p| &c.phase == p))
        .collect();
    let acked: u64 = cells.iter().map(|c| c.expected).sum();
    let arrived: u64 = cells.iter().map(|c| c.arrived).sum();
    let expected = match expect {
        Expect::AllAcked => acked,
        Expect::Count(n) => n,
    };
    let allowed = match tolerance {
        Amount::Count(n) => n as f64,
        Amount::Percent(p) => expected as f64 * p / 100.0,
    };
    let diff = arrived.abs_diff(expected);
    let ok = diff as f64 <= allowed + 1e-9;
    let mut v = verdict(
        "arrivals",
        format!(
            "{} of {} arrived ({} missing)",
            group(arrived),
            group(expected),
            group(expected.saturating_sub(arrived))
        ),
        format!("{} ± {}", group(expected), format_number(allowed)),
        ok,
    );
    // Per phase and stream, so a reader sees where messages went missing.
    for c in &cells {
        if c.missing > 0 || c.duplicates > 0 {
            v.details.push(format!(
                "phase {} stream {}: {} expected, {} arrived, {} missing, {} duplicate(s)",
                c.phase, c.stream, c.expected, c.arrived, c.missing, c.duplicates
            ));
        }
    }
    if let Some(q) = acc.queues.iter().find(|q| q.queue == queue) {
        if q.unknown > 0 {
            v.details.push(format!(
                "{} message(s) at {queue} were not from this run",
                q.unknown
            ));
        }
        if q.arrived_after_failed_send > 0 {
            v.details.push(format!(
                "{} message(s) arrived although their send was reported failed",
                q.arrived_after_failed_send
            ));
        }
        if q.arrived_in_flight > 0 {
            v.details.push(format!(
                "{} message(s) arrived whose answer had not come when the run ended (in flight)",
                q.arrived_in_flight
            ));
        }
    }
    v
}

fn sustainable_rate(obs: &Observed<'_>, phase: Option<&str>, min: f64) -> Verdict {
    let found = obs
        .summary
        .seek
        .iter()
        .find(|s| phase.is_none_or(|p| s.phase == p));
    let Some(found) = found else {
        return skipped(
            "sustainable_rate",
            "the seek phase did not run (the run stopped before it)",
        );
    };
    let rate = found.sustainable_rate.unwrap_or(0.0);
    let observed = match (found.sustainable_rate, found.first_failing_rate) {
        (Some(r), Some(b)) => format!(
            "{} sustainable; {} failed: {}",
            format_rate(r),
            format_rate(b),
            found.failing_bound.as_deref().unwrap_or("")
        ),
        (Some(r), None) => format!("{} sustainable (the highest level tried)", format_rate(r)),
        (None, _) => format!(
            "no level was sustainable ({})",
            found.failing_bound.as_deref().unwrap_or("")
        ),
    };
    let mut v = verdict(
        "sustainable_rate",
        observed,
        format!("≥ {}", format_rate(min)),
        rate >= min,
    );
    if !found.complete {
        v.details
            .push("the search did not converge before the phase ended: a lower bound".into());
    }
    v
}

fn throughput(
    obs: &Observed<'_>,
    phase: &Option<String>,
    stream: &Option<String>,
    min: ThroughputFloor,
) -> Verdict {
    let mut worst: Option<(f64, f64, String)> = None; // (achieved, floor, phase)
    let mut details = Vec::new();
    for i in phases(obs, phase) {
        let p = &obs.summary.phases[i];
        let secs = p.duration.as_secs_f64();
        let (acked, share) = match stream {
            Some(name) => {
                let acked = p
                    .streams
                    .iter()
                    .find(|s| &s.name == name)
                    .map_or(0, |s| s.counts.acked);
                let share = obs.plan.phases[i]
                    .streams
                    .iter()
                    .find(|s| &s.name == name)
                    .map_or(0.0, |s| s.share);
                (acked, share)
            }
            None => (p.counts.acked, 1.0),
        };
        let achieved = acked as f64 / secs;
        let floor = match min {
            ThroughputFloor::Absolute(r) => r,
            ThroughputFloor::PercentOfTarget(pct) => match p.target_rate {
                Some(t) => t * share * pct / 100.0,
                // Closed-model phases have no target: only absolute floors apply.
                None if phase.is_none() => continue,
                None => 0.0,
            },
        };
        details.push(format!(
            "phase {}: {} (floor {})",
            p.name,
            format_rate(achieved),
            format_rate(floor)
        ));
        let margin = achieved - floor;
        if worst.as_ref().is_none_or(|(a, f, _)| margin < a - f) {
            worst = Some((achieved, floor, p.name.clone()));
        }
    }
    let Some((achieved, floor, name)) = worst else {
        return skipped("throughput", "no phase with a target rate in scope");
    };
    let mut v = verdict(
        "throughput",
        format!("{} in phase {name}", format_rate(achieved)),
        format!("≥ {}", format_rate(floor)),
        achieved + 1e-9 >= floor,
    );
    v.details = details;
    v
}

fn latency(
    obs: &Observed<'_>,
    metric: LatencyMetric,
    percentile: f64,
    max: std::time::Duration,
    phase: &Option<String>,
) -> Verdict {
    let idx = phases(obs, phase);
    let hists: Vec<&hdrhistogram::Histogram<u64>> = match metric {
        LatencyMetric::SendAck => idx
            .iter()
            .filter_map(|i| obs.summary.send_ack.get(*i))
            .collect(),
        LatencyMetric::EndToEnd => match obs.accounting {
            Some(acc) => idx
                .iter()
                .filter_map(|i| acc.histograms.by_phase.get(*i))
                .collect(),
            None => {
                return skipped(
                    "latency",
                    "end-to-end latency needs arrivals, which were not counted",
                );
            }
        },
    };
    let mut merged = crate::engine::recorder::latency_histogram();
    for h in hists {
        let _ = merged.add(h);
    }
    if merged.is_empty() {
        return skipped(
            "latency",
            "no message was acknowledged or received in scope",
        );
    }
    let us = merged.value_at_quantile(percentile / 100.0);
    let observed = std::time::Duration::from_micros(us);
    verdict(
        "latency",
        format!("p{} = {}", format_number(percentile), fmt_latency(observed)),
        format!("≤ {}", format_duration(max)),
        observed <= max,
    )
}

/// `12.3ms`, `1.24s`: readable, and stable enough for reports.
pub fn fmt_latency(d: std::time::Duration) -> String {
    let us = d.as_micros();
    if us < 1_000 {
        format!("{us}µs")
    } else if us < 1_000_000 {
        format!("{}ms", format_number(us as f64 / 1_000.0))
    } else {
        format!("{}s", format_number(us as f64 / 1_000_000.0))
    }
}
