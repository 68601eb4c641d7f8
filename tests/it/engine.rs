//! Engine behaviour on a paused (virtual) clock with the memory sink: exact
//! per-phase counts for every rate shape, drops when the in-flight budget is
//! exhausted (and only then),
//! mode switches routing to the right sink, and full accounting.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use mbscenario::datagen::StreamSeed;
use mbscenario::engine::{self, RunSummary, Shutdown};
use mbscenario::plan::Plan;
use mbscenario::sink::memory::MemorySink;
use mbscenario::sink::{Route, SinkHandle, Sinks};

fn plan(yaml: &str) -> (mbscenario::scenario::Scenario, Plan) {
    let s = crate::support::scenario_yaml("tests/fixtures/engine.yaml", yaml, &[]);
    let p = Plan::compile(&s);
    (s, p)
}

async fn run_with(yaml: &str, sink: Arc<MemorySink>) -> (Plan, RunSummary) {
    let (s, p) = plan(yaml);
    let summary = run_plan(&s, &p, sink, Duration::from_secs(5)).await;
    (p, summary)
}

/// Runs a compiled plan into `sink` with a `grace` for the last answers.
async fn run_plan(
    s: &mbscenario::scenario::Scenario,
    p: &Plan,
    sink: Arc<MemorySink>,
    grace: Duration,
) -> RunSummary {
    let streams = engine::prepare::streams(s, s.seed, None).unwrap();
    let sinks = Sinks::both(SinkHandle::Memory(sink));
    engine::run(p, streams, sinks, &Shutdown::new(grace)).await
}

const HEAD: &str = "name: engine-test\nseed: 5\nstreams:\n  - { name: cards, schema: schemas/card.avsc, schema_id: 3, queue: q1 }\n";

fn assert_accounted(s: &RunSummary) {
    for p in &s.phases {
        let c = &p.counts;
        assert_eq!(
            c.scheduled,
            c.acked + c.failed + c.dropped + c.in_flight,
            "phase {}: {c:?}",
            p.name
        );
    }
}

#[tokio::test(start_paused = true)]
async fn every_shape_sends_exactly_the_planned_count() {
    let yaml = format!(
        "{HEAD}phases:
  - {{ name: constant, duration: 10s, rate: 10/s, workers: 2 }}
  - {{ name: up, duration: 10s, rate: {{ type: ramp, from: 0/s, to: 20/s }} }}
  - {{ name: down, duration: 5s, rate: {{ type: ramp, from: 40/s, to: 0/s }} }}
  - {{ name: idle, duration: 3s, rate: 0/s }}
  - {{ name: steps, duration: 4s, rate: {{ type: steps, steps: [{{ at: 0s, rate: 5/s }}, {{ at: 2s, rate: 50/s }}] }} }}
"
    );
    let sink = Arc::new(MemorySink::new());
    let (plan, s) = run_with(&yaml, sink.clone()).await;
    let planned: Vec<Option<u64>> = plan.phases.iter().map(|p| p.expected_messages).collect();
    assert_eq!(
        planned,
        vec![Some(100), Some(100), Some(100), Some(0), Some(110)]
    );
    for (p, want) in s.phases.iter().zip(&planned) {
        assert_eq!(Some(p.counts.acked), *want, "phase {}", p.name);
        assert_eq!(p.counts.dropped, 0, "phase {}", p.name);
    }
    assert_accounted(&s);
    assert!(!s.interrupted);
    // Per-second: the constant phase is exactly 10 per second, and the
    // timeline's achieved counts equal its targets everywhere.
    for t in &s.timeline[..10] {
        assert_eq!((t.target, t.acked), (10, 10), "second {}", t.second);
    }
    for t in &s.timeline {
        assert_eq!(t.scheduled, t.target, "second {}", t.second);
    }
    // Sequence numbers run on across phases, each record sent once, with its
    // deterministic event id.
    let delivered = sink.delivered();
    let seqs: HashSet<u64> = delivered.iter().map(|d| d.message.seq).collect();
    assert_eq!(seqs.len(), 410);
    assert_eq!(seqs, (0..410).collect());
    let seed = StreamSeed::new(5, "cards");
    for d in &delivered {
        assert_eq!(d.message.event_id, seed.event_id(d.message.seq).to_string());
    }
}

#[tokio::test(start_paused = true)]
async fn messages_leave_at_their_planned_instants() {
    let yaml = format!(
        "{HEAD}phases:\n  - {{ name: a, duration: 2s, rate: 4/s }}\n  - {{ name: b, duration: 1s, rate: 2/s }}\n"
    );
    let sink = Arc::new(MemorySink::new());
    let (_, _) = run_with(&yaml, sink.clone()).await;
    let mut times: Vec<u128> = sink
        .delivered()
        .iter()
        .map(|d| d.message.scheduled.elapsed().as_millis())
        .collect();
    let end = times[0];
    for t in &mut times {
        *t = end - *t; // offsets from the first message
    }
    assert_eq!(
        times,
        vec![0, 250, 500, 750, 1000, 1250, 1500, 1750, 2000, 2500]
    );
}

