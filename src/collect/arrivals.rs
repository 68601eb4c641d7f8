//! What arrived at the far end, without a per-message table.
//!
//! A received copy's event id is found in the message (the `event_id`
//! attribute — the envelope header, which sink connectors forward — then
//! the body: JSON with an `event_id` field, or the `Struct{…,event_id=…}`
//! text some connectors produce) and decoded to (stream, record number)
//! ([`crate::datagen::EventIds`]). Per stream, bitmaps hold the numbers
//! seen once, seen twice and first seen after the run ended; copies beyond
//! a second go to a small map. The send time travels in the message too
//! (`sent_at` attribute or body field), so the end-to-end latency of a
//! first arrival goes straight into its phase × stream histogram.
//!
//! Copies are told apart from re-receipts of one copy without remembering
//! every SQS message id: the pollers delete what they received, so an SQS
//! message can only come back when its delete failed, and those few ids are
//! remembered ([`Arrivals::not_deleted`]). A message received before but
//! whose receive answer was lost was never recorded, so its next receipt is
//! its first.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use hdrhistogram::Histogram;
use roaring::RoaringTreemap;

use super::sends::Sends;
use crate::datagen::EventIds;
use crate::plan::Shard;
use crate::stats::latency_histogram;

/// A message whose event id could not be found or is not one of ours.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct Unknown {
    pub queue: String,
    /// The start of the body, for the report.
    pub body: String,
}

/// One received copy, as the poller found it.
#[derive(Debug, Clone, Copy)]
pub struct Copy<'a> {
    pub queue: &'a str,
    pub event_id: Option<u128>,
    /// The queue's id of this copy (`None`: every receive counts as a copy).
    pub message_id: Option<&'a str>,
    /// The send time the message carries, µs since the Unix epoch.
    pub sent_at_us: Option<i64>,
    pub body: &'a str,
    /// When it reached the queue (SQS `SentTimestamp`), µs since the epoch.
    pub arrived_us: i64,
    /// When we received it.
    pub received_us: i64,
}

/// The arrivals of one stream, by record number.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamTally {
    pub seen: RoaringTreemap,
    /// Received at least twice (distinct copies).
    pub twice: RoaringTreemap,
    /// Copies beyond the second, per record number (rare).
    pub more: HashMap<u64, u32>,
    /// First arrived after the last phase ended.
    pub late: RoaringTreemap,
}

impl StreamTally {
    /// Extra copies (beyond the first) of the numbers in `of`.
    pub fn extra_copies(&self, of: &RoaringTreemap) -> u64 {
        self.twice.intersection_len(of)
            + self
                .more
                .iter()
                .filter(|(seq, _)| of.contains(**seq))
                .map(|(_, n)| u64::from(*n))
                .sum::<u64>()
    }
}

impl Tally {
    /// Bytes the per-stream structures take (bitmaps serialized, the rare
    /// third-copy entries at 16 bytes each): what grows with the run.
    pub fn heap_bytes(&self) -> u64 {
        self.streams
            .iter()
            .map(|s| {
                (s.seen.serialized_size() + s.twice.serialized_size() + s.late.serialized_size())
                    as u64
                    + 16 * s.more.len() as u64
            })
            .sum()
    }
}

/// Everything counted, for reconciliation.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    /// Index = stream.
    pub streams: Vec<StreamTally>,
    /// End-to-end latency (µs) of first arrivals per (phase, stream).
    pub latency: BTreeMap<(u32, u32), Histogram<u64>>,
    /// Per queue: messages received (all copies, ours or not).
    pub received: BTreeMap<String, u64>,
    /// Per queue: messages without one of this run's event ids, or sent
    /// before the run started (left over from an earlier run).
    pub unknown: BTreeMap<String, u64>,
    pub unknown_samples: Vec<Unknown>,
    /// Sharded runs: the other shards' arrivals (event id → first arrival
    /// µs, copies); counted as unknown here until they are attributed.
    pub foreign: HashMap<u128, (i64, u32)>,
    /// First arrivals of this run's messages per slot since the run's
    /// start (index = slot of `timeline_step` seconds).
    pub arrived_per_second: Vec<u64>,
    /// End-to-end p50/p99 per slot of arrival (`second` = slot index).
    pub e2e_per_second: Vec<crate::stats::SecondLatency>,
    /// Seconds per slot of the two series above.
    pub timeline_step: u64,
}

