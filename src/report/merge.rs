//! `report merge`: the reports of the N shards of one run → one report, as
//! if a single process had run the whole scenario. Counts add up, HDR
//! histograms merge (so percentiles are exact, not averaged), the
//! per-second timeline sums by plan second, and the assertions are
//! evaluated again against the whole plan.
//!
//! Refused, with the reason: reports that are not shard reports, shards
//! missing or given twice, different shard counts, or a plan digest that
//! differs from the scenario's (another scenario, seed or variables).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::merge_state::{MergeState, decode};
use super::{Parts, Report};
use crate::check::{self, Observed};
use crate::collect::Accounting;
use crate::engine::recorder::{Cell, Recorder, Second, latency_histogram};
use crate::engine::steering::SteeringEvent;
use crate::engine::summary::{Counts, TimelinePoint, summarize};
use crate::plan::Plan;

/// A shard report that went into a merged report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Source {
    pub shard: u32,
    pub file: String,
    pub started_at: String,
    pub passed: bool,
}

/// One parsed shard report.
struct Shard {
    file: String,
    v: Value,
    state: MergeState,
}

fn shards_view(shards: &[Shard]) -> Vec<super::merge_arrivals::ShardView<'_>> {
    shards
        .iter()
        .map(|s| super::merge_arrivals::ShardView {
            file: &s.file,
            report: &s.v,
            state: &s.state,
        })
        .collect()
}

fn field<T: serde::de::DeserializeOwned>(v: &Value, file: &str, what: &str) -> Result<T, String> {
    serde_json::from_value(v.clone()).map_err(|e| format!("{file}: `{what}` cannot be read: {e}"))
}

/// Error kinds are a small fixed vocabulary; the recorder keys them by
/// `&'static str`.
fn kind(k: &str) -> &'static str {
    Box::leak(k.to_string().into_boxed_str())
}

/// Merges shard reports (file name, parsed JSON) of `plan` (unsharded).
pub fn merge(
    plan: &Plan,
    description: Option<String>,
    inputs: Vec<(String, Value)>,
) -> Result<Report, String> {
    if plan.shard.is_some() {
        return Err("merge needs the unsharded plan".into());
    }
    let mut shards: Vec<Shard> = Vec::new();
    for (file, v) in inputs {
        let Some(m) = v.get("merge").filter(|m| !m.is_null()) else {
            return Err(format!(
                "{file} is not a shard report (no `merge` section): only reports of `run --shard I/N` can be merged"
            ));
        };
        let state: MergeState = field(m, &file, "merge")?;
        if state.plan_digest != plan.digest {
            return Err(format!(
                "{file} was produced from a different plan than this scenario's (another scenario version, seed or variables): its digest is {}, the scenario's {}",
                short(&state.plan_digest),
                short(&plan.digest)
            ));
        }
        shards.push(Shard { file, v, state });
    }
    let Some(first) = shards.first() else {
        return Err("no reports to merge".into());
    };
    let n = first.state.shard.count;
    if let Some(s) = shards.iter().find(|s| s.state.shard.count != n) {
        return Err(format!(
            "{} is shard {} but {} is shard {}: all reports must come from the same number of shards",
            first.file, first.state.shard, s.file, s.state.shard
        ));
    }
    let mut seen: BTreeMap<u32, &str> = BTreeMap::new();
    for s in &shards {
        if let Some(other) = seen.insert(s.state.shard.index, &s.file) {
            return Err(format!(
                "shard {} is given twice ({other} and {})",
                s.state.shard, s.file
            ));
        }
    }
    let missing: Vec<String> = (0..n)
        .filter(|i| !seen.contains_key(i))
        .map(|i| i.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "shard(s) {} of {n} are missing: a merged report must cover every shard",
            missing.join(", ")
        ));
    }
    shards.sort_by_key(|s| s.state.shard.index);

    let recorder = recorder(plan, &shards)?;
    let elapsed = shards
        .iter()
        .filter_map(|s| s.v["run"]["elapsed"].as_str())
        .filter_map(|t| humantime::parse_duration(t).ok())
        .max()
        .unwrap_or(Duration::ZERO);
    let interrupted = shards
        .iter()
        .any(|s| s.v["run"]["interrupted"].as_bool() == Some(true));
    let phases_started = shards
        .iter()
        .map(|s| {
            s.v["run"]["phases"]
                .as_array()
                .map_or(0, |p| p.iter().filter(|p| p["started"] == true).count())
        })
        .max()
        .unwrap_or(0);
    let mut summary = summarize(plan, &recorder, elapsed, interrupted, phases_started);
    summary.fatal = shards
        .iter()
        .find_map(|s| s.v["run"]["fatal"].as_str())
        .map(str::to_string);
    let mut steering: Vec<SteeringEvent> = Vec::new();
    for s in &shards {
        let events: Vec<SteeringEvent> =
            field(&s.v["run"]["steering"], &s.file, "run.steering").unwrap_or_default();
        steering.extend(events.into_iter().map(|mut e| {
            e.detail = format!("shard {}: {}", s.state.shard, e.detail);
            e
        }));
    }
    steering.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
    summary.steered = !steering.is_empty();
    summary.steering = steering;

    let accounting = accounting(plan, &shards)?;
    // Shard 0 ran the setup and watched the backend; the others saw the same.
    let backend: Vec<super::backend::Snapshot> = if shards[0].v["backend"].is_null() {
        Vec::new()
    } else {
        field(&shards[0].v["backend"], &shards[0].file, "backend")?
    };
    let depths = crate::ops::finish::final_depths(&backend);
    let verdicts = check::evaluate(
        plan,
        &Observed {
            plan,
            summary: &summary,
            accounting: accounting.as_ref(),
            depths: &depths,
        },
    );
    let started_at = shards
        .iter()
        .filter_map(|s| s.v["started_at"].as_str())
        .filter_map(|t| humantime::parse_rfc3339_weak(t).ok())
        .min()
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let sink = shards[0].v["sink"]
        .as_str()
        .unwrap_or("unknown")
        .to_string();
    let mut report = Report::new(Parts {
        plan,
        description,
        started_at,
        sink: &sink,
        summary,
        accounting,
        verdicts,
        backend,
    });
    report.merged_from = shards
        .iter()
        .map(|s| Source {
            shard: s.state.shard.index,
            file: s.file.clone(),
            started_at: s.v["started_at"].as_str().unwrap_or_default().to_string(),
            passed: s.v["passed"].as_bool().unwrap_or(false),
        })
        .collect();
    Ok(report)
}

