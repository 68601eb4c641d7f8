//! Records/s for `schemas/pokemon_card.avsc`: generation alone, and generation
//! plus Confluent wire-format encoding (what a Kafka worker does per message).
//!
//! `cargo bench --bench generate`

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mbscenario::datagen::expr::EvalCtx;
use mbscenario::datagen::{Evaluators, StreamRecords};
use mbscenario::encode;
use mbscenario::scenario::{self, LoadOptions};

/// The pokemon_card stream of `scenario`, with 0 overrides (`direct-sqs.yaml` has
/// one; it is dropped) or the 5 of `ramp.yaml`.
fn stream_records(scenario: &str, keep_overrides: bool) -> StreamRecords {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(scenario);
    let scenario = scenario::load_file(&path, scenario, &LoadOptions::default())
        .unwrap_or_else(|d| panic!("{}", d.render_plain()));
    let mut stream = scenario.streams[0].clone();
    if !keep_overrides {
        stream.overrides.clear();
        stream.compiled = None;
    }
    StreamRecords::new(&stream, 42).expect("pokemon_card generates")
}

fn bench(c: &mut Criterion) {
    let records = stream_records("direct-sqs.yaml", false);
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
    let with = stream_records("ramp.yaml", true);
    let mut evaluators = Evaluators::default();
    group.bench_function("5_overrides+confluent_encode", |b| {
        b.iter(|| {
            seq += 1;
            let ctx = EvalCtx {
                seq,
                phase: "plateau",
                t_ms: 0,
            };
            let r = with
                .record_with(seq, 0, &mut evaluators, &ctx)
                .expect("overrides apply");
            buf.clear();
            encode::confluent_into(with.generator(), 1, &r.value, &mut buf).expect("encodes");
            black_box(buf.len())
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
