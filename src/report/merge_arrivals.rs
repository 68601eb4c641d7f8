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
use std::time::Duration;

use hdrhistogram::Histogram;

use super::Report;
use super::merge::{MergeError, fill_cells};
use super::merge_state::{MergeState, StateError, decode, shift, unpack_foreign};
use crate::collect::Accounting;
use crate::collect::accounting::{CellCount, QueueCount};
use crate::datagen::StreamSeed;
use crate::engine::summary::Counts;
use crate::plan::{PhaseStream, Plan, PlanPhase};
use crate::stats::latency_histogram;

pub struct ShardView<'a> {
    pub file: &'a str,
    pub report: &'a Report,
    pub state: &'a MergeState,
}

impl ShardView<'_> {
    /// `error` in this shard's merge state.
    fn error(&self, error: StateError) -> MergeError {
        MergeError::Leader {
            file: self.file.to_string(),
            error,
        }
    }
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

/// A shard's arrivals cell with its end-to-end histogram, keyed by (phase
/// index, stream index) in the plan: plan order, as a single run lists them.
type Cells = BTreeMap<(usize, usize), (CellCount, Histogram<u64>)>;

pub fn from_leader(plan: &Plan, shards: Vec<ShardView<'_>>) -> Result<Accounting, MergeError> {
    let leader = &shards[0];
    let mut acc: Accounting =
        leader
            .report
            .arrivals
            .clone()
            .ok_or_else(|| MergeError::NoArrivals {
                file: leader.file.to_string(),
            })?;
    let cells = leader_cells(plan, leader, std::mem::take(&mut acc.cells))?;
    let foreign: HashMap<u128, (i64, u32)> = unpack_foreign(&leader.state.foreign_arrivals)
        .map_err(|e| leader.error(e))?
        .into_iter()
        .map(|(id, first, n)| (id, (first, n)))
        .collect();
    let mut merge = LeaderMerge {
        plan,
        leader,
        seeds: plan
            .streams
            .iter()
            .map(|s| StreamSeed::new(plan.seed, &s.name))
            .collect(),
        foreign,
        cells,
        found_by_queue: BTreeMap::new(),
    };
    for sh in shards.iter().skip(1) {
        for p in &plan.phases {
            for ps in &p.streams {
                merge.attribute(sh, p, ps, &mut acc.queues)?;
            }
        }
    }
    Ok(merge.finish(acc))
}

