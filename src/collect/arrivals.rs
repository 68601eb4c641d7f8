//! What arrived at the far end, keyed by event id, and how an event id is
//! found in a received message: the `event_id` message attribute first (the
//! envelope header, forwarded by sink connectors as an attribute), then the
//! body — JSON with an `event_id` field, or the `Struct{…,event_id=…,…}`
//! text some connectors produce when they stringify a Connect struct.

use std::collections::HashMap;
use std::sync::Mutex;

use super::ledger::parse_event_id;

/// One event id's arrivals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arrival {
    /// Distinct copies received: distinct SQS message ids, so receiving the
    /// same message again (its visibility timeout expired before our delete
    /// landed, or a receive answer was lost in transit) is not a duplicate,
    /// while the pipeline sending the event twice is.
    pub count: u32,
    /// When the first copy reached the queue (SQS `SentTimestamp`; the
    /// receive time where the queue does not say), µs since the Unix epoch.
    pub first_us: i64,
    /// Hashes of the message ids seen (usually one).
    copies: Vec<u64>,
}

impl Arrival {
    pub fn new(count: u32, first_us: i64) -> Self {
        Self {
            count,
            first_us,
            copies: Vec::new(),
        }
    }
}

/// A message whose event id could not be found or is not one of ours.
#[derive(
    Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct Unknown {
    pub queue: String,
    /// The start of the body, for the report.
    pub body: String,
}

#[derive(Debug, Default)]
pub struct Arrivals {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    by_id: HashMap<u128, Arrival>,
    /// Per queue: messages received (all copies, ours or not).
    received: HashMap<String, u64>,
    unknown: Vec<Unknown>,
    unknown_count: u64,
    /// When the last message was received, µs since the Unix epoch.
    last_us: i64,
}

/// How many unknown bodies are kept as examples.
const UNKNOWN_SAMPLES: usize = 5;

impl Arrivals {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one received message; `message_id` is the queue's id of the
    /// copy (`None`: every receive counts as a copy).
    pub fn record(
        &self,
        queue: &str,
        event_id: Option<u128>,
        message_id: Option<&str>,
        body: &str,
        received_us: i64,
    ) {
        self.record_at(queue, event_id, message_id, body, received_us, received_us);
    }

    /// Like [`Self::record`], for a message that reached the queue at
    /// `arrived_us` and was received at `received_us`: end-to-end latency
    /// runs to the arrival, so a collector that falls behind a backlog does
    /// not inflate it; quiet-queue detection uses the receive time.
    pub fn record_at(
        &self,
        queue: &str,
        event_id: Option<u128>,
        message_id: Option<&str>,
        body: &str,
        arrived_us: i64,
        received_us: i64,
    ) {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        *g.received.entry(queue.to_string()).or_insert(0) += 1;
        g.last_us = g.last_us.max(received_us);
        match event_id {
            Some(id) => {
                let a = g.by_id.entry(id).or_insert(Arrival::new(0, arrived_us));
                let copy = message_id.map(hash);
                if copy.is_none_or(|c| !a.copies.contains(&c)) {
                    a.count += 1;
                    a.copies.extend(copy);
                }
                a.first_us = a.first_us.min(arrived_us);
            }
            None => g.unknown_without_id(queue, body),
        }
    }

    /// When the last message was received (µs since the epoch; 0: none yet).
    pub fn last_received_us(&self) -> i64 {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).last_us
    }

    /// Distinct event ids received so far.
    pub fn distinct(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .by_id
            .len()
    }

    /// How many of `ids` have not arrived (one lock for all of them).
    pub fn count_absent<'a>(&self, ids: impl Iterator<Item = &'a u128>) -> u64 {
        let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        ids.filter(|id| !g.by_id.contains_key(id)).count() as u64
    }

    pub fn snapshot(
        &self,
    ) -> (
        HashMap<u128, Arrival>,
        HashMap<String, u64>,
        Vec<Unknown>,
        u64,
    ) {
        let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        (
            g.by_id.clone(),
            g.received.clone(),
            g.unknown.clone(),
            g.unknown_count,
        )
    }
}

impl Inner {
    fn unknown_without_id(&mut self, queue: &str, body: &str) {
        self.unknown_count += 1;
        if self.unknown.len() < UNKNOWN_SAMPLES {
            self.unknown.push(Unknown {
                queue: queue.to_string(),
                body: body.chars().take(120).collect(),
            });
        }
    }
}

fn hash(s: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

/// Finds the event id of a received message.
pub fn event_id_of(attribute: Option<&str>, body: &str) -> Option<u128> {
    if let Some(id) = attribute.and_then(parse_event_id) {
        return Some(id);
    }
    let trimmed = body.trim_start();
    if trimmed.starts_with('{')
        && let Ok(v) = serde_json::from_str::<serde_json::Value>(trimmed)
    {
        // A JSON record, or an envelope wrapping it (`{"payload": {...}}`).
        let found = v
            .get("event_id")
            .or_else(|| v.get("payload").and_then(|p| p.get("event_id")))
            .and_then(serde_json::Value::as_str)
            .and_then(parse_event_id);
        if found.is_some() {
            return found;
        }
    }
    // Connect struct text: `Struct{event_id=6f1c…,sent_at=…}`.
    let at = body.find("event_id=")?;
    let rest = &body[at + "event_id=".len()..];
    let end = rest.find([',', '}', ' ']).unwrap_or(rest.len());
    parse_event_id(&rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "6f1c2a4e-9a0b-4c7d-8e2f-1a2b3c4d5e6f";

    #[test]
    fn finds_the_event_id_in_attribute_json_and_struct_text() {
        let want = parse_event_id(ID);
        assert!(want.is_some());
        assert_eq!(event_id_of(Some(ID), "opaque"), want);
        assert_eq!(
            event_id_of(None, &format!(r#"{{"event_id":"{ID}","x":1}}"#)),
            want
        );
        assert_eq!(
            event_id_of(None, &format!(r#"{{"payload":{{"event_id":"{ID}"}}}}"#)),
            want
        );
        assert_eq!(
            event_id_of(
                None,
                &format!("Struct{{event_id={ID},sent_at=1700000000000}}")
            ),
            want
        );
        assert_eq!(event_id_of(Some("not-a-uuid"), "no id here"), None);
    }

    #[test]
    fn counts_duplicates_and_keeps_unknown_samples() {
        let a = Arrivals::new();
        let id = parse_event_id(ID);
        a.record("q", id, Some("m1"), "b", 20);
        a.record("q", id, Some("m2"), "b", 10);
        // The same copy received again (visibility timeout) is not a duplicate.
        a.record("q", id, Some("m1"), "b", 30);
        for _ in 0..7 {
            a.record("q", None, None, "garbage", 5);
        }
        let (by_id, received, unknown, unknown_count) = a.snapshot();
        let got = &by_id[&id.unwrap()];
        assert_eq!((got.count, got.first_us), (2, 10));
        assert_eq!(received["q"], 10);
        assert_eq!(unknown_count, 7);
        assert_eq!(unknown.len(), UNKNOWN_SAMPLES);
    }
}
