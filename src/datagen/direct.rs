//! Records straight to Avro binary, without a `Value` tree.
//!
//! [`AvroGenerator::write_direct`] walks the compiled schema like
//! [`AvroGenerator::generate`] — the same draws from the record's RNG, in the
//! same order — but writes each value's encoding into the caller's buffer as
//! it is drawn, so a record costs no allocation for its fields, strings or
//! containers. The bytes are those of `generate` + the envelope fields +
//! `encode` (tests compare both paths on every shipped schema).
//!
//! Maps are written in key order, as the slow path's encoder writes them: their
//! entries are drawn into a scratch buffer, sorted by key (a repeated key keeps
//! its last value, as the slow path's `HashMap` does) and copied out. Decimals
//! and UUIDs are drawn as their bytes. Dates/times and durations are rare and
//! small: for those the walk builds that one subtree's `Value` and encodes it,
//! which is still exactly what the slow path writes.
//!
//! The envelope: top-level fields named `event_id` (string / uuid),
//! `sent_at` (long / timestamp-millis / timestamp-micros / string),
//! `schema_id` (int / long) and `schema_subject` (string) are drawn as usual
//! (so that the fields after them get the same draws), then replaced by the
//! message's values (see [`Envelope`]).

use std::time::SystemTime;

use apache_avro::types::Value;
use rand::Rng;

use super::AvroGenerator;
use super::compile::{Node, NodeId};
use super::datum::{self, EncodeError, write_bytes, write_long};
use super::{draw, logical};

/// What the engine writes into a record's envelope fields.
#[derive(Debug, Clone, Copy)]
pub struct Envelope<'a> {
    pub event_id: uuid::Uuid,
    pub sent_at: SystemTime,
    pub schema_id: u32,
    pub schema_subject: Option<&'a str>,
}

/// Replaces a top-level envelope field's generated value, by field name and
/// the value's kind; other fields and kinds are left alone. Says whether it
/// replaced the value.
pub fn fill_envelope_field(name: &str, v: &mut Value, env: &Envelope<'_>) -> bool {
    if !ENVELOPE_FIELDS.contains(&name) {
        return false;
    }
    let since = || {
        env.sent_at
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
    };
    let millis = || i64::try_from(since().as_millis()).unwrap_or(i64::MAX);
    let micros = || i64::try_from(since().as_micros()).unwrap_or(i64::MAX);
    let replacement = match (name, &*v) {
        ("event_id", Value::Uuid(_)) => Value::Uuid(env.event_id),
        ("event_id", Value::String(_)) => Value::String(env.event_id.to_string()),
        ("sent_at", Value::TimestampMillis(_)) => Value::TimestampMillis(millis()),
        ("sent_at", Value::TimestampMicros(_)) => Value::TimestampMicros(micros()),
        ("sent_at", Value::Long(_)) => Value::Long(millis()),
        ("sent_at", Value::String(_)) => {
            Value::String(humantime::format_rfc3339_micros(env.sent_at).to_string())
        }
        ("schema_id", Value::Int(_)) => {
            Value::Int(i32::try_from(env.schema_id).unwrap_or(i32::MAX))
        }
        ("schema_id", Value::Long(_)) => Value::Long(i64::from(env.schema_id)),
        ("schema_subject", Value::String(_)) => match env.schema_subject {
            Some(s) => Value::String(s.to_string()),
            None => return false,
        },
        _ => return false,
    };
    *v = replacement;
    true
}

/// Fills the envelope fields of a top-level record value (the slow path's
/// counterpart of [`AvroGenerator::write_direct`]). `event_id` is left to
/// [`super::StreamRecords`], which sets it by the field's schema after the
/// overrides ran.
pub fn fill_envelope(value: &mut Value, env: &Envelope<'_>) {
    if let Value::Record(fields) = value {
        for (name, v) in fields.iter_mut() {
            if name != "event_id" {
                let _ = fill_envelope_field(name, v, env);
            }
        }
    }
}

pub(crate) const ENVELOPE_FIELDS: [&str; 4] =
    ["event_id", "sent_at", "schema_id", "schema_subject"];