#[tokio::test(start_paused = true)]
async fn an_exhausted_in_flight_budget_drops_instead_of_queueing() {
    // 100/s = one tick every 10 ms; each ack comes 45 ms after the send. A
    // budget of 1 is free again for every 5th tick: 200 sent, 800 dropped.
    let yaml = format!(
        "{HEAD}phases:\n  - {{ name: busy, duration: 10s, rate: 100/s, workers: 1, max_in_flight: 1 }}\n"
    );
    let sink = Arc::new(MemorySink::with_ack_latency(Duration::from_millis(45)));
    let (_, s) = run_with(&yaml, sink).await;
    let c = &s.phases[0].counts;
    assert_eq!(c.scheduled, 1_000);
    assert_eq!(c.acked, 200, "{c:?}");
    assert_eq!(c.dropped, 1_000 - c.acked);
    // Latency is measured from the scheduled instant: at least the 45 ms ack.
    assert!(s.phases[0].streams[0].latency.p50_us >= 45_000);
    assert_accounted(&s);
}

#[tokio::test(start_paused = true)]
async fn one_worker_carries_any_rate_the_budget_covers() {
    // 45 ms acks at 100/s need 4.5 messages in flight (Little's law): a budget
    // of 5 and a single worker drop nothing — the worker is never held for a
    // round trip. Same at 2,000/s with the default budget.
    for (rate, budget, n) in [(100, "5", 1_000u64), (2_000, "10000", 20_000)] {
        let yaml = format!(
            "{HEAD}phases:\n  - {{ name: busy, duration: 10s, rate: {rate}/s, workers: 1, max_in_flight: {budget} }}\n"
        );
        let sink = Arc::new(MemorySink::with_ack_latency(Duration::from_millis(45)));
        let (_, s) = run_with(&yaml, sink.clone()).await;
        let c = &s.phases[0].counts;
        assert_eq!(
            (c.scheduled, c.acked, c.dropped),
            (n, n, 0),
            "{rate}/s: {c:?}"
        );
        assert_eq!(sink.delivered().len() as u64, n);
        let lat = &s.phases[0].streams[0].latency;
        assert!((45_000..46_000).contains(&lat.p99_us), "{rate}/s: {lat:?}");
        assert_accounted(&s);
    }
}

#[tokio::test(start_paused = true)]
async fn ticks_wait_for_a_busy_worker_within_the_budget_then_drop() {
    // A sink that holds its sender 15 ms per message: one worker builds 66/s,
    // the plan asks 100/s. Ticks wait for the worker (their latency grows
    // from the scheduled instant) until 50 are outstanding; beyond that the
    // budget is exhausted and ticks are dropped.
    let yaml = format!(
        "{HEAD}phases:\n  - {{ name: busy, duration: 10s, rate: 100/s, workers: 1, max_in_flight: 50 }}\n"
    );
    let sink = Arc::new(MemorySink::with_latency(Duration::from_millis(15)));
    let (_, s) = run_with(&yaml, sink).await;
    let c = &s.phases[0].counts;
    assert_eq!(c.scheduled, 1_000);
    assert!(c.dropped > 0, "{c:?}");
    // The worker never idles once the backlog formed: ~10 s / 15 ms sends,
    // plus what drains after the phase within the grace period.
    assert!((660..=720).contains(&c.acked), "{c:?}");
    assert_eq!(c.dropped + c.acked + c.in_flight + c.failed, 1_000, "{c:?}");
    // Queued ticks show their wait: p99 near 50 × 15 ms.
    let lat = &s.phases[0].streams[0].latency;
    assert!(lat.p99_us >= 600_000, "{lat:?}");
    assert_accounted(&s);
}

