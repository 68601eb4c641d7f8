//! `mbscenario run`: setup → collector → engine → settle → accounting →
//! verdicts → report → teardown.
//!
//! The collector starts before the first phase so nothing that arrives early
//! is missed; backend snapshots are taken at each phase end; after the last
//! phase the run waits (up to the arrivals assertions' `within`) until every
//! acknowledged message has arrived.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context as _;

use super::finish::{self, Measured};
use crate::cli::SinkArg;
use crate::collect::{self, Arrivals, Collector, Sends};
use crate::engine::{self, Shutdown, StreamRuntime};
use crate::exit::Exit;
use crate::infra::SetupOutcome;
use crate::plan::Plan;
use crate::report::backend::{self, Snapshot};
use crate::scenario::Scenario;
use crate::sink::{SinkHandle, Sinks, file::FileSink};

/// Shard 0 keeps collecting until the queues were quiet this long (the
/// other shards' last messages; start shards together with `--start-at`).
pub const SHARD_QUIET: Duration = Duration::from_secs(5);

/// Settle window when no `arrivals` assertion sets `within`.
pub const DEFAULT_SETTLE: Duration = Duration::from_secs(30);

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
    pub shard: Option<crate::plan::Shard>,
    /// Start the first phase at this wall-clock time.
    pub start_at: Option<SystemTime>,
    /// Control API address and token; Prometheus address.
    pub control: Option<crate::control::ListenAddr>,
    pub control_token: Option<crate::control::Token>,
    pub metrics: Option<crate::control::ListenAddr>,
}

