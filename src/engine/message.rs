//! Record → message: what a lane builds for one due tick — the record
//! (encoded straight from the generator when it is schema-only, or through a
//! value tree with overrides applied), the envelope fields and headers, the
//! key, the destination of the route.

use std::time::SystemTime;

use apache_avro::types::Value;
use tokio::time::Instant;

use super::prepare::StreamRuntime;
use super::worker::Shared;
use crate::datagen::Evaluators;
use crate::datagen::expr::EvalCtx;
use crate::datagen::record::WriteError;
use crate::encode;
use crate::scenario::model::Key;
use crate::sink::{OutMessage, Route};

/// The due tick a message is built for.
#[derive(Clone, Copy)]
struct Tick {
    phase: usize,
    stream: usize,
    seq: u64,
    route: Route,
    scheduled: Instant,
}

#[allow(clippy::too_many_arguments)] // one call site; a struct would only rename the arguments
pub(super) fn build(
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
    let tick = Tick {
        phase,
        stream,
        seq,
        route,
        scheduled,
    };
    // Fast path: a schema-only record to Kafka is encoded as it is drawn,
    // with no Value tree (same bytes; see datagen::direct).
    if route == Route::Kafka && matches!(s.key, Key::None | Key::Random) {
        if s.records.direct() {
            return build_direct(s, tick, buf, |envelope, out| {
                s.records
                    .write_direct(seq, envelope, out)
                    .map_err(|e| encode_error(s, seq, e))
            });
        }
        // Overrides that read only their own field: written into holes of
        // a directly encoded record (see datagen::holes).
        if s.records.holed() {
            let ctx = eval_ctx(shared, tick);
            return build_direct(s, tick, buf, |envelope, out| {
                s.records
                    .write_overridden(seq, stream, evaluators, &ctx, envelope, out)
                    .map_err(|e| match e {
                        WriteError::Expr(e) => expr_failed(shared, e),
                        WriteError::Encode(e) => encode_error(s, seq, e),
                    })
            });
        }
    }
    let mut record = generate(shared, s, tick, evaluators)?;
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
    let event_id = id_text(record.event_id);
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
                .map_err(|e| encode_error(s, seq, e))?;
            buf.clone()
        }
        Route::Sqs => s
            .records
            .generator()
            .to_json(&record.value)
            .to_string()
            .into_bytes(),
    };
    let msg = message(s, tick, event_id, key, sent_at, payload);
    Ok((msg, sent_at))
}

fn encode_error(
    s: &StreamRuntime,
    seq: u64,
    e: crate::datagen::EncodeError,
) -> crate::sink::SendError {
    crate::sink::SendError {
        kind: "encode",
        message: format!("stream {} record {seq}: {e:?}", s.name),
    }
}

/// A record to Kafka, encoded as it is drawn (no value tree) by `write`.
#[inline]
fn build_direct(
    s: &StreamRuntime,
    tick: Tick,
    buf: &mut Vec<u8>,
    write: impl FnOnce(
        &crate::datagen::direct::Envelope<'_>,
        &mut Vec<u8>,
    ) -> Result<(), crate::sink::SendError>,
) -> Result<(OutMessage, SystemTime), crate::sink::SendError> {
    let event_id = s.records.event_id(tick.seq);
    let sent_at = SystemTime::now();
    let envelope = crate::datagen::direct::Envelope {
        event_id,
        sent_at,
        schema_id: s.schema_id,
        schema_subject: s.schema_subject.as_deref(),
    };
    buf.clear();
    encode::confluent_header(s.schema_id, buf);
    write(&envelope, buf)?;
    let event_id = id_text(event_id);
    let key = matches!(s.key, Key::Random).then(|| event_id.clone());
    let msg = message(s, tick, event_id, key, sent_at, buf.clone());
    Ok((msg, sent_at))
}

