//! Scalar and logical-type conversions (the leaves of `coerce.rs`'s table): text or a
//! JSON number/boolean → one Avro value, or `(reason, help)` for the caller to locate.

use std::str::FromStr;

use apache_avro::Decimal;
use apache_avro::types::Value;
use serde_json::Value as Json;

use super::coerce::{Coercer, Input, quoted};
use super::text::{self, Zone};
use crate::datagen::compile::{Node, NodeId};
use crate::datagen::logical::sign_extend;
use crate::scenario::schema_check::closest;

impl Coercer<'_> {
    /// Scalars and logical types; errors are `(reason, help)`.
    pub(super) fn scalar(&self, id: NodeId, input: Input<'_>) -> Result<Value, (String, String)> {
        // The text to parse: cells and JSON strings as written, numbers in their JSON form.
        let owned;
        let (raw, is_json_number) = match input {
            Input::Cell(text) => (text, false),
            Input::Json(Json::String(text)) => (text.as_str(), false),
            Input::Json(Json::Number(n)) => {
                owned = n.to_string();
                (owned.as_str(), true)
            }
            Input::Json(Json::Bool(b)) => (if *b { "true" } else { "false" }, false),
            Input::Json(Json::Null) => ("", false),
            Input::Json(_) => {
                return Err((
                    "is not a single value".into(),
                    format!("write a {} here, not an array or object", self.expected(id)),
                ));
            }
        };
        let is_json_bool = matches!(input, Input::Json(Json::Bool(_)));
        let trimmed = raw.trim();
        let node = &self.graph.nodes[id];
        if matches!(input, Input::Json(Json::Null)) && !matches!(node, Node::Null) {
            return Err((
                "is null but the field is not nullable".into(),
                "write a value, or make the field nullable ([\"null\", …]) in the schema".into(),
            ));
        }
        if trimmed.is_empty() && !matches!(node, Node::String | Node::Null) {
            return Err((
                "is empty".into(),
                "fill it in, make the field nullable ([\"null\", …]), or give the field a \
                 default in the schema"
                    .into(),
            ));
        }
        let whole = |min: i64, max: i64| -> Result<i64, (String, String)> {
            let n = text::integer(trimmed)
                .map_err(|r| (r.to_string(), "write a whole number".to_string()))?;
            if n < min || n > max {
                return Err((
                    format!("is out of range ({min} to {max})"),
                    "use a wider type (long) in the schema or fix the value".into(),
                ));
            }
            Ok(n)
        };
        let epoch_or = |units: i64, zone: Zone| -> Result<i64, (String, String)> {
            if let Ok(n) = trimmed.parse::<i64>() {
                return Ok(n);
            }
            text::instant(trimmed, zone, units).map_err(|r| {
                let example = match zone {
                    Zone::Required => "2026-03-01T13:45:07.250Z",
                    Zone::Forbidden => "2026-03-01T13:45:07.250",
                };
                (
                    r.to_string(),
                    format!("write an integer since the Unix epoch or a date-time like {example}"),
                )
            })
        };
        Ok(match node {
            // An empty cell or a JSON null (not the JSON string "").
            Node::Null if raw.is_empty() && !matches!(input, Input::Json(Json::String(_))) => {
                Value::Null
            }
            Node::Null => {
                return Err((
                    "is not null".into(),
                    "leave the cell empty or write JSON null".into(),
                ));
            }
            Node::Boolean => match trimmed.to_ascii_lowercase().as_str() {
                "true" | "1" => Value::Boolean(true),
                "false" | "0" => Value::Boolean(false),
                _ => {
                    return Err((
                        "is not a boolean".into(),
                        "write true, false, 1 or 0".into(),
                    ));
                }
            },
            Node::Int => Value::Int(
                i32::try_from(whole(i32::MIN.into(), i32::MAX.into())?).unwrap_or_default(),
            ),
            Node::Long => Value::Long(whole(i64::MIN, i64::MAX)?),
            Node::Float | Node::Double => {
                let x: f64 = trimmed.parse().map_err(|_| {
                    (
                        "is not a number".into(),
                        "write a decimal number like 42.5 or 1e-3".to_string(),
                    )
                })?;
                if matches!(node, Node::Double) {
                    Value::Double(x)
                } else if x.is_finite() && (x as f32).is_infinite() {
                    return Err((
                        "is out of range for a float".into(),
                        "use double in the schema".into(),
                    ));
                } else {
                    Value::Float(x as f32)
                }
            }
            Node::String => {
                if is_json_number || is_json_bool {
                    return Err((
                        "is not a string".into(),
                        "quote it: string fields take JSON strings".into(),
                    ));
                }
                Value::String(raw.to_string())
            }
            Node::Bytes => Value::Bytes(hex(trimmed)?),
            Node::Fixed(size) => {
                let bytes = hex(trimmed)?;
                if bytes.len() != *size {
                    return Err((
                        format!("has {} bytes, the fixed type holds {size}", bytes.len()),
                        format!("write exactly {} hex digits", size * 2),
                    ));
                }
                Value::Fixed(*size, bytes)
            }
            Node::Enum(symbols) => match symbols.iter().position(|s| s == trimmed) {
                Some(index) => Value::Enum(
                    u32::try_from(index).unwrap_or(u32::MAX),
                    symbols[index].clone(),
                ),
                None => {
                    let help = match closest(trimmed, symbols) {
                        Some(near) => {
                            format!("did you mean `{near}`? The symbols are {}", quoted(symbols))
                        }
                        None => format!("use one of {}", quoted(symbols)),
                    };
                    return Err(("is not a symbol of the enum".into(), help));
                }
            },
            Node::Uuid => match uuid::Uuid::parse_str(trimmed) {
                Ok(id) => Value::Uuid(id),
                Err(_) => {
                    return Err((
                        "is not a UUID".into(),
                        "write a UUID like 7d0c2c35-8a5e-4c1b-9f43-2b8e1f0c9a11".into(),
                    ));
                }
            },
            Node::Decimal(decimal) => {
                let Some((precision, scale)) = self.decimal_shape(id) else {
                    return Err(("has no decimal schema".into(), String::new()));
                };
                let unscaled = text::decimal(trimmed, precision, scale).map_err(|r| {
                    (
                        r.to_string(),
                        format!(
                            "write at most {} digits before and {scale} after the decimal point",
                            precision.saturating_sub(scale)
                        ),
                    )
                })?;
                let bytes = match decimal.fixed_size {
                    Some(size) => sign_extend(&unscaled, size),
                    None => unscaled.to_signed_bytes_be(),
                };
                Value::Decimal(Decimal::from(bytes))
            }
            Node::BigDecimal => match bigdecimal::BigDecimal::from_str(trimmed) {
                Ok(d) => Value::BigDecimal(d),
                Err(_) => {
                    return Err((
                        "is not a decimal number".into(),
                        "write a number like 19.99".into(),
                    ));
                }
            },
            Node::Date => {
                let days = match trimmed.parse::<i64>() {
                    Ok(days) => days,
                    Err(_) => text::date(trimmed).map_err(|r| {
                        (
                            r.to_string(),
                            "write days since 1970-01-01 or a date like 2026-03-01".into(),
                        )
                    })?,
                };
                Value::Date(i32::try_from(days).map_err(|_| {
                    (
                        "is out of range for a date".to_string(),
                        "fix the value".to_string(),
                    )
                })?)
            }
            Node::TimeMillis | Node::TimeMicros => {
                let micros = match trimmed.parse::<i64>() {
                    // Saturating: an absurd value must fail the range check, not overflow.
                    Ok(n) if matches!(node, Node::TimeMillis) => n.saturating_mul(1_000),
                    Ok(n) => n,
                    Err(_) => text::time_of_day_micros(trimmed).map_err(|r| {
                        (
                            r.to_string(),
                            "write units since midnight or a time like 13:45:07.250".into(),
                        )
                    })?,
                };
                if !(0..86_400_000_000).contains(&micros) {
                    return Err((
                        "is not within one day".into(),
                        "write a time of day between 00:00:00 and 23:59:59.999999".into(),
                    ));
                }
                if matches!(node, Node::TimeMillis) {
                    Value::TimeMillis(i32::try_from(micros / 1_000).unwrap_or_default())
                } else {
                    Value::TimeMicros(micros)
                }
            }
            Node::TimestampMillis => Value::TimestampMillis(epoch_or(1_000, Zone::Required)?),
            Node::TimestampMicros => Value::TimestampMicros(epoch_or(1_000_000, Zone::Required)?),
            Node::TimestampNanos => Value::TimestampNanos(epoch_or(1_000_000_000, Zone::Required)?),
            Node::LocalTimestampMillis => {
                Value::LocalTimestampMillis(epoch_or(1_000, Zone::Forbidden)?)
            }
            Node::LocalTimestampMicros => {
                Value::LocalTimestampMicros(epoch_or(1_000_000, Zone::Forbidden)?)
            }
            Node::LocalTimestampNanos => {
                Value::LocalTimestampNanos(epoch_or(1_000_000_000, Zone::Forbidden)?)
            }
            Node::Union(_)
            | Node::Record(_)
            | Node::Array(_)
            | Node::Map(_)
            | Node::Duration
            | Node::Pending => {
                return Err(("cannot be read from text".into(), String::new()));
            }
        })
    }

    fn decimal_shape(&self, id: NodeId) -> Option<(usize, usize)> {
        match &self.graph.schemas[id] {
            apache_avro::Schema::Decimal(d) => Some((d.precision, d.scale)),
            _ => None,
        }
    }
}

fn hex(text: &str) -> Result<Vec<u8>, (String, String)> {
    let bad = || {
        (
            "is not hex".to_string(),
            "write bytes as hex digits, two per byte (e.g. 0a1bff)".to_string(),
        )
    };
    if text.len() % 2 != 0 {
        return Err(bad());
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or_else(bad)
        })
        .collect()
}
