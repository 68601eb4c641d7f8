//! What a shard's report carries so `report merge` can rebuild the run as if
//! one process had made it: shard identity, the plan digest, and the raw HDR
//! histograms behind every percentile (V2 + deflate, base64) — percentiles
//! cannot be merged, histograms can. Counts are already in the report.

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer as _, V2DeflateSerializer};
use serde::{Deserialize, Serialize};

use crate::collect::Accounting;
use crate::engine::RunSummary;
use crate::plan::{Plan, Shard};

/// Why a packed histogram or the packed foreign arrivals cannot be read back.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("histogram is not base64: {0}")]
    HistogramBase64(base64::DecodeError),
    #[error("histogram cannot be read: {0:?}")]
    Histogram(hdrhistogram::serialization::DeserializeError),
    /// Two histograms could not be added (their ranges do not fit).
    #[error("{0:?}")]
    Add(#[from] hdrhistogram::AdditionError),
    #[error("foreign arrivals are not base64: {0}")]
    ForeignBase64(base64::DecodeError),
    #[error("foreign arrivals are truncated")]
    ForeignTruncated,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MergeState {
    pub shard: Shard,
    /// [`Plan::digest`] of the unsharded plan.
    pub plan_digest: String,
    /// The scenario file as given to `run` (the default for `report merge`).
    #[serde(default)]
    pub scenario_file: String,
    /// Per phase × stream, in plan order.
    pub cells: Vec<CellState>,
    /// Per arrivals cell (same order as `arrivals.cells`): end-to-end latency.
    #[serde(default)]
    pub end_to_end: Vec<String>,
    /// Wall clock of the run start, µs since the Unix epoch (the origin of
    /// this shard's planned instants).
    #[serde(default)]
    pub started_at_us: i64,
    /// Shard 0: the other shards' arrivals in rate-limited phases, attributed
    /// (see [`crate::collect::attribute`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub foreign_cells: Vec<crate::collect::attribute::ForeignCell>,
    /// Shard 0: arrivals it could not attribute (closed-model phases of the
    /// other shards, ids nobody sent), packed
    /// (event id u128, first receive µs i64, copies u32; little-endian), base64.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub foreign_arrivals: String,
}

/// Packs foreign arrivals for [`MergeState::foreign_arrivals`].
pub fn pack_foreign(items: &[(u128, i64, u32)]) -> String {
    let mut buf = Vec::with_capacity(items.len() * 28);
    for (id, first, count) in items {
        buf.extend_from_slice(&id.to_le_bytes());
        buf.extend_from_slice(&first.to_le_bytes());
        buf.extend_from_slice(&count.to_le_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(buf)
}

/// The inverse of [`pack_foreign`].
pub fn unpack_foreign(text: &str) -> Result<Vec<(u128, i64, u32)>, StateError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(StateError::ForeignBase64)?;
    if bytes.len() % 28 != 0 {
        return Err(StateError::ForeignTruncated);
    }
    Ok(bytes
        .chunks_exact(28)
        .map(|c| {
            let mut id = [0u8; 16];
            let mut first = [0u8; 8];
            let mut count = [0u8; 4];
            id.copy_from_slice(&c[..16]);
            first.copy_from_slice(&c[16..24]);
            count.copy_from_slice(&c[24..]);
            (
                u128::from_le_bytes(id),
                i64::from_le_bytes(first),
                u32::from_le_bytes(count),
            )
        })
        .collect())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CellState {
    pub phase: String,
    pub stream: String,
    /// Send→ack latency, µs.
    pub send_ack: String,
    /// Schedule lag, µs.
    pub lag: String,
}

/// A histogram as base64 of its V2 deflate serialization.
pub fn encode(h: &Histogram<u64>) -> String {
    let mut buf = Vec::new();
    match V2DeflateSerializer::new().serialize(h, &mut buf) {
        Ok(_) => base64::engine::general_purpose::STANDARD.encode(buf),
        Err(_) => String::new(),
    }
}

/// `h` with every value lowered by `delta` µs (at least 1): end-to-end
/// latencies measured against another shard's clock, brought to this one.
pub fn shift(h: &Histogram<u64>, delta: i64) -> Histogram<u64> {
    if delta == 0 {
        return h.clone();
    }
    let mut out = crate::stats::latency_histogram();
    for v in h.iter_recorded() {
        let value = i64::try_from(v.value_iterated_to()).unwrap_or(i64::MAX);
        let moved = u64::try_from(value.saturating_sub(delta))
            .unwrap_or(0)
            .max(1);
        let _ = out.record_n(moved, v.count_at_value());
    }
    out
}

/// The inverse of [`encode`].
pub fn decode(text: &str) -> Result<Histogram<u64>, StateError> {
    if text.is_empty() {
        return Ok(crate::stats::latency_histogram());
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(StateError::HistogramBase64)?;
    let mut h: Histogram<u64> = Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(StateError::Histogram)?;
    h.auto(true);
    Ok(h)
}

impl MergeState {
    /// `None` for unsharded plans.
    pub fn of(
        plan: &Plan,
        summary: &RunSummary,
        accounting: Option<&Accounting>,
        started_at: std::time::SystemTime,
    ) -> Option<Self> {
        let shard = plan.shard?;
        Some(Self {
            shard,
            plan_digest: plan.digest.clone(),
            scenario_file: String::new(),
            cells: summary
                .cell_histograms
                .iter()
                .map(|c| CellState {
                    phase: plan.phases[c.phase].name.clone(),
                    stream: plan.streams[c.stream].name.clone(),
                    send_ack: encode(&c.latency),
                    lag: encode(&c.lag),
                })
                .collect(),
            end_to_end: accounting
                .map(|a| a.histograms.cells.iter().map(encode).collect())
                .unwrap_or_default(),
            started_at_us: started_at
                .duration_since(std::time::SystemTime::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX)),
            foreign_cells: accounting
                .map(|a| a.foreign_cells.clone())
                .unwrap_or_default(),
            foreign_arrivals: accounting
                .filter(|a| !a.foreign.is_empty())
                .map(|a| pack_foreign(&a.foreign))
                .unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_survive_the_round_trip() {
        let mut h = crate::stats::latency_histogram();
        for v in [1u64, 250, 20_000, 20_000, 3_000_000] {
            h.record(v).unwrap();
        }
        let back = decode(&encode(&h)).unwrap();
        assert_eq!(back.len(), 5);
        assert_eq!(back.value_at_quantile(0.5), h.value_at_quantile(0.5));
        assert_eq!(back.max(), h.max());
        assert_eq!(
            decode("!!").unwrap_err().to_string(),
            "histogram is not base64: Invalid symbol 33, offset 0."
        );
        assert_eq!(
            unpack_foreign("AAAA").unwrap_err().to_string(),
            "foreign arrivals are truncated"
        );
        let moved = shift(&h, 200);
        assert_eq!(moved.len(), 5);
        assert_eq!(moved.min(), 1, "never below 1 µs");
        assert!(moved.max().abs_diff(h.max() - 200) <= h.max() / 1000);
        let items = vec![(u128::MAX - 7, -3i64, 2u32), (42, 1_700_000_000_000_000, 1)];
        assert_eq!(unpack_foreign(&pack_foreign(&items)).unwrap(), items);
    }
}