impl AvroGenerator {
    /// Appends the Avro binary of the record `generate(rng)` would make, with
    /// its envelope fields filled from `env`, to `out`.
    pub fn write_direct<R: Rng + ?Sized>(
        &self,
        rng: &mut R,
        env: &Envelope<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        let root = self.graph.root;
        let Node::Record(record) = &self.graph.nodes[root] else {
            let value = self.value(root, 0, rng);
            return datum::encode(&self.graph, root, &value, out);
        };
        for field in &record.fields {
            if ENVELOPE_FIELDS.contains(&field.name.as_str()) {
                self.write_envelope_field(field, rng, env, out)?;
            } else if let Some(default) = &field.default {
                datum::encode(&self.graph, field.node, default, out)?;
            } else {
                self.write_node(field.node, 1, rng, out)?;
            }
        }
        Ok(())
    }

    /// An envelope field: drawn like any other field, then its encoding
    /// replaced by the message's value where [`fill_envelope_field`] would
    /// replace it.
    pub(super) fn write_envelope_field<R: Rng + ?Sized>(
        &self,
        field: &super::compile::FieldNode,
        rng: &mut R,
        env: &Envelope<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        let mut value = match (&field.default, self.placeholder(field.node)) {
            (None, Some(placeholder)) => {
                let drawn = out.len();
                self.write_node(field.node, 1, rng, out)?;
                let mut value = placeholder;
                if fill_envelope_field(&field.name, &mut value, env) {
                    out.truncate(drawn);
                    return datum::encode(&self.graph, field.node, &value, out);
                }
                return Ok(());
            }
            (Some(default), _) => default.clone(),
            (None, None) => self.value(field.node, 1, rng),
        };
        let _ = fill_envelope_field(&field.name, &mut value, env);
        datum::encode(&self.graph, field.node, &value, out)
    }

    /// A value of the kind [`AvroGenerator::value`] makes for `id`, for the
    /// kinds an envelope field can be replaced in (an allocation-free stand-in
    /// for the drawn value, which is written directly instead).
    fn placeholder(&self, id: NodeId) -> Option<Value> {
        Some(match &self.graph.nodes[id] {
            Node::Uuid => Value::Uuid(uuid::Uuid::nil()),
            Node::String => Value::String(String::new()),
            Node::TimestampMillis => Value::TimestampMillis(0),
            Node::TimestampMicros => Value::TimestampMicros(0),
            Node::Long => Value::Long(0),
            Node::Int => Value::Int(0),
            _ => return None,
        })
    }

    /// A map of `values`, entries drawn as [`AvroGenerator::value`] draws them
    /// and written in key order.
    fn write_map<R: Rng + ?Sized>(
        &self,
        values: NodeId,
        depth: usize,
        rng: &mut R,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        let (lo, hi) = self.config.map_len;
        let len = draw::range_usize(rng, lo, hi);
        // Each entry as drawn: its key's bytes, then its value's encoding
        // (sized for a key and a short value, so it rarely grows).
        let mut scratch = Vec::with_capacity(len * (self.config.string_len.1 + 24));
        let mut entries = Vec::with_capacity(len);
        for _ in 0..len {
            let key = scratch.len();
            let (lo, hi) = self.config.string_len;
            let key_len = draw::range_usize(rng, lo, hi);
            draw::alphanumeric_into(rng, key_len, &mut scratch);
            let value = scratch.len();
            self.write_node(values, depth + 1, rng, &mut scratch)?;
            entries.push((key..value, value..scratch.len()));
        }
        // Stable: entries of a repeated key stay in draw order, and the last
        // one's value is kept (the slow path's `HashMap::insert` overwrites).
        entries.sort_by(|a, b| scratch[a.0.clone()].cmp(&scratch[b.0.clone()]));
        entries.dedup_by(|later, kept| {
            let same = scratch[later.0.clone()] == scratch[kept.0.clone()];
            if same {
                kept.1 = later.1.clone();
            }
            same
        });
        if !entries.is_empty() {
            write_long(out, i64::try_from(entries.len()).unwrap_or(i64::MAX));
            for (key, value) in entries {
                write_bytes(out, &scratch[key]);
                out.extend_from_slice(&scratch[value]);
            }
        }
        write_long(out, 0);
        Ok(())
    }