pub struct Arrivals {
    ids: EventIds,
    sends: Arc<Sends>,
    /// Sharded runs: which record numbers this shard sent.
    shard: Option<Shard>,
    /// A copy carrying an earlier send time is left over from another run.
    stale_before_us: i64,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    tally: Tally,
    /// Hashes of SQS message ids whose delete failed (they come back).
    undeleted: HashSet<u64>,
    /// When the last message was received, µs since the epoch.
    last_us: i64,
    /// Arrivals after this instant are late (`i64::MAX` until the run ends).
    late_after_us: i64,
    /// The run's start, µs since the epoch: second 0 of the per-second series.
    origin_us: i64,
    /// Seconds per slot of the per-second series (the run's timeline step).
    step: u64,
    e2e_series: crate::stats::LatencySeries,
}

/// How many unknown bodies are kept as examples.
const UNKNOWN_SAMPLES: usize = 5;
/// Clock skew allowed between this host and a sender before a copy counts as stale.
const STALE_MARGIN_US: i64 = 2_000_000;

impl Arrivals {
    /// `ids` decodes the run's event ids; `sends` says which phase a record
    /// number belongs to. Copies whose carried send time is before now
    /// (minus a skew margin) are left over from an earlier run.
    pub fn new(ids: EventIds, sends: Arc<Sends>, shard: Option<Shard>) -> Self {
        let streams = ids.len();
        Self {
            ids,
            sends,
            shard: shard.filter(|s| s.count > 1),
            stale_before_us: super::sqs::now_us() - STALE_MARGIN_US,
            inner: Mutex::new(Inner {
                tally: Tally {
                    streams: vec![StreamTally::default(); streams],
                    ..Tally::default()
                },
                late_after_us: i64::MAX,
                origin_us: super::sqs::now_us(),
                step: 1,
                ..Inner::default()
            }),
        }
    }

    /// Records one received copy.
    pub fn record(&self, c: Copy<'_>) {
        let decoded = c.event_id.and_then(|id| self.ids.decode(id));
        let own = decoded.filter(|&(_, seq)| self.shard.is_none_or(|s| s.owns(seq)));
        let stale = own.is_some() && c.sent_at_us.is_some_and(|t| t < self.stale_before_us);
        // The phase is looked up before taking our lock (lock order: sends, then arrivals).
        let phase = own.and_then(|(stream, seq)| self.sends.phase_of(stream as u32, seq));
        let copy = c.message_id.map(hash);
        let mut g = self.lock();
        *g.tally.received.entry(c.queue.to_string()).or_insert(0) += 1;
        g.last_us = g.last_us.max(c.received_us);
        if copy.is_some_and(|h| g.undeleted.contains(&h)) {
            return; // the same copy again: its delete had failed
        }
        match (decoded, own) {
            (Some(_), Some((stream, seq))) if !stale => {
                let late_after = g.late_after_us;
                let t = &mut g.tally;
                let Some(s) = t.streams.get_mut(stream) else {
                    return;
                };
                if !s.seen.insert(seq) {
                    if !s.twice.insert(seq) {
                        *s.more.entry(seq).or_insert(0) += 1;
                    }
                    return;
                }
                if c.arrived_us > late_after {
                    s.late.insert(seq);
                }
                let second = u64::try_from(c.arrived_us.saturating_sub(g.origin_us) / 1_000_000)
                    .unwrap_or(0);
                let slot = crate::stats::timeline_slot(second, g.step);
                let t = &mut g.tally;
                if t.arrived_per_second.len() <= slot {
                    t.arrived_per_second.resize(slot + 1, 0);
                }
                t.arrived_per_second[slot] += 1;
                if let (Some(phase), Some(sent)) = (phase, c.sent_at_us) {
                    let us = u64::try_from(c.arrived_us.saturating_sub(sent))
                        .unwrap_or(0)
                        .max(1);
                    let h = t
                        .latency
                        .entry((phase, stream as u32))
                        .or_insert_with(latency_histogram);
                    let _ = h.record(us);
                    g.e2e_series.record(slot as u64, us);
                }
            }
            (Some(_), None) => {
                let id = c.event_id.unwrap_or_default();
                let t = &mut g.tally;
                let e = t.foreign.entry(id).or_insert((c.arrived_us, 0));
                e.0 = e.0.min(c.arrived_us);
                e.1 += 1;
                if e.1 == 1 {
                    *t.unknown.entry(c.queue.to_string()).or_insert(0) += 1;
                }
            }
            _ => g.unknown(c.queue, c.body),
        }
    }

