//! Streams: the schema file, Rhai imports, per-field overrides (compiled
//! and checked against the schema's field paths), the key and replay
//! inputs of each `streams:` entry.

use super::*;

fn split_path(path: &str) -> Vec<String> {
    path.split('.').map(str::to_string).collect()
}

pub(super) fn stream(cx: &mut Ctx<'_>, i: usize, spec: &StreamSpec) -> Option<Stream> {
    let ptr = format!("/streams/{i}");
    let schema_file = cx.file(&spec.schema);
    let loaded = load_schema(cx, &ptr, spec, &schema_file);
    if matches!(spec.weight, Some(w) if w <= 0.0) {
        cx.error(
            &format!("{ptr}/weight"),
            "a stream weight must be greater than 0",
            "leave the stream out of a phase with `phases[].streams` instead of giving it weight 0",
        );
    }
    let imports = imports(cx, &ptr, spec);

    let (schema, record_name) = loaded?;
    let record = RecordSchema {
        schema: &schema,
        name: &record_name,
    };
    let overrides = overrides(cx, &ptr, spec, &record);
    let key = key(cx, &ptr, spec, &record);
    if let Some(t) = &spec.topic {
        names::kafka_topic(cx, &format!("{ptr}/topic"), t);
    }
    if let Some(q) = &spec.queue {
        names::sqs_queue(cx, &format!("{ptr}/queue"), q);
    }
    let default_topic = format!(
        "events.{}",
        snake_case(record_name.rsplit('.').next().unwrap_or(&record_name))
    );
    let mut stream = Stream {
        name: spec.name.clone(),
        schema_file,
        schema: Arc::new(schema),
        record_name: record_name.clone(),
        schema_id: spec.schema_id,
        topic_is_default: spec.topic.is_none(),
        topic: spec.topic.clone().unwrap_or(default_topic),
        queue: spec.queue.clone(),
        key,
        headers: spec
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        weight: spec.weight.unwrap_or(1.0),
        imports,
        overrides,
        compiled: None,
        replay: None,
    };
    if let Some(r) = &spec.replay {
        stream.replay = replay(cx, &ptr, r, &stream.schema);
    }
    compile_overrides(cx, &ptr, spec, &mut stream);
    Some(stream)
}

/// The stream's `.avsc` (schema, record name), or an error with how to fix it.
fn load_schema(
    cx: &mut Ctx<'_>,
    ptr: &str,
    spec: &StreamSpec,
    schema_file: &FileRef,
) -> Option<(apache_avro::Schema, String)> {
    match avsc::load(&schema_file.resolved, &spec.schema) {
        Ok(x) => Some(x),
        Err(e) => {
            let help = match &e {
                avsc::AvscError::Read { .. } => {
                    "paths are relative to the scenario file's folder; check the file name".to_string()
                }
                avsc::AvscError::Invalid { .. } => {
                    "fix the schema file (see the Avro specification) and validate again".to_string()
                }
                avsc::AvscError::NotARecord { .. } => {
                    "wrap the type in a record: {\"type\": \"record\", \"name\": …, \"fields\": […]}".to_string()
                }
            };
            cx.error(&format!("{ptr}/schema"), e.to_string(), help);
            None
        }
    }
}

/// The stream's Rhai modules: `.rhai` files that exist, named by their stem.
fn imports(cx: &mut Ctx<'_>, ptr: &str, spec: &StreamSpec) -> Vec<Import> {
    spec.imports
        .iter()
        .enumerate()
        .filter_map(|(j, written)| {
            let file = cx.file(written);
            let p = format!("{ptr}/imports/{j}");
            if !written.ends_with(".rhai") {
                cx.error(
                    &p,
                    format!("`{written}` is not a Rhai module"),
                    "imports are `.rhai` files, e.g. `generators/pokemon.rhai`",
                );
                return None;
            }
            if !file.resolved.is_file() {
                cx.error(
                    &p,
                    format!("cannot find Rhai module `{written}`"),
                    "paths are relative to the scenario file's folder",
                );
                return None;
            }
            let module = Path::new(written)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            Some(Import { module, file })
        })
        .collect()
}

/// A stream's loaded schema and record name, against which field paths are checked.
struct RecordSchema<'s> {
    schema: &'s apache_avro::Schema,
    name: &'s str,
}

impl RecordSchema<'_> {
    /// The Avro type at field `path` (written at `pointer`), or an error
    /// naming the nearest fields.
    fn field_type(&self, cx: &mut Ctx<'_>, pointer: &str, path: &str) -> Option<String> {
        let record_name = self.name;
        match avsc::lookup_field(self.schema, &split_path(path)) {
            FieldLookup::Found(t) => Some(t),
            FieldLookup::Missing { missing, available } => {
                let help = match closest(&missing, &available) {
                    Some(b) => format!("did you mean `{b}`? fields here: {}", available.join(", ")),
                    None => format!("fields here: {}", available.join(", ")),
                };
                cx.error_at_key(
                    pointer,
                    format!("schema `{record_name}` has no field `{missing}` (in `{path}`)"),
                    help,
                );
                None
            }
            FieldLookup::NotARecord { segment, found } => {
                cx.error_at_key(
                    pointer,
                    format!("`{segment}` is a {found}, not a record, so `{path}` does not exist"),
                    "only record fields can be addressed with `a.b` paths",
                );
                None
            }
        }
    }
}

