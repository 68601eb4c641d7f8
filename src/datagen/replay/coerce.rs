//! A CSV cell or a JSON value → the Avro [`Value`] of one schema node.
//!
//! ```text
//!   node                      CSV cell / JSON string        JSON value
//!   null                      ""                            null
//!   boolean                   true false 1 0 (any case)     true false
//!   int long                  "42" ("3.0" ok, "3.5" not)    42 (3.0 ok; range-checked)
//!   float double              "1.5" "1e3" "NaN"             number
//!   string                    the text, as is               string
//!   bytes fixed               lowercase/uppercase hex       hex string
//!   enum                      a symbol of the enum          string
//!   uuid                      "7d0c…-…"                     string
//!   date                      days, or "2026-03-01"         days, or string
//!   time-millis/-micros       since midnight, "13:45:07.5"  number, or string
//!   timestamp-* / local-*     epoch units, or RFC 3339      number, or string
//!   decimal(p,s)              "19.99" → unscaled 1999       number or string
//!   union                     "" → null branch, else the first non-null branch that
//!                             accepts the value (a JSON null → null branch)
//!   record array map duration a JSON text in the cell       object / array / object
//! ```
//!
//! Values take the shapes the generator produces (logical variants like `Date`,
//! `TimestampMillis`, `Uuid`, minimal two's-complement `Decimal`s, `Union(index, …)`), so
//! replayed records validate against the schema and encode and decode unchanged.
//!
//! A failure is a [`Mismatch`] naming where inside the value it happened (`.lat`, `[2]`),
//! the Avro type expected there, the offending text and a hint.

use std::collections::HashMap;

use apache_avro::types::Value;
use apache_avro::{Days, Duration, Millis, Months};
use serde_json::Value as Json;

use super::error::shorten;
use crate::datagen::compile::{Node, NodeId, RecordNode, TypeGraph, UnionNode};
use crate::scenario::avsc::type_name;
use crate::scenario::schema_check::closest;

/// Where a value came from. Cells are text; JSON keeps its types.
#[derive(Clone, Copy, Debug)]
pub(super) enum Input<'a> {
    Cell(&'a str),
    Json(&'a Json),
}

impl Input<'_> {
    fn is_null(&self) -> bool {
        matches!(self, Input::Cell("") | Input::Json(Json::Null))
    }

    /// The text as it appears in the file, for messages.
    fn shown(&self) -> String {
        match self {
            Input::Cell(text) => shorten(text),
            Input::Json(Json::String(text)) => shorten(text),
            Input::Json(json) => shorten(&json.to_string()),
        }
    }
}

/// Why a value does not fit its node.
#[derive(Debug)]
pub(super) struct Mismatch {
    /// Location inside the value (`.location.lat`); empty at the field itself.
    pub path: String,
    pub expected: String,
    /// Offending text; `None` when the value is absent (a missing nested field).
    pub found: Option<String>,
    pub reason: String,
    pub help: String,
}

impl Mismatch {
    fn within(mut self, segment: &str) -> Self {
        self.path.insert_str(0, segment);
        self
    }
}

/// Converts inputs for one compiled schema.
pub(super) struct Coercer<'g> {
    pub graph: &'g TypeGraph,
}

