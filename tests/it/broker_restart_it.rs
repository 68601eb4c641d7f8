//! Every message is accounted for when the broker goes away mid-run and
//! comes back: scheduled = acked + failed + dropped + in flight, the outage
//! shows as failures (or drops), and sends succeed again after the restart.
//!
//! Freezes the real local broker (SIGSTOP) for 6 s mid-run, then resumes it.

use crate::support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use mbscenario::engine::{self, Shutdown};
use mbscenario::plan::Plan;
use mbscenario::scenario::{self, LoadOptions, SourceFile, Vars};
use mbscenario::sink::kafka::KafkaSink;
use mbscenario::sink::{SinkHandle, Sinks};

/// Sends `signal` to the broker's process group (the dev stack starts each
/// service in its own session): STOP freezes it, CONT resumes it.
fn signal_broker(stack: &support::Stack, signal: &str) {
    let dir = stack.get("MBS_STACK_DIR");
    let pid = std::fs::read_to_string(Path::new(dir).join("run/tansu.pid"))
        .expect("the dev stack's broker pid file")
        .trim()
        .to_string();
    let ok = Command::new("kill")
        .args([&format!("-{signal}"), "--", &format!("-{pid}")])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{signal} -{pid}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_frozen_mid_run_every_message_is_accounted() {
    let Some(stack) = support::stack("broker_frozen_mid_run_every_message_is_accounted") else {
        return;
    };
    let bootstrap = stack.get("KAFKA_BOOTSTRAP").to_string();
    let yaml = format!(
        "name: broker-restart
seed: 4
targets:
  kafka:
    bootstrap: \"{bootstrap}\"
    producer: {{ acks: all, message.timeout.ms: \"2500\", reconnect.backoff.max.ms: \"500\" }}
streams:
  - {{ name: cards, schema: ../../../schemas/pokemon_card.avsc, schema_id: 1, topic: mbs-restart-{} }}
phases:
  - {{ name: before, duration: 2s, rate: 40/s, workers: 200, mode: kafka_via_connect }}
  - {{ name: outage, duration: 6s, rate: 40/s }}
  - {{ name: after, duration: 6s, rate: 40/s }}
",
        std::process::id()
    );
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/valid/restart.yaml");
    let s = scenario::load_source(
        SourceFile::new("restart.yaml", path, yaml),
        &LoadOptions {
            vars: Vars::fixed(BTreeMap::new()),
            ..LoadOptions::default()
        },
    )
    .unwrap_or_else(|d| panic!("{}", d.render_plain()));
    let plan = Plan::compile(&s);
    let kafka = KafkaSink::new(&bootstrap, &s.targets.producer).unwrap();
    let sinks = Sinks::both(SinkHandle::Kafka(std::sync::Arc::new(kafka)));
    let streams = engine::prepare::streams(&s, s.seed, None).unwrap();

    // The broker stops answering for 6 s (SIGSTOP: connections stay open but
    // nothing is served, as with a hung or partitioned broker), then resumes.
    // Restarting the in-memory broker would also wipe the Connect worker's
    // internal topics, which the tests after this one need.
    let frozen = stack.clone();
    let chaos = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(2)).await;
        signal_broker(&frozen, "STOP");
        tokio::time::sleep(Duration::from_secs(6)).await;
        signal_broker(&frozen, "CONT");
    });
    let summary = engine::run(
        &plan,
        streams,
        sinks,
        &Shutdown::new(Duration::from_secs(5)),
    )
    .await;
    chaos.await.unwrap();

    let t = &summary.totals;
    assert_eq!(t.scheduled, plan.expected_messages);
    assert_eq!(
        t.scheduled,
        t.acked + t.failed + t.dropped + t.in_flight,
        "{t:?}"
    );
    let before = &summary.phases[0].counts;
    assert_eq!(before.acked, before.scheduled, "{before:?}");
    // Frozen for 6 s with a 2.5 s message timeout: sends of the outage fail
    // (by kind, counted) or wait for a worker and are dropped; none vanish.
    let outage = &summary.phases[1].counts;
    assert!(
        outage.failed + outage.dropped > 0,
        "the outage left no trace: {outage:?}"
    );
    eprintln!("outage phase: {outage:?}");
    // Sends recover once the broker resumes: the last 3 s ack nearly all.
    let tail: u64 = summary.timeline[11..14].iter().map(|p| p.acked).sum();
    assert!(
        tail >= 100,
        "sends did not recover after the broker resumed: {:?}",
        summary.timeline
    );
}
