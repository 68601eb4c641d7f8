//! Records with overrides, written without a value tree.
//!
//! The slow path builds a record's `Value`, runs the overrides on it and
//! encodes the result. Most overrides only replace their field — they read
//! neither `record` nor any other field, and there is no key expression —
//! and for those the record can be written like [`AvroGenerator::write_direct`]
//! writes a schema-only one, leaving a hole at each overridden field:
//!
//! ```text
//!   walk the schema, drawing every field as the slow path does
//!     ├─ a plain field ─▶ written as drawn
//!     └─ an overridden one ─▶ drawn (its draws are still made, so that the
//!        fields after it get the same ones), kept as a value only when the
//!        override reads `default`, and marked: (override, offset, node)
//!   run the overrides on their fields alone (OverrideEvaluator::apply_detached:
//!     same order, same draws after the record's, as on the slow path)
//!   encode each result into its hole
//! ```
//!
//! Same bytes as the slow path; tests compare both. A [`Holes`] plan is
//! made once per stream and is `None` — the stream keeps the slow path —
//! whenever the field paths are not plain: a path through an envelope field,
//! through a field with a default, through a union with more than one record
//! branch, or two paths where one is (a prefix of) the other.

use apache_avro::types::Value;
use rand::Rng;

use super::AvroGenerator;
use super::compile::{Node, NodeId, RecordNode};
use super::datum::{self, EncodeError, write_long};
use super::direct::{ENVELOPE_FIELDS, Envelope};
use super::expr::{EvalCtx, OverrideEvaluator};
use super::record::WriteError;
use super::seed::RecordRng;

/// Where a stream's overridden fields are, by schema position.
#[derive(Debug)]
pub(crate) struct Holes {
    root: RecordPlan,
    /// Per override: whether it reads `default` (its field's drawn value).
    uses_default: Vec<bool>,
}

/// What to do with each field of one record (by field index).
#[derive(Debug)]
struct RecordPlan {
    slots: Vec<Slot>,
}

#[derive(Debug)]
enum Slot {
    Plain,
    /// The field of override `i`.
    Hole(usize),
    /// A field on the way to overridden ones: the record it holds (directly
    /// or as a union's one record branch) and what to do with its fields.
    Into {
        record: NodeId,
        plan: RecordPlan,
    },
}

/// An overridden field met by the walk.
#[derive(Debug)]
pub(crate) struct Hole {
    /// Which override.
    pub index: usize,
    /// Where its encoding goes in the output.
    pub at: usize,
    /// The field's type.
    pub node: NodeId,
    /// Its drawn value when the override reads `default`, else `Null`.
    pub value: Value,
}

impl Holes {
    /// The plan for overrides on `fields` (path, reads `default`), in their
    /// order; `None` where the walk could not match the slow path simply.
    pub(crate) fn new(generator: &AvroGenerator, fields: &[(&[String], bool)]) -> Option<Self> {
        let nodes = &generator.graph.nodes;
        let Node::Record(root) = &nodes[generator.graph.root] else {
            return None;
        };
        let mut plan = RecordPlan::for_record(root);
        for (index, (path, _)) in fields.iter().enumerate() {
            let (first, _) = path.split_first()?;
            if ENVELOPE_FIELDS.contains(&first.as_str()) {
                return None;
            }
            plan.add(nodes, root, path, index)?;
        }
        Some(Self {
            root: plan,
            uses_default: fields.iter().map(|(_, default)| *default).collect(),
        })
    }

    /// How many overrides the plan is for.
    pub(crate) fn len(&self) -> usize {
        self.uses_default.len()
    }
}

impl RecordPlan {
    fn for_record(record: &RecordNode) -> Self {
        Self {
            slots: record.fields.iter().map(|_| Slot::Plain).collect(),
        }
    }

