//! Runtime steering on a paused (virtual) clock: commands applied at exact
//! instants while the engine runs, checked second by second in the timeline
//! and message by message in memory sinks.

use std::sync::Arc;
use std::time::Duration;

use mbscenario::engine::steering::{Command, SteerError};
use mbscenario::engine::{self, RunSummary, Shutdown, Steering};
use mbscenario::plan::Plan;
use mbscenario::scenario::model::Mode;
use mbscenario::scenario::{self};
use mbscenario::sink::memory::MemorySink;
use mbscenario::sink::{Route, SinkHandle, Sinks};

const HEAD: &str = "name: steering-test\nseed: 11\nstreams:\n  - { name: cards, schema: schemas/card.avsc, schema_id: 3, queue: q1 }\n  - { name: plain, schema: schemas/card.avsc, schema_id: 3 }\n";

fn plan(yaml: &str) -> (scenario::Scenario, Plan) {
    let s = crate::support::scenario_yaml("tests/fixtures/engine.yaml", yaml, &[]);
    let p = Plan::compile(&s);
    (s, p)
}

/// Runs `yaml` and applies `script` (offset from the run start, command,
/// stream) on the virtual clock; every command must be accepted.
async fn steered(
    yaml: &str,
    sinks: Sinks,
    script: Vec<(f64, Command, Option<&'static str>)>,
) -> (Arc<Steering>, RunSummary) {
    let (s, p) = plan(yaml);
    let streams = engine::prepare::streams(&s, s.seed, None).unwrap();
    let shutdown = Shutdown::new(Duration::from_secs(5));
    let steering = Steering::new(Arc::new(p.clone()), shutdown.stop.clone());
    let extras = engine::Extras {
        progress: false,
        sends: None,
        echo: None,
        observe: None,
        steering: Some(steering.clone()),
    };
    let run = tokio::spawn({
        let shutdown = shutdown.clone();
        async move { engine::run_with(&p, streams, sinks, &shutdown, extras).await }
    });
    while steering.started().is_none() {
        tokio::task::yield_now().await;
    }
    let start = steering.started().unwrap();
    for (at, cmd, stream) in script {
        tokio::time::sleep_until(start + Duration::from_secs_f64(at)).await;
        steering
            .apply(cmd.clone(), stream)
            .unwrap_or_else(|e| panic!("{cmd:?} at {at}s refused: {e}"));
    }
    let summary = run.await.unwrap();
    (steering, summary)
}

/// One value per second of the run (the timeline leaves out seconds where nothing
/// was due and nothing happened: they are 0 here).
fn per_second(s: &RunSummary, f: impl Fn(&engine::summary::TimelinePoint) -> u64) -> Vec<u64> {
    let end = s.timeline.last().map_or(0, |p| p.second + 1) as usize;
    let end = end.max(s.elapsed.as_secs_f64().ceil() as usize);
    let mut out = vec![0; end];
    for p in &s.timeline {
        out[p.second as usize] = f(p);
    }
    out
}

fn assert_near(got: &[u64], range: std::ops::Range<usize>, want: u64, what: &str) {
    for i in range {
        let g = got[i];
        assert!(
            g.abs_diff(want) <= 1,
            "{what}: second {i} has {g}, want {want}±1 (all: {got:?})"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_rate_change_holds_until_reset_or_the_phase_ends() {
    let yaml = format!(
        "{HEAD}phases:
  - {{ name: a, duration: 20s, rate: 100/s, workers: 8, streams: [cards] }}
  - {{ name: b, duration: 5s, rate: 50/s, workers: 8, streams: [cards] }}
"
    );
    let sink = Arc::new(MemorySink::new());
    let (steering, s) = steered(
        &yaml,
        Sinks::both(SinkHandle::Memory(sink.clone())),
        vec![
            (5.0, Command::Rate(Some(300.0)), None),
            (10.0, Command::Rate(None), None),
            (15.0, Command::Rate(Some(200.0)), Some("cards")),
        ],
    )
    .await;
    let sched = per_second(&s, |p| p.scheduled);
    assert_near(&sched, 0..5, 100, "plan");
    assert_near(&sched, 6..10, 300, "operator rate");
    assert_near(&sched, 11..15, 100, "reset to the plan");
    assert_near(&sched, 16..20, 200, "stream-scoped rate");
    // The override ended with phase a: phase b runs as written.
    assert_near(&sched, 21..25, 50, "next phase");
    assert_eq!(s.totals.dropped, 0);
    assert!(s.steered);
    let actions: Vec<&str> = s.steering.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["rate", "rate", "rate"]);
    assert_eq!(s.steering[0].phase.as_deref(), Some("a"));
    assert!(
        (s.steering[0].at_s - 5.0).abs() < 0.01,
        "{:?}",
        s.steering[0]
    );
    assert_eq!(steering.events(), s.steering);
    // Sequence numbers stay contiguous: steering changes when records are
    // sent, never which record n is.
    let mut seqs: Vec<u64> = sink.delivered().iter().map(|d| d.message.seq).collect();
    seqs.sort_unstable();
    let n = seqs.len() as u64;
    assert_eq!(seqs, (0..n).collect::<Vec<_>>());
    assert_eq!(n, s.totals.acked);
}

#[tokio::test(start_paused = true)]
async fn pause_stops_sends_and_resume_picks_the_plan_up_without_a_burst() {
    let yaml = format!(
        "{HEAD}phases:
  - {{ name: a, duration: 20s, rate: 200/s, workers: 8 }}
"
    );
    let sink = Arc::new(MemorySink::new());
    let (_, s) = steered(
        &yaml,
        Sinks::both(SinkHandle::Memory(sink.clone())),
        vec![
            (5.0, Command::Pause, None),
            (10.0, Command::Resume, None),
            (14.0, Command::Pause, Some("plain")),
        ],
    )
    .await;
    let sched = per_second(&s, |p| p.scheduled);
    assert_near(&sched, 0..5, 200, "before the pause");
    // Only a tick due exactly at the pause instant may slip through.
    assert!(sched[5] <= 1, "{sched:?}");
    assert_near(&sched, 6..10, 0, "paused");
    assert_near(&sched, 10..14, 200, "resumed (no catch-up burst)");
    // `plain` paused: `cards` keeps its half of the rate.
    assert_near(&sched, 15..20, 100, "one stream paused");
    assert_eq!(s.totals.dropped, 0, "paused ticks are skipped, not dropped");
    let plain_after: Vec<_> = sink
        .delivered()
        .into_iter()
        .filter(|d| d.message.stream == 1)
        .filter(|d| d.at.duration_since(sink.delivered()[0].at) > Duration::from_secs_f64(14.01))
        .collect();
    assert!(
        plain_after.is_empty(),
        "{} sends after the stream pause",
        plain_after.len()
    );
}

#[tokio::test(start_paused = true)]
async fn a_mode_switch_reroutes_to_the_other_sink_and_back() {
    let yaml = format!(
        "{HEAD}phases:
  - {{ name: a, duration: 10s, rate: 100/s, workers: 8, mode: kafka_via_connect, streams: [cards] }}
"
    );
    let kafka = Arc::new(MemorySink::new());
    let sqs = Arc::new(MemorySink::new());
    let sinks = Sinks {
        kafka: SinkHandle::Memory(kafka.clone()),
        sqs: SinkHandle::Memory(sqs.clone()),
    };
    let (_, s) = steered(
        &yaml,
        sinks,
        vec![
            (3.0, Command::Mode(Some(Mode::DirectSqs)), Some("cards")),
            (6.0, Command::Mode(None), None),
        ],
    )
    .await;
    let k = kafka.delivered();
    let q = sqs.delivered();
    let t0 = k[0].at;
    let secs = |d: &mbscenario::sink::memory::Delivered| d.at.duration_since(t0).as_secs_f64();
    assert!(q.iter().all(|d| (3.0..=6.0).contains(&secs(d))));
    assert!(k.iter().all(|d| !(3.001..5.999).contains(&secs(d))));
    assert!(
        q.iter()
            .all(|d| d.message.route == Route::Sqs && d.message.destination == "q1")
    );
    assert!(q.len().abs_diff(300) <= 2, "{} direct sends", q.len());
    assert_eq!(k.len() + q.len(), s.totals.acked as usize);
}

#[tokio::test(start_paused = true)]
async fn resizing_workers_ends_and_restarts_saturation() {
    // A sink that holds its sender 100 ms per message: 2 workers carry
    // 20 msgs/s, 20 workers 200 msgs/s; beyond 20 outstanding, ticks drop.
    let yaml = format!(
        "{HEAD}phases:
  - {{ name: a, duration: 15s, rate: 100/s, workers: 2, max_in_flight: 20, streams: [cards] }}
"
    );
    let sink = Arc::new(MemorySink::with_latency(Duration::from_millis(100)));
    let (_, s) = steered(
        &yaml,
        Sinks::both(SinkHandle::Memory(sink)),
        vec![
            (5.0, Command::Workers(Some(20)), None),
            (10.0, Command::Workers(None), None),
        ],
    )
    .await;
    let dropped = per_second(&s, |p| p.dropped);
    let acked = per_second(&s, |p| p.acked);
    for i in 1..5 {
        assert!(dropped[i] >= 75, "second {i}: {dropped:?}");
    }
    assert_near(&dropped, 6..10, 0, "20 workers");
    assert_near(&acked, 6..10, 100, "20 workers");
    for i in 11..15 {
        assert!(
            dropped[i] >= 75,
            "back to 2 workers, second {i}: {dropped:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn closed_phases_take_worker_changes_and_pauses() {
    let yaml = format!(
        "{HEAD}phases:
  - {{ name: flat, duration: 9s, rate: max, workers: 1, streams: [cards] }}
"
    );
    let sink = Arc::new(MemorySink::with_latency(Duration::from_millis(10)));
    let (_, s) = steered(
        &yaml,
        Sinks::both(SinkHandle::Memory(sink)),
        vec![
            (3.0, Command::Workers(Some(4)), None),
            (6.0, Command::Pause, None),
        ],
    )
    .await;
    let acked = per_second(&s, |p| p.acked);
    for i in 0..3 {
        assert!(
            (95..=100).contains(&acked[i]),
            "1 worker, second {i}: {acked:?}"
        );
    }
    for i in 4..6 {
        assert!(
            (380..=400).contains(&acked[i]),
            "4 workers, second {i}: {acked:?}"
        );
    }
    for i in 7..9 {
        assert_eq!(acked[i], 0, "paused, second {i}: {acked:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn refusals_say_why() {
    let yaml = format!(
        "{HEAD}phases:
  - {{ name: flat, duration: 2s, rate: max, workers: 1 }}
  - {{ name: paced, duration: 2s, rate: 10/s, streams: [plain] }}
"
    );
    let (s, p) = plan(&yaml);
    let shutdown = Shutdown::new(Duration::from_secs(1));
    let steering = Steering::new(Arc::new(p.clone()), shutdown.stop.clone());
    // Before the first phase: only pause/resume/stop make sense.
    let e = steering.apply(Command::Rate(Some(5.0)), None).unwrap_err();
    assert!(
        matches!(e, SteerError::Conflict(ref m) if m.contains("no phase is running")),
        "{e}"
    );
    steering.apply(Command::Pause, Some("plain")).unwrap();
    steering.apply(Command::Resume, Some("plain")).unwrap();
    let streams = engine::prepare::streams(&s, s.seed, None).unwrap();
    let extras = engine::Extras {
        progress: false,
        sends: None,
        echo: None,
        observe: None,
        steering: Some(steering.clone()),
    };
    let run = tokio::spawn({
        let shutdown = shutdown.clone();
        let sink = Arc::new(MemorySink::with_latency(Duration::from_millis(5)));
        async move {
            engine::run_with(
                &p,
                streams,
                Sinks::both(SinkHandle::Memory(sink)),
                &shutdown,
                extras,
            )
            .await
        }
    });
    while steering.started().is_none() {
        tokio::task::yield_now().await;
    }
    let e = steering.apply(Command::Rate(Some(5.0)), None).unwrap_err();
    assert!(
        matches!(e, SteerError::Conflict(ref m) if m.contains("flat out")),
        "{e}"
    );
    let e = steering.apply(Command::Pause, Some("nope")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "no stream named `nope`; the scenario's streams are: cards, plain"
    );
    let e = steering
        .apply(Command::Mode(Some(Mode::DirectSqs)), None)
        .unwrap_err();
    assert!(
        e.to_string().contains("stream `plain` has no `queue:`"),
        "{e}"
    );
    let e = steering
        .apply(Command::Workers(Some(3)), Some("cards"))
        .unwrap_err();
    assert!(matches!(e, SteerError::Invalid(_)), "{e}");
    let e = steering.apply(Command::Workers(Some(0)), None).unwrap_err();
    assert!(matches!(e, SteerError::Invalid(_)), "{e}");
    tokio::time::sleep(Duration::from_secs(3)).await;
    // Phase `paced` has only `plain`.
    let e = steering
        .apply(Command::Rate(Some(5.0)), Some("cards"))
        .unwrap_err();
    assert!(e.to_string().contains("not part of phase `paced`"), "{e}");
    let e = steering.apply(Command::Rate(Some(0.0)), None).unwrap_err();
    assert!(e.to_string().contains("to stop sending, pause"), "{e}");
    steering.apply(Command::Rate(Some(20.0)), None).unwrap();
    let summary = run.await.unwrap();
    let e = steering.apply(Command::Pause, None).unwrap_err();
    assert!(e.to_string().contains("finished"), "{e}");
    // Refusals leave no trace; the accepted changes do.
    let actions: Vec<&str> = summary.steering.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["pause", "resume", "rate"]);
}

#[tokio::test(start_paused = true)]
async fn stop_ends_the_run_gracefully() {
    let yaml = format!(
        "{HEAD}phases:
  - {{ name: a, duration: 30s, rate: 50/s, streams: [cards] }}
"
    );
    let sink = Arc::new(MemorySink::with_latency(Duration::from_millis(20)));
    let (_, s) = steered(
        &yaml,
        Sinks::both(SinkHandle::Memory(sink)),
        vec![(4.0, Command::Stop, None)],
    )
    .await;
    assert!(s.interrupted);
    assert!(s.elapsed < Duration::from_secs(5), "{:?}", s.elapsed);
    assert_eq!(
        s.totals.in_flight, 0,
        "in-flight sends finished in the grace period"
    );
    assert!(s.totals.acked.abs_diff(200) <= 2, "{}", s.totals.acked);
}

#[test]
fn compare_refuses_steered_reports_unless_allowed() {
    use mbscenario::report::compare::{Bounds, compare};
    let report = |steering: serde_json::Value| {
        serde_json::json!({
            "report_version": 1, "scenario": "s",
            "run": { "steering": steering, "phases": [
                { "name": "p", "achieved_rate": 100.0, "latency": { "p99_us": 1000 } }
            ] }
        })
    };
    let plain = report(serde_json::json!([]));
    let steered = report(serde_json::json!([
        { "at_s": 12.5, "phase": "p", "action": "rate", "stream": null, "detail": "stream `a` set to 500/s until phase `p` ends" }
    ]));
    assert!(compare(&plain, &plain, Bounds::default()).is_ok());
    let e = compare(&plain, &steered, Bounds::default()).unwrap_err();
    assert!(e.0.contains("current run was steered"), "{}", e.0);
    assert!(e.0.contains("at 12.5s stream `a` set to 500/s"), "{}", e.0);
    assert!(e.0.contains("--allow-steered"), "{}", e.0);
    let allowed = Bounds {
        allow_steered: true,
        ..Bounds::default()
    };
    let c = compare(&steered, &plain, allowed).unwrap();
    assert!(
        c.notes.iter().any(|n| n.contains("base run was steered")),
        "{:?}",
        c.notes
    );
}
