//! What `mbscenario run` was asked to do: [`RunOptions::resolve`] turns the
//! typed flags ([`RunArgs`]) into one value and settles every interaction
//! between them here (shard index from the environment, control checks,
//! the baseline's bounds, which shard leads), so no later stage re-derives one.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::cli::{RunArgs, SinkArg};
use crate::failure::Failure;
use crate::plan::Shard;

/// What `mbscenario run` was asked to do besides running.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub sink: Option<SinkArg>,
    pub grace: Duration,
    pub summary_json: Option<PathBuf>,
    pub report_dir: Option<PathBuf>,
    /// Regression gate against an earlier report.
    pub baseline: Option<(PathBuf, crate::report::compare::Bounds)>,
    /// Run `setup:` first (only with the real sinks).
    pub setup: bool,
    /// Run `teardown:` afterwards.
    pub teardown: bool,
    /// Count arrivals at the queues (off with `--no-arrivals`).
    pub arrivals: bool,
    pub infra: crate::infra::Options,
    /// This run is one shard of a sharded run.
    pub shard: Option<Shard>,
    /// Start the first phase at this wall-clock time.
    pub start_at: Option<SystemTime>,
    /// Control API address and token; Prometheus address.
    pub control: Option<crate::control::ListenAddr>,
    pub control_token: Option<crate::control::Token>,
    pub metrics: Option<crate::control::ListenAddr>,
}

impl RunOptions {
    /// Checks the flags together; a bad combination is an invalid command line (2).
    pub fn resolve(args: &RunArgs) -> Result<RunOptions, Failure> {
        let shard = resolve_shard(&args.shard).map_err(Failure::invalid)?;
        let control_token = super::servers::check_control(
            args.sink.as_ref(),
            args.control.control,
            args.control.control_token.as_deref(),
            args.control.metrics,
        )
        .map_err(Failure::invalid)?;
        Ok(RunOptions {
            shard,
            start_at: args.shard.start_at,
            control: args.control.control,
            control_token,
            metrics: args.control.metrics,
            sink: args.sink.clone(),
            grace: args.grace,
            summary_json: args.summary_json.clone(),
            report_dir: args.report_dir.clone(),
            baseline: args
                .baseline
                .clone()
                .map(|b| (b, crate::ops::bounds(&args.gate))),
            setup: !args.no_setup,
            teardown: args.teardown,
            arrivals: !args.no_arrivals,
            infra: crate::ops::infra::options(&args.infra, &args.args),
        })
    }

    /// Kafka and SQS are used (no `--sink`): setup, arrivals and teardown apply.
    pub fn uses_infra(&self) -> bool {
        self.sink.is_none()
    }

    /// Unsharded, or shard 0: runs the setup, collects every shard's
    /// arrivals and tears down; the other shards follow it.
    pub fn leads(&self) -> bool {
        self.shard.is_none_or(|s| s.index == 0)
    }

    /// One of several shards (the leader then waits for the others' messages).
    pub fn sharded(&self) -> bool {
        self.shard.is_some_and(|s| s.count > 1)
    }
}

/// `--shard I/N`, or `--shards N` with the index from `JOB_COMPLETION_INDEX`.
fn resolve_shard(args: &crate::cli::ShardArgs) -> Result<Option<Shard>, String> {
    if let Some(s) = args.shard {
        return Ok(Some(s));
    }
    let Some(n) = args.shards else {
        return Ok(None);
    };
    let index = std::env::var("JOB_COMPLETION_INDEX").map_err(|_| {
        format!(
            "--shards {n} takes the shard index from JOB_COMPLETION_INDEX (set by Kubernetes Indexed Jobs), which is not set; outside Kubernetes use --shard INDEX/{n}"
        )
    })?;
    let i: u32 = index
        .trim()
        .parse()
        .map_err(|_| format!("JOB_COMPLETION_INDEX is `{index}`, not a shard index"))?;
    Shard::new(i, n).map(Some)
}