/// The stream's overrides: non-empty expressions on fields the schema has.
fn overrides(
    cx: &mut Ctx<'_>,
    ptr: &str,
    spec: &StreamSpec,
    record: &RecordSchema<'_>,
) -> Vec<Override> {
    spec.overrides
        .iter()
        .filter_map(|(path, expr)| {
            let p = pointer_push(&format!("{ptr}/overrides"), path);
            if expr.trim().is_empty() {
                cx.error(
                    &p,
                    format!("the override of `{path}` is empty"),
                    "write a Rhai expression, e.g. `uniform(1, 100)`",
                );
                return None;
            }
            let field_type = record.field_type(cx, &p, path)?;
            Some(Override {
                path: split_path(path),
                expr: expr.clone(),
                field_type,
                at: cx
                    .doc
                    .spans
                    .value(&p)
                    .map(|s| format!("{}:{}", s.line, s.col)),
            })
        })
        .collect()
}

/// The stream's Kafka key; a key field must exist in the schema.
fn key(cx: &mut Ctx<'_>, ptr: &str, spec: &StreamSpec, record: &RecordSchema<'_>) -> Key {
    match &spec.key {
        None
        | Some(KeySpec::Kind {
            kind: KeyKind::None,
        }) => Key::None,
        Some(KeySpec::Kind {
            kind: KeyKind::Random,
        }) => Key::Random,
        Some(KeySpec::Expr { expr }) => Key::Expr { expr: expr.clone() },
        Some(KeySpec::Field { field }) => {
            record.field_type(cx, &format!("{ptr}/key/field"), field);
            Key::Field {
                path: split_path(field),
            }
        }
    }
}

/// Compiles the key expression and the overrides, once every override
/// passed the checks above.
fn compile_overrides(cx: &mut Ctx<'_>, ptr: &str, spec: &StreamSpec, stream: &mut Stream) {
    let key_expr = matches!(stream.key, Key::Expr { .. });
    if (key_expr || !stream.overrides.is_empty()) && stream.overrides.len() == spec.overrides.len()
    {
        match CompiledOverrides::compile(stream) {
            Ok(c) => stream.compiled = Some(Arc::new(c)),
            Err(errors) => {
                for e in errors {
                    expr_diagnostic(cx, ptr, spec, e);
                }
            }
        }
    }
}

/// Places a compile-time expression error at the override or import it is about.
fn expr_diagnostic(cx: &mut Ctx<'_>, ptr: &str, spec: &StreamSpec, e: ExprError) {
    let (pointer, help) = match &e {
        ExprError::Syntax { field, .. } if field == crate::datagen::expr::KEY_FIELD => (
            format!("{ptr}/key/expr"),
            "fix the Rhai expression; it sees `record`, `seq`, `phase` and `t`, and returns the key",
        ),
        ExprError::Syntax { field, .. } | ExprError::UnknownField { field, .. } => (
            pointer_push(&format!("{ptr}/overrides"), field),
            "fix the Rhai expression; see docs/scenario-format.md for the built-in functions (uniform, pick, weighted, fake::city, …)",
        ),
        ExprError::Module { file, .. } => {
            let j = spec.imports.iter().position(|i| i == file).unwrap_or(0);
            (
                format!("{ptr}/imports/{j}"),
                "fix the Rhai module; modules may define functions and constants",
            )
        }
        _ => (format!("{ptr}/schema"), "overrides need a record schema"),
    };
    cx.error(&pointer, e.to_string(), help);
}

/// `PokemonCard` → `pokemon_card` (for default topic names).
fn snake_case(name: &str) -> String {
    let mut out = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            if prev_lower {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
            prev_lower = false;
        } else {
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
            out.push(c);
        }
    }
    out
}

fn replay(
    cx: &mut Ctx<'_>,
    ptr: &str,
    spec: &crate::scenario::spec::ReplaySpec,
    schema: &apache_avro::Schema,
) -> Option<crate::scenario::model::Replay> {
    use crate::datagen::{OnEnd, ReplayFormat, ReplaySource};
    use crate::scenario::spec::OnEndSpec;
    let file = cx.file(&spec.file);
    let pointer = format!("{ptr}/replay/file");
    let loaded = ReplayFormat::infer(&file.resolved, &spec.file)
        .and_then(|format| ReplaySource::load(&file.resolved, &spec.file, format, schema));
    match loaded {
        Ok(source) => {
            let on_end = match spec.on_end {
                Some(OnEndSpec::Stop) => OnEnd::Stop,
                _ => OnEnd::Loop,
            };
            Some(crate::scenario::model::Replay {
                file,
                source: Arc::new(source.with_on_end(on_end)),
            })
        }
        Err(e) => {
            cx.error(
                &pointer,
                e.to_string(),
                "fix the data file, or map it onto the schema's field names (CSV header / JSON keys); paths are relative to the scenario",
            );
            None
        }
    }
}

/// The overrides compiler reads a stream through this (so `datagen::expr`
/// imports nothing from `scenario`).
impl crate::datagen::expr::OverrideSource for crate::scenario::model::Stream {
    fn stream_name(&self) -> &str {
        &self.name
    }

    fn schema(&self) -> &apache_avro::Schema {
        &self.schema
    }

    fn imports(&self) -> Vec<(&str, &str, &std::path::Path)> {
        self.imports
            .iter()
            .map(|i| {
                (
                    i.module.as_str(),
                    i.file.written.as_str(),
                    i.file.resolved.as_path(),
                )
            })
            .collect()
    }

    fn overrides(&self) -> Vec<(&[String], &str)> {
        self.overrides
            .iter()
            .map(|o| (o.path.as_slice(), o.expr.as_str()))
            .collect()
    }

    fn key_expr(&self) -> Option<&str> {
        match &self.key {
            crate::scenario::model::Key::Expr { expr } => Some(expr),
            _ => None,
        }
    }
}
