//! The run against real Kafka/SQS with arrivals counted at the queues:
//!
//! ```text
//! Counting::open      SQS client, queue URLs, collector (leading shard only),
//!                     Connect client, dead letters before the first message
//! engine ∥ snapshots  phase-end backend snapshots on the plan's offsets
//!   ∥ watches         from the first phase to the end of settling: a failed
//!                     connector or a growing dead letter is said at once
//! settle              wait for every acknowledged message, until the window
//!                     ends or a watch found why they cannot come
//! account             arrivals per cell (+ the other shards' when sharded)
//! ```

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;

use super::dead_letters::DeadLetters;
use super::{RunOptions, SHARD_QUIET};
use crate::collect::{self, Accounting, Arrivals, Collector, Sends};
use crate::engine::{self, Shutdown, StreamRuntime};
use crate::failure::Failure;
use crate::infra::SetupOutcome;
use crate::infra::connect::ConnectClient;
use crate::infra::queue::Queues;
use crate::ops::finish::Measured;
use crate::plan::Plan;
use crate::report::backend::{self, Snapshot, Targets};
use crate::scenario::units::format_duration;
use crate::sink::Sinks;

/// What the engine runs with.
pub(super) struct Engine {
    pub streams: Vec<StreamRuntime>,
    pub sinks: Sinks,
    pub shutdown: Shutdown,
    pub steering: Arc<engine::Steering>,
}

/// Why arrivals stopped being awaited (a failed connector, dead letters),
/// and the token that ends the waiting: cancelled by the watch that found
/// the cause, or when settling ends.
struct Watch {
    why: Mutex<Option<String>>,
    give_up: CancellationToken,
}

/// Everything that watches the far end of the pipeline during a run.
struct Counting {
    queues: Queues,
    sends: Arc<Sends>,
    collector: Option<Collector>,
    targets: Targets,
    connect: Option<ConnectClient>,
    dead_letters: Option<DeadLetters>,
}

pub(super) async fn run(
    plan: &Plan,
    engine: Engine,
    setup: SetupOutcome,
    opts: &RunOptions,
) -> Result<Measured, Failure> {
    let mut counting = Counting::open(plan, opts, &setup).await?;
    let Engine {
        streams,
        sinks,
        shutdown,
        steering,
    } = engine;
    shutdown.listen_for_signals();
    // The wall clock of the engine's start: the origin of the planned
    // instants (shard reports carry it for `report merge`).
    let run_start = SystemTime::now();
    let extras = counting.engine_extras(plan, steering);
    let engine_done = CancellationToken::new();
    let engine_run = async {
        let summary = engine::run_with(plan, streams, sinks, &shutdown, extras).await;
        engine_done.cancel();
        summary
    };
    // The connector and dead-letter watches run from the first phase to the
    // end of settling: a cause found while sending is said at once, and
    // settling then does not wait for messages that cannot come.
    let watch = Watch {
        why: Mutex::new(None),
        give_up: shutdown.abort.child_token(),
    };
    let collector = counting.collector.take();
    let health = collector.as_ref().map(Collector::health);
    let run_and_settle = async {
        let (summary, snapshots) =
            tokio::join!(engine_run, counting.phase_snapshots(plan, &engine_done));
        let accounting = match collector {
            Some(c) => {
                let at = (run_start, &summary);
                Some(counting.settle(c, plan, opts, &shutdown, at, &watch).await)
            }
            None => None,
        };
        watch.give_up.cancel(); // ends the watches
        (summary, snapshots, accounting)
    };
    let watching = counting.watch_during(health.as_deref(), &watch, &engine_done);
    let ((summary, mut snapshots, accounting), ()) = tokio::join!(run_and_settle, watching);
    snapshots.push(counting.snapshot("end of run").await);
    Ok(Measured {
        summary,
        accounting,
        backend: snapshots,
        started_at: run_start,
        sink: "kafka+sqs".into(),
    })
}

