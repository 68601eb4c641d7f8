//! How diagnostics name JSON types and values for people ("a mapping", "the
//! string `x`"), not as the JSON Schema spells them.

use jsonschema::error::TypeKind;
use serde_json::Value;

pub(super) fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn type_word(t: &str) -> String {
    match t {
        "object" => "a mapping".to_string(),
        "array" => "a list".to_string(),
        "string" => "a string".to_string(),
        "integer" => "an integer".to_string(),
        "number" => "a number".to_string(),
        "boolean" => "true or false".to_string(),
        "null" => "nothing (null)".to_string(),
        other => other.to_string(),
    }
}

pub(super) fn type_names(kind: &TypeKind) -> String {
    match kind {
        TypeKind::Single(t) => type_word(&t.to_string()),
        TypeKind::Multiple(set) => {
            one_of_types(&set.iter().map(|t| t.to_string()).collect::<Vec<_>>())
        }
    }
}

/// `a string, a number or true or false`: optional (`null`) and `integer`
/// next to `number` are noise in a message for people.
pub(super) fn one_of_types(types: &[String]) -> String {
    let has_number = types.iter().any(|t| t == "number");
    let names: Vec<String> = types
        .iter()
        .filter(|t| !(t.as_str() == "null" && types.len() > 1))
        .filter(|t| !(t.as_str() == "integer" && has_number))
        .map(|t| type_word(t))
        .collect();
    match names.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        Some((last, _)) => last.clone(),
        None => "a value".into(),
    }
}

pub(super) fn show_value(v: &Value) -> String {
    match v {
        Value::Null => "nothing (null)".into(),
        Value::Bool(b) => format!("`{b}`"),
        Value::Number(n) => format!("the number `{n}`"),
        Value::String(s) => format!("the string `{s}`"),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a mapping".into(),
    }
}
