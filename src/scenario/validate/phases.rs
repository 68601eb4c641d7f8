//! Phases: durations, rate shapes, workers, in-flight budgets, modes and stream selection.

use std::time::Duration;

use super::Ctx;
use crate::scenario::model::{
    DEFAULT_MAX_IN_FLIGHT, DEFAULT_WORKERS, Load, MAX_IN_FLIGHT_LIMIT, MAX_WORKERS, Mode, Phase,
    RateShape, Stream,
};
use crate::scenario::schema_check::closest;
use crate::scenario::spec::{
    ModeSpec, PhaseSpec, RateShapeSpec, RateSpec, RateStr, ScenarioSpec, StepSpec,
};
use crate::scenario::units::{DURATION_HELP, RATE_HELP, RateValue, parse_duration, parse_rate};

pub(super) fn phases(
    cx: &mut Ctx<'_>,
    spec: &ScenarioSpec,
    stream_names: &[String],
    streams: &[Stream],
) -> Vec<Phase> {
    cx.unique_names(
        "phases",
        "phase",
        spec.phases.iter().map(|p| p.name.as_str()),
    );
    let mut mode = Mode::KafkaViaConnect;
    let mut workers = DEFAULT_WORKERS;
    let mut max_in_flight = DEFAULT_MAX_IN_FLIGHT;
    let mut out = Vec::new();
    for (i, p) in spec.phases.iter().enumerate() {
        // Inherited values carry on even past a broken phase, so later phases
        // are checked with what the user meant.
        if let Some(m) = p.mode {
            mode = match m {
                ModeSpec::KafkaViaConnect => Mode::KafkaViaConnect,
                ModeSpec::DirectSqs => Mode::DirectSqs,
            };
        }
        if let Some(w) = p.workers {
            workers = w;
        }
        if let Some(m) = p.max_in_flight {
            max_in_flight = m;
        }
        let limits = Limits {
            workers,
            max_in_flight,
        };
        if let Some(phase) = phase(cx, i, p, mode, limits, stream_names, streams) {
            out.push(phase);
        }
    }
    // Every phase × stream keeps its own latency histograms through the run and
    // the report (about 1.4 MB each): bound their number, not just the file's size.
    let cells: usize = out.iter().map(|p| p.streams.len()).sum();
    if cells > crate::scenario::model::MAX_PHASE_STREAMS {
        cx.error(
            "/phases",
            format!(
                "{} phases with {cells} phase × stream combinations are more than the {} a run keeps statistics for",
                out.len(),
                crate::scenario::model::MAX_PHASE_STREAMS
            ),
            "use a `steps` rate inside one phase for a fine-grained profile, or fewer streams per phase",
        );
    }
    // Each closed-model phase reserves 2^40 record numbers per stream, and
    // an event id carries 52 bits of record number.
    let closed = out
        .iter()
        .filter(|p| matches!(p.load, Load::Max | Load::Rate(RateShape::Seek(_))))
        .count() as u64;
    let fits = crate::datagen::MAX_SEQ >> 40;
    if closed >= fits {
        cx.error(
            "/phases",
            format!("{closed} `rate: max` phases are more than the {} a run can number", fits - 1),
            "each `rate: max` phase reserves 2^40 record numbers per stream; merge consecutive `max` phases",
        );
    }
    out
}

/// A phase's (inherited) lane count and in-flight budget.
#[derive(Clone, Copy)]
struct Limits {
    workers: u32,
    max_in_flight: u32,
}

fn phase(
    cx: &mut Ctx<'_>,
    i: usize,
    p: &PhaseSpec,
    mode: Mode,
    Limits {
        workers,
        max_in_flight,
    }: Limits,
    stream_names: &[String],
    streams: &[Stream],
) -> Option<Phase> {
    let ptr = format!("/phases/{i}");
    let duration = duration(cx, &ptr, p);
    let load = load(cx, &format!("{ptr}/rate"), &p.rate, duration);
    check_limits(cx, &ptr, workers, max_in_flight);
    let active = active_streams(cx, &ptr, p, stream_names);
    if mode == Mode::DirectSqs {
        check_queues(cx, &ptr, p, &active, stream_names, streams);
    }
    Some(Phase {
        name: p.name.clone(),
        duration: duration?,
        load: load?,
        workers,
        max_in_flight,
        mode,
        streams: active,
    })
}

