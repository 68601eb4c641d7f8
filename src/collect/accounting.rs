//! Reconciliation: what was sent (the ledger) against what arrived, per
//! queue and per phase × stream — arrived, missing, duplicates, late — plus
//! end-to-end latency (envelope `sent_at` → first receive).

use std::collections::{BTreeMap, HashMap};

use hdrhistogram::Histogram;
use serde::Serialize;

use super::arrivals::{Arrival, Unknown};
use super::ledger::Sent;
use crate::engine::summary::Percentiles;

/// Arrival counts of one queue.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
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
    /// Every message received from the queue.
    pub received: u64,
}

/// Arrival counts of one stream in one phase.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize, schemars::JsonSchema)]
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

use crate::engine::recorder::latency_histogram as histogram;

/// Compares sends and arrivals. `run_end_us` is the wall clock at the end
/// of the last phase (arrivals after it are "late").
pub fn reconcile(
    layout: &Layout,
    sent: &HashMap<u128, Sent>,
    arrived: &HashMap<u128, Arrival>,
    received: &HashMap<String, u64>,
    unknown_samples: Vec<Unknown>,
    unknown_without_id: u64,
    run_end_us: i64,
) -> Accounting {
    let mut cells: BTreeMap<(u32, u32), CellCount> = BTreeMap::new();
    let mut cell_hist: BTreeMap<(u32, u32), Histogram<u64>> = BTreeMap::new();
    let mut queues: BTreeMap<String, QueueCount> = BTreeMap::new();
    for (name, count) in received {
        queues.entry(name.clone()).or_default().received = *count;
    }
    for (_, q) in layout.streams.iter() {
        if let Some(q) = q {
            queues.entry(q.clone()).or_default();
        }
    }
    let mut by_phase: Vec<Histogram<u64>> = layout.phases.iter().map(|_| histogram()).collect();
    let mut total = histogram();
    for (id, s) in sent {
        let Some((stream_name, Some(queue))) = layout.streams.get(s.stream as usize) else {
            continue;
        };
        let arrival = arrived.get(id);
        let q = queues.entry(queue.clone()).or_default();
        if !s.acked {
            if arrival.is_some() {
                q.arrived_after_failed_send += 1;
            }
            continue;
        }
        let cell = cells
            .entry((s.phase, s.stream))
            .or_insert_with(|| CellCount {
                phase: layout
                    .phases
                    .get(s.phase as usize)
                    .cloned()
                    .unwrap_or_default(),
                stream: stream_name.clone(),
                queue: queue.clone(),
                ..CellCount::default()
            });
        cell.expected += 1;
        q.expected += 1;
        match arrival {
            Some(a) => {
                cell.arrived += 1;
                q.arrived += 1;
                let dup = u64::from(a.count.saturating_sub(1));
                cell.duplicates += dup;
                q.duplicates += dup;
                if a.first_us > run_end_us {
                    cell.late += 1;
                }
                let latency = u64::try_from(a.first_us.saturating_sub(s.sent_at_us))
                    .unwrap_or(0)
                    .max(1);
                let h = cell_hist
                    .entry((s.phase, s.stream))
                    .or_insert_with(histogram);
                let _ = h.record(latency);
                if let Some(ph) = by_phase.get_mut(s.phase as usize) {
                    let _ = ph.record(latency);
                }
                let _ = total.record(latency);
            }
            None => {
                cell.missing += 1;
                q.missing += 1;
            }
        }
    }
    // Arrivals that match no send of this run.
    let unknown_ids = arrived.keys().filter(|id| !sent.contains_key(id)).count() as u64;
    let unknown_total = unknown_ids + unknown_without_id;
    attribute_unknown(&mut queues, &unknown_samples, unknown_total);
    let mut cell_hists = Vec::with_capacity(cells.len());
    let cells = cells
        .into_iter()
        .map(|(k, mut c)| {
            let h = cell_hist.remove(&k).unwrap_or_else(histogram);
            c.end_to_end = Percentiles::of(&h);
            cell_hists.push(h);
            c
        })
        .collect();
    let complete = queues.values().all(|q| q.missing == 0);
    Accounting {
        queues: queues
            .into_iter()
            .map(|(name, mut q)| {
                q.queue = name;
                q
            })
            .collect(),
        cells,
        end_to_end_by_phase: by_phase.iter().map(Percentiles::of).collect(),
        end_to_end: Percentiles::of(&total),
        complete,
        unknown_samples,
        collector_errors: Vec::new(),
        histograms: E2eHistograms {
            by_phase,
            total: Some(total),
            cells: cell_hists,
        },
        foreign: Vec::new(),
        foreign_cells: Vec::new(),
    }
}

/// Unknown messages are counted at the queue they came from when that is
/// known from the samples; otherwise at the first queue.
fn attribute_unknown(queues: &mut BTreeMap<String, QueueCount>, samples: &[Unknown], total: u64) {
    if total == 0 {
        return;
    }
    let only = samples
        .first()
        .map(|s| s.queue.clone())
        .filter(|q| samples.iter().all(|s| &s.queue == q));
    let key = only.or_else(|| queues.keys().next().cloned());
    if let Some(k) = key {
        queues.entry(k).or_default().unknown += total;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(phase: u32, stream: u32, seq: u64, acked: bool) -> Sent {
        Sent {
            phase,
            stream,
            seq,
            sent_at_us: 1_000_000 + seq as i64,
            acked,
        }
    }

    #[test]
    fn counts_arrived_missing_duplicates_and_late_per_cell() {
        let layout = Layout {
            phases: vec!["a".into(), "b".into()],
            streams: vec![("cards".into(), Some("q".into())), ("nowhere".into(), None)],
        };
        let mut s = HashMap::new();
        s.insert(1, sent(0, 0, 0, true));
        s.insert(2, sent(0, 0, 1, true));
        s.insert(3, sent(1, 0, 2, true));
        s.insert(4, sent(1, 0, 3, false));
        s.insert(5, sent(1, 1, 0, true)); // no queue: not counted
        let mut a = HashMap::new();
        a.insert(1, Arrival::new(2, 1_000_500));
        a.insert(3, Arrival::new(1, 9_000_000));
        a.insert(4, Arrival::new(1, 1_000_900));
        a.insert(99, Arrival::new(1, 1));
        let received = HashMap::from([("q".to_string(), 5)]);
        let acc = reconcile(&layout, &s, &a, &received, vec![], 2, 5_000_000);
        assert_eq!(acc.queues.len(), 1);
        let q = &acc.queues[0];
        assert_eq!(
            (
                q.expected,
                q.arrived,
                q.missing,
                q.duplicates,
                q.unknown,
                q.arrived_after_failed_send,
                q.received
            ),
            (3, 2, 1, 1, 3, 1, 5)
        );
        assert_eq!(acc.cells.len(), 2);
        let (c0, c1) = (&acc.cells[0], &acc.cells[1]);
        assert_eq!(
            (
                c0.phase.as_str(),
                c0.expected,
                c0.arrived,
                c0.missing,
                c0.duplicates
            ),
            ("a", 2, 1, 1, 1)
        );
        assert_eq!(
            (c1.phase.as_str(), c1.expected, c1.arrived, c1.late),
            ("b", 1, 1, 1)
        );
        assert_eq!(c0.end_to_end.count, 1);
        assert!(!acc.complete);
        assert_eq!(acc.end_to_end.count, 2);
    }
}
