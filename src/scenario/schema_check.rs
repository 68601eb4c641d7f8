//! JSON-Schema check of the parsed document, with readable, located errors.
//!
//! The schema is generated from [`ScenarioSpec`] by schemars (so it can never
//! drift from the serde types) and compiled once. Raw validator errors are
//! rewritten into messages a person can act on: unknown keys get a
//! "did you mean" hint computed from the schema's own property names, failed
//! `oneOf`/`anyOf` alternatives are narrowed to the branch the user evidently
//! meant (by its `type:` tag or by its JSON type), and unit patterns explain
//! the unit grammar instead of printing a regex.

use std::sync::LazyLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{ValidationError, Validator};
use serde_json::Value;

use super::diagnostic::{Diagnostic, pointer_push};
use super::source::Document;
use super::spec::ScenarioSpec;
use super::units::{DURATION_HELP, DURATION_PATTERN, RATE_HELP, RATE_PATTERN};

mod lookup;
mod words;

use lookup::{allowed_keys, describe_property, field_help};
use words::{one_of_types, plural, show_value, type_names};

/// The scenario JSON Schema (draft 2020-12), as committed in `scenarios/scenario.schema.json`.
pub fn scenario_schema() -> Value {
    let schema = schemars::schema_for!(ScenarioSpec);
    let mut value = serde_json::to_value(schema).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.insert(
            "$id".into(),
            Value::String("https://mbscenario.dev/scenario.schema.json".into()),
        );
    }
    value
}

static SCHEMA: LazyLock<Value> = LazyLock::new(scenario_schema);
static VALIDATOR: LazyLock<Option<Validator>> =
    LazyLock::new(|| jsonschema::validator_for(&SCHEMA).ok());

/// Whether a schema problem still lets the document be read as a
/// `ScenarioSpec` (unit grammar violations: the value is still a string), so
/// semantic validation can run and report its problems in the same pass.
pub fn is_blocking(d: &Diagnostic) -> bool {
    !(d.message.starts_with("invalid rate")
        || d.message.starts_with("invalid duration")
        || d.message.starts_with("invalid amount"))
}

/// Checks `doc` against the scenario schema; returns every problem found.
pub fn check(doc: &Document) -> Vec<Diagnostic> {
    let Some(validator) = VALIDATOR.as_ref() else {
        return vec![Diagnostic::error(
            "",
            "internal error: the scenario JSON Schema does not compile",
        )];
    };
    if doc.value.is_null() {
        return vec![
            Diagnostic::error("", "the scenario file is empty")
                .with_help("a scenario needs at least `name`, `streams` and `phases`"),
        ];
    }
    let mut out = Vec::new();
    for error in validator.iter_errors(&doc.value) {
        convert(&error, &mut out);
    }
    // `rat:` next to a missing `rate`: the typo hint says it all.
    let hinted: Vec<(String, String)> = out
        .iter()
        .filter_map(|d| {
            let best = d
                .help
                .as_deref()?
                .strip_prefix("did you mean `")?
                .strip_suffix("`?")?;
            let parent = d.pointer.rsplit_once('/')?.0;
            Some((parent.to_string(), format!("missing required key `{best}`")))
        })
        .collect();
    out.retain(|d| {
        !hinted
            .iter()
            .any(|(p, m)| *p == d.pointer && *m == d.message)
    });
    for d in &mut out {
        let unknown_or_missing = d.message.starts_with("unknown key");
        let span = if unknown_or_missing {
            doc.spans.key(&d.pointer)
        } else {
            doc.spans.value(&d.pointer)
        };
        d.span = span;
    }
    out
}

fn convert(error: &ValidationError<'_>, out: &mut Vec<Diagnostic>) {
    let pointer = error.instance_path().as_str().to_string();
    let schema_path = error.schema_path().as_str().to_string();
    let instance = error.instance();
    match error.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            unknown_keys(&pointer, &schema_path, unexpected, out);
        }
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            out.push(missing_key(&pointer, &schema_path, name));
        }
        ValidationErrorKind::Type { kind } => {
            let expected = type_names(kind);
            out.push(
                Diagnostic::error(
                    pointer.clone(),
                    format!("expected {expected}, found {}", show_value(instance)),
                )
                .with_help(
                    field_help(&schema_path).unwrap_or_else(|| format!("write {expected} here")),
                ),
            );
        }
        ValidationErrorKind::Enum { options } => out.push(not_in_enum(&pointer, instance, options)),
        ValidationErrorKind::Constant { expected_value } => {
            out.push(
                Diagnostic::error(
                    pointer.clone(),
                    format!(
                        "expected `{}`, found {}",
                        expected_value,
                        show_value(instance)
                    ),
                )
                .with_help(
                    field_help(&schema_path).unwrap_or_else(|| format!("write `{expected_value}`")),
                ),
            );
        }
        ValidationErrorKind::Pattern { pattern } => {
            out.push(bad_pattern(&pointer, instance, pattern));
        }
        ValidationErrorKind::OneOfNotValid { context } | ValidationErrorKind::AnyOf { context } => {
            narrow_alternatives(&pointer, instance, context, out);
        }
        ValidationErrorKind::MinItems { limit } => out.push(
            Diagnostic::error(
                pointer.clone(),
                format!("needs at least {limit} item{}", plural(*limit)),
            )
            .with_help(field_help(&schema_path).unwrap_or_else(|| "add an item".into())),
        ),
        ValidationErrorKind::MinLength { .. } => out.push(
            Diagnostic::error(pointer.clone(), "must not be empty")
                .with_help(field_help(&schema_path).unwrap_or_else(|| "write a value".into())),
        ),
        ValidationErrorKind::Minimum { limit }
        | ValidationErrorKind::ExclusiveMinimum { limit } => {
            out.push(
                Diagnostic::error(
                    pointer.clone(),
                    format!("{} is below the minimum of {limit}", show_value(instance)),
                )
                .with_help(
                    field_help(&schema_path)
                        .unwrap_or_else(|| format!("use a value of at least {limit}")),
                ),
            );
        }
        _ => out.push(
            Diagnostic::error(pointer.clone(), error.to_string()).with_help(
                field_help(&schema_path)
                    .unwrap_or_else(|| "see `mbscenario schema` for the allowed values".into()),
            ),
        ),
    }
}

