//! `mbscenario sample`: print records exactly as a run would generate them.

use std::io::Write;

use crate::cli::SampleFormat;
use crate::datagen::expr::EvalCtx;
use crate::datagen::{Evaluators, StreamRecords};
use crate::encode;
use crate::exit::Exit;
use crate::plan::Plan;
use crate::scenario::Scenario;

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
    let chosen = match stream {
        None => scenario.streams.first(),
        Some(name) => scenario.streams.iter().find(|s| s.name == name),
    };
    let Some(stream) = chosen else {
        let known: Vec<&str> = scenario.streams.iter().map(|s| s.name.as_str()).collect();
        eprintln!(
            "error: no stream `{}` in scenario `{}` (streams: {})",
            stream.unwrap_or_default(),
            scenario.name,
            known.join(", ")
        );
        return Exit::Invalid;
    };
    let records = match StreamRecords::new(stream, scenario.seed) {
        Ok(r) => r,
        Err(e) => {
            eprintln!(
                "error: stream `{}`: cannot generate records for {}: {e}",
                stream.name, stream.schema_file.written
            );
            return Exit::Invalid;
        }
    };
    // Record numbers an event id can carry; and `-n` records must exist.
    let last = crate::datagen::MAX_SEQ;
    let end = from.checked_add(count);
    if from > last || end.is_none_or(|e| e > last + 1) {
        eprintln!(
            "error: records {from}..{} are out of range: record numbers go from 0 to {last}",
            end.map_or_else(|| "∞".to_string(), |e| e.to_string())
        );
        eprintln!("  = help: lower --from or -n");
        return Exit::Invalid;
    }
    if let Some(limit) = stream.record_limit()
        && from >= limit
    {
        eprintln!(
            "error: stream `{}` replays {limit} record(s); --from {from} is past the end",
            stream.name
        );
        return Exit::Invalid;
    }
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
        // Overrides see the phase and planned offset the run would give this record.
        let (phase, t) = plan.locate(index, seq).map_or(
            (plan.phases.last().map_or("", |p| p.name.as_str()), 0),
            |(p, t)| {
                (
                    p.name.as_str(),
                    i64::try_from(t.as_millis()).unwrap_or(i64::MAX),
                )
            },
        );
        let ctx = EvalCtx {
            seq,
            phase,
            t_ms: t,
        };
        let r = match records.record_with(seq, index, &mut evaluators, &ctx) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("error: {e}");
                if let Some(at) = super::expr_location(file, scenario, &e) {
                    eprintln!("{at}");
                }
                return Exit::Invalid;
            }
        };
        let line = match format {
            SampleFormat::Json => serde_json::json!({
                "stream": stream.name,
                "seq": seq,
                "event_id": r.event_id.to_string(),
                "value": records.generator().to_json(&r.value),
            })
            .to_string(),
            SampleFormat::Hex => {
                buf.clear();
                if let Err(e) =
                    encode::confluent_into(records.generator(), schema_id, &r.value, &mut buf)
                {
                    eprintln!(
                        "error: record {seq} of stream `{}` cannot be encoded: {e:?}",
                        stream.name
                    );
                    return Exit::Failure;
                }
                buf.iter().map(|b| format!("{b:02x}")).collect()
            }
        };
        if writeln!(out, "{line}").is_err() {
            // A closed pipe (`| head`) is not an error.
            return Exit::Passed;
        }
    }
    Exit::Passed
}