fn short(digest: &str) -> &str {
    &digest[..digest.len().min(12)]
}

/// The recorder one process would have had: counts summed, histograms merged.
fn recorder(plan: &Plan, shards: &[Shard]) -> Result<Recorder, String> {
    let mut cells: BTreeMap<(usize, usize), Cell> = BTreeMap::new();
    let mut seconds: Vec<Second> = Vec::new();
    let mut ack: BTreeMap<u64, crate::stats::SecondLatency> = BTreeMap::new();
    // Same plan, same slots: every shard recorded with this step.
    let step = crate::stats::timeline_step(plan.total_duration.as_secs_f64().ceil() as u64);
    for s in shards {
        for p in &plan.phases {
            let Some(rp) = s.v["run"]["phases"]
                .as_array()
                .and_then(|a| a.iter().find(|x| x["name"] == p.name.as_str()))
            else {
                return Err(format!("{}: phase `{}` is missing", s.file, p.name));
            };
            for ps in &p.streams {
                let Some(rs) = rp["streams"]
                    .as_array()
                    .and_then(|a| a.iter().find(|x| x["name"] == ps.name.as_str()))
                else {
                    return Err(format!(
                        "{}: stream `{}` of phase `{}` is missing",
                        s.file, ps.name, p.name
                    ));
                };
                let c: Counts = field(&rs["counts"], &s.file, "counts")?;
                let cell = cells.entry((p.index, ps.stream)).or_default();
                cell.scheduled += c.scheduled;
                cell.sent += c.sent;
                cell.acked += c.acked;
                cell.dropped += c.dropped;
                cell.retried += c.retried;
                for (k, v) in &c.failed_by_kind {
                    *cell.failed.entry(kind(k)).or_default() += v;
                }
                if let Some(h) = s
                    .state
                    .cells
                    .iter()
                    .find(|h| h.phase == p.name && h.stream == ps.name)
                {
                    let add = |into: &mut hdrhistogram::Histogram<u64>, text: &str| {
                        decode(text)
                            .and_then(|h| into.add(&h).map_err(|e| format!("{e:?}")))
                            .map_err(|e| {
                                format!("{}: phase `{}` stream `{}`: {e}", s.file, p.name, ps.name)
                            })
                    };
                    add(&mut cell.latency, &h.send_ack)?;
                    add(&mut cell.lag, &h.lag)?;
                }
            }
        }
        let timeline: Vec<TimelinePoint> = field(&s.v["run"]["timeline"], &s.file, "run.timeline")?;
        for t in timeline {
            let i = crate::stats::timeline_slot(t.second, step);
            if seconds.len() <= i {
                seconds.resize(i + 1, Second::default());
            }
            let sec = &mut seconds[i];
            sec.scheduled += t.scheduled;
            sec.acked += t.acked;
            sec.failed += t.failed;
            sec.dropped += t.dropped;
            for (kind, n) in t.failed_by_kind {
                *sec.failed_by_kind.entry(kind.into()).or_default() += n;
            }
            // Per-second percentiles cannot be added up: the merged second shows the
            // worst shard's (an upper bound, which is what a chart of p99 is read for).
            if let (Some(p50), Some(p99)) = (t.ack_p50_us, t.ack_p99_us) {
                let a = ack.entry(i as u64).or_insert(crate::stats::SecondLatency {
                    second: i as u64,
                    ..Default::default()
                });
                a.count += t.acked;
                a.p50_us = a.p50_us.max(p50);
                a.p99_us = a.p99_us.max(p99);
            }
        }
    }
    Ok(Recorder::from_parts(
        cells,
        step,
        seconds,
        ack.into_values().collect(),
    ))
}

