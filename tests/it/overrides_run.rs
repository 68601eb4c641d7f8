//! Overrides at run time: bad expressions stop a run as an invalid scenario
//! (exit 2) with a readable error instead of sending garbage, and the records a
//! run sends are exactly what `mbscenario sample` prints for the same seed.

use crate::support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use mbscenario::engine::{self, Shutdown};
use mbscenario::plan::Plan;
use mbscenario::scenario::{self, LoadOptions, Vars};
use mbscenario::sink::memory::MemorySink;
use mbscenario::sink::{SinkHandle, Sinks};

use support::cli;

#[test]
fn bad_overrides_fail_fast_with_exit_2() {
    insta::glob!("../fixtures/bad-overrides", "*.yaml", |path| {
        let rel = path
            .strip_prefix(env!("CARGO_MANIFEST_DIR"))
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        let started = std::time::Instant::now();
        let (code, _, stderr) = cli(&["sample", &rel, "-n", "3"]);
        assert_eq!(code, Some(2), "{rel}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        insta::assert_snapshot!(stderr);
        let (code, _, stderr) = cli(&["run", &rel, "--sink", "null"]);
        assert_eq!(code, Some(2), "{rel}: {stderr}");
        // Caught while validating (the first records of each phase are
        // evaluated), so nothing ran: no setup, no verdicts, no report.
        assert!(stderr.contains("nothing was run"), "{stderr}");
        assert!(!stderr.contains("verdict"), "{stderr}");
        // Located at the expression in the scenario file.
        assert!(stderr.contains(&format!("--> {rel}:7:")), "{stderr}");
        // Fails within the first messages, not after the 2 s phase.
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{rel} took {:?}",
            started.elapsed()
        );
    });
}

#[tokio::test(start_paused = true)]
async fn run_sends_exactly_what_sample_prints() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let opts = LoadOptions {
        vars: Vars::fixed(BTreeMap::new()),
        ..LoadOptions::default()
    };
    let s = scenario::load_file(
        &root.join("scenarios/direct-sqs.yaml"),
        "direct-sqs.yaml",
        &opts,
    )
    .unwrap();
    let plan = Plan::compile(&s);
    let sink = Arc::new(MemorySink::new());
    let streams = engine::prepare::streams(&s, s.seed, None).unwrap();
    let summary = engine::run(
        &plan,
        streams,
        Sinks::both(SinkHandle::Memory(sink.clone())),
        &Shutdown::new(Duration::from_secs(1)),
    )
    .await;
    assert_eq!(summary.totals.acked, plan.expected_messages);

    let (code, stdout, stderr) = cli(&[
        "sample",
        "scenarios/direct-sqs.yaml",
        "-n",
        &plan.expected_messages.to_string(),
    ]);
    assert_eq!(code, Some(0), "{stderr}");
    let sampled: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut sent = sink.delivered();
    sent.sort_by_key(|d| d.message.seq);
    assert_eq!(sent.len(), sampled.len());
    for (d, want) in sent.iter().zip(&sampled) {
        let mut body: serde_json::Value = serde_json::from_slice(&d.message.payload).unwrap();
        let mut want = want["value"].clone();
        // `sent_at` is the wall clock at send time; everything else must match.
        body["sent_at"] = serde_json::Value::Null;
        want["sent_at"] = serde_json::Value::Null;
        assert_eq!(body, want, "record {}", d.message.seq);
    }
}

