//! Reading the scenario's own JSON Schema at an error's keyword location: the
//! node there, the keys it allows, and the descriptions used as help lines.

use serde_json::Value;

/// Resolves the schema node at a keyword location such as
/// `/properties/phases/items/$ref/properties/rate/additionalProperties`,
/// following `$ref`s into `$defs`.
fn schema_node(schema_path: &str) -> Option<&'static Value> {
    let mut node: &Value = &super::SCHEMA;
    let segs: Vec<String> = schema_path
        .split('/')
        .skip(1)
        .map(|s| s.replace("~1", "/").replace("~0", "~"))
        .collect();
    for seg in &segs {
        if seg == "$ref" {
            let target = node.get("$ref")?.as_str()?;
            let name = target.strip_prefix("#/$defs/")?;
            node = super::SCHEMA.get("$defs")?.get(name)?;
            continue;
        }
        node = match node {
            Value::Object(m) => m.get(seg.as_str())?,
            Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(node)
}

/// Property names allowed by the schema object owning a keyword.
pub(super) fn allowed_keys(schema_path: &str) -> Vec<String> {
    let parent = schema_path.rsplit_once('/').map_or("", |(p, _)| p);
    schema_node(parent)
        .and_then(|n| n.get("properties"))
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

pub(super) fn describe_property(schema_path: &str, name: &str) -> Option<String> {
    let parent = schema_path.rsplit_once('/').map_or("", |(p, _)| p);
    let prop = schema_node(parent)?.get("properties")?.get(name)?;
    description_of(prop)
}

/// Description of the schema that owns the failing keyword, as a help line.
pub(super) fn field_help(schema_path: &str) -> Option<String> {
    let parent = schema_path.rsplit_once('/').map_or("", |(p, _)| p);
    description_of(schema_node(parent)?)
}

fn description_of(node: &Value) -> Option<String> {
    if let Some(d) = node.get("description").and_then(Value::as_str) {
        return Some(d.replace('\n', " "));
    }
    let target = node.get("$ref")?.as_str()?.strip_prefix("#/$defs/")?;
    let def = super::SCHEMA.get("$defs")?.get(target)?;
    def.get("description")
        .and_then(Value::as_str)
        .map(|d| d.replace('\n', " "))
}