    /// The copy `message_id` was received but its delete failed: when it
    /// comes back it is the same copy, not a duplicate.
    pub fn not_deleted(&self, message_id: &str) {
        self.lock().undeleted.insert(hash(message_id));
    }

    /// The run starts now-ish at `us` (µs since the epoch): second 0 of the
    /// per-second series. Defaults to when the collector was created.
    pub fn set_origin_us(&self, us: i64) {
        self.lock().origin_us = us;
    }

    /// Per-second series in slots of `step` seconds (the run's timeline step).
    pub fn set_timeline_step(&self, step: u64) {
        self.lock().step = step.max(1);
    }

    /// First arrivals of this run's messages so far (all streams).
    pub fn arrived_total(&self) -> u64 {
        self.lock().tally.streams.iter().map(|s| s.seen.len()).sum()
    }

    /// End-to-end p50/p99 per timeline slot so far (`second` = slot index).
    pub fn e2e_series(&self) -> Vec<crate::stats::SecondLatency> {
        self.lock().e2e_series.seconds()
    }

    pub fn timeline_step(&self) -> u64 {
        self.lock().step
    }

    /// Starts collecting every end-to-end latency from now on into one
    /// histogram (see [`crate::stats::LatencySeries::open_window`]).
    pub fn open_e2e_window(&self) {
        self.lock().e2e_series.open_window();
    }

    /// The end-to-end latencies of first arrivals since [`Self::open_e2e_window`].
    pub fn close_e2e_window(&self) -> Option<hdrhistogram::Histogram<u64>> {
        self.lock().e2e_series.close_window()
    }

    pub fn origin_us(&self) -> i64 {
        self.lock().origin_us
    }

    /// The last phase ended at `us` (µs since the epoch): what first
    /// arrives after it is late.
    pub fn mark_run_end(&self, us: i64) {
        self.lock().late_after_us = us;
    }

    /// When the last message was received (µs since the epoch; 0: none yet).
    pub fn last_received_us(&self) -> i64 {
        self.lock().last_us
    }

    /// Acknowledged sends of counted streams that have not arrived.
    pub fn missing(&self, counted: &[bool]) -> u64 {
        self.sends.with_cells(|cells| {
            let g = self.lock();
            cells
                .iter()
                .filter(|((_, s), _)| counted.get(*s as usize).copied().unwrap_or(false))
                .map(|((_, s), c)| {
                    let seen = g.tally.streams.get(*s as usize).map(|t| &t.seen);
                    c.acked.len() - seen.map_or(0, |seen| c.acked.intersection_len(seen))
                })
                .sum()
        })
    }

    pub fn sends(&self) -> &Arc<Sends> {
        &self.sends
    }

