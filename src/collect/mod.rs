//! Arrival accounting at the far end of the pipeline.
//!
//! ```text
//! engine ──phase starts (stream, first record number)──▶ Sends
//! workers ──(phase, stream, record number, acked?)──────▶ Sends (bitmaps)
//! SQS queues ──pollers (sqs.rs: receive 10, delete batch)──▶ Arrivals
//!     event id (attribute / JSON body / struct text) ──decode──▶ (stream, n)
//!     sent_at (attribute / body) ──▶ end-to-end latency of the first arrival
//! after the last phase: settle until every acked message arrived or `within`
//! passes ──▶ accounting::reconcile ──▶ Accounting (per queue, phase × stream)
//! ```
//!
//! Nothing here grows per message: sends and arrivals are bitmaps of record
//! numbers (about a bit per message), because an event id says which stream
//! and record it is (see [`crate::datagen::EventIds`]).
//!
//! Counting at the queue is what exposes a sink connector that silently
//! loses messages: the engine's "acked" only means Kafka took them.

pub mod accounting;
pub mod arrivals;
pub mod attribute;
pub mod sends;
pub mod sqs;

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use accounting::{Accounting, Layout};
pub use arrivals::Arrivals;
pub use arrivals::Tally;
pub use sends::Sends;

/// Pollers per queue: LocalStack serves ~500 receive+delete msgs/s on two
/// cores whatever the count; real SQS scales with it.
pub const POLLERS_PER_QUEUE: usize = 4;
/// How often settling checks whether everything has arrived.
const SETTLE_CHECK: Duration = Duration::from_millis(250);

/// Running SQS pollers.
pub struct Collector {
    arrivals: Arc<Arrivals>,
    stats: Arc<sqs::PollStats>,
    stop: CancellationToken,
    tasks: JoinSet<()>,
}

impl Collector {
    /// Starts `pollers` pollers for each (queue name, URL), counting into `arrivals`.
    pub fn start(
        client: aws_sdk_sqs::Client,
        queues: &[(String, String)],
        pollers: usize,
        arrivals: Arc<Arrivals>,
    ) -> Self {
        let stats = Arc::new(sqs::PollStats::default());
        let stop = CancellationToken::new();
        let mut tasks = JoinSet::new();
        for (name, url) in queues {
            for _ in 0..pollers.max(1) {
                tasks.spawn(sqs::poll(
                    client.clone(),
                    name.clone(),
                    url.clone(),
                    arrivals.clone(),
                    stats.clone(),
                    stop.clone(),
                ));
            }
        }
        Self {
            arrivals,
            stats,
            stop,
            tasks,
        }
    }

    pub fn arrivals(&self) -> &Arc<Arrivals> {
        &self.arrivals
    }

    /// The pollers' health (errors, queues gone), readable while the
    /// collector settles.
    pub fn health(&self) -> Arc<sqs::PollStats> {
        self.stats.clone()
    }

    /// Waits until no acknowledged message of a counted stream is missing,
    /// or `within` has passed. Returns the number still missing.
    /// `give_up` ends the wait early (a second Ctrl-C, a failed connector).
    pub async fn settle(
        &self,
        counted: &[bool],
        within: Duration,
        give_up: &CancellationToken,
        progress: impl Fn(u64),
    ) -> u64 {
        let deadline = Instant::now() + within;
        let mut last_report = Instant::now();
        loop {
            let missing = self.arrivals.missing(counted);
            if missing == 0 || Instant::now() >= deadline || give_up.is_cancelled() {
                return missing;
            }
            if last_report.elapsed() >= Duration::from_secs(5) {
                progress(missing);
                last_report = Instant::now();
            }
            tokio::select! {
                _ = tokio::time::sleep(SETTLE_CHECK) => {}
                _ = give_up.cancelled() => {}
            }
        }
    }

    /// Stops the pollers; returns their errors (for the report).
    /// Keeps collecting until nothing arrived for `idle` (or `within` passed):
    /// how shard 0 of a sharded run waits for the other shards' messages,
    /// whose acknowledgements it cannot see.
    pub async fn quiet(&self, idle: Duration, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let last = self.arrivals.last_received_us();
            let since = Duration::from_micros(u64::try_from(sqs::now_us() - last).unwrap_or(0));
            if since >= idle || Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep((idle - since).min(Duration::from_millis(250))).await;
        }
    }

    pub async fn stop(mut self) -> (Arc<Arrivals>, Vec<String>) {
        self.stop.cancel();
        while self.tasks.join_next().await.is_some() {}
        use std::sync::atomic::Ordering::Relaxed;
        let mut errors = Vec::new();
        let (r, d) = (
            self.stats.receive_errors.load(Relaxed),
            self.stats.delete_errors.load(Relaxed),
        );
        if r + d > 0 {
            let last = self
                .stats
                .last_error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone()
                .unwrap_or_default();
            errors.push(format!(
                "{r} receive error(s), {d} delete error(s); last: {last}"
            ));
        }
        (self.arrivals, errors)
    }
}

/// Reconciles after the collector stopped.
pub fn account(layout: &Layout, arrivals: &Arrivals, collector_errors: Vec<String>) -> Accounting {
    let tally = arrivals.snapshot();
    let mut acc = arrivals
        .sends()
        .with_cells(|cells| accounting::reconcile(layout, cells, &tally));
    acc.collector_errors = collector_errors;
    acc
}

/// Moves arrivals of messages still in flight when the run ended from
/// `unknown` to `arrived_in_flight`. Unsharded runs only: there phase `p`
/// numbers stream `s` densely, one number per scheduled message, from its
/// first number on, so an arrival in `[first, first + scheduled)` that was
/// neither acked nor failed was sent by this run (a dropped message is never
/// sent, so it cannot arrive) and its answer never came.
pub fn attribute_in_flight(
    acc: &mut Accounting,
    layout: &Layout,
    arrivals: &Arrivals,
    scheduled: impl Fn(u32, u32) -> u64,
) {
    let tally = arrivals.snapshot();
    let sends = arrivals.sends();
    for (stream, (_, queue)) in layout.streams.iter().enumerate() {
        let (Some(queue), Some(t)) = (queue, tally.streams.get(stream)) else {
            continue;
        };
        let stream = stream as u32;
        let mut open = roaring::RoaringTreemap::new();
        for (first, phase) in sends.phase_starts(stream) {
            let n = scheduled(phase, stream);
            if n > 0 {
                open.insert_range(first..first.saturating_add(n));
            }
        }
        sends.with_cells(|cells| {
            for (_, c) in cells.iter().filter(|((_, s), _)| *s == stream) {
                open -= &c.acked;
                open -= &c.failed;
            }
        });
        let n = t.seen.intersection_len(&open);
        if let Some(q) = acc.queues.iter_mut().find(|q| q.queue == *queue) {
            let moved = n.min(q.unknown);
            q.unknown -= moved;
            q.arrived_in_flight += moved;
        }
    }
}

/// Arrivals of the other shards' records: (id, first arrival µs, copies),
/// sorted by id.
pub fn foreign(arrivals: &Arrivals) -> Vec<(u128, i64, u32)> {
    let mut out: Vec<(u128, i64, u32)> = arrivals
        .snapshot()
        .foreign
        .into_iter()
        .map(|(id, (first, n))| (id, first, n))
        .collect();
    out.sort_unstable();
    out
}
