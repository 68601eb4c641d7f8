//! Fail fast when the pipeline is broken: a sink connector whose task
//! FAILED (here: the AvroConverter cannot find the schema id the records
//! carry) means the missing messages cannot arrive, so `run` stops settling
//! instead of waiting out the window, says why, and the report keeps the
//! reason. Real Kafka, Connect, Schema Registry and LocalStack.

mod support;

#[test]
fn a_failed_connector_ends_settling_with_its_reason() {
    let Some(stack) = support::stack("a_failed_connector_ends_settling_with_its_reason") else {
        return;
    };
    if stack.get("SQS_SINK_SCHEMA_REGISTRY_URL").is_empty() {
        support::skip_or_fail("the Schema Registry of the dev stack");
        return;
    }
    let id = std::process::id();
    let dir = std::env::temp_dir().join(format!("mbs-fail-fast-{id}"));
    std::fs::create_dir_all(&dir).unwrap();
    let repo = support::repo();
    let path = dir.join("s.yaml");
    std::fs::write(
        &path,
        format!(
            "name: fail-fast
targets:
  kafka: {{ bootstrap: \"{kafka}\" }}
  connect: {{ url: \"{connect}\" }}
  sqs: {{ endpoint: \"{sqs}\" }}
setup:
  - {{ type: ensure_topics, topics: [{{ name: mbs-ff-{id} }}] }}
  - {{ type: create_queue, name: mbs-ff-{id} }}
  - type: apply_connector
    name: mbs-ff-{id}
    config_file: {connector}
    config: {{ value.converter: io.confluent.connect.avro.AvroConverter }}
    wait: {{ state: running, timeout: 60s }}
teardown:
  - {{ type: delete_connector, name: mbs-ff-{id} }}
  - {{ type: delete_queue, name: mbs-ff-{id} }}
  - {{ type: delete_topics, topics: [mbs-ff-{id}] }}
streams:
  # No registry: records carry a pinned schema id the registry never saw.
  - {{ name: c, schema: {schema}, schema_id: 987654, topic: mbs-ff-{id}, queue: mbs-ff-{id} }}
phases:
  - {{ name: p, duration: 2s, rate: 20/s }}
assertions:
  - {{ type: arrivals, queue: mbs-ff-{id}, expect: all_acked, tolerance: 0, within: 10m }}
",
            kafka = stack.get("KAFKA_BOOTSTRAP"),
            connect = stack.get("CONNECT_URL"),
            sqs = stack.get("SQS_ENDPOINT"),
            connector = repo.join("connectors/sqs-sink.json").display(),
            schema = repo.join("schemas/pokemon_card.avsc").display(),
        ),
    )
    .unwrap();
    let reports = dir.join("r");
    let out = support::run_bin(
        &stack,
        &[
            "run",
            path.to_str().unwrap(),
            "--teardown",
            "--report-dir",
            reports.to_str().unwrap(),
        ],
        &format!("ff{id}"),
        &[],
    );
    assert_eq!(out.0, 1, "stdout:\n{}\nstderr:\n{}", out.1, out.2);
    assert!(
        out.2
            .contains("settling: stopped waiting: connector `mbs-ff-")
            && out.2.contains("FAILED"),
        "{}",
        out.2
    );
    let report = support::json_report(&reports);
    let errors = report["arrivals"]["collector_errors"].to_string();
    assert!(
        errors.contains("arrivals stopped being awaited"),
        "{errors}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
