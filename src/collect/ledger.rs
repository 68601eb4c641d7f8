//! What was sent: one entry per finished send, keyed by event id, so an
//! arrival at the far end can be traced back to its phase, stream and
//! sequence number. Workers write it; the reconciliation reads it.

use std::collections::HashMap;
use std::sync::Mutex;

/// A finished send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub phase: u32,
    pub stream: u32,
    pub seq: u64,
    /// Wall clock of the send, µs since the Unix epoch (the envelope's `sent_at`).
    pub sent_at_us: i64,
    /// Acknowledged by the sink; failed sends can still arrive (e.g. a timeout
    /// after the broker took the message), and are reported separately.
    pub acked: bool,
}

#[derive(Debug, Default)]
pub struct Ledger {
    sent: Mutex<HashMap<u128, Sent>>,
}

impl Ledger {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn record(&self, event_id: u128, sent: Sent) {
        self.lock().insert(event_id, sent);
    }

    pub fn get(&self, event_id: u128) -> Option<Sent> {
        self.lock().get(&event_id).copied()
    }

    /// Acknowledged sends per stream index.
    pub fn acked_by_stream(&self) -> HashMap<u32, u64> {
        let mut out = HashMap::new();
        for s in self.lock().values().filter(|s| s.acked) {
            *out.entry(s.stream).or_insert(0) += 1;
        }
        out
    }

    /// Runs `f` on the entries under the lock (no copy: settling checks this
    /// several times a second, and a run can have millions of entries).
    pub fn with_sent<T>(&self, f: impl FnOnce(&HashMap<u128, Sent>) -> T) -> T {
        f(&self.lock())
    }

    /// A copy of every entry (for reconciliation after the run).
    pub fn snapshot(&self) -> HashMap<u128, Sent> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u128, Sent>> {
        self.sent.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The 128-bit form of an event id (a UUID in its text form).
pub fn parse_event_id(text: &str) -> Option<u128> {
    uuid::Uuid::try_parse(text.trim()).ok().map(|u| u.as_u128())
}
