//! Reconciliation: what was sent (bitmaps of acknowledged and failed record
//! numbers per phase × stream) against what arrived (bitmaps per stream),
//! per queue and per phase × stream — arrived, missing, duplicates, late,
//! unknown — plus end-to-end latency (carried `sent_at` → first arrival).

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::arrivals::{StreamTally, Tally, Unknown};
use super::sends::CellSends;
use crate::stats::Percentiles;

/// Arrival counts of one queue.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct QueueCount {
    pub queue: String,
    /// Acknowledged sends of the streams that count at this queue.
    pub expected: u64,
    /// Distinct expected messages that arrived.
    pub arrived: u64,
    pub missing: u64,
    /// Extra copies of messages that arrived more than once.
    pub duplicates: u64,
    /// Messages without one of this run's event ids.
    pub unknown: u64,
    /// Messages whose send was reported failed but that arrived anyway.
    pub arrived_after_failed_send: u64,
    /// Messages still awaiting their answer when the run ended (after a stop,
    /// or past `--grace`) that arrived anyway: sent by this run, never acked.
    #[serde(skip_serializing_if = "is_zero")]
    pub arrived_in_flight: u64,
    /// Every message received from the queue.
    pub received: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Arrival counts of one stream in one phase.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct CellCount {
    pub phase: String,
    pub stream: String,
    pub queue: String,
    pub expected: u64,
    pub arrived: u64,
    pub missing: u64,
    pub duplicates: u64,
    /// Arrived after the last phase ended (during the settle window).
    pub late: u64,
    pub end_to_end: Percentiles,
}

/// The far end's view of the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct Accounting {
    pub queues: Vec<QueueCount>,
    pub cells: Vec<CellCount>,
    /// End-to-end latency per phase (index = phase), then of the whole run.
    pub end_to_end_by_phase: Vec<Percentiles>,
    pub end_to_end: Percentiles,
    /// Whether every expected message arrived before the settle window closed.
    pub complete: bool,
    pub unknown_samples: Vec<Unknown>,
    /// Collector problems (receive/delete errors), empty when healthy.
    pub collector_errors: Vec<String>,
    /// First arrivals and end-to-end percentiles per timeline slot (`second` is
    /// the slot's start; slots without arrivals are left out).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_second: Vec<ArrivalSecond>,
    #[serde(skip)]
    pub histograms: E2eHistograms,
    /// Sharded runs, shard 0: arrivals whose event id is not among this
    /// shard's sends — (event id, first receive µs, copies) — for `report
    /// merge` to attribute to the other shards.
    #[serde(skip)]
    pub foreign: Vec<(u128, i64, u32)>,
    /// Sharded runs, shard 0: the other shards' arrivals it attributed.
    #[serde(skip)]
    pub foreign_cells: Vec<super::attribute::ForeignCell>,
}

/// One second of arrivals (seconds since the run's start).
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct ArrivalSecond {
    pub second: u64,
    pub arrived: u64,
    /// End-to-end p50/p99 of the arrivals that carried their send time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e2e_p50_us: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e2e_p99_us: Option<u64>,
}

/// Joins the per-slot arrival counts with the per-slot latencies; slots
/// without arrivals are left out.
pub fn per_second(
    arrived: &[u64],
    e2e: &[crate::stats::SecondLatency],
    step: u64,
) -> Vec<ArrivalSecond> {
    let mut e2e = e2e.iter().peekable();
    let mut out = Vec::new();
    let n = arrived
        .len()
        .max(e2e.clone().last().map_or(0, |l| l.second as usize + 1));
    for i in 0..n {
        while e2e.next_if(|l| (l.second as usize) < i).is_some() {}
        let l = e2e.next_if(|l| l.second as usize == i);
        let count = arrived.get(i).copied().unwrap_or(0);
        if count == 0 && l.is_none() {
            continue;
        }
        out.push(ArrivalSecond {
            second: i as u64 * step.max(1),
            arrived: count,
            e2e_p50_us: l.map(|l| l.p50_us),
            e2e_p99_us: l.map(|l| l.p99_us),
        });
    }
    out
}

/// Raw end-to-end histograms (µs), for assertions on any percentile.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct E2eHistograms {
    pub by_phase: Vec<Histogram<u64>>,
    pub total: Option<Histogram<u64>>,
    /// Per entry of [`Accounting::cells`], same order (for merging shards).
    pub cells: Vec<Histogram<u64>>,
}

/// Static facts about the run's streams and phases.
#[derive(Debug, Clone)]
pub struct Layout {
    pub phases: Vec<String>,
    /// Stream name and the queue its arrivals are counted at.
    pub streams: Vec<(String, Option<String>)>,
}

use crate::stats::latency_histogram as histogram;

