//! Semantic validation: `ScenarioSpec` → `Scenario`.
//!
//! Runs only on documents that passed the JSON-Schema check, so shapes are
//! known; what is checked here is meaning: units, references between blocks
//! (phase → stream, assertion → queue/phase), files on disk (`.avsc`, Rhai
//! modules, connector configs) and Avro field paths. Every problem is collected
//! with its JSON pointer; nothing stops at the first error.
//!
//! - `mod.rs`: entry point, targets, streams
//! - `phases`: phases and rate shapes
//! - `infra`: setup / teardown steps
//! - `checks`: assertions and report settings

mod checks;
mod dry_run;
mod infra;
mod names;
mod phases;
mod secrets;
mod targets;
use targets::targets;

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use super::avsc::{self, FieldLookup};
use super::diagnostic::{Diagnostic, pointer_push};
use super::model::{
    DEFAULT_SEED, FileRef, Import, Key, Override, Phase, Scenario, SeedOrigin, Stream, Targets,
};
use super::schema_check::closest;
use super::source::Document;
use super::spec::{KeyKind, KeySpec, ScenarioSpec, SetupStepSpec, StreamSpec};
use crate::datagen::expr::{CompiledOverrides, ExprError};

/// Collects located problems while validating.
pub(crate) struct Ctx<'a> {
    doc: &'a Document,
    base_dir: &'a Path,
    /// Where the variables that `*_env` keys name are looked up.
    vars: &'a super::Vars,
    diags: Vec<Diagnostic>,
}

impl Ctx<'_> {
    /// An error located at the value of `pointer`.
    pub(crate) fn error(
        &mut self,
        pointer: &str,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        let mut d = Diagnostic::error(pointer, message).with_help(help);
        d.span = self.doc.spans.value(pointer);
        self.diags.push(d);
    }

    /// An error located at the key of `pointer` (for whole entries).
    pub(crate) fn error_at_key(
        &mut self,
        pointer: &str,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        let mut d = Diagnostic::error(pointer, message).with_help(help);
        d.span = self.doc.spans.key(pointer);
        self.diags.push(d);
    }

    /// Resolves a scenario-relative path.
    pub(crate) fn file(&self, written: &str) -> FileRef {
        FileRef {
            written: written.to_string(),
            resolved: self.base_dir.join(written),
        }
    }

    /// Reports names that appear twice in a list (`/phases/N/name`).
    pub(crate) fn unique_names<'n>(
        &mut self,
        list: &str,
        what: &str,
        names: impl Iterator<Item = &'n str>,
    ) {
        let mut seen = HashSet::new();
        for (i, name) in names.enumerate() {
            if !seen.insert(name) {
                self.error(
                    &format!("/{list}/{i}/name"),
                    format!("duplicate {what} name `{name}`"),
                    format!("{what} names must be unique: rename this one"),
                );
            }
        }
    }
}

/// Options that change how a file is read (from the command line).
#[derive(Debug, Clone, Default)]
pub struct ValidateOptions {
    pub seed: Option<u64>,
}

/// Validates a schema-checked spec. Returns every error found.
pub fn validate(
    spec: &ScenarioSpec,
    doc: &Document,
    base_dir: &Path,
    opts: &ValidateOptions,
    vars: &super::Vars,
) -> Result<Scenario, Vec<Diagnostic>> {
    let mut cx = Ctx {
        doc,
        base_dir,
        vars,
        diags: Vec::new(),
    };
    let (seed, seed_origin) = seed(opts, spec);
    let uses_registry = spec.targets.schema_registry.is_some()
        || spec
            .setup
            .iter()
            .any(|s| matches!(s, SetupStepSpec::RegisterSchemas { .. }));
    let mut targets = targets(spec, uses_registry);

    cx.unique_names(
        "streams",
        "stream",
        spec.streams.iter().map(|s| s.name.as_str()),
    );
    let streams: Vec<Stream> = spec
        .streams
        .iter()
        .enumerate()
        .filter_map(|(i, s)| stream(&mut cx, i, s))
        .collect();
    let stream_names: Vec<String> = spec.streams.iter().map(|s| s.name.clone()).collect();
    let phases = phases::phases(&mut cx, spec, &stream_names, &streams);
    let setup = infra::setup(&mut cx, &spec.setup);
    let teardown = infra::teardown(&spec.teardown);
    let queues = infra::known_queues(&spec.setup, &spec.streams);
    let assertions = checks::assertions(&mut cx, spec, &queues);
    let report = checks::report(spec);
    access(&mut cx, spec, &mut targets);
    // Without a registry, Kafka payloads need a pinned schema id for the wire format.
    if !uses_registry && streams.len() == spec.streams.len() {
        pinned_schema_ids(&mut cx, &streams, &phases);
    }

    if !cx.diags.is_empty() {
        return Err(cx.diags);
    }
    let scenario = Scenario {
        name: spec.name.clone(),
        description: spec.description.clone(),
        seed,
        seed_origin,
        targets,
        setup,
        teardown,
        streams,
        phases,
        assertions,
        report,
        base_dir: base_dir.to_path_buf(),
    };
    evaluate(cx, scenario)
}

/// The seed: `--seed`, else the file's, else the default.
fn seed(opts: &ValidateOptions, spec: &ScenarioSpec) -> (u64, SeedOrigin) {
    match (opts.seed, spec.seed) {
        (Some(s), _) => (s, SeedOrigin::CommandLine),
        (None, Some(s)) => (s, SeedOrigin::File),
        (None, None) => (DEFAULT_SEED, SeedOrigin::Default),
    }
}

/// Credentials and trust: the variables `*_env` keys name, Kafka security,
/// the registry's CA and Kafka Connect's access.
fn access(cx: &mut Ctx<'_>, spec: &ScenarioSpec, targets: &mut Targets) {
    secrets::env_vars(cx, spec);
    targets.kafka_security = secrets::kafka(cx, spec);
    let (registry_ca, connect_access) = secrets::http_access(cx, spec);
    if let Some(r) = &mut targets.schema_registry {
        r.ca_file = registry_ca;
    }
    targets.connect_access = connect_access;
}

/// Every stream sent to Kafka has a pinned schema id (for a scenario without
/// a registry, whose streams all validated).
fn pinned_schema_ids(cx: &mut Ctx<'_>, streams: &[Stream], phases: &[Phase]) {
    for (i, s) in streams.iter().enumerate() {
        let on_kafka = phases
            .iter()
            .any(|p| p.mode == super::model::Mode::KafkaViaConnect && p.streams.contains(&i));
        if on_kafka && s.schema_id.is_none() {
            cx.error_at_key(
                &format!("/streams/{i}/name"),
                format!("stream `{}` is sent to Kafka but has no schema id", s.name),
                "no Schema Registry is configured: pin one with `schema_id: 1`, or add `targets.schema_registry` or a `register_schemas` setup step",
            );
        }
    }
}

/// Generators, then overrides, run on sample records: the errors only
/// running the scenario's code finds.
fn evaluate(mut cx: Ctx<'_>, scenario: Scenario) -> Result<Scenario, Vec<Diagnostic>> {
    // Only a scenario valid so far is worth evaluating.
    dry_run::generators(&mut cx, &scenario);
    if cx.diags.is_empty() {
        dry_run::overrides(&mut cx, &scenario);
    }
    if !cx.diags.is_empty() {
        return Err(cx.diags);
    }
    Ok(scenario)
}

fn split_path(path: &str) -> Vec<String> {
    path.split('.').map(str::to_string).collect()
}

fn stream(cx: &mut Ctx<'_>, i: usize, spec: &StreamSpec) -> Option<Stream> {
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
