//! Setup and teardown against the real local stack: topics on the broker,
//! queues on the SQS emulator, connectors on the Apache Kafka Connect
//! runtime (with the SQS sink stand-in). Each test uses names with the
//! process id so runs never see each other's leftovers.

use crate::support;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use mbscenario::infra::connect::ConnectClient;
use mbscenario::infra::queue::Queues;
use mbscenario::infra::topics::Topics;
use mbscenario::infra::{self, InfraError, Options, Progress};
use mbscenario::plan::Plan;
use mbscenario::scenario::{self, LoadOptions, Scenario, SourceFile, Vars};

fn load(name: &str, yaml: &str, stack: &support::Stack) -> Scenario {
    // Placed among the fixtures so `../../../schemas/…` resolves to the repo's files.
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/valid")
        .join(name);
    let opts = LoadOptions {
        vars: Vars::fixed(stack.vars.clone()),
        ..LoadOptions::default()
    };
    scenario::load_source(SourceFile::new(name, path, yaml.to_string()), &opts)
        .unwrap_or_else(|d| panic!("{}", d.render_plain()))
}

fn options(stack: &support::Stack) -> Options {
    Options {
        timeout: Duration::from_secs(30),
        vars: Vars::fixed(stack.vars.clone()),
        progress: Progress::capture(),
    }
}

