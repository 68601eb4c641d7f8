//! One stream's records: generator + seed + envelope, as a pure function of `seq`.

use apache_avro::Schema;
use apache_avro::types::Value;
use uuid::Uuid;

use std::sync::Arc;

use super::expr::{CompiledOverrides, EvalCtx, ExprError, OverrideEvaluator};
use super::holes::{Holes, Scratch};
use super::{AvroGenerator, GenConfig, GenError, StreamSeed};
use crate::scenario::model::Stream;

/// A generated record and its envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub seq: u64,
    pub event_id: Uuid,
    pub value: Value,
    /// The Kafka key from `key: { expr: … }` (`None` for other key kinds).
    pub key: Option<String>,
}

/// Produces record `seq` of a stream. `Send + Sync`: share one per stream.
#[derive(Debug)]
pub struct StreamRecords {
    seed: StreamSeed,
    generator: AvroGenerator,
    /// The schema has a top-level `event_id` field to fill with the envelope id.
    event_id_field: Option<EventIdField>,
    overrides: Option<Arc<CompiledOverrides>>,
    /// Rows replayed instead of generated values.
    replay: Option<Arc<super::ReplaySource>>,
    /// Where the overrides write, when they can run without a value tree.
    holes: Option<Holes>,
}

/// Per-worker override state: one Rhai evaluator per stream, created on first
/// use, and the buffers of records written with holes.
#[derive(Debug, Default)]
pub struct Evaluators {
    by_stream: Vec<Option<OverrideEvaluator>>,
    holes: Scratch,
}

impl Evaluators {
    /// Stream `stream`'s evaluator, made on first use.
    fn get(&mut self, stream: usize, compiled: &Arc<CompiledOverrides>) -> &mut OverrideEvaluator {
        self.with_scratch(stream, compiled).0
    }

    /// [`Self::get`], and the buffers for records written with holes.
    fn with_scratch(
        &mut self,
        stream: usize,
        compiled: &Arc<CompiledOverrides>,
    ) -> (&mut OverrideEvaluator, &mut Scratch) {
        let scratch = &mut self.holes;
        if self.by_stream.len() <= stream {
            self.by_stream.resize_with(stream + 1, || None);
        }
        let evaluator =
            self.by_stream[stream].get_or_insert_with(|| OverrideEvaluator::new(compiled.clone()));
        (evaluator, scratch)
    }
}

/// Why a record with overrides could not be written.
#[derive(Debug)]
pub enum WriteError {
    Expr(ExprError),
    Encode(super::EncodeError),
}

#[derive(Debug, Clone, Copy)]
enum EventIdField {
    String,
    Uuid,
}

impl StreamRecords {
    pub fn new(stream: &Stream, seed: u64) -> Result<Self, GenError> {
        let generator = AvroGenerator::new(&stream.schema, GenConfig::default())?;
        let event_id_field = match generator.field_schema(&["event_id"]) {
            Some(Schema::Uuid(_)) => Some(EventIdField::Uuid),
            Some(Schema::String) => Some(EventIdField::String),
            _ => None,
        };
        let replay = stream.replay.as_ref().map(|r| r.source.clone());
        let holes = match (&stream.compiled, &replay) {
            (Some(compiled), None) => compiled
                .detached_fields()
                .and_then(|fields| Holes::new(&generator, &fields)),
            _ => None,
        };
        Ok(Self {
            seed: StreamSeed::new(seed, &stream.name),
            generator,
            event_id_field,
            overrides: stream.compiled.clone(),
            replay,
            holes,
        })
    }

    /// Record `seq` with the stream's overrides applied (the records a run sends).
    /// `stream` indexes `evaluators`; `ctx` carries the planned phase and offset.
    pub fn record_with(
        &self,
        seq: u64,
        stream: usize,
        evaluators: &mut Evaluators,
        ctx: &EvalCtx<'_>,
    ) -> Result<Record, ExprError> {
        let mut rng = self.seed.record_rng(seq);
        let mut value = self.base(seq, &mut rng);
        if let Some(compiled) = &self.overrides {
            let evaluator = evaluators.get(stream, compiled);
            evaluator.apply(&mut value, ctx, &mut rng)?;
            if compiled.has_key() {
                let mut record = self.finish(seq, value);
                record.key = evaluator.key(&record.value, ctx, &mut rng)?;
                return Ok(record);
            }
        }
        Ok(self.finish(seq, value))
    }