pub fn run(file: &Path, scenario: &Scenario, opts: &RunOptions) -> anyhow::Result<Exit> {
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
            match super::virtual_run::measure_model(scenario, &plan, model) {
                Ok(m) => m,
                Err(e) => {
                    crate::say!("error: {e}");
                    return Ok(Exit::Invalid);
                }
            }
        }
        _ => match real(scenario, &plan, opts)? {
            Ok(m) => m,
            Err(exit) => return Ok(exit),
        },
    };
    print!(
        "{}",
        crate::telemetry::secrets::mask(&measured.summary.render_text())
    );
    // A summary that cannot be written fails the run (exit 3) but does not
    // stop the report from being written: nothing measured is lost.
    let mut summary_failed = false;
    if let Some(path) = &opts.summary_json {
        let written = serde_json::to_string_pretty(&measured.summary)
            .map_err(|e| e.to_string())
            .and_then(|text| std::fs::write(path, text).map_err(|e| e.to_string()));
        if let Err(e) = written {
            crate::say!("error: cannot write the summary to {}: {e}", path.display());
            summary_failed = true;
        }
    }
    let fatal_error = measured.summary.fatal_error.clone();
    let mut report = finish::report(scenario, &plan, measured);
    if let Some(m) = report.merge.as_mut() {
        m.scenario_file = file.display().to_string();
    }
    if let Some((base, bounds)) = &opts.baseline {
        if let Err(e) = finish::gate(&mut report, base, *bounds) {
            crate::say!("error: cannot compare with the baseline: {e}");
            crate::say!("  = help: --baseline takes a JSON report written by `mbscenario run`");
            return Ok(Exit::Invalid);
        }
    }
    let mut exit = finish::publish(&report, scenario, opts.report_dir.as_deref());
    if summary_failed && exit == Exit::Passed {
        exit = Exit::Failure;
    }
    if let Some(fatal) = &report.run.fatal {
        crate::say!("error: the run was stopped: {fatal}");
        if let Some(at) = fatal_error
            .as_ref()
            .and_then(|e| super::expr_location(file, scenario, e))
        {
            crate::say!("{at}");
        }
        crate::say!(
            "  = help: fix the override in the scenario; `mbscenario sample` shows records without sending them"
        );
    }
    // Like setup, teardown belongs to shard 0, which also collected last: a
    // shard finishing early must not delete what the others still use.
    let follower = opts.shard.is_some_and(|s| s.index > 0);
    if opts.teardown && follower {
        crate::say!("note: teardown skipped: shard 0 tears down after the run");
    }
    if opts.teardown && opts.sink.is_none() && !follower {
        let torn = super::infra::bounded_teardown(scenario, opts, report.run.interrupted)?;
        if torn != Exit::Passed && exit == Exit::Passed {
            exit = Exit::Failure;
        }
    }
    Ok(exit)
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// A run with real sinks (or `--sink null|file:DIR`).
fn real(
    scenario: &Scenario,
    plan: &Plan,
    opts: &RunOptions,
) -> anyhow::Result<Result<Measured, Exit>> {
    let infra_used = opts.sink.is_none();
    let rt = runtime()?;
    let sinks = match &opts.sink {
        Some(SinkArg::Null) => Sinks::both(SinkHandle::Null),
        Some(SinkArg::File(dir)) => Sinks::both(SinkHandle::File(Arc::new(
            FileSink::new(dir)
                .with_context(|| format!("cannot create sink folder {}", dir.display()))?,
        ))),
        Some(SinkArg::Avro(dir)) => {
            // The .avsc as written (logical types and defaults kept), compacted.
            let schemas = scenario
                .streams
                .iter()
                .map(|s| {
                    std::fs::read_to_string(&s.schema_file.resolved)
                        .ok()
                        .and_then(|t| crate::infra::registry::schema_text(&t).ok())
                        .unwrap_or_else(|| s.schema.canonical_form())
                })
                .collect();
            Sinks::both(SinkHandle::AvroFile(Arc::new(
                crate::sink::avro_file::AvroFileSink::new(dir, schemas)
                    .with_context(|| format!("cannot create sink folder {}", dir.display()))?,
            )))
        }
        _ => match rt.block_on(super::sinks::real_sinks(scenario)) {
            Ok(s) => s,
            Err(exit) => return Ok(Err(exit)),
        },
    };
    let shutdown = Shutdown::new(opts.grace);
    let steering = engine::Steering::new(Arc::new(plan.clone()), shutdown.stop.clone());
    let servers_done = tokio_util::sync::CancellationToken::new();
    let _stop_servers = servers_done.clone().drop_guard();
    if let Err(exit) = rt.block_on(super::control::start_servers(
        opts,
        &steering,
        &servers_done,
    )) {
        return Ok(Err(exit));
    }
    let follower = opts.shard.is_some_and(|s| s.index > 0);
    let setup = if infra_used && opts.setup && !scenario.setup.is_empty() {
        let done = if follower {
            crate::say!(
                "shard {}: shard 0 runs the setup; waiting until it is in place",
                plan.shard.map(|s| s.to_string()).unwrap_or_default()
            );
            rt.block_on(super::infra::follow(scenario, &opts.infra))
        } else {
            rt.block_on(super::infra::setup(scenario, &opts.infra))
        };
        match done {
            Ok(out) => Some(out),
            Err(exit) => return Ok(Err(exit)),
        }
    } else if infra_used && !opts.setup && scenario.registers_schemas() {
        // Already set up: the frames must carry the ids the registry gave.
        match rt.block_on(super::infra::schema_ids(scenario, &opts.infra)) {
            Ok(out) => Some(out),
            Err(exit) => return Ok(Err(exit)),
        }
    } else {
        if !infra_used && !scenario.setup.is_empty() {
            crate::say!("note: setup steps skipped: --sink replaces Kafka and SQS");
        }
        None
    };
    let schema_ids = setup.as_ref().map(|s| s.schema_ids.clone());
    let streams = match engine::prepare::streams(scenario, scenario.seed, schema_ids.as_deref()) {
        Ok(s) => s,
        Err((stream, e)) => {
            crate::say!("error: stream `{stream}` cannot generate records: {e}");
            return Ok(Err(Exit::Invalid));
        }
    };
    crate::say!(
        "running {}: {} phase(s), {} planned, sink {}",
        plan.scenario,
        plan.phases.len(),
        crate::scenario::units::format_duration(plan.total_duration),
        if infra_used {
            "kafka+sqs"
        } else {
            sinks.kafka.name()
        }
    );
    if let Some(at) = opts.start_at {
        rt.block_on(super::shard::wait_for_start(at, &shutdown.stop));
    }
    let started_at = SystemTime::now();
    let measured = rt.block_on(async {
        if infra_used {
            counted_run(
                scenario,
                plan,
                streams,
                sinks,
                setup.unwrap_or_default(),
                opts,
                (shutdown, steering),
            )
            .await
        } else {
            shutdown.listen_for_signals();
            let extras = engine::Extras {
                progress: true,
                sends: None,
                echo: None,
                observe: None,
                steering: Some(steering),
            };
            let summary = engine::run_with(plan, streams, sinks.clone(), &shutdown, extras).await;
            Ok(Measured {
                summary,
                accounting: None,
                backend: Vec::new(),
                started_at,
                sink: sinks.kafka.name().to_string(),
            })
        }
    });
    Ok(measured)
}