/// Keys the schema does not allow here, each with the closest allowed key.
fn unknown_keys(
    pointer: &str,
    schema_path: &str,
    unexpected: &[String],
    out: &mut Vec<Diagnostic>,
) {
    let allowed = allowed_keys(schema_path);
    for key in unexpected {
        let mut d = Diagnostic::error(pointer_push(pointer, key), format!("unknown key `{key}`"));
        d.help = Some(match closest(key, &allowed) {
            Some(best) => format!("did you mean `{best}`?"),
            None if allowed.is_empty() => "remove this key".to_string(),
            None => format!("allowed keys here: {}", allowed.join(", ")),
        });
        out.push(d);
    }
}

/// A required key that is missing, with what the schema says it is.
fn missing_key(pointer: &str, schema_path: &str, name: &str) -> Diagnostic {
    let mut d = Diagnostic::error(pointer, format!("missing required key `{name}`"));
    d.help = Some(match describe_property(schema_path, name) {
        Some(desc) => format!("add `{name}`: {desc}"),
        None => format!("add `{name}`"),
    });
    d
}

/// A value outside an `enum`, with the closest allowed one.
fn not_in_enum(pointer: &str, instance: &Value, options: &Value) -> Diagnostic {
    let opts: Vec<String> = options
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let found = instance
        .as_str()
        .map(String::from)
        .unwrap_or_else(|| instance.to_string());
    let help = match closest(&found, &opts) {
        Some(best) => format!("did you mean `{best}`?"),
        None => format!("use one of: {}", opts.join(", ")),
    };
    Diagnostic::error(pointer, format!("`{found}` is not a valid value here")).with_help(help)
}

/// A rate, duration or amount that does not parse: why, when the parser says.
fn bad_pattern(pointer: &str, instance: &Value, pattern: &str) -> Diagnostic {
    let text = instance.as_str().unwrap_or_default();
    let (what, help) = if pattern == RATE_PATTERN {
        ("rate", RATE_HELP)
    } else if pattern == DURATION_PATTERN {
        ("duration", DURATION_HELP)
    } else {
        (
            "amount",
            "write a count such as `12` or a percentage such as `0.5%`",
        )
    };
    let reason = match what {
        "rate" => super::units::parse_rate(text).err(),
        "duration" => super::units::parse_duration(text).err(),
        _ => None,
    };
    let message = match reason {
        Some(r) => format!("invalid {what}: {r}"),
        None => format!("invalid {what} `{text}`"),
    };
    Diagnostic::error(pointer, message).with_help(help)
}

