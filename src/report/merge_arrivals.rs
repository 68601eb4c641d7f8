//! Arrivals of a sharded run against real queues: shard 0 collected every
//! message (handing messages back to their own shard would push them
//! towards the dead-letter queue) and matched its own sends.
//!
//! Event ids are a pure function of (seed, stream, n): shard 0 already
//! attributed the other shards' rate-limited records (counts and latency
//! per cell, [`crate::collect::attribute`]); for closed-model phases the
//! merge regenerates the ids each shard sent (as many as it scheduled, from
//! its report) and looks them up among the packed leftovers. Per cell:
//! expected = the shard's acknowledged count, arrived = ids found (more
//! than acknowledged: the excess arrived after a failed send), missing =
//! the rest. End-to-end latency of those messages is measured from their
//! planned instant on the shard's clock (closed-model phases have none).
//! Ids nobody sent stay `unknown`.

use std::collections::{BTreeMap, HashMap};

use hdrhistogram::Histogram;

use super::Report;
use super::merge_state::{MergeState, decode, shift, unpack_foreign};
use crate::collect::Accounting;
use crate::collect::accounting::CellCount;
use crate::datagen::StreamSeed;
use crate::engine::summary::Counts;
use crate::plan::Plan;
use crate::stats::Percentiles;
use crate::stats::latency_histogram;

pub struct ShardView<'a> {
    pub file: &'a str,
    pub report: &'a Report,
    pub state: &'a MergeState,
}

/// The counts of phase × stream in a shard report (zero when absent).
fn counts(report: &Report, phase: &str, stream: &str) -> Counts {
    report
        .run
        .phases
        .iter()
        .find(|p| p.name == phase)
        .and_then(|p| p.streams.iter().find(|s| s.name == stream))
        .map(|s| s.counts.clone())
        .unwrap_or_default()
}

pub fn from_leader(plan: &Plan, shards: Vec<ShardView<'_>>) -> Result<Accounting, String> {
    let leader = &shards[0];
    let mut acc: Accounting = leader
        .report
        .arrivals
        .clone()
        .ok_or_else(|| format!("{}: `arrivals` is missing", leader.file))?;
    // Shard 0's own cells with their histograms.
    let mut cells: BTreeMap<(usize, usize), (CellCount, Histogram<u64>)> = BTreeMap::new();
    for (i, c) in std::mem::take(&mut acc.cells).into_iter().enumerate() {
        let h = match leader.state.end_to_end.get(i) {
            Some(t) => decode(t).map_err(|e| format!("{}: {e}", leader.file))?,
            None => latency_histogram(),
        };
        let key = (
            plan.phases
                .iter()
                .position(|p| p.name == c.phase)
                .unwrap_or(usize::MAX),
            plan.streams
                .iter()
                .position(|s| s.name == c.stream)
                .unwrap_or(usize::MAX),
        );
        cells.insert(key, (c, h));
    }
    let mut foreign: HashMap<u128, (i64, u32)> = unpack_foreign(&leader.state.foreign_arrivals)
        .map_err(|e| format!("{}: {e}", leader.file))?
        .into_iter()
        .map(|(id, first, n)| (id, (first, n)))
        .collect();
    let seeds: Vec<StreamSeed> = plan
        .streams
        .iter()
        .map(|s| StreamSeed::new(plan.seed, &s.name))
        .collect();
    let mut found_by_queue: BTreeMap<String, u64> = BTreeMap::new();
    for sh in shards.iter().skip(1) {
        let shard = sh.state.shard;
        for p in &plan.phases {
            for ps in &p.streams {
                let Some(queue) = plan.streams[ps.stream].queue.clone() else {
                    continue;
                };
                let Some(first) = ps.first_seq else { continue };
                // Rate-limited phases: shard 0 attributed them already.
                let pre =
                    leader.state.foreign_cells.iter().find(|c| {
                        c.shard == shard.index && c.phase == p.name && c.stream == ps.name
                    });
                // (seq, planned offset from the run start) of what this shard
                // may have sent and shard 0 left to the merge.
                let candidates: Box<dyn Iterator<Item = (u64, Option<std::time::Duration>)>> =
                    match &ps.curve {
                        Some(_) if pre.is_some() => Box::new(std::iter::empty()),
                        Some(curve) => {
                            let n = curve.event_count();
                            let start = shard.next_owned(first);
                            Box::new((start..first + n).step_by(shard.count as usize).map(
                                move |seq| {
                                    (seq, curve.arrival_offset(seq - first).map(|o| p.offset + o))
                                },
                            ))
                        }
                        None => {
                            let k = counts(sh.report, &p.name, &ps.name).scheduled;
                            let (i, n) = (u64::from(shard.index), u64::from(shard.count));
                            Box::new((0..k).map(move |j| (first + i + n * j, None)))
                        }
                    };
                let (cell, hist) = cells.entry((p.index, ps.stream)).or_insert_with(|| {
                    (
                        CellCount {
                            phase: p.name.clone(),
                            stream: ps.name.clone(),
                            queue: queue.clone(),
                            ..CellCount::default()
                        },
                        latency_histogram(),
                    )
                });
                let mut arrived = 0u64;
                if let Some(c) = pre {
                    arrived = c.arrived;
                    cell.duplicates += c.duplicates;
                    // Measured on shard 0's clock: bring it to this shard's.
                    let delta = sh.state.started_at_us - leader.state.started_at_us;
                    let h = decode(&c.end_to_end).map_err(|e| format!("{}: {e}", leader.file))?;
                    let _ = hist.add(shift(&h, delta));
                }
                for (seq, offset) in candidates {
                    let id = seeds[ps.stream].event_id(seq).as_u128();
                    let Some((first_us, copies)) = foreign.remove(&id) else {
                        continue;
                    };
                    arrived += 1;
                    cell.duplicates += u64::from(copies.saturating_sub(1));
                    if let Some(off) = offset {
                        let planned_us = sh.state.started_at_us
                            + i64::try_from(off.as_micros()).unwrap_or(i64::MAX);
                        let _ =
                            hist.record(u64::try_from(first_us - planned_us).unwrap_or(0).max(1));
                    }
                }
                let expected = counts(sh.report, &p.name, &ps.name).acked;
                let counted = arrived.min(expected);
                cell.expected += expected;
                cell.arrived += counted;
                cell.missing += expected - counted;
                *found_by_queue.entry(queue.clone()).or_default() += arrived;
                let q = acc.queues.iter_mut().find(|q| q.queue == queue);
                if let Some(q) = q {
                    q.expected += expected;
                    q.arrived += counted;
                    q.missing += expected - counted;
                    q.arrived_after_failed_send += arrived - counted;
                }
            }
        }
    }
    // The duplicates of other shards' messages, found above, are queue duplicates too;
    // and what was found is no longer unknown.
    for q in &mut acc.queues {
        let found = found_by_queue.get(&q.queue).copied().unwrap_or(0);
        q.unknown = q.unknown.saturating_sub(found);
        q.duplicates = cells
            .values()
            .filter(|(c, _)| c.queue == q.queue)
            .map(|(c, _)| c.duplicates)
            .sum();
    }
    let mut by_phase: Vec<Histogram<u64>> =
        plan.phases.iter().map(|_| latency_histogram()).collect();
    let mut total = latency_histogram();
    acc.histograms.cells.clear();
    for ((pi, _), (mut c, h)) in cells {
        if let Some(b) = by_phase.get_mut(pi) {
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
    // What is left in `foreign` was sent by nobody in this run: it stays unknown.
    Ok(acc)
}
