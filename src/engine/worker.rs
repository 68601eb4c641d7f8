//! A lane turns due ticks into messages and submits them:
//! record(seq) → envelope → encode for the route → sink → (later) completion.
//!
//! Lanes are long-lived tasks pulling [`Work`] from one channel: batches of
//! open-model ticks, or a closed-model phase to run flat out (see
//! [`super::closed`]). A lane is held while it builds a message and while the
//! sink takes it, never for the round trip: the sink answers the message's
//! [`Ticket`] later (librdkafka's delivery-report thread, an SQS batch task),
//! which records the outcome and returns the in-flight budget permit the
//! tick carried.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;

use super::prepare::StreamRuntime;
use super::recorder::Recorder;
use crate::datagen::Evaluators;
use crate::sink::{Completion, Route, SendError, Sinks};

/// One message to produce.
#[derive(Debug)]
pub struct Job {
    pub phase: usize,
    pub stream: usize,
    pub seq: u64,
    pub route: Route,
    pub scheduled: Instant,
    /// One unit of the phase's in-flight budget, returned when the message
    /// is answered (acked or failed).
    pub permit: OwnedSemaphorePermit,
}

/// What a lane is given to do.
pub enum Work {
    /// Open-model ticks, in due order.
    Jobs(Vec<Job>),
    /// Send a closed-model phase's messages flat out in one of its slots.
    Closed(Arc<super::closed::ClosedPhase>, usize),
}

/// What every lane shares.
#[derive(Debug)]
pub struct Shared {
    pub streams: Vec<StreamRuntime>,
    pub phase_names: Vec<String>,
    /// First fatal error (an override that fails at run time): the run stops
    /// and is reported as an invalid scenario rather than sending garbage.
    pub fatal: Mutex<Option<crate::datagen::expr::ExprError>>,
    pub stop: tokio_util::sync::CancellationToken,
    pub sinks: Sinks,
    pub recorder: Mutex<Recorder>,
    pub start: Instant,
    /// Finished sends, when arrivals are counted.
    pub sends: Option<Arc<crate::collect::Sends>>,
    /// Virtual runs: acknowledged messages arrive here at once.
    pub echo: Option<Arc<crate::collect::Arrivals>>,
    /// Prometheus handles, when an exporter is installed.
    pub metrics: Option<crate::telemetry::metrics::EngineMetrics>,
    /// Failed sends logged so far, by kind (logging is capped, see
    /// [`LOGGED_FAILURES`] and [`LOGGED_PER_KIND`]).
    pub failures_logged: Mutex<FailureLog>,
    /// Messages submitted to a sink and not answered yet.
    pub outstanding: AtomicU64,
    /// Woken when `outstanding` drops to zero (the end-of-run drain waits on it).
    pub settled: tokio::sync::Notify,
    /// Lanes allowed to work (the phase's `workers`, or steering's): lanes
    /// with a higher index park until it grows.
    pub lanes: AtomicUsize,
    pub lanes_changed: tokio::sync::Notify,
}

/// Send failures logged one by one before the log goes quiet (the counts in
/// the summary, the status and the metrics keep counting all of them).
pub const LOGGED_FAILURES: u64 = 20;
/// Failures of one kind logged before that kind goes quiet: an open circuit
/// fails every send the same way, and 20 identical lines would hide the
/// first failure of another kind.
pub const LOGGED_PER_KIND: u64 = 3;

/// How many failures have been logged, in all and per kind.
#[derive(Debug, Default)]
pub struct FailureLog {
    total: u64,
    by_kind: std::collections::HashMap<&'static str, u64>,
}

impl FailureLog {
    /// Whether a failure of `kind` is logged, and with which suffix: `None`
    /// when it is not; `Some("")` when it is; a note when it is the last of
    /// its kind or of all that will be logged.
    pub fn admit(&mut self, kind: &'static str) -> Option<String> {
        let n = self.by_kind.entry(kind).or_default();
        if *n >= LOGGED_PER_KIND || self.total >= LOGGED_FAILURES {
            return None;
        }
        *n += 1;
        self.total += 1;
        Some(if self.total == LOGGED_FAILURES {
            " (further send failures are counted, not logged)".to_string()
        } else if *n == LOGGED_PER_KIND {
            format!(" (further `{kind}` failures are counted, not logged)")
        } else {
            String::new()
        })
    }
}

