//! Setup as seen by shards 1..N of a sharded run: shard 0 creates
//! everything; the others wait until each object of the `setup:` steps is in
//! place (schema registered, topic with its partitions, queue, connector in
//! its wanted state) and collect what they need from it (schema ids, queue
//! URLs) — without creating, changing or purging anything themselves.

use std::time::Duration;

use tokio::time::Instant;

use super::clients::{self, Clients};
use super::connect::{Progressing, trace_head};
use super::registry::schema_text;
use super::setup::{Registered, SetupOutcome};
use super::{InfraError, Options};
use crate::plan::Plan;
use crate::scenario::model::{
    ConnectorState, ConnectorWait, DeadLetter, SchemaFile, SetupStep, Topic,
};

/// How often the followers look again.
const LOOK_EVERY: Duration = Duration::from_secs(1);
/// How often they say what they are waiting for.
const SAY_EVERY: Duration = Duration::from_secs(10);

/// Polls `check` until it yields a value or `opts.timeout` passes.
async fn until_present<T, F, Fut>(
    label: &str,
    what: &str,
    opts: &Options,
    mut check: F,
) -> Result<T, InfraError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>, InfraError>>,
{
    let start = Instant::now();
    let mut say_at = start;
    loop {
        if let Some(v) = check().await? {
            opts.progress.line(&format!("{label}: {what} is in place"));
            return Ok(v);
        }
        let now = Instant::now();
        if now.duration_since(start) >= opts.timeout {
            return Err(InfraError::rejected(
                label,
                &format!(
                    "{what} is still not in place after {}",
                    crate::scenario::units::format_duration(opts.timeout)
                ),
                Some("shard 0 runs the setup: check that it runs and what it reports, or raise --setup-timeout".into()),
            ));
        }
        if now >= say_at {
            opts.progress
                .line(&format!("{label}: waiting for shard 0 to set up {what}"));
            say_at = now + SAY_EVERY;
        }
        tokio::time::sleep(LOOK_EVERY).await;
    }
}

/// Waits for shard 0's setup of the planned steps; returns what a run
/// needs from it.
pub async fn run(plan: &Plan, opts: &Options) -> Result<SetupOutcome, InfraError> {
    walk(plan, opts, Mode::Wait).await
}

/// For `run --no-setup`: the schema ids of the streams whose schemas a
/// `register_schemas` step names, looked up once (the run must send the ids
/// the registry gave, not 0); nothing is created or waited for.
pub async fn schema_ids(plan: &Plan, opts: &Options) -> Result<SetupOutcome, InfraError> {
    walk(plan, opts, Mode::SchemasOnce).await
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Every step, each polled until in place (shards 1..N).
    Wait,
    /// Only `register_schemas`, looked up once.
    SchemasOnce,
}

async fn walk(plan: &Plan, opts: &Options, mode: Mode) -> Result<SetupOutcome, InfraError> {
    let mut clients = Clients::new(plan, opts);
    let mut out = SetupOutcome::default();
    let mut registered = Registered::default();
    for (i, planned) in plan.setup.iter().enumerate() {
        let step = &planned.step;
        let label = match mode {
            Mode::Wait => format!("setup[{i}] {} (follower)", super::setup::step_type(step)),
            Mode::SchemasOnce => {
                format!("setup[{i}] {} (--no-setup)", super::setup::step_type(step))
            }
        };
        match step {
            SetupStep::RegisterSchemas {
                schemas,
                subject_strategy,
                ..
            } => {
                for sf in schemas {
                    for subject in planned.subjects_of(sf) {
                        let id = schema_id(&mut clients, opts, mode, &label, sf, subject).await?;
                        registered.id(sf, subject, id);
                    }
                    registered.strategy(sf, *subject_strategy);
                }
            }
            _ if mode == Mode::SchemasOnce => {}
            SetupStep::EnsureTopics { topics } => {
                topics_in_place(&mut clients, opts, &label, topics).await?;
            }
            SetupStep::CreateQueue {
                name, dead_letter, ..
            } => {
                queues_in_place(
                    &mut clients,
                    opts,
                    &label,
                    name,
                    dead_letter.as_ref(),
                    &mut out,
                )
                .await?;
            }
            SetupStep::ApplyConnector { name, wait, .. } => {
                connector_in_place(&mut clients, opts, &label, name, wait.as_ref()).await?;
            }
        }
    }
    out.schema_ids = super::setup::stream_schema_ids(&mut clients, &registered).await?;
    Ok(out)
}