/// The run against real Kafka/SQS with arrivals counted at the queues.
async fn counted_run(
    scenario: &Scenario,
    plan: &Plan,
    streams: Vec<StreamRuntime>,
    sinks: Sinks,
    setup: SetupOutcome,
    opts: &RunOptions,
    (shutdown, steering): (Shutdown, Arc<engine::Steering>),
) -> Result<Measured, Exit> {
    let t = &scenario.targets;
    let settings = crate::sink::sqs::SqsSettings::of(t);
    let client = crate::sink::sqs::client(&settings).await.map_err(|e| {
        crate::say!("error: {e}");
        Exit::Failure
    })?;
    let queues = crate::infra::queue::Queues::new(client.clone());
    let urls = if opts.arrivals {
        queue_urls(scenario, &queues, &setup).await?
    } else {
        Vec::new()
    };
    let sends = Arc::new(Sends::new());
    // Shards share the queues, and a message received by a shard that did not
    // send it would have to be handed back (raising its receive count towards
    // the dead-letter redrive): shard 0 alone collects everything; `report
    // merge` attributes the other shards' messages by their event ids.
    let collects = opts.shard.is_none_or(|s| s.index == 0);
    let collector = (collects && !urls.is_empty()).then(|| {
        let ids = super::virtual_run::event_ids(plan);
        let arrivals = Arc::new(Arrivals::new(ids, sends.clone(), opts.shard));
        Collector::start(client, &urls, collect::POLLERS_PER_QUEUE, arrivals)
    });
    if !collects && !urls.is_empty() {
        crate::say!("arrivals: shard 0 counts them for every shard (see the merged report)");
    }
    let targets = backend::Targets::of(scenario);
    let connect = (!targets.connectors.is_empty())
        .then(|| {
            crate::infra::clients::connect_client(t, &opts.infra.vars, Duration::from_secs(5)).ok()
        })
        .flatten();

    shutdown.listen_for_signals();
    let extras = engine::Extras {
        progress: true,
        // A bitmap insert per message: only when arrivals are counted.
        sends: collector.as_ref().map(|_| sends.clone()),
        echo: None,
        observe: collector.as_ref().map(|c| c.arrivals().clone()),
        steering: Some(steering),
    };
    // Phase-end snapshots run beside the engine, on the plan's offsets, and
    // stop with it (a stopped run has no more phase ends).
    let engine_done = tokio_util::sync::CancellationToken::new();
    let snapshots = async {
        let start = tokio::time::Instant::now();
        let mut out: Vec<Snapshot> = Vec::new();
        for p in &plan.phases {
            let end = start + p.offset + p.duration;
            tokio::select! {
                _ = tokio::time::sleep_until(end) => {}
                // The engine returns at the end of the last phase, racing this
                // timer: only a run stopped early skips phase ends still ahead.
                _ = engine_done.cancelled() => {
                    if tokio::time::Instant::now() + Duration::from_millis(100) < end {
                        break;
                    }
                }
            }
            let label = format!("end of phase {}", p.name);
            out.push(backend::capture(&label, &targets, connect.as_ref(), Some(&queues)).await);
        }
        out
    };
    // Dead letters are counted before the first message, so growth means this run.
    let dead_letters = match &collector {
        Some(_) => {
            Some(super::dead_letters::DeadLetters::before_run(scenario, Some(&queues)).await)
        }
        None => None,
    };
    // The wall clock of the engine's start: the origin of the planned
    // instants (shard reports carry it for `report merge`).
    let run_start = SystemTime::now();
    if let Some(c) = &collector {
        c.arrivals().set_origin_us(collect::sqs::now_us());
        c.arrivals().set_timeline_step(crate::stats::timeline_step(
            plan.total_duration.as_secs_f64().ceil() as u64,
        ));
    }
    let engine_run = async {
        let summary = engine::run_with(plan, streams, sinks, &shutdown, extras).await;
        engine_done.cancel();
        summary
    };
    let (summary, mut backend_snaps) = tokio::join!(engine_run, snapshots);
    if let Some(c) = &collector {
        c.arrivals().mark_run_end(collect::sqs::now_us());
    }

    let accounting = match collector {
        Some(c) => {
            let counted: Vec<bool> = scenario.streams.iter().map(|s| s.queue.is_some()).collect();
            // After a stop (Ctrl-C, SIGTERM, `ctl stop`) settling is bounded by
            // `--grace` too; a second signal ends it at once.
            let within = if shutdown.stop.is_cancelled() {
                super::settle::settle_window(scenario).min(shutdown.grace)
            } else {
                super::settle::settle_window(scenario)
            };
            let give_up = shutdown.abort.child_token();
            let failed_connector = std::sync::Mutex::new(None::<String>);
            let expected = sends.acked(&counted);
            crate::say!(
                "settling: waiting up to {} for {} acknowledged message(s) to arrive",
                crate::scenario::units::format_duration(within),
                expected
            );
            let settled = async {
                let missing = c
                    .settle(&counted, within, &give_up, |m| {
                        crate::say!("settling: {m} message(s) still missing")
                    })
                    .await;
                give_up.cancel(); // ends the connector watch
                missing
            };
            // Waiting is pointless once a connector on the path has failed:
            // its messages cannot come.
            let watch = super::settle::watch_connectors(
                connect.as_ref(),
                &targets.connectors,
                &failed_connector,
                &give_up,
            );
            // …and so is waiting for messages that went to a dead-letter queue or topic.
            let dead_watch = async {
                match &dead_letters {
                    Some(d) => d.watch(Some(&queues), &failed_connector, &give_up).await,
                    None => give_up.cancelled().await,
                }
            };
            let (missing, (), ()) = tokio::join!(settled, watch, dead_watch);
            let stopped_because = failed_connector
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take();
            if let Some(why) = &stopped_because {
                crate::say!("settling: stopped waiting: {why}");
            }
            if missing > 0 {
                crate::say!("settling: {missing} message(s) did not arrive within the window");
            }
            let sharded = opts.shard.is_some_and(|s| s.count > 1);
            if sharded {
                crate::say!(
                    "settling: collecting the other shards' messages until the queues are quiet for {}",
                    crate::scenario::units::format_duration(SHARD_QUIET)
                );
                c.quiet(SHARD_QUIET, within).await;
            }
            let (arrivals, mut errors) = c.stop().await;
            // The report says why messages are missing.
            errors.extend(
                stopped_because.map(|why| format!("arrivals stopped being awaited: {why}")),
            );
            let mut acc =
                collect::account(&super::virtual_run::layout(scenario), &arrivals, errors);
            if sharded {
                (acc.foreign_cells, acc.foreign) =
                    collect::attribute::split(plan, &arrivals, run_start);
            }
            Some(acc)
        }
        None => None,
    };
    backend_snaps
        .push(backend::capture("end of run", &targets, connect.as_ref(), Some(&queues)).await);
    Ok(Measured {
        summary,
        accounting,
        backend: backend_snaps,
        started_at: run_start,
        sink: "kafka+sqs".into(),
    })
}

