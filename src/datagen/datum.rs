//! Deterministic Avro binary encoding of a value against the compiled schema.
//!
//! Why not apache-avro's writer: `Value::Map` is a `std::collections::HashMap` with a
//! randomly keyed hasher, and apache-avro writes map entries in iteration order, so the
//! same record encodes to different bytes in different processes, threads, or even two
//! clones. "Record n is a pure function of (seed, stream, n)" must hold for the bytes on the
//! wire too (dedup, checksums, byte-exact replays), so this encoder writes map entries
//! sorted by key and otherwise follows the spec's binary encoding exactly — for map-free
//! values the output is byte-identical to apache-avro's (the tests check this).
//!
//! ```text
//!   int/long/date/time/timestamp  zig-zag varint        float/double  little-endian IEEE
//!   bytes/string                  long length + bytes   fixed         raw bytes
//!   array/map                     one block: long count, items (map: key string, value)
//!                                 in key order, then 0 (empty: just 0)
//!   union                         long branch index + branch value
//!   record                        fields in schema order (looked up by name)
//!   decimal                       two's complement (bytes: minimal, fixed: sign-extended)
//! ```
//!
//! Accepted value shapes are those a generator or an expression override naturally makes:
//! the logical-type variants and their plain underlying variants (`Int` for `date`,
//! `Long` for timestamps, `Bytes` for `fixed`, `String` for an enum symbol, …), integer
//! promotion to wider numbers, and a bare value for a union (the first fitting branch).

use super::compile::{Node, NodeId, TypeGraph};
use super::logical;
use apache_avro::types::Value;
use num_bigint::BigInt;

/// Why a value could not be encoded against the schema.
#[derive(Debug, thiserror::Error)]
#[error("cannot encode value at {path}: {reason}")]
pub struct EncodeError {
    /// Where in the value, e.g. `.moves[2].name`.
    pub path: String,
    pub reason: String,
}

/// Appends the encoding of `value` (of node `id`) to `out`. On error `out` may hold a
/// partial encoding; callers discard it.
pub(crate) fn encode(
    graph: &TypeGraph,
    id: NodeId,
    value: &Value,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    write(graph, id, value, out).map_err(|mut e| {
        if e.path.is_empty() {
            e.path.push_str("<root>");
        }
        e
    })
}

impl EncodeError {
    /// Prefixes the location of the enclosing value. Paths are assembled while an error
    /// unwinds, so successful encodes never pay for building them.
    fn within(mut self, segment: impl std::fmt::Display) -> Self {
        self.path.insert_str(0, &segment.to_string());
        self
    }
}