/// `key: { expr }` sees the final record (after overrides), may draw random
/// numbers, and is a pure function of (seed, stream, n): two runs with
/// different worker counts produce the same keys for the same records.
#[tokio::test(start_paused = true)]
async fn expression_keys_are_computed_from_the_final_record() {
    let yaml = |workers: u32| {
        format!(
            "name: keys
seed: 9
streams:
  - name: cards
    schema: ../../../schemas/pokemon_card.avsc
    schema_id: 1
    key: {{ expr: 'if seq % 5 == 0 {{ () }} else {{ record.user_id + \"/\" + uniform(1, 3) }}' }}
    overrides: {{ user_id: 'format(\"u-{{}}\", seq)' }}
phases:
  - {{ name: p, duration: 2s, rate: 20/s, workers: {workers}, mode: kafka_via_connect }}
"
        )
    };
    let mut runs = Vec::new();
    for workers in [1, 8] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid/keys.yaml");
        let s = scenario::load_source(
            mbscenario::scenario::SourceFile::new("keys.yaml", path, yaml(workers)),
            &LoadOptions {
                vars: Vars::fixed(BTreeMap::new()),
                ..LoadOptions::default()
            },
        )
        .unwrap_or_else(|d| panic!("{}", d.render_plain()));
        let plan = Plan::compile(&s);
        let sink = Arc::new(MemorySink::new());
        let streams = engine::prepare::streams(&s, s.seed, None).unwrap();
        engine::run(
            &plan,
            streams,
            Sinks::both(SinkHandle::Memory(sink.clone())),
            &Shutdown::new(Duration::from_secs(1)),
        )
        .await;
        let mut keys: Vec<(u64, Option<String>)> = sink
            .delivered()
            .into_iter()
            .map(|d| (d.message.seq, d.message.key))
            .collect();
        keys.sort();
        runs.push(keys);
    }
    assert_eq!(runs[0].len(), 40);
    assert_eq!(runs[0], runs[1], "keys depend on the worker count");
    for (seq, key) in &runs[0] {
        if seq % 5 == 0 {
            assert_eq!(key, &None, "seq {seq}");
        } else {
            let key = key.as_deref().unwrap();
            let (user, n) = key.split_once('/').unwrap();
            assert_eq!(
                user,
                format!("u-{seq}"),
                "the key sees the overridden field"
            );
            assert!(["1", "2", "3"].contains(&n), "{key}");
        }
    }
    let drawn: std::collections::HashSet<&str> = runs[0]
        .iter()
        .filter_map(|(_, k)| k.as_deref()?.split_once('/').map(|(_, n)| n))
        .collect();
    assert!(
        drawn.len() > 1,
        "uniform() in a key draws from the record RNG"
    );
}

/// One stream on `schema` (relative to tests/fixtures) with `overrides`
/// (a YAML map), and the pokemon module imported.
fn holes_stream(schema: &str, overrides: &str) -> mbscenario::datagen::StreamRecords {
    let yaml = format!(
        "name: holes\nseed: 11\nstreams:\n  - name: s\n    schema: {schema}\n    schema_id: 9\n    topic: t\n    imports: [../../generators/pokemon.rhai]\n    overrides: {overrides}\nphases:\n  - {{ name: p, duration: 1s, rate: 1/s }}\n"
    );
    let s = support::scenario_yaml("tests/fixtures/holes.yaml", &yaml, &[]);
    mbscenario::datagen::StreamRecords::new(&s.streams[0], s.seed).unwrap()
}

/// What record `seq` is written with: its expression context and envelope.
fn written_at(
    records: &mbscenario::datagen::StreamRecords,
    seq: u64,
) -> (
    mbscenario::datagen::expr::EvalCtx<'static>,
    mbscenario::datagen::direct::Envelope<'static>,
) {
    let ctx = mbscenario::datagen::expr::EvalCtx {
        seq,
        phase: "p",
        t_ms: 1_000,
    };
    let env = mbscenario::datagen::direct::Envelope {
        event_id: records.event_id(seq),
        sent_at: std::time::UNIX_EPOCH + Duration::from_micros(1_764_547_199_123_456 + seq),
        schema_id: 9,
        schema_subject: Some("t-value"),
    };
    (ctx, env)
}

