//! Runtime steering: what an operator changes while a run is going.
//!
//! The plan stays immutable; steering is a small overlay on it that the
//! scheduler reads at every tick through a `watch` channel (one atomic load
//! while nothing changes):
//!
//! | command          | scope            | holds until                    |
//! |------------------|------------------|--------------------------------|
//! | pause / resume   | stream or all    | the opposite command (phases go on) |
//! | rate (msgs/s)    | stream or all    | the phase ends, or `reset`     |
//! | workers          | the phase        | the phase ends, or `reset`     |
//! | mode             | stream or all    | the phase ends, or `reset`     |
//! | stop             | the run          | (graceful: in-flight sends get the grace period) |
//!
//! Phase-scoped overrides end with their phase so the next phase runs as
//! written. A paused stream schedules nothing (its ticks are skipped, not
//! dropped); on resume it picks the plan up at the current instant, without
//! a catch-up burst. Every accepted change becomes a [`SteeringEvent`] in the
//! summary and the report, which are then marked *steered*.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::plan::Plan;
use crate::scenario::model::{Load, Mode};
use crate::scenario::units::format_number;

/// Highest rate an operator may set (per request), msgs/s.
pub const MAX_RATE: f64 = 10_000_000.0;
/// Highest worker count an operator may set.
pub use crate::scenario::model::MAX_WORKERS;

/// What the scheduler reads: the plan's values unless overridden here.
#[derive(Debug, Clone, PartialEq)]
pub struct Overlay {
    /// The phase the phase-scoped overrides belong to (`None` before the first).
    pub phase: Option<usize>,
    /// Per stream.
    pub paused: Vec<bool>,
    /// Per stream, msgs/s.
    pub rate: Vec<Option<f64>>,
    /// Per stream.
    pub mode: Vec<Option<Mode>>,
    pub workers: Option<u32>,
}

/// Where the run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    /// Before the first phase (infra setup).
    Starting,
    Running,
    /// Phases over or stopped: draining, settling, reporting.
    Finished,
}

/// One change an operator made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SteeringEvent {
    /// Seconds since the run started (0 before it did).
    pub at_s: f64,
    /// The phase running when the change was made.
    pub phase: Option<String>,
    /// `rate`, `pause`, `resume`, `workers`, `mode`, `stop`.
    pub action: String,
    /// The stream it was scoped to (`None`: all streams).
    pub stream: Option<String>,
    /// Human-readable: what changed from what to what.
    pub detail: String,
}

/// A steering request.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `None`: back to the plan.
    Rate(Option<f64>),
    Pause,
    Resume,
    /// `None`: back to the plan.
    Workers(Option<u32>),
    /// `None`: back to the plan.
    Mode(Option<Mode>),
    Stop,
}

impl Command {
    pub fn action(&self) -> &'static str {
        match self {
            Command::Rate(_) => "rate",
            Command::Pause => "pause",
            Command::Resume => "resume",
            Command::Workers(_) => "workers",
            Command::Mode(_) => "mode",
            Command::Stop => "stop",
        }
    }
}

/// Why a request was refused (each maps to one HTTP status).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SteerError {
    /// 404
    #[error("no stream named `{name}`; the scenario's streams are: {known}")]
    UnknownStream { name: String, known: String },
    /// 400
    #[error("{0}")]
    Invalid(String),
    /// 409: valid, but not now / not for this phase.
    #[error("{0}")]
    Conflict(String),
}

/// The steering state of one run; shared by the engine and the control API.
#[derive(Debug)]
pub struct Steering {
    plan: Arc<Plan>,
    tx: watch::Sender<Overlay>,
    state: Mutex<RunState>,
    events: Mutex<Vec<SteeringEvent>>,
    start: OnceLock<Instant>,
    stop: CancellationToken,
    /// Live counters, attached by the engine when it starts.
    pub(crate) live: OnceLock<Arc<super::worker::Shared>>,
    /// Achieved-rate samples: (instant, acked per stream), oldest first.
    pub(crate) samples: Mutex<std::collections::VecDeque<(Instant, Vec<u64>)>>,
}

