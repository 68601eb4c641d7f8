//! Prometheus metrics (`run --metrics ADDR`, and `/metrics` on the control API).
//!
//! | name | type | labels |
//! |------|------|--------|
//! | `mbscenario_records_scheduled_total` | counter | phase, stream |
//! | `mbscenario_records_sent_total` | counter | phase, stream, sink |
//! | `mbscenario_records_acked_total` | counter | phase, stream, sink |
//! | `mbscenario_records_failed_total` | counter | phase, stream, sink, error_kind |
//! | `mbscenario_records_dropped_total` | counter | phase, stream |
//! | `mbscenario_records_retried_total` | counter | phase, stream, sink |
//! | `mbscenario_send_latency_seconds` | histogram | phase, stream, sink |
//! | `mbscenario_schedule_lag_seconds` | histogram | phase, stream |
//! | `mbscenario_target_rate_per_second` | gauge | stream |
//! | `mbscenario_achieved_rate_per_second` | gauge | stream |
//! | `mbscenario_workers` | gauge | phase |
//! | `mbscenario_phase_active` | gauge | phase |
//! | `mbscenario_steering_changes_total` | counter | action |
//!
//! The engine resolves one handle per (phase, stream, route) up front, so a
//! message costs a few atomic adds and no label allocation. Without an
//! installed exporter nothing is resolved and nothing is counted.

use std::sync::OnceLock;

use metrics::{Counter, Gauge, Histogram, Label};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::plan::Plan;
use crate::sink::{Route, Sinks};

pub const RECORDS_SCHEDULED: &str = "mbscenario_records_scheduled_total";
pub const RECORDS_SENT: &str = "mbscenario_records_sent_total";
pub const RECORDS_ACKED: &str = "mbscenario_records_acked_total";
pub const RECORDS_FAILED: &str = "mbscenario_records_failed_total";
pub const RECORDS_DROPPED: &str = "mbscenario_records_dropped_total";
pub const RECORDS_RETRIED: &str = "mbscenario_records_retried_total";
pub const SEND_LATENCY: &str = "mbscenario_send_latency_seconds";
pub const SCHEDULE_LAG: &str = "mbscenario_schedule_lag_seconds";
pub const TARGET_RATE: &str = "mbscenario_target_rate_per_second";
pub const ACHIEVED_RATE: &str = "mbscenario_achieved_rate_per_second";
pub const WORKERS: &str = "mbscenario_workers";
pub const PHASE_ACTIVE: &str = "mbscenario_phase_active";
pub const STEERING_CHANGES: &str = "mbscenario_steering_changes_total";

/// Latency buckets, seconds: 100 µs … 60 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0, 60.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the Prometheus recorder once per process; later calls return the
/// same handle.
pub fn install() -> Result<PrometheusHandle, String> {
    if let Some(h) = HANDLE.get() {
        return Ok(h.clone());
    }
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
        .map_err(|e| e.to_string())?
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder)
        .map_err(|e| format!("a metrics recorder is already installed: {e}"))?;
    describe();
    // Histogram observations queue up in the recorder until upkeep folds them
    // into the buckets; without it a run that nobody scrapes grows without
    // bound (measured: +75 MiB in 8 s at 240k msgs/s).
    let upkeep = handle.clone();
    let _ = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(std::time::Duration::from_secs(1));
                upkeep.run_upkeep();
            }
        });
    let _ = HANDLE.set(handle.clone());
    Ok(HANDLE.get().cloned().unwrap_or(handle))
}

/// The installed exporter, if any.
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE.get()
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(RECORDS_SCHEDULED, "Messages that became due");
    describe_counter!(RECORDS_SENT, "Messages handed to a sink");
    describe_counter!(RECORDS_ACKED, "Messages the destination acknowledged");
    describe_counter!(RECORDS_FAILED, "Messages whose send failed, by error kind");
    describe_counter!(
        RECORDS_DROPPED,
        "Due messages that found the in-flight budget exhausted"
    );
    describe_counter!(RECORDS_RETRIED, "Retries the sink made before an ack");
    describe_histogram!(
        SEND_LATENCY,
        metrics::Unit::Seconds,
        "Scheduled instant to acknowledgement"
    );
    describe_histogram!(
        SCHEDULE_LAG,
        metrics::Unit::Seconds,
        "How late a worker picked a due message up"
    );
    describe_gauge!(
        TARGET_RATE,
        "Messages per second asked for now (plan + steering)"
    );
    describe_gauge!(
        ACHIEVED_RATE,
        "Acked messages per second over the last seconds"
    );
    describe_gauge!(WORKERS, "Worker limit of the phase (plan + steering)");
    describe_gauge!(PHASE_ACTIVE, "1 while the phase runs");
    describe_counter!(
        STEERING_CHANGES,
        "Runtime changes made through the control API"
    );
}

