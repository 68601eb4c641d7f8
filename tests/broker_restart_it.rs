//! Every message is accounted for when the broker goes away mid-run and
//! comes back: scheduled = acked + failed + dropped + in flight, the outage
//! shows as failures (or drops), and sends succeed again after the restart.
//!
//! Stops and restarts the real local broker (and the Connect worker, whose
//! internal topics live on it), then waits until the whole stack answers
//! again, so the integration tests that run after this binary find it up.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use mbscenario::engine::{self, Shutdown};
use mbscenario::plan::Plan;
use mbscenario::scenario::{self, LoadOptions, SourceFile, Vars};
use mbscenario::sink::kafka::KafkaSink;
use mbscenario::sink::{SinkHandle, Sinks};

fn dev_stack(args: &[&str]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/dev-stack");
    let out = Command::new("bash")
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "dev-stack {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_stopped_mid_run_every_message_is_accounted() {
    let Some(stack) = support::stack("broker_stopped_mid_run_every_message_is_accounted") else {
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
  - {{ name: outage, duration: 4s, rate: 40/s }}
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

    let chaos = tokio::spawn(async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        tokio::task::spawn_blocking(|| dev_stack(&["stop", "connect", "tansu"]))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_secs(2)).await;
        // Brings back what is down and waits until every service answers.
        tokio::task::spawn_blocking(|| dev_stack(&["start"]))
            .await
            .unwrap();
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
    let outage = &summary.phases[1].counts;
    assert!(
        outage.failed + outage.dropped > 0,
        "the outage left no trace: {outage:?}"
    );
    assert!(
        summary.phases[0].counts.acked > 0,
        "{:?}",
        summary.phases[0].counts
    );
    // Sends recover once the broker is back (the restart itself takes a few seconds).
    let tail: u64 = summary.timeline[9..12].iter().map(|p| p.acked).sum();
    assert!(
        tail > 0,
        "nothing acked after the restart: {:?}",
        summary.timeline
    );
}