    /// Marks override `index`'s field at `path` (relative to `record`).
    fn add(
        &mut self,
        nodes: &[Node],
        record: &RecordNode,
        path: &[String],
        index: usize,
    ) -> Option<()> {
        let (name, rest) = path.split_first()?;
        let at = record.fields.iter().position(|f| &f.name == name)?;
        let field = &record.fields[at];
        if rest.is_empty() {
            return match self.slots[at] {
                Slot::Plain => {
                    self.slots[at] = Slot::Hole(index);
                    Some(())
                }
                _ => None,
            };
        }
        if field.default.is_some() {
            return None;
        }
        let inner = record_in(nodes, field.node)?;
        let Node::Record(inner_record) = &nodes[inner] else {
            return None;
        };
        if let Slot::Plain = self.slots[at] {
            self.slots[at] = Slot::Into {
                record: inner,
                plan: RecordPlan::for_record(inner_record),
            };
        }
        match &mut self.slots[at] {
            Slot::Into { plan, .. } => plan.add(nodes, inner_record, rest, index),
            _ => None,
        }
    }
}

/// The record a field holds: itself, or a union's only record branch.
fn record_in(nodes: &[Node], id: NodeId) -> Option<NodeId> {
    match &nodes[id] {
        Node::Record(_) => Some(id),
        Node::Union(union) => {
            let mut records = union
                .branches
                .iter()
                .filter(|&&b| matches!(nodes[b], Node::Record(_)));
            let only = *records.next()?;
            records.next().is_none().then_some(only)
        }
        _ => None,
    }
}

impl AvroGenerator {
    /// Appends the record `write_direct` would write, with a hole at each
    /// overridden field of `holes`, and lists the holes met in `found` (in
    /// output order; an override whose field is absent — inside a `null`
    /// branch — has none).
    pub(crate) fn write_holed<R: Rng + ?Sized>(
        &self,
        holes: &Holes,
        rng: &mut R,
        env: &Envelope<'_>,
        out: &mut Vec<u8>,
        found: &mut Vec<Hole>,
    ) -> Result<(), EncodeError> {
        let Node::Record(root) = &self.graph.nodes[self.graph.root] else {
            // Holes::new plans record schemas only; written whole, nothing found.
            return self.write_direct(rng, env, out);
        };
        let mut walk = Walk {
            generator: self,
            holes,
            rng,
            out,
            found,
        };
        walk.record(root, &holes.root, 0, Some(env))
    }
}

/// One record's walk: where it writes, and what it found.
struct Walk<'a, R: ?Sized> {
    generator: &'a AvroGenerator,
    holes: &'a Holes,
    rng: &'a mut R,
    out: &'a mut Vec<u8>,
    found: &'a mut Vec<Hole>,
}

