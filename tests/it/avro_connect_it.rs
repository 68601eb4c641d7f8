//! The Avro path as users run it, on the dev stack's real services: records
//! registered in the Schema Registry, produced in the Confluent wire format,
//! decoded by Kafka Connect's Confluent `AvroConverter` (looking the schema
//! up in the registry), delivered to SQS and counted there. Then one record
//! with a broken frame: the converter fails the task, and the report shows
//! the FAILED task with its trace.

use crate::support;

use std::time::Duration;

use rdkafka::ClientConfig;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::Value;

const SCENARIO: &str = "name: avro-connect
seed: 3
targets:
  kafka: { bootstrap: \"${KAFKA_BOOTSTRAP}\" }
  schema_registry: { url: \"${SCHEMA_REGISTRY_URL}\" }
  connect: { url: \"${CONNECT_URL}\" }
  sqs: { endpoint: \"${SQS_ENDPOINT}\", region: us-east-1 }
setup:
  - { type: register_schemas, files: [\"AVSC_FILE\"], subject_strategy: topic_name }
  - type: ensure_topics
    topics: [ { name: \"avro.it.${MBS_RUN_ID}\", partitions: 1, replication_factor: 1 } ]
  - { type: create_queue, name: \"mbs-avro-${MBS_RUN_ID}\", purge: true }
  - type: apply_connector
    name: \"sqs-avro-${MBS_RUN_ID}\"
    config_file: \"CONNECTOR_FILE\"
    wait: { state: running, timeout: 60s }
teardown:
  - { type: delete_connector, name: \"sqs-avro-${MBS_RUN_ID}\" }
  - { type: delete_topics, topics: [\"avro.it.${MBS_RUN_ID}\"] }
  - { type: delete_queue, name: \"mbs-avro-${MBS_RUN_ID}\" }
streams:
  - { name: cards, schema: \"AVSC_FILE\", topic: \"avro.it.${MBS_RUN_ID}\", queue: \"mbs-avro-${MBS_RUN_ID}\" }
phases:
  - { name: avro, duration: PHASE_LENGTH, rate: 20/s }
assertions:
  - { type: arrivals, queue: \"mbs-avro-${MBS_RUN_ID}\", expect: all_acked, tolerance: 0, within: WITHIN_TIME }
report: { dir: reports/, formats: [json] }
";

use support::{json_report as report, repo};

/// Runs the binary with the stack's variables, and the AvroConverter for the
/// sink whatever stack.env says.
fn mbscenario(stack: &support::Stack, args: &[&str], run_id: &str) -> (i32, String, String) {
    let registry = stack.get("SCHEMA_REGISTRY_URL").to_string();
    support::run_bin(
        stack,
        args,
        run_id,
        &[
            (
                "SQS_SINK_VALUE_CONVERTER",
                "io.confluent.connect.avro.AvroConverter",
            ),
            ("SQS_SINK_SCHEMA_REGISTRY_URL", &registry),
        ],
    )
}

/// The connector's state in the report's last backend snapshot.
fn connector(r: &Value, name: &str) -> Value {
    r["backend"]
        .as_array()
        .and_then(|b| b.last())
        .and_then(|s| s["connectors"].as_array())
        .and_then(|c| c.iter().find(|c| c["name"] == name))
        .cloned()
        .unwrap_or_else(|| panic!("no snapshot of {name}: {}", r["backend"]))
}

#[test]
fn avro_converter_decodes_registry_framed_records_and_a_broken_frame_fails_the_task() {
    let Some(stack) = support::stack(
        "avro_converter_decodes_registry_framed_records_and_a_broken_frame_fails_the_task",
    ) else {
        return;
    };
    if stack.get("SCHEMA_REGISTRY_URL").is_empty() {
        support::skip_or_fail("the dev stack's Schema Registry (SCHEMA_REGISTRY_URL in stack.env)");
        return;
    }
    let run_id = format!("a{}", std::process::id());
    let dir = std::env::temp_dir().join(format!("mbs-avro-connect-{run_id}"));
    std::fs::create_dir_all(&dir).unwrap();
    let write = |phase: &str, within: &str| {
        let file = dir.join(format!("avro-{phase}.yaml"));
        std::fs::write(
            &file,
            SCENARIO
                .replace(
                    "AVSC_FILE",
                    &repo()
                        .join("schemas/pokemon_card.avsc")
                        .display()
                        .to_string(),
                )
                .replace(
                    "CONNECTOR_FILE",
                    &repo()
                        .join("connectors/sqs-sink.json")
                        .display()
                        .to_string(),
                )
                .replace("PHASE_LENGTH", phase)
                .replace("WITHIN_TIME", within),
        )
        .unwrap();
        file.display().to_string()
    };
    let name = format!("sqs-avro-{run_id}");

    // 1. Registered schema, Confluent frames, AvroConverter: every record arrives.
    let first = write("3s", "30s");
    let out1 = dir.join("first");
    let (code, stdout, stderr) = mbscenario(
        &stack,
        &["run", &first, "--report-dir", out1.to_str().unwrap()],
        &run_id,
    );
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let r = report(&out1);
    let q = &r["arrivals"]["queues"][0];
    assert_eq!(q["expected"], 60, "{q}");
    assert_eq!(q["arrived"], 60, "{q}");
    let c = connector(&r, &name);
    assert_eq!(c["tasks"], serde_json::json!(["0 RUNNING"]), "{c}");

    // 2. One record whose frame names a schema id the registry never gave out.
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", stack.get("KAFKA_BOOTSTRAP"))
        .create()
        .unwrap();
    let topic = format!("avro.it.{run_id}");
    let broken = [0u8, 0x7f, 0xff, 0xff, 0xf0, 2, 4, 6];
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(producer.send(
            FutureRecord::<(), _>::to(&topic).payload(&broken[..]),
            Duration::from_secs(10),
        ))
        .expect("the broken record is produced");

    // 3. The next run finds the task FAILED, with the converter's trace.
    let second = write("2s", "5s");
    let out2 = dir.join("second");
    let (code, stdout, stderr) = mbscenario(
        &stack,
        &[
            "run",
            &second,
            "--no-setup",
            "--teardown",
            "--report-dir",
            out2.to_str().unwrap(),
        ],
        &run_id,
    );
    assert_ne!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let r = report(&out2);
    let c = connector(&r, &name);
    assert_eq!(c["tasks"], serde_json::json!(["0 FAILED"]), "{c}");
    let trace = c["trace"].as_str().unwrap_or_default().to_lowercase();
    assert!(
        trace.contains("avro") || trace.contains("schema"),
        "the trace should name the conversion: {c}"
    );
    // The records sent after the broken one cannot arrive.
    assert!(
        r["arrivals"]["queues"][0]["missing"].as_u64().unwrap() > 0,
        "{}",
        r["arrivals"]
    );
    std::fs::remove_dir_all(&dir).ok();
}
