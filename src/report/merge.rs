//! `report merge`: the reports of the N shards of one run → one report, as
//! if a single process had run the whole scenario. Counts add up, HDR
//! histograms merge (so percentiles are exact, not averaged), the
//! per-second timeline sums by plan second, and the assertions are
//! evaluated again against the whole plan.
//!
//! Refused, with the reason: reports that are not shard reports, shards
//! missing or given twice, different shard counts, or a plan digest that
//! differs from the scenario's (another scenario, seed or variables).
//!
//! Map: `Shard::read` (each input) → `check_complete` → `summary` (over the
//! merged `recorder`) and `accounting` (summed by `AccountingSum`, or
//! attributed by [`super::merge_arrivals`] when only shard 0 collected) →
//! assertions → report. `fill_cells` ends both ways of merging arrivals.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use super::merge_error::MergeError;
use super::merge_state::{MergeState, decode};
use super::{Parts, Report};
use crate::check::{self, Observed};
use crate::collect::Accounting;
use crate::collect::accounting::{CellCount, QueueCount};
use crate::engine::RunSummary;
use crate::engine::recorder::{Cell, Recorder, Second, latency_histogram};
use crate::engine::steering::SteeringEvent;
use crate::engine::summary::summarize;
use crate::plan::Plan;
use crate::stats::Percentiles;

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
    report: Report,
    state: MergeState,
}

fn shards_view(shards: &[Shard]) -> Vec<super::merge_arrivals::ShardView<'_>> {
    shards
        .iter()
        .map(|s| super::merge_arrivals::ShardView {
            file: &s.file,
            report: &s.report,
            state: &s.state,
        })
        .collect()
}

/// Merges shard reports (file name, parsed JSON) of `plan` (unsharded).
pub fn merge(
    plan: &Plan,
    description: Option<String>,
    inputs: Vec<(String, Value)>,
) -> Result<Report, MergeError> {
    if plan.shard.is_some() {
        return Err(MergeError::ShardedPlan);
    }
    let mut shards = inputs
        .into_iter()
        .map(|(file, v)| Shard::read(plan, file, &v))
        .collect::<Result<Vec<Shard>, MergeError>>()?;
    check_complete(&shards)?;
    shards.sort_by_key(|s| s.state.shard.index);

    let summary = summary(plan, &shards)?;
    let accounting = accounting(plan, &shards)?;
    // Shard 0 ran the setup and watched the backend; the others saw the same.
    let backend = shards[0].report.backend.clone();
    let depths = super::backend::final_depths(&backend);
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
        .filter_map(|s| humantime::parse_rfc3339_weak(&s.report.started_at).ok())
        .min()
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let sink = shards[0].report.sink.clone();
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
            started_at: s.report.started_at.clone(),
            passed: s.report.passed,
        })
        .collect();
    Ok(report)
}

impl Shard {
    /// One input read as a shard report of `plan`: refused when it is not a
    /// shard report or comes from another plan.
    fn read(plan: &Plan, file: String, v: &Value) -> Result<Shard, MergeError> {
        let Some(m) = v.get("merge").filter(|m| !m.is_null()) else {
            return Err(MergeError::NotShard { file });
        };
        let state = match MergeState::deserialize(m) {
            Ok(s) => s,
            Err(error) => return Err(MergeError::State { file, error }),
        };
        let report = match Report::deserialize(v) {
            Ok(r) => r,
            Err(error) => return Err(MergeError::NotReport { file, error }),
        };
        if state.plan_digest != plan.digest {
            return Err(MergeError::OtherPlan {
                file,
                digest: state.plan_digest,
                plan: plan.digest.clone(),
            });
        }
        Ok(Shard {
            file,
            report,
            state,
        })
    }
}

/// Refuses a set of shards that is not exactly shards 0..N of one N.
fn check_complete(shards: &[Shard]) -> Result<(), MergeError> {
    let Some(first) = shards.first() else {
        return Err(MergeError::Empty);
    };
    let n = first.state.shard.count;
    if let Some(s) = shards.iter().find(|s| s.state.shard.count != n) {
        return Err(MergeError::ShardCounts {
            first: first.file.clone(),
            first_shard: first.state.shard,
            other: s.file.clone(),
            other_shard: s.state.shard,
        });
    }
    let mut seen: BTreeMap<u32, &str> = BTreeMap::new();
    for s in shards {
        if let Some(other) = seen.insert(s.state.shard.index, &s.file) {
            return Err(MergeError::Twice {
                shard: s.state.shard,
                first: other.to_string(),
                second: s.file.clone(),
            });
        }
    }
    let missing: Vec<u32> = (0..n).filter(|i| !seen.contains_key(i)).collect();
    if !missing.is_empty() {
        return Err(MergeError::Missing { missing, count: n });
    }
    Ok(())
}