/// What expressions see of `tick`: its number, phase and time into the run.
fn eval_ctx<'a>(shared: &'a Shared, tick: Tick) -> EvalCtx<'a> {
    EvalCtx {
        seq: tick.seq,
        phase: &shared.phase_names[tick.phase],
        t_ms: i64::try_from(
            tick.scheduled
                .saturating_duration_since(shared.start)
                .as_millis(),
        )
        .unwrap_or(i64::MAX),
    }
}

/// An expression error is the run's fatal error: the first one stops the run.
fn expr_failed(shared: &Shared, e: crate::datagen::expr::ExprError) -> crate::sink::SendError {
    let mut fatal = shared.fatal.lock().unwrap_or_else(|p| p.into_inner());
    if fatal.is_none() {
        *fatal = Some(e.clone());
        shared.stop.cancel();
    }
    crate::sink::SendError {
        kind: "expr",
        message: e.to_string(),
    }
}

/// The record of `tick` with the stream's overrides applied; an expression
/// error is the run's fatal error (the first one stops the run).
fn generate(
    shared: &Shared,
    s: &StreamRuntime,
    tick: Tick,
    evaluators: &mut Evaluators,
) -> Result<crate::datagen::Record, crate::sink::SendError> {
    let ctx = eval_ctx(shared, tick);
    s.records
        .record_with(tick.seq, tick.stream, evaluators, &ctx)
        .map_err(|e| expr_failed(shared, e))
}

/// The message around an encoded record: destination, envelope headers
/// (event id, send time, schema) and the stream's own headers.
#[inline]
fn message(
    s: &StreamRuntime,
    tick: Tick,
    event_id: String,
    key: Option<String>,
    sent_at: SystemTime,
    payload: Vec<u8>,
) -> OutMessage {
    let Tick {
        phase,
        stream,
        seq,
        route,
        scheduled,
    } = tick;
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
    headers.push(("sent_at".to_string(), rfc3339_micros(sent_at)));
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

/// The event id's hyphenated text, as `Uuid::to_string` writes it but without
/// the formatting machinery (per message, so it counts).
fn id_text(id: uuid::Uuid) -> String {
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    id.hyphenated().encode_lower(&mut text).to_owned()
}

/// `sent_at` as humantime's `format_rfc3339_micros` writes it. Messages sent
/// in the same second share the date and time of day, so each lane formats
/// those once per second and appends the microseconds: the full format was
/// a twentieth of a schema-only record's cost.
fn rfc3339_micros(at: SystemTime) -> String {
    use std::cell::RefCell;
    thread_local! {
        /// The last second formatted: (seconds since the epoch, "YYYY-MM-DDTHH:MM:SS").
        static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }
    let Ok(since) = at.duration_since(SystemTime::UNIX_EPOCH) else {
        return humantime::format_rfc3339_micros(at).to_string();
    };
    SECOND.with_borrow_mut(|(secs, prefix)| {
        if *secs != since.as_secs() {
            let whole = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(since.as_secs());
            *prefix = humantime::format_rfc3339_seconds(whole).to_string();
            prefix.pop(); // the closing `Z`
            *secs = since.as_secs();
        }
        let mut text = String::with_capacity(prefix.len() + 8);
        text.push_str(prefix);
        text.push('.');
        // Six digits, zero-padded (`{:06}` through the formatting machinery
        // cost more than the rest of this function).
        let micros = since.subsec_micros();
        for place in [100_000, 10_000, 1_000, 100, 10, 1] {
            text.push(char::from(b'0' + ((micros / place) % 10) as u8));
        }
        text.push('Z');
        text
    })
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
    fn send_times_read_as_humantime_writes_them() {
        let base = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_764_547_199);
        // Within a second, across second, day and year boundaries, and whole seconds.
        for micros in [
            0,
            1,
            999_999,
            1_000_000,
            1_000_001,
            86_400_000_000,
            2_000_000_123_456,
        ] {
            let at = base + std::time::Duration::from_micros(micros);
            assert_eq!(
                rfc3339_micros(at),
                humantime::format_rfc3339_micros(at).to_string()
            );
        }
    }

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
