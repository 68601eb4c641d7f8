//! `--sink avro:DIR`: Kafka-route messages land in an Avro object container
//! file per topic that apache-avro's own `Reader` reads back — every record,
//! with the scenario's schema and the same event ids a run sends.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use apache_avro::types::Value;
use mbscenario::datagen::StreamRecords;
use mbscenario::engine::{self, Shutdown};
use mbscenario::plan::Plan;
use mbscenario::scenario::{self, LoadOptions, SourceFile, Vars};
use mbscenario::sink::avro_file::AvroFileSink;
use mbscenario::sink::{SinkHandle, Sinks};

#[tokio::test(start_paused = true)]
async fn kafka_messages_become_a_readable_object_container_file() {
    let yaml = "name: avro-sink
seed: 12
streams:
  - { name: cards, schema: ../../../schemas/pokemon_card.avsc, schema_id: 3, topic: cards.v1, queue: q }
phases:
  - { name: kafka, duration: 3s, rate: 700/s, mode: kafka_via_connect }
  - { name: direct, duration: 1s, rate: 20/s, mode: direct_sqs }
";
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid/avro-sink.yaml");
    let s = scenario::load_source(
        SourceFile::new("avro-sink.yaml", path, yaml.to_string()),
        &LoadOptions {
            vars: Vars::fixed(BTreeMap::new()),
            ..LoadOptions::default()
        },
    )
    .unwrap_or_else(|d| panic!("{}", d.render_plain()));
    let dir = std::env::temp_dir().join(format!("mbs-avro-sink-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let schema_json = std::fs::read_to_string(&s.streams[0].schema_file.resolved).unwrap();
    let sink = Arc::new(AvroFileSink::new(&dir, vec![schema_json]).unwrap());
    let plan = Plan::compile(&s);
    let streams = engine::prepare::streams(&s, s.seed, None).unwrap();
    let summary = engine::run(
        &plan,
        streams,
        Sinks::both(SinkHandle::AvroFile(sink)),
        &Shutdown::new(Duration::from_secs(1)),
    )
    .await;
    assert_eq!(summary.totals.acked, 2_120);

    // 2,100 records over three blocks of up to 1,000, read by the reference implementation.
    let file = std::fs::File::open(dir.join("cards.v1.avro")).unwrap();
    let reader = apache_avro::Reader::new(file).unwrap();
    assert_eq!(
        reader.writer_schema().canonical_form(),
        s.streams[0].schema.canonical_form()
    );
    let mut ids = HashSet::new();
    for v in reader {
        let Value::Record(fields) = v.unwrap() else {
            panic!("not a record")
        };
        let id = fields
            .iter()
            .find(|(n, _)| n == "event_id")
            .map(|(_, v)| v.clone());
        match id {
            Some(Value::Uuid(u)) => ids.insert(u),
            other => panic!("event_id: {other:?}"),
        };
    }
    let records = StreamRecords::new(&s.streams[0], s.seed).unwrap();
    let want: HashSet<_> = (0..2_100).map(|n| records.record(n).event_id).collect();
    assert_eq!(ids, want);
    // The direct-SQS phase goes to JSON lines, as with `--sink file:DIR`.
    let sqs = std::fs::read_to_string(dir.join("sqs.jsonl")).unwrap();
    assert_eq!(sqs.lines().count(), 20);
    std::fs::remove_dir_all(&dir).ok();
}
