//! Field defaults: the JSON in a schema's `"default"` → the `Value` a decoder would produce.
//!
//! Done here rather than with apache-avro's `Value::try_from(json).resolve(schema)` because
//! that path needs the schema's names re-resolved at every nested reference and returns
//! plain `Int`/`Long`/`Bytes` for logical types, whereas generated values (and decoded
//! ones) use `Date`, `TimestampMillis`, `Decimal`, … — mixing the two would make
//! "generate → encode → decode" round trips unequal.
//!
//! Encoding rules (Avro spec, "Complex Types"/"Default values"): bytes and fixed defaults are
//! JSON strings whose code points 0–255 are the byte values; enums are symbol strings;
//! records are objects (missing fields fall back to their own defaults); a union default
//! must match a branch — the spec says the first, apache-avro's parser accepts any, and so
//! do we, trying the first branch first.

use super::compile::{Node, NodeId};
use apache_avro::types::Value;
use apache_avro::{Decimal, Duration};
use serde_json::Value as Json;
use std::collections::HashMap;

/// Converts `json` to a value of node `id`, or says why it does not fit.
pub(crate) fn from_json(nodes: &[Node], id: NodeId, json: &Json) -> Result<Value, String> {
    let node = &nodes[id];
    let mismatch = || format!("expected {}, found {}", expected(node), kind(json));
    Ok(match node {
        Node::Null => match json {
            Json::Null => Value::Null,
            _ => return Err(mismatch()),
        },
        Node::Boolean => Value::Boolean(json.as_bool().ok_or_else(mismatch)?),
        Node::Int => Value::Int(int(json).ok_or_else(mismatch)?),
        Node::Long => Value::Long(json.as_i64().ok_or_else(mismatch)?),
        // Avro floats narrow from the JSON double on purpose.
        Node::Float => Value::Float(json.as_f64().ok_or_else(mismatch)? as f32),
        Node::Double => Value::Double(json.as_f64().ok_or_else(mismatch)?),
        Node::Bytes => Value::Bytes(byte_string(json).ok_or_else(mismatch)?),
        Node::String => Value::String(json.as_str().ok_or_else(mismatch)?.to_owned()),
        Node::Array(items) => {
            let array = json.as_array().ok_or_else(mismatch)?;
            let values = array
                .iter()
                .enumerate()
                .map(|(i, item)| from_json(nodes, *items, item).map_err(|e| format!("[{i}]: {e}")))
                .collect::<Result<Vec<_>, _>>()?;
            Value::Array(values)
        }
        Node::Map(values) => {
            let object = json.as_object().ok_or_else(mismatch)?;
            let mut map = HashMap::with_capacity(object.len());
            for (key, item) in object {
                let value =
                    from_json(nodes, *values, item).map_err(|e| format!("{{{key}}}: {e}"))?;
                map.insert(key.clone(), value);
            }
            Value::Map(map)
        }
        Node::Union(union) => {
            let mut reasons = Vec::new();
            for (index, &branch) in union.branches.iter().enumerate() {
                match from_json(nodes, branch, json) {
                    Ok(value) => {
                        let index = u32::try_from(index).map_err(|e| e.to_string())?;
                        return Ok(Value::Union(index, Box::new(value)));
                    }
                    Err(reason) => reasons.push(format!("branch {index}: {reason}")),
                }
            }
            return Err(format!(
                "no union branch accepts it ({})",
                reasons.join("; ")
            ));
        }
        Node::Record(record) => {
            let object = json.as_object().ok_or_else(mismatch)?;
            let mut fields = Vec::with_capacity(record.fields.len());
            for field in &record.fields {
                let value = match (object.get(&field.name), &field.default) {
                    (Some(item), _) => from_json(nodes, field.node, item)
                        .map_err(|e| format!(".{}: {e}", field.name))?,
                    (None, Some(default)) => default.clone(),
                    (None, None) => return Err(format!("missing field `{}`", field.name)),
                };
                fields.push((field.name.clone(), value));
            }
            Value::Record(fields)
        }
        Node::Enum(symbols) => {
            let symbol = json.as_str().ok_or_else(mismatch)?;
            let index = symbols
                .iter()
                .position(|s| s == symbol)
                .ok_or_else(|| format!("`{symbol}` is not one of the enum's symbols"))?;
            let index = u32::try_from(index).map_err(|e| e.to_string())?;
            Value::Enum(index, symbol.to_owned())
        }
        Node::Fixed(size) => {
            let bytes = byte_string(json).ok_or_else(mismatch)?;
            if bytes.len() != *size {
                return Err(format!("expected {size} bytes, found {}", bytes.len()));
            }
            Value::Fixed(*size, bytes)
        }
        Node::Decimal(decimal) => {
            let bytes = byte_string(json).ok_or_else(mismatch)?;
            if let Some(size) = decimal.fixed_size
                && bytes.len() != size
            {
                return Err(format!("expected {size} bytes, found {}", bytes.len()));
            }
            Value::Decimal(Decimal::from(bytes))
        }
        Node::Uuid => {
            // A string default is the textual form; fixed/bytes UUIDs may also give 16 bytes.
            let text = json.as_str().ok_or_else(mismatch)?;
            match uuid::Uuid::parse_str(text) {
                Ok(id) => Value::Uuid(id),
                Err(parse_error) => match byte_string(json).map(|b| uuid::Uuid::from_slice(&b)) {
                    Some(Ok(id)) => Value::Uuid(id),
                    _ => return Err(format!("`{text}` is not a UUID: {parse_error}")),
                },
            }
        }
        Node::Date => Value::Date(int(json).ok_or_else(mismatch)?),
        Node::TimeMillis => Value::TimeMillis(int(json).ok_or_else(mismatch)?),
        Node::TimeMicros => Value::TimeMicros(json.as_i64().ok_or_else(mismatch)?),
        Node::TimestampMillis => Value::TimestampMillis(json.as_i64().ok_or_else(mismatch)?),
        Node::TimestampMicros => Value::TimestampMicros(json.as_i64().ok_or_else(mismatch)?),
        Node::TimestampNanos => Value::TimestampNanos(json.as_i64().ok_or_else(mismatch)?),
        Node::LocalTimestampMillis => {
            Value::LocalTimestampMillis(json.as_i64().ok_or_else(mismatch)?)
        }
        Node::LocalTimestampMicros => {
            Value::LocalTimestampMicros(json.as_i64().ok_or_else(mismatch)?)
        }
        Node::LocalTimestampNanos => {
            Value::LocalTimestampNanos(json.as_i64().ok_or_else(mismatch)?)
        }
        Node::Duration => {
            let bytes = byte_string(json).ok_or_else(mismatch)?;
            let array: [u8; 12] = bytes
                .try_into()
                .map_err(|b: Vec<u8>| format!("expected 12 bytes, found {}", b.len()))?;
            Value::Duration(Duration::from(array))
        }
        Node::BigDecimal => {
            return Err("defaults for the big-decimal logical type are not supported".to_owned());
        }
        Node::Pending => return Err("internal: type not compiled yet".to_owned()),
    })
}