/// Shard 0's own cells with their histograms.
fn leader_cells(
    plan: &Plan,
    leader: &ShardView<'_>,
    own: Vec<CellCount>,
) -> Result<Cells, MergeError> {
    let mut cells = Cells::new();
    for (i, c) in own.into_iter().enumerate() {
        let h = match leader.state.end_to_end.get(i) {
            Some(t) => decode(t).map_err(|e| leader.error(e))?,
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
    Ok(cells)
}

/// The merge in progress: shard 0's cells, to which the other shards'
/// messages are added as their ids are found among the leftovers.
struct LeaderMerge<'a> {
    plan: &'a Plan,
    leader: &'a ShardView<'a>,
    seeds: Vec<StreamSeed>,
    /// Arrivals shard 0 left to the merge, by event id: (first receive µs, copies).
    foreign: HashMap<u128, (i64, u32)>,
    cells: Cells,
    /// Per queue: the other shards' messages found (no longer unknown).
    found_by_queue: BTreeMap<String, u64>,
}

impl LeaderMerge<'_> {
    /// Adds what shard `sh` sent in phase `p` × stream `ps` to its cell and queue.
    fn attribute(
        &mut self,
        sh: &ShardView<'_>,
        p: &PlanPhase,
        ps: &PhaseStream,
        queues: &mut [QueueCount],
    ) -> Result<(), MergeError> {
        let shard = sh.state.shard;
        let Some(queue) = self.plan.streams[ps.stream].queue.clone() else {
            return Ok(());
        };
        let Some(first) = ps.first_seq else {
            return Ok(());
        };
        // Rate-limited phases: shard 0 attributed them already.
        let pre = self
            .leader
            .state
            .foreign_cells
            .iter()
            .find(|c| c.shard == shard.index && c.phase == p.name && c.stream == ps.name);
        let candidates = candidates(sh, p, ps, first, pre.is_some());
        let (cell, hist) = self.cells.entry((p.index, ps.stream)).or_insert_with(|| {
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
            let delta = sh.state.started_at_us - self.leader.state.started_at_us;
            let h = decode(&c.end_to_end).map_err(|e| self.leader.error(e))?;
            let _ = hist.add(shift(&h, delta));
        }
        let seed = &self.seeds[ps.stream];
        for (seq, offset) in candidates {
            let Some((first_us, copies)) = self.foreign.remove(&seed.event_id(seq).as_u128())
            else {
                continue;
            };
            arrived += 1;
            cell.duplicates += u64::from(copies.saturating_sub(1));
            if let Some(off) = offset {
                let planned_us =
                    sh.state.started_at_us + i64::try_from(off.as_micros()).unwrap_or(i64::MAX);
                let _ = hist.record(u64::try_from(first_us - planned_us).unwrap_or(0).max(1));
            }
        }
        let expected = counts(sh.report, &p.name, &ps.name).acked;
        let counted = arrived.min(expected);
        cell.expected += expected;
        cell.arrived += counted;
        cell.missing += expected - counted;
        *self.found_by_queue.entry(queue.clone()).or_default() += arrived;
        if let Some(q) = queues.iter_mut().find(|q| q.queue == queue) {
            q.expected += expected;
            q.arrived += counted;
            q.missing += expected - counted;
            q.arrived_after_failed_send += arrived - counted;
        }
        Ok(())
    }

    /// The queues' unknown and duplicates corrected, the cells and their
    /// percentiles put back into `acc`.
    fn finish(self, mut acc: Accounting) -> Accounting {
        // The duplicates of other shards' messages, found above, are queue duplicates too;
        // and what was found is no longer unknown.
        for q in &mut acc.queues {
            let found = self.found_by_queue.get(&q.queue).copied().unwrap_or(0);
            q.unknown = q.unknown.saturating_sub(found);
            q.duplicates = self
                .cells
                .values()
                .filter(|(c, _)| c.queue == q.queue)
                .map(|(c, _)| c.duplicates)
                .sum();
        }
        acc.histograms.cells.clear();
        let cells = self
            .cells
            .into_iter()
            .map(|((pi, _), (c, h))| (Some(pi), c, h));
        fill_cells(&mut acc, self.plan, cells);
        // What is left in `foreign` was sent by nobody in this run: it stays unknown.
        acc
    }
}

/// (seq, planned offset from the run start) of what shard `sh` may have sent
/// in phase `p` × stream `ps` and shard 0 left to the merge: none when shard 0
/// attributed the cell already, every owned seq of a rate curve, the shard's
/// scheduled count of a closed-model phase (which has no planned instants).
fn candidates<'a>(
    sh: &ShardView<'_>,
    p: &'a PlanPhase,
    ps: &'a PhaseStream,
    first: u64,
    attributed: bool,
) -> Box<dyn Iterator<Item = (u64, Option<Duration>)> + 'a> {
    let shard = sh.state.shard;
    match &ps.curve {
        Some(_) if attributed => Box::new(std::iter::empty()),
        Some(curve) => {
            let n = curve.event_count();
            let start = shard.next_owned(first);
            Box::new(
                (start..first + n)
                    .step_by(shard.count as usize)
                    .map(move |seq| (seq, curve.arrival_offset(seq - first).map(|o| p.offset + o))),
            )
        }
        None => {
            let k = counts(sh.report, &p.name, &ps.name).scheduled;
            let (i, n) = (u64::from(shard.index), u64::from(shard.count));
            Box::new((0..k).map(move |j| (first + i + n * j, None)))
        }
    }
}
