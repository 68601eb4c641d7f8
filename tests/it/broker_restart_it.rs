//! Every message is accounted for when a service of the pipeline goes away
//! mid-run: scheduled = acked + failed + dropped + in flight, the outage
//! shows as failures (or drops), sends succeed again once it is back, and a
//! run whose messages cannot arrive says why instead of waiting them out.
//!
//! Faults, on the real local stack: the broker frozen (SIGSTOP) and resumed;
//! the broker stopped and restarted (data kept); runs interrupted while the
//! broker is frozen (SIGINT; SIGTERM then SIGINT); the SQS emulator frozen,
//! and killed and restarted empty; the Kafka Connect worker frozen. One
//! service fault at a time: the tests of this file take turns.

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

/// The tests here freeze the one broker: one at a time, or one would thaw
/// the broker in the middle of the other's outage.
static BROKER: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn broker_alone() -> std::sync::MutexGuard<'static, ()> {
    BROKER.lock().unwrap_or_else(|p| p.into_inner())
}

/// Sends `signal` to the broker's process group (the dev stack starts each
/// service in its own session): STOP freezes it, CONT resumes it.
fn signal_broker(stack: &support::Stack, signal: &str) {
    signal_service(stack, "tansu", signal);
}

/// Sends `signal` to the process group of a dev-stack service (`run/NAME.pid`).
fn signal_service(stack: &support::Stack, name: &str, signal: &str) {
    let dir = stack.get("MBS_STACK_DIR");
    let pid = std::fs::read_to_string(Path::new(dir).join(format!("run/{name}.pid")))
        .expect("the dev stack's pid file")
        .trim()
        .to_string();
    let ok = Command::new("kill")
        .args([&format!("-{signal}"), "--", &format!("-{pid}")])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{signal} -{pid}");
}

// The lock only keeps the other test of this file (a thread of its own) out.
#[allow(clippy::await_holding_lock)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_frozen_mid_run_every_message_is_accounted() {
    let Some(stack) = support::stack("broker_frozen_mid_run_every_message_is_accounted") else {
        return;
    };
    let _alone = broker_alone();
    let yaml = kafka_scenario(
        &stack,
        4,
        2_500,
        "mbs-restart",
        "  - { name: before, duration: 2s, rate: 40/s, workers: 200, mode: kafka_via_connect }
  - { name: outage, duration: 6s, rate: 40/s }
  - { name: after, duration: 6s, rate: 40/s }",
    );
    // The broker stops answering for 6 s (SIGSTOP: connections stay open but
    // nothing is served, as with a hung or partitioned broker), then resumes.
    let frozen = stack.clone();
    let chaos = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(2)).await;
        signal_broker(&frozen, "STOP");
        tokio::time::sleep(Duration::from_secs(6)).await;
        signal_broker(&frozen, "CONT");
    });
    let (plan, summary, ()) = kafka_run(yaml, "restart.yaml", Duration::from_secs(5), chaos).await;

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

/// A Kafka-only scenario for the stack's broker: acks from all replicas, a
/// message timeout of `timeout_ms`, reconnecting every 0.5 s at most, one
/// stream to topic `{topic}-PID`, and `phases` (YAML list items).
fn kafka_scenario(
    stack: &support::Stack,
    seed: u64,
    timeout_ms: u64,
    topic: &str,
    phases: &str,
) -> String {
    format!(
        "name: broker-fault
seed: {seed}
targets:
  kafka:
    bootstrap: \"{}\"
    producer: {{ acks: all, message.timeout.ms: \"{timeout_ms}\", reconnect.backoff.max.ms: \"500\" }}
streams:
  - {{ name: cards, schema: ../../../schemas/pokemon_card.avsc, schema_id: 1, topic: {topic}-{} }}
phases:
{phases}
",
        stack.get("KAFKA_BOOTSTRAP"),
        std::process::id()
    )
}

/// Loads `yaml` (as if at tests/fixtures/valid/`file`) and runs it against
/// the stack's broker with `grace` for the last answers, while `chaos` runs.
async fn kafka_run<T: Send + 'static>(
    yaml: String,
    file: &str,
    grace: Duration,
    chaos: tokio::task::JoinHandle<T>,
) -> (Plan, engine::RunSummary, T) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/valid")
        .join(file);
    let s = scenario::load_source(
        SourceFile::new(file, path, yaml),
        &LoadOptions {
            vars: Vars::fixed(BTreeMap::new()),
            ..LoadOptions::default()
        },
    )
    .unwrap_or_else(|d| panic!("{}", d.render_plain()));
    let plan = Plan::compile(&s);
    let kafka = KafkaSink::new(&s.targets.kafka_bootstrap, &s.targets.producer).unwrap();
    let sinks = Sinks::both(SinkHandle::Kafka(std::sync::Arc::new(kafka)));
    let streams = engine::prepare::streams(&s, s.seed, None).unwrap();
    let summary = engine::run(&plan, streams, sinks, &Shutdown::new(grace)).await;
    (plan, summary, chaos.await.unwrap())
}