/// Records with overrides written into holes of a directly encoded record
/// (`write_overridden`) are byte for byte those of the value tree (overrides
/// applied, envelope filled, encoded); overrides that cannot use holes are
/// recognised as such.
#[test]
fn records_written_into_holes_are_those_of_the_value_tree() {
    use mbscenario::datagen::Evaluators;
    use mbscenario::datagen::direct::fill_envelope;
    const POKEMON: &str = "../../schemas/pokemon_card.avsc";
    const UNIONS: &str = "avro/union.avsc";
    const TREE: &str = "avro/recursive_tree.avsc";
    // (schema, overrides, whether holes are used)
    let cases: &[(&str, &str, bool)] = &[
        // ramp.yaml's: native and Rhai, a path through an optional record.
        (
            POKEMON,
            r#"{ user_id: 'format("user-{}", uniform(1, 5000))', name: 'pokemon::name()', set_code: 'pokemon::set_code()', rarity: 'weighted(["common", "uncommon", "rare", "holo"], [60, 25, 10, 5])', address.city: 'fake::city()' }"#,
            true,
        ),
        // Reading `default`; arrays, maps, unions, decimals, enums; order kept.
        (
            POKEMON,
            r#"{ number: 'default + seq', hp: 'if default == () { 7 } else { default * 2 }', address.city: 'default + "!"', types: '["fire", "water"]', attributes: '#{ b: "2", a: "1" }', currency: '"EUR"', grade: '()', name: 'uniform(1, 9).to_string()', event_type: '"SOLD"' }"#,
            true,
        ),
        (
            UNIONS,
            r#"{ optional_record.lives: 'default + 1', scalar: '"text"', null_last: '()', items: '[1, (), 3]' }"#,
            true,
        ),
        (
            TREE,
            r#"{ forest.trees: '#{}', label: 'phase + seq' }"#,
            true,
        ),
        // Down to and past the generator's depth limit (unions end in null there).
        (
            "avro/recursive_list.avsc",
            r#"{ next.value: 'default - 1', next.next.next.value: '7', next.next.next.next.value: '8' }"#,
            true,
        ),
        // Fallbacks: `record`, two record branches, a path and its prefix,
        // an envelope field.
        (POKEMON, r#"{ name: 'record.user_id' }"#, false),
        (UNIONS, r#"{ either.lives: '1' }"#, false),
        (POKEMON, r#"{ address: '()', address.city: '"x"' }"#, false),
        (POKEMON, r#"{ sent_at: '0', name: '"n"' }"#, false),
    ];
    for (schema, overrides, holed) in cases {
        let records = holes_stream(schema, overrides);
        assert_eq!(records.holed(), *holed, "{overrides}");
        if !holed {
            // Written through the value tree: the comparison below would
            // compare that path with itself.
            continue;
        }
        let (mut fast, mut slow) = (Evaluators::default(), Evaluators::default());
        for seq in 0..400 {
            let (ctx, env) = written_at(&records, seq);
            let mut got = Vec::new();
            records
                .write_overridden(seq, 0, &mut fast, &ctx, &env, &mut got)
                .unwrap();
            let mut record = records.record_with(seq, 0, &mut slow, &ctx).unwrap();
            fill_envelope(&mut record.value, &env);
            let want = records.generator().encode(&record.value).unwrap();
            assert_eq!(got, want, "{overrides}: record {seq}");
        }
    }
}

/// An override that fails on one record fails it the same way on both paths.
#[test]
fn an_override_failing_in_a_hole_fails_as_on_the_value_tree() {
    use mbscenario::datagen::Evaluators;
    use mbscenario::datagen::record::WriteError;
    let records = holes_stream(
        "../../schemas/pokemon_card.avsc",
        r#"{ number: 'if seq == 3 { "three" } else { seq }', name: 'if seq == 5 { 1 / (seq - 5) } else { "n" }' }"#,
    );
    assert!(records.holed());
    for seq in [3, 5] {
        let (ctx, env) = written_at(&records, seq);
        let mut fast = Evaluators::default();
        let Err(WriteError::Expr(got)) =
            records.write_overridden(seq, 0, &mut fast, &ctx, &env, &mut Vec::new())
        else {
            panic!("record {seq} was written")
        };
        let want = records
            .record_with(seq, 0, &mut Evaluators::default(), &ctx)
            .unwrap_err();
        assert_eq!(got.to_string(), want.to_string());
    }
}
