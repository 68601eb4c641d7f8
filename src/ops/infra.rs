//! `mbscenario setup` / `teardown`, and the setup that `run` performs first.

use crate::cli::{InfraArgs, ScenarioArgs};
use crate::exit::Exit;
use crate::infra::{self, InfraError, Options, Progress, SetupOutcome};
use crate::scenario::Scenario;

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

pub fn setup_cmd(scenario: &Scenario, opts: &Options) -> anyhow::Result<Exit> {
    if scenario.setup.is_empty() {
        crate::say!("{}: no setup steps", scenario.name);
        return Ok(Exit::Passed);
    }
    let rt = runtime()?;
    Ok(match rt.block_on(setup(scenario, opts)) {
        Ok(_) => Exit::Passed,
        Err(exit) => exit,
    })
}

pub fn teardown_cmd(scenario: &Scenario, opts: &Options) -> anyhow::Result<Exit> {
    if scenario.teardown.is_empty() {
        crate::say!("{}: no teardown steps", scenario.name);
        return Ok(Exit::Passed);
    }
    let rt = runtime()?;
    Ok(rt.block_on(teardown(scenario, opts)))
}

/// Setup with its errors printed; the exit code is 3 on failure.
pub async fn setup(scenario: &Scenario, opts: &Options) -> Result<SetupOutcome, Exit> {
    let t0 = std::time::Instant::now();
    match infra::setup::run(scenario, opts).await {
        Ok(out) => {
            if !scenario.setup.is_empty() {
                opts.progress.line(&format!(
                    "setup done: {} step(s) in {}",
                    scenario.setup.len(),
                    crate::scenario::units::format_elapsed(t0.elapsed())
                ));
            }
            Ok(out)
        }
        Err(e) => {
            print_error(&e);
            Err(Exit::Failure)
        }
    }
}

/// Waits for shard 0's setup (shards 1..N), with errors printed.
pub async fn follow(scenario: &Scenario, opts: &Options) -> Result<SetupOutcome, Exit> {
    match infra::follow::run(scenario, opts).await {
        Ok(out) => Ok(out),
        Err(e) => {
            print_error(&e);
            Err(Exit::Failure)
        }
    }
}

/// `run --no-setup`: the registered schema ids, looked up once, errors printed.
pub async fn schema_ids(scenario: &Scenario, opts: &Options) -> Result<SetupOutcome, Exit> {
    infra::follow::schema_ids(scenario, opts)
        .await
        .map_err(|e| {
            print_error(&e);
            Exit::Failure
        })
}

/// Teardown with its errors printed.
pub async fn teardown(scenario: &Scenario, opts: &Options) -> Exit {
    let errors = infra::teardown::run(scenario, opts).await;
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

pub fn print_error(e: &InfraError) {
    crate::say!("error: {e}");
    if let Some(h) = e.help() {
        crate::say!("  = help: {h}");
    }
}