impl Shared {
    /// The state of a run about to start at `start`; `accounting` is where
    /// finished sends are recorded and (virtual runs) echoed as arrivals.
    pub fn new(
        plan: &crate::plan::Plan,
        streams: Vec<StreamRuntime>,
        sinks: crate::sink::Sinks,
        accounting: (
            Option<Arc<crate::collect::Sends>>,
            Option<Arc<crate::collect::Arrivals>>,
        ),
        start: Instant,
        stop: tokio_util::sync::CancellationToken,
    ) -> Shared {
        let (sends, echo) = accounting;
        let step = crate::stats::timeline_step(plan.total_duration.as_secs_f64().ceil() as u64);
        Shared {
            phase_names: plan.phases.iter().map(|p| p.name.clone()).collect(),
            fatal: Mutex::new(None),
            stop,
            metrics: crate::telemetry::metrics::EngineMetrics::resolve(plan, &sinks),
            sinks,
            streams,
            recorder: Mutex::new(Recorder::new(step)),
            start,
            sends,
            echo,
            failures_logged: Mutex::new(FailureLog::default()),
            outstanding: std::sync::atomic::AtomicU64::new(0),
            settled: tokio::sync::Notify::new(),
            lanes: std::sync::atomic::AtomicUsize::new(0),
            lanes_changed: tokio::sync::Notify::new(),
        }
    }