impl Coercer<'_> {
    /// The Avro type of node `id`, for messages.
    pub fn expected(&self, id: NodeId) -> String {
        type_name(&self.graph.schemas[id])
    }

    fn mismatch(&self, id: NodeId, input: Input<'_>, reason: String, help: String) -> Mismatch {
        Mismatch {
            path: String::new(),
            expected: self.expected(id),
            found: Some(input.shown()),
            reason,
            help,
        }
    }

    pub fn coerce(&self, id: NodeId, input: Input<'_>) -> Result<Value, Mismatch> {
        match &self.graph.nodes[id] {
            Node::Union(union) => self.union(id, union, input),
            Node::Record(_) | Node::Array(_) | Node::Map(_) | Node::Duration => match input {
                Input::Json(json) => self.structured(id, json),
                // CSV has no nesting: such a cell holds the value as JSON text.
                Input::Cell(text) => match serde_json::from_str::<Json>(text) {
                    Ok(json) => self.structured(id, &json),
                    Err(e) => Err(self.mismatch(
                        id,
                        input,
                        format!("is not JSON ({e})"),
                        format!(
                            "write the value as JSON text, e.g. {}; in CSV quote the cell and \
                             double the quotes inside it",
                            self.json_example(id)
                        ),
                    )),
                },
            },
            _ => self
                .scalar(id, input)
                .map_err(|(reason, help)| self.mismatch(id, input, reason, help)),
        }
    }

    /// A JSON example of a structured value, naming a record's first fields.
    fn json_example(&self, id: NodeId) -> String {
        match &self.graph.nodes[id] {
            Node::Array(_) => "[…, …]".into(),
            Node::Duration => r#"{"months": 0, "days": 1, "millis": 0}"#.into(),
            Node::Record(record) => {
                let fields: Vec<String> = record
                    .fields
                    .iter()
                    .take(3)
                    .map(|f| format!("\"{}\": …", f.name))
                    .collect();
                format!("{{{}}}", fields.join(", "))
            }
            _ => r#"{"key": …}"#.into(),
        }
    }

    /// An empty cell or a JSON null takes the null branch; anything else the first
    /// non-null branch (in schema order) that accepts it.
    fn union(&self, id: NodeId, union: &UnionNode, input: Input<'_>) -> Result<Value, Mismatch> {
        if input.is_null()
            && let Some(null) = union.null_branch
        {
            return Ok(Value::Union(null, Box::new(Value::Null)));
        }
        let mut failures = Vec::new();
        for (index, &branch) in union.branches.iter().enumerate() {
            if Some(index) == union.null_branch.and_then(|n| usize::try_from(n).ok()) {
                continue;
            }
            match self.coerce(branch, input) {
                Ok(value) => {
                    let index = u32::try_from(index).unwrap_or(u32::MAX);
                    return Ok(Value::Union(index, Box::new(value)));
                }
                Err(failure) => failures.push(failure),
            }
        }
        // One candidate (the usual `["null", T]`): its own message is the clearest. At the
        // union itself the expected type shown is the union's; deeper failures keep theirs.
        if failures.len() == 1
            && let Some(mut only) = failures.pop()
        {
            if only.path.is_empty() {
                only.expected = self.expected(id);
            }
            return Err(only);
        }
        let reasons: Vec<String> = failures
            .iter()
            .map(|f| format!("as {}: {}", f.expected, f.reason))
            .collect();
        Err(self.mismatch(
            id,
            input,
            format!("no branch of the union accepts it ({})", reasons.join("; ")),
            "write a value of one of the union's types, or leave it empty for null".into(),
        ))
    }

    fn structured(&self, id: NodeId, json: &Json) -> Result<Value, Mismatch> {
        let input = Input::Json(json);
        let wrong = |what: &str| {
            self.mismatch(
                id,
                input,
                format!("is not {what}"),
                format!("write {what} for {}", self.expected(id)),
            )
        };
        match &self.graph.nodes[id] {
            Node::Record(record) => {
                let object = json.as_object().ok_or_else(|| wrong("a JSON object"))?;
                self.record(id, record, object)
            }
            Node::Array(items) => {
                let array = json.as_array().ok_or_else(|| wrong("a JSON array"))?;
                array
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        self.coerce(*items, Input::Json(item))
                            .map_err(|e| e.within(&format!("[{i}]")))
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(Value::Array)
            }
            Node::Map(values) => {
                let object = json.as_object().ok_or_else(|| wrong("a JSON object"))?;
                let mut map = HashMap::with_capacity(object.len());
                for (key, item) in object {
                    let value = self
                        .coerce(*values, Input::Json(item))
                        .map_err(|e| e.within(&format!("[{key:?}]")))?;
                    map.insert(key.clone(), value);
                }
                Ok(Value::Map(map))
            }
            Node::Duration => {
                let part = |name: &str| json.get(name).and_then(Json::as_u64);
                let parts = (part("months"), part("days"), part("millis"));
                let (Some(months), Some(days), Some(millis)) = parts else {
                    return Err(wrong(
                        "an object {\"months\": …, \"days\": …, \"millis\": …} of whole numbers",
                    ));
                };
                let fit = |n: u64| u32::try_from(n).ok();
                match (fit(months), fit(days), fit(millis)) {
                    (Some(m), Some(d), Some(ms)) => Ok(Value::Duration(Duration::new(
                        Months::new(m),
                        Days::new(d),
                        Millis::new(ms),
                    ))),
                    _ => Err(wrong("a duration whose parts fit in 32 bits")),
                }
            }
            _ => self.coerce(id, input),
        }
    }

    /// A JSON object → record: every schema field from its key or its default; keys the
    /// schema does not have are an error (a typo would otherwise silently use a default).
    fn record(
        &self,
        id: NodeId,
        record: &RecordNode,
        object: &serde_json::Map<String, Json>,
    ) -> Result<Value, Mismatch> {
        let unknown: Vec<&String> = object
            .keys()
            .filter(|k| !record.fields.iter().any(|f| &f.name == *k))
            .collect();
        if !unknown.is_empty() {
            let names: Vec<String> = record.fields.iter().map(|f| f.name.clone()).collect();
            return Err(Mismatch {
                path: String::new(),
                expected: self.expected(id),
                found: None,
                reason: format!(
                    "has keys the record does not: {}",
                    unknown_list(unknown.iter().map(|s| s.as_str()), &names)
                ),
                help: format!("remove them; the fields are {}", quoted(&names)),
            });
        }
        let mut fields = Vec::with_capacity(record.fields.len());
        for field in &record.fields {
            let value = match (object.get(&field.name), &field.default) {
                (Some(item), _) => self
                    .coerce(field.node, Input::Json(item))
                    .map_err(|e| e.within(&format!(".{}", field.name)))?,
                (None, Some(default)) => default.clone(),
                (None, None) => {
                    return Err(Mismatch {
                        path: format!(".{}", field.name),
                        expected: self.expected(field.node),
                        found: None,
                        reason: "is missing and has no default".into(),
                        help: format!(
                            "add the key `{}`, or give the field a default in the schema",
                            field.name
                        ),
                    });
                }
            };
            fields.push((field.name.clone(), value));
        }
        Ok(Value::Record(fields))
    }
}

