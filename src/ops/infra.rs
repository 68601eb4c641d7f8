//! `mbscenario setup` / `teardown`, and the setup that `run` performs first
//! (or awaits, or only looks schema ids up for) and its teardown: each works
//! on the compiled plan's steps and targets.

use crate::cli::{InfraArgs, ScenarioArgs};
use crate::exit::Exit;
use crate::failure::{Failure, Outcome};
use crate::infra::{self, Options, Progress, SetupOutcome};
use crate::plan::Plan;
use crate::scenario::Scenario;
use std::time::Duration;

pub fn options(infra: &InfraArgs, args: &ScenarioArgs) -> Options {
    Options {
        timeout: infra.setup_timeout,
        vars: super::options(args).vars,
        progress: Progress::stderr(),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    use anyhow::Context as _;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

pub fn setup_cmd(scenario: &Scenario, opts: &Options) -> Outcome {
    let plan = Plan::compile(scenario);
    if plan.setup.is_empty() {
        crate::say!("{}: no setup steps", plan.scenario);
        return Ok(Exit::Passed);
    }
    let rt = runtime()?;
    rt.block_on(setup(&plan, opts))?;
    Ok(Exit::Passed)
}

pub fn teardown_cmd(scenario: &Scenario, opts: &Options) -> Outcome {
    let plan = Plan::compile(scenario);
    if plan.teardown.is_empty() {
        crate::say!("{}: no teardown steps", plan.scenario);
        return Ok(Exit::Passed);
    }
    let rt = runtime()?;
    Ok(rt.block_on(teardown(&plan, opts)))
}

/// The planned setup steps, timed; a failure is exit 3.
pub async fn setup(plan: &Plan, opts: &Options) -> Result<SetupOutcome, Failure> {
    let t0 = std::time::Instant::now();
    match infra::setup::execute(plan, opts).await {
        Ok(out) => {
            if !plan.setup.is_empty() {
                opts.progress.line(&format!(
                    "setup done: {} step(s) in {}",
                    plan.setup.len(),
                    crate::scenario::units::format_elapsed(t0.elapsed())
                ));
            }
            Ok(out)
        }
        Err(e) => Err(e.into()),
    }
}

/// Waits for shard 0's setup of the planned steps (shards 1..N).
pub async fn follow(plan: &Plan, opts: &Options) -> Result<SetupOutcome, Failure> {
    Ok(infra::follow::run(plan, opts).await?)
}

/// `run --no-setup`: the registered schema ids of the planned steps, looked up once.
pub async fn schema_ids(plan: &Plan, opts: &Options) -> Result<SetupOutcome, Failure> {
    Ok(infra::follow::schema_ids(plan, opts).await?)
}

/// Teardown with its errors printed.
pub async fn teardown(plan: &Plan, opts: &Options) -> Exit {
    let errors = infra::teardown::run(plan, opts).await;
    for e in &errors {
        if let Some(h) = e.help() {
            crate::say!("  = help: {h}");
        }
    }
    if errors.is_empty() {
        Exit::Passed
    } else {
        crate::say!("teardown: {} step(s) failed", errors.len());
        Exit::Failure
    }
}

/// How long one teardown step may retry its service (setup may wait minutes
/// for a service to come up; cleaning up after a run may not).
pub const TEARDOWN_STEP_TIMEOUT: Duration = Duration::from_secs(15);

/// Teardown within a bound: each step [`TEARDOWN_STEP_TIMEOUT`], the whole of it
/// `--grace` after an interrupt, and a Ctrl-C/SIGTERM during it stops at once.
pub fn bounded_teardown(plan: &Plan, opts: &super::run::RunOptions, interrupted: bool) -> Outcome {
    let infra = crate::infra::Options {
        timeout: opts.infra.timeout.min(TEARDOWN_STEP_TIMEOUT),
        ..opts.infra.clone()
    };
    let steps = u32::try_from(plan.teardown.len())
        .unwrap_or(u32::MAX)
        .max(1);
    let budget = if interrupted {
        opts.grace.max(Duration::from_secs(2))
    } else {
        TEARDOWN_STEP_TIMEOUT.saturating_mul(steps) + Duration::from_secs(5)
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::infra(format!("cannot start the async runtime: {e}")))?;
    Ok(rt.block_on(async {
        tokio::select! {
            exit = teardown(plan, &infra) => exit,
            () = tokio::time::sleep(budget) => {
                crate::say!(
                    "error: teardown did not finish within {}; what it had not removed is left in place",
                    crate::scenario::units::format_duration(budget)
                );
                crate::say!("  = help: `mbscenario teardown FILE` runs it again");
                Exit::Failure
            }
            () = crate::engine::shutdown::wait_for_signal() => {
                crate::say!("\nteardown stopped (signal): what it had not removed is left in place");
                crate::say!("  = help: `mbscenario teardown FILE` runs it again");
                Exit::Failure
            }
        }
    }))
}