    pub fn record<T>(&self, f: impl FnOnce(&mut Recorder) -> T) -> T {
        let mut guard = self.recorder.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    /// A message of `stream` became due `at` (from the run start).
    pub fn scheduled(&self, phase: usize, stream: usize, at: std::time::Duration) {
        if let Some(m) = &self.metrics {
            m.scheduled(phase, stream);
        }
        self.record(|r| r.scheduled(phase, stream, at));
    }

    /// A due message found the in-flight budget exhausted (or the run
    /// stopped before a lane got to it).
    pub fn dropped(&self, phase: usize, stream: usize, at: std::time::Duration) {
        if let Some(m) = &self.metrics {
            m.dropped(phase, stream);
        }
        self.record(|r| r.dropped(phase, stream, at));
    }

    /// Lanes allowed to work now.
    pub fn lanes(&self) -> usize {
        self.lanes.load(Ordering::Acquire)
    }

    /// Lets `n` lanes work (`usize::MAX`: all, so that every lane sees the
    /// work channel close at the end of the run).
    pub fn set_lanes(&self, n: usize) {
        if self.lanes.swap(n, Ordering::AcqRel) != n {
            self.lanes_changed.notify_waiters();
        }
    }

    /// Waits while lane `lane` is parked.
    async fn parked(&self, lane: usize) {
        loop {
            let woken = self.lanes_changed.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            if lane < self.lanes() {
                return;
            }
            woken.await;
        }
    }

    /// Resolves once no submitted message is waiting for its answer.
    pub async fn settled(&self) {
        loop {
            let woken = self.settled.notified();
            if self.outstanding.load(Ordering::Acquire) == 0 {
                return;
            }
            woken.await;
        }
    }
}

/// Per-lane reusable state: the encode buffer and the Rhai evaluators.
#[derive(Default)]
pub struct Scratch {
    buf: Vec<u8>,
    evaluators: Evaluators,
}

/// Runs until the work channel closes; `lane` is the task's index (for logs).
pub async fn run(shared: Arc<Shared>, work: async_channel::Receiver<Work>, lane: usize) {
    let mut scratch = Scratch {
        buf: Vec::with_capacity(512),
        evaluators: Evaluators::default(),
    };
    loop {
        shared.parked(lane).await;
        let Ok(w) = work.recv().await else { break };
        match w {
            Work::Jobs(jobs) => {
                for job in jobs {
                    if shared.stop.is_cancelled() {
                        // Stopping ends sending at once: ticks not yet built
                        // are not sent.
                        let at = job.scheduled.saturating_duration_since(shared.start);
                        shared.dropped(job.phase, job.stream, at);
                        continue;
                    }
                    process(&shared, job, &mut scratch, lane).await;
                }
            }
            Work::Closed(phase, slot) => phase.run_slot(slot, &shared, &mut scratch, lane).await,
        }
    }
}

/// Builds the job's message and submits it; the outcome arrives at its [`Ticket`].
pub async fn process(shared: &Arc<Shared>, job: Job, scratch: &mut Scratch, lane: usize) {
    let Job {
        phase,
        stream,
        seq,
        route,
        scheduled,
        permit,
    } = job;
    let picked = Instant::now();
    let lag = picked.saturating_duration_since(scheduled);
    shared.record(|r| r.sent(phase, stream, lag));
    if let Some(m) = &shared.metrics {
        m.lag(phase, stream, lag.as_secs_f64());
        if let Some(c) = m.cell(phase, stream, route) {
            c.sent.increment(1);
        }
    }
    let ticket = Box::new(Ticket {
        shared: shared.clone(),
        phase,
        stream,
        seq,
        route,
        scheduled,
        lane,
        permit: Some(permit),
    });
    shared.outstanding.fetch_add(1, Ordering::AcqRel);
    match super::message::build(
        shared,
        phase,
        stream,
        seq,
        route,
        scheduled,
        &mut scratch.buf,
        &mut scratch.evaluators,
    ) {
        Ok((msg, _)) => {
            shared.sinks.for_route(route).submit(msg, ticket).await;
        }
        Err(e) => ticket.complete(Err(e)),
    }
}

/// A submitted message: told its outcome once, it records it and returns
/// its budget permit.
pub struct Ticket {
    shared: Arc<Shared>,
    phase: usize,
    stream: usize,
    seq: u64,
    route: Route,
    scheduled: Instant,
    lane: usize,
    permit: Option<OwnedSemaphorePermit>,
}

impl Completion for Ticket {
    fn complete(mut self: Box<Self>, outcome: Result<u32, SendError>) {
        let shared = &*self.shared;
        let (phase, stream, route) = (self.phase, self.stream, self.route);
        let done = Instant::now();
        let at = done.saturating_duration_since(shared.start);
        if let Some(sends) = &shared.sends {
            let (p, s) = (phase as u32, stream as u32);
            sends.record(p, s, self.seq, outcome.is_ok());
        }
        let queue = shared.streams[stream].queue.as_deref();
        if let (Some(echo), Ok(_), Some(queue)) = (&shared.echo, &outcome, queue) {
            // Virtual runs: the message arrives when it is acknowledged, on the
            // virtual clock (the collector's origin is the run's start), so
            // arrivals per second and end-to-end latency follow the modelled sink.
            // A stream without a queue has no far end to arrive at.
            let micros = |d: std::time::Duration| i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
            let arrived = echo.origin_us().saturating_add(micros(at));
            let sent =
                arrived.saturating_sub(micros(done.saturating_duration_since(self.scheduled)));
            echo.record(crate::collect::arrivals::Copy {
                queue,
                event_id: Some(shared.streams[stream].records.event_id(self.seq).as_u128()),
                message_id: None,
                sent_at_us: Some(sent),
                body: "",
                arrived_us: arrived,
                received_us: arrived,
            });
        }
        let cell_metrics = shared
            .metrics
            .as_ref()
            .and_then(|m| m.cell(phase, stream, route));
        match outcome {
            Ok(retries) => {
                let latency = done.saturating_duration_since(self.scheduled);
                if let Some(m) = cell_metrics {
                    m.acked.increment(1);
                    m.retried.increment(u64::from(retries));
                    m.latency.record(latency.as_secs_f64());
                }
                shared.record(|r| {
                    r.retried(phase, stream, u64::from(retries));
                    r.acked(phase, stream, latency, at)
                })
            }
            Err(e) => {
                if let Some(m) = cell_metrics {
                    m.failed(e.kind);
                }
                log_failure(shared, &self, &e);
                shared.record(|r| r.failed(phase, stream, e.kind, at))
            }
        }
        drop(self.permit.take());
        if shared.outstanding.fetch_sub(1, Ordering::AcqRel) == 1 {
            shared.settled.notify_waiters();
        }
    }
}

fn log_failure(shared: &Shared, t: &Ticket, e: &SendError) {
    let admitted = shared
        .failures_logged
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .admit(e.kind);
    if let Some(suffix) = admitted {
        tracing::warn!(
            event = "SendFailed",
            phase = %shared.phase_names[t.phase],
            stream = %shared.streams[t.stream].name,
            sink = shared.sinks.for_route(t.route).name(),
            worker = t.lane,
            seq = t.seq,
            error_kind = e.kind,
            "{}{suffix}",
            e.message,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_logged_a_few_per_kind_and_twenty_in_all() {
        let mut log = FailureLog::default();
        let said: Vec<Option<String>> = (0..5).map(|_| log.admit("circuit_open")).collect();
        assert_eq!(said[0].as_deref(), Some(""));
        assert_eq!(said[1].as_deref(), Some(""));
        assert_eq!(
            said[2].as_deref(),
            Some(" (further `circuit_open` failures are counted, not logged)")
        );
        assert_eq!(said[3], None);
        assert_eq!(said[4], None);
        // Another kind still gets its first lines.
        assert_eq!(log.admit("sqs").as_deref(), Some(""));
        // Twenty in all, whatever the kinds.
        let kinds: [&'static str; 10] = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"];
        let mut logged = 4;
        let mut last = None;
        for k in kinds.iter().cycle().take(40) {
            if let Some(s) = log.admit(k) {
                logged += 1;
                last = Some(s);
            }
        }
        assert_eq!(logged, LOGGED_FAILURES);
        assert_eq!(
            last.as_deref(),
            Some(" (further send failures are counted, not logged)")
        );
    }
}
