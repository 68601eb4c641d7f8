//! Overrides at run time: bad expressions stop a run as an invalid scenario
//! (exit 2) with a readable error instead of sending garbage, and the records a
//! run sends are exactly what `mbscenario sample` prints for the same seed.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use mbscenario::engine::{self, Shutdown};
use mbscenario::plan::Plan;
use mbscenario::scenario::{self, LoadOptions, Vars};
use mbscenario::sink::memory::MemorySink;
use mbscenario::sink::{SinkHandle, Sinks};

fn cli(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mbscenario"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_overrides_fail_fast_with_exit_2() {
    insta::glob!("fixtures/bad-overrides/*.yaml", |path| {
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
        assert!(stderr.contains("the run was stopped"), "{stderr}");
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
