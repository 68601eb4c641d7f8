//! Sharded runs, shard 0: which of the other shards' messages arrived.
//!
//! Shard 0 collects every message at the shared queues (handing a message
//! back to "its" shard would push it towards the dead-letter redrive).
//! Event ids are a pure function of (seed, stream, n), so for every
//! rate-limited phase shard 0 regenerates the ids each other shard was
//! planned to send and looks them up among the arrivals it could not match
//! to its own sends: per (shard, phase, stream) it keeps counts and an
//! end-to-end histogram, not the ids — the report stays O(phases × streams)
//! however long the run. What remains (closed-model phases, whose counts
//! only the other shards know, and ids nobody sent) travels packed for
//! `report merge`.
//!
//! End-to-end latency is measured from the record's planned instant on
//! shard 0's clock; `report merge` shifts it by the difference between the
//! shards' start times (zero with `--start-at`).

use std::collections::HashMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::datagen::StreamSeed;
use crate::plan::Plan;
use crate::stats::latency_histogram;

/// Another shard's arrivals in one rate-limited phase × stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ForeignCell {
    pub shard: u32,
    pub phase: String,
    pub stream: String,
    pub queue: String,
    /// Distinct event ids that arrived.
    pub arrived: u64,
    pub duplicates: u64,
    /// End-to-end latency from the planned instant on shard 0's clock, µs
    /// (HDR V2 + deflate, base64).
    pub end_to_end: String,
}

/// Shard 0 after collecting: the other shards' attributed cells, and the
/// arrivals left over (sorted by id) for `report merge`.
pub fn split(
    plan: &Plan,
    arrivals: &super::Arrivals,
    run_start: std::time::SystemTime,
) -> (Vec<ForeignCell>, Vec<(u128, i64, u32)>) {
    let mut foreign: HashMap<u128, (i64, u32)> = super::foreign(arrivals)
        .into_iter()
        .map(|(id, first, n)| (id, (first, n)))
        .collect();
    let start_us = run_start
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX));
    let cells = attribute(plan, start_us, &mut foreign);
    let mut rest: Vec<(u128, i64, u32)> =
        foreign.into_iter().map(|(id, (f, n))| (id, f, n)).collect();
    rest.sort_unstable();
    (cells, rest)
}

/// Attributes `foreign` arrivals (event id → first receive µs, copies) to
/// the other shards' rate-limited cells, removing what it attributes.
/// `plan` is shard 0's plan; `start_us` its start on the wall clock.
pub fn attribute(
    plan: &Plan,
    start_us: i64,
    foreign: &mut HashMap<u128, (i64, u32)>,
) -> Vec<ForeignCell> {
    let Some(me) = plan.shard else {
        return Vec::new();
    };
    let seeds: Vec<StreamSeed> = plan
        .streams
        .iter()
        .map(|s| StreamSeed::new(plan.seed, &s.name))
        .collect();
    let mut out = Vec::new();
    for index in (0..me.count).filter(|&i| i != me.index) {
        let Ok(shard) = crate::plan::Shard::new(index, me.count) else {
            continue;
        };
        for p in &plan.phases {
            for ps in &p.streams {
                let (Some(queue), Some(first), Some(curve)) = (
                    plan.streams[ps.stream].queue.as_ref(),
                    ps.first_seq,
                    ps.curve.as_ref(),
                ) else {
                    continue;
                };
                let mut cell = ForeignCell {
                    shard: index,
                    phase: p.name.clone(),
                    stream: ps.name.clone(),
                    queue: queue.clone(),
                    arrived: 0,
                    duplicates: 0,
                    end_to_end: String::new(),
                };
                let mut h: Histogram<u64> = latency_histogram();
                let end = first + curve.event_count();
                let mut seq = shard.next_owned(first);
                while seq < end {
                    let id = seeds[ps.stream].event_id(seq).as_u128();
                    if let Some((first_us, copies)) = foreign.remove(&id) {
                        cell.arrived += 1;
                        cell.duplicates += u64::from(copies.saturating_sub(1));
                        if let Some(off) = curve.arrival_offset(seq - first) {
                            let planned = start_us
                                + i64::try_from((p.offset + off).as_micros()).unwrap_or(i64::MAX);
                            let _ = h.record(u64::try_from(first_us - planned).unwrap_or(0).max(1));
                        }
                    }
                    seq += u64::from(shard.count);
                }
                cell.end_to_end = crate::report::merge_state::encode(&h);
                out.push(cell);
            }
        }
    }
    out
}
