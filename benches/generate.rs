//! Records/s for `schemas/pokemon_card.avsc`: generation alone, and generation
//! plus Confluent wire-format encoding (what a Kafka worker does per message).
//!
//! `cargo bench --bench generate`

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mbscenario::datagen::StreamRecords;
use mbscenario::encode;
use mbscenario::scenario::{self, LoadOptions};

fn records() -> StreamRecords {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/direct-sqs.yaml");
    let scenario = scenario::load_file(&path, "direct-sqs.yaml", &LoadOptions::default())
        .unwrap_or_else(|d| panic!("{}", d.render_plain()));
    StreamRecords::new(&scenario.streams[0], 42).expect("pokemon_card generates")
}

fn bench(c: &mut Criterion) {
    let records = records();
    let mut group = c.benchmark_group("pokemon_card");
    group.throughput(Throughput::Elements(1));
    let mut seq = 0u64;
    group.bench_function("generate", |b| {
        b.iter(|| {
            seq += 1;
            black_box(records.record(seq))
        })
    });
    let mut buf = Vec::with_capacity(512);
    group.bench_function("generate+confluent_encode", |b| {
        b.iter(|| {
            seq += 1;
            let r = records.record(seq);
            buf.clear();
            encode::confluent_into(records.generator(), 1, &r.value, &mut buf).expect("encodes");
            black_box(buf.len())
        })
    });
    group.bench_function("generate+json_body", |b| {
        b.iter(|| {
            seq += 1;
            let r = records.record(seq);
            black_box(records.generator().to_json(&r.value).to_string().len())
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