fn int(json: &Json) -> Option<i32> {
    json.as_i64().and_then(|n| i32::try_from(n).ok())
}

/// JSON string → bytes, one byte per code point; `None` if any code point exceeds 255.
fn byte_string(json: &Json) -> Option<Vec<u8>> {
    json.as_str()?
        .chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect()
}

fn kind(json: &Json) -> &'static str {
    match json {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

fn expected(node: &Node) -> &'static str {
    match node {
        Node::Null => "null",
        Node::Boolean => "a boolean",
        Node::Int | Node::Date | Node::TimeMillis => "a 32-bit integer",
        Node::Long
        | Node::TimeMicros
        | Node::TimestampMillis
        | Node::TimestampMicros
        | Node::TimestampNanos
        | Node::LocalTimestampMillis
        | Node::LocalTimestampMicros
        | Node::LocalTimestampNanos => "a 64-bit integer",
        Node::Float | Node::Double => "a number",
        Node::Bytes | Node::Fixed(_) | Node::Decimal(_) | Node::Duration | Node::BigDecimal => {
            "a byte string"
        }
        Node::String | Node::Enum(_) | Node::Uuid => "a string",
        Node::Array(_) => "an array",
        Node::Map(_) | Node::Record(_) => "an object",
        Node::Union(_) | Node::Pending => "a value",
    }
}
