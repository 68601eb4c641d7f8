//! Records/s per core for every shipped schema: generation + Confluent
//! encoding with no overrides, and the engine's cost per tick (schedule →
//! worker → record → encode → null sink) on a paused clock, where the run is
//! CPU-bound and its time per message is the whole per-message overhead.
//!
//! `cargo bench --bench schemas`

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mbscenario::datagen::StreamRecords;
use mbscenario::encode;
use mbscenario::engine::{self, Shutdown};
use mbscenario::plan::Plan;
use mbscenario::scenario::{self, LoadOptions, Scenario, SourceFile, Vars};
use mbscenario::sink::{SinkHandle, Sinks};

fn scenario(schema: &str, rate: &str) -> Scenario {
    let yaml = format!(
        "name: bench
seed: 1
streams:
  - {{ name: s, schema: ../schemas/{schema}, schema_id: 1 }}
phases:
  - {{ name: p, duration: 10s, rate: {rate}, workers: 64, mode: kafka_via_connect }}
"
    );
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/bench.yaml");
    scenario::load_source(
        SourceFile::new("bench.yaml", path, yaml),
        &LoadOptions {
            vars: Vars::fixed(BTreeMap::new()),
            ..LoadOptions::default()
        },
    )
    .unwrap_or_else(|d| panic!("{}", d.render_plain()))
}

fn schemas(c: &mut Criterion) {
    let mut group = c.benchmark_group("schemas");
    group.throughput(Throughput::Elements(1));
    for schema in [
        "pokemon_card.avsc",
        "sensor_data.avsc",
        "gpu_telemetry.avsc",
    ] {
        let s = scenario(schema, "10/s");
        let records = StreamRecords::new(&s.streams[0], 42).expect("generates");
        let mut buf = Vec::with_capacity(1024);
        let mut seq = 0u64;
        group.bench_function(format!("{schema}/generate+confluent_encode"), |b| {
            b.iter(|| {
                seq += 1;
                let r = records.record(seq);
                buf.clear();
                encode::confluent_into(records.generator(), 1, &r.value, &mut buf)
                    .expect("encodes");
                black_box(buf.len())
            })
        });
    }
    group.finish();
}

fn engine_per_tick(c: &mut Criterion) {
    // 10 s at 2k/s = 20,000 ticks per iteration, on a paused clock.
    let s = scenario("pokemon_card.avsc", "2k/s");
    let plan = Plan::compile(&s);
    let mut group = c.benchmark_group("engine");
    group.sample_size(10);
    group.throughput(Throughput::Elements(plan.expected_messages));
    group.bench_function("paused_clock_run_null_sink", |b| {
        b.iter(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .start_paused(true)
                .build()
                .expect("runtime");
            let streams = engine::prepare::streams(&s, s.seed, None).expect("streams");
            let summary = rt.block_on(engine::run(
                &plan,
                streams,
                Sinks::both(SinkHandle::Null),
                &Shutdown::new(Duration::from_secs(1)),
            ));
            assert_eq!(summary.totals.acked, plan.expected_messages);
            black_box(summary.totals.acked)
        })
    });
    group.finish();
}

criterion_group!(benches, schemas, engine_per_tick);
criterion_main!(benches);
