//! Semantic validation: `ScenarioSpec` → `Scenario`.
//!
//! Runs only on documents that passed the JSON-Schema check, so shapes are
//! known; what is checked here is meaning: units, references between blocks
//! (phase → stream, assertion → queue/phase), files on disk (`.avsc`, Rhai
//! modules, connector configs) and Avro field paths. Every problem is collected
//! with its JSON pointer; nothing stops at the first error.
//!
//! - `mod.rs`: entry point: seed, targets and access, then each block
//! - `streams`: streams (schema, imports, overrides, key, replay)
//! - `phases`: phases and rate shapes; `seek`: goal-seeking phases
//! - `infra`: setup / teardown steps
//! - `checks`: assertions and report settings

mod checks;
mod dry_run;
mod infra;
mod names;
mod phases;
mod secrets;
mod seek;
mod streams;
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
        .filter_map(|(i, s)| streams::stream(&mut cx, i, s))
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
