//! `teardown:` steps. Every step is attempted even when an earlier one
//! failed (a half-cleaned stack is worse than a reported error), and
//! "already gone" counts as done so teardown can be re-run.

use super::clients::{self, Clients};
use super::{InfraError, Options};
use crate::plan::Plan;
use crate::scenario::model::TeardownStep;

/// Runs every planned teardown step; returns the errors of those that failed.
pub async fn run(plan: &Plan, opts: &Options) -> Vec<InfraError> {
    let mut clients = Clients::new(plan, opts);
    let mut errors = Vec::new();
    for (i, step) in plan.teardown.iter().enumerate() {
        let label = format!("teardown[{i}] {}", step_type(step));
        if let Err(e) = one(&mut clients, &label, step).await {
            opts.progress.line(&format!("error: {e}"));
            errors.push(e);
        }
    }
    errors
}

pub fn step_type(step: &TeardownStep) -> &'static str {
    match step {
        TeardownStep::DeleteConnector { .. } => "delete_connector",
        TeardownStep::PauseConnector { .. } => "pause_connector",
        TeardownStep::DeleteTopics { .. } => "delete_topics",
        TeardownStep::DeleteQueue { .. } => "delete_queue",
        TeardownStep::PurgeQueue { .. } => "purge_queue",
    }
}

async fn one(
    clients: &mut Clients<'_>,
    label: &str,
    step: &TeardownStep,
) -> Result<(), InfraError> {
    let opts = clients.opts;
    let done = |what: &str, existed: bool, verb: &str| {
        opts.progress.line(&format!(
            "{label}: {what} {}",
            if existed { verb } else { "already gone" }
        ));
    };
    match step {
        TeardownStep::DeleteConnector { name } | TeardownStep::PauseConnector { name } => {
            let (connect, target) = clients.connect(label)?;
            if matches!(step, TeardownStep::DeleteConnector { .. }) {
                let existed = clients::http(&target, opts, None, || connect.delete(name)).await?;
                done(&format!("connector {name}"), existed, "deleted");
            } else {
                let existed = clients::http(&target, opts, None, || connect.pause(name)).await?;
                done(&format!("connector {name}"), existed, "paused");
            }
        }
        TeardownStep::DeleteTopics { topics } => {
            let (admin, target) = clients.topics(label).await?;
            for (name, existed) in clients::kafka(&target, opts, || admin.delete(topics)).await? {
                done(&format!("topic {name}"), existed, "deleted");
            }
        }
        TeardownStep::DeleteQueue { name } | TeardownStep::PurgeQueue { name } => {
            let (queues, target) = clients.queues(label).await?;
            if matches!(step, TeardownStep::DeleteQueue { .. }) {
                let existed = clients::sqs(&target, opts, || queues.delete(name)).await?;
                done(&format!("queue {name}"), existed, "deleted");
            } else {
                let existed = clients::sqs(&target, opts, || queues.purge(name)).await?;
                done(&format!("queue {name}"), existed, "purged");
            }
        }
    }
    Ok(())
}
