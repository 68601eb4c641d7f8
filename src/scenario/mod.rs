//! Scenario files: text → [`Scenario`], with every problem located.
//!
//! ```text
//! file ──source::parse──▶ Document (JSON value + pointer→span index)
//!      ──schema_check──▶ (all structural problems, located)
//!      ──serde──▶ ScenarioSpec ──validate──▶ Scenario
//! ```
//! No tokio and no network here: loading only reads the scenario and the
//! files it names (`.avsc`, Rhai modules, connector configs).
//!
//! - [`source`]: YAML with spans, `${VAR}` interpolation ([`interpolate`])
//! - [`spec`]: the file format as serde/schemars types
//! - [`schema_check`]: JSON-Schema validation with friendly messages
//! - [`validate`]: meaning: units, references, files, Avro field paths
//! - [`model`]: the validated [`Scenario`]
//! - [`diagnostic`]: located problems and their rendering
//! - [`units`], [`avsc`]: value grammars and schema look-ups

pub mod avsc;
pub mod diagnostic;
pub mod editor_schema;
mod file;
pub mod interpolate;
pub mod model;
mod scalar;
pub mod schema_check;
pub mod source;
pub mod spec;
pub mod units;
pub mod validate;

use std::path::Path;
use std::sync::Arc;

pub use diagnostic::{Diagnostic, Diagnostics, Severity};
pub use interpolate::Vars;
pub use model::Scenario;
pub use source::SourceFile;
pub use spec::ScenarioSpec;
pub use validate::ValidateOptions;

/// How to read a scenario: variables for `${VAR}` and command-line overrides.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    pub vars: Vars,
    pub validate: ValidateOptions,
}

/// Reads, checks and validates a scenario file.
///
/// `shown` is the name used in diagnostics (the path as the user typed it).
/// A file that cannot be read is reported as a diagnostic too.
pub fn load_file(path: &Path, shown: &str, opts: &LoadOptions) -> Result<Scenario, Diagnostics> {
    let text = match read_text(path) {
        Ok(t) => t,
        Err((message, help)) => {
            let file = Arc::new(SourceFile::new(shown, path, String::new()));
            let d = Diagnostic::error("", message).with_help(help);
            return Err(Diagnostics::new(file, vec![d]));
        }
    };
    load_source(SourceFile::new(shown, path, text), opts)
}

/// Largest scenario file read (scenarios are a few KiB; this only stops a
/// wrong path from reading gigabytes).
pub const MAX_SCENARIO_BYTES: u64 = 16 << 20;

/// The scenario file as UTF-8 text, or why not (message, help).
fn read_text(path: &Path) -> Result<String, (String, String)> {
    const HELP: &str = "check the path; scenario files are YAML (e.g. scenarios/ramp.yaml)";
    let meta = std::fs::metadata(path)
        .map_err(|e| (format!("cannot read scenario file: {e}"), HELP.to_string()))?;
    if meta.is_dir() {
        return Err(("this is a folder, not a scenario file".into(), HELP.into()));
    }
    if !meta.is_file() {
        return Err((
            "not a regular file (a device or a pipe)".into(),
            HELP.into(),
        ));
    }
    if meta.len() > MAX_SCENARIO_BYTES {
        return Err((
            format!(
                "the file is {} bytes; scenario files may be at most {MAX_SCENARIO_BYTES}",
                meta.len()
            ),
            HELP.into(),
        ));
    }
    let bytes = std::fs::read(path)
        .map_err(|e| (format!("cannot read scenario file: {e}"), HELP.to_string()))?;
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err((
            "the file is UTF-16 text (it starts with a UTF-16 byte-order mark)".into(),
            "save it as UTF-8".into(),
        ));
    }
    if let Some(at) = bytes.iter().position(|b| *b == 0) {
        return Err((
            format!("the file is binary, not YAML text (a NUL byte at offset {at})"),
            HELP.into(),
        ));
    }
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..at].iter().filter(|b| **b == b'\n').count() + 1;
        (
            format!("the file is not UTF-8 text: invalid bytes at line {line} (offset {at})"),
            "save it as UTF-8".to_string(),
        )
    })
}

/// Checks and validates scenario text that is already in memory.
pub fn load_source(file: SourceFile, opts: &LoadOptions) -> Result<Scenario, Diagnostics> {
    let file = Arc::new(file);
    let fail = |items| Err(Diagnostics::new(file.clone(), items));
    let mut doc = match source::parse(&file, &opts.vars) {
        Ok(d) => d,
        Err(items) => return fail(items),
    };
    // Top-level `x-…` keys only hold YAML anchors (as in docker-compose).
    if let serde_json::Value::Object(map) = &mut doc.value {
        map.retain(|k, _| !k.starts_with("x-"));
    }
    let problems = schema_check::check(&doc);
    if problems.iter().any(schema_check::is_blocking) {
        return fail(problems);
    }
    let spec: ScenarioSpec = match serde_json::from_value(doc.value.clone()) {
        Ok(s) => s,
        // The schema is generated from the same types, so this means the two
        // disagree; still report it as a located problem rather than panic.
        Err(e) => {
            return fail(vec![Diagnostic::error(
                "",
                format!("cannot read scenario: {e}"),
            )]);
        }
    };
    match validate::validate(&spec, &doc, file.base_dir(), &opts.validate, &opts.vars) {
        Ok(s) if problems.is_empty() => match unused_sets(&s, &opts.vars) {
            unused if unused.is_empty() => Ok(s),
            unused => fail(unused),
        },
        Ok(_) => fail(problems),
        Err(mut semantic) => {
            // A unit already reported by the schema check is not reported twice.
            semantic.retain(|d| !problems.iter().any(|p| p.pointer == d.pointer));
            semantic.extend(problems);
            fail(semantic)
        }
    }
}

/// `--set` keys that match no `${NAME}` of the scenario, of a connector
/// config it applies (resolved later, at setup) or a `*_env` it names: a
/// typo would otherwise be ignored silently.
fn unused_sets(s: &Scenario, vars: &Vars) -> Vec<Diagnostic> {
    let connector_texts: Vec<String> = s
        .setup
        .iter()
        .filter_map(|step| match step {
            model::SetupStep::ApplyConnector { config, .. } => Some(config),
            _ => None,
        })
        .map(|c| match c {
            model::ConnectorConfig::File { file, config } => {
                let text = std::fs::read_to_string(&file.resolved).unwrap_or_default();
                format!("{text}{config:?}")
            }
            model::ConnectorConfig::Inline { config } => format!("{config:?}"),
        })
        .collect();
    vars.unused_overrides()
        .into_iter()
        .filter(|k| {
            let reference = format!("${{{k}");
            !connector_texts.iter().any(|t| t.contains(&reference))
        })
        .map(|k| {
            let known = vars.used_names();
            let hint = match schema_check::closest(&k, &known) {
                Some(b) => format!("did you mean `{b}`? "),
                None => String::new(),
            };
            Diagnostic::error("", format!("`--set {k}=…` matches nothing in the scenario"))
                .with_help(format!(
                    "{hint}the scenario and its connector configs never refer to `${{{k}}}` (variables are case-sensitive)"
                ))
        })
        .collect()
}
