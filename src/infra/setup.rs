//! `setup:` steps in file order. Each step reports what it did in one
//! progress line per object ("created", "already exists", "updated"), so a
//! re-run shows that setup is idempotent.

use std::collections::BTreeMap;
use std::path::PathBuf;

use indexmap::IndexMap;

use super::clients::{self, Clients};
use super::connect::{POLL_EVERY, Progressing, trace_head};
use super::queue::QueueSpec;
use super::registry::{Compat, level_name, schema_text};
use super::template::{self, TemplateVars};
use super::topics::TopicOutcome;
use super::{InfraError, Options};
use crate::plan::Plan;
use crate::plan::infra::subjects;
use crate::scenario::Scenario;
use crate::scenario::model::{
    ConnectorConfig, ConnectorState, ConnectorWait, SchemaFile, SetupStep, SubjectStrategy,
};

/// What later stages need from setup.
#[derive(Debug, Clone, Default)]
pub struct SetupOutcome {
    /// Per stream (scenario order): registry schema id and subject, or `None`
    /// when the stream uses its pinned `schema_id`.
    pub schema_ids: Vec<Option<(u32, String)>>,
    /// Queue name → URL, for queues created or looked up.
    pub queue_urls: BTreeMap<String, String>,
}

/// Plans the scenario and runs its setup steps (see [`execute`]).
pub async fn run(scenario: &Scenario, opts: &Options) -> Result<SetupOutcome, InfraError> {
    execute(&Plan::compile(scenario), opts).await
}

/// Schema ids found so far (registered by setup, or found by followers):
/// (schema file, subject) → id, and each file's subject strategy, for the
/// streams to pick theirs from.
#[derive(Default)]
pub(crate) struct Registered {
    ids: BTreeMap<(PathBuf, String), u32>,
    strategies: Vec<(PathBuf, SubjectStrategy)>,
}

impl Registered {
    pub(crate) fn id(&mut self, sf: &SchemaFile, subject: &str, id: u32) {
        self.ids
            .insert((sf.file.resolved.clone(), subject.to_string()), id);
    }

    pub(crate) fn strategy(&mut self, sf: &SchemaFile, strategy: SubjectStrategy) {
        self.strategies.push((sf.file.resolved.clone(), strategy));
    }
}

/// Runs the planned setup steps (`Plan::setup`, what `mbscenario plan`
/// prints) in order, registering each schema under the subjects the plan
/// resolved; stops at the first step that fails.
pub async fn execute(plan: &Plan, opts: &Options) -> Result<SetupOutcome, InfraError> {
    let mut clients = Clients::new(plan, opts);
    let mut out = SetupOutcome::default();
    let mut registered = Registered::default();
    for (i, planned) in plan.setup.iter().enumerate() {
        let step = &planned.step;
        let label = format!("setup[{i}] {}", step_type(step));
        match step {
            SetupStep::RegisterSchemas {
                schemas,
                subject_strategy,
                compatibility,
            } => {
                for sf in schemas {
                    for subject in planned.subjects_of(sf) {
                        let id =
                            register(&mut clients, &label, sf, subject, *compatibility).await?;
                        registered.id(sf, subject, id);
                    }
                    registered.strategy(sf, *subject_strategy);
                }
            }
            SetupStep::EnsureTopics { topics } => {
                ensure_topics(&mut clients, &label, topics).await?
            }
            SetupStep::CreateQueue {
                name,
                fifo,
                attributes,
                dead_letter,
                purge,
            } => {
                let spec = QueueSpec {
                    name,
                    fifo: *fifo,
                    attributes,
                    dead_letter: dead_letter.as_ref(),
                };
                create_queue(&mut clients, opts, &label, &spec, *purge, &mut out).await?;
            }
            SetupStep::ApplyConnector { name, config, wait } => {
                apply_connector(&mut clients, &label, name, config, wait.as_ref(), &mut out)
                    .await?;
            }
        }
    }
    out.schema_ids = stream_schema_ids(&mut clients, &registered).await?;
    Ok(out)
}

/// Creates (or finds) a queue and its dead-letter queue, purges it when
/// asked, and records their URLs.
async fn create_queue(
    clients: &mut Clients<'_>,
    opts: &Options,
    label: &str,
    spec: &QueueSpec<'_>,
    purge: bool,
    out: &mut SetupOutcome,
) -> Result<(), InfraError> {
    let name = spec.name;
    let (queues, target) = clients.queues(label).await?;
    let existed = clients::sqs(&target, opts, || queues.url(name))
        .await?
        .is_some();
    let got = clients::sqs(&target, opts, || queues.ensure(spec)).await?;
    opts.progress.line(&format!(
        "{label}: queue {name} {} ({})",
        if existed { "already exists" } else { "created" },
        got.url
    ));
    if let (Some(dl), Some(url)) = (spec.dead_letter, &got.dead_letter_url) {
        opts.progress.line(&format!(
            "{label}: dead-letter queue {} after {} receives ({url})",
            dl.name, dl.max_receive_count
        ));
        out.queue_urls.insert(dl.name.clone(), url.clone());
    }
    if purge {
        clients::sqs(&target, opts, || queues.purge(name)).await?;
        opts.progress.line(&format!("{label}: queue {name} purged"));
    }
    out.queue_urls.insert(name.to_string(), got.url);
    Ok(())
}