impl Counting {
    /// What the engine needs to count sends and feed seek phases: the send
    /// ledger and the arrivals, with the arrivals' clock started now.
    fn engine_extras(&self, plan: &Plan, steering: Arc<engine::Steering>) -> engine::Extras {
        let observe = self.collector.as_ref().map(|c| c.arrivals().clone());
        if let Some(a) = &observe {
            a.set_origin_us(collect::sqs::now_us());
            a.set_timeline_step(crate::stats::timeline_step(
                plan.total_duration.as_secs_f64().ceil() as u64,
            ));
        }
        engine::Extras {
            progress: true,
            // A bitmap insert per message: only when arrivals are counted.
            sends: observe.as_ref().map(|_| self.sends.clone()),
            echo: None,
            observe,
            steering: Some(steering),
        }
    }

    /// Runs the watches (when arrivals are counted) until `watch.give_up`;
    /// a cause found while the engine still sends is said at once.
    async fn watch_during(
        &self,
        health: Option<&collect::sqs::PollStats>,
        watch: &Watch,
        engine_done: &CancellationToken,
    ) {
        let Some(health) = health else {
            return; // nothing is counted, so nothing waits
        };
        self.watches(health, &watch.why, &watch.give_up).await;
        if !engine_done.is_cancelled()
            && let Some(why) = watch.why.lock().unwrap_or_else(|p| p.into_inner()).as_ref()
        {
            crate::say!(
                "warning: {why}; the messages that need it cannot arrive, so settling will not wait for them"
            );
        }
    }

    async fn open(
        plan: &Plan,
        opts: &RunOptions,
        setup: &SetupOutcome,
    ) -> Result<Counting, Failure> {
        let t = &plan.targets;
        let settings = crate::sink::sqs::SqsSettings::of(t);
        let client = crate::sink::sqs::client(&settings).await?;
        let queues = Queues::new(client.clone());
        let urls = if opts.arrivals {
            queue_urls(plan, &queues, setup).await?
        } else {
            Vec::new()
        };
        let sends = Arc::new(Sends::new());
        // Shards share the queues, and a message received by a shard that did
        // not send it would have to be handed back (raising its receive count
        // towards the dead-letter redrive): the leading shard alone collects
        // everything; `report merge` attributes the others' messages by their
        // event ids.
        let collector = (opts.leads() && !urls.is_empty()).then(|| {
            let ids = crate::ops::virtual_run::event_ids(plan);
            let arrivals = Arc::new(Arrivals::new(ids, sends.clone(), opts.shard));
            Collector::start(client, &urls, collect::POLLERS_PER_QUEUE, arrivals)
        });
        if !opts.leads() && !urls.is_empty() {
            crate::say!("arrivals: shard 0 counts them for every shard (see the merged report)");
        }
        let targets = Targets::of(plan);
        let connect = (!targets.connectors.is_empty())
            .then(|| {
                crate::infra::clients::connect_client(t, &opts.infra.vars, Duration::from_secs(5))
                    .ok()
            })
            .flatten();
        // Dead letters are counted before the first message, so growth means this run.
        let dead_letters = match &collector {
            Some(_) => Some(DeadLetters::before_run(plan, Some(&queues)).await),
            None => None,
        };
        Ok(Counting {
            queues,
            sends,
            collector,
            targets,
            connect,
            dead_letters,
        })
    }

    async fn snapshot(&self, label: &str) -> Snapshot {
        backend::capture(
            label,
            &self.targets,
            self.connect.as_ref(),
            Some(&self.queues),
        )
        .await
    }