    /// A copy of everything counted.
    pub fn snapshot(&self) -> Tally {
        let g = self.lock();
        let mut tally = g.tally.clone();
        tally.e2e_per_second = g.e2e_series.seconds();
        tally.timeline_step = g.step;
        tally
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Inner {
    fn unknown(&mut self, queue: &str, body: &str) {
        *self.tally.unknown.entry(queue.to_string()).or_insert(0) += 1;
        if self.tally.unknown_samples.len() < UNKNOWN_SAMPLES {
            self.tally.unknown_samples.push(Unknown {
                queue: queue.to_string(),
                body: body.chars().take(120).collect(),
            });
        }
    }
}

impl std::fmt::Debug for Arrivals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Arrivals")
            .field("streams", &self.ids.len())
            .field("shard", &self.shard)
            .finish_non_exhaustive()
    }
}

fn hash(s: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

/// The 128-bit form of an event id (a UUID in its text form).
pub fn parse_event_id(text: &str) -> Option<u128> {
    uuid::Uuid::try_parse(text.trim()).ok().map(|u| u.as_u128())
}

/// Finds the event id of a received message.
pub fn event_id_of(attribute: Option<&str>, body: &str) -> Option<u128> {
    if let Some(id) = attribute.and_then(parse_event_id) {
        return Some(id);
    }
    if let Some(v) = json_record(body)
        && let Some(id) = v
            .get("event_id")
            .and_then(serde_json::Value::as_str)
            .and_then(parse_event_id)
    {
        return Some(id);
    }
    parse_event_id(struct_field(body, "event_id")?)
}

/// Finds the send time a received message carries, µs since the epoch: the
/// `sent_at` attribute (RFC 3339, as the envelope header is written), else
/// the body's `sent_at` — RFC 3339 text, or a number of ms or µs (told
/// apart by size: µs since 1970 passed 10^14 in 1973, ms will not until
/// 5138).
pub fn sent_at_of(attribute: Option<&str>, body: &str) -> Option<i64> {
    if let Some(us) = attribute.and_then(rfc3339_us) {
        return Some(us);
    }
    let field = match json_record(body) {
        Some(v) => match v.get("sent_at")? {
            serde_json::Value::String(s) => return rfc3339_us(s),
            serde_json::Value::Number(n) => n.as_i64()?,
            _ => return None,
        },
        None => {
            let text = struct_field(body, "sent_at")?;
            return rfc3339_us(text).or_else(|| epoch_us(text.parse().ok()?));
        }
    };
    epoch_us(field)
}

fn epoch_us(n: i64) -> Option<i64> {
    (n > 0).then(|| {
        if n >= 100_000_000_000_000 {
            n
        } else {
            n.saturating_mul(1_000)
        }
    })
}

fn rfc3339_us(text: &str) -> Option<i64> {
    let t = humantime::parse_rfc3339_weak(text.trim()).ok()?;
    let d = t.duration_since(std::time::UNIX_EPOCH).ok()?;
    i64::try_from(d.as_micros()).ok()
}

/// A JSON record body, or the record inside an envelope (`{"payload": {…}}`).
fn json_record(body: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    let trimmed = body.trim_start();
    if !trimmed.starts_with('{') {
        return None;
    }
    let serde_json::Value::Object(mut v) = serde_json::from_str(trimmed).ok()? else {
        return None;
    };
    if !v.contains_key("event_id")
        && let Some(serde_json::Value::Object(p)) = v.remove("payload")
    {
        return Some(p);
    }
    Some(v)
}

/// A field of Connect struct text: `Struct{event_id=6f1c…,sent_at=…}`.
fn struct_field<'a>(body: &'a str, name: &str) -> Option<&'a str> {
    let key = format!("{name}=");
    let at = body
        .match_indices(&key)
        .find(|(i, _)| *i == 0 || matches!(body.as_bytes()[i - 1], b'{' | b',' | b' '))?
        .0;
    let rest = &body[at + key.len()..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    Some(rest[..end].trim())
}

#[cfg(test)]
mod tests;
