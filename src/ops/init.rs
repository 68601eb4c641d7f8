//! `mbscenario init`: a commented starter scenario that validates as
//! written — the editor modeline and the JSON Schema beside it, the user's
//! Avro schema or a small example one, a topic and a queue, a warm-up ramp
//! and a plateau, the usual assertions.

use std::path::{Path, PathBuf};

use crate::exit::Exit;

/// What `init` was asked for.
#[derive(Debug, Clone)]
pub struct InitOptions {
    pub output: PathBuf,
    pub schema: Option<PathBuf>,
    pub topic: Option<String>,
    pub queue: Option<String>,
    pub force: bool,
}

const EXAMPLE_SCHEMA: &str = r#"{
  "type": "record",
  "name": "OrderPlaced",
  "namespace": "example",
  "doc": "Starter schema written by `mbscenario init`: replace it with yours.",
  "fields": [
    {"name": "event_id", "type": {"type": "string", "logicalType": "uuid"}, "doc": "Envelope: filled by mbscenario."},
    {"name": "sent_at", "type": {"type": "long", "logicalType": "timestamp-millis"}, "doc": "Envelope: filled by mbscenario."},
    {"name": "customer_id", "type": "string"},
    {"name": "amount_cents", "type": "long"},
    {"name": "currency", "type": {"type": "enum", "name": "Currency", "symbols": ["EUR", "USD", "GBP"]}}
  ]
}
"#;

fn template(schema: &str, topic: &str, queue: &str) -> String {
    format!(
        r#"# yaml-language-server: $schema=./scenario.schema.json
# Starter scenario from `mbscenario init`. Check it with `mbscenario validate`, see what it
# will do with `mbscenario plan`, preview records with `mbscenario sample`, run it with
# `mbscenario run` (reference: docs/scenario-format.md in the mbscenario repository).
name: starter
seed: 1                      # same seed, same records, whatever the worker count

targets:                     # the loopback dev stack's endpoints; ${{VAR:-default}} works everywhere
  kafka: {{ bootstrap: "${{KAFKA_BOOTSTRAP:-localhost:9092}}" }}
  schema_registry: {{ url: "${{SCHEMA_REGISTRY_URL:-http://localhost:8081}}" }}
  connect: {{ url: "${{CONNECT_URL:-http://localhost:8083}}" }}
  sqs: {{ endpoint: "${{SQS_ENDPOINT:-http://localhost:4566}}" }}

setup:                       # idempotent; `run --no-setup` skips it
  - {{ type: register_schemas, files: [{schema}], subject_strategy: topic_name }}
  - type: ensure_topics
    topics: [{{ name: {topic}, partitions: 3 }}]
  - {{ type: create_queue, name: {queue} }}
  # - type: apply_connector  # your Kafka Connect SQS sink, e.g. config_file: connectors/sqs-sink.json
  #   name: sqs-sink
  #   config_file: sqs-sink.json
  #   wait: {{ state: running, timeout: 60s }}

streams:
  - name: events
    schema: {schema}
    topic: {topic}
    queue: {queue}             # where arrivals are counted (and the target of direct_sqs phases)
    # overrides:               # Rhai expressions per field, drawing from the record's seeded RNG
    #   customer_id: 'format("customer-{{}}", uniform(1, 1000))'

phases:
  - name: warmup
    duration: 30s
    rate: {{ type: ramp, from: 10/s, to: 100/s }}
    mode: kafka_via_connect
  - name: plateau
    duration: 1m
    rate: 100/s

assertions:
  - {{ type: throughput, phase: plateau, min: 95% }}
  - {{ type: errors, max: 0 }}
  - {{ type: dropped, max: 0 }}
  # - {{ type: arrivals, queue: {queue}, expect: all_acked, tolerance: 0.5%, within: 1m }}  # with a sink connector
"#
    )
}

fn write_new(path: &Path, text: &str, force: bool) -> Result<(), String> {
    if path.exists() && !force {
        return Err(format!(
            "{} exists; pass --force to overwrite it",
            path.display()
        ));
    }
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Writes the starter scenario (and, next to it, the JSON Schema and — without
/// `--schema` — an example Avro schema).
pub fn init(o: &InitOptions) -> Exit {
    let dir = o
        .output
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let schema = match &o.schema {
        Some(s) => {
            if !s.exists() {
                eprintln!("error: --schema {}: no such file", s.display());
                return Exit::Invalid;
            }
            // Scenario paths are relative to the scenario's folder.
            let abs = std::fs::canonicalize(s).unwrap_or_else(|_| s.clone());
            let base = std::fs::canonicalize(&dir).unwrap_or_else(|_| dir.clone());
            abs.strip_prefix(&base)
                .map(Path::to_path_buf)
                .unwrap_or(abs)
                .to_string_lossy()
                .into_owned()
        }
        None => "example.avsc".to_string(),
    };
    let topic = o.topic.clone().unwrap_or_else(|| "events.starter".into());
    let queue = o.queue.clone().unwrap_or_else(|| "starter-events".into());
    let mut files: Vec<(PathBuf, String)> =
        vec![(o.output.clone(), template(&schema, &topic, &queue))];
    if o.schema.is_none() {
        files.push((dir.join("example.avsc"), EXAMPLE_SCHEMA.to_string()));
    }
    let json_schema = dir.join("scenario.schema.json");
    if !json_schema.exists() {
        files.push((json_schema, format!("{}\n", super::schema_json())));
    }
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("error: cannot create {}: {e}", dir.display());
        return Exit::Failure;
    }
    for (path, text) in &files {
        if let Err(e) = write_new(path, text, o.force) {
            eprintln!("error: {e}");
            return Exit::Invalid;
        }
        eprintln!("wrote {}", path.display());
    }
    eprintln!(
        "next: mbscenario validate {0} && mbscenario plan {0}",
        o.output.display()
    );
    Exit::Passed
}