/// The phase's duration: longer than 0, at most the limit.
fn duration(cx: &mut Ctx<'_>, ptr: &str, p: &PhaseSpec) -> Option<Duration> {
    match parse_duration(&p.duration.0) {
        Ok(d) if d > crate::scenario::units::MAX_PHASE_DURATION => {
            cx.error(
                &format!("{ptr}/duration"),
                format!(
                    "a phase may last at most {}",
                    crate::scenario::units::format_duration(
                        crate::scenario::units::MAX_PHASE_DURATION
                    )
                ),
                "split a longer test into runs, or lower the duration",
            );
            None
        }
        Ok(d) if d.is_zero() => {
            cx.error(
                &format!("{ptr}/duration"),
                "a phase must last longer than 0s",
                "give the phase a positive duration such as `30s`, or remove it",
            );
            None
        }
        Ok(d) => Some(d),
        Err(e) => {
            cx.error(
                &format!("{ptr}/duration"),
                format!("invalid duration: {e}"),
                DURATION_HELP,
            );
            None
        }
    }
}

/// Workers and the in-flight budget within their limits.
fn check_limits(cx: &mut Ctx<'_>, ptr: &str, workers: u32, max_in_flight: u32) {
    if workers == 0 {
        cx.error(
            &format!("{ptr}/workers"),
            "a phase needs at least 1 worker",
            "set `workers: 1` or more",
        );
    } else if workers > MAX_WORKERS {
        cx.error(
            &format!("{ptr}/workers"),
            format!("{workers} workers is more than the limit of {MAX_WORKERS}"),
            "workers are lanes that build and submit messages; a lane is not held while a message waits for its acknowledgement, so a few per core reach any rate (raise `max_in_flight` for more outstanding messages)",
        );
    }
    if !(1..=MAX_IN_FLIGHT_LIMIT).contains(&max_in_flight) {
        cx.error(
            &format!("{ptr}/max_in_flight"),
            format!("max_in_flight must be between 1 and {MAX_IN_FLIGHT_LIMIT} (got {max_in_flight})"),
            format!("the default is {DEFAULT_MAX_IN_FLIGHT}; a due message that finds the budget exhausted is counted as dropped"),
        );
    }
}

/// Indices of the streams the phase sends (all without `streams:`); each
/// listed stream must exist, once.
fn active_streams(
    cx: &mut Ctx<'_>,
    ptr: &str,
    p: &PhaseSpec,
    stream_names: &[String],
) -> Vec<usize> {
    match &p.streams {
        None => (0..stream_names.len()).collect(),
        Some(list) => {
            let mut idx = Vec::new();
            for (j, name) in list.iter().enumerate() {
                match stream_names.iter().position(|s| s == name) {
                    Some(k) if idx.contains(&k) => cx.error(
                        &format!("{ptr}/streams/{j}"),
                        format!("stream `{name}` is listed twice"),
                        "list each stream once",
                    ),
                    Some(k) => idx.push(k),
                    None => {
                        let help = match closest(name, stream_names) {
                            Some(b) => format!("did you mean `{b}`?"),
                            None => format!("defined streams: {}", dedup(stream_names).join(", ")),
                        };
                        cx.error(
                            &format!("{ptr}/streams/{j}"),
                            format!("unknown stream `{name}`"),
                            help,
                        );
                    }
                }
            }
            if list.is_empty() {
                cx.error(
                    &format!("{ptr}/streams"),
                    "a phase needs at least one stream",
                    "list a stream, or use `rate: 0/s` for a pause",
                );
            }
            idx
        }
    }
}

/// A phase that sends directly to SQS needs a queue on each of its streams.
fn check_queues(
    cx: &mut Ctx<'_>,
    ptr: &str,
    p: &PhaseSpec,
    active: &[usize],
    stream_names: &[String],
    streams: &[Stream],
) {
    for &k in active {
        if let Some(s) = streams.iter().find(|s| s.name == stream_names[k])
            && s.queue.is_none()
        {
            cx.error_at_key(
                &format!("{ptr}/name"),
                format!(
                    "phase `{}` sends directly to SQS but stream `{}` has no queue",
                    p.name, s.name
                ),
                format!(
                    "add `queue: <name>` to stream `{}`, or use mode `kafka_via_connect` here",
                    s.name
                ),
            );
        }
    }
}

fn rate(cx: &mut Ctx<'_>, pointer: &str, r: &RateStr) -> Option<RateValue> {
    match parse_rate(&r.0) {
        Ok(v) => Some(v),
        Err(e) => {
            cx.error(pointer, format!("invalid rate: {e}"), RATE_HELP);
            None
        }
    }
}