/// Resumes the broker when dropped, so a failing test never leaves it frozen.
struct Thaw<'a>(&'a support::Stack);

impl Drop for Thaw<'_> {
    fn drop(&mut self) {
        signal_broker(self.0, "CONT");
    }
}

/// `mbscenario run` of a 30 s Kafka phase (no arrivals to count), started
/// in the background; its summary goes to `dir/summary.json`.
fn start_run(stack: &support::Stack, dir: &Path, grace: &str) -> std::process::Child {
    let file = dir.join("signals.yaml");
    std::fs::write(
        &file,
        format!(
            "name: signals
seed: 5
targets:
  kafka:
    bootstrap: \"{}\"
    producer: {{ message.timeout.ms: \"60000\" }}
streams:
  - {{ name: cards, schema: {}, schema_id: 1, topic: mbs-signals-{} }}
phases:
  - {{ name: steady, duration: 30s, rate: 50/s, mode: kafka_via_connect }}
",
            stack.get("KAFKA_BOOTSTRAP"),
            support::repo().join("schemas/pokemon_card.avsc").display(),
            std::process::id()
        ),
    )
    .unwrap();
    Command::new(env!("CARGO_BIN_EXE_mbscenario"))
        .args([
            "run",
            file.to_str().unwrap(),
            "--no-setup",
            "--grace",
            grace,
        ])
        .arg("--summary-json")
        .arg(dir.join("summary.json"))
        .arg("--report-dir")
        .arg(dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(dir.join("stderr.txt")).unwrap())
        .spawn()
        .unwrap()
}

fn signal(child: &std::process::Child, sig: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{sig}"), &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{sig} {}", child.id());
}

/// Waits for the run to exit, at most `limit`; its exit code and how long it took.
fn exit_within(child: &mut std::process::Child, limit: Duration) -> (Option<i32>, Duration) {
    let t0 = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status.code(), t0.elapsed());
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            panic!("the run did not exit within {limit:?} of the signal");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Ctrl-C with the broker frozen: the run ends within `--grace` + 5 s and
/// still accounts for every message; with a long grace, a second signal
/// ends it within 2 s.
#[test]
fn signals_with_the_broker_frozen_end_the_run_in_bounded_time() {
    let Some(stack) = support::stack("signals_with_the_broker_frozen_end_the_run_in_bounded_time")
    else {
        return;
    };
    let _alone = broker_alone();
    let dir = std::env::temp_dir().join(format!("mbs-signals-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();

    // One SIGINT, grace 3 s.
    let mut child = start_run(&stack, &dir, "3s");
    std::thread::sleep(Duration::from_secs(3));
    signal_broker(&stack, "STOP");
    let thaw = Thaw(&stack);
    std::thread::sleep(Duration::from_secs(1));
    signal(&child, "INT");
    let (code, took) = exit_within(&mut child, Duration::from_secs(30));
    drop(thaw);
    let stderr = std::fs::read_to_string(dir.join("stderr.txt")).unwrap_or_default();
    eprintln!("SIGINT with the broker frozen, --grace 3s: exited in {took:?}");
    assert!(
        took <= Duration::from_secs(3 + 5),
        "Ctrl-C took {took:?} with --grace 3s:\n{stderr}"
    );
    assert_eq!(code, Some(3), "an interrupted run exits 3:\n{stderr}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["interrupted"], true, "{summary}");
    let t = &summary["totals"];
    let n = |k: &str| t[k].as_u64().unwrap();
    assert!(n("scheduled") > 0, "{t}");
    assert_eq!(
        n("scheduled"),
        n("acked") + n("failed") + n("dropped") + n("in_flight"),
        "every message accounted for: {t}"
    );
    assert!(
        n("in_flight") + n("failed") > 0,
        "the frozen broker left no trace: {t}"
    );

    // SIGTERM with a 60 s grace would wait for the frozen broker; a second
    // signal ends it at once.
    std::thread::sleep(Duration::from_secs(2)); // the broker settles after thawing
    let mut child = start_run(&stack, &dir, "60s");
    std::thread::sleep(Duration::from_secs(3));
    signal_broker(&stack, "STOP");
    let thaw = Thaw(&stack);
    std::thread::sleep(Duration::from_secs(1));
    signal(&child, "TERM");
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run should still be waiting for its frozen broker"
    );
    signal(&child, "INT");
    let (code, took) = exit_within(&mut child, Duration::from_secs(30));
    drop(thaw);
    let stderr = std::fs::read_to_string(dir.join("stderr.txt")).unwrap_or_default();
    eprintln!("second signal with the broker frozen, --grace 60s: exited in {took:?}");
    assert!(
        took <= Duration::from_secs(2),
        "the second signal took {took:?}:\n{stderr}"
    );
    assert_eq!(code, Some(3), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// What [`sqs_fault_run`] saw.
struct FaultRun<T> {
    code: i32,
    stderr: String,
    /// The report folder.
    dir: std::path::PathBuf,
    took: Duration,
    chaos: T,
}

/// `mbscenario run --teardown --grace 5s` of a 12 s direct_sqs phase at 50/s
/// into its own queue (created with `queue_extra` YAML keys, arrivals
/// awaited `within`), while `chaos` runs on a thread.
fn sqs_fault_run<T: Send + 'static>(
    stack: &support::Stack,
    name: &str,
    queue_extra: &str,
    within: &str,
    chaos: impl FnOnce() -> T + Send + 'static,
) -> FaultRun<T> {
    let id = format!("mbs-{name}-{}", std::process::id());
    let dir = std::env::temp_dir().join(&id);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("scenario.yaml");
    std::fs::write(
        &file,
        format!(
            "name: {name}
seed: 6
targets:
  sqs: {{ endpoint: \"{}\", region: us-east-1 }}
setup:
  - {{ type: create_queue, name: {id}{queue_extra} }}
teardown:
  - {{ type: delete_queue, name: {id} }}
streams:
  - {{ name: cards, schema: {}, schema_id: 1, queue: {id} }}
phases:
  - {{ name: steady, duration: 12s, rate: 50/s, mode: direct_sqs }}
assertions:
  - {{ type: arrivals, queue: {id}, expect: all_acked, tolerance: 0, within: {within} }}
",
            stack.get("SQS_ENDPOINT"),
            support::repo().join("schemas/pokemon_card.avsc").display(),
        ),
    )
    .unwrap();
    let chaos = std::thread::spawn(chaos);
    let t0 = std::time::Instant::now();
    let (code, _, stderr) = support::run_bin(
        stack,
        &[
            "run",
            file.to_str().unwrap(),
            "--teardown",
            "--grace",
            "5s",
            "--report-dir",
            dir.to_str().unwrap(),
        ],
        name,
        &[],
    );
    let took = t0.elapsed();
    FaultRun {
        code,
        stderr,
        dir,
        took,
        chaos: chaos.join().unwrap(),
    }
}

/// SQS hangs for 5 s mid-run (SIGSTOP of the emulator): sends wait (or are
/// dropped at the in-flight budget), nothing is lost, every acknowledged
/// message is counted at the queue once it answers again, and a copy SQS
/// delivers twice counts as a duplicate, not as a second arrival.
#[test]
fn sqs_frozen_mid_run_every_message_is_accounted_and_arrives() {
    let Some(stack) = support::stack("sqs_frozen_mid_run_every_message_is_accounted_and_arrives")
    else {
        return;
    };
    let _alone = broker_alone();
    let frozen = stack.clone();
    let run = sqs_fault_run(&stack, "sqs-freeze", "", "30s", move || {
        std::thread::sleep(Duration::from_secs(5));
        signal_service(&frozen, "localstack", "STOP");
        std::thread::sleep(Duration::from_secs(5));
        signal_service(&frozen, "localstack", "CONT");
    });
    let (code, stderr, dir) = (run.code, run.stderr, run.dir);
    let report = support::json_report(&dir);
    let t = &report["run"]["totals"];
    let n = |k: &str| t[k].as_u64().unwrap();
    assert_eq!(n("scheduled"), 600, "{t}\n{stderr}");
    assert_eq!(
        n("scheduled"),
        n("acked") + n("failed") + n("dropped") + n("in_flight"),
        "every message accounted for: {t}"
    );
    let q0 = &report["arrivals"]["queues"][0];
    let max_ack = report["run"]["phases"][0]["latency"]["max_us"]
        .as_u64()
        .unwrap();
    eprintln!("SQS frozen 5 s: totals {t}, at the queue {q0}, slowest ack {max_ack} µs");
    // The outage happened: sends made while SQS was frozen waited for it.
    assert!(
        max_ack >= 3_000_000,
        "no send waited out the freeze: {max_ack} µs"
    );
    assert_eq!(q0["expected"], t["acked"], "{q0}");
    assert_eq!(
        q0["arrived"], t["acked"],
        "every acknowledged message arrived: {q0}"
    );
    // SQS delivers at least once: a receive or delete cut by the freeze may
    // bring a message back. Such a copy is a duplicate, never a second arrival.
    let m = |k: &str| q0[k].as_u64().unwrap();
    assert_eq!(
        m("received"),
        m("arrived") + m("duplicates") + m("unknown"),
        "{q0}"
    );
    assert_eq!(m("unknown"), 0, "{q0}");
    assert_eq!(code, 0, "exit {code}:\n{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Resumes a frozen dev-stack service when dropped, so a failing test never
/// leaves it frozen.
struct Resume<'a>(&'a support::Stack, &'static str);

impl Drop for Resume<'_> {
    fn drop(&mut self) {
        signal_service(self.0, self.1, "CONT");
    }
}

/// Blocks on one HTTP call to the dev stack (the tests here are not async).
fn http(method: reqwest::Method, url: &str) -> Option<(u16, String)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let r = reqwest::Client::new()
            .request(method, url)
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .ok()?;
        let status = r.status().as_u16();
        Some((status, r.text().await.unwrap_or_default()))
    })
}

/// Kafka Connect stops answering mid-run (SIGSTOP of the worker) and stays
/// so: the run does not wait out its 120 s arrivals window for messages that
/// cannot come. It says why on the console and in the report, fails the
/// arrivals assertion (exit 1), accounts for every message, and its teardown
/// (whose connector step meets the frozen worker) stays bounded.
#[test]
fn connect_stopped_mid_run_ends_settling_and_says_why() {
    let Some(stack) = support::stack("connect_stopped_mid_run_ends_settling_and_says_why") else {
        return;
    };
    let registry = stack.get("SCHEMA_REGISTRY_URL").to_string();
    if registry.is_empty() {
        support::skip_or_fail("the dev stack's Schema Registry (SCHEMA_REGISTRY_URL in stack.env)");
        return;
    }
    let _alone = broker_alone();
    let id = format!("mbs-connect-stop-{}", std::process::id());
    let dir = std::env::temp_dir().join(&id);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let connect = stack.get("CONNECT_URL").trim_end_matches('/').to_string();
    let file = dir.join("s.yaml");
    std::fs::write(
        &file,
        format!(
            "name: connect-stop
seed: 8
targets:
  kafka: {{ bootstrap: \"{kafka}\", producer: {{ acks: all, linger.ms: 5 }} }}
  schema_registry: {{ url: \"{registry}\" }}
  connect: {{ url: \"{connect}\" }}
  sqs: {{ endpoint: \"{sqs}\", region: us-east-1 }}
setup:
  - {{ type: register_schemas, files: [{schema}], subject_strategy: topic_name }}
  - {{ type: ensure_topics, topics: [{{ name: {id}, partitions: 1 }}] }}
  - {{ type: create_queue, name: {id}, purge: true }}
  - type: apply_connector
    name: {id}
    config_file: {connector}
    wait: {{ state: running, timeout: 60s }}
teardown:
  - {{ type: delete_connector, name: {id} }}
  - {{ type: delete_queue, name: {id} }}
  - {{ type: delete_topics, topics: [{id}] }}
streams:
  - {{ name: c, schema: {schema}, topic: {id}, queue: {id} }}
phases:
  - {{ name: steady, duration: 12s, rate: 40/s, mode: kafka_via_connect }}
assertions:
  - {{ type: arrivals, queue: {id}, expect: all_acked, tolerance: 0, within: 120s }}
",
            kafka = stack.get("KAFKA_BOOTSTRAP"),
            sqs = stack.get("SQS_ENDPOINT"),
            schema = support::repo().join("schemas/pokemon_card.avsc").display(),
            connector = support::repo().join("connectors/sqs-sink.json").display(),
        ),
    )
    .unwrap();
    // Freeze the worker 3 s after the connector runs (the phase has begun).
    let (frozen, status_url) = (stack.clone(), format!("{connect}/connectors/{id}/status"));
    let chaos = std::thread::spawn(move || {
        let t0 = std::time::Instant::now();
        while t0.elapsed() < Duration::from_secs(90) {
            if http(reqwest::Method::GET, &status_url)
                .is_some_and(|(code, body)| code == 200 && body.contains("\"RUNNING\""))
            {
                std::thread::sleep(Duration::from_secs(3));
                signal_service(&frozen, "connect", "STOP");
                return Some(std::time::Instant::now());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        None
    });
    let resume = Resume(&stack, "connect");
    let (code, _, stderr) = support::run_bin(
        &stack,
        &[
            "run",
            file.to_str().unwrap(),
            "--teardown",
            "--report-dir",
            dir.to_str().unwrap(),
        ],
        &id,
        &[],
    );
    let exited = std::time::Instant::now();
    let froze = chaos.join().unwrap().expect("the connector never ran");
    drop(resume);
    // The frozen worker missed the teardown's delete: delete it now, and wait
    // until the worker answers again for the tests after this one.
    let t0 = std::time::Instant::now();
    while http(
        reqwest::Method::DELETE,
        &format!("{connect}/connectors/{id}"),
    )
    .is_none()
        && t0.elapsed() < Duration::from_secs(60)
    {
        std::thread::sleep(Duration::from_millis(500));
    }
    let took = exited.duration_since(froze);
    eprintln!(
        "Connect frozen mid-run: the run exited {took:?} after the freeze, exit {code}\n{stderr}"
    );
    assert_eq!(code, 1, "the arrivals assertion fails:\n{stderr}");
    assert!(
        stderr.contains("Kafka Connect has answered no status poll"),
        "the console says why:\n{stderr}"
    );
    // 9 s of phase left, ≤ 15 s of silence, a bounded teardown; before, the
    // run waited out the 120 s window.
    assert!(
        took <= Duration::from_secs(60),
        "the run took {took:?} after Connect stopped:\n{stderr}"
    );
    let report = support::json_report(&dir);
    let t = &report["run"]["totals"];
    let n = |k: &str| t[k].as_u64().unwrap();
    assert_eq!(
        n("scheduled"),
        n("acked") + n("failed") + n("dropped") + n("in_flight"),
        "every message accounted for: {t}"
    );
    let q0 = &report["arrivals"]["queues"][0];
    let arrived = q0["arrived"].as_u64().unwrap();
    assert!(
        arrived < n("acked"),
        "messages sent after the freeze cannot have arrived: {q0}"
    );
    let errors = report["arrivals"]["collector_errors"].to_string();
    assert!(
        errors
            .contains("arrivals stopped being awaited: Kafka Connect has answered no status poll"),
        "the report says why messages are missing: {}",
        report["arrivals"]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `scripts/dev-stack ARGS` on the test's stack dir; whether it succeeded.
fn dev_stack(stack: &support::Stack, args: &[&str]) -> bool {
    Command::new(support::repo().join("scripts/dev-stack"))
        .args(args)
        .env("MBS_STACK_DIR", stack.get("MBS_STACK_DIR"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The broker is stopped (a clean shutdown: connections close) and started
/// again mid-run, keeping its data: sends of the outage wait in the
/// producer's queue and are delivered after the restart, or are counted as
/// failed or dropped; none vanish, and sends succeed again afterwards.
#[allow(clippy::await_holding_lock)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_restarted_mid_run_every_message_is_accounted() {
    let Some(stack) = support::stack("broker_restarted_mid_run_every_message_is_accounted") else {
        return;
    };
    let _alone = broker_alone();
    let yaml = kafka_scenario(
        &stack,
        7,
        60_000,
        "mbs-restarted",
        "  - { name: before, duration: 3s, rate: 40/s, workers: 400, mode: kafka_via_connect }
  - { name: outage, duration: 20s, rate: 40/s }
  - { name: after, duration: 8s, rate: 40/s }",
    );
    // Stopped 3 s in (TERM, the dev stack waits for the exit), started again
    // at once; a broker restarted under a running Connect keeps its log dir.
    let restarted = stack.clone();
    let chaos = tokio::task::spawn_blocking(move || {
        std::thread::sleep(Duration::from_secs(3));
        let t0 = std::time::Instant::now();
        let stopped = dev_stack(&restarted, &["stop", "kafka"]);
        let down = t0.elapsed();
        let started = dev_stack(&restarted, &["start"]);
        (stopped, started, down, t0.elapsed())
    });
    let (plan, summary, (stopped, started, down, back)) =
        kafka_run(yaml, "restarted.yaml", Duration::from_secs(10), chaos).await;
    eprintln!("broker stopped in {down:?}, answering again {back:?} after the stop began");
    assert!(stopped && started, "dev-stack stop/start kafka failed");

    let t = &summary.totals;
    assert_eq!(t.scheduled, plan.expected_messages);
    assert_eq!(
        t.scheduled,
        t.acked + t.failed + t.dropped + t.in_flight,
        "{t:?}"
    );
    eprintln!(
        "phases: {:?}",
        summary.phases.iter().map(|p| &p.counts).collect::<Vec<_>>()
    );
    let before = &summary.phases[0].counts;
    assert_eq!(before.acked, before.scheduled, "{before:?}");
    // Messages of the outage waited for the broker (a 60 s timeout): they
    // were delivered after the restart, not lost.
    let outage = &summary.phases[1].counts;
    assert!(
        outage.acked > 0 && outage.acked + outage.failed + outage.dropped == outage.scheduled,
        "{outage:?}"
    );
    let after = &summary.phases[2].counts;
    assert_eq!(
        after.acked, after.scheduled,
        "sends did not recover: {after:?}"
    );
    // The slowest ack waited through the restart.
    assert!(
        summary.phases[1].latency.max_us >= down.as_micros() as u64,
        "no send waited for the restart: {:?}",
        summary.phases[1].latency
    );
}

/// The SQS emulator is killed mid-run (SIGKILL) and started again, empty:
/// sends of the outage fail (counted by kind) or are dropped, the messages
/// that were in the queue are gone, and the run says so — every message is
/// accounted for, the arrivals assertion fails (exit 1), and the run ends in
/// bounded time instead of waiting for arrivals from a queue that no longer
/// exists.
#[test]
fn sqs_killed_mid_run_every_message_is_accounted() {
    let Some(stack) = support::stack("sqs_killed_mid_run_every_message_is_accounted") else {
        return;
    };
    let _alone = broker_alone();
    // Messages are delayed 30 s in the queue, so those acked before the kill
    // are still in it when the emulator dies, and lost.
    let killed = stack.clone();
    let run = sqs_fault_run(
        &stack,
        "sqs-kill",
        ", attributes: { DelaySeconds: \"30\" }",
        "120s",
        move || {
            std::thread::sleep(Duration::from_secs(4));
            signal_service(&killed, "localstack", "KILL");
            let t0 = std::time::Instant::now();
            let started = dev_stack(&killed, &["start"]);
            (started, t0.elapsed())
        },
    );
    let (code, stderr, dir, took) = (run.code, run.stderr, run.dir, run.took);
    let (started, restart) = run.chaos;
    eprintln!(
        "SQS killed mid-run, back after {restart:?}; the run took {took:?}, exit {code}\n{stderr}"
    );
    assert!(started, "dev-stack start after the kill failed");
    let report = support::json_report(&dir);
    let t = &report["run"]["totals"];
    let n = |k: &str| t[k].as_u64().unwrap();
    assert_eq!(n("scheduled"), 600, "{t}");
    assert_eq!(
        n("scheduled"),
        n("acked") + n("failed") + n("dropped") + n("in_flight"),
        "every message accounted for: {t}"
    );
    assert!(n("acked") > 0 && n("failed") > 0, "{t}");
    let q0 = &report["arrivals"]["queues"][0];
    assert_eq!(
        q0["arrived"], 0,
        "messages in the killed emulator's queue cannot arrive: {q0}"
    );
    assert_eq!(code, 1, "the arrivals assertion fails:\n{stderr}");
    let errors = report["arrivals"]["collector_errors"].to_string();
    assert!(
        errors.contains("no longer exists"),
        "the report says why messages are missing: {}",
        report["arrivals"]
    );
    // 12 s of phase, then settling ends at once: the queue is gone.
    assert!(
        took <= Duration::from_secs(60),
        "the run took {took:?} with a 120 s window:\n{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