pub fn step_type(step: &SetupStep) -> &'static str {
    match step {
        SetupStep::RegisterSchemas { .. } => "register_schemas",
        SetupStep::EnsureTopics { .. } => "ensure_topics",
        SetupStep::CreateQueue { .. } => "create_queue",
        SetupStep::ApplyConnector { .. } => "apply_connector",
    }
}

async fn register(
    clients: &mut Clients<'_>,
    label: &str,
    sf: &SchemaFile,
    subject: &str,
    compatibility: Option<crate::scenario::model::Compatibility>,
) -> Result<u32, InfraError> {
    let opts = clients.opts;
    let text = std::fs::read_to_string(&sf.file.resolved)
        .map_err(|e| format!("cannot read {}: {e}", sf.file.written))
        .and_then(|t| schema_text(&t).map_err(|e| format!("{}: {e}", sf.file.written)))
        .map_err(|m| InfraError::rejected(label, &m, None))?;
    let (registry, target) = clients.registry(label)?;
    if let Some(level) = compatibility {
        clients::http(&target, opts, None, || {
            registry.set_compatibility(subject, level)
        })
        .await?;
    }
    if let Some(id) = clients::http(&target, opts, None, || registry.lookup(subject, &text)).await?
    {
        opts.progress.line(&format!(
            "{label}: {} already registered under {subject} (id {id})",
            sf.file.written
        ));
        return Ok(id);
    }
    if compatibility.is_some() {
        let compat = clients::http(&target, opts, None, || {
            registry.check_compatibility(subject, &text)
        })
        .await?;
        if let Compat::Incompatible { messages } = compat {
            return Err(InfraError::rejected(
                label,
                &format!(
                    "{} is not compatible with the latest version of {subject}{}",
                    sf.file.written,
                    if messages.is_empty() {
                        String::new()
                    } else {
                        format!(":\n    {}", messages.join("\n    "))
                    }
                ),
                Some(format!(
                    "make the change {} (e.g. give new fields a default) or register under a new subject",
                    compatibility.map(level_name).unwrap_or("compatible")
                )),
            ));
        }
    }
    let help = "the registry refused the schema; with HTTP 409 it breaks the subject's compatibility level";
    let id = clients::http(&target, opts, Some(help), || {
        registry.register(subject, &text)
    })
    .await?;
    opts.progress.line(&format!(
        "{label}: {} registered under {subject} (id {id})",
        sf.file.written
    ));
    Ok(id)
}

async fn ensure_topics(
    clients: &mut Clients<'_>,
    label: &str,
    topics: &[crate::scenario::model::Topic],
) -> Result<(), InfraError> {
    let opts = clients.opts;
    let (admin, target) = clients.topics(label).await?;
    clients::kafka(&target, opts, || admin.ping()).await?;
    let mut mismatches = Vec::new();
    for topic in topics {
        match clients::kafka(&target, opts, || admin.ensure(topic)).await? {
            TopicOutcome::Created => opts.progress.line(&format!(
                "{label}: topic {} created ({} partitions, replication {})",
                topic.name, topic.partitions, topic.replication_factor
            )),
            TopicOutcome::Existed { note } => opts.progress.line(&format!(
                "{label}: topic {} already exists{}",
                topic.name,
                note.map(|n| format!(" ({n})")).unwrap_or_default()
            )),
            TopicOutcome::Mismatch(diffs) => {
                mismatches.push(format!("topic {}: {}", topic.name, diffs.join("; ")))
            }
        }
    }
    if mismatches.is_empty() {
        return Ok(());
    }
    Err(InfraError::rejected(
        label,
        &format!(
            "existing topics differ from the scenario:\n    {}",
            mismatches.join("\n    ")
        ),
        Some("delete the topics (a `delete_topics` teardown step) or change the scenario to match them".into()),
    ))
}

/// The connector config as loaded (file entries refined by inline ones).
fn connector_config(config: &ConnectorConfig) -> IndexMap<String, String> {
    let (ConnectorConfig::File { config, .. } | ConnectorConfig::Inline { config }) = config;
    config.iter().cloned().collect()
}

