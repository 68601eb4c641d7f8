//! `mbscenario run`, stage by stage:
//!
//! ```text
//! RunArgs ──options::resolve──▶ RunOptions        every flag interaction, once
//! Scenario ──Plan::compile (for_shard)──▶ Plan
//!   ├ --sink virtual ──▶ ops::virtual_run::measure_model
//!   └ otherwise ──▶ real::measure:  sinks ─ servers ─ setup ─ streams ─▶
//!        ├ --sink null|file|avro ──▶ engine::run_with
//!        └ Kafka/SQS ──▶ counted::run: collector + phase-end snapshots beside
//!                        the engine, then settle (connector/DLQ watches)
//! Measured ──outputs::finish──▶ summary, report files, baseline gate, verdicts,
//!                               teardown ──▶ Exit
//! ```
//! - `options`: [`RunOptions`] from the flags; which shard leads
//! - `real`: the wall-clock run (runtime, sinks, control servers, setup)
//! - `counted`: arrivals counted at the queues; `settle`, `dead_letters`:
//!   how long to wait for them and when waiting is pointless
//! - `sinks`: the Kafka/SQS sinks and the `--sink` stand-ins
//! - `servers`: `--control` / `--metrics`
//! - `outputs`: everything after measuring

mod counted;
mod dead_letters;
mod options;
mod outputs;
mod real;
pub(crate) mod servers;
mod settle;
mod sinks;

use std::path::Path;
use std::time::Duration;

pub use options::RunOptions;

use crate::cli::SinkArg;
use crate::failure::{Failure, Outcome};
use crate::plan::Plan;
use crate::scenario::Scenario;

/// Shard 0 keeps collecting until the queues were quiet this long (the
/// other shards' last messages; start shards together with `--start-at`).
pub const SHARD_QUIET: Duration = Duration::from_secs(5);

/// Settle window when no `arrivals` assertion sets `within`.
pub const DEFAULT_SETTLE: Duration = Duration::from_secs(30);

/// The first seek phase's name, if any.
fn seek_phase(scenario: &Scenario) -> Option<String> {
    use crate::scenario::model::{Load, RateShape};
    scenario
        .phases
        .iter()
        .find(|p| matches!(p.load, Load::Rate(RateShape::Seek(_))))
        .map(|p| p.name.clone())
}

/// Runs `scenario` as `opts` say; the exit code follows the report.
pub fn run(file: &Path, scenario: &Scenario, opts: &RunOptions) -> Outcome {
    if opts.shard.is_some()
        && let Some(phase) = seek_phase(scenario)
    {
        return Err(Failure::invalid(format!(
            "phase `{phase}` seeks the sustainable rate, and a search cannot be sharded: one process must judge every level on all the arrivals"
        ))
        .help("run the scenario without --shard/--shards"));
    }
    let plan = match opts.shard {
        Some(shard) => {
            crate::say!(
                "shard {shard}: records n ≡ {} (mod {}) of every stream",
                shard.index,
                shard.count
            );
            Plan::compile(scenario).for_shard(shard)
        }
        None => Plan::compile(scenario),
    };
    let measured = match &opts.sink {
        Some(SinkArg::Virtual { capacity }) => {
            crate::say!("running {} on the virtual clock", plan.scenario);
            let model = super::virtual_run::Model {
                capacity: capacity.map(|c| c.0),
                ..super::virtual_run::Model::default()
            };
            super::virtual_run::measure_model(scenario, &plan, model).map_err(Failure::invalid)?
        }
        _ => real::measure(scenario, &plan, opts)?,
    };
    outputs::finish(file, scenario, &plan, opts, measured)
}
