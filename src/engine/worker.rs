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
use std::time::SystemTime;

use apache_avro::types::Value;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;

use super::prepare::StreamRuntime;
use super::recorder::Recorder;
use crate::datagen::Evaluators;
use crate::datagen::expr::EvalCtx;
use crate::encode;
use crate::scenario::model::Key;
use crate::sink::{Completion, OutMessage, Route, SendError, Sinks};

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
    /// Finished sends by event id, when arrivals are counted.
    pub ledger: Option<Arc<crate::collect::Ledger>>,
    /// Prometheus handles, when an exporter is installed.
    pub metrics: Option<crate::telemetry::metrics::EngineMetrics>,
    /// Failed sends logged so far (logging is capped, see [`LOGGED_FAILURES`]).
    pub failures_logged: AtomicU64,
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

impl Shared {
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
    let mut ticket = Box::new(Ticket {
        shared: shared.clone(),
        phase,
        stream,
        seq,
        route,
        scheduled,
        lane,
        sent: None,
        permit: Some(permit),
    });
    shared.outstanding.fetch_add(1, Ordering::AcqRel);
    match build(
        shared,
        phase,
        stream,
        seq,
        route,
        scheduled,
        &mut scratch.buf,
        &mut scratch.evaluators,
    ) {
        Ok((msg, sent_at)) => {
            if shared.ledger.is_some() {
                ticket.sent = crate::collect::ledger::parse_event_id(&msg.event_id).map(|id| {
                    let us = sent_at
                        .duration_since(SystemTime::UNIX_EPOCH)
                        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
                        .unwrap_or(0);
                    (id, us)
                });
            }
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
    /// Event id and wall-clock send time, for the arrival ledger.
    sent: Option<(u128, i64)>,
    permit: Option<OwnedSemaphorePermit>,
}

impl Completion for Ticket {
    fn complete(mut self: Box<Self>, outcome: Result<u32, SendError>) {
        let shared = &*self.shared;
        let (phase, stream, route) = (self.phase, self.stream, self.route);
        let done = Instant::now();
        let at = done.saturating_duration_since(shared.start);
        if let (Some(ledger), Some((id, sent_at_us))) = (&shared.ledger, self.sent) {
            ledger.record(
                id,
                crate::collect::Sent {
                    phase: u32::try_from(phase).unwrap_or(u32::MAX),
                    stream: u32::try_from(stream).unwrap_or(u32::MAX),
                    seq: self.seq,
                    sent_at_us,
                    acked: outcome.is_ok(),
                },
            );
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
    let n = shared.failures_logged.fetch_add(1, Ordering::Relaxed);
    if n < LOGGED_FAILURES {
        tracing::warn!(
            event = "SendFailed",
            phase = %shared.phase_names[t.phase],
            stream = %shared.streams[t.stream].name,
            sink = shared.sinks.for_route(t.route).name(),
            worker = t.lane,
            seq = t.seq,
            error_kind = e.kind,
            "{}{}",
            e.message,
            if n + 1 == LOGGED_FAILURES {
                " (further send failures are counted, not logged)"
            } else {
                ""
            }
        );
    }
}

#[allow(clippy::too_many_arguments)] // one call site; a struct would only rename the arguments
fn build(
    shared: &Shared,
    phase: usize,
    stream: usize,
    seq: u64,
    route: Route,
    scheduled: Instant,
    buf: &mut Vec<u8>,
    evaluators: &mut Evaluators,
) -> Result<(OutMessage, SystemTime), crate::sink::SendError> {
    let s = &shared.streams[stream];
    let encode_error = |e: crate::datagen::EncodeError| crate::sink::SendError {
        kind: "encode",
        message: format!("stream {} record {seq}: {e:?}", s.name),
    };
    // Fast path: a schema-only record to Kafka is encoded as it is drawn,
    // with no Value tree (same bytes; see datagen::direct).
    if route == Route::Kafka && s.records.direct() && matches!(s.key, Key::None | Key::Random) {
        let event_id = s.records.event_id(seq);
        let sent_at = SystemTime::now();
        let envelope = crate::datagen::direct::Envelope {
            event_id,
            sent_at,
            schema_id: s.schema_id,
            schema_subject: s.schema_subject.as_deref(),
        };
        buf.clear();
        encode::confluent_header(s.schema_id, buf);
        s.records
            .write_direct(seq, &envelope, buf)
            .map_err(encode_error)?;
        let event_id = event_id.to_string();
        let key = matches!(s.key, Key::Random).then(|| event_id.clone());
        let msg = message(
            s,
            phase,
            stream,
            seq,
            route,
            scheduled,
            event_id,
            key,
            sent_at,
            buf.clone(),
        );
        return Ok((msg, sent_at));
    }
    let ctx = EvalCtx {
        seq,
        phase: &shared.phase_names[phase],
        t_ms: i64::try_from(
            scheduled
                .saturating_duration_since(shared.start)
                .as_millis(),
        )
        .unwrap_or(i64::MAX),
    };
    let mut record = match s.records.record_with(seq, stream, evaluators, &ctx) {
        Ok(r) => r,
        Err(e) => {
            let mut fatal = shared.fatal.lock().unwrap_or_else(|p| p.into_inner());
            if fatal.is_none() {
                *fatal = Some(e.clone());
                shared.stop.cancel();
            }
            return Err(crate::sink::SendError {
                kind: "expr",
                message: e.to_string(),
            });
        }
    };
    let sent_at = SystemTime::now();
    crate::datagen::direct::fill_envelope(
        &mut record.value,
        &crate::datagen::direct::Envelope {
            event_id: record.event_id,
            sent_at,
            schema_id: s.schema_id,
            schema_subject: s.schema_subject.as_deref(),
        },
    );
    let event_id = record.event_id.to_string();
    let key = match &s.key {
        Key::None => None,
        Key::Random => Some(event_id.clone()),
        Key::Field { path } => field_text(&record.value, path),
        Key::Expr { .. } => record.key.clone(),
    };
    let payload = match route {
        Route::Kafka => {
            buf.clear();
            encode::confluent_into(s.records.generator(), s.schema_id, &record.value, buf)
                .map_err(encode_error)?;
            buf.clone()
        }
        Route::Sqs => s
            .records
            .generator()
            .to_json(&record.value)
            .to_string()
            .into_bytes(),
    };
    let msg = message(
        s, phase, stream, seq, route, scheduled, event_id, key, sent_at, payload,
    );
    Ok((msg, sent_at))
}

/// The message around an encoded record: destination, envelope headers
/// (event id, send time, schema) and the stream's own headers.
#[allow(clippy::too_many_arguments)] // the fields of the message being built
fn message(
    s: &StreamRuntime,
    phase: usize,
    stream: usize,
    seq: u64,
    route: Route,
    scheduled: Instant,
    event_id: String,
    key: Option<String>,
    sent_at: SystemTime,
    payload: Vec<u8>,
) -> OutMessage {
    let mut headers = Vec::with_capacity(5 + s.headers.len());
    headers.push((
        "content-type".to_string(),
        match route {
            Route::Kafka => "application/avro-binary",
            Route::Sqs => "application/json",
        }
        .to_string(),
    ));
    headers.push(("event_id".to_string(), event_id.clone()));
    // Microsecond RFC 3339: Connect's SimpleHeaderConverter keeps it a string.
    headers.push((
        "sent_at".to_string(),
        humantime::format_rfc3339_micros(sent_at).to_string(),
    ));
    headers.push(("schema_id".to_string(), s.schema_id.to_string()));
    if let Some(subject) = &s.schema_subject {
        headers.push(("schema_subject".to_string(), subject.clone()));
    }
    headers.extend(s.headers.iter().cloned());
    let destination = match route {
        Route::Kafka => s.topic.clone(),
        Route::Sqs => s.queue.clone().unwrap_or_default(),
    };
    OutMessage {
        route,
        destination,
        phase,
        stream,
        seq,
        event_id,
        key,
        headers,
        payload,
        scheduled,
    }
}

/// The text of a (nested) field, for Kafka keys.
fn field_text(value: &Value, path: &[String]) -> Option<String> {
    let mut v = value;
    for name in path {
        while let Value::Union(_, inner) = v {
            v = inner;
        }
        let Value::Record(fields) = v else {
            return None;
        };
        v = &fields.iter().find(|(n, _)| n == name)?.1;
    }
    while let Value::Union(_, inner) = v {
        v = inner;
    }
    Some(match v {
        Value::Null => return None,
        Value::String(s) | Value::Enum(_, s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Long(l) => l.to_string(),
        Value::Uuid(u) => u.to_string(),
        Value::Boolean(b) => b.to_string(),
        other => format!("{other:?}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_fields_are_filled_when_the_schema_has_them() {
        use crate::datagen::direct::{Envelope, fill_envelope};
        let mut v = Value::Record(vec![
            ("schema_id".into(), Value::Long(0)),
            ("schema_subject".into(), Value::String(String::new())),
            ("sent_at".into(), Value::TimestampMicros(0)),
            ("other".into(), Value::Int(1)),
        ]);
        let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_micros(1_500_000);
        let env = Envelope {
            event_id: uuid::Uuid::nil(),
            sent_at: at,
            schema_id: 42,
            schema_subject: Some("events.card-value"),
        };
        fill_envelope(&mut v, &env);
        assert_eq!(
            v,
            Value::Record(vec![
                ("schema_id".into(), Value::Long(42)),
                (
                    "schema_subject".into(),
                    Value::String("events.card-value".into())
                ),
                ("sent_at".into(), Value::TimestampMicros(1_500_000)),
                ("other".into(), Value::Int(1)),
            ])
        );
        let keyed = Value::Record(vec![(
            "address".into(),
            Value::Union(
                1,
                Box::new(Value::Record(vec![(
                    "city".into(),
                    Value::String("Oslo".into()),
                )])),
            ),
        )]);
        assert_eq!(
            field_text(&keyed, &["address".into(), "city".into()]),
            Some("Oslo".into())
        );
    }
}