fn write(
    graph: &TypeGraph,
    id: NodeId,
    value: &Value,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    let node = &graph.nodes[id];
    let mismatch = || fail(format!("{} does not fit {}", shape(value), describe(node)));

    match (node, value) {
        (Node::Union(union), Value::Union(index, inner)) => {
            let branch = usize::try_from(*index)
                .ok()
                .and_then(|i| union.branches.get(i))
                .ok_or_else(|| fail(format!("union has no branch {index}")))?;
            write_long(out, i64::from(*index));
            write(graph, *branch, inner, out)
        }
        (Node::Union(union), bare) => {
            // Try branches in order, rolling back partial output, like Avro's own writers.
            let start = out.len();
            for (index, &branch) in union.branches.iter().enumerate() {
                write_long(out, i64::try_from(index).unwrap_or(i64::MAX));
                if write(graph, branch, bare, out).is_ok() {
                    return Ok(());
                }
                out.truncate(start);
            }
            Err(mismatch())
        }
        (Node::Null, Value::Null) => Ok(()),
        (Node::Boolean, Value::Boolean(b)) => {
            out.push(u8::from(*b));
            Ok(())
        }
        (Node::Int | Node::Date | Node::TimeMillis, v) => {
            let n = match v {
                Value::Int(n) | Value::Date(n) | Value::TimeMillis(n) => *n,
                _ => return Err(mismatch()),
            };
            write_long(out, i64::from(n));
            Ok(())
        }
        (
            Node::Long
            | Node::TimeMicros
            | Node::TimestampMillis
            | Node::TimestampMicros
            | Node::TimestampNanos
            | Node::LocalTimestampMillis
            | Node::LocalTimestampMicros
            | Node::LocalTimestampNanos,
            v,
        ) => {
            write_long(out, as_long(v).ok_or_else(mismatch)?);
            Ok(())
        }
        (Node::Float, v) => {
            // Avro promotes int/long to float; precision loss is the spec's, not ours.
            let x = match v {
                Value::Float(x) => *x,
                Value::Int(n) => *n as f32,
                Value::Long(n) => *n as f32,
                _ => return Err(mismatch()),
            };
            out.extend_from_slice(&x.to_le_bytes());
            Ok(())
        }
        (Node::Double, v) => {
            let x = match v {
                Value::Double(x) => *x,
                Value::Float(x) => f64::from(*x),
                Value::Int(n) => f64::from(*n),
                Value::Long(n) => *n as f64,
                _ => return Err(mismatch()),
            };
            out.extend_from_slice(&x.to_le_bytes());
            Ok(())
        }
        (Node::Bytes, Value::Bytes(b)) => {
            write_bytes(out, b);
            Ok(())
        }
        (Node::String, Value::String(s)) => {
            write_bytes(out, s.as_bytes());
            Ok(())
        }
        (Node::String, Value::Uuid(u)) => {
            let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
            write_bytes(out, u.hyphenated().encode_lower(&mut text).as_bytes());
            Ok(())
        }
        (Node::Array(items), Value::Array(values)) => {
            if !values.is_empty() {
                write_long(out, len_as_long(values.len()));
                for (i, item) in values.iter().enumerate() {
                    write(graph, *items, item, out).map_err(|e| e.within(format_args!("[{i}]")))?;
                }
            }
            write_long(out, 0);
            Ok(())
        }
        (Node::Map(values), Value::Map(map)) => {
            if !map.is_empty() {
                let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                // The point of this module: a fixed order (byte-wise by key).
                entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                write_long(out, len_as_long(entries.len()));
                for (key, item) in entries {
                    write_bytes(out, key.as_bytes());
                    write(graph, *values, item, out)
                        .map_err(|e| e.within(format_args!("{{{key}}}")))?;
                }
            }
            write_long(out, 0);
            Ok(())
        }
        (Node::Record(record), Value::Record(fields)) => {
            for (index, field) in record.fields.iter().enumerate() {
                // Generated records hold fields in schema order; fall back to a search for
                // hand-built ones.
                let item = match fields.get(index) {
                    Some((name, item)) if *name == field.name => item,
                    _ => fields
                        .iter()
                        .find(|(name, _)| *name == field.name)
                        .map(|(_, item)| item)
                        .ok_or_else(|| fail(format!("missing field `{}`", field.name)))?,
                };
                write(graph, field.node, item, out)
                    .map_err(|e| e.within(format_args!(".{}", field.name)))?;
            }
            Ok(())
        }
        (Node::Enum(symbols), v) => {
            let index = match v {
                Value::Enum(index, _)
                    if usize::try_from(*index).is_ok_and(|i| i < symbols.len()) =>
                {
                    i64::from(*index)
                }
                Value::String(symbol) => symbols
                    .iter()
                    .position(|s| s == symbol)
                    .map(len_as_long)
                    .ok_or_else(|| fail(format!("`{symbol}` is not an enum symbol")))?,
                _ => return Err(mismatch()),
            };
            write_long(out, index);
            Ok(())
        }
        (Node::Fixed(size), Value::Fixed(_, bytes) | Value::Bytes(bytes)) => {
            if bytes.len() != *size {
                return Err(fail(format!(
                    "fixed needs {size} bytes, got {}",
                    bytes.len()
                )));
            }
            out.extend_from_slice(bytes);
            Ok(())
        }
        (Node::Decimal(decimal), v) => {
            let unscaled = match v {
                Value::Decimal(d) => BigInt::from(d.clone()),
                Value::Bytes(b) | Value::Fixed(_, b) => BigInt::from_signed_bytes_be(b),
                _ => return Err(mismatch()),
            };
            match decimal.fixed_size {
                Some(size) => {
                    if unscaled.to_signed_bytes_be().len() > size {
                        return Err(fail(format!("decimal does not fit in {size} bytes")));
                    }
                    out.extend_from_slice(&logical::sign_extend(&unscaled, size));
                }
                None => write_bytes(out, &unscaled.to_signed_bytes_be()),
            }
            Ok(())
        }
        (Node::BigDecimal, Value::BigDecimal(d)) => {
            // apache-avro's format: bytes( bytes(unscaled) ‖ long(scale) ).
            let (unscaled, scale) = d.as_bigint_and_exponent();
            let mut inner = Vec::new();
            write_bytes(&mut inner, &unscaled.to_signed_bytes_be());
            write_long(&mut inner, scale);
            write_bytes(out, &inner);
            Ok(())
        }
        (Node::Uuid, v) => {
            let schema = &graph.schemas[id];
            let id = match v {
                Value::Uuid(u) => *u,
                Value::String(s) => uuid::Uuid::parse_str(s).map_err(|e| fail(e.to_string()))?,
                Value::Bytes(b) | Value::Fixed(_, b) => {
                    uuid::Uuid::from_slice(b).map_err(|e| fail(e.to_string()))?
                }
                _ => return Err(mismatch()),
            };
            write_uuid(schema, id, out);
            Ok(())
        }
        (Node::Duration, v) => {
            let bytes: [u8; 12] = match v {
                Value::Duration(d) => (*d).into(),
                Value::Fixed(12, b) => b
                    .as_slice()
                    .try_into()
                    .map_err(|_| fail("duration needs 12 bytes".to_owned()))?,
                _ => return Err(mismatch()),
            };
            out.extend_from_slice(&bytes);
            Ok(())
        }
        _ => Err(mismatch()),
    }
}

fn fail(reason: String) -> EncodeError {
    EncodeError {
        path: String::new(),
        reason,
    }
}