/// Arrivals of all shards: summed when every shard counted its own (virtual
/// clock), attributed by event id when shard 0 collected for all (real
/// queues), `None` when nobody counted.
fn accounting(plan: &Plan, shards: &[Shard]) -> Result<Option<Accounting>, String> {
    let step = crate::stats::timeline_step(plan.total_duration.as_secs_f64().ceil() as u64);
    let counted = shards.iter().filter(|s| !s.v["arrivals"].is_null()).count();
    if counted == 0 {
        return Ok(None);
    }
    if counted == 1 && shards.len() > 1 && !shards[0].v["arrivals"].is_null() {
        return super::merge_arrivals::from_leader(plan, shards_view(shards)).map(Some);
    }
    let mut parts = Vec::new();
    for s in shards {
        let a = &s.v["arrivals"];
        if a.is_null() {
            return Ok(None);
        }
        let acc: Accounting = field(a, &s.file, "arrivals")?;
        parts.push((s, acc));
    }
    let mut queues: BTreeMap<String, crate::collect::accounting::QueueCount> = BTreeMap::new();
    let mut cells: BTreeMap<
        (String, String, String),
        (
            crate::collect::accounting::CellCount,
            hdrhistogram::Histogram<u64>,
        ),
    > = BTreeMap::new();
    let mut out = Accounting::default();
    for (s, acc) in parts {
        for q in acc.queues {
            let m = queues.entry(q.queue.clone()).or_default();
            m.queue = q.queue;
            m.expected += q.expected;
            m.arrived += q.arrived;
            m.missing += q.missing;
            m.duplicates += q.duplicates;
            m.unknown += q.unknown;
            m.arrived_after_failed_send += q.arrived_after_failed_send;
            m.received += q.received;
        }
        for (i, c) in acc.cells.into_iter().enumerate() {
            let h = match s.state.end_to_end.get(i) {
                Some(t) => decode(t).map_err(|e| format!("{}: arrivals cell {i}: {e}", s.file))?,
                None => latency_histogram(),
            };
            let key = (c.phase.clone(), c.stream.clone(), c.queue.clone());
            let (m, mh) = cells.entry(key).or_insert_with(|| {
                (
                    crate::collect::accounting::CellCount {
                        phase: c.phase.clone(),
                        stream: c.stream.clone(),
                        queue: c.queue.clone(),
                        ..Default::default()
                    },
                    latency_histogram(),
                )
            });
            m.expected += c.expected;
            m.arrived += c.arrived;
            m.missing += c.missing;
            m.duplicates += c.duplicates;
            m.late += c.late;
            let _ = mh.add(&h);
        }
        // Per second: arrivals add up; percentiles cannot, so the worst shard's.
        for a in acc.per_second {
            let i = crate::stats::timeline_slot(a.second, step);
            if out.per_second.len() <= i {
                out.per_second.resize_with(i + 1, Default::default);
            }
            let m = &mut out.per_second[i];
            m.arrived += a.arrived;
            m.e2e_p50_us = m.e2e_p50_us.max(a.e2e_p50_us);
            m.e2e_p99_us = m.e2e_p99_us.max(a.e2e_p99_us);
        }
        out.unknown_samples.extend(acc.unknown_samples);
        out.collector_errors.extend(
            acc.collector_errors
                .into_iter()
                .map(|e| format!("shard {}: {e}", s.state.shard)),
        );
    }
    for (i, m) in out.per_second.iter_mut().enumerate() {
        m.second = i as u64 * step; // also slots no shard had arrivals in
    }
    out.per_second
        .retain(|m| m.arrived > 0 || m.e2e_p99_us.is_some());
    out.unknown_samples.truncate(10);
    let mut by_phase: Vec<hdrhistogram::Histogram<u64>> =
        plan.phases.iter().map(|_| latency_histogram()).collect();
    let mut total = latency_histogram();
    // Plan order (phase, then stream), as a single run lists them.
    let pos = |phase: &str, stream: &str| {
        (
            plan.phases.iter().position(|p| p.name == phase),
            plan.streams.iter().position(|s| s.name == stream),
        )
    };
    let mut cells: Vec<_> = cells.into_iter().collect();
    cells.sort_by_key(|((phase, stream, queue), _)| (pos(phase, stream), queue.clone()));
    for ((phase, _, _), (c, h)) in cells {
        if let Some(i) = plan.phases.iter().position(|p| p.name == phase) {
            let _ = by_phase[i].add(&h);
        }
        let _ = total.add(&h);
        let mut c = c;
        c.end_to_end = crate::stats::Percentiles::of(&h);
        out.cells.push(c);
        out.histograms.cells.push(h);
    }
    out.queues = queues.into_values().collect();
    out.complete = out.queues.iter().all(|q| q.missing == 0);
    out.end_to_end_by_phase = by_phase.iter().map(crate::stats::Percentiles::of).collect();
    out.end_to_end = crate::stats::Percentiles::of(&total);
    out.histograms.by_phase = by_phase;
    out.histograms.total = Some(total);
    Ok(Some(out))
}