/// Compares sends (per phase × stream, by record number) with what
/// arrived. Late arrivals were marked as they came (see
/// [`super::Arrivals::mark_run_end`]).
pub fn reconcile(
    layout: &Layout,
    sent: &BTreeMap<(u32, u32), CellSends>,
    tally: &Tally,
) -> Accounting {
    let mut queues = queues(layout, tally);
    let empty = StreamTally::default();
    let arrived_of = |stream: u32| tally.streams.get(stream as usize).unwrap_or(&empty);
    let mut cells = Cells::new(layout, tally);
    for (&(phase, stream), c) in sent {
        let Some((stream_name, Some(queue))) = layout.streams.get(stream as usize) else {
            continue;
        };
        let q = queues.entry(queue.clone()).or_default();
        cells.add(
            (phase, stream),
            (stream_name, queue),
            c,
            arrived_of(stream),
            q,
        );
    }
    // Numbers of our streams that arrived but that this run never sent
    // (an earlier run's leftovers without a send time to tell them by).
    for (stream, (_, queue)) in layout.streams.iter().enumerate() {
        let Some(queue) = queue else { continue };
        let t = arrived_of(stream as u32);
        let sent = cells.sent_by_stream.get(&(stream as u32));
        let ours = sent.map_or(0, |s| t.seen.intersection_len(s));
        queues.entry(queue.clone()).or_default().unknown += t.seen.len() - ours;
    }
    cells.into_accounting(queues)
}

/// Every queue: those messages were received at (with what nobody sent) and
/// those streams are counted at, counts still to come.
fn queues(layout: &Layout, tally: &Tally) -> BTreeMap<String, QueueCount> {
    let mut queues: BTreeMap<String, QueueCount> = BTreeMap::new();
    for (name, count) in &tally.received {
        queues.entry(name.clone()).or_default().received = *count;
    }
    for (name, count) in &tally.unknown {
        queues.entry(name.clone()).or_default().unknown = *count;
    }
    for q in layout.streams.iter().filter_map(|(_, q)| q.as_ref()) {
        queues.entry(q.clone()).or_default();
    }
    queues
}

/// The phase × stream cells being counted, with their end-to-end histograms.
struct Cells<'a> {
    layout: &'a Layout,
    tally: &'a Tally,
    /// Per stream: every number sent (acked or not), to tell our arrivals
    /// from numbers this run never sent.
    sent_by_stream: BTreeMap<u32, roaring::RoaringTreemap>,
    cells: Vec<CellCount>,
    cell_hists: Vec<Histogram<u64>>,
    by_phase: Vec<Histogram<u64>>,
    total: Histogram<u64>,
}

impl<'a> Cells<'a> {
    fn new(layout: &'a Layout, tally: &'a Tally) -> Self {
        Cells {
            layout,
            tally,
            sent_by_stream: BTreeMap::new(),
            cells: Vec::new(),
            cell_hists: Vec::new(),
            by_phase: layout.phases.iter().map(|_| histogram()).collect(),
            total: histogram(),
        }
    }

    /// Counts the sends `c` of phase × stream against the stream's arrivals
    /// `t`, into queue `q`; a cell is kept when something was acknowledged.
    fn add(
        &mut self,
        (phase, stream): (u32, u32),
        (stream_name, queue): (&str, &str),
        c: &CellSends,
        t: &StreamTally,
        q: &mut QueueCount,
    ) {
        let all = self.sent_by_stream.entry(stream).or_default();
        *all |= &c.acked;
        *all |= &c.failed;
        q.arrived_after_failed_send += c.failed.intersection_len(&t.seen);
        if c.acked.is_empty() {
            return;
        }
        let expected = c.acked.len();
        let arrived = c.acked.intersection_len(&t.seen);
        let duplicates = t.extra_copies(&c.acked);
        q.expected += expected;
        q.arrived += arrived;
        q.missing += expected - arrived;
        q.duplicates += duplicates;
        let h = self
            .tally
            .latency
            .get(&(phase, stream))
            .cloned()
            .unwrap_or_else(histogram);
        if let Some(ph) = self.by_phase.get_mut(phase as usize) {
            let _ = ph.add(&h);
        }
        let _ = self.total.add(&h);
        self.cells.push(CellCount {
            phase: self
                .layout
                .phases
                .get(phase as usize)
                .cloned()
                .unwrap_or_default(),
            stream: stream_name.to_string(),
            queue: queue.to_string(),
            expected,
            arrived,
            missing: expected - arrived,
            duplicates,
            late: c.acked.intersection_len(&t.late),
            end_to_end: Percentiles::of(&h),
        });
        self.cell_hists.push(h);
    }

    /// The counted cells and `queues` (named, in name order) as the run's accounting.
    fn into_accounting(self, queues: BTreeMap<String, QueueCount>) -> Accounting {
        let tally = self.tally;
        let complete = queues.values().all(|q| q.missing == 0);
        Accounting {
            queues: queues
                .into_iter()
                .map(|(name, mut q)| {
                    q.queue = name;
                    q
                })
                .collect(),
            cells: self.cells,
            end_to_end_by_phase: self.by_phase.iter().map(Percentiles::of).collect(),
            end_to_end: Percentiles::of(&self.total),
            complete,
            unknown_samples: tally.unknown_samples.clone(),
            collector_errors: Vec::new(),
            per_second: per_second(
                &tally.arrived_per_second,
                &tally.e2e_per_second,
                tally.timeline_step,
            ),
            histograms: E2eHistograms {
                by_phase: self.by_phase,
                total: Some(self.total),
                cells: self.cell_hists,
            },
            foreign: Vec::new(),
            foreign_cells: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests;