async fn apply_connector(
    clients: &mut Clients<'_>,
    label: &str,
    name: &str,
    config: &ConnectorConfig,
    wait: Option<&ConnectorWait>,
    out: &mut SetupOutcome,
) -> Result<(), InfraError> {
    let opts = clients.opts;
    let raw = connector_config(config);
    let mut vars = TemplateVars::for_plan(clients.plan, name);
    let mut wanted = template::referenced_queues(&raw);
    if raw.values().any(|v| v.contains("${queue.url}")) {
        wanted.extend(vars.only_queue.clone());
    }
    for q in wanted {
        if let Some(url) = out.queue_urls.get(&q) {
            vars.queue_urls.insert(q, url.clone());
            continue;
        }
        let (queues, target) = clients.queues(label).await?;
        if let Some(url) = clients::sqs(&target, opts, || queues.url(&q)).await? {
            out.queue_urls.insert(q.clone(), url.clone());
            vars.queue_urls.insert(q, url);
        }
    }
    let resolved = template::resolve(&raw, &vars, &opts.vars).map_err(|problems| {
        InfraError::rejected(
            label,
            &format!(
                "connector `{name}`: unresolved template references:\n    {}",
                problems.join("\n    ")
            ),
            None,
        )
    })?;
    let (connect, target) = clients.connect(label)?;
    let help = "Connect refused the config: check `connector.class` is installed on the worker (GET /connector-plugins) and the keys it names";
    let created = clients::http(&target, opts, Some(help), || {
        connect.put_config(name, &resolved)
    })
    .await?;
    opts.progress.line(&format!(
        "{label}: connector {name} {} ({} keys)",
        if created { "created" } else { "updated" },
        resolved.len()
    ));
    let Some(wait) = wait else { return Ok(()) };
    wait_for(clients, label, name, wait).await
}

/// Polls the connector's status until it is in the wanted state, a part of
/// it FAILED (its trace is the error), or the wait times out.
async fn wait_for(
    clients: &mut Clients<'_>,
    label: &str,
    name: &str,
    wait: &ConnectorWait,
) -> Result<(), InfraError> {
    let opts = clients.opts;
    let (connect, target) = clients.connect(label)?;
    let want = match wait.state {
        ConnectorState::Running => "RUNNING",
        ConnectorState::Paused => "PAUSED",
    };
    let start = tokio::time::Instant::now();
    let mut last = "not created yet".to_string();
    loop {
        if let Some(status) = clients::http(&target, opts, None, || connect.status(name)).await? {
            match status.assess(wait.state) {
                Progressing::Reached => {
                    opts.progress.line(&format!(
                        "{label}: connector {name} {want} ({}) after {}",
                        status.summary(),
                        crate::scenario::units::format_elapsed(start.elapsed())
                    ));
                    return Ok(());
                }
                Progressing::Failed { what, trace } => {
                    return Err(InfraError::rejected(
                        label,
                        &format!(
                            "connector {name}: {what} FAILED:\n    {}",
                            trace_head(&trace, 8).replace('\n', "\n    ")
                        ),
                        Some(format!(
                            "fix the connector config and re-run; the full trace is in GET {}/connectors/{name}/status and the worker log",
                            target.endpoint.trim_end_matches('/')
                        )),
                    ));
                }
                Progressing::Pending(s) => last = s,
            }
        }
        if start.elapsed() >= wait.timeout {
            return Err(InfraError::rejected(
                label,
                &format!(
                    "connector {name} not {want} after {} (last status: {last})",
                    crate::scenario::units::format_duration(wait.timeout)
                ),
                Some("raise `wait.timeout`, or check the Connect worker log".into()),
            ));
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// Each stream's registry id: from the `register_schemas` step that covered
/// its schema file, else looked up (without registering) when a registry is
/// configured and the stream pins no id.
pub(crate) async fn stream_schema_ids(
    clients: &mut Clients<'_>,
    registered: &Registered,
) -> Result<Vec<Option<(u32, String)>>, InfraError> {
    let plan = clients.plan;
    let opts = clients.opts;
    let mut out = Vec::new();
    for s in plan.specs.iter() {
        let strategy = registered
            .strategies
            .iter()
            .find(|(p, _)| *p == s.schema_file.resolved)
            .map(|(_, st)| *st);
        let subject = subjects(
            strategy.unwrap_or(SubjectStrategy::TopicName),
            &s.record_name,
            &[s.topic.as_str()],
        )
        .remove(0);
        if let Some(id) = registered
            .ids
            .get(&(s.schema_file.resolved.clone(), subject.clone()))
        {
            if let Some(pinned) = s.schema_id.filter(|p| p != id) {
                opts.progress.line(&format!(
                    "warning: stream {} pins schema_id {pinned}, the registry says {id} for {subject}; using {id}",
                    s.name
                ));
            }
            out.push(Some((*id, subject)));
            continue;
        }
        if s.schema_id.is_some() || plan.targets.schema_registry.is_none() {
            out.push(None);
            continue;
        }
        let label = format!("stream {}", s.name);
        let text = std::fs::read_to_string(&s.schema_file.resolved)
            .ok()
            .and_then(|t| schema_text(&t).ok())
            .unwrap_or_default();
        let (registry, target) = clients.registry(&label)?;
        match clients::http(&target, opts, None, || registry.lookup(&subject, &text)).await? {
            Some(id) => out.push(Some((id, subject))),
            None => {
                return Err(InfraError::rejected(
                    &label,
                    &format!(
                        "{} is not registered under subject {subject}",
                        s.schema_file.written
                    ),
                    Some("add a `register_schemas` setup step for it, or pin `schema_id` on the stream".into()),
                ));
            }
        }
    }
    Ok(out)
}
