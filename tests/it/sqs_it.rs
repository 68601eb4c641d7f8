//! Against the real local stack: a 3-phase scenario switches Kafka → direct
//! SQS → Kafka. Kafka receives phases 1 and 3, the LocalStack queue receives
//! phase 2 — every message once, with the envelope as message attributes and
//! a JSON body equal to the record `sample` prints.

use crate::support;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use mbscenario::datagen::expr::EvalCtx;
use mbscenario::datagen::{Evaluators, StreamRecords};
use mbscenario::engine::{self, Shutdown};
use mbscenario::plan::Plan;
use mbscenario::scenario::{self, LoadOptions, SourceFile, Vars};
use mbscenario::sink::kafka::KafkaSink;
use mbscenario::sink::sqs::{SqsSettings, SqsSink};
use mbscenario::sink::{SinkHandle, Sinks};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::consumer::{BaseConsumer, Consumer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mode_switch_reaches_kafka_and_sqs() {
    let Some(stack) = support::stack("mode_switch_reaches_kafka_and_sqs") else {
        return;
    };
    let bootstrap = stack.get("KAFKA_BOOTSTRAP").to_string();
    let endpoint = stack.get("SQS_ENDPOINT").to_string();
    let id = std::process::id();
    let (topic, queue) = (format!("mbs-switch-{id}"), format!("mbs-switch-{id}"));
    let yaml = format!(
        "name: switch-it
seed: 21
streams:
  - name: cards
    schema: ../../../schemas/pokemon_card.avsc
    schema_id: 2
    topic: {topic}
    queue: {queue}
    key: {{ field: user_id }}
    overrides: {{ name: 'pokemon::name()' }}
    imports: [../../../generators/pokemon.rhai]
phases:
  - {{ name: kafka-1, duration: 1s, rate: 40/s, mode: kafka_via_connect }}
  - {{ name: direct, duration: 2s, rate: 30/s, mode: direct_sqs, workers: 32 }}
  - {{ name: kafka-2, duration: 1s, rate: 20/s, mode: kafka_via_connect }}
"
    );
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid/switch-it.yaml");
    let opts = LoadOptions {
        vars: Vars::fixed(BTreeMap::new()),
        ..LoadOptions::default()
    };
    let s = scenario::load_source(SourceFile::new("switch-it.yaml", path, yaml), &opts)
        .unwrap_or_else(|d| panic!("{}", d.render_plain()));
    let plan = Plan::compile(&s);

    let admin: AdminClient<_> = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .create()
        .unwrap();
    admin
        .create_topics(
            [&NewTopic::new(&topic, 1, TopicReplication::Fixed(1))],
            &AdminOptions::new(),
        )
        .await
        .unwrap();
    let settings = SqsSettings {
        endpoint: Some(endpoint.clone()),
        region: Some("us-east-1".into()),
        ..Default::default()
    };
    let sqs_client = test_client(&endpoint);
    let url = sqs_client
        .create_queue()
        .queue_name(&queue)
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();

    let sinks = Sinks {
        kafka: SinkHandle::Kafka(Arc::new(
            KafkaSink::new(&bootstrap, &[("acks".into(), "all".into())]).unwrap(),
        )),
        sqs: SinkHandle::Sqs(Arc::new(SqsSink::new(&settings).await.unwrap())),
    };
    let streams = engine::prepare::streams(&s, s.seed, None).unwrap();
    let summary = engine::run(
        &plan,
        streams,
        sinks,
        &Shutdown::new(Duration::from_secs(10)),
    )
    .await;
    let acked: Vec<u64> = summary.phases.iter().map(|p| p.counts.acked).collect();
    assert_eq!(acked, vec![40, 60, 20], "{}", summary.render_text());

    // SQS: exactly phase 2's records, each once, with attributes and JSON bodies.
    let records = StreamRecords::new(&s.streams[0], s.seed).unwrap();
    let mut evaluators = Evaluators::default();
    let mut got: HashMap<String, serde_json::Value> = HashMap::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while got.len() < 60 && std::time::Instant::now() < deadline {
        let out = sqs_client
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .unwrap();
        let mut deletes = Vec::new();
        for (i, m) in out.messages.unwrap_or_default().into_iter().enumerate() {
            let attrs = m.message_attributes.clone().unwrap_or_default();
            let event_id = attrs["event_id"].string_value.clone().unwrap();
            assert_eq!(
                attrs["content-type"].string_value.as_deref(),
                Some("application/json")
            );
            assert!(attrs.contains_key("sent_at"));
            let body: serde_json::Value = serde_json::from_str(m.body.as_deref().unwrap()).unwrap();
            assert!(got.insert(event_id, body).is_none(), "duplicate delivery");
            deletes.push(
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(m.receipt_handle.unwrap())
                    .build()
                    .unwrap(),
            );
        }
        if !deletes.is_empty() {
            sqs_client
                .delete_message_batch()
                .queue_url(&url)
                .set_entries(Some(deletes))
                .send()
                .await
                .unwrap();
        }
    }
    assert_eq!(got.len(), 60);
    let seed = mbscenario::datagen::StreamSeed::new(21, "cards");
    for seq in 40..100 {
        let body = got
            .get(&seed.event_id(seq).to_string())
            .unwrap_or_else(|| panic!("record {seq} missing at the queue"));
        let (phase, t) = plan.locate(0, seq).unwrap();
        assert_eq!(phase.name, "direct");
        let ctx = EvalCtx {
            seq,
            phase: &phase.name,
            t_ms: t.as_millis() as i64,
        };
        let want = records.record_with(seq, 0, &mut evaluators, &ctx).unwrap();
        let mut want = records.generator().to_json(&want.value);
        let mut body = body.clone();
        want["sent_at"] = serde_json::Value::Null;
        body["sent_at"] = serde_json::Value::Null;
        assert_eq!(body, want, "record {seq}");
    }

    // Kafka: phases 1 and 3 only (60 records).
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("group.id", format!("{topic}-check"))
        .set("session.timeout.ms", "6000")
        .set("auto.offset.reset", "earliest")
        .create()
        .unwrap();
    consumer.subscribe(&[&topic]).unwrap();
    let mut kafka = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(45);
    while kafka < 60 && std::time::Instant::now() < deadline {
        if let Some(Ok(_)) = consumer.poll(Duration::from_millis(500)) {
            kafka += 1;
        }
    }
    assert_eq!(kafka, 60);
    sqs_client
        .delete_queue()
        .queue_url(&url)
        .send()
        .await
        .unwrap();
}

fn test_client(endpoint: &str) -> aws_sdk_sqs::Client {
    let config = aws_sdk_sqs::Config::builder()
        .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
        .region(aws_sdk_sqs::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .endpoint_url(endpoint)
        .build();
    aws_sdk_sqs::Client::from_conf(config)
}

/// `seek` against the loopback SQS emulator, end to end (sends, the collector's
/// receives): it climbs, fails a level on a bound, bisects, converges, and the
/// report carries a sustainable rate below the first failing level. Short holds
/// keep it near a minute; BENCHMARKS.md has the full-length numbers.
#[test]
fn seek_finds_the_direct_sqs_ceiling_of_the_loopback_stack() {
    let Some(stack) = support::stack("seek_finds_the_direct_sqs_ceiling_of_the_loopback_stack")
    else {
        return;
    };
    let id = format!("seek{}", std::process::id());
    let dir = std::env::temp_dir().join(format!("mbs-{id}"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s.yaml");
    std::fs::write(
        &path,
        format!(
            "name: seek-it
targets:
  sqs: {{ endpoint: \"{sqs}\", region: us-east-1 }}
setup:
  - {{ type: create_queue, name: mbs-{id}, purge: true }}
teardown:
  - {{ type: delete_queue, name: mbs-{id} }}
streams:
  - {{ name: c, schema: {schema}, schema_id: 1, queue: mbs-{id} }}
phases:
  - name: ceiling
    duration: 75s
    mode: direct_sqs
    rate: {{ type: seek, from: 150/s, max: 20k/s, factor: 3, hold: 4s, precision: 10%, until: {{ p99: 2s }} }}
assertions:
  - {{ type: sustainable_rate, min: 10/s }}
",
            sqs = stack.get("SQS_ENDPOINT"),
            schema = support::repo().join("schemas/pokemon_card.avsc").display(),
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
    let _ = std::fs::remove_dir_all(&dir);
}
