//! `mbscenario sample`: print records exactly as a run would generate them.
//!
//! `chosen` stream → its records → `check_range` → per record: its
//! `context` (phase, planned offset) → value → one line of JSON or hex.

use std::io::Write;

use crate::cli::SampleFormat;
use crate::datagen::expr::EvalCtx;
use crate::datagen::{Evaluators, Record, StreamRecords};
use crate::encode;
use crate::exit::Exit;
use crate::plan::Plan;
use crate::scenario::Scenario;
use crate::scenario::model::Stream;

/// Writes `count` records of a stream from `from` on; returns the exit status.
pub fn sample(
    file: &std::path::Path,
    scenario: &Scenario,
    stream: Option<&str>,
    from: u64,
    count: u64,
    format: SampleFormat,
    out: &mut dyn Write,
) -> Exit {
    match write_records(file, scenario, stream, from, count, format, out) {
        Ok(()) => Exit::Passed,
        Err(exit) => exit,
    }
}

/// [`sample`] with every refusal said on stderr and returned as its exit status.
fn write_records(
    file: &std::path::Path,
    scenario: &Scenario,
    stream: Option<&str>,
    from: u64,
    count: u64,
    format: SampleFormat,
    out: &mut dyn Write,
) -> Result<(), Exit> {
    let stream = chosen(scenario, stream)?;
    let records = StreamRecords::new(stream, scenario.seed).map_err(|e| {
        eprintln!(
            "error: stream `{}`: cannot generate records for {}: {e}",
            stream.name, stream.schema_file.written
        );
        Exit::Invalid
    })?;
    check_range(stream, from, count)?;
    let schema_id = stream.schema_id.unwrap_or(0);
    let mut buf = Vec::new();
    let plan = Plan::compile(scenario);
    let index = scenario
        .streams
        .iter()
        .position(|s| s.name == stream.name)
        .unwrap_or(0);
    let mut evaluators = Evaluators::default();
    for seq in from..from.saturating_add(count) {
        let r = records
            .record_with(seq, index, &mut evaluators, &context(&plan, index, seq))
            .map_err(|e| {
                eprintln!("error: {e}");
                if let Some(at) = super::expr_location(file, &scenario.streams, &e) {
                    eprintln!("{at}");
                }
                Exit::Invalid
            })?;
        let line = line(format, &records, &stream.name, schema_id, &r, &mut buf)?;
        if writeln!(out, "{line}").is_err() {
            // A closed pipe (`| head`) is not an error.
            return Ok(());
        }
    }
    Ok(())
}

/// Record `r` (its `seq` is the record number) as one output line: JSON with its event id, or the hex of its
/// Confluent wire encoding (built in `buf`).
fn line(
    format: SampleFormat,
    records: &StreamRecords,
    stream: &str,
    schema_id: u32,
    r: &Record,
    buf: &mut Vec<u8>,
) -> Result<String, Exit> {
    Ok(match format {
        SampleFormat::Json => serde_json::json!({
            "stream": stream,
            "seq": r.seq,
            "event_id": r.event_id.to_string(),
            "value": records.generator().to_json(&r.value),
        })
        .to_string(),
        SampleFormat::Hex => {
            buf.clear();
            if let Err(e) = encode::confluent_into(records.generator(), schema_id, &r.value, buf) {
                eprintln!(
                    "error: record {} of stream `{stream}` cannot be encoded: {e:?}",
                    r.seq
                );
                return Err(Exit::Failure);
            }
            buf.iter().map(|b| format!("{b:02x}")).collect()
        }
    })
}

/// The stream asked for (the first without `--stream`).
fn chosen<'a>(scenario: &'a Scenario, stream: Option<&str>) -> Result<&'a Stream, Exit> {
    let chosen = match stream {
        None => scenario.streams.first(),
        Some(name) => scenario.streams.iter().find(|s| s.name == name),
    };
    chosen.ok_or_else(|| {
        let known: Vec<&str> = scenario.streams.iter().map(|s| s.name.as_str()).collect();
        eprintln!(
            "error: no stream `{}` in scenario `{}` (streams: {})",
            stream.unwrap_or_default(),
            scenario.name,
            known.join(", ")
        );
        Exit::Invalid
    })
}

/// Records `from..from + count` must be numbers an event id can carry, and
/// start before the end of a replayed stream.
fn check_range(stream: &Stream, from: u64, count: u64) -> Result<(), Exit> {
    let last = crate::datagen::MAX_SEQ;
    let end = from.checked_add(count);
    if from > last || end.is_none_or(|e| e > last + 1) {
        eprintln!(
            "error: records {from}..{} are out of range: record numbers go from 0 to {last}",
            end.map_or_else(|| "∞".to_string(), |e| e.to_string())
        );
        eprintln!("  = help: lower --from or -n");
        return Err(Exit::Invalid);
    }
    if let Some(limit) = stream.record_limit()
        && from >= limit
    {
        eprintln!(
            "error: stream `{}` replays {limit} record(s); --from {from} is past the end",
            stream.name
        );
        return Err(Exit::Invalid);
    }
    Ok(())
}

/// What overrides see for record `seq` of stream `index`: the phase and
/// planned offset the run would give it (past the plan: its last phase, 0).
fn context(plan: &Plan, index: usize, seq: u64) -> EvalCtx<'_> {
    let (phase, t) = plan.locate(index, seq).map_or(
        (plan.phases.last().map_or("", |p| p.name.as_str()), 0),
        |(p, t)| {
            (
                p.name.as_str(),
                i64::try_from(t.as_millis()).unwrap_or(i64::MAX),
            )
        },
    );
    EvalCtx {
        seq,
        phase,
        t_ms: t,
    }
}