/// Picks the alternative the user meant and reports only its errors. In
/// turn: a value of a documented list, the branches that take this JSON type
/// (and tag), a `type:` tag no branch has, and last what types would do.
fn narrow_alternatives(
    pointer: &str,
    instance: &Value,
    context: &[Vec<ValidationError<'static>>],
    out: &mut Vec<Diagnostic>,
) {
    if let Some(d) = not_a_listed_value(pointer, instance, context) {
        return out.push(d);
    }
    if let Some(best) = meant_branch(pointer, instance, context) {
        for e in best {
            convert(e, out);
        }
        return;
    }
    if let Some(d) = unknown_tag(pointer, instance, context) {
        return out.push(d);
    }
    out.push(wrong_type(pointer, instance, context));
}

/// An enum written as `oneOf` of `const`s (documented variants): every
/// branch fails on a constant at this very node.
fn not_a_listed_value(
    pointer: &str,
    instance: &Value,
    context: &[Vec<ValidationError<'static>>],
) -> Option<Diagnostic> {
    let root_consts: Vec<String> = context
        .iter()
        .filter_map(|errs| {
            errs.iter().find_map(|e| match e.kind() {
                ValidationErrorKind::Constant { expected_value }
                    if e.instance_path().as_str() == pointer =>
                {
                    Some(
                        expected_value
                            .as_str()
                            .map_or_else(|| expected_value.to_string(), String::from),
                    )
                }
                _ => None,
            })
        })
        .collect();
    if root_consts.is_empty() || root_consts.len() != context.len() {
        return None;
    }
    let found = instance
        .as_str()
        .map_or_else(|| instance.to_string(), String::from);
    Some(
        Diagnostic::error(pointer, format!("`{found}` is not a valid value here"))
            .with_help(choice_help(&found, &root_consts)),
    )
}

/// `did you mean …? (one of: …)`, or only the list when nothing is close.
fn choice_help(found: &str, options: &[String]) -> String {
    match closest(found, options) {
        Some(best) => format!("did you mean `{best}`? (one of: {})", options.join(", ")),
        None => format!("use one of: {}", options.join(", ")),
    }
}

/// Of the branches that accept this JSON type (and, for tagged objects,
/// this tag), the one with the fewest errors.
fn meant_branch<'c>(
    pointer: &str,
    instance: &Value,
    context: &'c [Vec<ValidationError<'static>>],
) -> Option<&'c Vec<ValidationError<'static>>> {
    let tag_ptr = format!("{pointer}/type");
    let tag_failed = |errs: &Vec<ValidationError<'_>>| {
        errs.iter().any(|e| {
            e.instance_path().as_str() == tag_ptr
                && matches!(
                    e.kind(),
                    ValidationErrorKind::Constant { .. } | ValidationErrorKind::Enum { .. }
                )
        })
    };
    let root_type_failed = |errs: &Vec<ValidationError<'_>>| {
        errs.iter().any(|e| {
            e.instance_path().as_str() == pointer
                && matches!(e.kind(), ValidationErrorKind::Type { .. })
        })
    };
    context
        .iter()
        .filter(|errs| {
            !(root_type_failed(errs) || (instance.get("type").is_some() && tag_failed(errs)))
        })
        .min_by_key(|errs| errs.len())
}

/// A `type:` tag that matches no variant.
fn unknown_tag(
    pointer: &str,
    instance: &Value,
    context: &[Vec<ValidationError<'static>>],
) -> Option<Diagnostic> {
    let tag = instance.get("type").and_then(Value::as_str)?;
    let tag_ptr = format!("{pointer}/type");
    let options: Vec<String> = context
        .iter()
        .flat_map(|errs| errs.iter())
        .filter(|e| e.instance_path().as_str() == tag_ptr)
        .filter_map(|e| match e.kind() {
            ValidationErrorKind::Constant { expected_value } => {
                expected_value.as_str().map(String::from)
            }
            _ => None,
        })
        .collect();
    if options.is_empty() {
        return None;
    }
    Some(
        Diagnostic::error(tag_ptr, format!("unknown type `{tag}`"))
            .with_help(choice_help(tag, &options)),
    )
}

/// No branch takes this JSON type at all: say what would be accepted (for a
/// bare number where a rate belongs, which unit to add).
fn wrong_type(
    pointer: &str,
    instance: &Value,
    context: &[Vec<ValidationError<'static>>],
) -> Diagnostic {
    if let Some(n) = instance.as_f64().filter(|_| instance.is_number())
        && (pointer.ends_with("/rate") || pointer.contains("/rate/"))
    {
        return Diagnostic::error(
            pointer,
            format!("a rate needs a unit, found the bare number `{instance}`"),
        )
        .with_help(format!(
            "write `{n}/s` (or `{n}/min`, `{n}/h`); {}",
            crate::scenario::units::RATE_HELP
        ));
    }
    let expected = one_of_types(&accepted_types(pointer, context));
    Diagnostic::error(
        pointer,
        format!("expected {expected}, found {}", show_value(instance)),
    )
    .with_help("see `mbscenario schema` or the format reference, docs/scenario-format.md")
}

/// The JSON types the branches expect at `pointer`, first seen first.
fn accepted_types(pointer: &str, context: &[Vec<ValidationError<'static>>]) -> Vec<String> {
    context
        .iter()
        .flat_map(|errs| errs.iter())
        .filter(|e| e.instance_path().as_str() == pointer)
        .filter_map(|e| match e.kind() {
            ValidationErrorKind::Type {
                kind: TypeKind::Single(t),
            } => Some(vec![t.to_string()]),
            ValidationErrorKind::Type {
                kind: TypeKind::Multiple(set),
            } => Some(set.iter().map(|t| t.to_string()).collect()),
            _ => None,
        })
        .flatten()
        .fold(Vec::new(), |mut acc, t| {
            if !acc.contains(&t) {
                acc.push(t);
            }
            acc
        })
}

/// The closest candidate by edit distance, if it is plausibly a typo.
pub fn closest(word: &str, candidates: &[String]) -> Option<String> {
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.clone())
}