#[tokio::test(start_paused = true)]
async fn mode_switch_routes_each_phase_to_its_sink() {
    let yaml = format!(
        "{HEAD}phases:
  - {{ name: kafka, duration: 2s, rate: 10/s, mode: kafka_via_connect }}
  - {{ name: direct, duration: 2s, rate: 10/s, mode: direct_sqs }}
  - {{ name: kafka-again, duration: 1s, rate: 10/s, mode: kafka_via_connect }}
"
    );
    let kafka = Arc::new(MemorySink::new());
    let sqs = Arc::new(MemorySink::new());
    let (s, p) = plan(&yaml);
    let streams = engine::prepare::streams(&s, s.seed, None).unwrap();
    let sinks = Sinks {
        kafka: SinkHandle::Memory(kafka.clone()),
        sqs: SinkHandle::Memory(sqs.clone()),
    };
    let summary = engine::run(&p, streams, sinks, &Shutdown::new(Duration::from_secs(1))).await;
    assert_accounted(&summary);
    let k = kafka.delivered();
    let q = sqs.delivered();
    assert_eq!(k.len(), 30);
    assert_eq!(q.len(), 20);
    assert!(
        k.iter()
            .all(|d| d.message.route == Route::Kafka && d.message.destination == "events.card")
    );
    assert!(k.iter().all(|d| d.message.phase != 1));
    assert!(q.iter().all(|d| d.message.route == Route::Sqs
        && d.message.destination == "q1"
        && d.message.phase == 1));
    // Kafka payloads are Confluent-framed with the pinned schema id; SQS bodies are JSON.
    assert_eq!(&k[0].message.payload[..5], &[0, 0, 0, 0, 3]);
    let body: serde_json::Value = serde_json::from_slice(&q[0].message.payload).unwrap();
    assert_eq!(body["user_id"].as_str().map(|s| !s.is_empty()), Some(true));
}

#[tokio::test(start_paused = true)]
async fn failures_are_counted_by_kind_and_accounted() {
    let yaml = format!("{HEAD}phases:\n  - {{ name: flaky, duration: 5s, rate: 20/s }}\n");
    let sink = Arc::new(MemorySink::new().failing_every(7));
    let (_, s) = run_with(&yaml, sink).await;
    let c = &s.phases[0].counts;
    assert_eq!(c.scheduled, 100);
    assert_eq!(c.failed, 14);
    assert_eq!(c.failed_by_kind.get("injected"), Some(&14));
    assert_eq!(c.acked, 86);
    assert_accounted(&s);
}

#[tokio::test(start_paused = true)]
async fn closed_model_sends_back_to_back() {
    let yaml =
        format!("{HEAD}phases:\n  - {{ name: probe, duration: 1s, rate: max, workers: 4 }}\n");
    let sink = Arc::new(MemorySink::with_latency(Duration::from_millis(10)));
    let (_, s) = run_with(&yaml, sink).await;
    let c = &s.phases[0].counts;
    // 4 workers × 100 sends/s each, within a message or two at the edges.
    assert!((396..=404).contains(&c.acked), "{c:?}");
    assert_eq!(c.dropped, 0);
    assert_accounted(&s);
}

#[tokio::test(start_paused = true)]
async fn stop_ends_scheduling_and_marks_the_run_interrupted() {
    let yaml = format!(
        "{HEAD}phases:\n  - {{ name: long, duration: 60s, rate: 10/s }}\n  - {{ name: never, duration: 10s, rate: 10/s }}\n"
    );
    let (s, p) = plan(&yaml);
    let streams = engine::prepare::streams(&s, s.seed, None).unwrap();
    let shutdown = Shutdown::new(Duration::from_secs(2));
    let stopper = shutdown.stop.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(5_050)).await;
        stopper.cancel();
    });
    let sink = Arc::new(MemorySink::new());
    let summary = engine::run(
        &p,
        streams,
        Sinks::both(SinkHandle::Memory(sink)),
        &shutdown,
    )
    .await;
    assert!(summary.interrupted);
    assert_eq!(summary.phases[0].counts.scheduled, 51);
    assert_eq!(summary.phases[1].counts.scheduled, 0);
    assert!(!summary.phases[1].started);
    assert_accounted(&summary);
}