/// The id the registry gave `sf` under `subject`: waited for (followers) or
/// looked up once (`--no-setup`, where a missing schema is an error).
async fn schema_id(
    clients: &mut Clients<'_>,
    opts: &Options,
    mode: Mode,
    label: &str,
    sf: &SchemaFile,
    subject: &str,
) -> Result<u32, InfraError> {
    let text = std::fs::read_to_string(&sf.file.resolved)
        .map_err(|e| format!("cannot read {}: {e}", sf.file.written))
        .and_then(|t| schema_text(&t))
        .map_err(|m| InfraError::rejected(label, &m, None))?;
    let (registry, target) = clients.registry(label)?;
    let what = format!("{} under {subject}", sf.file.written);
    let lookup = || clients::http(&target, opts, None, || registry.lookup(subject, &text));
    match mode {
        Mode::Wait => until_present(label, &what, opts, lookup).await,
        Mode::SchemasOnce => lookup().await?.ok_or_else(|| {
            InfraError::rejected(
                label,
                &format!("{what} is not registered"),
                Some("run without --no-setup once (or `mbscenario setup FILE`) so the registry knows the schema".into()),
            )
        }),
    }
}

/// Waits until every topic exists with at least its partitions.
async fn topics_in_place(
    clients: &mut Clients<'_>,
    opts: &Options,
    label: &str,
    topics: &[Topic],
) -> Result<(), InfraError> {
    let (admin, target) = clients.topics(label).await?;
    for t in topics {
        let what = format!("topic {} ({} partitions)", t.name, t.partitions);
        until_present(label, &what, opts, || async {
            let n = clients::kafka(&target, opts, || admin.partitions(&t.name)).await?;
            Ok(n.filter(|&n| n >= t.partitions as usize))
        })
        .await?;
    }
    Ok(())
}

/// Waits until the queue (and its dead-letter queue) exist; records their URLs.
async fn queues_in_place(
    clients: &mut Clients<'_>,
    opts: &Options,
    label: &str,
    name: &str,
    dead_letter: Option<&DeadLetter>,
    out: &mut SetupOutcome,
) -> Result<(), InfraError> {
    let (queues, target) = clients.queues(label).await?;
    let mut names = vec![name.to_string()];
    names.extend(dead_letter.map(|d| d.name.clone()));
    for q in names {
        let url = until_present(label, &format!("queue {q}"), opts, || {
            clients::sqs(&target, opts, || queues.url(&q))
        })
        .await?;
        out.queue_urls.insert(q, url);
    }
    Ok(())
}

/// Waits until the connector is in its wanted state; a FAILED one is an error.
async fn connector_in_place(
    clients: &mut Clients<'_>,
    opts: &Options,
    label: &str,
    name: &str,
    wait: Option<&ConnectorWait>,
) -> Result<(), InfraError> {
    let (connect, target) = clients.connect(label)?;
    let wanted = wait.map_or(ConnectorState::Running, |w| w.state);
    let what = format!("connector {name}");
    until_present(label, &what, opts, || async {
        let Some(status) = clients::http(&target, opts, None, || connect.status(name)).await?
        else {
            return Ok(None);
        };
        match status.assess(wanted) {
            Progressing::Reached => Ok(Some(())),
            Progressing::Pending(_) => Ok(None),
            Progressing::Failed { what, trace } => Err(InfraError::rejected(
                label,
                &format!(
                    "connector {name}: {what} FAILED:\n    {}",
                    trace_head(&trace, 8).replace('\n', "\n    ")
                ),
                Some("shard 0 applied it; see its output and the Connect worker log".into()),
            )),
        }
    })
    .await
}