impl<R: Rng + ?Sized> Walk<'_, R> {
    /// The fields of `record` (at `depth`; the root record is at 0 and fills
    /// its envelope fields from `env`).
    fn record(
        &mut self,
        record: &RecordNode,
        plan: &RecordPlan,
        depth: usize,
        env: Option<&Envelope<'_>>,
    ) -> Result<(), EncodeError> {
        let generator = self.generator;
        let graph = &generator.graph;
        for (field, slot) in record.fields.iter().zip(&plan.slots) {
            match slot {
                Slot::Plain => match (env, &field.default) {
                    (Some(env), _) if ENVELOPE_FIELDS.contains(&field.name.as_str()) => {
                        generator.write_envelope_field(field, self.rng, env, self.out)?;
                    }
                    (_, Some(default)) => datum::encode(graph, field.node, default, self.out)?,
                    (_, None) => generator.write_node(field.node, depth + 1, self.rng, self.out)?,
                },
                Slot::Hole(index) => self.hole(*index, field, depth + 1)?,
                Slot::Into { record, plan } => self.into(field.node, *record, plan, depth + 1)?,
            }
        }
        Ok(())
    }

    /// An overridden field: drawn as the slow path draws it (kept only when
    /// the override reads it), nothing written.
    fn hole(
        &mut self,
        index: usize,
        field: &super::compile::FieldNode,
        depth: usize,
    ) -> Result<(), EncodeError> {
        let at = self.out.len();
        let value = match (&field.default, self.holes.uses_default[index]) {
            (Some(default), true) => default.clone(),
            (None, true) => self.generator.value(field.node, depth, self.rng),
            (Some(_), false) => Value::Null,
            (None, false) => {
                self.generator
                    .write_node(field.node, depth, self.rng, self.out)?;
                self.out.truncate(at);
                Value::Null
            }
        };
        self.found.push(Hole {
            index,
            at,
            node: field.node,
            value,
        });
        Ok(())
    }

    /// A field on the way to overridden ones, holding `record` directly or
    /// as a union branch (another branch drawn is written as drawn).
    fn into(
        &mut self,
        node: NodeId,
        record: NodeId,
        plan: &RecordPlan,
        depth: usize,
    ) -> Result<(), EncodeError> {
        let generator = self.generator;
        let nodes = &generator.graph.nodes;
        let branch = match &nodes[node] {
            Node::Union(union) => {
                let deep = depth >= generator.config.max_depth;
                let (index, branch) = generator.union_branch(union, deep, self.rng);
                write_long(self.out, i64::from(index));
                branch
            }
            _ => node,
        };
        match &nodes[branch] {
            Node::Record(inner) if branch == record => self.record(inner, plan, depth, None),
            _ => generator.write_node(branch, depth, self.rng, self.out),
        }
    }
}

/// A worker's buffers for records written with holes (reused, so that a
/// record allocates only what its overrides' values need).
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    found: Vec<Hole>,
    slots: Vec<Option<Value>>,
    results: Vec<u8>,
    ends: Vec<usize>,
}