fn targets(stack: &support::Stack) -> String {
    format!(
        "targets:
  kafka: {{ bootstrap: \"{}\" }}
  connect: {{ url: \"{}\" }}
  sqs: {{ endpoint: \"{}\", region: us-east-1 }}
",
        stack.get("KAFKA_BOOTSTRAP"),
        stack.get("CONNECT_URL"),
        stack.get("SQS_ENDPOINT")
    )
}

fn stream_and_phase(topic: &str, queue: &str) -> String {
    format!(
        "streams:
  - {{ name: cards, schema: ../../../schemas/pokemon_card.avsc, schema_id: 1, topic: {topic}, queue: {queue} }}
phases:
  - {{ name: p, duration: 1s, rate: 10/s, mode: kafka_via_connect }}
"
    )
}

/// Teardown of the scenario's plan, as `mbscenario teardown` runs it.
async fn teardown(s: &Scenario, opts: &Options) -> Vec<InfraError> {
    infra::teardown::run(&Plan::compile(s), opts).await
}

fn has_line(lines: &[String], parts: &[&str]) -> bool {
    lines.iter().any(|l| parts.iter().all(|p| l.contains(p)))
}

async fn sqs_client(stack: &support::Stack) -> aws_sdk_sqs::Client {
    mbscenario::sink::sqs::client(&mbscenario::sink::sqs::SqsSettings {
        endpoint: Some(stack.get("SQS_ENDPOINT").to_string()),
        region: Some("us-east-1".into()),
        ..Default::default()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_are_created_checked_idempotently_and_deleted() {
    let Some(stack) = support::stack("topics_are_created_checked_idempotently_and_deleted") else {
        return;
    };
    let topic = format!("mbs-infra-topic-{}", std::process::id());
    let scenario = |partitions: u32, retention: &str| {
        load(
            "infra-topics.yaml",
            &format!(
                "name: infra-topics\n{}setup:
  - type: ensure_topics
    topics: [{{ name: {topic}, partitions: {partitions}, replication_factor: 1, config: {{ retention.ms: \"{retention}\" }} }}]
teardown:
  - {{ type: delete_topics, topics: [{topic}] }}
{}",
                targets(&stack),
                stream_and_phase(&topic, "unused")
            ),
            &stack,
        )
    };
    let s = scenario(2, "3600000");
    let opts = options(&stack);
    infra::setup::run(&s, &opts).await.unwrap();
    let admin = Topics::new(stack.get("KAFKA_BOOTSTRAP"), &[]).unwrap();
    assert_eq!(admin.partitions(&topic).await.unwrap(), Some(2));

    // Re-running is idempotent and says so.
    infra::setup::run(&s, &opts).await.unwrap();
    let lines = opts.progress.lines();
    assert!(
        has_line(&lines, &[&topic, "created (2 partitions"]),
        "{lines:?}"
    );
    assert!(has_line(&lines, &[&topic, "already exists"]), "{lines:?}");

    // A topic that differs from the scenario is reported, not accepted.
    let err = infra::setup::run(&scenario(4, "7200000"), &options(&stack))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, InfraError::Rejected { .. }), "{text}");
    assert!(text.contains("setup[0] ensure_topics"), "{text}");
    assert!(
        text.contains("it has 2 partition(s), the scenario asks for 4"),
        "{text}"
    );
    assert!(
        text.contains("config `retention.ms` is 3600000, the scenario asks for 7200000"),
        "{text}"
    );
    assert!(err.help().unwrap().contains("delete_topics"));

    // Teardown deletes; a second teardown finds it gone and still succeeds.
    let opts = options(&stack);
    assert!(teardown(&s, &opts).await.is_empty());
    assert!(teardown(&s, &opts).await.is_empty());
    let lines = opts.progress.lines();
    assert!(has_line(&lines, &[&topic, "deleted"]), "{lines:?}");
    assert!(has_line(&lines, &[&topic, "already gone"]), "{lines:?}");
    assert_eq!(admin.partitions(&topic).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queues_standard_fifo_and_dead_letter() {
    let Some(stack) = support::stack("queues_standard_fifo_and_dead_letter") else {
        return;
    };
    let id = std::process::id();
    let (q, dlq, fifo) = (
        format!("mbs-infra-q-{id}"),
        format!("mbs-infra-dlq-{id}"),
        format!("mbs-infra-f-{id}.fifo"),
    );
    let scenario = |visibility: u32| {
        load(
            "infra-queues.yaml",
            &format!(
                "name: infra-queues\n{}setup:
  - type: create_queue
    name: {q}
    attributes: {{ VisibilityTimeout: \"{visibility}\" }}
    dead_letter: {{ name: {dlq}, max_receive_count: 3 }}
  - type: create_queue
    name: {fifo}
    attributes: {{ ContentBasedDeduplication: \"true\" }}
    purge: true
teardown:
  - {{ type: delete_queue, name: {q} }}
  - {{ type: delete_queue, name: {dlq} }}
  - {{ type: delete_queue, name: {fifo} }}
{}",
                targets(&stack),
                stream_and_phase("unused", &q)
            ),
            &stack,
        )
    };
    let s = scenario(45);
    let opts = options(&stack);
    let out = infra::setup::run(&s, &opts).await.unwrap();
    let queues = Queues::new(sqs_client(&stack).await);
    let url = &out.queue_urls[&q];
    assert_eq!(
        queues
            .attribute(url, "VisibilityTimeout")
            .await
            .unwrap()
            .as_deref(),
        Some("45")
    );
    let redrive = queues
        .attribute(url, "RedrivePolicy")
        .await
        .unwrap()
        .unwrap();
    let dlq_arn = queues
        .attribute(&out.queue_urls[&dlq], "QueueArn")
        .await
        .unwrap()
        .unwrap();
    let policy: serde_json::Value = serde_json::from_str(&redrive).unwrap();
    assert_eq!(policy["deadLetterTargetArn"], dlq_arn.as_str());
    assert_eq!(policy["maxReceiveCount"].to_string().trim_matches('"'), "3");
    let fifo_url = &out.queue_urls[&fifo];
    assert_eq!(
        queues
            .attribute(fifo_url, "FifoQueue")
            .await
            .unwrap()
            .as_deref(),
        Some("true")
    );

    // purge: a message sent before setup is gone after it.
    sqs_client(&stack)
        .await
        .send_message()
        .queue_url(fifo_url)
        .message_body("left over")
        .message_group_id("g")
        .send()
        .await
        .unwrap();
    assert_eq!(queues.depth(fifo_url).await.unwrap(), 1);
    infra::setup::run(&s, &opts).await.unwrap();
    assert_eq!(queues.depth(fifo_url).await.unwrap(), 0);
    let lines = opts.progress.lines();
    assert!(has_line(&lines, &[&q, "created"]), "{lines:?}");
    assert!(has_line(&lines, &[&q, "already exists"]), "{lines:?}");
    assert!(has_line(&lines, &[&dlq, "after 3 receives"]), "{lines:?}");
    assert!(has_line(&lines, &[&fifo, "purged"]), "{lines:?}");

    // Different attributes on an existing queue: reported with the difference.
    let err = infra::setup::run(&scenario(60), &options(&stack))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("setup[0] create_queue"), "{text}");
    assert!(
        text.contains("VisibilityTimeout is 45, the scenario asks for 60"),
        "{text}"
    );

    let opts = options(&stack);
    assert!(teardown(&s, &opts).await.is_empty());
    assert!(teardown(&s, &opts).await.is_empty());
    assert_eq!(queues.url(&q).await.unwrap(), None);
    assert_eq!(queues.url(&fifo).await.unwrap(), None);
    assert!(has_line(&opts.progress.lines(), &[&dlq, "already gone"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connector_runs_is_reconfigured_paused_and_deleted() {
    let Some(stack) = support::stack("connector_runs_is_reconfigured_paused_and_deleted") else {
        return;
    };
    let id = std::process::id();
    let (topic, q, name) = (
        format!("mbs-infra-ct-{id}"),
        format!("mbs-infra-cq-{id}"),
        format!("mbs-infra-sink-{id}"),
    );
    let scenario = |include: &str| {
        load(
            "infra-connect.yaml",
            &format!(
                "name: infra-connect\n{}setup:
  - type: ensure_topics
    topics: [{{ name: {topic} }}]
  - type: create_queue
    name: {q}
  - type: apply_connector
    name: {name}
    config_file: ../../../connectors/sqs-sink.json
    config: {{ sqs.message.attributes.include.list: \"{include}\" }}
    wait: {{ state: running, timeout: 60s }}
teardown:
  - {{ type: pause_connector, name: {name} }}
  - {{ type: delete_connector, name: {name} }}
  - {{ type: delete_queue, name: {q} }}
  - {{ type: delete_topics, topics: [{topic}] }}
{}",
                targets(&stack),
                stream_and_phase(&topic, &q)
            ),
            &stack,
        )
    };
    let opts = options(&stack);
    let out = infra::setup::run(&scenario("event_id,sent_at"), &opts)
        .await
        .unwrap();
    let connect = ConnectClient::new(stack.get("CONNECT_URL"), Duration::from_secs(10)).unwrap();
    let config = connect.config(&name).await.unwrap().unwrap();
    // Template variables were resolved from the scenario and the stack's env.
    assert_eq!(config["topics"], topic);
    assert_eq!(config["sqs.queue.url"], out.queue_urls[&q]);
    assert_eq!(config["connector.class"], stack.get("SQS_SINK_CLASS"));
    assert_eq!(
        config["sqs.message.attributes.include.list"],
        "event_id,sent_at"
    );
    assert!(has_line(&opts.progress.lines(), &[&name, "created"]));
    assert!(has_line(
        &opts.progress.lines(),
        &[&name, "RUNNING", "tasks: 0 RUNNING"]
    ));

    // Applying a changed config reconfigures the same connector.
    let s = scenario("event_id");
    infra::setup::run(&s, &opts).await.unwrap();
    assert!(has_line(&opts.progress.lines(), &[&name, "updated"]));
    let config = connect.config(&name).await.unwrap().unwrap();
    assert_eq!(config["sqs.message.attributes.include.list"], "event_id");

    // Teardown pauses then deletes; the connector is gone afterwards.
    let opts = options(&stack);
    assert!(teardown(&s, &opts).await.is_empty());
    let lines = opts.progress.lines();
    assert!(has_line(&lines, &[&name, "paused"]), "{lines:?}");
    assert!(has_line(&lines, &[&name, "deleted"]), "{lines:?}");
    assert!(connect.config(&name).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connector_failures_show_the_trace_or_the_refusal() {
    let Some(stack) = support::stack("connector_failures_show_the_trace_or_the_refusal") else {
        return;
    };
    let id = std::process::id();
    let (q, name) = (format!("mbs-infra-fq-{id}"), format!("mbs-infra-fail-{id}"));
    let scenario = |extra: &str| {
        load(
            "infra-fail.yaml",
            &format!(
                "name: infra-fail\n{}setup:
  - type: create_queue
    name: {q}
  - type: apply_connector
    name: {name}
    config_file: ../../../connectors/sqs-sink.json
    config: {{ {extra} }}
    wait: {{ state: running, timeout: 60s }}
teardown:
  - {{ type: delete_connector, name: {name} }}
  - {{ type: delete_queue, name: {q} }}
{}",
                targets(&stack),
                stream_and_phase("mbs-infra-unused", &q)
            ),
            &stack,
        )
    };
    // The task cannot start: FAILED is surfaced with the Java exception.
    let s = scenario("sqs.endpoint.url: \"::not a uri\"");
    let err = infra::setup::run(&s, &options(&stack)).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains(&format!("connector {name}: task 0 FAILED")),
        "{text}"
    );
    assert!(text.contains("IllegalArgumentException"), "{text}");
    assert!(err.help().unwrap().contains("/status"));

    // An unknown class is refused by Connect; the message is kept verbatim and not retried.
    let opts = options(&stack);
    let err = infra::setup::run(&scenario("connector.class: com.example.NoSuchSink"), &opts)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, InfraError::Rejected { .. }), "{text}");
    assert!(text.contains("com.example.NoSuchSink"), "{text}");
    assert!(
        text.contains("Failed to find any class that implements Connector"),
        "{text}"
    );
    assert!(
        !opts
            .progress
            .lines()
            .iter()
            .any(|l| l.starts_with("waiting for"))
    );
    assert!(teardown(&s, &options(&stack)).await.is_empty());
}

/// No stack needed: nothing listens on port 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_service_names_endpoint_and_step() {
    let yaml = "name: unreachable
targets:
  connect: { url: \"http://127.0.0.1:1\" }
setup:
  - type: apply_connector
    name: s
    config: { connector.class: x }
streams:
  - { name: cards, schema: ../../../schemas/pokemon_card.avsc, schema_id: 1 }
phases:
  - { name: p, duration: 1s, rate: 10/s }
";
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid/unreachable.yaml");
    let s = scenario::load_source(
        SourceFile::new("unreachable.yaml", path, yaml.to_string()),
        &LoadOptions {
            vars: Vars::fixed(BTreeMap::new()),
            ..LoadOptions::default()
        },
    )
    .unwrap_or_else(|d| panic!("{}", d.render_plain()));
    let opts = Options {
        timeout: Duration::from_millis(1500),
        vars: Vars::fixed(BTreeMap::new()),
        progress: Progress::capture(),
    };
    let err = infra::setup::run(&s, &opts).await.unwrap_err();
    match &err {
        InfraError::Unreachable {
            service,
            endpoint,
            step,
            tries,
            ..
        } => {
            assert_eq!(service, "Kafka Connect");
            assert!(endpoint.starts_with("http://127.0.0.1:1"));
            assert_eq!(step, "setup[0] apply_connector");
            assert!(*tries >= 2, "{tries}");
        }
        other => panic!("{other}"),
    }
    assert!(
        opts.progress.lines()[0].starts_with("waiting for Kafka Connect at http://127.0.0.1:1")
    );
}

/// The CLI maps an unreachable service to exit code 3 and prints endpoint, step and help.
#[test]
fn setup_command_exits_3_when_a_service_is_unreachable() {
    let dir = std::env::temp_dir().join(format!("mbs-unreachable-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/pokemon_card.avsc");
    let file = dir.join("s.yaml");
    std::fs::write(
        &file,
        format!(
            "name: unreachable
targets:
  sqs: {{ endpoint: \"http://127.0.0.1:1\", region: us-east-1 }}
setup:
  - {{ type: create_queue, name: q }}
streams:
  - {{ name: cards, schema: {}, schema_id: 1, queue: q }}
phases:
  - {{ name: p, duration: 1s, rate: 10/s, mode: direct_sqs }}
",
            schema.display()
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mbscenario"))
        .args(["setup", "--setup-timeout", "1s"])
        .arg(&file)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("error: setup[0] create_queue: SQS at http://127.0.0.1:1 did not answer"),
        "{stderr}"
    );
    assert!(stderr.contains("= help: start SQS"), "{stderr}");
    std::fs::remove_dir_all(&dir).ok();
}

/// `plan --format json` is what `run` executes: setup runs the plan's steps,
/// in the plan's order, registering under the plan's subjects (two topics of
/// one schema file, topic_record_name: two subjects) — checked against the
/// log of a real setup.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_executes_exactly_the_planned_steps() {
    let Some(stack) = support::stack("setup_executes_exactly_the_planned_steps") else {
        return;
    };
    let registry = stack.get("SCHEMA_REGISTRY_URL").to_string();
    if registry.is_empty() {
        support::skip_or_fail("the dev stack's Schema Registry (SCHEMA_REGISTRY_URL in stack.env)");
        return;
    }
    let pid = std::process::id();
    let (a, b, q, name) = (
        format!("mbs-plan-a-{pid}"),
        format!("mbs-plan-b-{pid}"),
        format!("mbs-plan-q-{pid}"),
        format!("mbs-plan-sink-{pid}"),
    );
    let s = load(
        "planned-setup.yaml",
        &format!(
            "name: planned-setup
{}  schema_registry: {{ url: \"{registry}\" }}
setup:
  - {{ type: register_schemas, files: [../../../schemas/pokemon_card.avsc], subject_strategy: topic_record_name }}
  - {{ type: ensure_topics, topics: [{{ name: {a}, partitions: 1 }}, {{ name: {b}, partitions: 1 }}] }}
  - {{ type: create_queue, name: {q} }}
  - type: apply_connector
    name: {name}
    config_file: ../../../connectors/sqs-sink.json
    wait: {{ state: running, timeout: 60s }}
teardown:
  - {{ type: delete_connector, name: {name} }}
  - {{ type: delete_queue, name: {q} }}
  - {{ type: delete_topics, topics: [{a}, {b}] }}
streams:
  - {{ name: one, schema: ../../../schemas/pokemon_card.avsc, topic: {a}, queue: {q} }}
  - {{ name: two, schema: ../../../schemas/pokemon_card.avsc, topic: {b} }}
phases:
  - {{ name: p, duration: 1s, rate: 10/s, mode: kafka_via_connect }}
",
            targets(&stack)
        ),
        &stack,
    );
    let plan = Plan::compile(&s);
    let planned = serde_json::to_value(&plan).unwrap()["setup"].clone();
    let planned = planned.as_array().unwrap();
    assert_eq!(planned.len(), 4, "{planned:#?}");
    let opts = options(&stack);
    let out = infra::setup::execute(&plan, &opts).await;
    let lines = opts.progress.lines();
    let torn = infra::teardown::run(&plan, &options(&stack)).await;
    out.unwrap_or_else(|e| panic!("setup failed: {e}\n{}", lines.join("\n")));
    assert!(torn.is_empty(), "teardown: {torn:?}");
    let log = lines.join("\n");
    // Every planned step ran, in plan order, under its planned label.
    let mut last = 0;
    for (i, step) in planned.iter().enumerate() {
        let label = format!("setup[{i}] {}", step["type"].as_str().unwrap());
        let first = lines
            .iter()
            .position(|l| l.starts_with(&label))
            .unwrap_or_else(|| panic!("planned step `{label}` did not run:\n{log}"));
        assert!(first >= last, "`{label}` ran out of order:\n{log}");
        last = first;
    }
    assert!(
        !lines.iter().any(|l| l.starts_with("setup[4]")),
        "a step that was not planned ran:\n{log}"
    );
    // The subjects registered are the planned ones, and only those.
    let subjects: Vec<String> = planned[0]["subjects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[1].as_str().unwrap().to_string())
        .collect();
    assert_eq!(subjects.len(), 2, "one subject per topic: {subjects:?}");
    assert!(subjects[0].starts_with(&format!("{a}-")), "{subjects:?}");
    assert!(subjects[1].starts_with(&format!("{b}-")), "{subjects:?}");
    for subject in &subjects {
        assert!(
            has_line(&lines, &["setup[0] register_schemas", subject]),
            "planned subject {subject} not registered:\n{log}"
        );
    }
    let registered = lines
        .iter()
        .filter(|l| l.starts_with("setup[0]") && l.contains("registered under"))
        .count();
    assert_eq!(registered, subjects.len(), "{log}");
    for topic in [&a, &b] {
        assert!(
            has_line(&lines, &["setup[1] ensure_topics", topic]),
            "{log}"
        );
    }
    assert!(has_line(&lines, &["setup[2] create_queue", &q]), "{log}");
    assert!(
        has_line(&lines, &["setup[3] apply_connector", &name]),
        "{log}"
    );
}