/// The run summary one process would have made: from the merged recorder,
/// the longest elapsed time, and every shard's steering in time order.
fn summary(plan: &Plan, shards: &[Shard]) -> Result<RunSummary, MergeError> {
    let recorder = recorder(plan, shards)?;
    let runs = || shards.iter().map(|s| &s.report.run);
    let elapsed = runs().map(|r| r.elapsed).max().unwrap_or(Duration::ZERO);
    let interrupted = runs().any(|r| r.interrupted);
    let phases_started = runs()
        .map(|r| r.phases.iter().filter(|p| p.started).count())
        .max()
        .unwrap_or(0);
    let mut summary = summarize(plan, &recorder, elapsed, interrupted, phases_started);
    summary.fatal = runs().find_map(|r| r.fatal.clone());
    let mut steering: Vec<SteeringEvent> = Vec::new();
    for s in shards {
        steering.extend(s.report.run.steering.iter().cloned().map(|mut e| {
            e.detail = format!("shard {}: {}", s.state.shard, e.detail);
            e
        }));
    }
    steering.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
    summary.steered = !steering.is_empty();
    summary.steering = steering;
    Ok(summary)
}

/// The recorder one process would have had: counts summed, histograms merged.
fn recorder(plan: &Plan, shards: &[Shard]) -> Result<Recorder, MergeError> {
    let mut cells: BTreeMap<(usize, usize), Cell> = BTreeMap::new();
    let mut seconds: Vec<Second> = Vec::new();
    let mut ack: BTreeMap<u64, crate::stats::SecondLatency> = BTreeMap::new();
    // Same plan, same slots: every shard recorded with this step.
    let step = crate::stats::timeline_step(plan.total_duration.as_secs_f64().ceil() as u64);
    for s in shards {
        for p in &plan.phases {
            let Some(rp) = s.report.run.phases.iter().find(|x| x.name == p.name) else {
                return Err(MergeError::NoPhase {
                    file: s.file.clone(),
                    phase: p.name.clone(),
                });
            };
            for ps in &p.streams {
                let Some(rs) = rp.streams.iter().find(|x| x.name == ps.name) else {
                    return Err(MergeError::NoStream {
                        file: s.file.clone(),
                        stream: ps.name.clone(),
                        phase: p.name.clone(),
                    });
                };
                let c = &rs.counts;
                let cell = cells.entry((p.index, ps.stream)).or_default();
                cell.scheduled += c.scheduled;
                cell.sent += c.sent;
                cell.acked += c.acked;
                cell.dropped += c.dropped;
                cell.retried += c.retried;
                for (k, v) in &c.failed_by_kind {
                    *cell.failed.entry(k.clone().into()).or_default() += v;
                }
                if let Some(h) = s
                    .state
                    .cells
                    .iter()
                    .find(|h| h.phase == p.name && h.stream == ps.name)
                {
                    let add = |into: &mut hdrhistogram::Histogram<u64>, text: &str| {
                        decode(text)
                            .and_then(|h| Ok(into.add(&h)?))
                            .map_err(|error| MergeError::Cell {
                                file: s.file.clone(),
                                phase: p.name.clone(),
                                stream: ps.name.clone(),
                                error,
                            })
                    };
                    add(&mut cell.latency, &h.send_ack)?;
                    add(&mut cell.lag, &h.lag)?;
                }
            }
        }
        for t in s.report.run.timeline.iter().cloned() {
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
fn accounting(plan: &Plan, shards: &[Shard]) -> Result<Option<Accounting>, MergeError> {
    let step = crate::stats::timeline_step(plan.total_duration.as_secs_f64().ceil() as u64);
    let counted = shards
        .iter()
        .filter(|s| s.report.arrivals.is_some())
        .count();
    if counted == 0 {
        return Ok(None);
    }
    if counted == 1 && shards.len() > 1 && shards[0].report.arrivals.is_some() {
        return super::merge_arrivals::from_leader(plan, shards_view(shards)).map(Some);
    }
    let mut parts = Vec::new();
    for s in shards {
        let Some(acc) = s.report.arrivals.clone() else {
            return Ok(None);
        };
        parts.push((s, acc));
    }
    let mut sum = AccountingSum::default();
    for (s, acc) in parts {
        sum.add(s, acc, step)?;
    }
    Ok(Some(sum.finish(plan, step)))
}

/// Shards' own arrivals being added up: queues by name, cells by
/// (phase, stream, queue) with their end-to-end histograms; the rest
/// (per second, samples, collector errors) straight into `out`.
#[derive(Default)]
struct AccountingSum {
    queues: BTreeMap<String, QueueCount>,
    cells: BTreeMap<(String, String, String), (CellCount, Histogram<u64>)>,
    out: Accounting,
}

impl AccountingSum {
    /// Adds shard `s`'s arrivals `acc` (timeline slots of `step` seconds).
    fn add(&mut self, s: &Shard, acc: Accounting, step: u64) -> Result<(), MergeError> {
        for q in acc.queues {
            let m = self.queues.entry(q.queue.clone()).or_default();
            m.queue = q.queue;
            m.expected += q.expected;
            m.arrived += q.arrived;
            m.missing += q.missing;
            m.duplicates += q.duplicates;
            m.unknown += q.unknown;
            m.arrived_after_failed_send += q.arrived_after_failed_send;
            m.arrived_in_flight += q.arrived_in_flight;
            m.received += q.received;
        }
        self.add_cells(s, acc.cells)?;
        // Per second: arrivals add up; percentiles cannot, so the worst shard's.
        let out = &mut self.out;
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
        Ok(())
    }

    /// Adds shard `s`'s arrivals cells, with their histograms from its merge state.
    fn add_cells(&mut self, s: &Shard, cells: Vec<CellCount>) -> Result<(), MergeError> {
        for (i, c) in cells.into_iter().enumerate() {
            let h = match s.state.end_to_end.get(i) {
                Some(t) => decode(t).map_err(|error| MergeError::ArrivalsCell {
                    file: s.file.clone(),
                    cell: i,
                    error,
                })?,
                None => latency_histogram(),
            };
            let key = (c.phase.clone(), c.stream.clone(), c.queue.clone());
            let (m, mh) = self.cells.entry(key).or_insert_with(|| {
                (
                    CellCount {
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
        Ok(())
    }

    /// The sums as one run's accounting: every timeline slot numbered, cells
    /// in plan order with their percentiles.
    fn finish(self, plan: &Plan, step: u64) -> Accounting {
        let mut out = self.out;
        for (i, m) in out.per_second.iter_mut().enumerate() {
            m.second = i as u64 * step; // also slots no shard had arrivals in
        }
        out.per_second
            .retain(|m| m.arrived > 0 || m.e2e_p99_us.is_some());
        out.unknown_samples.truncate(10);
        // Plan order (phase, then stream), as a single run lists them.
        let pos = |phase: &str, stream: &str| {
            (
                plan.phases.iter().position(|p| p.name == phase),
                plan.streams.iter().position(|s| s.name == stream),
            )
        };
        let mut cells: Vec<_> = self.cells.into_iter().collect();
        cells.sort_by_key(|((phase, stream, queue), _)| (pos(phase, stream), queue.clone()));
        out.queues = self.queues.into_values().collect();
        let cells = cells.into_iter().map(|((phase, _, _), (c, h))| {
            (plan.phases.iter().position(|p| p.name == phase), c, h)
        });
        fill_cells(&mut out, plan, cells);
        out
    }
}

/// Puts merged arrivals cells (phase index in the plan, count, end-to-end
/// histogram) into `acc` with their percentiles, and derives from them the
/// per-phase and total end-to-end latency; `complete` from `acc.queues`.
pub(super) fn fill_cells(
    acc: &mut Accounting,
    plan: &Plan,
    cells: impl IntoIterator<Item = (Option<usize>, CellCount, Histogram<u64>)>,
) {
    let mut by_phase: Vec<Histogram<u64>> =
        plan.phases.iter().map(|_| latency_histogram()).collect();
    let mut total = latency_histogram();
    for (phase, mut c, h) in cells {
        if let Some(b) = phase.and_then(|i| by_phase.get_mut(i)) {
            let _ = b.add(&h);
        }
        let _ = total.add(&h);
        c.end_to_end = Percentiles::of(&h);
        acc.cells.push(c);
        acc.histograms.cells.push(h);
    }
    acc.complete = acc.queues.iter().all(|q| q.missing == 0);
    acc.end_to_end_by_phase = by_phase.iter().map(Percentiles::of).collect();
    acc.end_to_end = Percentiles::of(&total);
    acc.histograms.by_phase = by_phase;
    acc.histograms.total = Some(total);
}
