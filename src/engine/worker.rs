//! A worker turns a due tick into a message and sends it:
//! record(seq) → envelope → encode for the route → sink → recorder.
//!
//! Workers are long-lived tasks pulling jobs from one channel; how many may be
//! busy at once is bounded by the phase's semaphore (the permit travels with
//! the job and is released when the send is acknowledged or fails).

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
use crate::sink::{OutMessage, Route, Sinks};

/// One message to produce.
#[derive(Debug)]
pub struct Job {
    pub phase: usize,
    pub stream: usize,
    pub seq: u64,
    pub route: Route,
    pub scheduled: Instant,
    pub permit: OwnedSemaphorePermit,
}

/// What every worker shares.
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
    pub failures_logged: std::sync::atomic::AtomicU64,
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

    /// A due message found no free worker.
    pub fn dropped(&self, phase: usize, stream: usize, at: std::time::Duration) {
        if let Some(m) = &self.metrics {
            m.dropped(phase, stream);
        }
        self.record(|r| r.dropped(phase, stream, at));
    }
}

/// Runs until the job channel closes; `worker` is the task's index (for logs).
pub async fn run(shared: Arc<Shared>, jobs: async_channel::Receiver<Job>, worker: usize) {
    let mut buf = Vec::with_capacity(512);
    let mut evaluators = Evaluators::default();
    while let Ok(job) = jobs.recv().await {
        process(&shared, job, &mut buf, &mut evaluators, worker).await;
    }
}

async fn process(
    shared: &Shared,
    job: Job,
    buf: &mut Vec<u8>,
    evaluators: &mut Evaluators,
    worker: usize,
) {
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
    let cell_metrics = shared.metrics.as_ref().and_then(|m| {
        m.lag(phase, stream, lag.as_secs_f64());
        m.cell(phase, stream, route)
    });
    if let Some(m) = cell_metrics {
        m.sent.increment(1);
    }
    let mut sent_info = None;
    let outcome = match build(
        shared, phase, stream, seq, route, scheduled, buf, evaluators,
    ) {
        Ok((msg, sent_at)) => {
            sent_info = Some((msg.event_id.clone(), sent_at));
            shared.sinks.for_route(route).send(msg).await
        }
        Err(e) => Err(e),
    };
    let done = Instant::now();
    let at = done.saturating_duration_since(shared.start);
    if let (Some(ledger), Some((id, sent_at))) = (&shared.ledger, sent_info)
        && let Some(id) = crate::collect::ledger::parse_event_id(&id)
    {
        ledger.record(
            id,
            crate::collect::Sent {
                phase: u32::try_from(phase).unwrap_or(u32::MAX),
                stream: u32::try_from(stream).unwrap_or(u32::MAX),
                seq,
                sent_at_us: sent_at
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
                    .unwrap_or(0),
                acked: outcome.is_ok(),
            },
        );
    }
    match outcome {
        Ok(retries) => {
            let latency = done.saturating_duration_since(scheduled);
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
            let n = shared
                .failures_logged
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if n < LOGGED_FAILURES {
                tracing::warn!(
                    event = "SendFailed",
                    phase = %shared.phase_names[phase],
                    stream = %shared.streams[stream].name,
                    sink = shared.sinks.for_route(route).name(),
                    worker,
                    seq,
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
            shared.record(|r| r.failed(phase, stream, e.kind, at))
        }
    }
    drop(permit);
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
    set_sent_at(&mut record.value, sent_at);
    set_envelope_ids(&mut record.value, s.schema_id, s.schema_subject.as_deref());
    let event_id = record.event_id.to_string();
    let key = match &s.key {
        Key::None => None,
        Key::Random => Some(event_id.clone()),
        Key::Field { path } => field_text(&record.value, path),
        Key::Expr { .. } => record.key.clone(),
    };
    let mut headers = vec![
        (
            "content-type".to_string(),
            match route {
                Route::Kafka => "application/avro-binary",
                Route::Sqs => "application/json",
            }
            .to_string(),
        ),
        ("event_id".to_string(), event_id.clone()),
        // Microsecond RFC 3339: Connect's SimpleHeaderConverter keeps it a string.
        (
            "sent_at".to_string(),
            humantime::format_rfc3339_micros(sent_at).to_string(),
        ),
        ("schema_id".to_string(), s.schema_id.to_string()),
    ];
    if let Some(subject) = &s.schema_subject {
        headers.push(("schema_subject".to_string(), subject.clone()));
    }
    headers.extend(s.headers.iter().cloned());
    let (destination, payload) = match route {
        Route::Kafka => {
            buf.clear();
            encode::confluent_into(s.records.generator(), s.schema_id, &record.value, buf)
                .map_err(|e| crate::sink::SendError {
                    kind: "encode",
                    message: format!("stream {} record {seq}: {e:?}", s.name),
                })?;
            (s.topic.clone(), buf.clone())
        }
        Route::Sqs => (
            s.queue.clone().unwrap_or_default(),
            s.records
                .generator()
                .to_json(&record.value)
                .to_string()
                .into_bytes(),
        ),
    };
    Ok((
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
        },
        sent_at,
    ))
}

/// Fills a top-level `sent_at` field (long / timestamp) with the wall clock.
fn set_sent_at(value: &mut Value, at: SystemTime) {
    let Value::Record(fields) = value else { return };
    let Some((_, v)) = fields.iter_mut().find(|(n, _)| n == "sent_at") else {
        return;
    };
    let since = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let millis = i64::try_from(since.as_millis()).unwrap_or(i64::MAX);
    let micros = i64::try_from(since.as_micros()).unwrap_or(i64::MAX);
    *v = match v {
        Value::TimestampMillis(_) => Value::TimestampMillis(millis),
        Value::TimestampMicros(_) => Value::TimestampMicros(micros),
        Value::Long(_) => Value::Long(millis),
        Value::String(_) => Value::String(humantime::format_rfc3339_micros(at).to_string()),
        _ => return,
    };
}

/// Fills top-level `schema_id` (int/long) and `schema_subject` (string) fields
/// with the envelope values, when the schema has them.
fn set_envelope_ids(value: &mut Value, schema_id: u32, subject: Option<&str>) {
    let Value::Record(fields) = value else { return };
    for (name, v) in fields.iter_mut() {
        match (name.as_str(), &*v) {
            ("schema_id", Value::Int(_)) => {
                *v = Value::Int(i32::try_from(schema_id).unwrap_or(i32::MAX))
            }
            ("schema_id", Value::Long(_)) => *v = Value::Long(i64::from(schema_id)),
            ("schema_subject", Value::String(_)) => {
                if let Some(s) = subject {
                    *v = Value::String(s.to_string());
                }
            }
            _ => {}
        }
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
        let mut v = Value::Record(vec![
            ("schema_id".into(), Value::Long(0)),
            ("schema_subject".into(), Value::String(String::new())),
            ("other".into(), Value::Int(1)),
        ]);
        set_envelope_ids(&mut v, 42, Some("events.card-value"));
        assert_eq!(
            v,
            Value::Record(vec![
                ("schema_id".into(), Value::Long(42)),
                (
                    "schema_subject".into(),
                    Value::String("events.card-value".into())
                ),
                ("other".into(), Value::Int(1)),
            ])
        );
        let mut keyed = Value::Record(vec![(
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
        set_sent_at(&mut keyed, SystemTime::UNIX_EPOCH);
    }
}