impl Holes {
    /// Appends the record `rng` draws with its overrides applied (by
    /// `evaluator`) and its envelope fields from `env`.
    #[allow(clippy::too_many_arguments)] // one caller; the parts of one write
    pub(crate) fn write(
        &self,
        generator: &AvroGenerator,
        evaluator: &mut OverrideEvaluator,
        scratch: &mut Scratch,
        rng: &mut RecordRng,
        ctx: &EvalCtx<'_>,
        env: &Envelope<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(), WriteError> {
        let Scratch {
            found,
            slots,
            results,
            ends,
        } = scratch;
        found.clear();
        generator
            .write_holed(self, rng, env, out, found)
            .map_err(WriteError::Encode)?;
        slots.clear();
        slots.resize(self.len(), None);
        for hole in found.iter_mut() {
            slots[hole.index] = Some(std::mem::replace(&mut hole.value, Value::Null));
        }
        evaluator
            .apply_detached(slots, ctx, rng)
            .map_err(WriteError::Expr)?;
        fill(generator, found, slots, out, results, ends).map_err(WriteError::Encode)
    }
}

/// Encodes each override's result (`slots[hole.index]`) into its hole.
fn fill(
    generator: &AvroGenerator,
    found: &[Hole],
    slots: &[Option<Value>],
    out: &mut Vec<u8>,
    results: &mut Vec<u8>,
    ends: &mut Vec<usize>,
) -> Result<(), EncodeError> {
    // The results one after another, then one pass from the back that moves
    // each stretch of the record up by the results before it and copies the
    // results in (each byte moved once; a `splice` per hole moved the rest
    // of the record each time).
    results.clear();
    ends.clear();
    for hole in found {
        if let Some(value) = &slots[hole.index] {
            datum::encode(&generator.graph, hole.node, value, results)?;
        }
        ends.push(results.len());
    }
    let mut end = out.len();
    out.resize(end + results.len(), 0);
    for (k, hole) in found.iter().enumerate().rev() {
        let (start, shift) = (if k == 0 { 0 } else { ends[k - 1] }, ends[k]);
        // The record after hole k moves up by the results up to and with k's.
        out.copy_within(hole.at..end, hole.at + shift);
        out[hole.at + start..hole.at + shift].copy_from_slice(&results[start..shift]);
        end = hole.at;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datagen::direct::tests::schemas;
    use crate::datagen::{GenConfig, StreamSeed};

    /// A hole at any top-level field, filled with the value drawn for it,
    /// gives `write_direct`'s bytes after the same draws: on every shipped
    /// schema, with field defaults used and not.
    #[test]
    fn holes_filled_with_their_drawn_values_are_the_direct_record() {
        let env = Envelope {
            event_id: uuid::Uuid::from_u128(7),
            sent_at: std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_764_547_199_123),
            schema_id: 5,
            schema_subject: Some("s-value"),
        };
        let mut checked = 0;
        for (file, schema) in schemas() {
            for use_defaults in [false, true] {
                let config = GenConfig {
                    use_defaults,
                    ..GenConfig::default()
                };
                let Ok(generator) = AvroGenerator::new(&schema, config) else {
                    continue;
                };
                let Node::Record(root) = &generator.graph.nodes[generator.graph.root] else {
                    continue;
                };
                let seed = StreamSeed::new(3, "s");
                for field in root
                    .fields
                    .iter()
                    .filter(|f| !ENVELOPE_FIELDS.contains(&f.name.as_str()))
                {
                    let path = [field.name.clone()];
                    let holes = Holes::new(&generator, &[(&path, true)]).unwrap();
                    for seq in 0..40 {
                        let (mut a, mut b) = (seed.record_rng(seq), seed.record_rng(seq));
                        let mut want = Vec::new();
                        generator.write_direct(&mut a, &env, &mut want).unwrap();
                        let (mut got, mut found) = (Vec::new(), Vec::new());
                        generator
                            .write_holed(&holes, &mut b, &env, &mut got, &mut found)
                            .unwrap();
                        let slots: Vec<Option<Value>> =
                            found.iter().map(|h| Some(h.value.clone())).collect();
                        assert_eq!(found.len(), 1);
                        fill(
                            &generator,
                            &found,
                            &slots,
                            &mut got,
                            &mut Vec::new(),
                            &mut Vec::new(),
                        )
                        .unwrap();
                        let what = format!(
                            "{file} field {} record {seq} defaults {use_defaults}",
                            field.name
                        );
                        assert_eq!(got, want, "{what}");
                        assert_eq!(a.next_u64(), b.next_u64(), "draws after {what}");
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 1_000, "{checked}");
    }

    /// Paths the walk cannot follow simply leave the stream on the value tree.
    #[test]
    fn plain_paths_only() {
        let schema = apache_avro::Schema::parse_str(
            r#"{"type": "record", "name": "R", "fields": [
                {"name": "sent_at", "type": "long"},
                {"name": "a", "type": {"type": "record", "name": "A", "fields": [{"name": "x", "type": "int"}]}},
                {"name": "b", "type": ["null", "A", {"type": "record", "name": "B", "fields": [{"name": "x", "type": "int"}]}]},
                {"name": "c", "type": "int"}
            ]}"#,
        )
        .unwrap();
        let generator = AvroGenerator::new(&schema, GenConfig::default()).unwrap();
        let p = |s: &str| s.split('.').map(String::from).collect::<Vec<_>>();
        let plan = |paths: &[&str]| {
            let paths: Vec<Vec<String>> = paths.iter().map(|s| p(s)).collect();
            let fields: Vec<(&[String], bool)> =
                paths.iter().map(|p| (p.as_slice(), false)).collect();
            Holes::new(&generator, &fields).is_some()
        };
        assert!(plan(&["c", "a.x"]));
        assert!(!plan(&["sent_at"]), "an envelope field");
        assert!(!plan(&["b.x"]), "two record branches");
        assert!(!plan(&["a", "a.x"]), "a path and its prefix");
        assert!(!plan(&["a.x", "a"]), "a path and its prefix");
        assert!(!plan(&["c", "c"]), "one field twice");
        assert!(!plan(&["c.x"]), "no record on the way");
        assert!(!plan(&["d"]), "no such field");
    }
}
