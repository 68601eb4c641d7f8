//! String newtypes for values with units. They deserialize as plain strings
//! (parsing happens in validation, with located errors) and describe their
//! grammar in the JSON Schema so editors can flag mistakes while typing.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

use crate::scenario::units::{DURATION_PATTERN, RATE_PATTERN};

/// A rate such as `250/s`, `15k/min`, `0/s` or `max`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RateStr(pub String);

impl JsonSchema for RateStr {
    fn schema_name() -> Cow<'static, str> {
        "Rate".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": RATE_PATTERN,
            "description": "Messages per time unit: `250/s`, `15k/min`, `1M/h`, `0/s` (idle) or `max` (closed model).",
            "examples": ["250/s", "15k/min", "0/s", "max"]
        })
    }
}

/// A humantime duration such as `30s` or `1m30s`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DurationStr(pub String);

impl JsonSchema for DurationStr {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "pattern": DURATION_PATTERN,
            "description": "A duration with units: `500ms`, `30s`, `1m30s`, `2h`.",
            "examples": ["30s", "1m30s", "500ms"]
        })
    }
}

/// A count (`12`) or a percentage (`"0.5%"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AmountSpec {
    Count(u64),
    Text(String),
}

impl JsonSchema for AmountSpec {
    fn schema_name() -> Cow<'static, str> {
        "Amount".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "An absolute count (`12`) or a percentage (`\"0.5%\"`).",
            "anyOf": [
                { "type": "integer", "minimum": 0 },
                { "type": "string", "pattern": r"^\s*[0-9]+(\.[0-9]+)?\s*%?\s*$" }
            ]
        })
    }
}

impl AmountSpec {
    /// The value as text, for the unit parser.
    pub fn as_text(&self) -> Cow<'_, str> {
        match self {
            AmountSpec::Count(n) => Cow::Owned(n.to_string()),
            AmountSpec::Text(s) => Cow::Borrowed(s),
        }
    }
}

/// A client/connector property: written as string, number or boolean, passed on as a string.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum PropValue {
    String(String),
    Integer(i64),
    Float(f64),
    Bool(bool),
}

impl PropValue {
    /// The string form sent to librdkafka / Kafka Connect.
    pub fn to_prop_string(&self) -> String {
        match self {
            PropValue::String(s) => s.clone(),
            PropValue::Integer(i) => i.to_string(),
            PropValue::Float(f) => f.to_string(),
            PropValue::Bool(b) => b.to_string(),
        }
    }
}