fn as_long(value: &Value) -> Option<i64> {
    match value {
        Value::Int(n) => Some(i64::from(*n)),
        Value::Long(n)
        | Value::TimeMicros(n)
        | Value::TimestampMillis(n)
        | Value::TimestampMicros(n)
        | Value::TimestampNanos(n)
        | Value::LocalTimestampMillis(n)
        | Value::LocalTimestampMicros(n)
        | Value::LocalTimestampNanos(n) => Some(*n),
        _ => None,
    }
}

/// A `uuid` in the representation its schema names: 16 raw bytes (`fixed`),
/// length-prefixed bytes, or the hyphenated text (`string`).
pub(crate) fn write_uuid(schema: &apache_avro::Schema, id: uuid::Uuid, out: &mut Vec<u8>) {
    use apache_avro::schema::UuidSchema;
    match schema {
        apache_avro::Schema::Uuid(UuidSchema::Fixed(_)) => out.extend_from_slice(id.as_bytes()),
        apache_avro::Schema::Uuid(UuidSchema::Bytes) => write_bytes(out, id.as_bytes()),
        _ => {
            let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
            write_bytes(out, id.hyphenated().encode_lower(&mut text).as_bytes());
        }
    }
}

fn len_as_long(len: usize) -> i64 {
    i64::try_from(len).unwrap_or(i64::MAX)
}

/// Zig-zag varint; the Avro encoding of both `int` and `long` (for an i32 the two agree).
pub(crate) fn write_long(out: &mut Vec<u8>, n: i64) {
    let mut z = ((n << 1) ^ (n >> 63)) as u64;
    while z >= 0x80 {
        // Low 7 bits with the continuation flag; truncation to u8 is intended.
        out.push((z as u8 & 0x7F) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}

pub(crate) fn write_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    write_long(out, len_as_long(bytes.len()));
    out.extend_from_slice(bytes);
}

fn shape(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Boolean(_) => "a boolean",
        Value::Int(_) => "an int",
        Value::Long(_) => "a long",
        Value::Float(_) => "a float",
        Value::Double(_) => "a double",
        Value::Bytes(_) => "bytes",
        Value::String(_) => "a string",
        Value::Fixed(..) => "a fixed",
        Value::Enum(..) => "an enum symbol",
        Value::Union(..) => "a union value",
        Value::Array(_) => "an array",
        Value::Map(_) => "a map",
        Value::Record(_) => "a record",
        Value::Date(_) => "a date",
        Value::Decimal(_) => "a decimal",
        Value::BigDecimal(_) => "a big decimal",
        Value::TimeMillis(_) | Value::TimeMicros(_) => "a time",
        Value::TimestampMillis(_)
        | Value::TimestampMicros(_)
        | Value::TimestampNanos(_)
        | Value::LocalTimestampMillis(_)
        | Value::LocalTimestampMicros(_)
        | Value::LocalTimestampNanos(_) => "a timestamp",
        Value::Duration(_) => "a duration",
        Value::Uuid(_) => "a uuid",
    }
}

fn describe(node: &Node) -> &'static str {
    match node {
        Node::Null => "null",
        Node::Boolean => "boolean",
        Node::Int => "int",
        Node::Long => "long",
        Node::Float => "float",
        Node::Double => "double",
        Node::Bytes => "bytes",
        Node::String => "string",
        Node::Array(_) => "array",
        Node::Map(_) => "map",
        Node::Union(_) => "any union branch",
        Node::Record(_) => "record",
        Node::Enum(_) => "enum",
        Node::Fixed(_) => "fixed",
        Node::Decimal(_) => "decimal",
        Node::BigDecimal => "big-decimal",
        Node::Uuid => "uuid",
        Node::Date => "date",
        Node::TimeMillis => "time-millis",
        Node::TimeMicros => "time-micros",
        Node::TimestampMillis => "timestamp-millis",
        Node::TimestampMicros => "timestamp-micros",
        Node::TimestampNanos => "timestamp-nanos",
        Node::LocalTimestampMillis => "local-timestamp-millis",
        Node::LocalTimestampMicros => "local-timestamp-micros",
        Node::LocalTimestampNanos => "local-timestamp-nanos",
        Node::Duration => "duration",
        Node::Pending => "an uncompiled type",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zigzag_varints_match_the_spec_examples() {
        // Avro spec table: 0→00, -1→01, 1→02, -2→03, 2→04, -64→7f, 64→80 01.
        let cases: [(i64, &[u8]); 7] = [
            (0, &[0x00]),
            (-1, &[0x01]),
            (1, &[0x02]),
            (-2, &[0x03]),
            (2, &[0x04]),
            (-64, &[0x7f]),
            (64, &[0x80, 0x01]),
        ];
        for (n, expected) in cases {
            let mut out = Vec::new();
            write_long(&mut out, n);
            assert_eq!(out, expected, "{n}");
        }
        let mut out = Vec::new();
        write_long(&mut out, i64::MIN);
        assert_eq!(out.len(), 10);
    }
}
