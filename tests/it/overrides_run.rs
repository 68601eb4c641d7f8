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