/// `` `a`, `b` `` for messages.
pub(super) fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Unknown names with a "did you mean" for each that is close to a known one:
/// `` `gpu_indx` (did you mean `gpu_index`?), `foo` ``.
pub(super) fn unknown_list<'a>(unknown: impl Iterator<Item = &'a str>, known: &[String]) -> String {
    unknown
        .map(|name| match closest(name, known) {
            Some(near) => format!("`{name}` (did you mean `{near}`?)"),
            None => format!("`{name}`"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use apache_avro::Schema;

    fn coerce(schema: &str, input: Input<'_>) -> Result<Value, String> {
        let schema = Schema::parse_str(schema).expect("schema");
        let graph = TypeGraph::build(&schema, true).expect("graph");
        Coercer { graph: &graph }
            .coerce(graph.root, input)
            .map_err(|m| format!("{}{}: {}", m.expected, m.path, m.reason))
    }

    #[test]
    fn empty_cells_are_null_empty_string_or_an_error() {
        assert_eq!(coerce(r#""null""#, Input::Cell("")), Ok(Value::Null));
        assert_eq!(
            coerce(r#""null""#, Input::Json(&Json::Null)),
            Ok(Value::Null)
        );
        assert!(coerce(r#""null""#, Input::Json(&Json::String(String::new()))).is_err());
        assert_eq!(
            coerce(r#""string""#, Input::Cell("")),
            Ok(Value::String(String::new()))
        );
        assert!(coerce(r#""string""#, Input::Json(&Json::Null)).is_err());
        assert_eq!(
            coerce(r#"["null","string"]"#, Input::Cell("")),
            Ok(Value::Union(0, Box::new(Value::Null)))
        );
        // No null branch: the first branch that takes an empty cell.
        assert_eq!(
            coerce(r#"["int","string"]"#, Input::Cell("")),
            Ok(Value::Union(1, Box::new(Value::String(String::new()))))
        );
        assert!(coerce(r#""int""#, Input::Cell("")).is_err());
    }

    #[test]
    fn unions_take_the_first_branch_that_accepts() {
        assert_eq!(
            coerce(r#"["null","long","string"]"#, Input::Cell("12")),
            Ok(Value::Union(1, Box::new(Value::Long(12))))
        );
        assert_eq!(
            coerce(r#"["null","long","string"]"#, Input::Cell("twelve")),
            Ok(Value::Union(2, Box::new(Value::String("twelve".into()))))
        );
        let err = coerce(r#"["null","long","double"]"#, Input::Cell("x")).unwrap_err();
        assert!(
            err.contains("as long") && err.contains("as double"),
            "{err}"
        );
    }

    #[test]
    fn integers_check_range_and_json_numbers() {
        let json = |s: &str| serde_json::from_str::<Json>(s).expect("json");
        assert_eq!(
            coerce(r#""int""#, Input::Json(&json("3.0"))),
            Ok(Value::Int(3))
        );
        assert!(coerce(r#""int""#, Input::Json(&json("3.5"))).is_err());
        assert!(coerce(r#""int""#, Input::Json(&json("2147483648"))).is_err());
        assert!(coerce(r#""long""#, Input::Json(&json("18446744073709551615"))).is_err());
        assert_eq!(
            coerce(r#""long""#, Input::Cell(" -9223372036854775808 ")),
            Ok(Value::Long(i64::MIN))
        );
        assert_eq!(
            coerce(r#""boolean""#, Input::Cell("TRUE")),
            Ok(Value::Boolean(true))
        );
        assert_eq!(
            coerce(r#""bytes""#, Input::Cell("00ff")),
            Ok(Value::Bytes(vec![0, 255]))
        );
        assert!(coerce(r#""bytes""#, Input::Cell("0g")).is_err());
        assert!(coerce(r#""bytes""#, Input::Cell("é0")).is_err());
        assert!(
            coerce(
                r#"{"type":"int","logicalType":"time-millis"}"#,
                Input::Cell("9223372036854775807")
            )
            .is_err()
        );
    }
}
