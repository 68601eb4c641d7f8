//! Against a real Kafka-protocol broker (tansu, from `scripts/dev-stack`): a
//! multi-phase run produces every planned record; a consumer decodes each
//! Confluent-framed payload with the local schema and checks count, keys,
//! headers and that the content equals `sample` for the same seed.

use crate::support;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;

use apache_avro::reader::datum::GenericDatumReader;
use mbscenario::datagen::expr::EvalCtx;
use mbscenario::datagen::{Evaluators, StreamRecords};
use mbscenario::encode::parse_confluent;
use mbscenario::engine::{self, Shutdown};
use mbscenario::plan::Plan;
use mbscenario::scenario::{self, LoadOptions, SourceFile, Vars};
use mbscenario::sink::kafka::KafkaSink;
use mbscenario::sink::{SinkHandle, Sinks};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phases_produce_every_record_to_kafka() {
    let Some(stack) = support::stack("phases_produce_every_record_to_kafka") else {
        return;
    };
    let bootstrap = stack.get("KAFKA_BOOTSTRAP").to_string();
    let topic = format!("mbs-it-{}", std::process::id());
    let yaml = format!(
        "name: kafka-it
seed: 11
streams:
  - name: cards
    schema: ../../../schemas/pokemon_card.avsc
    schema_id: 9
    topic: {topic}
    key: {{ field: user_id }}
    headers: {{ team: it }}
    overrides:
      user_id: 'format(\"user-{{}}\", uniform(1, 50))'
      name: 'pick([\"Pikachu\", \"Eevee\"])'
phases:
  - {{ name: ramp, duration: 2s, rate: {{ type: ramp, from: 0/s, to: 200/s }}, workers: 8 }}
  - {{ name: steady, duration: 1s, rate: 150/s }}
  - {{ name: quiet, duration: 1s, rate: 0/s }}
"
    );
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid/kafka-it.yaml");
    let opts = LoadOptions {
        vars: Vars::fixed(BTreeMap::new()),
        ..LoadOptions::default()
    };
    let s = scenario::load_source(SourceFile::new("kafka-it.yaml", path, yaml), &opts)
        .unwrap_or_else(|d| panic!("{}", d.render_plain()));
    let plan = Plan::compile(&s);
    let expected = plan.expected_messages;
    assert_eq!(expected, 200 + 150);

    // Topic creation belongs to infra setup; the test does it directly.
    let admin: AdminClient<_> = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .create()
        .unwrap();
    let new = NewTopic::new(&topic, 3, TopicReplication::Fixed(1));
    admin
        .create_topics([&new], &AdminOptions::new())
        .await
        .unwrap();

    let sink = KafkaSink::new(
        &bootstrap,
        &[
            ("acks".into(), "all".into()),
            ("linger.ms".into(), "5".into()),
        ],
    )
    .unwrap();
    let streams = engine::prepare::streams(&s, s.seed, None).unwrap();
    let summary = engine::run(
        &plan,
        streams,
        Sinks {
            kafka: SinkHandle::Kafka(std::sync::Arc::new(sink)),
            sqs: SinkHandle::Unavailable("none"),
        },
        &Shutdown::new(Duration::from_secs(10)),
    )
    .await;
    assert_eq!(summary.totals.acked, expected, "{}", summary.render_text());
    assert_eq!(summary.totals.failed + summary.totals.dropped, 0);

    // Count by consuming (tansu's high watermarks are not reliable).
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("group.id", format!("{topic}-check"))
        .set("session.timeout.ms", "6000")
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    consumer.subscribe(&[&topic]).unwrap();
    let schema = apache_avro::Schema::parse_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/pokemon_card.avsc"),
        )
        .unwrap(),
    )
    .unwrap();
    let reader = GenericDatumReader::builder(&schema).build().unwrap();
    let records = StreamRecords::new(&s.streams[0], s.seed).unwrap();
    let mut evaluators = Evaluators::default();
    let mut seen: HashMap<String, ()> = HashMap::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while seen.len() < expected as usize && std::time::Instant::now() < deadline {
        let Some(msg) = consumer.poll(Duration::from_millis(500)) else {
            continue;
        };
        let msg = msg.unwrap();
        let headers: HashMap<String, String> = msg
            .headers()
            .map(|h| {
                h.iter()
                    .map(|x| {
                        (
                            x.key.to_string(),
                            String::from_utf8_lossy(x.value.unwrap_or_default()).into_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(
            headers.get("content-type").map(String::as_str),
            Some("application/avro-binary")
        );
        assert_eq!(headers.get("schema_id").map(String::as_str), Some("9"));
        assert_eq!(headers.get("team").map(String::as_str), Some("it"));
        let event_id = headers.get("event_id").cloned().unwrap();
        let (id, mut datum) = parse_confluent(msg.payload().unwrap()).unwrap();
        assert_eq!(id, 9);
        let value = reader.read_value(&mut datum).unwrap();
        // Which record is it? Find its seq from the planned ranges by event id.
        let apache_avro::types::Value::Record(fields) = &value else {
            panic!("not a record")
        };
        let user_id = fields
            .iter()
            .find(|(n, _)| n == "user_id")
            .map(|(_, v)| v.clone())
            .unwrap();
        let apache_avro::types::Value::String(user_id) = user_id else {
            panic!()
        };
        assert_eq!(
            msg.key().map(|k| String::from_utf8_lossy(k).into_owned()),
            Some(user_id)
        );
        seen.insert(event_id.clone(), ());
        let seq = (0..expected)
            .find(|&n| {
                mbscenario::datagen::StreamSeed::new(11, "cards")
                    .event_id(n)
                    .to_string()
                    == event_id
            })
            .expect("event id of a planned record");
        let (phase, t) = plan.locate(0, seq).unwrap();
        let ctx = EvalCtx {
            seq,
            phase: &phase.name,
            t_ms: t.as_millis() as i64,
        };
        let want = records
            .record_with(seq, 0, &mut evaluators, &ctx)
            .unwrap()
            .value;
        assert_eq!(
            without_sent_at(value),
            without_sent_at(want),
            "record {seq}"
        );
    }
    assert_eq!(seen.len(), expected as usize, "distinct records consumed");
}

fn without_sent_at(v: apache_avro::types::Value) -> apache_avro::types::Value {
    match v {
        apache_avro::types::Value::Record(fields) => apache_avro::types::Value::Record(
            fields.into_iter().filter(|(n, _)| n != "sent_at").collect(),
        ),
        other => other,
    }
}
