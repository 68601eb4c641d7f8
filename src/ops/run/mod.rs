//! `mbscenario run`, stage by stage:
//!
//! ```text
//! RunArgs ──options::resolve──▶ RunOptions        every flag interaction, once
//! Scenario ──Plan::compile (for_shard)──▶ Plan      from here on, only the plan
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

/// Runs `scenario` as `opts` say; the exit code follows the report. From the
/// compiled plan on, only the plan travels.
pub fn run(file: &Path, scenario: &Scenario, opts: &RunOptions) -> Outcome {
    let plan = Plan::compile(scenario);
    if opts.shard.is_some()
        && let Some(phase) = plan.seek_phase()
    {
        return Err(Failure::invalid(format!(
            "phase `{}` seeks the sustainable rate, and a search cannot be sharded: one process must judge every level on all the arrivals",
            phase.name
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
            plan.for_shard(shard)
        }
        None => plan,
    };
    let measured = match &opts.sink {
        Some(SinkArg::Virtual { capacity }) => {
            crate::say!("running {} on the virtual clock", plan.scenario);
            let model = super::virtual_run::Model {
                capacity: capacity.map(|c| c.0),
                ..super::virtual_run::Model::default()
            };
            super::virtual_run::measure_model(&plan, model)?
        }
        _ => real::measure(&plan, opts)?,
    };
    outputs::finish(file, &plan, opts, measured)
}
