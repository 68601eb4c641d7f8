//! `seek` over the whole path on the real local stack: Kafka → Kafka Connect
//! (SQS sink) → SQS, judged on end-to-end latency at the queue. Its own area,
//! so nothing else loads the Connect worker while it searches. (The direct-SQS
//! ceiling is in `sqs_it`.)

use crate::support;

/// Climbs from 150/s by ×3 with short holds, fails a level, bisects to 10 %,
/// and reports a sustainable rate below the first failing level; the report
/// says which bound failed there. BENCHMARKS.md has full-length numbers.
#[test]
fn seek_finds_the_via_connect_ceiling_of_the_loopback_stack() {
    let Some(stack) = support::stack("seek_finds_the_via_connect_ceiling_of_the_loopback_stack")
    else {
        return;
    };
    let registry = stack.get("SCHEMA_REGISTRY_URL").to_string();
    if registry.is_empty() {
        support::skip_or_fail("the dev stack's Schema Registry (SCHEMA_REGISTRY_URL in stack.env)");
        return;
    }
    let id = format!("seekc{}", std::process::id());
    let dir = std::env::temp_dir().join(format!("mbs-{id}"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s.yaml");
    std::fs::write(
        &path,
        format!(
            "name: seek-connect-it
targets:
  kafka: {{ bootstrap: \"{kafka}\", producer: {{ acks: all, linger.ms: 5 }} }}
  schema_registry: {{ url: \"{registry}\" }}
  connect: {{ url: \"{connect}\" }}
  sqs: {{ endpoint: \"{sqs}\", region: us-east-1 }}
setup:
  - {{ type: register_schemas, files: [{schema}], subject_strategy: topic_name }}
  - {{ type: ensure_topics, topics: [{{ name: mbs-{id}, partitions: 3 }}] }}
  - {{ type: create_queue, name: mbs-{id}, purge: true }}
  - type: apply_connector
    name: mbs-{id}
    config_file: {connector}
    wait: {{ state: running, timeout: 60s }}
teardown:
  - {{ type: delete_connector, name: mbs-{id} }}
  - {{ type: delete_queue, name: mbs-{id} }}
  - {{ type: delete_topics, topics: [mbs-{id}] }}
streams:
  - {{ name: c, schema: {schema}, topic: mbs-{id}, queue: mbs-{id} }}
phases:
  - name: ceiling
    duration: 100s
    mode: kafka_via_connect
    rate: {{ type: seek, from: 150/s, max: 20k/s, factor: 3, hold: 5s, precision: 10%, until: {{ p99: 3s, errors: 0 }} }}
assertions:
  - {{ type: sustainable_rate, min: 10/s }}
",
            kafka = stack.get("KAFKA_BOOTSTRAP"),
            connect = stack.get("CONNECT_URL"),
            sqs = stack.get("SQS_ENDPOINT"),
            schema = support::repo().join("schemas/pokemon_card.avsc").display(),
            connector = support::repo().join("connectors/sqs-sink.json").display(),
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
        &id,
        &[],
    );
    assert_eq!(out.0, 0, "stdout:\n{}\nstderr:\n{}", out.1, out.2);
    let report = support::json_report(&reports);
    let seek = &report["run"]["seek"][0];
    let found = seek["sustainable_rate"]
        .as_f64()
        .expect("a sustainable rate");
    let failing = seek["first_failing_rate"]
        .as_f64()
        .expect("a failing level");
    eprintln!(
        "via Connect: sustainable {found}/s, first failing {failing}/s ({})",
        seek["failing_bound"]
    );
    // Some level was sustained and lies below the first failing one. (Not
    // necessarily `from`: on a loaded machine the first level can fail on
    // noise and the search bisects below it, which is the search working.)
    assert!(found > 0.0 && found < failing, "{seek:#}");
    assert_eq!(seek["complete"], true, "{seek:#}");
    assert_eq!(seek["latency"], "end_to_end");
    assert!(
        seek["failing_bound"]
            .as_str()
            .is_some_and(|b| !b.is_empty())
    );
    // Every level's messages were counted at the queue, through Connect.
    let arrived = report["arrivals"]["queues"][0]["arrived"].as_u64().unwrap();
    assert!(arrived > 0, "{}", report["arrivals"]);
    let _ = std::fs::remove_dir_all(&dir);
}