/// Handles of one phase × stream × route.
#[derive(Debug)]
pub struct CellMetrics {
    pub sent: Counter,
    pub acked: Counter,
    pub retried: Counter,
    pub latency: Histogram,
    labels: Vec<Label>,
}

impl CellMetrics {
    pub fn failed(&self, kind: &'static str) {
        let mut labels = self.labels.clone();
        labels.push(Label::new("error_kind", kind));
        metrics::counter!(RECORDS_FAILED, labels).increment(1);
    }
}

/// Every handle the engine uses, resolved once per run.
#[derive(Debug)]
pub struct EngineMetrics {
    streams: usize,
    /// [phase][stream][route]
    cells: Vec<CellMetrics>,
    /// [phase][stream]
    scheduled: Vec<Counter>,
    dropped: Vec<Counter>,
    lag: Vec<Histogram>,
    pub target_rate: Vec<Gauge>,
    pub achieved_rate: Vec<Gauge>,
    pub workers: Vec<Gauge>,
    pub phase_active: Vec<Gauge>,
}

fn route_index(r: Route) -> usize {
    match r {
        Route::Kafka => 0,
        Route::Sqs => 1,
    }
}

impl EngineMetrics {
    /// `None` when no exporter is installed.
    pub fn resolve(plan: &Plan, sinks: &Sinks) -> Option<Self> {
        handle()?;
        let mut m = EngineMetrics {
            streams: plan.streams.len(),
            cells: Vec::new(),
            scheduled: Vec::new(),
            dropped: Vec::new(),
            lag: Vec::new(),
            target_rate: Vec::new(),
            achieved_rate: Vec::new(),
            workers: Vec::new(),
            phase_active: Vec::new(),
        };
        for p in &plan.phases {
            for s in &plan.streams {
                let base = vec![
                    Label::new("phase", p.name.clone()),
                    Label::new("stream", s.name.clone()),
                ];
                m.scheduled
                    .push(metrics::counter!(RECORDS_SCHEDULED, base.clone()));
                m.dropped
                    .push(metrics::counter!(RECORDS_DROPPED, base.clone()));
                m.lag.push(metrics::histogram!(SCHEDULE_LAG, base.clone()));
                for route in [Route::Kafka, Route::Sqs] {
                    let mut labels = base.clone();
                    labels.push(Label::new("sink", sinks.for_route(route).name()));
                    m.cells.push(CellMetrics {
                        sent: metrics::counter!(RECORDS_SENT, labels.clone()),
                        acked: metrics::counter!(RECORDS_ACKED, labels.clone()),
                        retried: metrics::counter!(RECORDS_RETRIED, labels.clone()),
                        latency: metrics::histogram!(SEND_LATENCY, labels.clone()),
                        labels,
                    });
                }
            }
            m.workers
                .push(metrics::gauge!(WORKERS, "phase" => p.name.clone()));
            m.phase_active
                .push(metrics::gauge!(PHASE_ACTIVE, "phase" => p.name.clone()));
        }
        for s in &plan.streams {
            m.target_rate
                .push(metrics::gauge!(TARGET_RATE, "stream" => s.name.clone()));
            m.achieved_rate
                .push(metrics::gauge!(ACHIEVED_RATE, "stream" => s.name.clone()));
        }
        Some(m)
    }

    pub fn cell(&self, phase: usize, stream: usize, route: Route) -> Option<&CellMetrics> {
        self.cells
            .get((phase * self.streams + stream) * 2 + route_index(route))
    }

    pub fn scheduled(&self, phase: usize, stream: usize) {
        if let Some(c) = self.scheduled.get(phase * self.streams + stream) {
            c.increment(1);
        }
    }

    pub fn dropped(&self, phase: usize, stream: usize) {
        if let Some(c) = self.dropped.get(phase * self.streams + stream) {
            c.increment(1);
        }
    }

    pub fn lag(&self, phase: usize, stream: usize, secs: f64) {
        if let Some(h) = self.lag.get(phase * self.streams + stream) {
            h.record(secs);
        }
    }
}
