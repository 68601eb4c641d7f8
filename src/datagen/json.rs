//! Avro value → plain JSON, for direct SQS bodies and `mbscenario sample`.
//!
//! "Plain" means what a person or a JSON consumer expects, not the Avro JSON
//! encoding: unions are unwrapped (no `{"string": …}`), decimals are decimal
//! strings with their scale applied (`"19.99"`), uuids are strings, bytes and
//! fixed are lowercase hex, and other logical types keep their numeric Avro
//! representation (timestamps as epoch numbers, dates as day numbers) so that
//! nothing is lost. Map keys are sorted for byte-stable output.

use apache_avro::Schema;
use apache_avro::types::Value;
use num_bigint::BigInt;
use serde_json::{Map, Value as Json};

use super::compile::{Node, NodeId, TypeGraph};

pub(crate) fn to_json(graph: &TypeGraph, id: NodeId, value: &Value) -> Json {
    match (value, &graph.nodes[id]) {
        (Value::Union(_, inner), Node::Union(u)) => {
            // Find the branch node whose shape matches; fall back to a schema-less rendering.
            let branch = u
                .branches
                .iter()
                .copied()
                .find(|&b| matches_shape(&graph.nodes[b], inner));
            match branch {
                Some(b) => to_json(graph, b, inner),
                None => plain(inner),
            }
        }
        (Value::Record(fields), Node::Record(r)) => Json::Object(
            fields
                .iter()
                .map(|(name, v)| {
                    let node = r.fields.iter().find(|f| &f.name == name).map(|f| f.node);
                    let j = node.map_or_else(|| plain(v), |n| to_json(graph, n, v));
                    (name.clone(), j)
                })
                .collect(),
        ),
        (Value::Array(items), Node::Array(item)) => {
            Json::Array(items.iter().map(|v| to_json(graph, *item, v)).collect())
        }
        (Value::Map(map), Node::Map(values)) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Json::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), to_json(graph, *values, v)))
                    .collect::<Map<_, _>>(),
            )
        }
        (Value::Decimal(d), _) => {
            let scale = match &graph.schemas[id] {
                Schema::Decimal(s) => s.scale,
                _ => 0,
            };
            Json::String(decimal_text(&BigInt::from(d.clone()), scale))
        }
        _ => plain(value),
    }
}

/// Whether a union branch node can hold `v` (used to find the branch's scale/fields).
fn matches_shape(node: &Node, v: &Value) -> bool {
    matches!(
        (node, v),
        (Node::Null, Value::Null)
            | (Node::Record(_), Value::Record(_))
            | (Node::Array(_), Value::Array(_))
            | (Node::Map(_), Value::Map(_))
            | (Node::Decimal(_), Value::Decimal(_))
    ) || !matches!(
        v,
        Value::Record(_) | Value::Array(_) | Value::Map(_) | Value::Decimal(_) | Value::Null
    )
}

/// `1999` with scale 2 → `"19.99"`; `-5` with scale 3 → `"-0.005"`.
pub(crate) fn decimal_text(unscaled: &BigInt, scale: usize) -> String {
    let negative = unscaled.sign() == num_bigint::Sign::Minus;
    let digits = unscaled.magnitude().to_string();
    let text = if scale == 0 {
        digits
    } else if digits.len() > scale {
        let (int, frac) = digits.split_at(digits.len() - scale);
        format!("{int}.{frac}")
    } else {
        format!("0.{}{digits}", "0".repeat(scale - digits.len()))
    };
    if negative { format!("-{text}") } else { text }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Rendering without a schema (scalars, or a union branch that could not be matched).
fn plain(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Boolean(b) => Json::Bool(*b),
        Value::Int(i) | Value::Date(i) | Value::TimeMillis(i) => Json::from(*i),
        Value::Long(l)
        | Value::TimeMicros(l)
        | Value::TimestampMillis(l)
        | Value::TimestampMicros(l)
        | Value::TimestampNanos(l)
        | Value::LocalTimestampMillis(l)
        | Value::LocalTimestampMicros(l)
        | Value::LocalTimestampNanos(l) => Json::from(*l),
        Value::Float(f) => {
            serde_json::Number::from_f64(f64::from(*f)).map_or(Json::Null, Json::Number)
        }
        Value::Double(d) => serde_json::Number::from_f64(*d).map_or(Json::Null, Json::Number),
        Value::Bytes(b) | Value::Fixed(_, b) => Json::String(hex(b)),
        Value::String(s) | Value::Enum(_, s) => Json::String(s.clone()),
        Value::Uuid(u) => Json::String(u.to_string()),
        Value::Union(_, inner) => plain(inner),
        Value::Array(items) => Json::Array(items.iter().map(plain).collect()),
        Value::Map(m) => {
            let mut entries: Vec<_> = m.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            Json::Object(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.clone(), plain(v)))
                    .collect(),
            )
        }
        Value::Record(fields) => {
            Json::Object(fields.iter().map(|(k, v)| (k.clone(), plain(v))).collect())
        }
        Value::Decimal(d) => Json::String(decimal_text(&BigInt::from(d.clone()), 0)),
        Value::BigDecimal(b) => Json::String(b.to_string()),
        Value::Duration(d) => serde_json::json!({
            "months": u32::from(d.months()),
            "days": u32::from(d.days()),
            "millis": u32::from(d.millis()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_text_applies_scale_and_sign() {
        assert_eq!(decimal_text(&BigInt::from(1999), 2), "19.99");
        assert_eq!(decimal_text(&BigInt::from(-5), 3), "-0.005");
        assert_eq!(decimal_text(&BigInt::from(7), 0), "7");
        assert_eq!(decimal_text(&BigInt::from(0), 2), "0.00");
    }
}