    /// [`AvroGenerator::value`] of node `id`, encoded as it is drawn.
    pub(super) fn write_node<R: Rng + ?Sized>(
        &self,
        id: NodeId,
        depth: usize,
        rng: &mut R,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        let config = &self.config;
        let deep = depth >= config.max_depth;
        match &self.graph.nodes[id] {
            Node::Null => {}
            Node::Boolean => out.push(u8::from(rng.next_u32() & 1 == 1)),
            Node::Int => write_long(
                out,
                i64::from(i32::try_from(draw::range_i64(rng, 0, 10_000)).unwrap_or(0)),
            ),
            Node::Long => write_long(out, draw::range_i64(rng, 0, 1_000_000_000)),
            Node::Float => {
                let x = (draw::unit_f64(rng) * 1_000.0) as f32;
                out.extend_from_slice(&x.to_le_bytes());
            }
            Node::Double => out.extend_from_slice(&(draw::unit_f64(rng) * 1_000.0).to_le_bytes()),
            Node::Bytes => {
                let len = draw::range_usize(rng, config.bytes_len.0, config.bytes_len.1);
                write_bytes(out, &draw::bytes(rng, len));
            }
            Node::String => {
                let (lo, hi) = config.string_len;
                let len = draw::range_usize(rng, lo, hi);
                write_long(out, i64::try_from(len).unwrap_or(i64::MAX));
                draw::alphanumeric_into(rng, len, out);
            }
            Node::Array(items) => {
                if !deep {
                    let len = draw::range_usize(rng, config.array_len.0, config.array_len.1);
                    if len > 0 {
                        write_long(out, i64::try_from(len).unwrap_or(i64::MAX));
                        for _ in 0..len {
                            self.write_node(*items, depth + 1, rng, out)?;
                        }
                    }
                }
                write_long(out, 0);
            }
            Node::Union(union) => {
                let (index, branch) = self.union_branch(union, deep, rng);
                write_long(out, i64::from(index));
                self.write_node(branch, depth, rng, out)?;
            }
            Node::Record(record) => {
                for field in &record.fields {
                    match &field.default {
                        Some(default) => datum::encode(&self.graph, field.node, default, out)?,
                        None => self.write_node(field.node, depth + 1, rng, out)?,
                    }
                }
            }
            Node::Enum(symbols) => {
                let index = draw::below(rng, symbols.len() as u64);
                write_long(out, i64::try_from(index).unwrap_or(0));
            }
            Node::Fixed(size) => out.extend_from_slice(&draw::bytes(rng, *size)),
            Node::TimestampMillis | Node::LocalTimestampMillis => {
                write_long(out, logical::instant(rng, 1_000));
            }
            Node::TimestampMicros | Node::LocalTimestampMicros => {
                write_long(out, logical::instant(rng, 1_000_000));
            }
            Node::TimestampNanos | Node::LocalTimestampNanos => {
                write_long(out, logical::instant(rng, 1_000_000_000));
            }
            Node::Map(_) if deep => write_long(out, 0),
            Node::Map(values) => self.write_map(*values, depth, rng, out)?,
            Node::Decimal(decimal) => {
                let bytes = logical::decimal_bytes(rng, decimal);
                match decimal.fixed_size {
                    Some(_) => out.extend_from_slice(&bytes),
                    None => write_bytes(out, &bytes),
                }
            }
            Node::Uuid => {
                datum::write_uuid(&self.graph.schemas[id], logical::random_uuid(rng), out)
            }
            // Rare kinds: this subtree through a Value.
            Node::Pending
            | Node::BigDecimal
            | Node::Date
            | Node::TimeMillis
            | Node::TimeMicros
            | Node::Duration => {
                let value = self.value(id, depth, rng);
                datum::encode(&self.graph, id, &value, out)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::datagen::{GenConfig, StreamSeed};
    use std::time::Duration;

    /// Every schema the project ships or tests with, each file once.
    pub(in crate::datagen) fn schemas() -> Vec<(String, apache_avro::Schema)> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut out = Vec::new();
        for dir in ["schemas", "tests/fixtures/avro", "tests/fixtures/schemas"] {
            let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
                continue;
            };
            let mut paths: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
            paths.sort();
            for p in paths
                .into_iter()
                .filter(|p| p.extension().is_some_and(|e| e == "avsc"))
            {
                let text = std::fs::read_to_string(&p).unwrap();
                if let Ok(schema) = apache_avro::Schema::parse_str(&text) {
                    out.push((p.display().to_string(), schema));
                }
            }
        }
        assert!(out.len() >= 20, "found only {} schemas", out.len());
        out
    }

    #[test]
    fn direct_bytes_equal_generate_fill_and_encode_for_every_schema() {
        let mut checked = 0;
        for (name, schema) in schemas() {
            let Ok(g) = AvroGenerator::new(&schema, GenConfig::default()) else {
                continue;
            };
            let seed = StreamSeed::new(7, "s");
            for seq in 0..300u64 {
                let env = Envelope {
                    event_id: seed.event_id(seq),
                    sent_at: SystemTime::UNIX_EPOCH
                        + Duration::from_micros(1_700_000_000_123_456 + seq),
                    schema_id: 9 + u32::try_from(seq).unwrap(),
                    schema_subject: Some("topic-value"),
                };
                let mut value = g.generate(&mut seed.record_rng(seq));
                if let Value::Record(fields) = &mut value {
                    for (n, v) in fields.iter_mut() {
                        let _ = fill_envelope_field(n, v, &env);
                    }
                }
                let Ok(want) = g.encode(&value) else { continue };
                let mut got = vec![0xAA];
                g.write_direct(&mut seed.record_rng(seq), &env, &mut got)
                    .unwrap();
                assert_eq!(&got[1..], &want[..], "{name} record {seq}");
                checked += 1;
            }
        }
        assert!(checked > 5_000, "{checked}");
    }

    #[test]
    fn maps_with_repeated_keys_keep_the_last_value_like_the_slow_path() {
        // One-character keys, 20–40 entries: nearly every map repeats keys.
        let schema = apache_avro::Schema::parse_str(
            r#"{"type": "record", "name": "R", "fields": [
                {"name": "tags", "type": {"type": "map", "values": "long"}},
                {"name": "nested", "type": {"type": "map", "values": {"type": "map", "values": "string"}}},
                {"name": "event_id", "type": {"type": "string", "logicalType": "uuid"}},
                {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 30, "scale": 4}}
            ]}"#,
        )
        .unwrap();
        let config = GenConfig {
            map_len: (20, 40),
            string_len: (1, 1),
            ..GenConfig::default()
        };
        let g = AvroGenerator::new(&schema, config).unwrap();
        let seed = StreamSeed::new(11, "maps");
        let env = Envelope {
            event_id: seed.event_id(5),
            sent_at: SystemTime::UNIX_EPOCH,
            schema_id: 1,
            schema_subject: None,
        };
        let mut repeated = 0;
        for seq in 0..200u64 {
            let mut value = g.generate(&mut seed.record_rng(seq));
            if let Value::Record(fields) = &mut value {
                // Every map draws 20 or more entries: fewer keys means a repeat.
                if let Value::Map(m) = &fields[0].1 {
                    repeated += usize::from(m.len() < 20);
                }
                for (n, v) in fields.iter_mut() {
                    let _ = fill_envelope_field(n, v, &env);
                }
            }
            let want = g.encode(&value).unwrap();
            let mut got = Vec::new();
            g.write_direct(&mut seed.record_rng(seq), &env, &mut got)
                .unwrap();
            assert_eq!(got, want, "record {seq}");
        }
        assert!(
            repeated > 50,
            "only {repeated} maps surely had repeated keys"
        );
    }

    #[test]
    fn envelope_fields_take_the_message_values_by_kind() {
        let env = Envelope {
            event_id: uuid::Uuid::from_u128(1),
            sent_at: SystemTime::UNIX_EPOCH + Duration::from_micros(2_000_003),
            schema_id: 5,
            schema_subject: None,
        };
        let cases = [
            ("sent_at", Value::Long(0), Value::Long(2_000)),
            (
                "sent_at",
                Value::TimestampMicros(0),
                Value::TimestampMicros(2_000_003),
            ),
            ("sent_at", Value::Int(0), Value::Int(0)),
            ("schema_id", Value::Int(0), Value::Int(5)),
            (
                "schema_subject",
                Value::String("x".into()),
                Value::String("x".into()),
            ),
            (
                "event_id",
                Value::String(String::new()),
                Value::String("00000000-0000-0000-0000-000000000001".into()),
            ),
            ("other", Value::Long(1), Value::Long(1)),
        ];
        for (name, mut v, want) in cases {
            let _ = fill_envelope_field(name, &mut v, &env);
            assert_eq!(v, want, "{name}");
        }
    }
}