impl Steering {
    /// `stop` is the run's graceful-stop token (`Shutdown::stop`).
    pub fn new(plan: Arc<Plan>, stop: CancellationToken) -> Arc<Self> {
        let n = plan.streams.len();
        let (tx, _) = watch::channel(Overlay {
            phase: None,
            paused: vec![false; n],
            rate: vec![None; n],
            mode: vec![None; n],
            workers: None,
        });
        Arc::new(Self {
            plan,
            tx,
            state: Mutex::new(RunState::Starting),
            events: Mutex::new(Vec::new()),
            start: OnceLock::new(),
            stop,
            live: OnceLock::new(),
            samples: Mutex::new(std::collections::VecDeque::new()),
        })
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    /// A receiver for the scheduler.
    pub fn subscribe(&self) -> watch::Receiver<Overlay> {
        self.tx.subscribe()
    }

    pub fn overlay(&self) -> Overlay {
        self.tx.borrow().clone()
    }

    pub fn state(&self) -> RunState {
        *self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// When the engine started (the origin of event times and the timeline).
    pub fn started(&self) -> Option<Instant> {
        self.start.get().copied()
    }

    pub fn events(&self) -> Vec<SteeringEvent> {
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Engine: the run starts now.
    pub(crate) fn begin(&self, start: Instant, shared: Arc<super::worker::Shared>) {
        let _ = self.start.set(start);
        let _ = self.live.set(shared);
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) = RunState::Running;
    }

    /// Engine: phase `index` starts; the previous phase's overrides end.
    pub(crate) fn enter_phase(&self, index: usize) {
        self.tx.send_modify(|o| {
            o.phase = Some(index);
            o.rate.iter_mut().for_each(|r| *r = None);
            o.mode.iter_mut().for_each(|m| *m = None);
            o.workers = None;
        });
    }

    /// Engine (a `seek` phase's controller): the streams' rates for the next
    /// level. Not an operator's change: no event, the run is not marked steered.
    pub(crate) fn seek_rates(&self, rates: &[(usize, f64)]) {
        self.tx.send_modify(|o| {
            for &(i, r) in rates {
                if let Some(slot) = o.rate.get_mut(i) {
                    *slot = Some(r.max(1e-3));
                }
            }
        });
    }

    /// Engine (a `seek` phase's controller): pause or resume the streams while
    /// the pipeline drains after a failed level.
    pub(crate) fn seek_pause(&self, streams: &[usize], paused: bool) {
        self.tx.send_modify(|o| {
            for &i in streams {
                if let Some(p) = o.paused.get_mut(i) {
                    *p = paused;
                }
            }
        });
    }

    /// Engine: no more phases.
    pub(crate) fn finish(&self) {
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) = RunState::Finished;
        self.tx.send_modify(|o| o.phase = None);
    }

    fn stream_index(&self, name: &str) -> Result<usize, SteerError> {
        self.plan
            .streams
            .iter()
            .position(|s| s.name == name)
            .ok_or_else(|| SteerError::UnknownStream {
                name: name.to_string(),
                known: self
                    .plan
                    .streams
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// Applies `cmd` (scoped to `stream` when given) and records it.
    pub fn apply(&self, cmd: Command, stream: Option<&str>) -> Result<SteeringEvent, SteerError> {
        let scoped = stream.map(|s| self.stream_index(s)).transpose()?;
        let state = self.state();
        if state == RunState::Finished && cmd != Command::Stop {
            return Err(SteerError::Conflict(
                "the run has finished its phases; nothing left to steer".into(),
            ));
        }
        let overlay = self.overlay();
        let phase = overlay.phase.map(|i| &self.plan.phases[i]);
        let detail = match &cmd {
            Command::Stop => {
                if scoped.is_some() {
                    return Err(SteerError::Invalid(
                        "stop ends the whole run; to silence one stream, pause it".into(),
                    ));
                }
                // Cancelled below, once the event is recorded: the run's
                // report is built as soon as it stops, and must list it.
                "stopping: no new messages; in-flight sends finish within the grace period"
                    .to_string()
            }
            Command::Pause | Command::Resume => {
                let pause = cmd == Command::Pause;
                let targets = self.targets(scoped, None);
                let changed: Vec<usize> = targets
                    .iter()
                    .copied()
                    .filter(|&i| overlay.paused[i] != pause)
                    .collect();
                self.tx.send_modify(|o| {
                    for &i in &targets {
                        o.paused[i] = pause;
                    }
                });
                let verb = if pause { "paused" } else { "resumed" };
                if changed.is_empty() {
                    format!("{} already {verb}", self.names(&targets))
                } else {
                    format!("{} {verb}", self.names(&changed))
                }
            }
            Command::Rate(rate) => {
                let p = phase.ok_or_else(not_started)?;
                if matches!(p.load, Load::Max) {
                    return Err(SteerError::Conflict(format!(
                        "phase `{}` runs flat out (`rate: max`, closed model): it has no rate to set; change its workers instead",
                        p.name
                    )));
                }
                if let Some(r) = rate
                    && !(r.is_finite() && *r > 0.0 && *r <= MAX_RATE)
                {
                    return Err(SteerError::Invalid(format!(
                        "rate must be above 0 and at most {} msgs/s (got {r}); to stop sending, pause",
                        format_number(MAX_RATE)
                    )));
                }
                let targets = self.phase_targets(scoped, stream, p)?;
                // A run-wide rate is split by the phase's stream shares.
                let total_share: f64 = targets.iter().map(|&i| share(p, i)).sum();
                let per: Vec<(usize, Option<f64>)> = targets
                    .iter()
                    .map(|&i| {
                        let r = rate.map(|r| {
                            if scoped.is_some() || total_share <= 0.0 {
                                r
                            } else {
                                r * share(p, i) / total_share
                            }
                        });
                        (i, r)
                    })
                    .collect();
                self.tx.send_modify(|o| {
                    for &(i, r) in &per {
                        o.rate[i] = r;
                    }
                });
                match rate {
                    Some(r) => format!(
                        "{} set to {}/s until phase `{}` ends",
                        self.names(&targets),
                        format_number(*r),
                        p.name
                    ),
                    None => format!("{} back to the planned rate", self.names(&targets)),
                }
            }
            Command::Workers(n) => {
                let p = phase.ok_or_else(not_started)?;
                if scoped.is_some() {
                    return Err(SteerError::Invalid(
                        "workers are shared by all streams of a phase; omit the stream".into(),
                    ));
                }
                if let Some(n) = n
                    && !(1..=MAX_WORKERS).contains(n)
                {
                    return Err(SteerError::Invalid(format!(
                        "workers must be between 1 and {MAX_WORKERS} (got {n}); to stop sending, pause"
                    )));
                }
                let before = overlay.workers.unwrap_or(p.workers);
                self.tx.send_modify(|o| o.workers = *n);
                match n {
                    Some(n) => format!("workers {before} → {n} until phase `{}` ends", p.name),
                    None => format!("workers back to the planned {}", p.workers),
                }
            }
            Command::Mode(mode) => {
                let p = phase.ok_or_else(not_started)?;
                let targets = self.phase_targets(scoped, stream, p)?;
                if *mode == Some(Mode::DirectSqs) {
                    let no_queue: Vec<usize> = targets
                        .iter()
                        .copied()
                        .filter(|&i| self.plan.streams[i].queue.is_none())
                        .collect();
                    if !no_queue.is_empty() {
                        return Err(SteerError::Conflict(format!(
                            "{} has no `queue:` in the scenario, so it cannot be sent directly to SQS",
                            self.names(&no_queue)
                        )));
                    }
                }
                self.tx.send_modify(|o| {
                    for &i in &targets {
                        o.mode[i] = *mode;
                    }
                });
                match mode {
                    Some(m) => format!(
                        "{} switched to {} until phase `{}` ends",
                        self.names(&targets),
                        m.as_str(),
                        p.name
                    ),
                    None => format!(
                        "{} back to the planned mode {}",
                        self.names(&targets),
                        p.mode.as_str()
                    ),
                }
            }
        };
        let event = SteeringEvent {
            at_s: self.started().map_or(0.0, |s| {
                Instant::now().saturating_duration_since(s).as_secs_f64()
            }),
            phase: phase.map(|p| p.name.clone()),
            action: cmd.action().to_string(),
            stream: stream.map(str::to_string),
            detail,
        };
        tracing::info!(
            event = "SteeringApplied",
            action = %event.action,
            phase = event.phase.as_deref().unwrap_or("-"),
            stream = event.stream.as_deref().unwrap_or("*"),
            "{}",
            event.detail
        );
        metrics::counter!(crate::telemetry::metrics::STEERING_CHANGES, "action" => event.action.clone())
            .increment(1);
        self.events
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(event.clone());
        if cmd == Command::Stop {
            self.stop.cancel();
        }
        Ok(event)
    }

    /// The streams a command applies to: the scoped one, else all of the
    /// phase's streams (all of the scenario's without a phase).
    fn targets(&self, scoped: Option<usize>, phase: Option<&crate::plan::PlanPhase>) -> Vec<usize> {
        match (scoped, phase) {
            (Some(i), Some(p)) => p
                .streams
                .iter()
                .filter(|s| s.stream == i)
                .map(|s| s.stream)
                .collect(),
            (Some(i), None) => vec![i],
            (None, Some(p)) => p.streams.iter().map(|s| s.stream).collect(),
            (None, None) => (0..self.plan.streams.len()).collect(),
        }
    }

    /// [`Self::targets`] within a phase; a scoped stream must take part in it.
    fn phase_targets(
        &self,
        scoped: Option<usize>,
        stream: Option<&str>,
        p: &crate::plan::PlanPhase,
    ) -> Result<Vec<usize>, SteerError> {
        let targets = self.targets(scoped, Some(p));
        if targets.is_empty() {
            return Err(SteerError::Conflict(format!(
                "stream `{}` is not part of phase `{}`",
                stream.unwrap_or_default(),
                p.name
            )));
        }
        Ok(targets)
    }

    fn names(&self, streams: &[usize]) -> String {
        let names: Vec<String> = streams
            .iter()
            .map(|&i| format!("`{}`", self.plan.streams[i].name))
            .collect();
        match names.len() {
            1 => format!("stream {}", names[0]),
            _ => format!("streams {}", names.join(", ")),
        }
    }
}

fn not_started() -> SteerError {
    SteerError::Conflict(
        "no phase is running yet (the run is starting); try again once it runs".into(),
    )
}

fn share(p: &crate::plan::PlanPhase, stream: usize) -> f64 {
    p.streams
        .iter()
        .find(|s| s.stream == stream)
        .map_or(0.0, |s| s.share)
}

/// Seconds, for event times.
pub fn seconds(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}
