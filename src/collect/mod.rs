//! Arrival accounting at the far end of the pipeline.
//!
//! ```text
//! workers ──(event id, phase, stream, seq, sent_at, acked)──▶ Ledger
//! SQS queues ──pollers (sqs.rs: receive 10, delete batch)──▶ Arrivals
//!                         (event id from attribute / JSON body / struct text)
//! after the last phase: settle until every acked message arrived or `within`
//! passes ──▶ accounting::reconcile ──▶ Accounting (per queue, phase × stream)
//! ```
//!
//! Counting at the queue is what exposes a sink connector that silently
//! loses messages: the engine's "acked" only means Kafka took them.

pub mod accounting;
pub mod arrivals;
pub mod attribute;
pub mod ledger;
pub mod sqs;

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use accounting::{Accounting, Layout};
pub use arrivals::Arrivals;
pub use ledger::{Ledger, Sent};

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
    /// Starts `pollers` pollers for each (queue name, URL).
    pub fn start(client: aws_sdk_sqs::Client, queues: &[(String, String)], pollers: usize) -> Self {
        let arrivals = Arc::new(Arrivals::new());
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

    /// Waits until no acknowledged message of a counted stream is missing,
    /// or `within` has passed. Returns the number still missing.
    pub async fn settle(
        &self,
        ledger: &Ledger,
        counted: &[bool],
        within: Duration,
        progress: impl Fn(u64),
    ) -> u64 {
        let deadline = Instant::now() + within;
        let mut last_report = Instant::now();
        loop {
            let missing = missing(ledger, &self.arrivals, counted);
            if missing == 0 || Instant::now() >= deadline {
                return missing;
            }
            if last_report.elapsed() >= Duration::from_secs(5) {
                progress(missing);
                last_report = Instant::now();
            }
            tokio::time::sleep(SETTLE_CHECK).await;
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

/// Acknowledged sends of counted streams that have not arrived yet.
pub fn missing(ledger: &Ledger, arrivals: &Arrivals, counted: &[bool]) -> u64 {
    ledger.with_sent(|sent| {
        arrivals.count_absent(
            sent.iter()
                .filter(|(_, s)| {
                    s.acked && counted.get(s.stream as usize).copied().unwrap_or(false)
                })
                .map(|(id, _)| id),
        )
    })
}

/// Reconciles after the collector stopped.
/// Arrivals whose event id this run's ledger does not know: (id, first
/// receive µs, copies), sorted by id.
pub fn foreign(ledger: &Ledger, arrivals: &Arrivals) -> Vec<(u128, i64, u32)> {
    let (by_id, ..) = arrivals.snapshot();
    let mut out: Vec<(u128, i64, u32)> = ledger.with_sent(|sent| {
        by_id
            .iter()
            .filter(|(id, _)| !sent.contains_key(id))
            .map(|(id, a)| (*id, a.first_us, a.count))
            .collect()
    });
    out.sort_unstable();
    out
}

pub fn account(
    layout: &Layout,
    ledger: &Ledger,
    arrivals: &Arrivals,
    run_end_us: i64,
    collector_errors: Vec<String>,
) -> Accounting {
    let (by_id, received, unknown, unknown_count) = arrivals.snapshot();
    let mut acc = accounting::reconcile(
        layout,
        &ledger.snapshot(),
        &by_id,
        &received,
        unknown,
        unknown_count,
        run_end_us,
    );
    acc.collector_errors = collector_errors;
    acc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_counts_acked_sends_of_counted_streams_only() {
        let ledger = Ledger::new();
        let sent = |stream, acked| Sent {
            phase: 0,
            stream,
            seq: 0,
            sent_at_us: 0,
            acked,
        };
        ledger.record(1, sent(0, true));
        ledger.record(2, sent(0, true));
        ledger.record(3, sent(0, false)); // failed: not expected at the queue
        ledger.record(4, sent(1, true)); // stream without a queue
        let arrivals = Arrivals::new();
        assert_eq!(missing(&ledger, &arrivals, &[true, false]), 2);
        arrivals.record("q", Some(2), Some("m"), "", 0);
        assert_eq!(missing(&ledger, &arrivals, &[true, false]), 1);
        arrivals.record("q", Some(1), Some("n"), "", 0);
        assert_eq!(missing(&ledger, &arrivals, &[true, false]), 0);
    }
}
