//! Per-stream runtime state built once before a run: record source, schema
//! id for the wire format, destinations and key rule.

use crate::datagen::{GenError, StreamRecords};
use crate::scenario::model::{Key, Scenario, Stream};

/// Everything a worker needs to turn `seq` into a message for one stream.
#[derive(Debug)]
pub struct StreamRuntime {
    pub name: String,
    pub records: StreamRecords,
    /// Schema id written in the Confluent frame (pinned, or from the registry).
    pub schema_id: u32,
    pub schema_subject: Option<String>,
    pub topic: String,
    pub queue: Option<String>,
    pub key: Key,
    pub headers: Vec<(String, String)>,
    /// Most records the stream can send (a replay that stops at its end).
    pub limit: Option<u64>,
}

/// Builds the runtime of every stream; `schema_ids` (per stream) come from
/// setup (registry); a `None` entry, or no list, uses the stream's pinned id.
pub fn streams(
    scenario: &Scenario,
    seed: u64,
    schema_ids: Option<&[Option<(u32, String)>]>,
) -> Result<Vec<StreamRuntime>, (String, GenError)> {
    of_specs(&scenario.streams, seed, schema_ids)
}

/// Like [`streams`], from the validated streams alone (a run has them from
/// its plan, `Plan::specs`).
pub fn of_specs(
    specs: &[Stream],
    seed: u64,
    schema_ids: Option<&[Option<(u32, String)>]>,
) -> Result<Vec<StreamRuntime>, (String, GenError)> {
    specs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let records = StreamRecords::new(s, seed).map_err(|e| (s.name.clone(), e))?;
            let (schema_id, schema_subject) = match schema_ids
                .and_then(|ids| ids.get(i))
                .and_then(Option::as_ref)
            {
                Some((id, subject)) => (*id, Some(subject.clone())),
                None => (s.schema_id.unwrap_or(0), None),
            };
            Ok(StreamRuntime {
                name: s.name.clone(),
                records,
                schema_id,
                schema_subject,
                topic: s.topic.clone(),
                queue: s.queue.clone(),
                key: s.key.clone(),
                headers: s.headers.clone(),
                limit: s.record_limit(),
            })
        })
        .collect()
}