/// A rate that must be a number (not `max`) inside a shape.
pub(super) fn numeric_rate(cx: &mut Ctx<'_>, pointer: &str, r: &RateStr) -> Option<f64> {
    match rate(cx, pointer, r)? {
        RateValue::PerSecond(v) => Some(v),
        RateValue::Max => {
            cx.error(
                pointer,
                "`max` cannot be part of a rate shape",
                "use `rate: max` on its own for a closed-model phase",
            );
            None
        }
    }
}

fn load(cx: &mut Ctx<'_>, ptr: &str, spec: &RateSpec, duration: Option<Duration>) -> Option<Load> {
    match spec {
        RateSpec::Shorthand(r) => Some(match rate(cx, ptr, r)? {
            RateValue::Max => Load::Max,
            RateValue::PerSecond(0.0) => Load::Rate(RateShape::Idle),
            RateValue::PerSecond(v) => Load::Rate(RateShape::Constant { rate: v }),
        }),
        RateSpec::Shape(RateShapeSpec::Max {}) => Some(Load::Max),
        RateSpec::Shape(RateShapeSpec::Seek {
            from,
            max,
            factor,
            hold,
            precision,
            until,
        }) => super::seek::seek(
            cx,
            ptr,
            (from, max),
            *factor,
            hold.as_ref(),
            precision.as_deref(),
            until.as_ref(),
        )
        .map(|s| Load::Rate(RateShape::Seek(s))),
        RateSpec::Shape(RateShapeSpec::Idle {}) => Some(Load::Rate(RateShape::Idle)),
        RateSpec::Shape(RateShapeSpec::Constant { rate }) => {
            let v = numeric_rate(cx, &format!("{ptr}/rate"), rate)?;
            Some(Load::Rate(RateShape::Constant { rate: v }))
        }
        RateSpec::Shape(RateShapeSpec::Ramp { from, to }) => {
            let f = numeric_rate(cx, &format!("{ptr}/from"), from);
            let t = numeric_rate(cx, &format!("{ptr}/to"), to);
            Some(Load::Rate(RateShape::Ramp { from: f?, to: t? }))
        }
        RateSpec::Shape(RateShapeSpec::Steps { steps: list }) => steps(cx, ptr, list, duration),
    }
}

/// A `steps` rate: each step a valid `at` and rate, the first at 0s, in
/// increasing order, all before the end of the phase.
fn steps(
    cx: &mut Ctx<'_>,
    ptr: &str,
    steps: &[StepSpec],
    duration: Option<Duration>,
) -> Option<Load> {
    let mut out = Vec::new();
    let mut ok = true;
    for (j, s) in steps.iter().enumerate() {
        let sp = format!("{ptr}/steps/{j}");
        let at = match parse_duration(&s.at.0) {
            Ok(d) => Some(d),
            Err(e) => {
                cx.error(
                    &format!("{sp}/at"),
                    format!("invalid duration: {e}"),
                    DURATION_HELP,
                );
                None
            }
        };
        let r = numeric_rate(cx, &format!("{sp}/rate"), &s.rate);
        let (Some(at), Some(r)) = (at, r) else {
            ok = false;
            continue;
        };
        if j == 0 && !at.is_zero() {
            cx.error(
                &format!("{sp}/at"),
                "the first step must start at `0s`",
                "add a step `{ at: 0s, rate: … }` (use `0/s` for a quiet start)",
            );
            ok = false;
        }
        if let Some(&(prev, _)) = out.last()
            && at <= prev
        {
            cx.error(
                &format!("{sp}/at"),
                "steps must be in strictly increasing `at` order",
                "sort the steps by `at` and remove duplicates",
            );
            ok = false;
        }
        if let Some(d) = duration
            && at >= d
        {
            cx.error(
                &format!("{sp}/at"),
                format!(
                    "this step starts at or after the end of the phase ({})",
                    crate::scenario::units::format_duration(d)
                ),
                "steps must start before the phase ends: shorten `at` or lengthen `duration`",
            );
            ok = false;
        }
        out.push((at, r));
    }
    ok.then_some(Load::Rate(RateShape::Steps { steps: out }))
}

fn dedup(names: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for n in names {
        if !out.contains(n) {
            out.push(n.clone());
        }
    }
    out
}
