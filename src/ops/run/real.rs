//! A run on the wall clock: the runtime, the sinks, the control servers, the
//! setup (or shard 0's, awaited), the streams; then the engine, with arrivals
//! counted when Kafka/SQS are used.

use std::sync::Arc;
use std::time::SystemTime;

use anyhow::Context as _;

use super::RunOptions;
use crate::engine::{self, Shutdown};
use crate::failure::Failure;
use crate::infra::SetupOutcome;
use crate::ops::finish::Measured;
use crate::plan::Plan;

pub(super) fn measure(plan: &Plan, opts: &RunOptions) -> Result<Measured, Failure> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let sinks = match &opts.sink {
        Some(arg) => super::sinks::stand_in(arg, plan)?,
        None => rt.block_on(super::sinks::real_sinks(plan))?,
    };
    let shutdown = Shutdown::new(opts.grace);
    let steering = engine::Steering::new(Arc::new(plan.clone()), shutdown.stop.clone());
    let servers_done = tokio_util::sync::CancellationToken::new();
    let _stop_servers = servers_done.clone().drop_guard();
    rt.block_on(super::servers::start_servers(
        opts,
        &steering,
        &servers_done,
    ))?;
    let setup = rt.block_on(infra(plan, opts))?;
    let schema_ids = setup.as_ref().map(|s| s.schema_ids.clone());
    let streams = engine::prepare::of_specs(&plan.specs, plan.seed, schema_ids.as_deref())
        .map_err(|(stream, e)| {
            Failure::invalid(format!("stream `{stream}` cannot generate records: {e}"))
        })?;
    crate::say!(
        "running {}: {} phase(s), {} planned, sink {}",
        plan.scenario,
        plan.phases.len(),
        crate::scenario::units::format_duration(plan.total_duration),
        if opts.uses_infra() {
            "kafka+sqs"
        } else {
            sinks.kafka.name()
        }
    );
    if let Some(at) = opts.start_at {
        rt.block_on(crate::ops::shard::wait_for_start(at, &shutdown.stop));
    }
    let started_at = SystemTime::now();
    if opts.uses_infra() {
        let setup = setup.unwrap_or_default();
        let engine = super::counted::Engine {
            streams,
            sinks,
            shutdown,
            steering,
        };
        return rt.block_on(super::counted::run(plan, engine, setup, opts));
    }
    let extras = engine::Extras {
        progress: true,
        sends: None,
        echo: None,
        observe: None,
        steering: Some(steering),
    };
    let sink = sinks.kafka.name().to_string();
    let summary = rt.block_on(async {
        // Spawns the signal listeners: inside the runtime.
        shutdown.listen_for_signals();
        engine::run_with(plan, streams, sinks, &shutdown, extras).await
    });
    Ok(Measured {
        summary,
        accounting: None,
        backend: Vec::new(),
        started_at,
        sink,
    })
}

/// The setup steps (shard 0), shard 0's setup awaited (the other shards), or
/// with `--no-setup` the schema ids already registered (the frames carry them).
async fn infra(plan: &Plan, opts: &RunOptions) -> Result<Option<SetupOutcome>, Failure> {
    use crate::ops::infra as ops_infra;
    if !opts.uses_infra() {
        if !plan.setup.is_empty() {
            crate::say!("note: setup steps skipped: --sink replaces Kafka and SQS");
        }
        return Ok(None);
    }
    if !opts.setup {
        return Ok(if plan.registers_schemas() {
            Some(ops_infra::schema_ids(plan, &opts.infra).await?)
        } else {
            None
        });
    }
    if plan.setup.is_empty() {
        return Ok(None);
    }
    if opts.leads() {
        return Ok(Some(ops_infra::setup(plan, &opts.infra).await?));
    }
    crate::say!(
        "shard {}: shard 0 runs the setup; waiting until it is in place",
        plan.shard.map(|s| s.to_string()).unwrap_or_default()
    );
    Ok(Some(ops_infra::follow(plan, &opts.infra).await?))
}