#[tokio::test(start_paused = true)]
async fn replay_that_stops_sends_each_row_once_with_overrides() {
    let yaml = "name: replay
seed: 2
streams:
  - name: gpus
    schema: ../../schemas/gpu_telemetry.avsc
    schema_id: 1
    key: { field: host }
    replay: { file: ../../data/gpu_telemetry.csv, on_end: stop }
    overrides: { temperature_c: 'default + 100' }
phases:
  - { name: fast, duration: 5s, rate: 30/s }
  - { name: more, duration: 5s, rate: 30/s }
";
    let (s, p) = plan(yaml);
    // 200 rows: 150 in the first phase, the remaining 50 in the second.
    let planned: Vec<Option<u64>> = p.phases.iter().map(|ph| ph.expected_messages).collect();
    assert_eq!(planned, vec![Some(150), Some(50)]);
    let sink = Arc::new(MemorySink::new());
    let summary = run_plan(&s, &p, sink.clone(), Duration::from_secs(1)).await;
    assert_eq!(summary.totals.acked, 200);
    assert_accounted(&summary);
    let csv = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("data/gpu_telemetry.csv"),
    )
    .unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let temp_col = header.iter().position(|h| *h == "temperature_c").unwrap();
    let host_col = header.iter().position(|h| *h == "host").unwrap();
    let mut sent = sink.delivered();
    sent.sort_by_key(|d| d.message.seq);
    let records = mbscenario::datagen::StreamRecords::new(&s.streams[0], s.seed).unwrap();
    for (d, line) in sent.iter().zip(csv.lines().skip(1)) {
        let cells: Vec<&str> = line.split(',').collect();
        // The Kafka key is the row's host; the override shifted the recorded temperature.
        assert_eq!(d.message.key.as_deref(), Some(cells[host_col]));
        let (_, datum) = mbscenario::encode::parse_confluent(&d.message.payload).unwrap();
        let mut datum = datum;
        let value =
            apache_avro::reader::datum::GenericDatumReader::builder(records.generator().schema())
                .build()
                .unwrap()
                .read_value(&mut datum)
                .unwrap();
        let apache_avro::types::Value::Record(fields) = value else {
            panic!()
        };
        let temp = fields
            .iter()
            .find(|(n, _)| n == "temperature_c")
            .map(|(_, v)| v.clone());
        let want: i32 = cells[temp_col].parse::<i32>().unwrap() + 100;
        assert_eq!(temp, Some(apache_avro::types::Value::Int(want)));
    }
}

#[tokio::test(start_paused = true)]
async fn sends_still_unanswered_after_the_grace_period_are_in_flight() {
    // Every send takes 3 s; the run ends at 1 s and drains for 1 s more.
    let yaml =
        format!("{HEAD}phases:\n  - {{ name: slow, duration: 1s, rate: 10/s, workers: 16 }}\n");
    let (s, p) = plan(&yaml);
    let streams = engine::prepare::streams(&s, s.seed, None).unwrap();
    let sink = Arc::new(MemorySink::with_latency(Duration::from_secs(3)));
    let summary = engine::run(
        &p,
        streams,
        Sinks::both(SinkHandle::Memory(sink)),
        &Shutdown::new(Duration::from_secs(1)),
    )
    .await;
    let c = &summary.totals;
    assert_eq!(
        (c.scheduled, c.acked, c.dropped, c.in_flight),
        (10, 0, 0, 10),
        "{c:?}"
    );
    assert!(!summary.interrupted);
    assert_accounted(&summary);
}

#[tokio::test(start_paused = true)]
async fn a_closed_phase_after_a_wider_phase_runs_with_its_own_workers() {
    // 8 lanes serve the paced phase; the flat phase allows 2. Whichever lanes
    // pick up its slots, exactly 2 send (10 ms each, holding their lane):
    // ~100 messages each per second. (A slot once went to a lane that was
    // no longer allowed, which left it at once: the phase sent nothing.)
    let yaml = format!(
        "{HEAD}phases:\n  - {{ name: paced, duration: 1s, rate: 40/s, workers: 8 }}\n  - {{ name: flat, duration: 1s, rate: max, workers: 2 }}\n  - {{ name: after, duration: 1s, rate: 10/s, workers: 1 }}\n"
    );
    let sink = Arc::new(MemorySink::with_latency(Duration::from_millis(10)));
    let (_, s) = run_with(&yaml, sink).await;
    let flat = &s.phases[1].counts;
    assert!((196..=204).contains(&flat.acked), "{flat:?}");
    assert_eq!(s.phases[0].counts.acked, 40);
    assert_eq!(s.phases[2].counts.acked, 10);
    assert_accounted(&s);
}

/// The engine numbers each phase's records from the plan (`first_seq`), not
/// from a count of its own: a plan that reserves a gap is sent with the gap.
#[tokio::test(start_paused = true)]
async fn each_phase_numbers_its_records_from_the_plan() {
    let yaml = format!(
        "{HEAD}phases:
  - {{ name: a, duration: 2s, rate: 10/s }}
  - {{ name: b, duration: 2s, rate: 10/s }}
"
    );
    let (s, mut p) = plan(&yaml);
    assert_eq!(p.phases[1].streams[0].first_seq, Some(20));
    p.phases[1].streams[0].first_seq = Some(1_000);
    let sink = Arc::new(MemorySink::new());
    let summary = run_plan(&s, &p, sink.clone(), Duration::from_secs(5)).await;
    assert_accounted(&summary);
    let mut seqs: Vec<u64> = sink.delivered().iter().map(|d| d.message.seq).collect();
    seqs.sort_unstable();
    let want: Vec<u64> = (0..20).chain(1_000..1_020).collect();
    assert_eq!(seqs, want);
}
