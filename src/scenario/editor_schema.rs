//! The scenario JSON Schema as editors get it (`mbscenario schema`,
//! `scenarios/scenario.schema.json`): the validator's schema, loosened to
//! what a file holds *before* `${VAR}` interpolation.

use serde_json::Value;

use super::schema_check::scenario_schema;

/// The schema for editors (`mbscenario schema`, `scenarios/scenario.schema.json`):
/// they see the file *before* `${VAR}` interpolation, so wherever a typed
/// scalar goes a `${VAR}` / `${VAR:-default}` string is accepted too, and
/// top-level `x-…` keys (YAML anchor holders) are allowed — what `validate`
/// accepts, no more red squiggles.
pub fn editor_schema() -> Value {
    let mut v = scenario_schema();
    allow_interpolation(&mut v);
    if let Value::Object(map) = &mut v {
        map.insert(
            "patternProperties".into(),
            serde_json::json!({ "^x-": { "description": "Ignored: a place for YAML anchors." } }),
        );
        if let Some(Value::Object(defs)) = map.get_mut("$defs") {
            defs.insert(
                "Interpolated".into(),
                serde_json::json!({
                    "type": "string",
                    "pattern": r"\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}",
                    "description": "`${VAR}` or `${VAR:-default}`: resolved from --set or the environment when the scenario is loaded."
                }),
            );
        }
    }
    v
}

/// Wraps every typed scalar (a number, integer or boolean, or a string with
/// a pattern) as `anyOf [it, Interpolated]`.
fn allow_interpolation(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for child in map.values_mut() {
                allow_interpolation(child);
            }
            let typed = |t: &Value| matches!(t.as_str(), Some("integer" | "number" | "boolean"));
            let wants = match map.get("type") {
                Some(Value::Array(ts)) => ts.iter().any(typed),
                Some(t) if typed(t) => true,
                Some(t) if t == "string" => map.contains_key("pattern"),
                _ => false,
            };
            if wants {
                let inner = Value::Object(std::mem::take(map));
                let description = inner.get("description").cloned();
                map.insert(
                    "anyOf".into(),
                    serde_json::json!([inner, { "$ref": "#/$defs/Interpolated" }]),
                );
                if let Some(d) = description {
                    map.insert("description".into(), d);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(allow_interpolation),
        _ => {}
    }
}