/// URLs of the queues arrivals are counted at; a missing queue stops the run.
async fn queue_urls(
    scenario: &Scenario,
    queues: &crate::infra::queue::Queues,
    setup: &SetupOutcome,
) -> Result<Vec<(String, String)>, Exit> {
    let mut names: Vec<&str> = scenario
        .streams
        .iter()
        .filter_map(|s| s.queue.as_deref())
        .collect();
    names.sort_unstable();
    names.dedup();
    let mut out = Vec::new();
    for name in names {
        if let Some(url) = setup.queue_urls.get(name) {
            out.push((name.to_string(), url.clone()));
            continue;
        }
        match queues.url(name).await {
            Ok(Some(url)) => out.push((name.to_string(), url)),
            Ok(None) => {
                crate::say!("error: queue `{name}` does not exist, so arrivals cannot be counted");
                crate::say!(
                    "  = help: add a `create_queue` setup step for it, or create it before the run"
                );
                return Err(Exit::Failure);
            }
            Err(e) => {
                crate::say!("error: cannot reach SQS to look up queue `{name}`: {e}");
                crate::say!(
                    "  = help: start SQS (`scripts/dev-stack start`) or fix `targets.sqs.endpoint`"
                );
                return Err(Exit::Failure);
            }
        }
    }
    Ok(out)
}