    /// Snapshots at each phase end on the plan's offsets, beside the engine;
    /// a run stopped early has no more phase ends.
    async fn phase_snapshots(&self, plan: &Plan, engine_done: &CancellationToken) -> Vec<Snapshot> {
        let start = tokio::time::Instant::now();
        let mut out = Vec::new();
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
            out.push(self.snapshot(&format!("end of phase {}", p.name)).await);
        }
        out
    }

    /// Waits for the acknowledged messages to arrive, then accounts for them.
    #[allow(clippy::too_many_arguments)] // the stages' facts, each used once
    async fn settle(
        &self,
        c: Collector,
        plan: &Plan,
        opts: &RunOptions,
        shutdown: &Shutdown,
        (run_start, summary): (SystemTime, &engine::RunSummary),
        watch: &Watch,
    ) -> Accounting {
        c.arrivals().mark_run_end(collect::sqs::now_us());
        let counted: Vec<bool> = plan.streams.iter().map(|s| s.queue.is_some()).collect();
        // After a stop (Ctrl-C, SIGTERM, `ctl stop`) settling is bounded by
        // `--grace` too; a second signal ends it at once.
        let mut within = super::settle::settle_window(plan);
        if shutdown.stop.is_cancelled() {
            within = within.min(shutdown.grace);
        }
        crate::say!(
            "settling: waiting up to {} for {} acknowledged message(s) to arrive",
            format_duration(within),
            self.sends.acked(&counted)
        );
        // Returns at once when a watch already found why messages cannot come.
        let missing = c
            .settle(&counted, within, &watch.give_up, |m| {
                crate::say!("settling: {m} message(s) still missing")
            })
            .await;
        let stopped_because = watch.why.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(why) = &stopped_because {
            crate::say!("settling: stopped waiting: {why}");
        }
        if missing > 0 {
            crate::say!("settling: {missing} message(s) did not arrive within the window");
        }
        if opts.sharded() {
            crate::say!(
                "settling: collecting the other shards' messages until the queues are quiet for {}",
                format_duration(SHARD_QUIET)
            );
            c.quiet(SHARD_QUIET, within).await;
        }
        let (arrivals, mut errors) = c.stop().await;
        // The report says why messages are missing.
        errors.extend(stopped_because.map(|why| format!("arrivals stopped being awaited: {why}")));
        let layout = crate::ops::virtual_run::layout(plan);
        let mut acc = collect::account(&layout, &arrivals, errors);
        if opts.shard.is_none() {
            collect::attribute_in_flight(&mut acc, &layout, &arrivals, |phase, stream| {
                scheduled(plan, summary, phase, stream)
            });
        }
        if opts.sharded() {
            (acc.foreign_cells, acc.foreign) =
                collect::attribute::split(plan, &arrivals, run_start);
        }
        acc
    }

    /// Waiting is pointless once a connector on the path has failed (its
    /// messages cannot come), messages went to a dead-letter queue or topic,
    /// or a counted queue no longer exists (what was in it is lost): each
    /// records why and cancels `give_up`.
    async fn watches(
        &self,
        health: &collect::sqs::PollStats,
        why: &Mutex<Option<String>>,
        give_up: &CancellationToken,
    ) {
        let gone = super::settle::watch_queues(health, why, give_up);
        let connectors = super::settle::watch_connectors(
            self.connect.as_ref(),
            &self.targets.connectors,
            why,
            give_up,
        );
        let dead = async {
            match &self.dead_letters {
                Some(d) => d.watch(Some(&self.queues), why, give_up).await,
                None => give_up.cancelled().await,
            }
        };
        tokio::join!(gone, connectors, dead);
    }
}

/// Messages phase `phase` scheduled for stream `stream`.
fn scheduled(plan: &Plan, summary: &engine::RunSummary, phase: u32, stream: u32) -> u64 {
    let p = phase as usize;
    plan.phases
        .get(p)
        .and_then(|pp| pp.streams.iter().position(|s| s.stream == stream as usize))
        .and_then(|i| summary.phases.get(p)?.streams.get(i))
        .map_or(0, |s| s.counts.scheduled)
}

/// URLs of the queues arrivals are counted at; a missing queue stops the run.
async fn queue_urls(
    plan: &Plan,
    queues: &Queues,
    setup: &SetupOutcome,
) -> Result<Vec<(String, String)>, Failure> {
    let mut names: Vec<&str> = plan
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
                return Err(Failure::infra(format!(
                    "queue `{name}` does not exist, so arrivals cannot be counted"
                ))
                .help("add a `create_queue` setup step for it, or create it before the run"));
            }
            Err(e) => {
                return Err(Failure::infra(format!(
                    "cannot reach SQS to look up queue `{name}`: {e}"
                ))
                .help("start SQS (`scripts/dev-stack start`) or fix `targets.sqs.endpoint`"));
            }
        }
    }
    Ok(out)
}