    fn finish(&self, seq: u64, mut value: Value) -> Record {
        let event_id = self.seed.event_id(seq);
        if let (Some(kind), Value::Record(fields)) = (self.event_id_field, &mut value)
            && let Some((_, v)) = fields.iter_mut().find(|(name, _)| name == "event_id")
        {
            *v = match kind {
                EventIdField::Uuid => Value::Uuid(event_id),
                EventIdField::String => Value::String(event_id.to_string()),
            };
        }
        Record {
            seq,
            event_id,
            value,
            key: None,
        }
    }

    /// Whether records are the schema's alone (no overrides, no replay), so
    /// that [`Self::write_direct`] can encode them without a `Value` tree.
    pub fn direct(&self) -> bool {
        self.overrides.is_none() && self.replay.is_none()
    }

    /// Whether records with overrides can be written without a `Value` tree
    /// ([`Self::write_overridden`]).
    pub fn holed(&self) -> bool {
        self.holes.is_some()
    }

    /// Appends the Avro binary of record `seq` with its overrides applied and
    /// `envelope` filled in: the bytes of [`Self::record_with`] + the
    /// envelope fields + encoding (through the value tree where
    /// [`Self::holed`] does not hold). A key expression is not evaluated:
    /// streams with one go through [`Self::record_with`].
    pub fn write_overridden(
        &self,
        seq: u64,
        stream: usize,
        evaluators: &mut Evaluators,
        ctx: &EvalCtx<'_>,
        envelope: &super::direct::Envelope<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(), WriteError> {
        let mut rng = self.seed.record_rng(seq);
        let (Some(holes), Some(compiled)) = (&self.holes, &self.overrides) else {
            // Through the value tree: the same bytes, only slower.
            let mut record = self
                .record_with(seq, stream, evaluators, ctx)
                .map_err(WriteError::Expr)?;
            super::direct::fill_envelope(&mut record.value, envelope);
            return self
                .generator
                .encode_into(&record.value, out)
                .map_err(WriteError::Encode);
        };
        let (evaluator, scratch) = evaluators.with_scratch(stream, compiled);
        holes.write(
            &self.generator,
            evaluator,
            scratch,
            &mut rng,
            ctx,
            envelope,
            out,
        )
    }

    /// The event id of record `seq`.
    pub fn event_id(&self, seq: u64) -> Uuid {
        self.seed.event_id(seq)
    }

    /// Appends the Avro binary of record `seq` with `envelope` filled in:
    /// the bytes of [`Self::record`] + the envelope fields + encoding, when
    /// [`Self::direct`] holds (otherwise the overrides and replay rows are
    /// not applied: callers check first).
    pub fn write_direct(
        &self,
        seq: u64,
        envelope: &super::direct::Envelope<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(), super::EncodeError> {
        self.generator
            .write_direct(&mut self.seed.record_rng(seq), envelope, out)
    }

    pub fn generator(&self) -> &AvroGenerator {
        &self.generator
    }

    /// Record `seq` before overrides, from the schema alone (or the replay file).
    pub fn record(&self, seq: u64) -> Record {
        let value = self.base(seq, &mut self.seed.record_rng(seq));
        self.finish(seq, value)
    }

    /// The replayed row for `seq`, or a generated value. Past the end of a
    /// replay that stops, the generator fills in (the engine never asks: the
    /// plan caps such streams at the file's length).
    fn base(&self, seq: u64, rng: &mut super::RecordRng) -> Value {
        match self.replay.as_ref().and_then(|r| r.record(seq)) {
            Some(row) => row,
            None => self.generator.generate(rng),
        }
    }
}
