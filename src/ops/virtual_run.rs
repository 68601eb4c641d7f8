//! Virtual-clock runs: the real engine on a paused tokio clock with a sink
//! that acknowledges at once, and every acknowledged message counted as
//! arrived. A scenario of minutes runs in a moment and its report is
//! byte-identical from run to run (no wall-clock value enters it), which
//! is what report snapshots and `run --sink virtual` previews rely on.

use std::sync::Arc;

use super::finish::Measured;
use crate::collect::{Arrivals, Layout, Sends};
use crate::engine::{self, Shutdown};
use crate::plan::Plan;
use crate::report::Report;
use crate::scenario::Scenario;
use crate::sink::{SinkHandle, Sinks};

/// Virtual send→ack time: bounds closed-model (`max`) phases to
/// workers × duration / 20 ms messages.
pub const VIRTUAL_ACK: std::time::Duration = std::time::Duration::from_millis(20);

/// Most messages a virtual run simulates (about a minute of work here): each is
/// generated, "sent" and counted one by one, so a plan of billions would run
/// for hours. Larger plans are refused before anything starts; `plan` still
/// shows them.
pub const MAX_VIRTUAL_MESSAGES: u64 = 20_000_000;

/// Why a virtual run cannot start. All are the scenario's to fix (exit 2 as
/// a [`Failure`](crate::failure::Failure)), the runtime's failure included.
#[derive(Debug, thiserror::Error)]
pub enum VirtualRunError {
    #[error(
        "a virtual run simulates every message, and this plan has about {0} \
         (the limit is {MAX_VIRTUAL_MESSAGES}): shorten the phases or lower the rates \
         for a preview; `mbscenario plan` shows the whole schedule"
    )]
    TooLarge(u64),
    #[error("stream `{stream}` cannot generate records: {error}")]
    Stream {
        stream: String,
        error: crate::datagen::GenError,
    },
    #[error("cannot start the virtual-clock runtime: {0}")]
    Runtime(std::io::Error),
}

/// What a virtual run of `plan` would simulate: the planned messages of rate
/// phases, for `max` phases one message per lane per [`VIRTUAL_ACK`], for
/// `seek` phases their top level (twice the modelled capacity at most) throughout.
pub fn virtual_messages(plan: &Plan, ack: std::time::Duration, capacity: Option<f64>) -> u64 {
    plan.phases
        .iter()
        .map(|p| match (&p.load, p.expected_messages) {
            // A search climbs to about twice the modelled capacity at most.
            (crate::scenario::model::Load::Rate(crate::scenario::model::RateShape::Seek(k)), _) => {
                let top = capacity.map_or(k.max, |c| k.max.min(2.0 * c));
                (top * p.duration.as_secs_f64()).min(u64::MAX as f64) as u64
            }
            (_, Some(n)) => n,
            (_, None) => {
                let per_lane = p.duration.as_secs_f64() / ack.as_secs_f64().max(1e-6);
                (per_lane * f64::from(p.workers)).min(u64::MAX as f64) as u64
            }
        })
        .fold(0u64, u64::saturating_add)
}

/// Runs `scenario` on the virtual clock and returns its report: compiles
/// the plan, and from there works on the plan alone.
pub fn report(scenario: &Scenario) -> Result<Report, VirtualRunError> {
    let plan = Plan::compile(scenario);
    let measured = measure(&plan)?;
    Ok(super::finish::report(&plan, measured))
}

pub fn measure(plan: &Plan) -> Result<Measured, VirtualRunError> {
    measure_with(plan, VIRTUAL_ACK)
}

/// The modelled pipeline of a virtual run.
#[derive(Debug, Clone, Copy)]
pub struct Model {
    /// Send → ack time of an idle pipeline.
    pub ack: std::time::Duration,
    /// Messages per second the pipeline serves; above it, messages queue and
    /// latency grows (`None`: unlimited).
    pub capacity: Option<f64>,
}

impl Default for Model {
    fn default() -> Self {
        Self {
            ack: VIRTUAL_ACK,
            capacity: None,
        }
    }
}

/// Like [`measure`] with a chosen send→ack time (slower acks lower the
/// throughput of closed-model phases: how tests make a "slowed" run).
pub fn measure_with(plan: &Plan, ack: std::time::Duration) -> Result<Measured, VirtualRunError> {
    measure_model(
        plan,
        Model {
            ack,
            capacity: None,
        },
    )
}

/// A virtual run against a modelled pipeline.
pub fn measure_model(plan: &Plan, model: Model) -> Result<Measured, VirtualRunError> {
    let ack = model.ack;
    let n = virtual_messages(plan, ack, model.capacity);
    if n > MAX_VIRTUAL_MESSAGES {
        return Err(VirtualRunError::TooLarge(n));
    }
    let streams = engine::prepare::of_specs(&plan.specs, plan.seed, None)
        .map_err(|(stream, error)| VirtualRunError::Stream { stream, error })?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .map_err(VirtualRunError::Runtime)?;
    let sends = Arc::new(Sends::new());
    // Every acknowledged message "arrives" at its send instant, through the
    // collector's own per-copy path (decode, bitmaps, latency).
    let arrivals = Arc::new(Arrivals::new(event_ids(plan), sends.clone(), None));
    arrivals.set_timeline_step(crate::stats::timeline_step(
        plan.total_duration.as_secs_f64().ceil() as u64,
    ));
    let summary = runtime.block_on(async {
        let shutdown = Shutdown::new(std::time::Duration::from_secs(10));
        engine::run_with(
            plan,
            streams,
            Sinks::both(SinkHandle::Delay(Arc::new(crate::sink::DelaySink::new(
                ack,
                plan.phases
                    .iter()
                    .map(|p| matches!(p.load, crate::scenario::model::Load::Max))
                    .collect(),
                model.capacity,
            )))),
            &shutdown,
            engine::Extras {
                progress: false,
                sends: Some(sends),
                echo: Some(arrivals.clone()),
                observe: None,
                steering: None,
            },
        )
        .await
    });
    let layout = layout(plan);
    let accounting = crate::collect::account(&layout, &arrivals, Vec::new());
    Ok(Measured {
        summary,
        accounting: Some(accounting),
        backend: Vec::new(),
        started_at: std::time::SystemTime::UNIX_EPOCH,
        sink: "virtual".into(),
    })
}

/// Phase names and each stream's counting queue.
pub fn layout(plan: &Plan) -> Layout {
    Layout {
        phases: plan.phases.iter().map(|p| p.name.clone()).collect(),
        streams: plan
            .streams
            .iter()
            .map(|s| (s.name.clone(), s.queue.clone()))
            .collect(),
    }
}

/// Decodes the event ids of `plan`'s streams.
pub fn event_ids(plan: &Plan) -> crate::datagen::EventIds {
    crate::datagen::EventIds::new(
        plan.streams
            .iter()
            .map(|s| crate::datagen::StreamSeed::new(plan.seed, &s.name)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_too_large_says_how_large_and_what_to_do() {
        assert_eq!(
            VirtualRunError::TooLarge(25_000_000).to_string(),
            "a virtual run simulates every message, and this plan has about 25000000 (the limit is 20000000): shorten the phases or lower the rates for a preview; `mbscenario plan` shows the whole schedule"
        );
    }
}
